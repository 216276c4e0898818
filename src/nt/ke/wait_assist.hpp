// Wait helpers: work a thread does itself instead of sleeping in KeWaitForSingleObject.
//
// The synchronous style of WSK code submits an IRP and then waits on the event its completion
// routine sets. Left alone, the IRP completes on an I/O loop thread, which wakes the waiter: two
// thread switches per call. A layer above the kernel (the WSK provider) may register a helper
// that knows which I/O such a wait depends on; a thread about to block on a single object at
// PASSIVE_LEVEL or APC_LEVEL then runs the helper first, with its wait already linked to the
// object, so that nothing that signals the object is missed:
//  1. The helper may block (poll) until the I/O can proceed, do it, and complete the IRP on the
//     waiting thread; the completion routine's KeSetEvent then satisfies the wait at once.
//  2. Whoever satisfies the wait while the helper runs (another thread setting the event, a
//     cancel, a close) also writes the thread's wake descriptor (an eventfd), which the helper
//     polls beside its own: it returns, and the wait goes on as usual.
//  3. The helper returns when the object may be signalled, on the wake descriptor, or at the
//     deadline; the wait then checks the object as it always does.
//  4. A thread about to wait in a way no helper runs in (KeWaitForMultipleObjects on several
//     objects, KeDelayExecutionThread) at PASSIVE_LEVEL calls the helper with `object` NULL and
//     `wake_fd` -1 first, and the helper returns at once: it learns that nobody polls for the I/O
//     the thread started last.
#pragma once

#include "nt/ke/dispatcher.hpp"

namespace uwsk::nt {

// object: what the thread waits for; wake_fd: readable once the wait was satisfied by someone
// (drain it with read); deadline: the wait's own.
using wait_assist_function = void (*)(void *object, int wake_fd, const wait_deadline &deadline);

// Registers the helper (one for the process; the WSK provider's). Thread-safe.
void set_wait_assist(wait_assist_function helper);

// Whether `object` is signalled now (no lock; a hint for the helper's loop).
inline bool object_signalled(const void *object) {
  return signal_state(static_cast<const DISPATCHER_HEADER *>(object)) > 0;
}

} // namespace uwsk::nt

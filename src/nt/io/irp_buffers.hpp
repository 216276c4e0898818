// The buffers of pending WSK IRPs (rule V18 of docs/verifier.md): a buffer an IRP reads or
// fills must stay valid until the IRP completes, so freeing it, or returning from the stack frame
// it lives in, while the IRP is pending is a verifier error.
//
// Rules:
//  1. A WSK function notes the buffers of its IRP (note(), note_mdl_chain()) on the calling
//     thread before it starts the operation: the MDLs and the memory they describe, address,
//     control and option buffers. The note is a thread-local scratch record; nothing is shared
//     and nothing is allocated.
//  2. When the operation pends on that thread (the provider parks the IRP), pending() moves the
//     note into the table of pending IRPs; an IRP that completes at once never reaches it. When
//     the provider completes the IRP, done() takes it out, before the completion routine runs
//     (which may free the buffers). IoFreeIrp takes it out too.
//  3. ExFreePool* and IoFreeMdl ask check_free() whether the block overlaps a buffer of a
//     pending IRP: V18, naming the IRP, the buffer and the block.
//  4. A buffer on the submitting thread's stack is recorded with that thread. When the thread
//     waits (KeWaitFor*, KeDelayExecutionThread) while the IRP is pending, check_stack() compares
//     the buffer with the waiting function's frame: a buffer below it is in a frame that has
//     returned (the frames of the waiter's callers are all above it), V18. The usual pattern, the
//     IRP, its event and the buffer in the frame that waits, lies above and is never reported.
//     A system thread that ends is checked the same way, against the frame that ran its start
//     routine.
//  5. Cost: one relaxed load on each free, wait and completion while no IRP with buffers is
//     pending; otherwise a lookup in an ordered table of the pending buffers under a
//     reader-writer lock (frees and waits share it; parking and completing take it alone).
#pragma once

#include <cstddef>

#include <wdm.h>

namespace uwsk::nt::irp_buffers {

// Rule 1: `length` bytes at `begin` belong to the operation of `irp` (ignored when NULL or empty;
// a note for another IRP starts over).
void note(PIRP irp, const void *begin, std::size_t length);
// Rule 1: the MDL chain `mdl` (each MDL, and the `length` bytes it describes from `offset`).
void note_mdl_chain(PIRP irp, PMDL mdl, std::size_t offset, std::size_t length);

// Rule 1: the provider entered `irp` (irp_enter); a note made before an earlier entry of the same
// IRP is dropped.
void entered(PIRP irp);

// Rule 2.
void pending(PIRP irp);
void done(PIRP irp);

// Rule 3: a buffer of a pending IRP that [begin, begin + length) overlaps, found by
// pending_buffer_in (false when there is none) and reported by report_free: `what` is the call
// ("ExFreePool"), `block` describes the block ("pool block 0x... (tag 'Xxxx', 16 bytes)").
struct found_buffer {
  char irp[512]; // the IRP, as irp_state::describe tells it
  const void *begin;
  std::size_t length;
};
bool pending_buffer_in(const void *begin, std::size_t length, found_buffer &out);
[[noreturn]] void report_free(const found_buffer &found, const void *block_begin, const char *what,
                              const char *block);

// Rule 4: `frame` is the waiting function's own frame (__builtin_frame_address(0)); `what` names
// the call ("KeWaitForSingleObject", "the end of the system thread").
void check_stack(const void *frame, const char *what);

} // namespace uwsk::nt::irp_buffers

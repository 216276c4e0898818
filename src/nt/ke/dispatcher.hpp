// The dispatcher: one lock over every dispatcher object, and the wait/satisfy machinery.
//
// Dispatcher objects live in driver memory and are never destroyed, so the runtime keeps no
// state of its own per object: a waiting thread links one KWAIT_BLOCK per object into the
// object's WaitListHead and sleeps on its thread object's condition variable. Whoever makes an
// object signalled (under the lock) calls signal_waiters, which satisfies the waiters in list
// order the way Windows does: a notification event wakes them all, a synchronization event or
// timer one (and resets), a semaphore as many as its count, a mutex one (which becomes owner).
#pragma once

#include <wdm.h>

#include <chrono>
#include <cstddef>
#include <condition_variable>
#include <mutex>

#include "nt/ke/kthread.hpp"

namespace uwsk::nt {

// The dispatcher lock. Guards every DISPATCHER_HEADER.WaitListHead, every wait, the mutex
// ownership lists, the timer list and the DPC queue.
std::mutex &dispatcher_lock();

// Doubly linked list helpers for runtime code (the WDK inline helpers belong to rtl.h).
inline void list_init(PLIST_ENTRY head) {
  head->Flink = head->Blink = head;
}
inline bool list_empty(const LIST_ENTRY *head) {
  return head->Flink == head;
}
inline void list_insert_tail(PLIST_ENTRY head, PLIST_ENTRY entry) {
  entry->Flink = head;
  entry->Blink = head->Blink;
  head->Blink->Flink = entry;
  head->Blink = entry;
}
inline void list_insert_head(PLIST_ENTRY head, PLIST_ENTRY entry) {
  entry->Flink = head->Flink;
  entry->Blink = head;
  head->Flink->Blink = entry;
  head->Flink = entry;
}
inline void list_remove(PLIST_ENTRY entry) {
  entry->Blink->Flink = entry->Flink;
  entry->Flink->Blink = entry->Blink;
  entry->Flink = entry->Blink = entry;
}

// SignalState is written under the dispatcher lock but read without it by KeReadState*, so
// every access goes through these (relaxed atomics: the lock orders everything else).
inline LONG signal_state(const DISPATCHER_HEADER *header) {
  return __atomic_load_n(&header->SignalState, __ATOMIC_RELAXED);
}
inline void set_signal_state(DISPATCHER_HEADER *header, LONG state) {
  __atomic_store_n(&header->SignalState, state, __ATOMIC_RELAXED);
}

// Sets up a dispatcher header (no lock: the object is not shared yet).
void init_dispatcher_header(DISPATCHER_HEADER *header, UCHAR type, size_t object_size, LONG state);

// Bug-checks unless `header` is an initialised dispatcher object; `what` names the caller.
void check_dispatcher_object(const DISPATCHER_HEADER *header, const char *what, const void *caller);

// Whether a wait by `thread` on `header` would be satisfied now. A mutex its owner waits for
// again is (recursive acquisition). Lock held.
bool is_signalled_for(const DISPATCHER_HEADER *header, const _KTHREAD *thread);

// Takes from the object what a satisfied wait by `thread` takes (resets a synchronization
// event, decrements a semaphore, makes `thread` the mutex owner). Returns true when it was an
// abandoned mutex. Lock held.
bool consume(DISPATCHER_HEADER *header, _KTHREAD *thread);

// Satisfies the waiters that `header` (just made signalled) can release. Lock held.
void signal_waiters(DISPATCHER_HEADER *header);

// Abandons every mutex `thread` still owns (it is ending) and wakes their waiters. Lock held.
void abandon_owned_mutants(_KTHREAD *thread);

// Threads waiting on the object right now (takes the lock). For tests and diagnostics.
std::size_t dispatcher_waiter_count(const DISPATCHER_HEADER *header);

// A timeout as Windows gives it (NULL: none; negative: relative 100 ns units; positive:
// absolute 100 ns units since 1601; zero: do not block), turned into a wait deadline.
struct wait_deadline {
  bool infinite = true;
  bool poll = false;
  bool absolute = false;
  std::chrono::steady_clock::time_point steady;
  std::chrono::system_clock::time_point system;
};
wait_deadline make_deadline(const LARGE_INTEGER *timeout);

// Blocks the calling thread on `cv` with `lock` held until `done()` or the deadline passes.
// Returns done().
template <typename Pred>
bool wait_until_deadline(std::condition_variable &cv, std::unique_lock<std::mutex> &lock,
                         const wait_deadline &deadline, Pred done) {
  if (deadline.infinite) {
    cv.wait(lock, done);
    return true;
  }
  if (deadline.absolute) {
    return cv.wait_until(lock, deadline.system, done);
  }
  return cv.wait_until(lock, deadline.steady, done);
}

} // namespace uwsk::nt

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

// Doubly linked list helpers for runtime code (the WDK inline helpers belong to rtl.h). Links
// are stored with relaxed atomic stores (plain moves): KeSetEvent reads an event's
// WaitListHead.Flink without the lock to see whether anyone waits (event.cpp).
inline void set_link(PLIST_ENTRY *link, PLIST_ENTRY value) {
  __atomic_store_n(link, value, __ATOMIC_RELAXED);
}
inline void list_init(PLIST_ENTRY head) {
  set_link(&head->Flink, head);
  set_link(&head->Blink, head);
}
inline bool list_empty(const LIST_ENTRY *head) {
  return head->Flink == head;
}
inline void list_insert_tail(PLIST_ENTRY head, PLIST_ENTRY entry) {
  set_link(&entry->Flink, head);
  set_link(&entry->Blink, head->Blink);
  set_link(&head->Blink->Flink, entry);
  set_link(&head->Blink, entry);
}
inline void list_insert_head(PLIST_ENTRY head, PLIST_ENTRY entry) {
  set_link(&entry->Flink, head->Flink);
  set_link(&entry->Blink, head);
  set_link(&head->Flink->Blink, entry);
  set_link(&head->Flink, entry);
}
inline void list_remove(PLIST_ENTRY entry) {
  set_link(&entry->Blink->Flink, entry->Flink);
  set_link(&entry->Flink->Blink, entry->Blink);
  set_link(&entry->Flink, entry);
  set_link(&entry->Blink, entry);
}

// Whether anyone waits on the object, read without the lock (seq_cst: a lock-free KeSetEvent
// orders it after its store of the state; see signal_event_unlocked in event.cpp).
inline bool has_waiters_unlocked(const DISPATCHER_HEADER *header) {
  return __atomic_load_n(&header->WaitListHead.Flink, __ATOMIC_SEQ_CST) != &header->WaitListHead;
}

// SignalState is read without the lock by KeReadState* and by the waits and sets that skip
// the lock (events, below), so every access is atomic: a load acquires and a store releases
// what the signaller wrote before (an IRP's IoStatus), whether or not it held the lock.
inline LONG signal_state(const DISPATCHER_HEADER *header) {
  return __atomic_load_n(&header->SignalState, __ATOMIC_ACQUIRE);
}
inline void set_signal_state(DISPATCHER_HEADER *header, LONG state) {
  __atomic_store_n(&header->SignalState, state, __ATOMIC_RELEASE);
}

// Sets up a dispatcher header (no lock: the object is not shared yet).
void init_dispatcher_header(DISPATCHER_HEADER *header, UCHAR type, size_t object_size, LONG state);

// Bug-checks unless `header` is an initialised dispatcher object; `what` names the caller.
void check_dispatcher_object(const DISPATCHER_HEADER *header, const char *what, const void *caller);

// check_dispatcher_object_unlocked's answer for anything but an initialised event.
void check_dispatcher_object_slow(const DISPATCHER_HEADER *header, const char *what,
                                  const void *caller);

// Bug-checks unless `header` is an initialised dispatcher object, read without the lock.
inline void check_dispatcher_object_unlocked(const DISPATCHER_HEADER *header, const char *what,
                                             const void *caller) {
  if (header != nullptr &&
      (header->Type == EventSynchronizationObject || header->Type == EventNotificationObject) &&
      __atomic_load_n(&header->WaitListHead.Flink, __ATOMIC_RELAXED) != nullptr &&
      __atomic_load_n(&header->WaitListHead.Blink, __ATOMIC_RELAXED) != nullptr) {
    return;
  }
  check_dispatcher_object_slow(header, what, caller);
}

// Whether a wait by `thread` on `header` would be satisfied now. A mutex its owner waits for
// again is (recursive acquisition). Lock held.
bool is_signalled_for(const DISPATCHER_HEADER *header, const _KTHREAD *thread);

// Events change state without the dispatcher lock too: KeSetEvent sets a state of 0 to 1 with
// one atomic exchange when nobody waits, and a wait on one signalled event takes it (a
// synchronization event: 1 to 0 with a compare-exchange) before it would take the lock. So
// whoever takes a synchronization event's signal under the lock takes it with an atomic
// exchange as well and may find it gone: the functions below do.

// Takes what a satisfied wait by `thread` on `header` takes, if the wait is satisfied now
// (resets a synchronization event, decrements a semaphore, makes `thread` the mutex owner).
// Returns whether it was; `abandoned` is set when it was an abandoned mutex. Lock held.
bool take_signal(DISPATCHER_HEADER *header, _KTHREAD *thread, bool &abandoned);

// The same for a WaitAll: takes from every object, or from none when one is not signalled.
// Lock held.
bool take_all_signals(ULONG count, PVOID const *objects, _KTHREAD *thread, bool &abandoned);

// A wait on one event without the lock: true when it is signalled (a synchronization event's
// signal is taken). False for any other object, or an event not signalled.
inline bool take_event_unlocked(DISPATCHER_HEADER *header) {
  if (header->Type == EventSynchronizationObject) {
    LONG expected = 1;
    return __atomic_compare_exchange_n(&header->SignalState, &expected, 0, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
  }
  return header->Type == EventNotificationObject &&
         __atomic_load_n(&header->SignalState, __ATOMIC_ACQUIRE) > 0;
}

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

// The dispatcher: one lock over every dispatcher object, and the wait/satisfy machinery.
//
// Dispatcher objects live in driver memory and are never destroyed, so the runtime keeps no
// state of its own per object: a waiting thread links one KWAIT_BLOCK per object into the
// object's WaitListHead and sleeps on its thread object's wake word (a futex). Whoever makes an
// object signalled (under the lock) calls signal_waiters, which satisfies the waiters in list
// order the way Windows does: a notification event wakes them all, a synchronization event or
// timer one (and resets), a semaphore as many as its count, a mutex one (which becomes owner).
//
// Events are also set, reset and waited on without the lock while nobody waits on them (the
// synchronous IRP pattern: the completion routine sets the event, the submitting thread takes
// it). The first 8 bytes of a DISPATCHER_HEADER (Type, Signalling, Size, Reserved1, then
// SignalState) are handled as one atomic word, the event word, and bit 0 of Reserved1 in it is
// the event's "held" flag. SignalState keeps the values drivers read (0 or 1).
//  1. The flag means the dispatcher lock owns the event's state. It is set while a wait block is
//     linked on the event, and while a lock holder works on the state: the holder sets it with
//     a read-modify-write of the word (hold_event) before it reads the state. It is cleared only
//     under the lock, when no wait block is linked (release_event), and that clearing is the
//     holder's last access of the event.
//  2. Without the lock, an operation changes or takes the state only with one compare-exchange
//     of the whole word that expects the flag clear: a set {0, s} -> {0, 1}, a reset
//     {0, s} -> {0, 0}, a wait on a synchronization event {0, 1} -> {0, 0}. A wait on a
//     notification event returns when it loads {0, 1}. Finding the flag set, each takes the lock
//     instead. So while the flag is set, nothing without the lock changes the word or ends a wait
//     on it, and the lock holder reads and writes the state as if the lock alone guarded it.
//  3. No wake-up is lost. A waiter about to block sets the flag (rule 1) before it looks at the
//     state, and links its wait block before it unlocks. Its read-modify-write and a setter's
//     compare-exchange are ordered on the word: if the set comes first, the waiter reads state 1
//     and takes it; if the flag comes first, the setter's compare-exchange fails, and the setter
//     takes the lock, which it gets only once the block is linked, and satisfies the waiter.
//  4. No signal is taken twice and KeSetEvent/KeResetEvent return the exact previous state:
//     every change of the state is a compare-exchange on the word (rule 2) or is made while the
//     lock holds the word, when no such compare-exchange can succeed.
//  5. A setter never touches an event a waiter may have freed. Windows lets a waiter free or
//     reuse the event as soon as its wait returns because of a set. Without the lock, the
//     setter's compare-exchange is its last access (the object check reads before it). Under
//     the lock, a wait the set satisfies returns only after it has taken the lock again (a linked
//     waiter) or after it has seen the flag clear (a wait without the lock), and the setter
//     clears the flag last and unlocks after that.
//  6. Satisfying a waiter unlinks its wait blocks from every object it waited on. An event other
//     than the one being signalled whose list that empties is released there (complete_wait),
//     since the signaller does nothing more with it; the signalled object is released by its
//     signaller when it is done (signal_waiters leaves it held). A wait that times out or is
//     satisfied at once releases its events itself.
//  7. The compare-exchanges release what the setter wrote before (an IRP's IoStatus) and the
//     waits acquire it; clearing the flag releases what the lock holder wrote, for a wait without
//     the lock that then loads {0, 1}.
//  8. Only events have the flag. Mutexes, semaphores, timers and threads are signalled and waited
//     on under the lock alone, as is KePulseEvent. The word needs 8-byte alignment, as on Windows
//     x64: check_dispatcher_object bug-checks an object that lacks it.
#pragma once

#include <wdm.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "nt/ex/futex_lock.hpp"
#include "nt/ke/kthread.hpp"

namespace uwsk::nt {

// The dispatcher lock. Guards every DISPATCHER_HEADER.WaitListHead, every wait, the mutex
// ownership lists, the timer list and the DPC queue. A futex lock: it is taken for every wait
// that blocks and every signal of an object someone waits on, almost always uncontended, where
// a pthread mutex cost about 165 instructions per synchronous request (bench/profile.sh
// uwsk-sync-epoll pp1). Threads sleep on their own wake word (sleep_until below); other sleepers
// under this lock (the timer thread) use std::condition_variable_any.
futex_lock &dispatcher_lock();

// Doubly linked list helpers for runtime code (the WDK inline helpers belong to rtl.h). Links
// are written with relaxed atomic stores (plain moves): the object check of an event operation
// without the lock reads an event's WaitListHead links (check_event_unlocked).
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

// ---- The event word (rules 1 to 8 above) ----

// The first 8 bytes of a header as one integer (little-endian: Type is the low byte and
// SignalState the high half).
using event_word_t = std::uint64_t __attribute__((may_alias));
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the event word is little-endian");
static_assert(offsetof(DISPATCHER_HEADER, SignalState) == 4, "SignalState is the high half");
static_assert(offsetof(DISPATCHER_HEADER, Reserved1) == 3, "Reserved1 is byte 3");

// The "held" flag (rule 1): bit 0 of Reserved1.
inline constexpr std::uint64_t event_held = std::uint64_t{1}
                                            << (8 * offsetof(DISPATCHER_HEADER, Reserved1));

inline event_word_t *event_word(DISPATCHER_HEADER *header) {
  return reinterpret_cast<event_word_t *>(header);
}
inline const event_word_t *event_word(const DISPATCHER_HEADER *header) {
  return reinterpret_cast<const event_word_t *>(header);
}
inline LONG word_state(std::uint64_t word) {
  return static_cast<LONG>(static_cast<std::uint32_t>(word >> 32));
}
inline std::uint64_t word_with_state(std::uint64_t word, LONG state) {
  return (word & 0xffffffffu) | (std::uint64_t{static_cast<std::uint32_t>(state)} << 32);
}
inline UCHAR word_type(std::uint64_t word) {
  return static_cast<UCHAR>(word & 0xff);
}

// The object type, read atomically (the word around it changes without the lock).
inline UCHAR header_type(const DISPATCHER_HEADER *header) {
  return __atomic_load_n(&header->Type, __ATOMIC_RELAXED);
}
inline bool is_event_type(UCHAR type) {
  return type == EventNotificationObject || type == EventSynchronizationObject;
}

// Sets an event's flag (rule 1) and returns its state; any other object's state, unchanged.
// Lock held.
LONG hold_event(DISPATCHER_HEADER *header);

// Clears an event's flag if no wait block is linked on it: the caller's last access of the event
// (rule 1). Nothing for any other object. Lock held.
void release_event(DISPATCHER_HEADER *header);

// release_event for each of `objects` but `except`, once per object (a wait may name one twice).
// Lock held.
void release_events(ULONG count, PVOID const *objects, const DISPATCHER_HEADER *except);

// The object check of an event operation without the lock: true for an initialised event at an
// 8-byte aligned address. Anything else takes the locked path, whose check_dispatcher_object
// bug-checks what is not a dispatcher object.
inline bool check_event_unlocked(const DISPATCHER_HEADER *header) {
  if (header == nullptr || (reinterpret_cast<std::uintptr_t>(header) & 7) != 0 ||
      !is_event_type(header_type(header))) {
    return false;
  }
  return __atomic_load_n(&header->WaitListHead.Flink, __ATOMIC_RELAXED) != nullptr &&
         __atomic_load_n(&header->WaitListHead.Blink, __ATOMIC_RELAXED) != nullptr;
}

// Whether the event's flag is set now (no lock). For tests and diagnostics.
inline bool event_held_by_lock(const DISPATCHER_HEADER *header) {
  return (__atomic_load_n(event_word(header), __ATOMIC_ACQUIRE) & event_held) != 0;
}

// SignalState is read without the lock by KeReadState* and the event operations without the
// lock (rule 2), so every access is atomic. Under the lock, an event's state is written only
// while the lock holds it (rule 1), and as part of the whole word so that the word's other
// accesses see one size; any other object's state changes under the lock alone.
inline LONG signal_state(const DISPATCHER_HEADER *header) {
  return __atomic_load_n(&header->SignalState, __ATOMIC_RELAXED);
}
inline void set_signal_state(DISPATCHER_HEADER *header, LONG state) {
  if (is_event_type(header_type(header))) {
    const std::uint64_t word = __atomic_load_n(event_word(header), __ATOMIC_RELAXED);
    __atomic_store_n(event_word(header), word_with_state(word, state), __ATOMIC_RELAXED);
    return;
  }
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

// Satisfies the waiters that `header` (just made signalled) can release. Lock held. Events
// other than `header` that a satisfied wait leaves without waiters are released (rule 6);
// `header` itself, if an event, stays held for the caller to release when done.
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

// One sleep of `thread` (the calling thread's own object) with `lock` held: unlocks, sleeps on
// the thread's wake word until complete_wait bumps it (or a spurious wake-up, or the deadline),
// and locks again. Returns false when the deadline passed.
bool sleep_once(_KTHREAD *thread, std::unique_lock<futex_lock> &lock,
                const wait_deadline &deadline);

// Blocks the calling thread (`thread`, its own object) with `lock` held until `done()` or the
// deadline passes. Returns done().
template <typename Pred>
bool sleep_until(_KTHREAD *thread, std::unique_lock<futex_lock> &lock,
                 const wait_deadline &deadline, Pred done) {
  while (!done()) {
    if (!sleep_once(thread, lock, deadline)) {
      return done();
    }
  }
  return true;
}

} // namespace uwsk::nt

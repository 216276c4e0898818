// Kernel events: notification (manual reset: stays signalled, releases every waiter) and
// synchronization (auto reset: releases one waiter and resets).
#include <wdm.h>

#include <cstdint>

#include "nt/ke/dispatcher.hpp"
#include "nt/ke/irql.hpp"

using namespace uwsk::nt;

namespace {

// KeSetEvent/KeResetEvent without the lock (dispatcher.hpp rule 2): one compare-exchange
// {0, s} -> {0, `state`} while the event's flag is clear, retried while the state changes under
// it. Returns whether it did, and the previous state in `previous`; false when the flag is set
// (the lock owns the state) or the object is not one to handle so.
bool change_state_unlocked(DISPATCHER_HEADER *header, LONG state, LONG &previous) {
  if (!check_event_unlocked(header)) {
    return false;
  }
  std::uint64_t word = __atomic_load_n(event_word(header), __ATOMIC_RELAXED);
  while ((word & event_held) == 0) {
    // On success this is the caller's last access of the event (rule 5).
    if (__atomic_compare_exchange_n(event_word(header), &word, word_with_state(word, state), false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
      previous = word_state(word);
      return true;
    }
  }
  return false;
}

// Signals the event and then, for KePulseEvent, resets it. Returns the previous state.
LONG set_event(PRKEVENT Event, BOOLEAN Wait, bool pulse, const char *what, const void *caller) {
  if (Wait) {
    // The caller will wait next, which may block: APC_LEVEL at most (rule V82).
    require_irql_at_most(APC_LEVEL,
                         pulse ? "KePulseEvent with Wait TRUE" : "KeSetEvent with Wait TRUE", Event,
                         caller, 82);
  }
  require_irql_at_most(DISPATCH_LEVEL, what, Event, caller);
  LONG previous = 0;
  if (!pulse && change_state_unlocked(&Event->Header, 1, previous)) {
    return previous; // nobody waited
  }
  std::lock_guard lock(dispatcher_lock());
  check_dispatcher_object(&Event->Header, what, caller);
  previous = hold_event(&Event->Header);
  if (previous == 0) {
    set_signal_state(&Event->Header, 1);
    signal_waiters(&Event->Header);
  }
  if (pulse) {
    set_signal_state(&Event->Header, 0);
  }
  release_event(&Event->Header); // the last access (dispatcher.hpp rule 5)
  return previous;
}

// KeResetEvent and KeClearEvent: makes the event not signalled; returns the previous state.
LONG reset_event(PRKEVENT Event) {
  LONG previous = 0;
  if (change_state_unlocked(&Event->Header, 0, previous)) {
    return previous;
  }
  std::lock_guard lock(dispatcher_lock());
  previous = hold_event(&Event->Header);
  set_signal_state(&Event->Header, 0);
  release_event(&Event->Header);
  return previous;
}

} // namespace

// KeInitializeEvent: sets up a notification or synchronization event, signalled or not.
extern "C" VOID NTAPI KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State) {
  init_dispatcher_header(&Event->Header,
                         Type == SynchronizationEvent ? EventSynchronizationObject
                                                      : EventNotificationObject,
                         sizeof(KEVENT), State ? 1 : 0);
}

// KeSetEvent: signals the event, satisfying waiters; returns the previous state (non-zero if it
// was signalled). Wait=TRUE (the caller will wait next) is accepted and has no other effect.
// Takes the dispatcher lock only when a waiter is linked (dispatcher.hpp rule 2).
extern "C" LONG NTAPI KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait) {
  (void)Increment;
  return set_event(Event, Wait, false, "KeSetEvent", __builtin_return_address(0));
}

// KePulseEvent: signals the event (satisfying the waiters it can) and resets it at once, under
// the dispatcher lock.
extern "C" LONG NTAPI KePulseEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait) {
  (void)Increment;
  return set_event(Event, Wait, true, "KePulseEvent", __builtin_return_address(0));
}

// KeResetEvent: makes the event not signalled; returns the previous state.
extern "C" LONG NTAPI KeResetEvent(PRKEVENT Event) {
  require_irql_at_most(DISPATCH_LEVEL, "KeResetEvent", Event, __builtin_return_address(0));
  return reset_event(Event);
}

// KeClearEvent: makes the event not signalled.
extern "C" VOID NTAPI KeClearEvent(PRKEVENT Event) {
  (void)reset_event(Event);
}

// KeReadStateEvent: the current state (non-zero when signalled). A load of the whole event word
// acquires what the set that made it signalled released (dispatcher.hpp rule 7).
extern "C" LONG NTAPI KeReadStateEvent(PRKEVENT Event) {
  if ((reinterpret_cast<std::uintptr_t>(Event) & 7) != 0) {
    return signal_state(&Event->Header);
  }
  return word_state(__atomic_load_n(event_word(&Event->Header), __ATOMIC_ACQUIRE));
}

// Kernel events: notification (manual reset: stays signalled, releases every waiter) and
// synchronization (auto reset: releases one waiter and resets).
#include <wdm.h>

#include "nt/ke/dispatcher.hpp"
#include "nt/ke/irql.hpp"

using namespace uwsk::nt;

namespace {

// Signals the event and then, for KePulseEvent, resets it. Returns the previous state.
LONG set_event(PRKEVENT Event, BOOLEAN Wait, bool pulse, const char *what, const void *caller) {
  if (Wait) {
    // The caller will wait next, which may block: APC_LEVEL at most (rule V82).
    require_irql_at_most(APC_LEVEL,
                         pulse ? "KePulseEvent with Wait TRUE" : "KeSetEvent with Wait TRUE", Event,
                         caller, 82);
  }
  require_irql_at_most(DISPATCH_LEVEL, what, Event, caller);
  std::lock_guard lock(dispatcher_lock());
  check_dispatcher_object(&Event->Header, what, caller);
  LONG previous = signal_state(&Event->Header);
  if (previous == 0) {
    set_signal_state(&Event->Header, 1);
    signal_waiters(&Event->Header);
  }
  if (pulse) {
    set_signal_state(&Event->Header, 0);
  }
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
extern "C" LONG NTAPI KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait) {
  (void)Increment;
  return set_event(Event, Wait, false, "KeSetEvent", __builtin_return_address(0));
}

// KePulseEvent: signals the event (satisfying the waiters it can) and resets it at once.
extern "C" LONG NTAPI KePulseEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait) {
  (void)Increment;
  return set_event(Event, Wait, true, "KePulseEvent", __builtin_return_address(0));
}

// KeResetEvent: makes the event not signalled; returns the previous state.
extern "C" LONG NTAPI KeResetEvent(PRKEVENT Event) {
  require_irql_at_most(DISPATCH_LEVEL, "KeResetEvent", Event, __builtin_return_address(0));
  std::lock_guard lock(dispatcher_lock());
  LONG previous = signal_state(&Event->Header);
  set_signal_state(&Event->Header, 0);
  return previous;
}

// KeClearEvent: makes the event not signalled.
extern "C" VOID NTAPI KeClearEvent(PRKEVENT Event) {
  set_signal_state(&Event->Header, 0);
}

// KeReadStateEvent: the current state (non-zero when signalled).
extern "C" LONG NTAPI KeReadStateEvent(PRKEVENT Event) {
  return signal_state(&Event->Header);
}

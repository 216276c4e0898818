// Kernel events: notification (manual reset: stays signalled, releases every waiter) and
// synchronization (auto reset: releases one waiter and resets).
#include <wdm.h>

#include "nt/ke/dispatcher.hpp"
#include "nt/ke/irql.hpp"

using namespace uwsk::nt;

namespace {

// Whether the only thread waiting on the object is the calling one, running a wait helper. Its
// own wait fields are read without the lock: only the thread itself changes them.
bool only_waiter_assists_itself(const DISPATCHER_HEADER *header) {
  _ETHREAD *self = detail::t_thread;
  if (self == nullptr || !self->Tcb.assisting || self->Tcb.wait_count != 1) {
    return false;
  }
  const LIST_ENTRY *mine = &self->Tcb.wait_blocks[0].WaitListEntry;
  return __atomic_load_n(&header->WaitListHead.Flink, __ATOMIC_SEQ_CST) == mine &&
         __atomic_load_n(&mine->Flink, __ATOMIC_SEQ_CST) == &header->WaitListHead;
}

// KeSetEvent without the dispatcher lock while nobody waits: the state goes to 1 with one atomic
// exchange, and only when it was 0 and a waiter is linked is the lock taken to satisfy it.
// A waiter links its wait block and then reads the state again with a read-modify-write
// (wait.cpp); this exchanges the state and then reads the links: either the waiter sees the
// state set and takes it, or this sees the waiter and satisfies it under the lock, or both (whoever
// comes second under the lock finds the signal taken). The exchange releases what the caller wrote
// before (an IRP's IoStatus) to whoever takes the signal.
//
// The one waiter may be the calling thread itself, in a wait helper (wait_assist.hpp) that has
// just completed the IRP the thread waits for: nothing is to be woken then, and the state is
// left set for the wait to take when the helper returns (wait.cpp).
LONG signal_event_unlocked(PRKEVENT Event, const char *what, const void *caller) {
  check_dispatcher_object_unlocked(&Event->Header, what, caller);
  const LONG previous = __atomic_exchange_n(&Event->Header.SignalState, 1, __ATOMIC_SEQ_CST);
  if (previous == 0 && has_waiters_unlocked(&Event->Header) &&
      !only_waiter_assists_itself(&Event->Header)) {
    std::lock_guard lock(dispatcher_lock());
    signal_waiters(&Event->Header);
  }
  return previous;
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
  if (!pulse) {
    return signal_event_unlocked(Event, what, caller);
  }
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
// Takes the dispatcher lock only when a waiter is to be satisfied.
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
  // One exchange: KeSetEvent and waits change the state without the lock (dispatcher.hpp).
  return __atomic_exchange_n(&Event->Header.SignalState, 0, __ATOMIC_ACQ_REL);
}

// KeClearEvent: makes the event not signalled.
extern "C" VOID NTAPI KeClearEvent(PRKEVENT Event) {
  set_signal_state(&Event->Header, 0);
}

// KeReadStateEvent: the current state (non-zero when signalled).
extern "C" LONG NTAPI KeReadStateEvent(PRKEVENT Event) {
  return signal_state(&Event->Header);
}

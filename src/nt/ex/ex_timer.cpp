// Executive timers (km/ex_timer.h) over a KTIMER and its DPC.
//
// `armed` is true from ExSetTimer until the expiry's callback starts (a one-shot timer) or the
// timer is cancelled; `running` counts callbacks in progress. A deleted timer is retired once it
// is neither armed nor running: by ExDeleteTimer, by the last callback, or by the ExDeleteTimer
// that waits for that moment. Retiring queues the timer's own reaper DPC, which frees it: DPCs
// run one at a time in queue order, so an expiry DPC the timer thread has already taken from
// the queue (and that cancelling could not remove) has finished with the timer by then.
#include <wdm.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <new>

#include "nt/bugcheck.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/violations.hpp"

struct _EX_TIMER {
  KTIMER timer;
  KDPC dpc;
  KDPC reaper; // frees the timer once it is retired
  PEXT_CALLBACK callback;
  PVOID context;
  std::mutex lock; // guards the fields below
  std::condition_variable quiet;
  bool armed = false;
  bool periodic = false;
  int running = 0;
  bool deleted = false;
  bool waiter = false; // an ExDeleteTimer waits and will free the timer itself
  PEXT_DELETE_CALLBACK delete_callback = nullptr;
  PVOID delete_context = nullptr;
};

namespace uwsk::nt {
namespace {

constexpr ULONG known_attributes = EX_TIMER_HIGH_RESOLUTION | EX_TIMER_NO_WAKE;

VOID NTAPI reap_timer(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2) {
  (void)dpc;
  (void)argument1;
  (void)argument2;
  auto *timer = static_cast<PEX_TIMER>(context);
  PEXT_DELETE_CALLBACK callback = timer->delete_callback;
  PVOID delete_context = timer->delete_context;
  delete timer;
  if (callback != nullptr) {
    callback(delete_context);
  }
}

void retire(PEX_TIMER timer) {
  KeInsertQueueDpc(&timer->reaper, nullptr, nullptr);
}

VOID NTAPI timer_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2) {
  (void)dpc;
  (void)argument1;
  (void)argument2;
  auto *timer = static_cast<PEX_TIMER>(context);
  {
    std::lock_guard guard(timer->lock);
    if (!timer->armed) {
      return; // cancelled after it expired, before this DPC ran
    }
    if (!timer->periodic) {
      timer->armed = false;
    }
    ++timer->running;
  }
  if (timer->callback != nullptr) {
    timer->callback(timer, timer->context);
  }
  std::unique_lock guard(timer->lock);
  --timer->running;
  if (timer->deleted && !timer->armed && timer->running == 0) {
    if (timer->waiter) {
      timer->quiet.notify_all();
      return;
    }
    guard.unlock();
    retire(timer);
  }
}

// Cancels a pending expiry (the timer, or its DPC already queued). Called with the lock held.
bool cancel_locked(PEX_TIMER timer) {
  const bool timer_cancelled = KeCancelTimer(&timer->timer) != FALSE;
  const bool dpc_removed = KeRemoveQueueDpc(&timer->dpc) != FALSE;
  const bool was_armed = timer->armed;
  timer->armed = false;
  return was_armed && (timer_cancelled || dpc_removed);
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

// ExAllocateTimer: a timer that calls Callback(Timer, CallbackContext) at DISPATCH_LEVEL when it
// expires.
extern "C" PEX_TIMER NTAPI ExAllocateTimer(PEXT_CALLBACK Callback, PVOID CallbackContext,
                                           ULONG Attributes) {
  require_irql_at_most(DISPATCH_LEVEL, "ExAllocateTimer", nullptr, __builtin_return_address(0));
  if ((Attributes & ~known_attributes) != 0) {
    return nullptr;
  }
  auto *timer = new (std::nothrow) _EX_TIMER;
  if (timer == nullptr) {
    return nullptr;
  }
  timer->callback = Callback;
  timer->context = CallbackContext;
  KeInitializeTimerEx(&timer->timer, NotificationTimer);
  KeInitializeDpc(&timer->dpc, timer_dpc, timer);
  KeInitializeDpc(&timer->reaper, reap_timer, timer);
  return timer;
}

// ExSetTimer: (re)arms the timer; returns TRUE when it was armed and this replaced that.
extern "C" BOOLEAN NTAPI ExSetTimer(PEX_TIMER Timer, LONGLONG DueTime, LONGLONG Period,
                                    PEXT_SET_PARAMETERS Parameters) {
  (void)Parameters; // the no-wake tolerance has no meaning here
  const void *caller = __builtin_return_address(0);
  require_irql_at_most(DISPATCH_LEVEL, "ExSetTimer", Timer, caller);
  std::lock_guard guard(Timer->lock);
  if (Timer->deleted || Period < 0) {
    char reason[160];
    std::snprintf(reason, sizeof reason, "ExSetTimer(%p): %s", static_cast<void *>(Timer),
                  Timer->deleted ? "the timer was deleted" : "a negative period");
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason,
             Timer->deleted ? ke_violation::ex_timer_deleted : ke_violation::invalid_argument,
             reinterpret_cast<ULONG_PTR>(Timer), static_cast<ULONG_PTR>(Period),
             reinterpret_cast<ULONG_PTR>(caller));
  }
  const bool replaced = cancel_locked(Timer);
  LONG period_ms = 0;
  if (Period > 0) {
    const LONGLONG ms = (Period + 9999) / 10000;
    period_ms = ms > MAXLONG ? MAXLONG : static_cast<LONG>(ms);
  }
  Timer->periodic = period_ms != 0;
  Timer->armed = true;
  LARGE_INTEGER due;
  due.QuadPart = DueTime;
  KeSetTimerEx(&Timer->timer, due, period_ms, &Timer->dpc);
  return replaced ? TRUE : FALSE;
}

// ExCancelTimer: cancels a pending expiry; TRUE when there was one.
extern "C" BOOLEAN NTAPI ExCancelTimer(PEX_TIMER Timer, PEXT_CANCEL_PARAMETERS Parameters) {
  (void)Parameters;
  require_irql_at_most(DISPATCH_LEVEL, "ExCancelTimer", Timer, __builtin_return_address(0));
  std::lock_guard guard(Timer->lock);
  return cancel_locked(Timer) ? TRUE : FALSE;
}

// ExDeleteTimer: deletes the timer (see km/ex_timer.h).
extern "C" BOOLEAN NTAPI ExDeleteTimer(PEX_TIMER Timer, BOOLEAN Cancel, BOOLEAN Wait,
                                       PEXT_DELETE_PARAMETERS Parameters) {
  require_irql_at_most(Wait ? PASSIVE_LEVEL : DISPATCH_LEVEL, "ExDeleteTimer", Timer,
                       __builtin_return_address(0));
  std::unique_lock guard(Timer->lock);
  bool cancelled = false;
  if (Cancel || Timer->periodic) {
    cancelled = cancel_locked(Timer);
  }
  Timer->deleted = true;
  if (Parameters != nullptr) {
    Timer->delete_callback = Parameters->DeleteCallback;
    Timer->delete_context = Parameters->DeleteContext;
  }
  if (!Timer->armed && Timer->running == 0) {
    guard.unlock();
    retire(Timer);
    return cancelled ? TRUE : FALSE;
  }
  if (Wait) {
    Timer->waiter = true;
    Timer->quiet.wait(guard, [Timer] { return !Timer->armed && Timer->running == 0; });
    guard.unlock();
    retire(Timer);
  }
  return cancelled ? TRUE : FALSE;
}

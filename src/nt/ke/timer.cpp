// Timers (KTIMER) and DPCs (KDPC).
//
// A set timer is linked through KTIMER.TimerListEntry into one list ordered by due time
// (interrupt time, 100 ns), under the dispatcher lock: no allocation per timer. A queued DPC is
// recorded in a FIFO with a sequence number, so that KeFlushQueuedDpcs can wait for exactly the
// DPCs queued before it; KDPC.DpcData is non-NULL while it is queued. The timer/DPC thread
// expires due timers (signalling them, re-arming periodic ones, queueing their DPCs) and runs
// DPC routines one at a time at simulated DISPATCH_LEVEL, in queue order.
//
// Absolute due times are converted to interrupt time when the timer is set: a later change of
// the system clock does not move the timer. Threaded DPCs run like ordinary ones, at
// DISPATCH_LEVEL (what Windows does when threaded DPCs are disabled; a threaded DPC routine
// must handle both). Importance and target processor are recorded only.
#include <wdm.h>
#include <uwsk/log.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <dlfcn.h>
#include <thread>

#include "nt/bugcheck.hpp"
#include "nt/ke/dispatcher.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/time.hpp"
#include "nt/ke/timer.hpp"

namespace uwsk::nt {
namespace {

struct queued_dpc {
  PKDPC dpc;
  ULONGLONG sequence;
};

// Everything here is guarded by the dispatcher lock.
struct timer_runtime {
  LIST_ENTRY timers;              // KTIMER.TimerListEntry, ascending DueTime
  std::deque<queued_dpc> dpcs;    // FIFO
  ULONGLONG last_sequence = 0;    // of the last DPC queued
  ULONGLONG running_sequence = 0; // of the DPC routine running now, 0 if none
  // With the dispatcher lock (a futex lock), hence the _any form.
  std::condition_variable_any wake;    // the timer thread sleeps here
  std::condition_variable_any flushed; // KeFlushQueuedDpcs sleeps here
  std::thread thread;
  bool running = false;
  bool stopping = false;

  timer_runtime() { list_init(&timers); }
};

timer_runtime &runtime() {
  // Never destroyed: the thread may still run at exit.
  static auto *r = new timer_runtime;
  return *r;
}

// The value of KDPC.DpcData while the DPC is queued.
char dpc_queued_marker;

constexpr ULONGLONG ms_to_100ns = 10000;

void timer_thread_main();

void ensure_thread_locked(timer_runtime &r) {
  if (!r.running) {
    r.running = true;
    r.stopping = false;
    r.thread = std::thread(timer_thread_main);
  }
}

bool timer_is_set(const KTIMER *timer) {
  return timer->TimerListEntry.Flink != nullptr;
}

void unlink_timer(PKTIMER timer) {
  list_remove(&timer->TimerListEntry);
  timer->TimerListEntry.Flink = timer->TimerListEntry.Blink = nullptr;
}

// Links the timer into the ordered list (after timers due at the same time). Returns true when
// it became the first (the thread must recompute its sleep).
bool insert_timer_locked(timer_runtime &r, PKTIMER timer) {
  PLIST_ENTRY position = r.timers.Blink;
  while (position != &r.timers &&
         CONTAINING_RECORD(position, KTIMER, TimerListEntry)->DueTime.QuadPart >
             timer->DueTime.QuadPart) {
    position = position->Blink;
  }
  list_insert_head(position, &timer->TimerListEntry); // just after `position`
  return r.timers.Flink == &timer->TimerListEntry;
}

bool insert_dpc_locked(timer_runtime &r, PKDPC dpc, PVOID argument1, PVOID argument2) {
  if (dpc->DpcData != nullptr) {
    return false;
  }
  dpc->DpcData = &dpc_queued_marker;
  dpc->SystemArgument1 = argument1;
  dpc->SystemArgument2 = argument2;
  r.dpcs.push_back(queued_dpc{dpc, ++r.last_sequence});
  ensure_thread_locked(r);
  r.wake.notify_one();
  return true;
}

void expire_timers_locked(timer_runtime &r, ULONGLONG now) {
  while (!list_empty(&r.timers)) {
    PKTIMER timer = CONTAINING_RECORD(r.timers.Flink, KTIMER, TimerListEntry);
    if (timer->DueTime.QuadPart > now) {
      return;
    }
    unlink_timer(timer);
    PKDPC dpc = timer->Dpc;
    if (timer->Period > 0) {
      ULONGLONG period = static_cast<ULONGLONG>(timer->Period) * ms_to_100ns;
      ULONGLONG next = timer->DueTime.QuadPart + period;
      // A thread that fell behind skips the missed periods instead of firing in a burst.
      timer->DueTime.QuadPart = next > now ? next : now + period;
      insert_timer_locked(r, timer);
    }
    set_signal_state(&timer->Header, 1);
    signal_waiters(&timer->Header);
    if (dpc != nullptr) {
      LARGE_INTEGER system_time;
      system_time.QuadPart = system_time_now();
      insert_dpc_locked(r, dpc,
                        reinterpret_cast<PVOID>(static_cast<ULONG_PTR>(system_time.LowPart)),
                        reinterpret_cast<PVOID>(
                            static_cast<ULONG_PTR>(static_cast<ULONG>(system_time.HighPart))));
    }
  }
}

void run_dpc(PKDPC dpc, PKDEFERRED_ROUTINE routine, PVOID context, PVOID argument1,
             PVOID argument2) {
  set_current_irql(DISPATCH_LEVEL);
  routine(dpc, context, argument1, argument2);
  KIRQL after = current_irql();
  if (after != DISPATCH_LEVEL) {
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "DPC routine %p returned at IRQL %u; DPC routines must return at DISPATCH_LEVEL",
                  reinterpret_cast<void *>(routine), after);
    bugcheck(IRQL_UNEXPECTED_VALUE, reason, (static_cast<ULONG_PTR>(after) << 16) | DISPATCH_LEVEL,
             reinterpret_cast<ULONG_PTR>(routine), reinterpret_cast<ULONG_PTR>(dpc), 0);
  }
  set_current_irql(PASSIVE_LEVEL);
}

void timer_thread_main() {
  mark_runtime_thread("uwsk-timer");
  timer_runtime &r = runtime();
  std::unique_lock lock(dispatcher_lock());
  while (!r.stopping) {
    expire_timers_locked(r, interrupt_time_now());
    if (!r.dpcs.empty()) {
      queued_dpc next = r.dpcs.front();
      r.dpcs.pop_front();
      PKDPC dpc = next.dpc;
      PKDEFERRED_ROUTINE routine = dpc->DeferredRoutine;
      PVOID context = dpc->DeferredContext;
      PVOID argument1 = dpc->SystemArgument1;
      PVOID argument2 = dpc->SystemArgument2;
      // Dequeued before it runs: the routine (or anyone) may queue it again.
      dpc->DpcData = nullptr;
      r.running_sequence = next.sequence;
      lock.unlock();
      run_dpc(dpc, routine, context, argument1, argument2);
      lock.lock();
      r.running_sequence = 0;
      r.flushed.notify_all();
      continue;
    }
    if (list_empty(&r.timers)) {
      r.wake.wait(lock);
    } else {
      ULONGLONG due = CONTAINING_RECORD(r.timers.Flink, KTIMER, TimerListEntry)->DueTime.QuadPart;
      ULONGLONG now = interrupt_time_now();
      if (due > now) {
        r.wake.wait_for(lock, std::chrono::nanoseconds((due - now) * 100));
      }
    }
  }
}

BOOLEAN set_timer(PKTIMER timer, LARGE_INTEGER due_time, LONG period, PKDPC dpc, const char *what,
                  const void *caller) {
  require_irql_at_most(DISPATCH_LEVEL, what, timer, caller);
  timer_runtime &r = runtime();
  std::lock_guard lock(dispatcher_lock());
  check_dispatcher_object(&timer->Header, what, caller);
  if (timer->Header.Type != TimerNotificationObject &&
      timer->Header.Type != TimerSynchronizationObject) {
    char reason[120];
    std::snprintf(reason, sizeof reason, "%s(%p): not a timer (KeInitializeTimer not called)", what,
                  static_cast<void *>(timer));
    bugcheck(TIMER_OR_DPC_INVALID, reason, 0, reinterpret_cast<ULONG_PTR>(timer), 0,
             reinterpret_cast<ULONG_PTR>(caller));
  }
  bool was_set = timer_is_set(timer);
  if (was_set) {
    unlink_timer(timer);
  }
  timer->DueTime.QuadPart = due_time_to_interrupt_time(due_time.QuadPart);
  timer->Period = period > 0 ? period : 0;
  timer->Dpc = dpc;
  set_signal_state(&timer->Header, 0);
  bool first = insert_timer_locked(r, timer);
  ensure_thread_locked(r);
  if (first) {
    r.wake.notify_one();
  }
  return was_set ? TRUE : FALSE;
}

std::string describe_routine(const void *address) {
  Dl_info info{};
  char text[200];
  if (dladdr(address, &info) != 0 && info.dli_sname != nullptr) {
    std::snprintf(text, sizeof text, "%s (%s)", info.dli_sname,
                  info.dli_fname != nullptr ? info.dli_fname : "?");
  } else {
    std::snprintf(text, sizeof text, "%p", address);
  }
  return text;
}

} // namespace

std::vector<std::string> describe_pending_timers() {
  timer_runtime &r = runtime();
  std::lock_guard lock(dispatcher_lock());
  std::vector<std::string> lines;
  ULONGLONG now = interrupt_time_now();
  for (PLIST_ENTRY link = r.timers.Flink; link != &r.timers; link = link->Flink) {
    PKTIMER timer = CONTAINING_RECORD(link, KTIMER, TimerListEntry);
    LONGLONG in_ms = (static_cast<LONGLONG>(timer->DueTime.QuadPart) - static_cast<LONGLONG>(now)) /
                     static_cast<LONGLONG>(ms_to_100ns);
    char line[400];
    std::snprintf(
        line, sizeof line, "timer %p set: due in %lld ms, period %d ms, DPC %p%s%s",
        static_cast<void *>(timer), static_cast<long long>(in_ms), timer->Period,
        static_cast<void *>(timer->Dpc), timer->Dpc != nullptr ? " -> " : "",
        timer->Dpc != nullptr
            ? describe_routine(reinterpret_cast<const void *>(timer->Dpc->DeferredRoutine)).c_str()
            : "");
    lines.emplace_back(line);
  }
  for (const queued_dpc &queued : r.dpcs) {
    char line[300];
    std::snprintf(
        line, sizeof line, "DPC %p queued -> %s", static_cast<void *>(queued.dpc),
        describe_routine(reinterpret_cast<const void *>(queued.dpc->DeferredRoutine)).c_str());
    lines.emplace_back(line);
  }
  return lines;
}

std::size_t pending_timer_count() {
  timer_runtime &r = runtime();
  std::lock_guard lock(dispatcher_lock());
  std::size_t count = r.dpcs.size();
  for (PLIST_ENTRY link = r.timers.Flink; link != &r.timers; link = link->Flink) {
    ++count;
  }
  return count;
}

void stop_timer_thread() {
  timer_runtime &r = runtime();
  {
    std::lock_guard lock(dispatcher_lock());
    if (!r.running || r.thread.get_id() == std::this_thread::get_id()) {
      return;
    }
    r.stopping = true;
    r.wake.notify_all();
  }
  r.thread.join();
  std::lock_guard lock(dispatcher_lock());
  r.running = false;
  r.stopping = false;
  while (!list_empty(&r.timers)) {
    unlink_timer(CONTAINING_RECORD(r.timers.Flink, KTIMER, TimerListEntry));
  }
  for (const queued_dpc &queued : r.dpcs) {
    queued.dpc->DpcData = nullptr;
  }
  r.dpcs.clear();
  r.flushed.notify_all();
}

} // namespace uwsk::nt

using namespace uwsk::nt;

// KeInitializeTimer: sets up a notification timer, not set and not signalled.
extern "C" VOID NTAPI KeInitializeTimer(PKTIMER Timer) {
  KeInitializeTimerEx(Timer, NotificationTimer);
}

// KeInitializeTimerEx: sets up a notification or synchronization timer.
extern "C" VOID NTAPI KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type) {
  init_dispatcher_header(&Timer->Header,
                         Type == SynchronizationTimer ? TimerSynchronizationObject
                                                      : TimerNotificationObject,
                         sizeof(KTIMER), 0);
  Timer->DueTime.QuadPart = 0;
  Timer->TimerListEntry.Flink = Timer->TimerListEntry.Blink = nullptr;
  Timer->Dpc = nullptr;
  Timer->Processor = 0;
  Timer->Period = 0;
}

// KeSetTimer: sets (or resets) a one-shot timer and its optional DPC; TRUE if the timer was
// already set.
extern "C" BOOLEAN NTAPI KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc) {
  return set_timer(Timer, DueTime, 0, Dpc, "KeSetTimer", __builtin_return_address(0));
}

// KeSetTimerEx: as KeSetTimer, repeating every Period milliseconds when Period > 0.
extern "C" BOOLEAN NTAPI KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period,
                                      PKDPC Dpc) {
  return set_timer(Timer, DueTime, Period, Dpc, "KeSetTimerEx", __builtin_return_address(0));
}

// KeSetCoalescableTimer: as KeSetTimerEx; the tolerable delay is not used.
extern "C" BOOLEAN NTAPI KeSetCoalescableTimer(PKTIMER Timer, LARGE_INTEGER DueTime, ULONG Period,
                                               ULONG TolerableDelay, PKDPC Dpc) {
  (void)TolerableDelay;
  LONG period = Period > static_cast<ULONG>(MAXLONG) ? MAXLONG : static_cast<LONG>(Period);
  return set_timer(Timer, DueTime, period, Dpc, "KeSetCoalescableTimer",
                   __builtin_return_address(0));
}

// KeCancelTimer: unsets the timer; TRUE if it was set. A DPC already queued still runs.
extern "C" BOOLEAN NTAPI KeCancelTimer(PKTIMER Timer) {
  require_irql_at_most(DISPATCH_LEVEL, "KeCancelTimer", Timer, __builtin_return_address(0));
  std::lock_guard lock(dispatcher_lock());
  if (!timer_is_set(Timer)) {
    return FALSE;
  }
  unlink_timer(Timer);
  return TRUE;
}

// KeReadStateTimer: TRUE when the timer has expired (signalled).
extern "C" BOOLEAN NTAPI KeReadStateTimer(PKTIMER Timer) {
  return signal_state(&Timer->Header) != 0 ? TRUE : FALSE;
}

// KeInitializeDpc: sets up a DPC that runs DeferredRoutine(Dpc, DeferredContext, ...).
extern "C" VOID NTAPI KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine,
                                      PVOID DeferredContext) {
  Dpc->TargetInfoAsUlong = 0;
  Dpc->Type = DpcObject;
  Dpc->Importance = MediumImportance;
  Dpc->Number = 0;
  Dpc->DpcListEntry.Next = nullptr;
  Dpc->ProcessorHistory = 0;
  Dpc->DeferredRoutine = DeferredRoutine;
  Dpc->DeferredContext = DeferredContext;
  Dpc->SystemArgument1 = nullptr;
  Dpc->SystemArgument2 = nullptr;
  Dpc->DpcData = nullptr;
}

// KeInitializeThreadedDpc: sets up a threaded DPC (run like an ordinary one, see above).
extern "C" VOID NTAPI KeInitializeThreadedDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine,
                                              PVOID DeferredContext) {
  KeInitializeDpc(Dpc, DeferredRoutine, DeferredContext);
  Dpc->Type = ThreadedDpcObject;
}

// KeInsertQueueDpc: queues the DPC with two arguments; FALSE if it is already queued.
extern "C" BOOLEAN NTAPI KeInsertQueueDpc(PRKDPC Dpc, PVOID SystemArgument1,
                                          PVOID SystemArgument2) {
  if (Dpc->Type != DpcObject && Dpc->Type != ThreadedDpcObject) {
    char reason[120];
    std::snprintf(reason, sizeof reason,
                  "KeInsertQueueDpc(%p): not a DPC (KeInitializeDpc not "
                  "called)",
                  static_cast<void *>(Dpc));
    bugcheck(TIMER_OR_DPC_INVALID, reason, 1, reinterpret_cast<ULONG_PTR>(Dpc), 0,
             reinterpret_cast<ULONG_PTR>(__builtin_return_address(0)));
  }
  std::lock_guard lock(dispatcher_lock());
  return insert_dpc_locked(runtime(), Dpc, SystemArgument1, SystemArgument2) ? TRUE : FALSE;
}

// KeRemoveQueueDpc: takes a queued DPC off the queue (TRUE); FALSE if it was not queued.
extern "C" BOOLEAN NTAPI KeRemoveQueueDpc(PRKDPC Dpc) {
  timer_runtime &r = runtime();
  std::lock_guard lock(dispatcher_lock());
  if (Dpc->DpcData == nullptr) {
    return FALSE;
  }
  for (auto it = r.dpcs.begin(); it != r.dpcs.end(); ++it) {
    if (it->dpc == Dpc) {
      r.dpcs.erase(it);
      break;
    }
  }
  Dpc->DpcData = nullptr;
  r.flushed.notify_all();
  return TRUE;
}

// KeFlushQueuedDpcs: returns when every DPC queued before the call has run (PASSIVE_LEVEL).
extern "C" VOID NTAPI KeFlushQueuedDpcs(VOID) {
  require_irql_at_most(PASSIVE_LEVEL, "KeFlushQueuedDpcs", nullptr, __builtin_return_address(0));
  timer_runtime &r = runtime();
  std::unique_lock lock(dispatcher_lock());
  ULONGLONG target = r.last_sequence;
  r.flushed.wait(lock, [&r, target] {
    return (r.dpcs.empty() || r.dpcs.front().sequence > target) &&
           (r.running_sequence == 0 || r.running_sequence > target);
  });
}

// KeSetImportanceDpc: records the DPC's importance (all DPCs run in queue order here).
extern "C" VOID NTAPI KeSetImportanceDpc(PRKDPC Dpc, KDPC_IMPORTANCE Importance) {
  Dpc->Importance = static_cast<UCHAR>(Importance);
}

// KeSetTargetProcessorDpc: records the DPC's target processor (DPCs run on the timer thread).
extern "C" VOID NTAPI KeSetTargetProcessorDpc(PRKDPC Dpc, CCHAR Number) {
  Dpc->Number = static_cast<USHORT>(static_cast<UCHAR>(Number));
}

// IRQL, critical regions and guarded regions, simulated per thread.
//
// Nothing preempts a Linux thread because of its IRQL; the level only drives the checks Windows
// makes (a blocking wait at DISPATCH_LEVEL is a bug check there, and here) and what drivers
// read back with KeGetCurrentIrql.
#include <wdm.h>

#include <cstdio>

#include "nt/bugcheck.hpp"
#include "nt/dbg/activity.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/ke/irql.hpp"

namespace uwsk::nt {

constinit thread_local detail::irql_cell detail::t_irql
    [[gnu::tls_model("initial-exec")]] = {PASSIVE_LEVEL, 0, 0};

namespace {

thread_local int t_critical_regions [[gnu::tls_model("initial-exec")]] = 0;
thread_local int t_guarded_regions [[gnu::tls_model("initial-exec")]] = 0;

} // namespace

const char *irql_name(KIRQL irql) {
  switch (irql) {
  case PASSIVE_LEVEL:
    return "PASSIVE_LEVEL";
  case APC_LEVEL:
    return "APC_LEVEL";
  case DISPATCH_LEVEL:
    return "DISPATCH_LEVEL";
  case SYNCH_LEVEL:
    return "SYNCH_LEVEL";
  case HIGH_LEVEL:
    return "HIGH_LEVEL";
  default:
    return "a device IRQL";
  }
}

KIRQL raise_irql(KIRQL new_irql, const void *caller) {
  KIRQL old = current_irql();
  if (new_irql < old) {
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "KeRaiseIrql to IRQL %u from the higher IRQL %u: raising must not lower",
                  new_irql, old);
    bugcheck(IRQL_NOT_GREATER_OR_EQUAL, reason, old, new_irql, 0,
             reinterpret_cast<ULONG_PTR>(caller));
  }
  set_current_irql(new_irql);
  return old;
}

namespace {

// "<what> called at IRQL n (NAME); it is allowed at IRQL <= m (NAME)".
void irql_too_high(char *out, std::size_t size, const char *what, KIRQL max) {
  const KIRQL irql = current_irql();
  std::snprintf(out, size, "%s called at IRQL %u (%s); it is allowed at IRQL <= %u (%s)", what,
                irql, irql_name(irql), max, irql_name(max));
}

} // namespace

void detail::irql_above(KIRQL max, const char *what, const void *object, const void *caller) {
  char reason[256];
  irql_too_high(reason, sizeof reason, what, max);
  // Rule V51: an event callback that assumes PASSIVE_LEVEL (callbacks run at DISPATCH_LEVEL).
  if (const activity::frame *callback = activity::event_callback(); callback != nullptr) {
    char described[224];
    activity::describe_object(callback->object, described, sizeof described);
    char sentence[360];
    std::snprintf(sentence, sizeof sentence,
                  "the %s assumes PASSIVE_LEVEL: %s; event callbacks may run at DISPATCH_LEVEL",
                  callback->what, reason);
    verifier::error(51, sentence, verifier::objects_text("the callback's %s", described),
                    reinterpret_cast<ULONG_PTR>(object), current_irql());
  }
  bugcheck(IRQL_NOT_LESS_OR_EQUAL, reason, reinterpret_cast<ULONG_PTR>(object), current_irql(), 0,
           reinterpret_cast<ULONG_PTR>(caller));
}

void detail::irql_above(KIRQL max, const char *what, const void *object, const void *caller,
                        int rule) {
  char sentence[256];
  irql_too_high(sentence, sizeof sentence, what, max);
  char site[256];
  verifier::describe_code_address(caller, site, sizeof site);
  verifier::error_bugcheck(rule, sentence,
                           verifier::objects_text("object %p, called from %s", object, site),
                           IRQL_NOT_LESS_OR_EQUAL, reinterpret_cast<ULONG_PTR>(object),
                           current_irql(), 0, reinterpret_cast<ULONG_PTR>(caller));
}

int critical_region_depth() {
  return t_critical_regions;
}

int guarded_region_depth() {
  return t_guarded_regions;
}

void detail::lowered_above(KIRQL new_irql, const void *caller) {
  char reason[160];
  std::snprintf(reason, sizeof reason,
                "KeLowerIrql to IRQL %u from the lower IRQL %u: lowering must not raise", new_irql,
                current_irql());
  bugcheck(IRQL_NOT_LESS_OR_EQUAL, reason, 0, current_irql(), 0,
           reinterpret_cast<ULONG_PTR>(caller));
}

} // namespace uwsk::nt

using namespace uwsk::nt;

// KeGetCurrentIrql: the calling thread's simulated IRQL.
extern "C" KIRQL NTAPI KeGetCurrentIrql(VOID) {
  return current_irql();
}

// KfRaiseIrql: raises the IRQL and returns the previous one.
extern "C" KIRQL NTAPI KfRaiseIrql(KIRQL NewIrql) {
  return raise_irql(NewIrql, __builtin_return_address(0));
}

// KeRaiseIrql: raises the IRQL, storing the previous one in *OldIrql.
extern "C" VOID NTAPI KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql) {
  *OldIrql = raise_irql(NewIrql, __builtin_return_address(0));
}

// KeLowerIrql: returns to a lower (or equal) IRQL, normally the one KeRaiseIrql returned.
extern "C" VOID NTAPI KeLowerIrql(KIRQL NewIrql) {
  lower_irql(NewIrql, __builtin_return_address(0));
}

// KeRaiseIrqlToDpcLevel: raises to DISPATCH_LEVEL and returns the previous IRQL.
extern "C" KIRQL NTAPI KeRaiseIrqlToDpcLevel(VOID) {
  return raise_irql(DISPATCH_LEVEL, __builtin_return_address(0));
}

// KeRaiseIrqlToSynchLevel: raises to SYNCH_LEVEL and returns the previous IRQL.
extern "C" KIRQL NTAPI KeRaiseIrqlToSynchLevel(VOID) {
  return raise_irql(SYNCH_LEVEL, __builtin_return_address(0));
}

// KeEnterCriticalRegion: disables normal kernel APCs (counted; uwsk delivers no APCs).
extern "C" VOID NTAPI KeEnterCriticalRegion(VOID) {
  ++t_critical_regions;
}

// KeLeaveCriticalRegion: ends the innermost KeEnterCriticalRegion.
extern "C" VOID NTAPI KeLeaveCriticalRegion(VOID) {
  if (t_critical_regions == 0) {
    bugcheck(APC_INDEX_MISMATCH,
             "KeLeaveCriticalRegion without a matching KeEnterCriticalRegion on this thread", 0, 0,
             0, reinterpret_cast<ULONG_PTR>(__builtin_return_address(0)));
  }
  --t_critical_regions;
}

// KeEnterGuardedRegion: disables all kernel APCs (counted; uwsk delivers no APCs).
extern "C" VOID NTAPI KeEnterGuardedRegion(VOID) {
  ++t_guarded_regions;
}

// KeLeaveGuardedRegion: ends the innermost KeEnterGuardedRegion.
extern "C" VOID NTAPI KeLeaveGuardedRegion(VOID) {
  if (t_guarded_regions == 0) {
    bugcheck(APC_INDEX_MISMATCH,
             "KeLeaveGuardedRegion without a matching KeEnterGuardedRegion on this thread", 0, 0, 0,
             reinterpret_cast<ULONG_PTR>(__builtin_return_address(0)));
  }
  --t_guarded_regions;
}

// KeAreApcsDisabled: TRUE inside a critical or guarded region or at IRQL >= APC_LEVEL.
extern "C" BOOLEAN NTAPI KeAreApcsDisabled(VOID) {
  return t_critical_regions > 0 || t_guarded_regions > 0 || current_irql() >= APC_LEVEL;
}

// KeAreAllApcsDisabled: TRUE inside a guarded region or at IRQL >= APC_LEVEL.
extern "C" BOOLEAN NTAPI KeAreAllApcsDisabled(VOID) {
  return t_guarded_regions > 0 || current_irql() >= APC_LEVEL;
}

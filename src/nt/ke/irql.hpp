// The simulated IRQL of the calling thread and the checks built on it.
#pragma once

#include <wdm.h>

namespace uwsk::nt {

// The name of an IRQL for reports ("DISPATCH_LEVEL", "a device IRQL", ...).
const char *irql_name(KIRQL irql);

// The calling thread's simulated IRQL (PASSIVE_LEVEL for a thread that never raised it).
KIRQL current_irql();

// Raises the calling thread's IRQL (bug-checking IRQL_NOT_GREATER_OR_EQUAL if new_irql is
// lower) and returns the previous one; `caller` is reported.
KIRQL raise_irql(KIRQL new_irql, const void *caller);

// Sets the calling thread's simulated IRQL without the raise/lower checks (runtime threads use
// it to run DPCs at DISPATCH_LEVEL and work items at PASSIVE_LEVEL).
void set_current_irql(KIRQL irql);

// Bug-checks with IRQL_NOT_LESS_OR_EQUAL when the calling thread runs above `max`: `what` names
// the call in the report, `object` and `caller` become parameters 1 and 4 (as on Windows:
// the address involved and the code address).
void require_irql_at_most(KIRQL max, const char *what, const void *object, const void *caller);
// The same for a call a verifier rule restricts (V4, V70, V82): the report names rule `rule`
// first (verifier::error_bugcheck), with `object` and `caller` on its objects line.
void require_irql_at_most(KIRQL max, const char *what, const void *object, const void *caller,
                          int rule);

// Nesting depth of KeEnterCriticalRegion and KeEnterGuardedRegion on the calling thread.
int critical_region_depth();
int guarded_region_depth();

// How many spin locks (KSPIN_LOCK) the calling thread holds.
int spin_locks_held();

// Rule V84 is about a driver completing an IRP while it holds a spin lock. A completion the
// runtime makes on the driver's thread (a WSK call that completes at once, a cancel routine run
// by IoCancelIrp) happens under whatever locks the driver's caller legally holds, so while one
// of these scopes is open only spin locks taken since it opened count.
int spin_locks_held_since_baseline();
class spin_lock_baseline {
public:
  spin_lock_baseline();
  ~spin_lock_baseline();
  spin_lock_baseline(const spin_lock_baseline &) = delete;
  spin_lock_baseline &operator=(const spin_lock_baseline &) = delete;

private:
  int saved_;
};

// A value unique to the calling thread while it lives (never 0): spin locks store it as their
// owner so that a recursive acquire or a foreign release is caught.
ULONG_PTR spin_lock_owner_token();

} // namespace uwsk::nt

// The simulated IRQL of the calling thread and the checks built on it.
#pragma once

#include <wdm.h>

namespace uwsk::nt {

// The name of an IRQL for reports ("DISPATCH_LEVEL", "a device IRQL", ...).
const char *irql_name(KIRQL irql);

// The low bits of a spin lock owner token that are always zero: a KSPIN_LOCK word keeps the
// owner's token and, in these bits, what the acquire recorded (ke/spin_lock.cpp).
constexpr ULONG_PTR spin_lock_token_low_bits = 64 - 1;

namespace detail {

// The calling thread's simulated IRQL, with the spin lock counts that change beside it on
// every acquire and release. Its address is the thread's spin lock owner token, so the cell is
// aligned to leave spin_lock_token_low_bits free. Defined in irql.cpp; initial-exec and
// constant-initialised so that every read and write inline is one TLS access (it is touched on
// every spin lock, IRP completion and WSK call), and one cell so that a spin lock acquire or
// release finds the IRQL, its owner token and the count from one thread-pointer offset.
struct alignas(spin_lock_token_low_bits + 1) irql_cell {
  KIRQL value;
  // The spin locks the thread holds, and that count when the innermost spin_lock_baseline
  // opened.
  int spin_locks_held;
  int spin_lock_baseline;
};
extern constinit thread_local irql_cell t_irql [[gnu::tls_model("initial-exec")]];

// The reports behind the inline checks below; they do not return.
[[noreturn, gnu::cold]] void irql_above(KIRQL max, const char *what, const void *object,
                                        const void *caller);
[[noreturn, gnu::cold]] void irql_above(KIRQL max, const char *what, const void *object,
                                        const void *caller, int rule);
[[noreturn, gnu::cold]] void lowered_above(KIRQL new_irql, const void *caller);

} // namespace detail

// The calling thread's simulated IRQL (PASSIVE_LEVEL for a thread that never raised it).
inline KIRQL current_irql() {
  return detail::t_irql.value;
}

// Raises the calling thread's IRQL (bug-checking IRQL_NOT_GREATER_OR_EQUAL if new_irql is
// lower) and returns the previous one; `caller` is reported.
KIRQL raise_irql(KIRQL new_irql, const void *caller);

// Lowers the calling thread's IRQL to new_irql (bug-checking IRQL_NOT_LESS_OR_EQUAL if it is
// higher: lowering must not raise); `caller` is reported. KeLowerIrql's body.
inline void lower_irql(KIRQL new_irql, const void *caller) {
  if (new_irql > detail::t_irql.value) [[unlikely]] {
    detail::lowered_above(new_irql, caller);
  }
  detail::t_irql.value = new_irql;
}

// Sets the calling thread's simulated IRQL without the raise/lower checks (runtime threads use
// it to run DPCs at DISPATCH_LEVEL and work items at PASSIVE_LEVEL).
inline void set_current_irql(KIRQL irql) {
  detail::t_irql.value = irql;
}

// Bug-checks with IRQL_NOT_LESS_OR_EQUAL when the calling thread runs above `max`: `what` names
// the call in the report, `object` and `caller` become parameters 1 and 4 (as on Windows:
// the address involved and the code address).
inline void require_irql_at_most(KIRQL max, const char *what, const void *object,
                                 const void *caller) {
  if (detail::t_irql.value > max) [[unlikely]] {
    detail::irql_above(max, what, object, caller);
  }
}
// The same for a call a verifier rule restricts (V4, V70, V82): the report names rule `rule`
// first (verifier::error_bugcheck), with `object` and `caller` on its objects line.
inline void require_irql_at_most(KIRQL max, const char *what, const void *object,
                                 const void *caller, int rule) {
  if (detail::t_irql.value > max) [[unlikely]] {
    detail::irql_above(max, what, object, caller, rule);
  }
}

// Nesting depth of KeEnterCriticalRegion and KeEnterGuardedRegion on the calling thread.
int critical_region_depth();
int guarded_region_depth();

// How many spin locks (KSPIN_LOCK) the calling thread holds.
inline int spin_locks_held() {
  return detail::t_irql.spin_locks_held;
}

// Rule V84 is about a driver completing an IRP while it holds a spin lock. A completion the
// runtime makes on the driver's thread (a WSK call that completes at once, a cancel routine run
// by IoCancelIrp) happens under whatever locks the driver's caller legally holds, so while one
// of these scopes is open only spin locks taken since it opened count.
inline int spin_locks_held_since_baseline() {
  const int held = detail::t_irql.spin_locks_held;
  const int baseline = detail::t_irql.spin_lock_baseline;
  return held > baseline ? held - baseline : 0;
}
class spin_lock_baseline {
public:
  spin_lock_baseline() : saved_(detail::t_irql.spin_lock_baseline) {
    detail::t_irql.spin_lock_baseline = detail::t_irql.spin_locks_held;
  }
  ~spin_lock_baseline() { detail::t_irql.spin_lock_baseline = saved_; }
  spin_lock_baseline(const spin_lock_baseline &) = delete;
  spin_lock_baseline &operator=(const spin_lock_baseline &) = delete;

private:
  int saved_;
};

// A value unique to the calling thread while it lives (never 0, spin_lock_token_low_bits
// clear): spin locks store it as their owner so that a recursive acquire or a foreign release
// is caught.
inline ULONG_PTR spin_lock_owner_token() {
  return reinterpret_cast<ULONG_PTR>(&detail::t_irql);
}

} // namespace uwsk::nt

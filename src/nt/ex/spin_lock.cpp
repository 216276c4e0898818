// Reader/writer spin locks (EX_SPIN_LOCK): bit 31 is the exclusive owner, the low bits count
// shared owners. Acquiring raises to DISPATCH_LEVEL (the *AtDpcLevel forms expect it).
// Waiting spins briefly and then yields (a Linux lock holder can be preempted).
#include <wdm.h>

#include <cstdio>
#include <sched.h>

#include "nt/bugcheck.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/violations.hpp"

using namespace uwsk::nt;

namespace {

constexpr LONG exclusive_bit = static_cast<LONG>(0x80000000U);

void backoff(unsigned spins) {
  if (spins < 100) {
    YieldProcessor();
  } else {
    sched_yield();
  }
}

bool try_shared(PEX_SPIN_LOCK lock) {
  LONG value = __atomic_load_n(lock, __ATOMIC_RELAXED);
  return (value & exclusive_bit) == 0 &&
         __atomic_compare_exchange_n(lock, &value, value + 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED);
}

bool try_exclusive(PEX_SPIN_LOCK lock) {
  LONG expected = 0;
  return __atomic_compare_exchange_n(lock, &expected, exclusive_bit, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED);
}

void acquire_shared(PEX_SPIN_LOCK lock) {
  for (unsigned spins = 0; !try_shared(lock); ++spins) {
    backoff(spins);
  }
}

void acquire_exclusive(PEX_SPIN_LOCK lock) {
  for (unsigned spins = 0; !try_exclusive(lock); ++spins) {
    backoff(spins);
  }
}

[[noreturn]] void misuse(const char *what, PEX_SPIN_LOCK lock, LONG value, const void *caller) {
  char reason[160];
  std::snprintf(reason, sizeof reason, "%s(%p): the lock is not held that way (value 0x%x)", what,
                static_cast<void *>(const_cast<LONG *>(lock)), static_cast<unsigned>(value));
  bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::spin_lock_rw_misuse,
           reinterpret_cast<ULONG_PTR>(lock), static_cast<ULONG>(value),
           reinterpret_cast<ULONG_PTR>(caller));
}

void release_shared(PEX_SPIN_LOCK lock, const char *what, const void *caller) {
  LONG value = __atomic_load_n(lock, __ATOMIC_RELAXED);
  if ((value & exclusive_bit) != 0 || value == 0) {
    misuse(what, lock, value, caller);
  }
  __atomic_sub_fetch(lock, 1, __ATOMIC_RELEASE);
}

void release_exclusive(PEX_SPIN_LOCK lock, const char *what, const void *caller) {
  LONG value = __atomic_load_n(lock, __ATOMIC_RELAXED);
  if (value != exclusive_bit) {
    misuse(what, lock, value, caller);
  }
  __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

KIRQL raise_to_dispatch(const char *what, PEX_SPIN_LOCK lock, const void *caller) {
  require_irql_at_most(DISPATCH_LEVEL, what, const_cast<LONG *>(lock), caller);
  KIRQL old = current_irql();
  set_current_irql(DISPATCH_LEVEL);
  return old;
}

} // namespace

// ExAcquireSpinLockExclusive: raises to DISPATCH_LEVEL and acquires the lock exclusive.
extern "C" KIRQL NTAPI ExAcquireSpinLockExclusive(PEX_SPIN_LOCK SpinLock) {
  KIRQL old =
      raise_to_dispatch("ExAcquireSpinLockExclusive", SpinLock, __builtin_return_address(0));
  acquire_exclusive(SpinLock);
  return old;
}

// ExAcquireSpinLockShared: raises to DISPATCH_LEVEL and acquires the lock shared.
extern "C" KIRQL NTAPI ExAcquireSpinLockShared(PEX_SPIN_LOCK SpinLock) {
  KIRQL old = raise_to_dispatch("ExAcquireSpinLockShared", SpinLock, __builtin_return_address(0));
  acquire_shared(SpinLock);
  return old;
}

// ExReleaseSpinLockExclusive: releases exclusive ownership and restores the IRQL.
extern "C" VOID NTAPI ExReleaseSpinLockExclusive(PEX_SPIN_LOCK SpinLock, KIRQL OldIrql) {
  release_exclusive(SpinLock, "ExReleaseSpinLockExclusive", __builtin_return_address(0));
  KeLowerIrql(OldIrql);
}

// ExReleaseSpinLockShared: releases shared ownership and restores the IRQL.
extern "C" VOID NTAPI ExReleaseSpinLockShared(PEX_SPIN_LOCK SpinLock, KIRQL OldIrql) {
  release_shared(SpinLock, "ExReleaseSpinLockShared", __builtin_return_address(0));
  KeLowerIrql(OldIrql);
}

// ExAcquireSpinLockExclusiveAtDpcLevel: acquires exclusive at DISPATCH_LEVEL.
extern "C" VOID NTAPI ExAcquireSpinLockExclusiveAtDpcLevel(PEX_SPIN_LOCK SpinLock) {
  acquire_exclusive(SpinLock);
}

// ExAcquireSpinLockSharedAtDpcLevel: acquires shared at DISPATCH_LEVEL.
extern "C" VOID NTAPI ExAcquireSpinLockSharedAtDpcLevel(PEX_SPIN_LOCK SpinLock) {
  acquire_shared(SpinLock);
}

// ExReleaseSpinLockExclusiveFromDpcLevel: releases exclusive, staying at DISPATCH_LEVEL.
extern "C" VOID NTAPI ExReleaseSpinLockExclusiveFromDpcLevel(PEX_SPIN_LOCK SpinLock) {
  release_exclusive(SpinLock, "ExReleaseSpinLockExclusiveFromDpcLevel",
                    __builtin_return_address(0));
}

// ExReleaseSpinLockSharedFromDpcLevel: releases shared, staying at DISPATCH_LEVEL.
extern "C" VOID NTAPI ExReleaseSpinLockSharedFromDpcLevel(PEX_SPIN_LOCK SpinLock) {
  release_shared(SpinLock, "ExReleaseSpinLockSharedFromDpcLevel", __builtin_return_address(0));
}

// ExTryConvertSharedSpinLockExclusive: turns the caller's shared hold into exclusive if it is
// the only shared owner (TRUE); otherwise keeps it shared and returns FALSE.
extern "C" LOGICAL NTAPI ExTryConvertSharedSpinLockExclusive(PEX_SPIN_LOCK SpinLock) {
  LONG expected = 1;
  return __atomic_compare_exchange_n(SpinLock, &expected, exclusive_bit, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED)
             ? TRUE
             : FALSE;
}

// ExTryAcquireSpinLockSharedAtDpcLevel: acquires shared if possible without waiting.
extern "C" BOOLEAN NTAPI ExTryAcquireSpinLockSharedAtDpcLevel(PEX_SPIN_LOCK SpinLock) {
  return try_shared(SpinLock) ? TRUE : FALSE;
}

// ExTryAcquireSpinLockExclusiveAtDpcLevel: acquires exclusive if the lock is free.
extern "C" BOOLEAN NTAPI ExTryAcquireSpinLockExclusiveAtDpcLevel(PEX_SPIN_LOCK SpinLock) {
  return try_exclusive(SpinLock) ? TRUE : FALSE;
}

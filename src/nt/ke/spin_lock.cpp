// Spin locks: KSPIN_LOCK (a ULONG_PTR) holds 0 when free and, while held, the owner's token
// (spin_lock_owner_token, whose low six bits are clear) with what the acquire recorded in those
// low bits. A thread that acquires a lock it holds, or releases one it does not hold, is caught
// (SPIN_LOCK_ALREADY_OWNED, SPIN_LOCK_NOT_OWNED) instead of deadlocking or corrupting data.
// A zeroed KSPIN_LOCK is a valid free lock, as on Windows.
//
// KeAcquireSpinLock records the IRQL it returned (at most DISPATCH_LEVEL, so it fits in five
// bits) beside the owner, so KeReleaseSpinLock checks the owner and rule V84 (the IRQL given back
// must be the one the acquire returned) with one compare of the lock word, whatever the
// verifier's bookkeeping mode. The other acquires record nothing, and the other releases check
// the owner only: a lock taken with one form and released with another stays legal.
// Each thread also counts the spin locks it holds (IoCompleteRequest refuses to run under one,
// rule V84). The IRQL, the owner token and the count are one thread-local cell
// (detail::irql_cell), so an acquire or a release addresses them all from one offset.
//
// Acquiring raises the simulated IRQL to DISPATCH_LEVEL; the *AtDpcLevel forms require the
// caller to be at DISPATCH_LEVEL already. Waiting spins briefly and then yields the CPU, because
// a Linux lock holder can be preempted, unlike a Windows one.
#include <wdm.h>

#include <cstdio>
#include <sched.h>

#include "nt/bugcheck.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/ke/irql.hpp"

using namespace uwsk::nt;

namespace {

// The low bits of a held lock's word: set when KeAcquireSpinLock recorded the IRQL it returned,
// which is then in the bits below.
constexpr ULONG_PTR irql_recorded = 0x20;
constexpr ULONG_PTR recorded_irql_mask = irql_recorded - 1;
static_assert((irql_recorded | recorded_irql_mask) == spin_lock_token_low_bits);
static_assert(DISPATCH_LEVEL <= recorded_irql_mask);

// The word of a lock held by the thread of `cell` (its detail::t_irql), taken by
// KeAcquireSpinLock at old_irql. Any KIRQL may be given (a release with a bogus IRQL): the sum
// still names this thread only, as two threads' tokens lie in their own TLS blocks, far more
// than 0x20 + 255 bytes apart.
inline ULONG_PTR word_with_irql(const detail::irql_cell &cell, KIRQL old_irql) {
  return reinterpret_cast<ULONG_PTR>(&cell) + irql_recorded + old_irql;
}

[[noreturn, gnu::cold]] void already_owned(PKSPIN_LOCK lock, const char *what, const void *caller) {
  char reason[160];
  std::snprintf(reason, sizeof reason,
                "%s(%p): the calling thread already holds this spin lock (a certain deadlock)",
                what, static_cast<void *>(lock));
  bugcheck(SPIN_LOCK_ALREADY_OWNED, reason, reinterpret_cast<ULONG_PTR>(lock), 0, 0,
           reinterpret_cast<ULONG_PTR>(caller));
}

[[noreturn, gnu::cold]] void not_owned(PKSPIN_LOCK lock, ULONG_PTR word, const char *what,
                                       const void *caller) {
  const ULONG_PTR owner = word & ~spin_lock_token_low_bits;
  char reason[160];
  std::snprintf(reason, sizeof reason, "%s(%p): the calling thread does not hold this spin lock%s",
                what, static_cast<void *>(lock), word == 0 ? " (it is free)" : "");
  bugcheck(SPIN_LOCK_NOT_OWNED, reason, reinterpret_cast<ULONG_PTR>(lock), owner, 0,
           reinterpret_cast<ULONG_PTR>(caller));
}

// The lock is held: spins, then yields, until it is free and taken with `word`.
[[gnu::noinline]] void acquire_contended(PKSPIN_LOCK lock, ULONG_PTR held, ULONG_PTR word,
                                         const char *what, const void *caller) {
  if ((held & ~spin_lock_token_low_bits) == spin_lock_owner_token()) {
    already_owned(lock, what, caller);
  }
  for (unsigned spins = 0;; ++spins) {
    if (__atomic_load_n(lock, __ATOMIC_RELAXED) == 0) {
      ULONG_PTR expected = 0;
      if (__atomic_compare_exchange_n(lock, &expected, word, false, __ATOMIC_ACQUIRE,
                                      __ATOMIC_RELAXED)) {
        ++detail::t_irql.spin_locks_held;
        return;
      }
    }
    if (spins < 100) {
      YieldProcessor();
    } else {
      sched_yield();
    }
  }
}

// Takes the lock, leaving `word` (the owner token, perhaps with a recorded IRQL) in it.
inline void acquire(PKSPIN_LOCK lock, ULONG_PTR word, const char *what, const void *caller) {
  ULONG_PTR expected = 0;
  if (__atomic_compare_exchange_n(lock, &expected, word, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
      [[likely]] {
    ++detail::t_irql.spin_locks_held;
    return;
  }
  acquire_contended(lock, expected, word, what, caller);
}

bool try_acquire(PKSPIN_LOCK lock) {
  ULONG_PTR expected = 0;
  if (__atomic_compare_exchange_n(lock, &expected, spin_lock_owner_token(), false, __ATOMIC_ACQUIRE,
                                  __ATOMIC_RELAXED)) {
    ++detail::t_irql.spin_locks_held;
    return true;
  }
  return false;
}

inline void release_held(PKSPIN_LOCK lock) {
  __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
  --detail::t_irql.spin_locks_held;
}

// Releases a lock whatever its acquire recorded; the caller must own it.
inline void release(PKSPIN_LOCK lock, const char *what, const void *caller) {
  const ULONG_PTR word = __atomic_load_n(lock, __ATOMIC_RELAXED);
  if ((word & ~spin_lock_token_low_bits) != spin_lock_owner_token()) [[unlikely]] {
    not_owned(lock, word, what, caller);
  }
  release_held(lock);
}

// KeReleaseSpinLock's word was not the one a KeAcquireSpinLock at new_irql by this thread leaves,
// or new_irql is above the current IRQL: reports another owner (SPIN_LOCK_NOT_OWNED) or another
// recorded IRQL (rule V84); a lock taken by a form that records no IRQL, or by KeAcquireSpinLock
// at new_irql, is released and the IRQL lowered (which reports a lowering that would raise), as
// KeReleaseSpinLock does. Out of line, so that KeReleaseSpinLock's own path saves no registers.
[[gnu::noinline, gnu::cold]] void release_unexpected(PKSPIN_LOCK lock, ULONG_PTR word,
                                                     KIRQL new_irql, const void *caller) {
  if (word == word_with_irql(detail::t_irql, new_irql)) {
    release_held(lock);
    lower_irql(new_irql, caller);
    return;
  }
  if ((word & ~spin_lock_token_low_bits) != spin_lock_owner_token()) {
    not_owned(lock, word, "KeReleaseSpinLock", caller);
  }
  if ((word & irql_recorded) == 0) {
    release_held(lock);
    lower_irql(new_irql, caller);
    return;
  }
  const auto expected = static_cast<unsigned>(word & recorded_irql_mask);
  verifier::error(84,
                  "a spin lock was released with an IRQL other than the one its acquire "
                  "returned: the thread would run at the wrong IRQL afterwards",
                  verifier::objects_text("KeReleaseSpinLock(%p, %u): KeAcquireSpinLock returned %u",
                                         static_cast<void *>(lock), new_irql, expected),
                  reinterpret_cast<ULONG_PTR>(lock), new_irql);
}

[[noreturn, gnu::cold]] void below_dispatch(const char *what, const void *lock,
                                            const void *caller) {
  const KIRQL irql = current_irql();
  char reason[160];
  std::snprintf(reason, sizeof reason,
                "%s called at IRQL %u; it requires IRQL >= DISPATCH_LEVEL (use "
                "KeAcquireSpinLock below DISPATCH_LEVEL)",
                what, irql);
  bugcheck(IRQL_NOT_GREATER_OR_EQUAL, reason, reinterpret_cast<ULONG_PTR>(lock), irql, 0,
           reinterpret_cast<ULONG_PTR>(caller));
}

inline void require_dispatch_level(const char *what, const void *lock, const void *caller) {
  if (current_irql() < DISPATCH_LEVEL) [[unlikely]] {
    below_dispatch(what, lock, caller);
  }
}

// KeAcquireSpinLock found the lock held: waits for it (acquire_contended) and returns old.
[[gnu::noinline]] KIRQL acquire_raised_contended(PKSPIN_LOCK lock, ULONG_PTR held, ULONG_PTR word,
                                                 KIRQL old, const void *caller) {
  acquire_contended(lock, held, word, "KeAcquireSpinLock", caller);
  return old;
}

// KeAcquireSpinLock above DISPATCH_LEVEL: the bug check (a call the caller can jump to, so that
// its own path needs no stack frame; noipa keeps GCC from seeing that it does not return).
[[gnu::noipa, gnu::cold]] KIRQL acquire_above_dispatch(PKSPIN_LOCK lock, const void *caller) {
  detail::irql_above(DISPATCH_LEVEL, "KeAcquireSpinLock", lock, caller);
}

} // namespace

// KeInitializeSpinLock: makes a spin lock free.
extern "C" VOID NTAPI KeInitializeSpinLock(PKSPIN_LOCK SpinLock) {
  __atomic_store_n(SpinLock, 0, __ATOMIC_RELAXED);
}

// Deliberate pair (duplicates): KeAcquireSpinLockRaiseToDpc and ex/fast_mutex.cpp's
// ExAcquireFastMutex, each an IRQL check, a raise and an acquire of its own kind of lock.
// KeAcquireSpinLockRaiseToDpc (behind KeAcquireSpinLock): raises to DISPATCH_LEVEL, acquires
// the lock and returns the previous IRQL.
// The pair runs several times per driver message, so each is written for its instruction count:
// the IRQL, the owner token and the count come from one thread-local cell, and the caller's
// address (for reports) is read only on the paths that report.
extern "C" KIRQL NTAPI KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock) {
  detail::irql_cell &cell = detail::t_irql;
  const KIRQL old = cell.value;
  if (old > DISPATCH_LEVEL) [[unlikely]] {
    return acquire_above_dispatch(SpinLock, __builtin_return_address(0));
  }
  cell.value = DISPATCH_LEVEL;
  const ULONG_PTR word = word_with_irql(cell, old);
  ULONG_PTR expected = 0;
  if (__atomic_compare_exchange_n(SpinLock, &expected, word, false, __ATOMIC_ACQUIRE,
                                  __ATOMIC_RELAXED)) [[likely]] {
    ++cell.spin_locks_held;
    return old;
  }
  return acquire_raised_contended(SpinLock, expected, word, old, __builtin_return_address(0));
}

// KeReleaseSpinLock: releases the lock and returns to the IRQL KeAcquireSpinLock returned.
// One compare of the lock word checks the owner and rule V84; lowering must not raise.
extern "C" VOID NTAPI KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql) {
  detail::irql_cell &cell = detail::t_irql;
  const ULONG_PTR word = __atomic_load_n(SpinLock, __ATOMIC_RELAXED);
  if (word != word_with_irql(cell, NewIrql) || NewIrql > cell.value) [[unlikely]] {
    release_unexpected(SpinLock, word, NewIrql, __builtin_return_address(0));
    return;
  }
  __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
  --cell.spin_locks_held;
  cell.value = NewIrql;
}

// KeAcquireSpinLockAtDpcLevel: acquires the lock; the caller is already at DISPATCH_LEVEL.
extern "C" VOID NTAPI KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock) {
  const void *caller = __builtin_return_address(0);
  require_dispatch_level("KeAcquireSpinLockAtDpcLevel", SpinLock, caller);
  acquire(SpinLock, spin_lock_owner_token(), "KeAcquireSpinLockAtDpcLevel", caller);
}

// KeReleaseSpinLockFromDpcLevel: releases the lock and stays at DISPATCH_LEVEL.
extern "C" VOID NTAPI KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock) {
  release(SpinLock, "KeReleaseSpinLockFromDpcLevel", __builtin_return_address(0));
}

// KeTryToAcquireSpinLockAtDpcLevel: acquires the lock if it is free; TRUE on success.
extern "C" BOOLEAN NTAPI KeTryToAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock) {
  require_dispatch_level("KeTryToAcquireSpinLockAtDpcLevel", SpinLock, __builtin_return_address(0));
  return try_acquire(SpinLock) ? TRUE : FALSE;
}

// KeTestSpinLock: TRUE when the lock is free right now (a hint for spinning loops).
extern "C" BOOLEAN NTAPI KeTestSpinLock(PKSPIN_LOCK SpinLock) {
  return __atomic_load_n(SpinLock, __ATOMIC_RELAXED) == 0 ? TRUE : FALSE;
}

// KeAcquireSpinLockForDpc: acquires the lock, raising to DISPATCH_LEVEL only if below it;
// returns the IRQL to restore.
extern "C" KIRQL NTAPI KeAcquireSpinLockForDpc(PKSPIN_LOCK SpinLock) {
  const void *caller = __builtin_return_address(0);
  KIRQL old = current_irql();
  if (old < DISPATCH_LEVEL) {
    set_current_irql(DISPATCH_LEVEL);
  }
  acquire(SpinLock, spin_lock_owner_token(), "KeAcquireSpinLockForDpc", caller);
  return old;
}

// KeReleaseSpinLockForDpc: releases a lock taken with KeAcquireSpinLockForDpc.
extern "C" VOID NTAPI KeReleaseSpinLockForDpc(PKSPIN_LOCK SpinLock, KIRQL OldIrql) {
  release(SpinLock, "KeReleaseSpinLockForDpc", __builtin_return_address(0));
  lower_irql(OldIrql, __builtin_return_address(0));
}

// Deliberate family (duplicates): the in-stack queued spin lock exports and their ForDpc forms, one
// acquire or release each around the IRQL Windows gives them.
// KeAcquireInStackQueuedSpinLock: raises to DISPATCH_LEVEL and acquires the lock, recording it
// and the previous IRQL in the caller's LockHandle.
extern "C" VOID NTAPI KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock,
                                                     PKLOCK_QUEUE_HANDLE LockHandle) {
  const void *caller = __builtin_return_address(0);
  require_irql_at_most(DISPATCH_LEVEL, "KeAcquireInStackQueuedSpinLock", SpinLock, caller);
  LockHandle->LockQueue.Next = nullptr;
  LockHandle->LockQueue.Lock = SpinLock;
  LockHandle->OldIrql = current_irql();
  set_current_irql(DISPATCH_LEVEL);
  acquire(SpinLock, spin_lock_owner_token(), "KeAcquireInStackQueuedSpinLock", caller);
}

// KeReleaseInStackQueuedSpinLock: releases the lock and restores the recorded IRQL.
extern "C" VOID NTAPI KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle) {
  release(LockHandle->LockQueue.Lock, "KeReleaseInStackQueuedSpinLock",
          __builtin_return_address(0));
  lower_irql(LockHandle->OldIrql, __builtin_return_address(0));
}

// KeAcquireInStackQueuedSpinLockAtDpcLevel: acquires the lock at DISPATCH_LEVEL.
extern "C" VOID NTAPI KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock,
                                                               PKLOCK_QUEUE_HANDLE LockHandle) {
  const void *caller = __builtin_return_address(0);
  require_dispatch_level("KeAcquireInStackQueuedSpinLockAtDpcLevel", SpinLock, caller);
  LockHandle->LockQueue.Next = nullptr;
  LockHandle->LockQueue.Lock = SpinLock;
  LockHandle->OldIrql = DISPATCH_LEVEL;
  acquire(SpinLock, spin_lock_owner_token(), "KeAcquireInStackQueuedSpinLockAtDpcLevel", caller);
}

// KeReleaseInStackQueuedSpinLockFromDpcLevel: releases the lock and stays at DISPATCH_LEVEL.
extern "C" VOID NTAPI KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle) {
  release(LockHandle->LockQueue.Lock, "KeReleaseInStackQueuedSpinLockFromDpcLevel",
          __builtin_return_address(0));
}

// KeAcquireInStackQueuedSpinLockForDpc: as KeAcquireInStackQueuedSpinLock, raising only if
// below DISPATCH_LEVEL.
extern "C" VOID NTAPI KeAcquireInStackQueuedSpinLockForDpc(PKSPIN_LOCK SpinLock,
                                                           PKLOCK_QUEUE_HANDLE LockHandle) {
  const void *caller = __builtin_return_address(0);
  LockHandle->LockQueue.Next = nullptr;
  LockHandle->LockQueue.Lock = SpinLock;
  LockHandle->OldIrql = current_irql();
  if (LockHandle->OldIrql < DISPATCH_LEVEL) {
    set_current_irql(DISPATCH_LEVEL);
  }
  acquire(SpinLock, spin_lock_owner_token(), "KeAcquireInStackQueuedSpinLockForDpc", caller);
}

// KeReleaseInStackQueuedSpinLockForDpc: releases a lock taken with the ForDpc form.
extern "C" VOID NTAPI KeReleaseInStackQueuedSpinLockForDpc(PKLOCK_QUEUE_HANDLE LockHandle) {
  release(LockHandle->LockQueue.Lock, "KeReleaseInStackQueuedSpinLockForDpc",
          __builtin_return_address(0));
  lower_irql(LockHandle->OldIrql, __builtin_return_address(0));
}

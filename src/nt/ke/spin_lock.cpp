// Spin locks: KSPIN_LOCK (a ULONG_PTR) holds 0 when free and the owner's token while held, so a
// thread that acquires a lock it holds, or releases one it does not hold, is caught
// (SPIN_LOCK_ALREADY_OWNED, SPIN_LOCK_NOT_OWNED) instead of deadlocking or corrupting data.
// A zeroed KSPIN_LOCK is a valid free lock, as on Windows.
//
// Each thread also counts the spin locks it holds (IoCompleteRequest refuses to run under one,
// rule V84) and remembers, for the newest few taken with KeAcquireSpinLock, the IRQL the acquire
// returned, so that KeReleaseSpinLock with another IRQL is reported (rule V84); not with the
// verifier's bookkeeping off (UWSK_VERIFY=off).
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

thread_local int held_count [[gnu::tls_model("initial-exec")]] = 0;

// The IRQLs KeAcquireSpinLock returned for the locks this thread holds, newest last; locks
// beyond the table's size are not checked.
struct acquired_irql {
  PKSPIN_LOCK lock;
  KIRQL old_irql;
};
constexpr int remembered = 8;
thread_local acquired_irql acquired[remembered] [[gnu::tls_model("initial-exec")]];
thread_local int acquired_count [[gnu::tls_model("initial-exec")]] = 0;

void remember_old_irql(PKSPIN_LOCK lock, KIRQL old_irql) {
  if (acquired_count < remembered) {
    acquired[acquired_count++] = {lock, old_irql};
  }
}

void forget_old_irql(PKSPIN_LOCK lock) {
  for (int i = acquired_count - 1; i >= 0; --i) {
    if (acquired[i].lock == lock) {
      acquired[i] = acquired[--acquired_count];
      return;
    }
  }
}

// Rule V84: the IRQL given to the release must be the one the acquire returned.
void check_old_irql(PKSPIN_LOCK lock, KIRQL given, const char *what) {
  for (int i = acquired_count - 1; i >= 0; --i) {
    if (acquired[i].lock != lock) {
      continue;
    }
    const KIRQL expected = acquired[i].old_irql;
    acquired[i] = acquired[--acquired_count];
    if (given != expected) {
      verifier::error(84,
                      "a spin lock was released with an IRQL other than the one its acquire "
                      "returned: the thread would run at the wrong IRQL afterwards",
                      verifier::objects_text("%s(%p, %u): KeAcquireSpinLock returned %u", what,
                                             static_cast<void *>(lock), given, expected),
                      reinterpret_cast<ULONG_PTR>(lock), given);
    }
    return;
  }
}

void acquire(PKSPIN_LOCK lock, const char *what, const void *caller) {
  ULONG_PTR me = spin_lock_owner_token();
  ULONG_PTR expected = 0;
  if (__atomic_compare_exchange_n(lock, &expected, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
    ++held_count;
    return;
  }
  if (expected == me) {
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "%s(%p): the calling thread already holds this spin lock (a certain deadlock)",
                  what, static_cast<void *>(lock));
    bugcheck(SPIN_LOCK_ALREADY_OWNED, reason, reinterpret_cast<ULONG_PTR>(lock), 0, 0,
             reinterpret_cast<ULONG_PTR>(caller));
  }
  for (unsigned spins = 0;; ++spins) {
    if (__atomic_load_n(lock, __ATOMIC_RELAXED) == 0) {
      expected = 0;
      if (__atomic_compare_exchange_n(lock, &expected, me, false, __ATOMIC_ACQUIRE,
                                      __ATOMIC_RELAXED)) {
        ++held_count;
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

bool try_acquire(PKSPIN_LOCK lock) {
  ULONG_PTR expected = 0;
  if (__atomic_compare_exchange_n(lock, &expected, spin_lock_owner_token(), false, __ATOMIC_ACQUIRE,
                                  __ATOMIC_RELAXED)) {
    ++held_count;
    return true;
  }
  return false;
}

// `remembered_checked`: check_old_irql has already taken the lock out of the table (a second
// scan would only walk the other entries).
void release(PKSPIN_LOCK lock, const char *what, const void *caller,
             bool remembered_checked = false) {
  ULONG_PTR owner = __atomic_load_n(lock, __ATOMIC_RELAXED);
  if (owner != spin_lock_owner_token()) {
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "%s(%p): the calling thread does not hold this spin lock%s", what,
                  static_cast<void *>(lock), owner == 0 ? " (it is free)" : "");
    bugcheck(SPIN_LOCK_NOT_OWNED, reason, reinterpret_cast<ULONG_PTR>(lock), owner, 0,
             reinterpret_cast<ULONG_PTR>(caller));
  }
  __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
  --held_count;
  if (!remembered_checked) {
    forget_old_irql(lock);
  }
}

void require_dispatch_level(const char *what, const void *lock, const void *caller) {
  KIRQL irql = current_irql();
  if (irql < DISPATCH_LEVEL) {
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "%s called at IRQL %u; it requires IRQL >= DISPATCH_LEVEL (use "
                  "KeAcquireSpinLock below DISPATCH_LEVEL)",
                  what, irql);
    bugcheck(IRQL_NOT_GREATER_OR_EQUAL, reason, reinterpret_cast<ULONG_PTR>(lock), irql, 0,
             reinterpret_cast<ULONG_PTR>(caller));
  }
}

} // namespace

int uwsk::nt::spin_locks_held() {
  return held_count;
}

namespace {
// spin_lock_baseline: the count when the scope opened.
thread_local int held_baseline [[gnu::tls_model("initial-exec")]] = 0;
} // namespace

int uwsk::nt::spin_locks_held_since_baseline() {
  return held_count > held_baseline ? held_count - held_baseline : 0;
}

uwsk::nt::spin_lock_baseline::spin_lock_baseline() : saved_(held_baseline) {
  held_baseline = held_count;
}

uwsk::nt::spin_lock_baseline::~spin_lock_baseline() {
  held_baseline = saved_;
}

// KeInitializeSpinLock: makes a spin lock free.
extern "C" VOID NTAPI KeInitializeSpinLock(PKSPIN_LOCK SpinLock) {
  __atomic_store_n(SpinLock, 0, __ATOMIC_RELAXED);
}

// Deliberate pair (duplicates): KeAcquireSpinLockRaiseToDpc and ex/fast_mutex.cpp's
// ExAcquireFastMutex, each an IRQL check, a raise and an acquire of its own kind of lock.
// KeAcquireSpinLockRaiseToDpc (behind KeAcquireSpinLock): raises to DISPATCH_LEVEL, acquires
// the lock and returns the previous IRQL.
extern "C" KIRQL NTAPI KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock) {
  const void *caller = __builtin_return_address(0);
  require_irql_at_most(DISPATCH_LEVEL, "KeAcquireSpinLock", SpinLock, caller);
  KIRQL old = current_irql();
  set_current_irql(DISPATCH_LEVEL);
  acquire(SpinLock, "KeAcquireSpinLock", caller);
  if (!verifier::bookkeeping_off()) {
    remember_old_irql(SpinLock, old);
  }
  return old;
}

// KeReleaseSpinLock: releases the lock and returns to the IRQL KeAcquireSpinLock returned.
extern "C" VOID NTAPI KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql) {
  const bool check = !verifier::bookkeeping_off();
  if (check) {
    check_old_irql(SpinLock, NewIrql, "KeReleaseSpinLock");
  }
  release(SpinLock, "KeReleaseSpinLock", __builtin_return_address(0), check);
  KeLowerIrql(NewIrql);
}

// KeAcquireSpinLockAtDpcLevel: acquires the lock; the caller is already at DISPATCH_LEVEL.
extern "C" VOID NTAPI KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock) {
  const void *caller = __builtin_return_address(0);
  require_dispatch_level("KeAcquireSpinLockAtDpcLevel", SpinLock, caller);
  acquire(SpinLock, "KeAcquireSpinLockAtDpcLevel", caller);
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
  acquire(SpinLock, "KeAcquireSpinLockForDpc", caller);
  return old;
}

// KeReleaseSpinLockForDpc: releases a lock taken with KeAcquireSpinLockForDpc.
extern "C" VOID NTAPI KeReleaseSpinLockForDpc(PKSPIN_LOCK SpinLock, KIRQL OldIrql) {
  release(SpinLock, "KeReleaseSpinLockForDpc", __builtin_return_address(0));
  KeLowerIrql(OldIrql);
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
  acquire(SpinLock, "KeAcquireInStackQueuedSpinLock", caller);
}

// KeReleaseInStackQueuedSpinLock: releases the lock and restores the recorded IRQL.
extern "C" VOID NTAPI KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle) {
  release(LockHandle->LockQueue.Lock, "KeReleaseInStackQueuedSpinLock",
          __builtin_return_address(0));
  KeLowerIrql(LockHandle->OldIrql);
}

// KeAcquireInStackQueuedSpinLockAtDpcLevel: acquires the lock at DISPATCH_LEVEL.
extern "C" VOID NTAPI KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock,
                                                               PKLOCK_QUEUE_HANDLE LockHandle) {
  const void *caller = __builtin_return_address(0);
  require_dispatch_level("KeAcquireInStackQueuedSpinLockAtDpcLevel", SpinLock, caller);
  LockHandle->LockQueue.Next = nullptr;
  LockHandle->LockQueue.Lock = SpinLock;
  LockHandle->OldIrql = DISPATCH_LEVEL;
  acquire(SpinLock, "KeAcquireInStackQueuedSpinLockAtDpcLevel", caller);
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
  acquire(SpinLock, "KeAcquireInStackQueuedSpinLockForDpc", caller);
}

// KeReleaseInStackQueuedSpinLockForDpc: releases a lock taken with the ForDpc form.
extern "C" VOID NTAPI KeReleaseInStackQueuedSpinLockForDpc(PKLOCK_QUEUE_HANDLE LockHandle) {
  release(LockHandle->LockQueue.Lock, "KeReleaseInStackQueuedSpinLockForDpc",
          __builtin_return_address(0));
  KeLowerIrql(LockHandle->OldIrql);
}

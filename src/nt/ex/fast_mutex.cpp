// Fast mutexes and guarded mutexes (the same structure since Windows 8).
//
// Count is 1 when free. An acquirer decrements it: reaching 0 means it owns the mutex; going
// below 0 means it waits on the synchronization event, which a releaser that finds waiters
// (Count still below 1 after its increment) signals once, handing ownership to one waiter.
// A fast mutex raises the IRQL to APC_LEVEL while held (restored at release); a guarded mutex
// enters a guarded region instead. The *Unsafe forms do neither. Re-acquiring a mutex the
// thread already holds is a certain deadlock on Windows and a verifier bug check here.
#include <wdm.h>

#include <cstdio>

#include "nt/bugcheck.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/kthread.hpp"
#include "nt/ke/violations.hpp"

using namespace uwsk::nt;

namespace {

PVOID owner_of(PFAST_MUTEX mutex) {
  return __atomic_load_n(&mutex->Owner, __ATOMIC_RELAXED);
}

void initialize(PFAST_MUTEX mutex) {
  __atomic_store_n(&mutex->Count, 1, __ATOMIC_RELAXED);
  __atomic_store_n(&mutex->Owner, nullptr, __ATOMIC_RELAXED);
  mutex->Contention = 0;
  KeInitializeEvent(&mutex->Event, SynchronizationEvent, FALSE);
  mutex->OldIrql = 0;
}

void acquire(PFAST_MUTEX mutex, const char *what, const void *caller) {
  PVOID me = &current_thread()->Tcb;
  if (owner_of(mutex) == me) {
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "%s(%p): the calling thread already owns this mutex (fast and guarded mutexes "
                  "are not recursive: a certain deadlock)",
                  what, static_cast<void *>(mutex));
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::fast_mutex_recursive,
             reinterpret_cast<ULONG_PTR>(mutex), reinterpret_cast<ULONG_PTR>(me),
             reinterpret_cast<ULONG_PTR>(caller));
  }
  if (__atomic_sub_fetch(&mutex->Count, 1, __ATOMIC_ACQUIRE) != 0) {
    __atomic_add_fetch(&mutex->Contention, 1, __ATOMIC_RELAXED);
    KeWaitForSingleObject(&mutex->Event, WrFastMutex, KernelMode, FALSE, nullptr);
  }
  __atomic_store_n(&mutex->Owner, me, __ATOMIC_RELAXED);
}

bool try_acquire(PFAST_MUTEX mutex) {
  LONG expected = 1;
  if (!__atomic_compare_exchange_n(&mutex->Count, &expected, 0, false, __ATOMIC_ACQUIRE,
                                   __ATOMIC_RELAXED)) {
    return false;
  }
  __atomic_store_n(&mutex->Owner, static_cast<PVOID>(&current_thread()->Tcb), __ATOMIC_RELAXED);
  return true;
}

void release(PFAST_MUTEX mutex, const char *what, const void *caller) {
  PVOID me = &current_thread()->Tcb;
  PVOID owner = owner_of(mutex);
  if (owner != me) {
    char reason[160];
    std::snprintf(reason, sizeof reason, "%s(%p): the calling thread does not own this mutex", what,
                  static_cast<void *>(mutex));
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::fast_mutex_not_owner,
             reinterpret_cast<ULONG_PTR>(mutex), reinterpret_cast<ULONG_PTR>(owner),
             reinterpret_cast<ULONG_PTR>(caller));
  }
  __atomic_store_n(&mutex->Owner, nullptr, __ATOMIC_RELAXED);
  if (__atomic_add_fetch(&mutex->Count, 1, __ATOMIC_RELEASE) != 1) {
    KeSetEvent(&mutex->Event, IO_NO_INCREMENT, FALSE);
  }
}

} // namespace

// ExInitializeFastMutex: sets up a free fast mutex.
extern "C" VOID NTAPI ExInitializeFastMutex(PFAST_MUTEX FastMutex) {
  initialize(FastMutex);
}

// Deliberate pair (duplicates): ExAcquireFastMutex and ke/spin_lock.cpp's
// KeAcquireSpinLockRaiseToDpc, each an IRQL check, a raise and an acquire of its own kind of lock.
// ExAcquireFastMutex: raises to APC_LEVEL and acquires the mutex, waiting if it is owned.
extern "C" VOID FASTCALL ExAcquireFastMutex(PFAST_MUTEX FastMutex) {
  const void *caller = __builtin_return_address(0);
  require_irql_at_most(APC_LEVEL, "ExAcquireFastMutex", FastMutex, caller);
  KIRQL old = current_irql();
  set_current_irql(APC_LEVEL);
  acquire(FastMutex, "ExAcquireFastMutex", caller);
  FastMutex->OldIrql = old;
}

// ExReleaseFastMutex: releases the mutex and returns to the IRQL of the acquire.
extern "C" VOID FASTCALL ExReleaseFastMutex(PFAST_MUTEX FastMutex) {
  KIRQL old = static_cast<KIRQL>(FastMutex->OldIrql);
  release(FastMutex, "ExReleaseFastMutex", __builtin_return_address(0));
  KeLowerIrql(old);
}

// ExTryToAcquireFastMutex: acquires the mutex (at APC_LEVEL) if it is free; FALSE otherwise.
extern "C" BOOLEAN FASTCALL ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex) {
  require_irql_at_most(APC_LEVEL, "ExTryToAcquireFastMutex", FastMutex,
                       __builtin_return_address(0));
  KIRQL old = current_irql();
  set_current_irql(APC_LEVEL);
  if (!try_acquire(FastMutex)) {
    set_current_irql(old);
    return FALSE;
  }
  FastMutex->OldIrql = old;
  return TRUE;
}

// ExAcquireFastMutexUnsafe: acquires the mutex without changing the IRQL (the caller is at
// APC_LEVEL or in a critical region).
extern "C" VOID FASTCALL ExAcquireFastMutexUnsafe(PFAST_MUTEX FastMutex) {
  const void *caller = __builtin_return_address(0);
  require_irql_at_most(APC_LEVEL, "ExAcquireFastMutexUnsafe", FastMutex, caller);
  acquire(FastMutex, "ExAcquireFastMutexUnsafe", caller);
}

// ExReleaseFastMutexUnsafe: releases a mutex taken with ExAcquireFastMutexUnsafe.
extern "C" VOID FASTCALL ExReleaseFastMutexUnsafe(PFAST_MUTEX FastMutex) {
  release(FastMutex, "ExReleaseFastMutexUnsafe", __builtin_return_address(0));
}

// KeInitializeGuardedMutex: sets up a free guarded mutex.
extern "C" VOID FASTCALL KeInitializeGuardedMutex(PKGUARDED_MUTEX Mutex) {
  initialize(Mutex);
}

// KeAcquireGuardedMutex: enters a guarded region and acquires the mutex.
extern "C" VOID FASTCALL KeAcquireGuardedMutex(PKGUARDED_MUTEX Mutex) {
  const void *caller = __builtin_return_address(0);
  require_irql_at_most(APC_LEVEL, "KeAcquireGuardedMutex", Mutex, caller);
  KeEnterGuardedRegion();
  acquire(Mutex, "KeAcquireGuardedMutex", caller);
}

// KeReleaseGuardedMutex: releases the mutex and leaves the guarded region.
extern "C" VOID FASTCALL KeReleaseGuardedMutex(PKGUARDED_MUTEX Mutex) {
  release(Mutex, "KeReleaseGuardedMutex", __builtin_return_address(0));
  KeLeaveGuardedRegion();
}

// Deliberate family (duplicates): the Unsafe exports of fast and guarded mutexes, the same acquire
// and release under two WDK names each (and, like KeAcquireSpinLock in spin_lock.cpp, the raise-
// then-acquire shape of every lock export).
// KeTryToAcquireGuardedMutex: acquires the mutex (in a guarded region) if it is free.
extern "C" BOOLEAN FASTCALL KeTryToAcquireGuardedMutex(PKGUARDED_MUTEX Mutex) {
  require_irql_at_most(APC_LEVEL, "KeTryToAcquireGuardedMutex", Mutex, __builtin_return_address(0));
  KeEnterGuardedRegion();
  if (!try_acquire(Mutex)) {
    KeLeaveGuardedRegion();
    return FALSE;
  }
  return TRUE;
}

// KeAcquireGuardedMutexUnsafe: acquires the mutex without entering a guarded region.
extern "C" VOID FASTCALL KeAcquireGuardedMutexUnsafe(PKGUARDED_MUTEX Mutex) {
  const void *caller = __builtin_return_address(0);
  require_irql_at_most(APC_LEVEL, "KeAcquireGuardedMutexUnsafe", Mutex, caller);
  acquire(Mutex, "KeAcquireGuardedMutexUnsafe", caller);
}

// KeReleaseGuardedMutexUnsafe: releases a mutex taken with KeAcquireGuardedMutexUnsafe.
extern "C" VOID FASTCALL KeReleaseGuardedMutexUnsafe(PKGUARDED_MUTEX Mutex) {
  release(Mutex, "KeReleaseGuardedMutexUnsafe", __builtin_return_address(0));
}

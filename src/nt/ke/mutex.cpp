// Kernel mutexes (KMUTEX, a KMUTANT): owned by a thread, recursive, abandoned when the owner
// ends (the next waiter then gets STATUS_ABANDONED_WAIT_0 + index and the ownership).
#include <wdm.h>

#include <cstdio>

#include "nt/bugcheck.hpp"
#include "nt/ke/dispatcher.hpp"
#include "nt/ke/irql.hpp"

using namespace uwsk::nt;

// KeInitializeMutex: sets up a free mutex (Level is accepted and ignored).
extern "C" VOID NTAPI KeInitializeMutex(PRKMUTEX Mutex, ULONG Level) {
  (void)Level;
  init_dispatcher_header(&Mutex->Header, MutantObject, sizeof(KMUTANT), 1);
  Mutex->MutantListEntry.Flink = Mutex->MutantListEntry.Blink = &Mutex->MutantListEntry;
  Mutex->OwnerThread = nullptr;
  Mutex->Abandoned = FALSE;
  Mutex->ApcDisable = 1;
}

// KeReleaseMutex: releases one level of the caller's ownership; the last release frees the
// mutex for the next waiter. Returns the previous state. A thread that does not own the mutex
// bug-checks (THREAD_NOT_MUTEX_OWNER), as on Windows.
extern "C" LONG NTAPI KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait) {
  const void *caller = __builtin_return_address(0);
  require_irql_at_most(Wait ? APC_LEVEL : DISPATCH_LEVEL, "KeReleaseMutex", Mutex, caller);
  _KTHREAD *thread = &current_thread()->Tcb;
  std::unique_lock lock(dispatcher_lock());
  check_dispatcher_object(&Mutex->Header, "KeReleaseMutex", caller);
  if (Mutex->OwnerThread != thread) {
    _KTHREAD *owner = Mutex->OwnerThread;
    lock.unlock();
    char reason[200];
    std::snprintf(
        reason, sizeof reason, "KeReleaseMutex(%p) by thread %p, which does not own it (owner: %p)",
        static_cast<void *>(Mutex), static_cast<void *>(thread), static_cast<void *>(owner));
    bugcheck(THREAD_NOT_MUTEX_OWNER, reason, reinterpret_cast<ULONG_PTR>(thread),
             reinterpret_cast<ULONG_PTR>(Mutex), reinterpret_cast<ULONG_PTR>(owner),
             reinterpret_cast<ULONG_PTR>(caller));
  }
  LONG previous = signal_state(&Mutex->Header);
  set_signal_state(&Mutex->Header, previous + 1);
  if (previous + 1 == 1) {
    list_remove(&Mutex->MutantListEntry);
    Mutex->OwnerThread = nullptr;
    signal_waiters(&Mutex->Header);
  }
  return previous;
}

// KeReadStateMutex: 1 when free, 0 or less while owned (less when held recursively).
extern "C" LONG NTAPI KeReadStateMutex(PRKMUTEX Mutex) {
  return signal_state(&Mutex->Header);
}

// Kernel semaphores: a count between 0 and a limit; each satisfied wait takes one.
//
// Releasing past the limit raises STATUS_SEMAPHORE_LIMIT_EXCEEDED on Windows; a kernel-mode
// exception nobody handles ends in KMODE_EXCEPTION_NOT_HANDLED (0x1E) with that status as
// parameter 1, and that is what uwsk reports (the SEH shims cannot catch it).
#include <wdm.h>

#include <cstdio>

#include "nt/bugcheck.hpp"
#include "nt/ke/dispatcher.hpp"
#include "nt/ke/irql.hpp"

using namespace uwsk::nt;

// KeInitializeSemaphore: sets up a semaphore with an initial count and a maximum.
extern "C" VOID NTAPI KeInitializeSemaphore(PRKSEMAPHORE Semaphore, LONG Count, LONG Limit) {
  init_dispatcher_header(&Semaphore->Header, SemaphoreObject, sizeof(KSEMAPHORE), Count);
  Semaphore->Limit = Limit;
}

// KeReleaseSemaphore: adds Adjustment to the count (satisfying waiters); returns the previous
// count.
extern "C" LONG NTAPI KeReleaseSemaphore(PRKSEMAPHORE Semaphore, KPRIORITY Increment,
                                         LONG Adjustment, BOOLEAN Wait) {
  (void)Increment;
  const void *caller = __builtin_return_address(0);
  require_irql_at_most(Wait ? APC_LEVEL : DISPATCH_LEVEL, "KeReleaseSemaphore", Semaphore, caller);
  std::unique_lock lock(dispatcher_lock());
  check_dispatcher_object(&Semaphore->Header, "KeReleaseSemaphore", caller);
  LONG previous = signal_state(&Semaphore->Header);
  LONG updated = 0;
  if (Adjustment <= 0 || __builtin_add_overflow(previous, Adjustment, &updated) ||
      updated > Semaphore->Limit) {
    LONG limit = Semaphore->Limit;
    lock.unlock();
    char reason[200];
    std::snprintf(reason, sizeof reason,
                  "KeReleaseSemaphore(%p): count %d + adjustment %d exceeds the limit %d "
                  "(STATUS_SEMAPHORE_LIMIT_EXCEEDED raised and not handled)",
                  static_cast<void *>(Semaphore), previous, Adjustment, limit);
    bugcheck(KMODE_EXCEPTION_NOT_HANDLED, reason,
             static_cast<ULONG_PTR>(static_cast<ULONG>(STATUS_SEMAPHORE_LIMIT_EXCEEDED)),
             reinterpret_cast<ULONG_PTR>(caller), reinterpret_cast<ULONG_PTR>(Semaphore),
             static_cast<ULONG_PTR>(Adjustment));
  }
  set_signal_state(&Semaphore->Header, updated);
  if (previous == 0) {
    signal_waiters(&Semaphore->Header);
  }
  return previous;
}

// KeReadStateSemaphore: the current count.
extern "C" LONG NTAPI KeReadStateSemaphore(PRKSEMAPHORE Semaphore) {
  return signal_state(&Semaphore->Header);
}

// Remove locks (km/locks.h).
//
// IoCount starts at 1: that bias stands for the device itself and is dropped by
// IoReleaseRemoveLockAndWait, which also drops the caller's own acquisition and then waits for
// the count to reach 0. Whoever brings it to 0 signals RemoveEvent. An acquisition that finds
// Removed set undoes itself and fails with STATUS_DELETE_PENDING.
#include <wdm.h>

#include <cstdio>

#include "nt/bugcheck.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/violations.hpp"

namespace uwsk::nt {
namespace {

void drop_one(PIO_REMOVE_LOCK lock, const char *what, const void *caller) {
  const LONG left = InterlockedDecrement(&lock->Common.IoCount);
  if (left < 0) {
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "%s(%p): the remove lock was released more often than it was acquired", what,
                  static_cast<void *>(lock));
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::remove_lock_underflow,
             reinterpret_cast<ULONG_PTR>(lock), 0, reinterpret_cast<ULONG_PTR>(caller));
  }
  if (left == 0) {
    KeSetEvent(&lock->Common.RemoveEvent, IO_NO_INCREMENT, FALSE);
  }
}

} // namespace
} // namespace uwsk::nt

// Deliberate pair (duplicates): the end of the internal namespace and the first export, alike
// in shape only to ke/wait.cpp's.
using namespace uwsk::nt;

// IoInitializeRemoveLockEx (behind IoInitializeRemoveLock): a lock with no I/O outstanding.
// The tag, time limit and high watermark serve checked builds of Windows and are not kept.
extern "C" VOID NTAPI IoInitializeRemoveLockEx(PIO_REMOVE_LOCK Lock, ULONG AllocateTag,
                                               ULONG MaxLockedMinutes, ULONG HighWatermark,
                                               ULONG RemlockSize) {
  (void)AllocateTag;
  (void)MaxLockedMinutes;
  (void)HighWatermark;
  (void)RemlockSize;
  Lock->Common.Removed = FALSE;
  Lock->Common.Reserved[0] = Lock->Common.Reserved[1] = Lock->Common.Reserved[2] = 0;
  Lock->Common.IoCount = 1;
  KeInitializeEvent(&Lock->Common.RemoveEvent, NotificationEvent, FALSE);
}

// IoAcquireRemoveLockEx (behind IoAcquireRemoveLock): counts one more I/O, or fails with
// STATUS_DELETE_PENDING once removal has begun.
extern "C" NTSTATUS NTAPI IoAcquireRemoveLockEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, PCSTR File,
                                                ULONG Line, ULONG RemlockSize) {
  (void)Tag;
  (void)File;
  (void)Line;
  (void)RemlockSize;
  require_irql_at_most(DISPATCH_LEVEL, "IoAcquireRemoveLock", RemoveLock,
                       __builtin_return_address(0));
  InterlockedIncrement(&RemoveLock->Common.IoCount);
  if (__atomic_load_n(&RemoveLock->Common.Removed, __ATOMIC_ACQUIRE)) {
    drop_one(RemoveLock, "IoAcquireRemoveLock", __builtin_return_address(0));
    return STATUS_DELETE_PENDING;
  }
  return STATUS_SUCCESS;
}

// IoReleaseRemoveLockEx (behind IoReleaseRemoveLock): one I/O fewer.
extern "C" VOID NTAPI IoReleaseRemoveLockEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag,
                                            ULONG RemlockSize) {
  (void)Tag;
  (void)RemlockSize;
  require_irql_at_most(DISPATCH_LEVEL, "IoReleaseRemoveLock", RemoveLock,
                       __builtin_return_address(0));
  drop_one(RemoveLock, "IoReleaseRemoveLock", __builtin_return_address(0));
}

// IoReleaseRemoveLockAndWaitEx (behind IoReleaseRemoveLockAndWait): the caller, holding the
// lock once, starts removal and waits until every other holder has released it.
extern "C" VOID NTAPI IoReleaseRemoveLockAndWaitEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag,
                                                   ULONG RemlockSize) {
  (void)Tag;
  (void)RemlockSize;
  const void *caller = __builtin_return_address(0);
  require_irql_at_most(PASSIVE_LEVEL, "IoReleaseRemoveLockAndWait", RemoveLock, caller);
  __atomic_store_n(&RemoveLock->Common.Removed, TRUE, __ATOMIC_RELEASE);
  drop_one(RemoveLock, "IoReleaseRemoveLockAndWait", caller); // the caller's acquisition
  drop_one(RemoveLock, "IoReleaseRemoveLockAndWait", caller); // the initial bias
  KeWaitForSingleObject(&RemoveLock->Common.RemoveEvent, Executive, KernelMode, FALSE, nullptr);
}

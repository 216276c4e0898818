/*
 * km/ex.h - uwsk: executive synchronisation (fast and guarded mutexes, ERESOURCE, rundown
 * protection, reader/writer spin locks), spin-lock protected lists and executive work items.
 *
 * Pool allocation and lookaside lists are in km/pool.h.
 */
#ifndef UWSK_WDK_KM_EX_H
#define UWSK_WDK_KM_EX_H

#include "../ntdef.h"
#include "types.h"
#include "ke.h"
#include "ps.h"

/* ---- Fast mutexes and guarded mutexes -------------------------------------------------------- */

/* Count is 1 when free; each would-be owner decrements it and waits on Event when it did not
 * reach 0. Owner is the owning KTHREAD; OldIrql is the IRQL to restore at release. Since
 * Windows 8 a guarded mutex is the same structure. */
typedef struct _FAST_MUTEX {
  volatile LONG Count;
  PVOID Owner;
  ULONG Contention;
  KEVENT Event;
  ULONG OldIrql;
} FAST_MUTEX, *PFAST_MUTEX, KGUARDED_MUTEX, *PKGUARDED_MUTEX;
UWSK_STATIC_ASSERT(sizeof(FAST_MUTEX) == 0x38, "FAST_MUTEX is 0x38 bytes on x64");

/* ---- Executive resources (reader/writer locks with recursion) -------------------------------- */

typedef ULONG_PTR ERESOURCE_THREAD, *PERESOURCE_THREAD;

typedef struct _OWNER_ENTRY {
  ERESOURCE_THREAD OwnerThread;
  union {
    struct {
      ULONG IoPriorityBoosted : 1;
      ULONG OwnerReferenced : 1;
      ULONG IoQoSPriorityBoosted : 1;
      ULONG OwnerCount : 29;
    };
    ULONG TableSize;
  };
} OWNER_ENTRY, *POWNER_ENTRY;

/* The runtime keeps the owner table and the wait queues of an initialised resource in a block
 * it allocates in ExInitializeResourceLite and frees in ExDeleteResourceLite (Windows also
 * allocates the owner table from pool). OwnerTable points to that block; the counters are kept
 * up to date for debuggers and for code that reads them. */
typedef struct _ERESOURCE {
  LIST_ENTRY SystemResourcesList;
  POWNER_ENTRY OwnerTable;
  SHORT ActiveCount;
  union {
    USHORT Flag;
    struct {
      UCHAR ReservedLowFlags;
      UCHAR WaiterPriority;
    };
  };
  PKSEMAPHORE SharedWaiters;
  PKEVENT ExclusiveWaiters;
  OWNER_ENTRY OwnerEntry;
  ULONG ActiveEntries;
  ULONG ContentionCount;
  ULONG NumberOfSharedWaiters;
  ULONG NumberOfExclusiveWaiters;
  PVOID Reserved2;
  union {
    PVOID Address;
    ULONG_PTR CreatorBackTraceIndex;
  };
  KSPIN_LOCK SpinLock;
} ERESOURCE, *PERESOURCE;
UWSK_STATIC_ASSERT(sizeof(ERESOURCE) == 0x68, "ERESOURCE is 0x68 bytes on x64");

#define ResourceNeverExclusive 0x0010
#define ResourceReleaseByOtherThread 0x0020
#define ResourceOwnedExclusive 0x0080

/* ---- Rundown protection ---------------------------------------------------------------------- */

/* Count holds the number of references times 2; bit 0 (EX_RUNDOWN_ACTIVE) is set once a rundown
 * has started, and then the rest of the value points to the waiter's block. */
typedef struct _EX_RUNDOWN_REF {
  union {
    volatile ULONG_PTR Count;
    volatile PVOID Ptr;
  };
} EX_RUNDOWN_REF, *PEX_RUNDOWN_REF;

#define EX_RUNDOWN_ACTIVE 0x1
#define EX_RUNDOWN_COUNT_SHIFT 0x1
#define EX_RUNDOWN_COUNT_INC (1 << EX_RUNDOWN_COUNT_SHIFT)

/* ---- Reader/writer spin locks ---------------------------------------------------------------- */

typedef volatile LONG EX_SPIN_LOCK, *PEX_SPIN_LOCK;

/* ---- Work items ------------------------------------------------------------------------------ */

typedef enum _WORK_QUEUE_TYPE {
  CriticalWorkQueue,
  DelayedWorkQueue,
  HyperCriticalWorkQueue,
  NormalWorkQueue,
  BackgroundWorkQueue,
  RealTimeWorkQueue,
  SuperCriticalWorkQueue,
  MaximumWorkQueue,
  CustomPriorityWorkQueue = 32
} WORK_QUEUE_TYPE;

typedef VOID NTAPI WORKER_THREAD_ROUTINE(PVOID Parameter);
typedef WORKER_THREAD_ROUTINE *PWORKER_THREAD_ROUTINE;

/* List links the item into the runtime's queue while it is queued (no allocation per item). */
typedef struct _WORK_QUEUE_ITEM {
  LIST_ENTRY List;
  PWORKER_THREAD_ROUTINE WorkerRoutine;
  volatile PVOID Parameter;
} WORK_QUEUE_ITEM, *PWORK_QUEUE_ITEM;

#define ExInitializeWorkItem(Item, Routine, Context)                                               \
  do {                                                                                             \
    (Item)->WorkerRoutine = (Routine);                                                             \
    (Item)->Parameter = (Context);                                                                 \
    (Item)->List.Flink = NULL;                                                                     \
  } while (0)

UWSK_BEGIN_DECLS

/* ---- Fast mutexes ---------------------------------------------------------------------------- */

NTKERNELAPI VOID NTAPI ExInitializeFastMutex(PFAST_MUTEX FastMutex);
NTKERNELAPI VOID FASTCALL ExAcquireFastMutex(PFAST_MUTEX FastMutex);
NTKERNELAPI VOID FASTCALL ExReleaseFastMutex(PFAST_MUTEX FastMutex);
NTKERNELAPI BOOLEAN FASTCALL ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex);
NTKERNELAPI VOID FASTCALL ExAcquireFastMutexUnsafe(PFAST_MUTEX FastMutex);
NTKERNELAPI VOID FASTCALL ExReleaseFastMutexUnsafe(PFAST_MUTEX FastMutex);

/* ---- Guarded mutexes ------------------------------------------------------------------------- */

NTKERNELAPI VOID FASTCALL KeInitializeGuardedMutex(PKGUARDED_MUTEX Mutex);
NTKERNELAPI VOID FASTCALL KeAcquireGuardedMutex(PKGUARDED_MUTEX Mutex);
NTKERNELAPI VOID FASTCALL KeReleaseGuardedMutex(PKGUARDED_MUTEX Mutex);
NTKERNELAPI BOOLEAN FASTCALL KeTryToAcquireGuardedMutex(PKGUARDED_MUTEX Mutex);
NTKERNELAPI VOID FASTCALL KeAcquireGuardedMutexUnsafe(PKGUARDED_MUTEX Mutex);
NTKERNELAPI VOID FASTCALL KeReleaseGuardedMutexUnsafe(PKGUARDED_MUTEX Mutex);

/* ---- Executive resources --------------------------------------------------------------------- */

#define ExGetCurrentResourceThread() ((ERESOURCE_THREAD)PsGetCurrentThread())

NTKERNELAPI NTSTATUS NTAPI ExInitializeResourceLite(PERESOURCE Resource);
NTKERNELAPI NTSTATUS NTAPI ExReinitializeResourceLite(PERESOURCE Resource);
NTKERNELAPI NTSTATUS NTAPI ExDeleteResourceLite(PERESOURCE Resource);
NTKERNELAPI BOOLEAN NTAPI ExAcquireResourceExclusiveLite(PERESOURCE Resource, BOOLEAN Wait);
NTKERNELAPI BOOLEAN NTAPI ExAcquireResourceSharedLite(PERESOURCE Resource, BOOLEAN Wait);
NTKERNELAPI BOOLEAN NTAPI ExAcquireSharedStarveExclusive(PERESOURCE Resource, BOOLEAN Wait);
NTKERNELAPI BOOLEAN NTAPI ExAcquireSharedWaitForExclusive(PERESOURCE Resource, BOOLEAN Wait);
NTKERNELAPI VOID FASTCALL ExReleaseResourceLite(PERESOURCE Resource);
NTKERNELAPI VOID NTAPI ExReleaseResourceForThreadLite(PERESOURCE Resource,
                                                      ERESOURCE_THREAD ResourceThreadId);
NTKERNELAPI BOOLEAN NTAPI ExIsResourceAcquiredExclusiveLite(PERESOURCE Resource);
NTKERNELAPI ULONG NTAPI ExIsResourceAcquiredSharedLite(PERESOURCE Resource);
NTKERNELAPI ULONG NTAPI ExGetExclusiveWaiterCount(PERESOURCE Resource);
NTKERNELAPI ULONG NTAPI ExGetSharedWaiterCount(PERESOURCE Resource);
NTKERNELAPI VOID NTAPI ExConvertExclusiveToSharedLite(PERESOURCE Resource);
NTKERNELAPI PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceExclusive(PERESOURCE Resource);
NTKERNELAPI PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceShared(PERESOURCE Resource);
NTKERNELAPI PVOID NTAPI ExEnterCriticalRegionAndAcquireSharedWaitForExclusive(PERESOURCE Resource);
NTKERNELAPI VOID FASTCALL ExReleaseResourceAndLeaveCriticalRegion(PERESOURCE Resource);
#define ExAcquireResourceExclusive ExAcquireResourceExclusiveLite
#define ExAcquireResourceShared ExAcquireResourceSharedLite
#define ExReleaseResource ExReleaseResourceLite
#define ExReleaseResourceForThread ExReleaseResourceForThreadLite
#define ExIsResourceAcquiredExclusive ExIsResourceAcquiredExclusiveLite
#define ExIsResourceAcquiredShared ExIsResourceAcquiredSharedLite

/* ---- Rundown protection ---------------------------------------------------------------------- */

NTKERNELAPI VOID FASTCALL ExInitializeRundownProtection(PEX_RUNDOWN_REF RunRef);
NTKERNELAPI VOID FASTCALL ExReInitializeRundownProtection(PEX_RUNDOWN_REF RunRef);
NTKERNELAPI BOOLEAN FASTCALL ExAcquireRundownProtection(PEX_RUNDOWN_REF RunRef);
NTKERNELAPI BOOLEAN FASTCALL ExAcquireRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count);
NTKERNELAPI VOID FASTCALL ExReleaseRundownProtection(PEX_RUNDOWN_REF RunRef);
NTKERNELAPI VOID FASTCALL ExReleaseRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count);
NTKERNELAPI VOID FASTCALL ExWaitForRundownProtectionRelease(PEX_RUNDOWN_REF RunRef);
NTKERNELAPI VOID FASTCALL ExRundownCompleted(PEX_RUNDOWN_REF RunRef);

/* ---- Reader/writer spin locks ---------------------------------------------------------------- */

NTKERNELAPI KIRQL NTAPI ExAcquireSpinLockExclusive(PEX_SPIN_LOCK SpinLock);
NTKERNELAPI KIRQL NTAPI ExAcquireSpinLockShared(PEX_SPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI ExReleaseSpinLockExclusive(PEX_SPIN_LOCK SpinLock, KIRQL OldIrql);
NTKERNELAPI VOID NTAPI ExReleaseSpinLockShared(PEX_SPIN_LOCK SpinLock, KIRQL OldIrql);
NTKERNELAPI VOID NTAPI ExAcquireSpinLockExclusiveAtDpcLevel(PEX_SPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI ExAcquireSpinLockSharedAtDpcLevel(PEX_SPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI ExReleaseSpinLockExclusiveFromDpcLevel(PEX_SPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI ExReleaseSpinLockSharedFromDpcLevel(PEX_SPIN_LOCK SpinLock);
NTKERNELAPI LOGICAL NTAPI ExTryConvertSharedSpinLockExclusive(PEX_SPIN_LOCK SpinLock);
NTKERNELAPI BOOLEAN NTAPI ExTryAcquireSpinLockSharedAtDpcLevel(PEX_SPIN_LOCK SpinLock);
NTKERNELAPI BOOLEAN NTAPI ExTryAcquireSpinLockExclusiveAtDpcLevel(PEX_SPIN_LOCK SpinLock);

/* ---- Spin-lock protected lists --------------------------------------------------------------- */

NTKERNELAPI PLIST_ENTRY NTAPI ExInterlockedInsertHeadList(PLIST_ENTRY ListHead,
                                                          PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock);
NTKERNELAPI PLIST_ENTRY NTAPI ExInterlockedInsertTailList(PLIST_ENTRY ListHead,
                                                          PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock);
NTKERNELAPI PLIST_ENTRY NTAPI ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock);
NTKERNELAPI PSINGLE_LIST_ENTRY NTAPI ExInterlockedPushEntryList(PSINGLE_LIST_ENTRY ListHead,
                                                                PSINGLE_LIST_ENTRY ListEntry,
                                                                PKSPIN_LOCK Lock);
NTKERNELAPI PSINGLE_LIST_ENTRY NTAPI ExInterlockedPopEntryList(PSINGLE_LIST_ENTRY ListHead,
                                                               PKSPIN_LOCK Lock);
NTKERNELAPI ULONG NTAPI ExInterlockedAddUlong(PULONG Addend, ULONG Increment, PKSPIN_LOCK Lock);
NTKERNELAPI LARGE_INTEGER NTAPI ExInterlockedAddLargeInteger(PLARGE_INTEGER Addend,
                                                             LARGE_INTEGER Increment,
                                                             PKSPIN_LOCK Lock);
#define ExInterlockedAddLargeStatistic(Addend, Increment)                                          \
  ((VOID)InterlockedAdd64(&(Addend)->QuadPart, (LONG64)(Increment)))

/* ---- Work items ------------------------------------------------------------------------------ */

/* Runs WorkItem->WorkerRoutine(WorkItem->Parameter) at PASSIVE_LEVEL on a runtime worker
 * thread. Every queue type shares one small pool of workers. */
NTKERNELAPI VOID NTAPI ExQueueWorkItem(PWORK_QUEUE_ITEM WorkItem, WORK_QUEUE_TYPE QueueType);

UWSK_END_DECLS

#endif /* UWSK_WDK_KM_EX_H */

/*
 * km/ke.h - uwsk: the kernel core (Ke): dispatcher objects, waits, IRQL, spin locks, timers,
 * DPCs, interlocked operations, SLISTs, time and processors.
 *
 * Dispatcher objects (events, mutexes, semaphores, timers) live in driver memory, are set up by
 * KeInitializeXxx and never destroyed, exactly as on Windows: the runtime keeps no per-object
 * allocation. Waiting threads link wait blocks into the object's WaitListHead under one runtime
 * lock, the way the Windows dispatcher does it. IRQL is simulated per thread.
 */
#ifndef UWSK_WDK_KM_KE_H
#define UWSK_WDK_KM_KE_H

#include "../ntdef.h"
#include "types.h"

#ifndef SYNCH_LEVEL
#define SYNCH_LEVEL 12
#endif

/* ---- Dispatcher objects ---------------------------------------------------------------------- */

/* Values of DISPATCHER_HEADER.Type (and of the Type byte of KAPC, KDPC). */
typedef enum _KOBJECTS {
  EventNotificationObject = 0,
  EventSynchronizationObject = 1,
  MutantObject = 2,
  ProcessObject = 3,
  QueueObject = 4,
  SemaphoreObject = 5,
  ThreadObject = 6,
  GateObject = 7,
  TimerNotificationObject = 8,
  TimerSynchronizationObject = 9,
  Spare2Object = 10,
  Spare3Object = 11,
  Spare4Object = 12,
  Spare5Object = 13,
  Spare6Object = 14,
  Spare7Object = 15,
  Spare8Object = 16,
  ProfileCallbackObject = 17,
  ApcObject = 18,
  DpcObject = 19,
  DeviceQueueObject = 20,
  PriQueueObject = 21,
  InterruptObject = 22,
  ProfileObject = 23,
  Timer2NotificationObject = 24,
  Timer2SynchronizationObject = 25,
  ThreadedDpcObject = 26,
  MaximumKernelObject = 27
} KOBJECTS;

/* The common head of every waitable object. SignalState > 0 means signalled (for a mutex: 1 is
 * free, 0 or less is owned, recursively when negative). WaitListHead links the KWAIT_BLOCKs of
 * the threads waiting on the object; it is only changed under the runtime's dispatcher lock.
 * For an event, the runtime keeps a flag in Reserved1 and changes the first 8 bytes as one
 * atomic word (its dispatcher.hpp); drivers read Type, Size and SignalState as usual. */
typedef struct _DISPATCHER_HEADER {
  union {
    struct {
      UCHAR Type;
      UCHAR Signalling;
      UCHAR Size;
      UCHAR Reserved1;
    };
    volatile LONG Lock;
  };
  LONG SignalState;
  LIST_ENTRY WaitListHead;
} DISPATCHER_HEADER, *PDISPATCHER_HEADER;
UWSK_STATIC_ASSERT(sizeof(DISPATCHER_HEADER) == 24, "DISPATCHER_HEADER is 24 bytes on x64");

struct _KEVENT {
  DISPATCHER_HEADER Header;
};
UWSK_STATIC_ASSERT(sizeof(KEVENT) == 24, "KEVENT is 24 bytes on x64");

typedef struct _KMUTANT {
  DISPATCHER_HEADER Header;
  LIST_ENTRY MutantListEntry; /* on the owning thread's list of owned mutexes */
  struct _KTHREAD *OwnerThread;
  BOOLEAN Abandoned;
  UCHAR ApcDisable;
} KMUTANT, *PKMUTANT, *PRKMUTANT, KMUTEX, *PKMUTEX, *PRKMUTEX;
UWSK_STATIC_ASSERT(sizeof(KMUTANT) == 0x38, "KMUTANT is 0x38 bytes on x64");

typedef struct _KSEMAPHORE {
  DISPATCHER_HEADER Header;
  LONG Limit;
} KSEMAPHORE, *PKSEMAPHORE, *PRKSEMAPHORE;
UWSK_STATIC_ASSERT(sizeof(KSEMAPHORE) == 32, "KSEMAPHORE is 32 bytes on x64");

/* A gate is a synchronization event without a wait-any/wait-all API of its own. */
typedef struct _KGATE {
  DISPATCHER_HEADER Header;
} KGATE, *PKGATE;

/* ---- DPCs ------------------------------------------------------------------------------------ */

typedef VOID NTAPI KDEFERRED_ROUTINE(struct _KDPC *Dpc, PVOID DeferredContext,
                                     PVOID SystemArgument1, PVOID SystemArgument2);
typedef KDEFERRED_ROUTINE *PKDEFERRED_ROUTINE;

typedef enum _KDPC_IMPORTANCE {
  LowImportance,
  MediumImportance,
  HighImportance,
  MediumHighImportance
} KDPC_IMPORTANCE;

/* DpcData is non-NULL while the DPC is queued (the runtime's queue owns it then). */
struct _KDPC {
  union {
    ULONG TargetInfoAsUlong;
    struct {
      UCHAR Type;
      UCHAR Importance;
      volatile USHORT Number;
    };
  };
  SINGLE_LIST_ENTRY DpcListEntry;
  KAFFINITY ProcessorHistory;
  PKDEFERRED_ROUTINE DeferredRoutine;
  PVOID DeferredContext;
  PVOID SystemArgument1;
  PVOID SystemArgument2;
  volatile PVOID DpcData;
};
UWSK_STATIC_ASSERT(sizeof(KDPC) == 0x40, "KDPC is 0x40 bytes on x64");

/* ---- Timers ---------------------------------------------------------------------------------- */

/* DueTime is the expiry in interrupt time (100 ns units of the monotonic clock). TimerListEntry
 * links the timer into the runtime's ordered timer list while it is set (Flink is NULL when it
 * is not set). Period is in milliseconds, 0 for a one-shot timer. */
typedef struct _KTIMER {
  DISPATCHER_HEADER Header;
  ULARGE_INTEGER DueTime;
  LIST_ENTRY TimerListEntry;
  struct _KDPC *Dpc;
  ULONG Processor;
  LONG Period;
} KTIMER, *PKTIMER, *PRKTIMER;
UWSK_STATIC_ASSERT(sizeof(KTIMER) == 0x40, "KTIMER is 0x40 bytes on x64");

/* ---- Objects the I/O manager embeds ---------------------------------------------------------- */

typedef struct _KDEVICE_QUEUE_ENTRY {
  LIST_ENTRY DeviceListEntry;
  ULONG SortKey;
  BOOLEAN Inserted;
} KDEVICE_QUEUE_ENTRY, *PKDEVICE_QUEUE_ENTRY, *PRKDEVICE_QUEUE_ENTRY;
UWSK_STATIC_ASSERT(sizeof(KDEVICE_QUEUE_ENTRY) == 24, "KDEVICE_QUEUE_ENTRY is 24 bytes on x64");

typedef struct _KDEVICE_QUEUE {
  CSHORT Type;
  CSHORT Size;
  LIST_ENTRY DeviceListHead;
  KSPIN_LOCK Lock;
  BOOLEAN Busy;
} KDEVICE_QUEUE, *PKDEVICE_QUEUE, *PRKDEVICE_QUEUE;

/* APCs are not delivered by uwsk; the structure exists because the IRP embeds one. */
typedef struct _KAPC {
  UCHAR Type;
  UCHAR SpareByte0;
  UCHAR Size;
  UCHAR SpareByte1;
  ULONG SpareLong0;
  struct _KTHREAD *Thread;
  LIST_ENTRY ApcListEntry;
  PVOID Reserved[3];
  PVOID NormalContext;
  PVOID SystemArgument1;
  PVOID SystemArgument2;
  CCHAR ApcStateIndex;
  KPROCESSOR_MODE ApcMode;
  BOOLEAN Inserted;
} KAPC, *PKAPC, *PRKAPC;
UWSK_STATIC_ASSERT(sizeof(KAPC) == 0x58, "KAPC is 0x58 bytes on x64");

/* ---- Waits ----------------------------------------------------------------------------------- */

#define THREAD_WAIT_OBJECTS 3
#define MAXIMUM_WAIT_OBJECTS 64

/* One thread's wait on one object, linked into the object's WaitListHead. */
typedef struct _KWAIT_BLOCK {
  LIST_ENTRY WaitListEntry;
  UCHAR WaitType;
  volatile UCHAR BlockState;
  USHORT WaitKey;
  LONG SpareLong;
  struct _KTHREAD *Thread;
  PVOID Object;
  PVOID SparePtr;
} KWAIT_BLOCK, *PKWAIT_BLOCK, *PRKWAIT_BLOCK;
UWSK_STATIC_ASSERT(sizeof(KWAIT_BLOCK) == 0x30, "KWAIT_BLOCK is 0x30 bytes on x64");

/* ---- Spin locks ------------------------------------------------------------------------------ */

typedef struct _KSPIN_LOCK_QUEUE {
  struct _KSPIN_LOCK_QUEUE *volatile Next;
  PKSPIN_LOCK volatile Lock;
} KSPIN_LOCK_QUEUE, *PKSPIN_LOCK_QUEUE;

typedef struct _KLOCK_QUEUE_HANDLE {
  KSPIN_LOCK_QUEUE LockQueue;
  KIRQL OldIrql;
} KLOCK_QUEUE_HANDLE, *PKLOCK_QUEUE_HANDLE;

/* ---- Floating point (always usable in user space) -------------------------------------------- */

typedef struct _KFLOATING_SAVE {
  ULONG Dummy;
} KFLOATING_SAVE, *PKFLOATING_SAVE;

#define ALL_PROCESSOR_GROUPS 0xffff

UWSK_BEGIN_DECLS

/* ---- IRQL ------------------------------------------------------------------------------------ */

NTKERNELAPI KIRQL NTAPI KeGetCurrentIrql(VOID);
/* KeRaiseIrql is a function here (the WDK makes it a macro over KfRaiseIrql; the call is the
 * same). KfRaiseIrql returns the previous IRQL. */
NTKERNELAPI VOID NTAPI KeRaiseIrql(KIRQL NewIrql, PKIRQL OldIrql);
NTKERNELAPI KIRQL NTAPI KfRaiseIrql(KIRQL NewIrql);
NTKERNELAPI VOID NTAPI KeLowerIrql(KIRQL NewIrql);
NTKERNELAPI KIRQL NTAPI KeRaiseIrqlToDpcLevel(VOID);
NTKERNELAPI KIRQL NTAPI KeRaiseIrqlToSynchLevel(VOID);

/* Critical and guarded regions: counted per thread. No APCs are ever delivered by uwsk, so they
 * only matter to the checks that require them. */
NTKERNELAPI VOID NTAPI KeEnterCriticalRegion(VOID);
NTKERNELAPI VOID NTAPI KeLeaveCriticalRegion(VOID);
NTKERNELAPI VOID NTAPI KeEnterGuardedRegion(VOID);
NTKERNELAPI VOID NTAPI KeLeaveGuardedRegion(VOID);
NTKERNELAPI BOOLEAN NTAPI KeAreApcsDisabled(VOID);
NTKERNELAPI BOOLEAN NTAPI KeAreAllApcsDisabled(VOID);

/* ---- Spin locks ------------------------------------------------------------------------------ */

NTKERNELAPI VOID NTAPI KeInitializeSpinLock(PKSPIN_LOCK SpinLock);
NTKERNELAPI KIRQL NTAPI KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock);
#define KeAcquireSpinLock(SpinLock, OldIrql) (*(OldIrql) = KeAcquireSpinLockRaiseToDpc(SpinLock))
NTKERNELAPI VOID NTAPI KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql);
NTKERNELAPI VOID NTAPI KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock);
NTKERNELAPI BOOLEAN NTAPI KeTryToAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock);
NTKERNELAPI BOOLEAN NTAPI KeTestSpinLock(PKSPIN_LOCK SpinLock);
NTKERNELAPI KIRQL NTAPI KeAcquireSpinLockForDpc(PKSPIN_LOCK SpinLock);
NTKERNELAPI VOID NTAPI KeReleaseSpinLockForDpc(PKSPIN_LOCK SpinLock, KIRQL OldIrql);
NTKERNELAPI VOID NTAPI KeAcquireInStackQueuedSpinLock(PKSPIN_LOCK SpinLock,
                                                      PKLOCK_QUEUE_HANDLE LockHandle);
NTKERNELAPI VOID NTAPI KeReleaseInStackQueuedSpinLock(PKLOCK_QUEUE_HANDLE LockHandle);
NTKERNELAPI VOID NTAPI KeAcquireInStackQueuedSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock,
                                                                PKLOCK_QUEUE_HANDLE LockHandle);
NTKERNELAPI VOID NTAPI KeReleaseInStackQueuedSpinLockFromDpcLevel(PKLOCK_QUEUE_HANDLE LockHandle);
NTKERNELAPI VOID NTAPI KeAcquireInStackQueuedSpinLockForDpc(PKSPIN_LOCK SpinLock,
                                                            PKLOCK_QUEUE_HANDLE LockHandle);
NTKERNELAPI VOID NTAPI KeReleaseInStackQueuedSpinLockForDpc(PKLOCK_QUEUE_HANDLE LockHandle);

/* ---- Events ---------------------------------------------------------------------------------- */

NTKERNELAPI VOID NTAPI KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State);
NTKERNELAPI LONG NTAPI KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait);
NTKERNELAPI LONG NTAPI KeResetEvent(PRKEVENT Event);
NTKERNELAPI VOID NTAPI KeClearEvent(PRKEVENT Event);
NTKERNELAPI LONG NTAPI KeReadStateEvent(PRKEVENT Event);
NTKERNELAPI LONG NTAPI KePulseEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait);

/* ---- Mutexes --------------------------------------------------------------------------------- */

NTKERNELAPI VOID NTAPI KeInitializeMutex(PRKMUTEX Mutex, ULONG Level);
NTKERNELAPI LONG NTAPI KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait);
NTKERNELAPI LONG NTAPI KeReadStateMutex(PRKMUTEX Mutex);

/* ---- Semaphores ------------------------------------------------------------------------------ */

NTKERNELAPI VOID NTAPI KeInitializeSemaphore(PRKSEMAPHORE Semaphore, LONG Count, LONG Limit);
NTKERNELAPI LONG NTAPI KeReleaseSemaphore(PRKSEMAPHORE Semaphore, KPRIORITY Increment,
                                          LONG Adjustment, BOOLEAN Wait);
NTKERNELAPI LONG NTAPI KeReadStateSemaphore(PRKSEMAPHORE Semaphore);

/* ---- Waits ----------------------------------------------------------------------------------- */

NTKERNELAPI NTSTATUS NTAPI KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason,
                                                 KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                                 PLARGE_INTEGER Timeout);
NTKERNELAPI NTSTATUS NTAPI KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType,
                                                    KWAIT_REASON WaitReason,
                                                    KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                                    PLARGE_INTEGER Timeout,
                                                    PKWAIT_BLOCK WaitBlockArray);
#define KeWaitForMutexObject KeWaitForSingleObject
NTKERNELAPI NTSTATUS NTAPI KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                                  PLARGE_INTEGER Interval);
NTKERNELAPI VOID NTAPI KeStallExecutionProcessor(ULONG MicroSeconds);

/* ---- Timers and DPCs ------------------------------------------------------------------------- */

NTKERNELAPI VOID NTAPI KeInitializeTimer(PKTIMER Timer);
NTKERNELAPI VOID NTAPI KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type);
NTKERNELAPI BOOLEAN NTAPI KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc);
NTKERNELAPI BOOLEAN NTAPI KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period,
                                       PKDPC Dpc);
NTKERNELAPI BOOLEAN NTAPI KeSetCoalescableTimer(PKTIMER Timer, LARGE_INTEGER DueTime, ULONG Period,
                                                ULONG TolerableDelay, PKDPC Dpc);
NTKERNELAPI BOOLEAN NTAPI KeCancelTimer(PKTIMER Timer);
NTKERNELAPI BOOLEAN NTAPI KeReadStateTimer(PKTIMER Timer);

NTKERNELAPI VOID NTAPI KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine,
                                       PVOID DeferredContext);
NTKERNELAPI VOID NTAPI KeInitializeThreadedDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine,
                                               PVOID DeferredContext);
NTKERNELAPI BOOLEAN NTAPI KeInsertQueueDpc(PRKDPC Dpc, PVOID SystemArgument1,
                                           PVOID SystemArgument2);
NTKERNELAPI BOOLEAN NTAPI KeRemoveQueueDpc(PRKDPC Dpc);
NTKERNELAPI VOID NTAPI KeFlushQueuedDpcs(VOID);
NTKERNELAPI VOID NTAPI KeSetImportanceDpc(PRKDPC Dpc, KDPC_IMPORTANCE Importance);
NTKERNELAPI VOID NTAPI KeSetTargetProcessorDpc(PRKDPC Dpc, CCHAR Number);

/* ---- Device queues --------------------------------------------------------------------------- */

NTKERNELAPI VOID NTAPI KeInitializeDeviceQueue(PKDEVICE_QUEUE DeviceQueue);
NTKERNELAPI BOOLEAN NTAPI KeInsertDeviceQueue(PKDEVICE_QUEUE DeviceQueue,
                                              PKDEVICE_QUEUE_ENTRY DeviceQueueEntry);
NTKERNELAPI BOOLEAN NTAPI KeInsertByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue,
                                                   PKDEVICE_QUEUE_ENTRY DeviceQueueEntry,
                                                   ULONG SortKey);
NTKERNELAPI PKDEVICE_QUEUE_ENTRY NTAPI KeRemoveDeviceQueue(PKDEVICE_QUEUE DeviceQueue);
NTKERNELAPI PKDEVICE_QUEUE_ENTRY NTAPI KeRemoveByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue,
                                                                ULONG SortKey);
NTKERNELAPI BOOLEAN NTAPI KeRemoveEntryDeviceQueue(PKDEVICE_QUEUE DeviceQueue,
                                                   PKDEVICE_QUEUE_ENTRY DeviceQueueEntry);

/* ---- Time ------------------------------------------------------------------------------------ */

/* System time: 100 ns units since 1601-01-01 UTC. Interrupt time: 100 ns units of a monotonic
 * clock. Tick count: interrupt time divided by KeQueryTimeIncrement() (15.625 ms). */
NTKERNELAPI VOID NTAPI KeQuerySystemTime(PLARGE_INTEGER CurrentTime);
NTKERNELAPI VOID NTAPI KeQuerySystemTimePrecise(PLARGE_INTEGER CurrentTime);
NTKERNELAPI VOID NTAPI KeQueryTickCount(PLARGE_INTEGER CurrentCount);
NTKERNELAPI ULONG NTAPI KeQueryTimeIncrement(VOID);
NTKERNELAPI ULONGLONG NTAPI KeQueryInterruptTime(VOID);
NTKERNELAPI ULONGLONG NTAPI KeQueryInterruptTimePrecise(PULONG64 QpcTimeStamp);
NTKERNELAPI ULONGLONG NTAPI KeQueryUnbiasedInterruptTime(VOID);
NTKERNELAPI ULONGLONG NTAPI KeQueryUnbiasedInterruptTimePrecise(PULONG64 QpcTimeStamp);
NTKERNELAPI LARGE_INTEGER NTAPI KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency);

/* ---- Processors ------------------------------------------------------------------------------ */

NTKERNELAPI ULONG NTAPI KeGetCurrentProcessorNumber(VOID);
NTKERNELAPI ULONG NTAPI KeGetCurrentProcessorNumberEx(PPROCESSOR_NUMBER ProcNumber);
NTKERNELAPI ULONG NTAPI KeGetCurrentProcessorIndex(VOID);
NTKERNELAPI ULONG NTAPI KeQueryActiveProcessorCount(PKAFFINITY ActiveProcessors);
NTKERNELAPI ULONG NTAPI KeQueryActiveProcessorCountEx(USHORT GroupNumber);
NTKERNELAPI KAFFINITY NTAPI KeQueryActiveProcessors(VOID);
NTKERNELAPI ULONG NTAPI KeQueryMaximumProcessorCount(VOID);
NTKERNELAPI ULONG NTAPI KeQueryMaximumProcessorCountEx(USHORT GroupNumber);
NTKERNELAPI USHORT NTAPI KeQueryActiveGroupCount(VOID);
NTKERNELAPI USHORT NTAPI KeQueryMaximumGroupCount(VOID);
NTKERNELAPI ULONG NTAPI KeGetRecommendedSharedDataAlignment(VOID);
/* The number of processors, set when libuwsk is loaded. */
extern NTSYSAPI volatile CCHAR KeNumberProcessors;

NTKERNELAPI NTSTATUS NTAPI KeSaveFloatingPointState(PKFLOATING_SAVE FloatSave);
NTKERNELAPI NTSTATUS NTAPI KeRestoreFloatingPointState(PKFLOATING_SAVE FloatSave);

/* ---- SLISTs ---------------------------------------------------------------------------------- */

/* x64 layout: Depth and Sequence in the first quadword, the first entry's address in the second
 * (Windows stores it shifted right by 4 in HeaderX64.NextEntry, which is the same bits when the
 * entry is 16-byte aligned, as SLIST_ENTRY is). The runtime serialises updates with a bit of
 * the sequence number, so a pop never reads an entry that another thread already popped and
 * freed (Windows survives that read with SEH; user space cannot). */
typedef struct DECLSPEC_ALIGN(16) _SLIST_ENTRY {
  struct _SLIST_ENTRY *Next;
} SLIST_ENTRY, *PSLIST_ENTRY;

typedef union DECLSPEC_ALIGN(16) _SLIST_HEADER {
  struct {
    ULONGLONG Alignment;
    ULONGLONG Region;
  };
  struct {
    ULONGLONG Depth : 16;
    ULONGLONG Sequence : 48;
    ULONGLONG Reserved : 4;
    ULONGLONG NextEntry : 60;
  } HeaderX64;
} SLIST_HEADER, *PSLIST_HEADER;
UWSK_STATIC_ASSERT(sizeof(SLIST_HEADER) == 16, "SLIST_HEADER is 16 bytes on x64");
UWSK_STATIC_ASSERT(sizeof(SLIST_ENTRY) == 16, "SLIST_ENTRY is 16 bytes on x64");

NTKERNELAPI PSLIST_ENTRY NTAPI InterlockedPushEntrySList(PSLIST_HEADER ListHead,
                                                         PSLIST_ENTRY ListEntry);
NTKERNELAPI PSLIST_ENTRY NTAPI InterlockedPopEntrySList(PSLIST_HEADER ListHead);
NTKERNELAPI PSLIST_ENTRY NTAPI InterlockedFlushSList(PSLIST_HEADER ListHead);
NTKERNELAPI PSLIST_ENTRY NTAPI InterlockedPushListSListEx(PSLIST_HEADER ListHead, PSLIST_ENTRY List,
                                                          PSLIST_ENTRY ListEnd, ULONG Count);
/* Atomically compares 16 bytes; returns TRUE and stores the exchange on a match, otherwise
 * returns FALSE and writes the current value to ComparandResult. */
NTKERNELAPI BOOLEAN NTAPI InterlockedCompareExchange128(LONG64 volatile *Destination,
                                                        LONG64 ExchangeHigh, LONG64 ExchangeLow,
                                                        LONG64 *ComparandResult);

FORCEINLINE VOID InitializeSListHead(PSLIST_HEADER SListHead) {
  __atomic_store_n(&SListHead->Region, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&SListHead->Alignment, 0, __ATOMIC_RELEASE);
}

FORCEINLINE USHORT QueryDepthSList(PSLIST_HEADER SListHead) {
  return (USHORT)(__atomic_load_n(&SListHead->Alignment, __ATOMIC_ACQUIRE) & 0xffff);
}

FORCEINLINE PSLIST_ENTRY FirstEntrySList(const SLIST_HEADER *SListHead) {
  return (PSLIST_ENTRY)(ULONG_PTR)__atomic_load_n(&SListHead->Region, __ATOMIC_ACQUIRE);
}

#define ExInitializeSListHead InitializeSListHead
#define ExQueryDepthSList(ListHead) QueryDepthSList(ListHead)
#define ExInterlockedPushEntrySList(ListHead, ListEntry, Lock)                                     \
  InterlockedPushEntrySList(ListHead, ListEntry)
#define ExInterlockedPopEntrySList(ListHead, Lock) InterlockedPopEntrySList(ListHead)
#define ExInterlockedFlushSList(ListHead) InterlockedFlushSList(ListHead)

UWSK_END_DECLS

/* ---- Interlocked operations and barriers ----------------------------------------------------- */

/* Windows spells these as compiler intrinsics; here they are inline functions over the GCC/Clang
 * __atomic builtins, with the Windows (LLP64) argument types: `LONG volatile *` is 32 bits. The
 * plain forms are full barriers, the Acquire/Release/NoFence forms are what their names say. */

#define UWSK_ILK_FULL __ATOMIC_SEQ_CST

#define UWSK_DEFINE_INTERLOCKED_FAMILY(Suffix, Type, Order)                                        \
  FORCEINLINE Type InterlockedIncrement##Suffix(Type volatile *Addend) {                           \
    return __atomic_add_fetch(Addend, 1, Order);                                                   \
  }                                                                                                \
  FORCEINLINE Type InterlockedDecrement##Suffix(Type volatile *Addend) {                           \
    return __atomic_sub_fetch(Addend, 1, Order);                                                   \
  }                                                                                                \
  FORCEINLINE Type InterlockedCompareExchange##Suffix(Type volatile *Destination, Type Exchange,   \
                                                      Type Comperand) {                            \
    __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, Order,                       \
                                Order == __ATOMIC_RELEASE   ? __ATOMIC_RELAXED                     \
                                : Order == __ATOMIC_ACQ_REL ? __ATOMIC_ACQUIRE                     \
                                                            : Order);                              \
    return Comperand;                                                                              \
  }

/* 32-bit. */
UWSK_DEFINE_INTERLOCKED_FAMILY(, LONG, __ATOMIC_SEQ_CST)
UWSK_DEFINE_INTERLOCKED_FAMILY(Acquire, LONG, __ATOMIC_ACQUIRE)
UWSK_DEFINE_INTERLOCKED_FAMILY(Release, LONG, __ATOMIC_RELEASE)
UWSK_DEFINE_INTERLOCKED_FAMILY(NoFence, LONG, __ATOMIC_RELAXED)
/* 16-bit and 64-bit. */
UWSK_DEFINE_INTERLOCKED_FAMILY(16, SHORT, __ATOMIC_SEQ_CST)
UWSK_DEFINE_INTERLOCKED_FAMILY(64, LONG64, __ATOMIC_SEQ_CST)
UWSK_DEFINE_INTERLOCKED_FAMILY(Acquire64, LONG64, __ATOMIC_ACQUIRE)
UWSK_DEFINE_INTERLOCKED_FAMILY(Release64, LONG64, __ATOMIC_RELEASE)
UWSK_DEFINE_INTERLOCKED_FAMILY(NoFence64, LONG64, __ATOMIC_RELAXED)
UWSK_DEFINE_INTERLOCKED_FAMILY(Acquire16, SHORT, __ATOMIC_ACQUIRE)
UWSK_DEFINE_INTERLOCKED_FAMILY(Release16, SHORT, __ATOMIC_RELEASE)
UWSK_DEFINE_INTERLOCKED_FAMILY(NoFence16, SHORT, __ATOMIC_RELAXED)

#undef UWSK_DEFINE_INTERLOCKED_FAMILY

/* Exchange, add and the bitwise operations; And/Or/Xor/ExchangeAdd/Exchange return the value
 * before the operation, Add returns the value after it. */
#define UWSK_DEFINE_INTERLOCKED_RMW(Suffix, Type, Order)                                           \
  FORCEINLINE Type InterlockedExchange##Suffix(Type volatile *Target, Type Value) {                \
    return __atomic_exchange_n(Target, Value, Order);                                              \
  }                                                                                                \
  FORCEINLINE Type InterlockedExchangeAdd##Suffix(Type volatile *Addend, Type Value) {             \
    return __atomic_fetch_add(Addend, Value, Order);                                               \
  }                                                                                                \
  FORCEINLINE Type InterlockedAdd##Suffix(Type volatile *Addend, Type Value) {                     \
    return __atomic_add_fetch(Addend, Value, Order);                                               \
  }                                                                                                \
  FORCEINLINE Type InterlockedAnd##Suffix(Type volatile *Destination, Type Value) {                \
    return __atomic_fetch_and(Destination, Value, Order);                                          \
  }                                                                                                \
  FORCEINLINE Type InterlockedOr##Suffix(Type volatile *Destination, Type Value) {                 \
    return __atomic_fetch_or(Destination, Value, Order);                                           \
  }                                                                                                \
  FORCEINLINE Type InterlockedXor##Suffix(Type volatile *Destination, Type Value) {                \
    return __atomic_fetch_xor(Destination, Value, Order);                                          \
  }

UWSK_DEFINE_INTERLOCKED_RMW(, LONG, __ATOMIC_SEQ_CST)
UWSK_DEFINE_INTERLOCKED_RMW(Acquire, LONG, __ATOMIC_ACQUIRE)
UWSK_DEFINE_INTERLOCKED_RMW(Release, LONG, __ATOMIC_RELEASE)
UWSK_DEFINE_INTERLOCKED_RMW(NoFence, LONG, __ATOMIC_RELAXED)
UWSK_DEFINE_INTERLOCKED_RMW(64, LONG64, __ATOMIC_SEQ_CST)
UWSK_DEFINE_INTERLOCKED_RMW(Acquire64, LONG64, __ATOMIC_ACQUIRE)
UWSK_DEFINE_INTERLOCKED_RMW(Release64, LONG64, __ATOMIC_RELEASE)
UWSK_DEFINE_INTERLOCKED_RMW(NoFence64, LONG64, __ATOMIC_RELAXED)
UWSK_DEFINE_INTERLOCKED_RMW(16, SHORT, __ATOMIC_SEQ_CST)
UWSK_DEFINE_INTERLOCKED_RMW(8, CHAR, __ATOMIC_SEQ_CST)

#undef UWSK_DEFINE_INTERLOCKED_RMW

#ifdef __cplusplus
/* The overloads the WDK gives C++ code (ULONG and ULONG64 counters are common), and `long`. */
#define UWSK_DEFINE_INTERLOCKED_UNSIGNED(Suffix, Type)                                             \
  static inline Type InterlockedIncrement##Suffix(Type volatile *Addend) {                         \
    return __atomic_add_fetch(Addend, 1, __ATOMIC_SEQ_CST);                                        \
  }                                                                                                \
  static inline Type InterlockedDecrement##Suffix(Type volatile *Addend) {                         \
    return __atomic_sub_fetch(Addend, 1, __ATOMIC_SEQ_CST);                                        \
  }                                                                                                \
  static inline Type InterlockedCompareExchange##Suffix(Type volatile *Destination, Type Exchange, \
                                                        Type Comperand) {                          \
    __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, __ATOMIC_SEQ_CST,            \
                                __ATOMIC_SEQ_CST);                                                 \
    return Comperand;                                                                              \
  }                                                                                                \
  static inline Type InterlockedExchange##Suffix(Type volatile *Target, Type Value) {              \
    return __atomic_exchange_n(Target, Value, __ATOMIC_SEQ_CST);                                   \
  }                                                                                                \
  static inline Type InterlockedExchangeAdd##Suffix(Type volatile *Addend, Type Value) {           \
    return __atomic_fetch_add(Addend, Value, __ATOMIC_SEQ_CST);                                    \
  }                                                                                                \
  static inline Type InterlockedAdd##Suffix(Type volatile *Addend, Type Value) {                   \
    return __atomic_add_fetch(Addend, Value, __ATOMIC_SEQ_CST);                                    \
  }                                                                                                \
  static inline Type InterlockedAnd##Suffix(Type volatile *Destination, Type Value) {              \
    return __atomic_fetch_and(Destination, Value, __ATOMIC_SEQ_CST);                               \
  }                                                                                                \
  static inline Type InterlockedOr##Suffix(Type volatile *Destination, Type Value) {               \
    return __atomic_fetch_or(Destination, Value, __ATOMIC_SEQ_CST);                                \
  }                                                                                                \
  static inline Type InterlockedXor##Suffix(Type volatile *Destination, Type Value) {              \
    return __atomic_fetch_xor(Destination, Value, __ATOMIC_SEQ_CST);                               \
  }
UWSK_DEFINE_INTERLOCKED_UNSIGNED(, ULONG)
UWSK_DEFINE_INTERLOCKED_UNSIGNED(64, ULONG64)
/* MSVC code declares counters as `volatile long`, which is LONG on Windows but 64 bits here;
 * these overloads keep such code compiling and atomic, on the variable's own width. */
UWSK_DEFINE_INTERLOCKED_UNSIGNED(, long)
UWSK_DEFINE_INTERLOCKED_UNSIGNED(, unsigned long)
#undef UWSK_DEFINE_INTERLOCKED_UNSIGNED
#endif

FORCEINLINE CHAR InterlockedCompareExchange8(CHAR volatile *Destination, CHAR Exchange,
                                             CHAR Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, UWSK_ILK_FULL, UWSK_ILK_FULL);
  return Comperand;
}

FORCEINLINE PVOID InterlockedExchangePointer(PVOID volatile *Target, PVOID Value) {
  return __atomic_exchange_n(Target, Value, UWSK_ILK_FULL);
}
FORCEINLINE PVOID InterlockedExchangePointerAcquire(PVOID volatile *Target, PVOID Value) {
  return __atomic_exchange_n(Target, Value, __ATOMIC_ACQUIRE);
}
FORCEINLINE PVOID InterlockedExchangePointerNoFence(PVOID volatile *Target, PVOID Value) {
  return __atomic_exchange_n(Target, Value, __ATOMIC_RELAXED);
}
FORCEINLINE PVOID InterlockedCompareExchangePointer(PVOID volatile *Destination, PVOID Exchange,
                                                    PVOID Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, UWSK_ILK_FULL, UWSK_ILK_FULL);
  return Comperand;
}
FORCEINLINE PVOID InterlockedCompareExchangePointerAcquire(PVOID volatile *Destination,
                                                           PVOID Exchange, PVOID Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, __ATOMIC_ACQUIRE,
                              __ATOMIC_ACQUIRE);
  return Comperand;
}
FORCEINLINE PVOID InterlockedCompareExchangePointerRelease(PVOID volatile *Destination,
                                                           PVOID Exchange, PVOID Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, __ATOMIC_RELEASE,
                              __ATOMIC_RELAXED);
  return Comperand;
}
FORCEINLINE PVOID InterlockedCompareExchangePointerNoFence(PVOID volatile *Destination,
                                                           PVOID Exchange, PVOID Comperand) {
  __atomic_compare_exchange_n(Destination, &Comperand, Exchange, 0, __ATOMIC_RELAXED,
                              __ATOMIC_RELAXED);
  return Comperand;
}

/* Bit test-and-modify: return the bit's previous value. */
FORCEINLINE BOOLEAN InterlockedBitTestAndSet(LONG volatile *Base, LONG Offset) {
  LONG mask = (LONG)(1U << (Offset & 31));
  return (BOOLEAN)((__atomic_fetch_or(Base + (Offset >> 5), mask, UWSK_ILK_FULL) & mask) != 0);
}
FORCEINLINE BOOLEAN InterlockedBitTestAndReset(LONG volatile *Base, LONG Offset) {
  LONG mask = (LONG)(1U << (Offset & 31));
  return (BOOLEAN)((__atomic_fetch_and(Base + (Offset >> 5), ~mask, UWSK_ILK_FULL) & mask) != 0);
}
FORCEINLINE BOOLEAN InterlockedBitTestAndComplement(LONG volatile *Base, LONG Offset) {
  LONG mask = (LONG)(1U << (Offset & 31));
  return (BOOLEAN)((__atomic_fetch_xor(Base + (Offset >> 5), mask, UWSK_ILK_FULL) & mask) != 0);
}
FORCEINLINE BOOLEAN InterlockedBitTestAndSet64(LONG64 volatile *Base, LONG64 Offset) {
  LONG64 mask = (LONG64)(1ULL << (Offset & 63));
  return (BOOLEAN)((__atomic_fetch_or(Base + (Offset >> 6), mask, UWSK_ILK_FULL) & mask) != 0);
}
FORCEINLINE BOOLEAN InterlockedBitTestAndReset64(LONG64 volatile *Base, LONG64 Offset) {
  LONG64 mask = (LONG64)(1ULL << (Offset & 63));
  return (BOOLEAN)((__atomic_fetch_and(Base + (Offset >> 6), ~mask, UWSK_ILK_FULL) & mask) != 0);
}

/* Plain loads and stores with the named ordering (ReadAcquire, WriteRelease, ...). */
FORCEINLINE LONG ReadNoFence(LONG const volatile *Source) {
  return __atomic_load_n(Source, __ATOMIC_RELAXED);
}
FORCEINLINE LONG ReadAcquire(LONG const volatile *Source) {
  return __atomic_load_n(Source, __ATOMIC_ACQUIRE);
}
FORCEINLINE VOID WriteNoFence(LONG volatile *Destination, LONG Value) {
  __atomic_store_n(Destination, Value, __ATOMIC_RELAXED);
}
FORCEINLINE VOID WriteRelease(LONG volatile *Destination, LONG Value) {
  __atomic_store_n(Destination, Value, __ATOMIC_RELEASE);
}
FORCEINLINE LONG64 ReadNoFence64(LONG64 const volatile *Source) {
  return __atomic_load_n(Source, __ATOMIC_RELAXED);
}
FORCEINLINE LONG64 ReadAcquire64(LONG64 const volatile *Source) {
  return __atomic_load_n(Source, __ATOMIC_ACQUIRE);
}
FORCEINLINE VOID WriteNoFence64(LONG64 volatile *Destination, LONG64 Value) {
  __atomic_store_n(Destination, Value, __ATOMIC_RELAXED);
}
FORCEINLINE VOID WriteRelease64(LONG64 volatile *Destination, LONG64 Value) {
  __atomic_store_n(Destination, Value, __ATOMIC_RELEASE);
}
FORCEINLINE PVOID ReadPointerNoFence(PVOID const volatile *Source) {
  return __atomic_load_n(Source, __ATOMIC_RELAXED);
}
FORCEINLINE PVOID ReadPointerAcquire(PVOID const volatile *Source) {
  return __atomic_load_n(Source, __ATOMIC_ACQUIRE);
}
FORCEINLINE VOID WritePointerNoFence(PVOID volatile *Destination, PVOID Value) {
  __atomic_store_n(Destination, Value, __ATOMIC_RELAXED);
}
FORCEINLINE VOID WritePointerRelease(PVOID volatile *Destination, PVOID Value) {
  __atomic_store_n(Destination, Value, __ATOMIC_RELEASE);
}
FORCEINLINE BOOLEAN ReadBooleanNoFence(BOOLEAN const volatile *Source) {
  return __atomic_load_n(Source, __ATOMIC_RELAXED);
}
FORCEINLINE BOOLEAN ReadBooleanAcquire(BOOLEAN const volatile *Source) {
  return __atomic_load_n(Source, __ATOMIC_ACQUIRE);
}
FORCEINLINE VOID WriteBooleanNoFence(BOOLEAN volatile *Destination, BOOLEAN Value) {
  __atomic_store_n(Destination, Value, __ATOMIC_RELAXED);
}
FORCEINLINE VOID WriteBooleanRelease(BOOLEAN volatile *Destination, BOOLEAN Value) {
  __atomic_store_n(Destination, Value, __ATOMIC_RELEASE);
}

/* The MSVC underscore spellings some drivers call directly. They are macros, not functions, so
 * that they cannot collide with Clang's -fms-extensions builtins of the same names. */
#define _InterlockedIncrement InterlockedIncrement
#define _InterlockedDecrement InterlockedDecrement
#define _InterlockedExchange InterlockedExchange
#define _InterlockedExchangeAdd InterlockedExchangeAdd
#define _InterlockedCompareExchange InterlockedCompareExchange
#define _InterlockedAnd InterlockedAnd
#define _InterlockedOr InterlockedOr
#define _InterlockedXor InterlockedXor
#define _InterlockedIncrement64 InterlockedIncrement64
#define _InterlockedDecrement64 InterlockedDecrement64
#define _InterlockedExchange64 InterlockedExchange64
#define _InterlockedExchangeAdd64 InterlockedExchangeAdd64
#define _InterlockedCompareExchange64 InterlockedCompareExchange64
#define _InterlockedAnd64 InterlockedAnd64
#define _InterlockedOr64 InterlockedOr64
#define _InterlockedXor64 InterlockedXor64
#define _InterlockedIncrement16 InterlockedIncrement16
#define _InterlockedDecrement16 InterlockedDecrement16
#define _InterlockedCompareExchange16 InterlockedCompareExchange16
#define _InterlockedExchangePointer InterlockedExchangePointer
#define _InterlockedCompareExchangePointer InterlockedCompareExchangePointer
#define _InterlockedAdd InterlockedAdd
#define _InterlockedAdd64 InterlockedAdd64
#define _InterlockedExchange16 InterlockedExchange16
#define _InterlockedExchangeAdd16 InterlockedExchangeAdd16
#define _InterlockedAnd16 InterlockedAnd16
#define _InterlockedOr16 InterlockedOr16
#define _InterlockedXor16 InterlockedXor16
#define _InterlockedExchange8 InterlockedExchange8
#define _InterlockedExchangeAdd8 InterlockedExchangeAdd8
#define _InterlockedAnd8 InterlockedAnd8
#define _InterlockedOr8 InterlockedOr8
#define _InterlockedXor8 InterlockedXor8
#define _InterlockedCompareExchange8 InterlockedCompareExchange8
#define _InterlockedCompareExchange128 InterlockedCompareExchange128
#define _interlockedbittestandset InterlockedBitTestAndSet
#define _interlockedbittestandreset InterlockedBitTestAndReset
#define _interlockedbittestandset64 InterlockedBitTestAndSet64
#define _interlockedbittestandreset64 InterlockedBitTestAndReset64
#define InterlockedExchangeAddSizeT(a, b)                                                          \
  ((SIZE_T)InterlockedExchangeAdd64((LONG64 volatile *)(a), (LONG64)(b)))
#define InterlockedIncrementSizeT(a) ((SIZE_T)InterlockedIncrement64((LONG64 volatile *)(a)))
#define InterlockedDecrementSizeT(a) ((SIZE_T)InterlockedDecrement64((LONG64 volatile *)(a)))

/* Barriers. */
/* A full barrier. On x86-64 a locked read-modify-write of a local is one (as Windows does it),
 * and it keeps GCC's ThreadSanitizer builds free of its atomic_thread_fence warning. */
FORCEINLINE VOID uwsk_memory_barrier(VOID) {
#if defined(__x86_64__) || defined(__SANITIZE_THREAD__)
  LONG volatile barrier = 0;
  (void)__atomic_fetch_or(&barrier, 0, __ATOMIC_SEQ_CST);
#else
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}
#ifndef MemoryBarrier
#define MemoryBarrier() uwsk_memory_barrier()
#endif
#define KeMemoryBarrier() MemoryBarrier()
#define KeMemoryBarrierWithoutFence() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#ifndef _ReadWriteBarrier
#define _ReadWriteBarrier() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#endif
#ifndef _ReadBarrier
#define _ReadBarrier() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#endif
#ifndef _WriteBarrier
#define _WriteBarrier() __atomic_signal_fence(__ATOMIC_SEQ_CST)
#endif
#ifndef PreFetchCacheLine
#define PF_TEMPORAL_LEVEL_1 3
#define PF_NON_TEMPORAL_LEVEL_ALL 0
#define PreFetchCacheLine(l, a) __builtin_prefetch((const void *)(a), 0, (l))
#endif
#ifndef YieldProcessor
#if defined(__x86_64__)
#define YieldProcessor() __builtin_ia32_pause()
#else
#define YieldProcessor() __asm__ __volatile__("yield" ::: "memory")
#endif
#endif

#endif /* UWSK_WDK_KM_KE_H */

/*
 * ke_c_usage.c - the kernel-core headers (ke.h, ex.h, ps.h) used from C11 the way a C driver
 * uses them. Built with -fsyntax-only, with and without -fshort-wchar.
 */
#include "km/types.h"
#include "km/ke.h"
#include "km/ex.h"
#include "km/ps.h"

static LONG volatile g_counter;
static LONG64 volatile g_counter64;
static SHORT volatile g_counter16;
static PVOID volatile g_pointer;
static KEVENT g_event;
static KSPIN_LOCK g_lock;
static FAST_MUTEX g_fast_mutex;
static ERESOURCE g_resource;
static EX_RUNDOWN_REF g_rundown;
static SLIST_HEADER g_slist;
static WORK_QUEUE_ITEM g_work_item;

typedef struct _MY_ENTRY {
  SLIST_ENTRY Link;
  ULONG Value;
} MY_ENTRY;

static KDEFERRED_ROUTINE my_dpc;
static KSTART_ROUTINE my_thread;
static WORKER_THREAD_ROUTINE my_work;

static VOID NTAPI my_dpc(PKDPC Dpc, PVOID Context, PVOID Arg1, PVOID Arg2) {
  UNREFERENCED_PARAMETER(Dpc);
  UNREFERENCED_PARAMETER(Context);
  UNREFERENCED_PARAMETER(Arg1);
  UNREFERENCED_PARAMETER(Arg2);
  KeSetEvent(&g_event, IO_NO_INCREMENT, FALSE);
}

static VOID NTAPI my_thread(PVOID Context) {
  LONG volatile local = 0;
  UNREFERENCED_PARAMETER(Context);
  InterlockedIncrement(&local);
  PsTerminateSystemThread(STATUS_SUCCESS);
}

static VOID NTAPI my_work(PVOID Parameter) {
  UNREFERENCED_PARAMETER(Parameter);
}

NTSTATUS ke_c_usage(void) {
  LONG volatile local = 0;
  KIRQL old_irql;
  KLOCK_QUEUE_HANDLE queue_handle;
  KTIMER timer;
  KDPC dpc;
  KMUTEX mutex;
  KSEMAPHORE semaphore;
  KWAIT_BLOCK wait_blocks[4];
  PVOID objects[4];
  LARGE_INTEGER timeout, now;
  HANDLE thread_handle;
  PETHREAD thread;
  PSLIST_ENTRY popped;
  MY_ENTRY entry;
  NTSTATUS status;

  InterlockedIncrement(&local);
  InterlockedIncrement(&g_counter);
  InterlockedDecrement(&g_counter);
  InterlockedExchange(&g_counter, 5);
  InterlockedCompareExchange(&g_counter, 6, 5);
  InterlockedAdd(&g_counter, 2);
  InterlockedExchangeAdd(&g_counter, 2);
  InterlockedAnd(&g_counter, 0xff);
  InterlockedOr(&g_counter, 0x100);
  InterlockedXor(&g_counter, 0x1);
  InterlockedIncrementAcquire(&g_counter);
  InterlockedDecrementRelease(&g_counter);
  InterlockedIncrement64(&g_counter64);
  InterlockedCompareExchange64(&g_counter64, 1, 0);
  InterlockedIncrement16(&g_counter16);
  InterlockedExchangePointer(&g_pointer, NULL);
  InterlockedCompareExchangePointer(&g_pointer, &entry, NULL);
  InterlockedBitTestAndSet(&g_counter, 3);
  KeMemoryBarrier();
  MemoryBarrier();
  _ReadWriteBarrier();
  YieldProcessor();
  (void)ReadAcquire(&g_counter);

  KeInitializeEvent(&g_event, NotificationEvent, FALSE);
  KeSetEvent(&g_event, IO_NO_INCREMENT, FALSE);
  KeClearEvent(&g_event);

  KeInitializeSpinLock(&g_lock);
  KeAcquireSpinLock(&g_lock, &old_irql);
  KeReleaseSpinLock(&g_lock, old_irql);
  KeAcquireInStackQueuedSpinLock(&g_lock, &queue_handle);
  KeReleaseInStackQueuedSpinLock(&queue_handle);

  KeInitializeMutex(&mutex, 0);
  KeInitializeSemaphore(&semaphore, 0, 1);
  KeInitializeDpc(&dpc, my_dpc, NULL);
  KeInitializeTimerEx(&timer, SynchronizationTimer);
  timeout.QuadPart = -10000;
  KeSetTimer(&timer, timeout, &dpc);
  KeCancelTimer(&timer);

  objects[0] = &g_event;
  objects[1] = &mutex;
  objects[2] = &semaphore;
  objects[3] = &timer;
  timeout.QuadPart = 0;
  status = KeWaitForMultipleObjects(4, objects, WaitAny, Executive, KernelMode, FALSE, &timeout,
                                    wait_blocks);
  status = KeWaitForMutexObject(&mutex, Executive, KernelMode, FALSE, NULL);
  KeReleaseMutex(&mutex, FALSE);
  KeQuerySystemTime(&now);
  KeQueryTickCount(&now);

  ExInitializeFastMutex(&g_fast_mutex);
  ExAcquireFastMutex(&g_fast_mutex);
  ExReleaseFastMutex(&g_fast_mutex);
  ExInitializeResourceLite(&g_resource);
  KeEnterCriticalRegion();
  ExAcquireResourceSharedLite(&g_resource, TRUE);
  ExReleaseResourceLite(&g_resource);
  KeLeaveCriticalRegion();
  ExDeleteResourceLite(&g_resource);
  ExInitializeRundownProtection(&g_rundown);
  if (ExAcquireRundownProtection(&g_rundown)) {
    ExReleaseRundownProtection(&g_rundown);
  }
  ExWaitForRundownProtectionRelease(&g_rundown);

  InitializeSListHead(&g_slist);
  InterlockedPushEntrySList(&g_slist, &entry.Link);
  popped = InterlockedPopEntrySList(&g_slist);
  (void)CONTAINING_RECORD(popped, MY_ENTRY, Link);
  (void)QueryDepthSList(&g_slist);
  (void)ExInterlockedPopEntrySList(&g_slist, &g_lock);

  ExInitializeWorkItem(&g_work_item, my_work, NULL);
  ExQueueWorkItem(&g_work_item, DelayedWorkQueue);

  status =
      PsCreateSystemThread(&thread_handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, my_thread, NULL);
  if (NT_SUCCESS(status)) {
    status = ObReferenceObjectByHandle(thread_handle, SYNCHRONIZE, *PsThreadType, KernelMode,
                                       (PVOID *)&thread, NULL);
    ZwClose(thread_handle);
    if (NT_SUCCESS(status)) {
      KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
      ObDereferenceObject(thread);
    }
  }
  (void)PsGetCurrentThreadId();
  (void)ExGetCurrentResourceThread();
  return status;
}

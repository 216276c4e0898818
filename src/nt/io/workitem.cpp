// I/O work items: IoAllocateWorkItem, IoQueueWorkItem(Ex), IoFreeWorkItem and the
// caller-allocated forms. They run at PASSIVE_LEVEL on the executive's worker threads.
#include "nt/bugcheck.hpp"
#include "nt/io/io_objects.hpp"

namespace uwsk::nt {
namespace {

constexpr ULONG io_work_item_type = 0x49574b49; // "IKWI"

VOID NTAPI run_io_work_item(PVOID parameter) {
  auto *item = static_cast<PIO_WORKITEM>(parameter);
  // Clear the queued mark first: the routine may queue the item again.
  const PIO_WORKITEM_ROUTINE routine = item->Routine;
  const PIO_WORKITEM_ROUTINE_EX routine_ex = item->RoutineEx;
  PVOID context = item->Context;
  __atomic_store_n(&item->Queued, 0, __ATOMIC_RELEASE);
  if (routine_ex != nullptr) {
    routine_ex(item->IoObject, context, item);
  } else {
    routine(static_cast<PDEVICE_OBJECT>(item->IoObject), context);
  }
}

void queue(PIO_WORKITEM item, PIO_WORKITEM_ROUTINE routine, PIO_WORKITEM_ROUTINE_EX routine_ex,
           WORK_QUEUE_TYPE type, PVOID context) {
  if (item == nullptr || item->Type != io_work_item_type) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, "IoQueueWorkItem: not an initialised IO_WORKITEM",
             io_violation::work_item_queued_twice, reinterpret_cast<ULONG_PTR>(item));
  }
  if (__atomic_exchange_n(&item->Queued, 1, __ATOMIC_ACQ_REL) != 0) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, "IoQueueWorkItem: the work item is already queued",
             io_violation::work_item_queued_twice, reinterpret_cast<ULONG_PTR>(item));
  }
  item->Routine = routine;
  item->RoutineEx = routine_ex;
  item->Context = context;
  ExInitializeWorkItem(&item->WorkItem, run_io_work_item, item);
  ExQueueWorkItem(&item->WorkItem, type);
}

} // namespace

} // namespace uwsk::nt

using namespace uwsk::nt;

// IoSizeofWorkItem: bytes a caller-allocated IO_WORKITEM needs.
extern "C" ULONG NTAPI IoSizeofWorkItem(VOID) {
  return sizeof(IO_WORKITEM);
}

// IoInitializeWorkItem: formats caller memory as a work item for a device or driver object.
extern "C" VOID NTAPI IoInitializeWorkItem(PVOID IoObject, PIO_WORKITEM IoWorkItem) {
  RtlZeroMemory(IoWorkItem, sizeof(*IoWorkItem));
  IoWorkItem->IoObject = IoObject;
  IoWorkItem->Type = io_work_item_type;
}

// IoUninitializeWorkItem: the counterpart of IoInitializeWorkItem.
extern "C" VOID NTAPI IoUninitializeWorkItem(PIO_WORKITEM IoWorkItem) {
  IoWorkItem->Type = 0;
}

// IoAllocateWorkItem: a work item bound to a device object.
extern "C" PIO_WORKITEM NTAPI IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject) {
  auto *item =
      static_cast<PIO_WORKITEM>(ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(IO_WORKITEM), 'kwoI'));
  if (item != nullptr) {
    IoInitializeWorkItem(DeviceObject, item);
  }
  return item;
}

// IoFreeWorkItem: frees a work item from IoAllocateWorkItem.
extern "C" VOID NTAPI IoFreeWorkItem(PIO_WORKITEM IoWorkItem) {
  IoUninitializeWorkItem(IoWorkItem);
  ExFreePoolWithTag(IoWorkItem, 'kwoI');
}

// IoQueueWorkItem: runs WorkerRoutine(DeviceObject, Context) at PASSIVE_LEVEL.
extern "C" VOID NTAPI IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine,
                                      WORK_QUEUE_TYPE QueueType, PVOID Context) {
  queue(IoWorkItem, WorkerRoutine, nullptr, QueueType, Context);
}

// IoQueueWorkItemEx: runs WorkerRoutine(IoObject, Context, IoWorkItem) at PASSIVE_LEVEL.
extern "C" VOID NTAPI IoQueueWorkItemEx(PIO_WORKITEM IoWorkItem,
                                        PIO_WORKITEM_ROUTINE_EX WorkerRoutine,
                                        WORK_QUEUE_TYPE QueueType, PVOID Context) {
  queue(IoWorkItem, nullptr, WorkerRoutine, QueueType, Context);
}

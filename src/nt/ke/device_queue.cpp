// Device queues (KDEVICE_QUEUE): the I/O manager's busy-flag queue of KDEVICE_QUEUE_ENTRY,
// optionally ordered by a sort key. An insert into an idle queue makes it busy and returns FALSE
// (the caller starts the work itself); a remove from an empty queue makes it idle.
#include <wdm.h>

#include "nt/ke/dispatcher.hpp"

using namespace uwsk::nt;

namespace {

struct queue_lock {
  explicit queue_lock(PKDEVICE_QUEUE queue) : queue(queue) {
    old_irql = KeAcquireSpinLockRaiseToDpc(&queue->Lock);
  }
  ~queue_lock() { KeReleaseSpinLock(&queue->Lock, old_irql); }
  queue_lock(const queue_lock &) = delete;
  queue_lock &operator=(const queue_lock &) = delete;
  PKDEVICE_QUEUE queue;
  KIRQL old_irql;
};

PKDEVICE_QUEUE_ENTRY remove_entry(PLIST_ENTRY link) {
  list_remove(link);
  auto *entry = CONTAINING_RECORD(link, KDEVICE_QUEUE_ENTRY, DeviceListEntry);
  entry->Inserted = FALSE;
  return entry;
}

} // namespace

// KeInitializeDeviceQueue: sets up an empty, idle device queue.
extern "C" VOID NTAPI KeInitializeDeviceQueue(PKDEVICE_QUEUE DeviceQueue) {
  DeviceQueue->Type = DeviceQueueObject;
  DeviceQueue->Size = sizeof(KDEVICE_QUEUE);
  list_init(&DeviceQueue->DeviceListHead);
  KeInitializeSpinLock(&DeviceQueue->Lock);
  DeviceQueue->Busy = FALSE;
}

// KeInsertDeviceQueue: queues the entry at the tail if the queue is busy (TRUE); otherwise
// marks the queue busy and returns FALSE without queueing.
extern "C" BOOLEAN NTAPI KeInsertDeviceQueue(PKDEVICE_QUEUE DeviceQueue,
                                             PKDEVICE_QUEUE_ENTRY DeviceQueueEntry) {
  queue_lock lock(DeviceQueue);
  if (!DeviceQueue->Busy) {
    DeviceQueue->Busy = TRUE;
    DeviceQueueEntry->Inserted = FALSE;
    return FALSE;
  }
  list_insert_tail(&DeviceQueue->DeviceListHead, &DeviceQueueEntry->DeviceListEntry);
  DeviceQueueEntry->Inserted = TRUE;
  return TRUE;
}

// KeInsertByKeyDeviceQueue: as KeInsertDeviceQueue, keeping entries in ascending SortKey order
// (after the entries with an equal key).
extern "C" BOOLEAN NTAPI KeInsertByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue,
                                                  PKDEVICE_QUEUE_ENTRY DeviceQueueEntry,
                                                  ULONG SortKey) {
  queue_lock lock(DeviceQueue);
  DeviceQueueEntry->SortKey = SortKey;
  if (!DeviceQueue->Busy) {
    DeviceQueue->Busy = TRUE;
    DeviceQueueEntry->Inserted = FALSE;
    return FALSE;
  }
  PLIST_ENTRY position = DeviceQueue->DeviceListHead.Blink;
  while (position != &DeviceQueue->DeviceListHead &&
         CONTAINING_RECORD(position, KDEVICE_QUEUE_ENTRY, DeviceListEntry)->SortKey > SortKey) {
    position = position->Blink;
  }
  list_insert_head(position, &DeviceQueueEntry->DeviceListEntry); // just after `position`
  DeviceQueueEntry->Inserted = TRUE;
  return TRUE;
}

// KeRemoveDeviceQueue: removes and returns the head entry, or marks the queue idle and
// returns NULL when it is empty.
extern "C" PKDEVICE_QUEUE_ENTRY NTAPI KeRemoveDeviceQueue(PKDEVICE_QUEUE DeviceQueue) {
  queue_lock lock(DeviceQueue);
  if (list_empty(&DeviceQueue->DeviceListHead)) {
    DeviceQueue->Busy = FALSE;
    return nullptr;
  }
  return remove_entry(DeviceQueue->DeviceListHead.Flink);
}

// KeRemoveByKeyDeviceQueue: removes the first entry whose SortKey is >= SortKey (or the head
// if there is none), or marks the queue idle and returns NULL when it is empty.
extern "C" PKDEVICE_QUEUE_ENTRY NTAPI KeRemoveByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue,
                                                               ULONG SortKey) {
  queue_lock lock(DeviceQueue);
  if (list_empty(&DeviceQueue->DeviceListHead)) {
    DeviceQueue->Busy = FALSE;
    return nullptr;
  }
  for (PLIST_ENTRY link = DeviceQueue->DeviceListHead.Flink; link != &DeviceQueue->DeviceListHead;
       link = link->Flink) {
    if (CONTAINING_RECORD(link, KDEVICE_QUEUE_ENTRY, DeviceListEntry)->SortKey >= SortKey) {
      return remove_entry(link);
    }
  }
  return remove_entry(DeviceQueue->DeviceListHead.Flink);
}

// KeRemoveEntryDeviceQueue: removes a specific entry if it is queued (TRUE), else FALSE.
extern "C" BOOLEAN NTAPI KeRemoveEntryDeviceQueue(PKDEVICE_QUEUE DeviceQueue,
                                                  PKDEVICE_QUEUE_ENTRY DeviceQueueEntry) {
  queue_lock lock(DeviceQueue);
  if (!DeviceQueueEntry->Inserted) {
    return FALSE;
  }
  remove_entry(&DeviceQueueEntry->DeviceListEntry);
  return TRUE;
}

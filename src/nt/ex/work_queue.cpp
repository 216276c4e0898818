// Executive work items: ExQueueWorkItem runs WorkerRoutine(Parameter) at PASSIVE_LEVEL on a
// runtime worker thread.
//
// All queue types share one FIFO and one pool of workers. A queued item is linked through its
// own WORK_QUEUE_ITEM.List (no allocation); the link is cleared before the routine runs, so the
// routine may free or re-queue its item. Workers are started on demand: whenever items are
// waiting and no idle worker is left to take them, up to 64 workers, so a work item that waits
// for another work item does not deadlock the pool. A routine that returns at an IRQL other
// than PASSIVE_LEVEL bug-checks (WORKER_THREAD_RETURNED_AT_BAD_IRQL), as on Windows; queueing
// an item that is still queued bug-checks with WORKER_INVALID.
#include <wdm.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "nt/bugcheck.hpp"
#include "nt/ex/work_queue.hpp"
#include "nt/ke/dispatcher.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/kthread.hpp"

namespace uwsk::nt {
namespace {

constexpr std::size_t max_workers = 64;

struct work_queue {
  std::mutex lock;
  std::condition_variable available; // idle workers wait here
  std::condition_variable drained;   // drain_work_queues waits here
  LIST_ENTRY items;                  // WORK_QUEUE_ITEM.List, FIFO
  std::size_t queued = 0;
  std::size_t running = 0;
  std::size_t idle_workers = 0;
  std::vector<std::thread> workers;
  bool stopping = false;

  work_queue() { list_init(&items); }
};

work_queue &queue() {
  // Never destroyed: workers may still run at exit.
  static auto *q = new work_queue;
  return *q;
}

thread_local bool t_is_worker = false;

void run_item(PWORKER_THREAD_ROUTINE routine, PVOID parameter, PWORK_QUEUE_ITEM item) {
  set_current_irql(PASSIVE_LEVEL);
  routine(parameter);
  KIRQL after = current_irql();
  if (after != PASSIVE_LEVEL) {
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "work item routine %p returned at IRQL %u; it must return at PASSIVE_LEVEL",
                  reinterpret_cast<void *>(routine), after);
    bugcheck(WORKER_THREAD_RETURNED_AT_BAD_IRQL, reason, reinterpret_cast<ULONG_PTR>(routine),
             after, reinterpret_cast<ULONG_PTR>(item), reinterpret_cast<ULONG_PTR>(item));
  }
}

void worker_main() {
  t_is_worker = true;
  mark_runtime_thread("uwsk-worker");
  work_queue &q = queue();
  std::unique_lock lock(q.lock);
  for (;;) {
    while (list_empty(&q.items) && !q.stopping) {
      ++q.idle_workers;
      q.available.wait(lock);
      --q.idle_workers;
    }
    if (list_empty(&q.items)) {
      return; // stopping
    }
    PLIST_ENTRY link = q.items.Flink;
    list_remove(link);
    auto *item = CONTAINING_RECORD(link, WORK_QUEUE_ITEM, List);
    item->List.Flink = item->List.Blink = nullptr;
    PWORKER_THREAD_ROUTINE routine = item->WorkerRoutine;
    PVOID parameter = item->Parameter;
    --q.queued;
    ++q.running;
    lock.unlock();
    run_item(routine, parameter, item);
    lock.lock();
    --q.running;
    if (q.queued == 0 && q.running == 0) {
      q.drained.notify_all();
    }
  }
}

} // namespace

void drain_work_queues() {
  if (t_is_worker) {
    return;
  }
  work_queue &q = queue();
  std::unique_lock lock(q.lock);
  q.drained.wait(lock, [&q] { return q.queued == 0 && q.running == 0; });
}

void stop_work_queues() {
  if (t_is_worker) {
    return;
  }
  drain_work_queues();
  work_queue &q = queue();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(q.lock);
    q.stopping = true;
    q.available.notify_all();
    workers.swap(q.workers);
  }
  for (std::thread &worker : workers) {
    worker.join();
  }
  std::lock_guard lock(q.lock);
  q.stopping = false;
}

std::size_t pending_work_items() {
  work_queue &q = queue();
  std::lock_guard lock(q.lock);
  return q.queued + q.running;
}

} // namespace uwsk::nt

using namespace uwsk::nt;

// ExQueueWorkItem: runs WorkItem->WorkerRoutine(WorkItem->Parameter) at PASSIVE_LEVEL on a
// runtime worker thread (any queue type).
extern "C" VOID NTAPI ExQueueWorkItem(PWORK_QUEUE_ITEM WorkItem, WORK_QUEUE_TYPE QueueType) {
  (void)QueueType;
  const void *caller = __builtin_return_address(0);
  require_irql_at_most(DISPATCH_LEVEL, "ExQueueWorkItem", WorkItem, caller);
  if (WorkItem->WorkerRoutine == nullptr) {
    bugcheck(INVALID_WORK_QUEUE_ITEM, "ExQueueWorkItem: the work item has no WorkerRoutine", 0,
             reinterpret_cast<ULONG_PTR>(WorkItem), 0, reinterpret_cast<ULONG_PTR>(caller));
  }
  work_queue &q = queue();
  std::lock_guard lock(q.lock);
  if (WorkItem->List.Flink != nullptr) {
    char reason[200];
    std::snprintf(reason, sizeof reason,
                  "ExQueueWorkItem(%p): the item is already queued (or was not initialised with "
                  "ExInitializeWorkItem)",
                  static_cast<void *>(WorkItem));
    bugcheck(WORKER_INVALID, reason, 0, reinterpret_cast<ULONG_PTR>(WorkItem),
             static_cast<ULONG_PTR>(QueueType), reinterpret_cast<ULONG_PTR>(caller));
  }
  list_insert_tail(&q.items, &WorkItem->List);
  ++q.queued;
  if (q.queued > q.idle_workers && q.workers.size() < max_workers) {
    q.workers.emplace_back(worker_main);
  } else {
    q.available.notify_one();
  }
}

// Cancel-safe queues: IRPs sent through a real device, queued by its dispatch routine with
// IoCsqInsertIrp(Ex), taken out by IoCsqRemoveNextIrp / IoCsqRemoveIrp or cancelled with
// IoCancelIrp, each completed exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <wdm.h>

namespace {

// The driver's queue: a list under a spin lock, the IO_CSQ embedded in it.
struct irp_queue {
  IO_CSQ csq;
  KSPIN_LOCK lock = 0;
  LIST_ENTRY irps;
  NTSTATUS insert_status = STATUS_SUCCESS; // what the Ex insert routine answers
  std::atomic<int> cancelled{0};
};

irp_queue *queue_of(PIO_CSQ csq) {
  return CONTAINING_RECORD(csq, irp_queue, csq);
}

VOID insert_irp(PIO_CSQ csq, PIRP irp) {
  InsertTailList(&queue_of(csq)->irps, &irp->Tail.Overlay.ListEntry);
}

NTSTATUS insert_irp_ex(PIO_CSQ csq, PIRP irp, PVOID insert_context) {
  (void)insert_context;
  if (!NT_SUCCESS(queue_of(csq)->insert_status)) {
    return queue_of(csq)->insert_status;
  }
  insert_irp(csq, irp);
  return STATUS_SUCCESS;
}

VOID remove_irp(PIO_CSQ csq, PIRP irp) {
  (void)csq;
  RemoveEntryList(&irp->Tail.Overlay.ListEntry);
}

// The first queued IRP after `irp` (or the first of all) whose Information equals the peek
// context (any, when the context is NULL).
PIRP peek_next_irp(PIO_CSQ csq, PIRP irp, PVOID peek_context) {
  LIST_ENTRY *head = &queue_of(csq)->irps;
  for (LIST_ENTRY *entry = irp == nullptr ? head->Flink : irp->Tail.Overlay.ListEntry.Flink;
       entry != head; entry = entry->Flink) {
    PIRP next = CONTAINING_RECORD(entry, IRP, Tail.Overlay.ListEntry);
    if (peek_context == nullptr ||
        next->IoStatus.Information == reinterpret_cast<ULONG_PTR>(peek_context)) {
      return next;
    }
  }
  return nullptr;
}

VOID acquire_lock(PIO_CSQ csq, PKIRQL irql) {
  KeAcquireSpinLock(&queue_of(csq)->lock, irql);
}

VOID release_lock(PIO_CSQ csq, KIRQL irql) {
  KeReleaseSpinLock(&queue_of(csq)->lock, irql);
}

VOID complete_canceled_irp(PIO_CSQ csq, PIRP irp) {
  ++queue_of(csq)->cancelled;
  irp->IoStatus.Status = STATUS_CANCELLED;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

struct device_extension {
  irp_queue *queue;
};

// Queues every IRP; the IO_CSQ_IRP_CONTEXT, if any, comes in Type3InputBuffer.
NTSTATUS dispatch(PDEVICE_OBJECT device, PIRP irp) {
  auto *ext = static_cast<device_extension *>(device->DeviceExtension);
  auto *context = static_cast<PIO_CSQ_IRP_CONTEXT>(
      IoGetCurrentIrpStackLocation(irp)->Parameters.DeviceIoControl.Type3InputBuffer);
  const NTSTATUS status = IoCsqInsertIrpEx(&ext->queue->csq, irp, context, nullptr);
  if (!NT_SUCCESS(status)) {
    irp->IoStatus.Status = status;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
  }
  return STATUS_PENDING;
}

// One IRP's end: its final status and how many times it completed.
struct outcome {
  std::atomic<int> completions{0};
  std::atomic<NTSTATUS> status{STATUS_PENDING};
};

NTSTATUS on_complete(PDEVICE_OBJECT device, PIRP irp, PVOID context) {
  (void)device;
  auto *result = static_cast<outcome *>(context);
  result->status = irp->IoStatus.Status;
  ++result->completions;
  return STATUS_MORE_PROCESSING_REQUIRED; // the test frees it (IoCancelIrp may still look at it)
}

class IoCsq : public ::testing::Test {
protected:
  void SetUp() override {
    InitializeListHead(&queue_.irps);
    ASSERT_EQ(IoCsqInitializeEx(&queue_.csq, insert_irp_ex, remove_irp, peek_next_irp, acquire_lock,
                                release_lock, complete_canceled_irp),
              STATUS_SUCCESS);
    driver_.MajorFunction[IRP_MJ_DEVICE_CONTROL] = dispatch;
    ASSERT_EQ(IoCreateDevice(&driver_, sizeof(device_extension), nullptr, FILE_DEVICE_UNKNOWN, 0,
                             FALSE, &device_),
              STATUS_SUCCESS);
    static_cast<device_extension *>(device_->DeviceExtension)->queue = &queue_;
  }
  void TearDown() override {
    EXPECT_TRUE(IsListEmpty(&queue_.irps));
    for (PIRP irp : sent_) {
      IoFreeIrp(irp);
    }
    IoDeleteDevice(device_);
  }

  // Sends an IRP tagged `tag` (its IoStatus.Information, for the peek routine).
  PIRP send(outcome &result, ULONG_PTR tag = 0, PIO_CSQ_IRP_CONTEXT context = nullptr,
            bool cancel_first = false) {
    PIRP irp = IoAllocateIrp(device_->StackSize, FALSE);
    EXPECT_NE(irp, nullptr);
    sent_.push_back(irp);
    PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = IRP_MJ_DEVICE_CONTROL;
    next->Parameters.DeviceIoControl.Type3InputBuffer = context;
    IoSetCompletionRoutine(irp, on_complete, &result, TRUE, TRUE, TRUE);
    irp->IoStatus.Information = tag;
    if (cancel_first) {
      EXPECT_FALSE(IoCancelIrp(irp)); // no cancel routine yet: only marked
    }
    EXPECT_EQ(IoCallDriver(device_, irp), STATUS_PENDING);
    return irp;
  }

  static void complete(PIRP irp, NTSTATUS status) {
    irp->IoStatus.Status = status;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
  }

  irp_queue queue_;
  DRIVER_OBJECT driver_{};
  PDEVICE_OBJECT device_ = nullptr;
  std::vector<PIRP> sent_; // freed at the end, all completed by then
};

TEST_F(IoCsq, RemoveNextTakesIrpsInOrderAndByPeekContext) {
  outcome a, b, c;
  PIRP first = send(a, 1);
  PIRP second = send(b, 2);
  PIRP third = send(c, 1);
  EXPECT_EQ(first->Tail.Overlay.DriverContext[3], &queue_.csq);
  EXPECT_NE(IoGetCurrentIrpStackLocation(first)->Control & SL_PENDING_RETURNED, 0);
  EXPECT_EQ(IoCsqRemoveNextIrp(&queue_.csq, reinterpret_cast<PVOID>(2)), second);
  EXPECT_EQ(second->CancelRoutine, nullptr);
  EXPECT_EQ(IoCsqRemoveNextIrp(&queue_.csq, nullptr), first);
  EXPECT_EQ(IoCsqRemoveNextIrp(&queue_.csq, reinterpret_cast<PVOID>(2)), nullptr);
  EXPECT_EQ(IoCsqRemoveNextIrp(&queue_.csq, reinterpret_cast<PVOID>(1)), third);
  EXPECT_EQ(IoCsqRemoveNextIrp(&queue_.csq, nullptr), nullptr);
  complete(first, STATUS_SUCCESS);
  complete(second, STATUS_SUCCESS);
  complete(third, STATUS_SUCCESS);
  EXPECT_EQ(a.completions, 1);
  EXPECT_EQ(b.status, STATUS_SUCCESS);
  EXPECT_EQ(queue_.cancelled, 0);
}

TEST_F(IoCsq, CancelTakesAQueuedIrpOut) {
  outcome a, b;
  PIRP first = send(a);
  send(b);
  EXPECT_TRUE(IoCancelIrp(first));
  EXPECT_EQ(a.completions, 1);
  EXPECT_EQ(a.status, STATUS_CANCELLED);
  EXPECT_EQ(queue_.cancelled, 1);
  PIRP left = IoCsqRemoveNextIrp(&queue_.csq, nullptr);
  ASSERT_NE(left, nullptr);
  complete(left, STATUS_SUCCESS);
  EXPECT_EQ(b.status, STATUS_SUCCESS);
}

TEST_F(IoCsq, AnIrpCancelledBeforeInsertionIsCompletedAtOnce) {
  outcome a;
  send(a, 0, nullptr, true);
  EXPECT_EQ(a.completions, 1);
  EXPECT_EQ(a.status, STATUS_CANCELLED);
  EXPECT_EQ(IoCsqRemoveNextIrp(&queue_.csq, nullptr), nullptr);
}

TEST_F(IoCsq, RemoveByContext) {
  IO_CSQ_IRP_CONTEXT first_context, second_context;
  outcome a, b;
  PIRP first = send(a, 0, &first_context);
  send(b, 0, &second_context);
  EXPECT_EQ(first_context.Type, static_cast<ULONG>(IO_TYPE_CSQ_IRP_CONTEXT));
  EXPECT_EQ(first_context.Irp, first);
  EXPECT_EQ(first->Tail.Overlay.DriverContext[3], &first_context);
  EXPECT_EQ(IoCsqRemoveIrp(&queue_.csq, &first_context), first);
  EXPECT_EQ(first_context.Irp, nullptr);
  EXPECT_EQ(IoCsqRemoveIrp(&queue_.csq, &first_context), nullptr);
  complete(first, STATUS_SUCCESS);
  // A cancelled IRP is gone from its context too.
  PIRP second = second_context.Irp;
  EXPECT_TRUE(IoCancelIrp(second));
  EXPECT_EQ(second_context.Irp, nullptr);
  EXPECT_EQ(IoCsqRemoveIrp(&queue_.csq, &second_context), nullptr);
  EXPECT_EQ(b.status, STATUS_CANCELLED);
}

TEST_F(IoCsq, AFailedInsertLeavesTheIrpOut) {
  queue_.insert_status = STATUS_QUOTA_EXCEEDED;
  outcome a;
  PIRP irp = IoAllocateIrp(device_->StackSize, FALSE);
  sent_.push_back(irp);
  IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_DEVICE_CONTROL;
  IoSetCompletionRoutine(irp, on_complete, &a, TRUE, TRUE, TRUE);
  EXPECT_EQ(IoCallDriver(device_, irp), STATUS_QUOTA_EXCEEDED);
  EXPECT_EQ(a.status, STATUS_QUOTA_EXCEEDED);
  EXPECT_EQ(a.completions, 1);
}

TEST_F(IoCsq, CancelRacingRemovalCompletesEachIrpOnce) {
  constexpr int count = 200;
  std::vector<outcome> results(count);
  std::vector<PIRP> irps;
  for (int i = 0; i < count; ++i) {
    irps.push_back(send(results[i]));
  }
  std::atomic<int> removed{0};
  std::thread canceller([&] {
    for (int i = count - 1; i >= 0; --i) {
      if (results[i].completions.load() == 0) {
        IoCancelIrp(irps[i]); // may race with its removal; either side wins, never both
      }
    }
  });
  std::thread remover([&] {
    while (PIRP irp = IoCsqRemoveNextIrp(&queue_.csq, nullptr)) {
      ++removed;
      complete(irp, STATUS_SUCCESS);
    }
  });
  canceller.join();
  remover.join();
  while (PIRP irp = IoCsqRemoveNextIrp(&queue_.csq, nullptr)) {
    ++removed;
    complete(irp, STATUS_SUCCESS);
  }
  int cancelled = 0;
  for (auto &r : results) {
    EXPECT_EQ(r.completions, 1);
    cancelled += r.status == STATUS_CANCELLED ? 1 : 0;
  }
  EXPECT_EQ(cancelled, queue_.cancelled);
  EXPECT_EQ(cancelled + removed, count);
}

} // namespace

// IRPs: allocation, stack walk of IoCompleteRequest, IoCallDriver through a device stack,
// STATUS_MORE_PROCESSING_REQUIRED, IoReuseIrp, cancellation and its race with completion.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include <wdm.h>

namespace {

constexpr ULONG_PTR sentinel = 0xdeadbeef;

// A three-driver device stack: top (index 2) -> middle (1) -> bottom (0). Each driver's dispatch
// routine sets a completion routine that records the order and passes the IRP down; the bottom
// one completes it with whatever status the test asks for.
struct stack_fixture : ::testing::Test {
  static constexpr int levels = 3;
  DRIVER_OBJECT drivers[levels]{};
  PDEVICE_OBJECT devices[levels]{};
  static inline std::vector<int> order;
  static inline std::vector<PDEVICE_OBJECT> seen_devices;
  static inline NTSTATUS bottom_status = STATUS_SUCCESS;
  static inline bool bottom_pends = false;
  static inline PIRP parked = nullptr;

  static NTSTATUS NTAPI level_completion(PDEVICE_OBJECT device, PIRP irp, PVOID context) {
    order.push_back(static_cast<int>(reinterpret_cast<intptr_t>(context)));
    seen_devices.push_back(device);
    if (irp->PendingReturned) {
      IoMarkIrpPending(irp);
    }
    return STATUS_CONTINUE_COMPLETION;
  }

  static NTSTATUS NTAPI pass_down(PDEVICE_OBJECT device, PIRP irp) {
    auto *lower =
        static_cast<PDEVICE_OBJECT>(device->DeviceExtension == nullptr
                                        ? nullptr
                                        : *static_cast<PDEVICE_OBJECT *>(device->DeviceExtension));
    if (lower == nullptr) {
      if (bottom_pends) {
        IoMarkIrpPending(irp);
        parked = irp;
        return STATUS_PENDING;
      }
      irp->IoStatus.Status = bottom_status;
      irp->IoStatus.Information = 42;
      IoCompleteRequest(irp, IO_NO_INCREMENT);
      return bottom_status;
    }
    IoCopyCurrentIrpStackLocationToNext(irp);
    IoSetCompletionRoutine(irp, level_completion,
                           reinterpret_cast<PVOID>(intptr_t{device->Characteristics}), TRUE, TRUE,
                           TRUE);
    return IoCallDriver(lower, irp);
  }

  void SetUp() override {
    order.clear();
    seen_devices.clear();
    bottom_status = STATUS_SUCCESS;
    bottom_pends = false;
    parked = nullptr;
    PDEVICE_OBJECT lower = nullptr;
    for (int i = 0; i < levels; ++i) {
      drivers[i].MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = pass_down;
      ASSERT_EQ(IoCreateDevice(&drivers[i], sizeof(PDEVICE_OBJECT), nullptr, FILE_DEVICE_UNKNOWN,
                               static_cast<ULONG>(i), FALSE, &devices[i]),
                STATUS_SUCCESS);
      *static_cast<PDEVICE_OBJECT *>(devices[i]->DeviceExtension) = lower;
      devices[i]->StackSize = static_cast<CCHAR>(i + 1);
      lower = devices[i];
    }
  }
  void TearDown() override {
    for (auto *device : devices) {
      if (device != nullptr) {
        IoDeleteDevice(device);
      }
    }
  }
};

struct top_record {
  int calls = 0;
  NTSTATUS status = 0;
  ULONG_PTR information = 0;
  BOOLEAN pending_returned = FALSE;
  PDEVICE_OBJECT device = reinterpret_cast<PDEVICE_OBJECT>(sentinel);
};

NTSTATUS NTAPI top_completion(PDEVICE_OBJECT device, PIRP irp, PVOID context) {
  auto *record = static_cast<top_record *>(context);
  record->calls++;
  record->status = irp->IoStatus.Status;
  record->information = irp->IoStatus.Information;
  record->pending_returned = irp->PendingReturned;
  record->device = device;
  return STATUS_MORE_PROCESSING_REQUIRED;
}

TEST(IrpAllocation, AllocateInitialisesEveryDocumentedField) {
  PIRP irp = IoAllocateIrp(3, FALSE);
  ASSERT_NE(irp, nullptr);
  EXPECT_EQ(irp->Type, IO_TYPE_IRP);
  EXPECT_EQ(irp->Size, IoSizeOfIrp(3));
  EXPECT_EQ(irp->StackCount, 3);
  EXPECT_EQ(irp->CurrentLocation, 4);
  EXPECT_EQ(irp->MdlAddress, nullptr);
  EXPECT_EQ(irp->Cancel, FALSE);
  EXPECT_EQ(irp->CancelRoutine, nullptr);
  EXPECT_EQ(irp->PendingReturned, FALSE);
  EXPECT_EQ(irp->IoStatus.Status, STATUS_SUCCESS);
  EXPECT_EQ(reinterpret_cast<PUCHAR>(IoGetNextIrpStackLocation(irp)),
            reinterpret_cast<PUCHAR>(irp) + sizeof(IRP) + 2 * sizeof(IO_STACK_LOCATION));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(irp) % MEMORY_ALLOCATION_ALIGNMENT, 0u);
  IoFreeIrp(irp);
}

TEST(IrpAllocation, ZeroOrNegativeStackSizeGivesNull) {
  EXPECT_EQ(IoAllocateIrp(0, FALSE), nullptr);
  EXPECT_EQ(IoAllocateIrp(-1, FALSE), nullptr);
}

TEST(IrpAllocation, DriverMemoryFormattedByIoInitializeIrp) {
  // The msquic pattern: IRP storage embedded in the driver's own structure.
  alignas(16) unsigned char storage[sizeof(IRP) + sizeof(IO_STACK_LOCATION)];
  std::memset(storage, 0xcc, sizeof(storage));
  auto *irp = reinterpret_cast<PIRP>(storage);
  IoInitializeIrp(irp, sizeof(storage), 1);
  EXPECT_EQ(irp->Type, IO_TYPE_IRP);
  EXPECT_EQ(irp->StackCount, 1);
  EXPECT_EQ(irp->CurrentLocation, 2);
  EXPECT_EQ(irp->IoStatus.Information, 0u);
  top_record record;
  IoSetCompletionRoutine(irp, top_completion, &record, TRUE, TRUE, TRUE);
  IoSetNextIrpStackLocation(irp); // what a provider does when it takes the IRP
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 7;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  EXPECT_EQ(record.calls, 1);
  EXPECT_EQ(record.information, 7u);
  EXPECT_EQ(record.device, nullptr);
}

TEST_F(stack_fixture, CompletionRoutinesRunBottomUpWithTheirDevices) {
  PIRP irp = IoAllocateIrp(devices[2]->StackSize + 1, FALSE);
  ASSERT_NE(irp, nullptr);
  irp->IoStatus.Status = static_cast<NTSTATUS>(sentinel);
  irp->IoStatus.Information = sentinel;
  top_record record;
  PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
  next->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
  IoSetCompletionRoutine(irp, top_completion, &record, TRUE, TRUE, TRUE);
  const NTSTATUS returned = IoCallDriver(devices[2], irp);
  EXPECT_EQ(returned, STATUS_SUCCESS);
  // Routines set by the top driver (2) and the middle one (1), called bottom-up; each receives
  // the device object of the driver that set it.
  ASSERT_EQ(order, (std::vector<int>{1, 2}));
  ASSERT_EQ(seen_devices, (std::vector<PDEVICE_OBJECT>{devices[1], devices[2]}));
  EXPECT_EQ(record.calls, 1);
  EXPECT_EQ(record.status, STATUS_SUCCESS);
  EXPECT_EQ(record.information, 42u);
  EXPECT_EQ(record.device, nullptr);
  EXPECT_EQ(record.pending_returned, FALSE);
  IoFreeIrp(irp);
}

TEST_F(stack_fixture, PendingReturnedPropagatesUpTheStack) {
  bottom_pends = true;
  PIRP irp = IoAllocateIrp(devices[2]->StackSize + 1, FALSE);
  top_record record;
  IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
  IoSetCompletionRoutine(irp, top_completion, &record, TRUE, TRUE, TRUE);
  EXPECT_EQ(IoCallDriver(devices[2], irp), STATUS_PENDING);
  ASSERT_EQ(parked, irp);
  EXPECT_EQ(record.calls, 0);
  // Complete from another thread, as a provider completing later does.
  std::thread completer([] {
    parked->IoStatus.Status = STATUS_CONNECTION_RESET;
    parked->IoStatus.Information = 0;
    IoCompleteRequest(parked, IO_NO_INCREMENT);
  });
  completer.join();
  EXPECT_EQ(record.calls, 1);
  EXPECT_EQ(record.status, STATUS_CONNECTION_RESET);
  EXPECT_EQ(record.pending_returned, TRUE);
  IoFreeIrp(irp);
}

TEST_F(stack_fixture, ErrorStatusReachesRoutinesThatAskForErrors) {
  bottom_status = STATUS_INVALID_DEVICE_STATE;
  PIRP irp = IoAllocateIrp(devices[2]->StackSize + 1, FALSE);
  top_record record;
  IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
  IoSetCompletionRoutine(irp, top_completion, &record, FALSE, TRUE, FALSE);
  EXPECT_EQ(IoCallDriver(devices[2], irp), STATUS_INVALID_DEVICE_STATE);
  EXPECT_EQ(record.calls, 1);
  EXPECT_EQ(record.status, STATUS_INVALID_DEVICE_STATE);
  IoFreeIrp(irp);
}

struct resume_record {
  int first = 0;
  int second = 0;
  bool stop_first_time = true;
};

NTSTATUS NTAPI stopping_routine(PDEVICE_OBJECT, PIRP, PVOID context) {
  auto *record = static_cast<resume_record *>(context);
  record->first++;
  if (record->stop_first_time) {
    record->stop_first_time = false;
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
  return STATUS_CONTINUE_COMPLETION;
}

NTSTATUS NTAPI upper_routine(PDEVICE_OBJECT, PIRP, PVOID context) {
  static_cast<resume_record *>(context)->second++;
  return STATUS_MORE_PROCESSING_REQUIRED;
}

TEST(IrpCompletion, MoreProcessingRequiredStopsTheWalkAndASecondCompletionResumesIt) {
  // Two routines: the upper one (set first) in location 1, the lower one in location 0.
  PIRP irp = IoAllocateIrp(2, FALSE);
  resume_record record;
  IoSetCompletionRoutine(irp, upper_routine, &record, TRUE, TRUE, TRUE);
  IoSetNextIrpStackLocation(irp);
  IoSetCompletionRoutine(irp, stopping_routine, &record, TRUE, TRUE, TRUE);
  IoSetNextIrpStackLocation(irp);
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  EXPECT_EQ(record.first, 1);
  EXPECT_EQ(record.second, 0) << "STATUS_MORE_PROCESSING_REQUIRED must stop the walk";
  // The lower routine owns the IRP again; completing it once more resumes above.
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  EXPECT_EQ(record.first, 1) << "a location is never visited twice";
  EXPECT_EQ(record.second, 1);
  IoFreeIrp(irp);
}

NTSTATUS NTAPI count_routine(PDEVICE_OBJECT, PIRP, PVOID context) {
  ++*static_cast<int *>(context);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

TEST(IrpCompletion, InvokeFlagsSelectByStatusAndCancel) {
  struct case_t {
    BOOLEAN on_success, on_error, on_cancel;
    NTSTATUS status;
    bool cancel;
    int expected_calls;
  };
  const case_t cases[] = {
      {TRUE, FALSE, FALSE, STATUS_SUCCESS, false, 1},
      {FALSE, TRUE, FALSE, STATUS_SUCCESS, false, 0},
      {FALSE, TRUE, FALSE, STATUS_UNSUCCESSFUL, false, 1},
      {TRUE, FALSE, FALSE, STATUS_UNSUCCESSFUL, false, 0},
      {FALSE, FALSE, TRUE, STATUS_CANCELLED, true, 1},
      {FALSE, FALSE, TRUE, STATUS_CANCELLED, false, 0},
      {TRUE, FALSE, FALSE, STATUS_PENDING + 1, false, 1}, // informational counts as success
  };
  for (const auto &c : cases) {
    // Two locations: the routine under test in location 0, a stopper above it.
    PIRP irp = IoAllocateIrp(2, FALSE);
    int stopper_calls = 0;
    int calls = 0;
    IoSetCompletionRoutine(irp, count_routine, &stopper_calls, TRUE, TRUE, TRUE);
    IoSetNextIrpStackLocation(irp);
    IoSetCompletionRoutine(irp, count_routine, &calls, c.on_success, c.on_error, c.on_cancel);
    IoSetNextIrpStackLocation(irp);
    irp->Cancel = c.cancel ? TRUE : FALSE;
    irp->IoStatus.Status = c.status;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    if (calls == 1) {
      // The routine stopped the walk; let it continue to the stopper.
      IoCompleteRequest(irp, IO_NO_INCREMENT);
    }
    EXPECT_EQ(calls, c.expected_calls) << "status 0x" << std::hex << c.status;
    EXPECT_EQ(stopper_calls, 1);
    IoFreeIrp(irp);
  }
}

TEST(IrpReuse, ReuseResetsStateAndKeepsAllocation) {
  PIRP irp = IoAllocateIrp(2, TRUE);
  const UCHAR allocation_flags = irp->AllocationFlags;
  int calls = 0;
  IoSetCompletionRoutine(irp, count_routine, &calls, TRUE, TRUE, TRUE);
  IoSetNextIrpStackLocation(irp);
  IoMarkIrpPending(irp);
  irp->Cancel = TRUE;
  irp->IoStatus.Status = STATUS_CANCELLED;
  irp->IoStatus.Information = sentinel;
  irp->Tail.Overlay.DriverContext[0] = reinterpret_cast<PVOID>(sentinel);
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  ASSERT_EQ(calls, 1);
  ASSERT_TRUE(irp->PendingReturned);

  IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
  EXPECT_EQ(irp->IoStatus.Status, STATUS_UNSUCCESSFUL);
  EXPECT_EQ(irp->IoStatus.Information, 0u);
  EXPECT_EQ(irp->Cancel, FALSE);
  EXPECT_EQ(irp->PendingReturned, FALSE);
  EXPECT_EQ(irp->CurrentLocation, 3);
  EXPECT_EQ(irp->StackCount, 2);
  EXPECT_EQ(irp->Size, IoSizeOfIrp(2));
  EXPECT_EQ(irp->AllocationFlags, allocation_flags);
  EXPECT_EQ(irp->Tail.Overlay.DriverContext[0], nullptr);
  EXPECT_EQ(IoGetNextIrpStackLocation(irp)->CompletionRoutine, nullptr);
  EXPECT_EQ(IoGetNextIrpStackLocation(irp)->Control, 0);
  // And it works again.
  IoSetCompletionRoutine(irp, count_routine, &calls, TRUE, TRUE, TRUE);
  IoSetNextIrpStackLocation(irp);
  irp->IoStatus.Status = STATUS_SUCCESS;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
  EXPECT_EQ(calls, 2);
  IoFreeIrp(irp);
}

// IoInitializeIrp (and so IoReuseIrp) zeroes every byte of the packet, whatever its stack count
// (one and two locations take a path of their own), in memory aligned as an IRP must be and more.
TEST(IrpReuse, InitializeZeroesTheWholePacketAtAnyStackCount) {
  for (CCHAR stacks = 1; stacks <= 4; ++stacks) {
    for (std::size_t shift : {std::size_t{0}, alignof(IRP)}) {
      const USHORT size = IoSizeOfIrp(stacks);
      alignas(32) unsigned char memory[IoSizeOfIrp(4) + 64];
      std::memset(memory, 0xA5, sizeof memory);
      auto *irp = reinterpret_cast<PIRP>(memory + shift);
      IoInitializeIrp(irp, size, stacks);
      // Every byte is zero but those of the fields IoInitializeIrp sets.
      struct field {
        std::size_t offset, length;
      };
      const field set[] = {
          {offsetof(IRP, Type), sizeof(irp->Type)},
          {offsetof(IRP, Size), sizeof(irp->Size)},
          {offsetof(IRP, StackCount), sizeof(irp->StackCount)},
          {offsetof(IRP, CurrentLocation), sizeof(irp->CurrentLocation)},
          {offsetof(IRP, ThreadListEntry), sizeof(irp->ThreadListEntry)},
          {offsetof(IRP, Tail.Overlay.CurrentStackLocation),
           sizeof(irp->Tail.Overlay.CurrentStackLocation)},
      };
      for (std::size_t i = 0; i < size; ++i) {
        bool in_set_field = false;
        for (const field &f : set) {
          in_set_field = in_set_field || (i >= f.offset && i < f.offset + f.length);
        }
        if (!in_set_field) {
          ASSERT_EQ(memory[shift + i], 0) << "byte " << i << ", " << int{stacks} << " locations";
        }
      }
      EXPECT_EQ(memory[shift + size], 0xA5) << "the byte after the packet is left alone";
      EXPECT_EQ(irp->Type, IO_TYPE_IRP);
      EXPECT_EQ(irp->Size, size);
      EXPECT_EQ(irp->StackCount, stacks);
      EXPECT_EQ(irp->CurrentLocation, stacks + 1);
    }
  }
}

TEST(IrpCompletion, SetCompletionRoutineExFreesItsStateOnEveryPath) {
  for (const NTSTATUS status : {STATUS_SUCCESS, STATUS_UNSUCCESSFUL}) {
    PIRP irp = IoAllocateIrp(2, FALSE);
    int stopper = 0;
    int calls = 0;
    IoSetCompletionRoutine(irp, count_routine, &stopper, TRUE, TRUE, TRUE);
    IoSetNextIrpStackLocation(irp);
    ASSERT_EQ(IoSetCompletionRoutineEx(nullptr, irp, count_routine, &calls, TRUE, FALSE, FALSE),
              STATUS_SUCCESS);
    IoSetNextIrpStackLocation(irp);
    irp->IoStatus.Status = status;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    if (calls == 1) {
      IoCompleteRequest(irp, IO_NO_INCREMENT);
    }
    EXPECT_EQ(calls, status == STATUS_SUCCESS ? 1 : 0);
    EXPECT_EQ(stopper, 1);
    IoFreeIrp(irp);
  }
}

// ---- Cancellation --------------------------------------------------------------------------

std::atomic<int> completions{0};

NTSTATUS NTAPI counting_completion(PDEVICE_OBJECT, PIRP, PVOID) {
  completions.fetch_add(1);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

VOID NTAPI cancel_routine(PDEVICE_OBJECT, PIRP irp) {
  IoReleaseCancelSpinLock(irp->CancelIrql);
  irp->IoStatus.Status = STATUS_CANCELLED;
  irp->IoStatus.Information = 0;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

TEST(IrpCancel, CancelWithoutRoutineReturnsFalseAndMarksTheIrp) {
  PIRP irp = IoAllocateIrp(1, FALSE);
  EXPECT_EQ(IoCancelIrp(irp), FALSE);
  EXPECT_EQ(irp->Cancel, TRUE);
  IoFreeIrp(irp);
}

TEST(IrpCancel, CancelRoutineRunsAtDispatchWithTheCancelLockAndCompletes) {
  completions = 0;
  PIRP irp = IoAllocateIrp(1, FALSE);
  irp->IoStatus.Status = static_cast<NTSTATUS>(sentinel);
  IoSetCompletionRoutine(irp, counting_completion, nullptr, TRUE, TRUE, TRUE);
  IoSetNextIrpStackLocation(irp);
  IoMarkIrpPending(irp);
  EXPECT_EQ(IoSetCancelRoutine(irp, cancel_routine), nullptr);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  EXPECT_EQ(IoCancelIrp(irp), TRUE);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  EXPECT_EQ(completions.load(), 1);
  EXPECT_EQ(irp->IoStatus.Status, STATUS_CANCELLED);
  EXPECT_EQ(irp->CancelRoutine, nullptr);
  IoFreeIrp(irp);
}

// The provider pattern against IoCancelIrp from another thread: whoever clears the cancel
// routine first completes the IRP, so it completes exactly once every time.
TEST(IrpCancel, CancelRacingCompletionCompletesExactlyOnce) {
  constexpr int rounds = 2000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  PIRP irp = IoAllocateIrp(1, FALSE);
  int cancelled = 0;
  int completed = 0;
  int round = 0;
  for (; round < rounds && std::chrono::steady_clock::now() < deadline; ++round) {
    completions = 0;
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(irp, counting_completion, nullptr, TRUE, TRUE, TRUE);
    IoSetNextIrpStackLocation(irp);
    IoMarkIrpPending(irp);
    IoSetCancelRoutine(irp, cancel_routine);
    std::atomic<bool> go{false};
    std::thread canceller([&] {
      while (!go.load(std::memory_order_acquire)) {
      }
      IoCancelIrp(irp);
    });
    go.store(true, std::memory_order_release);
    if (IoSetCancelRoutine(irp, nullptr) != nullptr) {
      irp->IoStatus.Status = STATUS_SUCCESS;
      irp->IoStatus.Information = 5;
      IoCompleteRequest(irp, IO_NO_INCREMENT);
    }
    canceller.join();
    ASSERT_EQ(completions.load(), 1) << "round " << round;
    if (irp->IoStatus.Status == STATUS_CANCELLED) {
      ++cancelled;
    } else {
      ASSERT_EQ(irp->IoStatus.Status, STATUS_SUCCESS);
      ASSERT_EQ(irp->IoStatus.Information, 5u);
      ++completed;
    }
  }
  EXPECT_EQ(cancelled + completed, round);
  IoFreeIrp(irp);
}

// ---- Misuse is a bugcheck ---------------------------------------------------------------------

using IrpDeathTest = ::testing::Test;

TEST(IrpDeathTest, CompletingTwiceIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static int calls = 0;
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoSetCompletionRoutine(irp, count_routine, &calls, TRUE, TRUE, TRUE);
        IoSetNextIrpStackLocation(irp);
        IoCompleteRequest(irp, IO_NO_INCREMENT);
        IoCompleteRequest(irp, IO_NO_INCREMENT);
      },
      "completed twice");
}

TEST(IrpDeathTest, CompletingAboveTheTopIsMultipleIrpCompleteRequests) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoSkipCurrentIrpStackLocation(irp);
        IoCompleteRequest(irp, IO_NO_INCREMENT);
      },
      "MULTIPLE_IRP_COMPLETE_REQUESTS");
}

TEST(IrpDeathTest, CompletingPastTheTopIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoSetNextIrpStackLocation(irp);
        IoCompleteRequest(irp, IO_NO_INCREMENT);
      },
      "past its top stack location");
}

TEST(IrpDeathTest, CompletingWithACancelRoutineSetIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoSetNextIrpStackLocation(irp);
        IoSetCancelRoutine(irp, cancel_routine);
        IoCompleteRequest(irp, IO_NO_INCREMENT);
      },
      "CANCEL_STATE_IN_COMPLETED_IRP");
}

TEST(IrpDeathTest, FreeingDriverMemoryIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        alignas(16) static unsigned char storage[sizeof(IRP) + sizeof(IO_STACK_LOCATION)];
        IoInitializeIrp(reinterpret_cast<PIRP>(storage), sizeof(storage), 1);
        IoFreeIrp(reinterpret_cast<PIRP>(storage));
      },
      "not allocated by IoAllocateIrp");
}

TEST(IrpDeathTest, CallingDownWithNoStackLeftIsNoMoreIrpStackLocations) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static DRIVER_OBJECT driver{};
        PDEVICE_OBJECT device = nullptr;
        IoCreateDevice(&driver, 0, nullptr, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoSetNextIrpStackLocation(irp);
        IoCallDriver(device, irp);
      },
      "NO_MORE_IRP_STACK_LOCATIONS");
}

} // namespace

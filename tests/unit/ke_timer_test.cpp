// Timers, DPCs, time sources and processor queries.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <thread>

#include <wdm.h>

#include "nt/ke/timer.hpp"
#include "support/timing.hpp"

namespace {

using uwsk::test::elapsed_ms;
using uwsk::test::eventually;
using uwsk::test::relative_ms;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// What a DPC routine saw.
struct dpc_record {
  std::atomic<int> runs{0};
  std::atomic<int> irql{-1};
  std::atomic<bool> same_thread_as_test{true};
  std::atomic<PVOID> argument1{nullptr};
  std::atomic<PVOID> argument2{nullptr};
  std::thread::id test_thread = std::this_thread::get_id();
  int stop_after = 0; // set the event after this many runs (0: never)
  KEVENT done;
};

VOID NTAPI record_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2) {
  (void)dpc;
  auto *record = static_cast<dpc_record *>(context);
  record->irql = KeGetCurrentIrql();
  record->same_thread_as_test = std::this_thread::get_id() == record->test_thread;
  record->argument1 = argument1;
  record->argument2 = argument2;
  int runs = ++record->runs;
  if (record->stop_after != 0 && runs == record->stop_after) {
    KeSetEvent(&record->done, IO_NO_INCREMENT, FALSE);
  }
}

// ---- Timers ---------------------------------------------------------------------------------

TEST(KeTimer, InitializedTimerIsNotSetOrSignalled) {
  KTIMER timer;
  KeInitializeTimer(&timer);
  EXPECT_EQ(timer.Header.Type, TimerNotificationObject);
  EXPECT_FALSE(KeReadStateTimer(&timer));
  EXPECT_FALSE(KeCancelTimer(&timer));
  KeInitializeTimerEx(&timer, SynchronizationTimer);
  EXPECT_EQ(timer.Header.Type, TimerSynchronizationObject);
}

TEST(KeTimer, RelativeTimerExpiresAndSignals) {
  KTIMER timer;
  KeInitializeTimer(&timer);
  auto start = clock_type::now();
  EXPECT_FALSE(KeSetTimer(&timer, relative_ms(50), nullptr));
  LARGE_INTEGER timeout = relative_ms(5000);
  EXPECT_EQ(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
  EXPECT_GE(elapsed_ms(start), 45);
  EXPECT_TRUE(KeReadStateTimer(&timer));
  // Expired: no longer set.
  EXPECT_FALSE(KeCancelTimer(&timer));
}

TEST(KeTimer, AbsoluteTimerExpires) {
  KTIMER timer;
  KeInitializeTimer(&timer);
  LARGE_INTEGER due;
  KeQuerySystemTime(&due);
  due.QuadPart += 50 * 10000;
  auto start = clock_type::now();
  KeSetTimer(&timer, due, nullptr);
  EXPECT_EQ(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  long long ms = elapsed_ms(start);
  EXPECT_GE(ms, 40);
  EXPECT_LT(ms, 5000);
}

TEST(KeTimer, SetAgainReturnsTrueAndResetsTheState) {
  KTIMER timer;
  KeInitializeTimer(&timer);
  EXPECT_FALSE(KeSetTimer(&timer, relative_ms(10000), nullptr));
  EXPECT_TRUE(KeSetTimer(&timer, relative_ms(10000), nullptr));
  EXPECT_TRUE(KeCancelTimer(&timer));
  EXPECT_FALSE(KeCancelTimer(&timer));
  // An expired (signalled) timer is reset to not-signalled when set again.
  KeSetTimer(&timer, relative_ms(1), nullptr);
  ASSERT_TRUE(eventually([&] { return KeReadStateTimer(&timer) != FALSE; }));
  EXPECT_FALSE(KeSetTimer(&timer, relative_ms(10000), nullptr));
  EXPECT_FALSE(KeReadStateTimer(&timer));
  EXPECT_TRUE(KeCancelTimer(&timer));
}

TEST(KeTimer, CancelledTimerNeverFires) {
  KTIMER timer;
  KDPC dpc;
  dpc_record record;
  KeInitializeTimer(&timer);
  KeInitializeDpc(&dpc, record_dpc, &record);
  KeSetTimer(&timer, relative_ms(50), &dpc);
  EXPECT_TRUE(KeCancelTimer(&timer));
  LARGE_INTEGER timeout = relative_ms(200);
  EXPECT_EQ(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, &timeout), STATUS_TIMEOUT);
  EXPECT_EQ(record.runs.load(), 0);
}

TEST(KeTimer, SynchronizationTimerResetsWhenWaitedOn) {
  KTIMER timer;
  KeInitializeTimerEx(&timer, SynchronizationTimer);
  KeSetTimer(&timer, relative_ms(10), nullptr);
  EXPECT_EQ(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  EXPECT_FALSE(KeReadStateTimer(&timer));
}

TEST(KeTimer, NotificationTimerReleasesEveryWaiter) {
  KTIMER timer;
  KeInitializeTimer(&timer);
  std::atomic<int> woken{0};
  std::thread a([&] {
    KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, nullptr);
    ++woken;
  });
  std::thread b([&] {
    KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, nullptr);
    ++woken;
  });
  KeSetTimer(&timer, relative_ms(30), nullptr);
  a.join();
  b.join();
  EXPECT_EQ(woken.load(), 2);
  EXPECT_TRUE(KeReadStateTimer(&timer));
}

TEST(KeTimer, TimerDpcRunsAtDispatchLevelOnARuntimeThread) {
  KTIMER timer;
  KDPC dpc;
  dpc_record record;
  record.stop_after = 1;
  KeInitializeEvent(&record.done, NotificationEvent, FALSE);
  KeInitializeTimer(&timer);
  KeInitializeDpc(&dpc, record_dpc, &record);
  KeSetTimer(&timer, relative_ms(10), &dpc);
  LARGE_INTEGER timeout = relative_ms(5000);
  ASSERT_EQ(KeWaitForSingleObject(&record.done, Executive, KernelMode, FALSE, &timeout),
            STATUS_SUCCESS);
  EXPECT_EQ(record.irql.load(), DISPATCH_LEVEL);
  EXPECT_FALSE(record.same_thread_as_test.load());
  EXPECT_TRUE(KeReadStateTimer(&timer));
}

TEST(KeTimer, PeriodicTimerFiresRepeatedly) {
  KTIMER timer;
  KDPC dpc;
  dpc_record record;
  record.stop_after = 5;
  KeInitializeEvent(&record.done, NotificationEvent, FALSE);
  KeInitializeTimerEx(&timer, SynchronizationTimer);
  KeInitializeDpc(&dpc, record_dpc, &record);
  auto start = clock_type::now();
  EXPECT_FALSE(KeSetTimerEx(&timer, relative_ms(10), 10, &dpc));
  LARGE_INTEGER timeout = relative_ms(10000);
  ASSERT_EQ(KeWaitForSingleObject(&record.done, Executive, KernelMode, FALSE, &timeout),
            STATUS_SUCCESS);
  EXPECT_GE(elapsed_ms(start), 45); // 10 ms + 4 periods of 10 ms, at least
  // Still set: a periodic timer stays in the queue until cancelled.
  EXPECT_TRUE(KeCancelTimer(&timer));
  KeFlushQueuedDpcs();
  int runs = record.runs.load();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(record.runs.load(), runs);
}

TEST(KeTimer, CoalescableTimerIsAPeriodicTimer) {
  KTIMER timer;
  KDPC dpc;
  dpc_record record;
  record.stop_after = 2;
  KeInitializeEvent(&record.done, NotificationEvent, FALSE);
  KeInitializeTimer(&timer);
  KeInitializeDpc(&dpc, record_dpc, &record);
  KeSetCoalescableTimer(&timer, relative_ms(5), 5, 100, &dpc);
  LARGE_INTEGER timeout = relative_ms(10000);
  ASSERT_EQ(KeWaitForSingleObject(&record.done, Executive, KernelMode, FALSE, &timeout),
            STATUS_SUCCESS);
  EXPECT_TRUE(KeCancelTimer(&timer));
  KeFlushQueuedDpcs();
}

// ---- DPCs -----------------------------------------------------------------------------------

TEST(KeDpc, InsertQueueDpcRunsTheRoutineWithItsArguments) {
  KDPC dpc;
  dpc_record record;
  record.stop_after = 1;
  KeInitializeEvent(&record.done, NotificationEvent, FALSE);
  KeInitializeDpc(&dpc, record_dpc, &record);
  EXPECT_EQ(dpc.Type, DpcObject);
  int a = 0;
  int b = 0;
  EXPECT_TRUE(KeInsertQueueDpc(&dpc, &a, &b));
  KeFlushQueuedDpcs();
  EXPECT_EQ(record.runs.load(), 1);
  EXPECT_EQ(record.irql.load(), DISPATCH_LEVEL);
  EXPECT_EQ(record.argument1.load(), &a);
  EXPECT_EQ(record.argument2.load(), &b);
  EXPECT_EQ(dpc.DpcData, nullptr);
}

// A DPC routine that holds the DPC thread until released, so that queue state can be observed.
struct blocker {
  std::atomic<bool> running{false};
  std::atomic<bool> release{false};
};

VOID NTAPI blocking_dpc(PKDPC dpc, PVOID context, PVOID, PVOID) {
  (void)dpc;
  auto *b = static_cast<blocker *>(context);
  b->running = true;
  eventually([&] { return b->release.load(); }, 10s);
}

TEST(KeDpc, QueueingTwiceAndRemoving) {
  blocker block;
  KDPC blocking;
  KDPC dpc;
  dpc_record record;
  KeInitializeDpc(&blocking, blocking_dpc, &block);
  KeInitializeDpc(&dpc, record_dpc, &record);
  ASSERT_TRUE(KeInsertQueueDpc(&blocking, nullptr, nullptr));
  ASSERT_TRUE(eventually([&] { return block.running.load(); }));
  EXPECT_TRUE(KeInsertQueueDpc(&dpc, nullptr, nullptr));
  EXPECT_FALSE(KeInsertQueueDpc(&dpc, nullptr, nullptr)); // already queued
  EXPECT_TRUE(KeRemoveQueueDpc(&dpc));
  EXPECT_FALSE(KeRemoveQueueDpc(&dpc));
  block.release = true;
  KeFlushQueuedDpcs();
  EXPECT_EQ(record.runs.load(), 0);
}

TEST(KeDpc, FlushWaitsForRunningAndQueuedDpcs) {
  blocker block;
  KDPC blocking;
  KDPC dpc;
  dpc_record record;
  KeInitializeDpc(&blocking, blocking_dpc, &block);
  KeInitializeThreadedDpc(&dpc, record_dpc, &record);
  EXPECT_EQ(dpc.Type, ThreadedDpcObject);
  KeSetImportanceDpc(&dpc, HighImportance);
  KeSetTargetProcessorDpc(&dpc, 0);
  ASSERT_TRUE(KeInsertQueueDpc(&blocking, nullptr, nullptr));
  ASSERT_TRUE(KeInsertQueueDpc(&dpc, nullptr, nullptr));
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    block.release = true;
  });
  auto start = clock_type::now();
  KeFlushQueuedDpcs();
  EXPECT_GE(elapsed_ms(start), 20);
  EXPECT_EQ(record.runs.load(), 1);
  EXPECT_EQ(record.irql.load(), DISPATCH_LEVEL);
  releaser.join();
}

TEST(KeDpc, DpcCanRequeueItself) {
  struct self_requeue {
    KDPC dpc;
    std::atomic<int> runs{0};
  } state;
  KeInitializeDpc(
      &state.dpc,
      [](PKDPC dpc, PVOID context, PVOID, PVOID) {
        auto *s = static_cast<self_requeue *>(context);
        if (++s->runs < 3) {
          KeInsertQueueDpc(dpc, nullptr, nullptr);
        }
      },
      &state);
  KeInsertQueueDpc(&state.dpc, nullptr, nullptr);
  ASSERT_TRUE(eventually([&] { return state.runs.load() == 3; }));
  KeFlushQueuedDpcs();
  EXPECT_EQ(state.runs.load(), 3);
}

TEST(KeTimerRuntime, PendingTimersAreReportedAndStopForgetsThem) {
  KTIMER timer;
  KDPC dpc;
  dpc_record record;
  KeInitializeTimer(&timer);
  KeInitializeDpc(&dpc, record_dpc, &record);
  KeSetTimer(&timer, relative_ms(60000), &dpc);
  EXPECT_EQ(uwsk::nt::pending_timer_count(), 1U);
  auto lines = uwsk::nt::describe_pending_timers();
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_NE(lines[0].find("timer"), std::string::npos);
  EXPECT_NE(lines[0].find("period 0 ms"), std::string::npos);
  uwsk::nt::stop_timer_thread();
  EXPECT_EQ(uwsk::nt::pending_timer_count(), 0U);
  EXPECT_FALSE(KeCancelTimer(&timer));
  // A new timer starts a new thread.
  KeSetTimer(&timer, relative_ms(5), nullptr);
  EXPECT_EQ(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  uwsk::nt::stop_timer_thread();
}

TEST(KeDpcDeathTest, DpcReturningAtTheWrongIrqlBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KDPC dpc;
        KeInitializeDpc(
            &dpc, [](PKDPC, PVOID, PVOID, PVOID) { KeLowerIrql(PASSIVE_LEVEL); }, nullptr);
        KeInsertQueueDpc(&dpc, nullptr, nullptr);
        KeFlushQueuedDpcs();
      },
      "IRQL_UNEXPECTED_VALUE");
}

TEST(KeDpcDeathTest, WaitingInADpcBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static KEVENT event;
        KeInitializeEvent(&event, NotificationEvent, FALSE);
        KDPC dpc;
        KeInitializeDpc(
            &dpc,
            [](PKDPC, PVOID, PVOID, PVOID) {
              KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, nullptr);
            },
            nullptr);
        KeInsertQueueDpc(&dpc, nullptr, nullptr);
        KeFlushQueuedDpcs();
      },
      "IRQL_NOT_LESS_OR_EQUAL");
}

// ---- Time and processors --------------------------------------------------------------------

TEST(KeTime, SystemTimeIsUtcSince1601) {
  LARGE_INTEGER now;
  KeQuerySystemTime(&now);
  LONGLONG unix_seconds = (now.QuadPart - 116444736000000000LL) / 10000000LL;
  EXPECT_LE(std::llabs(unix_seconds - static_cast<LONGLONG>(std::time(nullptr))), 5);
  LARGE_INTEGER precise;
  KeQuerySystemTimePrecise(&precise);
  EXPECT_GE(precise.QuadPart, now.QuadPart);
}

TEST(KeTime, TickCountAndInterruptTimeAdvance) {
  EXPECT_EQ(KeQueryTimeIncrement(), 156250U);
  LARGE_INTEGER ticks_before;
  KeQueryTickCount(&ticks_before);
  ULONGLONG before = KeQueryInterruptTime();
  std::this_thread::sleep_for(40ms);
  ULONGLONG after = KeQueryInterruptTime();
  EXPECT_GE(after - before, 35ULL * 10000);
  LARGE_INTEGER ticks_after;
  KeQueryTickCount(&ticks_after);
  EXPECT_GE(ticks_after.QuadPart, ticks_before.QuadPart + 1);
  EXPECT_EQ(static_cast<ULONGLONG>(ticks_after.QuadPart), KeQueryInterruptTime() / 156250ULL);
  ULONG64 qpc = 0;
  EXPECT_GE(KeQueryInterruptTimePrecise(&qpc), after);
  EXPECT_NE(qpc, 0U);
  EXPECT_GT(KeQueryUnbiasedInterruptTime(), 0U);
  EXPECT_GT(KeQueryUnbiasedInterruptTimePrecise(&qpc), 0U);
}

TEST(KeTime, PerformanceCounterRunsAtTenMegahertz) {
  LARGE_INTEGER frequency{};
  LARGE_INTEGER first = KeQueryPerformanceCounter(&frequency);
  EXPECT_EQ(frequency.QuadPart, 10000000);
  std::this_thread::sleep_for(20ms);
  LARGE_INTEGER second = KeQueryPerformanceCounter(nullptr);
  EXPECT_GE(second.QuadPart - first.QuadPart, 15 * 10000);
}

TEST(KeProcessors, CountsAndCurrentNumber) {
  KAFFINITY affinity = 0;
  ULONG count = KeQueryActiveProcessorCount(&affinity);
  EXPECT_GE(count, 1U);
  EXPECT_NE(affinity, 0U);
  EXPECT_EQ(KeQueryActiveProcessors(), affinity);
  EXPECT_EQ(KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS), count);
  EXPECT_EQ(KeQueryActiveProcessorCountEx(0), count);
  EXPECT_EQ(KeQueryActiveProcessorCountEx(1), 0U);
  EXPECT_GE(KeQueryMaximumProcessorCount(), count);
  EXPECT_EQ(KeQueryMaximumProcessorCountEx(0), KeQueryMaximumProcessorCount());
  EXPECT_EQ(KeQueryActiveGroupCount(), 1);
  EXPECT_EQ(KeQueryMaximumGroupCount(), 1);
  EXPECT_EQ(static_cast<ULONG>(KeNumberProcessors), count);
  EXPECT_LT(KeGetCurrentProcessorNumber(), KeQueryMaximumProcessorCount());
  PROCESSOR_NUMBER number{};
  ULONG index = KeGetCurrentProcessorNumberEx(&number);
  EXPECT_EQ(number.Group, 0);
  EXPECT_EQ(index, number.Number);
  EXPECT_LT(KeGetCurrentProcessorIndex(), KeQueryMaximumProcessorCount());
  EXPECT_GE(KeGetRecommendedSharedDataAlignment(), 16U);
  KFLOATING_SAVE save;
  EXPECT_EQ(KeSaveFloatingPointState(&save), STATUS_SUCCESS);
  EXPECT_EQ(KeRestoreFloatingPointState(&save), STATUS_SUCCESS);
}

} // namespace

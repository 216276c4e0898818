// KeWaitForSingleObject / KeWaitForMultipleObjects / KeDelayExecutionThread: timeouts
// (relative, absolute, zero, infinite), WaitAny and WaitAll, wait-block arrays, and the IRQL
// rules.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <wdm.h>

#include "nt/ke/dispatcher.hpp"
#include "support/timing.hpp"

namespace {

using uwsk::test::elapsed_ms;
using uwsk::test::eventually;
using uwsk::test::relative_ms;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

TEST(KeWait, ZeroTimeoutPolls) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  LARGE_INTEGER zero{};
  auto start = clock_type::now();
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
  EXPECT_LT(elapsed_ms(start), 1000);
}

TEST(KeWait, RelativeTimeoutExpires) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  LARGE_INTEGER timeout = relative_ms(100);
  auto start = clock_type::now();
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout), STATUS_TIMEOUT);
  long long ms = elapsed_ms(start);
  EXPECT_GE(ms, 90);
  EXPECT_LT(ms, 5000);
  EXPECT_EQ(uwsk::nt::dispatcher_waiter_count(&event.Header), 0U);
}

TEST(KeWait, AbsoluteTimeoutExpires) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  LARGE_INTEGER deadline;
  KeQuerySystemTime(&deadline);
  deadline.QuadPart += 100 * 10000;
  auto start = clock_type::now();
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &deadline), STATUS_TIMEOUT);
  long long ms = elapsed_ms(start);
  EXPECT_GE(ms, 90);
  EXPECT_LT(ms, 5000);
}

TEST(KeWait, AbsoluteTimeoutInThePastDoesNotBlock) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  LARGE_INTEGER deadline;
  KeQuerySystemTime(&deadline);
  deadline.QuadPart -= 10 * 10000000LL;
  auto start = clock_type::now();
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &deadline), STATUS_TIMEOUT);
  EXPECT_LT(elapsed_ms(start), 1000);
}

TEST(KeWait, SignalledObjectSatisfiesEvenAPastDeadline) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, TRUE);
  LARGE_INTEGER deadline;
  deadline.QuadPart = 1; // 1601
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &deadline), STATUS_SUCCESS);
}

TEST(KeWait, InfiniteWaitEndsWhenSignalled) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  std::thread setter([&] {
    std::this_thread::sleep_for(50ms);
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
  });
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  setter.join();
}

TEST(KeWait, SignalBeforeTimeoutReturnsSuccess) {
  KEVENT event;
  KeInitializeEvent(&event, SynchronizationEvent, FALSE);
  std::thread setter([&] {
    ASSERT_TRUE(eventually([&] { return uwsk::nt::dispatcher_waiter_count(&event.Header) == 1; }));
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
  });
  LARGE_INTEGER timeout = relative_ms(10000);
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
  setter.join();
  EXPECT_EQ(KeReadStateEvent(&event), 0);
}

TEST(KeWait, AlertableWaitIsNeverAlerted) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  LARGE_INTEGER timeout = relative_ms(20);
  EXPECT_EQ(KeWaitForSingleObject(&event, UserRequest, UserMode, TRUE, &timeout), STATUS_TIMEOUT);
}

TEST(KeWait, WaitAnyReturnsLowestSignalledIndex) {
  KEVENT events[3];
  for (auto &e : events) {
    KeInitializeEvent(&e, NotificationEvent, FALSE);
  }
  PVOID objects[3] = {&events[0], &events[1], &events[2]};
  LARGE_INTEGER zero{};
  EXPECT_EQ(
      KeWaitForMultipleObjects(3, objects, WaitAny, Executive, KernelMode, FALSE, &zero, nullptr),
      STATUS_TIMEOUT);
  KeSetEvent(&events[2], IO_NO_INCREMENT, FALSE);
  EXPECT_EQ(
      KeWaitForMultipleObjects(3, objects, WaitAny, Executive, KernelMode, FALSE, &zero, nullptr),
      STATUS_WAIT_0 + 2);
  KeSetEvent(&events[1], IO_NO_INCREMENT, FALSE);
  EXPECT_EQ(
      KeWaitForMultipleObjects(3, objects, WaitAny, Executive, KernelMode, FALSE, &zero, nullptr),
      STATUS_WAIT_0 + 1);
}

TEST(KeWait, WaitAnyBlocksUntilOneIsSignalled) {
  KEVENT events[3];
  for (auto &e : events) {
    KeInitializeEvent(&e, SynchronizationEvent, FALSE);
  }
  PVOID objects[3] = {&events[0], &events[1], &events[2]};
  std::thread setter([&] {
    ASSERT_TRUE(
        eventually([&] { return uwsk::nt::dispatcher_waiter_count(&events[1].Header) == 1; }));
    KeSetEvent(&events[1], IO_NO_INCREMENT, FALSE);
  });
  EXPECT_EQ(
      KeWaitForMultipleObjects(3, objects, WaitAny, Executive, KernelMode, FALSE, nullptr, nullptr),
      STATUS_WAIT_0 + 1);
  setter.join();
  // The satisfied wait consumed only the event that released it, and left no wait blocks.
  EXPECT_EQ(KeReadStateEvent(&events[1]), 0);
  for (auto &e : events) {
    EXPECT_EQ(uwsk::nt::dispatcher_waiter_count(&e.Header), 0U);
  }
}

TEST(KeWait, MoreThanThreeObjectsUseTheCallersWaitBlocks) {
  constexpr ULONG count = 10;
  KEVENT events[count];
  PVOID objects[count];
  KWAIT_BLOCK blocks[count];
  for (ULONG i = 0; i < count; ++i) {
    KeInitializeEvent(&events[i], NotificationEvent, FALSE);
    objects[i] = &events[i];
  }
  std::thread setter([&] {
    ASSERT_TRUE(
        eventually([&] { return uwsk::nt::dispatcher_waiter_count(&events[7].Header) == 1; }));
    KeSetEvent(&events[7], IO_NO_INCREMENT, FALSE);
  });
  LARGE_INTEGER timeout = relative_ms(10000);
  EXPECT_EQ(KeWaitForMultipleObjects(count, objects, WaitAny, Executive, KernelMode, FALSE,
                                     &timeout, blocks),
            STATUS_WAIT_0 + 7);
  setter.join();
}

TEST(KeWait, WaitAllWaitsForEveryObject) {
  KEVENT first;
  KEVENT second;
  KSEMAPHORE semaphore;
  KeInitializeEvent(&first, SynchronizationEvent, FALSE);
  KeInitializeEvent(&second, NotificationEvent, FALSE);
  KeInitializeSemaphore(&semaphore, 2, 10);
  PVOID objects[3] = {&first, &second, &semaphore};
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    LARGE_INTEGER timeout = relative_ms(10000);
    EXPECT_EQ(KeWaitForMultipleObjects(3, objects, WaitAll, Executive, KernelMode, FALSE, &timeout,
                                       nullptr),
              STATUS_SUCCESS);
    returned = true;
  });
  ASSERT_TRUE(eventually([&] { return uwsk::nt::dispatcher_waiter_count(&first.Header) == 1; }));
  KeSetEvent(&first, IO_NO_INCREMENT, FALSE);
  std::this_thread::sleep_for(30ms);
  EXPECT_FALSE(returned.load());
  // Not satisfied, so nothing was consumed.
  EXPECT_NE(KeReadStateEvent(&first), 0);
  EXPECT_EQ(KeReadStateSemaphore(&semaphore), 2);
  KeSetEvent(&second, IO_NO_INCREMENT, FALSE);
  waiter.join();
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(KeReadStateEvent(&first), 0);  // synchronization: consumed
  EXPECT_NE(KeReadStateEvent(&second), 0); // notification: stays
  EXPECT_EQ(KeReadStateSemaphore(&semaphore), 1);
}

TEST(KeWait, WaitAllPollDoesNotConsumePartially) {
  KEVENT a;
  KEVENT b;
  KeInitializeEvent(&a, SynchronizationEvent, TRUE);
  KeInitializeEvent(&b, SynchronizationEvent, FALSE);
  PVOID objects[2] = {&a, &b};
  LARGE_INTEGER zero{};
  EXPECT_EQ(
      KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, &zero, nullptr),
      STATUS_TIMEOUT);
  EXPECT_NE(KeReadStateEvent(&a), 0);
  KeSetEvent(&b, IO_NO_INCREMENT, FALSE);
  EXPECT_EQ(
      KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, &zero, nullptr),
      STATUS_SUCCESS);
  EXPECT_EQ(KeReadStateEvent(&a), 0);
  EXPECT_EQ(KeReadStateEvent(&b), 0);
}

TEST(KeWait, WaitAllTimesOutAndUnlinks) {
  KEVENT a;
  KEVENT b;
  KeInitializeEvent(&a, NotificationEvent, TRUE);
  KeInitializeEvent(&b, NotificationEvent, FALSE);
  PVOID objects[2] = {&a, &b};
  LARGE_INTEGER timeout = relative_ms(50);
  auto start = clock_type::now();
  EXPECT_EQ(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, &timeout,
                                     nullptr),
            STATUS_TIMEOUT);
  EXPECT_GE(elapsed_ms(start), 45);
  EXPECT_EQ(uwsk::nt::dispatcher_waiter_count(&a.Header), 0U);
  EXPECT_EQ(uwsk::nt::dispatcher_waiter_count(&b.Header), 0U);
}

TEST(KeWait, WaitAllAndWaitAnyCompeteFairly) {
  // A WaitAny waiter on a synchronization event and a WaitAll waiter on (that event, gate):
  // each signal of the event satisfies exactly one of them.
  KEVENT shared;
  KEVENT gate;
  KeInitializeEvent(&shared, SynchronizationEvent, FALSE);
  KeInitializeEvent(&gate, NotificationEvent, TRUE);
  std::atomic<int> done{0};
  std::thread any([&] {
    EXPECT_EQ(KeWaitForSingleObject(&shared, Executive, KernelMode, FALSE, nullptr),
              STATUS_SUCCESS);
    ++done;
  });
  std::thread all([&] {
    PVOID objects[2] = {&shared, &gate};
    EXPECT_EQ(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, nullptr,
                                       nullptr),
              STATUS_SUCCESS);
    ++done;
  });
  ASSERT_TRUE(eventually([&] { return uwsk::nt::dispatcher_waiter_count(&shared.Header) == 2; }));
  KeSetEvent(&shared, IO_NO_INCREMENT, FALSE);
  ASSERT_TRUE(eventually([&] { return done.load() == 1; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(done.load(), 1);
  KeSetEvent(&shared, IO_NO_INCREMENT, FALSE);
  any.join();
  all.join();
  EXPECT_EQ(done.load(), 2);
}

TEST(KeWait, SignalsAreNeitherLostNorTakenTwice) {
  // Single waits and a WaitAll over two synchronization events compete for the signals of a
  // setter on a third thread: every signal a set makes (one that returned 0) is taken by
  // exactly one wait or is still there at the end.
  KEVENT first;
  KEVENT second;
  KeInitializeEvent(&first, SynchronizationEvent, FALSE);
  KeInitializeEvent(&second, SynchronizationEvent, FALSE);
  std::atomic<bool> stop{false};
  std::atomic<long> made_first{0};
  std::atomic<long> made_second{0};
  std::atomic<long> taken_single{0};
  std::atomic<long> taken_all{0};
  LARGE_INTEGER timeout = relative_ms(1);
  std::thread single([&] {
    while (!stop.load()) {
      if (KeWaitForSingleObject(&first, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS) {
        ++taken_single;
      }
    }
  });
  std::thread all([&] {
    PVOID objects[2] = {&first, &second};
    while (!stop.load()) {
      if (KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, &timeout,
                                   nullptr) == STATUS_SUCCESS) {
        ++taken_all;
      }
    }
  });
  std::thread setter([&] {
    const auto end = clock_type::now() + 300ms;
    for (int i = 0; i < 200000 && clock_type::now() < end; ++i) {
      if (KeSetEvent(&first, IO_NO_INCREMENT, FALSE) == 0) {
        ++made_first;
      }
      if (i % 2 == 0 && KeSetEvent(&second, IO_NO_INCREMENT, FALSE) == 0) {
        ++made_second;
      }
    }
  });
  setter.join();
  stop = true;
  single.join();
  all.join();
  EXPECT_GT(taken_single.load() + taken_all.load(), 0);
  EXPECT_EQ(made_first.load(), taken_single.load() + taken_all.load() + KeReadStateEvent(&first));
  EXPECT_EQ(made_second.load(), taken_all.load() + KeReadStateEvent(&second));
  EXPECT_EQ(uwsk::nt::dispatcher_waiter_count(&first.Header), 0u);
  EXPECT_EQ(uwsk::nt::dispatcher_waiter_count(&second.Header), 0u);
}

TEST(KeWait, AWaiterMayReuseItsEventAsSoonAsItsWaitReturns) {
  // The synchronous IRP pattern: a stack event, set by another thread, initialised again for
  // the next call the moment the wait returns. KeSetEvent must be done with the event by then
  // (ThreadSanitizer reports it otherwise, as it did for a set that published the state before
  // looking at the wait list).
  std::atomic<PKEVENT> handed{nullptr};
  std::atomic<bool> stop{false};
  std::thread setter([&] {
    while (!stop.load()) {
      if (PKEVENT event = handed.exchange(nullptr)) {
        KeSetEvent(event, IO_NO_INCREMENT, FALSE);
      }
    }
  });
  const auto end = clock_type::now() + 300ms;
  int rounds = 0;
  for (; rounds < 20000 && clock_type::now() < end; ++rounds) {
    KEVENT event;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    handed.store(&event);
    LARGE_INTEGER timeout = relative_ms(5000);
    ASSERT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS)
        << "round " << rounds;
  }
  stop = true;
  setter.join();
  EXPECT_GT(rounds, 0);
}

TEST(KeWait, AWaiterMayFreeItsHeapEventAsSoonAsItsWaitReturns) {
  // Four threads each wait on a heap event of their own, deleted the moment the wait returns;
  // two setters set whatever event is handed to them. A set that touched an event after the
  // wait it satisfied returned is a use after free (AddressSanitizer) or a race
  // (ThreadSanitizer). The set comes before or after the wait blocks as it happens, so sets
  // without the lock and under it are both made; the rounds alternate the two event types.
  constexpr int waiter_count = 4;
  std::atomic<PKEVENT> handed[waiter_count] = {};
  std::atomic<bool> stop{false};
  std::atomic<long> sets{0};
  std::atomic<long> rounds{0};
  std::atomic<long> failures{0};
  auto set_handed = [&] {
    while (!stop.load()) {
      for (auto &slot : handed) {
        if (PKEVENT event = slot.exchange(nullptr)) {
          if (KeSetEvent(event, IO_NO_INCREMENT, FALSE) != 0) {
            ++failures; // each event is set once, so always from 0
          }
          ++sets;
        }
      }
    }
  };
  std::thread setters[2] = {std::thread(set_handed), std::thread(set_handed)};
  auto wait_rounds = [&](int index) {
    const auto end = clock_type::now() + 300ms;
    for (int round = 0; round < 5000 && clock_type::now() < end; ++round) {
      auto *event = new KEVENT;
      KeInitializeEvent(event, round % 2 == 0 ? SynchronizationEvent : NotificationEvent, FALSE);
      handed[index].store(event);
      LARGE_INTEGER timeout = relative_ms(5000);
      if (KeWaitForSingleObject(event, Executive, KernelMode, FALSE, &timeout) != STATUS_SUCCESS) {
        ++failures; // the event may still be set: leave it allocated
        return;
      }
      delete event;
      ++rounds;
    }
  };
  std::vector<std::thread> waiters;
  for (int i = 0; i < waiter_count; ++i) {
    waiters.emplace_back(wait_rounds, i);
  }
  for (auto &waiter : waiters) {
    waiter.join();
  }
  stop = true;
  for (auto &setter : setters) {
    setter.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(rounds.load(), 0);
  EXPECT_EQ(sets.load(), rounds.load());
}

TEST(KeWait, ALinkedWaiterMayFreeItsEventAsSoonAsItsWaitReturns) {
  // The same with the waiter surely blocked (its wait block linked) before the set, which then
  // satisfies it under the dispatcher lock: the setter is done with the event before the wait
  // returns.
  for (int round = 0; round < 50; ++round) {
    std::atomic<PKEVENT> published{nullptr};
    std::thread waiter([&] {
      auto *event = new KEVENT;
      KeInitializeEvent(event, round % 2 == 0 ? SynchronizationEvent : NotificationEvent, FALSE);
      published.store(event);
      EXPECT_EQ(KeWaitForSingleObject(event, Executive, KernelMode, FALSE, nullptr),
                STATUS_SUCCESS);
      delete event;
    });
    ASSERT_TRUE(eventually([&] { return published.load() != nullptr; }));
    PKEVENT event = published.load();
    ASSERT_TRUE(eventually([&] { return uwsk::nt::dispatcher_waiter_count(&event->Header) == 1; }));
    EXPECT_EQ(KeSetEvent(event, IO_NO_INCREMENT, FALSE), 0) << "round " << round;
    waiter.join();
  }
}

TEST(KeWait, EveryWayAWaitEndsLeavesItsEventsToSetsWithoutTheLock) {
  // An event's "held" flag (dispatcher.hpp) is set while a wait block is linked on it; once the
  // last one is unlinked, however the wait ended, it is clear again, so that the next set and
  // wait skip the dispatcher lock.
  using uwsk::nt::event_held_by_lock;
  KEVENT first;
  KEVENT second;
  KeInitializeEvent(&first, SynchronizationEvent, FALSE);
  KeInitializeEvent(&second, NotificationEvent, FALSE);
  PVOID both[2] = {&first, &second};
  auto released = [&] {
    return !event_held_by_lock(&first.Header) && !event_held_by_lock(&second.Header) &&
           uwsk::nt::dispatcher_waiter_count(&first.Header) == 0 &&
           uwsk::nt::dispatcher_waiter_count(&second.Header) == 0;
  };
  LARGE_INTEGER short_wait = relative_ms(1);
  LARGE_INTEGER zero{};

  // Timed out, on one object and on two.
  EXPECT_EQ(KeWaitForSingleObject(&first, Executive, KernelMode, FALSE, &short_wait),
            STATUS_TIMEOUT);
  EXPECT_TRUE(released());
  EXPECT_EQ(KeWaitForMultipleObjects(2, both, WaitAny, Executive, KernelMode, FALSE, &short_wait,
                                     nullptr),
            STATUS_TIMEOUT);
  EXPECT_TRUE(released());
  EXPECT_EQ(
      KeWaitForMultipleObjects(2, both, WaitAll, Executive, KernelMode, FALSE, &zero, nullptr),
      STATUS_TIMEOUT);
  EXPECT_TRUE(released());

  // Satisfied at once under the lock (a WaitAll never waits without it).
  EXPECT_EQ(KeSetEvent(&first, IO_NO_INCREMENT, FALSE), 0);
  EXPECT_EQ(KeSetEvent(&second, IO_NO_INCREMENT, FALSE), 0);
  EXPECT_EQ(
      KeWaitForMultipleObjects(2, both, WaitAll, Executive, KernelMode, FALSE, nullptr, nullptr),
      STATUS_SUCCESS);
  EXPECT_TRUE(released());
  EXPECT_EQ(KeReadStateEvent(&first), 0);
  EXPECT_EQ(KeResetEvent(&second), 1);

  // Satisfied by a set of the other object: a WaitAny woken by the second event releases the
  // first, and a WaitAll completed by the second event's set releases the first, which an
  // earlier set could not satisfy it with alone.
  for (WAIT_TYPE type : {WaitAny, WaitAll}) {
    std::atomic<NTSTATUS> status{STATUS_PENDING};
    std::thread waiter([&] {
      status =
          KeWaitForMultipleObjects(2, both, type, Executive, KernelMode, FALSE, nullptr, nullptr);
    });
    ASSERT_TRUE(eventually([&] {
      return uwsk::nt::dispatcher_waiter_count(&first.Header) == 1 &&
             uwsk::nt::dispatcher_waiter_count(&second.Header) == 1;
    }));
    EXPECT_TRUE(event_held_by_lock(&first.Header));
    EXPECT_TRUE(event_held_by_lock(&second.Header));
    if (type == WaitAll) {
      EXPECT_EQ(KeSetEvent(&first, IO_NO_INCREMENT, FALSE), 0);
      EXPECT_TRUE(event_held_by_lock(&first.Header)); // still linked: the wait needs both
    }
    EXPECT_EQ(KeSetEvent(&second, IO_NO_INCREMENT, FALSE), 0);
    waiter.join();
    EXPECT_EQ(status.load(), type == WaitAny ? STATUS_WAIT_1 : STATUS_WAIT_0);
    EXPECT_TRUE(released());
    EXPECT_EQ(KeReadStateEvent(&first), 0);
    EXPECT_EQ(KeResetEvent(&second), 1);
  }

  // Satisfied by a set of its one object.
  std::thread waiter([&] {
    EXPECT_EQ(KeWaitForSingleObject(&first, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  });
  ASSERT_TRUE(eventually([&] { return uwsk::nt::dispatcher_waiter_count(&first.Header) == 1; }));
  EXPECT_EQ(KeSetEvent(&first, IO_NO_INCREMENT, FALSE), 0);
  waiter.join();
  EXPECT_TRUE(released());
}

TEST(KeWait, SixtyFourObjectsWaitAll) {
  constexpr ULONG count = MAXIMUM_WAIT_OBJECTS;
  std::vector<KEVENT> events(count);
  std::vector<PVOID> objects(count);
  std::vector<KWAIT_BLOCK> blocks(count);
  for (ULONG i = 0; i < count; ++i) {
    KeInitializeEvent(&events[i], NotificationEvent, FALSE);
    objects[i] = &events[i];
  }
  std::thread setter([&] {
    ASSERT_TRUE(eventually(
        [&] { return uwsk::nt::dispatcher_waiter_count(&events[count - 1].Header) == 1; }));
    for (ULONG i = 0; i < count; ++i) {
      KeSetEvent(&events[i], IO_NO_INCREMENT, FALSE);
    }
  });
  LARGE_INTEGER timeout = relative_ms(10000);
  EXPECT_EQ(KeWaitForMultipleObjects(count, objects.data(), WaitAll, Executive, KernelMode, FALSE,
                                     &timeout, blocks.data()),
            STATUS_SUCCESS);
  setter.join();
}

TEST(KeWait, PollAtDispatchLevelIsAllowed) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  LARGE_INTEGER zero{};
  KIRQL old = KeRaiseIrqlToDpcLevel();
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
  KeLowerIrql(old);
}

TEST(KeWait, WaitAtApcLevelIsAllowed) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, TRUE);
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  KeLowerIrql(old);
}

TEST(KeWait, DelayExecutionSleeps) {
  LARGE_INTEGER interval = relative_ms(50);
  auto start = clock_type::now();
  EXPECT_EQ(KeDelayExecutionThread(KernelMode, FALSE, &interval), STATUS_SUCCESS);
  long long ms = elapsed_ms(start);
  EXPECT_GE(ms, 45);
  EXPECT_LT(ms, 5000);
  LARGE_INTEGER zero{};
  EXPECT_EQ(KeDelayExecutionThread(KernelMode, TRUE, &zero), STATUS_SUCCESS);
  LARGE_INTEGER absolute;
  KeQuerySystemTime(&absolute);
  absolute.QuadPart += 30 * 10000;
  start = clock_type::now();
  EXPECT_EQ(KeDelayExecutionThread(KernelMode, FALSE, &absolute), STATUS_SUCCESS);
  EXPECT_GE(elapsed_ms(start), 25);
}

TEST(KeWait, StallExecutionProcessorBusyWaits) {
  auto start = clock_type::now();
  KIRQL old = KeRaiseIrqlToDpcLevel(); // allowed at any IRQL
  KeStallExecutionProcessor(2000);
  KeLowerIrql(old);
  long long us =
      std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - start).count();
  EXPECT_GE(us, 2000);
}

TEST(KeWaitDeathTest, BlockingWaitAtDispatchLevelBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KEVENT event;
        KeInitializeEvent(&event, NotificationEvent, TRUE);
        KeRaiseIrqlToDpcLevel();
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, nullptr);
      },
      "IRQL_NOT_LESS_OR_EQUAL");
}

TEST(KeWaitDeathTest, TimedWaitWhileHoldingSpinLockBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KEVENT event;
        KSPIN_LOCK lock;
        KIRQL old;
        KeInitializeEvent(&event, NotificationEvent, FALSE);
        KeInitializeSpinLock(&lock);
        KeAcquireSpinLock(&lock, &old);
        LARGE_INTEGER timeout = relative_ms(10);
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout);
      },
      "IRQL_NOT_LESS_OR_EQUAL");
}

TEST(KeWaitDeathTest, DelayAtDispatchLevelBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KeRaiseIrqlToDpcLevel();
        LARGE_INTEGER interval = relative_ms(1);
        KeDelayExecutionThread(KernelMode, FALSE, &interval);
      },
      "IRQL_NOT_LESS_OR_EQUAL");
}

TEST(KeWaitDeathTest, FourObjectsWithoutWaitBlocksBugCheck) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KEVENT events[4];
        PVOID objects[4];
        for (int i = 0; i < 4; ++i) {
          KeInitializeEvent(&events[i], NotificationEvent, TRUE);
          objects[i] = &events[i];
        }
        KeWaitForMultipleObjects(4, objects, WaitAny, Executive, KernelMode, FALSE, nullptr,
                                 nullptr);
      },
      "MAXIMUM_WAIT_OBJECTS_EXCEEDED");
}

TEST(KeWaitDeathTest, WaitOnUninitialisedMemoryBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KEVENT event{};
        LARGE_INTEGER zero{};
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero);
      },
      "not an initialised dispatcher object");
}

} // namespace

// Kernel events: notification vs synchronization semantics, KeSetEvent/KeResetEvent return
// values, pulse, and many waiters.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <wdm.h>

#include "nt/ke/dispatcher.hpp"
#include "support/timing.hpp"

namespace {

using uwsk::test::eventually;
using uwsk::test::relative_ms;
using namespace std::chrono_literals;

size_t waiters(KEVENT &event) {
  return uwsk::nt::dispatcher_waiter_count(&event.Header);
}

TEST(KeEvent, InitializeSetsTypeAndState) {
  KEVENT notification;
  KEVENT synchronization;
  KeInitializeEvent(&notification, NotificationEvent, TRUE);
  KeInitializeEvent(&synchronization, SynchronizationEvent, FALSE);
  EXPECT_EQ(notification.Header.Type, EventNotificationObject);
  EXPECT_EQ(synchronization.Header.Type, EventSynchronizationObject);
  EXPECT_EQ(notification.Header.Size, sizeof(KEVENT) / sizeof(LONG));
  EXPECT_NE(KeReadStateEvent(&notification), 0);
  EXPECT_EQ(KeReadStateEvent(&synchronization), 0);
}

TEST(KeEvent, SetEventReturnsPreviousState) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  EXPECT_EQ(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
  EXPECT_NE(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
  EXPECT_NE(KeReadStateEvent(&event), 0);
}

TEST(KeEvent, ResetAndClearMakeNotSignalled) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, TRUE);
  EXPECT_NE(KeResetEvent(&event), 0);
  EXPECT_EQ(KeResetEvent(&event), 0);
  EXPECT_EQ(KeReadStateEvent(&event), 0);
  KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
  KeClearEvent(&event);
  EXPECT_EQ(KeReadStateEvent(&event), 0);
}

TEST(KeEvent, NotificationEventStaysSignalledForEveryWait) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, TRUE);
  LARGE_INTEGER zero{};
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
  EXPECT_NE(KeReadStateEvent(&event), 0);
}

TEST(KeEvent, SynchronizationEventSatisfiesOneWaitAndResets) {
  KEVENT event;
  KeInitializeEvent(&event, SynchronizationEvent, TRUE);
  LARGE_INTEGER zero{};
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
  EXPECT_EQ(KeReadStateEvent(&event), 0);
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
}

TEST(KeEvent, NotificationEventReleasesAllWaiters) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  constexpr int thread_count = 4;
  std::atomic<int> woken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < thread_count; ++i) {
    threads.emplace_back([&] {
      EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, nullptr),
                STATUS_SUCCESS);
      ++woken;
    });
  }
  ASSERT_TRUE(eventually([&] { return waiters(event) == thread_count; }));
  EXPECT_EQ(woken.load(), 0);
  EXPECT_EQ(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_EQ(woken.load(), thread_count);
  EXPECT_NE(KeReadStateEvent(&event), 0);
  EXPECT_EQ(waiters(event), 0U);
}

TEST(KeEvent, SynchronizationEventReleasesOneWaiterPerSet) {
  KEVENT event;
  KeInitializeEvent(&event, SynchronizationEvent, FALSE);
  constexpr int thread_count = 3;
  std::atomic<int> woken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < thread_count; ++i) {
    threads.emplace_back([&] {
      EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, nullptr),
                STATUS_SUCCESS);
      ++woken;
    });
  }
  ASSERT_TRUE(eventually([&] { return waiters(event) == thread_count; }));
  for (int round = 1; round <= thread_count; ++round) {
    EXPECT_EQ(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    ASSERT_TRUE(eventually([&] { return woken.load() == round; }));
    // The event was consumed by the one waiter it released.
    EXPECT_EQ(KeReadStateEvent(&event), 0);
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(woken.load(), round);
  }
  for (auto &t : threads) {
    t.join();
  }
}

TEST(KeEvent, PulseWakesWaitersAndLeavesEventReset) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  std::atomic<bool> woken{false};
  std::thread waiter([&] {
    EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
    woken = true;
  });
  ASSERT_TRUE(eventually([&] { return waiters(event) == 1; }));
  EXPECT_EQ(KePulseEvent(&event, IO_NO_INCREMENT, FALSE), 0);
  waiter.join();
  EXPECT_TRUE(woken.load());
  EXPECT_EQ(KeReadStateEvent(&event), 0);
  // Without waiters a pulse leaves nothing behind.
  EXPECT_EQ(KePulseEvent(&event, IO_NO_INCREMENT, FALSE), 0);
  EXPECT_EQ(KeReadStateEvent(&event), 0);
}

TEST(KeEvent, SetWithWaitTrueIsAcceptedAtPassive) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  EXPECT_EQ(KeSetEvent(&event, IO_NO_INCREMENT, TRUE), 0);
  EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
}

TEST(KeEvent, SetAtDispatchLevelIsAllowed) {
  KEVENT event;
  KeInitializeEvent(&event, SynchronizationEvent, FALSE);
  KIRQL old = KeRaiseIrqlToDpcLevel();
  EXPECT_EQ(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
  KeLowerIrql(old);
  EXPECT_NE(KeReadStateEvent(&event), 0);
}

TEST(KeEvent, PingPongBetweenTwoThreads) {
  KEVENT ping;
  KEVENT pong;
  KeInitializeEvent(&ping, SynchronizationEvent, FALSE);
  KeInitializeEvent(&pong, SynchronizationEvent, FALSE);
  constexpr int rounds = 2000;
  int value = 0; // handed over by the events (TSan checks the happens-before)
  std::thread other([&] {
    for (int i = 0; i < rounds; ++i) {
      LARGE_INTEGER timeout = relative_ms(5000);
      ASSERT_EQ(KeWaitForSingleObject(&ping, Executive, KernelMode, FALSE, &timeout),
                STATUS_SUCCESS);
      ++value;
      KeSetEvent(&pong, IO_NO_INCREMENT, FALSE);
    }
  });
  for (int i = 0; i < rounds; ++i) {
    ++value;
    KeSetEvent(&ping, IO_NO_INCREMENT, FALSE);
    LARGE_INTEGER timeout = relative_ms(5000);
    ASSERT_EQ(KeWaitForSingleObject(&pong, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
  }
  other.join();
  EXPECT_EQ(value, 2 * rounds);
}

TEST(KeEvent, SetResetAndTakeWithoutTheLockWhileNobodyWaits) {
  // With the dispatcher lock held by this thread, another thread sets, resets, reads and takes
  // events nobody waits on: none of that needs the lock (dispatcher.hpp rule 2). Were one to
  // take it, the thread would not finish until the lock is given back below.
  std::atomic<bool> finished{false};
  std::unique_lock lock(uwsk::nt::dispatcher_lock());
  std::thread other([&] {
    LARGE_INTEGER zero{};
    KEVENT sync;
    KeInitializeEvent(&sync, SynchronizationEvent, FALSE);
    EXPECT_EQ(KeWaitForSingleObject(&sync, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
    EXPECT_EQ(KeSetEvent(&sync, IO_NO_INCREMENT, FALSE), 0);
    EXPECT_EQ(KeSetEvent(&sync, IO_NO_INCREMENT, TRUE), 1);
    EXPECT_EQ(KeReadStateEvent(&sync), 1);
    EXPECT_EQ(KeWaitForSingleObject(&sync, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
    EXPECT_EQ(KeReadStateEvent(&sync), 0);
    EXPECT_EQ(KeWaitForSingleObject(&sync, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
    KEVENT notification;
    KeInitializeEvent(&notification, NotificationEvent, FALSE);
    EXPECT_EQ(KeSetEvent(&notification, IO_NO_INCREMENT, FALSE), 0);
    EXPECT_EQ(KeWaitForSingleObject(&notification, Executive, KernelMode, FALSE, nullptr),
              STATUS_SUCCESS);
    EXPECT_EQ(KeWaitForSingleObject(&notification, Executive, KernelMode, FALSE, &zero),
              STATUS_SUCCESS);
    EXPECT_EQ(KeResetEvent(&notification), 1);
    EXPECT_EQ(KeResetEvent(&notification), 0);
    KeSetEvent(&notification, IO_NO_INCREMENT, FALSE);
    KeClearEvent(&notification);
    EXPECT_EQ(KeReadStateEvent(&notification), 0);
    finished = true;
  });
  EXPECT_TRUE(eventually([&] { return finished.load(); }));
  lock.unlock();
  other.join();
}

TEST(KeEvent, DriversReadTypeSizeAndAZeroOrOneSignalState) {
  // Drivers read Header.SignalState (and Type and Size) directly. The runtime's flag shares the
  // header's first 8 bytes with them (dispatcher.hpp) but shows in none of them, waiter linked
  // or not.
  for (EVENT_TYPE type : {SynchronizationEvent, NotificationEvent}) {
    const UCHAR object_type =
        type == SynchronizationEvent ? EventSynchronizationObject : EventNotificationObject;
    KEVENT event;
    KeInitializeEvent(&event, type, FALSE);
    std::thread waiter([&] {
      EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, nullptr),
                STATUS_SUCCESS);
    });
    ASSERT_TRUE(eventually([&] { return waiters(event) == 1; }));
    EXPECT_TRUE(uwsk::nt::event_held_by_lock(&event.Header));
    EXPECT_EQ(event.Header.Type, object_type);
    EXPECT_EQ(event.Header.Size, sizeof(KEVENT) / sizeof(LONG));
    EXPECT_EQ(event.Header.SignalState, 0);
    EXPECT_EQ(KeReadStateEvent(&event), 0);
    EXPECT_EQ(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    waiter.join();
    EXPECT_FALSE(uwsk::nt::event_held_by_lock(&event.Header));
    EXPECT_EQ(event.Header.Type, object_type);
    EXPECT_EQ(event.Header.Size, sizeof(KEVENT) / sizeof(LONG));
    // A synchronization event's signal went to the waiter; a notification event's stays.
    EXPECT_EQ(event.Header.SignalState, type == SynchronizationEvent ? 0 : 1);
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    EXPECT_EQ(event.Header.SignalState, 1);
    EXPECT_EQ(KeResetEvent(&event), 1);
    EXPECT_EQ(event.Header.SignalState, 0);
  }
}

TEST(KeEvent, PreviousStatesAddUpUnderContention) {
  // Two setters, a resetter, a blocking waiter and a poller on one synchronization event, with
  // and without the lock as it happens: every 0 -> 1 a set reports is undone by exactly one
  // reset that reports 1 or one wait that returns, or is still there at the end.
  KEVENT event;
  KeInitializeEvent(&event, SynchronizationEvent, FALSE);
  std::atomic<bool> stop{false};
  std::atomic<long> made{0};
  std::atomic<long> reset{0};
  std::atomic<long> taken{0};
  auto setter = [&] {
    const auto end = std::chrono::steady_clock::now() + 200ms;
    for (int i = 0; i < 100000 && std::chrono::steady_clock::now() < end; ++i) {
      if (KeSetEvent(&event, IO_NO_INCREMENT, FALSE) == 0) {
        ++made;
      }
    }
  };
  std::thread setters[2] = {std::thread(setter), std::thread(setter)};
  std::thread resetter([&] {
    while (!stop.load()) {
      if (KeResetEvent(&event) != 0) {
        ++reset;
      }
    }
  });
  auto waiter = [&](LONGLONG timeout_ms) {
    LARGE_INTEGER timeout = relative_ms(timeout_ms);
    while (!stop.load()) {
      if (KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS) {
        ++taken;
      }
    }
  };
  std::thread blocking(waiter, 1);
  std::thread polling(waiter, 0);
  for (auto &thread : setters) {
    thread.join();
  }
  stop = true;
  resetter.join();
  blocking.join();
  polling.join();
  EXPECT_GT(made.load(), 0);
  EXPECT_EQ(made.load(), reset.load() + taken.load() + KeReadStateEvent(&event));
  EXPECT_EQ(waiters(event), 0u);
  EXPECT_FALSE(uwsk::nt::event_held_by_lock(&event.Header));
}

TEST(KeEventDeathTest, SetOnUninitialisedEventBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KEVENT event{};
        KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
      },
      "not an initialised dispatcher object");
}

} // namespace

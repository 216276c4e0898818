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

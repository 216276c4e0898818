// IRQL, spin locks, kernel mutexes, semaphores and device queues.
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
using namespace std::chrono_literals;

// ---- IRQL -----------------------------------------------------------------------------------

TEST(KeIrql, StartsAtPassiveAndRaisesAndLowers) {
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  KIRQL old = 0xff;
  KeRaiseIrql(APC_LEVEL, &old);
  EXPECT_EQ(old, PASSIVE_LEVEL);
  EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
  EXPECT_EQ(KfRaiseIrql(DISPATCH_LEVEL), APC_LEVEL);
  EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
  KeLowerIrql(APC_LEVEL);
  KeLowerIrql(old);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  old = KeRaiseIrqlToDpcLevel();
  EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
  EXPECT_EQ(KeRaiseIrqlToSynchLevel(), DISPATCH_LEVEL);
  EXPECT_EQ(KeGetCurrentIrql(), SYNCH_LEVEL);
  KeLowerIrql(old);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

TEST(KeIrql, IsPerThread) {
  KIRQL old = KeRaiseIrqlToDpcLevel();
  KIRQL seen = 0xff;
  std::thread other([&] { seen = KeGetCurrentIrql(); });
  other.join();
  EXPECT_EQ(seen, PASSIVE_LEVEL);
  KeLowerIrql(old);
}

TEST(KeIrql, CriticalAndGuardedRegionsDisableApcs) {
  EXPECT_FALSE(KeAreApcsDisabled());
  KeEnterCriticalRegion();
  EXPECT_TRUE(KeAreApcsDisabled());
  EXPECT_FALSE(KeAreAllApcsDisabled());
  KeEnterGuardedRegion();
  EXPECT_TRUE(KeAreAllApcsDisabled());
  KeLeaveGuardedRegion();
  KeLeaveCriticalRegion();
  EXPECT_FALSE(KeAreApcsDisabled());
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  EXPECT_TRUE(KeAreAllApcsDisabled());
  KeLowerIrql(old);
}

TEST(KeIrqlDeathTest, RaisingToALowerIrqlBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        KeRaiseIrql(PASSIVE_LEVEL, &old);
      },
      "IRQL_NOT_GREATER_OR_EQUAL");
}

TEST(KeIrqlDeathTest, LoweringToAHigherIrqlBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(KeLowerIrql(DISPATCH_LEVEL), "IRQL_NOT_LESS_OR_EQUAL");
}

TEST(KeIrqlDeathTest, UnbalancedLeaveCriticalRegionBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(KeLeaveCriticalRegion(), "APC_INDEX_MISMATCH");
}

// ---- Spin locks -----------------------------------------------------------------------------

TEST(KeSpinLock, AcquireRaisesToDispatchAndReleaseRestores) {
  KSPIN_LOCK lock;
  KeInitializeSpinLock(&lock);
  EXPECT_TRUE(KeTestSpinLock(&lock));
  KIRQL old;
  KeAcquireSpinLock(&lock, &old);
  EXPECT_EQ(old, PASSIVE_LEVEL);
  EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
  EXPECT_FALSE(KeTestSpinLock(&lock));
  KeReleaseSpinLock(&lock, old);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  EXPECT_TRUE(KeTestSpinLock(&lock));
}

TEST(KeSpinLock, ZeroedLockIsFree) {
  KSPIN_LOCK lock = 0;
  KIRQL old = KeAcquireSpinLockRaiseToDpc(&lock);
  KeReleaseSpinLock(&lock, old);
}

TEST(KeSpinLock, AtDpcLevelFormsKeepTheIrql) {
  KSPIN_LOCK lock;
  KeInitializeSpinLock(&lock);
  KIRQL old = KeRaiseIrqlToDpcLevel();
  KeAcquireSpinLockAtDpcLevel(&lock);
  EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
  KeReleaseSpinLockFromDpcLevel(&lock);
  EXPECT_TRUE(KeTryToAcquireSpinLockAtDpcLevel(&lock));
  EXPECT_FALSE(KeTestSpinLock(&lock));
  KeReleaseSpinLockFromDpcLevel(&lock);
  EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
  KeLowerIrql(old);
}

// A lock taken with one form may be released with another: KeAcquireSpinLock then
// KeReleaseSpinLockFromDpcLevel and KeLowerIrql, or KeAcquireSpinLockAtDpcLevel (which records
// no IRQL) then KeReleaseSpinLock with the IRQL of the raise.
TEST(KeSpinLock, FormsMayBeMixed) {
  KSPIN_LOCK lock;
  KeInitializeSpinLock(&lock);
  KIRQL old;
  KeAcquireSpinLock(&lock, &old);
  KeReleaseSpinLockFromDpcLevel(&lock);
  EXPECT_TRUE(KeTestSpinLock(&lock));
  KeLowerIrql(old);
  KIRQL raised = KeRaiseIrqlToDpcLevel();
  KeAcquireSpinLockAtDpcLevel(&lock);
  KeReleaseSpinLock(&lock, raised);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  EXPECT_TRUE(KeTestSpinLock(&lock));
  KeRaiseIrql(APC_LEVEL, &raised);
  KeAcquireSpinLock(&lock, &old);
  EXPECT_EQ(old, APC_LEVEL);
  KeReleaseSpinLock(&lock, old);
  EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
  KeLowerIrql(raised);
}

// Many locks held at once, released in any order, each with the IRQL its acquire returned.
TEST(KeSpinLock, ManyHeldAtOnce) {
  constexpr int count = 12;
  KSPIN_LOCK locks[count];
  KIRQL old[count];
  for (int i = 0; i < count; ++i) {
    KeInitializeSpinLock(&locks[i]);
    KeAcquireSpinLock(&locks[i], &old[i]);
  }
  EXPECT_EQ(old[0], PASSIVE_LEVEL);
  for (int i = 1; i < count; i += 2) {
    KeReleaseSpinLock(&locks[i], old[i]);
  }
  for (int i = count - 2; i >= 0; i -= 2) {
    KeReleaseSpinLock(&locks[i], old[i]);
    EXPECT_TRUE(KeTestSpinLock(&locks[i]));
  }
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

TEST(KeSpinLock, TryAcquireFailsWhileAnotherThreadHoldsIt) {
  KSPIN_LOCK lock;
  KeInitializeSpinLock(&lock);
  KIRQL old;
  KeAcquireSpinLock(&lock, &old);
  BOOLEAN acquired = TRUE;
  std::thread other([&] {
    KIRQL other_old = KeRaiseIrqlToDpcLevel();
    acquired = KeTryToAcquireSpinLockAtDpcLevel(&lock);
    KeLowerIrql(other_old);
  });
  other.join();
  EXPECT_FALSE(acquired);
  KeReleaseSpinLock(&lock, old);
}

TEST(KeSpinLock, ForDpcFormsRaiseOnlyWhenBelowDispatch) {
  KSPIN_LOCK lock;
  KeInitializeSpinLock(&lock);
  KIRQL old = KeAcquireSpinLockForDpc(&lock);
  EXPECT_EQ(old, PASSIVE_LEVEL);
  EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
  KeReleaseSpinLockForDpc(&lock, old);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  KLOCK_QUEUE_HANDLE handle;
  KeAcquireInStackQueuedSpinLockForDpc(&lock, &handle);
  EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
  KeReleaseInStackQueuedSpinLockForDpc(&handle);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

TEST(KeSpinLock, InStackQueuedRecordsLockAndIrql) {
  KSPIN_LOCK lock;
  KeInitializeSpinLock(&lock);
  KLOCK_QUEUE_HANDLE handle;
  KeAcquireInStackQueuedSpinLock(&lock, &handle);
  EXPECT_EQ(handle.OldIrql, PASSIVE_LEVEL);
  EXPECT_EQ(handle.LockQueue.Lock, &lock);
  EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
  KLOCK_QUEUE_HANDLE inner;
  KSPIN_LOCK second;
  KeInitializeSpinLock(&second);
  KeAcquireInStackQueuedSpinLockAtDpcLevel(&second, &inner);
  KeReleaseInStackQueuedSpinLockFromDpcLevel(&inner);
  KeReleaseInStackQueuedSpinLock(&handle);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  EXPECT_TRUE(KeTestSpinLock(&lock));
}

TEST(KeSpinLock, ProvidesMutualExclusion) {
  KSPIN_LOCK lock;
  KeInitializeSpinLock(&lock);
  constexpr int thread_count = 4;
  constexpr int iterations = 20000;
  long counter = 0; // protected by the lock only
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < iterations; ++i) {
        if ((i + t) % 2 == 0) {
          KIRQL old;
          KeAcquireSpinLock(&lock, &old);
          ++counter;
          KeReleaseSpinLock(&lock, old);
        } else {
          KLOCK_QUEUE_HANDLE handle;
          KeAcquireInStackQueuedSpinLock(&lock, &handle);
          ++counter;
          KeReleaseInStackQueuedSpinLock(&handle);
        }
      }
    });
  }
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_EQ(counter, static_cast<long>(thread_count) * iterations);
}

TEST(KeSpinLockDeathTest, RecursiveAcquireBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KSPIN_LOCK lock = 0;
        KIRQL old;
        KeAcquireSpinLock(&lock, &old);
        KeAcquireSpinLockAtDpcLevel(&lock);
      },
      "SPIN_LOCK_ALREADY_OWNED");
}

TEST(KeSpinLockDeathTest, ReleasingAFreeLockBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KSPIN_LOCK lock = 0;
        KeReleaseSpinLock(&lock, PASSIVE_LEVEL);
      },
      "SPIN_LOCK_NOT_OWNED");
}

// A release by a thread that does not hold the lock is SPIN_LOCK_NOT_OWNED, whatever IRQL it
// gives.
TEST(KeSpinLockDeathTest, ReleasingAnotherThreadsLockBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto release_foreign = [] {
    KSPIN_LOCK lock = 0;
    std::thread holder([&] {
      KIRQL old;
      KeAcquireSpinLock(&lock, &old);
    });
    holder.join();
    KeReleaseSpinLock(&lock, PASSIVE_LEVEL);
  };
  EXPECT_DEATH(release_foreign(), "SPIN_LOCK_NOT_OWNED");
}

// KeReleaseSpinLock with the IRQL its acquire returned, after the holder lowered the IRQL below
// it: returning there would raise, which lowering must not do (IRQL_NOT_LESS_OR_EQUAL).
TEST(KeSpinLockDeathTest, ReleaseThatWouldRaiseBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KSPIN_LOCK lock = 0;
        KIRQL passive;
        KeRaiseIrql(APC_LEVEL, &passive);
        KIRQL old;
        KeAcquireSpinLock(&lock, &old); // old is APC_LEVEL
        KeLowerIrql(PASSIVE_LEVEL);
        KeReleaseSpinLock(&lock, old);
      },
      "IRQL_NOT_LESS_OR_EQUAL");
}

TEST(KeSpinLockDeathTest, AcquireAboveDispatchBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KSPIN_LOCK lock = 0;
        KIRQL old;
        KeRaiseIrql(SYNCH_LEVEL, &old);
        KeAcquireSpinLock(&lock, &old);
      },
      "IRQL_NOT_LESS_OR_EQUAL");
}

TEST(KeSpinLockDeathTest, AtDpcLevelFromPassiveBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KSPIN_LOCK lock = 0;
        KeAcquireSpinLockAtDpcLevel(&lock);
      },
      "IRQL_NOT_GREATER_OR_EQUAL");
}

// ---- Mutexes --------------------------------------------------------------------------------

TEST(KeMutex, IsRecursiveAndCountsReleases) {
  KMUTEX mutex;
  KeInitializeMutex(&mutex, 0);
  EXPECT_EQ(KeReadStateMutex(&mutex), 1);
  EXPECT_EQ(KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(mutex.OwnerThread, KeGetCurrentThread());
  EXPECT_EQ(KeReadStateMutex(&mutex), 0);
  EXPECT_EQ(KeWaitForMutexObject(&mutex, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(KeReadStateMutex(&mutex), -1);
  EXPECT_EQ(KeReleaseMutex(&mutex, FALSE), -1);
  EXPECT_EQ(mutex.OwnerThread, KeGetCurrentThread());
  EXPECT_EQ(KeReleaseMutex(&mutex, FALSE), 0);
  EXPECT_EQ(KeReadStateMutex(&mutex), 1);
  EXPECT_EQ(mutex.OwnerThread, nullptr);
}

TEST(KeMutex, OtherThreadsWaitForTheOwner) {
  KMUTEX mutex;
  KeInitializeMutex(&mutex, 0);
  ASSERT_EQ(KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  std::atomic<bool> acquired{false};
  std::thread other([&] {
    LARGE_INTEGER zero{};
    EXPECT_EQ(KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
    EXPECT_EQ(KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
    acquired = true;
    EXPECT_EQ(KeReleaseMutex(&mutex, FALSE), 0);
  });
  ASSERT_TRUE(eventually([&] { return uwsk::nt::dispatcher_waiter_count(&mutex.Header) == 1; }));
  EXPECT_FALSE(acquired.load());
  KeReleaseMutex(&mutex, FALSE);
  other.join();
  EXPECT_TRUE(acquired.load());
  EXPECT_EQ(KeReadStateMutex(&mutex), 1);
}

TEST(KeMutex, ProvidesMutualExclusion) {
  KMUTEX mutex;
  KeInitializeMutex(&mutex, 0);
  long counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, nullptr);
        ++counter;
        KeReleaseMutex(&mutex, FALSE);
      }
    });
  }
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_EQ(counter, 8000);
}

TEST(KeMutex, OwnerExitAbandonsTheMutex) {
  KMUTEX mutex;
  KEVENT other_event;
  KeInitializeMutex(&mutex, 0);
  KeInitializeEvent(&other_event, NotificationEvent, FALSE);
  std::thread owner([&] {
    EXPECT_EQ(KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
    // Ends without releasing.
  });
  owner.join();
  EXPECT_EQ(KeReadStateMutex(&mutex), 1);
  EXPECT_TRUE(mutex.Abandoned);
  PVOID objects[2] = {&other_event, &mutex};
  EXPECT_EQ(
      KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, nullptr, nullptr),
      STATUS_ABANDONED_WAIT_0 + 1);
  EXPECT_FALSE(mutex.Abandoned);
  EXPECT_EQ(mutex.OwnerThread, KeGetCurrentThread());
  EXPECT_EQ(KeReleaseMutex(&mutex, FALSE), 0);
}

TEST(KeMutex, AbandonmentWakesABlockedWaiter) {
  KMUTEX mutex;
  KEVENT release_owner;
  KeInitializeMutex(&mutex, 0);
  KeInitializeEvent(&release_owner, NotificationEvent, FALSE);
  std::thread owner([&] {
    KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, nullptr);
    KeWaitForSingleObject(&release_owner, Executive, KernelMode, FALSE, nullptr);
  });
  ASSERT_TRUE(eventually([&] { return KeReadStateMutex(&mutex) == 0; }));
  NTSTATUS status = STATUS_PENDING;
  std::thread waiter([&] {
    status = KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, nullptr);
    KeReleaseMutex(&mutex, FALSE);
  });
  ASSERT_TRUE(eventually([&] { return uwsk::nt::dispatcher_waiter_count(&mutex.Header) == 1; }));
  KeSetEvent(&release_owner, IO_NO_INCREMENT, FALSE);
  owner.join();
  waiter.join();
  EXPECT_EQ(status, STATUS_ABANDONED_WAIT_0);
}

TEST(KeMutexDeathTest, ReleaseByANonOwnerBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KMUTEX mutex;
        KeInitializeMutex(&mutex, 0);
        KeReleaseMutex(&mutex, FALSE);
      },
      "THREAD_NOT_MUTEX_OWNER");
}

// ---- Semaphores -----------------------------------------------------------------------------

TEST(KeSemaphore, CountsDownAndUp) {
  KSEMAPHORE semaphore;
  KeInitializeSemaphore(&semaphore, 2, 3);
  EXPECT_EQ(semaphore.Limit, 3);
  LARGE_INTEGER zero{};
  EXPECT_EQ(KeWaitForSingleObject(&semaphore, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
  EXPECT_EQ(KeWaitForSingleObject(&semaphore, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
  EXPECT_EQ(KeWaitForSingleObject(&semaphore, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
  EXPECT_EQ(KeReadStateSemaphore(&semaphore), 0);
  EXPECT_EQ(KeReleaseSemaphore(&semaphore, IO_NO_INCREMENT, 3, FALSE), 0);
  EXPECT_EQ(KeReadStateSemaphore(&semaphore), 3);
}

TEST(KeSemaphore, ReleaseWakesAsManyWaitersAsTheAdjustment) {
  KSEMAPHORE semaphore;
  KeInitializeSemaphore(&semaphore, 0, 10);
  std::atomic<int> woken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      KeWaitForSingleObject(&semaphore, Executive, KernelMode, FALSE, nullptr);
      ++woken;
    });
  }
  ASSERT_TRUE(
      eventually([&] { return uwsk::nt::dispatcher_waiter_count(&semaphore.Header) == 3; }));
  EXPECT_EQ(KeReleaseSemaphore(&semaphore, IO_NO_INCREMENT, 2, FALSE), 0);
  ASSERT_TRUE(eventually([&] { return woken.load() == 2; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(woken.load(), 2);
  EXPECT_EQ(KeReadStateSemaphore(&semaphore), 0);
  KeReleaseSemaphore(&semaphore, IO_NO_INCREMENT, 1, FALSE);
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_EQ(woken.load(), 3);
}

TEST(KeSemaphoreDeathTest, ReleasePastTheLimitBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KSEMAPHORE semaphore;
        KeInitializeSemaphore(&semaphore, 1, 1);
        KeReleaseSemaphore(&semaphore, IO_NO_INCREMENT, 1, FALSE);
      },
      "KMODE_EXCEPTION_NOT_HANDLED");
}

// ---- Device queues --------------------------------------------------------------------------

TEST(KeDeviceQueue, BusyFlagAndFifoOrder) {
  KDEVICE_QUEUE queue;
  KeInitializeDeviceQueue(&queue);
  EXPECT_FALSE(queue.Busy);
  KDEVICE_QUEUE_ENTRY entries[3];
  EXPECT_FALSE(KeInsertDeviceQueue(&queue, &entries[0])); // idle: caller starts it
  EXPECT_TRUE(queue.Busy);
  EXPECT_FALSE(entries[0].Inserted);
  EXPECT_TRUE(KeInsertDeviceQueue(&queue, &entries[1]));
  EXPECT_TRUE(KeInsertDeviceQueue(&queue, &entries[2]));
  EXPECT_TRUE(entries[1].Inserted);
  EXPECT_EQ(KeRemoveDeviceQueue(&queue), &entries[1]);
  EXPECT_FALSE(entries[1].Inserted);
  EXPECT_TRUE(KeRemoveEntryDeviceQueue(&queue, &entries[2]));
  EXPECT_FALSE(KeRemoveEntryDeviceQueue(&queue, &entries[2]));
  EXPECT_EQ(KeRemoveDeviceQueue(&queue), nullptr);
  EXPECT_FALSE(queue.Busy);
}

TEST(KeDeviceQueue, SortKeyOrder) {
  KDEVICE_QUEUE queue;
  KeInitializeDeviceQueue(&queue);
  KDEVICE_QUEUE_ENTRY first;
  KDEVICE_QUEUE_ENTRY entries[4];
  EXPECT_FALSE(KeInsertByKeyDeviceQueue(&queue, &first, 0));
  EXPECT_TRUE(KeInsertByKeyDeviceQueue(&queue, &entries[0], 30));
  EXPECT_TRUE(KeInsertByKeyDeviceQueue(&queue, &entries[1], 10));
  EXPECT_TRUE(KeInsertByKeyDeviceQueue(&queue, &entries[2], 20));
  EXPECT_TRUE(KeInsertByKeyDeviceQueue(&queue, &entries[3], 20));
  EXPECT_EQ(KeRemoveByKeyDeviceQueue(&queue, 15), &entries[2]);
  EXPECT_EQ(KeRemoveByKeyDeviceQueue(&queue, 99), &entries[1]); // none >= 99: the head
  EXPECT_EQ(KeRemoveDeviceQueue(&queue), &entries[3]);
  EXPECT_EQ(KeRemoveDeviceQueue(&queue), &entries[0]);
  EXPECT_EQ(KeRemoveDeviceQueue(&queue), nullptr);
  EXPECT_FALSE(queue.Busy);
}

} // namespace

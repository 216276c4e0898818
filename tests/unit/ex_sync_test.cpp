// Executive synchronisation: fast and guarded mutexes, ERESOURCE, rundown protection,
// reader/writer spin locks, spin-lock protected lists and work items.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <wdm.h>

#include "nt/ex/work_queue.hpp"
#include "nt/ps/thread.hpp"
#include "support/timing.hpp"

namespace {

using uwsk::test::elapsed_ms;
using uwsk::test::eventually;
using uwsk::test::relative_ms;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

// ---- Fast mutexes ---------------------------------------------------------------------------

TEST(ExFastMutex, RaisesToApcLevelWhileHeld) {
  FAST_MUTEX mutex;
  ExInitializeFastMutex(&mutex);
  EXPECT_EQ(mutex.Count, 1);
  ExAcquireFastMutex(&mutex);
  EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
  EXPECT_EQ(mutex.Owner, static_cast<PVOID>(KeGetCurrentThread()));
  EXPECT_EQ(mutex.Count, 0);
  ExReleaseFastMutex(&mutex);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  EXPECT_EQ(mutex.Owner, nullptr);
  EXPECT_EQ(mutex.Count, 1);
}

TEST(ExFastMutex, TryAcquireFailsWhileOwnedElsewhere) {
  FAST_MUTEX mutex;
  ExInitializeFastMutex(&mutex);
  ExAcquireFastMutex(&mutex);
  BOOLEAN acquired = TRUE;
  KIRQL irql_after = 0xff;
  std::thread other([&] {
    acquired = ExTryToAcquireFastMutex(&mutex);
    irql_after = KeGetCurrentIrql();
  });
  other.join();
  EXPECT_FALSE(acquired);
  EXPECT_EQ(irql_after, PASSIVE_LEVEL);
  ExReleaseFastMutex(&mutex);
  EXPECT_TRUE(ExTryToAcquireFastMutex(&mutex));
  EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
  ExReleaseFastMutex(&mutex);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

TEST(ExFastMutex, UnsafeFormsLeaveTheIrqlAlone) {
  FAST_MUTEX mutex;
  ExInitializeFastMutex(&mutex);
  KIRQL old;
  KeRaiseIrql(APC_LEVEL, &old);
  ExAcquireFastMutexUnsafe(&mutex);
  EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
  ExReleaseFastMutexUnsafe(&mutex);
  EXPECT_EQ(KeGetCurrentIrql(), APC_LEVEL);
  KeLowerIrql(old);
}

TEST(ExFastMutex, ProvidesMutualExclusionUnderContention) {
  FAST_MUTEX mutex;
  ExInitializeFastMutex(&mutex);
  long counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        ExAcquireFastMutex(&mutex);
        ++counter;
        ExReleaseFastMutex(&mutex);
      }
    });
  }
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_EQ(counter, 20000);
  EXPECT_EQ(mutex.Count, 1);
}

TEST(ExFastMutexDeathTest, RecursiveAcquireBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        FAST_MUTEX mutex;
        ExInitializeFastMutex(&mutex);
        ExAcquireFastMutex(&mutex);
        ExAcquireFastMutex(&mutex);
      },
      "DRIVER_VERIFIER_DETECTED_VIOLATION");
}

TEST(ExFastMutexDeathTest, ReleaseByANonOwnerBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        FAST_MUTEX mutex;
        ExInitializeFastMutex(&mutex);
        ExReleaseFastMutexUnsafe(&mutex);
      },
      "does not own this mutex");
}

TEST(ExFastMutexDeathTest, AcquireAtDispatchLevelBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        FAST_MUTEX mutex;
        ExInitializeFastMutex(&mutex);
        KeRaiseIrqlToDpcLevel();
        ExAcquireFastMutex(&mutex);
      },
      "IRQL_NOT_LESS_OR_EQUAL");
}

// ---- Guarded mutexes ------------------------------------------------------------------------

TEST(KeGuardedMutex, EntersAGuardedRegionWhileHeld) {
  KGUARDED_MUTEX mutex;
  KeInitializeGuardedMutex(&mutex);
  KeAcquireGuardedMutex(&mutex);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  EXPECT_TRUE(KeAreAllApcsDisabled());
  KeReleaseGuardedMutex(&mutex);
  EXPECT_FALSE(KeAreAllApcsDisabled());
  EXPECT_TRUE(KeTryToAcquireGuardedMutex(&mutex));
  BOOLEAN acquired = TRUE;
  std::thread other([&] { acquired = KeTryToAcquireGuardedMutex(&mutex); });
  other.join();
  EXPECT_FALSE(acquired);
  KeReleaseGuardedMutex(&mutex);
  KeEnterGuardedRegion();
  KeAcquireGuardedMutexUnsafe(&mutex);
  KeReleaseGuardedMutexUnsafe(&mutex);
  KeLeaveGuardedRegion();
  EXPECT_FALSE(KeAreAllApcsDisabled());
}

TEST(KeGuardedMutex, ProvidesMutualExclusionUnderContention) {
  KGUARDED_MUTEX mutex;
  KeInitializeGuardedMutex(&mutex);
  long counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        KeAcquireGuardedMutex(&mutex);
        ++counter;
        KeReleaseGuardedMutex(&mutex);
      }
    });
  }
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_EQ(counter, 20000);
}

// ---- ERESOURCE ------------------------------------------------------------------------------

class ExResource : public ::testing::Test {
protected:
  void SetUp() override { ASSERT_EQ(ExInitializeResourceLite(&resource), STATUS_SUCCESS); }
  void TearDown() override { EXPECT_EQ(ExDeleteResourceLite(&resource), STATUS_SUCCESS); }
  ERESOURCE resource;
};

TEST_F(ExResource, ExclusiveIsRecursiveAndIncludesShared) {
  KeEnterCriticalRegion();
  EXPECT_TRUE(ExAcquireResourceExclusiveLite(&resource, TRUE));
  EXPECT_TRUE(ExAcquireResourceExclusiveLite(&resource, TRUE));
  EXPECT_TRUE(ExAcquireResourceSharedLite(&resource, TRUE));
  EXPECT_TRUE(ExIsResourceAcquiredExclusiveLite(&resource));
  EXPECT_EQ(ExIsResourceAcquiredSharedLite(&resource), 3U);
  EXPECT_NE(resource.Flag & ResourceOwnedExclusive, 0);
  ExReleaseResourceLite(&resource);
  ExReleaseResourceLite(&resource);
  EXPECT_TRUE(ExIsResourceAcquiredExclusiveLite(&resource));
  ExReleaseResourceLite(&resource);
  EXPECT_FALSE(ExIsResourceAcquiredExclusiveLite(&resource));
  EXPECT_EQ(ExIsResourceAcquiredSharedLite(&resource), 0U);
  KeLeaveCriticalRegion();
}

TEST_F(ExResource, SharedOwnersCoexistAndExcludeExclusive) {
  EXPECT_TRUE(ExAcquireResourceSharedLite(&resource, TRUE));
  EXPECT_TRUE(ExAcquireResourceSharedLite(&resource, FALSE)); // recursive shared
  BOOLEAN other_shared = FALSE;
  BOOLEAN other_exclusive = TRUE;
  std::thread other([&] {
    other_shared = ExAcquireResourceSharedLite(&resource, FALSE);
    if (other_shared) {
      ExReleaseResourceLite(&resource);
    }
    other_exclusive = ExAcquireResourceExclusiveLite(&resource, FALSE);
  });
  other.join();
  EXPECT_TRUE(other_shared);
  EXPECT_FALSE(other_exclusive);
  EXPECT_EQ(ExIsResourceAcquiredSharedLite(&resource), 2U);
  EXPECT_FALSE(ExIsResourceAcquiredExclusiveLite(&resource));
  ExReleaseResourceLite(&resource);
  ExReleaseResourceLite(&resource);
}

TEST_F(ExResource, ExclusiveWaiterBlocksNewSharedButNotStarveExclusive) {
  ASSERT_TRUE(ExAcquireResourceSharedLite(&resource, TRUE));
  std::atomic<bool> exclusive_acquired{false};
  std::thread writer([&] {
    EXPECT_TRUE(ExAcquireResourceExclusiveLite(&resource, TRUE));
    exclusive_acquired = true;
    ExReleaseResourceLite(&resource);
  });
  ASSERT_TRUE(eventually([&] { return ExGetExclusiveWaiterCount(&resource) == 1; }));
  EXPECT_FALSE(exclusive_acquired.load());
  BOOLEAN lite = TRUE;
  BOOLEAN starve = FALSE;
  BOOLEAN wait_for_exclusive = TRUE;
  std::thread reader([&] {
    lite = ExAcquireResourceSharedLite(&resource, FALSE);
    wait_for_exclusive = ExAcquireSharedWaitForExclusive(&resource, FALSE);
    starve = ExAcquireSharedStarveExclusive(&resource, FALSE);
    if (starve) {
      ExReleaseResourceLite(&resource);
    }
  });
  reader.join();
  EXPECT_FALSE(lite);
  EXPECT_FALSE(wait_for_exclusive);
  EXPECT_TRUE(starve);
  // The owner itself may still acquire shared recursively with the Lite form, but not with
  // ExAcquireSharedWaitForExclusive.
  EXPECT_TRUE(ExAcquireResourceSharedLite(&resource, FALSE));
  EXPECT_FALSE(ExAcquireSharedWaitForExclusive(&resource, FALSE));
  ExReleaseResourceLite(&resource);
  ExReleaseResourceLite(&resource);
  writer.join();
  EXPECT_TRUE(exclusive_acquired.load());
  EXPECT_EQ(ExGetExclusiveWaiterCount(&resource), 0U);
}

TEST_F(ExResource, SharedWaitersWaitForTheExclusiveOwner) {
  ASSERT_TRUE(ExAcquireResourceExclusiveLite(&resource, TRUE));
  std::atomic<int> readers_in{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      EXPECT_TRUE(ExAcquireResourceSharedLite(&resource, TRUE));
      ++readers_in;
      ExReleaseResourceLite(&resource);
    });
  }
  ASSERT_TRUE(eventually([&] { return ExGetSharedWaiterCount(&resource) == 3; }));
  EXPECT_EQ(readers_in.load(), 0);
  ExReleaseResourceLite(&resource);
  for (auto &t : readers) {
    t.join();
  }
  EXPECT_EQ(readers_in.load(), 3);
  EXPECT_EQ(ExGetSharedWaiterCount(&resource), 0U);
}

TEST_F(ExResource, ConvertExclusiveToSharedLetsReadersIn) {
  ASSERT_TRUE(ExAcquireResourceExclusiveLite(&resource, TRUE));
  std::atomic<bool> reader_in{false};
  std::thread reader([&] {
    ExAcquireResourceSharedLite(&resource, TRUE);
    reader_in = true;
    ExReleaseResourceLite(&resource);
  });
  ASSERT_TRUE(eventually([&] { return ExGetSharedWaiterCount(&resource) == 1; }));
  ExConvertExclusiveToSharedLite(&resource);
  EXPECT_FALSE(ExIsResourceAcquiredExclusiveLite(&resource));
  EXPECT_EQ(ExIsResourceAcquiredSharedLite(&resource), 1U);
  reader.join();
  EXPECT_TRUE(reader_in.load());
  ExReleaseResourceLite(&resource);
}

TEST_F(ExResource, ReleaseForAnotherThread) {
  ERESOURCE_THREAD owner = 0;
  std::thread acquirer([&] {
    ExAcquireResourceSharedLite(&resource, TRUE);
    owner = ExGetCurrentResourceThread();
  });
  acquirer.join();
  EXPECT_FALSE(ExAcquireResourceExclusiveLite(&resource, FALSE));
  ExReleaseResourceForThreadLite(&resource, owner);
  EXPECT_TRUE(ExAcquireResourceExclusiveLite(&resource, FALSE));
  ExReleaseResourceForThreadLite(&resource, ExGetCurrentResourceThread());
}

TEST_F(ExResource, CriticalRegionHelpers) {
  EXPECT_NE(ExEnterCriticalRegionAndAcquireResourceExclusive(&resource), nullptr);
  EXPECT_TRUE(KeAreApcsDisabled());
  EXPECT_TRUE(ExIsResourceAcquiredExclusiveLite(&resource));
  ExReleaseResourceAndLeaveCriticalRegion(&resource);
  EXPECT_FALSE(KeAreApcsDisabled());
  EXPECT_NE(ExEnterCriticalRegionAndAcquireResourceShared(&resource), nullptr);
  EXPECT_EQ(ExIsResourceAcquiredSharedLite(&resource), 1U);
  ExReleaseResourceAndLeaveCriticalRegion(&resource);
  EXPECT_NE(ExEnterCriticalRegionAndAcquireSharedWaitForExclusive(&resource), nullptr);
  ExReleaseResourceAndLeaveCriticalRegion(&resource);
  EXPECT_FALSE(KeAreApcsDisabled());
  EXPECT_EQ(ExReinitializeResourceLite(&resource), STATUS_SUCCESS);
}

TEST_F(ExResource, ReadersAndWritersStress) {
  long value = 0; // written only under exclusive access
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if ((i + t) % 4 == 0) {
          ExAcquireResourceExclusiveLite(&resource, TRUE);
          ++value;
          ExReleaseResourceLite(&resource);
        } else {
          ExAcquireResourceSharedLite(&resource, TRUE);
          if (value < 0) {
            failed = true;
          }
          ExReleaseResourceLite(&resource);
        }
      }
    });
  }
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_FALSE(failed.load());
  EXPECT_EQ(value, 2000);
}

TEST(ExResourceDeathTest, ReleasingAnUnownedResourceBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        ERESOURCE resource;
        ExInitializeResourceLite(&resource);
        ExReleaseResourceLite(&resource);
      },
      "RESOURCE_NOT_OWNED");
}

TEST(ExResourceDeathTest, ExclusiveWaitWhileHoldingSharedBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        ERESOURCE resource;
        ExInitializeResourceLite(&resource);
        ExAcquireResourceSharedLite(&resource, TRUE);
        ExAcquireResourceExclusiveLite(&resource, TRUE);
      },
      "certain deadlock");
}

TEST(ExResourceDeathTest, ConvertingWithoutExclusiveOwnershipBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        ERESOURCE resource;
        ExInitializeResourceLite(&resource);
        ExConvertExclusiveToSharedLite(&resource);
      },
      "SHARED_RESOURCE_CONV_ERROR");
}

TEST(ExResourceDeathTest, UninitialisedResourceBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        ERESOURCE resource{};
        ExAcquireResourceSharedLite(&resource, TRUE);
      },
      "not initialised");
}

// ---- Rundown protection ---------------------------------------------------------------------

TEST(ExRundown, AcquireReleaseAndRundownWithoutReferences) {
  EX_RUNDOWN_REF ref;
  ExInitializeRundownProtection(&ref);
  EXPECT_TRUE(ExAcquireRundownProtection(&ref));
  EXPECT_EQ(ref.Count, static_cast<ULONG_PTR>(EX_RUNDOWN_COUNT_INC));
  ExReleaseRundownProtection(&ref);
  EXPECT_TRUE(ExAcquireRundownProtectionEx(&ref, 3));
  ExReleaseRundownProtectionEx(&ref, 3);
  ExWaitForRundownProtectionRelease(&ref);
  EXPECT_EQ(ref.Count, static_cast<ULONG_PTR>(EX_RUNDOWN_ACTIVE));
  EXPECT_FALSE(ExAcquireRundownProtection(&ref));
  ExWaitForRundownProtectionRelease(&ref); // already run down: returns at once
  ExRundownCompleted(&ref);
  EXPECT_FALSE(ExAcquireRundownProtection(&ref));
  ExReInitializeRundownProtection(&ref);
  EXPECT_TRUE(ExAcquireRundownProtection(&ref));
  ExReleaseRundownProtection(&ref);
}

TEST(ExRundown, WaitBlocksUntilEveryReferenceIsReleased) {
  EX_RUNDOWN_REF ref;
  ExInitializeRundownProtection(&ref);
  ASSERT_TRUE(ExAcquireRundownProtection(&ref));
  ASSERT_TRUE(ExAcquireRundownProtectionEx(&ref, 2));
  std::atomic<bool> released{false};
  // Taken before the holder starts, so its 50 ms sleep lies wholly inside what is measured
  // however late this thread runs again.
  const auto start = clock_type::now();
  std::thread holder([&] {
    std::this_thread::sleep_for(50ms);
    ExReleaseRundownProtection(&ref);
    std::this_thread::sleep_for(10ms);
    released = true;
    ExReleaseRundownProtectionEx(&ref, 2);
  });
  std::thread late([&] {
    // Once the rundown has started, new references fail.
    ASSERT_TRUE(eventually(
        [&] { return (__atomic_load_n(&ref.Count, __ATOMIC_ACQUIRE) & EX_RUNDOWN_ACTIVE) != 0; }));
    EXPECT_FALSE(ExAcquireRundownProtection(&ref));
  });
  ExWaitForRundownProtectionRelease(&ref);
  EXPECT_TRUE(released.load());
  EXPECT_GE(elapsed_ms(start), 45);
  EXPECT_EQ(ref.Count, static_cast<ULONG_PTR>(EX_RUNDOWN_ACTIVE));
  holder.join();
  late.join();
}

TEST(ExRundown, ConcurrentReferencesStress) {
  EX_RUNDOWN_REF ref;
  ExInitializeRundownProtection(&ref);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (!ExAcquireRundownProtection(&ref)) {
          return;
        }
        ++granted;
        ExReleaseRundownProtection(&ref);
      }
    });
  }
  ASSERT_TRUE(eventually([&] { return granted.load() > 100; }));
  ExWaitForRundownProtectionRelease(&ref);
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_EQ(ref.Count, static_cast<ULONG_PTR>(EX_RUNDOWN_ACTIVE));
}

TEST(ExRundownDeathTest, ReleaseWithoutAcquireBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        EX_RUNDOWN_REF ref;
        ExInitializeRundownProtection(&ref);
        ExReleaseRundownProtection(&ref);
      },
      "more releases than acquires");
}

// ---- Reader/writer spin locks ---------------------------------------------------------------

TEST(ExSpinLock, SharedAndExclusive) {
  EX_SPIN_LOCK lock = 0;
  KIRQL old = ExAcquireSpinLockShared(&lock);
  EXPECT_EQ(KeGetCurrentIrql(), DISPATCH_LEVEL);
  EXPECT_TRUE(ExTryAcquireSpinLockSharedAtDpcLevel(&lock));
  EXPECT_FALSE(ExTryAcquireSpinLockExclusiveAtDpcLevel(&lock));
  EXPECT_FALSE(ExTryConvertSharedSpinLockExclusive(&lock)); // two shared owners
  ExReleaseSpinLockSharedFromDpcLevel(&lock);
  EXPECT_TRUE(ExTryConvertSharedSpinLockExclusive(&lock));
  ExReleaseSpinLockExclusive(&lock, old);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  EXPECT_EQ(lock, 0);
  old = ExAcquireSpinLockExclusive(&lock);
  EXPECT_FALSE(ExTryAcquireSpinLockSharedAtDpcLevel(&lock));
  ExReleaseSpinLockExclusiveFromDpcLevel(&lock);
  ExAcquireSpinLockSharedAtDpcLevel(&lock);
  ExReleaseSpinLockShared(&lock, old);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

TEST(ExSpinLock, WritersExcludeEveryone) {
  EX_SPIN_LOCK lock = 0;
  long value = 0;
  std::atomic<bool> torn{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        if (t == 0) {
          KIRQL old = ExAcquireSpinLockExclusive(&lock);
          ++value;
          ++value;
          ExReleaseSpinLockExclusive(&lock, old);
        } else {
          KIRQL old = ExAcquireSpinLockShared(&lock);
          if (value % 2 != 0) {
            torn = true;
          }
          ExReleaseSpinLockShared(&lock, old);
        }
      }
    });
  }
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_FALSE(torn.load());
  EXPECT_EQ(value, 10000);
}

// ---- Spin-lock protected lists --------------------------------------------------------------

TEST(ExInterlockedList, DoublyLinked) {
  LIST_ENTRY head;
  head.Flink = head.Blink = &head;
  KSPIN_LOCK lock = 0;
  LIST_ENTRY a;
  LIST_ENTRY b;
  LIST_ENTRY c;
  EXPECT_EQ(ExInterlockedInsertTailList(&head, &a, &lock), nullptr);
  EXPECT_EQ(ExInterlockedInsertTailList(&head, &b, &lock), &a);
  EXPECT_EQ(ExInterlockedInsertHeadList(&head, &c, &lock), &a);
  EXPECT_EQ(KeGetCurrentIrql(), PASSIVE_LEVEL);
  EXPECT_EQ(ExInterlockedRemoveHeadList(&head, &lock), &c);
  EXPECT_EQ(ExInterlockedRemoveHeadList(&head, &lock), &a);
  EXPECT_EQ(ExInterlockedRemoveHeadList(&head, &lock), &b);
  EXPECT_EQ(ExInterlockedRemoveHeadList(&head, &lock), nullptr);
  EXPECT_EQ(head.Flink, &head);
  EXPECT_EQ(head.Blink, &head);
}

TEST(ExInterlockedList, SinglyLinkedAndAdditions) {
  SINGLE_LIST_ENTRY head{};
  KSPIN_LOCK lock = 0;
  SINGLE_LIST_ENTRY a;
  SINGLE_LIST_ENTRY b;
  EXPECT_EQ(ExInterlockedPushEntryList(&head, &a, &lock), nullptr);
  EXPECT_EQ(ExInterlockedPushEntryList(&head, &b, &lock), &a);
  EXPECT_EQ(ExInterlockedPopEntryList(&head, &lock), &b);
  EXPECT_EQ(ExInterlockedPopEntryList(&head, &lock), &a);
  EXPECT_EQ(ExInterlockedPopEntryList(&head, &lock), nullptr);
  ULONG value = 5;
  EXPECT_EQ(ExInterlockedAddUlong(&value, 3, &lock), 5U);
  EXPECT_EQ(value, 8U);
  LARGE_INTEGER large;
  large.QuadPart = 1LL << 40;
  LARGE_INTEGER increment;
  increment.QuadPart = 2;
  EXPECT_EQ(ExInterlockedAddLargeInteger(&large, increment, &lock).QuadPart, 1LL << 40);
  EXPECT_EQ(large.QuadPart, (1LL << 40) + 2);
  LARGE_INTEGER statistic{};
  ExInterlockedAddLargeStatistic(&statistic, 7);
  EXPECT_EQ(statistic.QuadPart, 7);
}

TEST(ExInterlockedList, ConcurrentProducersAndConsumer) {
  LIST_ENTRY head;
  head.Flink = head.Blink = &head;
  KSPIN_LOCK lock = 0;
  constexpr int per_thread = 2000;
  std::vector<LIST_ENTRY> entries(2 * per_thread);
  std::thread p1([&] {
    for (int i = 0; i < per_thread; ++i) {
      ExInterlockedInsertTailList(&head, &entries[i], &lock);
    }
  });
  std::thread p2([&] {
    for (int i = per_thread; i < 2 * per_thread; ++i) {
      ExInterlockedInsertHeadList(&head, &entries[i], &lock);
    }
  });
  int removed = 0;
  for (int spins = 0; removed < 2 * per_thread && spins < 10000000; ++spins) {
    if (ExInterlockedRemoveHeadList(&head, &lock) != nullptr) {
      ++removed;
    }
  }
  p1.join();
  p2.join();
  EXPECT_EQ(removed, 2 * per_thread);
}

// ---- Work items -----------------------------------------------------------------------------

struct work_record {
  WORK_QUEUE_ITEM item;
  KEVENT done;
  std::atomic<int> irql{-1};
  std::atomic<bool> other_thread{false};
  std::thread::id test_thread = std::this_thread::get_id();
};

VOID NTAPI record_work(PVOID parameter) {
  auto *record = static_cast<work_record *>(parameter);
  record->irql = KeGetCurrentIrql();
  record->other_thread = std::this_thread::get_id() != record->test_thread;
  KeSetEvent(&record->done, IO_NO_INCREMENT, FALSE);
}

TEST(ExWorkItem, RunsAtPassiveLevelOnAWorkerThread) {
  work_record record;
  KeInitializeEvent(&record.done, NotificationEvent, FALSE);
  ExInitializeWorkItem(&record.item, record_work, &record);
  EXPECT_EQ(record.item.List.Flink, nullptr);
  KIRQL old = KeRaiseIrqlToDpcLevel(); // queueing is allowed at DISPATCH_LEVEL
  ExQueueWorkItem(&record.item, DelayedWorkQueue);
  KeLowerIrql(old);
  LARGE_INTEGER timeout = relative_ms(5000);
  ASSERT_EQ(KeWaitForSingleObject(&record.done, Executive, KernelMode, FALSE, &timeout),
            STATUS_SUCCESS);
  EXPECT_EQ(record.irql.load(), PASSIVE_LEVEL);
  EXPECT_TRUE(record.other_thread.load());
  uwsk::nt::drain_work_queues();
  // Workers are runtime threads, not driver threads.
  EXPECT_EQ(uwsk::nt::live_system_thread_count(), 0U);
}

TEST(ExWorkItem, ManyItemsAllRunAndDrainWaitsForThem) {
  constexpr int count = 200;
  struct counted {
    WORK_QUEUE_ITEM item;
    std::atomic<int> *runs;
  };
  std::atomic<int> runs{0};
  std::vector<counted> items(count);
  for (auto &c : items) {
    c.runs = &runs;
    ExInitializeWorkItem(
        &c.item,
        [](PVOID parameter) {
          std::this_thread::sleep_for(std::chrono::microseconds(100));
          ++*static_cast<counted *>(parameter)->runs;
        },
        &c);
  }
  for (int i = 0; i < count; ++i) {
    ExQueueWorkItem(&items[i].item, static_cast<WORK_QUEUE_TYPE>(i % 4));
  }
  uwsk::nt::drain_work_queues();
  EXPECT_EQ(runs.load(), count);
  EXPECT_EQ(uwsk::nt::pending_work_items(), 0U);
}

TEST(ExWorkItem, AnItemMayWaitForAnotherAndRequeueItself) {
  struct chain {
    WORK_QUEUE_ITEM waiter_item;
    WORK_QUEUE_ITEM signaller_item;
    KEVENT signal;
    std::atomic<int> requeues{0};
    std::atomic<bool> waiter_done{false};
  } c;
  KeInitializeEvent(&c.signal, NotificationEvent, FALSE);
  ExInitializeWorkItem(
      &c.waiter_item,
      [](PVOID parameter) {
        auto *ch = static_cast<chain *>(parameter);
        // Blocks this worker until the other item runs on another one.
        KeWaitForSingleObject(&ch->signal, Executive, KernelMode, FALSE, nullptr);
        ch->waiter_done = true;
      },
      &c);
  ExInitializeWorkItem(
      &c.signaller_item,
      [](PVOID parameter) {
        auto *ch = static_cast<chain *>(parameter);
        if (++ch->requeues < 3) {
          ExQueueWorkItem(&ch->signaller_item, CriticalWorkQueue);
          return;
        }
        KeSetEvent(&ch->signal, IO_NO_INCREMENT, FALSE);
      },
      &c);
  ExQueueWorkItem(&c.waiter_item, DelayedWorkQueue);
  ExQueueWorkItem(&c.signaller_item, DelayedWorkQueue);
  uwsk::nt::drain_work_queues();
  EXPECT_TRUE(c.waiter_done.load());
  EXPECT_EQ(c.requeues.load(), 3);
}

TEST(ExWorkItem, StopJoinsWorkersAndALaterItemStartsNewOnes) {
  work_record record;
  KeInitializeEvent(&record.done, NotificationEvent, FALSE);
  ExInitializeWorkItem(&record.item, record_work, &record);
  ExQueueWorkItem(&record.item, NormalWorkQueue);
  uwsk::nt::stop_work_queues();
  EXPECT_NE(KeReadStateEvent(&record.done), 0);
  KeClearEvent(&record.done);
  ExInitializeWorkItem(&record.item, record_work, &record);
  ExQueueWorkItem(&record.item, NormalWorkQueue);
  uwsk::nt::stop_work_queues();
  EXPECT_NE(KeReadStateEvent(&record.done), 0);
}

TEST(ExWorkItemDeathTest, QueueingALinkedItemBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        // A List.Flink that is not NULL means "still queued" (or never initialised with
        // ExInitializeWorkItem); queueing it would corrupt the queue.
        static WORK_QUEUE_ITEM item;
        static LIST_ENTRY elsewhere;
        ExInitializeWorkItem(
            &item, [](PVOID) {}, nullptr);
        item.List.Flink = &elsewhere;
        ExQueueWorkItem(&item, DelayedWorkQueue);
      },
      "WORKER_INVALID");
}

TEST(ExWorkItemDeathTest, RoutineReturningAtDispatchBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static WORK_QUEUE_ITEM item;
        ExInitializeWorkItem(
            &item, [](PVOID) { KeRaiseIrqlToDpcLevel(); }, nullptr);
        ExQueueWorkItem(&item, DelayedWorkQueue);
        uwsk::nt::drain_work_queues();
      },
      "WORKER_THREAD_RETURNED_AT_BAD_IRQL");
}

} // namespace

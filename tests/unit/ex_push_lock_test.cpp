// Push locks (ExAcquirePushLock*), with real threads.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <wdm.h>

#include "support/timing.hpp"

namespace {

using uwsk::test::eventually;
using namespace std::chrono_literals;

TEST(ExPushLock, ExclusiveHoldersExcludeEachOther) {
  EX_PUSH_LOCK lock;
  ExInitializePushLock(&lock);
  EXPECT_EQ(lock, 0u);
  constexpr int threads = 4;
  constexpr int rounds = 2000;
  long counter = 0; // guarded by lock, deliberately not atomic: TSan checks the ordering
  std::atomic<int> inside{0};
  std::atomic<bool> overlap{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        KeEnterCriticalRegion();
        ExAcquirePushLockExclusive(&lock);
        if (inside.fetch_add(1) != 0) {
          overlap = true;
        }
        ++counter;
        inside.fetch_sub(1);
        ExReleasePushLockExclusive(&lock);
        KeLeaveCriticalRegion();
      }
    });
  }
  for (auto &w : workers) {
    w.join();
  }
  EXPECT_FALSE(overlap);
  EXPECT_EQ(counter, static_cast<long>(threads) * rounds);
  EXPECT_EQ(lock, 0u);
}

TEST(ExPushLock, ReadersShareAndAWriterWaitsForThem) {
  EX_PUSH_LOCK lock;
  ExInitializePushLock(&lock);
  KeEnterCriticalRegion();
  ExAcquirePushLockShared(&lock);
  // A second reader on another thread gets in while the first holds it.
  std::atomic<bool> second_reader_in{false};
  std::thread reader([&] {
    KeEnterCriticalRegion();
    ExAcquirePushLockShared(&lock);
    second_reader_in = true;
    ExReleasePushLockShared(&lock);
    KeLeaveCriticalRegion();
  });
  reader.join();
  EXPECT_TRUE(second_reader_in);
  EXPECT_FALSE(ExTryAcquirePushLockExclusiveEx(&lock, 0));
  EXPECT_TRUE(ExTryAcquirePushLockSharedEx(&lock, 0));
  ExReleasePushLockShared(&lock);

  std::atomic<bool> writer_in{false};
  std::thread writer([&] {
    KeEnterCriticalRegion();
    ExAcquirePushLockExclusive(&lock);
    writer_in = true;
    ExReleasePushLock(&lock); // the generic release finds the exclusive hold
    KeLeaveCriticalRegion();
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(writer_in); // still blocked by our read hold
  ExReleasePushLock(&lock);
  KeLeaveCriticalRegion();
  writer.join();
  EXPECT_TRUE(writer_in);
  EXPECT_EQ(lock, 0u);
}

TEST(ExPushLock, ReaderWaitsForWriter) {
  EX_PUSH_LOCK lock;
  ExInitializePushLock(&lock);
  KeEnterCriticalRegion();
  ExAcquirePushLockExclusive(&lock);
  EXPECT_FALSE(ExTryAcquirePushLockSharedEx(&lock, 0));
  std::atomic<bool> reader_in{false};
  std::thread reader([&] {
    KeEnterCriticalRegion();
    ExAcquirePushLockShared(&lock);
    reader_in = true;
    ExReleasePushLockShared(&lock);
    KeLeaveCriticalRegion();
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(reader_in);
  ExReleasePushLockExclusive(&lock);
  KeLeaveCriticalRegion();
  EXPECT_TRUE(eventually([&] { return reader_in.load(); }));
  reader.join();
}

TEST(ExPushLockDeathTest, ReleasingAnUnheldLockIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        EX_PUSH_LOCK lock;
        ExInitializePushLock(&lock);
        ExReleasePushLockShared(&lock);
      },
      "the push lock is not held that way");
}

TEST(ExPushLockDeathTest, AcquiringAtDispatchLevelIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        EX_PUSH_LOCK lock;
        ExInitializePushLock(&lock);
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        ExAcquirePushLockExclusive(&lock);
      },
      "IRQL_NOT_LESS_OR_EQUAL");
}

} // namespace

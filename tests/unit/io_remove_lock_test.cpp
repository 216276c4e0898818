// Remove locks: acquisitions counted, removal waiting for them, and STATUS_DELETE_PENDING after.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <wdm.h>

#include "support/timing.hpp"

namespace {

using uwsk::test::eventually;
using namespace std::chrono_literals;

constexpr ULONG tag = 'tseT';

TEST(IoRemoveLock, AcquireAndReleaseCount) {
  IO_REMOVE_LOCK lock;
  IoInitializeRemoveLock(&lock, tag, 0, 0);
  EXPECT_FALSE(lock.Common.Removed);
  EXPECT_EQ(lock.Common.IoCount, 1);
  EXPECT_EQ(IoAcquireRemoveLock(&lock, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(IoAcquireRemoveLock(&lock, &lock), STATUS_SUCCESS);
  EXPECT_EQ(lock.Common.IoCount, 3);
  IoReleaseRemoveLock(&lock, &lock);
  EXPECT_EQ(lock.Common.IoCount, 2);
  IoReleaseRemoveLockAndWait(&lock, nullptr); // nothing else outstanding: returns at once
  EXPECT_TRUE(lock.Common.Removed);
  EXPECT_EQ(lock.Common.IoCount, 0);
  EXPECT_EQ(IoAcquireRemoveLock(&lock, nullptr), STATUS_DELETE_PENDING);
  EXPECT_EQ(lock.Common.IoCount, 0);
}

TEST(IoRemoveLock, RemovalWaitsForOutstandingIo) {
  IO_REMOVE_LOCK lock;
  IoInitializeRemoveLock(&lock, tag, 0, 0);
  ASSERT_EQ(IoAcquireRemoveLock(&lock, nullptr), STATUS_SUCCESS); // an I/O in progress
  std::atomic<bool> removed{false};
  std::thread remover([&] {
    ASSERT_EQ(IoAcquireRemoveLock(&lock, &removed), STATUS_SUCCESS);
    IoReleaseRemoveLockAndWait(&lock, &removed);
    removed = true;
  });
  // Once removal has begun, new I/O is refused even though the wait is not over.
  ASSERT_TRUE(
      eventually([&] { return __atomic_load_n(&lock.Common.Removed, __ATOMIC_ACQUIRE) != FALSE; }));
  EXPECT_EQ(IoAcquireRemoveLock(&lock, nullptr), STATUS_DELETE_PENDING);
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(removed);
  IoReleaseRemoveLock(&lock, nullptr); // the I/O finishes
  remover.join();
  EXPECT_TRUE(removed);
}

TEST(IoRemoveLockDeathTest, ReleasingMoreThanAcquiredIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        IO_REMOVE_LOCK lock;
        IoInitializeRemoveLock(&lock, tag, 0, 0);
        IoReleaseRemoveLock(&lock, nullptr);
        IoReleaseRemoveLock(&lock, nullptr);
      },
      "released more often than it was acquired");
}

} // namespace

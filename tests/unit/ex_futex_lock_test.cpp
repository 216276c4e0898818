// The futex lock behind socket locks and the pool's lists: mutual exclusion under contention
// (threads sleep on the futex and are woken), and try_lock.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

#include "nt/ex/futex_lock.hpp"

namespace {

using uwsk::nt::futex_lock;

TEST(FutexLock, TryLockFailsWhileHeld) {
  futex_lock lock;
  ASSERT_TRUE(lock.try_lock());
  EXPECT_FALSE(lock.try_lock());
  lock.unlock();
  EXPECT_TRUE(lock.try_lock());
  lock.unlock();
}

TEST(FutexLock, ExcludesUnderContention) {
  futex_lock lock;
  long counter = 0; // guarded by lock; a lost update would show in the total
  constexpr int threads = 4;
  constexpr int rounds = 20000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        std::lock_guard guard(lock);
        const long seen = counter;
        if (i % 1000 == 0) {
          std::this_thread::yield(); // hold it a while now and then, so that others sleep
        }
        counter = seen + 1;
      }
    });
  }
  for (auto &w : workers) {
    w.join();
  }
  EXPECT_EQ(counter, long{threads} * rounds);
}

} // namespace

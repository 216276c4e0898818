// The per-thread block cache behind the data-path allocators: reuse on one thread, bounds,
// blocks released on another thread, the hand-over at thread exit, and that cached blocks are
// never written to (the owners' freed marks survive).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "nt/ex/thread_cache.hpp"

namespace {

using uwsk::nt::block_cache;

block_cache &make_cache(std::size_t size, std::size_t thread_capacity, std::size_t shared_capacity,
                        std::size_t alignment = 16) {
  block_cache::options o;
  o.size = size;
  o.alignment = alignment;
  o.thread_capacity = thread_capacity;
  o.shared_capacity = shared_capacity;
  o.readable_prefix = sizeof(std::uint32_t);
  // Caches live for the process (thread_cache.hpp rule 4); a plain array, which has no
  // destructor, keeps them reachable for LeakSanitizer.
  [[maybe_unused]] static block_cache *created[16];
  static std::size_t count = 0;
  block_cache *cache = new block_cache(o);
  created[count++ % 16] = cache;
  return *cache;
}

TEST(ThreadCache, ReleasedBlocksAreReusedOnTheSameThread) {
  block_cache &cache = make_cache(100, 8, 8);
  EXPECT_EQ(cache.block_size(), 100u); // as asked: each block is allocated apart
  bool recycled = true;
  void *a = cache.allocate(&recycled);
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(recycled);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % 16, 0u);
  std::memset(a, 0xAB, cache.block_size());
  cache.release(a);
  EXPECT_EQ(cache.cached_in_this_thread(), 1u);
  void *b = cache.allocate(&recycled);
  EXPECT_EQ(b, a);
  EXPECT_TRUE(recycled);
  EXPECT_EQ(cache.cached_in_this_thread(), 0u);
  EXPECT_EQ(cache.heap_allocations(), 1u);
  cache.release(b);
}

TEST(ThreadCache, HonoursTheAlignment) {
  block_cache &cache = make_cache(200, 4, 4, 64);
  void *a = cache.allocate();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a) % 64, 0u);
  cache.release(a);
}

TEST(ThreadCache, TheFreedMarkSurvivesCaching) {
  block_cache &cache = make_cache(64, 4, 4);
  auto *block = static_cast<std::uint32_t *>(cache.allocate());
  ASSERT_NE(block, nullptr);
  *block = 0x44454546; // the owner's "freed" mark, inside the readable prefix
  cache.release(block);
  EXPECT_EQ(*block, 0x44454546u); // still readable, even under AddressSanitizer
  auto *again = static_cast<std::uint32_t *>(cache.allocate());
  EXPECT_EQ(again, block);
  EXPECT_EQ(*again, 0x44454546u);
  cache.release(again);
}

TEST(ThreadCache, OverflowGoesToTheSharedListThenToTheHeap) {
  block_cache &cache = make_cache(32, 2, 3);
  std::vector<void *> blocks;
  for (int i = 0; i < 8; ++i) {
    blocks.push_back(cache.allocate());
    ASSERT_NE(blocks.back(), nullptr);
  }
  EXPECT_EQ(cache.heap_allocations(), 8u);
  for (void *b : blocks) {
    cache.release(b);
  }
  EXPECT_EQ(cache.cached_in_this_thread(), 2u);
  EXPECT_EQ(cache.cached_shared(), 3u); // the other 3 went back to the C allocator
  // Five come back from the caches without touching the allocator.
  std::set<void *> again;
  for (int i = 0; i < 5; ++i) {
    again.insert(cache.allocate());
  }
  EXPECT_EQ(again.size(), 5u);
  EXPECT_EQ(cache.heap_allocations(), 8u);
  EXPECT_EQ(cache.cached_in_this_thread(), 0u);
  EXPECT_EQ(cache.cached_shared(), 0u);
  for (void *b : again) {
    cache.release(b);
  }
}

TEST(ThreadCache, BlocksMayBeReleasedOnAnotherThread) {
  block_cache &cache = make_cache(48, 16, 64);
  std::vector<void *> blocks;
  for (int i = 0; i < 32; ++i) {
    blocks.push_back(cache.allocate());
  }
  std::thread other([&] {
    for (void *b : blocks) {
      cache.release(b);
    }
    EXPECT_EQ(cache.cached_in_this_thread(), 16u);
  });
  other.join();
  // The other thread kept 16 and passed 16 on; at its exit its 16 joined them.
  EXPECT_EQ(cache.cached_shared(), 32u);
  EXPECT_EQ(cache.cached_in_this_thread(), 0u);
  std::set<void *> again;
  for (int i = 0; i < 32; ++i) {
    again.insert(cache.allocate());
  }
  EXPECT_EQ(again, std::set<void *>(blocks.begin(), blocks.end()));
  EXPECT_EQ(cache.heap_allocations(), 32u);
  for (void *b : again) {
    cache.release(b);
  }
}

TEST(ThreadCache, ThreadExitFreesWhatTheSharedListCannotHold) {
  block_cache &cache = make_cache(48, 8, 4);
  std::thread worker([&] {
    std::vector<void *> blocks;
    for (int i = 0; i < 8; ++i) {
      blocks.push_back(cache.allocate());
    }
    for (void *b : blocks) {
      cache.release(b);
    }
    EXPECT_EQ(cache.cached_in_this_thread(), 8u);
  });
  worker.join();
  EXPECT_EQ(cache.cached_shared(), 4u); // the other four were freed (LeakSanitizer checks)
}

TEST(ThreadCache, ManyThreadsAllocateAndReleaseConcurrently) {
  block_cache &cache = make_cache(128, 8, 32);
  constexpr int threads = 4;
  constexpr int rounds = 2000;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  // Each thread allocates a few blocks, hands them to its neighbour through a shared slot, and
  // releases what it receives: blocks cross threads all the time.
  std::vector<std::atomic<void *>> mailbox(threads);
  for (auto &m : mailbox) {
    m.store(nullptr);
  }
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        auto *block = static_cast<unsigned char *>(cache.allocate());
        if (block == nullptr) {
          failures.fetch_add(1);
          continue;
        }
        std::memset(block, t, cache.block_size());
        void *previous = mailbox[(t + 1) % threads].exchange(block, std::memory_order_acq_rel);
        if (previous != nullptr) {
          cache.release(previous);
        }
        if (void *mine = mailbox[t].exchange(nullptr, std::memory_order_acq_rel)) {
          cache.release(mine);
        }
      }
    });
  }
  for (auto &w : workers) {
    w.join();
  }
  for (auto &m : mailbox) {
    if (void *left = m.exchange(nullptr)) {
      cache.release(left);
    }
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(cache.cached_shared(), 32u);
}

} // namespace

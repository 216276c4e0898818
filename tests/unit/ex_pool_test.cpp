// Pool and lookaside lists: flags, zeroing, alignment, tags, accounting, and misuse.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include <wdm.h>

#include "nt/ex/pool.hpp"

namespace {

std::size_t outstanding_for(ULONG tag) {
  for (const auto &usage : uwsk::nt::pool_outstanding()) {
    if (usage.tag == tag) {
      return usage.allocations;
    }
  }
  return 0;
}

TEST(Pool, Allocate2ZeroesAndAligns) {
  auto *small = static_cast<PUCHAR>(ExAllocatePool2(POOL_FLAG_NON_PAGED, 100, 'tsT1'));
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small) % 16, 0u);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(small[i], 0) << i;
  }
  auto *large = static_cast<PUCHAR>(ExAllocatePool2(POOL_FLAG_PAGED, 3 * PAGE_SIZE, 'tsT1'));
  ASSERT_NE(large, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large) % PAGE_SIZE, 0u);
  EXPECT_EQ(outstanding_for('tsT1'), 2u);
  ExFreePoolWithTag(small, 'tsT1');
  ExFreePoolWithTag(large, 'tsT1');
  EXPECT_EQ(outstanding_for('tsT1'), 0u);
}

// docs/divergences.md, D3 (a bug): Windows never lets a block smaller than a page cross a page
// boundary; uwsk's may. Disabled in the plain run: ctest runs it as
// divergence.D3.pool_small_blocks_in_one_page, which expects it to fail until the bug is fixed.
TEST(Pool, DISABLED_D3_SmallBlocksStayInOnePage) {
  constexpr SIZE_T sizes[] = {PAGE_SIZE - 16, PAGE_SIZE / 2 + 16, 3000, 1000};
  constexpr int per_size = 16;
  std::vector<void *> blocks;
  int crossing = 0;
  for (const SIZE_T size : sizes) {
    for (int i = 0; i < per_size; ++i) {
      void *block = ExAllocatePool2(POOL_FLAG_NON_PAGED, size, 'tsD3');
      EXPECT_NE(block, nullptr);
      if (block == nullptr) {
        continue;
      }
      blocks.push_back(block);
      const auto first = reinterpret_cast<uintptr_t>(block);
      if (first / PAGE_SIZE != (first + size - 1) / PAGE_SIZE) {
        ++crossing;
      }
    }
  }
  for (void *block : blocks) {
    ExFreePoolWithTag(block, 'tsD3');
  }
  EXPECT_EQ(crossing, 0) << "of " << blocks.size() << " blocks smaller than a page";
}

// A block of a page or more keeps its header apart (not a page below it): the block is
// page-aligned, every byte of it is the driver's, and many of them sit a block's size apart.
TEST(Pool, PageSizedBlocksKeepTheirHeadersApart) {
  constexpr int count = 64;
  PUCHAR blocks[count] = {};
  for (int i = 0; i < count; ++i) {
    const SIZE_T bytes = PAGE_SIZE + static_cast<SIZE_T>(i % 3) * 100;
    blocks[i] = static_cast<PUCHAR>(ExAllocatePool2(POOL_FLAG_NON_PAGED, bytes, 'tsT7'));
    ASSERT_NE(blocks[i], nullptr);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(blocks[i]) % PAGE_SIZE, 0u);
    for (SIZE_T j = 0; j < bytes; ++j) {
      ASSERT_EQ(blocks[i][j], 0) << i << " " << j;
    }
    std::memset(blocks[i], 0xA5, bytes); // all of it is the driver's
  }
  EXPECT_EQ(outstanding_for('tsT7'), static_cast<std::size_t>(count));
  // Freed in another order than allocated, with both free calls.
  for (int i = count - 1; i >= 0; i -= 2) {
    ExFreePoolWithTag(blocks[i], 'tsT7');
  }
  for (int i = 0; i < count; i += 2) {
    ExFreePool(blocks[i]);
  }
  EXPECT_EQ(outstanding_for('tsT7'), 0u);
}

TEST(Pool, Allocate2RejectsBadTagsAndFlags) {
  EXPECT_EQ(ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 0), nullptr);
  EXPECT_EQ(ExAllocatePool2(0, 16, 'tsT2'), nullptr);
  EXPECT_EQ(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED, 16, 'tsT2'), nullptr);
  EXPECT_EQ(ExAllocatePool2(POOL_FLAG_NON_PAGED | 0x1000, 16, 'tsT2'), nullptr);
}

TEST(Pool, LegacyAllocatorsAndProtectedTag) {
  PVOID a = ExAllocatePoolWithTag(NonPagedPoolNx, 10, 'tsT3');
  PVOID b = ExAllocatePoolZero(NonPagedPool, 10, 'tsT3');
  PVOID c = ExAllocatePool(PagedPool, 10);
  PVOID d = ExAllocatePoolWithTag(NonPagedPool, 10, 'tsT3' | 0x80000000u);
  ASSERT_TRUE(a && b && c && d);
  EXPECT_EQ(static_cast<PUCHAR>(b)[9], 0);
  EXPECT_EQ(outstanding_for('tsT3'), 3u);
  EXPECT_EQ(outstanding_for('enoN'), 1u);
  ExFreePoolWithTag(a, 'tsT3');
  ExFreePool(b);
  ExFreePool(c);
  ExFreePoolWithTag(d, 'tsT3' | 0x80000000u);
  EXPECT_EQ(outstanding_for('tsT3'), 0u);
}

TEST(Pool, Allocate3ValidatesExtendedParameters) {
  POOL_EXTENDED_PARAMETER parameter{};
  parameter.Type = PoolExtendedParameterPriority;
  parameter.Priority = HighPoolPriority;
  PVOID p = ExAllocatePool3(POOL_FLAG_NON_PAGED, 32, 'tsT4', &parameter, 1);
  ASSERT_NE(p, nullptr);
  ExFreePool2(p, 'tsT4', nullptr, 0);
  parameter.Type = PoolExtendedParameterInvalidType;
  EXPECT_EQ(ExAllocatePool3(POOL_FLAG_NON_PAGED, 32, 'tsT4', &parameter, 1), nullptr);
}

TEST(Pool, TagText) {
  EXPECT_EQ(uwsk::nt::pool_tag_text('kdD '), " Ddk");
  EXPECT_EQ(uwsk::nt::pool_tag_text('lleH'), "Hell");
}

TEST(PoolDeathTest, FreeWithTheWrongTagIsBadPoolCaller) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'tsT5');
        ExFreePoolWithTag(p, 'gnrW');
      },
      "BAD_POOL_CALLER");
}

TEST(PoolDeathTest, PageSizedFreeWithTheWrongTagIsBadPoolCaller) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 2 * PAGE_SIZE, 'tsT8');
        ExFreePoolWithTag(p, 'gnrW');
      },
      "BAD_POOL_CALLER");
}

TEST(PoolDeathTest, PagedAllocationAtDispatchIsBadPoolCaller) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        (void)ExAllocatePool2(POOL_FLAG_PAGED, 8, 'tsT6');
      },
      "BAD_POOL_CALLER");
}

PVOID NTAPI counting_allocate(POOL_TYPE type, SIZE_T bytes, ULONG tag, PLOOKASIDE_LIST_EX) {
  return ExAllocatePoolWithTag(type, bytes, tag);
}
VOID NTAPI counting_free(PVOID block, PLOOKASIDE_LIST_EX) {
  ExFreePool(block);
}

TEST(Lookaside, BlocksAreRecycled) {
  LOOKASIDE_LIST_EX list;
  ASSERT_EQ(ExInitializeLookasideListEx(&list, counting_allocate, counting_free, NonPagedPoolNx, 0,
                                        48, 'tsT7', 0),
            STATUS_SUCCESS);
  PVOID first = ExAllocateFromLookasideListEx(&list);
  ASSERT_NE(first, nullptr);
  ExFreeToLookasideListEx(&list, first);
  EXPECT_EQ(ExAllocateFromLookasideListEx(&list), first);
  ExFreeToLookasideListEx(&list, first);
  EXPECT_EQ(uwsk::nt::live_lookaside_lists(), 1u);
  ExDeleteLookasideListEx(&list);
  EXPECT_EQ(uwsk::nt::live_lookaside_lists(), 0u);
  EXPECT_EQ(outstanding_for('tsT7'), 0u);
}

TEST(Lookaside, RejectsConflictingFlags) {
  LOOKASIDE_LIST_EX list;
  EXPECT_EQ(ExInitializeLookasideListEx(&list, nullptr, nullptr, NonPagedPoolNx,
                                        EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL |
                                            EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE,
                                        48, 'tsT8', 0),
            STATUS_INVALID_PARAMETER);
}

TEST(Lookaside, NonPagedAndPagedListsUseThePool) {
  NPAGED_LOOKASIDE_LIST npaged;
  PAGED_LOOKASIDE_LIST paged;
  ExInitializeNPagedLookasideList(&npaged, nullptr, nullptr, 0, 24, 'tsT9', 0);
  ExInitializePagedLookasideList(&paged, nullptr, nullptr, 0, 4, 'tsT9', 0);
  PVOID blocks[300];
  for (auto &block : blocks) {
    block = ExAllocateFromNPagedLookasideList(&npaged);
    ASSERT_NE(block, nullptr);
  }
  EXPECT_EQ(outstanding_for('tsT9'), 300u);
  for (auto *block : blocks) {
    ExFreeToNPagedLookasideList(&npaged, block);
  }
  // The list keeps at most its depth; the rest went back to the pool.
  EXPECT_LE(outstanding_for('tsT9'), 256u);
  PVOID small = ExAllocateFromPagedLookasideList(&paged);
  ExFreeToPagedLookasideList(&paged, small);
  ExDeleteNPagedLookasideList(&npaged);
  ExDeletePagedLookasideList(&paged);
  EXPECT_EQ(outstanding_for('tsT9'), 0u);
}

// Small blocks come from per-thread caches by size class: a block freed is the next one of its
// class handed out on that thread, zeroed again, and blocks of every size keep their bytes apart.
TEST(Pool, SmallBlocksAreRecycledAndZeroed) {
  auto *first = static_cast<PUCHAR>(ExAllocatePool2(POOL_FLAG_NON_PAGED, 100, 'tsTa'));
  ASSERT_NE(first, nullptr);
  std::memset(first, 0xA5, 100);
  ExFreePoolWithTag(first, 'tsTa');
  auto *again = static_cast<PUCHAR>(ExAllocatePool2(POOL_FLAG_NON_PAGED, 100, 'tsTa'));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again, first);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(again[i], 0) << i;
  }
  ExFreePoolWithTag(again, 'tsTa');

  // Every size up to past the largest class, two blocks each, filled to their last byte.
  std::vector<std::pair<PUCHAR, std::size_t>> blocks;
  for (std::size_t size = 1; size <= 1100; size += 7) {
    for (int copy = 0; copy < 2; ++copy) {
      auto *p = static_cast<PUCHAR>(ExAllocatePool2(POOL_FLAG_NON_PAGED, size, 'tsTa'));
      ASSERT_NE(p, nullptr) << size;
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
      std::memset(p, static_cast<int>((blocks.size() * 31 + 7) & 0xFF), size);
      blocks.emplace_back(p, size);
    }
  }
  EXPECT_EQ(outstanding_for('tsTa'), blocks.size());
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto expected = static_cast<UCHAR>((i * 31 + 7) & 0xFF);
    for (std::size_t b = 0; b < blocks[i].second; ++b) {
      ASSERT_EQ(blocks[i].first[b], expected) << "block " << i << " byte " << b;
    }
  }
  for (const auto &[p, size] : blocks) {
    ExFreePoolWithTag(p, 'tsTa');
  }
  EXPECT_EQ(outstanding_for('tsTa'), 0u);
}

// A block freed on another thread than the one that allocated it (a completion routine freeing
// a context, say) goes to that thread's cache and serves it next.
TEST(Pool, SmallBlocksFreedOnAnotherThread) {
  std::vector<PVOID> made;
  for (int i = 0; i < 200; ++i) {
    PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 48 + (i % 5) * 150, 'tsTb');
    ASSERT_NE(p, nullptr);
    made.push_back(p);
  }
  std::thread other([&] {
    for (PVOID p : made) {
      ExFreePoolWithTag(p, 'tsTb');
    }
    PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 48, 'tsTb');
    EXPECT_NE(p, nullptr);
    ExFreePoolWithTag(p, 'tsTb');
  });
  other.join();
  EXPECT_EQ(outstanding_for('tsTb'), 0u);
}

TEST(PoolDeathTest, SmallBlockFreedTwiceIsBadPoolCaller) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        PVOID p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 40, 'tsTc');
        ExFreePoolWithTag(p, 'tsTc'); // now cached: its header still says freed
        ExFreePoolWithTag(p, 'tsTc');
      },
      "already freed \\(a double free\\)(.|\n)*BAD_POOL_CALLER");
}

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer the bytes of a size class past the driver's block are unaddressable, as
// past a block of the C allocator.
TEST(PoolDeathTest, WritePastASmallBlockIsReportedUnderAsan) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto *p = static_cast<volatile UCHAR *>(ExAllocatePool2(POOL_FLAG_NON_PAGED, 70, 'tsTd'));
        // Inside the block's size class (192 bytes, 128 after the header), past the 70 asked for.
        p[72] = 1;
      },
      "AddressSanitizer");
}
#endif

} // namespace

// Interlocked operations, barriers, SLISTs (including a bounded multi-thread stress with
// allocation and free, for ASan and TSan) and the layouts other components rely on.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include <wdm.h>

namespace {

// ---- Layouts (x64 sizes from the WDK) -------------------------------------------------------

static_assert(sizeof(DISPATCHER_HEADER) == 24);
static_assert(sizeof(KEVENT) == 24);
static_assert(sizeof(KMUTEX) == 0x38);
static_assert(sizeof(KSEMAPHORE) == 32);
static_assert(sizeof(KTIMER) == 0x40);
static_assert(sizeof(KDPC) == 0x40);
static_assert(sizeof(KAPC) == 0x58);
static_assert(sizeof(KDEVICE_QUEUE_ENTRY) == 24);
static_assert(sizeof(KWAIT_BLOCK) == 0x30);
static_assert(sizeof(FAST_MUTEX) == 0x38);
static_assert(sizeof(KGUARDED_MUTEX) == 0x38);
static_assert(sizeof(ERESOURCE) == 0x68);
static_assert(sizeof(WORK_QUEUE_ITEM) == 32);
static_assert(sizeof(EX_RUNDOWN_REF) == 8);
static_assert(sizeof(SLIST_HEADER) == 16 && alignof(SLIST_HEADER) == 16);
static_assert(sizeof(SLIST_ENTRY) == 16 && alignof(SLIST_ENTRY) == 16);
static_assert(offsetof(KDEVICE_QUEUE_ENTRY, SortKey) == 16);
static_assert(offsetof(KAPC, Inserted) == 0x52);

// ---- Interlocked ----------------------------------------------------------------------------

TEST(Interlocked, ThirtyTwoBitReturnValues) {
  LONG volatile value = 5;
  EXPECT_EQ(InterlockedIncrement(&value), 6);
  EXPECT_EQ(InterlockedDecrement(&value), 5);
  EXPECT_EQ(InterlockedExchange(&value, 10), 5);
  EXPECT_EQ(InterlockedCompareExchange(&value, 20, 11), 10); // no match: unchanged
  EXPECT_EQ(value, 10);
  EXPECT_EQ(InterlockedCompareExchange(&value, 20, 10), 10);
  EXPECT_EQ(value, 20);
  EXPECT_EQ(InterlockedExchangeAdd(&value, 5), 20);
  EXPECT_EQ(InterlockedAdd(&value, 5), 30);
  EXPECT_EQ(InterlockedAnd(&value, 0x0f), 30);
  EXPECT_EQ(value, 30 & 0x0f);
  EXPECT_EQ(InterlockedOr(&value, 0x100), 14);
  EXPECT_EQ(InterlockedXor(&value, 0x1), 0x10e);
  EXPECT_EQ(value, 0x10f);
  EXPECT_EQ(InterlockedIncrementAcquire(&value), 0x110);
  EXPECT_EQ(InterlockedDecrementRelease(&value), 0x10f);
  EXPECT_EQ(InterlockedIncrementNoFence(&value), 0x110);
  EXPECT_EQ(InterlockedCompareExchangeAcquire(&value, 1, 0x110), 0x110);
  EXPECT_EQ(InterlockedCompareExchangeRelease(&value, 2, 1), 1);
  EXPECT_EQ(InterlockedCompareExchangeNoFence(&value, 3, 2), 2);
  EXPECT_EQ(InterlockedExchangeAcquire(&value, 7), 3);
  EXPECT_EQ(_InterlockedIncrement(&value), 8);
  EXPECT_EQ(ReadAcquire(&value), 8);
  WriteRelease(&value, 9);
  EXPECT_EQ(ReadNoFence(&value), 9);
  WriteNoFence(&value, -1);
  EXPECT_EQ(InterlockedIncrement(&value), 0);
}

TEST(Interlocked, SixteenAndEightBit) {
  SHORT volatile s = 0x7ffe;
  EXPECT_EQ(InterlockedIncrement16(&s), 0x7fff);
  EXPECT_EQ(InterlockedDecrement16(&s), 0x7ffe);
  EXPECT_EQ(InterlockedCompareExchange16(&s, 1, 0x7ffe), 0x7ffe);
  EXPECT_EQ(InterlockedExchange16(&s, 2), 1);
  EXPECT_EQ(InterlockedOr16(&s, 4), 2);
  EXPECT_EQ(InterlockedAnd16(&s, 4), 6);
  EXPECT_EQ(InterlockedXor16(&s, 5), 4);
  EXPECT_EQ(s, 1);
  CHAR volatile c = 1;
  EXPECT_EQ(InterlockedExchange8(&c, 2), 1);
  EXPECT_EQ(InterlockedOr8(&c, 1), 2);
  EXPECT_EQ(InterlockedAnd8(&c, 2), 3);
  EXPECT_EQ(InterlockedXor8(&c, 3), 2);
  EXPECT_EQ(InterlockedCompareExchange8(&c, 9, 1), 1);
  EXPECT_EQ(c, 9);
}

TEST(Interlocked, SixtyFourBitAndPointers) {
  LONG64 volatile v = 1LL << 40;
  EXPECT_EQ(InterlockedIncrement64(&v), (1LL << 40) + 1);
  EXPECT_EQ(InterlockedDecrement64(&v), 1LL << 40);
  EXPECT_EQ(InterlockedExchangeAdd64(&v, 2), 1LL << 40);
  EXPECT_EQ(InterlockedAdd64(&v, 2), (1LL << 40) + 4);
  EXPECT_EQ(InterlockedExchange64(&v, 3), (1LL << 40) + 4);
  EXPECT_EQ(InterlockedCompareExchange64(&v, 4, 3), 3);
  EXPECT_EQ(InterlockedOr64(&v, 8), 4);
  EXPECT_EQ(InterlockedAnd64(&v, 8), 12);
  EXPECT_EQ(InterlockedXor64(&v, 8), 8);
  EXPECT_EQ(v, 0);
  EXPECT_EQ(InterlockedIncrementAcquire64(&v), 1);
  EXPECT_EQ(InterlockedCompareExchangeRelease64(&v, 5, 1), 1);
  EXPECT_EQ(ReadAcquire64(&v), 5);
  WriteRelease64(&v, 6);
  EXPECT_EQ(ReadNoFence64(&v), 6);
  SIZE_T volatile size = 10;
  EXPECT_EQ(InterlockedExchangeAddSizeT(&size, 5), 10U);
  EXPECT_EQ(InterlockedIncrementSizeT(&size), 16U);
  EXPECT_EQ(InterlockedDecrementSizeT(&size), 15U);

  int a = 0;
  int b = 0;
  PVOID volatile p = &a;
  EXPECT_EQ(InterlockedExchangePointer(&p, &b), &a);
  EXPECT_EQ(InterlockedCompareExchangePointer(&p, &a, &a), &b); // no match
  EXPECT_EQ(p, &b);
  EXPECT_EQ(InterlockedCompareExchangePointer(&p, &a, &b), &b);
  EXPECT_EQ(p, &a);
  EXPECT_EQ(InterlockedCompareExchangePointerAcquire(&p, nullptr, &a), &a);
  EXPECT_EQ(InterlockedExchangePointerAcquire(&p, &b), nullptr);
  EXPECT_EQ(ReadPointerAcquire(&p), &b);
  WritePointerRelease(&p, &a);
  EXPECT_EQ(ReadPointerNoFence(&p), &a);
}

TEST(Interlocked, UnsignedOverloadsForCxx) {
  ULONG volatile u = 0xfffffffeU;
  EXPECT_EQ(InterlockedIncrement(&u), 0xffffffffU);
  EXPECT_EQ(InterlockedIncrement(&u), 0U); // wraps like the Windows intrinsic
  EXPECT_EQ(InterlockedDecrement(&u), 0xffffffffU);
  EXPECT_EQ(InterlockedCompareExchange(&u, 7, 0xffffffffU), 0xffffffffU);
  EXPECT_EQ(InterlockedExchange(&u, 8), 7U);
  EXPECT_EQ(InterlockedExchangeAdd(&u, 2), 8U);
  EXPECT_EQ(InterlockedAdd(&u, 2), 12U);
  EXPECT_EQ(InterlockedAnd(&u, 4), 12U);
  EXPECT_EQ(InterlockedOr(&u, 1), 4U);
  EXPECT_EQ(InterlockedXor(&u, 5), 5U);
  EXPECT_EQ(u, 0U);
  ULONG64 volatile w = 1ULL << 63;
  EXPECT_EQ(InterlockedIncrement64(&w), (1ULL << 63) + 1);
  EXPECT_EQ(InterlockedExchangeAdd64(&w, 1), (1ULL << 63) + 1);
  EXPECT_EQ(InterlockedCompareExchange64(&w, 0, (1ULL << 63) + 2), (1ULL << 63) + 2);
  EXPECT_EQ(w, 0U);
}

TEST(Interlocked, BitTests) {
  LONG volatile bits[2] = {0, 0};
  EXPECT_FALSE(InterlockedBitTestAndSet(bits, 3));
  EXPECT_TRUE(InterlockedBitTestAndSet(bits, 3));
  EXPECT_EQ(bits[0], 8);
  EXPECT_FALSE(InterlockedBitTestAndSet(bits, 33));
  EXPECT_EQ(bits[1], 2);
  EXPECT_TRUE(InterlockedBitTestAndReset(bits, 3));
  EXPECT_EQ(bits[0], 0);
  EXPECT_FALSE(InterlockedBitTestAndComplement(bits, 31));
  EXPECT_TRUE(InterlockedBitTestAndComplement(bits, 31));
  LONG64 volatile wide = 0;
  EXPECT_FALSE(InterlockedBitTestAndSet64(&wide, 63));
  EXPECT_TRUE(InterlockedBitTestAndReset64(&wide, 63));
  EXPECT_EQ(wide, 0);
}

TEST(Interlocked, BarriersCompile) {
  MemoryBarrier();
  KeMemoryBarrier();
  KeMemoryBarrierWithoutFence();
  _ReadWriteBarrier();
  _ReadBarrier();
  _WriteBarrier();
  YieldProcessor();
  SUCCEED();
}

TEST(Interlocked, ConcurrentIncrementsAreExact) {
  static LONG volatile counter = 0;
  LONG64 volatile counter64 = 0;
  constexpr int thread_count = 4;
  constexpr int iterations = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < iterations; ++i) {
        InterlockedIncrement(&counter);
        InterlockedAdd64(&counter64, 2);
      }
    });
  }
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_EQ(counter, thread_count * iterations);
  EXPECT_EQ(counter64, 2LL * thread_count * iterations);
}

TEST(Interlocked, CompareExchange128) {
  alignas(16) LONG64 volatile value[2] = {1, 2};
  alignas(16) LONG64 comparand[2] = {1, 2};
  EXPECT_TRUE(InterlockedCompareExchange128(value, 20, 10, comparand));
  EXPECT_EQ(value[0], 10);
  EXPECT_EQ(value[1], 20);
  comparand[0] = 1;
  comparand[1] = 2;
  EXPECT_FALSE(InterlockedCompareExchange128(value, 40, 30, comparand));
  EXPECT_EQ(comparand[0], 10);
  EXPECT_EQ(comparand[1], 20);
  EXPECT_EQ(value[0], 10);
}

// ---- SLIST ----------------------------------------------------------------------------------

struct item {
  SLIST_ENTRY link;
  ULONG value;
  ULONG magic;
};

TEST(SList, LifoWithDepth) {
  SLIST_HEADER head;
  InitializeSListHead(&head);
  EXPECT_EQ(QueryDepthSList(&head), 0);
  EXPECT_EQ(FirstEntrySList(&head), nullptr);
  EXPECT_EQ(InterlockedPopEntrySList(&head), nullptr);
  item items[3];
  for (ULONG i = 0; i < 3; ++i) {
    items[i].value = i;
  }
  EXPECT_EQ(InterlockedPushEntrySList(&head, &items[0].link), nullptr);
  EXPECT_EQ(InterlockedPushEntrySList(&head, &items[1].link), &items[0].link);
  EXPECT_EQ(ExInterlockedPushEntrySList(&head, &items[2].link, nullptr), &items[1].link);
  EXPECT_EQ(QueryDepthSList(&head), 3);
  EXPECT_EQ(ExQueryDepthSList(&head), 3);
  EXPECT_EQ(FirstEntrySList(&head), &items[2].link);
  EXPECT_EQ(head.HeaderX64.Depth, 3U);
  EXPECT_EQ(CONTAINING_RECORD(InterlockedPopEntrySList(&head), item, link)->value, 2U);
  EXPECT_EQ(CONTAINING_RECORD(ExInterlockedPopEntrySList(&head, nullptr), item, link)->value, 1U);
  EXPECT_EQ(QueryDepthSList(&head), 1);
  EXPECT_EQ(InterlockedPopEntrySList(&head), &items[0].link);
  EXPECT_EQ(InterlockedPopEntrySList(&head), nullptr);
  EXPECT_EQ(QueryDepthSList(&head), 0);
}

TEST(SList, FlushAndPushList) {
  SLIST_HEADER head;
  InitializeSListHead(&head);
  item items[4];
  for (auto &i : items) {
    InterlockedPushEntrySList(&head, &i.link);
  }
  PSLIST_ENTRY chain = InterlockedFlushSList(&head);
  EXPECT_EQ(QueryDepthSList(&head), 0);
  EXPECT_EQ(FirstEntrySList(&head), nullptr);
  int length = 0;
  for (PSLIST_ENTRY e = chain; e != nullptr; e = e->Next) {
    ++length;
  }
  EXPECT_EQ(length, 4);
  EXPECT_EQ(ExInterlockedFlushSList(&head), nullptr);
  // Push the chain back in one operation.
  EXPECT_EQ(InterlockedPushListSListEx(&head, chain, &items[0].link, 4), nullptr);
  EXPECT_EQ(QueryDepthSList(&head), 4);
  EXPECT_EQ(InterlockedPopEntrySList(&head), &items[3].link);
}

TEST(SList, ConcurrentPushPopWithAllocationStress) {
  constexpr ULONG magic = 0x5a5a1234;
  SLIST_HEADER head;
  InitializeSListHead(&head);
  constexpr int thread_count = 4;
  constexpr int iterations = 20000;
  std::atomic<long> pushed{0};
  std::atomic<long> popped{0};
  std::atomic<bool> corrupt{false};
  auto make_item = [&](ULONG value) {
    auto *i = static_cast<item *>(std::aligned_alloc(alignof(item), sizeof(item)));
    i->value = value;
    i->magic = magic;
    return i;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < iterations; ++n) {
        PSLIST_ENTRY entry = InterlockedPopEntrySList(&head);
        if (entry != nullptr) {
          ++popped;
          auto *i = CONTAINING_RECORD(entry, item, link);
          if (i->magic != magic) {
            corrupt = true;
          }
          if ((n + t) % 3 == 0) {
            // Free it and push a fresh one: a popper that read a stale first entry would be
            // caught by ASan here.
            i->magic = 0;
            std::free(i);
            i = make_item(static_cast<ULONG>(n));
          }
          InterlockedPushEntrySList(&head, &i->link);
          ++pushed;
        } else {
          InterlockedPushEntrySList(&head, &make_item(static_cast<ULONG>(n))->link);
          ++pushed;
        }
      }
    });
  }
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_FALSE(corrupt.load());
  long expected_depth = pushed.load() - popped.load();
  EXPECT_EQ(QueryDepthSList(&head), static_cast<USHORT>(expected_depth));
  long left = 0;
  for (PSLIST_ENTRY e = InterlockedFlushSList(&head); e != nullptr; ++left) {
    PSLIST_ENTRY next = e->Next;
    auto *i = CONTAINING_RECORD(e, item, link);
    EXPECT_EQ(i->magic, magic);
    std::free(i);
    e = next;
  }
  EXPECT_EQ(left, expected_depth);
}

} // namespace

namespace {

// MSVC's `long` is LONG; here it is 64 bits, and the C++ overloads work on its full width.
TEST(InterlockedLong, CxxOverloadsForLongWorkOnTheWholeVariable) {
  volatile long value = 0x7fffffffL;
  EXPECT_EQ(InterlockedIncrement(&value), 0x80000000L);
  EXPECT_EQ(InterlockedExchangeAdd(&value, 1L), 0x80000000L);
  EXPECT_EQ(InterlockedCompareExchange(&value, 3L, 0x80000001L), 0x80000001L);
  EXPECT_EQ(value, 3L);
  volatile unsigned long flags = 0;
  EXPECT_EQ(InterlockedOr(&flags, 0x100000000UL), 0UL);
  EXPECT_EQ(flags, 0x100000000UL);
}

} // namespace

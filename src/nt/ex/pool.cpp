// Executive pool: ExAllocatePool* and ExFreePool*.
//
// Every block has a header: the tag, the size and a magic word, plus links on a list of live
// blocks, so that the loader can report leaks by tag and a free with the wrong tag, a double
// free or a foreign pointer gets a bugcheck report instead of heap corruption. A small block
// carries its header just below the address the driver sees. A block of a page or more is
// page-aligned (as on Windows), where a header below it would cost a whole page, so its header
// is allocated apart and found through a side table keyed by the block's address. Drivers
// allocate pool per operation (a context per send, say), so the live blocks are spread over
// several lists (and side tables) by address, each with its own lock: threads working on
// different blocks rarely meet, and the leak report walks every list. With the verifier's
// bookkeeping off (UWSK_VERIFY=off) small blocks go on no list and take no lock: the header
// still catches double and foreign frees and wrong tags, but the leak report cannot list them.
// Small blocks (header included, up to 1 KiB) come from per-thread caches by size class
// (ex/thread_cache.hpp), so that a context allocated and freed per operation does not reach
// malloc, as Windows serves such requests from per-processor lookaside lists.
#include "nt/ex/pool.hpp"
#include "nt/bugcheck.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/io/irp_buffers.hpp"
#include "nt/ex/futex_lock.hpp"
#include "nt/ex/thread_cache.hpp"
#include "nt/fault/plan.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <unordered_map>

namespace uwsk::nt {
namespace {

constexpr ULONG pool_magic_live = 0x4c4f4f50;  // "POOL"
constexpr ULONG pool_magic_freed = 0x44454546; // "FEED"
constexpr ULONG protected_pool_bit = 0x80000000u;
// The pool type recorded for paged blocks from ExAllocatePool2 (which has no POOL_TYPE).
constexpr ULONG paged_pool2 = 0x100;

// Deliberate family (duplicates): bug-check parameter tables, here and in io/io_objects.hpp,
// alike in shape only.

// First parameters Windows uses with BAD_POOL_CALLER.
constexpr ULONG_PTR bad_pool_double_free = 0x7;
constexpr ULONG_PTR bad_pool_invalid_irql = 0x8;
constexpr ULONG_PTR bad_pool_free_invalid_irql = 0x9;
constexpr ULONG_PTR bad_pool_bad_tag = 0xA;
constexpr ULONG_PTR bad_pool_not_pool = 0x46;

struct alignas(16) pool_header {
  LIST_ENTRY links; // on its shard's list; guarded by the shard's lock
  void *base;       // what the C allocator returned
  SIZE_T size;      // bytes the driver asked for
  ULONG tag;        // tag without the protected bit
  ULONG magic;      // pool_magic_live while allocated
  ULONG pool_type;  // POOL_TYPE, or 0x100 for paged pool from ExAllocatePool2
  ULONG owner;      // pool_owner: 0 for the driver's own blocks
  const void *site; // the allocator's return address: where the block was allocated
  void *unused;     // keeps the header a multiple of 16 bytes
};
static_assert(sizeof(pool_header) % 16 == 0, "pool blocks stay 16-byte aligned");

// The lists of live blocks. A block's shard follows from its header's address, so a free finds
// the list its allocation used.
constexpr std::size_t shard_count = 16;
struct pool_header;
struct alignas(64) pool_shard {
  futex_lock lock;
  LIST_ENTRY blocks; // guarded by lock
  // The headers of page-aligned blocks by the block's address (the driver's pointer); guarded
  // by lock. Made on first use: most shards of most runs never hold one.
  std::unordered_map<const void *, pool_header *> *big = nullptr;
};
struct pool_shards {
  pool_shard shard[shard_count];
  pool_shards() {
    for (pool_shard &s : shard) {
      InitializeListHead(&s.blocks);
    }
  }
};

// Made on first use, so that pool works during other files' static initialisation too.
pool_shard *shards() {
  static pool_shards all;
  return all.shard;
}

pool_shard &shard_of(const void *address_in_block) {
  // Fibonacci hashing of the address: blocks 16 bytes apart land on different shards.
  const auto address = reinterpret_cast<std::uintptr_t>(address_in_block) >> 4;
  return shards()[(address * 0x9E3779B97F4A7C15ull) >> 60];
}
static_assert(shard_count == 16, "shard_of takes the top 4 bits of the hash");

// The size classes of small blocks, header included (a 64-byte header: the smallest class holds
// 64 bytes of the driver's). A cached block keeps its header readable (thread_cache.hpp rule 3),
// so a free of a freed block still finds pool_magic_freed there.
constexpr std::size_t small_classes[] = {128, 192, 256, 384, 512, 768, 1024};
constexpr std::size_t small_class_count = sizeof(small_classes) / sizeof(small_classes[0]);

constexpr std::size_t largest_small = small_classes[small_class_count - 1];
static_assert(largest_small % 64 == 0, "the largest class ends on a 64-byte step");

// The caches by 64-byte step of a block's total size: entry k holds the smallest class of at
// least 64 * k bytes. Made once, out of line (the callers below stay small).
[[gnu::noinline]] block_cache *const *make_small_caches() {
  static block_cache *made[small_class_count];
  static block_cache *steps[largest_small / 64 + 1];
  block_cache::options o;
  o.alignment = alignof(pool_header);
  o.readable_prefix = sizeof(pool_header);
  make_block_caches(small_classes, small_class_count, o, made);
  for (std::size_t step = 0; step <= largest_small / 64; ++step) {
    std::size_t i = 0;
    while (small_classes[i] < step * 64) {
      ++i;
    }
    steps[step] = made[i];
  }
  return steps;
}

// The cache for blocks of `total` bytes (header included, a multiple of 16), or nullptr when
// they are too large to cache. The same `total` at the free (from the header's size) finds the
// same cache. One table lookup: this runs twice per block.
[[gnu::always_inline]] inline block_cache *small_cache(std::size_t total) {
  static block_cache *const *const by_step = make_small_caches();
  return total <= largest_small ? by_step[(total + 63) / 64] : nullptr;
}

// A small block's size with its header, rounded to the header's alignment.
SIZE_T small_total(SIZE_T bytes) {
  return (sizeof(pool_header) + bytes + alignof(pool_header) - 1) & ~(alignof(pool_header) - 1);
}

bool is_paged(POOL_TYPE type) {
  return (static_cast<int>(type) & 1) != 0;
}

void fill_header(pool_header *header, void *base, SIZE_T bytes, ULONG tag, ULONG pool_type,
                 const void *site) {
  header->site = site;
  header->base = base;
  header->size = bytes;
  header->tag = tag & ~protected_pool_bit;
  header->magic = pool_magic_live;
  header->pool_type = pool_type;
  header->owner = pool_owner_driver;
}

// A block of a page or more: page-aligned, its header apart, in the side table of the shard of
// the block's address. Its size is not rounded up to whole pages: the rest of its last page stays
// with the C allocator for other blocks (a driver's 8.2 KiB connection would otherwise hold
// 12 KiB).
void *allocate_big_block(SIZE_T bytes, ULONG tag, ULONG pool_type, bool zero, const void *site) {
  auto *header = new (std::nothrow) pool_header;
  void *user = nullptr;
  if (header == nullptr || posix_memalign(&user, PAGE_SIZE, bytes) != 0) {
    delete header;
    return nullptr;
  }
  fill_header(header, user, bytes, tag, pool_type, site);
  if (zero) {
    std::memset(user, 0, bytes);
  }
  pool_shard &shard = shard_of(user);
  std::lock_guard guard(shard.lock);
  if (shard.big == nullptr) {
    shard.big = new (std::nothrow) std::unordered_map<const void *, pool_header *>;
  }
  bool recorded = false;
  if (shard.big != nullptr) {
    try {
      recorded = shard.big->emplace(user, header).second;
    } catch (const std::bad_alloc &) {
    }
  }
  if (!recorded) {
    std::free(user);
    delete header;
    return nullptr;
  }
  InsertTailList(&shard.blocks, &header->links);
  return user;
}

void *allocate_block(SIZE_T bytes, ULONG tag, ULONG pool_type, bool zero, bool page_aligned,
                     const void *site) {
  if (bytes > (SIZE_T{1} << 40)) {
    return nullptr;
  }
  if (fault::active() && fault::fail_allocation(fault::stream::alloc_pool)) {
    return nullptr; // injected (docs/faults.md)
  }
  if (page_aligned) {
    // Requests of a page or more are page-aligned, as on Windows.
    return allocate_big_block(bytes, tag, pool_type, zero, site);
  }
  const SIZE_T total = small_total(bytes);
  block_cache *cache = small_cache(total);
  void *base =
      cache != nullptr ? cache->allocate() : std::aligned_alloc(alignof(pool_header), total);
  if (base == nullptr) {
    return nullptr;
  }
  auto *user = static_cast<unsigned char *>(base) + sizeof(pool_header);
  auto *header = reinterpret_cast<pool_header *>(user) - 1;
  fill_header(header, base, bytes, tag, pool_type, site);
#if defined(UWSK_CACHE_ASAN)
  if (cache != nullptr) {
    // The class's bytes past the driver's stay unaddressable: an overflow is still reported.
    ASAN_POISON_MEMORY_REGION(user + bytes, cache->block_size() - sizeof(pool_header) - bytes);
  }
#endif
  if (zero) {
    std::memset(user, 0, bytes);
  }
  if (verifier::bookkeeping_off()) {
    header->links.Flink = header->links.Blink = nullptr; // on no list: the leak report skips it
    return user;
  }
  pool_shard &shard = shard_of(header);
  std::lock_guard guard(shard.lock);
  InsertTailList(&shard.blocks, &header->links);
  return user;
}

// BAD_POOL_CALLER with a sentence naming the block: "<what>: pool block P (tag 'Xxxx', N bytes)".
[[noreturn]] void bad_pool_caller(const char *what, const void *p, const pool_header *header,
                                  ULONG_PTR p1, ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4) {
  char reason[320];
  if (header != nullptr) {
    std::snprintf(reason, sizeof reason, "%s: pool block %p (tag '%s', %zu bytes)", what, p,
                  pool_tag_text(header->tag).c_str(), static_cast<std::size_t>(header->size));
  } else {
    std::snprintf(reason, sizeof reason, "%s: %p", what, p);
  }
  bugcheck(BAD_POOL_CALLER, reason, p1, p2, p3, p4);
}

// Under the shard's lock: the header of the page-aligned block at `p`, taken out of the side
// table, or NULL when `p` is not one.
pool_header *take_big_header(pool_shard &shard, const void *p) {
  if (shard.big == nullptr) {
    return nullptr;
  }
  auto it = shard.big->find(p);
  if (it == shard.big->end()) {
    return nullptr;
  }
  pool_header *header = it->second;
  shard.big->erase(it);
  return header;
}

// The checks of a free of a live block: its tag (when asked), who may free it, and the IRQL its
// pool allows.
void check_free(const pool_header *header, void *p, ULONG tag, bool check_tag, ULONG owner) {
  if (check_tag && header->tag != (tag & ~protected_pool_bit)) {
    // Rule V80, stopping with the bug check Windows makes (BAD_POOL_CALLER 0x0A).
    char sentence[160];
    std::snprintf(sentence, sizeof sentence,
                  "ExFreePoolWithTag with tag '%s', not the tag the block was allocated with",
                  pool_tag_text(tag & ~protected_pool_bit).c_str());
    char site[256];
    verifier::describe_code_address(header->site, site, sizeof site);
    verifier::error_bugcheck(
        80, sentence,
        verifier::objects_text("pool block %p (tag '%s', %zu bytes) allocated from %s", p,
                               pool_tag_text(header->tag).c_str(),
                               static_cast<std::size_t>(header->size), site),
        BAD_POOL_CALLER, bad_pool_bad_tag, reinterpret_cast<ULONG_PTR>(p), header->tag, tag);
  }
  if (header->owner != owner && header->owner == pool_owner_wsk_address_info) {
    char objects[160];
    std::snprintf(objects, sizeof objects, "pool block %p (tag '%s', %zu bytes)", p,
                  pool_tag_text(header->tag).c_str(), static_cast<std::size_t>(header->size));
    verifier::error(71,
                    "ExFreePool on a list WskGetAddressInfo returned: free it with "
                    "WskFreeAddressInfo",
                    objects, reinterpret_cast<ULONG_PTR>(p));
  }
  // Rule V18: the block must not hold a buffer of a pending IRP.
  if (irp_buffers::found_buffer found; irp_buffers::pending_buffer_in(p, header->size, found)) {
    char block[160];
    std::snprintf(block, sizeof block, "pool block %p (tag '%s', %zu bytes)", p,
                  pool_tag_text(header->tag).c_str(), static_cast<std::size_t>(header->size));
    irp_buffers::report_free(found, p, "ExFreePool", block);
  }
  const bool paged =
      header->pool_type == paged_pool2 || is_paged(static_cast<POOL_TYPE>(header->pool_type));
  if (KeGetCurrentIrql() > (paged ? APC_LEVEL : DISPATCH_LEVEL)) {
    bad_pool_caller(paged ? "ExFreePool of paged pool above APC_LEVEL"
                          : "ExFreePool above DISPATCH_LEVEL",
                    p, header, bad_pool_free_invalid_irql, KeGetCurrentIrql(), header->pool_type,
                    reinterpret_cast<ULONG_PTR>(p));
  }
}

void free_block(void *p, ULONG tag, bool check_tag, ULONG owner = pool_owner_driver) {
  if (p == nullptr || (reinterpret_cast<ULONG_PTR>(p) & 15) != 0) {
    bad_pool_caller("ExFreePool: not an address ExAllocatePool* returned", p, nullptr,
                    bad_pool_not_pool, reinterpret_cast<ULONG_PTR>(p), 0, 0);
  }
  if ((reinterpret_cast<ULONG_PTR>(p) & (PAGE_SIZE - 1)) == 0) {
    // Perhaps a block of a page or more, whose header is in a side table. (A small block's
    // address can be page-aligned too; it is not in the table.)
    pool_shard &shard = shard_of(p);
    pool_header *header = nullptr;
    {
      std::lock_guard guard(shard.lock);
      header = take_big_header(shard, p);
      if (header != nullptr) {
        check_free(header, p, tag, check_tag, owner);
        RemoveEntryList(&header->links);
      }
    }
    if (header != nullptr) {
      std::free(header->base);
      delete header;
      return;
    }
  }
  auto *header = static_cast<pool_header *>(p) - 1;
  {
    // A block on no list (allocated with the verifier's bookkeeping off) needs no lock.
    std::unique_lock guard(shard_of(header).lock, std::defer_lock);
    if (!verifier::bookkeeping_off()) {
      guard.lock();
    }
    if (header->magic == pool_magic_freed) {
      bad_pool_caller("ExFreePool: the block was already freed (a double free)", p, header,
                      bad_pool_double_free, reinterpret_cast<ULONG_PTR>(p), header->tag, 0);
    }
    if (header->magic != pool_magic_live) {
      bad_pool_caller("ExFreePool: not an address ExAllocatePool* returned", p, nullptr,
                      bad_pool_not_pool, reinterpret_cast<ULONG_PTR>(p), 0, 0);
    }
    check_free(header, p, tag, check_tag, owner);
    if (header->links.Flink != nullptr) {
      RemoveEntryList(&header->links);
    }
    header->magic = pool_magic_freed;
  }
  if (block_cache *cache = small_cache(small_total(header->size)); cache != nullptr) {
    cache->release(header->base);
  } else {
    std::free(header->base);
  }
}

// Allocation at an IRQL the pool type does not allow is a bugcheck on Windows.
void check_allocation_irql(bool paged) {
  const KIRQL irql = KeGetCurrentIrql();
  if ((paged && irql > APC_LEVEL) || irql > DISPATCH_LEVEL) {
    char reason[120];
    std::snprintf(reason, sizeof reason, "ExAllocatePool* of %s pool at IRQL %u",
                  paged ? "paged" : "non-paged", irql);
    bugcheck(BAD_POOL_CALLER, reason, bad_pool_invalid_irql, irql, paged ? PagedPool : NonPagedPool,
             0);
  }
}

void *allocate_legacy(POOL_TYPE type, SIZE_T bytes, ULONG tag, bool zero, const void *site) {
  check_allocation_irql(is_paged(type));
  return allocate_block(bytes, tag, static_cast<ULONG>(type), zero, bytes >= PAGE_SIZE, site);
}

} // namespace

// Reads the would-be header below `p` only when it lies in the same page as `p` (so it is
// mapped); the read may land in memory the sanitizer does not consider part of a block.
__attribute__((no_sanitize("address", "thread"))) std::size_t pool_block_size(const void *p) {
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  if (p == nullptr || (address & 15) != 0 || (address & (PAGE_SIZE - 1)) < sizeof(pool_header)) {
    return 0;
  }
  const auto *header = static_cast<const pool_header *>(p) - 1;
  return header->magic == pool_magic_live ? header->size : 0;
}

void pool_set_owner(void *p, ULONG owner) {
  if ((reinterpret_cast<ULONG_PTR>(p) & (PAGE_SIZE - 1)) == 0) {
    // A block of a page or more has its header in the side table, not below it.
    pool_shard &shard = shard_of(p);
    std::lock_guard guard(shard.lock);
    if (shard.big != nullptr) {
      if (auto it = shard.big->find(p); it != shard.big->end()) {
        it->second->owner = owner;
        return;
      }
    }
  }
  auto *header = static_cast<pool_header *>(p) - 1;
  header->owner = owner;
}

void pool_free_owned(void *p, ULONG tag, ULONG owner) {
  free_block(p, tag, true, owner);
}

std::vector<pool_tag_usage> pool_outstanding() {
  std::map<ULONG, pool_tag_usage> by_tag;
  for (std::size_t i = 0; i < shard_count; ++i) {
    pool_shard &shard = shards()[i];
    std::lock_guard guard(shard.lock);
    for (LIST_ENTRY *e = shard.blocks.Flink; e != &shard.blocks; e = e->Flink) {
      auto *header = CONTAINING_RECORD(e, pool_header, links);
      auto &usage = by_tag[header->tag];
      usage.tag = header->tag;
      if (usage.allocations == 0) {
        usage.first_site = header->site;
      }
      usage.allocations++;
      usage.bytes += header->size;
    }
  }
  std::vector<pool_tag_usage> result;
  for (auto &[tag, usage] : by_tag) {
    result.push_back(usage);
  }
  std::sort(result.begin(), result.end(),
            [](const pool_tag_usage &a, const pool_tag_usage &b) { return a.bytes > b.bytes; });
  return result;
}

std::string pool_tag_text(ULONG tag) {
  // The least significant byte is the first character in memory, which is how pool tools
  // print tags: a driver that writes 'kdD' sees "Ddk".
  std::string text;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((tag >> (8 * i)) & 0xff);
    text += (c >= 0x20 && c < 0x7f) ? c : '.';
  }
  return text;
}

} // namespace uwsk::nt

using namespace uwsk::nt;

namespace {

// ExAllocatePool2 and ExAllocatePool3, for a caller at `site`.
void *allocate_pool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag, const void *site) {
  const POOL_FLAGS kinds =
      Flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
  const POOL_FLAGS known = POOL_FLAG_USE_QUOTA | POOL_FLAG_UNINITIALIZED | POOL_FLAG_SESSION |
                           POOL_FLAG_CACHE_ALIGNED | POOL_FLAG_RAISE_ON_FAILURE |
                           POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED |
                           POOL_FLAG_SPECIAL_POOL;
  if (Tag == 0) {
    char where[256];
    verifier::describe_code_address(site, where, sizeof where);
    verifier::warning(80, "ExAllocatePool2 with tag 0: a pool tag must not be 0; it returns NULL",
                      verifier::objects_text("Flags 0x%llx, %zu bytes, called from %s",
                                             static_cast<unsigned long long>(Flags),
                                             static_cast<std::size_t>(NumberOfBytes), where));
  }
  if (Tag == 0 || (Flags & ~known) != 0 || kinds == 0 || (kinds & (kinds - 1)) != 0) {
    return nullptr;
  }
  const bool paged = kinds == POOL_FLAG_PAGED;
  check_allocation_irql(paged);
  return allocate_block(NumberOfBytes, Tag,
                        paged ? paged_pool2 : static_cast<ULONG>(NonPagedPoolNx),
                        (Flags & POOL_FLAG_UNINITIALIZED) == 0, NumberOfBytes >= PAGE_SIZE, site);
}

} // namespace

// ExAllocatePool2: zeroed unless POOL_FLAG_UNINITIALIZED; exactly one of the pool-kind flags.
extern "C" PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag) {
  return allocate_pool2(Flags, NumberOfBytes, Tag, __builtin_return_address(0));
}

// ExAllocatePool3: ExAllocatePool2 with extended parameters (priority, NUMA node), which
// user space has no use for; they are validated for shape only.
extern "C" PVOID NTAPI ExAllocatePool3(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag,
                                       PCPOOL_EXTENDED_PARAMETER ExtendedParameters,
                                       ULONG ExtendedParametersCount) {
  if (ExtendedParametersCount != 0 && ExtendedParameters == nullptr) {
    return nullptr;
  }
  for (ULONG i = 0; i < ExtendedParametersCount; ++i) {
    const auto type = ExtendedParameters[i].Type;
    if (type == PoolExtendedParameterInvalidType || type >= PoolExtendedParameterMax) {
      return nullptr;
    }
  }
  return allocate_pool2(Flags, NumberOfBytes, Tag, __builtin_return_address(0));
}

// ExAllocatePoolWithTag: the legacy allocator; contents are uninitialised.
extern "C" PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, false, __builtin_return_address(0));
}

// ExAllocatePool: the untagged legacy allocator; Windows charges it to the tag "None".
extern "C" PVOID NTAPI ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes) {
  return allocate_legacy(PoolType, NumberOfBytes, 'enoN', false, __builtin_return_address(0));
}

// ExAllocatePoolZero: ExAllocatePoolWithTag with zeroed contents.
extern "C" PVOID NTAPI ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, true, __builtin_return_address(0));
}

// ExAllocatePoolUninitialized: ExAllocatePoolWithTag under its newer name.
extern "C" PVOID NTAPI ExAllocatePoolUninitialized(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                                   ULONG Tag) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, false, __builtin_return_address(0));
}

// ExAllocatePoolQuotaZero: quota charging has no meaning here; zeroed contents.
extern "C" PVOID NTAPI ExAllocatePoolQuotaZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                               ULONG Tag) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, true, __builtin_return_address(0));
}

// ExAllocatePoolWithQuotaTag: quota charging has no meaning here.
extern "C" PVOID NTAPI ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                                  ULONG Tag) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, false, __builtin_return_address(0));
}

// ExAllocatePoolWithTagPriority: the priority only matters under memory pressure.
extern "C" PVOID NTAPI ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                                     ULONG Tag, EX_POOL_PRIORITY Priority) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, false, __builtin_return_address(0));
}

// ExFreePoolWithTag: the tag must be the one the block was allocated with.
extern "C" VOID NTAPI ExFreePoolWithTag(PVOID P, ULONG Tag) {
  free_block(P, Tag, true);
}

// ExFreePool: frees a block whatever its tag.
extern "C" VOID NTAPI ExFreePool(PVOID P) {
  free_block(P, 0, false);
}

// ExFreePool2: ExFreePoolWithTag with extended parameters (none apply in user space).
extern "C" VOID NTAPI ExFreePool2(PVOID P, ULONG Tag, PCPOOL_EXTENDED_PARAMETER ExtendedParameters,
                                  ULONG ExtendedParametersCount) {
  free_block(P, Tag, true);
}

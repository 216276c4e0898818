// Executive pool: ExAllocatePool* and ExFreePool*.
//
// Every block carries a header just below the address the driver sees: the tag, the size and a
// magic word, plus links on a list of live blocks, so that the loader can report leaks by tag
// and a free with the wrong tag, a double free or a foreign pointer gets a bugcheck report
// instead of heap corruption. Drivers allocate pool per operation (a context per send, say), so
// the live blocks are spread over several lists by the header's address, each with its own
// lock: threads working on different blocks rarely meet, and the leak report walks every list.
#include "nt/ex/pool.hpp"
#include "nt/ex/futex_lock.hpp"
#include "nt/fault/plan.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace uwsk::nt {
namespace {

constexpr ULONG pool_magic_live = 0x4c4f4f50;  // "POOL"
constexpr ULONG pool_magic_freed = 0x44454546; // "FEED"
constexpr ULONG protected_pool_bit = 0x80000000u;
// The pool type recorded for paged blocks from ExAllocatePool2 (which has no POOL_TYPE).
constexpr ULONG paged_pool2 = 0x100;

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
  ULONG reserved;
};
static_assert(sizeof(pool_header) % 16 == 0, "pool blocks stay 16-byte aligned");

// The lists of live blocks. A block's shard follows from its header's address, so a free finds
// the list its allocation used.
constexpr std::size_t shard_count = 16;
struct alignas(64) pool_shard {
  futex_lock lock;
  LIST_ENTRY blocks; // guarded by lock
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

pool_shard &shard_of(const pool_header *header) {
  // Fibonacci hashing of the address: blocks 16 bytes apart land on different shards.
  const auto address = reinterpret_cast<std::uintptr_t>(header) >> 4;
  return shards()[(address * 0x9E3779B97F4A7C15ull) >> 60];
}
static_assert(shard_count == 16, "shard_of takes the top 4 bits of the hash");

bool is_paged(POOL_TYPE type) {
  return (static_cast<int>(type) & 1) != 0;
}

void *allocate_block(SIZE_T bytes, ULONG tag, ULONG pool_type, bool zero, bool page_aligned) {
  // Requests of a page or more are page-aligned, as on Windows.
  const SIZE_T alignment = page_aligned ? PAGE_SIZE : alignof(pool_header);
  const SIZE_T header_room = page_aligned ? PAGE_SIZE : sizeof(pool_header);
  if (bytes > (SIZE_T{1} << 40)) {
    return nullptr;
  }
  if (fault::active() && fault::fail_allocation(fault::stream::alloc_pool)) {
    return nullptr; // injected (docs/faults.md)
  }
  SIZE_T total = header_room + bytes;
  total = (total + alignment - 1) & ~(alignment - 1);
  void *base = std::aligned_alloc(alignment, total);
  if (base == nullptr) {
    return nullptr;
  }
  auto *user = static_cast<unsigned char *>(base) + header_room;
  auto *header = reinterpret_cast<pool_header *>(user) - 1;
  header->base = base;
  header->size = bytes;
  header->tag = tag & ~protected_pool_bit;
  header->magic = pool_magic_live;
  header->pool_type = pool_type;
  header->reserved = 0;
  if (zero) {
    std::memset(user, 0, bytes);
  }
  pool_shard &shard = shard_of(header);
  std::lock_guard guard(shard.lock);
  InsertTailList(&shard.blocks, &header->links);
  return user;
}

void free_block(void *p, ULONG tag, bool check_tag) {
  if (p == nullptr || (reinterpret_cast<ULONG_PTR>(p) & 15) != 0) {
    KeBugCheckEx(BAD_POOL_CALLER, bad_pool_not_pool, reinterpret_cast<ULONG_PTR>(p), 0, 0);
  }
  auto *header = static_cast<pool_header *>(p) - 1;
  {
    std::lock_guard guard(shard_of(header).lock);
    if (header->magic == pool_magic_freed) {
      KeBugCheckEx(BAD_POOL_CALLER, bad_pool_double_free, reinterpret_cast<ULONG_PTR>(p),
                   header->tag, 0);
    }
    if (header->magic != pool_magic_live) {
      KeBugCheckEx(BAD_POOL_CALLER, bad_pool_not_pool, reinterpret_cast<ULONG_PTR>(p), 0, 0);
    }
    if (check_tag && header->tag != (tag & ~protected_pool_bit)) {
      KeBugCheckEx(BAD_POOL_CALLER, bad_pool_bad_tag, reinterpret_cast<ULONG_PTR>(p), header->tag,
                   tag);
    }
    const bool paged =
        header->pool_type == paged_pool2 || is_paged(static_cast<POOL_TYPE>(header->pool_type));
    if (KeGetCurrentIrql() > (paged ? APC_LEVEL : DISPATCH_LEVEL)) {
      KeBugCheckEx(BAD_POOL_CALLER, bad_pool_free_invalid_irql, KeGetCurrentIrql(),
                   header->pool_type, reinterpret_cast<ULONG_PTR>(p));
    }
    RemoveEntryList(&header->links);
    header->magic = pool_magic_freed;
  }
  std::free(header->base);
}

// Allocation at an IRQL the pool type does not allow is a bugcheck on Windows.
void check_allocation_irql(bool paged) {
  const KIRQL irql = KeGetCurrentIrql();
  if ((paged && irql > APC_LEVEL) || irql > DISPATCH_LEVEL) {
    KeBugCheckEx(BAD_POOL_CALLER, bad_pool_invalid_irql, irql, paged ? PagedPool : NonPagedPool, 0);
  }
}

void *allocate_legacy(POOL_TYPE type, SIZE_T bytes, ULONG tag, bool zero) {
  check_allocation_irql(is_paged(type));
  return allocate_block(bytes, tag, static_cast<ULONG>(type), zero, bytes >= PAGE_SIZE);
}

} // namespace

std::vector<pool_tag_usage> pool_outstanding() {
  std::map<ULONG, pool_tag_usage> by_tag;
  for (std::size_t i = 0; i < shard_count; ++i) {
    pool_shard &shard = shards()[i];
    std::lock_guard guard(shard.lock);
    for (LIST_ENTRY *e = shard.blocks.Flink; e != &shard.blocks; e = e->Flink) {
      auto *header = CONTAINING_RECORD(e, pool_header, links);
      auto &usage = by_tag[header->tag];
      usage.tag = header->tag;
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

// ExAllocatePool2: zeroed unless POOL_FLAG_UNINITIALIZED; exactly one of the pool-kind flags.
extern "C" PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag) {
  const POOL_FLAGS kinds =
      Flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED);
  const POOL_FLAGS known = POOL_FLAG_USE_QUOTA | POOL_FLAG_UNINITIALIZED | POOL_FLAG_SESSION |
                           POOL_FLAG_CACHE_ALIGNED | POOL_FLAG_RAISE_ON_FAILURE |
                           POOL_FLAG_NON_PAGED | POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_PAGED |
                           POOL_FLAG_SPECIAL_POOL;
  if (Tag == 0 || (Flags & ~known) != 0 || kinds == 0 || (kinds & (kinds - 1)) != 0) {
    return nullptr;
  }
  const bool paged = kinds == POOL_FLAG_PAGED;
  check_allocation_irql(paged);
  return allocate_block(NumberOfBytes, Tag,
                        paged ? paged_pool2 : static_cast<ULONG>(NonPagedPoolNx),
                        (Flags & POOL_FLAG_UNINITIALIZED) == 0, NumberOfBytes >= PAGE_SIZE);
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
  return ExAllocatePool2(Flags, NumberOfBytes, Tag);
}

// ExAllocatePoolWithTag: the legacy allocator; contents are uninitialised.
extern "C" PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, false);
}

// ExAllocatePool: the untagged legacy allocator; Windows charges it to the tag "None".
extern "C" PVOID NTAPI ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes) {
  return allocate_legacy(PoolType, NumberOfBytes, 'enoN', false);
}

// ExAllocatePoolZero: ExAllocatePoolWithTag with zeroed contents.
extern "C" PVOID NTAPI ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, true);
}

// ExAllocatePoolUninitialized: ExAllocatePoolWithTag under its newer name.
extern "C" PVOID NTAPI ExAllocatePoolUninitialized(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                                   ULONG Tag) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, false);
}

// ExAllocatePoolQuotaZero: quota charging has no meaning here; zeroed contents.
extern "C" PVOID NTAPI ExAllocatePoolQuotaZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                               ULONG Tag) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, true);
}

// ExAllocatePoolWithQuotaTag: quota charging has no meaning here.
extern "C" PVOID NTAPI ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                                  ULONG Tag) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, false);
}

// ExAllocatePoolWithTagPriority: the priority only matters under memory pressure.
extern "C" PVOID NTAPI ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                                     ULONG Tag, EX_POOL_PRIORITY Priority) {
  return allocate_legacy(PoolType, NumberOfBytes, Tag, false);
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

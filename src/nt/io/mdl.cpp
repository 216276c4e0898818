// Memory descriptor lists: allocation, building, locking, mapping and partial MDLs.
//
// User memory is always resident, so "locking" is bookkeeping: MDL_PAGES_LOCKED is set and the
// page array holds virtual page numbers (there are no physical pages to name). What stays real is
// the rule checking: a double lock, an unlock of an unlocked MDL, mapping an MDL that was never
// locked or built, freeing a locked MDL, and probing memory that is not mapped all stop with a
// bugcheck report, where Windows would stop or corrupt memory.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <unordered_set>

#include "nt/bugcheck.hpp"
#include "nt/dbg/seh.hpp"
#include "nt/dbg/thread_stack.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/ex/thread_cache.hpp"
#include "nt/io/io_objects.hpp"
#include "nt/io/irp_buffers.hpp"
#include "nt/fault/plan.hpp"

namespace uwsk::nt {
namespace {

// IoAllocateMdl puts this header in front of the MDL, so IoFreeMdl can tell its own MDLs from
// driver memory.
struct alignas(16) mdl_header {
  ULONG magic;
  ULONG reserved;
  SIZE_T bytes;
};
constexpr ULONG mdl_magic_live = 0x4c44444d;  // "MDDL"
constexpr ULONG mdl_magic_freed = 0x4c444446; // "FDDL"
constexpr ULONG max_mdl_length = 0xFFFFFFFFu - PAGE_SIZE + 1;
constexpr ULONG_PTR status_access_violation = 0xC0000005;

std::atomic<std::size_t> mdl_count{0};

// Small MDLs (header included: up to 1 KiB, which describes buffers of about 120 pages) come
// from per-thread caches by size class, so that an MDL per operation does not reach malloc. The
// smallest class fits the header and an MDL of up to two pages (any buffer of up to 4 KiB), so
// that an MDL a connection keeps for its receive buffer takes no more than it needs.
constexpr std::size_t mdl_classes[] = {80, 128, 256, 512, 1024};
static_assert(mdl_classes[0] >= sizeof(mdl_header) + sizeof(MDL) + 2 * sizeof(PFN_NUMBER),
              "the smallest class holds a two-page MDL");
constexpr std::size_t mdl_class_count = sizeof(mdl_classes) / sizeof(mdl_classes[0]);

std::size_t mdl_block_size(SIZE_T mdl_bytes) {
  return (sizeof(mdl_header) + mdl_bytes + 15) & ~SIZE_T{15};
}

// The caches of the classes, made once, out of line (the accessor below runs twice per MDL).
[[gnu::noinline]] block_cache *const *make_mdl_caches() {
  static block_cache *made[mdl_class_count];
  block_cache::options o;
  o.alignment = alignof(mdl_header);
  o.shared_capacity = 1024;
  o.readable_prefix = sizeof(mdl_header);
  make_block_caches(mdl_classes, mdl_class_count, o, made);
  return made;
}

// The cache for blocks of `block_size` bytes, or nullptr when they are too large to cache. A
// cached block keeps its header readable (thread_cache.hpp rule 3): IoFreeMdl marks it freed, so
// a second IoFreeMdl still stops with "already freed".
[[gnu::always_inline]] inline block_cache *mdl_cache(std::size_t block_size) {
  static block_cache *const *const caches = make_mdl_caches();
  for (std::size_t i = 0; i < mdl_class_count; ++i) {
    if (block_size <= mdl_classes[i]) {
      return caches[i];
    }
  }
  return nullptr;
}

// Whether every page of [address, address + length) is mapped in this process.
bool range_is_mapped(const void *address, SIZE_T length) {
  if (length == 0) {
    return true;
  }
  auto start = reinterpret_cast<uintptr_t>(address) & ~uintptr_t{PAGE_SIZE - 1};
  const auto end = reinterpret_cast<uintptr_t>(address) + length;
  unsigned char residency[64];
  while (start < end) {
    const SIZE_T chunk = std::min<SIZE_T>(end - start, sizeof(residency) * PAGE_SIZE);
    if (mincore(reinterpret_cast<void *>(start), chunk, residency) != 0 && errno == ENOMEM) {
      return false;
    }
    start += (chunk + PAGE_SIZE - 1) & ~SIZE_T{PAGE_SIZE - 1};
  }
  return true;
}

void fill_page_array(PMDL mdl) {
  PPFN_NUMBER pages = MmGetMdlPfnArray(mdl);
  const auto first = reinterpret_cast<ULONG_PTR>(mdl->StartVa) >> PAGE_SHIFT;
  const SIZE_T count = ADDRESS_AND_SIZE_TO_SPAN_PAGES(MmGetMdlVirtualAddress(mdl), mdl->ByteCount);
  for (SIZE_T i = 0; i < count; ++i) {
    pages[i] = first + i;
  }
}

PVOID system_address(PMDL mdl) {
  return MmGetMdlVirtualAddress(mdl);
}

} // namespace

std::size_t live_mdls() {
  return mdl_count.load(std::memory_order_relaxed);
}

} // namespace uwsk::nt

using namespace uwsk::nt;

// MmSizeOfMdl: bytes an MDL describing [Base, Base + Length) needs, page array included.
extern "C" SIZE_T NTAPI MmSizeOfMdl(PVOID Base, SIZE_T Length) {
  return sizeof(MDL) + ADDRESS_AND_SIZE_TO_SPAN_PAGES(Base, Length) * sizeof(PFN_NUMBER);
}

// IoAllocateMdl: an MDL for a buffer, optionally attached to an IRP (first, or chained after).
extern "C" PMDL NTAPI IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer,
                                    BOOLEAN ChargeQuota, PIRP Irp) {
  if (Length > max_mdl_length || (SecondaryBuffer && Irp == nullptr)) {
    return nullptr;
  }
  if (uwsk::fault::active() && uwsk::fault::fail_allocation(uwsk::fault::stream::alloc_mdl)) {
    return nullptr; // injected (docs/faults.md)
  }
  const SIZE_T bytes = MmSizeOfMdl(VirtualAddress, Length);
  block_cache *cache = mdl_cache(mdl_block_size(bytes));
  void *memory = cache != nullptr ? cache->allocate()
                                  : std::aligned_alloc(alignof(mdl_header), mdl_block_size(bytes));
  if (memory == nullptr) {
    return nullptr;
  }
  auto *header = static_cast<mdl_header *>(memory);
  header->magic = mdl_magic_live;
  header->reserved = 0;
  header->bytes = bytes;
  auto *mdl = reinterpret_cast<PMDL>(header + 1);
  MmInitializeMdl(mdl, VirtualAddress, Length);
  if (Irp != nullptr) {
    if (!SecondaryBuffer || Irp->MdlAddress == nullptr) {
      Irp->MdlAddress = mdl;
    } else {
      PMDL last = Irp->MdlAddress;
      while (last->Next != nullptr) {
        last = last->Next;
      }
      last->Next = mdl;
    }
  }
  mdl_count.fetch_add(1, std::memory_order_relaxed);
  return mdl;
}

// IoFreeMdl: frees one MDL from IoAllocateMdl (not its chain); its pages must be unlocked.
extern "C" VOID NTAPI IoFreeMdl(PMDL Mdl) {
  auto *header = reinterpret_cast<mdl_header *>(Mdl) - 1;
  if (header->magic != mdl_magic_live) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
             header->magic == mdl_magic_freed
                 ? "IoFreeMdl: the MDL was already freed"
                 : "IoFreeMdl: the MDL was not allocated by IoAllocateMdl",
             io_violation::mdl_free_locked, reinterpret_cast<ULONG_PTR>(Mdl));
  }
  if ((Mdl->MdlFlags & MDL_PAGES_LOCKED) != 0 && (Mdl->MdlFlags & MDL_PARTIAL) == 0) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
             "IoFreeMdl: the MDL's pages are still locked; call MmUnlockPages first",
             io_violation::mdl_free_locked, reinterpret_cast<ULONG_PTR>(Mdl));
  }
  // Rule V18: a pending IRP's WSK_BUF may still point to this MDL.
  if (irp_buffers::found_buffer found; irp_buffers::pending_buffer_in(Mdl, sizeof(MDL), found)) {
    char block[80];
    std::snprintf(block, sizeof block, "MDL %p", static_cast<void *>(Mdl));
    irp_buffers::report_free(found, Mdl, "IoFreeMdl", block);
  }
  header->magic = mdl_magic_freed;
  mdl_count.fetch_sub(1, std::memory_order_relaxed);
  // header->bytes picks the same class IoAllocateMdl took the block from.
  if (block_cache *cache = mdl_cache(mdl_block_size(header->bytes)); cache != nullptr) {
    cache->release(header);
  } else {
    std::free(header);
  }
}

// MmBuildMdlForNonPagedPool: describes an already-resident buffer; it counts as mapped.
extern "C" VOID NTAPI MmBuildMdlForNonPagedPool(PMDL MemoryDescriptorList) {
  PMDL mdl = MemoryDescriptorList;
  if ((mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL)) != 0) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
             "MmBuildMdlForNonPagedPool: the MDL is already locked, mapped or partial",
             io_violation::mdl_lock_nonpaged, reinterpret_cast<ULONG_PTR>(mdl), mdl->MdlFlags);
  }
  if (on_thread_stack(system_address(mdl))) {
    verifier::error(34,
                    "MmBuildMdlForNonPagedPool on a buffer on the calling thread's stack: the "
                    "stack is not non-paged pool, and the buffer dies with its frame",
                    verifier::objects_text("MDL %p, buffer %p, %lu bytes", static_cast<void *>(mdl),
                                           system_address(mdl),
                                           static_cast<unsigned long>(mdl->ByteCount)),
                    reinterpret_cast<ULONG_PTR>(mdl));
  }
  fill_page_array(mdl);
  mdl->MappedSystemVa = system_address(mdl);
  mdl->MdlFlags |= MDL_SOURCE_IS_NONPAGED_POOL;
}

namespace {

// Rule V35 (a warning): MmProbeAndLockPages raises STATUS_ACCESS_VIOLATION on Windows when the
// buffer cannot be probed, so it must be called inside __try. The __try blocks of <excpt.h> are
// counted per thread (nt/dbg/seh.hpp); a call outside all of them is reported once per call site.
void report_probe_outside_try(PMDL mdl, const void *caller) {
  static std::mutex lock;
  static std::unordered_set<const void *> reported;
  {
    std::lock_guard guard(lock);
    if (reported.size() >= 1024 || !reported.insert(caller).second) {
      return;
    }
  }
  char site[256];
  verifier::describe_code_address(caller, site, sizeof site);
  verifier::warning(35,
                    "MmProbeAndLockPages outside __try: on Windows it raises an exception when "
                    "the buffer cannot be probed, which without __try/__except stops the system "
                    "(reported once per call site)",
                    verifier::objects_text("MDL %p, buffer %p, %lu bytes, called from %s",
                                           static_cast<void *>(mdl), MmGetMdlVirtualAddress(mdl),
                                           static_cast<unsigned long>(mdl->ByteCount), site),
                    reinterpret_cast<ULONG_PTR>(mdl));
}

} // namespace

// MmProbeAndLockPages: checks the buffer is mapped and marks the MDL locked. A probe failure
// raises STATUS_ACCESS_VIOLATION on Windows; uwsk cannot raise through a driver's __try, so it
// stops with the bugcheck an unhandled exception would cause.
extern "C" VOID NTAPI MmProbeAndLockPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
                                          LOCK_OPERATION Operation) {
  PMDL mdl = MemoryDescriptorList;
  if (seh_depth() <= 0) {
    report_probe_outside_try(mdl, __builtin_return_address(0));
  }
  if ((mdl->MdlFlags & MDL_PAGES_LOCKED) != 0) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, "MmProbeAndLockPages: the MDL is already locked",
             io_violation::mdl_double_lock, reinterpret_cast<ULONG_PTR>(mdl));
  }
  if ((mdl->MdlFlags & (MDL_SOURCE_IS_NONPAGED_POOL | MDL_PARTIAL)) != 0) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
             "MmProbeAndLockPages: MDLs built by MmBuildMdlForNonPagedPool or IoBuildPartialMdl "
             "must not be locked",
             io_violation::mdl_lock_nonpaged, reinterpret_cast<ULONG_PTR>(mdl), mdl->MdlFlags);
  }
  if (!range_is_mapped(MmGetMdlVirtualAddress(mdl), mdl->ByteCount)) {
    bugcheck(KMODE_EXCEPTION_NOT_HANDLED,
             "MmProbeAndLockPages: the buffer is not mapped (STATUS_ACCESS_VIOLATION; uwsk cannot "
             "raise it into a __try block)",
             status_access_violation, reinterpret_cast<ULONG_PTR>(MmGetMdlVirtualAddress(mdl)),
             mdl->ByteCount, static_cast<ULONG_PTR>(Operation));
  }
  fill_page_array(mdl);
  mdl->Process = PsGetCurrentProcess();
  mdl->MdlFlags |= MDL_PAGES_LOCKED | (Operation != IoReadAccess ? MDL_WRITE_OPERATION : 0);
}

// MmUnlockPages: undoes MmProbeAndLockPages, and any system mapping made since.
extern "C" VOID NTAPI MmUnlockPages(PMDL MemoryDescriptorList) {
  PMDL mdl = MemoryDescriptorList;
  if ((mdl->MdlFlags & MDL_PAGES_LOCKED) == 0) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, "MmUnlockPages: the MDL is not locked",
             io_violation::mdl_unlock_not_locked, reinterpret_cast<ULONG_PTR>(mdl));
  }
  mdl->MdlFlags &= ~(MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA | MDL_WRITE_OPERATION);
  mdl->MappedSystemVa = nullptr;
}

// MmMapLockedPagesSpecifyCache: the system address of a locked (or partial) MDL's buffer.
extern "C" PVOID NTAPI MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList,
                                                    KPROCESSOR_MODE AccessMode,
                                                    MEMORY_CACHING_TYPE CacheType,
                                                    PVOID RequestedAddress, ULONG BugCheckOnFailure,
                                                    ULONG Priority) {
  PMDL mdl = MemoryDescriptorList;
  if ((mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL) != 0) {
    return mdl->MappedSystemVa;
  }
  if ((mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_PARTIAL)) == 0) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
             "MmGetSystemAddressForMdlSafe: the MDL was neither locked (MmProbeAndLockPages) nor "
             "built (MmBuildMdlForNonPagedPool, IoBuildPartialMdl)",
             io_violation::mdl_map_not_locked, reinterpret_cast<ULONG_PTR>(mdl), mdl->MdlFlags);
  }
  mdl->MappedSystemVa = system_address(mdl);
  mdl->MdlFlags |=
      (mdl->MdlFlags & MDL_PARTIAL) ? MDL_PARTIAL_HAS_BEEN_MAPPED : MDL_MAPPED_TO_SYSTEM_VA;
  return mdl->MappedSystemVa;
}

// MmMapLockedPages: the older form of MmMapLockedPagesSpecifyCache.
extern "C" PVOID NTAPI MmMapLockedPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode) {
  return MmMapLockedPagesSpecifyCache(MemoryDescriptorList, AccessMode, MmCached, nullptr, TRUE,
                                      NormalPagePriority);
}

// MmUnmapLockedPages: forgets a mapping made by MmMapLockedPages*.
extern "C" VOID NTAPI MmUnmapLockedPages(PVOID BaseAddress, PMDL MemoryDescriptorList) {
  MemoryDescriptorList->MdlFlags &= ~(MDL_MAPPED_TO_SYSTEM_VA | MDL_PARTIAL_HAS_BEEN_MAPPED);
  MemoryDescriptorList->MappedSystemVa = nullptr;
}

// IoBuildPartialMdl: makes TargetMdl describe [VirtualAddress, +Length) inside SourceMdl.
extern "C" VOID NTAPI IoBuildPartialMdl(PMDL SourceMdl, PMDL TargetMdl, PVOID VirtualAddress,
                                        ULONG Length) {
  auto *source_start = static_cast<PUCHAR>(MmGetMdlVirtualAddress(SourceMdl));
  auto *start = static_cast<PUCHAR>(VirtualAddress);
  if (start < source_start || start > source_start + SourceMdl->ByteCount) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
             "IoBuildPartialMdl: the address is outside the source MDL",
             io_violation::mdl_map_not_locked, reinterpret_cast<ULONG_PTR>(SourceMdl),
             reinterpret_cast<ULONG_PTR>(VirtualAddress));
  }
  const auto available = static_cast<ULONG>(source_start + SourceMdl->ByteCount - start);
  if (Length == 0) {
    Length = available;
  }
  if (Length > available) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
             "IoBuildPartialMdl: the range runs past the end of the source MDL",
             io_violation::mdl_map_not_locked, reinterpret_cast<ULONG_PTR>(SourceMdl), Length);
  }
  const CSHORT keep = TargetMdl->MdlFlags & (MDL_ALLOCATED_FIXED_SIZE | MDL_ALLOCATED_MUST_SUCCEED);
  TargetMdl->StartVa = PAGE_ALIGN(VirtualAddress);
  TargetMdl->ByteOffset = BYTE_OFFSET(VirtualAddress);
  TargetMdl->ByteCount = Length;
  TargetMdl->Process = SourceMdl->Process;
  TargetMdl->MdlFlags = static_cast<CSHORT>(
      keep | MDL_PARTIAL | (SourceMdl->MdlFlags & (MDL_IO_SPACE | MDL_WRITE_OPERATION)));
  if ((SourceMdl->MdlFlags & (MDL_SOURCE_IS_NONPAGED_POOL | MDL_MAPPED_TO_SYSTEM_VA)) != 0) {
    TargetMdl->MappedSystemVa = VirtualAddress;
    TargetMdl->MdlFlags |= (SourceMdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL)
                               ? MDL_SOURCE_IS_NONPAGED_POOL
                               : MDL_PARENT_MAPPED_SYSTEM_VA;
  } else {
    TargetMdl->MappedSystemVa = nullptr;
  }
  fill_page_array(TargetMdl);
}

// MmPrepareMdlForReuse: drops the mapping of a partial MDL so it can describe another range.
extern "C" VOID NTAPI MmPrepareMdlForReuse(PMDL Mdl) {
  if ((Mdl->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED) != 0) {
    Mdl->MdlFlags &= ~MDL_PARTIAL_HAS_BEEN_MAPPED;
    Mdl->MappedSystemVa = nullptr;
  }
}

// MmCreateMdl: the obsolete allocator; it fills in a caller MDL or allocates one from pool.
extern "C" PMDL NTAPI MmCreateMdl(PMDL MemoryDescriptorList, PVOID Base, SIZE_T Length) {
  PMDL mdl = MemoryDescriptorList;
  if (mdl == nullptr) {
    mdl =
        static_cast<PMDL>(ExAllocatePool2(POOL_FLAG_NON_PAGED, MmSizeOfMdl(Base, Length), ' ldM'));
    if (mdl == nullptr) {
      return nullptr;
    }
  }
  MmInitializeMdl(mdl, Base, Length);
  return mdl;
}

// MmIsAddressValid: whether reading the address would fault.
extern "C" BOOLEAN NTAPI MmIsAddressValid(PVOID VirtualAddress) {
  return range_is_mapped(VirtualAddress, 1) ? TRUE : FALSE;
}

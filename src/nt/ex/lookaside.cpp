// Executive lookaside lists: ExInitialize/Delete/AllocateFrom/FreeTo (N)PagedLookasideList(Ex).
//
// All three Windows variants share one core (UWSK_LOOKASIDE_CORE in km/pool.h): a free list of
// fixed-size blocks kept up to MaximumDepth, in front of the pool or of the driver's own
// allocate and free routines. The free list is guarded by a tiny spin lock in the structure
// itself, because lookaside lists live in driver memory and have no destructor to free an
// OS lock.
#include "nt/ex/pool.hpp"

#include <mutex>

namespace uwsk::nt {
namespace {

constexpr ULONG lookaside_magic = 0x4b4f4f4c; // "LOOK"
constexpr ULONG_PTR verifier_bad_lookaside = 0x1001;

std::mutex registry_lock;
LIST_ENTRY live_lists = {&live_lists, &live_lists};
std::size_t live_list_count = 0;

class core_guard {
public:
  explicit core_guard(UWSK_LOOKASIDE_CORE &core) : lock_(core.Lock) {
    while (__atomic_exchange_n(&lock_, 1, __ATOMIC_ACQUIRE) != 0) {
      while (__atomic_load_n(&lock_, __ATOMIC_RELAXED) != 0) {
        YieldProcessor();
      }
    }
  }
  ~core_guard() { __atomic_store_n(&lock_, 0, __ATOMIC_RELEASE); }
  core_guard(const core_guard &) = delete;
  core_guard &operator=(const core_guard &) = delete;

private:
  KSPIN_LOCK &lock_;
};

void check(UWSK_LOOKASIDE_CORE &core) {
  if (core.Magic != lookaside_magic) {
    KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, verifier_bad_lookaside,
                 reinterpret_cast<ULONG_PTR>(&core), core.Magic, 0);
  }
}

void initialize(UWSK_LOOKASIDE_CORE &core, POOL_TYPE type, SIZE_T size, ULONG tag, USHORT depth,
                ULONG flags) {
  RtlZeroMemory(&core, sizeof(core));
  core.Type = type;
  core.Tag = tag;
  // A free block holds the free-list link, so it is never smaller than a pointer.
  core.Size = static_cast<ULONG>(size < sizeof(PVOID) ? sizeof(PVOID) : size);
  core.Flags = flags;
  // Windows ignores the caller's depth and tunes it; a fixed, generous depth is the closest.
  core.MaximumDepth = depth == 0 ? 256 : (depth < 4 ? 4 : depth);
  core.Magic = lookaside_magic;
  std::lock_guard guard(registry_lock);
  InsertTailList(&live_lists, &core.ListEntry);
  ++live_list_count;
}

PVOID allocate_new(UWSK_LOOKASIDE_CORE &core, PLOOKASIDE_LIST_EX ex) {
  if (core.AllocateEx != nullptr) {
    return core.AllocateEx(core.Type, core.Size, core.Tag, ex);
  }
  if (core.Allocate != nullptr) {
    return core.Allocate(core.Type, core.Size, core.Tag);
  }
  return ExAllocatePoolWithTag(core.Type, core.Size, core.Tag);
}

void free_old(UWSK_LOOKASIDE_CORE &core, PVOID block, PLOOKASIDE_LIST_EX ex) {
  if (core.FreeEx != nullptr) {
    core.FreeEx(block, ex);
  } else if (core.Free != nullptr) {
    core.Free(block);
  } else {
    ExFreePoolWithTag(block, core.Tag);
  }
}

PVOID allocate(UWSK_LOOKASIDE_CORE &core, PLOOKASIDE_LIST_EX ex) {
  check(core);
  {
    core_guard guard(core);
    core.TotalAllocates++;
    if (core.FreeList != nullptr) {
      PVOID block = core.FreeList;
      core.FreeList = *static_cast<PVOID *>(block);
      core.Depth--;
      return block;
    }
    core.AllocateMisses++;
  }
  return allocate_new(core, ex);
}

void release(UWSK_LOOKASIDE_CORE &core, PVOID block, PLOOKASIDE_LIST_EX ex) {
  check(core);
  {
    core_guard guard(core);
    core.TotalFrees++;
    if (core.Depth < core.MaximumDepth) {
      *static_cast<PVOID *>(block) = core.FreeList;
      core.FreeList = block;
      core.Depth++;
      return;
    }
    core.FreeMisses++;
  }
  free_old(core, block, ex);
}

void flush(UWSK_LOOKASIDE_CORE &core, PLOOKASIDE_LIST_EX ex) {
  PVOID list;
  {
    core_guard guard(core);
    list = core.FreeList;
    core.FreeList = nullptr;
    core.Depth = 0;
  }
  while (list != nullptr) {
    PVOID next = *static_cast<PVOID *>(list);
    free_old(core, list, ex);
    list = next;
  }
}

void remove(UWSK_LOOKASIDE_CORE &core, PLOOKASIDE_LIST_EX ex) {
  check(core);
  flush(core, ex);
  {
    std::lock_guard guard(registry_lock);
    RemoveEntryList(&core.ListEntry);
    --live_list_count;
  }
  core.Magic = 0;
}

} // namespace

// Deliberate family (duplicates): the live-object counts (this one,
// wsk/windows/registration.cpp's), each a count read under its own lock before the exports.
std::size_t live_lookaside_lists() {
  std::lock_guard guard(registry_lock);
  return live_list_count;
}

} // namespace uwsk::nt

using namespace uwsk::nt;

// ExInitializeLookasideListEx: a lookaside list with optional EX allocate/free routines.
extern "C" NTSTATUS NTAPI ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX Lookaside,
                                                      PALLOCATE_FUNCTION_EX Allocate,
                                                      PFREE_FUNCTION_EX Free, POOL_TYPE PoolType,
                                                      ULONG Flags, SIZE_T Size, ULONG Tag,
                                                      USHORT Depth) {
  const ULONG known =
      EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL | EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE;
  if (Lookaside == nullptr || (Flags & ~known) != 0 || (Flags & known) == known || Size == 0 ||
      Size > 0xFFFFFFFFu) {
    return STATUS_INVALID_PARAMETER;
  }
  initialize(Lookaside->L, PoolType, Size, Tag, Depth, Flags);
  Lookaside->L.AllocateEx = Allocate;
  Lookaside->L.FreeEx = Free;
  return STATUS_SUCCESS;
}

// ExDeleteLookasideListEx: frees every cached block and forgets the list.
extern "C" VOID NTAPI ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX Lookaside) {
  remove(Lookaside->L, Lookaside);
}

// Deliberate family (duplicates): the lookaside exports, Initialize, Delete, AllocateFrom and
// FreeTo for the Ex, NPaged and Paged lists. Each is one call into the shared initialize, remove,
// allocate and release.
// ExFlushLookasideListEx: frees every cached block; the list stays usable.
extern "C" VOID NTAPI ExFlushLookasideListEx(PLOOKASIDE_LIST_EX Lookaside) {
  check(Lookaside->L);
  flush(Lookaside->L, Lookaside);
}

// ExAllocateFromLookasideListEx: a cached block, or a new one from the allocator.
extern "C" PVOID NTAPI ExAllocateFromLookasideListEx(PLOOKASIDE_LIST_EX Lookaside) {
  return allocate(Lookaside->L, Lookaside);
}

// ExFreeToLookasideListEx: caches the block, or frees it when the list is full.
extern "C" VOID NTAPI ExFreeToLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PVOID Entry) {
  release(Lookaside->L, Entry, Lookaside);
}

// ExInitializeNPagedLookasideList: a non-paged lookaside list.
extern "C" VOID NTAPI ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside,
                                                      PALLOCATE_FUNCTION Allocate,
                                                      PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size,
                                                      ULONG Tag, USHORT Depth) {
  initialize(Lookaside->L, NonPagedPoolNx, Size, Tag, Depth, Flags);
  Lookaside->L.Allocate = Allocate;
  Lookaside->L.Free = Free;
}

// ExDeleteNPagedLookasideList: frees every cached block and forgets the list.
extern "C" VOID NTAPI ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside) {
  remove(Lookaside->L, nullptr);
}

// ExAllocateFromNPagedLookasideList: a cached block, or a new one from the allocator.
extern "C" PVOID NTAPI ExAllocateFromNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside) {
  return allocate(Lookaside->L, nullptr);
}

// ExFreeToNPagedLookasideList: caches the block, or frees it when the list is full.
extern "C" VOID NTAPI ExFreeToNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry) {
  release(Lookaside->L, Entry, nullptr);
}

// ExInitializePagedLookasideList: a paged lookaside list.
extern "C" VOID NTAPI ExInitializePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside,
                                                     PALLOCATE_FUNCTION Allocate,
                                                     PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size,
                                                     ULONG Tag, USHORT Depth) {
  initialize(Lookaside->L, PagedPool, Size, Tag, Depth, Flags);
  Lookaside->L.Allocate = Allocate;
  Lookaside->L.Free = Free;
}

// ExDeletePagedLookasideList: frees every cached block and forgets the list.
extern "C" VOID NTAPI ExDeletePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside) {
  remove(Lookaside->L, nullptr);
}

// ExAllocateFromPagedLookasideList: a cached block, or a new one from the allocator.
extern "C" PVOID NTAPI ExAllocateFromPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside) {
  return allocate(Lookaside->L, nullptr);
}

// ExFreeToPagedLookasideList: caches the block, or frees it when the list is full.
extern "C" VOID NTAPI ExFreeToPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry) {
  release(Lookaside->L, Entry, nullptr);
}

// Executive resources (ERESOURCE): reader/writer locks with recursion.
//
// ExInitializeResourceLite allocates the resource's runtime state (owners, waiters, a mutex
// and a condition variable) and keeps it in ERESOURCE.OwnerTable; ExDeleteResourceLite frees
// it (Windows also allocates the owner table from pool). The rules are the documented ones:
//   - an exclusive owner may acquire again, exclusive or shared (both count as exclusive);
//   - a shared owner may acquire shared again; acquiring exclusive while holding it shared is a
//     self-deadlock (a verifier bug check here when Wait is TRUE, FALSE when Wait is FALSE);
//   - a new shared acquire waits while exclusive waiters exist (ExAcquireResourceSharedLite)
//     or not (ExAcquireSharedStarveExclusive); ExAcquireSharedWaitForExclusive waits for them
//     even when the caller already holds the resource shared;
//   - releasing a resource the thread does not own bug-checks with RESOURCE_NOT_OWNED, and
//     converting one not owned exclusively with SHARED_RESOURCE_CONV_ERROR.
// The ERESOURCE counters (ActiveCount, Flag, waiter counts, ContentionCount) are kept up to date
// for code that reads them.
#include <wdm.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <utility>
#include <vector>

#include "nt/bugcheck.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/kthread.hpp"
#include "nt/ke/violations.hpp"

using namespace uwsk::nt;

namespace {

constexpr ULONG resource_magic = 0x52736552; // "ReSR"

struct resource_state {
  ULONG magic = resource_magic;
  std::mutex lock;
  std::condition_variable changed;
  ERESOURCE_THREAD exclusive_owner = 0;
  ULONG exclusive_count = 0;
  std::vector<std::pair<ERESOURCE_THREAD, ULONG>> shared; // owner, recursion
  ULONG shared_waiters = 0;
  ULONG exclusive_waiters = 0;
};

enum class shared_mode { lite, starve_exclusive, wait_for_exclusive };

ERESOURCE_THREAD current_owner_id() {
  return reinterpret_cast<ERESOURCE_THREAD>(current_thread());
}

// Deliberate family (duplicates): the bug checks of this file and fast_mutex.cpp each format their
// own sentence, naming the rule broken, before the one bugcheck call.
resource_state &state_of(PERESOURCE resource, const char *what, const void *caller) {
  auto *state = reinterpret_cast<resource_state *>(resource->OwnerTable);
  if (state == nullptr || state->magic != resource_magic) {
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "%s(%p): the resource is not initialised (ExInitializeResourceLite) or was "
                  "deleted",
                  what, static_cast<void *>(resource));
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::resource_not_initialized,
             reinterpret_cast<ULONG_PTR>(resource), 0, reinterpret_cast<ULONG_PTR>(caller));
  }
  return *state;
}

std::pair<ERESOURCE_THREAD, ULONG> *find_shared(resource_state &s, ERESOURCE_THREAD owner) {
  for (auto &entry : s.shared) {
    if (entry.first == owner) {
      return &entry;
    }
  }
  return nullptr;
}

// Mirrors the state into the ERESOURCE fields drivers and debuggers read. State lock held.
void publish(PERESOURCE resource, const resource_state &s) {
  if (s.exclusive_owner != 0) {
    resource->ActiveCount = 1;
    resource->Flag = static_cast<USHORT>(resource->Flag | ResourceOwnedExclusive);
    resource->OwnerEntry.OwnerThread = s.exclusive_owner;
  } else {
    resource->ActiveCount = static_cast<SHORT>(s.shared.size());
    resource->Flag = static_cast<USHORT>(resource->Flag & ~ResourceOwnedExclusive);
    resource->OwnerEntry.OwnerThread = s.shared.empty() ? 0 : s.shared.front().first;
  }
  resource->ActiveEntries = static_cast<ULONG>(s.shared.size()) + (s.exclusive_owner != 0);
  resource->NumberOfSharedWaiters = s.shared_waiters;
  resource->NumberOfExclusiveWaiters = s.exclusive_waiters;
}

BOOLEAN acquire_exclusive(PERESOURCE resource, BOOLEAN wait, const char *what, const void *caller) {
  require_irql_at_most(APC_LEVEL, what, resource, caller);
  resource_state &s = state_of(resource, what, caller);
  ERESOURCE_THREAD me = current_owner_id();
  std::unique_lock lock(s.lock);
  if (s.exclusive_owner == me) {
    ++s.exclusive_count;
    return TRUE;
  }
  if (find_shared(s, me) != nullptr) {
    if (!wait) {
      return FALSE;
    }
    lock.unlock();
    char reason[200];
    std::snprintf(reason, sizeof reason,
                  "%s(%p): the calling thread holds the resource shared and waits for it "
                  "exclusive (a certain deadlock)",
                  what, static_cast<void *>(resource));
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::resource_self_deadlock,
             reinterpret_cast<ULONG_PTR>(resource), me, reinterpret_cast<ULONG_PTR>(caller));
  }
  if (s.exclusive_owner != 0 || !s.shared.empty()) {
    if (!wait) {
      return FALSE;
    }
    ++resource->ContentionCount;
    ++s.exclusive_waiters;
    publish(resource, s);
    s.changed.wait(lock, [&s] { return s.exclusive_owner == 0 && s.shared.empty(); });
    --s.exclusive_waiters;
  }
  s.exclusive_owner = me;
  s.exclusive_count = 1;
  publish(resource, s);
  return TRUE;
}

// Deliberate pair (duplicates): acquire_exclusive and acquire_shared begin alike (IRQL check, the
// state, the exclusive owner re-entering in either mode, as ERESOURCE allows), then differ in what
// they wait for.
BOOLEAN acquire_shared(PERESOURCE resource, BOOLEAN wait, shared_mode mode, const char *what,
                       const void *caller) {
  require_irql_at_most(APC_LEVEL, what, resource, caller);
  resource_state &s = state_of(resource, what, caller);
  ERESOURCE_THREAD me = current_owner_id();
  std::unique_lock lock(s.lock);
  if (s.exclusive_owner == me) {
    ++s.exclusive_count;
    return TRUE;
  }
  auto grantable = [&s, me, mode] {
    if (s.exclusive_owner != 0) {
      return false;
    }
    if (s.shared.empty() || mode == shared_mode::starve_exclusive) {
      return true;
    }
    if (find_shared(s, me) != nullptr && mode == shared_mode::lite) {
      return true;
    }
    return s.exclusive_waiters == 0;
  };
  if (!grantable()) {
    if (!wait) {
      return FALSE;
    }
    ++resource->ContentionCount;
    ++s.shared_waiters;
    publish(resource, s);
    s.changed.wait(lock, grantable);
    --s.shared_waiters;
  }
  if (auto *entry = find_shared(s, me)) {
    ++entry->second;
  } else {
    s.shared.emplace_back(me, 1);
  }
  publish(resource, s);
  return TRUE;
}

void release_for(PERESOURCE resource, ERESOURCE_THREAD owner, const char *what,
                 const void *caller) {
  resource_state &s = state_of(resource, what, caller);
  std::unique_lock lock(s.lock);
  if (s.exclusive_owner == owner && owner != 0) {
    if (--s.exclusive_count == 0) {
      s.exclusive_owner = 0;
      s.changed.notify_all();
    }
    publish(resource, s);
    return;
  }
  if (auto *entry = find_shared(s, owner)) {
    if (--entry->second == 0) {
      s.shared.erase(s.shared.begin() + (entry - s.shared.data()));
    }
    // Waiters of every kind may now proceed (a last shared release frees the resource; any
    // release can unblock ExAcquireSharedWaitForExclusive callers).
    s.changed.notify_all();
    publish(resource, s);
    return;
  }
  lock.unlock();
  char reason[160];
  std::snprintf(reason, sizeof reason, "%s(%p): thread 0x%llx does not own the resource", what,
                static_cast<void *>(resource), static_cast<unsigned long long>(owner));
  bugcheck(RESOURCE_NOT_OWNED, reason, reinterpret_cast<ULONG_PTR>(resource), owner,
           reinterpret_cast<ULONG_PTR>(resource->OwnerTable), reinterpret_cast<ULONG_PTR>(caller));
}

} // namespace

// ExInitializeResourceLite: sets up a free resource.
extern "C" NTSTATUS NTAPI ExInitializeResourceLite(PERESOURCE Resource) {
  auto *state = new (std::nothrow) resource_state;
  if (state == nullptr) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  *Resource = ERESOURCE{};
  Resource->SystemResourcesList.Flink = Resource->SystemResourcesList.Blink =
      &Resource->SystemResourcesList;
  Resource->OwnerTable = reinterpret_cast<POWNER_ENTRY>(state);
  return STATUS_SUCCESS;
}

// ExReinitializeResourceLite: returns an unowned resource to its initial state.
extern "C" NTSTATUS NTAPI ExReinitializeResourceLite(PERESOURCE Resource) {
  const void *caller = __builtin_return_address(0);
  resource_state &s = state_of(Resource, "ExReinitializeResourceLite", caller);
  std::lock_guard lock(s.lock);
  s.exclusive_owner = 0;
  s.exclusive_count = 0;
  s.shared.clear();
  Resource->ContentionCount = 0;
  publish(Resource, s);
  return STATUS_SUCCESS;
}

// ExDeleteResourceLite: frees the resource's runtime state. Deleting a resource that is owned
// or waited for is a verifier bug check.
extern "C" NTSTATUS NTAPI ExDeleteResourceLite(PERESOURCE Resource) {
  const void *caller = __builtin_return_address(0);
  resource_state &s = state_of(Resource, "ExDeleteResourceLite", caller);
  {
    std::unique_lock lock(s.lock);
    if (s.exclusive_owner != 0 || !s.shared.empty() || s.shared_waiters != 0 ||
        s.exclusive_waiters != 0) {
      lock.unlock();
      char reason[160];
      std::snprintf(reason, sizeof reason,
                    "ExDeleteResourceLite(%p): the resource is still owned or waited for",
                    static_cast<void *>(Resource));
      bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason,
               ke_violation::resource_deleted_while_owned, reinterpret_cast<ULONG_PTR>(Resource), 0,
               reinterpret_cast<ULONG_PTR>(caller));
    }
    s.magic = 0;
  }
  delete &s;
  Resource->OwnerTable = nullptr;
  return STATUS_SUCCESS;
}

// ExAcquireResourceExclusiveLite: acquires the resource exclusive (recursively for its
// exclusive owner); with Wait FALSE, returns FALSE instead of waiting.
extern "C" BOOLEAN NTAPI ExAcquireResourceExclusiveLite(PERESOURCE Resource, BOOLEAN Wait) {
  return acquire_exclusive(Resource, Wait, "ExAcquireResourceExclusiveLite",
                           __builtin_return_address(0));
}

// ExAcquireResourceSharedLite: acquires the resource shared (see the rules above).
extern "C" BOOLEAN NTAPI ExAcquireResourceSharedLite(PERESOURCE Resource, BOOLEAN Wait) {
  return acquire_shared(Resource, Wait, shared_mode::lite, "ExAcquireResourceSharedLite",
                        __builtin_return_address(0));
}

// ExAcquireSharedStarveExclusive: acquires shared even when exclusive waiters exist.
extern "C" BOOLEAN NTAPI ExAcquireSharedStarveExclusive(PERESOURCE Resource, BOOLEAN Wait) {
  return acquire_shared(Resource, Wait, shared_mode::starve_exclusive,
                        "ExAcquireSharedStarveExclusive", __builtin_return_address(0));
}

// ExAcquireSharedWaitForExclusive: acquires shared after any exclusive waiters, even when the
// caller already holds it shared.
extern "C" BOOLEAN NTAPI ExAcquireSharedWaitForExclusive(PERESOURCE Resource, BOOLEAN Wait) {
  return acquire_shared(Resource, Wait, shared_mode::wait_for_exclusive,
                        "ExAcquireSharedWaitForExclusive", __builtin_return_address(0));
}

// ExReleaseResourceLite: releases one acquisition by the calling thread.
extern "C" VOID FASTCALL ExReleaseResourceLite(PERESOURCE Resource) {
  release_for(Resource, current_owner_id(), "ExReleaseResourceLite", __builtin_return_address(0));
}

// ExReleaseResourceForThreadLite: releases one acquisition made by the given thread
// (ExGetCurrentResourceThread() of the acquirer).
extern "C" VOID NTAPI ExReleaseResourceForThreadLite(PERESOURCE Resource,
                                                     ERESOURCE_THREAD ResourceThreadId) {
  release_for(Resource, ResourceThreadId, "ExReleaseResourceForThreadLite",
              __builtin_return_address(0));
}

// ExIsResourceAcquiredExclusiveLite: TRUE when the calling thread owns it exclusive.
extern "C" BOOLEAN NTAPI ExIsResourceAcquiredExclusiveLite(PERESOURCE Resource) {
  resource_state &s =
      state_of(Resource, "ExIsResourceAcquiredExclusiveLite", __builtin_return_address(0));
  std::lock_guard lock(s.lock);
  return s.exclusive_owner == current_owner_id() ? TRUE : FALSE;
}

// ExIsResourceAcquiredSharedLite: how many times the calling thread holds the resource (shared
// or exclusive); 0 when it does not.
extern "C" ULONG NTAPI ExIsResourceAcquiredSharedLite(PERESOURCE Resource) {
  resource_state &s =
      state_of(Resource, "ExIsResourceAcquiredSharedLite", __builtin_return_address(0));
  ERESOURCE_THREAD me = current_owner_id();
  std::lock_guard lock(s.lock);
  if (s.exclusive_owner == me) {
    return s.exclusive_count;
  }
  auto *entry = find_shared(s, me);
  return entry != nullptr ? entry->second : 0;
}

// ExGetExclusiveWaiterCount: threads waiting for exclusive access.
extern "C" ULONG NTAPI ExGetExclusiveWaiterCount(PERESOURCE Resource) {
  resource_state &s = state_of(Resource, "ExGetExclusiveWaiterCount", __builtin_return_address(0));
  std::lock_guard lock(s.lock);
  return s.exclusive_waiters;
}

// ExGetSharedWaiterCount: threads waiting for shared access.
extern "C" ULONG NTAPI ExGetSharedWaiterCount(PERESOURCE Resource) {
  resource_state &s = state_of(Resource, "ExGetSharedWaiterCount", __builtin_return_address(0));
  std::lock_guard lock(s.lock);
  return s.shared_waiters;
}

// ExConvertExclusiveToSharedLite: turns the caller's exclusive ownership (with its recursion
// count) into shared ownership and lets shared waiters in.
extern "C" VOID NTAPI ExConvertExclusiveToSharedLite(PERESOURCE Resource) {
  const void *caller = __builtin_return_address(0);
  resource_state &s = state_of(Resource, "ExConvertExclusiveToSharedLite", caller);
  ERESOURCE_THREAD me = current_owner_id();
  std::unique_lock lock(s.lock);
  if (s.exclusive_owner != me) {
    lock.unlock();
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "ExConvertExclusiveToSharedLite(%p): the calling thread does not own the "
                  "resource exclusive",
                  static_cast<void *>(Resource));
    bugcheck(SHARED_RESOURCE_CONV_ERROR, reason, reinterpret_cast<ULONG_PTR>(Resource), me, 0,
             reinterpret_cast<ULONG_PTR>(caller));
  }
  s.shared.emplace_back(me, s.exclusive_count);
  s.exclusive_owner = 0;
  s.exclusive_count = 0;
  s.changed.notify_all();
  publish(Resource, s);
}

// ExEnterCriticalRegionAndAcquireResourceExclusive: KeEnterCriticalRegion, then acquire
// exclusive (waiting). The returned pointer is opaque (the calling thread).
extern "C" PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceExclusive(PERESOURCE Resource) {
  KeEnterCriticalRegion();
  acquire_exclusive(Resource, TRUE, "ExEnterCriticalRegionAndAcquireResourceExclusive",
                    __builtin_return_address(0));
  return current_thread();
}

// ExEnterCriticalRegionAndAcquireResourceShared: KeEnterCriticalRegion, then acquire shared.
extern "C" PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceShared(PERESOURCE Resource) {
  KeEnterCriticalRegion();
  acquire_shared(Resource, TRUE, shared_mode::lite, "ExEnterCriticalRegionAndAcquireResourceShared",
                 __builtin_return_address(0));
  return current_thread();
}

// ExEnterCriticalRegionAndAcquireSharedWaitForExclusive: KeEnterCriticalRegion, then
// ExAcquireSharedWaitForExclusive (waiting).
extern "C" PVOID NTAPI ExEnterCriticalRegionAndAcquireSharedWaitForExclusive(PERESOURCE Resource) {
  KeEnterCriticalRegion();
  acquire_shared(Resource, TRUE, shared_mode::wait_for_exclusive,
                 "ExEnterCriticalRegionAndAcquireSharedWaitForExclusive",
                 __builtin_return_address(0));
  return current_thread();
}

// ExReleaseResourceAndLeaveCriticalRegion: releases the resource, then KeLeaveCriticalRegion.
extern "C" VOID FASTCALL ExReleaseResourceAndLeaveCriticalRegion(PERESOURCE Resource) {
  release_for(Resource, current_owner_id(), "ExReleaseResourceAndLeaveCriticalRegion",
              __builtin_return_address(0));
  KeLeaveCriticalRegion();
}

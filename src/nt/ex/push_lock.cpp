// Push locks (km/locks.h): a reader/writer lock in the low 32 bits of the EX_PUSH_LOCK word.
//
// Bit 0 is set while a writer holds the lock, bit 1 while threads may be sleeping on it, and
// the bits above count the readers that hold it. A thread that cannot take the lock sets bit 1
// and sleeps on the word (futex); whoever makes the lock free again with bit 1 set clears it
// and wakes every sleeper, which then compete again. Readers do not enter while a writer holds
// the lock, and nothing more: like Windows' push locks, this is not a fair lock.
#include <wdm.h>

#include <climits>
#include <cstdint>
#include <cstdio>

#include "nt/bugcheck.hpp"
#include "nt/ex/futex.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/violations.hpp"

namespace uwsk::nt {
namespace {

constexpr std::uint32_t writer_bit = 1;
constexpr std::uint32_t waiters_bit = 2;
constexpr std::uint32_t one_reader = 4;

static_assert(sizeof(EX_PUSH_LOCK) >= sizeof(std::uint32_t));

// The lock word: the low half of the EX_PUSH_LOCK (little-endian targets only).
std::uint32_t *word(PEX_PUSH_LOCK lock) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the futex word is the low half");
  return reinterpret_cast<std::uint32_t *>(lock);
}

void check_irql(const char *what, PEX_PUSH_LOCK lock, const void *caller) {
  require_irql_at_most(APC_LEVEL, what, lock, caller);
}

bool try_exclusive(std::uint32_t *w) {
  std::uint32_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
  while ((v & ~waiters_bit) == 0) {
    if (__atomic_compare_exchange_n(w, &v, v | writer_bit, true, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED)) {
      return true;
    }
  }
  return false;
}

bool try_shared(std::uint32_t *w) {
  std::uint32_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
  while ((v & writer_bit) == 0) {
    if (__atomic_compare_exchange_n(w, &v, v + one_reader, true, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED)) {
      return true;
    }
  }
  return false;
}

// Sleeps until the word changes from a value that keeps `blocked` true, after announcing a
// waiter.
template <typename Blocked> void wait_while(std::uint32_t *w, Blocked blocked) {
  std::uint32_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
  if (!blocked(v)) {
    return;
  }
  if ((v & waiters_bit) == 0 && !__atomic_compare_exchange_n(w, &v, v | waiters_bit, false,
                                                             __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    return; // it changed: try again
  }
  futex_wait(w, v | waiters_bit);
}

// After a release left the lock free: wakes the sleepers, if any were announced.
void wake_if_free(std::uint32_t *w, std::uint32_t left) {
  if (left == waiters_bit &&
      __atomic_compare_exchange_n(w, &left, 0, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED)) {
    futex_wake(w, INT_MAX);
  }
}

[[noreturn]] void release_unheld(const char *what, PEX_PUSH_LOCK lock, const void *caller) {
  char reason[160];
  std::snprintf(reason, sizeof reason, "%s(%p): the push lock is not held that way", what,
                static_cast<void *>(lock));
  bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::push_lock_not_held,
           reinterpret_cast<ULONG_PTR>(lock), 0, reinterpret_cast<ULONG_PTR>(caller));
}

void release_exclusive(PEX_PUSH_LOCK lock, const char *what, const void *caller) {
  std::uint32_t *w = word(lock);
  const std::uint32_t old = __atomic_exchange_n(w, 0, __ATOMIC_RELEASE);
  if ((old & writer_bit) == 0) {
    release_unheld(what, lock, caller);
  }
  if ((old & waiters_bit) != 0) {
    futex_wake(w, INT_MAX);
  }
}

void release_shared(PEX_PUSH_LOCK lock, const char *what, const void *caller) {
  std::uint32_t *w = word(lock);
  std::uint32_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
  do {
    if ((v & writer_bit) != 0 || v < one_reader) {
      release_unheld(what, lock, caller);
    }
  } while (!__atomic_compare_exchange_n(w, &v, v - one_reader, true, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED));
  wake_if_free(w, v - one_reader);
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

// ExInitializePushLock: an unowned push lock.
extern "C" VOID NTAPI ExInitializePushLock(PEX_PUSH_LOCK PushLock) {
  *PushLock = 0;
}

// ExAcquirePushLockExclusiveEx: takes the lock for writing, sleeping while anyone holds it.
extern "C" VOID NTAPI ExAcquirePushLockExclusiveEx(PEX_PUSH_LOCK PushLock, ULONG Flags) {
  (void)Flags;
  check_irql("ExAcquirePushLockExclusiveEx", PushLock, __builtin_return_address(0));
  std::uint32_t *w = word(PushLock);
  while (!try_exclusive(w)) {
    wait_while(w, [](std::uint32_t v) { return (v & ~waiters_bit) != 0; });
  }
}

// ExAcquirePushLockSharedEx: takes the lock for reading, sleeping while a writer holds it.
extern "C" VOID NTAPI ExAcquirePushLockSharedEx(PEX_PUSH_LOCK PushLock, ULONG Flags) {
  (void)Flags;
  check_irql("ExAcquirePushLockSharedEx", PushLock, __builtin_return_address(0));
  std::uint32_t *w = word(PushLock);
  while (!try_shared(w)) {
    wait_while(w, [](std::uint32_t v) { return (v & writer_bit) != 0; });
  }
}

// ExTryAcquirePushLockExclusiveEx: takes the lock for writing if nobody holds it.
extern "C" BOOLEAN NTAPI ExTryAcquirePushLockExclusiveEx(PEX_PUSH_LOCK PushLock, ULONG Flags) {
  (void)Flags;
  check_irql("ExTryAcquirePushLockExclusiveEx", PushLock, __builtin_return_address(0));
  return try_exclusive(word(PushLock)) ? TRUE : FALSE;
}

// ExTryAcquirePushLockSharedEx: takes the lock for reading if no writer holds it.
extern "C" BOOLEAN NTAPI ExTryAcquirePushLockSharedEx(PEX_PUSH_LOCK PushLock, ULONG Flags) {
  (void)Flags;
  check_irql("ExTryAcquirePushLockSharedEx", PushLock, __builtin_return_address(0));
  return try_shared(word(PushLock)) ? TRUE : FALSE;
}

// ExReleasePushLockExclusiveEx: releases a write hold.
extern "C" VOID NTAPI ExReleasePushLockExclusiveEx(PEX_PUSH_LOCK PushLock, ULONG Flags) {
  (void)Flags;
  release_exclusive(PushLock, "ExReleasePushLockExclusiveEx", __builtin_return_address(0));
}

// ExReleasePushLockSharedEx: releases one read hold.
extern "C" VOID NTAPI ExReleasePushLockSharedEx(PEX_PUSH_LOCK PushLock, ULONG Flags) {
  (void)Flags;
  release_shared(PushLock, "ExReleasePushLockSharedEx", __builtin_return_address(0));
}

// ExReleasePushLockEx: releases the hold the caller has, whichever way it is held.
extern "C" VOID NTAPI ExReleasePushLockEx(PEX_PUSH_LOCK PushLock, ULONG Flags) {
  (void)Flags;
  if ((__atomic_load_n(word(PushLock), __ATOMIC_RELAXED) & writer_bit) != 0) {
    release_exclusive(PushLock, "ExReleasePushLockEx", __builtin_return_address(0));
  } else {
    release_shared(PushLock, "ExReleasePushLockEx", __builtin_return_address(0));
  }
}

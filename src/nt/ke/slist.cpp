// Interlocked singly linked lists (SLIST_HEADER) and the 16-byte compare-exchange.
//
// Windows pops lock-free with a 16-byte compare-exchange and survives reading an entry that
// another thread popped and freed in between through structured exception handling. User space
// has no such safety net (and ASan rightly reports the read), so every update here holds a lock
// bit, the top bit of the header's sequence number, for the few instructions it takes. Depth,
// sequence and first-entry keep their Windows places (see ke.h), QueryDepthSList and
// FirstEntrySList read without the lock, and a zeroed header is an empty list.
#include <wdm.h>

#include <mutex>
#include <sched.h>

namespace {

constexpr ULONGLONG lock_bit = 1ULL << 63;
constexpr ULONGLONG depth_mask = 0xffff;
constexpr ULONGLONG sequence_mask = (1ULL << 47) - 1; // leaves the lock bit clear

// Takes the header's lock bit; returns the Alignment word as it was (depth and sequence).
ULONGLONG lock_header(PSLIST_HEADER head) {
  for (unsigned spins = 0;; ++spins) {
    ULONGLONG word = __atomic_load_n(&head->Alignment, __ATOMIC_RELAXED);
    if ((word & lock_bit) == 0 &&
        __atomic_compare_exchange_n(&head->Alignment, &word, word | lock_bit, true,
                                    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
      return word;
    }
    if (spins < 100) {
      YieldProcessor();
    } else {
      sched_yield();
    }
  }
}

// Publishes the new depth with the next sequence number and drops the lock bit.
void unlock_header(PSLIST_HEADER head, ULONGLONG old_word, ULONGLONG depth) {
  ULONGLONG sequence = ((old_word >> 16) + 1) & sequence_mask;
  __atomic_store_n(&head->Alignment, (depth & depth_mask) | (sequence << 16), __ATOMIC_RELEASE);
}

PSLIST_ENTRY first_entry(PSLIST_HEADER head) {
  return reinterpret_cast<PSLIST_ENTRY>(__atomic_load_n(&head->Region, __ATOMIC_RELAXED));
}

void set_first_entry(PSLIST_HEADER head, PSLIST_ENTRY entry) {
  __atomic_store_n(&head->Region, reinterpret_cast<ULONGLONG>(entry), __ATOMIC_RELAXED);
}

} // namespace

// InterlockedPushEntrySList: pushes an entry; returns the previous first entry (NULL if the list
// was empty).
extern "C" PSLIST_ENTRY NTAPI InterlockedPushEntrySList(PSLIST_HEADER ListHead,
                                                        PSLIST_ENTRY ListEntry) {
  ULONGLONG word = lock_header(ListHead);
  PSLIST_ENTRY first = first_entry(ListHead);
  ListEntry->Next = first;
  set_first_entry(ListHead, ListEntry);
  unlock_header(ListHead, word, (word & depth_mask) + 1);
  return first;
}

// InterlockedPopEntrySList: removes and returns the first entry, or NULL if the list is empty.
extern "C" PSLIST_ENTRY NTAPI InterlockedPopEntrySList(PSLIST_HEADER ListHead) {
  ULONGLONG word = lock_header(ListHead);
  PSLIST_ENTRY first = first_entry(ListHead);
  ULONGLONG depth = word & depth_mask;
  if (first != nullptr) {
    set_first_entry(ListHead, first->Next);
    depth = depth - 1;
  }
  unlock_header(ListHead, word, depth);
  return first;
}

// InterlockedFlushSList: empties the list; returns its former first entry (the chain stays
// linked through Next).
extern "C" PSLIST_ENTRY NTAPI InterlockedFlushSList(PSLIST_HEADER ListHead) {
  ULONGLONG word = lock_header(ListHead);
  PSLIST_ENTRY first = first_entry(ListHead);
  set_first_entry(ListHead, nullptr);
  unlock_header(ListHead, word, 0);
  return first;
}

// InterlockedPushListSListEx: pushes a chain List..ListEnd of Count entries; returns the
// previous first entry.
extern "C" PSLIST_ENTRY NTAPI InterlockedPushListSListEx(PSLIST_HEADER ListHead, PSLIST_ENTRY List,
                                                         PSLIST_ENTRY ListEnd, ULONG Count) {
  ULONGLONG word = lock_header(ListHead);
  PSLIST_ENTRY first = first_entry(ListHead);
  ListEnd->Next = first;
  set_first_entry(ListHead, List);
  unlock_header(ListHead, word, (word & depth_mask) + Count);
  return first;
}

// InterlockedCompareExchange128: 16-byte compare-exchange of an aligned Destination. Returns
// TRUE and stores ExchangeHigh:ExchangeLow when Destination equals ComparandResult[1]:[0];
// otherwise returns FALSE and stores the current value into ComparandResult.
extern "C" BOOLEAN NTAPI InterlockedCompareExchange128(LONG64 volatile *Destination,
                                                       LONG64 ExchangeHigh, LONG64 ExchangeLow,
                                                       LONG64 *ComparandResult) {
#if defined(__x86_64__)
  // cmpxchg16b is on every x86-64 CPU that runs 64-bit Windows 8.1 or later; inline assembly
  // avoids needing -mcx16 or libatomic in every build.
  bool equal;
  LONG64 low = ComparandResult[0];
  LONG64 high = ComparandResult[1];
  __asm__ __volatile__("lock cmpxchg16b %1"
                       : "=@ccz"(equal), "+m"(*reinterpret_cast<volatile __int128 *>(Destination)),
                         "+a"(low), "+d"(high)
                       : "b"(ExchangeLow), "c"(ExchangeHigh)
                       : "memory");
  ComparandResult[0] = low;
  ComparandResult[1] = high;
  return equal ? TRUE : FALSE;
#else
  // Other targets: a process-wide lock (only this function updates 16-byte values).
  static std::mutex lock;
  std::lock_guard guard(lock);
  if (Destination[0] == ComparandResult[0] && Destination[1] == ComparandResult[1]) {
    Destination[0] = ExchangeLow;
    Destination[1] = ExchangeHigh;
    return TRUE;
  }
  ComparandResult[0] = Destination[0];
  ComparandResult[1] = Destination[1];
  return FALSE;
#endif
}

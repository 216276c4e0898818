// Spin-lock protected lists (ExInterlocked*List) and additions. They may be called at any
// IRQL: the lock is taken at DISPATCH_LEVEL or above, raising only when below it. Never mix
// them with unlocked list operations on the same list.
#include <wdm.h>

#include "nt/ke/dispatcher.hpp"

using namespace uwsk::nt;

namespace {

struct list_lock {
  explicit list_lock(PKSPIN_LOCK lock) : lock(lock), old_irql(KeAcquireSpinLockForDpc(lock)) {}
  ~list_lock() { KeReleaseSpinLockForDpc(lock, old_irql); }
  list_lock(const list_lock &) = delete;
  list_lock &operator=(const list_lock &) = delete;
  PKSPIN_LOCK lock;
  KIRQL old_irql;
};

} // namespace

// Deliberate family (duplicates): the ExInterlocked list exports, head and tail forms of insert and
// remove, each one locked list operation.
// ExInterlockedInsertHeadList: inserts at the head; returns the former first entry or NULL.
extern "C" PLIST_ENTRY NTAPI ExInterlockedInsertHeadList(PLIST_ENTRY ListHead,
                                                         PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock) {
  list_lock guard(Lock);
  PLIST_ENTRY first = ListHead->Flink;
  list_insert_head(ListHead, ListEntry);
  return first == ListHead ? nullptr : first;
}

// ExInterlockedInsertTailList: inserts at the tail; returns the former last entry or NULL.
extern "C" PLIST_ENTRY NTAPI ExInterlockedInsertTailList(PLIST_ENTRY ListHead,
                                                         PLIST_ENTRY ListEntry, PKSPIN_LOCK Lock) {
  list_lock guard(Lock);
  PLIST_ENTRY last = ListHead->Blink;
  list_insert_tail(ListHead, ListEntry);
  return last == ListHead ? nullptr : last;
}

// ExInterlockedRemoveHeadList: removes and returns the first entry, or NULL when empty.
extern "C" PLIST_ENTRY NTAPI ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock) {
  list_lock guard(Lock);
  PLIST_ENTRY first = ListHead->Flink;
  if (first == ListHead) {
    return nullptr;
  }
  ListHead->Flink = first->Flink;
  first->Flink->Blink = ListHead;
  return first;
}

// ExInterlockedPushEntryList: pushes onto a singly linked list; returns the former first.
extern "C" PSINGLE_LIST_ENTRY NTAPI ExInterlockedPushEntryList(PSINGLE_LIST_ENTRY ListHead,
                                                               PSINGLE_LIST_ENTRY ListEntry,
                                                               PKSPIN_LOCK Lock) {
  list_lock guard(Lock);
  PSINGLE_LIST_ENTRY first = ListHead->Next;
  ListEntry->Next = first;
  ListHead->Next = ListEntry;
  return first;
}

// ExInterlockedPopEntryList: pops the first entry of a singly linked list, or NULL.
extern "C" PSINGLE_LIST_ENTRY NTAPI ExInterlockedPopEntryList(PSINGLE_LIST_ENTRY ListHead,
                                                              PKSPIN_LOCK Lock) {
  list_lock guard(Lock);
  PSINGLE_LIST_ENTRY first = ListHead->Next;
  if (first != nullptr) {
    ListHead->Next = first->Next;
  }
  return first;
}

// ExInterlockedAddUlong: adds Increment under the lock; returns the value before.
extern "C" ULONG NTAPI ExInterlockedAddUlong(PULONG Addend, ULONG Increment, PKSPIN_LOCK Lock) {
  list_lock guard(Lock);
  ULONG before = *Addend;
  *Addend = before + Increment;
  return before;
}

// ExInterlockedAddLargeInteger: adds Increment under the lock; returns the value before.
extern "C" LARGE_INTEGER NTAPI ExInterlockedAddLargeInteger(PLARGE_INTEGER Addend,
                                                            LARGE_INTEGER Increment,
                                                            PKSPIN_LOCK Lock) {
  list_lock guard(Lock);
  LARGE_INTEGER before = *Addend;
  Addend->QuadPart = before.QuadPart + Increment.QuadPart;
  return before;
}

// How the WSK provider takes, parks and completes the IRPs clients hand it.
//
// The policy is docs/design.md's, "What a WSK call returns", cited in the code as "IRP policy
// rule N". How this file keeps it:
//  1. Every IRP-taking function first calls irp_enter(), which moves the IRP to the provider's
//     stack location (the one holding the client's completion routine), exactly as a driver
//     below an IoCallDriver would be entered. The location's Parameters and the IRP's
//     Tail.Overlay.DriverContext and ListEntry then belong to the provider until completion.
//  2. An operation that finishes during the call completes the IRP on the calling thread
//     (irp_complete) and the call returns the final status, which equals Irp->IoStatus.Status.
//     The client's completion routine has then already run.
//  3. An operation that cannot finish yet is parked: irp_park() marks the IRP pending and sets
//     the owner's cancel routine, and the call returns STATUS_PENDING. It completes later, on a
//     loop thread, through irp_complete() after irp_unpark() succeeded.
//  4. Completion routines always run at DISPATCH_LEVEL (raised for the call if the completing
//     thread is below it), as Windows allows them to.
//  5. IoStatus.Information is set by each operation when it completes the IRP.
//  6. After irp_complete() returns, the provider never touches the IRP again: the client may
//     have freed or reused it inside its completion routine.
#pragma once

#include <new>

#include <wdm.h>

namespace uwsk::wsk {

// IRP policy rule 1. Returns false (after completing nothing) when Irp is NULL.
bool irp_enter(PIRP irp);

// IRP policy rules 2, 4 and 6: completes the IRP with `status` and `information` and returns
// `status`.
NTSTATUS irp_complete(PIRP irp, NTSTATUS status, ULONG_PTR information);

// IRP policy rule 3: marks the IRP pending and makes it cancellable with `cancel`. Returns false
// when the IRP was already cancelled; it then is neither parked nor marked pending, and the caller
// completes it with STATUS_CANCELLED (or does whatever cancellation means for it).
bool irp_park(PIRP irp, PDRIVER_CANCEL cancel);

// Takes a parked IRP back from the cancel machinery before completing it or working on it.
// Returns false when cancellation won: the cancel routine owns the IRP and will complete it.
bool irp_unpark(PIRP irp);

// Parks again an IRP that was unparked for a try that found nothing to do (EAGAIN). Returns
// false when it was cancelled meanwhile: the caller completes it with STATUS_CANCELLED.
bool irp_repark(PIRP irp, PDRIVER_CANCEL cancel);

// The operation record inside the IRP (IRP policy rule 1), typed by each kind of operation: the
// call's arguments (`Args`) in the Parameters of the provider's stack location, its progress
// (`Progress`) in DriverContext[1..3]; DriverContext[0] is the socket or registration the IRP
// belongs to. irp_record_init constructs both; the accessors return them.
template <class Args, class Progress> void irp_record_init(PIRP irp, const Args &args) {
  static_assert(sizeof(Args) <= sizeof(IoGetCurrentIrpStackLocation(irp)->Parameters),
                "the arguments fit the stack location's Parameters");
  static_assert(sizeof(Progress) <= 3 * sizeof(PVOID), "the progress fits DriverContext[1..3]");
  static_assert(alignof(Args) <= alignof(PVOID) && alignof(Progress) <= alignof(PVOID));
  new (&IoGetCurrentIrpStackLocation(irp)->Parameters) Args(args);
  new (&irp->Tail.Overlay.DriverContext[1]) Progress();
}
template <class Args> Args &irp_args(PIRP irp) {
  return *std::launder(reinterpret_cast<Args *>(&IoGetCurrentIrpStackLocation(irp)->Parameters));
}
template <class Progress> Progress &irp_progress(PIRP irp) {
  return *std::launder(reinterpret_cast<Progress *>(&irp->Tail.Overlay.DriverContext[1]));
}

// The object a parked IRP belongs to (a socket, a registration, a name-resolution request), in
// DriverContext[0], so that its cancel routine can find the lock that guards it.
inline void irp_set_owner(PIRP irp, void *owner) {
  irp->Tail.Overlay.DriverContext[0] = owner;
}
template <class Owner> Owner *irp_owner(PIRP irp) {
  return static_cast<Owner *>(irp->Tail.Overlay.DriverContext[0]);
}

// Marks the provider keeps on a queued IRP, in the Flags byte of its own stack location (set
// by irp_enter; bit 0x80 is irp_enter's own: the provider holds the IRP).
namespace irp_mark {
// A receive that ended a stalled receive event: events resume after its completion routine ran.
inline constexpr UCHAR resumes_events = 0x01;
// Refused before it was tried (wrong state) while earlier IRPs were parked: it fails in its turn
// with the status in IoStatus.Status.
inline constexpr UCHAR refused = 0x02;
// The connect of WskSocketConnect, whose socket no client has seen: cancelling it frees it too.
inline constexpr UCHAR creates_socket = 0x04;
} // namespace irp_mark
inline UCHAR &irp_marks(PIRP irp) {
  return IoGetCurrentIrpStackLocation(irp)->Flags;
}

// The list entry the provider queues a parked IRP on, and back.
inline PLIST_ENTRY irp_link(PIRP irp) {
  return &irp->Tail.Overlay.ListEntry;
}
inline PIRP irp_from_link(PLIST_ENTRY link) {
  return CONTAINING_RECORD(link, IRP, Tail.Overlay.ListEntry);
}

// A list of parked IRPs in the order they were parked, guarded by its owner's lock, with the
// race against cancellation settled one way: whoever takes the cancel routine back completes the
// IRP (IRP policy rule 3). Every provider object that keeps IRPs waiting keeps them in one of these
// (a socket's operation queues, the address-change and transport-change waiters, the IRPs that wait
// for an event callback to return).
class parked_list {
public:
  parked_list() { InitializeListHead(&head_); }
  parked_list(const parked_list &) = delete;
  parked_list &operator=(const parked_list &) = delete;

  // Under the lock: parks `irp` at the tail (irp_park). False when it was already cancelled.
  bool park(PIRP irp, PDRIVER_CANCEL cancel) {
    if (!irp_park(irp, cancel)) {
      return false;
    }
    InsertTailList(&head_, irp_link(irp));
    return true;
  }
  // In the cancel routine, under the lock: takes the cancelled IRP off whichever list holds it.
  static void unlink(PIRP irp) {
    RemoveEntryList(irp_link(irp));
    InitializeListHead(irp_link(irp));
  }
  // Under the lock: takes back (irp_unpark) every IRP that `match` selects, in order, and hands
  // each to `take`, off the list; an IRP whose cancel routine already runs is left to it.
  template <class Match, class Take> void take_if(Match match, Take take) {
    for (PLIST_ENTRY link = head_.Flink, next; link != &head_; link = next) {
      next = link->Flink;
      PIRP irp = irp_from_link(link);
      if (match(irp) && irp_unpark(irp)) {
        unlink(irp);
        take(irp);
      }
    }
  }
  template <class Take> void take_all(Take take) {
    take_if([](PIRP) { return true; }, take);
  }
  bool empty() const { return IsListEmpty(&head_); }
  LIST_ENTRY &head() { return head_; }

private:
  LIST_ENTRY head_;
};

} // namespace uwsk::wsk

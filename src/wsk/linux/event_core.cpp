// The callback core shared by every category's events: SO_WSK_EVENT_CALLBACK (enabling and
// disabling), the disable IRPs that wait for a running callback, and verifier reports. The
// rules: docs/design.md, "Event callbacks".
#include <uwsk/log.h>

#include "wsk/linux/event_core.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/control.hpp"

namespace uwsk::wsk {
namespace {

// Cancel routine of a disable IRP waiting for its callback to return: the disable took effect
// already; only the wait is cancelled.
VOID NTAPI cancel_disable(PDEVICE_OBJECT, PIRP irp) {
  IoReleaseCancelSpinLock(irp->CancelIrql);
  auto *s = irp_owner<socket_object>(irp);
  {
    std::lock_guard guard(s->lock);
    parked_list::unlink(irp);
  }
  irp_complete(irp, STATUS_CANCELLED, 0);
}

} // namespace

bool v58_event_anyway(socket_object *s) {
  return fault::happens(fault::stream::v58, fault::current().v58, s->fault_id, s->fault_draws,
                        "event delivered although IRPs are queued");
}

bool v56_socket_dies(socket_object *s, const char *what) {
  return fault::active() && fault::current().v56 != 0 && !s->ev.dead_indicated &&
         fault::happens(fault::stream::v56, fault::current().v56, s->fault_id, s->fault_draws,
                        what);
}

void event_report(const socket_object *s, const char *what) {
  uwsk_log_message("wsk", "verifier: socket %p: %s", static_cast<const void *>(s), what);
}

void complete_disables(socket_object *s, completion_batch &done) {
  s->ev.disable_irps.take_all([&](PIRP irp) { done.add(irp, STATUS_SUCCESS, 0); });
}

NTSTATUS events_set_mask(socket_object *s, ULONG mask, PIRP irp) {
  const ULONG fixed = static_event_mask(s->reg, s->cat);
  std::lock_guard guard(s->lock);
  if ((mask & win::wsk_event_disable) == 0) {
    s->event_mask |= mask;
    if ((mask & win::wsk_event_receive_from) != 0) {
      s->ev.receive_from_dynamic = (fixed & win::wsk_event_receive_from) == 0;
    }
    socket_kick_locked(s); // what is already waiting is indicated now
    return STATUS_SUCCESS;
  }
  const ULONG event = mask & ~win::wsk_event_disable;
  if ((event & fixed) != 0) {
    return STATUS_INVALID_DEVICE_STATE; // statically enabled events stay enabled
  }
  s->event_mask &= ~event;
  if ((s->ev.running & event) == 0) {
    // event-pending (docs/faults.md): a disable without an IRP may learn STATUS_EVENT_PENDING
    // although no callback runs; the disable took effect all the same.
    if (irp == nullptr && fault::active() &&
        fault::happens(fault::stream::event_pending, fault::current().event_pending, s->fault_id,
                       s->fault_draws, "disable without an IRP returns STATUS_EVENT_PENDING")) {
      return STATUS_EVENT_PENDING;
    }
    return STATUS_SUCCESS;
  }
  // Its callback is running: the disable takes effect for every later call at once, and the
  // IRP completes (or the caller learns STATUS_EVENT_PENDING) once the call has returned.
  if (irp == nullptr) {
    return STATUS_EVENT_PENDING;
  }
  irp_set_owner(irp, s);
  if (!s->ev.disable_irps.park(irp, cancel_disable)) {
    return STATUS_CANCELLED; // cancelled already: the caller completes it so
  }
  return STATUS_PENDING;
}

} // namespace uwsk::wsk

// The callback core shared by every category's events: SO_WSK_EVENT_CALLBACK (enabling and
// disabling), the disable IRPs that wait for a running callback, and verifier reports. The
// rules: docs/design.md, "Event callbacks".
#include <cstdio>
#include <cstring>
#include <new>

#include <uwsk/log.h>

#include "nt/dbg/verifier.hpp"

#include "wsk/linux/event_core.hpp"
#include "wsk/provider_new.hpp"
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

// Rule V62: STATUS_EVENT_PENDING is a success status. The disable took effect, but the callback
// may still be running when the call returns (or, with the event-pending fault, may seem to).
void note_event_pending(const socket_object *s, ULONG event) {
  char sentence[320];
  std::snprintf(sentence, sizeof sentence,
                "disabling the %s with SO_WSK_EVENT_CALLBACK and no IRP returned "
                "STATUS_EVENT_PENDING: the disable took effect, but the callback may still be "
                "running; it is a success status",
                event_callback_name(event));
  nt::verifier::note(62, sentence, socket_objects(s));
}

} // namespace

bool v58_event_anyway(socket_object *s, queue_kind kind) {
  if (!socket_fault_happens(s, fault::stream::v58, fault::current().v58,
                            "event delivered although IRPs are queued")) {
    return false;
  }
  if (!s->ev.v58_noted) {
    s->ev.v58_noted = true;
    unsigned queued = 0;
    LIST_ENTRY &head = s->queue(kind);
    for (PLIST_ENTRY e = head.Flink; e != &head; e = e->Flink) {
      ++queued;
    }
    char sentence[320];
    std::snprintf(sentence, sizeof sentence,
                  "the %s event was let through while %u %s IRP%s queued (fault v58): a "
                  "pending IRP does not keep the matching event quiet; reported once per socket",
                  kind == queue_kind::accept     ? "accept"
                  : s->cat == category::datagram ? "receive-from"
                                                 : "receive",
                  queued,
                  kind == queue_kind::accept     ? "WskAccept"
                  : s->cat == category::datagram ? "WskReceiveFrom"
                                                 : "WskReceive",
                  queued == 1 ? " was" : "s were");
    nt::verifier::note(58, sentence, socket_objects(s));
  }
  return true;
}

bool v56_socket_dies(socket_object *s, const char *what) {
  return fault::active() && fault::current().v56 != 0 && !s->ev.dead_indicated &&
         socket_fault_happens(s, fault::stream::v56, fault::current().v56, what);
}

void event_violation(int rule, bool error, const socket_object *s, const char *sentence) {
  socket_objects objects(s);
  const nt::activity::frame *f = nt::activity::current();
  if (f != nullptr && f->object == s) {
    const std::size_t used = std::strlen(objects.text);
    std::snprintf(objects.text + used, sizeof objects.text - used, ", in its %s", f->what);
  }
  if (error) {
    nt::verifier::error(rule, sentence, objects, reinterpret_cast<ULONG_PTR>(s));
  }
  nt::verifier::warning(rule, sentence, objects, reinterpret_cast<ULONG_PTR>(s));
}

namespace {

void on_dead_timer(net::timer *t) {
  socket_object *s = static_cast<socket_timer *>(t)->owner;
  std::lock_guard guard(s->lock);
  if (!closing(s)) {
    event_violation(56, false, s,
                    "a socket that got its NULL indication (NULL DataIndication, AcceptSocket or "
                    "InspectID: it no longer works) was not closed within 1 s; the client must "
                    "close it with WskCloseSocket");
  }
}

} // namespace

event_timers *event_timers_of(socket_object *s) {
  socket_rare *rare = socket_rare_of(s);
  if (rare == nullptr) {
    return nullptr;
  }
  if (!rare->timers) {
    rare->timers.reset(provider_new<event_timers>());
    if (rare->timers) {
      rare->timers->dead_timer.owner = s;
      rare->timers->stall_timer.owner = s;
      rare->timers->memory_timer.owner = s;
    }
  }
  return rare->timers.get();
}

namespace {

void on_memory_timer(net::timer *t) {
  socket_object *s = static_cast<socket_timer *>(t)->owner;
  std::lock_guard guard(s->lock);
  socket_kick_locked(s); // does nothing once the socket closes
}

} // namespace

void events_retry_for_memory(socket_object *s) {
  if (s->loop == nullptr) {
    return;
  }
  if (!s->loop->in_loop_thread()) {
    socket_kick_locked(s);
    return;
  }
  event_timers *timers = event_timers_of(s);
  if (timers != nullptr && !timers->memory_timer.armed()) {
    timers->memory_timer.on_expire = on_memory_timer;
    s->loop->arm_timer(&timers->memory_timer, net::timer::clock::now() + memory_retry);
  }
}

void told_dead(socket_object *s) {
  s->dead_told.store(true, std::memory_order_relaxed);
  event_timers *timers = event_timers_of(s);
  if (timers != nullptr && !timers->dead_timer.armed()) {
    timers->dead_timer.on_expire = on_dead_timer;
    s->loop->arm_timer(&timers->dead_timer, net::timer::clock::now() + dead_socket_close_bound);
  }
}

void complete_disables(socket_object *s, completion_batch &done) {
  if (s->rare) {
    s->rare->disable_irps.take_all([&](PIRP irp) { done.add(irp, STATUS_SUCCESS, 0); });
  }
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
  if ((s->ev.running & event) != 0 && irp != nullptr && socket_rare_of(s) == nullptr) {
    return STATUS_INSUFFICIENT_RESOURCES; // no room to keep the IRP: nothing changed
  }
  s->event_mask &= ~event;
  if ((event & win::wsk_event_receive) != 0 && events_ring_reading(s)) {
    socket_kick_locked(s); // the loop cancels the multishot receive (event rule 10)
  }
  if ((s->ev.running & event) == 0) {
    // event-pending (docs/faults.md): a disable without an IRP may learn STATUS_EVENT_PENDING
    // although no callback runs; the disable took effect all the same.
    if (irp == nullptr && fault::active() &&
        socket_fault_happens(s, fault::stream::event_pending, fault::current().event_pending,
                             "disable without an IRP returns STATUS_EVENT_PENDING")) {
      note_event_pending(s, event);
      return STATUS_EVENT_PENDING;
    }
    return STATUS_SUCCESS;
  }
  // Its callback is running: the disable takes effect for every later call at once, and the
  // IRP completes (or the caller learns STATUS_EVENT_PENDING) once the call has returned.
  if (irp == nullptr) {
    note_event_pending(s, event);
    return STATUS_EVENT_PENDING;
  }
  irp_set_owner(irp, s);
  if (!s->rare->disable_irps.park(irp, cancel_disable)) {
    return STATUS_CANCELLED; // cancelled already: the caller completes it so
  }
  return STATUS_PENDING;
}

} // namespace uwsk::wsk

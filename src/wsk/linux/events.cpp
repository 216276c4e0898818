// Event callbacks of connection-oriented sockets (docs/wsk-behaviour.md, "Event callbacks"), the
// callback core shared by every category, and SO_WSK_EVENT_CALLBACK. The rules: docs/design.md,
// "Event callbacks"; indication buffers are in linux/indication.cpp, listening sockets' events in
// linux/listen_events.cpp, datagram events in linux/datagram_events.cpp.
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include <uwsk/log.h>

#include "net/socket_ops.hpp"
#include "wsk/linux/event_core.hpp"
#include "wsk/linux/indication.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/callbacks.hpp"

namespace uwsk::wsk {
namespace {

void deliver_receives(socket_object *s, std::unique_lock<socket_lock> &guard,
                      completion_batch &done);

// Rule V53: after partial acceptance or STATUS_DATA_NOT_ACCEPTED no receive event comes until a
// WskReceive completes. A socket still stalled with no WskReceive queued after this long is
// reported (once per socket): the client seems to wait for an event that will not come.
constexpr auto stall_bound = std::chrono::seconds(1);

void on_stall_timer(net::timer *t) {
  socket_object *s = static_cast<socket_timer *>(t)->owner;
  std::lock_guard guard(s->lock);
  if (closing(s) || !s->ev.receive_stalled || !s->queue_idle(queue_kind::receive) ||
      s->ev.stall_reported) {
    return;
  }
  s->ev.stall_reported = true;
  event_violation(53, false, s,
                  "WskReceiveEvent accepted part of the data (or returned "
                  "STATUS_DATA_NOT_ACCEPTED) and no WskReceive came within 1 s: no receive event "
                  "comes until a WskReceive completes");
}

void arm_stall_timer(socket_object *s) {
  if (s->ev.stall_reported) {
    return;
  }
  event_timers *timers = event_timers_of(s);
  if (timers != nullptr && !timers->stall_timer.armed()) {
    timers->stall_timer.on_expire = on_stall_timer;
    s->loop->arm_timer(&timers->stall_timer, net::timer::clock::now() + stall_bound);
  }
}

// Resumes WskReceive IRPs that waited for a receive indication to be decided.
void after_receive_indication(socket_object *s, completion_batch &done) {
  if (!IsListEmpty(&s->queue(queue_kind::receive))) {
    s->behaviour->resume_receives(s, done);
  }
}

// split-indication (docs/faults.md): the chunk's bytes as a chain of up to `elements`
// WSK_DATA_INDICATIONs over the same MDL, in order (more than one whenever there are more bytes
// than one).
void split_indication(data_chunk *c, unsigned elements) {
  const SIZE_T total = c->length - c->start;
  if (elements > 1 + sizeof(c->pieces) / sizeof(c->pieces[0])) {
    elements = 1 + sizeof(c->pieces) / sizeof(c->pieces[0]);
  }
  if (total < 2 || elements < 2) {
    return;
  }
  const SIZE_T each = (total + elements - 1) / elements;
  data_indication_view *element = &c->data;
  SIZE_T offset = c->start;
  element->buffer.length = each;
  offset += each;
  for (unsigned i = 0; offset < c->length; ++i) {
    data_indication_view *next = &c->pieces[i];
    const SIZE_T length = std::min(each, c->length - offset);
    next->next = nullptr;
    next->buffer = {c->mdl, static_cast<ULONG>(offset), length};
    element->next = next;
    element = next;
    offset += length;
  }
}

// A read for receive events that brought no bytes (`got`: 0 or -errno), or the end the ring's
// receive met: the end of the stream, a reset, or (with no disconnect event to say so) the NULL
// indication of a socket that stopped working. Returns whether reading may go on (-EINTR).
bool finish_reading(socket_object *s, long got, std::unique_lock<socket_lock> &guard,
                    completion_batch &done) {
  if (got == 0) {
    s->peer_closed = true;
  } else if (got == -ECONNRESET) {
    s->ev.peer_reset = true;
  } else if (got == -EINTR) {
    return true;
  } else if (got != -EAGAIN && !enabled(s, win::wsk_event_disconnect) && !s->ev.dead_indicated) {
    // The socket stopped working and no disconnect event will say so.
    s->ev.dead_indicated = true;
    told_dead(s);
    SIZE_T ignored = 0;
    run_callback(s, win::wsk_event_receive, guard, done,
                 [&](category cat, const void *d, PVOID ctx) {
                   return call_receive_event(cat, d, ctx, 0, nullptr, 0, &ignored);
                 });
  }
  return false;
}

void deliver_receives(socket_object *s, std::unique_lock<socket_lock> &guard,
                      completion_batch &done) {
  for (int round = 0; round < max_indications; ++round) {
    if (closing(s) || s->state != socket_state::connected || s->aborted || s->ev.receive_stalled ||
        s->ev.resuming != 0 || !enabled(s, win::wsk_event_receive) ||
        events_give_way(s, queue_kind::receive)) {
      return;
    }
    if (unread_of(s) != nullptr && !may_indicate(s)) {
      return; // the client holds its bound; a release resumes the events (event rule 9)
    }
    data_chunk *c = unread_pop(s);
    if (c != nullptr) {
      discharge(s, c); // charged again when offered below
    } else if (events_ring_end_pending(s)) {
      // The ring's receive met the end of the stream or an error after the bytes indicated so
      // far (event rule 10): handled as a read's result.
      if (!finish_reading(s, events_ring_take_end(s), guard, done)) {
        return;
      }
      continue;
    } else {
      if (s->peer_closed || s->read_drained || events_ring_reading(s)) {
        return; // nothing more until the next readiness (socket_object::read_drained), or the
                // ring's receive brings it (event rule 10)
      }
      if (!may_read(s)) {
        return; // at the bound: the data waits in the kernel until the client releases some
      }
      if (events_ring_wanted(s)) {
        return; // a multishot receive reads from here on, armed after this pass
      }
      if (v56_socket_dies(s, "the connection stops working: WskReceiveEvent gets a NULL "
                             "DataIndication")) {
        s->ev.dead_indicated = true;
        told_dead(s);
        sockaddr unspec{};
        unspec.sa_family = AF_UNSPEC;
        net::sock::connect(s->fd, &unspec, sizeof(unspec)); // a reset, for the peer too
        SIZE_T ignored = 0;
        run_callback(s, win::wsk_event_receive, guard, done,
                     [&](category cat, const void *d, PVOID ctx) {
                       return call_receive_event(cat, d, ctx, 0, nullptr, 0, &ignored);
                     });
        return;
      }
      c = chunk_alloc();
      if (c == nullptr) {
        events_retry_for_memory(s); // the data waits in the kernel meanwhile
        return;
      }
      const iovec iov{c->bytes, chunk_capacity};
      const ssize_t got = net::sock::recv(s->fd, &iov, 1, 0);
      note_read(s, got, chunk_capacity);
      if (got <= 0) {
        chunk_free(c);
        finish_reading(s, got, guard, done);
        return;
      }
      c->start = 0;
      c->length = static_cast<SIZE_T>(got);
    }
    c->owner = s;
    c->data.next = nullptr;
    c->data.buffer = {c->mdl, static_cast<ULONG>(c->start), c->length - c->start};
    if (fault::active() && fault::current().split_indication != 0) {
      split_indication(c, fault::current().split_indication);
    }
    const SIZE_T indicated = c->length - c->start;
    SIZE_T accepted = indicated;
    const ULONG flags = pressure_flags();
    offer_retention(s, c, indicated, flags);
    const NTSTATUS status = run_callback(
        s, win::wsk_event_receive, guard, done, [&](category cat, const void *d, PVOID ctx) {
          return call_receive_event(cat, d, ctx, flags, &c->data, indicated, &accepted);
        });
    if (status == STATUS_PENDING) {
      // The client keeps it until WskRelease (which may have come already).
    } else if (!take_back(s, c)) {
      event_violation(31, false, s,
                      "WskRelease of a data indication list inside its WskReceiveEvent, which "
                      "then did not return STATUS_PENDING: a list is released only when its "
                      "callback retained it");
    } else if (status == STATUS_SUCCESS && accepted >= indicated) {
      if (accepted > indicated) {
        char sentence[320];
        std::snprintf(sentence, sizeof sentence,
                      "WskReceiveEvent set *BytesAccepted to %zu, more than the %zu bytes "
                      "indicated",
                      static_cast<std::size_t>(accepted), static_cast<std::size_t>(indicated));
        event_violation(53, true, s, sentence);
      }
      discharge(s, c);
      chunk_free(c);
    } else {
      if (status != STATUS_SUCCESS && status != STATUS_DATA_NOT_ACCEPTED) {
        event_violation(53, false, s,
                        "WskReceiveEvent returned a status other than STATUS_SUCCESS, "
                        "STATUS_DATA_NOT_ACCEPTED and STATUS_PENDING; the data is not accepted");
      }
      // Partial acceptance or none: the rest heads the stream, and events wait for a
      // WskReceive to complete (docs/wsk-behaviour.md, "WskReceiveEvent").
      c->start += status == STATUS_SUCCESS ? accepted : 0;
      recharge(s, c, c->length - c->start);
      unread_push_front(s, c); // charged: the socket has its indication_state
      s->ev.receive_stalled = true;
      arm_stall_timer(s);
    }
    after_receive_indication(s, done);
  }
  socket_kick_locked(s); // more may be waiting
}

void deliver_disconnect(socket_object *s, std::unique_lock<socket_lock> &guard,
                        completion_batch &done) {
  if (closing(s) || s->ev.disconnect_indicated || !enabled(s, win::wsk_event_disconnect)) {
    return;
  }
  // A graceful disconnect is indicated once the data before the FIN is read (by an event or a
  // receive), or, without receive events, when the FIN arrives.
  const bool graceful = s->peer_closed || (s->ev.fin_seen && !enabled(s, win::wsk_event_receive));
  if (!s->ev.peer_reset && !graceful) {
    return;
  }
  s->ev.disconnect_indicated = true;
  const bool abortive = s->ev.peer_reset;
  const NTSTATUS status = run_callback(s, win::wsk_event_disconnect, guard, done,
                                       [&](category cat, const void *d, PVOID ctx) {
                                         return call_disconnect_event(cat, d, ctx, abortive);
                                       });
  if (status != STATUS_SUCCESS) {
    event_violation(52, true, s, "WskDisconnectEvent must return STATUS_SUCCESS");
  }
}

void deliver_send_backlog(socket_object *s, std::unique_lock<socket_lock> &guard,
                          completion_batch &done) {
  if (closing(s) || s->state != socket_state::connected ||
      !enabled(s, win::wsk_event_send_backlog)) {
    return;
  }
  // Indicated when it changes (what was last indicated is kept in socket_rare, made now if need
  // be; without memory for it nothing is indicated until there is).
  SIZE_T ideal = 0;
  socket_rare *rare = socket_rare_of(s);
  if (rare == nullptr || ideal_send_backlog(s, &ideal) != 0 || ideal == rare->backlog_indicated) {
    return;
  }
  rare->backlog_indicated = ideal;
  const NTSTATUS status = run_callback(s, win::wsk_event_send_backlog, guard, done,
                                       [&](category cat, const void *d, PVOID ctx) {
                                         return call_send_backlog_event(cat, d, ctx, ideal);
                                       });
  if (status != STATUS_SUCCESS) {
    event_violation(52, true, s, "WskSendBacklogEvent must return STATUS_SUCCESS");
  }
}

// The connection failed (an error or a hang-up with nobody reading): was it a reset?
void check_reset(socket_object *s) {
  int error = 0;
  socklen_t length = sizeof(error);
  if (net::sock::get_option(s->fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 &&
      error == ECONNRESET) {
    s->ev.peer_reset = true;
  }
}

} // namespace

void events_deliver_stream(socket_object *s, std::uint32_t events,
                           std::unique_lock<socket_lock> &guard, completion_batch &done) {
  if (closing(s) || s->ev.held) {
    return;
  }
  if (s->state == socket_state::listening) {
    deliver_accepts(s, guard, done);
    return;
  }
  if (s->state != socket_state::connected) {
    return;
  }
  if ((events & net::ev_rdhup) != 0) {
    s->ev.fin_seen = true;
  }
  // Without receive events, or while they stopped reading at the bound, no read would find a
  // reset.
  if ((events & (net::ev_err | net::ev_hup)) != 0 &&
      (!enabled(s, win::wsk_event_receive) || (s->ev.indicated && s->ev.indicated->throttled)) &&
      enabled(s, win::wsk_event_disconnect)) {
    check_reset(s);
  }
  deliver_receives(s, guard, done);
  deliver_disconnect(s, guard, done);
  if ((events & net::ev_out) != 0 || events == 0) {
    deliver_send_backlog(s, guard, done);
  }
}

int ideal_send_backlog(const socket_object *s, SIZE_T *ideal) {
  int size = 0;
  socklen_t length = sizeof(size);
  const int result = net::sock::get_option(s->fd, SOL_SOCKET, SO_SNDBUF, &size, &length);
  if (result == 0) {
    *ideal = static_cast<SIZE_T>(std::max(size / 2, 1));
  }
  return result;
}

bool events_receive_must_wait(const socket_object *s) {
  // A receive event being decided, or a multishot receive in the kernel with nothing received
  // yet to give (event rule 10): the bytes come in order through the events' path.
  return s->ev.running == win::wsk_event_receive ||
         (unread_of(s) == nullptr && events_ring_reading(s));
}

bool events_receive_finished(socket_object *s) {
  if (!s->ev.receive_stalled) {
    return false;
  }
  s->ev.receive_stalled = false;
  ++s->ev.resuming;
  return true;
}

} // namespace uwsk::wsk

// Listening, connection and stream sockets, Linux half: ring I/O (docs/design.md, "Ring I/O").
// On an engine that performs I/O requests, the head of a connection's receive and send queues
// goes to the ring straight over the IRP's MDL pages, one request per direction, so the
// stream's bytes keep their order; what cannot go there is tried with system calls as on
// epoll. What the stream files share, and which does what: linux/stream.hpp.
#include "nt/fault/plan.hpp"
#include "wsk/linux/events.hpp"
#include "wsk/linux/stream.hpp"
#include "wsk/linux/translate.hpp"

namespace uwsk::wsk {
namespace {

// Whether the IRP can go to the ring as it is: a plain receive or send with bytes to move, on a
// connection in its ordinary state. Anything else (a drain, bytes an indication left unaccepted,
// a disconnect, WSK_FLAG_NODELAY, fault injection, a reset, the end of the stream) is tried
// with a system call on readiness, as on epoll.
bool ring_eligible(const socket_object *s, queue_kind kind, PIRP irp) {
  if (fault::active() || s->aborted || s->ev.peer_reset || s->state != socket_state::connected ||
      (irp_marks(irp) & irp_mark::refused) != 0) {
    return false;
  }
  const transfer_args &args = transfer(irp);
  if (kind == queue_kind::receive) {
    return args.buffer.length != 0 && (args.flags & op_flag::drain) == 0 &&
           s->ev.unread == nullptr && !s->peer_closed && !events_receive_must_wait(s) &&
           !s->ring->receive.shots && !events_ring_end_pending(s);
  }
  return !args.disconnect && (args.flags & op_flag::nodelay) == 0 &&
         bytes_done(irp) < args.buffer.length;
}

// resume_queue's `blocked` for ring sockets: the IRP the ring holds stays (and so does every IRP
// behind it); on the loop thread, so does one the ring can take (ring_pump_queue hands it over).
bool receive_blocked_ring(const socket_object *s, PIRP irp) {
  return s->ring->receive.irp == irp || receive_blocked(s, irp) ||
         (s->loop->in_loop_thread() && ring_eligible(s, queue_kind::receive, irp));
}
bool send_blocked_ring(const socket_object *s, PIRP irp) {
  return s->ring->send.irp == irp ||
         (s->loop->in_loop_thread() && ring_eligible(s, queue_kind::send, irp));
}

// Under the lock, on the loop thread: submits the unfinished part of `irp`'s buffer (at most
// four MDL pieces at a time) as the ring's request for `kind`.
void ring_submit(socket_object *s, ring_io &r, PIRP irp) {
  SIZE_T covered = 0;
  const std::size_t count = gather_buffer(
      transfer(irp).buffer.mdl, transfer(irp).buffer.offset + bytes_done(irp),
      transfer(irp).buffer.length - bytes_done(irp), r.pieces, std::size(r.pieces), &covered);
  r.irp = irp;
  r.kind = &r == &s->ring->receive ? net::io_kind::recv : net::io_kind::send;
  r.on_complete = stream_ring_complete; // (the receive request also serves receive events)
  r.fd = s->fd;
  r.iov = r.pieces;
  r.iov_count = static_cast<unsigned>(count);
  r.flags = 0;
  if (count == 0 || s->loop->submit(&r) != 0) {
    r.irp = nullptr; // cannot happen for a valid buffer; the IRP is then tried on readiness
  }
}

// Under the lock, on the loop thread: resumes the queue of `kind` (what cannot go to the ring,
// with system calls) until its head can go to the ring, and submits it there.
void ring_pump_queue(socket_object *s, queue_kind kind, completion_batch &done) {
  ring_io &r = *s->ring_of(kind);
  if (r.irp != nullptr) {
    return; // the ring holds the head already
  }
  const bool receive = kind == queue_kind::receive;
  resume_queue(s, kind, receive ? try_receive : try_send_queue_entry, done,
               receive ? receive_blocked_ring : send_blocked_ring);
  LIST_ENTRY &parked = s->queue(kind);
  if (!IsListEmpty(&parked) && !r.in_flight()) {
    PIRP head = irp_from_link(parked.Flink);
    if (ring_eligible(s, kind, head)) {
      ring_submit(s, r, head);
    }
  }
}

// What a completed ring request did to its IRP: finished, or more to move (a WAITALL receive
// short of its length, a partial send).
attempt ring_result(socket_object *s, queue_kind kind, PIRP irp, long result) {
  if (result == -ECANCELED || result == -EINTR || result == -EAGAIN) {
    return would_block(); // nothing moved
  }
  if (kind == queue_kind::receive) {
    if (result < 0) {
      if (bytes_done(irp) != 0) {
        return finished(STATUS_SUCCESS, bytes_done(irp)); // the error shows on the next receive
      }
      s->ev.peer_reset = s->ev.peer_reset || result == -ECONNRESET;
      return finished(status_from_errno(static_cast<int>(-result)));
    }
    if (result == 0) {
      s->peer_closed = true; // end of stream: success with what was read
      return finished(STATUS_SUCCESS, bytes_done(irp));
    }
    add_done(irp, static_cast<SIZE_T>(result));
    if ((transfer(irp).flags & op_flag::waitall) == 0 ||
        bytes_done(irp) == transfer(irp).buffer.length) {
      return finished(STATUS_SUCCESS, bytes_done(irp));
    }
    return would_block();
  }
  if (result < 0) {
    return finished(status_from_errno(static_cast<int>(-result)));
  }
  add_done(irp, static_cast<SIZE_T>(result));
  return bytes_done(irp) == transfer(irp).buffer.length ? finished(STATUS_SUCCESS, bytes_done(irp))
                                                        : would_block();
}

} // namespace

void stream_ring_pump(socket_object *s, completion_batch &done) {
  ring_pump_queue(s, queue_kind::receive, done);
  ring_pump_queue(s, queue_kind::send, done);
  events_ring_update(s); // a receive parked, a close: a multishot receive for events ends
}

// The loop's callback for a ring request (net::loop rule 6): the IRP is finished (handed to its
// cancel routine if that is about to run), or its remainder goes to the ring again at once, so
// that a cancel routine always finds it either in flight or settled. Then the queue moves on.
void stream_ring_complete(net::io_request *request, long result) {
  auto *r = static_cast<ring_io *>(request);
  socket_object *s = r->owner;
  const queue_kind kind = r == &s->ring->receive ? queue_kind::receive : queue_kind::send;
  completion_batch done;
  std::lock_guard guard(s->lock);
  PIRP irp = r->irp;
  attempt outcome;
  if (r->stop_status == STATUS_SUCCESS) {
    outcome = ring_result(s, kind, irp, result);
    if (outcome.finished && kind == queue_kind::receive) {
      outcome.resumes_events = events_receive_finished(s);
    }
  } else {
    // Cancelled, closed or aborted: the bytes that moved are kept, else the stop's status
    // (what the kernel says otherwise, such as the reset of our own abortive disconnect, is not
    // the IRP's result).
    if (result > 0) {
      add_done(irp, static_cast<SIZE_T>(result));
    }
    outcome =
        bytes_done(irp) != 0 ? finished(STATUS_SUCCESS, bytes_done(irp)) : finished(r->stop_status);
  }
  if (!outcome.finished) {
    ring_submit(s, *r, irp); // the rest, straight away
    return;
  }
  const bool owned = r->cancelled || irp_unpark(irp);
  if (owned) {
    r->irp = nullptr;
    r->cancelled = false;
    r->stop_status = STATUS_SUCCESS;
    finish_parked(s, kind, irp, outcome, done);
  } else {
    // Its cancel routine is about to run (it waits for the lock): it completes the IRP.
    r->settled = true;
    r->result_status = outcome.status;
    r->result_information = NT_SUCCESS(outcome.status) ? outcome.information : 0;
    r->result_resumes_events = outcome.resumes_events;
    return;
  }
  // The next IRP: to the ring, or (WskCloseSocket, an abortive disconnect) failed in its turn
  // (irp_mark::refused).
  ring_pump_queue(s, kind, done);
  if (kind == queue_kind::receive) {
    events_ring_update(s); // the last receive done: receive events may read through the ring
  }
}

// A receive or send cancelled while parked keeps what it moved: a WAITALL receive part-filled,
// a send part-sent (not a graceful disconnect, which did not happen).
ULONG_PTR stream_bytes_moved(PIRP irp, queue_kind kind) {
  if (kind != queue_kind::receive && kind != queue_kind::send) {
    return 0;
  }
  return transfer(irp).disconnect ? 0 : bytes_done(irp);
}

// The receive and send queues after readiness: on the loop thread of a ring socket through the
// ring, otherwise with system calls (a ring socket's waiting thread leaves what the ring holds).
void resume_receives(socket_object *s, completion_batch &done) {
  if (s->ring_mode && s->loop->in_loop_thread()) {
    ring_pump_queue(s, queue_kind::receive, done);
  } else {
    resume_queue(s, queue_kind::receive, try_receive, done,
                 s->ring_mode ? receive_blocked_ring : receive_blocked);
  }
}
void resume_sends(socket_object *s, completion_batch &done) {
  if (s->ring_mode && s->loop->in_loop_thread()) {
    ring_pump_queue(s, queue_kind::send, done);
  } else {
    resume_queue(s, queue_kind::send, try_send_queue_entry, done,
                 s->ring_mode ? send_blocked_ring : nullptr);
  }
}

} // namespace uwsk::wsk

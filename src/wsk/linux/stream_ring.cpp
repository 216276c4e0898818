// Listening, connection and stream sockets, Linux half: ring I/O (docs/design.md, "Ring I/O").
// On an engine that performs I/O requests, the first IRPs of a connection's receive queue (up to
// ring_receive_depth, as one linked chain) and the head of its send queue go to the ring straight
// over the IRPs' MDL pages, so the stream's bytes keep their order; what cannot go there is tried
// with system calls as on epoll. What the stream files share, and which does what:
// linux/stream.hpp.
#include "nt/fault/plan.hpp"
#include "wsk/linux/events.hpp"
#include "wsk/provider_new.hpp"
#include "wsk/linux/stream.hpp"
#include "wsk/linux/translate.hpp"

namespace uwsk::wsk {
namespace {

// Whether the IRP can go to the ring as it is: a plain receive or send with bytes to move, on a
// connection in its ordinary state. Anything else (a drain, bytes an indication left unaccepted,
// a disconnect, WSK_FLAG_NODELAY, a fault plan that does more than fail allocations, a reset,
// the end of the stream) is tried with a system call on readiness, as on epoll.
bool ring_eligible(const socket_object *s, queue_kind kind, PIRP irp) {
  if (fault::transfers_faulted() || s->aborted || s->ev.peer_reset ||
      s->state != socket_state::connected || (irp_marks(irp) & irp_mark::refused) != 0) {
    return false;
  }
  const transfer_args &args = transfer(irp);
  if (kind == queue_kind::receive) {
    return args.buffer.length != 0 && (args.flags & op_flag::drain) == 0 &&
           unread_of(s) == nullptr && !s->peer_closed && !events_receive_must_wait(s) &&
           !s->ring->shots && !events_ring_end_pending(s);
  }
  return !args.disconnect && (args.flags & op_flag::nodelay) == 0 &&
         bytes_done(irp) < args.buffer.length;
}

// resume_queue's `blocked` for ring sockets: the IRPs the ring holds stay (and so does every
// IRP behind them); on the loop thread, so does one the ring can take (ring_pump_queue hands it
// over).
bool receive_blocked_ring(const socket_object *s, PIRP irp) {
  return s->ring->receive.holding(irp) != nullptr || receive_blocked(s, irp) ||
         (s->loop->in_loop_thread() && ring_eligible(s, queue_kind::receive, irp));
}
bool send_blocked_ring(const socket_object *s, PIRP irp) {
  return s->ring->send.holding(irp) != nullptr ||
         (s->loop->in_loop_thread() && ring_eligible(s, queue_kind::send, irp));
}

// Under the lock, on the loop thread: points `r` at the unfinished part of `irp`'s buffer (at
// most four MDL pieces at a time). Returns false for an empty one (cannot happen for an IRP
// ring_eligible accepted).
bool ring_prepare(socket_object *s, ring_io &r, PIRP irp) {
  SIZE_T covered = 0;
  const std::size_t count = gather_buffer(
      transfer(irp).buffer.mdl, transfer(irp).buffer.offset + bytes_done(irp),
      transfer(irp).buffer.length - bytes_done(irp), r.pieces, std::size(r.pieces), &covered);
  r.clear();
  r.irp = irp;
  r.fd = s->fd;
  r.iov = r.pieces;
  r.iov_count = static_cast<unsigned>(count);
  r.flags = 0;
  return count != 0;
}

// Under the lock, on the loop thread: slot `i` of the lane of `kind`, made on its first use
// (ring_lane); NULL without memory for it.
ring_io *ring_slot_made(socket_object *s, queue_kind kind, ring_lane &lane, unsigned i) {
  if (lane.slots[i] == nullptr) {
    auto *r = provider_new<ring_io>();
    if (r == nullptr) {
      return nullptr;
    }
    r->owner = s;
    r->on_complete = s->behaviour->ring_complete;
    r->kind = kind == queue_kind::send ? net::io_kind::send : net::io_kind::recv;
    lane.slots[i] = r;
  }
  return lane.slots[i];
}

// Under the lock, on the loop thread, with every slot of the lane free: resumes the queue of
// `kind` (what cannot go to the ring, with system calls) until its head can go to the ring, and
// submits the head and the IRPs behind it the ring can take, up to the lane's depth, as one
// chain. A WSK_FLAG_WAITALL receive ends a chain: one short of its length is submitted again
// for the rest, which no later receive may overtake.
void ring_pump_queue(socket_object *s, queue_kind kind, completion_batch &done) {
  ring_lane &lane = *s->ring_of(kind);
  if (lane.busy()) {
    return; // the ring holds the head already; the next chain starts when this one is over
  }
  const bool receive = kind == queue_kind::receive;
  resume_queue(s, kind, receive ? try_receive : try_send_queue_entry, done,
               receive ? receive_blocked_ring : send_blocked_ring);
  LIST_ENTRY &parked = s->queue(kind);
  net::io_request *chain[ring_receive_depth];
  unsigned count = 0;
  bool no_slot = false;
  for (PLIST_ENTRY link = parked.Flink; link != &parked && count < lane.depth; link = link->Flink) {
    PIRP irp = irp_from_link(link);
    if (!ring_eligible(s, kind, irp)) {
      break;
    }
    ring_io *slot = ring_slot_made(s, kind, lane, count);
    if (slot == nullptr) {
      no_slot = true;
      break;
    }
    if (!ring_prepare(s, *slot, irp)) {
      slot->clear();
      break;
    }
    chain[count] = slot;
    ++count;
    if (receive && (transfer(irp).flags & op_flag::waitall) != 0) {
      break;
    }
  }
  if (count == 0) {
    if (no_slot) {
      // No memory for the head's request: the queue is tried with system calls, as on epoll
      // (and the next readiness report tries the ring again).
      resume_queue(s, kind, receive ? try_receive : try_send_queue_entry, done,
                   receive ? receive_blocked : nullptr);
    }
    return;
  }
  const int result = count == 1 ? s->loop->submit(chain[0]) : s->loop->submit_linked(chain, count);
  if (result != 0) {
    // The loop is stopping (or the ring refused the chain): the IRPs stay parked and end with
    // the close, or are tried on readiness.
    for (unsigned i = 0; i < count; ++i) {
      lane.slots[i]->clear();
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

// The loop's callback for a ring request (net::loop rule 6). A finished IRP is handed on in
// lane order (ring_flush_locked; to its cancel routine if that is about to run). One with more
// to move, or that a broken chain ended before it moved anything, goes back to being only
// parked; the next chain takes it again. Once the lane is free the queue moves on: the send
// queue at once, the receive queue from the ring task, after this loop turn's completion
// routines have queued their next receives, so that they join one chain.
void stream_ring_complete(net::io_request *request, long result) {
  auto *r = static_cast<ring_io *>(request);
  socket_object *s = r->owner;
  const bool receive = r->kind != net::io_kind::send;
  const queue_kind kind = receive ? queue_kind::receive : queue_kind::send;
  ring_lane &lane = *s->ring_of(kind);
  completion_batch done;
  std::lock_guard guard(s->lock);
  PIRP irp = r->irp;
  attempt outcome;
  if (r->stop_status == STATUS_SUCCESS) {
    outcome = ring_result(s, kind, irp, result);
    if (outcome.finished && receive) {
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
    // Not stopped (a stop always finishes it), so its cancel routine has not run: it stays
    // parked and cancellable as any parked IRP, and no request behind it in this chain moves
    // anything (the kernel ended the chain, or this was its last request).
    r->clear();
  } else {
    r->done = true;
    r->result_status = outcome.status;
    r->result_information = NT_SUCCESS(outcome.status) ? outcome.information : 0;
    r->result_resumes_events = outcome.resumes_events;
    // Without its cancel routine back, the routine is about to run (it waits for the lock) and
    // hands the IRP on (ring_flush_locked).
    r->owned = r->cancelled || irp_unpark(irp);
  }
  ring_flush_locked(s, kind, done);
  if (lane.busy()) {
    ring_cancel_stopped(s, lane); // a stop waiting behind this request reaches the next one
    return;
  }
  // The next IRPs: to the ring, or (WskCloseSocket, an abortive disconnect) failed in their
  // turn (irp_mark::refused). With no receive left, the ring task's pump lets receive events
  // read through the ring again (event rule 10).
  if (receive) {
    ring_wake_locked(s, nullptr);
    if (s->ring_task_posted) {
      return;
    }
  }
  ring_pump_queue(s, kind, done); // (the loop is stopping: no task runs any more)
  if (receive) {
    events_ring_update(s);
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

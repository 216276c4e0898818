// Listening, connection and stream sockets, Linux half: receive events through the ring (event
// rule 10; docs/design.md, "Ring I/O"). On an engine with provided receive buffers
// (net/receive_buffers.hpp), a connection whose WskReceiveEvent is enabled, and which has
// nothing else reading it, receives with one multishot receive (ring_pair::multishot, a request
// of its own beside the receive lane, armed only while no slot of the lane holds an IRP): each
// completion's bytes sit in a provided buffer that becomes an indication chunk in place,
// appended to the unread list (indication_state::unread), and the events' own path
// (linux/events.cpp) indicates it from there, so every indication rule (order, stalls,
// retention, backpressure) is the one readiness follows. Whatever makes the events stop reading
// (a WskReceive queued, a stall, the bound, a disable, a close) cancels the receive, and the
// lane takes no receive until its last completion; what it brought before then is still
// delivered in order through the unread list. What the stream files share: linux/stream.hpp.
#include "net/receive_buffers.hpp"
#include "wsk/linux/event_core.hpp"
#include "wsk/linux/indication.hpp"
#include "wsk/provider_new.hpp"
#include "wsk/linux/stream.hpp"

namespace uwsk::wsk {
namespace {

// Whether the socket is in a state where receive events read it: every condition but the
// buffers. Under the lock.
bool events_read(socket_object *s) {
  return s->ring_mode && !closing(s) && s->state == socket_state::connected && !s->aborted &&
         !s->ev.peer_reset && !s->peer_closed && !s->ev.dead_indicated &&
         !fault::transfers_faulted() && !s->ev.held && !s->ev.receive_stalled &&
         s->ev.resuming == 0 && enabled(s, win::wsk_event_receive) &&
         s->queue_idle(queue_kind::receive) && !s->reads_handed && s->assist_readers == 0 &&
         !s->ring->receive.busy() && !s->ring->end_pending && may_read(s);
}

// The loop's callback for each completion of the multishot receive (net::loop rule 6).
void on_shot(net::io_request *request, long result) {
  socket_object *s = static_cast<ring_shot *>(request)->owner;
  completion_batch done;
  std::unique_lock guard(s->lock);
  data_chunk *c = nullptr;
  if (request->has_buffer()) {
    c = chunk_from_buffer(s->loop->provided_buffers(chunk_headroom()), request->buffer_id());
  }
  if (!request->more()) {
    s->ring->shots = false;
    s->ring->shots_stopping = false;
    s->loop->provided_buffers(chunk_headroom())->disarmed();
    rewatch_locked(s); // readiness reports reads again
  }
  if (c != nullptr) {
    if (closing(s) || result <= 0) {
      chunk_free(c);
    } else {
      c->owner = s;
      c->start = 0;
      c->length = static_cast<SIZE_T>(result);
      unread_append(s, c);
    }
  } else if (result == 0 || (result < 0 && result != -ECANCELED && result != -ENOBUFS &&
                             result != -EINTR && result != -EAGAIN)) {
    // The end of the stream or an error: after the bytes before it. With none left to take, the
    // end of the stream and a reset are the socket's state at once (as a read that met them
    // would leave it); anything else waits for a read to report it.
    if (unread_of(s) == nullptr && result == 0) {
      s->peer_closed = true;
    } else if (unread_of(s) == nullptr && result == -ECONNRESET) {
      s->ev.peer_reset = true;
    } else {
      s->ring->end_pending = true;
      s->ring->end_result = static_cast<int>(result);
    }
  }
  // -ENOBUFS: every provided buffer is out; the socket reads on readiness until some are back.
  if (closing(s)) {
    return; // the release waits for the last completion; the close freed what was unread
  }
  // As after a readiness report: the IRPs first (event rule 2), then the events.
  if (!s->queue_idle(queue_kind::receive)) {
    s->behaviour->resume_receives(s, done);
    guard.unlock();
    done.complete_all();
    guard.lock();
  }
  events_deliver_stream(s, net::ev_in, guard, done);
  events_ring_update(s);
}

} // namespace

bool events_ring_reading(const socket_object *s) {
  return s->ring && s->ring->shots;
}

bool events_ring_end_pending(const socket_object *s) {
  return s->ring && s->ring->end_pending && unread_of(s) == nullptr;
}

long events_ring_take_end(socket_object *s) {
  s->ring->end_pending = false;
  return s->ring->end_result;
}

bool events_ring_wanted(socket_object *s) {
  if (events_ring_reading(s)) {
    return true;
  }
  if (!events_read(s)) {
    return false;
  }
  net::receive_buffers *buffers = s->loop->provided_buffers(chunk_headroom());
  return buffers != nullptr && buffers->may_arm() && buffers->available();
}

void events_ring_update(socket_object *s) {
  if (!s->ring_mode) {
    return;
  }
  ring_pair &ring = *s->ring;
  if (ring.shots) {
    if (!ring.shots_stopping && !events_read(s)) {
      // Its last completion follows; bytes received until then go on the unread list, in order.
      ring.shots_stopping = true;
      s->loop->cancel(ring.multishot);
    }
    return;
  }
  if ((ring.multishot != nullptr && ring.multishot->in_flight()) || !events_ring_wanted(s)) {
    return;
  }
  if (ring.multishot == nullptr) {
    ring.multishot = provider_new<ring_shot>(); // on its first use
    if (ring.multishot == nullptr) {
      // This pass left the bytes for the receive it could not make: made later (event rule 11).
      events_retry_for_memory(s);
      return;
    }
    ring.multishot->owner = s;
  }
  ring_shot &r = *ring.multishot;
  r.kind = net::io_kind::recv_multishot;
  r.on_complete = on_shot;
  r.fd = s->fd;
  r.iov = nullptr;
  r.iov_count = 0;
  r.flags = 0;
  net::receive_buffers *buffers = s->loop->provided_buffers(chunk_headroom());
  if (!buffers->arm()) {
    return; // as many sockets as the buffers serve are armed: this one reads on readiness
  }
  if (s->loop->submit(&r) != 0) {
    buffers->disarmed();
    events_retry_for_memory(s); // as for the record above: submitted again later
    return;
  }
  if (!ring.uses_buffers) {
    ring.uses_buffers = true; // until the socket is freed (indications_free)
    buffers->add_user();
  }
  ring.shots = true;
  ring.shots_stopping = false;
  rewatch_locked(s);
}

} // namespace uwsk::wsk

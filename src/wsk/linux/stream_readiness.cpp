// Listening, connection and stream sockets, Linux half: what a loop's readiness report resumes
// (accepts and receives when readable; connects and sends when writable), then the events; and
// the behaviour table the socket core calls them through (linux/categories.hpp). What the three
// stream files share, and which does what: linux/stream.hpp.
#include "wsk/linux/categories.hpp"
#include "wsk/linux/events.hpp"
#include "wsk/linux/indication.hpp"
#include "wsk/linux/stream.hpp"

namespace uwsk::wsk {
namespace {

void stream_resume_queues(socket_object *s, std::uint32_t events, completion_batch &done) {
  if ((events & readable_events) != 0) {
    resume_queue(s, queue_kind::accept, try_accept, done);
    resume_receives(s, done);
  }
  if ((events & (net::ev_out | net::ev_err | net::ev_hup)) != 0) {
    resume_queue(s, queue_kind::connect, try_connect, done);
    resume_sends(s, done);
  }
}

// Deliberate pair (duplicates): each category's readiness handler (this one, datagram.cpp's)
// takes the same steps: the lock, the queues, then the IRPs completed before the events (event
// rule 2); what differs is which queues and which events.
void stream_on_events(socket_object *s, std::uint32_t events) {
  completion_batch done;
  std::unique_lock guard(s->lock);
  if (s->state == socket_state::closing) {
    return;
  }
  const bool readable = (events & readable_events) != 0;
  note_readiness(s, events);
  if (readable && s->state == socket_state::listening && s->conditional_accept) {
    events_inspect(s, guard, done); // WskInspectEvent for each new connection
  }
  const std::uint32_t resumed = loop_readiness(s, events);
  stream_resume_queues(s, resumed, done);
  if (s->state == socket_state::connected || s->reads_handed) {
    hand_reads_locked(s, events & ~resumed);
  }
  if (s->event_mask == 0) {
    events_ring_update(s); // receive events disabled: a multishot receive ends (event rule 10)
    // The IRPs finished here complete now, the lock dropped only around their completion
    // routines; anything else in `done` completes after `guard` released the lock.
    done.deliver_holding(s, guard);
    return;
  }
  done.complete_before_events(s, guard); // the IRPs finished here first (event rule 2)
  events_deliver_stream(s, events, guard, done);
  events_ring_update(s); // armed, or cancelled, for what this pass left (event rule 10)
}

} // namespace

const socket_behaviour stream_behaviour = {
    stream_on_events,     resume_receives,  events_on_close_locked, indications_free,
    stream_resume_queues, stream_ring_pump, stream_ring_complete,   stream_bytes_moved};

} // namespace uwsk::wsk

// The core the event-callback files share (linux/events.cpp, linux/listen_events.cpp,
// linux/datagram_events.cpp, linux/indication.cpp): when a callback may run, how it runs, and how
// misuse is reported. The rules are docs/design.md's, "Event callbacks" (event rule N).
#pragma once

#include <chrono>
#include <mutex>

#include "nt/dbg/activity.hpp"
#include "win_constants.hpp"
#include "wsk/linux/events.hpp"
#include "wsk/trace.hpp"
#include "wsk/callbacks.hpp"

namespace uwsk::wsk {

// Bounds on the work of one readiness pass, so one busy socket cannot starve its loop; what is
// left is delivered by the kick task.
inline constexpr int max_indications = 16;
inline constexpr int max_accepts = 64;
inline constexpr unsigned datagrams_per_indication = 8;
// The running bit of WskInspectEvent and WskAbortEvent (not a WSK_EVENT_* value: neither can
// be disabled).
inline constexpr ULONG inspect_running = 0x1;
inline constexpr ULONG connection_events =
    win::wsk_event_receive | win::wsk_event_disconnect | win::wsk_event_send_backlog;

inline bool closing(const socket_object *s) {
  return s->release_requested || s->state == socket_state::closing;
}

// An event is delivered when it is enabled and the client's table has its callback.
inline bool enabled(const socket_object *s, ULONG event) {
  return (s->event_mask & event) != 0 && client_has_callback(s->cat, s->client_dispatch, event);
}

// v58 (docs/faults.md): with IRPs of the queue parked (none finished and waiting for delivery),
// the event is let through anyway when the plan draws so (it is delivered if there is something
// to indicate); the first time on a socket, the log names rule V58 and the IRPs queued.
bool v58_event_anyway(socket_object *s, queue_kind kind);

// Whether the events of a queue's kind give way to its IRPs (event rule 2): while any is
// parked or waiting for delivery, unless v58 draws otherwise.
inline bool events_give_way(socket_object *s, queue_kind kind) {
  if (s->queue_idle(kind)) {
    return false;
  }
  const op_queue &q = s->ops_of(kind);
  return !(fault::active() && IsListEmpty(&q.finished) && !s->is_delivering(kind) &&
           v58_event_anyway(s, kind));
}

// v56 (docs/faults.md): whether to tell the client now that the socket stopped working (a
// NULL DataIndication, AcceptSocket or InspectID), as the plan draws.
bool v56_socket_dies(socket_object *s, const char *what);

// A verifier report (nt/dbg/verifier.hpp) of rule `rule` about the client's use of socket `s`
// or of its callbacks, naming the socket with its endpoints: an error stops the process.
void event_violation(int rule, bool error, const socket_object *s, const char *sentence);

// How long a socket may stay open after its NULL indication said it no longer works (rule V56).
inline constexpr auto dead_socket_close_bound = std::chrono::seconds(1);

// Under the lock, on the socket's loop thread, just before the NULL indication (NULL
// DataIndication, AcceptSocket or InspectID) is given: from now on any call on the socket but
// WskCloseSocket and WskRelease is reported, and so is a socket still open after
// dead_socket_close_bound (rule V56).
void told_dead(socket_object *s);

// Under the lock: the socket's event_timers, made on first use; NULL when there is no memory for
// them (the check that would arm one is then skipped).
event_timers *event_timers_of(socket_object *s);

// How long receive events that could not read for want of memory wait before they try again.
inline constexpr auto memory_retry = std::chrono::milliseconds(10);

// Under the lock (event rule 11): the receive events could not read for want of memory (the
// indication state or a chunk). The bytes wait in the kernel, where edge-triggered readiness
// will not report them again, so the socket's pass runs again after memory_retry (from another
// thread than the socket's loop, at once through the kick task, whose pass arms the timer if
// memory is still short). Without memory for the timer either, the next readiness report
// tries again.
void events_retry_for_memory(socket_object *s);

// After a callback returned: the SO_WSK_EVENT_CALLBACK disables that waited for it complete.
void complete_disables(socket_object *s, completion_batch &done);

// The callback an event bit names, for crash reports (nt/dbg/activity.hpp).
constexpr const char *event_callback_name(ULONG event) {
  return event == win::wsk_event_receive        ? "WskReceiveEvent callback"
         : event == win::wsk_event_receive_from ? "WskReceiveFromEvent callback"
         : event == win::wsk_event_accept       ? "WskAcceptEvent callback"
         : event == win::wsk_event_disconnect   ? "WskDisconnectEvent callback"
         : event == win::wsk_event_send_backlog ? "WskSendBacklogEvent callback"
         : event == inspect_running             ? "WskInspectEvent or WskAbortEvent callback"
                                                : "a WSK event callback";
}

// Runs one callback (event rule 1): marks it running, completes what earlier work finished
// (event rule 2), drops the lock for the call, and afterwards completes the disables that
// waited for it.
template <class Call>
auto run_callback(socket_object *s, ULONG event, std::unique_lock<socket_lock> &guard,
                  completion_batch &done, Call &&call) {
  s->ev.running = event;
  const category cat = s->cat;
  const void *dispatch = s->client_dispatch;
  PVOID context = s->context;
  guard.unlock();
  done.complete_all();
  auto result = [&] {
    if (nt::trace::on()) {
      trace_callback_socket = s;
      trace_socket_endpoints(s);
    }
    nt::activity::scope running(event_callback_name(event), s);
    return call(cat, dispatch, context);
  }();
  guard.lock();
  s->ev.running = 0;
  complete_disables(s, done);
  return result;
}

// The accept events of a listening socket (linux/listen_events.cpp), from events_deliver_stream.
void deliver_accepts(socket_object *s, std::unique_lock<socket_lock> &guard,
                     completion_batch &done);

} // namespace uwsk::wsk

// Event callbacks (docs/wsk-behaviour.md, "Event callbacks"), Linux half: when each callback is
// due. The files: linux/events.cpp (the callback core, connection sockets' events,
// SO_WSK_EVENT_CALLBACK), linux/listen_events.cpp (accept events and conditional accept),
// linux/datagram_events.cpp (receive-from events), linux/indication.cpp (the buffers behind
// indications, backpressure, retention and WskRelease), linux/stream_ring_events.cpp (receive
// events through the ring).
//
// The rules are docs/design.md's, "Event callbacks", cited in the code as "event rule N":
// 1 where callbacks run (ev.running names the one in progress), 2 IRPs first, 3 stalls,
// 4 retention, 5 enabling and disabling, 6 accepted sockets, 7 conditional accept, 8 work due
// off the loop thread (the kick task, socket_kick_locked), 9 receive backpressure, 10 receive
// events through the ring (linux/stream_ring_events.cpp).
#pragma once

#include <sys/uio.h>

#include <mutex>

#include "wsk/linux/socket.hpp"

namespace uwsk::wsk {

// The readiness handlers call these after the IRP queues had their turn, with the lock held
// through `guard`; they may drop and retake it around callbacks, completing `done` first.
void events_inspect(socket_object *s, std::unique_lock<socket_lock> &guard, completion_batch &done);
void events_deliver_stream(socket_object *s, std::uint32_t events,
                           std::unique_lock<socket_lock> &guard, completion_batch &done);
void events_deliver_datagram(socket_object *s, std::unique_lock<socket_lock> &guard,
                             completion_batch &done);

// Under the lock, for WskReceive: whether a receive must wait because a receive indication is
// being decided (its bytes come first), and the bytes left unaccepted by the last indication,
// copied into `iov` (returns how many; the rest of the stream follows them).
bool events_receive_must_wait(const socket_object *s);
SIZE_T events_take_unread(socket_object *s, const iovec *iov, std::size_t count);
// Discards the unaccepted bytes (WSK_FLAG_DRAIN).
void events_drop_unread(socket_object *s);
// Under the lock, when a WskReceive finishes: whether it ends a stalled receive event
// (docs/wsk-behaviour.md, "WskReceiveEvent"). Events then resume once its completion routine has
// run (irp_mark::resumes_events), before the next indication.
bool events_receive_finished(socket_object *s);

// Receive events through the ring (event rule 10; linux/stream_ring_events.cpp), under the lock.
// Whether a multishot receive is in the kernel: nothing else may read the socket meanwhile
// (its completions bring the bytes, in order, through the unread list).
bool events_ring_reading(const socket_object *s);
// Whether the ring's receive met the end of the stream or an error, and every byte received
// before it has been taken from the unread list: events_ring_take_end then takes that result (0 or
// -errno), which the caller handles as its own read's.
bool events_ring_end_pending(const socket_object *s);
long events_ring_take_end(socket_object *s);
// Whether the socket's reads belong to a multishot receive: one is in the kernel, or one is
// due and the loop has buffers for it (the readiness pass then reads nothing; the update after
// it arms the receive). On the loop thread.
bool events_ring_wanted(socket_object *s);
// On the loop thread, after a readiness pass, the ring task or a multishot completion: arms the
// multishot receive when it is due, asks for its cancellation when it no longer is.
void events_ring_update(socket_object *s);

// Conditional accept: a connection the client accepted by inspection, for WskAccept (NULL
// when none is ready).
socket_object *events_take_ready(socket_object *s);

// SO_WSK_EVENT_CALLBACK after the Windows half's checks. A disable that has to wait for a
// running callback parks `irp` (returns STATUS_PENDING; cancellable) or, without one, returns
// STATUS_EVENT_PENDING.
NTSTATUS events_set_mask(socket_object *s, ULONG mask, PIRP irp);

// The ideal send backlog (SIO_WSK_QUERY_IDEAL_SEND_BACKLOG and WskSendBacklogEvent): half of
// the kernel's SO_SNDBUF, which Linux reports doubled. 0, or -errno.
int ideal_send_backlog(const socket_object *s, SIZE_T *ideal);

// SIO_WSK_QUERY_INSPECT_ID of a connection accepted through inspection.
NTSTATUS events_inspect_id(socket_object *s, void *output, SIZE_T output_size, SIZE_T *written);

// WskCloseSocket, under the lock: connections awaiting inspection or acceptance are reset.
void events_on_close_locked(socket_object *s, completion_batch &done);

} // namespace uwsk::wsk

// Event callbacks (spec section 4), Linux half: when each callback is due, the provider-owned
// buffers behind data and datagram indications, retention and WskRelease, conditional accept.
//
// Rules (docs/design.md, "Event callbacks"):
//  1. Callbacks run only on the socket's loop thread, at DISPATCH_LEVEL, with no lock held, so
//     the callbacks of one socket never overlap, and none runs after the release task freed
//     the socket (it runs on the same thread). ev.running names the one in progress.
//  2. Pending IRPs come first: data goes to queued WskReceive IRPs, connections to queued
//     WskAccept IRPs; events get what is left. The IRPs a readiness pass completed are
//     completed before the next callback, so the client sees bytes in stream order.
//  3. Work that becomes due off the loop thread (an event enabled, a stalled receive event
//     released by a completed WskReceive, an inspection completed, a socket brought below its
//     receive bound by a WskRelease) is handed to the loop by the socket's kick task.
//  4. Receive backpressure: the bytes read for events and not yet taken by the client (the
//     unaccepted head of the stream, retained lists, refused datagrams) are bounded per socket
//     by its SO_RCVBUF, read once; at the bound the events stop reading, so the data waits in
//     the kernel and TCP's window closes (docs/design.md, "The data path").
#pragma once

#include <sys/uio.h>

#include <mutex>

#include "wsk/socket.hpp"

namespace uwsk::wsk {

// Sets up a new socket's event state (socket.cpp, publish).
void events_init(socket_object *s);

// The readiness handlers call these after the IRP queues had their turn, with the lock held
// through `guard`; they may drop and retake it around callbacks, completing `done` first.
void events_inspect(socket_object *s, std::unique_lock<socket_lock> &guard, completion_batch &done);
void events_deliver_stream(socket_object *s, std::uint32_t events,
                           std::unique_lock<socket_lock> &guard, completion_batch &done);
void events_deliver_datagram(socket_object *s, std::unique_lock<socket_lock> &guard,
                             completion_batch &done);

// Under the lock: has the loop deliver what is due (rule 3).
void events_kick_locked(socket_object *s);

// Under the lock, for WskReceive: whether a receive must wait because a receive indication is
// being decided (its bytes come first), and the bytes left unaccepted by the last indication,
// copied into `iov` (returns how many; the rest of the stream follows them).
bool events_receive_must_wait(const socket_object *s);
SIZE_T events_take_unread(socket_object *s, const iovec *iov, std::size_t count);
// Discards the unaccepted bytes (WSK_FLAG_DRAIN).
void events_drop_unread(socket_object *s);
// Under the lock, when a WskReceive finishes: whether it ends a stalled receive event (spec
// section 4.5). Events then resume once events_receives_completed says the IRP (`count` of
// them) completed, so its completion routine runs before the next indication.
bool events_receive_finished(socket_object *s);
void events_receives_completed(socket_object *s, unsigned count);

// Conditional accept: a connection the client accepted by inspection, for WskAccept (NULL
// when none is ready).
socket_object *events_take_ready(socket_object *s);

// SO_WSK_EVENT_CALLBACK after the Windows half's checks. A disable that has to wait for a
// running callback parks `irp` (returns STATUS_PENDING) or, without one, returns
// STATUS_EVENT_PENDING.
NTSTATUS events_set_mask(socket_object *s, ULONG mask, PIRP irp);

// The ideal send backlog (SIO_WSK_QUERY_IDEAL_SEND_BACKLOG and WskSendBacklogEvent): half of
// the kernel's SO_SNDBUF, which Linux reports doubled. 0, or -errno.
int ideal_send_backlog(const socket_object *s, SIZE_T *ideal);

// SIO_WSK_QUERY_INSPECT_ID of a connection accepted through inspection.
NTSTATUS events_inspect_id(socket_object *s, void *output, SIZE_T output_size, SIZE_T *written);

// WskCloseSocket, under the lock: connections awaiting inspection or acceptance are reset.
void events_on_close_locked(socket_object *s);
// Whether the release task must wait for the kick task (both run on the loop thread).
bool events_release_must_wait(const socket_object *s);
// On the loop thread before the socket is freed: stops the inspection timer.
void events_on_release(socket_object *s);
// Just before the socket is freed: frees its buffers; lists the client still retains stay
// valid and are reported (rule V31).
void events_free(socket_object *s);

} // namespace uwsk::wsk

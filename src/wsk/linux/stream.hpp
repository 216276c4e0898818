// Listening, connection and stream sockets, Linux half: what the three files serving them
// share. linux/stream_setup.cpp binds, listens, accepts and connects; linux/stream_transfer.cpp
// moves bytes (send, receive, disconnect); linux/stream_ring.cpp hands receives and sends to
// the io_uring engine (ring I/O); linux/stream_ring_events.cpp has receive events read through a
// multishot receive there; linux/stream_readiness.cpp resumes their queues when the loop
// reports readiness. Their Windows half is the "Socket level" of windows/dispatch.cpp.
//
// Each operation keeps its state in its IRP as a typed record (irp_ops.hpp): transfer_args and
// transfer_progress for sends, receives, disconnects and connects (declared here, since a
// WskConnectEx sends its data like a send), accept_args for accepts. try_* functions run under
// the socket's lock (socket rule 2) and never block: the Linux socket is non-blocking.
#pragma once

#include "wsk/irp_ops.hpp"
#include "wsk/linux/socket.hpp"

namespace uwsk::wsk {

// ---- Operation records (irp_ops.hpp) -----------------------------------------------------------

// WskSend, WskDisconnect, WskReceive, and the data of WskConnectEx.
struct transfer_args {
  buffer_view buffer;
  ULONG flags = 0;         // op_flag bits
  bool disconnect = false; // a graceful WskDisconnect, on the send queue after the sends
};
// The bytes moved so far; for a connect of WskSocketConnect, the socket it hands out.
struct transfer_progress {
  SIZE_T done = 0;
  socket_object *created = nullptr;
  bool fault_decided = false; // reset and forced-close drew for this IRP (docs/faults.md)
};

// Gives the IRP its transfer record: `buffer` (NULL: none) with op_flag `flags`.
void start_transfer(PIRP irp, const buffer_view *buffer, ULONG flags, bool disconnect = false);
// The record's arguments, and the bytes moved so far.
inline const transfer_args &transfer(PIRP irp) {
  return irp_args<transfer_args>(irp);
}
inline SIZE_T bytes_done(PIRP irp) {
  return irp_progress<transfer_progress>(irp).done;
}
inline void add_done(PIRP irp, SIZE_T n) {
  irp_progress<transfer_progress>(irp).done += n;
}

// ---- The attempts, under the socket's lock ------------------------------------------------------

// linux/stream_transfer.cpp
attempt try_send(socket_object *s, PIRP irp);             // a send, or WskConnectEx's data
attempt try_send_queue_entry(socket_object *s, PIRP irp); // a send or a graceful disconnect
attempt try_receive(socket_object *s, PIRP irp);
// What try_receive would do without a system call, mirrored: true when it could only return
// would_block() (resume_queue then leaves the IRP parked).
bool receive_blocked(const socket_object *s, PIRP irp);

// linux/stream_setup.cpp
attempt try_accept(socket_object *s, PIRP irp);
attempt try_connect(socket_object *s, PIRP irp);

// ---- Ring I/O (linux/stream_ring.cpp; docs/design.md, "Ring I/O") --------------------------

// The receive or send queue after readiness: on the loop thread of a ring socket through the
// ring, otherwise with system calls. Under the lock.
void resume_receives(socket_object *s, completion_batch &done);
void resume_sends(socket_object *s, completion_batch &done);
// The socket_behaviour entries of ring I/O (linux/socket.hpp).
void stream_ring_pump(socket_object *s, completion_batch &done);
void stream_ring_complete(net::io_request *request, long result);
ULONG_PTR stream_bytes_moved(PIRP irp, queue_kind kind);

} // namespace uwsk::wsk

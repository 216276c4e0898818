// Listening, connection and stream sockets, Linux half: the bytes of a connection. WskSend and
// a graceful WskDisconnect share the send queue (so a disconnect follows every earlier send),
// WskReceive has the receive queue, and an abortive WskDisconnect fails both. What the three
// stream files share, and which does what: linux/stream.hpp.
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>

#include "net/socket_ops.hpp"
#include "wsk/linux/events.hpp"
#include "wsk/linux/indication.hpp"
#include "wsk/linux/stream.hpp"
#include "wsk/linux/translate.hpp"

namespace uwsk::wsk {

void start_transfer(PIRP irp, const buffer_view *buffer, ULONG flags, bool disconnect) {
  transfer_args args;
  args.buffer = buffer != nullptr ? *buffer : buffer_view{nullptr, 0, 0};
  args.flags = flags;
  args.disconnect = disconnect;
  irp_record_init<transfer_args, transfer_progress>(irp, args);
}

namespace {

// Bytes a WSK_FLAG_DRAIN receive discards per system call.
constexpr std::size_t drain_chunk = 16384;
constexpr std::size_t max_iov = 64;

// The unfinished part of the IRP's WSK_BUF as iovecs over the driver's own memory (no copy),
// at most `limit` bytes of it (0: no limit); *bytes (when not null) receives how many bytes they
// cover.
std::size_t gather(PIRP irp, iovec *iov, SIZE_T *bytes = nullptr, SIZE_T limit = 0) {
  const buffer_view &b = transfer(irp).buffer;
  SIZE_T length = b.length - bytes_done(irp);
  if (limit != 0 && length > limit) {
    length = limit;
  }
  return gather_buffer(b.mdl, b.offset + bytes_done(irp), length, iov, max_iov, bytes);
}

// ---- Fault injection (docs/faults.md) ----------------------------------------------------------

// Resets the connection as a peer's RST would (connect to AF_UNSPEC makes Linux send one and
// report ECONNRESET locally): every later operation and event meets a real reset.
void reset_connection(socket_object *s) {
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  net::sock::connect(s->fd, &unspec, sizeof(unspec));
}

// forced-close and reset, drawn once per send or receive IRP at its first try. True with the
// result in *out when the IRP fails with STATUS_FILE_FORCED_CLOSED (this one, or every one after
// a forced close); a reset lets the operation go on and meet it.
bool fault_breaks_connection(socket_object *s, PIRP irp, attempt *out) {
  if (s->fault_forced_closed) {
    *out = finished(STATUS_FILE_FORCED_CLOSED);
    return true;
  }
  transfer_progress &progress = irp_progress<transfer_progress>(irp);
  if (progress.fault_decided || s->state != socket_state::connected) {
    return false;
  }
  progress.fault_decided = true;
  const fault::plan &p = fault::current();
  if (socket_fault_happens(s, fault::stream::forced_close, p.forced_close,
                           "the connection is force-closed (STATUS_FILE_FORCED_CLOSED)")) {
    s->fault_forced_closed = true;
    reset_connection(s);
    *out = finished(STATUS_FILE_FORCED_CLOSED);
    return true;
  }
  if (socket_fault_happens(s, fault::stream::reset, p.reset, "the connection is reset")) {
    reset_connection(s);
  }
  return false;
}

// split-receive: the most bytes one stream receive may take (0: no limit).
SIZE_T receive_piece() {
  return fault::active() ? fault::current().split_receive : 0;
}

} // namespace

// ---- Send and disconnect (one queue, so a graceful disconnect follows every earlier send) ----

attempt try_send(socket_object *s, PIRP irp) {
  if (attempt broken; fault::active() && fault_breaks_connection(s, irp, &broken)) {
    return broken;
  }
  if (s->aborted) {
    return finished(STATUS_CONNECTION_ABORTED);
  }
  if (s->ev.peer_reset) {
    return finished(STATUS_CONNECTION_RESET);
  }
  while (bytes_done(irp) < transfer(irp).buffer.length) {
    iovec iov[max_iov];
    const std::size_t count = gather(irp, iov);
    if (count == 0) {
      return finished(STATUS_INVALID_PARAMETER); // the MDL chain is shorter than Length
    }
    const ssize_t sent = net::sock::send(s->fd, iov, count, 0);
    if (sent == -EAGAIN) {
      return would_block();
    }
    if (sent < 0) {
      return finished(status_from_errno(static_cast<int>(-sent)));
    }
    add_done(irp, static_cast<SIZE_T>(sent));
  }
  if ((transfer(irp).flags & op_flag::nodelay) != 0) {
    // Setting TCP_NODELAY pushes what Nagle holds back; the socket's own setting is restored.
    int nodelay = 0;
    socklen_t length = sizeof(nodelay);
    if (net::sock::get_option(s->fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &length) == 0 &&
        !nodelay) {
      const int on = 1;
      const int off = 0;
      net::sock::set_option(s->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
      net::sock::set_option(s->fd, IPPROTO_TCP, TCP_NODELAY, &off, sizeof(off));
    }
  }
  return finished(STATUS_SUCCESS, bytes_done(irp));
}

// A graceful disconnect sends its final buffer like a send, then shuts the send side down.
attempt try_disconnect(socket_object *s, PIRP irp) {
  const attempt sent = try_send(s, irp);
  if (!sent.finished || !NT_SUCCESS(sent.status)) {
    return sent;
  }
  const int result = net::sock::shutdown(s->fd, SHUT_WR);
  if (result < 0 && result != -ENOTCONN) {
    return finished(status_from_errno(-result));
  }
  s->send_closed = true;
  return finished(STATUS_SUCCESS);
}

attempt try_send_queue_entry(socket_object *s, PIRP irp) {
  return transfer(irp).disconnect ? try_disconnect(s, irp) : try_send(s, irp);
}

namespace {

// WskSend and a graceful WskDisconnect need a connection whose send side is open.
// SIO_WSK_SET_TCP_SILENT_MODE (s->silent) leaves only WskCloseSocket valid.
NTSTATUS admit_send(const socket_object *s) {
  return s->state == socket_state::connected && !s->send_closed && !s->silent
             ? STATUS_SUCCESS
             : STATUS_INVALID_DEVICE_STATE;
}

// ---- Receive ----------------------------------------------------------------------------------

attempt try_receive_bytes(socket_object *s, PIRP irp) {
  const ULONG flags = transfer(irp).flags;
  const SIZE_T length = transfer(irp).buffer.length;
  if (attempt broken; fault::active() && fault_breaks_connection(s, irp, &broken)) {
    return broken;
  }
  if (s->aborted) {
    return finished(STATUS_CONNECTION_ABORTED);
  }
  if (s->ev.peer_reset && unread_of(s) == nullptr) {
    return finished(STATUS_CONNECTION_RESET);
  }
  if ((flags & op_flag::drain) != 0) {
    events_drop_unread(s);
    static thread_local char sink[drain_chunk];
    for (;;) {
      if (events_ring_reading(s)) {
        return would_block(); // the ring's receive ends first (event rule 10)
      }
      const bool ring_end = events_ring_end_pending(s);
      if (!ring_end && s->read_drained) {
        return would_block();
      }
      iovec iov{sink, sizeof(sink)};
      const ssize_t got = ring_end ? events_ring_take_end(s) : net::sock::recv(s->fd, &iov, 1, 0);
      if (!ring_end) {
        note_read(s, got, sizeof(sink));
      }
      if (got == -EAGAIN) {
        return would_block();
      }
      if (got <= 0) {
        s->peer_closed = s->peer_closed || got == 0;
        return got == 0 ? finished(STATUS_SUCCESS, 0)
                        : finished(status_from_errno(static_cast<int>(-got)));
      }
    }
  }
  if (length == 0) {
    return finished(STATUS_SUCCESS, 0);
  }
  if (unread_of(s) != nullptr) {
    // Bytes a receive event left unaccepted head the stream (docs/wsk-behaviour.md,
    // "WskReceiveEvent").
    iovec iov[max_iov];
    const std::size_t count = gather(irp, iov, nullptr, receive_piece());
    if (count == 0) {
      return finished(STATUS_INVALID_PARAMETER);
    }
    add_done(irp, events_take_unread(s, iov, count));
    if ((flags & op_flag::waitall) == 0 || bytes_done(irp) == length) {
      return finished(STATUS_SUCCESS, bytes_done(irp));
    }
  }
  for (;;) {
    if (events_ring_reading(s)) {
      return would_block(); // its completions bring the next bytes (event rule 10)
    }
    const bool ring_end = events_ring_end_pending(s);
    if (ring_end && bytes_done(irp) != 0) {
      return finished(STATUS_SUCCESS, bytes_done(irp)); // the end shows on the next receive
    }
    if (!ring_end && s->read_drained) {
      return would_block(); // nothing arrived since the queue was seen empty
    }
    iovec iov[max_iov];
    SIZE_T asked = 0;
    const std::size_t count = gather(irp, iov, &asked, receive_piece());
    if (count == 0) {
      return finished(STATUS_INVALID_PARAMETER);
    }
    const ssize_t got = ring_end ? events_ring_take_end(s) : net::sock::recv(s->fd, iov, count, 0);
    if (!ring_end) {
      note_read(s, got, asked);
    }
    if (got == -EAGAIN) {
      // Only a WAITALL receive can be part-filled here (others complete with their first
      // bytes); it keeps its bytes and waits for the rest.
      return would_block();
    }
    if (got < 0) {
      if (bytes_done(irp) != 0) {
        return finished(STATUS_SUCCESS, bytes_done(irp)); // the error shows on the next receive
      }
      s->ev.peer_reset = s->ev.peer_reset || got == -ECONNRESET;
      return finished(status_from_errno(static_cast<int>(-got)));
    }
    if (got == 0) {
      s->peer_closed = true; // a graceful close: success with what was read (0 bytes at EOF)
      return finished(STATUS_SUCCESS, bytes_done(irp));
    }
    add_done(irp, static_cast<SIZE_T>(got));
    if ((flags & op_flag::waitall) == 0 || bytes_done(irp) == length) {
      return finished(STATUS_SUCCESS, bytes_done(irp));
    }
  }
}

} // namespace

attempt try_receive(socket_object *s, PIRP irp) {
  if (events_receive_must_wait(s)) {
    return would_block(); // the bytes being indicated come first (event rule 2)
  }
  attempt result = try_receive_bytes(s, irp);
  if (result.finished) {
    result.resumes_events = events_receive_finished(s);
  }
  return result;
}

// What try_receive would do without a system call, mirrored: true when it could only return
// would_block() (resume_queue then leaves the IRP parked).
bool receive_blocked(const socket_object *s, PIRP irp) {
  if (events_receive_must_wait(s)) {
    return true;
  }
  return s->read_drained && !s->aborted && !s->ev.peer_reset && unread_of(s) == nullptr &&
         !events_ring_end_pending(s) && transfer(irp).buffer.length != 0 &&
         (transfer(irp).flags & op_flag::drain) == 0;
}

// ---- The WSK functions -------------------------------------------------------------------------

NTSTATUS socket_send(socket_object *s, const buffer_view *buffer, ULONG flags, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (buffer == nullptr || (flags & ~op_flag::nodelay) != 0) {
    return irp_complete(irp, buffer == nullptr ? STATUS_INVALID_PARAMETER : STATUS_NOT_SUPPORTED,
                        0);
  }
  if (!buffer_valid(*buffer)) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0); // nothing is sent
  }
  start_transfer(irp, buffer, flags);
  return start_operation(s, queue_kind::send, irp, try_send_queue_entry, admit_send);
}

NTSTATUS socket_receive(socket_object *s, const buffer_view *buffer, ULONG flags, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  const ULONG both = op_flag::waitall | op_flag::drain;
  if (buffer == nullptr || (flags & ~both) != 0 || (flags & both) == both ||
      ((flags & op_flag::drain) != 0 && buffer->length != 0) || !buffer_valid(*buffer)) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  start_transfer(irp, buffer, flags);
  return start_operation(s, queue_kind::receive, irp, try_receive, [](const socket_object *sock) {
    return sock->state == socket_state::connected ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_STATE;
  });
}

NTSTATUS socket_disconnect(socket_object *s, const buffer_view *buffer, ULONG flags, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  const bool abortive = (flags & op_flag::abortive) != 0;
  if ((flags & ~op_flag::abortive) != 0 || (abortive && buffer != nullptr) ||
      (buffer != nullptr && !buffer_valid(*buffer))) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  if (!abortive) {
    start_transfer(irp, buffer, 0, true);
    return start_operation(s, queue_kind::send, irp, try_send_queue_entry, admit_send);
  }
  // Abortive: reset the connection at once; everything parked fails.
  completion_batch done;
  {
    std::lock_guard guard(s->lock);
    if (s->state != socket_state::connected || s->silent) { // silent: see socket_send
      s = nullptr;
    } else {
      const linger reset{1, 0};
      net::sock::set_option(s->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
      // Connecting a TCP socket to AF_UNSPEC disconnects it; with a zero linger, by a reset.
      sockaddr unspec{};
      unspec.sa_family = AF_UNSPEC;
      net::sock::connect(s->fd, &unspec, sizeof(unspec));
      s->aborted = true;
      s->send_closed = true;
      fail_queue(s, queue_kind::send, STATUS_CONNECTION_ABORTED, done);
      fail_queue(s, queue_kind::receive, STATUS_CONNECTION_ABORTED, done);
    }
  }
  done.complete_all();
  if (s == nullptr) {
    return irp_complete(irp, STATUS_INVALID_DEVICE_STATE, 0);
  }
  return irp_complete(irp, STATUS_SUCCESS, 0);
}

} // namespace uwsk::wsk

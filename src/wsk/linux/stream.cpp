// Listening, connection and stream sockets (Linux half): bind, listen, accept, connect, send,
// receive, disconnect and the address queries.
//
// Each operation keeps its state in its IRP as a typed record (irp_ops.hpp): transfer_args and
// transfer_progress for sends, receives, disconnects and connects, accept_args for accepts.
// try_* functions run under the socket's lock (socket rule 2) and never
// block: the Linux socket is non-blocking.
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>

#include "net/socket_ops.hpp"
#include "nt/dbg/verifier.hpp"
#include "wsk/linux/categories.hpp"
#include "wsk/linux/events.hpp"
#include "wsk/linux/indication.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/linux/sharing.hpp"
#include "wsk/linux/socket.hpp"
#include "wsk/linux/translate.hpp"

namespace uwsk::wsk {
namespace {

// Rule V37: a call in a state that does not allow it (listen without bind, connect without bind,
// an address the socket does not have yet); the caller completes the IRP with
// STATUS_INVALID_DEVICE_STATE.
void report_wrong_state(const socket_object *s, const char *what) {
  nt::verifier::warning(
      37,
      "a WSK call in a socket state that does not allow it; it fails with "
      "STATUS_INVALID_DEVICE_STATE",
      nt::verifier::objects_text("socket %p: %s", static_cast<const void *>(s), what),
      reinterpret_cast<ULONG_PTR>(s));
}

// The listen backlog of WSK listening sockets is not documented; SOMAXCONN is the kernel's
// own ceiling.
constexpr int listen_backlog = SOMAXCONN;
// WskConnectEx sends at most this much with the connection request (Windows documents it).
constexpr SIZE_T connect_ex_limit = 65535;
// Bytes a WSK_FLAG_DRAIN receive discards per system call.
constexpr std::size_t drain_chunk = 16384;
constexpr std::size_t max_iov = 64;

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
// WskAccept.
struct accept_args {
  PVOID context;
  const void *dispatch;
  void *local_out; // Windows SOCKADDRs, or NULL
  void *remote_out;
};
struct no_progress {};

void start_transfer(PIRP irp, const buffer_view *buffer, ULONG flags, bool disconnect = false) {
  transfer_args args;
  args.buffer = buffer != nullptr ? *buffer : buffer_view{nullptr, 0, 0};
  args.flags = flags;
  args.disconnect = disconnect;
  irp_record_init<transfer_args, transfer_progress>(irp, args);
}
const transfer_args &transfer(PIRP irp) {
  return irp_args<transfer_args>(irp);
}
SIZE_T bytes_done(PIRP irp) {
  return irp_progress<transfer_progress>(irp).done;
}
void add_done(PIRP irp, SIZE_T n) {
  irp_progress<transfer_progress>(irp).done += n;
}

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
  if (fault::happens(fault::stream::forced_close, p.forced_close, s->fault_id, s->fault_draws,
                     "the connection is force-closed (STATUS_FILE_FORCED_CLOSED)")) {
    s->fault_forced_closed = true;
    reset_connection(s);
    *out = finished(STATUS_FILE_FORCED_CLOSED);
    return true;
  }
  if (fault::happens(fault::stream::reset, p.reset, s->fault_id, s->fault_draws,
                     "the connection is reset")) {
    reset_connection(s);
  }
  return false;
}

// split-receive: the most bytes one stream receive may take (0: no limit).
SIZE_T receive_piece() {
  return fault::active() ? fault::current().split_receive : 0;
}

bool connection_oriented(const socket_object *s) {
  return s->cat == category::connection || s->cat == category::stream;
}

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
  if (s->ev.peer_reset && s->ev.unread == nullptr) {
    return finished(STATUS_CONNECTION_RESET);
  }
  if ((flags & op_flag::drain) != 0) {
    events_drop_unread(s);
    static thread_local char sink[drain_chunk];
    for (;;) {
      if (s->read_drained) {
        return would_block();
      }
      iovec iov{sink, sizeof(sink)};
      const ssize_t got = net::sock::recv(s->fd, &iov, 1, 0);
      note_read(s, got, sizeof(sink));
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
  if (s->ev.unread != nullptr) {
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
    if (s->read_drained) {
      return would_block(); // nothing arrived since the queue was seen empty
    }
    iovec iov[max_iov];
    SIZE_T asked = 0;
    const std::size_t count = gather(irp, iov, &asked, receive_piece());
    if (count == 0) {
      return finished(STATUS_INVALID_PARAMETER);
    }
    const ssize_t got = net::sock::recv(s->fd, iov, count, 0);
    note_read(s, got, asked);
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
  return s->read_drained && !s->aborted && !s->ev.peer_reset && s->ev.unread == nullptr &&
         transfer(irp).buffer.length != 0 && (transfer(irp).flags & op_flag::drain) == 0;
}

// ---- Accept -------------------------------------------------------------------------------

// With conditional accept, connections come from those the client accepted by inspection.
attempt try_accept_inspected(socket_object *s, PIRP irp) {
  socket_object *accepted = events_take_ready(s);
  if (accepted == nullptr) {
    return would_block();
  }
  const accept_args &args = irp_args<accept_args>(irp);
  {
    std::lock_guard guard(accepted->lock);
    accepted->context = args.context;
    accepted->client_dispatch = args.dispatch;
    accepted->ev.held = false;
  }
  for (const bool local : {true, false}) {
    if (void *out = local ? args.local_out : args.remote_out; out != nullptr) {
      sockaddr_storage a{};
      socklen_t length = sizeof(a);
      const int result =
          local ? net::sock::local_address(accepted->fd, reinterpret_cast<sockaddr *>(&a), &length)
                : net::sock::peer_address(accepted->fd, reinterpret_cast<sockaddr *>(&a), &length);
      if (result == 0) {
        to_windows_address(reinterpret_cast<const sockaddr *>(&a), out);
      }
    }
  }
  return finished(STATUS_SUCCESS, reinterpret_cast<ULONG_PTR>(accepted));
}

attempt try_accept(socket_object *s, PIRP irp) {
  if (s->conditional_accept) {
    return try_accept_inspected(s, irp);
  }
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof(peer);
  const int fd = net::sock::accept(s->fd, reinterpret_cast<sockaddr *>(&peer), &peer_length);
  if (fd == -EAGAIN) {
    return would_block();
  }
  if (fd < 0) {
    // A connection that died in the backlog is not the listener's failure.
    if (fd == -ECONNABORTED || fd == -EPROTO) {
      return would_block();
    }
    return finished(status_from_errno(-fd));
  }
  const accept_args &args = irp_args<accept_args>(irp);
  socket_object *accepted = adopt_accepted(s, fd, args.context, args.dispatch);
  if (accepted == nullptr) {
    net::sock::close(fd);
    return finished(STATUS_INSUFFICIENT_RESOURCES);
  }
  if (void *remote = args.remote_out; remote != nullptr) {
    to_windows_address(reinterpret_cast<const sockaddr *>(&peer), remote);
  }
  if (void *local = args.local_out; local != nullptr) {
    sockaddr_storage own{};
    socklen_t own_length = sizeof(own);
    if (net::sock::local_address(fd, reinterpret_cast<sockaddr *>(&own), &own_length) == 0) {
      to_windows_address(reinterpret_cast<const sockaddr *>(&own), local);
    }
  }
  return finished(STATUS_SUCCESS, reinterpret_cast<ULONG_PTR>(accepted));
}

// ---- Connect ------------------------------------------------------------------------------

// A connect finishes when the handshake does; WskConnectEx's data then goes out like a send.
// The connect of WskSocketConnect hands out its new socket (transfer_progress::created).
attempt try_connect_steps(socket_object *s, PIRP irp) {
  if (s->state == socket_state::connecting) {
    const int error = net::sock::finish_connect(s->fd);
    if (error == -EINPROGRESS || error == -EALREADY) {
      return would_block();
    }
    if (error != 0) {
      s->state = socket_state::bound;
      return finished(status_from_errno(-error));
    }
    s->state = socket_state::connected;
  }
  if (s->state != socket_state::connected) {
    return finished(STATUS_INVALID_DEVICE_STATE);
  }
  // WskConnectEx: the data goes out before the IRP completes.
  const attempt sent = try_send(s, irp);
  if (!sent.finished) {
    return sent;
  }
  if (!NT_SUCCESS(sent.status)) {
    return sent;
  }
  return finished(STATUS_SUCCESS,
                  reinterpret_cast<ULONG_PTR>(irp_progress<transfer_progress>(irp).created));
}

// Every attempt, the first and those on readiness: a WskSocketConnect that fails frees the
// socket it was making, which the client never sees.
attempt try_connect(socket_object *s, PIRP irp) {
  const attempt result = try_connect_steps(s, irp);
  if (result.finished && !NT_SUCCESS(result.status) &&
      (irp_marks(irp) & irp_mark::creates_socket) != 0 && !s->release_requested) {
    s->state = socket_state::closing;
    s->release_requested = true;
    s->loop->post(&s->release_task);
  }
  return result;
}

NTSTATUS begin_connect(socket_object *s, const void *remote, PIRP irp) {
  sockaddr_storage address{};
  socklen_t length = 0;
  if (!to_linux_address(remote, s->windows_family, address, length)) {
    return STATUS_INVALID_PARAMETER;
  }
  const int result = net::sock::connect(s->fd, reinterpret_cast<sockaddr *>(&address), length);
  if (result == 0) {
    s->state = socket_state::connected;
  } else if (result == -EINPROGRESS) {
    s->state = socket_state::connecting;
  } else {
    return result == -EISCONN ? STATUS_CONNECTION_ACTIVE : status_from_errno(-result);
  }
  return STATUS_SUCCESS;
}

// ---- Ring I/O (docs/design.md, "Ring I/O") ------------------------------------------------------

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
           s->ev.unread == nullptr && !s->peer_closed && !events_receive_must_wait(s);
  }
  return !args.disconnect && (args.flags & op_flag::nodelay) == 0 &&
         bytes_done(irp) < args.buffer.length;
}

// resume_queue's `blocked` for ring sockets: the IRP the ring holds stays (and so does every IRP
// behind it); on the loop thread, so does one the ring can take (ring_pump_queue hands it over).
bool receive_blocked_ring(const socket_object *s, PIRP irp) {
  return s->ring_receive.irp == irp || receive_blocked(s, irp) ||
         (s->loop->in_loop_thread() && ring_eligible(s, queue_kind::receive, irp));
}
bool send_blocked_ring(const socket_object *s, PIRP irp) {
  return s->ring_send.irp == irp ||
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
  if (!IsListEmpty(&parked)) {
    PIRP head = irp_from_link(parked.Flink);
    if (ring_eligible(s, kind, head)) {
      ring_submit(s, r, head);
    }
  }
}

void stream_ring_pump(socket_object *s, completion_batch &done) {
  ring_pump_queue(s, queue_kind::receive, done);
  ring_pump_queue(s, queue_kind::send, done);
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

// The loop's callback for a ring request (net::loop rule 6): the IRP is finished (handed to its
// cancel routine if that is about to run), or its remainder goes to the ring again at once, so
// that a cancel routine always finds it either in flight or settled. Then the queue moves on.
void stream_ring_complete(net::io_request *request, long result) {
  auto *r = static_cast<ring_io *>(request);
  socket_object *s = r->owner;
  const queue_kind kind = r == &s->ring_receive ? queue_kind::receive : queue_kind::send;
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
}

// A receive or send cancelled while parked keeps what it moved: a WAITALL receive part-filled,
// a send part-sent (not a graceful disconnect, which did not happen).
ULONG_PTR stream_bytes_moved(PIRP irp, queue_kind kind) {
  if (kind != queue_kind::receive && kind != queue_kind::send) {
    return 0;
  }
  return transfer(irp).disconnect ? 0 : bytes_done(irp);
}

// ---- Readiness ----------------------------------------------------------------------------------

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
  stream_resume_queues(s, loop_readiness(s, events), done);
  if (s->event_mask == 0) {
    return; // `done` completes after `guard` released the lock
  }
  // The IRPs finished here complete before any callback (event rule 2).
  guard.unlock();
  done.complete_all();
  guard.lock();
  events_deliver_stream(s, events, guard, done);
}

void stream_resume_receives(socket_object *s, completion_batch &done) {
  resume_receives(s, done);
}

} // namespace

const socket_behaviour stream_behaviour = {
    stream_on_events,     stream_resume_receives, events_on_close_locked, indications_free,
    stream_resume_queues, stream_ring_pump,       stream_ring_complete,   stream_bytes_moved};

// ---- The WSK functions
// ---------------------------------------------------------------------------

NTSTATUS socket_bind(socket_object *s, const void *local, ULONG flags, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (flags != 0 || local == nullptr) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  if (s->cat == category::basic) {
    return irp_complete(irp, STATUS_INVALID_DEVICE_STATE, 0);
  }
  sockaddr_storage address{};
  socklen_t length = 0;
  if (!to_linux_address(local, s->windows_family, address, length)) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  std::unique_lock guard(s->lock);
  if (s->state != socket_state::created) {
    guard.unlock();
    return irp_complete(irp, STATUS_ADDRESS_ALREADY_ASSOCIATED, 0);
  }
  // The address-sharing matrix decides before Linux does (linux/sharing.hpp).
  const NTSTATUS shared =
      check_address_sharing(s, reinterpret_cast<const sockaddr *>(&address), length);
  if (!NT_SUCCESS(shared)) {
    guard.unlock();
    return irp_complete(irp, shared, 0);
  }
  int result = net::sock::bind(s->fd, reinterpret_cast<sockaddr *>(&address), length);
  if (result == 0 && s->cat == category::listen) {
    // A listening socket listens as soon as it is bound; there is no separate listen call.
    result = net::sock::listen(s->fd, listen_backlog);
  }
  if (result != 0) {
    sharing_unregister(s);
    guard.unlock();
    return irp_complete(irp, status_from_errno(-result), 0);
  }
  sharing_register(s);
  s->state = s->cat == category::listen ? socket_state::listening : socket_state::bound;
  guard.unlock();
  return irp_complete(irp, STATUS_SUCCESS, 0);
}

NTSTATUS socket_listen(socket_object *s, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  std::unique_lock guard(s->lock);
  if (s->cat != category::stream || s->state != socket_state::bound) {
    guard.unlock();
    report_wrong_state(s, "WskListen on a socket that is not bound, or not a stream socket");
    return irp_complete(irp, STATUS_INVALID_DEVICE_STATE, 0);
  }
  const int result = net::sock::listen(s->fd, listen_backlog);
  if (result != 0) {
    guard.unlock();
    return irp_complete(irp, status_from_errno(-result), 0);
  }
  s->state = socket_state::listening;
  guard.unlock();
  return irp_complete(irp, STATUS_SUCCESS, 0);
}

NTSTATUS socket_accept(socket_object *s, ULONG flags, PVOID accept_context,
                       const void *accept_dispatch, void *local_out, void *remote_out, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (flags != 0) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  {
    std::lock_guard guard(s->lock);
    if (s->state != socket_state::listening) {
      s = nullptr;
    }
  }
  if (s == nullptr) {
    return irp_complete(irp, STATUS_INVALID_DEVICE_STATE, 0);
  }
  irp_record_init<accept_args, no_progress>(
      irp, accept_args{accept_context, accept_dispatch, local_out, remote_out});
  return start_operation(s, queue_kind::accept, irp, try_accept);
}

NTSTATUS socket_connect(socket_object *s, const void *remote, const buffer_view *data, ULONG flags,
                        bool extended, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (flags != 0 || remote == nullptr) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  if (data != nullptr && !buffer_valid(*data)) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  if (extended && data != nullptr && data->length > connect_ex_limit) {
    return irp_complete(irp, STATUS_BUFFER_OVERFLOW, 0);
  }
  start_transfer(irp, data, 0);
  NTSTATUS status = STATUS_SUCCESS;
  {
    std::lock_guard guard(s->lock);
    if (s->state == socket_state::connected || s->state == socket_state::connecting) {
      status = STATUS_CONNECTION_ACTIVE;
    } else if (s->state != socket_state::bound) {
      // WSK requires WskBind first (Linux would bind implicitly).
      status = STATUS_INVALID_DEVICE_STATE;
    } else {
      status = begin_connect(s, remote, irp);
    }
  }
  if (status == STATUS_INVALID_DEVICE_STATE) {
    report_wrong_state(s, "WskConnect on a socket that is not bound (WSK requires WskBind first)");
  }
  if (!NT_SUCCESS(status)) {
    return irp_complete(irp, status, 0);
  }
  return start_operation(s, queue_kind::connect, irp, try_connect);
}

namespace {

// WskGetLocalAddress and WskGetRemoteAddress: the address in Windows layout, once the socket is
// in a state that has one.
NTSTATUS get_address(socket_object *s, void *out, PIRP irp, bool remote) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (out == nullptr) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  socket_state state;
  {
    std::lock_guard guard(s->lock);
    state = s->state;
  }
  const bool has_address = remote ? connection_oriented(s) && state == socket_state::connected
                                  : s->cat != category::basic && state != socket_state::created;
  if (!has_address) {
    report_wrong_state(s, remote ? "WskGetRemoteAddress on a socket that is not connected"
                                 : "WskGetLocalAddress on a socket that is not bound");
    return irp_complete(irp, STATUS_INVALID_DEVICE_STATE, 0);
  }
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  auto *linux_address = reinterpret_cast<sockaddr *>(&address);
  const int result = remote ? net::sock::peer_address(s->fd, linux_address, &length)
                            : net::sock::local_address(s->fd, linux_address, &length);
  if (result != 0) {
    return irp_complete(irp, status_from_errno(-result), 0);
  }
  to_windows_address(linux_address, out);
  return irp_complete(irp, STATUS_SUCCESS, 0);
}

} // namespace

NTSTATUS socket_get_local_address(socket_object *s, void *out, PIRP irp) {
  return get_address(s, out, irp, false);
}

NTSTATUS socket_get_remote_address(socket_object *s, void *out, PIRP irp) {
  return get_address(s, out, irp, true);
}

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

// ---- WskSocketConnect --------------------------------------------------------------------------

NTSTATUS socket_connect_new(registration *reg, USHORT type, ULONG protocol, const void *local,
                            const void *remote, PVOID context, const void *client_dispatch,
                            PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (local == nullptr || remote == nullptr) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  // The local address's family decides the socket's family.
  const USHORT family = *static_cast<const USHORT *>(local);
  sockaddr_storage local_address{};
  socklen_t local_length = 0;
  if (!to_linux_address(local, family, local_address, local_length)) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  socket_object *s = nullptr;
  NTSTATUS status =
      create_socket(reg, family, type, static_cast<int>(protocol), category::connection, context,
                    client_dispatch, &stream_behaviour, &s);
  if (!NT_SUCCESS(status)) {
    return irp_complete(irp, status, 0);
  }
  {
    std::lock_guard guard(s->lock);
    status =
        check_address_sharing(s, reinterpret_cast<const sockaddr *>(&local_address), local_length);
    const int bound =
        NT_SUCCESS(status)
            ? net::sock::bind(s->fd, reinterpret_cast<sockaddr *>(&local_address), local_length)
            : 0;
    if (!NT_SUCCESS(status)) {
      // The matrix refused the address (nothing was reserved).
    } else if (bound != 0) {
      sharing_unregister(s);
      status = status_from_errno(-bound);
    } else {
      sharing_register(s);
      s->state = socket_state::bound;
      status = begin_connect(s, remote, irp);
    }
  }
  if (status == STATUS_INVALID_DEVICE_STATE) {
    report_wrong_state(s, "WskConnect on a socket that is not bound (WSK requires WskBind first)");
  }
  if (!NT_SUCCESS(status)) {
    destroy_unpublished(s);
    return irp_complete(irp, status, 0);
  }
  start_transfer(irp, nullptr, 0);
  irp_progress<transfer_progress>(irp).created = s; // handed out as Information on success
  irp_marks(irp) |= irp_mark::creates_socket;       // see cancel_parked
  return start_operation(s, queue_kind::connect, irp, try_connect);
}

} // namespace uwsk::wsk

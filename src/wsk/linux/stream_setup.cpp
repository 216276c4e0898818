// Listening, connection and stream sockets, Linux half: WskBind (which datagram sockets use
// too), WskListen, WskAccept, WskConnect, WskConnectEx, WskSocketConnect and the address queries.
// What the three stream files share, and which does what: linux/stream.hpp.
#include <netinet/in.h>

#include <cerrno>

#include "net/socket_ops.hpp"
#include "nt/dbg/verifier.hpp"
#include "wsk/linux/categories.hpp"
#include "wsk/linux/events.hpp"
#include "wsk/linux/sharing.hpp"
#include "wsk/linux/stream.hpp"
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

// WskAccept's operation record (irp_ops.hpp).
struct accept_args {
  PVOID context;
  const void *dispatch;
  void *local_out; // Windows SOCKADDRs, or NULL
  void *remote_out;
};
struct no_progress {};

bool connection_oriented(const socket_object *s) {
  return s->cat == category::connection || s->cat == category::stream;
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

} // namespace

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

namespace {

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

} // namespace

// Every attempt, the first and those on readiness: a WskSocketConnect that fails frees the
// socket it was making, which the client never sees.
attempt try_connect(socket_object *s, PIRP irp) {
  const attempt result = try_connect_steps(s, irp);
  if (result.finished && !NT_SUCCESS(result.status) &&
      (irp_marks(irp) & irp_mark::creates_socket) != 0 && !s->release_requested) {
    s->close_called.store(true, std::memory_order_relaxed); // never the client's (rule V42)
    s->state = socket_state::closing;
    request_release_locked(s);
  }
  return result;
}

namespace {

NTSTATUS begin_connect(socket_object *s, const void *remote, PIRP irp) {
  sockaddr_storage address{};
  socklen_t length = 0;
  if (!to_linux_address(remote, s->windows_family, address, length)) {
    socket_report_bad_address(s, remote, "WskConnect");
    return STATUS_INVALID_PARAMETER;
  }
  if (socket_rare_of(s) == nullptr) {
    return STATUS_INSUFFICIENT_RESOURCES; // no connect queue (socket_rare::setup)
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

} // namespace

// ---- The WSK functions -------------------------------------------------------------------------

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
    socket_report_bad_address(s, local, "WskBind");
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
    return socket_finish_call(s, irp, status_from_errno(-result), 0);
  }
  sharing_register(s);
  s->state = s->cat == category::listen ? socket_state::listening : socket_state::bound;
  guard.unlock();
  return socket_finish_call(s, irp, STATUS_SUCCESS, 0);
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
    return socket_finish_call(s, irp, status_from_errno(-result), 0);
  }
  s->state = socket_state::listening;
  guard.unlock();
  return socket_finish_call(s, irp, STATUS_SUCCESS, 0);
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
    nt::verifier::warning(41,
                          "WskConnectEx with more than 65,535 bytes to send with the connection "
                          "request: STATUS_BUFFER_OVERFLOW",
                          socket_objects(s, "%zu bytes, ", static_cast<std::size_t>(data->length)),
                          reinterpret_cast<ULONG_PTR>(s), data->length);
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
    return socket_finish_call(s, irp, status_from_errno(-result), 0);
  }
  to_windows_address(linux_address, out);
  return socket_finish_call(s, irp, STATUS_SUCCESS, 0);
}

} // namespace

NTSTATUS socket_get_local_address(socket_object *s, void *out, PIRP irp) {
  return get_address(s, out, irp, false);
}

NTSTATUS socket_get_remote_address(socket_object *s, void *out, PIRP irp) {
  return get_address(s, out, irp, true);
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
    socket_report_bad_address(nullptr, local, "WskSocketConnect");
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

// Datagram sockets, Linux half: sendmsg/recvmsg over the driver's MDL chains, with the
// Windows <-> Linux translation of addresses and control data.
//
// Per-IRP state (irp_ops.hpp): Parameters [0..2] the WSK_BUF (MDL, offset, length);
// WskSendTo: Parameters[3] the Windows remote address, DriverContext[1] the control data,
// [2] its length. WskReceiveFrom: Parameters[3] the ControlFlags pointer, DriverContext[1] the
// control buffer, [2] the remote-address buffer, [3] the ControlLength pointer.
// WskSendMessages: Parameters[0] the next WSK_BUF_LIST element, [1] bytes sent so far,
// [3] the remote address, DriverContext[1..2] the control data, [3] a marker.
// A parked send re-reads the client's remote address and control data on each try, so they
// must stay valid until it completes (docs/divergences.md).
#include <netinet/in.h>
#include <sys/uio.h>

#include <cerrno>
#include <climits>

#include "net/socket_ops.hpp"
#include "wsk/categories.hpp"
#include "wsk/events.hpp"
#include "wsk/indication.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/socket.hpp"
#include "wsk/translate.hpp"

namespace uwsk::wsk {
namespace {

// A datagram cannot be split, so its MDL chain must fit one sendmsg.
constexpr std::size_t datagram_iov = IOV_MAX;
// Room for the Linux form of the control data a driver passes or asks for.
constexpr std::size_t control_room = 512;

struct alignas(cmsghdr) control_buffer {
  unsigned char bytes[control_room];
};

PVOID *params(PIRP irp) {
  return irp_parameters(irp);
}
PVOID *ctx(PIRP irp) {
  return irp_context(irp);
}

bool bound(const socket_object *s) {
  return s->state == socket_state::bound;
}

// The destination of a send: the call's address, else the fixed send-to address, else the fixed
// remote address (the socket is then connected and needs none).
NTSTATUS destination(socket_object *s, const void *remote, sockaddr_storage &address,
                     socklen_t &length, bool &connected) {
  connected = false;
  if (remote != nullptr) {
    return to_linux_address(remote, s->windows_family, address, length) ? STATUS_SUCCESS
                                                                        : STATUS_INVALID_PARAMETER;
  }
  if (s->fixed_sendto_length != 0) {
    address = s->fixed_sendto;
    length = s->fixed_sendto_length;
    return STATUS_SUCCESS;
  }
  if (s->fixed_remote_length != 0) {
    connected = true;
    length = 0;
    return STATUS_SUCCESS;
  }
  return STATUS_INVALID_PARAMETER;
}

// One sendmsg of a datagram. Returns bytes sent, or -errno.
ssize_t send_datagram(socket_object *s, const buffer_view &buffer, const void *remote,
                      ULONG control_length, const void *control, NTSTATUS &status) {
  sockaddr_storage address{};
  socklen_t address_length = 0;
  bool connected = false;
  status = destination(s, remote, address, address_length, connected);
  if (!NT_SUCCESS(status)) {
    return -EINVAL;
  }
  iovec iov[datagram_iov];
  SIZE_T covered = 0;
  const std::size_t count =
      gather_buffer(buffer.mdl, buffer.offset, buffer.length, iov, datagram_iov, &covered);
  if (covered != buffer.length) {
    status = STATUS_INVALID_PARAMETER; // the chain is shorter than Length, or too fragmented
    return -EINVAL;
  }
  control_buffer linux_control;
  std::size_t linux_control_length = 0;
  if (control_length != 0) {
    status = to_linux_control(control, control_length, linux_control.bytes, sizeof(linux_control),
                              linux_control_length);
    if (!NT_SUCCESS(status)) {
      return -EINVAL;
    }
  }
  msghdr message{};
  message.msg_name = connected ? nullptr : &address;
  message.msg_namelen = connected ? 0 : address_length;
  message.msg_iov = iov;
  message.msg_iovlen = count;
  message.msg_control = linux_control_length != 0 ? linux_control.bytes : nullptr;
  message.msg_controllen = linux_control_length;
  const ssize_t sent = net::sock::send_message(s->fd, &message, 0);
  status = sent >= 0 ? STATUS_SUCCESS : status_from_errno(static_cast<int>(-sent));
  return sent;
}

attempt try_send_to(socket_object *s, PIRP irp) {
  const buffer_view buffer{static_cast<PMDL>(params(irp)[0]),
                           static_cast<ULONG>(reinterpret_cast<ULONG_PTR>(params(irp)[1])),
                           reinterpret_cast<SIZE_T>(params(irp)[2])};
  NTSTATUS status;
  const ssize_t sent = send_datagram(s, buffer, params(irp)[3],
                                     static_cast<ULONG>(reinterpret_cast<ULONG_PTR>(ctx(irp)[2])),
                                     ctx(irp)[1], status);
  if (sent == -EAGAIN) {
    return would_block();
  }
  return sent >= 0 ? finished(STATUS_SUCCESS, static_cast<ULONG_PTR>(sent)) : finished(status);
}

// WskSendMessages sends its list with sendmmsg, up to messages_per_call datagrams per call,
// whose pieces share one iovec array of batch_iov entries; a datagram needing more pieces than
// that goes out alone through send_datagram.
constexpr unsigned messages_per_call = 64;
constexpr std::size_t batch_iov = 256;

attempt try_send_messages(socket_object *s, PIRP irp) {
  auto *element = static_cast<const buffer_list_view *>(params(irp)[0]);
  auto total = reinterpret_cast<ULONG_PTR>(params(irp)[1]);
  const void *remote = params(irp)[3];
  const auto control_length = static_cast<ULONG>(reinterpret_cast<ULONG_PTR>(ctx(irp)[2]));
  const void *control = ctx(irp)[1];
  // The destination and control data are the same for every datagram of the list.
  sockaddr_storage address{};
  socklen_t address_length = 0;
  bool connected = false;
  NTSTATUS status = destination(s, remote, address, address_length, connected);
  if (!NT_SUCCESS(status)) {
    return finished(status);
  }
  control_buffer linux_control;
  std::size_t linux_control_length = 0;
  if (control_length != 0) {
    status = to_linux_control(control, control_length, linux_control.bytes, sizeof(linux_control),
                              linux_control_length);
    if (!NT_SUCCESS(status)) {
      return finished(status);
    }
  }
  const auto save_progress = [&] {
    params(irp)[0] = const_cast<buffer_list_view *>(element);
    params(irp)[1] = reinterpret_cast<PVOID>(total);
  };
  while (element != nullptr) {
    iovec iov[batch_iov];
    mmsghdr messages[messages_per_call];
    unsigned count = 0;
    std::size_t used = 0;
    const buffer_list_view *next = element;
    for (; next != nullptr && count < messages_per_call; next = next->next) {
      SIZE_T covered = 0;
      const std::size_t pieces =
          gather_buffer(next->buffer.mdl, next->buffer.offset, next->buffer.length, iov + used,
                        batch_iov - used, &covered);
      if (covered != next->buffer.length) {
        break; // too fragmented for what is left of the array (or a chain shorter than Length)
      }
      msghdr &m = messages[count].msg_hdr;
      m = msghdr{};
      m.msg_name = connected ? nullptr : &address;
      m.msg_namelen = connected ? 0 : address_length;
      m.msg_iov = iov + used;
      m.msg_iovlen = pieces;
      m.msg_control = linux_control_length != 0 ? linux_control.bytes : nullptr;
      m.msg_controllen = linux_control_length;
      messages[count].msg_len = 0;
      used += pieces;
      ++count;
    }
    if (count == 0) {
      // The first datagram needs the whole array to itself: send it alone (send_datagram
      // reports a chain shorter than Length).
      const ssize_t sent =
          send_datagram(s, element->buffer, remote, control_length, control, status);
      if (sent == -EAGAIN) {
        save_progress();
        return would_block();
      }
      if (sent < 0) {
        return finished(status);
      }
      total += static_cast<ULONG_PTR>(sent);
      element = element->next;
      continue;
    }
    const int sent = net::sock::send_messages(s->fd, messages, count, 0);
    if (sent == -EAGAIN) {
      save_progress();
      return would_block();
    }
    if (sent < 0) {
      return finished(status_from_errno(-sent));
    }
    for (int i = 0; i < sent; ++i) {
      total += messages[i].msg_len;
      element = element->next;
    }
  }
  return finished(STATUS_SUCCESS, total);
}

// The send queue holds both kinds; WskSendMessages marks its IRPs in DriverContext[3].
constexpr char send_messages_marker = 0;

attempt try_send_entry(socket_object *s, PIRP irp) {
  return ctx(irp)[3] == &send_messages_marker ? try_send_messages(s, irp) : try_send_to(s, irp);
}

attempt try_receive_from(socket_object *s, PIRP irp) {
  const buffer_view buffer{static_cast<PMDL>(params(irp)[0]),
                           static_cast<ULONG>(reinterpret_cast<ULONG_PTR>(params(irp)[1])),
                           reinterpret_cast<SIZE_T>(params(irp)[2])};
  auto *control_flags = static_cast<PULONG>(params(irp)[3]);
  void *control = ctx(irp)[1];
  void *remote_out = ctx(irp)[2];
  auto *control_length = static_cast<PULONG>(ctx(irp)[3]);
  iovec iov[datagram_iov];
  const std::size_t count =
      gather_buffer(buffer.mdl, buffer.offset, buffer.length, iov, datagram_iov, nullptr);
  control_buffer linux_control;
  for (;;) {
    if (s->read_drained) {
      return would_block(); // nothing arrived since the queue was seen empty
    }
    sockaddr_storage source{};
    msghdr message{};
    message.msg_name = &source;
    message.msg_namelen = sizeof(source);
    message.msg_iov = iov;
    message.msg_iovlen = count;
    message.msg_control = control_length != nullptr ? linux_control.bytes : nullptr;
    message.msg_controllen = control_length != nullptr ? sizeof(linux_control) : 0;
    const ssize_t got = net::sock::recv_message(s->fd, &message, 0);
    note_read(s, got, room_unknown);
    if (got == -EAGAIN) {
      return would_block();
    }
    if (got == -ECONNREFUSED || got == -EHOSTUNREACH || got == -ENETUNREACH) {
      // An ICMP error for an earlier send: a receive is not the place to report it.
      continue;
    }
    if (got < 0) {
      return finished(status_from_errno(static_cast<int>(-got)));
    }
    if (remote_out != nullptr) {
      to_windows_address(reinterpret_cast<const sockaddr *>(&source), remote_out);
    }
    ULONG flags = windows_message_flags(message.msg_flags);
    if (control_length != nullptr) {
      const received_control translated =
          to_windows_control(message, control, control != nullptr ? *control_length : 0);
      *control_length = static_cast<ULONG>(translated.length);
      flags |= translated.flags;
    }
    if (control_flags != nullptr) {
      *control_flags = flags;
    }
    // A truncated datagram completes with success; MSG_TRUNC says so (spec section 13 item 9).
    return finished(STATUS_SUCCESS, static_cast<ULONG_PTR>(got));
  }
}

void save_buffer(PIRP irp, const buffer_view *buffer) {
  params(irp)[0] = buffer->mdl;
  params(irp)[1] = reinterpret_cast<PVOID>(static_cast<ULONG_PTR>(buffer->offset));
  params(irp)[2] = reinterpret_cast<PVOID>(buffer->length);
}

// The check every datagram call shares, under the lock.
NTSTATUS admit_bound(const socket_object *s) {
  return bound(s) ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_STATE;
}

// A RemoteAddress given to a send: a Windows SOCKADDR of the socket's family.
bool remote_valid(const socket_object *s, const void *remote) {
  sockaddr_storage address{};
  socklen_t length = 0;
  return remote == nullptr || to_linux_address(remote, s->windows_family, address, length);
}

void datagram_on_events(socket_object *s, std::uint32_t events) {
  completion_batch done;
  std::unique_lock guard(s->lock);
  if (s->state == socket_state::closing) {
    return;
  }
  const bool readable = (events & (net::ev_in | net::ev_err | net::ev_hup)) != 0;
  note_readiness(s, events);
  if (readable) {
    resume_queue(s, queue_kind::receive, try_receive_from, done);
  }
  if ((events & (net::ev_out | net::ev_err | net::ev_hup)) != 0) {
    resume_queue(s, queue_kind::send, try_send_entry, done);
  }
  if (!readable || s->event_mask == 0) {
    return; // `done` completes after `guard` released the lock
  }
  guard.unlock();
  done.complete_all();
  guard.lock();
  events_deliver_datagram(s, guard, done);
}

void datagram_resume_receives(socket_object *s, completion_batch &done) {
  resume_queue(s, queue_kind::receive, try_receive_from, done);
}

// Datagram sockets have no connections waiting to be handed out.
void datagram_on_close_locked(socket_object *) {}

} // namespace

const socket_behaviour datagram_behaviour = {datagram_on_events, datagram_resume_receives,
                                             datagram_on_close_locked, indications_free};

NTSTATUS socket_send_to(socket_object *s, const buffer_view *buffer, const void *remote,
                        ULONG control_length, const void *control, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  // Checked before anything moves; the state is checked last (start_operation).
  if (!buffer_valid(*buffer) || !remote_valid(s, remote)) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  save_buffer(irp, buffer);
  params(irp)[3] = const_cast<void *>(remote);
  ctx(irp)[1] = const_cast<void *>(control);
  ctx(irp)[2] = reinterpret_cast<PVOID>(static_cast<ULONG_PTR>(control_length));
  ctx(irp)[3] = nullptr;
  return start_operation(s, queue_kind::send, irp, try_send_entry, admit_bound);
}

NTSTATUS socket_send_messages(socket_object *s, const buffer_list_view *list, const void *remote,
                              ULONG control_length, const void *control, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  // Every element is checked before the first datagram goes out: a list with one bad element
  // sends none of them.
  for (const buffer_list_view *element = list; element != nullptr; element = element->next) {
    if (!buffer_valid(element->buffer)) {
      return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
    }
  }
  if (!remote_valid(s, remote)) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  params(irp)[0] = const_cast<buffer_list_view *>(list);
  params(irp)[1] = nullptr;
  params(irp)[3] = const_cast<void *>(remote);
  ctx(irp)[1] = const_cast<void *>(control);
  ctx(irp)[2] = reinterpret_cast<PVOID>(static_cast<ULONG_PTR>(control_length));
  ctx(irp)[3] = const_cast<char *>(&send_messages_marker);
  return start_operation(s, queue_kind::send, irp, try_send_entry, admit_bound);
}

NTSTATUS socket_receive_from(socket_object *s, const buffer_view *buffer, void *remote_out,
                             PULONG control_length, void *control, PULONG control_flags, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  // A buffer that cannot hold its Length consumes no datagram.
  if (!buffer_valid(*buffer)) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  save_buffer(irp, buffer);
  params(irp)[3] = control_flags;
  ctx(irp)[1] = control;
  ctx(irp)[2] = remote_out;
  ctx(irp)[3] = control_length;
  return start_operation(s, queue_kind::receive, irp, try_receive_from, admit_bound);
}

} // namespace uwsk::wsk

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
// must stay valid until it completes (docs/divergences.md, D8).
#include <netinet/in.h>
#include <sys/uio.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "net/socket_ops.hpp"
#include "nt/dbg/verifier.hpp"
#include "wsk/linux/categories.hpp"
#include "wsk/linux/events.hpp"
#include "wsk/linux/indication.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/linux/socket.hpp"
#include "wsk/linux/translate.hpp"

namespace uwsk::wsk {
namespace {

// A datagram cannot be split, so its MDL chain must fit one sendmsg.
constexpr std::size_t datagram_iov = IOV_MAX;
// Room for the Linux form of the control data a driver passes or asks for.
constexpr std::size_t control_room = 512;

struct alignas(cmsghdr) control_buffer {
  unsigned char bytes[control_room];
};

// The control data a send passes, in Linux form (none: length 0, msg_control NULL).
struct send_control {
  control_buffer buffer;
  std::size_t length = 0;

  NTSTATUS translate(const void *control, ULONG control_length) {
    return control_length == 0
               ? STATUS_SUCCESS
               : to_linux_control(control, control_length, buffer.bytes, sizeof(buffer), length);
  }
  void *data() { return length != 0 ? buffer.bytes : nullptr; }
};

// ---- Operation records (irp_ops.hpp) -----------------------------------------------------------

// WskSendTo and WskSendMessages share the send queue. Their arguments: the buffer of a
// WskSendTo, or for WskSendMessages the first element not yet sent and the bytes sent so far;
// the destination (NULL: the fixed address).
struct send_args {
  union {
    buffer_view buffer;
    struct {
      const buffer_list_view *next;
      ULONG_PTR total;
    } list;
  };
  const void *remote;
};
// The rest of a send: the client's control data, and which call it is.
struct send_rest {
  const void *control = nullptr;
  ULONG control_length = 0;
  bool messages = false; // WskSendMessages
};
// WskReceiveFrom: the buffer and where ControlFlags goes; the other outputs.
struct receive_args {
  buffer_view buffer;
  PULONG control_flags;
};
struct receive_outputs {
  void *control = nullptr;
  void *remote_out = nullptr;
  PULONG control_length = nullptr;
};

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
  const fixed_addresses *fixed = s->rare ? s->rare->fixed.get() : nullptr;
  if (fixed != nullptr && fixed->sendto_length != 0) {
    address = fixed->sendto;
    length = fixed->sendto_length;
    return STATUS_SUCCESS;
  }
  if (fixed != nullptr && fixed->remote_length != 0) {
    connected = true;
    length = 0;
    return STATUS_SUCCESS;
  }
  return STATUS_INVALID_PARAMETER;
}

// The msghdr of one outgoing datagram: to `address` unless the socket is connected, from
// `pieces` iovecs, with the control data (none when `control` is NULL).
msghdr outgoing_message(sockaddr_storage *address, socklen_t address_length, bool connected,
                        iovec *iov, std::size_t pieces, send_control *control) {
  msghdr m{};
  m.msg_name = connected ? nullptr : address;
  m.msg_namelen = connected ? 0 : address_length;
  m.msg_iov = iov;
  m.msg_iovlen = pieces;
  if (control != nullptr) {
    m.msg_control = control->data();
    m.msg_controllen = control->length;
  }
  return m;
}

// One sendmsg of a datagram. Returns bytes sent, or -errno.
ssize_t send_datagram(socket_object *s, const buffer_view &buffer, const void *remote,
                      ULONG control_length, const void *control, NTSTATUS &status) {
  sockaddr_storage address; // destination() writes what sendmsg reads of it
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
  send_control linux_control;
  status = linux_control.translate(control, control_length);
  if (!NT_SUCCESS(status)) {
    return -EINVAL;
  }
  msghdr message =
      outgoing_message(&address, address_length, connected, iov, count, &linux_control);
  const ssize_t sent = net::sock::send_message(s->fd, &message, 0);
  status = sent >= 0 ? STATUS_SUCCESS : status_from_errno(static_cast<int>(-sent));
  return sent;
}

attempt try_send_to(socket_object *s, PIRP irp) {
  const send_args &args = irp_args<send_args>(irp);
  const send_rest &rest = irp_progress<send_rest>(irp);
  NTSTATUS status;
  const ssize_t sent =
      send_datagram(s, args.buffer, args.remote, rest.control_length, rest.control, status);
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
  send_args &args = irp_args<send_args>(irp);
  const buffer_list_view *element = args.list.next;
  ULONG_PTR total = args.list.total;
  const void *remote = args.remote;
  const ULONG control_length = irp_progress<send_rest>(irp).control_length;
  const void *control = irp_progress<send_rest>(irp).control;
  // The destination and control data are the same for every datagram of the list.
  sockaddr_storage address{};
  socklen_t address_length = 0;
  bool connected = false;
  NTSTATUS status = destination(s, remote, address, address_length, connected);
  if (!NT_SUCCESS(status)) {
    return finished(status);
  }
  send_control linux_control;
  status = linux_control.translate(control, control_length);
  if (!NT_SUCCESS(status)) {
    return finished(status);
  }
  const auto save_progress = [&] {
    args.list.next = element;
    args.list.total = total;
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
      messages[count].msg_hdr =
          outgoing_message(&address, address_length, connected, iov + used, pieces, &linux_control);
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

attempt try_send_entry(socket_object *s, PIRP irp) {
  return irp_progress<send_rest>(irp).messages ? try_send_messages(s, irp) : try_send_to(s, irp);
}

// ---- Sends batched after a receive-from event (docs/design.md, "Datagram send batches") ------

// The socket whose WskReceiveFromEvent runs on this thread, while it runs (NULL otherwise).
thread_local socket_object *batching_for [[gnu::tls_model("initial-exec")]] = nullptr;

// Whether WskSendTo calls made inside a receive-from event wait for the batch: unless
// UWSK_UDP_SEND_BATCH=0 (read once), for comparisons.
bool send_batches_enabled() {
  static const bool enabled = [] {
    const char *setting = std::getenv("UWSK_UDP_SEND_BATCH");
    return setting == nullptr || std::strcmp(setting, "0") != 0;
  }();
  return enabled;
}

// A WskSendTo that joins the batch: its destination is checked now, as try_send_to would (a bad
// one fails during the call, nothing sent); otherwise it parks until the event returns.
attempt try_send_later(socket_object *s, PIRP irp) {
  sockaddr_storage address;
  socklen_t length = 0;
  bool connected = false;
  const NTSTATUS status =
      destination(s, irp_args<send_args>(irp).remote, address, length, connected);
  return NT_SUCCESS(status) ? would_block() : finished(status);
}

// Whether a parked send can go in a batch: a WskSendTo without control data.
bool batchable(PIRP irp) {
  const send_rest &rest = irp_progress<send_rest>(irp);
  return !rest.messages && rest.control_length == 0 && (irp_marks(irp) & irp_mark::refused) == 0;
}

// Under the lock: sends the WskSendTo IRPs at the head of the send queue with sendmmsg, up to
// messages_per_call at a time, each finished with its own result, in order. Whatever is not
// batchable (and what follows it) goes through resume_queue, one call each as before; a full
// socket buffer leaves the rest parked for the next writable report.
void send_batched(socket_object *s, completion_batch &done) {
  if (!s->queue_made(queue_kind::send)) {
    return;
  }
  LIST_ENTRY &queue = s->ops_of(queue_kind::send).parked.head();
  // Each round finishes at least one IRP or stops, so this ends within the queue's length.
  while (!IsListEmpty(&queue)) {
    PIRP irps[messages_per_call];
    mmsghdr messages[messages_per_call];
    sockaddr_storage addresses[messages_per_call];
    iovec iov[batch_iov];
    unsigned count = 0;
    std::size_t used = 0;
    for (PLIST_ENTRY link = queue.Flink, next; link != &queue && count < messages_per_call;
         link = next) {
      next = link->Flink;
      PIRP irp = irp_from_link(link);
      if (!batchable(irp)) {
        break;
      }
      const send_args &args = irp_args<send_args>(irp);
      socklen_t address_length = 0;
      bool connected = false;
      if (!NT_SUCCESS(destination(s, args.remote, addresses[count], address_length, connected))) {
        break; // fails in resume_queue's try, with its status, after the ones before it
      }
      SIZE_T covered = 0;
      const std::size_t pieces =
          gather_buffer(args.buffer.mdl, args.buffer.offset, args.buffer.length, iov + used,
                        batch_iov - used, &covered);
      if (covered != args.buffer.length) {
        break; // too fragmented for what is left of the array: alone, after these
      }
      if (!irp_unpark(irp)) {
        continue; // being cancelled: it sends nothing; its cancel routine unlinks it
      }
      messages[count].msg_hdr = outgoing_message(&addresses[count], address_length, connected,
                                                 iov + used, pieces, nullptr);
      messages[count].msg_len = 0;
      irps[count++] = irp;
      used += pieces;
    }
    if (count == 0) {
      break;
    }
    const int sent = net::sock::send_messages(s->fd, messages, count, 0);
    unsigned finished_count = 0;
    if (sent > 0) {
      for (; finished_count < static_cast<unsigned>(sent); ++finished_count) {
        finish_parked(s, queue_kind::send, irps[finished_count],
                      finished(STATUS_SUCCESS, messages[finished_count].msg_len), done);
      }
    } else if (sent < 0 && sent != -EAGAIN) {
      // The first datagram failed (sendmmsg reports an error only when none was sent): it
      // ends with that error, as its own sendmsg would have; the rest try again.
      finish_parked(s, queue_kind::send, irps[0], finished(status_from_errno(-sent)), done);
      finished_count = 1;
    }
    for (unsigned i = finished_count; i < count; ++i) {
      if (!repark(irps[i])) {
        finish_parked(s, queue_kind::send, irps[i], finished(STATUS_CANCELLED), done);
      }
    }
    if (finished_count == 0) {
      return; // the socket is full (EAGAIN): the next writable report resumes the queue
    }
  }
  resume_queue(s, queue_kind::send, try_send_entry, done);
}

attempt try_receive_from(socket_object *s, PIRP irp) {
  const buffer_view buffer = irp_args<receive_args>(irp).buffer;
  PULONG control_flags = irp_args<receive_args>(irp).control_flags;
  const receive_outputs &out = irp_progress<receive_outputs>(irp);
  void *control = out.control;
  void *remote_out = out.remote_out;
  PULONG control_length = out.control_length;
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
    // A truncated datagram completes with success; MSG_TRUNC says so (Windows names no status).
    return finished(STATUS_SUCCESS, static_cast<ULONG_PTR>(got));
  }
}

// The check every datagram call shares, under the lock.
NTSTATUS admit_bound(const socket_object *s) {
  return bound(s) ? STATUS_SUCCESS : STATUS_INVALID_DEVICE_STATE;
}

// A RemoteAddress given to a send: a Windows SOCKADDR of the socket's family.
bool remote_valid(const socket_object *s, const void *remote) {
  sockaddr_storage address;
  socklen_t length = 0;
  if (remote == nullptr || to_linux_address(remote, s->windows_family, address, length)) {
    return true;
  }
  socket_report_bad_address(s, remote, "WskSendTo");
  return false;
}

void datagram_resume_queues(socket_object *s, std::uint32_t events, completion_batch &done) {
  if ((events & (net::ev_in | net::ev_err | net::ev_hup)) != 0) {
    resume_queue(s, queue_kind::receive, try_receive_from, done);
  }
  if ((events & (net::ev_out | net::ev_err | net::ev_hup)) != 0) {
    resume_queue(s, queue_kind::send, try_send_entry, done);
  }
}

void datagram_on_events(socket_object *s, std::uint32_t events) {
  completion_batch done;
  std::unique_lock guard(s->lock);
  if (s->state == socket_state::closing) {
    return;
  }
  const bool readable = (events & (net::ev_in | net::ev_err | net::ev_hup)) != 0;
  note_readiness(s, events);
  datagram_resume_queues(s, loop_readiness(s, events), done);
  if (!readable || s->event_mask == 0) {
    // The IRPs finished here complete now, the lock dropped only around their completion
    // routines; anything else in `done` completes after `guard` released the lock.
    done.deliver_holding(s, guard);
    return;
  }
  done.complete_before_events(s, guard);
  events_deliver_datagram(s, guard, done);
}

void datagram_resume_receives(socket_object *s, completion_batch &done) {
  resume_queue(s, queue_kind::receive, try_receive_from, done);
}

// Datagram sockets have no connections waiting to be handed out. A receive-from event that
// closes its own socket first sends what it batched: those sends were accepted during the call.
// Datagrams the receive-from event refused are still held when the client never enabled the
// event again (rule V54).
void datagram_on_close_locked(socket_object *s, completion_batch &done) {
  if (batching_for == s) {
    send_batched(s, done);
  }
  if (s->ev.indicated && s->ev.indicated->refused != nullptr) {
    nt::verifier::warning(54,
                          "WskReceiveFromEvent returned STATUS_DATA_NOT_ACCEPTED, which disabled "
                          "the event, and the client closed the socket without enabling it again: "
                          "the refused datagrams were never received",
                          nt::verifier::objects_text("socket %p", static_cast<void *>(s)));
  }
}

} // namespace

const socket_behaviour datagram_behaviour = {datagram_on_events,
                                             datagram_resume_receives,
                                             datagram_on_close_locked,
                                             indications_free,
                                             datagram_resume_queues,
                                             nullptr,
                                             nullptr};

NTSTATUS socket_send_to(socket_object *s, const buffer_view *buffer, const void *remote,
                        ULONG control_length, const void *control, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  // Checked before anything moves; the state is checked last (start_operation).
  if (!buffer_valid(*buffer) || !remote_valid(s, remote)) {
    return irp_complete(irp, STATUS_INVALID_PARAMETER, 0);
  }
  send_args args{};
  args.buffer = *buffer;
  args.remote = remote;
  irp_record_init<send_args, send_rest>(irp, args);
  irp_progress<send_rest>(irp) = {control, control_length, false};
  // Made by the socket's own receive-from event, on its thread: it joins the event's batch.
  const bool later = batching_for == s && control_length == 0 && !fault::active();
  return start_operation(s, queue_kind::send, irp, later ? try_send_later : try_send_entry,
                         admit_bound);
}

void datagram_batch_sends(socket_object *s) {
  batching_for = send_batches_enabled() ? s : nullptr;
}

void datagram_send_batched(socket_object *s, completion_batch &done) {
  if (batching_for == s) {
    batching_for = nullptr;
    send_batched(s, done);
  }
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
  send_args args{};
  args.list = {list, 0};
  args.remote = remote;
  irp_record_init<send_args, send_rest>(irp, args);
  irp_progress<send_rest>(irp) = {control, control_length, true};
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
  irp_record_init<receive_args, receive_outputs>(irp, receive_args{*buffer, control_flags});
  irp_progress<receive_outputs>(irp) = {control, remote_out, control_length};
  return start_operation(s, queue_kind::receive, irp, try_receive_from, admit_bound);
}

} // namespace uwsk::wsk

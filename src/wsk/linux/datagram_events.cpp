// Datagram sockets' events (docs/wsk-behaviour.md, "WskReceiveFromEvent"), with lists of up to
// datagrams_per_indication datagrams read by one recvmmsg. The rules: docs/design.md, "Event
// callbacks".
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "net/socket_ops.hpp"
#include "wsk/linux/categories.hpp"
#include "wsk/linux/event_core.hpp"
#include "wsk/linux/indication.hpp"
#include "wsk/linux/translate.hpp"
#include "wsk/callbacks.hpp"

namespace uwsk::wsk {
namespace {

// Reads up to datagrams_per_indication datagrams into a list, with one recvmmsg. Returns its
// head (NULL when none was waiting); *failed is set when the socket reported an error other
// than "no data".
data_chunk *read_datagrams(socket_object *s, ULONG *flags, bool *failed) {
  constexpr unsigned batch = datagrams_per_indication;
  // Room for the Linux form of each datagram's control data.
  constexpr std::size_t control_room = 512;
  data_chunk *chunks[batch];
  iovec iov[batch];
  sockaddr_storage sources[batch];
  alignas(cmsghdr) unsigned char linux_control[batch][control_room];
  mmsghdr messages[batch];
  unsigned wanted = 0;
  for (; wanted < batch; ++wanted) {
    chunks[wanted] = chunk_get();
    if (chunks[wanted] == nullptr) {
      break;
    }
  }
  if (wanted == 0 && !s->read_drained) {
    events_retry_for_memory(s); // no chunk for a datagram: they wait in the kernel meanwhile
  }
  int got = 0;
  for (;;) {
    if (wanted == 0 || s->read_drained) {
      break;
    }
    for (unsigned i = 0; i < wanted; ++i) {
      iov[i] = {chunks[i]->bytes, chunk_capacity};
      msghdr &m = messages[i].msg_hdr;
      m = msghdr{};
      m.msg_name = &sources[i];
      m.msg_namelen = sizeof(sources[i]);
      m.msg_iov = &iov[i];
      m.msg_iovlen = 1;
      m.msg_control = linux_control[i];
      m.msg_controllen = control_room;
      messages[i].msg_len = 0;
    }
    got = net::sock::recv_messages(s->fd, messages, wanted, 0);
    note_read(s, got, wanted);
    if (got == -ECONNREFUSED || got == -EHOSTUNREACH || got == -ENETUNREACH) {
      continue; // an ICMP error for an earlier send is not this socket's failure
    }
    if (got < 0) {
      *failed = got != -EAGAIN;
      got = 0;
    }
    break;
  }
  count_out(static_cast<std::size_t>(got));
  data_chunk *head = nullptr;
  datagram_indication_view **tail = nullptr;
  for (unsigned i = 0; i < wanted; ++i) {
    data_chunk *c = chunks[i];
    if (i >= static_cast<unsigned>(got)) {
      chunk_put_back(c); // never counted
      continue;
    }
    const msghdr &m = messages[i].msg_hdr;
    c->owner = s;
    c->start = 0;
    c->length = messages[i].msg_len;
    std::memset(c->remote, 0, sizeof(c->remote));
    to_windows_address(reinterpret_cast<const sockaddr *>(&sources[i]), c->remote);
    const received_control translated = to_windows_control(m, c->control, sizeof(c->control));
    *flags |= translated.flags;
    c->datagram.next = nullptr;
    c->datagram.buffer = {c->mdl, 0, c->length};
    c->datagram.control = translated.length != 0 ? c->control : nullptr;
    c->datagram.control_length = static_cast<ULONG>(translated.length);
    c->datagram.remote = c->remote;
    if (head == nullptr) {
      head = c;
    } else {
      *tail = &c->datagram;
    }
    tail = &c->datagram.next;
  }
  return head;
}

} // namespace

void events_deliver_datagram(socket_object *s, std::unique_lock<socket_lock> &guard,
                             completion_batch &done) {
  for (int round = 0; round < max_indications; ++round) {
    if (closing(s) || s->state != socket_state::bound || !enabled(s, win::wsk_event_receive_from) ||
        events_give_way(s, queue_kind::receive)) {
      return;
    }
    ULONG flags = pressure_flags();
    data_chunk *head = s->ev.indicated ? s->ev.indicated->refused : nullptr;
    if (head != nullptr) {
      s->ev.indicated->refused = nullptr;
    }
    bool failed = false;
    if (head != nullptr) {
      discharge(s, head); // charged again when offered below
    } else {
      if (!may_read(s)) {
        return; // at the bound: datagrams wait in the kernel (which drops what overflows it)
      }
      head = read_datagrams(s, &flags, &failed);
    }
    if (head == nullptr) {
      if (failed && !s->ev.dead_indicated) {
        s->ev.dead_indicated = true;
        told_dead(s);
        run_callback(s, win::wsk_event_receive_from, guard, done,
                     [](category, const void *d, PVOID ctx) {
                       return call_receive_from_event(d, ctx, 0, nullptr);
                     });
      }
      return;
    }
    offer_retention(s, head, datagram_bytes(head), flags);
    datagram_batch_sends(s);
    const NTSTATUS status = run_callback(
        s, win::wsk_event_receive_from, guard, done, [&](category, const void *d, PVOID ctx) {
          return call_receive_from_event(d, ctx, flags, &head->datagram);
        });
    // The sends it made leave now, while the datagrams they may send from are still held.
    datagram_send_batched(s, done);
    if (status == STATUS_PENDING) {
      // The client keeps the list until WskRelease (which may have come already).
    } else if (!take_back(s, head)) {
      event_violation(31, false, s,
                      "WskRelease of a datagram indication list inside its WskReceiveFromEvent, "
                      "which then did not return STATUS_PENDING: a list is released only when "
                      "its callback retained it");
    } else if (status == STATUS_DATA_NOT_ACCEPTED && s->ev.receive_from_dynamic && !closing(s)) {
      // Enabled with SO_WSK_EVENT_CALLBACK: the event is now disabled, and these datagrams are
      // indicated again when the client enables it again, as Windows documents.
      s->event_mask &= ~win::wsk_event_receive_from;
      s->ev.receive_from_dynamic = false;
      s->ev.indicated->refused = head; // charged: the socket has its indication_state
      return;
    } else {
      if (status != STATUS_SUCCESS && status != STATUS_DATA_NOT_ACCEPTED) {
        event_violation(54, false, s,
                        "WskReceiveFromEvent returned a status other than STATUS_SUCCESS, "
                        "STATUS_DATA_NOT_ACCEPTED and STATUS_PENDING; the datagrams are dropped");
      }
      // Consumed, or refused while enabled statically: the event stays on and the datagrams
      // are dropped.
      discharge(s, head);
      free_datagram_list(head);
    }
    if (!IsListEmpty(&s->queue(queue_kind::receive))) {
      s->behaviour->resume_receives(s, done);
    }
  }
  socket_kick_locked(s); // more may be waiting
}

} // namespace uwsk::wsk

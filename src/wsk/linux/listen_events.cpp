// Listening sockets' events (docs/wsk-behaviour.md, "Event callbacks"): WskAcceptEvent, conditional
// accept (WskInspectEvent, WskAbortEvent, WskInspectComplete) and the connections waiting in
// between. The rules: docs/design.md, "Event callbacks".
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>

#include "net/socket_ops.hpp"
#include "wsk/linux/event_core.hpp"
#include "wsk/provider_new.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/linux/translate.hpp"
#include "wsk/callbacks.hpp"

namespace uwsk::wsk {
namespace {

// How often connections awaiting inspection are checked for a peer that gave up.
constexpr auto abort_poll = std::chrono::milliseconds(50);

// What accept4 said about a connection: the peer's address (family AF_UNSPEC when it said
// nothing).
struct accepted_peer {
  sockaddr_storage address{};
};

// Whether a listener bound to this Linux address accepts connections on other local addresses:
// a wildcard (INADDR_ANY, in6addr_any, or the IPv4-mapped ::ffff:0.0.0.0 of a dual-stack
// socket), or a family not known here, whose connections' addresses are read each time.
bool wildcard(const sockaddr_storage &a) {
  if (a.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in &>(a).sin_addr.s_addr == htonl(INADDR_ANY);
  }
  if (a.ss_family != AF_INET6) {
    return true;
  }
  const in6_addr &v6 = reinterpret_cast<const sockaddr_in6 &>(a).sin6_addr;
  return IN6_IS_ADDR_UNSPECIFIED(&v6) ||
         (IN6_IS_ADDR_V4MAPPED(&v6) && std::memcmp(&v6.s6_addr[12], "\0\0\0\0", 4) == 0);
}

// The listener's own address when it is the local address of the connections it accepts (not
// a wildcard), read once (listener_events::own_local); NULL otherwise.
const unsigned char *listener_own_local(socket_object *s) {
  listener_events &l = *s->rare->listener;
  if (l.own_kind == listener_events::own_address::unread) {
    sockaddr_storage a{};
    socklen_t length = sizeof(a);
    if (net::sock::local_address(s->fd, reinterpret_cast<sockaddr *>(&a), &length) != 0) {
      return nullptr; // read again next time
    }
    l.own_kind = wildcard(a) ? listener_events::own_address::wildcard
                             : listener_events::own_address::specific;
    to_windows_address(reinterpret_cast<const sockaddr *>(&a), l.own_local);
  }
  return l.own_kind == listener_events::own_address::specific ? l.own_local : nullptr;
}

// The local and remote address of a connected fd, in Windows layout. The local one is
// `listener_local` when given (the listener's own specific address), else read now; the remote
// one is what accept4 reported when `peer` has it (it costs no system call, and a connection
// reset before the callback no longer has a peer name to read), else the peer name read now.
void addresses_of(int fd, const unsigned char *listener_local, const accepted_peer *peer,
                  unsigned char (&local)[32], unsigned char (&remote)[32]) {
  sockaddr_storage a{};
  socklen_t length = sizeof(a);
  std::memset(local, 0, sizeof(local));
  std::memset(remote, 0, sizeof(remote));
  if (listener_local != nullptr) {
    std::memcpy(local, listener_local, sizeof(local));
  } else if (net::sock::local_address(fd, reinterpret_cast<sockaddr *>(&a), &length) == 0) {
    to_windows_address(reinterpret_cast<const sockaddr *>(&a), local);
  }
  if (peer != nullptr && peer->address.ss_family != AF_UNSPEC) {
    to_windows_address(reinterpret_cast<const sockaddr *>(&peer->address), remote);
    return;
  }
  length = sizeof(a);
  if (net::sock::peer_address(fd, reinterpret_cast<sockaddr *>(&a), &length) == 0) {
    to_windows_address(reinterpret_cast<const sockaddr *>(&a), remote);
  }
}

// Resets a connection the client will never see and frees its socket.
void reset_and_destroy(socket_object *a) {
  const linger reset{1, 0};
  net::sock::set_option(a->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  destroy_unpublished(a);
}

// Accepts one connection from the kernel's queue, with its peer's address. Returns the fd,
// -EAGAIN when none is waiting, or another -errno when the listener failed.
int accept_one(socket_object *s, accepted_peer &peer) {
  for (;;) {
    socklen_t length = sizeof(peer.address);
    peer.address.ss_family = AF_UNSPEC;
    const int fd = net::sock::accept(s->fd, reinterpret_cast<sockaddr *>(&peer.address), &length);
    // A connection that died in the backlog is not the listener's failure.
    if (fd == -ECONNABORTED || fd == -EPROTO) {
      continue;
    }
    // Out of descriptors or memory: the connections stay queued for a later pass.
    if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
      return -EAGAIN;
    }
    return fd;
  }
}

// The listener failed: the accept event (or inspect event) hears it once, with NULL.
void indicate_dead_listener(socket_object *s, std::unique_lock<socket_lock> &guard,
                            completion_batch &done) {
  if (s->ev.dead_indicated) {
    return;
  }
  s->ev.dead_indicated = true;
  told_dead(s);
  if (s->conditional_accept) {
    void *id_copy = s->rare->listener->callback_inspect_id;
    run_callback(s, inspect_running, guard, done, [&](category cat, const void *d, PVOID ctx) {
      return call_inspect_event(cat, d, ctx, nullptr, nullptr, id_copy, 0, 0, true);
    });
  } else if (enabled(s, win::wsk_event_accept)) {
    run_callback(s, win::wsk_event_accept, guard, done, [](category cat, const void *d, PVOID ctx) {
      PVOID unused_context = nullptr;
      const void *unused_dispatch = nullptr;
      return call_accept_event(cat, d, ctx, nullptr, nullptr, nullptr, &unused_context,
                               &unused_dispatch);
    });
  }
}

// The listener's copies of a callback's addresses and inspect ID are poisoned once the callback
// returned (rules V57, V59; listener_events::callback_local).
void poison_callback_copies(socket_object *s) {
  std::memset(s->rare->listener->callback_local, callback_poison,
              sizeof s->rare->listener->callback_local);
  std::memset(s->rare->listener->callback_remote, callback_poison,
              sizeof s->rare->listener->callback_remote);
  std::memset(s->rare->listener->callback_inspect_id, callback_poison,
              sizeof s->rare->listener->callback_inspect_id);
}

// Accepts one connection for the events, as a held socket (adopt_accepted). NULL when none is
// waiting, when the socket could not be made (the connection is dropped), or when the listener
// failed (after telling the client, indicate_dead_listener).
socket_object *accept_held(socket_object *s, std::unique_lock<socket_lock> &guard,
                           completion_batch &done, accepted_peer &peer) {
  const int fd = accept_one(s, peer);
  if (fd == -EAGAIN) {
    return nullptr;
  }
  if (fd < 0) {
    indicate_dead_listener(s, guard, done);
    return nullptr;
  }
  socket_object *a = adopt_accepted(s, fd, nullptr, nullptr, true);
  if (a == nullptr) {
    net::sock::close(fd);
    // Connections behind it make no new readiness report: the next pass takes them.
    socket_kick_locked(s);
  }
  return a;
}

// Whether `a` is still on the listener's list of pended requests.
bool still_inspecting(socket_object *s, const socket_object *a) {
  for (PLIST_ENTRY link = s->rare->listener->inspecting.Flink;
       link != &s->rare->listener->inspecting; link = link->Flink) {
    if (link == &a->ev.inspected->link.entry) {
      return true;
    }
  }
  return false;
}

// Whether the peer of a connection awaiting inspection or acceptance gave up.
bool peer_gave_up(const socket_object *a) {
  pollfd p{a->fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void on_abort_timer(net::timer *t) {
  socket_object *s = static_cast<socket_timer *>(t)->owner;
  completion_batch done;
  std::unique_lock guard(s->lock);
  if (closing(s)) {
    return;
  }
  for (LIST_ENTRY *list : {&s->rare->listener->inspecting, &s->rare->listener->ready}) {
    PLIST_ENTRY link = list->Flink;
    while (link != list) {
      PLIST_ENTRY next = link->Flink;
      socket_object *a = CONTAINING_RECORD(link, socket_link, entry)->owner;
      if (peer_gave_up(a)) {
        RemoveEntryList(link);
        InitializeListHead(link);
        const ULONG_PTR key = a->ev.inspected->key;
        const ULONG serial = a->ev.inspected->serial;
        reset_and_destroy(a);
        void *id_copy = s->rare->listener->callback_inspect_id;
        const NTSTATUS status = run_callback(
            s, inspect_running, guard, done, [&](category cat, const void *d, PVOID ctx) {
              return call_abort_event(cat, d, ctx, id_copy, key, serial);
            });
        poison_callback_copies(s);
        if (status != STATUS_SUCCESS) {
          event_violation(52, true, s, "WskAbortEvent must return STATUS_SUCCESS");
        }
        if (closing(s)) {
          return;
        }
        next = list->Flink; // the list may have changed while the lock was dropped
      }
      link = next;
    }
  }
  if (!IsListEmpty(&s->rare->listener->inspecting) || !IsListEmpty(&s->rare->listener->ready)) {
    s->loop->arm_timer(&s->rare->listener->abort_timer, net::timer::clock::now() + abort_poll);
  }
}

// Arms the inspection timer of a listener, unless it is armed.
void arm_abort_timer(socket_object *s) {
  if (!s->rare->listener->abort_timer.armed()) {
    s->rare->listener->abort_timer.on_expire = on_abort_timer;
    s->loop->arm_timer(&s->rare->listener->abort_timer, net::timer::clock::now() + abort_poll);
  }
}

} // namespace

void deliver_accepts(socket_object *s, std::unique_lock<socket_lock> &guard,
                     completion_batch &done) {
  for (int round = 0; round < max_accepts; ++round) {
    if (closing(s) || s->state != socket_state::listening || !enabled(s, win::wsk_event_accept) ||
        events_give_way(s, queue_kind::accept)) {
      return;
    }
    if (v56_socket_dies(s, "the listener stops working: WskAcceptEvent (or WskInspectEvent) gets "
                           "a NULL socket")) {
      net::sock::shutdown(s->fd, SHUT_RDWR); // later accepts fail as on a dead listener
      indicate_dead_listener(s, guard, done);
      return;
    }
    socket_object *a = nullptr;
    accepted_peer peer;
    if (s->conditional_accept) {
      a = events_take_ready(s); // accepted earlier: its peer is read again
      if (a == nullptr) {
        return;
      }
    } else {
      a = accept_held(s, guard, done, peer);
      if (a == nullptr) {
        return;
      }
    }
    unsigned char(&local)[32] = s->rare->listener->callback_local;
    unsigned char(&remote)[32] = s->rare->listener->callback_remote;
    addresses_of(a->fd, listener_own_local(s), &peer, local, remote);
    PVOID accepted_context = nullptr;
    const void *accepted_dispatch = nullptr;
    const NTSTATUS status = run_callback(
        s, win::wsk_event_accept, guard, done, [&](category cat, const void *d, PVOID ctx) {
          return call_accept_event(cat, d, ctx, local, remote, a, &accepted_context,
                                   &accepted_dispatch);
        });
    // The addresses were valid only during the call (rule V59).
    poison_callback_copies(s);
    if (status != STATUS_SUCCESS) {
      if (status != STATUS_REQUEST_NOT_ACCEPTED) {
        event_violation(52, false, s,
                        "WskAcceptEvent returned neither STATUS_SUCCESS nor "
                        "STATUS_REQUEST_NOT_ACCEPTED; the connection is rejected");
      }
      socket_refuse(a);     // a call on it is reported from now on (rule V55)
      reset_and_destroy(a); // the client must never see this socket again
      continue;
    }
    // Connection events enabled on the listener apply to sockets accepted here.
    const ULONG inherited = s->event_mask & connection_events;
    std::lock_guard accepted_guard(a->lock);
    a->context = accepted_context;
    a->client_dispatch = accepted_dispatch;
    a->event_mask |= inherited;
    a->ev.held = false;
    socket_kick_locked(a); // data that arrived meanwhile (event rule 6)
  }
  socket_kick_locked(s); // more may be waiting
}

void events_inspect(socket_object *s, std::unique_lock<socket_lock> &guard,
                    completion_batch &done) {
  for (int round = 0; round < max_accepts; ++round) {
    if (closing(s) || s->state != socket_state::listening || !s->conditional_accept) {
      return;
    }
    accepted_peer peer;
    socket_object *a = accept_held(s, guard, done, peer);
    if (a == nullptr) {
      return;
    }
    a->ev.inspected.reset(provider_new<inspection>());
    if (!a->ev.inspected) {
      reset_and_destroy(a); // no memory to keep it pended: the peer sees a reset
      continue;
    }
    inspection &in = *a->ev.inspected;
    in.link.owner = a;
    in.key = reinterpret_cast<ULONG_PTR>(a);
    in.serial = ++s->rare->listener->next_serial;
    unsigned char(&local)[32] = s->rare->listener->callback_local;
    unsigned char(&remote)[32] = s->rare->listener->callback_remote;
    addresses_of(a->fd, listener_own_local(s), &peer, local, remote);
    void *id_copy = s->rare->listener->callback_inspect_id;
    const ULONG_PTR key = in.key;
    const ULONG serial = in.serial;
    // Listed as pending before the callback runs: the client may hand the ID to another thread
    // that calls WskInspectComplete before the callback even returns.
    InsertTailList(&s->rare->listener->inspecting, &in.link.entry);
    const inspect_action action =
        run_callback(s, inspect_running, guard, done, [&](category cat, const void *d, PVOID ctx) {
          return call_inspect_event(cat, d, ctx, local, remote, id_copy, key, serial, false);
        });
    poison_callback_copies(s);
    if (!still_inspecting(s, a)) {
      // WskInspectComplete already decided (and may have freed the connection).
      if (action != inspect_action::pend) {
        event_violation(37, false, s,
                        "WskInspectComplete for a request inside the WskInspectEvent that then "
                        "did not return WskInspectPend; only a pended request is completed so");
      }
      continue;
    }
    if (closing(s)) {
      return; // the close resets everything on the inspection lists
    }
    switch (action) {
    case inspect_action::accept:
      RemoveEntryList(&in.link.entry);
      InsertTailList(&s->rare->listener->ready, &in.link.entry);
      break;
    case inspect_action::pend:
      break;
    case inspect_action::invalid:
      event_violation(52, false, s,
                      "WskInspectEvent returned an action other than WskInspectReject, "
                      "WskInspectAccept and WskInspectPend; the request is rejected");
      [[fallthrough]];
    case inspect_action::reject:
      // Linux completed the handshake already: the peer sees the connection reset
      // (docs/divergences.md, D26).
      RemoveEntryList(&in.link.entry);
      InitializeListHead(&in.link.entry);
      reset_and_destroy(a);
      continue;
    }
    arm_abort_timer(s);
  }
  socket_kick_locked(s); // more may be waiting
}

socket_object *events_take_ready(socket_object *s) {
  if (!s->rare || !s->rare->listener || IsListEmpty(&s->rare->listener->ready)) {
    return nullptr;
  }
  PLIST_ENTRY link = RemoveHeadList(&s->rare->listener->ready);
  InitializeListHead(link);
  return CONTAINING_RECORD(link, socket_link, entry)->owner;
}

NTSTATUS events_inspect_id(socket_object *s, void *output, SIZE_T output_size, SIZE_T *written) {
  std::lock_guard guard(s->lock);
  if (!s->ev.inspected) {
    event_violation(37, false, s,
                    "SIO_WSK_QUERY_INSPECT_ID on a socket not accepted through conditional "
                    "accept: STATUS_INVALID_DEVICE_REQUEST");
    return STATUS_INVALID_DEVICE_REQUEST;
  }
  constexpr SIZE_T id_size = sizeof(ULONG_PTR) * 2; // WSK_INSPECT_ID: Key, SerialNumber, padding
  if (output == nullptr || output_size < id_size) {
    *written = id_size;
    return STATUS_BUFFER_TOO_SMALL;
  }
  auto *out = static_cast<unsigned char *>(output);
  std::memset(out, 0, id_size);
  std::memcpy(out, &s->ev.inspected->key, sizeof(ULONG_PTR));
  std::memcpy(out + sizeof(ULONG_PTR), &s->ev.inspected->serial, sizeof(ULONG));
  *written = id_size;
  return STATUS_SUCCESS;
}

void events_on_close_locked(socket_object *s, completion_batch & /*done*/) {
  if (!s->rare || !s->rare->listener) {
    return; // not a socket that can listen: nothing pended or ready
  }
  for (LIST_ENTRY *list : {&s->rare->listener->inspecting, &s->rare->listener->ready}) {
    while (!IsListEmpty(list)) {
      PLIST_ENTRY link = RemoveHeadList(list);
      InitializeListHead(link);
      reset_and_destroy(CONTAINING_RECORD(link, socket_link, entry)->owner);
    }
  }
}

NTSTATUS socket_inspect_complete(socket_object *s, ULONG_PTR key, ULONG serial, bool accept,
                                 PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  socket_object *a = nullptr;
  NTSTATUS status = STATUS_SUCCESS;
  {
    std::lock_guard guard(s->lock);
    if (!s->conditional_accept || s->state != socket_state::listening) {
      status = STATUS_INVALID_DEVICE_STATE;
    } else {
      status = STATUS_INVALID_PARAMETER; // not a pended request
      for (PLIST_ENTRY link = s->rare->listener->inspecting.Flink;
           link != &s->rare->listener->inspecting; link = link->Flink) {
        socket_object *candidate = CONTAINING_RECORD(link, socket_link, entry)->owner;
        if (candidate->ev.inspected->key == key && candidate->ev.inspected->serial == serial) {
          RemoveEntryList(link);
          InitializeListHead(link);
          a = candidate;
          status = STATUS_SUCCESS;
          break;
        }
      }
      if (a != nullptr && accept) {
        InsertTailList(&s->rare->listener->ready, &a->ev.inspected->link.entry);
        socket_kick_locked(s); // a queued WskAccept or the accept event takes it
        a = nullptr;
      }
    }
  }
  if (a != nullptr) {
    reset_and_destroy(a); // rejected
  }
  if (status == STATUS_INVALID_DEVICE_STATE) {
    event_violation(37, false, s,
                    "WskInspectComplete on a socket that is not a listening socket with "
                    "SO_CONDITIONAL_ACCEPT: STATUS_INVALID_DEVICE_STATE");
  } else if (status == STATUS_INVALID_PARAMETER) {
    char sentence[320];
    std::snprintf(sentence, sizeof sentence,
                  "WskInspectComplete for inspect ID {Key 0x%llx, SerialNumber %lu}, not a "
                  "request pended by WskInspectEvent (completed already, or never pended): "
                  "STATUS_INVALID_PARAMETER",
                  static_cast<unsigned long long>(key), static_cast<unsigned long>(serial));
    event_violation(37, false, s, sentence);
  }
  return irp_complete(irp, status, 0);
}

} // namespace uwsk::wsk

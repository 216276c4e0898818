// SIO_ADDRESS_LIST_CHANGE (Linux half): the waiting IRPs and the netlink address watcher
// (linux/address_watch.hpp).
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include <uwsk/log.h>

#include "wsk/irp_ops.hpp"
#include "wsk/linux/address_watch.hpp"

namespace uwsk::wsk {
namespace {

// Parked IRPs wait on one process-wide list; a netlink socket subscribed to the address groups
// of both families completes those of the family that changed. Each IRP has a cancel routine;
// its owner (irp_set_owner) is its socket, its operation record holds the family.

struct address_watch {
  std::mutex lock;
  parked_list waiters; // guarded by lock
  bool started = false;
  net::loop *loop = nullptr; // an engine loop, chosen with the first waiter
  net::watcher watcher;
  net::task attach;
};

address_watch &watch() {
  static auto *instance = new address_watch; // never destroyed: loop threads may outlive exit
  return *instance;
}

// An SIO_ADDRESS_LIST_CHANGE IRP's record: the family whose address list it waits on.
struct no_arguments {};
struct address_waiter {
  int family = 0;
};

int waiter_family(PIRP irp) {
  return irp_progress<address_waiter>(irp).family;
}

// Completes the waiters that `matches` selects with `status`, outside the lock.
template <typename Match> void complete_waiters(Match matches, NTSTATUS status) {
  address_watch &w = watch();
  completion_batch done;
  std::lock_guard guard(w.lock);
  w.waiters.take_if(matches, [&](PIRP irp) { done.add(irp, status, 0); });
  // `done` completes after `guard` released the lock (declared first, destroyed last).
}

VOID NTAPI cancel_address_change(PDEVICE_OBJECT, PIRP irp) {
  IoReleaseCancelSpinLock(irp->CancelIrql);
  {
    std::lock_guard guard(watch().lock);
    parked_list::unlink(irp);
  }
  irp_complete(irp, STATUS_CANCELLED, 0);
}

// Reads every pending netlink message (the watcher is edge-triggered) and completes the waiters
// of each family whose address list changed. A lost message (ENOBUFS) counts as a change of
// both.
void on_netlink_events(net::watcher *watcher, std::uint32_t) {
  bool changed_v4 = false;
  bool changed_v6 = false;
  alignas(nlmsghdr) char buffer[8192];
  for (;;) {
    const ssize_t received = ::recv(watcher->fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (received < 0) {
      if (errno == ENOBUFS) {
        changed_v4 = changed_v6 = true;
        continue;
      }
      if (errno == EINTR) {
        continue;
      }
      break; // EAGAIN: drained
    }
    auto remaining = static_cast<unsigned>(received);
    for (auto *header = reinterpret_cast<nlmsghdr *>(buffer); NLMSG_OK(header, remaining);
         header = NLMSG_NEXT(header, remaining)) {
      if (header->nlmsg_type != RTM_NEWADDR && header->nlmsg_type != RTM_DELADDR) {
        continue;
      }
      const auto *message = static_cast<const ifaddrmsg *>(NLMSG_DATA(header));
      changed_v4 |= message->ifa_family == AF_INET;
      changed_v6 |= message->ifa_family == AF_INET6;
    }
  }
  if (changed_v4 || changed_v6) {
    complete_waiters(
        [&](PIRP irp) {
          const int family = waiter_family(irp);
          return (family == AF_INET && changed_v4) || (family == AF_INET6 && changed_v6);
        },
        STATUS_SUCCESS);
  }
}

// Opens the netlink socket and its loop, once. Without them (a sandbox without netlink) the
// IRPs still pend and are completed by cancellation or close; that is logged once.
void start_watch(address_watch &w) {
  if (w.started) {
    return;
  }
  w.started = true;
  const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr *>(&local), sizeof(local)) != 0) {
    uwsk_log_message("wsk",
                     "SIO_ADDRESS_LIST_CHANGE: no netlink route socket (errno %d); "
                     "address changes will not be reported",
                     errno);
    if (fd >= 0) {
      ::close(fd);
    }
    return;
  }
  w.loop = provider_loop(); // a loop of the engine, so that the unload barrier covers it
  if (w.loop == nullptr) {
    uwsk_log_message("wsk", "SIO_ADDRESS_LIST_CHANGE: no event loop");
    ::close(fd);
    return;
  }
  w.watcher.fd = fd;
  w.watcher.on_events = on_netlink_events;
  w.attach.run = [](net::task *) { watch().loop->add(&watch().watcher, net::ev_in); };
  w.loop->post(&w.attach);
}

} // namespace

NTSTATUS address_watch_park(socket_object *s, PIRP irp) {
  address_watch &w = watch();
  irp_set_owner(irp, s);
  irp_record_init<no_arguments, address_waiter>(irp, no_arguments{});
  irp_progress<address_waiter>(irp).family = s->family;
  std::lock_guard guard(w.lock);
  start_watch(w);
  if (!w.waiters.park(irp, cancel_address_change)) { // completed by the caller
    return STATUS_CANCELLED;
  }
  return STATUS_PENDING;
}

void address_watch_release(socket_object *s) {
  complete_waiters([s](PIRP irp) { return irp_owner<socket_object>(irp) == s; }, STATUS_CANCELLED);
}

} // namespace uwsk::wsk

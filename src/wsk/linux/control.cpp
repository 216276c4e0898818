// WskControlSocket, Linux half: socket options through the one option table (linux/translate.hpp),
// the options the provider emulates, and the IOCTLs. The Windows half (windows/control.cpp) has
// already checked the request type, the IRP rule, the category and the IRQL.
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <vector>

#include <uwsk/log.h>

#include "net/socket_ops.hpp"
#include "nt/dbg/verifier.hpp"
#include "win_constants.hpp"
#include "wsk/linux/address_watch.hpp"
#include "wsk/linux/events.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/linux/sharing.hpp"
#include "wsk/provider_new.hpp"
#include "wsk/linux/socket.hpp"
#include "wsk/linux/translate.hpp"
#include "wsk/control.hpp"

namespace uwsk::wsk {
namespace {

// ---- Options --------------------------------------------------------------------------------

// The boolean options the provider keeps itself (the option table marks them emulated). The
// bind consults SO_REUSEADDR and SO_EXCLUSIVEADDRUSE (linux/sharing.cpp); SO_CONDITIONAL_ACCEPT
// turns on the inspection of incoming connections of a listening socket.
struct emulated_flag {
  ULONG name; // at SOL_SOCKET
  bool socket_object::*field;
};
constexpr emulated_flag emulated_flags[] = {
    {win::so_reuseaddr, &socket_object::reuse_address},
    {win::so_exclusiveaddruse, &socket_object::exclusive_address},
    {win::so_conditional_accept, &socket_object::conditional_accept},
};

const emulated_flag *emulated(const option_mapping &option) {
  for (const auto &flag : emulated_flags) {
    if (option.windows_level == win::sol_socket && option.windows_name == flag.name) {
      return &flag;
    }
  }
  return nullptr;
}

bool listens(const socket_object *s) {
  return s->cat == category::listen || s->cat == category::stream;
}

NTSTATUS set_socket_option(socket_object *s, const control_request &r) {
  const option_mapping *option = find_option(r.level, r.name);
  if (option == nullptr) {
    return STATUS_INVALID_PARAMETER; // an unknown (level, name); Windows names no status
  }
  std::lock_guard guard(s->lock);
  // Windows accepts these only before bind (rule V64; IPV6_V6ONLY too, as Winsock documents);
  // the status for the wrong state is uwsk's (docs/wsk-behaviour.md, "Socket states").
  if ((option->flags & option_set_before_bind) != 0 && s->state != socket_state::created) {
    nt::verifier::warning(64,
                          "a socket option Windows accepts only before bind was set after it; "
                          "it fails with STATUS_INVALID_DEVICE_STATE",
                          nt::verifier::objects_text("socket %p, option level %lu name %lu",
                                                     static_cast<void *>(s),
                                                     static_cast<unsigned long>(r.level),
                                                     static_cast<unsigned long>(r.name)),
                          reinterpret_cast<ULONG_PTR>(s));
    return STATUS_INVALID_DEVICE_STATE;
  }
  if ((option->flags & option_emulated) == 0) {
    return set_option(s->fd, *option, r.input, r.input_size);
  }
  const emulated_flag *flag = emulated(*option);
  if (flag == nullptr) {
    return STATUS_INVALID_PARAMETER; // SO_WSK_* options arrive through their own operations
  }
  bool value = false;
  const NTSTATUS status = read_bool_option(*option, r.input, r.input_size, value);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  if (flag->field == &socket_object::conditional_accept && !listens(s)) {
    return STATUS_INVALID_PARAMETER; // only a listening socket inspects connections
  }
  // Winsock refuses to set one of the two sharing options while the other is set.
  if (value && ((flag->field == &socket_object::reuse_address && s->exclusive_address) ||
                (flag->field == &socket_object::exclusive_address && s->reuse_address))) {
    return STATUS_INVALID_PARAMETER;
  }
  s->*(flag->field) = value;
  return STATUS_SUCCESS;
}

NTSTATUS get_socket_option(socket_object *s, const control_request &r, SIZE_T *written) {
  const option_mapping *option = find_option(r.level, r.name);
  if (option == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  std::size_t bytes = 0;
  NTSTATUS status;
  if ((option->flags & option_emulated) == 0) {
    status = get_option(s->fd, *option, r.output, r.output_size, &bytes);
  } else if (const emulated_flag *flag = emulated(*option); flag != nullptr) {
    std::lock_guard guard(s->lock);
    status = write_bool_option(*option, s->*(flag->field), r.output, r.output_size, &bytes);
  } else {
    status = STATUS_INVALID_PARAMETER;
  }
  *written = bytes;
  return status;
}

// SO_WSK_SECURITY set: the socket keeps a reference of its own on the cached descriptor, so the
// client may release its own reference whenever it likes once the call has completed.
NTSTATUS set_security(socket_object *s, PVOID descriptor) {
  if (descriptor != nullptr && !security_descriptor_add_reference(descriptor)) {
    return STATUS_INVALID_PARAMETER; // not a descriptor from WSK_CACHE_SD
  }
  PVOID dropped = descriptor; // the reference to drop: the new one if refused, else the old
  NTSTATUS status = STATUS_SUCCESS;
  {
    std::lock_guard guard(s->lock);
    if (s->state != socket_state::created) {
      status = STATUS_INVALID_DEVICE_STATE; // set before bind only (rule V64)
    } else if (descriptor == nullptr && !s->rare) {
      // NULL (the default descriptor) on a socket that holds none: nothing changes.
    } else if (socket_rare_of(s) == nullptr) {
      status = STATUS_INSUFFICIENT_RESOURCES;
    } else {
      dropped = s->rare->security;
      s->rare->security = descriptor;
    }
  }
  if (dropped != nullptr) {
    security_descriptor_release(dropped);
  }
  return status;
}

// SO_WSK_SECURITY get: a new reference for the client, which releases it with WSK_RELEASE_SD. A
// socket without a descriptor reports NULL (the default descriptor), which needs no release.
NTSTATUS get_security(socket_object *s, const control_request &r, SIZE_T *written) {
  if (r.output == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  if (r.output_size < sizeof(PVOID)) {
    return STATUS_BUFFER_TOO_SMALL;
  }
  PVOID descriptor;
  {
    std::lock_guard guard(s->lock);
    descriptor = s->rare ? s->rare->security : nullptr;
    if (descriptor != nullptr) {
      security_descriptor_add_reference(descriptor);
    }
  }
  std::memcpy(r.output, &descriptor, sizeof(descriptor));
  *written = sizeof(descriptor);
  return STATUS_SUCCESS;
}

// ---- Fixed datagram addresses -----------------------------------------------------------------

// Dissolves the association of a connected UDP socket (connect to AF_UNSPEC). Linux then also
// forgets a port it chose itself (a bind to port 0), so the socket is bound again to the address
// it had. Returns 0 or -errno.
int disconnect_datagram(socket_object *s) {
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  int result = net::sock::local_address(s->fd, reinterpret_cast<sockaddr *>(&bound), &length);
  sockaddr unspecified{};
  unspecified.sa_family = AF_UNSPEC;
  if (result == 0) {
    result = net::sock::connect(s->fd, &unspecified, sizeof(unspecified));
  }
  sockaddr_storage now{};
  socklen_t now_length = sizeof(now);
  if (result == 0 &&
      net::sock::local_address(s->fd, reinterpret_cast<sockaddr *>(&now), &now_length) == 0) {
    // The port sits at the same offset in sockaddr_in and sockaddr_in6.
    const auto port = [](const sockaddr_storage &a) {
      return reinterpret_cast<const sockaddr_in &>(a).sin_port;
    };
    if (port(now) != port(bound)) {
      result = net::sock::bind(s->fd, reinterpret_cast<const sockaddr *>(&bound), length);
    }
  }
  return result;
}

// SIO_WSK_SET_REMOTE_ADDRESS (remote = true) and SIO_WSK_SET_SENDTO_ADDRESS. The remote address
// also connects the Linux socket, so that the kernel drops datagrams from any other source;
// the datagram code sends to whichever address is fixed (linux/datagram.cpp).
NTSTATUS set_fixed_address(socket_object *s, const control_request &r, bool remote) {
  const bool clear = r.input == nullptr || r.input_size == 0;
  sockaddr_storage address{};
  socklen_t length = 0;
  if (!clear && r.input_size < windows_sockaddr_size(s->windows_family)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (!clear && !to_linux_address(r.input, s->windows_family, address, length)) {
    socket_report_bad_address(s, r.input,
                              remote ? "SIO_WSK_SET_REMOTE_ADDRESS" : "SIO_WSK_SET_SENDTO_ADDRESS");
    return STATUS_INVALID_PARAMETER;
  }
  std::lock_guard guard(s->lock);
  if (s->state != socket_state::bound) {
    return STATUS_INVALID_DEVICE_STATE; // after bind only, as Windows documents
  }
  if (!s->rare || !s->rare->fixed) {
    if (clear) {
      // Nothing is fixed; clearing the remote address still disconnects the Linux socket.
      const int result = remote ? disconnect_datagram(s) : 0;
      return result != 0 ? status_from_errno(-result) : STATUS_SUCCESS;
    }
    socket_rare *rare = socket_rare_of(s);
    if (rare == nullptr) {
      return STATUS_INSUFFICIENT_RESOURCES;
    }
    rare->fixed.reset(provider_new<fixed_addresses>());
    if (!rare->fixed) {
      return STATUS_INSUFFICIENT_RESOURCES;
    }
  }
  if (remote) {
    const int result =
        clear ? disconnect_datagram(s)
              : net::sock::connect(s->fd, reinterpret_cast<const sockaddr *>(&address), length);
    if (result != 0) {
      return status_from_errno(-result);
    }
    s->rare->fixed->remote = address;
    s->rare->fixed->remote_length = length;
  } else {
    s->rare->fixed->sendto = address;
    s->rare->fixed->sendto_length = length;
  }
  return STATUS_SUCCESS;
}

// ---- Connection queries -------------------------------------------------------------------------

NTSTATUS write_size(const control_request &r, SIZE_T value, SIZE_T *written) {
  std::memcpy(r.output, &value, sizeof(value)); // the Windows half checked the output size
  *written = sizeof(value);
  return STATUS_SUCCESS;
}

bool connected(socket_object *s) {
  std::lock_guard guard(s->lock);
  return s->state == socket_state::connected;
}

// SIO_WSK_QUERY_IDEAL_SEND_BACKLOG. Windows derives the ideal backlog from the connection's
// bandwidth-delay product (how it does is not documented). Linux
// auto-tunes the send buffer from the same quantity, so the ideal backlog reported is the data
// part of the current send buffer: half of SO_SNDBUF, as Linux reserves the other half for its
// bookkeeping (the same halving get_option applies to SO_SNDBUF).
NTSTATUS query_send_backlog(socket_object *s, const control_request &r, SIZE_T *written) {
  if (!connected(s)) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  SIZE_T ideal = 0;
  const int result = ideal_send_backlog(s, &ideal);
  if (result != 0) {
    return status_from_errno(-result);
  }
  return write_size(r, ideal, written);
}

// SIO_WSK_QUERY_RECEIVE_BACKLOG: the bytes received and not yet read (FIONREAD).
NTSTATUS query_receive_backlog(socket_object *s, const control_request &r, SIZE_T *written) {
  if (!connected(s)) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  int pending = 0;
  if (::ioctl(s->fd, FIONREAD, &pending) != 0) {
    return status_from_errno(errno);
  }
  return write_size(r, static_cast<SIZE_T>(pending), written);
}

// ---- Local addresses
// ------------------------------------------------------------------------------

// The addresses of a Linux family on interfaces that are up, loopback included (a socket can
// bind them all).
std::vector<sockaddr_storage> local_addresses(int family) {
  std::vector<sockaddr_storage> addresses;
  ifaddrs *list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return addresses;
  }
  for (const ifaddrs *entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != family ||
        (entry->ifa_flags & IFF_UP) == 0) {
      continue;
    }
    sockaddr_storage address{};
    std::memcpy(&address, entry->ifa_addr,
                family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    addresses.push_back(address);
  }
  ::freeifaddrs(list);
  return addresses;
}

// Whether a peer is this host: a loopback address or one of the host's own.
bool is_local(const sockaddr_storage &peer) {
  if (peer.ss_family == AF_INET) {
    const auto &v4 = reinterpret_cast<const sockaddr_in &>(peer);
    if ((ntohl(v4.sin_addr.s_addr) >> 24) == 127) {
      return true;
    }
    for (const auto &own : local_addresses(AF_INET)) {
      if (reinterpret_cast<const sockaddr_in &>(own).sin_addr.s_addr == v4.sin_addr.s_addr) {
        return true;
      }
    }
    return false;
  }
  const auto &v6 = reinterpret_cast<const sockaddr_in6 &>(peer);
  if (IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr)) {
    return true;
  }
  if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
    sockaddr_storage v4{};
    auto &mapped = reinterpret_cast<sockaddr_in &>(v4);
    mapped.sin_family = AF_INET;
    std::memcpy(&mapped.sin_addr, &v6.sin6_addr.s6_addr[12], 4);
    return is_local(v4);
  }
  for (const auto &own : local_addresses(AF_INET6)) {
    if (std::memcmp(&reinterpret_cast<const sockaddr_in6 &>(own).sin6_addr, &v6.sin6_addr,
                    sizeof(in6_addr)) == 0) {
      return true;
    }
  }
  return false;
}

// SIO_ADDRESS_LIST_QUERY: a SOCKET_ADDRESS_LIST (the count, then one SOCKET_ADDRESS per address)
// followed by the Windows SOCKADDRs the entries point to, all in the client's buffer. Too small
// a buffer gets STATUS_BUFFER_OVERFLOW and the size needed, and nothing is written.
NTSTATUS query_address_list(socket_object *s, const control_request &r, SIZE_T *written) {
  const std::vector<sockaddr_storage> addresses = local_addresses(s->family);
  const std::size_t entry_size = windows_sockaddr_size(s->windows_family);
  const std::size_t addresses_at =
      win::socket_address_list_address_offset + addresses.size() * win::socket_address_size;
  const std::size_t needed = addresses_at + addresses.size() * entry_size;
  *written = needed;
  if (r.output == nullptr || r.output_size < needed) {
    return STATUS_BUFFER_OVERFLOW;
  }
  auto *base = static_cast<std::byte *>(r.output);
  std::memset(base, 0, addresses_at);
  const INT count = static_cast<INT>(addresses.size());
  std::memcpy(base, &count, sizeof(count)); // iAddressCount, at offset 0
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    std::byte *windows_address = base + addresses_at + i * entry_size;
    const INT length = static_cast<INT>(
        to_windows_address(reinterpret_cast<const sockaddr *>(&addresses[i]), windows_address));
    std::byte *entry =
        base + win::socket_address_list_address_offset + i * win::socket_address_size;
    std::memcpy(entry + win::socket_address_sockaddr_offset, &windows_address,
                sizeof(windows_address));
    std::memcpy(entry + win::socket_address_length_offset, &length, sizeof(length));
  }
  return STATUS_SUCCESS;
}

// ---- Other IOCTLs -------------------------------------------------------------------------------

// SIO_WSK_SET_TCP_SILENT_MODE: Windows refuses it on loopback, and requires a connected socket
// with no send or disconnect pending. Afterwards sends and disconnects fail
// (linux/stream_transfer.cpp). Linux has no silent mode: the kernel still acknowledges what
// arrives, and the close still sends a FIN or reset (docs/divergences.md, D16).
NTSTATUS set_silent_mode(socket_object *s) {
  {
    std::lock_guard guard(s->lock);
    if (!s->queue_idle(queue_kind::send)) {
      nt::verifier::warning(67,
                            "SIO_WSK_SET_TCP_SILENT_MODE while a send or disconnect is pending: "
                            "silent mode is set only with none pending",
                            socket_objects(s), reinterpret_cast<ULONG_PTR>(s));
    }
  }
  sockaddr_storage peer{};
  socklen_t length = sizeof(peer);
  if (net::sock::peer_address(s->fd, reinterpret_cast<sockaddr *>(&peer), &length) != 0) {
    return STATUS_INVALID_DEVICE_STATE; // not connected
  }
  if (is_local(peer)) {
    return STATUS_NOT_SUPPORTED;
  }
  std::lock_guard guard(s->lock);
  if (s->state != socket_state::connected || !IsListEmpty(&s->queue(queue_kind::send))) {
    return STATUS_INVALID_DEVICE_STATE;
  }
  s->silent = true;
  s->silent_told.store(true, std::memory_order_relaxed);
  return STATUS_SUCCESS;
}

// SIO_KEEPALIVE_VALS: tcp_keepalive {onoff, keepalivetime ms, keepaliveinterval ms}. Linux counts
// keep-alive times in whole seconds (at most 32767); shorter times round up to one second.
NTSTATUS set_keepalive_values(socket_object *s, const control_request &r) {
  const auto seconds = [](ULONG milliseconds) {
    return static_cast<int>(std::clamp<ULONG>((milliseconds + 999) / 1000, 1, 32767));
  };
  const int on = r.values[0] != 0 ? 1 : 0;
  int result = net::sock::set_option(s->fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  if (result == 0 && on != 0) {
    const int idle = seconds(r.values[1]);
    const int interval = seconds(r.values[2]);
    result = net::sock::set_option(s->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    if (result == 0) {
      result =
          net::sock::set_option(s->fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    }
  }
  return result == 0 ? STATUS_SUCCESS : status_from_errno(-result);
}

} // namespace

NTSTATUS socket_control(socket_object *s, const control_request &r, PIRP irp, SIZE_T *written) {
  *written = 0;
  switch (r.op) {
  case control_op::set_option:
    return set_socket_option(s, r);
  case control_op::get_option:
    return get_socket_option(s, r, written);
  case control_op::set_event_mask:
    return events_set_mask(s, r.event_mask, irp);
  case control_op::set_security:
    return set_security(s, r.security);
  case control_op::get_security:
    return get_security(s, r, written);
  case control_op::set_remote_address:
    return set_fixed_address(s, r, true);
  case control_op::set_sendto_address:
    return set_fixed_address(s, r, false);
  case control_op::query_send_backlog:
    return query_send_backlog(s, r, written);
  case control_op::query_receive_backlog:
    return query_receive_backlog(s, r, written);
  case control_op::query_inspect_id:
    // Only a connection accepted through conditional accept has an inspect ID.
    return events_inspect_id(s, r.output, r.output_size, written);
  case control_op::set_silent_mode:
    return set_silent_mode(s);
  case control_op::keepalive_values:
    return set_keepalive_values(s, r);
  case control_op::address_list_query:
    return query_address_list(s, r, written);
  case control_op::address_list_change:
    return address_watch_park(s, irp);
  case control_op::loopback_fast_path:
    // Linux loopback needs no special path; the request is accepted and changes nothing.
    return STATUS_SUCCESS;
  }
  return STATUS_INVALID_PARAMETER;
}

void release_control_state(socket_object *s) {
  address_watch_release(s);
  sharing_unregister(s);
  PVOID descriptor;
  {
    std::lock_guard guard(s->lock);
    descriptor = s->rare ? s->rare->security : nullptr;
    if (s->rare) {
      s->rare->security = nullptr;
    }
  }
  if (descriptor != nullptr) {
    security_descriptor_release(descriptor);
  }
}

bool raw_sockets_permitted() {
  const int fd = net::sock::open(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) {
    return false;
  }
  net::sock::close(fd);
  return true;
}

} // namespace uwsk::wsk

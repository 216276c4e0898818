// The address-sharing matrix of WskBind (docs/wsk-behaviour.md, "Address sharing") over a registry
// of the provider's bound sockets; how a bind uses it is in linux/sharing.hpp.
//
// Linux is told to accept every bind the matrix allows: each socket bound (port 0 included) gets
// SO_REUSEPORT (and, for TCP, SO_REUSEADDR, so that connections in TIME_WAIT do not block a
// new listener, as they do not on Windows). Linux then refuses nothing between the provider's
// own sockets, and the matrix alone decides. Binds of other processes still conflict as Linux
// rules say (EADDRINUSE, STATUS_ADDRESS_ALREADY_EXISTS), except that another process of the same
// user that also sets SO_REUSEPORT may share a port (docs/divergences.md, D17).
#include "wsk/linux/sharing.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <vector>

#include "net/socket_ops.hpp"
#include "wsk/linux/socket.hpp"

namespace uwsk::wsk {
namespace {

enum class outcome : UCHAR {
  ok,     // STATUS_SUCCESS
  in_use, // STATUS_ADDRESS_ALREADY_EXISTS
  denied, // STATUS_ACCESS_DENIED
  check,  // an access check against the first socket's security descriptor
};

// Rows: the second bind; columns: the first (existing) one. Both are indexed by
// 2 * options + (specific address ? 1 : 0), options being 0 (none), 1 (SO_REUSEADDR) or
// 2 (SO_EXCLUSIVEADDRUSE): none W, none S, REUSE W, REUSE S, EXCL W, EXCL S.
constexpr outcome o = outcome::ok;
constexpr outcome u = outcome::in_use;
constexpr outcome d = outcome::denied;
constexpr outcome c = outcome::check;
constexpr outcome matrix[6][6] = {
    {u, o, u, o, u, o}, // none, W
    {c, u, c, d, d, u}, // none, S
    {d, o, o, o, d, o}, // SO_REUSEADDR, W
    {c, d, o, o, d, d}, // SO_REUSEADDR, S
    {u, u, u, u, u, u}, // SO_EXCLUSIVEADDRUSE, W
    {c, u, c, u, d, u}, // SO_EXCLUSIVEADDRUSE, S
};

// One bound (or reserved) address. IPv4 addresses are kept as IPv4-mapped IPv6 addresses, so
// that an IPv4 binding and a dual-stack IPv6 one compare directly.
struct binding {
  socket_object *owner = nullptr;
  int type = 0;           // SOCK_STREAM or SOCK_DGRAM: each has its own ports
  std::uint16_t port = 0; // network byte order; 0 for a reservation the kernel will choose
  in6_addr address{};     // the address, IPv4 as ::ffff:a.b.c.d
  bool wildcard = false;  // 0.0.0.0 or ::
  bool ipv4 = false;      // the binding receives IPv4 traffic
  bool ipv6 = false;      // the binding receives IPv6 traffic
  int options = 0;        // 0 none, 1 SO_REUSEADDR, 2 SO_EXCLUSIVEADDRUSE

  int index() const { return 2 * options + (wildcard ? 0 : 1); }
};

// The registry is never destroyed, so that sockets released during exit still find it.
struct registry {
  std::mutex lock;
  std::vector<binding> bindings; // guarded by lock
};
registry &bound() {
  static auto *instance = new registry;
  return *instance;
}

bool v6_only(const socket_object *s) {
  int value = 1;
  socklen_t length = sizeof(value);
  return net::sock::get_option(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &value, &length) != 0 ||
         value != 0;
}

// Describes the socket bound to `address`. False for a socket without ports (raw) or an address
// family the registry does not know; such binds are left to Linux.
bool describe(socket_object *s, const sockaddr *address, socklen_t length, binding &out) {
  if (s->type != SOCK_STREAM && s->type != SOCK_DGRAM) {
    return false;
  }
  out.owner = s;
  out.type = s->type;
  out.options = s->exclusive_address ? 2 : s->reuse_address ? 1 : 0;
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in v4;
    std::memcpy(&v4, address, sizeof(v4));
    out.port = v4.sin_port;
    out.address = {};
    out.address.s6_addr[10] = 0xff;
    out.address.s6_addr[11] = 0xff;
    std::memcpy(&out.address.s6_addr[12], &v4.sin_addr, 4);
    out.wildcard = v4.sin_addr.s_addr == htonl(INADDR_ANY);
    out.ipv4 = true;
    out.ipv6 = false;
    return true;
  }
  if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 v6;
    std::memcpy(&v6, address, sizeof(v6));
    out.port = v6.sin6_port;
    out.address = v6.sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
      // Only a dual-stack socket can bind an IPv4-mapped address; it then receives IPv4 only.
      out.wildcard = std::memcmp(&v6.sin6_addr.s6_addr[12], "\0\0\0\0", 4) == 0;
      out.ipv4 = true;
      out.ipv6 = false;
    } else {
      out.wildcard = IN6_IS_ADDR_UNSPECIFIED(&v6.sin6_addr);
      out.ipv4 = out.wildcard && !v6_only(s); // the dual-stack wildcard takes IPv4 too
      out.ipv6 = true;
    }
    return true;
  }
  return false;
}

// Whether two bindings claim some common (protocol, address, port).
bool overlap(const binding &a, const binding &b) {
  return a.type == b.type && a.port == b.port && a.port != 0 &&
         ((a.ipv4 && b.ipv4) || (a.ipv6 && b.ipv6)) &&
         (a.wildcard || b.wildcard || std::memcmp(&a.address, &b.address, sizeof(a.address)) == 0);
}

void erase_owner(std::vector<binding> &bindings, const socket_object *s) {
  std::erase_if(bindings, [s](const binding &b) { return b.owner == s; });
}

} // namespace

NTSTATUS check_address_sharing(socket_object *s, const sockaddr *address, socklen_t length) {
  binding candidate;
  if (address == nullptr || !describe(s, address, length, candidate)) {
    return STATUS_SUCCESS;
  }
  registry &r = bound();
  std::lock_guard guard(r.lock);
  // A bind of this socket that failed may have left its reservation; this one replaces it.
  erase_owner(r.bindings, s);
  if (candidate.port != 0) {
    for (const binding &existing : r.bindings) {
      if (!overlap(candidate, existing)) {
        continue;
      }
      switch (matrix[candidate.index()][existing.index()]) {
      case outcome::ok:
        continue;
      case outcome::in_use:
        return STATUS_ADDRESS_ALREADY_EXISTS;
      case outcome::denied:
      case outcome::check:
        // uwsk evaluates no security descriptor, and the default one does not permit sharing,
        // so the access check of the matrix is always denied (docs/divergences.md, D22).
        return STATUS_ACCESS_DENIED;
      }
    }
  }
  // Let Linux accept what the matrix allowed; a failure here surfaces as EADDRINUSE from the
  // bind itself. Port 0 too: a later bind naming the port the kernel picks must be allowed
  // whenever the matrix allows it. (The kernel still picks a port nobody uses for port 0.)
  const int one = 1;
  net::sock::set_option(s->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (s->type == SOCK_STREAM) {
    net::sock::set_option(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  }
  r.bindings.push_back(candidate);
  return STATUS_SUCCESS;
}

void sharing_register(socket_object *s) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  binding entry;
  const bool known =
      net::sock::local_address(s->fd, reinterpret_cast<sockaddr *>(&address), &length) == 0 &&
      describe(s, reinterpret_cast<const sockaddr *>(&address), length, entry);
  registry &r = bound();
  std::lock_guard guard(r.lock);
  erase_owner(r.bindings, s);
  if (known) {
    r.bindings.push_back(entry);
  }
}

void sharing_unregister(socket_object *s) {
  registry &r = bound();
  std::lock_guard guard(r.lock);
  erase_owner(r.bindings, s);
}

} // namespace uwsk::wsk

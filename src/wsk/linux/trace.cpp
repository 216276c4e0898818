// The call trace's view of sockets (Linux half): endpoints and addresses as text.
#include "wsk/trace.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>

#include "net/socket_ops.hpp"
#include "wsk/linux/socket.hpp"
#include "wsk/linux/translate.hpp"

namespace uwsk::wsk {

constinit thread_local const void *trace_callback_socket [[gnu::tls_model("initial-exec")]] =
    nullptr;

namespace {

void linux_address_text(const sockaddr_storage &a, char *text, std::size_t size) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (a.ss_family == AF_INET) {
    const auto &in = reinterpret_cast<const sockaddr_in &>(a);
    inet_ntop(AF_INET, &in.sin_addr, host, sizeof(host));
    std::snprintf(text, size, "%s:%u", host, ntohs(in.sin_port));
  } else if (a.ss_family == AF_INET6) {
    const auto &in6 = reinterpret_cast<const sockaddr_in6 &>(a);
    inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof(host));
    std::snprintf(text, size, "[%s]:%u", host, ntohs(in6.sin6_port));
  } else {
    std::snprintf(text, size, "family %u", static_cast<unsigned>(a.ss_family));
  }
}

} // namespace

void trace_socket_endpoints(const void *socket) {
  const auto *s = static_cast<const socket_object *>(socket);
  if (!socket_is_valid(s) || s->fd < 0 || !nt::trace::wants_endpoints(socket)) {
    return;
  }
  sockaddr_storage a{};
  socklen_t length = sizeof(a);
  char local[80] = "";
  char remote[80] = "";
  if (net::sock::local_address(s->fd, reinterpret_cast<sockaddr *>(&a), &length) == 0 &&
      !(a.ss_family == AF_INET && reinterpret_cast<const sockaddr_in &>(a).sin_port == 0) &&
      !(a.ss_family == AF_INET6 && reinterpret_cast<const sockaddr_in6 &>(a).sin6_port == 0)) {
    linux_address_text(a, local, sizeof(local));
  }
  length = sizeof(a);
  if (net::sock::peer_address(s->fd, reinterpret_cast<sockaddr *>(&a), &length) == 0) {
    linux_address_text(a, remote, sizeof(remote));
  }
  nt::trace::socket_endpoints(socket, local[0] != '\0' ? local : nullptr,
                              remote[0] != '\0' ? remote : nullptr);
}

const char *trace_address(const void *windows_address, char *text, std::size_t size) {
  if (windows_address == nullptr) {
    std::snprintf(text, size, "(null)");
    return text;
  }
  sockaddr_storage a{};
  socklen_t length = 0;
  if (!to_linux_address(windows_address, 0, a, length)) {
    std::snprintf(text, size, "family %u",
                  static_cast<unsigned>(*static_cast<const unsigned short *>(windows_address)));
    return text;
  }
  linux_address_text(a, text, size);
  return text;
}

} // namespace uwsk::wsk

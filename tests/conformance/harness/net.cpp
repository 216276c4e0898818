// Plain POSIX socket helpers of the harness: loopback sockets of either family, bounded connects,
// accepts, sends and waits.
#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tcp_established.hpp"

namespace conf {

sockaddr_storage loopback(int family, uint16_t port, socklen_t *length) {
  sockaddr_storage address{};
  if (family == 6) {
    auto *v6 = reinterpret_cast<sockaddr_in6 *>(&address);
    v6->sin6_family = AF_INET6;
    v6->sin6_addr = in6addr_loopback;
    v6->sin6_port = htons(port);
    *length = sizeof(*v6);
  } else {
    auto *v4 = reinterpret_cast<sockaddr_in *>(&address);
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    v4->sin_port = htons(port);
    *length = sizeof(*v4);
  }
  return address;
}

namespace {

// A socket of `type` bound to loopback:0 of `family`; its port in *port.
int bound_socket(int family, int type, uint16_t *port) {
  const int fd = socket(family == 6 ? AF_INET6 : AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  socklen_t length = 0;
  const sockaddr_storage address = loopback(family, 0, &length);
  if (bind(fd, reinterpret_cast<const sockaddr *>(&address), length) != 0) {
    close(fd);
    return -1;
  }
  *port = local_port(fd);
  return fd;
}

} // namespace

int tcp_listener(int family, uint16_t *port) {
  const int fd = bound_socket(family, SOCK_STREAM, port);
  if (fd >= 0 && listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int tcp_bound(int family, uint16_t *port) {
  return bound_socket(family, SOCK_STREAM, port);
}

int udp_socket(int family, uint16_t *port) {
  return bound_socket(family, SOCK_DGRAM, port);
}

int tcp_connect(int family, uint16_t port, int timeout_ms, uint16_t *local, int *error) {
  *error = 0;
  const int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = errno;
    return -1;
  }
  socklen_t length = 0;
  const sockaddr_storage address = loopback(family, port, &length);
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int result = connect(fd, reinterpret_cast<const sockaddr *>(&address), length);
  if (result != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) == 1) {
      int so_error = 0;
      socklen_t size = sizeof(so_error);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &size);
      result = so_error == 0 ? 0 : -1;
      errno = so_error;
    } else {
      errno = ETIMEDOUT;
    }
  }
  if (result != 0) {
    *error = errno;
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, flags);
  *local = local_port(fd);
  return fd;
}

bool peer_side_established(uint16_t server, uint16_t client, int timeout_ms) {
  return uwsk::test_common::tcp_established(server, client, timeout_ms);
}

int tcp_accept(int listener, int timeout_ms) {
  if (!wait_readable(listener, timeout_ms)) {
    return -1;
  }
  return accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

bool wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    const int ready = poll(&p, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    return ready == 1;
  }
}

bool send_all(int fd, const void *data, size_t length, int timeout_ms) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  while (length > 0) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) != 1) {
      return false;
    }
    const ssize_t sent = send(fd, bytes, length, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        continue;
      }
      return false;
    }
    bytes += sent;
    length -= static_cast<size_t>(sent);
  }
  return true;
}

void reset_close(int fd) {
  const linger zero{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &zero, sizeof(zero));
  close(fd);
}

namespace {

uint16_t port_of(const sockaddr_storage &address) {
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6 *>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in *>(&address)->sin_port);
}

} // namespace

uint16_t local_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length);
  return port_of(address);
}

uint16_t remote_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  getpeername(fd, reinterpret_cast<sockaddr *>(&address), &length);
  return port_of(address);
}

uint32_t fnv1a(uint32_t hash, const void *data, size_t length) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < length; ++i) {
    hash = (hash ^ bytes[i]) * 16777619u;
  }
  return hash;
}

std::string to_hex(const void *data, size_t length) {
  static const char digits[] = "0123456789abcdef";
  const auto *bytes = static_cast<const unsigned char *>(data);
  std::string text;
  text.reserve(length * 2);
  for (size_t i = 0; i < length; ++i) {
    text += digits[bytes[i] >> 4];
    text += digits[bytes[i] & 15];
  }
  return text;
}

bool from_hex(const std::string &text, std::vector<unsigned char> &out) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  if (text.size() % 2 != 0) {
    return false;
  }
  out.clear();
  for (size_t i = 0; i < text.size(); i += 2) {
    const int high = nibble(text[i]);
    const int low = nibble(text[i + 1]);
    if (high < 0 || low < 0) {
      return false;
    }
    out.push_back(static_cast<unsigned char>(high * 16 + low));
  }
  return true;
}

} // namespace conf

// POSIX peers for provider tests (see posix_peer.hpp).
#include "support/posix_peer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <vector>

#include "bench_port.hpp"

#include "tcp_established.hpp"

namespace uwsk::test {
namespace {

// `family` as the tests name it: 4 or 6.
socklen_t loopback(int family, unsigned short port, sockaddr_storage &address) {
  return bench::loopback_address(family == 6 ? AF_INET6 : AF_INET, port, address);
}

unsigned short port_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length);
  return address.ss_family == AF_INET6
             ? ntohs(reinterpret_cast<sockaddr_in6 *>(&address)->sin6_port)
             : ntohs(reinterpret_cast<sockaddr_in *>(&address)->sin_port);
}

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

} // namespace

int peer_listen(int family, unsigned short *port) {
  const int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage address;
  const socklen_t length = loopback(family, 0, address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&address), length) != 0 ||
      listen(fd, 16) != 0) {
    return -1;
  }
  *port = port_of(fd);
  return fd;
}

int peer_listen_full(int family, unsigned short *port, int *filler) {
  const int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage address;
  const socklen_t length = loopback(family, 0, address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&address), length) != 0 ||
      listen(fd, 0) != 0) {
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  *port = port_of(fd);
  *filler = peer_connect(family, *port, 1000);
  // The queue is full once a further connect stays in progress.
  const int probe =
      socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_storage target;
  const socklen_t target_length = loopback(family, *port, target);
  const int started = connect(probe, reinterpret_cast<sockaddr *>(&target), target_length);
  const bool pends = started != 0 && errno == EINPROGRESS && !wait_for(probe, POLLOUT, 200);
  close(probe);
  if (*filler < 0 || !pends) {
    if (*filler >= 0) {
      close(*filler);
    }
    close(fd);
    return -1;
  }
  return fd;
}

int peer_accept(int listener, int timeout_ms) {
  if (!wait_for(listener, POLLIN, timeout_ms)) {
    return -1;
  }
  return accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

int peer_connect(int family, unsigned short port, int timeout_ms) {
  const int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage address;
  const socklen_t length = loopback(family, port, address);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&address), length) != 0) {
    if (fd >= 0) {
      close(fd);
    }
    return -1;
  }
  return fd;
}

unsigned short peer_local_port(int fd) {
  return port_of(fd);
}

bool peer_established_at(unsigned short port, int fd, int timeout_ms) {
  return test_common::tcp_established(port, port_of(fd), timeout_ms);
}

bool peer_send_all(int fd, const void *data, std::size_t length, int timeout_ms) {
  auto *p = static_cast<const char *>(data);
  while (length != 0) {
    if (!wait_for(fd, POLLOUT, timeout_ms)) {
      return false;
    }
    const ssize_t sent = send(fd, p, length, MSG_NOSIGNAL);
    if (sent <= 0) {
      return false;
    }
    p += sent;
    length -= static_cast<std::size_t>(sent);
  }
  return true;
}

std::size_t peer_receive(int fd, void *data, std::size_t length, int timeout_ms) {
  std::size_t got = 0;
  while (got < length && wait_for(fd, POLLIN, timeout_ms)) {
    const ssize_t n = recv(fd, static_cast<char *>(data) + got, length - got, 0);
    if (n <= 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  return got;
}

bool peer_sees_eof(int fd, int timeout_ms) {
  char byte;
  return wait_for(fd, POLLIN, timeout_ms) && recv(fd, &byte, 1, 0) == 0;
}

bool peer_sees_reset(int fd, int timeout_ms) {
  char byte;
  return wait_for(fd, POLLIN, timeout_ms) && recv(fd, &byte, 1, 0) < 0 && errno == ECONNRESET;
}

void peer_shutdown_send(int fd) {
  shutdown(fd, SHUT_WR);
}

void peer_reset(int fd) {
  const linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  close(fd);
}

void peer_close(int fd) {
  close(fd);
}

unsigned short peer_unused_port(int family) {
  // Taken as free-port takes a test's port (bench_port.hpp) and held until this process ends, so
  // no other test or benchmark run listens there meanwhile; and below the ephemeral range, so
  // no socket bound to port 0 is given it (a connection from an ephemeral port just released,
  // the one a listener had, to that same port would reach itself: TCP's simultaneous open).
  static std::mutex lock;
  static std::vector<uwsk::bench::port_reservation> held;
  try {
    auto reservation = uwsk::bench::port_reservation::take();
    const auto port = static_cast<unsigned short>(reservation.port());
    std::lock_guard guard(lock);
    held.push_back(std::move(reservation));
    return port;
  } catch (const std::exception &) {
    unsigned short port = 0; // no port below the ephemeral range: one the kernel picks
    const int fd = peer_listen(family, &port);
    close(fd); // nothing listens there now
    return port;
  }
}

int peer_udp(int family, unsigned short *port) {
  const int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_storage address;
  const socklen_t length = loopback(family, 0, address);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&address), length) != 0) {
    return -1;
  }
  *port = port_of(fd);
  return fd;
}

bool peer_udp_send(int fd, int family, unsigned short port, const void *data, std::size_t length) {
  sockaddr_storage address;
  const socklen_t address_length = loopback(family, port, address);
  return sendto(fd, data, length, 0, reinterpret_cast<sockaddr *>(&address), address_length) ==
         static_cast<ssize_t>(length);
}

long peer_udp_receive(int fd, void *data, std::size_t length, unsigned short *from_port,
                      int timeout_ms) {
  if (!wait_for(fd, POLLIN, timeout_ms)) {
    return -1;
  }
  sockaddr_storage from{};
  socklen_t from_length = sizeof(from);
  const ssize_t got =
      recvfrom(fd, data, length, 0, reinterpret_cast<sockaddr *>(&from), &from_length);
  if (got >= 0 && from_port != nullptr) {
    *from_port = from.ss_family == AF_INET6
                     ? ntohs(reinterpret_cast<sockaddr_in6 *>(&from)->sin6_port)
                     : ntohs(reinterpret_cast<sockaddr_in *>(&from)->sin_port);
  }
  return got;
}

bool stop_own_listener(unsigned short port) {
  for (int fd = 3; fd < 4096; ++fd) {
    int listening = 0;
    socklen_t size = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0 || listening == 0) {
      continue;
    }
    sockaddr_storage local{};
    socklen_t local_size = sizeof(local);
    if (getsockname(fd, reinterpret_cast<sockaddr *>(&local), &local_size) != 0) {
      continue;
    }
    const unsigned short bound =
        ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&local)->sin6_port
                                          : reinterpret_cast<sockaddr_in *>(&local)->sin_port);
    if (bound == port) {
      return shutdown(fd, SHUT_RDWR) == 0;
    }
  }
  return false;
}

} // namespace uwsk::test

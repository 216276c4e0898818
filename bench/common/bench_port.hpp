// The port a benchmark run's servers listen on, chosen when the run starts so that runs at the
// same time (two checkouts, two ctest processes, `make bench` beside a test suite) never share
// one. The test suite takes its drivers' ports the same way (tests/integration/free_port.cpp,
// and peer_unused_port in the unit tests' support), so tests and runs keep apart too. They must
// not: every uwsk bind sets SO_REUSEPORT, so a second server on a port binds without an error
// and the kernel splits the clients of both runs between the two servers.
//
// A port N is taken for the run when
//  1. this process binds the abstract Unix socket name "uwsk-bench-port-N": the kernel gives a
//     name to one socket at a time and frees it when the last descriptor of that socket is
//     closed, at the latest when its holders end, however they end. Two runs can therefore
//     never hold the same N, and nothing is left behind to clean up;
//  2. nothing else holds N on 127.0.0.1 or ::1, for TCP or UDP (a probe bind without
//     SO_REUSEADDR, so connections of other programs still in TIME_WAIT count as well).
// The candidates are 30200-32767, below Linux's ephemeral range (32768 on by default; the
// range in /proc/sys/net/ipv4/ip_local_port_range is respected): a run opens hundreds of
// thousands of client connections, and a client socket given the port between two of the run's
// servers, or its TIME_WAIT remains, would hold it. They leave out the ports the bench drivers
// listen on when started alone (30111-30120), so a driver that ignored the port it is given
// fails its smoke test instead of passing on its default. Each process starts at a point
// derived from its process id and the clock and walks the range from there.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>
#include <utility>

namespace uwsk::bench {

// The loopback address of `family` (::1 for AF_INET6, else 127.0.0.1) with `port`, in `out`;
// returns its length. What the native servers, the port probes and free-port bind to.
inline socklen_t loopback_address(int family, unsigned short port, sockaddr_storage &out) {
  out = {};
  if (family == AF_INET6) {
    auto *a = reinterpret_cast<sockaddr_in6 *>(&out);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    return sizeof(*a);
  }
  auto *a = reinterpret_cast<sockaddr_in *>(&out);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof(*a);
}

class port_reservation {
public:
  static constexpr int kFirst = 30200;
  static constexpr int kLast = 32767;

  // Takes a free port; throws std::runtime_error (saying why) when every candidate is taken.
  static port_reservation take() {
    const int last = std::min(kLast, ephemeral_low() - 1);
    if (last < kFirst) {
      throw std::runtime_error("no port to choose from: the ephemeral range starts at " +
                               std::to_string(last + 1) + ", below " + std::to_string(kFirst));
    }
    const int count = last - kFirst + 1;
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const unsigned start =
        (static_cast<unsigned>(getpid()) * 7919u + static_cast<unsigned>(now.tv_nsec / 1000)) %
        static_cast<unsigned>(count);
    for (int i = 0; i < count; ++i) {
      const int port = kFirst + static_cast<int>((start + static_cast<unsigned>(i)) %
                                                 static_cast<unsigned>(count));
      const int lock = lock_name(port);
      if (lock < 0) {
        continue; // another run holds it
      }
      if (unused(port)) {
        return port_reservation(port, lock);
      }
      close(lock);
    }
    throw std::runtime_error("every port from " + std::to_string(kFirst) + " to " +
                             std::to_string(last) + " is taken");
  }

  port_reservation(port_reservation &&other) noexcept
      : port_(other.port_), lock_(std::exchange(other.lock_, -1)) {}
  port_reservation &operator=(port_reservation &&other) noexcept {
    if (this != &other) {
      release();
      port_ = other.port_;
      lock_ = std::exchange(other.lock_, -1);
    }
    return *this;
  }
  port_reservation(const port_reservation &) = delete;
  port_reservation &operator=(const port_reservation &) = delete;
  ~port_reservation() { release(); }

  int port() const { return port_; }

  // The descriptor that holds the name (close-on-exec): a program that execs another to use
  // the port clears that flag, so that the reservation lasts as long as the program it runs.
  int descriptor() const { return lock_; }

private:
  port_reservation(int port, int lock) : port_(port), lock_(lock) {}

  void release() {
    if (lock_ >= 0) {
      close(lock_);
      lock_ = -1;
    }
  }

  // The first port of the ephemeral range, or 32768 when it cannot be read.
  static int ephemeral_low() {
    int low = 32768, high = 60999;
    if (FILE *f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "re")) {
      if (std::fscanf(f, "%d %d", &low, &high) != 2) {
        low = 32768;
      }
      std::fclose(f);
    }
    return low;
  }

  // Binds the abstract name of `port`; the socket's descriptor, or -1 when another process
  // holds the name (or no socket could be made).
  static int lock_name(int port) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return -1;
    }
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    // An abstract name starts with a NUL byte and is not a file.
    const int length = std::snprintf(address.sun_path + 1, sizeof(address.sun_path) - 1,
                                     "uwsk-bench-port-%d", port);
    const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + length);
    if (bind(fd, reinterpret_cast<sockaddr *>(&address), size) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  // True when nothing is bound to `port` on 127.0.0.1 or ::1, TCP or UDP. A machine without
  // IPv6 loopback has nothing to hold the port there.
  static bool unused(int port) {
    for (const int family : {AF_INET, AF_INET6}) {
      for (const int type : {SOCK_STREAM, SOCK_DGRAM}) {
        const int fd = socket(family, type | SOCK_CLOEXEC, 0);
        if (fd < 0) {
          if (errno == EAFNOSUPPORT) {
            continue;
          }
          return false;
        }
        sockaddr_storage storage;
        const socklen_t size = loopback_address(family, static_cast<unsigned short>(port), storage);
        const bool bound = bind(fd, reinterpret_cast<sockaddr *>(&storage), size) == 0;
        const int error = errno;
        close(fd);
        if (!bound && !(family == AF_INET6 && error == EADDRNOTAVAIL)) {
          return false;
        }
      }
    }
    return true;
  }

  int port_ = 0;
  int lock_ = -1;
};

} // namespace uwsk::bench

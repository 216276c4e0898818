// The fixed peers, on 127.0.0.1 and ::1 each: TCP echo, TCP sink (which records what it got),
// a TCP server that sends a known pattern then FIN, a TCP server that resets the connection
// once the client has sent something, a port that refuses connections, and UDP echo.
#include "harness.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace conf {
namespace {

// How often a loop looks at the stop flag.
constexpr int tick_ms = 100;

// Byte i of the pattern the pattern server sends (a period of 251 catches misplaced chunks).
unsigned char pattern_byte(uint64_t i) {
  return static_cast<unsigned char>(i % 251);
}

} // namespace

peers::~peers() {
  stop();
}

void peers::spawn(std::thread thread) {
  std::lock_guard lock(threads_lock_);
  threads_.push_back(std::move(thread));
}

bool peers::start(uint32_t pattern_length) {
  pattern_length_ = pattern_length;
  struct tcp_peer {
    const char *name;
    void (peers::*serve)(int);
  };
  const tcp_peer tcp[] = {{"EchoPort", &peers::serve_echo},
                          {"SinkPort", &peers::serve_sink},
                          {"PatternPort", &peers::serve_pattern},
                          {"ResetPort", &peers::serve_reset}};
  for (int family : {4, 6}) {
    const std::string suffix = std::to_string(family);
    for (const tcp_peer &peer : tcp) {
      uint16_t port = 0;
      const int fd = tcp_listener(family, &port);
      if (fd < 0) {
        std::fprintf(stderr, "conf-harness: cannot open the %s%d peer: %s\n", peer.name, family,
                     std::strerror(errno));
        return false;
      }
      fds_.push_back(fd);
      parameters_.emplace_back(peer.name + suffix, port);
      spawn(std::thread(&peers::accept_loop, this, fd, peer.serve));
    }
    uint16_t port = 0;
    int fd = tcp_bound(family, &port);
    if (fd < 0) {
      std::fprintf(stderr, "conf-harness: cannot reserve a refusing port: %s\n",
                   std::strerror(errno));
      return false;
    }
    fds_.push_back(fd);
    parameters_.emplace_back("RefusedPort" + suffix, port);
    fd = udp_socket(family, &port);
    if (fd < 0) {
      std::fprintf(stderr, "conf-harness: cannot open the UDP echo: %s\n", std::strerror(errno));
      return false;
    }
    fds_.push_back(fd);
    parameters_.emplace_back("UdpEchoPort" + suffix, port);
    spawn(std::thread(&peers::udp_echo_loop, this, fd));
  }
  parameters_.emplace_back("PatternLength", pattern_length);
  return true;
}

std::vector<std::pair<std::string, uint32_t>> peers::parameters() const {
  return parameters_;
}

void peers::stop() {
  stopping_ = true;
  // Accept loops may still add connection threads while the first ones are joined.
  for (;;) {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(threads_lock_);
      threads.swap(threads_);
    }
    if (threads.empty()) {
      break;
    }
    for (auto &thread : threads) {
      thread.join();
    }
  }
  for (int fd : fds_) {
    close(fd);
  }
  fds_.clear();
}

void peers::accept_loop(int listener, void (peers::*serve)(int)) {
  while (!stopping_) {
    if (!wait_readable(listener, tick_ms)) {
      continue;
    }
    const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      spawn(std::thread(serve, this, fd));
    }
  }
}

void peers::serve_echo(int fd) {
  unsigned char buffer[65536];
  while (!stopping_) {
    if (!wait_readable(fd, tick_ms)) {
      continue;
    }
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      // End of the client's data: end ours too, then close.
      if (got == 0) {
        shutdown(fd, SHUT_WR);
      }
      break;
    }
    if (!send_all(fd, buffer, static_cast<size_t>(got), io_timeout_ms)) {
      break;
    }
  }
  close(fd);
}

void peers::serve_sink(int fd) {
  const uint16_t client = remote_port(fd);
  {
    std::lock_guard lock(sink_lock_);
    sinks_[client] = sink_result{};
  }
  unsigned char buffer[65536];
  sink_result result;
  while (!stopping_) {
    if (!wait_readable(fd, tick_ms)) {
      continue;
    }
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      result.end = got == 0 ? "eof" : "reset";
      break;
    }
    result.bytes += static_cast<uint64_t>(got);
    result.hash = fnv1a(result.hash, buffer, static_cast<size_t>(got));
  }
  {
    std::lock_guard lock(sink_lock_);
    sinks_[client] = result;
  }
  sink_changed_.notify_all();
  close(fd);
}

bool peers::sink_status(uint16_t client_port, int timeout_ms, sink_result &out) {
  std::unique_lock lock(sink_lock_);
  const bool ended = sink_changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    auto it = sinks_.find(client_port);
    return it != sinks_.end() && std::string(it->second.end) != "open";
  });
  auto it = sinks_.find(client_port);
  if (it != sinks_.end()) {
    out = it->second;
  }
  return ended;
}

void peers::serve_pattern(int fd) {
  unsigned char chunk[4096];
  uint64_t sent = 0;
  bool ok = true;
  while (ok && sent < pattern_length_ && !stopping_) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof(chunk), pattern_length_ - sent));
    for (size_t i = 0; i < n; ++i) {
      chunk[i] = pattern_byte(sent + i);
    }
    ok = send_all(fd, chunk, n, io_timeout_ms);
    sent += n;
  }
  shutdown(fd, SHUT_WR);
  // Drain until the client closes, so that its close is not answered with a reset.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(io_timeout_ms);
  while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
    if (!wait_readable(fd, tick_ms)) {
      continue;
    }
    if (recv(fd, chunk, sizeof(chunk), 0) <= 0) {
      break;
    }
  }
  close(fd);
}

void peers::serve_reset(int fd) {
  // Reset once the client has sent something (the driver's cue), or after the bound.
  wait_readable(fd, io_timeout_ms);
  reset_close(fd);
}

void peers::udp_echo_loop(int fd) {
  unsigned char buffer[65536];
  while (!stopping_) {
    if (!wait_readable(fd, tick_ms)) {
      continue;
    }
    sockaddr_storage from{};
    socklen_t length = sizeof(from);
    const ssize_t got =
        recvfrom(fd, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr *>(&from), &length);
    if (got >= 0) {
      sendto(fd, buffer, static_cast<size_t>(got), 0, reinterpret_cast<sockaddr *>(&from), length);
    }
  }
}

} // namespace conf

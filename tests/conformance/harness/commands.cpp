// The command channel: a TCP port on 127.0.0.1 where a driver asks the harness to act, one line
// per request and one line per answer ("OK ..." or "ERR ..."). Objects (listeners, connections,
// UDP sockets) are named by small integer ids. The requests:
//
//   PING                          OK
//   LISTEN f                      OK id port          a TCP listener on loopback of family f
//   ACCEPT id                     OK cid port         accepts one connection; port: the client's
//   CONNECT f port                OK cid localport    connects to the driver; ERR refused|timeout
//   CONNECTWAIT f port            OK cid localport    CONNECT, and answers once the driver's side
//                                                     is established (in its accept queue)
//   CONNECTEND f port             OK end n localport  connects, then waits for the connection to
//                                                     end: end is eof|reset|refused (a reset
//                                                     during the handshake is reset 0)
//   SEND cid hex                  OK
//   RECV cid n                    OK hex              exactly n bytes; ERR eof|reset|timeout hex
//   WAITEND cid                   OK eof|reset n      discards n bytes until the connection ends
//   SHUTDOWN cid                  OK                  shutdown(SHUT_WR): the driver sees a FIN
//   RESET cid                     OK                  closes with a reset
//   CLOSE id                      OK
//   UDP f                         OK id port          a UDP socket on loopback
//   UDPSEND id f port hex         OK                  one datagram to loopback:port
//   UDPRECV id                    OK port hex         one datagram and its source port
//   SINK port                     OK bytes hash end   what the sink got from client port `port`
//
// Every wait is bounded by io_timeout_ms.
#include "harness.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>

namespace conf {
namespace {

constexpr int tick_ms = 100;

std::string ok(const std::string &rest = {}) {
  return rest.empty() ? "OK" : "OK " + rest;
}

// Receives exactly `wanted` bytes (bounded); `why` says how it ended when short.
std::vector<unsigned char> receive_exactly(int fd, size_t wanted, std::string &why) {
  std::vector<unsigned char> data;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(io_timeout_ms);
  while (data.size() < wanted) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0 || !wait_readable(fd, static_cast<int>(left))) {
      why = "timeout";
      return data;
    }
    unsigned char buffer[4096];
    const ssize_t got = recv(fd, buffer, std::min(sizeof(buffer), wanted - data.size()), 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      why = got == 0 ? "eof" : "reset";
      return data;
    }
    data.insert(data.end(), buffer, buffer + got);
  }
  return data;
}

// Discards what arrives on fd until the connection ends (bounded): "eof n" or "reset n", or
// "" on timeout.
std::string wait_end(int fd) {
  uint64_t discarded = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(io_timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!wait_readable(fd, tick_ms)) {
      continue;
    }
    unsigned char buffer[4096];
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got == 0) {
      return "eof " + std::to_string(discarded);
    }
    if (got < 0) {
      return std::string(errno == ECONNRESET ? "reset " : "error ") + std::to_string(discarded);
    }
    discarded += static_cast<uint64_t>(got);
  }
  return {};
}

} // namespace

command_server::~command_server() {
  stop();
}

bool command_server::start() {
  listener_ = tcp_listener(4, &port_);
  if (listener_ < 0) {
    std::fprintf(stderr, "conf-harness: cannot open the command port: %s\n", std::strerror(errno));
    return false;
  }
  acceptor_ = std::thread(&command_server::accept_loop, this);
  return true;
}

void command_server::stop() {
  stopping_ = true;
  if (acceptor_.joinable()) {
    acceptor_.join();
  }
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(threads_lock_);
    threads.swap(threads_);
  }
  for (auto &thread : threads) {
    thread.join();
  }
  std::lock_guard lock(objects_lock_);
  for (const auto &[id, fd] : objects_) {
    close(fd);
  }
  objects_.clear();
  if (listener_ >= 0) {
    close(listener_);
    listener_ = -1;
  }
}

void command_server::accept_loop() {
  while (!stopping_) {
    if (!wait_readable(listener_, tick_ms)) {
      continue;
    }
    const int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
      std::lock_guard lock(threads_lock_);
      threads_.emplace_back(&command_server::serve, this, fd);
    }
  }
}

void command_server::serve(int fd) {
  std::string pending;
  char buffer[4096];
  while (!stopping_) {
    if (!wait_readable(fd, tick_ms)) {
      continue;
    }
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      break;
    }
    pending.append(buffer, static_cast<size_t>(got));
    size_t end;
    while ((end = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, end);
      pending.erase(0, end + 1);
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      const std::string answer = execute(line) + "\n";
      if (!send_all(fd, answer.data(), answer.size(), io_timeout_ms)) {
        close(fd);
        return;
      }
    }
  }
  close(fd);
}

int command_server::add(int fd) {
  std::lock_guard lock(objects_lock_);
  const int id = next_id_++;
  objects_[id] = fd;
  return id;
}

int command_server::take(int id) {
  std::lock_guard lock(objects_lock_);
  auto it = objects_.find(id);
  return it == objects_.end() ? -1 : it->second;
}

void command_server::drop(int id, bool reset) {
  int fd = -1;
  {
    std::lock_guard lock(objects_lock_);
    auto it = objects_.find(id);
    if (it == objects_.end()) {
      return;
    }
    fd = it->second;
    objects_.erase(it);
  }
  if (reset) {
    reset_close(fd);
  } else {
    close(fd);
  }
}

std::string command_server::execute(const std::string &line) {
  std::istringstream in(line);
  std::string verb;
  in >> verb;
  auto family_ok = [](int f) { return f == 4 || f == 6; };
  if (verb == "PING") {
    return ok();
  }
  if (verb == "LISTEN" || verb == "UDP") {
    int family = 0;
    in >> family;
    if (!family_ok(family)) {
      return "ERR family";
    }
    uint16_t port = 0;
    const int fd = verb == "LISTEN" ? tcp_listener(family, &port) : udp_socket(family, &port);
    if (fd < 0) {
      return std::string("ERR ") + std::strerror(errno);
    }
    return ok(std::to_string(add(fd)) + " " + std::to_string(port));
  }
  if (verb == "ACCEPT") {
    int id = 0;
    in >> id;
    const int listener = take(id);
    if (listener < 0) {
      return "ERR id";
    }
    const int fd = tcp_accept(listener, io_timeout_ms);
    if (fd < 0) {
      return "ERR timeout";
    }
    return ok(std::to_string(add(fd)) + " " + std::to_string(remote_port(fd)));
  }
  if (verb == "CONNECT" || verb == "CONNECTWAIT") {
    int family = 0;
    unsigned port = 0;
    in >> family >> port;
    if (!family_ok(family) || port == 0 || port > 65535) {
      return "ERR arguments";
    }
    uint16_t local = 0;
    int error = 0;
    const int fd = tcp_connect(family, static_cast<uint16_t>(port), io_timeout_ms, &local, &error);
    if (fd < 0) {
      return error == ECONNREFUSED ? "ERR refused"
                                   : (error == ETIMEDOUT ? "ERR timeout" : "ERR failed");
    }
    if (verb == "CONNECTWAIT" &&
        !peer_side_established(static_cast<uint16_t>(port), local, io_timeout_ms)) {
      close(fd);
      return "ERR timeout";
    }
    return ok(std::to_string(add(fd)) + " " + std::to_string(local));
  }
  if (verb == "CONNECTEND") {
    // For a driver that refuses connections after the handshake (an accept event rejecting,
    // conditional accept): the reset may come before the connect is even seen to complete.
    int family = 0;
    unsigned port = 0;
    in >> family >> port;
    if (!family_ok(family) || port == 0 || port > 65535) {
      return "ERR arguments";
    }
    uint16_t local = 0;
    int error = 0;
    const int fd = tcp_connect(family, static_cast<uint16_t>(port), io_timeout_ms, &local, &error);
    if (fd < 0) {
      if (error == ECONNRESET || error == ECONNREFUSED) {
        return ok(std::string(error == ECONNRESET ? "reset" : "refused") + " 0 0");
      }
      return error == ETIMEDOUT ? "ERR timeout" : "ERR failed";
    }
    const std::string end = wait_end(fd);
    close(fd);
    return end.empty() ? "ERR timeout" : ok(end + " " + std::to_string(local));
  }
  if (verb == "SEND" || verb == "RECV" || verb == "WAITEND" || verb == "SHUTDOWN") {
    int id = 0;
    in >> id;
    const int fd = take(id);
    if (fd < 0) {
      return "ERR id";
    }
    if (verb == "SEND") {
      std::string hex;
      in >> hex;
      std::vector<unsigned char> data;
      if (!from_hex(hex, data)) {
        return "ERR hex";
      }
      return send_all(fd, data.data(), data.size(), io_timeout_ms) ? ok() : "ERR send";
    }
    if (verb == "SHUTDOWN") {
      shutdown(fd, SHUT_WR);
      return ok();
    }
    if (verb == "RECV") {
      size_t wanted = 0;
      in >> wanted;
      std::string why;
      const auto data = receive_exactly(fd, wanted, why);
      if (data.size() == wanted) {
        return ok(to_hex(data.data(), data.size()));
      }
      return "ERR " + why + " " + to_hex(data.data(), data.size());
    }
    // WAITEND: discard until the connection ends.
    const std::string end = wait_end(fd);
    return end.empty() ? "ERR timeout" : ok(end);
  }
  if (verb == "RESET" || verb == "CLOSE") {
    int id = 0;
    in >> id;
    if (take(id) < 0) {
      return "ERR id";
    }
    drop(id, verb == "RESET");
    return ok();
  }
  if (verb == "UDPSEND") {
    int id = 0;
    int family = 0;
    unsigned port = 0;
    std::string hex;
    in >> id >> family >> port >> hex;
    const int fd = take(id);
    std::vector<unsigned char> data;
    if (fd < 0 || !family_ok(family) || port > 65535 || !from_hex(hex, data)) {
      return "ERR arguments";
    }
    socklen_t length = 0;
    const sockaddr_storage to = loopback(family, static_cast<uint16_t>(port), &length);
    if (sendto(fd, data.data(), data.size(), 0, reinterpret_cast<const sockaddr *>(&to), length) !=
        static_cast<ssize_t>(data.size())) {
      return std::string("ERR ") + std::strerror(errno);
    }
    return ok();
  }
  if (verb == "UDPRECV") {
    int id = 0;
    in >> id;
    const int fd = take(id);
    if (fd < 0) {
      return "ERR id";
    }
    if (!wait_readable(fd, io_timeout_ms)) {
      return "ERR timeout";
    }
    unsigned char buffer[65536];
    sockaddr_storage from{};
    socklen_t length = sizeof(from);
    const ssize_t got =
        recvfrom(fd, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr *>(&from), &length);
    if (got < 0) {
      return std::string("ERR ") + std::strerror(errno);
    }
    const uint16_t source =
        ntohs(from.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&from)->sin6_port
                                         : reinterpret_cast<sockaddr_in *>(&from)->sin_port);
    return ok(std::to_string(source) + " " + to_hex(buffer, static_cast<size_t>(got)));
  }
  if (verb == "SINK") {
    unsigned port = 0;
    in >> port;
    sink_result result;
    if (!fixed_.sink_status(static_cast<uint16_t>(port), io_timeout_ms, result)) {
      return "ERR timeout";
    }
    return ok(std::to_string(result.bytes) + " " + std::to_string(result.hash) + " " + result.end);
  }
  return "ERR unknown request";
}

} // namespace conf

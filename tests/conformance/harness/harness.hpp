// The conformance harness: plain POSIX peers on 127.0.0.1 and ::1 for WDK-style drivers running
// under uwsk-run, and the command channel through which a driver asks the harness to act.
// See docs/conformance.md.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace conf {

// Every wait of the harness is bounded by this (or by a caller's smaller bound).
inline constexpr int io_timeout_ms = 5000;

// ---- Sockets (net.cpp) ------------------------------------------------------------------------

// family: 4 or 6; the loopback address of that family with `port`.
sockaddr_storage loopback(int family, uint16_t port, socklen_t *length);
int tcp_listener(int family, uint16_t *port); // listening on loopback, kernel-chosen port
int tcp_bound(int family, uint16_t *port);    // bound, never listening: connecting is refused
int udp_socket(int family, uint16_t *port);   // bound on loopback
int tcp_connect(int family, uint16_t port, int timeout_ms, uint16_t *local_port, int *error);
// Waits, up to timeout_ms, until the driver's side of the harness's connection from local port
// `client` to port `server` is established in the kernel (in its listener's accept queue), as
// /proc/net/tcp and tcp6 show it: the client's connect() returns when the handshake's last ACK
// is sent, which the kernel may process later under load. False when it never was.
bool peer_side_established(uint16_t server, uint16_t client, int timeout_ms);
int tcp_accept(int listener, int timeout_ms); // -1 on timeout
bool wait_readable(int fd, int timeout_ms);
bool send_all(int fd, const void *data, size_t length, int timeout_ms);
void reset_close(int fd); // SO_LINGER {1, 0}, then close: the peer sees a reset
uint16_t local_port(int fd);
uint16_t remote_port(int fd);
// FNV-1a over a byte stream, continued from `hash` (start with fnv_start).
inline constexpr uint32_t fnv_start = 2166136261u;
uint32_t fnv1a(uint32_t hash, const void *data, size_t length);
std::string to_hex(const void *data, size_t length);
bool from_hex(const std::string &text, std::vector<unsigned char> &out);

// ---- The fixed peers (peers.cpp)
// -----------------------------------------------------------------

// How a connection to the sink ended.
struct sink_result {
  uint64_t bytes = 0;
  uint32_t hash = fnv_start;
  const char *end = "open"; // "open", "eof" or "reset"
};

class peers {
public:
  peers() = default;
  peers(const peers &) = delete;
  peers &operator=(const peers &) = delete;
  ~peers();

  // Opens every peer on both families; false (after saying why) when one cannot be opened.
  bool start(uint32_t pattern_length);
  // The registry parameters that name the peers: {"EchoPort4", port}, ...
  std::vector<std::pair<std::string, uint32_t>> parameters() const;
  // Waits (bounded) until the sink connection whose client port is `client_port` has ended.
  bool sink_status(uint16_t client_port, int timeout_ms, sink_result &out);
  void stop();

private:
  void accept_loop(int listener, void (peers::*serve)(int));
  void serve_echo(int fd);
  void serve_sink(int fd);
  void serve_pattern(int fd);
  void serve_reset(int fd);
  void udp_echo_loop(int fd);
  void spawn(std::thread thread);

  std::atomic<bool> stopping_{false};
  uint32_t pattern_length_ = 0;
  std::vector<int> fds_; // listeners and UDP sockets, closed by stop()
  std::vector<std::pair<std::string, uint32_t>> parameters_;
  std::mutex threads_lock_;
  std::vector<std::thread> threads_;
  std::mutex sink_lock_;
  std::condition_variable sink_changed_;
  std::map<uint16_t, sink_result> sinks_;
};

// ---- The command channel (commands.cpp)
// ----------------------------------------------------------

class command_server {
public:
  explicit command_server(peers &fixed) : fixed_(fixed) {}
  command_server(const command_server &) = delete;
  command_server &operator=(const command_server &) = delete;
  ~command_server();

  bool start(); // listens on 127.0.0.1
  uint16_t port() const { return port_; }
  void stop();

private:
  void accept_loop();
  void serve(int fd);
  std::string execute(const std::string &line);
  int take(int id);              // the fd of an object, -1 if unknown
  int add(int fd);               // a new object id for fd
  void drop(int id, bool reset); // closes an object

  peers &fixed_;
  std::atomic<bool> stopping_{false};
  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::mutex threads_lock_;
  std::vector<std::thread> threads_;
  std::mutex objects_lock_;
  std::map<int, int> objects_; // id -> fd (listeners, connections, UDP sockets)
  int next_id_ = 1;
};

} // namespace conf

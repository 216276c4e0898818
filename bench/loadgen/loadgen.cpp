// uwsk-bench-loadgen: the one load generator every echo server is measured with.
//
// It is a single thread (blocking calls for one connection, an epoll loop for many, recvmmsg and
// sendmmsg for UDP) so that it costs the same against every server. It waits until the server
// answers, runs a warm-up, then measures a window, and prints one line of key=value pairs:
//
//   rate=<ops per second> unit=<what an op is> ops=<ops in the window> window_s=<seconds>
//   server_cpu_us_per_op=<server CPU per op> server_busy=<server CPU / wall time>
//   client_busy=<own CPU / wall time> server_threads=<threads of the server process>
//   plus p50_us= p99_us= (pp1), sent_gbps= (bulk), lost= (udp), rss_*= (mem), and
//   verified_bytes= (TCP) or verified_datagrams= (UDP): what the run checked, warm-up included.
//
// Every echo is verified against what was sent. TCP: each connection's stream is a fixed
// pseudo-random pattern with a prime period, entered at an offset of its own, so the byte at
// stream offset o is known from o alone; every read is compared (memcmp) with the bytes sent at
// its offsets. UDP: each datagram carries its sequence number and a payload derived from it, and
// every echo must be some sent datagram, unchanged (echoes may be lost or reordered). The first
// difference ends the run with status 3 and an "echo verification failed" message naming the
// workload, the connection (or sequence number), the offset, and the bytes expected and received.
//
// Workloads (--workload):
//   pp1     TCP ping-pong over 1 connection, --size bytes (64), one message outstanding
//   pp64    TCP ping-pong over --connections connections (64), one message outstanding on each
//   pp16    the same with 16 connections by default (the synchronous drivers' thread-per-
//           connection row). Both open their connections in waves of 200, each echoing one
//           message before the next wave (warm-up); past 1,000 connections they raise
//           RLIMIT_NOFILE, and when the ephemeral port range cannot hold them all from
//           127.0.0.1 they connect from 127.0.0.2, 127.0.0.3, ... (the scaling sweep's 10,000)
//   bulk    1 TCP connection; the client writes --size byte blocks (65536) and reads the echo
//           at the same time; the rate is GB/s echoed (equal in each direction)
//   udp     UDP echo with --inflight datagrams (64) of --size bytes (64) outstanding
//   accept  connect, send --size bytes (64), receive the echo, close with a reset (so that no
//           TIME_WAIT accumulates); --connections (8) of those in parallel; connections the
//           server refuses, resets or closes early are counted (refused=) and replaced, and
//           fail the run past 1%
//   mem     open --connections connections (10000), echo one message on each, and compare the
//           server's VmRSS with --connections open against before (needs --server-pid)
//
// Server CPU comes from /proc/<server-pid>/task/*/schedstat at the window's edges.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

using uwsk::bench::now_ns;
using uwsk::bench::options;

struct failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string &what) {
  throw failure(what + (errno != 0 ? std::string(": ") + std::strerror(errno) : std::string()));
}

struct config {
  std::string workload;
  sockaddr_storage server{};
  socklen_t server_length = 0;
  pid_t server_pid = 0;
  double warmup_s = 0.5;
  double duration_s = 2.0;
  double connect_timeout_s = 10.0;
  size_t size = 64;
  int connections = 64;
  int inflight = 64;
};

// The window: CPU and operation counts at its edges.
class meter {
public:
  explicit meter(const config &c) : config_(c) {
    const int64_t start = now_ns();
    warm_end_ = start + static_cast<int64_t>(c.warmup_s * 1e9);
    end_ = warm_end_ + static_cast<int64_t>(c.duration_s * 1e9);
  }

  // Called with the running count of operations; true when the window is over.
  bool tick(uint64_t ops) {
    const int64_t now = now_ns();
    if (!open_ && !closed_ && now >= warm_end_) {
      open_ = true;
      t0_ = now;
      ops0_ = ops;
      server0_ = server_cpu();
      client0_ = client_cpu();
    } else if (open_ && now >= end_) {
      open_ = false;
      closed_ = true;
      t1_ = now;
      ops1_ = ops;
      server1_ = server_cpu();
      client1_ = client_cpu();
    }
    return closed_;
  }

  bool measuring() const { return open_; }
  double seconds() const { return static_cast<double>(t1_ - t0_) / 1e9; }
  uint64_t ops() const { return ops1_ - ops0_; }
  double rate() const { return static_cast<double>(ops()) / seconds(); }

  void print_common(const char *unit) const {
    std::printf("rate=%.6g unit=%s ops=%llu window_s=%.3f", rate(), unit,
                static_cast<unsigned long long>(ops()), seconds());
    const double wall = static_cast<double>(t1_ - t0_);
    std::printf(" client_busy=%.3f", static_cast<double>(client1_ - client0_) / wall);
    if (config_.server_pid > 0 && server0_ >= 0 && server1_ >= 0) {
      const double server = static_cast<double>(server1_ - server0_);
      std::printf(" server_busy=%.3f server_cpu_us_per_op=%.4g", server / wall,
                  ops() == 0 ? 0.0 : server / 1e3 / static_cast<double>(ops()));
      std::printf(" server_threads=%ld",
                  uwsk::bench::proc_status_field(config_.server_pid, "Threads"));
    }
  }

private:
  int64_t server_cpu() const {
    return config_.server_pid > 0 ? uwsk::bench::process_cpu_ns(config_.server_pid) : -1;
  }
  static int64_t client_cpu() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  }

  const config &config_;
  int64_t warm_end_, end_;
  bool open_ = false, closed_ = false;
  int64_t t0_ = 0, t1_ = 0, server0_ = -1, server1_ = -1, client0_ = 0, client1_ = 0;
  uint64_t ops0_ = 0, ops1_ = 0;
};

void parse_address(config &c, const std::string &host, unsigned short port) {
  auto *v4 = reinterpret_cast<sockaddr_in *>(&c.server);
  auto *v6 = reinterpret_cast<sockaddr_in6 *>(&c.server);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    c.server_length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    c.server_length = sizeof(*v6);
  } else {
    errno = 0;
    fail("--host must be a numeric address, not '" + host + "'");
  }
}

// Closes with a reset: no TIME_WAIT is left behind however many connections a run opens.
void close_reset(int fd) {
  const linger abort_on_close{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
  close(fd);
}

void set_nonblocking(int fd) {
  const int one = 1;
  if (ioctl(fd, FIONBIO, &one) != 0) {
    fail("FIONBIO");
  }
}

int tcp_socket(const config &c, bool nonblocking) {
  const int fd =
      socket(c.server.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) {
    fail("socket");
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// The end of a blocking connect: on success, bounded receive and send waits on `fd`; on failure
// `fd` closed and -1, errno kept.
int finish_blocking(int fd, bool connected) {
  if (!connected) {
    const int error = errno;
    close(fd);
    errno = error;
    return -1;
  }
  const timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// A blocking connection with bounded receive and send waits.
int connect_blocking(const config &c) {
  const int fd = tcp_socket(c, false);
  return finish_blocking(
      fd, connect(fd, reinterpret_cast<const sockaddr *>(&c.server), c.server_length) == 0);
}

void send_all(int fd, const char *data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) {
      fail("send");
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void receive_all(int fd, char *data, size_t size) {
  while (size > 0) {
    const ssize_t n = recv(fd, data, size, 0);
    if (n <= 0) {
      if (n == 0) {
        errno = 0;
      }
      fail("receive (server closed or timed out)");
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// Waits until the server answers: a TCP connection, or the echo of a UDP probe.
void wait_for_server(const config &c, bool udp) {
  const int64_t deadline = now_ns() + static_cast<int64_t>(c.connect_timeout_s * 1e9);
  while (now_ns() < deadline) {
    if (!udp) {
      const int fd = connect_blocking(c);
      if (fd >= 0) {
        close_reset(fd);
        return;
      }
    } else {
      const int fd = socket(c.server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        fail("socket");
      }
      char probe[8] = "probe";
      char reply[64];
      if (connect(fd, reinterpret_cast<const sockaddr *>(&c.server), c.server_length) == 0 &&
          send(fd, probe, sizeof(probe), 0) >= 0) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 50) == 1 && recv(fd, reply, sizeof(reply), 0) > 0) {
          close(fd);
          return;
        }
      }
      close(fd);
    }
    usleep(20000);
  }
  errno = 0;
  fail("the server did not answer within --connect-timeout");
}

// ---- Echo verification --------------------------------------------------------------------------

// An echo that differs from what was sent: the run's numbers mean nothing.
struct mismatch : failure {
  using failure::failure;
};

std::string hex_bytes(const unsigned char *data, size_t size) {
  std::string text;
  char byte[4];
  for (size_t i = 0; i < size; ++i) {
    std::snprintf(byte, sizeof(byte), i == 0 ? "%02x" : " %02x", data[i]);
    text += byte;
  }
  return text;
}

// "expected 0x5a, received 0x5b (from there: expected 5a 11 .., received 5b 11 ..)".
std::string difference(const char *expected, const char *received, size_t size) {
  const auto *e = reinterpret_cast<const unsigned char *>(expected);
  const auto *r = reinterpret_cast<const unsigned char *>(received);
  const size_t shown = std::min<size_t>(size, 16);
  char first[64];
  std::snprintf(first, sizeof(first), "expected 0x%02x, received 0x%02x", e[0], r[0]);
  return std::string(first) + " (from there: expected " + hex_bytes(e, shown) + ", received " +
         hex_bytes(r, shown) + ")";
}

// The bytes every TCP stream is made of: a pseudo-random sequence with a prime period, stored
// twice and then some, so that the `longest` bytes from any offset are contiguous. A prime
// period catches every displacement (a dropped, repeated or reordered chunk of any power-of-two
// size) and keeps the pattern small enough to stay in L1 next to the data it is compared with.
class pattern {
public:
  static constexpr uint64_t period = 8191; // 2^13 - 1, prime

  explicit pattern(size_t longest) : bytes_(2 * period + longest) {
    uint64_t x = 0x9e3779b97f4a7c15ULL; // xorshift64*: any fixed, non-constant sequence will do
    for (size_t i = 0; i < period; ++i) {
      x ^= x >> 12;
      x ^= x << 25;
      x ^= x >> 27;
      bytes_[i] = static_cast<char>((x * 0x2545f4914f6cdd1dULL) >> 56);
    }
    for (size_t i = period; i < bytes_.size(); ++i) {
      bytes_[i] = bytes_[i - period];
    }
  }

  // The pattern from `offset` on; at least period + longest bytes are readable there.
  const char *at(uint64_t offset) const { return bytes_.data() + offset % period; }

private:
  std::vector<char> bytes_;
};

// One TCP connection's stream in each direction: where it enters the pattern (different for
// every connection, so that bytes delivered to the wrong connection are caught too) and how
// much has been sent and verified.
struct stream {
  uint64_t start = 0;
  uint64_t sent = 0, received = 0;
  long connection = 0; // named in the failure message
};

class tcp_verifier {
public:
  explicit tcp_verifier(size_t longest_send) : pattern_(longest_send) {}

  stream open(long connection) const {
    stream s;
    s.connection = connection;
    s.start = static_cast<uint64_t>(connection) * 1000;
    return s;
  }

  // What to send next on `s`: at least `longest_send` bytes.
  const char *next(const stream &s) const { return pattern_.at(s.start + s.sent); }
  void sent(stream &s, size_t size) const { s.sent += size; }

  // Compares `size` bytes just received on `s` with the bytes sent at the same offsets.
  void received(stream &s, const char *data, size_t size) {
    if (s.received + size > s.sent) {
      fail_at(s, s.sent,
              "received " + std::to_string(s.received + size - s.sent) +
                  " bytes more than were sent");
    }
    for (size_t done = 0; done < size;) {
      const size_t chunk = std::min<size_t>(size - done, pattern::period);
      const char *expected = pattern_.at(s.start + s.received + done);
      if (std::memcmp(data + done, expected, chunk) != 0) {
        size_t at = 0;
        while (data[done + at] == expected[at]) {
          ++at;
        }
        fail_at(s, s.received + done + at, difference(expected + at, data + done + at, chunk - at));
      }
      done += chunk;
    }
    s.received += size;
    verified_ += size;
  }

  uint64_t verified() const { return verified_; }

private:
  [[noreturn]] void fail_at(const stream &s, uint64_t offset, const std::string &what) const {
    throw mismatch("echo verification failed: connection " + std::to_string(s.connection) +
                   ", stream offset " + std::to_string(offset) + ": " + what);
  }

  pattern pattern_;
  uint64_t verified_ = 0;
};

// UDP: a datagram is its sequence number (8 bytes, host order) and then the pattern from an
// offset derived from that number, so every datagram is different and knows what it must be.
class udp_verifier {
public:
  static constexpr size_t header = sizeof(uint64_t);

  explicit udp_verifier(size_t size) : size_(size), pattern_(size) {}

  const char *payload(uint64_t sequence) const { return pattern_.at(sequence * 1009); }

  // Checks one echoed datagram of `length` bytes; `sent` is how many datagrams were sent.
  void received(const char *data, size_t length, bool truncated, uint64_t sent) {
    uint64_t sequence = 0;
    if (length >= header) {
      std::memcpy(&sequence, data, header);
    }
    auto fail_with = [&](const std::string &what) {
      throw mismatch("echo verification failed: datagram #" + std::to_string(verified_ + 1) +
                     " echoed: " + what);
    };
    if (length != size_ || truncated) {
      fail_with(std::to_string(length) + (truncated ? "+" : "") + " bytes where " +
                std::to_string(size_) + " were sent");
    }
    if (sequence >= sent) {
      fail_with("sequence number " + std::to_string(sequence) + ", but only " +
                std::to_string(sent) + " datagrams were sent (header " +
                hex_bytes(reinterpret_cast<const unsigned char *>(data), header) + ")");
    }
    const char *expected = payload(sequence);
    if (std::memcmp(data + header, expected, size_ - header) != 0) {
      size_t at = 0;
      while (data[header + at] == expected[at]) {
        ++at;
      }
      fail_with("sequence number " + std::to_string(sequence) + ", but its byte " +
                std::to_string(header + at) +
                " differs: " + difference(expected + at, data + header + at, size_ - header - at));
    }
    ++verified_;
  }

  uint64_t verified() const { return verified_; }

private:
  size_t size_;
  pattern pattern_;
  uint64_t verified_ = 0;
};

// ---- TCP ping-pong, 1 connection ------------------------------------------------------------

void run_pp1(const config &c) {
  const int fd = connect_blocking(c);
  if (fd < 0) {
    fail("connect");
  }
  tcp_verifier verifier(c.size);
  stream s = verifier.open(0);
  std::vector<char> in(c.size);
  std::vector<int64_t> latencies;
  latencies.reserve(1 << 22);
  meter m(c);
  uint64_t round_trips = 0;
  while (!m.tick(round_trips)) {
    const int64_t start = now_ns();
    send_all(fd, verifier.next(s), c.size);
    verifier.sent(s, c.size);
    receive_all(fd, in.data(), in.size());
    const int64_t end = now_ns();
    verifier.received(s, in.data(), in.size());
    if (m.measuring() && latencies.size() < latencies.capacity()) {
      latencies.push_back(end - start);
    }
    ++round_trips;
  }
  close_reset(fd);
  std::sort(latencies.begin(), latencies.end());
  auto percentile = [&](double p) {
    if (latencies.empty()) {
      return 0.0;
    }
    const size_t index = static_cast<size_t>(p * static_cast<double>(latencies.size() - 1));
    return static_cast<double>(latencies[index]) / 1e3;
  };
  m.print_common("rt/s");
  std::printf(" p50_us=%.2f p99_us=%.2f verified_bytes=%llu\n", percentile(0.50), percentile(0.99),
              static_cast<unsigned long long>(verifier.verified()));
}

// ---- TCP ping-pong, many connections ------------------------------------------------------------

// Client addresses for `connections` connections to a loopback server: 127.0.0.1 alone while the
// ephemeral port range (net.ipv4.ip_local_port_range) has room for all of them with a margin,
// else as many of 127.0.0.2, 127.0.0.3, ... (all of 127/8 is loopback) as it takes, each given
// at most half the range; an empty list means "let connect() choose" (IPv6 servers, or a range
// that is large enough).
std::vector<in_addr> client_addresses(const config &c, int connections) {
  if (c.server.ss_family != AF_INET) {
    return {};
  }
  long low = 32768, high = 60999;
  if (FILE *f = std::fopen("/proc/sys/net/ipv4/ip_local_port_range", "re")) {
    if (std::fscanf(f, "%ld %ld", &low, &high) != 2) {
      low = 32768;
      high = 60999;
    }
    std::fclose(f);
  }
  const long per_address = std::max(1L, (high - low + 1) / 2);
  if (connections <= per_address) {
    return {};
  }
  std::vector<in_addr> addresses;
  for (long n = 0; n * per_address < connections; ++n) {
    in_addr a{};
    a.s_addr = htonl(INADDR_LOOPBACK + 1 + static_cast<uint32_t>(n)); // 127.0.0.2 on
    addresses.push_back(a);
  }
  return addresses;
}

// A blocking connection from `from` (port chosen at connect time), or -1 with errno.
int connect_from(const config &c, const in_addr *from) {
  if (from == nullptr) {
    return connect_blocking(c);
  }
  const int fd = tcp_socket(c, false);
  const int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr = *from;
  return finish_blocking(
      fd, bind(fd, reinterpret_cast<sockaddr *>(&local), sizeof(local)) == 0 &&
              connect(fd, reinterpret_cast<const sockaddr *>(&c.server), c.server_length) == 0);
}

void run_pp64(const config &c) {
  struct conn {
    int fd;
    stream s;
  };
  if (c.connections > 1000) {
    const rlim_t limit = uwsk::bench::raise_file_limit();
    if (limit < static_cast<rlim_t>(c.connections) + 64) {
      errno = 0;
      fail("RLIMIT_NOFILE is " + std::to_string(limit) + ", too low for " +
           std::to_string(c.connections) + " connections");
    }
  }
  tcp_verifier verifier(c.size);
  std::vector<conn> conns(static_cast<size_t>(c.connections));
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  std::vector<char> in(std::max<size_t>(c.size, 4096));
  const std::vector<in_addr> from = client_addresses(c, c.connections);
  const size_t per_address =
      from.empty() ? conns.size() : (conns.size() + from.size() - 1) / from.size();
  // Opened in waves, each connection echoing one message (verified) before the next wave, so
  // that the listen backlog never overflows and every connection is known to be accepted and
  // served before the run starts; these first messages are part of the warm-up.
  const size_t wave = 200;
  const int64_t deadline = now_ns() + 60000000000LL;
  for (size_t first = 0; first < conns.size(); first += wave) {
    if (now_ns() > deadline) {
      errno = 0;
      fail("opening the connections took more than 60 s");
    }
    const size_t end = std::min(conns.size(), first + wave);
    for (size_t i = first; i < end; ++i) {
      auto &k = conns[i];
      k.fd = connect_from(c, from.empty() ? nullptr : &from[i / per_address]);
      if (k.fd < 0) {
        fail("connect #" + std::to_string(i));
      }
      k.s = verifier.open(static_cast<long>(i));
      send_all(k.fd, verifier.next(k.s), c.size);
      verifier.sent(k.s, c.size);
    }
    for (size_t i = first; i < end; ++i) {
      auto &k = conns[i];
      receive_all(k.fd, in.data(), c.size);
      verifier.received(k.s, in.data(), c.size);
      set_nonblocking(k.fd);
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.ptr = &k;
      epoll_ctl(epoll_fd, EPOLL_CTL_ADD, k.fd, &event);
    }
  }
  for (auto &k : conns) {
    send_all(k.fd, verifier.next(k.s), c.size);
    verifier.sent(k.s, c.size);
  }
  meter m(c);
  uint64_t messages = 0;
  epoll_event events[256];
  int64_t last_progress = now_ns();
  while (!m.tick(messages)) {
    const int count = epoll_wait(epoll_fd, events, 256, 100);
    if (count <= 0) {
      if (now_ns() - last_progress > 5000000000LL) {
        errno = 0;
        fail("no echo for 5 s");
      }
      continue;
    }
    last_progress = now_ns();
    for (int i = 0; i < count; ++i) {
      auto *k = static_cast<conn *>(events[i].data.ptr);
      const ssize_t n = recv(k->fd, in.data(), in.size(), 0);
      if (n <= 0) {
        if (n < 0 && errno == EAGAIN) {
          continue;
        }
        fail("receive");
      }
      verifier.received(k->s, in.data(), static_cast<size_t>(n));
      if (k->s.received == k->s.sent) { // the whole message is back: send the next
        ++messages;
        send_all(k->fd, verifier.next(k->s), c.size);
        verifier.sent(k->s, c.size);
      }
    }
  }
  for (auto &k : conns) {
    close_reset(k.fd);
  }
  close(epoll_fd);
  m.print_common("msg/s");
  std::printf(" verified_bytes=%llu\n", static_cast<unsigned long long>(verifier.verified()));
}

// ---- TCP bulk -----------------------------------------------------------------------------------

void run_bulk(const config &c) {
  const int fd = connect_blocking(c);
  if (fd < 0) {
    fail("connect");
  }
  set_nonblocking(fd);
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN | EPOLLOUT;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
  // Written in blocks of --size bytes (a short write is completed before the next block).
  tcp_verifier verifier(c.size);
  stream s = verifier.open(0);
  std::vector<char> in(256 * 1024);
  uint64_t sent0 = 0;
  meter m(c);
  bool was_measuring = false;
  int64_t last_progress = now_ns();
  while (!m.tick(s.received)) {
    if (m.measuring() && !was_measuring) {
      was_measuring = true;
      sent0 = s.sent;
    }
    epoll_event ready;
    const int count = epoll_wait(epoll_fd, &ready, 1, 100);
    if (count <= 0) {
      if (now_ns() - last_progress > 5000000000LL) {
        errno = 0;
        fail("no progress for 5 s");
      }
      continue;
    }
    last_progress = now_ns();
    if ((ready.events & EPOLLIN) != 0) {
      for (int round = 0; round < 16; ++round) {
        const ssize_t n = recv(fd, in.data(), in.size(), 0);
        if (n < 0 && errno == EAGAIN) {
          break;
        }
        if (n <= 0) {
          fail("receive");
        }
        verifier.received(s, in.data(), static_cast<size_t>(n));
      }
    }
    if ((ready.events & EPOLLOUT) != 0) {
      const size_t block_offset = static_cast<size_t>(s.sent % c.size);
      const ssize_t n = send(fd, verifier.next(s), c.size - block_offset, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN) {
        fail("send");
      }
      if (n > 0) {
        verifier.sent(s, static_cast<size_t>(n));
      }
    }
  }
  const uint64_t sent_in_window = s.sent - sent0;
  close_reset(fd);
  close(epoll_fd);
  // The rate is reported in bytes per second; the runner shows GB/s.
  m.print_common("B/s");
  std::printf(" sent_gbps=%.4f verified_bytes=%llu\n",
              static_cast<double>(sent_in_window) / m.seconds() / 1e9,
              static_cast<unsigned long long>(verifier.verified()));
}

// ---- UDP echo -----------------------------------------------------------------------------------

void run_udp(const config &c) {
  const int fd = socket(c.server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr *>(&c.server), c.server_length) != 0) {
    fail("UDP socket");
  }
  const int buffer = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  constexpr size_t batch = 64;
  udp_verifier verifier(c.size);
  // A datagram is sent from two pieces, its sequence number and its payload in the pattern; it
  // is received into a slot with room to spare, so that a longer echo shows as such.
  const size_t slot = c.size + 64;
  std::vector<char> data(batch * slot);
  std::vector<uint64_t> sequences(batch);
  std::vector<iovec> iov(2 * batch);
  std::vector<mmsghdr> messages(batch);
  auto prepare = [&](size_t count, bool receive) {
    for (size_t i = 0; i < count; ++i) {
      auto &h = messages[i].msg_hdr;
      h = {};
      h.msg_iov = &iov[2 * i];
      if (receive) {
        iov[2 * i] = {data.data() + i * slot, slot};
        h.msg_iovlen = 1;
      } else {
        iov[2 * i] = {&sequences[i], udp_verifier::header};
        iov[2 * i + 1] = {const_cast<char *>(verifier.payload(sequences[i])),
                          c.size - udp_verifier::header};
        h.msg_iovlen = 2;
      }
    }
  };
  int64_t outstanding = 0;
  uint64_t next_sequence = 0; // datagrams sent so far
  auto send_some = [&](size_t count) {
    while (count > 0) {
      const size_t now = std::min(count, batch);
      for (size_t i = 0; i < now; ++i) {
        sequences[i] = next_sequence + i;
      }
      prepare(now, false);
      const int sent = sendmmsg(fd, messages.data(), static_cast<unsigned>(now), 0);
      if (sent <= 0) {
        if (sent < 0 && errno == EAGAIN) {
          return; // counted as lost by the refill below
        }
        fail("sendmmsg");
      }
      next_sequence += static_cast<uint64_t>(sent);
      outstanding += sent;
      count -= static_cast<size_t>(sent);
    }
  };
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
  send_some(static_cast<size_t>(c.inflight));
  meter m(c);
  uint64_t echoed = 0, lost = 0;
  int64_t last_receive = now_ns();
  while (!m.tick(echoed)) {
    epoll_event ready;
    const int count = epoll_wait(epoll_fd, &ready, 1, 20);
    if (count <= 0) {
      // Nothing for 50 ms: what is outstanding was dropped; send a new window.
      if (now_ns() - last_receive > 50000000LL) {
        lost += static_cast<uint64_t>(std::max<int64_t>(outstanding, 0));
        outstanding = 0;
        send_some(static_cast<size_t>(c.inflight));
        last_receive = now_ns();
      }
      continue;
    }
    for (int round = 0; round < 16; ++round) {
      prepare(batch, true);
      const int got = recvmmsg(fd, messages.data(), batch, 0, nullptr);
      if (got <= 0) {
        break;
      }
      last_receive = now_ns();
      for (size_t i = 0; i < static_cast<size_t>(got); ++i) {
        verifier.received(data.data() + i * slot, messages[i].msg_len,
                          (messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0, next_sequence);
      }
      echoed += static_cast<uint64_t>(got);
      outstanding -= got;
      send_some(static_cast<size_t>(got));
    }
  }
  close(fd);
  close(epoll_fd);
  m.print_common("msg/s");
  std::printf(" lost=%llu verified_datagrams=%llu\n", static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(verifier.verified()));
}

// ---- accept + close -----------------------------------------------------------------------------

void run_accept(const config &c) {
  struct attempt {
    int fd = -1;
    bool connected = false;
    stream s;
  };
  tcp_verifier verifier(c.size);
  long opened = 0; // connections started: each gets a stream of its own
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  std::vector<attempt> slots(static_cast<size_t>(c.connections));
  auto start = [&](attempt &a) {
    a.fd = tcp_socket(c, true);
    a.connected = false;
    a.s = verifier.open(opened++);
    if (connect(a.fd, reinterpret_cast<const sockaddr *>(&c.server), c.server_length) != 0 &&
        errno != EINPROGRESS) {
      fail("connect");
    }
    epoll_event event{};
    event.events = EPOLLOUT;
    event.data.ptr = &a;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, a.fd, &event);
  };
  for (auto &a : slots) {
    start(a);
  }
  meter m(c);
  uint64_t completed = 0, refused = 0;
  epoll_event events[256];
  int64_t last_progress = now_ns();
  std::vector<char> in(std::max<size_t>(c.size, 256));
  // A connection the server refuses, resets or closes early is counted and replaced; many of
  // them fail the run.
  auto give_up_on = [&](attempt &a, int error) {
    if (++refused > 10 + completed / 100) {
      errno = error;
      fail("connect (" + std::to_string(refused) + " connections refused, reset or closed)");
    }
    close_reset(a.fd);
    start(a);
  };
  while (!m.tick(completed)) {
    const int count = epoll_wait(epoll_fd, events, 256, 100);
    if (count <= 0) {
      if (now_ns() - last_progress > 5000000000LL) {
        errno = 0;
        fail("no connection completed for 5 s");
      }
      continue;
    }
    for (int i = 0; i < count; ++i) {
      auto *a = static_cast<attempt *>(events[i].data.ptr);
      if (!a->connected) {
        int error = 0;
        socklen_t length = sizeof(error);
        getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
          give_up_on(*a, error);
          continue;
        }
        a->connected = true;
        send_all(a->fd, verifier.next(a->s), c.size);
        verifier.sent(a->s, c.size);
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.ptr = a;
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, a->fd, &event);
        continue;
      }
      const ssize_t n = recv(a->fd, in.data(), in.size(), 0);
      if (n < 0 && errno == EAGAIN) {
        continue;
      }
      if (n <= 0) {
        give_up_on(*a, n < 0 ? errno : ECONNRESET);
        continue;
      }
      verifier.received(a->s, in.data(), static_cast<size_t>(n));
      if (a->s.received < a->s.sent) {
        continue;
      }
      // Served: close with a reset, so that neither side keeps a TIME_WAIT (tens of thousands
      // of them would make connect() the client's bottleneck).
      close_reset(a->fd);
      ++completed;
      last_progress = now_ns();
      start(*a);
    }
  }
  for (auto &a : slots) {
    close_reset(a.fd);
  }
  close(epoll_fd);
  m.print_common("conn/s");
  std::printf(" refused=%llu verified_bytes=%llu\n", static_cast<unsigned long long>(refused),
              static_cast<unsigned long long>(verifier.verified()));
}

// ---- memory per idle connection -----------------------------------------------------------------

void run_mem(const config &c) {
  if (c.server_pid <= 0) {
    errno = 0;
    fail("mem needs --server-pid");
  }
  const rlim_t limit = uwsk::bench::raise_file_limit();
  if (limit < static_cast<rlim_t>(c.connections) + 64) {
    errno = 0;
    fail("RLIMIT_NOFILE is " + std::to_string(limit) + ", too low for " +
         std::to_string(c.connections) + " connections");
  }
  // Let the server allocate whatever it does once (first connection, first echo) before the
  // baseline is read.
  tcp_verifier verifier(c.size);
  std::vector<char> in(c.size);
  // One message echoed on a new connection; `s` is its stream.
  auto echo_one = [&](int fd, stream &s) {
    send_all(fd, verifier.next(s), c.size);
    verifier.sent(s, c.size);
  };
  auto check_one = [&](int fd, stream &s) {
    receive_all(fd, in.data(), in.size());
    verifier.received(s, in.data(), in.size());
  };
  long opened = 0;
  for (int i = 0; i < 16; ++i) {
    const int fd = connect_blocking(c);
    if (fd < 0) {
      fail("connect");
    }
    stream s = verifier.open(opened++);
    echo_one(fd, s);
    check_one(fd, s);
    close_reset(fd);
  }
  usleep(200000);
  const long rss_before = uwsk::bench::proc_status_field(c.server_pid, "VmRSS");
  // Open them in waves, each connection echoing one message, so the listen backlog never
  // overflows and every connection is known to be accepted and served.
  std::vector<int> fds;
  std::vector<stream> streams;
  fds.reserve(static_cast<size_t>(c.connections));
  streams.reserve(static_cast<size_t>(c.connections));
  const int wave = 200;
  const int64_t deadline = now_ns() + 60000000000LL;
  while (static_cast<int>(fds.size()) < c.connections) {
    if (now_ns() > deadline) {
      errno = 0;
      fail("opening the connections took more than 60 s");
    }
    const size_t first = fds.size();
    const int count = std::min(wave, c.connections - static_cast<int>(first));
    for (int i = 0; i < count; ++i) {
      const int fd = connect_blocking(c);
      if (fd < 0) {
        fail("connect #" + std::to_string(fds.size()));
      }
      fds.push_back(fd);
      streams.push_back(verifier.open(opened++));
      echo_one(fd, streams.back());
    }
    for (size_t i = first; i < fds.size(); ++i) {
      check_one(fds[i], streams[i]);
    }
  }
  usleep(300000);
  const long rss_after = uwsk::bench::proc_status_field(c.server_pid, "VmRSS");
  const long threads = uwsk::bench::proc_status_field(c.server_pid, "Threads");
  for (int fd : fds) {
    close_reset(fd);
  }
  const double per_connection =
      static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(c.connections);
  std::printf("rate=%.6g unit=B/conn rss_before_kib=%ld rss_after_kib=%ld connections=%d "
              "server_threads=%ld verified_bytes=%llu\n",
              per_connection, rss_before, rss_after, c.connections, threads,
              static_cast<unsigned long long>(verifier.verified()));
}

} // namespace

int main(int argc, char **argv) {
  config c;
  try {
    options opts(argc, argv);
    c.workload = opts.text("workload", "");
    parse_address(c, opts.text("host", "127.0.0.1"),
                  static_cast<unsigned short>(opts.integer("port", 30111)));
    c.server_pid = static_cast<pid_t>(opts.integer("server-pid", 0));
    c.warmup_s = opts.number("warmup", 0.5);
    c.duration_s = opts.number("duration", 2.0);
    c.connect_timeout_s = opts.number("connect-timeout", 10.0);
    const bool bulk = c.workload == "bulk";
    c.size = static_cast<size_t>(opts.integer("size", bulk ? 65536 : 64));
    const int default_connections = c.workload == "accept" ? 8
                                    : c.workload == "mem"  ? 10000
                                    : c.workload == "pp16" ? 16
                                                           : 64;
    c.connections = static_cast<int>(opts.integer("connections", default_connections));
    c.inflight = static_cast<int>(opts.integer("inflight", 64));
    if (c.size == 0 || c.connections <= 0 || c.inflight <= 0 || c.duration_s <= 0 ||
        c.warmup_s < 0) {
      throw std::invalid_argument("sizes, counts and --duration must be positive");
    }
    if (c.workload == "udp" && c.size < udp_verifier::header) {
      throw std::invalid_argument("udp needs --size of at least 8 (the sequence number)");
    }
    if (!uwsk::bench::pin_to_cpu(static_cast<int>(opts.integer("cpu", -1)))) {
      throw std::invalid_argument("cannot pin to --cpu");
    }
  } catch (const std::exception &e) {
    std::fprintf(
        stderr,
        "loadgen: %s\nusage: %s --workload pp1|pp16|pp64|bulk|udp|accept|mem [--host ADDR] "
        "[--port N] [--server-pid PID] [--warmup S] [--duration S] [--size BYTES] "
        "[--connections N] [--inflight N] [--cpu N] [--connect-timeout S]\n",
        e.what(), argv[0]);
    return 1;
  }
  // Everything is bounded: a hung server cannot keep the load generator alive.
  alarm(static_cast<unsigned>(c.connect_timeout_s + c.warmup_s + c.duration_s + 90));
  try {
    const bool udp = c.workload == "udp";
    wait_for_server(c, udp);
    if (c.workload == "pp1") {
      run_pp1(c);
    } else if (c.workload == "pp64" || c.workload == "pp16") {
      run_pp64(c);
    } else if (c.workload == "bulk") {
      run_bulk(c);
    } else if (udp) {
      run_udp(c);
    } else if (c.workload == "accept") {
      run_accept(c);
    } else if (c.workload == "mem") {
      run_mem(c);
    } else {
      std::fprintf(stderr, "loadgen: unknown --workload '%s'\n", c.workload.c_str());
      return 1;
    }
  } catch (const mismatch &e) {
    std::fprintf(stderr, "loadgen: %s: %s\n", c.workload.c_str(), e.what());
    return 3;
  } catch (const failure &e) {
    std::fprintf(stderr, "loadgen: %s: %s\n", c.workload.c_str(), e.what());
    return 2;
  }
  std::fflush(stdout);
  return 0;
}

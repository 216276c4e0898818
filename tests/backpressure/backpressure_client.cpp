// backpressure-client: receive backpressure against examples/echo-server running under uwsk-run.
//
// The echo server retains each receive indication until the echo send of its bytes completes.
// A client that pushes data and never reads makes those sends wait; uwsk must then stop reading
// the server's socket once the bytes it holds for the driver reach the socket's bound (docs/
// design.md, "Receive backpressure"), so that TCP's window closes and this client's sends block,
// instead of reading everything into memory.
//
// Phases, each bounded in time:
//  1. warm-up: one short echo exchange, then the server's VmRSS (/proc/PID/status) is the
//     baseline (the lowest of a few samples);
//  2. push: N connections each send a counter pattern without reading until their sends block
//     (no byte accepted for a while) or all of it is sent; the server's RSS is sampled all along;
//  3. echo: every connection sends the rest and reads everything back, compared byte for byte;
//     then it closes its side and waits for the server's close;
//  4. settle: the server's RSS must come back near the baseline within a bounded wait.
// Passes (exit 0) when the sends blocked before the end, the RSS growth during the push stayed
// below the limit, every byte came back intact, and the RSS came back within the return limit.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct options {
  long pid = 0;
  unsigned short port = 20007;
  int connections = 4;
  std::size_t bytes = std::size_t{64} << 20; // per connection
  long growth_limit_kib = 16 * 1024;         // RSS growth allowed during the push
  long return_limit_kib = 2 * 1024;          // RSS above the baseline allowed after the close
  bool rss_limits = true; // false under sanitizers: shadow memory and quarantine make RSS moot
  milliseconds blocked_after{1000}; // no byte accepted for this long: sends blocked
  milliseconds push_deadline{30000};
  milliseconds echo_deadline{60000};
  milliseconds settle_deadline{10000};
};

// The server's resident set, in KiB (VmRSS), or -1.
long rss_kib(long pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  FILE *f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    return -1;
  }
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      kib = std::strtol(line + 6, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kib;
}

double mib(long kib) {
  return static_cast<double>(kib) / 1024.0;
}

// Byte `offset` of connection `id`'s stream: little-endian 64-bit words (id << 56 | index).
void fill_pattern(int id, std::size_t offset, unsigned char *out, std::size_t length) {
  for (std::size_t i = 0; i < length; ++i) {
    const std::size_t at = offset + i;
    const std::uint64_t word = (static_cast<std::uint64_t>(id) << 56) | (at / 8);
    out[i] = static_cast<unsigned char>(word >> (8 * (at % 8)));
  }
}

int connect_loopback(unsigned short port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  if (connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// The most a TCP buffer of this kind may grow to (the last of the three numbers in
// /proc/sys/net/ipv4/tcp_rmem or tcp_wmem), or `fallback` when it cannot be read.
std::size_t tcp_buffer_max(const char *file, std::size_t fallback) {
  FILE *f = std::fopen(file, "r");
  unsigned long least = 0;
  unsigned long initial = 0;
  unsigned long most = 0;
  const bool read = f != nullptr && std::fscanf(f, "%lu %lu %lu", &least, &initial, &most) == 3;
  if (f != nullptr) {
    std::fclose(f);
  }
  return read ? most : fallback;
}

// What the kernel's buffers on one echoed connection may hold while the client does not read:
// the client's send buffer, the server's receive buffer, the server's send buffer and the
// client's receive buffer, each at the most it may grow to. Receive buffers grow as the
// application reads quickly (the server does, until the driver's retained bytes reach uwsk's
// bound), up to tcp_rmem's maximum: 6 MiB by default on older kernels, 32 MiB on newer ones.
std::size_t kernel_buffers_on_path() {
  const std::size_t rmem = tcp_buffer_max("/proc/sys/net/ipv4/tcp_rmem", std::size_t{6} << 20);
  const std::size_t wmem = tcp_buffer_max("/proc/sys/net/ipv4/tcp_wmem", std::size_t{4} << 20);
  return 2 * rmem + 2 * wmem;
}

// SO_RCVBUF as Linux reports it for a new accepted loopback connection (what the server's sockets
// start with), or -1.
int accepted_rcvbuf() {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(a);
  int result = -1;
  if (listener >= 0 && bind(listener, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0 &&
      listen(listener, 1) == 0 &&
      getsockname(listener, reinterpret_cast<sockaddr *>(&a), &length) == 0) {
    const int client = connect_loopback(ntohs(a.sin_port));
    const int server = client >= 0 ? accept(listener, nullptr, nullptr) : -1;
    int size = 0;
    socklen_t size_length = sizeof(size);
    if (server >= 0 && getsockopt(server, SOL_SOCKET, SO_RCVBUF, &size, &size_length) == 0) {
      result = size;
    }
    if (server >= 0) {
      close(server);
    }
    if (client >= 0) {
      close(client);
    }
  }
  if (listener >= 0) {
    close(listener);
  }
  return result;
}

struct connection {
  int id = 0;
  int fd = -1;
  std::size_t sent = 0;
  std::size_t received = 0;
  bool shut = false; // our FIN sent
  bool eof = false;  // the server's FIN seen
  std::size_t sent_before_block = 0;
  bool blocked = false;
  clock_type::time_point last_progress;
};

bool send_some(connection &c, const options &o, std::vector<unsigned char> &buffer) {
  while (c.sent < o.bytes) {
    const std::size_t n = std::min(buffer.size(), o.bytes - c.sent);
    fill_pattern(c.id, c.sent, buffer.data(), n);
    const ssize_t got = send(c.fd, buffer.data(), n, MSG_NOSIGNAL);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return true;
      }
      std::fprintf(stderr, "backpressure-client: connection %d: send: %s\n", c.id,
                   std::strerror(errno));
      return false;
    }
    c.sent += static_cast<std::size_t>(got);
    c.last_progress = clock_type::now();
  }
  return true;
}

// Reads what is there and checks it against the pattern.
bool receive_some(connection &c, const options &o, std::vector<unsigned char> &buffer,
                  std::vector<unsigned char> &expected) {
  for (;;) {
    const ssize_t got = recv(c.fd, buffer.data(), buffer.size(), 0);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return true;
      }
      std::fprintf(stderr, "backpressure-client: connection %d: recv: %s\n", c.id,
                   std::strerror(errno));
      return false;
    }
    if (got == 0) {
      c.eof = true;
      if (c.received != o.bytes) {
        std::fprintf(stderr,
                     "backpressure-client: connection %d: the server closed after %zu of %zu "
                     "bytes\n",
                     c.id, c.received, o.bytes);
        return false;
      }
      return true;
    }
    const auto n = static_cast<std::size_t>(got);
    if (c.received + n > o.bytes) {
      std::fprintf(stderr, "backpressure-client: connection %d: more bytes than were sent\n", c.id);
      return false;
    }
    fill_pattern(c.id, c.received, expected.data(), n);
    if (std::memcmp(buffer.data(), expected.data(), n) != 0) {
      std::size_t at = 0;
      while (buffer[at] == expected[at]) {
        ++at;
      }
      std::fprintf(stderr,
                   "backpressure-client: connection %d: byte %zu is 0x%02x, expected 0x%02x\n",
                   c.id, c.received + at, buffer[at], expected[at]);
      return false;
    }
    c.received += n;
  }
}

// One short exchange, so the baseline includes what any connection leaves set up.
bool warm_up(const options &o) {
  const int fd = connect_loopback(o.port);
  if (fd < 0) {
    std::perror("backpressure-client: warm-up connect");
    return false;
  }
  std::vector<unsigned char> out(65536);
  std::vector<unsigned char> in(out.size());
  fill_pattern(99, 0, out.data(), out.size());
  bool ok = send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
  std::size_t got = 0;
  while (ok && got < in.size()) {
    pollfd p{fd, POLLIN, 0};
    const ssize_t n = poll(&p, 1, 5000) == 1 ? recv(fd, in.data() + got, in.size() - got, 0) : -1;
    ok = n > 0;
    got += ok ? static_cast<std::size_t>(n) : 0;
  }
  ok = ok && in == out;
  shutdown(fd, SHUT_WR);
  char byte;
  pollfd p{fd, POLLIN, 0};
  ok = ok && poll(&p, 1, 5000) == 1 && recv(fd, &byte, 1, 0) == 0;
  close(fd);
  if (!ok) {
    std::fprintf(stderr, "backpressure-client: the warm-up exchange failed\n");
  }
  return ok;
}

bool parse(int argc, char **argv, options &o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const long value = std::strtol(argv[i + 1], nullptr, 0);
    if (name == "--pid") {
      o.pid = value;
    } else if (name == "--port") {
      o.port = static_cast<unsigned short>(value);
    } else if (name == "--connections") {
      o.connections = static_cast<int>(value);
    } else if (name == "--mib") {
      o.bytes = static_cast<std::size_t>(value) << 20;
    } else if (name == "--rss-limits") {
      o.rss_limits = value != 0;
    } else {
      return false;
    }
  }
  return o.pid > 0 && o.connections > 0 && o.connections < 64 && o.bytes > 0;
}

} // namespace

int main(int argc, char **argv) {
  options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr, "usage: backpressure-client --pid PID [--port N] [--connections N] "
                         "[--mib N] [--rss-limits 0|1]\n");
    return 2;
  }
  // The push must be more than the kernel alone can take in, or a connection whose receive
  // buffers grew large sends everything without ever blocking, however well uwsk bounds what it
  // reads: each connection pushes at least that plus 8 MiB.
  const std::size_t kernel_hold = kernel_buffers_on_path();
  if (o.bytes < kernel_hold + (std::size_t{8} << 20)) {
    o.bytes = ((kernel_hold + (std::size_t{1} << 20) - 1) >> 20 << 20) + (std::size_t{8} << 20);
  }
  std::printf("backpressure: %zu MiB per connection (the kernel's buffers on its path may hold "
              "up to %.1f MiB: twice tcp_rmem's and tcp_wmem's maxima)\n",
              o.bytes >> 20, static_cast<double>(kernel_hold) / (1 << 20));
  const int rcvbuf = accepted_rcvbuf();
  std::printf("backpressure: what bounds the server's memory: per connection, the bytes uwsk has "
              "read but the driver has not yet released are held to the socket's SO_RCVBUF as "
              "Linux reports it (%d bytes for a new loopback connection here), plus at most one "
              "64 KiB read; past that uwsk stops reading, the kernel's buffers fill, TCP's "
              "window closes and the client's sends block\n",
              rcvbuf);

  // 1. Warm-up and baseline.
  if (!warm_up(o)) {
    return 1;
  }
  std::this_thread::sleep_for(milliseconds(300));
  long baseline = rss_kib(o.pid);
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(milliseconds(50));
    const long now = rss_kib(o.pid);
    baseline = now >= 0 && (baseline < 0 || now < baseline) ? now : baseline;
  }
  if (baseline < 0) {
    std::fprintf(stderr, "backpressure-client: cannot read /proc/%ld/status\n", o.pid);
    return 1;
  }
  std::printf("backpressure: baseline VmRSS %.1f MiB\n", mib(baseline));

  // 2. Push without reading.
  std::vector<connection> conns(static_cast<std::size_t>(o.connections));
  for (int i = 0; i < o.connections; ++i) {
    connection &c = conns[static_cast<std::size_t>(i)];
    c.id = i;
    c.fd = connect_loopback(o.port);
    if (c.fd < 0) {
      std::perror("backpressure-client: connect");
      return 1;
    }
    set_nonblocking(c.fd);
    c.last_progress = clock_type::now();
  }
  std::vector<unsigned char> buffer(256 * 1024);
  std::vector<unsigned char> expected(buffer.size());
  long push_peak = baseline;
  const auto push_start = clock_type::now();
  for (;;) {
    bool all_settled = true;
    for (connection &c : conns) {
      if (!send_some(c, o, buffer)) {
        return 1;
      }
      c.blocked = c.sent < o.bytes && clock_type::now() - c.last_progress >= o.blocked_after;
      all_settled = all_settled && (c.blocked || c.sent == o.bytes);
    }
    push_peak = std::max(push_peak, rss_kib(o.pid));
    if (all_settled) {
      break;
    }
    if (clock_type::now() - push_start > o.push_deadline) {
      std::fprintf(stderr, "backpressure-client: the push did not settle in %lld ms\n",
                   static_cast<long long>(o.push_deadline.count()));
      return 1;
    }
    std::vector<pollfd> p;
    for (connection &c : conns) {
      if (c.sent < o.bytes) {
        p.push_back({c.fd, POLLOUT, 0});
      }
    }
    poll(p.data(), p.size(), 20);
  }
  const long held = rss_kib(o.pid);
  push_peak = std::max(push_peak, held);
  bool ok = true;
  for (connection &c : conns) {
    c.sent_before_block = c.sent;
    std::printf("backpressure: connection %d: %.1f MiB sent before its sends %s\n", c.id,
                static_cast<double>(c.sent) / (1 << 20), c.blocked ? "blocked" : "ended");
    if (!c.blocked) {
      std::printf("backpressure: FAIL: connection %d sent all %zu MiB without blocking: the "
                  "server read everything\n",
                  c.id, o.bytes >> 20);
      ok = false;
    }
  }
  std::printf("backpressure: push: VmRSS peak %.1f MiB (%+.1f MiB), %.1f MiB with the sends "
              "blocked; limit %+.1f MiB\n",
              mib(push_peak), mib(push_peak - baseline), mib(held), mib(o.growth_limit_kib));
  if (o.rss_limits && push_peak - baseline >= o.growth_limit_kib) {
    std::printf("backpressure: FAIL: the server's RSS grew by %.1f MiB during the push\n",
                mib(push_peak - baseline));
    ok = false;
  }

  // 3. Echo everything back.
  long echo_peak = held;
  const auto echo_start = clock_type::now();
  for (;;) {
    bool all_done = true;
    std::vector<pollfd> p;
    for (connection &c : conns) {
      if (!send_some(c, o, buffer) || !receive_some(c, o, buffer, expected)) {
        return 1;
      }
      if (c.sent == o.bytes && !c.shut) {
        shutdown(c.fd, SHUT_WR); // the server answers with its own disconnect
        c.shut = true;
      }
      if (!c.eof) {
        all_done = false;
        p.push_back({c.fd, static_cast<short>(POLLIN | (c.sent < o.bytes ? POLLOUT : 0)), 0});
      }
    }
    echo_peak = std::max(echo_peak, rss_kib(o.pid));
    if (all_done) {
      break;
    }
    if (clock_type::now() - echo_start > o.echo_deadline) {
      std::fprintf(stderr, "backpressure-client: the echo did not finish in %lld ms\n",
                   static_cast<long long>(o.echo_deadline.count()));
      for (connection &c : conns) {
        std::fprintf(stderr, "backpressure-client: connection %d: sent %zu, received %zu\n", c.id,
                     c.sent, c.received);
      }
      return 1;
    }
    poll(p.data(), p.size(), 20);
  }
  std::size_t total = 0;
  for (connection &c : conns) {
    total += c.received;
    close(c.fd);
  }
  std::printf("backpressure: echo: %zu MiB over %d connections came back intact in %.1f s; VmRSS "
              "peak %.1f MiB (%+.1f MiB)\n",
              total >> 20, o.connections,
              std::chrono::duration<double>(clock_type::now() - echo_start).count(), mib(echo_peak),
              mib(echo_peak - baseline));

  // 4. Settle.
  const auto settle_start = clock_type::now();
  long after = rss_kib(o.pid);
  while (o.rss_limits && after - baseline > o.return_limit_kib &&
         clock_type::now() - settle_start < o.settle_deadline) {
    std::this_thread::sleep_for(milliseconds(100));
    after = rss_kib(o.pid);
  }
  std::printf("backpressure: after the close: VmRSS %.1f MiB (%+.1f MiB from the baseline, "
              "after %.1f s); limit %+.1f MiB\n",
              mib(after), mib(after - baseline),
              std::chrono::duration<double>(clock_type::now() - settle_start).count(),
              mib(o.return_limit_kib));
  if (o.rss_limits && after - baseline > o.return_limit_kib) {
    std::printf("backpressure: FAIL: the server kept %.1f MiB after the connections closed\n",
                mib(after - baseline));
    ok = false;
  }
  if (!o.rss_limits) {
    std::printf("backpressure: RSS limits not applied (sanitizer build)\n");
  }
  std::printf("backpressure: %s\n", ok ? "passed" : "FAILED");
  return ok ? 0 : 1;
}

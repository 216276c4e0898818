// uwsk-bench-loadgen: the one load generator every echo server is measured with.
//
// It is a single thread (blocking calls for one connection, an epoll loop for many, recvmmsg and
// sendmmsg for UDP) so that it costs the same against every server. It waits until the server
// answers, runs a warm-up, then measures a window, and prints one line of key=value pairs:
//
//   rate=<ops per second> unit=<what an op is> ops=<ops in the window> window_s=<seconds>
//   server_cpu_us_per_op=<server CPU per op> server_busy=<server CPU / wall time>
//   client_busy=<own CPU / wall time> server_threads=<threads of the server process>
//   plus p50_us= p99_us= (pp1), sent_gbps= (bulk), lost= (udp), rss_*= (mem).
//
// Workloads (--workload):
//   pp1     TCP ping-pong over 1 connection, --size bytes (64), one message outstanding
//   pp64    TCP ping-pong over --connections connections (64), one message outstanding on each
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

// A blocking connection with bounded receive and send waits.
int connect_blocking(const config &c) {
  const int fd = tcp_socket(c, false);
  if (connect(fd, reinterpret_cast<const sockaddr *>(&c.server), c.server_length) != 0) {
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

// ---- TCP ping-pong, 1 connection ------------------------------------------------------------

void run_pp1(const config &c) {
  const int fd = connect_blocking(c);
  if (fd < 0) {
    fail("connect");
  }
  std::vector<char> out(c.size, 'p'), in(c.size);
  std::vector<int64_t> latencies;
  latencies.reserve(1 << 22);
  meter m(c);
  uint64_t round_trips = 0;
  while (!m.tick(round_trips)) {
    const int64_t start = now_ns();
    send_all(fd, out.data(), out.size());
    receive_all(fd, in.data(), in.size());
    if (m.measuring() && latencies.size() < latencies.capacity()) {
      latencies.push_back(now_ns() - start);
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
  std::printf(" p50_us=%.2f p99_us=%.2f\n", percentile(0.50), percentile(0.99));
}

// ---- TCP ping-pong, many connections ------------------------------------------------------------

void run_pp64(const config &c) {
  struct conn {
    int fd;
    size_t received;
  };
  std::vector<conn> conns(static_cast<size_t>(c.connections));
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  std::vector<char> out(c.size, 'm'), in(std::max<size_t>(c.size, 4096));
  for (auto &k : conns) {
    k.fd = connect_blocking(c);
    if (k.fd < 0) {
      fail("connect");
    }
    set_nonblocking(k.fd);
    k.received = 0;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = &k;
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, k.fd, &event);
  }
  for (auto &k : conns) {
    send_all(k.fd, out.data(), out.size());
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
      k->received += static_cast<size_t>(n);
      while (k->received >= c.size) {
        k->received -= c.size;
        ++messages;
        send_all(k->fd, out.data(), out.size());
      }
    }
  }
  for (auto &k : conns) {
    close_reset(k.fd);
  }
  close(epoll_fd);
  m.print_common("msg/s");
  std::printf("\n");
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
  std::vector<char> block(c.size, 'b'), in(256 * 1024);
  size_t block_offset = 0; // how much of the current block the kernel has taken
  uint64_t received = 0, sent = 0, sent0 = 0;
  meter m(c);
  bool was_measuring = false;
  int64_t last_progress = now_ns();
  while (!m.tick(received)) {
    if (m.measuring() && !was_measuring) {
      was_measuring = true;
      sent0 = sent;
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
        received += static_cast<uint64_t>(n);
      }
    }
    if ((ready.events & EPOLLOUT) != 0) {
      const ssize_t n =
          send(fd, block.data() + block_offset, block.size() - block_offset, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN) {
        fail("send");
      }
      if (n > 0) {
        sent += static_cast<uint64_t>(n);
        block_offset = (block_offset + static_cast<size_t>(n)) % block.size();
      }
    }
  }
  const uint64_t sent_in_window = sent - sent0;
  close_reset(fd);
  close(epoll_fd);
  // The rate is reported in bytes per second; the runner shows GB/s.
  m.print_common("B/s");
  std::printf(" sent_gbps=%.4f\n", static_cast<double>(sent_in_window) / m.seconds() / 1e9);
}

// ---- UDP echo -----------------------------------------------------------------------------------

void run_udp(const config &c) {
  const int fd = socket(c.server.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr *>(&c.server), c.server_length) != 0) {
    fail("UDP socket");
  }
  const int buffer = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  constexpr int batch = 64;
  std::vector<char> data(static_cast<size_t>(batch) * std::max<size_t>(c.size, 64), 'u');
  std::vector<iovec> iov(batch);
  std::vector<mmsghdr> messages(batch);
  auto prepare = [&](int count, size_t length) {
    for (int i = 0; i < count; ++i) {
      iov[static_cast<size_t>(i)] = {
          data.data() + static_cast<size_t>(i) * std::max<size_t>(c.size, 64), length};
      messages[static_cast<size_t>(i)].msg_hdr = {};
      messages[static_cast<size_t>(i)].msg_hdr.msg_iov = &iov[static_cast<size_t>(i)];
      messages[static_cast<size_t>(i)].msg_hdr.msg_iovlen = 1;
    }
  };
  int64_t outstanding = 0;
  auto send_some = [&](int count) {
    while (count > 0) {
      const int now = std::min(count, batch);
      prepare(now, c.size);
      const int sent = sendmmsg(fd, messages.data(), static_cast<unsigned>(now), 0);
      if (sent <= 0) {
        if (sent < 0 && errno == EAGAIN) {
          return; // counted as lost by the refill below
        }
        fail("sendmmsg");
      }
      outstanding += sent;
      count -= sent;
    }
  };
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
  send_some(c.inflight);
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
        send_some(c.inflight);
        last_receive = now_ns();
      }
      continue;
    }
    for (int round = 0; round < 16; ++round) {
      prepare(batch, std::max<size_t>(c.size, 64));
      const int got = recvmmsg(fd, messages.data(), batch, 0, nullptr);
      if (got <= 0) {
        break;
      }
      last_receive = now_ns();
      echoed += static_cast<uint64_t>(got);
      outstanding -= got;
      send_some(got);
    }
  }
  close(fd);
  close(epoll_fd);
  m.print_common("msg/s");
  std::printf(" lost=%llu\n", static_cast<unsigned long long>(lost));
}

// ---- accept + close -----------------------------------------------------------------------------

void run_accept(const config &c) {
  struct attempt {
    int fd = -1;
    bool connected = false;
    size_t received = 0;
  };
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  std::vector<attempt> slots(static_cast<size_t>(c.connections));
  auto start = [&](attempt &a) {
    a.fd = tcp_socket(c, true);
    a.connected = false;
    a.received = 0;
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
  std::vector<char> out(c.size, 'a'), in(std::max<size_t>(c.size, 256));
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
        send_all(a->fd, out.data(), out.size());
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
      a->received += static_cast<size_t>(n);
      if (a->received < c.size) {
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
  std::printf(" refused=%llu\n", static_cast<unsigned long long>(refused));
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
  std::vector<char> out(c.size, 'i'), in(c.size);
  for (int i = 0; i < 16; ++i) {
    const int fd = connect_blocking(c);
    if (fd < 0) {
      fail("connect");
    }
    send_all(fd, out.data(), out.size());
    receive_all(fd, in.data(), in.size());
    close_reset(fd);
  }
  usleep(200000);
  const long rss_before = uwsk::bench::proc_status_field(c.server_pid, "VmRSS");
  // Open them in waves, each connection echoing one message, so the listen backlog never
  // overflows and every connection is known to be accepted and served.
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(c.connections));
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
      send_all(fd, out.data(), out.size());
    }
    for (size_t i = first; i < fds.size(); ++i) {
      receive_all(fds[i], in.data(), in.size());
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
              "server_threads=%ld\n",
              per_connection, rss_before, rss_after, c.connections, threads);
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
    const int default_connections = c.workload == "accept" ? 8 : (c.workload == "mem" ? 10000 : 64);
    c.connections = static_cast<int>(opts.integer("connections", default_connections));
    c.inflight = static_cast<int>(opts.integer("inflight", 64));
    if (c.size == 0 || c.connections <= 0 || c.inflight <= 0 || c.duration_s <= 0 ||
        c.warmup_s < 0) {
      throw std::invalid_argument("sizes, counts and --duration must be positive");
    }
    if (!uwsk::bench::pin_to_cpu(static_cast<int>(opts.integer("cpu", -1)))) {
      throw std::invalid_argument("cannot pin to --cpu");
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr,
                 "loadgen: %s\nusage: %s --workload pp1|pp64|bulk|udp|accept|mem [--host ADDR] "
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
    } else if (c.workload == "pp64") {
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
  } catch (const failure &e) {
    std::fprintf(stderr, "loadgen: %s: %s\n", c.workload.c_str(), e.what());
    return 2;
  }
  std::fflush(stdout);
  return 0;
}

// uwsk-bench-epoll-echo: the raw epoll baseline. A TCP and UDP echo server on 127.0.0.1 and ::1,
// one thread, non-blocking sockets, edge-triggered epoll: what a careful C++ developer would
// write by hand, and the reference (x1.00) every other server is compared with.
//
// TCP: every connection is registered once for EPOLLIN | EPOLLOUT | EPOLLET. Reads go into one
// shared 64 KiB buffer and are written back at once (a short read ends the turn: it drained the
// socket, and new data raises a new edge); only bytes the kernel did not take are
// copied into a per-connection backlog, and then reading stops until EPOLLOUT drains it. A
// connection is read at most `read_budget` times per wake-up and then queued to run again after
// the batch, so a bulk stream cannot starve the others (edge triggering would not report it
// again). UDP: recvmmsg and sendmmsg in batches of 64.
//
// Usage: uwsk-bench-epoll-echo [--port 30111] [--lifetime SECONDS]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "bench_common.hpp"

namespace {

using uwsk::bench::open_loopback_socket;
using uwsk::bench::options;

constexpr const char *program = "epoll-echo";

constexpr size_t read_size = 64 * 1024;
constexpr int read_budget = 16;
constexpr unsigned udp_batch = 64;
constexpr size_t udp_max = 65536;

enum class kind { tcp_listener, udp, connection, signal };

struct handle {
  kind type;
  int fd;
};

// A connection: the handle epoll reports, and the bytes the kernel has not taken yet.
struct connection : handle {
  std::unique_ptr<char[]> backlog; // allocated on the first short write only
  size_t backlog_size = 0;
  size_t backlog_sent = 0;
  size_t backlog_capacity = 0;
  bool queued = false; // on the ready list: read budget used up, more may be waiting
  bool closed = false;
};

struct server {
  int epoll_fd = -1;
  bool stopping = false;
  char buffer[read_size];
  std::vector<connection *> ready;     // connections to read again after this batch
  std::vector<connection *> graveyard; // closed during this batch, freed after it
  // UDP batch state, reused for every recvmmsg.
  std::unique_ptr<char[]> udp_data{new char[udp_batch * udp_max]};
  mmsghdr udp_messages[udp_batch];
  iovec udp_iov[udp_batch];
  sockaddr_storage udp_peers[udp_batch];
};

[[noreturn]] void die(const char *what) {
  std::fprintf(stderr, "epoll-echo: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void watch(server &s, handle *h, uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.ptr = h;
  if (epoll_ctl(s.epoll_fd, EPOLL_CTL_ADD, h->fd, &event) != 0) {
    die("epoll_ctl");
  }
}

void close_connection(server &s, connection *c) {
  if (c->closed) {
    return;
  }
  c->closed = true;
  close(c->fd); // also removes it from the epoll set
  s.graveyard.push_back(c);
}

// Writes what is left of the backlog; true when it is empty.
bool flush_backlog(server &s, connection *c) {
  while (c->backlog_sent < c->backlog_size) {
    const ssize_t n = send(c->fd, c->backlog.get() + c->backlog_sent,
                           c->backlog_size - c->backlog_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return false;
      }
      close_connection(s, c);
      return false;
    }
    c->backlog_sent += static_cast<size_t>(n);
  }
  c->backlog_size = c->backlog_sent = 0;
  return true;
}

void keep_unsent(connection *c, const char *data, size_t size) {
  if (c->backlog_capacity < size) {
    c->backlog.reset(new char[size]);
    c->backlog_capacity = size;
  }
  std::memcpy(c->backlog.get(), data, size);
  c->backlog_size = size;
  c->backlog_sent = 0;
}

// Reads and echoes until the socket is drained, the kernel stops taking the echo, or the
// budget is used up (then the connection is queued to run again after the batch).
void serve(server &s, connection *c) {
  for (int round = 0; round < read_budget; ++round) {
    const ssize_t n = recv(c->fd, s.buffer, sizeof(s.buffer), 0);
    if (n == 0) {
      close_connection(s, c);
      return;
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        close_connection(s, c);
      }
      return;
    }
    const ssize_t sent = send(c->fd, s.buffer, static_cast<size_t>(n), MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN) {
      close_connection(s, c);
      return;
    }
    const size_t taken = sent < 0 ? 0 : static_cast<size_t>(sent);
    if (taken < static_cast<size_t>(n)) {
      keep_unsent(c, s.buffer + taken, static_cast<size_t>(n) - taken);
      return; // EPOLLOUT resumes reading once the backlog is out
    }
    if (static_cast<size_t>(n) < sizeof(s.buffer)) {
      // A short read emptied the receive queue; data arriving later raises a new edge, so the
      // recv that would only say EAGAIN is skipped (as nginx does).
      return;
    }
  }
  if (!c->queued) {
    c->queued = true;
    s.ready.push_back(c);
  }
}

void accept_all(server &s, int listener) {
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (errno != EAGAIN) {
        std::fprintf(stderr, "epoll-echo: accept: %s\n", std::strerror(errno));
      }
      return;
    }
    auto *c = new connection;
    c->type = kind::connection;
    c->fd = fd;
    watch(s, c, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
  }
}

void echo_datagrams(server &s, int fd) {
  for (;;) {
    for (unsigned i = 0; i < udp_batch; ++i) {
      s.udp_iov[i] = {s.udp_data.get() + i * udp_max, udp_max};
      s.udp_messages[i].msg_hdr = {};
      s.udp_messages[i].msg_hdr.msg_name = &s.udp_peers[i];
      s.udp_messages[i].msg_hdr.msg_namelen = sizeof(s.udp_peers[i]);
      s.udp_messages[i].msg_hdr.msg_iov = &s.udp_iov[i];
      s.udp_messages[i].msg_hdr.msg_iovlen = 1;
    }
    const int count = recvmmsg(fd, s.udp_messages, udp_batch, MSG_DONTWAIT, nullptr);
    if (count <= 0) {
      return; // EAGAIN: drained (edge-triggered)
    }
    for (int i = 0; i < count; ++i) {
      s.udp_iov[i].iov_len = s.udp_messages[i].msg_len;
    }
    // A datagram the kernel cannot take now is dropped, as UDP may.
    int done = 0;
    while (done < count) {
      const int sent =
          sendmmsg(fd, s.udp_messages + done, static_cast<unsigned>(count - done), MSG_DONTWAIT);
      if (sent <= 0) {
        break;
      }
      done += sent;
    }
  }
}

} // namespace

int main(int argc, char **argv) {
  unsigned short port;
  double lifetime;
  try {
    options opts(argc, argv);
    port = static_cast<unsigned short>(opts.integer("port", 30111));
    lifetime = opts.number("lifetime", 3600);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "epoll-echo: %s\nusage: %s [--port N] [--lifetime SECONDS]\n", e.what(),
                 argv[0]);
    return 1;
  }
  uwsk::bench::raise_file_limit();
  // A forgotten server ends by itself.
  alarm(static_cast<unsigned>(lifetime));

  auto s = std::make_unique<server>();
  s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (s->epoll_fd < 0) {
    die("epoll_create1");
  }
  handle listeners[4] = {
      {kind::tcp_listener,
       open_loopback_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, port, program)},
      {kind::tcp_listener,
       open_loopback_socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, port, program)},
      {kind::udp, open_loopback_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, port, program)},
      {kind::udp, open_loopback_socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, port, program)}};
  for (auto &h : listeners) {
    watch(*s, &h, EPOLLIN | EPOLLET);
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  handle signals{kind::signal, signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC)};
  watch(*s, &signals, EPOLLIN);

  std::vector<connection *> again;
  epoll_event events[256];
  while (!s->stopping) {
    const int count = epoll_wait(s->epoll_fd, events, 256, s->ready.empty() ? -1 : 0);
    if (count < 0 && errno != EINTR) {
      die("epoll_wait");
    }
    for (int i = 0; i < count; ++i) {
      auto *h = static_cast<handle *>(events[i].data.ptr);
      switch (h->type) {
      case kind::tcp_listener:
        accept_all(*s, h->fd);
        break;
      case kind::udp:
        echo_datagrams(*s, h->fd);
        break;
      case kind::signal:
        s->stopping = true;
        break;
      case kind::connection: {
        auto *c = static_cast<connection *>(h);
        if (c->closed) {
          break;
        }
        if (c->backlog_size != 0 && !flush_backlog(*s, c)) {
          break; // still blocked (or closed); the next EPOLLOUT continues
        }
        if ((events[i].events & (EPOLLERR | EPOLLHUP)) != 0 && (events[i].events & EPOLLIN) == 0) {
          close_connection(*s, c);
          break;
        }
        if (!c->queued) {
          serve(*s, c);
        }
        break;
      }
      }
    }
    // Connections that used up their budget run again, after everyone else had a turn.
    again.swap(s->ready);
    for (connection *c : again) {
      c->queued = false;
      if (!c->closed && c->backlog_size == 0) {
        serve(*s, c);
      }
    }
    again.clear();
    for (connection *c : s->graveyard) {
      delete c;
    }
    s->graveyard.clear();
  }
  return 0;
}

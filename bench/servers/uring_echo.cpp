// uwsk-bench-uring-echo: a raw io_uring baseline. A TCP and UDP echo server on 127.0.0.1 and ::1,
// one thread, written the way the io_uring documentation recommends for a single-threaded server:
// what the kernel's io_uring path costs when nothing else is in the way, measured beside raw
// epoll in the same run. It bounds what uwsk's io_uring engine can reach (bench/README.md,
// "Engines").
//
// The ring is made with IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (Linux 6.1;
// --setup coop uses IORING_SETUP_COOP_TASKRUN instead, the flags uwsk's engine uses, and the
// server falls back to it, then to none, on older kernels). Every loop turn is one
// io_uring_submit_and_wait.
//
// TCP: a multishot accept per listener. Each connection has one 64 KiB buffer (allocated with the
// connection; only the pages written are touched) and always exactly one chain in the ring: a
// receive, and when it returns n bytes, a send of those n bytes (MSG_WAITALL: the kernel sends all
// of them, waiting for space as needed) linked to the next receive into the same buffer, the send
// with IOSQE_CQE_SKIP_SUCCESS, so a round trip costs one completion. A failed send ends the chain
// (the receive completes with -ECANCELED); the receive's completion with 0 or an error closes the
// connection, and nothing else of it is in the ring then.
// UDP: 64 receive slots per socket, each a recvmsg into its own 64 KiB buffer; a datagram goes
// back with a sendmsg linked to the slot's next recvmsg, as for TCP.
// --link no (TCP only) submits the next receive when the send's completion has been taken, as a
// server must that completes each send on its own (uwsk completes each WskSend's IRP): a round
// trip then costs two completions and usually two io_uring_enter calls.
//
// Usage: uwsk-bench-uring-echo [--port 30111] [--lifetime SECONDS] [--setup defer|coop]
//                              [--link yes|no]
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "bench_common.hpp"

namespace {

using uwsk::bench::open_loopback_socket;
using uwsk::bench::options;

constexpr const char *program = "uring-echo";

constexpr size_t buffer_size = 64 * 1024;
constexpr unsigned udp_slots = 64;
constexpr unsigned sq_entries = 1024;
constexpr unsigned cq_entries = 16384;

// What a completion's user_data points at: the first member of every request's owner.
enum class kind { accept, receive, send, datagram_receive, datagram_send, signal };

struct request {
  kind type;
};

struct listener {
  request accept{kind::accept};
  int fd = -1;
};

struct connection {
  request receive{kind::receive};
  request send{kind::send};
  int fd = -1;
  std::unique_ptr<char[]> buffer{new char[buffer_size]};
};

// One datagram in flight: received into `buffer`, sent back from it to `peer`.
struct datagram_slot {
  request receive{kind::datagram_receive};
  request send{kind::datagram_send};
  int fd = -1;
  std::unique_ptr<char[]> buffer{new char[buffer_size]};
  sockaddr_storage peer{};
  iovec receive_iov{};
  iovec send_iov{};
  msghdr receive_message{};
  msghdr send_message{};
};

struct signal_reader {
  request read{kind::signal};
  int fd = -1;
  signalfd_siginfo info{};
};

[[noreturn]] void die(const char *what, int error) {
  std::fprintf(stderr, "uring-echo: %s: %s\n", what, std::strerror(error));
  std::exit(1);
}

io_uring g_ring;
bool g_link = true; // --link

io_uring_sqe *next_sqe() {
  io_uring_sqe *sqe = io_uring_get_sqe(&g_ring);
  if (sqe == nullptr) {
    // The submission queue is full: hand it to the kernel and take a fresh entry.
    if (int result = io_uring_submit(&g_ring); result < 0) {
      die("io_uring_submit", -result);
    }
    sqe = io_uring_get_sqe(&g_ring);
    if (sqe == nullptr) {
      die("io_uring_get_sqe", EBUSY);
    }
  }
  return sqe;
}

void arm_accept(listener &l) {
  io_uring_sqe *sqe = next_sqe();
  io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data(sqe, &l.accept);
}

void arm_receive(connection &c) {
  io_uring_sqe *sqe = next_sqe();
  io_uring_prep_recv(sqe, c.fd, c.buffer.get(), buffer_size, 0);
  io_uring_sqe_set_data(sqe, &c.receive);
}

// The echo of `size` bytes, then the next receive into the same buffer (linked, or once the
// send's completion is taken).
void arm_echo(connection &c, size_t size) {
  io_uring_sqe *sqe = next_sqe();
  io_uring_prep_send(sqe, c.fd, c.buffer.get(), size, MSG_WAITALL | MSG_NOSIGNAL);
  io_uring_sqe_set_data(sqe, &c.send);
  if (g_link) {
    sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
    arm_receive(c);
  }
}

void arm_datagram_receive(datagram_slot &d) {
  d.receive_iov = {d.buffer.get(), buffer_size};
  d.receive_message = {};
  d.receive_message.msg_name = &d.peer;
  d.receive_message.msg_namelen = sizeof(d.peer);
  d.receive_message.msg_iov = &d.receive_iov;
  d.receive_message.msg_iovlen = 1;
  io_uring_sqe *sqe = next_sqe();
  io_uring_prep_recvmsg(sqe, d.fd, &d.receive_message, 0);
  io_uring_sqe_set_data(sqe, &d.receive);
}

// Sends the datagram back to its sender, then receives the next one into the same slot. The
// kernel copies the send's header (address included) when the send is submitted, so the receive
// may overwrite `peer` once it runs, after the send.
void arm_datagram_echo(datagram_slot &d, size_t size) {
  d.send_iov = {d.buffer.get(), size};
  d.send_message = {};
  d.send_message.msg_name = &d.peer;
  d.send_message.msg_namelen = d.receive_message.msg_namelen;
  d.send_message.msg_iov = &d.send_iov;
  d.send_message.msg_iovlen = 1;
  io_uring_sqe *sqe = next_sqe();
  io_uring_prep_sendmsg(sqe, d.fd, &d.send_message, 0);
  io_uring_sqe_set_data(sqe, &d.send);
  sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
  arm_datagram_receive(d);
}

void arm_signal_read(signal_reader &s) {
  io_uring_sqe *sqe = next_sqe();
  io_uring_prep_read(sqe, s.fd, &s.info, sizeof(s.info), 0);
  io_uring_sqe_set_data(sqe, &s.read);
}

// Makes the ring with the best flags the kernel takes, starting from the ones asked for.
// Returns the name of the set in use.
const char *setup_ring(bool defer) {
  struct choice {
    const char *name;
    unsigned flags;
  };
  const choice choices[] = {
      {"defer", IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN},
      {"coop", IORING_SETUP_COOP_TASKRUN},
      {"plain", 0},
  };
  int result = -EINVAL;
  for (const choice &c : choices) {
    if (!defer && (c.flags & IORING_SETUP_DEFER_TASKRUN) != 0) {
      continue;
    }
    io_uring_params params{};
    params.flags = c.flags | IORING_SETUP_CQSIZE;
    params.cq_entries = cq_entries;
    result = io_uring_queue_init_params(sq_entries, &g_ring, &params);
    if (result == 0) {
      return c.name;
    }
    if (result != -EINVAL) {
      break;
    }
  }
  die("io_uring_queue_init_params", -result);
}

// Handles one completion; false once a stop signal arrived.
bool handle(const io_uring_cqe &cqe) {
  auto *r = static_cast<request *>(io_uring_cqe_get_data(&cqe));
  switch (r->type) {
  case kind::accept: {
    auto *l = reinterpret_cast<listener *>(r);
    if (cqe.res >= 0) {
      auto *c = new connection;
      c->fd = cqe.res;
      arm_receive(*c);
    } else if (cqe.res != -EINTR && cqe.res != -ECONNABORTED) {
      std::fprintf(stderr, "uring-echo: accept: %s\n", std::strerror(-cqe.res));
    }
    if ((cqe.flags & IORING_CQE_F_MORE) == 0) {
      arm_accept(*l); // the kernel ended the multishot accept: make a new one
    }
    return true;
  }
  case kind::receive: {
    auto *c = reinterpret_cast<connection *>(r);
    if (cqe.res > 0) {
      arm_echo(*c, static_cast<size_t>(cqe.res));
    } else {
      // The end of the stream, an error, or the chain's send failed (-ECANCELED): nothing else
      // of this connection is in the ring.
      close(c->fd);
      delete c;
    }
    return true;
  }
  case kind::send: {
    if (!g_link) {
      auto *c =
          reinterpret_cast<connection *>(reinterpret_cast<char *>(r) - offsetof(connection, send));
      if (cqe.res > 0) {
        arm_receive(*c);
      } else {
        close(c->fd); // nothing else of it is in the ring
        delete c;
      }
    }
    return true; // linked: a failed send; its chain's receive completes with -ECANCELED and closes
  }
  case kind::datagram_receive: {
    auto *d = reinterpret_cast<datagram_slot *>(r);
    if (cqe.res >= 0) {
      arm_datagram_echo(*d, static_cast<size_t>(cqe.res));
    } else {
      arm_datagram_receive(*d); // e.g. -ECANCELED after a failed send: UDP may drop it
    }
    return true;
  }
  case kind::datagram_send:
    return true; // a datagram the kernel would not take is dropped, as UDP may
  case kind::signal:
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  unsigned short port;
  double lifetime;
  std::string setup;
  try {
    options opts(argc, argv);
    port = static_cast<unsigned short>(opts.integer("port", 30111));
    lifetime = opts.number("lifetime", 3600);
    setup = opts.text("setup", "defer");
    if (setup != "defer" && setup != "coop") {
      throw std::invalid_argument("--setup is defer or coop, not '" + setup + "'");
    }
    const std::string link = opts.text("link", "yes");
    if (link != "yes" && link != "no") {
      throw std::invalid_argument("--link is yes or no, not '" + link + "'");
    }
    g_link = link == "yes";
  } catch (const std::exception &e) {
    std::fprintf(stderr,
                 "uring-echo: %s\nusage: %s [--port N] [--lifetime SECONDS] [--setup defer|coop] "
                 "[--link yes|no]\n",
                 e.what(), argv[0]);
    return 1;
  }
  uwsk::bench::raise_file_limit();
  // A forgotten server ends by itself.
  alarm(static_cast<unsigned>(lifetime));
  std::fprintf(stderr, "uring-echo: ring flags %s\n", setup_ring(setup == "defer"));

  listener listeners[2];
  listeners[0].fd = open_loopback_socket(AF_INET, SOCK_STREAM, port, program);
  listeners[1].fd = open_loopback_socket(AF_INET6, SOCK_STREAM, port, program);
  for (auto &l : listeners) {
    arm_accept(l);
  }
  const int datagram_fds[2] = {open_loopback_socket(AF_INET, SOCK_DGRAM, port, program),
                               open_loopback_socket(AF_INET6, SOCK_DGRAM, port, program)};
  auto slots = std::make_unique<datagram_slot[]>(2 * udp_slots);
  for (unsigned i = 0; i < 2 * udp_slots; ++i) {
    slots[i].fd = datagram_fds[i / udp_slots];
    arm_datagram_receive(slots[i]);
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  signal_reader signals;
  signals.fd = signalfd(-1, &stop, SFD_CLOEXEC);
  arm_signal_read(signals);

  for (bool running = true; running;) {
    if (int result = io_uring_submit_and_wait(&g_ring, 1); result < 0 && result != -EINTR) {
      die("io_uring_submit_and_wait", -result);
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe *cqe;
    io_uring_for_each_cqe(&g_ring, head, cqe) {
      ++seen;
      if (!handle(*cqe)) {
        running = false;
        break;
      }
    }
    io_uring_cq_advance(&g_ring, seen);
  }
  // Connections still open are reclaimed with the process; closing the ring ends their requests.
  io_uring_queue_exit(&g_ring);
  return 0;
}

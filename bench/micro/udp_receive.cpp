// uwsk-bench-udp-receive: how an event loop that answers each datagram with its own sendmsg (as
// a WskReceiveFromEvent driver's WskSendTo does) should receive the datagrams on io_uring, before
// the provider would change how it does (bench/README.md, "UDP receive paths").
//
// Three ways for one loop thread to receive, each followed by one sendmsg per datagram:
//   epoll     epoll_wait, then recvmmsg in batches of 8 until the socket is empty (the epoll
//             engine's readiness path);
//   poll      an io_uring multishot poll, then recvmmsg as above (what the io_uring engine does
//             for datagram sockets today);
//   recvmsg   an io_uring multishot IORING_OP_RECVMSG into a ring of provided buffers: each
//             datagram arrives with its source address in a buffer, with no receive system call.
// A client thread keeps WINDOW datagrams of 64 bytes in flight to the loop over 127.0.0.1 and
// checks every byte of every echo (an 8-byte sequence number and a pattern derived from it); a
// datagram that comes back wrong fails the run. Reports per mode the rate and the loop thread's
// own CPU time per datagram (CLOCK_THREAD_CPUTIME_ID), medians of R repetitions in which the
// modes alternate, and each mode's ratio to epoll within the repetition.
//
//   uwsk-bench-udp-receive [--datagrams N] [--reps R] [--window W] [--split]
//
// Both threads run on CPU 0 unless --split puts the client on CPU 1. Exits 77 when the kernel
// has no multishot IORING_OP_RECVMSG into provided buffers (Linux 6.0).
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

namespace {

constexpr std::size_t datagram_size = 64;
constexpr unsigned batch = 8;          // datagrams per recvmmsg
constexpr unsigned buffer_count = 64;  // provided buffers (a power of two)
constexpr unsigned buffer_size = 2048; // room for the recvmsg header, the address and a datagram
constexpr unsigned short buffer_group = 7;

enum class mode { epoll, poll, recvmsg };
const char *const mode_names[] = {"epoll", "poll", "recvmsg"};

[[noreturn]] void die(const char *what, int error) {
  std::fprintf(stderr, "uwsk-bench-udp-receive: %s: %s\n", what, std::strerror(error));
  std::exit(1);
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set); // best effort: one CPU is fine too
}

// The byte at `i` of datagram `sequence` (after its 8-byte sequence number).
unsigned char pattern(std::uint64_t sequence, std::size_t i) {
  return static_cast<unsigned char>((sequence * 131 + i * 7) & 0xff);
}

void fill(unsigned char *d, std::uint64_t sequence) {
  std::memcpy(d, &sequence, sizeof sequence);
  for (std::size_t i = sizeof sequence; i < datagram_size; ++i) {
    d[i] = pattern(sequence, i);
  }
}

// Whether an echo is a datagram the client sent, byte for byte.
bool intact(const unsigned char *d, std::size_t length, std::uint64_t sent) {
  std::uint64_t sequence = 0;
  if (length != datagram_size) {
    return false;
  }
  std::memcpy(&sequence, d, sizeof sequence);
  if (sequence >= sent) {
    return false;
  }
  for (std::size_t i = sizeof sequence; i < datagram_size; ++i) {
    if (d[i] != pattern(sequence, i)) {
      return false;
    }
  }
  return true;
}

// The loop: receives until `stop` is set and a zero-length datagram wakes it.
struct loop_state {
  int fd = -1;
  mode how = mode::epoll;
  int cpu = 0;
  std::atomic<bool> stop{false};
  std::atomic<bool> ready{false};
  double cpu_seconds = 0;
  std::uint64_t echoed = 0;
};

void answer(loop_state &l, const void *data, std::size_t length, const void *to,
            socklen_t to_length) {
  if (length == 0) {
    return; // the wake-up at the end
  }
  iovec iov{const_cast<void *>(data), length};
  msghdr m{};
  m.msg_name = const_cast<void *>(to);
  m.msg_namelen = to_length;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (sendmsg(l.fd, &m, MSG_DONTWAIT) == static_cast<ssize_t>(length)) {
    ++l.echoed;
  }
}

// recvmmsg in batches until the socket is empty, answering each datagram.
void drain(loop_state &l) {
  unsigned char data[batch][buffer_size];
  sockaddr_storage sources[batch];
  iovec iov[batch];
  mmsghdr messages[batch];
  for (;;) {
    for (unsigned i = 0; i < batch; ++i) {
      iov[i] = {data[i], sizeof data[i]};
      messages[i] = {};
      messages[i].msg_hdr.msg_name = &sources[i];
      messages[i].msg_hdr.msg_namelen = sizeof sources[i];
      messages[i].msg_hdr.msg_iov = &iov[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    const int got = recvmmsg(l.fd, messages, batch, MSG_DONTWAIT, nullptr);
    if (got <= 0) {
      return;
    }
    for (int i = 0; i < got; ++i) {
      answer(l, data[i], messages[i].msg_len, &sources[i], messages[i].msg_hdr.msg_namelen);
    }
    if (got < static_cast<int>(batch)) {
      return;
    }
  }
}

void run_epoll(loop_state &l) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event interest{};
  interest.events = EPOLLIN;
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l.fd, &interest) != 0) {
    die("epoll", errno);
  }
  l.ready = true;
  while (!l.stop.load(std::memory_order_relaxed)) {
    epoll_event events[4];
    if (epoll_wait(ep, events, 4, 100) > 0) {
      drain(l);
    }
  }
  close(ep);
}

void arm_poll(io_uring &ring, int fd) {
  io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  io_uring_prep_poll_multishot(sqe, fd, POLLIN);
}

void arm_recvmsg(io_uring &ring, int fd, msghdr &shape) {
  io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  io_uring_prep_recvmsg_multishot(sqe, fd, &shape, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffer_group;
}

void run_ring(loop_state &l) {
  io_uring ring{};
  io_uring_params params{};
  params.flags = IORING_SETUP_COOP_TASKRUN;
  if (int error = io_uring_queue_init_params(64, &ring, &params); error < 0) {
    die("io_uring_queue_init_params", -error);
  }
  // The provided buffers (recvmsg mode).
  const std::size_t ring_bytes = buffer_count * sizeof(io_uring_buf);
  void *ring_memory = nullptr;
  unsigned char *buffers = nullptr;
  io_uring_buf_ring *provided = nullptr;
  msghdr shape{}; // what each buffer holds before the payload: the source address
  shape.msg_namelen = sizeof(sockaddr_storage);
  if (l.how == mode::recvmsg) {
    ring_memory =
        mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    buffers = static_cast<unsigned char *>(std::aligned_alloc(4096, buffer_count * buffer_size));
    if (ring_memory == MAP_FAILED || buffers == nullptr) {
      die("buffer memory", ENOMEM);
    }
    provided = static_cast<io_uring_buf_ring *>(ring_memory);
    io_uring_buf_ring_init(provided);
    io_uring_buf_reg registration{};
    registration.ring_addr = reinterpret_cast<std::uintptr_t>(ring_memory);
    registration.ring_entries = buffer_count;
    registration.bgid = buffer_group;
    if (int error = io_uring_register_buf_ring(&ring, &registration, 0); error < 0) {
      die("io_uring_register_buf_ring", -error);
    }
    for (unsigned i = 0; i < buffer_count; ++i) {
      io_uring_buf_ring_add(provided, buffers + std::size_t{i} * buffer_size, buffer_size,
                            static_cast<unsigned short>(i), io_uring_buf_ring_mask(buffer_count),
                            static_cast<int>(i));
    }
    io_uring_buf_ring_advance(provided, buffer_count);
    arm_recvmsg(ring, l.fd, shape);
  } else {
    arm_poll(ring, l.fd);
  }
  l.ready = true;
  __kernel_timespec tick{0, 100 * 1000 * 1000};
  while (!l.stop.load(std::memory_order_relaxed)) {
    io_uring_cqe *first = nullptr;
    io_uring_submit_and_wait_timeout(&ring, &first, 1, &tick, nullptr);
    bool readable = false;
    bool rearm = false;
    int returned = 0;
    unsigned seen = 0;
    unsigned head = 0;
    io_uring_cqe *cqe = nullptr;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      if ((cqe->flags & IORING_CQE_F_MORE) == 0) {
        rearm = true; // ended: a full completion queue, no buffer left, or an error
      }
      if (l.how != mode::recvmsg) {
        readable |= cqe->res > 0;
        continue;
      }
      if (cqe->res == -EINVAL) {
        std::printf("uwsk-bench-udp-receive: no multishot IORING_OP_RECVMSG here (Linux 6.0)\n");
        std::exit(77);
      }
      if (cqe->res < 0 || (cqe->flags & IORING_CQE_F_BUFFER) == 0) {
        continue;
      }
      const auto id = static_cast<unsigned short>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
      unsigned char *buffer = buffers + std::size_t{id} * buffer_size;
      if (io_uring_recvmsg_out *out = io_uring_recvmsg_validate(buffer, cqe->res, &shape)) {
        answer(l, io_uring_recvmsg_payload(out, &shape),
               io_uring_recvmsg_payload_length(out, cqe->res, &shape), io_uring_recvmsg_name(out),
               out->namelen);
      }
      io_uring_buf_ring_add(provided, buffer, buffer_size, id, io_uring_buf_ring_mask(buffer_count),
                            returned++);
    }
    io_uring_cq_advance(&ring, seen);
    if (returned != 0) {
      io_uring_buf_ring_advance(provided, returned);
    }
    if (readable) {
      drain(l);
    }
    if (rearm) {
      l.how == mode::recvmsg ? arm_recvmsg(ring, l.fd, shape) : arm_poll(ring, l.fd);
    }
  }
  io_uring_queue_exit(&ring);
  if (ring_memory != nullptr) {
    munmap(ring_memory, ring_bytes);
  }
  std::free(buffers);
}

struct result {
  double rate = 0;        // datagrams per second, echoed and checked
  double cpu_us = 0;      // the loop thread's CPU time per datagram
  std::uint64_t lost = 0; // datagrams that never came back (a window refilled after a pause)
};

result run(mode how, std::uint64_t datagrams, unsigned window, int client_cpu) {
  loop_state l;
  l.how = how;
  l.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (l.fd < 0 || bind(l.fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 ||
      getsockname(l.fd, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
    die("loop socket", errno);
  }
  std::thread server([&] {
    pin_to(l.cpu);
    const double start = thread_cpu_seconds();
    how == mode::epoll ? run_epoll(l) : run_ring(l);
    l.cpu_seconds = thread_cpu_seconds() - start;
  });
  while (!l.ready.load()) {
    std::this_thread::yield();
  }

  pin_to(client_cpu);
  const int client = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  timeval patience{0, 200 * 1000};
  if (client < 0 || connect(client, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 ||
      setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience) != 0) {
    die("client socket", errno);
  }
  // The client works as the load generator's UDP workload does: it tops the window up with one
  // sendmmsg and takes what came back with one recvmmsg (waiting for the first).
  std::vector<std::array<unsigned char, datagram_size>> out(window);
  std::vector<std::array<unsigned char, buffer_size>> in(window);
  std::vector<iovec> iov(window);
  std::vector<mmsghdr> messages(window);
  // Per datagram: 0 in flight, 1 came back, 2 counted lost (a pause passed without it).
  std::vector<unsigned char> fate(datagrams, 0);
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t lost = 0;
  std::uint64_t unresolved = 0; // every datagram before it came back or was counted lost
  int pauses = 0;
  const auto top_up = [&] {
    const std::uint64_t wanted =
        std::min<std::uint64_t>(window - (sent - received - lost), datagrams - sent);
    for (std::uint64_t i = 0; i < wanted; ++i) {
      fill(out[i].data(), sent + i);
      iov[i] = {out[i].data(), datagram_size};
      messages[i] = {};
      messages[i].msg_hdr.msg_iov = &iov[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    const int done =
        wanted == 0 ? 0 : sendmmsg(client, messages.data(), static_cast<unsigned>(wanted), 0);
    sent += done > 0 ? static_cast<std::uint64_t>(done) : 0;
  };
  const auto fail = [&](const char *what, std::uint64_t sequence) {
    std::fprintf(stderr, "uwsk-bench-udp-receive: %s: datagram %llu %s\n",
                 mode_names[static_cast<int>(how)], static_cast<unsigned long long>(sequence),
                 what);
    std::exit(1);
  };
  const auto start = std::chrono::steady_clock::now();
  top_up();
  // Bounded: each turn takes at least one echo or waits out a pause, and the run stops after
  // 50 pauses.
  while (received + lost < datagrams) {
    for (unsigned i = 0; i < window; ++i) {
      iov[i] = {in[i].data(), buffer_size};
      messages[i] = {};
      messages[i].msg_hdr.msg_iov = &iov[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    const int got = recvmmsg(client, messages.data(), window, MSG_WAITFORONE, nullptr);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (++pauses > 50) {
        fail("and every later one never came back (50 pauses)", unresolved);
      }
      for (; unresolved < sent; ++unresolved) {
        if (fate[unresolved] == 0) {
          fate[unresolved] = 2;
          ++lost;
        }
      }
      top_up();
      continue;
    }
    if (got < 0) {
      die("recvmmsg", errno);
    }
    for (int i = 0; i < got; ++i) {
      std::uint64_t sequence = 0;
      std::memcpy(&sequence, in[i].data(), sizeof sequence);
      if (!intact(in[i].data(), messages[i].msg_len, sent)) {
        fail("came back different from what was sent", sequence);
      }
      if (fate[sequence] == 1) {
        fail("came back twice", sequence);
      }
      if (fate[sequence] == 0) { // 2: it came back after it was counted lost
        fate[sequence] = 1;
        ++received;
      }
    }
    top_up();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  l.stop = true;
  send(client, nullptr, 0, 0); // wakes the loop
  server.join();
  close(client);
  close(l.fd);
  return {static_cast<double>(received) / seconds,
          l.cpu_seconds * 1e6 / static_cast<double>(std::max<std::uint64_t>(l.echoed, 1)), lost};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  std::uint64_t datagrams = 200000;
  int reps = 5;
  unsigned window = 64;
  int client_cpu = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string option = argv[i];
    if (option == "--split") {
      client_cpu = 1;
    } else if (option == "--datagrams" && i + 1 < argc) {
      datagrams = std::strtoull(argv[++i], nullptr, 10);
    } else if (option == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (option == "--window" && i + 1 < argc) {
      window = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else {
      std::fprintf(stderr, "usage: uwsk-bench-udp-receive [--datagrams N] [--reps R] "
                           "[--window W] [--split]\n");
      return 2;
    }
  }
  if (datagrams == 0 || reps <= 0 || window == 0 || window > 1024) {
    std::fprintf(stderr, "uwsk-bench-udp-receive: --datagrams and --reps must be positive, "
                         "--window 1 to 1024\n");
    return 2;
  }
  std::vector<double> rate[3], cpu[3], rate_ratio[3], cpu_ratio[3];
  std::uint64_t lost[3] = {};
  for (int r = 0; r < reps; ++r) {
    result row[3];
    for (int m = 0; m < 3; ++m) { // alternated within a repetition: the same load for each
      row[m] = run(static_cast<mode>(m), datagrams, window, client_cpu);
      rate[m].push_back(row[m].rate);
      cpu[m].push_back(row[m].cpu_us);
      lost[m] += row[m].lost;
    }
    for (int m = 0; m < 3; ++m) {
      rate_ratio[m].push_back(row[m].rate / row[0].rate);
      cpu_ratio[m].push_back(row[m].cpu_us / row[0].cpu_us);
    }
  }
  std::printf("%d x %llu datagrams of %zu bytes, %u in flight, client on CPU %d, loop on CPU 0; "
              "every echo checked\n",
              reps, static_cast<unsigned long long>(datagrams), datagram_size, window, client_cpu);
  std::printf("%-8s %12s %16s %12s %12s %8s\n", "mode", "datagrams/s", "loop CPU us/dgram",
              "rate/epoll", "CPU/epoll", "lost");
  for (int m = 0; m < 3; ++m) {
    std::printf("%-8s %12.0f %16.2f %12.2f %12.2f %8llu\n", mode_names[m], median(rate[m]),
                median(cpu[m]), median(rate_ratio[m]), median(cpu_ratio[m]),
                static_cast<unsigned long long>(lost[m]));
  }
  return 0;
}

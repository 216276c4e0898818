// uwsk-bench-send-zc: what io_uring's zero-copy send (IORING_OP_SEND_ZC, Linux 6.0) does for
// bulk sends over loopback TCP, against a plain IORING_OP_SEND, before the provider would use it
// for WskSend (bench/README.md, "Engines").
//
// One connection over 127.0.0.1; a reader thread drains the other end with recv(2) into a 256 KiB
// buffer. The sender keeps one send of SIZE bytes in flight at a time, the way the provider's
// send queue does (the next send goes out when the previous one completed). A zero-copy send
// counts as complete only when its notification came (the kernel no longer reads the pages),
// which is when the provider could complete the IRP. Reports, per send size and mode, the rate
// and the sending thread's CPU time per MiB (CLOCK_THREAD_CPUTIME_ID); the reader's share is the
// same copy either way.
//
//   uwsk-bench-send-zc [--mib N] [--sizes 4096,65536,...] [--reps R]
//
// Each row is the median of R runs of N MiB (default 256 MiB, 5 runs). Exits 77 when the kernel
// lacks IORING_OP_SEND_ZC.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

namespace {

[[noreturn]] void die(const char *what, int error) {
  std::fprintf(stderr, "uwsk-bench-send-zc: %s: %s\n", what, std::strerror(error));
  std::exit(1);
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// A connected loopback pair: [0] sends, [1] is drained.
void make_pair(int fds[2]) {
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
    die("listening socket", errno);
  }
  fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fds[0] < 0 || connect(fds[0], reinterpret_cast<sockaddr *>(&address), sizeof address) != 0) {
    die("connect", errno);
  }
  fds[1] = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fds[1] < 0) {
    die("accept", errno);
  }
  close(listener);
}

struct result {
  double mib_per_second = 0;
  double cpu_ms_per_mib = 0; // the sending thread
};

// Sends `total` bytes in sends of `size`, one in flight at a time, zero-copy or not.
result run(io_uring &ring, std::size_t size, std::size_t total, bool zero_copy) {
  int fds[2];
  make_pair(fds);
  std::atomic<std::size_t> drained{0};
  std::thread reader([&] {
    std::vector<char> sink(256 * 1024);
    for (;;) {
      const ssize_t n = recv(fds[1], sink.data(), sink.size(), 0);
      if (n <= 0) {
        break;
      }
      drained.fetch_add(static_cast<std::size_t>(n), std::memory_order_relaxed);
    }
  });
  std::vector<char> data(size, 'z');
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = thread_cpu_seconds();
  std::size_t sent = 0;
  while (sent < total) {
    io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    const std::size_t length = std::min(size, total - sent);
    if (zero_copy) {
      io_uring_prep_send_zc(sqe, fds[0], data.data(), length, MSG_NOSIGNAL, 0);
    } else {
      io_uring_prep_send(sqe, fds[0], data.data(), length, MSG_NOSIGNAL);
    }
    io_uring_submit(&ring);
    // The send's result, and (zero-copy) its notification: IORING_CQE_F_MORE on the result
    // says a notification (IORING_CQE_F_NOTIF) follows.
    bool result_seen = false;
    bool pages_free = !zero_copy;
    while (!result_seen || !pages_free) {
      io_uring_cqe *cqe = nullptr;
      if (int error = io_uring_wait_cqe(&ring, &cqe); error < 0) {
        die("io_uring_wait_cqe", -error);
      }
      if ((cqe->flags & IORING_CQE_F_NOTIF) != 0) {
        pages_free = true;
      } else {
        if (cqe->res < 0) {
          die(zero_copy ? "IORING_OP_SEND_ZC" : "IORING_OP_SEND", -cqe->res);
        }
        sent += static_cast<std::size_t>(cqe->res);
        result_seen = true;
        if (zero_copy && (cqe->flags & IORING_CQE_F_MORE) == 0) {
          pages_free = true;
        }
      }
      io_uring_cqe_seen(&ring, cqe);
    }
  }
  const double cpu = thread_cpu_seconds() - cpu_start;
  shutdown(fds[0], SHUT_WR);
  reader.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  close(fds[0]);
  close(fds[1]);
  if (drained.load() != total) {
    std::fprintf(stderr, "uwsk-bench-send-zc: %zu of %zu bytes arrived\n", drained.load(), total);
    std::exit(1);
  }
  const double mib = static_cast<double>(total) / (1024.0 * 1024.0);
  return {mib / seconds, cpu * 1000.0 / mib};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  std::size_t mib = 256;
  int reps = 5;
  std::vector<std::size_t> sizes = {4096, 16384, 65536, 262144};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string option = argv[i];
    if (option == "--mib") {
      mib = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (option == "--reps") {
      reps = std::atoi(argv[i + 1]);
    } else if (option == "--sizes") {
      sizes.clear();
      std::string list = argv[i + 1];
      for (std::size_t at = 0; at < list.size();) {
        const std::size_t comma = std::min(list.find(',', at), list.size());
        sizes.push_back(std::strtoul(list.substr(at, comma - at).c_str(), nullptr, 10));
        at = comma + 1;
      }
    } else {
      std::fprintf(stderr, "usage: uwsk-bench-send-zc [--mib N] [--sizes A,B,...] [--reps R]\n");
      return 2;
    }
  }
  if (mib == 0 || reps <= 0 || sizes.empty() ||
      std::find(sizes.begin(), sizes.end(), std::size_t{0}) != sizes.end()) {
    std::fprintf(stderr, "uwsk-bench-send-zc: --mib, --reps and every size must be positive\n");
    return 2;
  }
  io_uring ring{};
  if (int error = io_uring_queue_init(8, &ring, 0); error < 0) {
    die("io_uring_queue_init", -error);
  }
  io_uring_probe *probe = io_uring_get_probe_ring(&ring);
  const bool supported = probe != nullptr && io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
  if (probe != nullptr) {
    io_uring_free_probe(probe);
  }
  if (!supported) {
    std::printf("uwsk-bench-send-zc: the kernel lacks IORING_OP_SEND_ZC (Linux 6.0)\n");
    return 77;
  }
  const std::size_t total = mib * 1024 * 1024;
  std::printf("%-8s %14s %14s %16s %16s %10s %10s\n", "size", "copy MiB/s", "zc MiB/s",
              "copy CPU ms/MiB", "zc CPU ms/MiB", "zc/copy", "zc/copy");
  std::printf("%-8s %14s %14s %16s %16s %10s %10s\n", "", "", "", "", "", "rate", "CPU");
  for (std::size_t size : sizes) {
    std::vector<double> rate[2], cpu[2], rate_ratio, cpu_ratio;
    for (int r = 0; r < reps; ++r) {
      // Alternated within a repetition, so both modes see the same load.
      const result copy = run(ring, size, total, false);
      const result zc = run(ring, size, total, true);
      rate[0].push_back(copy.mib_per_second);
      rate[1].push_back(zc.mib_per_second);
      cpu[0].push_back(copy.cpu_ms_per_mib);
      cpu[1].push_back(zc.cpu_ms_per_mib);
      rate_ratio.push_back(zc.mib_per_second / copy.mib_per_second);
      cpu_ratio.push_back(zc.cpu_ms_per_mib / copy.cpu_ms_per_mib);
    }
    std::printf("%-8zu %14.0f %14.0f %16.3f %16.3f %10.2f %10.2f\n", size, median(rate[0]),
                median(rate[1]), median(cpu[0]), median(cpu[1]), median(rate_ratio),
                median(cpu_ratio));
  }
  io_uring_queue_exit(&ring);
  return 0;
}

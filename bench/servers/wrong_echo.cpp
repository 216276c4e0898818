// uwsk-bench-wrong-echo: an echo server that is wrong on purpose, to test that the load
// generator notices (the bench.verify.* tests). It echoes TCP and UDP on 127.0.0.1:--port, and
// with --flip-at N it flips the lowest bit of one byte: the byte at offset N of everything it
// echoes over TCP (all connections counted together, in the order it reads them), and likewise
// of everything it echoes over UDP (datagrams counted one after another). Everything else is
// echoed unchanged; without --flip-at it is a correct echo server.
//
// One thread per TCP connection and one for UDP, blocking calls: simple rather than fast.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "bench_common.hpp"

namespace {

std::atomic<uint64_t> g_tcp_offset{0}, g_udp_offset{0};
int64_t g_flip_at = -1;

// Flips the byte at offset g_flip_at of the stream `counter` counts, if it is among the `size`
// bytes of `data`, which come next in that stream.
void maybe_flip(std::atomic<uint64_t> &counter, char *data, size_t size) {
  const uint64_t first = counter.fetch_add(size);
  if (g_flip_at >= 0 && static_cast<uint64_t>(g_flip_at) >= first &&
      static_cast<uint64_t>(g_flip_at) < first + size) {
    data[static_cast<uint64_t>(g_flip_at) - first] ^= 0x01;
  }
}

void serve_tcp(int fd) {
  std::vector<char> buffer(64 * 1024);
  for (;;) {
    const ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n <= 0) {
      break;
    }
    maybe_flip(g_tcp_offset, buffer.data(), static_cast<size_t>(n));
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = send(fd, buffer.data() + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
      if (w <= 0) {
        close(fd);
        return;
      }
      done += w;
    }
  }
  close(fd);
}

void serve_udp(int fd) {
  std::vector<char> buffer(64 * 1024);
  for (;;) {
    sockaddr_storage from{};
    socklen_t length = sizeof(from);
    const ssize_t n =
        recvfrom(fd, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr *>(&from), &length);
    if (n < 0) {
      continue;
    }
    maybe_flip(g_udp_offset, buffer.data(), static_cast<size_t>(n));
    sendto(fd, buffer.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr *>(&from),
           length);
  }
}

int bound_socket(int type, unsigned short port) {
  const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof(address)) != 0 ||
      (type == SOCK_STREAM && listen(fd, 1024) != 0)) {
    std::fprintf(stderr, "wrong-echo: cannot listen on port %u: %s\n", port, std::strerror(errno));
    _exit(1);
  }
  return fd;
}

} // namespace

int main(int argc, char **argv) {
  unsigned short port = 0;
  try {
    uwsk::bench::options opts(argc, argv);
    port = static_cast<unsigned short>(opts.integer("port", 30118));
    g_flip_at = opts.integer("flip-at", -1);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "wrong-echo: %s\nusage: %s [--port N] [--flip-at BYTE]\n", e.what(),
                 argv[0]);
    return 1;
  }
  // The runner stops servers with SIGTERM and expects a clean exit.
  struct sigaction stop {};
  stop.sa_handler = [](int) { _exit(0); };
  sigaction(SIGTERM, &stop, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const int listener = bound_socket(SOCK_STREAM, port);
  std::thread(serve_udp, bound_socket(SOCK_DGRAM, port)).detach();
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      usleep(1000); // out of descriptors, say: the client's timeouts will tell
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    std::thread(serve_tcp, fd).detach();
  }
}

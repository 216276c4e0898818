// uwsk-bench-block-echo: the native counterpart of the synchronous WSK driver
// (bench/drivers/sync_echo.c). A TCP echo server on 127.0.0.1, one thread per connection,
// blocking sockets: recv into a 4 KiB buffer (the driver's size), send it all back, until the
// client closes. Like the driver it sets no socket options and checks nothing it echoes (the
// load generator verifies every byte). The ratio of the driver's rate to this one's is what the
// synchronous style costs on uwsk.
//
// Usage: uwsk-bench-block-echo [--port 30120] [--lifetime SECONDS]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "bench_common.hpp"

namespace {

constexpr size_t chunk = 4096;

void serve(int fd) {
  char buffer[chunk];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      break; // the client closed, or the connection failed
    }
    ssize_t done = 0;
    while (done < n) {
      const ssize_t w = send(fd, buffer + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
      if (w <= 0) {
        break;
      }
      done += w;
    }
    if (done < n) {
      break;
    }
  }
  close(fd);
}

} // namespace

int main(int argc, char **argv) {
  unsigned short port = 0;
  double lifetime = 0;
  try {
    uwsk::bench::options opts(argc, argv);
    port = static_cast<unsigned short>(opts.integer("port", 30120));
    lifetime = opts.number("lifetime", 3600);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "block-echo: %s\nusage: %s [--port N] [--lifetime SECONDS]\n", e.what(),
                 argv[0]);
    return 1;
  }
  // The runner stops servers with SIGTERM and expects a clean exit; a forgotten one ends itself.
  struct sigaction stop {};
  stop.sa_handler = [](int) { _exit(0); };
  sigaction(SIGTERM, &stop, nullptr);
  sigaction(SIGALRM, &stop, nullptr);
  alarm(static_cast<unsigned>(lifetime));

  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener < 0 ||
      bind(listener, reinterpret_cast<sockaddr *>(&address), sizeof(address)) != 0 ||
      listen(listener, SOMAXCONN) != 0) {
    std::fprintf(stderr, "block-echo: cannot listen on port %u: %s\n", port, std::strerror(errno));
    return 1;
  }
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) {
        continue;
      }
      usleep(1000); // out of descriptors, say: the client's timeouts will tell
      continue;
    }
    std::thread(serve, fd).detach();
  }
}

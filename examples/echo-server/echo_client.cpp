// echo-client: the real client `make demo` and the integration test drive echo-server with.
// It connects over IPv4 and IPv6 loopback, sends a few messages (one larger than the server's
// receive buffer), checks every echo byte for byte, closes its side and waits for the server's
// close, printing a short transcript. Exit status 0 only if every echo matched.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int timeout_ms = 5000;

bool wait_for(int fd, short events) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

int connect_to(const char *host, int family, unsigned short port) {
  sockaddr_storage address{};
  socklen_t length;
  if (family == AF_INET6) {
    auto *a = reinterpret_cast<sockaddr_in6 *>(&address);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, host, &a->sin6_addr);
    length = sizeof(*a);
  } else {
    auto *a = reinterpret_cast<sockaddr_in *>(&address);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, host, &a->sin_addr);
    length = sizeof(*a);
  }
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr *>(&address), length) != 0) {
    std::perror("echo-client: connect");
    return -1;
  }
  return fd;
}

bool exchange(int fd, const std::string &message) {
  std::size_t sent = 0;
  while (sent < message.size()) {
    if (!wait_for(fd, POLLOUT)) {
      return false;
    }
    const ssize_t n = send(fd, message.data() + sent, message.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string echo;
  std::vector<char> chunk(65536);
  while (echo.size() < message.size() && wait_for(fd, POLLIN)) {
    const ssize_t n = recv(fd, chunk.data(), chunk.size(), 0);
    if (n <= 0) {
      break;
    }
    echo.append(chunk.data(), static_cast<std::size_t>(n));
  }
  return echo == message;
}

bool session(const char *host, int family, unsigned short port) {
  const int fd = connect_to(host, family, port);
  if (fd < 0) {
    return false;
  }
  bool ok = true;
  const std::string messages[] = {"hello, uwsk\n", "a WSK driver, on Linux\n",
                                  std::string(100000, 'w')};
  for (const auto &message : messages) {
    const bool echoed = exchange(fd, message);
    if (message.size() < 64) {
      // Appended piecewise: GCC 12 warns (-Wrestrict, falsely) on the concatenation at -O3.
      std::string quoted = "\"";
      quoted.append(message, 0, message.size() - 1);
      quoted += '"';
      std::printf("  [%s]:%u  sent %-26s echoed %s\n", host, port, quoted.c_str(),
                  echoed ? "ok" : "WRONG");
    } else {
      std::printf("  [%s]:%u  sent %zu bytes%*s echoed %s\n", host, port, message.size(), 14, "",
                  echoed ? "ok" : "WRONG");
    }
    ok = ok && echoed;
  }
  shutdown(fd, SHUT_WR);
  char byte;
  const bool closed = wait_for(fd, POLLIN) && recv(fd, &byte, 1, 0) == 0;
  std::printf("  [%s]:%u  closed our side; server closed too: %s\n", host, port,
              closed ? "yes" : "NO");
  close(fd);
  return ok && closed;
}

} // namespace

int main(int argc, char **argv) {
  const unsigned short port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 20007);
  const bool v4 = session("127.0.0.1", AF_INET, port);
  const bool v6 = session("::1", AF_INET6, port);
  return v4 && v6 ? 0 : 1;
}

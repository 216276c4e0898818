// http-server: the tiny HTTP/1.1 server the http-get example's test fetches pages from. Plain
// POSIX, single-threaded, one connection at a time. It listens on 127.0.0.1 and ::1 (when the
// machine has it) on one port, kernel-chosen unless --port says, and prints "listening PORT" on
// standard output once both listen. Each request gets one response and the connection closes:
//   GET /     200 OK with a small page
//   GET /big  200 OK with a body of big_body_bytes bytes (larger than http-get keeps)
//   GET other 404 Not Found;  another method: 405 Method Not Allowed
// Each request is logged on standard error with its Host header. It exits 0 after --requests
// requests, 2 when --timeout seconds pass first, 1 on bad usage or when it cannot listen.
//   http-server [--port N] [--requests N] [--timeout SECONDS]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int per_connection_ms = 5000;         // one slow client cannot hold the server longer
constexpr std::size_t max_request_bytes = 8192; // the request line and headers
constexpr std::size_t big_body_bytes = 200000;

long long now_ms() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

// Milliseconds left until `deadline`, at least 0.
int left_ms(long long deadline) {
  const long long left = deadline - now_ms();
  return left <= 0 ? 0 : static_cast<int>(left);
}

bool parse_number(const char *text, long min, long max, long &value) {
  char *end = nullptr;
  errno = 0;
  value = std::strtol(text, &end, 10);
  return errno == 0 && end != text && *end == '\0' && value >= min && value <= max;
}

// A listening socket on the loopback address of `family` (127.0.0.1 or ::1) and `port` (0: the
// kernel's choice), or -errno.
int listen_on(int family, unsigned short port) {
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -errno;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_storage address{};
  socklen_t length;
  if (family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    auto *a = reinterpret_cast<sockaddr_in6 *>(&address);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    length = sizeof(*a);
  } else {
    auto *a = reinterpret_cast<sockaddr_in *>(&address);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof(*a);
  }
  if (bind(fd, reinterpret_cast<sockaddr *>(&address), length) != 0 || listen(fd, 16) != 0) {
    const int error = errno;
    close(fd);
    return -error;
  }
  return fd;
}

unsigned short port_of(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length);
  return ntohs(address.sin_port);
}

// Opens the listeners; false (after saying why) when IPv4 cannot listen. IPv6 is left out,
// with a note, when the machine has no ::1; a kernel-chosen port taken on ::1 is chosen again.
bool open_listeners(unsigned short wanted, std::vector<int> &listeners, unsigned short &port) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int v4 = listen_on(AF_INET, wanted);
    if (v4 < 0) {
      std::fprintf(stderr, "http-server: cannot listen on 127.0.0.1:%u: %s\n", wanted,
                   std::strerror(-v4));
      return false;
    }
    port = port_of(v4);
    const int v6 = listen_on(AF_INET6, port);
    if (v6 >= 0) {
      listeners = {v4, v6};
      return true;
    }
    close(v4);
    if (v6 == -EADDRINUSE && wanted == 0) {
      continue;
    }
    if (v6 == -EADDRNOTAVAIL || v6 == -EAFNOSUPPORT) {
      std::fprintf(stderr, "http-server: no IPv6 loopback (%s); IPv4 only\n", std::strerror(-v6));
      const int again = listen_on(AF_INET, port);
      if (again < 0) {
        continue;
      }
      listeners = {again};
      return true;
    }
    std::fprintf(stderr, "http-server: cannot listen on [::1]:%u: %s\n", port, std::strerror(-v6));
    return false;
  }
  std::fprintf(stderr, "http-server: no port free on both 127.0.0.1 and ::1\n");
  return false;
}

// Waits for `events` on `fd` until `deadline`; false on timeout or error.
bool wait_for(int fd, short events, long long deadline) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int ready = poll(&p, 1, left_ms(deadline));
    if (ready > 0) {
      return true;
    }
    if (ready == 0 || errno != EINTR) {
      return false;
    }
  }
}

// Reads the request up to the blank line after its headers; false when the client closes or
// stalls first, or sends too much.
bool read_request(int fd, long long deadline, std::string &request) {
  char chunk[2048];
  while (request.find("\r\n\r\n") == std::string::npos) {
    if (request.size() > max_request_bytes || !wait_for(fd, POLLIN, deadline)) {
      return false;
    }
    const ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      return false;
    }
    request.append(chunk, static_cast<std::size_t>(n));
  }
  return true;
}

bool write_all(int fd, std::string_view data, long long deadline) {
  while (!data.empty()) {
    if (!wait_for(fd, POLLOUT, deadline)) {
      return false;
    }
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// The value of header `name` (case-insensitive), or "-".
std::string header_value(const std::string &request, std::string_view name) {
  std::size_t line = request.find("\r\n");
  while (line != std::string::npos && line + 2 < request.size()) {
    const std::size_t start = line + 2;
    const std::size_t end = request.find("\r\n", start);
    if (end == std::string::npos || end == start) {
      break;
    }
    const std::string_view text(request.data() + start, end - start);
    if (text.size() > name.size() && text[name.size()] == ':' &&
        strncasecmp(text.data(), name.data(), name.size()) == 0) {
      std::string_view value = text.substr(name.size() + 1);
      while (!value.empty() && value.front() == ' ') {
        value.remove_prefix(1);
      }
      return std::string(value);
    }
    line = end;
  }
  return "-";
}

std::string response(const char *status, const std::string &body) {
  return std::string("HTTP/1.1 ") + status +
         "\r\nServer: uwsk-http-server\r\nContent-Type: text/html\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// Answers one connection and closes it: shut down our side after the response, then read
// until the client closes (bounded), so that its unread bytes do not turn our close into a
// reset that could destroy the response in flight.
void serve(int fd) {
  const long long deadline = now_ms() + per_connection_ms;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string request;
  if (!read_request(fd, deadline, request)) {
    std::fprintf(stderr, "http-server: incomplete request (%zu bytes); closing\n", request.size());
    close(fd);
    return;
  }
  const std::string line = request.substr(0, request.find("\r\n"));
  const std::size_t space = line.find(' ');
  const std::size_t second = space == std::string::npos ? space : line.find(' ', space + 1);
  const std::string method = line.substr(0, space);
  const std::string target =
      space == std::string::npos ? "" : line.substr(space + 1, second - space - 1);
  std::string answer;
  const char *status;
  if (method != "GET") {
    status = "405 Method Not Allowed";
    answer = response(status, "<html><body>405 Method Not Allowed</body></html>\n");
  } else if (target == "/") {
    status = "200 OK";
    answer = response(status, "<html><head><title>uwsk</title></head>"
                              "<body><p>Hello from the http-get test server.</p></body></html>\n");
  } else if (target == "/big") {
    status = "200 OK";
    std::string body(big_body_bytes, 'x');
    for (std::size_t i = 0; i < body.size(); ++i) {
      body[i] = static_cast<char>('a' + i % 26);
    }
    answer = response(status, body);
  } else {
    status = "404 Not Found";
    answer = response(status, "<html><body>404 Not Found</body></html>\n");
  }
  std::fprintf(stderr, "http-server: %s (Host: %s) -> %s\n", line.c_str(),
               header_value(request, "Host").c_str(), status);
  if (write_all(fd, answer, deadline)) {
    shutdown(fd, SHUT_WR);
    char drain[512];
    while (wait_for(fd, POLLIN, deadline) && recv(fd, drain, sizeof(drain), 0) > 0) {
    }
  } else {
    std::fprintf(stderr, "http-server: the client stopped reading; closing\n");
  }
  close(fd);
}

} // namespace

int main(int argc, char **argv) {
  long port = 0;
  long requests = 1;
  long timeout_s = 30;
  for (int i = 1; i < argc; ++i) {
    const std::string_view option = argv[i];
    const bool has_value = i + 1 < argc;
    bool ok = false;
    if (option == "--port" && has_value) {
      ok = parse_number(argv[++i], 0, 65535, port);
    } else if (option == "--requests" && has_value) {
      ok = parse_number(argv[++i], 1, 1000000, requests);
    } else if (option == "--timeout" && has_value) {
      ok = parse_number(argv[++i], 1, 86400, timeout_s);
    }
    if (!ok) {
      std::fprintf(stderr, "usage: http-server [--port N] [--requests N] [--timeout SECONDS]\n");
      return 1;
    }
  }
  std::vector<int> listeners;
  unsigned short chosen = 0;
  if (!open_listeners(static_cast<unsigned short>(port), listeners, chosen)) {
    return 1;
  }
  std::printf("listening %u\n", chosen);
  std::fflush(stdout);

  const long long deadline = now_ms() + timeout_s * 1000;
  long served = 0;
  while (served < requests) {
    std::vector<pollfd> polls;
    for (const int fd : listeners) {
      polls.push_back({fd, POLLIN, 0});
    }
    const int ready = poll(polls.data(), polls.size(), left_ms(deadline));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      std::fprintf(stderr, "http-server: timed out after %ld of %ld requests\n", served, requests);
      return 2;
    }
    for (const pollfd &p : polls) {
      if ((p.revents & POLLIN) == 0 || served >= requests) {
        continue;
      }
      const int client = accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        serve(client);
        ++served;
      }
    }
  }
  for (const int fd : listeners) {
    close(fd);
  }
  std::fprintf(stderr, "http-server: served %ld requests; exiting\n", served);
  return 0;
}

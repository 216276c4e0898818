// free-port: prints a port number that is free right now for TCP and UDP on 127.0.0.1 and ::1,
// so that a test can give its driver a port of its own at run time (with_free_port.sh). The
// kernel picks it (bind to port 0); it is checked on the other three, and another is tried
// when one of them has it taken (at most 50 tries). Exit 1 when none is found.
//
// free-port --hold SECONDS: instead, listens on such a port on both loopbacks (as a program that
// does not share its ports would), prints it, and holds it for SECONDS (at most 600) or until
// killed, for tests of what happens when a port is taken.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// Binds a socket of `type` on the loopback address of `family` to `port` (0: any); returns the
// socket (to be closed) or -1, and the port bound in `bound`.
int bind_loopback(int family, int type, unsigned short port, unsigned short &bound) {
  const int fd = socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_storage address{};
  socklen_t length;
  if (family == AF_INET6) {
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
  if (bind(fd, reinterpret_cast<sockaddr *>(&address), length) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
    close(fd);
    return -1;
  }
  bound = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&address)->sin6_port
                                   : reinterpret_cast<sockaddr_in *>(&address)->sin_port);
  return fd;
}

// --hold: listens on a free port on 127.0.0.1 and ::1 and keeps it.
int hold(unsigned seconds) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    unsigned short port = 0;
    const int v4 = bind_loopback(AF_INET, SOCK_STREAM, 0, port);
    if (v4 < 0) {
      break;
    }
    unsigned short same = 0;
    const int v6 = bind_loopback(AF_INET6, SOCK_STREAM, port, same);
    if (v6 >= 0 && listen(v4, 1) == 0 && listen(v6, 1) == 0) {
      std::printf("%u\n", port);
      std::fflush(stdout);
      sleep(seconds);
      return 0;
    }
    close(v4);
    if (v6 >= 0) {
      close(v6);
    }
  }
  std::fprintf(stderr, "free-port: found no port to hold on 127.0.0.1 and ::1\n");
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 3 && std::strcmp(argv[1], "--hold") == 0) {
    const long seconds = std::strtol(argv[2], nullptr, 10);
    return hold(static_cast<unsigned>(seconds < 1 ? 1 : seconds > 600 ? 600 : seconds));
  }
  for (int attempt = 0; attempt < 50; ++attempt) {
    unsigned short port = 0;
    const int first = bind_loopback(AF_INET, SOCK_STREAM, 0, port);
    if (first < 0) {
      break;
    }
    bool free = true;
    int others[3] = {-1, -1, -1};
    const int kinds[3][2] = {
        {AF_INET6, SOCK_STREAM}, {AF_INET, SOCK_DGRAM}, {AF_INET6, SOCK_DGRAM}};
    for (int i = 0; i < 3; ++i) {
      unsigned short same = 0;
      others[i] = bind_loopback(kinds[i][0], kinds[i][1], port, same);
      free = free && others[i] >= 0;
    }
    close(first);
    for (const int fd : others) {
      if (fd >= 0) {
        close(fd);
      }
    }
    if (free) {
      std::printf("%u\n", port);
      return 0;
    }
  }
  std::fprintf(stderr, "free-port: found no port free for TCP and UDP on 127.0.0.1 and ::1\n");
  return 1;
}

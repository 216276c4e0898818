// free-port: finds a port for a test's driver, so that tests running at the same time never
// share one (with_free_port.sh). They must not: every uwsk bind sets SO_REUSEPORT, so a second
// driver on a port binds without an error and the kernel splits the clients of both tests
// between the two. The port is taken as a benchmark run takes its own (bench_port.hpp: a name
// only one process holds, a port below the ephemeral range that nothing is bound to), so tests
// and benchmark runs also keep out of each other's way.
//
// free-port --run COMMAND [ARGS...]: takes a port, replaces @PORT@ in ARGS with it, prints
// "with_free_port: port N" and executes COMMAND in its place; COMMAND and whatever it starts
// inherit the descriptor that holds the port, so it stays taken until the last of them ends.
// Exit 1 when no port is free, 126/127 when COMMAND could not be run, else COMMAND's status.
//
// free-port: prints a port that is free right now for TCP and UDP on 127.0.0.1 and ::1 (taken
// the same way, and released when free-port exits). Exit 1 when none is found.
//
// free-port --hold SECONDS: instead, listens on such a port on both loopbacks (as a program that
// does not share its ports would), prints it, and holds it for SECONDS (at most 600) or until
// killed, for tests of what happens when a port is taken.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "bench_port.hpp"

namespace {

// Binds a socket of `type` on the loopback address of `family` to `port` (0: any); returns the
// socket (to be closed) or -1, and the port bound in `bound`.
int bind_loopback(int family, int type, unsigned short port, unsigned short &bound) {
  const int fd = socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_storage address;
  socklen_t length = uwsk::bench::loopback_address(family, port, address);
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

// --run: takes a port and runs COMMAND with it (see the top of this file).
int run(int argc, char **argv) {
  try {
    auto reservation = uwsk::bench::port_reservation::take();
    const std::string port = std::to_string(reservation.port());
    std::vector<std::string> words;
    for (int i = 0; i < argc; ++i) {
      std::string word = argv[i];
      for (std::size_t at = word.find("@PORT@"); at != std::string::npos;
           at = word.find("@PORT@", at + port.size())) {
        word.replace(at, 6, port);
      }
      words.push_back(word);
    }
    std::vector<char *> command;
    for (auto &word : words) {
      command.push_back(word.data());
    }
    command.push_back(nullptr);
    if (fcntl(reservation.descriptor(), F_SETFD, 0) != 0) {
      std::fprintf(stderr, "free-port: %s\n", std::strerror(errno));
      return 1;
    }
    std::printf("with_free_port: port %s\n", port.c_str());
    std::fflush(stdout);
    execvp(command[0], command.data());
    const int error = errno;
    std::fprintf(stderr, "free-port: cannot run %s: %s\n", command[0], std::strerror(error));
    return error == ENOENT ? 127 : 126;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "free-port: %s\n", e.what());
    return 1;
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && std::strcmp(argv[1], "--hold") == 0) {
    const long seconds = std::strtol(argv[2], nullptr, 10);
    return hold(static_cast<unsigned>(seconds < 1 ? 1 : seconds > 600 ? 600 : seconds));
  }
  if (argc >= 3 && std::strcmp(argv[1], "--run") == 0) {
    return run(argc - 2, argv + 2);
  }
  try {
    std::printf("%d\n", uwsk::bench::port_reservation::take().port());
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "free-port: %s\n", e.what());
    return 1;
  }
}

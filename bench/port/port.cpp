// uwsk-bench-port: runs a command with a port of its own (bench_port.hpp), for scripts that
// start benchmark servers themselves (bench/profile.sh).
//
// Usage: uwsk-bench-port COMMAND [ARGUMENTS...]
//
// Takes a port, puts it in the environment as UWSK_BENCH_PORT and executes COMMAND in its
// place. COMMAND inherits the descriptor that holds the port, and so does whatever it starts:
// the port stays taken until the last of them has ended. Exit status 125 when no port could be
// taken, 126/127 when COMMAND could not be run, else COMMAND's.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench_port.hpp"

int main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(stderr, "usage: uwsk-bench-port COMMAND [ARGUMENTS...]\n");
    return 125;
  }
  try {
    auto reservation = uwsk::bench::port_reservation::take();
    const int fd = reservation.descriptor();
    if (fcntl(fd, F_SETFD, 0) != 0 ||
        setenv("UWSK_BENCH_PORT", std::to_string(reservation.port()).c_str(), 1) != 0) {
      std::fprintf(stderr, "uwsk-bench-port: %s\n", std::strerror(errno));
      return 125;
    }
    execvp(argv[1], argv + 1);
    const int error = errno;
    std::fprintf(stderr, "uwsk-bench-port: cannot run %s: %s\n", argv[1], std::strerror(error));
    return error == ENOENT ? 127 : 126;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "uwsk-bench-port: %s\n", e.what());
    return 125;
  }
}

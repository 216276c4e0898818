// Small helpers shared by the benchmark programs: a command line of "--name value" pairs, a
// monotonic clock, CPU pinning, and the CPU time of a process read from /proc.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <map>
#include <stdexcept>
#include <string>

#include "bench_port.hpp"

namespace uwsk::bench {

// "--name value" pairs and bare "--flag"s; anything else is an error. Values are looked up by
// name with a default, so each program states its options where it uses them.
class options {
public:
  options(int argc, char **argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg.rfind("--", 0) != 0) {
        throw std::invalid_argument("unexpected argument '" + arg + "'");
      }
      arg.erase(0, 2);
      const auto equals = arg.find('=');
      if (equals != std::string::npos) {
        values_[arg.substr(0, equals)] = arg.substr(equals + 1);
      } else if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0) {
        values_[arg] = argv[++i];
      } else {
        values_[arg] = "";
      }
    }
  }

  bool has(const std::string &name) const { return values_.count(name) != 0; }

  std::string text(const std::string &name, const std::string &fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }

  double number(const std::string &name, double fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) {
      return fallback;
    }
    char *end = nullptr;
    const double value = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end != '\0') {
      throw std::invalid_argument("--" + name + " needs a number, not '" + it->second + "'");
    }
    return value;
  }

  long integer(const std::string &name, long fallback) const {
    return static_cast<long>(number(name, static_cast<double>(fallback)));
  }

private:
  std::map<std::string, std::string> values_;
};

inline int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Pins the calling thread (and what it later creates or executes) to one CPU; a negative cpu
// leaves the affinity alone.
inline bool pin_to_cpu(int cpu) {
  if (cpu < 0) {
    return true;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

// Raises the soft limit on open files to the hard limit (10,000 connections need it).
inline rlim_t raise_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return 0;
  }
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

// A socket of `family` (AF_INET or AF_INET6, v6-only) and `type` (SOCK_STREAM or SOCK_DGRAM,
// with SOCK_* flags or'ed in) bound to the loopback address on `port` with SO_REUSEADDR, and
// listening when it is a stream socket: what the native echo servers listen on. On failure
// prints why, prefixed with `program`, and exits with status 1.
inline int open_loopback_socket(int family, int type, unsigned short port, const char *program) {
  const int fd = socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::fprintf(stderr, "%s: socket: %s\n", program, std::strerror(errno));
    std::exit(1);
  }
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
  }
  sockaddr_storage address;
  const socklen_t length = loopback_address(family, port, address);
  const bool stream = (type & 0xf) == SOCK_STREAM;
  if (bind(fd, reinterpret_cast<sockaddr *>(&address), length) != 0) {
    std::fprintf(stderr, "%s: bind %s %s port %u: %s\n", program, stream ? "TCP" : "UDP",
                 family == AF_INET6 ? "[::1]" : "127.0.0.1", port, std::strerror(errno));
    std::exit(1);
  }
  if (stream && listen(fd, SOMAXCONN) != 0) {
    std::fprintf(stderr, "%s: listen: %s\n", program, std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

// The nanoseconds every thread of `pid` has spent on a CPU (the first field of each task's
// schedstat), or -1 when the process is gone. Threads that exited earlier are not counted,
// which is fine for servers whose threads live as long as they do.
inline int64_t process_cpu_ns(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR *tasks = opendir(dir.c_str());
  if (tasks == nullptr) {
    return -1;
  }
  int64_t total = 0;
  while (dirent *entry = readdir(tasks)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    const std::string path = dir + "/" + entry->d_name + "/schedstat";
    if (FILE *f = std::fopen(path.c_str(), "re")) {
      long long on_cpu = 0;
      if (std::fscanf(f, "%lld", &on_cpu) == 1) {
        total += on_cpu;
      }
      std::fclose(f);
    }
  }
  closedir(tasks);
  return total;
}

// A "Name:   value" line of /proc/PID/status as a number (VmRSS in KiB, Threads), or -1.
inline long proc_status_field(pid_t pid, const char *field) {
  const std::string path = "/proc/" + std::to_string(pid) + "/status";
  FILE *f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    return -1;
  }
  char line[256];
  long value = -1;
  const size_t length = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, length) == 0 && line[length] == ':') {
      value = std::strtol(line + length + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return value;
}

} // namespace uwsk::bench

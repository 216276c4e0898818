// uwsk-bench-runner: runs every workload against every server of bench/servers.conf, in both
// placements, for several repetitions, then writes the results (JSON), a markdown table and the
// data and script for a gnuplot chart.
//
// The run takes one port for all its servers when it starts (bench_port.hpp: no other run, and
// nothing else on the machine, holds it), passes it to each server as {port} and to the load
// generator, and takes another if something else takes it during the run.
//
// Each measurement starts a fresh server pinned to --server-cpu, runs uwsk-bench-loadgen pinned
// to --client-cpu ("split") or to the server's CPU ("same"), and stops the server with SIGTERM.
// Within a repetition the servers of each workload run back to back in shuffled order, so that
// drift over the run hits them alike; every ratio is the median over repetitions of the ratio
// to the reference server (raw epoll) measured in the same repetition.
//
// Usage: uwsk-bench-runner --bin DIR --drivers DIR --servers FILE --out DIR [options]
//   --reps N (5)  --warmup S (0.3)  --duration S (1.2)
//   --workloads pp1,pp16,pp64,bulk,udp,accept,mem,scale
//   --placements split,same  --only NAME,...  --mem-connections N (10000)  --mem-reps N (3)
//   --micro PATH
//   --scale-connections 1,10,100,1000,10000  --scale-reps N (3)  --scale-warmup S (0.2)
//   --scale-duration S (0.4)  --scale-placement same|split (same)
//   --micro-reps N (5)  --micro-min-time S (0.2)  --server-cpu N (0)  --client-cpu N (1)
//   --seed N  --commit TEXT  --work DIR  --quick (one short repetition: a smoke test)
//   --unclean-stop-ok (a server that crashes or reports errors when stopped is listed, but the
//   exit status stays 0)
//
// "scale" is the scaling sweep: ping-pong (one 64-byte message outstanding on each connection) at
// each of --scale-connections, in one placement, against every server that serves pp64; its
// results are the "Scaling sweep" section and scale.{dat,gp} (the plot scale.svg).
//
// A server of role "verify-off" is the server named like it without the "-verify-off" suffix
// run with the verifier's bookkeeping off (UWSK_VERIFY=off); "Verifier cost" gives the rate and
// CPU of the two, measured in the same repetitions.
//
// The load generator verifies every echo against what it sent; a measurement whose echo differed,
// or that reports no verified bytes (verified_bytes=) or datagrams (verified_datagrams=), is
// refused: it counts as failed and its numbers are not used.
//
// Exit status: 0 success; 1 bad usage; 2 some measurement failed (an echo that differed from
// what was sent included); 3 every measurement worked, but a server did not stop cleanly
// (crashed at unload, a sanitizer report).
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "bench_port.hpp"

namespace {

using uwsk::bench::now_ns;
using uwsk::bench::options;

// ---- Configuration ------------------------------------------------------------------------------

struct server_spec {
  std::string name;
  std::set<std::string> workloads; // what it serves: from "tcp", "udp" or workload names
  std::string role;                // ref, baseline, native, uwsk, uwsk-event, uwsk-sync
  std::vector<std::string> command;
};

struct settings {
  std::string bin, drivers, out, work, micro, commit;
  int reps = 5;
  double warmup = 0.3, duration = 1.2;
  std::vector<std::string> workloads, placements;
  std::set<std::string> only;
  int mem_connections = 10000;
  int mem_reps = 3; // memory repeats to the byte: fewer repetitions than the rates need
  std::vector<int> scale_connections{1, 10, 100, 1000, 10000};
  int scale_reps = 3;
  double scale_warmup = 0.2, scale_duration = 0.4;
  std::string scale_placement = "same";
  int micro_reps = 5;
  double micro_min_time = 0.2;
  int server_cpu = 0, client_cpu = 1;
  unsigned seed = 0;
  bool quick = false;
  bool unclean_stop_ok = false; // --unclean-stop-ok: an unclean stop does not fail the run
};

std::vector<std::string> split(const std::string &text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) {
    if (!part.empty()) {
      parts.push_back(part);
    }
  }
  return parts;
}

std::vector<server_spec> read_servers(const std::string &path) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  std::vector<server_spec> servers;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const auto hash = line.find('#');
    if (hash != std::string::npos) {
      line.erase(hash);
    }
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string w; words >> w;) {
      fields.push_back(w);
    }
    if (fields.empty()) {
      continue;
    }
    if (fields.size() < 4) {
      throw std::runtime_error(path + ":" + std::to_string(number) +
                               ": expected name, protocols, role and a command");
    }
    if (fields[2].find_first_not_of("0123456789") == std::string::npos) {
      throw std::runtime_error(path + ":" + std::to_string(number) + ": " + fields[2] +
                               " looks like a port: servers have no port column any more (the "
                               "runner chooses the port for each run and passes it as {port})");
    }
    server_spec s;
    s.name = fields[0];
    for (const auto &p : split(fields[1], ',')) {
      if (p == "tcp") {
        s.workloads.insert({"pp1", "pp64", "bulk", "accept", "mem", "scale"});
      } else if (p == "udp" || p == "pp1" || p == "pp16" || p == "pp64" || p == "bulk" ||
                 p == "accept" || p == "mem" || p == "scale") {
        s.workloads.insert(p);
      } else {
        throw std::runtime_error(path + ":" + std::to_string(number) +
                                 ": unknown protocol or "
                                 "workload " +
                                 p);
      }
    }
    s.role = fields[2];
    static const std::set<std::string> roles = {"ref",        "baseline",  "native",    "uwsk",
                                                "uwsk-event", "uwsk-sync", "verify-off"};
    if (roles.count(s.role) == 0) {
      throw std::runtime_error(path + ":" + std::to_string(number) + ": unknown role " + s.role);
    }
    s.command.assign(fields.begin() + 3, fields.end());
    servers.push_back(s);
  }
  if (std::count_if(servers.begin(), servers.end(),
                    [](const server_spec &s) { return s.role == "ref"; }) != 1) {
    throw std::runtime_error(path + ": exactly one server must have the role 'ref'");
  }
  for (const auto &s : servers) {
    const std::string suffix = "-verify-off";
    if (s.role == "verify-off" &&
        (s.name.size() <= suffix.size() ||
         s.name.compare(s.name.size() - suffix.size(), suffix.size(), suffix) != 0)) {
      throw std::runtime_error(path + ": a verify-off server is named SERVER" + suffix +
                               ", after the server it is compared with, not " + s.name);
    }
  }
  return servers;
}

std::string substitute(std::string text, const std::map<std::string, std::string> &values) {
  for (const auto &[key, value] : values) {
    const std::string token = "{" + key + "}";
    for (size_t at = text.find(token); at != std::string::npos;
         at = text.find(token, at + value.size())) {
      text.replace(at, token.size(), value);
    }
  }
  return text;
}

// The sweep's measurements are the workloads "scale/N", N connections each; 0 for the others.
int scale_connections_of(const std::string &workload) {
  return workload.rfind("scale/", 0) == 0 ? std::atoi(workload.c_str() + 6) : 0;
}

// ---- Processes ----------------------------------------------------------------------------------

// Starts `words` (leading NAME=VALUE words set the environment) pinned to `cpu`, with its
// standard output and error in `log`.
pid_t spawn(const std::vector<std::string> &words, int cpu, const std::string &log,
            int stdout_pipe = -1) {
  const pid_t pid = fork();
  if (pid != 0) {
    return pid;
  }
  uwsk::bench::pin_to_cpu(cpu);
  size_t first = 0;
  while (first < words.size() && words[first].find('=') != std::string::npos &&
         words[first].find('/') == std::string::npos) {
    const auto equals = words[first].find('=');
    setenv(words[first].substr(0, equals).c_str(), words[first].substr(equals + 1).c_str(), 1);
    ++first;
  }
  const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd >= 0) {
    dup2(stdout_pipe >= 0 ? stdout_pipe : log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
  }
  std::vector<char *> argv;
  for (size_t i = first; i < words.size(); ++i) {
    argv.push_back(const_cast<char *>(words[i].c_str()));
  }
  argv.push_back(nullptr);
  if (argv[0] != nullptr) {
    execv(argv[0], argv.data());
  }
  std::fprintf(stderr, "runner: cannot run %s: %s\n", argv[0] ? argv[0] : "(nothing)",
               std::strerror(errno));
  _exit(127);
}

// Waits up to `seconds` for `pid`; -1 if it is still running, else its wait status.
int wait_for(pid_t pid, double seconds) {
  const int64_t deadline = now_ns() + static_cast<int64_t>(seconds * 1e9);
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      return status;
    }
    if (done < 0) {
      return 0;
    }
    if (now_ns() >= deadline) {
      return -1;
    }
    usleep(5000);
  }
}

// SIGTERM, then SIGKILL if the process has not ended within `grace` seconds.
int stop(pid_t pid, double grace) {
  kill(pid, SIGTERM);
  int status = wait_for(pid, grace);
  if (status == -1) {
    std::fprintf(stderr, "runner: pid %d ignored SIGTERM for %.0f s; killing it\n", pid, grace);
    kill(pid, SIGKILL);
    status = wait_for(pid, 10);
  }
  return status;
}

// Runs a command to completion, pinned to `cpu`, and returns its standard output; `ok` says
// whether it exited 0 within `timeout` seconds.
std::string run_capture(const std::vector<std::string> &words, int cpu, const std::string &log,
                        double timeout, bool &ok) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ok = false;
    return "";
  }
  const pid_t pid = spawn(words, cpu, log, fds[1]);
  close(fds[1]);
  std::string output;
  const int64_t deadline = now_ns() + static_cast<int64_t>(timeout * 1e9);
  bool timed_out = false;
  for (;;) {
    const int64_t left_ms = (deadline - now_ns()) / 1000000;
    if (left_ms <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::min<int64_t>(left_ms, 1000))) <= 0) {
      continue;
    }
    char chunk[4096];
    const ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n <= 0) {
      break;
    }
    output.append(chunk, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = timed_out ? -1 : wait_for(pid, 10);
  if (status == -1) {
    kill(pid, SIGKILL);
    status = wait_for(pid, 10);
    ok = false;
    return output;
  }
  ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return output;
}

// Waits (at most 0.5 s) until the server has gone idle: the load generator's last connections
// are closed and their completions have run. Stopping a server in the middle of that tests
// its unload path under load, which is not what a benchmark is for.
void settle(pid_t pid) {
  int64_t before = uwsk::bench::process_cpu_ns(pid);
  for (int i = 0; i < 25 && before >= 0; ++i) {
    usleep(20000);
    const int64_t now = uwsk::bench::process_cpu_ns(pid);
    if (now < 0 || now - before < 1000000) {
      return;
    }
    before = now;
  }
}

std::string describe_exit(int status) {
  if (status == -1) {
    return "did not end";
  }
  if (WIFSIGNALED(status)) {
    return std::string("was killed by ") + strsignal(WTERMSIG(status));
  }
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

// True when no other server holds the port on 127.0.0.1: nothing listens on it (TCP; with
// SO_REUSEADDR, as the servers bind, connections still closing do not count) and nothing is
// bound to it (UDP).
bool port_free(int port) {
  for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
    const int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    const int on = 1;
    if (type == SOCK_STREAM) {
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool bound = bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) == 0;
    close(fd);
    if (!bound) {
      return false;
    }
  }
  return true;
}

std::string read_file(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// ---- Measurements -------------------------------------------------------------------------------

struct measurement {
  int rep = 0;
  bool ok = false;
  std::string error;
  std::string stop_error; // the server misbehaved when stopped; the numbers still stand
  std::map<std::string, double> values; // every numeric key=value the load generator printed
};

// (placement, workload, server) -> one measurement per repetition.
using key = std::tuple<std::string, std::string, std::string>;
std::map<key, std::vector<measurement>> g_results;

measurement parse_loadgen(const std::string &output) {
  measurement m;
  std::istringstream words(output);
  for (std::string w; words >> w;) {
    const auto equals = w.find('=');
    if (equals == std::string::npos) {
      continue;
    }
    char *end = nullptr;
    const std::string value = w.substr(equals + 1);
    const double number = std::strtod(value.c_str(), &end);
    if (end != value.c_str() && *end == '\0') {
      m.values[w.substr(0, equals)] = number;
    }
  }
  m.ok = m.values.count("rate") != 0;
  return m;
}

// What the load generator verified: bytes (TCP) or datagrams (UDP); 0 if it did not say.
double verified_amount(const measurement &m) {
  for (const char *key : {"verified_bytes", "verified_datagrams"}) {
    auto it = m.values.find(key);
    if (it != m.values.end()) {
      return it->second;
    }
  }
  return 0;
}

std::string tail_of(const std::string &path, size_t lines) {
  const std::string text = read_file(path);
  size_t at = text.size();
  for (size_t seen = 0; at > 0 && seen <= lines; --at) {
    if (text[at - 1] == '\n') {
      ++seen;
    }
  }
  return text.substr(at);
}

// The lines of a server's logs that say what went wrong: a bugcheck with the sentence before
// it, a sanitizer's first lines, or else the last lines.
std::string what_went_wrong(const std::string &server_log, const std::string &driver_log) {
  for (const auto &path : {driver_log, server_log}) {
    std::vector<std::string> lines;
    std::istringstream in(read_file(path));
    for (std::string line; std::getline(in, line);) {
      lines.push_back(line);
    }
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].find("*** BUGCHECK") != std::string::npos) {
        return (i > 0 ? lines[i - 1] + " " : "") + lines[i];
      }
      if (lines[i].find("Sanitizer") != std::string::npos ||
          lines[i].find("did not return") != std::string::npos) {
        return lines[i] + (i + 1 < lines.size() ? " " + lines[i + 1] : "");
      }
    }
  }
  return tail_of(server_log, 3) + tail_of(driver_log, 3);
}

// One measurement, with the server listening on `port`.
measurement run_one(const settings &cfg, const server_spec &server, const std::string &workload,
                    const std::string &placement, int rep, int port) {
  std::string tag = server.name + "-" + workload + "-" + placement + "-" + std::to_string(rep);
  std::replace(tag.begin(), tag.end(), '/', '-'); // scale/N

  const std::string server_log = cfg.work + "/" + tag + ".server.log";
  const std::string driver_log = cfg.work + "/" + tag + ".driver.log";
  const std::string client_log = cfg.work + "/" + tag + ".client.log";
  measurement m;
  m.rep = rep;
  for (int attempt = 0; !port_free(port); ++attempt) {
    if (attempt == 100) {
      m.error = "port " + std::to_string(port) + " is in use by another process";
      return m;
    }
    usleep(50000);
  }
  const std::map<std::string, std::string> values = {{"bin", cfg.bin},
                                                     {"drivers", cfg.drivers},
                                                     {"port", std::to_string(port)},
                                                     {"log", driver_log}};
  std::vector<std::string> command;
  for (const auto &w : server.command) {
    command.push_back(substitute(w, values));
  }
  const pid_t server_pid = spawn(command, cfg.server_cpu, server_log);
  const int client_cpu = placement == "same" ? cfg.server_cpu : cfg.client_cpu;
  const int scale = scale_connections_of(workload);
  const double warmup = scale > 0 ? cfg.scale_warmup : cfg.warmup;
  const double duration = scale > 0 ? cfg.scale_duration : cfg.duration;
  std::vector<std::string> loadgen = {cfg.bin + "/uwsk-bench-loadgen",
                                      "--workload",
                                      scale > 0 ? "pp64" : workload,
                                      "--port",
                                      std::to_string(port),
                                      "--server-pid",
                                      std::to_string(server_pid),
                                      "--warmup",
                                      std::to_string(warmup),
                                      "--duration",
                                      std::to_string(duration)};
  if (workload == "mem") {
    loadgen.insert(loadgen.end(), {"--connections", std::to_string(cfg.mem_connections)});
  }
  if (scale > 0) {
    loadgen.insert(loadgen.end(), {"--connections", std::to_string(scale)});
  }
  bool ok = false;
  const std::string output =
      run_capture(loadgen, client_cpu, client_log, warmup + duration + 120, ok);
  settle(server_pid);
  const int early_status = wait_for(server_pid, 0);
  const bool server_alive = early_status == -1;
  const int server_status = server_alive ? stop(server_pid, 30) : early_status;
  m = parse_loadgen(output);
  m.rep = rep;
  const std::string client_said = tail_of(client_log, 2);
  if (client_said.find("echo verification failed") != std::string::npos) {
    // The server answered with something else than what it was sent: whatever it measured,
    // the result is refused.
    m.ok = false;
    m.error = "the echo differed from what was sent: " + client_said;
    std::replace(m.error.begin(), m.error.end(), '\n', ' ');
    return m;
  }
  if (!ok || !m.ok || !server_alive) {
    m.ok = false;
    m.error = server_alive ? "the load generator failed"
                           : "the server " + describe_exit(server_status) + " during the run";
    m.error += ": " + client_said + tail_of(server_log, 3);
    std::replace(m.error.begin(), m.error.end(), '\n', ' ');
    return m;
  }
  if (verified_amount(m) <= 0) {
    m.ok = false;
    m.error = "the load generator verified no echoed bytes or datagrams (verified_bytes= or "
              "verified_datagrams= missing or 0): the result is refused";
    return m;
  }
  if (!WIFEXITED(server_status) || WEXITSTATUS(server_status) != 0) {
    // A server that does not stop cleanly (a crash at unload, a sanitizer report) measured
    // fine but is broken; that is reported next to its numbers and in the exit status.
    m.stop_error = "the server " + describe_exit(server_status) +
                   " when stopped: " + what_went_wrong(server_log, driver_log);
    std::replace(m.stop_error.begin(), m.stop_error.end(), '\n', ' ');
    return m;
  }
  for (const auto &log : {server_log, driver_log, client_log}) {
    unlink(log.c_str());
  }
  return m;
}

// ---- Statistics ---------------------------------------------------------------------------------

double median(std::vector<double> v) {
  if (v.empty()) {
    return std::nan("");
  }
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct metric_def {
  std::string workload, key, label, unit;
  double scale;              // multiplies the load generator's number into `unit`
  bool higher_better;        // for the ratio's direction
  bool shown = true;         // in the markdown table (every metric is in the JSON)
  bool verification = false; // what the load generator verified: runs and amount, no ratio
};

// The unit of the "echo verified" rows: runs verified of all, then the median amount per run.
constexpr const char *kVerifiedBytes = "runs; bytes per run";

const std::vector<metric_def> &metric_defs() {
  static const std::vector<metric_def> defs = {
      {"pp1", "rate", "TCP ping-pong, 1 conn", "round trips/s", 1, true},
      {"pp1", "p50_us", "  p50 latency", "µs", 1, false},
      {"pp1", "p99_us", "  p99 latency", "µs", 1, false},
      {"pp1", "server_cpu_us_per_op", "  server CPU per round trip", "µs", 1, false},
      {"pp1", "verified_bytes", "  echo verified", kVerifiedBytes, 1, true, true, true},
      {"pp16", "rate", "TCP ping-pong, 16 conns", "msg/s", 1, true},
      {"pp16", "server_cpu_us_per_op", "  server CPU per message", "µs", 1, false},
      {"pp16", "verified_bytes", "  echo verified", kVerifiedBytes, 1, true, true, true},
      {"pp64", "rate", "TCP ping-pong, 64 conns", "msg/s", 1, true},
      {"pp64", "server_cpu_us_per_op", "  server CPU per message", "µs", 1, false},
      {"pp64", "verified_bytes", "  echo verified", kVerifiedBytes, 1, true, true, true},
      {"bulk", "rate", "TCP bulk, 64 KiB writes", "GB/s each way", 1e-9, true},
      {"bulk", "server_cpu_us_per_op", "  server CPU per 64 KiB echoed", "µs", 65536, false},
      {"bulk", "verified_bytes", "  echo verified", kVerifiedBytes, 1, true, true, true},
      {"udp", "rate", "UDP echo, 64 in flight", "msg/s", 1, true},
      {"udp", "server_cpu_us_per_op", "  server CPU per datagram", "µs", 1, false},
      {"udp", "verified_datagrams", "  echo verified", "runs; datagrams per run", 1, true, true,
       true},
      {"accept", "rate", "accept + echo + close", "conn/s", 1, true},
      {"accept", "server_cpu_us_per_op", "  server CPU per connection", "µs", 1, false},
      {"accept", "verified_bytes", "  echo verified", kVerifiedBytes, 1, true, true, true},
      {"mem", "rate", "memory per idle connection", "bytes", 1, false},
      {"mem", "verified_bytes", "  echo verified", kVerifiedBytes, 1, true, true, true},
      // CPU time / wall time of each side: shows which side limited the rate.
      {"pp1", "client_busy", "load generator busy", "fraction", 1, false, false},
      {"pp1", "server_busy", "server busy", "fraction", 1, false, false},
      {"pp16", "client_busy", "load generator busy", "fraction", 1, false, false},
      {"pp16", "server_busy", "server busy", "fraction", 1, false, false},
      {"pp64", "client_busy", "load generator busy", "fraction", 1, false, false},
      {"pp64", "server_busy", "server busy", "fraction", 1, false, false},
      {"bulk", "client_busy", "load generator busy", "fraction", 1, false, false},
      {"bulk", "server_busy", "server busy", "fraction", 1, false, false},
      {"udp", "client_busy", "load generator busy", "fraction", 1, false, false},
      {"udp", "server_busy", "server busy", "fraction", 1, false, false},
      {"accept", "client_busy", "load generator busy", "fraction", 1, false, false},
      {"accept", "server_busy", "server busy", "fraction", 1, false, false},
  };
  return defs;
}

const metric_def &memory_def() {
  for (const auto &d : metric_defs()) {
    if (d.workload == "mem") {
      return d;
    }
  }
  throw std::logic_error("no memory metric");
}

struct summary {
  std::vector<double> values; // one per successful repetition, in `unit`
  double med = std::nan(""), lo = std::nan(""), hi = std::nan(""), spread = std::nan("");
  double ratio_ref = std::nan(""), ratio_asio = std::nan("");
  double ratio_native = std::nan(""); // to the native (role) server: the synchronous style
  int failures = 0;                   // repetitions without a measurement
  int stop_failures = 0;              // repetitions whose server did not stop cleanly
  std::string error, stop_error;
};

double value_of(const measurement &m, const metric_def &d) {
  auto it = m.values.find(d.key);
  return it == m.values.end() ? std::nan("") : it->second * d.scale;
}

// The median over repetitions of value / other server's value in the same repetition.
double ratio_to(const std::vector<measurement> &mine, const std::vector<measurement> *theirs,
                const metric_def &d) {
  if (theirs == nullptr) {
    return std::nan("");
  }
  std::vector<double> ratios;
  for (const auto &a : mine) {
    for (const auto &b : *theirs) {
      if (a.rep == b.rep && a.ok && b.ok) {
        const double x = value_of(a, d), y = value_of(b, d);
        if (std::isfinite(x) && std::isfinite(y) && y != 0) {
          ratios.push_back(x / y);
        }
      }
    }
  }
  return median(ratios);
}

summary summarize(const std::vector<measurement> &runs, const std::vector<measurement> *ref,
                  const std::vector<measurement> *asio, const std::vector<measurement> *native,
                  const metric_def &d) {
  summary s;
  for (const auto &m : runs) {
    if (!m.stop_error.empty()) {
      ++s.stop_failures;
      s.stop_error = m.stop_error;
    }
    if (!m.ok) {
      ++s.failures;
      s.error = m.error;
      continue;
    }
    const double v = value_of(m, d);
    if (std::isfinite(v)) {
      s.values.push_back(v);
    }
  }
  if (!s.values.empty()) {
    s.med = median(s.values);
    s.lo = *std::min_element(s.values.begin(), s.values.end());
    s.hi = *std::max_element(s.values.begin(), s.values.end());
    s.spread = s.med != 0 ? (s.hi - s.lo) / std::fabs(s.med) : 0;
  }
  if (!d.verification) {
    s.ratio_ref = ratio_to(runs, ref, d);
    s.ratio_asio = ratio_to(runs, asio, d);
    s.ratio_native = ratio_to(runs, native, d);
  }
  return s;
}

// ---- Micro benchmarks ---------------------------------------------------------------------------

struct micro_result {
  std::string name;
  std::vector<double> ns;
};

std::vector<micro_result> run_micro(const settings &cfg) {
  std::vector<micro_result> results;
  if (cfg.micro.empty()) {
    return results;
  }
  char min_time[32];
  std::snprintf(min_time, sizeof(min_time), "%g", cfg.micro_min_time);
  bool ok = false;
  const std::string output =
      run_capture({cfg.micro, "--benchmark_format=csv",
                   "--benchmark_repetitions=" + std::to_string(cfg.micro_reps),
                   std::string("--benchmark_min_time=") + min_time},
                  -1, cfg.work + "/micro.log", 600, ok);
  if (!ok) {
    std::fprintf(stderr, "runner: the micro benchmarks failed: %s\n",
                 tail_of(cfg.work + "/micro.log", 5).c_str());
  }
  // CSV: name,iterations,real_time,cpu_time,time_unit,...; aggregates end in _mean, _median...
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '"') {
      continue;
    }
    const auto fields = split(line, ',');
    if (fields.size() < 5) {
      continue;
    }
    std::string name = fields[0];
    name.erase(std::remove(name.begin(), name.end(), '"'), name.end());
    bool aggregate = false;
    for (const char *suffix : {"_mean", "_median", "_stddev", "_cv"}) {
      const size_t n = std::strlen(suffix);
      aggregate |= name.size() > n && name.compare(name.size() - n, n, suffix) == 0;
    }
    if (aggregate) {
      continue;
    }
    const auto slash = name.find('/');
    if (slash != std::string::npos) {
      name.erase(slash);
    }
    double time = std::strtod(fields[2].c_str(), nullptr);
    const std::string unit = fields[4];
    if (unit.find("us") != std::string::npos) {
      time *= 1e3;
    } else if (unit.find("ms") != std::string::npos) {
      time *= 1e6;
    }
    auto it = std::find_if(results.begin(), results.end(),
                           [&](const micro_result &r) { return r.name == name; });
    if (it == results.end()) {
      results.push_back({name, {}});
      it = results.end() - 1;
    }
    it->ns.push_back(time);
  }
  return results;
}

// ---- Machine ------------------------------------------------------------------------------------

struct machine_info {
  std::string cpu, kernel, memory, date;
  long cores = 0;
  std::string load_before, load_after; // /proc/loadavg: other work on the machine skews results
};

std::string load_average() {
  std::istringstream words(read_file("/proc/loadavg"));
  std::string one, five, fifteen;
  words >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

machine_info describe_machine() {
  machine_info info;
  std::istringstream cpuinfo(read_file("/proc/cpuinfo"));
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0 && info.cpu.empty()) {
      info.cpu = line.substr(line.find(':') + 2);
    }
  }
  std::istringstream meminfo(read_file("/proc/meminfo"));
  for (std::string line; std::getline(meminfo, line);) {
    if (line.rfind("MemTotal:", 0) == 0) {
      const long kib = std::strtol(line.c_str() + 9, nullptr, 10);
      info.memory = std::to_string((kib + 512 * 1024) / (1024 * 1024)) + " GiB";
    }
  }
  utsname u{};
  uname(&u);
  info.kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
  info.cores = sysconf(_SC_NPROCESSORS_ONLN);
  char date[64];
  const time_t now = time(nullptr);
  strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
  info.date = date;
  info.load_before = load_average();
  return info;
}

// ---- Output -------------------------------------------------------------------------------------

std::string json_string(const std::string &text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v)) {
    return "null";
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.6g", v);
  return text;
}

// Progress: the time taken so far and, from the mean of the measurements done, the time left.
std::string time_left(int64_t started, int done, int total) {
  const double elapsed = static_cast<double>(now_ns() - started) / 1e9;
  const double left = done > 0 ? elapsed / done * (total - done) : 0;
  char text[96];
  std::snprintf(text, sizeof(text),
                "%d of %d done in %.0f min %02.0f s; about %.0f min %02.0f s left", done, total,
                std::floor(elapsed / 60), std::fmod(elapsed, 60.0), std::floor(left / 60),
                std::fmod(left, 60.0));
  return text;
}

std::string short_number(double v) {
  if (!std::isfinite(v)) {
    return "–";
  }
  char text[32];
  const double a = std::fabs(v);
  if (a >= 1e6) {
    std::snprintf(text, sizeof(text), "%.2fM", v / 1e6);
  } else if (a >= 1e4) {
    std::snprintf(text, sizeof(text), "%.1fk", v / 1e3);
  } else if (a >= 100) {
    std::snprintf(text, sizeof(text), "%.0f", v);
  } else if (a >= 10) {
    std::snprintf(text, sizeof(text), "%.1f", v);
  } else {
    std::snprintf(text, sizeof(text), "%.2f", v);
  }
  return text;
}

struct report {
  settings cfg;
  machine_info machine;
  std::vector<server_spec> servers;
  std::vector<micro_result> micro;
  std::map<std::string, long> threads; // server -> threads seen during runs
  double elapsed_s = 0;
};

const std::vector<measurement> *find_runs(const std::string &placement, const std::string &workload,
                                          const std::string &server) {
  auto it = g_results.find({placement, workload, server});
  return it == g_results.end() ? nullptr : &it->second;
}

// The first server of a role ("ref": the reference; "native": the synchronous style's).
std::string role_name(const report &r, const std::string &role) {
  for (const auto &s : r.servers) {
    if (s.role == role) {
      return s.name;
    }
  }
  return "";
}
std::string ref_name(const report &r) {
  return role_name(r, "ref");
}

bool serves(const server_spec &s, const std::string &workload) {
  return s.workloads.count(scale_connections_of(workload) > 0 ? "scale" : workload) != 0;
}

// The placements a workload runs in: memory does not depend on placement.
std::vector<std::string> placements_for(const settings &cfg, const std::string &workload) {
  if (workload == "mem") {
    return {cfg.placements.front()};
  }
  if (workload == "scale" || scale_connections_of(workload) > 0) {
    const bool listed = std::find(cfg.placements.begin(), cfg.placements.end(),
                                  cfg.scale_placement) != cfg.placements.end();
    return {listed ? cfg.scale_placement : cfg.placements.front()};
  }
  return cfg.placements;
}

summary summary_for(const report &r, const std::string &placement, const metric_def &d,
                    const std::string &server) {
  const auto *runs = find_runs(placement, d.workload, server);
  if (runs == nullptr) {
    return {};
  }
  return summarize(*runs, find_runs(placement, d.workload, ref_name(r)),
                   find_runs(placement, d.workload, "asio"),
                   find_runs(placement, d.workload, role_name(r, "native")), d);
}

// The servers with a column in the main tables and the chart: all but the verify-off copies,
// which have a section of their own.
std::vector<server_spec> column_servers(const report &r) {
  std::vector<server_spec> list;
  for (const auto &s : r.servers) {
    if (s.role != "verify-off") {
      list.push_back(s);
    }
  }
  return list;
}

// The servers of the scaling sweep that were measured, in the order of servers.conf.
std::vector<const server_spec *> scale_servers(const report &r) {
  std::vector<const server_spec *> list;
  for (const auto &s : r.servers) {
    for (const int n : r.cfg.scale_connections) {
      const std::string w = "scale/" + std::to_string(n);
      if (serves(s, w) && find_runs(placements_for(r.cfg, w).front(), w, s.name) != nullptr) {
        list.push_back(&s);
        break;
      }
    }
  }
  return list;
}

// The sweep's metric for `connections`: its rate (msg/s) or server CPU per message (µs).
metric_def scale_def(int connections, const std::string &key) {
  const std::string w = "scale/" + std::to_string(connections);
  if (key == "rate") {
    return {w, "rate", "msg/s", "msg/s", 1, true};
  }
  return {w, key, "server CPU per message", "µs", 1, false};
}

void write_json(const report &r, const std::string &path) {
  std::ofstream out(path);
  out << "{\n  \"machine\": {\"cpu\": " << json_string(r.machine.cpu)
      << ", \"cores\": " << r.machine.cores << ", \"kernel\": " << json_string(r.machine.kernel)
      << ", \"memory\": " << json_string(r.machine.memory)
      << ", \"date\": " << json_string(r.machine.date)
      << ", \"load_average_before\": " << json_string(r.machine.load_before)
      << ", \"load_average_after\": " << json_string(r.machine.load_after) << "},\n";
  out << "  \"config\": {\"repetitions\": " << r.cfg.reps
      << ", \"warmup_s\": " << json_number(r.cfg.warmup)
      << ", \"window_s\": " << json_number(r.cfg.duration)
      << ", \"server_cpu\": " << r.cfg.server_cpu << ", \"client_cpu\": " << r.cfg.client_cpu
      << ", \"mem_connections\": " << r.cfg.mem_connections
      << ", \"mem_repetitions\": " << std::min(r.cfg.reps, r.cfg.mem_reps)
      << ", \"scale_connections\": [" <<
      [&] {
        std::string list;
        for (const int n : r.cfg.scale_connections) {
          list += (list.empty() ? "" : ", ") + std::to_string(n);
        }
        return list;
      }()
      << "], \"scale_repetitions\": " << std::min(r.cfg.reps, r.cfg.scale_reps)
      << ", \"scale_warmup_s\": " << json_number(r.cfg.scale_warmup)
      << ", \"scale_window_s\": " << json_number(r.cfg.scale_duration)
      << ", \"scale_placement\": " << json_string(placements_for(r.cfg, "scale").front())
      << ", \"commit\": " << json_string(r.cfg.commit)
      << ", \"elapsed_s\": " << json_number(r.elapsed_s) << "},\n";
  out << "  \"servers\": [";
  for (size_t i = 0; i < r.servers.size(); ++i) {
    const auto &s = r.servers[i];
    std::string command;
    for (const auto &w : s.command) {
      command += (command.empty() ? "" : " ") + w;
    }
    auto t = r.threads.find(s.name);
    out << (i ? ",\n    " : "\n    ") << "{\"name\": " << json_string(s.name)
        << ", \"role\": " << json_string(s.role) << ", \"command\": " << json_string(command)
        << ", \"threads\": " << (t == r.threads.end() ? "null" : std::to_string(t->second)) << "}";
  }
  out << "\n  ],\n  \"results\": [";
  bool first = true;
  for (const auto &placement : r.cfg.placements) {
    for (const auto &d : metric_defs()) {
      const auto &wanted = r.cfg.workloads;
      if (std::find(wanted.begin(), wanted.end(), d.workload) == wanted.end()) {
        continue;
      }
      const auto allowed = placements_for(r.cfg, d.workload);
      if (std::find(allowed.begin(), allowed.end(), placement) == allowed.end()) {
        continue;
      }
      for (const auto &server : r.servers) {
        const auto *runs = find_runs(placement, d.workload, server.name);
        if (runs == nullptr) {
          continue;
        }
        const summary s = summary_for(r, placement, d, server.name);
        out << (first ? "\n    " : ",\n    ");
        first = false;
        out << "{\"placement\": " << json_string(placement)
            << ", \"workload\": " << json_string(d.workload)
            << ", \"metric\": " << json_string(d.key) << ", \"unit\": " << json_string(d.unit)
            << ", \"higher_is_better\": " << (d.higher_better ? "true" : "false")
            << ", \"server\": " << json_string(server.name) << ", \"values\": [";
        for (size_t i = 0; i < s.values.size(); ++i) {
          out << (i ? ", " : "") << json_number(s.values[i]);
        }
        out << "], \"median\": " << json_number(s.med) << ", \"min\": " << json_number(s.lo)
            << ", \"max\": " << json_number(s.hi) << ", \"spread\": " << json_number(s.spread)
            << ", \"ratio_to_ref\": " << json_number(s.ratio_ref)
            << ", \"ratio_to_asio\": " << json_number(s.ratio_asio)
            << ", \"ratio_to_native\": " << json_number(s.ratio_native)
            << ", \"failures\": " << s.failures << ", \"stop_failures\": " << s.stop_failures;
        if (!s.error.empty()) {
          out << ", \"error\": " << json_string(s.error);
        }
        if (!s.stop_error.empty()) {
          out << ", \"stop_error\": " << json_string(s.stop_error);
        }
        out << "}";
      }
    }
  }
  // The scaling sweep: medians per server and connection count.
  out << "\n  ],\n  \"scale\": [";
  first = true;
  for (const auto *server : scale_servers(r)) {
    const std::string placement = placements_for(r.cfg, "scale").front();
    for (const int n : r.cfg.scale_connections) {
      const auto *runs = find_runs(placement, "scale/" + std::to_string(n), server->name);
      if (runs == nullptr) {
        continue;
      }
      const summary rate = summary_for(r, placement, scale_def(n, "rate"), server->name);
      const summary cpu =
          summary_for(r, placement, scale_def(n, "server_cpu_us_per_op"), server->name);
      out << (first ? "\n    " : ",\n    ");
      first = false;
      out << "{\"placement\": " << json_string(placement)
          << ", \"server\": " << json_string(server->name) << ", \"connections\": " << n
          << ", \"rate_median\": " << json_number(rate.med)
          << ", \"rate_spread\": " << json_number(rate.spread)
          << ", \"rate_ratio_to_ref\": " << json_number(rate.ratio_ref)
          << ", \"server_cpu_us_per_msg_median\": " << json_number(cpu.med)
          << ", \"failures\": " << rate.failures << "}";
    }
  }
  // Every measurement as the load generator reported it.
  out << "\n  ],\n  \"runs\": [";
  first = true;
  for (const auto &[k, runs] : g_results) {
    const auto &[placement, workload, server] = k;
    for (const auto &m : runs) {
      out << (first ? "\n    " : ",\n    ");
      first = false;
      out << "{\"placement\": " << json_string(placement)
          << ", \"workload\": " << json_string(workload) << ", \"server\": " << json_string(server)
          << ", \"rep\": " << m.rep + 1 << ", \"ok\": " << (m.ok ? "true" : "false");
      if (!m.error.empty()) {
        out << ", \"error\": " << json_string(m.error);
      }
      if (!m.stop_error.empty()) {
        out << ", \"stop_error\": " << json_string(m.stop_error);
      }
      out << ", \"values\": {";
      bool first_value = true;
      for (const auto &[name, value] : m.values) {
        out << (first_value ? "" : ", ") << json_string(name) << ": " << json_number(value);
        first_value = false;
      }
      out << "}}";
    }
  }
  out << "\n  ],\n  \"micro\": [";
  for (size_t i = 0; i < r.micro.size(); ++i) {
    const auto &m = r.micro[i];
    out << (i ? ",\n    " : "\n    ") << "{\"name\": " << json_string(m.name)
        << ", \"unit\": \"ns\", \"values\": [";
    for (size_t j = 0; j < m.ns.size(); ++j) {
      out << (j ? ", " : "") << json_number(m.ns[j]);
    }
    const double lo = m.ns.empty() ? std::nan("") : *std::min_element(m.ns.begin(), m.ns.end());
    const double hi = m.ns.empty() ? std::nan("") : *std::max_element(m.ns.begin(), m.ns.end());
    out << "], \"median\": " << json_number(median(m.ns)) << ", \"min\": " << json_number(lo)
        << ", \"max\": " << json_number(hi) << "}";
  }
  out << "\n  ]\n}\n";
}

std::string placement_title(const settings &cfg, const std::string &placement) {
  if (placement == "same") {
    return "Same core (server and load generator both on CPU " + std::to_string(cfg.server_cpu) +
           ")";
  }
  return "Separate cores (server on CPU " + std::to_string(cfg.server_cpu) +
         ", load generator on CPU " + std::to_string(cfg.client_cpu) + ")";
}

// "Scaling sweep": for each connection count, each server's rate and CPU per message.
std::string scale_section(const report &r) {
  const auto servers = scale_servers(r);
  if (servers.empty()) {
    return "";
  }
  std::ostringstream md;
  const std::string placement = placements_for(r.cfg, "scale").front();
  char intro[600];
  std::snprintf(intro, sizeof intro,
                "\n## Scaling sweep (%s; plot: scale.svg)\n\n"
                "Ping-pong with one 64-byte message outstanding on each connection, every echo "
                "verified; %d repetition(s) of %.2g s warm-up and %.2g s window per point. Each "
                "cell: the median rate (msg/s), then the server's CPU time per message (µs, ↓), "
                "then ×: the median of the per-repetition ratios of the rate to `%s`.\n\n",
                placement_title(r.cfg, placement).c_str(), std::min(r.cfg.reps, r.cfg.scale_reps),
                r.cfg.scale_warmup, r.cfg.scale_duration, ref_name(r).c_str());
  md << intro << "| connections |";
  for (const auto *s : servers) {
    md << " " << s->name << " |";
  }
  md << "\n|---|";
  for (size_t i = 0; i < servers.size(); ++i) {
    md << "---|";
  }
  md << "\n";
  for (const int n : r.cfg.scale_connections) {
    md << "| " << n << " |";
    for (const auto *s : servers) {
      const summary rate = summary_for(r, placement, scale_def(n, "rate"), s->name);
      const summary cpu = summary_for(r, placement, scale_def(n, "server_cpu_us_per_op"), s->name);
      const auto *runs = find_runs(placement, "scale/" + std::to_string(n), s->name);
      if (runs == nullptr) {
        md << " – |";
        continue;
      }
      if (rate.values.empty()) {
        md << " failed |";
        continue;
      }
      char cell[160];
      std::snprintf(cell, sizeof cell, " **%s** · %s µs%s%s |", short_number(rate.med).c_str(),
                    short_number(cpu.med).c_str(),
                    std::isfinite(rate.ratio_ref) ? (" ×" + short_number(rate.ratio_ref)).c_str()
                                                  : "",
                    rate.failures != 0 ? (" (**✗ " + std::to_string(rate.failures) + "/" +
                                          std::to_string(runs->size()) + " failed**)")
                                             .c_str()
                                       : "");
      md << cell;
    }
    md << "\n";
  }
  return md.str();
}

// "Verifier cost": each verify-off server against the server it is the checks-off copy of.
std::string verifier_cost_section(const report &r) {
  std::ostringstream rows;
  for (const auto &off : r.servers) {
    if (off.role != "verify-off") {
      continue;
    }
    const std::string on = off.name.substr(0, off.name.size() - std::strlen("-verify-off"));
    for (const auto &placement : r.cfg.placements) {
      for (const auto &d : metric_defs()) {
        const auto *off_runs = find_runs(placement, d.workload, off.name);
        const auto *on_runs = find_runs(placement, d.workload, on);
        if (d.key != "rate" || off_runs == nullptr || on_runs == nullptr) {
          continue;
        }
        metric_def cpu_def = d;
        cpu_def.key = "server_cpu_us_per_op";
        cpu_def.higher_better = false;
        const summary a = summarize(*on_runs, nullptr, nullptr, nullptr, d);
        const summary b = summarize(*off_runs, nullptr, nullptr, nullptr, d);
        const summary ca = summarize(*on_runs, nullptr, nullptr, nullptr, cpu_def);
        const summary cb = summarize(*off_runs, nullptr, nullptr, nullptr, cpu_def);
        const double ratio = ratio_to(*on_runs, off_runs, d);
        const double cpu_ratio = ratio_to(*on_runs, off_runs, cpu_def);
        char row[400];
        std::snprintf(row, sizeof row,
                      "| %s | %s | %s | %s ±%.0f%% | %s ±%.0f%% | ×%.3f (≥ 0.90) %s | %s / %s µs "
                      "×%.3f |\n",
                      on.c_str(), d.label.c_str(), placement.c_str(), short_number(a.med).c_str(),
                      a.spread * 100, short_number(b.med).c_str(), b.spread * 100, ratio,
                      !std::isfinite(ratio) ? "–"
                      : ratio >= 0.90       ? "met"
                                            : "**missed**",
                      short_number(ca.med).c_str(), short_number(cb.med).c_str(), cpu_ratio);
        rows << row;
      }
    }
  }
  if (rows.str().empty()) {
    return "";
  }
  return "\n## Verifier cost (checks on: the default; off: UWSK_VERIFY=off)\n\n"
         "× is the median over repetitions of the rate with checks on / the rate with checks off "
         "in the same repetition; the target is to stay within 10%.\n\n"
         "| server | workload | placement | rate, checks on | rate, checks off | on / off "
         "(target) | server CPU per message on / off ↓ |\n|---|---|---|---|---|---|---|\n" +
         rows.str();
}

std::string write_markdown(const report &r, const std::string &path) {
  std::ostringstream md;
  const std::string ref = ref_name(r);
  md << "# uwsk benchmark results\n\n";
  md << "Machine: " << r.machine.cpu << ", " << r.machine.cores << " CPUs, " << r.machine.memory
     << ", " << r.machine.kernel << ". Run " << r.machine.date;
  if (!r.cfg.commit.empty()) {
    md << " at commit " << r.cfg.commit;
  }
  char timing[160];
  std::snprintf(timing, sizeof(timing),
                ", %d repetitions, %.1f s warm-up and %.1f s window per measurement, "
                "%.0f s in all.\n\n",
                r.cfg.reps, r.cfg.warmup, r.cfg.duration, r.elapsed_s);
  md << timing;
  md << "Load average (1, 5, 15 min) before the run: " << r.machine.load_before
     << "; after: " << r.machine.load_after
     << ". Anything else running on the machine competes with both placements.\n\n";
  md << "Each cell: the median over repetitions, its spread ±(max−min)/median, and ×: the median "
        "of the per-repetition ratios to `"
     << ref << "` measured in the same repetition. For rows marked ↓ lower is better.\n\n";
  md << "Every echo is verified: the load generator compares each byte (TCP) or datagram (UDP) it "
        "gets back with what it sent, and the runner refuses a measurement whose echo differed or "
        "that verified nothing (it counts as failed; see Problems). The \"echo verified\" rows "
        "give the runs verified of all runs (✓ when all were) and the median bytes or datagrams "
        "verified per run, warm-up included.\n";
  const std::vector<server_spec> columns = column_servers(r);
  for (const auto &placement : r.cfg.placements) {
    md << "\n## " << placement_title(r.cfg, placement) << "\n\n| workload | unit |";
    for (const auto &s : columns) {
      md << " " << s.name << " |";
    }
    md << "\n|---|---|";
    for (size_t i = 0; i < columns.size(); ++i) {
      md << "---|";
    }
    md << "\n";
    for (const auto &d : metric_defs()) {
      const auto &wanted = r.cfg.workloads;
      if (!d.shown || std::find(wanted.begin(), wanted.end(), d.workload) == wanted.end()) {
        continue;
      }
      const auto allowed = placements_for(r.cfg, d.workload);
      if (std::find(allowed.begin(), allowed.end(), placement) == allowed.end()) {
        continue;
      }
      std::string label = d.label;
      const bool sub = label.rfind("  ", 0) == 0;
      if (sub) {
        label = "&nbsp;&nbsp;" + label.substr(2);
      }
      md << "| " << label << (d.higher_better ? "" : " ↓") << " | " << d.unit << " |";
      for (const auto &server : columns) {
        if (!serves(server, d.workload)) {
          md << " n/a |";
          continue;
        }
        const auto *runs = find_runs(placement, d.workload, server.name);
        if (runs == nullptr) {
          md << " – |";
          continue;
        }
        const summary s = summary_for(r, placement, d, server.name);
        if (d.verification) {
          // Runs whose echo was verified (every measured run must be) and the median amount.
          const size_t all = runs->size();
          const size_t verified = all - static_cast<size_t>(s.failures);
          md << (verified == all ? " ✓ " : " **✗ ") << verified << "/" << all
             << (verified == all ? "" : "**");
          if (!s.values.empty()) {
            md << "; " << short_number(s.med);
          }
          md << " |";
          continue;
        }
        if (s.values.empty()) {
          md << " failed |";
          continue;
        }
        char ratio[32] = "";
        if (std::isfinite(s.ratio_ref)) {
          std::snprintf(ratio, sizeof(ratio), " ×%.2f", s.ratio_ref);
        }
        char cell[128];
        std::snprintf(cell, sizeof(cell), " %s%s%s ±%.0f%%%s%s |", sub ? "" : "**",
                      short_number(s.med).c_str(), sub ? "" : "**", s.spread * 100, ratio,
                      s.failures ? " (some runs failed)" : (s.stop_failures ? " ‡" : ""));
        md << cell;
      }
      md << "\n";
    }
  }
  if (!r.micro.empty()) {
    md << "\n## Micro benchmarks (Google Benchmark, ns per operation)\n\n"
          "| operation | median ns | min–max |\n|---|---|---|\n";
    for (const auto &m : r.micro) {
      if (m.ns.empty()) {
        continue;
      }
      char row[160];
      std::snprintf(row, sizeof(row), "| `%s` | %.1f | %.1f–%.1f |\n", m.name.c_str(), median(m.ns),
                    *std::min_element(m.ns.begin(), m.ns.end()),
                    *std::max_element(m.ns.begin(), m.ns.end()));
      md << row;
    }
  }

  // The performance targets (bench/README.md), for each uwsk server, in the
  // separate-cores placement.
  const std::string split_name = "split";
  if (std::find(r.cfg.placements.begin(), r.cfg.placements.end(), split_name) !=
      r.cfg.placements.end()) {
    std::ostringstream targets;
    for (const auto &server : r.servers) {
      if (server.role != "uwsk" && server.role != "uwsk-event") {
        continue;
      }
      for (const auto &d : metric_defs()) {
        if (d.key != "rate" || d.workload == "mem" || !serves(server, d.workload)) {
          continue;
        }
        const auto *runs = find_runs(split_name, d.workload, server.name);
        if (runs == nullptr) {
          continue;
        }
        const summary s = summary_for(r, split_name, d, server.name);
        const double need = d.workload == "pp64" && server.role == "uwsk-event" ? 1.0 : 0.95;
        char row[256];
        const bool asio_known = std::isfinite(s.ratio_asio);
        std::snprintf(
            row, sizeof(row), "| %s | %s | ×%.2f (≥ %.2f) %s | %s%s |\n", server.name.c_str(),
            d.label.c_str(), s.ratio_ref, need, s.ratio_ref >= need ? "met" : "**missed**",
            asio_known ? ("×" + short_number(s.ratio_asio)).c_str() : "–",
            asio_known ? (s.ratio_asio >= 1.0 ? " (≥ 1.00) met" : " (≥ 1.00) **missed**") : "");
        targets << row;
      }
      const auto *mem = find_runs(placements_for(r.cfg, "mem").front(), "mem", server.name);
      if (mem != nullptr) {
        const summary s =
            summary_for(r, placements_for(r.cfg, "mem").front(), memory_def(), server.name);
        char row[256];
        std::snprintf(row, sizeof(row),
                      "| %s | memory per idle connection | %s bytes (≤ 2048, driver's own buffers "
                      "included) %s | |\n",
                      server.name.c_str(), short_number(s.med).c_str(),
                      s.med <= 2048 ? "met" : "**missed**");
        targets << row;
      }
    }
    for (const auto &m : r.micro) {
      if (m.name == "irp_allocate_complete_free" && !m.ns.empty()) {
        char row[200];
        std::snprintf(row, sizeof(row),
                      "| runtime | IRP allocate + complete + free | %.1f ns (≤ 60) %s | |\n",
                      median(m.ns), median(m.ns) <= 60 ? "met" : "**missed**");
        targets << row;
      }
    }
    if (!targets.str().empty()) {
      md << "\n## Targets (separate cores)\n\n"
            "| server | workload | × "
         << ref << " (target) | × asio (target) |\n|---|---|---|---|\n"
         << targets.str();
    }
  }

  // The synchronous drivers against the native thread-per-connection server, both placements.
  const std::string native = role_name(r, "native");
  std::ostringstream sync_rows;
  for (const auto &server : r.servers) {
    if (server.role != "uwsk-sync" || native.empty()) {
      continue;
    }
    for (const auto &placement : r.cfg.placements) {
      for (const auto &d : metric_defs()) {
        if (d.key != "rate" || !serves(server, d.workload) ||
            find_runs(placement, d.workload, server.name) == nullptr) {
          continue;
        }
        const summary s = summary_for(r, placement, d, server.name);
        const summary n = summary_for(r, placement, d, native);
        metric_def cpu_def = d;
        cpu_def.key = "server_cpu_us_per_op";
        cpu_def.higher_better = false;
        const summary c = summary_for(r, placement, cpu_def, server.name);
        char row[400];
        std::snprintf(row, sizeof(row),
                      "| %s | %s | %s | %s ±%.0f%% | %s ±%.0f%% | ×%.2f (≥ 0.95) %s | ×%.2f |\n",
                      server.name.c_str(), d.label.c_str(), placement.c_str(),
                      short_number(s.med).c_str(), s.spread * 100, short_number(n.med).c_str(),
                      n.spread * 100, s.ratio_native,
                      !std::isfinite(s.ratio_native) ? "–"
                      : s.ratio_native >= 0.95       ? "met"
                                                     : "**missed**",
                      c.ratio_native);
        sync_rows << row;
      }
    }
  }
  if (!sync_rows.str().empty()) {
    md << "\n## Synchronous callers (× " << native
       << ", the native thread-per-connection server)\n\n"
          "| server | workload | placement | rate | "
       << native << " | × " << native << " (target) | server CPU per message × " << native
       << " ↓ |\n|---|---|---|---|---|---|---|\n"
       << sync_rows.str();
  }

  md << verifier_cost_section(r) << scale_section(r);

  // Every failure and every unclean stop, once per (placement, workload, server).
  std::ostringstream problems;
  for (const auto &[k, runs] : g_results) {
    const auto &[placement, workload, server] = k;
    int failed = 0, unclean = 0;
    std::string error, stop_error;
    for (const auto &m : runs) {
      failed += m.ok ? 0 : 1;
      unclean += m.stop_error.empty() ? 0 : 1;
      error = m.ok ? error : m.error;
      stop_error = m.stop_error.empty() ? stop_error : m.stop_error;
    }
    if (failed != 0) {
      problems << "- " << server << ", " << workload << ", " << placement << ": " << failed
               << " of " << runs.size() << " runs failed. Last: " << error.substr(0, 300) << "\n";
    }
    if (unclean != 0) {
      problems << "- ‡ " << server << ", " << workload << ", " << placement << ": the server did "
               << "not stop cleanly after " << unclean << " of " << runs.size()
               << " runs (its numbers are kept). Last: " << stop_error.substr(0, 300) << "\n";
    }
  }
  if (!problems.str().empty()) {
    md << "\n## Problems seen during the run\n\n" << problems.str();
  }

  md << "\n## Servers\n\n| name | role | threads | command |\n|---|---|---|---|\n";
  for (const auto &s : r.servers) {
    std::string command;
    for (const auto &w : s.command) {
      command += (command.empty() ? "" : " ") + w;
    }
    auto t = r.threads.find(s.name);
    md << "| " << s.name << " | " << s.role << " | "
       << (t == r.threads.end() ? std::string("–") : std::to_string(t->second)) << " | `" << command
       << "` |\n";
  }
  std::ofstream(path) << md.str();
  return md.str();
}

// Data and script for a clustered bar chart of the ratios to the reference.
// Short enough to sit side by side under the bars.
std::string plot_label(const std::string &workload) {
  static const std::map<std::string, std::string> labels = {
      {"pp1", "ping-pong 1"},  {"pp16", "ping-pong 16"}, {"pp64", "ping-pong 64"},
      {"bulk", "bulk 64 KiB"}, {"udp", "UDP 64"},        {"accept", "accept"}};
  auto it = labels.find(workload);
  return it == labels.end() ? workload : it->second;
}

// The script names its files relative to the output directory, where gnuplot is run.
void write_plot(const report &r, const std::string &dat_path, const std::string &gp_path,
                const std::string &dat_name, const std::string &svg_name) {
  std::ofstream dat(dat_path);
  const std::vector<server_spec> columns = column_servers(r);
  std::vector<const metric_def *> rows;
  for (const auto &d : metric_defs()) {
    if (d.key == "rate" && d.workload != "mem" &&
        std::find(r.cfg.workloads.begin(), r.cfg.workloads.end(), d.workload) !=
            r.cfg.workloads.end()) {
      rows.push_back(&d);
    }
  }
  int blocks = 0;
  double highest = 1.0;
  for (const auto &placement : r.cfg.placements) {
    dat << "# " << placement << "\nworkload";
    for (const auto &s : columns) {
      dat << " " << s.name;
    }
    dat << "\n";
    for (const auto *d : rows) {
      dat << '"' << plot_label(d->workload) << '"';
      for (const auto &s : columns) {
        const summary sm = summary_for(r, placement, *d, s.name);
        dat << " " << (std::isfinite(sm.ratio_ref) ? json_number(sm.ratio_ref) : "0");
        if (std::isfinite(sm.ratio_ref)) {
          highest = std::max(highest, sm.ratio_ref);
        }
      }
      dat << "\n";
    }
    dat << "\n\n";
    ++blocks;
  }
  std::ofstream gp(gp_path);
  gp << "# Generated by uwsk-bench-runner; run gnuplot on it in its own directory.\n"
     << "set terminal svg size 1000," << 360 * blocks << " dynamic font 'sans,11'\n"
     << "set output '" << svg_name << "'\n"
     << "set datafile separator whitespace\n"
     << "set style data histograms\nset style histogram clustered gap 1\n"
     << "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
     << "set key outside right top\nset grid ytics\nset yrange [0:" << json_number(highest * 1.15)
     << "]\n"
     << "set ylabel 'rate relative to " << ref_name(r) << " (same repetition)'\n"
     << "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5\n"
     << "set xtics noenhanced\nset key noenhanced\n"
     << "set multiplot layout " << blocks << ",1\n";
  int index = 0;
  for (const auto &placement : r.cfg.placements) {
    gp << "set title \"" << placement_title(r.cfg, placement) << "\"\n";
    gp << "plot for [col=2:" << columns.size() + 1 << "] '" << dat_name << "' index " << index
       << " using col:xtic(1) title columnheader\n";
    ++index;
  }
  gp << "unset multiplot\n";
}

// The sweep's plot: rate and server CPU per message against connections (log scale), a line per
// server; the data has a block per server: connections, median rate, median CPU per message.
void write_scale_plot(const report &r, const std::string &dat_path, const std::string &gp_path,
                      const std::string &dat_name, const std::string &svg_name) {
  const auto servers = scale_servers(r);
  if (servers.empty()) {
    std::remove(gp_path.c_str());
    return;
  }
  const std::string placement = placements_for(r.cfg, "scale").front();
  std::ofstream dat(dat_path);
  for (const auto *s : servers) {
    dat << "# " << s->name << "\nconnections " << s->name << " cpu_us\n";
    for (const int n : r.cfg.scale_connections) {
      const summary rate = summary_for(r, placement, scale_def(n, "rate"), s->name);
      const summary cpu = summary_for(r, placement, scale_def(n, "server_cpu_us_per_op"), s->name);
      if (std::isfinite(rate.med) && std::isfinite(cpu.med)) {
        dat << n << " " << json_number(rate.med) << " " << json_number(cpu.med) << "\n";
      }
    }
    dat << "\n\n";
  }
  std::ofstream gp(gp_path);
  gp << "# Generated by uwsk-bench-runner; run gnuplot on it in its own directory.\n"
     << "set terminal svg size 1000,720 dynamic font 'sans,11'\n"
     << "set output '" << svg_name << "'\n"
     << "set logscale x 10\nset xrange [0.7:" << json_number(r.cfg.scale_connections.back() * 1.4)
     << "]\nset format x '%.0f'\nset grid xtics ytics\nset key outside right top noenhanced\n"
     << "set xlabel 'connections (one 64-byte message outstanding on each)'\n"
     << "set multiplot layout 2,1 title \"Scaling sweep: " << placement_title(r.cfg, placement)
     << "\"\n"
     << "set yrange [0:*]\nset ylabel 'messages/s'\n"
     << "plot for [i=0:" << servers.size() - 1 << "] '" << dat_name
     << "' index i using 1:2 with linespoints lw 2 pt 7 title columnheader(2)\n"
     << "set ylabel 'server CPU per message (µs)'\n"
     << "plot for [i=0:" << servers.size() - 1 << "] '" << dat_name
     << "' index i using 1:3 with linespoints lw 2 pt 7 title columnheader(2)\n"
     << "unset multiplot\n";
}

} // namespace

int main(int argc, char **argv) {
  settings cfg;
  std::vector<server_spec> servers;
  try {
    options opts(argc, argv);
    cfg.quick = opts.has("quick");
    cfg.unclean_stop_ok = opts.has("unclean-stop-ok");
    cfg.bin = opts.text("bin", "");
    cfg.drivers = opts.text("drivers", "");
    cfg.out = opts.text("out", "");
    cfg.micro = opts.text("micro", "");
    cfg.commit = opts.text("commit", "");
    cfg.reps = static_cast<int>(opts.integer("reps", cfg.quick ? 1 : 5));
    cfg.warmup = opts.number("warmup", cfg.quick ? 0.05 : 0.3);
    cfg.duration = opts.number("duration", cfg.quick ? 0.2 : 1.2);
    cfg.workloads = split(opts.text("workloads", "pp1,pp16,pp64,bulk,udp,accept,mem,scale"), ',');
    cfg.placements = split(opts.text("placements", "split,same"), ',');
    for (const auto &name : split(opts.text("only", ""), ',')) {
      cfg.only.insert(name);
    }
    cfg.mem_reps = static_cast<int>(opts.integer("mem-reps", cfg.mem_reps));
    cfg.mem_connections =
        static_cast<int>(opts.integer("mem-connections", cfg.quick ? 200 : 10000));
    cfg.micro_reps = static_cast<int>(opts.integer("micro-reps", cfg.quick ? 1 : 5));
    if (opts.has("scale-connections") || cfg.quick) {
      cfg.scale_connections.clear();
      for (const auto &n : split(opts.text("scale-connections", "1,10,100"), ',')) {
        const int count = std::atoi(n.c_str());
        if (count < 1 || count > 100000) {
          throw std::invalid_argument("--scale-connections takes counts from 1 to 100000");
        }
        cfg.scale_connections.push_back(count);
      }
    }
    cfg.scale_reps = static_cast<int>(opts.integer("scale-reps", cfg.quick ? 1 : 3));
    cfg.scale_warmup = opts.number("scale-warmup", cfg.quick ? 0.05 : 0.2);
    cfg.scale_duration = opts.number("scale-duration", cfg.quick ? 0.2 : 0.4);
    cfg.scale_placement = opts.text("scale-placement", "same");
    if (cfg.scale_placement != "same" && cfg.scale_placement != "split") {
      throw std::invalid_argument("--scale-placement is same or split");
    }
    cfg.micro_min_time = opts.number("micro-min-time", cfg.quick ? 0.01 : 0.2);
    cfg.server_cpu = static_cast<int>(opts.integer("server-cpu", 0));
    cfg.client_cpu = static_cast<int>(opts.integer("client-cpu", 1));
    cfg.seed = static_cast<unsigned>(opts.integer("seed", static_cast<long>(time(nullptr))));
    cfg.work = opts.text("work", "/tmp/uwsk-bench." + std::to_string(getpid()));
    if (cfg.bin.empty() || cfg.out.empty() || !opts.has("servers")) {
      throw std::invalid_argument("--bin, --servers and --out are required");
    }
    servers = read_servers(opts.text("servers", ""));
    if (!cfg.only.empty()) {
      std::erase_if(servers, [&](const server_spec &s) { return cfg.only.count(s.name) == 0; });
      if (servers.empty()) {
        throw std::invalid_argument("--only names no server of the list");
      }
    }
    for (const auto &w : cfg.workloads) {
      static const std::set<std::string> known = {"pp1", "pp16",   "pp64", "bulk",
                                                  "udp", "accept", "mem",  "scale"};
      if (known.count(w) == 0) {
        throw std::invalid_argument("unknown workload " + w);
      }
    }
    for (const auto &p : cfg.placements) {
      if (p != "split" && p != "same") {
        throw std::invalid_argument("placements are split and same, not " + p);
      }
    }
    if (cfg.reps < 1 || cfg.placements.empty()) {
      throw std::invalid_argument("--reps must be at least 1 and a placement given");
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "runner: %s\n(see the comment at the top of bench/runner/runner.cpp)\n",
                 e.what());
    return 1;
  }
  if (std::find(cfg.placements.begin(), cfg.placements.end(), "split") != cfg.placements.end() &&
      sysconf(_SC_NPROCESSORS_ONLN) < 2) {
    std::fprintf(stderr, "runner: one CPU only: measuring the 'same' placement alone\n");
    cfg.placements = {"same"};
  }
  // The servers inherit the limit on open files: the sweep's 10,000 connections need it raised.
  uwsk::bench::raise_file_limit();
  std::error_code created;
  std::filesystem::create_directories(cfg.work, created);
  if (!created) {
    std::filesystem::create_directories(cfg.out, created);
  }
  if (created) {
    std::fprintf(stderr, "runner: cannot create %s or %s: %s\n", cfg.work.c_str(), cfg.out.c_str(),
                 created.message().c_str());
    return 1;
  }

  std::optional<uwsk::bench::port_reservation> port;
  try {
    port = uwsk::bench::port_reservation::take();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "runner: cannot choose a port: %s\n", e.what());
    return 1;
  }

  report r;
  r.cfg = cfg;
  r.servers = servers;
  r.machine = describe_machine();
  const int64_t started = now_ns();
  std::mt19937 shuffle_rng(cfg.seed);
  // The workloads measured, in order: "scale" is one per connection count of the sweep.
  std::vector<std::string> measured;
  for (const auto &w : cfg.workloads) {
    if (w != "scale") {
      measured.push_back(w);
      continue;
    }
    for (const int n : cfg.scale_connections) {
      measured.push_back("scale/" + std::to_string(n));
    }
  }
  auto reps_of = [&](const std::string &w) {
    if (w == "mem") {
      return std::min(cfg.reps, cfg.mem_reps);
    }
    return scale_connections_of(w) > 0 ? std::min(cfg.reps, cfg.scale_reps) : cfg.reps;
  };
  int total = 0;
  for (const auto &w : measured) {
    for (const auto &s : servers) {
      total += serves(s, w) ? static_cast<int>(placements_for(cfg, w).size()) * reps_of(w) : 0;
    }
  }
  int done = 0, failed = 0, unclean = 0;
  std::printf("runner: %d measurements (%d repetitions), seed %u, port %d, work directory %s\n",
              total, cfg.reps, cfg.seed, port->port(), cfg.work.c_str());
  for (int rep = 0; rep < cfg.reps; ++rep) {
    for (const auto &placement : cfg.placements) {
      for (const auto &workload : measured) {
        const auto allowed = placements_for(cfg, workload);
        if (rep >= reps_of(workload) ||
            std::find(allowed.begin(), allowed.end(), placement) == allowed.end()) {
          continue;
        }
        std::vector<const server_spec *> order;
        for (const auto &s : servers) {
          if (serves(s, workload)) {
            order.push_back(&s);
          }
        }
        std::shuffle(order.begin(), order.end(), shuffle_rng);
        for (const auto *s : order) {
          measurement m = run_one(cfg, *s, workload, placement, rep, port->port());
          if (!m.ok && (m.error.rfind("the server ", 0) == 0 || m.error.rfind("port ", 0) == 0)) {
            // A server that died (a port taken for a moment, a crash) gets one more chance;
            // a second failure is recorded. A port something else took is given up for another.
            std::printf("        %s %s: %s; retrying once\n", s->name.c_str(), workload.c_str(),
                        m.error.substr(0, 200).c_str());
            if (m.error.rfind("port ", 0) == 0) {
              try {
                port = uwsk::bench::port_reservation::take();
                std::printf("        runner: port %d from now on\n", port->port());
              } catch (const std::exception &e) {
                std::printf("        runner: cannot choose another port: %s\n", e.what());
              }
            }
            sleep(1);
            m = run_one(cfg, *s, workload, placement, rep, port->port());
          }
          ++done;
          if (!m.stop_error.empty()) {
            ++unclean;
          }
          if (m.ok) {
            auto t = m.values.find("server_threads");
            if (t != m.values.end()) {
              r.threads[s->name] = std::max(r.threads[s->name], static_cast<long>(t->second));
            }
            const bool datagrams = m.values.count("verified_datagrams") != 0;
            std::printf(
                "[%3d/%d] rep %d %-5s %-6s %-10s rate=%s %s verified=%s%s\n", done, total, rep + 1,
                placement.c_str(), workload.c_str(), s->name.c_str(),
                short_number(m.values["rate"]).c_str(),
                m.values.count("server_cpu_us_per_op")
                    ? ("cpu/op=" + short_number(m.values["server_cpu_us_per_op"]) + "us").c_str()
                    : "",
                short_number(verified_amount(m)).c_str(), datagrams ? " datagrams" : "B");
            if (!m.stop_error.empty()) {
              std::printf("        but %s\n", m.stop_error.c_str());
            }
          } else {
            ++failed;
            std::printf("[%3d/%d] rep %d %-5s %-6s %-10s FAILED: %s\n", done, total, rep + 1,
                        placement.c_str(), workload.c_str(), s->name.c_str(), m.error.c_str());
          }
          std::printf("        %s\n", time_left(started, done, total).c_str());
          std::fflush(stdout);
          g_results[{placement, workload, s->name}].push_back(m);
        }
      }
    }
  }
  if (!cfg.micro.empty()) {
    std::printf("runner: micro benchmarks (%d repetitions)\n", cfg.micro_reps);
    std::fflush(stdout);
    r.micro = run_micro(cfg);
  }
  r.elapsed_s = static_cast<double>(now_ns() - started) / 1e9;
  r.machine.load_after = load_average();
  write_json(r, cfg.out + "/latest.json");
  const std::string md = write_markdown(r, cfg.out + "/latest.md");
  write_plot(r, cfg.out + "/latest.dat", cfg.out + "/latest.gp", "latest.dat", "latest.svg");
  write_scale_plot(r, cfg.out + "/scale.dat", cfg.out + "/scale.gp", "scale.dat", "scale.svg");
  std::printf("\n%s\nrunner: wrote %s/latest.{json,md,dat,gp} and scale.{dat,gp}; %d of %d "
              "measurements failed; "
              "the server did not stop cleanly after %d\n",
              md.c_str(), cfg.out.c_str(), failed, done, unclean);
  if (failed == 0 && unclean == 0) {
    rmdir(cfg.work.c_str());
  }
  if (failed != 0) {
    return 2;
  }
  return unclean != 0 && !cfg.unclean_stop_ok ? 3 : 0;
}

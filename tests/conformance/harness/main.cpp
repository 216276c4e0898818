// conf-harness: runs one conformance driver under uwsk-run against the harness's peers.
//
//   conf-harness [--timeout SECONDS] [--pattern-length N] UWSK_RUN DRIVER [UWSK_RUN_ARGS...]
//
// It opens the peers and the command channel, runs
//   UWSK_RUN --strict --unload-after 0 --param-dword NAME=PORT... UWSK_RUN_ARGS DRIVER
// forwards its output, and exits 0 only when uwsk-run exited 0, no "conf: FAIL" line appeared and
// the driver's "conf: SUMMARY" line was seen. A run longer than the timeout is killed.
#include "harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct outcome {
  bool summary = false;
  unsigned failures = 0;
  unsigned known_bugs = 0;
};

void scan(const std::string &line, outcome &result) {
  if (line.find("conf: FAIL") != std::string::npos) {
    ++result.failures;
  }
  if (line.find("conf: KNOWN-BUG") != std::string::npos) {
    ++result.known_bugs;
  }
  if (line.find("conf: SUMMARY") != std::string::npos) {
    result.summary = true;
  }
}

// Runs the command, forwarding and scanning its output; returns its wait status (or -1 when it
// had to be killed).
int run(const std::vector<std::string> &command, int timeout_s, outcome &result) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    std::perror("conf-harness: pipe");
    return -1;
  }
  const pid_t child = fork();
  if (child < 0) {
    std::perror("conf-harness: fork");
    return -1;
  }
  if (child == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    std::vector<char *> argv;
    for (const auto &word : command) {
      argv.push_back(const_cast<char *>(word.c_str()));
    }
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::perror("conf-harness: exec");
    _exit(127);
  }
  close(pipe_fds[1]);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::string pending;
  bool killed = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      std::fprintf(stdout, "conf-harness: the driver ran longer than %d s; killing uwsk-run\n",
                   timeout_s);
      kill(child, SIGTERM);
      killed = true;
      // Give it a moment to unload, then make sure.
      usleep(2000 * 1000);
      kill(child, SIGKILL);
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      continue;
    }
    char buffer[4096];
    const ssize_t got = read(pipe_fds[0], buffer, sizeof(buffer));
    if (got <= 0) {
      break;
    }
    pending.append(buffer, static_cast<size_t>(got));
    size_t end;
    while ((end = pending.find('\n')) != std::string::npos) {
      const std::string line = pending.substr(0, end);
      pending.erase(0, end + 1);
      std::fprintf(stdout, "%s\n", line.c_str());
      scan(line, result);
    }
    std::fflush(stdout);
  }
  if (!pending.empty()) {
    std::fprintf(stdout, "%s\n", pending.c_str());
    scan(pending, result);
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return killed ? -1 : status;
}

int usage() {
  std::fprintf(stderr, "usage: conf-harness [--timeout SECONDS] [--pattern-length N] UWSK_RUN "
                       "DRIVER [UWSK_RUN_ARGS...]\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  int timeout_s = 90;
  uint32_t pattern_length = 1 << 20;
  int i = 1;
  for (; i + 1 < argc && std::strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (std::strcmp(argv[i], "--timeout") == 0) {
      timeout_s = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--pattern-length") == 0) {
      pattern_length = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 0));
    } else {
      return usage();
    }
  }
  if (argc - i < 2 || timeout_s <= 0) {
    return usage();
  }
  const std::string uwsk_run = argv[i];
  const std::string driver = argv[i + 1];

  conf::peers fixed;
  conf::command_server commands(fixed);
  if (!fixed.start(pattern_length) || !commands.start()) {
    return 1;
  }
  std::vector<std::string> command = {uwsk_run, "--strict",         "--unload-after",
                                      "0",      "--unload-timeout", "30"};
  auto parameters = fixed.parameters();
  parameters.emplace_back("CommandPort", commands.port());
  for (const auto &[name, value] : parameters) {
    command.push_back("--param-dword");
    command.push_back(name + "=" + std::to_string(value));
  }
  for (int j = i + 2; j < argc; ++j) {
    command.push_back(argv[j]);
  }
  command.push_back(driver);
  std::fprintf(stdout, "conf-harness:");
  for (const auto &word : command) {
    std::fprintf(stdout, " %s", word.c_str());
  }
  std::fprintf(stdout, "\n");
  std::fflush(stdout);

  outcome result;
  const int status = run(command, timeout_s, result);
  commands.stop();
  fixed.stop();

  const bool exited_ok = status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::fprintf(stdout, "conf-harness: uwsk-run %s; %u FAIL line(s); %u known bug(s); summary %s\n",
               status < 0          ? "was killed"
               : WIFEXITED(status) ? ("exited " + std::to_string(WEXITSTATUS(status))).c_str()
                                   : "died of a signal",
               result.failures, result.known_bugs, result.summary ? "seen" : "missing");
  const bool passed = exited_ok && result.failures == 0 && result.summary;
  std::fprintf(stdout, "conf-harness: %s\n", passed ? "PASSED" : "FAILED");
  return passed ? 0 : 1;
}

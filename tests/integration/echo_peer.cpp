// echo-peer: a byte-exact peer for the echo examples (echo-server and echo-server-irp).
//
//   echo-peer free PORT
//       Exit status 0 if nothing accepts connections on 127.0.0.1 and ::1 at PORT.
//   echo-peer stream PORT [CONNECTIONS [BYTES]]
//       CONNECTIONS connections at once (default 4), each sends BYTES (default 4 MiB) of a
//       counter pattern, shuts its sending side down (SHUT_WR), reads the echo until the server
//       closes, and compares every byte.
//   echo-peer random PORT [CONNECTIONS [MAX_BYTES [PARALLEL [SEED]]]]
//       CONNECTIONS connections (default 200) of random sizes from 1 to MAX_BYTES (default 70000)
//       bytes, PARALLEL at a time (default 4), the same way. The seed (default: from the clock)
//       is printed, so a failure can be repeated.
//   echo-peer load PORT [IDLE [STREAMS [CHURN [SECONDS]]]]
//       IDLE idle connections (default 300; each sends one byte, then only waits), STREAMS
//       connections that send without end (default 4; half of them in small pieces, with
//       TCP_NODELAY) and CHURN connections that each run short sessions one after another
//       (default 4), until the server closes them all, or SECONDS pass (default 20), or 5 s
//       pass after the server began closing them. Prints "load: running" once every
//       connection is open and every idle and streaming one has had bytes echoed. Every
//       echoed byte is checked; resets and refused connections are expected (the server is
//       unloaded under this load), but every connection must end: those still open at the
//       end are listed and fail the run.
//
// Connections alternate between 127.0.0.1 and ::1. The pattern is a stream of 32-bit words
// that encode the connection and the offset (pattern_byte), so a misplaced chunk shows where it
// came from. Exit status 0 only if every echoed byte matched and every connection ended (for
// stream and random: with its whole echo back, then the server's close); 1 otherwise; 2 for bad
// usage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bench_port.hpp" // loopback_address

namespace {

using clock_type = std::chrono::steady_clock;
constexpr std::size_t io_size = 65536;
constexpr std::uint64_t endless = std::numeric_limits<std::uint64_t>::max();

// The pattern: word k of connection `id` is mix((id << 24) + k), stored little-endian. mix is
// invertible (and its inverse unmix), so a misplaced word tells which offset it was sent at,
// and every byte of a word depends on all of k, so a misplaced chunk differs from its first byte.
std::uint32_t mix(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

std::uint32_t unmix(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x43021123U;
  x ^= x >> 15 ^ x >> 30;
  x *= 0x1d69e2a5U;
  x ^= x >> 16;
  return x;
}

unsigned char pattern_byte(unsigned id, std::uint64_t offset) {
  const std::uint32_t word =
      mix((static_cast<std::uint32_t>(id) << 24) + static_cast<std::uint32_t>(offset >> 2));
  return static_cast<unsigned char>(word >> (8 * (offset & 3)));
}

struct connection {
  int fd = -1;
  unsigned id = 0;
  bool v6 = false;
  const char *kind = "";
  unsigned short local_port = 0;
  std::uint64_t total = 0; // bytes to send, or `endless`
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::size_t max_write = io_size; // bytes per send() at most
  bool connecting = false;         // the non-blocking connect is under way
  bool hold = false;               // keep the sending side open once everything is sent
  bool shut = false;               // nothing more to send
  bool closed = false;             // the server closed (EOF) or reset the connection
  bool reset = false;              // closed by an error rather than EOF
  int connect_error = 0;           // why the connect failed (then closed and reset are set)
};

struct counts {
  unsigned finished = 0;        // whole echo back and the server's close
  unsigned failed = 0;          // a byte differed, or the echo was short or long
  unsigned reset = 0;           // closed by an error
  unsigned eof = 0;             // closed by the server's FIN
  unsigned refused = 0;         // the connect failed
  unsigned churn_connected = 0; // churning connections whose connect completed
  std::uint64_t bytes = 0;      // echoed bytes checked
};

const char *const streaming = "streaming";
const char *const churning = "churning";

const char *where(const connection &c) {
  return c.v6 ? "[::1]" : "127.0.0.1";
}

void note_local_port(connection &c) {
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  getsockname(c.fd, reinterpret_cast<sockaddr *>(&local), &length);
  c.local_port = ntohs(c.v6 ? reinterpret_cast<sockaddr_in6 *>(&local)->sin6_port
                            : reinterpret_cast<sockaddr_in *>(&local)->sin_port);
}

// Starts a non-blocking connect; 0, or -errno if it failed at once.
int open_connection(connection &c, unsigned short port) {
  sockaddr_storage address;
  const socklen_t length = uwsk::bench::loopback_address(c.v6 ? AF_INET6 : AF_INET, port, address);
  const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return -errno;
  }
  if (connect(fd, reinterpret_cast<sockaddr *>(&address), length) != 0 && errno != EINPROGRESS) {
    const int error = errno;
    close(fd);
    return -error;
  }
  c.fd = fd;
  c.connecting = true;
  return 0;
}

short poll_events(const connection &c) {
  if (c.connecting) {
    return POLLOUT;
  }
  return static_cast<short>(POLLIN | (c.shut ? 0 : POLLOUT));
}

// Reports the first byte of `data` (the echo from offset c.received on) that differs from the
// pattern; returns false then. Where four aligned bytes are at hand it also says which offset
// of the sent stream they came from.
bool check_echo(const connection &c, const unsigned char *data, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) {
    const std::uint64_t offset = c.received + k;
    const unsigned char expected = pattern_byte(c.id, offset);
    if (data[k] == expected && offset < c.total) {
      continue;
    }
    if (offset >= c.total) {
      std::printf("echo-peer: connection %u (%s, local port %u): %" PRIu64
                  " bytes echoed, more than the %" PRIu64 " sent\n",
                  c.id, where(c), c.local_port, offset + 1, c.total);
      return false;
    }
    std::printf("echo-peer: connection %u (%s, local port %u): first differing byte at offset "
                "%" PRIu64 " (4 KiB chunk %" PRIu64 "): expected 0x%02x, got 0x%02x",
                c.id, where(c), c.local_port, offset, offset / 4096, expected, data[k]);
    const std::size_t aligned = k - (offset & 3);
    if ((offset & 3) <= k && aligned + 4 <= n) {
      std::uint32_t word = 0;
      for (int b = 3; b >= 0; --b) {
        word = (word << 8) | data[aligned + static_cast<std::size_t>(b)];
      }
      const std::uint32_t base = static_cast<std::uint32_t>(c.id) << 24;
      const std::uint32_t k = unmix(word) - base;
      if (k < (1U << 24)) {
        std::printf("; the word there was sent at offset %" PRIu64, std::uint64_t{k} * 4);
      } else {
        std::printf("; the word there is not from this connection's first 64 MiB");
      }
    }
    std::printf("\n");
    return false;
  }
  return true;
}

// One step of a connection after poll said it is ready: send what it may, read what came back.
// Returns false if the echo was wrong (the connection is then closed and counted as failed).
bool step(connection &c, short revents, std::vector<unsigned char> &buffer, counts &n) {
  if (c.connecting) {
    if ((revents & (POLLOUT | POLLERR | POLLHUP)) == 0) {
      return true;
    }
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    c.connecting = false;
    if (error != 0) {
      c.connect_error = error;
      c.closed = c.reset = true;
      ++n.refused;
      return true;
    }
    note_local_port(c);
    if (c.kind == churning) {
      ++n.churn_connected;
    }
    return true;
  }
  if ((revents & POLLOUT) != 0 && !c.shut) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(c.max_write, c.total - c.sent));
    for (std::size_t k = 0; k < want; ++k) {
      buffer[k] = pattern_byte(c.id, c.sent + k);
    }
    const ssize_t put = want == 0 ? 0 : send(c.fd, buffer.data(), want, MSG_NOSIGNAL);
    if (put > 0) {
      c.sent += static_cast<std::uint64_t>(put);
    } else if (put < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      c.closed = c.reset = true; // the server reset it; the read side tells the rest
    }
    if (c.sent == c.total && !c.closed) {
      if (!c.hold) {
        shutdown(c.fd, SHUT_WR);
      }
      c.shut = true;
    }
  }
  if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0 || c.closed) {
    for (int reads = 0; reads < 16; ++reads) {
      const ssize_t got = recv(c.fd, buffer.data(), io_size, 0);
      if (got > 0) {
        if (!check_echo(c, buffer.data(), static_cast<std::size_t>(got))) {
          return false;
        }
        c.received += static_cast<std::uint64_t>(got);
        n.bytes += static_cast<std::uint64_t>(got);
        continue;
      }
      if (got == 0) {
        c.closed = true;
        break;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        c.closed = c.reset = true;
      }
      break;
    }
  }
  return true;
}

int usage() {
  std::fprintf(stderr, "usage: echo-peer free PORT\n"
                       "       echo-peer stream PORT [CONNECTIONS [BYTES]]\n"
                       "       echo-peer random PORT [CONNECTIONS [MAX_BYTES [PARALLEL [SEED]]]]\n"
                       "       echo-peer load PORT [IDLE [STREAMS [CHURN [SECONDS]]]]\n");
  return 2;
}

// Says where a connection stands, for reports of connections that did not finish.
void describe(const connection &c, const char *what) {
  std::printf("echo-peer: %s connection %u (%s, local port %u): %s; %" PRIu64 " bytes sent", c.kind,
              c.id, where(c), c.local_port, what, c.sent);
  if (c.total != endless) {
    std::printf(" of %" PRIu64, c.total);
  }
  std::printf(", %" PRIu64 " echoed%s%s\n", c.received, c.connecting ? ", still connecting" : "",
              c.shut && !c.hold ? ", our side shut down" : "");
}

// Polls `active` once (up to 100 ms) and steps each connection. Those that are done (closed
// by the server, or a wrong echo) are moved to `ended`, with `wrong` set for a wrong echo.
void poll_once(std::vector<connection> &active, std::vector<connection> &ended,
               std::vector<bool> &wrong, std::vector<unsigned char> &buffer, counts &n) {
  std::vector<pollfd> polls;
  for (const auto &c : active) {
    polls.push_back({c.fd, poll_events(c), 0});
  }
  if (poll(polls.data(), polls.size(), 100) < 0 && errno != EINTR) {
    std::perror("echo-peer: poll");
    std::exit(1);
  }
  std::vector<connection> kept;
  for (std::size_t k = 0; k < active.size(); ++k) {
    connection &c = active[k];
    const bool right = step(c, polls[k].revents, buffer, n);
    if (right && !c.closed) {
      kept.push_back(c);
      continue;
    }
    close(c.fd);
    c.fd = -1;
    ended.push_back(c);
    wrong.push_back(!right);
  }
  active.swap(kept);
}

// stream and random: one connection per entry of `sizes`, `parallel` at a time, each checked
// byte for byte and required to end with the server's close after the whole echo; all within
// `seconds`.
int run_exact(unsigned short port, const std::vector<std::uint64_t> &sizes, std::size_t parallel,
              int seconds) {
  const auto deadline = clock_type::now() + std::chrono::seconds(seconds);
  std::vector<unsigned char> buffer(io_size);
  std::vector<connection> active;
  counts n;
  std::size_t next = 0;
  while ((next < sizes.size() || !active.empty()) && clock_type::now() < deadline) {
    while (active.size() < parallel && next < sizes.size()) {
      connection c;
      c.id = static_cast<unsigned>(next);
      c.v6 = next % 2 == 1;
      c.kind = "echo";
      c.total = sizes[next];
      ++next;
      const int error = open_connection(c, port);
      if (error != 0) {
        std::printf("echo-peer: connection %u (%s): connect: %s\n", c.id, where(c),
                    std::strerror(-error));
        ++n.failed;
        continue;
      }
      active.push_back(c);
    }
    std::vector<connection> ended;
    std::vector<bool> wrong;
    poll_once(active, ended, wrong, buffer, n);
    for (std::size_t k = 0; k < ended.size(); ++k) {
      const connection &c = ended[k];
      if (wrong[k]) {
        ++n.failed;
      } else if (c.connect_error != 0) {
        describe(c, (std::string("connect: ") + std::strerror(c.connect_error)).c_str());
        ++n.failed;
      } else if (c.reset || c.received != c.total) {
        describe(c, c.reset ? "reset by the server" : "closed by the server too early");
        ++n.failed;
      } else {
        ++n.finished;
      }
    }
  }
  for (auto &c : active) {
    describe(c, "timed out");
    close(c.fd);
    ++n.failed;
  }
  if (next < sizes.size()) {
    std::printf("echo-peer: timed out after %d s; %zu connections not started\n", seconds,
                sizes.size() - next);
  }
  std::printf("echo-peer: %u of %zu connections echoed byte for byte (%" PRIu64
              " bytes checked), %u failed\n",
              n.finished, sizes.size(), n.bytes, n.failed);
  return n.failed == 0 && n.finished == sizes.size() ? 0 : 1;
}

// load: idle, streaming and churning connections until the server has closed them all; at
// most `seconds`, and at most 5 s after the server began to close them.
int run_load(unsigned short port, unsigned idle, unsigned streams, unsigned churn, int seconds) {
  const auto deadline = clock_type::now() + std::chrono::seconds(seconds);
  auto end_by = deadline;
  std::vector<unsigned char> buffer(io_size);
  std::mt19937 sizes(12345);
  std::vector<connection> active;
  counts n;
  unsigned next_id = 0;
  unsigned sessions = 0;
  bool stopping = false; // the server has begun to close connections (it is unloading)
  const auto open_one = [&](const char *kind, std::uint64_t total) {
    connection c;
    c.id = next_id++;
    c.v6 = c.id % 2 == 1;
    c.kind = kind;
    c.total = total;
    // An idle connection sends one byte, so that its echo shows the server serves it, then
    // waits for the server to close it.
    c.hold = total == 1;
    const int error = open_connection(c, port);
    if (error != 0) {
      ++n.refused;
      return false;
    }
    active.push_back(c);
    return true;
  };
  for (unsigned k = 0; k < idle; ++k) {
    open_one("idle", 1);
  }
  for (unsigned k = 0; k < streams; ++k) {
    // Half the streams write small pieces without delay: one receive event each, many per
    // second, so the unload meets receive events in progress.
    if (open_one(streaming, endless) && k % 2 == 1) {
      const int on = 1;
      setsockopt(active.back().fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
      active.back().max_write = 1 + k * 97 % 1400;
    }
  }
  for (unsigned k = 0; k < churn; ++k) {
    open_one(churning, 1 + sizes() % 65536);
  }
  if (active.size() != idle + streams + churn) {
    std::printf("echo-peer: load: %u connects failed at once\n", n.refused);
    return 1;
  }
  bool announced = false;
  bool mismatch = false;
  while (!active.empty() && clock_type::now() < end_by) {
    if (!announced && !stopping) {
      // Running once every idle and streaming connection has had an echo and as many churning
      // connects have completed as there are churning slots (they reconnect all the time, so
      // all of them being connected at one instant is not a condition a slow machine meets).
      unsigned ready = 0;
      for (const auto &c : active) {
        ready += c.kind != churning && c.received > 0 ? 1 : 0;
      }
      if (ready == idle + streams && n.churn_connected >= churn) {
        std::printf("load: running: %u idle, %u streaming, %u churning connections\n", idle,
                    streams, churn);
        std::fflush(stdout);
        announced = true;
      }
    }
    std::vector<connection> ended;
    std::vector<bool> wrong;
    poll_once(active, ended, wrong, buffer, n);
    for (std::size_t k = 0; k < ended.size(); ++k) {
      const connection &c = ended[k];
      const bool session_done =
          c.kind == churning && !c.reset && c.received == c.total && !wrong[k];
      mismatch = mismatch || wrong[k];
      if (c.connect_error == 0) {
        ++(c.reset ? n.reset : n.eof);
      }
      if (!session_done && !stopping) {
        stopping = true; // the server closed a connection that was not done: it is unloading
        end_by = std::min(deadline, clock_type::now() + std::chrono::seconds(5));
      }
      if (session_done) {
        ++sessions;
        if (!stopping) {
          open_one(churning, 1 + sizes() % 65536); // the next session
        }
      }
    }
  }
  std::printf("echo-peer: load: %" PRIu64 " bytes echoed and checked, %u churn sessions; "
              "the server reset %u and closed %u connections, refused %u; %zu still open\n",
              n.bytes, sessions, n.reset, n.eof, n.refused, active.size());
  unsigned shown = 0;
  for (auto &c : active) {
    if (shown++ < 20) {
      describe(c, "still open");
    }
    close(c.fd);
  }
  return mismatch || !active.empty() ? 1 : 0;
}

// free: whether nothing accepts connections on the port. Listeners of uwsk share ports with
// other processes of the same user (SO_REUSEPORT), so a server left over, or started by another
// test, would silently take part of a test's connections.
bool port_is_free(unsigned short port) {
  bool free = true;
  for (const bool v6 : {false, true}) {
    connection c;
    c.v6 = v6;
    if (open_connection(c, port) != 0) {
      continue; // refused at once
    }
    pollfd p{c.fd, POLLOUT, 0};
    int error = 0;
    socklen_t length = sizeof(error);
    if (poll(&p, 1, 1000) == 1 && getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 &&
        error == 0) {
      std::printf("echo-peer: something already listens on %s port %u\n", where(c), port);
      free = false;
    }
    close(c.fd);
  }
  return free;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    return usage();
  }
  const std::string mode = argv[1];
  const auto port = static_cast<unsigned short>(std::atoi(argv[2]));
  const auto arg = [&](int index, unsigned long long fallback) {
    return argc > index ? std::strtoull(argv[index], nullptr, 0) : fallback;
  };
  if (mode == "stream") {
    const auto connections = static_cast<std::size_t>(arg(3, 4));
    const std::uint64_t bytes = arg(4, 4 << 20);
    return run_exact(port, std::vector<std::uint64_t>(connections, bytes), connections, 40);
  }
  if (mode == "random") {
    const auto connections = static_cast<std::size_t>(arg(3, 200));
    const std::uint64_t max_bytes = arg(4, 70000);
    const auto parallel = static_cast<std::size_t>(arg(5, 4));
    const std::uint64_t seed =
        arg(6, static_cast<unsigned long long>(clock_type::now().time_since_epoch().count()));
    std::printf("echo-peer: random: %zu connections of 1 to %" PRIu64
                " bytes, %zu at a time, seed %" PRIu64 "\n",
                connections, max_bytes, parallel, seed);
    std::mt19937_64 random(seed);
    std::vector<std::uint64_t> sizes(connections);
    for (auto &size : sizes) {
      size = 1 + random() % max_bytes;
    }
    return run_exact(port, sizes, parallel, 40);
  }
  if (mode == "free") {
    return port_is_free(port) ? 0 : 1;
  }
  if (mode == "load") {
    return run_load(port, static_cast<unsigned>(arg(3, 300)), static_cast<unsigned>(arg(4, 4)),
                    static_cast<unsigned>(arg(5, 4)), static_cast<int>(arg(6, 20)));
  }
  return usage();
}

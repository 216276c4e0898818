// stress-client: drives an echo server with many half-closed TCP connections and checks that
// every byte comes back, in order.
//
// Each connection sends a stream of a size drawn from [--min-size, --max-size], shuts its send
// side down (SHUT_WR), and reads until the server closes; it sends and receives at once, so an
// echo larger than the socket buffers cannot deadlock. The stream is a function of the seed,
// the connection's index and the byte's offset (8 bytes of a SplitMix64 output per 8 offsets),
// so every received byte is compared with the byte sent at the same offset, and a displaced
// chunk can be traced to the offset it was sent at. Each connection also keeps an FNV-1a
// checksum of what it sent and of what it received; the summary combines them in index order.
//
// --parallel connections run at a time (one thread each). The seed is printed first; --seed
// repeats a run. Exit status: 0 when every connection echoed everything, 1 when one did not,
// 2 for bad usage. Every wait is bounded: --idle-timeout per connection, --deadline in all.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

clock_type::duration seconds(double value) {
  return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(value));
}

struct options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::uint64_t connections = 2000;
  unsigned parallel = 4;
  std::uint64_t min_size = 1;
  std::uint64_t max_size = 70 * 1024;
  std::uint64_t seed = 0;
  bool seed_given = false;
  std::uint64_t min_total = 0; // refuse a plan that sends less than this
  double idle_timeout = 20;    // seconds without progress on one connection
  double deadline = 150;       // seconds for the whole run
  unsigned max_piece = 65536;  // largest single write
  bool verbose = false;        // a line per connection
  unsigned details = 20;       // failures described in full
};

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// The stream of one connection: byte `offset` is byte (offset % 8) of splitmix64(key + offset / 8).
struct stream_pattern {
  std::uint64_t key;

  std::uint8_t at(std::uint64_t offset) const {
    return static_cast<std::uint8_t>(splitmix64(key + (offset >> 3)) >> (8 * (offset & 7)));
  }

  void fill(std::uint64_t offset, std::uint8_t *out, std::size_t length) const {
    std::size_t i = 0;
    while (i < length && ((offset + i) & 7) != 0) {
      out[i] = at(offset + i);
      i++;
    }
    for (; i + 8 <= length; i += 8) {
      const std::uint64_t word = splitmix64(key + ((offset + i) >> 3));
      for (int b = 0; b < 8; b++) {
        out[i + b] = static_cast<std::uint8_t>(word >> (8 * b));
      }
    }
    for (; i < length; i++) {
      out[i] = at(offset + i);
    }
  }
};

struct fnv1a {
  std::uint64_t value = 0xCBF29CE484222325ULL;
  void add(const std::uint8_t *data, std::size_t length) {
    std::uint64_t h = value;
    for (std::size_t i = 0; i < length; i++) {
      h = (h ^ data[i]) * 0x100000001B3ULL;
    }
    value = h;
  }
  void add64(std::uint64_t x) {
    std::uint8_t bytes[8];
    for (int b = 0; b < 8; b++) {
      bytes[b] = static_cast<std::uint8_t>(x >> (8 * b));
    }
    add(bytes, sizeof bytes);
  }
};

// What the plan says about connection `index`.
struct plan_entry {
  std::uint64_t key;
  std::uint64_t size;
};

plan_entry plan_for(const options &o, std::uint64_t index) {
  const std::uint64_t key = splitmix64(o.seed ^ splitmix64(index + 1));
  const std::uint64_t span = o.max_size - o.min_size + 1;
  return {key, o.min_size + splitmix64(key ^ 0x5157E55ULL) % span};
}

struct result {
  bool done = false; // the connection ran (a run stopped by the deadline leaves some undone)
  bool ok = false;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::uint64_t sent_checksum = 0;
  std::uint64_t received_checksum = 0;
  std::string failure; // one line, without the connection's name
};

std::string hex_bytes(const std::uint8_t *data, std::size_t length) {
  std::string text;
  char piece[4];
  for (std::size_t i = 0; i < length; i++) {
    std::snprintf(piece, sizeof piece, i == 0 ? "%02x" : " %02x", data[i]);
    text += piece;
  }
  return text;
}

// Where in the sent stream the received bytes `got` (at `offset`) came from, if they match a
// run of at least 8 bytes there; -1 if not found. Searches the whole stream for streams up to
// 16 MiB, else a window of 1 MiB around the offset.
std::int64_t trace_origin(const stream_pattern &pattern, std::uint64_t size, std::uint64_t offset,
                          const std::uint8_t *got, std::size_t length) {
  if (length < 8) {
    return -1;
  }
  constexpr std::uint64_t whole = 16u << 20, window = 1u << 20;
  const std::uint64_t begin = size <= whole ? 0 : (offset > window ? offset - window : 0);
  const std::uint64_t end = size <= whole ? size : std::min(size, offset + window);
  if (end < begin + 8) {
    return -1;
  }
  std::vector<std::uint8_t> sent(end - begin);
  pattern.fill(begin, sent.data(), sent.size());
  for (std::uint64_t at = 0; at + 8 <= sent.size(); at++) {
    if (std::memcmp(sent.data() + at, got, 8) == 0 && begin + at != offset) {
      return static_cast<std::int64_t>(begin + at);
    }
  }
  return -1;
}

class connection_run {
public:
  connection_run(const options &o, std::uint64_t index, clock_type::time_point deadline)
      : o_(o), index_(index), deadline_(deadline) {
    const plan_entry plan = plan_for(o, index);
    pattern_ = {plan.key};
    size_ = plan.size;
    pieces_.seed(splitmix64(plan.key ^ 0x91ECE5ULL));
  }

  result run() {
    result r;
    r.done = true;
    std::string failure = exchange();
    r.sent = sent_;
    r.received = received_;
    r.sent_checksum = sent_sum_.value;
    r.received_checksum = received_sum_.value;
    if (failure.empty() && received_ != size_) {
      failure = "the echo is " + std::string(received_ < size_ ? "short" : "long");
    }
    if (failure.empty() && mismatch_) {
      failure = "the echo differs";
    }
    if (failure.empty() && r.sent_checksum != r.received_checksum) {
      failure = "the checksums differ"; // cannot happen when every byte compared equal
    }
    if (!failure.empty()) {
      char line[512];
      std::snprintf(line, sizeof line, "size %" PRIu64 ": %s; sent %" PRIu64 " got %" PRIu64, size_,
                    failure.c_str(), sent_, received_);
      r.failure = line;
      if (mismatch_) {
        r.failure += "; " + mismatch_text_;
      }
    }
    r.ok = r.failure.empty();
    if (fd_ >= 0) {
      ::close(fd_);
    }
    return r;
  }

  std::uint64_t size() const { return size_; }

private:
  // Connects, then sends and receives until the server's FIN. Returns "" or why it stopped.
  std::string exchange() {
    sockaddr_storage address{};
    socklen_t length = 0;
    auto *v4 = reinterpret_cast<sockaddr_in *>(&address);
    auto *v6 = reinterpret_cast<sockaddr_in6 *>(&address);
    if (inet_pton(AF_INET, o_.host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<std::uint16_t>(o_.port));
      length = sizeof *v4;
    } else if (inet_pton(AF_INET6, o_.host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<std::uint16_t>(o_.port));
      length = sizeof *v6;
    } else {
      return "bad host " + o_.host;
    }
    fd_ = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      return std::string("socket: ") + std::strerror(errno);
    }
    if (::connect(fd_, reinterpret_cast<sockaddr *>(&address), length) < 0 &&
        errno != EINPROGRESS) {
      return std::string("connect: ") + std::strerror(errno);
    }
    std::string why = wait_for(POLLOUT, "connect");
    if (!why.empty()) {
      return why;
    }
    int error = 0;
    socklen_t error_length = sizeof error;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &error_length);
    if (error != 0) {
      return std::string("connect: ") + std::strerror(error);
    }

    std::vector<std::uint8_t> out(o_.max_piece), in(256 * 1024), expected(in.size());
    std::size_t out_length = 0, out_done = 0; // the piece being written
    bool shut = false, eof = false;
    while (!eof) {
      if (sent_ == size_ && out_done == out_length && !shut) {
        if (::shutdown(fd_, SHUT_WR) < 0) {
          return std::string("shutdown: ") + std::strerror(errno);
        }
        shut = true;
      }
      short events = POLLIN;
      if (!shut) {
        events |= POLLOUT;
      }
      why = wait_for(events, shut ? "the echo" : "send or echo");
      if (!why.empty()) {
        return why;
      }
      // Write as much as the socket takes, piece by piece.
      while (!shut) {
        if (out_done == out_length) {
          if (sent_ == size_) {
            break;
          }
          const std::uint64_t left = size_ - sent_;
          out_length =
              static_cast<std::size_t>(std::min<std::uint64_t>(left, 1 + pieces_() % o_.max_piece));
          out_done = 0;
          pattern_.fill(sent_, out.data(), out_length);
          sent_sum_.add(out.data(), out_length);
          sent_ += out_length;
        }
        const ssize_t n = ::send(fd_, out.data() + out_done, out_length - out_done, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
          }
          sent_ -= out_length - out_done; // report what the kernel took
          return std::string("send: ") + std::strerror(errno);
        }
        out_done += static_cast<std::size_t>(n);
        if (out_done < out_length) {
          break;
        }
      }
      // Read what is there and compare it.
      for (;;) {
        const ssize_t n = ::recv(fd_, in.data(), in.size(), 0);
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
          }
          if (!shut) {
            sent_ -= out_length - out_done;
          }
          return std::string("recv: ") + std::strerror(errno);
        }
        if (n == 0) {
          eof = true;
          break;
        }
        check(in.data(), static_cast<std::size_t>(n), expected);
        received_ += static_cast<std::uint64_t>(n);
      }
    }
    if (!shut) {
      sent_ -= out_length - out_done;
      return "the server closed before everything was sent";
    }
    return "";
  }

  void check(const std::uint8_t *data, std::size_t length, std::vector<std::uint8_t> &expected) {
    received_sum_.add(data, length);
    if (mismatch_) {
      return;
    }
    const std::uint64_t comparable =
        received_ >= size_ ? 0 : std::min<std::uint64_t>(length, size_ - received_);
    pattern_.fill(received_, expected.data(), static_cast<std::size_t>(comparable));
    for (std::size_t i = 0; i < comparable; i++) {
      if (data[i] != expected[i]) {
        const std::uint64_t offset = received_ + i;
        const std::size_t shown = std::min<std::size_t>(16, static_cast<std::size_t>(length - i));
        const std::size_t expected_shown =
            std::min<std::size_t>(shown, static_cast<std::size_t>(comparable - i));
        char line[512];
        std::snprintf(line, sizeof line,
                      "first difference at offset %" PRIu64 ": expected %s, got %s", offset,
                      hex_bytes(expected.data() + i, expected_shown).c_str(),
                      hex_bytes(data + i, shown).c_str());
        mismatch_text_ = line;
        const std::int64_t origin = trace_origin(pattern_, size_, offset, data + i, shown);
        if (origin >= 0) {
          std::snprintf(line, sizeof line, " (sent at offset %" PRId64 ", %+" PRId64 ")", origin,
                        origin - static_cast<std::int64_t>(offset));
          mismatch_text_ += line;
        }
        mismatch_ = true;
        return;
      }
    }
  }

  // Waits until `events` or an error; "" or why not (idle timeout, deadline, poll error).
  std::string wait_for(short events, const char *what) {
    const auto idle_end = clock_type::now() + seconds(o_.idle_timeout);
    for (;;) {
      const auto now = clock_type::now();
      const auto end = std::min(idle_end, deadline_);
      if (now >= end) {
        char line[160];
        std::snprintf(line, sizeof line, "%s: %s while waiting for %s",
                      end == deadline_ ? "deadline" : "idle timeout",
                      end == deadline_ ? "the run's deadline passed" : "no progress", what);
        return line;
      }
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(end - now).count();
      pollfd p{fd_, events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(ms + 1, 1000)));
      if (n < 0 && errno != EINTR) {
        return std::string("poll: ") + std::strerror(errno);
      }
      if (n > 0) {
        return ""; // errors (POLLERR, POLLHUP) show in the next send, recv or SO_ERROR
      }
    }
  }

  const options &o_;
  std::uint64_t index_;
  clock_type::time_point deadline_;
  stream_pattern pattern_{};
  std::uint64_t size_ = 0;
  std::mt19937_64 pieces_;
  int fd_ = -1;
  std::uint64_t sent_ = 0, received_ = 0;
  fnv1a sent_sum_, received_sum_;
  bool mismatch_ = false;
  std::string mismatch_text_;
};

bool parse_number(const char *text, std::uint64_t &out) {
  char *end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
    return false;
  }
  out = value;
  return true;
}

bool parse_seconds(const char *text, double &out) {
  char *end = nullptr;
  const double value = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(value > 0)) {
    return false;
  }
  out = value;
  return true;
}

int usage(const char *why) {
  std::fprintf(stderr,
               "stress-client: %s\n"
               "usage: stress-client --port PORT [--host ADDRESS] [--connections N] "
               "[--parallel N]\n"
               "       [--min-size BYTES] [--max-size BYTES] [--seed N] [--min-total BYTES]\n"
               "       [--idle-timeout SECONDS] [--deadline SECONDS] [--max-piece BYTES] "
               "[--details N] [--verbose]\n",
               why);
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  options o;
  for (int i = 1; i < argc; i++) {
    const std::string arg = argv[i];
    if (arg == "--verbose") {
      o.verbose = true;
      continue;
    }
    if (i + 1 >= argc) {
      return usage(("missing value for " + arg).c_str());
    }
    const char *value = argv[++i];
    std::uint64_t number = 0;
    bool good = true;
    if (arg == "--host") {
      o.host = value;
    } else if (arg == "--port") {
      good = parse_number(value, number) && number > 0 && number < 65536;
      o.port = static_cast<int>(number);
    } else if (arg == "--connections") {
      good = parse_number(value, o.connections) && o.connections > 0;
    } else if (arg == "--parallel") {
      good = parse_number(value, number) && number > 0 && number <= 1024;
      o.parallel = static_cast<unsigned>(number);
    } else if (arg == "--min-size") {
      good = parse_number(value, o.min_size);
    } else if (arg == "--max-size") {
      good = parse_number(value, o.max_size);
    } else if (arg == "--seed") {
      good = parse_number(value, o.seed);
      o.seed_given = true;
    } else if (arg == "--min-total") {
      good = parse_number(value, o.min_total);
    } else if (arg == "--idle-timeout") {
      good = parse_seconds(value, o.idle_timeout);
    } else if (arg == "--deadline") {
      good = parse_seconds(value, o.deadline);
    } else if (arg == "--max-piece") {
      good = parse_number(value, number) && number > 0 && number <= (16u << 20);
      o.max_piece = static_cast<unsigned>(number);
    } else if (arg == "--details") {
      good = parse_number(value, number) && number <= 100000;
      o.details = static_cast<unsigned>(number);
    } else {
      return usage(("unknown option " + arg).c_str());
    }
    if (!good) {
      return usage(("bad value for " + arg + ": " + value).c_str());
    }
  }
  if (o.port == 0) {
    return usage("--port is required");
  }
  if (o.min_size > o.max_size) {
    return usage("--min-size is larger than --max-size");
  }
  if (!o.seed_given) {
    o.seed = std::random_device{}() | (static_cast<std::uint64_t>(std::random_device{}()) << 32);
  }
  std::uint64_t planned = 0;
  for (std::uint64_t i = 0; i < o.connections; i++) {
    planned += plan_for(o, i).size;
  }
  std::printf("stress-client: seed %" PRIu64 " (repeat with --seed %" PRIu64 "); %" PRIu64
              " connections to %s port %d, %u at a time, %" PRIu64 "..%" PRIu64
              " bytes each, %" PRIu64 " bytes (%.1f MiB) in all\n",
              o.seed, o.seed, o.connections, o.host.c_str(), o.port, o.parallel, o.min_size,
              o.max_size, planned, static_cast<double>(planned) / (1 << 20));
  std::fflush(stdout);
  if (planned < o.min_total) {
    std::printf("stress-client: FAIL: the plan sends %" PRIu64
                " bytes, less than --min-total %" PRIu64 "\n",
                planned, o.min_total);
    return 1;
  }

  const auto start = clock_type::now();
  const auto deadline = start + seconds(o.deadline);
  std::vector<result> results(o.connections);
  std::atomic<std::uint64_t> next{0};
  std::atomic<unsigned> described{0};
  std::mutex output;
  auto worker = [&] {
    for (;;) {
      const std::uint64_t index = next.fetch_add(1);
      if (index >= o.connections || clock_type::now() >= deadline) {
        return;
      }
      connection_run run(o, index, deadline);
      results[index] = run.run();
      const result &r = results[index];
      if (!r.ok && described.fetch_add(1) < o.details) {
        std::lock_guard lock(output);
        std::printf("stress-client: FAIL connection %" PRIu64 ": %s\n", index, r.failure.c_str());
        std::fflush(stdout);
      } else if (o.verbose) {
        std::lock_guard lock(output);
        std::printf("stress-client: connection %" PRIu64 ": %" PRIu64
                    " bytes, checksum sent %016" PRIx64 " received %016" PRIx64 " %s\n",
                    index, run.size(), r.sent_checksum, r.received_checksum,
                    r.ok ? "ok" : "FAILED");
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < std::min<std::uint64_t>(o.parallel, o.connections); t++) {
    threads.emplace_back(worker);
  }
  for (auto &t : threads) {
    t.join();
  }
  const double elapsed = std::chrono::duration<double>(clock_type::now() - start).count();

  std::uint64_t ok = 0, failed = 0, undone = 0, sent = 0, received = 0;
  fnv1a sent_total, received_total;
  for (std::uint64_t i = 0; i < o.connections; i++) {
    const result &r = results[i];
    if (!r.done) {
      undone++;
      continue;
    }
    (r.ok ? ok : failed)++;
    sent += r.sent;
    received += r.received;
    sent_total.add64(r.sent_checksum);
    received_total.add64(r.received_checksum);
  }
  if (failed > o.details) {
    std::printf("stress-client: (%" PRIu64 " more failures not described)\n", failed - o.details);
  }
  std::printf("stress-client: %" PRIu64 " connections: %" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64
              " not run (deadline); sent %" PRIu64 " bytes, received %" PRIu64
              " bytes in %.2f s (%.1f MiB/s each way); checksum of all sent %016" PRIx64
              ", received %016" PRIx64 "; seed %" PRIu64 "\n",
              o.connections, ok, failed, undone, sent, received, elapsed,
              static_cast<double>(received) / (1 << 20) / elapsed, sent_total.value,
              received_total.value, o.seed);
  const bool pass = failed == 0 && undone == 0 && sent == planned && received == planned &&
                    sent_total.value == received_total.value;
  std::printf("stress-client: %s\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}

// The runtime's log sink: prefixed lines, one writev(2) each, partial lines held per thread.
// The text a batching thread (a loop thread, log_batch_lines) writes with uwsk_log_write
// (DbgPrint and its kin) is gathered instead and written with one write(2) when its loop is
// about to wait (log_flush_batch), when another thread or a runtime message writes (first, so
// the order of lines stays the order they were made in), when it reaches batch_limit, and
// before anything that ends the log or the process (uwsk_log_open/close, exit, a fatal report).
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <string>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

#include <uwsk/log.h>

#include "nt/dbg/log.hpp"
#include "nt/ex/futex_lock.hpp"

namespace uwsk::nt {
namespace {

using Clock = std::chrono::steady_clock;

// The time every prefix is measured from: the first use, which a constructor below makes happen
// while the library loads.
Clock::time_point start_time() {
  static const Clock::time_point start = Clock::now();
  return start;
}

pid_t current_tid() {
  thread_local pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  return tid;
}

thread_local char t_thread_name[32];

// A line a thread has begun but not finished: its prefix is fixed when the first fragment
// arrives, so the time shown is when the line started.
struct Pending {
  std::string prefix;
  std::string text;
};

struct Sink {
  futex_lock mutex;       // one atomic instruction each way when uncontended, as it usually is
  int fd = STDERR_FILENO; // guarded by mutex; STDERR_FILENO or a file this sink owns
  std::unordered_map<pid_t, Pending> pending; // guarded by mutex; keyed by Linux tid
  std::string batch;                // complete lines of batching threads; guarded by mutex
  std::atomic<bool> batched{false}; // batch is not empty: read without the lock (log_flush_batch)
};

// Past this many bytes a batch is written at once, whatever the loop does.
constexpr size_t batch_limit = 32 * 1024;

// Whether this thread's uwsk_log_write lines go into the batch (log_batch_lines).
thread_local bool t_batch_lines = false;

void flush_all_at_exit();

// The sink is never destroyed, so that threads exiting after main() and atexit handlers can
// still log.
Sink &sink() {
  static Sink *instance = [] {
    auto *s = new Sink;
    std::atexit(flush_all_at_exit);
    return s;
  }();
  return *instance;
}

// Writes the decimal digits of `value` backwards, ending at `end`, at least `min_digits` of them
// (zeros in front); returns where they start.
char *decimal_backwards(char *end, unsigned long long value, int min_digits) {
  char *p = end;
  do {
    *--p = static_cast<char>('0' + value % 10);
    value /= 10;
    --min_digits;
  } while (value != 0 || min_digits > 0);
  return p;
}

// Writes the calling thread's label in log lines at `out`: its name, or "T<tid>" (at most 31
// characters, no terminator); returns its length.
size_t write_thread_label(char *out) {
  if (t_thread_name[0] != '\0') {
    const size_t length = std::strlen(t_thread_name); // at most 31
    std::memcpy(out, t_thread_name, length);
    return length;
  }
  char tid[24];
  char *const tid_end = tid + sizeof tid;
  const char *digits =
      decimal_backwards(tid_end, static_cast<unsigned long long>(current_tid()), 1);
  out[0] = 'T';
  std::memcpy(out + 1, digits, static_cast<size_t>(tid_end - digits));
  return 1 + static_cast<size_t>(tid_end - digits);
}

// A line's prefix, "[seconds.microseconds] thread ", as "[%4lld.%06lld] %s " would print it.
// Formatted by hand: every line a driver prints takes one (glibc's snprintf spent about 1,700
// instructions on it).
struct LinePrefix {
  char text[80];
  size_t length = 0;
  std::string_view view() const { return {text, length}; }
};

LinePrefix make_prefix() {
  auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start_time());
  const auto us = static_cast<unsigned long long>(elapsed.count() < 0 ? 0 : elapsed.count());
  char number[32];
  char *const end = number + sizeof number;
  char *const micros = decimal_backwards(end, us % 1000000, 6);
  *(micros - 1) = '.';
  char *first = decimal_backwards(micros - 1, us / 1000000, 1);
  while (end - first < 4 + 1 + 6) { // the seconds right-aligned in 4 columns
    *--first = ' ';
  }
  LinePrefix prefix;
  char *out = prefix.text;
  *out++ = '[';
  std::memcpy(out, first, static_cast<size_t>(end - first));
  out += end - first;
  *out++ = ']';
  *out++ = ' ';
  out += write_thread_label(out);
  *out++ = ' ';
  prefix.length = static_cast<size_t>(out - prefix.text);
  return prefix;
}

void write_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
}

// Caller holds the sink mutex. Writes the batched lines, if any.
void flush_batch_locked(Sink &s) {
  if (s.batch.empty()) {
    return;
  }
  write_all(s.fd, s.batch.data(), s.batch.size());
  s.batch.clear();
  s.batched.store(false, std::memory_order_relaxed);
}

// Caller holds the sink mutex. Adds the line to the batch (`batch`: a batching thread's
// uwsk_log_write text), or writes what is batched and then the line with one writev(2) (one
// append to a log file); what a short write left goes out piece by piece.
void emit_line_locked(Sink &s, std::string_view prefix, std::string_view body, bool batch) {
  if (batch) {
    s.batch.append(prefix).append(body).push_back('\n');
    s.batched.store(true, std::memory_order_relaxed);
    if (s.batch.size() >= batch_limit) {
      flush_batch_locked(s);
    }
    return;
  }
  flush_batch_locked(s);
  iovec pieces[3] = {{const_cast<char *>(prefix.data()), prefix.size()},
                     {const_cast<char *>(body.data()), body.size()},
                     {const_cast<char *>("\n"), 1}};
  ssize_t written;
  do {
    written = ::writev(s.fd, pieces, 3);
  } while (written < 0 && errno == EINTR);
  if (written < 0) {
    return;
  }
  auto done = static_cast<size_t>(written);
  for (const iovec &piece : pieces) {
    if (done >= piece.iov_len) {
      done -= piece.iov_len;
      continue;
    }
    write_all(s.fd, static_cast<const char *>(piece.iov_base) + done, piece.iov_len - done);
    done = 0;
  }
}

// Caller holds the sink mutex.
void flush_pending_locked(Sink &s, pid_t tid) {
  if (s.pending.empty()) {
    return;
  }
  auto it = s.pending.find(tid);
  if (it == s.pending.end()) {
    return;
  }
  emit_line_locked(s, it->second.prefix, it->second.text, false);
  s.pending.erase(it);
}

void flush_all_locked(Sink &s) {
  flush_batch_locked(s);
  for (auto &[tid, p] : s.pending) {
    emit_line_locked(s, p.prefix, p.text, false);
  }
  s.pending.clear();
}

void flush_all_at_exit() {
  Sink &s = sink();
  std::lock_guard lock(s.mutex);
  flush_all_locked(s);
}

// Flushes a thread's held fragment when the thread ends. Constructed (and so registered for
// destruction) the first time the thread holds a fragment.
struct ThreadExitFlush {
  bool armed = false;
  ~ThreadExitFlush() {
    if (armed) {
      uwsk_log_flush_thread();
    }
  }
};
thread_local ThreadExitFlush t_exit_flush;

// Caller holds the sink mutex. Splits text into lines; the last fragment is held. `batch`: the
// complete lines may go into the batch.
void write_text_locked(Sink &s, std::string_view text, bool batch) {
  pid_t tid = current_tid();
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      auto [it, inserted] = s.pending.try_emplace(tid);
      if (inserted) {
        it->second.prefix = make_prefix().view();
        t_exit_flush.armed = true;
      }
      it->second.text.append(text);
      return;
    }
    std::string_view body = text.substr(0, nl);
    // Windows drivers often end lines with "\r\n"; the log uses plain newlines.
    if (!body.empty() && body.back() == '\r') {
      body.remove_suffix(1);
    }
    // Most lines arrive whole: no fragment is held anywhere, and no lookup is needed.
    auto it = s.pending.empty() ? s.pending.end() : s.pending.find(tid);
    if (it != s.pending.end()) {
      it->second.text.append(body);
      emit_line_locked(s, it->second.prefix, it->second.text, batch);
      s.pending.erase(it);
    } else {
      emit_line_locked(s, make_prefix().view(), body, batch);
    }
    text.remove_prefix(nl + 1);
  }
}

[[gnu::constructor]] void start_clock_at_load() {
  (void)start_time();
}

} // namespace

std::string log_thread_label() {
  char label[32];
  return std::string(label, write_thread_label(label));
}

void log_write_fatal(std::string_view text) {
  Sink &s = sink();
  // Bounded wait, polling try_lock: the lock is only ever held for a few writes.
  bool locked = false;
  for (int attempt = 0; attempt < 200 && !locked; ++attempt) {
    locked = s.mutex.try_lock();
    if (!locked) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (locked) {
    flush_batch_locked(s);
    flush_pending_locked(s, current_tid());
  }
  const LinePrefix prefix = make_prefix();
  std::string out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view body = text.substr(0, nl);
    out.append(prefix.view()).append(body).push_back('\n');
    if (nl == std::string_view::npos) {
      break;
    }
    text.remove_prefix(nl + 1);
  }
  write_all(s.fd, out.data(), out.size());
  if (s.fd != STDERR_FILENO) {
    write_all(STDERR_FILENO, out.data(), out.size());
  }
  if (locked) {
    s.mutex.unlock();
  }
}

void log_batch_lines(bool on) {
  t_batch_lines = on;
}

void log_flush_batch() {
  Sink &s = sink();
  if (!s.batched.load(std::memory_order_relaxed)) {
    return; // nothing batched, or another thread is writing it
  }
  std::lock_guard lock(s.mutex);
  flush_batch_locked(s);
}

} // namespace uwsk::nt

using namespace uwsk::nt;

// uwsk_log_open: directs the log to a file (append) or back to stderr.
extern "C" int uwsk_log_open(const char *path) {
  int fd = STDERR_FILENO;
  if (path != nullptr && std::strcmp(path, "-") != 0) {
    fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return -errno;
    }
  }
  Sink &s = sink();
  std::lock_guard lock(s.mutex);
  flush_all_locked(s);
  if (s.fd != STDERR_FILENO) {
    ::close(s.fd);
  }
  s.fd = fd;
  return 0;
}

// uwsk_log_close: flushes held fragments and returns the log to stderr.
extern "C" void uwsk_log_close(void) {
  Sink &s = sink();
  std::lock_guard lock(s.mutex);
  flush_all_locked(s);
  if (s.fd != STDERR_FILENO) {
    ::close(s.fd);
    s.fd = STDERR_FILENO;
  }
}

// uwsk_log_vmessage: one runtime message, "component: text", always a complete line.
extern "C" void uwsk_log_vmessage(const char *component, const char *fmt, va_list ap) {
  std::string text;
  if (component != nullptr && component[0] != '\0') {
    text.append(component).append(": ");
  }
  if (fmt == nullptr) {
    fmt = "";
  }
  va_list copy;
  va_copy(copy, ap);
  int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n > 0) {
    size_t base = text.size();
    text.resize(base + static_cast<size_t>(n) + 1);
    std::vsnprintf(text.data() + base, static_cast<size_t>(n) + 1, fmt, ap);
    text.resize(base + static_cast<size_t>(n));
  }
  if (text.empty() || text.back() != '\n') {
    text.push_back('\n');
  }
  Sink &s = sink();
  std::lock_guard lock(s.mutex);
  flush_pending_locked(s, current_tid());
  write_text_locked(s, text, false); // runtime messages (verifier reports) are never held
}

// uwsk_log_message: printf-style form of uwsk_log_vmessage.
extern "C" void uwsk_log_message(const char *component, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  uwsk_log_vmessage(component, fmt, ap);
  va_end(ap);
}

// uwsk_log_write: raw text; complete lines are written, a trailing fragment is held.
extern "C" void uwsk_log_write(const char *text, size_t len) {
  if (text == nullptr || len == 0) {
    return;
  }
  Sink &s = sink();
  std::lock_guard lock(s.mutex);
  write_text_locked(s, std::string_view(text, len), t_batch_lines);
}

// uwsk_log_set_thread_name: names the calling thread in line prefixes.
extern "C" void uwsk_log_set_thread_name(const char *name) {
  if (name == nullptr) {
    t_thread_name[0] = '\0';
    return;
  }
  std::strncpy(t_thread_name, name, sizeof t_thread_name - 1);
  t_thread_name[sizeof t_thread_name - 1] = '\0';
}

// uwsk_log_flush_thread: writes the calling thread's held fragment as its own line.
extern "C" void uwsk_log_flush_thread(void) {
  Sink &s = sink();
  std::lock_guard lock(s.mutex);
  flush_pending_locked(s, current_tid());
}

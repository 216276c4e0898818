// The call trace: records, lanes and the writer. The rules are in trace.hpp.
#include "nt/dbg/trace.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <uwsk/log.h>
#include <uwsk/status.h>
#include <uwsk/trace.h>

#include "nt/dbg/log.hpp"
#include "nt/ke/irql.hpp"

namespace uwsk::nt::trace {

std::atomic<bool> g_on{false};

namespace {

// Lanes are synthetic thread ids above any Linux tid (at most 2^22), so they never meet a real
// thread's track.
constexpr std::uint64_t first_lane = 0x40000000;
// Written out when the buffer holds this much.
constexpr std::size_t flush_at = 64 * 1024;

struct owner_entry {
  std::uint64_t serial = 0;
  owner_kind kind = owner_kind::socket;
  std::string local;
  std::string remote;
  std::vector<std::uint64_t> lanes; // lane ids, in the order they were made
  std::vector<bool> busy;           // one per lane
};

// An operation holding a lane: from its call until its IRP completed (or the call returned).
struct open_operation {
  const char *function = nullptr;
  const void *owner = nullptr;
  const void *irp = nullptr;
  std::uint64_t number = 0; // the operation's number, in both of its events
  double start_us = 0;
};

struct state {
  std::mutex lock; // guards every field
  int fd = -1;
  bool json = false;
  bool first_event = true;
  std::string buffer;
  std::chrono::steady_clock::time_point origin;
  long pid = 0;
  std::uint64_t next_serial = 1;
  std::uint64_t next_lane = first_lane;
  std::uint64_t next_operation = 1;
  std::unordered_map<const void *, owner_entry> owners;
  std::unordered_map<const void *, std::uint64_t> irp_lanes; // IRP -> the lane it holds
  std::unordered_map<std::uint64_t, open_operation> open;    // lane -> its operation
  std::unordered_map<std::uint64_t, const void *> lane_owner;
  std::unordered_set<long> named_threads; // threads whose name the JSON carries already
};

// Never destroyed: loop threads may still record while the process exits (they are dropped
// once stopped, rule 2), and the exit handler runs after other static destructors.
state &st() {
  static state *s = new state;
  return *s;
}

std::atomic<bool> environment_decided{false};

long thread_id() {
  static thread_local long tid = static_cast<long>(gettid());
  return tid;
}

double now_us(const state &s) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s.origin)
      .count();
}

void write_all(int fd, const char *data, std::size_t length) {
  while (length > 0) {
    const ssize_t n = ::write(fd, data, length);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    data += n;
    length -= static_cast<std::size_t>(n);
  }
}

void flush_locked(state &s) {
  if (s.fd >= 0 && !s.buffer.empty()) {
    write_all(s.fd, s.buffer.data(), s.buffer.size());
  }
  s.buffer.clear();
}

void appendf(std::string &out, const char *format, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string &out, const char *format, ...) {
  char text[256];
  va_list args;
  va_start(args, format);
  const int n = std::vsnprintf(text, sizeof(text), format, args);
  va_end(args);
  if (n > 0) {
    out.append(text, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof(text) - 1));
  }
}

void append_json_string(std::string &out, const char *text) {
  out.push_back('"');
  for (const char *p = text; *p != '\0'; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7F) {
      appendf(out, "\\u%04x", c); // bytes outside ASCII as code points: still valid JSON
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

std::string status_text(std::uint32_t value) {
  const char *name = uwsk_status_name(static_cast<std::int32_t>(value));
  if (name != nullptr) {
    return name;
  }
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08" PRIX32, value);
  return text;
}

void append_value(std::string &out, const field &f, bool json) {
  switch (f.type) {
  case field::kind::number:
    appendf(out, "%" PRIu64, f.value);
    return;
  case field::kind::hex:
    if (json) {
      appendf(out, "\"0x%" PRIx64 "\"", f.value);
    } else {
      appendf(out, "0x%" PRIx64, f.value);
    }
    return;
  case field::kind::text:
    if (json) {
      append_json_string(out, f.text);
    } else {
      out.append(f.text);
    }
    return;
  case field::kind::status:
    if (json) {
      append_json_string(out, status_text(static_cast<std::uint32_t>(f.value)).c_str());
    } else {
      out.append(status_text(static_cast<std::uint32_t>(f.value)));
    }
    return;
  }
}

std::string owner_label(const void *owner, const owner_entry &e) {
  char head[64];
  if (e.kind == owner_kind::client) {
    std::snprintf(head, sizeof(head), "client %p", owner);
    return head;
  }
  std::snprintf(head, sizeof(head), "socket #%" PRIu64 " %p", e.serial, owner);
  std::string label = head;
  if (!e.local.empty()) {
    label += " " + e.local;
  }
  if (!e.remote.empty()) {
    label += " <-> " + e.remote;
  }
  return label;
}

// ---- JSON ---------------------------------------------------------------------------------

void json_begin_event(state &s, const char *name, const char *phase, double ts, std::uint64_t tid) {
  s.buffer.append(s.first_event ? "\n" : ",\n");
  s.first_event = false;
  s.buffer.append("{\"name\":");
  append_json_string(s.buffer, name);
  appendf(s.buffer, ",\"ph\":\"%s\",\"ts\":%.3f,\"pid\":%ld,\"tid\":%" PRIu64, phase, ts, s.pid,
          tid);
}

void json_args(state &s, fields args, std::initializer_list<field> more = {}) {
  s.buffer.append(",\"args\":{");
  bool first = true;
  for (const auto *list : {&args, &more}) {
    for (const field &f : *list) {
      s.buffer.append(first ? "" : ",");
      first = false;
      append_json_string(s.buffer, f.name);
      s.buffer.push_back(':');
      append_value(s.buffer, f, true);
    }
  }
  s.buffer.push_back('}');
}

// A span that ended at `ts`, as Chrome's complete event ("X", with its duration) on this thread.
void json_complete_event(state &s, const char *name, const span &sp, double ts, fields args,
                         std::initializer_list<field> more) {
  json_begin_event(s, name, "X", sp.start_us, static_cast<std::uint64_t>(thread_id()));
  appendf(s.buffer, ",\"dur\":%.3f", ts - sp.start_us);
  json_args(s, args, more);
  s.buffer.push_back('}');
}

void json_metadata(state &s, const char *name, std::uint64_t tid, const char *key,
                   const std::string &value) {
  json_begin_event(s, name, "M", 0, tid);
  s.buffer.append(",\"args\":{");
  append_json_string(s.buffer, key);
  s.buffer.push_back(':');
  append_json_string(s.buffer, value.c_str());
  s.buffer.append("}}");
}

void json_sort_index(state &s, std::uint64_t tid, std::uint64_t index) {
  json_begin_event(s, "thread_sort_index", "M", 0, tid);
  appendf(s.buffer, ",\"args\":{\"sort_index\":%" PRIu64 "}}", index);
}

// The calling thread's track gets its name the first time it records.
void name_thread_locked(state &s) {
  const long tid = thread_id();
  if (!s.json || !s.named_threads.insert(tid).second) {
    return;
  }
  char name[64];
  std::snprintf(name, sizeof(name), "thread %s (tid %ld)", log_thread_label().c_str(), tid);
  json_metadata(s, "thread_name", static_cast<std::uint64_t>(tid), "name", name);
  json_sort_index(s, static_cast<std::uint64_t>(tid), 1000000 + static_cast<std::uint64_t>(tid));
}

// Starts `sp` under the lock: its start time, and this thread named in the trace. False, leaving
// `sp` empty, when no trace is being written.
bool span_begin_locked(state &s, span &sp) {
  if (s.fd < 0) {
    return false;
  }
  sp.start_us = now_us(s);
  name_thread_locked(s);
  return true;
}

void name_lanes_locked(state &s, const void *owner, const owner_entry &e) {
  if (!s.json) {
    return;
  }
  const std::string label = owner_label(owner, e);
  for (std::size_t i = 0; i < e.lanes.size(); ++i) {
    std::string name = label;
    if (i > 0) {
      name += " [" + std::to_string(i + 1) + "]";
    }
    json_metadata(s, "thread_name", e.lanes[i], "name", name);
  }
}

// ---- Text ---------------------------------------------------------------------------------

void text_line(state &s, double ts, const char *verb, const char *function, const char *owner,
               fields args, std::initializer_list<field> more = {}) {
  const KIRQL irql = current_irql();
  char thread[48];
  std::snprintf(thread, sizeof(thread), "%s/%ld", log_thread_label().c_str(), thread_id());
  appendf(s.buffer, "%12.3f %-18s %-14s %-8s %s", ts, thread, irql_name(irql), verb, function);
  if (owner != nullptr) {
    s.buffer.append(" [").append(owner).append("]");
  }
  for (const auto *list : {&args, &more}) {
    for (const field &f : *list) {
      s.buffer.push_back(' ');
      s.buffer.append(f.name).push_back('=');
      append_value(s.buffer, f, false);
    }
  }
  s.buffer.push_back('\n');
}

// ---- Owners and lanes -----------------------------------------------------------------------

owner_entry &owner_locked(state &s, owner_kind kind, const void *owner) {
  auto [it, added] = s.owners.try_emplace(owner);
  if (added) {
    it->second.serial = s.next_serial++;
    it->second.kind = kind;
  }
  return it->second;
}

std::uint64_t take_lane_locked(state &s, const void *owner, owner_entry &e) {
  for (std::size_t i = 0; i < e.lanes.size(); ++i) {
    if (!e.busy[i]) {
      e.busy[i] = true;
      return e.lanes[i];
    }
  }
  const std::uint64_t lane = s.next_lane++;
  e.lanes.push_back(lane);
  e.busy.push_back(true);
  s.lane_owner[lane] = owner;
  if (s.json) {
    std::string name = owner_label(owner, e);
    if (e.lanes.size() > 1) {
      name += " [" + std::to_string(e.lanes.size()) + "]";
    }
    json_metadata(s, "thread_name", lane, "name", name);
    json_sort_index(s, lane, e.serial * 1000 + e.lanes.size());
  }
  return lane;
}

void release_lane_locked(state &s, std::uint64_t lane) {
  const auto owner = s.lane_owner.find(lane);
  if (owner == s.lane_owner.end()) {
    return;
  }
  const auto e = s.owners.find(owner->second);
  if (e == s.owners.end()) {
    return;
  }
  for (std::size_t i = 0; i < e->second.lanes.size(); ++i) {
    if (e->second.lanes[i] == lane) {
      e->second.busy[i] = false;
    }
  }
}

std::uint64_t open_locked(state &s, const char *function, owner_kind kind, const void *owner,
                          PIRP irp, double ts, fields args) {
  owner_entry &e = owner_locked(s, kind, owner);
  const std::uint64_t lane = take_lane_locked(s, owner, e);
  const std::uint64_t op_number = s.next_operation++;
  s.open[lane] = open_operation{function, owner, irp, op_number, ts};
  if (irp != nullptr) {
    s.irp_lanes[irp] = lane;
  }
  if (s.json) {
    json_begin_event(s, function, "B", ts, lane);
    // The lane is not a thread: the thread and its IRQL are arguments.
    json_args(s, args,
              {pointer("irp", irp), number("op", op_number),
               number("thread", static_cast<std::uint64_t>(thread_id())),
               text("irql", irql_name(current_irql()))});
    s.buffer.push_back('}');
  }
  return lane;
}

// Ends the operation on `lane` (the lane is free again).
void close_locked(state &s, std::uint64_t lane, double ts, fields result) {
  const auto op = s.open.find(lane);
  if (op == s.open.end()) {
    return;
  }
  if (s.json) {
    json_begin_event(s, op->second.function, "E", ts, lane);
    json_args(s, result, {number("op", op->second.number)});
    s.buffer.push_back('}');
  }
  if (op->second.irp != nullptr) {
    s.irp_lanes.erase(op->second.irp);
  }
  s.open.erase(op);
  release_lane_locked(s, lane);
}

void maybe_flush_locked(state &s) {
  if (s.buffer.size() >= flush_at) {
    flush_locked(s);
  }
}

// Ends every open operation and closes the file (rule 2, rule 3's last sentence).
void finish_locked(state &s, const char *why) {
  g_on.store(false, std::memory_order_relaxed);
  if (s.fd < 0) {
    return;
  }
  const double ts = now_us(s);
  std::vector<std::uint64_t> lanes;
  for (const auto &[lane, op] : s.open) {
    lanes.push_back(lane);
  }
  for (const std::uint64_t lane : lanes) {
    const open_operation op = s.open[lane];
    if (!s.json) {
      char irp[32];
      std::snprintf(irp, sizeof(irp), "%p", op.irp);
      text_line(s, ts, "open", op.function, nullptr, {text("irp", irp), text("at", why)});
    }
    close_locked(s, lane, ts, {text("status", "not completed"), text("at", why)});
  }
  if (s.json) {
    s.buffer.append("\n],\"displayTimeUnit\":\"ms\"}\n");
  }
  flush_locked(s);
  ::close(s.fd);
  s.fd = -1;
  s.owners.clear();
  s.irp_lanes.clear();
  s.open.clear();
  s.lane_owner.clear();
  s.named_threads.clear();
}

void stop_at_exit() {
  stop();
}

// The end of a call or callback (`sp`, begun on `owner`) as its record: Chrome's complete event
// with `args` and `more` in JSON, else a `verb` text line on the bare pointer with `line`; then
// its lane, when it has one, is closed with `result`.
void end_span(const span &sp, const char *verb, const char *name, const void *owner, fields args,
              fields more, fields line, fields result) {
  state &s = st();
  std::lock_guard guard(s.lock);
  if (s.fd < 0) {
    return;
  }
  const double ts = now_us(s);
  if (s.json) {
    json_complete_event(s, name, sp, ts, args, more);
  } else {
    char on[32];
    std::snprintf(on, sizeof(on), "%p", owner);
    text_line(s, ts, verb, name, on, line);
  }
  if (sp.lane != 0) {
    close_locked(s, sp.lane, ts, result);
  }
  maybe_flush_locked(s);
}

} // namespace

// ---- Records ----------------------------------------------------------------------------------

span call_begin(const char *function, owner_kind kind, const void *owner, PIRP irp, fields args) {
  state &s = st();
  std::lock_guard guard(s.lock);
  span result;
  if (!span_begin_locked(s, result)) {
    return result;
  }
  if (!s.json) {
    owner_entry &e = owner_locked(s, kind, owner);
    text_line(s, result.start_us, "call", function, owner_label(owner, e).c_str(), args,
              {pointer("irp", irp)});
  }
  const std::uint64_t lane = open_locked(s, function, kind, owner, irp, result.start_us, args);
  result.lane = irp == nullptr ? lane : 0;
  maybe_flush_locked(s);
  return result;
}

void call_end(const span &sp, const char *function, const void *owner, PIRP irp,
              NTSTATUS returned) {
  end_span(sp, "return", function, owner,
           {pointer("on", owner), pointer("irp", irp), status("returned", returned)},
           {text("irql", irql_name(current_irql()))},
           {pointer("irp", irp), status("status", returned)}, {status("status", returned)});
}

span irp_completing(PIRP irp) {
  state &s = st();
  std::lock_guard guard(s.lock);
  span result;
  if (!span_begin_locked(s, result)) {
    return result;
  }
  const NTSTATUS final_status = irp->IoStatus.Status;
  const ULONG_PTR information = irp->IoStatus.Information;
  const char *function = "IoCompleteRequest";
  const void *owner = nullptr;
  const auto lane = s.irp_lanes.find(irp);
  double pending_us = 0;
  if (lane != s.irp_lanes.end()) {
    const open_operation &op = s.open[lane->second];
    function = op.function;
    owner = op.owner;
    pending_us = result.start_us - op.start_us;
  }
  result.name = function;
  if (!s.json) {
    std::string label = "-";
    const auto e = s.owners.find(owner);
    if (e != s.owners.end()) {
      label = owner_label(owner, e->second);
    }
    char waited[32];
    std::snprintf(waited, sizeof(waited), "%.3fus", pending_us);
    text_line(s, result.start_us, "complete", function, label.c_str(),
              {pointer("irp", irp), status("status", final_status), hex("information", information),
               text("after", waited)});
  }
  if (lane != s.irp_lanes.end()) {
    close_locked(s, lane->second, result.start_us,
                 {status("status", final_status), hex("information", information),
                  number("thread", static_cast<std::uint64_t>(thread_id())),
                  text("irql", irql_name(current_irql()))});
    if (owner != nullptr && std::strcmp(function, "WskCloseSocket") == 0 &&
        NT_SUCCESS(final_status)) {
      s.owners.erase(owner); // the pointer may name another socket from now on
    }
  }
  maybe_flush_locked(s);
  return result;
}

void irp_completed(const span &sp, PIRP irp) {
  state &s = st();
  std::lock_guard guard(s.lock);
  if (s.fd < 0 || !s.json) {
    return;
  }
  const double ts = now_us(s);
  std::string name = "complete ";
  name += sp.name != nullptr ? sp.name : "IRP";
  json_complete_event(s, name.c_str(), sp, ts, {pointer("irp", irp)},
                      {text("irql", irql_name(current_irql()))});
  maybe_flush_locked(s);
}

span callback_begin(const char *callback, const void *socket, fields args) {
  state &s = st();
  std::lock_guard guard(s.lock);
  span result;
  if (!span_begin_locked(s, result)) {
    return result;
  }
  result.name = callback;
  if (!s.json) {
    owner_entry &e = owner_locked(s, owner_kind::socket, socket);
    text_line(s, result.start_us, "event", callback, owner_label(socket, e).c_str(), args);
  }
  result.lane =
      open_locked(s, callback, owner_kind::socket, socket, nullptr, result.start_us, args);
  maybe_flush_locked(s);
  return result;
}

void callback_end(const span &sp, const char *callback, const void *socket, fields result) {
  end_span(sp, "returned", callback, socket, result,
           {pointer("socket", socket), text("irql", irql_name(current_irql()))}, result, result);
}

void socket_endpoints(const void *socket, const char *local, const char *remote) {
  state &s = st();
  std::lock_guard guard(s.lock);
  if (s.fd < 0) {
    return;
  }
  owner_entry &e = owner_locked(s, owner_kind::socket, socket);
  const std::string new_local = local != nullptr ? local : "";
  const std::string new_remote = remote != nullptr ? remote : "";
  if (new_local == e.local && new_remote == e.remote) {
    return;
  }
  e.local = new_local;
  e.remote = new_remote;
  name_lanes_locked(s, socket, e);
}

bool wants_endpoints(const void *socket) {
  state &s = st();
  std::lock_guard guard(s.lock);
  if (s.fd < 0) {
    return false;
  }
  const auto e = s.owners.find(socket);
  return e == s.owners.end() || e->second.local.empty() || e->second.remote.empty();
}

int start(const char *path, std::string &error) {
  state &s = st();
  std::lock_guard guard(s.lock);
  environment_decided.store(true);
  finish_locked(s, "a new trace started");
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int saved = errno;
    error = std::string("cannot open ") + path + ": " + std::strerror(saved);
    return -saved;
  }
  const std::size_t length = std::strlen(path);
  s.fd = fd;
  s.json = length >= 5 && std::strcmp(path + length - 5, ".json") == 0;
  s.first_event = true;
  s.origin = std::chrono::steady_clock::now();
  s.pid = static_cast<long>(getpid());
  s.buffer.clear();
  if (s.json) {
    s.buffer.append("{\"traceEvents\":[");
    json_metadata(s, "process_name", 0, "name",
                  std::string("uwsk: ") + program_invocation_short_name);
  } else {
    appendf(s.buffer,
            "# uwsk trace of %s (pid %ld): time in microseconds, thread/tid, IRQL, record, "
            "function, [socket or client], arguments\n",
            program_invocation_short_name, s.pid);
  }
  static bool exit_handler = false;
  if (!exit_handler) {
    exit_handler = true;
    std::atexit(stop_at_exit);
  }
  g_on.store(true, std::memory_order_relaxed);
  return 0;
}

void start_from_environment() {
  if (environment_decided.exchange(true)) {
    return;
  }
  const char *path = std::getenv("UWSK_TRACE");
  if (path == nullptr || path[0] == '\0') {
    return;
  }
  std::string error;
  if (start(path, error) != 0) {
    uwsk_log_message("trace", "UWSK_TRACE=%s: %s; not tracing", path, error.c_str());
  }
}

void stop() {
  state &s = st();
  std::lock_guard guard(s.lock);
  finish_locked(s, "the end of the trace");
}

void stop_fatal(const char *why) {
  if (!on()) {
    return;
  }
  state &s = st();
  // A thread holding the lock only formats into memory and lets go; a lock not freed in this
  // time means the record cannot be finished, and the file keeps what was flushed.
  // (Tried in a bounded loop rather than with a timed lock, which the thread sanitizer cannot
  // follow.)
  bool locked = false;
  for (int attempt = 0; attempt < 200 && !locked; ++attempt) {
    locked = s.lock.try_lock();
    if (!locked) {
      usleep(1000);
    }
  }
  if (!locked) {
    return;
  }
  std::lock_guard guard(s.lock, std::adopt_lock);
  if (s.fd >= 0) {
    const double ts = now_us(s);
    if (s.json) {
      json_begin_event(s, "bug check", "i", ts, static_cast<std::uint64_t>(thread_id()));
      s.buffer.append(",\"s\":\"g\"");
      json_args(s, {text("why", why)});
      s.buffer.push_back('}');
    } else {
      text_line(s, ts, "bugcheck", why, nullptr, {});
    }
  }
  finish_locked(s, "the bug check");
}

} // namespace uwsk::nt::trace

using namespace uwsk::nt;

// uwsk_trace_open: starts the call trace (include/uwsk/trace.h).
extern "C" int uwsk_trace_open(const char *path, char *error, size_t error_size) {
  std::string why;
  const int result = path != nullptr ? trace::start(path, why) : -EINVAL;
  if (path == nullptr) {
    why = "no file named";
  }
  if (result != 0 && error != nullptr && error_size > 0) {
    std::snprintf(error, error_size, "%s", why.c_str());
  }
  return result;
}

// uwsk_trace_close: ends the call trace and closes its file (include/uwsk/trace.h).
extern "C" void uwsk_trace_close(void) {
  trace::stop();
}

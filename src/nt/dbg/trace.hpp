// The call trace (uwsk-run --trace FILE, UWSK_TRACE=FILE): every WSK call, every IRP
// completion and every event callback, written as text lines or, for a FILE ending in ".json",
// as Chrome trace events (README.md, "Tracing").
//
// Rules:
//  1. Off, each trace point costs one relaxed load and a branch predicted not taken (on()).
//  2. Records are formatted under one lock into a buffer that is written out when it fills, at
//     stop() (uwsk_trace_close, process exit) and in the bug check's fatal path (stop_fatal),
//     which closes the JSON array so that the file stays valid JSON.
//  3. Each socket (and each WSK client, for client-level calls) has its own tracks ("lanes",
//     synthetic thread ids in the JSON): an operation holds a lane from its call until its IRP
//     completes (or, without an IRP, until the call returns), so the operations on one lane never
//     overlap and every begin ("B") has its end ("E") on the same lane. Operations still open
//     when the trace stops are ended there, marked as not completed.
//  4. The calling thread gets a complete event ("X") for each call, completion and callback,
//     so the thread tracks show who ran what and for how long.
//  5. The trace never reads a socket: the WSK layer passes pointers and, when it knows them,
//     the endpoints as text.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>

#include <wdm.h>

namespace uwsk::nt::trace {

extern std::atomic<bool> g_on;

// Rule 1.
inline bool on() {
  return __builtin_expect(g_on.load(std::memory_order_relaxed), 0) != 0;
}

// One argument of a record.
struct field {
  enum class kind : unsigned char { number, hex, text, status };
  const char *name;
  kind type;
  std::uint64_t value;
  const char *text;
};
inline field number(const char *name, std::uint64_t value) {
  return {name, field::kind::number, value, nullptr};
}
inline field hex(const char *name, std::uint64_t value) {
  return {name, field::kind::hex, value, nullptr};
}
inline field pointer(const char *name, const void *value) {
  return {name, field::kind::hex, reinterpret_cast<std::uintptr_t>(value), nullptr};
}
inline field text(const char *name, const char *value) {
  return {name, field::kind::text, 0, value != nullptr ? value : "(null)"};
}
inline field status(const char *name, NTSTATUS value) {
  return {name, field::kind::status, static_cast<std::uint32_t>(value), nullptr};
}
using fields = std::initializer_list<field>;

// What a call or callback is made on: a socket, or a client for the client-level functions.
enum class owner_kind : unsigned char { socket, client };

// What begin returns and end takes back.
struct span {
  const char *name = nullptr;
  double start_us = 0;
  std::uint64_t lane = 0; // the lane held until the call returns (0: none, or the IRP's)
};

// A WSK call enters the provider. With an IRP, the operation holds a lane until the IRP
// completes; without one, until call_end.
span call_begin(const char *function, owner_kind kind, const void *owner, PIRP irp, fields args);
// It returns `returned`.
void call_end(const span &s, const char *function, const void *owner, PIRP irp, NTSTATUS returned);

// IoCompleteRequest, before the completion routines run and after they ran (rule 4).
span irp_completing(PIRP irp);
void irp_completed(const span &s, PIRP irp);

// An event callback into the client on `socket`, and its result.
span callback_begin(const char *callback, const void *socket, fields args);
void callback_end(const span &s, const char *callback, const void *socket, fields result);

// What the WSK layer learnt about a socket's endpoints (NULL: unknown); shown in its lanes'
// names and in text records.
void socket_endpoints(const void *socket, const char *local, const char *remote);
// Whether the trace would like the endpoints of `socket` (it has not seen both yet).
bool wants_endpoints(const void *socket);

// Starts tracing to `path` (".json": Chrome trace events). Returns 0, or -errno with `error`
// saying why. A second start stops the first trace.
int start(const char *path, std::string &error);
// Starts tracing to $UWSK_TRACE, the first time only, unless start() ran already.
void start_from_environment();
// Rule 2.
void stop();
void stop_fatal(const char *why);

} // namespace uwsk::nt::trace

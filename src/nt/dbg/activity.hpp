// What driver code the calling thread is running on the runtime's behalf (DriverEntry, an event
// callback, a completion routine) and the last WSK function it called: the context a crash
// report names. Two thread-local stores per scope, nothing else.
#pragma once

namespace uwsk::nt::activity {

struct frame {
  const char *what;   // "completion routine", "WskReceiveEvent callback", "DriverEntry"
  const void *object; // the IRP, socket or driver object, or NULL
  const frame *outer; // the scope this one runs inside
};

// The `what` of DriverEntry's scope (rule V5 looks for it).
inline constexpr const char driver_entry[] = "DriverEntry";

// The `what` of a completion routine's scope (rule V20 looks for it; IoCompleteRequest opens it
// with the IRP as its object).
inline constexpr const char completion_routine[] = "an IRP completion routine";

namespace detail {
// The calling thread's innermost scope and last WSK call (activity.cpp defines them): initial-
// exec and constant-initialised, so the inline functions below are one TLS access each (a scope
// opens around every completion routine, a call is noted at every WSK call).
extern constinit thread_local const frame *innermost [[gnu::tls_model("initial-exec")]];
extern constinit thread_local const char *last_wsk_call [[gnu::tls_model("initial-exec")]];
} // namespace detail

// Whether the calling thread runs DriverEntry (in any scope).
bool in_driver_entry();

// The innermost scope of the calling thread, or NULL.
inline const frame *current() {
  return detail::innermost;
}

// The innermost scope when it is a WSK event callback (its `what` ends in " callback",
// "WskReceiveEvent callback"; its object is the socket), else NULL: rules V50 and V51.
const frame *event_callback();

// Writes a description of a scope's object ("socket 0x... (local A, remote B)") for reports; the
// WSK provider installs the describer of its sockets. Without one, the pointer.
using describer = void (*)(const void *object, char *out, unsigned long size);
void set_object_describer(describer d);
void describe_object(const void *object, char *out, unsigned long size);

// The last WSK function the calling thread entered ("WskSend"), or NULL.
inline const char *last_call() {
  return detail::last_wsk_call;
}
inline void note_call(const char *function) {
  detail::last_wsk_call = function;
}

// Marks the calling thread as running `what` for its lifetime.
class scope {
public:
  scope(const char *what, const void *object) : frame_{what, object, detail::innermost} {
    detail::innermost = &frame_;
  }
  ~scope() { detail::innermost = frame_.outer; }
  scope(const scope &) = delete;
  scope &operator=(const scope &) = delete;

private:
  frame frame_;
};

} // namespace uwsk::nt::activity

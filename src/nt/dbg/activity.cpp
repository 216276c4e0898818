// The calling thread's activity (activity.hpp): thread-local, initial-exec TLS (two stores per
// scope).
#include "nt/dbg/activity.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>

namespace uwsk::nt {
namespace activity {
namespace {
thread_local const frame *innermost [[gnu::tls_model("initial-exec")]] = nullptr;
thread_local const char *last_wsk_call [[gnu::tls_model("initial-exec")]] = nullptr;
std::atomic<describer> object_describer{nullptr};
} // namespace

const frame *current() {
  return innermost;
}
const frame *event_callback() {
  static constexpr char suffix[] = " callback";
  const frame *f = innermost;
  if (f == nullptr || f->what == nullptr) {
    return nullptr;
  }
  const std::size_t length = std::strlen(f->what);
  return length >= sizeof suffix - 1 &&
                 std::strcmp(f->what + length - (sizeof suffix - 1), suffix) == 0
             ? f
             : nullptr;
}
void set_object_describer(describer d) {
  object_describer.store(d, std::memory_order_release);
}
void describe_object(const void *object, char *out, unsigned long size) {
  if (describer d = object_describer.load(std::memory_order_acquire); d != nullptr) {
    d(object, out, size);
  } else {
    std::snprintf(out, size, "%p", object);
  }
}
const char *last_call() {
  return last_wsk_call;
}
void note_call(const char *function) {
  last_wsk_call = function;
}
bool in_driver_entry() {
  for (const frame *f = innermost; f != nullptr; f = f->outer) {
    if (f->what == driver_entry) {
      return true;
    }
  }
  return false;
}
scope::scope(const char *what, const void *object) : frame_{what, object, innermost} {
  innermost = &frame_;
}
scope::~scope() {
  innermost = frame_.outer;
}
} // namespace activity
} // namespace uwsk::nt

// The calling thread's activity (activity.hpp): thread-local, initial-exec TLS (two stores per
// scope).
#include "nt/dbg/activity.hpp"

#include <atomic>
#include <cstdio>
#include <cstring>

namespace uwsk::nt {
namespace activity {
constinit thread_local const frame *detail::innermost [[gnu::tls_model("initial-exec")]] = nullptr;
constinit thread_local const char *detail::last_wsk_call [[gnu::tls_model("initial-exec")]] =
    nullptr;

namespace {
std::atomic<describer> object_describer{nullptr};
} // namespace

const frame *event_callback() {
  static constexpr char suffix[] = " callback";
  const frame *f = current();
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
bool in_driver_entry() {
  for (const frame *f = current(); f != nullptr; f = f->outer) {
    if (f->what == driver_entry) {
      return true;
    }
  }
  return false;
}
} // namespace activity
} // namespace uwsk::nt

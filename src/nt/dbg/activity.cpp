// The calling thread's activity (activity.hpp): thread-local, initial-exec TLS (two stores per
// scope).
#include "nt/dbg/activity.hpp"

namespace uwsk::nt {
namespace activity {
namespace {
thread_local const frame *innermost [[gnu::tls_model("initial-exec")]] = nullptr;
thread_local const char *last_wsk_call [[gnu::tls_model("initial-exec")]] = nullptr;
} // namespace

const frame *current() {
  return innermost;
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

// The calling thread's stack bounds, from pthread_getattr_np, kept per thread.
#include "nt/dbg/thread_stack.hpp"

#include <cstdint>
#include <pthread.h>

namespace uwsk::nt {
namespace {

struct stack_bounds {
  std::uintptr_t low = 0;
  std::uintptr_t high = 0;
  bool known = false;
};
thread_local stack_bounds bounds [[gnu::tls_model("initial-exec")]];

} // namespace

bool on_thread_stack(const void *p) {
  if (!bounds.known) {
    bounds.known = true;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void *base = nullptr;
      size_t size = 0;
      if (pthread_attr_getstack(&attr, &base, &size) == 0) {
        bounds.low = reinterpret_cast<std::uintptr_t>(base);
        bounds.high = bounds.low + size;
      }
      pthread_attr_destroy(&attr);
    }
  }
  const auto address = reinterpret_cast<std::uintptr_t>(p);
  return address >= bounds.low && address < bounds.high;
}

} // namespace uwsk::nt

// Running code on an event loop's thread from a test and waiting for it. (Header only.)
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <utility>

#include "net/loop.hpp"

namespace uwsk::test {

// Waits for a future with a generous bound. A task that never ran is still owned by the loop,
// so returning from the test would leave it dangling: abort instead.
template <typename T> void wait_or_abort(std::future<T> &f) {
  if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ADD_FAILURE() << "timed out waiting for the loop";
    std::abort();
  }
}

// A task that runs a function and then fulfils its promise.
struct call_task : uwsk::net::task {
  std::function<void()> fn;
  std::promise<void> done;
};

// Runs fn on the loop's thread and waits for it (bounded by wait_or_abort).
inline void run_on(uwsk::net::loop &l, std::function<void()> fn) {
  call_task t;
  t.fn = std::move(fn);
  t.run = [](uwsk::net::task *p) {
    auto *self = static_cast<call_task *>(p);
    self->fn();
    self->done.set_value();
  };
  auto f = t.done.get_future();
  ASSERT_TRUE(l.post(&t));
  wait_or_abort(f);
}

} // namespace uwsk::test

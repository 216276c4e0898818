// Time in tests: kernel-style relative timeouts, pauses, elapsed time, and bounded polling.
// (Header only, and free of Linux socket headers: provider tests, which include <wsk.h>, use it.)
#pragma once

#include <chrono>
#include <thread>

#include <wdm.h>

namespace uwsk::test {

// A relative time of `ms` milliseconds as the kernel takes it (KeWaitForSingleObject,
// KeDelayExecutionThread, KeSetTimer): negative, in 100 ns units.
inline LARGE_INTEGER relative_ms(LONGLONG ms) {
  LARGE_INTEGER t;
  t.QuadPart = -ms * 10000;
  return t;
}

// Pauses the calling thread (at PASSIVE_LEVEL or APC_LEVEL) with KeDelayExecutionThread.
inline void sleep_ms(LONGLONG ms) {
  LARGE_INTEGER delay = relative_ms(ms);
  KeDelayExecutionThread(KernelMode, FALSE, &delay);
}

// Whole milliseconds since `start`.
inline long long elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// Polls `done` every `period` until it holds or `limit` has passed, then asks once more; returns
// whether it held. Bounded: it never waits much beyond `limit`. It sleeps with the standard
// library, so it may run where KeDelayExecutionThread may not (a callback at DISPATCH_LEVEL).
template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(5),
                std::chrono::milliseconds period = std::chrono::milliseconds(1)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(period);
  }
  return done();
}

} // namespace uwsk::test

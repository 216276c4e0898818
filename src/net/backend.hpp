// The engine interface: what a loop needs from the kernel, implemented once with epoll
// (loop_epoll.cpp) and once with io_uring (loop_uring.cpp). The loop (loop.cpp) keeps
// everything the two share: the task queue and its sleep/wake-up protocol, timers, the thread,
// and the contract checks of add/modify/remove; a backend only registers watchers, waits and
// dispatches.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "net/loop.hpp"

namespace uwsk::net {

class io_backend {
public:
  virtual ~io_backend() = default;

  // On the loop thread, once, before its first wait: io_uring binds its ring to this thread.
  virtual void attach_thread() {}

  // Loop thread. The loop has checked the calling contract and keeps watcher::events_ and
  // watcher::loop_ itself (events_ is set after add and modify succeed). Each returns 0 or
  // -errno. remove() returns only once the kernel holds no reference to w->fd for this watcher,
  // and guarantees no callback for w afterwards (loop.hpp rule 2).
  virtual int add(watcher *w, std::uint32_t events) = 0;
  virtual int modify(watcher *w, std::uint32_t events) = 0;
  virtual int remove(watcher *w) = 0;

  // Loop thread. Submits what add/modify queued, waits until some watcher is ready, wake() is
  // called or `timeout` has passed (negative: no limit; zero: do not block), and takes a batch
  // of events from the kernel.
  virtual void wait(std::chrono::nanoseconds timeout) = 0;
  // Loop thread, after wait(): calls on_events at most once per watcher of the batch, with the
  // reported bits masked to its events_ plus ev_err and ev_hup, skipping watchers that an
  // earlier callback of the same batch removed (and re-added).
  virtual void dispatch() = 0;

  // Loop thread. I/O requests (loop.hpp rule 6): an engine that takes them says so, queues
  // them for its next wait, and calls their callbacks from dispatch(), exactly once each
  // (cancel may only hasten that). The loop has checked the request's fields.
  virtual bool supports_io_requests() const { return false; }
  virtual int submit(io_request *) { return -EOPNOTSUPP; }
  // The requests as one chain, linked in this order, handed to the kernel together.
  virtual int submit_linked(io_request *const *, std::size_t) { return -EOPNOTSUPP; }
  virtual void cancel(io_request *) {}
  // Loop thread, once the loop has stopped: whether requests are still in the kernel, and a
  // non-blocking turn that takes and dispatches their completions only (no watcher callbacks),
  // so that every request still ends with its callback (loop.hpp rules 5 and 6).
  virtual bool requests_in_flight() const { return false; }
  // Loop thread. The provided receive buffers (receive_buffers.hpp), made when `make` is set
  // and they do not exist yet (with `headroom`); nullptr when the engine has none.
  virtual receive_buffers *provided_buffers(std::size_t /*headroom*/, bool /*make*/) {
    return nullptr;
  }
  virtual void drain_requests() {}

  // Any thread: makes a wait() in progress, or the next one, return soon.
  virtual void wake() = 0;
};

// Both throw std::system_error when the system refuses the kernel objects.
std::unique_ptr<io_backend> make_epoll_backend();
std::unique_ptr<io_backend> make_uring_backend();

// What the io_uring probe found. The probe creates a real ring with the flags the engine uses,
// checks the kernel's features and opcodes, and runs a multishot poll, a cancellation and a
// timed wait on it, so "available" means the engine will work here, not only that the system
// call exists.
struct uring_support {
  bool available = false;
  int error = 0;            // unavailable: the errno that best describes why (ENOSYS, EPERM, ...)
  std::string reason;       // unavailable: one sentence, for the log and for uwsk_set_engine
  unsigned setup_flags = 0; // available: the io_uring_setup flags the rings use
  bool io_requests = false; // available: the rings take I/O requests (Linux 5.19 or later)
  // available: multishot receives into a provided buffer ring work (Linux 6.0 or later)
  bool recv_multishot = false;
};

// The probe's result: probed on first use, then kept for the process. Thread-safe.
//
// For tests only: when the environment variable UWSK_TEST_URING_UNAVAILABLE is set to a
// non-empty text at the time of the probe, the probe fails with that text as its reason, so
// the fallback to epoll can be tested (and seen in uwsk-run) on a machine where io_uring works.
// Likewise UWSK_TEST_URING_NO_DEFER (non-empty) makes it pass over the flag sets with
// IORING_SETUP_DEFER_TASKRUN, so rings run with cooperative task running, as on kernels before
// Linux 6.1, and that mode stays tested on newer ones.
uring_support probe_uring();
// Forgets the probe's result, so that the next probe_uring() probes again.
void forget_uring_probe();

// For tests only: forgets the probe's result, the process-wide choice (uwsk_set_engine) and
// which one-time messages were logged, so that a test can select again after changing the
// environment. No engine may be under construction meanwhile.
void reset_engine_selection_for_testing();

} // namespace uwsk::net

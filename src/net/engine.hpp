// The I/O engine: a fixed set of event loops (loop.hpp) that sockets are spread over.
//
// Lifetime rules, in addition to those of loop.hpp:
//  1. An engine starts all its loops in its constructor and stops them in stop() or its
//     destructor. Loops are never added or removed, so a loop reference taken from pick() stays
//     valid for the engine's lifetime.
//  2. stop() runs the tasks still queued on each loop (each post() that returned true runs
//     exactly once), then joins the threads; afterwards post() returns false and watchers and
//     timers get no more callbacks. Callers should make the engine idle before stopping it.
//  3. The process-wide instance() is never destroyed, so loop threads can never run into
//     destroyed statics at exit; the host stops it explicitly on shutdown.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "net/loop.hpp"

namespace uwsk::net {

struct engine_options {
  // Number of loops. 0 means: the environment variable UWSK_LOOPS if it holds a number from 1
  // to 1024, otherwise std::thread::hardware_concurrency(), and at least 1.
  std::size_t loops = 0;
  // Run on each loop thread before its first iteration and after its last task.
  loop_hooks hooks;
};

class engine {
public:
  // Creates and starts the loops; throws std::system_error if the system refuses resources.
  explicit engine(engine_options options = {});
  ~engine();
  engine(const engine &) = delete;
  engine &operator=(const engine &) = delete;

  // The process-wide engine, created on first use with the options given to
  // configure_instance() (or the defaults). Thread-safe.
  static engine &instance();
  // Sets the options instance() will use; false (and no change) if it exists already.
  static bool configure_instance(engine_options options);

  // The loop for a new socket: round robin over the loops. Any thread.
  loop &pick();
  // The loop at index i (0 <= i < size()).
  loop &at(std::size_t i) { return *loops_[i]; }
  // This engine's loop whose thread is calling, or nullptr.
  loop *loop_for_current_thread() const;
  std::size_t size() const { return loops_.size(); }

  // Stops and joins every loop (rule 2). Idempotent. Not from one of this engine's loop
  // threads, since a loop cannot join itself: that is reported and aborts.
  void stop();

  // The loop count engine_options{.loops = 0} resolves to.
  static std::size_t default_loop_count();

private:
  std::vector<std::unique_ptr<loop>> loops_;
  std::atomic<std::size_t> next_{0};
};

} // namespace uwsk::net

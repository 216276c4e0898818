// The I/O engine: a fixed set of event loops (loop.hpp) that sockets are spread over, all
// waiting through one kernel interface, epoll or io_uring (engine_kind), chosen at run time.
//
// How the kind is chosen (resolve_engine): an explicit engine_options::backend; otherwise the
// process-wide choice made with uwsk_set_engine (include/uwsk/engine.h; uwsk-run --engine);
// otherwise the environment variable UWSK_ENGINE (epoll, uring or auto); otherwise auto. auto
// means the engine measured faster here (engine_select.cpp: auto_engine; epoll until io_uring
// is measured faster on every benchmark row) when the probe (backend.hpp: probe_uring) finds
// io_uring working, and epoll otherwise, with one line in the log saying why. An explicit uring
// where io_uring does not work is an error, not a silent fallback.
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
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/loop.hpp"

namespace uwsk::net {

// Which engine to use; resolve_engine turns it into an engine_kind.
enum class engine_choice : std::uint8_t {
  from_environment, // the process-wide choice (uwsk_set_engine), else UWSK_ENGINE, else automatic
  automatic,        // auto_engine when io_uring works here, else epoll (logged once)
  epoll,
  uring, // an error where io_uring does not work
};

// "epoll", "uring" and "auto" (exactly these spellings); anything else is nullopt.
std::optional<engine_choice> parse_engine_choice(std::string_view text);

// The engine `choice` stands for. automatic probes io_uring (once per process) and, when it is
// unavailable, logs once: "net: io_uring is unavailable (REASON); using the epoll engine".
// When the choice is uring and io_uring is unavailable, logs that once and throws
// std::system_error with the probe's errno and reason. Thread-safe.
engine_kind resolve_engine(engine_choice choice);

// The choice from_environment stands for now: the process-wide one if set, else UWSK_ENGINE
// (a value other than epoll, uring or auto is logged once and read as auto), else automatic.
engine_choice environment_engine_choice();

// Sets the process-wide choice (what uwsk_set_engine does). uring and auto probe at once, so
// that a missing io_uring is reported at start-up. Returns 0; or -EBUSY, without a change, when
// the process-wide instance() exists; or, for uring when io_uring is unavailable, the negative
// errno of the probe, with its reason in *why (when why is not null) and no change.
int set_process_engine_choice(engine_choice choice, std::string *why = nullptr);

struct engine_options {
  // Number of loops. 0 means: the environment variable UWSK_LOOPS if it holds a number from 1
  // to 1024, otherwise std::thread::hardware_concurrency(), and at least 1.
  std::size_t loops = 0;
  // The engine of every loop (see the top of this file).
  engine_choice backend = engine_choice::from_environment;
  // Run on each loop thread before its first iteration and after its last task.
  loop_hooks hooks;
};

class engine {
public:
  // Creates and starts the loops; throws std::system_error if the system refuses resources or
  // io_uring was asked for explicitly and is unavailable (resolve_engine).
  explicit engine(engine_options options = {});
  ~engine();
  engine(const engine &) = delete;
  engine &operator=(const engine &) = delete;

  // The process-wide engine, created on first use with the options given to
  // configure_instance() (or the defaults). Thread-safe.
  static engine &instance();
  // Sets the options instance() will use; false (and no change) if it exists already.
  static bool configure_instance(engine_options options);
  // The process-wide engine if it exists, else nullptr. Thread-safe.
  static engine *existing_instance();

  // The loop for a new socket: round robin over the loops. Any thread.
  loop &pick();
  // The loop at index i (0 <= i < size()).
  loop &at(std::size_t i) { return *loops_[i]; }
  // This engine's loop whose thread is calling, or nullptr.
  loop *loop_for_current_thread() const;
  std::size_t size() const { return loops_.size(); }
  // The engine every loop of this one waits through.
  engine_kind kind() const { return kind_; }

  // Stops and joins every loop (rule 2). Idempotent. Not from one of this engine's loop
  // threads, since a loop cannot join itself: that is reported and aborts.
  void stop();

  // The loop count engine_options{.loops = 0} resolves to.
  static std::size_t default_loop_count();

private:
  engine_kind kind_;
  std::vector<std::unique_ptr<loop>> loops_;
  std::atomic<std::size_t> next_{0};
};

} // namespace uwsk::net

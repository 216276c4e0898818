// The engine: loop count, round-robin placement, thread hooks, stop, the process-wide instance,
// and choosing between the epoll and io_uring engines (the probe, the fallback, the C API).
#include "net/engine.hpp"

#include <gtest/gtest.h>
#include <liburing.h>
#include <uwsk/engine.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>

#include "net/backend.hpp"
#include "support/run_on.hpp"

namespace {

using namespace std::chrono_literals;
using uwsk::net::engine;
using uwsk::net::engine_choice;
using uwsk::net::engine_kind;
using uwsk::net::engine_options;
using uwsk::net::loop;
using uwsk::net::task;
using uwsk::test::run_on;

// Sets (or with nullptr unsets) an environment variable for one test, restores it afterwards,
// and forgets what the engine selection remembered (the probe, one-time messages) both times.
// Tests change the environment only while no loop thread of theirs runs.
class scoped_env {
public:
  scoped_env(const char *name, const char *value) : name_(name) {
    if (const char *old = std::getenv(name)) {
      old_ = old;
    }
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
    uwsk::net::reset_engine_selection_for_testing();
  }
  ~scoped_env() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
    uwsk::net::reset_engine_selection_for_testing();
  }
  scoped_env(const scoped_env &) = delete;
  scoped_env &operator=(const scoped_env &) = delete;

private:
  const char *name_;
  std::optional<std::string> old_;
};

bool uring_works() {
  return uwsk::net::probe_uring().available;
}

// Counts the lines of `text` that contain `needle`.
int lines_with(const std::string &text, const std::string &needle) {
  int count = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    if (text.substr(start, end - start).find(needle) != std::string::npos) {
      ++count;
    }
    start = end + 1;
  }
  return count;
}

TEST(net_engine, TwoLoopsRoundRobinHooksAndStop) {
  std::mutex lock;
  std::set<std::thread::id> start_threads;
  std::atomic<int> stopped{0};
  engine_options options;
  options.loops = 2;
  options.hooks.on_thread_start = [&](loop &l) {
    EXPECT_TRUE(l.in_loop_thread());
    std::lock_guard<std::mutex> guard(lock);
    start_threads.insert(std::this_thread::get_id());
  };
  options.hooks.on_thread_stop = [&](loop &) { ++stopped; };

  engine e(options);
  ASSERT_EQ(e.size(), 2u);
  loop *first = &e.pick();
  loop *second = &e.pick();
  loop *third = &e.pick();
  EXPECT_NE(first, second);
  EXPECT_EQ(first, third);
  EXPECT_EQ(&e.pick(), second);
  EXPECT_EQ(e.loop_for_current_thread(), nullptr);

  for (std::size_t i = 0; i < e.size(); ++i) {
    loop *seen = nullptr;
    run_on(e.at(i), [&] { seen = e.loop_for_current_thread(); });
    EXPECT_EQ(seen, &e.at(i));
    EXPECT_EQ(e.at(i).index(), i);
  }
  {
    std::lock_guard<std::mutex> guard(lock);
    EXPECT_EQ(start_threads.size(), 2u);
    EXPECT_EQ(start_threads.count(std::this_thread::get_id()), 0u);
  }

  e.stop();
  EXPECT_EQ(stopped.load(), 2);
  task late;
  late.run = [](task *) { ADD_FAILURE() << "a task ran after stop"; };
  EXPECT_FALSE(e.pick().post(&late));
  e.stop(); // idempotent
  EXPECT_EQ(stopped.load(), 2);
}

TEST(net_engine, LoopOfAnotherEngineIsNotOurs) {
  engine_options options;
  options.loops = 1;
  engine a(options);
  engine b(options);
  loop *seen = &a.at(0);
  run_on(b.at(0), [&] { seen = a.loop_for_current_thread(); });
  EXPECT_EQ(seen, nullptr);
}

TEST(net_engine, LoopCountFromEnvironment) {
  // No engine thread runs yet in this test, so changing the environment is safe here.
  ASSERT_EQ(::setenv("UWSK_LOOPS", "3", 1), 0);
  EXPECT_EQ(engine::default_loop_count(), 3u);
  {
    engine e;
    EXPECT_EQ(e.size(), 3u);
    e.stop();
  }
  std::size_t cores =
      std::thread::hardware_concurrency() == 0 ? 1 : std::thread::hardware_concurrency();
  ASSERT_EQ(::setenv("UWSK_LOOPS", "0", 1), 0);
  EXPECT_EQ(engine::default_loop_count(), cores);
  ASSERT_EQ(::setenv("UWSK_LOOPS", "2x", 1), 0);
  EXPECT_EQ(engine::default_loop_count(), cores);
  ASSERT_EQ(::unsetenv("UWSK_LOOPS"), 0);
  EXPECT_EQ(engine::default_loop_count(), cores);
  EXPECT_GE(engine::default_loop_count(), 1u);
}

std::atomic<int> g_instance_starts{0};

TEST(net_engine, InstanceUsesConfiguredOptions) {
  engine_options options;
  options.loops = 1;
  options.hooks.on_thread_start = [](loop &) { ++g_instance_starts; };
  if (!engine::configure_instance(options)) {
    GTEST_SKIP() << "the instance already exists in this process";
  }
  engine &e = engine::instance();
  EXPECT_EQ(&e, &engine::instance());
  EXPECT_EQ(e.size(), 1u);
  EXPECT_FALSE(engine::configure_instance(engine_options{}));
  run_on(e.pick(), [] {});
  EXPECT_EQ(g_instance_starts.load(), 1);
  e.stop(); // the instance itself lives on, stopped
}

// --- choosing the engine --------------------------------------------------------------------

TEST(net_engine_choice, ParsesExactlyTheThreeNames) {
  EXPECT_EQ(uwsk::net::parse_engine_choice("epoll"), engine_choice::epoll);
  EXPECT_EQ(uwsk::net::parse_engine_choice("uring"), engine_choice::uring);
  EXPECT_EQ(uwsk::net::parse_engine_choice("auto"), engine_choice::automatic);
  EXPECT_EQ(uwsk::net::parse_engine_choice("io_uring"), std::nullopt);
  EXPECT_EQ(uwsk::net::parse_engine_choice("EPOLL"), std::nullopt);
  EXPECT_EQ(uwsk::net::parse_engine_choice(""), std::nullopt);
  EXPECT_STREQ(uwsk::net::engine_kind_name(engine_kind::epoll), "epoll");
  EXPECT_STREQ(uwsk::net::engine_kind_name(engine_kind::uring), "uring");
}

TEST(net_engine_choice, ProbeReportsWhatItFound) {
  scoped_env no_override("UWSK_TEST_URING_UNAVAILABLE", nullptr);
  const uwsk::net::uring_support support = uwsk::net::probe_uring();
  if (!support.available) {
    // Not an error: this machine has no usable io_uring. The probe must say why.
    EXPECT_NE(support.error, 0);
    EXPECT_FALSE(support.reason.empty());
    GTEST_SKIP() << "io_uring is unavailable here: " << support.reason;
  }
  EXPECT_TRUE(support.reason.empty());
  // Where the probe says yes, a loop on the engine works.
  loop l(0, {}, engine_kind::uring);
  EXPECT_EQ(l.kind(), engine_kind::uring);
  l.start();
  run_on(l, [] {});
  l.stop();
}

// Rings use deferred task running where the kernel has it (Linux 6.1), and the cooperative mode
// of older kernels when a test asks for it (UWSK_TEST_URING_NO_DEFER); a loop works either way.
TEST(net_engine_choice, ProbeChoosesTheRingsTaskRunningMode) {
  scoped_env no_override("UWSK_TEST_URING_UNAVAILABLE", nullptr);
  for (const char *no_defer : {static_cast<const char *>(nullptr), "1"}) {
    SCOPED_TRACE(no_defer == nullptr ? "deferred task running allowed" : "not allowed");
    scoped_env mode("UWSK_TEST_URING_NO_DEFER", no_defer);
    uwsk::net::forget_uring_probe();
    const uwsk::net::uring_support support = uwsk::net::probe_uring();
    if (!support.available) {
      uwsk::net::forget_uring_probe();
      GTEST_SKIP() << "io_uring is unavailable here: " << support.reason;
    }
    const bool deferred = (support.setup_flags & IORING_SETUP_DEFER_TASKRUN) != 0;
    if (no_defer != nullptr) {
      EXPECT_FALSE(deferred);
      EXPECT_NE(support.setup_flags & IORING_SETUP_COOP_TASKRUN, 0u);
    } else if (deferred) {
      // remove() relies on the kernel saying when work waits (IORING_SQ_TASKRUN).
      EXPECT_NE(support.setup_flags & IORING_SETUP_TASKRUN_FLAG, 0u);
    }
    loop l(0, {}, engine_kind::uring);
    l.start();
    run_on(l, [] {});
    l.stop();
  }
  uwsk::net::forget_uring_probe(); // the next test probes with the environment it has
}

TEST(net_engine_choice, EnvironmentSelectsTheEngine) {
  scoped_env no_override("UWSK_TEST_URING_UNAVAILABLE", nullptr);
  {
    scoped_env env("UWSK_ENGINE", "epoll");
    EXPECT_EQ(uwsk::net::environment_engine_choice(), engine_choice::epoll);
    engine_options options;
    options.loops = 1;
    engine e(options);
    EXPECT_EQ(e.kind(), engine_kind::epoll);
    EXPECT_EQ(e.at(0).kind(), engine_kind::epoll);
    loop l;
    EXPECT_EQ(l.kind(), engine_kind::epoll);
  }
  {
    scoped_env env("UWSK_ENGINE", "uring");
    EXPECT_EQ(uwsk::net::environment_engine_choice(), engine_choice::uring);
    if (uring_works()) {
      engine_options options;
      options.loops = 1;
      engine e(options);
      EXPECT_EQ(e.kind(), engine_kind::uring);
      EXPECT_EQ(e.at(0).kind(), engine_kind::uring);
    }
  }
  {
    scoped_env env("UWSK_ENGINE", nullptr);
    EXPECT_EQ(uwsk::net::environment_engine_choice(), engine_choice::automatic);
    // auto: epoll, the engine measured faster (engine_select.cpp), whether io_uring works or not.
    EXPECT_EQ(uwsk::net::resolve_engine(engine_choice::from_environment), engine_kind::epoll);
  }
  {
    scoped_env env("UWSK_ENGINE", "auto");
    EXPECT_EQ(uwsk::net::environment_engine_choice(), engine_choice::automatic);
  }
}

TEST(net_engine_choice, UnknownEnvironmentValueIsLoggedOnceAndReadAsAuto) {
  scoped_env env("UWSK_ENGINE", "io_uring");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(uwsk::net::environment_engine_choice(), engine_choice::automatic);
  EXPECT_EQ(uwsk::net::environment_engine_choice(), engine_choice::automatic);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(lines_with(log, "UWSK_ENGINE=io_uring is not epoll, uring or auto; using auto"), 1)
      << log;
}

TEST(net_engine_choice, ExplicitOptionOverridesTheEnvironment) {
  scoped_env env("UWSK_ENGINE", "uring");
  engine_options options;
  options.loops = 1;
  options.backend = engine_choice::epoll;
  engine e(options);
  EXPECT_EQ(e.kind(), engine_kind::epoll);
}

// The probe failing is simulated with the test-only variable UWSK_TEST_URING_UNAVAILABLE.
TEST(net_engine_choice, AutoFallsBackToEpollWithOneLineSayingWhy) {
  scoped_env env("UWSK_ENGINE", "auto");
  scoped_env fail("UWSK_TEST_URING_UNAVAILABLE", "simulated by the test");
  const uwsk::net::uring_support support = uwsk::net::probe_uring();
  EXPECT_FALSE(support.available);
  EXPECT_EQ(support.error, ENOSYS);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(uwsk::net::resolve_engine(engine_choice::automatic), engine_kind::epoll);
  {
    engine_options options;
    options.loops = 2;
    engine e(options); // from the environment: auto
    EXPECT_EQ(e.kind(), engine_kind::epoll);
    run_on(e.at(1), [] {});
  }
  loop l;
  EXPECT_EQ(l.kind(), engine_kind::epoll);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(lines_with(log, "net: io_uring is unavailable (simulated by the test "
                            "(UWSK_TEST_URING_UNAVAILABLE is set)); using the epoll engine"),
            1)
      << log;
  EXPECT_EQ(lines_with(log, "io_uring"), 1) << log;
}

TEST(net_engine_choice, ExplicitUringWhereItIsUnavailableIsAnError) {
  scoped_env env("UWSK_ENGINE", "uring");
  scoped_env fail("UWSK_TEST_URING_UNAVAILABLE", "simulated by the test");
  ::testing::internal::CaptureStderr();
  try {
    uwsk::net::resolve_engine(engine_choice::from_environment);
    ADD_FAILURE() << "resolve_engine returned";
  } catch (const std::system_error &error) {
    EXPECT_EQ(error.code().value(), ENOSYS);
    EXPECT_NE(std::string(error.what())
                  .find("io_uring engine is unavailable: simulated by the "
                        "test"),
              std::string::npos)
        << error.what();
  }
  engine_options options;
  options.loops = 1;
  EXPECT_THROW(engine e(options), std::system_error);
  EXPECT_THROW(loop l, std::system_error);
  EXPECT_THROW(loop l(0, {}, engine_kind::uring), std::system_error);
  // Explicit epoll is unaffected.
  options.backend = engine_choice::epoll;
  engine e(options);
  EXPECT_EQ(e.kind(), engine_kind::epoll);
  // The refusal is logged too (once), since the exception may end where it cannot be shown.
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(lines_with(log, "net: the io_uring engine was chosen, but io_uring is unavailable: "
                            "simulated by the test"),
            1)
      << log;
}

TEST(net_engine_choice, CApiSetsTheProcessWideChoice) {
  if (engine::existing_instance() != nullptr) {
    GTEST_SKIP() << "the instance already exists in this process";
  }
  scoped_env env("UWSK_ENGINE", "uring");
  char error[200];

  std::memset(error, 'x', sizeof error);
  EXPECT_EQ(uwsk_set_engine("io_uring", error, sizeof error), -EINVAL);
  EXPECT_STREQ(error, "unknown engine 'io_uring': expected epoll, uring or auto");
  EXPECT_EQ(uwsk_set_engine(nullptr, nullptr, 0), -EINVAL);

  // The process-wide choice wins over UWSK_ENGINE.
  EXPECT_EQ(uwsk_set_engine("epoll", error, sizeof error), 0);
  EXPECT_STREQ(uwsk_engine_name(), "epoll");
  EXPECT_EQ(uwsk::net::environment_engine_choice(), engine_choice::epoll);
  {
    loop l;
    EXPECT_EQ(l.kind(), engine_kind::epoll);
  }
  if (uring_works()) {
    EXPECT_EQ(uwsk_set_engine("uring", error, sizeof error), 0);
    EXPECT_STREQ(uwsk_engine_name(), "uring");
    // auto picks the engine measured faster (epoll, engine_select.cpp), not io_uring.
    EXPECT_EQ(uwsk_set_engine("auto", error, sizeof error), 0);
    EXPECT_STREQ(uwsk_engine_name(), "epoll");
  }
  // A short buffer gets a truncated, terminated message.
  char tiny[8];
  EXPECT_EQ(uwsk_set_engine("bogus", tiny, sizeof tiny), -EINVAL);
  EXPECT_STREQ(tiny, "unknown");
}

TEST(net_engine_choice, CApiReportsAnUnavailableIoUring) {
  if (engine::existing_instance() != nullptr) {
    GTEST_SKIP() << "the instance already exists in this process";
  }
  scoped_env env("UWSK_ENGINE", nullptr);
  scoped_env fail("UWSK_TEST_URING_UNAVAILABLE", "simulated by the test");
  char error[200] = "";
  EXPECT_EQ(uwsk_set_engine("epoll", error, sizeof error), 0);
  EXPECT_EQ(uwsk_set_engine("uring", error, sizeof error), -ENOSYS);
  EXPECT_STREQ(error, "io_uring is unavailable: simulated by the test "
                      "(UWSK_TEST_URING_UNAVAILABLE is set)");
  EXPECT_STREQ(uwsk_engine_name(), "epoll"); // unchanged
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(uwsk_set_engine("auto", error, sizeof error), 0); // probes and logs now
  EXPECT_STREQ(uwsk_engine_name(), "epoll");
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(lines_with(log, "io_uring is unavailable (simulated by the test"), 1) << log;
}

TEST(net_engine_choice, InstanceUsesTheProcessWideChoiceThenRefusesChanges) {
  if (engine::existing_instance() != nullptr) {
    GTEST_SKIP() << "the instance already exists in this process";
  }
  scoped_env env("UWSK_ENGINE", nullptr);
  ASSERT_EQ(uwsk_set_engine("epoll", nullptr, 0), 0);
  engine_options options;
  options.loops = 1;
  ASSERT_TRUE(engine::configure_instance(options));
  engine &e = engine::instance();
  EXPECT_EQ(engine::existing_instance(), &e);
  EXPECT_EQ(e.kind(), engine_kind::epoll);
  char error[200] = "";
  EXPECT_EQ(uwsk_set_engine("uring", error, sizeof error), -EBUSY);
  EXPECT_STREQ(error, "the event loops are running already, on the epoll engine");
  EXPECT_STREQ(uwsk_engine_name(), "epoll");
  e.stop();
}

TEST(net_engine_death, StopFromALoopThreadIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        engine_options options;
        options.loops = 1;
        engine e(options);
        run_on(e.at(0), [&] { e.stop(); });
      },
      "engine::stop called on a loop thread");
}

TEST(net_engine_death, WatcherCallsOffTheLoopThreadAreReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        loop l;
        l.start();
        uwsk::net::watcher w;
        w.fd = 0;
        l.add(&w, uwsk::net::ev_in);
      },
      "loop::add called off the loop thread");
}

} // namespace

// The engine: loop count, round-robin placement, thread hooks, stop, the process-wide instance.
#include "net/engine.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

namespace {

using namespace std::chrono_literals;
using uwsk::net::engine;
using uwsk::net::engine_options;
using uwsk::net::loop;
using uwsk::net::task;

struct call_task : task {
  std::function<void()> fn;
  std::promise<void> done;
};

void run_on(loop &l, std::function<void()> fn) {
  call_task t;
  t.fn = std::move(fn);
  t.run = [](task *p) {
    auto *self = static_cast<call_task *>(p);
    self->fn();
    self->done.set_value();
  };
  auto f = t.done.get_future();
  ASSERT_TRUE(l.post(&t));
  if (f.wait_for(20s) != std::future_status::ready) {
    ADD_FAILURE() << "timed out waiting for the loop";
    std::abort();
  }
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

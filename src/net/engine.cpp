// The engine: owns the loops, spreads sockets over them, and provides the process-wide instance.
#include "net/engine.hpp"
#include "net/report.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>

namespace uwsk::net {
namespace {

constexpr std::size_t max_loops = 1024;

std::mutex g_instance_lock;
engine_options g_instance_options; // guarded by g_instance_lock
std::atomic<engine *> g_instance{nullptr};

} // namespace

std::size_t engine::default_loop_count() {
  if (const char *text = std::getenv("UWSK_LOOPS")) {
    char *end = nullptr;
    unsigned long count = std::strtoul(text, &end, 10);
    // Anything but a plain number in range is ignored rather than guessed at.
    if (end != text && *end == '\0' && count >= 1 && count <= max_loops) {
      return count;
    }
  }
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

engine::engine(engine_options options) : kind_(resolve_engine(options.backend)) {
  std::size_t count = options.loops != 0 ? options.loops : default_loop_count();
  loops_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    loops_.push_back(std::make_unique<loop>(i, options.hooks, kind_));
  }
  // Start only once all exist, so a failure above leaves no thread behind.
  for (auto &l : loops_) {
    l->start();
  }
}

engine::~engine() {
  stop();
}

engine &engine::instance() {
  if (engine *e = g_instance.load(std::memory_order_acquire)) {
    return *e;
  }
  std::lock_guard<std::mutex> guard(g_instance_lock);
  engine *e = g_instance.load(std::memory_order_relaxed);
  if (e == nullptr) {
    e = new engine(g_instance_options); // never deleted (rule 3)
    g_instance.store(e, std::memory_order_release);
  }
  return *e;
}

engine *engine::existing_instance() {
  return g_instance.load(std::memory_order_acquire);
}

bool engine::configure_instance(engine_options options) {
  std::lock_guard<std::mutex> guard(g_instance_lock);
  if (g_instance.load(std::memory_order_relaxed) != nullptr) {
    return false;
  }
  g_instance_options = std::move(options);
  return true;
}

loop &engine::pick() {
  return *loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
}

loop *engine::loop_for_current_thread() const {
  loop *current = loop::current();
  if (current != nullptr && current->index() < loops_.size() &&
      loops_[current->index()].get() == current) {
    return current;
  }
  return nullptr;
}

void engine::stop() {
  if (loop_for_current_thread() != nullptr) {
    fatal("contract violation: engine::stop called on a loop thread");
  }
  // Ask all first so the loops drain in parallel, then join.
  for (auto &l : loops_) {
    l->request_stop();
  }
  for (auto &l : loops_) {
    l->stop();
  }
}

} // namespace uwsk::net

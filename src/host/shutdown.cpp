// Bringing the runtime to rest after DriverUnload.
#include "host/shutdown.hpp"

#include <condition_variable>
#include <mutex>
#include <vector>

#include "net/engine.hpp"
#include "nt/ex/work_queue.hpp"
#include "wsk/core.hpp"

namespace uwsk::host {

namespace {

// A task posted to every loop; the caller waits until each has run it.
struct loop_barrier {
  struct arrival : net::task {
    loop_barrier *owner = nullptr;
  };
  std::mutex lock;
  std::condition_variable all_ran;
  std::size_t left = 0;
  std::vector<arrival> arrivals;
};

void arrive(net::task *t) {
  loop_barrier *b = static_cast<loop_barrier::arrival *>(t)->owner;
  std::lock_guard guard(b->lock);
  if (--b->left == 0) {
    b->all_ran.notify_all();
  }
}

// Returns once every loop thread has finished what it was doing when called: a completion
// routine or event callback of the driver that was still returning (after setting the event
// DriverUnload waited for) has then left the driver's code.
void pass_loop_barrier() {
  if (!wsk::provider_engine_started()) {
    return; // no socket ever ran, so no loop thread ran driver code
  }
  net::engine *engine = &net::engine::instance();
  loop_barrier b;
  b.arrivals.resize(engine->size());
  std::unique_lock guard(b.lock);
  for (std::size_t i = 0; i < engine->size(); ++i) {
    b.arrivals[i].owner = &b;
    b.arrivals[i].run = arrive;
    if (engine->at(i).in_loop_thread()) {
      continue; // cannot wait for itself; it is past any driver code of its own
    }
    if (engine->at(i).post(&b.arrivals[i])) {
      ++b.left;
    }
  }
  b.all_ran.wait(guard, [&] { return b.left == 0; });
}

} // namespace

void quiesce_runtime() {
  // Work items may queue more work items; the drain waits for those too. Timers and DPCs are
  // not drained: one still set after DriverUnload is a leak, reported (and then dropped) by
  // the loader.
  uwsk::nt::drain_work_queues();
  pass_loop_barrier();
}

} // namespace uwsk::host

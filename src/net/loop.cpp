// The event loop: posted tasks, edge-triggered watchers and a timer heap on one thread. The
// waiting and the watchers' registrations are the engine's (backend.hpp).
//
// One iteration: pick the timeout (0 when tasks are queued, otherwise up to the nearest timer),
// announce sleep in the post queue, let the backend wait and dispatch the ready watchers, fire
// due timers, then run the tasks queued so far.
#include "net/loop.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include <pthread.h>

#include "net/backend.hpp"
#include "net/engine.hpp"
#include "net/report.hpp"

namespace uwsk::net {
namespace {

constinit thread_local loop *t_current_loop [[gnu::tls_model("initial-exec")]] = nullptr;

// A broken calling contract (wrong thread, double add, ...) is a bug in the caller that would
// corrupt the loop's state; stop at once with a message rather than limp on.
[[noreturn]] void contract_violation(const char *what) {
  fatal("contract violation: %s", what);
}

} // namespace

const char *engine_kind_name(engine_kind kind) {
  return kind == engine_kind::uring ? "uring" : "epoll";
}

loop::loop(std::size_t index, loop_hooks hooks)
    : loop(index, std::move(hooks), resolve_engine(engine_choice::from_environment)) {}

loop::loop(std::size_t index, loop_hooks hooks, engine_kind kind)
    : index_(index), hooks_(std::move(hooks)), kind_(kind),
      backend_(kind == engine_kind::uring ? make_uring_backend() : make_epoll_backend()) {
  stop_task_.run = on_stop_task;
  stop_task_.owner = this;
  // Most loops hold few timers; reserving keeps arm_timer free of allocation in that case.
  timers_.reserve(64);
}

loop::~loop() {
  stop();
  // The backend (with the wake-up eventfd) lives until here, not just until the thread exits,
  // so that a producer still finishing its wake-up write after the loop stopped never writes
  // to a reused fd.
  backend_.reset();
}

void loop::start() {
  std::lock_guard<std::mutex> guard(join_lock_);
  if (thread_.joinable() || queue_head_.load() == closed_marker()) {
    contract_violation("loop::start called twice");
  }
  thread_ = std::thread([this] { run(); });
}

loop *loop::current() {
  return t_current_loop;
}

bool loop::post(task *t) {
  task *head = queue_head_.load(std::memory_order_relaxed);
  do {
    if (head == closed_marker()) {
      return false;
    }
    t->next = head == sleeping_marker() ? nullptr : head;
    // Release publishes the task's contents (and, through the release sequence of this word,
    // those of every task below it) to the loop thread's acquiring exchange.
  } while (!queue_head_.compare_exchange_weak(head, t, std::memory_order_release,
                                              std::memory_order_relaxed));
  if (head == sleeping_marker()) {
    // This post ended the loop's announced sleep; every later post sees a task on top and
    // writes nothing until the loop announces sleep again.
    wake();
  }
  return true;
}

void loop::wake() {
  wakeups_.fetch_add(1, std::memory_order_relaxed);
  backend_->wake();
}

int loop::add(watcher *w, std::uint32_t events) {
  if (!in_loop_thread()) {
    contract_violation("loop::add called off the loop thread");
  }
  if (w->loop_ != nullptr) {
    contract_violation("loop::add on a watcher that is already added");
  }
  if (int result = backend_->add(w, events); result != 0) {
    return result;
  }
  w->events_ = events;
  w->loop_ = this;
  return 0;
}

int loop::modify(watcher *w, std::uint32_t events) {
  if (!in_loop_thread() || w->loop_ != this) {
    contract_violation("loop::modify off the loop thread or on a watcher not added to it");
  }
  if (int result = backend_->modify(w, events); result != 0) {
    return result;
  }
  w->events_ = events;
  return 0;
}

int loop::remove(watcher *w) {
  if (!in_loop_thread() || w->loop_ != this) {
    contract_violation("loop::remove off the loop thread or on a watcher not added to it");
  }
  int result = backend_->remove(w);
  w->events_ = 0;
  w->loop_ = nullptr;
  return result;
}

bool loop::supports_io_requests() const {
  return backend_->supports_io_requests();
}

int loop::submit(io_request *r) {
  if (!in_loop_thread()) {
    contract_violation("loop::submit called off the loop thread");
  }
  if (r->loop_ != nullptr) {
    contract_violation("loop::submit on a request that is in flight");
  }
  if (!backend_->supports_io_requests()) {
    return -EOPNOTSUPP;
  }
  const bool multishot = r->kind == io_kind::recv_multishot;
  if ((!multishot && (r->iov == nullptr || r->iov_count == 0)) || r->on_complete == nullptr ||
      r->fd < 0) {
    return -EINVAL;
  }
  if (multishot && backend_->provided_buffers(0, false) == nullptr) {
    return -EOPNOTSUPP;
  }
  if (stopping_) {
    return -ESHUTDOWN; // the loop is ending the requests it has (rule 5)
  }
  r->loop_ = this;
  r->cancel_sent_ = false;
  if (int result = backend_->submit(r); result != 0) {
    r->loop_ = nullptr;
    return result;
  }
  return 0;
}

int loop::submit_linked(io_request *const *requests, std::size_t count) {
  if (!in_loop_thread()) {
    contract_violation("loop::submit_linked called off the loop thread");
  }
  if (count == 0 || count > max_linked) {
    return -EINVAL;
  }
  if (!backend_->supports_io_requests()) {
    return -EOPNOTSUPP;
  }
  for (std::size_t i = 0; i < count; ++i) {
    const io_request *r = requests[i];
    if (r->loop_ != nullptr) {
      contract_violation("loop::submit_linked on a request that is in flight");
    }
    if (r->iov == nullptr || r->iov_count == 0 || r->on_complete == nullptr || r->fd < 0) {
      return -EINVAL;
    }
  }
  if (stopping_) {
    return -ESHUTDOWN;
  }
  for (std::size_t i = 0; i < count; ++i) {
    requests[i]->loop_ = this;
    requests[i]->cancel_sent_ = false;
  }
  if (int result = backend_->submit_linked(requests, count); result != 0) {
    for (std::size_t i = 0; i < count; ++i) {
      requests[i]->loop_ = nullptr;
    }
    return result;
  }
  return 0;
}

receive_buffers *loop::provided_buffers(std::size_t headroom) {
  if (!in_loop_thread()) {
    contract_violation("loop::provided_buffers called off the loop thread");
  }
  return backend_->provided_buffers(headroom, true);
}

void loop::cancel(io_request *r) {
  if (!in_loop_thread()) {
    contract_violation("loop::cancel called off the loop thread");
  }
  if (r->loop_ != this || r->cancel_sent_) {
    return;
  }
  r->cancel_sent_ = true;
  backend_->cancel(r);
}

bool loop::timer_before(const timer *a, const timer *b) const {
  if (a->deadline_ != b->deadline_) {
    return a->deadline_ < b->deadline_;
  }
  return a->sequence_ < b->sequence_;
}

void loop::heap_place(std::size_t index, timer *t) {
  timers_[index] = t;
  t->index_ = index;
}

void loop::heap_sift_up(std::size_t index) {
  timer *t = timers_[index];
  while (index > 0) {
    std::size_t parent = (index - 1) / 2;
    if (!timer_before(t, timers_[parent])) {
      break;
    }
    heap_place(index, timers_[parent]);
    index = parent;
  }
  heap_place(index, t);
}

void loop::heap_sift_down(std::size_t index) {
  timer *t = timers_[index];
  const std::size_t size = timers_.size();
  for (;;) {
    std::size_t child = 2 * index + 1;
    if (child >= size) {
      break;
    }
    if (child + 1 < size && timer_before(timers_[child + 1], timers_[child])) {
      ++child;
    }
    if (!timer_before(timers_[child], t)) {
      break;
    }
    heap_place(index, timers_[child]);
    index = child;
  }
  heap_place(index, t);
}

void loop::heap_erase(std::size_t index) {
  timer *removed = timers_[index];
  timer *last = timers_.back();
  timers_.pop_back();
  removed->index_ = timer::not_armed;
  if (last != removed) {
    heap_place(index, last);
    // The moved timer may belong above or below its new place, depending on the subtree.
    heap_sift_up(index);
    heap_sift_down(last->index_);
  }
}

void loop::arm_timer(timer *t, timer::clock::time_point deadline) {
  if (!in_loop_thread()) {
    contract_violation("loop::arm_timer called off the loop thread");
  }
  if (t->armed()) {
    heap_erase(t->index_);
  }
  t->deadline_ = deadline;
  t->sequence_ = next_timer_sequence_++;
  timers_.push_back(t);
  t->index_ = timers_.size() - 1;
  heap_sift_up(t->index_);
}

void loop::cancel_timer(timer *t) {
  if (!in_loop_thread()) {
    contract_violation("loop::cancel_timer called off the loop thread");
  }
  if (t->armed()) {
    heap_erase(t->index_);
  }
}

void loop::expire_timers() {
  if (timers_.empty()) {
    return;
  }
  const auto now = timer::clock::now();
  // Timers armed from here on (by the callbacks below) carry a sequence at or above this and
  // wait for the next iteration.
  const std::uint64_t armed_before = next_timer_sequence_;
  while (!timers_.empty()) {
    timer *t = timers_.front();
    if (t->deadline_ > now || t->sequence_ >= armed_before) {
      break;
    }
    heap_erase(0);
    t->on_expire(t);
  }
}

std::chrono::nanoseconds loop::next_timeout() const {
  if (timers_.empty()) {
    return std::chrono::nanoseconds(-1);
  }
  auto left = timers_.front()->deadline_ - timer::clock::now();
  if (left <= timer::clock::duration::zero()) {
    return std::chrono::nanoseconds::zero();
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(left);
}

void loop::run_tasks() {
  // Take everything queued so far in one exchange; tasks posted while these run wait for the
  // next iteration, after I/O has had its turn.
  task *stack = queue_head_.exchange(nullptr, std::memory_order_acquire);
  task *fifo = nullptr;
  while (stack != nullptr) {
    task *next = stack->next;
    stack->next = fifo;
    fifo = stack;
    stack = next;
  }
  while (fifo != nullptr) {
    task *t = fifo;
    fifo = t->next;
    t->next = nullptr;
    t->run(t); // t is the owner's again from here (rule 1)
  }
}

void loop::run_once() {
  auto timeout = next_timeout();
  bool announced_sleep = false;
  if (timeout != std::chrono::nanoseconds::zero()) {
    // Announce the sleep in the queue word itself: if a task is already queued the exchange
    // fails and we only poll; otherwise the next post sees the marker and wakes the backend.
    task *expected = nullptr;
    announced_sleep =
        queue_head_.compare_exchange_strong(expected, sleeping_marker(), std::memory_order_acq_rel);
    if (!announced_sleep) {
      timeout = std::chrono::nanoseconds::zero();
    }
  }
  if (hooks_.before_wait != nullptr) {
    hooks_.before_wait();
  }
  backend_->wait(timeout);
  if (announced_sleep) {
    // Awake again: take the marker back so that posts made while we work write nothing. If a
    // producer already replaced it, that producer owns the (single) wake-up write.
    task *expected = sleeping_marker();
    queue_head_.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
  }
  backend_->dispatch();
  expire_timers();
  run_tasks();
}

void loop::close_queue() {
  // Run whatever is queued until the queue is seen empty, then close it in the same atomic
  // step, so that every post() either returned true and its task ran, or returned false.
  for (;;) {
    task *expected = nullptr;
    if (!backend_->requests_in_flight() &&
        queue_head_.compare_exchange_strong(expected, closed_marker(), std::memory_order_acq_rel)) {
      return;
    }
    // Requests still in the kernel end with their callbacks (rule 6), which their owners'
    // tasks may be waiting for.
    backend_->drain_requests();
    run_tasks();
  }
}

void loop::run() {
  t_current_loop = this;
  char name[16];
  std::snprintf(name, sizeof name, "uwsk-loop-%zu", index_);
  pthread_setname_np(pthread_self(), name);
  backend_->attach_thread();
  if (hooks_.on_thread_start) {
    hooks_.on_thread_start(*this);
  }
  while (!stopping_) {
    run_once();
  }
  close_queue();
  // Timers still armed are dropped, not fired (rule 5).
  for (timer *t : timers_) {
    t->index_ = timer::not_armed;
  }
  timers_.clear();
  if (hooks_.on_thread_stop) {
    hooks_.on_thread_stop(*this);
  }
  t_current_loop = nullptr;
}

void loop::on_stop_task(task *t) {
  static_cast<stop_task *>(t)->owner->stopping_ = true;
}

void loop::request_stop() {
  if (stop_requested_.exchange(true)) {
    return;
  }
  // Stopping is itself a posted task, so the request takes the ordinary wake-up path and
  // tasks posted before it still run first. It fails only if the queue is closed already.
  post(&stop_task_);
}

void loop::stop() {
  if (in_loop_thread()) {
    contract_violation("loop::stop called on the loop's own thread");
  }
  request_stop();
  std::lock_guard<std::mutex> guard(join_lock_);
  if (thread_.joinable()) {
    thread_.join();
  }
}

} // namespace uwsk::net

// The epoll event loop: posted tasks, edge-triggered watchers and a timer heap on one thread.
//
// One iteration: pick the epoll_wait timeout (0 when tasks are queued, otherwise up to the
// nearest timer), announce sleep in the post queue, wait for up to batch_size events, dispatch
// them, fire due timers, then run the tasks queued so far.
#include "net/loop.hpp"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <utility>

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace uwsk::net {
namespace {

thread_local loop *t_current_loop = nullptr;

// A broken calling contract (wrong thread, double add, ...) is a bug in the caller that would
// corrupt the loop's state; stop at once with a message rather than limp on.
[[noreturn]] void contract_violation(const char *what) {
  std::fprintf(stderr, "uwsk net: contract violation: %s\n", what);
  std::fflush(stderr);
  std::abort();
}

} // namespace

loop::loop(std::size_t index, loop_hooks hooks) : index_(index), hooks_(std::move(hooks)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_create1");
  }
  wake_watcher_.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_watcher_.fd < 0) {
    int error = errno;
    ::close(epoll_fd_);
    throw std::system_error(error, std::generic_category(), "eventfd");
  }
  wake_watcher_.on_events = on_wake_events;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = &wake_watcher_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_watcher_.fd, &ev) < 0) {
    int error = errno;
    ::close(wake_watcher_.fd);
    ::close(epoll_fd_);
    throw std::system_error(error, std::generic_category(), "epoll_ctl(eventfd)");
  }
  wake_watcher_.events_ = ev_in;
  wake_watcher_.loop_ = this;
  stop_task_.run = on_stop_task;
  stop_task_.owner = this;
  // Most loops hold few timers; reserving keeps arm_timer free of allocation in that case.
  timers_.reserve(64);
}

loop::~loop() {
  stop();
  // The descriptors stay open until here, not just until the thread exits, so that a producer
  // still finishing its wake-up write after the loop stopped never writes to a reused fd.
  ::close(wake_watcher_.fd);
  ::close(epoll_fd_);
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
  const std::uint64_t one = 1;
  while (::write(wake_watcher_.fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void loop::on_wake_events(watcher *w, std::uint32_t) {
  // Reset the counter; the edge-triggered registration reports the next write as a new edge.
  std::uint64_t count;
  while (::read(w->fd, &count, sizeof count) < 0 && errno == EINTR) {
  }
}

int loop::add(watcher *w, std::uint32_t events) {
  if (!in_loop_thread()) {
    contract_violation("loop::add called off the loop thread");
  }
  if (w->loop_ != nullptr) {
    contract_violation("loop::add on a watcher that is already added");
  }
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.ptr = w;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
    return -errno;
  }
  w->events_ = events;
  w->loop_ = this;
  return 0;
}

int loop::modify(watcher *w, std::uint32_t events) {
  if (!in_loop_thread() || w->loop_ != this) {
    contract_violation("loop::modify off the loop thread or on a watcher not added to it");
  }
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.ptr = w;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, w->fd, &ev) < 0) {
    return -errno;
  }
  // An event for w later in the current batch is masked with the new interest at dispatch.
  w->events_ = events;
  return 0;
}

int loop::remove(watcher *w) {
  if (!in_loop_thread() || w->loop_ != this) {
    contract_violation("loop::remove off the loop thread or on a watcher not added to it");
  }
  int result = epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, w->fd, nullptr) < 0 ? -errno : 0;
  // The batch being dispatched may still hold an event for w, and w may be freed as soon as we
  // return, so forget those events now instead of looking at w later (epoll reports an fd at
  // most once per wait, so this scan is short and touches no watcher).
  for (int i = batch_position_ + 1; i < batch_count_; ++i) {
    if (batch_[i].data.ptr == w) {
      batch_[i].data.ptr = nullptr;
    }
  }
  w->events_ = 0;
  w->loop_ = nullptr;
  return result;
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

int loop::next_timeout_ms() const {
  if (timers_.empty()) {
    return -1;
  }
  auto left = timers_.front()->deadline_ - timer::clock::now();
  if (left <= timer::clock::duration::zero()) {
    return 0;
  }
  // Round up: waking before the deadline would only cost a useless iteration.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

void loop::dispatch_events(int count) {
  batch_count_ = count;
  for (batch_position_ = 0; batch_position_ < batch_count_; ++batch_position_) {
    const epoll_event &ev = batch_[batch_position_];
    auto *w = static_cast<watcher *>(ev.data.ptr);
    if (w == nullptr) {
      continue; // removed by an earlier callback of this batch
    }
    // modify() may have dropped a direction after the kernel reported it.
    std::uint32_t revents = ev.events & (w->events_ | ev_err | ev_hup);
    if (revents != 0) {
      w->on_events(w, revents);
    }
  }
  batch_count_ = 0;
  batch_position_ = 0;
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
  int timeout = next_timeout_ms();
  bool announced_sleep = false;
  if (timeout != 0) {
    // Announce the sleep in the queue word itself: if a task is already queued the exchange
    // fails and we only poll; otherwise the next post sees the marker and writes the eventfd.
    task *expected = nullptr;
    announced_sleep =
        queue_head_.compare_exchange_strong(expected, sleeping_marker(), std::memory_order_acq_rel);
    if (!announced_sleep) {
      timeout = 0;
    }
  }
  int count = epoll_wait(epoll_fd_, batch_, batch_size, timeout);
  if (announced_sleep) {
    // Awake again: take the marker back so that posts made while we work write nothing. If a
    // producer already replaced it, that producer owns the (single) wake-up write.
    task *expected = sleeping_marker();
    queue_head_.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
  }
  if (count < 0) {
    if (errno != EINTR) {
      std::fprintf(stderr, "uwsk net: epoll_wait: %s\n", std::strerror(errno));
      std::abort();
    }
    count = 0;
  }
  dispatch_events(count);
  expire_timers();
  run_tasks();
}

void loop::close_queue() {
  // Run whatever is queued until the queue is seen empty, then close it in the same atomic
  // step, so that every post() either returned true and its task ran, or returned false.
  for (;;) {
    task *expected = nullptr;
    if (queue_head_.compare_exchange_strong(expected, closed_marker(), std::memory_order_acq_rel)) {
      return;
    }
    run_tasks();
  }
}

void loop::run() {
  t_current_loop = this;
  char name[16];
  std::snprintf(name, sizeof name, "uwsk-loop-%zu", index_);
  pthread_setname_np(pthread_self(), name);
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

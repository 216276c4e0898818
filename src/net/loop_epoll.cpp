// The epoll engine: edge-triggered epoll registrations, one epoll_wait per iteration, and an
// eventfd for wake-ups.
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "net/backend.hpp"
#include "net/report.hpp"

namespace uwsk::net {

class epoll_backend final : public io_backend {
  // Deliberate pair (duplicates): the two backends, this one and loop_uring.cpp, declare the same
  // overrides of backend.hpp.
public:
  epoll_backend();
  ~epoll_backend() override;
  epoll_backend(const epoll_backend &) = delete;
  epoll_backend &operator=(const epoll_backend &) = delete;

  int add(watcher *w, std::uint32_t events) override;
  int modify(watcher *w, std::uint32_t events) override;
  int remove(watcher *w) override;
  void wait(std::chrono::nanoseconds timeout) override;
  void dispatch() override;
  void wake() override;

private:
  static int timeout_ms(std::chrono::nanoseconds timeout);
  static void on_wake_events(watcher *w, std::uint32_t revents);

  int epoll_fd_ = -1;
  watcher wake_watcher_; // the eventfd, read on the loop thread after a wake-up

  // Loop thread only.
  epoll_event batch_[loop::batch_size];
  int batch_count_ = 0;    // events in batch_ being dispatched
  int batch_position_ = 0; // the one being dispatched; remove() clears later ones
};

epoll_backend::epoll_backend() {
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
  wake_watcher_.events_ = ev_in;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.ptr = &wake_watcher_;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_watcher_.fd, &ev) < 0) {
    int error = errno;
    ::close(wake_watcher_.fd);
    ::close(epoll_fd_);
    throw std::system_error(error, std::generic_category(), "epoll_ctl(eventfd)");
  }
}

epoll_backend::~epoll_backend() {
  ::close(wake_watcher_.fd);
  ::close(epoll_fd_);
}

void epoll_backend::wake() {
  const std::uint64_t one = 1;
  while (::write(wake_watcher_.fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void epoll_backend::on_wake_events(watcher *w, std::uint32_t) {
  // Reset the counter; the edge-triggered registration reports the next write as a new edge.
  std::uint64_t count;
  while (::read(w->fd, &count, sizeof count) < 0 && errno == EINTR) {
  }
}

int epoll_backend::add(watcher *w, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.ptr = w;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

int epoll_backend::modify(watcher *w, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLET;
  ev.data.ptr = w;
  // An event for w later in the current batch is masked with the new interest at dispatch.
  return epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

int epoll_backend::remove(watcher *w) {
  int result = epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, w->fd, nullptr) < 0 ? -errno : 0;
  // The batch being dispatched may still hold an event for w, and w may be freed as soon as we
  // return, so forget those events now instead of looking at w later (epoll reports an fd at
  // most once per wait, so this scan is short and touches no watcher).
  for (int i = batch_position_ + 1; i < batch_count_; ++i) {
    if (batch_[i].data.ptr == w) {
      batch_[i].data.ptr = nullptr;
    }
  }
  return result;
}

int epoll_backend::timeout_ms(std::chrono::nanoseconds timeout) {
  if (timeout < std::chrono::nanoseconds::zero()) {
    return -1;
  }
  // Round up: waking before the deadline would only cost a useless iteration.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

void epoll_backend::wait(std::chrono::nanoseconds timeout) {
  int count = epoll_wait(epoll_fd_, batch_, loop::batch_size, timeout_ms(timeout));
  if (count < 0) {
    if (errno != EINTR) {
      fatal("epoll_wait: %s", std::strerror(errno));
    }
    count = 0;
  }
  batch_count_ = count;
}

void epoll_backend::dispatch() {
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

std::unique_ptr<io_backend> make_epoll_backend() {
  return std::make_unique<epoll_backend>();
}

} // namespace uwsk::net

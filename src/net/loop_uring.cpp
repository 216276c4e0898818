// The io_uring engine: one ring per loop, bound to the loop thread.
//
// Readiness comes from multishot poll requests (IORING_OP_POLL_ADD with IORING_POLL_ADD_MULTI),
// which the kernel runs edge-triggered: one completion per wake-up of the descriptor, and one at
// once when it is ready as the request is armed. A watcher owns an entry (slot) in this engine's
// table; a request's user_data is the slot's index and its generation, and the generation
// changes whenever the watcher is removed or its interest changes, so a completion for an older
// request still in the ring names a generation that no longer matches and is dropped without
// looking at any watcher: that is how loop.hpp rule 2 holds although the ring may still hold
// completions for a watcher that has been freed.
//
// The engine also performs I/O requests (loop.hpp rule 6): a receive or send becomes one
// IORING_OP_RECV/SEND (one iovec) or IORING_OP_RECVMSG/SENDMSG (several), whose user_data is the
// request's address with the top bit set (no watcher tag has it: generations stay below 2^31).
// A chain of them (submit_linked) is the same entries with IOSQE_IO_LINK on all but the last,
// always handed over in one submission.
// The kernel moves the bytes when the socket is ready and completes the request once; its
// completion is taken in wait() and its callback runs in dispatch(), after the watchers'.
// cancel() queues an IORING_OP_ASYNC_CANCEL naming it; the request itself still completes
// once, with -ECANCELED or with what it did first.
//
// A multishot receive (io_kind::recv_multishot) is one IORING_OP_RECV with IORING_RECV_MULTISHOT
// that selects a buffer from the loop's provided buffer ring (receive_buffers.hpp, registered
// the first time an owner asks for it) for each arrival; it completes many times with the same
// tag, so its completions are kept in a list of their own (shots_) rather than linked through
// the request, and dispatched in arrival order after the single-shot requests of the batch.
//
// One iteration is one io_uring_enter: it submits what the loop queued (new polls, re-arms,
// I/O requests, cancellations, the wake-up read) and waits for completions with the loop's timeout
// (an IORING_ENTER_EXT_ARG timeout, so no timeout request is needed). Completions are merged per
// watcher into one callback. Wake-ups from other threads write an eventfd that an
// IORING_OP_READ request is always waiting on, so a wake-up costs the loop no read(2).
//
// Apart from a full submission queue, remove() is the one place that enters the kernel out of
// turn: the cancellation must have run before remove() returns, because a poll request holds a
// reference to the file and the owner closes the descriptor next (a listening socket would
// otherwise keep its port). With deferred task running (IORING_SETUP_DEFER_TASKRUN, the first
// choice) the cancelled request ends only when the loop thread asks for completions, and one
// such call runs a bounded number of waiting items, so remove() asks until the kernel reports no
// work waiting (IORING_SQ_TASKRUN clear).
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/socket.h>

#include "net/backend.hpp"
#include "net/receive_buffers.hpp"
#include "net/report.hpp"

namespace uwsk::net {
namespace {

constexpr unsigned sq_entries = 256;
// Completions the ring can hold. Multishot requests end when the completion queue is full, so it
// is sized well above what one iteration takes; an ended request is re-armed (see take()).
constexpr unsigned cq_entries = 4096;
// Completions taken per iteration.
constexpr unsigned completion_batch = 4 * loop::batch_size;

// user_data values that name no watcher. A watcher's tag has a non-zero generation in its upper
// half, so it is never one of these.
constexpr std::uint64_t ignored_tag = 0; // the completions of cancellations
constexpr std::uint64_t wake_tag = 1;    // the read on the wake-up eventfd
// The bit that marks an I/O request's tag (its address; user-space addresses never have it).
constexpr std::uint64_t request_bit = std::uint64_t{1} << 63;
// Watcher generations wrap below this, so a watcher's tag never has request_bit.
constexpr std::uint32_t generation_limit = 0x7fffffff;

// The bits a callback can see.
constexpr std::uint32_t reported_bits = ev_in | ev_out | ev_rdhup | ev_pri | ev_err | ev_hup;

// The flags tried for a ring, best first; the probe keeps the first set the kernel accepts.
// SINGLE_ISSUER (Linux 6.0) lets the kernel skip locking for the one submitting thread, which
// requires R_DISABLED so the loop thread, not the creating one, becomes that thread;
// DEFER_TASKRUN (6.1) goes further: the kernel's work for the ring (a poll's wake-up, a
// receive's copy) waits in a list of the ring's own and runs only when the loop thread asks for
// completions, in one batch, where COOP_TASKRUN (5.19) queues it as task work of the thread,
// run on its next entry to the kernel; both spare the thread an interruption. TASKRUN_FLAG makes
// the kernel say in the submission ring's flags (IORING_SQ_TASKRUN) that such work is waiting,
// which remove() needs (see there).
constexpr unsigned setup_flag_sets[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
        IORING_SETUP_R_DISABLED,
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_R_DISABLED,
    IORING_SETUP_COOP_TASKRUN,
    0,
};

[[noreturn]] void fatal(const char *what, int error) {
  net::fatal("%s: %s", what, std::strerror(error));
}

// Creates a ring with the engine's sizes. Returns 0 or -errno.
int setup_ring(io_uring &ring, unsigned flags) {
  io_uring_params params{};
  params.flags = flags | IORING_SETUP_CQSIZE;
  params.cq_entries = cq_entries;
  return io_uring_queue_init_params(sq_entries, &ring, &params);
}

// Makes a ring created with IORING_SETUP_R_DISABLED usable, with the calling thread as its
// submitter. (liburing 2.3 declares io_uring_enable_rings but does not export it.)
int enable_ring(io_uring &ring) {
  int result = io_uring_register(ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  return result < 0 ? result : 0;
}

} // namespace

class uring_backend final : public io_backend {
  // Deliberate pair (duplicates): the two backends, loop_epoll.cpp and this one, declare the same
  // overrides of backend.hpp.
public:
  uring_backend(unsigned setup_flags, bool io_requests, bool recv_multishot);
  ~uring_backend() override;
  uring_backend(const uring_backend &) = delete;
  uring_backend &operator=(const uring_backend &) = delete;

  void attach_thread() override;
  int add(watcher *w, std::uint32_t events) override;
  int modify(watcher *w, std::uint32_t events) override;
  int remove(watcher *w) override;
  void wait(std::chrono::nanoseconds timeout) override;
  void dispatch() override;
  void wake() override;
  bool supports_io_requests() const override { return io_requests_; }
  int submit(io_request *r) override;
  int submit_linked(io_request *const *requests, std::size_t count) override;
  void cancel(io_request *r) override;
  bool requests_in_flight() const override { return requests_in_flight_ != 0; }
  void drain_requests() override;
  receive_buffers *provided_buffers(std::size_t headroom, bool make) override;

private:
  // A watcher's entry. Loop thread only, like everything below but wake_fd_.
  struct slot {
    watcher *w = nullptr;           // nullptr: free
    std::uint32_t generation = 1;   // names the current poll request (never 0)
    std::uint32_t ready = 0;        // bits gathered in this batch; non-zero: listed in ready_
    bool rearmed_after_end = false; // re-armed after the kernel ended a request, no event since
    bool device = false;            // a character or block device: it may not support poll
  };

  static std::uint64_t tag_of(std::uint32_t index, std::uint32_t generation) {
    return static_cast<std::uint64_t>(generation) << 32 | index;
  }
  // Retires the slot's current tag, so completions still coming for it are dropped.
  static void next_generation(slot &s) {
    s.generation = s.generation == generation_limit ? 1 : s.generation + 1;
  }

  io_uring_sqe *get_sqe();
  // Asks for completions until no work of the ring waits in the kernel (deferred task
  // running; on the other flag sets, without TASKRUN_FLAG, the kernel never reports waiting
  // work, so this returns at once). Returns 0 or -errno.
  int run_deferred_work();
  void arm_poll(std::uint32_t index, int fd, std::uint32_t events);
  void cancel(std::uint64_t tag);
  void arm_wake_read();
  void take(const io_uring_cqe &cqe);
  // Fills `sqe` with r's receive or send and counts r in flight.
  void prepare(io_request *r, io_uring_sqe *sqe);
  void take_batch();
  void dispatch_requests();

  // One completion of a multishot receive, awaiting its callback.
  struct shot {
    io_request *r;
    long result;
    std::uint32_t flags; // the completion's IORING_CQE_F_* flags and buffer id
  };

  const unsigned setup_flags_;
  const bool io_requests_;    // the kernel can cancel every request at once (drain_requests)
  const bool recv_multishot_; // multishot receives into provided buffers work (the probe)
  io_uring ring_{};
  // Written by any thread's wake(); blocking, so that the read request waits for a write
  // rather than failing with EAGAIN.
  int wake_fd_ = -1;
  std::uint64_t wake_value_ = 0; // the wake-up read's buffer, written by the kernel
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<std::uint32_t> ready_; // slots with bits gathered in this batch, in arrival order
  // I/O requests: those completed in this batch, in completion order, awaiting their
  // callbacks, and how many are in the kernel or awaiting their callbacks.
  io_request *completed_head_ = nullptr;
  io_request *completed_tail_ = nullptr;
  std::size_t requests_in_flight_ = 0;
  bool cancelled_all_ = false; // drain_requests asked the kernel to end every request
  // Multishot receives: the completions of this batch, and the provided buffers (made on
  // first use; buffers_failed_: the kernel refused them, so none are made again).
  std::vector<shot> shots_;
  receive_buffers *buffers_ = nullptr;
  bool buffers_failed_ = false;
};

uring_backend::uring_backend(unsigned setup_flags, bool io_requests, bool recv_multishot)
    : setup_flags_(setup_flags), io_requests_(io_requests), recv_multishot_(recv_multishot) {
  if (int result = setup_ring(ring_, setup_flags_); result < 0) {
    throw std::system_error(-result, std::generic_category(), "io_uring_setup");
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    int error = errno;
    io_uring_queue_exit(&ring_);
    throw std::system_error(error, std::generic_category(), "eventfd");
  }
  // Reserved so that the usual loop allocates nothing after its first few sockets, and the
  // ready list never reallocates while a batch is taken.
  slots_.reserve(64);
  free_slots_.reserve(64);
  ready_.reserve(completion_batch);
  shots_.reserve(completion_batch);
  // Queued now, submitted by the first wait on the loop thread.
  arm_wake_read();
}

uring_backend::~uring_backend() {
  // Closing the ring cancels every request still armed, including the wake-up read.
  io_uring_queue_exit(&ring_);
  ::close(wake_fd_);
  if (buffers_ != nullptr) {
    buffers_->detach(); // the kernel is done with the ring; held buffers keep it mapped
  }
}

namespace {
std::atomic<bool> g_buffers_logged{false}; // one line per process says which way events read
} // namespace

receive_buffers *uring_backend::provided_buffers(std::size_t headroom, bool make) {
  if (buffers_ != nullptr || !make || buffers_failed_) {
    return buffers_;
  }
  const char *refusal = nullptr;
  int error = 0;
  receive_buffers *made = nullptr;
  if (!recv_multishot_) {
    refusal = "the probe found no multishot receive into a provided buffer ring (Linux 6.0 or "
              "later is needed)";
  } else if (made = receive_buffers::create(loop::current(), headroom); made == nullptr) {
    refusal = "no memory for them";
  } else {
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(made->ring());
    reg.ring_entries = receive_buffers::count;
    reg.bgid = receive_buffers::group;
    if (error = io_uring_register_buf_ring(&ring_, &reg, 0); error != 0) {
      made->detach();
      made = nullptr;
      refusal = "the kernel refused the buffer ring";
    }
  }
  const bool first = !g_buffers_logged.exchange(true, std::memory_order_relaxed);
  if (made == nullptr) {
    buffers_failed_ = true;
    if (first) {
      report("multishot receives into provided buffers are unavailable (%s%s%s); receive "
             "events read on readiness",
             refusal, error != 0 ? ": " : "", error != 0 ? std::strerror(-error) : "");
    }
    return nullptr;
  }
  if (first) {
    report("receive events read through multishot receives into provided buffers (%u of "
           "%zu bytes per loop)",
           unsigned{receive_buffers::count}, made->size());
  }
  buffers_ = made;
  return buffers_;
}

void uring_backend::attach_thread() {
  if ((setup_flags_ & IORING_SETUP_R_DISABLED) != 0) {
    if (int result = enable_ring(ring_); result < 0) {
      fatal("io_uring: enabling the ring", -result);
    }
  }
  // Registering the ring's descriptor with this thread saves a file lookup per
  // io_uring_enter. It is an optimisation only (Linux 5.18), so a refusal is ignored.
  io_uring_register_ring_fd(&ring_);
}

void uring_backend::wake() {
  const std::uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

io_uring_sqe *uring_backend::get_sqe() {
  io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // The submission queue is full (a burst of new watchers): hand it to the kernel now.
    if (int result = io_uring_submit(&ring_); result < 0 && result != -EBUSY && result != -EINTR) {
      fatal("io_uring_submit", -result);
    }
    sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      fatal("io_uring: the submission queue stays full", EBUSY);
    }
  }
  return sqe;
}

void uring_backend::arm_poll(std::uint32_t index, int fd, std::uint32_t events) {
  io_uring_sqe *sqe = get_sqe();
  io_uring_prep_poll_multishot(sqe, fd, events);
  io_uring_sqe_set_data64(sqe, tag_of(index, slots_[index].generation));
}

void uring_backend::cancel(std::uint64_t tag) {
  io_uring_sqe *sqe = get_sqe();
  io_uring_prep_cancel64(sqe, tag, 0);
  io_uring_sqe_set_data64(sqe, ignored_tag);
}

void uring_backend::arm_wake_read() {
  io_uring_sqe *sqe = get_sqe();
  // Offset -1: the eventfd has no file position.
  io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof wake_value_, static_cast<__u64>(-1));
  io_uring_sqe_set_data64(sqe, wake_tag);
}

int uring_backend::add(watcher *w, std::uint32_t events) {
  // epoll refuses descriptors without poll support (EPERM) at once; io_uring would accept them
  // and report them ready forever. Regular files and directories are the ones met in practice.
  struct stat status;
  if (::fstat(w->fd, &status) != 0) {
    return -errno;
  }
  if (S_ISREG(status.st_mode) || S_ISDIR(status.st_mode)) {
    return -EPERM;
  }
  std::uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  slot &s = slots_[index];
  s.w = w;
  s.ready = 0;
  s.rearmed_after_end = false;
  s.device = S_ISCHR(status.st_mode) || S_ISBLK(status.st_mode);
  w->slot_ = index;
  // Submitted with the next wait; the request reports the descriptor at once if it is ready.
  arm_poll(index, w->fd, events);
  return 0;
}

int uring_backend::modify(watcher *w, std::uint32_t events) {
  slot &s = slots_[w->slot_];
  // A new request with a new tag: completions of the old one are dropped from here on, and the
  // new one reports current readiness when it is armed, as EPOLL_CTL_MOD does. Bits already
  // gathered in this batch stay, masked with the new interest at dispatch.
  cancel(tag_of(w->slot_, s.generation));
  next_generation(s);
  s.rearmed_after_end = false;
  arm_poll(w->slot_, w->fd, events);
  return 0;
}

int uring_backend::remove(watcher *w) {
  const std::uint32_t index = w->slot_;
  slot &s = slots_[index];
  cancel(tag_of(index, s.generation));
  next_generation(s);
  s.w = nullptr;
  s.ready = 0; // a later entry of this batch's ready list for the slot is skipped
  free_slots_.push_back(index);
  // Enter now: the cancelled request's task work runs before io_uring_enter returns and drops
  // its reference to the file, so the caller may close the descriptor (rule 2).
  int result;
  do {
    result = io_uring_submit(&ring_);
  } while (result == -EINTR);
  if (result >= 0) {
    result = run_deferred_work();
  }
  return result < 0 ? result : 0;
}

int uring_backend::run_deferred_work() {
  // Each call runs the ring's waiting work in batches of about 20 (Linux 6.10 and later), and
  // sockets of other connections may add more meanwhile; the work the caller needs (a cancelled
  // poll's end, the start of a chain's next request) was queued before this call, ahead of any
  // added during it, so it has run after a bounded number of calls however busy the loop is.
  // The bound only guards against a kernel that never clears the flag.
  constexpr int max_calls = 100'000;
  for (int calls = 0;
       (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN) != 0 && calls < max_calls;
       ++calls) {
    if (int result = io_uring_get_events(&ring_);
        result < 0 && result != -EINTR && result != -EAGAIN && result != -EBUSY) {
      return result;
    }
  }
  return 0;
}

int uring_backend::submit(io_request *r) {
  prepare(r, get_sqe());
  return 0; // handed to the kernel with the next wait
}

int uring_backend::submit_linked(io_request *const *requests, std::size_t count) {
  // A chain must reach the kernel in one submission: one cut short by a full queue would end
  // there, and its rest would run unordered with it. So room for all of it is made first.
  if (io_uring_sq_space_left(&ring_) < count) {
    if (int result = io_uring_submit(&ring_); result < 0 && result != -EBUSY && result != -EINTR) {
      fatal("io_uring_submit", -result);
    }
    if (io_uring_sq_space_left(&ring_) < count) {
      return -EBUSY;
    }
  }
  for (std::size_t i = 0; i < count; ++i) {
    io_uring_sqe *sqe = get_sqe();
    prepare(requests[i], sqe);
    if (i + 1 < count) {
      sqe->flags |= IOSQE_IO_LINK;
    }
  }
  return 0; // handed to the kernel with the next wait
}

void uring_backend::prepare(io_request *r, io_uring_sqe *sqe) {
  const bool single = r->iov_count == 1;
  if (r->kind == io_kind::recv_multishot) {
    io_uring_prep_recv_multishot(sqe, r->fd, nullptr, 0, r->flags);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = receive_buffers::group;
  } else if (r->kind == io_kind::recv) {
    if (single) {
      io_uring_prep_recv(sqe, r->fd, r->iov[0].iov_base, r->iov[0].iov_len, r->flags);
    } else {
      r->message_ = msghdr{};
      r->message_.msg_iov = const_cast<iovec *>(r->iov);
      r->message_.msg_iovlen = r->iov_count;
      io_uring_prep_recvmsg(sqe, r->fd, &r->message_, static_cast<unsigned>(r->flags));
    }
  } else {
    const int flags = r->flags | MSG_NOSIGNAL;
    if (single) {
      io_uring_prep_send(sqe, r->fd, r->iov[0].iov_base, r->iov[0].iov_len, flags);
    } else {
      r->message_ = msghdr{};
      r->message_.msg_iov = const_cast<iovec *>(r->iov);
      r->message_.msg_iovlen = r->iov_count;
      io_uring_prep_sendmsg(sqe, r->fd, &r->message_, static_cast<unsigned>(flags));
    }
  }
  io_uring_sqe_set_data64(sqe, reinterpret_cast<std::uintptr_t>(r) | request_bit);
  ++requests_in_flight_;
}

void uring_backend::cancel(io_request *r) {
  // A cancellation finds a request only once the kernel has started it. The request after one
  // that completed in a chain is started by work of the ring queued with that completion, and
  // with deferred task running that work may still wait when the completion has been taken (and
  // the owner cancels the next request): a cancellation submitted before it runs finds nothing
  // and the request, started after, would wait for bytes the owner no longer wants. So the
  // waiting work runs first (no system call when none waits).
  if (int result = run_deferred_work(); result < 0) {
    fatal("io_uring_enter", -result);
  }
  cancel(reinterpret_cast<std::uintptr_t>(r) | request_bit);
}

void uring_backend::drain_requests() {
  if (requests_in_flight_ == 0) {
    return;
  }
  if (!cancelled_all_) {
    // The loop has stopped: nobody will wait for these any more. End them all (and the polls,
    // which no longer matter), so that each completes now, mostly with -ECANCELED.
    cancelled_all_ = true;
    io_uring_sqe *sqe = get_sqe();
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
    io_uring_sqe_set_data64(sqe, ignored_tag);
  }
  __kernel_timespec limit{0, 10'000'000};
  io_uring_cqe *first = nullptr;
  int result = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &limit, nullptr);
  if (result < 0 && result != -ETIME && result != -EINTR && result != -EAGAIN && result != -EBUSY) {
    fatal("io_uring_enter", -result);
  }
  take_batch();
  for (std::uint32_t index : ready_) {
    slots_[index].ready = 0; // no watcher callbacks once the loop has stopped
  }
  ready_.clear();
  dispatch_requests();
}

void uring_backend::dispatch_requests() {
  while (completed_head_ != nullptr) {
    io_request *r = completed_head_;
    completed_head_ = r->next_;
    if (completed_head_ == nullptr) {
      completed_tail_ = nullptr;
    }
    r->next_ = nullptr;
    r->loop_ = nullptr; // the owner's again (rule 6): it may submit it again in the callback
    --requests_in_flight_;
    r->on_complete(r, r->result_);
  }
  // Multishot receives: a callback may submit again (after the last of its request) but takes
  // no completions, so the list does not change meanwhile.
  for (const shot &one : shots_) {
    io_request *r = one.r;
    r->has_buffer_ = (one.flags & IORING_CQE_F_BUFFER) != 0;
    r->buffer_id_ = static_cast<std::uint16_t>(one.flags >> IORING_CQE_BUFFER_SHIFT);
    r->more_ = (one.flags & IORING_CQE_F_MORE) != 0;
    if (!r->more_) {
      r->loop_ = nullptr; // the owner's again (rule 6)
      --requests_in_flight_;
    }
    r->on_complete(r, one.result);
  }
  shots_.clear();
}

void uring_backend::take(const io_uring_cqe &cqe) {
  const std::uint64_t tag = cqe.user_data;
  if (tag == ignored_tag) {
    return; // a cancellation's own result: 0, or -ENOENT when the request had ended already
  }
  if ((tag & request_bit) != 0) {
    auto *r = reinterpret_cast<io_request *>(static_cast<std::uintptr_t>(tag & ~request_bit));
    if (r->kind == io_kind::recv_multishot) {
      if ((cqe.flags & IORING_CQE_F_BUFFER) != 0) {
        buffers_->taken();
      }
      shots_.push_back({r, cqe.res, cqe.flags});
      return;
    }
    r->result_ = cqe.res;
    r->next_ = nullptr;
    if (completed_tail_ != nullptr) {
      completed_tail_->next_ = r;
    } else {
      completed_head_ = r;
    }
    completed_tail_ = r;
    return;
  }
  if (tag == wake_tag) {
    // The read consumed the eventfd's counter: this was a wake-up. Wait for the next one.
    if (cqe.res < 0 && cqe.res != -EINTR && cqe.res != -ECANCELED && cqe.res != -EAGAIN) {
      fatal("io_uring: reading the wake-up eventfd", -cqe.res);
    }
    arm_wake_read();
    return;
  }
  const auto index = static_cast<std::uint32_t>(tag);
  const auto generation = static_cast<std::uint32_t>(tag >> 32);
  if (index >= slots_.size()) {
    return;
  }
  slot &s = slots_[index];
  if (s.w == nullptr || s.generation != generation) {
    return; // the watcher was removed, or its interest changed, since this request was made
  }
  std::uint32_t bits = 0;
  if (cqe.res >= 0) {
    const auto mask = static_cast<std::uint32_t>(cqe.res);
    bits = mask & reported_bits;
    if ((mask & POLLNVAL) != 0) {
      bits |= ev_err | ev_hup;
    }
  }
  if ((cqe.flags & IORING_CQE_F_MORE) != 0) {
    s.rearmed_after_end = false;
  } else if (!s.rearmed_after_end || (cqe.res >= 0 && !s.device)) {
    // The kernel ended the request: the completion queue was full, or the descriptor cannot be
    // polled. Arm a new one (same tag: the old request is over). While the queue stays full
    // (thousands of sockets ready at once), the new request can end at its first event too,
    // with no event in between: a socket, pipe or eventfd is re-armed every time, or it would
    // never be reported again. Only a device may not support poll at all; its new request
    // ends at once as well, and then we stop, having reported it ready, which is what an
    // edge-triggered epoll registration of such a file would report.
    s.rearmed_after_end = true;
    arm_poll(index, s.w->fd, s.w->events_);
  } else if (cqe.res < 0) {
    bits = ev_err | ev_hup; // it cannot be polled at all: let the owner's system call say why
  }
  if (bits != 0) {
    if (s.ready == 0) {
      ready_.push_back(index);
    }
    s.ready |= bits;
  }
}

void uring_backend::wait(std::chrono::nanoseconds timeout) {
  if (buffers_ != nullptr) {
    buffers_->collect(); // buffers released on other threads, back before the kernel looks
  }
  int result;
  if (timeout == std::chrono::nanoseconds::zero()) {
    result = io_uring_submit_and_get_events(&ring_);
  } else {
    __kernel_timespec limit{};
    if (timeout > std::chrono::nanoseconds::zero()) {
      limit.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
      limit.tv_nsec = (timeout % std::chrono::seconds(1)).count();
    }
    io_uring_cqe *first = nullptr;
    result = io_uring_submit_and_wait_timeout(
        &ring_, &first, 1, timeout > std::chrono::nanoseconds::zero() ? &limit : nullptr, nullptr);
  }
  if (result < 0 && result != -ETIME && result != -EINTR && result != -EAGAIN && result != -EBUSY) {
    fatal("io_uring_enter", -result);
  }
  take_batch();
}

void uring_backend::take_batch() {
  unsigned head;
  unsigned taken = 0;
  io_uring_cqe *cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    take(*cqe);
    if (++taken == completion_batch) {
      break;
    }
  }
  io_uring_cq_advance(&ring_, taken);
}

void uring_backend::dispatch() {
  // Callbacks may add watchers (slots_ may reallocate: index it afresh each time) and remove
  // them (their ready bits are cleared, so they are skipped); nothing is appended to ready_.
  for (std::size_t i = 0; i < ready_.size(); ++i) {
    slot &s = slots_[ready_[i]];
    const std::uint32_t bits = s.ready;
    s.ready = 0;
    watcher *w = s.w;
    if (bits == 0 || w == nullptr) {
      continue;
    }
    const std::uint32_t revents = bits & (w->events_ | ev_err | ev_hup);
    if (revents != 0) {
      w->on_events(w, revents);
    }
  }
  ready_.clear();
  // Requests complete after the readiness of the same batch, in completion order. A callback
  // may submit more; they complete in a later batch.
  dispatch_requests();
}

// ---- The probe -------------------------------------------------------------------------------

namespace {

std::string errno_text(int error) {
  return std::strerror(error);
}

// Takes the completions in the ring, waiting up to 50 ms for one when there is none.
void collect(io_uring &ring, std::vector<io_uring_cqe> &out) {
  if (io_uring_cq_ready(&ring) == 0) {
    __kernel_timespec limit{0, 50'000'000};
    io_uring_cqe *first = nullptr;
    io_uring_submit_and_wait_timeout(&ring, &first, 1, &limit, nullptr);
  }
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe *cqe;
  io_uring_for_each_cqe(&ring, head, cqe) {
    out.push_back(*cqe);
    ++seen;
  }
  io_uring_cq_advance(&ring, seen);
}

// Waits (bounded: about a second) until `count` completions tagged `tag` arrived; returns
// them, and every other completion taken meanwhile in `others`.
std::vector<io_uring_cqe> await_completions(io_uring &ring, std::uint64_t tag, std::size_t count,
                                            std::vector<io_uring_cqe> &others) {
  std::vector<io_uring_cqe> found;
  for (int round = 0; round < 20 && found.size() < count; ++round) {
    std::vector<io_uring_cqe> batch;
    collect(ring, batch);
    for (const auto &cqe : batch) {
      (cqe.user_data == tag ? found : others).push_back(cqe);
    }
  }
  return found;
}

// Whether a multishot receive selecting from a provided buffer ring (IOU_PBUF_RING, Linux 5.19;
// IORING_RECV_MULTISHOT, 6.0) works: one byte sent over a socket pair must arrive in a provided
// buffer with the request still armed, and a cancellation must end it.
bool exercise_recv_multishot(io_uring &ring) {
  constexpr std::size_t page = 4096;
  constexpr unsigned entries = 2;
  constexpr unsigned buffer_size = 64;
  constexpr std::uint16_t group = 7;
  void *memory =
      ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    return false;
  }
  auto *buffers = static_cast<unsigned char *>(memory) + page;
  auto *br = static_cast<io_uring_buf_ring *>(memory);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(br);
  reg.ring_entries = entries;
  reg.bgid = group;
  if (io_uring_register_buf_ring(&ring, &reg, 0) != 0) {
    ::munmap(memory, 2 * page);
    return false;
  }
  io_uring_buf_ring_init(br);
  for (unsigned i = 0; i < entries; ++i) {
    io_uring_buf_ring_add(br, buffers + i * buffer_size, buffer_size,
                          static_cast<unsigned short>(i), io_uring_buf_ring_mask(entries),
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(br, entries);
  bool works = false;
  bool ended = false;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) == 0) {
    constexpr std::uint64_t receive_tag = 10;
    constexpr std::uint64_t cancel_tag = 11;
    const char byte = 'x';
    std::vector<io_uring_cqe> others;
    if (::write(pair[1], &byte, 1) == 1) {
      io_uring_sqe *sqe = io_uring_get_sqe(&ring);
      io_uring_prep_recv_multishot(sqe, pair[0], nullptr, 0, 0);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = group;
      io_uring_sqe_set_data64(sqe, receive_tag);
      io_uring_submit(&ring);
      const std::vector<io_uring_cqe> got = await_completions(ring, receive_tag, 1, others);
      works = got.size() == 1 && got[0].res == 1 && (got[0].flags & IORING_CQE_F_BUFFER) != 0 &&
              (got[0].flags & IORING_CQE_F_MORE) != 0 &&
              buffers[(got[0].flags >> IORING_CQE_BUFFER_SHIFT) * buffer_size] == 'x';
      ended = !got.empty() && (got.back().flags & IORING_CQE_F_MORE) == 0;
      if (!ended) {
        sqe = io_uring_get_sqe(&ring);
        io_uring_prep_cancel64(sqe, receive_tag, 0);
        io_uring_sqe_set_data64(sqe, cancel_tag);
        io_uring_submit(&ring);
        const std::vector<io_uring_cqe> last = await_completions(ring, receive_tag, 1, others);
        ended = !last.empty() && (last.back().flags & IORING_CQE_F_MORE) == 0;
        works = works && ended;
      }
    } else {
      ended = true;
    }
    ::close(pair[0]);
    ::close(pair[1]);
  }
  io_uring_unregister_buf_ring(&ring, group);
  if (ended) {
    ::munmap(memory, 2 * page); // else the kernel may still name it: it stays mapped
  }
  return works;
}

// Checks on a live ring what the engine relies on. Returns an empty string, or why not.
std::string exercise_ring(io_uring &ring, unsigned flags, bool *cancel_any, bool *multishot) {
  if ((flags & IORING_SETUP_R_DISABLED) != 0) {
    if (int result = enable_ring(ring); result < 0) {
      return "enabling an io_uring failed: " + errno_text(-result);
    }
  }
  if ((ring.features & IORING_FEAT_EXT_ARG) == 0) {
    return "the kernel lacks IORING_FEAT_EXT_ARG (Linux 5.11 or later is needed)";
  }
  if ((ring.features & IORING_FEAT_NODROP) == 0) {
    return "the kernel lacks IORING_FEAT_NODROP (Linux 5.5 or later is needed)";
  }
  io_uring_probe *ops = io_uring_get_probe_ring(&ring);
  if (ops == nullptr) {
    return "the kernel cannot list io_uring's operations (Linux 5.6 or later is needed)";
  }
  const struct {
    int op;
    const char *name;
  } needed[] = {{IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"},
                {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"},
                {IORING_OP_READ, "IORING_OP_READ"},
                {IORING_OP_RECV, "IORING_OP_RECV"},
                {IORING_OP_SEND, "IORING_OP_SEND"},
                {IORING_OP_RECVMSG, "IORING_OP_RECVMSG"},
                {IORING_OP_SENDMSG, "IORING_OP_SENDMSG"}};
  for (const auto &op : needed) {
    if (!io_uring_opcode_supported(ops, op.op)) {
      io_uring_free_probe(ops);
      return std::string("the kernel lacks ") + op.name;
    }
  }
  io_uring_free_probe(ops);

  // A multishot poll on an eventfd that is already readable must report it and stay armed;
  // cancelling it must end it with -ECANCELED.
  int fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    return "eventfd failed: " + errno_text(errno);
  }
  constexpr std::uint64_t poll_tag = 7;
  constexpr std::uint64_t cancel_tag = 8;
  std::string failure;
  std::vector<io_uring_cqe> others;
  io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  io_uring_prep_poll_multishot(sqe, fd, POLLIN);
  io_uring_sqe_set_data64(sqe, poll_tag);
  std::vector<io_uring_cqe> polled = await_completions(ring, poll_tag, 1, others);
  if (polled.empty()) {
    failure = "a multishot poll request did not complete";
  } else if (polled[0].res < 0) {
    failure = "a multishot poll request failed: " + errno_text(-polled[0].res);
  } else if ((polled[0].flags & IORING_CQE_F_MORE) == 0) {
    failure = "the kernel lacks multishot poll requests (Linux 5.13 or later is needed)";
  } else {
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_cancel64(sqe, poll_tag, 0);
    io_uring_sqe_set_data64(sqe, cancel_tag);
    io_uring_submit(&ring);
    std::vector<io_uring_cqe> ended = await_completions(ring, poll_tag, 1, others);
    if (ended.empty() || ended.back().res != -ECANCELED ||
        (ended.back().flags & IORING_CQE_F_MORE) != 0) {
      failure = "cancelling a multishot poll request did not end it";
    } else if (others.empty() && await_completions(ring, cancel_tag, 1, others).empty()) {
      failure = "a cancellation did not complete";
    }
  }
  ::close(fd);
  if (!failure.empty()) {
    return failure;
  }
  // With nothing left to complete, a wait with a timeout must time out.
  __kernel_timespec limit{0, 1'000'000};
  io_uring_cqe *first = nullptr;
  if (int result = io_uring_submit_and_wait_timeout(&ring, &first, 1, &limit, nullptr);
      result != -ETIME) {
    return "a timed io_uring wait did not time out (" +
           (result < 0 ? errno_text(-result) : std::string("a completion arrived")) + ")";
  }
  // I/O requests need a cancellation of every request at once when a loop stops
  // (IORING_ASYNC_CANCEL_ANY, Linux 5.19): with nothing to cancel it ends with -ENOENT, on an
  // older kernel with -EINVAL. Without it the engine still polls, but takes no requests.
  constexpr std::uint64_t cancel_any_tag = 9;
  io_uring_sqe *any = io_uring_get_sqe(&ring);
  io_uring_prep_cancel64(any, 0, IORING_ASYNC_CANCEL_ANY);
  io_uring_sqe_set_data64(any, cancel_any_tag);
  io_uring_submit(&ring);
  std::vector<io_uring_cqe> unrelated;
  const std::vector<io_uring_cqe> answered = await_completions(ring, cancel_any_tag, 1, unrelated);
  *cancel_any = !answered.empty() && answered[0].res != -EINVAL;
  // Multishot receives for receive events need requests too (a loop's stop cancels them).
  *multishot = *cancel_any && exercise_recv_multishot(ring);
  return {};
}

uring_support run_probe() {
  uring_support support;
  if (const char *forced = std::getenv("UWSK_TEST_URING_UNAVAILABLE");
      forced != nullptr && *forced != '\0') {
    support.error = ENOSYS;
    support.reason = std::string(forced) + " (UWSK_TEST_URING_UNAVAILABLE is set)";
    return support;
  }
  io_uring ring{};
  int result = -EINVAL;
  unsigned flags = 0;
  const char *no_defer = std::getenv("UWSK_TEST_URING_NO_DEFER");
  const bool defer_allowed = no_defer == nullptr || *no_defer == '\0';
  for (unsigned candidate : setup_flag_sets) {
    if (!defer_allowed && (candidate & IORING_SETUP_DEFER_TASKRUN) != 0) {
      continue; // as on a kernel before 6.1 (tests only)
    }
    result = setup_ring(ring, candidate);
    if (result != -EINVAL) {
      flags = candidate;
      break;
    }
  }
  if (result < 0) {
    support.error = -result;
    support.reason = "io_uring_setup failed: " + errno_text(-result);
    if (result == -EPERM) {
      support.reason += " (io_uring is disabled: see the sysctl kernel.io_uring_disabled, or a "
                        "seccomp filter such as a container's)";
    } else if (result == -ENOSYS) {
      support.reason += " (the kernel has no io_uring, or a seccomp filter hides it)";
    } else if (result == -EINVAL) {
      support.reason += " (the kernel is too old)";
    }
    return support;
  }
  bool cancel_any = false;
  bool multishot = false;
  std::string failure = exercise_ring(ring, flags, &cancel_any, &multishot);
  io_uring_queue_exit(&ring);
  if (!failure.empty()) {
    support.error = EOPNOTSUPP;
    support.reason = failure;
    return support;
  }
  support.available = true;
  support.setup_flags = flags;
  support.io_requests = cancel_any;
  support.recv_multishot = multishot;
  return support;
}

std::mutex g_probe_lock;
std::optional<uring_support> g_probe; // guarded by g_probe_lock

} // namespace

uring_support probe_uring() {
  std::lock_guard guard(g_probe_lock);
  if (!g_probe) {
    g_probe = run_probe();
  }
  return *g_probe;
}

void forget_uring_probe() {
  std::lock_guard guard(g_probe_lock);
  g_probe.reset();
}

std::unique_ptr<io_backend> make_uring_backend() {
  const uring_support support = probe_uring();
  if (!support.available) {
    throw std::system_error(support.error, std::generic_category(),
                            "the io_uring engine is unavailable: " + support.reason);
  }
  return std::make_unique<uring_backend>(support.setup_flags, support.io_requests,
                                         support.recv_multishot);
}

} // namespace uwsk::net

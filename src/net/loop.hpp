// One I/O event loop: a thread that waits for socket readiness, runs posted tasks and fires
// timers. The WSK provider runs each socket on one loop (see engine.hpp).
//
// This layer knows file descriptors, readiness bits, tasks and timers; it never sees IRPs, MDLs
// or NTSTATUS. Tasks, watchers and timers are intrusive: the owner embeds them in its own
// objects (recovering the owner with CONTAINING_RECORD or a base-class cast) and the loop never
// allocates for them.
//
// A loop waits through one of two kernel interfaces, its engine (engine_kind): epoll, or
// io_uring with multishot poll requests. Both give every guarantee below; what differs is kept
// inside backend.hpp, loop_epoll.cpp and loop_uring.cpp.
//
// Lifetime rules (the rest of this header points back to them):
//  1. A task belongs to the loop from a post() that returns true until its run function is
//     called. Meanwhile the owner must keep it alive and must not post it again. The loop does
//     not touch a task once run has been called, so run may free or re-post it.
//  2. A watcher belongs to the loop from add() until remove() returns. remove() must be called
//     before the watcher's fd is closed. After remove() returns, no callback runs for it, even
//     if the batch of events being dispatched still holds one for it, and the kernel holds no
//     reference to its fd, so the owner may close the fd and free the watcher (and reuse its
//     memory, even as a new watcher) straight away.
//  3. A timer belongs to the loop from arm_timer() until it fires (on_expire is being called)
//     or cancel_timer() returns. After that the loop does not touch it.
//  4. add/modify/remove, arm_timer/cancel_timer and the callbacks all run on the loop thread,
//     so they need no locks among themselves. Only post(), request_stop(), stop() and the
//     counters may be used from other threads.
//  5. Once the loop stops (request_stop() or stop()), watchers and timers still registered get
//     no more callbacks; their owners free them. Queued tasks still run (see request_stop()),
//     and so do the completions of I/O requests still in the kernel (rule 6).
//  6. An I/O request belongs to the loop from a submit() that returns 0 until its on_complete
//     is called, exactly once, on the loop thread (also after cancel()); a multishot receive
//     (io_kind::recv_multishot) until the call whose more() is false, its last. Meanwhile the
//     owner keeps the request, its iovec array and the memory the iovecs name alive and
//     unchanged, and keeps the fd open: the kernel may be reading or writing that memory until
//     then.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

namespace uwsk::net {

class loop;
class io_backend;
class epoll_backend;
class uring_backend;
class receive_buffers;

// The kernel interface a loop waits through. engine.hpp says how one is chosen.
enum class engine_kind : std::uint8_t {
  epoll, // epoll(7), edge-triggered: always available
  uring, // io_uring(7) multishot poll requests: Linux 5.13 or later, when io_uring is allowed
};

// "epoll" or "uring".
const char *engine_kind_name(engine_kind kind);

// Readiness bits for watchers. They are the epoll(7) bits, which are also the poll(2) bits that
// io_uring poll requests report, so both engines pass them through unchanged. One difference:
// epoll reports the descriptor's state, an io_uring poll completion usually the bits of the
// wake-up behind it, and TCP wakes readers with EPOLLPRI for every arrival, so ev_pri means
// "urgent data is queued" only on the epoll engine.
inline constexpr std::uint32_t ev_in = EPOLLIN;       // readable, or a connection to accept
inline constexpr std::uint32_t ev_out = EPOLLOUT;     // writable, or a connect finished
inline constexpr std::uint32_t ev_rdhup = EPOLLRDHUP; // the peer shut down its sending side
inline constexpr std::uint32_t ev_pri = EPOLLPRI;     // urgent (TCP out-of-band) data is queued
inline constexpr std::uint32_t ev_err = EPOLLERR;     // always reported: SO_ERROR has an error
inline constexpr std::uint32_t ev_hup = EPOLLHUP;     // always reported: both directions closed

// A unit of work to run on a loop thread. Rule 1 above gives its lifetime.
struct task {
  task *next = nullptr;          // owned by the loop while the task is posted
  void (*run)(task *) = nullptr; // called once on the loop thread
};

// Interest in the readiness of one file descriptor. Rule 2 above gives its lifetime.
//
// Watchers are edge-triggered (EPOLLET, or an io_uring multishot poll): on_events reports readiness
// that *arrives* (new data or a new connection, a finished connect, send space freed after a send
// hit EAGAIN), not readiness that persists: data left unread gives no further callback until more
// arrives. That fits "try the system call first": the owner keeps a per-direction "may be ready"
// flag, sets it in on_events, clears it only when a call returns EAGAIN, and while it is set
// simply retries the call instead of waiting. Interest can then stay armed for the socket's
// whole life with no system call per operation, and without the busy loop a level-triggered
// registration causes while data waits for a consumer that has no buffer yet. An owner that
// would rather disarm a direction it no longer needs uses modify(); re-arming reports the fd at
// once if it is ready (both engines re-check readiness when interest changes), so nothing is lost
// between an EAGAIN and the re-arm. A watcher gets at most one callback per loop iteration.
// Only descriptors that support poll(2) can be watched (sockets, pipes, eventfds, ...).
struct watcher {
  int fd = -1;
  // Called on the loop thread with the ready bits among those armed, plus ev_err and ev_hup,
  // which are always reported. Never called with 0.
  void (*on_events)(watcher *, std::uint32_t revents) = nullptr;

  // The directions currently armed (ev_in, ev_out, ev_rdhup, ev_pri); read on the loop thread.
  std::uint32_t events() const { return events_; }

private:
  friend class loop;
  friend class epoll_backend;
  friend class uring_backend;
  std::uint32_t events_ = 0;
  std::uint32_t slot_ = 0; // io_uring engine: its entry in the loop's table of watchers
  loop *loop_ = nullptr;   // the loop it is added to, or nullptr
};

// What an I/O request does.
enum class io_kind : std::uint8_t {
  recv, // recvmsg(2) into the iovecs
  send, // sendmsg(2) from the iovecs (MSG_NOSIGNAL is always added)
  // Receives into the loop's provided buffers (receive_buffers.hpp) until it ends: one callback
  // per arrival, each with the buffer the kernel filled (no iovecs). It ends (more() false) on
  // the end of the stream (0), an error, -ENOBUFS (no buffer left), cancellation, or when the
  // kernel stops it for its own reasons; the owner arms it again if it still wants it.
  recv_multishot,
};

// One receive or send performed by the engine itself rather than by its owner after a
// readiness report: the io_uring engine hands it to the kernel (IORING_OP_RECV/SEND for one
// iovec, IORING_OP_RECVMSG/SENDMSG for more), which moves the bytes straight between the socket
// and the iovecs' memory when the socket is ready. Rule 6 above gives its lifetime. Only
// engines that say so (loop::supports_io_requests) take them; the epoll engine does not, and
// its owners use a watcher and the system call themselves.
//
// At most one request per fd and direction should be in the kernel at a time when the bytes'
// order matters (a stream socket), or one chain of them (loop::submit_linked): the kernel does
// not promise to run two unlinked receives, or two sends, on one socket in submission order.
struct io_request {
  int fd = -1;
  io_kind kind = io_kind::recv;
  const iovec *iov = nullptr;
  unsigned iov_count = 0; // 1 .. IOV_MAX
  int flags = 0;          // MSG_* flags for recvmsg/sendmsg (MSG_WAITALL, ...)
  // Called once on the loop thread with the bytes moved (0 for a receive: end of stream) or
  // -errno (-ECANCELED: cancelled before any byte moved). The request is the owner's again
  // from the call on, so it may be submitted again, or freed, inside the callback. A multishot
  // receive's is called once per completion; the request is the owner's again from the call
  // whose more() is false.
  void (*on_complete)(io_request *, long result) = nullptr;

  // Submitted and its callback not yet called; read on the loop thread.
  bool in_flight() const { return loop_ != nullptr; }
  // Inside on_complete of a multishot receive: whether the kernel filled a provided buffer for
  // this call (then `result` bytes of it; the owner holds it until receive_buffers::release),
  // which one, and whether more calls follow.
  bool has_buffer() const { return has_buffer_; }
  std::uint16_t buffer_id() const { return buffer_id_; }
  bool more() const { return more_; }

private:
  friend class loop;
  friend class uring_backend;
  msghdr message_{};           // the kernel reads it (RECVMSG/SENDMSG) until the completion
  io_request *next_ = nullptr; // the backend's list of completions to dispatch
  long result_ = 0;            // the kernel's result, kept until the callback
  loop *loop_ = nullptr;
  bool cancel_sent_ = false;
  bool has_buffer_ = false;
  bool more_ = false;
  std::uint16_t buffer_id_ = 0;
};

// A one-shot deadline on one loop. Rule 3 above gives its lifetime.
struct timer {
  using clock = std::chrono::steady_clock;

  void (*on_expire)(timer *) = nullptr; // called once on the loop thread when it fires

  // Armed and not yet fired or cancelled; read on the loop thread.
  bool armed() const { return index_ != not_armed; }
  clock::time_point deadline() const { return deadline_; }

private:
  friend class loop;
  static constexpr std::size_t not_armed = SIZE_MAX;
  clock::time_point deadline_{};
  std::uint64_t sequence_ = 0;    // arm order, to fire equal deadlines first come, first served
  std::size_t index_ = not_armed; // position in the loop's heap
};

// Called on the loop's own thread: on_start before the first iteration (the provider sets the
// simulated IRQL and the thread's log name there), on_stop after the last task ran, and
// before_wait at each iteration before it waits for I/O (the provider writes the log lines its
// callbacks made in the iteration there). before_wait is a plain pointer: it runs every turn.
struct loop_hooks {
  std::function<void(loop &)> on_thread_start;
  std::function<void(loop &)> on_thread_stop;
  void (*before_wait)() = nullptr;
};

class loop {
public:
  // Events taken from the kernel per wait by the epoll engine. The io_uring engine takes up to
  // four times as many completions, since one watcher may have several in one iteration (they
  // are merged into one callback).
  static constexpr int batch_size = 64;

  // Creates the kernel objects of the engine chosen for the process (engine.hpp:
  // resolve_engine(engine_choice::from_environment)) and the wake-up eventfd; throws
  // std::system_error when the system refuses them, or when io_uring was asked for explicitly
  // and is unavailable. The thread starts with start().
  explicit loop(std::size_t index = 0, loop_hooks hooks = {});
  // The same, on the given engine.
  loop(std::size_t index, loop_hooks hooks, engine_kind kind);
  // Stops the loop (stop()) if it still runs. No thread may still be inside post().
  ~loop();
  loop(const loop &) = delete;
  loop &operator=(const loop &) = delete;

  // Starts the loop thread. Call once.
  void start();

  // Queues t to run on the loop thread; any thread may call it, including the loop thread.
  // Tasks run after the current batch of I/O events, each exactly once, in post order for any
  // one posting thread (tasks posted by a task run in a later iteration, after I/O had a
  // turn). No allocation and no lock: one compare-and-swap, and an eventfd write only for the
  // first post after the loop went to sleep. Returns false, without queueing, once the loop has
  // stopped (the caller keeps the task); true means the task will run (rule 1).
  bool post(task *t);

  // True on this loop's thread.
  bool in_loop_thread() const { return current() == this; }
  // The loop whose thread is calling, or nullptr.
  static loop *current();

  // Watchers, on the loop thread only (rule 2). events is a mask of ev_in, ev_out, ev_rdhup
  // and ev_pri (0 is allowed: then only ev_err and ev_hup are reported). Each returns 0 or
  // -errno: -EPERM for a regular file or a directory, -EBADF for a bad descriptor, or what the
  // kernel refused (e.g. -ENOSPC at epoll's watch limit).
  int add(watcher *w, std::uint32_t events);
  int modify(watcher *w, std::uint32_t events);
  int remove(watcher *w);

  // I/O requests, on the loop thread only (rule 6).
  // Whether this loop's engine performs I/O requests (the io_uring engine does).
  bool supports_io_requests() const;
  // Queues r for the kernel; it is handed over with the loop's next wait, together with
  // everything else queued in the same iteration (one io_uring_enter per iteration). Returns 0,
  // or -EOPNOTSUPP when the engine takes no requests, -EINVAL for a request without iovecs or
  // callback, -ESHUTDOWN once the loop is stopping; r is then the caller's again and no
  // callback follows.
  int submit(io_request *r);
  // Queues requests[0 .. count) as one chain (IOSQE_IO_LINK): the kernel starts each only
  // after the one before it has completed, so receives (or sends) on one socket move their
  // bytes in this order. A short result does not end the chain (for a request without
  // MSG_WAITALL: with it, a short one does); a result < 0 does, and every request after it
  // then completes with -ECANCELED, having moved nothing. Each completes once, in chain order,
  // as with submit(). A request the kernel has not started yet cannot be cancelled (cancel()
  // on it may do nothing): to stop one, cancel the first of its chain not yet completed.
  // Returns 0, or what submit() returns for the first request it refuses (none is queued then).
  // Loop thread only; count <= max_linked.
  static constexpr std::size_t max_linked = 16;
  int submit_linked(io_request *const *requests, std::size_t count);
  // The loop's provided receive buffers (receive_buffers.hpp), made on the first call with
  // `headroom` bytes before each buffer for the owner's header; nullptr when the engine has
  // none (epoll, a kernel without buffer rings or multishot receives, no memory). Loop thread.
  // multishot receives need them: submit refuses one with -EOPNOTSUPP before they exist.
  receive_buffers *provided_buffers(std::size_t headroom);
  // Asks the kernel to stop r early. The callback still comes, exactly once: with -ECANCELED
  // when no byte moved, or with what the request did if it finished first (a receive that got
  // data reports it; nothing is lost). Does nothing for a request not in flight, or one whose
  // cancellation is already asked for.
  void cancel(io_request *r);

  // Timers, on the loop thread only (rule 3). Arming an armed timer moves its deadline. Timers
  // fire after the I/O events of an iteration, in deadline order (equal deadlines in arm
  // order), never before the deadline and, when the loop was idle, shortly after it: the
  // epoll engine sleeps in whole milliseconds (up to about a millisecond late), the io_uring
  // engine to the nanosecond (the kernel's timer slack). A timer armed while timers are
  // firing fires in a later iteration at the earliest, so a timer that re-arms itself in the
  // past cannot starve I/O. cancel_timer on a timer that is not armed does nothing.
  void arm_timer(timer *t, timer::clock::time_point deadline);
  void cancel_timer(timer *t);

  // Asks the loop to stop, from any thread; idempotent. The loop finishes its iteration, then
  // runs every task queued before it closes its queue (including tasks those tasks post), and
  // exits; I/O callbacks and timers no longer run. post() returns false from then on.
  void request_stop();
  // request_stop(), then waits for the thread to exit. Idempotent. Not on the loop's own
  // thread (it would wait for itself): that is reported and aborts.
  void stop();

  std::size_t index() const { return index_; }
  engine_kind kind() const { return kind_; }
  // Eventfd writes so far: at most one per time the loop went to sleep. For tests and gates.
  std::uint64_t wakeups() const { return wakeups_.load(std::memory_order_relaxed); }

private:
  struct stop_task : task {
    loop *owner = nullptr;
  };

  void run();
  void run_once();
  std::chrono::nanoseconds next_timeout() const;
  void expire_timers();
  void run_tasks();
  void close_queue();
  void wake();
  static void on_stop_task(task *t);

  // Timer heap, ordered by (deadline, sequence).
  bool timer_before(const timer *a, const timer *b) const;
  void heap_place(std::size_t index, timer *t);
  void heap_sift_up(std::size_t index);
  void heap_sift_down(std::size_t index);
  void heap_erase(std::size_t index);

  // The post queue: a lock-free stack of tasks, newest first, taken whole by the loop thread
  // and reversed into post order. Two marker values share the word: sleeping_marker() means
  // "empty, and the loop may be blocked in the kernel", so the producer that replaces it (and
  // only that one) writes the eventfd; closed_marker() means "stopped, refuse posts".
  std::atomic<task *> queue_head_{nullptr};
  task *sleeping_marker() { return &markers_[0]; }
  task *closed_marker() { return &markers_[1]; }
  task markers_[2];

  const std::size_t index_;
  const loop_hooks hooks_;
  const engine_kind kind_;
  // The engine's kernel objects and the wake-up eventfd. Created in the constructor, destroyed
  // in the destructor (not when the thread exits: see ~loop); wake() may use it from any thread.
  std::unique_ptr<io_backend> backend_;
  std::atomic<std::uint64_t> wakeups_{0};

  // Loop thread only.
  bool stopping_ = false;
  std::vector<timer *> timers_;
  std::uint64_t next_timer_sequence_ = 0;

  // Stop and join, from other threads.
  stop_task stop_task_;
  std::atomic<bool> stop_requested_{false};
  std::mutex join_lock_;
  std::thread thread_;
};

} // namespace uwsk::net

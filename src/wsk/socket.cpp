// Socket objects: creation, the loop attachment, the queues of parked IRPs, cancellation, and
// WskCloseSocket. The rules are in socket.hpp.
#include "wsk/socket.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <vector>

#include <uwsk/log.h>

#include "net/engine.hpp"
#include "net/report.hpp"
#include "net/socket_ops.hpp"
#include "nt/bugcheck.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/kthread.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/translate.hpp"
#include "wsk/violations.hpp"

namespace uwsk::wsk {
namespace {

// Inline completions nest when a completion routine starts the next operation, which completes
// inline in turn, and so on while data flows. Beyond this depth an operation that could finish
// is parked instead and the socket's loop completes it, so a driver that chains its I/O from
// completion routines cannot overflow its thread's stack.
constexpr int max_inline_depth = 8;
thread_local int inline_depth [[gnu::tls_model("initial-exec")]] = 0; // see thread_cache.hpp

constexpr ULONG socket_magic = 0x4b53574b; // "KWSK"
constexpr ULONG freed_magic = 0x44454552;  // "REED"

std::mutex live_lock;
LIST_ENTRY live_sockets = {&live_sockets, &live_sockets}; // guarded by live_lock
std::size_t live_count = 0;                               // guarded by live_lock

std::atomic<bool> engine_started{false};

// The engines' messages go to uwsk's log from the start: uwsk_set_engine may speak before any
// socket exists.
void net_message(const char *message) {
  uwsk_log_message("net", "%s", message);
}
[[maybe_unused]] const bool net_messages_logged = (net::set_report_sink(net_message), true);

// Closed sockets are not returned to the allocator at once: the newest `quarantine_size` of them
// stay readable, marked freed, with their dispatch pointer intact. A driver that calls
// `Socket->Dispatch->WskSend(Socket, ...)` after WskCloseSocket (or on a socket its accept
// event refused) then reaches the provider, which reports rule V30, instead of reading freed
// memory. About 1 KiB each; the oldest is freed when a newer one arrives.
constexpr std::size_t quarantine_size = 1024;
struct quarantine {
  std::mutex lock;
  socket_object *ring[quarantine_size] = {};
  std::size_t next = 0; // guarded by lock
  ~quarantine() {
    for (socket_object *s : ring) {
      delete s;
    }
  }
  void hold(socket_object *s) {
    socket_object *oldest = nullptr;
    {
      std::lock_guard guard(lock);
      oldest = ring[next];
      ring[next] = s;
      next = (next + 1) % quarantine_size;
    }
    delete oldest;
  }
};
quarantine closed_sockets;

// The loops run at DISPATCH_LEVEL: completion routines and event callbacks run there.
net::engine &engine() {
  static std::once_flag configured;
  std::call_once(configured, [] {
    net::engine_options options;
    options.hooks.on_thread_start = [](net::loop &loop) {
      char name[32];
      std::snprintf(name, sizeof(name), "uwsk-loop-%zu", loop.index());
      nt::mark_runtime_thread(name);
      nt::set_current_irql(DISPATCH_LEVEL);
    };
    net::engine::configure_instance(std::move(options));
  });
  net::engine &e = net::engine::instance();
  engine_started.store(true, std::memory_order_release);
  return e;
}

} // namespace

// The loop a new socket goes on, or NULL when the engine cannot start (no exception ever
// crosses into driver code).
net::loop *provider_loop() noexcept {
  try {
    return &engine().pick();
  } catch (const std::exception &e) {
    uwsk_log_message("wsk", "the I/O engine could not start: %s", e.what());
    return nullptr;
  }
}

namespace {

socket_object *owner_of(net::watcher *w) {
  return static_cast<socket_watcher *>(w)->owner;
}
socket_object *owner_of(net::task *t) {
  return static_cast<socket_task *>(t)->owner;
}

void on_socket_events(net::watcher *w, std::uint32_t events) {
  socket_object *s = owner_of(w);
  s->behaviour->on_events(s, events);
}

// The kick task: as if the socket had become readable and writable, parked IRPs are tried
// again, then what is due is indicated. (The release task waits for this task, so the socket
// is alive.)
void on_kick(net::task *t) {
  socket_object *s = owner_of(t);
  {
    std::lock_guard guard(s->lock);
    s->kick_posted = false;
  }
  s->behaviour->on_events(s, net::ev_in | net::ev_out);
}

// After the completion routine of a receive that ended a stalled receive event (irp_mark::
// resumes_events) ran: events may resume once no such receive is left (events.hpp rule 2).
void receive_delivered(socket_object *s) {
  std::lock_guard guard(s->lock);
  if (--s->ev.resuming == 0) {
    socket_kick_locked(s);
  }
}

// Frees the socket and then completes its close IRP (when there is one), and only then stops
// counting it against its registration: WskDeregister returns only after the close completion
// routine of every socket has run.
void free_socket(socket_object *s, PIRP close_irp = nullptr) {
  registration *reg = s->reg;
  release_control_state(s); // WskControlSocket's state: address-change IRPs, sharing, SD
  if (s->behaviour != nullptr) {
    s->behaviour->on_free(s); // indication buffers
  }
  {
    std::lock_guard guard(live_lock);
    RemoveEntryList(&s->links);
    --live_count;
  }
  if (s->fd >= 0) {
    net::sock::close(s->fd);
  }
  s->magic = freed_magic;
  closed_sockets.hold(s);
  if (close_irp != nullptr) {
    irp_complete(close_irp, STATUS_SUCCESS, 0);
  }
  registration_remove_socket(reg);
}

// Frees the socket once no parked IRP is left (a cancel routine may still be taking one out),
// then completes the close IRP: the close is the last completion of the socket.
void release_on_loop(net::task *t) {
  socket_object *s = owner_of(t);
  {
    std::lock_guard guard(s->lock);
    if (!s->attach_ran) {
      // Tasks from different threads may run in either order; the attach task must not run
      // after the socket is gone.
      s->loop->post(&s->release_task);
      return;
    }
    for (const op_queue &q : s->ops) {
      if (!q.idle()) {
        // A cancel routine owns an IRP still parked here (it needs the lock to unlink it), or
        // a thread is still running completion routines of the socket.
        s->loop->post(&s->release_task);
        return;
      }
    }
    if (s->kick_posted || s->ev.held || s->ev.resuming != 0 || s->fault_deliver_posted) {
      // The kick task, an accept event, or a delivery that resumes events still uses it.
      s->loop->post(&s->release_task);
      return;
    }
  }
  s->loop->cancel_timer(&s->ev.abort_timer); // a listener's inspection poll
  if (s->attached) {
    s->loop->remove(&s->watcher);
    s->attached = false;
  }
  free_socket(s, s->close_irp);
}

void attach_on_loop(net::task *t) {
  socket_object *s = owner_of(t);
  std::unique_lock guard(s->lock);
  s->attach_ran = true;
  if (s->release_requested) {
    return; // the release task frees the socket without ever watching it
  }
  s->watcher.fd = s->fd;
  s->watcher.on_events = on_socket_events;
  // Connection sockets on the epoll engine also watch for urgent data, which changes what a
  // short read means (socket_object::short_read_unsure; see publish for io_uring).
  const std::uint32_t urgent =
      s->cat == category::datagram || s->loop->kind() == net::engine_kind::uring ? 0 : net::ev_pri;
  if (s->loop->add(&s->watcher, net::ev_in | net::ev_out | net::ev_rdhup | urgent) == 0) {
    s->attached = true;
  }
}

// Cancel routine of every parked socket IRP: unlink it under the socket's lock, complete it.
VOID NTAPI cancel_parked(PDEVICE_OBJECT, PIRP irp) {
  IoReleaseCancelSpinLock(irp->CancelIrql);
  auto *s = irp_owner<socket_object>(irp);
  {
    std::lock_guard guard(s->lock);
    parked_list::unlink(irp);
    if ((irp_marks(irp) & irp_mark::creates_socket) != 0 && !s->release_requested) {
      // A cancelled WskSocketConnect: the socket it was making goes too.
      s->state = socket_state::closing;
      s->release_requested = true;
      s->loop->post(&s->release_task);
    } else if (s->state == socket_state::connecting &&
               IsListEmpty(&s->queue(queue_kind::connect))) {
      // A cancelled WskConnect (only one connect is ever in flight): the handshake is abandoned
      // and the socket is bound again, so the driver may connect again or close it.
      sockaddr unspec{};
      unspec.sa_family = AF_UNSPEC;
      net::sock::connect(s->fd, &unspec, sizeof(unspec));
      s->state = socket_state::bound;
    }
  }
  irp_complete(irp, STATUS_CANCELLED, 0);
}

// other-loop (docs/faults.md): delivers the finished IRPs of the queues in fault_deliver_kinds on
// this loop, which is not the socket's, until none is left to deliver.
void deliver_on_other_loop(net::task *t) {
  socket_object *s = owner_of(t);
  std::unique_lock guard(s->lock);
  while (s->fault_deliver_kinds != 0) {
    const unsigned kinds = s->fault_deliver_kinds;
    s->fault_deliver_kinds = 0;
    guard.unlock();
    for (int k = 0; k < static_cast<int>(queue_kind::count); ++k) {
      if ((kinds & (1U << k)) != 0) {
        deliver_finished(s, static_cast<queue_kind>(k));
      }
    }
    guard.lock();
  }
  s->fault_deliver_posted = false; // the release may free the socket from here on
}

// other-loop: hands the delivery of `kinds` to another loop than the socket's when the plan
// draws so. False when it did not (one loop only, or the draw said no): deliver here.
bool deliver_elsewhere(socket_object *s, unsigned kinds) {
  if (s->loop == nullptr ||
      !fault::happens(fault::stream::other_loop, fault::current().other_loop, s->fault_id,
                      s->fault_draws, "completions delivered on another loop")) {
    return false;
  }
  net::engine *e = net::engine::existing_instance();
  if (e == nullptr || e->size() < 2) {
    return false;
  }
  net::loop &other = e->at((s->loop->index() + 1) % e->size());
  std::lock_guard guard(s->lock);
  s->fault_deliver_kinds |= kinds;
  if (!s->fault_deliver_posted) {
    s->fault_deliver_posted = other.post(&s->fault_deliver_task);
    if (!s->fault_deliver_posted) {
      s->fault_deliver_kinds = 0;
      return false;
    }
  }
  return true;
}

// Fills in a new socket object, counts it, and puts it on a loop unless it is a basic socket.
void publish(socket_object *s, registration *reg, category cat, USHORT windows_family, int family,
             int type, int protocol, int fd, PVOID context, const void *client_dispatch,
             const socket_behaviour *behaviour, net::loop *loop) {
  s->magic = socket_magic;
  s->dispatch = provider_dispatch_for(cat);
  s->cat = cat;
  s->windows_family = windows_family;
  s->family = family;
  s->type = type;
  s->protocol = protocol;
  s->fd = fd;
  s->reg = reg;
  s->context = context;
  s->client_dispatch = client_dispatch;
  s->behaviour = cat != category::basic ? behaviour : nullptr;
  s->attach_task.run = attach_on_loop;
  s->attach_task.owner = s;
  s->release_task.run = release_on_loop;
  s->release_task.owner = s;
  s->kick_task.run = on_kick;
  s->kick_task.owner = s;
  s->watcher.owner = s;
  s->ev.inspect_link.owner = s;
  s->ev.abort_timer.owner = s;
  s->fault_deliver_task.run = deliver_on_other_loop;
  s->fault_deliver_task.owner = s;
  registration_add_socket(reg);
  // WSK_SET_STATIC_EVENT_CALLBACKS applies to every socket created afterwards.
  s->event_mask = static_event_mask(reg, cat);
  {
    std::lock_guard guard(live_lock);
    InsertTailList(&live_sockets, &s->links);
    ++live_count;
  }
  if (cat != category::basic) {
    s->loop = loop;
    // An io_uring poll report carries the bits of the wake-up that caused it, and TCP wakes
    // readers with EPOLLPRI for every arrival, so on that engine urgent data cannot be told
    // apart: there a short read never counts as an empty queue (only EAGAIN does).
    s->short_read_unsure = s->loop->kind() == net::engine_kind::uring;
    s->loop->post(&s->attach_task);
  }
}

} // namespace

void completion_batch::add(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  if (count_ < sizeof(inline_) / sizeof(inline_[0])) {
    inline_[count_++] = {irp, status, information};
    return;
  }
  // Rare: chain further IRPs through their (now free) list entries, keeping the result in the
  // IRP itself.
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  irp_link(irp)->Flink = reinterpret_cast<PLIST_ENTRY>(overflow_);
  overflow_ = irp;
}

void completion_batch::complete_all() {
  for (std::size_t i = 0; i < count_; ++i) {
    irp_complete(inline_[i].irp, inline_[i].status, inline_[i].information);
  }
  count_ = 0;
  // The overflow list was pushed in reverse; restore the order of completion.
  PIRP reversed = nullptr;
  while (overflow_ != nullptr) {
    PIRP next = reinterpret_cast<PIRP>(irp_link(overflow_)->Flink);
    irp_link(overflow_)->Flink = reinterpret_cast<PLIST_ENTRY>(reversed);
    reversed = overflow_;
    overflow_ = next;
  }
  while (reversed != nullptr) {
    PIRP next = reinterpret_cast<PIRP>(irp_link(reversed)->Flink);
    irp_complete(reversed, reversed->IoStatus.Status, reversed->IoStatus.Information);
    reversed = next;
  }
  if (deliver_kinds_ != 0) {
    socket_object *s = deliver_socket_;
    const unsigned kinds = deliver_kinds_;
    deliver_socket_ = nullptr;
    deliver_kinds_ = 0;
    if (fault::active() && fault::current().other_loop != 0 && deliver_elsewhere(s, kinds)) {
      return;
    }
    for (int k = 0; k < static_cast<int>(queue_kind::count); ++k) {
      if ((kinds & (1U << k)) != 0) {
        deliver_finished(s, static_cast<queue_kind>(k));
      }
    }
  }
}

void completion_batch::deliver_after(socket_object *s, queue_kind kind) {
  if (deliver_socket_ != nullptr && deliver_socket_ != s) {
    nt::bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
                 "uwsk internal error: one completion batch for two sockets", 0,
                 reinterpret_cast<ULONG_PTR>(s));
  }
  deliver_socket_ = s;
  deliver_kinds_ |= 1U << static_cast<unsigned>(kind);
}

std::size_t gather_buffer(PMDL mdl, SIZE_T offset, SIZE_T length, struct iovec *iov,
                          std::size_t capacity, SIZE_T *bytes) {
  net::sock::iovec_builder builder(iov, capacity, offset, length);
  for (; mdl != nullptr; mdl = mdl->Next) {
    void *base = MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute);
    if (!builder.add(base, MmGetMdlByteCount(mdl))) {
      break;
    }
  }
  if (bytes != nullptr) {
    *bytes = builder.bytes();
  }
  return builder.count();
}

bool buffer_valid(const buffer_view &buffer) {
  if (buffer.mdl == nullptr) {
    return buffer.length == 0;
  }
  if (buffer.offset > MmGetMdlByteCount(buffer.mdl) ||
      (buffer.length != 0 && buffer.offset == MmGetMdlByteCount(buffer.mdl))) {
    return false;
  }
  SIZE_T available = MmGetMdlByteCount(buffer.mdl) - buffer.offset;
  for (PMDL mdl = buffer.mdl->Next; mdl != nullptr && available < buffer.length; mdl = mdl->Next) {
    available += MmGetMdlByteCount(mdl);
  }
  return available >= buffer.length;
}

namespace {

// Under the lock: a finished IRP joins the end of its queue's finished list, its result kept in
// its IoStatus until its completion routine runs.
void record_result(PIRP irp, const attempt &result) {
  irp->IoStatus.Status = result.status;
  irp->IoStatus.Information = NT_SUCCESS(result.status) ? result.information : 0;
  if (result.resumes_events) {
    irp_marks(irp) |= irp_mark::resumes_events;
  }
}
void add_finished(socket_object *s, queue_kind kind, PIRP irp, const attempt &result) {
  record_result(irp, result);
  InsertTailList(&s->ops_of(kind).finished, irp_link(irp));
}

// Completes one IRP taken off a finished list, with the lock released, then lets receive events
// resume if it ended a stall.
void complete_finished(socket_object *s, PIRP irp) {
  const bool resumes = (irp_marks(irp) & irp_mark::resumes_events) != 0;
  ++inline_depth;
  irp_complete(irp, irp->IoStatus.Status, irp->IoStatus.Information);
  --inline_depth;
  if (resumes) {
    receive_delivered(s); // the socket lives on: the release waits for this delivery
  }
}

// With the lock held through `guard` and `q.delivering` set by this thread: runs the completion
// routines of the finished list in order (dropping the lock for each), then gives up delivery.
// Events that gave way to these IRPs get their turn from the loop.
void deliver_locked(socket_object *s, queue_kind kind, std::unique_lock<socket_lock> &guard) {
  op_queue &q = s->ops_of(kind);
  while (!IsListEmpty(&q.finished)) {
    PLIST_ENTRY link = RemoveHeadList(&q.finished);
    InitializeListHead(link);
    guard.unlock();
    complete_finished(s, irp_from_link(link));
    guard.lock();
  }
  q.delivering = false;
  if (s->event_mask != 0 && (kind == queue_kind::receive || kind == queue_kind::accept)) {
    socket_kick_locked(s);
  }
}

// inline=all (docs/faults.md): an operation that would block waits on the calling thread for
// its socket to become ready (at most inline_wait_ms in all), so that it finishes inline when the
// peer is quick enough. The lock stays held meanwhile: no later operation of its kind may take
// its data or its turn, and the loop's readiness pass for this socket waits (boundedly) too.
constexpr int inline_wait_ms = 20;
attempt wait_to_finish_inline(socket_object *s, queue_kind kind, PIRP irp, try_function try_op) {
  const short wanted = kind == queue_kind::receive || kind == queue_kind::accept ? POLLIN : POLLOUT;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(inline_wait_ms);
  attempt result = would_block();
  while (!result.finished && s->fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      break;
    }
    pollfd p{s->fd, wanted, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) {
      break;
    }
    if (wanted == POLLIN) {
      s->read_drained = false; // poll saw it readable: a read may find something
    }
    result = try_op(s, irp);
  }
  return result;
}

} // namespace

void socket_kick_locked(socket_object *s) {
  if (s->loop == nullptr || s->kick_posted || s->release_requested ||
      s->state == socket_state::closing) {
    return;
  }
  s->kick_posted = s->loop->post(&s->kick_task);
}

void deliver_finished(socket_object *s, queue_kind kind) {
  std::unique_lock guard(s->lock);
  op_queue &q = s->ops_of(kind);
  if (q.delivering || IsListEmpty(&q.finished)) {
    return; // the thread delivering runs these too
  }
  q.delivering = true;
  deliver_locked(s, kind, guard);
}

NTSTATUS start_operation(socket_object *s, queue_kind kind, PIRP irp, try_function try_op,
                         admit_function admit) {
  irp_set_owner(irp, s);
  op_queue &q = s->ops_of(kind);
  std::unique_lock guard(s->lock);
  // pend (docs/faults.md): the operation is left to the loop, as if the call were too deep.
  const bool too_deep = inline_depth >= max_inline_depth ||
                        (fault::active() && fault::current().pend != 0 &&
                         fault::happens(fault::stream::pend, fault::current().pend, s->fault_id,
                                        s->fault_draws, "operation pends"));
  attempt result;
  if (const NTSTATUS admitted = admit != nullptr ? admit(s) : STATUS_SUCCESS;
      !NT_SUCCESS(admitted)) {
    result = finished(admitted);
  } else if (q.parked.empty() && !too_deep) {
    result = try_op(s, irp);
    if (!result.finished && fault::active() && fault::current().inline_all) {
      result = wait_to_finish_inline(s, kind, irp, try_op);
    }
  } else {
    result = would_block(); // earlier operations of its kind come first
  }
  if (!result.finished || !q.parked.empty()) {
    if (q.parked.park(irp, cancel_parked)) {
      if (result.finished) {
        // Refused, behind parked operations: it fails in its turn.
        irp->IoStatus.Status = result.status;
        irp_marks(irp) |= irp_mark::refused;
      }
      if (too_deep) {
        socket_kick_locked(s); // the loop resumes the queue from a fresh stack
      }
      return STATUS_PENDING;
    }
    // Cancelled before it could be parked: it completes now, as a cancelled IRP may.
    guard.unlock();
    return irp_complete(irp, STATUS_CANCELLED, 0);
  }
  if (!q.idle()) {
    // Earlier completions of its kind are not yet delivered: it follows them.
    IoMarkIrpPending(irp);
    add_finished(s, kind, irp, result);
    if (q.delivering) {
      return STATUS_PENDING; // the delivering thread runs it
    }
    q.delivering = true;
    deliver_locked(s, kind, guard);
    return STATUS_PENDING;
  }
  // The queue is idle: complete inline, then deliver what was finished meanwhile (operations
  // its completion routine started, resumes on the loop).
  q.delivering = true;
  record_result(irp, result);
  guard.unlock();
  complete_finished(s, irp); // the IRP may be gone afterwards: return the status kept here
  guard.lock();
  deliver_locked(s, kind, guard);
  return result.status;
}

void resume_queue(socket_object *s, queue_kind kind, try_function try_op, completion_batch &done,
                  blocked_function blocked) {
  LIST_ENTRY &q = s->ops_of(kind).parked.head();
  PLIST_ENTRY link = q.Flink;
  while (link != &q) {
    PLIST_ENTRY next = link->Flink;
    PIRP irp = irp_from_link(link);
    const bool refused = (irp_marks(irp) & irp_mark::refused) != 0;
    if (!refused && blocked != nullptr && blocked(s, irp)) {
      return; // it stays parked, cancellable as it was
    }
    if (!irp_unpark(irp)) {
      // Being cancelled: it consumes nothing; its cancel routine unlinks it.
      link = next;
      continue;
    }
    attempt result = refused ? finished(irp->IoStatus.Status) : try_op(s, irp);
    if (!result.finished) {
      if (irp_repark(irp, cancel_parked)) {
        return;
      }
      result = finished(STATUS_CANCELLED);
    }
    parked_list::unlink(irp);
    add_finished(s, kind, irp, result);
    done.deliver_after(s, kind);
    link = next;
  }
}

void fail_queue(socket_object *s, queue_kind kind, NTSTATUS status, completion_batch &done) {
  s->ops_of(kind).parked.take_all([&](PIRP irp) {
    add_finished(s, kind, irp, finished(status));
    done.deliver_after(s, kind);
  });
}

NTSTATUS create_socket(registration *reg, USHORT windows_family, int type, int protocol,
                       category cat, PVOID context, const void *client_dispatch,
                       const socket_behaviour *behaviour, socket_object **out) {
  const int family = linux_family(windows_family);
  if (family < 0) {
    return STATUS_NOT_SUPPORTED;
  }
  const int fd = net::sock::open(family, type, protocol);
  if (fd < 0) {
    return -fd == EPERM || -fd == EACCES ? STATUS_ACCESS_DENIED : status_from_errno(-fd);
  }
  if (family == AF_INET6) {
    // Windows creates IPv6 sockets IPv6-only; Linux defaults to dual-stack.
    const int one = 1;
    net::sock::set_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  net::loop *loop = cat != category::basic ? provider_loop() : nullptr;
  auto *s = cat != category::basic && loop == nullptr ? nullptr : new (std::nothrow) socket_object;
  if (s == nullptr) {
    net::sock::close(fd);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  if (fault::active()) {
    s->fault_id = fault::new_object_id();
  }
  publish(s, reg, cat, windows_family, family, type, protocol, fd, context, client_dispatch,
          behaviour, loop);
  *out = s;
  return STATUS_SUCCESS;
}

socket_object *adopt_accepted(socket_object *listener, int fd, PVOID context,
                              const void *client_dispatch, bool held) {
  net::loop *loop = provider_loop();
  auto *s = loop != nullptr ? new (std::nothrow) socket_object : nullptr;
  if (s == nullptr) {
    return nullptr;
  }
  s->state = socket_state::connected;
  s->ev.held = held;
  if (fault::active()) {
    s->fault_id = fault::child_object_id(listener->fault_id, listener->fault_accepts++);
  }
  publish(s, listener->reg, category::connection, listener->windows_family, listener->family,
          listener->type, listener->protocol, fd, context, client_dispatch, listener->behaviour,
          loop);
  return s;
}

void destroy_unpublished(socket_object *s) {
  // The attach task may not have run yet; let the loop release the socket after it, without a
  // close IRP to complete.
  if (s->loop == nullptr) {
    free_socket(s);
    return;
  }
  std::lock_guard guard(s->lock);
  s->ev.held = false; // no accept event will release it
  s->release_requested = true;
  s->state = socket_state::closing;
  s->loop->post(&s->release_task);
}

NTSTATUS socket_close(socket_object *s, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (s->loop == nullptr) {
    // A basic socket has no loop and nothing parked: the close completes during the call.
    free_socket(s, irp);
    return STATUS_SUCCESS;
  }
  completion_batch done;
  {
    std::lock_guard guard(s->lock);
    if (s->release_requested) {
      nt::bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
                   "WskCloseSocket: the socket is already being closed (rule V30)",
                   violation::socket_not_open, reinterpret_cast<ULONG_PTR>(s));
    }
    // A connection not disconnected in both directions is disconnected abortively, as Windows
    // documents for WskCloseSocket: the peer sees a reset, not a FIN.
    const bool connection = s->cat == category::connection || s->cat == category::stream;
    if (connection && s->state == socket_state::connected && !s->aborted &&
        !(s->send_closed && (s->peer_closed || s->ev.fin_seen))) {
      const linger reset{1, 0};
      net::sock::set_option(s->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    }
    s->state = socket_state::closing;
    s->release_requested = true;
    for (int k = 0; k < static_cast<int>(queue_kind::count); ++k) {
      fail_queue(s, static_cast<queue_kind>(k), STATUS_CANCELLED, done);
    }
    s->behaviour->on_close_locked(s);
    IoMarkIrpPending(irp);
    s->close_irp = irp;
  }
  done.complete_all();
  s->loop->post(&s->release_task);
  return STATUS_PENDING;
}

category socket_category(const socket_object *s) {
  return s->cat;
}

bool socket_is_valid(const socket_object *s) {
  return s != nullptr && s->magic == socket_magic;
}

socket_object *socket_checked(void *socket, const char *function) {
  auto *s = static_cast<socket_object *>(socket);
  if (!socket_is_valid(s)) {
    const bool closed = s != nullptr && s->magic == freed_magic;
    uwsk_log_message("wsk", "%s: %p is not an open WSK socket (%s; rule V30)", function, socket,
                     closed ? "it was closed" : "closed, or never created");
    nt::bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
                 closed ? "a WSK function was called on a socket after WskCloseSocket (rule V30)"
                        : "a WSK function was called on a pointer that is not a WSK socket "
                          "(rule V30)",
                 violation::socket_not_open, reinterpret_cast<ULONG_PTR>(socket));
  }
  return s;
}

bool provider_engine_started() {
  return engine_started.load(std::memory_order_acquire);
}

namespace {

// A task posted to every loop; provider_quiesce waits until each has run it.
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

} // namespace

void provider_quiesce() {
  if (!provider_engine_started()) {
    return; // no loop ever ran, so no loop thread ran driver code
  }
  net::engine &e = engine();
  loop_barrier b;
  b.arrivals.resize(e.size());
  std::unique_lock guard(b.lock);
  for (std::size_t i = 0; i < e.size(); ++i) {
    b.arrivals[i].owner = &b;
    b.arrivals[i].run = arrive;
    if (e.at(i).in_loop_thread()) {
      continue; // cannot wait for itself; it is past any driver code of its own
    }
    if (e.at(i).post(&b.arrivals[i])) {
      ++b.left;
    }
  }
  b.all_ran.wait(guard, [&] { return b.left == 0; });
}

std::size_t live_socket_count() {
  std::lock_guard guard(live_lock);
  return live_count;
}

} // namespace uwsk::wsk

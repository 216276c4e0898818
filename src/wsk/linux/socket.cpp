// Socket objects: creation, the loop attachment, the queues of parked IRPs, cancellation, and
// WskCloseSocket. The rules are in linux/socket.hpp.
#include "wsk/linux/socket.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <vector>

#include <uwsk/log.h>

#include "net/engine.hpp"
#include "net/report.hpp"
#include "net/socket_ops.hpp"
#include <arpa/inet.h>

#include "nt/bugcheck.hpp"
#include "nt/dbg/activity.hpp"
#include "nt/dbg/log.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/ex/pool.hpp"
#include "win_constants.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/kthread.hpp"
#include "nt/ke/wait_assist.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/quarantine.hpp"
#include "wsk/linux/translate.hpp"
#include "wsk/provider_new.hpp"
#include "wsk/violations.hpp"
#include "wsk/callbacks.hpp"
#include "wsk/control.hpp"
#include "wsk/provider.hpp"
#include "wsk/registration.hpp"

namespace uwsk::wsk {
namespace {

// Inline completions nest when a completion routine starts the next operation, which completes
// inline in turn, and so on while data flows. Beyond this depth an operation that could finish
// is parked instead and the socket's loop completes it, so a driver that chains its I/O from
// completion routines cannot overflow its thread's stack.
constexpr int max_inline_depth = 8;
thread_local int inline_depth [[gnu::tls_model("initial-exec")]] = 0; // see thread_cache.hpp

constexpr ULONG socket_magic = 0x4b53574b;  // "KWSK"
constexpr ULONG freed_magic = 0x44454552;   // "REED"
constexpr ULONG refused_magic = 0x46455253; // "SREF": refused by the accept event (rule V55)

// The live sockets (the leak report), in buckets by address, each a list through
// socket_object::live_next, so that socket_pin tells whether a pointer is one of them without a
// table of its own: from publication until the release lets go of the socket (after which no
// waiting thread may pin it; free_socket follows). Guarded by live_lock; the buckets are made
// on first use and never destroyed (loop threads may outlive static destruction). A futex lock:
// every synchronous call that waits pins its socket through it twice (socket_pin), and nothing
// waits on it.
constinit nt::futex_lock live_lock;
std::size_t live_count = 0; // guarded by live_lock
constexpr std::size_t live_bucket_count = std::size_t{1} << 12;
socket_object **live_buckets() {
  static socket_object **const buckets = new socket_object *[live_bucket_count]();
  return buckets;
}
socket_object *&live_bucket_of(const socket_object *s) {
  // Fibonacci hashing of the address: sockets a few hundred bytes apart spread.
  const auto address = reinterpret_cast<std::uintptr_t>(s) >> 4;
  return live_buckets()[(address * 0x9E3779B97F4A7C15ull) >> 52];
}
static_assert(live_bucket_count == std::size_t{1} << (64 - 52), "the hash keeps the top 12 bits");
// Under live_lock: where the list of live sockets points to `s`, or NULL when it is not on it.
socket_object **live_place_of(const socket_object *s) {
  for (socket_object **p = &live_bucket_of(s); *p != nullptr; p = &(*p)->live_next) {
    if (*p == s) {
      return p;
    }
  }
  return nullptr;
}
// Under live_lock: takes `s` off the list of live sockets if it is on it.
void unlink_live_locked(socket_object *s) {
  if (socket_object **p = live_place_of(s); p != nullptr) {
    *p = s->live_next;
    s->live_next = nullptr;
    --live_count;
  }
}
std::atomic<std::uint64_t> next_serial{1};

std::atomic<bool> engine_started{false};

// The engines' messages go to uwsk's log from the start: uwsk_set_engine may speak before any
// socket exists.
void net_message(const char *message) {
  uwsk_log_message("net", "%s", message);
}
[[maybe_unused]] const bool net_messages_logged = (net::set_report_sink(net_message), true);

// Closed sockets are not returned to the allocator at once (quarantine.hpp): the newest 1024 of
// them stay readable, marked freed, with their dispatch pointer intact. A driver that calls
// `Socket->Dispatch->WskSend(Socket, ...)` after WskCloseSocket (or on a socket its accept
// event refused) then reaches the provider, which reports rule V30, instead of reading freed
// memory. About 1 KiB each; the oldest is freed when a newer one arrives.
quarantine_ring<socket_object, 1024> closed_sockets;

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
      // DbgPrint lines of the loop's callbacks go out together, once per loop iteration.
      nt::log_batch_lines(true);
    };
    options.hooks.before_wait = nt::log_flush_batch;
    options.hooks.on_thread_stop = [](net::loop &) {
      nt::log_flush_batch();
      nt::log_batch_lines(false);
    };
    net::engine::configure_instance(std::move(options));
    // Rules V50 and V51 name the socket of the callback that broke them.
    nt::activity::set_object_describer([](const void *object, char *out, unsigned long size) {
      describe_socket(static_cast<const socket_object *>(object), out, size);
    });
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

// The sockets of one loop whose reads are handed to waiting threads (hand_reads_locked), and the
// timer that checks them every hand_bound while there are any (on_hand_check): one timer per
// loop rather than one per socket. Only the loop's own thread reads or changes it.
struct hand_list : net::timer {
  std::vector<socket_object *> sockets; // sockets[s->hand_index] == s
};

// The list of `loop`: one for each loop of the engine, made on first use and kept for the
// process (loop threads may outlive static destruction).
hand_list &hand_list_of(net::loop *loop) {
  static hand_list *const lists = new hand_list[engine().size()];
  return lists[loop->index()];
}

// On the loop thread: puts `s` on its loop's list; false when there is no memory for it.
bool hand_list_add(socket_object *s) {
  hand_list &l = hand_list_of(s->loop);
  try {
    l.sockets.push_back(s);
  } catch (const std::bad_alloc &) {
    return false;
  }
  s->hand_index = static_cast<std::uint32_t>(l.sockets.size() - 1);
  return true;
}

// On the loop thread: takes `s` off its loop's list (the last one takes its place); the timer
// stops with the last one.
void hand_list_remove(socket_object *s) {
  hand_list &l = hand_list_of(s->loop);
  socket_object *last = l.sockets.back();
  l.sockets[s->hand_index] = last;
  last->hand_index = s->hand_index;
  l.sockets.pop_back();
  if (l.sockets.empty()) {
    s->loop->cancel_timer(&l);
  }
}

// The socket whose own watcher or task this is. socket_object is not standard-layout, but GCC
// and Clang lay out its first-level members in order, so the offset of one is well defined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
socket_object *socket_of_watcher(net::watcher *w) {
  return CONTAINING_RECORD(w, socket_object, watcher);
}
socket_object *socket_of_lifecycle_task(net::task *t) {
  return CONTAINING_RECORD(t, socket_object, lifecycle_task);
}
socket_object *socket_of_kick_task(net::task *t) {
  return CONTAINING_RECORD(t, socket_object, kick_task);
}
#pragma GCC diagnostic pop
// The socket of a task kept outside it (the ring's, the fault plan's).
socket_object *owner_of(net::task *t) {
  return static_cast<socket_task *>(t)->owner;
}

void on_socket_events(net::watcher *w, std::uint32_t events) {
  socket_object *s = socket_of_watcher(w);
  s->behaviour->on_events(s, events);
}

// The kick task: as if the socket had become readable and writable, parked IRPs are tried
// again, then what is due is indicated. (The release task waits for this task, so the socket
// is alive.)
void on_kick(net::task *t) {
  socket_object *s = socket_of_kick_task(t);
  {
    std::lock_guard guard(s->lock);
    s->kick_posted = false;
  }
  s->behaviour->on_events(s, net::ev_in | net::ev_out);
}

// Ring I/O, on the loop thread: whether the lane holds an IRP or has a request in the kernel.
bool ring_lane_active(const ring_lane &lane) {
  for (unsigned i = 0; i < lane.depth; ++i) {
    if (lane.slots[i] != nullptr && lane.slots[i]->in_flight()) {
      return true;
    }
  }
  return lane.busy();
}

// Ring I/O: the ring task carries out, on the loop thread, the cancellations cancel routines
// and closes asked for, and hands the queues' heads to the ring. (The release task waits for
// this task, so the socket is alive.)
void on_ring_task(net::task *t) {
  socket_object *s = owner_of(t);
  completion_batch done;
  {
    std::lock_guard guard(s->lock);
    s->ring_task_posted = false;
    ring_wake_locked(s, &done);
  }
}

// After the completion routine of a receive that ended a stalled receive event (irp_mark::
// resumes_events) ran: events may resume once no such receive is left (event rule 3).
void receive_delivered(socket_object *s) {
  std::lock_guard guard(s->lock);
  if (--s->ev.resuming == 0) {
    socket_kick_locked(s);
  }
}

// Frees the socket and then completes its close IRP (when there is one), and only then stops
// counting it against its registration: WskDeregister returns only after the close completion
// routine of every socket has run.
// One endpoint as "address:port" ("[address]:port" for IPv6), or "none".
void endpoint_text(const sockaddr_storage &a, socklen_t length, char *out, std::size_t size) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (length >= sizeof(sockaddr_in) && a.ss_family == AF_INET) {
    const auto &in = reinterpret_cast<const sockaddr_in &>(a);
    inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
    std::snprintf(out, size, "%s:%u", host, ntohs(in.sin_port));
  } else if (length >= sizeof(sockaddr_in6) && a.ss_family == AF_INET6) {
    const auto &in6 = reinterpret_cast<const sockaddr_in6 &>(a);
    inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
    std::snprintf(out, size, "[%s]:%u", host, ntohs(in6.sin6_port));
  } else {
    std::snprintf(out, size, "none");
  }
}

// A descriptor's two addresses (none when the kernel has none for it).
void read_endpoints(int fd, socket_endpoints &e) {
  e.local_length = sizeof e.local;
  if (fd < 0 ||
      net::sock::local_address(fd, reinterpret_cast<sockaddr *>(&e.local), &e.local_length) != 0) {
    e.local_length = 0;
  }
  e.remote_length = sizeof e.remote;
  if (fd < 0 ||
      net::sock::peer_address(fd, reinterpret_cast<sockaddr *>(&e.remote), &e.remote_length) != 0) {
    e.remote_length = 0;
  }
}

// "local A, remote B".
void endpoints_text(const socket_endpoints &e, char *out, std::size_t size) {
  char local[64];
  char remote[64];
  endpoint_text(e.local, e.local_length, local, sizeof local);
  endpoint_text(e.remote, e.remote_length, remote, sizeof remote);
  std::snprintf(out, size, "local %s, remote %s", local, remote);
}

// The same for a socket's descriptor now.
void endpoints_text(int fd, char *out, std::size_t size) {
  socket_endpoints e;
  read_endpoints(fd, e);
  endpoints_text(e, out, size);
}

// Keeps the socket's addresses (socket_object::endpoints) for the reports of later calls; they
// are formatted only if a report needs them (this runs for every socket that closes).
void record_endpoints(socket_object *s) {
  s->endpoints.reset(provider_new<socket_endpoints>());
  if (s->endpoints) {
    read_endpoints(s->fd, *s->endpoints);
  }
}

// What record_endpoints kept, as text, in a buffer of the calling thread's that the next call
// on that thread overwrites.
const char *recorded_endpoints(const socket_object *s) {
  if (!s->endpoints) {
    return "endpoints not recorded: no memory";
  }
  thread_local char text[160];
  endpoints_text(*s->endpoints, text, sizeof text);
  return text;
}

void free_socket(socket_object *s, PIRP close_irp = nullptr) {
  registration *reg = s->reg;
  release_control_state(s); // WskControlSocket's state: address-change IRPs, sharing, SD
  if (s->behaviour != nullptr) {
    s->behaviour->on_free(s); // indication buffers
  }
  {
    std::lock_guard guard(live_lock);
    unlink_live_locked(s); // unless the release did
  }
  // The endpoints a later report names (rules V30 and V55) are written before the magic that
  // publishes them (release; socket_checked reads it with acquire). A refused socket's were
  // written by socket_refuse and may be being read by now: they stay as they are.
  const bool refused = __atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) == refused_magic;
  if (!refused) {
    record_endpoints(s);
  }
  if (s->fd >= 0) {
    net::sock::close(s->fd);
  }
  if (!refused) {
    __atomic_store_n(&s->magic, freed_magic, __ATOMIC_RELEASE);
  }
  closed_sockets.hold(s);
  if (close_irp != nullptr) {
    irp_complete(close_irp, STATUS_SUCCESS, 0);
  }
  // Only now, after the close IRP's completion routine: WskDeregister may return at once
  // (registration rule 3).
  registration_remove_socket(reg);
}

// Frees the socket once no parked IRP is left (a cancel routine may still be taking one out),
// then completes the close IRP: the close is the last completion of the socket.
void release_on_loop(net::task *t) {
  socket_object *s = socket_of_lifecycle_task(t);
  {
    std::lock_guard guard(s->lock);
    for (int k = 0; k < static_cast<int>(queue_kind::count); ++k) {
      if (!s->queue_idle(static_cast<queue_kind>(k))) {
        // A cancel routine owns an IRP still parked here (it needs the lock to unlink it), or
        // a thread is still running completion routines of the socket.
        s->loop->post(&s->lifecycle_task);
        return;
      }
    }
    if (s->ring_task_posted ||
        (s->ring && (ring_lane_active(s->ring->receive) || ring_lane_active(s->ring->send) ||
                     (s->ring->multishot != nullptr && s->ring->multishot->in_flight())))) {
      // The kernel holds a request for the descriptor, or its IRP is not yet finished: the
      // descriptor stays open until its completion (net::loop rule 6).
      s->loop->post(&s->lifecycle_task);
      return;
    }
    if (s->kick_posted || s->ev.held || s->ev.resuming != 0 || s->fault_deliver_posted) {
      // The kick task, an accept event, or a delivery that resumes events still uses it.
      s->loop->post(&s->lifecycle_task);
      return;
    }
  }
  {
    // A waiting thread doing its own I/O on the socket (socket_assist_wait) holds it: the
    // release runs again when the last one lets go. No thread can pin it after this.
    std::lock_guard live(live_lock);
    if (s->assist_pins != 0) {
      s->release_deferred = true;
      return;
    }
    unlink_live_locked(s);
  }
  if (s->rare && s->rare->listener) {
    s->loop->cancel_timer(&s->rare->listener->abort_timer); // a listener's inspection poll
  }
  if (s->rare && s->rare->timers) {
    s->loop->cancel_timer(&s->rare->timers->dead_timer);   // rule V56
    s->loop->cancel_timer(&s->rare->timers->stall_timer);  // rule V53
    s->loop->cancel_timer(&s->rare->timers->memory_timer); // events_retry_for_memory
  }
  if (s->reads_handed) {
    hand_list_remove(s); // on the loop thread, where reads_handed changes
  }
  if (s->attached) {
    s->loop->remove(&s->watcher);
    s->attached = false;
  }
  free_socket(s, s->close_irp);
}

// What the loop watches on a socket.
std::uint32_t watched_events(const socket_object *s) {
  // Connection sockets on the epoll engine also watch for urgent data, which changes what a
  // short read means (socket_object::short_read_unsure; see publish for io_uring).
  const std::uint32_t urgent =
      s->cat == category::datagram || s->loop->kind() == net::engine_kind::uring ? 0 : net::ev_pri;
  // While a multishot receive reads the socket its completions say what arrived; polling the
  // reads too would only run a readiness pass per arrival that finds nothing to do.
  const std::uint32_t reads = s->ring && s->ring->shots ? 0 : net::ev_in;
  return reads | net::ev_out | net::ev_rdhup | urgent;
}

void attach_on_loop(net::task *t) {
  socket_object *s = socket_of_lifecycle_task(t);
  std::unique_lock guard(s->lock);
  s->attach_ran = true;
  s->lifecycle_task.run = release_on_loop; // the release task from now on
  if (s->release_requested) {
    // Requested before this ran, and left to this task (request_release_locked): the release
    // frees the socket without ever watching it.
    s->loop->post(&s->lifecycle_task);
    return;
  }
  s->watcher.fd = s->fd;
  s->watcher.on_events = on_socket_events;
  if (s->loop->add(&s->watcher, watched_events(s)) == 0) {
    s->attached = true;
  }
}

void add_finished(socket_object *s, queue_kind kind, PIRP irp, const attempt &result);
void deliver_locked(socket_object *s, queue_kind kind);

// Cancel routine of every parked socket IRP: unlink it under the socket's lock, complete it.
VOID NTAPI cancel_parked(PDEVICE_OBJECT, PIRP irp) {
  IoReleaseCancelSpinLock(irp->CancelIrql);
  auto *s = irp_owner<socket_object>(irp);
  completion_batch done;
  {
    std::lock_guard guard(s->lock);
    for (const queue_kind kind : {queue_kind::receive, queue_kind::send}) {
      ring_io *r = s->ring_slot(kind, irp);
      if (r == nullptr) {
        continue;
      }
      if (!r->done) {
        // The kernel holds its buffer: the request is cancelled, and its completion finishes
        // the IRP (with the bytes that moved, if any; nothing is lost).
        r->cancelled = true;
        ring_stop_locked(s, kind, STATUS_CANCELLED, irp);
        return;
      }
      // The request finished first and left the IRP to us: it completes with what it did,
      // after the IRPs of its queue finished before it (and those the ring finished after it
      // follow it).
      r->owned = true;
      ring_flush_locked(s, kind, done);
      ring_wake_locked(s, nullptr); // the next IRPs of the queue may go to the ring
      return;
    }
    // A receive or send that already moved bytes completes with them: a cancellation never
    // loses stream data.
    for (const queue_kind kind : {queue_kind::receive, queue_kind::send}) {
      if (s->behaviour == nullptr || s->behaviour->bytes_moved == nullptr ||
          (irp_marks(irp) & irp_mark::refused) != 0) {
        break;
      }
      const LIST_ENTRY &q = s->queue(kind);
      bool queued_here = false;
      for (PLIST_ENTRY link = q.Flink; link != &q; link = link->Flink) {
        queued_here = queued_here || irp_from_link(link) == irp;
      }
      const ULONG_PTR moved = queued_here ? s->behaviour->bytes_moved(irp, kind) : 0;
      if (moved != 0) {
        finish_parked(s, kind, irp, finished(STATUS_SUCCESS, moved), done);
        return;
      }
    }
    parked_list::unlink(irp);
    if ((irp_marks(irp) & irp_mark::creates_socket) != 0 && !s->release_requested) {
      // A cancelled WskSocketConnect: the socket it was making goes too.
      s->close_called.store(true, std::memory_order_relaxed); // never the client's (rule V42)
      s->state = socket_state::closing;
      request_release_locked(s);
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
      !socket_fault_happens(s, fault::stream::other_loop, fault::current().other_loop,
                            "completions delivered on another loop")) {
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
    s->fault_deliver_posted = other.post(&s->faults->deliver_task);
    if (!s->fault_deliver_posted) {
      s->fault_deliver_kinds = 0;
      return false;
    }
  }
  return true;
}

// Whether ring I/O is on: unless UWSK_RING_IO=0 (read once), for comparisons.
bool ring_io_enabled() {
  static const bool enabled = [] {
    const char *setting = std::getenv("UWSK_RING_IO");
    return setting == nullptr || std::strcmp(setting, "0") != 0;
  }();
  return enabled;
}

// Fills in a new socket object, counts it, and puts it on a loop unless it is a basic socket.
void publish(socket_object *s, registration *reg, category cat, USHORT windows_family, int family,
             int type, int protocol, int fd, PVOID context, const void *client_dispatch,
             const socket_behaviour *behaviour, net::loop *loop) {
  // Deliberate pair (duplicates): field initialisations, alike in shape only to io/csq.cpp's.
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
  s->lifecycle_task.run = attach_on_loop;
  s->kick_task.run = on_kick;
  if (s->faults) {
    s->faults->deliver_task.run = deliver_on_other_loop;
    s->faults->deliver_task.owner = s;
  }
  registration_add_socket(reg);
  // WSK_SET_STATIC_EVENT_CALLBACKS applies to every socket created afterwards.
  s->event_mask = static_event_mask(reg, cat);
  s->serial = next_serial.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard guard(live_lock);
    socket_object *&bucket = live_bucket_of(s);
    s->live_next = bucket;
    bucket = s;
    ++live_count;
  }
  if (cat != category::basic) {
    s->loop = loop;
    // An io_uring poll report carries the bits of the wake-up that caused it, and TCP wakes
    // readers with EPOLLPRI for every arrival, so on that engine urgent data cannot be told
    // apart: there a short read never counts as an empty queue (only EAGAIN does).
    s->short_read_unsure = s->loop->kind() == net::engine_kind::uring;
    // Ring I/O (docs/design.md, "Ring I/O"): stream sockets on the io_uring engine hand their
    // parked receives and sends to the kernel (UWSK_RING_IO=0 keeps them on readiness).
    // Without memory for the requests the socket works on readiness, as on epoll.
    if (behaviour != nullptr && behaviour->ring_pump != nullptr &&
        s->loop->supports_io_requests() && ring_io_enabled()) {
      s->ring.reset(provider_new<ring_pair>());
    }
    s->ring_mode = s->ring != nullptr;
    if (s->ring) {
      s->ring->task.run = on_ring_task;
      s->ring->task.owner = s; // (the requests are made when first used)
    }
    s->loop->post(&s->lifecycle_task);
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
    for (unsigned left = kinds; left != 0; left &= left - 1) { // in kind order
      deliver_finished(s, static_cast<queue_kind>(__builtin_ctz(left)));
    }
  }
}

bool completion_batch::deliver_holding(socket_object *s, std::unique_lock<socket_lock> &guard) {
  if (count_ != 0 || overflow_ != nullptr) {
    return false; // complete_all completes these first, then delivers, once the lock is released
  }
  if (deliver_kinds_ == 0) {
    return true;
  }
  if (deliver_socket_ != s || (fault::active() && fault::current().other_loop != 0)) {
    return false;
  }
  const unsigned kinds = deliver_kinds_;
  deliver_socket_ = nullptr;
  deliver_kinds_ = 0;
  for (unsigned left = kinds; left != 0; left &= left - 1) { // the named queues, in kind order
    const auto kind = static_cast<queue_kind>(__builtin_ctz(left));
    if (!s->is_delivering(kind) && !IsListEmpty(&s->ops_of(kind).finished)) {
      s->set_delivering(kind, true);
      deliver_locked(s, kind);
    }
  }
  (void)guard; // held throughout
  return true;
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

std::size_t gather_chain(PMDL mdl, SIZE_T offset, SIZE_T length, struct iovec *iov,
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

namespace {
bool buffer_refused(const buffer_view &buffer, const char *why) {
  nt::verifier::warning(33, why,
                        nt::verifier::objects_text("WSK_BUF {Mdl %p, Offset %zu, Length %zu}",
                                                   static_cast<void *>(buffer.mdl),
                                                   static_cast<std::size_t>(buffer.offset),
                                                   static_cast<std::size_t>(buffer.length)));
  return false;
}
} // namespace

bool buffer_valid(const buffer_view &buffer) {
  if (buffer.mdl == nullptr) {
    return buffer.length == 0 ||
           buffer_refused(buffer, "a WSK_BUF with a length has no MDL: STATUS_INVALID_PARAMETER");
  }
  if (buffer.offset > MmGetMdlByteCount(buffer.mdl) ||
      (buffer.length != 0 && buffer.offset == MmGetMdlByteCount(buffer.mdl))) {
    return buffer_refused(buffer, "a WSK_BUF's Offset lies outside its first MDL: "
                                  "STATUS_INVALID_PARAMETER");
  }
  SIZE_T available = MmGetMdlByteCount(buffer.mdl) - buffer.offset;
  for (PMDL mdl = buffer.mdl->Next; mdl != nullptr && available < buffer.length; mdl = mdl->Next) {
    available += MmGetMdlByteCount(mdl);
  }
  return available >= buffer.length ||
         buffer_refused(buffer, "a WSK_BUF's MDL chain is shorter than its Length: "
                                "STATUS_INVALID_PARAMETER");
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

// With the lock held and the queue's delivering bit set by this thread: runs the
// completion routines of the finished list in order (dropping the lock for each), then gives up
// delivery. Events that gave way to these IRPs get their turn from the loop.
// The lock is held again on return (a guard of the caller's still owns it).
void deliver_locked(socket_object *s, queue_kind kind) {
  op_queue &q = s->ops_of(kind);
  while (!IsListEmpty(&q.finished)) {
    PLIST_ENTRY link = RemoveHeadList(&q.finished);
    InitializeListHead(link);
    s->lock.unlock();
    complete_finished(s, irp_from_link(link));
    s->lock.lock();
  }
  s->set_delivering(kind, false);
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

namespace {

// ---- Waiters that do their own I/O (nt/ke/wait_assist.hpp) --------------------------------------
//
// The synchronous style: a thread submits an IRP, the operation cannot finish at once and is
// parked, and the thread waits on the event the IRP's completion routine sets. Rather than
// sleep until the socket's loop completes the IRP and wakes it (two thread switches), the
// waiting thread polls the socket itself and, once it is ready, resumes the socket's queue of
// that kind exactly as the loop would (in order, under the lock; the loop may do the same at
// the same time, and whoever unparks an IRP completes it, once). Its own IRP then completes on
// its own thread, and the wait is satisfied without sleeping again. Only for sockets without
// event callbacks (callbacks run on the loop thread alone) and without conditional accept.

// What the calling thread parked last: the socket (with its serial, since the thread holds no
// reference and the socket may be gone by the time it waits), the queue, and the completion
// context of the IRP, which the synchronous style makes the event it waits for.
struct parked_hint {
  socket_object *s = nullptr;
  std::uint64_t serial = 0;
  queue_kind kind = queue_kind::receive;
  const void *context = nullptr;
};
thread_local parked_hint last_parked [[gnu::tls_model("initial-exec")]];

// Whether waiting threads do their own I/O (register_assist, below).
bool assist_enabled = false;

// Under the lock, at a park on a thread at PASSIVE_LEVEL (a completion routine or the loop
// runs at DISPATCH_LEVEL and never waits).
bool note_parked(socket_object *s, queue_kind kind, PIRP irp) {
  if (!assist_enabled || nt::current_irql() != PASSIVE_LEVEL || s->event_mask != 0 ||
      s->conditional_accept) {
    return false;
  }
  const PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  if (sp->CompletionRoutine == nullptr || sp->Context == nullptr) {
    return false;
  }
  last_parked = {s, s->serial, kind, sp->Context};
  return true;
}

// Pins the socket of a hint if it still exists (the release then waits for socket_unpin).
bool socket_pin(socket_object *s, std::uint64_t serial) {
  std::lock_guard live(live_lock);
  if (live_place_of(s) == nullptr || s->serial != serial) {
    return false;
  }
  ++s->assist_pins;
  return true;
}
void socket_unpin(socket_object *s) {
  bool release = false;
  {
    std::lock_guard live(live_lock);
    if (--s->assist_pins == 0 && s->release_deferred) {
      s->release_deferred = false;
      release = true;
    }
  }
  if (release) {
    s->loop->post(&s->lifecycle_task);
  }
}

// The poll events that let a parked operation of `kind` proceed, as readiness bits.
short assist_poll_events(queue_kind kind) {
  const bool reads = kind == queue_kind::receive || kind == queue_kind::accept;
  return static_cast<short>(reads ? POLLIN | POLLPRI | POLLRDHUP : POLLOUT);
}

// The time left until `deadline` for ppoll; false once it has passed.
bool time_left(const nt::wait_deadline &deadline, timespec &left) {
  std::chrono::nanoseconds remaining{};
  if (deadline.absolute) {
    remaining = deadline.system - std::chrono::system_clock::now();
  } else {
    remaining = deadline.steady - std::chrono::steady_clock::now();
  }
  if (remaining.count() <= 0) {
    return false;
  }
  left.tv_sec = static_cast<time_t>(remaining.count() / 1000000000);
  left.tv_nsec = static_cast<long>(remaining.count() % 1000000000);
  return true;
}

// A poll that took this long waited for the peer: the data was not there when it began.
constexpr auto assist_waited = std::chrono::microseconds(3);

// The wait helper (nt/ke/wait_assist.hpp): runs in KeWaitForSingleObject before the thread
// sleeps on `object`.
void socket_assist_wait(void *object, int wake_fd, const nt::wait_deadline &deadline) {
  const parked_hint hint = last_parked;
  last_parked = {};
  if (hint.s == nullptr || !socket_pin(hint.s, hint.serial)) {
    return; // nothing parked, or the socket is gone
  }
  socket_object *s = hint.s;
  if (object == nullptr || hint.context != object) {
    // Not a wait for what this thread parked last (or a wait no helper runs in, wait_assist.hpp
    // rule 4): nobody polls for that operation.
    if (hint.kind == queue_kind::receive) {
      std::lock_guard guard(s->lock);
      want_reads_locked(s);
    }
    socket_unpin(s);
    return;
  }
  const bool reads = hint.kind == queue_kind::receive || hint.kind == queue_kind::accept;
  pollfd fds[2] = {{s->fd, assist_poll_events(hint.kind), 0}, {wake_fd, POLLIN, 0}};
  {
    std::lock_guard guard(s->lock);
    ++(reads ? s->assist_readers : s->assist_writers); // the loop leaves this direction to us
  }
  while (!nt::object_signalled(object)) {
    timespec left{};
    if (!deadline.infinite && !time_left(deadline, left)) {
      break;
    }
    fds[0].revents = fds[1].revents = 0;
    const auto polled = std::chrono::steady_clock::now();
    const int ready = ppoll(fds, 2, deadline.infinite ? nullptr : &left, nullptr);
    // Whether the poll waited for the peer (rather than finding the data there already).
    const bool waited = std::chrono::steady_clock::now() - polled >= assist_waited;
    if (ready < 0 && errno != EINTR) {
      break;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t got = read(wake_fd, &count, sizeof(count));
      break; // the wait was satisfied by another thread
    }
    if (fds[0].revents == 0) {
      continue;
    }
    completion_batch done;
    bool stay = false;
    {
      std::lock_guard guard(s->lock);
      if (s->state == socket_state::closing || s->event_mask != 0 || s->conditional_accept) {
        break; // the loop handles it from here on
      }
      const auto events = static_cast<std::uint32_t>(fds[0].revents);
      const LIST_ENTRY &parked = s->queue(hint.kind);
      const PLIST_ENTRY head = parked.Flink;
      note_readiness(s, events);
      s->behaviour->resume_queues(s, events, done);
      if (waited && reads && s->reads_handed) {
        // The thread waited for what it read: in a ping-pong its next receive would find
        // nothing yet (EAGAIN) and poll anyway, so the next receive parks at once and polls,
        // one read fewer; the poll's readiness lets its read try again. When the poll then finds
        // data at once, nothing is kept and receives try their read first again (note_read).
        s->read_drained = true;
      }
      // Stay while operations of the kind are still parked and this pass moved the queue on.
      // Otherwise the IRP has finished (whoever delivers it sets the event), or readiness does
      // not help its queue (say, a part-filled WAITALL receive), and the plain wait takes over.
      stay = parked.Flink != &parked && parked.Flink != head;
    }
    done.complete_all(); // the waiter's own IRP among them, when it was due
    if (!stay) {
      break;
    }
  }
  {
    // The readiness the loop left to the waiters while they polled is resumed here, as the loop
    // would have (the last waiter to leave does it; nothing is left behind).
    completion_batch done;
    std::unique_lock guard(s->lock);
    --(reads ? s->assist_readers : s->assist_writers);
    if (const LIST_ENTRY &parked = s->queue(queue_kind::receive);
        s->assist_readers == 0 && parked.Flink != &parked) {
      want_reads_locked(s); // receives are parked, and no waiting thread polls for them now
    }
    if (s->assist_readers == 0 && s->assist_writers == 0 && s->assist_left != 0) {
      const std::uint32_t left = s->assist_left;
      s->assist_left = 0;
      if (s->state != socket_state::closing) {
        if (s->event_mask != 0) {
          socket_kick_locked(s); // events run on the loop thread only
        } else {
          note_readiness(s, left);
          s->behaviour->resume_queues(s, left, done);
        }
      }
    }
    guard.unlock();
    done.complete_all();
  }
  socket_unpin(s);
}

// On unless UWSK_WAIT_ASSIST=0 (read when the library loads).
bool register_assist() {
  const char *setting = std::getenv("UWSK_WAIT_ASSIST");
  if (setting == nullptr || std::strcmp(setting, "0") != 0) {
    assist_enabled = true;
    nt::set_wait_assist(socket_assist_wait);
  }
  return true;
}
[[maybe_unused]] const bool assist_registered = register_assist();

} // namespace

void ring_wake_locked(socket_object *s, completion_batch *done) {
  if (!s->ring_mode) {
    return;
  }
  if (done == nullptr || !s->loop->in_loop_thread()) {
    if (!s->ring_task_posted) {
      s->ring_task_posted = s->loop->post(&s->ring->task);
    }
    return;
  }
  for (ring_lane *lane : {&s->ring->receive, &s->ring->send}) {
    ring_cancel_stopped(s, *lane);
  }
  // Also when closing: IRPs failed in their turn behind a head the ring held (fail_queue) are
  // finished by the pump once the head is.
  s->behaviour->ring_pump(s, *done);
}

bool ring_stop_locked(socket_object *s, queue_kind kind, NTSTATUS status, PIRP irp) {
  ring_lane *lane = s->ring_mode ? s->ring_of(kind) : nullptr;
  if (lane == nullptr) {
    return false;
  }
  bool held = false;
  bool in_kernel = false;
  for (unsigned i = 0; i < lane->depth; ++i) {
    if (lane->slots[i] == nullptr) {
      continue;
    }
    ring_io &r = *lane->slots[i];
    if (r.irp == nullptr || (irp != nullptr && r.irp != irp)) {
      continue;
    }
    held = true;
    if (r.stop_status == STATUS_SUCCESS) {
      r.stop_status = status;
    }
    // A slot not done is in the kernel (the loop alone reads the request's own state).
    in_kernel = in_kernel || !r.done;
  }
  if (in_kernel) {
    ring_wake_locked(s, nullptr); // the loop cancels (ring_cancel_stopped)
  }
  return held;
}

// The request cancelled is the chain's first not yet completed: the one the kernel runs (the
// ones after it start only when it has completed, and a request not yet started cannot be
// cancelled). It ends with -ECANCELED if it moved nothing, and so do all behind it; an IRP ended
// that way without being stopped itself goes back to its queue and into the next chain (nothing
// moved). If it moved bytes it completes with them, and its completion cancels the next
// request, until the stopped one is reached.
void ring_cancel_stopped(socket_object *s, ring_lane &lane) {
  ring_io *current = nullptr;
  bool stop = false;
  for (unsigned i = 0; i < lane.depth; ++i) {
    if (lane.slots[i] == nullptr) {
      continue;
    }
    ring_io &r = *lane.slots[i];
    if (r.in_flight()) {
      current = current != nullptr ? current : &r;
      stop = stop || r.stop_status != STATUS_SUCCESS;
    }
  }
  if (stop) {
    s->loop->cancel(current); // once per request; nothing once it has completed
  }
}

void ring_flush_locked(socket_object *s, queue_kind kind, completion_batch &done) {
  ring_lane &lane = *s->ring_of(kind);
  for (unsigned i = 0; i < lane.depth; ++i) {
    if (lane.slots[i] == nullptr) {
      continue; // never used
    }
    ring_io &r = *lane.slots[i];
    if (r.irp == nullptr) {
      continue; // free, or back on the queue only (parked, not in the kernel)
    }
    if (!r.done || !r.owned) {
      return; // the IRPs after it wait for it
    }
    attempt result = finished(r.result_status, r.result_information);
    result.resumes_events = r.result_resumes_events;
    PIRP irp = r.irp;
    r.clear();
    finish_parked(s, kind, irp, result, done);
  }
}

socket_rare *socket_rare_of(socket_object *s) {
  if (!s->rare) {
    s->rare.reset(provider_new<socket_rare>());
  }
  return s->rare.get();
}

void socket_kick_locked(socket_object *s) {
  if (s->loop == nullptr || s->kick_posted || s->release_requested ||
      s->state == socket_state::closing) {
    return;
  }
  s->kick_posted = s->loop->post(&s->kick_task);
}

namespace {

// The longest the loop leaves a connection's reads to the waiting threads at a time.
constexpr auto hand_bound = std::chrono::milliseconds(10);

// On the loop thread, under the lock: the loop watches the socket's reads again. Re-arming
// reports the descriptor at once if it is readable, so nothing that arrived meanwhile is lost.
void take_reads_back_locked(socket_object *s) {
  s->reads_handed = false;
  s->reads_wanted = false;
  hand_list_remove(s);
  if (s->attached) {
    s->loop->modify(&s->watcher, watched_events(s));
  }
}

// Every hand_bound while a loop's list of sockets with handed reads is not empty: a receive
// parked while no waiting thread polls a socket's reads (its thread parked it and went on to
// something else) makes the loop watch them again. A socket handed just before is checked
// sooner than hand_bound after, which only finds a waiting thread still polling.
void on_hand_check(net::timer *t) {
  auto &l = static_cast<hand_list &>(*t);
  // take_reads_back_locked moves the last socket into the place it empties: walked from the end,
  // every socket is looked at once.
  for (std::size_t i = l.sockets.size(); i-- > 0;) {
    socket_object *s = l.sockets[i];
    std::lock_guard guard(s->lock);
    if (const LIST_ENTRY &parked = s->queue(queue_kind::receive);
        parked.Flink != &parked && s->assist_readers == 0) {
      take_reads_back_locked(s);
    }
  }
  if (!l.sockets.empty()) {
    l.sockets.front()->loop->arm_timer(&l, net::timer::clock::now() + hand_bound);
  }
}

} // namespace

void hand_reads_locked(socket_object *s, std::uint32_t left) {
  if (s->reads_handed) {
    if (s->reads_wanted || s->event_mask != 0 || s->state != socket_state::connected) {
      take_reads_back_locked(s);
    }
    return;
  }
  if ((left & readable_events) == 0 || s->assist_readers == 0 || !s->attached ||
      s->event_mask != 0 || s->state != socket_state::connected) {
    return;
  }
  if (!hand_list_add(s)) {
    return;
  }
  if (s->loop->modify(&s->watcher, watched_events(s) & ~(net::ev_in | net::ev_pri)) != 0) {
    hand_list_remove(s);
    return;
  }
  s->reads_handed = true;
  s->read_drained = false; // no readiness report clears it now (note_read)
  hand_list &l = hand_list_of(s->loop);
  if (!l.armed()) {
    l.on_expire = on_hand_check;
    s->loop->arm_timer(&l, net::timer::clock::now() + hand_bound);
  }
}

void rewatch_locked(socket_object *s) {
  if (s->attached && !s->reads_handed) {
    s->loop->modify(&s->watcher, watched_events(s));
  }
}

void want_reads_locked(socket_object *s) {
  if (s->reads_handed && !s->reads_wanted) {
    s->reads_wanted = true;
    socket_kick_locked(s);
  }
}

void deliver_finished(socket_object *s, queue_kind kind) {
  std::unique_lock guard(s->lock);
  op_queue &q = s->ops_of(kind);
  if (s->is_delivering(kind) || IsListEmpty(&q.finished)) {
    return; // the thread delivering runs these too
  }
  s->set_delivering(kind, true);
  deliver_locked(s, kind);
}

namespace {

// start_operation's IRP that waits: parks it behind the others of its kind (`result`
// unfinished), or, refused behind parked ones, marks it to fail in its turn; `too_deep`: the
// loop resumes the queue from a fresh stack. Called with the lock held; releases it. Returns
// what the call returns.
NTSTATUS park_operation(socket_object *s, queue_kind kind, PIRP irp, const attempt &result,
                        bool too_deep) {
  std::unique_lock guard(s->lock, std::adopt_lock);
  if (s->ops_of(kind).parked.park(irp, cancel_parked)) {
    if (result.finished) {
      // Refused, behind parked operations: it fails in its turn.
      irp->IoStatus.Status = result.status;
      irp_marks(irp) |= irp_mark::refused;
    }
    if (too_deep) {
      socket_kick_locked(s); // the loop resumes the queue from a fresh stack
    } else if (!result.finished && note_parked(s, kind, irp)) {
      // Its thread may wait for it next and do the I/O itself on readiness (as on epoll);
      // if it does not, readiness hands it to the ring on the loop thread.
      return STATUS_PENDING;
    }
    if (kind == queue_kind::receive) {
      want_reads_locked(s); // no waiting thread polls for it
    }
    if (s->ring_mode && s->ring_of(kind) != nullptr) {
      ring_wake_locked(s, nullptr); // the ring takes it over (through the ring task)
    }
    return STATUS_PENDING;
  }
  // Cancelled before it could be parked: it completes now, as a cancelled IRP may.
  guard.unlock();
  return irp_complete(irp, STATUS_CANCELLED, 0);
}

} // namespace

NTSTATUS start_operation(socket_object *s, queue_kind kind, PIRP irp, try_function try_op,
                         admit_function admit) {
  irp_set_owner(irp, s);
  op_queue &q = s->ops_of(kind);
  s->lock.lock();
  // The usual call: nothing of its kind parked, finished or being delivered, not too deep, no
  // fault plan. One try; finished, it completes inline, and the queue is given up with one more
  // turn of the lock unless its completion routine left something to deliver.
  if (s->queue_idle(kind) && inline_depth < max_inline_depth && !fault::active()) [[likely]] {
    const NTSTATUS admitted = admit != nullptr ? admit(s) : STATUS_SUCCESS;
    const attempt result = NT_SUCCESS(admitted) ? try_op(s, irp) : finished(admitted);
    if (result.finished) {
      s->set_delivering(kind, true);
      record_result(irp, result);
      s->lock.unlock();
      complete_finished(s, irp); // the IRP may be gone afterwards: return the status kept here
      s->lock.lock();
      if (IsListEmpty(&q.finished) && s->event_mask == 0) [[likely]] {
        s->set_delivering(kind, false);
      } else {
        deliver_locked(s, kind);
      }
      s->lock.unlock();
      return result.status;
    }
    return park_operation(s, kind, irp, result, false);
  }
  std::unique_lock guard(s->lock, std::adopt_lock);
  // pend (docs/faults.md): the operation is left to the loop, as if the call were too deep.
  const bool too_deep =
      inline_depth >= max_inline_depth ||
      (fault::active() && fault::current().pend != 0 &&
       socket_fault_happens(s, fault::stream::pend, fault::current().pend, "operation pends"));
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
    guard.release(); // park_operation releases the lock
    return park_operation(s, kind, irp, result, too_deep);
  }
  if (!s->queue_idle(kind)) {
    // Earlier completions of its kind are not yet delivered: it follows them.
    IoMarkIrpPending(irp);
    add_finished(s, kind, irp, result);
    if (s->is_delivering(kind)) {
      return STATUS_PENDING; // the delivering thread runs it
    }
    s->set_delivering(kind, true);
    deliver_locked(s, kind);
    return STATUS_PENDING;
  }
  // The queue is idle: complete inline, then deliver what was finished meanwhile (operations
  // its completion routine started, resumes on the loop).
  s->set_delivering(kind, true);
  record_result(irp, result);
  guard.unlock();
  complete_finished(s, irp); // the IRP may be gone afterwards: return the status kept here
  guard.lock();
  deliver_locked(s, kind);
  return result.status;
}

namespace {

// A call's IRP whose completion the pend fault moved to the socket's loop (socket_finish_call).
struct deferred_completion {
  net::task task;
  PIRP irp;
};

void complete_deferred(net::task *t) {
  auto *d = reinterpret_cast<deferred_completion *>(t);
  PIRP irp = d->irp;
  delete d;
  irp_complete(irp, irp->IoStatus.Status, irp->IoStatus.Information);
}

} // namespace

NTSTATUS socket_finish_call(socket_object *s, PIRP irp, NTSTATUS status, ULONG_PTR information) {
  if (s->loop == nullptr || !fault::active() || fault::current().pend == 0 ||
      !socket_fault_happens(s, fault::stream::pend, fault::current().pend, "call pends")) {
    return irp_complete(irp, status, information);
  }
  auto *d = provider_new<deferred_completion>();
  if (d == nullptr) {
    return irp_complete(irp, status, information);
  }
  d->task.run = complete_deferred;
  d->irp = irp;
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = information;
  IoMarkIrpPending(irp);
  if (!s->loop->post(&d->task)) {
    // The loop has stopped (the provider is shutting down): complete here after all.
    delete d;
    return irp_complete(irp, status, information);
  }
  return STATUS_PENDING;
}

void resume_parked(socket_object *s, queue_kind kind, try_function try_op, completion_batch &done,
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
      if (repark(irp)) {
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

bool repark(PIRP irp) {
  return irp_repark(irp, cancel_parked);
}

void finish_parked(socket_object *s, queue_kind kind, PIRP irp, const attempt &result,
                   completion_batch &done) {
  parked_list::unlink(irp);
  add_finished(s, kind, irp, result);
  done.deliver_after(s, kind);
}

void fail_queue(socket_object *s, queue_kind kind, NTSTATUS status, completion_batch &done) {
  if (!s->queue_made(kind)) {
    return; // never used
  }
  if (ring_stop_locked(s, kind, status)) {
    // The head ends when the kernel gives its buffer back; the others fail in their turn after
    // it (its completion resumes the queue).
    ring_lane &lane = *s->ring_of(kind);
    LIST_ENTRY &q = s->ops_of(kind).parked.head();
    for (PLIST_ENTRY link = q.Flink; link != &q; link = link->Flink) {
      PIRP irp = irp_from_link(link);
      if (lane.holding(irp) == nullptr && (irp_marks(irp) & irp_mark::refused) == 0) {
        irp->IoStatus.Status = status;
        irp_marks(irp) |= irp_mark::refused;
      }
    }
    return;
  }
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
  auto *s = cat != category::basic && loop == nullptr ? nullptr : provider_new<socket_object>();
  if (s != nullptr && fault::active()) {
    s->faults.reset(provider_new<socket_faults>());
    if (!s->faults) {
      delete s;
      s = nullptr;
    } else {
      s->faults->id = fault::new_object_id();
    }
  }
  if (s != nullptr && (cat == category::listen || cat == category::stream)) {
    // A socket that can listen (a stream socket may call WskListen) has its listener part and
    // its accept queue.
    socket_rare *rare = socket_rare_of(s);
    if (rare != nullptr) {
      rare->listener.reset(provider_new<listener_events>());
    }
    if (rare == nullptr || !rare->listener) {
      delete s;
      s = nullptr;
    } else {
      rare->listener->abort_timer.owner = s;
    }
  }
  if (s == nullptr) {
    net::sock::close(fd);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  publish(s, reg, cat, windows_family, family, type, protocol, fd, context, client_dispatch,
          behaviour, loop);
  *out = s;
  return STATUS_SUCCESS;
}

socket_object *adopt_accepted(socket_object *listener, int fd, PVOID context,
                              const void *client_dispatch, bool held) {
  net::loop *loop = provider_loop();
  auto *s = loop != nullptr ? provider_new<socket_object>() : nullptr;
  if (s == nullptr) {
    return nullptr;
  }
  if (fault::active()) {
    s->faults.reset(provider_new<socket_faults>());
    if (!s->faults) {
      delete s;
      return nullptr;
    }
    s->faults->id = listener->faults
                        ? fault::child_object_id(listener->faults->id, listener->faults->accepts++)
                        : fault::new_object_id();
  }
  s->state = socket_state::connected;
  s->ev.held = held;
  publish(s, listener->reg, category::connection, listener->windows_family, listener->family,
          listener->type, listener->protocol, fd, context, client_dispatch, listener->behaviour,
          loop);
  return s;
}

void destroy_unpublished(socket_object *s) {
  s->close_called.store(true, std::memory_order_relaxed); // never the client's (rule V42)
  // The attach task may not have run yet; let the loop release the socket after it, without a
  // close IRP to complete.
  if (s->loop == nullptr) {
    free_socket(s);
    return;
  }
  std::lock_guard guard(s->lock);
  s->ev.held = false; // no accept event will release it
  s->state = socket_state::closing;
  request_release_locked(s);
}

void request_release_locked(socket_object *s) {
  s->release_requested = true;
  if (s->attach_ran) {
    s->loop->post(&s->lifecycle_task);
  }
}

NTSTATUS socket_close(socket_object *s, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  s->close_called.store(true, std::memory_order_relaxed); // rule V42 counts it closed
  if (s->loop == nullptr) {
    // A basic socket has no loop and nothing parked: the close completes during the call.
    free_socket(s, irp);
    return STATUS_SUCCESS;
  }
  completion_batch done;
  bool post_release = false;
  {
    std::lock_guard guard(s->lock);
    if (s->release_requested) {
      nt::bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
                   "WskCloseSocket: the socket is already being closed (rule V30)",
                   violation::socket_not_open, reinterpret_cast<ULONG_PTR>(s));
    }
    // A connection not disconnected in both directions is disconnected abortively, as Windows
    // documents for WskCloseSocket: the peer sees a reset, not a FIN (unless the peer reset it
    // already).
    const bool connection = s->cat == category::connection || s->cat == category::stream;
    if (connection && s->state == socket_state::connected && !s->aborted && !s->ev.peer_reset &&
        !(s->send_closed && (s->peer_closed || s->ev.fin_seen))) {
      const linger reset{1, 0};
      net::sock::set_option(s->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    }
    s->state = socket_state::closing;
    s->release_requested = true;
    post_release = s->attach_ran; // else the attach task posts it (request_release_locked)
    s->behaviour->on_close_locked(s, done);
    for (int k = 0; k < static_cast<int>(queue_kind::count); ++k) {
      fail_queue(s, static_cast<queue_kind>(k), STATUS_CANCELLED, done);
    }
    if (s->ring && s->ring->shots) {
      ring_wake_locked(s, nullptr); // a multishot receive is cancelled (stream_ring_pump)
    }
    IoMarkIrpPending(irp);
    s->close_irp = irp;
  }
  done.complete_all();
  if (post_release) {
    s->loop->post(&s->lifecycle_task);
  }
  return STATUS_PENDING;
}

void describe_socket(const socket_object *s, char *out, std::size_t size) {
  char endpoints[160];
  endpoints_text(s->fd, endpoints, sizeof endpoints);
  std::snprintf(out, size, "socket %p (%s)", static_cast<const void *>(s), endpoints);
}

namespace {
// Appends describe_socket's text (or "no socket yet") to the `used` characters of `text`.
void append_socket(const socket_object *s, char *text, std::size_t size, std::size_t used) {
  if (used >= size) {
    return;
  }
  if (s == nullptr) {
    std::snprintf(text + used, size - used, "no socket yet");
    return;
  }
  describe_socket(s, text + used, size - used);
}
} // namespace

socket_objects::socket_objects(const socket_object *s) {
  append_socket(s, text, sizeof text, 0);
}

socket_objects::socket_objects(const socket_object *s, const char *detail, ...) {
  va_list ap;
  va_start(ap, detail);
  const int used = std::vsnprintf(text, sizeof text, detail, ap);
  va_end(ap);
  append_socket(s, text, sizeof text, used < 0 ? 0 : static_cast<std::size_t>(used));
}

void socket_report_bad_address(const socket_object *s, const void *address, const char *function) {
  if (address == nullptr) {
    return; // a NULL address is a plain invalid parameter
  }
  if (is_callback_poison(address, win::sockaddr_in_size)) {
    nt::verifier::error(59,
                        "a WSK function was given the provider's copy of an address that an "
                        "event callback got (LocalAddress or RemoteAddress): the client kept the "
                        "pointer instead of copying the address, and the copy is gone",
                        socket_objects(s, "%s: address %p, ", function, address),
                        reinterpret_cast<ULONG_PTR>(address));
  }
  USHORT family = 0;
  std::memcpy(&family, address, sizeof family);
  char sentence[200];
  std::snprintf(sentence, sizeof sentence,
                "an address of family %u, which is not the socket's family (or not one WSK "
                "supports): STATUS_INVALID_PARAMETER",
                static_cast<unsigned>(family));
  nt::verifier::warning(40, sentence, socket_objects(s, "%s: address %p, ", function, address),
                        reinterpret_cast<ULONG_PTR>(address));
}

category socket_category(const socket_object *s) {
  return s->cat;
}

bool socket_is_valid(const socket_object *s) {
  return s != nullptr && __atomic_load_n(&s->magic, __ATOMIC_RELAXED) == socket_magic;
}

void socket_check_out_address(const socket_object *s, const void *out, const char *function) {
  const std::size_t needed =
      s->windows_family == win::af_inet6 ? win::sockaddr_in6_size : win::sockaddr_in_size;
  const std::size_t size = out != nullptr ? nt::pool_block_size(out) : 0;
  if (size != 0 && size < needed) {
    char objects[200];
    std::snprintf(objects, sizeof objects,
                  "%s: out-buffer %p, a pool block of %zu bytes; the socket's family needs %zu",
                  function, out, size, needed);
    nt::verifier::error(40,
                        "an address out-buffer is too short for a SOCKADDR of the socket's "
                        "address family",
                        objects, reinterpret_cast<ULONG_PTR>(out), size);
  }
}

void socket_refuse(socket_object *s) {
  record_endpoints(s);
  __atomic_store_n(&s->magic, refused_magic, __ATOMIC_RELEASE); // publishes the endpoints
}

namespace {
// Rule V56: a call on a socket whose NULL indication said it no longer works.
[[gnu::noinline, gnu::cold]] void report_dead_socket_use(const socket_object *s,
                                                         const char *function) {
  nt::verifier::warning(56,
                        "a WSK function was called on a socket after its NULL indication (NULL "
                        "DataIndication, AcceptSocket or InspectID) said it no longer works: "
                        "only WskCloseSocket (and WskRelease of retained lists) is expected now",
                        socket_objects(s, "%s on ", function), reinterpret_cast<ULONG_PTR>(s));
}
} // namespace

socket_object *socket_checked(void *socket, const char *function) {
  auto *s = static_cast<socket_object *>(socket);
  nt::activity::note_call(function);
  if (!socket_is_valid(s)) {
    const ULONG magic = s != nullptr ? __atomic_load_n(&s->magic, __ATOMIC_ACQUIRE) : 0;
    const bool closed = magic == freed_magic;
    const bool refused = magic == refused_magic;
    const ULONG_PTR p2 = reinterpret_cast<ULONG_PTR>(socket);
    if (refused) {
      uwsk_log_message("wsk",
                       "%s: %p is not an open WSK socket (its accept event refused it; "
                       "rule V55)",
                       function, socket);
      nt::verifier::error(
          55,
          "a WSK function was called on a socket that WskAcceptEvent refused "
          "(STATUS_REQUEST_NOT_ACCEPTED): the client must not touch it again",
          nt::verifier::objects_text("socket %p (%s)", socket, recorded_endpoints(s)), p2);
    }
    uwsk_log_message("wsk", "%s: %p is not an open WSK socket (%s; rule V30)", function, socket,
                     closed ? "it was closed" : "closed, or never created");
    if (closed) {
      nt::verifier::error(
          30, "a WSK function was called on a socket after WskCloseSocket",
          nt::verifier::objects_text("socket %p (%s)", socket, recorded_endpoints(s)), p2);
    }
    nt::verifier::error(30, "a WSK function was called on a pointer that is not a WSK socket",
                        nt::verifier::objects_text("pointer %p", socket), p2);
  }
  if (s->dead_told.load(std::memory_order_relaxed) &&
      std::strcmp(function, "WskCloseSocket") != 0 && std::strcmp(function, "WskRelease") != 0 &&
      std::strcmp(function, "WskControlSocket") != 0) {
    report_dead_socket_use(s, function);
  }
  if (s->silent_told.load(std::memory_order_relaxed) &&
      std::strcmp(function, "WskCloseSocket") != 0) {
    nt::verifier::warning(67,
                          "a WSK function was called on a socket in TCP silent mode "
                          "(SIO_WSK_SET_TCP_SILENT_MODE): only WskCloseSocket is valid now",
                          socket_objects(s, "%s on ", function), reinterpret_cast<ULONG_PTR>(s));
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

std::vector<std::string> describe_live_sockets(const registration *reg) {
  std::vector<std::string> lines;
  std::lock_guard guard(live_lock);
  socket_object *const *buckets = live_buckets();
  for (std::size_t i = 0; i < live_bucket_count; ++i) {
    for (const socket_object *s = buckets[i]; s != nullptr; s = s->live_next) {
      if (reg != nullptr && (s->reg != reg || s->close_called.load(std::memory_order_relaxed))) {
        continue;
      }
      char endpoints[160];
      endpoints_text(s->fd, endpoints, sizeof endpoints);
      char line[224];
      std::snprintf(line, sizeof line, "WSK socket %p (%s)", static_cast<const void *>(s),
                    endpoints);
      lines.emplace_back(line);
    }
  }
  return lines;
}

} // namespace uwsk::wsk

// Event callbacks (spec section 4), Linux half. The rules are in events.hpp.
#include "wsk/events.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <new>

#include <malloc.h>

#include <uwsk/log.h>

#include "net/socket_ops.hpp"
#include "nt/ex/thread_cache.hpp"
#include "win_constants.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/translate.hpp"

namespace uwsk::wsk {

// ---- Indication buffers -------------------------------------------------------------------------

// One provider-owned receive buffer: the bytes of one read (or one datagram), the MDL that
// describes them, and the indication element the client sees. Buffers are recycled through
// per-thread caches (chunk_cache); an MDL is built once per buffer.
struct data_chunk {
  LIST_ENTRY link; // on ev.retained (the head of a retained list) or the orphan list
  socket_object *owner;
  data_indication_view data;         // connection sockets
  datagram_indication_view datagram; // datagram sockets (chained through datagram.next)
  SIZE_T start;                      // first byte not yet accepted
  SIZE_T length;                     // bytes held
  SIZE_T charged;                    // bytes the list (by its head) counts in ev.buffered
  PMDL mdl;
  unsigned char *bytes;
  alignas(8) unsigned char remote[32];   // the sender, as a Windows SOCKADDR
  alignas(8) unsigned char control[256]; // the datagram's control data, Windows layout
};

namespace {

// One read per indication: 64 KiB holds the largest datagram and a good slice of a stream.
constexpr std::size_t chunk_capacity = 65536;
constexpr std::size_t pool_limit = 64;        // chunks kept for any thread
constexpr std::size_t thread_chunk_limit = 8; // chunks one thread keeps: one recvmmsg batch
// Chunks the shared list keeps once no chunk is held anywhere (chunk_free).
constexpr std::size_t idle_pool_limit = 8;
// This many chunks held at once (4 MiB) make a burst, after which the C allocator is trimmed too.
constexpr std::size_t burst_chunks = 64;
// The bound on a socket's buffered bytes when Linux does not report SO_RCVBUF: its default
// TCP receive buffer (tcp_rmem[1]).
constexpr SIZE_T default_buffer_limit = 131072;
// Above this many buffers held by clients, indications carry WSK_FLAG_RELEASE_ASAP.
constexpr std::size_t pressure_limit = 1024;
// Bounds on the work of one readiness pass, so one busy socket cannot starve its loop; what is
// left is delivered by the kick task.
constexpr int max_indications = 16;
constexpr int max_accepts = 64;
constexpr unsigned datagrams_per_indication = 8;
// How often connections awaiting inspection are checked for a peer that gave up.
constexpr auto abort_poll = std::chrono::milliseconds(50);
// The running bit of WskInspectEvent and WskAbortEvent (not a WSK_EVENT_* value: neither can
// be disabled).
constexpr ULONG inspect_running = 0x1;

constexpr ULONG connection_events =
    win::wsk_event_receive | win::wsk_event_disconnect | win::wsk_event_send_backlog;

std::atomic<std::size_t> chunks_out{0};
std::atomic<bool> burst_seen{false}; // chunks_out reached burst_chunks since the last trim
// Lists still retained when their socket closed (rule V31): they stay valid, reachable here.
std::mutex orphan_lock;
LIST_ENTRY orphans = {&orphans, &orphans};

// A chunk's memory: the data_chunk, its MDL, then the bytes.
constexpr std::size_t chunk_header = (sizeof(data_chunk) + 63) & ~std::size_t{63};

std::size_t chunk_mdl_bytes() {
  return (MmSizeOfMdl(nullptr, chunk_capacity + PAGE_SIZE) + 63) & ~SIZE_T{63};
}

// Chunks are recycled through per-thread caches (a loop thread allocates them, and the loop or
// a client thread calling WskRelease frees them), so no lock is taken per indication. A
// recycled chunk keeps the MDL built for it.
//
// Memory goes back to the system after a burst (thread_cache.hpp rule 5). Measured with four
// connections whose driver (examples/echo-server) held 250 MiB of indications at once, reading
// not bounded, RSS above the baseline once everything was released:
//  - chunks from the C allocator: 209-244 MiB stayed. glibc keeps freed blocks of this size in
//    its arenas and returns memory only from the top of a heap;
//  - the same with malloc_trim once nothing is held: 6.6 MiB (fragments it cannot return);
//  - chunks from mmap (17 pages each), unmapped as they leave the cache: 3 MiB;
//  - and malloc_trim after a burst, for what the burst's other allocations (IRPs, the client's
//    pool) left free in glibc's arenas: 2 MiB, most of it the cached chunks.
// So chunks come from mmap, and when nothing is held any more (chunk_free) the shared list is
// trimmed to idle_pool_limit and, after a burst, malloc_trim runs. What stays cached is at most
// thread_chunk_limit per thread that released chunks plus idle_pool_limit.
nt::block_cache &chunk_cache() {
  static nt::block_cache *const cache = [] {
    nt::block_cache::options o;
    o.size = chunk_header + chunk_mdl_bytes() + chunk_capacity;
    o.alignment = 64;
    o.thread_capacity = thread_chunk_limit;
    o.shared_capacity = pool_limit;
    o.page_mapped = true;
    return new nt::block_cache(o); // lives for the process (thread_cache.hpp rule 4)
  }();
  return *cache;
}

// A chunk from the cache, not yet counted in chunks_out.
data_chunk *chunk_get() {
  bool recycled = false;
  auto *memory = static_cast<unsigned char *>(chunk_cache().allocate(&recycled));
  if (memory == nullptr) {
    return nullptr;
  }
  auto *c = reinterpret_cast<data_chunk *>(memory);
  if (!recycled) {
    c = new (memory) data_chunk{};
    c->mdl = reinterpret_cast<PMDL>(memory + chunk_header);
    c->bytes = memory + chunk_header + chunk_mdl_bytes();
    MmInitializeMdl(c->mdl, c->bytes, chunk_capacity);
    MmBuildMdlForNonPagedPool(c->mdl);
  }
  return c;
}

// Counts `n` chunks as held.
void count_out(std::size_t n) {
  const std::size_t before = chunks_out.fetch_add(n, std::memory_order_relaxed);
  if (before < burst_chunks && before + n >= burst_chunks) {
    burst_seen.store(true, std::memory_order_relaxed);
  }
}

data_chunk *chunk_alloc() {
  data_chunk *c = chunk_get();
  if (c != nullptr) {
    count_out(1);
  }
  return c;
}

void chunk_free(data_chunk *c) {
  const bool last = chunks_out.fetch_sub(1, std::memory_order_relaxed) == 1;
  chunk_cache().release(c);
  if (last) {
    // Nothing is held any more: what a burst left cached goes back to the system, and after a
    // burst what it left free in the C allocator too (see chunk_cache). Once per burst: a
    // malloc_trim walks every arena.
    chunk_cache().trim(thread_chunk_limit, idle_pool_limit);
    if (burst_seen.load(std::memory_order_relaxed) &&
        burst_seen.exchange(false, std::memory_order_relaxed)) {
      ::malloc_trim(0);
    }
  }
}

data_chunk *chunk_of(datagram_indication_view *v) {
  return reinterpret_cast<data_chunk *>(reinterpret_cast<unsigned char *>(v) -
                                        offsetof(data_chunk, datagram));
}

// Frees a datagram list by its head.
void free_datagram_list(data_chunk *head) {
  datagram_indication_view *v = head != nullptr ? &head->datagram : nullptr;
  while (v != nullptr) {
    datagram_indication_view *next = v->next;
    chunk_free(chunk_of(v));
    v = next;
  }
}

ULONG pressure_flags() {
  return chunks_out.load(std::memory_order_relaxed) > pressure_limit ? win::wsk_flag_release_asap
                                                                     : 0;
}

// ---- Receive backpressure ---------------------------------------------------------------------
//
// The bytes a socket read for its events and the client has not taken yet (the unaccepted head
// of the stream, refused datagrams, retained lists, and the list of a callback in progress) are
// its `buffered` bytes. Once they reach the socket's bound, the events stop reading it: the data
// waits in the kernel, whose buffer fills, so TCP's window closes and the peer's sends block, as
// on Windows, where data indicated and not yet released holds back the window. Nothing is lost.
// A release that brings a throttled socket below its bound kicks its loop, since edge-triggered
// readiness will not report the data waiting in the kernel again. Each list counts (by its
// head) the bytes it was charged with. All of this is under the socket's lock.

// The bound: the socket's SO_RCVBUF as Linux reports it when the bound is first needed (so a
// size the client set before its first indication counts). Read once: Linux grows the buffer
// of a socket that is read quickly (up to tcp_rmem[2]), which would let the bound grow with the
// very bursts it is there to stop.
SIZE_T buffer_limit(socket_object *s) {
  if (s->ev.buffer_limit == 0) {
    int size = 0;
    socklen_t length = sizeof(size);
    s->ev.buffer_limit =
        net::sock::get_option(s->fd, SOL_SOCKET, SO_RCVBUF, &size, &length) == 0 && size > 0
            ? static_cast<SIZE_T>(size)
            : default_buffer_limit;
  }
  return s->ev.buffer_limit;
}

// Whether the events may read the socket again (below its bound). A read takes up to one chunk,
// so a socket holds at most its bound plus one read.
bool may_read(socket_object *s) {
  s->ev.throttled = s->ev.buffered >= buffer_limit(s);
  return !s->ev.throttled;
}

// A list the socket now holds, counting `bytes`.
void charge(socket_object *s, data_chunk *head, SIZE_T bytes) {
  head->charged = bytes;
  s->ev.buffered += bytes;
}

// A held list now counts `bytes` (no more than before; 0: the socket no longer holds it). Resumes
// reading when that brings a throttled socket below its bound.
void recharge(socket_object *s, data_chunk *head, SIZE_T bytes) {
  s->ev.buffered -= head->charged - bytes;
  head->charged = bytes;
  if (s->ev.throttled && s->ev.buffered < s->ev.buffer_limit) {
    s->ev.throttled = false;
    events_kick_locked(s);
  }
}
void discharge(socket_object *s, data_chunk *head) {
  recharge(s, head, 0);
}

// The bytes of a datagram list.
SIZE_T datagram_bytes(data_chunk *head) {
  SIZE_T bytes = 0;
  for (datagram_indication_view *v = &head->datagram; v != nullptr; v = v->next) {
    bytes += chunk_of(v)->length;
  }
  return bytes;
}

// ---- Helpers
// --------------------------------------------------------------------------------------

bool closing(const socket_object *s) {
  return s->release_requested || s->state == socket_state::closing;
}

// An event is delivered when it is enabled and the client's table has its callback.
bool enabled(const socket_object *s, ULONG event) {
  return (s->event_mask & event) != 0 && client_has_callback(s->cat, s->client_dispatch, event);
}

// Runs one callback (rule 1): marks it running, completes what earlier work finished (rule 2),
// drops the lock for the call, and afterwards completes the disables that waited for it.
template <class Call>
auto run_callback(socket_object *s, ULONG event, std::unique_lock<socket_lock> &guard,
                  completion_batch &done, Call &&call) {
  s->ev.running = event;
  const category cat = s->cat;
  const void *dispatch = s->client_dispatch;
  PVOID context = s->context;
  guard.unlock();
  done.complete_all();
  auto result = call(cat, dispatch, context);
  guard.lock();
  s->ev.running = 0;
  while (!IsListEmpty(&s->ev.disable_irps)) {
    PLIST_ENTRY link = RemoveHeadList(&s->ev.disable_irps);
    InitializeListHead(link);
    done.add(irp_from_link(link), STATUS_SUCCESS, 0);
  }
  return result;
}

// A list is counted as retained from before its callback runs, so a client may hand it to
// another thread that calls WskRelease before the callback even returns. For any answer but
// STATUS_PENDING the provider takes it back (still charged); false if the client released it
// anyway (then it is gone, and the answer is ignored).
void offer_retention(socket_object *s, data_chunk *head, SIZE_T bytes) {
  charge(s, head, bytes);
  InsertTailList(&s->ev.retained, &head->link);
}
bool take_back(socket_object *s, data_chunk *head) {
  for (PLIST_ENTRY link = s->ev.retained.Flink; link != &s->ev.retained; link = link->Flink) {
    if (link == &head->link) {
      RemoveEntryList(link);
      return true;
    }
  }
  return false;
}

void report(const socket_object *s, const char *what) {
  uwsk_log_message("wsk", "verifier: socket %p: %s", static_cast<const void *>(s), what);
}

// The local and remote address of a connected fd, in Windows layout.
void addresses_of(int fd, unsigned char (&local)[32], unsigned char (&remote)[32]) {
  sockaddr_storage a{};
  socklen_t length = sizeof(a);
  std::memset(local, 0, sizeof(local));
  std::memset(remote, 0, sizeof(remote));
  if (net::sock::local_address(fd, reinterpret_cast<sockaddr *>(&a), &length) == 0) {
    to_windows_address(reinterpret_cast<const sockaddr *>(&a), local);
  }
  length = sizeof(a);
  if (net::sock::peer_address(fd, reinterpret_cast<sockaddr *>(&a), &length) == 0) {
    to_windows_address(reinterpret_cast<const sockaddr *>(&a), remote);
  }
}

// Resets a connection the client will never see and frees its socket.
void reset_and_destroy(socket_object *a) {
  const linger reset{1, 0};
  net::sock::set_option(a->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  destroy_unpublished(a);
}

void on_kick(net::task *t);
void on_abort_timer(net::timer *t);

// ---- Accept
// ----------------------------------------------------------------------------------------

// Accepts one connection from the kernel's queue. Returns the fd, -EAGAIN when none is
// waiting, or another -errno when the listener failed.
int accept_one(socket_object *s) {
  for (;;) {
    const int fd = net::sock::accept(s->fd, nullptr, nullptr);
    // A connection that died in the backlog is not the listener's failure.
    if (fd == -ECONNABORTED || fd == -EPROTO) {
      continue;
    }
    // Out of descriptors or memory: the connections stay queued for a later pass.
    if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
      return -EAGAIN;
    }
    return fd;
  }
}

// The listener failed: the accept event (or inspect event) hears it once, with NULL.
void indicate_dead_listener(socket_object *s, std::unique_lock<socket_lock> &guard,
                            completion_batch &done) {
  if (s->ev.dead_indicated) {
    return;
  }
  s->ev.dead_indicated = true;
  if (s->conditional_accept) {
    run_callback(s, inspect_running, guard, done, [](category cat, const void *d, PVOID ctx) {
      return call_inspect_event(cat, d, ctx, nullptr, nullptr, 0, 0, true);
    });
  } else if (enabled(s, win::wsk_event_accept)) {
    run_callback(s, win::wsk_event_accept, guard, done, [](category cat, const void *d, PVOID ctx) {
      PVOID unused_context = nullptr;
      const void *unused_dispatch = nullptr;
      return call_accept_event(cat, d, ctx, nullptr, nullptr, nullptr, &unused_context,
                               &unused_dispatch);
    });
  }
}

void deliver_accepts(socket_object *s, std::unique_lock<socket_lock> &guard,
                     completion_batch &done) {
  for (int round = 0; round < max_accepts; ++round) {
    if (closing(s) || s->state != socket_state::listening || !enabled(s, win::wsk_event_accept) ||
        !s->queue_idle(queue_kind::accept)) {
      return;
    }
    socket_object *a = nullptr;
    if (s->conditional_accept) {
      a = events_take_ready(s);
      if (a == nullptr) {
        return;
      }
    } else {
      const int fd = accept_one(s);
      if (fd == -EAGAIN) {
        return;
      }
      if (fd < 0) {
        indicate_dead_listener(s, guard, done);
        return;
      }
      a = adopt_accepted(s, fd, nullptr, nullptr, true);
      if (a == nullptr) {
        net::sock::close(fd);
        return;
      }
    }
    unsigned char local[32];
    unsigned char remote[32];
    addresses_of(a->fd, local, remote);
    PVOID accepted_context = nullptr;
    const void *accepted_dispatch = nullptr;
    const NTSTATUS status = run_callback(
        s, win::wsk_event_accept, guard, done, [&](category cat, const void *d, PVOID ctx) {
          return call_accept_event(cat, d, ctx, local, remote, a, &accepted_context,
                                   &accepted_dispatch);
        });
    // The addresses were valid only during the call (rule V59).
    std::memset(local, 0xCC, sizeof(local));
    std::memset(remote, 0xCC, sizeof(remote));
    if (status != STATUS_SUCCESS) {
      if (status != STATUS_REQUEST_NOT_ACCEPTED) {
        report(s, "WskAcceptEvent returned neither STATUS_SUCCESS nor "
                  "STATUS_REQUEST_NOT_ACCEPTED; the connection is rejected");
      }
      reset_and_destroy(a); // the client must never see this socket again (rule V55)
      continue;
    }
    // Connection events enabled on the listener apply to sockets accepted here (section 4.10).
    const ULONG inherited = s->event_mask & connection_events;
    std::lock_guard accepted_guard(a->lock);
    a->context = accepted_context;
    a->client_dispatch = accepted_dispatch;
    a->event_mask |= inherited;
    a->ev.held = false;
    events_kick_locked(a); // data that arrived meanwhile (section 4.3)
  }
  events_kick_locked(s); // more may be waiting
}

// ---- Receive, disconnect, send backlog --------------------------------------------------------

void deliver_receives(socket_object *s, std::unique_lock<socket_lock> &guard,
                      completion_batch &done);

// Resumes WskReceive IRPs that waited for a receive indication to be decided.
void after_receive_indication(socket_object *s, completion_batch &done) {
  if (!IsListEmpty(&s->queue(queue_kind::receive))) {
    stream_resume_receives(s, done);
  }
}

void deliver_receives(socket_object *s, std::unique_lock<socket_lock> &guard,
                      completion_batch &done) {
  for (int round = 0; round < max_indications; ++round) {
    if (closing(s) || s->state != socket_state::connected || s->aborted || s->ev.receive_stalled ||
        s->ev.resuming != 0 || !enabled(s, win::wsk_event_receive) ||
        !s->queue_idle(queue_kind::receive)) {
      return;
    }
    data_chunk *c = s->ev.unread;
    if (c != nullptr) {
      s->ev.unread = nullptr;
      discharge(s, c); // charged again when offered below
    } else {
      if (s->peer_closed || s->read_drained) {
        return; // nothing more until the next readiness (socket_object::read_drained)
      }
      if (!may_read(s)) {
        return; // at the bound: the data waits in the kernel until the client releases some
      }
      c = chunk_alloc();
      if (c == nullptr) {
        return; // the data waits in the kernel; the next readiness tries again
      }
      const iovec iov{c->bytes, chunk_capacity};
      const ssize_t got = net::sock::recv(s->fd, &iov, 1, 0);
      note_read(s, got, chunk_capacity);
      if (got <= 0) {
        chunk_free(c);
        if (got == 0) {
          s->peer_closed = true;
        } else if (got == -ECONNRESET) {
          s->ev.peer_reset = true;
        } else if (got != -EAGAIN && !enabled(s, win::wsk_event_disconnect) &&
                   !s->ev.dead_indicated) {
          // The socket stopped working and no disconnect event will say so.
          s->ev.dead_indicated = true;
          SIZE_T ignored = 0;
          run_callback(s, win::wsk_event_receive, guard, done,
                       [&](category cat, const void *d, PVOID ctx) {
                         return call_receive_event(cat, d, ctx, 0, nullptr, 0, &ignored);
                       });
        }
        return;
      }
      c->start = 0;
      c->length = static_cast<SIZE_T>(got);
    }
    c->owner = s;
    c->data.next = nullptr;
    c->data.buffer = {c->mdl, static_cast<ULONG>(c->start), c->length - c->start};
    const SIZE_T indicated = c->length - c->start;
    SIZE_T accepted = indicated;
    const ULONG flags = pressure_flags();
    offer_retention(s, c, indicated);
    const NTSTATUS status = run_callback(
        s, win::wsk_event_receive, guard, done, [&](category cat, const void *d, PVOID ctx) {
          return call_receive_event(cat, d, ctx, flags, &c->data, indicated, &accepted);
        });
    if (status == STATUS_PENDING) {
      // The client keeps it until WskRelease (which may have come already).
    } else if (!take_back(s, c)) {
      report(s, "WskRelease of a data indication list its receive event did not retain "
                "(rule V31)");
    } else if (status == STATUS_SUCCESS && accepted >= indicated) {
      if (accepted > indicated) {
        report(s, "WskReceiveEvent accepted more bytes than were indicated (rule V53)");
      }
      discharge(s, c);
      chunk_free(c);
    } else {
      if (status != STATUS_SUCCESS && status != STATUS_DATA_NOT_ACCEPTED) {
        report(s, "WskReceiveEvent returned an undocumented status; the data is not accepted");
      }
      // Partial acceptance or none: the rest heads the stream, and events wait for a
      // WskReceive to complete (section 4.5).
      c->start += status == STATUS_SUCCESS ? accepted : 0;
      recharge(s, c, c->length - c->start);
      s->ev.unread = c;
      s->ev.receive_stalled = true;
    }
    after_receive_indication(s, done);
  }
  events_kick_locked(s); // more may be waiting
}

void deliver_disconnect(socket_object *s, std::unique_lock<socket_lock> &guard,
                        completion_batch &done) {
  if (closing(s) || s->ev.disconnect_indicated || !enabled(s, win::wsk_event_disconnect)) {
    return;
  }
  // A graceful disconnect is indicated once the data before the FIN is read (by an event or a
  // receive), or, without receive events, when the FIN arrives.
  const bool graceful = s->peer_closed || (s->ev.fin_seen && !enabled(s, win::wsk_event_receive));
  if (!s->ev.peer_reset && !graceful) {
    return;
  }
  s->ev.disconnect_indicated = true;
  const bool abortive = s->ev.peer_reset;
  const NTSTATUS status = run_callback(s, win::wsk_event_disconnect, guard, done,
                                       [&](category cat, const void *d, PVOID ctx) {
                                         return call_disconnect_event(cat, d, ctx, abortive);
                                       });
  if (status != STATUS_SUCCESS) {
    report(s, "WskDisconnectEvent must return STATUS_SUCCESS (rule V52)");
  }
}

void deliver_send_backlog(socket_object *s, std::unique_lock<socket_lock> &guard,
                          completion_batch &done) {
  if (closing(s) || s->state != socket_state::connected ||
      !enabled(s, win::wsk_event_send_backlog)) {
    return;
  }
  // Indicated when it changes.
  SIZE_T ideal = 0;
  if (ideal_send_backlog(s, &ideal) != 0 || ideal == s->ev.backlog_indicated) {
    return;
  }
  s->ev.backlog_indicated = ideal;
  const NTSTATUS status = run_callback(s, win::wsk_event_send_backlog, guard, done,
                                       [&](category cat, const void *d, PVOID ctx) {
                                         return call_send_backlog_event(cat, d, ctx, ideal);
                                       });
  if (status != STATUS_SUCCESS) {
    report(s, "WskSendBacklogEvent must return STATUS_SUCCESS (rule V52)");
  }
}

// The connection failed (an error or a hang-up with nobody reading): was it a reset?
void check_reset(socket_object *s) {
  int error = 0;
  socklen_t length = sizeof(error);
  if (net::sock::get_option(s->fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 &&
      error == ECONNRESET) {
    s->ev.peer_reset = true;
  }
}

// ---- Datagrams ----------------------------------------------------------------------------------

// Reads up to datagrams_per_indication datagrams into a list, with one recvmmsg. Returns its
// head (NULL when none was waiting); *failed is set when the socket reported an error other
// than "no data".
data_chunk *read_datagrams(socket_object *s, ULONG *flags, bool *failed) {
  constexpr unsigned batch = datagrams_per_indication;
  // Room for the Linux form of each datagram's control data.
  constexpr std::size_t control_room = 512;
  data_chunk *chunks[batch];
  iovec iov[batch];
  sockaddr_storage sources[batch];
  alignas(cmsghdr) unsigned char linux_control[batch][control_room];
  mmsghdr messages[batch];
  unsigned wanted = 0;
  for (; wanted < batch; ++wanted) {
    chunks[wanted] = chunk_get();
    if (chunks[wanted] == nullptr) {
      break;
    }
  }
  int got = 0;
  for (;;) {
    if (wanted == 0 || s->read_drained) {
      break;
    }
    for (unsigned i = 0; i < wanted; ++i) {
      iov[i] = {chunks[i]->bytes, chunk_capacity};
      msghdr &m = messages[i].msg_hdr;
      m = msghdr{};
      m.msg_name = &sources[i];
      m.msg_namelen = sizeof(sources[i]);
      m.msg_iov = &iov[i];
      m.msg_iovlen = 1;
      m.msg_control = linux_control[i];
      m.msg_controllen = control_room;
      messages[i].msg_len = 0;
    }
    got = net::sock::recv_messages(s->fd, messages, wanted, 0);
    note_read(s, got, wanted);
    if (got == -ECONNREFUSED || got == -EHOSTUNREACH || got == -ENETUNREACH) {
      continue; // an ICMP error for an earlier send is not this socket's failure
    }
    if (got < 0) {
      *failed = got != -EAGAIN;
      got = 0;
    }
    break;
  }
  count_out(static_cast<std::size_t>(got));
  data_chunk *head = nullptr;
  datagram_indication_view **tail = nullptr;
  for (unsigned i = 0; i < wanted; ++i) {
    data_chunk *c = chunks[i];
    if (i >= static_cast<unsigned>(got)) {
      chunk_cache().release(c); // never counted
      continue;
    }
    const msghdr &m = messages[i].msg_hdr;
    c->owner = s;
    c->start = 0;
    c->length = messages[i].msg_len;
    std::memset(c->remote, 0, sizeof(c->remote));
    to_windows_address(reinterpret_cast<const sockaddr *>(&sources[i]), c->remote);
    const received_control translated = to_windows_control(m, c->control, sizeof(c->control));
    *flags |= translated.flags;
    c->datagram.next = nullptr;
    c->datagram.buffer = {c->mdl, 0, c->length};
    c->datagram.control = translated.length != 0 ? c->control : nullptr;
    c->datagram.control_length = static_cast<ULONG>(translated.length);
    c->datagram.remote = c->remote;
    if (head == nullptr) {
      head = c;
    } else {
      *tail = &c->datagram;
    }
    tail = &c->datagram.next;
  }
  return head;
}

// ---- Kick task and inspection timer -------------------------------------------------------------

void on_kick(net::task *t) {
  socket_object *s = static_cast<socket_task *>(t)->owner;
  {
    std::lock_guard guard(s->lock);
    s->ev.kick_posted = false;
  }
  // As if the socket had become readable and writable: parked IRPs are tried again, then what
  // is due is indicated. (The release task waits for this task, so the socket is alive.)
  if (s->cat == category::datagram) {
    datagram_on_events(s, net::ev_in | net::ev_out);
  } else {
    stream_on_events(s, net::ev_in | net::ev_out);
  }
}

// Whether `a` is still on the listener's list of pended requests.
bool still_inspecting(socket_object *s, const socket_object *a) {
  for (PLIST_ENTRY link = s->ev.inspecting.Flink; link != &s->ev.inspecting; link = link->Flink) {
    if (link == &a->ev.inspect_link.entry) {
      return true;
    }
  }
  return false;
}

// Whether the peer of a connection awaiting inspection or acceptance gave up.
bool peer_gave_up(const socket_object *a) {
  pollfd p{a->fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void on_abort_timer(net::timer *t) {
  socket_object *s = static_cast<socket_timer *>(t)->owner;
  completion_batch done;
  std::unique_lock guard(s->lock);
  if (closing(s)) {
    return;
  }
  for (LIST_ENTRY *list : {&s->ev.inspecting, &s->ev.ready}) {
    PLIST_ENTRY link = list->Flink;
    while (link != list) {
      PLIST_ENTRY next = link->Flink;
      socket_object *a = CONTAINING_RECORD(link, socket_link, entry)->owner;
      if (peer_gave_up(a)) {
        RemoveEntryList(link);
        InitializeListHead(link);
        const ULONG_PTR key = a->ev.inspect_key;
        const ULONG serial = a->ev.inspect_serial;
        reset_and_destroy(a);
        const NTSTATUS status = run_callback(s, inspect_running, guard, done,
                                             [&](category cat, const void *d, PVOID ctx) {
                                               return call_abort_event(cat, d, ctx, key, serial);
                                             });
        if (status != STATUS_SUCCESS) {
          report(s, "WskAbortEvent must return STATUS_SUCCESS (rule V52)");
        }
        if (closing(s)) {
          return;
        }
        next = list->Flink; // the list may have changed while the lock was dropped
      }
      link = next;
    }
  }
  if (!IsListEmpty(&s->ev.inspecting) || !IsListEmpty(&s->ev.ready)) {
    s->loop->arm_timer(&s->ev.abort_timer, net::timer::clock::now() + abort_poll);
  }
}

} // namespace

// ---- Interface
// -------------------------------------------------------------------------------------

void events_init(socket_object *s) {
  InitializeListHead(&s->ev.disable_irps);
  InitializeListHead(&s->ev.retained);
  InitializeListHead(&s->ev.inspecting);
  InitializeListHead(&s->ev.ready);
  InitializeListHead(&s->ev.inspect_link.entry);
  s->ev.inspect_link.owner = s;
  s->ev.kick_task.run = on_kick;
  s->ev.kick_task.owner = s;
  s->ev.abort_timer.on_expire = on_abort_timer;
  s->ev.abort_timer.owner = s;
}

void events_kick_locked(socket_object *s) {
  if (s->loop == nullptr || s->ev.kick_posted || closing(s)) {
    return;
  }
  s->ev.kick_posted = s->loop->post(&s->ev.kick_task);
}

void events_inspect(socket_object *s, std::unique_lock<socket_lock> &guard,
                    completion_batch &done) {
  for (int round = 0; round < max_accepts; ++round) {
    if (closing(s) || s->state != socket_state::listening || !s->conditional_accept) {
      return;
    }
    const int fd = accept_one(s);
    if (fd == -EAGAIN) {
      return;
    }
    if (fd < 0) {
      indicate_dead_listener(s, guard, done);
      return;
    }
    socket_object *a = adopt_accepted(s, fd, nullptr, nullptr, true);
    if (a == nullptr) {
      net::sock::close(fd);
      return;
    }
    a->ev.has_inspect_id = true;
    a->ev.inspect_key = reinterpret_cast<ULONG_PTR>(a);
    a->ev.inspect_serial = ++s->ev.next_serial;
    unsigned char local[32];
    unsigned char remote[32];
    addresses_of(fd, local, remote);
    const ULONG_PTR key = a->ev.inspect_key;
    const ULONG serial = a->ev.inspect_serial;
    // Listed as pending before the callback runs: the client may hand the ID to another thread
    // that calls WskInspectComplete before the callback even returns.
    InsertTailList(&s->ev.inspecting, &a->ev.inspect_link.entry);
    const inspect_action action =
        run_callback(s, inspect_running, guard, done, [&](category cat, const void *d, PVOID ctx) {
          return call_inspect_event(cat, d, ctx, local, remote, key, serial, false);
        });
    if (!still_inspecting(s, a)) {
      // WskInspectComplete already decided (and may have freed the connection).
      if (action != inspect_action::pend) {
        report(s, "WskInspectComplete for a request its WskInspectEvent did not pend");
      }
      continue;
    }
    if (closing(s)) {
      return; // the close resets everything on the inspection lists
    }
    switch (action) {
    case inspect_action::accept:
      RemoveEntryList(&a->ev.inspect_link.entry);
      InsertTailList(&s->ev.ready, &a->ev.inspect_link.entry);
      break;
    case inspect_action::pend:
      break;
    case inspect_action::invalid:
      report(s, "WskInspectEvent returned an undocumented action; the request is rejected");
      [[fallthrough]];
    case inspect_action::reject:
      // Linux completed the handshake already: the peer sees the connection reset
      // (docs/divergences.md).
      RemoveEntryList(&a->ev.inspect_link.entry);
      InitializeListHead(&a->ev.inspect_link.entry);
      reset_and_destroy(a);
      continue;
    }
    if (!s->ev.abort_timer.armed()) {
      s->loop->arm_timer(&s->ev.abort_timer, net::timer::clock::now() + abort_poll);
    }
  }
  events_kick_locked(s); // more may be waiting
}

void events_deliver_stream(socket_object *s, std::uint32_t events,
                           std::unique_lock<socket_lock> &guard, completion_batch &done) {
  if (closing(s) || s->ev.held) {
    return;
  }
  if (s->state == socket_state::listening) {
    deliver_accepts(s, guard, done);
    return;
  }
  if (s->state != socket_state::connected) {
    return;
  }
  if ((events & net::ev_rdhup) != 0) {
    s->ev.fin_seen = true;
  }
  // Without receive events, or while they stopped reading at the bound, no read would find a
  // reset.
  if ((events & (net::ev_err | net::ev_hup)) != 0 &&
      (!enabled(s, win::wsk_event_receive) || s->ev.throttled) &&
      enabled(s, win::wsk_event_disconnect)) {
    check_reset(s);
  }
  deliver_receives(s, guard, done);
  deliver_disconnect(s, guard, done);
  if ((events & net::ev_out) != 0 || events == 0) {
    deliver_send_backlog(s, guard, done);
  }
}

void events_deliver_datagram(socket_object *s, std::unique_lock<socket_lock> &guard,
                             completion_batch &done) {
  for (int round = 0; round < max_indications; ++round) {
    if (closing(s) || s->state != socket_state::bound || !enabled(s, win::wsk_event_receive_from) ||
        !s->queue_idle(queue_kind::receive)) {
      return;
    }
    ULONG flags = pressure_flags();
    data_chunk *head = s->ev.refused;
    s->ev.refused = nullptr;
    bool failed = false;
    if (head != nullptr) {
      discharge(s, head); // charged again when offered below
    } else {
      if (!may_read(s)) {
        return; // at the bound: datagrams wait in the kernel (which drops what overflows it)
      }
      head = read_datagrams(s, &flags, &failed);
    }
    if (head == nullptr) {
      if (failed && !s->ev.dead_indicated) {
        s->ev.dead_indicated = true;
        run_callback(s, win::wsk_event_receive_from, guard, done,
                     [](category, const void *d, PVOID ctx) {
                       return call_receive_from_event(d, ctx, 0, nullptr);
                     });
      }
      return;
    }
    offer_retention(s, head, datagram_bytes(head));
    const NTSTATUS status = run_callback(
        s, win::wsk_event_receive_from, guard, done, [&](category, const void *d, PVOID ctx) {
          return call_receive_from_event(d, ctx, flags, &head->datagram);
        });
    if (status == STATUS_PENDING) {
      // The client keeps the list until WskRelease (which may have come already).
    } else if (!take_back(s, head)) {
      report(s, "WskRelease of a datagram indication list its receive event did not retain "
                "(rule V31)");
    } else if (status == STATUS_DATA_NOT_ACCEPTED && s->ev.receive_from_dynamic && !closing(s)) {
      // Enabled with SO_WSK_EVENT_CALLBACK: the event is now disabled, and these datagrams are
      // indicated again when the client enables it again (section 4.8).
      s->event_mask &= ~win::wsk_event_receive_from;
      s->ev.receive_from_dynamic = false;
      s->ev.refused = head;
      return;
    } else {
      if (status != STATUS_SUCCESS && status != STATUS_DATA_NOT_ACCEPTED) {
        report(s, "WskReceiveFromEvent returned an undocumented status");
      }
      // Consumed, or refused while enabled statically: the event stays on and the datagrams
      // are dropped.
      discharge(s, head);
      free_datagram_list(head);
    }
    if (!IsListEmpty(&s->queue(queue_kind::receive))) {
      datagram_resume_receives(s, done);
    }
  }
  events_kick_locked(s); // more may be waiting
}

int ideal_send_backlog(const socket_object *s, SIZE_T *ideal) {
  int size = 0;
  socklen_t length = sizeof(size);
  const int result = net::sock::get_option(s->fd, SOL_SOCKET, SO_SNDBUF, &size, &length);
  if (result == 0) {
    *ideal = static_cast<SIZE_T>(std::max(size / 2, 1));
  }
  return result;
}

bool events_receive_must_wait(const socket_object *s) {
  return s->ev.running == win::wsk_event_receive;
}

SIZE_T events_take_unread(socket_object *s, const iovec *iov, std::size_t count) {
  data_chunk *c = s->ev.unread;
  SIZE_T copied = 0;
  for (std::size_t i = 0; i < count && c != nullptr && c->start < c->length; ++i) {
    const SIZE_T n = std::min<SIZE_T>(iov[i].iov_len, c->length - c->start);
    std::memcpy(iov[i].iov_base, c->bytes + c->start, n);
    c->start += n;
    copied += n;
  }
  if (c != nullptr && c->start == c->length) {
    s->ev.unread = nullptr;
    discharge(s, c);
    chunk_free(c);
  } else if (c != nullptr) {
    recharge(s, c, c->length - c->start);
  }
  return copied;
}

void events_drop_unread(socket_object *s) {
  if (s->ev.unread != nullptr) {
    discharge(s, s->ev.unread);
    chunk_free(s->ev.unread);
    s->ev.unread = nullptr;
  }
}

bool events_receive_finished(socket_object *s) {
  if (!s->ev.receive_stalled) {
    return false;
  }
  s->ev.receive_stalled = false;
  ++s->ev.resuming;
  return true;
}

void events_receives_completed(socket_object *s, unsigned count) {
  std::lock_guard guard(s->lock);
  s->ev.resuming -= count;
  if (s->ev.resuming == 0) {
    events_kick_locked(s);
  }
}

socket_object *events_take_ready(socket_object *s) {
  if (IsListEmpty(&s->ev.ready)) {
    return nullptr;
  }
  PLIST_ENTRY link = RemoveHeadList(&s->ev.ready);
  InitializeListHead(link);
  return CONTAINING_RECORD(link, socket_link, entry)->owner;
}

NTSTATUS events_set_mask(socket_object *s, ULONG mask, PIRP irp) {
  const ULONG fixed = static_event_mask(s->reg, s->cat);
  std::lock_guard guard(s->lock);
  if ((mask & win::wsk_event_disable) == 0) {
    s->event_mask |= mask;
    if ((mask & win::wsk_event_receive_from) != 0) {
      s->ev.receive_from_dynamic = (fixed & win::wsk_event_receive_from) == 0;
    }
    events_kick_locked(s); // what is already waiting is indicated now
    return STATUS_SUCCESS;
  }
  const ULONG event = mask & ~win::wsk_event_disable;
  if ((event & fixed) != 0) {
    return STATUS_INVALID_DEVICE_STATE; // statically enabled events stay enabled
  }
  s->event_mask &= ~event;
  if ((s->ev.running & event) == 0) {
    return STATUS_SUCCESS;
  }
  // Its callback is running: the disable takes effect for every later call at once, and the
  // IRP completes (or the caller learns STATUS_EVENT_PENDING) once the call has returned.
  if (irp == nullptr) {
    return STATUS_EVENT_PENDING;
  }
  IoMarkIrpPending(irp);
  InsertTailList(&s->ev.disable_irps, irp_link(irp));
  return STATUS_PENDING;
}

NTSTATUS events_inspect_id(socket_object *s, void *output, SIZE_T output_size, SIZE_T *written) {
  std::lock_guard guard(s->lock);
  if (!s->ev.has_inspect_id) {
    return STATUS_INVALID_DEVICE_REQUEST;
  }
  constexpr SIZE_T id_size = sizeof(ULONG_PTR) * 2; // WSK_INSPECT_ID: Key, SerialNumber, padding
  if (output == nullptr || output_size < id_size) {
    *written = id_size;
    return STATUS_BUFFER_TOO_SMALL;
  }
  auto *out = static_cast<unsigned char *>(output);
  std::memset(out, 0, id_size);
  std::memcpy(out, &s->ev.inspect_key, sizeof(ULONG_PTR));
  std::memcpy(out + sizeof(ULONG_PTR), &s->ev.inspect_serial, sizeof(ULONG));
  *written = id_size;
  return STATUS_SUCCESS;
}

void events_on_close_locked(socket_object *s) {
  for (LIST_ENTRY *list : {&s->ev.inspecting, &s->ev.ready}) {
    while (!IsListEmpty(list)) {
      PLIST_ENTRY link = RemoveHeadList(list);
      InitializeListHead(link);
      reset_and_destroy(CONTAINING_RECORD(link, socket_link, entry)->owner);
    }
  }
}

bool events_release_must_wait(const socket_object *s) {
  return s->ev.kick_posted || s->ev.held || s->ev.resuming != 0;
}

void events_on_release(socket_object *s) {
  if (s->loop != nullptr) {
    s->loop->cancel_timer(&s->ev.abort_timer);
  }
}

void events_free(socket_object *s) {
  events_drop_unread(s);
  if (s->ev.refused != nullptr) {
    discharge(s, s->ev.refused);
    free_datagram_list(s->ev.refused);
    s->ev.refused = nullptr;
  }
  if (!IsListEmpty(&s->ev.retained)) {
    report(s, "WskCloseSocket with indication lists still retained; release each with "
              "WskRelease before closing (rule V31)");
    std::lock_guard guard(orphan_lock);
    while (!IsListEmpty(&s->ev.retained)) {
      PLIST_ENTRY link = RemoveHeadList(&s->ev.retained);
      CONTAINING_RECORD(link, data_chunk, link)->owner = nullptr;
      InsertTailList(&orphans, link);
    }
  }
}

// ---- WskRelease and WskInspectComplete
// --------------------------------------------------------------

NTSTATUS socket_release_data(socket_object *s, const void *indication) {
  data_chunk *found = nullptr;
  {
    std::lock_guard guard(s->lock);
    for (PLIST_ENTRY link = s->ev.retained.Flink; link != &s->ev.retained; link = link->Flink) {
      data_chunk *c = CONTAINING_RECORD(link, data_chunk, link);
      if (indication != nullptr && &c->data == indication) {
        RemoveEntryList(link);
        discharge(s, c); // reading resumes if this brings the socket below its bound
        found = c;
        break;
      }
    }
  }
  if (found == nullptr) {
    report(s, "WskRelease of a data indication list this socket does not hold retained");
    return STATUS_INVALID_PARAMETER;
  }
  chunk_free(found);
  return STATUS_SUCCESS;
}

NTSTATUS socket_release_datagrams(socket_object *s, const void *indication) {
  data_chunk *found = nullptr;
  {
    std::lock_guard guard(s->lock);
    for (PLIST_ENTRY link = s->ev.retained.Flink; link != &s->ev.retained; link = link->Flink) {
      data_chunk *c = CONTAINING_RECORD(link, data_chunk, link);
      if (indication != nullptr && &c->datagram == indication) {
        RemoveEntryList(link);
        discharge(s, c); // reading resumes if this brings the socket below its bound
        found = c;
        break;
      }
    }
  }
  if (found == nullptr) {
    report(s, "WskRelease of a datagram indication list this socket does not hold retained");
    return STATUS_INVALID_PARAMETER;
  }
  free_datagram_list(found);
  return STATUS_SUCCESS;
}

NTSTATUS socket_inspect_complete(socket_object *s, ULONG_PTR key, ULONG serial, bool accept,
                                 PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  socket_object *a = nullptr;
  NTSTATUS status = STATUS_SUCCESS;
  {
    std::lock_guard guard(s->lock);
    if (!s->conditional_accept || s->state != socket_state::listening) {
      status = STATUS_INVALID_DEVICE_STATE;
    } else {
      status = STATUS_INVALID_PARAMETER; // not a pended request (section 3.9)
      for (PLIST_ENTRY link = s->ev.inspecting.Flink; link != &s->ev.inspecting;
           link = link->Flink) {
        socket_object *candidate = CONTAINING_RECORD(link, socket_link, entry)->owner;
        if (candidate->ev.inspect_key == key && candidate->ev.inspect_serial == serial) {
          RemoveEntryList(link);
          InitializeListHead(link);
          a = candidate;
          status = STATUS_SUCCESS;
          break;
        }
      }
      if (a != nullptr && accept) {
        InsertTailList(&s->ev.ready, &a->ev.inspect_link.entry);
        events_kick_locked(s); // a queued WskAccept or the accept event takes it
        a = nullptr;
      }
    }
  }
  if (a != nullptr) {
    reset_and_destroy(a); // rejected
  }
  return irp_complete(irp, status, 0);
}

} // namespace uwsk::wsk

// Indication buffers, receive backpressure, retention and WskRelease. The rules are in
// linux/indication.hpp and linux/events.hpp.
#include "wsk/linux/indication.hpp"

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>

#include <malloc.h>

#include <uwsk/log.h>

#include "net/receive_buffers.hpp"
#include "net/socket_ops.hpp"
#include "nt/ex/thread_cache.hpp"
#include "win_constants.hpp"
#include "wsk/linux/event_core.hpp"
#include "wsk/provider_new.hpp"

namespace uwsk::wsk {
namespace {

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

// The bound ("Receive backpressure" below): the socket's SO_RCVBUF as Linux reports it when the
// bound is first needed (so a size the client set before its first indication counts). Read
// once: Linux grows the buffer of a socket that is read quickly (up to tcp_rmem[2]), which would
// let the bound grow with the very bursts it is there to stop.
SIZE_T buffer_limit(socket_object *s, indication_state &in) {
  if (in.buffer_limit == 0) {
    int size = 0;
    socklen_t length = sizeof(size);
    in.buffer_limit =
        net::sock::get_option(s->fd, SOL_SOCKET, SO_RCVBUF, &size, &length) == 0 && size > 0
            ? static_cast<SIZE_T>(size)
            : default_buffer_limit;
  }
  return in.buffer_limit;
}

// What a socket that holds data read for its events holds (may_read made it).
indication_state &held(socket_object *s) {
  return *s->ev.indicated;
}

} // namespace

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
void chunk_put_back(data_chunk *c) {
  chunk_cache().release(c);
}

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
  if (c->pool != nullptr) {
    c->pool->release(c->pool_id); // a provided buffer goes back to its loop's ring
  } else {
    chunk_cache().release(c);
  }
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

std::size_t chunk_headroom() {
  return chunk_header + chunk_mdl_bytes();
}

data_chunk *chunk_from_buffer(net::receive_buffers *pool, std::uint16_t id) {
  auto *c = reinterpret_cast<data_chunk *>(pool->header(id));
  if (c->mdl == nullptr) {
    // The first time this buffer is filled (the mapping starts zeroed): its header and MDL.
    c = new (pool->header(id)) data_chunk{};
    c->mdl = reinterpret_cast<PMDL>(pool->header(id) + chunk_header);
    c->bytes = pool->data(id);
    c->pool = pool;
    c->pool_id = id;
    MmInitializeMdl(c->mdl, c->bytes, pool->size());
    MmBuildMdlForNonPagedPool(c->mdl);
  }
  c->next_unread = nullptr;
  count_out(1); // held like any chunk (pressure_flags counts it)
  return c;
}

void unread_append(socket_object *s, data_chunk *c) {
  c->next_unread = nullptr;
  data_chunk **end = &held(s).unread;
  while (*end != nullptr) {
    end = &(*end)->next_unread;
  }
  *end = c;
  charge(s, c, c->length - c->start);
}

data_chunk *unread_pop(socket_object *s) {
  data_chunk *c = unread_of(s);
  if (c != nullptr) {
    s->ev.indicated->unread = c->next_unread;
    c->next_unread = nullptr;
  }
  return c;
}

void unread_push_front(socket_object *s, data_chunk *c) {
  indication_state &in = held(s);
  c->next_unread = in.unread;
  in.unread = c;
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
// head) the bytes it was charged with. All of this is under the socket's lock. The bound is
// buffer_limit's (above).

// Whether the events may read the socket again (below its bound). A read takes up to one chunk,
// so a socket holds at most its bound plus one read.
bool may_read(socket_object *s) {
  if (!s->ev.indicated) {
    s->ev.indicated.reset(provider_new<indication_state>());
    if (!s->ev.indicated) {
      events_retry_for_memory(s); // no memory to hold what it reads: tried again later
      return false;
    }
  }
  indication_state &in = *s->ev.indicated;
  in.throttled = in.buffered >= buffer_limit(s, in);
  return !in.throttled;
}

// Whether the events may indicate more: what the client holds (the socket's bytes but those
// still on the unread list) is below the bound. A multishot receive (event rule 10) reads ahead
// of the bound by what the kernel had queued before its cancellation took effect; those bytes
// wait on the unread list, held by the provider, so the client still holds at most the bound
// plus one read.
bool may_indicate(socket_object *s) {
  indication_state &in = held(s);
  if (in.buffered < buffer_limit(s, in)) {
    return true;
  }
  SIZE_T unread = 0;
  for (const data_chunk *c = in.unread; c != nullptr; c = c->next_unread) {
    unread += c->charged;
  }
  if (in.buffered - unread < buffer_limit(s, in)) {
    return true;
  }
  in.throttled = true;
  return false;
}

// A list the socket now holds, counting `bytes`.
void charge(socket_object *s, data_chunk *head, SIZE_T bytes) {
  head->charged = bytes;
  held(s).buffered += bytes;
}

// A held list now counts `bytes` (no more than before; 0: the socket no longer holds it). Resumes
// reading when that brings a throttled socket below its bound.
void recharge(socket_object *s, data_chunk *head, SIZE_T bytes) {
  indication_state &in = held(s);
  const bool less = bytes < head->charged;
  in.buffered -= head->charged - bytes;
  head->charged = bytes;
  // With bytes waiting on the unread list the client may be below its bound again
  // (may_indicate) although the socket is not.
  if (in.throttled && (in.buffered < in.buffer_limit || (less && in.unread != nullptr))) {
    in.throttled = false;
    socket_kick_locked(s);
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

// A list is counted as retained from before its callback runs, so a client may hand it to
// another thread that calls WskRelease before the callback even returns. For any answer but
// STATUS_PENDING the provider takes it back (still charged); false if the client released it
// anyway (then it is gone, and the answer is ignored).
namespace {
std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Rule V32: a list offered with WSK_FLAG_RELEASE_ASAP held longer than release_asap_bound_ms.
void check_release_asap(const socket_object *s, const data_chunk *head, const char *when) {
  if (head->asap_since_ns == 0) {
    return;
  }
  const std::int64_t held_ms = (steady_ns() - head->asap_since_ns) / 1000000;
  if (held_ms <= release_asap_bound_ms) {
    return;
  }
  char sentence[320];
  std::snprintf(sentence, sizeof sentence,
                "an indication list offered with WSK_FLAG_RELEASE_ASAP was held %lld ms before "
                "%s: with that flag the client releases retained data promptly (within %lld ms "
                "here)",
                static_cast<long long>(held_ms), when,
                static_cast<long long>(release_asap_bound_ms));
  event_violation(32, false, s, sentence);
}
} // namespace

void offer_retention(socket_object *s, data_chunk *head, SIZE_T bytes, ULONG flags) {
  head->asap_since_ns = (flags & win::wsk_flag_release_asap) != 0 ? steady_ns() : 0;
  charge(s, head, bytes);
  InsertTailList(&held(s).retained, &head->link);
}

bool take_back(socket_object *s, data_chunk *head) {
  const LIST_ENTRY &retained = held(s).retained;
  for (PLIST_ENTRY link = retained.Flink; link != &retained; link = link->Flink) {
    if (link == &head->link) {
      RemoveEntryList(link);
      return true;
    }
  }
  return false;
}

// ---- The unaccepted head of the stream (WskReceive after a partial indication) ----------------

SIZE_T events_take_unread(socket_object *s, const iovec *iov, std::size_t count) {
  SIZE_T copied = 0;
  std::size_t i = 0;
  SIZE_T filled = 0; // of iov[i]
  while (i < count && unread_of(s) != nullptr) {
    data_chunk *c = unread_of(s);
    const SIZE_T n = std::min<SIZE_T>(iov[i].iov_len - filled, c->length - c->start);
    std::memcpy(static_cast<unsigned char *>(iov[i].iov_base) + filled, c->bytes + c->start, n);
    c->start += n;
    filled += n;
    copied += n;
    if (c->start == c->length) {
      unread_pop(s);
      discharge(s, c);
      chunk_free(c);
    } else {
      recharge(s, c, c->length - c->start);
    }
    if (filled == iov[i].iov_len) {
      ++i;
      filled = 0;
    }
  }
  return copied;
}

void events_drop_unread(socket_object *s) {
  while (data_chunk *c = unread_pop(s)) {
    discharge(s, c);
    chunk_free(c);
  }
}

void indications_free(socket_object *s) {
  if (s->ring && s->ring->uses_buffers) {
    s->ring->uses_buffers = false; // on the loop thread: the release task frees it
    s->loop->provided_buffers(chunk_headroom())->remove_user();
  }
  if (!s->ev.indicated) {
    return; // it never read for its events
  }
  indication_state &in = *s->ev.indicated;
  events_drop_unread(s);
  if (in.refused != nullptr) {
    discharge(s, in.refused);
    free_datagram_list(in.refused);
    in.refused = nullptr;
  }
  if (!IsListEmpty(&in.retained)) {
    unsigned lists = 0;
    for (PLIST_ENTRY e = in.retained.Flink; e != &in.retained; e = e->Flink) {
      ++lists;
    }
    char sentence[320];
    std::snprintf(sentence, sizeof sentence,
                  "WskCloseSocket with %u indication list%s still retained: each is released "
                  "with WskRelease before the close (uwsk keeps them valid)",
                  lists, lists == 1 ? "" : "s");
    event_violation(31, false, s, sentence);
    for (PLIST_ENTRY e = in.retained.Flink; e != &in.retained; e = e->Flink) {
      check_release_asap(s, CONTAINING_RECORD(e, data_chunk, link), "the close");
    }
    std::lock_guard guard(orphan_lock);
    while (!IsListEmpty(&in.retained)) {
      PLIST_ENTRY link = RemoveHeadList(&in.retained);
      CONTAINING_RECORD(link, data_chunk, link)->owner = nullptr;
      InsertTailList(&orphans, link);
    }
  }
}

// ---- WskRelease ---------------------------------------------------------------------------------

namespace {

// Takes a retained list back from the client by the address of its first element (`element_of`
// says where that is in a chunk). NULL, with a report, when the socket holds no such list.
template <class Element>
data_chunk *take_retained(socket_object *s, const void *indication, Element element_of,
                          const char *kind) {
  std::lock_guard guard(s->lock);
  // A socket that never read for its events holds no list.
  for (PLIST_ENTRY link = s->ev.indicated ? s->ev.indicated->retained.Flink : nullptr;
       link != nullptr && link != &s->ev.indicated->retained; link = link->Flink) {
    data_chunk *c = CONTAINING_RECORD(link, data_chunk, link);
    if (indication != nullptr && element_of(c) == indication) {
      check_release_asap(s, c, "WskRelease");
      RemoveEntryList(link);
      discharge(s, c); // reading resumes if this brings the socket below its bound
      return c;
    }
  }
  char sentence[320];
  std::snprintf(sentence, sizeof sentence,
                "WskRelease of %p, not a %s indication list this socket holds retained (released "
                "already, never retained, or another socket's): STATUS_INVALID_PARAMETER",
                indication, kind);
  event_violation(31, false, s, sentence);
  return nullptr;
}

} // namespace

NTSTATUS socket_release_data(socket_object *s, const void *indication) {
  data_chunk *list = take_retained(
      s, indication, [](data_chunk *c) -> const void * { return &c->data; }, "data");
  if (list == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  chunk_free(list);
  return STATUS_SUCCESS;
}

NTSTATUS socket_release_datagrams(socket_object *s, const void *indication) {
  data_chunk *list = take_retained(
      s, indication, [](data_chunk *c) -> const void * { return &c->datagram; }, "datagram");
  if (list == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  free_datagram_list(list);
  return STATUS_SUCCESS;
}

} // namespace uwsk::wsk

// Indication buffers (Linux half): the provider-owned memory behind data and datagram
// indications, the bound on what one socket holds of it (receive backpressure), retention and
// WskRelease. The rules are event rules 1, 4 and 9 (docs/design.md, "Event callbacks"); "The
// data path" there has the numbers.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "wsk/linux/socket.hpp"

namespace uwsk::net {
class receive_buffers;
}

namespace uwsk::wsk {

// One provider-owned receive buffer: the bytes of one read (or one datagram), the MDL that
// describes them, and the indication element the client sees. Buffers are recycled through
// per-thread caches (chunk_cache); an MDL is built once per buffer. A chunk may instead be one
// of the loop's provided buffers (net/receive_buffers.hpp), filled by a multishot receive: the
// same header then sits in the buffer's headroom, and freeing it gives the buffer back.
struct data_chunk {
  LIST_ENTRY link; // on indication_state::retained (a retained list's head) or the orphan list
  socket_object *owner;
  data_chunk *next_unread;           // on the unread list: the chunk whose bytes follow
  net::receive_buffers *pool;        // a provided buffer's set, or NULL for a cached chunk
  std::uint16_t pool_id;             // a provided buffer's id in `pool`
  data_indication_view data;         // connection sockets
  data_indication_view pieces[7];    // split-indication: the further elements of its chain
  datagram_indication_view datagram; // datagram sockets (chained through datagram.next)
  SIZE_T start;                      // first byte not yet accepted
  SIZE_T length;                     // bytes held
  SIZE_T charged;             // bytes the list (by its head) counts in indication_state::buffered
  std::int64_t asap_since_ns; // offered with WSK_FLAG_RELEASE_ASAP at (steady ns), or 0
  PMDL mdl;
  unsigned char *bytes;
  alignas(8) unsigned char remote[32];   // the sender, as a Windows SOCKADDR
  alignas(8) unsigned char control[256]; // the datagram's control data, Windows layout
};

// One read per indication: 64 KiB holds the largest datagram and a good slice of a stream.
inline constexpr std::size_t chunk_capacity = 65536;

// A chunk from the cache, not yet counted as held (count_out counts what a batch kept).
data_chunk *chunk_get();
void count_out(std::size_t n);
// Returns a chunk from chunk_get that was never counted.
void chunk_put_back(data_chunk *c);
// A chunk counted as held; chunk_free returns one.
data_chunk *chunk_alloc();
void chunk_free(data_chunk *c);
data_chunk *chunk_of(datagram_indication_view *v);
// Frees a datagram list by its head.
void free_datagram_list(data_chunk *head);
// WSK_FLAG_RELEASE_ASAP while clients hold many buffers (provided ones included), else 0.
ULONG pressure_flags();

// Provided buffers (on the loop thread): the headroom a chunk's header and MDL take before each
// buffer's bytes, and the chunk of a buffer a multishot receive filled (its MDL built the first
// time the buffer is seen), held until chunk_free.
std::size_t chunk_headroom();
data_chunk *chunk_from_buffer(net::receive_buffers *pool, std::uint16_t id);

// The head of the stream read for receive events and not yet taken (indication_state::unread,
// a list in stream order), under the lock: a chunk appended (charged with its bytes), the
// first taken off (still charged), a chunk put back in front (its charge unchanged).
void unread_append(socket_object *s, data_chunk *c);
data_chunk *unread_pop(socket_object *s);
void unread_push_front(socket_object *s, data_chunk *c);

// Receive backpressure, under the socket's lock (linux/indication.cpp explains the accounting).
bool may_read(socket_object *s);
bool may_indicate(socket_object *s);
void charge(socket_object *s, data_chunk *head, SIZE_T bytes);
void recharge(socket_object *s, data_chunk *head, SIZE_T bytes);
void discharge(socket_object *s, data_chunk *head);
SIZE_T datagram_bytes(data_chunk *head);

// Retention, under the lock: a list counts as retained from before its callback runs;
// take_back returns it to the provider unless the client released it already. `flags` are the
// callback's: a list offered with WSK_FLAG_RELEASE_ASAP and released (or still held at the
// close) after release_asap_bound is reported (rule V32).
void offer_retention(socket_object *s, data_chunk *head, SIZE_T bytes, ULONG flags);
inline constexpr std::int64_t release_asap_bound_ms = 1000;
bool take_back(socket_object *s, data_chunk *head);

// Just before the socket is freed: frees its buffers; lists the client still retains stay
// valid and are reported (rule V31).
void indications_free(socket_object *s);

} // namespace uwsk::wsk

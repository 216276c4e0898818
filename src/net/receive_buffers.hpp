// A loop's provided receive buffers: one io_uring buffer ring (IOU_PBUF_RING) per loop, from
// which multishot receives (io_kind::recv_multishot, loop.hpp) take a buffer for each
// completion, so that the kernel writes received bytes straight into memory the owner then
// hands on without a copy. Only the io_uring engine makes them (loop::provided_buffers).
//
// Rules:
//  1. One set per loop, made on the loop thread the first time an owner asks for it, and the
//     same for every socket of the loop: memory does not grow with the number of connections.
//     `count` buffers of `stride` bytes each; each buffer is preceded by `headroom` bytes the
//     kernel never writes, which the owner may use for its own header (the first owner's
//     headroom holds for the loop).
//  2. A buffer belongs to the owner of the request whose completion named it, from that
//     completion until release(). release() may be called on any thread: on the loop thread
//     the buffer goes back to the ring at once, elsewhere on a lock-free list the loop thread
//     empties into the ring before its next wait.
//  3. The memory lives until the loop is gone and every buffer is released: a buffer held past
//     the loop's end (a client that never released it) keeps the whole set mapped.
//  4. When every buffer is out, a multishot receive ends with -ENOBUFS; the owner reads some
//     other way until available() says buffers are back.
//  5. At most `most_armed` multishot receives of the loop's owners take from the set at once
//     (arm, disarmed), as many as it has buffers: each socket armed takes a buffer per arrival,
//     and when a thousand sockets took from 64 buffers, most of their receives ended with
//     -ENOBUFS, fell back to readiness and were armed again, message after message (the event
//     echo at 1,000 connections ran at 0.12 x raw epoll, at 10,000 at 0.03). The sockets past
//     the bound read on readiness, as on epoll, until an armed one ends.
//  6. Once the set has no user (add_user, remove_user: the owners that receive into it, say a
//     connection from its first multishot receive to its end) and every buffer is back in the
//     ring, the buffers' pages go back to the system (MADV_DONTNEED): a loop whose connections
//     are gone keeps no resident buffers, while one whose connections pause keeps them warm.
//     The headroom goes with them, so an owner's header reads as zeroes after that (it
//     rebuilds it then).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>

struct io_uring;
struct io_uring_buf_ring;

namespace uwsk::net {

class loop;

class receive_buffers {
public:
  // The sizes (rule 1): 64 buffers per loop, each of 64 KiB and a page, so that with the
  // owner's headroom taken a buffer still holds 64 KiB (one read of a 64 KiB write; a buffer of
  // 64 KiB less the headroom split each such write in two completions). A completion takes a
  // whole buffer whatever it holds, so the count bounds the indications a loop's clients may
  // hold at once before its sockets fall back to reading on readiness (rule 4).
  static constexpr std::uint16_t count = 64;
  static constexpr std::size_t stride = 65536 + 4096;
  // The buffer group id the requests select from.
  static constexpr std::uint16_t group = 0;

  // Maps the memory and fills the ring; nullptr without memory. `owner` is the loop whose
  // thread may give buffers back directly (rule 2).
  static receive_buffers *create(const loop *owner, std::size_t headroom);

  // The ring's memory for io_uring_register_buf_ring.
  io_uring_buf_ring *ring() const { return ring_; }
  std::size_t headroom() const { return headroom_; }
  // The bytes a buffer holds at most: 64 KiB, as one read on readiness takes.
  std::size_t size() const { return std::min<std::size_t>(stride - headroom_, 65536); }
  // A buffer's bytes, and the headroom before them.
  unsigned char *data(std::uint16_t id) const { return header(id) + headroom_; }
  unsigned char *header(std::uint16_t id) const { return buffers_ + std::size_t{id} * stride; }

  // Any thread (rule 2).
  void release(std::uint16_t id);

  // Loop thread. The kernel took a buffer (a completion named it).
  void taken();
  // Whether the ring has a buffer for the next receive, after moving what other threads
  // released into it.
  bool available();
  // Moves what other threads released into the ring; before each wait.
  void collect();
  // Rule 5, on the loop thread: whether one more multishot receive may take from the set (and
  // is counted as armed if so), and its end.
  static constexpr int most_armed = count;
  bool arm();
  void disarmed() { --armed_; }
  bool may_arm() const { return armed_ < most_armed; }
  // Rule 6, on the loop thread.
  void add_user() { ++users_; }
  void remove_user();

  // Loop thread, when the loop's backend ends: the kernel no longer uses the ring. Frees the
  // memory unless buffers are still held (rule 3: the last release frees it then).
  void detach();

private:
  receive_buffers() = default;
  void put(std::uint16_t id);                   // back into the ring (loop thread)
  void trim_if_idle();                          // rule 6
  void drop_reference();                        // frees the memory with the last reference
  std::atomic<std::uint32_t> refs_{1};          // the loop's, plus one per buffer held by an owner
  std::atomic<std::uint32_t> returned_head_{0}; // released elsewhere: id + 1, 0 for none
  std::atomic<bool> detached_{false};
  const loop *owner_ = nullptr;
  std::size_t headroom_ = 0;
  std::size_t mapped_ = 0;
  std::uint32_t *returned_next_ = nullptr; // per buffer: the next on the returned list
  io_uring_buf_ring *ring_ = nullptr;
  unsigned char *buffers_ = nullptr;
  int in_ring_ = 0;       // loop thread: buffers the kernel may still take
  int armed_ = 0;         // loop thread: multishot receives taking from the set (rule 5)
  std::size_t users_ = 0; // loop thread (rule 6)
  bool trimmed_ = true;   // loop thread: no page has been touched since the last trim
};

// For tests and gates: buffers the kernel filled through multishot receives so far, in the
// process (relaxed); and whether the io_uring probe found multishot receives into provided
// buffers working here (probing if nobody has yet).
std::uint64_t provided_receives();
bool provided_receives_work();
// For tests: the most multishot receives one loop had armed at once so far (rule 5), in the
// process (relaxed).
int provided_receives_most_armed();

} // namespace uwsk::net

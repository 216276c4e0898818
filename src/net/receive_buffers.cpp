// A loop's provided receive buffers; the rules are in receive_buffers.hpp.
//
// Everything lives in one anonymous mapping, so that a set kept alive by a buffer held past its
// loop (rule 3) is not a heap block a leak checker would report: page 0 holds this object and
// the returned list's links, page 1 the ring the kernel reads, and the buffers follow, each at a
// multiple of `stride`.
#include "net/receive_buffers.hpp"

#include <new>

#include <liburing.h>
#include <sys/mman.h>

#include "net/backend.hpp"
#include "net/loop.hpp"

namespace uwsk::net {
namespace {

constexpr std::size_t page = 4096;
constexpr int ring_mask = receive_buffers::count - 1;
static_assert((receive_buffers::count & ring_mask) == 0, "a buffer ring's size is a power of 2");
static_assert(sizeof(io_uring_buf) * receive_buffers::count <= page);

std::atomic<std::uint64_t> g_provided_receives{0};
std::atomic<int> g_most_armed{0};

} // namespace

receive_buffers *receive_buffers::create(const loop *owner, std::size_t headroom) {
  static_assert(sizeof(receive_buffers) + sizeof(std::uint32_t) * count <= page);
  if (headroom > stride - 65536) { // the bytes of one 64 KiB read must fit after it
    return nullptr;
  }
  const std::size_t mapped = 2 * page + std::size_t{count} * stride;
  void *memory =
      ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    return nullptr;
  }
  auto *base = static_cast<unsigned char *>(memory);
  auto *set = new (base) receive_buffers;
  set->owner_ = owner;
  set->headroom_ = headroom;
  set->mapped_ = mapped;
  set->returned_next_ = reinterpret_cast<std::uint32_t *>(base + sizeof(receive_buffers));
  set->ring_ = reinterpret_cast<io_uring_buf_ring *>(base + page);
  set->buffers_ = base + 2 * page;
  io_uring_buf_ring_init(set->ring_);
  for (std::uint16_t id = 0; id < count; ++id) {
    io_uring_buf_ring_add(set->ring_, set->data(id), static_cast<unsigned>(set->size()), id,
                          ring_mask, id);
  }
  io_uring_buf_ring_advance(set->ring_, count);
  set->in_ring_ = count;
  return set;
}

void receive_buffers::put(std::uint16_t id) {
  io_uring_buf_ring_add(ring_, data(id), static_cast<unsigned>(size()), id, ring_mask, 0);
  io_uring_buf_ring_advance(ring_, 1);
  ++in_ring_;
  trim_if_idle();
}

void receive_buffers::remove_user() {
  --users_;
  trim_if_idle();
}

void receive_buffers::trim_if_idle() {
  if (users_ != 0 || trimmed_ || in_ring_ != count) {
    return;
  }
  // Nothing can write the buffers now: no receive may take one, no owner holds one.
  trimmed_ = true;
  ::madvise(buffers_, std::size_t{count} * stride, MADV_DONTNEED);
}

void receive_buffers::taken() {
  trimmed_ = false;
  --in_ring_;
  refs_.fetch_add(1, std::memory_order_relaxed);
  g_provided_receives.fetch_add(1, std::memory_order_relaxed);
}

void receive_buffers::release(std::uint16_t id) {
  if (loop::current() == owner_ && !detached_.load(std::memory_order_relaxed)) {
    put(id);
  } else {
    // Pushed onto the returned list; the loop thread takes the whole list at once, so there is
    // no pop that could meet a recycled entry (no ABA).
    std::uint32_t head = returned_head_.load(std::memory_order_relaxed);
    do {
      returned_next_[id] = head;
    } while (!returned_head_.compare_exchange_weak(
        head, std::uint32_t{id} + 1, std::memory_order_release, std::memory_order_relaxed));
  }
  drop_reference();
}

void receive_buffers::collect() {
  if (returned_head_.load(std::memory_order_relaxed) == 0) {
    return;
  }
  std::uint32_t entry = returned_head_.exchange(0, std::memory_order_acquire);
  int added = 0;
  while (entry != 0) {
    const auto id = static_cast<std::uint16_t>(entry - 1);
    io_uring_buf_ring_add(ring_, data(id), static_cast<unsigned>(size()), id, ring_mask, added);
    ++added;
    entry = returned_next_[id];
  }
  io_uring_buf_ring_advance(ring_, added);
  in_ring_ += added;
  trim_if_idle();
}

bool receive_buffers::available() {
  collect();
  return in_ring_ > 0;
}

void receive_buffers::detach() {
  detached_.store(true, std::memory_order_relaxed);
  drop_reference();
}

void receive_buffers::drop_reference() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    const std::size_t mapped = mapped_;
    this->~receive_buffers();
    ::munmap(this, mapped);
  }
}

bool receive_buffers::arm() {
  if (armed_ >= most_armed) {
    return false;
  }
  ++armed_;
  int seen = g_most_armed.load(std::memory_order_relaxed);
  while (armed_ > seen &&
         !g_most_armed.compare_exchange_weak(seen, armed_, std::memory_order_relaxed)) {
  }
  return true;
}

int provided_receives_most_armed() {
  return g_most_armed.load(std::memory_order_relaxed);
}

std::uint64_t provided_receives() {
  return g_provided_receives.load(std::memory_order_relaxed);
}

bool provided_receives_work() {
  const uring_support support = probe_uring();
  return support.available && support.recv_multishot;
}

} // namespace uwsk::net

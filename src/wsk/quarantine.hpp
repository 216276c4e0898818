// A quarantine for dead provider objects (closed sockets, deregistered registrations): instead
// of returning them to the allocator at once, the newest N stay readable, marked dead, so that
// a driver still calling through one gets a verifier report naming the rule rather than reading
// freed memory. The oldest is deleted when a newer one arrives; the rest at process exit. With
// the verifier's bookkeeping off (UWSK_VERIFY=off) a dead object is deleted at once.
#pragma once

#include <cstddef>
#include <mutex>

#include "nt/dbg/verifier.hpp"

namespace uwsk::wsk {

template <class T, std::size_t N> class quarantine_ring {
public:
  quarantine_ring() = default;
  quarantine_ring(const quarantine_ring &) = delete;
  quarantine_ring &operator=(const quarantine_ring &) = delete;
  ~quarantine_ring() {
    for (T *object : ring_) {
      delete object;
    }
  }
  void hold(T *object) {
    if (nt::verifier::bookkeeping_off()) {
      delete object;
      return;
    }
    T *oldest = nullptr;
    {
      std::lock_guard guard(lock_);
      oldest = ring_[next_];
      ring_[next_] = object;
      next_ = (next_ + 1) % N;
    }
    delete oldest;
  }

private:
  std::mutex lock_;
  T *ring_[N] = {};
  std::size_t next_ = 0; // guarded by lock_
};

} // namespace uwsk::wsk

// A mutex of one atomic word and a futex, for locks taken several times per operation and
// almost always uncontended (a socket's lock, the pool's live-block lists): the uncontended lock
// and unlock are one atomic instruction each, where a pthread mutex costs several times that.
//
// States: 0 free, 1 held, 2 held with (possibly) sleeping waiters. lock() takes it with one
// compare-and-swap when free; otherwise it spins briefly (the holder usually releases within a
// few hundred instructions), then marks it 2 and sleeps on the futex. unlock() wakes one sleeper
// only when the word was 2. Acquire on lock and release on unlock order the guarded data, which
// is also what ThreadSanitizer sees. Not recursive; meets Lockable, so std::lock_guard and
// std::unique_lock work with it.
#pragma once

#include <atomic>

#include "nt/ex/futex.hpp"

namespace uwsk::nt {

class futex_lock {
public:
  constexpr futex_lock() = default;
  futex_lock(const futex_lock &) = delete;
  futex_lock &operator=(const futex_lock &) = delete;

  void lock() {
    int expected = 0;
    if (!word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      lock_contended();
    }
  }
  bool try_lock() {
    int expected = 0;
    return word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  void unlock() {
    if (word_.exchange(0, std::memory_order_release) == 2) {
      futex_wake(&word_, 1);
    }
  }

private:
  void lock_contended() {
    for (int spin = 0; spin < 100; ++spin) {
      int expected = 0;
      if (word_.load(std::memory_order_relaxed) == 0 &&
          word_.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return;
      }
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    // Announce a waiter; whoever unlocks after this wakes one. Taking the lock this way leaves
    // it marked 2, which costs at most one needless wake-up.
    while (word_.exchange(2, std::memory_order_acquire) != 0) {
      futex_wait(&word_, 2);
    }
  }
  std::atomic<int> word_{0};
  static_assert(sizeof(std::atomic<int>) == sizeof(int), "the futex word is the atomic itself");
};

} // namespace uwsk::nt

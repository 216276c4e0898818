// The futex system call on a process-private 32-bit word: the one place the runtime makes it
// (futex_lock, push locks, the dispatcher's sleeping threads).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>

namespace uwsk::nt {

// Sleeps while *word == expected, until a futex_wake on it (or a spurious wake-up). Returns at
// once when the word already differs.
inline void futex_wait(void *word, std::uint32_t expected) {
  ::syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

// As futex_wait, up to the absolute time `at` (NULL: no limit) on CLOCK_REALTIME when
// `realtime`, else CLOCK_MONOTONIC. Returns false when that time passed; leaves errno as it was.
inline bool futex_wait_until(void *word, std::uint32_t expected, const timespec *at,
                             bool realtime) {
  const int saved_errno = errno;
  const int op = FUTEX_WAIT_BITSET_PRIVATE | (realtime ? FUTEX_CLOCK_REALTIME : 0);
  const long result = ::syscall(SYS_futex, word, op, expected, at, nullptr, FUTEX_BITSET_MATCH_ANY);
  const bool timed_out = result == -1 && errno == ETIMEDOUT;
  errno = saved_errno;
  return !timed_out;
}

// Wakes up to `count` threads sleeping on `word`.
inline void futex_wake(void *word, int count) {
  ::syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

} // namespace uwsk::nt

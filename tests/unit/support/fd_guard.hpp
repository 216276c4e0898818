// A file descriptor closed at the end of the scope. (Header only.)
#pragma once

#include <unistd.h>

namespace uwsk::test {

struct fd_guard {
  int fd = -1;
  fd_guard() = default;
  explicit fd_guard(int f) : fd(f) {}
  ~fd_guard() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  fd_guard(const fd_guard &) = delete;
  fd_guard &operator=(const fd_guard &) = delete;
};

} // namespace uwsk::test

// Non-blocking socket system calls returning -errno, and the iovec builder.
#include "net/socket_ops.hpp"

#include <algorithm>
#include <cerrno>

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace uwsk::net::sock {
namespace {

// The result of a call that returns -1 and sets errno, as the result or -errno.
template <typename T> T result_of(T value) {
  return value < 0 ? static_cast<T>(-errno) : value;
}

// Retries an interruptible call on EINTR; these sockets never block, so the loop is short.
template <typename Call> auto retry_interrupted(Call call) {
  for (;;) {
    auto value = call();
    if (value >= 0 || errno != EINTR) {
      return result_of(value);
    }
  }
}

// sendmsg(2) and recvmsg(2), and sendto(2) and recvfrom(2) for a single buffer, the calls of
// every stream send and receive. glibc's wrappers are cancellation points: each switches the
// thread to asynchronous cancellation and back around the system call. No uwsk thread is ever
// cancelled (nothing calls pthread_cancel; a driver's system thread ends through
// PsTerminateSystemThread's exception, ps/thread.cpp), so here they are made through
// syscall(2), which is no cancellation point, and return what the wrappers return.
// Sanitizer builds keep the wrappers: their interceptors check the buffers (AddressSanitizer)
// and order a send before the receive that reads it (ThreadSanitizer).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define UWSK_SOCKET_OPS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define UWSK_SOCKET_OPS_SANITIZED 1
#endif
#endif
#if defined(UWSK_SOCKET_OPS_SANITIZED)
ssize_t sendmsg_call(int fd, const msghdr *message, int flags) {
  return ::sendmsg(fd, message, flags);
}
ssize_t recvmsg_call(int fd, msghdr *message, int flags) {
  return ::recvmsg(fd, message, flags);
}
ssize_t sendto_call(int fd, const void *data, std::size_t length, int flags, const void *to,
                    socklen_t to_length) {
  return ::sendto(fd, data, length, flags, static_cast<const sockaddr *>(to), to_length);
}
ssize_t recvfrom_call(int fd, void *data, std::size_t length, int flags, sockaddr *from,
                      socklen_t *from_length) {
  return ::recvfrom(fd, data, length, flags, from, from_length);
}
#else
ssize_t sendmsg_call(int fd, const msghdr *message, int flags) {
  return ::syscall(SYS_sendmsg, fd, message, flags);
}
ssize_t recvmsg_call(int fd, msghdr *message, int flags) {
  return ::syscall(SYS_recvmsg, fd, message, flags);
}
ssize_t sendto_call(int fd, const void *data, std::size_t length, int flags, const void *to,
                    socklen_t to_length) {
  return ::syscall(SYS_sendto, fd, data, length, flags, to, to_length);
}
ssize_t recvfrom_call(int fd, void *data, std::size_t length, int flags, sockaddr *from,
                      socklen_t *from_length) {
  return ::syscall(SYS_recvfrom, fd, data, length, flags, from, from_length);
}
#endif

} // namespace

int open(int family, int type, int protocol) {
  return result_of(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
}

int set_option(int fd, int level, int name, const void *value, socklen_t length) {
  return result_of(::setsockopt(fd, level, name, value, length));
}

int get_option(int fd, int level, int name, void *value, socklen_t *length) {
  return result_of(::getsockopt(fd, level, name, value, length));
}

int bind(int fd, const sockaddr *address, socklen_t length) {
  return result_of(::bind(fd, address, length));
}

int listen(int fd, int backlog) {
  return result_of(::listen(fd, backlog));
}

int connect(int fd, const sockaddr *address, socklen_t length) {
  // Not retried: after EINTR the connect continues in the background, and a second call would
  // report EALREADY; the caller waits for writability as for EINPROGRESS.
  return result_of(::connect(fd, address, length));
}

int finish_connect(int fd) {
  // SO_ERROR is 0 while the handshake runs: only a socket that is writable, or reports an
  // error or a hang-up, has finished connecting.
  pollfd p{fd, POLLOUT, 0};
  const int ready = retry_interrupted([&] { return ::poll(&p, 1, 0); });
  if (ready < 0) {
    return ready;
  }
  if (ready == 0 || (p.revents & (POLLOUT | POLLERR | POLLHUP)) == 0) {
    return -EINPROGRESS;
  }
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0) {
    return -errno;
  }
  return -error;
}

int accept(int fd, sockaddr *peer, socklen_t *peer_length) {
  return retry_interrupted(
      [&] { return ::accept4(fd, peer, peer_length, SOCK_NONBLOCK | SOCK_CLOEXEC); });
}

int local_address(int fd, sockaddr *address, socklen_t *length) {
  return result_of(::getsockname(fd, address, length));
}

int peer_address(int fd, sockaddr *address, socklen_t *length) {
  return result_of(::getpeername(fd, address, length));
}

ssize_t send(int fd, const iovec *iov, std::size_t iovcnt, int flags, const sockaddr *to,
             socklen_t to_length) {
  msghdr message{};
  message.msg_name = const_cast<sockaddr *>(to); // the kernel only reads these
  message.msg_namelen = to != nullptr ? to_length : 0;
  message.msg_iov = const_cast<iovec *>(iov);
  message.msg_iovlen = iovcnt;
  return send_message(fd, &message, flags);
}

ssize_t recv(int fd, const iovec *iov, std::size_t iovcnt, int flags, sockaddr *from,
             socklen_t *from_length, int *msg_flags) {
  if (iovcnt == 1 && msg_flags == nullptr) {
    // One buffer, no message flags wanted: recvfrom(2) (send_message says why).
    socklen_t length = from != nullptr && from_length != nullptr ? *from_length : 0;
    const ssize_t got = retry_interrupted([&] {
      return recvfrom_call(fd, iov[0].iov_base, iov[0].iov_len, flags, length != 0 ? from : nullptr,
                           length != 0 ? &length : nullptr);
    });
    if (got >= 0 && length != 0) {
      *from_length = length;
    }
    return got;
  }
  msghdr message{};
  message.msg_name = from;
  message.msg_namelen = from != nullptr && from_length != nullptr ? *from_length : 0;
  message.msg_iov = const_cast<iovec *>(iov);
  message.msg_iovlen = iovcnt;
  ssize_t result = recv_message(fd, &message, flags);
  if (result >= 0) {
    if (from != nullptr && from_length != nullptr) {
      *from_length = message.msg_namelen;
    }
    if (msg_flags != nullptr) {
      *msg_flags = message.msg_flags;
    }
  }
  return result;
}

ssize_t send_message(int fd, const msghdr *message, int flags) {
  if (message->msg_iovlen == 1 && message->msg_controllen == 0) {
    // One buffer without control data (most sends): sendto(2) does what sendmsg does without
    // the kernel importing a msghdr and an iovec array, about 200 ns a call on these machines
    // (bench/README.md, "System call forms").
    // sendmsg ignores a name of length 0, where sendto would pass it on to the protocol.
    const iovec &piece = message->msg_iov[0];
    const socklen_t to_length = message->msg_name != nullptr ? message->msg_namelen : 0;
    return retry_interrupted([&] {
      return sendto_call(fd, piece.iov_base, piece.iov_len, flags | MSG_NOSIGNAL,
                         to_length != 0 ? message->msg_name : nullptr, to_length);
    });
  }
  return retry_interrupted([&] { return sendmsg_call(fd, message, flags | MSG_NOSIGNAL); });
}

ssize_t recv_message(int fd, msghdr *message, int flags) {
  return retry_interrupted([&] { return recvmsg_call(fd, message, flags); });
}

int send_messages(int fd, mmsghdr *messages, unsigned count, int flags) {
  return retry_interrupted([&] { return ::sendmmsg(fd, messages, count, flags | MSG_NOSIGNAL); });
}

int recv_messages(int fd, mmsghdr *messages, unsigned count, int flags) {
  return retry_interrupted([&] { return ::recvmmsg(fd, messages, count, flags, nullptr); });
}

int shutdown(int fd, int how) {
  return result_of(::shutdown(fd, how));
}

int close(int fd) {
  return result_of(::close(fd));
}

iovec_builder::iovec_builder(iovec *array, std::size_t capacity, std::size_t offset,
                             std::size_t limit)
    : array_(array), capacity_(std::min(capacity, iov_max)), skip_(offset), limit_(limit) {}

bool iovec_builder::add(const void *base, std::size_t length) {
  if (complete() || truncated_) {
    return false;
  }
  if (skip_ >= length) {
    skip_ -= length;
    return true;
  }
  std::size_t take = std::min(length - skip_, limit_ - bytes_);
  if (count_ == capacity_) {
    truncated_ = true;
    return false;
  }
  array_[count_].iov_base = const_cast<char *>(static_cast<const char *>(base) + skip_);
  array_[count_].iov_len = take;
  ++count_;
  bytes_ += take;
  skip_ = 0;
  return !complete();
}

} // namespace uwsk::net::sock

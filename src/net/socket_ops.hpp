// Thin wrappers over the non-blocking socket system calls the provider uses, and the builder
// that turns a chain of buffer pieces (an MDL chain, for the provider) into an iovec array.
//
// Every wrapper returns a non-negative result or -errno and never throws, so the provider can
// map the error with its one errno -> NTSTATUS table. Calls that cannot block on a non-blocking
// socket but can still be interrupted by a signal are retried on EINTR; close() is not (on
// Linux the descriptor is gone even when close reports EINTR). Sockets are created non-blocking
// and close-on-exec, and every send carries MSG_NOSIGNAL, so a reset peer gives -EPIPE, never
// SIGPIPE.
#pragma once

#include <climits>
#include <cstddef>

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

namespace uwsk::net::sock {

// A socket(2) with SOCK_NONBLOCK | SOCK_CLOEXEC added to type; the fd or -errno.
int open(int family, int type, int protocol);
// The setsockopt(2) and getsockopt(2) calls; 0 or -errno.
int set_option(int fd, int level, int name, const void *value, socklen_t length);
int get_option(int fd, int level, int name, void *value, socklen_t *length);
// bind(2) and listen(2); 0 or -errno.
int bind(int fd, const sockaddr *address, socklen_t length);
int listen(int fd, int backlog);
// Starts a connect(2) on a non-blocking socket: 0 when it completed at once, -EINPROGRESS when
// it continues (wait for ev_out, then call finish_connect), or another -errno.
int connect(int fd, const sockaddr *address, socklen_t length);
// The outcome of a connect that returned -EINPROGRESS: -EINPROGRESS while the handshake runs
// (the socket is not yet writable), then from SO_ERROR (which it clears): 0 when connected,
// else -errno (e.g. -ECONNREFUSED, -ETIMEDOUT).
int finish_connect(int fd);
// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC: the new fd, or -EAGAIN when no connection is
// pending, or another -errno. peer/peer_length may be null; otherwise *peer_length is the
// buffer size on entry and the address length on return.
int accept(int fd, sockaddr *peer, socklen_t *peer_length);
// getsockname(2) and getpeername(2), same address convention; 0 or -errno.
int local_address(int fd, sockaddr *address, socklen_t *length);
int peer_address(int fd, sockaddr *address, socklen_t *length);

// sendmsg(2) over iovcnt pieces, to `to` when it is not null (datagrams); bytes sent or
// -errno. MSG_NOSIGNAL is always added to flags. One piece without `to` goes by sendto(2).
ssize_t send(int fd, const iovec *iov, std::size_t iovcnt, int flags, const sockaddr *to = nullptr,
             socklen_t to_length = 0);
// recvmsg(2) into iovcnt pieces; bytes received (0 at end of stream) or -errno. from and
// from_length follow the accept() address convention and may be null; msg_flags, when not null,
// receives the message flags (MSG_TRUNC for a datagram larger than the buffers, ...). One piece
// with neither from nor msg_flags goes by recvfrom(2).
ssize_t recv(int fd, const iovec *iov, std::size_t iovcnt, int flags, sockaddr *from = nullptr,
             socklen_t *from_length = nullptr, int *msg_flags = nullptr);
// The full msghdr forms, for control messages; MSG_NOSIGNAL is added on send.
ssize_t send_message(int fd, const msghdr *message, int flags);
ssize_t recv_message(int fd, msghdr *message, int flags);
// sendmmsg(2) and recvmmsg(2) (without a timeout): the number of messages transferred (each
// msg_len set) or -errno when none was. MSG_NOSIGNAL is added on send.
int send_messages(int fd, mmsghdr *messages, unsigned count, int flags);
int recv_messages(int fd, mmsghdr *messages, unsigned count, int flags);

// shutdown(2) and close(2); 0 or -errno.
int shutdown(int fd, int how);
int close(int fd);

// The most pieces one sendmsg/recvmsg takes (the kernel rejects more with EMSGSIZE).
inline constexpr std::size_t iov_max = IOV_MAX;

// Fills a caller-provided iovec array from a sequence of (pointer, length) pieces, skipping the
// first `offset` bytes of the sequence and taking at most `limit` bytes in total. For a WSK_BUF
// the pieces are the MDLs of the chain, the offset is WSK_BUF.Offset and the limit its Length.
// Empty pieces produce no entry. The builder never allocates and does not own the array or the
// memory the pieces point to.
//
// Arrays are capped at iov_max entries. When the pieces needed exceed the array, the array
// covers only a prefix: truncated() is true and bytes() says how long the prefix is. A stream
// caller then sends or receives that prefix and builds again with offset + bytes() for the
// rest; a datagram, which cannot be split, has to be copied into fewer pieces or refused.
class iovec_builder {
public:
  // capacity is clamped to iov_max.
  iovec_builder(iovec *array, std::size_t capacity, std::size_t offset, std::size_t limit);

  // Adds the next piece. Returns true while more pieces are wanted, false once the limit is
  // reached (complete()) or the array is full with bytes still wanted (truncated()); pieces
  // added after that are ignored.
  bool add(const void *base, std::size_t length);

  const iovec *data() const { return array_; }
  std::size_t count() const { return count_; }
  std::size_t bytes() const { return bytes_; }
  bool complete() const { return bytes_ == limit_; }
  bool truncated() const { return truncated_; }

private:
  iovec *array_;
  std::size_t capacity_;
  std::size_t skip_;  // offset bytes still to skip
  std::size_t limit_; // total bytes wanted
  std::size_t count_ = 0;
  std::size_t bytes_ = 0;
  bool truncated_ = false;
};

} // namespace uwsk::net::sock

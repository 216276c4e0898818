// Socket system call wrappers against real loopback peers (127.0.0.1 and ::1), and the iovec
// builder.
#include "net/socket_ops.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include "support/fd_guard.hpp"

namespace {

namespace sock = uwsk::net::sock;
using uwsk::test::fd_guard;

// A loopback address of one family, with port 0 (let the kernel pick).
struct address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  sockaddr *get() { return reinterpret_cast<sockaddr *>(&storage); }
  int family() const { return storage.ss_family; }
  int port() const {
    return family() == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in *>(&storage)->sin_port)
                               : ntohs(reinterpret_cast<const sockaddr_in6 *>(&storage)->sin6_port);
  }
};

address loopback(int family) {
  address a;
  if (family == AF_INET) {
    auto *in = reinterpret_cast<sockaddr_in *>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.length = sizeof(sockaddr_in);
  } else {
    auto *in6 = reinterpret_cast<sockaddr_in6 *>(&a.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    a.length = sizeof(sockaddr_in6);
  }
  return a;
}

bool wait_for(int fd, short events, int timeout_ms = 10000) {
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

// A socket bound to the loopback address of the family, and the address it got.
int bound_socket(int family, int type, address &bound) {
  int fd = sock::open(family, type, 0);
  if (fd < 0) {
    return fd;
  }
  address a = loopback(family);
  int r = sock::bind(fd, a.get(), a.length);
  if (r < 0) {
    ::close(fd);
    return r;
  }
  bound = {};
  bound.length = sizeof bound.storage;
  r = sock::local_address(fd, bound.get(), &bound.length);
  if (r < 0) {
    ::close(fd);
    return r;
  }
  return fd;
}

class net_socket : public ::testing::TestWithParam<int> {
protected:
  void SetUp() override {
    if (GetParam() == AF_INET6) {
      address unused;
      int fd = bound_socket(AF_INET6, SOCK_DGRAM, unused);
      if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT) {
        GTEST_SKIP() << "::1 is not available here";
      }
      ASSERT_GE(fd, 0);
      ::close(fd);
    }
  }

  // A listener on the family's loopback address (`bound`) and one connection to it, accepted:
  // client and server, both non-blocking.
  void listen_and_connect(fd_guard &listener, address &bound, fd_guard &client, fd_guard &server) {
    listener.fd = bound_socket(GetParam(), SOCK_STREAM, bound);
    ASSERT_GE(listener.fd, 0);
    ASSERT_EQ(sock::listen(listener.fd, 8), 0);
    ASSERT_NO_FATAL_FAILURE(connect_pair(listener.fd, bound, client, server));
  }

  // Two datagram sockets, each bound to the family's loopback address.
  void datagram_pair(fd_guard &receiver, address &receiver_address, fd_guard &sender,
                     address &sender_address) {
    receiver.fd = bound_socket(GetParam(), SOCK_DGRAM, receiver_address);
    sender.fd = bound_socket(GetParam(), SOCK_DGRAM, sender_address);
    ASSERT_GE(receiver.fd, 0);
    ASSERT_GE(sender.fd, 0);
  }

  // Connects a new client to listener's address and accepts it, both non-blocking.
  void connect_pair(int listener_fd, address &listener, fd_guard &client, fd_guard &server,
                    address *peer_seen = nullptr) {
    client.fd = sock::open(GetParam(), SOCK_STREAM, 0);
    ASSERT_GE(client.fd, 0);
    int r = sock::connect(client.fd, listener.get(), listener.length);
    ASSERT_TRUE(r == 0 || r == -EINPROGRESS) << r;
    ASSERT_TRUE(wait_for(client.fd, POLLOUT));
    ASSERT_EQ(sock::finish_connect(client.fd), 0);
    ASSERT_TRUE(wait_for(listener_fd, POLLIN));
    address peer;
    peer.length = sizeof peer.storage;
    server.fd = sock::accept(listener_fd, peer.get(), &peer.length);
    ASSERT_GE(server.fd, 0);
    EXPECT_EQ(peer.family(), GetParam());
    address client_local;
    client_local.length = sizeof client_local.storage;
    ASSERT_EQ(sock::local_address(client.fd, client_local.get(), &client_local.length), 0);
    EXPECT_EQ(peer.port(), client_local.port());
    if (peer_seen != nullptr) {
      *peer_seen = peer;
    }
  }
};

INSTANTIATE_TEST_SUITE_P(families, net_socket, ::testing::Values(AF_INET, AF_INET6),
                         [](const ::testing::TestParamInfo<int> &info) {
                           return info.param == AF_INET ? std::string("ipv4") : std::string("ipv6");
                         });

TEST_P(net_socket, OpenIsNonBlockingAndCloseOnExec) {
  fd_guard s(sock::open(GetParam(), SOCK_STREAM, 0));
  ASSERT_GE(s.fd, 0);
  EXPECT_NE(::fcntl(s.fd, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(s.fd, F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(sock::open(12345, SOCK_STREAM, 0), -EAFNOSUPPORT);
}

TEST_P(net_socket, OptionsSetAndGet) {
  fd_guard s(sock::open(GetParam(), SOCK_STREAM, 0));
  ASSERT_GE(s.fd, 0);
  int one = 1;
  ASSERT_EQ(sock::set_option(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
  int value = 0;
  socklen_t length = sizeof value;
  ASSERT_EQ(sock::get_option(s.fd, IPPROTO_TCP, TCP_NODELAY, &value, &length), 0);
  EXPECT_NE(value, 0);
  EXPECT_EQ(sock::set_option(s.fd, SOL_SOCKET, 0x7fff, &one, sizeof one), -ENOPROTOOPT);
  EXPECT_EQ(sock::set_option(-1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), -EBADF);
}

TEST_P(net_socket, AcceptWithNothingPendingIsEagain) {
  address bound;
  fd_guard listener(bound_socket(GetParam(), SOCK_STREAM, bound));
  ASSERT_GE(listener.fd, 0);
  ASSERT_EQ(sock::listen(listener.fd, 8), 0);
  EXPECT_EQ(sock::accept(listener.fd, nullptr, nullptr), -EAGAIN);
}

TEST_P(net_socket, ConnectToAPortNobodyListensOnIsRefused) {
  // Bound but not listening, and kept open, so nobody else can take the port meanwhile.
  address bound;
  fd_guard holder(bound_socket(GetParam(), SOCK_STREAM, bound));
  ASSERT_GE(holder.fd, 0);
  fd_guard client(sock::open(GetParam(), SOCK_STREAM, 0));
  ASSERT_GE(client.fd, 0);
  int r = sock::connect(client.fd, bound.get(), bound.length);
  if (r == -EINPROGRESS) {
    ASSERT_TRUE(wait_for(client.fd, POLLOUT));
    r = sock::finish_connect(client.fd);
  }
  EXPECT_EQ(r, -ECONNREFUSED);
}

TEST_P(net_socket, ConnectAcceptAndAddresses) {
  address bound;
  fd_guard listener;
  fd_guard client;
  fd_guard server;
  ASSERT_NO_FATAL_FAILURE(listen_and_connect(listener, bound, client, server));
  address remote;
  remote.length = sizeof remote.storage;
  ASSERT_EQ(sock::peer_address(client.fd, remote.get(), &remote.length), 0);
  EXPECT_EQ(remote.port(), bound.port());
  EXPECT_NE(::fcntl(server.fd, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(::fcntl(server.fd, F_GETFD) & FD_CLOEXEC, 0);
  fd_guard unconnected(sock::open(GetParam(), SOCK_STREAM, 0));
  EXPECT_EQ(sock::peer_address(unconnected.fd, remote.get(), &remote.length), -ENOTCONN);
}

TEST_P(net_socket, ThreePieceSendAndReceiveRoundTrip) {
  address bound;
  fd_guard listener;
  fd_guard client;
  fd_guard server;
  ASSERT_NO_FATAL_FAILURE(listen_and_connect(listener, bound, client, server));

  char a[] = "abc";
  char b[] = "defgh";
  char c[] = "ij";
  iovec out[3] = {{a, 3}, {b, 5}, {c, 2}};
  ASSERT_EQ(sock::send(client.fd, out, 3, 0), 10);

  char x[4] = {};
  char y[2] = {};
  char z[8] = {};
  iovec in[3] = {{x, sizeof x}, {y, sizeof y}, {z, sizeof z}};
  std::string got;
  // The stream may deliver in parts; gather until all 10 bytes arrived (bounded).
  for (int i = 0; i < 100 && got.size() < 10; ++i) {
    ASSERT_TRUE(wait_for(server.fd, POLLIN));
    int flags = -1;
    ssize_t n = sock::recv(server.fd, in, 3, 0, nullptr, nullptr, &flags);
    ASSERT_GT(n, 0);
    EXPECT_EQ(flags, 0);
    std::string all =
        std::string(x, sizeof x) + std::string(y, sizeof y) + std::string(z, sizeof z);
    got += all.substr(0, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(got, "abcdefghij");
  EXPECT_EQ(sock::recv(server.fd, in, 3, 0), -EAGAIN);

  // Shutting down the sending side gives the peer end of stream.
  ASSERT_EQ(sock::shutdown(client.fd, SHUT_WR), 0);
  ASSERT_TRUE(wait_for(server.fd, POLLIN));
  EXPECT_EQ(sock::recv(server.fd, in, 3, 0), 0);
}

TEST_P(net_socket, SendToAClosedPeerIsAnErrorNotSigpipe) {
  address bound;
  fd_guard listener;
  fd_guard client;
  fd_guard server;
  ASSERT_NO_FATAL_FAILURE(listen_and_connect(listener, bound, client, server));
  ASSERT_EQ(sock::close(server.fd), 0);
  server.fd = -1;
  // The first send may still be accepted; the peer's reset then fails a later one. Without
  // MSG_NOSIGNAL that would raise SIGPIPE and kill the test.
  char byte = 'x';
  iovec one{&byte, 1};
  ssize_t r = 0;
  for (int i = 0; i < 200 && r >= 0; ++i) {
    r = sock::send(client.fd, &one, 1, 0);
    if (r >= 0) {
      wait_for(client.fd, POLLERR | POLLHUP, 1000);
    }
  }
  EXPECT_TRUE(r == -EPIPE || r == -ECONNRESET) << r;
}

TEST_P(net_socket, DatagramsWithAddressesAndBatches) {
  address receiver_address;
  address sender_address;
  fd_guard receiver;
  fd_guard sender;
  ASSERT_NO_FATAL_FAILURE(datagram_pair(receiver, receiver_address, sender, sender_address));

  // One datagram from three pieces, received with the sender's address.
  char p1[] = "he";
  char p2[] = "ll";
  char p3[] = "o";
  iovec out[3] = {{p1, 2}, {p2, 2}, {p3, 1}};
  ASSERT_EQ(sock::send(sender.fd, out, 3, 0, receiver_address.get(), receiver_address.length), 5);
  ASSERT_TRUE(wait_for(receiver.fd, POLLIN));
  char buffer[16] = {};
  iovec in{buffer, sizeof buffer};
  address from;
  from.length = sizeof from.storage;
  int flags = -1;
  ASSERT_EQ(sock::recv(receiver.fd, &in, 1, 0, from.get(), &from.length, &flags), 5);
  EXPECT_EQ(std::string(buffer, 5), "hello");
  EXPECT_EQ(from.port(), sender_address.port());
  EXPECT_EQ(flags, 0);

  // A datagram larger than the buffers is truncated and says so.
  char big[32] = "0123456789abcdefghijklmnopqrstu";
  iovec big_out{big, sizeof big};
  ASSERT_EQ(sock::send(sender.fd, &big_out, 1, 0, receiver_address.get(), receiver_address.length),
            static_cast<ssize_t>(sizeof big));
  ASSERT_TRUE(wait_for(receiver.fd, POLLIN));
  ASSERT_EQ(sock::recv(receiver.fd, &in, 1, 0, nullptr, nullptr, &flags), 16);
  EXPECT_NE(flags & MSG_TRUNC, 0);

  // Several datagrams with one sendmmsg, drained with recvmmsg.
  constexpr unsigned count = 4;
  char payload[count][8];
  iovec send_iov[count];
  mmsghdr send_messages[count] = {};
  for (unsigned i = 0; i < count; ++i) {
    std::snprintf(payload[i], sizeof payload[i], "msg%u", i);
    send_iov[i] = {payload[i], 4};
    send_messages[i].msg_hdr.msg_iov = &send_iov[i];
    send_messages[i].msg_hdr.msg_iovlen = 1;
    send_messages[i].msg_hdr.msg_name = receiver_address.get();
    send_messages[i].msg_hdr.msg_namelen = receiver_address.length;
  }
  ASSERT_EQ(sock::send_messages(sender.fd, send_messages, count, 0), static_cast<int>(count));

  char slots[8][16];
  iovec receive_iov[8];
  mmsghdr receive_messages[8];
  std::vector<std::string> received;
  for (int attempt = 0; attempt < 100 && received.size() < count; ++attempt) {
    ASSERT_TRUE(wait_for(receiver.fd, POLLIN));
    std::memset(receive_messages, 0, sizeof receive_messages);
    for (unsigned i = 0; i < 8; ++i) {
      receive_iov[i] = {slots[i], sizeof slots[i]};
      receive_messages[i].msg_hdr.msg_iov = &receive_iov[i];
      receive_messages[i].msg_hdr.msg_iovlen = 1;
    }
    int n = sock::recv_messages(receiver.fd, receive_messages, 8, 0);
    ASSERT_GT(n, 0);
    for (int i = 0; i < n; ++i) {
      received.emplace_back(slots[i], receive_messages[i].msg_len);
    }
  }
  EXPECT_EQ(received, (std::vector<std::string>{"msg0", "msg1", "msg2", "msg3"}));
  EXPECT_EQ(sock::recv_messages(receiver.fd, receive_messages, 8, 0), -EAGAIN);
  EXPECT_EQ(sock::recv(receiver.fd, &in, 1, 0), -EAGAIN);
}

// One buffer goes by sendto/recvfrom (socket_ops.cpp): the same bytes, end of stream, EAGAIN,
// the sender's address and a name of length 0 on a connected datagram socket as with the
// msghdr forms.
TEST_P(net_socket, OneBufferFormsKeepBytesAddressesAndEndOfStream) {
  address bound;
  fd_guard listener;
  fd_guard client;
  fd_guard server;
  ASSERT_NO_FATAL_FAILURE(listen_and_connect(listener, bound, client, server));

  std::string sent;
  for (int i = 0; i < 3000; ++i) {
    sent.push_back(static_cast<char>(i * 7 + 3));
  }
  std::size_t offset = 0;
  for (int i = 0; i < 100 && offset < sent.size(); ++i) {
    iovec out{&sent[offset], std::min<std::size_t>(1000, sent.size() - offset)};
    const ssize_t n = sock::send(client.fd, &out, 1, 0);
    ASSERT_GT(n, 0);
    offset += static_cast<std::size_t>(n);
  }
  ASSERT_EQ(offset, sent.size());
  std::string got;
  char piece[700];
  for (int i = 0; i < 200 && got.size() < sent.size(); ++i) {
    ASSERT_TRUE(wait_for(server.fd, POLLIN));
    iovec in{piece, sizeof piece};
    const ssize_t n = sock::recv(server.fd, &in, 1, 0);
    ASSERT_GT(n, 0);
    got.append(piece, static_cast<std::size_t>(n));
  }
  EXPECT_EQ(got, sent);
  iovec in{piece, sizeof piece};
  EXPECT_EQ(sock::recv(server.fd, &in, 1, 0), -EAGAIN);
  ASSERT_EQ(sock::shutdown(client.fd, SHUT_WR), 0);
  ASSERT_TRUE(wait_for(server.fd, POLLIN));
  EXPECT_EQ(sock::recv(server.fd, &in, 1, 0), 0);

  // Datagrams: the sender's address through recvfrom, and a connected socket's send with a
  // name pointer of length 0 goes to its peer (sendmsg ignores such a name).
  address receiver_address;
  address sender_address;
  fd_guard receiver;
  fd_guard sender;
  ASSERT_NO_FATAL_FAILURE(datagram_pair(receiver, receiver_address, sender, sender_address));
  ASSERT_EQ(sock::connect(sender.fd, receiver_address.get(), receiver_address.length), 0);
  char datagram[] = "datagram";
  iovec out{datagram, 8};
  msghdr message{};
  sockaddr_storage unused{};
  message.msg_name = &unused;
  message.msg_namelen = 0;
  message.msg_iov = &out;
  message.msg_iovlen = 1;
  ASSERT_EQ(sock::send_message(sender.fd, &message, 0), 8);
  ASSERT_TRUE(wait_for(receiver.fd, POLLIN));
  char buffer[16] = {};
  iovec datagram_in{buffer, sizeof buffer};
  address from;
  from.length = sizeof from.storage;
  ASSERT_EQ(sock::recv(receiver.fd, &datagram_in, 1, 0, from.get(), &from.length), 8);
  EXPECT_EQ(std::string(buffer, 8), "datagram");
  EXPECT_EQ(from.length, sender_address.length);
  EXPECT_EQ(from.port(), sender_address.port());
}

// --- iovec_builder ---------------------------------------------------------------------------

TEST(net_iovec_builder, OffsetAndLimitAcrossPieces) {
  char p0[10], p1[20], p2[30];
  iovec array[8];
  sock::iovec_builder b(array, 8, 15, 25);
  EXPECT_TRUE(b.add(p0, sizeof p0));  // skipped whole
  EXPECT_TRUE(b.add(p1, sizeof p1));  // from byte 5
  EXPECT_FALSE(b.add(p2, sizeof p2)); // the limit is reached inside this piece
  EXPECT_FALSE(b.add(p2, sizeof p2)); // ignored
  ASSERT_EQ(b.count(), 2u);
  EXPECT_EQ(b.data(), array);
  EXPECT_EQ(array[0].iov_base, p1 + 5);
  EXPECT_EQ(array[0].iov_len, 15u);
  EXPECT_EQ(array[1].iov_base, p2);
  EXPECT_EQ(array[1].iov_len, 10u);
  EXPECT_EQ(b.bytes(), 25u);
  EXPECT_TRUE(b.complete());
  EXPECT_FALSE(b.truncated());
}

TEST(net_iovec_builder, OffsetInsideFirstPieceAndEmptyPieces) {
  char p0[8], p2[4];
  iovec array[4];
  sock::iovec_builder b(array, 4, 3, 100);
  EXPECT_TRUE(b.add(p0, sizeof p0));
  EXPECT_TRUE(b.add(nullptr, 0)); // empty: no entry
  EXPECT_TRUE(b.add(p2, sizeof p2));
  ASSERT_EQ(b.count(), 2u);
  EXPECT_EQ(array[0].iov_base, p0 + 3);
  EXPECT_EQ(array[0].iov_len, 5u);
  EXPECT_EQ(array[1].iov_base, p2);
  EXPECT_EQ(b.bytes(), 9u);
  // The pieces ran out before the limit: neither complete nor truncated.
  EXPECT_FALSE(b.complete());
  EXPECT_FALSE(b.truncated());
}

TEST(net_iovec_builder, FullArrayTruncatesAndResumesFromTheOffset) {
  char pieces[5][4];
  iovec array[2];
  sock::iovec_builder b(array, 2, 0, 20);
  EXPECT_TRUE(b.add(pieces[0], 4));
  EXPECT_TRUE(b.add(pieces[1], 4));
  EXPECT_FALSE(b.add(pieces[2], 4)); // no slot left
  EXPECT_TRUE(b.truncated());
  EXPECT_FALSE(b.complete());
  EXPECT_EQ(b.count(), 2u);
  EXPECT_EQ(b.bytes(), 8u);

  // A stream caller resumes after the prefix.
  sock::iovec_builder rest(array, 2, b.bytes(), 20 - b.bytes());
  for (auto &piece : pieces) {
    if (!rest.add(piece, 4)) {
      break;
    }
  }
  EXPECT_EQ(rest.count(), 2u);
  EXPECT_EQ(array[0].iov_base, pieces[2]);
  EXPECT_EQ(array[1].iov_base, pieces[3]);
  EXPECT_TRUE(rest.truncated());
}

TEST(net_iovec_builder, ZeroLimitAndOffsetPastTheEnd) {
  char p[4];
  iovec array[2];
  sock::iovec_builder none(array, 2, 0, 0);
  EXPECT_TRUE(none.complete());
  EXPECT_FALSE(none.add(p, sizeof p));
  EXPECT_EQ(none.count(), 0u);

  sock::iovec_builder past(array, 2, 100, 10);
  EXPECT_TRUE(past.add(p, sizeof p));
  EXPECT_EQ(past.count(), 0u);
  EXPECT_EQ(past.bytes(), 0u);
}

TEST(net_iovec_builder, CapacityIsCappedAtIovMax) {
  static_assert(sock::iov_max == 1024);
  std::vector<iovec> array(sock::iov_max + 10);
  std::vector<char> bytes(sock::iov_max + 10);
  sock::iovec_builder b(array.data(), array.size(), 0, bytes.size());
  std::size_t taken = 0;
  for (char &c : bytes) {
    if (!b.add(&c, 1)) {
      break;
    }
    ++taken;
  }
  EXPECT_EQ(b.count(), sock::iov_max);
  EXPECT_EQ(taken, sock::iov_max);
  EXPECT_TRUE(b.truncated());
}

} // namespace

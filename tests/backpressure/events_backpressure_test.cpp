// Receive backpressure at the provider (docs/design.md, "Receive backpressure"), in process
// against POSIX peers: a client that retains every indication holds at most its socket's bound
// (SO_RCVBUF as Linux reports it, plus one read); past it the provider stops reading, the
// peer's sends block, and a WskRelease from the client's own thread (not the loop's) makes the
// provider read again, with every byte delivered in order. The bound follows a SO_RCVBUF the
// client sets; datagram sockets are bounded the same way.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

constexpr SIZE_T one_read = 65536; // the provider reads at most this much per indication

// What the callbacks saw; every indication is retained (STATUS_PENDING).
struct recorder {
  std::mutex lock;
  std::condition_variable changed;
  std::string bytes; // the stream, in order
  SIZE_T held = 0;   // bytes in lists retained and not yet released
  int indications = 0;
  std::vector<PWSK_DATA_INDICATION> retained;
  std::vector<PWSK_DATAGRAM_INDICATION> retained_datagrams;
  SIZE_T datagram_bytes = 0;
  int datagrams = 0;

  // Waits until no indication arrived for `quiet` (bounded by `limit`); returns `indications`.
  int settle(milliseconds quiet, milliseconds limit) {
    std::unique_lock guard(lock);
    const auto deadline = clock_type::now() + limit;
    int seen = indications;
    while (clock_type::now() < deadline) {
      changed.wait_for(guard, quiet);
      if (indications == seen) {
        break;
      }
      seen = indications;
    }
    return indications;
  }
};

NTSTATUS WSKAPI on_receive(PVOID context, ULONG, PWSK_DATA_INDICATION indication, SIZE_T indicated,
                           SIZE_T *) {
  auto *r = static_cast<recorder *>(context);
  if (indication == nullptr) {
    return STATUS_SUCCESS;
  }
  std::lock_guard guard(r->lock);
  SIZE_T total = 0;
  for (PWSK_DATA_INDICATION i = indication; i != nullptr; i = i->Next) {
    total += append_wsk_buf_bytes(i->Buffer, &r->bytes);
  }
  EXPECT_EQ(total, indicated);
  r->held += total;
  ++r->indications;
  r->retained.push_back(indication);
  r->changed.notify_all();
  return STATUS_PENDING;
}

NTSTATUS WSKAPI on_receive_from(PVOID context, ULONG, PWSK_DATAGRAM_INDICATION list) {
  auto *r = static_cast<recorder *>(context);
  if (list == nullptr) {
    return STATUS_SUCCESS;
  }
  std::lock_guard guard(r->lock);
  for (PWSK_DATAGRAM_INDICATION d = list; d != nullptr; d = d->Next) {
    r->datagram_bytes += append_wsk_buf_bytes(d->Buffer, nullptr);
    ++r->datagrams;
  }
  ++r->indications;
  r->retained_datagrams.push_back(list);
  r->changed.notify_all();
  return STATUS_PENDING;
}

const WSK_CLIENT_CONNECTION_DISPATCH connection_dispatch = {on_receive, nullptr, nullptr};
const WSK_CLIENT_DATAGRAM_DISPATCH datagram_dispatch = {on_receive_from};

// Byte `at` of the stream the peer sends.
unsigned char pattern(std::size_t at) {
  return static_cast<unsigned char>((at * 131) ^ (at >> 11));
}

// Every socket the fixture makes has the recorder as its context and the receive tables above.
struct backpressure : wsk_fixture<> {
  recorder rec;
  backpressure() {
    socket_context = &rec;
    connection_events = &connection_dispatch;
    datagram_events = &datagram_dispatch;
  }

  NTSTATUS control(PWSK_SOCKET s, WSK_CONTROL_SOCKET_TYPE type, ULONG code, SIZE_T in_size,
                   PVOID in, SIZE_T out_size, PVOID out) {
    call c;
    SIZE_T returned = 0;
    c.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
        s, type, code, SOL_SOCKET, in_size, in, out_size, out, &returned, c.irp);
    return c.wait();
  }
  // SO_RCVBUF as Linux reports it: WSK reports half of it, as on Windows, the size that was set.
  SIZE_T linux_rcvbuf(PWSK_SOCKET s) {
    ULONG value = 0;
    EXPECT_EQ(control(s, WskGetOption, SO_RCVBUF, 0, nullptr, sizeof(value), &value),
              STATUS_SUCCESS);
    return static_cast<SIZE_T>(value) * 2;
  }
  void release_all(PWSK_SOCKET s) {
    std::vector<PWSK_DATA_INDICATION> lists;
    std::vector<PWSK_DATAGRAM_INDICATION> datagram_lists;
    {
      std::lock_guard guard(rec.lock);
      lists.swap(rec.retained);
      datagram_lists.swap(rec.retained_datagrams);
      rec.held = 0;
      rec.datagram_bytes = 0;
    }
    for (PWSK_DATA_INDICATION i : lists) {
      EXPECT_EQ(of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskRelease(s, i), STATUS_SUCCESS);
    }
    for (PWSK_DATAGRAM_INDICATION d : datagram_lists) {
      EXPECT_EQ(of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskRelease(s, d), STATUS_SUCCESS);
    }
  }

  // Writes the pattern from `*sent` on a non-blocking peer until `total` or until no byte is
  // taken for `blocked_after`. Returns whether the writes blocked.
  static bool push(int peer, std::size_t *sent, std::size_t total, milliseconds blocked_after) {
    std::vector<unsigned char> chunk(65536);
    auto last_progress = clock_type::now();
    while (*sent < total) {
      const std::size_t n = std::min(chunk.size(), total - *sent);
      for (std::size_t i = 0; i < n; ++i) {
        chunk[i] = pattern(*sent + i);
      }
      const ssize_t got = ::write(peer, chunk.data(), n);
      if (got > 0) {
        *sent += static_cast<std::size_t>(got);
        last_progress = clock_type::now();
        continue;
      }
      EXPECT_TRUE(got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << std::strerror(errno);
      if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        return false;
      }
      if (clock_type::now() - last_progress >= blocked_after) {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
  }

  // Pushes `total` bytes at a client that retains everything: checks that the bytes held stop
  // between `bound` and `bound` plus one read with the peer's sends blocked, then releases and
  // pushes again until everything arrived, intact and in order.
  void check_stream_bound(PWSK_SOCKET s, int peer, SIZE_T bound, std::size_t total) {
    ASSERT_EQ(::fcntl(peer, F_SETFL, ::fcntl(peer, F_GETFL) | O_NONBLOCK), 0);
    std::size_t sent = 0;
    ASSERT_TRUE(push(peer, &sent, total, milliseconds(500)))
        << "the peer sent all " << total << " bytes without blocking";
    rec.settle(milliseconds(200), milliseconds(5000));
    SIZE_T held = 0;
    {
      std::lock_guard guard(rec.lock);
      held = rec.held;
    }
    std::printf("bound %zu bytes: the client holds %zu bytes with the peer's sends blocked after "
                "%zu bytes\n",
                static_cast<std::size_t>(bound), static_cast<std::size_t>(held), sent);
    EXPECT_GE(held, bound);
    EXPECT_LT(held, bound + one_read);
    // Releasing from this thread (not the socket's loop) resumes reading.
    const auto deadline = clock_type::now() + std::chrono::seconds(30);
    for (;;) {
      release_all(s);
      push(peer, &sent, total, milliseconds(0));
      std::unique_lock guard(rec.lock);
      if (rec.bytes.size() == total) {
        break;
      }
      ASSERT_LT(clock_type::now(), deadline)
          << "got " << rec.bytes.size() << " of " << total << " bytes (" << sent << " sent)";
      const std::size_t had = rec.bytes.size();
      rec.changed.wait_for(guard, milliseconds(100), [&] { return rec.bytes.size() != had; });
    }
    release_all(s);
    std::lock_guard guard(rec.lock);
    ASSERT_EQ(rec.bytes.size(), total);
    for (std::size_t i = 0; i < total; ++i) {
      if (static_cast<unsigned char>(rec.bytes[i]) != pattern(i)) {
        FAIL() << "byte " << i << " differs";
      }
    }
  }
};

INSTANTIATE_TEST_SUITE_P(Families, backpressure, ::testing::Values(4, 6), family_name);

TEST_P(backpressure, RetainingClientHoldsAtMostTheReceiveBufferAndLosesNothing) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const SIZE_T bound = linux_rcvbuf(s); // read before any read for events, as the provider does
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  check_stream_bound(s, peer, bound, std::size_t{16} << 20);
  close_socket(s);
  peer_close(peer);
}

TEST_P(backpressure, TheBoundFollowsTheClientsReceiveBufferSize) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  ULONG size = 384 * 1024; // Linux doubles it: the bound is 768 KiB
  ASSERT_EQ(control(s, WskSetOption, SO_RCVBUF, sizeof(size), &size, 0, nullptr), STATUS_SUCCESS);
  const SIZE_T bound = linux_rcvbuf(s);
  ASSERT_EQ(bound, SIZE_T{2} * size);
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  check_stream_bound(s, peer, bound, std::size_t{16} << 20);
  close_socket(s);
  peer_close(peer);
}

// Datagrams: the provider stops reading at the bound (the kernel then drops what overflows its
// own buffer, as UDP does), and a release makes it read the datagrams the kernel kept.
TEST_P(backpressure, RetainedDatagramsAreBoundedAndReleasingResumes) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  ASSERT_EQ(bind_socket(s, loopback(family(), 0)), STATUS_SUCCESS);
  address local;
  {
    call c;
    c.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskGetLocalAddress(s, &local.sa, c.irp);
    ASSERT_EQ(c.wait(), STATUS_SUCCESS);
  }
  const SIZE_T bound = linux_rcvbuf(s);
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
  unsigned short peer_port = 0;
  const int peer = peer_udp(family(), &peer_port);
  ASSERT_GE(peer, 0);
  // Datagrams of 1000 bytes, eight at a time (one read's worth), each batch sent once the client
  // holds the one before: UDP drops what its buffer cannot keep, so the sender must not outrun
  // the provider (a slow, loaded machine would otherwise lose datagrams before the bound is
  // reached). At most twice the bound, and 30 seconds.
  const std::vector<char> datagram(1000, 'd');
  const int batch = 8;
  const int most = static_cast<int>(2 * bound / datagram.size());
  const auto deadline = clock_type::now() + std::chrono::seconds(30);
  int count = 0;
  while (count < most) {
    for (int i = 0; i < batch; ++i) {
      ASSERT_TRUE(peer_udp_send(peer, family(), port_of(local), datagram.data(), datagram.size()));
    }
    count += batch;
    std::unique_lock guard(rec.lock);
    const bool held = rec.changed.wait_until(
        guard, std::min(deadline, clock_type::now() + milliseconds(2000)),
        [&] { return rec.datagrams == count || rec.datagram_bytes >= bound; });
    ASSERT_TRUE(held) << "the client holds " << rec.datagrams << " of " << count << " datagrams";
    if (rec.datagram_bytes >= bound) {
      break;
    }
  }
  // The provider has stopped reading; these wait in the kernel's buffer for the release.
  for (int i = 0; i < batch; ++i) {
    ASSERT_TRUE(peer_udp_send(peer, family(), port_of(local), datagram.data(), datagram.size()));
  }
  count += batch;
  rec.settle(milliseconds(200), milliseconds(5000));
  int first_round = 0;
  {
    std::lock_guard guard(rec.lock);
    std::printf("bound %zu bytes: the client holds %zu bytes in %d datagrams of %d sent\n",
                static_cast<std::size_t>(bound), static_cast<std::size_t>(rec.datagram_bytes),
                rec.datagrams, count);
    EXPECT_GE(rec.datagram_bytes, bound);
    // One read takes up to 8 datagrams.
    EXPECT_LT(rec.datagram_bytes, bound + 8 * datagram.size());
    first_round = rec.datagrams;
  }
  release_all(s);
  rec.settle(milliseconds(200), milliseconds(5000));
  {
    std::lock_guard guard(rec.lock);
    EXPECT_GT(rec.datagrams, first_round) << "no datagram was read after the release";
  }
  release_all(s);
  close_socket(s);
  peer_close(peer);
}

} // namespace

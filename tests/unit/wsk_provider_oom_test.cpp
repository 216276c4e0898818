// The provider's own allocations failing (alloc-fail=provider:RATE, docs/faults.md; the one
// helper is src/wsk/provider_new.hpp), against plain POSIX peers on 127.0.0.1. Each documented
// out-of-memory path is reached with a plan that fails every provider allocation, or exactly the
// n-th one from the moment it is installed (a seed whose draws say so), and checked: the status
// returned and the IRP's final status and Information, that the failed call moved no byte and
// made no connection, and that the socket works afterwards, byte for byte. The sweeps fail each
// allocation of a call in turn, until the call makes no n-th allocation. Every test runs on both
// engines; on io_uring the sweeps also reach the ring records (ring_pair, ring_io, ring_shot).
#include <gtest/gtest.h>

#include <dirent.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <uwsk/faults.h>
#include <wdm.h>
#include <wsk.h>

#include "nt/fault/plan.hpp"
#include "support/posix_peer.hpp"
#include "support/timing.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;
namespace fault = uwsk::fault;

// The sweeps stop at the first n the call does not reach; no call makes more than this many.
constexpr unsigned max_allocations = 16;

// Open descriptors of the process: a failed call must not keep one.
int open_descriptors() {
  DIR *d = opendir("/proc/self/fd");
  if (d == nullptr) {
    return -1;
  }
  int n = 0;
  while (readdir(d) != nullptr) {
    ++n;
  }
  closedir(d);
  return n;
}

// What the event callbacks saw.
struct recorder {
  std::mutex lock;
  std::condition_variable changed;
  std::string bytes; // every byte indicated, in order
  int receive_calls = 0;
  std::vector<SIZE_T> backlogs;
  std::vector<PWSK_SOCKET> accepted;  // by the accept event
  std::vector<std::string> datagrams; // by the receive-from event, in order
  // A receive callback is held until the test lets it go.
  std::atomic<bool> hold{false};
  std::atomic<bool> holding{false};
  template <class Predicate> bool wait_for(Predicate p, int ms = timeout_ms) {
    std::unique_lock guard(lock);
    return changed.wait_for(guard, std::chrono::milliseconds(ms), p);
  }
  template <class Read> auto read(Read r) {
    std::lock_guard guard(lock);
    return r();
  }
};

NTSTATUS WSKAPI on_receive(PVOID context, ULONG, PWSK_DATA_INDICATION indication, SIZE_T,
                           SIZE_T *) {
  auto *r = static_cast<recorder *>(context);
  if (r->hold.load()) {
    r->holding = true;
    eventually([&] { return !r->hold.load(); });
    r->holding = false;
  }
  std::lock_guard guard(r->lock);
  ++r->receive_calls;
  for (PWSK_DATA_INDICATION i = indication; i != nullptr; i = i->Next) {
    r->bytes += wsk_buf_bytes(i->Buffer);
  }
  r->changed.notify_all();
  return STATUS_SUCCESS;
}

NTSTATUS WSKAPI on_send_backlog(PVOID context, SIZE_T ideal) {
  auto *r = static_cast<recorder *>(context);
  std::lock_guard guard(r->lock);
  r->backlogs.push_back(ideal);
  r->changed.notify_all();
  return STATUS_SUCCESS;
}

const WSK_CLIENT_CONNECTION_DISPATCH connection_dispatch = {on_receive, nullptr, on_send_backlog};

NTSTATUS WSKAPI on_receive_from(PVOID context, ULONG, PWSK_DATAGRAM_INDICATION indication) {
  auto *r = static_cast<recorder *>(context);
  std::lock_guard guard(r->lock);
  for (PWSK_DATAGRAM_INDICATION i = indication; i != nullptr; i = i->Next) {
    r->datagrams.push_back(wsk_buf_bytes(i->Buffer));
  }
  r->changed.notify_all();
  return STATUS_SUCCESS;
}
const WSK_CLIENT_DATAGRAM_DISPATCH datagram_dispatch = {on_receive_from};

NTSTATUS WSKAPI on_accept(PVOID context, ULONG, PSOCKADDR, PSOCKADDR, PWSK_SOCKET socket,
                          PVOID *socket_context,
                          const WSK_CLIENT_CONNECTION_DISPATCH **socket_dispatch) {
  auto *r = static_cast<recorder *>(context);
  std::lock_guard guard(r->lock);
  if (socket == nullptr) {
    return STATUS_REQUEST_NOT_ACCEPTED;
  }
  r->accepted.push_back(socket);
  *socket_context = r;
  *socket_dispatch = &connection_dispatch;
  r->changed.notify_all();
  return STATUS_SUCCESS;
}

const WSK_CLIENT_LISTEN_DISPATCH listen_dispatch = {on_accept, nullptr, nullptr};

WSK_INSPECT_ACTION WSKAPI on_inspect(PVOID, PSOCKADDR, PSOCKADDR, PWSK_INSPECT_ID) {
  return WskInspectAccept;
}

const WSK_CLIENT_LISTEN_DISPATCH inspecting_dispatch = {on_accept, on_inspect, nullptr};

struct provider_oom : wsk_fixture<4> {
  recorder rec;

  void TearDown() override {
    stop_failing();
    wsk_fixture<4>::TearDown();
  }

  // Every provider allocation from now on fails.
  void fail_every() {
    char error[256];
    ASSERT_EQ(uwsk_faults_configure("alloc-fail=provider:all", 1, error, sizeof error), 0) << error;
  }
  // From now on the n-th provider allocation (counting from 0) fails and the nine after it do
  // not: a plan whose rate and seed draw so. (Later ones fail at the plan's low rate, which the
  // paths must survive as well.)
  void fail_nth(unsigned n) { fail_run(n, 1); }
  // Likewise for `count` allocations in a row from the n-th on.
  void fail_run(unsigned n, unsigned count) {
    const unsigned checked = n + count + 9;
    char spec[64];
    std::snprintf(spec, sizeof spec, "alloc-fail=provider:%.6f", double(count) / checked);
    fault::plan p;
    std::string error;
    ASSERT_TRUE(fault::parse(spec, 0, &p, &error)) << error;
    for (std::uint64_t seed = 1; seed < 100000; ++seed) {
      bool fits = true;
      for (unsigned i = 0; i < checked && fits; ++i) {
        const bool fails =
            fault::draw(seed, fault::stream::alloc_provider, 0, i) < p.alloc_provider;
        fits = fails == (i >= n && i < n + count);
      }
      if (fits) {
        char why[256];
        ASSERT_EQ(uwsk_faults_configure(spec, seed, why, sizeof why), 0) << why;
        return;
      }
    }
    FAIL() << "no seed fails exactly allocations " << n << " to " << n + count - 1;
  }
  void stop_failing() { uwsk_faults_configure(nullptr, 0, nullptr, 0); }
  // Faults injected since the plan was installed (read before stop_failing, which resets it).
  static std::uint64_t injected() { return uwsk_faults_injected(); }

  // WskAccept on `listener`, the accepted socket with the recorder's events table; returns the
  // returned status, the final status and Information through `c`.
  void accept(PWSK_SOCKET listener, call &c) {
    c.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(listener)->WskAccept(
        listener, 0, &rec, &connection_dispatch, nullptr, nullptr, c.irp);
    c.wait();
  }
  // An accepted connection (faults off): the provider's socket, with *peer its POSIX side.
  PWSK_SOCKET accepted(PWSK_SOCKET listener, unsigned short port, int *peer) {
    *peer = peer_connect(4, port, timeout_ms);
    EXPECT_GE(*peer, 0);
    call c;
    accept(listener, c);
    EXPECT_EQ(c.irp->IoStatus.Status, STATUS_SUCCESS);
    return reinterpret_cast<PWSK_SOCKET>(c.information());
  }

  // Checks that `s` and its peer exchange bytes both ways, exactly: a receive parked before the
  // bytes come (on io_uring a ring record), then a send.
  void expect_exchange(PWSK_SOCKET s, int peer) {
    const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
    const std::string in_text = "bytes from the peer";
    buffer in(64, 0);
    call r;
    r.returned = d->WskReceive(s, &in.wsk, 0, r.irp);
    ASSERT_TRUE(peer_send_all(peer, in_text.data(), in_text.size(), timeout_ms));
    EXPECT_EQ(r.wait(), STATUS_SUCCESS);
    std::string got = in.text(r.information());
    for (int i = 0; i < 4 && got.size() < in_text.size(); ++i) { // TCP may split them
      buffer more(64, 0);
      call again;
      again.returned = d->WskReceive(s, &more.wsk, 0, again.irp);
      EXPECT_EQ(again.wait(), STATUS_SUCCESS);
      got += more.text(again.information());
    }
    EXPECT_EQ(got, in_text);
    const std::string out_text = "bytes to the peer";
    buffer out(out_text.c_str());
    call w;
    w.returned = d->WskSend(s, &out.wsk, 0, w.irp);
    EXPECT_EQ(w.wait(), STATUS_SUCCESS);
    EXPECT_EQ(w.information(), out_text.size());
    char received[64] = {};
    EXPECT_EQ(peer_receive(peer, received, out_text.size(), timeout_ms), out_text.size());
    EXPECT_EQ(std::string(received, out_text.size()), out_text);
  }
};

// ---- Sockets and connections -------------------------------------------------------------------

// WskSocket of each category, each allocation failed in turn: STATUS_INSUFFICIENT_RESOURCES with
// no socket and no descriptor kept, or a socket that works.
TEST_F(provider_oom, WskSocketFailsCleanlyAtEveryAllocation) {
  const ULONG categories[] = {WSK_FLAG_BASIC_SOCKET, WSK_FLAG_LISTEN_SOCKET,
                              WSK_FLAG_CONNECTION_SOCKET, WSK_FLAG_STREAM_SOCKET,
                              WSK_FLAG_DATAGRAM_SOCKET};
  for (const ULONG flags : categories) {
    const USHORT type = flags == WSK_FLAG_DATAGRAM_SOCKET ? SOCK_DGRAM : SOCK_STREAM;
    const ULONG protocol = flags == WSK_FLAG_DATAGRAM_SOCKET ? IPPROTO_UDP : IPPROTO_TCP;
    close_socket(make_socket(flags, type, protocol)); // the loops exist before counting
    int failures = 0;
    unsigned n = 0;
    for (; n < max_allocations; ++n) {
      SCOPED_TRACE(testing::Message() << "category " << flags << ", allocation " << n);
      const int descriptors = open_descriptors();
      fail_nth(n);
      const std::uint64_t before = injected();
      call c;
      c.returned = npi.Dispatch->WskSocket(npi.Client, AF_INET, type, protocol, flags, nullptr,
                                           nullptr, nullptr, nullptr, nullptr, c.irp);
      const NTSTATUS status = c.wait();
      const bool failed = injected() != before;
      stop_failing();
      EXPECT_EQ(c.returned, status);
      if (status == STATUS_SUCCESS) {
        auto *s = reinterpret_cast<PWSK_SOCKET>(c.information());
        ASSERT_NE(s, nullptr);
        if (flags != WSK_FLAG_BASIC_SOCKET) {
          EXPECT_EQ(bind_socket(s, loopback(4, 0)), STATUS_SUCCESS);
        }
        close_socket(s);
        if (!failed) {
          break; // the call made no n-th allocation
        }
      } else {
        EXPECT_TRUE(failed);
        EXPECT_EQ(status, STATUS_INSUFFICIENT_RESOURCES);
        EXPECT_EQ(c.information(), 0u);
        EXPECT_EQ(open_descriptors(), descriptors);
        ++failures;
      }
    }
    EXPECT_LT(n, max_allocations);
    EXPECT_GE(failures, 1) << "the socket object itself is allocated";
  }
}

// WskConnect without memory for the connect queue fails before the connect starts: nothing
// reaches the listener; with memory again the same socket connects and moves bytes.
TEST_F(provider_oom, WskConnectFailsBeforeTheConnectStarts) {
  unsigned short port = 0;
  const int server = peer_listen(4, &port);
  ASSERT_GE(server, 0);
  PWSK_SOCKET s = make_bound_socket(WSK_FLAG_CONNECTION_SOCKET);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  address remote = loopback(4, port);
  fail_every();
  {
    call c;
    c.returned = d->WskConnect(s, &remote.sa, 0, c.irp);
    EXPECT_EQ(c.returned, STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(c.wait(), STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(c.information(), 0u);
  }
  EXPECT_EQ(injected(), 1u);
  stop_failing();
  EXPECT_EQ(peer_accept(server, 100), -1) << "the failed connect reached the listener";
  call c;
  c.returned = d->WskConnect(s, &remote.sa, 0, c.irp);
  EXPECT_TRUE(c.returned == STATUS_SUCCESS || c.returned == STATUS_PENDING);
  EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  EXPECT_EQ(c.information(), 0u);
  const int peer = peer_accept(server, timeout_ms);
  ASSERT_GE(peer, 0);
  expect_exchange(s, peer);
  close_socket(s);
  peer_close(peer);
  peer_close(server);
}

// WskSocketConnect, each allocation failed in turn (the socket object, its fault record, on
// io_uring its ring records, the connect queue, the records of its first transfers): either the
// call fails with STATUS_INSUFFICIENT_RESOURCES, no socket, no descriptor kept and nothing at the
// listener, or the connection works byte for byte.
TEST_F(provider_oom, WskSocketConnectFailsCleanlyAtEveryAllocation) {
  unsigned short port = 0;
  const int server = peer_listen(4, &port);
  ASSERT_GE(server, 0);
  close_socket(make_socket(WSK_FLAG_CONNECTION_SOCKET)); // the loops exist before counting
  int failures = 0;
  unsigned n = 0;
  for (; n < max_allocations; ++n) {
    SCOPED_TRACE(testing::Message() << "allocation " << n);
    const int descriptors = open_descriptors();
    address local = loopback(4, 0);
    address remote = loopback(4, port);
    fail_nth(n);
    const std::uint64_t before = injected();
    call c;
    c.returned = npi.Dispatch->WskSocketConnect(npi.Client, SOCK_STREAM, IPPROTO_TCP, &local.sa,
                                                &remote.sa, 0, &rec, &connection_dispatch, nullptr,
                                                nullptr, nullptr, c.irp);
    const NTSTATUS status = c.wait();
    if (status != STATUS_SUCCESS) {
      EXPECT_NE(injected(), before);
      stop_failing();
      EXPECT_EQ(c.returned, STATUS_INSUFFICIENT_RESOURCES);
      EXPECT_EQ(status, STATUS_INSUFFICIENT_RESOURCES);
      EXPECT_EQ(c.information(), 0u);
      EXPECT_EQ(peer_accept(server, 100), -1) << "the failed connect reached the listener";
      // The failed socket is freed on its loop: its descriptor goes with it.
      EXPECT_TRUE(eventually([&] { return open_descriptors() == descriptors; }));
      ++failures;
      continue;
    }
    auto *s = reinterpret_cast<PWSK_SOCKET>(c.information());
    ASSERT_NE(s, nullptr);
    const int peer = peer_accept(server, timeout_ms);
    ASSERT_GE(peer, 0);
    expect_exchange(s, peer); // the plan still draws: the transfers' records may fail
    const bool failed = injected() != before;
    stop_failing();
    close_socket(s);
    peer_close(peer);
    if (!failed) {
      break; // neither the call nor its transfers made an n-th allocation
    }
  }
  EXPECT_LT(n, max_allocations);
  EXPECT_GE(failures, 1);
  peer_close(server);
}

// WskAccept, each allocation failed in turn: STATUS_INSUFFICIENT_RESOURCES with no socket (the
// connection it took is closed, so its peer sees the end of the stream), or a connection that
// works; the listener keeps accepting.
TEST_F(provider_oom, WskAcceptFailsCleanlyAtEveryAllocation) {
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  int failures = 0;
  unsigned n = 0;
  for (; n < max_allocations; ++n) {
    SCOPED_TRACE(testing::Message() << "allocation " << n);
    const int peer = peer_connect(4, port, timeout_ms);
    ASSERT_GE(peer, 0);
    fail_nth(n);
    const std::uint64_t before = injected();
    call c;
    accept(listener, c);
    if (c.irp->IoStatus.Status != STATUS_SUCCESS) {
      EXPECT_NE(injected(), before);
      stop_failing();
      EXPECT_EQ(c.irp->IoStatus.Status, STATUS_INSUFFICIENT_RESOURCES);
      EXPECT_TRUE(c.returned == STATUS_INSUFFICIENT_RESOURCES || c.returned == STATUS_PENDING);
      EXPECT_EQ(c.information(), 0u);
      EXPECT_TRUE(peer_sees_eof(peer, timeout_ms));
      peer_close(peer);
      ++failures;
      continue;
    }
    auto *s = reinterpret_cast<PWSK_SOCKET>(c.information());
    ASSERT_NE(s, nullptr);
    expect_exchange(s, peer);
    const bool failed = injected() != before;
    stop_failing();
    close_socket(s);
    peer_close(peer);
    if (!failed) {
      break;
    }
  }
  EXPECT_LT(n, max_allocations);
  EXPECT_GE(failures, 1);
  close_socket(listener);
}

// The accept event without memory for the first connections waiting: each is closed (its peer
// sees the end of the stream), and the one behind them is still accepted, though no new
// connection comes to report the listener readable again.
TEST_F(provider_oom, AcceptEventWithoutMemoryDropsOnlyThoseConnections) {
  socket_context = &rec;
  listen_events = &listen_dispatch;
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  int dropped[3];
  for (int &peer : dropped) {
    peer = peer_connect(4, port, timeout_ms);
    ASSERT_GE(peer, 0);
  }
  const int second = peer_connect(4, port, timeout_ms);
  ASSERT_GE(second, 0);
  fail_run(0, 3); // the socket objects of the first three connections
  ASSERT_EQ(set_events(listener, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
  for (int peer : dropped) {
    EXPECT_TRUE(peer_sees_eof(peer, timeout_ms));
  }
  ASSERT_TRUE(rec.wait_for([&] { return rec.accepted.size() == 1; }));
  EXPECT_EQ(injected(), 3u);
  stop_failing();
  PWSK_SOCKET s = rec.read([&] { return rec.accepted.front(); });
  expect_exchange(s, second);
  // The listener goes on.
  const int third = peer_connect(4, port, timeout_ms);
  ASSERT_GE(third, 0);
  ASSERT_TRUE(rec.wait_for([&] { return rec.accepted.size() == 2; }));
  expect_exchange(rec.read([&] { return rec.accepted.back(); }), third);
  for (PWSK_SOCKET a : rec.accepted) {
    close_socket(a);
  }
  close_socket(listener);
  for (int peer : dropped) {
    peer_close(peer);
  }
  peer_close(second);
  peer_close(third);
}

// Conditional accept, each allocation of a connection's arrival failed in turn: without its
// socket object the connection is closed (its peer sees the end of the stream), without its
// inspection record it is reset (its peer sees the reset), and otherwise it is inspected,
// accepted and works. The listener goes on.
TEST_F(provider_oom, ConditionalAcceptWithoutMemoryClosesOrResets) {
  socket_context = &rec;
  listen_events = &inspecting_dispatch;
  PWSK_SOCKET listener = make_socket(WSK_FLAG_LISTEN_SOCKET);
  ULONG on = 1;
  call opt;
  opt.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(listener)->WskControlSocket(
      listener, WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET, sizeof(on), &on, 0, nullptr,
      nullptr, opt.irp);
  ASSERT_EQ(opt.wait(), STATUS_SUCCESS);
  ASSERT_EQ(bind_socket(listener, loopback(4, 0)), STATUS_SUCCESS);
  address local;
  call name;
  name.returned =
      of<WSK_PROVIDER_LISTEN_DISPATCH>(listener)->WskGetLocalAddress(listener, &local.sa, name.irp);
  ASSERT_EQ(name.wait(), STATUS_SUCCESS);
  const unsigned short port = port_of(local);
  ASSERT_EQ(set_events(listener, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
  int closed = 0;
  int reset = 0;
  unsigned n = 0;
  for (; n < max_allocations; ++n) {
    SCOPED_TRACE(testing::Message() << "allocation " << n);
    const std::size_t accepted_before = rec.read([&] { return rec.accepted.size(); });
    fail_nth(n);
    const int peer = peer_connect(4, port, timeout_ms);
    ASSERT_GE(peer, 0);
    enum { pending, accepted, peer_reset, peer_closed } outcome = pending;
    EXPECT_TRUE(eventually([&] {
      if (rec.read([&] { return rec.accepted.size(); }) > accepted_before) {
        outcome = accepted;
      } else if (peer_sees_reset(peer, 0)) {
        outcome = peer_reset;
      } else if (peer_sees_eof(peer, 0)) {
        outcome = peer_closed;
      }
      return outcome != pending;
    }));
    const bool failed = injected() != 0;
    if (outcome == accepted) {
      expect_exchange(rec.read([&] { return rec.accepted.back(); }), peer);
      stop_failing();
      peer_close(peer);
      if (!failed) {
        break;
      }
      continue;
    }
    stop_failing();
    EXPECT_TRUE(failed);
    closed += outcome == peer_closed;
    reset += outcome == peer_reset;
    peer_close(peer);
  }
  EXPECT_LT(n, max_allocations);
  EXPECT_GE(closed, 1) << "the socket object";
  EXPECT_GE(reset, 1) << "the inspection record";
  for (PWSK_SOCKET a : rec.accepted) {
    close_socket(a);
  }
  close_socket(listener);
}

// ---- Socket options ----------------------------------------------------------------------------

// SO_WSK_SECURITY to a descriptor without memory for it: STATUS_INSUFFICIENT_RESOURCES, the
// socket keeps none and no reference; NULL on a socket holding none allocates nothing.
TEST_F(provider_oom, SecurityDescriptorWithoutMemoryIsRefused) {
  unsigned char descriptor_bytes[64] = {1}; // never read: uwsk evaluates no descriptor
  PSECURITY_DESCRIPTOR original = descriptor_bytes;
  PSECURITY_DESCRIPTOR cached = nullptr;
  ASSERT_EQ(npi.Dispatch->WskControlClient(npi.Client, WSK_CACHE_SD, sizeof(original), &original,
                                           sizeof(cached), &cached, nullptr, nullptr),
            STATUS_SUCCESS);
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  PWSK_SOCKET plain = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  auto set = [&](PWSK_SOCKET socket, PSECURITY_DESCRIPTOR descriptor, call &c) {
    c.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(socket)->WskControlSocket(
        socket, WskSetOption, SO_WSK_SECURITY, SOL_SOCKET, sizeof(descriptor), &descriptor, 0,
        nullptr, nullptr, c.irp);
    c.wait();
  };
  auto get = [&](PWSK_SOCKET socket) {
    PSECURITY_DESCRIPTOR read_back = reinterpret_cast<PSECURITY_DESCRIPTOR>(sentinel);
    call c;
    c.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(socket)->WskControlSocket(
        socket, WskGetOption, SO_WSK_SECURITY, SOL_SOCKET, 0, nullptr, sizeof(read_back),
        &read_back, nullptr, c.irp);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
    return read_back;
  };
  fail_every();
  {
    // The connection socket has no rare part yet: setting a descriptor needs one.
    call c;
    set(plain, cached, c);
    EXPECT_EQ(c.returned, STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(c.irp->IoStatus.Status, STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(c.information(), 0u);
    EXPECT_EQ(injected(), 1u);
  }
  {
    // NULL on a socket holding none: nothing to keep, nothing allocated.
    call c;
    set(plain, nullptr, c);
    EXPECT_EQ(c.returned, STATUS_SUCCESS);
    EXPECT_EQ(c.irp->IoStatus.Status, STATUS_SUCCESS);
    EXPECT_EQ(c.information(), 0u);
    EXPECT_EQ(injected(), 1u);
  }
  {
    // A listening socket has its rare part already: the descriptor needs no memory.
    call c;
    set(s, cached, c);
    EXPECT_EQ(c.irp->IoStatus.Status, STATUS_SUCCESS);
    EXPECT_EQ(injected(), 1u);
  }
  stop_failing();
  EXPECT_EQ(get(plain), nullptr);
  PSECURITY_DESCRIPTOR held = get(s);
  EXPECT_EQ(held, cached);
  {
    call c;
    set(plain, cached, c);
    EXPECT_EQ(c.irp->IoStatus.Status, STATUS_SUCCESS);
  }
  PSECURITY_DESCRIPTOR held_plain = get(plain);
  EXPECT_EQ(held_plain, cached);
  // The client's references: its own, and the two each get returned. The sockets release theirs
  // when closed; a reference the refused set had taken would show as a leak.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(npi.Dispatch->WskControlClient(npi.Client, WSK_RELEASE_SD, sizeof(cached), &cached, 0,
                                             nullptr, nullptr, nullptr),
              STATUS_SUCCESS);
  }
  close_socket(plain);
  close_socket(s);
}

// SIO_WSK_SET_REMOTE_ADDRESS without memory for the fixed addresses: refused, the datagram socket
// stays unconnected, and with memory again the address is fixed and datagrams go to it.
TEST_F(provider_oom, FixedRemoteAddressWithoutMemoryIsRefused) {
  unsigned short peer_port = 0;
  const int peer = peer_udp(4, &peer_port);
  ASSERT_GE(peer, 0);
  PWSK_SOCKET s = make_bound_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  address remote = loopback(4, peer_port);
  auto fix = [&](call &c) {
    c.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskControlSocket(
        s, WskIoctl, SIO_WSK_SET_REMOTE_ADDRESS, 0, sizeof(SOCKADDR_IN), &remote.sa, 0, nullptr,
        nullptr, c.irp);
    return c.wait();
  };
  fail_every();
  {
    call c;
    EXPECT_EQ(fix(c), STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(c.returned, STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(c.information(), 0u);
  }
  EXPECT_GE(injected(), 1u);
  stop_failing();
  {
    // Not fixed: a send with no address and none fixed is refused, and nothing reaches the peer.
    buffer out("lost");
    call c;
    c.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskSendTo(s, &out.wsk, 0, nullptr, 0,
                                                                  nullptr, c.irp);
    EXPECT_NE(c.wait(), STATUS_SUCCESS);
  }
  {
    call c;
    EXPECT_EQ(fix(c), STATUS_SUCCESS);
  }
  buffer out("fixed");
  call c;
  c.returned =
      of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskSendTo(s, &out.wsk, 0, nullptr, 0, nullptr, c.irp);
  EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  EXPECT_EQ(c.information(), 5u);
  char got[16] = {};
  unsigned short from = 0;
  EXPECT_EQ(peer_udp_receive(peer, got, sizeof got, &from, timeout_ms), 5);
  EXPECT_EQ(std::string(got, 5), "fixed"); // the first datagram the peer gets
  close_socket(s);
  peer_close(peer);
}

// ---- Events ------------------------------------------------------------------------------------

// Disabling the receive event with an IRP while its callback runs needs room for the IRP: without
// it the call returns STATUS_INSUFFICIENT_RESOURCES and the disable does not take effect (the
// next bytes are indicated); with memory again the same disable pends and completes.
TEST_F(provider_oom, DisableThatWouldWaitWithoutMemoryDoesNotTakeEffect) {
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  int peer = -1;
  PWSK_SOCKET s = accepted(listener, port, &peer); // an accepted socket has no rare part
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  rec.hold = true;
  ASSERT_TRUE(peer_send_all(peer, "a", 1, timeout_ms));
  ASSERT_TRUE(eventually([&] { return rec.holding.load(); }));
  fail_every();
  {
    call c;
    c.returned = set_events(s, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, &c);
    EXPECT_EQ(c.returned, STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(c.wait(), STATUS_INSUFFICIENT_RESOURCES);
    EXPECT_EQ(c.information(), 0u);
  }
  EXPECT_EQ(injected(), 1u);
  stop_failing();
  rec.hold = false;
  ASSERT_TRUE(rec.wait_for([&] { return rec.bytes == "a"; }));
  // Still enabled: the next bytes come as an event.
  ASSERT_TRUE(peer_send_all(peer, "b", 1, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return rec.bytes == "ab"; }));
  // With memory the disable waits for the running callback.
  rec.hold = true;
  ASSERT_TRUE(peer_send_all(peer, "c", 1, timeout_ms));
  ASSERT_TRUE(eventually([&] { return rec.holding.load(); }));
  call c;
  c.returned = set_events(s, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, &c);
  EXPECT_EQ(c.returned, STATUS_PENDING);
  rec.hold = false;
  EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  EXPECT_EQ(c.information(), 0u);
  ASSERT_TRUE(peer_send_all(peer, "d", 1, timeout_ms));
  buffer in(8, 0);
  call r;
  r.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &in.wsk, 0, r.irp);
  EXPECT_EQ(r.wait(), STATUS_SUCCESS);
  EXPECT_EQ(in.text(r.information()), "d");
  EXPECT_EQ(rec.read([&] { return rec.bytes; }), "abc");
  close_socket(s);
  close_socket(listener);
  peer_close(peer);
}

// The send-backlog event waits for memory: without room to keep what it last indicated nothing
// is indicated; the next delivery pass with memory indicates the ideal backlog.
TEST_F(provider_oom, SendBacklogEventWaitsForMemory) {
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  int peer = -1;
  PWSK_SOCKET s = accepted(listener, port, &peer);
  ASSERT_NE(s, nullptr);
  fail_every();
  ASSERT_EQ(set_events(s, WSK_EVENT_SEND_BACKLOG), STATUS_SUCCESS);
  // The enable's delivery pass found no memory.
  ASSERT_TRUE(eventually([&] { return injected() >= 1; }));
  stop_failing();
  EXPECT_TRUE(rec.read([&] { return rec.backlogs.empty(); }));
  // The next pass (enabling another event kicks one) indicates it.
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  ASSERT_TRUE(rec.wait_for([&] { return !rec.backlogs.empty(); }));
  SIZE_T ideal = sentinel;
  call c;
  c.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
      s, WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, nullptr, sizeof(ideal), &ideal, nullptr,
      c.irp);
  EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  EXPECT_EQ(rec.read([&] { return rec.backlogs.front(); }), ideal);
  ASSERT_TRUE(peer_send_all(peer, "after", 5, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return rec.bytes == "after"; }));
  close_socket(s);
  close_socket(listener);
  peer_close(peer);
}

// Receive events whose first allocations fail in turn (the indication state, the timer that
// tries again, on io_uring the multishot receive's record): no byte is lost, duplicated or
// reordered, and bytes that arrived while there was no memory are indicated once there is,
// without the peer sending anything more (the socket tries again every 10 ms: readiness would
// not report them again).
TEST_F(provider_oom, ReceiveEventsWithoutMemoryLoseNoBytes) {
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  for (unsigned n = 0; n < 4; ++n) {
    SCOPED_TRACE(testing::Message() << "allocation " << n);
    {
      std::lock_guard guard(rec.lock);
      rec.bytes.clear();
    }
    int peer = -1;
    PWSK_SOCKET s = accepted(listener, port, &peer);
    ASSERT_NE(s, nullptr);
    // The bytes are in the kernel before the events are enabled: their arrival was reported
    // already, and no report comes for them again.
    ASSERT_TRUE(peer_send_all(peer, "first ", 6, timeout_ms));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fail_nth(n);
    ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
    EXPECT_TRUE(rec.wait_for([&] { return rec.bytes == "first "; }));
    stop_failing();
    ASSERT_TRUE(peer_send_all(peer, "second", 6, timeout_ms));
    EXPECT_TRUE(rec.wait_for([&] { return rec.bytes.size() >= 12; }));
    EXPECT_EQ(rec.read([&] { return rec.bytes; }), "first second");
    close_socket(s);
    peer_close(peer);
  }
  close_socket(listener);
}

// Receive-from events whose first allocations fail in turn (the indication state, the timer
// that tries again): a datagram that arrived meanwhile is indicated, whole, once there is memory,
// with no datagram after it; the next one follows.
TEST_F(provider_oom, ReceiveFromEventsWithoutMemoryIndicateOnceMemoryIsBack) {
  datagram_events = &datagram_dispatch;
  socket_context = &rec;
  for (unsigned n = 0; n < 4; ++n) {
    SCOPED_TRACE(testing::Message() << "allocation " << n);
    {
      std::lock_guard guard(rec.lock);
      rec.datagrams.clear();
    }
    PWSK_SOCKET d = make_bound_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
    ASSERT_NE(d, nullptr);
    address local;
    call c;
    c.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(d)->WskGetLocalAddress(d, &local.sa, c.irp);
    ASSERT_EQ(c.wait(), STATUS_SUCCESS);
    unsigned short peer_port = 0;
    const int peer = peer_udp(family(), &peer_port);
    ASSERT_GE(peer, 0);
    // In the kernel before the events are enabled (as for the stream above).
    ASSERT_TRUE(peer_udp_send(peer, family(), port_of(local), "one datagram", 12));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    fail_nth(n);
    ASSERT_EQ(set_events(d, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
    EXPECT_TRUE(rec.wait_for([&] { return rec.datagrams.size() == 1; }));
    stop_failing();
    ASSERT_TRUE(peer_udp_send(peer, family(), port_of(local), "two", 3));
    EXPECT_TRUE(rec.wait_for([&] { return rec.datagrams.size() == 2; }));
    const auto got = rec.read([&] { return rec.datagrams; });
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], "one datagram");
    EXPECT_EQ(got[1], "two");
    close_socket(d);
    peer_close(peer);
  }
}

// A receive and a large send parked while no ring record (or anything else) can be made: they
// go on with system calls, and every byte arrives, in order.
TEST_F(provider_oom, TransfersWithoutMemoryForRingRecordsMoveEveryByte) {
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  int peer = -1;
  PWSK_SOCKET s = accepted(listener, port, &peer);
  ASSERT_NE(s, nullptr);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  fail_every();
  buffer in(64, 0);
  call r;
  r.returned = d->WskReceive(s, &in.wsk, 0, r.irp);
  EXPECT_EQ(r.returned, STATUS_PENDING);
  ASSERT_TRUE(peer_send_all(peer, "parked", 6, timeout_ms));
  EXPECT_EQ(r.wait(), STATUS_SUCCESS);
  EXPECT_EQ(in.text(r.information()), "parked");
  // More than the socket buffers hold: the send parks until the peer reads.
  constexpr std::size_t size = 8 << 20;
  buffer out(size, 0);
  for (std::size_t i = 0; i < size; ++i) {
    out.bytes[i] = static_cast<unsigned char>(i * 7 + (i >> 13));
  }
  call w;
  w.returned = d->WskSend(s, &out.wsk, 0, w.irp);
  std::vector<unsigned char> got(size);
  EXPECT_EQ(peer_receive(peer, got.data(), size, timeout_ms), size);
  EXPECT_EQ(w.wait(), STATUS_SUCCESS);
  EXPECT_EQ(w.information(), size);
  EXPECT_TRUE(got == out.bytes);
  stop_failing();
  expect_exchange(s, peer);
  close_socket(s);
  close_socket(listener);
  peer_close(peer);
}

// ---- Scheduling --------------------------------------------------------------------------------

// Under pend=all a call that finishes during the call pends through a deferred completion; with
// no memory for it the call completes inline instead, once, with the same status.
TEST_F(provider_oom, PendWithoutMemoryCompletesInline) {
  // Made under a plan (that fails nothing), the socket has a fault record to draw pends with.
  char error[256];
  ASSERT_EQ(uwsk_faults_configure("alloc-fail=provider:0", 5, error, sizeof error), 0) << error;
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  ASSERT_EQ(uwsk_faults_configure("pend=all,alloc-fail=provider:all", 5, error, sizeof error), 0)
      << error;
  address local = loopback(4, 0);
  call c;
  c.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskBind(s, &local.sa, 0, c.irp);
  EXPECT_EQ(c.returned, STATUS_SUCCESS);
  EXPECT_TRUE(c.completed());
  EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  EXPECT_EQ(c.information(), 0u);
  stop_failing();
  close_socket(s);
}

} // namespace

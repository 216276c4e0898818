// Receive events through the ring (docs/design.md, "Ring I/O"; event rule 10) against plain POSIX
// peers on 127.0.0.1: on the io_uring engine a connection with WskReceiveEvent enabled receives
// with one multishot receive into the loop's provided buffers. Every indication rule must hold
// as on readiness: bytes in order over many connections with random sizes and half-close,
// retention released from other threads and out of order, STATUS_DATA_NOT_ACCEPTED and the
// resume through WskReceive, disabling the event while the receive is armed, and more
// connections retaining indications than the loop has buffers. Each test runs on both engines
// (epoll: the readiness path, the reference); on io_uring they check the ring path was taken.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <wdm.h>
#include <wsk.h>

#include "net/receive_buffers.hpp"
#include "support/posix_peer.hpp"
#include "support/timing.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;
using std::chrono::milliseconds;

// Whether this run must take the ring path: the io_uring engine, ring I/O on, and a kernel
// whose multishot receives into provided buffers work.
bool ring_path_expected() {
  const char *engine = std::getenv("UWSK_ENGINE");
  const char *ring_io = std::getenv("UWSK_RING_IO");
  return engine != nullptr && std::strcmp(engine, "uring") == 0 &&
         (ring_io == nullptr || std::strcmp(ring_io, "0") != 0) &&
         uwsk::net::provided_receives_work();
}

// One accepted connection as the callbacks see it.
struct connection {
  PWSK_SOCKET socket = nullptr;
  std::string bytes; // everything indicated and accepted, in order
  int indications = 0;
  int disconnects = 0;
  bool abortive = false;
};

// What the callbacks saw, shared with the test thread; the answers they give.
struct recorder {
  std::mutex lock;
  std::condition_variable changed;
  std::deque<connection> connections; // deque: stable addresses, a socket's context
  // Answers: every `retain_every`-th indication of a connection is retained (0: none), and the
  // next answers of any connection, when listed (then the listed one wins).
  int retain_every = 0;
  std::deque<NTSTATUS> answers;
  std::deque<SIZE_T> accept_counts; // BytesAccepted for listed STATUS_SUCCESS answers
  std::vector<std::pair<PWSK_SOCKET, PWSK_DATA_INDICATION>> retained;
  bool stalled = false;

  template <class Predicate> bool wait_for(Predicate p, int ms = timeout_ms) {
    std::unique_lock guard(lock);
    return changed.wait_for(guard, milliseconds(ms), p);
  }
};

struct ring_events;

NTSTATUS WSKAPI on_receive(PVOID context, ULONG flags, PWSK_DATA_INDICATION indication,
                           SIZE_T indicated, SIZE_T *accepted);
NTSTATUS WSKAPI on_disconnect(PVOID context, ULONG flags);
const WSK_CLIENT_CONNECTION_DISPATCH connection_dispatch = {on_receive, on_disconnect, nullptr};

recorder *g_rec = nullptr; // the test's recorder (one test at a time per process)

NTSTATUS WSKAPI on_receive(PVOID context, ULONG, PWSK_DATA_INDICATION indication, SIZE_T indicated,
                           SIZE_T *accepted) {
  auto *c = static_cast<connection *>(context);
  recorder &r = *g_rec;
  std::lock_guard guard(r.lock);
  if (indication == nullptr) {
    ADD_FAILURE() << "a NULL indication: the connection stopped working";
    return STATUS_SUCCESS;
  }
  std::string data;
  for (PWSK_DATA_INDICATION i = indication; i != nullptr; i = i->Next) {
    data += wsk_buf_bytes(i->Buffer);
  }
  EXPECT_EQ(data.size(), indicated);
  ++c->indications;
  NTSTATUS answer = STATUS_SUCCESS;
  if (!r.answers.empty()) {
    answer = r.answers.front();
    r.answers.pop_front();
  } else if (r.retain_every != 0 && c->indications % r.retain_every == 0) {
    answer = STATUS_PENDING;
  }
  if (answer == STATUS_PENDING) {
    c->bytes += data;
    r.retained.emplace_back(c->socket, indication);
  } else if (answer == STATUS_SUCCESS) {
    SIZE_T take = indicated;
    if (!r.accept_counts.empty()) {
      take = std::min(r.accept_counts.front(), indicated);
      r.accept_counts.pop_front();
      *accepted = take;
    }
    c->bytes += data.substr(0, take);
    r.stalled = take < indicated;
  } else {
    r.stalled = true;
  }
  r.changed.notify_all();
  return answer;
}

NTSTATUS WSKAPI on_disconnect(PVOID context, ULONG flags) {
  auto *c = static_cast<connection *>(context);
  std::lock_guard guard(g_rec->lock);
  ++c->disconnects;
  c->abortive = (flags & WSK_FLAG_ABORTIVE) != 0;
  g_rec->changed.notify_all();
  return STATUS_SUCCESS;
}

NTSTATUS WSKAPI on_accept(PVOID, ULONG, PSOCKADDR, PSOCKADDR, PWSK_SOCKET socket,
                          PVOID *socket_context,
                          const WSK_CLIENT_CONNECTION_DISPATCH **socket_dispatch) {
  if (socket == nullptr) {
    return STATUS_REQUEST_NOT_ACCEPTED;
  }
  std::lock_guard guard(g_rec->lock);
  connection &c = g_rec->connections.emplace_back();
  c.socket = socket;
  *socket_context = &c;
  *socket_dispatch = &connection_dispatch;
  g_rec->changed.notify_all();
  return STATUS_SUCCESS;
}

const WSK_CLIENT_LISTEN_DISPATCH listen_dispatch = {on_accept, nullptr, nullptr};

// The peer's bytes of connection `index`: an 8-byte header naming it, then a seeded pattern.
std::string peer_bytes(unsigned index, std::size_t size, std::uint32_t seed) {
  std::string bytes(std::max<std::size_t>(size, 8), '\0');
  std::memcpy(bytes.data(), "conn", 4);
  std::memcpy(bytes.data() + 4, &index, 4);
  std::mt19937 random(seed ^ index);
  for (std::size_t i = 8; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>(random());
  }
  return bytes;
}

struct ring_events : wsk_fixture<4> {
  recorder rec;
  std::uint64_t receives_before = 0;

  ring_events() {
    g_rec = &rec;
    listen_events = &listen_dispatch;
    connection_events = &connection_dispatch;
  }
  ~ring_events() override { g_rec = nullptr; }
  void SetUp() override {
    wsk_fixture<4>::SetUp();
    receives_before = uwsk::net::provided_receives();
  }

  // On the io_uring engine with multishot receives: the bytes came through provided buffers.
  void expect_ring_path_taken() {
    if (ring_path_expected()) {
      EXPECT_GT(uwsk::net::provided_receives(), receives_before)
          << "receive events did not read through the ring's multishot receives";
    }
  }

  // A listener with accept, receive and disconnect events on loopback.
  PWSK_SOCKET event_listener(unsigned short *port) {
    PWSK_SOCKET listener = bound_listener(port);
    EXPECT_EQ(set_events(listener, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT),
              STATUS_SUCCESS);
    return listener;
  }
  // `count` peers connected to `port`, each accepted through the accept event.
  std::vector<int> connect_peers(unsigned short port, std::size_t count) {
    std::vector<int> peers;
    for (std::size_t i = 0; i < count; ++i) {
      peers.push_back(peer_connect(4, port, timeout_ms));
      EXPECT_GE(peers.back(), 0);
    }
    EXPECT_TRUE(rec.wait_for([&] { return rec.connections.size() == count; }));
    return peers;
  }
  // The connection whose bytes begin with peer `index`'s header, or nullptr.
  connection *by_header(unsigned index) {
    for (connection &c : rec.connections) {
      if (c.bytes.size() >= 8 && std::memcmp(c.bytes.data() + 4, &index, 4) == 0) {
        return &c;
      }
    }
    return nullptr;
  }
  // Under rec.lock: the connection that got peer `index`'s bytes, checked to hold exactly
  // `expected`; nullptr, with the failure recorded, when no connection got them.
  connection *expect_peer_bytes(unsigned index, const std::string &expected) {
    connection *c = by_header(index);
    if (c == nullptr) {
      ADD_FAILURE() << "no connection got peer " << index << "'s bytes";
      return nullptr;
    }
    EXPECT_EQ(c->bytes.size(), expected.size()) << "peer " << index;
    EXPECT_TRUE(c->bytes == expected) << "peer " << index << ": the bytes differ";
    return c;
  }
  void release_retained() {
    std::vector<std::pair<PWSK_SOCKET, PWSK_DATA_INDICATION>> lists;
    {
      std::lock_guard guard(rec.lock);
      lists.swap(rec.retained);
    }
    for (auto [s, i] : lists) {
      EXPECT_EQ(of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskRelease(s, i), STATUS_SUCCESS);
    }
  }
  std::string receive(PWSK_SOCKET s, std::size_t size) {
    buffer b(size, 0);
    call c;
    c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &b.wsk, 0, c.irp);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
    return c.irp->IoStatus.Status == STATUS_SUCCESS ? b.text(c.information()) : std::string();
  }
  // One connection accepted through the accept event, once `first` has been indicated on it
  // (on io_uring its multishot receive is armed by then).
  PWSK_SOCKET indicated_connection(const char *first, PWSK_SOCKET *listener,
                                   std::vector<int> *peers) {
    unsigned short port = 0;
    *listener = event_listener(&port);
    *peers = connect_peers(port, 1);
    EXPECT_TRUE(peer_send_all((*peers)[0], first, std::strlen(first), timeout_ms));
    EXPECT_TRUE(rec.wait_for([&] { return rec.connections[0].bytes == first; }));
    return rec.connections[0].socket;
  }
  // Disables the receive event: STATUS_SUCCESS, or STATUS_EVENT_PENDING when an indication had
  // not returned yet (the disable took effect all the same).
  void disable_receive_event(PWSK_SOCKET s) {
    const NTSTATUS disabled = set_events(s, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE);
    EXPECT_TRUE(disabled == STATUS_SUCCESS || disabled == STATUS_EVENT_PENDING) << disabled;
  }
  void close_all(PWSK_SOCKET listener, const std::vector<int> &peers) {
    for (connection &c : rec.connections) {
      close_socket(c.socket);
    }
    close_socket(listener);
    for (int p : peers) {
      peer_close(p);
    }
  }
};

TEST_F(ring_events, ManyConnectionsRandomSizesAndHalfCloseKeepEveryByteInOrder) {
  constexpr unsigned connections = 24;
  const std::uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  rec.retain_every = 3; // every third indication retained, released from the test's thread
  unsigned short port = 0;
  PWSK_SOCKET listener = event_listener(&port);
  const std::vector<int> peers = connect_peers(port, connections);
  std::mt19937 random(seed);
  std::vector<std::string> sent;
  for (unsigned i = 0; i < connections; ++i) {
    sent.push_back(peer_bytes(i, random() % 300000, seed));
  }
  std::vector<std::thread> senders;
  for (unsigned i = 0; i < connections; ++i) {
    senders.emplace_back([&, i] {
      // In pieces of random sizes, then a half-close.
      std::mt19937 pieces(seed + i);
      std::size_t at = 0;
      while (at < sent[i].size()) {
        const std::size_t n = std::min<std::size_t>(1 + pieces() % 20000, sent[i].size() - at);
        EXPECT_TRUE(peer_send_all(peers[i], sent[i].data() + at, n, 20000));
        at += n;
      }
      peer_shutdown_send(peers[i]);
    });
  }
  // Retained lists are released as they come (bounded: 30 s), so no connection stays at its
  // bound.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto all_disconnected = [&] {
    std::lock_guard guard(rec.lock);
    return std::all_of(rec.connections.begin(), rec.connections.end(),
                       [](const connection &c) { return c.disconnects == 1; });
  };
  while (!all_disconnected() && std::chrono::steady_clock::now() < deadline) {
    release_retained();
    std::this_thread::sleep_for(milliseconds(1));
  }
  for (std::thread &t : senders) {
    t.join();
  }
  release_retained();
  ASSERT_TRUE(all_disconnected());
  {
    std::lock_guard guard(rec.lock);
    for (unsigned i = 0; i < connections; ++i) {
      connection *c = expect_peer_bytes(i, sent[i]);
      ASSERT_NE(c, nullptr);
      EXPECT_FALSE(c->abortive);
    }
  }
  expect_ring_path_taken();
  close_all(listener, peers);
}

TEST_F(ring_events, RetainedListsReleasedOutOfOrderOnAnotherThreadKeepTheirBytes) {
  unsigned short port = 0;
  PWSK_SOCKET listener = event_listener(&port);
  const std::vector<int> peers = connect_peers(port, 1);
  {
    // Under the lock: the loop thread reads the answers (it learns of the bytes through the
    // kernel, an order ThreadSanitizer cannot see).
    std::lock_guard guard(rec.lock);
    rec.answers = {STATUS_PENDING, STATUS_PENDING, STATUS_PENDING, STATUS_PENDING};
  }
  const char *messages[] = {"first", "second", "third", "fourth"};
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(peer_send_all(peers[0], messages[i], std::strlen(messages[i]), timeout_ms));
    ASSERT_TRUE(rec.wait_for([&] { return rec.retained.size() == std::size_t(i) + 1; }));
  }
  std::vector<std::pair<PWSK_SOCKET, PWSK_DATA_INDICATION>> lists;
  {
    std::lock_guard guard(rec.lock);
    lists.swap(rec.retained);
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(wsk_buf_bytes(lists[i].second->Buffer), messages[i]);
  }
  // Released in reverse order from another thread: each release names its own list.
  std::thread releaser([&] {
    for (int i = 3; i >= 0; --i) {
      EXPECT_EQ(of<WSK_PROVIDER_CONNECTION_DISPATCH>(lists[i].first)
                    ->WskRelease(lists[i].first, lists[i].second),
                STATUS_SUCCESS);
    }
  });
  releaser.join();
  // The connection goes on (its buffers went back to the ring).
  ASSERT_TRUE(peer_send_all(peers[0], "fifth", 5, timeout_ms));
  ASSERT_TRUE(
      rec.wait_for([&] { return rec.connections[0].bytes == "firstsecondthirdfourthfifth"; }));
  expect_ring_path_taken();
  close_all(listener, peers);
}

TEST_F(ring_events, DataNotAcceptedGoesToTheNextReceiveThenEventsResumeInOrder) {
  unsigned short port = 0;
  PWSK_SOCKET listener = event_listener(&port);
  const std::vector<int> peers = connect_peers(port, 1);
  PWSK_SOCKET s = rec.connections[0].socket;
  {
    std::lock_guard guard(rec.lock);
    rec.answers = {STATUS_DATA_NOT_ACCEPTED};
  }
  ASSERT_TRUE(peer_send_all(peers[0], "abc", 3, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return rec.stalled; }));
  // More arrives while the events are stalled: the ring may already hold it.
  ASSERT_TRUE(peer_send_all(peers[0], "def", 3, timeout_ms));
  std::this_thread::sleep_for(milliseconds(50));
  const std::string received = receive(s, 64);
  ASSERT_GE(received.size(), 3u);
  EXPECT_EQ(received.substr(0, 3), "abc");
  // Whatever the receive did not take comes through events, after it.
  ASSERT_TRUE(peer_send_all(peers[0], "ghi", 3, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return received + rec.connections[0].bytes == "abcdefghi"; }));
  // Partial acceptance, then the rest through a receive.
  {
    std::lock_guard guard(rec.lock);
    rec.answers = {STATUS_SUCCESS};
    rec.accept_counts = {2};
  }
  ASSERT_TRUE(peer_send_all(peers[0], "jklm", 4, timeout_ms));
  ASSERT_TRUE(rec.wait_for(
      [&] { return rec.stalled && received + rec.connections[0].bytes == "abcdefghijk"; }));
  EXPECT_EQ(receive(s, 2), "lm");
  ASSERT_TRUE(peer_send_all(peers[0], "n", 1, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return received + rec.connections[0].bytes == "abcdefghijkn"; }));
  expect_ring_path_taken();
  close_all(listener, peers);
}

TEST_F(ring_events, DisablingWhileArmedDeliversEverythingThroughReceivesInOrder) {
  PWSK_SOCKET listener = nullptr;
  std::vector<int> peers;
  PWSK_SOCKET s = indicated_connection("one", &listener, &peers);
  // The multishot receive is armed now; the disable cancels it. Bytes sent around the disable
  // are either indicated before it took effect or taken by the receives, in order.
  std::thread sender([&] {
    for (int i = 0; i < 200; ++i) {
      char byte = static_cast<char>('A' + i % 26);
      EXPECT_TRUE(peer_send_all(peers[0], &byte, 1, timeout_ms));
    }
    peer_shutdown_send(peers[0]);
  });
  disable_receive_event(s);
  sender.join();
  std::string through_receives;
  for (int round = 0; round < 400; ++round) {
    const std::string got = receive(s, 64);
    if (got.empty()) {
      break; // the end of the stream, after every byte
    }
    through_receives += got;
  }
  std::string expected = "one";
  for (int i = 0; i < 200; ++i) {
    expected += static_cast<char>('A' + i % 26);
  }
  {
    std::lock_guard guard(rec.lock);
    EXPECT_EQ(rec.connections[0].bytes + through_receives, expected);
  }
  expect_ring_path_taken();
  close_all(listener, peers);
}

TEST_F(ring_events, ReenablingAfterADisableIndicatesWhatWaits) {
  PWSK_SOCKET listener = nullptr;
  std::vector<int> peers;
  PWSK_SOCKET s = indicated_connection("1", &listener, &peers);
  disable_receive_event(s);
  ASSERT_TRUE(peer_send_all(peers[0], "23", 2, timeout_ms));
  EXPECT_FALSE(rec.wait_for([&] { return rec.connections[0].bytes.size() > 1; }, 100));
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  ASSERT_TRUE(rec.wait_for([&] { return rec.connections[0].bytes == "123"; }));
  ASSERT_TRUE(peer_send_all(peers[0], "45", 2, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return rec.connections[0].bytes == "12345"; }));
  close_all(listener, peers);
}

TEST_F(ring_events, MoreConnectionsRetainingThanBuffersLoseNothing) {
  // More connections than a loop has provided buffers, each retaining what it was indicated:
  // the ring runs dry, the sockets go on on readiness, and nothing is lost or reordered.
  constexpr unsigned connections = uwsk::net::receive_buffers::count + 16;
  rec.answers.assign(std::size_t{connections} * 2, STATUS_PENDING);
  unsigned short port = 0;
  PWSK_SOCKET listener = event_listener(&port);
  const std::vector<int> peers = connect_peers(port, connections);
  for (unsigned round = 0; round < 2; ++round) {
    for (unsigned i = 0; i < connections; ++i) {
      const std::string message = round == 0 ? peer_bytes(i, 16, 1) : "+round2";
      ASSERT_TRUE(peer_send_all(peers[i], message.data(), message.size(), timeout_ms));
    }
    ASSERT_TRUE(rec.wait_for(
        [&] { return rec.retained.size() == std::size_t{connections} * (round + 1); }, 15000))
        << rec.retained.size() << " lists retained";
  }
  release_retained();
  for (unsigned i = 0; i < connections; ++i) {
    ASSERT_TRUE(peer_send_all(peers[i], "+end", 4, timeout_ms));
    peer_shutdown_send(peers[i]);
  }
  ASSERT_TRUE(rec.wait_for(
      [&] {
        return std::all_of(rec.connections.begin(), rec.connections.end(),
                           [](const connection &c) { return c.disconnects == 1; });
      },
      15000));
  {
    std::lock_guard guard(rec.lock);
    for (unsigned i = 0; i < connections; ++i) {
      ASSERT_NE(expect_peer_bytes(i, peer_bytes(i, 16, 1) + "+round2+end"), nullptr);
    }
  }
  expect_ring_path_taken();
  close_all(listener, peers);
}

TEST_F(ring_events, ConnectionsBeyondTheBuffersReadOnReadinessAndKeepEveryByte) {
  // Three times as many connections as a loop has buffers, each sent a piece at a time: a loop
  // arms at most as many multishot receives as it has buffers (receive_buffers.hpp rule 5);
  // the other connections read on readiness, and every byte arrives in order.
  constexpr unsigned connections = 3 * uwsk::net::receive_buffers::count;
  constexpr unsigned rounds = 5;
  unsigned short port = 0;
  PWSK_SOCKET listener = event_listener(&port);
  const std::vector<int> peers = connect_peers(port, connections);
  for (unsigned round = 0; round < rounds; ++round) {
    for (unsigned i = 0; i < connections; ++i) {
      const std::string piece = peer_bytes(i, 16, round);
      ASSERT_TRUE(peer_send_all(peers[i], piece.data(), piece.size(), timeout_ms));
    }
    ASSERT_TRUE(rec.wait_for(
        [&] {
          return std::all_of(
              rec.connections.begin(), rec.connections.end(),
              [&](const connection &c) { return c.bytes.size() == 16 * (round + 1); });
        },
        15000))
        << "round " << round;
  }
  {
    std::lock_guard guard(rec.lock);
    for (unsigned i = 0; i < connections; ++i) {
      std::string expected;
      for (unsigned round = 0; round < rounds; ++round) {
        expected += peer_bytes(i, 16, round);
      }
      ASSERT_NE(expect_peer_bytes(i, expected), nullptr);
    }
  }
  EXPECT_LE(uwsk::net::provided_receives_most_armed(), int{uwsk::net::receive_buffers::count});
  expect_ring_path_taken();
  close_all(listener, peers);
}

TEST_F(ring_events, ClosingWithRetainedListsAndAnArmedReceive) {
  unsigned short port = 0;
  PWSK_SOCKET listener = event_listener(&port);
  const std::vector<int> peers = connect_peers(port, 1);
  {
    std::lock_guard guard(rec.lock);
    rec.answers = {STATUS_PENDING};
  }
  ASSERT_TRUE(peer_send_all(peers[0], "kept", 4, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return rec.retained.size() == 1; }));
  std::vector<std::pair<PWSK_SOCKET, PWSK_DATA_INDICATION>> lists;
  {
    std::lock_guard guard(rec.lock);
    lists = rec.retained;
  }
  // Released before the close, as the rules ask; the armed receive is cancelled by the close.
  release_retained();
  close_socket(lists[0].first);
  rec.connections.clear();
  EXPECT_TRUE(peer_sees_reset(peers[0], timeout_ms) || peer_sees_eof(peers[0], timeout_ms));
  close_socket(listener);
  peer_close(peers[0]);
}

} // namespace

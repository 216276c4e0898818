// Event callbacks (docs/wsk-behaviour.md, "Event callbacks") against plain POSIX peers on 127.0.0.1
// and ::1: accept, reject, conditional accept, receive with full, partial, refused and retained
// acceptance, disconnect, send backlog, datagram receive events, static events, disabling while a
// callback runs, a listener that stops working, and a slow consumer whose every byte is checked.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/timing.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

// What the callbacks saw, shared with the test thread.
struct recorder {
  std::mutex lock;
  std::condition_variable changed;
  // Accept side.
  std::vector<PWSK_SOCKET> accepted;
  std::vector<unsigned short> remote_ports;
  std::vector<std::string> local_addresses; // "family:address bytes:port" of each accept event
  int accept_calls = 0;
  int null_accepts = 0; // WskAcceptEvent calls with AcceptSocket == NULL
  NTSTATUS accept_answer = STATUS_SUCCESS;
  // Inspection.
  std::vector<WSK_INSPECT_ID> inspected;
  std::vector<WSK_INSPECT_ID> aborted;
  std::deque<WSK_INSPECT_ACTION> inspect_answers;
  // Receive side.
  std::string bytes; // everything the receive events accepted, in order
  int receive_calls = 0;
  int release_asap_calls = 0;           // receive indications flagged WSK_FLAG_RELEASE_ASAP
  std::deque<NTSTATUS> receive_answers; // STATUS_SUCCESS when empty
  std::deque<SIZE_T> accept_counts;     // BytesAccepted for STATUS_SUCCESS answers, when given
  std::vector<PWSK_DATA_INDICATION> retained;
  bool stalled = false; // the last answer stopped receive events
  int disconnects = 0;
  ULONG disconnect_flags = 0;
  std::vector<SIZE_T> backlogs;
  // Datagram side.
  std::vector<std::string> datagrams;
  std::vector<unsigned short> datagram_ports;
  std::vector<PWSK_DATAGRAM_INDICATION> retained_datagrams;
  std::deque<NTSTATUS> datagram_answers;
  // Every callback: the IRQL and the flags it saw.
  bool wrong_irql = false;
  bool missing_dispatch_flag = false;
  // A receive callback can be held until the test lets it go.
  std::atomic<bool> hold{false};
  std::atomic<bool> holding{false};

  // Reads recorder state under its lock.
  template <class Read> auto read(Read r) {
    std::lock_guard guard(lock);
    return r();
  }
  template <class Predicate> bool wait_for(Predicate p, int ms = timeout_ms) {
    std::unique_lock guard(lock);
    return changed.wait_for(guard, milliseconds(ms), p);
  }
  void note_irql(ULONG flags, bool has_flags = true) {
    if (KeGetCurrentIrql() != DISPATCH_LEVEL) {
      wrong_irql = true;
    }
    if (has_flags && (flags & WSK_FLAG_AT_DISPATCH_LEVEL) == 0) {
      missing_dispatch_flag = true;
    }
  }
};

unsigned short port_of_sockaddr(const SOCKADDR *a) {
  return RtlUshortByteSwap(a->sa_family == AF_INET6
                               ? reinterpret_cast<const SOCKADDR_IN6 *>(a)->sin6_port
                               : reinterpret_cast<const SOCKADDR_IN *>(a)->sin_port);
}

NTSTATUS WSKAPI on_receive(PVOID context, ULONG flags, PWSK_DATA_INDICATION indication,
                           SIZE_T indicated, SIZE_T *accepted) {
  auto *r = static_cast<recorder *>(context);
  if (r->hold.load()) {
    r->holding = true;
    eventually([&] { return !r->hold.load(); });
    r->holding = false;
  }
  std::lock_guard guard(r->lock);
  r->note_irql(flags);
  ++r->receive_calls;
  if ((flags & WSK_FLAG_RELEASE_ASAP) != 0) {
    ++r->release_asap_calls;
  }
  NTSTATUS answer = STATUS_SUCCESS;
  if (!r->receive_answers.empty()) {
    answer = r->receive_answers.front();
    r->receive_answers.pop_front();
  }
  if (indication != nullptr) {
    std::string data;
    for (PWSK_DATA_INDICATION i = indication; i != nullptr; i = i->Next) {
      data += wsk_buf_bytes(i->Buffer);
    }
    EXPECT_EQ(data.size(), indicated);
    if (answer == STATUS_PENDING) {
      r->bytes += data;
      r->retained.push_back(indication);
    } else if (answer == STATUS_SUCCESS) {
      SIZE_T take = indicated;
      if (!r->accept_counts.empty()) {
        take = std::min(r->accept_counts.front(), indicated);
        r->accept_counts.pop_front();
        *accepted = take;
      }
      r->bytes += data.substr(0, take);
      r->stalled = take < indicated;
    } else {
      r->stalled = true;
    }
  }
  r->changed.notify_all();
  return answer;
}

NTSTATUS WSKAPI on_disconnect(PVOID context, ULONG flags) {
  auto *r = static_cast<recorder *>(context);
  std::lock_guard guard(r->lock);
  r->note_irql(flags);
  ++r->disconnects;
  r->disconnect_flags = flags;
  r->changed.notify_all();
  return STATUS_SUCCESS;
}

NTSTATUS WSKAPI on_send_backlog(PVOID context, SIZE_T ideal) {
  auto *r = static_cast<recorder *>(context);
  std::lock_guard guard(r->lock);
  r->note_irql(0, false);
  r->backlogs.push_back(ideal);
  r->changed.notify_all();
  return STATUS_SUCCESS;
}

const WSK_CLIENT_CONNECTION_DISPATCH connection_dispatch = {on_receive, on_disconnect,
                                                            on_send_backlog};

// A Windows address as "family:hex bytes of the address:port", to compare.
std::string address_text(const SOCKADDR *a) {
  const auto *bytes = a->sa_family == AF_INET6
                          ? reinterpret_cast<const unsigned char *>(
                                &reinterpret_cast<const SOCKADDR_IN6 *>(a)->sin6_addr)
                          : reinterpret_cast<const unsigned char *>(
                                &reinterpret_cast<const SOCKADDR_IN *>(a)->sin_addr);
  const std::size_t size = a->sa_family == AF_INET6 ? 16 : 4;
  std::string text = std::to_string(a->sa_family) + ":";
  for (std::size_t i = 0; i < size; ++i) {
    static const char digits[] = "0123456789abcdef";
    text += digits[bytes[i] >> 4];
    text += digits[bytes[i] & 15];
  }
  return text + ":" + std::to_string(port_of_sockaddr(a));
}

NTSTATUS WSKAPI on_accept(PVOID context, ULONG flags, PSOCKADDR local, PSOCKADDR remote,
                          PWSK_SOCKET socket, PVOID *socket_context,
                          const WSK_CLIENT_CONNECTION_DISPATCH **socket_dispatch) {
  auto *r = static_cast<recorder *>(context);
  std::lock_guard guard(r->lock);
  r->note_irql(flags);
  ++r->accept_calls;
  if (socket == nullptr) {
    ++r->null_accepts;
    r->changed.notify_all();
    return STATUS_REQUEST_NOT_ACCEPTED;
  }
  EXPECT_EQ(local->sa_family, remote->sa_family);
  if (r->accept_answer == STATUS_SUCCESS) {
    r->accepted.push_back(socket);
    r->remote_ports.push_back(port_of_sockaddr(remote));
    r->local_addresses.push_back(address_text(local));
    *socket_context = r;
    *socket_dispatch = &connection_dispatch;
  }
  r->changed.notify_all();
  return r->accept_answer;
}

WSK_INSPECT_ACTION WSKAPI on_inspect(PVOID context, PSOCKADDR, PSOCKADDR remote,
                                     PWSK_INSPECT_ID id) {
  auto *r = static_cast<recorder *>(context);
  std::lock_guard guard(r->lock);
  r->note_irql(0, false);
  EXPECT_NE(id, nullptr);
  EXPECT_NE(port_of_sockaddr(remote), 0);
  WSK_INSPECT_ACTION action = WskInspectAccept;
  if (!r->inspect_answers.empty()) {
    action = r->inspect_answers.front();
    r->inspect_answers.pop_front();
  }
  r->inspected.push_back(*id); // by content: the pointer dies with the call (rule V57)
  r->changed.notify_all();
  return action;
}

NTSTATUS WSKAPI on_abort(PVOID context, PWSK_INSPECT_ID id) {
  auto *r = static_cast<recorder *>(context);
  std::lock_guard guard(r->lock);
  r->aborted.push_back(*id);
  r->changed.notify_all();
  return STATUS_SUCCESS;
}

const WSK_CLIENT_LISTEN_DISPATCH listen_dispatch = {on_accept, on_inspect, on_abort};

NTSTATUS WSKAPI on_receive_from(PVOID context, ULONG flags, PWSK_DATAGRAM_INDICATION list) {
  auto *r = static_cast<recorder *>(context);
  std::lock_guard guard(r->lock);
  r->note_irql(flags);
  NTSTATUS answer = STATUS_SUCCESS;
  if (!r->datagram_answers.empty()) {
    answer = r->datagram_answers.front();
    r->datagram_answers.pop_front();
  }
  if (answer != STATUS_DATA_NOT_ACCEPTED) {
    for (PWSK_DATAGRAM_INDICATION d = list; d != nullptr; d = d->Next) {
      r->datagrams.push_back(wsk_buf_bytes(d->Buffer));
      r->datagram_ports.push_back(port_of_sockaddr(d->RemoteAddress));
    }
  }
  if (answer == STATUS_PENDING) {
    r->retained_datagrams.push_back(list);
  }
  r->changed.notify_all();
  return answer;
}

const WSK_CLIENT_DATAGRAM_DISPATCH datagram_dispatch = {on_receive_from};

// Every socket the fixture makes has the recorder as its context and the event tables above.
struct events : wsk_fixture<> {
  recorder rec;
  events() {
    socket_context = &rec;
    listen_events = &listen_dispatch;
    connection_events = &connection_dispatch;
    datagram_events = &datagram_dispatch;
  }

  unsigned short local_port(PWSK_SOCKET s, bool datagram = false) {
    address local;
    std::memset(&local, 0xcc, sizeof(local));
    call c;
    c.returned =
        datagram ? of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskGetLocalAddress(s, &local.sa, c.irp)
                 : of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskGetLocalAddress(s, &local.sa, c.irp);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
    return port_of(local);
  }
  // One WskReceive into a fresh buffer; returns the bytes.
  std::string receive(PWSK_SOCKET s, std::size_t size, NTSTATUS expected = STATUS_SUCCESS) {
    buffer b(size, 0);
    call c;
    c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &b.wsk, 0, c.irp);
    EXPECT_EQ(c.wait(), expected);
    if (c.irp->IoStatus.Status != STATUS_SUCCESS) {
      return {};
    }
    return b.text(c.information());
  }
  void release_all_retained(PWSK_SOCKET s) {
    std::vector<PWSK_DATA_INDICATION> lists;
    {
      std::lock_guard guard(rec.lock);
      lists.swap(rec.retained);
    }
    for (PWSK_DATA_INDICATION i : lists) {
      EXPECT_EQ(of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskRelease(s, i), STATUS_SUCCESS);
    }
  }
};

INSTANTIATE_TEST_SUITE_P(Families, events, ::testing::Values(4, 6), family_name);

TEST_P(events, AcceptEventHandsOverTheSocketWithInheritedEvents) {
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  ASSERT_EQ(set_events(listener, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT),
            STATUS_SUCCESS);
  const int peer = peer_connect(family(), port, timeout_ms);
  ASSERT_GE(peer, 0);
  ASSERT_TRUE(peer_send_all(peer, "hello", 5, timeout_ms));
  peer_shutdown_send(peer);
  ASSERT_TRUE(rec.wait_for([&] { return rec.disconnects == 1; }));
  PWSK_SOCKET accepted = nullptr;
  {
    std::lock_guard guard(rec.lock);
    ASSERT_EQ(rec.accepted.size(), 1u);
    accepted = rec.accepted[0];
    EXPECT_NE(rec.remote_ports[0], 0);
    EXPECT_EQ(rec.bytes, "hello");
    EXPECT_EQ(rec.disconnect_flags & WSK_FLAG_ABORTIVE, 0u);
    EXPECT_FALSE(rec.wrong_irql);
    EXPECT_FALSE(rec.missing_dispatch_flag);
  }
  // The accepted socket works: it can still send after the peer's graceful disconnect.
  buffer reply("bye");
  call c;
  c.returned =
      of<WSK_PROVIDER_CONNECTION_DISPATCH>(accepted)->WskSend(accepted, &reply.wsk, 0, c.irp);
  EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  EXPECT_EQ(c.information(), 3u);
  char got[8] = {};
  EXPECT_EQ(peer_receive(peer, got, 3, timeout_ms), 3u);
  EXPECT_EQ(std::string(got, 3), "bye");
  close_socket(accepted);
  close_socket(listener);
  peer_close(peer);
}

// A connection its peer reset while it waited in the accept queue has no peer name left to
// read: the accept event still names the peer, as accept reported it.
TEST_P(events, AcceptEventNamesThePeerOfAConnectionResetInTheQueue) {
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  const int peer = peer_connect(family(), port, timeout_ms);
  ASSERT_GE(peer, 0);
  const unsigned short peer_port = peer_local_port(peer);
  ASSERT_TRUE(peer_established_at(port, peer, timeout_ms));
  peer_reset(peer);
  ASSERT_EQ(set_events(listener, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
  ASSERT_TRUE(rec.wait_for([&] { return rec.accept_calls == 1; }));
  PWSK_SOCKET accepted = nullptr;
  {
    std::lock_guard guard(rec.lock);
    ASSERT_EQ(rec.remote_ports.size(), 1u);
    EXPECT_EQ(rec.remote_ports[0], peer_port);
    ASSERT_EQ(rec.accepted.size(), 1u);
    accepted = rec.accepted[0];
  }
  close_socket(accepted);
  close_socket(listener);
}

// The accept event's LocalAddress is the connection's own: the listener's address when it
// listens on one address, the address the peer connected to when it listens on the wildcard.
TEST_P(events, AcceptEventLocalAddressIsTheConnectionsOwn) {
  for (const bool on_wildcard : {false, true}) {
    SCOPED_TRACE(on_wildcard ? "wildcard listener" : "loopback listener");
    PWSK_SOCKET listener = make_socket(WSK_FLAG_LISTEN_SOCKET);
    const address bound = make_address(family(), INADDR_LOOPBACK, 0, on_wildcard);
    ASSERT_EQ(bind_socket(listener, bound), STATUS_SUCCESS);
    const unsigned short port = local_port(listener);
    ASSERT_EQ(set_events(listener, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
    std::vector<int> peers;
    for (int i = 0; i < 2; ++i) { // the second accept uses what the first one read
      peers.push_back(peer_connect(family(), port, timeout_ms));
      ASSERT_GE(peers.back(), 0);
      ASSERT_TRUE(rec.wait_for([&] { return rec.local_addresses.size() == peers.size(); }));
    }
    const address expected = loopback(family(), port);
    std::vector<PWSK_SOCKET> accepted;
    {
      std::lock_guard guard(rec.lock);
      for (const std::string &local : rec.local_addresses) {
        EXPECT_EQ(local, address_text(&expected.sa));
      }
      accepted.swap(rec.accepted);
      rec.local_addresses.clear();
      rec.remote_ports.clear();
    }
    for (PWSK_SOCKET a : accepted) {
      close_socket(a);
    }
    close_socket(listener);
    for (int peer : peers) {
      peer_close(peer);
    }
  }
}

// A dual-stack listener bound to the IPv4-mapped wildcard (::ffff:0.0.0.0) takes IPv4
// connections on every local address: each connection's local address is its own
// (::ffff:127.0.0.1 here), not the listener's.
TEST_P(events, AcceptEventLocalAddressOnAMappedWildcardListener) {
  if (family() != 6) {
    GTEST_SKIP() << "an IPv6 listener's case";
  }
  PWSK_SOCKET listener = make_socket(WSK_FLAG_LISTEN_SOCKET);
  ULONG off = 0;
  call opt;
  opt.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(listener)->WskControlSocket(
      listener, WskSetOption, IPV6_V6ONLY, IPPROTO_IPV6, sizeof(off), &off, 0, nullptr, nullptr,
      opt.irp);
  ASSERT_EQ(opt.wait(), STATUS_SUCCESS);
  address bound = make_address(6, 0, 0, true);
  bound.v6.sin6_addr.s6_addr[10] = 0xff; // ::ffff:0.0.0.0
  bound.v6.sin6_addr.s6_addr[11] = 0xff;
  ASSERT_EQ(bind_socket(listener, bound), STATUS_SUCCESS);
  const unsigned short port = local_port(listener);
  ASSERT_EQ(set_events(listener, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
  std::vector<int> peers;
  for (int i = 0; i < 2; ++i) { // the second accept uses what the first one read
    peers.push_back(peer_connect(4, port, timeout_ms));
    ASSERT_GE(peers.back(), 0);
    ASSERT_TRUE(rec.wait_for([&] { return rec.local_addresses.size() == peers.size(); }));
  }
  address expected = make_address(6, 0, port, true);
  expected.v6.sin6_addr.s6_addr[10] = 0xff; // ::ffff:127.0.0.1
  expected.v6.sin6_addr.s6_addr[11] = 0xff;
  expected.v6.sin6_addr.s6_addr[12] = 127;
  expected.v6.sin6_addr.s6_addr[15] = 1;
  std::vector<PWSK_SOCKET> accepted;
  {
    std::lock_guard guard(rec.lock);
    for (const std::string &local : rec.local_addresses) {
      EXPECT_EQ(local, address_text(&expected.sa));
    }
    accepted.swap(rec.accepted);
  }
  for (PWSK_SOCKET a : accepted) {
    close_socket(a);
  }
  close_socket(listener);
  for (int peer : peers) {
    peer_close(peer);
  }
}

TEST_P(events, RejectedConnectionIsResetAndNeverSeen) {
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  rec.accept_answer = STATUS_REQUEST_NOT_ACCEPTED;
  ASSERT_EQ(set_events(listener, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
  const int peer = peer_connect(family(), port, timeout_ms);
  ASSERT_GE(peer, 0);
  EXPECT_TRUE(peer_sees_reset(peer, timeout_ms));
  EXPECT_EQ(rec.read([&] { return rec.accept_calls; }), 1);
  peer_close(peer);
  close_socket(listener); // WskDeregister in TearDown would hang if the socket were kept
}

TEST_P(events, QueuedAcceptIrpsComeBeforeTheAcceptEvent) {
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  call a;
  a.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(listener)->WskAccept(listener, 0, nullptr, nullptr,
                                                                     nullptr, nullptr, a.irp);
  EXPECT_EQ(a.returned, STATUS_PENDING);
  ASSERT_EQ(set_events(listener, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
  const int first = peer_connect(family(), port, timeout_ms);
  EXPECT_EQ(a.wait(), STATUS_SUCCESS);
  const int second = peer_connect(family(), port, timeout_ms);
  ASSERT_TRUE(rec.wait_for([&] { return rec.accepted.size() == 1; }));
  close_socket(reinterpret_cast<PWSK_SOCKET>(a.information()));
  close_socket(rec.accepted[0]);
  close_socket(listener);
  peer_close(first);
  peer_close(second);
}

TEST_P(events, PartialAcceptanceStallsEventsUntilAReceiveCompletes) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  rec.accept_counts = {2};
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  ASSERT_TRUE(peer_send_all(peer, "abcdef", 6, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return rec.receive_calls == 1; }));
  // No events while stalled, even as more data arrives.
  ASSERT_TRUE(peer_send_all(peer, "ghi", 3, timeout_ms));
  EXPECT_FALSE(rec.wait_for([&] { return rec.receive_calls > 1; }, 200));
  // The receive gets the unaccepted bytes first. On io_uring the multishot receive for events
  // may have brought what followed before its cancellation took effect; the receive then takes
  // that too, in order (docs/design.md, "Ring I/O", receive events).
  const std::string got = receive(s, 64);
  ASSERT_GE(got.size(), 4u);
  ASSERT_LE(got.size(), 7u);
  EXPECT_EQ(got, std::string("cdefghi").substr(0, got.size()));
  // Then events resume with what followed.
  const std::string rest = std::string("ghi").substr(got.size() - 4);
  ASSERT_TRUE(rec.wait_for([&] { return rec.bytes == "ab" + rest; }));
  close_socket(s);
  peer_close(peer);
}

TEST_P(events, RefusedDataGoesToTheNextReceiveAndAZeroLengthReceiveRearms) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  rec.receive_answers = {STATUS_DATA_NOT_ACCEPTED, STATUS_DATA_NOT_ACCEPTED};
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  ASSERT_TRUE(peer_send_all(peer, "12345", 5, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return rec.receive_calls == 1; }));
  EXPECT_EQ(receive(s, 3), "123");
  // The rest is indicated again once the receive completed, and refused again.
  ASSERT_TRUE(rec.wait_for([&] { return rec.receive_calls == 2; }));
  // A zero-length receive completes at once and re-arms the event with the buffered bytes.
  EXPECT_EQ(receive(s, 0), "");
  ASSERT_TRUE(rec.wait_for([&] { return rec.bytes == "45"; }));
  close_socket(s);
  peer_close(peer);
}

TEST_P(events, RetainedIndicationsStayValidUntilReleasedFromAnotherThread) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  rec.receive_answers = {STATUS_PENDING, STATUS_PENDING};
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  ASSERT_TRUE(peer_send_all(peer, "first", 5, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return rec.receive_calls == 1; }));
  ASSERT_TRUE(peer_send_all(peer, "second", 6, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return rec.receive_calls == 2; }));
  std::vector<PWSK_DATA_INDICATION> lists;
  {
    std::lock_guard guard(rec.lock);
    lists = rec.retained;
    rec.retained.clear();
  }
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_EQ(wsk_buf_bytes(lists[0]->Buffer), "first");
  EXPECT_EQ(wsk_buf_bytes(lists[1]->Buffer), "second");
  std::thread releaser([&] {
    for (PWSK_DATA_INDICATION i : lists) {
      EXPECT_EQ(of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskRelease(s, i), STATUS_SUCCESS);
    }
  });
  releaser.join();
  // Released twice, or never indicated: rejected.
  EXPECT_EQ(of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskRelease(s, lists[0]),
            STATUS_INVALID_PARAMETER);
  close_socket(s);
  peer_close(peer);
}

TEST_P(events, DisableWhileTheCallbackRunsWaitsForIt) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  rec.hold = true;
  ASSERT_TRUE(peer_send_all(peer, "x", 1, timeout_ms));
  eventually([&] { return rec.holding.load(); });
  ASSERT_TRUE(rec.holding.load());
  // With an IRP: pending until the callback returns.
  call with_irp;
  with_irp.returned = set_events(s, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, &with_irp);
  EXPECT_EQ(with_irp.returned, STATUS_PENDING);
  EXPECT_FALSE(with_irp.completed());
  // Enabled again, and disabled without an IRP: the informational STATUS_EVENT_PENDING.
  EXPECT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  EXPECT_EQ(set_events(s, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE), STATUS_EVENT_PENDING);
  rec.hold = false;
  EXPECT_EQ(with_irp.wait(), STATUS_SUCCESS);
  EXPECT_EQ(with_irp.information(), 0u);
  // Disabled: the next bytes wait for a receive.
  ASSERT_TRUE(peer_send_all(peer, "y", 1, timeout_ms));
  EXPECT_EQ(receive(s, 8), "y");
  EXPECT_EQ(rec.read([&] { return rec.receive_calls; }), 1);
  EXPECT_EQ(rec.read([&] { return rec.bytes; }), "x");
  // Nothing running: disabling completes at once.
  EXPECT_EQ(set_events(s, WSK_EVENT_DISCONNECT | WSK_EVENT_DISABLE), STATUS_SUCCESS);
  close_socket(s);
  peer_close(peer);
}

TEST_P(events, DisconnectEventReportsAReset) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_EQ(set_events(s, WSK_EVENT_DISCONNECT), STATUS_SUCCESS);
  peer_reset(peer);
  ASSERT_TRUE(rec.wait_for([&] { return rec.disconnects == 1; }));
  const ULONG flags = rec.read([&] { return rec.disconnect_flags; });
  EXPECT_NE(flags & WSK_FLAG_ABORTIVE, 0u);
  EXPECT_NE(flags & WSK_FLAG_AT_DISPATCH_LEVEL, 0u);
  // A receive now fails with the reset.
  receive(s, 8, STATUS_CONNECTION_RESET);
  close_socket(s);
}

TEST_P(events, SendBacklogEventMatchesTheIdealBacklogQuery) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_EQ(set_events(s, WSK_EVENT_SEND_BACKLOG), STATUS_SUCCESS);
  ASSERT_TRUE(rec.wait_for([&] { return !rec.backlogs.empty(); }));
  SIZE_T ideal = sentinel;
  call c;
  c.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
      s, WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, nullptr, sizeof(ideal), &ideal, nullptr,
      c.irp);
  EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  EXPECT_EQ(c.information(), sizeof(SIZE_T));
  std::lock_guard guard(rec.lock);
  EXPECT_EQ(rec.backlogs.front(), ideal);
  EXPECT_GT(ideal, 0u);
  close_socket(s);
  peer_close(peer);
}

TEST_P(events, ReceiveFromEventRefusalDisablesUntilReenabled) {
  PWSK_SOCKET d = make_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  ASSERT_EQ(bind_socket(d, loopback(family(), 0)), STATUS_SUCCESS);
  const unsigned short port = local_port(d, true);
  unsigned short peer_port = 0;
  const int peer = peer_udp(family(), &peer_port);
  rec.datagram_answers = {STATUS_SUCCESS, STATUS_DATA_NOT_ACCEPTED, STATUS_PENDING};
  ASSERT_EQ(set_events(d, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
  ASSERT_TRUE(peer_udp_send(peer, family(), port, "one", 3));
  ASSERT_TRUE(rec.wait_for([&] { return rec.datagrams.size() == 1; }));
  EXPECT_EQ(rec.datagrams[0], "one");
  EXPECT_EQ(rec.datagram_ports[0], peer_port);
  // Refused: the event is off, and the datagram waits.
  ASSERT_TRUE(peer_udp_send(peer, family(), port, "two", 3));
  ASSERT_TRUE(rec.wait_for([&] { return rec.datagram_answers.size() == 1; }));
  EXPECT_FALSE(rec.wait_for([&] { return rec.datagrams.size() > 1; }, 200));
  // Enabled again: the refused datagram comes first; this time the client retains it.
  ASSERT_EQ(set_events(d, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
  ASSERT_TRUE(rec.wait_for([&] { return rec.datagrams.size() == 2; }));
  EXPECT_EQ(rec.datagrams[1], "two");
  ASSERT_EQ(rec.retained_datagrams.size(), 1u);
  EXPECT_EQ(of<WSK_PROVIDER_DATAGRAM_DISPATCH>(d)->WskRelease(d, rec.retained_datagrams[0]),
            STATUS_SUCCESS);
  EXPECT_EQ(of<WSK_PROVIDER_DATAGRAM_DISPATCH>(d)->WskRelease(d, rec.retained_datagrams[0]),
            STATUS_INVALID_PARAMETER);
  EXPECT_FALSE(rec.wrong_irql);
  EXPECT_FALSE(rec.missing_dispatch_flag);
  close_socket(d);
  peer_close(peer);
}

TEST_P(events, StaticEventsApplyToNewSocketsAndCannotBeDisabled) {
  WSK_EVENT_CALLBACK_CONTROL ctl = {&NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE};
  ASSERT_EQ(npi.Dispatch->WskControlClient(npi.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(ctl),
                                           &ctl, 0, nullptr, nullptr, nullptr),
            STATUS_SUCCESS);
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  EXPECT_EQ(set_events(listener, WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE),
            STATUS_INVALID_DEVICE_STATE);
  const int peer = peer_connect(family(), port, timeout_ms);
  ASSERT_TRUE(peer_send_all(peer, "static", 6, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return rec.bytes == "static"; }));
  close_socket(rec.accepted.at(0));
  close_socket(listener);
  peer_close(peer);
}

TEST_P(events, ConditionalAcceptInspectsPendsAndAborts) {
  PWSK_SOCKET listener = make_socket(WSK_FLAG_LISTEN_SOCKET);
  ULONG on = 1;
  call opt;
  opt.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(listener)->WskControlSocket(
      listener, WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET, sizeof(on), &on, 0, nullptr,
      nullptr, opt.irp);
  ASSERT_EQ(opt.wait(), STATUS_SUCCESS);
  ASSERT_EQ(bind_socket(listener, loopback(family(), 0)), STATUS_SUCCESS);
  const unsigned short port = local_port(listener);
  rec.inspect_answers = {WskInspectReject, WskInspectPend, WskInspectPend};

  // Rejected: the peer sees a reset (Linux finished the handshake already).
  const int rejected = peer_connect(family(), port, timeout_ms);
  EXPECT_TRUE(peer_sees_reset(rejected, timeout_ms));
  // Pended, then accepted with WskInspectComplete; a queued WskAccept takes it.
  call a;
  a.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(listener)->WskAccept(listener, 0, nullptr, nullptr,
                                                                     nullptr, nullptr, a.irp);
  EXPECT_EQ(a.returned, STATUS_PENDING);
  const int pended = peer_connect(family(), port, timeout_ms);
  ASSERT_TRUE(rec.wait_for([&] { return rec.inspected.size() == 2; }));
  EXPECT_FALSE(a.completed());
  WSK_INSPECT_ID bogus = {12345, 678};
  call unknown;
  unknown.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(listener)->WskInspectComplete(
      listener, &bogus, WskInspectAccept, unknown.irp);
  EXPECT_EQ(unknown.returned, STATUS_INVALID_PARAMETER);
  EXPECT_EQ(unknown.wait(), STATUS_INVALID_PARAMETER);
  WSK_INSPECT_ID id = rec.inspected[1];
  call complete;
  complete.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(listener)->WskInspectComplete(
      listener, &id, WskInspectAccept, complete.irp);
  EXPECT_EQ(complete.returned, STATUS_SUCCESS);
  EXPECT_EQ(complete.wait(), STATUS_SUCCESS);
  ASSERT_EQ(a.wait(), STATUS_SUCCESS);
  auto *accepted = reinterpret_cast<PWSK_SOCKET>(a.information());
  // The accepted socket knows its inspect ID.
  WSK_INSPECT_ID queried;
  std::memset(&queried, 0xcc, sizeof(queried));
  SIZE_T returned = sentinel;
  EXPECT_EQ(of<WSK_PROVIDER_BASIC_DISPATCH>(accepted)->WskControlSocket(
                accepted, WskIoctl, SIO_WSK_QUERY_INSPECT_ID, 0, 0, nullptr, sizeof(queried),
                &queried, &returned, nullptr),
            STATUS_SUCCESS);
  EXPECT_EQ(returned, sizeof(WSK_INSPECT_ID));
  EXPECT_EQ(queried.Key, id.Key);
  EXPECT_EQ(queried.SerialNumber, id.SerialNumber);
  // Pended, and the peer gives up first: WskAbortEvent with the same ID.
  const int gives_up = peer_connect(family(), port, timeout_ms);
  ASSERT_TRUE(rec.wait_for([&] { return rec.inspected.size() == 3; }));
  peer_reset(gives_up);
  ASSERT_TRUE(rec.wait_for([&] { return rec.aborted.size() == 1; }));
  EXPECT_EQ(rec.aborted[0].Key, rec.inspected[2].Key);
  EXPECT_EQ(rec.aborted[0].SerialNumber, rec.inspected[2].SerialNumber);
  EXPECT_FALSE(rec.wrong_irql);
  close_socket(accepted);
  close_socket(listener);
  peer_close(rejected);
  peer_close(pended);
}

// A WskReceive whose completion routine appends what it got to the recorder's bytes before it
// signals the call's completion.
struct appending_receive : call {
  recorder &rec;
  buffer b;
  appending_receive(recorder &r, std::size_t size) : rec(r), b(size, 0) {
    IoSetCompletionRoutine(irp, on_complete, this, TRUE, TRUE, TRUE);
  }
  static NTSTATUS NTAPI on_complete(PDEVICE_OBJECT, PIRP irp, PVOID context) {
    auto *self = static_cast<appending_receive *>(context);
    {
      std::lock_guard guard(self->rec.lock);
      if (irp->IoStatus.Status == STATUS_SUCCESS) {
        self->rec.bytes += self->b.text(irp->IoStatus.Information);
      }
      self->rec.stalled = false;
    }
    KeSetEvent(&self->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
};

// A slow consumer: every way of answering a receive event, the event switched off and on, and
// WskReceive IRPs in between; the bytes must arrive complete and in order.
TEST_P(events, SlowConsumerLosesNothing) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  constexpr std::size_t total = 8 << 20;
  std::string sent(total, '\0');
  std::uint32_t x = 12345;
  for (auto &ch : sent) {
    x = x * 1103515245u + 12345u;
    ch = static_cast<char>(x >> 24);
  }
  {
    std::lock_guard guard(rec.lock);
    for (int i = 0; i < 4000; ++i) {
      switch (i % 4) {
      case 0:
        rec.receive_answers.push_back(STATUS_SUCCESS);
        break;
      case 1:
        rec.receive_answers.push_back(STATUS_PENDING);
        break;
      case 2:
        rec.receive_answers.push_back(STATUS_SUCCESS);
        rec.accept_counts.push_back(100);
        break;
      default:
        rec.receive_answers.push_back(STATUS_DATA_NOT_ACCEPTED);
        break;
      }
    }
  }
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  std::thread sender([&] { EXPECT_TRUE(peer_send_all(peer, sent.data(), total, 30000)); });
  bool enabled = true;
  const auto deadline = clock_type::now() + std::chrono::seconds(40);
  for (int round = 0; round < 200000 && clock_type::now() < deadline; ++round) {
    {
      std::lock_guard guard(rec.lock);
      if (rec.bytes.size() >= total) {
        break;
      }
    }
    release_all_retained(s);
    if (round % 50 == 0) {
      enabled = !enabled;
      const NTSTATUS status =
          set_events(s, enabled ? WSK_EVENT_RECEIVE : WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE);
      EXPECT_TRUE(status == STATUS_SUCCESS || status == STATUS_EVENT_PENDING);
    }
    bool stalled;
    {
      std::lock_guard guard(rec.lock);
      stalled = rec.stalled;
    }
    if (stalled || !enabled) {
      // The receive takes what the events left. Its completion routine appends the bytes:
      // receive events resume only after it has run, so the order holds.
      appending_receive r(rec, 4096);
      r.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &r.b.wsk, 0, r.irp);
      ASSERT_EQ(r.wait(), STATUS_SUCCESS);
    } else {
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  sender.join();
  release_all_retained(s);
  std::lock_guard guard(rec.lock);
  ASSERT_EQ(rec.bytes.size(), total);
  EXPECT_TRUE(rec.bytes == sent);
  close_socket(s);
  peer_close(peer);
}

} // namespace

// A listener that stops working (here: Linux takes it out of the listening state under the
// provider's feet) is reported once to WskAcceptEvent with AcceptSocket == NULL
// (docs/wsk-behaviour.md, "WskAcceptEvent").
TEST_P(events, ListenerThatStopsWorkingIsIndicatedOnceWithNull) {
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  ASSERT_EQ(set_events(listener, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
  ASSERT_TRUE(stop_own_listener(port));
  EXPECT_TRUE(rec.wait_for([&] { return rec.null_accepts == 1; }));
  // Once only: a connection attempt now is refused by Linux and indicates nothing more.
  const int peer = peer_connect(family(), port, 500);
  if (peer >= 0) {
    peer_close(peer);
  }
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(rec.read([&] { return rec.null_accepts; }), 1);
  EXPECT_EQ(rec.read([&] { return rec.accept_calls; }), 1);
  EXPECT_FALSE(rec.read([&] { return rec.wrong_irql || rec.missing_dispatch_flag; }));
  close_socket(listener);
}

// Memory pressure: while clients hold more than 1024 indication buffers (64 KiB each), every
// indication carries WSK_FLAG_RELEASE_ASAP (docs/divergences.md); releasing them ends it.
TEST_P(events, RetainingManyIndicationsSetsReleaseAsap) {
  constexpr int held = 1030; // just above the provider's threshold of 1024
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  rec.receive_answers.assign(held, STATUS_PENDING);
  ASSERT_EQ(set_events(s, WSK_EVENT_RECEIVE), STATUS_SUCCESS);
  // One byte per indication: each waits for the previous one, so no two reads coalesce.
  for (int i = 0; i < held; ++i) {
    ASSERT_TRUE(peer_send_all(peer, "x", 1, timeout_ms));
    ASSERT_TRUE(rec.wait_for([&] { return rec.receive_calls == i + 1; })) << "indication " << i;
  }
  EXPECT_EQ(rec.read([&] { return rec.retained.size(); }), static_cast<std::size_t>(held));
  const auto flagged = rec.read([&] { return rec.release_asap_calls; });
  // The indications made while more than 1024 buffers were out (the last few) carry the flag;
  // the first 1024 do not.
  EXPECT_GE(flagged, 1);
  EXPECT_LE(flagged, held - 1024);
  release_all_retained(s);
  // With the buffers back, the flag is gone.
  ASSERT_TRUE(peer_send_all(peer, "y", 1, timeout_ms));
  ASSERT_TRUE(rec.wait_for([&] { return rec.receive_calls == held + 1; }));
  EXPECT_EQ(rec.read([&] { return rec.release_asap_calls; }), flagged);
  EXPECT_EQ(rec.read([&] { return rec.bytes.size(); }), static_cast<std::size_t>(held + 1));
  close_socket(s);
  peer_close(peer);
}

// Send batches of datagram sockets (docs/design.md, "Datagram send batches"): the WskSendTo
// calls a WskReceiveFromEvent makes on its own socket return STATUS_PENDING and leave together
// once it returns. Against a POSIX UDP peer on 127.0.0.1 and ::1: every datagram arrives, byte
// for byte and in order; every IRP completes once, in order, with its length; a bad destination
// still fails during the call; a cancelled send sends nothing; a close inside the event sends
// what was batched first; WskSendMessages waits behind the batch.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/timing.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;

// One WskSendTo of the event: its own IRP and buffer, what the call returned, and how often its
// completion routine ran (in which place among all completions).
struct tracked_send {
  PIRP irp = IoAllocateIrp(1, FALSE);
  std::unique_ptr<buffer> data;
  NTSTATUS returned = static_cast<NTSTATUS>(sentinel);
  bool completed_during_call = false;
  std::atomic<int> completions{0};
  int place = -1;
  tracked_send() {
    irp->IoStatus.Status = static_cast<NTSTATUS>(sentinel);
    irp->IoStatus.Information = sentinel;
  }
  ~tracked_send() { IoFreeIrp(irp); }
  tracked_send(const tracked_send &) = delete;
  tracked_send &operator=(const tracked_send &) = delete;
};

// The client: what its receive-from event does with each indication, and what it sent.
struct client_state {
  PWSK_SOCKET socket = nullptr;
  std::function<void(client_state &, PWSK_DATAGRAM_INDICATION)> on_event;
  std::mutex lock; // guards `sends` and each send's `place`
  std::vector<std::unique_ptr<tracked_send>> sends;
  std::atomic<int> completed{0};
  std::atomic<int> events{0};
  std::atomic<bool> wrong_irql{false};

  // Under the lock, which the test thread takes to read the IRPs' final state.
  static NTSTATUS NTAPI on_complete(PDEVICE_OBJECT, PIRP, PVOID context) {
    auto *t = static_cast<tracked_send *>(context);
    client_state *c = owner_of_completions;
    std::lock_guard guard(c->lock);
    t->completions.fetch_add(1);
    t->place = c->completed.fetch_add(1);
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
  static inline client_state *owner_of_completions = nullptr;

  // A WskSendTo of `text` to `remote`, tracked; returns its record.
  tracked_send &send_to(const std::string &text, PSOCKADDR remote) {
    tracked_send *t = nullptr;
    {
      std::lock_guard guard(lock);
      sends.push_back(std::make_unique<tracked_send>());
      t = sends.back().get();
    }
    t->data = std::make_unique<buffer>(text.size());
    std::memcpy(t->data->bytes.data(), text.data(), text.size());
    IoSetCompletionRoutine(t->irp, on_complete, t, TRUE, TRUE, TRUE);
    t->returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(socket)->WskSendTo(socket, &t->data->wsk, 0,
                                                                        remote, 0, nullptr, t->irp);
    t->completed_during_call = t->completions.load() != 0;
    return *t;
  }
};

NTSTATUS WSKAPI on_receive_from(PVOID context, ULONG, PWSK_DATAGRAM_INDICATION list) {
  auto *c = static_cast<client_state *>(context);
  if (KeGetCurrentIrql() != DISPATCH_LEVEL) {
    c->wrong_irql = true;
  }
  if (list != nullptr && c->on_event) {
    c->on_event(*c, list);
  }
  c->events.fetch_add(1);
  return STATUS_SUCCESS;
}

const WSK_CLIENT_DATAGRAM_DISPATCH datagram_dispatch = {on_receive_from};

// The bytes of the k-th reply to the i-th datagram: a counter pattern of a length that varies.
std::string reply_text(int i, int k) {
  std::string text(static_cast<std::size_t>(1 + (i * 37 + k * 11) % 200), '\0');
  for (std::size_t b = 0; b < text.size(); ++b) {
    text[b] = static_cast<char>((i * 131 + k * 17 + static_cast<int>(b)) & 0xff);
  }
  return text;
}

struct datagram_batch : wsk_fixture<> {
  client_state client;
  int peer = -1;
  unsigned short peer_port = 0;
  unsigned short port = 0;
  address peer_address{};

  datagram_batch() {
    socket_context = &client;
    datagram_events = &datagram_dispatch;
    client_state::owner_of_completions = &client;
  }
  void SetUp() override {
    wsk_fixture::SetUp();
    peer = peer_udp(family(), &peer_port);
    ASSERT_GE(peer, 0);
    peer_address = loopback(family(), peer_port);
    client.socket = make_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
    ASSERT_EQ(bind_socket(client.socket, loopback(family(), 0)), STATUS_SUCCESS);
    address local;
    std::memset(&local, 0xcc, sizeof(local));
    call c;
    c.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(client.socket)
                     ->WskGetLocalAddress(client.socket, &local.sa, c.irp);
    ASSERT_EQ(c.wait(), STATUS_SUCCESS);
    port = port_of(local);
  }
  void TearDown() override {
    if (client.socket != nullptr) {
      close_socket(client.socket);
    }
    peer_close(peer);
    wsk_fixture::TearDown();
  }
  void enable_events() {
    ASSERT_EQ(set_events(client.socket, WSK_EVENT_RECEIVE_FROM), STATUS_SUCCESS);
  }
  bool poke(const std::string &text) {
    return peer_udp_send(peer, family(), port, text.data(), text.size());
  }
  // The next datagram at the peer ("" after the time limit).
  std::string peer_receive(int ms = timeout_ms) {
    char in[2048];
    unsigned short from = 0;
    const long got = peer_udp_receive(peer, in, sizeof(in), &from, ms);
    if (got < 0) {
      return {};
    }
    EXPECT_EQ(from, port);
    return std::string(in, static_cast<std::size_t>(got));
  }
  bool all_completed(int count) {
    return eventually([&] { return client.completed.load() >= count; });
  }
  // Every tracked send: pending during the call, completed once, in the order of the calls,
  // with its own length.
  void expect_sent_in_order() {
    std::lock_guard guard(client.lock);
    for (std::size_t i = 0; i < client.sends.size(); ++i) {
      const tracked_send &t = *client.sends[i];
      EXPECT_EQ(t.returned, STATUS_PENDING) << i;
      EXPECT_FALSE(t.completed_during_call) << i;
      EXPECT_EQ(t.completions.load(), 1) << i;
      EXPECT_EQ(t.place, static_cast<int>(i));
      EXPECT_EQ(t.irp->IoStatus.Status, STATUS_SUCCESS) << i;
      EXPECT_EQ(t.irp->IoStatus.Information, t.data->bytes.size()) << i;
    }
  }
};

INSTANTIATE_TEST_SUITE_P(Families, datagram_batch, ::testing::Values(4, 6), family_name);

TEST_P(datagram_batch, SendsMadeInsideTheEventLeaveTogetherAfterItInOrder) {
  constexpr int rounds = 40;
  constexpr int replies = 3;
  int round = 0;
  client.on_event = [&](client_state &c, PWSK_DATAGRAM_INDICATION list) {
    for (PWSK_DATAGRAM_INDICATION d = list; d != nullptr; d = d->Next) {
      for (int k = 0; k < replies; ++k) {
        c.send_to(reply_text(round, k), &peer_address.sa);
      }
      ++round;
    }
  };
  enable_events();
  for (int i = 0; i < rounds; ++i) {
    ASSERT_TRUE(poke("go"));
    for (int k = 0; k < replies; ++k) {
      ASSERT_EQ(peer_receive(), reply_text(i, k)) << i << " " << k;
    }
  }
  ASSERT_TRUE(all_completed(rounds * replies));
  expect_sent_in_order();
  EXPECT_FALSE(client.wrong_irql.load());
}

TEST_P(datagram_batch, MoreSendsThanOneSendmmsgTakesStayInOrder) {
  constexpr int count = 150; // more than the 64 datagrams of one sendmmsg
  client.on_event = [&](client_state &c, PWSK_DATAGRAM_INDICATION) {
    for (int k = 0; k < count; ++k) {
      c.send_to(reply_text(7, k), &peer_address.sa);
    }
  };
  enable_events();
  ASSERT_TRUE(poke("go"));
  for (int k = 0; k < count; ++k) {
    ASSERT_EQ(peer_receive(), reply_text(7, k)) << k;
  }
  ASSERT_TRUE(all_completed(count));
  expect_sent_in_order();
}

TEST_P(datagram_batch, ABadDestinationStillFailsDuringTheCall) {
  address wrong_family = loopback(family() == 4 ? 6 : 4, peer_port);
  tracked_send *bad = nullptr;
  tracked_send *no_address = nullptr;
  client.on_event = [&](client_state &c, PWSK_DATAGRAM_INDICATION) {
    bad = &c.send_to("wrong family", &wrong_family.sa);
    no_address = &c.send_to("no address on an unconnected socket", nullptr);
    c.send_to("good", &peer_address.sa);
  };
  enable_events();
  ASSERT_TRUE(poke("go"));
  ASSERT_EQ(peer_receive(), "good");
  ASSERT_TRUE(all_completed(3));
  std::lock_guard guard(client.lock);
  for (tracked_send *t : {bad, no_address}) {
    EXPECT_EQ(t->returned, STATUS_INVALID_PARAMETER);
    EXPECT_TRUE(t->completed_during_call);
    EXPECT_EQ(t->completions.load(), 1);
    EXPECT_EQ(t->irp->IoStatus.Status, STATUS_INVALID_PARAMETER);
    EXPECT_EQ(t->irp->IoStatus.Information, 0u);
  }
  const tracked_send &good = *client.sends[2];
  EXPECT_EQ(good.returned, STATUS_PENDING);
  EXPECT_EQ(good.irp->IoStatus.Status, STATUS_SUCCESS);
  EXPECT_EQ(good.irp->IoStatus.Information, 4u);
  EXPECT_EQ(peer_receive(200), ""); // nothing else went out
}

TEST_P(datagram_batch, ASendCancelledInsideTheEventSendsNothing) {
  client.on_event = [&](client_state &c, PWSK_DATAGRAM_INDICATION) {
    c.send_to("first", &peer_address.sa);
    tracked_send &cancelled = c.send_to("cancelled", &peer_address.sa);
    EXPECT_TRUE(IoCancelIrp(cancelled.irp));
    c.send_to("third", &peer_address.sa);
  };
  enable_events();
  ASSERT_TRUE(poke("go"));
  ASSERT_EQ(peer_receive(), "first");
  ASSERT_EQ(peer_receive(), "third");
  ASSERT_TRUE(all_completed(3));
  EXPECT_EQ(peer_receive(200), "");
  std::lock_guard guard(client.lock);
  const tracked_send &cancelled = *client.sends[1];
  EXPECT_EQ(cancelled.returned, STATUS_PENDING);
  EXPECT_EQ(cancelled.completions.load(), 1);
  EXPECT_EQ(cancelled.irp->IoStatus.Status, STATUS_CANCELLED);
  EXPECT_EQ(cancelled.irp->IoStatus.Information, 0u);
  for (int i : {0, 2}) {
    EXPECT_EQ(client.sends[i]->irp->IoStatus.Status, STATUS_SUCCESS);
    EXPECT_EQ(client.sends[i]->completions.load(), 1);
  }
  EXPECT_LT(client.sends[0]->place, client.sends[2]->place);
}

TEST_P(datagram_batch, ACloseInsideTheEventSendsWhatWasBatchedFirst) {
  call close;
  client.on_event = [&](client_state &c, PWSK_DATAGRAM_INDICATION) {
    c.send_to("one", &peer_address.sa);
    c.send_to("two", &peer_address.sa);
    close.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(c.socket)->WskCloseSocket(c.socket, close.irp);
  };
  enable_events();
  ASSERT_TRUE(poke("go"));
  ASSERT_EQ(close.wait(), STATUS_SUCCESS);
  client.socket = nullptr; // closed
  EXPECT_TRUE(close.returned == STATUS_SUCCESS || close.returned == STATUS_PENDING);
  ASSERT_EQ(peer_receive(), "one");
  ASSERT_EQ(peer_receive(), "two");
  ASSERT_TRUE(all_completed(2));
  expect_sent_in_order();
}

TEST_P(datagram_batch, SendMessagesWaitsBehindTheBatch) {
  buffer second("second");
  buffer third("third!");
  WSK_BUF_LIST list[2];
  list[0].Next = &list[1];
  list[0].Buffer = second.wsk;
  list[1].Next = nullptr;
  list[1].Buffer = third.wsk;
  call messages;
  client.on_event = [&](client_state &c, PWSK_DATAGRAM_INDICATION) {
    c.send_to("first", &peer_address.sa);
    messages.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(c.socket)->WskSendMessages(
        c.socket, list, 0, &peer_address.sa, 0, nullptr, messages.irp);
    c.send_to("fourth", &peer_address.sa);
  };
  enable_events();
  ASSERT_TRUE(poke("go"));
  for (const char *expected : {"first", "second", "third!", "fourth"}) {
    ASSERT_EQ(peer_receive(), expected);
  }
  ASSERT_EQ(messages.wait(), STATUS_SUCCESS);
  EXPECT_EQ(messages.returned, STATUS_PENDING);
  EXPECT_EQ(messages.information(), 12u);
  ASSERT_TRUE(all_completed(2));
  expect_sent_in_order();
}

} // namespace

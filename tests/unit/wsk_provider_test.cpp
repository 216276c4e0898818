// The WSK provider through its dispatch tables, against plain POSIX peers on 127.0.0.1 and ::1:
// registration, listening/connection/stream/datagram sockets, data transfer, ordering,
// cancellation, close and disconnect. Every call's returned status and the IRP's final status
// and Information are checked; outputs start as 0xdeadbeef.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/timing.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;

struct provider : wsk_fixture<> {};

INSTANTIATE_TEST_SUITE_P(Families, provider, ::testing::Values(4, 6), family_name);

TEST_P(provider, RegistrationRulesAndCharacteristics) {
  WSK_PROVIDER_CHARACTERISTICS characteristics;
  std::memset(&characteristics, 0xcc, sizeof(characteristics));
  EXPECT_EQ(WskQueryProviderCharacteristics(&registration, &characteristics), STATUS_SUCCESS);
  EXPECT_EQ(characteristics.HighestVersion, MAKE_WSK_VERSION(1, 0));
  EXPECT_EQ(characteristics.LowestVersion, MAKE_WSK_VERSION(1, 0));
  EXPECT_EQ(npi.Dispatch->Version, MAKE_WSK_VERSION(1, 0));

  // A client asking for major version 2 gets STATUS_NOINTERFACE.
  static const WSK_CLIENT_DISPATCH v2 = {MAKE_WSK_VERSION(2, 0), 0, nullptr};
  WSK_CLIENT_NPI client = {nullptr, &v2};
  WSK_REGISTRATION other{};
  WSK_PROVIDER_NPI other_npi;
  std::memset(&other_npi, 0xcc, sizeof(other_npi));
  ASSERT_EQ(WskRegister(&client, &other), STATUS_SUCCESS);
  EXPECT_EQ(WskCaptureProviderNPI(&other, WSK_NO_WAIT, &other_npi), STATUS_NOINTERFACE);
  WskDeregister(&other);
  // After WskDeregister the intact block answers STATUS_DEVICE_NOT_READY.
  EXPECT_EQ(WskCaptureProviderNPI(&other, WSK_NO_WAIT, &other_npi), STATUS_DEVICE_NOT_READY);
}

TEST_P(provider, ListeningSocketAcceptsAndExchangesData) {
  unsigned short port = 0;
  PWSK_SOCKET listen_socket = bound_listener(&port);
  call accept_call;
  address local, remote;
  std::memset(&local, 0xcc, sizeof(local));
  std::memset(&remote, 0xcc, sizeof(remote));
  accept_call.returned =
      of<WSK_PROVIDER_LISTEN_DISPATCH>(listen_socket)
          ->WskAccept(listen_socket, 0, nullptr, nullptr, &local.sa, &remote.sa, accept_call.irp);
  EXPECT_EQ(accept_call.returned, STATUS_PENDING);
  EXPECT_FALSE(accept_call.completed());
  const int client = peer_connect(family(), port, timeout_ms);
  ASSERT_GE(client, 0);
  ASSERT_EQ(accept_call.wait(), STATUS_SUCCESS);
  EXPECT_TRUE(accept_call.irp->PendingReturned);
  auto *accepted = reinterpret_cast<PWSK_SOCKET>(accept_call.information());
  ASSERT_NE(accepted, nullptr);
  EXPECT_EQ(local.sa.sa_family, wsk_family());
  EXPECT_EQ(port_of(local), port);
  EXPECT_EQ(remote.sa.sa_family, wsk_family());
  EXPECT_NE(port_of(remote), 0);

  // The client's bytes arrive through WskReceive ...
  ASSERT_TRUE(peer_send_all(client, "ping", 4, timeout_ms));
  buffer in(64, 0xcc);
  call receive;
  receive.returned =
      of<WSK_PROVIDER_CONNECTION_DISPATCH>(accepted)->WskReceive(accepted, &in.wsk, 0, receive.irp);
  EXPECT_EQ(receive.wait(), STATUS_SUCCESS);
  EXPECT_TRUE(receive.returned == STATUS_SUCCESS || receive.returned == STATUS_PENDING);
  ASSERT_EQ(receive.information(), 4u);
  EXPECT_EQ(in.text(4), "ping");
  // ... and WskSend's reach the client.
  buffer out("pong!");
  call send;
  send.returned =
      of<WSK_PROVIDER_CONNECTION_DISPATCH>(accepted)->WskSend(accepted, &out.wsk, 0, send.irp);
  EXPECT_EQ(send.returned, STATUS_SUCCESS);
  EXPECT_EQ(send.wait(), STATUS_SUCCESS);
  EXPECT_EQ(send.information(), 5u);
  char reply[8] = {};
  EXPECT_EQ(peer_receive(client, reply, 5, timeout_ms), 5u);
  EXPECT_STREQ(reply, "pong!");
  // A graceful close by the client completes a receive with success and 0 bytes.
  peer_shutdown_send(client);
  call eof;
  eof.returned =
      of<WSK_PROVIDER_CONNECTION_DISPATCH>(accepted)->WskReceive(accepted, &in.wsk, 0, eof.irp);
  EXPECT_EQ(eof.wait(), STATUS_SUCCESS);
  EXPECT_EQ(eof.information(), 0u);
  close_socket(accepted);
  close_socket(listen_socket);
  peer_close(client);
}

TEST_P(provider, ConnectRequiresBindAndReportsRefusal) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  address nowhere = loopback(family(), peer_unused_port(family()));
  {
    call c;
    c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskConnect(s, &nowhere.sa, 0, c.irp);
    EXPECT_EQ(c.returned, STATUS_INVALID_DEVICE_STATE);
    EXPECT_EQ(c.wait(), STATUS_INVALID_DEVICE_STATE);
    EXPECT_EQ(c.information(), 0u);
  }
  {
    address remote;
    call c;
    c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskGetRemoteAddress(s, &remote.sa, c.irp);
    EXPECT_EQ(c.returned, STATUS_INVALID_DEVICE_STATE);
    EXPECT_EQ(c.wait(), STATUS_INVALID_DEVICE_STATE);
  }
  ASSERT_EQ(bind_socket(s, loopback(family(), 0)), STATUS_SUCCESS);
  EXPECT_EQ(bind_socket(s, loopback(family(), 0)), STATUS_ADDRESS_ALREADY_ASSOCIATED);
  {
    call c;
    c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskConnect(s, &nowhere.sa, 0, c.irp);
    EXPECT_EQ(c.wait(), STATUS_CONNECTION_REFUSED);
    EXPECT_TRUE(c.returned == STATUS_CONNECTION_REFUSED || c.returned == STATUS_PENDING);
    EXPECT_EQ(c.information(), 0u);
  }
  close_socket(s);
}

TEST_P(provider, CancelledReceiveConsumesNoDataAndReceivesCompleteInOrder) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  buffer first(3, 0xcc), second(3, 0xcc), third(3, 0xcc);
  call r1, r2, r3;
  r1.returned = d->WskReceive(s, &first.wsk, 0, r1.irp);
  r2.returned = d->WskReceive(s, &second.wsk, 0, r2.irp);
  r3.returned = d->WskReceive(s, &third.wsk, 0, r3.irp);
  EXPECT_EQ(r1.returned, STATUS_PENDING);
  EXPECT_EQ(r2.returned, STATUS_PENDING);
  EXPECT_EQ(r3.returned, STATUS_PENDING);
  // Cancel the second: it completes with STATUS_CANCELLED and takes nothing.
  EXPECT_TRUE(IoCancelIrp(r2.irp));
  EXPECT_EQ(r2.wait(), STATUS_CANCELLED);
  EXPECT_EQ(r2.information(), 0u);
  ASSERT_TRUE(peer_send_all(peer, "abc", 3, timeout_ms));
  EXPECT_EQ(r1.wait(), STATUS_SUCCESS);
  EXPECT_EQ(first.text(r1.information()), "abc");
  ASSERT_TRUE(peer_send_all(peer, "def", 3, timeout_ms));
  EXPECT_EQ(r3.wait(), STATUS_SUCCESS);
  EXPECT_EQ(third.text(r3.information()), "def");
  close_socket(s);
  peer_close(peer);
}

TEST_P(provider, WaitAllReceiveWaitsForTheWholeBuffer) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  buffer in(6, 0xcc);
  call r;
  r.returned = d->WskReceive(s, &in.wsk, WSK_FLAG_WAITALL, r.irp);
  ASSERT_TRUE(peer_send_all(peer, "abc", 3, timeout_ms));
  sleep_ms(50);
  EXPECT_FALSE(r.completed());
  ASSERT_TRUE(peer_send_all(peer, "def", 3, timeout_ms));
  EXPECT_EQ(r.wait(), STATUS_SUCCESS);
  EXPECT_EQ(r.information(), 6u);
  EXPECT_EQ(in.text(6), "abcdef");
  close_socket(s);
  peer_close(peer);
}

TEST_P(provider, CloseCancelsPendingOperationsAndCompletesLast) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  buffer in(16);
  call r;
  r.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &in.wsk, 0, r.irp);
  EXPECT_EQ(r.returned, STATUS_PENDING);
  close_socket(s);
  EXPECT_TRUE(r.completed());
  EXPECT_EQ(r.irp->IoStatus.Status, STATUS_CANCELLED);
  EXPECT_EQ(r.information(), 0u);
  // Closing a connection that was not disconnected resets it (docs/wsk-behaviour.md,
  // "WskCloseSocket").
  EXPECT_TRUE(peer_sees_reset(peer, timeout_ms));
  peer_close(peer);
}

TEST_P(provider, GracefulAndAbortiveDisconnect) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  buffer last("bye");
  {
    call c;
    c.returned = d->WskDisconnect(s, &last.wsk, 0, c.irp);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
    EXPECT_EQ(c.information(), 0u);
  }
  char got[4] = {};
  EXPECT_EQ(peer_receive(peer, got, 3, timeout_ms), 3u);
  EXPECT_STREQ(got, "bye");
  EXPECT_TRUE(peer_sees_eof(peer, timeout_ms));
  {
    buffer more("x");
    call c;
    c.returned = d->WskSend(s, &more.wsk, 0, c.irp);
    EXPECT_EQ(c.returned, STATUS_INVALID_DEVICE_STATE);
  }
  close_socket(s);
  peer_close(peer);

  s = connected(&peer);
  {
    call c;
    c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskDisconnect(s, nullptr,
                                                                        WSK_FLAG_ABORTIVE, c.irp);
    EXPECT_EQ(c.returned, STATUS_SUCCESS);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  }
  EXPECT_TRUE(peer_sees_reset(peer, timeout_ms));
  close_socket(s);
  peer_close(peer);
}

TEST_P(provider, PeerResetFailsThePendingReceive) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  buffer in(16);
  call r;
  r.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &in.wsk, 0, r.irp);
  EXPECT_EQ(r.returned, STATUS_PENDING);
  peer_reset(peer);
  EXPECT_EQ(r.wait(), STATUS_CONNECTION_RESET);
  EXPECT_EQ(r.information(), 0u);
  close_socket(s);
}

TEST_P(provider, SocketConnectCreatesAConnectedSocket) {
  unsigned short port = 0;
  const int server = peer_listen(family(), &port);
  address local = loopback(family(), 0);
  address remote = loopback(family(), port);
  call c;
  c.returned =
      npi.Dispatch->WskSocketConnect(npi.Client, SOCK_STREAM, IPPROTO_TCP, &local.sa, &remote.sa, 0,
                                     nullptr, nullptr, nullptr, nullptr, nullptr, c.irp);
  ASSERT_EQ(c.wait(), STATUS_SUCCESS);
  auto *s = reinterpret_cast<PWSK_SOCKET>(c.information());
  ASSERT_NE(s, nullptr);
  const int peer = peer_accept(server, timeout_ms);
  ASSERT_GE(peer, 0);
  buffer out("hello");
  call send;
  send.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskSend(s, &out.wsk, 0, send.irp);
  EXPECT_EQ(send.wait(), STATUS_SUCCESS);
  char got[6] = {};
  EXPECT_EQ(peer_receive(peer, got, 5, timeout_ms), 5u);
  EXPECT_STREQ(got, "hello");
  close_socket(s);
  peer_close(peer);
  peer_close(server);

  // Refused: the IRP fails and no socket is handed out.
  address nowhere = loopback(family(), peer_unused_port(family()));
  call refused;
  refused.returned =
      npi.Dispatch->WskSocketConnect(npi.Client, SOCK_STREAM, IPPROTO_TCP, &local.sa, &nowhere.sa,
                                     0, nullptr, nullptr, nullptr, nullptr, nullptr, refused.irp);
  EXPECT_EQ(refused.wait(), STATUS_CONNECTION_REFUSED);
  EXPECT_EQ(refused.information(), 0u);
}

TEST_P(provider, DatagramSendToAndReceiveFrom) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  const auto *d = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s);
  buffer out("datagram");
  {
    // Before bind, datagram functions are in the wrong state.
    call c;
    address to = loopback(family(), 9);
    c.returned = d->WskSendTo(s, &out.wsk, 0, &to.sa, 0, nullptr, c.irp);
    EXPECT_EQ(c.returned, STATUS_INVALID_DEVICE_STATE);
  }
  ASSERT_EQ(bind_socket(s, loopback(family(), 0)), STATUS_SUCCESS);
  address local;
  {
    call c;
    c.returned = d->WskGetLocalAddress(s, &local.sa, c.irp);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  }
  unsigned short peer_port = 0;
  const int peer = peer_udp(family(), &peer_port);
  address to = loopback(family(), peer_port);
  {
    call c;
    c.returned = d->WskSendTo(s, &out.wsk, 0, &to.sa, 0, nullptr, c.irp);
    EXPECT_EQ(c.returned, STATUS_SUCCESS);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
    EXPECT_EQ(c.information(), 8u);
  }
  char got[16] = {};
  unsigned short from = 0;
  EXPECT_EQ(peer_udp_receive(peer, got, sizeof(got), &from, timeout_ms), 8);
  EXPECT_STREQ(got, "datagram");
  EXPECT_EQ(from, port_of(local));

  buffer in(4, 0xcc);
  address source;
  std::memset(&source, 0xcc, sizeof(source));
  ULONG control_length = 0;
  ULONG control_flags = static_cast<ULONG>(sentinel);
  call r;
  r.returned =
      d->WskReceiveFrom(s, &in.wsk, 0, &source.sa, &control_length, nullptr, &control_flags, r.irp);
  EXPECT_EQ(r.returned, STATUS_PENDING);
  ASSERT_TRUE(peer_udp_send(peer, family(), port_of(local), "truncated!", 10));
  EXPECT_EQ(r.wait(), STATUS_SUCCESS);
  EXPECT_EQ(r.information(), 4u);
  EXPECT_EQ(in.text(4), "trun");
  EXPECT_EQ(control_flags & MSG_TRUNC, static_cast<ULONG>(MSG_TRUNC));
  EXPECT_EQ(source.sa.sa_family, wsk_family());
  EXPECT_EQ(port_of(source), peer_port);
  close_socket(s);
  peer_close(peer);
}

TEST_P(provider, StreamSocketListensOrConnectsAfterBind) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_STREAM_SOCKET);
  const auto *d = of<WSK_PROVIDER_STREAM_DISPATCH>(s);
  {
    call c;
    c.returned = d->WskListen(s, c.irp);
    EXPECT_EQ(c.returned, STATUS_INVALID_DEVICE_STATE);
  }
  ASSERT_EQ(bind_socket(s, loopback(family(), 0)), STATUS_SUCCESS);
  {
    call c;
    c.returned = d->WskListen(s, c.irp);
    EXPECT_EQ(c.returned, STATUS_SUCCESS);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  }
  address local;
  {
    call c;
    c.returned = d->WskGetLocalAddress(s, &local.sa, c.irp);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  }
  const int client = peer_connect(family(), port_of(local), timeout_ms);
  ASSERT_GE(client, 0);
  call accept_call;
  accept_call.returned = d->WskAccept(s, 0, nullptr, nullptr, nullptr, nullptr, accept_call.irp);
  ASSERT_EQ(accept_call.wait(), STATUS_SUCCESS);
  auto *accepted = reinterpret_cast<PWSK_SOCKET>(accept_call.information());
  ASSERT_NE(accepted, nullptr);
  // After listening, the connection role is no longer available.
  {
    address to = loopback(family(), 9);
    call c;
    c.returned = d->WskConnect(s, &to.sa, 0, c.irp);
    EXPECT_EQ(c.returned, STATUS_INVALID_DEVICE_STATE);
  }
  close_socket(accepted);
  close_socket(s);
  peer_close(client);
}

TEST_P(provider, BasicSocketCannotBeBound) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_BASIC_SOCKET);
  call c;
  address local = loopback(family(), 0);
  // A basic table has no bind; the stream table's bind slot is not reachable. Check creation
  // flags instead: an unknown category is an invalid parameter.
  c.returned = npi.Dispatch->WskSocket(npi.Client, wsk_family(), SOCK_STREAM, IPPROTO_TCP, 0x3,
                                       nullptr, nullptr, nullptr, nullptr, nullptr, c.irp);
  EXPECT_EQ(c.returned, STATUS_INVALID_PARAMETER);
  EXPECT_EQ(c.wait(), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(c.information(), 0u);
  (void)local;
  close_socket(s);
}

} // namespace

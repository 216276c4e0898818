// Connects that cannot finish at once: against a listener whose accept queue is full, the
// kernel drops the SYNs, so the handshake stays in progress as it does towards a remote host
// that does not answer. WskConnect and WskSocketConnect must pend until it finishes, and a
// driver must be able to cancel them. Loopback only; outputs start as 0xdeadbeef.
#include <gtest/gtest.h>

#include <cstring>

#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/timing.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;

// The provider fixture, with a POSIX listener on `port` whose accept queue is full.
struct connecting : wsk_fixture<> {
  int listener = -1;
  int filler = -1;
  unsigned short port = 0;

  void SetUp() override {
    wsk_fixture::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    listener = peer_listen_full(family(), &port, &filler);
    ASSERT_GE(listener, 0) << "the accept queue did not fill";
  }
  void TearDown() override {
    peer_close(filler);
    peer_close(listener);
    wsk_fixture::TearDown();
  }
};

INSTANTIATE_TEST_SUITE_P(Families, connecting, ::testing::Values(4, 6), family_name);

TEST_P(connecting, ConnectPendsUntilTheHandshakeFinishes) {
  PWSK_SOCKET s = make_bound_socket(WSK_FLAG_CONNECTION_SOCKET);
  address remote = loopback(family(), port);
  call c;
  c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskConnect(s, &remote.sa, 0, c.irp);
  EXPECT_EQ(c.returned, STATUS_PENDING);
  sleep_ms(300);
  EXPECT_FALSE(c.completed()) << "a connect whose SYN was dropped reported itself done";
  // Room in the queue: the SYN the kernel sends again (after about a second) is answered.
  const int accepted = peer_accept(listener, timeout_ms);
  ASSERT_GE(accepted, 0);
  EXPECT_EQ(c.wait(timeout_ms), STATUS_SUCCESS);
  EXPECT_EQ(c.information(), 0u);
  const int second = peer_accept(listener, timeout_ms);
  EXPECT_GE(second, 0) << "the connect's own connection";
  peer_close(second);
  peer_close(accepted);
  close_socket(s);
}

TEST_P(connecting, CancelledConnectCompletesOnceAndLeavesTheSocketBound) {
  PWSK_SOCKET s = make_bound_socket(WSK_FLAG_CONNECTION_SOCKET);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  address remote = loopback(family(), port);
  call c;
  c.returned = d->WskConnect(s, &remote.sa, 0, c.irp);
  EXPECT_EQ(c.returned, STATUS_PENDING);
  sleep_ms(100);
  EXPECT_FALSE(c.completed());
  EXPECT_TRUE(IoCancelIrp(c.irp));
  EXPECT_EQ(c.wait(), STATUS_CANCELLED);
  EXPECT_EQ(c.information(), 0u);
  EXPECT_FALSE(IoCancelIrp(c.irp)) << "no cancel routine is left on a completed IRP";
  // The socket is bound again: a second connect, once the listener has room, succeeds.
  const int accepted = peer_accept(listener, timeout_ms);
  ASSERT_GE(accepted, 0);
  call again;
  again.returned = d->WskConnect(s, &remote.sa, 0, again.irp);
  EXPECT_TRUE(again.returned == STATUS_SUCCESS || again.returned == STATUS_PENDING);
  EXPECT_EQ(again.wait(timeout_ms), STATUS_SUCCESS);
  EXPECT_EQ(again.information(), 0u);
  const int second = peer_accept(listener, timeout_ms);
  EXPECT_GE(second, 0);
  peer_close(second);
  peer_close(accepted);
  close_socket(s);
}

TEST_P(connecting, CancelledSocketConnectCompletesOnceWithNoSocket) {
  address local = loopback(family(), 0);
  address remote = loopback(family(), port);
  call c;
  c.returned =
      npi.Dispatch->WskSocketConnect(npi.Client, SOCK_STREAM, IPPROTO_TCP, &local.sa, &remote.sa, 0,
                                     nullptr, nullptr, nullptr, nullptr, nullptr, c.irp);
  EXPECT_EQ(c.returned, STATUS_PENDING);
  sleep_ms(300);
  EXPECT_FALSE(c.completed()) << "a connect whose SYN was dropped reported itself done";
  EXPECT_TRUE(IoCancelIrp(c.irp));
  EXPECT_EQ(c.wait(), STATUS_CANCELLED);
  EXPECT_EQ(c.information(), 0u) << "no socket is handed out";
}

} // namespace

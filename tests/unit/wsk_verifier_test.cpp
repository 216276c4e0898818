// Misuse the provider's verifier catches and names instead of crashing: a socket used after
// WskCloseSocket, the usual way drivers call it (through the socket's own Dispatch pointer),
// a socket closed twice (rule V30), and an IRP submitted again while it is pending (rule V14).
#include <gtest/gtest.h>

#include <wdm.h>
#include <wsk.h>

#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;

// IPv4 sockets; death tests run in a fresh process (the provider's loop threads exist).
struct verifier : wsk_fixture<4> {
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    wsk_fixture<4>::SetUp();
  }
};

// The socket's memory stays readable after the close, so the call reaches the provider, which
// names the rule: no crash from reading freed memory, no silent success.
TEST_F(verifier, ACallThroughAClosedSocketsDispatchIsReportedAsRuleV30) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_CONNECTION_SOCKET, SOCK_STREAM, IPPROTO_TCP);
  close_socket(s);
  buffer data("abc");
  call c;
  EXPECT_DEATH(static_cast<const WSK_PROVIDER_CONNECTION_DISPATCH *>(s->Dispatch)
                   ->WskSend(s, &data.wsk, 0, c.irp),
               "WskSend: .* is not an open WSK socket \\(it was closed; rule V30\\)(.|\n)*"
               "after WskCloseSocket(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
  PWSK_SOCKET d = make_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  close_socket(d);
  EXPECT_DEATH(static_cast<const WSK_PROVIDER_DATAGRAM_DISPATCH *>(d->Dispatch)
                   ->WskSendTo(d, &data.wsk, 0, nullptr, 0, nullptr, c.irp),
               "WskSendTo: .*it was closed; rule V30");
  EXPECT_DEATH(static_cast<const WSK_PROVIDER_BASIC_DISPATCH *>(d->Dispatch)
                   ->WskControlSocket(d, WskSetOption, SO_REUSEADDR, SOL_SOCKET, 0, nullptr, 0,
                                      nullptr, nullptr, nullptr),
               "WskControlSocket: .*it was closed; rule V30");
}

TEST_F(verifier, ASocketClosedTwiceIsReportedAsRuleV30) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET, SOCK_STREAM, IPPROTO_TCP);
  close_socket(s);
  EXPECT_DEATH(close_socket(s), "WskCloseSocket: .*it was closed; rule V30");
}

// The same IRP given to a second call while the first still holds it: with one stack location
// and with two (where the second call would otherwise find a free location and go on).
TEST_F(verifier, AnIrpSubmittedAgainWhilePendingIsReportedAsRuleV14) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET, SOCK_STREAM, IPPROTO_TCP);
  SOCKADDR_IN local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = RtlUlongByteSwap(INADDR_LOOPBACK);
  {
    call b;
    b.returned = static_cast<const WSK_PROVIDER_LISTEN_DISPATCH *>(s->Dispatch)
                     ->WskBind(s, reinterpret_cast<PSOCKADDR>(&local), 0, b.irp);
    ASSERT_EQ(b.wait(), STATUS_SUCCESS);
  }
  const auto *d = static_cast<const WSK_PROVIDER_LISTEN_DISPATCH *>(s->Dispatch);
  for (CCHAR locations : {1, 2}) {
    PIRP irp = IoAllocateIrp(locations, FALSE);
    KEVENT done;
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    IoSetCompletionRoutine(irp, call::on_complete, &done, TRUE, TRUE, TRUE);
    ASSERT_EQ(d->WskAccept(s, 0, nullptr, nullptr, nullptr, nullptr, irp), STATUS_PENDING);
    EXPECT_DEATH(d->WskAccept(s, 0, nullptr, nullptr, nullptr, nullptr, irp),
                 "verifier: rule V14 \\(error\\): a WSK function was given an IRP the "
                 "provider still holds(.|\n)*IRP [^ ]+ \\([12] stack locations(.|\n)*"
                 "DRIVER_VERIFIER_DETECTED_VIOLATION");
    EXPECT_TRUE(IoCancelIrp(irp));
    LARGE_INTEGER timeout;
    timeout.QuadPart = -static_cast<LONGLONG>(timeout_ms) * 10000;
    ASSERT_EQ(KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    EXPECT_EQ(irp->IoStatus.Status, STATUS_CANCELLED);
    // Completed: the IRP may be used again once reinitialised.
    IoReuseIrp(irp, STATUS_SUCCESS);
    IoFreeIrp(irp);
  }
  close_socket(s);
}

} // namespace

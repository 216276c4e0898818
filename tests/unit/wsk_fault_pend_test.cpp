// The pend fault (docs/faults.md) on the calls that finish during the call: WskBind,
// WskGetLocalAddress, WskGetRemoteAddress and WskControlSocket with an IRP return
// STATUS_PENDING and complete once, on a loop thread, with the status and Information they
// would have had inline; without the fault the same calls complete inline.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include <uwsk/faults.h>
#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;

// An IRP whose completion routine counts its runs and records the thread that ran it.
struct counted_call {
  PIRP irp = IoAllocateIrp(1, FALSE);
  KEVENT done;
  std::atomic<int> runs{0};
  std::thread::id completed_on;
  counted_call() {
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    irp->IoStatus.Status = static_cast<NTSTATUS>(0xdeadbeef);
    irp->IoStatus.Information = 0xdeadbeef;
    IoSetCompletionRoutine(irp, on_complete, this, TRUE, TRUE, TRUE);
  }
  ~counted_call() { IoFreeIrp(irp); }
  counted_call(const counted_call &) = delete;
  counted_call &operator=(const counted_call &) = delete;
  static NTSTATUS NTAPI on_complete(PDEVICE_OBJECT, PIRP, PVOID context) {
    auto *self = static_cast<counted_call *>(context);
    self->completed_on = std::this_thread::get_id();
    self->runs.fetch_add(1);
    KeSetEvent(&self->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
  // Waits (bounded) for the completion; the IRP's final status, or STATUS_TIMEOUT.
  NTSTATUS wait() {
    LARGE_INTEGER timeout = relative_ms(timeout_ms);
    if (KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, &timeout) == STATUS_TIMEOUT) {
      return STATUS_TIMEOUT;
    }
    return irp->IoStatus.Status;
  }
};

struct fault_pend : wsk_fixture<4> {
  // The plan is installed before the first socket, as docs/faults.md requires.
  void install(const char *spec) {
    char error[256];
    ASSERT_EQ(uwsk_faults_configure(spec, 7, error, sizeof error), 0) << error;
  }
  void TearDown() override {
    wsk_fixture<4>::TearDown();
    uwsk_faults_configure(nullptr, 0, nullptr, 0);
  }
};

// What a finished call's IRP looks like, and how the call returned.
void expect_pended(counted_call &c, NTSTATUS returned, NTSTATUS status) {
  EXPECT_EQ(returned, STATUS_PENDING);
  EXPECT_EQ(c.wait(), status);
  EXPECT_EQ(c.runs.load(), 1);
  EXPECT_NE(c.completed_on, std::this_thread::get_id()); // a loop thread completed it
  EXPECT_TRUE(c.irp->PendingReturned);
}

TEST_F(fault_pend, BindAddressQueriesAndControlPendAndCompleteOnceOnTheLoop) {
  install("pend=all");
  const std::uint64_t before = uwsk_faults_injected();
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  const auto *d = static_cast<const WSK_PROVIDER_LISTEN_DISPATCH *>(s->Dispatch);
  address local = loopback(4, 0);
  {
    counted_call c;
    const NTSTATUS returned = d->WskBind(s, &local.sa, 0, c.irp);
    expect_pended(c, returned, STATUS_SUCCESS);
    EXPECT_EQ(c.irp->IoStatus.Information, 0u);
  }
  SOCKADDR_IN bound;
  std::memset(&bound, 0xcc, sizeof bound);
  {
    counted_call c;
    const NTSTATUS returned = d->WskGetLocalAddress(s, reinterpret_cast<PSOCKADDR>(&bound), c.irp);
    expect_pended(c, returned, STATUS_SUCCESS);
    EXPECT_EQ(bound.sin_family, AF_INET);
    EXPECT_EQ(bound.sin_addr.s_addr, RtlUlongByteSwap(INADDR_LOOPBACK));
    EXPECT_NE(bound.sin_port, 0);
  }
  {
    // An option read: Information is the size written, as inline.
    counted_call c;
    ULONG value = 0xdeadbeef;
    const NTSTATUS returned = d->WskControlSocket(s, WskGetOption, SO_RCVBUF, SOL_SOCKET, 0,
                                                  nullptr, sizeof value, &value, nullptr, c.irp);
    expect_pended(c, returned, STATUS_SUCCESS);
    EXPECT_EQ(c.irp->IoStatus.Information, sizeof value);
    EXPECT_NE(value, 0xdeadbeefu);
    EXPECT_GT(value, 0u);
  }
  {
    // A failure pends too and keeps its status: SO_REUSEADDR after bind (rule V64).
    counted_call c;
    ULONG on = 1;
    const NTSTATUS returned = d->WskControlSocket(s, WskSetOption, SO_REUSEADDR, SOL_SOCKET,
                                                  sizeof on, &on, 0, nullptr, nullptr, c.irp);
    expect_pended(c, returned, STATUS_INVALID_DEVICE_STATE);
    EXPECT_EQ(c.irp->IoStatus.Information, 0u);
  }
  EXPECT_GE(uwsk_faults_injected() - before, 4u);
  close_socket(s);
}

TEST_F(fault_pend, RemoteAddressOfAConnectionPends) {
  install("pend=all");
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_NE(s, nullptr);
  const auto *d = static_cast<const WSK_PROVIDER_CONNECTION_DISPATCH *>(s->Dispatch);
  SOCKADDR_IN remote;
  std::memset(&remote, 0xcc, sizeof remote);
  counted_call c;
  const NTSTATUS returned = d->WskGetRemoteAddress(s, reinterpret_cast<PSOCKADDR>(&remote), c.irp);
  expect_pended(c, returned, STATUS_SUCCESS);
  EXPECT_EQ(remote.sin_family, AF_INET);
  EXPECT_NE(remote.sin_port, 0);
  close_socket(s);
  peer_close(peer);
}

TEST_F(fault_pend, WithoutTheFaultTheSameCallsCompleteInline) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  const auto *d = static_cast<const WSK_PROVIDER_LISTEN_DISPATCH *>(s->Dispatch);
  address local = loopback(4, 0);
  counted_call bind;
  EXPECT_EQ(d->WskBind(s, &local.sa, 0, bind.irp), STATUS_SUCCESS);
  EXPECT_EQ(bind.runs.load(), 1);
  EXPECT_EQ(bind.completed_on, std::this_thread::get_id());
  counted_call option;
  ULONG value = 0;
  EXPECT_EQ(d->WskControlSocket(s, WskGetOption, SO_RCVBUF, SOL_SOCKET, 0, nullptr, sizeof value,
                                &value, nullptr, option.irp),
            STATUS_SUCCESS);
  EXPECT_EQ(option.runs.load(), 1);
  EXPECT_EQ(option.irp->IoStatus.Information, sizeof value);
  close_socket(s);
}

} // namespace

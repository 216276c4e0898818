// Misuse drivers, one small case per verifier rule (docs/verifier.md points here for each rule's
// example). Every misuse runs in a child process (a GoogleTest death test, which forks and runs
// the test again up to the statement): the child must end the way the rule's severity says (an
// error: SIGABRT from the bug check; a warning: logged, the driver goes on, or SIGABRT under
// strict mode) and its log must name the rule.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdlib>

#include <uwsk/verifier.h>
#include <wdm.h>
#include <wsk.h>

#include "nt/dbg/activity.hpp"
#include "nt/dbg/verifier.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;
using ::testing::ExitedWithCode;
using ::testing::KilledBySignal;

// What an error rule's report looks like, for rule `n`.
std::string error_report(int n) {
  return "verifier: rule V" + std::to_string(n) +
         " \\(error\\): (.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION";
}
std::string warning_report(int n) {
  return "verifier: rule V" + std::to_string(n) + " \\(warning\\): ";
}
std::string strict_report(int n) {
  return "verifier: rule V" + std::to_string(n) +
         " \\(warning, stopping: --verify=strict\\): (.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION";
}

// Waits for the IRP's completion signal, bounded.
bool wait_event(KEVENT *e, int ms = timeout_ms) {
  LARGE_INTEGER timeout = relative_ms(ms);
  return KeWaitForSingleObject(e, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS;
}

struct verifier_rules : wsk_fixture<4> {
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    wsk_fixture<4>::SetUp();
  }
};

// ---- IRPs ---------------------------------------------------------------------------------

// V13: the IRP of a completed WskBind given to WskListen without IoReuseIrp.
TEST_F(verifier_rules, V13_CompletedIrpSubmittedAgainWithoutIoReuseIrp) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  address local = loopback(4, 0);
  call c;
  c.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskBind(s, &local.sa, 0, c.irp);
  ASSERT_EQ(c.wait(), STATUS_SUCCESS);
  // The report names the IRP and where IoAllocateIrp was called (support/wsk_call.hpp).
  EXPECT_EXIT(of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskBind(s, &local.sa, 0, c.irp),
              KilledBySignal(SIGABRT),
              "verifier: rule V13 \\(error\\): [^\n]*\n[^\n]*IRP [^ ]+ \\(1 stack locations, MDL "
              "[^ ]+\\) allocated by IoAllocateIrp from [^\n]* at [^\n]*wsk_call\\.hpp:[0-9]+"
              "(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
  // With IoReuseIrp in between the same IRP is fine (and fails only because it is bound).
  IoReuseIrp(c.irp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(c.irp, call::on_complete, &c.done, TRUE, TRUE, TRUE);
  KeClearEvent(&c.done);
  c.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskBind(s, &local.sa, 0, c.irp);
  EXPECT_NE(c.wait(), STATUS_TIMEOUT);
  close_socket(s);
}

// V10: a completion routine registered for success only.
TEST_F(verifier_rules, V10_CompletionRoutineWithOnlyInvokeOnSuccess) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  address local = loopback(4, 0);
  call c;
  IoSetCompletionRoutine(c.irp, call::on_complete, &c.done, TRUE, FALSE, FALSE);
  EXPECT_EXIT(of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskBind(s, &local.sa, 0, c.irp),
              KilledBySignal(SIGABRT), error_report(10));
  close_socket(s);
}

// V19: IoCancelIrp on a freed IRP (error), and on a completed one (warning: it may be a race).
TEST_F(verifier_rules, V19_CancelOfAFreedOrCompletedIrp) {
  EXPECT_EXIT(
      {
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoFreeIrp(irp);
        IoCancelIrp(irp);
      },
      KilledBySignal(SIGABRT), error_report(19));
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  address local = loopback(4, 0);
  call c;
  c.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskBind(s, &local.sa, 0, c.irp);
  ASSERT_EQ(c.wait(), STATUS_SUCCESS);
  EXPECT_EXIT(
      {
        const BOOLEAN cancelled = IoCancelIrp(c.irp);
        std::exit(cancelled ? 1 : 0);
      },
      ExitedWithCode(0), warning_report(19));
  EXPECT_EXIT(
      {
        uwsk_verifier_set_strict(1);
        IoCancelIrp(c.irp);
      },
      KilledBySignal(SIGABRT), strict_report(19));
  close_socket(s);
}

// V16: a pass-through completion routine that lets the completion go on after the IRP pended
// below it, without IoMarkIrpPending.
struct pass_through {
  DRIVER_OBJECT upper_driver{};
  DRIVER_OBJECT lower_driver{};
  PDEVICE_OBJECT upper = nullptr;
  PDEVICE_OBJECT lower = nullptr;
  static inline PIRP parked = nullptr;

  static NTSTATUS NTAPI forgets_mark(PDEVICE_OBJECT, PIRP, PVOID) {
    return STATUS_SUCCESS; // should have called IoMarkIrpPending: Irp->PendingReturned is set
  }
  static NTSTATUS NTAPI upper_dispatch(PDEVICE_OBJECT device, PIRP irp) {
    IoCopyCurrentIrpStackLocationToNext(irp);
    IoSetCompletionRoutine(irp, forgets_mark, nullptr, TRUE, TRUE, TRUE);
    return IoCallDriver(*static_cast<PDEVICE_OBJECT *>(device->DeviceExtension), irp);
  }
  static NTSTATUS NTAPI lower_dispatch(PDEVICE_OBJECT, PIRP irp) {
    IoMarkIrpPending(irp);
    parked = irp;
    return STATUS_PENDING;
  }
  static NTSTATUS NTAPI top_routine(PDEVICE_OBJECT, PIRP, PVOID) {
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
  void run() {
    upper_driver.MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = upper_dispatch;
    lower_driver.MajorFunction[IRP_MJ_INTERNAL_DEVICE_CONTROL] = lower_dispatch;
    ASSERT_EQ(IoCreateDevice(&lower_driver, 0, nullptr, FILE_DEVICE_UNKNOWN, 0, FALSE, &lower),
              STATUS_SUCCESS);
    ASSERT_EQ(IoCreateDevice(&upper_driver, sizeof(PDEVICE_OBJECT), nullptr, FILE_DEVICE_UNKNOWN, 0,
                             FALSE, &upper),
              STATUS_SUCCESS);
    *static_cast<PDEVICE_OBJECT *>(upper->DeviceExtension) = lower;
    PIRP irp = IoAllocateIrp(3, FALSE);
    IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_INTERNAL_DEVICE_CONTROL;
    IoSetCompletionRoutine(irp, top_routine, nullptr, TRUE, TRUE, TRUE);
    ASSERT_EQ(IoCallDriver(upper, irp), STATUS_PENDING);
    parked->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(parked, IO_NO_INCREMENT);
  }
};

TEST(verifier_irp, V16_PassThroughRoutineWithoutIoMarkIrpPending) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(pass_through{}.run(), KilledBySignal(SIGABRT), error_report(16));
}

// V17: 200 sends, each started from the completion routine of the one before.
struct send_chain {
  PWSK_SOCKET socket = nullptr;
  buffer data{1, 'x'};
  int left = 200;
  KEVENT done;
  static NTSTATUS NTAPI step(PDEVICE_OBJECT, PIRP irp, PVOID context) {
    auto *c = static_cast<send_chain *>(context);
    if (--c->left == 0 || !NT_SUCCESS(irp->IoStatus.Status)) {
      KeSetEvent(&c->done, IO_NO_INCREMENT, FALSE);
      return STATUS_MORE_PROCESSING_REQUIRED;
    }
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(irp, step, c, TRUE, TRUE, TRUE);
    of<WSK_PROVIDER_CONNECTION_DISPATCH>(c->socket)->WskSend(c->socket, &c->data.wsk, 0, irp);
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
  // Starts the chain and waits for its end; exits 0 when all 200 went through.
  [[noreturn]] void run_and_exit() {
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    PIRP irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, step, this, TRUE, TRUE, TRUE);
    of<WSK_PROVIDER_CONNECTION_DISPATCH>(socket)->WskSend(socket, &data.wsk, 0, irp);
    std::exit(wait_event(&done) && left == 0 ? 0 : 1);
  }
};

TEST_F(verifier_rules, V17_SendsStartedFromCompletionRoutinesWithoutBound) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  send_chain chain;
  chain.socket = s;
  EXPECT_EXIT(chain.run_and_exit(), ExitedWithCode(0), warning_report(17));
  EXPECT_EXIT(
      {
        uwsk_verifier_set_strict(1);
        chain.run_and_exit();
      },
      KilledBySignal(SIGABRT), strict_report(17));
  close_socket(s);
  peer_close(peer);
}

// ---- Sockets ------------------------------------------------------------------------------

// V30: the usual call through the socket's own Dispatch after WskCloseSocket.
TEST_F(verifier_rules, V30_CallThroughTheDispatchOfAClosedSocket) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  close_socket(s);
  buffer data("abc");
  call c;
  EXPECT_EXIT(of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskSend(s, &data.wsk, 0, c.irp),
              KilledBySignal(SIGABRT), error_report(30));
}

// V55: the same call on a socket that WskAcceptEvent refused.
std::atomic<PWSK_SOCKET> refused_socket{nullptr};
NTSTATUS WSKAPI refuse(PVOID, ULONG, PSOCKADDR, PSOCKADDR, PWSK_SOCKET socket, PVOID *,
                       const WSK_CLIENT_CONNECTION_DISPATCH **) {
  if (socket != nullptr) {
    refused_socket.store(socket);
  }
  return STATUS_REQUEST_NOT_ACCEPTED;
}
const WSK_CLIENT_LISTEN_DISPATCH refusing_listener = {refuse, nullptr, nullptr};

struct verifier_accept : verifier_rules {
  verifier_accept() { listen_events = &refusing_listener; }
};

TEST_F(verifier_accept, V55_CallOnASocketTheAcceptEventRefused) {
  unsigned short port = 0;
  PWSK_SOCKET listener = bound_listener(&port);
  ASSERT_EQ(set_events(listener, WSK_EVENT_ACCEPT), STATUS_SUCCESS);
  EXPECT_EXIT(
      {
        const int peer = peer_connect(4, port, timeout_ms);
        for (int i = 0; i < 500 && refused_socket.load() == nullptr; ++i) {
          LARGE_INTEGER pause = relative_ms(10);
          KeDelayExecutionThread(KernelMode, FALSE, &pause);
        }
        PWSK_SOCKET s = refused_socket.load();
        if (peer < 0 || s == nullptr) {
          std::exit(2);
        }
        buffer data("abc");
        call c;
        of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskSend(s, &data.wsk, 0, c.irp);
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V55 \\(error\\): [^\n]*\n[^\n]*socket [^ ]+ \\(local 127\\.0\\.0\\.1:[0-9]+, "
      "remote 127\\.0\\.0\\.1:[0-9]+\\)(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
  close_socket(listener);
}

// V33: a WSK_BUF with a length and no MDL: the documented status, and the rule in the log.
TEST_F(verifier_rules, V33_WskBufWithALengthAndNoMdl) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto send_without_mdl = [s] {
    WSK_BUF none = {nullptr, 0, 3};
    call c;
    c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskSend(s, &none, 0, c.irp);
    std::exit(c.returned == STATUS_INVALID_PARAMETER ? 0 : 1);
  };
  EXPECT_EXIT(send_without_mdl(), ExitedWithCode(0), warning_report(33));
  close_socket(s);
  peer_close(peer);
}

// V39: WSK_FLAG_WAITALL with WSK_FLAG_DRAIN.
TEST_F(verifier_rules, V39_WaitAllWithDrain) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  EXPECT_EXIT(
      {
        buffer some(std::size_t{4});
        call c;
        c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(
            s, &some.wsk, WSK_FLAG_WAITALL | WSK_FLAG_DRAIN, c.irp);
        std::exit(c.returned == STATUS_INVALID_PARAMETER ? 0 : 1);
      },
      ExitedWithCode(0), warning_report(39));
  close_socket(s);
  peer_close(peer);
}

// V40: an address out-buffer from pool, 8 bytes, for an IPv4 address (16).
void *short_pool_buffer() {
  // The verifier can read a block's header only when it shares the block's page; pick such a
  // block (nearly all are).
  for (int i = 0; i < 16; ++i) {
    void *p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, 'rbsV');
    if ((reinterpret_cast<ULONG_PTR>(p) & (PAGE_SIZE - 1)) >= 64) {
      return p;
    }
  }
  return nullptr;
}

TEST_F(verifier_rules, V40_ShortAddressOutBufferFromPool) {
  PWSK_SOCKET s = make_bound_socket(WSK_FLAG_LISTEN_SOCKET);
  EXPECT_EXIT(
      {
        auto *out = static_cast<PSOCKADDR>(short_pool_buffer());
        call c;
        of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskGetLocalAddress(s, out, c.irp);
        std::exit(out == nullptr ? 2 : 1);
      },
      KilledBySignal(SIGABRT),
      "rule V40 \\(error\\): [^\n]*\n[^\n]*WskGetLocalAddress: out-buffer [^ ]+, a pool block of "
      "8 bytes; the socket's family needs 16(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
  close_socket(s);
}

// V68: OutputSizeReturned given with an IRP (a warning; the call goes on).
TEST_F(verifier_rules, V68_OutputSizeReturnedWithAnIrp) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  EXPECT_EXIT(
      {
        ULONG value = 0;
        SIZE_T returned = 0;
        call c;
        c.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
            s, WskGetOption, SO_RCVBUF, SOL_SOCKET, 0, nullptr, sizeof(value), &value, &returned,
            c.irp);
        std::exit(c.wait() == STATUS_SUCCESS ? 0 : 1);
      },
      ExitedWithCode(0), warning_report(68));
  close_socket(s);
}

// V71: ExFreePool on a list WskGetAddressInfo returned.
TEST_F(verifier_rules, V71_ExFreePoolOnAnAddressInfoResult) {
  const auto resolve_and_free = [this] {
    static WCHAR node_text[] = {'1', '2', '7', '.', '0', '.', '0', '.', '1', 0};
    UNICODE_STRING node;
    RtlInitUnicodeString(&node, node_text);
    PADDRINFOEXW result = nullptr;
    call c;
    c.returned = npi.Dispatch->WskGetAddressInfo(npi.Client, &node, nullptr, NS_ALL, nullptr,
                                                 nullptr, &result, nullptr, nullptr, c.irp);
    if (c.wait() != STATUS_SUCCESS || result == nullptr) {
      std::exit(2);
    }
    ExFreePool(result);
  };
  EXPECT_EXIT(resolve_and_free(), KilledBySignal(SIGABRT), error_report(71));
}

// V73: WskGetNameInfo with both outputs NULL (the documented status, and the rule in the log).
TEST_F(verifier_rules, V73_GetNameInfoWithoutOutputs) {
  EXPECT_EXIT(
      {
        address a = loopback(4, 80);
        call c;
        c.returned = npi.Dispatch->WskGetNameInfo(npi.Client, &a.sa, sizeof(a.v4), nullptr, nullptr,
                                                  0, nullptr, nullptr, c.irp);
        std::exit(c.wait() == STATUS_INVALID_PARAMETER ? 0 : 1);
      },
      ExitedWithCode(0), warning_report(73));
}

// ---- Rejections with a documented status, and the rule in the log ------------------------

// V36: a connection socket reached through a datagram socket's dispatch table.
TEST_F(verifier_rules, V36_SocketReachedThroughAnotherCategorysTable) {
  PWSK_SOCKET connection = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  PWSK_SOCKET datagram = make_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  // The datagram socket's table kept and used for the connection socket.
  const auto *datagram_table = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(datagram);
  EXPECT_EXIT(
      {
        buffer data("x");
        address to = loopback(4, 9);
        call c;
        c.returned = datagram_table->WskSendTo(connection, &data.wsk, 0, &to.sa, 0, nullptr, c.irp);
        std::exit(c.returned == STATUS_NOT_SUPPORTED ? 0 : 1);
      },
      ExitedWithCode(0), warning_report(36));
  close_socket(datagram);
  close_socket(connection);
}

// V37: WskGetLocalAddress on a listening socket that was never bound.
TEST_F(verifier_rules, V37_LocalAddressOfAnUnboundSocket) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  EXPECT_EXIT(
      {
        address local;
        call c;
        c.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskGetLocalAddress(s, &local.sa, c.irp);
        std::exit(c.wait() == STATUS_INVALID_DEVICE_STATE ? 0 : 1);
      },
      ExitedWithCode(0), warning_report(37));
  close_socket(s);
}

// V38: WskSendTo with a reserved Flags bit set.
TEST_F(verifier_rules, V38_SendToWithReservedFlags) {
  PWSK_SOCKET s = make_bound_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  EXPECT_EXIT(
      {
        buffer data("x");
        address to = loopback(4, 9);
        call c;
        c.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskSendTo(s, &data.wsk, 1, &to.sa, 0,
                                                                      nullptr, c.irp);
        std::exit(c.returned == STATUS_INVALID_PARAMETER ? 0 : 1);
      },
      ExitedWithCode(0), warning_report(38));
  close_socket(s);
}

// SO_WSK_EVENT_CALLBACK with `mask`, with or without an IRP: the status WskControlSocket returns.
NTSTATUS set_event_mask(PWSK_SOCKET s, ULONG mask, bool with_irp) {
  WSK_EVENT_CALLBACK_CONTROL control = {&NPI_WSK_INTERFACE_ID, mask};
  call c;
  return of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
      s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control), &control, 0, nullptr,
      nullptr, with_irp ? c.irp : nullptr);
}

// V60: enabling an event with an IRP; disabling two events at once.
TEST_F(verifier_rules, V60_EnableWithAnIrpOrDisableOfTwoEvents) {
  PWSK_SOCKET s = make_bound_socket(WSK_FLAG_CONNECTION_SOCKET);
  EXPECT_EXIT(
      std::exit(set_event_mask(s, WSK_EVENT_RECEIVE, true) == STATUS_INVALID_PARAMETER ? 0 : 1),
      ExitedWithCode(0), warning_report(60));
  EXPECT_EXIT(
      std::exit(set_event_mask(s, WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT,
                               false) == STATUS_INVALID_PARAMETER
                    ? 0
                    : 1),
      ExitedWithCode(0), warning_report(60));
  close_socket(s);
}

// V61: enabling a datagram event on a connection socket.
TEST_F(verifier_rules, V61_EnableOfAnotherCategorysEvent) {
  PWSK_SOCKET s = make_bound_socket(WSK_FLAG_CONNECTION_SOCKET);
  EXPECT_EXIT(std::exit(set_event_mask(s, WSK_EVENT_RECEIVE_FROM, false) == STATUS_INVALID_PARAMETER
                            ? 0
                            : 1),
              ExitedWithCode(0), warning_report(61));
  close_socket(s);
}

// V63: a client-level setting (WSK_TDI_BEHAVIOR) after the client created a socket.
TEST_F(verifier_rules, V63_ClientSettingAfterTheFirstSocket) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  EXPECT_EXIT(
      {
        ULONG behavior = 0;
        const NTSTATUS status =
            npi.Dispatch->WskControlClient(npi.Client, WSK_TDI_BEHAVIOR, sizeof(behavior),
                                           &behavior, 0, nullptr, nullptr, nullptr);
        std::exit(status == STATUS_INVALID_DEVICE_STATE ? 0 : 1);
      },
      ExitedWithCode(0), warning_report(63));
  close_socket(s);
}

// V64: SO_REUSEADDR set after bind.
TEST_F(verifier_rules, V64_ReuseAddressSetAfterBind) {
  PWSK_SOCKET s = make_bound_socket(WSK_FLAG_CONNECTION_SOCKET);
  EXPECT_EXIT(
      {
        ULONG on = 1;
        call c;
        c.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
            s, WskSetOption, SO_REUSEADDR, SOL_SOCKET, sizeof(on), &on, 0, nullptr, nullptr, c.irp);
        std::exit(c.wait() == STATUS_INVALID_DEVICE_STATE ? 0 : 1);
      },
      ExitedWithCode(0), warning_report(64));
  close_socket(s);
}

// V65: a socket option read without an IRP (every option but SO_WSK_EVENT_CALLBACK needs one).
TEST_F(verifier_rules, V65_OptionWithoutAnIrp) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  EXPECT_EXIT(
      {
        ULONG value = 0;
        SIZE_T returned = 0;
        const NTSTATUS status = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
            s, WskGetOption, SO_RCVBUF, SOL_SOCKET, 0, nullptr, sizeof(value), &value, &returned,
            nullptr);
        std::exit(status == STATUS_INVALID_PARAMETER ? 0 : 1);
      },
      ExitedWithCode(0), warning_report(65));
  close_socket(s);
}

// V66: WskSocket with a security descriptor WSK_CACHE_SD never returned.
TEST_F(verifier_rules, V66_SecurityDescriptorNotFromTheCache) {
  EXPECT_EXIT(
      {
        static UCHAR not_cached[64];
        call c;
        c.returned = npi.Dispatch->WskSocket(npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                             WSK_FLAG_LISTEN_SOCKET, nullptr, nullptr, nullptr,
                                             nullptr, not_cached, c.irp);
        std::exit(c.wait() == STATUS_INVALID_PARAMETER ? 0 : 1);
      },
      ExitedWithCode(0), warning_report(66));
}

// ---- Kernel support -----------------------------------------------------------------------

// V80: ExAllocatePool2 with tag 0 (a warning: it returns NULL), ExFreePoolWithTag with another
// tag (BAD_POOL_CALLER naming the rule and the block).
TEST(verifier_kernel, V80_PoolTagZeroAndWrongTag) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::exit(ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 0) == nullptr ? 0 : 1),
              ExitedWithCode(0), warning_report(80));
  EXPECT_EXIT(
      {
        void *p = ExAllocatePool2(POOL_FLAG_NON_PAGED, 16, 'tseT');
        ExFreePoolWithTag(p, 'gnrW');
      },
      KilledBySignal(SIGABRT),
      "rule V80 \\(error\\): ExFreePoolWithTag with tag 'Wrng', not the tag the block was "
      "allocated with\n[^\n]*pool block [^ ]+ \\(tag 'Test', 16 bytes\\)(.|\n)*BAD_POOL_CALLER");
}

// V84: KeReleaseSpinLock with an IRQL other than the one KeAcquireSpinLock returned, and
// IoCompleteRequest while holding a spin lock.
TEST(verifier_kernel, V84_SpinLockReleasedWithAnotherIrqlOrHeldOverACompletion) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        KSPIN_LOCK lock;
        KeInitializeSpinLock(&lock);
        KIRQL old;
        KeAcquireSpinLock(&lock, &old);
        KeReleaseSpinLock(&lock, DISPATCH_LEVEL);
      },
      KilledBySignal(SIGABRT), error_report(84));
  EXPECT_EXIT(
      {
        KSPIN_LOCK lock;
        KeInitializeSpinLock(&lock);
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoSetCompletionRoutine(irp, call::on_complete, nullptr, TRUE, TRUE, TRUE);
        IoSetNextIrpStackLocation(irp);
        KIRQL old;
        KeAcquireSpinLock(&lock, &old);
        irp->IoStatus.Status = STATUS_SUCCESS;
        IoCompleteRequest(irp, IO_NO_INCREMENT);
      },
      KilledBySignal(SIGABRT), "rule V84 \\(error\\): IoCompleteRequest while holding a spin lock");
}

// V84's IRQL check costs nothing (the lock word keeps the IRQL its acquire returned), so it stays
// with the verifier's bookkeeping off; the report gives both IRQLs.
TEST(verifier_kernel, V84_CheckedWithTheBookkeepingOff) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto release_lower = [] {
    setenv("UWSK_VERIFY", "off", 1);
    if (!uwsk::nt::verifier::bookkeeping_off()) {
      std::exit(3); // the mode was read before this child set it
    }
    KSPIN_LOCK lock;
    KeInitializeSpinLock(&lock);
    KIRQL apc;
    KeRaiseIrql(APC_LEVEL, &apc);
    KIRQL old;
    KeAcquireSpinLock(&lock, &old);
    KeReleaseSpinLock(&lock, PASSIVE_LEVEL);
  };
  EXPECT_EXIT(release_lower(), KilledBySignal(SIGABRT),
              "rule V84 \\(error\\): (.|\n)*KeReleaseSpinLock\\([^,]+, 0\\): KeAcquireSpinLock "
              "returned 1(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
}

// Not V84: a driver may cancel its pending WSK IRP while it holds its own spin lock (IoCancelIrp is
// legal up to DISPATCH_LEVEL), and the provider then completes the IRP on that thread, under that
// lock. Only a completion the driver itself makes under a spin lock breaks the rule.
TEST_F(verifier_rules, V84_NotForACancelMadeUnderTheDriversSpinLock) {
  unsigned short port = 0;
  PWSK_SOCKET s = bound_listener(&port);
  call accept;
  accept.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskAccept(s, 0, nullptr, nullptr, nullptr,
                                                                   nullptr, accept.irp);
  ASSERT_EQ(accept.returned, STATUS_PENDING);
  KSPIN_LOCK lock;
  KeInitializeSpinLock(&lock);
  KIRQL old;
  KeAcquireSpinLock(&lock, &old);
  IoCancelIrp(accept.irp);
  KeReleaseSpinLock(&lock, old);
  EXPECT_EQ(accept.wait(), STATUS_CANCELLED);
  EXPECT_EQ(accept.information(), 0u);
  close_socket(s);
}

// V34: MmBuildMdlForNonPagedPool on a stack buffer.
TEST(verifier_kernel, V34_NonPagedPoolMdlForAStackBuffer) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto build = [] {
    UCHAR on_stack[64];
    PMDL mdl = IoAllocateMdl(on_stack, sizeof(on_stack), FALSE, FALSE, nullptr);
    MmBuildMdlForNonPagedPool(mdl);
    IoFreeMdl(mdl);
  };
  EXPECT_EXIT(build(), KilledBySignal(SIGABRT), error_report(34));
}

// V83: a UserMode wait on an event on the stack (a warning; strict mode stops).
TEST(verifier_kernel, V83_UserModeWaitOnAStackEvent) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto wait = [] {
    KEVENT on_stack;
    KeInitializeEvent(&on_stack, NotificationEvent, TRUE);
    std::exit(KeWaitForSingleObject(&on_stack, Executive, UserMode, FALSE, nullptr) ==
                      STATUS_SUCCESS
                  ? 0
                  : 1);
  };
  EXPECT_EXIT(wait(), ExitedWithCode(0), warning_report(83));
  EXPECT_EXIT(
      {
        uwsk_verifier_set_strict(1);
        wait();
      },
      KilledBySignal(SIGABRT), strict_report(83));
}

// V54: a receive-from event refused with STATUS_DATA_NOT_ACCEPTED (which disables it) and never
// enabled again before the close.
std::atomic<int> refusals{0};
NTSTATUS WSKAPI refuse_datagrams(PVOID, ULONG, PWSK_DATAGRAM_INDICATION) {
  refusals.fetch_add(1);
  return STATUS_DATA_NOT_ACCEPTED;
}
const WSK_CLIENT_DATAGRAM_DISPATCH refusing_datagrams = {refuse_datagrams};

struct verifier_datagram : verifier_rules {
  verifier_datagram() { datagram_events = &refusing_datagrams; }
};

TEST_F(verifier_datagram, V54_ReceiveFromEventRefusedAndNeverEnabledAgain) {
  const auto refuse_then_close = [this] {
    PWSK_SOCKET s = make_bound_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
    address local;
    call a;
    of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskGetLocalAddress(s, &local.sa, a.irp);
    if (a.wait() != STATUS_SUCCESS || set_events(s, WSK_EVENT_RECEIVE_FROM) != STATUS_SUCCESS) {
      std::exit(2);
    }
    unsigned short peer_port = 0;
    const int peer = peer_udp(4, &peer_port);
    peer_udp_send(peer, 4, port_of(local), "x", 1);
    for (int i = 0; i < 500 && refusals.load() == 0; ++i) {
      LARGE_INTEGER pause = relative_ms(10);
      KeDelayExecutionThread(KernelMode, FALSE, &pause);
    }
    if (refusals.load() == 0) {
      std::exit(3);
    }
    close_socket(s);
    std::exit(0);
  };
  EXPECT_EXIT(refuse_then_close(), ExitedWithCode(0), warning_report(54));
}

// ---- Registration -------------------------------------------------------------------------

// V7: WSK_CLIENT_DISPATCH.Reserved = 1.
TEST(verifier_registration, V7_ClientDispatchReservedNotZero) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  static const WSK_CLIENT_DISPATCH reserved_set = {MAKE_WSK_VERSION(1, 0), 1, nullptr};
  const auto register_it = [] {
    WSK_CLIENT_NPI client = {nullptr, &reserved_set};
    WSK_REGISTRATION registration{};
    WskRegister(&client, &registration);
  };
  EXPECT_EXIT(register_it(), KilledBySignal(SIGABRT), error_report(7));
}

// V1: the client dispatch overwritten while registered.
TEST(verifier_registration, V1_ClientDispatchChangedWhileRegistered) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  static WSK_CLIENT_DISPATCH changing = {MAKE_WSK_VERSION(1, 0), 0, nullptr};
  EXPECT_EXIT(
      {
        wsk_client client;
        client.attach(&changing);
        changing.Version = MAKE_WSK_VERSION(2, 0);
        client.make_socket(AF_INET, WSK_FLAG_LISTEN_SOCKET);
      },
      KilledBySignal(SIGABRT), error_report(1));
}

// V3: WskSocket through the NPI of a client that released it and deregistered.
TEST(verifier_registration, V3_WskSocketThroughAReleasedDeregisteredNpi) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        wsk_client client;
        client.attach();
        client.detach();
        client.make_socket(AF_INET, WSK_FLAG_LISTEN_SOCKET);
      },
      KilledBySignal(SIGABRT), "rule V3 \\(error\\): [^\n]*released it and deregistered");
  EXPECT_EXIT(
      {
        wsk_client client;
        client.attach();
        WskReleaseProviderNPI(&client.registration);
        client.make_socket(AF_INET, WSK_FLAG_LISTEN_SOCKET);
      },
      KilledBySignal(SIGABRT), error_report(3));
}

// V5: an infinite capture wait in DriverEntry (a warning; strict mode stops).
TEST(verifier_registration, V5_InfiniteCaptureWaitInDriverEntry) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto driver_entry = [] {
    uwsk::nt::activity::scope entry(uwsk::nt::activity::driver_entry, nullptr);
    WSK_CLIENT_NPI client = {nullptr, &client_dispatch};
    WSK_REGISTRATION registration{};
    WSK_PROVIDER_NPI npi{};
    if (WskRegister(&client, &registration) != STATUS_SUCCESS ||
        WskCaptureProviderNPI(&registration, WSK_INFINITE_WAIT, &npi) != STATUS_SUCCESS) {
      std::exit(1);
    }
    WskReleaseProviderNPI(&registration);
    WskDeregister(&registration);
    std::exit(0);
  };
  EXPECT_EXIT(driver_entry(), ExitedWithCode(0), warning_report(5));
  EXPECT_EXIT(
      {
        uwsk_verifier_set_strict(1);
        driver_entry();
      },
      KilledBySignal(SIGABRT), strict_report(5));
}

} // namespace

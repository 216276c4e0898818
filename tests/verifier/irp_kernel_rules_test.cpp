// Misuse drivers for the verifier's IRP, registration and kernel rules (docs/verifier.md points
// here for each rule's example), one small case per rule. As in verifier_rules_test.cpp, every
// misuse runs in a child process (a GoogleTest death test) that must end as the rule's severity
// says, with a log naming the rule; the cases that must not be reported run in the test itself,
// where a report would stop the whole test. Rules about DriverEntry and DriverUnload (V2, V35 in
// C) are drivers under uwsk-run (drivers/, CMakeLists.txt).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <uwsk/host.h>
#include <uwsk/verifier.h>
#include <wdm.h>
#include <wsk.h>

#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;
using ::testing::ExitedWithCode;
using ::testing::KilledBySignal;

// What the report of an error rule `n` looks like, the bug check following it being `bugcheck`.
std::string error_report(int n, const char *bugcheck = "DRIVER_VERIFIER_DETECTED_VIOLATION") {
  return "verifier: rule V" + std::to_string(n) + " \\(error\\): (.|\n)*" + bugcheck;
}
std::string warning_report(int n) {
  return "verifier: rule V" + std::to_string(n) + " \\(warning\\): ";
}
std::string strict_report(int n) {
  return "verifier: rule V" + std::to_string(n) +
         " \\(warning, stopping: --verify=strict\\): (.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION";
}

struct irp_rules : wsk_fixture<4> {
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    wsk_fixture<4>::SetUp();
  }
};

// A raw IoAllocateIrp IRP with `routine` as its creator's completion routine.
PIRP irp_with(PIO_COMPLETION_ROUTINE routine, PVOID context = nullptr) {
  PIRP irp = IoAllocateIrp(1, FALSE);
  IoSetCompletionRoutine(irp, routine, context, TRUE, TRUE, TRUE);
  return irp;
}

// ---- IRPs ---------------------------------------------------------------------------------

// V11: the creator's completion routine returns STATUS_SUCCESS, not
// STATUS_MORE_PROCESSING_REQUIRED; the report names the routine.
NTSTATUS NTAPI returns_success(PDEVICE_OBJECT, PIRP, PVOID) {
  return STATUS_SUCCESS;
}

TEST_F(irp_rules, V11_CreatorsRoutineDoesNotStopTheWalk) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  address local = loopback(4, 0);
  EXPECT_EXIT(
      of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskBind(s, &local.sa, 0, irp_with(returns_success)),
      KilledBySignal(SIGABRT),
      "verifier: rule V11 \\(error\\): the completion routine of the IRP's creator returned "
      "0x00000000, not STATUS_MORE_PROCESSING_REQUIRED[^\n]*\n[^\n]*IRP [^ ]+, completion "
      "routine [^\n]*returns_success(.|\n)*STOP: 0x000000C4 \\(0x0000000000001611");
  close_socket(s);
}

// V12: an IRP whose only stack location the driver took itself (IoSetNextIrpStackLocation)
// given to WskBind: the rule, then NO_MORE_IRP_STACK_LOCATIONS as on Windows.
TEST_F(irp_rules, V12_IrpWithNoFreeStackLocation) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  address local = loopback(4, 0);
  EXPECT_EXIT(
      {
        PIRP irp = irp_with(call::on_complete);
        IoSetNextIrpStackLocation(irp);
        of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskBind(s, &local.sa, 0, irp);
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V12 \\(error\\): a WSK function was given an IRP with no free stack "
      "location[^\n]*\n[^\n]*IRP [^ ]+ \\(1 stack locations(.|\n)*NO_MORE_IRP_STACK_LOCATIONS");
  close_socket(s);
}

// V15: IoFreeIrp on an IRP the provider holds (a pending WskAccept), and a freed IRP given to a
// WSK function.
TEST_F(irp_rules, V15_FreeOfAPendingIrpAndUseOfAFreedOne) {
  unsigned short port = 0;
  PWSK_SOCKET s = bound_listener(&port);
  EXPECT_EXIT(
      {
        PIRP irp = irp_with(call::on_complete);
        if (of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskAccept(s, 0, nullptr, nullptr, nullptr, nullptr,
                                                           irp) != STATUS_PENDING) {
          std::exit(2);
        }
        IoFreeIrp(irp);
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V15 \\(error\\): IoFreeIrp on an IRP that is still pending[^\n]*\n[^\n]*"
      "IRP [^ ]+ \\(1 stack locations(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
  PWSK_SOCKET other = make_socket(WSK_FLAG_LISTEN_SOCKET);
  address local = loopback(4, 0);
  EXPECT_EXIT(
      {
        PIRP irp = irp_with(call::on_complete);
        IoFreeIrp(irp);
        of<WSK_PROVIDER_LISTEN_DISPATCH>(other)->WskBind(other, &local.sa, 0, irp);
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V15 \\(error\\): a WSK function was given an IRP that is freed" +
          std::string("(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION"));
  close_socket(other);
  close_socket(s);
}

// V18: the buffers of a pending WskReceive: a pool buffer freed, its MDL freed, and a buffer on a
// stack frame that returned before its thread waited. Then the patterns that are fine.
struct pool_receive {
  static constexpr ULONG size = 64;
  void *block = ExAllocatePool2(POOL_FLAG_NON_PAGED, size, 'fubV');
  PMDL mdl = IoAllocateMdl(block, size, FALSE, FALSE, nullptr);
  WSK_BUF wsk{};
  pool_receive() {
    MmBuildMdlForNonPagedPool(mdl);
    wsk = {mdl, 0, size};
  }
  // The completion routine of the usual pattern: it frees the buffer and the MDL itself.
  static NTSTATUS NTAPI free_in_routine(PDEVICE_OBJECT, PIRP irp, PVOID context) {
    auto *r = static_cast<pool_receive *>(context);
    IoFreeMdl(r->mdl);
    ExFreePoolWithTag(r->block, 'fubV');
    IoFreeIrp(irp);
    r->freed.store(true);
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
  std::atomic<bool> freed{false};
};

TEST_F(irp_rules, V18_PoolBufferOrMdlOfAPendingReceiveFreed) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  EXPECT_EXIT(
      {
        pool_receive r;
        call c;
        if (of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &r.wsk, 0, c.irp) !=
            STATUS_PENDING) {
          std::exit(2);
        }
        ExFreePoolWithTag(r.block, 'fubV');
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V18 \\(error\\): ExFreePool freed memory that a pending IRP still uses as "
      "its buffer[^\n]*\n[^\n]*IRP [^ ]+ \\(1 stack locations, [^\n]*; buffer [^ ]+ \\(64 "
      "bytes\\); pool block [^ ]+ \\(tag 'Vbuf', 64 bytes\\)"
      "(.|\n)*STOP: 0x000000C4 \\(0x0000000000001618");
  EXPECT_EXIT(
      {
        pool_receive r;
        call c;
        if (of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &r.wsk, 0, c.irp) !=
            STATUS_PENDING) {
          std::exit(2);
        }
        IoFreeMdl(r.mdl);
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V18 \\(error\\): IoFreeMdl freed memory that a pending IRP still uses"
      "[^\n]*\n[^\n]*; MDL 0x");
  // Fine: the completion routine frees the buffer once the data came.
  auto *r = new pool_receive;
  PIRP irp = irp_with(pool_receive::free_in_routine, r);
  EXPECT_EQ(of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &r->wsk, 0, irp),
            STATUS_PENDING);
  ASSERT_TRUE(peer_send_all(peer, "data", 4, timeout_ms));
  for (int i = 0; i < 500 && !r->freed.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(r->freed.load());
  delete r;
  close_socket(s);
  peer_close(peer);
}

// V18 with an IRP reused the way drivers reuse theirs: the same IRP, MDL and buffer received into
// again and again. Once a receive completed, its buffer is the driver's again, whichever buffer
// the IRP used before; only the buffer of the receive now pending is reported.
TEST_F(irp_rules, V18_ReusedIrpReportsOnlyItsPendingBuffer) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto receive_once = [&](call &c, pool_receive &r, const char *data) {
    IoReuseIrp(c.irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(c.irp, call::on_complete, &c.done, TRUE, TRUE, TRUE);
    KeClearEvent(&c.done);
    ASSERT_EQ(of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &r.wsk, 0, c.irp),
              STATUS_PENDING);
    ASSERT_TRUE(peer_send_all(peer, data, std::strlen(data), timeout_ms));
    ASSERT_EQ(c.wait(), STATUS_SUCCESS);
    ASSERT_EQ(c.information(), std::strlen(data));
    ASSERT_EQ(std::memcmp(r.block, data, std::strlen(data)), 0);
  };
  {
    call c;
    auto *first = new pool_receive;
    for (int i = 0; i < 3; ++i) {
      receive_once(c, *first, i == 0 ? "one" : i == 1 ? "two" : "six");
    }
    // Completed: the driver frees the buffer and MDL the IRP used three times; not reported.
    IoFreeMdl(first->mdl);
    ExFreePoolWithTag(first->block, 'fubV');
    delete first;
    // The same IRP with another buffer, then the same memory again, freed after completion.
    auto *second = new pool_receive;
    receive_once(c, *second, "ten");
    IoFreeMdl(second->mdl);
    ExFreePoolWithTag(second->block, 'fubV');
    delete second;
  }
  // A reused IRP's earlier buffer freed while its new receive pends: not reported; the new
  // buffer freed: reported.
  EXPECT_EXIT(
      {
        call c;
        pool_receive earlier;
        pool_receive now;
        IoReuseIrp(c.irp, STATUS_UNSUCCESSFUL);
        IoSetCompletionRoutine(c.irp, call::on_complete, &c.done, TRUE, TRUE, TRUE);
        if (of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &earlier.wsk, 0, c.irp) !=
                STATUS_PENDING ||
            !peer_send_all(peer, "x", 1, timeout_ms) || c.wait() != STATUS_SUCCESS) {
          std::exit(2);
        }
        IoReuseIrp(c.irp, STATUS_UNSUCCESSFUL);
        IoSetCompletionRoutine(c.irp, call::on_complete, &c.done, TRUE, TRUE, TRUE);
        KeClearEvent(&c.done);
        if (of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &now.wsk, 0, c.irp) !=
            STATUS_PENDING) {
          std::exit(3);
        }
        IoFreeMdl(earlier.mdl);
        ExFreePoolWithTag(earlier.block, 'fubV');
        std::fputs("earlier buffer freed\n", stderr);
        ExFreePoolWithTag(now.block, 'fubV');
      },
      KilledBySignal(SIGABRT),
      "earlier buffer freed\n(.|\n)*verifier: rule V18 \\(error\\): ExFreePool freed memory "
      "that a pending IRP still uses");
  close_socket(s);
  peer_close(peer);
}

// V18 for an IRP a driver formats in its own memory with IoInitializeIrp (no IoAllocateIrp
// block to keep the record in).
TEST_F(irp_rules, V18_BufferOfAPendingIoInitializeIrpFreed) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const USHORT size = IoSizeOfIrp(1);
  alignas(MEMORY_ALLOCATION_ALIGNMENT) static unsigned char storage[1024];
  ASSERT_LE(size, sizeof storage);
  const auto start_receive = [&](pool_receive &r, KEVENT &done) {
    auto irp = reinterpret_cast<PIRP>(storage);
    IoInitializeIrp(irp, size, 1);
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    IoSetCompletionRoutine(irp, call::on_complete, &done, TRUE, TRUE, TRUE);
    return of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &r.wsk, 0, irp);
  };
  EXPECT_EXIT(
      {
        pool_receive r;
        KEVENT done;
        if (start_receive(r, done) != STATUS_PENDING) {
          std::exit(2);
        }
        ExFreePoolWithTag(r.block, 'fubV');
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V18 \\(error\\): ExFreePool freed memory that a pending IRP still uses "
      "as its buffer[^\n]*\n[^\n]*IRP [^ ]+ \\(1 stack locations");
  // Fine: freed after the completion.
  auto *r = new pool_receive;
  KEVENT done;
  ASSERT_EQ(start_receive(*r, done), STATUS_PENDING);
  ASSERT_TRUE(peer_send_all(peer, "ok", 2, timeout_ms));
  LARGE_INTEGER timeout = relative_ms(timeout_ms);
  ASSERT_EQ(KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
  EXPECT_EQ(reinterpret_cast<PIRP>(storage)->IoStatus.Status, STATUS_SUCCESS);
  EXPECT_EQ(reinterpret_cast<PIRP>(storage)->IoStatus.Information, 2u);
  IoFreeMdl(r->mdl);
  ExFreePoolWithTag(r->block, 'fubV');
  delete r;
  close_socket(s);
  peer_close(peer);
}

// Starts a receive into a buffer on this function's own frame, which then returns: the misuse.
__attribute__((noinline)) PMDL receive_into_returning_frame(PWSK_SOCKET s, call &c) {
  volatile UCHAR on_stack[4096];
  on_stack[0] = 0;
  PMDL mdl = IoAllocateMdl(const_cast<UCHAR *>(on_stack), sizeof(on_stack), FALSE, FALSE, nullptr);
  MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
  WSK_BUF wsk = {mdl, 0, sizeof(on_stack)};
  c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &wsk, 0, c.irp);
  return mdl;
}

TEST_F(irp_rules, V18_StackBufferOfAReturnedFrame) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  EXPECT_EXIT(
      {
        call c;
        receive_into_returning_frame(s, c);
        if (c.returned != STATUS_PENDING) {
          std::exit(2);
        }
        c.wait(100);
        std::exit(3);
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V18 \\(error\\): the buffer of a pending IRP lies in a stack frame that "
      "has returned \\(found at KeWaitForSingleObject, on the thread that submitted "
      "it\\)[^\n]*\n[^\n]*IRP [^ ]+ "
      "\\(1 stack locations, [^\n]*; buffer [^ ]+ \\(4096 bytes\\) on this thread's stack");
  // A system thread that ends while its stack buffer is pending.
  struct thread_args {
    PWSK_SOCKET socket;
    call *receive;
  };
  const auto receive_and_end = [](PVOID context) {
    auto *args = static_cast<thread_args *>(context);
    receive_into_returning_frame(args->socket, *args->receive);
  };
  const auto start_thread_and_wait = [&] {
    call c;
    thread_args args{s, &c};
    HANDLE handle = nullptr;
    if (!NT_SUCCESS(PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, nullptr, nullptr, nullptr,
                                         receive_and_end, &args))) {
      std::exit(2);
    }
    std::this_thread::sleep_for(std::chrono::seconds(2)); // the thread stops the process first
    std::exit(3);
  };
  EXPECT_EXIT(
      start_thread_and_wait(), KilledBySignal(SIGABRT),
      "verifier: rule V18 \\(error\\): the buffer of a pending IRP lies in a stack frame that "
      "has returned \\(found at the end of the system thread, on the thread that submitted it\\)");
  // Fine: the IRP, its event and the buffer in the frame that waits (c.wait() waits in a frame
  // below this one).
  {
    UCHAR on_stack[64];
    PMDL mdl = IoAllocateMdl(on_stack, sizeof(on_stack), FALSE, FALSE, nullptr);
    MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
    WSK_BUF wsk = {mdl, 0, sizeof(on_stack)};
    call c;
    c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &wsk, 0, c.irp);
    EXPECT_EQ(c.returned, STATUS_PENDING);
    EXPECT_EQ(c.wait(20), STATUS_TIMEOUT); // a wait while it is pending: not reported
    ASSERT_TRUE(peer_send_all(peer, "ok", 2, timeout_ms));
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
    EXPECT_EQ(c.information(), 2u);
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
  }
  close_socket(s);
  peer_close(peer);
}

// V20: a completion routine that waits (with a timeout, so it may block).
NTSTATUS NTAPI waits_in_routine(PDEVICE_OBJECT, PIRP, PVOID context) {
  LARGE_INTEGER timeout = relative_ms(10);
  KeWaitForSingleObject(context, Executive, KernelMode, FALSE, &timeout);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

TEST_F(irp_rules, V20_CompletionRoutineThatBlocks) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  address local = loopback(4, 0);
  EXPECT_EXIT(
      {
        KEVENT never;
        KeInitializeEvent(&never, NotificationEvent, FALSE);
        of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskBind(s, &local.sa, 0,
                                                     irp_with(waits_in_routine, &never));
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V20 \\(error\\): KeWaitForSingleObject in a completion routine[^\n]*\n"
      "[^\n]*IRP [^ ]+, object [^ ]+, waited from [^\n]*waits_in_routine"
      "(.|\n)*IRQL_NOT_LESS_OR_EQUAL");
  close_socket(s);
}

// ---- Registration -------------------------------------------------------------------------

// V4: WskCaptureProviderNPI with a wait at DISPATCH_LEVEL (WSK_NO_WAIT is allowed there).
TEST_F(irp_rules, V4_CaptureWithAWaitAbovePassiveLevel) {
  KIRQL old;
  KeRaiseIrql(DISPATCH_LEVEL, &old);
  WSK_PROVIDER_NPI second{};
  EXPECT_EQ(WskCaptureProviderNPI(&registration, WSK_NO_WAIT, &second), STATUS_SUCCESS);
  KeLowerIrql(old);
  WskReleaseProviderNPI(&registration);
  EXPECT_EXIT(
      {
        KIRQL raised;
        KeRaiseIrql(DISPATCH_LEVEL, &raised);
        WSK_PROVIDER_NPI npi_again{};
        WskCaptureProviderNPI(&registration, 100, &npi_again);
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V4 \\(error\\): WskCaptureProviderNPI with a wait called at IRQL 2 "
      "\\(DISPATCH_LEVEL\\)[^\n]*\n[^\n]*object [^ ]+, called from (.|\n)*IRQL_NOT_LESS_OR_EQUAL");
}

// V6: WskDeregister kept waiting by a capture and a listening socket with a pending WskAccept:
// reported after UWSK_VERIFY_DEREGISTER_MS, naming the socket's endpoint and the IRP; the wait
// ends when another thread closes the socket and releases the capture.
TEST(irp_registration, V6_DeregisterKeptWaiting) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto deregister_while_open = [] {
    setenv("UWSK_VERIFY_DEREGISTER_MS", "100", 1);
    wsk_client client;
    client.attach();
    PWSK_SOCKET s = client.make_socket(AF_INET, WSK_FLAG_LISTEN_SOCKET);
    if (bind_socket(s, loopback(4, 0)) != STATUS_SUCCESS) {
      std::exit(2);
    }
    call accept;
    if (of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskAccept(s, 0, nullptr, nullptr, nullptr, nullptr,
                                                       accept.irp) != STATUS_PENDING) {
      std::exit(3);
    }
    std::thread closer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      close_socket(s); // cancels the accept
      WskReleaseProviderNPI(&client.registration);
    });
    WskDeregister(&client.registration);
    closer.join();
    std::exit(accept.wait() == STATUS_CANCELLED ? 0 : 4);
  };
  EXPECT_EXIT(deregister_while_open(), ExitedWithCode(0),
              "verifier: rule V6 \\(warning\\): WskDeregister has waited 100 ms[^\n]*\n[^\n]*"
              "WSK registration [^ ]+: 1 capture\\(s\\) not released, 1 socket\\(s\\) not "
              "closed, 0 client-level IRP\\(s\\) pending; WSK socket [^ ]+ \\(local "
              "127\\.0\\.0\\.1:[0-9]+[^\n]*\n[^\n]*pending: IRP [^ ]+ \\(1 stack locations");
  // Strict mode stops at the first warning: with a socket open that is V42 (WskDeregister with
  // sockets open), so here only a capture keeps WskDeregister waiting.
  const auto deregister_while_captured = [] {
    setenv("UWSK_VERIFY_DEREGISTER_MS", "100", 1);
    uwsk_verifier_set_strict(1);
    wsk_client client;
    client.attach();
    std::thread releaser([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      WskReleaseProviderNPI(&client.registration);
    });
    WskDeregister(&client.registration);
    releaser.join();
    std::exit(0);
  };
  EXPECT_EXIT(deregister_while_captured(), KilledBySignal(SIGABRT), strict_report(6));
}

// V70: WskRegister and WskGetAddressInfo above PASSIVE_LEVEL.
TEST_F(irp_rules, V70_RegistrationAndNameResolutionAbovePassiveLevel) {
  const auto register_at_apc_level = [] {
    WSK_CLIENT_NPI client = {nullptr, &client_dispatch};
    WSK_REGISTRATION another{};
    KIRQL old;
    KeRaiseIrql(APC_LEVEL, &old);
    WskRegister(&client, &another);
  };
  EXPECT_EXIT(register_at_apc_level(), KilledBySignal(SIGABRT),
              "verifier: rule V70 \\(error\\): WskRegister called at IRQL 1 \\(APC_LEVEL\\); it is "
              "allowed at IRQL <= 0 \\(PASSIVE_LEVEL\\)(.|\n)*IRQL_NOT_LESS_OR_EQUAL");
  const auto resolve_at_dispatch_level = [this] {
    static WCHAR node_text[] = {'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0};
    UNICODE_STRING node;
    RtlInitUnicodeString(&node, node_text);
    PADDRINFOEXW result = nullptr;
    call c;
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    npi.Dispatch->WskGetAddressInfo(npi.Client, &node, nullptr, NS_ALL, nullptr, nullptr, &result,
                                    nullptr, nullptr, c.irp);
  };
  EXPECT_EXIT(resolve_at_dispatch_level(), KilledBySignal(SIGABRT),
              error_report(70, "IRQL_NOT_LESS_OR_EQUAL"));
}

// V72: an OwningThread without its OwningProcess: STATUS_INVALID_PARAMETER, and the rule logged.
TEST_F(irp_rules, V72_OwningThreadWithoutOwningProcess) {
  const auto resolve_with_a_thread_only = [this] {
    static WCHAR node_text[] = {'1', '2', '7', '.', '0', '.', '0', '.', '1', 0};
    UNICODE_STRING node;
    RtlInitUnicodeString(&node, node_text);
    PADDRINFOEXW result = nullptr;
    call c;
    c.returned =
        npi.Dispatch->WskGetAddressInfo(npi.Client, &node, nullptr, NS_ALL, nullptr, nullptr,
                                        &result, nullptr, PsGetCurrentThread(), c.irp);
    std::exit(c.wait() == STATUS_INVALID_PARAMETER && result == nullptr ? 0 : 1);
  };
  EXPECT_EXIT(resolve_with_a_thread_only(), ExitedWithCode(0),
              warning_report(72) + "an OwningThread was given without its OwningProcess[^\n]*\n"
                                   "[^\n]*WskGetAddressInfo, OwningProcess NULL, OwningThread 0x");
}

// ---- Kernel support -----------------------------------------------------------------------

// V35: MmProbeAndLockPages outside __try (a warning; strict mode stops). This file is built
// with the runtime's view of the headers, which has no __try: every call here is outside one.
// drivers/probe_outside_try.c shows calls inside __try blocks not reported.
TEST(irp_kernel, V35_ProbeAndLockOutsideTry) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const auto probe = [] {
    static UCHAR data[32];
    PMDL mdl = IoAllocateMdl(data, sizeof(data), FALSE, FALSE, nullptr);
    MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
    MmUnlockPages(mdl);
    IoFreeMdl(mdl);
    std::exit(0);
  };
  EXPECT_EXIT(probe(), ExitedWithCode(0),
              warning_report(35) + "MmProbeAndLockPages outside __try[^\n]*\n[^\n]*MDL [^ ]+, "
                                   "buffer [^ ]+, 32 bytes, called from ");
  EXPECT_EXIT(
      {
        uwsk_verifier_set_strict(1);
        probe();
      },
      KilledBySignal(SIGABRT), strict_report(35));
}

// V81: pool not freed when the leak report runs (a warning after the list).
TEST(irp_kernel, V81_LeakReportNamesTheRule) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        ExAllocatePool2(POOL_FLAG_NON_PAGED, 24, 'kaeL');
        std::exit(uwsk_leak_report() >= 1 ? 0 : 1);
      },
      ExitedWithCode(0),
      "pool tag 'Leak' \\(0x6b61654c\\): 1 allocation\\(s\\), 24 byte\\(s\\)(.|\n)*verifier: rule "
      "V81 \\(warning\\): the driver left objects behind at unload[^\n]*\n[^\n]*object\\(s\\) "
      "listed above");
}

// V82: a wait with a timeout at DISPATCH_LEVEL, and KeSetEvent with Wait TRUE there.
TEST(irp_kernel, V82_WaitsAboveApcLevel) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        KEVENT event;
        KeInitializeEvent(&event, NotificationEvent, FALSE);
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        LARGE_INTEGER timeout = relative_ms(10);
        KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout);
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V82 \\(error\\): KeWaitForSingleObject called at IRQL 2 "
      "\\(DISPATCH_LEVEL\\); it is allowed at IRQL <= 1 \\(APC_LEVEL\\)"
      "(.|\n)*IRQL_NOT_LESS_OR_EQUAL");
  EXPECT_EXIT(
      {
        KEVENT event;
        KeInitializeEvent(&event, NotificationEvent, FALSE);
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        KeSetEvent(&event, IO_NO_INCREMENT, TRUE);
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V82 \\(error\\): KeSetEvent with Wait TRUE called at IRQL 2"
      "(.|\n)*IRQL_NOT_LESS_OR_EQUAL");
}

// V85: DbgPrint with a floating-point format, and with a Unicode format above PASSIVE_LEVEL.
TEST(irp_kernel, V85_DbgPrintFormats) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        DbgPrint("irp_kernel: %f\n", 1.5);
        std::exit(0);
      },
      ExitedWithCode(0),
      warning_report(85) + "DbgPrint with a floating-point format[^\n]*\n[^\n]*format "
                           "\"irp_kernel: %f");
  const auto wide_at_dispatch_level = [] {
    static WCHAR wide[] = {'w', 0};
    KIRQL old;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    DbgPrint("irp_kernel: %ws\n", wide);
    KeLowerIrql(old);
    std::exit(0);
  };
  EXPECT_EXIT(wide_at_dispatch_level(), ExitedWithCode(0),
              warning_report(85) + "DbgPrint with a Unicode format [^\n]* at IRQL 2");
}

} // namespace

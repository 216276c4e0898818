// Misuse drivers for the verifier rules about sockets and event callbacks (docs/verifier.md points
// here for their examples), in the pattern of verifier_rules_test.cpp: each misuse runs in a child
// process (a GoogleTest death test) that must end the way the rule's severity says (an error:
// SIGABRT from the bug check; a warning or a note: logged, the driver goes on), and its log must
// name the rule. Every peer is a real POSIX socket on loopback. Tests that inject faults configure
// the plan inside the child, before its first socket starts the provider's loops.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <uwsk/faults.h>
#include <wdm.h>
#include <wsk.h>

#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;
using ::testing::ExitedWithCode;
using ::testing::KilledBySignal;

// What the reports of rule `n` look like.
std::string warning_report(int n) {
  return "verifier: rule V" + std::to_string(n) + " \\(warning\\): ";
}
std::string note_report(int n) {
  return "verifier: rule V" + std::to_string(n) + " \\(note\\): ";
}
// The objects line of a report about a connection on IPv4 loopback.
const char socket_line[] =
    "[^\n]*\n[^\n]*socket [^ ]+ \\(local 127\\.0\\.0\\.1:[0-9]+, remote 127\\.0\\.0\\.1:[0-9]+\\)";

void pause_ms(int ms) {
  LARGE_INTEGER pause = relative_ms(ms);
  KeDelayExecutionThread(KernelMode, FALSE, &pause);
}

// Waits (bounded, 10 ms steps) until `done` is true.
template <class Done> bool wait_until(Done done, int ms = timeout_ms) {
  for (int waited = 0; waited < ms; waited += 10) {
    if (done()) {
      return true;
    }
    pause_ms(10);
  }
  return done();
}

// The same in 50 us steps, for many short waits in a row.
template <class Done> bool wait_briefly(Done done, int ms = timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return true;
}

// Installs a fault plan in the child (before its first socket); exits 3 when it is refused.
void faults(const char *spec) {
  char error[256];
  if (uwsk_faults_configure(spec, 42, error, sizeof error) != 0) {
    std::exit(3);
  }
}

// ---- A connection driver whose callbacks a test chooses ------------------------------------

enum class receive_mode {
  accept_all,      // accepts every byte (records them)
  retain,          // keeps the list (STATUS_PENDING)
  retain_all,      // keeps every list, in `kept`
  wait,            // waits for an event with a timeout (rule V50)
  passive_only,    // calls a PASSIVE_LEVEL-only function (rule V51)
  accept_too_much, // *BytesAccepted above BytesIndicated (rule V53)
  accept_none,     // STATUS_DATA_NOT_ACCEPTED, and no WskReceive follows (rule V53)
};

std::atomic<receive_mode> mode{receive_mode::accept_all};
std::atomic<int> indications{0};
std::atomic<int> null_indications{0};
std::atomic<PWSK_DATA_INDICATION> retained{nullptr};
std::vector<PWSK_DATA_INDICATION> kept; // under received_lock
std::atomic<int> flagged_asap{0};
std::mutex received_lock;
std::string received; // the bytes accepted by events and receive IRPs, in order

NTSTATUS WSKAPI on_receive(PVOID, ULONG flags, PWSK_DATA_INDICATION data, SIZE_T indicated,
                           SIZE_T *accepted) {
  if (data == nullptr) {
    null_indications.fetch_add(1);
    return STATUS_SUCCESS;
  }
  indications.fetch_add(1);
  switch (mode.load()) {
  case receive_mode::accept_all: {
    std::lock_guard guard(received_lock);
    for (PWSK_DATA_INDICATION d = data; d != nullptr; d = d->Next) {
      append_wsk_buf_bytes(d->Buffer, &received);
    }
    return STATUS_SUCCESS;
  }
  case receive_mode::retain:
    retained.store(data);
    return STATUS_PENDING;
  case receive_mode::retain_all: {
    std::lock_guard guard(received_lock);
    kept.push_back(data);
    if ((flags & WSK_FLAG_RELEASE_ASAP) != 0) {
      flagged_asap.fetch_add(1);
    }
    return STATUS_PENDING;
  }
  case receive_mode::wait: {
    KEVENT never;
    KeInitializeEvent(&never, NotificationEvent, FALSE);
    LARGE_INTEGER timeout = relative_ms(10);
    KeWaitForSingleObject(&never, Executive, KernelMode, FALSE, &timeout);
    return STATUS_SUCCESS;
  }
  case receive_mode::passive_only:
    KeFlushQueuedDpcs();
    return STATUS_SUCCESS;
  case receive_mode::accept_too_much:
    *accepted = indicated + 1;
    return STATUS_SUCCESS;
  case receive_mode::accept_none:
    return STATUS_DATA_NOT_ACCEPTED;
  }
  return STATUS_SUCCESS;
}

std::atomic<NTSTATUS> disconnect_answer{STATUS_SUCCESS};
NTSTATUS WSKAPI on_disconnect(PVOID, ULONG) {
  return disconnect_answer.load();
}

const WSK_CLIENT_CONNECTION_DISPATCH connection_callbacks = {on_receive, on_disconnect, nullptr};

struct socket_event_rules : wsk_fixture<4> {
  socket_event_rules() { connection_events = &connection_callbacks; }
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    wsk_fixture<4>::SetUp();
  }
  // A connection with receive events (and `more` events) enabled; *peer is its POSIX side.
  // Exits 2 when it cannot be made.
  PWSK_SOCKET receiving(int *peer, ULONG more = 0) {
    PWSK_SOCKET s = connected(peer);
    if (*peer < 0 || set_events(s, WSK_EVENT_RECEIVE | more) != STATUS_SUCCESS) {
      std::exit(2);
    }
    return s;
  }
  // The child's part of a receive-event misuse: a connection whose WskReceiveEvent behaves as
  // `how`, `bytes` from the peer, then a bounded wait for the stop the misuse must cause (exit 1
  // when it does not come).
  [[noreturn]] void indicate_to(receive_mode how, const char *bytes) {
    mode = how;
    int peer = -1;
    receiving(&peer);
    peer_send_all(peer, bytes, std::strlen(bytes), timeout_ms);
    pause_ms(timeout_ms);
    std::exit(1);
  }
};

// ---- Sockets and buffers --------------------------------------------------------------------

// V31: a retained list released twice (STATUS_INVALID_PARAMETER), and a close with a list still
// retained (the list stays valid).
TEST_F(socket_event_rules, V31_RetainedListReleasedTwiceOrKeptOverTheClose) {
  const auto retain_one = [this](int *peer) {
    mode = receive_mode::retain;
    PWSK_SOCKET s = receiving(peer);
    if (!peer_send_all(*peer, "abc", 3, timeout_ms) ||
        !wait_until([] { return retained.load() != nullptr; })) {
      std::exit(2);
    }
    return s;
  };
  EXPECT_EXIT(
      {
        int peer = -1;
        PWSK_SOCKET s = retain_one(&peer);
        const auto *table = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
        if (table->WskRelease(s, retained.load()) != STATUS_SUCCESS) {
          std::exit(4);
        }
        std::exit(table->WskRelease(s, retained.load()) == STATUS_INVALID_PARAMETER ? 0 : 1);
      },
      ExitedWithCode(0),
      warning_report(31) + "WskRelease of [^ ]+, not a data indication list" + socket_line);
  EXPECT_EXIT(
      {
        int peer = -1;
        PWSK_SOCKET s = retain_one(&peer);
        close_socket(s);
        // The list stays valid after the close.
        std::exit(wsk_buf_bytes(retained.load()->Buffer) == "abc" ? 0 : 1);
      },
      ExitedWithCode(0),
      warning_report(31) + "WskCloseSocket with 1 indication list still retained" + socket_line);
}

// V32: lists offered with WSK_FLAG_RELEASE_ASAP (set while more than 1,024 indication buffers
// are retained) released more than 1 s later.
TEST_F(socket_event_rules, V32_ReleaseAsapListsHeldLong) {
  EXPECT_EXIT(
      {
        mode = receive_mode::retain_all;
        int peer = -1;
        PWSK_SOCKET s = receiving(&peer);
        // One byte per indication: each waits for the previous one, so no two reads coalesce.
        constexpr int held = 1026;
        for (int i = 0; i < held; ++i) {
          if (!peer_send_all(peer, "x", 1, timeout_ms) ||
              !wait_briefly([i] { return indications.load() == i + 1; })) {
            std::exit(2);
          }
        }
        if (flagged_asap.load() == 0) {
          std::exit(3);
        }
        pause_ms(1100); // past the 1 s bound
        std::vector<PWSK_DATA_INDICATION> lists;
        {
          std::lock_guard guard(received_lock);
          lists.swap(kept);
        }
        for (PWSK_DATA_INDICATION list : lists) {
          of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskRelease(s, list);
        }
        close_socket(s);
        std::exit(0);
      },
      ExitedWithCode(0),
      warning_report(32) +
          "an indication list offered with WSK_FLAG_RELEASE_ASAP was held "
          "[0-9]+ ms before WskRelease" +
          socket_line);
}

// V41: WskConnectEx with 65,536 bytes to send (STATUS_BUFFER_OVERFLOW).
TEST_F(socket_event_rules, V41_ConnectExWithMoreThan65535Bytes) {
  EXPECT_EXIT(
      {
        unsigned short port = 0;
        const int server = peer_listen(4, &port);
        PWSK_SOCKET s = make_bound_socket(WSK_FLAG_CONNECTION_SOCKET);
        address remote = loopback(4, port);
        buffer data(std::size_t{65536}, 'x');
        call c;
        c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskConnectEx(s, &remote.sa, &data.wsk,
                                                                           0, c.irp);
        const bool refused = c.wait() == STATUS_BUFFER_OVERFLOW;
        close_socket(s);
        peer_close(server);
        std::exit(refused ? 0 : 1);
      },
      ExitedWithCode(0),
      warning_report(41) +
          "WskConnectEx with more than 65,535 bytes[^\n]*\n[^\n]*65536 bytes, socket ");
}

// V40: WskSendTo on an IPv4 socket with an IPv6 address (STATUS_INVALID_PARAMETER).
TEST_F(socket_event_rules, V40_SendToAnAddressOfAnotherFamily) {
  PWSK_SOCKET s = make_bound_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  EXPECT_EXIT(
      {
        buffer data("x");
        address to = loopback(6, 9);
        call c;
        c.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskSendTo(s, &data.wsk, 0, &to.sa, 0,
                                                                      nullptr, c.irp);
        std::exit(c.wait() == STATUS_INVALID_PARAMETER ? 0 : 1);
      },
      ExitedWithCode(0), warning_report(40) + "an address of family 23, which is not the socket's");
  close_socket(s);
}

// V42: WskDeregister while a socket is open (it waits until another thread closes it).
TEST(socket_event_registration, V42_DeregisterWithASocketOpen) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        wsk_client client;
        client.attach();
        PWSK_SOCKET s = client.make_socket(AF_INET, WSK_FLAG_LISTEN_SOCKET);
        WskReleaseProviderNPI(&client.registration);
        std::thread closer([s] {
          pause_ms(100);
          close_socket(s);
        });
        WskDeregister(&client.registration);
        closer.join();
        std::exit(0);
      },
      ExitedWithCode(0),
      warning_report(42) + "WskDeregister with 1 socket not closed[^\n]*\n[^\n]*WSK socket ");
}

// V67: SIO_WSK_SET_TCP_SILENT_MODE while a send is pending. (On loopback silent mode itself is
// refused with STATUS_NOT_SUPPORTED, as on Windows; the pending send is reported all the same.)
TEST_F(socket_event_rules, V67_SilentModeWithASendPending) {
  EXPECT_EXIT(
      {
        int peer = -1;
        PWSK_SOCKET s = connected(&peer);
        // More than loopback's socket buffers hold while the peer reads nothing: it pends.
        buffer big(std::size_t{64} << 20, 'x');
        call send;
        send.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskSend(s, &big.wsk, 0, send.irp);
        if (peer < 0 || send.returned != STATUS_PENDING) {
          std::exit(2);
        }
        call c;
        c.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
            s, WskIoctl, SIO_WSK_SET_TCP_SILENT_MODE, 0, 0, nullptr, 0, nullptr, nullptr, c.irp);
        const NTSTATUS status = c.wait();
        std::exit(status == STATUS_NOT_SUPPORTED ? 0 : 1);
      },
      ExitedWithCode(0),
      warning_report(67) + "SIO_WSK_SET_TCP_SILENT_MODE while a send or disconnect is pending" +
          socket_line);
}

// ---- Event callbacks ------------------------------------------------------------------------

// V50: a receive event that waits (with a timeout) inside the callback.
TEST_F(socket_event_rules, V50_ReceiveEventThatWaits) {
  EXPECT_EXIT(
      indicate_to(receive_mode::wait, "x"), KilledBySignal(SIGABRT),
      "verifier: rule V50 \\(error\\): KeWaitForSingleObject with a non-zero timeout inside the "
      "WskReceiveEvent callback[^\n]*\n[^\n]*the callback's socket [^ ]+ \\(local "
      "127\\.0\\.0\\.1:[0-9]+(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
}

// V51: a receive event (at DISPATCH_LEVEL) that calls a PASSIVE_LEVEL-only function.
TEST_F(socket_event_rules, V51_ReceiveEventThatAssumesPassiveLevel) {
  EXPECT_EXIT(indicate_to(receive_mode::passive_only, "x"), KilledBySignal(SIGABRT),
              "verifier: rule V51 \\(error\\): the WskReceiveEvent callback assumes PASSIVE_LEVEL: "
              "KeFlushQueuedDpcs called at IRQL 2(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
}

// V52: a disconnect event that returns another status than STATUS_SUCCESS.
TEST_F(socket_event_rules, V52_DisconnectEventNotReturningSuccess) {
  EXPECT_EXIT(
      {
        disconnect_answer = STATUS_UNSUCCESSFUL;
        int peer = -1;
        receiving(&peer, WSK_EVENT_DISCONNECT);
        peer_close(peer);
        pause_ms(timeout_ms);
        std::exit(1);
      },
      KilledBySignal(SIGABRT),
      std::string("verifier: rule V52 \\(error\\): WskDisconnectEvent must return STATUS_SUCCESS") +
          socket_line + "(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
}

// V53: *BytesAccepted above BytesIndicated (an error); and a receive event left stalled by
// STATUS_DATA_NOT_ACCEPTED with no WskReceive to resume it (a warning after 1 s).
TEST_F(socket_event_rules, V53_AcceptedMoreThanIndicatedOrStalledWithoutAReceive) {
  EXPECT_EXIT(
      indicate_to(receive_mode::accept_too_much, "abc"), KilledBySignal(SIGABRT),
      std::string("verifier: rule V53 \\(error\\): WskReceiveEvent set \\*BytesAccepted to 4, "
                  "more than the 3 bytes indicated") +
          socket_line + "(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
  EXPECT_EXIT(
      {
        mode = receive_mode::accept_none;
        int peer = -1;
        PWSK_SOCKET s = receiving(&peer);
        peer_send_all(peer, "abc", 3, timeout_ms);
        if (!wait_until([] { return indications.load() == 1; })) {
          std::exit(2);
        }
        pause_ms(1300); // past the 1 s bound
        close_socket(s);
        std::exit(indications.load() == 1 ? 0 : 1);
      },
      ExitedWithCode(0),
      warning_report(53) +
          "WskReceiveEvent accepted part of the data \\(or returned "
          "STATUS_DATA_NOT_ACCEPTED\\) and no WskReceive came within 1 s" +
          socket_line);
}

// V56 (fault v56): after the NULL DataIndication the socket is used for a send (reported at
// once), or left open (reported after 1 s).
TEST_F(socket_event_rules, V56_SocketUsedOrLeftOpenAfterItsNullIndication) {
  const auto told_dead = [this](int *peer) {
    faults("v56=all");
    PWSK_SOCKET s = receiving(peer);
    peer_send_all(*peer, "x", 1, timeout_ms);
    if (!wait_until([] { return null_indications.load() == 1; })) {
      std::exit(2);
    }
    return s;
  };
  EXPECT_EXIT(
      {
        int peer = -1;
        PWSK_SOCKET s = told_dead(&peer);
        buffer data("y");
        call c;
        c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskSend(s, &data.wsk, 0, c.irp);
        c.wait();
        close_socket(s);
        std::exit(0);
      },
      ExitedWithCode(0),
      warning_report(56) + "a WSK function was called on a socket after its NULL indication"
                           "[^\n]*\n[^\n]*WskSend on socket ");
  EXPECT_EXIT(
      {
        int peer = -1;
        PWSK_SOCKET s = told_dead(&peer);
        pause_ms(1300); // past the 1 s bound
        close_socket(s);
        std::exit(0);
      },
      ExitedWithCode(0),
      warning_report(56) + "a socket that got its NULL indication [^\n]* was not closed within "
                           "1 s[^\n]*\n[^\n]*socket ");
}

// V58 (fault v58): receive events are let through although WskReceive IRPs are queued. The log
// names the rule once, and a driver that takes bytes from both, in the order they come, still
// gets the byte stream intact. (Parked receives have their turn first on each readiness, so how
// many bytes go to events depends on timing.)
struct receive_loop {
  PWSK_SOCKET socket = nullptr;
  buffer space{std::size_t{1024}};
  PIRP irp = IoAllocateIrp(1, FALSE);
  std::atomic<bool> stopped{false};
  static NTSTATUS NTAPI on_complete(PDEVICE_OBJECT, PIRP irp, PVOID context) {
    auto *r = static_cast<receive_loop *>(context);
    const ULONG_PTR got = irp->IoStatus.Information;
    if (!NT_SUCCESS(irp->IoStatus.Status) || got == 0) {
      r->stopped = true;
      return STATUS_MORE_PROCESSING_REQUIRED;
    }
    {
      std::lock_guard guard(received_lock);
      received.append(reinterpret_cast<const char *>(r->space.bytes.data()), got);
    }
    r->post();
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
  void post() {
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(irp, on_complete, this, TRUE, TRUE, TRUE);
    of<WSK_PROVIDER_CONNECTION_DISPATCH>(socket)->WskReceive(socket, &space.wsk, 0, irp);
  }
};

TEST_F(socket_event_rules, V58_EventsDespiteQueuedReceivesKeepTheByteStream) {
  EXPECT_EXIT(
      {
        faults("v58=all");
        mode = receive_mode::accept_all;
        int peer = -1;
        PWSK_SOCKET s = connected(&peer);
        receive_loop loop;
        loop.socket = s;
        loop.post(); // queued before the events are on: every event then finds it parked
        if (peer < 0 || set_events(s, WSK_EVENT_RECEIVE) != STATUS_SUCCESS) {
          std::exit(2);
        }
        std::string sent;
        for (int i = 0; i < 64 * 1024; ++i) {
          sent.push_back(static_cast<char>('a' + (i * 7 + i / 251) % 26));
        }
        // In pieces, so that events and the parked receive take turns.
        for (std::size_t at = 0; at < sent.size(); at += 4096) {
          if (!peer_send_all(peer, sent.data() + at, 4096, timeout_ms)) {
            std::exit(3);
          }
          pause_ms(1);
        }
        const bool all = wait_until([&] {
          std::lock_guard guard(received_lock);
          return received.size() >= sent.size();
        });
        peer_close(peer);
        wait_until([&] { return loop.stopped.load(); });
        close_socket(s);
        std::lock_guard guard(received_lock);
        if (!all || received != sent) {
          std::fprintf(stderr, "received %zu bytes of %zu, %s\n", received.size(), sent.size(),
                       received == sent ? "equal" : "different");
          std::exit(1);
        }
        std::exit(0);
      },
      ExitedWithCode(0),
      note_report(58) + "the receive event was let through while 1 WskReceive IRP was queued " +
          "\\(fault v58\\)" + socket_line);
}

// V62 (fault event-pending): a disable without an IRP returns STATUS_EVENT_PENDING, a success
// status: the log says so, and the disable took effect (no receive event comes afterwards).
TEST_F(socket_event_rules, V62_EventPendingFromADisable) {
  EXPECT_EXIT(
      {
        faults("event-pending");
        int peer = -1;
        PWSK_SOCKET s = receiving(&peer);
        if (set_events(s, WSK_EVENT_DISABLE | WSK_EVENT_RECEIVE) != STATUS_EVENT_PENDING) {
          std::exit(1);
        }
        peer_send_all(peer, "x", 1, timeout_ms);
        pause_ms(200);
        const int seen = indications.load();
        close_socket(s);
        std::exit(seen == 0 ? 0 : 1);
      },
      ExitedWithCode(0),
      note_report(62) +
          "disabling the WskReceiveEvent callback with SO_WSK_EVENT_CALLBACK and no "
          "IRP returned STATUS_EVENT_PENDING" +
          socket_line);
}

// ---- Conditional accept and callback copies -------------------------------------------------

std::atomic<PWSK_INSPECT_ID> kept_id{nullptr};
std::atomic<PSOCKADDR> kept_remote{nullptr};
std::atomic<PWSK_SOCKET> accepted_socket{nullptr};

WSK_INSPECT_ACTION WSKAPI keep_inspect_id(PVOID, PSOCKADDR, PSOCKADDR, PWSK_INSPECT_ID id) {
  kept_id.store(id); // should have copied *id (rule V57)
  return WskInspectPend;
}
NTSTATUS WSKAPI keep_remote_address(PVOID, ULONG, PSOCKADDR, PSOCKADDR remote, PWSK_SOCKET socket,
                                    PVOID *, const WSK_CLIENT_CONNECTION_DISPATCH **) {
  if (socket != nullptr) {
    kept_remote.store(remote); // should have copied *remote (rule V59)
    accepted_socket.store(socket);
  }
  return STATUS_SUCCESS;
}
const WSK_CLIENT_LISTEN_DISPATCH keeping_listener = {keep_remote_address, keep_inspect_id, nullptr};

struct socket_event_listen : socket_event_rules {
  socket_event_listen() { listen_events = &keeping_listener; }
  // A listening socket on loopback, with SO_CONDITIONAL_ACCEPT when `conditional`.
  PWSK_SOCKET listener(bool conditional, unsigned short *port) {
    PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
    if (conditional) {
      ULONG on = 1;
      call c;
      c.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
          s, WskSetOption, SO_CONDITIONAL_ACCEPT, SOL_SOCKET, sizeof(on), &on, 0, nullptr, nullptr,
          c.irp);
      if (c.wait() != STATUS_SUCCESS) {
        std::exit(2);
      }
    }
    if (bind_socket(s, loopback(4, 0)) != STATUS_SUCCESS) {
      std::exit(2);
    }
    address local;
    call c;
    of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskGetLocalAddress(s, &local.sa, c.irp);
    if (c.wait() != STATUS_SUCCESS) {
      std::exit(2);
    }
    *port = port_of(local);
    return s;
  }
  // After a callback of `s` returned: a call that takes the listener's lock, which the provider
  // held when it poisoned its copies, so that the driver's thread is ordered after the poisoning
  // (the misuse tested is the kept pointer, not a race with the loop thread).
  void after_callback(PWSK_SOCKET s) {
    pause_ms(50);
    address local;
    call c;
    of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskGetLocalAddress(s, &local.sa, c.irp);
    if (c.wait() != STATUS_SUCCESS) {
      std::exit(2);
    }
  }
};

// V57: WskInspectComplete with the InspectID pointer the inspect event got, kept.
TEST_F(socket_event_listen, V57_InspectIdPointerKeptFromTheCallback) {
  EXPECT_EXIT(
      {
        unsigned short port = 0;
        PWSK_SOCKET s = listener(true, &port);
        const int peer = peer_connect(4, port, timeout_ms);
        if (peer < 0 || !wait_until([] { return kept_id.load() != nullptr; })) {
          std::exit(2);
        }
        after_callback(s);
        call c;
        of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskInspectComplete(s, kept_id.load(), WskInspectAccept,
                                                                c.irp);
        std::exit(1);
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V57 \\(error\\): WskInspectComplete was given the provider's copy of an "
      "inspect ID[^\n]*\n[^\n]*InspectID [^ ]+, listening socket [^ ]+ \\(local "
      "127\\.0\\.0\\.1:[0-9]+(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
}

// V59: WskConnect given the RemoteAddress pointer the accept event got, kept.
TEST_F(socket_event_listen, V59_AcceptEventAddressKeptFromTheCallback) {
  EXPECT_EXIT(
      {
        unsigned short port = 0;
        PWSK_SOCKET s = listener(false, &port);
        if (set_events(s, WSK_EVENT_ACCEPT) != STATUS_SUCCESS) {
          std::exit(2);
        }
        const int peer = peer_connect(4, port, timeout_ms);
        if (peer < 0 || !wait_until([] { return accepted_socket.load() != nullptr; })) {
          std::exit(2);
        }
        after_callback(s);
        PWSK_SOCKET c = make_bound_socket(WSK_FLAG_CONNECTION_SOCKET);
        call connect;
        of<WSK_PROVIDER_CONNECTION_DISPATCH>(c)->WskConnect(c, kept_remote.load(), 0, connect.irp);
        std::exit(1);
      },
      KilledBySignal(SIGABRT),
      "verifier: rule V59 \\(error\\): a WSK function was given the provider's copy of an "
      "address[^\n]*\n[^\n]*WskConnect: address [^ ]+, socket [^ ]+ \\(local "
      "127\\.0\\.0\\.1:[0-9]+(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
}

// V37: WskInspectComplete on a listener without conditional accept, and SIO_WSK_QUERY_INSPECT_ID
// on a connection that did not come through it (each with its documented status).
TEST_F(socket_event_listen, V37_InspectCallsOutsideConditionalAccept) {
  EXPECT_EXIT(
      {
        unsigned short port = 0;
        PWSK_SOCKET s = listener(false, &port);
        WSK_INSPECT_ID id;
        id.Key = 1;
        id.SerialNumber = 1;
        call c;
        c.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskInspectComplete(
            s, &id, WskInspectAccept, c.irp);
        std::exit(c.wait() == STATUS_INVALID_DEVICE_STATE ? 0 : 1);
      },
      ExitedWithCode(0),
      warning_report(37) + "WskInspectComplete on a socket that is not a listening socket with "
                           "SO_CONDITIONAL_ACCEPT");
  EXPECT_EXIT(
      {
        int peer = -1;
        PWSK_SOCKET s = connected(&peer);
        WSK_INSPECT_ID id;
        SIZE_T returned = 0;
        const NTSTATUS status = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
            s, WskIoctl, SIO_WSK_QUERY_INSPECT_ID, 0, 0, nullptr, sizeof(id), &id, &returned,
            nullptr);
        std::exit(status == STATUS_INVALID_DEVICE_REQUEST ? 0 : 1);
      },
      ExitedWithCode(0),
      warning_report(37) +
          "SIO_WSK_QUERY_INSPECT_ID on a socket not accepted through "
          "conditional accept" +
          socket_line);
}

} // namespace

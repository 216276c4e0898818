// Synchronous callers (docs/design.md, "Synchronous callers"): a thread that submits an IRP,
// sees it pend and waits on the event its completion routine sets does the socket I/O itself
// while it waits. Whoever gets there first (the waiter or the loop) completes each IRP, once and
// in order; a cancel, a close or a timeout ends the wait as it would without the helper. Against
// POSIX peers on 127.0.0.1 and ::1; every byte is compared.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;

struct sync_wait : wsk_fixture<> {};

INSTANTIATE_TEST_SUITE_P(Families, sync_wait, ::testing::Values(4, 6), family_name);

// The bytes of message `round`: distinct per round and per position.
std::string message(int round, std::size_t size) {
  std::string text(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    text[i] = static_cast<char>('A' + (round * 7 + static_cast<int>(i)) % 26);
  }
  return text;
}

void pause_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// The synchronous echo: receive (which pends: the peer sends only after a while), wait, send
// back, wait; the peer checks every echo.
TEST_P(sync_wait, PingPongReceivesInOrderOnTheWaitingThread) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  constexpr int rounds = 200;
  constexpr std::size_t size = 64;
  std::atomic<int> peer_errors{0};
  std::thread client([&] {
    for (int round = 0; round < rounds; ++round) {
      if (round % 50 == 0) {
        pause_ms(5); // now and then the receive surely pends first
      }
      const std::string sent = message(round, size);
      std::string echoed(size, '\0');
      if (!peer_send_all(peer, sent.data(), size, timeout_ms) ||
          peer_receive(peer, echoed.data(), size, timeout_ms) != size || echoed != sent) {
        ++peer_errors;
        return;
      }
    }
  });
  buffer in(4096, 0xcc);
  std::string got;
  for (int round = 0; round < rounds; ++round) {
    call r;
    r.returned = d->WskReceive(s, &in.wsk, 0, r.irp);
    ASSERT_EQ(r.wait(), STATUS_SUCCESS) << round;
    ASSERT_EQ(r.information(), size) << round;
    ASSERT_EQ(in.text(size), message(round, size)) << round;
    WSK_BUF echo = {in.mdl, 0, size};
    call w;
    w.returned = d->WskSend(s, &echo, 0, w.irp);
    ASSERT_EQ(w.wait(), STATUS_SUCCESS) << round;
    ASSERT_EQ(w.information(), size) << round;
  }
  client.join();
  EXPECT_EQ(peer_errors.load(), 0);
  close_socket(s);
  peer_close(peer);
}

// Two threads each park a receive on one socket and wait, each helping; the peer then sends two
// chunks at once. The receive submitted first gets the first bytes, whoever did the I/O.
TEST_P(sync_wait, TwoWaitersOnOneQueueCompleteInSubmissionOrder) {
  for (int round = 0; round < 20; ++round) {
    int peer = -1;
    PWSK_SOCKET s = connected(&peer);
    ASSERT_GE(peer, 0);
    const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
    buffer first(3, 0xcc), second(3, 0xcc);
    call r1, r2;
    std::atomic<bool> first_submitted{false};
    NTSTATUS status1 = STATUS_PENDING, status2 = STATUS_PENDING;
    std::thread one([&] {
      r1.returned = d->WskReceive(s, &first.wsk, WSK_FLAG_WAITALL, r1.irp);
      first_submitted = true;
      status1 = r1.wait();
    });
    for (int i = 0; i < 5000 && !first_submitted; ++i) {
      pause_ms(1);
    }
    ASSERT_TRUE(first_submitted.load());
    std::atomic<bool> second_submitted{false};
    std::thread two([&] {
      r2.returned = d->WskReceive(s, &second.wsk, WSK_FLAG_WAITALL, r2.irp);
      second_submitted = true;
      status2 = r2.wait();
    });
    for (int i = 0; i < 5000 && !second_submitted; ++i) {
      pause_ms(1);
    }
    pause_ms(5); // both are waiting, most likely (either way the order must hold)
    ASSERT_TRUE(peer_send_all(peer, "abcdef", 6, timeout_ms));
    one.join();
    two.join();
    EXPECT_EQ(r1.returned, STATUS_PENDING);
    EXPECT_EQ(r2.returned, STATUS_PENDING);
    EXPECT_EQ(status1, STATUS_SUCCESS);
    EXPECT_EQ(status2, STATUS_SUCCESS);
    EXPECT_EQ(first.text(3), "abc") << round;
    EXPECT_EQ(second.text(3), "def") << round;
    close_socket(s);
    peer_close(peer);
  }
}

// A cancel from another thread ends the wait of a helping waiter at once.
TEST_P(sync_wait, ACancelEndsAHelpingWait) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  buffer in(16, 0xcc);
  call r;
  r.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &in.wsk, 0, r.irp);
  ASSERT_EQ(r.returned, STATUS_PENDING);
  std::thread canceller([&] {
    pause_ms(50);
    IoCancelIrp(r.irp);
  });
  EXPECT_EQ(r.wait(), STATUS_CANCELLED);
  canceller.join();
  EXPECT_EQ(r.information(), 0u);
  EXPECT_EQ(in.bytes[0], 0xcc); // nothing consumed
  // The socket still works: the next receive gets the peer's bytes.
  ASSERT_TRUE(peer_send_all(peer, "xyz", 3, timeout_ms));
  call again;
  again.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &in.wsk, 0, again.irp);
  EXPECT_EQ(again.wait(), STATUS_SUCCESS);
  EXPECT_EQ(in.text(again.information()), "xyz");
  close_socket(s);
  peer_close(peer);
}

// A close from another thread fails the parked receive, and the close itself completes: the
// helping waiter does not keep the socket alive.
TEST_P(sync_wait, ACloseFromAnotherThreadEndsAHelpingWait) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  buffer in(16, 0xcc);
  call r;
  r.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &in.wsk, 0, r.irp);
  ASSERT_EQ(r.returned, STATUS_PENDING);
  std::thread closer([&] {
    pause_ms(50);
    close_socket(s);
  });
  EXPECT_EQ(r.wait(), STATUS_CANCELLED);
  closer.join();
  EXPECT_TRUE(peer_sees_reset(peer, timeout_ms) || peer_sees_eof(peer, timeout_ms));
  peer_close(peer);
}

// A timed wait that runs out returns STATUS_TIMEOUT with the IRP still parked; it completes
// later with the bytes that arrive, and the next wait sees it.
TEST_P(sync_wait, ATimedWaitRunsOutAndTheIrpCompletesLater) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  buffer in(16, 0xcc);
  call r;
  r.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &in.wsk, 0, r.irp);
  ASSERT_EQ(r.returned, STATUS_PENDING);
  EXPECT_EQ(r.wait(30), STATUS_TIMEOUT);
  EXPECT_FALSE(r.completed());
  ASSERT_TRUE(peer_send_all(peer, "late", 4, timeout_ms));
  EXPECT_EQ(r.wait(), STATUS_SUCCESS);
  EXPECT_EQ(in.text(r.information()), "late");
  close_socket(s);
  peer_close(peer);
}

// A wait on another object than the pending IRP's event is not helped, and ends when that object
// is signalled; the IRP completes on its own.
TEST_P(sync_wait, AWaitOnAnotherObjectIsNotHeld) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  buffer in(16, 0xcc);
  call r;
  r.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &in.wsk, 0, r.irp);
  ASSERT_EQ(r.returned, STATUS_PENDING);
  KEVENT other;
  KeInitializeEvent(&other, NotificationEvent, FALSE);
  std::thread setter([&] {
    pause_ms(20);
    KeSetEvent(&other, IO_NO_INCREMENT, FALSE);
  });
  LARGE_INTEGER timeout = relative_ms(timeout_ms);
  EXPECT_EQ(KeWaitForSingleObject(&other, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
  setter.join();
  EXPECT_FALSE(r.completed());
  ASSERT_TRUE(peer_send_all(peer, "ok", 2, timeout_ms));
  EXPECT_EQ(r.wait(), STATUS_SUCCESS);
  EXPECT_EQ(in.text(r.information()), "ok");
  close_socket(s);
  peer_close(peer);
}

// Synchronous rounds whose receives pend: the waiting thread polls the reads, so the loop hands
// them to it (docs/design.md, "Synchronous callers"). The peer checks every echo.
void synchronous_rounds(PWSK_SOCKET s, int peer, int rounds) {
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  std::atomic<int> peer_errors{0};
  std::thread client([&] {
    for (int round = 0; round < rounds; ++round) {
      pause_ms(1); // the receive pends first
      const std::string sent = message(round, 8);
      std::string echoed(8, '\0');
      if (!peer_send_all(peer, sent.data(), 8, timeout_ms) ||
          peer_receive(peer, echoed.data(), 8, timeout_ms) != 8 || echoed != sent) {
        ++peer_errors;
        return;
      }
    }
  });
  buffer in(8, 0xcc);
  for (int round = 0; round < rounds; ++round) {
    call r;
    r.returned = d->WskReceive(s, &in.wsk, WSK_FLAG_WAITALL, r.irp);
    ASSERT_EQ(r.wait(), STATUS_SUCCESS) << round;
    ASSERT_EQ(r.information(), 8u) << round;
    WSK_BUF echo = {in.mdl, 0, 8};
    call w;
    w.returned = d->WskSend(s, &echo, 0, w.irp);
    ASSERT_EQ(w.wait(), STATUS_SUCCESS) << round;
  }
  client.join();
  EXPECT_EQ(peer_errors.load(), 0);
}

// The check of handed reads is one timer per loop over that loop's sockets: on several sockets
// (some sharing a loop) whose reads were handed, receives submitted by threads that never wait
// for them all complete, and the sockets close cleanly while their reads may still be handed.
TEST_P(sync_wait, ReceivesNobodyPollsForCompleteOnSeveralSockets) {
  constexpr int count = 5;
  PWSK_SOCKET sockets[count] = {};
  int peers[count];
  for (int i = 0; i < count; ++i) {
    peers[i] = -1;
    sockets[i] = connected(&peers[i]);
    ASSERT_GE(peers[i], 0);
    ASSERT_NO_FATAL_FAILURE(synchronous_rounds(sockets[i], peers[i], 20));
  }
  std::unique_ptr<buffer> ins[count];
  std::unique_ptr<call> calls[count];
  for (int i = 0; i < count; ++i) {
    ins[i] = std::make_unique<buffer>(16, 0xcc);
    calls[i] = std::make_unique<call>();
    const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(sockets[i]);
    std::thread submitter(
        [&, i] { calls[i]->returned = d->WskReceive(sockets[i], &ins[i]->wsk, 0, calls[i]->irp); });
    submitter.join();
    ASSERT_EQ(calls[i]->returned, STATUS_PENDING) << i;
  }
  pause_ms(10);
  // Answered in an order unlike the sockets' (the list moves sockets as others leave it).
  for (const int i : {3, 0, 4, 1, 2}) {
    const std::string text = "reply" + std::to_string(i);
    ASSERT_TRUE(peer_send_all(peers[i], text.data(), text.size(), timeout_ms)) << i;
  }
  for (int i = 0; i < count; ++i) {
    for (int ms = 0; ms < timeout_ms && !calls[i]->completed(); ++ms) {
      pause_ms(1); // no wait on this thread: nothing here polls the sockets
    }
    ASSERT_TRUE(calls[i]->completed()) << i;
    EXPECT_EQ(calls[i]->wait(), STATUS_SUCCESS) << i;
    EXPECT_EQ(ins[i]->text(calls[i]->information()), "reply" + std::to_string(i)) << i;
  }
  for (int i = 0; i < count; ++i) {
    close_socket(sockets[i]);
    peer_close(peers[i]);
  }
}

// After synchronous rounds, receives that no waiting thread polls for still complete with the
// peer's bytes: one whose thread waits on another object, one whose thread waits on several
// objects (no thread helps such a wait), one submitted by a thread that never waits for it.
TEST_P(sync_wait, ReceivesNobodyPollsForCompleteAfterSynchronousRounds) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  LARGE_INTEGER timeout = relative_ms(timeout_ms);
  buffer in(16, 0xcc);

  ASSERT_NO_FATAL_FAILURE(synchronous_rounds(s, peer, 50));
  {
    call r;
    r.returned = d->WskReceive(s, &in.wsk, 0, r.irp);
    ASSERT_EQ(r.returned, STATUS_PENDING);
    KEVENT other;
    KeInitializeEvent(&other, NotificationEvent, FALSE);
    std::thread setter([&] {
      pause_ms(10);
      KeSetEvent(&other, IO_NO_INCREMENT, FALSE);
    });
    EXPECT_EQ(KeWaitForSingleObject(&other, Executive, KernelMode, FALSE, &timeout),
              STATUS_SUCCESS);
    setter.join();
    ASSERT_TRUE(peer_send_all(peer, "one", 3, timeout_ms));
    PVOID objects[2] = {&other, &r.done};
    KeClearEvent(&other);
    EXPECT_EQ(KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, &timeout,
                                       nullptr),
              STATUS_WAIT_1);
    EXPECT_EQ(r.irp->IoStatus.Status, STATUS_SUCCESS);
    EXPECT_EQ(in.text(r.information()), "one");
  }

  ASSERT_NO_FATAL_FAILURE(synchronous_rounds(s, peer, 50));
  {
    call r;
    r.returned = d->WskReceive(s, &in.wsk, 0, r.irp);
    ASSERT_EQ(r.returned, STATUS_PENDING);
    KEVENT never;
    KeInitializeEvent(&never, NotificationEvent, FALSE);
    std::thread sender([&] {
      pause_ms(10);
      peer_send_all(peer, "two", 3, timeout_ms);
    });
    PVOID objects[2] = {&never, &r.done};
    EXPECT_EQ(KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, &timeout,
                                       nullptr),
              STATUS_WAIT_1);
    sender.join();
    EXPECT_EQ(r.irp->IoStatus.Status, STATUS_SUCCESS);
    EXPECT_EQ(in.text(r.information()), "two");
  }

  ASSERT_NO_FATAL_FAILURE(synchronous_rounds(s, peer, 50));
  {
    call r;
    std::thread submitter([&] { r.returned = d->WskReceive(s, &in.wsk, 0, r.irp); });
    submitter.join();
    ASSERT_EQ(r.returned, STATUS_PENDING);
    pause_ms(10);
    ASSERT_TRUE(peer_send_all(peer, "three", 5, timeout_ms));
    for (int i = 0; i < timeout_ms && !r.completed(); ++i) {
      pause_ms(1); // no wait on this thread either: nothing here polls the socket
    }
    ASSERT_TRUE(r.completed());
    EXPECT_EQ(r.wait(),
              STATUS_SUCCESS); // signalled already: no helper (and the wait orders the reads)
    EXPECT_EQ(in.text(r.information()), "three");
  }
  close_socket(s);
  peer_close(peer);
}

// A send that pends (the peer does not read, the buffers are full) is helped on writability: the
// waiter finishes it once the peer reads, and every byte arrives in order.
TEST_P(sync_wait, APendingSendIsFinishedByItsWaiter) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  constexpr std::size_t size = 16 * 1024 * 1024; // beyond any loopback buffering
  buffer out(size);
  for (std::size_t i = 0; i < size; ++i) {
    out.bytes[i] = static_cast<unsigned char>((i * 131 + 7) % 251);
  }
  call w;
  w.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskSend(s, &out.wsk, 0, w.irp);
  ASSERT_EQ(w.returned, STATUS_PENDING);
  std::vector<unsigned char> received(size);
  std::size_t got = 0;
  std::thread reader([&] {
    pause_ms(20);
    got = peer_receive(peer, received.data(), size, timeout_ms);
  });
  EXPECT_EQ(w.wait(), STATUS_SUCCESS);
  EXPECT_EQ(w.information(), size);
  reader.join();
  ASSERT_EQ(got, size);
  EXPECT_TRUE(received == out.bytes);
  close_socket(s);
  peer_close(peer);
}

} // namespace

// The completion order of the provider's operation queues: per socket and per kind, completion
// routines run in submission order, whether an operation completes inline, from the loop, or
// is started by another operation's completion routine. Against POSIX peers on 127.0.0.1 and
// ::1; every byte is compared, outputs start as 0xdeadbeef.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/timing.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;

struct order : wsk_fixture<> {};

INSTANTIATE_TEST_SUITE_P(Families, order, ::testing::Values(4, 6), family_name);

// Completion routines record the order they ran in; the first one starts another receive.
struct chain {
  std::atomic<int> next{0};
  int position[3] = {-1, -1, -1};
  PWSK_SOCKET socket = nullptr;
  call *later = nullptr; // started from the first completion routine
  WSK_BUF *later_buffer = nullptr;
  NTSTATUS later_returned = static_cast<NTSTATUS>(sentinel);
};
struct step {
  chain *c;
  int index;
  KEVENT done;
};

NTSTATUS NTAPI record(PDEVICE_OBJECT, PIRP, PVOID context) {
  auto *s = static_cast<step *>(context);
  s->c->position[s->index] = s->c->next.fetch_add(1);
  if (s->index == 0) {
    s->c->later_returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s->c->socket)
                               ->WskReceive(s->c->socket, s->c->later_buffer, 0, s->c->later->irp);
  }
  KeSetEvent(&s->done, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

bool wait_step(step &s) {
  LARGE_INTEGER timeout = relative_ms(timeout_ms);
  return KeWaitForSingleObject(&s.done, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS;
}

// Two receives wait; the peer sends six bytes and its FIN. The first receive's completion routine
// starts a third receive, which must complete after the second (with the end of the stream), not
// before it with the bytes the second already holds.
TEST_P(order, ReceiveStartedFromACompletionRoutineFollowsEarlierReceives) {
  for (int round = 0; round < 50; ++round) {
    int peer = -1;
    PWSK_SOCKET s = connected(&peer);
    ASSERT_GE(peer, 0);
    const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
    chain c;
    c.socket = s;
    buffer first(3, 0xcc), second(3, 0xcc), third(3, 0xcc);
    call r1, r2, r3;
    c.later = &r3;
    c.later_buffer = &third.wsk;
    step steps[3] = {{&c, 0, {}}, {&c, 1, {}}, {&c, 2, {}}};
    call *calls[3] = {&r1, &r2, &r3};
    for (int i = 0; i < 3; ++i) {
      KeInitializeEvent(&steps[i].done, NotificationEvent, FALSE);
      IoSetCompletionRoutine(calls[i]->irp, record, &steps[i], TRUE, TRUE, TRUE);
    }
    r1.returned = d->WskReceive(s, &first.wsk, 0, r1.irp);
    r2.returned = d->WskReceive(s, &second.wsk, 0, r2.irp);
    ASSERT_EQ(r1.returned, STATUS_PENDING);
    ASSERT_EQ(r2.returned, STATUS_PENDING);
    ASSERT_TRUE(peer_send_all(peer, "abcdef", 6, timeout_ms));
    peer_shutdown_send(peer);
    for (step &st : steps) {
      ASSERT_TRUE(wait_step(st)) << "round " << round;
    }
    EXPECT_EQ(c.position[0], 0) << "round " << round;
    EXPECT_EQ(c.position[1], 1) << "round " << round;
    EXPECT_EQ(c.position[2], 2) << "round " << round;
    EXPECT_EQ(r1.irp->IoStatus.Status, STATUS_SUCCESS);
    EXPECT_EQ(r2.irp->IoStatus.Status, STATUS_SUCCESS);
    EXPECT_EQ(r3.irp->IoStatus.Status, STATUS_SUCCESS);
    EXPECT_EQ(first.text(r1.information()), "abc");
    EXPECT_EQ(second.text(r2.information()), "def");
    EXPECT_EQ(r3.information(), 0u) << "the end of the stream comes last";
    // Started while the second receive's completion was still due: it pends.
    EXPECT_EQ(c.later_returned, STATUS_PENDING);
    close_socket(s);
    peer_close(peer);
  }
}

// Sends started back to back, some completing inline and some waiting for room, reach the peer
// in submission order, and their completion routines run in that order.
TEST_P(order, SendsCompleteInSubmissionOrder) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  constexpr int count = 64;
  constexpr std::size_t size = 64 * 1024; // several times the socket buffers: most sends wait
  chain c;                                // only for its counter
  std::vector<std::unique_ptr<buffer>> buffers;
  std::vector<std::unique_ptr<call>> calls;
  std::vector<step> steps(count);
  std::vector<int> positions(count, -1);
  for (int i = 0; i < count; ++i) {
    buffers.push_back(std::make_unique<buffer>(size));
    for (std::size_t b = 0; b < size; ++b) {
      buffers.back()->bytes[b] = static_cast<unsigned char>((i * size + b) % 251);
    }
    calls.push_back(std::make_unique<call>());
    steps[i] = {&c, 1, {}}; // index 1: record without starting anything
    KeInitializeEvent(&steps[i].done, NotificationEvent, FALSE);
    IoSetCompletionRoutine(
        calls.back()->irp,
        [](PDEVICE_OBJECT, PIRP irp, PVOID context) {
          auto *st = static_cast<step *>(context);
          irp->IoStatus.Information |= static_cast<ULONG_PTR>(st->c->next.fetch_add(1)) << 32;
          KeSetEvent(&st->done, IO_NO_INCREMENT, FALSE);
          return static_cast<NTSTATUS>(STATUS_MORE_PROCESSING_REQUIRED);
        },
        &steps[i], TRUE, TRUE, TRUE);
    calls.back()->returned = d->WskSend(s, &buffers.back()->wsk, 0, calls.back()->irp);
    ASSERT_TRUE(calls.back()->returned == STATUS_SUCCESS ||
                calls.back()->returned == STATUS_PENDING);
  }
  std::vector<unsigned char> got(count * size);
  ASSERT_EQ(peer_receive(peer, got.data(), got.size(), 20000), got.size());
  for (std::size_t b = 0; b < got.size(); ++b) {
    ASSERT_EQ(got[b], static_cast<unsigned char>(b % 251)) << "first difference at byte " << b;
  }
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(wait_step(steps[i]));
    EXPECT_EQ(calls[i]->irp->IoStatus.Status, STATUS_SUCCESS);
    EXPECT_EQ(calls[i]->information() & 0xffffffffu, size);
    EXPECT_EQ(static_cast<int>(calls[i]->information() >> 32), i) << "send " << i;
  }
  close_socket(s);
  peer_close(peer);
}

} // namespace

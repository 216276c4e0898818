// The data path's system-call rules and batching, through the dispatch tables against POSIX
// peers: after a short read the provider waits for readiness instead of reading again, which
// must never lose data (more data, a FIN, urgent data), and WskSendMessages sends its list in
// sendmmsg batches, in order, whatever the list's length and fragmentation.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/urgent_peer.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;

struct hotpath : wsk_fixture<> {
  // One WskReceive into `in`; returns the IRP's final status, *bytes its Information.
  NTSTATUS receive(PWSK_SOCKET s, buffer &in, ULONG_PTR *bytes, NTSTATUS *returned = nullptr) {
    call c;
    c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &in.wsk, 0, c.irp);
    const NTSTATUS status = c.wait();
    *bytes = c.information();
    if (returned != nullptr) {
      *returned = c.returned;
    }
    return status;
  }
  // Receives until `expected.size()` bytes arrived (at most `rounds` receives); returns them.
  std::string receive_text(PWSK_SOCKET s, std::size_t expected, int rounds) {
    std::string got;
    for (int i = 0; i < rounds && got.size() < expected; ++i) {
      buffer in(256, 0xcc);
      ULONG_PTR bytes = 0;
      const NTSTATUS status = receive(s, in, &bytes);
      EXPECT_EQ(status, STATUS_SUCCESS) << "receive " << i;
      if (status != STATUS_SUCCESS || bytes == 0) {
        break;
      }
      got += in.text(bytes);
    }
    return got;
  }
};

INSTANTIATE_TEST_SUITE_P(Families, hotpath, ::testing::Values(4, 6), family_name);

TEST_P(hotpath, AReceiveAfterAShortReadWaitsForTheNextData) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  for (int round = 0; round < 20; ++round) {
    const std::string text = "message " + std::to_string(round);
    // Posted first or after the data arrived, alternately: both must find the bytes.
    if (round % 2 == 0) {
      ASSERT_TRUE(peer_send_all(peer, text.data(), text.size(), timeout_ms));
      EXPECT_EQ(receive_text(s, text.size(), 4), text);
    } else {
      buffer in(256, 0xcc);
      call c;
      c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskReceive(s, &in.wsk, 0, c.irp);
      ASSERT_TRUE(peer_send_all(peer, text.data(), text.size(), timeout_ms));
      ASSERT_EQ(c.wait(), STATUS_SUCCESS) << round;
      std::string got = in.text(c.information());
      if (got.size() < text.size()) {
        got += receive_text(s, text.size() - got.size(), 4);
      }
      EXPECT_EQ(got, text);
    }
  }
  peer_close(peer);
  close_socket(s);
}

TEST_P(hotpath, TheFinAfterAShortReadEndsTheStream) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  ASSERT_TRUE(peer_send_all(peer, "last words", 10, timeout_ms));
  peer_shutdown_send(peer);
  std::this_thread::sleep_for(std::chrono::milliseconds(50)); // as in the urgent-data test
  EXPECT_EQ(receive_text(s, 10, 4), "last words");
  buffer in(64, 0xcc);
  ULONG_PTR bytes = sentinel;
  EXPECT_EQ(receive(s, in, &bytes), STATUS_SUCCESS);
  EXPECT_EQ(bytes, 0u);
  peer_close(peer);
  close_socket(s);
}

TEST_P(hotpath, UrgentDataDoesNotStallTheStream) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  // TCP ends a read at the urgent mark with the rest of the data queued: the provider must not
  // take that short read for an empty queue.
  // The pause lets the loop see the readiness before the first read, so the reads that follow
  // get no further report (the test does not depend on how long the pause is).
  ASSERT_TRUE(peer_send_all(peer, "abc", 3, timeout_ms));
  ASSERT_TRUE(peer_send_urgent(peer, '!'));
  ASSERT_TRUE(peer_send_all(peer, "def", 3, timeout_ms));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(receive_text(s, 6, 6), "abcdef");
  ASSERT_TRUE(peer_send_all(peer, "ghi", 3, timeout_ms));
  ASSERT_TRUE(peer_send_urgent(peer, '?'));
  ASSERT_TRUE(peer_send_all(peer, "jkl", 3, timeout_ms));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(receive_text(s, 6, 6), "ghijkl");
  peer_close(peer);
  close_socket(s);
}

struct datagram_list {
  std::vector<std::string> texts;
  std::vector<std::vector<unsigned char>> storage;
  std::vector<PMDL> mdls;
  std::vector<WSK_BUF_LIST> list;
  SIZE_T total = 0;

  // Each datagram `length` bytes (at least 12) in `pieces` MDLs (the last piece takes what is
  // left).
  datagram_list(int count, std::size_t pieces, std::size_t length) : storage(count), list(count) {
    for (int i = 0; i < count; ++i) {
      char text[32];
      std::snprintf(text, sizeof(text), "datagram %03d", i);
      texts.emplace_back(text);
      texts[i].resize(length < texts[i].size() ? texts[i].size() : length, 'x');
      storage[i].assign(texts[i].begin(), texts[i].end());
      const std::size_t n = storage[i].size() < pieces ? storage[i].size() : pieces;
      PMDL first = nullptr;
      PMDL last = nullptr;
      std::size_t offset = 0;
      for (std::size_t p = 0; p < n; ++p) {
        const std::size_t length = p + 1 < n ? 1 : storage[i].size() - offset;
        PMDL mdl = IoAllocateMdl(storage[i].data() + offset, static_cast<ULONG>(length), FALSE,
                                 FALSE, nullptr);
        MmBuildMdlForNonPagedPool(mdl);
        mdls.push_back(mdl);
        (first == nullptr ? first : last->Next) = mdl;
        last = mdl;
        offset += length;
      }
      list[i].Next = i + 1 < count ? &list[i + 1] : nullptr;
      list[i].Buffer = {first, 0, storage[i].size()};
      total += storage[i].size();
    }
  }
  ~datagram_list() {
    for (PMDL mdl : mdls) {
      IoFreeMdl(mdl);
    }
  }
  datagram_list(const datagram_list &) = delete;
  datagram_list &operator=(const datagram_list &) = delete;
};

void send_messages_and_check(hotpath &t, int count, std::size_t pieces, std::size_t length = 12) {
  unsigned short peer_port = 0;
  const int peer = peer_udp(t.family(), &peer_port);
  ASSERT_GE(peer, 0);
  PWSK_SOCKET s = t.make_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  ASSERT_EQ(bind_socket(s, loopback(t.family(), 0)), STATUS_SUCCESS);
  datagram_list datagrams(count, pieces, length);
  address remote = loopback(t.family(), peer_port);
  call c;
  c.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskSendMessages(
      s, datagrams.list.data(), 0, &remote.sa, 0, nullptr, c.irp);
  ASSERT_EQ(c.wait(), STATUS_SUCCESS);
  EXPECT_EQ(c.information(), datagrams.total);
  for (int i = 0; i < count; ++i) {
    char in[512];
    const long got = peer_udp_receive(peer, in, sizeof(in), nullptr, timeout_ms);
    ASSERT_GT(got, 0) << i;
    EXPECT_EQ(std::string(in, static_cast<std::size_t>(got)), datagrams.texts[i]);
  }
  close_socket(s);
  peer_close(peer);
}

TEST_P(hotpath, SendMessagesSendsALongListInOrder) {
  send_messages_and_check(*this, 150, 1); // more than one sendmmsg takes
}

TEST_P(hotpath, SendMessagesSendsFragmentedDatagramsInOrder) {
  // 12 pieces each: the shared iovec array fills after 21 datagrams, so batches end early.
  send_messages_and_check(*this, 40, 12);
}

TEST_P(hotpath, SendMessagesSendsAloneADatagramOfManyPieces) {
  // 300 pieces: more than one batch's iovec array, so each goes out by itself.
  send_messages_and_check(*this, 3, 300, 300);
}

} // namespace

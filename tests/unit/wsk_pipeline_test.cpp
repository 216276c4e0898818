// Pipelined streams between WSK sockets: hundreds of connections at a time, each end keeping
// several WskReceive and WskSend IRPs of random sizes queued at once (some receives
// WSK_FLAG_WAITALL), then a graceful WskDisconnect (half-close) while it keeps receiving until
// the peer's end of stream. Every byte is compared with the pattern its sender wrote. On the
// io_uring engine the queued receives go to the ring as linked chains and the sends one at a
// time (docs/design.md, "Ring I/O"); on epoll they move on readiness. Then cancellation in the
// middle of a chain, and WAITALL receives among plain ones.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/timing.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;

constexpr int depth = 4;                // IRPs queued per direction and end
constexpr std::size_t max_chunk = 2048; // bytes per IRP, at most

// One run's shape: connections, the bytes each end sends (at random in [min_total, max_total)),
// and the most a receive asks for (at most max_chunk).
struct pipeline_shape {
  int connections = 500;
  std::size_t min_total = 16 * 1024;
  std::size_t max_total = 48 * 1024;
  std::size_t max_receive = max_chunk;
};

// The byte at `position` of the stream seeded `seed`.
unsigned char pattern(std::uint32_t seed, std::size_t position) {
  std::uint32_t x = static_cast<std::uint32_t>(position >> 2) * 2654435761u ^ seed;
  x ^= x >> 15;
  x *= 2246822519u;
  return static_cast<unsigned char>(x >> (8 * (position & 3)));
}

struct end;

// One IRP with its buffer, reused for one send or receive after another.
struct slot {
  end *owner = nullptr;
  PIRP irp = IoAllocateIrp(1, FALSE);
  std::vector<unsigned char> bytes = std::vector<unsigned char>(max_chunk);
  PMDL mdl = nullptr;
  WSK_BUF wsk{};
  std::size_t asked = 0;
  ULONG flags = 0;
  slot() {
    mdl = IoAllocateMdl(bytes.data(), static_cast<ULONG>(bytes.size()), FALSE, FALSE, nullptr);
    MmBuildMdlForNonPagedPool(mdl);
  }
  ~slot() {
    IoFreeMdl(mdl);
    IoFreeIrp(irp);
  }
  slot(const slot &) = delete;
  slot &operator=(const slot &) = delete;
};

struct shared_state {
  std::atomic<int> ends_done{0};
  std::atomic<int> failures{0};
  std::atomic<std::uint64_t> bytes_checked{0};
  std::mutex note_lock;
  std::string first_failure;
  void fail(const std::string &what) {
    if (failures.fetch_add(1) == 0) {
      std::lock_guard guard(note_lock);
      first_failure = what;
    }
  }
};

// One end of a connection: sends its stream (seed_out, total_out) and checks the peer's.
struct end {
  shared_state *shared = nullptr;
  PWSK_SOCKET socket = nullptr;
  int id = 0;
  std::uint32_t seed_out = 0;
  std::uint32_t seed_in = 0;
  std::size_t total_out = 0;
  std::size_t total_in = 0;
  std::size_t max_receive = max_chunk;
  // Sizes and flags: one generator per half, each used under that half's lock.
  std::mt19937 send_random;
  std::mt19937 receive_random;
  // Sending: submissions are serialised so that the stream's bytes are assigned in the order
  // their IRPs are queued (a completion routine may submit while the test thread does).
  std::recursive_mutex send_lock;
  std::size_t assigned = 0;
  int sends_active = 0;
  bool disconnected = false;
  call disconnect;
  // Receiving: completion routines of one queue run one at a time, in submission order.
  std::recursive_mutex receive_lock;
  std::size_t received = 0;
  bool end_of_stream = false;
  int receives_active = 0;
  bool receive_finished = false;
  std::atomic<int> halves_done{0}; // the receiving half and the sending half, when each ends
  slot sends[depth];
  slot receives[depth];

  const WSK_PROVIDER_CONNECTION_DISPATCH *dispatch() const {
    return of<WSK_PROVIDER_CONNECTION_DISPATCH>(socket);
  }
  void fail(const char *what, NTSTATUS status, std::size_t at) {
    char text[200];
    std::snprintf(text, sizeof text, "end %d: %s (status 0x%08x at byte %zu)", id, what,
                  static_cast<unsigned>(status), at);
    shared->fail(text);
  }
  // Each half reports once, holding neither lock (a completion routine may run inside a WSK
  // call made under the other half's lock).
  void half_done() {
    if (halves_done.fetch_add(1) == 1) {
      shared->ends_done.fetch_add(1);
    }
  }

  // ---- sending
  void send_next(slot &s) {
    std::lock_guard guard(send_lock);
    if (assigned == total_out) {
      if (sends_active == 0 && !disconnected) {
        disconnected = true;
        IoReuseIrp(disconnect.irp, STATUS_SUCCESS);
        IoSetCompletionRoutine(disconnect.irp, on_disconnected, this, TRUE, TRUE, TRUE);
        dispatch()->WskDisconnect(socket, nullptr, 0, disconnect.irp);
      }
      return;
    }
    const std::size_t n =
        std::min<std::size_t>(total_out - assigned, 1 + send_random() % max_chunk);
    for (std::size_t i = 0; i < n; ++i) {
      s.bytes[i] = pattern(seed_out, assigned + i);
    }
    assigned += n;
    s.asked = n;
    s.wsk = {s.mdl, 0, n};
    ++sends_active;
    IoReuseIrp(s.irp, STATUS_SUCCESS);
    IoSetCompletionRoutine(s.irp, on_sent, &s, TRUE, TRUE, TRUE);
    dispatch()->WskSend(socket, &s.wsk, 0, s.irp);
  }
  static NTSTATUS NTAPI on_sent(PDEVICE_OBJECT, PIRP irp, PVOID context) {
    auto &s = *static_cast<slot *>(context);
    end &e = *s.owner;
    {
      std::lock_guard guard(e.send_lock);
      --e.sends_active;
      if (irp->IoStatus.Status != STATUS_SUCCESS || irp->IoStatus.Information != s.asked) {
        e.fail("a send failed or was short", irp->IoStatus.Status, e.assigned);
        e.assigned = e.total_out; // stop sending; the disconnect still ends the stream
      }
    }
    e.send_next(s);
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
  static NTSTATUS NTAPI on_disconnected(PDEVICE_OBJECT, PIRP irp, PVOID context) {
    end &e = *static_cast<end *>(context);
    if (irp->IoStatus.Status != STATUS_SUCCESS) {
      e.fail("the graceful disconnect failed", irp->IoStatus.Status, e.assigned);
    }
    e.half_done();
    return STATUS_MORE_PROCESSING_REQUIRED;
  }

  // ---- receiving
  void receive_next(slot &s) {
    std::lock_guard guard(receive_lock);
    if (end_of_stream) {
      return;
    }
    s.asked = 1 + receive_random() % max_receive;
    s.flags = receive_random() % 4 == 0 ? WSK_FLAG_WAITALL : 0;
    s.wsk = {s.mdl, 0, s.asked};
    std::memset(s.bytes.data(), 0xee, s.asked);
    ++receives_active;
    IoReuseIrp(s.irp, STATUS_SUCCESS);
    IoSetCompletionRoutine(s.irp, on_received, &s, TRUE, TRUE, TRUE);
    dispatch()->WskReceive(socket, &s.wsk, s.flags, s.irp);
  }
  static NTSTATUS NTAPI on_received(PDEVICE_OBJECT, PIRP irp, PVOID context) {
    auto &s = *static_cast<slot *>(context);
    end &e = *s.owner;
    bool again = false;
    bool finished = false;
    {
      std::lock_guard guard(e.receive_lock);
      --e.receives_active;
      const std::size_t n = irp->IoStatus.Information;
      if (irp->IoStatus.Status != STATUS_SUCCESS) {
        e.fail("a receive failed", irp->IoStatus.Status, e.received);
        e.end_of_stream = true;
      } else if (n == 0) {
        if (!e.end_of_stream && e.received != e.total_in) {
          e.fail("the stream ended early", STATUS_SUCCESS, e.received);
        }
        e.end_of_stream = true;
      } else if (e.end_of_stream) {
        e.fail("bytes after the end of the stream", STATUS_SUCCESS, e.received);
      } else {
        if (n > s.asked ||
            ((s.flags & WSK_FLAG_WAITALL) != 0 && n != s.asked && e.received + n != e.total_in)) {
          e.fail("a receive returned a wrong length", STATUS_SUCCESS, e.received);
        }
        for (std::size_t i = 0; i < n; ++i) {
          if (s.bytes[i] != pattern(e.seed_in, e.received + i)) {
            e.fail("a byte differs from what its sender wrote", STATUS_SUCCESS, e.received + i);
            break;
          }
        }
        e.received += n;
        e.shared->bytes_checked.fetch_add(n, std::memory_order_relaxed);
        again = true;
      }
      if (!again && e.receives_active == 0 && !e.receive_finished) {
        e.receive_finished = true;
        finished = true;
      }
    }
    if (again) {
      e.receive_next(s);
    }
    if (finished) {
      e.half_done();
    }
    return STATUS_MORE_PROCESSING_REQUIRED;
  }

  void start() {
    for (slot &s : receives) {
      s.owner = this;
      receive_next(s);
    }
    for (slot &s : sends) {
      s.owner = this;
      send_next(s);
    }
  }
};

struct pipeline : wsk_fixture<> {};

INSTANTIATE_TEST_SUITE_P(Families, pipeline, ::testing::Values(4, 6), family_name);

// Runs `shape` between WSK sockets of the fixture's family, seeded `seed`.
void run_pipeline(wsk_fixture<> &t, const pipeline_shape &shape, std::uint32_t seed) {
  const int connections = shape.connections;
  unsigned short port = 0;
  PWSK_SOCKET listener = t.bound_listener(&port);
  ASSERT_NE(listener, nullptr);
  shared_state shared;
  std::mt19937 random(seed + static_cast<unsigned>(t.family()));
  std::vector<std::unique_ptr<end>> ends;
  ends.reserve(2 * connections);
  for (int i = 0; i < connections; ++i) {
    call accepted;
    accepted.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(listener)->WskAccept(
        listener, 0, nullptr, nullptr, nullptr, nullptr, accepted.irp);
    PWSK_SOCKET client = t.make_bound_socket(WSK_FLAG_CONNECTION_SOCKET);
    ASSERT_NE(client, nullptr);
    address remote = loopback(t.family(), port);
    call connect;
    connect.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(client)->WskConnect(client, &remote.sa,
                                                                                0, connect.irp);
    ASSERT_EQ(connect.wait(), STATUS_SUCCESS) << "connection " << i;
    ASSERT_EQ(accepted.wait(), STATUS_SUCCESS) << "connection " << i;
    auto server = reinterpret_cast<PWSK_SOCKET>(accepted.information());
    ASSERT_NE(server, nullptr);
    auto a = std::make_unique<end>();
    auto b = std::make_unique<end>();
    a->socket = client;
    b->socket = server;
    a->id = 2 * i;
    b->id = 2 * i + 1;
    a->seed_out = b->seed_in = static_cast<std::uint32_t>(random());
    b->seed_out = a->seed_in = static_cast<std::uint32_t>(random());
    const std::size_t spread = shape.max_total - shape.min_total;
    a->total_out = b->total_in = shape.min_total + random() % spread;
    b->total_out = a->total_in = shape.min_total + random() % spread;
    a->max_receive = b->max_receive = shape.max_receive;
    for (end *e : {a.get(), b.get()}) {
      e->send_random.seed(static_cast<unsigned>(random()));
      e->receive_random.seed(static_cast<unsigned>(random()));
    }
    a->shared = b->shared = &shared;
    ends.push_back(std::move(a));
    ends.push_back(std::move(b));
  }
  std::uint64_t expected_bytes = 0;
  for (auto &e : ends) {
    expected_bytes += e->total_in;
  }
  for (auto &e : ends) {
    e->start();
  }
  // Bounded: two minutes at most, checked every 10 ms.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (shared.ends_done.load() < 2 * connections && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(shared.ends_done.load(), 2 * connections) << "ends that did not finish in time";
  EXPECT_EQ(shared.failures.load(), 0) << shared.first_failure;
  EXPECT_EQ(shared.bytes_checked.load(), expected_bytes);
  if (shared.ends_done.load() != 2 * connections) {
    std::abort(); // IRPs are still queued on buffers this test would free
  }
  for (auto &e : ends) {
    close_socket(e->socket);
  }
  close_socket(listener);
}

TEST_P(pipeline, ManyConnectionsPipelineRandomSizesAndEveryByteArrivesInOrder) {
  run_pipeline(*this, pipeline_shape{}, 20261206u);
}

// Thousands of connections (in waves of 500, for the descriptors), each end keeping four small
// receives of random sizes queued (up to 300 bytes: on io_uring whole chains in the kernel),
// ended by a half-close each way.
TEST_P(pipeline, ThousandsOfConnectionsPipelineSmallReceivesAndHalfCloseInOrder) {
  constexpr int waves = 4;
  pipeline_shape shape;
  shape.connections = 500;
  shape.min_total = 1024;
  shape.max_total = 6 * 1024;
  shape.max_receive = 300;
  for (int wave = 0; wave < waves && !HasFailure(); ++wave) {
    run_pipeline(*this, shape, 777u * static_cast<std::uint32_t>(wave + 1));
  }
}

} // namespace

namespace {

// ---- Cancellation and close of receives the engine holds (docs/design.md, "Ring I/O") -------

struct in_flight : wsk_fixture<> {};

INSTANTIATE_TEST_SUITE_P(Families, in_flight, ::testing::Values(4, 6), family_name);

// Lets the socket's loop take over what was just parked (on io_uring: submit it to the ring).
void let_the_loop_run() {
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

TEST_P(in_flight, CancellingTheReceiveAtTheHeadCompletesItOnceAndTheNextGetsTheData) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  buffer first(8, 0xcc), second(8, 0xcc);
  call r1, r2;
  r1.returned = d->WskReceive(s, &first.wsk, 0, r1.irp);
  r2.returned = d->WskReceive(s, &second.wsk, 0, r2.irp);
  ASSERT_EQ(r1.returned, STATUS_PENDING);
  ASSERT_EQ(r2.returned, STATUS_PENDING);
  let_the_loop_run();
  EXPECT_TRUE(IoCancelIrp(r1.irp));
  EXPECT_EQ(r1.wait(), STATUS_CANCELLED);
  EXPECT_EQ(r1.information(), 0u);
  EXPECT_FALSE(r2.completed());
  ASSERT_TRUE(peer_send_all(peer, "abc", 3, timeout_ms));
  EXPECT_EQ(r2.wait(), STATUS_SUCCESS);
  EXPECT_EQ(second.text(r2.information()), "abc");
  close_socket(s);
  peer_close(peer);
}

TEST_P(in_flight, ACancelledWaitAllReceiveKeepsTheBytesItAlreadyHas) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  buffer in(6, 0xcc), rest(6, 0xcc);
  call r;
  r.returned = d->WskReceive(s, &in.wsk, WSK_FLAG_WAITALL, r.irp);
  ASSERT_EQ(r.returned, STATUS_PENDING);
  ASSERT_TRUE(peer_send_all(peer, "abc", 3, timeout_ms));
  sleep_ms(50);
  ASSERT_FALSE(r.completed());
  EXPECT_TRUE(IoCancelIrp(r.irp));
  EXPECT_EQ(r.wait(), STATUS_SUCCESS);
  EXPECT_EQ(r.information(), 3u);
  EXPECT_EQ(in.text(3), "abc");
  call next;
  next.returned = d->WskReceive(s, &rest.wsk, 0, next.irp);
  ASSERT_TRUE(peer_send_all(peer, "def", 3, timeout_ms));
  EXPECT_EQ(next.wait(), STATUS_SUCCESS);
  EXPECT_EQ(rest.text(next.information()), "def");
  close_socket(s);
  peer_close(peer);
}

// The peer's bytes and the cancellation race: each cancelled receive completes exactly once,
// either with the bytes it got or with STATUS_CANCELLED and none, and the receives after it
// get the rest, so the stream arrives whole and in order.
TEST_P(in_flight, CancellationRacingArrivingDataLosesNoByte) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  std::string sent;
  std::string got;
  int cancelled = 0;
  for (int round = 0; round < 200; ++round) {
    // Appended rather than `"<" + ... + ">"`: g++ 12 at -O3 reports a false -Wrestrict there.
    std::string chunk = "<";
    chunk.append(std::to_string(round)).push_back('>');
    buffer in(chunk.size(), 0xcc);
    call r;
    r.returned = d->WskReceive(s, &in.wsk, 0, r.irp);
    if (round % 2 == 0) {
      let_the_loop_run(); // sometimes in the kernel already, sometimes still queued
    }
    ASSERT_TRUE(peer_send_all(peer, chunk.data(), chunk.size(), timeout_ms));
    sent += chunk;
    IoCancelIrp(r.irp);
    const NTSTATUS status = r.wait();
    if (status == STATUS_CANCELLED) {
      ++cancelled;
      EXPECT_EQ(r.information(), 0u);
    } else {
      ASSERT_EQ(status, STATUS_SUCCESS) << "round " << round;
      got += in.text(r.information());
    }
  }
  // What the cancelled receives left is still queued in the socket, in order.
  for (int i = 0; i < 1000 && got.size() < sent.size(); ++i) {
    buffer in(256, 0xcc);
    call r;
    r.returned = d->WskReceive(s, &in.wsk, 0, r.irp);
    ASSERT_EQ(r.wait(), STATUS_SUCCESS);
    ASSERT_NE(r.information(), 0u);
    got += in.text(r.information());
  }
  EXPECT_EQ(got, sent);
  RecordProperty("cancelled", cancelled);
  close_socket(s);
  peer_close(peer);
}

// WskCloseSocket with receives and sends queued, the head of each in the kernel: every IRP
// completes once (the close last), and the descriptor is closed only after the kernel let go.
TEST_P(in_flight, CloseWithRequestsInTheKernelCompletesEveryIrpOnce) {
  for (int round = 0; round < 20; ++round) {
    int peer = -1;
    PWSK_SOCKET s = connected(&peer);
    ASSERT_GE(peer, 0);
    const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
    std::vector<std::unique_ptr<buffer>> buffers;
    std::vector<std::unique_ptr<call>> receives;
    std::vector<std::unique_ptr<call>> sends;
    for (int i = 0; i < 3; ++i) {
      buffers.push_back(std::make_unique<buffer>(16, 0xcc));
      receives.push_back(std::make_unique<call>());
      receives.back()->returned = d->WskReceive(s, &buffers.back()->wsk, 0, receives.back()->irp);
      EXPECT_EQ(receives.back()->returned, STATUS_PENDING);
    }
    // Sends larger than the socket buffers, which the peer does not read: they wait.
    for (int i = 0; i < 3; ++i) {
      buffers.push_back(std::make_unique<buffer>(4 * 1024 * 1024, 0x5a));
      sends.push_back(std::make_unique<call>());
      sends.back()->returned = d->WskSend(s, &buffers.back()->wsk, 0, sends.back()->irp);
    }
    let_the_loop_run();
    close_socket(s);
    for (auto &r : receives) {
      EXPECT_EQ(r->wait(), STATUS_CANCELLED) << "round " << round;
    }
    for (auto &c : sends) {
      const NTSTATUS status = c->wait();
      // A send part-sent when the close came completes with what it sent.
      EXPECT_TRUE(status == STATUS_CANCELLED || status == STATUS_SUCCESS) << "round " << round;
    }
    peer_close(peer);
  }
}

// Three receives queued (on io_uring one chain in the kernel, the second and third not yet
// started): IoCancelIrp on the middle one completes it at once with STATUS_CANCELLED, and the
// first and third then get the peer's bytes in stream order.
TEST_P(in_flight, CancellingAMiddleReceiveKeepsTheOthersInStreamOrder) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  buffer first(8, 0xcc), middle(8, 0xcc), last(8, 0xcc);
  call r1, r2, r3;
  r1.returned = d->WskReceive(s, &first.wsk, 0, r1.irp);
  r2.returned = d->WskReceive(s, &middle.wsk, 0, r2.irp);
  r3.returned = d->WskReceive(s, &last.wsk, 0, r3.irp);
  ASSERT_EQ(r1.returned, STATUS_PENDING);
  ASSERT_EQ(r2.returned, STATUS_PENDING);
  ASSERT_EQ(r3.returned, STATUS_PENDING);
  let_the_loop_run();
  EXPECT_TRUE(IoCancelIrp(r2.irp));
  EXPECT_EQ(r2.wait(), STATUS_CANCELLED);
  EXPECT_EQ(r2.information(), 0u);
  EXPECT_FALSE(r1.completed());
  EXPECT_FALSE(r3.completed());
  ASSERT_TRUE(peer_send_all(peer, "abcdefgh", 8, timeout_ms));
  EXPECT_EQ(r1.wait(), STATUS_SUCCESS);
  EXPECT_EQ(first.text(r1.information()), "abcdefgh");
  sleep_ms(20);
  EXPECT_FALSE(r3.completed());
  ASSERT_TRUE(peer_send_all(peer, "ijk", 3, timeout_ms));
  EXPECT_EQ(r3.wait(), STATUS_SUCCESS);
  EXPECT_EQ(last.text(r3.information()), "ijk");
  close_socket(s);
  peer_close(peer);
}

// The middle of three queued receives cancelled while the peer's bytes arrive: whichever way
// each race goes, every receive completes once (the middle one with bytes or with
// STATUS_CANCELLED and none), and what the three got, in queue order, followed by what stays in
// the socket, is the stream as sent.
TEST_P(in_flight, CancellingAMiddleReceiveWhileBytesArriveLosesNoByteAndKeepsOrder) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  std::mt19937 random(4242u);
  std::string sent;
  std::string got;
  int cancelled = 0;
  for (int round = 0; round < 150; ++round) {
    buffer a(4, 0xcc), b(4, 0xcc), c(64, 0xcc);
    call r1, r2, r3;
    r1.returned = d->WskReceive(s, &a.wsk, 0, r1.irp);
    r2.returned = d->WskReceive(s, &b.wsk, 0, r2.irp);
    r3.returned = d->WskReceive(s, &c.wsk, 0, r3.irp);
    if (round % 3 != 0) {
      let_the_loop_run(); // sometimes the chain is in the kernel already, sometimes not
    }
    std::string chunk;
    const std::size_t length = 1 + random() % 12;
    for (std::size_t i = 0; i < length; ++i) {
      chunk += static_cast<char>('a' + (sent.size() + i) % 26);
    }
    ASSERT_TRUE(peer_send_all(peer, chunk.data(), chunk.size(), timeout_ms));
    sent += chunk;
    if (round % 2 == 0) {
      sleep_ms(1);
    }
    IoCancelIrp(r2.irp);
    ASSERT_EQ(r1.wait(), STATUS_SUCCESS) << "round " << round;
    ASSERT_NE(r1.information(), 0u) << "round " << round;
    const NTSTATUS middle = r2.wait();
    ASSERT_TRUE(middle == STATUS_SUCCESS || middle == STATUS_CANCELLED) << "round " << round;
    if (middle == STATUS_CANCELLED) {
      ++cancelled;
      EXPECT_EQ(r2.information(), 0u);
    }
    // The third gets at least this marker (it may hold bytes of the chunk before it).
    ASSERT_TRUE(peer_send_all(peer, ".", 1, timeout_ms));
    sent += ".";
    ASSERT_EQ(r3.wait(), STATUS_SUCCESS) << "round " << round;
    got += a.text(r1.information());
    if (middle == STATUS_SUCCESS) {
      got += b.text(r2.information());
    }
    got += c.text(r3.information());
    ASSERT_EQ(got, sent.substr(0, got.size())) << "round " << round;
  }
  for (int i = 0; i < 1000 && got.size() < sent.size(); ++i) {
    buffer in(256, 0xcc);
    call r;
    r.returned = d->WskReceive(s, &in.wsk, 0, r.irp);
    ASSERT_EQ(r.wait(), STATUS_SUCCESS);
    ASSERT_NE(r.information(), 0u);
    got += in.text(r.information());
  }
  EXPECT_EQ(got, sent);
  RecordProperty("cancelled", cancelled);
  close_socket(s);
  peer_close(peer);
}

// A WSK_FLAG_WAITALL receive among plain ones, the peer sending in small pieces: the WAITALL
// one completes only full, and the receives before and after it get their bytes in order.
TEST_P(in_flight, WaitAllReceiveAmongPlainOnesCompletesFullAndInOrder) {
  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  const auto *d = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  for (int round = 0; round < 20; ++round) {
    constexpr int count = 6;
    const ULONG flags[count] = {0, WSK_FLAG_WAITALL, 0, 0, WSK_FLAG_WAITALL, 0};
    const std::size_t sizes[count] = {5, 10, 3, 7, 9, 4};
    std::vector<std::unique_ptr<buffer>> buffers;
    std::vector<std::unique_ptr<call>> receives;
    for (int i = 0; i < count; ++i) {
      buffers.push_back(std::make_unique<buffer>(sizes[i], 0xcc));
      receives.push_back(std::make_unique<call>());
      receives.back()->returned =
          d->WskReceive(s, &buffers.back()->wsk, flags[i], receives.back()->irp);
    }
    let_the_loop_run();
    // 38 bytes in pieces of 1 to 4, some with a pause, enough for all six.
    std::string sent;
    for (int i = 0; sent.size() < 38; ++i) {
      const std::size_t piece = std::min<std::size_t>(38 - sent.size(), 1 + (i * 7 + round) % 4);
      std::string bytes;
      for (std::size_t k = 0; k < piece; ++k) {
        bytes += static_cast<char>('A' + (sent.size() + k) % 26);
      }
      ASSERT_TRUE(peer_send_all(peer, bytes.data(), bytes.size(), timeout_ms));
      sent += bytes;
      if (i % 3 == 0) {
        sleep_ms(2);
      }
    }
    std::string got;
    for (int i = 0; i < count; ++i) {
      ASSERT_EQ(receives[i]->wait(), STATUS_SUCCESS) << "round " << round << " receive " << i;
      const std::size_t n = receives[i]->information();
      if (flags[i] == WSK_FLAG_WAITALL) {
        EXPECT_EQ(n, sizes[i]) << "round " << round << " receive " << i;
      }
      got += buffers[i]->text(n);
    }
    // What the six did not take (plain receives may return short) is read next.
    for (int i = 0; i < 100 && got.size() < sent.size(); ++i) {
      buffer in(64, 0xcc);
      call r;
      r.returned = d->WskReceive(s, &in.wsk, 0, r.irp);
      ASSERT_EQ(r.wait(), STATUS_SUCCESS);
      got += in.text(r.information());
    }
    ASSERT_EQ(got, sent) << "round " << round;
  }
  close_socket(s);
  peer_close(peer);
}

} // namespace

// The event loop: posted tasks, watchers on real loopback sockets, and timers. Each test runs on
// the engine UWSK_ENGINE names (ctest runs the program once per engine); the tests at the end
// aim at what one engine could get wrong, such as completions still in an io_uring ring.
#include "net/loop.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/run_on.hpp"
#include "support/timing.hpp"

namespace {

using namespace std::chrono_literals;
using uwsk::net::loop;
using uwsk::net::task;
using uwsk::net::timer;
using uwsk::net::watcher;
using uwsk::test::eventually;
using uwsk::test::run_on;
using uwsk::test::wait_or_abort;

// Lets the loop go through at least one full epoll_wait after this point: the second task is
// posted only after the first ran, so an iteration boundary lies between them.
void settle(loop &l) {
  run_on(l, [] {});
  run_on(l, [] {});
}

// A started loop that is stopped at the end of the test.
struct net_loop_running : ::testing::Test {
  loop l;
  net_loop_running() { l.start(); }
  ~net_loop_running() override { l.stop(); }
};

// --- sockets -------------------------------------------------------------------------------

struct tcp_pair {
  int client = -1;
  int server = -1;
  ~tcp_pair() {
    if (client >= 0) {
      ::close(client);
    }
    if (server >= 0) {
      ::close(server);
    }
  }
};

// A listening TCP socket on 127.0.0.1 with a kernel-chosen port (`flags` added to SOCK_STREAM
// and SOCK_CLOEXEC): the descriptor in `listener`, its address in `address`.
void make_tcp_listener(int flags, int &listener, sockaddr_in &address) {
  listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  ASSERT_GE(listener, 0);
  address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr *>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr *>(&address), &length), 0);
}

// A connected TCP pair on 127.0.0.1, both ends non-blocking.
void make_tcp_pair(tcp_pair &pair) {
  int listener = -1;
  sockaddr_in address;
  ASSERT_NO_FATAL_FAILURE(make_tcp_listener(0, listener, address));
  pair.client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(pair.client, 0);
  ASSERT_EQ(::connect(pair.client, reinterpret_cast<sockaddr *>(&address), sizeof address), 0);
  pair.server = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  ASSERT_GE(pair.server, 0);
  ::close(listener);
  ASSERT_EQ(::fcntl(pair.client, F_SETFL, O_NONBLOCK), 0);
}

// A non-blocking UDP socket bound to 127.0.0.1, with its address.
int make_udp(sockaddr_in &address) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Waits (bounded) until fd reports readable to poll(2), i.e. the kernel has queued the data.
bool readable_soon(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 10000) == 1 && (p.revents & POLLIN) != 0;
}

// A watcher that counts its callbacks and keeps what it read.
struct counting_watcher : watcher {
  std::atomic<int> calls{0};
  std::atomic<std::uint32_t> last_revents{0};
  std::atomic<std::uint32_t> all_revents{0}; // every report's bits together
  std::string data;                          // loop thread
  bool drain = true;                         // read until EAGAIN in the callback
  std::size_t expect = 0;                    // fulfil `got` once this many bytes arrived
  std::promise<void> got;
  bool fulfilled = false;

  counting_watcher() {
    on_events = [](watcher *w, std::uint32_t revents) {
      auto *self = static_cast<counting_watcher *>(w);
      self->last_revents = revents;
      self->all_revents.fetch_or(revents);
      ++self->calls;
      if (self->drain && (revents & uwsk::net::ev_in) != 0) {
        char buffer[256];
        ssize_t n;
        while ((n = ::recv(self->fd, buffer, sizeof buffer, 0)) > 0) {
          self->data.append(buffer, static_cast<std::size_t>(n));
        }
      }
      if (!self->fulfilled && self->data.size() >= self->expect) {
        self->fulfilled = true;
        self->got.set_value();
      }
    };
  }
};

// --- tasks ---------------------------------------------------------------------------------

TEST_F(net_loop_running, PostedTaskRunsOnLoopThread) {
  EXPECT_FALSE(l.in_loop_thread());
  EXPECT_EQ(loop::current(), nullptr);
  bool inside = false;
  loop *current = nullptr;
  std::thread::id id;
  run_on(l, [&] {
    inside = l.in_loop_thread();
    current = loop::current();
    id = std::this_thread::get_id();
  });
  EXPECT_TRUE(inside);
  EXPECT_EQ(current, &l);
  EXPECT_NE(id, std::this_thread::get_id());
}

struct numbered_task : task {
  int producer = 0;
  int sequence = 0;
};

constexpr int stress_producers = 4;
constexpr int stress_per_producer = 20000;

TEST(net_loop, ManyProducersEveryTaskOnceInOrderPerProducer) {
  constexpr int producers = stress_producers;
  constexpr int per_producer = stress_per_producer;
  // Loop thread state.
  std::vector<int> next_expected(producers, 0);
  std::atomic<int> ran{0};
  std::atomic<int> out_of_order{0};
  std::promise<void> all_ran;
  struct context {
    std::vector<int> *next_expected;
    std::atomic<int> *ran;
    std::atomic<int> *out_of_order;
    std::promise<void> *all_ran;
  };
  static context ctx;
  ctx = {&next_expected, &ran, &out_of_order, &all_ran};

  std::vector<std::vector<numbered_task>> tasks(producers,
                                                std::vector<numbered_task>(per_producer));
  loop l;
  l.start();
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        numbered_task &t = tasks[p][i];
        t.producer = p;
        t.sequence = i;
        t.run = [](task *raw) {
          auto *t = static_cast<numbered_task *>(raw);
          int &expected = (*ctx.next_expected)[t->producer];
          if (t->sequence != expected) {
            ++*ctx.out_of_order;
          }
          expected = t->sequence + 1;
          if (++*ctx.ran == stress_producers * stress_per_producer) {
            ctx.all_ran->set_value();
          }
        };
        ASSERT_TRUE(l.post(&t));
      }
    });
  }
  for (auto &t : threads) {
    t.join();
  }
  auto f = all_ran.get_future();
  wait_or_abort(f);
  l.stop();
  EXPECT_EQ(ran.load(), producers * per_producer);
  EXPECT_EQ(out_of_order.load(), 0);
  for (int p = 0; p < producers; ++p) {
    EXPECT_EQ(next_expected[p], per_producer);
  }
  // At most one wake-up write per post, and in practice far fewer.
  EXPECT_LE(l.wakeups(), static_cast<std::uint64_t>(producers * per_producer));
}

TEST_F(net_loop_running, PostsFromTheLoopThreadNeverWriteTheEventfd) {
  constexpr int count = 1000;
  std::vector<task> tasks(count);
  int ran = 0;
  static int *ran_ptr;
  ran_ptr = &ran;
  std::uint64_t before = 0;
  std::uint64_t after = 0;
  run_on(l, [&] {
    // The loop is awake (running this task), so no post may pay for a write.
    before = l.wakeups();
    for (auto &t : tasks) {
      t.run = [](task *) { ++*ran_ptr; };
      l.post(&t);
    }
    after = l.wakeups();
  });
  EXPECT_EQ(before, after);
  settle(l);
  run_on(l, [&] { EXPECT_EQ(ran, count); });
}

TEST_F(net_loop_running, TasksPostedByATaskRunAfterThoseAlreadyQueued) {
  std::vector<char> order; // loop thread
  static std::vector<char> *order_ptr;
  order_ptr = &order;
  static loop *loop_ptr;
  loop_ptr = &l;
  static task a, b, a2;
  a.run = [](task *) {
    order_ptr->push_back('a');
    loop_ptr->post(&a2);
  };
  b.run = [](task *) { order_ptr->push_back('b'); };
  a2.run = [](task *) { order_ptr->push_back('2'); };
  run_on(l, [&] {
    l.post(&a);
    l.post(&b);
  });
  settle(l);
  run_on(l, [&] { EXPECT_EQ(std::string(order.begin(), order.end()), "ab2"); });
}

TEST(net_loop, StopRunsQueuedTasksThenRefusesPosts) {
  constexpr int count = 500;
  std::vector<task> tasks(count);
  static std::atomic<int> ran;
  ran = 0;
  loop l;
  l.start();
  for (auto &t : tasks) {
    t.run = [](task *) { ++ran; };
    ASSERT_TRUE(l.post(&t));
  }
  l.stop();
  EXPECT_EQ(ran.load(), count);
  task late;
  late.run = [](task *) { ++ran; };
  EXPECT_FALSE(l.post(&late));
  l.stop(); // idempotent
  EXPECT_EQ(ran.load(), count);
}

TEST(net_loop, ConcurrentPostAndStopRunsExactlyTheAcceptedTasks) {
  constexpr int producers = 3;
  constexpr int per_producer = 5000;
  static std::atomic<int> ran;
  ran = 0;
  std::vector<std::vector<task>> tasks(producers, std::vector<task>(per_producer));
  std::atomic<int> accepted{0};
  loop l;
  l.start();
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (auto &t : tasks[p]) {
        t.run = [](task *) { ++ran; };
        if (l.post(&t)) {
          ++accepted;
        }
      }
    });
  }
  std::this_thread::sleep_for(1ms);
  l.stop();
  for (auto &t : threads) {
    t.join();
  }
  EXPECT_EQ(ran.load(), accepted.load());
}

TEST(net_loop, ThreadHooksRunOnTheLoopThread) {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::atomic<bool> start_in_loop{false};
  std::atomic<bool> stop_in_loop{false};
  uwsk::net::loop_hooks hooks;
  hooks.on_thread_start = [&](loop &l) {
    start_in_loop = l.in_loop_thread();
    ++started;
  };
  hooks.on_thread_stop = [&](loop &l) {
    stop_in_loop = l.in_loop_thread();
    ++stopped;
  };
  loop l(7, hooks);
  EXPECT_EQ(l.index(), 7u);
  l.start();
  int seen_started = -1;
  run_on(l, [&] { seen_started = started.load(); });
  EXPECT_EQ(seen_started, 1);
  l.stop();
  EXPECT_EQ(started.load(), 1);
  EXPECT_EQ(stopped.load(), 1);
  EXPECT_TRUE(start_in_loop.load());
  EXPECT_TRUE(stop_in_loop.load());
}

// before_wait is a plain function pointer: what it sees goes through these.
std::atomic<int> g_tasks_run{0};
std::atomic<int> g_tasks_seen_before_wait{-1};
std::atomic<bool> g_before_wait_off_loop{false};
std::atomic<loop *> g_hooked_loop{nullptr};
void record_before_wait() {
  loop *l = g_hooked_loop.load();
  if (l != nullptr && !l->in_loop_thread()) {
    g_before_wait_off_loop = true;
  }
  g_tasks_seen_before_wait = g_tasks_run.load();
}

// The hook runs on the loop thread at each iteration, after the tasks the iteration ran and
// before it waits again (the provider writes its callbacks' batched log lines there): a task
// posted to an idle loop is followed by the hook without anything else waking the loop.
TEST(net_loop, BeforeWaitRunsAfterTheIterationsWorkAndBeforeItSleeps) {
  uwsk::net::loop_hooks hooks;
  hooks.before_wait = record_before_wait;
  loop l(0, hooks);
  g_hooked_loop = &l;
  l.start();
  for (int round = 1; round <= 3; ++round) {
    task t;
    t.run = [](task *) { ++g_tasks_run; };
    ASSERT_TRUE(l.post(&t));
    EXPECT_TRUE(eventually([&] { return g_tasks_seen_before_wait.load() == round; }))
        << "round " << round << ": the hook saw " << g_tasks_seen_before_wait.load();
  }
  l.stop();
  g_hooked_loop = nullptr;
  EXPECT_FALSE(g_before_wait_off_loop.load());
}

// --- watchers ------------------------------------------------------------------------------
// More watchers added and re-armed in one iteration than the io_uring engine's submission queue
// holds (256 entries): the queue fills and is handed to the kernel mid-iteration (uring_backend::
// get_sqe), and every watcher still gets its report, once per readiness. On epoll the same
// calls are plain epoll_ctl.
struct eventfd_watcher : watcher {
  std::atomic<int> calls{0};
  eventfd_watcher() {
    on_events = [](watcher *w, std::uint32_t revents) {
      auto *self = static_cast<eventfd_watcher *>(w);
      if ((revents & uwsk::net::ev_in) != 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t got = ::read(self->fd, &count, sizeof count);
        ++self->calls;
      }
    };
  }
  ~eventfd_watcher() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

TEST_F(net_loop_running, MoreWatchersInOneIterationThanTheSubmissionQueueHolds) {
  constexpr int count = 600;
  std::vector<std::unique_ptr<eventfd_watcher>> watchers;
  for (int i = 0; i < count; ++i) {
    auto w = std::make_unique<eventfd_watcher>();
    w->fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ASSERT_GE(w->fd, 0);
    watchers.push_back(std::move(w));
  }
  // Makes every eventfd readable (its callback reads it empty again).
  auto signal_all = [&] {
    for (auto &w : watchers) {
      const std::uint64_t one = 1;
      ASSERT_EQ(::write(w->fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
    }
  };
  // Calls `op` on every watcher in one loop iteration; how many calls returned 0.
  auto in_one_iteration = [&](int (*op)(loop &, watcher *)) {
    int succeeded = 0;
    run_on(l, [&] {
      for (auto &w : watchers) {
        succeeded += op(l, w.get()) == 0 ? 1 : 0;
      }
    });
    return succeeded;
  };
  auto all_reported = [&](int times) {
    return eventually([&] {
      return std::all_of(watchers.begin(), watchers.end(),
                         [&](const auto &w) { return w->calls.load() == times; });
    });
  };
  ASSERT_NO_FATAL_FAILURE(signal_all());
  ASSERT_EQ(in_one_iteration([](loop &lp, watcher *w) { return lp.add(w, uwsk::net::ev_in); }),
            count);
  EXPECT_TRUE(all_reported(1));
  // Readable again, and all re-armed in one iteration: one more report each, whether it comes
  // before or after the re-arm.
  ASSERT_NO_FATAL_FAILURE(signal_all());
  ASSERT_EQ(in_one_iteration([](loop &lp, watcher *w) { return lp.modify(w, uwsk::net::ev_in); }),
            count);
  EXPECT_TRUE(all_reported(2));
  settle(l);
  EXPECT_EQ(in_one_iteration([](loop &lp, watcher *w) { return lp.remove(w); }), count);
  for (const auto &w : watchers) {
    EXPECT_EQ(w->calls.load(), 2) << "watcher on fd " << w->fd;
  }
}

TEST_F(net_loop_running, TcpReadableAndWritable) {
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  counting_watcher reader;
  reader.fd = pair.server;
  reader.expect = 5;
  counting_watcher writer;
  writer.fd = pair.client;
  writer.drain = false;
  run_on(l, [&] {
    ASSERT_EQ(l.add(&reader, uwsk::net::ev_in), 0);
    EXPECT_EQ(reader.events(), uwsk::net::ev_in);
    // A connected socket is writable at once.
    ASSERT_EQ(l.add(&writer, uwsk::net::ev_out), 0);
  });
  auto got_write = writer.got.get_future();
  wait_or_abort(got_write);
  EXPECT_NE(writer.last_revents.load() & uwsk::net::ev_out, 0u);

  ASSERT_EQ(::send(pair.client, "hello", 5, MSG_NOSIGNAL), 5);
  auto got = reader.got.get_future();
  wait_or_abort(got);
  run_on(l, [&] {
    EXPECT_EQ(reader.data, "hello");
    EXPECT_EQ(reader.last_revents.load(), uwsk::net::ev_in);
    l.remove(&reader);
    l.remove(&writer);
  });
}

TEST_F(net_loop_running, TcpPeerShutdownReportsRdhup) {
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  counting_watcher reader;
  reader.fd = pair.server;
  reader.drain = false;
  run_on(l, [&] { ASSERT_EQ(l.add(&reader, uwsk::net::ev_in | uwsk::net::ev_rdhup), 0); });
  ASSERT_EQ(::shutdown(pair.client, SHUT_WR), 0);
  auto got = reader.got.get_future();
  wait_or_abort(got);
  // The FIN makes the socket readable (end of stream) and reports the half-close, not always in
  // one report: the kernel wakes pollers twice for a FIN (state change, then data ready), and
  // io_uring reports a wake-up that names its own readiness with just that (ev_in), so a report
  // of ev_in alone may come after the one with both; and the engine arms its poll at its next
  // submission, which can fall between the kernel queueing the FIN and marking the receive
  // side shut down. Every report's bits together must be exactly these two.
  for (int i = 0; i < 10000 && (reader.all_revents.load() & uwsk::net::ev_rdhup) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(reader.all_revents.load(), uwsk::net::ev_in | uwsk::net::ev_rdhup);
  run_on(l, [&] { l.remove(&reader); });
}

TEST_F(net_loop_running, EdgeTriggeredNewDataIsANewEvent) {
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  counting_watcher reader;
  reader.fd = pair.server;
  reader.drain = false; // leave the data unread: no further event until more arrives
  run_on(l, [&] { ASSERT_EQ(l.add(&reader, uwsk::net::ev_in), 0); });
  ASSERT_EQ(::send(pair.client, "a", 1, MSG_NOSIGNAL), 1);
  auto got = reader.got.get_future();
  wait_or_abort(got);
  ASSERT_TRUE(readable_soon(pair.server));
  settle(l);
  EXPECT_EQ(reader.calls.load(), 1);

  ASSERT_EQ(::send(pair.client, "b", 1, MSG_NOSIGNAL), 1);
  eventually([&] { return reader.calls.load() >= 2; }, 10s, 5ms);
  EXPECT_EQ(reader.calls.load(), 2);
  run_on(l, [&] { l.remove(&reader); });
}

TEST_F(net_loop_running, ModifyDisarmsAndRearmReportsPendingReadiness) {
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  counting_watcher reader;
  reader.fd = pair.server;
  reader.expect = 2;
  run_on(l, [&] {
    ASSERT_EQ(l.add(&reader, uwsk::net::ev_in), 0);
    ASSERT_EQ(l.modify(&reader, 0), 0);
    EXPECT_EQ(reader.events(), 0u);
  });
  ASSERT_EQ(::send(pair.client, "xy", 2, MSG_NOSIGNAL), 2);
  ASSERT_TRUE(readable_soon(pair.server));
  settle(l);
  EXPECT_EQ(reader.calls.load(), 0);

  // Re-arming finds the data that arrived meanwhile.
  run_on(l, [&] { ASSERT_EQ(l.modify(&reader, uwsk::net::ev_in), 0); });
  auto got = reader.got.get_future();
  wait_or_abort(got);
  EXPECT_EQ(reader.calls.load(), 1);

  // After remove, new data gives no callback.
  run_on(l, [&] { ASSERT_EQ(l.remove(&reader), 0); });
  ASSERT_EQ(::send(pair.client, "z", 1, MSG_NOSIGNAL), 1);
  ASSERT_TRUE(readable_soon(pair.server));
  settle(l);
  EXPECT_EQ(reader.calls.load(), 1);
  run_on(l, [&] { EXPECT_EQ(reader.data, "xy"); });
}

TEST_F(net_loop_running, UdpDatagramReadiness) {
  sockaddr_in receiver_address;
  sockaddr_in sender_address;
  int receiver = make_udp(receiver_address);
  int sender = make_udp(sender_address);
  ASSERT_GE(receiver, 0);
  ASSERT_GE(sender, 0);
  counting_watcher reader;
  reader.fd = receiver;
  reader.expect = 4;
  run_on(l, [&] { ASSERT_EQ(l.add(&reader, uwsk::net::ev_in), 0); });
  ASSERT_EQ(::sendto(sender, "ping", 4, 0, reinterpret_cast<sockaddr *>(&receiver_address),
                     sizeof receiver_address),
            4);
  auto got = reader.got.get_future();
  wait_or_abort(got);
  run_on(l, [&] {
    EXPECT_EQ(reader.data, "ping");
    l.remove(&reader);
  });
  ::close(receiver);
  ::close(sender);
}

TEST_F(net_loop_running, AddRejectsAFileThatCannotBePolled) {
  char path[] = "/tmp/uwsk-net-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  counting_watcher w;
  w.fd = fd;
  run_on(l, [&] { EXPECT_EQ(l.add(&w, uwsk::net::ev_in), -EPERM); });
  ::close(fd);
}

// Two watchers ready in the same batch; whichever callback runs first removes and closes the
// other. The other's callback must not run, even though the batch holds an event for it.
struct batch_record {
  loop *l = nullptr;
  watcher *first = nullptr;
  int calls = 0;
  bool reuse = false; // re-add the removed watcher object on a fresh, idle fd
  int fresh_fd = -1;
  watcher *ws[2] = {nullptr, nullptr};
};

batch_record g_batch;

void on_batch_event(watcher *w, std::uint32_t) {
  ++g_batch.calls;
  if (g_batch.first != nullptr) {
    return; // the removed watcher ran: the test checks calls
  }
  g_batch.first = w;
  watcher *other = g_batch.ws[0] == w ? g_batch.ws[1] : g_batch.ws[0];
  EXPECT_EQ(g_batch.l->remove(other), 0);
  ::close(other->fd);
  if (g_batch.reuse) {
    // Same memory, new registration: the stale event must not reach it either.
    other->fd = g_batch.fresh_fd;
    EXPECT_EQ(g_batch.l->add(other, uwsk::net::ev_in), 0);
  } else {
    delete other; // ASan reports it if the loop touches it again
  }
}

void remove_during_batch(bool reuse) {
  loop l;
  l.start();
  tcp_pair a;
  tcp_pair b;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(a));
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(b));
  ASSERT_EQ(::send(a.client, "1", 1, MSG_NOSIGNAL), 1);
  ASSERT_EQ(::send(b.client, "2", 1, MSG_NOSIGNAL), 1);
  // Both are readable before they are added, so the next epoll_wait returns both at once.
  ASSERT_TRUE(readable_soon(a.server));
  ASSERT_TRUE(readable_soon(b.server));
  sockaddr_in unused;
  int fresh = make_udp(unused);
  ASSERT_GE(fresh, 0);

  auto *w0 = new watcher;
  auto *w1 = new watcher;
  w0->fd = a.server;
  w1->fd = b.server;
  a.server = -1; // closed by the test callback or below
  b.server = -1;
  w0->on_events = w1->on_events = on_batch_event;
  g_batch = {};
  g_batch.l = &l;
  g_batch.reuse = reuse;
  g_batch.fresh_fd = fresh;
  g_batch.ws[0] = w0;
  g_batch.ws[1] = w1;
  run_on(l, [&] {
    ASSERT_EQ(l.add(w0, uwsk::net::ev_in), 0);
    ASSERT_EQ(l.add(w1, uwsk::net::ev_in), 0);
  });
  settle(l);
  settle(l);
  run_on(l, [&] {
    EXPECT_EQ(g_batch.calls, 1);
    ASSERT_NE(g_batch.first, nullptr);
    l.remove(g_batch.first);
    ::close(g_batch.first->fd);
    if (reuse) {
      watcher *other = g_batch.first == w0 ? w1 : w0;
      l.remove(other);
      delete other;
    }
    delete g_batch.first;
  });
  ::close(fresh);
  l.stop();
}

TEST(net_loop, RemoveDuringBatchSuppressesTheStaleEvent) {
  remove_during_batch(false);
}

TEST(net_loop, RemoveAndReaddDuringBatchSuppressesTheStaleEvent) {
  remove_during_batch(true);
}

// The removed watcher's descriptor became ready while the loop thread was busy, so its event is
// already queued in the kernel (an io_uring completion in the ring, or a ready epoll entry) when
// remove() runs. No callback may follow, whether the memory is freed or reused at once.
struct stale_record {
  int old_calls = 0;
};
stale_record g_stale;

void remove_with_event_queued(bool reuse) {
  loop l;
  l.start();
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  sockaddr_in unused;
  int idle = make_udp(unused);
  ASSERT_GE(idle, 0);
  g_stale = {};
  auto *w = new counting_watcher;
  w->fd = pair.server;
  w->drain = false;
  w->on_events = [](watcher *, std::uint32_t) { ++g_stale.old_calls; };
  run_on(l, [&] { ASSERT_EQ(l.add(w, uwsk::net::ev_in), 0); });
  settle(l);
  EXPECT_EQ(g_stale.old_calls, 0);
  run_on(l, [&] {
    // Make it readable and let the kernel queue the event (poll(2) returns once the data is
    // there; the loop thread's system calls run io_uring's pending completions on the way).
    ASSERT_EQ(::send(pair.client, "x", 1, MSG_NOSIGNAL), 1);
    ASSERT_TRUE(readable_soon(pair.server));
    EXPECT_EQ(l.remove(w), 0);
    if (reuse) {
      // The same memory as a new watcher on an idle socket: the old event is not its event.
      w->fd = idle;
      w->on_events = [](watcher *, std::uint32_t) { ++g_stale.old_calls; };
      EXPECT_EQ(l.add(w, uwsk::net::ev_in), 0);
    } else {
      delete w; // ASan reports it if the loop touches the watcher again
    }
  });
  settle(l);
  settle(l);
  run_on(l, [&] {
    EXPECT_EQ(g_stale.old_calls, 0);
    if (reuse) {
      l.remove(w);
      delete w;
    }
  });
  l.stop();
  ::close(idle);
}

TEST(net_loop, RemoveWithItsEventQueuedInTheKernelGivesNoCallback) {
  remove_with_event_queued(false);
}

TEST(net_loop, WatcherMemoryReusedAtOnceGetsNoStaleEvent) {
  remove_with_event_queued(true);
}

// remove() leaves the kernel holding nothing of the descriptor, so closing it right after
// releases the socket at once: its port can be bound again immediately. (A poll request still
// armed in an io_uring would keep the listening socket, and its port, alive.)
TEST_F(net_loop_running, RemoveThenCloseReleasesTheSocketAtOnce) {
  for (int round = 0; round < 20; ++round) {
    int listener = -1;
    sockaddr_in address;
    ASSERT_NO_FATAL_FAILURE(make_tcp_listener(SOCK_NONBLOCK, listener, address));
    counting_watcher w;
    w.fd = listener;
    w.drain = false;
    run_on(l, [&] { ASSERT_EQ(l.add(&w, uwsk::net::ev_in), 0); });
    // In odd rounds a connection waits to be accepted: the listener has an event pending as it is
    // removed. In even ones nothing does, so the removal is the only work the kernel has for the
    // ring (on a ring with deferred task running, work that runs only when asked for).
    int client = -1;
    if (round % 2 == 1) {
      client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(client, 0);
      ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr *>(&address), sizeof address), 0);
    } else {
      settle(l);
    }
    int rebound = -1;
    run_on(l, [&] {
      EXPECT_EQ(l.remove(&w), 0);
      ::close(listener);
      int again = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      rebound = ::bind(again, reinterpret_cast<sockaddr *>(&address), sizeof address);
      ::close(again);
    });
    if (client >= 0) {
      ::close(client);
    }
    ASSERT_EQ(rebound, 0) << "round " << round << ": the port stayed in use after remove+close";
  }
}

// A burst of wake-ups on one watcher, far more than one iteration takes (and, on the io_uring
// engine, more than its completion queue holds, which ends the multishot request: the loop must
// re-arm it). Afterwards the watcher still reports new readiness.
TEST_F(net_loop_running, WatcherSurvivesABurstOfEventsBeyondTheQueue) {
  struct burst_watcher : watcher {
    std::atomic<int> calls{0};
  };
  burst_watcher w;
  w.fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(w.fd, 0);
  w.on_events = [](watcher *raw, std::uint32_t) {
    auto *self = static_cast<burst_watcher *>(raw);
    std::uint64_t value;
    while (::read(self->fd, &value, sizeof value) > 0) {
    }
    ++self->calls;
  };
  run_on(l, [&] { ASSERT_EQ(l.add(&w, uwsk::net::ev_in), 0); });
  settle(l);
  run_on(l, [&] {
    // From the loop thread, so that nothing is taken from the kernel in between.
    const std::uint64_t one = 1;
    for (int i = 0; i < 6000; ++i) {
      ASSERT_EQ(::write(w.fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
    }
  });
  for (int i = 0; i < 10; ++i) {
    settle(l);
  }
  const int after_burst = w.calls.load();
  EXPECT_GE(after_burst, 1);
  const std::uint64_t one = 1;
  ASSERT_EQ(::write(w.fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
  eventually([&] { return w.calls.load() != after_burst; }, 10s, 5ms);
  EXPECT_GT(w.calls.load(), after_burst) << "no event after the burst: the watcher was lost";
  run_on(l, [&] { EXPECT_EQ(l.remove(&w), 0); });
  ::close(w.fd);
}

// Stopping while watchers are still added and their descriptors keep becoming ready: once the
// stop request's task has run, no callback follows (rule 5) although events are queued in the
// kernel; the tasks queued behind it still run; the owners free everything afterwards.
struct stop_record {
  std::atomic<bool> stopped{false};
  std::atomic<int> late_calls{0};
  std::atomic<int> ran{0};
  int client = -1;
  int server = -1;
};
stop_record *g_stop;

TEST(net_loop, StopWithWatchersAddedAndEventsPendingGivesNoMoreCallbacks) {
  stop_record record;
  g_stop = &record;
  auto l = std::make_unique<loop>();
  l->start();
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  record.client = pair.client;
  record.server = pair.server;
  watcher w;
  w.fd = pair.server;
  w.on_events = [](watcher *, std::uint32_t) {
    if (g_stop->stopped) {
      ++g_stop->late_calls;
    }
  };
  run_on(*l, [&] { ASSERT_EQ(l->add(&w, uwsk::net::ev_in), 0); });
  task mark;
  mark.run = [](task *) {
    // Runs after the stop request's task: make the socket ready, with its event queued.
    g_stop->stopped = true;
    EXPECT_EQ(::send(g_stop->client, "b", 1, MSG_NOSIGNAL), 1);
    EXPECT_TRUE(readable_soon(g_stop->server));
  };
  constexpr int queued = 100;
  std::vector<task> tasks(queued);
  for (auto &t : tasks) {
    t.run = [](task *) { ++g_stop->ran; };
  }
  run_on(*l, [&] {
    l->request_stop();
    EXPECT_TRUE(l->post(&mark));
    for (auto &t : tasks) {
      EXPECT_TRUE(l->post(&t));
    }
  });
  l->stop();
  EXPECT_TRUE(record.stopped.load());
  EXPECT_EQ(record.ran.load(), queued);
  task late;
  late.run = [](task *) { ADD_FAILURE() << "a task ran after stop"; };
  EXPECT_FALSE(l->post(&late));
  l.reset(); // the owner (this test) frees the watcher and its socket only afterwards
  EXPECT_EQ(record.late_calls.load(), 0);
}

// A descriptor of a file without poll support that add() does not recognise (a character
// device): epoll refuses it; io_uring accepts it and must report it once or twice and then stay
// quiet, not spin re-arming a request that ends at once.
TEST_F(net_loop_running, DescriptorWithoutPollSupportIsRefusedOrReportedAFewTimes) {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  counting_watcher w;
  w.fd = fd;
  w.drain = false;
  int added = 1;
  run_on(l, [&] { added = l.add(&w, uwsk::net::ev_in); });
  if (l.kind() == uwsk::net::engine_kind::epoll) {
    EXPECT_EQ(added, -EPERM);
  } else {
    ASSERT_EQ(added, 0);
    for (int i = 0; i < 5; ++i) {
      settle(l);
    }
    const int calls = w.calls.load();
    EXPECT_LE(calls, 2);
    for (int i = 0; i < 5; ++i) {
      settle(l);
    }
    EXPECT_EQ(w.calls.load(), calls);
    run_on(l, [&] { EXPECT_EQ(l.remove(&w), 0); });
  }
  ::close(fd);
}

// --- timers --------------------------------------------------------------------------------

struct recorded_timer : timer {
  int id = 0;
  timer::clock::time_point fired_at{};
};

struct timer_log {
  std::vector<int> order; // loop thread
  std::size_t expected = 0;
  std::promise<void> done;
  bool early = false;
};

timer_log *g_timers;

void record_expiry(timer *t) {
  auto *r = static_cast<recorded_timer *>(t);
  r->fired_at = timer::clock::now();
  if (r->fired_at < r->deadline()) {
    g_timers->early = true;
  }
  EXPECT_FALSE(r->armed());
  g_timers->order.push_back(r->id);
  if (g_timers->order.size() == g_timers->expected) {
    g_timers->done.set_value();
  }
}

TEST_F(net_loop_running, TimersFireInDeadlineOrderAndCancelWorks) {
  timer_log log;
  g_timers = &log;
  // Offsets in ms; equal deadlines fire in arm order; a past deadline fires at once.
  const int offsets[] = {60, 20, 40, 20, 0, -5, 80};
  recorded_timer timers[7];
  log.expected = 6; // timer 2 is cancelled
  auto now = timer::clock::now();
  run_on(l, [&] {
    for (int i = 0; i < 7; ++i) {
      timers[i].id = i;
      timers[i].on_expire = record_expiry;
      l.arm_timer(&timers[i], now + std::chrono::milliseconds(offsets[i]));
      EXPECT_TRUE(timers[i].armed());
    }
    l.cancel_timer(&timers[2]);
    EXPECT_FALSE(timers[2].armed());
    l.cancel_timer(&timers[2]); // not armed: nothing happens
  });
  auto f = log.done.get_future();
  wait_or_abort(f);
  settle(l);
  run_on(l, [&] {
    EXPECT_EQ(log.order, (std::vector<int>{5, 4, 1, 3, 0, 6}));
    EXPECT_FALSE(log.early);
    EXPECT_FALSE(timers[2].armed());
  });
}

TEST_F(net_loop_running, RearmingMovesTheDeadline) {
  timer_log log;
  g_timers = &log;
  log.expected = 2;
  recorded_timer late;
  recorded_timer soon;
  late.id = 1;
  soon.id = 2;
  late.on_expire = soon.on_expire = record_expiry;
  run_on(l, [&] {
    auto now = timer::clock::now();
    l.arm_timer(&late, now + 1h);
    l.arm_timer(&soon, now + 30ms);
    l.arm_timer(&late, now + 10ms); // moved before `soon`
  });
  auto f = log.done.get_future();
  wait_or_abort(f);
  run_on(l, [&] { EXPECT_EQ(log.order, (std::vector<int>{1, 2})); });
}

TEST_F(net_loop_running, ManyTimersKeepHeapOrder) {
  constexpr int count = 300;
  timer_log log;
  g_timers = &log;
  std::vector<recorded_timer> timers(count);
  std::vector<bool> cancelled(count, false);
  unsigned seed = 12345;
  auto next = [&] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7fff;
  };
  std::size_t kept = 0;
  run_on(l, [&] {
    auto now = timer::clock::now();
    for (int i = 0; i < count; ++i) {
      timers[i].id = i;
      timers[i].on_expire = record_expiry;
      l.arm_timer(&timers[i], now + std::chrono::milliseconds(next() % 50));
    }
    for (int i = 0; i < count; ++i) {
      if (next() % 3 == 0) {
        l.cancel_timer(&timers[i]);
        cancelled[i] = true;
      } else {
        ++kept;
      }
    }
    log.expected = kept;
  });
  auto f = log.done.get_future();
  wait_or_abort(f);
  settle(l);
  run_on(l, [&] {
    ASSERT_EQ(log.order.size(), kept);
    for (std::size_t i = 1; i < log.order.size(); ++i) {
      const auto &a = timers[log.order[i - 1]];
      const auto &b = timers[log.order[i]];
      EXPECT_TRUE(a.deadline() < b.deadline() ||
                  (a.deadline() == b.deadline() && log.order[i - 1] < log.order[i]));
    }
    for (int id : log.order) {
      EXPECT_FALSE(cancelled[id]);
    }
    EXPECT_FALSE(log.early);
  });
}

// A timer that keeps re-arming itself in the past fires once per iteration, so a posted task
// still gets its turn and stops it.
struct rearming_timer : timer {
  loop *owner = nullptr;
  bool stop = false; // set by a task, on the loop thread
  int fired = 0;
  std::promise<void> done;
};

TEST_F(net_loop_running, TimerRearmedInThePastDoesNotStarveTasks) {
  constexpr int give_up = 1000000;
  rearming_timer t;
  t.owner = &l;
  t.on_expire = [](timer *raw) {
    auto *self = static_cast<rearming_timer *>(raw);
    if (self->stop || ++self->fired == give_up) {
      self->done.set_value();
      return;
    }
    self->owner->arm_timer(self, timer::clock::time_point{});
  };
  run_on(l, [&] { l.arm_timer(&t, timer::clock::time_point{}); });
  run_on(l, [&] { t.stop = true; });
  auto f = t.done.get_future();
  wait_or_abort(f);
  run_on(l, [&] {
    EXPECT_TRUE(t.stop);
    EXPECT_LT(t.fired, give_up);
  });
}

// Short deadlines, below epoll's millisecond, while other threads keep waking the loop: each
// timer fires, in order, never early.
TEST_F(net_loop_running, ShortTimersFireInOrderWhileTasksWakeTheLoop) {
  timer_log log;
  g_timers = &log;
  constexpr int count = 20;
  recorded_timer timers[count];
  log.expected = count;
  run_on(l, [&] {
    auto now = timer::clock::now();
    for (int i = 0; i < count; ++i) {
      timers[i].id = i;
      timers[i].on_expire = record_expiry;
      // 150 us apart, the later ones armed first.
      l.arm_timer(&timers[count - 1 - i], now + std::chrono::microseconds(150 * (count - i)));
    }
  });
  std::atomic<bool> done{false};
  std::thread poster([&] {
    std::vector<task> tasks(200);
    for (auto &t : tasks) {
      if (done) {
        break;
      }
      t.run = [](task *) {};
      l.post(&t);
      std::this_thread::sleep_for(100us);
    }
    settle(l); // every task posted above has run before `tasks` goes away
  });
  auto f = log.done.get_future();
  wait_or_abort(f);
  done = true;
  poster.join();
  run_on(l, [&] {
    std::vector<int> expected(count);
    for (int i = 0; i < count; ++i) {
      expected[i] = i;
    }
    EXPECT_EQ(log.order, expected);
    EXPECT_FALSE(log.early);
  });
}

TEST(net_loop, StopDropsArmedTimers) {
  loop l;
  l.start();
  recorded_timer t;
  t.on_expire = [](timer *) { ADD_FAILURE() << "a timer fired after stop"; };
  run_on(l, [&] { l.arm_timer(&t, timer::clock::now() + 1h); });
  l.stop();
  EXPECT_FALSE(t.armed());
}

} // namespace

// --- I/O requests (loop.hpp rule 6) ------------------------------------------------------------

namespace {

using uwsk::net::io_kind;
using uwsk::net::io_request;

// A request that records its one completion.
struct recorded_request : io_request {
  std::atomic<int> calls{0};
  std::atomic<long> result{0};
  std::promise<void> completed;
  recorded_request() {
    on_complete = [](io_request *r, long res) {
      auto *self = static_cast<recorded_request *>(r);
      self->result = res;
      if (++self->calls == 1) {
        self->completed.set_value();
      }
    };
  }
};

} // namespace

namespace {

// After requests that were cancelled having taken nothing: bytes the peer sends next are all
// there, in order, for a plain receive.
void expect_next_bytes_whole(const tcp_pair &pair) {
  ASSERT_EQ(::send(pair.client, "xyz", 3, MSG_NOSIGNAL), 3);
  ASSERT_TRUE(readable_soon(pair.server));
  char rest[8];
  EXPECT_EQ(::recv(pair.server, rest, sizeof rest, 0), 3);
  EXPECT_EQ(std::string(rest, 3), "xyz");
}

} // namespace

TEST_F(net_loop_running, IoRequestsOnlyWhereTheEngineTakesThem) {
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  char buffer[8];
  iovec iov{buffer, sizeof buffer};
  recorded_request r;
  r.fd = pair.server;
  r.iov = &iov;
  r.iov_count = 1;
  run_on(l, [&] {
    // The io_uring engine takes them from Linux 5.19 on; the epoll engine never does.
    if (l.kind() == uwsk::net::engine_kind::epoll) {
      EXPECT_FALSE(l.supports_io_requests());
    }
    if (!l.supports_io_requests()) {
      EXPECT_EQ(l.submit(&r), -EOPNOTSUPP);
      EXPECT_FALSE(r.in_flight());
      return;
    }
    io_request empty;
    empty.fd = pair.server;
    empty.on_complete = r.on_complete;
    EXPECT_EQ(l.submit(&empty), -EINVAL); // no iovecs
    EXPECT_FALSE(empty.in_flight());
  });
  EXPECT_EQ(r.calls.load(), 0);
}

TEST_F(net_loop_running, IoRequestReceivesAndSendsIntoScatteredMemory) {
  bool supported = false;
  run_on(l, [&] { supported = l.supports_io_requests(); });
  if (!supported) {
    GTEST_SKIP() << "the epoll engine takes no I/O requests";
  }
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  // A receive waits for data: submitted first, completed by the kernel once the peer sends.
  char a[3];
  char b[5];
  iovec pieces[2] = {{a, sizeof a}, {b, sizeof b}};
  recorded_request receive;
  receive.fd = pair.server;
  receive.iov = pieces;
  receive.iov_count = 2;
  receive.flags = MSG_WAITALL;
  run_on(l, [&] {
    ASSERT_EQ(l.submit(&receive), 0);
    EXPECT_TRUE(receive.in_flight());
  });
  ASSERT_EQ(::send(pair.client, "abcd", 4, MSG_NOSIGNAL), 4);
  ASSERT_EQ(::send(pair.client, "efgh", 4, MSG_NOSIGNAL), 4);
  auto received = receive.completed.get_future();
  wait_or_abort(received);
  EXPECT_EQ(receive.result.load(), 8);
  EXPECT_EQ(std::string(a, 3) + std::string(b, 5), "abcdefgh");

  // A send from two pieces.
  char c[] = "xy";
  char d[] = "z!";
  iovec out[2] = {{c, 2}, {d, 2}};
  recorded_request send;
  send.fd = pair.server;
  send.kind = io_kind::send;
  send.iov = out;
  send.iov_count = 2;
  run_on(l, [&] { ASSERT_EQ(l.submit(&send), 0); });
  auto sent = send.completed.get_future();
  wait_or_abort(sent);
  EXPECT_EQ(send.result.load(), 4);
  ASSERT_TRUE(readable_soon(pair.client));
  char back[8] = {};
  EXPECT_EQ(::recv(pair.client, back, sizeof back, 0), 4);
  EXPECT_EQ(std::string(back, 4), "xyz!");

  // End of stream: a receive completes with 0.
  recorded_request eof;
  eof.fd = pair.server;
  eof.iov = pieces;
  eof.iov_count = 1;
  run_on(l, [&] { ASSERT_EQ(l.submit(&eof), 0); });
  ASSERT_EQ(::shutdown(pair.client, SHUT_WR), 0);
  auto ended = eof.completed.get_future();
  wait_or_abort(ended);
  EXPECT_EQ(eof.result.load(), 0);
  EXPECT_EQ(receive.calls.load() + send.calls.load() + eof.calls.load(), 3);
}

TEST_F(net_loop_running, CancelledIoRequestCompletesOnceAndKeepsDataThatWon) {
  bool supported = false;
  run_on(l, [&] { supported = l.supports_io_requests(); });
  if (!supported) {
    GTEST_SKIP() << "the epoll engine takes no I/O requests";
  }
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  char buffer[16];
  iovec iov{buffer, sizeof buffer};
  // Nothing to read: the cancellation ends it with -ECANCELED.
  recorded_request waiting;
  waiting.fd = pair.server;
  waiting.iov = &iov;
  waiting.iov_count = 1;
  run_on(l, [&] { ASSERT_EQ(l.submit(&waiting), 0); });
  settle(l);
  run_on(l, [&] {
    l.cancel(&waiting);
    l.cancel(&waiting); // a second cancel does nothing more
  });
  auto cancelled = waiting.completed.get_future();
  wait_or_abort(cancelled);
  EXPECT_EQ(waiting.result.load(), -ECANCELED);

  // Data already there: the request wins over the cancellation queued in the same iteration,
  // or the cancellation wins; either way exactly one callback, and no byte is lost.
  ASSERT_EQ(::send(pair.client, "data", 4, MSG_NOSIGNAL), 4);
  ASSERT_TRUE(readable_soon(pair.server));
  recorded_request racing;
  racing.fd = pair.server;
  racing.iov = &iov;
  racing.iov_count = 1;
  run_on(l, [&] {
    ASSERT_EQ(l.submit(&racing), 0);
    l.cancel(&racing);
  });
  auto raced = racing.completed.get_future();
  wait_or_abort(raced);
  settle(l);
  EXPECT_EQ(racing.calls.load(), 1);
  std::string got;
  if (racing.result.load() > 0) {
    got.assign(buffer, static_cast<std::size_t>(racing.result.load()));
  } else {
    EXPECT_EQ(racing.result.load(), -ECANCELED);
    char rest[16];
    const ssize_t n = ::recv(pair.server, rest, sizeof rest, 0);
    ASSERT_EQ(n, 4);
    got.assign(rest, 4);
  }
  EXPECT_EQ(got, "data");
  EXPECT_EQ(waiting.calls.load(), 1);
}

// Linked requests (loop::submit_linked): the kernel runs them one after another, in order; a
// short receive does not end the chain, a cancelled (failed) one ends it and the rest complete
// with -ECANCELED without moving a byte.
TEST_F(net_loop_running, LinkedIoRequestsRunInOrderAndACancelledOneEndsTheChain) {
  bool supported = false;
  run_on(l, [&] { supported = l.supports_io_requests(); });
  if (!supported) {
    GTEST_SKIP() << "the epoll engine takes no I/O requests";
  }
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  constexpr int n = 3;
  char buffers[n][4];
  iovec iov[n];
  recorded_request chain[n];
  io_request *requests[n];
  const auto arm = [&](recorded_request *fresh) {
    for (int i = 0; i < n; ++i) {
      iov[i] = {buffers[i], sizeof buffers[i]};
      fresh[i].fd = pair.server;
      fresh[i].iov = &iov[i];
      fresh[i].iov_count = 1;
      requests[i] = &fresh[i];
    }
  };
  arm(chain);
  run_on(l, [&] { ASSERT_EQ(l.submit_linked(requests, n), 0); });
  // The first receive is short (3 of 4 bytes): the chain goes on, in order.
  ASSERT_EQ(::send(pair.client, "abc", 3, MSG_NOSIGNAL), 3);
  auto first = chain[0].completed.get_future();
  wait_or_abort(first);
  EXPECT_EQ(chain[0].result.load(), 3);
  settle(l);
  EXPECT_EQ(chain[1].calls.load(), 0);
  ASSERT_EQ(::send(pair.client, "defghij", 7, MSG_NOSIGNAL), 7);
  auto second = chain[1].completed.get_future();
  auto third = chain[2].completed.get_future();
  wait_or_abort(second);
  wait_or_abort(third);
  EXPECT_EQ(chain[1].result.load(), 4);
  EXPECT_EQ(chain[2].result.load(), 3);
  EXPECT_EQ(std::string(buffers[0], 3) + std::string(buffers[1], 4) + std::string(buffers[2], 3),
            "abcdefghij");

  // Nothing to read: cancelling the first ends it and every request behind it.
  recorded_request stopped[n];
  arm(stopped);
  run_on(l, [&] { ASSERT_EQ(l.submit_linked(requests, n), 0); });
  settle(l);
  run_on(l, [&] { l.cancel(&stopped[0]); });
  for (auto &r : stopped) {
    auto ended = r.completed.get_future();
    wait_or_abort(ended);
    EXPECT_EQ(r.result.load(), -ECANCELED);
    EXPECT_EQ(r.calls.load(), 1);
  }
  // No byte was taken.
  expect_next_bytes_whole(pair);
  run_on(l, [&] { EXPECT_EQ(l.submit_linked(requests, 0), -EINVAL); });
}

// The request behind one that completed, cancelled from that completion's callback (the
// provider does this when it stops a chain): the kernel starts the next request of a chain with
// work it queues as the one before completes, and on a ring with deferred task running that work
// may not have run when the callback does. The cancellation must still find the request and end
// it, having taken nothing; otherwise it would wait for bytes nobody wants.
TEST_F(net_loop_running, RequestCancelledFromItsPredecessorsCallbackEnds) {
  bool supported = false;
  run_on(l, [&] { supported = l.supports_io_requests(); });
  if (!supported) {
    GTEST_SKIP() << "the epoll engine takes no I/O requests";
  }
  struct cancelling_request : recorded_request {
    loop *owner = nullptr;
    io_request *next = nullptr;
    cancelling_request() {
      on_complete = [](io_request *r, long res) {
        auto *self = static_cast<cancelling_request *>(r);
        self->owner->cancel(self->next);
        self->result = res;
        if (++self->calls == 1) {
          self->completed.set_value();
        }
      };
    }
  };
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  for (int round = 0; round < 20; ++round) {
    char first_buffer[4];
    char second_buffer[4];
    iovec first_iov{first_buffer, sizeof first_buffer};
    iovec second_iov{second_buffer, sizeof second_buffer};
    cancelling_request first;
    recorded_request second;
    first.fd = second.fd = pair.server;
    first.iov = &first_iov;
    second.iov = &second_iov;
    first.iov_count = second.iov_count = 1;
    first.owner = &l;
    first.next = &second;
    io_request *chain[] = {&first, &second};
    run_on(l, [&] { ASSERT_EQ(l.submit_linked(chain, 2), 0); });
    if (round % 2 == 0) {
      settle(l); // the chain waits in the kernel before the bytes come, or not yet
    }
    ASSERT_EQ(::send(pair.client, "abcd", 4, MSG_NOSIGNAL), 4);
    auto first_done = first.completed.get_future();
    auto second_done = second.completed.get_future();
    ASSERT_EQ(first_done.wait_for(std::chrono::seconds(5)), std::future_status::ready)
        << "round " << round;
    ASSERT_EQ(second_done.wait_for(std::chrono::seconds(2)), std::future_status::ready)
        << "round " << round << ": the cancelled request did not end";
    EXPECT_EQ(first.result.load(), 4);
    EXPECT_EQ(std::string(first_buffer, 4), "abcd");
    EXPECT_EQ(second.result.load(), -ECANCELED) << "round " << round;
    EXPECT_EQ(second.calls.load(), 1);
  }
  // The cancelled requests took nothing.
  expect_next_bytes_whole(pair);
}

TEST(net_loop, StopEndsRequestsStillInTheKernelWithTheirCallbacks) {
  loop l;
  l.start();
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  char buffer[16];
  iovec iov{buffer, sizeof buffer};
  recorded_request r;
  r.fd = pair.server;
  r.iov = &iov;
  r.iov_count = 1;
  bool submitted = false;
  run_on(l, [&] { submitted = l.supports_io_requests() && l.submit(&r) == 0; });
  l.stop();
  EXPECT_EQ(r.calls.load(), submitted ? 1 : 0);
  if (submitted) {
    EXPECT_EQ(r.result.load(), -ECANCELED);
  }
}

// Thousands of readiness events at once overflow io_uring's completion queue (4,096 entries),
// and the kernel then ends the multishot poll requests whose events did not fit. A watcher whose
// request ended must be re-armed every time, even when the new request ends at its first event
// again (the queue still full): otherwise its descriptor is never reported again, and a
// connection stops being served. Here an eventfd written 6,000 times from the loop thread fills
// the queue; a socket that becomes readable right after must be reported, round after round.
// (On epoll nothing overflows, and the same must hold.)
TEST(net_loop, WatchersStayArmedWhenTheCompletionQueueOverflows) {
  loop l;
  l.start();
  tcp_pair pair;
  ASSERT_NO_FATAL_FAILURE(make_tcp_pair(pair));
  const int flood = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(flood, 0);
  counting_watcher victim;
  victim.fd = pair.server;
  counting_watcher flooder;
  flooder.fd = flood;
  flooder.drain = false;
  flooder.on_events = [](watcher *w, std::uint32_t) {
    std::uint64_t value;
    (void)!::read(w->fd, &value, sizeof value);
  };
  run_on(l, [&] {
    ASSERT_EQ(l.add(&victim, uwsk::net::ev_in), 0);
    ASSERT_EQ(l.add(&flooder, uwsk::net::ev_in), 0);
  });
  settle(l);
  constexpr int rounds = 4;
  constexpr int writes_per_round = 6000;
  for (int round = 0; round < rounds; ++round) {
    run_on(l, [&] {
      // Each write wakes the flooder's request; the loop thread's own system calls post the
      // completions, so the queue fills while this task runs. Then the victim gets its byte.
      for (int i = 0; i < writes_per_round; ++i) {
        const std::uint64_t one = 1;
        ASSERT_EQ(::write(flood, &one, sizeof one), static_cast<ssize_t>(sizeof one));
      }
      ASSERT_EQ(::send(pair.client, "v", 1, MSG_NOSIGNAL), 1);
      ASSERT_TRUE(readable_soon(pair.server));
    });
    const std::size_t expected = static_cast<std::size_t>(round) + 1;
    EXPECT_TRUE(eventually([&] {
      std::size_t got = 0;
      run_on(l, [&] { got = victim.data.size(); });
      return got == expected;
    })) << "round "
        << round << ": the socket's byte was never reported";
  }
  run_on(l, [&] {
    l.remove(&victim);
    l.remove(&flooder);
  });
  l.stop();
  ::close(flood);
  EXPECT_EQ(victim.data, std::string(rounds, 'v'));
}

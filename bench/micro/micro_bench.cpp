// uwsk-bench-micro: Google Benchmark measurements of the kernel-emulation operations a WSK driver
// pays on every request, linked against the runtime itself (uwsk_static):
//   - IRP allocate + complete + free (IoAllocateIrp, IoCompleteRequest, IoFreeIrp), the way a
//     WSK client drives an IRP it owns, and the same with one IRP reused (IoReuseIrp);
//   - KeSetEvent -> waiter wake: two threads ping-pong over two synchronization events; one
//     iteration is one round trip, i.e. two wake-ups;
//   - MDL build: IoAllocateMdl + MmBuildMdlForNonPagedPool + IoFreeMdl over a 4 KiB buffer;
//   - DbgPrint formatting: the echo driver's per-connection line through DbgPrint (the log sink
//     is /dev/null, so the cost is formatting plus one write), and the same format through
//     RtlStringCbPrintfA (formatting alone);
//   - UDP sends over loopback, 64-byte datagrams: one sendmsg per datagram (what a WskSendTo
//     costs in system calls) against one sendmmsg per batch of 8 (the datagrams uwsk indicates
//     per receive-from event): what batching the sends made inside that event could save. The
//     receiving socket is drained with recvmmsg outside the timed part.
//   - The two forms of a stream's send and receive, 64 bytes over a loopback TCP connection:
//     sendmsg + recvmsg (a msghdr and an iovec array for the kernel to import) against sendto +
//     recvfrom (one buffer), each made through syscall(2) as uwsk makes them; one iteration is
//     one send and the receive of its bytes.
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include <ntddk.h>
#include <ntstrsafe.h>
#include <uwsk/log.h>

namespace {

NTSTATUS NTAPI stop_completion(PDEVICE_OBJECT, PIRP, PVOID context) {
  ++*static_cast<int *>(context);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

// Completes an IRP the way a provider does: take the client's stack location, set the status,
// complete; the client's routine keeps the IRP (STATUS_MORE_PROCESSING_REQUIRED).
void complete_once(PIRP irp, int *completions) {
  IoSetCompletionRoutine(irp, stop_completion, completions, TRUE, TRUE, TRUE);
  IoSetNextIrpStackLocation(irp);
  irp->IoStatus.Status = STATUS_SUCCESS;
  irp->IoStatus.Information = 64;
  IoCompleteRequest(irp, IO_NO_INCREMENT);
}

void irp_allocate_complete_free(benchmark::State &state) {
  int completions = 0;
  for (auto _ : state) {
    PIRP irp = IoAllocateIrp(1, FALSE);
    complete_once(irp, &completions);
    IoFreeIrp(irp);
  }
  benchmark::DoNotOptimize(completions);
}
BENCHMARK(irp_allocate_complete_free);

void irp_reuse_complete(benchmark::State &state) {
  int completions = 0;
  PIRP irp = IoAllocateIrp(1, FALSE);
  for (auto _ : state) {
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    complete_once(irp, &completions);
  }
  IoFreeIrp(irp);
  benchmark::DoNotOptimize(completions);
}
BENCHMARK(irp_reuse_complete);

void ke_set_event_wake(benchmark::State &state) {
  KEVENT ping, pong;
  KeInitializeEvent(&ping, SynchronizationEvent, FALSE);
  KeInitializeEvent(&pong, SynchronizationEvent, FALSE);
  std::atomic<bool> done{false};
  // The partner answers each ping with a pong; a bounded wait keeps it from hanging if the
  // benchmark ends between two pings.
  std::thread partner([&] {
    LARGE_INTEGER timeout;
    timeout.QuadPart = -10 * 1000 * 100; // 100 ms, relative
    while (!done.load(std::memory_order_acquire)) {
      if (KeWaitForSingleObject(&ping, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS) {
        KeSetEvent(&pong, IO_NO_INCREMENT, FALSE);
      }
    }
  });
  for (auto _ : state) {
    KeSetEvent(&ping, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(&pong, Executive, KernelMode, FALSE, nullptr);
  }
  done.store(true, std::memory_order_release);
  partner.join();
}
BENCHMARK(ke_set_event_wake)->UseRealTime();

void ke_set_event_no_waiter(benchmark::State &state) {
  KEVENT event;
  KeInitializeEvent(&event, NotificationEvent, FALSE);
  for (auto _ : state) {
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    KeClearEvent(&event);
  }
}
BENCHMARK(ke_set_event_no_waiter);

void mdl_build(benchmark::State &state) {
  alignas(4096) static UCHAR buffer[4096];
  for (auto _ : state) {
    PMDL mdl = IoAllocateMdl(buffer, sizeof(buffer), FALSE, FALSE, nullptr);
    MmBuildMdlForNonPagedPool(mdl);
    IoFreeMdl(mdl);
  }
}
BENCHMARK(mdl_build);

void dbgprint_line(benchmark::State &state) {
  ULONG id = 0;
  for (auto _ : state) {
    ++id;
    DbgPrint("echo-server: connection %lu from 127.0.0.1:%u\n", id, 40000u + (id & 1023));
  }
}
BENCHMARK(dbgprint_line);

void dbgprint_format_only(benchmark::State &state) {
  char text[128];
  ULONG id = 0;
  for (auto _ : state) {
    ++id;
    RtlStringCbPrintfA(text, sizeof(text), "echo-server: connection %lu from 127.0.0.1:%u\n", id,
                       40000u + (id & 1023));
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(dbgprint_format_only);

// A connected pair of UDP sockets on 127.0.0.1 with large receive buffers.
struct udp_pair {
  int from = -1, to = -1;
  udp_pair() {
    from = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    to = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const int big = 8 << 20;
    setsockopt(to, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof a;
    bind(to, reinterpret_cast<sockaddr *>(&a), sizeof a);
    getsockname(to, reinterpret_cast<sockaddr *>(&a), &length);
    target = a;
  }
  ~udp_pair() {
    close(from);
    close(to);
  }
  // Reads everything queued on `to` (not timed).
  void drain() {
    static char buffers[64][128];
    mmsghdr messages[64];
    iovec iov[64];
    for (;;) {
      for (int i = 0; i < 64; ++i) {
        iov[i] = {buffers[i], sizeof buffers[i]};
        std::memset(&messages[i], 0, sizeof messages[i]);
        messages[i].msg_hdr.msg_iov = &iov[i];
        messages[i].msg_hdr.msg_iovlen = 1;
      }
      if (recvmmsg(to, messages, 64, MSG_DONTWAIT, nullptr) <= 0) {
        return;
      }
    }
  }
  sockaddr_in target{};
};

constexpr int udp_batch = 8; // datagrams per receive-from indication in uwsk

// One sendmsg per datagram, each with its destination, as WskSendTo does; the time is per
// datagram.
void udp_sendmsg_each(benchmark::State &state) {
  udp_pair pair;
  char payload[64] = {};
  int sent = 0;
  for (auto _ : state) {
    for (int i = 0; i < udp_batch; ++i) {
      iovec iov{payload, sizeof payload};
      msghdr h{};
      h.msg_name = &pair.target;
      h.msg_namelen = sizeof pair.target;
      h.msg_iov = &iov;
      h.msg_iovlen = 1;
      if (sendmsg(pair.from, &h, 0) != static_cast<ssize_t>(sizeof payload)) {
        state.SkipWithError("sendmsg failed");
        return;
      }
    }
    if (++sent % 16 == 0) { // 128 datagrams: within the default receive buffer
      state.PauseTiming();
      pair.drain();
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations() * udp_batch);
}
BENCHMARK(udp_sendmsg_each);

// The same datagrams in one sendmmsg per batch.
void udp_sendmmsg_batch(benchmark::State &state) {
  udp_pair pair;
  char payload[64] = {};
  iovec iov[udp_batch];
  mmsghdr messages[udp_batch];
  int sent = 0;
  for (auto _ : state) {
    for (int i = 0; i < udp_batch; ++i) {
      iov[i] = {payload, sizeof payload};
      std::memset(&messages[i], 0, sizeof messages[i]);
      messages[i].msg_hdr.msg_name = &pair.target;
      messages[i].msg_hdr.msg_namelen = sizeof pair.target;
      messages[i].msg_hdr.msg_iov = &iov[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    if (sendmmsg(pair.from, messages, udp_batch, 0) != udp_batch) {
      state.SkipWithError("sendmmsg failed");
      return;
    }
    if (++sent % 16 == 0) { // 128 datagrams: within the default receive buffer
      state.PauseTiming();
      pair.drain();
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations() * udp_batch);
}
BENCHMARK(udp_sendmmsg_batch);

// A connected pair of TCP sockets on 127.0.0.1, Nagle off on the sending one.
struct tcp_pair {
  int from = -1, to = -1;
  tcp_pair() {
    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof a;
    bind(listener, reinterpret_cast<sockaddr *>(&a), sizeof a);
    listen(listener, 1);
    getsockname(listener, reinterpret_cast<sockaddr *>(&a), &length);
    from = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    connect(from, reinterpret_cast<sockaddr *>(&a), sizeof a);
    to = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    close(listener);
    const int one = 1;
    setsockopt(from, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~tcp_pair() {
    close(from);
    close(to);
  }
  bool ready() const { return from >= 0 && to >= 0; }
};

constexpr long stream_message = 64;

// One sendmsg and one recvmsg per iteration, one iovec each.
void stream_sendmsg_recvmsg(benchmark::State &state) {
  tcp_pair pair;
  char payload[stream_message] = {};
  char arrived[4096];
  for (auto _ : state) {
    iovec out{payload, sizeof payload};
    msghdr send_header{};
    send_header.msg_iov = &out;
    send_header.msg_iovlen = 1;
    iovec in{arrived, sizeof arrived};
    msghdr receive_header{};
    receive_header.msg_iov = &in;
    receive_header.msg_iovlen = 1;
    if (!pair.ready() ||
        syscall(SYS_sendmsg, pair.from, &send_header, MSG_NOSIGNAL) != stream_message ||
        syscall(SYS_recvmsg, pair.to, &receive_header, 0) != stream_message) {
      state.SkipWithError("sendmsg or recvmsg failed");
      return;
    }
  }
}
BENCHMARK(stream_sendmsg_recvmsg);

// The same bytes with one sendto and one recvfrom per iteration.
void stream_sendto_recvfrom(benchmark::State &state) {
  tcp_pair pair;
  char payload[stream_message] = {};
  char arrived[4096];
  for (auto _ : state) {
    if (!pair.ready() ||
        syscall(SYS_sendto, pair.from, payload, sizeof payload, MSG_NOSIGNAL, nullptr, 0) !=
            stream_message ||
        syscall(SYS_recvfrom, pair.to, arrived, sizeof arrived, 0, nullptr, nullptr) !=
            stream_message) {
      state.SkipWithError("sendto or recvfrom failed");
      return;
    }
  }
}
BENCHMARK(stream_sendto_recvfrom);

} // namespace

int main(int argc, char **argv) {
  // DbgPrint's output is not what is measured; send it where writing costs the least.
  uwsk_log_open("/dev/null");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  uwsk_log_close();
  return 0;
}

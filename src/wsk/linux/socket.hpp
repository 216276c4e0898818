// The provider's socket object and the machinery every category shares (Linux half).
//
// The lifetime rules are docs/design.md's, "Sockets", cited in the code as "socket rule N". Here:
// a socket_object is freed on its loop thread by the release task WskCloseSocket posts, after
// every parked IRP has left its queue (completed by the close, or by a cancel routine already
// running) (socket rule 1); everything below `lock` is guarded by it, and IRPs are completed
// only after it is released, because completion routines may call back into the provider
// (socket rule 2); the watcher is added and removed only on the loop thread (socket rule 6,
// net::loop rule 2).
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "net/loop.hpp"
#include "nt/fault/plan.hpp"
#include "wsk/views.hpp"
#include "wsk/registration.hpp"
#include "wsk/sockets.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/linux/socket_lock.hpp"

namespace uwsk::wsk {

// The lifecycle of a socket (docs/wsk-behaviour.md, "Socket states").
enum class socket_state : UCHAR {
  created,    // no address yet
  bound,      // WskBind done
  listening,  // a listening socket after bind, a stream socket after WskListen
  connecting, // a connect is in flight
  connected,  // connected, accepted, or from WskSocketConnect
  closing     // WskCloseSocket called
};

// The queues of operations, one per kind.
enum class queue_kind : UCHAR { receive, send, accept, connect, count };

// The IRPs of one kind of operation on a socket, in submission order (docs/design.md,
// "Completion order"). Every IRP on `finished` was submitted before every IRP on `parked`, and
// completion routines run in list order, one at a time: a later operation never completes,
// inline or not, while an earlier one of its kind is parked or not yet delivered. Guarded by
// the socket's lock. Whether a thread is running its completion routines is a bit of the
// socket's (socket_object::delivering).
struct op_queue {
  op_queue() { InitializeListHead(&finished); }
  parked_list parked;  // not finished: cancellable, tried again on readiness
  LIST_ENTRY finished; // finished, the completion routine not yet run; not cancellable
};

// A socket's two addresses as the kernel gave them (a length of 0: none), kept with a closed
// or refused socket and formatted only when a report names them.
struct socket_endpoints {
  sockaddr_storage local{};
  sockaddr_storage remote{};
  socklen_t local_length = 0;
  socklen_t remote_length = 0;
};

struct socket_object;

// The loop's intrusive records that live outside socket_object, each knowing its socket. The
// socket's own watcher and tasks find it by their offset in it (linux/socket.cpp, socket_of_*).
struct socket_task : net::task {
  socket_object *owner = nullptr;
};
struct socket_timer : net::timer {
  socket_object *owner = nullptr;
};

// A list entry that knows its socket.
struct socket_link {
  LIST_ENTRY entry{};
  socket_object *owner = nullptr;
};

struct data_chunk; // a provider-owned receive buffer behind an indication (linux/events.hpp)

// The part of event_state only a socket that can listen has (listening and stream sockets; made
// with the socket): conditional accept and the copies its callbacks get.
struct listener_events {
  listener_events() {
    InitializeListHead(&inspecting);
    InitializeListHead(&ready);
  }
  // Conditional accept: connections the client pended (awaiting WskInspectComplete) and
  // connections accepted by inspection (awaiting WskAccept or the accept event), linked through
  // their own inspection::link.
  LIST_ENTRY inspecting;
  LIST_ENTRY ready;
  ULONG next_serial = 0;
  socket_timer abort_timer; // polls `inspecting` for peers that gave up
  // The provider's copies a listener's WskAcceptEvent and WskInspectEvent (and WskAbortEvent)
  // get: the addresses and the inspect ID. They live here rather than on a stack frame so that,
  // filled with callback_poison once the callback returns, they stay poisoned until the next
  // callback of the listener: a client that kept a pointer and passes it to a WSK function is
  // caught (rules V57, V59).
  alignas(8) unsigned char callback_local[32] = {};
  alignas(8) unsigned char callback_remote[32] = {};
  alignas(8) unsigned char callback_inspect_id[2 * sizeof(ULONG_PTR)] = {};
  // The listener's own address in Windows layout, read at its first accept or inspect event:
  // unless it is a wildcard address, it is the local address of every connection accepted here,
  // which then needs no getsockname.
  enum class own_address : UCHAR { unread, specific, wildcard };
  own_address own_kind = own_address::unread;
  alignas(8) unsigned char own_local[32] = {};
};

// The timers of an event_state's checks, which most sockets never arm.
struct event_timers {
  // Rule V56: the NULL indication was given and the socket is expected to be closed within
  // dead_socket_close_bound; the timer checks that it was.
  socket_timer dead_timer;
  // Rule V53: the receive event stalled (partial acceptance or STATUS_DATA_NOT_ACCEPTED); the
  // timer checks, once per socket, that a WskReceive came within stall_bound to resume it.
  socket_timer stall_timer;
  // The receive events could not read for want of memory (the indication state or a chunk):
  // readiness will not report the bytes waiting in the kernel again, so the timer runs the
  // socket's pass again (events_retry_for_memory).
  socket_timer memory_timer;
};

// What a connection that went through inspection (conditional accept) keeps: its WSK_INSPECT_ID
// (SIO_WSK_QUERY_INSPECT_ID) and its place on the listener's lists of connections pended or
// accepted by inspection (listener_events::inspecting, ready).
struct inspection {
  inspection() { InitializeListHead(&link.entry); }
  ULONG_PTR key = 0;
  ULONG serial = 0;
  socket_link link;
};

// The data a socket read for its receive events and holds (linux/indication.cpp): made when it
// first reads for them, so a socket that never does carries none of it. Receive backpressure:
// the bytes read for events and not yet taken by the client (`unread`, `refused`, `retained`),
// the bound on them (the socket's SO_RCVBUF, read when first needed; 0 until then), and whether
// reading stopped at the bound (`throttled`; a release below it kicks the loop, since
// edge-triggered readiness will not report the data again).
struct indication_state {
  indication_state() { InitializeListHead(&retained); }
  // Read for events and not yet taken, in stream order (linked through data_chunk::next_unread):
  // bytes indicated and not accepted, then (ring I/O) what a multishot receive brought while
  // the events could not indicate it. The head of the byte stream.
  data_chunk *unread = nullptr;
  data_chunk *refused = nullptr; // datagrams not accepted, indicated again on re-enable
  LIST_ENTRY retained;           // indication lists the client kept (STATUS_PENDING)
  SIZE_T buffered = 0;
  SIZE_T buffer_limit = 0;
  bool throttled = false;
};

// The event callbacks of a socket (linux/events.cpp), guarded by the socket's lock (what few
// sockets need of them is in socket_rare). Callbacks run
// only on the socket's loop thread, so they are serial by construction.
struct event_state {
  ULONG running = 0;            // the WSK_EVENT_* bit whose callback is running, or 0
  bool held = false;            // accepted, WskAcceptEvent not yet returned: no callbacks
  bool receive_stalled = false; // partial acceptance or STATUS_DATA_NOT_ACCEPTED
  bool disconnect_indicated = false;
  bool peer_reset = false;           // the peer reset the connection
  bool fin_seen = false;             // the peer's FIN arrived (EPOLLRDHUP)
  bool dead_indicated = false;       // the NULL indication (socket no longer works) was given
  bool v58_noted = false;            // rule V58 was logged for this socket (fault v58)
  bool receive_from_dynamic = false; // WSK_EVENT_RECEIVE_FROM came from SO_WSK_EVENT_CALLBACK
  unsigned resuming = 0;             // receives ending a stall, not yet completed
  bool stall_reported = false;       // rule V53 was reported for this socket
  // What the socket read for its receive events and holds; NULL until it first reads for them.
  std::unique_ptr<indication_state> indicated;
  // A connection that went through inspection: made when its listener takes it for the
  // WskInspectEvent; NULL on every other socket.
  std::unique_ptr<inspection> inspected;
};

class completion_batch;

// Receives of one stream socket the ring may hold at once (docs/design.md, "Ring I/O"): the
// first IRPs of the receive queue, linked in queue order so that the kernel runs each after the
// one before it. Sends stay at one at a time (a partial send would let the next one in).
constexpr unsigned ring_receive_depth = 4;

// One IRP of a stream socket's receive or send queue in the hands of the io_uring engine
// (docs/design.md, "Ring I/O"): the loop's I/O request for it, straight over the IRP's MDL
// pages. Guarded by the socket's lock; the request itself is submitted and cancelled on the
// loop thread only.
//
// The IRP stays on its queue's parked list, cancellable, while the kernel holds its buffer.
// Whoever comes second of the request's completion and the IRP's cancel routine finishes it:
//  - the cancel routine, finding the request in flight, only asks for its cancellation
//    (`stop_status`, `cancelled`) and leaves the IRP to the completion;
//  - the completion, finding that the cancel routine took the IRP's cancel routine back
//    (irp_unpark fails) but has not run yet, leaves the result in `result_*` (`done` without
//    `owned`) for it.
// Either way the IRPs of a lane are finished in lane order (ring_flush_locked).
struct ring_io : net::io_request {
  socket_object *owner = nullptr;
  PIRP irp = nullptr; // the IRP the request works for (in flight, or done and not yet handed on)
  ULONG_PTR result_information = 0; // when done
  // Non-zero: the IRP is to end now (IoCancelIrp, WskCloseSocket, an abortive disconnect):
  // with its bytes when any moved, else with this status.
  NTSTATUS stop_status = STATUS_SUCCESS;
  NTSTATUS result_status = STATUS_SUCCESS; // when done
  bool cancelled = false; // the IRP's cancel routine ran: the completion owns the IRP
  bool done = false;      // the request finished the IRP with `result_*`
  bool owned = false;     // (done) the IRP is ours to finish: no cancel routine is left to run
  bool result_resumes_events = false; // when done (attempt::resumes_events)
  iovec pieces[4]; // the MDL pages the request covers (a longer chain is taken in parts)

  // Back to free: no IRP, nothing pending.
  void clear() {
    irp = nullptr;
    cancelled = done = owned = false;
    stop_status = STATUS_SUCCESS;
  }
};

// The ring requests of one direction of a stream socket: slots[0 .. depth), used as one linked
// chain at a time in queue order (slot 0 holds the first IRP of the chain). A new chain starts
// only when every slot is free, so the kernel never runs two chains of a socket side by side.
// A slot is made when a chain first needs it (ring_pump_queue in linux/stream_ring.cpp) and
// kept until the socket is freed: NULL until then, and free.
struct ring_lane {
  ring_io **slots = nullptr;
  unsigned depth = 0;

  // The slot holding `irp`, or NULL.
  ring_io *holding(PIRP irp) {
    for (unsigned i = 0; i < depth; ++i) {
      if (slots[i] != nullptr && slots[i]->irp == irp) {
        return slots[i];
      }
    }
    return nullptr;
  }
  // Whether some slot holds an IRP (in flight, or done and not yet handed on).
  bool busy() const {
    for (unsigned i = 0; i < depth; ++i) {
      if (slots[i] != nullptr && slots[i]->irp != nullptr) {
        return true;
      }
    }
    return false;
  }
};

// The multishot receive feeding receive events (ring_pair::multishot).
struct ring_shot : net::io_request {
  socket_object *owner = nullptr;
};

// A socket's fault-injection state (socket_object::faults; nt/fault/plan.hpp rule 3): its fault
// id, its draws per stream, (a listener) the connections it accepted so far, and the task that
// delivers finished IRPs on another loop (other-loop).
struct socket_faults {
  std::uint64_t id = 0;
  fault::counters draws;
  std::atomic<std::uint64_t> accepts{0};
  socket_task deliver_task;
};

// A stream socket's ring requests (socket_object::ring), a lane per direction, and the task
// that submits and cancels them on the loop thread. The requests are made when first used, so a
// socket carries only those it needed: the receive slots its deepest chain took, the send slot
// once a send went to the ring, the multishot receive once receive events read through the
// ring. They live until the socket is freed (its release waits until none is in the kernel).
struct ring_pair {
  ring_pair() = default;
  ring_pair(const ring_pair &) = delete;
  ring_pair &operator=(const ring_pair &) = delete;
  ~ring_pair() {
    for (ring_io *r : receives) {
      delete r;
    }
    delete sends[0];
    delete multishot;
  }
  ring_io *receives[ring_receive_depth] = {};
  ring_io *sends[1] = {};
  ring_lane receive{receives, ring_receive_depth};
  ring_lane send{sends, 1};
  socket_task task;
  // The multishot receive feeding receive events (event rule 10, linux/stream_ring_events.cpp):
  // a request of its own beside the lanes, never an IRP's; NULL until first armed. It runs only
  // while the receive lane is idle (no IRP in any slot), and is cancelled, its bytes kept in
  // order on the unread list, before the lane takes a receive. `shots`: in the kernel (set when
  // submitted, cleared by its last completion); `shots_stopping`: its cancellation asked for;
  // `end_pending`, `end_result`: the end (0 or -errno) it met, kept until the bytes received
  // before it are taken; `uses_buffers`: the socket counts as a user of its loop's provided
  // buffers (from the first multishot receive until the socket is freed).
  ring_shot *multishot = nullptr;
  bool shots = false;
  bool shots_stopping = false;
  bool end_pending = false;
  bool uses_buffers = false;
  int end_result = 0;
};

// The addresses a datagram socket's WskControlSocket fixed (socket_object::fixed); length 0:
// that one is not set.
struct fixed_addresses {
  sockaddr_storage remote{}; // SIO_WSK_SET_REMOTE_ADDRESS
  socklen_t remote_length = 0;
  sockaddr_storage sendto{}; // SIO_WSK_SET_SENDTO_ADDRESS
  socklen_t sendto_length = 0;
};

// What few sockets have (socket_object::rare), made with the socket when it can listen, else
// when first needed, under the socket's lock: so that a connection that never connects, listens,
// arms a check, sets an address or a descriptor, or indicates its send backlog carries none of
// it.
struct socket_rare {
  // The accept and connect queues (queue_kind::accept, connect): made with a socket that can
  // listen, and by WskConnect and WskSocketConnect before the connection begins.
  op_queue setup[2];
  // SO_WSK_SECURITY: a cached descriptor, on which the socket holds a reference of its own.
  PVOID security = nullptr;
  // Datagram sockets: SIO_WSK_SET_REMOTE_ADDRESS and SIO_WSK_SET_SENDTO_ADDRESS, made when
  // either is first set (NULL: neither is).
  std::unique_ptr<fixed_addresses> fixed;
  // A socket that can listen: its listener_events (event_state); NULL on every other socket.
  std::unique_ptr<listener_events> listener;
  // The timers of rules V56 and V53 and the receive events' retry for memory (event_state),
  // made when one is first armed (event_timers_of).
  std::unique_ptr<event_timers> timers;
  // SO_WSK_EVENT_CALLBACK disable IRPs waiting for the callback that runs (event_state::running).
  parked_list disable_irps;
  // The ideal send backlog last indicated (WskSendBacklogEvent, event_state).
  SIZE_T backlog_indicated = 0;
};

// What the socket core calls in its category's code (linux/stream_*.cpp for listening, connection
// and stream sockets; linux/datagram.cpp), so that the core depends on nothing above it. Chosen
// when the socket is created (linux/categories.hpp).
struct socket_behaviour {
  // Readiness on the socket's loop thread, and the kick task (as if readable and writable).
  void (*on_events)(socket_object *s, std::uint32_t events);
  // Under the lock: tries parked receives again once an indication they waited for is settled.
  void (*resume_receives)(socket_object *s, completion_batch &done);
  // Under the lock, in WskCloseSocket, before its parked IRPs fail: what the category holds
  // besides IRPs is let go, and work it owes parked IRPs is done (finished through `done`).
  void (*on_close_locked)(socket_object *s, completion_batch &done);
  // Just before the socket is freed: its indication buffers.
  void (*on_free)(socket_object *s);
  // Under the lock, after note_readiness: the part of on_events that resumes the operation
  // queues, without event callbacks; a waiting thread that does its own I/O (socket_assist_wait
  // in linux/socket.cpp) runs it on readiness it polled for itself.
  void (*resume_queues)(socket_object *s, std::uint32_t events, completion_batch &done);
  // Stream sockets on an engine that performs I/O requests (socket_object::ring_mode), NULL
  // otherwise. On the loop thread, under the lock: hands the first IRPs of the receive queue
  // (a chain) and the head of the send queue to the ring when their lanes are free (and tries
  // what cannot go there).
  void (*ring_pump)(socket_object *s, completion_batch &done);
  // The loop's callback for a ring_io request (takes the lock).
  void (*ring_complete)(net::io_request *request, long result);
  // Under the lock, in the cancel routine of a parked IRP of `kind`: the bytes it has already
  // moved, which a cancellation must not lose (it then completes with STATUS_SUCCESS and them).
  // NULL: none.
  ULONG_PTR (*bytes_moved)(PIRP irp, queue_kind kind);
};

struct socket_object {
  const void *dispatch = nullptr; // WSK_SOCKET.Dispatch: first, so PWSK_SOCKET is this object
  ULONG magic = 0;
  category cat = category::basic;
  USHORT windows_family = 0;
  int family = 0;
  int type = 0;
  int protocol = 0;
  int fd = -1;
  registration *reg = nullptr;
  PVOID context = nullptr;                     // the client's socket context
  const void *client_dispatch = nullptr;       // the client's callback table
  const socket_behaviour *behaviour = nullptr; // NULL for a basic socket, which has no loop
  net::loop *loop = nullptr;                   // the loop that owns fd's readiness
  net::watcher watcher;                        // on `loop`, from the attach task to the release
  // The attach task, then the release task: posted at creation to attach the socket to its loop,
  // and once that ran, to release it (request_release_locked).
  net::task lifecycle_task;
  net::task kick_task; // tries what is due again after a change made off the loop thread
  socket_object *live_next = nullptr; // on the list of live sockets (leak report, socket_pin)
  std::uint64_t serial = 0; // unique in the process: tells a socket from a later one at its address
  // Guarded by the list of live sockets' lock: threads doing their own I/O on the socket
  // (socket_assist_wait), which the release waits for, and whether the release waits.
  unsigned assist_pins = 0;
  bool release_deferred = false;
  // Rule V56: the socket got its NULL indication (it no longer works); any call but
  // WskCloseSocket and WskRelease is reported. Read without the lock by socket_checked.
  std::atomic<bool> dead_told{false};
  // Rule V67: SIO_WSK_SET_TCP_SILENT_MODE succeeded; any call but WskCloseSocket is reported.
  // Read without the lock by socket_checked (`silent` is the locked copy).
  std::atomic<bool> silent_told{false};
  // WskCloseSocket was called, or the provider destroys a socket the client never got
  // (destroy_unpublished); it may live on until its release task ran. Rule V42 counts it closed.
  std::atomic<bool> close_called{false};
  // Fault injection: made with the socket when a fault plan is active (the plan is installed
  // before the driver runs, nt/fault/plan.hpp rule 1), NULL otherwise.
  std::unique_ptr<socket_faults> faults;

  socket_lock lock; // guards everything below (socket rule 2)
  socket_state state = socket_state::created;
  bool attach_ran = false;        // the attach task has run (the release is posted after it)
  bool attached = false;          // the watcher is on the loop
  bool release_requested = false; // WskCloseSocket posted the release task
  bool kick_posted = false;       // kick_task is posted (the release waits for it)
  bool peer_closed = false;       // the peer's FIN was read (receives now complete with 0)
  bool send_closed = false;       // a graceful or abortive disconnect shut the send side
  bool aborted = false;           // an abortive disconnect or a reset happened
  // Reads wait for readiness (edge-triggered, net::watcher): a read returned EAGAIN, or a
  // stream read or a recvmmsg returned less than it asked for, so the receive queue was empty,
  // and no readiness was reported since. A read now could only return EAGAIN; the next arrival
  // is reported, and the readiness handler clears this before it resumes the queues.
  bool read_drained = false;
  // A short stream read does not mean the next read blocks once the peer's FIN or an error
  // was reported (ev_rdhup, ev_err, ev_hup): the next read returns 0 or the error at once, and
  // that report may have come before the read. Urgent data (ev_pri) ends a read short at the
  // urgent mark with more data queued. Both are sticky; only EAGAIN then sets read_drained. Set
  // from the start on the io_uring engine, whose reports cannot show urgent data (publish).
  bool short_read_unsure = false;
  // A connection's reads handed to the waiting threads that poll them (hand_reads_locked): the
  // loop does not watch them meanwhile, and the socket is in its loop's list of such sockets,
  // at hand_index (both changed on the loop thread only). reads_wanted: someone asked for them
  // back (the kick task then takes them back).
  bool reads_handed = false;
  bool reads_wanted = false;
  // Threads doing their own I/O on the socket while they wait (socket_assist_wait), by the
  // direction they poll, and the readiness the loop left to them meanwhile (loop_readiness).
  unsigned assist_readers = 0;
  unsigned assist_writers = 0;
  std::uint32_t assist_left = 0;
  std::uint32_t hand_index = 0; // see reads_handed
  PIRP close_irp = nullptr;     // the WskCloseSocket IRP, completed by the release task
  // other-loop: the queues (bit per queue_kind) fault_deliver_task delivers, and whether it is
  // posted (the release waits for it).
  std::uint8_t fault_deliver_kinds = 0;
  bool fault_deliver_posted = false;
  bool fault_forced_closed = false; // forced-close: every later send and receive fails so
  // Options the provider emulates (WskControlSocket sets them).
  bool reuse_address = false;      // SO_REUSEADDR
  bool exclusive_address = false;  // SO_EXCLUSIVEADDRUSE
  bool conditional_accept = false; // SO_CONDITIONAL_ACCEPT
  // SIO_WSK_SET_TCP_SILENT_MODE: sends and disconnects now fail; only WskCloseSocket remains.
  bool silent = false;
  // Ring I/O (docs/design.md, "Ring I/O"): set at creation when the socket's loop performs I/O
  // requests and its category uses them; whether the ring's task is posted (the release waits
  // for it). The requests and the task (`ring`) are made with the socket when ring_mode is set.
  bool ring_mode = false;
  bool ring_task_posted = false;
  // A thread is running the completion routines of the queue (bit per queue_kind): is_delivering.
  std::uint8_t delivering = 0;
  ULONG event_mask = 0; // event callbacks enabled (SO_WSK_EVENT_CALLBACK)
  // The receive and send queues; the accept and connect queues are in `rare` (ops_of).
  op_queue ops[2];
  // Ring I/O: the requests and the ring's task when ring_mode is set (NULL otherwise: a socket
  // on readiness carries none).
  std::unique_ptr<ring_pair> ring;
  event_state ev;
  // Its addresses, read just before the socket is freed or refused: a call on it afterwards is
  // reported with the endpoints it had (rules V30, V55). NULL until then (or when there was no
  // memory for them: the report then says so).
  std::unique_ptr<socket_endpoints> endpoints;
  // What few sockets have; NULL until one of its parts is needed (socket_rare_of).
  std::unique_ptr<socket_rare> rare;

  // Whether the queue of `kind` exists: the accept and connect queues only once `rare` does.
  bool queue_made(queue_kind kind) const { return kind <= queue_kind::send || rare != nullptr; }
  // The queue of `kind`, which must exist (queue_made).
  op_queue &ops_of(queue_kind kind) {
    return kind <= queue_kind::send ? ops[static_cast<int>(kind)]
                                    : rare->setup[static_cast<int>(kind) - 2];
  }
  const op_queue &ops_of(queue_kind kind) const {
    return kind <= queue_kind::send ? ops[static_cast<int>(kind)]
                                    : rare->setup[static_cast<int>(kind) - 2];
  }
  // The parked IRPs of a kind.
  LIST_ENTRY &queue(queue_kind kind) { return ops_of(kind).parked.head(); }
  // Whether a thread is running the completion routines of a kind (under the lock).
  bool is_delivering(queue_kind kind) const {
    return (delivering & (1u << static_cast<int>(kind))) != 0;
  }
  void set_delivering(queue_kind kind, bool on) {
    const auto bit = static_cast<std::uint8_t>(1u << static_cast<int>(kind));
    delivering = static_cast<std::uint8_t>(on ? delivering | bit : delivering & ~bit);
  }
  // Whether nothing of a kind is parked, waiting for delivery or being delivered: a new
  // operation may complete inline (and events give way to IRPs while not).
  bool queue_idle(queue_kind kind) const {
    if (!queue_made(kind)) {
      return true;
    }
    const op_queue &q = ops_of(kind);
    return q.parked.empty() && IsListEmpty(&q.finished) && !is_delivering(kind);
  }
  // The ring lane of the receive or send queue; NULL for the other kinds and off ring_mode.
  ring_lane *ring_of(queue_kind kind) {
    return !ring                         ? nullptr
           : kind == queue_kind::receive ? &ring->receive
           : kind == queue_kind::send    ? &ring->send
                                         : nullptr;
  }
  // The slot of `kind`'s lane that holds `irp` (in flight, or finished and not yet handed
  // on), or NULL.
  ring_io *ring_slot(queue_kind kind, PIRP irp) {
    ring_lane *lane = ring_mode ? ring_of(kind) : nullptr;
    return lane != nullptr ? lane->holding(irp) : nullptr;
  }
};

// Under the lock (or with the socket not yet published): its socket_rare, made if need be;
// NULL without memory for it.
socket_rare *socket_rare_of(socket_object *s);

// The unaccepted head of the stream a receive event left (event_state::indicated), or NULL.
inline data_chunk *unread_of(const socket_object *s) {
  return s->ev.indicated ? s->ev.indicated->unread : nullptr;
}

// Whether the fault of `stream` at rate `r` happens to `s` now (fault::happens on its draws);
// never for a socket made without a plan.
inline bool socket_fault_happens(socket_object *s, fault::stream stream, fault::rate r,
                                 const char *what) {
  return s->faults && fault::happens(stream, r, s->faults->id, s->faults->draws, what);
}

// What an attempt at an operation came to.
struct attempt {
  bool finished;         // false: it would block, park it (or keep it parked)
  NTSTATUS status;       // when finished
  ULONG_PTR information; // when finished and successful
  // A receive that ends a stalled receive event: events resume only after its completion
  // routine has run (event rule 3).
  bool resumes_events = false;
};
inline attempt would_block() {
  return {false, STATUS_PENDING, 0};
}
inline attempt finished(NTSTATUS status, ULONG_PTR information = 0) {
  return {true, status, information};
}

// What a read had room for, for note_read: a single datagram read says nothing by its length.
inline constexpr std::size_t room_unknown = 0;

// Under the lock, after a read: what its result says about the receive queue
// (socket_object::read_drained). `room` is what the read could take (bytes for a stream read,
// messages for a recvmmsg); a result below it means the queue ran empty. Not while the reads
// are handed to waiters (hand_reads_locked): no readiness report would clear it, so every read
// is tried (the data often arrives while the waiting thread sends its echo).
inline void note_read(socket_object *s, ssize_t got, std::size_t room) {
  if (s->reads_handed) {
    return;
  }
  if (got == -EAGAIN || (room != room_unknown && got > 0 && static_cast<std::size_t>(got) < room &&
                         !s->short_read_unsure)) {
    s->read_drained = true;
  }
}

// The readiness reports after which a read may find something (data, a FIN, an error).
inline constexpr std::uint32_t readable_events =
    net::ev_in | net::ev_rdhup | net::ev_pri | net::ev_err | net::ev_hup;

// Under the lock, in a readiness handler: readiness was reported, so reads may find data again.
inline void note_readiness(socket_object *s, std::uint32_t events) {
  if ((events & (net::ev_rdhup | net::ev_pri | net::ev_err | net::ev_hup)) != 0) {
    s->short_read_unsure = true;
  }
  if ((events & readable_events) != 0) {
    s->read_drained = false;
  }
}

// Under the lock, in a readiness handler, after note_readiness: the readiness whose queues the
// loop resumes. A waiting thread that polls the socket itself for reads or writes
// (socket_assist_wait) resumes those queues on its own, so the loop leaves them to it and
// records what it left (the waiter resumes that too when it stops polling).
inline std::uint32_t loop_readiness(socket_object *s, std::uint32_t events) {
  std::uint32_t left = 0;
  if (s->assist_readers != 0) {
    left |= events & (net::ev_in | net::ev_rdhup | net::ev_pri);
  }
  if (s->assist_writers != 0) {
    left |= events & net::ev_out;
  }
  s->assist_left |= left;
  return events & ~left;
}

// Under the lock, on the loop thread, in a connection's readiness handler after loop_readiness
// (`left`: the readiness it left to waiters). While a waiting thread polls a connection's reads
// itself, every arrival would still wake the loop only to be left to that thread: the loop hands
// the reads to the waiters instead (stops watching them, one loop::modify) and takes them back
// (one more) when they are wanted (want_reads_locked), when event callbacks are enabled, or
// when a check every `hand_bound` finds a receive parked that no waiting thread polls for (its
// thread parked it and did not wait for it): such a receive is resumed by the loop as before,
// late by that bound at most.
void hand_reads_locked(socket_object *s, std::uint32_t left);

// Under the lock, on any thread: a receive is parked that no waiting thread may poll for; the
// loop is to watch the socket's reads again if it handed them (through the kick task).
void want_reads_locked(socket_object *s);

// Under the lock, on the loop thread: the watcher's interest follows what the socket needs now
// (its reads are not polled while a multishot receive reads them, ring_pair::shots).
void rewatch_locked(socket_object *s);

// Completions due once a socket's lock is released (socket rule 2): IRPs outside the operation
// queues (event-disable and address-change IRPs), and the queues of one socket whose finished IRPs
// are to be delivered.
class completion_batch {
public:
  completion_batch() = default;
  completion_batch(const completion_batch &) = delete;
  completion_batch &operator=(const completion_batch &) = delete;
  ~completion_batch() { complete_all(); }
  void add(PIRP irp, NTSTATUS status, ULONG_PTR information);
  // After the lock is released, delivers the finished IRPs of `s`'s queue of `kind`.
  void deliver_after(socket_object *s, queue_kind kind);
  // With `s`'s lock held through `guard`, when the batch holds nothing but deliveries of `s`:
  // delivers them now, dropping the lock only around each completion routine, instead of
  // releasing it and taking it again to start (the lock is held again on return), and returns
  // true (the batch is empty). Otherwise leaves everything to complete_all and returns false.
  bool deliver_holding(socket_object *s, std::unique_lock<socket_lock> &guard);
  // With `s`'s lock held through `guard`: completes the whole batch now, before the caller's
  // event callbacks (event rule 2), holding the lock where deliver_holding can and releasing it
  // around complete_all otherwise. The lock is held again on return.
  void complete_before_events(socket_object *s, std::unique_lock<socket_lock> &guard) {
    if (!deliver_holding(s, guard)) {
      guard.unlock();
      complete_all();
      guard.lock();
    }
  }
  void complete_all();

private:
  struct entry {
    PIRP irp;
    NTSTATUS status;
    ULONG_PTR information;
  };
  entry inline_[8];
  std::size_t count_ = 0;
  PIRP overflow_ = nullptr; // further IRPs, chained through their list entries
  socket_object *deliver_socket_ = nullptr;
  unsigned deliver_kinds_ = 0; // bit per queue_kind
};

// Runs the completion routines of the finished IRPs of a queue, in order, unless another thread
// already does (it then runs these too). Takes the socket's lock; call it without.
void deliver_finished(socket_object *s, queue_kind kind);

// How one kind of operation is tried. `try_op` runs under the socket's lock and may be called
// several times for one IRP (once at the call, then on each readiness).
using try_function = attempt (*)(socket_object *s, PIRP irp);

// The part [offset, offset + length) of an MDL chain as iovecs over the driver's own memory (no
// copy), at most `capacity` of them. Returns how many were filled, and the bytes they cover in
// *bytes (fewer than `length` when the chain is shorter or needs more than `capacity` pieces).
// Inline for the usual buffer, whose bytes all lie in its first MDL; gather_chain does the rest.
std::size_t gather_chain(PMDL mdl, SIZE_T offset, SIZE_T length, struct iovec *iov,
                         std::size_t capacity, SIZE_T *bytes);
inline std::size_t gather_buffer(PMDL mdl, SIZE_T offset, SIZE_T length, struct iovec *iov,
                                 std::size_t capacity, SIZE_T *bytes) {
  if (mdl != nullptr && capacity != 0 && length != 0 && offset < MmGetMdlByteCount(mdl) &&
      length <= MmGetMdlByteCount(mdl) - offset) {
    // The usual buffer, all in its first MDL: one piece, as gather_chain would make it.
    auto *base = static_cast<char *>(
        MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute));
    iov[0].iov_base = base + offset;
    iov[0].iov_len = length;
    if (bytes != nullptr) {
      *bytes = length;
    }
    return 1;
  }
  return gather_chain(mdl, offset, length, iov, capacity, bytes);
}

// Whether a WSK_BUF describes bytes that exist: a NULL Mdl only with Length 0; otherwise Offset
// inside the first MDL and the chain from there holding at least Length bytes. Every call that
// takes a WSK_BUF checks this before anything moves, so a call that fails with
// STATUS_INVALID_PARAMETER sent nothing and consumed nothing (Windows assumes a well-formed
// WSK_BUF; uwsk checks it).
bool buffer_valid(const buffer_view &buffer);

// Whether a call may start on the socket in its current state: STATUS_SUCCESS, or the status
// its IRP completes with. Runs under the socket's lock.
using admit_function = NTSTATUS (*)(const socket_object *s);

// Runs an operation for a fresh IRP (after irp_enter): checks `admit` (when not null), then
// tries the operation at once when nothing of its kind is parked ahead of it, and parks it if
// it cannot finish. A finished operation completes inline when its queue is idle; otherwise it
// waits on the queue's finished list for the earlier completions and the call returns
// STATUS_PENDING. An operation refused by `admit` behind parked ones is parked too and fails
// in its turn. Returns what the WSK call returns.
NTSTATUS start_operation(socket_object *s, queue_kind kind, PIRP irp, try_function try_op,
                         admit_function admit = nullptr);

// Whether trying `irp` now could only say "would block" without a system call; lets
// resume_queue leave it parked instead of unparking and reparking it. Runs under the lock.
using blocked_function = bool (*)(const socket_object *s, PIRP irp);

// Resumes the queue of `kind` after readiness, in order, until an operation would block (or
// `blocked`, when not null, says the next one would). What finishes moves to the finished list,
// delivered through `done`.
// resume_queue's work once something is parked.
void resume_parked(socket_object *s, queue_kind kind, try_function try_op, completion_batch &done,
                   blocked_function blocked);
// Inline: a readiness pass looks at every queue its readiness may move, most of them empty.
inline void resume_queue(socket_object *s, queue_kind kind, try_function try_op,
                         completion_batch &done, blocked_function blocked = nullptr) {
  if (s->queue_made(kind) && !s->ops_of(kind).parked.empty()) {
    resume_parked(s, kind, try_op, done, blocked);
  }
}

// A loop of the provider's engine for work that belongs to no socket (the address-change
// watcher), so that provider_quiesce covers it too. NULL when the engine cannot start.
net::loop *provider_loop() noexcept;

// Under the lock: has the socket's loop try again what is due, as if the socket had become
// readable and writable (parked IRPs, then events; event rule 8). No-op once closing.
void socket_kick_locked(socket_object *s);

// Ring I/O, under the lock: has the loop thread pump the rings (ring_pump) and carry out
// requested cancellations, now when called there, else through the ring's task.
void ring_wake_locked(socket_object *s, completion_batch *done);
// Ring I/O, under the lock: the IRPs the ring holds for `kind` (only `irp` when not NULL) are
// to end now, with their bytes when any moved, else with `status`; the loop cancels the
// requests. Returns false when the ring holds none of them.
bool ring_stop_locked(socket_object *s, queue_kind kind, NTSTATUS status, PIRP irp = nullptr);
// Ring I/O, under the lock: finishes the IRPs of `kind`'s lane whose requests are done and that
// are ours to finish, in lane order, up to the first that is not (still in the kernel, or left
// to its cancel routine); delivered through `done`.
void ring_flush_locked(socket_object *s, queue_kind kind, completion_batch &done);
// Ring I/O, on the loop thread, under the lock: when an IRP the lane's chain holds in the kernel
// is to stop (ring_stop_locked), cancels the request the kernel is running for the chain.
void ring_cancel_stopped(socket_object *s, ring_lane &lane);

// Under the lock: an IRP taken off its parked list by irp_unpark for a try that could not finish
// is parked again in its place, cancellable as before. False when it was cancelled meanwhile:
// the caller finishes it with STATUS_CANCELLED (finish_parked).
bool repark(PIRP irp);

// Under the lock: an IRP taken off its parked list by irp_unpark (or owned since its cancel
// routine ran) joins the queue's finished list with `result`, delivered through `done`.
void finish_parked(socket_object *s, queue_kind kind, PIRP irp, const attempt &result,
                   completion_batch &done);

// Finishes every IRP parked on a queue with `status` (for close and abortive disconnect); they
// are delivered after the IRPs finished before them. With a ring request in flight for the
// head, the head ends when it completes (ring_stop_locked) and the others are failed in their
// turn after it (irp_mark::refused).
void fail_queue(socket_object *s, queue_kind kind, NTSTATUS status, completion_batch &done);

// Wraps an accepted fd in a connection socket of the listener's registration. `held`: no
// callbacks until the accept event returns (linux/events.cpp releases it).
socket_object *adopt_accepted(socket_object *listener, int fd, PVOID context,
                              const void *client_dispatch, bool held = false);

// Under the lock: the socket is to be released (release_requested). Its release task is posted
// now if the attach task ran, else by the attach task when it runs (the two are one task).
void request_release_locked(socket_object *s);

// Frees a socket that no client has seen (a failed WskSocketConnect), on any thread.
void destroy_unpublished(socket_object *s);

} // namespace uwsk::wsk

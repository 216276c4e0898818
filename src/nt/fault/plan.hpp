// Fault and schedule injection (include/uwsk/faults.h, docs/faults.md): the plan in force and
// the seeded decisions the hooks in the runtime take from it.
//
// Rules:
//  1. The plan is installed before the driver runs and read without locks afterwards; active()
//     is the one cheap test every hook makes first, so a run without faults pays a relaxed load
//     and a branch per decision point. A plan installed while threads run (a test switching
//     faults on and off) is safe as well: every plan installed is kept for the life of the
//     process, and current() gives a whole one.
//  2. Each decision point draws from a stream of its own (fault::stream), and a draw is a pure
//     function of (seed, stream, object, n): `object` is what the decision applies to (a socket's
//     fault id, 0 for process-wide streams) and `n` its count of draws on that stream. No global
//     generator is shared, so decisions about one socket do not depend on what other threads
//     drew meanwhile: the same seed and the same operations replay the same faults.
//  3. Sockets get their fault ids in a replayable order: sockets the driver creates count in
//     creation order; an accepted socket's id derives from its listener's id and the listener's
//     count of accepted connections.
//  4. Every fault injected is counted, and logged ("faults: ..."): the rare ones (failures,
//     resets, races) always, the schedule ones (delays, other loops, callback IRQLs) when the
//     plan says log=all.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace uwsk::fault {

// Deliberate family (duplicates): the numbered enumerations of this header, alike in shape only.
// The decision streams. The values are part of the replay contract: never renumber.
enum class stream : std::uint32_t {
  pend = 1,
  delay = 2,
  other_loop = 3,
  alloc_irp = 4,
  alloc_mdl = 5,
  alloc_pool = 6,
  reset = 7,
  forced_close = 8,
  callback_irql = 9,
  event_pending = 10,
  v58 = 11,
  v56 = 12,
  alloc_provider = 13,
  count
};
inline constexpr std::size_t stream_count = static_cast<std::size_t>(stream::count);

// A rate as a threshold on a 64-bit draw: the fault happens when draw < threshold (0: never,
// UINT64_MAX: always).
using rate = std::uint64_t;
inline constexpr rate always = ~std::uint64_t{0};

enum class irql_mode : std::uint8_t { normal, passive, dispatch, random };

struct plan {
  std::uint64_t seed = 0;
  rate pend = 0;           // pend=all|RATE: queued operations pend and run from the loop
  bool inline_all = false; // inline=all: wait (bounded) on the calling thread to finish inline
  std::uint32_t delay_min_us = 0; // delay=A-Bms|us: sleep before each completion routine
  std::uint32_t delay_max_us = 0;
  rate other_loop = 0;                // other-loop[=RATE]: deliver completions on another loop
  std::uint32_t split_receive = 0;    // split-receive=N: at most N bytes per stream receive
  std::uint32_t split_indication = 0; // split-indication[=N]: elements of at most N bytes
  rate alloc_irp = 0;                 // alloc-fail=irp:R,mdl:R,pool:R,provider:R
  rate alloc_mdl = 0;
  rate alloc_pool = 0;
  rate alloc_provider = 0;                 // the provider's own allocations (wsk/provider_new.hpp)
  rate reset = 0;                          // reset=RATE: per stream send/receive IRP
  rate forced_close = 0;                   // forced-close=RATE: likewise
  std::int64_t provider_not_ready_ms = -1; // provider-not-ready=Nms
  irql_mode callback_irql = irql_mode::normal;
  rate event_pending = 0; // event-pending[=RATE]
  rate v58 = 0;           // v58[=RATE]
  rate v56 = 0;           // v56[=RATE]
  bool log_all = false;   // log=all
  // Nothing but alloc-fail (and log): the plan changes no transfer's course, so the io_uring
  // transfers stay on (transfers_faulted).
  bool allocations_only = false;
  std::string text; // the spec as given, for the log
};

// Whether a plan is in force (rule 1).
extern std::atomic<bool> active_flag;
inline bool active() {
  return active_flag.load(std::memory_order_relaxed);
}
// The plan in force; only meaningful when active().
const plan &current();

// Whether the plan in force may change how a transfer goes: anything but failing allocations.
// Transfers then take the readiness path only (no io_uring transfers or multishot receives),
// where every such fault is applied.
inline bool transfers_faulted() {
  return active() && !current().allocations_only;
}

// Parses a spec; false with a sentence in *error.
bool parse(const char *spec, std::uint64_t seed, plan *out, std::string *error);

// Per-object draw counts, one per stream (rule 2). Any thread.
struct counters {
  std::atomic<std::uint64_t> n[stream_count] = {};
  std::uint64_t next(stream s) { return n[static_cast<std::size_t>(s)].fetch_add(1); }
};

// A fault id for a socket the driver creates, and for one accepted from `parent` (rule 3).
std::uint64_t new_object_id();
std::uint64_t child_object_id(std::uint64_t parent, std::uint64_t n);

// The n-th draw of `s` for `object` (rule 2), under the plan's seed or under `seed`.
std::uint64_t draw(stream s, std::uint64_t object, std::uint64_t n);
std::uint64_t draw(std::uint64_t seed, stream s, std::uint64_t object, std::uint64_t n);

// Draws once for `object` on `s` and says whether a fault of rate `r` happens; when it does,
// counts and logs it with `what` (rule 4). For process-wide streams pass object 0 and
// `shared` (their own counters).
bool happens(stream s, rate r, std::uint64_t object, counters &c, const char *what);
bool happens_global(stream s, rate r, const char *what);

// Counts and logs a fault decided elsewhere (rule 4); `value` is printed when not negative.
void record(stream s, std::uint64_t object, std::uint64_t n, const char *what,
            long long value = -1);

// Logs the plan and its seed once (uwsk_driver_start calls it, after uwsk-run opened its log).
void announce();

// The time the WSK subsystem becomes ready under provider-not-ready (negative: no fault).
std::int64_t provider_not_ready_ms();

// Allocation hooks: true when this IoAllocateIrp / IoAllocateMdl / pool allocation, or (stream
// alloc_provider) the provider's own allocation of `type`, fails.
bool fail_allocation(stream s, const char *type = nullptr);

} // namespace uwsk::fault

// I/O request packets: allocation, initialisation, reuse, the stack walk of IoCompleteRequest,
// IoCallDriver and cancellation.
//
// The rules (docs/design.md, "IRPs"):
//  1. An IRP from IoAllocateIrp is freed only by IoFreeIrp, never by completion: no I/O manager
//     owns it, so its top completion routine must stop the walk with
//     STATUS_MORE_PROCESSING_REQUIRED. Walking off the top is reported, because Windows would
//     corrupt memory there.
//  2. IoCompleteRequest walks from the current stack location up, calling each routine whose
//     SL_INVOKE_ON_* bits match the final status (or Irp->Cancel), copying SL_PENDING_RETURNED
//     into Irp->PendingReturned first. STATUS_MORE_PROCESSING_REQUIRED stops the walk; a later
//     IoCompleteRequest resumes above that location.
//  3. Completing an IRP twice, completing it with a cancel routine still set, or completing it
//     with STATUS_PENDING are bugchecks, as on Windows.
//  4. The verifier's state of each IRP (irp_state.hpp) moves to "completed" when the walk
//     reaches the creator's own completion routine; IoInitializeIrp and IoReuseIrp make it
//     "allocated" again. A pass-through routine that lets the walk go on while the IRP pended
//     below must have marked its own location pending (rule V16).
#include <execinfo.h>

#include <atomic>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "nt/bugcheck.hpp"
#include "nt/dbg/trace.hpp"
#include "nt/dbg/activity.hpp"
#include "nt/dbg/symbols.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/ex/futex_lock.hpp"
#include "nt/ex/thread_cache.hpp"
#include "nt/io/io_objects.hpp"
#include "nt/io/irp_buffers.hpp"
#include "nt/io/irp_state.hpp"
#include "nt/ke/irql.hpp"
#include "nt/fault/plan.hpp"

namespace uwsk::nt {
namespace {

std::atomic<std::size_t> irp_count{0};
KSPIN_LOCK cancel_lock = 0;

// IRPs with up to this many stack locations come from per-thread caches, one per stack count,
// so that allocating and freeing an IRP per operation does not reach malloc. Larger ones are
// rare and go to the C allocator.
constexpr int cached_stack_counts = 8;

// An IoAllocateIrp block: the packet (IoSizeOfIrp bytes, a multiple of 8), then straight after
// it a trailer that no driver sees, holding where the IRP was allocated (the verifier names it
// in reports), links in the list of live IRPs of its stack count (the leak report names each
// one; the packet lies IoSizeOfIrp(count) bytes before the trailer), and the record of its
// buffers while it pends (rule V18, irp_state::buffer_record_slot). The lists touch only
// trailers, never a neighbour's packet, which its owner may be writing.
struct irp_trailer {
  const void *creation_site;
  irp_trailer *previous;
  irp_trailer *next;
  void *buffer_record; // rule V18: irp_buffers' record of its buffers, or NULL
};
static_assert(offsetof(irp_trailer, buffer_record) == irp_state::trailer_buffer_record_offset);
static_assert(sizeof(IRP) % alignof(irp_trailer) == 0 &&
                  sizeof(IO_STACK_LOCATION) % alignof(irp_trailer) == 0,
              "the trailer right after the packet is aligned");

// UWSK_VERIFY_STACKS=1: IoAllocateIrp keeps the return addresses of its caller's stack (a
// malloc'd block in a table by IRP, freed by IoFreeIrp), and the leak report resolves them.
// Off by default: it costs an unwind per allocation.
struct allocation_stack {
  int count;
  void *frames[24];
};
bool stacks_wanted() {
  static const bool on = [] {
    const char *value = std::getenv("UWSK_VERIFY_STACKS");
    return value != nullptr && std::strcmp(value, "1") == 0;
  }();
  return on;
}

irp_trailer *trailer_of(PIRP irp) {
  return reinterpret_cast<irp_trailer *>(reinterpret_cast<PUCHAR>(irp) +
                                         IoSizeOfIrp(irp->StackCount));
}

// The live IoAllocateIrp IRPs, one list per stack count (1 to 127), oldest first, through
// their trailers; and with UWSK_VERIFY_STACKS=1 their allocation stacks. Guarded by live_lock:
// one uncontended lock per allocation and free (a futex lock: a pthread mutex cost about 55
// instructions a round trip more, twice per IRP a driver allocates per operation); the leak
// report walks the lists once at unload.
constexpr int max_stack_count = 127; // CCHAR
futex_lock live_lock;
irp_trailer *live_first[max_stack_count + 1] = {};
irp_trailer *live_last[max_stack_count + 1] = {};
std::unordered_map<PIRP, allocation_stack *> *live_stacks = nullptr; // made on first use

// The IRP of a trailer on the list of `stack_count`.
PIRP irp_of(const irp_trailer *t, int stack_count) {
  return reinterpret_cast<PIRP>(const_cast<PUCHAR>(reinterpret_cast<const UCHAR *>(t)) -
                                IoSizeOfIrp(static_cast<CCHAR>(stack_count)));
}

void link_live(PIRP irp, allocation_stack *stack) {
  std::lock_guard guard(live_lock);
  irp_trailer *t = trailer_of(irp);
  const int count = irp->StackCount;
  irp_trailer *&first = live_first[count];
  irp_trailer *&last = live_last[count];
  t->previous = last;
  t->next = nullptr;
  (last != nullptr ? last->next : first) = t;
  last = t;
  if (stack != nullptr) {
    if (live_stacks == nullptr) {
      live_stacks = new (std::nothrow) std::unordered_map<PIRP, allocation_stack *>;
    }
    bool kept = false;
    if (live_stacks != nullptr) {
      try {
        kept = live_stacks->emplace(irp, stack).second;
      } catch (const std::bad_alloc &) {
      }
    }
    if (!kept) {
      std::free(stack); // the report then shows the IRP without its stack
    }
  }
}

// Takes the IRP off the list; returns its allocation stack (NULL when none was kept), now the
// caller's to free.
allocation_stack *unlink_live(PIRP irp) {
  std::lock_guard guard(live_lock);
  irp_trailer *t = trailer_of(irp);
  const int count = irp->StackCount;
  (t->previous != nullptr ? t->previous->next : live_first[count]) = t->next;
  (t->next != nullptr ? t->next->previous : live_last[count]) = t->previous;
  t->previous = t->next = nullptr;
  allocation_stack *stack = nullptr;
  if (live_stacks != nullptr) {
    if (auto it = live_stacks->find(irp); it != live_stacks->end()) {
      stack = it->second;
      live_stacks->erase(it);
    }
  }
  return stack;
}

// The packet and the trailer (a multiple of 8 bytes; each block is allocated apart, aligned to
// MEMORY_ALLOCATION_ALIGNMENT, so its size need not be a multiple of that). With the verifier's
// bookkeeping off (a mode fixed for the process) IRPs go on no list, and the trailer holds only
// the creation site.
std::size_t irp_block_size(int stack_count) {
  const std::size_t trailer =
      verifier::bookkeeping_off() ? sizeof(irp_trailer::creation_site) : sizeof(irp_trailer);
  return IoSizeOfIrp(static_cast<CCHAR>(stack_count)) + trailer;
}

thread_local int submission_chain_now [[gnu::tls_model("initial-exec")]] = 0;

// The caches for IRPs of 1 to cached_stack_counts locations, made once, out of line (the
// accessor below runs twice per IRP and stays small).
[[gnu::noinline]] block_cache *const *make_irp_caches() {
  static block_cache *made[cached_stack_counts];
  for (int i = 0; i < cached_stack_counts; ++i) {
    block_cache::options o;
    o.size = irp_block_size(i + 1);
    o.alignment = MEMORY_ALLOCATION_ALIGNMENT;
    o.thread_capacity = 64;
    o.shared_capacity = 1024;
    o.readable_prefix = offsetof(IRP, Size) + sizeof(USHORT);
    made[i] = new block_cache(o); // lives for the process (thread_cache.hpp rule 4)
  }
  return made;
}

// The cache for IRPs of `stack_count` locations, or nullptr when they are not cached. A cached
// IRP keeps Type and Size readable (thread_cache.hpp rule 3): IoFreeIrp clears Type, so a
// second IoFreeIrp, or any use of the freed IRP, still stops with "not an IRP".
[[gnu::always_inline]] inline block_cache *irp_cache(int stack_count) {
  static block_cache *const *const caches = make_irp_caches();
  return stack_count >= 1 && stack_count <= cached_stack_counts ? caches[stack_count - 1] : nullptr;
}

// Rule V15: any use of a freed IRP (IoFreeIrp cleared its type; a cached IRP keeps the type
// readable) or of memory that never was one.
void check_irp(PIRP irp, const char *function) {
  if (irp == nullptr || irp->Type != IO_TYPE_IRP) {
    char sentence[256];
    std::snprintf(sentence, sizeof sentence,
                  "%s was given an IRP that is freed (IoFreeIrp cleared its type) or was never "
                  "initialised: an IRP may be used only between IoAllocateIrp (or "
                  "IoInitializeIrp) and IoFreeIrp",
                  function);
    verifier::error(15, sentence, verifier::objects_text("IRP %p", static_cast<void *>(irp)),
                    reinterpret_cast<ULONG_PTR>(irp));
  }
}

// The stack location as it is after its routine has run: only MajorFunction and DeviceObject
// stay, as Windows leaves them.
void clear_stack_location(PIO_STACK_LOCATION sp) {
  sp->MinorFunction = 0;
  sp->Flags = 0;
  sp->Control = 0;
  std::memset(&sp->Parameters, 0, sizeof(sp->Parameters));
  sp->FileObject = nullptr;
  sp->CompletionRoutine = nullptr;
  sp->Context = nullptr;
}

bool should_invoke(PIRP irp, UCHAR control) {
  const NTSTATUS status = irp->IoStatus.Status;
  return (NT_SUCCESS(status) && (control & SL_INVOKE_ON_SUCCESS)) ||
         (!NT_SUCCESS(status) && (control & SL_INVOKE_ON_ERROR)) ||
         (irp->Cancel && (control & SL_INVOKE_ON_CANCEL));
}

// IoSetCompletionRoutineEx keeps its routine and context here until the routine has run.
// The trampoline is always invoked, so the state is freed on every path; it then applies the
// driver's own SL_INVOKE_ON_* choice.
struct completion_ex_context {
  PIO_COMPLETION_ROUTINE routine;
  PVOID context;
  PDEVICE_OBJECT device;
  UCHAR control;
};

NTSTATUS NTAPI completion_ex_trampoline(PDEVICE_OBJECT device, PIRP irp, PVOID context) {
  // Copy out, then free, so that the driver's routine may free or reuse the IRP freely.
  const completion_ex_context saved = *static_cast<completion_ex_context *>(context);
  ExFreePoolWithTag(context, 'xCoI');
  if (should_invoke(irp, saved.control)) {
    return saved.routine(device, irp, saved.context);
  }
  // Not the driver's case: behave as the walk does for a location without a routine.
  if (irp->PendingReturned && irp->CurrentLocation <= irp->StackCount) {
    IoMarkIrpPending(irp);
  }
  return STATUS_SUCCESS;
}

// The walk of IoCompleteRequest, below it: inline there (it runs for every completion).
[[gnu::always_inline]] inline void complete_walk(PIRP Irp);
// The walk with the completion traced (trace::on), out of line.
[[gnu::noinline]] void complete_walk_traced(PIRP Irp);

// Zeroes `N` bytes at `p` (any alignment) with 16-byte stores the compiler unrolls: a handful of
// instructions, where memset of a size it knows becomes `rep stos` and of a size it does not a
// call that picks its loop by the length.
template <std::size_t N> void zero_fixed(void *p) {
  typedef long long chunk __attribute__((vector_size(16)));
  const chunk zero{};
  auto *bytes = static_cast<unsigned char *>(p);
#pragma GCC unroll 64
  for (std::size_t i = 0; i < N / 16; ++i) {
    std::memcpy(bytes + i * 16, &zero, 16);
  }
  if constexpr (N % 16 != 0) {
    std::memset(bytes + N / 16 * 16, 0, N % 16);
  }
}

// Zeroes the whole packet, as IoInitializeIrp does on Windows (drivers may read any field of a
// new or reused IRP). The packets of one and two stack locations, those drivers reuse per
// operation, go through zero_fixed.
void zero_packet(PIRP irp, USHORT size) {
  if (size == IoSizeOfIrp(1)) {
    zero_fixed<IoSizeOfIrp(1)>(irp);
  } else if (size == IoSizeOfIrp(2)) {
    zero_fixed<IoSizeOfIrp(2)>(irp);
  } else {
    std::memset(irp, 0, size);
  }
}

} // namespace

std::size_t live_irps() {
  return irp_count.load(std::memory_order_relaxed);
}

std::vector<std::string> describe_live_irps(std::size_t limit) {
  std::vector<std::string> lines;
  std::vector<std::pair<PIRP, allocation_stack>> irps;
  {
    std::lock_guard guard(live_lock);
    for (int k = 1; k <= max_stack_count; ++k) {
      for (const irp_trailer *t = live_first[k]; t != nullptr && irps.size() < limit; t = t->next) {
        const PIRP irp = irp_of(t, k);
        const allocation_stack *stack = nullptr;
        if (live_stacks != nullptr) {
          if (auto it = live_stacks->find(irp); it != live_stacks->end()) {
            stack = it->second;
          }
        }
        irps.emplace_back(irp, stack != nullptr ? *stack : allocation_stack{});
      }
    }
  }
  // Described outside the lock: resolving a creation site reads debug information.
  for (const auto &[irp, stack] : irps) {
    char text[512];
    irp_state::describe(irp, text, sizeof text);
    lines.emplace_back(text);
    // The frames inside IoAllocateIrp (one, or more in instrumented builds) are left out: the
    // stack starts at its caller, the IRP's creation site.
    const void *site = irp_state::creation_site(irp);
    int first = 0;
    while (first < stack.count && stack.frames[first] != site) {
      ++first;
    }
    if (first == stack.count) {
      first = stack.count > 0 ? 1 : 0;
    }
    for (int i = first; i < stack.count; ++i) {
      lines.push_back("  #" + std::to_string(i - first) + " " +
                      describe_code(stack.frames[i], true));
    }
  }
  return lines;
}

std::vector<std::string> describe_pending_irps(std::size_t limit) {
  // Described under the lock: a pending IRP may complete and be freed at any time, and
  // IoFreeIrp takes this lock first. A report made once; the lock delays only IRP frees.
  std::vector<std::string> lines;
  std::lock_guard guard(live_lock);
  for (int k = 1; k <= max_stack_count; ++k) {
    for (const irp_trailer *t = live_first[k]; t != nullptr && lines.size() < limit; t = t->next) {
      const PIRP irp = irp_of(t, k);
      if (irp_state::get(irp) == irp_state::submitted && irp_state::held_by_provider(irp)) {
        char text[512];
        irp_state::describe(irp, text, sizeof text);
        lines.emplace_back(text);
      }
    }
  }
  return lines;
}

int irp_state::submission_chain() {
  return submission_chain_now;
}

const void *irp_state::creation_site(PIRP irp) {
  if ((irp->AllocationFlags & UWSK_IRP_ALLOCATED_BY_IO) == 0 ||
      irp->Size != IoSizeOfIrp(irp->StackCount)) {
    return nullptr;
  }
  return trailer_of(irp)->creation_site;
}

void irp_state::describe(PIRP irp, char *out, std::size_t size) {
  const void *site = creation_site(irp);
  char where[256];
  if (site != nullptr) {
    verifier::describe_code_address(site, where, sizeof where);
  }
  std::snprintf(out, size, "IRP %p (%d stack locations, MDL %p) %s%s", static_cast<void *>(irp),
                irp->StackCount, static_cast<void *>(irp->MdlAddress),
                site != nullptr ? "allocated by IoAllocateIrp from "
                                : "formatted by IoInitializeIrp",
                site != nullptr ? where : "");
}

void irp_state::report_error(int rule, PIRP irp, const char *sentence, ULONG_PTR p3) {
  char objects[512];
  describe(irp, objects, sizeof objects);
  verifier::error(rule, sentence, objects, reinterpret_cast<ULONG_PTR>(irp), p3);
}

void irp_state::report_warning(int rule, PIRP irp, const char *sentence) {
  char objects[512];
  describe(irp, objects, sizeof objects);
  verifier::warning(rule, sentence, objects, reinterpret_cast<ULONG_PTR>(irp));
}

} // namespace uwsk::nt

using namespace uwsk::nt;

// IoInitializeIrp: formats caller-provided memory as an IRP with StackSize locations.
extern "C" VOID NTAPI IoInitializeIrp(PIRP Irp, USHORT PacketSize, CCHAR StackSize) {
  if (StackSize < 1 || PacketSize < IoSizeOfIrp(StackSize)) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
             "IoInitializeIrp: the packet is smaller than IoSizeOfIrp(StackSize)",
             io_violation::irp_initialize_too_small, reinterpret_cast<ULONG_PTR>(Irp), PacketSize,
             static_cast<ULONG_PTR>(StackSize));
  }
  zero_packet(Irp, PacketSize);
  Irp->Type = IO_TYPE_IRP;
  Irp->Size = PacketSize;
  Irp->StackCount = StackSize;
  Irp->CurrentLocation = static_cast<CHAR>(StackSize + 1);
  InitializeListHead(&Irp->ThreadListEntry);
  Irp->Tail.Overlay.CurrentStackLocation =
      reinterpret_cast<PIO_STACK_LOCATION>(reinterpret_cast<PUCHAR>(Irp) + sizeof(IRP)) + StackSize;
}

// IoAllocateIrp: a fully initialised IRP that only IoFreeIrp releases.
extern "C" PIRP NTAPI IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota) {
  if (StackSize < 1) {
    return nullptr;
  }
  if (uwsk::fault::active() && uwsk::fault::fail_allocation(uwsk::fault::stream::alloc_irp)) {
    return nullptr; // injected (docs/faults.md)
  }
  const USHORT size = IoSizeOfIrp(StackSize);
  block_cache *cache = irp_cache(StackSize);
  void *memory = nullptr;
  if (cache != nullptr) {
    memory = cache->allocate();
  } else if (posix_memalign(&memory, MEMORY_ALLOCATION_ALIGNMENT, irp_block_size(StackSize)) != 0) {
    memory = nullptr;
  }
  if (memory == nullptr) {
    return nullptr;
  }
  auto *irp = static_cast<PIRP>(memory);
  IoInitializeIrp(irp, size, StackSize);
  trailer_of(irp)->creation_site = __builtin_return_address(0);
  if (!verifier::bookkeeping_off()) {
    trailer_of(irp)->buffer_record = nullptr;
    allocation_stack *stack = nullptr;
    if (stacks_wanted()) {
      stack = static_cast<allocation_stack *>(std::malloc(sizeof(allocation_stack)));
      if (stack != nullptr) {
        stack->count = backtrace(stack->frames, 24);
      }
    }
    link_live(irp, stack);
  }
  irp->AllocationFlags =
      IRP_ALLOCATED_FIXED_SIZE | UWSK_IRP_ALLOCATED_BY_IO | (ChargeQuota ? IRP_QUOTA_CHARGED : 0);
  irp_count.fetch_add(1, std::memory_order_relaxed);
  return irp;
}

// IoAllocateIrpEx: IoAllocateIrp; the device object only sizes extensions Windows may attach.
extern "C" PIRP NTAPI IoAllocateIrpEx(PDEVICE_OBJECT DeviceObject, CCHAR StackSize,
                                      BOOLEAN ChargeQuota) {
  return IoAllocateIrp(StackSize, ChargeQuota);
}

// IoReuseIrp: makes a completed IRP new again, keeping how it was allocated.
extern "C" VOID NTAPI IoReuseIrp(PIRP Irp, NTSTATUS Iostatus) {
  check_irp(Irp, "IoReuseIrp");
  if (__atomic_load_n(&Irp->CancelRoutine, __ATOMIC_ACQUIRE) != nullptr) {
    bugcheck(CANCEL_STATE_IN_COMPLETED_IRP,
             "IoReuseIrp: the IRP still has a cancel routine, so it is still pending",
             reinterpret_cast<ULONG_PTR>(Irp), reinterpret_cast<ULONG_PTR>(Irp->CancelRoutine));
  }
  const UCHAR allocation_flags = Irp->AllocationFlags;
  IoInitializeIrp(Irp, Irp->Size, Irp->StackCount);
  Irp->AllocationFlags = allocation_flags;
  Irp->IoStatus.Status = Iostatus;
}

// IoFreeIrp: releases an IRP from IoAllocateIrp. Attached MDLs are the caller's to free.
extern "C" VOID NTAPI IoFreeIrp(PIRP Irp) {
  check_irp(Irp, "IoFreeIrp");
  if ((Irp->AllocationFlags & UWSK_IRP_ALLOCATED_BY_IO) == 0) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
             "IoFreeIrp: this IRP was not allocated by IoAllocateIrp (driver memory formatted by "
             "IoInitializeIrp must be released by its owner)",
             io_violation::irp_freed_not_allocated, reinterpret_cast<ULONG_PTR>(Irp));
  }
  // Rule V15: still pending (a cancel routine is set, or the WSK provider holds it): the provider
  // or a driver below would complete freed memory.
  if (__atomic_load_n(&Irp->CancelRoutine, __ATOMIC_ACQUIRE) != nullptr ||
      (irp_state::get(Irp) == irp_state::submitted && irp_state::held_by_provider(Irp))) {
    irp_state::report_error(
        15, Irp,
        "IoFreeIrp on an IRP that is still pending (it was given to a WSK function "
        "or a driver that has not completed it): free it only after its completion "
        "routine ran, or cancel it with IoCancelIrp and wait for that");
  }
  irp_buffers::released(Irp); // no buffers of a freed IRP stay tracked (rule V18)
  Irp->Type = 0;
  // Not linked with the bookkeeping off (a mode fixed for the process). Its links are read only
  // under live_lock: neighbours' insertions and removals rewrite them.
  if (!verifier::bookkeeping_off()) {
    std::free(unlink_live(Irp));
  }
  irp_count.fetch_sub(1, std::memory_order_relaxed);
  // Cached or not, every IoAllocateIrp block is posix_memalign memory of
  // irp_block_size(StackCount) bytes (IoReuseIrp keeps Size and StackCount), so either way of
  // freeing it is right.
  block_cache *cache = irp_cache(Irp->StackCount);
  if (cache != nullptr && Irp->Size == IoSizeOfIrp(Irp->StackCount)) {
    cache->release(Irp);
  } else {
    std::free(Irp);
  }
}

// IoCompleteRequest: the stack walk of rule 2 above.
extern "C" VOID FASTCALL IofCompleteRequest(PIRP Irp, CCHAR PriorityBoost) {
  check_irp(Irp, "IoCompleteRequest");
  if (spin_locks_held_since_baseline() != 0) {
    irp_state::report_error(
        84, Irp,
        "IoCompleteRequest while holding a spin lock: completion routines may take "
        "locks and start I/O; release it first");
  }
  if (Irp->CurrentLocation > Irp->StackCount + 1) {
    bugcheck(MULTIPLE_IRP_COMPLETE_REQUESTS,
             "IoCompleteRequest: the IRP has already been completed",
             reinterpret_cast<ULONG_PTR>(Irp));
  }
  if (Irp->IoStatus.Status == STATUS_PENDING) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
             "IoCompleteRequest: an IRP cannot complete with STATUS_PENDING",
             io_violation::irp_complete_pending_status, reinterpret_cast<ULONG_PTR>(Irp));
  }
  if (__atomic_load_n(&Irp->CancelRoutine, __ATOMIC_ACQUIRE) != nullptr) {
    bugcheck(CANCEL_STATE_IN_COMPLETED_IRP,
             "IoCompleteRequest: the IRP still has a cancel routine; clear it with "
             "IoSetCancelRoutine(Irp, NULL) before completing",
             reinterpret_cast<ULONG_PTR>(Irp), reinterpret_cast<ULONG_PTR>(Irp->CancelRoutine));
  }
  if (trace::on()) {
    complete_walk_traced(Irp);
    return;
  }
  complete_walk(Irp);
}

namespace uwsk::nt {
namespace {

// Rule V11: the creator's completion routine let the walk go on. Out of line, so that the walk
// inlined into IoCompleteRequest keeps a small frame (completions nest).
[[noreturn, gnu::noinline, gnu::cold]] void
report_past_top(PIRP Irp, PIO_COMPLETION_ROUTINE routine, NTSTATUS returned) {
  // The routine may have freed the IRP already: only addresses are named. The routine's own
  // address, not a return address: no adjustment to the call before.
  const std::string where = describe_code(reinterpret_cast<const void *>(routine), false);
  char sentence[400];
  std::snprintf(sentence, sizeof sentence,
                "the completion routine of the IRP's creator returned 0x%08lX, not "
                "STATUS_MORE_PROCESSING_REQUIRED: the IRP was completed past its top stack "
                "location. An IRP from IoAllocateIrp belongs to no I/O manager: its "
                "routine must return STATUS_MORE_PROCESSING_REQUIRED and free or reuse "
                "the IRP itself",
                static_cast<unsigned long>(static_cast<ULONG>(returned)));
  verifier::error(11, sentence,
                  verifier::objects_text("IRP %p, completion routine %s", static_cast<void *>(Irp),
                                         where.c_str()),
                  reinterpret_cast<ULONG_PTR>(Irp), static_cast<ULONG>(returned));
}

void complete_walk_traced(PIRP Irp) {
  const trace::span traced = trace::irp_completing(Irp);
  complete_walk(Irp);
  trace::irp_completed(traced, Irp); // the IRP itself may be gone: only its address is used
}

// The walk of IoCompleteRequest (rule 2).
void complete_walk(PIRP Irp) {
  while (Irp->CurrentLocation <= Irp->StackCount) {
    PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
    Irp->CurrentLocation++;
    Irp->Tail.Overlay.CurrentStackLocation++;
    Irp->PendingReturned = (sp->Control & SL_PENDING_RETURNED) != 0;
    const PIO_COMPLETION_ROUTINE routine = sp->CompletionRoutine;
    const PVOID context = sp->Context;
    const bool invoke = routine != nullptr && should_invoke(Irp, sp->Control);
    clear_stack_location(sp);
    const bool creator = Irp->CurrentLocation > Irp->StackCount;
    if (creator) {
      irp_state::set(Irp, irp_state::completed); // rule 4: back with its creator
    }
    if (invoke) {
      // The routine belongs to the location above; it gets that location's device object,
      // or NULL when it is the IRP's creator.
      PDEVICE_OBJECT device = creator ? nullptr : IoGetCurrentIrpStackLocation(Irp)->DeviceObject;
      const bool pended = Irp->PendingReturned != FALSE;
      NTSTATUS returned;
      {
        activity::scope running(activity::completion_routine, Irp);
        const int outer_chain = submission_chain_now;
        submission_chain_now = irp_state::chain(Irp) + 1;
        returned = routine(device, Irp, context);
        submission_chain_now = outer_chain;
      }
      if (returned == STATUS_MORE_PROCESSING_REQUIRED) {
        return;
      }
      if (creator) {
        report_past_top(Irp, routine, returned);
      }
      if (pended && !creator &&
          (IoGetCurrentIrpStackLocation(Irp)->Control & SL_PENDING_RETURNED) == 0) {
        irp_state::report_error(16, Irp,
                                "a completion routine let the completion go on (it did not return "
                                "STATUS_MORE_PROCESSING_REQUIRED) for an IRP that pended below it, "
                                "without IoMarkIrpPending: call IoMarkIrpPending(Irp) when "
                                "Irp->PendingReturned is set",
                                reinterpret_cast<ULONG_PTR>(routine));
      }
    } else if (Irp->PendingReturned && Irp->CurrentLocation <= Irp->StackCount) {
      IoMarkIrpPending(Irp);
    }
  }
  // Rule V11 without a routine at the top: completed twice, or by a driver above its creator.
  irp_state::report_error(
      11, Irp,
      "IoCompleteRequest: the IRP was completed past its top stack location "
      "(completed twice, or its creator set no completion routine to stop the walk). "
      "An IRP from IoAllocateIrp belongs to no I/O manager: its top completion "
      "routine must return STATUS_MORE_PROCESSING_REQUIRED and free or reuse the IRP "
      "itself",
      static_cast<ULONG_PTR>(static_cast<ULONG>(Irp->IoStatus.Status)));
}

} // namespace
} // namespace uwsk::nt

// IoCallDriver: moves to the next stack location and calls the device's dispatch routine.
extern "C" NTSTATUS FASTCALL IofCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  check_irp(Irp, "IoCallDriver");
  Irp->CurrentLocation--;
  if (Irp->CurrentLocation <= 0) {
    char objects[512];
    irp_state::describe(Irp, objects, sizeof objects);
    verifier::error_bugcheck(12,
                             "IoCallDriver: the IRP has no stack location left for the driver "
                             "called; allocate it with one location per driver it passes",
                             objects, NO_MORE_IRP_STACK_LOCATIONS,
                             reinterpret_cast<ULONG_PTR>(Irp));
  }
  Irp->Tail.Overlay.CurrentStackLocation--;
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
  sp->DeviceObject = DeviceObject;
  PDRIVER_OBJECT driver = DeviceObject->DriverObject;
  return driver->MajorFunction[sp->MajorFunction](DeviceObject, Irp);
}

// IoCancelIrp: marks the IRP cancelled and calls its cancel routine, if any, under the cancel
// spin lock (which the routine releases).
extern "C" BOOLEAN NTAPI IoCancelIrp(PIRP Irp) {
  if (Irp == nullptr || Irp->Type != IO_TYPE_IRP) {
    verifier::error(19,
                    "IoCancelIrp was given an IRP that is freed (or not an IRP): only the owner "
                    "of a live IRP may cancel it",
                    verifier::objects_text("IRP %p", static_cast<void *>(Irp)),
                    reinterpret_cast<ULONG_PTR>(Irp));
  }
  if (irp_state::get(Irp) == irp_state::completed) {
    // Legal only as a race with the completion (the owner cannot know it lost), so a warning.
    irp_state::report_warning(
        19, Irp,
        "IoCancelIrp on an IRP that has already completed (before IoReuseIrp or "
        "IoFreeIrp): harmless only when it raced with the completion");
  }
  // The caller may hold its own spin locks (IoCancelIrp is legal up to DISPATCH_LEVEL); only the
  // locks taken from here count for rule V84: the cancel routine must release the cancel spin
  // lock before it completes the IRP.
  const spin_lock_baseline baseline;
  KIRQL irql;
  IoAcquireCancelSpinLock(&irql);
  __atomic_store_n(&Irp->Cancel, TRUE, __ATOMIC_SEQ_CST);
  const PDRIVER_CANCEL routine = IoSetCancelRoutine(Irp, nullptr);
  if (routine == nullptr) {
    IoReleaseCancelSpinLock(irql);
    return FALSE;
  }
  if (Irp->CurrentLocation > Irp->StackCount + 1) {
    bugcheck(CANCEL_STATE_IN_COMPLETED_IRP,
             "IoCancelIrp: a completed IRP still had a cancel routine",
             reinterpret_cast<ULONG_PTR>(Irp), reinterpret_cast<ULONG_PTR>(routine));
  }
  Irp->CancelIrql = irql;
  PDEVICE_OBJECT device = Irp->CurrentLocation <= Irp->StackCount
                              ? IoGetCurrentIrpStackLocation(Irp)->DeviceObject
                              : nullptr;
  routine(device, Irp);
  return TRUE;
}

// IoAcquireCancelSpinLock: the one system-wide cancel spin lock.
extern "C" VOID NTAPI IoAcquireCancelSpinLock(PKIRQL Irql) {
  KeAcquireSpinLock(&cancel_lock, Irql);
}

// IoReleaseCancelSpinLock: releases it and returns to the IRQL it was acquired at.
extern "C" VOID NTAPI IoReleaseCancelSpinLock(KIRQL Irql) {
  KeReleaseSpinLock(&cancel_lock, Irql);
}

// IoSetCompletionRoutineEx: IoSetCompletionRoutine with runtime-held state.
extern "C" NTSTATUS NTAPI IoSetCompletionRoutineEx(PDEVICE_OBJECT DeviceObject, PIRP Irp,
                                                   PIO_COMPLETION_ROUTINE CompletionRoutine,
                                                   PVOID Context, BOOLEAN InvokeOnSuccess,
                                                   BOOLEAN InvokeOnError, BOOLEAN InvokeOnCancel) {
  auto *saved = static_cast<completion_ex_context *>(
      ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(completion_ex_context), 'xCoI'));
  if (saved == nullptr) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  saved->routine = CompletionRoutine;
  saved->context = Context;
  saved->device = DeviceObject;
  saved->control = static_cast<UCHAR>((InvokeOnSuccess ? SL_INVOKE_ON_SUCCESS : 0) |
                                      (InvokeOnError ? SL_INVOKE_ON_ERROR : 0) |
                                      (InvokeOnCancel ? SL_INVOKE_ON_CANCEL : 0));
  IoSetCompletionRoutine(Irp, completion_ex_trampoline, saved, TRUE, TRUE, TRUE);
  return STATUS_SUCCESS;
}

// IoIsOperationSynchronous: whether the originator waits for this IRP.
extern "C" BOOLEAN NTAPI IoIsOperationSynchronous(PIRP Irp) {
  const ULONG flags = Irp->Flags;
  return (flags & IRP_SYNCHRONOUS_API) != 0 ||
         ((flags & IRP_PAGING_IO) != 0 && (flags & IRP_SYNCHRONOUS_PAGING_IO) != 0);
}

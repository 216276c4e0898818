// The provider's IRP plumbing; the rules are in irp_ops.hpp.
#include "wsk/irp_ops.hpp"

#include <time.h>

#include <atomic>
#include <cstdint>

#include "nt/bugcheck.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/fault/plan.hpp"
#include "nt/io/irp_buffers.hpp"
#include "nt/io/irp_state.hpp"
#include "nt/ke/irql.hpp"
#include "wsk/violations.hpp"

namespace uwsk::wsk {

namespace {

// The marks of the stack location the provider enters (irp_state.hpp): WSK IRPs carry no
// IRP_MJ_*/IRP_MN_* codes, so MinorFunction and a Flags bit say "the provider holds this IRP"
// (rules V14, V15); IoCompleteRequest clears them as it leaves the location.
constexpr UCHAR provider_minor = nt::irp_state::provider_minor;
constexpr UCHAR held_mark = nt::irp_state::provider_held_mark;

bool held_by_provider(PIRP irp) {
  return nt::irp_state::held_by_provider(irp);
}

// Rule V17: a chain of this many WSK calls, each started from the completion routine of the one
// before, none of which pended (irp_state.hpp), would recurse that deep on Windows, where such
// completions run inline. uwsk itself completes them one after the other; the verifier says so,
// once per process.
constexpr int recursion_report_chain = 32;
std::atomic<bool> recursion_reported{false};

// Rules V10, V13 and V17 at the submission of an IRP at its creator's level.
void check_submission(PIRP irp) {
  if (nt::irp_state::get(irp) == nt::irp_state::completed) {
    nt::irp_state::report_error(
        13, irp,
        "an IRP that has completed was given to a WSK function again without IoReuseIrp: "
        "call IoReuseIrp(Irp, STATUS_UNSUCCESSFUL) before each reuse");
  }
  if ((irp->AllocationFlags & UWSK_IRP_ALLOCATED_BY_IO) != 0 &&
      irp->CurrentLocation == irp->StackCount + 1) {
    const PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
    constexpr UCHAR all = SL_INVOKE_ON_SUCCESS | SL_INVOKE_ON_ERROR | SL_INVOKE_ON_CANCEL;
    if (next->CompletionRoutine == nullptr || (next->Control & all) != all) {
      nt::irp_state::report_error(
          10, irp,
          "an IRP from IoAllocateIrp was given to a WSK function without a completion "
          "routine set with InvokeOnSuccess, InvokeOnError and InvokeOnCancel all TRUE: "
          "nobody else can free it when it completes the way the routine skips");
    }
  }
  const int chain = nt::irp_state::submission_chain();
  nt::irp_state::set_chain(irp, static_cast<UCHAR>(chain < 255 ? chain : 255));
  if (chain >= recursion_report_chain &&
      !recursion_reported.exchange(true, std::memory_order_relaxed)) {
    nt::irp_state::report_warning(
        17, irp,
        "32 WSK calls in a row were each started from the completion routine "
        "of the one before, and none pended: on Windows these completions can "
        "run inline, one inside the other, and the chain recurses without bound "
        "(reported once per process)");
  }
}

// delay (docs/faults.md): the completing thread sleeps a drawn time before the completion
// routine runs. The draws are process-wide: which completion gets which delay follows the order
// of completions, and only the schedule changes, never a result.
void delay_completion() {
  const fault::plan &p = fault::current();
  static fault::counters draws;
  const std::uint64_t n = draws.next(fault::stream::delay);
  const std::uint64_t span = std::uint64_t{p.delay_max_us} - p.delay_min_us + 1;
  const auto us =
      static_cast<long long>(p.delay_min_us + fault::draw(fault::stream::delay, 0, n) % span);
  fault::record(fault::stream::delay, 0, n, "completion delayed by (us)", us);
  if (us > 0) {
    timespec pause{static_cast<time_t>(us / 1000000), static_cast<long>(us % 1000000) * 1000};
    nanosleep(&pause, nullptr);
  }
}

} // namespace

bool irp_enter(PIRP irp) {
  if (irp == nullptr) {
    return false;
  }
  if (irp->Type != IO_TYPE_IRP) {
    nt::verifier::error(15,
                        "a WSK function was given an IRP that is freed (IoFreeIrp cleared its "
                        "type) or was never initialised: an IRP may be used only between "
                        "IoAllocateIrp (or IoInitializeIrp) and IoFreeIrp",
                        nt::verifier::objects_text("IRP %p", static_cast<void *>(irp)),
                        reinterpret_cast<ULONG_PTR>(irp));
  }
  if (held_by_provider(irp)) {
    nt::irp_state::report_error(
        14, irp,
        "a WSK function was given an IRP the provider still holds: it was "
        "submitted again before it completed; wait for its completion routine "
        "(and IoReuseIrp) before the next call");
  }
  if (!nt::verifier::bookkeeping_off()) {
    check_submission(irp);
  }
  if (irp->CurrentLocation <= 1) {
    char objects[512];
    nt::irp_state::describe(irp, objects, sizeof objects);
    nt::verifier::error_bugcheck(12,
                                 "a WSK function was given an IRP with no free stack location "
                                 "for the provider; allocate it with IoAllocateIrp(1, FALSE) or "
                                 "more, and do not call IoSetNextIrpStackLocation before the call",
                                 objects, NO_MORE_IRP_STACK_LOCATIONS,
                                 reinterpret_cast<ULONG_PTR>(irp));
  }
  nt::irp_state::set(irp, nt::irp_state::submitted);
  nt::irp_buffers::entered(irp); // rule V18
  IoSetNextIrpStackLocation(irp);
  IoGetCurrentIrpStackLocation(irp)->MinorFunction = provider_minor;
  irp_marks(irp) = held_mark;
  return true;
}

NTSTATUS irp_complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  if (fault::active() && fault::current().delay_max_us != 0) {
    delay_completion();
  }
  nt::irp_buffers::done(irp); // rule V18: the buffers are the client's again
  irp->IoStatus.Status = status;
  irp->IoStatus.Information = NT_SUCCESS(status) ? information : 0;
  // The provider completes on whatever thread finished the operation, which may be the driver's
  // own, inside a WSK call made under its spin lock: legal, so not rule V84.
  const nt::spin_lock_baseline baseline;
  KIRQL old_irql = KeGetCurrentIrql();
  const bool raise = old_irql < DISPATCH_LEVEL;
  if (raise) {
    KeRaiseIrql(DISPATCH_LEVEL, &old_irql);
  }
  IoCompleteRequest(irp, IO_NETWORK_INCREMENT);
  if (raise) {
    KeLowerIrql(old_irql);
  }
  return status;
}

bool irp_park(PIRP irp, PDRIVER_CANCEL cancel) {
  // Rule V18: its buffers are tracked from now (before it can be cancelled and completed).
  nt::irp_buffers::pending(irp);
  IoMarkIrpPending(irp);
  nt::irp_state::set_chain(irp, 0); // it pends: its completion starts a fresh stack (rule V17)
  if (!irp_repark(irp, cancel)) {
    IoGetCurrentIrpStackLocation(irp)->Control &= ~SL_PENDING_RETURNED; // not pending after all
    return false;
  }
  return true;
}

bool irp_unpark(PIRP irp) {
  return IoSetCancelRoutine(irp, nullptr) != nullptr;
}

bool irp_repark(PIRP irp, PDRIVER_CANCEL cancel) {
  IoSetCancelRoutine(irp, cancel);
  // IoCancelIrp sets Cancel before it looks for a routine: if it ran before the routine was set,
  // it found none, and taking the routine back here means nobody else will complete the IRP.
  if (__atomic_load_n(&irp->Cancel, __ATOMIC_SEQ_CST) &&
      IoSetCancelRoutine(irp, nullptr) != nullptr) {
    return false;
  }
  return true;
}

} // namespace uwsk::wsk

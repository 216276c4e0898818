// The provider's IRP plumbing; the rules are in irp_ops.hpp.
#include "wsk/irp_ops.hpp"

#include <time.h>

#include <atomic>
#include <cstdint>

#include "nt/bugcheck.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/fault/plan.hpp"
#include "nt/io/irp_state.hpp"
#include "nt/ke/irql.hpp"
#include "wsk/violations.hpp"

namespace uwsk::wsk {

namespace {

// The MinorFunction the provider writes into the stack location it enters (WSK IRPs carry no
// IRP_MJ_*/IRP_MN_* codes); IoCompleteRequest clears it as it leaves the location. Together
// with the provider's mark in Flags it says "the provider holds this IRP" (rule V14).
constexpr UCHAR provider_minor = 0xE5;
constexpr UCHAR held_mark = 0x80;

bool held_by_provider(PIRP irp) {
  if (irp->CurrentLocation < 1 || irp->CurrentLocation > irp->StackCount) {
    return false; // no current location: the client's own level
  }
  const PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(irp);
  return sp->MinorFunction == provider_minor && (sp->Flags & held_mark) != 0;
}

// Rule V17: a chain of this many WSK calls, each started from the completion routine of the one
// before, none of which pended (irp_state.hpp), would recurse that deep on Windows, where such
// completions run inline. uwsk itself completes them one after the other; the verifier says so,
// once per process.
constexpr int recursion_report_chain = 32;
std::atomic<bool> recursion_reported{false};

[[noreturn]] void irp_error(int rule, PIRP irp, const char *sentence) {
  char objects[512];
  nt::irp_state::describe(irp, objects, sizeof objects);
  nt::verifier::error(rule, sentence, objects, reinterpret_cast<ULONG_PTR>(irp));
}

// Rules V10, V13 and V17 at the submission of an IRP at its creator's level.
void check_submission(PIRP irp) {
  if (nt::irp_state::get(irp) == nt::irp_state::completed) {
    irp_error(13, irp,
              "an IRP that has completed was given to a WSK function again without IoReuseIrp: "
              "call IoReuseIrp(Irp, STATUS_UNSUCCESSFUL) before each reuse");
  }
  if ((irp->AllocationFlags & UWSK_IRP_ALLOCATED_BY_IO) != 0 &&
      irp->CurrentLocation == irp->StackCount + 1) {
    const PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(irp);
    constexpr UCHAR all = SL_INVOKE_ON_SUCCESS | SL_INVOKE_ON_ERROR | SL_INVOKE_ON_CANCEL;
    if (next->CompletionRoutine == nullptr || (next->Control & all) != all) {
      irp_error(10, irp,
                "an IRP from IoAllocateIrp was given to a WSK function without a completion "
                "routine set with InvokeOnSuccess, InvokeOnError and InvokeOnCancel all TRUE: "
                "nobody else can free it when it completes the way the routine skips");
    }
  }
  const int chain = nt::irp_state::submission_chain();
  nt::irp_state::set_chain(irp, static_cast<UCHAR>(chain < 255 ? chain : 255));
  if (chain >= recursion_report_chain &&
      !recursion_reported.exchange(true, std::memory_order_relaxed)) {
    char objects[512];
    nt::irp_state::describe(irp, objects, sizeof objects);
    nt::verifier::warning(17,
                          "32 WSK calls in a row were each started from the completion routine "
                          "of the one before, and none pended: on Windows these completions can "
                          "run inline, one inside the other, and the chain recurses without bound "
                          "(reported once per process)",
                          objects, reinterpret_cast<ULONG_PTR>(irp));
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
  if (held_by_provider(irp)) {
    nt::bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
                 "a WSK function was given an IRP the provider still holds: it was submitted "
                 "again before it completed (rule V14)",
                 violation::irp_submitted_twice, reinterpret_cast<ULONG_PTR>(irp));
  }
  if (!nt::verifier::bookkeeping_off()) {
    check_submission(irp);
  }
  if (irp->CurrentLocation <= 1) {
    nt::bugcheck(NO_MORE_IRP_STACK_LOCATIONS,
                 "a WSK function was given an IRP with no free stack location; allocate it "
                 "with IoAllocateIrp(1, FALSE) or more",
                 reinterpret_cast<ULONG_PTR>(irp));
  }
  nt::irp_state::set(irp, nt::irp_state::submitted);
  IoSetNextIrpStackLocation(irp);
  IoGetCurrentIrpStackLocation(irp)->MinorFunction = provider_minor;
  irp_marks(irp) = held_mark;
  return true;
}

NTSTATUS irp_complete(PIRP irp, NTSTATUS status, ULONG_PTR information) {
  if (fault::active() && fault::current().delay_max_us != 0) {
    delay_completion();
  }
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

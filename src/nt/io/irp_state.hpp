// The verifier's state of an IRP (rules V13, V14, V19 of docs/verifier.md):
//     allocated --submit--> submitted --complete--> completed --IoReuseIrp--> allocated
//                                                         \--IoFreeIrp--> freed (Type cleared)
// kept in the low byte of IRP.Reserved, which Windows leaves unused and IoInitializeIrp clears;
// the high byte holds the IRP's inline chain (rule V17). Both are read and written with relaxed
// atomics: a canceller may read the state while a loop thread completes the IRP.
#pragma once

#include <cstddef>

#include <wdm.h>

#include "nt/dbg/verifier.hpp"

namespace uwsk::nt::irp_state {

enum : UCHAR { allocated = 0, submitted = 1, completed = 2 };

inline UCHAR *bytes(PIRP irp) {
  return reinterpret_cast<UCHAR *>(&irp->Reserved);
}
inline UCHAR get(PIRP irp) {
  return __atomic_load_n(&bytes(irp)[0], __ATOMIC_RELAXED);
}
inline void set(PIRP irp, UCHAR state) {
  __atomic_store_n(&bytes(irp)[0], state, __ATOMIC_RELAXED);
}

// Rule V17: the inline chain of an IRP. An IRP submitted from the completion routine of an IRP
// whose chain is n gets chain n + 1 (saturating at 255); one submitted elsewhere gets 0, and one
// that pends (the provider parks it) drops back to 0, since its completion then runs on a fresh
// stack on Windows too. A chain that keeps growing is a driver whose completions, where they
// happen inline, recurse without bound.
inline UCHAR chain(PIRP irp) {
  return __atomic_load_n(&bytes(irp)[1], __ATOMIC_RELAXED);
}
inline void set_chain(PIRP irp, UCHAR n) {
  __atomic_store_n(&bytes(irp)[1], n, __ATOMIC_RELAXED);
}

// Whether the WSK provider holds the IRP (rules V14, V15): the stack location the provider entered
// at submission is the current one, with its marks (MinorFunction and a Flags bit, which
// IoCompleteRequest clears as it leaves the location).
inline constexpr UCHAR provider_minor = 0xE5;
inline constexpr UCHAR provider_held_mark = 0x80;
inline bool held_by_provider(PIRP irp) {
  if (irp->CurrentLocation < 1 || irp->CurrentLocation > irp->StackCount) {
    return false; // no current location: the client's own level
  }
  const PIO_STACK_LOCATION sp = irp->Tail.Overlay.CurrentStackLocation;
  return sp->MinorFunction == provider_minor && (sp->Flags & provider_held_mark) != 0;
}

// The chain a submission made now gets: the chain of the IRP whose completion routine the
// calling thread runs, plus one; 0 outside completion routines. IoCompleteRequest keeps it.
int submission_chain();

// Where IoAllocateIrp was called from (its return address), or NULL for IRPs formatted by
// IoInitializeIrp in the driver's own memory.
const void *creation_site(PIRP irp);

// Rule V18: where irp_buffers keeps the record of an IoAllocateIrp IRP's buffers (a pointer in
// the trailer irp.cpp puts right after the packet, NULL until the IRP first pends with buffers;
// IoFreeIrp releases it), or NULL for an IRP formatted by IoInitializeIrp in the driver's own
// memory, and with the verifier's bookkeeping off (the trailer then holds no such pointer).
inline constexpr std::size_t trailer_buffer_record_offset = 24; // irp.cpp asserts it
inline void **buffer_record_slot(PIRP irp) {
  if ((irp->AllocationFlags & UWSK_IRP_ALLOCATED_BY_IO) == 0 ||
      irp->Size != IoSizeOfIrp(irp->StackCount) || verifier::bookkeeping_off()) {
    return nullptr;
  }
  return reinterpret_cast<void **>(reinterpret_cast<PUCHAR>(irp) + irp->Size +
                                   trailer_buffer_record_offset);
}

// "IRP 0x... (N stack locations, made by IoAllocateIrp at <function at file:line>)" for reports.
void describe(PIRP irp, char *out, std::size_t size);

// Verifier rule `rule` broken with `irp`: the report's objects line is describe(irp), its
// parameter 2 the IRP and parameter 3 `p3` (verifier::error, verifier::warning).
[[noreturn]] void report_error(int rule, PIRP irp, const char *sentence, ULONG_PTR p3 = 0);
void report_warning(int rule, PIRP irp, const char *sentence);

} // namespace uwsk::nt::irp_state

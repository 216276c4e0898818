// The buffers of pending WSK IRPs (rule V18 of docs/verifier.md): a buffer an IRP reads or
// fills must stay valid until the IRP completes, so freeing it, or returning from the stack frame
// it lives in, while the IRP is pending is a verifier error.
//
// Rules:
//  1. A WSK function notes the buffers of its IRP (note(), note_mdl_chain()) on the calling
//     thread before it starts the operation: the MDLs and the memory they describe, address,
//     control and option buffers. The note is a thread-local scratch record of the arguments as
//     given (an MDL chain is one entry); nothing is shared, allocated or walked, so an operation
//     that completes at once pays a few stores.
//  2. When the operation pends on that thread (the provider parks the IRP), pending() expands the
//     note (each MDL, and the memory it describes) into the IRP's record and links each buffer
//     into the index; an IRP that completes at once never reaches it. When the provider completes
//     the IRP, done() unlinks them, before the completion routine runs (which may free the
//     buffers). IoFreeIrp releases the record (released()).
//  3. The record of an IoAllocateIrp IRP hangs off its block (irp_state::buffer_record_slot) and is
//     kept, sized for the most buffers it needed, until IoFreeIrp; one formatted by IoInitializeIrp
//     in the driver's memory has a record in a side table for as long as it pends.
//  4. The index: a buffer of at most one granule (64 KiB) is linked in the bucket of the granule
//     it starts in; a longer one in the wide list (of a buffer longer than 4 GiB, its first 4 GiB
//     are tracked). ExFreePool* and IoFreeMdl ask
//     pending_buffer_in() whether their block overlaps a buffer of a pending IRP, looking at the
//     buckets of the granules from the one before the block to its last, and at the wide list:
//     V18, naming the IRP, the buffer and the block. Each bucket has its own lock, taken by
//     parking, completing and looking up alike.
//  5. A buffer on the submitting thread's stack puts the record on the stack list, with that
//     thread. When the thread waits (KeWaitFor*, KeDelayExecutionThread) while the IRP is pending,
//     check_stack() compares the buffer with the waiting function's frame: a buffer below it is in
//     a frame that has returned (the frames of the waiter's callers are all above it), V18. The
//     usual pattern, the IRP, its event and the buffer in the frame that waits, lies above and is
//     never reported. A system thread that ends is checked the same way, against the frame that
//     ran its start routine.
//  6. Cost: an IRP that parks again with the buffers of its last park (the usual reuse of one
//     IRP, MDL and buffer) is compared with its record and marked active, and its completion
//     marks it inactive: no lock, link or allocation. A park with other buffers costs one lock,
//     unlink and link per buffer; a completion never takes a lock. Records stay linked while
//     their IRPs live, so a free looks in (and locks) the buckets its block may overlap once any
//     IRP has pended with buffers, and a wait walks the stack list once any IRP has pended with
//     a stack buffer (relaxed loads of the counts decide, before that).
#pragma once

#include <cstddef>

#include <wdm.h>

#include "nt/dbg/verifier.hpp"

namespace uwsk::nt::irp_buffers {

namespace detail {
constexpr int max_notes = 8; // notes kept per IRP; more are not checked
// Rule 1: one argument as given. A plain buffer is `length` bytes at `begin`; an MDL chain
// starts at the MDL `begin`, `length` bytes from `offset`.
struct raw_note {
  const void *begin;
  std::size_t offset;
  std::size_t length;
  bool mdl_chain;
};
// Rule 1: the calling thread's note. `entered` is set when the provider enters the IRP after the
// note was made; a second entry means the note is stale, from an earlier submission of the same
// IRP that did not pend here. Every member has an initialiser, so the thread-local needs no
// guard (which would go through __tls_get_addr on each access); initial-exec, as the other
// thread-locals read on every call.
struct scratch {
  PIRP irp = nullptr;
  bool entered = false;
  int count = 0;
  raw_note notes[max_notes]{};
};
extern thread_local scratch t_note [[gnu::tls_model("initial-exec")]];

inline void add_note(PIRP irp, const raw_note &note) {
  scratch &n = t_note;
  if (n.irp != irp || n.entered) {
    n.irp = irp;
    n.entered = false;
    n.count = 0;
  }
  if (n.count < max_notes) {
    n.notes[n.count++] = note;
  }
}
} // namespace detail

// Rule 1: `length` bytes at `begin` belong to the operation of `irp` (ignored when NULL or empty;
// a note for another IRP starts over). With the verifier's bookkeeping off nothing is noted, so
// nothing is tracked.
inline void note(PIRP irp, const void *begin, std::size_t length) {
  if (irp != nullptr && begin != nullptr && length != 0 && !verifier::bookkeeping_off()) {
    detail::add_note(irp, {begin, 0, length, false});
  }
}
// Rule 1: the MDL chain `mdl` (each MDL, and the `length` bytes it describes from `offset`).
inline void note_mdl_chain(PIRP irp, PMDL mdl, std::size_t offset, std::size_t length) {
  if (irp != nullptr && mdl != nullptr && !verifier::bookkeeping_off()) {
    detail::add_note(irp, {mdl, offset, length, true});
  }
}

// Rule 1: the provider entered `irp` (irp_enter); a note made before an earlier entry of the same
// IRP is dropped.
void entered(PIRP irp);

// Rule 2.
void pending(PIRP irp);
void done(PIRP irp);
// Rule 3: IoFreeIrp (done(), then the record is freed).
void released(PIRP irp);

// Rule 4: a buffer of a pending IRP that [begin, begin + length) overlaps, found by
// pending_buffer_in (false when there is none) and reported by report_free: `what` is the call
// ("ExFreePool"), `block` describes the block ("pool block 0x... (tag 'Xxxx', 16 bytes)").
struct found_buffer {
  char irp[512]; // the IRP, as irp_state::describe tells it
  const void *begin;
  std::size_t length;
};
bool pending_buffer_in(const void *begin, std::size_t length, found_buffer &out);
[[noreturn]] void report_free(const found_buffer &found, const void *block_begin, const char *what,
                              const char *block);

// Rule 5: `frame` is the waiting function's own frame (__builtin_frame_address(0)); `what` names
// the call ("KeWaitForSingleObject", "the end of the system thread").
void check_stack(const void *frame, const char *what);

} // namespace uwsk::nt::irp_buffers

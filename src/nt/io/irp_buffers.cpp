// The buffers of pending WSK IRPs (rule V18); the rules are in irp_buffers.hpp.
#include "nt/io/irp_buffers.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "nt/dbg/thread_stack.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/io/irp_state.hpp"

namespace uwsk::nt::irp_buffers {
namespace {

// The most buffers noted for one IRP (MDLs count with the memory they describe); more are not
// checked.
constexpr int max_ranges = 8;

struct range {
  std::uintptr_t begin;
  std::uintptr_t end;
  bool on_stack;
};

// Rule 1: the calling thread's note. `entered` is set when the provider enters the IRP after the
// note was made (irp_state::note_entered); a second entry means the note is stale, from an
// earlier submission of the same IRP that did not pend here.
struct scratch {
  PIRP irp = nullptr;
  bool entered = false;
  int count = 0;
  range ranges[max_ranges];
};
// Initial-exec, as the other thread-locals read on every call: the general model goes through
// __tls_get_addr on each access (7% of the IRP echo driver's instructions per message).
thread_local scratch t_note [[gnu::tls_model("initial-exec")]];
// Its address tells the threads apart (the submitting thread of a stack buffer).
thread_local char t_thread_token [[gnu::tls_model("initial-exec")]];

struct buffer {
  PIRP irp;
  std::uintptr_t end;
  bool on_stack;
  const void *thread;
};
using buffer_table = std::multimap<std::uintptr_t, buffer>;

struct pending_irp {
  buffer_table::iterator buffers[max_ranges];
  int count = 0;
  bool on_stack = false;
};

// Rule 2: the pending IRPs with buffers, and their buffers ordered by start address.
struct table {
  std::shared_mutex lock; // exclusive to change, shared to look up (frees, waits)
  buffer_table buffers;   // guarded by lock
  std::unordered_map<PIRP, pending_irp> irps;  // guarded by lock
  std::size_t longest = 0;                     // guarded by lock: the longest buffer
  std::atomic<std::size_t> irp_count{0};       // irps.size(), read without the lock
  std::atomic<std::size_t> stack_irp_count{0}; // those with a buffer on a stack
};
table &pending_table() {
  static table *const t = new table; // lives for the process: threads may free at exit
  return *t;
}

// What a report names, copied under the lock (the IRP cannot complete meanwhile: done() waits).
void describe(const buffer_table::value_type &b, found_buffer &out) {
  irp_state::describe(b.second.irp, out.irp, sizeof out.irp);
  out.begin = reinterpret_cast<const void *>(b.first);
  out.length = b.second.end - b.first;
}

} // namespace

void note(PIRP irp, const void *begin, std::size_t length) {
  if (irp == nullptr || begin == nullptr || length == 0 || verifier::bookkeeping_off()) {
    return; // with the bookkeeping off nothing is noted, so nothing is tracked
  }
  scratch &n = t_note;
  if (n.irp != irp || n.entered) {
    n.irp = irp;
    n.entered = false;
    n.count = 0;
  }
  if (n.count == max_ranges) {
    return;
  }
  const auto b = reinterpret_cast<std::uintptr_t>(begin);
  n.ranges[n.count++] = {b, b + length, on_thread_stack(begin)};
}

void note_mdl_chain(PIRP irp, PMDL mdl, std::size_t offset, std::size_t length) {
  for (int i = 0; mdl != nullptr && i < max_ranges / 2; ++i, mdl = mdl->Next) {
    note(irp, mdl, sizeof(MDL));
    const std::size_t count = mdl->ByteCount;
    const std::size_t take = offset < count ? std::min(count - offset, length) : 0;
    note(irp, static_cast<const char *>(MmGetMdlVirtualAddress(mdl)) + offset, take);
    length -= take;
    offset = 0;
    if (length == 0) {
      break;
    }
  }
}

void entered(PIRP irp) {
  scratch &n = t_note;
  if (n.irp != irp) {
    return;
  }
  if (n.entered) {
    n.irp = nullptr; // stale: this submission noted nothing
    return;
  }
  n.entered = true;
}

void pending(PIRP irp) {
  scratch &n = t_note;
  if (n.irp != irp || !n.entered || n.count == 0) {
    return;
  }
  n.irp = nullptr;
  table &t = pending_table();
  std::lock_guard guard(t.lock);
  auto [slot, inserted] = t.irps.try_emplace(irp);
  if (!inserted) {
    return; // parked again: its buffers are in the table already
  }
  pending_irp &p = slot->second;
  for (int i = 0; i < n.count; ++i) {
    const range &r = n.ranges[i];
    p.buffers[p.count++] =
        t.buffers.emplace(r.begin, buffer{irp, r.end, r.on_stack, &t_thread_token});
    p.on_stack |= r.on_stack;
    t.longest = std::max<std::size_t>(t.longest, r.end - r.begin);
  }
  t.irp_count.store(t.irps.size(), std::memory_order_relaxed);
  if (p.on_stack) {
    t.stack_irp_count.fetch_add(1, std::memory_order_relaxed);
  }
}

void done(PIRP irp) {
  if (t_note.irp == irp) {
    t_note.irp = nullptr;
  }
  table &t = pending_table();
  if (t.irp_count.load(std::memory_order_relaxed) == 0) {
    return;
  }
  std::lock_guard guard(t.lock);
  auto it = t.irps.find(irp);
  if (it == t.irps.end()) {
    return;
  }
  for (int i = 0; i < it->second.count; ++i) {
    t.buffers.erase(it->second.buffers[i]);
  }
  if (it->second.on_stack) {
    t.stack_irp_count.fetch_sub(1, std::memory_order_relaxed);
  }
  t.irps.erase(it);
  t.irp_count.store(t.irps.size(), std::memory_order_relaxed);
  if (t.buffers.empty()) {
    t.longest = 0;
  }
}

bool pending_buffer_in(const void *begin, std::size_t length, found_buffer &out) {
  table &t = pending_table();
  if (t.irp_count.load(std::memory_order_relaxed) == 0 || length == 0) {
    return false;
  }
  const auto b = reinterpret_cast<std::uintptr_t>(begin);
  const std::uintptr_t e = b + length;
  std::shared_lock guard(t.lock);
  // Every buffer that overlaps [b, e) starts at most `longest` bytes before b.
  for (auto it = t.buffers.lower_bound(b > t.longest ? b - t.longest : 0);
       it != t.buffers.end() && it->first < e; ++it) {
    if (it->second.end > b) {
      describe(*it, out);
      return true;
    }
  }
  return false;
}

void report_free(const found_buffer &found, const void *block_begin, const char *what,
                 const char *block) {
  char sentence[320];
  std::snprintf(sentence, sizeof sentence,
                "%s freed memory that a pending IRP still uses as its buffer: the provider reads "
                "or fills it until the IRP completes; free it only after the IRP's completion "
                "routine ran",
                what);
  verifier::error(18, sentence,
                  verifier::objects_text("%s; buffer %p (%zu bytes); %s", found.irp, found.begin,
                                         found.length, block),
                  reinterpret_cast<ULONG_PTR>(found.begin),
                  reinterpret_cast<ULONG_PTR>(block_begin));
}

void check_stack(const void *frame, const char *what) {
  table &t = pending_table();
  if (t.stack_irp_count.load(std::memory_order_relaxed) == 0) {
    return;
  }
  const auto limit = reinterpret_cast<std::uintptr_t>(frame);
  found_buffer found;
  {
    std::shared_lock guard(t.lock);
    bool hit = false;
    for (const auto &[irp, p] : t.irps) {
      if (!p.on_stack) {
        continue;
      }
      for (int i = 0; i < p.count && !hit; ++i) {
        const auto &b = *p.buffers[i];
        if (b.second.on_stack && b.second.thread == &t_thread_token && b.first < limit) {
          describe(b, found);
          hit = true;
        }
      }
      if (hit) {
        break;
      }
    }
    if (!hit) {
      return;
    }
  }
  char sentence[400];
  std::snprintf(sentence, sizeof sentence,
                "the buffer of a pending IRP lies in a stack frame that has returned (found at "
                "%s, on the thread that submitted it): the provider would fill memory that now "
                "holds other frames; keep the buffer in the frame that waits for the IRP, or in "
                "pool",
                what);
  verifier::error(18, sentence,
                  verifier::objects_text("%s; buffer %p (%zu bytes) on this thread's stack, below "
                                         "the waiting frame %p",
                                         found.irp, found.begin, found.length, frame),
                  reinterpret_cast<ULONG_PTR>(found.begin), limit);
}

} // namespace uwsk::nt::irp_buffers

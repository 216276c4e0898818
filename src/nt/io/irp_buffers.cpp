// The buffers of pending WSK IRPs (rule V18); the rules are in irp_buffers.hpp.
#include "nt/io/irp_buffers.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "nt/dbg/thread_stack.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/ex/futex_lock.hpp"
#include "nt/io/irp_state.hpp"

namespace uwsk::nt::irp_buffers {

thread_local detail::scratch detail::t_note [[gnu::tls_model("initial-exec")]];

namespace {

using detail::max_notes;
using detail::raw_note;
using detail::scratch;
using detail::t_note;

// The most buffers (rule 2; an MDL counts with the memory it describes) kept for one IRP; more
// are not checked.
constexpr int max_buffers = 8;
// The most MDLs of one chain that are checked.
constexpr int max_chain = max_buffers / 2;

// Its address tells the threads apart (the submitting thread of a stack buffer).
thread_local char t_thread_token [[gnu::tls_model("initial-exec")]];

struct record;

// The longest buffer tracked: a longer one is tracked for its first max_length bytes.
constexpr std::size_t max_length = UINT32_MAX;

// Rule 4: one buffer of a pending IRP, linked in its bucket. `index` is its place in the
// record's array, which finds the record. 32 bytes: a connection keeps one per buffer of each
// IRP that pended.
struct node {
  std::uintptr_t begin;
  node *next;
  node **link; // the pointer that points to this node
  std::uint32_t length;
  std::uint8_t index;
  bool on_stack;

  std::uintptr_t end() const { return begin + length; }
};
static_assert(max_buffers <= UINT8_MAX && sizeof(node) == 32);

// Rule 3: the buffers of one IRP; `capacity` nodes follow the record in the same block (with
// the usual one MDL and its memory, 88 bytes). The nodes of an IoAllocateIrp IRP stay linked
// after it completes, marked inactive, so that parking it again with the same buffers (a driver
// that reuses its IRP, MDL and buffer) takes no lock: only a pending IRP's buffers are reported.
struct record {
  PIRP irp;
  const void *thread; // the submitting thread, for stack buffers
  std::uint8_t capacity;
  std::uint8_t count; // nodes linked
  bool on_stack;      // rule 5: on the stack list, at stack_index
  // Whether the IRP is pending. Set (release) when it parks and cleared (release) before its
  // completion routine runs; a lookup reads it (acquire) under the bucket's lock. A thread that
  // frees a buffer after the completion, in an order the driver made, sees it cleared.
  std::atomic<bool> active;
  std::uint32_t stack_index;

  node *nodes() { return reinterpret_cast<node *>(this + 1); }
};
static_assert(sizeof(record) == 24 && sizeof(record) % alignof(node) == 0);

record *owner_of(node *n) {
  return reinterpret_cast<record *>(n - n->index) - 1;
}

record *new_record(int capacity) {
  void *memory = std::malloc(sizeof(record) + capacity * sizeof(node));
  if (memory == nullptr) {
    return nullptr; // the buffers go unchecked
  }
  auto *r = new (memory) record{};
  r->capacity = static_cast<std::uint8_t>(capacity);
  r->count = 0;
  r->active.store(false, std::memory_order_relaxed);
  return r;
}

constexpr unsigned granule_shift = 16; // 64 KiB
constexpr std::size_t bucket_count = 1024;

struct alignas(64) bucket {
  futex_lock lock;
  node *head = nullptr; // guarded by lock
};

struct index_table {
  bucket buckets[bucket_count];
  bucket wide;                             // buffers longer than a granule
  std::atomic<std::size_t> linked{0};      // nodes linked in any bucket, read without a lock
  std::atomic<std::size_t> wide_linked{0}; // those in `wide`
  // Rule 5: the records with a buffer on a stack (made on first use, and kept for the process),
  // each at its stack_index.
  futex_lock stack_lock;
  std::vector<record *> *stack = nullptr;    // guarded by stack_lock
  std::atomic<std::size_t> stack_records{0}; // read without the lock
  // Rule 3: the records of IRPs without a trailer, while they pend (made on first use, and kept
  // for the process: threads may free at exit).
  futex_lock side_lock;
  std::unordered_map<PIRP, record *> *side = nullptr; // guarded by side_lock
  std::atomic<std::size_t> side_records{0};           // read without the lock
};
// Constant-initialised and never destroyed (trivially destructible), so it is usable from any
// thread at any time, including exit, at no cost per access.
constinit index_table g_table;
index_table &table() {
  return g_table;
}

std::uintptr_t granule(std::uintptr_t address) {
  return address >> granule_shift;
}
bucket &bucket_for(index_table &t, const node &n) {
  if (n.length > (std::uintptr_t{1} << granule_shift)) {
    return t.wide;
  }
  return t.buckets[granule(n.begin) % bucket_count];
}

// The buckets' lists are intrusive: each node holds its successor (`next`) and the pointer that
// points to it (`link`), so it leaves its list without a walk. The caller holds the bucket's
// lock.
void push_front(node *&head, node &item) {
  item.next = head;
  item.link = &head;
  if (head != nullptr) {
    head->link = &item.next;
  }
  head = &item;
}
void take_out(node &item) {
  *item.link = item.next;
  if (item.next != nullptr) {
    item.next->link = item.link;
  }
}

void link_node(index_table &t, node &n) {
  bucket &b = bucket_for(t, n);
  std::lock_guard guard(b.lock);
  push_front(b.head, n);
  if (&b == &t.wide) {
    t.wide_linked.fetch_add(1, std::memory_order_relaxed);
  }
}

void unlink_node(index_table &t, node &n) {
  bucket &b = bucket_for(t, n);
  std::lock_guard guard(b.lock);
  take_out(n);
  if (&b == &t.wide) {
    t.wide_linked.fetch_sub(1, std::memory_order_relaxed);
  }
}

// Rule 2: calls `sink(begin, length)` for each buffer the note stands for, in order (at most
// max_buffers), until it returns false.
template <class Sink> void for_each_buffer(const scratch &n, Sink &&sink) {
  int count = 0;
  const auto add = [&](const void *begin, std::size_t length) {
    if (begin == nullptr || length == 0) {
      return true;
    }
    if (count == max_buffers) {
      return false;
    }
    ++count;
    return sink(reinterpret_cast<std::uintptr_t>(begin),
                static_cast<std::uint32_t>(std::min(length, max_length)));
  };
  for (int i = 0; i < n.count; ++i) {
    const raw_note &note = n.notes[i];
    if (!note.mdl_chain) {
      if (!add(note.begin, note.length)) {
        return;
      }
      continue;
    }
    auto mdl = static_cast<PMDL>(const_cast<void *>(note.begin));
    std::size_t offset = note.offset;
    std::size_t length = note.length;
    for (int m = 0; mdl != nullptr && m < max_chain && length != 0; ++m, mdl = mdl->Next) {
      const std::size_t bytes = mdl->ByteCount;
      const std::size_t take = offset < bytes ? std::min(bytes - offset, length) : 0;
      if (!add(mdl, sizeof(MDL)) ||
          !add(static_cast<const char *>(MmGetMdlVirtualAddress(mdl)) + offset, take)) {
        return;
      }
      length -= take;
      offset = 0;
    }
  }
}

// Rule 2: the note expanded into buffers; returns how many (on_stack is left to link_record).
int expand(const scratch &n, node *out) {
  int count = 0;
  for_each_buffer(n, [&](std::uintptr_t begin, std::uint32_t length) {
    out[count].begin = begin;
    out[count].length = length;
    ++count;
    return true;
  });
  return count;
}

// Whether the note stands for exactly the buffers linked in `r` (the IRP parks again with the
// buffers it had last time), compared without building them.
bool note_matches(const scratch &n, record &r) {
  int k = 0;
  bool same = true;
  for_each_buffer(n, [&](std::uintptr_t begin, std::uint32_t length) {
    same = k < r.count && r.nodes()[k].begin == begin && r.nodes()[k].length == length;
    ++k;
    return same;
  });
  return same && k == r.count;
}

// note_matches for the usual note, one MDL chain whose bytes all lie in its first MDL (the MDL
// and the memory it describes: two buffers), compared without the general walk. Sets `decided`
// when the note is of that form.
bool single_mdl_matches(const scratch &n, record &r, bool &decided) {
  decided = false;
  if (n.count != 1 || !n.notes[0].mdl_chain) {
    return false;
  }
  const raw_note &note = n.notes[0];
  auto mdl = static_cast<PMDL>(const_cast<void *>(note.begin));
  const std::size_t bytes = mdl->ByteCount;
  if (note.length == 0 || note.offset >= bytes || note.length > bytes - note.offset) {
    return false;
  }
  decided = true;
  const auto header = reinterpret_cast<std::uintptr_t>(mdl);
  const auto data = reinterpret_cast<std::uintptr_t>(MmGetMdlVirtualAddress(mdl)) + note.offset;
  const node *nodes = r.nodes();
  return r.count == 2 && nodes[0].begin == header && nodes[0].end() == header + sizeof(MDL) &&
         nodes[1].begin == data && nodes[1].end() == data + note.length;
}

// Takes the record's nodes out of the index (and the record off the stack list).
void unlink_record(index_table &t, record &r) {
  if (r.count == 0) {
    return;
  }
  for (int i = 0; i < r.count; ++i) {
    unlink_node(t, r.nodes()[i]);
  }
  t.linked.fetch_sub(r.count, std::memory_order_relaxed);
  if (r.on_stack) {
    std::lock_guard guard(t.stack_lock);
    // The last record takes its place.
    std::vector<record *> &stack = *t.stack;
    record *last = stack.back();
    stack[r.stack_index] = last;
    last->stack_index = r.stack_index;
    stack.pop_back();
    t.stack_records.store(stack.size(), std::memory_order_relaxed);
    r.on_stack = false;
  }
  r.count = 0;
}

// Puts `count` buffers into the record and the index (the record's old nodes are out of it).
void link_record(index_table &t, record &r, const node *buffers, int count) {
  bool on_stack = false;
  for (int i = 0; i < count; ++i) {
    node &slot = r.nodes()[i];
    slot = buffers[i];
    slot.index = static_cast<std::uint8_t>(i);
    slot.on_stack = on_thread_stack(reinterpret_cast<const void *>(slot.begin));
    on_stack |= slot.on_stack;
    link_node(t, slot);
  }
  r.count = static_cast<std::uint8_t>(count);
  t.linked.fetch_add(count, std::memory_order_relaxed);
  if (on_stack) {
    std::lock_guard guard(t.stack_lock);
    try {
      if (t.stack == nullptr) {
        t.stack = new std::vector<record *>;
      }
      t.stack->push_back(&r);
      r.stack_index = static_cast<std::uint32_t>(t.stack->size() - 1);
      r.on_stack = true;
      t.stack_records.store(t.stack->size(), std::memory_order_relaxed);
    } catch (const std::bad_alloc &) {
      // No memory for its place on the list: its stack buffers go unchecked by rule 5.
    }
  }
}

// Rule 3: the record that holds `count` buffers of `irp`, made or grown as needed (NULL when the
// memory is not there: then they go unchecked).
record *record_for_park(index_table &t, PIRP irp, int count) {
  if (void **slot = irp_state::buffer_record_slot(irp); slot != nullptr) {
    auto *r = static_cast<record *>(*slot);
    if (r != nullptr && r->active.load(std::memory_order_relaxed)) {
      return nullptr; // parked again: its buffers are tracked already
    }
    if (r != nullptr && r->capacity < count) {
      unlink_record(t, *r);
      std::free(r);
      r = nullptr;
    }
    if (r == nullptr) {
      r = new_record(std::max(count, 2));
      *slot = r;
    }
    return r;
  }
  std::lock_guard guard(t.side_lock);
  if (t.side == nullptr) {
    t.side = new std::unordered_map<PIRP, record *>;
  }
  auto [it, inserted] = t.side->try_emplace(irp, nullptr);
  if (!inserted) {
    return nullptr; // parked again
  }
  it->second = new_record(count);
  if (it->second == nullptr) {
    t.side->erase(it);
    return nullptr;
  }
  t.side_records.store(t.side->size(), std::memory_order_relaxed);
  return it->second;
}

// The record of a pending IRP, or NULL; a side-table record is taken out of the table (the
// caller frees it after unlinking).
record *record_of(index_table &t, PIRP irp, bool &side) {
  side = false;
  if (void **slot = irp_state::buffer_record_slot(irp); slot != nullptr) {
    return static_cast<record *>(*slot);
  }
  if (t.side_records.load(std::memory_order_relaxed) == 0) {
    return nullptr;
  }
  std::lock_guard guard(t.side_lock);
  auto it = t.side->find(irp);
  if (it == t.side->end()) {
    return nullptr;
  }
  record *r = it->second;
  t.side->erase(it);
  t.side_records.store(t.side->size(), std::memory_order_relaxed);
  side = true;
  return r;
}

// What a report names, copied under the bucket's lock (the IRP cannot complete meanwhile: done()
// waits for the lock to unlink it).
void describe(node &n, found_buffer &out) {
  irp_state::describe(owner_of(&n)->irp, out.irp, sizeof out.irp);
  out.begin = reinterpret_cast<const void *>(n.begin);
  out.length = n.length;
}

bool find_in(bucket &b, std::uintptr_t begin, std::uintptr_t end, found_buffer &out) {
  std::lock_guard guard(b.lock);
  for (node *n = b.head; n != nullptr; n = n->next) {
    if (n->begin < end && n->end() > begin && owner_of(n)->active.load(std::memory_order_acquire)) {
      describe(*n, out);
      return true;
    }
  }
  return false;
}

} // namespace

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
  // The usual case: an IoAllocateIrp IRP parked again with the buffers it had last time (a
  // stack buffer also from the same thread) is marked active, and that is all.
  if (void **slot = irp_state::buffer_record_slot(irp); slot != nullptr && *slot != nullptr) {
    record &r = *static_cast<record *>(*slot);
    if (!r.active.load(std::memory_order_relaxed) && r.count != 0 &&
        !(r.on_stack && r.thread != &t_thread_token)) {
      bool decided = false;
      const bool same = single_mdl_matches(n, r, decided);
      if (decided ? same : note_matches(n, r)) {
        r.active.store(true, std::memory_order_release);
        return;
      }
    }
  }
  node buffers[max_buffers];
  const int count = expand(n, buffers);
  if (count == 0) {
    return;
  }
  index_table &t = table();
  record *r = record_for_park(t, irp, count);
  if (r == nullptr) {
    return;
  }
  unlink_record(t, *r);
  r->irp = irp;
  r->thread = &t_thread_token;
  link_record(t, *r, buffers, count);
  r->active.store(true, std::memory_order_release);
}

void done(PIRP irp) {
  if (t_note.irp == irp) {
    t_note.irp = nullptr;
  }
  index_table &t = table();
  if (t.linked.load(std::memory_order_relaxed) == 0) {
    return;
  }
  bool side = false;
  record *r = record_of(t, irp, side);
  if (r == nullptr) {
    return;
  }
  r->active.store(false, std::memory_order_release);
  if (side) {
    unlink_record(t, *r);
    std::free(r);
  }
}

void released(PIRP irp) {
  done(irp);
  if (void **slot = irp_state::buffer_record_slot(irp); slot != nullptr && *slot != nullptr) {
    unlink_record(table(), *static_cast<record *>(*slot));
    std::free(*slot);
    *slot = nullptr;
  }
}

bool pending_buffer_in(const void *begin, std::size_t length, found_buffer &out) {
  index_table &t = table();
  if (t.linked.load(std::memory_order_relaxed) == 0 || length == 0) {
    return false;
  }
  const auto b = reinterpret_cast<std::uintptr_t>(begin);
  const std::uintptr_t e = b + length;
  if (t.wide_linked.load(std::memory_order_relaxed) != 0 && find_in(t.wide, b, e, out)) {
    return true;
  }
  // A buffer of at most a granule that overlaps [b, e) starts in the granule before b's or
  // after it, up to e's; a block that spans every bucket looks at each once.
  const std::uintptr_t first = granule(b) == 0 ? 0 : granule(b) - 1;
  const std::uintptr_t last = granule(e - 1);
  const std::uintptr_t buckets = std::min<std::uintptr_t>(last - first + 1, bucket_count);
  for (std::uintptr_t g = first; g < first + buckets; ++g) {
    if (find_in(t.buckets[g % bucket_count], b, e, out)) {
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
  index_table &t = table();
  if (t.stack_records.load(std::memory_order_relaxed) == 0) {
    return;
  }
  const auto limit = reinterpret_cast<std::uintptr_t>(frame);
  found_buffer found;
  {
    std::lock_guard guard(t.stack_lock);
    bool hit = false;
    for (std::size_t k = 0; k < t.stack->size() && !hit; ++k) {
      record *r = (*t.stack)[k];
      if (r->thread != &t_thread_token || !r->active.load(std::memory_order_acquire)) {
        continue;
      }
      for (int i = 0; i < r->count && !hit; ++i) {
        node &n = r->nodes()[i];
        if (n.on_stack && n.begin < limit) {
          describe(n, found);
          hit = true;
        }
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

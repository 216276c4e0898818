// Per-thread caches of free memory blocks of one size, for the allocators on the data path (IRPs,
// MDLs, receive-event buffers), so that an operation does not call malloc on the data path.
//
// Rules:
//  1. A block_cache hands out blocks of one size and alignment (the size as asked, which need
//     not be a multiple of the alignment; page-mapped blocks are whole pages). allocate() takes a
//     block from the calling thread's cache, else from the cache's shared list, else from the C
//     allocator; release() puts a block in the calling thread's cache, else on the shared list,
//     else frees it. A block may be released on another thread than the one it was allocated on.
//  2. Both caches are bounded. When a thread exits, its cached blocks move to the shared list (up
//     to its bound) and the rest are freed, so no block stays behind a thread that is gone. After
//     its exit handler ran, a thread bypasses its own cache.
//  3. The cache never writes into a cached block (it keeps pointers in arrays of its own), so an
//     owner's "freed" mark inside the block survives caching and its double-free checks still
//     work. Under AddressSanitizer a cached block is poisoned, except for a prefix the owner
//     names (where that mark lives), so a use after free is still reported.
//  4. A block_cache lives for the whole process: create it with `new` (its destructor is deleted),
//     so that a thread exiting during process exit never finds it gone. Blocks cached at process
//     exit stay reachable from it, so leak checkers do not report them.
//  5. Giving memory back. A cache of `page_mapped` blocks takes each block from mmap and gives it
//     back with munmap, so a block that leaves the cache returns its pages to the system at once
//     (the C allocator keeps freed blocks of tens of KiB in its arenas, which it returns only
//     from the top of a heap). trim() frees cached blocks beyond a floor: its owner calls it
//     when the demand is gone, so a burst leaves no more than the floors cached.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define UWSK_CACHE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UWSK_CACHE_ASAN 1
#endif
#endif
#if defined(UWSK_CACHE_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace uwsk::nt {

class block_cache;

namespace detail {

// The most block_cache objects a process may create (ids are never reused).
inline constexpr std::size_t max_block_caches = 64;

// One thread's cache for one block_cache: a stack of free blocks.
struct thread_slot {
  void **blocks = nullptr; // thread_capacity entries, allocated on the thread's first release
  std::uint32_t count = 0;
};

// Every cache of one thread, indexed by block_cache id; freed by its exit handler (rule 2).
struct thread_caches {
  block_cache *owners[max_block_caches] = {};
  thread_slot slots[max_block_caches];
};

void flush_thread_caches(thread_caches *caches);

// The calling thread's caches: created on first use, flushed and deleted at thread exit. The
// initial-exec model makes each access one instruction instead of a call into the dynamic
// linker; libuwsk is loaded with the program (or its drivers), and these few bytes fit the
// static TLS reserve even when a program loads it with dlopen.
inline thread_local thread_caches *t_caches [[gnu::tls_model("initial-exec")]] = nullptr;
inline thread_local bool t_exited [[gnu::tls_model("initial-exec")]] = false;

struct thread_caches_owner {
  thread_caches *caches = nullptr;
  ~thread_caches_owner() {
    t_exited = true;
    t_caches = nullptr;
    flush_thread_caches(caches);
  }
};
inline thread_local thread_caches_owner t_owner;

// The calling thread's caches, or nullptr once its exit handler ran (or memory ran out).
inline thread_caches *current_thread_caches() {
  thread_caches *caches = t_caches;
  if (caches != nullptr || t_exited) {
    return caches;
  }
  caches = new (std::nothrow) thread_caches;
  if (caches != nullptr) {
    t_owner.caches = caches; // first use of t_owner registers its exit handler
    t_caches = caches;
  }
  return caches;
}

inline std::atomic<std::size_t> next_block_cache_id{0};

} // namespace detail

class block_cache {
public:
  struct options {
    std::size_t size = 0;             // bytes per block (rounded up to the alignment)
    std::size_t alignment = 16;       // a power of two
    std::size_t thread_capacity = 64; // blocks one thread keeps
    std::size_t shared_capacity = 256;
    std::size_t readable_prefix = 0; // bytes left unpoisoned while cached (rule 3)
    bool page_mapped = false;        // blocks from mmap, page-aligned (rule 5)
  };

  explicit block_cache(const options &o)
      : page_mapped_(o.page_mapped), alignment_(block_alignment(o)),
        size_(o.page_mapped ? (o.size + alignment_ - 1) & ~(alignment_ - 1) : o.size),
        thread_capacity_(o.thread_capacity), shared_capacity_(o.shared_capacity),
        readable_prefix_(o.readable_prefix < size_ ? o.readable_prefix : size_),
        id_(detail::next_block_cache_id.fetch_add(1, std::memory_order_relaxed)) {
    if (id_ >= detail::max_block_caches) {
      std::fprintf(stderr, "uwsk: more than %zu block caches\n", detail::max_block_caches);
      std::abort();
    }
    shared_ = static_cast<void **>(
        std::calloc(shared_capacity_ != 0 ? shared_capacity_ : 1, sizeof(void *)));
    if (shared_ == nullptr) {
      shared_capacity_ = 0;
    }
  }
  ~block_cache() = delete; // rule 4
  block_cache(const block_cache &) = delete;
  block_cache &operator=(const block_cache &) = delete;

  // A block of block_size() bytes, or nullptr when memory ran out. *recycled (when not null)
  // says whether it was cached before (its contents are then what its last owner left) or is
  // fresh from the C allocator (its contents are undefined).
  void *allocate(bool *recycled = nullptr) {
    void *block = nullptr;
    if (detail::thread_caches *caches = detail::current_thread_caches(); caches != nullptr) {
      detail::thread_slot &slot = caches->slots[id_];
      if (slot.count != 0) {
        block = slot.blocks[--slot.count];
      }
    }
    if (block == nullptr && shared_count_.load(std::memory_order_relaxed) != 0) {
      std::lock_guard guard(shared_lock_);
      if (shared_count_.load(std::memory_order_relaxed) != 0) {
        const std::size_t n = shared_count_.load(std::memory_order_relaxed) - 1;
        block = shared_[n];
        shared_count_.store(n, std::memory_order_relaxed);
      }
    }
    if (block != nullptr) {
      unpoison(block);
      if (recycled != nullptr) {
        *recycled = true;
      }
      return block;
    }
    if (recycled != nullptr) {
      *recycled = false;
    }
    heap_allocations_.fetch_add(1, std::memory_order_relaxed);
    return allocate_fresh();
  }

  // Gives back a block from allocate(), on any thread.
  void release(void *block) {
    if (detail::thread_caches *caches = detail::current_thread_caches(); caches != nullptr) {
      detail::thread_slot &slot = caches->slots[id_];
      if (slot.blocks == nullptr && thread_capacity_ != 0) {
        slot.blocks = static_cast<void **>(std::malloc(thread_capacity_ * sizeof(void *)));
        caches->owners[id_] = this;
      }
      if (slot.blocks != nullptr && slot.count < thread_capacity_) {
        poison(block);
        slot.blocks[slot.count++] = block;
        return;
      }
    }
    release_shared(block);
  }

  // Frees cached blocks until the calling thread's cache holds at most `thread_keep` and the
  // shared list at most `shared_keep` (rule 5).
  void trim(std::size_t thread_keep, std::size_t shared_keep) {
    if (detail::thread_caches *caches = detail::t_caches; caches != nullptr) {
      detail::thread_slot &slot = caches->slots[id_];
      while (slot.count > thread_keep) {
        free_fresh(slot.blocks[--slot.count]);
      }
    }
    while (shared_count_.load(std::memory_order_relaxed) > shared_keep) {
      void *block = nullptr;
      {
        std::lock_guard guard(shared_lock_);
        const std::size_t n = shared_count_.load(std::memory_order_relaxed);
        if (n <= shared_keep) {
          break;
        }
        block = shared_[n - 1];
        shared_count_.store(n - 1, std::memory_order_relaxed);
      }
      free_fresh(block); // outside the lock: munmap is a system call
    }
  }

  std::size_t block_size() const { return size_; }
  // For tests and statistics.
  std::size_t cached_in_this_thread() const {
    const detail::thread_caches *caches = detail::t_caches;
    return caches != nullptr ? caches->slots[id_].count : 0;
  }
  std::size_t cached_shared() const { return shared_count_.load(std::memory_order_relaxed); }
  std::size_t heap_allocations() const { return heap_allocations_.load(std::memory_order_relaxed); }

private:
  friend void detail::flush_thread_caches(detail::thread_caches *caches);

  void release_shared(void *block) {
    {
      std::lock_guard guard(shared_lock_);
      const std::size_t n = shared_count_.load(std::memory_order_relaxed);
      if (n < shared_capacity_) {
        poison(block);
        shared_[n] = block;
        shared_count_.store(n + 1, std::memory_order_relaxed);
        return;
      }
    }
    free_fresh(block);
  }

  static std::size_t block_alignment(const options &o) {
    if (!o.page_mapped) {
      return o.alignment;
    }
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return o.alignment > page ? o.alignment : page;
  }

  // A block from the system (rule 5), or nullptr.
  void *allocate_fresh() const {
    if (!page_mapped_) {
      // posix_memalign, not aligned_alloc: the size need not be a multiple of the alignment.
      void *block = nullptr;
      return ::posix_memalign(&block, alignment_, size_) == 0 ? block : nullptr;
    }
    void *block =
        ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return block != MAP_FAILED ? block : nullptr;
  }
  void free_fresh(void *block) const {
    unpoison(block);
    if (page_mapped_) {
      ::munmap(block, size_);
    } else {
      std::free(block);
    }
  }

  void poison([[maybe_unused]] void *block) const {
#if defined(UWSK_CACHE_ASAN)
    ASAN_POISON_MEMORY_REGION(static_cast<char *>(block) + readable_prefix_,
                              size_ - readable_prefix_);
#endif
  }
  void unpoison([[maybe_unused]] void *block) const {
#if defined(UWSK_CACHE_ASAN)
    ASAN_UNPOISON_MEMORY_REGION(block, size_);
#endif
  }

  const bool page_mapped_;
  const std::size_t alignment_;
  const std::size_t size_;
  const std::size_t thread_capacity_;
  std::size_t shared_capacity_;
  const std::size_t readable_prefix_;
  const std::size_t id_;
  std::mutex shared_lock_;
  void **shared_ = nullptr;                  // shared_capacity_ entries, guarded by shared_lock_
  std::atomic<std::size_t> shared_count_{0}; // written under shared_lock_; read as a hint
  std::atomic<std::size_t> heap_allocations_{0};
};

// The size classes of an allocator: one block_cache per size in sizes[0..count), each made with
// the options `o` but its own size, into made[0..count). They live for the process (rule 4).
inline void make_block_caches(const std::size_t *sizes, std::size_t count, block_cache::options o,
                              block_cache **made) {
  for (std::size_t i = 0; i < count; ++i) {
    o.size = sizes[i];
    made[i] = new block_cache(o);
  }
}

namespace detail {

inline void flush_thread_caches(thread_caches *caches) {
  if (caches == nullptr) {
    return;
  }
  for (std::size_t id = 0; id < max_block_caches; ++id) {
    thread_slot &slot = caches->slots[id];
    block_cache *owner = caches->owners[id];
    if (owner != nullptr) {
      while (slot.count != 0) {
        void *block = slot.blocks[--slot.count];
        owner->unpoison(block);
        owner->release_shared(block);
      }
    }
    std::free(slot.blocks);
  }
  delete caches;
}

} // namespace detail

} // namespace uwsk::nt

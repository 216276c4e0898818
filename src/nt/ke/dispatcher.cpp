// The dispatcher lock, waiter satisfaction and timeouts (see dispatcher.hpp).
#include <wdm.h>

#include <unistd.h>

#include <chrono>
#include <ctime>

#include <cstdint>
#include <cstdio>

#include "nt/bugcheck.hpp"
#include "nt/ex/futex.hpp"
#include "nt/ke/dispatcher.hpp"
#include "nt/ke/time.hpp"
#include "nt/ke/violations.hpp"

namespace uwsk::nt {
namespace {

bool is_waitable_type(UCHAR type) {
  switch (type) {
  case EventNotificationObject:
  case EventSynchronizationObject:
  case MutantObject:
  case ProcessObject:
  case SemaphoreObject:
  case ThreadObject:
  case GateObject:
  case TimerNotificationObject:
  case TimerSynchronizationObject:
    return true;
  default:
    return false;
  }
}

} // namespace

bool is_signalled_for(const DISPATCHER_HEADER *header, const _KTHREAD *thread) {
  if (header_type(header) == MutantObject) {
    return signal_state(header) > 0 ||
           reinterpret_cast<const KMUTANT *>(header)->OwnerThread == thread;
  }
  return signal_state(header) > 0;
}

bool consume(DISPATCHER_HEADER *header, _KTHREAD *thread) {
  switch (header_type(header)) {
  case EventSynchronizationObject:
  case TimerSynchronizationObject:
  case GateObject:
    set_signal_state(header, 0);
    return false;
  case SemaphoreObject:
    set_signal_state(header, signal_state(header) - 1);
    return false;
  case MutantObject: {
    auto *mutant = reinterpret_cast<KMUTANT *>(header);
    LONG state = signal_state(header) - 1;
    set_signal_state(header, state);
    if (state == 0) {
      mutant->OwnerThread = thread;
      list_insert_tail(&thread->owned_mutants, &mutant->MutantListEntry);
      bool abandoned = mutant->Abandoned != FALSE;
      mutant->Abandoned = FALSE;
      return abandoned;
    }
    return false;
  }
  default:
    return false;
  }
}

namespace {

// Ends `thread`'s wait with `status`: unlinks its wait blocks, releases the events other than
// `signalling` that it leaves without waiters (dispatcher.hpp rule 6), and wakes it.
void complete_wait(_KTHREAD *thread, NTSTATUS status, const DISPATCHER_HEADER *signalling) {
  for (ULONG i = 0; i < thread->wait_count; ++i) {
    list_remove(&thread->wait_blocks[i].WaitListEntry);
  }
  PVOID objects[MAXIMUM_WAIT_OBJECTS];
  for (ULONG i = 0; i < thread->wait_count; ++i) {
    objects[i] = thread->wait_blocks[i].Object;
  }
  release_events(thread->wait_count, objects, signalling);
  thread->wait_satisfied = true;
  thread->wait_status = status;
  thread->wake_word.fetch_add(1, std::memory_order_relaxed); // under the lock, as its reader
  if (thread->sleeping) {
    // Woken while the lock is held: the thread object stays alive until the waiter locks again.
    futex_wake(&thread->wake_word, 1);
  }
  if (thread->assisting && thread != &current_thread()->Tcb) {
    // The thread runs a wait helper (wait_assist.hpp), which polls this descriptor.
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = write(thread->assist_fd, &one, sizeof(one));
  }
}

// Satisfies a WaitAll of `thread` if every object is signalled for it; `signalling` is the
// object being signalled.
bool try_satisfy_wait_all(_KTHREAD *thread, const DISPATCHER_HEADER *signalling) {
  for (ULONG i = 0; i < thread->wait_count; ++i) {
    if (!is_signalled_for(static_cast<DISPATCHER_HEADER *>(thread->wait_blocks[i].Object),
                          thread)) {
      return false;
    }
  }
  bool abandoned = false;
  for (ULONG i = 0; i < thread->wait_count; ++i) {
    abandoned |= consume(static_cast<DISPATCHER_HEADER *>(thread->wait_blocks[i].Object), thread);
  }
  complete_wait(thread, abandoned ? STATUS_ABANDONED_WAIT_0 : STATUS_WAIT_0, signalling);
  return true;
}

} // namespace

futex_lock &dispatcher_lock() {
  // Never destroyed: threads still running at exit may take it.
  static auto *lock = new futex_lock;
  return *lock;
}

namespace {

timespec to_timespec(std::chrono::nanoseconds since_epoch) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(seconds.count());
  ts.tv_nsec = static_cast<long>((since_epoch - seconds).count());
  if (ts.tv_nsec < 0) {
    ts.tv_sec -= 1;
    ts.tv_nsec += 1000000000L;
  }
  return ts;
}

} // namespace

bool sleep_once(_KTHREAD *thread, std::unique_lock<futex_lock> &lock,
                const wait_deadline &deadline) {
  const std::uint32_t seen = thread->wake_word.load(std::memory_order_relaxed);
  thread->sleeping = true;
  lock.unlock();
  // The deadline as an absolute time on its own clock: the system clock is CLOCK_REALTIME, the
  // steady clock CLOCK_MONOTONIC (on Linux).
  timespec at{};
  if (!deadline.infinite) {
    at = to_timespec(deadline.absolute ? deadline.system.time_since_epoch()
                                       : deadline.steady.time_since_epoch());
  }
  // Returns at once when complete_wait bumped the word since `seen` was read.
  const bool in_time = futex_wait_until(&thread->wake_word, seen, deadline.infinite ? nullptr : &at,
                                        deadline.absolute);
  lock.lock();
  thread->sleeping = false;
  return in_time;
}

void init_dispatcher_header(DISPATCHER_HEADER *header, UCHAR type, size_t object_size, LONG state) {
  header->Lock = 0; // Signalling and Reserved1 (the event's flag) too
  header->Type = type;
  header->Size = static_cast<UCHAR>(object_size / sizeof(LONG));
  __atomic_store_n(&header->SignalState, state, __ATOMIC_RELAXED);
  list_init(&header->WaitListHead);
}

LONG hold_event(DISPATCHER_HEADER *header) {
  if (!is_event_type(header_type(header))) {
    return signal_state(header);
  }
  return word_state(__atomic_fetch_or(event_word(header), event_held, __ATOMIC_ACQ_REL));
}

void release_event(DISPATCHER_HEADER *header) {
  if (is_event_type(header_type(header)) && list_empty(&header->WaitListHead)) {
    __atomic_fetch_and(event_word(header), ~event_held, __ATOMIC_RELEASE);
  }
}

void release_events(ULONG count, PVOID const *objects, const DISPATCHER_HEADER *except) {
  for (ULONG i = 0; i < count; ++i) {
    auto *header = static_cast<DISPATCHER_HEADER *>(objects[i]);
    bool seen = header == except;
    for (ULONG j = 0; j < i && !seen; ++j) {
      seen = objects[j] == objects[i];
    }
    if (!seen) {
      release_event(header); // each event once: its release is the last access (rule 1)
    }
  }
}

void check_dispatcher_object(const DISPATCHER_HEADER *header, const char *what,
                             const void *caller) {
  const bool aligned = (reinterpret_cast<std::uintptr_t>(header) & 7) == 0;
  if (header != nullptr && aligned && is_waitable_type(header_type(header)) &&
      header->WaitListHead.Flink != nullptr && header->WaitListHead.Blink != nullptr) {
    return;
  }
  char reason[200];
  if (header != nullptr && !aligned) {
    std::snprintf(reason, sizeof reason,
                  "%s: dispatcher object %p is not 8-byte aligned (x64 kernel objects must be)",
                  what, static_cast<const void *>(header));
  } else {
    std::snprintf(reason, sizeof reason,
                  "%s: %p is not an initialised dispatcher object (event, mutex, semaphore, "
                  "timer or thread); was KeInitializeXxx called?",
                  what, static_cast<const void *>(header));
  }
  bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::not_a_dispatcher_object,
           reinterpret_cast<ULONG_PTR>(header), 0, reinterpret_cast<ULONG_PTR>(caller));
}

void signal_waiters(DISPATCHER_HEADER *header) {
  // Each satisfied waiter unlinks its blocks, so restarting from the head after one costs
  // nothing for the satisfied ones; only WaitAll waiters that are still blocked are seen again.
  bool progressed = true;
  while (progressed) {
    progressed = false;
    for (PLIST_ENTRY entry = header->WaitListHead.Flink; entry != &header->WaitListHead;
         entry = entry->Flink) {
      if (signal_state(header) <= 0) {
        return;
      }
      auto *block = CONTAINING_RECORD(entry, KWAIT_BLOCK, WaitListEntry);
      _KTHREAD *thread = block->Thread;
      if (block->WaitType == WaitAny) {
        if (is_signalled_for(header, thread)) {
          NTSTATUS base = consume(header, thread) ? STATUS_ABANDONED_WAIT_0 : STATUS_WAIT_0;
          complete_wait(thread, base + block->WaitKey, header);
          progressed = true;
          break;
        }
      } else if (try_satisfy_wait_all(thread, header)) {
        progressed = true;
        break;
      }
    }
  }
}

void abandon_owned_mutants(_KTHREAD *thread) {
  if (thread->owned_mutants.Flink == nullptr) {
    return;
  }
  while (!list_empty(&thread->owned_mutants)) {
    PLIST_ENTRY entry = thread->owned_mutants.Flink;
    list_remove(entry);
    auto *mutant = CONTAINING_RECORD(entry, KMUTANT, MutantListEntry);
    mutant->OwnerThread = nullptr;
    mutant->Abandoned = TRUE;
    set_signal_state(&mutant->Header, 1);
    signal_waiters(&mutant->Header);
  }
}

std::size_t dispatcher_waiter_count(const DISPATCHER_HEADER *header) {
  std::lock_guard lock(dispatcher_lock());
  std::size_t count = 0;
  for (const LIST_ENTRY *entry = header->WaitListHead.Flink; entry != &header->WaitListHead;
       entry = entry->Flink) {
    ++count;
  }
  return count;
}

wait_deadline make_deadline(const LARGE_INTEGER *timeout) {
  // Beyond this a timeout is treated as infinite (chrono arithmetic would overflow).
  constexpr LONGLONG max_relative = 100LL * 365 * 24 * 3600 * 10000000LL;
  wait_deadline deadline;
  if (timeout == nullptr) {
    return deadline;
  }
  LONGLONG value = timeout->QuadPart;
  if (value == 0) {
    deadline.infinite = false;
    deadline.poll = true;
    return deadline;
  }
  if (value < 0) {
    if (value < -max_relative) {
      return deadline;
    }
    deadline.infinite = false;
    deadline.steady = std::chrono::steady_clock::now() + std::chrono::nanoseconds(-value * 100);
    return deadline;
  }
  LONGLONG unix_100ns = value - filetime_unix_epoch;
  if (unix_100ns > max_relative * 2) {
    return deadline;
  }
  deadline.infinite = false;
  deadline.absolute = true;
  deadline.system = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(unix_100ns < 0 ? 0 : unix_100ns * 100)));
  return deadline;
}

} // namespace uwsk::nt

// KeWaitForSingleObject, KeWaitForMultipleObjects and KeDelayExecutionThread.
//
// Alertable waits are accepted but never alerted: uwsk delivers no APCs, so STATUS_ALERTED and
// STATUS_USER_APC are never returned. Every object is resident, so WaitMode changes nothing,
// except that a UserMode wait on an object on the waiting thread's stack is reported (rule V83). A
// wait that may block (Timeout NULL or non-zero) is allowed at IRQL <= APC_LEVEL and a polling wait
// (Timeout 0) at IRQL <= DISPATCH_LEVEL; anything else bug-checks with IRQL_NOT_LESS_OR_EQUAL even
// when the object happens to be signalled, so that the bug shows on every run instead of only when
// the wait would block.
#include <wdm.h>

#include <sys/eventfd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <thread>

#include "nt/bugcheck.hpp"
#include "nt/dbg/activity.hpp"
#include "nt/dbg/thread_stack.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/io/irp_buffers.hpp"
#include "nt/ke/dispatcher.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/violations.hpp"
#include "nt/ke/wait_assist.hpp"

namespace uwsk::nt {
namespace {

std::atomic<wait_assist_function> assist_helper{nullptr};

// wait_assist.hpp rule 4: a wait the helper cannot poll for (several objects, a delay).
void tell_assist_not_polling() {
  if (wait_assist_function helper = assist_helper.load(std::memory_order_acquire);
      helper != nullptr && current_irql() == PASSIVE_LEVEL) {
    helper(nullptr, -1, wait_deadline{});
  }
}

// The thread's wake descriptor for wait helpers, made on first use (-1 when it cannot be).
int assist_wake_fd(_KTHREAD *thread) {
  if (thread->assist_fd < 0) {
    thread->assist_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  return thread->assist_fd;
}

// The IRQL check of a wait (rules V20 and V82): one that may block (`may_block`: a timeout that is
// NULL or not 0) is allowed up to APC_LEVEL, a poll up to DISPATCH_LEVEL. A blocking wait made by
// a completion routine (which runs at DISPATCH_LEVEL) is reported as rule V20, any other as V82;
// both end in IRQL_NOT_LESS_OR_EQUAL, as on Windows.
void require_wait_irql(bool may_block, const char *what, const void *object, const void *caller) {
  const activity::frame *running = activity::current();
  if (may_block && current_irql() > APC_LEVEL && running != nullptr &&
      running->what == activity::completion_routine) {
    char sentence[320];
    std::snprintf(sentence, sizeof sentence,
                  "%s in a completion routine, which may block: completion routines run at "
                  "DISPATCH_LEVEL in whatever thread completed the IRP and must not wait; "
                  "signal an event or queue a work item instead",
                  what);
    char site[256];
    verifier::describe_code_address(caller, site, sizeof site);
    verifier::error_bugcheck(
        20, sentence,
        verifier::objects_text("IRP %p, object %p, waited from %s", running->object, object, site),
        IRQL_NOT_LESS_OR_EQUAL, reinterpret_cast<ULONG_PTR>(object), current_irql(), 0,
        reinterpret_cast<ULONG_PTR>(caller));
  }
  require_irql_at_most(may_block ? APC_LEVEL : DISPATCH_LEVEL, what, object, caller, 82);
}

// A wait on one event without the lock (dispatcher.hpp rule 2): true with `status` set when it
// is done, STATUS_WAIT_0 (a signal taken: a synchronization event {0, 1} -> {0, 0}, a
// notification event seen {0, 1}) or, for a poll, STATUS_TIMEOUT (seen {0, 0}). False when the
// event's flag is set or the object is not an event: the wait takes the lock.
bool wait_event_unlocked(DISPATCHER_HEADER *header, bool poll, NTSTATUS &status) {
  if (!check_event_unlocked(header)) {
    return false;
  }
  std::uint64_t word = __atomic_load_n(event_word(header), __ATOMIC_ACQUIRE);
  while ((word & event_held) == 0) {
    if (word_state(word) <= 0) {
      if (poll) {
        status = STATUS_TIMEOUT;
        return true;
      }
      return false;
    }
    if (word_type(word) == EventNotificationObject ||
        __atomic_compare_exchange_n(event_word(header), &word, word_with_state(word, 0), false,
                                    __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
      status = STATUS_WAIT_0;
      return true;
    }
  }
  return false;
}

NTSTATUS wait_for_objects(ULONG count, PVOID *objects, WAIT_TYPE wait_type,
                          const LARGE_INTEGER *timeout, PKWAIT_BLOCK wait_block_array,
                          const char *what, const void *caller) {
  wait_deadline deadline = make_deadline(timeout);
  require_wait_irql(!deadline.poll, what, count > 0 ? objects[0] : nullptr, caller);
  if (count == 0 || count > MAXIMUM_WAIT_OBJECTS) {
    char reason[160];
    std::snprintf(reason, sizeof reason, "%s: %u objects (1 to MAXIMUM_WAIT_OBJECTS = 64 allowed)",
                  what, count);
    bugcheck(MAXIMUM_WAIT_OBJECTS_EXCEEDED, reason, count, 0, 0,
             reinterpret_cast<ULONG_PTR>(caller));
  }
  if (count > THREAD_WAIT_OBJECTS && wait_block_array == nullptr) {
    char reason[200];
    std::snprintf(reason, sizeof reason,
                  "%s: %u objects need a WaitBlockArray (only THREAD_WAIT_OBJECTS = 3 can use the "
                  "thread's own wait blocks)",
                  what, count);
    bugcheck(MAXIMUM_WAIT_OBJECTS_EXCEEDED, reason, count, 0, 0,
             reinterpret_cast<ULONG_PTR>(caller));
  }
  if (wait_type != WaitAll && wait_type != WaitAny) {
    char reason[120];
    std::snprintf(reason, sizeof reason, "%s: wait type %d is neither WaitAll nor WaitAny", what,
                  static_cast<int>(wait_type));
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::invalid_argument,
             static_cast<ULONG_PTR>(wait_type), 0, reinterpret_cast<ULONG_PTR>(caller));
  }

  // One event nobody waits on: taken, or found not signalled by a poll, without the lock
  // (dispatcher.hpp rule 2); the usual end of a wait for an IRP that completed at once.
  if (count == 1) {
    if (NTSTATUS status = STATUS_PENDING;
        wait_event_unlocked(static_cast<DISPATCHER_HEADER *>(objects[0]), deadline.poll, status)) {
      return status;
    }
  }

  _KTHREAD *thread = &current_thread()->Tcb;
  std::unique_lock lock(dispatcher_lock());
  for (ULONG i = 0; i < count; ++i) {
    check_dispatcher_object(static_cast<DISPATCHER_HEADER *>(objects[i]), what, caller);
  }
  // The lock holds every event's state from here (dispatcher.hpp rule 1): set without the lock
  // since, an event is seen set below; set after, its setter takes the lock.
  for (ULONG i = 0; i < count; ++i) {
    hold_event(static_cast<DISPATCHER_HEADER *>(objects[i]));
  }

  // Already satisfied? (The only possible outcome of a poll.)
  NTSTATUS status = STATUS_PENDING;
  if (wait_type == WaitAny) {
    for (ULONG i = 0; i < count; ++i) {
      auto *header = static_cast<DISPATCHER_HEADER *>(objects[i]);
      if (is_signalled_for(header, thread)) {
        status = (consume(header, thread) ? STATUS_ABANDONED_WAIT_0 : STATUS_WAIT_0) +
                 static_cast<NTSTATUS>(i);
        break;
      }
    }
  } else {
    bool all = true;
    for (ULONG i = 0; i < count && all; ++i) {
      all = is_signalled_for(static_cast<DISPATCHER_HEADER *>(objects[i]), thread);
    }
    if (all) {
      bool abandoned = false;
      for (ULONG i = 0; i < count; ++i) {
        abandoned |= consume(static_cast<DISPATCHER_HEADER *>(objects[i]), thread);
      }
      status = abandoned ? STATUS_ABANDONED_WAIT_0 : STATUS_WAIT_0;
    }
  }
  if (status == STATUS_PENDING && deadline.poll) {
    status = STATUS_TIMEOUT;
  }
  if (status != STATUS_PENDING) {
    release_events(count, objects, nullptr);
    return status;
  }

  // Block: one wait block per object, linked into the object's wait list.
  PKWAIT_BLOCK blocks =
      wait_block_array != nullptr ? wait_block_array : thread->builtin_wait_blocks;
  for (ULONG i = 0; i < count; ++i) {
    blocks[i].WaitType = static_cast<UCHAR>(wait_type);
    blocks[i].BlockState = 0;
    blocks[i].WaitKey = static_cast<USHORT>(i);
    blocks[i].SpareLong = 0;
    blocks[i].Thread = thread;
    blocks[i].Object = objects[i];
    blocks[i].SparePtr = nullptr;
    list_insert_tail(&static_cast<DISPATCHER_HEADER *>(objects[i])->WaitListHead,
                     &blocks[i].WaitListEntry);
  }
  thread->wait_blocks = blocks;
  thread->wait_count = count;
  thread->wait_satisfied = false;

  // A wait on one object may be helped along by the thread itself (wait_assist.hpp).
  if (wait_assist_function helper = assist_helper.load(std::memory_order_acquire);
      helper != nullptr && count == 1 && current_irql() == PASSIVE_LEVEL) {
    if (const int wake_fd = assist_wake_fd(thread); wake_fd >= 0) {
      thread->assisting = true;
      lock.unlock();
      helper(objects[0], wake_fd, deadline);
      lock.lock();
      thread->assisting = false;
    }
  }

  bool satisfied = sleep_until(thread, lock, deadline, [thread] { return thread->wait_satisfied; });
  if (!satisfied) {
    // Timed out: unlinked here, and each event left without waiters released (rule 6). A
    // satisfied wait was unlinked and released by its signaller.
    for (ULONG i = 0; i < count; ++i) {
      list_remove(&blocks[i].WaitListEntry);
    }
    release_events(count, objects, nullptr);
  }
  thread->wait_blocks = nullptr;
  thread->wait_count = 0;
  return satisfied ? thread->wait_status : STATUS_TIMEOUT;
}

// Rule V83: a UserMode wait lets Windows page out the waiting thread's stack, so the objects
// waited on must not live there.
void check_wait_mode(ULONG count, PVOID objects[], KPROCESSOR_MODE mode, const char *function) {
  if (mode != UserMode) {
    return;
  }
  for (ULONG i = 0; i < count; ++i) {
    if (on_thread_stack(objects[i])) {
      verifier::warning(83,
                        "a UserMode wait on an object on the waiting thread's stack: the stack "
                        "may be paged out during the wait; wait in KernelMode",
                        verifier::objects_text("%s, object %p", function, objects[i]),
                        reinterpret_cast<ULONG_PTR>(objects[i]));
      return;
    }
  }
}

// Rule V50: an event callback must not wait (for other WSK requests or anything else), even at
// PASSIVE_LEVEL: the callback holds up every indication of its socket meanwhile, and on Windows
// it may run at DISPATCH_LEVEL. A zero timeout is a poll, not a wait.
void check_callback_wait(const LARGE_INTEGER *timeout, const char *function, const void *object) {
  if (timeout != nullptr && timeout->QuadPart == 0) {
    return;
  }
  const activity::frame *callback = activity::event_callback();
  if (callback == nullptr) {
    return;
  }
  char described[224];
  activity::describe_object(callback->object, described, sizeof described);
  char sentence[320];
  std::snprintf(sentence, sizeof sentence,
                "%s with %s timeout inside the %s: event callbacks must not wait, not even at "
                "PASSIVE_LEVEL",
                function, timeout == nullptr ? "no (an infinite)" : "a non-zero", callback->what);
  verifier::error(50, sentence,
                  verifier::objects_text("object %p; the callback's %s", object, described),
                  reinterpret_cast<ULONG_PTR>(object));
}

} // namespace

void set_wait_assist(wait_assist_function helper) {
  assist_helper.store(helper, std::memory_order_release);
}

} // namespace uwsk::nt

// Deliberate pair (duplicates): the end of the internal namespace and the first export, alike
// in shape only to io/remove_lock.cpp's.
using namespace uwsk::nt;

// KeWaitForSingleObject: waits until the object is signalled or the timeout expires.
extern "C" NTSTATUS NTAPI KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason,
                                                KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                                PLARGE_INTEGER Timeout) {
  (void)WaitReason;
  (void)Alertable;
  check_callback_wait(Timeout, "KeWaitForSingleObject", Object);
  check_wait_mode(1, &Object, WaitMode, "KeWaitForSingleObject");
  irp_buffers::check_stack(__builtin_frame_address(0), "KeWaitForSingleObject"); // rule V18
  return wait_for_objects(1, &Object, WaitAny, Timeout, nullptr, "KeWaitForSingleObject",
                          __builtin_return_address(0));
}

// KeWaitForMultipleObjects: waits until any (WaitAny) or all (WaitAll) objects are signalled.
extern "C" NTSTATUS NTAPI KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType,
                                                   KWAIT_REASON WaitReason,
                                                   KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                                   PLARGE_INTEGER Timeout,
                                                   PKWAIT_BLOCK WaitBlockArray) {
  (void)WaitReason;
  (void)Alertable;
  check_callback_wait(Timeout, "KeWaitForMultipleObjects", Count != 0 ? Object[0] : nullptr);
  check_wait_mode(Count, Object, WaitMode, "KeWaitForMultipleObjects");
  irp_buffers::check_stack(__builtin_frame_address(0), "KeWaitForMultipleObjects"); // rule V18
  if (Count > 1) {
    tell_assist_not_polling();
  }
  return wait_for_objects(Count, Object, WaitType, Timeout, WaitBlockArray,
                          "KeWaitForMultipleObjects", __builtin_return_address(0));
}

// KeDelayExecutionThread: sleeps for a relative (negative) or until an absolute (positive)
// time. Never alerted (uwsk delivers no APCs), so it always returns STATUS_SUCCESS.
extern "C" NTSTATUS NTAPI KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable,
                                                 PLARGE_INTEGER Interval) {
  (void)WaitMode;
  (void)Alertable;
  irp_buffers::check_stack(__builtin_frame_address(0), "KeDelayExecutionThread"); // rule V18
  if (Interval == nullptr) {
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, "KeDelayExecutionThread: Interval is NULL",
             ke_violation::invalid_argument, 0, 0,
             reinterpret_cast<ULONG_PTR>(__builtin_return_address(0)));
  }
  wait_deadline deadline = make_deadline(Interval);
  require_wait_irql(!deadline.poll, "KeDelayExecutionThread", Interval,
                    __builtin_return_address(0));
  tell_assist_not_polling();
  if (deadline.poll) {
    std::this_thread::yield();
  } else if (deadline.infinite) {
    // An interval beyond a century: sleep in day-long steps, forever in practice.
    for (;;) {
      std::this_thread::sleep_for(std::chrono::hours(24));
    }
  } else if (deadline.absolute) {
    std::this_thread::sleep_until(deadline.system);
  } else {
    std::this_thread::sleep_until(deadline.steady);
  }
  return STATUS_SUCCESS;
}

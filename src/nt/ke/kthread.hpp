// The thread and process objects of the emulated kernel.
//
// Every thread that calls the kernel API has a thread object: PsCreateSystemThread makes one
// before the thread starts; any other thread (the loader, I/O loops, test threads, the runtime's
// own workers) gets one the first time it needs it. A thread object is an object-manager object
// (reference counted; see nt/ps/object.hpp) whose DISPATCHER_HEADER makes it waitable: it is
// signalled when the thread ends.
#pragma once

#include <wdm.h>

#include <atomic>
#include <cstdint>
#include <sys/types.h>

namespace uwsk::nt {

enum class thread_kind : unsigned char {
  system,  // created by PsCreateSystemThread for a driver
  runtime, // a uwsk worker, timer/DPC or I/O thread
  other,   // any other thread that called the kernel API (loader, tests)
};

} // namespace uwsk::nt

struct _KTHREAD {
  // First member: KeWaitFor* treats the thread object as a dispatcher object.
  DISPATCHER_HEADER Header;

  // The current wait, guarded by the dispatcher lock. A signaller that satisfies the wait sets
  // wait_satisfied and wait_status, unlinks the wait blocks and bumps `wake_word`; when the
  // thread sleeps on that word (`sleeping`), it also wakes it (dispatcher.hpp, sleep_until).
  std::atomic<std::uint32_t> wake_word{0};
  bool sleeping = false;
  bool wait_satisfied = false;
  NTSTATUS wait_status = STATUS_SUCCESS;
  PKWAIT_BLOCK wait_blocks = nullptr;
  ULONG wait_count = 0;
  KWAIT_BLOCK builtin_wait_blocks[THREAD_WAIT_OBJECTS] = {};
  // A wait helper runs on this thread instead of it sleeping (nt/ke/wait_assist.hpp): a
  // signaller that satisfies the wait then also writes `assist_fd` (an eventfd, made on first
  // use, closed with the object), which the helper polls. Guarded by the dispatcher lock.
  bool assisting = false;
  int assist_fd = -1;

  // KMUTANT.MutantListEntry of every mutex this thread owns (guarded by the dispatcher lock);
  // they are abandoned when the thread ends.
  LIST_ENTRY owned_mutants = {};

  // Identity, fixed before the object is published.
  HANDLE id = nullptr; // the thread id drivers see: the Linux tid
  uwsk::nt::thread_kind kind = uwsk::nt::thread_kind::other;
  PKSTART_ROUTINE start_routine = nullptr;
  PVOID start_context = nullptr;

  std::atomic<KPRIORITY> priority{8};
  std::atomic<bool> terminated{false};
  std::atomic<NTSTATUS> exit_status{STATUS_PENDING};
};

struct _ETHREAD {
  _KTHREAD Tcb;
};

struct _KPROCESS {
  DISPATCHER_HEADER Header;
};

struct _EPROCESS {
  _KPROCESS Pcb;
};

namespace uwsk::nt {

// The calling thread's object once it has one (initial-exec: one read relative to the thread
// pointer, where the default model calls __tls_get_addr from a shared library). Read it only
// through current_thread().
extern constinit thread_local _ETHREAD *t_current_thread [[gnu::tls_model("initial-exec")]];

// Makes the calling thread's object: the first current_thread() of a thread uwsk did not start.
_ETHREAD *make_current_thread();

// The calling thread's object, created on first use for threads uwsk did not start.
inline _ETHREAD *current_thread() {
  _ETHREAD *thread = t_current_thread;
  return thread != nullptr ? thread : make_current_thread();
}

// Marks the calling thread as one of the runtime's own (worker, timer/DPC thread) before it
// first needs a thread object, so that it is never reported as a driver thread.
void mark_runtime_thread(const char *log_name);

// The one emulated process ("System") every thread belongs to.
_EPROCESS *system_process();

// The process id drivers see for it (4, the System process id on Windows).
inline HANDLE system_process_id() {
  return reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(4));
}

} // namespace uwsk::nt

// System threads (PsCreateSystemThread, PsTerminateSystemThread), thread and process objects,
// and the thread/process queries.
//
// A system thread is a detached pthread. Its thread object starts with two references (the
// running thread's and the handle's) and is deleted when the thread has ended, the handle is
// closed and every ObReferenceObject* reference is dropped.
//
// PsTerminateSystemThread throws a private C++ exception that only the thread's outermost
// runtime frame catches: the driver's frames unwind (C frames carry unwind tables on x86-64
// Linux), destructors of C++ drivers run, and ASan sees an ordinary unwind. A driver that
// catches everything (catch (...)) without rethrowing would swallow it; kernel code has no C++
// exceptions, so real drivers do not. An exception of the driver's own that escapes the start
// routine bug-checks with SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, as on Windows.
#include <wdm.h>
#include <uwsk/log.h>

#include <condition_variable>
#include <cstdio>
#include <dlfcn.h>
#include <mutex>
#include <pthread.h>
#include <set>
#include <unistd.h>

#include "nt/bugcheck.hpp"
#include "nt/io/irp_buffers.hpp"
#include "nt/ke/dispatcher.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/kthread.hpp"
#include "nt/ps/object.hpp"
#include "nt/ps/thread.hpp"

namespace uwsk::nt {
namespace {

void delete_thread_object(void *body) {
  auto *thread = static_cast<_ETHREAD *>(body);
  if (thread->Tcb.assist_fd >= 0) {
    close(thread->Tcb.assist_fd);
  }
  delete thread;
}

// Constant-initialised, so that PsThreadType is usable from any static initialiser.
_OBJECT_TYPE thread_type_object{"Thread", delete_thread_object};
_OBJECT_TYPE process_type_object{"Process", nullptr};
POBJECT_TYPE thread_type_pointer = &thread_type_object;
POBJECT_TYPE process_type_pointer = &process_type_object;

POBJECT_TYPE thread_type() {
  return &thread_type_object;
}
POBJECT_TYPE process_type() {
  return &process_type_object;
}

// Thrown by PsTerminateSystemThread, caught by system_thread_main only.
struct thread_termination {
  NTSTATUS status;
};

// The live PsCreateSystemThread threads, for describe_live_system_threads.
struct system_thread_registry {
  std::mutex lock;
  std::set<_ETHREAD *> live;
};

system_thread_registry &registry() {
  static auto *r = new system_thread_registry;
  return *r;
}

_ETHREAD *new_thread_object(thread_kind kind) {
  auto *thread = new _ETHREAD;
  init_dispatcher_header(&thread->Tcb.Header, ThreadObject, sizeof(DISPATCHER_HEADER), 0);
  list_init(&thread->Tcb.owned_mutants);
  thread->Tcb.kind = kind;
  return thread;
}

// Ends a thread object's thread: abandons its mutexes and signals the object.
void finish_thread(_ETHREAD *thread, NTSTATUS status) {
  thread->Tcb.exit_status.store(status);
  thread->Tcb.terminated.store(true);
  std::lock_guard lock(dispatcher_lock());
  abandon_owned_mutants(&thread->Tcb);
  set_signal_state(&thread->Tcb.Header, 1);
  signal_waiters(&thread->Tcb.Header);
}

thread_local bool t_runtime_thread [[gnu::tls_model("initial-exec")]] = false;

// Holds the reference of an object made for a thread uwsk did not start, and ends the object
// when that thread exits. Only make_current_thread touches it, so only such threads register
// its destructor; everyone reads the object through t_current_thread.
struct adopted_thread_slot {
  ~adopted_thread_slot() {
    if (t_current_thread != nullptr) {
      _ETHREAD *ending = t_current_thread;
      t_current_thread = nullptr;
      finish_thread(ending, STATUS_SUCCESS);
      ob_dereference(ending, nullptr);
    }
  }
  void adopt(_ETHREAD *thread) { t_current_thread = thread; }
};

thread_local adopted_thread_slot t_adopted;

void *system_thread_main(void *arg) {
  auto *thread = static_cast<_ETHREAD *>(arg);
  t_current_thread = thread;
  set_current_irql(PASSIVE_LEVEL);
  char name[32];
  std::snprintf(name, sizeof name, "sys%lld", static_cast<long long>(gettid()));
  uwsk_log_set_thread_name(name);

  NTSTATUS status = STATUS_SUCCESS;
  try {
    thread->Tcb.start_routine(thread->Tcb.start_context);
  } catch (const thread_termination &termination) {
    status = termination.status;
  } catch (...) {
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "a C++ exception escaped the start routine %p of system thread %p",
                  reinterpret_cast<void *>(thread->Tcb.start_routine), static_cast<void *>(thread));
    bugcheck(SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, reason, 0,
             reinterpret_cast<ULONG_PTR>(thread->Tcb.start_routine), 0, 0);
  }
  // Rule V18: every frame of the start routine has returned; none may hold a pending buffer.
  irp_buffers::check_stack(__builtin_frame_address(0), "the end of the system thread");

  {
    system_thread_registry &r = registry();
    std::lock_guard lock(r.lock);
    r.live.erase(thread);
  }
  t_current_thread = nullptr;
  finish_thread(thread, status);
  uwsk_log_flush_thread();
  ob_dereference(thread, nullptr);
  return nullptr;
}

std::string describe_address(const void *address) {
  Dl_info info{};
  char text[256];
  if (dladdr(address, &info) != 0 && info.dli_sname != nullptr) {
    std::snprintf(text, sizeof text, "%s+0x%llx (%s)", info.dli_sname,
                  static_cast<unsigned long long>(static_cast<const char *>(address) -
                                                  static_cast<const char *>(info.dli_saddr)),
                  info.dli_fname != nullptr ? info.dli_fname : "?");
  } else if (info.dli_fname != nullptr) {
    std::snprintf(text, sizeof text, "%p (%s)", address, info.dli_fname);
  } else {
    std::snprintf(text, sizeof text, "%p", address);
  }
  return text;
}

} // namespace

constinit thread_local _ETHREAD *t_current_thread [[gnu::tls_model("initial-exec")]] = nullptr;

_ETHREAD *make_current_thread() {
  _ETHREAD *thread =
      new_thread_object(t_runtime_thread ? thread_kind::runtime : thread_kind::other);
  thread->Tcb.id = reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(gettid()));
  ob_insert_object(thread, thread_type(), 1);
  t_adopted.adopt(thread);
  return thread;
}

void mark_runtime_thread(const char *log_name) {
  t_runtime_thread = true;
  if (t_current_thread != nullptr) {
    t_current_thread->Tcb.kind = thread_kind::runtime;
  }
  uwsk_log_set_thread_name(log_name);
}

_EPROCESS *system_process() {
  static _EPROCESS *process = [] {
    auto *p = new _EPROCESS;
    // The System process never ends: its object is never signalled and never deleted.
    init_dispatcher_header(&p->Pcb.Header, ProcessObject, sizeof(DISPATCHER_HEADER), 0);
    ob_insert_object(p, process_type(), 1);
    return p;
  }();
  return process;
}

std::vector<std::string> describe_live_system_threads() {
  system_thread_registry &r = registry();
  std::lock_guard lock(r.lock);
  std::vector<std::string> lines;
  for (_ETHREAD *thread : r.live) {
    char line[400];
    std::snprintf(
        line, sizeof line, "system thread %llu (object %p): start routine %s, context %p",
        static_cast<unsigned long long>(reinterpret_cast<ULONG_PTR>(thread->Tcb.id)),
        static_cast<void *>(thread),
        describe_address(reinterpret_cast<const void *>(thread->Tcb.start_routine)).c_str(),
        thread->Tcb.start_context);
    lines.emplace_back(line);
  }
  return lines;
}

std::size_t live_system_thread_count() {
  system_thread_registry &r = registry();
  std::lock_guard lock(r.lock);
  return r.live.size();
}

} // namespace uwsk::nt

using namespace uwsk::nt;

extern "C" {
POBJECT_TYPE *PsThreadType = &thread_type_pointer;
POBJECT_TYPE *PsProcessType = &process_type_pointer;
}

// PsCreateSystemThread: starts StartRoutine(StartContext) on a new thread at PASSIVE_LEVEL and
// returns a handle to its thread object.
extern "C" NTSTATUS NTAPI PsCreateSystemThread(PHANDLE ThreadHandle, ULONG DesiredAccess,
                                               POBJECT_ATTRIBUTES ObjectAttributes,
                                               HANDLE ProcessHandle, PCLIENT_ID ClientId,
                                               PKSTART_ROUTINE StartRoutine, PVOID StartContext) {
  (void)DesiredAccess;
  (void)ObjectAttributes;
  (void)ProcessHandle;
  require_irql_at_most(PASSIVE_LEVEL, "PsCreateSystemThread",
                       reinterpret_cast<void *>(StartRoutine), __builtin_return_address(0));
  if (ThreadHandle == nullptr || StartRoutine == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  *ThreadHandle = nullptr;
  _ETHREAD *thread = new_thread_object(thread_kind::system);
  thread->Tcb.start_routine = StartRoutine;
  thread->Tcb.start_context = StartContext;
  thread->Tcb.priority.store(8);
  // One reference for the running thread; ob_open_handle adds the handle's.
  ob_insert_object(thread, thread_type(), 1);
  HANDLE handle = ob_open_handle(thread);
  if (handle == nullptr) {
    ob_dereference(thread, nullptr);
    return STATUS_INSUFFICIENT_RESOURCES;
  }

  // The id is the new thread's Linux tid; the creator needs it for ClientId, so the thread
  // reports it before running the start routine.
  struct start_block {
    _ETHREAD *thread;
    std::mutex lock;
    std::condition_variable cv;
    bool started = false;
  } start{thread, {}, {}, false};

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  {
    system_thread_registry &r = registry();
    std::lock_guard lock(r.lock);
    r.live.insert(thread);
  }
  pthread_t pthread;
  int rc = pthread_create(
      &pthread, &attr,
      [](void *arg) -> void * {
        auto *block = static_cast<start_block *>(arg);
        _ETHREAD *self = block->thread;
        self->Tcb.id = reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(gettid()));
        {
          std::lock_guard lock(block->lock);
          block->started = true;
          block->cv.notify_one();
        }
        return system_thread_main(self);
      },
      &start);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    {
      system_thread_registry &r = registry();
      std::lock_guard lock(r.lock);
      r.live.erase(thread);
    }
    ZwClose(handle);
    ob_dereference(thread, nullptr);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  {
    std::unique_lock lock(start.lock);
    start.cv.wait(lock, [&start] { return start.started; });
  }
  if (ClientId != nullptr) {
    ClientId->UniqueProcess = system_process_id();
    ClientId->UniqueThread = thread->Tcb.id;
  }
  *ThreadHandle = handle;
  return STATUS_SUCCESS;
}

// PsTerminateSystemThread: ends the calling system thread with ExitStatus; does not return.
// On a thread PsCreateSystemThread did not create it returns STATUS_INVALID_PARAMETER.
extern "C" NTSTATUS NTAPI PsTerminateSystemThread(NTSTATUS ExitStatus) {
  _ETHREAD *thread = current_thread();
  if (thread->Tcb.kind != thread_kind::system) {
    return STATUS_INVALID_PARAMETER;
  }
  require_irql_at_most(PASSIVE_LEVEL, "PsTerminateSystemThread", thread,
                       __builtin_return_address(0));
  throw thread_termination{ExitStatus};
}

// KeGetCurrentThread: the calling thread's kernel thread object.
extern "C" PKTHREAD NTAPI KeGetCurrentThread(VOID) {
  return &current_thread()->Tcb;
}

// PsGetCurrentThread: the calling thread's executive thread object (same address).
extern "C" PETHREAD NTAPI PsGetCurrentThread(VOID) {
  return current_thread();
}

// PsGetCurrentThreadId: the calling thread's id (its Linux tid).
extern "C" HANDLE NTAPI PsGetCurrentThreadId(VOID) {
  return current_thread()->Tcb.id;
}

// PsGetCurrentProcess: the System process every uwsk thread belongs to.
extern "C" PEPROCESS NTAPI PsGetCurrentProcess(VOID) {
  return system_process();
}

// IoGetCurrentProcess: as PsGetCurrentProcess.
extern "C" PEPROCESS NTAPI IoGetCurrentProcess(VOID) {
  return system_process();
}

// PsGetCurrentProcessId: 4, the id of the System process.
extern "C" HANDLE NTAPI PsGetCurrentProcessId(VOID) {
  return system_process_id();
}

// PsGetThreadId: a thread's id.
extern "C" HANDLE NTAPI PsGetThreadId(PETHREAD Thread) {
  return Thread->Tcb.id;
}

// PsGetThreadProcessId: the id of a thread's process (the System process).
extern "C" HANDLE NTAPI PsGetThreadProcessId(PETHREAD Thread) {
  (void)Thread;
  return system_process_id();
}

// PsGetProcessId: a process's id.
extern "C" HANDLE NTAPI PsGetProcessId(PEPROCESS Process) {
  (void)Process;
  return system_process_id();
}

// PsGetThreadProcess: a thread's process (the System process).
extern "C" PEPROCESS NTAPI PsGetThreadProcess(PETHREAD Thread) {
  (void)Thread;
  return system_process();
}

// PsIsSystemThread: TRUE; every uwsk thread is a kernel thread of the System process.
extern "C" BOOLEAN NTAPI PsIsSystemThread(PETHREAD Thread) {
  return Thread != nullptr;
}

// PsIsThreadTerminating: TRUE once the thread has ended.
extern "C" BOOLEAN NTAPI PsIsThreadTerminating(PETHREAD Thread) {
  return Thread->Tcb.terminated.load() ? TRUE : FALSE;
}

// PsGetThreadExitStatus: the status the thread ended with; STATUS_PENDING while it runs.
extern "C" NTSTATUS NTAPI PsGetThreadExitStatus(PETHREAD Thread) {
  return Thread->Tcb.exit_status.load();
}

// KeSetPriorityThread: records a new priority (not applied) and returns the old one.
extern "C" KPRIORITY NTAPI KeSetPriorityThread(PKTHREAD Thread, KPRIORITY Priority) {
  return Thread->priority.exchange(Priority);
}

// KeQueryPriorityThread: the recorded priority (8 unless set).
extern "C" KPRIORITY NTAPI KeQueryPriorityThread(PKTHREAD Thread) {
  return Thread->priority.load();
}

// KeSetBasePriorityThread: records priority 8 + Increment; returns the previous increment.
extern "C" LONG NTAPI KeSetBasePriorityThread(PKTHREAD Thread, LONG Increment) {
  return Thread->priority.exchange(8 + Increment) - 8;
}

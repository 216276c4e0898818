// KeBugCheckEx: the report Windows would show on the blue screen, then the end of the process.
//
// The report goes to the log sink and to stderr (once, when the log is stderr): the bugcheck
// name and code, the four parameters, the thread, its simulated IRQL and the stack resolved to
// function and file:line (symbols.hpp). The process then ends with abort() (SIGABRT, shell
// status 134), which stops a debugger at the scene and is what death tests expect. A second
// bugcheck on another thread while the first is reporting waits for the process to end, so that one
// report is written, whole.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <execinfo.h>
#include <string>
#include <unistd.h>

#include <wdm.h>

#include "nt/dbg/dbg.hpp"
#include "nt/dbg/log.hpp"
#include "nt/dbg/trace.hpp"
#include "nt/dbg/symbols.hpp"
#include "nt/ke/irql.hpp"

namespace uwsk::nt {
namespace {

// Deliberate pair (duplicates): a code-to-name table, alike in shape only to status_names.cpp's.
struct BugcheckName {
  ULONG code;
  const char *name;
};

constexpr BugcheckName bugcheck_names[] = {
    {APC_INDEX_MISMATCH, "APC_INDEX_MISMATCH"},
    {INVALID_AFFINITY_SET, "INVALID_AFFINITY_SET"},
    {INVALID_DATA_ACCESS_TRAP, "INVALID_DATA_ACCESS_TRAP"},
    {INVALID_PROCESS_ATTACH_ATTEMPT, "INVALID_PROCESS_ATTACH_ATTEMPT"},
    {INVALID_PROCESS_DETACH_ATTEMPT, "INVALID_PROCESS_DETACH_ATTEMPT"},
    {INVALID_SOFTWARE_INTERRUPT, "INVALID_SOFTWARE_INTERRUPT"},
    {IRQL_NOT_DISPATCH_LEVEL, "IRQL_NOT_DISPATCH_LEVEL"},
    {IRQL_NOT_GREATER_OR_EQUAL, "IRQL_NOT_GREATER_OR_EQUAL"},
    {IRQL_NOT_LESS_OR_EQUAL, "IRQL_NOT_LESS_OR_EQUAL"},
    {NO_EXCEPTION_HANDLING_SUPPORT, "NO_EXCEPTION_HANDLING_SUPPORT"},
    {MAXIMUM_WAIT_OBJECTS_EXCEEDED, "MAXIMUM_WAIT_OBJECTS_EXCEEDED"},
    {MUTEX_LEVEL_NUMBER_VIOLATION, "MUTEX_LEVEL_NUMBER_VIOLATION"},
    {NO_USER_MODE_CONTEXT, "NO_USER_MODE_CONTEXT"},
    {SPIN_LOCK_ALREADY_OWNED, "SPIN_LOCK_ALREADY_OWNED"},
    {SPIN_LOCK_NOT_OWNED, "SPIN_LOCK_NOT_OWNED"},
    {THREAD_NOT_MUTEX_OWNER, "THREAD_NOT_MUTEX_OWNER"},
    {TRAP_CAUSE_UNKNOWN, "TRAP_CAUSE_UNKNOWN"},
    {REFERENCE_BY_POINTER, "REFERENCE_BY_POINTER"},
    {BAD_POOL_HEADER, "BAD_POOL_HEADER"},
    {MEMORY_MANAGEMENT, "MEMORY_MANAGEMENT"},
    {NO_SPIN_LOCK_AVAILABLE, "NO_SPIN_LOCK_AVAILABLE"},
    {KMODE_EXCEPTION_NOT_HANDLED, "KMODE_EXCEPTION_NOT_HANDLED"},
    {SHARED_RESOURCE_CONV_ERROR, "SHARED_RESOURCE_CONV_ERROR"},
    {KERNEL_APC_PENDING_DURING_EXIT, "KERNEL_APC_PENDING_DURING_EXIT"},
    {INCONSISTENT_IRP, "INCONSISTENT_IRP"},
    {NO_MORE_IRP_STACK_LOCATIONS, "NO_MORE_IRP_STACK_LOCATIONS"},
    {DEVICE_REFERENCE_COUNT_NOT_ZERO, "DEVICE_REFERENCE_COUNT_NOT_ZERO"},
    {SYSTEM_EXIT_OWNED_MUTEX, "SYSTEM_EXIT_OWNED_MUTEX"},
    {SYSTEM_SERVICE_EXCEPTION, "SYSTEM_SERVICE_EXCEPTION"},
    {TARGET_MDL_TOO_SMALL, "TARGET_MDL_TOO_SMALL"},
    {MULTIPLE_IRP_COMPLETE_REQUESTS, "MULTIPLE_IRP_COMPLETE_REQUESTS"},
    {CANCEL_STATE_IN_COMPLETED_IRP, "CANCEL_STATE_IN_COMPLETED_IRP"},
    {PAGE_FAULT_WITH_INTERRUPTS_OFF, "PAGE_FAULT_WITH_INTERRUPTS_OFF"},
    {IRQL_GT_ZERO_AT_SYSTEM_SERVICE, "IRQL_GT_ZERO_AT_SYSTEM_SERVICE"},
    {PFN_LIST_CORRUPT, "PFN_LIST_CORRUPT"},
    {PAGE_FAULT_IN_NONPAGED_AREA, "PAGE_FAULT_IN_NONPAGED_AREA"},
    {PROCESS_HAS_LOCKED_PAGES, "PROCESS_HAS_LOCKED_PAGES"},
    {BUGCODE_NDIS_DRIVER, "BUGCODE_NDIS_DRIVER"},
    {SYSTEM_THREAD_EXCEPTION_NOT_HANDLED, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"},
    {UNEXPECTED_KERNEL_MODE_TRAP, "UNEXPECTED_KERNEL_MODE_TRAP"},
    {KERNEL_MODE_EXCEPTION_NOT_HANDLED, "KERNEL_MODE_EXCEPTION_NOT_HANDLED"},
    {INVALID_WORK_QUEUE_ITEM, "INVALID_WORK_QUEUE_ITEM"},
    {DRIVER_POWER_STATE_FAILURE, "DRIVER_POWER_STATE_FAILURE"},
    {ATTEMPTED_SWITCH_FROM_DPC, "ATTEMPTED_SWITCH_FROM_DPC"},
    {MUTEX_ALREADY_OWNED, "MUTEX_ALREADY_OWNED"},
    {SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION, "SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION"},
    {BAD_POOL_CALLER, "BAD_POOL_CALLER"},
    {DRIVER_VERIFIER_DETECTED_VIOLATION, "DRIVER_VERIFIER_DETECTED_VIOLATION"},
    {DRIVER_CORRUPTED_EXPOOL, "DRIVER_CORRUPTED_EXPOOL"},
    {DRIVER_CAUGHT_MODIFYING_FREED_POOL, "DRIVER_CAUGHT_MODIFYING_FREED_POOL"},
    {TIMER_OR_DPC_INVALID, "TIMER_OR_DPC_INVALID"},
    {IRQL_UNEXPECTED_VALUE, "IRQL_UNEXPECTED_VALUE"},
    {DRIVER_VERIFIER_IOMANAGER_VIOLATION, "DRIVER_VERIFIER_IOMANAGER_VIOLATION"},
    {DRIVER_LEFT_LOCKED_PAGES_IN_PROCESS, "DRIVER_LEFT_LOCKED_PAGES_IN_PROCESS"},
    {PAGE_FAULT_IN_FREED_SPECIAL_POOL, "PAGE_FAULT_IN_FREED_SPECIAL_POOL"},
    {PAGE_FAULT_BEYOND_END_OF_ALLOCATION, "PAGE_FAULT_BEYOND_END_OF_ALLOCATION"},
    {DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS,
     "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS"},
    {DRIVER_CORRUPTED_MMPOOL, "DRIVER_CORRUPTED_MMPOOL"},
    {DRIVER_IRQL_NOT_LESS_OR_EQUAL, "DRIVER_IRQL_NOT_LESS_OR_EQUAL"},
    {DRIVER_PORTION_MUST_BE_NONPAGED, "DRIVER_PORTION_MUST_BE_NONPAGED"},
    {DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL, "DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL"},
    {DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION, "DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION"},
    {DRIVER_INVALID_STACK_ACCESS, "DRIVER_INVALID_STACK_ACCESS"},
    {WORKER_THREAD_RETURNED_AT_BAD_IRQL, "WORKER_THREAD_RETURNED_AT_BAD_IRQL"},
    {MANUALLY_INITIATED_CRASH, "MANUALLY_INITIATED_CRASH"},
    {RESOURCE_NOT_OWNED, "RESOURCE_NOT_OWNED"},
    {WORKER_INVALID, "WORKER_INVALID"},
    {INVALID_FLOATING_POINT_STATE, "INVALID_FLOATING_POINT_STATE"},
    {INVALID_CANCEL_OF_FILE_OPEN, "INVALID_CANCEL_OF_FILE_OPEN"},
    {THREAD_STUCK_IN_DEVICE_DRIVER, "THREAD_STUCK_IN_DEVICE_DRIVER"},
    {CRITICAL_OBJECT_TERMINATION, "CRITICAL_OBJECT_TERMINATION"},
    {DRIVER_OVERRAN_STACK_BUFFER, "DRIVER_OVERRAN_STACK_BUFFER"},
    {DPC_WATCHDOG_VIOLATION, "DPC_WATCHDOG_VIOLATION"},
    {KERNEL_SECURITY_CHECK_FAILURE, "KERNEL_SECURITY_CHECK_FAILURE"},
};

std::atomic<bool> g_bugcheck_in_progress{false};

} // namespace

const char *bugcheck_name(ULONG code) {
  for (const auto &entry : bugcheck_names) {
    if (entry.code == code) {
      return entry.name;
    }
  }
  return nullptr;
}

std::string backtrace_text(int skip) {
  void *frames[48];
  int count = backtrace(frames, 48);
  char **symbols = backtrace_symbols(frames, count);
  std::string text;
  int first = 1 + skip;
  for (int i = first; i < count; ++i) {
    char line[64];
    snprintf(line, sizeof line, "  #%-2d ", i - first);
    text.append(line);
    if (symbols != nullptr) {
      text.append(symbols[i]);
    } else {
      snprintf(line, sizeof line, "[%p]", frames[i]);
      text.append(line);
    }
    text.push_back('\n');
  }
  free(symbols); // NOLINT: backtrace_symbols allocates with malloc
  return text;
}

} // namespace uwsk::nt

using namespace uwsk::nt;

// KeBugCheckEx: reports the bugcheck and ends the process (abort, SIGABRT).
extern "C" DECLSPEC_NORETURN VOID NTAPI KeBugCheckEx(ULONG BugCheckCode,
                                                     ULONG_PTR BugCheckParameter1,
                                                     ULONG_PTR BugCheckParameter2,
                                                     ULONG_PTR BugCheckParameter3,
                                                     ULONG_PTR BugCheckParameter4) {
  // A bugcheck raised while this thread writes its report ends the process at once.
  static thread_local bool reporting = false;
  if (reporting) {
    _exit(134);
  }
  if (g_bugcheck_in_progress.exchange(true)) {
    // Another thread is reporting, and it ends the process.
    for (;;) {
      pause();
    }
  }
  reporting = true;
  const char *name = bugcheck_name(BugCheckCode);
  KIRQL irql = KeGetCurrentIrql();
  char head[512];
  snprintf(head, sizeof head,
           "*** BUGCHECK 0x%08X: %s\n"
           "*** STOP: 0x%08X (0x%016llX, 0x%016llX, 0x%016llX, 0x%016llX)\n"
           "*** Thread: %s (Linux tid %ld), IRQL %u (%s)\n"
           "*** Stack:\n",
           BugCheckCode, name != nullptr ? name : "UNKNOWN_BUGCHECK_CODE", BugCheckCode,
           static_cast<unsigned long long>(BugCheckParameter1),
           static_cast<unsigned long long>(BugCheckParameter2),
           static_cast<unsigned long long>(BugCheckParameter3),
           static_cast<unsigned long long>(BugCheckParameter4), log_thread_label().c_str(),
           static_cast<long>(gettid()), irql, irql_name(irql));
  std::string report = head;
  report += stack_text(0);
  report += "*** The process stops here, as Windows would stop the machine.\n";
  log_write_fatal(report);
  // The call trace ends here too, still valid JSON, with what led to the bug check.
  char why[96];
  snprintf(why, sizeof why, "bug check 0x%08X %s", BugCheckCode,
           name != nullptr ? name : "UNKNOWN_BUGCHECK_CODE");
  trace::stop_fatal(why);
  signal(SIGABRT, SIG_DFL);
  abort();
}

// KeBugCheck: KeBugCheckEx with four zero parameters.
extern "C" DECLSPEC_NORETURN VOID NTAPI KeBugCheck(ULONG BugCheckCode) {
  KeBugCheckEx(BugCheckCode, 0, 0, 0, 0);
}

// Breakpoints, assertions, PAGED_CODE and the debugger-presence flags.
//
// Without a kernel debugger, a break or a failed assertion is logged with a backtrace. With
// UWSK_BREAK=1 the runtime raises SIGTRAP so that gdb stops on the spot. A failed assertion
// then bug-checks unless UWSK_BREAK=1 or UWSK_ASSERT=log ask to continue (see km/dbg.h).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <wdm.h>
#include <uwsk/log.h>

#include "nt/dbg/dbg.hpp"

namespace uwsk::nt {
namespace {

BOOLEAN g_debugger_not_present = TRUE;
BOOLEAN g_debugger_enabled = FALSE;

bool env_is(const char *name, const char *value) {
  const char *v = std::getenv(name);
  return v != nullptr && std::strcmp(v, value) == 0;
}

bool break_requested() {
  return env_is("UWSK_BREAK", "1");
}

void refresh_debugger_state() {
  bool attached = tracer_attached();
  g_debugger_not_present = attached ? FALSE : TRUE;
  g_debugger_enabled = attached ? TRUE : FALSE;
}

[[gnu::constructor]] void detect_debugger_at_load() {
  refresh_debugger_state();
}

void log_break(const char *what) {
  std::string text = what;
  text += backtrace_text(2);
  uwsk_log_write(text.data(), text.size());
}

} // namespace

bool tracer_attached() {
  FILE *f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) {
    return false;
  }
  char line[256];
  long tracer = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "TracerPid:", 10) == 0) {
      tracer = std::strtol(line + 10, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return tracer != 0;
}

} // namespace uwsk::nt

using namespace uwsk::nt;

extern "C" {
PBOOLEAN KdDebuggerNotPresent = &g_debugger_not_present;
PBOOLEAN KdDebuggerEnabled = &g_debugger_enabled;
}

// KdRefreshDebuggerNotPresent: re-checks for an attached debugger (ptrace tracer).
extern "C" BOOLEAN NTAPI KdRefreshDebuggerNotPresent(VOID) {
  refresh_debugger_state();
  return *KdDebuggerNotPresent;
}

// DbgBreakPoint: logs the break; raises SIGTRAP when UWSK_BREAK=1.
extern "C" VOID NTAPI DbgBreakPoint(VOID) {
  uwsk_log_flush_thread();
  log_break("Break instruction exception (DbgBreakPoint); set UWSK_BREAK=1 to stop in a "
            "debugger. Stack:\n");
  if (break_requested()) {
    raise(SIGTRAP);
  }
}

// DbgBreakPointWithStatus: DbgBreakPoint that also logs the status.
extern "C" VOID NTAPI DbgBreakPointWithStatus(ULONG Status) {
  uwsk_log_flush_thread();
  char what[160];
  snprintf(what, sizeof what,
           "Break instruction exception (DbgBreakPointWithStatus 0x%08X); set UWSK_BREAK=1 to "
           "stop in a debugger. Stack:\n",
           Status);
  log_break(what);
  if (break_requested()) {
    raise(SIGTRAP);
  }
}

// RtlAssert: reports a failed assertion, then breaks, continues or bug-checks (see km/dbg.h).
extern "C" VOID NTAPI RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber,
                                PSTR MutableMessage) {
  const char *expression =
      VoidFailedAssertion != nullptr ? static_cast<const char *>(VoidFailedAssertion) : "(unknown)";
  const char *file = VoidFileName != nullptr ? static_cast<const char *>(VoidFileName) : "?";
  uwsk_log_flush_thread();
  std::string text = "*** Assertion failed: ";
  if (MutableMessage != nullptr) {
    text.append(MutableMessage).append(" ");
  }
  text.append(expression).append("\n***   Source File: ").append(file);
  text.append(", line ").append(std::to_string(LineNumber)).append("\n");
  uwsk_log_write(text.data(), text.size());
  if (break_requested()) {
    raise(SIGTRAP);
    return;
  }
  if (env_is("UWSK_ASSERT", "log")) {
    return;
  }
  KeBugCheckEx(KMODE_EXCEPTION_NOT_HANDLED, static_cast<ULONG_PTR>(STATUS_ASSERTION_FAILURE),
               reinterpret_cast<ULONG_PTR>(__builtin_return_address(0)), 0, 0);
}

// uwsk_paged_code_violation: PAGED_CODE() found the thread above APC_LEVEL.
extern "C" VOID NTAPI uwsk_paged_code_violation(KIRQL Irql, PCSTR File, ULONG Line) {
  char message[96];
  snprintf(message, sizeof message, "Pageable code called at IRQL %u:", Irql);
  RtlAssert(const_cast<char *>("KeGetCurrentIrql() <= APC_LEVEL (PAGED_CODE)"),
            const_cast<char *>(File), Line, message);
}

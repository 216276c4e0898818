// The crash report: a fault in driver code (or anywhere in the process) is reported as a bug
// check would be, then the signal is raised again with its default action, so the process ends
// with it (and a core dump, where enabled) after the report.
//
// The handler is installed only when nothing else is watching faults: not under a debugger
// (TracerPid in /proc/self/status), AddressSanitizer or ThreadSanitizer (their runtimes define
// __asan_init / __tsan_init) or valgrind (its preload library in LD_PRELOAD), and not when
// UWSK_CRASH_REPORT=0.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <ucontext.h>
#include <unistd.h>

#include <uwsk/verifier.h>
#include <wdm.h>

#include "nt/dbg/activity.hpp"
#include "nt/dbg/crash.hpp"
#include "nt/dbg/dbg.hpp"
#include "nt/dbg/log.hpp"
#include "nt/dbg/symbols.hpp"
#include "nt/ke/irql.hpp"

extern "C" void __asan_init() __attribute__((weak));
extern "C" void __tsan_init() __attribute__((weak));

namespace uwsk::nt {

namespace {

constexpr int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
std::atomic<bool> crashing{false};
volatile sig_atomic_t crash_signal = 0;

// The report allocates and takes locks: a fault inside the allocator could make it hang. After
// 10 s the process ends anyway, with the status the signal would have given.
void on_report_timeout(int) {
  _exit(128 + crash_signal);
}

bool under_valgrind() {
  const char *preload = std::getenv("LD_PRELOAD");
  return preload != nullptr && std::strstr(preload, "vgpreload") != nullptr;
}

const char *signal_name(int sig) {
  switch (sig) {
  case SIGSEGV:
    return "SIGSEGV (invalid memory access)";
  case SIGBUS:
    return "SIGBUS (bus error)";
  case SIGILL:
    return "SIGILL (illegal instruction)";
  case SIGFPE:
    return "SIGFPE (arithmetic fault)";
  case SIGABRT:
    return "SIGABRT (abort)";
  default:
    return "signal";
  }
}

// The bug check Windows would raise for the same fault.
const char *windows_equivalent(int sig) {
  return sig == SIGSEGV || sig == SIGBUS ? "PAGE_FAULT_IN_NONPAGED_AREA (0x50)"
         : sig == SIGABRT                ? "KMODE_EXCEPTION_NOT_HANDLED (0x1E)"
                                         : "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED (0x7E)";
}

void on_crash(int sig, siginfo_t *info, void *context) {
  if (crashing.exchange(true)) {
    // A second fault (in the report itself, or on another thread): end with the first.
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  crash_signal = sig;
  signal(SIGALRM, on_report_timeout);
  alarm(10);
  const void *pc = nullptr;
#if defined(__x86_64__)
  pc = reinterpret_cast<const void *>(
      static_cast<ucontext_t *>(context)->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  pc = reinterpret_cast<const void *>(static_cast<ucontext_t *>(context)->uc_mcontext.pc);
#endif
  const KIRQL irql = current_irql();
  char line[512];
  std::string report;
  std::snprintf(line, sizeof line,
                "*** CRASH: %s at %p, accessing %p (code %d); Windows would stop with %s\n"
                "*** Thread: %s (Linux tid %ld), IRQL %u (%s)\n",
                signal_name(sig), pc, info != nullptr ? info->si_addr : nullptr,
                info != nullptr ? info->si_code : 0, windows_equivalent(sig),
                log_thread_label().c_str(), static_cast<long>(gettid()), irql, irql_name(irql));
  report += line;
  if (pc != nullptr && sig != SIGABRT) {
    report += "*** Faulting code: " + describe_code(pc, false) + "\n";
  }
  for (const activity::frame *f = activity::current(); f != nullptr; f = f->outer) {
    std::snprintf(line, sizeof line, "*** In progress: %s (%p)\n", f->what, f->object);
    report += line;
  }
  if (const char *call = activity::last_call(); call != nullptr) {
    std::snprintf(line, sizeof line, "*** Last WSK call on this thread: %s\n", call);
    report += line;
  }
  report += "*** Stack:\n";
  report += stack_text(0, sig == SIGABRT ? nullptr : pc);
  std::snprintf(line, sizeof line,
                "*** The process ends with %s, as Windows would stop the machine.\n",
                strsignal(sig));
  report += line;
  log_write_fatal(report);
  signal(sig, SIG_DFL);
  raise(sig); // a fault returns to the instruction and faults again, now with the default action
}

} // namespace
} // namespace uwsk::nt

const char *uwsk::nt::crash_report_blocker() {
  const char *wanted = std::getenv("UWSK_CRASH_REPORT");
  if (wanted != nullptr && std::strcmp(wanted, "0") == 0) {
    return "UWSK_CRASH_REPORT=0";
  }
  if (__asan_init != nullptr || __tsan_init != nullptr) {
    return "a sanitizer reports faults";
  }
  if (under_valgrind()) {
    return "valgrind reports faults";
  }
  if (tracer_attached()) {
    return "a debugger is attached";
  }
  return nullptr;
}

// uwsk_crash_report_install: see uwsk/verifier.h.
extern "C" int uwsk_crash_report_install(void) {
  using namespace uwsk::nt;
  if (crash_report_blocker() != nullptr) {
    return 0;
  }
  struct sigaction action {};
  action.sa_sigaction = on_crash;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  for (int sig : crash_signals) {
    sigaction(sig, &action, nullptr);
  }
  return 1;
}

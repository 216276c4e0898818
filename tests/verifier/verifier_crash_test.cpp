// Crash reports: a fault in driver code is reported with the thread, its simulated IRQL, what
// driver code was running (here a completion routine) and the stack resolved to function and
// file:line, and the process then dies of the signal. Built with -g so that the driver frames
// below have line information. Each crash happens in a child process (a death test).
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>

#include <uwsk/verifier.h>
#include <wdm.h>
#include <wsk.h>

#include "nt/dbg/crash.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;
using ::testing::KilledBySignal;

int *volatile nowhere = nullptr; // volatile: the compiler cannot see the NULL and drop the store

// The "driver": a completion routine with a NULL dereference.
__attribute__((noinline)) NTSTATUS NTAPI crash_in_completion_routine(PDEVICE_OBJECT, PIRP, PVOID) {
  *nowhere = 1;
  return STATUS_MORE_PROCESSING_REQUIRED;
}

struct crash_report : wsk_fixture<4> {
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    // Set up first: TearDown runs after a skip too, and releases what SetUp registered.
    wsk_fixture<4>::SetUp();
    if (const char *why = uwsk::nt::crash_report_blocker(); why != nullptr) {
      GTEST_SKIP() << "the crash report stays out of the way here: " << why;
    }
  }
};

TEST_F(crash_report, NullDereferenceInACompletionRoutineNamesTheRoutineAndItsLine) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET);
  address local = loopback(4, 0);
  EXPECT_EXIT(
      {
        if (uwsk_crash_report_install() != 1) {
          std::exit(2);
        }
        call c;
        IoSetCompletionRoutine(c.irp, crash_in_completion_routine, nullptr, TRUE, TRUE, TRUE);
        of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskBind(s, &local.sa, 0, c.irp);
        c.wait();
      },
      KilledBySignal(SIGSEGV),
      "CRASH: SIGSEGV [^\n]*accessing \\(nil\\)(.|\n)*"
      "Thread: [^\n]*IRQL 2 \\(DISPATCH_LEVEL\\)(.|\n)*"
      "In progress: an IRP completion routine(.|\n)*"
      "Last WSK call on this thread: WskBind(.|\n)*"
      "#0 +[^\n]*crash_in_completion_routine[^\n]* at [^\n]*verifier_crash_test\\.cpp:[0-9]+");
  close_socket(s);
}

TEST_F(crash_report, AbortInDriverCodeIsReported) {
  EXPECT_EXIT(
      {
        if (uwsk_crash_report_install() != 1) {
          std::exit(2);
        }
        std::abort();
      },
      KilledBySignal(SIGABRT), "CRASH: SIGABRT(.|\n)*verifier_crash_test\\.cpp:[0-9]+");
}

} // namespace

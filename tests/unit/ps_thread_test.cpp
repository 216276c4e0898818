// System threads, thread objects, object references and handles.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <wdm.h>

#include "nt/ps/object.hpp"
#include "nt/ps/thread.hpp"
#include "support/timing.hpp"

namespace {

using uwsk::test::eventually;
using uwsk::test::relative_ms;
using namespace std::chrono_literals;

struct thread_report {
  std::atomic<int> irql{-1};
  std::atomic<HANDLE> id{nullptr};
  std::atomic<PVOID> context{nullptr};
  std::atomic<bool> after_terminate{false};
  std::atomic<bool> destructor_ran{false};
  NTSTATUS exit_status = STATUS_SUCCESS;
  KEVENT release; // the thread waits for it when `wait_for_release`
  bool wait_for_release = false;
};

VOID NTAPI reporting_thread(PVOID context) {
  auto *report = static_cast<thread_report *>(context);
  report->irql = KeGetCurrentIrql();
  report->id = PsGetCurrentThreadId();
  report->context = context;
  if (report->wait_for_release) {
    KeWaitForSingleObject(&report->release, Executive, KernelMode, FALSE, nullptr);
  }
}

struct sets_flag_on_destruction {
  std::atomic<bool> *flag;
  ~sets_flag_on_destruction() { *flag = true; }
};

VOID NTAPI terminating_thread(PVOID context) {
  auto *report = static_cast<thread_report *>(context);
  sets_flag_on_destruction guard{&report->destructor_ran};
  PsTerminateSystemThread(report->exit_status);
  report->after_terminate = true; // never reached
}

// Creates a thread and returns a referenced thread object (the handle is closed).
PETHREAD start_thread(PKSTART_ROUTINE routine, thread_report *report,
                      CLIENT_ID *client_id = nullptr) {
  HANDLE handle = nullptr;
  OBJECT_ATTRIBUTES attributes;
  InitializeObjectAttributes(&attributes, nullptr, OBJ_KERNEL_HANDLE, nullptr, nullptr);
  EXPECT_EQ(PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, &attributes, nullptr, client_id,
                                 routine, report),
            STATUS_SUCCESS);
  EXPECT_NE(handle, nullptr);
  PVOID object = nullptr;
  EXPECT_EQ(
      ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsThreadType, KernelMode, &object, nullptr),
      STATUS_SUCCESS);
  EXPECT_EQ(ZwClose(handle), STATUS_SUCCESS);
  return static_cast<PETHREAD>(object);
}

TEST(PsSystemThread, RunsAtPassiveLevelWithItsContext) {
  thread_report report;
  CLIENT_ID client_id{};
  PETHREAD thread = start_thread(reporting_thread, &report, &client_id);
  LARGE_INTEGER timeout = relative_ms(10000);
  ASSERT_EQ(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
  EXPECT_EQ(report.irql.load(), PASSIVE_LEVEL);
  EXPECT_EQ(report.context.load(), &report);
  EXPECT_EQ(client_id.UniqueThread, report.id.load());
  EXPECT_EQ(client_id.UniqueProcess, PsGetCurrentProcessId());
  EXPECT_EQ(PsGetThreadId(thread), report.id.load());
  EXPECT_NE(report.id.load(), PsGetCurrentThreadId());
  EXPECT_TRUE(PsIsThreadTerminating(thread));
  EXPECT_EQ(PsGetThreadExitStatus(thread), STATUS_SUCCESS);
  ObDereferenceObject(thread);
}

TEST(PsSystemThread, TerminateEndsTheThreadWithItsStatus) {
  thread_report report;
  report.exit_status = static_cast<NTSTATUS>(0xC0000123L);
  PETHREAD thread = start_thread(terminating_thread, &report);
  ASSERT_EQ(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(PsGetThreadExitStatus(thread), static_cast<NTSTATUS>(0xC0000123L));
  EXPECT_FALSE(report.after_terminate.load());
  EXPECT_TRUE(report.destructor_ran.load());
  ObDereferenceObject(thread);
}

TEST(PsSystemThread, TerminateOnANonSystemThreadFails) {
  EXPECT_EQ(PsTerminateSystemThread(STATUS_SUCCESS), STATUS_INVALID_PARAMETER);
}

TEST(PsSystemThread, ThreadObjectIsSignalledOnlyAtExitAndWaitableByMany) {
  thread_report report;
  report.wait_for_release = true;
  KeInitializeEvent(&report.release, NotificationEvent, FALSE);
  PETHREAD thread = start_thread(reporting_thread, &report);
  LARGE_INTEGER zero{};
  EXPECT_EQ(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
  EXPECT_EQ(PsGetThreadExitStatus(thread), STATUS_PENDING);
  EXPECT_FALSE(PsIsThreadTerminating(thread));
  EXPECT_EQ(uwsk::nt::live_system_thread_count(), 1U);
  auto lines = uwsk::nt::describe_live_system_threads();
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_NE(lines[0].find("start routine"), std::string::npos);
  std::atomic<int> woken{0};
  std::thread other([&] {
    EXPECT_EQ(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
    ++woken;
  });
  KEVENT never;
  KeInitializeEvent(&never, NotificationEvent, FALSE);
  PVOID objects[2] = {&never, thread};
  KeSetEvent(&report.release, IO_NO_INCREMENT, FALSE);
  EXPECT_EQ(
      KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, nullptr, nullptr),
      STATUS_WAIT_0 + 1);
  other.join();
  EXPECT_EQ(woken.load(), 1);
  EXPECT_EQ(uwsk::nt::live_system_thread_count(), 0U);
  ObDereferenceObject(thread);
}

TEST(PsSystemThread, ReferenceKeepsTheObjectAliveAfterExitAndClose) {
  thread_report report;
  HANDLE handle = nullptr;
  ASSERT_EQ(PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, nullptr, nullptr, nullptr,
                                 reporting_thread, &report),
            STATUS_SUCCESS);
  PVOID object = nullptr;
  ASSERT_EQ(ObReferenceObjectByHandle(handle, SYNCHRONIZE, nullptr, KernelMode, &object, nullptr),
            STATUS_SUCCESS);
  ASSERT_EQ(KeWaitForSingleObject(object, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(ZwClose(handle), STATUS_SUCCESS);
  // The ending thread drops its own reference just after signalling the object.
  ASSERT_TRUE(eventually([&] {
    LONG_PTR references = ObfReferenceObject(object);
    ObfDereferenceObject(object);
    return references == 2;
  }));
  // Only our reference is left: the object is still readable (ASan would catch a use after
  // free here).
  EXPECT_EQ(uwsk::nt::ob_object_type(object), *PsThreadType);
  EXPECT_TRUE(PsIsThreadTerminating(static_cast<PETHREAD>(object)));
  EXPECT_EQ(ObReferenceObjectByPointer(object, SYNCHRONIZE, *PsThreadType, KernelMode),
            STATUS_SUCCESS);
  EXPECT_EQ(ObReferenceObjectByPointer(object, SYNCHRONIZE, *PsProcessType, KernelMode),
            STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(ObfReferenceObject(object), 3);
  EXPECT_EQ(ObfDereferenceObject(object), 2);
  EXPECT_EQ(ObDereferenceObjectWithTag(object, 'tseT'), 1);
  EXPECT_TRUE(ObReferenceObjectSafe(object));
  ObDereferenceObjectDeferDelete(object);
  EXPECT_EQ(ObDereferenceObject(object), 0);
  EXPECT_EQ(uwsk::nt::ob_object_type(object), nullptr);
}

TEST(PsHandles, BadHandlesAndTypeMismatch) {
  EXPECT_EQ(ZwClose(nullptr), STATUS_INVALID_HANDLE);
  EXPECT_EQ(ZwClose(reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(0x1234))),
            STATUS_INVALID_HANDLE);
  thread_report report;
  HANDLE handle = nullptr;
  ASSERT_EQ(PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, nullptr, nullptr, nullptr,
                                 reporting_thread, &report),
            STATUS_SUCCESS);
  EXPECT_NE(reinterpret_cast<ULONG_PTR>(handle) & 0x80000000ULL, 0U); // a kernel handle
  EXPECT_EQ(uwsk::nt::open_handle_count(), 1U);
  PVOID object = reinterpret_cast<PVOID>(0x1);
  EXPECT_EQ(
      ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsProcessType, KernelMode, &object, nullptr),
      STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(object, nullptr);
  OBJECT_HANDLE_INFORMATION info{};
  EXPECT_EQ(ObReferenceObjectByHandleWithTag(handle, SYNCHRONIZE, *PsThreadType, KernelMode, 'tseT',
                                             &object, &info),
            STATUS_SUCCESS);
  EXPECT_EQ(info.HandleAttributes, static_cast<ULONG>(OBJ_KERNEL_HANDLE));
  KeWaitForSingleObject(object, Executive, KernelMode, FALSE, nullptr);
  ObDereferenceObjectWithTag(object, 'tseT');
  EXPECT_EQ(ZwClose(handle), STATUS_SUCCESS);
  EXPECT_EQ(ZwClose(handle), STATUS_INVALID_HANDLE); // closed handles are never reused
  EXPECT_EQ(ObReferenceObjectByHandle(handle, SYNCHRONIZE, nullptr, KernelMode, &object, nullptr),
            STATUS_INVALID_HANDLE);
  EXPECT_EQ(uwsk::nt::open_handle_count(), 0U);
}

TEST(PsHandles, PseudoHandlesNameTheCurrentThreadAndProcess) {
  PVOID object = nullptr;
  ASSERT_EQ(ObReferenceObjectByHandle(NtCurrentThread(), SYNCHRONIZE, *PsThreadType, KernelMode,
                                      &object, nullptr),
            STATUS_SUCCESS);
  EXPECT_EQ(object, static_cast<PVOID>(PsGetCurrentThread()));
  ObDereferenceObject(object);
  ASSERT_EQ(ObReferenceObjectByHandle(ZwCurrentProcess(), 0, *PsProcessType, KernelMode, &object,
                                      nullptr),
            STATUS_SUCCESS);
  EXPECT_EQ(object, static_cast<PVOID>(PsGetCurrentProcess()));
  ObDereferenceObject(object);
}

TEST(PsQueries, CurrentThreadAndProcess) {
  EXPECT_EQ(static_cast<PVOID>(KeGetCurrentThread()), static_cast<PVOID>(PsGetCurrentThread()));
  EXPECT_EQ(PsGetCurrentProcess(), IoGetCurrentProcess());
  EXPECT_EQ(PsGetCurrentProcessId(), reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(4)));
  EXPECT_EQ(PsGetProcessId(PsGetCurrentProcess()), PsGetCurrentProcessId());
  EXPECT_EQ(PsGetThreadProcessId(PsGetCurrentThread()), PsGetCurrentProcessId());
  EXPECT_EQ(PsGetThreadProcess(PsGetCurrentThread()), PsGetCurrentProcess());
  EXPECT_TRUE(PsIsSystemThread(PsGetCurrentThread()));
  EXPECT_EQ(PsGetThreadId(PsGetCurrentThread()), PsGetCurrentThreadId());
  PVOID main_thread = PsGetCurrentThread();
  PVOID other_thread = nullptr;
  std::thread other([&] { other_thread = PsGetCurrentThread(); });
  other.join();
  EXPECT_NE(other_thread, main_thread);
}

TEST(PsQueries, PrioritiesAreRecorded) {
  PKTHREAD thread = KeGetCurrentThread();
  EXPECT_EQ(KeQueryPriorityThread(thread), 8);
  EXPECT_EQ(KeSetPriorityThread(thread, LOW_REALTIME_PRIORITY), 8);
  EXPECT_EQ(KeQueryPriorityThread(thread), LOW_REALTIME_PRIORITY);
  EXPECT_EQ(KeSetBasePriorityThread(thread, 2), LOW_REALTIME_PRIORITY - 8);
  EXPECT_EQ(KeQueryPriorityThread(thread), 10);
}

TEST(PsSystemThread, ManyThreadsStartAndEnd) {
  constexpr int count = 16;
  thread_report reports[count];
  PETHREAD threads[count];
  for (int i = 0; i < count; ++i) {
    threads[i] = start_thread(reporting_thread, &reports[i]);
  }
  KWAIT_BLOCK blocks[count];
  LARGE_INTEGER timeout = relative_ms(10000);
  EXPECT_EQ(KeWaitForMultipleObjects(count, reinterpret_cast<PVOID *>(threads), WaitAll, Executive,
                                     KernelMode, FALSE, &timeout, blocks),
            STATUS_SUCCESS);
  for (PETHREAD thread : threads) {
    ObDereferenceObject(thread);
  }
  EXPECT_EQ(uwsk::nt::live_system_thread_count(), 0U);
}

TEST(PsSystemThreadDeathTest, AnEscapingExceptionBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        HANDLE handle;
        PsCreateSystemThread(
            &handle, THREAD_ALL_ACCESS, nullptr, nullptr, nullptr, [](PVOID) { throw 42; },
            nullptr);
        std::this_thread::sleep_for(10s);
      },
      "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED");
}

TEST(ObDeathTest, DereferencingAnUnknownPointerBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        int not_an_object = 0;
        ObDereferenceObject(&not_an_object);
      },
      "not an object of the object manager");
}

} // namespace

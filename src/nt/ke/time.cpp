// Time sources, processors and floating-point state.
//
// System time follows CLOCK_REALTIME (converted to the 1601 epoch), interrupt time
// CLOCK_BOOTTIME and the unbiased interrupt time and the performance counter CLOCK_MONOTONIC.
// The performance counter runs at 10 MHz, as on current Windows. The clock "tick" is
// KeQueryTimeIncrement() = 156250 (15.625 ms), the Windows default.
#include <wdm.h>

#include <chrono>
#include <ctime>
#include <sched.h>
#include <unistd.h>

#include "nt/ke/time.hpp"

namespace uwsk::nt {
namespace {

constexpr ULONG time_increment = 156250;
constexpr LONGLONG performance_frequency = 10000000;

LONGLONG clock_100ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<LONGLONG>(ts.tv_sec) * 10000000LL + ts.tv_nsec / 100;
}

ULONG online_processors() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<ULONG>(n) : 1U;
}

} // namespace

LONGLONG system_time_now() {
  return clock_100ns(CLOCK_REALTIME) + filetime_unix_epoch;
}

ULONGLONG interrupt_time_now() {
  return static_cast<ULONGLONG>(clock_100ns(CLOCK_BOOTTIME));
}

ULONGLONG unbiased_interrupt_time_now() {
  return static_cast<ULONGLONG>(clock_100ns(CLOCK_MONOTONIC));
}

ULONGLONG due_time_to_interrupt_time(LONGLONG due_time) {
  ULONGLONG now = interrupt_time_now();
  if (due_time < 0) {
    // -due_time is at most 2^63; interrupt time is far from 2^63, so this cannot wrap.
    return now + (static_cast<ULONGLONG>(0) - static_cast<ULONGLONG>(due_time));
  }
  LONGLONG from_now = due_time - system_time_now();
  return from_now > 0 ? now + static_cast<ULONGLONG>(from_now) : now;
}

} // namespace uwsk::nt

using namespace uwsk::nt;

extern "C" {
volatile CCHAR KeNumberProcessors =
    static_cast<CCHAR>(online_processors() > 127 ? 127 : online_processors());
}

// KeQuerySystemTime: the current system time (100 ns units since 1601-01-01 UTC).
extern "C" VOID NTAPI KeQuerySystemTime(PLARGE_INTEGER CurrentTime) {
  CurrentTime->QuadPart = system_time_now();
}

// KeQuerySystemTimePrecise: the current system time, to the resolution of the clock.
extern "C" VOID NTAPI KeQuerySystemTimePrecise(PLARGE_INTEGER CurrentTime) {
  CurrentTime->QuadPart = system_time_now();
}

// KeQueryTickCount: clock ticks since boot (interrupt time / KeQueryTimeIncrement()).
extern "C" VOID NTAPI KeQueryTickCount(PLARGE_INTEGER CurrentCount) {
  CurrentCount->QuadPart = static_cast<LONGLONG>(interrupt_time_now() / time_increment);
}

// KeQueryTimeIncrement: 100 ns units per clock tick.
extern "C" ULONG NTAPI KeQueryTimeIncrement(VOID) {
  return time_increment;
}

// KeQueryInterruptTime: 100 ns units since boot.
extern "C" ULONGLONG NTAPI KeQueryInterruptTime(VOID) {
  return interrupt_time_now();
}

// Deliberate family (duplicates): the KeQuery* exports, each a short body over one of the clocks or
// the processor count above, with the optional out-parameter Windows gives it.
// KeQueryInterruptTimePrecise: interrupt time, plus the performance counter it was read at.
extern "C" ULONGLONG NTAPI KeQueryInterruptTimePrecise(PULONG64 QpcTimeStamp) {
  ULONGLONG now = interrupt_time_now();
  if (QpcTimeStamp != nullptr) {
    *QpcTimeStamp = unbiased_interrupt_time_now();
  }
  return now;
}

// KeQueryUnbiasedInterruptTime: interrupt time without the time spent suspended.
extern "C" ULONGLONG NTAPI KeQueryUnbiasedInterruptTime(VOID) {
  return unbiased_interrupt_time_now();
}

// KeQueryUnbiasedInterruptTimePrecise: unbiased interrupt time, plus the performance counter.
extern "C" ULONGLONG NTAPI KeQueryUnbiasedInterruptTimePrecise(PULONG64 QpcTimeStamp) {
  ULONGLONG now = unbiased_interrupt_time_now();
  if (QpcTimeStamp != nullptr) {
    *QpcTimeStamp = now;
  }
  return now;
}

// KeQueryPerformanceCounter: a 10 MHz monotonic counter, and optionally its frequency.
extern "C" LARGE_INTEGER NTAPI KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency) {
  if (PerformanceFrequency != nullptr) {
    PerformanceFrequency->QuadPart = performance_frequency;
  }
  LARGE_INTEGER counter;
  counter.QuadPart = static_cast<LONGLONG>(unbiased_interrupt_time_now());
  return counter;
}

// KeStallExecutionProcessor: busy-waits for the given number of microseconds (any IRQL).
extern "C" VOID NTAPI KeStallExecutionProcessor(ULONG MicroSeconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(MicroSeconds);
  while (std::chrono::steady_clock::now() < until) {
    YieldProcessor();
  }
}

// KeGetCurrentProcessorNumber: the CPU the calling thread runs on right now.
extern "C" ULONG NTAPI KeGetCurrentProcessorNumber(VOID) {
  int cpu = sched_getcpu();
  return cpu >= 0 ? static_cast<ULONG>(cpu) : 0U;
}

// KeGetCurrentProcessorNumberEx: the current CPU as group 0 and number; returns its index.
extern "C" ULONG NTAPI KeGetCurrentProcessorNumberEx(PPROCESSOR_NUMBER ProcNumber) {
  ULONG cpu = KeGetCurrentProcessorNumber();
  if (ProcNumber != nullptr) {
    ProcNumber->Group = 0;
    ProcNumber->Number = static_cast<UCHAR>(cpu);
    ProcNumber->Reserved = 0;
  }
  return cpu;
}

// KeGetCurrentProcessorIndex: the current CPU's index across all groups (one group here).
extern "C" ULONG NTAPI KeGetCurrentProcessorIndex(VOID) {
  return KeGetCurrentProcessorNumber();
}

// KeQueryActiveProcessorCount: the number of online CPUs, and optionally their affinity mask.
extern "C" ULONG NTAPI KeQueryActiveProcessorCount(PKAFFINITY ActiveProcessors) {
  ULONG n = online_processors();
  if (ActiveProcessors != nullptr) {
    *ActiveProcessors = n >= 64 ? ~static_cast<KAFFINITY>(0) : (static_cast<KAFFINITY>(1) << n) - 1;
  }
  return n;
}

// KeQueryActiveProcessorCountEx: online CPUs in a group (all in group 0, or ALL_PROCESSOR_GROUPS).
extern "C" ULONG NTAPI KeQueryActiveProcessorCountEx(USHORT GroupNumber) {
  return GroupNumber == 0 || GroupNumber == ALL_PROCESSOR_GROUPS ? online_processors() : 0U;
}

// KeQueryActiveProcessors: the affinity mask of the online CPUs.
extern "C" KAFFINITY NTAPI KeQueryActiveProcessors(VOID) {
  KAFFINITY mask = 0;
  KeQueryActiveProcessorCount(&mask);
  return mask;
}

// KeQueryMaximumProcessorCount: the number of CPUs the system can have.
extern "C" ULONG NTAPI KeQueryMaximumProcessorCount(VOID) {
  long n = sysconf(_SC_NPROCESSORS_CONF);
  return n > 0 ? static_cast<ULONG>(n) : online_processors();
}

// KeQueryMaximumProcessorCountEx: as KeQueryMaximumProcessorCount, for one group.
extern "C" ULONG NTAPI KeQueryMaximumProcessorCountEx(USHORT GroupNumber) {
  return GroupNumber == 0 || GroupNumber == ALL_PROCESSOR_GROUPS ? KeQueryMaximumProcessorCount()
                                                                 : 0U;
}

// KeQueryActiveGroupCount: processor groups in use (one).
extern "C" USHORT NTAPI KeQueryActiveGroupCount(VOID) {
  return 1;
}

// KeQueryMaximumGroupCount: processor groups possible (one).
extern "C" USHORT NTAPI KeQueryMaximumGroupCount(VOID) {
  return 1;
}

// KeGetRecommendedSharedDataAlignment: the cache-line size.
extern "C" ULONG NTAPI KeGetRecommendedSharedDataAlignment(VOID) {
  long line = sysconf(_SC_LEVEL1_DCACHE_LINESIZE);
  return line > 0 ? static_cast<ULONG>(line) : 64U;
}

// KeSaveFloatingPointState: nothing to save; user-space code may always use the FPU.
extern "C" NTSTATUS NTAPI KeSaveFloatingPointState(PKFLOATING_SAVE FloatSave) {
  if (FloatSave != nullptr) {
    FloatSave->Dummy = 0;
  }
  return STATUS_SUCCESS;
}

// KeRestoreFloatingPointState: pairs with KeSaveFloatingPointState; nothing to restore.
extern "C" NTSTATUS NTAPI KeRestoreFloatingPointState(PKFLOATING_SAVE FloatSave) {
  (void)FloatSave;
  return STATUS_SUCCESS;
}

// KeGetProcessorNumberFromIndex: the group (0) and number (the index) of a processor index.
extern "C" NTSTATUS NTAPI KeGetProcessorNumberFromIndex(ULONG ProcIndex,
                                                        PPROCESSOR_NUMBER ProcNumber) {
  if (ProcNumber == nullptr || ProcIndex >= KeQueryMaximumProcessorCountEx(ALL_PROCESSOR_GROUPS) ||
      ProcIndex > MAXUCHAR) {
    return STATUS_INVALID_PARAMETER;
  }
  ProcNumber->Group = 0;
  ProcNumber->Number = static_cast<UCHAR>(ProcIndex);
  ProcNumber->Reserved = 0;
  return STATUS_SUCCESS;
}

// KeGetProcessorIndexFromNumber: the index of a processor (its number in group 0), or
// INVALID_PROCESSOR_INDEX.
extern "C" ULONG NTAPI KeGetProcessorIndexFromNumber(PPROCESSOR_NUMBER ProcNumber) {
  if (ProcNumber == nullptr || ProcNumber->Group != 0 ||
      ProcNumber->Number >= KeQueryMaximumProcessorCountEx(0)) {
    return INVALID_PROCESSOR_INDEX;
  }
  return ProcNumber->Number;
}

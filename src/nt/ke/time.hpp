// Clock sources of the emulated kernel, in Windows units (100 ns).
#pragma once

#include <wdm.h>

namespace uwsk::nt {

// 100 ns intervals between 1601-01-01 and 1970-01-01 (UTC).
constexpr LONGLONG filetime_unix_epoch = 116444736000000000LL;

// System time: 100 ns units since 1601-01-01 UTC (CLOCK_REALTIME).
LONGLONG system_time_now();

// Interrupt time: 100 ns units since boot, counting suspend (CLOCK_BOOTTIME).
ULONGLONG interrupt_time_now();

// Unbiased interrupt time: as interrupt time, without suspend (CLOCK_MONOTONIC).
ULONGLONG unbiased_interrupt_time_now();

// A Windows due time (negative: relative, positive: absolute system time) as interrupt time.
ULONGLONG due_time_to_interrupt_time(LONGLONG due_time);

} // namespace uwsk::nt

// Internal helpers of the debug-output component shared with the rest of the runtime.
#pragma once

#include <string>

#include <ntdef.h>

namespace uwsk::nt {

// The bugcheck name Windows gives `code` ("DRIVER_IRQL_NOT_LESS_OR_EQUAL"), or nullptr.
const char *bugcheck_name(ULONG code);

// A few lines of the calling thread's stack ("  #0 module(symbol+0x1c) [0x7f...]"), skipping
// `skip` innermost frames besides this function itself.
std::string backtrace_text(int skip);

// Whether a ptrace tracer (gdb, strace) is attached: a non-zero TracerPid in /proc/self/status.
bool tracer_attached();

} // namespace uwsk::nt

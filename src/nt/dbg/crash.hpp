// The crash report's internal interface (the public one is uwsk_crash_report_install in
// uwsk/verifier.h).
#pragma once

namespace uwsk::nt {

// Why the crash report would not be installed here ("a debugger is attached", ...), or nullptr
// when it would be.
const char *crash_report_blocker();

} // namespace uwsk::nt

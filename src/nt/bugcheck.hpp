// A bugcheck with a sentence of explanation: the runtime's way to stop on a broken rule.
#pragma once

#include <wdm.h>
#include <uwsk/log.h>

namespace uwsk::nt {

// Logs `reason` (what rule was broken, in words) and then stops the process with the bugcheck
// report of KeBugCheckEx, as Windows would stop the machine.
[[noreturn]] inline void bugcheck(ULONG code, const char *reason, ULONG_PTR p1 = 0,
                                  ULONG_PTR p2 = 0, ULONG_PTR p3 = 0, ULONG_PTR p4 = 0) {
  uwsk_log_message("bugcheck", "%s", reason);
  KeBugCheckEx(code, p1, p2, p3, p4);
}

} // namespace uwsk::nt

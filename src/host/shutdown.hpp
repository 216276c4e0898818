// Bringing the runtime to rest after DriverUnload, before the leak report.
#pragma once

namespace uwsk::host {

// Waits until queued executive and I/O work items and queued DPCs have run, so that what they
// free is not reported as leaked and nothing runs driver code after the report.
void quiesce_runtime();

} // namespace uwsk::host

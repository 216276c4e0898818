// Bringing the runtime to rest after DriverUnload.
#include "host/shutdown.hpp"

#include "nt/ex/work_queue.hpp"
#include "wsk/provider.hpp"

namespace uwsk::host {

void quiesce_runtime() {
  // Work items may queue more work items; the drain waits for those too. Timers and DPCs are
  // not drained: one still set after DriverUnload is a leak, reported (and then dropped) by
  // the loader.
  uwsk::nt::drain_work_queues();
  wsk::provider_quiesce();
}

} // namespace uwsk::host

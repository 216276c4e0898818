// The runtime side of timers and DPCs, for the loader.
//
// One runtime thread ("uwsk-timer"), started on the first KeSetTimer or KeInsertQueueDpc,
// expires timers and runs DPC routines one at a time at simulated DISPATCH_LEVEL.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace uwsk::nt {

// Timers still set and DPCs still queued, one line each (with the DPC routine's symbol), so
// that the loader can report what a driver left behind at unload (Windows bug-checks with
// DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS when such a timer fires later).
std::vector<std::string> describe_pending_timers();
std::size_t pending_timer_count(); // timers set plus DPCs queued

// Stops the timer/DPC thread after the DPC it is running (if any) returns, then forgets every
// timer still set and every DPC still queued (they never fire: the driver's code may be about
// to be unloaded). A later KeSetTimer or KeInsertQueueDpc starts a new thread. Call it from the
// loader, never from a DPC routine (it returns at once there, doing nothing).
void stop_timer_thread();

} // namespace uwsk::nt

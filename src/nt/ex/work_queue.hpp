// The runtime side of executive work items (ExQueueWorkItem), for the loader.
#pragma once

#include <cstddef>

namespace uwsk::nt {

// Blocks until every queued work item has run, including items queued meanwhile by running
// ones. Never call it from a work item (it returns at once there).
void drain_work_queues();

// Drains, then stops and joins the worker threads. A later ExQueueWorkItem starts new ones.
void stop_work_queues();

// Work items queued and not yet finished (waiting plus running).
std::size_t pending_work_items();

} // namespace uwsk::nt

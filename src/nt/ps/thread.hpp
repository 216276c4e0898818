// System threads created by drivers, for the loader's report at unload.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace uwsk::nt {

// Threads started with PsCreateSystemThread that have not ended, one line each: the thread id,
// the start routine (symbol and module when known) and its context.
std::vector<std::string> describe_live_system_threads();

// How many threads started with PsCreateSystemThread have not ended.
std::size_t live_system_thread_count();

} // namespace uwsk::nt

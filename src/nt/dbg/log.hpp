// Internal interface of the log sink (the public C API is include/uwsk/log.h).
#pragma once

#include <string>
#include <string_view>

namespace uwsk::nt {

// The label the calling thread has in log prefixes: its name, or "T<tid>".
std::string log_thread_label();

// Writes complete lines for a fatal report (bug check): to the log, and to stderr as well when
// the log is a file. It waits a bounded time for the sink lock and then writes without it, so a
// thread that dies while another holds the lock still gets its report out.
void log_write_fatal(std::string_view text);

// Log batching (log.cpp, at the top): from now on the calling thread's uwsk_log_write lines
// (DbgPrint) are gathered and written together (on), or written one by one again (off). A
// thread that batches must call log_flush_batch often: an I/O loop does before each wait.
void log_batch_lines(bool on);
// Writes the lines batched so far, if any (one load when there are none).
void log_flush_batch();

} // namespace uwsk::nt

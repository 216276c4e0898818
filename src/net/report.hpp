// How the I/O engines speak: messages go to a sink the layer above gives them (the WSK provider
// routes them to uwsk's log), so net depends on nothing above it; a broken invariant stops the
// process through fatal(), the one way net stops it.
#pragma once

namespace uwsk::net {

// Receives one message without a trailing newline. The default writes it to stderr.
using report_sink = void (*)(const char *message);
void set_report_sink(report_sink sink);

// A printf-style message to the sink.
[[gnu::format(printf, 1, 2)]] void report(const char *format, ...);

// A contract broken or a system call failing where the loop cannot go on: the message goes to
// the sink and to stderr, then the process aborts.
[[noreturn, gnu::format(printf, 1, 2)]] void fatal(const char *format, ...);

} // namespace uwsk::net

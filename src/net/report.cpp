// The engines' messages and their one way to stop (report.hpp).
#include "net/report.hpp"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace uwsk::net {
namespace {

void to_stderr(const char *message) {
  std::fprintf(stderr, "uwsk net: %s\n", message);
  std::fflush(stderr);
}

std::atomic<report_sink> g_sink{to_stderr}; // constant-initialised: usable from any constructor

} // namespace

void set_report_sink(report_sink sink) {
  g_sink.store(sink != nullptr ? sink : to_stderr, std::memory_order_release);
}

namespace {

// The text of a printf-style message, as report and fatal pass it on.
struct message_text {
  char text[512];
  message_text(const char *format, va_list args) {
    std::vsnprintf(text, sizeof(text), format, args);
  }
};

} // namespace

void report(const char *format, ...) {
  va_list args;
  va_start(args, format);
  const message_text message(format, args);
  va_end(args);
  g_sink.load(std::memory_order_acquire)(message.text);
}

void fatal(const char *format, ...) {
  va_list args;
  va_start(args, format);
  const message_text message(format, args);
  va_end(args);
  const report_sink sink = g_sink.load(std::memory_order_acquire);
  if (sink != to_stderr) {
    sink(message.text);
  }
  to_stderr(message.text); // also where nothing else may be read any more
  std::abort();
}

} // namespace uwsk::net

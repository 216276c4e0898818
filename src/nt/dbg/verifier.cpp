// The verifier's report (verifier.hpp) and its strict mode.
#include "nt/dbg/verifier.hpp"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <uwsk/log.h>
#include <uwsk/verifier.h>

#include "nt/dbg/symbols.hpp"

namespace uwsk::nt::verifier {
namespace {

bool strict_from_environment() {
  const char *value = std::getenv("UWSK_VERIFY");
  return value != nullptr && std::strcmp(value, "strict") == 0;
}

std::atomic<bool> strict_mode{strict_from_environment()};

void log_rule(int rule, const char *severity, const char *sentence, const char *objects) {
  uwsk_log_message("verifier", "rule V%d (%s): %s", rule, severity, sentence);
  if (objects != nullptr && objects[0] != '\0') {
    uwsk_log_message("verifier", "  %s", objects);
  }
}

} // namespace

std::atomic<signed char> bookkeeping_mode{-1};

bool read_bookkeeping_mode() {
  static const bool off = [] {
    const char *value = std::getenv("UWSK_VERIFY");
    return value != nullptr && std::strcmp(value, "off") == 0;
  }();
  bookkeeping_mode.store(off ? 1 : 0, std::memory_order_relaxed);
  return off;
}

bool strict() {
  return strict_mode.load(std::memory_order_relaxed);
}

void set_strict(bool on) {
  strict_mode.store(on, std::memory_order_relaxed);
}

void error(int rule, const char *sentence, const char *objects, ULONG_PTR p2, ULONG_PTR p3) {
  log_rule(rule, "error", sentence, objects);
  KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, rule_code(rule), p2, p3, 0);
}

void error_bugcheck(int rule, const char *sentence, const char *objects, ULONG code, ULONG_PTR p1,
                    ULONG_PTR p2, ULONG_PTR p3, ULONG_PTR p4) {
  log_rule(rule, "error", sentence, objects);
  KeBugCheckEx(code, p1, p2, p3, p4);
}

void warning(int rule, const char *sentence, const char *objects, ULONG_PTR p2, ULONG_PTR p3) {
  if (strict()) {
    log_rule(rule, "warning, stopping: --verify=strict", sentence, objects);
    KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, rule_code(rule), p2, p3, 0);
  }
  log_rule(rule, "warning", sentence, objects);
}

void note(int rule, const char *sentence, const char *objects) {
  log_rule(rule, "note", sentence, objects);
}

objects_text::objects_text(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
}

void describe_code_address(const void *address, char *out, std::size_t size) {
  if (address == nullptr) {
    std::snprintf(out, size, "?");
    return;
  }
  std::snprintf(out, size, "%s", describe_code(address, true).c_str());
}

} // namespace uwsk::nt::verifier

// uwsk_verifier_set_strict: warnings stop the process as errors do (uwsk-run --verify=strict).
extern "C" void uwsk_verifier_set_strict(int on) {
  uwsk::nt::verifier::set_strict(on != 0);
}

// uwsk_verifier_strict: whether they do.
extern "C" int uwsk_verifier_strict(void) {
  return uwsk::nt::verifier::strict() ? 1 : 0;
}

// Internal helpers shared by the kernel C runtime's files (crt_string.cpp, crt_secure.cpp,
// crt_printf.cpp).
#pragma once

#include <uwsk/log.h>

namespace uwsk::nt::crt {

// Reports a call the Windows CRT hands to its invalid-parameter handler (one log line naming the
// function); the caller then returns the documented failure, as after a handler that returns.
void invalid_parameter(const char *function, const char *problem);

// Case mapping of the "C" locale: only A-Z and a-z change.
constexpr unsigned ascii_lower(unsigned c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}
constexpr unsigned ascii_upper(unsigned c) {
  return c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c;
}

} // namespace uwsk::nt::crt

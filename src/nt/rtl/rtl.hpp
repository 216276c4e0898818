// Internal helpers of the run-time library shared by its files (and by ntstrsafe).
#pragma once

#include <cstddef>

#include <wdm.h>

namespace uwsk::nt {

// The number of WCHARs before the terminating NUL: the kernel CRT's wcslen (crt_string.cpp), for
// the run-time library's own files.
std::size_t wide_length(PCWSTR s);

// The value of `c` as a digit of a base up to 36 ('0'-'9', then 'a'-'z' or 'A'-'Z' for 10 to
// 35), or 99 when it is none, so that `digit_value(c) < base` tests for a digit of `base`. The
// one digit parser of the run-time library: the CRT's strtol family, RtlCharToInteger and
// RtlUnicodeStringToInteger, and the IP address parsers.
template <typename C> constexpr int digit_value(C c) {
  const unsigned long v =
      sizeof(C) == 1 ? static_cast<unsigned char>(c) : static_cast<unsigned long>(c);
  if (v >= '0' && v <= '9') {
    return static_cast<int>(v - '0');
  }
  if (v >= 'a' && v <= 'z') {
    return static_cast<int>(v - 'a' + 10);
  }
  if (v >= 'A' && v <= 'Z') {
    return static_cast<int>(v - 'A' + 10);
  }
  return 99;
}

// A string buffer from paged pool with UWSK_RTL_STRING_TAG (nullptr when the pool refuses).
PVOID allocate_string_buffer(SIZE_T bytes);
// Frees what allocate_string_buffer returned (nullptr is ignored).
void free_string_buffer(PVOID buffer);

// The upper-case form of one UTF-16 unit, as RtlUpcaseUnicodeChar.
WCHAR upcase_char(WCHAR c);

} // namespace uwsk::nt

// Internal helpers of the run-time library shared by its files (and by ntstrsafe).
#pragma once

#include <wdm.h>

namespace uwsk::nt {

// A string buffer from paged pool with UWSK_RTL_STRING_TAG (nullptr when the pool refuses).
PVOID allocate_string_buffer(SIZE_T bytes);
// Frees what allocate_string_buffer returned (nullptr is ignored).
void free_string_buffer(PVOID buffer);

// The upper-case form of one UTF-16 unit, as RtlUpcaseUnicodeChar.
WCHAR upcase_char(WCHAR c);

} // namespace uwsk::nt

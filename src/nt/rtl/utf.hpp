// UTF-8 / UTF-16 conversion shared by the Rtl string functions, ntstrsafe and the format engine.
// Malformed input (lone surrogates, invalid or truncated UTF-8) decodes to U+FFFD and is
// reported through `valid`, so that callers can return STATUS_SOME_NOT_MAPPED.
#pragma once

#include <cstddef>
#include <string>

namespace uwsk::nt::utf {

inline constexpr char32_t replacement_char = 0xFFFD;

// Decodes one code point from s[0..n) (n >= 1); returns the number of units consumed (>= 1).
size_t decode_utf16(const char16_t *s, size_t n, char32_t &cp, bool &valid);
size_t decode_utf8(const char *s, size_t n, char32_t &cp, bool &valid);

// Encodes cp (a valid scalar value); returns the number of units written (1..4 or 1..2).
size_t encode_utf8(char32_t cp, char *out);
size_t encode_utf16(char32_t cp, char16_t *out);

// Whole-string conversions. `all_valid` (optional) is cleared when anything was replaced.
std::string to_utf8(const char16_t *s, size_t n, bool *all_valid = nullptr);
std::u16string to_utf16(const char *s, size_t n, bool *all_valid = nullptr);

} // namespace uwsk::nt::utf

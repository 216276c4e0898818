// UTF-8 / UTF-16 conversion shared by the Rtl string functions, ntstrsafe and the format engine.
// Malformed input (lone surrogates, invalid or truncated UTF-8) decodes to U+FFFD and is
// reported through `valid`, so that callers can return STATUS_SOME_NOT_MAPPED.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

namespace uwsk::nt::utf {

inline constexpr char32_t replacement_char = 0xFFFD;

// Decodes one code point from s[0..n) (n >= 1); returns the number of units consumed (>= 1).
size_t decode_utf16(const char16_t *s, size_t n, char32_t &cp, bool &valid);
size_t decode_utf8(const char *s, size_t n, char32_t &cp, bool &valid);

// Encodes cp (a valid scalar value); returns the number of units written (1..4 or 1..2).
size_t encode_utf8(char32_t cp, char *out);
size_t encode_utf16(char32_t cp, char16_t *out);

// Re-encodes s[0..n), UTF-8 to UTF-16 or UTF-16 to UTF-8 (by the type of `s`), handing the
// output to `sink(units, count)` in pieces of at most 132 units that never split a code point.
// `all_valid` (optional) is cleared when anything was replaced. The one conversion loop behind
// to_utf8, to_utf16 and the format engine's %s/%S.
template <typename In, typename Sink>
void transcode(const In *s, size_t n, Sink sink, bool *all_valid = nullptr) {
  static_assert(std::is_same_v<In, char> || std::is_same_v<In, char16_t>);
  using Out = std::conditional_t<std::is_same_v<In, char>, char16_t, char>;
  constexpr size_t flush_at = 128;
  Out buf[flush_at + 4];
  size_t used = 0;
  for (size_t i = 0; i < n;) {
    char32_t cp;
    bool valid;
    if constexpr (std::is_same_v<In, char>) {
      i += decode_utf8(s + i, n - i, cp, valid);
      used += encode_utf16(cp, buf + used);
    } else {
      i += decode_utf16(s + i, n - i, cp, valid);
      used += encode_utf8(cp, buf + used);
    }
    if (!valid && all_valid != nullptr) {
      *all_valid = false;
    }
    if (used >= flush_at) {
      sink(static_cast<const Out *>(buf), used);
      used = 0;
    }
  }
  if (used > 0) {
    sink(static_cast<const Out *>(buf), used);
  }
}

// Whole-string conversions. `all_valid` (optional) is cleared when anything was replaced.
std::string to_utf8(const char16_t *s, size_t n, bool *all_valid = nullptr);
std::u16string to_utf16(const char *s, size_t n, bool *all_valid = nullptr);

} // namespace uwsk::nt::utf

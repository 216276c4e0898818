// The kernel C runtime's string functions with 16-bit WCHAR (see km/crt.h): the wcs*/wmem*
// family, case-insensitive comparison and conversion (A-Z only, the "C" locale of the Windows
// kernel), numbers to text and back, and UTF-8 <-> UTF-16 for mbstowcs and friends.
//
// The functions glibc also has are defined here as uwsk_<name>; km/crt.h renames a driver's calls
// to them. The Windows-only names are defined as themselves.
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <wdm.h>

#include "nt/rtl/crt.hpp"
#include "nt/rtl/rtl.hpp"
#include "nt/rtl/utf.hpp"

namespace uwsk::nt::crt {

void invalid_parameter(const char *function, const char *problem) {
  uwsk_log_message("crt", "%s: %s (Windows calls the invalid-parameter handler here)", function,
                   problem);
}

} // namespace uwsk::nt::crt

namespace {

using uwsk::nt::digit_value;
using uwsk::nt::crt::ascii_lower;
using uwsk::nt::crt::ascii_upper;
using uwsk::nt::crt::invalid_parameter;
using Wide = char16_t;
static_assert(std::is_same_v<WCHAR, Wide>, "the runtime is built without -fshort-wchar");

template <typename C> size_t length(const C *s) {
  size_t n = 0;
  while (s[n] != 0) {
    ++n;
  }
  return n;
}

template <typename C> size_t length_max(const C *s, size_t max) {
  size_t n = 0;
  while (n < max && s[n] != 0) {
    ++n;
  }
  return n;
}

// Characters compare as unsigned values (a WCHAR is unsigned; a char is compared as unsigned char).
template <typename C> unsigned value(C c) {
  if constexpr (sizeof(C) == 1) {
    return static_cast<unsigned char>(c);
  } else {
    return static_cast<unsigned>(c);
  }
}

template <typename C> int compare_n(const C *a, const C *b, size_t n, bool fold) {
  for (size_t i = 0; i < n; ++i) {
    unsigned ca = value(a[i]);
    unsigned cb = value(b[i]);
    if (fold) {
      ca = ascii_lower(ca);
      cb = ascii_lower(cb);
    }
    if (ca != cb) {
      return static_cast<int>(ca) - static_cast<int>(cb);
    }
    if (ca == 0) {
      return 0;
    }
  }
  return 0;
}

template <typename C> bool contains(const C *set, C c) {
  for (; *set != 0; ++set) {
    if (*set == c) {
      return true;
    }
  }
  return false;
}

// ---- Text to number --------------------------------------------------------------------------

// The C rules: leading white space, an optional sign, "0x"/"0X" for base 16 (or base 0), a
// leading 0 for base 0 meaning octal, then digits of the base. `end` is the first character not
// used (the start of the string when no digits were found). `overflow` is set when the magnitude
// does not fit in 64 bits.
template <typename C> struct Parsed {
  uint64_t magnitude = 0;
  bool negative = false;
  bool overflow = false;
  bool any_digits = false;
  const C *end = nullptr;
};

template <typename C> bool is_space(C c) {
  unsigned v = value(c);
  return v == ' ' || (v >= '\t' && v <= '\r');
}

template <typename C> Parsed<C> parse_integer(const C *s, int base) {
  Parsed<C> r;
  r.end = s;
  if (s == nullptr || base < 0 || base == 1 || base > 36) {
    return r;
  }
  const C *p = s;
  while (is_space(*p)) {
    ++p;
  }
  if (*p == '-' || *p == '+') {
    r.negative = *p == '-';
    ++p;
  }
  if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
      digit_value(p[2]) < 16) {
    p += 2;
    base = 16;
  } else if (base == 0) {
    base = p[0] == '0' ? 8 : 10;
  }
  for (int d; (d = digit_value(*p)) < base; ++p) {
    r.any_digits = true;
    uint64_t next = r.magnitude * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    if (r.magnitude > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) {
      r.overflow = true;
    }
    r.magnitude = next;
  }
  r.end = r.any_digits ? p : s;
  return r;
}

template <typename C> void set_end(C **end, const C *at) {
  if (end != nullptr) {
    *end = const_cast<C *>(at);
  }
}

// A signed result clamped to [min, max] (ERANGE when clamped).
template <typename C> int64_t to_signed(const C *s, C **end, int base, int64_t min, int64_t max) {
  Parsed<C> r = parse_integer(s, base);
  set_end(end, r.end);
  if (r.negative) {
    uint64_t limit = static_cast<uint64_t>(-(min + 1)) + 1;
    if (r.overflow || r.magnitude > limit) {
      errno = ERANGE;
      return min;
    }
    return r.magnitude == limit ? min : -static_cast<int64_t>(r.magnitude);
  }
  if (r.overflow || r.magnitude > static_cast<uint64_t>(max)) {
    errno = ERANGE;
    return max;
  }
  return static_cast<int64_t>(r.magnitude);
}

// An unsigned result of `max` (a power of two minus one); a negative sign negates in that width.
template <typename C> uint64_t to_unsigned(const C *s, C **end, int base, uint64_t max) {
  Parsed<C> r = parse_integer(s, base);
  set_end(end, r.end);
  if (r.overflow || r.magnitude > max) {
    errno = ERANGE;
    return max;
  }
  return r.negative ? (0 - r.magnitude) & max : r.magnitude;
}

// ---- Number to text --------------------------------------------------------------------------

template <typename C>
C *to_text(uint64_t magnitude, bool negative, C *buffer, int radix, const char *function) {
  if (buffer == nullptr) {
    invalid_parameter(function, "the buffer is NULL");
    return buffer;
  }
  if (radix < 2 || radix > 36) {
    invalid_parameter(function, "the radix is not between 2 and 36");
    buffer[0] = 0;
    return buffer;
  }
  char digits[65];
  size_t n = 0;
  do {
    digits[n++] = "0123456789abcdefghijklmnopqrstuvwxyz"[magnitude % static_cast<unsigned>(radix)];
    magnitude /= static_cast<unsigned>(radix);
  } while (magnitude != 0);
  size_t out = 0;
  if (negative) {
    buffer[out++] = '-';
  }
  while (n > 0) {
    buffer[out++] = static_cast<C>(digits[--n]);
  }
  buffer[out] = 0;
  return buffer;
}

// Signed values print with a sign in radix 10 only; in other radixes their bits (of `width`
// bits) print as an unsigned number, as the Windows functions do.
template <typename C>
C *signed_to_text(int64_t value, unsigned width, C *buffer, int radix, const char *function) {
  if (radix == 10 && value < 0) {
    return to_text(0 - static_cast<uint64_t>(value), true, buffer, radix, function);
  }
  uint64_t bits = static_cast<uint64_t>(value);
  if (width < 64) {
    bits &= (uint64_t{1} << width) - 1;
  }
  return to_text(bits, false, buffer, radix, function);
}

template <typename C> C *case_convert(C *s, bool upper, const char *function) {
  if (s == nullptr) {
    invalid_parameter(function, "the string is NULL");
    return s;
  }
  for (C *p = s; *p != 0; ++p) {
    unsigned v = value(*p);
    *p = static_cast<C>(upper ? ascii_upper(v) : ascii_lower(v));
  }
  return s;
}

} // namespace

namespace uwsk::nt {

std::size_t wide_length(PCWSTR s) {
  return length(s);
}

} // namespace uwsk::nt

// ---- The wcs* and wmem* family -----------------------------------------------------------------

extern "C" size_t uwsk_wcslen(const WCHAR *String) {
  return length(String);
}

extern "C" size_t uwsk_wcsnlen(const WCHAR *String, size_t MaxCount) {
  return length_max(String, MaxCount);
}

extern "C" WCHAR *uwsk_wcscpy(WCHAR *Destination, const WCHAR *Source) {
  size_t n = length(Source);
  std::memmove(Destination, Source, (n + 1) * sizeof(WCHAR));
  return Destination;
}

// Copies at most Count characters and pads with NULs up to Count (C semantics: no terminator
// when Source has Count characters or more).
extern "C" WCHAR *uwsk_wcsncpy(WCHAR *Destination, const WCHAR *Source, size_t Count) {
  size_t n = length_max(Source, Count);
  std::memmove(Destination, Source, n * sizeof(WCHAR));
  for (size_t i = n; i < Count; ++i) {
    Destination[i] = 0;
  }
  return Destination;
}

extern "C" WCHAR *uwsk_wcscat(WCHAR *Destination, const WCHAR *Source) {
  uwsk_wcscpy(Destination + length(Destination), Source);
  return Destination;
}

// Appends at most Count characters, then a terminator.
extern "C" WCHAR *uwsk_wcsncat(WCHAR *Destination, const WCHAR *Source, size_t Count) {
  WCHAR *end = Destination + length(Destination);
  size_t n = length_max(Source, Count);
  std::memmove(end, Source, n * sizeof(WCHAR));
  end[n] = 0;
  return Destination;
}

extern "C" int uwsk_wcscmp(const WCHAR *String1, const WCHAR *String2) {
  return compare_n(String1, String2, SIZE_MAX, false);
}

extern "C" int uwsk_wcsncmp(const WCHAR *String1, const WCHAR *String2, size_t Count) {
  return compare_n(String1, String2, Count, false);
}

extern "C" size_t uwsk_wcsspn(const WCHAR *String, const WCHAR *Accept) {
  size_t n = 0;
  while (String[n] != 0 && contains(Accept, String[n])) {
    ++n;
  }
  return n;
}

extern "C" size_t uwsk_wcscspn(const WCHAR *String, const WCHAR *Reject) {
  size_t n = 0;
  while (String[n] != 0 && !contains(Reject, String[n])) {
    ++n;
  }
  return n;
}

extern "C" WCHAR *uwsk_wcspbrk(const WCHAR *String, const WCHAR *Accept) {
  const WCHAR *p = String + uwsk_wcscspn(String, Accept);
  return *p != 0 ? const_cast<WCHAR *>(p) : nullptr;
}

// The terminator itself can be found (Character 0).
extern "C" WCHAR *uwsk_wcschr(const WCHAR *String, WCHAR Character) {
  for (const WCHAR *p = String;; ++p) {
    if (*p == Character) {
      return const_cast<WCHAR *>(p);
    }
    if (*p == 0) {
      return nullptr;
    }
  }
}

extern "C" WCHAR *uwsk_wcsrchr(const WCHAR *String, WCHAR Character) {
  const WCHAR *found = nullptr;
  for (const WCHAR *p = String;; ++p) {
    if (*p == Character) {
      found = p;
    }
    if (*p == 0) {
      return const_cast<WCHAR *>(found);
    }
  }
}

extern "C" WCHAR *uwsk_wcsstr(const WCHAR *String, const WCHAR *Search) {
  size_t n = length(Search);
  if (n == 0) {
    return const_cast<WCHAR *>(String);
  }
  for (const WCHAR *p = String; *p != 0; ++p) {
    if (*p == Search[0] && compare_n(p, Search, n, false) == 0) {
      return const_cast<WCHAR *>(p);
    }
  }
  return nullptr;
}

extern "C" int uwsk_wmemcmp(const WCHAR *Buffer1, const WCHAR *Buffer2, size_t Count) {
  for (size_t i = 0; i < Count; ++i) {
    if (Buffer1[i] != Buffer2[i]) {
      return Buffer1[i] < Buffer2[i] ? -1 : 1;
    }
  }
  return 0;
}

extern "C" WCHAR *uwsk_wmemcpy(WCHAR *Destination, const WCHAR *Source, size_t Count) {
  if (Count != 0) {
    std::memcpy(Destination, Source, Count * sizeof(WCHAR));
  }
  return Destination;
}

extern "C" WCHAR *uwsk_wmemmove(WCHAR *Destination, const WCHAR *Source, size_t Count) {
  if (Count != 0) {
    std::memmove(Destination, Source, Count * sizeof(WCHAR));
  }
  return Destination;
}

extern "C" WCHAR *uwsk_wmemset(WCHAR *Destination, WCHAR Character, size_t Count) {
  for (size_t i = 0; i < Count; ++i) {
    Destination[i] = Character;
  }
  return Destination;
}

extern "C" WCHAR *uwsk_wmemchr(const WCHAR *Buffer, WCHAR Character, size_t Count) {
  for (size_t i = 0; i < Count; ++i) {
    if (Buffer[i] == Character) {
      return const_cast<WCHAR *>(Buffer + i);
    }
  }
  return nullptr;
}

// ---- Text to number ----------------------------------------------------------------------------

// wcstol and wcstoul have the Windows ranges (LONG, ULONG: 32 bits) although glibc's prototype,
// which a driver sees, returns a 64-bit long.
extern "C" long uwsk_wcstol(const WCHAR *String, WCHAR **End, int Base) {
  return static_cast<long>(to_signed(String, End, Base, INT32_MIN, INT32_MAX));
}

extern "C" unsigned long uwsk_wcstoul(const WCHAR *String, WCHAR **End, int Base) {
  return static_cast<unsigned long>(to_unsigned(String, End, Base, UINT32_MAX));
}

extern "C" long long uwsk_wcstoll(const WCHAR *String, WCHAR **End, int Base) {
  return to_signed(String, End, Base, INT64_MIN, INT64_MAX);
}

extern "C" unsigned long long uwsk_wcstoull(const WCHAR *String, WCHAR **End, int Base) {
  return to_unsigned(String, End, Base, UINT64_MAX);
}

extern "C" LONGLONG __cdecl _wcstoi64(const WCHAR *String, WCHAR **End, int Base) {
  return to_signed(String, End, Base, INT64_MIN, INT64_MAX);
}

extern "C" ULONGLONG __cdecl _wcstoui64(const WCHAR *String, WCHAR **End, int Base) {
  return to_unsigned(String, End, Base, UINT64_MAX);
}

extern "C" LONGLONG __cdecl _strtoi64(const char *String, char **End, int Base) {
  return to_signed(String, End, Base, INT64_MIN, INT64_MAX);
}

extern "C" ULONGLONG __cdecl _strtoui64(const char *String, char **End, int Base) {
  return to_unsigned(String, End, Base, UINT64_MAX);
}

extern "C" int __cdecl _wtoi(const WCHAR *String) {
  return static_cast<int>(to_signed<Wide>(String, nullptr, 10, INT32_MIN, INT32_MAX));
}

extern "C" LONG __cdecl _wtol(const WCHAR *String) {
  return static_cast<LONG>(to_signed<Wide>(String, nullptr, 10, INT32_MIN, INT32_MAX));
}

extern "C" LONGLONG __cdecl _wtoi64(const WCHAR *String) {
  return to_signed<Wide>(String, nullptr, 10, INT64_MIN, INT64_MAX);
}

extern "C" LONGLONG __cdecl _atoi64(const char *String) {
  return to_signed<char>(String, nullptr, 10, INT64_MIN, INT64_MAX);
}

// ---- Number to text ----------------------------------------------------------------------------

// Deliberate family (duplicates): the CRT integer-to-text exports (_itoa, _ltoa, ... and their W
// forms), each one call of to_text or signed_to_text.
extern "C" char *__cdecl _itoa(int Value, char *Buffer, int Radix) {
  return signed_to_text(Value, 32, Buffer, Radix, "_itoa");
}
extern "C" char *__cdecl _ltoa(LONG Value, char *Buffer, int Radix) {
  return signed_to_text(Value, 32, Buffer, Radix, "_ltoa");
}
extern "C" char *__cdecl _ultoa(ULONG Value, char *Buffer, int Radix) {
  return to_text(Value, false, Buffer, Radix, "_ultoa");
}
extern "C" char *__cdecl _i64toa(LONGLONG Value, char *Buffer, int Radix) {
  return signed_to_text(Value, 64, Buffer, Radix, "_i64toa");
}
extern "C" char *__cdecl _ui64toa(ULONGLONG Value, char *Buffer, int Radix) {
  return to_text(Value, false, Buffer, Radix, "_ui64toa");
}
extern "C" WCHAR *__cdecl _itow(int Value, WCHAR *Buffer, int Radix) {
  return signed_to_text(Value, 32, Buffer, Radix, "_itow");
}
extern "C" WCHAR *__cdecl _ltow(LONG Value, WCHAR *Buffer, int Radix) {
  return signed_to_text(Value, 32, Buffer, Radix, "_ltow");
}
extern "C" WCHAR *__cdecl _ultow(ULONG Value, WCHAR *Buffer, int Radix) {
  return to_text(Value, false, Buffer, Radix, "_ultow");
}
extern "C" WCHAR *__cdecl _i64tow(LONGLONG Value, WCHAR *Buffer, int Radix) {
  return signed_to_text(Value, 64, Buffer, Radix, "_i64tow");
}
extern "C" WCHAR *__cdecl _ui64tow(ULONGLONG Value, WCHAR *Buffer, int Radix) {
  return to_text(Value, false, Buffer, Radix, "_ui64tow");
}

// ---- Case ---------------------------------------------------------------------------------------

// WEOF and everything outside A-Z / a-z come back unchanged.
extern "C" unsigned int uwsk_towlower(unsigned int Character) {
  return ascii_lower(Character);
}

extern "C" unsigned int uwsk_towupper(unsigned int Character) {
  return ascii_upper(Character);
}

extern "C" int __cdecl _stricmp(const char *String1, const char *String2) {
  if (String1 == nullptr || String2 == nullptr) {
    invalid_parameter("_stricmp", "a string is NULL");
    return _NLSCMPERROR;
  }
  return compare_n(String1, String2, SIZE_MAX, true);
}

extern "C" int __cdecl _strnicmp(const char *String1, const char *String2, size_t Count) {
  if (Count != 0 && (String1 == nullptr || String2 == nullptr)) {
    invalid_parameter("_strnicmp", "a string is NULL");
    return _NLSCMPERROR;
  }
  return compare_n(String1, String2, Count, true);
}

extern "C" int __cdecl _wcsicmp(const WCHAR *String1, const WCHAR *String2) {
  if (String1 == nullptr || String2 == nullptr) {
    invalid_parameter("_wcsicmp", "a string is NULL");
    return _NLSCMPERROR;
  }
  return compare_n(String1, String2, SIZE_MAX, true);
}

extern "C" int __cdecl _wcsnicmp(const WCHAR *String1, const WCHAR *String2, size_t Count) {
  if (Count != 0 && (String1 == nullptr || String2 == nullptr)) {
    invalid_parameter("_wcsnicmp", "a string is NULL");
    return _NLSCMPERROR;
  }
  return compare_n(String1, String2, Count, true);
}

extern "C" char *__cdecl _strlwr(char *String) {
  return case_convert(String, false, "_strlwr");
}
extern "C" char *__cdecl _strupr(char *String) {
  return case_convert(String, true, "_strupr");
}
extern "C" WCHAR *__cdecl _wcslwr(WCHAR *String) {
  return case_convert(String, false, "_wcslwr");
}
extern "C" WCHAR *__cdecl _wcsupr(WCHAR *String) {
  return case_convert(String, true, "_wcsupr");
}

// ---- Multibyte (UTF-8) and wide (UTF-16) -------------------------------------------------------

// Converts UTF-8 to UTF-16: without a destination, the length the result needs; otherwise at most
// Count units (a pair is never split), terminated when there is room. (size_t)-1 for malformed
// input.
extern "C" size_t uwsk_mbstowcs(WCHAR *Destination, const char *Source, size_t Count) {
  if (Source == nullptr) {
    invalid_parameter("mbstowcs", "the source is NULL");
    return static_cast<size_t>(-1);
  }
  size_t in_len = std::strlen(Source);
  size_t in = 0;
  size_t out = 0;
  while (in < in_len) {
    char32_t cp;
    bool valid;
    size_t used = uwsk::nt::utf::decode_utf8(Source + in, in_len - in, cp, valid);
    if (!valid) {
      errno = EILSEQ;
      return static_cast<size_t>(-1);
    }
    char16_t units[2];
    size_t n = uwsk::nt::utf::encode_utf16(cp, units);
    if (Destination != nullptr) {
      if (out + n > Count) {
        return out;
      }
      for (size_t i = 0; i < n; ++i) {
        Destination[out + i] = units[i];
      }
    }
    out += n;
    in += used;
  }
  if (Destination != nullptr && out < Count) {
    Destination[out] = 0;
  }
  return out;
}

// Converts UTF-16 to UTF-8: without a destination, the bytes the result needs; otherwise at most
// Count bytes (a character is never split), terminated when there is room. (size_t)-1 for a
// lone surrogate.
extern "C" size_t uwsk_wcstombs(char *Destination, const WCHAR *Source, size_t Count) {
  if (Source == nullptr) {
    invalid_parameter("wcstombs", "the source is NULL");
    return static_cast<size_t>(-1);
  }
  size_t in_len = length(Source);
  size_t in = 0;
  size_t out = 0;
  while (in < in_len) {
    char32_t cp;
    bool valid;
    size_t used = uwsk::nt::utf::decode_utf16(Source + in, in_len - in, cp, valid);
    if (!valid) {
      errno = EILSEQ;
      return static_cast<size_t>(-1);
    }
    char bytes[4];
    size_t n = uwsk::nt::utf::encode_utf8(cp, bytes);
    if (Destination != nullptr) {
      if (out + n > Count) {
        return out;
      }
      std::memcpy(Destination + out, bytes, n);
    }
    out += n;
    in += used;
  }
  if (Destination != nullptr && out < Count) {
    Destination[out] = 0;
  }
  return out;
}

// One UTF-8 character of at most Count bytes; -1 when it is malformed, incomplete or outside the
// Basic Multilingual Plane (one WCHAR cannot hold it).
extern "C" int uwsk_mbtowc(WCHAR *Destination, const char *Source, size_t Count) {
  if (Source == nullptr) {
    return 0; // stateless
  }
  if (Count == 0) {
    return -1;
  }
  if (*Source == 0) {
    if (Destination != nullptr) {
      *Destination = 0;
    }
    return 0;
  }
  char32_t cp;
  bool valid;
  size_t used = uwsk::nt::utf::decode_utf8(Source, Count, cp, valid);
  if (!valid || cp > 0xFFFF) {
    errno = EILSEQ;
    return -1;
  }
  if (Destination != nullptr) {
    *Destination = static_cast<WCHAR>(cp);
  }
  return static_cast<int>(used);
}

// The UTF-8 bytes of one WCHAR (at most 3); -1 for a surrogate.
extern "C" int uwsk_wctomb(char *Destination, WCHAR Character) {
  if (Destination == nullptr) {
    return 0; // stateless
  }
  if (Character >= 0xD800 && Character <= 0xDFFF) {
    errno = EILSEQ;
    return -1;
  }
  return static_cast<int>(uwsk::nt::utf::encode_utf8(Character, Destination));
}

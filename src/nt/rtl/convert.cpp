// Conversions: UTF-16 <-> ANSI (UTF-8 here) and UTF-8, integers <-> text, GUIDs <-> text.
#include <cstdio>
#include <cstring>

#include <wdm.h>

#include "nt/rtl/rtl.hpp"
#include "nt/rtl/utf.hpp"

namespace uwsk::nt {
namespace {

struct Converted {
  size_t units = 0;    // output units produced (or needed)
  size_t consumed = 0; // input units consumed
  bool all_valid = true;
  bool truncated = false;
};

// UTF-8 -> UTF-16 into out[0..capacity) (out may be nullptr to count). Stops before a code
// point that does not fit whole.
Converted utf8_to_utf16(const char *src, size_t n, char16_t *out, size_t capacity) {
  Converted r;
  while (r.consumed < n) {
    char32_t cp;
    bool valid;
    size_t used = utf::decode_utf8(src + r.consumed, n - r.consumed, cp, valid);
    char16_t buf[2];
    size_t len = utf::encode_utf16(cp, buf);
    if (out != nullptr && r.units + len > capacity) {
      r.truncated = true;
      break;
    }
    if (out != nullptr) {
      std::memcpy(out + r.units, buf, len * sizeof(char16_t));
    }
    r.units += len;
    r.consumed += used;
    r.all_valid = r.all_valid && valid;
  }
  return r;
}

// UTF-16 -> UTF-8, same conventions.
Converted utf16_to_utf8(const char16_t *src, size_t n, char *out, size_t capacity) {
  Converted r;
  while (r.consumed < n) {
    char32_t cp;
    bool valid;
    size_t used = utf::decode_utf16(src + r.consumed, n - r.consumed, cp, valid);
    char buf[4];
    size_t len = utf::encode_utf8(cp, buf);
    if (out != nullptr && r.units + len > capacity) {
      r.truncated = true;
      break;
    }
    if (out != nullptr) {
      std::memcpy(out + r.units, buf, len);
    }
    r.units += len;
    r.consumed += used;
    r.all_valid = r.all_valid && valid;
  }
  return r;
}

const char16_t *wide(PCWCH p) {
  return reinterpret_cast<const char16_t *>(p);
}
char16_t *wide(PWCH p) {
  return reinterpret_cast<char16_t *>(p);
}

// The narrow (ANSI or UTF-8) -> UNICODE_STRING conversion. A destination that is too small is
// left unchanged (STATUS_BUFFER_OVERFLOW).
NTSTATUS narrow_to_unicode(PUNICODE_STRING dest, const STRING *src, BOOLEAN allocate,
                           bool report_unmapped) {
  Converted need = utf8_to_utf16(src->Buffer, src->Length, nullptr, 0);
  size_t bytes = need.units * sizeof(WCHAR);
  if (bytes + sizeof(WCHAR) > MAXUSHORT) {
    return STATUS_INVALID_PARAMETER_2;
  }
  if (allocate) {
    auto *buffer = static_cast<PWSTR>(allocate_string_buffer(bytes + sizeof(WCHAR)));
    if (buffer == nullptr) {
      return STATUS_NO_MEMORY;
    }
    dest->Buffer = buffer;
    dest->MaximumLength = static_cast<USHORT>(bytes + sizeof(WCHAR));
  } else if (bytes > dest->MaximumLength) {
    return STATUS_BUFFER_OVERFLOW;
  }
  utf8_to_utf16(src->Buffer, src->Length, wide(dest->Buffer), need.units);
  dest->Length = static_cast<USHORT>(bytes);
  if (bytes + sizeof(WCHAR) <= dest->MaximumLength) {
    dest->Buffer[need.units] = 0;
  }
  return report_unmapped && !need.all_valid ? STATUS_SOME_NOT_MAPPED : STATUS_SUCCESS;
}

// The UNICODE_STRING -> narrow conversion. A destination that is too small receives what fits
// (whole characters, NUL-terminated) and STATUS_BUFFER_OVERFLOW.
NTSTATUS unicode_to_narrow(PSTRING dest, PCUNICODE_STRING src, BOOLEAN allocate,
                           bool report_unmapped) {
  size_t n = src->Length / sizeof(WCHAR);
  Converted need = utf16_to_utf8(wide(src->Buffer), n, nullptr, 0);
  if (need.units + 1 > MAXUSHORT) {
    return STATUS_INVALID_PARAMETER_2;
  }
  NTSTATUS status = report_unmapped && !need.all_valid ? STATUS_SOME_NOT_MAPPED : STATUS_SUCCESS;
  if (allocate) {
    auto *buffer = static_cast<PCHAR>(allocate_string_buffer(need.units + 1));
    if (buffer == nullptr) {
      return STATUS_NO_MEMORY;
    }
    dest->Buffer = buffer;
    dest->MaximumLength = static_cast<USHORT>(need.units + 1);
  } else if (need.units + 1 > dest->MaximumLength) {
    if (dest->MaximumLength == 0) {
      return STATUS_BUFFER_OVERFLOW;
    }
    Converted done = utf16_to_utf8(wide(src->Buffer), n, dest->Buffer, dest->MaximumLength - 1u);
    dest->Buffer[done.units] = 0;
    dest->Length = static_cast<USHORT>(done.units);
    return STATUS_BUFFER_OVERFLOW;
  }
  utf16_to_utf8(wide(src->Buffer), n, dest->Buffer, need.units);
  dest->Buffer[need.units] = 0;
  dest->Length = static_cast<USHORT>(need.units);
  return status;
}

constexpr char digit_chars[] = "0123456789ABCDEF";

// Renders value in base (2, 8, 10 or 16; 0 means 10) into out; returns the digit count or 0
// for a bad base.
size_t render_number(ULONGLONG value, ULONG base, char *out) {
  if (base == 0) {
    base = 10;
  }
  if (base != 2 && base != 8 && base != 10 && base != 16) {
    return 0;
  }
  char tmp[64];
  size_t n = 0;
  do {
    tmp[n++] = digit_chars[value % base];
    value /= base;
  } while (value != 0);
  for (size_t i = 0; i < n; ++i) {
    out[i] = tmp[n - 1 - i];
  }
  return n;
}

NTSTATUS number_to_unicode(ULONGLONG value, ULONG base, PUNICODE_STRING string) {
  char digits[64];
  size_t n = render_number(value, base, digits);
  if (n == 0) {
    return STATUS_INVALID_PARAMETER;
  }
  if (n * sizeof(WCHAR) > string->MaximumLength) {
    return STATUS_BUFFER_OVERFLOW;
  }
  for (size_t i = 0; i < n; ++i) {
    string->Buffer[i] = static_cast<WCHAR>(digits[i]);
  }
  string->Length = static_cast<USHORT>(n * sizeof(WCHAR));
  if (string->Length + sizeof(WCHAR) <= string->MaximumLength) {
    string->Buffer[n] = 0;
  }
  return STATUS_SUCCESS;
}

// Parses as Windows does: leading white space, an optional sign, then (Base 0) an optional
// 0x / 0o / 0b prefix, then digits up to the first character that is not one. The sign negates
// the unsigned result.
template <typename CharT>
NTSTATUS parse_number(const CharT *s, size_t n, ULONG base, PULONG value) {
  if (base != 0 && base != 2 && base != 8 && base != 10 && base != 16) {
    return STATUS_INVALID_PARAMETER;
  }
  size_t i = 0;
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\v' ||
                   s[i] == '\f')) {
    ++i;
  }
  bool negative = false;
  if (i < n && (s[i] == '+' || s[i] == '-')) {
    negative = s[i] == '-';
    ++i;
  }
  if (base == 0) {
    base = 10;
    if (i + 1 < n && s[i] == '0') {
      if (s[i + 1] == 'x' || s[i + 1] == 'X') {
        base = 16, i += 2;
      } else if (s[i + 1] == 'o' || s[i + 1] == 'O') {
        base = 8, i += 2;
      } else if (s[i + 1] == 'b' || s[i + 1] == 'B') {
        base = 2, i += 2;
      }
    }
  }
  ULONG result = 0;
  for (; i < n; ++i) {
    int d = digit_value(static_cast<char32_t>(s[i]));
    if (d >= static_cast<int>(base)) {
      break;
    }
    result = result * base + static_cast<ULONG>(d);
  }
  *value = negative ? 0u - result : result;
  return STATUS_SUCCESS;
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

// Deliberate family (duplicates): the Rtl string conversion exports (ANSI, OEM and UTF-8 to and
// from Unicode), each one call of narrow_to_unicode or unicode_to_narrow.
// RtlAnsiStringToUnicodeString: ANSI (read as UTF-8) to UTF-16, NUL-terminated when it fits.
extern "C" NTSTATUS NTAPI RtlAnsiStringToUnicodeString(PUNICODE_STRING DestinationString,
                                                       PCANSI_STRING SourceString,
                                                       BOOLEAN AllocateDestinationString) {
  return narrow_to_unicode(DestinationString, SourceString, AllocateDestinationString, false);
}

// RtlUnicodeStringToAnsiString: UTF-16 to ANSI (written as UTF-8), always NUL-terminated.
extern "C" NTSTATUS NTAPI RtlUnicodeStringToAnsiString(PANSI_STRING DestinationString,
                                                       PCUNICODE_STRING SourceString,
                                                       BOOLEAN AllocateDestinationString) {
  return unicode_to_narrow(DestinationString, SourceString, AllocateDestinationString, false);
}

// RtlUTF8StringToUnicodeString: UTF-8 to UTF-16; STATUS_SOME_NOT_MAPPED when input was
// malformed (replaced by U+FFFD).
extern "C" NTSTATUS NTAPI RtlUTF8StringToUnicodeString(PUNICODE_STRING DestinationString,
                                                       PCUTF8_STRING SourceString,
                                                       BOOLEAN AllocateDestinationString) {
  return narrow_to_unicode(DestinationString, SourceString, AllocateDestinationString, true);
}

// RtlUnicodeStringToUTF8String: UTF-16 to UTF-8; STATUS_SOME_NOT_MAPPED for lone surrogates.
extern "C" NTSTATUS NTAPI RtlUnicodeStringToUTF8String(PUTF8_STRING DestinationString,
                                                       PCUNICODE_STRING SourceString,
                                                       BOOLEAN AllocateDestinationString) {
  return unicode_to_narrow(DestinationString, SourceString, AllocateDestinationString, true);
}

// RtlUTF8ToUnicodeN: converts (or sizes, when the destination is NULL) a UTF-8 buffer.
extern "C" NTSTATUS NTAPI RtlUTF8ToUnicodeN(PWSTR UnicodeStringDestination,
                                            ULONG UnicodeStringMaxByteCount,
                                            PULONG UnicodeStringActualByteCount,
                                            PCCH UTF8StringSource, ULONG UTF8StringByteCount) {
  if (UnicodeStringDestination == nullptr && UnicodeStringActualByteCount == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  if (UTF8StringSource == nullptr) {
    return STATUS_INVALID_PARAMETER_4;
  }
  size_t capacity = UnicodeStringMaxByteCount / sizeof(WCHAR);
  Converted r = utf8_to_utf16(UTF8StringSource, UTF8StringByteCount, wide(UnicodeStringDestination),
                              capacity);
  if (UnicodeStringActualByteCount != nullptr) {
    *UnicodeStringActualByteCount = static_cast<ULONG>(r.units * sizeof(WCHAR));
  }
  if (r.truncated) {
    return STATUS_BUFFER_TOO_SMALL;
  }
  return r.all_valid ? STATUS_SUCCESS : STATUS_SOME_NOT_MAPPED;
}

// RtlUnicodeToUTF8N: converts (or sizes, when the destination is NULL) a UTF-16 buffer.
extern "C" NTSTATUS NTAPI RtlUnicodeToUTF8N(PCHAR UTF8StringDestination,
                                            ULONG UTF8StringMaxByteCount,
                                            PULONG UTF8StringActualByteCount,
                                            PCWCH UnicodeStringSource,
                                            ULONG UnicodeStringByteCount) {
  if (UTF8StringDestination == nullptr && UTF8StringActualByteCount == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  if (UnicodeStringSource == nullptr) {
    return STATUS_INVALID_PARAMETER_4;
  }
  if (UnicodeStringByteCount % sizeof(WCHAR) != 0) {
    return STATUS_INVALID_PARAMETER_5;
  }
  Converted r = utf16_to_utf8(wide(UnicodeStringSource), UnicodeStringByteCount / sizeof(WCHAR),
                              UTF8StringDestination, UTF8StringMaxByteCount);
  if (UTF8StringActualByteCount != nullptr) {
    *UTF8StringActualByteCount = static_cast<ULONG>(r.units);
  }
  if (r.truncated) {
    return STATUS_BUFFER_TOO_SMALL;
  }
  return r.all_valid ? STATUS_SUCCESS : STATUS_SOME_NOT_MAPPED;
}

// RtlxAnsiStringToUnicodeSize: bytes the UTF-16 form needs, terminator included.
extern "C" ULONG NTAPI RtlxAnsiStringToUnicodeSize(PCANSI_STRING AnsiString) {
  Converted need = utf8_to_utf16(AnsiString->Buffer, AnsiString->Length, nullptr, 0);
  return static_cast<ULONG>((need.units + 1) * sizeof(WCHAR));
}

// RtlxUnicodeStringToAnsiSize: bytes the ANSI (UTF-8) form needs, terminator included.
extern "C" ULONG NTAPI RtlxUnicodeStringToAnsiSize(PCUNICODE_STRING UnicodeString) {
  Converted need =
      utf16_to_utf8(wide(UnicodeString->Buffer), UnicodeString->Length / sizeof(WCHAR), nullptr, 0);
  return static_cast<ULONG>(need.units + 1);
}

// RtlIntegerToUnicodeString: Value in base 2, 8, 10 or 16 (0 = 10), upper-case digits.
extern "C" NTSTATUS NTAPI RtlIntegerToUnicodeString(ULONG Value, ULONG Base,
                                                    PUNICODE_STRING String) {
  return number_to_unicode(Value, Base, String);
}

// RtlInt64ToUnicodeString: RtlIntegerToUnicodeString for 64-bit values.
extern "C" NTSTATUS NTAPI RtlInt64ToUnicodeString(ULONGLONG Value, ULONG Base,
                                                  PUNICODE_STRING String) {
  return number_to_unicode(Value, Base, String);
}

// RtlIntegerToChar: Value as narrow digits into String (OutputLength bytes); NUL-terminated
// when there is room.
extern "C" NTSTATUS NTAPI RtlIntegerToChar(ULONG Value, ULONG Base, LONG OutputLength, PSZ String) {
  char digits[64];
  size_t n = render_number(Value, Base, digits);
  if (n == 0) {
    return STATUS_INVALID_PARAMETER;
  }
  if (OutputLength < 0 || static_cast<size_t>(OutputLength) < n) {
    return STATUS_BUFFER_OVERFLOW;
  }
  std::memcpy(String, digits, n);
  if (static_cast<size_t>(OutputLength) > n) {
    String[n] = '\0';
  }
  return STATUS_SUCCESS;
}

// RtlUnicodeStringToInteger: parses a number (see parse_number for the accepted text).
extern "C" NTSTATUS NTAPI RtlUnicodeStringToInteger(PCUNICODE_STRING String, ULONG Base,
                                                    PULONG Value) {
  return parse_number(String->Buffer, String->Length / sizeof(WCHAR), Base, Value);
}

// RtlCharToInteger: parses a NUL-terminated narrow number.
extern "C" NTSTATUS NTAPI RtlCharToInteger(PCSZ String, ULONG Base, PULONG Value) {
  return parse_number(String, std::strlen(String), Base, Value);
}

// RtlStringFromGUID: allocates "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" (upper-case hex).
extern "C" NTSTATUS NTAPI RtlStringFromGUID(REFGUID Guid, PUNICODE_STRING GuidString) {
  const GUID &g = Guid;
  char text[39];
  std::snprintf(text, sizeof text, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", g.Data1,
                g.Data2, g.Data3, g.Data4[0], g.Data4[1], g.Data4[2], g.Data4[3], g.Data4[4],
                g.Data4[5], g.Data4[6], g.Data4[7]);
  auto *buffer = static_cast<PWSTR>(allocate_string_buffer(39 * sizeof(WCHAR)));
  if (buffer == nullptr) {
    return STATUS_NO_MEMORY;
  }
  for (size_t i = 0; i < 39; ++i) {
    buffer[i] = static_cast<WCHAR>(text[i]);
  }
  GuidString->Buffer = buffer;
  GuidString->Length = 38 * sizeof(WCHAR);
  GuidString->MaximumLength = 39 * sizeof(WCHAR);
  return STATUS_SUCCESS;
}

// RtlGUIDFromString: parses the braced form RtlStringFromGUID writes (either case).
extern "C" NTSTATUS NTAPI RtlGUIDFromString(PCUNICODE_STRING GuidString, GUID *Guid) {
  if (GuidString == nullptr || Guid == nullptr || GuidString->Buffer == nullptr ||
      GuidString->Length != 38 * sizeof(WCHAR)) {
    return STATUS_INVALID_PARAMETER;
  }
  const WCHAR *s = GuidString->Buffer;
  static constexpr char layout[] = "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}";
  UCHAR nibbles[32];
  size_t k = 0;
  for (size_t i = 0; i < 38; ++i) {
    if (layout[i] == 'X') {
      int d = digit_value(static_cast<char32_t>(s[i]));
      if (d > 15) {
        return STATUS_INVALID_PARAMETER;
      }
      nibbles[k++] = static_cast<UCHAR>(d);
    } else if (s[i] != static_cast<WCHAR>(layout[i])) {
      return STATUS_INVALID_PARAMETER;
    }
  }
  auto take = [&](size_t first, size_t count) {
    ULONGLONG v = 0;
    for (size_t i = 0; i < count; ++i) {
      v = (v << 4) | nibbles[first + i];
    }
    return v;
  };
  Guid->Data1 = static_cast<ULONG>(take(0, 8));
  Guid->Data2 = static_cast<USHORT>(take(8, 4));
  Guid->Data3 = static_cast<USHORT>(take(12, 4));
  for (size_t i = 0; i < 8; ++i) {
    Guid->Data4[i] = static_cast<UCHAR>(take(16 + 2 * i, 2));
  }
  return STATUS_SUCCESS;
}

// Counted strings: construction, copy, append, comparison, case, hashing and freeing.
//
// Buffers the functions allocate come from paged pool with UWSK_RTL_STRING_TAG and are freed
// with ExFreePool (untagged, as Windows' string free routine does), so a driver's leaked
// strings show up by tag in the leak report.
#include <clocale>
#include <cstring>
#include <cwctype>
#include <locale.h>

#include <wdm.h>

#include "nt/rtl/rtl.hpp"

namespace uwsk::nt {
namespace {

// Case mapping with the full Unicode tables of the C.UTF-8 locale (glibc 2.35+), independent of
// the process locale. Without that locale, a built-in mapping covers Latin-1, Latin Extended-A,
// Greek and Cyrillic.
locale_t unicode_locale() {
  static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return loc;
}

char16_t fallback_upcase(char16_t c) {
  if (c >= 'a' && c <= 'z') {
    return static_cast<char16_t>(c - 0x20);
  }
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3CB && c != 0x3C2) ||
      (c >= 0x430 && c <= 0x44F)) {
    return static_cast<char16_t>(c - 0x20);
  }
  if (c == 0xFF) {
    return 0x178;
  }
  if (c >= 0x450 && c <= 0x45F) {
    return static_cast<char16_t>(c - 0x50);
  }
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 &&
      c != 0x17F) {
    bool odd_is_lower = (c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177);
    if (odd_is_lower ? (c & 1) : !(c & 1)) {
      return static_cast<char16_t>(c - 1);
    }
  }
  return c;
}

char16_t fallback_downcase(char16_t c) {
  if (c >= 'A' && c <= 'Z') {
    return static_cast<char16_t>(c + 0x20);
  }
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2) ||
      (c >= 0x410 && c <= 0x42F)) {
    return static_cast<char16_t>(c + 0x20);
  }
  if (c == 0x178) {
    return 0xFF;
  }
  if (c >= 0x400 && c <= 0x40F) {
    return static_cast<char16_t>(c + 0x50);
  }
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 &&
      c != 0x17F) {
    bool even_is_upper = (c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177);
    if (even_is_upper ? !(c & 1) : (c & 1)) {
      return static_cast<char16_t>(c + 1);
    }
  }
  return c;
}

// Maps one UTF-16 unit; surrogates and results outside the BMP are left alone, as a 16-bit
// upcase table does.
char16_t map_case(char16_t c, bool upper) {
  if (c < 0x80) {
    if (upper) {
      return c >= 'a' && c <= 'z' ? static_cast<char16_t>(c - 0x20) : c;
    }
    return c >= 'A' && c <= 'Z' ? static_cast<char16_t>(c + 0x20) : c;
  }
  if (c >= 0xD800 && c <= 0xDFFF) {
    return c;
  }
  locale_t loc = unicode_locale();
  if (loc == static_cast<locale_t>(nullptr)) {
    return upper ? fallback_upcase(c) : fallback_downcase(c);
  }
  wint_t mapped = upper ? towupper_l(c, loc) : towlower_l(c, loc);
  return mapped <= 0xFFFF ? static_cast<char16_t>(mapped) : c;
}

UCHAR upper_ascii(UCHAR c) {
  return c >= 'a' && c <= 'z' ? static_cast<UCHAR>(c - 0x20) : c;
}

LONG compare_wide(PCWCH s1, size_t n1, PCWCH s2, size_t n2, bool ci) {
  size_t n = n1 < n2 ? n1 : n2;
  for (size_t i = 0; i < n; ++i) {
    WCHAR c1 = s1[i];
    WCHAR c2 = s2[i];
    if (ci) {
      c1 = map_case(c1, true);
      c2 = map_case(c2, true);
    }
    if (c1 != c2) {
      return static_cast<LONG>(c1) - static_cast<LONG>(c2);
    }
  }
  return static_cast<LONG>(n1) - static_cast<LONG>(n2);
}

LONG compare_narrow(const char *s1, size_t n1, const char *s2, size_t n2, bool ci) {
  size_t n = n1 < n2 ? n1 : n2;
  for (size_t i = 0; i < n; ++i) {
    auto c1 = static_cast<UCHAR>(s1[i]);
    auto c2 = static_cast<UCHAR>(s2[i]);
    if (ci) {
      c1 = upper_ascii(c1);
      c2 = upper_ascii(c2);
    }
    if (c1 != c2) {
      return static_cast<LONG>(c1) - static_cast<LONG>(c2);
    }
  }
  return static_cast<LONG>(n1) - static_cast<LONG>(n2);
}

NTSTATUS map_case_string(PUNICODE_STRING dest, PCUNICODE_STRING src, BOOLEAN allocate, bool upper) {
  USHORT length = src->Length & ~1;
  if (allocate) {
    auto *buffer = static_cast<PWSTR>(allocate_string_buffer(length + sizeof(WCHAR)));
    if (buffer == nullptr) {
      return STATUS_NO_MEMORY;
    }
    // The source may be the destination: read it before the destination changes.
    for (size_t i = 0; i < length / sizeof(WCHAR); ++i) {
      buffer[i] = map_case(src->Buffer[i], upper);
    }
    buffer[length / sizeof(WCHAR)] = 0;
    dest->Buffer = buffer;
    dest->MaximumLength = length;
    dest->Length = length;
    return STATUS_SUCCESS;
  }
  if (length > dest->MaximumLength) {
    return STATUS_BUFFER_OVERFLOW;
  }
  for (size_t i = 0; i < length / sizeof(WCHAR); ++i) {
    dest->Buffer[i] = map_case(src->Buffer[i], upper);
  }
  dest->Length = length;
  return STATUS_SUCCESS;
}

} // namespace

PVOID allocate_string_buffer(SIZE_T bytes) {
  return ExAllocatePool2(POOL_FLAG_PAGED, bytes, UWSK_RTL_STRING_TAG);
}

void free_string_buffer(PVOID buffer) {
  if (buffer != nullptr) {
    ExFreePool(buffer);
  }
}

WCHAR upcase_char(WCHAR c) {
  return map_case(c, true);
}

} // namespace uwsk::nt

using namespace uwsk::nt;

// RtlInitUnicodeString: points the string at a NUL-terminated buffer (clamped to MAX_USTRING).
extern "C" VOID NTAPI RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString) {
  DestinationString->Buffer = const_cast<PWSTR>(SourceString);
  if (SourceString == nullptr) {
    DestinationString->Length = DestinationString->MaximumLength = 0;
    return;
  }
  size_t bytes = wide_length(SourceString) * sizeof(WCHAR);
  if (bytes > MAX_USTRING - sizeof(WCHAR)) {
    bytes = MAX_USTRING - sizeof(WCHAR);
  }
  DestinationString->Length = static_cast<USHORT>(bytes);
  DestinationString->MaximumLength = static_cast<USHORT>(bytes + sizeof(WCHAR));
}

// RtlInitUnicodeStringEx: RtlInitUnicodeString that fails with STATUS_NAME_TOO_LONG.
extern "C" NTSTATUS NTAPI RtlInitUnicodeStringEx(PUNICODE_STRING DestinationString,
                                                 PCWSTR SourceString) {
  DestinationString->Length = DestinationString->MaximumLength = 0;
  DestinationString->Buffer = const_cast<PWSTR>(SourceString);
  if (SourceString == nullptr) {
    return STATUS_SUCCESS;
  }
  size_t bytes = wide_length(SourceString) * sizeof(WCHAR);
  if (bytes > MAX_USTRING - sizeof(WCHAR)) {
    return STATUS_NAME_TOO_LONG;
  }
  DestinationString->Length = static_cast<USHORT>(bytes);
  DestinationString->MaximumLength = static_cast<USHORT>(bytes + sizeof(WCHAR));
  return STATUS_SUCCESS;
}

namespace {

// The narrow Init functions: Length at most MAXUSHORT - 1 so that the NUL still counts in
// MaximumLength.
NTSTATUS init_narrow(PSTRING dest, PCSZ source, bool clamp) {
  dest->Buffer = const_cast<PCHAR>(source);
  dest->Length = dest->MaximumLength = 0;
  if (source == nullptr) {
    return STATUS_SUCCESS;
  }
  size_t bytes = std::strlen(source);
  if (bytes > MAXUSHORT - 1) {
    if (!clamp) {
      return STATUS_NAME_TOO_LONG;
    }
    bytes = MAXUSHORT - 1;
  }
  dest->Length = static_cast<USHORT>(bytes);
  dest->MaximumLength = static_cast<USHORT>(bytes + 1);
  return STATUS_SUCCESS;
}

} // namespace

// RtlInitAnsiString: points the string at a NUL-terminated buffer.
extern "C" VOID NTAPI RtlInitAnsiString(PANSI_STRING DestinationString, PCSZ SourceString) {
  init_narrow(DestinationString, SourceString, true);
}

// RtlInitAnsiStringEx: RtlInitAnsiString that fails with STATUS_NAME_TOO_LONG.
extern "C" NTSTATUS NTAPI RtlInitAnsiStringEx(PANSI_STRING DestinationString, PCSZ SourceString) {
  return init_narrow(DestinationString, SourceString, false);
}

// RtlInitString: points the string at a NUL-terminated buffer.
extern "C" VOID NTAPI RtlInitString(PSTRING DestinationString, PCSZ SourceString) {
  init_narrow(DestinationString, SourceString, true);
}

// RtlInitStringEx: RtlInitString that fails with STATUS_NAME_TOO_LONG.
extern "C" NTSTATUS NTAPI RtlInitStringEx(PSTRING DestinationString, PCSZ SourceString) {
  return init_narrow(DestinationString, SourceString, false);
}

// RtlInitUTF8String: points the string at a NUL-terminated UTF-8 buffer.
extern "C" VOID NTAPI RtlInitUTF8String(PUTF8_STRING DestinationString, PCSZ SourceString) {
  init_narrow(DestinationString, SourceString, true);
}

// RtlInitUTF8StringEx: RtlInitUTF8String that fails with STATUS_NAME_TOO_LONG.
extern "C" NTSTATUS NTAPI RtlInitUTF8StringEx(PUTF8_STRING DestinationString, PCSZ SourceString) {
  return init_narrow(DestinationString, SourceString, false);
}

// RtlCreateUnicodeString: allocates a NUL-terminated copy of SourceString.
extern "C" BOOLEAN NTAPI RtlCreateUnicodeString(PUNICODE_STRING DestinationString,
                                                PCWSTR SourceString) {
  size_t bytes = (wide_length(SourceString) + 1) * sizeof(WCHAR);
  if (bytes > MAX_USTRING) {
    return FALSE;
  }
  auto *buffer = static_cast<PWSTR>(allocate_string_buffer(bytes));
  if (buffer == nullptr) {
    return FALSE;
  }
  std::memcpy(buffer, SourceString, bytes);
  DestinationString->Buffer = buffer;
  DestinationString->Length = static_cast<USHORT>(bytes - sizeof(WCHAR));
  DestinationString->MaximumLength = static_cast<USHORT>(bytes);
  return TRUE;
}

// RtlDuplicateUnicodeString: allocates a copy, optionally NUL-terminated; an empty source gives
// an empty string without a buffer unless ..._ALLOCATE_NULL_STRING is set.
extern "C" NTSTATUS NTAPI RtlDuplicateUnicodeString(ULONG Flags, PCUNICODE_STRING StringIn,
                                                    PUNICODE_STRING StringOut) {
  constexpr ULONG valid = RTL_DUPLICATE_UNICODE_STRING_NULL_TERMINATE |
                          RTL_DUPLICATE_UNICODE_STRING_ALLOCATE_NULL_STRING;
  if (StringOut == nullptr || (Flags & ~valid) != 0 ||
      Flags == RTL_DUPLICATE_UNICODE_STRING_ALLOCATE_NULL_STRING ||
      (StringIn != nullptr && StringIn->Length > StringIn->MaximumLength) ||
      (StringIn != nullptr && StringIn->Length != 0 && StringIn->Buffer == nullptr)) {
    return STATUS_INVALID_PARAMETER;
  }
  USHORT length = StringIn != nullptr ? StringIn->Length : 0;
  bool terminate = (Flags & RTL_DUPLICATE_UNICODE_STRING_NULL_TERMINATE) != 0;
  if (length == 0 && (Flags & RTL_DUPLICATE_UNICODE_STRING_ALLOCATE_NULL_STRING) == 0) {
    StringOut->Length = StringOut->MaximumLength = 0;
    StringOut->Buffer = nullptr;
    return STATUS_SUCCESS;
  }
  size_t max = length + (terminate ? sizeof(WCHAR) : 0);
  if (max > MAXUSHORT) {
    return STATUS_NAME_TOO_LONG;
  }
  auto *buffer = static_cast<PWSTR>(allocate_string_buffer(max == 0 ? sizeof(WCHAR) : max));
  if (buffer == nullptr) {
    return STATUS_NO_MEMORY;
  }
  if (length != 0) {
    std::memcpy(buffer, StringIn->Buffer, length);
  }
  if (terminate) {
    buffer[length / sizeof(WCHAR)] = 0;
  }
  StringOut->Buffer = buffer;
  StringOut->Length = length;
  StringOut->MaximumLength = static_cast<USHORT>(max);
  return STATUS_SUCCESS;
}

// RtlCopyUnicodeString: copies as much as fits; NUL-terminates when there is room.
extern "C" VOID NTAPI RtlCopyUnicodeString(PUNICODE_STRING DestinationString,
                                           PCUNICODE_STRING SourceString) {
  if (SourceString == nullptr || SourceString->Buffer == nullptr) {
    DestinationString->Length = 0;
    return;
  }
  USHORT room = DestinationString->MaximumLength & ~1;
  USHORT n = SourceString->Length < room ? SourceString->Length : room;
  n &= ~1;
  std::memmove(DestinationString->Buffer, SourceString->Buffer, n);
  DestinationString->Length = n;
  if (n + sizeof(WCHAR) <= DestinationString->MaximumLength) {
    DestinationString->Buffer[n / sizeof(WCHAR)] = 0;
  }
}

// RtlCopyString: copies as much as fits; NUL-terminates when there is room.
extern "C" VOID NTAPI RtlCopyString(PSTRING DestinationString, const STRING *SourceString) {
  if (SourceString == nullptr || SourceString->Buffer == nullptr) {
    DestinationString->Length = 0;
    return;
  }
  USHORT n = SourceString->Length < DestinationString->MaximumLength
                 ? SourceString->Length
                 : DestinationString->MaximumLength;
  std::memmove(DestinationString->Buffer, SourceString->Buffer, n);
  DestinationString->Length = n;
  if (n < DestinationString->MaximumLength) {
    DestinationString->Buffer[n] = 0;
  }
}

namespace {

NTSTATUS append_wide(PUNICODE_STRING dest, PCWCH src, size_t bytes) {
  if (bytes == 0) {
    return STATUS_SUCCESS;
  }
  if (dest->Length + bytes > dest->MaximumLength) {
    return STATUS_BUFFER_TOO_SMALL;
  }
  std::memmove(reinterpret_cast<char *>(dest->Buffer) + dest->Length, src, bytes);
  dest->Length = static_cast<USHORT>(dest->Length + bytes);
  if (dest->Length + sizeof(WCHAR) <= dest->MaximumLength) {
    dest->Buffer[dest->Length / sizeof(WCHAR)] = 0;
  }
  return STATUS_SUCCESS;
}

} // namespace

// RtlAppendUnicodeStringToString: appends, or STATUS_BUFFER_TOO_SMALL (nothing changed).
extern "C" NTSTATUS NTAPI RtlAppendUnicodeStringToString(PUNICODE_STRING Destination,
                                                         PCUNICODE_STRING Source) {
  if (Source == nullptr) {
    return STATUS_SUCCESS;
  }
  return append_wide(Destination, Source->Buffer, Source->Length & ~1);
}

// RtlAppendUnicodeToString: appends a NUL-terminated wide string.
extern "C" NTSTATUS NTAPI RtlAppendUnicodeToString(PUNICODE_STRING Destination, PCWSTR Source) {
  if (Source == nullptr) {
    return STATUS_SUCCESS;
  }
  return append_wide(Destination, Source, wide_length(Source) * sizeof(WCHAR));
}

// RtlAppendStringToString: appends a counted narrow string (no terminator is written).
extern "C" NTSTATUS NTAPI RtlAppendStringToString(PSTRING Destination, const STRING *Source) {
  if (Source == nullptr || Source->Length == 0) {
    return STATUS_SUCCESS;
  }
  if (Destination->Length + Source->Length > Destination->MaximumLength) {
    return STATUS_BUFFER_TOO_SMALL;
  }
  std::memmove(Destination->Buffer + Destination->Length, Source->Buffer, Source->Length);
  Destination->Length = static_cast<USHORT>(Destination->Length + Source->Length);
  return STATUS_SUCCESS;
}

// RtlCompareUnicodeString: <0, 0, >0 as String1 sorts before, with, after String2.
extern "C" LONG NTAPI RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                              BOOLEAN CaseInSensitive) {
  return compare_wide(String1->Buffer, String1->Length / sizeof(WCHAR), String2->Buffer,
                      String2->Length / sizeof(WCHAR), CaseInSensitive);
}

// RtlCompareUnicodeStrings: RtlCompareUnicodeString on bare buffers (lengths in characters).
extern "C" LONG NTAPI RtlCompareUnicodeStrings(PCWCH String1, SIZE_T String1Length, PCWCH String2,
                                               SIZE_T String2Length, BOOLEAN CaseInSensitive) {
  return compare_wide(String1, String1Length, String2, String2Length, CaseInSensitive);
}

// RtlEqualUnicodeString: TRUE when both strings hold the same characters.
extern "C" BOOLEAN NTAPI RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                               BOOLEAN CaseInSensitive) {
  if (String1->Length != String2->Length) {
    return FALSE;
  }
  return compare_wide(String1->Buffer, String1->Length / sizeof(WCHAR), String2->Buffer,
                      String2->Length / sizeof(WCHAR), CaseInSensitive) == 0;
}

// RtlPrefixUnicodeString: TRUE when String1 is a prefix of String2.
extern "C" BOOLEAN NTAPI RtlPrefixUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                                BOOLEAN CaseInSensitive) {
  if (String1->Length > String2->Length) {
    return FALSE;
  }
  size_t n = String1->Length / sizeof(WCHAR);
  return compare_wide(String1->Buffer, n, String2->Buffer, n, CaseInSensitive) == 0;
}

// RtlCompareString: byte-wise comparison (case folding for ASCII letters only).
extern "C" LONG NTAPI RtlCompareString(const STRING *String1, const STRING *String2,
                                       BOOLEAN CaseInSensitive) {
  return compare_narrow(String1->Buffer, String1->Length, String2->Buffer, String2->Length,
                        CaseInSensitive);
}

// RtlEqualString: TRUE when both strings hold the same bytes.
extern "C" BOOLEAN NTAPI RtlEqualString(const STRING *String1, const STRING *String2,
                                        BOOLEAN CaseInSensitive) {
  if (String1->Length != String2->Length) {
    return FALSE;
  }
  return compare_narrow(String1->Buffer, String1->Length, String2->Buffer, String2->Length,
                        CaseInSensitive) == 0;
}

// RtlPrefixString: TRUE when String1 is a prefix of String2.
extern "C" BOOLEAN NTAPI RtlPrefixString(const STRING *String1, const STRING *String2,
                                         BOOLEAN CaseInSensitive) {
  if (String1->Length > String2->Length) {
    return FALSE;
  }
  return compare_narrow(String1->Buffer, String1->Length, String2->Buffer, String1->Length,
                        CaseInSensitive) == 0;
}

// RtlHashUnicodeString: the x65599 hash (hash = hash * 65599 + char) of the string, upcased
// first when CaseInSensitive.
extern "C" NTSTATUS NTAPI RtlHashUnicodeString(PCUNICODE_STRING String, BOOLEAN CaseInSensitive,
                                               ULONG HashAlgorithm, PULONG HashValue) {
  if (String == nullptr || HashValue == nullptr ||
      (HashAlgorithm != HASH_STRING_ALGORITHM_DEFAULT &&
       HashAlgorithm != HASH_STRING_ALGORITHM_X65599)) {
    return STATUS_INVALID_PARAMETER;
  }
  ULONG hash = 0;
  for (size_t i = 0; i < String->Length / sizeof(WCHAR); ++i) {
    WCHAR c = CaseInSensitive ? map_case(String->Buffer[i], true) : String->Buffer[i];
    hash = hash * 65599u + c;
  }
  *HashValue = hash;
  return STATUS_SUCCESS;
}

// RtlUpcaseUnicodeChar: the upper-case form of one UTF-16 unit.
extern "C" WCHAR NTAPI RtlUpcaseUnicodeChar(WCHAR SourceCharacter) {
  return map_case(SourceCharacter, true);
}

// RtlDowncaseUnicodeChar: the lower-case form of one UTF-16 unit.
extern "C" WCHAR NTAPI RtlDowncaseUnicodeChar(WCHAR SourceCharacter) {
  return map_case(SourceCharacter, false);
}

// Deliberate family (duplicates): RtlUpcaseUnicodeString and RtlDowncaseUnicodeString, one call of
// map_case_string each, the shape of the Rtl conversion exports in convert.cpp.
// RtlUpcaseUnicodeString: upper-cases into the destination (or a new buffer).
extern "C" NTSTATUS NTAPI RtlUpcaseUnicodeString(PUNICODE_STRING DestinationString,
                                                 PCUNICODE_STRING SourceString,
                                                 BOOLEAN AllocateDestinationString) {
  return map_case_string(DestinationString, SourceString, AllocateDestinationString, true);
}

// RtlDowncaseUnicodeString: lower-cases into the destination (or a new buffer).
extern "C" NTSTATUS NTAPI RtlDowncaseUnicodeString(PUNICODE_STRING DestinationString,
                                                   PCUNICODE_STRING SourceString,
                                                   BOOLEAN AllocateDestinationString) {
  return map_case_string(DestinationString, SourceString, AllocateDestinationString, false);
}

// RtlUpperChar: upper-cases an ASCII letter; other bytes are returned unchanged.
extern "C" CHAR NTAPI RtlUpperChar(CHAR Character) {
  return static_cast<CHAR>(upper_ascii(static_cast<UCHAR>(Character)));
}

// RtlUpperString: copies as much as fits, upper-casing ASCII letters.
extern "C" VOID NTAPI RtlUpperString(PSTRING DestinationString, const STRING *SourceString) {
  USHORT n = SourceString->Length < DestinationString->MaximumLength
                 ? SourceString->Length
                 : DestinationString->MaximumLength;
  for (USHORT i = 0; i < n; ++i) {
    DestinationString->Buffer[i] =
        static_cast<CHAR>(upper_ascii(static_cast<UCHAR>(SourceString->Buffer[i])));
  }
  DestinationString->Length = n;
}

// RtlFreeUnicodeString: frees a buffer an Rtl function allocated.
extern "C" VOID NTAPI RtlFreeUnicodeString(PUNICODE_STRING UnicodeString) {
  free_string_buffer(UnicodeString->Buffer);
  UnicodeString->Buffer = nullptr;
  UnicodeString->Length = UnicodeString->MaximumLength = 0;
}

// RtlFreeAnsiString: frees a buffer an Rtl function allocated.
extern "C" VOID NTAPI RtlFreeAnsiString(PANSI_STRING AnsiString) {
  free_string_buffer(AnsiString->Buffer);
  AnsiString->Buffer = nullptr;
  AnsiString->Length = AnsiString->MaximumLength = 0;
}

// RtlFreeUTF8String: frees a buffer an Rtl function allocated.
extern "C" VOID NTAPI RtlFreeUTF8String(PUTF8_STRING Utf8String) {
  free_string_buffer(Utf8String->Buffer);
  Utf8String->Buffer = nullptr;
  Utf8String->Length = Utf8String->MaximumLength = 0;
}

// RtlCompareMemory: the number of leading bytes that are equal.
extern "C" SIZE_T NTAPI RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length) {
  const auto *a = static_cast<const UCHAR *>(Source1);
  const auto *b = static_cast<const UCHAR *>(Source2);
  SIZE_T i = 0;
  while (i < Length && a[i] == b[i]) {
    ++i;
  }
  return i;
}

// RtlCompareMemoryUlong: the number of leading bytes (whole ULONGs) equal to Pattern.
extern "C" SIZE_T NTAPI RtlCompareMemoryUlong(PVOID Source, SIZE_T Length, ULONG Pattern) {
  const auto *p = static_cast<const UCHAR *>(Source);
  SIZE_T i = 0;
  for (; i + sizeof(ULONG) <= Length; i += sizeof(ULONG)) {
    ULONG v;
    std::memcpy(&v, p + i, sizeof v);
    if (v != Pattern) {
      break;
    }
  }
  return i;
}

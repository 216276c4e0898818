// ntstrsafe: statuses, truncation, terminators, STRSAFE_* flags, UNICODE_STRING forms.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include <ntstrsafe.h>
#include <wdm.h>

namespace {

std::u16string text(const UNICODE_STRING &s) {
  return std::u16string(s.Buffer, s.Length / sizeof(WCHAR));
}

TEST(StrSafe, CopyFitsAndTruncates) {
  char buf[6];
  EXPECT_EQ(RtlStringCchCopyA(buf, sizeof buf, "abc"), STATUS_SUCCESS);
  EXPECT_STREQ(buf, "abc");
  EXPECT_EQ(RtlStringCchCopyA(buf, sizeof buf, "abcde"), STATUS_SUCCESS);
  EXPECT_STREQ(buf, "abcde");
  EXPECT_EQ(RtlStringCchCopyA(buf, sizeof buf, "abcdefgh"), STATUS_BUFFER_OVERFLOW);
  EXPECT_STREQ(buf, "abcde");
  EXPECT_EQ(RtlStringCbCopyA(buf, 3, "xyz"), STATUS_BUFFER_OVERFLOW);
  EXPECT_STREQ(buf, "xy");

  WCHAR wbuf[4];
  EXPECT_EQ(RtlStringCchCopyW(wbuf, 4, u"wide!"), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(std::u16string(wbuf), u"wid");
  EXPECT_EQ(RtlStringCbCopyW(wbuf, sizeof wbuf, u"ok"), STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(wbuf), u"ok");
  EXPECT_EQ(RtlStringCbCopyW(wbuf, 5, u"abc"), STATUS_BUFFER_OVERFLOW); // 2 characters
  EXPECT_EQ(std::u16string(wbuf), u"a");
}

TEST(StrSafe, InvalidParameters) {
  char buf[4] = "zz";
  EXPECT_EQ(RtlStringCchCopyA(buf, 0, "a"), STATUS_INVALID_PARAMETER);
  EXPECT_STREQ(buf, "zz"); // nothing written into a zero-sized buffer
  EXPECT_EQ(RtlStringCchCopyA(buf, static_cast<size_t>(NTSTRSAFE_MAX_CCH) + 1, "a"),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlStringCchCopyA(nullptr, 4, "a"), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlStringCchCopyA(buf, sizeof buf, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_STREQ(buf, "");
  EXPECT_EQ(RtlStringCchPrintfA(buf, sizeof buf, nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlStringCchCopyExA(buf, sizeof buf, "a", nullptr, nullptr, 0x80000000u),
            STATUS_INVALID_PARAMETER);
}

TEST(StrSafe, CopyN) {
  char buf[8];
  EXPECT_EQ(RtlStringCchCopyNA(buf, sizeof buf, "abcdef", 3), STATUS_SUCCESS);
  EXPECT_STREQ(buf, "abc");
  // The source need not be terminated within cchToCopy.
  const char raw[3] = {'x', 'y', 'z'};
  EXPECT_EQ(RtlStringCchCopyNA(buf, sizeof buf, raw, 3), STATUS_SUCCESS);
  EXPECT_STREQ(buf, "xyz");
  EXPECT_EQ(RtlStringCchCopyNA(buf, 3, "abcdef", 5), STATUS_BUFFER_OVERFLOW);
  EXPECT_STREQ(buf, "ab");
  EXPECT_EQ(RtlStringCbCopyNA(buf, sizeof buf, "abcdef", 2), STATUS_SUCCESS);
  EXPECT_STREQ(buf, "ab");
  WCHAR wbuf[8];
  EXPECT_EQ(RtlStringCbCopyNW(wbuf, sizeof wbuf, u"abcdef", 4), STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(wbuf), u"ab");
  EXPECT_EQ(RtlStringCchCopyNA(buf, sizeof buf, "a", static_cast<size_t>(NTSTRSAFE_MAX_CCH) + 1),
            STATUS_INVALID_PARAMETER);
}

TEST(StrSafe, Cat) {
  char buf[8] = "ab";
  EXPECT_EQ(RtlStringCchCatA(buf, sizeof buf, "cd"), STATUS_SUCCESS);
  EXPECT_STREQ(buf, "abcd");
  EXPECT_EQ(RtlStringCchCatA(buf, sizeof buf, "efghij"), STATUS_BUFFER_OVERFLOW);
  EXPECT_STREQ(buf, "abcdefg");
  EXPECT_EQ(RtlStringCchCatA(buf, sizeof buf, ""), STATUS_SUCCESS);
  EXPECT_EQ(RtlStringCchCatA(buf, sizeof buf, "x"), STATUS_BUFFER_OVERFLOW);
  EXPECT_STREQ(buf, "abcdefg");
  char full[3] = {'x', 'y', 'z'}; // no terminator: not a string
  EXPECT_EQ(RtlStringCchCatA(full, sizeof full, "a"), STATUS_INVALID_PARAMETER);
  char nbuf[8] = "1";
  EXPECT_EQ(RtlStringCchCatNA(nbuf, sizeof nbuf, "2345", 2), STATUS_SUCCESS);
  EXPECT_STREQ(nbuf, "123");
  EXPECT_EQ(RtlStringCbCatNA(nbuf, sizeof nbuf, "456789", 6), STATUS_BUFFER_OVERFLOW);
  EXPECT_STREQ(nbuf, "1234567");
  WCHAR wbuf[6] = u"w";
  EXPECT_EQ(RtlStringCbCatW(wbuf, sizeof wbuf, u"ide"), STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(wbuf), u"wide");
  EXPECT_EQ(RtlStringCchCatNW(wbuf, 6, u"!!!", 1), STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(wbuf), u"wide!");
}

TEST(StrSafe, PrintfUsesWindowsFormats) {
  char buf[64];
  WCHAR wide[] = u"counted";
  UNICODE_STRING us{7 * sizeof(WCHAR), sizeof wide, wide};
  EXPECT_EQ(RtlStringCchPrintfA(buf, sizeof buf, "%d %ld %I64x %wZ %ws %p", 1, 0xFFFFFFFFu,
                                static_cast<ULONGLONG>(0xABCULL), &us, u"w",
                                reinterpret_cast<void *>(0x10)),
            STATUS_SUCCESS);
  EXPECT_STREQ(buf, "1 -1 abc counted w 0000000000000010");
  EXPECT_EQ(RtlStringCbPrintfA(buf, 6, "%s", "truncate me"), STATUS_BUFFER_OVERFLOW);
  EXPECT_STREQ(buf, "trunc");
  EXPECT_EQ(RtlStringCchPrintfA(buf, 6, "%s", "exact"), STATUS_SUCCESS);
  EXPECT_STREQ(buf, "exact");

  WCHAR wbuf[32];
  EXPECT_EQ(RtlStringCchPrintfW(wbuf, 32, u"%s|%S|%hs|%d", u"w", "n", "h", 5), STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(wbuf), u"w|n|h|5");
  EXPECT_EQ(RtlStringCbPrintfW(wbuf, 8, u"%ws", u"abcdef"), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(std::u16string(wbuf), u"abc");
}

NTSTATUS vprintf_a(char *buf, size_t cch, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  NTSTATUS s = RtlStringCchVPrintfA(buf, cch, format, ap);
  va_end(ap);
  return s;
}

NTSTATUS vprintf_ex_w(WCHAR *buf, size_t cb, WCHAR **end, size_t *rem, ULONG flags,
                      const WCHAR *format, ...) {
  va_list ap;
  va_start(ap, format);
  NTSTATUS s = RtlStringCbVPrintfExW(buf, cb, end, rem, flags, format, ap);
  va_end(ap);
  return s;
}

TEST(StrSafe, VPrintf) {
  char buf[16];
  EXPECT_EQ(vprintf_a(buf, sizeof buf, "%s-%u", "v", 9u), STATUS_SUCCESS);
  EXPECT_STREQ(buf, "v-9");
  WCHAR wbuf[8];
  WCHAR *end = nullptr;
  size_t rem = 0;
  EXPECT_EQ(vprintf_ex_w(wbuf, sizeof wbuf, &end, &rem, 0, u"%d", 42), STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(wbuf), u"42");
  EXPECT_EQ(end, wbuf + 2);
  EXPECT_EQ(rem, (8u - 2u) * sizeof(WCHAR));
}

TEST(StrSafe, ExReportsEndAndRemaining) {
  char buf[8];
  char *end = nullptr;
  size_t rem = 0;
  EXPECT_EQ(RtlStringCchCopyExA(buf, sizeof buf, "abc", &end, &rem, 0), STATUS_SUCCESS);
  EXPECT_EQ(end, buf + 3);
  EXPECT_EQ(rem, 5u);
  EXPECT_EQ(RtlStringCchCatExA(buf, sizeof buf, "defghij", &end, &rem, 0), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(end, buf + 7);
  EXPECT_EQ(rem, 1u);
  EXPECT_STREQ(buf, "abcdefg");
  WCHAR wbuf[5];
  WCHAR *wend = nullptr;
  size_t cb_rem = 0;
  EXPECT_EQ(RtlStringCbCopyExW(wbuf, 9, u"a", &wend, &cb_rem, 0), STATUS_SUCCESS);
  EXPECT_EQ(wend, wbuf + 1);
  EXPECT_EQ(cb_rem, 3u * sizeof(WCHAR) + 1); // the odd byte counts as remaining
}

TEST(StrSafe, ExFlags) {
  char buf[8];
  char *end = nullptr;
  size_t rem = 0;
  // Fill behind the terminator on success.
  EXPECT_EQ(RtlStringCchCopyExA(buf, sizeof buf, "ab", &end, &rem, STRSAFE_FILL_BYTE('#')),
            STATUS_SUCCESS);
  EXPECT_EQ(std::string(buf, sizeof buf), std::string("ab\0#####", 8));
  // Fill the whole buffer on failure (terminated at the end).
  EXPECT_EQ(RtlStringCchCopyExA(buf, sizeof buf, "too long string", &end, &rem,
                                STRSAFE_FAILURE_BYTE('*')),
            STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(std::string(buf, sizeof buf), std::string("*******\0", 8));
  EXPECT_EQ(end, buf + 7);
  EXPECT_EQ(rem, 1u);
  // NULL_ON_FAILURE: an empty string instead of a truncated one.
  EXPECT_EQ(
      RtlStringCchCopyExA(buf, sizeof buf, "too long string", &end, &rem, STRSAFE_NULL_ON_FAILURE),
      STATUS_BUFFER_OVERFLOW);
  EXPECT_STREQ(buf, "");
  EXPECT_EQ(end, buf);
  EXPECT_EQ(rem, sizeof buf);
  // NO_TRUNCATION on Cat leaves the original string.
  RtlStringCchCopyA(buf, sizeof buf, "keep");
  EXPECT_EQ(RtlStringCchCatExA(buf, sizeof buf, "overflow", &end, &rem, STRSAFE_NO_TRUNCATION),
            STATUS_BUFFER_OVERFLOW);
  EXPECT_STREQ(buf, "keep");
  EXPECT_EQ(end, buf + 4);
  EXPECT_EQ(rem, 4u);
  // NULL_ON_FAILURE on Cat empties it.
  EXPECT_EQ(RtlStringCchCatExA(buf, sizeof buf, "overflow", &end, &rem, STRSAFE_NULL_ON_FAILURE),
            STATUS_BUFFER_OVERFLOW);
  EXPECT_STREQ(buf, "");
  // IGNORE_NULLS: a NULL source is empty; a NULL destination of 0 characters is allowed.
  EXPECT_EQ(RtlStringCchCopyExA(buf, sizeof buf, nullptr, &end, &rem, STRSAFE_IGNORE_NULLS),
            STATUS_SUCCESS);
  EXPECT_STREQ(buf, "");
  EXPECT_EQ(RtlStringCchCopyExA(nullptr, 0, nullptr, &end, &rem, STRSAFE_IGNORE_NULLS),
            STATUS_SUCCESS);
  EXPECT_EQ(rem, 0u);
  EXPECT_EQ(RtlStringCchCopyExA(nullptr, 0, "x", nullptr, nullptr, STRSAFE_IGNORE_NULLS),
            STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(RtlStringCchPrintfExA(buf, sizeof buf, &end, &rem, STRSAFE_IGNORE_NULLS, nullptr),
            STATUS_SUCCESS);
  EXPECT_STREQ(buf, "");
  EXPECT_EQ(RtlStringCchCopyExA(nullptr, 4, "x", nullptr, nullptr, STRSAFE_IGNORE_NULLS),
            STATUS_INVALID_PARAMETER);
  // PrintfEx with a fill byte.
  EXPECT_EQ(RtlStringCbPrintfExA(buf, sizeof buf, &end, &rem, STRSAFE_FILL_BYTE(0), "%d", 7),
            STATUS_SUCCESS);
  EXPECT_EQ(std::string(buf, sizeof buf), std::string("7\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(rem, 7u);
}

TEST(StrSafe, Length) {
  size_t n = 99;
  EXPECT_EQ(RtlStringCchLengthA("abc", 10, &n), STATUS_SUCCESS);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(RtlStringCchLengthA("abc", 3, &n), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(RtlStringCchLengthA("abc", 4, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(RtlStringCchLengthA(nullptr, 4, &n), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlStringCbLengthW(u"abcd", 20, &n), STATUS_SUCCESS);
  EXPECT_EQ(n, 8u);
  EXPECT_EQ(RtlStringCchLengthW(u"ab", 2, &n), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlUnalignedStringCchLengthW(u"xyz", 8, &n), STATUS_SUCCESS);
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(RtlStringCchLengthA("a", static_cast<size_t>(NTSTRSAFE_MAX_CCH) + 1, &n),
            STATUS_INVALID_PARAMETER);
}

TEST(StrSafeUnicode, InitAndValidate) {
  UNICODE_STRING us;
  EXPECT_EQ(RtlUnicodeStringInit(&us, u"init"), STATUS_SUCCESS);
  EXPECT_EQ(us.Length, 8);
  EXPECT_EQ(us.MaximumLength, 10);
  EXPECT_EQ(RtlUnicodeStringInit(&us, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(us.Length, 0);
  std::u16string huge(40000, u'x');
  EXPECT_EQ(RtlUnicodeStringInit(&us, huge.c_str()), STATUS_INVALID_PARAMETER);
  RtlUnicodeStringInit(&us, u"ok");
  EXPECT_EQ(RtlUnicodeStringValidate(&us), STATUS_SUCCESS);
  UNICODE_STRING odd{3, 4, us.Buffer};
  EXPECT_EQ(RtlUnicodeStringValidate(&odd), STATUS_INVALID_PARAMETER);
  UNICODE_STRING inverted{6, 4, us.Buffer};
  EXPECT_EQ(RtlUnicodeStringValidate(&inverted), STATUS_INVALID_PARAMETER);
  UNICODE_STRING no_buffer{0, 4, nullptr};
  EXPECT_EQ(RtlUnicodeStringValidate(&no_buffer), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlUnicodeStringValidate(nullptr), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlUnicodeStringValidateEx(nullptr, STRSAFE_IGNORE_NULLS), STATUS_SUCCESS);
}

TEST(StrSafeUnicode, CopyCatPrintf) {
  WCHAR buffer[6];
  UNICODE_STRING dest{0, sizeof buffer, buffer};
  UNICODE_STRING src;
  RtlInitUnicodeString(&src, u"abc");
  EXPECT_EQ(RtlUnicodeStringCopy(&dest, &src), STATUS_SUCCESS);
  EXPECT_EQ(text(dest), u"abc");
  EXPECT_EQ(RtlUnicodeStringCatString(&dest, u"def"), STATUS_SUCCESS);
  EXPECT_EQ(text(dest), u"abcdef"); // full: no terminator is written
  EXPECT_EQ(RtlUnicodeStringCatString(&dest, u"g"), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(text(dest), u"abcdef");
  EXPECT_EQ(RtlUnicodeStringCopyString(&dest, u"123456789"), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(text(dest), u"123456");
  EXPECT_EQ(RtlUnicodeStringCchCopyStringN(&dest, u"xyz", 2), STATUS_SUCCESS);
  EXPECT_EQ(text(dest), u"xy");
  EXPECT_EQ(RtlUnicodeStringCbCatN(&dest, &src, 2), STATUS_SUCCESS);
  EXPECT_EQ(text(dest), u"xya");
  EXPECT_EQ(RtlUnicodeStringCat(&dest, &src), STATUS_SUCCESS);
  EXPECT_EQ(text(dest), u"xyaabc");

  EXPECT_EQ(RtlUnicodeStringPrintf(&dest, u"%d-%s", 12, u"ab"), STATUS_SUCCESS);
  EXPECT_EQ(text(dest), u"12-ab");
  EXPECT_EQ(RtlUnicodeStringPrintf(&dest, u"%S", "too long"), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(text(dest), u"too lo");
  WCHAR wide[] = u"counted";
  UNICODE_STRING us{7 * sizeof(WCHAR), sizeof wide, wide};
  WCHAR big[32];
  UNICODE_STRING bdest{0, sizeof big, big};
  EXPECT_EQ(RtlUnicodeStringPrintf(&bdest, u"[%wZ] %I64u %p", &us, static_cast<ULONGLONG>(5),
                                   reinterpret_cast<void *>(0xF)),
            STATUS_SUCCESS);
  EXPECT_EQ(text(bdest), u"[counted] 5 000000000000000F");

  UNICODE_STRING bad{1, 4, buffer};
  EXPECT_EQ(RtlUnicodeStringCopy(&bad, &src), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlUnicodeStringCopy(&dest, nullptr), STATUS_INVALID_PARAMETER);
}

TEST(StrSafeUnicode, ExRemainingAndFlags) {
  WCHAR buffer[8];
  UNICODE_STRING dest{0, sizeof buffer, buffer};
  UNICODE_STRING remaining{};
  EXPECT_EQ(RtlUnicodeStringCopyStringEx(&dest, u"abc", &remaining, 0), STATUS_SUCCESS);
  EXPECT_EQ(remaining.Buffer, buffer + 3);
  EXPECT_EQ(remaining.Length, 0);
  EXPECT_EQ(remaining.MaximumLength, 10);
  EXPECT_EQ(RtlUnicodeStringCatStringEx(&dest, u"defghijk", &remaining, STRSAFE_NO_TRUNCATION),
            STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(text(dest), u"abc");
  EXPECT_EQ(
      RtlUnicodeStringCatStringEx(&dest, u"defghijk", nullptr, STRSAFE_ZERO_LENGTH_ON_FAILURE),
      STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(dest.Length, 0);
  EXPECT_EQ(RtlUnicodeStringCopyStringEx(&dest, u"ab", nullptr, STRSAFE_FILL_BEHIND | 0x41),
            STATUS_SUCCESS);
  EXPECT_EQ(buffer[2], static_cast<WCHAR>(0x4141));
  EXPECT_EQ(RtlUnicodeStringCopyStringEx(&dest, nullptr, nullptr, STRSAFE_IGNORE_NULLS),
            STATUS_SUCCESS);
  EXPECT_EQ(dest.Length, 0);
  EXPECT_EQ(RtlUnicodeStringPrintfEx(&dest, &remaining, 0, u"%d", 123), STATUS_SUCCESS);
  EXPECT_EQ(text(dest), u"123");
  EXPECT_EQ(remaining.MaximumLength, 10);
  EXPECT_EQ(RtlUnicodeStringCopyEx(&dest, nullptr, nullptr, 0x100000), STATUS_INVALID_PARAMETER);
}

TEST(StrSafeUnicode, ToTerminatedBuffers) {
  UNICODE_STRING src;
  RtlInitUnicodeString(&src, u"source");
  WCHAR buf[4];
  EXPECT_EQ(RtlStringCchCopyUnicodeString(buf, 4, &src), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(std::u16string(buf), u"sou");
  WCHAR big[16] = u">";
  EXPECT_EQ(RtlStringCbCatUnicodeString(big, sizeof big, &src), STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(big), u">source");
  WCHAR *end = nullptr;
  size_t rem = 0;
  EXPECT_EQ(RtlStringCchCopyUnicodeStringEx(big, 16, &src, &end, &rem, 0), STATUS_SUCCESS);
  EXPECT_EQ(end, big + 6);
  EXPECT_EQ(rem, 10u);
}

} // namespace

// The kernel C runtime with 16-bit WCHAR (km/crt.h): the wcs* family on UTF-16 text, the printf
// family with the Windows wide forms and width/precision, the secure CRT's failure results and
// buffer states, case-insensitive comparison, conversions. The runtime is built without
// -fshort-wchar, so the names glibc shares are called by their libuwsk names (uwsk_wcslen for
// wcslen); tests/headers/crt_usage.c checks the driver spellings.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <ntstrsafe.h>
#include <wdm.h>

namespace {

std::u16string text(const WCHAR *s) {
  return std::u16string(s);
}

// ---- wcs* and wmem* --------------------------------------------------------------------------

TEST(Wcrt, LengthCountsUtf16Units) {
  EXPECT_EQ(uwsk_wcslen(u"hello"), 5u);
  EXPECT_EQ(uwsk_wcslen(u""), 0u);
  EXPECT_EQ(uwsk_wcslen(u"h\u00e9llo w\u00f6rld"), 11u);
  EXPECT_EQ(uwsk_wcslen(u"\U0001F600x"), 3u); // a surrogate pair is two units
  EXPECT_EQ(uwsk_wcsnlen(u"hello", 3), 3u);
  EXPECT_EQ(uwsk_wcsnlen(u"hi", 10), 2u);
}

TEST(Wcrt, CopyAndAppend) {
  WCHAR buf[16];
  EXPECT_EQ(uwsk_wcscpy(buf, u"abc"), buf);
  EXPECT_EQ(text(buf), u"abc");
  EXPECT_EQ(uwsk_wcscat(buf, u"\u00e9f"), buf);
  EXPECT_EQ(text(buf), u"abc\u00e9f");
  uwsk_wcsncat(buf, u"XYZ", 2);
  EXPECT_EQ(text(buf), u"abc\u00e9fXY");

  WCHAR pad[6];
  uwsk_wmemset(pad, u'#', 6);
  uwsk_wcsncpy(pad, u"ab", 5); // pads with NULs up to the count
  EXPECT_EQ(pad[0], u'a');
  EXPECT_EQ(pad[2], 0);
  EXPECT_EQ(pad[4], 0);
  EXPECT_EQ(pad[5], u'#');
  uwsk_wcsncpy(pad, u"abcdefgh", 3); // no terminator when the source is longer
  EXPECT_EQ(pad[2], u'c');
  EXPECT_EQ(pad[3], 0); // left from before
}

TEST(Wcrt, CompareSearchAndSpans) {
  EXPECT_EQ(uwsk_wcscmp(u"abc", u"abc"), 0);
  EXPECT_LT(uwsk_wcscmp(u"abc", u"abd"), 0);
  EXPECT_GT(uwsk_wcscmp(u"\u00e9", u"z"), 0); // units compare as unsigned values
  EXPECT_LT(uwsk_wcscmp(u"ab", u"abc"), 0);
  EXPECT_EQ(uwsk_wcsncmp(u"abcX", u"abcY", 3), 0);
  EXPECT_NE(uwsk_wcsncmp(u"abcX", u"abcY", 4), 0);

  const WCHAR *s = u"one,two;three";
  EXPECT_EQ(uwsk_wcschr(s, u','), s + 3);
  EXPECT_EQ(uwsk_wcschr(s, u'#'), nullptr);
  EXPECT_EQ(uwsk_wcschr(s, 0), s + 13);
  const WCHAR *dots = u"a.b.c";
  EXPECT_EQ(uwsk_wcsrchr(dots, u'.'), dots + 3);
  EXPECT_EQ(uwsk_wcsstr(s, u"two"), s + 4);
  EXPECT_EQ(uwsk_wcsstr(s, u"four"), nullptr);
  EXPECT_EQ(uwsk_wcsstr(s, u""), s);
  EXPECT_EQ(uwsk_wcspbrk(s, u";,"), s + 3);
  EXPECT_EQ(uwsk_wcsspn(u"aabbc", u"ab"), 4u);
  EXPECT_EQ(uwsk_wcscspn(u"abc;d", u";"), 3u);

  const WCHAR mem[] = {u'x', 0, u'y', u'z'};
  EXPECT_EQ(uwsk_wmemchr(mem, u'y', 4), mem + 2); // wmem* go past NULs
  EXPECT_EQ(uwsk_wmemcmp(mem, mem, 4), 0);
  WCHAR copy[4];
  uwsk_wmemcpy(copy, mem, 4);
  EXPECT_EQ(uwsk_wmemcmp(copy, mem, 4), 0);
  uwsk_wmemmove(copy + 1, copy, 3);
  EXPECT_EQ(copy[1], u'x');
  EXPECT_EQ(copy[3], u'y');
}

// ---- Case ------------------------------------------------------------------------------------

TEST(Wcrt, CaseInsensitiveCompareFoldsAsciiOnly) {
  EXPECT_EQ(_stricmp("Hello", "hELLO"), 0);
  EXPECT_LT(_stricmp("apple", "Banana"), 0);
  EXPECT_LT(_stricmp("[", "A"), 0) << "letters are folded to lower case before comparing";
  EXPECT_EQ(_strnicmp("ABCdef", "abcXYZ", 3), 0);
  EXPECT_NE(_strnicmp("ABCdef", "abcXYZ", 4), 0);
  EXPECT_EQ(_wcsicmp(u"Stra\u00dfe", u"STRA\u00dfE"), 0);
  EXPECT_NE(_wcsicmp(u"\u00e9", u"\u00c9"), 0) << "the C locale folds A-Z only";
  EXPECT_EQ(_wcsnicmp(u"NetBIOS", u"netbios-x", 7), 0);
  EXPECT_LT(_wcsicmp(u"a", u"AB"), 0);
  EXPECT_EQ(_stricmp(nullptr, "a"), _NLSCMPERROR);
  EXPECT_EQ(_wcsicmp(u"a", nullptr), _NLSCMPERROR);

  EXPECT_EQ(uwsk_towlower(u'Q'), static_cast<unsigned>(u'q'));
  EXPECT_EQ(uwsk_towupper(u'q'), static_cast<unsigned>(u'Q'));
  EXPECT_EQ(uwsk_towupper(0x00e9), 0x00e9u);
  EXPECT_EQ(uwsk_towlower(0xFFFFFFFFu), 0xFFFFFFFFu); // WEOF

  WCHAR w[] = u"MiXeD \u00c9";
  EXPECT_EQ(text(_wcslwr(w)), u"mixed \u00c9");
  EXPECT_EQ(text(_wcsupr(w)), u"MIXED \u00c9");
  char a[] = "MiXeD";
  EXPECT_STREQ(_strlwr(a), "mixed");
  EXPECT_STREQ(_strupr(a), "MIXED");
}

// ---- Numbers ---------------------------------------------------------------------------------

TEST(Wcrt, TextToNumber) {
  WCHAR *end = nullptr;
  const WCHAR *s = u"  -42xyz";
  EXPECT_EQ(uwsk_wcstol(s, &end, 10), -42);
  EXPECT_EQ(end, s + 5);
  EXPECT_EQ(uwsk_wcstol(u"0x1F", nullptr, 0), 31);
  EXPECT_EQ(uwsk_wcstol(u"0x1F", nullptr, 16), 31);
  EXPECT_EQ(uwsk_wcstol(u"017", nullptr, 0), 15);
  EXPECT_EQ(uwsk_wcstol(u"z", nullptr, 36), 35);
  const WCHAR *none = u"  xyz";
  EXPECT_EQ(uwsk_wcstol(none, &end, 10), 0);
  EXPECT_EQ(end, none) << "no digits: End is the start of the string";
  const WCHAR *hex = u"0xg";
  EXPECT_EQ(uwsk_wcstol(hex, &end, 16), 0);
  EXPECT_EQ(end, hex + 1) << "\"0x\" without a hex digit is the number 0";

  // Windows ranges: LONG and ULONG are 32 bits.
  errno = 0;
  EXPECT_EQ(uwsk_wcstol(u"2147483647", nullptr, 10), 2147483647L);
  EXPECT_EQ(errno, 0);
  EXPECT_EQ(uwsk_wcstol(u"2147483648", nullptr, 10), 2147483647L);
  EXPECT_EQ(errno, ERANGE);
  EXPECT_EQ(uwsk_wcstol(u"-2147483648", nullptr, 10), -2147483647L - 1);
  EXPECT_EQ(uwsk_wcstol(u"-9999999999", nullptr, 10), -2147483647L - 1);
  EXPECT_EQ(uwsk_wcstoul(u"4294967295", nullptr, 10), 4294967295UL);
  EXPECT_EQ(uwsk_wcstoul(u"4294967296", nullptr, 10), 4294967295UL);
  EXPECT_EQ(uwsk_wcstoul(u"-1", nullptr, 10), 4294967295UL);
  EXPECT_EQ(uwsk_wcstoll(u"-9223372036854775808", nullptr, 10), INT64_MIN);
  EXPECT_EQ(uwsk_wcstoull(u"18446744073709551615", nullptr, 10), UINT64_MAX);
  EXPECT_EQ(uwsk_wcstoull(u"18446744073709551616", nullptr, 10), UINT64_MAX);
  EXPECT_EQ(_wcstoi64(u"9223372036854775807", nullptr, 10), INT64_MAX);
  EXPECT_EQ(_wcstoui64(u"ffffffffffffffff", nullptr, 16), UINT64_MAX);
  EXPECT_EQ(_strtoi64("-0x10", nullptr, 0), -16);
  EXPECT_EQ(_strtoui64("777", nullptr, 8), 511u);
  EXPECT_EQ(_wtoi(u" 123abc"), 123);
  EXPECT_EQ(_wtol(u"-7"), -7);
  EXPECT_EQ(_wtoi64(u"12345678901"), 12345678901LL);
  EXPECT_EQ(_atoi64("-12345678901"), -12345678901LL);
}

TEST(Wcrt, NumberToText) {
  char a[80];
  WCHAR w[80];
  EXPECT_STREQ(_itoa(-123, a, 10), "-123");
  EXPECT_STREQ(_itoa(-1, a, 16), "ffffffff") << "a negative value in radix 16 prints its bits";
  EXPECT_STREQ(_ltoa(255, a, 2), "11111111");
  EXPECT_STREQ(_ultoa(4294967295U, a, 10), "4294967295");
  EXPECT_STREQ(_i64toa(-9223372036854775807LL - 1, a, 10), "-9223372036854775808");
  EXPECT_STREQ(_ui64toa(UINT64_MAX, a, 36), "3w5e11264sgsf");
  EXPECT_EQ(text(_itow(-42, w, 10)), u"-42");
  EXPECT_EQ(text(_ultow(0xBEEF, w, 16)), u"beef");
  EXPECT_EQ(text(_i64tow(-1, w, 16)), u"ffffffffffffffff");
  EXPECT_EQ(text(_ui64tow(0, w, 10)), u"0");
  EXPECT_STREQ(_itoa(5, a, 1), "") << "radix 1 is refused";
}

TEST(Wcrt, MultibyteIsUtf8) {
  WCHAR w[8];
  EXPECT_EQ(uwsk_mbstowcs(nullptr, "h\xc3\xa9\xf0\x9f\x98\x80", 0), 4u); // h, é, a pair
  EXPECT_EQ(uwsk_mbstowcs(w, "h\xc3\xa9\xf0\x9f\x98\x80", 8), 4u);
  EXPECT_EQ(text(w), u"h\u00e9\U0001F600");
  uwsk_wmemset(w, u'#', 8);
  EXPECT_EQ(uwsk_mbstowcs(w, "h\xc3\xa9\xf0\x9f\x98\x80", 3), 2u) << "a pair is never split";
  EXPECT_EQ(w[2], u'#');
  EXPECT_EQ(uwsk_mbstowcs(w, "bad\xff", 8), static_cast<size_t>(-1));

  char a[16];
  EXPECT_EQ(uwsk_wcstombs(nullptr, u"h\u00e9\U0001F600", 0), 7u);
  EXPECT_EQ(uwsk_wcstombs(a, u"h\u00e9\U0001F600", sizeof a), 7u);
  EXPECT_STREQ(a, "h\xc3\xa9\xf0\x9f\x98\x80");
  std::memset(a, '#', sizeof a);
  EXPECT_EQ(uwsk_wcstombs(a, u"h\u00e9", 2), 1u) << "a character is never split";
  EXPECT_EQ(a[1], '#');
  const WCHAR lone[] = {0xD800, 0};
  EXPECT_EQ(uwsk_wcstombs(a, lone, sizeof a), static_cast<size_t>(-1));

  WCHAR c = 0;
  EXPECT_EQ(uwsk_mbtowc(&c, "\xc3\xa9z", 3), 2);
  EXPECT_EQ(c, 0x00e9);
  EXPECT_EQ(uwsk_mbtowc(&c, "\xc3", 1), -1);
  EXPECT_EQ(uwsk_mbtowc(&c, "", 1), 0);
  EXPECT_EQ(uwsk_wctomb(a, 0x20AC), 3);
  EXPECT_EQ(std::string(a, 3), "\xe2\x82\xac");
  EXPECT_EQ(uwsk_wctomb(a, 0xDC00), -1);
}

// ---- printf family ---------------------------------------------------------------------------

TEST(Wcrt, WidePrintfFormsAndWidths) {
  WCHAR buf[64];
  UNICODE_STRING us = RTL_CONSTANT_STRING(u"counted\u00e9");
  ANSI_STRING as = RTL_CONSTANT_STRING("ansi");
  EXPECT_EQ(uwsk_swprintf(buf, 64, u"[%s|%ls|%ws]", u"a\u00e9", u"b", u"c"), 8);
  EXPECT_EQ(text(buf), u"[a\u00e9|b|c]") << "in a wide format %s is wide";
  EXPECT_EQ(uwsk_swprintf(buf, 64, u"%S/%hs", "n\xc3\xa9", "m"), 4);
  EXPECT_EQ(text(buf), u"n\u00e9/m") << "%S and %hs are narrow (UTF-8) in a wide format";
  EXPECT_EQ(uwsk_swprintf(buf, 64, u"<%wZ><%Z><%hZ>", &us, &us, &as), 26);
  EXPECT_EQ(text(buf), u"<counted\u00e9><counted\u00e9><ansi>")
      << "in a wide format %Z is a UNICODE_STRING, %hZ an ANSI_STRING";
  EXPECT_EQ(uwsk_swprintf(buf, 64, u"[%6ls][%-6ws][%.2ls]", u"ab", u"cd", u"xyz"), 20);
  EXPECT_EQ(text(buf), u"[    ab][cd    ][xy]");
  EXPECT_EQ(uwsk_swprintf(buf, 64, u"[%*.*ls]", 5, 3, u"abcdef"), 7);
  EXPECT_EQ(text(buf), u"[  abc]");
  EXPECT_EQ(uwsk_swprintf(buf, 64, u"[%8.3wZ]", &us), 10);
  EXPECT_EQ(text(buf), u"[     cou]");
  EXPECT_EQ(uwsk_swprintf(buf, 64, u"%ld %lx %I64d %08X %c %C", -5, 0xffffffffu, -12345678901LL,
                          0xBEEFu, u'\u00e9', 'z'),
            37);
  EXPECT_EQ(text(buf), u"-5 ffffffff -12345678901 0000BEEF \u00e9 z") << "%ld is 32 bits";
  EXPECT_EQ(uwsk_swprintf(buf, 64, u"%ls|%wZ", static_cast<const WCHAR *>(nullptr),
                          static_cast<PUNICODE_STRING>(nullptr)),
            13);
  EXPECT_EQ(text(buf), u"(null)|(null)");
}

// %ls, %ws and %wZ with widths and precisions through each wide-output entry point: the
// bounded CRT form, the strsafe form (which counts bytes) and the wide string printf.
TEST(Wcrt, WideStringFormsWithWidthAndPrecisionAcrossTheFamily) {
  UNICODE_STRING us = RTL_CONSTANT_STRING(u"counted\u00e9");
  WCHAR w[40];
  EXPECT_EQ(_snwprintf(w, 40, u"[%-9wZ][%3.1ls][%-4.2ws]", &us, u"\u00e9t\u00e9", u"xyz"), 22);
  EXPECT_EQ(text(w), u"[counted\u00e9 ][  \u00e9][xy  ]");
  // Precision bounds what is read: the UNICODE_STRING needs no terminator.
  WCHAR unterminated[3] = {u'a', u'b', u'c'};
  UNICODE_STRING bounded{4, 6, unterminated};
  EXPECT_EQ(_snwprintf(w, 40, u"<%*wZ>", 4, &bounded), 6);
  EXPECT_EQ(text(w), u"<  ab>");
  EXPECT_EQ(_snwprintf(w, 40, u"<%.*ls>", 2, unterminated), 4);
  EXPECT_EQ(text(w), u"<ab>");

  EXPECT_EQ(RtlStringCbPrintfW(w, sizeof w, u"%-5ls|%5.3ws|%.4wZ", u"ab",
                               u"\u00e9\u00e9\u00e9\u00e9", &us),
            STATUS_SUCCESS);
  EXPECT_EQ(text(w), u"ab   |  \u00e9\u00e9\u00e9|coun");
  // A width that does not fit: truncated and terminated, STATUS_BUFFER_OVERFLOW.
  EXPECT_EQ(RtlStringCbPrintfW(w, 6 * sizeof(WCHAR), u"%10ls", u"abc"), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(text(w), u"     ");

  EXPECT_EQ(uwsk_swprintf(w, 40, u"%-3ls|%-3ws|%-3wZ|", u"\u20ac", u"\u20ac", &bounded), 12);
  EXPECT_EQ(text(w), u"\u20ac  |\u20ac  |ab |");
}

TEST(Wcrt, NarrowPrintfWideArguments) {
  char buf[64];
  UNICODE_STRING us = RTL_CONSTANT_STRING(u"w\u00e9");
  EXPECT_EQ(uwsk_sprintf(buf, "%s %ls %ws %S %wZ", "n", u"a\u00e9", u"b", u"c", &us), 13);
  EXPECT_STREQ(buf, "n a\xc3\xa9 b c w\xc3\xa9") << "wide text becomes UTF-8";
  EXPECT_EQ(uwsk_sprintf(buf, "[%5.2ws]", u"wxyz"), 7);
  EXPECT_STREQ(buf, "[   wx]");
  EXPECT_EQ(uwsk_sprintf(buf, "%ld|%lu|%Iu|%p", -1, 4294967295U, static_cast<size_t>(7),
                         reinterpret_cast<void *>(0x1234)),
            32);
  EXPECT_STREQ(buf, "-1|4294967295|7|0000000000001234");
}

TEST(Wcrt, BoundedPrintfResults) {
  char a[8];
  // snprintf (C99): the length needed, always terminated.
  std::memset(a, '#', sizeof a);
  EXPECT_EQ(uwsk_snprintf(a, 4, "%s", "abcdef"), 6);
  EXPECT_STREQ(a, "abc");
  EXPECT_EQ(uwsk_snprintf(nullptr, 0, "%d", 12345), 5);

  // _snprintf: -1 and no terminator when cut; exactly Count characters, no terminator either.
  std::memset(a, '#', sizeof a);
  EXPECT_EQ(_snprintf(a, 4, "%s", "abcdef"), -1);
  EXPECT_EQ(std::string(a, 5), "abcd#");
  std::memset(a, '#', sizeof a);
  EXPECT_EQ(_snprintf(a, 4, "%s", "abcd"), 4);
  EXPECT_EQ(std::string(a, 5), "abcd#");
  EXPECT_EQ(_snprintf(a, 4, "%s", "ab"), 2);
  EXPECT_STREQ(a, "ab");
  EXPECT_EQ(_snprintf(nullptr, 0, "%ws", u"four"), 4);

  WCHAR w[8];
  uwsk_wmemset(w, u'#', 8);
  EXPECT_EQ(_snwprintf(w, 3, u"%ls", u"\u00e9\u00e9\u00e9\u00e9"), -1);
  EXPECT_EQ(std::u16string(w, 4), u"\u00e9\u00e9\u00e9#");
  EXPECT_EQ(_snwprintf(w, 8, u"%d-%ws", 7, u"x"), 3);
  EXPECT_EQ(text(w), u"7-x");

  // swprintf (ISO C): -1 when cut, the buffer holds what fits, terminated.
  uwsk_wmemset(w, u'#', 8);
  EXPECT_EQ(uwsk_swprintf(w, 4, u"%ls", u"abcdef"), -1);
  EXPECT_EQ(text(w), u"abc");
  EXPECT_EQ(uwsk_swprintf(w, 0, u"x"), -1);

  EXPECT_EQ(_scprintf("%s-%d", "ab", 100), 6);
  EXPECT_EQ(_scwprintf(u"%ls%ls", u"\u00e9", u"xy"), 3);
}

TEST(Wcrt, SecurePrintfFailures) {
  char a[6];
  std::memcpy(a, "zzzzz", 6);
  EXPECT_EQ(sprintf_s(a, sizeof a, "%s", "abc"), 3);
  EXPECT_STREQ(a, "abc");
  EXPECT_EQ(sprintf_s(a, sizeof a, "%s", "abcdef"), -1) << "too small: the output must fit";
  EXPECT_STREQ(a, "") << "and the buffer becomes an empty string";
  EXPECT_EQ(errno, ERANGE);
  EXPECT_EQ(sprintf_s(nullptr, 4, "x"), -1);
  EXPECT_EQ(errno, EINVAL);

  WCHAR w[6];
  EXPECT_EQ(swprintf_s(w, 6, u"%ws!", u"abcd"), 5);
  EXPECT_EQ(text(w), u"abcd!");
  EXPECT_EQ(swprintf_s(w, 6, u"%ws!!", u"abcd"), -1);
  EXPECT_EQ(text(w), u"");

  // _snprintf_s: _TRUNCATE cuts and terminates (-1); Count below the size cuts at Count;
  // otherwise a result that does not fit is an invalid parameter.
  EXPECT_EQ(_snprintf_s(a, sizeof a, _TRUNCATE, "%s", "abcdefgh"), -1);
  EXPECT_STREQ(a, "abcde");
  EXPECT_EQ(_snprintf_s(a, sizeof a, _TRUNCATE, "%s", "ab"), 2);
  EXPECT_STREQ(a, "ab");
  EXPECT_EQ(_snprintf_s(a, sizeof a, 3, "%s", "abcdefgh"), -1);
  EXPECT_STREQ(a, "abc");
  EXPECT_EQ(_snprintf_s(a, sizeof a, 3, "%s", "abc"), 3);
  EXPECT_STREQ(a, "abc");
  EXPECT_EQ(_snprintf_s(a, sizeof a, 10, "%s", "abcdefgh"), -1);
  EXPECT_STREQ(a, "");
  EXPECT_EQ(errno, ERANGE);
  EXPECT_EQ(_snwprintf_s(w, 6, _TRUNCATE, u"%ls", u"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"),
            -1);
  EXPECT_EQ(text(w), u"\u00e9\u00e9\u00e9\u00e9\u00e9");
  EXPECT_EQ(_snwprintf_s(w, 6, 2, u"%ls", u"xyz"), -1);
  EXPECT_EQ(text(w), u"xy");
}

// ---- Secure copies ---------------------------------------------------------------------------

TEST(Wcrt, SecureCopyFailuresLeaveDocumentedState) {
  char a[4];
  EXPECT_EQ(strcpy_s(a, sizeof a, "abc"), 0);
  EXPECT_STREQ(a, "abc");
  EXPECT_EQ(strcpy_s(a, sizeof a, "abcd"), ERANGE);
  EXPECT_STREQ(a, "") << "too small: an empty string";
  std::memcpy(a, "xyz", 4);
  EXPECT_EQ(strcpy_s(a, sizeof a, nullptr), EINVAL);
  EXPECT_STREQ(a, "");
  EXPECT_EQ(strcpy_s(nullptr, 4, "a"), EINVAL);
  std::memcpy(a, "xyz", 4);
  EXPECT_EQ(strcpy_s(a, 0, "a"), EINVAL);
  EXPECT_STREQ(a, "xyz") << "no room: nothing written";

  EXPECT_EQ(strncpy_s(a, sizeof a, "abcdef", 2), 0);
  EXPECT_STREQ(a, "ab");
  EXPECT_EQ(strncpy_s(a, sizeof a, "abcdef", _TRUNCATE), STRUNCATE);
  EXPECT_STREQ(a, "abc");
  EXPECT_EQ(strncpy_s(a, sizeof a, "abcdef", 4), ERANGE);
  EXPECT_STREQ(a, "");
  EXPECT_EQ(strncpy_s(a, sizeof a, nullptr, 0), 0);
  EXPECT_EQ(strncpy_s(nullptr, 0, nullptr, 0), 0);

  EXPECT_EQ(strcpy_s(a, sizeof a, "a"), 0);
  EXPECT_EQ(strcat_s(a, sizeof a, "bc"), 0);
  EXPECT_STREQ(a, "abc");
  EXPECT_EQ(strcat_s(a, sizeof a, "d"), ERANGE);
  EXPECT_STREQ(a, "");
  std::memcpy(a, "abcd", 4); // not terminated within the size
  EXPECT_EQ(strcat_s(a, sizeof a, "x"), EINVAL);
  EXPECT_STREQ(a, "");
  EXPECT_EQ(strncat_s(a, sizeof a, "xyz", 2), 0);
  EXPECT_STREQ(a, "xy");
  EXPECT_EQ(strncat_s(a, sizeof a, "123", _TRUNCATE), STRUNCATE);
  EXPECT_STREQ(a, "xy1");

  WCHAR w[4];
  EXPECT_EQ(wcscpy_s(w, 4, u"\u00e9\u00e9\u00e9"), 0);
  EXPECT_EQ(text(w), u"\u00e9\u00e9\u00e9");
  EXPECT_EQ(wcscpy_s(w, 4, u"abcd"), ERANGE);
  EXPECT_EQ(text(w), u"");
  EXPECT_EQ(wcsncpy_s(w, 4, u"abcdef", _TRUNCATE), STRUNCATE);
  EXPECT_EQ(text(w), u"abc");
  EXPECT_EQ(wcsncpy_s(w, 4, u"abcdef", 1), 0);
  EXPECT_EQ(text(w), u"a");
  EXPECT_EQ(wcscat_s(w, 4, u"bc"), 0);
  EXPECT_EQ(text(w), u"abc");
  EXPECT_EQ(wcscat_s(w, 4, u"d"), ERANGE);
  EXPECT_EQ(text(w), u"");
  EXPECT_EQ(wcsncat_s(w, 4, u"wxyz", _TRUNCATE), STRUNCATE);
  EXPECT_EQ(text(w), u"wxy");
  EXPECT_EQ(wcsncpy_s(w, 4, u"xy", _TRUNCATE), 0);
  EXPECT_EQ(wcsncat_s(w, 4, u"z", _TRUNCATE), 0);
  EXPECT_EQ(text(w), u"xyz");
  EXPECT_EQ(wcsnlen_s(w, 2), 2u);
  EXPECT_EQ(wcsnlen_s(nullptr, 2), 0u);
  EXPECT_EQ(strnlen_s("abc", 10), 3u);
}

TEST(Wcrt, SecureMemoryCopies) {
  unsigned char dst[4] = {1, 2, 3, 4};
  const unsigned char src[6] = {9, 9, 9, 9, 9, 9};
  EXPECT_EQ(memcpy_s(dst, sizeof dst, src, 6), ERANGE);
  EXPECT_EQ(dst[0] | dst[1] | dst[2] | dst[3], 0) << "memcpy_s zeroes the destination on failure";
  std::memset(dst, 7, sizeof dst);
  EXPECT_EQ(memcpy_s(dst, sizeof dst, nullptr, 2), EINVAL);
  EXPECT_EQ(dst[3], 0);
  EXPECT_EQ(memcpy_s(nullptr, 4, src, 2), EINVAL);
  EXPECT_EQ(memcpy_s(dst, sizeof dst, src, 4), 0);
  EXPECT_EQ(dst[3], 9);
  EXPECT_EQ(memcpy_s(nullptr, 0, nullptr, 0), 0);

  std::memset(dst, 7, sizeof dst);
  EXPECT_EQ(memmove_s(dst, sizeof dst, src, 6), ERANGE);
  EXPECT_EQ(dst[0], 7) << "memmove_s leaves the destination alone on failure";
  EXPECT_EQ(memmove_s(dst, sizeof dst, nullptr, 1), EINVAL);
  EXPECT_EQ(dst[0], 7);
  unsigned char overlap[5] = {1, 2, 3, 4, 5};
  EXPECT_EQ(memmove_s(overlap + 1, 4, overlap, 4), 0);
  EXPECT_EQ(overlap[4], 4);
}

} // namespace

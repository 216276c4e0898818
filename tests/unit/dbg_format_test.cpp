// The Windows format engine behind DbgPrint and the ntstrsafe Printf functions.
#include <gtest/gtest.h>

#include <cstdarg>
#include <string>

#include <wdm.h>

#include "nt/dbg/format.hpp"

namespace {

using uwsk::nt::FormatUse;

std::string fmt_use(FormatUse *use, const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  std::string s = uwsk::nt::format_windows_string(f, ap, use);
  va_end(ap);
  return s;
}

std::string fmt(const char *f, ...) {
  va_list ap;
  va_start(ap, f);
  std::string s = uwsk::nt::format_windows_string(f, ap);
  va_end(ap);
  return s;
}

std::u16string wfmt(const char16_t *f, ...) {
  va_list ap;
  va_start(ap, f);
  std::u16string s = uwsk::nt::format_windows_u16string(f, ap);
  va_end(ap);
  return s;
}

TEST(DbgFormat, PlainTextAndPercent) {
  EXPECT_EQ(fmt("hello"), "hello");
  EXPECT_EQ(fmt("100%%"), "100%");
  EXPECT_EQ(fmt(""), "");
}

TEST(DbgFormat, DecimalIsThirtyTwoBitsEvenWithL) {
  EXPECT_EQ(fmt("%d", 42), "42");
  EXPECT_EQ(fmt("%i", -7), "-7");
  ULONG all_ones = 0xFFFFFFFFu;
  EXPECT_EQ(fmt("%ld", all_ones), "-1");
  EXPECT_EQ(fmt("%lu", all_ones), "4294967295");
  EXPECT_EQ(fmt("%lx", all_ones), "ffffffff");
  EXPECT_EQ(fmt("%lX", 0xABCDu), "ABCD");
  EXPECT_EQ(fmt("%u", 3000000000u), "3000000000");
  // The next argument is read correctly after a 32-bit one.
  EXPECT_EQ(fmt("%ld %d", all_ones, 5), "-1 5");
}

TEST(DbgFormat, SixtyFourBitModifiers) {
  EXPECT_EQ(fmt("%I64d", static_cast<LONGLONG>(-5000000000LL)), "-5000000000");
  EXPECT_EQ(fmt("%I64u", static_cast<ULONGLONG>(18446744073709551615ULL)), "18446744073709551615");
  EXPECT_EQ(fmt("%I64x", static_cast<ULONGLONG>(0x123456789abcdefULL)), "123456789abcdef");
  EXPECT_EQ(fmt("%I64X", static_cast<ULONGLONG>(0xDEADBEEFCAFEULL)), "DEADBEEFCAFE");
  EXPECT_EQ(fmt("%lld", -1LL), "-1");
  EXPECT_EQ(fmt("%llu", 1ULL << 40), "1099511627776");
  EXPECT_EQ(fmt("%llx", 0xFFFFFFFFFFULL), "ffffffffff");
  EXPECT_EQ(fmt("%I32d", -3), "-3");
  EXPECT_EQ(fmt("%I32x", 0xFFFFFFFFu), "ffffffff");
}

TEST(DbgFormat, PointerSizedModifiers) {
  EXPECT_EQ(fmt("%Id", static_cast<LONG_PTR>(-1)), "-1");
  EXPECT_EQ(fmt("%Iu", static_cast<SIZE_T>(1) << 40), "1099511627776");
  EXPECT_EQ(fmt("%Ix", static_cast<ULONG_PTR>(0xABCDEF0123ULL)), "abcdef0123");
  EXPECT_EQ(fmt("%IX", static_cast<ULONG_PTR>(0xABCDEF0123ULL)), "ABCDEF0123");
  EXPECT_EQ(fmt("%zu", static_cast<size_t>(1) << 33), "8589934592");
  EXPECT_EQ(fmt("%zd", static_cast<SSIZE_T>(-2)), "-2");
  EXPECT_EQ(fmt("%td", static_cast<ptrdiff_t>(-9)), "-9");
  EXPECT_EQ(fmt("%jd", static_cast<intmax_t>(-10)), "-10");
  // The sample's trace strings: %Iu then %p.
  EXPECT_EQ(fmt("%Iu bytes at %p", static_cast<SIZE_T>(12), reinterpret_cast<void *>(0x1000)),
            "12 bytes at 0000000000001000");
}

TEST(DbgFormat, ShortAndCharModifiers) {
  EXPECT_EQ(fmt("%hd", 65535), "-1");
  EXPECT_EQ(fmt("%hu", 65537), "1");
  EXPECT_EQ(fmt("%hx", 0x12345), "2345");
  EXPECT_EQ(fmt("%hhu", 257), "1");
  EXPECT_EQ(fmt("%hhd", 255), "-1");
}

TEST(DbgFormat, PointerIsSixteenUpperCaseDigits) {
  EXPECT_EQ(fmt("%p", reinterpret_cast<void *>(0x7FF6A1B2C3D0ULL)), "00007FF6A1B2C3D0");
  EXPECT_EQ(fmt("%p", nullptr), "0000000000000000");
  EXPECT_EQ(fmt("[%20p]", reinterpret_cast<void *>(0xABC)), "[    0000000000000ABC]");
  EXPECT_EQ(fmt("[%-18p]", reinterpret_cast<void *>(0xABC)), "[0000000000000ABC  ]");
}

TEST(DbgFormat, FlagsWidthPrecision) {
  EXPECT_EQ(fmt("[%5d]", 42), "[   42]");
  EXPECT_EQ(fmt("[%-5d]", 42), "[42   ]");
  EXPECT_EQ(fmt("[%05d]", 42), "[00042]");
  EXPECT_EQ(fmt("[%05d]", -42), "[-0042]");
  EXPECT_EQ(fmt("[%+d]", 42), "[+42]");
  EXPECT_EQ(fmt("[% d]", 42), "[ 42]");
  EXPECT_EQ(fmt("[%+u]", 42u), "[42]");
  EXPECT_EQ(fmt("%#x", 255), "0xff");
  EXPECT_EQ(fmt("%#X", 255), "0XFF");
  EXPECT_EQ(fmt("%#x", 0), "0");
  EXPECT_EQ(fmt("%#o", 8), "010");
  EXPECT_EQ(fmt("%o", 8), "10");
  EXPECT_EQ(fmt("%.3d", 5), "005");
  EXPECT_EQ(fmt("[%.0d]", 0), "[]");
  EXPECT_EQ(fmt("[%5.3d]", 7), "[  007]");
  EXPECT_EQ(fmt("[%05.3d]", 7), "[  007]"); // precision turns the 0 flag off
  EXPECT_EQ(fmt("%#010x", 255), "0x000000ff");
  EXPECT_EQ(fmt("%08lX", 0xBEEFu), "0000BEEF");
}

TEST(DbgFormat, StarWidthAndPrecision) {
  EXPECT_EQ(fmt("[%*d]", 5, 42), "[   42]");
  EXPECT_EQ(fmt("[%-*d]", 5, 42), "[42   ]");
  EXPECT_EQ(fmt("[%*d]", -5, 42), "[42   ]"); // a negative width means left-justified
  EXPECT_EQ(fmt("[%.*s]", 3, "abcdef"), "[abc]");
  EXPECT_EQ(fmt("[%.*s]", -1, "abc"), "[abc]"); // a negative precision is ignored
  EXPECT_EQ(fmt("[%*.*s]", 6, 2, "abcdef"), "[    ab]");
  // %.*s never reads past the precision: the buffer needs no terminator.
  char unterminated[3] = {'x', 'y', 'z'};
  EXPECT_EQ(fmt("%.*s", 3, unterminated), "xyz");
}

TEST(DbgFormat, NarrowStrings) {
  EXPECT_EQ(fmt("%s", "hi"), "hi");
  EXPECT_EQ(fmt("%hs", "hi"), "hi");
  EXPECT_EQ(fmt("[%5s]", "hi"), "[   hi]");
  EXPECT_EQ(fmt("[%-5s]", "hi"), "[hi   ]");
  EXPECT_EQ(fmt("%s", static_cast<const char *>(nullptr)), "(null)");
  EXPECT_EQ(fmt("%s", reinterpret_cast<const char *>(0x10)), "(null)"); // a bad pointer
}

TEST(DbgFormat, WideStringsInNarrowFormat) {
  EXPECT_EQ(fmt("%S", u"wide"), "wide");
  EXPECT_EQ(fmt("%ls", u"wide"), "wide");
  EXPECT_EQ(fmt("%ws", u"wide"), "wide");
  EXPECT_EQ(fmt("%ws", static_cast<const char16_t *>(nullptr)), "(null)");
  EXPECT_EQ(fmt("%S", static_cast<const char16_t *>(nullptr)), "(null)");
  EXPECT_EQ(fmt("[%6ws]", u"ab"), "[    ab]");
  EXPECT_EQ(fmt("%.2ws", u"abcdef"), "ab");
  // UTF-16 becomes UTF-8: e-acute, euro sign, and a surrogate pair (U+1F600).
  EXPECT_EQ(fmt("%ws", u"\u00e9\u20ac\U0001F600"), "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  // A lone surrogate becomes U+FFFD.
  const char16_t lone[] = {u'a', 0xD800, u'b', 0};
  EXPECT_EQ(fmt("%ws", lone), "a\xEF\xBF\xBD"
                              "b");
  // Precision does not split a surrogate pair.
  EXPECT_EQ(fmt("%.2ws", u"a\U0001F600"), "a");
}

TEST(DbgFormat, CountedStrings) {
  WCHAR buffer[] = u"counted-and-more";
  UNICODE_STRING us;
  us.Buffer = buffer;
  us.Length = 7 * sizeof(WCHAR);
  us.MaximumLength = sizeof(buffer);
  EXPECT_EQ(fmt("<%wZ>", &us), "<counted>");
  EXPECT_EQ(fmt("<%.3wZ>", &us), "<cou>");
  EXPECT_EQ(fmt("<%10wZ>", &us), "<   counted>");
  EXPECT_EQ(fmt("<%wZ>", static_cast<PUNICODE_STRING>(nullptr)), "<(null)>");
  UNICODE_STRING empty{0, 0, nullptr};
  EXPECT_EQ(fmt("<%wZ>", &empty), "<(null)>");

  char abuf[] = "ansi-text";
  ANSI_STRING as;
  as.Buffer = abuf;
  as.Length = 4;
  as.MaximumLength = sizeof(abuf);
  EXPECT_EQ(fmt("<%Z>", &as), "<ansi>");
  EXPECT_EQ(fmt("<%hZ>", &as), "<ansi>");
  EXPECT_EQ(fmt("<%Z>", static_cast<PANSI_STRING>(nullptr)), "<(null)>");
}

TEST(DbgFormat, Characters) {
  EXPECT_EQ(fmt("%c%c", 'o', 'k'), "ok");
  EXPECT_EQ(fmt("%hc", 'n'), "n");
  EXPECT_EQ(fmt("%C", static_cast<int>(u'\u00e9')), "\xC3\xA9");
  EXPECT_EQ(fmt("%lc", static_cast<int>(u'w')), "w");
  EXPECT_EQ(fmt("%wc", static_cast<int>(u'w')), "w");
  EXPECT_EQ(fmt("[%3c]", 'x'), "[  x]");
}

TEST(DbgFormat, NIsRefused) {
  int n = 7;
  FormatUse use;
  EXPECT_EQ(fmt_use(&use, "ab%ncd%d", &n, 5), "abcd5");
  EXPECT_EQ(n, 7);
  EXPECT_TRUE(use.n_conversion);
}

TEST(DbgFormat, FloatingPointIsFormattedAndReported) {
  FormatUse use;
  EXPECT_EQ(fmt_use(&use, "%f", 1.5), "1.500000");
  EXPECT_TRUE(use.floating_point);
  EXPECT_EQ(fmt("%.2f|%e|%g|%8.3f", 3.14159, 1000.0, 0.5, 2.0), "3.14|1.000000e+03|0.5|   2.000");
  EXPECT_EQ(fmt("%d %.1f %d", 1, 2.0, 3), "1 2.0 3");
  EXPECT_EQ(fmt("%Lf", static_cast<long double>(0.25)), "0.250000");
}

TEST(DbgFormat, WideArgumentsAreReported) {
  FormatUse use;
  fmt_use(&use, "%s %d", "narrow", 1);
  EXPECT_FALSE(use.wide_argument);
  fmt_use(&use, "%ws", u"wide");
  EXPECT_TRUE(use.wide_argument);
}

TEST(DbgFormat, UnknownAndTruncatedConversions) {
  EXPECT_EQ(fmt("a%yb"), "a%yb");
  EXPECT_EQ(fmt("abc%"), "abc%");
  EXPECT_EQ(fmt("abc%l"), "abc%l");
  EXPECT_EQ(fmt("%-5"), "%-5");
  // Modifiers cut short: the longest that matches, then the conversion as it stands.
  EXPECT_EQ(fmt("abc%I"), "abc%I");
  EXPECT_EQ(fmt("abc%I6"), "abc%I6");
  EXPECT_EQ(fmt("%I6d"), "%I6d");
  EXPECT_EQ(fmt("%I3"), "%I3");
  EXPECT_EQ(fmt("abc%hh"), "abc%hh");
  EXPECT_EQ(fmt("%hlu", 1u), "%hlu"); // h, then "l" is no conversion: copied as it stands
}

TEST(DbgFormat, ManyArgumentsInSequence) {
  EXPECT_EQ(fmt("%d %s %I64u %p %ws %c %lu", 1, "two", static_cast<ULONGLONG>(3),
                reinterpret_cast<void *>(4), u"five", '6', static_cast<ULONG>(7)),
            "1 two 3 0000000000000004 five 6 7");
}

TEST(DbgFormat, WideFormatsSwapTheStringDefaults) {
  EXPECT_EQ(wfmt(u"%s", u"wide"), u"wide");
  EXPECT_EQ(wfmt(u"%ls|%ws", u"a", u"b"), u"a|b");
  EXPECT_EQ(wfmt(u"%S", "narrow"), u"narrow");
  EXPECT_EQ(wfmt(u"%hs", "narrow"), u"narrow");
  EXPECT_EQ(wfmt(u"%S", "\xC3\xA9"), u"\u00e9"); // narrow text is UTF-8
  EXPECT_EQ(wfmt(u"%c%C", static_cast<int>(u'\u00e9'), static_cast<int>('n')), u"\u00e9n");
  WCHAR buffer[] = u"counted";
  UNICODE_STRING us{7 * sizeof(WCHAR), sizeof(buffer), buffer};
  EXPECT_EQ(wfmt(u"<%wZ|%Z>", &us, &us), u"<counted|counted>");
  EXPECT_EQ(wfmt(u"%d-%08lX-%p", -3, 0xBEEFu, reinterpret_cast<void *>(0x10)),
            u"-3-0000BEEF-0000000000000010");
  EXPECT_EQ(wfmt(u"%s", static_cast<const char16_t *>(nullptr)), u"(null)");
  EXPECT_EQ(wfmt(u"\U0001F600 %d", 1), u"\U0001F600 1");
}

} // namespace

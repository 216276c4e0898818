// Run-time library: lists, memory helpers, byte swaps, counted strings, conversions, numbers,
// GUIDs, random numbers, time fields and the version.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <wdm.h>

#include "nt/ex/pool.hpp"

namespace {

std::size_t string_allocations() {
  for (const auto &usage : uwsk::nt::pool_outstanding()) {
    if (usage.tag == UWSK_RTL_STRING_TAG) {
      return usage.allocations;
    }
  }
  return 0;
}

std::u16string text(const UNICODE_STRING &s) {
  return std::u16string(s.Buffer, s.Length / sizeof(WCHAR));
}

std::string text(const STRING &s) {
  return std::string(s.Buffer, s.Length);
}

// ---- Lists ----------------------------------------------------------------------------------

struct Item {
  int value;
  LIST_ENTRY link;
};

std::vector<int> values(PLIST_ENTRY head) {
  std::vector<int> out;
  for (PLIST_ENTRY e = head->Flink; e != head; e = e->Flink) {
    out.push_back(CONTAINING_RECORD(e, Item, link)->value);
  }
  return out;
}

TEST(RtlList, InsertRemoveAndEmptiness) {
  LIST_ENTRY head;
  InitializeListHead(&head);
  EXPECT_TRUE(IsListEmpty(&head));
  Item a{1, {}}, b{2, {}}, c{3, {}};
  InsertTailList(&head, &a.link);
  InsertTailList(&head, &b.link);
  InsertHeadList(&head, &c.link);
  EXPECT_EQ(values(&head), (std::vector<int>{3, 1, 2}));
  EXPECT_FALSE(RemoveEntryList(&a.link)); // not empty afterwards
  EXPECT_EQ(values(&head), (std::vector<int>{3, 2}));
  EXPECT_EQ(CONTAINING_RECORD(RemoveHeadList(&head), Item, link)->value, 3);
  EXPECT_EQ(CONTAINING_RECORD(RemoveTailList(&head), Item, link)->value, 2);
  EXPECT_TRUE(IsListEmpty(&head));
  InsertTailList(&head, &a.link);
  EXPECT_TRUE(RemoveEntryList(&a.link)); // the list is now empty
}

TEST(RtlList, AppendTailListSplicesARing) {
  LIST_ENTRY head;
  InitializeListHead(&head);
  Item a{1, {}}, b{2, {}}, c{3, {}}, d{4, {}};
  InsertTailList(&head, &a.link);
  // A headless ring c <-> d, appended through its first entry.
  InitializeListHead(&c.link);
  InsertTailList(&c.link, &d.link);
  AppendTailList(&head, &c.link);
  EXPECT_EQ(values(&head), (std::vector<int>{1, 3, 4}));
  InsertTailList(&head, &b.link);
  EXPECT_EQ(values(&head), (std::vector<int>{1, 3, 4, 2}));
}

TEST(RtlList, SinglyLinked) {
  SINGLE_LIST_ENTRY head{nullptr};
  SINGLE_LIST_ENTRY x, y;
  EXPECT_EQ(PopEntryList(&head), nullptr);
  PushEntryList(&head, &x);
  PushEntryList(&head, &y);
  EXPECT_EQ(PopEntryList(&head), &y);
  EXPECT_EQ(PopEntryList(&head), &x);
  EXPECT_EQ(PopEntryList(&head), nullptr);
}

// ---- Memory and byte swaps -------------------------------------------------------------------

TEST(RtlMemory, MacrosAndCompare) {
  UCHAR a[8];
  UCHAR b[8];
  RtlFillMemory(a, sizeof a, 0x5A);
  RtlCopyMemory(b, a, sizeof a);
  EXPECT_TRUE(RtlEqualMemory(a, b, sizeof a));
  b[5] = 0;
  EXPECT_FALSE(RtlEqualMemory(a, b, sizeof a));
  EXPECT_EQ(RtlCompareMemory(a, b, sizeof a), 5u);
  EXPECT_EQ(RtlCompareMemory(a, a, sizeof a), 8u);
  RtlZeroMemory(a, 4);
  EXPECT_EQ(a[3], 0);
  EXPECT_EQ(a[4], 0x5A);
  RtlMoveMemory(a + 1, a, 4);
  EXPECT_EQ(a[4], 0);
  RtlSecureZeroMemory(b, sizeof b);
  for (UCHAR v : b) {
    EXPECT_EQ(v, 0);
  }
  ULONG words[4] = {7, 7, 8, 7};
  EXPECT_EQ(RtlCompareMemoryUlong(words, sizeof words, 7), 8u);
  EXPECT_EQ(RtlCompareMemoryUlong(words, 6, 7), 4u);
  RtlFillMemoryUlong(words, sizeof words, 0xA5A5A5A5u);
  EXPECT_EQ(words[3], 0xA5A5A5A5u);
}

TEST(RtlMemory, ByteSwaps) {
  EXPECT_EQ(RtlUshortByteSwap(0x1234), 0x3412);
  EXPECT_EQ(RtlUlongByteSwap(0x12345678u), 0x78563412u);
  EXPECT_EQ(RtlUlonglongByteSwap(0x0102030405060708ULL), 0x0807060504030201ULL);
  EXPECT_EQ(RtlUshortByteSwap(40007), 0x479c); // the sample's port
}

// ---- Counted strings -------------------------------------------------------------------------

TEST(RtlString, InitFunctions) {
  UNICODE_STRING us;
  RtlInitUnicodeString(&us, u"hello");
  EXPECT_EQ(us.Length, 10);
  EXPECT_EQ(us.MaximumLength, 12);
  RtlInitUnicodeString(&us, nullptr);
  EXPECT_EQ(us.Length, 0);
  EXPECT_EQ(us.MaximumLength, 0);
  EXPECT_EQ(us.Buffer, nullptr);

  std::u16string huge(40000, u'x');
  RtlInitUnicodeString(&us, huge.c_str());
  EXPECT_EQ(us.Length, MAX_USTRING - sizeof(WCHAR));
  EXPECT_EQ(us.MaximumLength, MAX_USTRING);
  EXPECT_EQ(RtlInitUnicodeStringEx(&us, huge.c_str()), STATUS_NAME_TOO_LONG);
  EXPECT_EQ(RtlInitUnicodeStringEx(&us, u"ok"), STATUS_SUCCESS);
  EXPECT_EQ(us.Length, 4);

  ANSI_STRING as;
  RtlInitAnsiString(&as, "abc");
  EXPECT_EQ(as.Length, 3);
  EXPECT_EQ(as.MaximumLength, 4);
  std::string long_narrow(70000, 'y');
  EXPECT_EQ(RtlInitAnsiStringEx(&as, long_narrow.c_str()), STATUS_NAME_TOO_LONG);
  RtlInitAnsiString(&as, long_narrow.c_str());
  EXPECT_EQ(as.Length, MAXUSHORT - 1);
  STRING s;
  RtlInitString(&s, "x");
  EXPECT_EQ(s.Length, 1);
  UTF8_STRING u8;
  RtlInitUTF8String(&u8, "\xC3\xA9");
  EXPECT_EQ(u8.Length, 2);
  EXPECT_EQ(RtlInitUTF8StringEx(&u8, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(u8.Length, 0);

  WCHAR buffer[8];
  RtlInitEmptyUnicodeString(&us, buffer, sizeof buffer);
  EXPECT_EQ(us.Length, 0);
  EXPECT_EQ(us.MaximumLength, sizeof buffer);
}

TEST(RtlString, CopyAndAppend) {
  WCHAR buffer[6];
  UNICODE_STRING dest;
  RtlInitEmptyUnicodeString(&dest, buffer, sizeof buffer);
  UNICODE_STRING src;
  RtlInitUnicodeString(&src, u"abc");
  RtlCopyUnicodeString(&dest, &src);
  EXPECT_EQ(text(dest), u"abc");
  EXPECT_EQ(buffer[3], 0); // terminated: there was room

  RtlInitUnicodeString(&src, u"abcdefgh");
  RtlCopyUnicodeString(&dest, &src); // truncated to what fits
  EXPECT_EQ(text(dest), u"abcdef");
  RtlCopyUnicodeString(&dest, nullptr);
  EXPECT_EQ(dest.Length, 0);

  RtlInitUnicodeString(&src, u"ab");
  EXPECT_EQ(RtlAppendUnicodeStringToString(&dest, &src), STATUS_SUCCESS);
  EXPECT_EQ(RtlAppendUnicodeToString(&dest, u"cd"), STATUS_SUCCESS);
  EXPECT_EQ(text(dest), u"abcd");
  EXPECT_EQ(RtlAppendUnicodeToString(&dest, u"xyz"), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(text(dest), u"abcd");
  EXPECT_EQ(RtlAppendUnicodeToString(&dest, u"ef"), STATUS_SUCCESS);
  EXPECT_EQ(text(dest), u"abcdef");
  EXPECT_EQ(RtlAppendUnicodeToString(&dest, nullptr), STATUS_SUCCESS);

  char nbuf[4];
  STRING nd{0, sizeof nbuf, nbuf};
  STRING ns;
  RtlInitString(&ns, "hello");
  RtlCopyString(&nd, &ns);
  EXPECT_EQ(text(nd), "hell");
  nd.Length = 2;
  RtlInitString(&ns, "zz");
  EXPECT_EQ(RtlAppendStringToString(&nd, &ns), STATUS_SUCCESS);
  EXPECT_EQ(text(nd), "hezz");
  EXPECT_EQ(RtlAppendStringToString(&nd, &ns), STATUS_BUFFER_TOO_SMALL);
}

TEST(RtlString, CompareAndEqual) {
  UNICODE_STRING a, b, c;
  RtlInitUnicodeString(&a, u"Alpha");
  RtlInitUnicodeString(&b, u"alpha");
  RtlInitUnicodeString(&c, u"alphabet");
  EXPECT_LT(RtlCompareUnicodeString(&a, &b, FALSE), 0);
  EXPECT_EQ(RtlCompareUnicodeString(&a, &b, TRUE), 0);
  EXPECT_LT(RtlCompareUnicodeString(&b, &c, FALSE), 0);
  EXPECT_GT(RtlCompareUnicodeString(&c, &b, TRUE), 0);
  EXPECT_FALSE(RtlEqualUnicodeString(&a, &b, FALSE));
  EXPECT_TRUE(RtlEqualUnicodeString(&a, &b, TRUE));
  EXPECT_TRUE(RtlPrefixUnicodeString(&a, &c, TRUE));
  EXPECT_FALSE(RtlPrefixUnicodeString(&a, &c, FALSE));
  EXPECT_FALSE(RtlPrefixUnicodeString(&c, &a, TRUE));
  EXPECT_EQ(RtlCompareUnicodeStrings(u"abc", 3, u"ABC", 3, TRUE), 0);

  UNICODE_STRING e1, e2;
  RtlInitUnicodeString(&e1, u"\u00e9t\u00e9");
  RtlInitUnicodeString(&e2, u"\u00c9T\u00c9");
  EXPECT_TRUE(RtlEqualUnicodeString(&e1, &e2, TRUE));
  EXPECT_FALSE(RtlEqualUnicodeString(&e1, &e2, FALSE));

  STRING s1, s2;
  RtlInitString(&s1, "Key");
  RtlInitString(&s2, "KEY");
  EXPECT_TRUE(RtlEqualString(&s1, &s2, TRUE));
  EXPECT_FALSE(RtlEqualString(&s1, &s2, FALSE));
  EXPECT_GT(RtlCompareString(&s1, &s2, FALSE), 0);
  RtlInitString(&s2, "Keys");
  EXPECT_TRUE(RtlPrefixString(&s1, &s2, FALSE));
}

TEST(RtlString, CaseMapping) {
  EXPECT_EQ(RtlUpcaseUnicodeChar(u'a'), u'A');
  EXPECT_EQ(RtlUpcaseUnicodeChar(u'\u00e9'), u'\u00c9');
  EXPECT_EQ(RtlUpcaseUnicodeChar(u'\u03b1'), u'\u0391'); // Greek alpha
  EXPECT_EQ(RtlUpcaseUnicodeChar(u'\u0430'), u'\u0410'); // Cyrillic a
  EXPECT_EQ(RtlUpcaseUnicodeChar(u'1'), u'1');
  EXPECT_EQ(RtlDowncaseUnicodeChar(u'Q'), u'q');
  EXPECT_EQ(RtlUpperChar('z'), 'Z');
  EXPECT_EQ(RtlUpperChar('\xE9'), '\xE9');

  size_t before = string_allocations();
  UNICODE_STRING src, up;
  RtlInitUnicodeString(&src, u"MiXeD \u00e9");
  ASSERT_EQ(RtlUpcaseUnicodeString(&up, &src, TRUE), STATUS_SUCCESS);
  EXPECT_EQ(text(up), u"MIXED \u00c9");
  EXPECT_EQ(string_allocations(), before + 1);
  ASSERT_EQ(RtlDowncaseUnicodeString(&up, &up, FALSE), STATUS_SUCCESS); // in place
  EXPECT_EQ(text(up), u"mixed \u00e9");
  RtlFreeUnicodeString(&up);
  EXPECT_EQ(string_allocations(), before);
  EXPECT_EQ(up.Buffer, nullptr);

  WCHAR small[2];
  UNICODE_STRING dest{0, sizeof small, small};
  EXPECT_EQ(RtlUpcaseUnicodeString(&dest, &src, FALSE), STATUS_BUFFER_OVERFLOW);

  char nb[8];
  STRING nd{0, sizeof nb, nb};
  STRING ns;
  RtlInitString(&ns, "abc1");
  RtlUpperString(&nd, &ns);
  EXPECT_EQ(text(nd), "ABC1");
}

TEST(RtlString, CreateAndDuplicate) {
  size_t before = string_allocations();
  UNICODE_STRING created;
  ASSERT_TRUE(RtlCreateUnicodeString(&created, u"made"));
  EXPECT_EQ(text(created), u"made");
  EXPECT_EQ(created.MaximumLength, 10);
  EXPECT_EQ(created.Buffer[4], 0);

  UNICODE_STRING dup;
  ASSERT_EQ(RtlDuplicateUnicodeString(RTL_DUPLICATE_UNICODE_STRING_NULL_TERMINATE, &created, &dup),
            STATUS_SUCCESS);
  EXPECT_EQ(text(dup), u"made");
  EXPECT_EQ(dup.Buffer[4], 0);
  EXPECT_NE(dup.Buffer, created.Buffer);
  EXPECT_EQ(string_allocations(), before + 2);

  UNICODE_STRING empty{0, 0, nullptr};
  UNICODE_STRING out;
  EXPECT_EQ(RtlDuplicateUnicodeString(0, &empty, &out), STATUS_SUCCESS);
  EXPECT_EQ(out.Buffer, nullptr);
  EXPECT_EQ(RtlDuplicateUnicodeString(RTL_DUPLICATE_UNICODE_STRING_NULL_TERMINATE |
                                          RTL_DUPLICATE_UNICODE_STRING_ALLOCATE_NULL_STRING,
                                      &empty, &out),
            STATUS_SUCCESS);
  ASSERT_NE(out.Buffer, nullptr);
  EXPECT_EQ(out.Length, 0);
  EXPECT_EQ(out.Buffer[0], 0);
  EXPECT_EQ(
      RtlDuplicateUnicodeString(RTL_DUPLICATE_UNICODE_STRING_ALLOCATE_NULL_STRING, &empty, &out),
      STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlDuplicateUnicodeString(0x10, &created, &dup), STATUS_INVALID_PARAMETER);

  RtlFreeUnicodeString(&created);
  RtlFreeUnicodeString(&dup);
  UNICODE_STRING nul_terminated = out;
  RtlFreeUnicodeString(&nul_terminated);
  EXPECT_EQ(string_allocations(), before);
}

TEST(RtlString, HashIsX65599) {
  UNICODE_STRING s, upper;
  RtlInitUnicodeString(&s, u"ab");
  RtlInitUnicodeString(&upper, u"AB");
  ULONG h = 0;
  ASSERT_EQ(RtlHashUnicodeString(&s, FALSE, HASH_STRING_ALGORITHM_X65599, &h), STATUS_SUCCESS);
  EXPECT_EQ(h, static_cast<ULONG>('a') * 65599u + 'b');
  ULONG h1 = 0, h2 = 0;
  RtlHashUnicodeString(&s, TRUE, HASH_STRING_ALGORITHM_DEFAULT, &h1);
  RtlHashUnicodeString(&upper, TRUE, HASH_STRING_ALGORITHM_DEFAULT, &h2);
  EXPECT_EQ(h1, h2);
  EXPECT_EQ(RtlHashUnicodeString(&s, FALSE, 7, &h), STATUS_INVALID_PARAMETER);
}

// ---- Conversions ----------------------------------------------------------------------------

TEST(RtlConvert, AnsiAndUnicode) {
  size_t before = string_allocations();
  ANSI_STRING as;
  RtlInitAnsiString(&as, "caf\xC3\xA9");
  EXPECT_EQ(RtlAnsiStringToUnicodeSize(&as), 10u);
  UNICODE_STRING us;
  ASSERT_EQ(RtlAnsiStringToUnicodeString(&us, &as, TRUE), STATUS_SUCCESS);
  EXPECT_EQ(text(us), u"caf\u00e9");
  EXPECT_EQ(us.MaximumLength, 10);
  EXPECT_EQ(us.Buffer[4], 0);

  EXPECT_EQ(RtlUnicodeStringToAnsiSize(&us), 6u);
  ANSI_STRING back;
  ASSERT_EQ(RtlUnicodeStringToAnsiString(&back, &us, TRUE), STATUS_SUCCESS);
  EXPECT_EQ(text(back), "caf\xC3\xA9");
  EXPECT_EQ(back.Buffer[back.Length], '\0');
  EXPECT_EQ(string_allocations(), before + 2);
  RtlFreeAnsiString(&back);
  RtlFreeUnicodeString(&us);
  EXPECT_EQ(string_allocations(), before);

  // Caller buffers: too small for UTF-16 is refused; too small for ANSI is truncated.
  WCHAR wsmall[2];
  UNICODE_STRING wdest{0, sizeof wsmall, wsmall};
  EXPECT_EQ(RtlAnsiStringToUnicodeString(&wdest, &as, FALSE), STATUS_BUFFER_OVERFLOW);
  WCHAR wbuf[8];
  wdest = {0, sizeof wbuf, wbuf};
  EXPECT_EQ(RtlAnsiStringToUnicodeString(&wdest, &as, FALSE), STATUS_SUCCESS);
  EXPECT_EQ(text(wdest), u"caf\u00e9");
  char nsmall[5];
  ANSI_STRING ndest{0, sizeof nsmall, nsmall};
  EXPECT_EQ(RtlUnicodeStringToAnsiString(&ndest, &wdest, FALSE), STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(text(ndest), "caf"); // the two-byte character does not fit whole
  EXPECT_EQ(nsmall[3], '\0');
}

TEST(RtlConvert, Utf8StringsReportUnmappedInput) {
  UTF8_STRING u8;
  RtlInitUTF8String(&u8, "ok\xFF");
  UNICODE_STRING us;
  ASSERT_EQ(RtlUTF8StringToUnicodeString(&us, &u8, TRUE), STATUS_SOME_NOT_MAPPED);
  EXPECT_EQ(text(us), u"ok\uFFFD");
  const WCHAR lone[] = {u'x', 0xDC00};
  UNICODE_STRING bad{sizeof lone, sizeof lone, const_cast<PWSTR>(lone)};
  UTF8_STRING out;
  ASSERT_EQ(RtlUnicodeStringToUTF8String(&out, &bad, TRUE), STATUS_SOME_NOT_MAPPED);
  EXPECT_EQ(text(out), "x\xEF\xBF\xBD");
  RtlFreeUnicodeString(&us);
  RtlFreeUTF8String(&out);
}

TEST(RtlConvert, Utf8ToUnicodeN) {
  const char *src = "a\xE2\x82\xAC\xF0\x9F\x98\x80"; // a, euro, U+1F600
  ULONG n = 0;
  ASSERT_EQ(RtlUTF8ToUnicodeN(nullptr, 0, &n, src, 8), STATUS_SUCCESS);
  EXPECT_EQ(n, 8u); // 1 + 1 + 2 units
  WCHAR out[4];
  ASSERT_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &n, src, 8), STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(out, 4), u"a\u20ac\U0001F600");
  EXPECT_EQ(RtlUTF8ToUnicodeN(out, 6, &n, src, 8), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(n, 4u); // the pair does not fit in the third unit
  EXPECT_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &n, "\xC0\x80", 2), STATUS_SOME_NOT_MAPPED);
  EXPECT_EQ(RtlUTF8ToUnicodeN(nullptr, 0, nullptr, src, 8), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlUTF8ToUnicodeN(out, sizeof out, &n, nullptr, 8), STATUS_INVALID_PARAMETER_4);
}

TEST(RtlConvert, UnicodeToUtf8N) {
  const WCHAR src[] = u"\u00e9\U0001F600";
  ULONG n = 0;
  ASSERT_EQ(RtlUnicodeToUTF8N(nullptr, 0, &n, src, 6), STATUS_SUCCESS);
  EXPECT_EQ(n, 6u);
  char out[8];
  ASSERT_EQ(RtlUnicodeToUTF8N(out, sizeof out, &n, src, 6), STATUS_SUCCESS);
  EXPECT_EQ(std::string(out, n), "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(RtlUnicodeToUTF8N(out, 4, &n, src, 6), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(RtlUnicodeToUTF8N(out, sizeof out, &n, src, 5), STATUS_INVALID_PARAMETER_5);
  EXPECT_EQ(RtlUnicodeToUTF8N(out, sizeof out, &n, nullptr, 2), STATUS_INVALID_PARAMETER_4);
  const WCHAR lone[] = {0xD800, u'a'};
  EXPECT_EQ(RtlUnicodeToUTF8N(out, sizeof out, &n, lone, 4), STATUS_SOME_NOT_MAPPED);
  EXPECT_EQ(std::string(out, n), "\xEF\xBF\xBD"
                                 "a");
}

TEST(RtlConvert, IntegersToText) {
  WCHAR buf[12];
  UNICODE_STRING s{0, sizeof buf, buf};
  ASSERT_EQ(RtlIntegerToUnicodeString(1234, 10, &s), STATUS_SUCCESS);
  EXPECT_EQ(text(s), u"1234");
  EXPECT_EQ(buf[4], 0);
  ASSERT_EQ(RtlIntegerToUnicodeString(255, 16, &s), STATUS_SUCCESS);
  EXPECT_EQ(text(s), u"FF");
  ASSERT_EQ(RtlIntegerToUnicodeString(5, 2, &s), STATUS_SUCCESS);
  EXPECT_EQ(text(s), u"101");
  ASSERT_EQ(RtlIntegerToUnicodeString(8, 0, &s), STATUS_SUCCESS);
  EXPECT_EQ(text(s), u"8");
  EXPECT_EQ(RtlIntegerToUnicodeString(8, 7, &s), STATUS_INVALID_PARAMETER);
  UNICODE_STRING tiny{0, 4, buf};
  EXPECT_EQ(RtlIntegerToUnicodeString(12345, 10, &tiny), STATUS_BUFFER_OVERFLOW);
  WCHAR big[24];
  UNICODE_STRING s64{0, sizeof big, big};
  ASSERT_EQ(RtlInt64ToUnicodeString(18446744073709551615ULL, 10, &s64), STATUS_SUCCESS);
  EXPECT_EQ(text(s64), u"18446744073709551615");
  char nbuf[8];
  ASSERT_EQ(RtlIntegerToChar(0x1F, 16, sizeof nbuf, nbuf), STATUS_SUCCESS);
  EXPECT_STREQ(nbuf, "1F");
  EXPECT_EQ(RtlIntegerToChar(123456, 10, 3, nbuf), STATUS_BUFFER_OVERFLOW);
}

TEST(RtlConvert, TextToIntegers) {
  ULONG v = 0;
  UNICODE_STRING s;
  RtlInitUnicodeString(&s, u"  42xyz");
  ASSERT_EQ(RtlUnicodeStringToInteger(&s, 0, &v), STATUS_SUCCESS);
  EXPECT_EQ(v, 42u);
  RtlInitUnicodeString(&s, u"0x1F");
  ASSERT_EQ(RtlUnicodeStringToInteger(&s, 0, &v), STATUS_SUCCESS);
  EXPECT_EQ(v, 31u);
  RtlInitUnicodeString(&s, u"0b101");
  ASSERT_EQ(RtlUnicodeStringToInteger(&s, 0, &v), STATUS_SUCCESS);
  EXPECT_EQ(v, 5u);
  RtlInitUnicodeString(&s, u"0o17");
  ASSERT_EQ(RtlUnicodeStringToInteger(&s, 0, &v), STATUS_SUCCESS);
  EXPECT_EQ(v, 15u);
  RtlInitUnicodeString(&s, u"ff");
  ASSERT_EQ(RtlUnicodeStringToInteger(&s, 16, &v), STATUS_SUCCESS);
  EXPECT_EQ(v, 255u);
  RtlInitUnicodeString(&s, u"-1");
  ASSERT_EQ(RtlUnicodeStringToInteger(&s, 10, &v), STATUS_SUCCESS);
  EXPECT_EQ(v, 0xFFFFFFFFu);
  EXPECT_EQ(RtlUnicodeStringToInteger(&s, 3, &v), STATUS_INVALID_PARAMETER);
  ASSERT_EQ(RtlCharToInteger("+123", 10, &v), STATUS_SUCCESS);
  EXPECT_EQ(v, 123u);
  ASSERT_EQ(RtlCharToInteger("777", 8, &v), STATUS_SUCCESS);
  EXPECT_EQ(v, 511u);
}

TEST(RtlConvert, Guids) {
  GUID g{0x12345678, 0x9abc, 0xdef0, {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}};
  UNICODE_STRING s;
  ASSERT_EQ(RtlStringFromGUID(g, &s), STATUS_SUCCESS);
  EXPECT_EQ(text(s), u"{12345678-9ABC-DEF0-0123-456789ABCDEF}");
  GUID back{};
  ASSERT_EQ(RtlGUIDFromString(&s, &back), STATUS_SUCCESS);
  EXPECT_EQ(std::memcmp(&g, &back, sizeof g), 0);
  RtlFreeUnicodeString(&s);
  UNICODE_STRING lower;
  RtlInitUnicodeString(&lower, u"{12345678-9abc-def0-0123-456789abcdef}");
  ASSERT_EQ(RtlGUIDFromString(&lower, &back), STATUS_SUCCESS);
  EXPECT_EQ(std::memcmp(&g, &back, sizeof g), 0);
  UNICODE_STRING bad;
  RtlInitUnicodeString(&bad, u"{12345678-9abc-def0-0123-456789abcdeg}");
  EXPECT_EQ(RtlGUIDFromString(&bad, &back), STATUS_INVALID_PARAMETER);
}

// ---- Random, time, version ----------------------------------------------------------------------

TEST(RtlMisc, RandomStaysInRangeAndFollowsTheSeed) {
  ULONG seed1 = 12345;
  ULONG seed2 = 12345;
  bool varied = false;
  ULONG first = RtlRandomEx(&seed1);
  EXPECT_EQ(first, RtlRandomEx(&seed2));
  for (int i = 0; i < 1000; ++i) {
    ULONG r = RtlRandomEx(&seed1);
    EXPECT_LT(r, static_cast<ULONG>(MAXLONG));
    varied = varied || r != first;
    EXPECT_LT(RtlRandom(&seed2), static_cast<ULONG>(MAXLONG));
  }
  EXPECT_TRUE(varied);
}

TEST(RtlMisc, TimeFields) {
  LARGE_INTEGER t;
  t.QuadPart = 116444736000000000LL; // 1970-01-01 00:00:00 UTC
  TIME_FIELDS f;
  RtlTimeToTimeFields(&t, &f);
  EXPECT_EQ(f.Year, 1970);
  EXPECT_EQ(f.Month, 1);
  EXPECT_EQ(f.Day, 1);
  EXPECT_EQ(f.Hour, 0);
  EXPECT_EQ(f.Weekday, 4); // Thursday
  t.QuadPart = 0;
  RtlTimeToTimeFields(&t, &f);
  EXPECT_EQ(f.Year, 1601);
  EXPECT_EQ(f.Weekday, 1); // Monday

  TIME_FIELDS in{2024, 2, 29, 13, 45, 30, 250, 0};
  LARGE_INTEGER out;
  ASSERT_TRUE(RtlTimeFieldsToTime(&in, &out));
  RtlTimeToTimeFields(&out, &f);
  EXPECT_EQ(f.Year, 2024);
  EXPECT_EQ(f.Month, 2);
  EXPECT_EQ(f.Day, 29);
  EXPECT_EQ(f.Hour, 13);
  EXPECT_EQ(f.Minute, 45);
  EXPECT_EQ(f.Second, 30);
  EXPECT_EQ(f.Milliseconds, 250);
  EXPECT_EQ(f.Weekday, 4); // a Thursday
  TIME_FIELDS bad{2023, 2, 29, 0, 0, 0, 0, 0};
  EXPECT_FALSE(RtlTimeFieldsToTime(&bad, &out));
  TIME_FIELDS early{1600, 12, 31, 0, 0, 0, 0, 0};
  EXPECT_FALSE(RtlTimeFieldsToTime(&early, &out));
}

TEST(RtlMisc, VersionIsWindows10_2004) {
  RTL_OSVERSIONINFOW v{};
  v.dwOSVersionInfoSize = sizeof v;
  ASSERT_EQ(RtlGetVersion(&v), STATUS_SUCCESS);
  EXPECT_EQ(v.dwMajorVersion, 10u);
  EXPECT_EQ(v.dwMinorVersion, 0u);
  EXPECT_EQ(v.dwBuildNumber, 19041u);
  EXPECT_EQ(v.dwPlatformId, static_cast<ULONG>(VER_PLATFORM_WIN32_NT));
  RTL_OSVERSIONINFOEXW ex{};
  ex.dwOSVersionInfoSize = sizeof ex;
  ASSERT_EQ(RtlGetVersion(reinterpret_cast<PRTL_OSVERSIONINFOW>(&ex)), STATUS_SUCCESS);
  EXPECT_EQ(ex.wProductType, VER_NT_WORKSTATION);
  v.dwOSVersionInfoSize = 3;
  EXPECT_EQ(RtlGetVersion(&v), STATUS_INVALID_PARAMETER);
  EXPECT_TRUE(RtlIsNtDdiVersionAvailable(NTDDI_WIN10));
  EXPECT_TRUE(RtlIsNtDdiVersionAvailable(NTDDI_WIN10_VB));
  EXPECT_FALSE(RtlIsNtDdiVersionAvailable(NTDDI_WIN10_FE));
}

} // namespace

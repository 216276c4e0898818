// ip2string: IPv4/IPv6 addresses to and from text, with Windows' Ex contracts.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include <ip2string.h>
#include <wdm.h>

namespace {

IN_ADDR v4(UCHAR a, UCHAR b, UCHAR c, UCHAR d) {
  IN_ADDR addr;
  addr.S_un.S_un_b = {a, b, c, d};
  return addr;
}

IN6_ADDR v6(std::initializer_list<USHORT> words) {
  IN6_ADDR addr{};
  int i = 0;
  for (USHORT w : words) {
    addr.u.Byte[2 * i] = static_cast<UCHAR>(w >> 8);
    addr.u.Byte[2 * i + 1] = static_cast<UCHAR>(w);
    ++i;
  }
  return addr;
}

bool same(const IN6_ADDR &a, const IN6_ADDR &b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

std::string v6_text(const IN6_ADDR &a) {
  char buf[46];
  char *end = RtlIpv6AddressToStringA(&a, buf);
  EXPECT_EQ(end, buf + std::strlen(buf));
  return buf;
}

TEST(Ip2String, Ipv4ToString) {
  char buf[16];
  IN_ADDR a = v4(192, 168, 1, 20);
  char *end = RtlIpv4AddressToStringA(&a, buf);
  EXPECT_STREQ(buf, "192.168.1.20");
  EXPECT_EQ(end, buf + 12);
  WCHAR wbuf[16];
  RtlIpv4AddressToStringW(&a, wbuf);
  EXPECT_EQ(std::u16string(wbuf), u"192.168.1.20");

  char ex[32];
  ULONG len = sizeof ex;
  ASSERT_EQ(RtlIpv4AddressToStringExA(&a, RtlUshortByteSwap(8080), ex, &len), STATUS_SUCCESS);
  EXPECT_STREQ(ex, "192.168.1.20:8080");
  EXPECT_EQ(len, 18u);
  len = 5;
  EXPECT_EQ(RtlIpv4AddressToStringExA(&a, 0, ex, &len), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(len, 13u); // the room the text needs
  WCHAR wex[32];
  len = 32;
  ASSERT_EQ(RtlIpv4AddressToStringExW(&a, 0, wex, &len), STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(wex), u"192.168.1.20");
  EXPECT_EQ(RtlIpv4AddressToStringExA(&a, 0, nullptr, &len), STATUS_INVALID_PARAMETER);
}

TEST(Ip2String, Ipv4FromStringStrict) {
  IN_ADDR a{};
  const char *term = nullptr;
  ASSERT_EQ(RtlIpv4StringToAddressA("10.1.2.3:80", TRUE, &term, &a), STATUS_SUCCESS);
  EXPECT_EQ(a.S_un.S_un_b.s_b1, 10);
  EXPECT_EQ(a.S_un.S_un_b.s_b4, 3);
  EXPECT_STREQ(term, ":80");
  EXPECT_EQ(RtlIpv4StringToAddressA("10.1.2", TRUE, &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv4StringToAddressA("256.1.2.3", TRUE, &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv4StringToAddressA("0x1.2.3.4", TRUE, &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv4StringToAddressA("01.2.3.4", TRUE, &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv4StringToAddressA("1..2.3", TRUE, &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv4StringToAddressA("", TRUE, &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv4StringToAddressA("x", TRUE, &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_STREQ(term, "x");
  const WCHAR *wterm = nullptr;
  ASSERT_EQ(RtlIpv4StringToAddressW(u"127.0.0.1", TRUE, &wterm, &a), STATUS_SUCCESS);
  EXPECT_EQ(a.S_un.S_addr, RtlUlongByteSwap(0x7F000001u));
  EXPECT_EQ(*wterm, 0);
}

TEST(Ip2String, Ipv4FromStringNonStrict) {
  IN_ADDR a{};
  const char *term = nullptr;
  ASSERT_EQ(RtlIpv4StringToAddressA("0x7f.1", FALSE, &term, &a), STATUS_SUCCESS);
  EXPECT_EQ(a.S_un.S_addr, RtlUlongByteSwap(0x7F000001u));
  ASSERT_EQ(RtlIpv4StringToAddressA("010.0.0.1", FALSE, &term, &a), STATUS_SUCCESS);
  EXPECT_EQ(a.S_un.S_un_b.s_b1, 8); // octal
  ASSERT_EQ(RtlIpv4StringToAddressA("3232235777", FALSE, &term, &a), STATUS_SUCCESS);
  EXPECT_EQ(a.S_un.S_addr, RtlUlongByteSwap(0xC0A80101u)); // 192.168.1.1
  ASSERT_EQ(RtlIpv4StringToAddressA("10.1.65535", FALSE, &term, &a), STATUS_SUCCESS);
  EXPECT_EQ(a.S_un.S_addr, RtlUlongByteSwap(0x0A01FFFFu));
  EXPECT_EQ(RtlIpv4StringToAddressA("10.1.65536", FALSE, &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv4StringToAddressA("4294967296", FALSE, &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv4StringToAddressA("08.1.1.1", FALSE, &term, &a), STATUS_SUCCESS);
  EXPECT_STREQ(term, "8.1.1.1"); // 8 is not an octal digit: the address ends after "0"
}

TEST(Ip2String, Ipv4FromStringEx) {
  IN_ADDR a{};
  USHORT port = 1;
  ASSERT_EQ(RtlIpv4StringToAddressExA("1.2.3.4:443", TRUE, &a, &port), STATUS_SUCCESS);
  EXPECT_EQ(port, RtlUshortByteSwap(443));
  EXPECT_EQ(a.S_un.S_un_b.s_b2, 2);
  ASSERT_EQ(RtlIpv4StringToAddressExW(u"1.2.3.4", TRUE, &a, &port), STATUS_SUCCESS);
  EXPECT_EQ(port, 0);
  EXPECT_EQ(RtlIpv4StringToAddressExA("1.2.3.4:", TRUE, &a, &port), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv4StringToAddressExA("1.2.3.4:65536", TRUE, &a, &port), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv4StringToAddressExA("1.2.3.4 ", TRUE, &a, &port), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv4StringToAddressExA("1.2.3.4", TRUE, &a, nullptr), STATUS_INVALID_PARAMETER);
}

TEST(Ip2String, Ipv6ToStringCompressesAsRfc5952) {
  EXPECT_EQ(v6_text(v6({0, 0, 0, 0, 0, 0, 0, 0})), "::");
  EXPECT_EQ(v6_text(v6({0, 0, 0, 0, 0, 0, 0, 1})), "::1");
  EXPECT_EQ(v6_text(v6({0xfe80, 0, 0, 0, 0x1, 0x2, 0x3, 0x4})), "fe80::1:2:3:4");
  EXPECT_EQ(v6_text(v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1})), "2001:db8::1");
  // A single zero group is not compressed.
  EXPECT_EQ(v6_text(v6({0x2001, 0xdb8, 0, 1, 1, 1, 1, 1})), "2001:db8:0:1:1:1:1:1");
  // The longest run wins; on a tie, the first.
  EXPECT_EQ(v6_text(v6({1, 0, 0, 2, 0, 0, 0, 3})), "1:0:0:2::3");
  EXPECT_EQ(v6_text(v6({1, 0, 0, 2, 0, 0, 3, 4})), "1::2:0:0:3:4");
  EXPECT_EQ(v6_text(v6({1, 2, 3, 4, 5, 6, 7, 0})), "1:2:3:4:5:6:7:0");
  EXPECT_EQ(v6_text(v6({0, 0, 1, 2, 3, 4, 5, 6})), "::1:2:3:4:5:6");
  EXPECT_EQ(v6_text(v6({0xABCD, 0xEF01, 0, 0, 0, 0, 0, 0})), "abcd:ef01::");
  // Embedded IPv4.
  EXPECT_EQ(v6_text(v6({0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304})), "::ffff:1.2.3.4");
  EXPECT_EQ(v6_text(v6({0, 0, 0, 0, 0xffff, 0, 0x0102, 0x0304})), "::ffff:0:1.2.3.4");
  EXPECT_EQ(v6_text(v6({0, 0, 0, 0, 0, 0, 0x0a00, 0x0001})), "::10.0.0.1");
  EXPECT_EQ(v6_text(v6({0xfe80, 0, 0, 0, 0, 0x5efe, 0xc0a8, 0x0101})), "fe80::5efe:192.168.1.1");
  WCHAR wbuf[46];
  IN6_ADDR lo = v6({0, 0, 0, 0, 0, 0, 0, 1});
  WCHAR *wend = RtlIpv6AddressToStringW(&lo, wbuf);
  EXPECT_EQ(std::u16string(wbuf), u"::1");
  EXPECT_EQ(wend, wbuf + 3);
}

TEST(Ip2String, Ipv6ToStringEx) {
  IN6_ADDR a = v6({0xfe80, 0, 0, 0, 0, 0, 0, 1});
  char buf[64];
  ULONG len = sizeof buf;
  ASSERT_EQ(RtlIpv6AddressToStringExA(&a, 3, RtlUshortByteSwap(443), buf, &len), STATUS_SUCCESS);
  EXPECT_STREQ(buf, "[fe80::1%3]:443");
  EXPECT_EQ(len, 16u);
  len = sizeof buf;
  ASSERT_EQ(RtlIpv6AddressToStringExA(&a, 0, RtlUshortByteSwap(80), buf, &len), STATUS_SUCCESS);
  EXPECT_STREQ(buf, "[fe80::1]:80");
  len = sizeof buf;
  ASSERT_EQ(RtlIpv6AddressToStringExA(&a, 7, 0, buf, &len), STATUS_SUCCESS);
  EXPECT_STREQ(buf, "fe80::1%7");
  len = 4;
  EXPECT_EQ(RtlIpv6AddressToStringExA(&a, 7, 0, buf, &len), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(len, 10u);
  WCHAR wbuf[64];
  len = 64;
  ASSERT_EQ(RtlIpv6AddressToStringExW(&a, 0, 0, wbuf, &len), STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(wbuf), u"fe80::1");
}

TEST(Ip2String, Ipv6FromString) {
  IN6_ADDR a{};
  const char *term = nullptr;
  ASSERT_EQ(RtlIpv6StringToAddressA("2001:db8::1", &term, &a), STATUS_SUCCESS);
  EXPECT_TRUE(same(a, v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1})));
  EXPECT_EQ(*term, '\0');
  ASSERT_EQ(RtlIpv6StringToAddressA("::", &term, &a), STATUS_SUCCESS);
  EXPECT_TRUE(same(a, v6({})));
  ASSERT_EQ(RtlIpv6StringToAddressA("::ffff:1.2.3.4", &term, &a), STATUS_SUCCESS);
  EXPECT_TRUE(same(a, v6({0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304})));
  ASSERT_EQ(RtlIpv6StringToAddressA("1:2:3:4:5:6:7:8", &term, &a), STATUS_SUCCESS);
  EXPECT_TRUE(same(a, v6({1, 2, 3, 4, 5, 6, 7, 8})));
  ASSERT_EQ(RtlIpv6StringToAddressA("FE80::ABCD%5", &term, &a), STATUS_SUCCESS);
  EXPECT_STREQ(term, "%5");
  ASSERT_EQ(RtlIpv6StringToAddressA("1::", &term, &a), STATUS_SUCCESS);
  EXPECT_TRUE(same(a, v6({1, 0, 0, 0, 0, 0, 0, 0})));
  EXPECT_EQ(RtlIpv6StringToAddressA("1::2::3", &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv6StringToAddressA("12345::1", &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv6StringToAddressA("1:2:3:4:5:6:7", &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv6StringToAddressA(":1::2", &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv6StringToAddressA("1:2:3:4:5:6:7:1.2.3.4", &term, &a), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv6StringToAddressA("g::1", &term, &a), STATUS_INVALID_PARAMETER);
  const WCHAR *wterm = nullptr;
  ASSERT_EQ(RtlIpv6StringToAddressW(u"::1", &wterm, &a), STATUS_SUCCESS);
  EXPECT_TRUE(same(a, v6({0, 0, 0, 0, 0, 0, 0, 1})));
}

TEST(Ip2String, Ipv6FromStringEx) {
  IN6_ADDR a{};
  ULONG scope = 99;
  USHORT port = 99;
  ASSERT_EQ(RtlIpv6StringToAddressExA("[fe80::1%4]:8080", &a, &scope, &port), STATUS_SUCCESS);
  EXPECT_TRUE(same(a, v6({0xfe80, 0, 0, 0, 0, 0, 0, 1})));
  EXPECT_EQ(scope, 4u);
  EXPECT_EQ(port, RtlUshortByteSwap(8080));
  ASSERT_EQ(RtlIpv6StringToAddressExA("fe80::2%12", &a, &scope, &port), STATUS_SUCCESS);
  EXPECT_EQ(scope, 12u);
  EXPECT_EQ(port, 0);
  ASSERT_EQ(RtlIpv6StringToAddressExW(u"[::1]", &a, &scope, &port), STATUS_SUCCESS);
  EXPECT_EQ(scope, 0u);
  EXPECT_EQ(RtlIpv6StringToAddressExA("[::1", &a, &scope, &port), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv6StringToAddressExA("::1:80x", &a, &scope, &port), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv6StringToAddressExA("[::1]:", &a, &scope, &port), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(RtlIpv6StringToAddressExA("::1%", &a, &scope, &port), STATUS_INVALID_PARAMETER);
}

TEST(Ip2String, RoundTrips) {
  const char *samples[] = {"::",
                           "::1",
                           "2001:db8::8:800:200c:417a",
                           "ff01::101",
                           "::ffff:10.0.0.1",
                           "1:0:0:1::",
                           "fe80::5efe:10.1.2.3"};
  for (const char *s : samples) {
    IN6_ADDR a{};
    const char *term = nullptr;
    ASSERT_EQ(RtlIpv6StringToAddressA(s, &term, &a), STATUS_SUCCESS) << s;
    EXPECT_EQ(v6_text(a), s);
  }
}

} // namespace

// intrin.h: the MSVC intrinsics with Windows (LLP64) widths, and the two that end or interrupt
// the program: __fastfail bug-checks with KERNEL_SECURITY_CHECK_FAILURE, __debugbreak logs and
// continues.
#include <gtest/gtest.h>

#include <cstdlib>

#include <intrin.h>
#include <wdm.h>

namespace {

TEST(Intrin, BitScans) {
  ULONG index = 77;
  unsigned long wide = 77;
  EXPECT_TRUE(_BitScanForward(&index, 0x00F0u));
  EXPECT_EQ(index, 4u);
  EXPECT_TRUE(_BitScanReverse(&index, 0x00F0u));
  EXPECT_EQ(index, 7u);
  EXPECT_FALSE(_BitScanReverse(&index, 0));
  EXPECT_EQ(index, 7u) << "the index is left alone when the mask is 0";
  EXPECT_TRUE(_BitScanForward64(&wide, 1ULL << 63));
  EXPECT_EQ(wide, 63u);
  EXPECT_TRUE(BitScanReverse64(&index, 0x1FFFFFFFFULL));
  EXPECT_EQ(index, 32u);
  EXPECT_EQ(__popcnt16(0xFFFF), 16);
  EXPECT_EQ(__popcnt(0x80000001u), 2u);
  EXPECT_EQ(PopulationCount64(~0ULL), 64u);
  EXPECT_EQ(__lzcnt16(1), 15);
  EXPECT_EQ(__lzcnt(0x00010000u), 15u);
  EXPECT_EQ(__lzcnt64(1), 63u);
}

TEST(Intrin, SwapsRotationsAndWideMultiplication) {
  EXPECT_EQ(_byteswap_ushort(0xABCD), 0xCDAB);
  EXPECT_EQ(_byteswap_ulong(0x11223344u), 0x44332211u);
  EXPECT_EQ(_byteswap_uint64(0x1122334455667788ULL), 0x8877665544332211ULL);
  EXPECT_EQ(_rotl8(0x81, 1), 0x03);
  EXPECT_EQ(_rotr16(0x0001, 1), 0x8000);
  EXPECT_EQ(_rotl(0x12345678u, 8), 0x34567812u);
  EXPECT_EQ(_rotr(0x12345678u, 8), 0x78123456u);
  EXPECT_EQ(_rotl(1u, 32), 1u) << "the shift is taken modulo the width";
  EXPECT_EQ(_rotl64(0x8000000000000000ULL, 4), 8ULL);
  EXPECT_EQ(_rotr64(1ULL, 1), 0x8000000000000000ULL);
  EXPECT_EQ(_lrotr(1ul, 1), 0x80000000ul) << "an MSVC unsigned long is 32 bits";
  unsigned long long high = 0;
  EXPECT_EQ(_umul128(~0ULL, 2, &high), ~0ULL - 1);
  EXPECT_EQ(high, 1ULL);
  long long shigh = 0;
  EXPECT_EQ(_mul128(-1, 5, &shigh), -5);
  EXPECT_EQ(shigh, -1);
  EXPECT_EQ(__umulh(1ULL << 63, 4), 2ULL);
  EXPECT_EQ(__shiftleft128(0x8000000000000000ULL, 1, 1), 3ULL);
  EXPECT_EQ(__shiftright128(1, 1, 1), 0x8000000000000000ULL);
  EXPECT_EQ(__emulu(0xFFFFFFFFu, 2), 0x1FFFFFFFEULL);
}

TEST(Intrin, BitTestsAndInterlockedSpellings) {
  LONG bits[2] = {0, 0};
  EXPECT_EQ(_bittestandset(bits, 35), 0);
  EXPECT_EQ(bits[1], 8);
  EXPECT_EQ(_bittestandcomplement(bits, 35), 1);
  EXPECT_EQ(bits[1], 0);
  LONG64 bits64 = 0;
  EXPECT_EQ(_bittestandset64(&bits64, 62), 0);
  EXPECT_EQ(_bittest64(&bits64, 62), 1);
  EXPECT_EQ(_bittestandreset64(&bits64, 62), 1);
  EXPECT_EQ(bits64, 0);

  LONG volatile value = 0;
  EXPECT_EQ(_InterlockedAdd(&value, 5), 5);
  EXPECT_EQ(_interlockedbittestandset(&value, 1), 0);
  EXPECT_EQ(value, 7);
  SHORT volatile small = 1;
  EXPECT_EQ(_InterlockedExchange16(&small, 3), 1);
  EXPECT_EQ(_InterlockedOr16(&small, 4), 3);
  CHAR volatile tiny = 1;
  EXPECT_EQ(_InterlockedExchangeAdd8(&tiny, 2), 1);
  EXPECT_EQ(_InterlockedCompareExchange8(&tiny, 9, 3), 3);
  EXPECT_EQ(tiny, 9);
  LONG64 volatile big = 0;
  EXPECT_EQ(_InterlockedAdd64(&big, 1LL << 40), 1LL << 40);
}

TEST(Intrin, MiscellaneousNoFaults) {
  __nop();
  _mm_pause();
  __faststorefence();
  EXPECT_NE(_ReturnAddress(), nullptr);
  EXPECT_NE(_AddressOfReturnAddress(), nullptr);
  unsigned long long a = __rdtsc();
  unsigned long long b = ReadTimeStampCounter();
  EXPECT_GE(b, a);
#if defined(__x86_64__)
  int info[4] = {0, 0, 0, 0};
  __cpuid(info, 0);
  EXPECT_GT(info[0], 0) << "the highest standard CPUID leaf";
#endif
  unsigned char bytes[4];
  __stosb(bytes, 0xAB, sizeof bytes);
  EXPECT_EQ(bytes[3], 0xAB);
}

TEST(IntrinDeath, DebugBreakLogsAndContinues) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  unsetenv("UWSK_BREAK");
  EXPECT_EXIT(
      {
        __debugbreak();
        std::exit(0);
      },
      testing::ExitedWithCode(0), "");
}

TEST(IntrinDeath, FastFailBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(__fastfail(FAST_FAIL_INVALID_ARG),
               "KERNEL_SECURITY_CHECK_FAILURE(.|\n)*0x0*139(.|\n)*0x0*5");
  EXPECT_DEATH(RtlFailFast(FAST_FAIL_RANGE_CHECK_FAILURE), "KERNEL_SECURITY_CHECK_FAILURE");
}

} // namespace

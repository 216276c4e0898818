// System services: versions, UUIDs, probes, time conversions, processor indexes and
// IoCreateDeviceSecure (MmGetSystemRoutineAddress: shared/nt_system_routine_test.cpp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/mman.h>
#include <unistd.h>

#include <wdm.h>
#include <wdmsec.h>

namespace {

UNICODE_STRING name_of(const char16_t *text) {
  UNICODE_STRING s;
  RtlInitUnicodeString(&s, reinterpret_cast<PCWSTR>(text));
  return s;
}

TEST(Version, PsGetVersionAgreesWithRtlGetVersion) {
  RTL_OSVERSIONINFOEXW info{};
  info.dwOSVersionInfoSize = sizeof info;
  ASSERT_EQ(RtlGetVersion(reinterpret_cast<PRTL_OSVERSIONINFOW>(&info)), STATUS_SUCCESS);
  ULONG major = 0, minor = 1, build = 0;
  WCHAR buffer[8] = {u'x'};
  UNICODE_STRING csd{0, sizeof buffer, buffer};
  EXPECT_FALSE(PsGetVersion(&major, &minor, &build, &csd));
  EXPECT_EQ(major, 10u);
  EXPECT_EQ(minor, 0u);
  EXPECT_EQ(build, 19041u);
  EXPECT_EQ(major, info.dwMajorVersion);
  EXPECT_EQ(build, info.dwBuildNumber);
  EXPECT_EQ(csd.Length, 0);
  EXPECT_EQ(buffer[0], 0);
  EXPECT_FALSE(PsGetVersion(nullptr, nullptr, nullptr, nullptr));
  EXPECT_TRUE(RtlIsNtDdiVersionAvailable(NTDDI_VERSION));
}

TEST(ExUuidCreate, RandomVersion4Uuids) {
  UUID a{}, b{};
  ASSERT_EQ(ExUuidCreate(&a), STATUS_SUCCESS);
  ASSERT_EQ(ExUuidCreate(&b), STATUS_SUCCESS);
  EXPECT_EQ(a.Data3 >> 12, 4);
  EXPECT_EQ(a.Data4[0] & 0xC0, 0x80);
  EXPECT_NE(std::memcmp(&a, &b, sizeof a), 0);
  EXPECT_EQ(ExUuidCreate(nullptr), STATUS_INVALID_PARAMETER);
}

TEST(Probe, KernelModeAndValidBuffersPass) {
  EXPECT_EQ(ExGetPreviousMode(), KernelMode);
  alignas(8) static unsigned char buffer[64];
  ProbeForRead(buffer, sizeof buffer, 8);
  ProbeForWrite(buffer, sizeof buffer, 4);
  ProbeForRead(buffer + 1, 0, 8); // nothing to probe: no checks
}

TEST(ProbeDeathTest, MisalignedBufferRaises) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  alignas(8) static unsigned char buffer[64];
  EXPECT_DEATH(ProbeForRead(buffer + 1, 8, 4), "raised status 0x80000002");
}

TEST(ProbeDeathTest, UnmappedBufferRaisesOnWrite) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const long page = sysconf(_SC_PAGESIZE);
  void *gone = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(gone, MAP_FAILED);
  munmap(gone, page);
  EXPECT_DEATH(ProbeForWrite(gone, 16, 1), "raised status 0xC0000005");
}

TEST(ProbeDeathTest, RangeBeyondUserSpaceRaises) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(ProbeForRead(reinterpret_cast<void *>(0xFFFF800000000000ULL), 16, 1),
               "KMODE_EXCEPTION_NOT_HANDLED");
}

TEST(ProbeDeathTest, ExRaiseStatusIsUnhandled) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(ExRaiseStatus(STATUS_INSUFFICIENT_RESOURCES), "raised status 0xC000009A");
}

TEST(TimeConversion, SecondsSince1970And1980) {
  LARGE_INTEGER t;
  RtlSecondsSince1970ToTime(86400, &t);
  TIME_FIELDS fields{};
  RtlTimeToTimeFields(&t, &fields);
  EXPECT_EQ(fields.Year, 1970);
  EXPECT_EQ(fields.Month, 1);
  EXPECT_EQ(fields.Day, 2);
  ULONG seconds = 0;
  EXPECT_TRUE(RtlTimeToSecondsSince1970(&t, &seconds));
  EXPECT_EQ(seconds, 86400u);

  RtlSecondsSince1980ToTime(0, &t);
  RtlTimeToTimeFields(&t, &fields);
  EXPECT_EQ(fields.Year, 1980);
  EXPECT_EQ(fields.Month, 1);
  EXPECT_EQ(fields.Day, 1);
  EXPECT_EQ(fields.Hour, 0);
  EXPECT_TRUE(RtlTimeToSecondsSince1970(&t, &seconds));
  EXPECT_EQ(seconds, 315532800u);         // 1980-01-01 in Unix time
  t.QuadPart += 10000000LL * 5 + 9999999; // fractions are dropped
  EXPECT_TRUE(RtlTimeToSecondsSince1980(&t, &seconds));
  EXPECT_EQ(seconds, 5u);

  t.QuadPart = 116444736000000000LL - 1; // just before 1970
  EXPECT_FALSE(RtlTimeToSecondsSince1970(&t, &seconds));
  t.QuadPart = 116444736000000000LL + (1LL << 32) * 10000000LL; // 2^32 seconds after
  EXPECT_FALSE(RtlTimeToSecondsSince1970(&t, &seconds));
}

TEST(TimeConversion, LocalTimeUsesTheTimeZone) {
  ::setenv("TZ", "UTC-02:00", 1); // two hours east of UTC, no daylight saving
  ::tzset();
  LARGE_INTEGER system, local, back;
  KeQuerySystemTime(&system);
  ExSystemTimeToLocalTime(&system, &local);
  EXPECT_EQ(local.QuadPart - system.QuadPart, 2LL * 3600 * 10000000LL);
  ExLocalTimeToSystemTime(&local, &back);
  EXPECT_EQ(back.QuadPart, system.QuadPart);
}

TEST(Processors, IndexesAndNumbers) {
  const ULONG count = KeQueryMaximumProcessorCountEx(ALL_PROCESSOR_GROUPS);
  ASSERT_GE(count, 1u);
  PROCESSOR_NUMBER number{};
  ASSERT_EQ(KeGetProcessorNumberFromIndex(count - 1, &number), STATUS_SUCCESS);
  EXPECT_EQ(number.Group, 0);
  EXPECT_EQ(number.Number, count - 1);
  EXPECT_EQ(KeGetProcessorIndexFromNumber(&number), count - 1);
  EXPECT_EQ(KeGetProcessorNumberFromIndex(count, &number), STATUS_INVALID_PARAMETER);
  number.Group = 1;
  number.Number = 0;
  EXPECT_EQ(KeGetProcessorIndexFromNumber(&number), static_cast<ULONG>(INVALID_PROCESSOR_INDEX));
  PROCESSOR_NUMBER current{};
  const ULONG index = KeGetCurrentProcessorNumberEx(&current);
  EXPECT_LT(index, count);
  EXPECT_EQ(KeGetProcessorIndexFromNumber(&current), index);
}

TEST(IoCreateDeviceSecure, ChecksTheSddlAndCreatesTheDevice) {
  static DRIVER_OBJECT driver{};
  PDEVICE_OBJECT device = nullptr;
  UNICODE_STRING bad = name_of(u"D:(A;;GA;;;SY)"); // not protected
  EXPECT_EQ(IoCreateDeviceSecure(&driver, 0, nullptr, FILE_DEVICE_UNKNOWN, 0, FALSE, &bad, nullptr,
                                 &device),
            STATUS_INVALID_PARAMETER);
  bad = name_of(u"D:P(A;;ZZ;;;SY)");
  EXPECT_EQ(IoCreateDeviceSecure(&driver, 0, nullptr, FILE_DEVICE_UNKNOWN, 0, FALSE, &bad, nullptr,
                                 &device),
            STATUS_INVALID_PARAMETER);
  bad = name_of(u"D:P(A;;GA;;;SY");
  EXPECT_EQ(IoCreateDeviceSecure(&driver, 0, nullptr, FILE_DEVICE_UNKNOWN, 0, FALSE, &bad, nullptr,
                                 &device),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(device, nullptr);
  for (PCUNICODE_STRING sddl :
       {&SDDL_DEVOBJ_KERNEL_ONLY, &SDDL_DEVOBJ_SYS_ALL, &SDDL_DEVOBJ_SYS_ALL_ADM_ALL,
        &SDDL_DEVOBJ_SYS_ALL_ADM_RX, &SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_R,
        &SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RW_RES_R,
        &SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RWX_RES_RWX}) {
    ASSERT_EQ(IoCreateDeviceSecure(&driver, 16, nullptr, FILE_DEVICE_UNKNOWN, 0, FALSE, sddl,
                                   nullptr, &device),
              STATUS_SUCCESS);
    ASSERT_NE(device, nullptr);
    EXPECT_NE(device->DeviceExtension, nullptr);
    IoDeleteDevice(device);
    device = nullptr;
  }
  UNICODE_STRING full_sid = name_of(u"D:P(A;;0x1F01FF;;;S-1-5-18)(A;;GR;;;BU)");
  ASSERT_EQ(IoCreateDeviceSecure(&driver, 0, nullptr, FILE_DEVICE_UNKNOWN, 0, FALSE, &full_sid,
                                 nullptr, &device),
            STATUS_SUCCESS);
  IoDeleteDevice(device);
}

} // namespace

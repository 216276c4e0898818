// Seconds since 1970/1980 and local time <-> system time (km/time_conversion.h).
#include <wdm.h>

#include <ctime>

#include "nt/ke/time.hpp"

namespace {

using uwsk::nt::filetime_unix_epoch;

constexpr LONGLONG ticks_per_second = 10000000LL;
// 1980-01-01 in system time: 3652 days after 1970-01-01.
constexpr LONGLONG filetime_1980 = filetime_unix_epoch + 3652LL * 86400LL * ticks_per_second;

BOOLEAN seconds_since(LONGLONG epoch, PLARGE_INTEGER time, PULONG seconds) {
  const LONGLONG since = time->QuadPart - epoch;
  if (since < 0 || since / ticks_per_second > static_cast<LONGLONG>(MAXULONG)) {
    return FALSE;
  }
  *seconds = static_cast<ULONG>(since / ticks_per_second);
  return TRUE;
}

// The offset of local time from UTC now, in 100 ns units (east positive).
LONGLONG local_bias() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  return static_cast<LONGLONG>(local.tm_gmtoff) * ticks_per_second;
}

} // namespace

// RtlTimeToSecondsSince1970: whole seconds since 1970-01-01; FALSE when out of range.
extern "C" BOOLEAN NTAPI RtlTimeToSecondsSince1970(PLARGE_INTEGER Time, PULONG ElapsedSeconds) {
  return seconds_since(filetime_unix_epoch, Time, ElapsedSeconds);
}

// RtlTimeToSecondsSince1980: whole seconds since 1980-01-01; FALSE when out of range.
extern "C" BOOLEAN NTAPI RtlTimeToSecondsSince1980(PLARGE_INTEGER Time, PULONG ElapsedSeconds) {
  return seconds_since(filetime_1980, Time, ElapsedSeconds);
}

// RtlSecondsSince1970ToTime: the system time of a count of seconds since 1970-01-01.
extern "C" VOID NTAPI RtlSecondsSince1970ToTime(ULONG ElapsedSeconds, PLARGE_INTEGER Time) {
  Time->QuadPart = filetime_unix_epoch + static_cast<LONGLONG>(ElapsedSeconds) * ticks_per_second;
}

// RtlSecondsSince1980ToTime: the system time of a count of seconds since 1980-01-01.
extern "C" VOID NTAPI RtlSecondsSince1980ToTime(ULONG ElapsedSeconds, PLARGE_INTEGER Time) {
  Time->QuadPart = filetime_1980 + static_cast<LONGLONG>(ElapsedSeconds) * ticks_per_second;
}

// ExSystemTimeToLocalTime: UTC -> local time, with the time zone's current offset.
extern "C" VOID NTAPI ExSystemTimeToLocalTime(PLARGE_INTEGER SystemTime, PLARGE_INTEGER LocalTime) {
  LocalTime->QuadPart = SystemTime->QuadPart + local_bias();
}

// ExLocalTimeToSystemTime: local time -> UTC, with the time zone's current offset.
extern "C" VOID NTAPI ExLocalTimeToSystemTime(PLARGE_INTEGER LocalTime, PLARGE_INTEGER SystemTime) {
  SystemTime->QuadPart = LocalTime->QuadPart - local_bias();
}

// RtlTimeToTimeFields / RtlTimeFieldsToTime: 100 ns units since 1601-01-01 (the Windows epoch,
// proleptic Gregorian calendar, no leap seconds) <-> calendar fields.
#include <wdm.h>

namespace {

constexpr LONGLONG ticks_per_ms = 10000;
constexpr LONGLONG ms_per_day = 86400000;

// Days from 1601-01-01 to year-month-day (month 1..12), by the civil-from-days algorithm on a
// calendar whose years start in March.
LONGLONG days_from_civil(LONGLONG y, LONGLONG m, LONGLONG d) {
  y -= m <= 2;
  const LONGLONG era = (y >= 0 ? y : y - 399) / 400;
  const LONGLONG yoe = y - era * 400;
  const LONGLONG doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const LONGLONG doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const LONGLONG days_since_0000_03_01 = era * 146097 + doe;
  // 1601-01-01 is day 584694 counted from 0000-03-01.
  return days_since_0000_03_01 - 584694;
}

void civil_from_days(LONGLONG days, LONGLONG &y, LONGLONG &m, LONGLONG &d) {
  LONGLONG z = days + 584694;
  const LONGLONG era = (z >= 0 ? z : z - 146096) / 146097;
  const LONGLONG doe = z - era * 146097;
  const LONGLONG yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const LONGLONG doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const LONGLONG mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp + (mp < 10 ? 3 : -9);
  y = yoe + era * 400 + (m <= 2);
}

bool is_leap(LONGLONG y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

} // namespace

// RtlTimeToTimeFields: splits a system time into calendar fields (Weekday 0 = Sunday).
extern "C" VOID NTAPI RtlTimeToTimeFields(PLARGE_INTEGER Time, PTIME_FIELDS TimeFields) {
  LONGLONG ms = Time->QuadPart / ticks_per_ms;
  LONGLONG days = ms / ms_per_day;
  LONGLONG rest = ms % ms_per_day;
  LONGLONG y, m, d;
  civil_from_days(days, y, m, d);
  TimeFields->Year = static_cast<CSHORT>(y);
  TimeFields->Month = static_cast<CSHORT>(m);
  TimeFields->Day = static_cast<CSHORT>(d);
  TimeFields->Hour = static_cast<CSHORT>(rest / 3600000);
  TimeFields->Minute = static_cast<CSHORT>(rest / 60000 % 60);
  TimeFields->Second = static_cast<CSHORT>(rest / 1000 % 60);
  TimeFields->Milliseconds = static_cast<CSHORT>(rest % 1000);
  // 1601-01-01 was a Monday.
  TimeFields->Weekday = static_cast<CSHORT>((days + 1) % 7);
}

// RtlTimeFieldsToTime: joins calendar fields (Weekday ignored); FALSE when a field is out of
// range or the date is before 1601.
extern "C" BOOLEAN NTAPI RtlTimeFieldsToTime(PTIME_FIELDS TimeFields, PLARGE_INTEGER Time) {
  static constexpr int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const TIME_FIELDS &f = *TimeFields;
  if (f.Year < 1601 || f.Month < 1 || f.Month > 12 || f.Day < 1 || f.Hour < 0 || f.Hour > 23 ||
      f.Minute < 0 || f.Minute > 59 || f.Second < 0 || f.Second > 59 || f.Milliseconds < 0 ||
      f.Milliseconds > 999) {
    return FALSE;
  }
  int max_day = month_days[f.Month - 1] + (f.Month == 2 && is_leap(f.Year) ? 1 : 0);
  if (f.Day > max_day) {
    return FALSE;
  }
  LONGLONG days = days_from_civil(f.Year, f.Month, f.Day);
  LONGLONG ms = days * ms_per_day + f.Hour * 3600000LL + f.Minute * 60000LL + f.Second * 1000LL +
                f.Milliseconds;
  Time->QuadPart = ms * ticks_per_ms;
  return TRUE;
}

/*
 * km/time_conversion.h - uwsk: system time (100 ns units since 1601-01-01 UTC) to and from
 * seconds since 1970 or 1980, and to and from local time.
 *
 * Local time is the process's time zone (TZ, /etc/localtime) with the offset from UTC it has
 * now, daylight saving included, applied to every time converted: Windows too converts with
 * the current bias rather than the one in force at the time converted.
 */
#ifndef UWSK_WDK_KM_TIME_CONVERSION_H
#define UWSK_WDK_KM_TIME_CONVERSION_H

#include "../ntdef.h"

UWSK_BEGIN_DECLS

/* FALSE when the time is before the epoch or more than 2^32 - 1 seconds after it. */
NTSYSAPI BOOLEAN NTAPI RtlTimeToSecondsSince1970(PLARGE_INTEGER Time, PULONG ElapsedSeconds);
NTSYSAPI BOOLEAN NTAPI RtlTimeToSecondsSince1980(PLARGE_INTEGER Time, PULONG ElapsedSeconds);
NTSYSAPI VOID NTAPI RtlSecondsSince1970ToTime(ULONG ElapsedSeconds, PLARGE_INTEGER Time);
NTSYSAPI VOID NTAPI RtlSecondsSince1980ToTime(ULONG ElapsedSeconds, PLARGE_INTEGER Time);

NTKERNELAPI VOID NTAPI ExSystemTimeToLocalTime(PLARGE_INTEGER SystemTime, PLARGE_INTEGER LocalTime);
NTKERNELAPI VOID NTAPI ExLocalTimeToSystemTime(PLARGE_INTEGER LocalTime, PLARGE_INTEGER SystemTime);

UWSK_END_DECLS

#endif /* UWSK_WDK_KM_TIME_CONVERSION_H */

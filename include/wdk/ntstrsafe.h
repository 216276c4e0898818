/*
 * ntstrsafe.h - uwsk: bounded string functions for kernel code (RtlStringCch*, RtlStringCb*,
 * RtlUnicodeString*), as Windows' ntstrsafe.h declares them.
 *
 * They are exported functions of libuwsk (not inline), with Windows semantics:
 *   - a destination of 0 characters, or more than NTSTRSAFE_MAX_CCH, is STATUS_INVALID_PARAMETER,
 *     and so is a NULL pointer unless an Ex function gets STRSAFE_IGNORE_NULLS (a NULL source is
 *     then an empty string);
 *   - a result that does not fit is truncated, NUL-terminated and STATUS_BUFFER_OVERFLOW;
 *   - the Ex functions take STRSAFE_* flags (fill byte in the low 8 bits) and report the end of
 *     the string and the room left, on success and on STATUS_BUFFER_OVERFLOW;
 *   - the RtlUnicodeString* functions work on UNICODE_STRING (at most
 *     NTSTRSAFE_UNICODE_STRING_MAX_CCH characters) and never write a terminator.
 * The Printf functions use the Windows format engine of DbgPrint: in the A functions %s is
 * narrow and %S/%ls/%ws/%wZ wide; in the W functions %s is wide and %S/%hs narrow (as MSVC's
 * wide printf). Narrow text is UTF-8 when it meets wide text. Unlike the user-mode strsafe.h
 * nothing here is deprecated, so NTSTRSAFE_LIB / NTSTRSAFE_NO_DEPRECATE change nothing.
 */
#ifndef UWSK_WDK_NTSTRSAFE_H
#define UWSK_WDK_NTSTRSAFE_H

#include <stdarg.h>
#include <stddef.h>

#include "ntdef.h"
#include "ntstatus.h"

#define NTSTRSAFEDDI NTSTATUS NTAPI
#define NTSTRSAFE_INLINE_API NTSTATUS NTAPI

#define NTSTRSAFE_MAX_CCH 2147483647
#define NTSTRSAFE_MAX_LENGTH (NTSTRSAFE_MAX_CCH - 1)
#define NTSTRSAFE_UNICODE_STRING_MAX_CCH (0xffff / sizeof(WCHAR))
#define STRSAFE_MAX_CCH NTSTRSAFE_MAX_CCH

typedef char *NTSTRSAFE_PSTR;
typedef const char *NTSTRSAFE_PCSTR;
typedef WCHAR *NTSTRSAFE_PWSTR;
typedef const WCHAR *NTSTRSAFE_PCWSTR;
typedef const WCHAR *NTSTRSAFE_PCUWSTR;
typedef ULONG STRSAFE_DWORD;

/* Flags of the Ex functions; the low byte is the fill pattern. */
#define STRSAFE_IGNORE_NULLS 0x00000100
#define STRSAFE_FILL_BEHIND_NULL 0x00000200
#define STRSAFE_FILL_ON_FAILURE 0x00000400
#define STRSAFE_NULL_ON_FAILURE 0x00000800
#define STRSAFE_NO_TRUNCATION 0x00001000
#define STRSAFE_VALID_FLAGS                                                                        \
  (0x000000FF | STRSAFE_IGNORE_NULLS | STRSAFE_FILL_BEHIND_NULL | STRSAFE_FILL_ON_FAILURE |        \
   STRSAFE_NULL_ON_FAILURE | STRSAFE_NO_TRUNCATION)
/* The same bits under the names the UNICODE_STRING functions document. */
#define STRSAFE_FILL_BEHIND STRSAFE_FILL_BEHIND_NULL
#define STRSAFE_ZERO_LENGTH_ON_FAILURE STRSAFE_NULL_ON_FAILURE
#define STRSAFE_UNICODE_STRING_VALID_FLAGS STRSAFE_VALID_FLAGS

#define STRSAFE_FILL_BYTE(x) ((STRSAFE_DWORD)(((x)&0x000000FF) | STRSAFE_FILL_BEHIND_NULL))
#define STRSAFE_FAILURE_BYTE(x) ((STRSAFE_DWORD)(((x)&0x000000FF) | STRSAFE_FILL_ON_FAILURE))
#define STRSAFE_GET_FILL_PATTERN(dwFlags) ((int)((dwFlags)&0x000000FF))

UWSK_BEGIN_DECLS

/* Narrow strings. */
NTSTRSAFEDDI RtlStringCchCopyA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszSrc);
NTSTRSAFEDDI RtlStringCchCopyExA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszSrc,
                                 NTSTRSAFE_PSTR *ppszDestEnd, size_t *pcchRemaining,
                                 STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCchCopyNA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszSrc,
                                size_t cchToCopy);
NTSTRSAFEDDI RtlStringCchCopyNExA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszSrc,
                                  size_t cchToCopy, NTSTRSAFE_PSTR *ppszDestEnd,
                                  size_t *pcchRemaining, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCchCatA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszSrc);
NTSTRSAFEDDI RtlStringCchCatExA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszSrc,
                                NTSTRSAFE_PSTR *ppszDestEnd, size_t *pcchRemaining,
                                STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCchCatNA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszSrc,
                               size_t cchToAppend);
NTSTRSAFEDDI RtlStringCchCatNExA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszSrc,
                                 size_t cchToAppend, NTSTRSAFE_PSTR *ppszDestEnd,
                                 size_t *pcchRemaining, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCchVPrintfA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszFormat,
                                  va_list argList);
NTSTRSAFEDDI RtlStringCchPrintfA(NTSTRSAFE_PSTR pszDest, size_t cchDest, NTSTRSAFE_PCSTR pszFormat,
                                 ...);
NTSTRSAFEDDI RtlStringCchPrintfExA(NTSTRSAFE_PSTR pszDest, size_t cchDest,
                                   NTSTRSAFE_PSTR *ppszDestEnd, size_t *pcchRemaining,
                                   STRSAFE_DWORD dwFlags, NTSTRSAFE_PCSTR pszFormat, ...);
NTSTRSAFEDDI RtlStringCchVPrintfExA(NTSTRSAFE_PSTR pszDest, size_t cchDest,
                                    NTSTRSAFE_PSTR *ppszDestEnd, size_t *pcchRemaining,
                                    STRSAFE_DWORD dwFlags, NTSTRSAFE_PCSTR pszFormat,
                                    va_list argList);
NTSTRSAFEDDI RtlStringCchLengthA(NTSTRSAFE_PCSTR psz, size_t cchMax, size_t *pcchLength);
NTSTRSAFEDDI RtlStringCbCopyA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszSrc);
NTSTRSAFEDDI RtlStringCbCopyExA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszSrc,
                                NTSTRSAFE_PSTR *ppszDestEnd, size_t *pcbRemaining,
                                STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCbCopyNA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszSrc,
                               size_t cbToCopy);
NTSTRSAFEDDI RtlStringCbCopyNExA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszSrc,
                                 size_t cbToCopy, NTSTRSAFE_PSTR *ppszDestEnd, size_t *pcbRemaining,
                                 STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCbCatA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszSrc);
NTSTRSAFEDDI RtlStringCbCatExA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszSrc,
                               NTSTRSAFE_PSTR *ppszDestEnd, size_t *pcbRemaining,
                               STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCbCatNA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszSrc,
                              size_t cbToAppend);
NTSTRSAFEDDI RtlStringCbCatNExA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszSrc,
                                size_t cbToAppend, NTSTRSAFE_PSTR *ppszDestEnd,
                                size_t *pcbRemaining, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCbVPrintfA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszFormat,
                                 va_list argList);
NTSTRSAFEDDI RtlStringCbPrintfA(NTSTRSAFE_PSTR pszDest, size_t cbDest, NTSTRSAFE_PCSTR pszFormat,
                                ...);
NTSTRSAFEDDI RtlStringCbPrintfExA(NTSTRSAFE_PSTR pszDest, size_t cbDest,
                                  NTSTRSAFE_PSTR *ppszDestEnd, size_t *pcbRemaining,
                                  STRSAFE_DWORD dwFlags, NTSTRSAFE_PCSTR pszFormat, ...);
NTSTRSAFEDDI RtlStringCbVPrintfExA(NTSTRSAFE_PSTR pszDest, size_t cbDest,
                                   NTSTRSAFE_PSTR *ppszDestEnd, size_t *pcbRemaining,
                                   STRSAFE_DWORD dwFlags, NTSTRSAFE_PCSTR pszFormat,
                                   va_list argList);
NTSTRSAFEDDI RtlStringCbLengthA(NTSTRSAFE_PCSTR psz, size_t cbMax, size_t *pcbLength);

/* Wide (UTF-16) strings. */
NTSTRSAFEDDI RtlStringCchCopyW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszSrc);
NTSTRSAFEDDI RtlStringCchCopyExW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszSrc,
                                 NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcchRemaining,
                                 STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCchCopyNW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszSrc,
                                size_t cchToCopy);
NTSTRSAFEDDI RtlStringCchCopyNExW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszSrc,
                                  size_t cchToCopy, NTSTRSAFE_PWSTR *ppszDestEnd,
                                  size_t *pcchRemaining, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCchCatW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszSrc);
NTSTRSAFEDDI RtlStringCchCatExW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszSrc,
                                NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcchRemaining,
                                STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCchCatNW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszSrc,
                               size_t cchToAppend);
NTSTRSAFEDDI RtlStringCchCatNExW(NTSTRSAFE_PWSTR pszDest, size_t cchDest, NTSTRSAFE_PCWSTR pszSrc,
                                 size_t cchToAppend, NTSTRSAFE_PWSTR *ppszDestEnd,
                                 size_t *pcchRemaining, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCchVPrintfW(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                  NTSTRSAFE_PCWSTR pszFormat, va_list argList);
NTSTRSAFEDDI RtlStringCchPrintfW(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                 NTSTRSAFE_PCWSTR pszFormat, ...);
NTSTRSAFEDDI RtlStringCchPrintfExW(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                   NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcchRemaining,
                                   STRSAFE_DWORD dwFlags, NTSTRSAFE_PCWSTR pszFormat, ...);
NTSTRSAFEDDI RtlStringCchVPrintfExW(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                    NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcchRemaining,
                                    STRSAFE_DWORD dwFlags, NTSTRSAFE_PCWSTR pszFormat,
                                    va_list argList);
NTSTRSAFEDDI RtlStringCchLengthW(NTSTRSAFE_PCWSTR psz, size_t cchMax, size_t *pcchLength);
NTSTRSAFEDDI RtlStringCbCopyW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszSrc);
NTSTRSAFEDDI RtlStringCbCopyExW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszSrc,
                                NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcbRemaining,
                                STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCbCopyNW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszSrc,
                               size_t cbToCopy);
NTSTRSAFEDDI RtlStringCbCopyNExW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszSrc,
                                 size_t cbToCopy, NTSTRSAFE_PWSTR *ppszDestEnd,
                                 size_t *pcbRemaining, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCbCatW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszSrc);
NTSTRSAFEDDI RtlStringCbCatExW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszSrc,
                               NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcbRemaining,
                               STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCbCatNW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszSrc,
                              size_t cbToAppend);
NTSTRSAFEDDI RtlStringCbCatNExW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszSrc,
                                size_t cbToAppend, NTSTRSAFE_PWSTR *ppszDestEnd,
                                size_t *pcbRemaining, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCbVPrintfW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszFormat,
                                 va_list argList);
NTSTRSAFEDDI RtlStringCbPrintfW(NTSTRSAFE_PWSTR pszDest, size_t cbDest, NTSTRSAFE_PCWSTR pszFormat,
                                ...);
NTSTRSAFEDDI RtlStringCbPrintfExW(NTSTRSAFE_PWSTR pszDest, size_t cbDest,
                                  NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcbRemaining,
                                  STRSAFE_DWORD dwFlags, NTSTRSAFE_PCWSTR pszFormat, ...);
NTSTRSAFEDDI RtlStringCbVPrintfExW(NTSTRSAFE_PWSTR pszDest, size_t cbDest,
                                   NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcbRemaining,
                                   STRSAFE_DWORD dwFlags, NTSTRSAFE_PCWSTR pszFormat,
                                   va_list argList);
NTSTRSAFEDDI RtlStringCbLengthW(NTSTRSAFE_PCWSTR psz, size_t cbMax, size_t *pcbLength);

/* Lengths of possibly unaligned wide strings (alignment does not matter on x64). */
NTSTRSAFEDDI RtlUnalignedStringCchLengthW(NTSTRSAFE_PCUWSTR psz, size_t cchMax, size_t *pcchLength);
NTSTRSAFEDDI RtlUnalignedStringCbLengthW(NTSTRSAFE_PCUWSTR psz, size_t cbMax, size_t *pcbLength);

/* UNICODE_STRING set-up and validation. */
NTSTRSAFEDDI RtlUnicodeStringInit(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc);
NTSTRSAFEDDI RtlUnicodeStringInitEx(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc,
                                    STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlUnicodeStringValidate(PCUNICODE_STRING SourceString);
NTSTRSAFEDDI RtlUnicodeStringValidateEx(PCUNICODE_STRING SourceString, STRSAFE_DWORD dwFlags);

/* UNICODE_STRING -> NUL-terminated buffer. */
NTSTRSAFEDDI RtlStringCchCopyUnicodeString(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                           PCUNICODE_STRING SourceString);
NTSTRSAFEDDI RtlStringCbCopyUnicodeString(NTSTRSAFE_PWSTR pszDest, size_t cbDest,
                                          PCUNICODE_STRING SourceString);
NTSTRSAFEDDI RtlStringCchCopyUnicodeStringEx(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                             PCUNICODE_STRING SourceString,
                                             NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcchRemaining,
                                             STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCbCopyUnicodeStringEx(NTSTRSAFE_PWSTR pszDest, size_t cbDest,
                                            PCUNICODE_STRING SourceString,
                                            NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcbRemaining,
                                            STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCchCatUnicodeString(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                          PCUNICODE_STRING SourceString);
NTSTRSAFEDDI RtlStringCbCatUnicodeString(NTSTRSAFE_PWSTR pszDest, size_t cbDest,
                                         PCUNICODE_STRING SourceString);
NTSTRSAFEDDI RtlStringCchCatUnicodeStringEx(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                            PCUNICODE_STRING SourceString,
                                            NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcchRemaining,
                                            STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlStringCbCatUnicodeStringEx(NTSTRSAFE_PWSTR pszDest, size_t cbDest,
                                           PCUNICODE_STRING SourceString,
                                           NTSTRSAFE_PWSTR *ppszDestEnd, size_t *pcbRemaining,
                                           STRSAFE_DWORD dwFlags);

/* Copy into a UNICODE_STRING (Length is set; no terminator is written). */
NTSTRSAFEDDI RtlUnicodeStringCopyString(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc);
NTSTRSAFEDDI RtlUnicodeStringCopy(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString);
NTSTRSAFEDDI RtlUnicodeStringCopyStringEx(PUNICODE_STRING DestinationString,
                                          NTSTRSAFE_PCWSTR pszSrc, PUNICODE_STRING RemainingString,
                                          STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlUnicodeStringCopyEx(PUNICODE_STRING DestinationString,
                                    PCUNICODE_STRING SourceString, PUNICODE_STRING RemainingString,
                                    STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlUnicodeStringCchCopyStringN(PUNICODE_STRING DestinationString,
                                            NTSTRSAFE_PCWSTR pszSrc, size_t cchToCopy);
NTSTRSAFEDDI RtlUnicodeStringCbCopyStringN(PUNICODE_STRING DestinationString,
                                           NTSTRSAFE_PCWSTR pszSrc, size_t cbToCopy);
NTSTRSAFEDDI RtlUnicodeStringCchCopyN(PUNICODE_STRING DestinationString,
                                      PCUNICODE_STRING SourceString, size_t cchToCopy);
NTSTRSAFEDDI RtlUnicodeStringCbCopyN(PUNICODE_STRING DestinationString,
                                     PCUNICODE_STRING SourceString, size_t cbToCopy);
NTSTRSAFEDDI RtlUnicodeStringCchCopyStringNEx(PUNICODE_STRING DestinationString,
                                              NTSTRSAFE_PCWSTR pszSrc, size_t cchToCopy,
                                              PUNICODE_STRING RemainingString,
                                              STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlUnicodeStringCbCopyStringNEx(PUNICODE_STRING DestinationString,
                                             NTSTRSAFE_PCWSTR pszSrc, size_t cbToCopy,
                                             PUNICODE_STRING RemainingString,
                                             STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlUnicodeStringCchCopyNEx(PUNICODE_STRING DestinationString,
                                        PCUNICODE_STRING SourceString, size_t cchToCopy,
                                        PUNICODE_STRING RemainingString, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlUnicodeStringCbCopyNEx(PUNICODE_STRING DestinationString,
                                       PCUNICODE_STRING SourceString, size_t cbToCopy,
                                       PUNICODE_STRING RemainingString, STRSAFE_DWORD dwFlags);

/* Append to a UNICODE_STRING. */
NTSTRSAFEDDI RtlUnicodeStringCatString(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc);
NTSTRSAFEDDI RtlUnicodeStringCat(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString);
NTSTRSAFEDDI RtlUnicodeStringCatStringEx(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc,
                                         PUNICODE_STRING RemainingString, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlUnicodeStringCatEx(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString,
                                   PUNICODE_STRING RemainingString, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlUnicodeStringCchCatStringN(PUNICODE_STRING DestinationString,
                                           NTSTRSAFE_PCWSTR pszSrc, size_t cchToAppend);
NTSTRSAFEDDI RtlUnicodeStringCbCatStringN(PUNICODE_STRING DestinationString,
                                          NTSTRSAFE_PCWSTR pszSrc, size_t cbToAppend);
NTSTRSAFEDDI RtlUnicodeStringCchCatN(PUNICODE_STRING DestinationString,
                                     PCUNICODE_STRING SourceString, size_t cchToAppend);
NTSTRSAFEDDI RtlUnicodeStringCbCatN(PUNICODE_STRING DestinationString,
                                    PCUNICODE_STRING SourceString, size_t cbToAppend);
NTSTRSAFEDDI RtlUnicodeStringCchCatStringNEx(PUNICODE_STRING DestinationString,
                                             NTSTRSAFE_PCWSTR pszSrc, size_t cchToAppend,
                                             PUNICODE_STRING RemainingString,
                                             STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlUnicodeStringCbCatStringNEx(PUNICODE_STRING DestinationString,
                                            NTSTRSAFE_PCWSTR pszSrc, size_t cbToAppend,
                                            PUNICODE_STRING RemainingString, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlUnicodeStringCchCatNEx(PUNICODE_STRING DestinationString,
                                       PCUNICODE_STRING SourceString, size_t cchToAppend,
                                       PUNICODE_STRING RemainingString, STRSAFE_DWORD dwFlags);
NTSTRSAFEDDI RtlUnicodeStringCbCatNEx(PUNICODE_STRING DestinationString,
                                      PCUNICODE_STRING SourceString, size_t cbToAppend,
                                      PUNICODE_STRING RemainingString, STRSAFE_DWORD dwFlags);

/* Format into a UNICODE_STRING (the W format rules). */
NTSTRSAFEDDI RtlUnicodeStringVPrintf(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszFormat,
                                     va_list argList);
NTSTRSAFEDDI RtlUnicodeStringPrintf(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszFormat,
                                    ...);
NTSTRSAFEDDI RtlUnicodeStringVPrintfEx(PUNICODE_STRING DestinationString,
                                       PUNICODE_STRING RemainingString, STRSAFE_DWORD dwFlags,
                                       NTSTRSAFE_PCWSTR pszFormat, va_list argList);
NTSTRSAFEDDI RtlUnicodeStringPrintfEx(PUNICODE_STRING DestinationString,
                                      PUNICODE_STRING RemainingString, STRSAFE_DWORD dwFlags,
                                      NTSTRSAFE_PCWSTR pszFormat, ...);

UWSK_END_DECLS

#endif /* UWSK_WDK_NTSTRSAFE_H */

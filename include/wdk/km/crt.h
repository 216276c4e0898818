/*
 * km/crt.h - uwsk: the kernel C runtime a driver sees, with 16-bit WCHAR.
 *
 * Windows drivers call the C runtime that ntoskrnl exports: the wcs* family, swprintf and
 * _snwprintf, the secure CRT (*_s), _stricmp and friends. Drivers are built with -fshort-wchar,
 * so `wchar_t` and L"..." are UTF-16, but glibc's wide-string functions read 4-byte characters:
 * `wcslen(L"hello")` would return 3. This header gives drivers correct versions:
 *
 *   - The names glibc also defines (wcslen, wcscpy, wcschr, wcstol, towlower, swprintf,
 *     mbstowcs, sprintf, ...) are declared with glibc's own prototypes (which, with
 *     -fshort-wchar, have the right types) and renamed, with an asm label, to libuwsk's
 *     implementations (uwsk_wcslen, ...). The rename is not a macro: it survives #undef and
 *     libstdc++'s <cwchar>, applies to std::wcslen as well, and holds whichever of this header
 *     and <wchar.h> comes first. ntdef.h includes the C headers first so that the C++ overloads
 *     of wcschr, wcsrchr, wcsstr, wcspbrk and wmemchr, which glibc labels itself, are relabelled.
 *     The ELF names are uwsk_*, not the Windows ones, so that libuwsk never interposes on glibc
 *     for the rest of the process (libstdc++ keeps its 4-byte functions) and sanitizer
 *     interceptors of glibc's names do not catch a driver's calls.
 *   - The wide functions of glibc that uwsk does not implement (wcstok, wcscoll, wcstod,
 *     mbrtowc, swscanf, wprintf, ...) stop the build where a driver calls them, instead of
 *     silently reading 4-byte characters.
 *   - The names only Windows has (_wcsicmp, wcscpy_s, _snwprintf, _stricmp, strcpy_s, memcpy_s,
 *     _snprintf, _itoa, ...) are exported by libuwsk under those names.
 * Code built without -fshort-wchar (the runtime itself, its tests) sees the uwsk_* names and the
 * Windows-only names, with WCHAR (char16_t) arguments, and glibc's wide functions untouched.
 *
 * Semantics are those of the Windows kernel's C runtime, which has no locale (the "C" locale):
 *   - case-insensitive functions (_stricmp, _wcsicmp, towlower, _wcslwr, ...) fold only A-Z and
 *     a-z; RtlCompareUnicodeString and RtlUpcaseUnicodeChar fold the whole BMP;
 *   - the printf family uses the Windows format engine of DbgPrint (%ld is 32 bits, %I64d, %ws,
 *     %wZ, %Z; in a narrow format %s is narrow and %S/%ls/%ws wide, in a wide format the reverse;
 *     narrow text is UTF-8 when it meets wide text);
 *   - _snprintf/_snwprintf/_vsnprintf/_vsnwprintf return -1 when the output does not fit and
 *     then leave it unterminated; a result of exactly Count characters is not terminated either;
 *     snprintf/vsnprintf/swprintf/vswprintf always terminate (swprintf returns -1 when cut,
 *     snprintf the length it needed);
 *   - the secure functions return errno values (EINVAL 22, ERANGE 34, STRUNCATE 80) and, on
 *     failure, leave the destination as documented: an empty string (strcpy_s, sprintf_s, ...),
 *     a zeroed buffer (memcpy_s) or untouched (memmove_s, a NULL destination). Windows also calls
 *     the invalid-parameter handler; uwsk logs a line naming the function and continues, as a
 *     handler that returns would;
 *   - wcstol and strtol-like functions clamp to the Windows 32-bit LONG/ULONG range (their C
 *     return type is the 64-bit `long` of glibc's prototypes); _wcstoi64/_wcstoui64 to 64 bits;
 *   - mbstowcs/wcstombs/mbtowc/wctomb treat multibyte text as UTF-8, as the Rtl ANSI functions do.
 */
#ifndef UWSK_WDK_KM_CRT_H
#define UWSK_WDK_KM_CRT_H

#include <stdarg.h>
#include <stddef.h>

#include "../ntdef.h"

/* Driver code with 16-bit wchar_t: glibc's wide declarations are in scope (ntdef.h) and are
 * renamed below. */
#if defined(UWSK_SHORT_WCHAR) && !defined(UWSK_RUNTIME_BUILD)
#define UWSK_CRT_RENAMES_GLIBC 1
#if defined(__USE_FORTIFY_LEVEL) && __USE_FORTIFY_LEVEL > 0
#error                                                                                             \
    "uwsk: _FORTIFY_SOURCE replaces glibc's wide-string functions with inline checks that read 4-byte characters. Build drivers with -U_FORTIFY_SOURCE, or include the WDK headers before any C library header (docs/compatibility.md)."
#endif
#endif

#ifndef _ERRNO_T_DEFINED
#define _ERRNO_T_DEFINED
typedef int errno_t;
#endif
#ifndef _RSIZE_T_DEFINED
#define _RSIZE_T_DEFINED
typedef size_t rsize_t;
#endif

/* errno values of the secure functions (the Windows numbers; EINVAL and ERANGE are Linux's too). */
#ifndef EINVAL
#define EINVAL 22
#endif
#ifndef ERANGE
#define ERANGE 34
#endif
#ifndef STRUNCATE
#define STRUNCATE 80
#endif
#ifndef _TRUNCATE
#define _TRUNCATE ((size_t)-1)
#endif
#ifndef _NLSCMPERROR
#define _NLSCMPERROR 2147483647
#endif

/* The number of elements of an array. */
#ifndef _countof
#define _countof(array) (sizeof(array) / sizeof((array)[0]))
#endif

/* C++ redeclarations of glibc's functions must repeat its exception specification. */
#if defined(UWSK_CRT_RENAMES_GLIBC) && defined(__cplusplus)
#if __cplusplus >= 201103L
#define UWSK_CRT_NOTHROW noexcept(true)
#else
#define UWSK_CRT_NOTHROW throw()
#endif
#else
#define UWSK_CRT_NOTHROW
#endif

/* UWSK_CRT_FN(ret, name, params): a function glibc also defines. Driver code gets `name`,
 * renamed to libuwsk's uwsk_name; other code gets uwsk_name itself. */
#ifdef UWSK_CRT_RENAMES_GLIBC
#define UWSK_CRT_FN(ret, name, params) ret name params UWSK_CRT_NOTHROW __asm__("uwsk_" #name)
#else
#define UWSK_CRT_FN(ret, name, params) ret uwsk_##name params
#endif

UWSK_BEGIN_DECLS

/* ---- Wide strings (names glibc shares) --------------------------------------------------------
 */

UWSK_CRT_FN(size_t, wcslen, (const WCHAR *String));
UWSK_CRT_FN(size_t, wcsnlen, (const WCHAR *String, size_t MaxCount));
UWSK_CRT_FN(WCHAR *, wcscpy, (WCHAR * Destination, const WCHAR *Source));
UWSK_CRT_FN(WCHAR *, wcsncpy, (WCHAR * Destination, const WCHAR *Source, size_t Count));
UWSK_CRT_FN(WCHAR *, wcscat, (WCHAR * Destination, const WCHAR *Source));
UWSK_CRT_FN(WCHAR *, wcsncat, (WCHAR * Destination, const WCHAR *Source, size_t Count));
UWSK_CRT_FN(int, wcscmp, (const WCHAR *String1, const WCHAR *String2));
UWSK_CRT_FN(int, wcsncmp, (const WCHAR *String1, const WCHAR *String2, size_t Count));
UWSK_CRT_FN(size_t, wcsspn, (const WCHAR *String, const WCHAR *Accept));
UWSK_CRT_FN(size_t, wcscspn, (const WCHAR *String, const WCHAR *Reject));
UWSK_CRT_FN(int, wmemcmp, (const WCHAR *Buffer1, const WCHAR *Buffer2, size_t Count));
UWSK_CRT_FN(WCHAR *, wmemcpy, (WCHAR * Destination, const WCHAR *Source, size_t Count));
UWSK_CRT_FN(WCHAR *, wmemmove, (WCHAR * Destination, const WCHAR *Source, size_t Count));
UWSK_CRT_FN(WCHAR *, wmemset, (WCHAR * Destination, WCHAR Character, size_t Count));
UWSK_CRT_FN(long, wcstol, (const WCHAR *String, WCHAR **End, int Base));
UWSK_CRT_FN(unsigned long, wcstoul, (const WCHAR *String, WCHAR **End, int Base));
UWSK_CRT_FN(long long, wcstoll, (const WCHAR *String, WCHAR **End, int Base));
UWSK_CRT_FN(unsigned long long, wcstoull, (const WCHAR *String, WCHAR **End, int Base));
UWSK_CRT_FN(__WINT_TYPE__, towlower, (__WINT_TYPE__ Character));
UWSK_CRT_FN(__WINT_TYPE__, towupper, (__WINT_TYPE__ Character));
UWSK_CRT_FN(size_t, mbstowcs, (WCHAR * Destination, const char *Source, size_t Count));
UWSK_CRT_FN(size_t, wcstombs, (char *Destination, const WCHAR *Source, size_t Count));
UWSK_CRT_FN(int, mbtowc, (WCHAR * Destination, const char *Source, size_t Count));
UWSK_CRT_FN(int, wctomb, (char *Destination, WCHAR Character));

/* swprintf and vswprintf have the ISO C form (a count), as glibc declares them and as the WDK
 * does unless _CRT_NON_CONFORMING_SWPRINTFS is defined. */
UWSK_CRT_FN(int, swprintf, (WCHAR * Buffer, size_t Count, const WCHAR *Format, ...));
UWSK_CRT_FN(int, vswprintf, (WCHAR * Buffer, size_t Count, const WCHAR *Format, va_list Arguments));

/* The narrow printf family formats with the Windows rules too (%ld is 32 bits, %ws and %S read
 * UTF-16). */
UWSK_CRT_FN(int, sprintf, (char *Buffer, const char *Format, ...));
UWSK_CRT_FN(int, vsprintf, (char *Buffer, const char *Format, va_list Arguments));
UWSK_CRT_FN(int, snprintf, (char *Buffer, size_t Count, const char *Format, ...));
UWSK_CRT_FN(int, vsnprintf, (char *Buffer, size_t Count, const char *Format, va_list Arguments));

UWSK_END_DECLS

/* The functions that C++ overloads on constness: glibc declares both forms for GCC (and says so
 * with __CORRECT_ISO_CPP_WCHAR_H_PROTO), so do we; for Clang it declares the C form only. */
#if defined(UWSK_CRT_RENAMES_GLIBC) && defined(__cplusplus) &&                                     \
    defined(__CORRECT_ISO_CPP_WCHAR_H_PROTO)
extern "C++" {
WCHAR *wcschr(WCHAR *String, WCHAR Character) UWSK_CRT_NOTHROW __asm__("uwsk_wcschr");
const WCHAR *wcschr(const WCHAR *String, WCHAR Character) UWSK_CRT_NOTHROW __asm__("uwsk_wcschr");
WCHAR *wcsrchr(WCHAR *String, WCHAR Character) UWSK_CRT_NOTHROW __asm__("uwsk_wcsrchr");
const WCHAR *wcsrchr(const WCHAR *String, WCHAR Character) UWSK_CRT_NOTHROW __asm__("uwsk_wcsrchr");
WCHAR *wcsstr(WCHAR *String, const WCHAR *Search) UWSK_CRT_NOTHROW __asm__("uwsk_wcsstr");
const WCHAR *wcsstr(const WCHAR *String, const WCHAR *Search) UWSK_CRT_NOTHROW
    __asm__("uwsk_wcsstr");
WCHAR *wcspbrk(WCHAR *String, const WCHAR *Accept) UWSK_CRT_NOTHROW __asm__("uwsk_wcspbrk");
const WCHAR *wcspbrk(const WCHAR *String, const WCHAR *Accept) UWSK_CRT_NOTHROW
    __asm__("uwsk_wcspbrk");
WCHAR *wmemchr(WCHAR *Buffer, WCHAR Character, size_t Count) UWSK_CRT_NOTHROW
    __asm__("uwsk_wmemchr");
const WCHAR *wmemchr(const WCHAR *Buffer, WCHAR Character, size_t Count) UWSK_CRT_NOTHROW
    __asm__("uwsk_wmemchr");
#ifdef __USE_XOPEN
WCHAR *wcswcs(WCHAR *String, const WCHAR *Search) UWSK_CRT_NOTHROW __asm__("uwsk_wcsstr");
const WCHAR *wcswcs(const WCHAR *String, const WCHAR *Search) UWSK_CRT_NOTHROW
    __asm__("uwsk_wcsstr");
#endif
}
#else
UWSK_BEGIN_DECLS
UWSK_CRT_FN(WCHAR *, wcschr, (const WCHAR *String, WCHAR Character));
UWSK_CRT_FN(WCHAR *, wcsrchr, (const WCHAR *String, WCHAR Character));
UWSK_CRT_FN(WCHAR *, wcsstr, (const WCHAR *String, const WCHAR *Search));
UWSK_CRT_FN(WCHAR *, wcspbrk, (const WCHAR *String, const WCHAR *Accept));
UWSK_CRT_FN(WCHAR *, wmemchr, (const WCHAR *Buffer, WCHAR Character, size_t Count));
#if defined(UWSK_CRT_RENAMES_GLIBC) && defined(__USE_XOPEN)
WCHAR *wcswcs(const WCHAR *String, const WCHAR *Search) __asm__("uwsk_wcsstr");
#endif
UWSK_END_DECLS
#endif

/* glibc's wide functions that uwsk does not implement: a call is a compile-time error naming the
 * function (they would read and write 4-byte characters). */
#ifdef UWSK_CRT_RENAMES_GLIBC
/* GCC's error attribute may follow glibc's declaration; Clang accepts it only on a first
 * declaration, and says the same through unavailable. */
#ifdef __clang__
#define UWSK_CRT_REJECT(message) __attribute__((__unavailable__(message)))
#else
#define UWSK_CRT_REJECT(message) __attribute__((__error__(message)))
#endif
#ifdef __cplusplus
#define UWSK_CRT_GLIBC_LINKAGE extern "C"
#else
#define UWSK_CRT_GLIBC_LINKAGE extern
#endif
#define UWSK_CRT_GLIBC_ONLY(name)                                                                  \
  UWSK_CRT_GLIBC_LINKAGE __typeof__(name) name UWSK_CRT_REJECT(                                    \
      "uwsk: glibc's " #name " reads 4-byte wchar_t; it is not available to drivers built with "   \
      "-fshort-wchar (see docs/compatibility.md)")
UWSK_CRT_GLIBC_ONLY(wcscoll);
UWSK_CRT_GLIBC_ONLY(wcsxfrm);
UWSK_CRT_GLIBC_ONLY(wcstok);
UWSK_CRT_GLIBC_ONLY(wcstod);
UWSK_CRT_GLIBC_ONLY(mbrtowc);
UWSK_CRT_GLIBC_ONLY(mbsrtowcs);
UWSK_CRT_GLIBC_ONLY(wcsrtombs);
UWSK_CRT_GLIBC_ONLY(fwprintf);
UWSK_CRT_GLIBC_ONLY(wprintf);
UWSK_CRT_GLIBC_ONLY(vfwprintf);
UWSK_CRT_GLIBC_ONLY(vwprintf);
UWSK_CRT_GLIBC_ONLY(fwscanf);
UWSK_CRT_GLIBC_ONLY(wscanf);
UWSK_CRT_GLIBC_ONLY(swscanf);
UWSK_CRT_GLIBC_ONLY(fgetws);
UWSK_CRT_GLIBC_ONLY(fputws);
UWSK_CRT_GLIBC_ONLY(wcsftime);
#ifdef __USE_ISOC99
UWSK_CRT_GLIBC_ONLY(wcstof);
UWSK_CRT_GLIBC_ONLY(wcstold);
UWSK_CRT_GLIBC_ONLY(vfwscanf);
UWSK_CRT_GLIBC_ONLY(vwscanf);
UWSK_CRT_GLIBC_ONLY(vswscanf);
#endif
#ifdef __USE_XOPEN
UWSK_CRT_GLIBC_ONLY(wcswidth);
#endif
#ifdef __USE_XOPEN2K8
UWSK_CRT_GLIBC_ONLY(wcscasecmp);
UWSK_CRT_GLIBC_ONLY(wcsncasecmp);
UWSK_CRT_GLIBC_ONLY(wcscasecmp_l);
UWSK_CRT_GLIBC_ONLY(wcsncasecmp_l);
UWSK_CRT_GLIBC_ONLY(wcscoll_l);
UWSK_CRT_GLIBC_ONLY(wcsxfrm_l);
UWSK_CRT_GLIBC_ONLY(wcsdup);
UWSK_CRT_GLIBC_ONLY(mbsnrtowcs);
UWSK_CRT_GLIBC_ONLY(wcsnrtombs);
UWSK_CRT_GLIBC_ONLY(wcpcpy);
UWSK_CRT_GLIBC_ONLY(wcpncpy);
UWSK_CRT_GLIBC_ONLY(open_wmemstream);
#endif
#ifdef __USE_GNU
UWSK_CRT_GLIBC_ONLY(wcschrnul);
UWSK_CRT_GLIBC_ONLY(wmempcpy);
UWSK_CRT_GLIBC_ONLY(wcstoq);
UWSK_CRT_GLIBC_ONLY(wcstouq);
UWSK_CRT_GLIBC_ONLY(wcstol_l);
UWSK_CRT_GLIBC_ONLY(wcstoul_l);
UWSK_CRT_GLIBC_ONLY(wcstoll_l);
UWSK_CRT_GLIBC_ONLY(wcstoull_l);
UWSK_CRT_GLIBC_ONLY(wcstod_l);
UWSK_CRT_GLIBC_ONLY(wcstof_l);
UWSK_CRT_GLIBC_ONLY(wcstold_l);
UWSK_CRT_GLIBC_ONLY(fgetws_unlocked);
UWSK_CRT_GLIBC_ONLY(fputws_unlocked);
#endif
#undef UWSK_CRT_GLIBC_ONLY
#endif /* UWSK_CRT_RENAMES_GLIBC */

UWSK_BEGIN_DECLS

/* ---- Names only Windows has (exported by libuwsk under these names) -----------------------------
 */

/* Case-insensitive comparison (A-Z folded to a-z); _NLSCMPERROR for a NULL argument. */
int __cdecl _stricmp(const char *String1, const char *String2);
int __cdecl _strnicmp(const char *String1, const char *String2, size_t Count);
int __cdecl _wcsicmp(const WCHAR *String1, const WCHAR *String2);
int __cdecl _wcsnicmp(const WCHAR *String1, const WCHAR *String2, size_t Count);
#define _strcmpi _stricmp
#define _wcsicoll _wcsicmp
#define _wcsnicoll _wcsnicmp
#define _stricoll _stricmp
#define _strnicoll _strnicmp

/* In-place case conversion (ASCII letters); return their argument. */
char *__cdecl _strlwr(char *String);
char *__cdecl _strupr(char *String);
WCHAR *__cdecl _wcslwr(WCHAR *String);
WCHAR *__cdecl _wcsupr(WCHAR *String);

/* Bounded formatting with the Windows engine; -1 when the output does not fit (unterminated). */
int __cdecl _snprintf(char *Buffer, size_t Count, const char *Format, ...);
int __cdecl _vsnprintf(char *Buffer, size_t Count, const char *Format, va_list Arguments);
int __cdecl _snwprintf(WCHAR *Buffer, size_t Count, const WCHAR *Format, ...);
int __cdecl _vsnwprintf(WCHAR *Buffer, size_t Count, const WCHAR *Format, va_list Arguments);
/* The number of characters a format produces (without the terminator). */
int __cdecl _scprintf(const char *Format, ...);
int __cdecl _vscprintf(const char *Format, va_list Arguments);
int __cdecl _scwprintf(const WCHAR *Format, ...);
int __cdecl _vscwprintf(const WCHAR *Format, va_list Arguments);

/* The secure CRT. */
errno_t __cdecl memcpy_s(void *Destination, rsize_t DestinationSize, const void *Source,
                         rsize_t Count);
errno_t __cdecl memmove_s(void *Destination, rsize_t DestinationSize, const void *Source,
                          rsize_t Count);
errno_t __cdecl strcpy_s(char *Destination, rsize_t DestinationSize, const char *Source);
errno_t __cdecl strncpy_s(char *Destination, rsize_t DestinationSize, const char *Source,
                          rsize_t Count);
errno_t __cdecl strcat_s(char *Destination, rsize_t DestinationSize, const char *Source);
errno_t __cdecl strncat_s(char *Destination, rsize_t DestinationSize, const char *Source,
                          rsize_t Count);
errno_t __cdecl wcscpy_s(WCHAR *Destination, rsize_t DestinationSize, const WCHAR *Source);
errno_t __cdecl wcsncpy_s(WCHAR *Destination, rsize_t DestinationSize, const WCHAR *Source,
                          rsize_t Count);
errno_t __cdecl wcscat_s(WCHAR *Destination, rsize_t DestinationSize, const WCHAR *Source);
errno_t __cdecl wcsncat_s(WCHAR *Destination, rsize_t DestinationSize, const WCHAR *Source,
                          rsize_t Count);
size_t __cdecl strnlen_s(const char *String, size_t MaxCount);
size_t __cdecl wcsnlen_s(const WCHAR *String, size_t MaxCount);
int __cdecl sprintf_s(char *Buffer, size_t BufferSize, const char *Format, ...);
int __cdecl vsprintf_s(char *Buffer, size_t BufferSize, const char *Format, va_list Arguments);
int __cdecl swprintf_s(WCHAR *Buffer, size_t BufferSize, const WCHAR *Format, ...);
int __cdecl vswprintf_s(WCHAR *Buffer, size_t BufferSize, const WCHAR *Format, va_list Arguments);
int __cdecl _snprintf_s(char *Buffer, size_t BufferSize, size_t Count, const char *Format, ...);
int __cdecl _vsnprintf_s(char *Buffer, size_t BufferSize, size_t Count, const char *Format,
                         va_list Arguments);
int __cdecl _snwprintf_s(WCHAR *Buffer, size_t BufferSize, size_t Count, const WCHAR *Format, ...);
int __cdecl _vsnwprintf_s(WCHAR *Buffer, size_t BufferSize, size_t Count, const WCHAR *Format,
                          va_list Arguments);

/* Numbers to text (radix 2..36; lower-case digits; a negative value is signed only in radix 10)
 * and back. Text to number skips leading white space and stops at the first non-digit. */
char *__cdecl _itoa(int Value, char *Buffer, int Radix);
char *__cdecl _ltoa(LONG Value, char *Buffer, int Radix);
char *__cdecl _ultoa(ULONG Value, char *Buffer, int Radix);
char *__cdecl _i64toa(LONGLONG Value, char *Buffer, int Radix);
char *__cdecl _ui64toa(ULONGLONG Value, char *Buffer, int Radix);
WCHAR *__cdecl _itow(int Value, WCHAR *Buffer, int Radix);
WCHAR *__cdecl _ltow(LONG Value, WCHAR *Buffer, int Radix);
WCHAR *__cdecl _ultow(ULONG Value, WCHAR *Buffer, int Radix);
WCHAR *__cdecl _i64tow(LONGLONG Value, WCHAR *Buffer, int Radix);
WCHAR *__cdecl _ui64tow(ULONGLONG Value, WCHAR *Buffer, int Radix);
int __cdecl _wtoi(const WCHAR *String);
LONG __cdecl _wtol(const WCHAR *String);
LONGLONG __cdecl _wtoi64(const WCHAR *String);
LONGLONG __cdecl _atoi64(const char *String);
LONGLONG __cdecl _wcstoi64(const WCHAR *String, WCHAR **End, int Base);
ULONGLONG __cdecl _wcstoui64(const WCHAR *String, WCHAR **End, int Base);
LONGLONG __cdecl _strtoi64(const char *String, char **End, int Base);
ULONGLONG __cdecl _strtoui64(const char *String, char **End, int Base);

UWSK_END_DECLS

#undef UWSK_CRT_FN

#endif /* UWSK_WDK_KM_CRT_H */

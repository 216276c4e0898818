/*
 * ntdef.h - uwsk: the base types and macros of Windows kernel code, for GCC and Clang on Linux.
 *
 * Windows is LLP64: ULONG, LONG and NTSTATUS are 32 bits even on x64, so nothing here is
 * `unsigned long`. WCHAR is 16 bits: `wchar_t` when the translation unit is built with
 * -fshort-wchar (driver code, so that L"..." literals work), `char16_t` otherwise (the runtime
 * and its tests). Both have the same size and representation, so the ABI is the same.
 */
#ifndef UWSK_WDK_NTDEF_H
#define UWSK_WDK_NTDEF_H

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "uwsk supports 64-bit Linux targets only (the Windows x64 layouts are asserted)"
#endif

/* Driver code built with -fshort-wchar: glibc's _FORTIFY_SOURCE wrappers would replace the wide
 * string functions by inline checks that call glibc's 4-byte versions (km/crt.h), so it is turned
 * off while nothing has read it yet. km/crt.h stops the build if it was read earlier. */
#if !defined(UWSK_RUNTIME_BUILD) && defined(__WCHAR_MAX__) &&                                      \
    (__WCHAR_MAX__ == 0xffff || __WCHAR_MAX__ == 0x7fff) && defined(_FORTIFY_SOURCE) &&            \
    !defined(_FEATURES_H)
#undef _FORTIFY_SOURCE
#endif

#include <stddef.h>
#include <stdint.h>

/* The C library headers the WDK makes visible: ntdef.h includes <ctype.h>, wdm.h <string.h>
 * (drivers call strlen, memcpy and isdigit without including anything). Driver code also gets the
 * wide-character headers here, before the macros below, so that km/crt.h can redirect glibc's
 * declarations to the 16-bit implementations. */
#include <ctype.h>
#include <string.h>
#if !defined(UWSK_RUNTIME_BUILD) && defined(__WCHAR_MAX__) &&                                      \
    (__WCHAR_MAX__ == 0xffff || __WCHAR_MAX__ == 0x7fff)
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>
#include <wctype.h>
#endif

#include "sal.h"
#include "sdkddkver.h"

#ifdef __cplusplus
#define UWSK_EXTERN_C extern "C"
#define UWSK_BEGIN_DECLS extern "C" {
#define UWSK_END_DECLS }
#define UWSK_STATIC_ASSERT(e, m) static_assert(e, m)
#else
#define UWSK_EXTERN_C extern
#define UWSK_BEGIN_DECLS
#define UWSK_END_DECLS
#define UWSK_STATIC_ASSERT(e, m) _Static_assert(e, m)
#endif

/* What an MSVC kernel build predefines and drivers test. The driver build flags carry them too;
 * defining them here as well keeps a driver compiled without those flags on the same path. The
 * runtime's own code must not see them: to libstdc++ and GoogleTest they mean "Windows". */
#ifndef UWSK_RUNTIME_BUILD
#ifndef _WIN32
#define _WIN32 1
#endif
#ifndef _WIN64
#define _WIN64 1
#endif
#if defined(__x86_64__)
#ifndef _AMD64_
#define _AMD64_ 1
#endif
#ifndef _M_X64
#define _M_X64 100
#endif
#ifndef _M_AMD64
#define _M_AMD64 100
#endif
#endif
#ifndef _KERNEL_MODE
#define _KERNEL_MODE 1
#endif
#endif /* !UWSK_RUNTIME_BUILD */

/* Calling conventions: the native SysV ABI is used throughout (docs/wsk-behaviour.md, "Source
 * compatibility"). */
#define NTAPI
#define NTSYSAPI
#define NTSYSCALLAPI
#define NTKERNELAPI
#define NTHALAPI
#define FASTCALL
#define WINAPI
#define APIENTRY
#define CALLBACK
#define __cdecl
#define __stdcall
#define __fastcall
#define _cdecl
#define __inline inline
#define __forceinline inline __attribute__((always_inline))
#define FORCEINLINE static inline __attribute__((always_inline))
#define DECLSPEC_NORETURN __attribute__((noreturn))
#define DECLSPEC_ALIGN(x) __attribute__((aligned(x)))
#define DECLSPEC_NOINLINE __attribute__((noinline))
#define DECLSPEC_CACHEALIGN DECLSPEC_ALIGN(64)
#define DECLSPEC_IMPORT
#define DECLSPEC_EXPORT __attribute__((visibility("default")))
#define DECLSPEC_SELECTANY __attribute__((weak))
#define DECLSPEC_DEPRECATED
#define DECLSPEC_DEPRECATED_DDK
#define DECLSPEC_NOTHROW
#define DECLSPEC_ADDRSAFE
#define DECLSPEC_GUARDNOCF
#define __declspec(x)
#define __unaligned
#define __ptr64
#define __ptr32
#define UNALIGNED
#define RESTRICTED_POINTER
#define CONST const
#define VOID void
#define IN
#define OUT
#define OPTIONAL
#define EXTERN_C UWSK_EXTERN_C
#ifdef __cplusplus
#define EXTERN_C_START extern "C" {
#define EXTERN_C_END }
#else
#define EXTERN_C_START
#define EXTERN_C_END
#endif
#define STDAPI_(t) EXTERN_C t NTAPI
#define NTSTATUS_FROM_WIN32(x)                                                                     \
  ((NTSTATUS)(x) <= 0 ? ((NTSTATUS)(x)) : ((NTSTATUS)(((x)&0x0000FFFF) | (7 << 16) | 0xC0000000)))

/* Names of anonymous unions and structures. MSVC, GCC and Clang (C11, and C++ as an extension)
 * all accept anonymous members, so these expand to nothing, as in the WDK; a translation unit
 * that defines NONAMELESSUNION gets the named forms (u, u2, ..., s, s2, ...) instead. */
#if !defined(NONAMELESSUNION)
#define DUMMYUNIONNAME
#define DUMMYUNIONNAME1
#define DUMMYUNIONNAME2
#define DUMMYUNIONNAME3
#define DUMMYUNIONNAME4
#define DUMMYUNIONNAME5
#define DUMMYUNIONNAME6
#define DUMMYUNIONNAME7
#define DUMMYUNIONNAME8
#define DUMMYUNIONNAME9
#define DUMMYSTRUCTNAME
#define DUMMYSTRUCTNAME1
#define DUMMYSTRUCTNAME2
#define DUMMYSTRUCTNAME3
#define DUMMYSTRUCTNAME4
#define DUMMYSTRUCTNAME5
#define DUMMYSTRUCTNAME6
#define DUMMYSTRUCTNAME7
#define DUMMYSTRUCTNAME8
#define DUMMYSTRUCTNAME9
#else
#define DUMMYUNIONNAME u
#define DUMMYUNIONNAME1 u1
#define DUMMYUNIONNAME2 u2
#define DUMMYUNIONNAME3 u3
#define DUMMYUNIONNAME4 u4
#define DUMMYUNIONNAME5 u5
#define DUMMYUNIONNAME6 u6
#define DUMMYUNIONNAME7 u7
#define DUMMYUNIONNAME8 u8
#define DUMMYUNIONNAME9 u9
#define DUMMYSTRUCTNAME s
#define DUMMYSTRUCTNAME1 s1
#define DUMMYSTRUCTNAME2 s2
#define DUMMYSTRUCTNAME3 s3
#define DUMMYSTRUCTNAME4 s4
#define DUMMYSTRUCTNAME5 s5
#define DUMMYSTRUCTNAME6 s6
#define DUMMYSTRUCTNAME7 s7
#define DUMMYSTRUCTNAME8 s8
#define DUMMYSTRUCTNAME9 s9
#endif

/* MSVC intrinsic spellings that appear in driver code. */
#define __int8 char
#define __int16 short
#define __int32 int
/* __int64 is the type LONG64, ULONG64 (unsigned), INT_PTR and SIZE_T are built from, so that
 * `__int64 *`, `LONG64 *`, `PULONG_PTR` and `size_t *` interconvert as they do with MSVC: on LP64
 * Linux that is long (int64_t), not long long. */
#if defined(__LP64__)
#define __int64 long
#else
#define __int64 long long
#endif

#ifndef NULL
#define NULL ((void *)0)
#endif
#define TRUE 1
#define FALSE 0

/* Base integer types (LLP64). */
typedef void *PVOID, **PPVOID;
typedef const void *PCVOID, *LPCVOID;
typedef void *LPVOID;
typedef char CHAR, *PCHAR, *LPCH, *PCH, *PSZ, *LPSTR, *PSTR;
typedef const char *PCSTR, *LPCSTR, *PCSZ, *PCCH, *LPCCH;
typedef signed char SCHAR, *PSCHAR, INT8, *PINT8;
typedef unsigned char UCHAR, *PUCHAR, BYTE, *PBYTE, *LPBYTE, BOOLEAN, *PBOOLEAN, UINT8, *PUINT8;
typedef short SHORT, *PSHORT, CSHORT, *PCSHORT, INT16, *PINT16;
typedef unsigned short USHORT, *PUSHORT, WORD, *PWORD, *LPWORD, UINT16, *PUINT16;
typedef int INT, *PINT, *LPINT, BOOL, *PBOOL, *LPBOOL, INT32, *PINT32, LONG32, *PLONG32;
typedef unsigned int UINT, *PUINT, UINT32, *PUINT32, ULONG32, *PULONG32, DWORD32, *PDWORD32;
typedef int32_t LONG, *PLONG, *LPLONG;
typedef uint32_t ULONG, *PULONG, DWORD, *PDWORD, *LPDWORD, CLONG, *PCLONG, LCID, *PLCID;
typedef const ULONG *PCULONG;
typedef int64_t LONGLONG, *PLONGLONG, LONG64, *PLONG64, INT64, *PINT64;
typedef uint64_t ULONGLONG, *PULONGLONG, ULONG64, *PULONG64, DWORD64, *PDWORD64, UINT64, *PUINT64,
    DWORDLONG, *PDWORDLONG;
typedef int64_t INT_PTR, *PINT_PTR, LONG_PTR, *PLONG_PTR, SSIZE_T, *PSSIZE_T;
typedef uint64_t UINT_PTR, *PUINT_PTR, ULONG_PTR, *PULONG_PTR, DWORD_PTR, *PDWORD_PTR, SIZE_T,
    *PSIZE_T, KAFFINITY, *PKAFFINITY;
typedef LONG NTSTATUS, *PNTSTATUS;
typedef LONG HRESULT;
typedef ULONG LOGICAL, *PLOGICAL;
typedef float FLOAT;
typedef double DOUBLE;
typedef ULONG ACCESS_MASK, *PACCESS_MASK;
typedef void *HANDLE, **PHANDLE;
typedef LONG KPRIORITY;
typedef UCHAR KIRQL, *PKIRQL;
typedef char CCHAR, *PCCHAR;
typedef ULONG_PTR KSPIN_LOCK, *PKSPIN_LOCK;
typedef ULONG EXECUTION_STATE;
typedef USHORT RTL_ATOM;

/* 16-bit characters. */
#if defined(__WCHAR_MAX__) && (__WCHAR_MAX__ == 0xffff || __WCHAR_MAX__ == 0x7fff)
#define UWSK_SHORT_WCHAR 1
typedef wchar_t WCHAR;
#elif defined(__cplusplus)
typedef char16_t WCHAR;
#else
typedef uint_least16_t WCHAR;
#endif
typedef WCHAR *PWCHAR, *LPWCH, *PWCH, *LPWSTR, *PWSTR, *PWSZ, *NWPSTR;
typedef const WCHAR *PCWSTR, *LPCWSTR, *PCWCH, *LPCWCH, *PCWSZ;
UWSK_STATIC_ASSERT(sizeof(WCHAR) == 2, "WCHAR must be 16 bits");

/* Signed and unsigned 64-bit values with 32-bit halves (little-endian). */
typedef union _LARGE_INTEGER {
  struct {
    ULONG LowPart;
    LONG HighPart;
  };
  struct {
    ULONG LowPart;
    LONG HighPart;
  } u;
  LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER;

typedef union _ULARGE_INTEGER {
  struct {
    ULONG LowPart;
    ULONG HighPart;
  };
  struct {
    ULONG LowPart;
    ULONG HighPart;
  } u;
  ULONGLONG QuadPart;
} ULARGE_INTEGER, *PULARGE_INTEGER;

typedef LARGE_INTEGER PHYSICAL_ADDRESS, *PPHYSICAL_ADDRESS;

/* GUID, REFGUID, DEFINE_GUID, IsEqualGUID. */
#include "guiddef.h"

/* Doubly and singly linked lists. */
typedef struct _LIST_ENTRY {
  struct _LIST_ENTRY *Flink;
  struct _LIST_ENTRY *Blink;
} LIST_ENTRY, *PLIST_ENTRY, *PRLIST_ENTRY;

typedef struct _SINGLE_LIST_ENTRY {
  struct _SINGLE_LIST_ENTRY *Next;
} SINGLE_LIST_ENTRY, *PSINGLE_LIST_ENTRY;

UWSK_STATIC_ASSERT(sizeof(LIST_ENTRY) == 16, "LIST_ENTRY is 16 bytes on x64");
UWSK_STATIC_ASSERT(sizeof(SINGLE_LIST_ENTRY) == 8, "SINGLE_LIST_ENTRY is 8 bytes on x64");
UWSK_STATIC_ASSERT(sizeof(LARGE_INTEGER) == 8, "LARGE_INTEGER is 8 bytes");

/* Counted strings. Length and MaximumLength are in bytes; Buffer need not be NUL-terminated. */
typedef struct _UNICODE_STRING {
  USHORT Length;
  USHORT MaximumLength;
  PWSTR Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING *PCUNICODE_STRING;

typedef struct _STRING {
  USHORT Length;
  USHORT MaximumLength;
  PCHAR Buffer;
} STRING, *PSTRING, ANSI_STRING, *PANSI_STRING, OEM_STRING, *POEM_STRING, UTF8_STRING,
    *PUTF8_STRING;
UWSK_STATIC_ASSERT(sizeof(UNICODE_STRING) == 16, "UNICODE_STRING is 16 bytes on x64");
UWSK_STATIC_ASSERT(sizeof(STRING) == 16, "STRING is 16 bytes on x64");
typedef const STRING *PCSTRING, *PCANSI_STRING, *PCOEM_STRING, *PCUTF8_STRING;

#define UNICODE_NULL ((WCHAR)0)
#define ANSI_NULL ((CHAR)0)
#define MAXUSHORT 0xffff
#define MAXSHORT 0x7fff
#define MAXULONG 0xffffffffU
#define MAXLONG 0x7fffffff
#define MINLONG ((LONG)0x80000000)
#define MAXLONGLONG ((LONGLONG)0x7fffffffffffffffLL)
#define MAXULONGLONG ((ULONGLONG) ~(ULONGLONG)0)
#define MAXUCHAR 0xff
#define MAXCHAR 0x7f
#define MINCHAR 0x80
#define MAXULONG_PTR (~((ULONG_PTR)0))
#define MAXLONG_PTR ((LONG_PTR)(MAXULONG_PTR >> 1))
#define MAX_USTRING (sizeof(WCHAR) * (MAXUSHORT / sizeof(WCHAR)))

/* Object attributes (only what PsCreateSystemThread and ZwClose callers need). */
typedef struct _OBJECT_ATTRIBUTES {
  ULONG Length;
  HANDLE RootDirectory;
  PUNICODE_STRING ObjectName;
  ULONG Attributes;
  PVOID SecurityDescriptor;
  PVOID SecurityQualityOfService;
} OBJECT_ATTRIBUTES, *POBJECT_ATTRIBUTES;
typedef const OBJECT_ATTRIBUTES *PCOBJECT_ATTRIBUTES;
UWSK_STATIC_ASSERT(sizeof(OBJECT_ATTRIBUTES) == 48, "OBJECT_ATTRIBUTES is 48 bytes on x64");

#define OBJ_INHERIT 0x00000002L
#define OBJ_PERMANENT 0x00000010L
#define OBJ_EXCLUSIVE 0x00000020L
#define OBJ_CASE_INSENSITIVE 0x00000040L
#define OBJ_OPENIF 0x00000080L
#define OBJ_OPENLINK 0x00000100L
#define OBJ_KERNEL_HANDLE 0x00000200L
#define OBJ_FORCE_ACCESS_CHECK 0x00000400L
#define OBJ_VALID_ATTRIBUTES 0x000007F2L

#define InitializeObjectAttributes(p, n, a, r, s)                                                  \
  do {                                                                                             \
    (p)->Length = sizeof(OBJECT_ATTRIBUTES);                                                       \
    (p)->RootDirectory = (r);                                                                      \
    (p)->Attributes = (a);                                                                         \
    (p)->ObjectName = (n);                                                                         \
    (p)->SecurityDescriptor = (s);                                                                 \
    (p)->SecurityQualityOfService = NULL;                                                          \
  } while (0)

/* Event types and wait types. */
typedef enum _EVENT_TYPE { NotificationEvent, SynchronizationEvent } EVENT_TYPE;
typedef enum _TIMER_TYPE { NotificationTimer, SynchronizationTimer } TIMER_TYPE;
typedef enum _WAIT_TYPE { WaitAll, WaitAny, WaitNotification, WaitDequeue } WAIT_TYPE;
typedef CCHAR KPROCESSOR_MODE;
typedef enum _MODE { KernelMode, UserMode, MaximumMode } MODE;

typedef struct _PROCESSOR_NUMBER {
  USHORT Group;
  UCHAR Number;
  UCHAR Reserved;
} PROCESSOR_NUMBER, *PPROCESSOR_NUMBER;

/* Status helpers. */
#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)
#define NT_INFORMATION(Status) ((((ULONG)(Status)) >> 30) == 1)
#define NT_WARNING(Status) ((((ULONG)(Status)) >> 30) == 2)
#define NT_ERROR(Status) ((((ULONG)(Status)) >> 30) == 3)

/* Structure and arithmetic helpers. */
#define FIELD_OFFSET(type, field) ((LONG)offsetof(type, field))
#define UFIELD_OFFSET(type, field) ((ULONG)offsetof(type, field))
#define RTL_FIELD_SIZE(type, field) (sizeof(((type *)0)->field))
#define RTL_SIZEOF_THROUGH_FIELD(type, field)                                                      \
  (FIELD_OFFSET(type, field) + RTL_FIELD_SIZE(type, field))
#define RTL_CONTAINS_FIELD(Struct, Size, Field)                                                    \
  ((((PCHAR)(&(Struct)->Field)) + sizeof((Struct)->Field)) <= (((PCHAR)(Struct)) + (Size)))
#define RTL_NUMBER_OF(a) (sizeof(a) / sizeof((a)[0]))
#define ARRAYSIZE(a) RTL_NUMBER_OF(a)
#define _ARRAYSIZE(a) RTL_NUMBER_OF(a)
#define RTL_NUMBER_OF_V1(a) RTL_NUMBER_OF(a)
#define RTL_NUMBER_OF_V2(a) RTL_NUMBER_OF(a)
#define RTL_NUMBER_OF_FIELD(type, field) (RTL_NUMBER_OF(RTL_FIELD_SIZE(type, field)))
#define CONTAINING_RECORD(address, type, field)                                                    \
  ((type *)((PCHAR)(address) - (ULONG_PTR)offsetof(type, field)))
#define ALIGN_DOWN_BY(length, alignment) ((ULONG_PTR)(length) & ~((ULONG_PTR)(alignment)-1))
#define ALIGN_UP_BY(length, alignment)                                                             \
  (ALIGN_DOWN_BY(((ULONG_PTR)(length) + (alignment)-1), alignment))
#define ALIGN_DOWN_POINTER_BY(address, alignment)                                                  \
  ((PVOID)((ULONG_PTR)(address) & ~((ULONG_PTR)(alignment)-1)))
#define ALIGN_UP_POINTER_BY(address, alignment)                                                    \
  (ALIGN_DOWN_POINTER_BY(((ULONG_PTR)(address) + (alignment)-1), alignment))
#define ALIGN_DOWN(length, type) ALIGN_DOWN_BY(length, sizeof(type))
#define ALIGN_UP(length, type) ALIGN_UP_BY(length, sizeof(type))
#define ROUND_TO_SIZE(length, alignment)                                                           \
  ((((ULONG_PTR)(length)) + ((alignment)-1)) & ~((ULONG_PTR)(alignment)-1))
#define Int32x32To64(a, b) (((LONGLONG)((LONG)(a))) * ((LONGLONG)((LONG)(b))))
#define UInt32x32To64(a, b) (((ULONGLONG)((ULONG)(a))) * ((ULONGLONG)((ULONG)(b))))
#define Int64ShllMod32(a, b) ((ULONGLONG)(a) << (b))
#define Int64ShraMod32(a, b) ((LONGLONG)(a) >> (b))
#define Int64ShrlMod32(a, b) ((ULONGLONG)(a) >> (b))
#define LOBYTE(w) ((UCHAR)(((ULONG_PTR)(w)) & 0xff))
#define HIBYTE(w) ((UCHAR)((((ULONG_PTR)(w)) >> 8) & 0xff))
#define LOWORD(l) ((USHORT)(((ULONG_PTR)(l)) & 0xffff))
#define HIWORD(l) ((USHORT)((((ULONG_PTR)(l)) >> 16) & 0xffff))
#define MAKEWORD(a, b) ((USHORT)(((UCHAR)(a)) | ((USHORT)((UCHAR)(b))) << 8))
#define MAKELONG(a, b) ((LONG)(((USHORT)(a)) | ((ULONG)((USHORT)(b))) << 16))
#define FlagOn(_F, _SF) ((_F) & (_SF))
#define BooleanFlagOn(F, SF) ((BOOLEAN)(((F) & (SF)) != 0))
#define SetFlag(_F, _SF) ((_F) |= (_SF))
#define ClearFlag(_F, _SF) ((_F) &= ~(_SF))

#define UNREFERENCED_PARAMETER(P) ((void)(P))
#define DBG_UNREFERENCED_PARAMETER(P) ((void)(P))
#define DBG_UNREFERENCED_LOCAL_VARIABLE(V) ((void)(V))
#define UNREFERENCED_LOCAL_VARIABLE(V) ((void)(V))
#define C_ASSERT(e) UWSK_STATIC_ASSERT(e, #e)
#define ANYSIZE_ARRAY 1

/* min and max as MSVC's headers give them, unless the driver opts out. The runtime's own code
 * (UWSK_RUNTIME_BUILD) uses std::min and std::max. */
#if defined(UWSK_RUNTIME_BUILD) && !defined(NOMINMAX)
#define NOMINMAX 1
#endif
#if !defined(NOMINMAX) && !defined(__cplusplus)
#ifndef min
#define min(a, b) (((a) < (b)) ? (a) : (b))
#endif
#ifndef max
#define max(a, b) (((a) > (b)) ? (a) : (b))
#endif
#endif
#if !defined(NOMINMAX) && defined(__cplusplus)
/* In C++ the macros would break <algorithm>; function templates give the same spelling. They
 * return by value (the conditional of two lvalues is itself an lvalue, which must not escape). */
template <typename T> struct uwsk_remove_reference { typedef T type; };
template <typename T> struct uwsk_remove_reference<T &> { typedef T type; };
template <typename T1, typename T2>
static inline typename uwsk_remove_reference<decltype(true ? T1() : T2())>::type min(T1 a, T2 b) {
  return a < b ? a : b;
}
template <typename T1, typename T2>
static inline typename uwsk_remove_reference<decltype(true ? T1() : T2())>::type max(T1 a, T2 b) {
  return a > b ? a : b;
}
#endif

/* Compile-time counted strings from literals (narrow for STRING, wide for UNICODE_STRING). */
#ifdef __cplusplus
/* C++ needs the literal's constness removed, as the Buffer members are not const. */
constexpr PCHAR uwsk_literal_buffer(const char *s) {
  return const_cast<PCHAR>(s);
}
constexpr PWCH uwsk_literal_buffer(const WCHAR *s) {
  return const_cast<PWCH>(s);
}
#ifdef UWSK_SHORT_WCHAR
static inline PWCH uwsk_literal_buffer(const char16_t *s) {
  return reinterpret_cast<PWCH>(const_cast<char16_t *>(s));
}
#endif
#define RTL_CONSTANT_STRING(s)                                                                     \
  { (USHORT)(sizeof(s) - sizeof((s)[0])), (USHORT)sizeof(s), uwsk_literal_buffer(s) }
#else
#define RTL_CONSTANT_STRING(s)                                                                     \
  { (USHORT)(sizeof(s) - sizeof((s)[0])), (USHORT)sizeof(s), (__typeof__((s)[0]) *)(s) }
#endif
#define DECLARE_CONST_UNICODE_STRING(_var, _string)                                                \
  const WCHAR _var##_buffer[] = _string;                                                           \
  const UNICODE_STRING _var = {sizeof(_string) - sizeof(WCHAR), sizeof(_string),                   \
                               (PWCH)_var##_buffer}
#define DECLARE_GLOBAL_CONST_UNICODE_STRING(_var, _str)                                            \
  const UNICODE_STRING _var = {sizeof(_str) - sizeof(WCHAR), sizeof(_str), (PWCH)_str}
#define DECLARE_UNICODE_STRING_SIZE(_var, _size)                                                   \
  WCHAR _var##_buffer[_size];                                                                      \
  UNICODE_STRING _var = {0, (_size) * sizeof(WCHAR), _var##_buffer}

/* Pragmas MSVC code carries that GCC must not trip on. */
#ifndef _MSC_EXTENSIONS /* clang -fms-extensions has a built-in __pragma */
#define __pragma(x)
#endif
#define _Pragma_once

/* Limits of the sized types, pointer conversions, DECLARE_HANDLE. */
#include "basetsd.h"

/* Structured exception handling: __try, __except, __finally, __leave. */
#include "excpt.h"

/* The kernel C runtime: 16-bit wide-string functions, the secure CRT, Windows printf forms. */
#include "km/crt.h"

#endif /* UWSK_WDK_NTDEF_H */

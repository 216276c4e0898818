/*
 * basetsd.h - the limits of the sized integer types, pointer/integer conversions and
 * DECLARE_HANDLE, as the WDK defines them.
 *
 * The types themselves (INT8 ... UINT64, LONG_PTR, SIZE_T, ...) are declared in ntdef.h, which
 * includes this header once they exist; including basetsd.h first works too.
 */
#ifndef UWSK_WDK_BASETSD_H
#define UWSK_WDK_BASETSD_H

#include "ntdef.h"

/* Limits of the sized types. */
#define MAXUINT8 ((UINT8) ~((UINT8)0))
#define MAXINT8 ((INT8)(MAXUINT8 >> 1))
#define MININT8 ((INT8)~MAXINT8)
#define MAXUINT16 ((UINT16) ~((UINT16)0))
#define MAXINT16 ((INT16)(MAXUINT16 >> 1))
#define MININT16 ((INT16)~MAXINT16)
#define MAXUINT32 ((UINT32) ~((UINT32)0))
#define MAXINT32 ((INT32)(MAXUINT32 >> 1))
#define MININT32 ((INT32)~MAXINT32)
#define MAXUINT64 ((UINT64) ~((UINT64)0))
#define MAXINT64 ((INT64)(MAXUINT64 >> 1))
#define MININT64 ((INT64)~MAXINT64)
#define MAXULONG32 ((ULONG32) ~((ULONG32)0))
#define MAXLONG32 ((LONG32)(MAXULONG32 >> 1))
#define MINLONG32 ((LONG32)~MAXLONG32)
#define MAXULONG64 ((ULONG64) ~((ULONG64)0))
#define MAXLONG64 ((LONG64)(MAXULONG64 >> 1))
#define MINLONG64 ((LONG64)~MAXLONG64)
#define MAXDWORD32 ((DWORD32) ~((DWORD32)0))
#define MAXDWORD64 ((DWORD64) ~((DWORD64)0))
#define MAXUINT ((UINT) ~((UINT)0))
#define MAXINT ((INT)(MAXUINT >> 1))
#define MININT ((INT)~MAXINT)
#define MAXUINT_PTR (~((UINT_PTR)0))
#define MAXINT_PTR ((INT_PTR)(MAXUINT_PTR >> 1))
#define MININT_PTR (~MAXINT_PTR)
#define MINLONG_PTR (~MAXLONG_PTR)
#define MAXSIZE_T ((SIZE_T) ~((SIZE_T)0))
#define MAXSSIZE_T ((SSIZE_T)(MAXSIZE_T >> 1))
#define MINSSIZE_T ((SSIZE_T)~MAXSSIZE_T)

/* Pointer <-> 32-bit integer conversions (the pointer is truncated or extended, as on x64). */
#define PtrToUlong(p) ((ULONG)(ULONG_PTR)(p))
#define PtrToLong(p) ((LONG)(LONG_PTR)(p))
#define PtrToUint(p) ((UINT)(UINT_PTR)(p))
#define PtrToInt(p) ((INT)(INT_PTR)(p))
#define PtrToUshort(p) ((unsigned short)(ULONG_PTR)(p))
#define PtrToShort(p) ((short)(LONG_PTR)(p))
#define PtrToUlong64(p) ((ULONG64)(ULONG_PTR)(p))
#define HandleToULong(h) ((ULONG)(ULONG_PTR)(h))
#define HandleToUlong(h) HandleToULong(h)
#define HandleToLong(h) ((LONG)(LONG_PTR)(h))
#define ULongToHandle(ul) ((HANDLE)(ULONG_PTR)(ul))
#define LongToHandle(l) ((HANDLE)(LONG_PTR)(l))
#define UlongToHandle(ul) ULongToHandle(ul)
#define ULongToPtr(ul) ((PVOID)(ULONG_PTR)(ul))
#define UlongToPtr(ul) ULongToPtr(ul)
#define LongToPtr(l) ((PVOID)(LONG_PTR)(l))
#define UIntToPtr(ui) ((PVOID)(UINT_PTR)(ui))
#define IntToPtr(i) ((PVOID)(INT_PTR)(i))
#define ULongToPtr64(ul) ULongToPtr(ul)

/* DECLARE_HANDLE(name): a distinct opaque pointer type `name` for a handle, so that handles of
 * different kinds do not convert into each other silently. */
#define DECLARE_HANDLE(name)                                                                       \
  struct name##__ {                                                                                \
    int unused;                                                                                    \
  };                                                                                               \
  typedef struct name##__ *name

#endif /* UWSK_WDK_BASETSD_H */

/*
 * ntintsafe.h - overflow-checked integer conversions and arithmetic for drivers.
 *
 * Rtl<From>To<To>(Operand, &Result) converts when the value fits in the target type;
 * Rtl<Type>Add/Sub/Mult(a, b, &Result) compute when the exact result fits. Each returns
 * STATUS_SUCCESS, or STATUS_INTEGER_OVERFLOW with *Result set to the type's error value (all bits
 * set: the maximum of an unsigned type, -1 for a signed one), as the WDK's do.
 *
 * Type names are the WDK's: UInt8, UChar, Byte, UShort, Word, UInt, UInt32, ULong, ULong32, DWord,
 * DWord32, UIntPtr, ULongPtr, DWordPtr, SizeT, ULongLong, ULong64, DWordLong, DWord64, UInt64 and
 * the signed Int8, Short, Int, Int32, Long, Long32, IntPtr, LongPtr, PtrdiffT, SSIZET, LongLong,
 * Long64, Int64. Every pair has its conversion (RtlULongLongToULong, RtlSizeTToULong,
 * RtlLongToULong, ...), every type its Add, Sub and Mult (RtlULongAdd, RtlSizeTMult, ...).
 */
#ifndef UWSK_WDK_NTINTSAFE_H
#define UWSK_WDK_NTINTSAFE_H

#include "ntdef.h"
#include "ntstatus.h"

/* The types, as X(Name, Type). Two copies, so that conversions can pair every type with every
 * other (a macro cannot expand inside itself). */
#define UWSK_INTSAFE_TYPES(X, ...)                                                                 \
  X(UInt8, UINT8, __VA_ARGS__)                                                                     \
  X(UChar, UCHAR, __VA_ARGS__)                                                                     \
  X(Byte, BYTE, __VA_ARGS__)                                                                       \
  X(UShort, USHORT, __VA_ARGS__)                                                                   \
  X(Word, WORD, __VA_ARGS__)                                                                       \
  X(UInt, UINT, __VA_ARGS__)                                                                       \
  X(UInt32, UINT32, __VA_ARGS__)                                                                   \
  X(ULong, ULONG, __VA_ARGS__)                                                                     \
  X(ULong32, ULONG32, __VA_ARGS__)                                                                 \
  X(DWord, DWORD, __VA_ARGS__)                                                                     \
  X(DWord32, DWORD32, __VA_ARGS__)                                                                 \
  X(UIntPtr, UINT_PTR, __VA_ARGS__)                                                                \
  X(ULongPtr, ULONG_PTR, __VA_ARGS__)                                                              \
  X(DWordPtr, DWORD_PTR, __VA_ARGS__)                                                              \
  X(SizeT, SIZE_T, __VA_ARGS__)                                                                    \
  X(ULongLong, ULONGLONG, __VA_ARGS__)                                                             \
  X(ULong64, ULONG64, __VA_ARGS__)                                                                 \
  X(DWordLong, DWORDLONG, __VA_ARGS__)                                                             \
  X(DWord64, DWORD64, __VA_ARGS__)                                                                 \
  X(UInt64, UINT64, __VA_ARGS__)                                                                   \
  X(Int8, INT8, __VA_ARGS__)                                                                       \
  X(Short, SHORT, __VA_ARGS__)                                                                     \
  X(Int, INT, __VA_ARGS__)                                                                         \
  X(Int32, INT32, __VA_ARGS__)                                                                     \
  X(Long, LONG, __VA_ARGS__)                                                                       \
  X(Long32, LONG32, __VA_ARGS__)                                                                   \
  X(IntPtr, INT_PTR, __VA_ARGS__)                                                                  \
  X(LongPtr, LONG_PTR, __VA_ARGS__)                                                                \
  X(PtrdiffT, ptrdiff_t, __VA_ARGS__)                                                              \
  X(SSIZET, SSIZE_T, __VA_ARGS__)                                                                  \
  X(LongLong, LONGLONG, __VA_ARGS__)                                                               \
  X(Long64, LONG64, __VA_ARGS__)                                                                   \
  X(Int64, INT64, __VA_ARGS__)
#define UWSK_INTSAFE_TYPES_TO(X, FromName, FromType)                                               \
  X(FromName, FromType, UInt8, UINT8)                                                              \
  X(FromName, FromType, UChar, UCHAR)                                                              \
  X(FromName, FromType, Byte, BYTE)                                                                \
  X(FromName, FromType, UShort, USHORT)                                                            \
  X(FromName, FromType, Word, WORD)                                                                \
  X(FromName, FromType, UInt, UINT)                                                                \
  X(FromName, FromType, UInt32, UINT32)                                                            \
  X(FromName, FromType, ULong, ULONG)                                                              \
  X(FromName, FromType, ULong32, ULONG32)                                                          \
  X(FromName, FromType, DWord, DWORD)                                                              \
  X(FromName, FromType, DWord32, DWORD32)                                                          \
  X(FromName, FromType, UIntPtr, UINT_PTR)                                                         \
  X(FromName, FromType, ULongPtr, ULONG_PTR)                                                       \
  X(FromName, FromType, DWordPtr, DWORD_PTR)                                                       \
  X(FromName, FromType, SizeT, SIZE_T)                                                             \
  X(FromName, FromType, ULongLong, ULONGLONG)                                                      \
  X(FromName, FromType, ULong64, ULONG64)                                                          \
  X(FromName, FromType, DWordLong, DWORDLONG)                                                      \
  X(FromName, FromType, DWord64, DWORD64)                                                          \
  X(FromName, FromType, UInt64, UINT64)                                                            \
  X(FromName, FromType, Int8, INT8)                                                                \
  X(FromName, FromType, Short, SHORT)                                                              \
  X(FromName, FromType, Int, INT)                                                                  \
  X(FromName, FromType, Int32, INT32)                                                              \
  X(FromName, FromType, Long, LONG)                                                                \
  X(FromName, FromType, Long32, LONG32)                                                            \
  X(FromName, FromType, IntPtr, INT_PTR)                                                           \
  X(FromName, FromType, LongPtr, LONG_PTR)                                                         \
  X(FromName, FromType, PtrdiffT, ptrdiff_t)                                                       \
  X(FromName, FromType, SSIZET, SSIZE_T)                                                           \
  X(FromName, FromType, LongLong, LONGLONG)                                                        \
  X(FromName, FromType, Long64, LONG64)                                                            \
  X(FromName, FromType, Int64, INT64)

/* The compiler's overflow builtins compute in infinite precision and report whether the result
 * fits the destination; adding 0 is a range check for a conversion. */
#define UWSK_INTSAFE_CONVERSION(FromName, FromType, ToName, ToType)                                \
  FORCEINLINE NTSTATUS Rtl##FromName##To##ToName(_In_ FromType Operand, _Out_ ToType *Result) {    \
    ToType converted;                                                                              \
    if (__builtin_add_overflow(Operand, 0, &converted)) {                                          \
      *Result = (ToType)-1;                                                                        \
      return STATUS_INTEGER_OVERFLOW;                                                              \
    }                                                                                              \
    *Result = converted;                                                                           \
    return STATUS_SUCCESS;                                                                         \
  }
#define UWSK_INTSAFE_CONVERSIONS_FROM(FromName, FromType, unused)                                  \
  UWSK_INTSAFE_TYPES_TO(UWSK_INTSAFE_CONVERSION, FromName, FromType)

#define UWSK_INTSAFE_OPERATION(Name, Type, Operation, Builtin)                                     \
  FORCEINLINE NTSTATUS Rtl##Name##Operation(_In_ Type Left, _In_ Type Right, _Out_ Type *Result) { \
    Type computed;                                                                                 \
    if (Builtin(Left, Right, &computed)) {                                                         \
      *Result = (Type)-1;                                                                          \
      return STATUS_INTEGER_OVERFLOW;                                                              \
    }                                                                                              \
    *Result = computed;                                                                            \
    return STATUS_SUCCESS;                                                                         \
  }
#define UWSK_INTSAFE_OPERATIONS(Name, Type, unused)                                                \
  UWSK_INTSAFE_OPERATION(Name, Type, Add, __builtin_add_overflow)                                  \
  UWSK_INTSAFE_OPERATION(Name, Type, Sub, __builtin_sub_overflow)                                  \
  UWSK_INTSAFE_OPERATION(Name, Type, Mult, __builtin_mul_overflow)

UWSK_INTSAFE_TYPES(UWSK_INTSAFE_CONVERSIONS_FROM, 0)
UWSK_INTSAFE_TYPES(UWSK_INTSAFE_OPERATIONS, 0)

#undef UWSK_INTSAFE_CONVERSIONS_FROM
#undef UWSK_INTSAFE_CONVERSION
#undef UWSK_INTSAFE_OPERATIONS
#undef UWSK_INTSAFE_OPERATION
#undef UWSK_INTSAFE_TYPES_TO
#undef UWSK_INTSAFE_TYPES

#endif /* UWSK_WDK_NTINTSAFE_H */

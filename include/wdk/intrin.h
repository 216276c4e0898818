/*
 * intrin.h - uwsk: the MSVC compiler intrinsics a driver can use in user space.
 *
 * MSVC spells processor operations as intrinsic functions (_BitScanForward, __popcnt, __rdtsc,
 * _InterlockedIncrement, ...). Here they are inline functions over the GCC/Clang builtins with the
 * Windows (LLP64) argument types: an `unsigned long` of MSVC is a ULONG (32 bits). Where GCC's
 * own x86 intrinsic headers already give a name with the MSVC meaning (__rdtsc, __rdtscp, _rotl,
 * _rotr, _mm_pause, __readeflags, _addcarry_u64, ...) this header includes them instead of
 * redefining the name, so that a driver may include <immintrin.h> as well. _lrotl and _lrotr,
 * which GCC rotates as 64-bit values on Linux, rotate 32 bits here, as on Windows.
 *
 * The _Interlocked* family is the one of km/ke.h (the Interlocked* functions), included here.
 * uwsk meanings: __debugbreak() is DbgBreakPoint() (logs the break and continues, or raises
 * SIGTRAP with UWSK_BREAK=1); __fastfail(code) bug-checks with KERNEL_SECURITY_CHECK_FAILURE
 * (0x139) and the code as first parameter, as Windows does. Privileged instructions (__readmsr,
 * __readcr3, _disable, __halt, __inbyte, ...) do not exist in user space and are not declared.
 */
#ifndef UWSK_WDK_INTRIN_H
#define UWSK_WDK_INTRIN_H

#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
/* Driver builds define _WIN32, which makes Clang's <mm_malloc.h> call the Windows CRT's
 * _aligned_malloc; its Linux form is wanted, so _WIN32 is hidden while the compiler's headers are
 * read. */
#pragma push_macro("_WIN32")
#undef _WIN32
#include <x86gprintrin.h> /* __rdtsc, __rdtscp, _rotl, _rotr, __readeflags, _addcarry_u64, ... */
#include <emmintrin.h>    /* _mm_pause, _mm_lfence, _mm_mfence, _mm_sfence, _mm_prefetch, ... */
#pragma pop_macro("_WIN32")
#endif

#include "ntdef.h"
#include "km/ke.h"

#define UWSK_INTRIN static __inline__ __attribute__((__always_inline__, __unused__))

UWSK_BEGIN_DECLS
NTSYSAPI VOID NTAPI DbgBreakPoint(VOID);
DECLSPEC_NORETURN NTKERNELAPI VOID NTAPI KeBugCheckEx(ULONG BugCheckCode,
                                                      ULONG_PTR BugCheckParameter1,
                                                      ULONG_PTR BugCheckParameter2,
                                                      ULONG_PTR BugCheckParameter3,
                                                      ULONG_PTR BugCheckParameter4);
UWSK_END_DECLS

/* ---- No-ops, breaks, failures, return addresses -------------------------------------------- */

UWSK_INTRIN void __nop(void) {
  __asm__ __volatile__("nop");
}

#ifndef __debugbreak
#define __debugbreak() DbgBreakPoint()
#endif

/* KERNEL_SECURITY_CHECK_FAILURE (0x139) with the fast-fail code as its first parameter. */
DECLSPEC_NORETURN UWSK_INTRIN void __fastfail(unsigned int Code) {
  KeBugCheckEx(0x139, Code, 0, 0, 0);
}

#define _ReturnAddress() __builtin_return_address(0)
#define _AddressOfReturnAddress() ((void *)((char *)__builtin_frame_address(0) + sizeof(void *)))

/* ---- Bit scans and counts ------------------------------------------------------------------- */

/* _BitScanForward/_BitScanReverse: the index of the lowest/highest set bit; FALSE (and *Index
 * unspecified, left alone here) when Mask is 0. */
UWSK_INTRIN unsigned char uwsk_bsf32(ULONG *Index, ULONG Mask) {
  if (Mask == 0) {
    return 0;
  }
  *Index = (ULONG)__builtin_ctz(Mask);
  return 1;
}
UWSK_INTRIN unsigned char uwsk_bsr32(ULONG *Index, ULONG Mask) {
  if (Mask == 0) {
    return 0;
  }
  *Index = 31U - (ULONG)__builtin_clz(Mask);
  return 1;
}
UWSK_INTRIN unsigned char uwsk_bsf64(ULONG *Index, ULONG64 Mask) {
  if (Mask == 0) {
    return 0;
  }
  *Index = (ULONG)__builtin_ctzll(Mask);
  return 1;
}
UWSK_INTRIN unsigned char uwsk_bsr64(ULONG *Index, ULONG64 Mask) {
  if (Mask == 0) {
    return 0;
  }
  *Index = 63U - (ULONG)__builtin_clzll(Mask);
  return 1;
}
/* MSVC code often passes an `unsigned long *`, which is 64 bits on Linux: the index is stored at
 * the variable's own width. */
UWSK_INTRIN unsigned char uwsk_bsf32_ul(unsigned long *Index, ULONG Mask) {
  ULONG i = 0;
  unsigned char found = uwsk_bsf32(&i, Mask);
  if (found) {
    *Index = i;
  }
  return found;
}
UWSK_INTRIN unsigned char uwsk_bsr32_ul(unsigned long *Index, ULONG Mask) {
  ULONG i = 0;
  unsigned char found = uwsk_bsr32(&i, Mask);
  if (found) {
    *Index = i;
  }
  return found;
}
UWSK_INTRIN unsigned char uwsk_bsf64_ul(unsigned long *Index, ULONG64 Mask) {
  ULONG i = 0;
  unsigned char found = uwsk_bsf64(&i, Mask);
  if (found) {
    *Index = i;
  }
  return found;
}
UWSK_INTRIN unsigned char uwsk_bsr64_ul(unsigned long *Index, ULONG64 Mask) {
  ULONG i = 0;
  unsigned char found = uwsk_bsr64(&i, Mask);
  if (found) {
    *Index = i;
  }
  return found;
}
#ifdef __cplusplus
UWSK_INTRIN unsigned char _BitScanForward(ULONG *Index, ULONG Mask) {
  return uwsk_bsf32(Index, Mask);
}
UWSK_INTRIN unsigned char _BitScanForward(unsigned long *Index, ULONG Mask) {
  return uwsk_bsf32_ul(Index, Mask);
}
UWSK_INTRIN unsigned char _BitScanReverse(ULONG *Index, ULONG Mask) {
  return uwsk_bsr32(Index, Mask);
}
UWSK_INTRIN unsigned char _BitScanReverse(unsigned long *Index, ULONG Mask) {
  return uwsk_bsr32_ul(Index, Mask);
}
UWSK_INTRIN unsigned char _BitScanForward64(ULONG *Index, ULONG64 Mask) {
  return uwsk_bsf64(Index, Mask);
}
UWSK_INTRIN unsigned char _BitScanForward64(unsigned long *Index, ULONG64 Mask) {
  return uwsk_bsf64_ul(Index, Mask);
}
UWSK_INTRIN unsigned char _BitScanReverse64(ULONG *Index, ULONG64 Mask) {
  return uwsk_bsr64(Index, Mask);
}
UWSK_INTRIN unsigned char _BitScanReverse64(unsigned long *Index, ULONG64 Mask) {
  return uwsk_bsr64_ul(Index, Mask);
}
#else
#define _BitScanForward(Index, Mask)                                                               \
  _Generic((Index), unsigned long * : uwsk_bsf32_ul, default : uwsk_bsf32)((Index), (Mask))
#define _BitScanReverse(Index, Mask)                                                               \
  _Generic((Index), unsigned long * : uwsk_bsr32_ul, default : uwsk_bsr32)((Index), (Mask))
#define _BitScanForward64(Index, Mask)                                                             \
  _Generic((Index), unsigned long * : uwsk_bsf64_ul, default : uwsk_bsf64)((Index), (Mask))
#define _BitScanReverse64(Index, Mask)                                                             \
  _Generic((Index), unsigned long * : uwsk_bsr64_ul, default : uwsk_bsr64)((Index), (Mask))
#endif

UWSK_INTRIN unsigned short __popcnt16(unsigned short Value) {
  return (unsigned short)__builtin_popcount(Value);
}
UWSK_INTRIN unsigned int __popcnt(unsigned int Value) {
  return (unsigned int)__builtin_popcount(Value);
}
UWSK_INTRIN unsigned long long __popcnt64(unsigned long long Value) {
  return (unsigned long long)__builtin_popcountll(Value);
}
/* Leading zeros, with the operand width for 0 (the LZCNT instruction's answer). GCC's x86
 * headers define __lzcnt16 and __lzcnt64 only for code built with -mlzcnt; these work without. */
UWSK_INTRIN unsigned short uwsk_lzcnt16(unsigned short Value) {
  return Value == 0 ? 16 : (unsigned short)(__builtin_clz(Value) - 16);
}
UWSK_INTRIN unsigned int __lzcnt(unsigned int Value) {
  return Value == 0 ? 32U : (unsigned int)__builtin_clz(Value);
}
UWSK_INTRIN unsigned long long uwsk_lzcnt64(unsigned long long Value) {
  return Value == 0 ? 64ULL : (unsigned long long)__builtin_clzll(Value);
}
#define __lzcnt16(Value) uwsk_lzcnt16(Value)
#define __lzcnt64(Value) uwsk_lzcnt64(Value)

/* Bit tests of memory (not atomic; the _interlocked forms are in km/ke.h). Offset numbers bits
 * from Base and may be negative or beyond the first element, as on Windows. The bits are reached
 * through bytes, which numbers them the same way on a little-endian machine and lets the C++
 * overloads take MSVC's `long *` (64 bits on Linux) without an aliasing violation. */
UWSK_INTRIN unsigned char uwsk_bittest(const volatile void *Base, long long Offset, int Op) {
  volatile unsigned char *byte = (volatile unsigned char *)Base + (Offset >> 3);
  unsigned char mask = (unsigned char)(1U << (Offset & 7));
  unsigned char old = (unsigned char)((*byte & mask) != 0);
  if (Op == 1) {
    *byte = (unsigned char)(*byte | mask);
  } else if (Op == 2) {
    *byte = (unsigned char)(*byte & (unsigned char)~mask);
  } else if (Op == 3) {
    *byte = (unsigned char)(*byte ^ mask);
  }
  return old;
}
UWSK_INTRIN unsigned char _bittest(const LONG *Base, LONG Offset) {
  return uwsk_bittest(Base, Offset, 0);
}
UWSK_INTRIN unsigned char _bittestandset(LONG *Base, LONG Offset) {
  return uwsk_bittest(Base, Offset, 1);
}
UWSK_INTRIN unsigned char _bittestandreset(LONG *Base, LONG Offset) {
  return uwsk_bittest(Base, Offset, 2);
}
UWSK_INTRIN unsigned char _bittestandcomplement(LONG *Base, LONG Offset) {
  return uwsk_bittest(Base, Offset, 3);
}
UWSK_INTRIN unsigned char _bittest64(const LONG64 *Base, LONG64 Offset) {
  return uwsk_bittest(Base, Offset, 0);
}
UWSK_INTRIN unsigned char _bittestandset64(LONG64 *Base, LONG64 Offset) {
  return uwsk_bittest(Base, Offset, 1);
}
UWSK_INTRIN unsigned char _bittestandreset64(LONG64 *Base, LONG64 Offset) {
  return uwsk_bittest(Base, Offset, 2);
}
UWSK_INTRIN unsigned char _bittestandcomplement64(LONG64 *Base, LONG64 Offset) {
  return uwsk_bittest(Base, Offset, 3);
}
#ifdef __cplusplus
UWSK_INTRIN unsigned char _bittest(const long *Base, long Offset) {
  return uwsk_bittest(Base, Offset, 0);
}
UWSK_INTRIN unsigned char _bittestandset(long *Base, long Offset) {
  return uwsk_bittest(Base, Offset, 1);
}
UWSK_INTRIN unsigned char _bittestandreset(long *Base, long Offset) {
  return uwsk_bittest(Base, Offset, 2);
}
UWSK_INTRIN unsigned char _bittestandcomplement(long *Base, long Offset) {
  return uwsk_bittest(Base, Offset, 3);
}
#endif

/* ---- Byte swaps and rotations ---------------------------------------------------------------- */

UWSK_INTRIN unsigned short _byteswap_ushort(unsigned short Value) {
  return __builtin_bswap16(Value);
}
UWSK_INTRIN ULONG _byteswap_ulong(ULONG Value) {
  return __builtin_bswap32(Value);
}
UWSK_INTRIN unsigned long long _byteswap_uint64(unsigned long long Value) {
  return __builtin_bswap64(Value);
}

UWSK_INTRIN unsigned char _rotl8(unsigned char Value, unsigned char Shift) {
  Shift &= 7;
  return (unsigned char)((Value << Shift) | (Value >> ((8 - Shift) & 7)));
}
UWSK_INTRIN unsigned char _rotr8(unsigned char Value, unsigned char Shift) {
  Shift &= 7;
  return (unsigned char)((Value >> Shift) | (Value << ((8 - Shift) & 7)));
}
UWSK_INTRIN unsigned short _rotl16(unsigned short Value, unsigned char Shift) {
  Shift &= 15;
  return (unsigned short)((Value << Shift) | (Value >> ((16 - Shift) & 15)));
}
UWSK_INTRIN unsigned short _rotr16(unsigned short Value, unsigned char Shift) {
  Shift &= 15;
  return (unsigned short)((Value >> Shift) | (Value << ((16 - Shift) & 15)));
}
UWSK_INTRIN unsigned int uwsk_rotl32(unsigned int Value, int Shift) {
  unsigned int s = (unsigned int)Shift & 31;
  return (Value << s) | (Value >> ((32 - s) & 31));
}
UWSK_INTRIN unsigned int uwsk_rotr32(unsigned int Value, int Shift) {
  unsigned int s = (unsigned int)Shift & 31;
  return (Value >> s) | (Value << ((32 - s) & 31));
}
UWSK_INTRIN unsigned long long _rotl64(unsigned long long Value, int Shift) {
  unsigned int s = (unsigned int)Shift & 63;
  return (Value << s) | (Value >> ((64 - s) & 63));
}
UWSK_INTRIN unsigned long long _rotr64(unsigned long long Value, int Shift) {
  unsigned int s = (unsigned int)Shift & 63;
  return (Value >> s) | (Value << ((64 - s) & 63));
}
/* GCC's <x86gprintrin.h> defines these; Clang's defines them in <ia32intrin.h>, which it does
 * not include from there. */
#ifndef _rotl
#define _rotl(Value, Shift) uwsk_rotl32((Value), (Shift))
#endif
#ifndef _rotr
#define _rotr(Value, Shift) uwsk_rotr32((Value), (Shift))
#endif
/* An MSVC unsigned long is 32 bits. */
#undef _lrotl
#undef _lrotr
#define _lrotl(Value, Shift) ((unsigned long)uwsk_rotl32((unsigned int)(Value), (Shift)))
#define _lrotr(Value, Shift) ((unsigned long)uwsk_rotr32((unsigned int)(Value), (Shift)))

/* ---- Wide multiplication and shifts ------------------------------------------------------ */

UWSK_INTRIN unsigned long long _umul128(unsigned long long Multiplier,
                                        unsigned long long Multiplicand,
                                        unsigned long long *HighProduct) {
  unsigned __int128 product = (unsigned __int128)Multiplier * Multiplicand;
  *HighProduct = (unsigned long long)(product >> 64);
  return (unsigned long long)product;
}
UWSK_INTRIN long long _mul128(long long Multiplier, long long Multiplicand,
                              long long *HighProduct) {
  __int128 product = (__int128)Multiplier * Multiplicand;
  *HighProduct = (long long)(product >> 64);
  return (long long)product;
}
UWSK_INTRIN unsigned long long __umulh(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
UWSK_INTRIN long long __mulh(long long a, long long b) {
  return (long long)(((__int128)a * b) >> 64);
}
UWSK_INTRIN long long __emul(int a, int b) {
  return (long long)a * b;
}
UWSK_INTRIN unsigned long long __emulu(unsigned int a, unsigned int b) {
  return (unsigned long long)a * b;
}
UWSK_INTRIN unsigned long long __shiftleft128(unsigned long long LowPart,
                                              unsigned long long HighPart, unsigned char Shift) {
  unsigned __int128 v = ((unsigned __int128)HighPart << 64) | LowPart;
  return (unsigned long long)((v << (Shift & 63)) >> 64);
}
UWSK_INTRIN unsigned long long __shiftright128(unsigned long long LowPart,
                                               unsigned long long HighPart, unsigned char Shift) {
  unsigned __int128 v = ((unsigned __int128)HighPart << 64) | LowPart;
  return (unsigned long long)(v >> (Shift & 63));
}
UWSK_INTRIN unsigned long long __ll_lshift(unsigned long long Mask, int Bit) {
  return Mask << (Bit & 63);
}
UWSK_INTRIN long long __ll_rshift(long long Mask, int Bit) {
  return Mask >> (Bit & 63);
}
UWSK_INTRIN unsigned long long __ull_rshift(unsigned long long Mask, int Bit) {
  return Mask >> (Bit & 63);
}
UWSK_INTRIN long long _abs64(long long Value) {
  return Value < 0 ? -Value : Value;
}

/* ---- Time stamps, pauses, fences, CPU identification ---------------------------------------- */

#if !defined(__x86_64__)
/* The generic timer's virtual count stands for the time-stamp counter. */
UWSK_INTRIN unsigned long long __rdtsc(void) {
  unsigned long long ticks;
  __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(ticks));
  return ticks;
}
UWSK_INTRIN void _mm_pause(void) {
  __asm__ __volatile__("yield" ::: "memory");
}
#endif

#define __faststorefence() MemoryBarrier()

#if defined(__x86_64__)
/* CPUID as MSVC declares it (GCC's <cpuid.h> spells __cpuid differently; do not include both). */
UWSK_INTRIN void __cpuidex(int CpuInfo[4], int Function, int SubFunction) {
  __asm__ __volatile__("cpuid"
                       : "=a"(CpuInfo[0]), "=b"(CpuInfo[1]), "=c"(CpuInfo[2]), "=d"(CpuInfo[3])
                       : "a"(Function), "c"(SubFunction));
}
UWSK_INTRIN void __cpuid(int CpuInfo[4], int Function) {
  __cpuidex(CpuInfo, Function, 0);
}
#endif

/* ---- String instructions ------------------------------------------------------------------- */

UWSK_INTRIN void __stosb(unsigned char *Destination, unsigned char Data, size_t Count) {
  __builtin_memset(Destination, Data, Count);
}
UWSK_INTRIN void __stosw(unsigned short *Destination, unsigned short Data, size_t Count) {
  for (size_t i = 0; i < Count; ++i) {
    Destination[i] = Data;
  }
}
UWSK_INTRIN void __stosd(ULONG *Destination, ULONG Data, size_t Count) {
  for (size_t i = 0; i < Count; ++i) {
    Destination[i] = Data;
  }
}
UWSK_INTRIN void __stosq(unsigned long long *Destination, unsigned long long Data, size_t Count) {
  for (size_t i = 0; i < Count; ++i) {
    Destination[i] = Data;
  }
}
UWSK_INTRIN void __movsb(unsigned char *Destination, const unsigned char *Source, size_t Count) {
  for (size_t i = 0; i < Count; ++i) {
    Destination[i] = Source[i];
  }
}
UWSK_INTRIN void __movsw(unsigned short *Destination, const unsigned short *Source, size_t Count) {
  for (size_t i = 0; i < Count; ++i) {
    Destination[i] = Source[i];
  }
}
UWSK_INTRIN void __movsd(ULONG *Destination, const ULONG *Source, size_t Count) {
  for (size_t i = 0; i < Count; ++i) {
    Destination[i] = Source[i];
  }
}
UWSK_INTRIN void __movsq(unsigned long long *Destination, const unsigned long long *Source,
                         size_t Count) {
  for (size_t i = 0; i < Count; ++i) {
    Destination[i] = Source[i];
  }
}

/* ---- The wdm.h spellings of these intrinsics ------------------------------------------------ */

#define BitScanForward _BitScanForward
#define BitScanReverse _BitScanReverse
#define BitScanForward64 _BitScanForward64
#define BitScanReverse64 _BitScanReverse64
#define BitTest _bittest
#define BitTestAndSet _bittestandset
#define BitTestAndReset _bittestandreset
#define BitTestAndComplement _bittestandcomplement
#define BitTest64 _bittest64
#define BitTestAndSet64 _bittestandset64
#define BitTestAndReset64 _bittestandreset64
#define BitTestAndComplement64 _bittestandcomplement64
#define PopulationCount64 __popcnt64
#define LeadingZeros __lzcnt
#define LeadingZeros64 __lzcnt64
#define RotateLeft8 _rotl8
#define RotateRight8 _rotr8
#define RotateLeft16 _rotl16
#define RotateRight16 _rotr16
#define RotateLeft32 _rotl
#define RotateRight32 _rotr
#define RotateLeft64 _rotl64
#define RotateRight64 _rotr64
#define UnsignedMultiply128 _umul128
#define Multiply128 _mul128
#define UnsignedMultiplyHigh __umulh
#define MultiplyHigh __mulh
#define ShiftLeft128 __shiftleft128
#define ShiftRight128 __shiftright128
#define ReadTimeStampCounter() ((LONG64)__rdtsc())
#define FastFence __faststorefence
#if defined(__x86_64__)
#define LoadFence _mm_lfence
#define StoreFence _mm_sfence
#endif

#undef UWSK_INTRIN

#endif /* UWSK_WDK_INTRIN_H */

/*
 * km/pool.h - uwsk: pool allocation and lookaside lists.
 *
 * Pool memory comes from the C heap with a small header that records the tag, the size and the
 * pool type, so that the loader's leak report can list what a driver left behind by tag, and so
 * that a free with the wrong tag is caught. Paged and non-paged pool are the same memory here.
 */
#ifndef UWSK_WDK_KM_POOL_H
#define UWSK_WDK_KM_POOL_H

#include "types.h"

typedef enum _POOL_TYPE {
  NonPagedPool = 0,
  NonPagedPoolExecute = 0,
  PagedPool = 1,
  NonPagedPoolMustSucceed = 2,
  DontUseThisType = 3,
  NonPagedPoolCacheAligned = 4,
  PagedPoolCacheAligned = 5,
  NonPagedPoolCacheAlignedMustS = 6,
  MaxPoolType = 7,
  NonPagedPoolBase = 0,
  NonPagedPoolBaseMustSucceed = 2,
  NonPagedPoolBaseCacheAligned = 4,
  NonPagedPoolBaseCacheAlignedMustS = 6,
  NonPagedPoolSession = 32,
  PagedPoolSession = 33,
  NonPagedPoolMustSucceedSession = 34,
  DontUseThisTypeSession = 35,
  NonPagedPoolCacheAlignedSession = 36,
  PagedPoolCacheAlignedSession = 37,
  NonPagedPoolCacheAlignedMustSSession = 38,
  NonPagedPoolNx = 512,
  NonPagedPoolNxCacheAligned = 516,
  NonPagedPoolSessionNx = 544
} POOL_TYPE;

#define POOL_QUOTA_FAIL_INSTEAD_OF_RAISE 8
#define POOL_RAISE_IF_ALLOCATION_FAILURE 16
#define POOL_COLD_ALLOCATION 256
#define POOL_NX_ALLOCATION 512

typedef ULONG64 POOL_FLAGS;
#define POOL_FLAG_REQUIRED_START 0x0000000000000001ULL
#define POOL_FLAG_USE_QUOTA 0x0000000000000001ULL
#define POOL_FLAG_UNINITIALIZED 0x0000000000000002ULL
#define POOL_FLAG_SESSION 0x0000000000000004ULL
#define POOL_FLAG_CACHE_ALIGNED 0x0000000000000008ULL
#define POOL_FLAG_RESERVED1 0x0000000000000010ULL
#define POOL_FLAG_RAISE_ON_FAILURE 0x0000000000000020ULL
#define POOL_FLAG_NON_PAGED 0x0000000000000040ULL
#define POOL_FLAG_NON_PAGED_EXECUTE 0x0000000000000080ULL
#define POOL_FLAG_PAGED 0x0000000000000100ULL
#define POOL_FLAG_RESERVED2 0x0000000000000200ULL
#define POOL_FLAG_RESERVED3 0x0000000000000400ULL
#define POOL_FLAG_REQUIRED_END 0x0000000080000000ULL
#define POOL_FLAG_OPTIONAL_START 0x0000000100000000ULL
#define POOL_FLAG_SPECIAL_POOL 0x0000000100000000ULL
#define POOL_FLAG_OPTIONAL_END 0x8000000000000000ULL

typedef enum _POOL_EXTENDED_PARAMETER_TYPE {
  PoolExtendedParameterInvalidType = 0,
  PoolExtendedParameterPriority,
  PoolExtendedParameterSecurePool,
  PoolExtendedParameterNumaNode,
  PoolExtendedParameterMax
} POOL_EXTENDED_PARAMETER_TYPE;

typedef enum _EX_POOL_PRIORITY {
  LowPoolPriority,
  LowPoolPrioritySpecialPoolOverrun = 8,
  LowPoolPrioritySpecialPoolUnderrun = 9,
  NormalPoolPriority = 16,
  NormalPoolPrioritySpecialPoolOverrun = 24,
  NormalPoolPrioritySpecialPoolUnderrun = 25,
  HighPoolPriority = 32,
  HighPoolPrioritySpecialPoolOverrun = 40,
  HighPoolPrioritySpecialPoolUnderrun = 41
} EX_POOL_PRIORITY;

typedef struct _POOL_EXTENDED_PARAMETER {
  struct {
    ULONG64 Type : 8;
    ULONG64 Optional : 1;
    ULONG64 Reserved : 64 - 9;
  };
  union {
    ULONG64 Reserved2;
    PVOID Reserved3;
    EX_POOL_PRIORITY Priority;
    PVOID SecurePoolParams;
    ULONG PreferredNode;
  };
} POOL_EXTENDED_PARAMETER, *PPOOL_EXTENDED_PARAMETER;
typedef const POOL_EXTENDED_PARAMETER *PCPOOL_EXTENDED_PARAMETER;

/* Lookaside lists: fixed-size blocks recycled through a lock-free list before the pool. */
typedef PVOID(NTAPI *PALLOCATE_FUNCTION)(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
typedef VOID(NTAPI *PFREE_FUNCTION)(PVOID Buffer);

typedef struct _LOOKASIDE_LIST_EX LOOKASIDE_LIST_EX, *PLOOKASIDE_LIST_EX;
typedef PVOID(NTAPI *PALLOCATE_FUNCTION_EX)(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                            PLOOKASIDE_LIST_EX Lookaside);
typedef VOID(NTAPI *PFREE_FUNCTION_EX)(PVOID Buffer, PLOOKASIDE_LIST_EX Lookaside);
typedef PVOID NTAPI ALLOCATE_FUNCTION_EX(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
                                         PLOOKASIDE_LIST_EX Lookaside);
typedef VOID NTAPI FREE_FUNCTION_EX(PVOID Buffer, PLOOKASIDE_LIST_EX Lookaside);

/* The runtime state of one lookaside list. Every variant (paged, non-paged, EX) has the same
 * shape; the free list is a mutex-protected stack so that no 16-byte CAS is needed. */
typedef struct _UWSK_LOOKASIDE_CORE {
  PVOID FreeList;       /* singly linked through the first pointer of each free block */
  KSPIN_LOCK Lock;      /* guards FreeList and Depth */
  USHORT Depth;         /* blocks currently on FreeList */
  USHORT MaximumDepth;  /* blocks kept before frees go back to the allocator */
  ULONG TotalAllocates; /* statistics, as Windows keeps them */
  ULONG AllocateMisses;
  ULONG TotalFrees;
  ULONG FreeMisses;
  POOL_TYPE Type;
  ULONG Tag;
  ULONG Size;
  ULONG Flags;
  PALLOCATE_FUNCTION_EX AllocateEx;
  PFREE_FUNCTION_EX FreeEx;
  PALLOCATE_FUNCTION Allocate;
  PFREE_FUNCTION Free;
  LIST_ENTRY ListEntry; /* on the runtime's list of live lookaside lists */
  ULONG Magic;          /* set while initialised; checked by the runtime */
} UWSK_LOOKASIDE_CORE;

struct _LOOKASIDE_LIST_EX {
  UWSK_LOOKASIDE_CORE L;
};
typedef struct _NPAGED_LOOKASIDE_LIST {
  UWSK_LOOKASIDE_CORE L;
} NPAGED_LOOKASIDE_LIST, *PNPAGED_LOOKASIDE_LIST;
typedef struct _PAGED_LOOKASIDE_LIST {
  UWSK_LOOKASIDE_CORE L;
} PAGED_LOOKASIDE_LIST, *PPAGED_LOOKASIDE_LIST;

#define LOOKASIDE_MINIMUM_BLOCK_SIZE (sizeof(PVOID) * 2)
#define EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL 0x00000001UL
#define EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE 0x00000002UL
#define EX_MAXIMUM_LOOKASIDE_DEPTH_BASE 256
#define EX_MAXIMUM_LOOKASIDE_DEPTH_LIMIT 1024

UWSK_BEGIN_DECLS

/* Pool. */
NTKERNELAPI PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePool3(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag,
                                        PCPOOL_EXTENDED_PARAMETER ExtendedParameters,
                                        ULONG ExtendedParametersCount);
NTKERNELAPI PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes);
NTKERNELAPI PVOID NTAPI ExAllocatePoolZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePoolUninitialized(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                                    ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePoolQuotaZero(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                                ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                                   ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes,
                                                      ULONG Tag, EX_POOL_PRIORITY Priority);
NTKERNELAPI VOID NTAPI ExFreePoolWithTag(PVOID P, ULONG Tag);
NTKERNELAPI VOID NTAPI ExFreePool(PVOID P);
NTKERNELAPI VOID NTAPI ExFreePool2(PVOID P, ULONG Tag, PCPOOL_EXTENDED_PARAMETER ExtendedParameters,
                                   ULONG ExtendedParametersCount);

/* Lookaside lists. */
NTKERNELAPI NTSTATUS NTAPI ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX Lookaside,
                                                       PALLOCATE_FUNCTION_EX Allocate,
                                                       PFREE_FUNCTION_EX Free, POOL_TYPE PoolType,
                                                       ULONG Flags, SIZE_T Size, ULONG Tag,
                                                       USHORT Depth);
NTKERNELAPI VOID NTAPI ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX Lookaside);
NTKERNELAPI VOID NTAPI ExFlushLookasideListEx(PLOOKASIDE_LIST_EX Lookaside);
NTKERNELAPI PVOID NTAPI ExAllocateFromLookasideListEx(PLOOKASIDE_LIST_EX Lookaside);
NTKERNELAPI VOID NTAPI ExFreeToLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PVOID Entry);

NTKERNELAPI VOID NTAPI ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside,
                                                       PALLOCATE_FUNCTION Allocate,
                                                       PFREE_FUNCTION Free, ULONG Flags,
                                                       SIZE_T Size, ULONG Tag, USHORT Depth);
NTKERNELAPI VOID NTAPI ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside);
NTKERNELAPI PVOID NTAPI ExAllocateFromNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside);
NTKERNELAPI VOID NTAPI ExFreeToNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry);

NTKERNELAPI VOID NTAPI ExInitializePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside,
                                                      PALLOCATE_FUNCTION Allocate,
                                                      PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size,
                                                      ULONG Tag, USHORT Depth);
NTKERNELAPI VOID NTAPI ExDeletePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside);
NTKERNELAPI PVOID NTAPI ExAllocateFromPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside);
NTKERNELAPI VOID NTAPI ExFreeToPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry);

UWSK_END_DECLS

/* ---- ExInitializeDriverRuntime, POOL_NX_OPTIN and POOL_ZERO_DOWN_LEVEL_SUPPORT ------------- */

/* As in the WDK, these are per-driver: the variables are defined (weak, so once per driver) by
 * this header and set by the inline ExInitializeDriverRuntime, which Microsoft's samples call
 * first thing in DriverEntry.
 *   - With POOL_NX_OPTIN defined to 1 (and not POOL_NX_OPTOUT), NonPagedPool and
 *     NonPagedPoolCacheAligned name ExDefaultNonPagedPoolType, which
 *     ExInitializeDriverRuntime(DrvRtPoolNxOptIn) turns into NonPagedPoolNx (Windows 8 and later,
 *     as uwsk is); ExDefaultMdlProtection becomes MdlMappingNoExecute. All pool is non-executable
 *     heap memory here, so NX pool is honoured by construction; the pool records the type asked.
 *   - With POOL_ZERO_DOWN_LEVEL_SUPPORT, ExPoolZeroingNativelySupported says whether the system
 *     zeroes pool itself (ExAllocatePool2 and ExAllocatePoolZero exist): it does, so it is TRUE
 *     once ExInitializeDriverRuntime has run. */
#define DrvRtPoolNxOptIn 0x00000001

#ifndef UWSK_RUNTIME_BUILD
#if defined(POOL_NX_OPTIN) && POOL_NX_OPTIN && !(defined(POOL_NX_OPTOUT) && POOL_NX_OPTOUT)
#define UWSK_POOL_NX_OPTIN 1
POOL_TYPE ExDefaultNonPagedPoolType DECLSPEC_SELECTANY = NonPagedPoolExecute;
ULONG ExDefaultMdlProtection DECLSPEC_SELECTANY = 0;
#define NonPagedPool ExDefaultNonPagedPoolType
#define NonPagedPoolCacheAligned                                                                   \
  ((POOL_TYPE)(ExDefaultNonPagedPoolType | NonPagedPoolBaseCacheAligned))
#elif defined(POOL_NX_OPTOUT) && POOL_NX_OPTOUT
#define NonPagedPool NonPagedPoolExecute
#endif
#ifdef POOL_ZERO_DOWN_LEVEL_SUPPORT
BOOLEAN ExPoolZeroingNativelySupported DECLSPEC_SELECTANY = FALSE;
#endif

FORCEINLINE VOID ExInitializeDriverRuntime(ULONG RuntimeFlags) {
#ifdef UWSK_POOL_NX_OPTIN
  if ((RuntimeFlags & DrvRtPoolNxOptIn) != 0) {
    ExDefaultNonPagedPoolType = NonPagedPoolNx;
    ExDefaultMdlProtection = 0x40000000; /* MdlMappingNoExecute */
  }
#else
  (void)RuntimeFlags;
#endif
#ifdef POOL_ZERO_DOWN_LEVEL_SUPPORT
  ExPoolZeroingNativelySupported = TRUE;
#endif
}
#endif /* !UWSK_RUNTIME_BUILD */

#endif /* UWSK_WDK_KM_POOL_H */

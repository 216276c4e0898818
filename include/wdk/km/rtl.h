/*
 * km/rtl.h - uwsk: the run-time library: lists, memory, byte swaps, counted strings, generic
 * AVL tables, random numbers, time fields and the OS version.
 *
 * Strings that an Rtl function allocates (AllocateDestinationString == TRUE, RtlCreate/
 * Duplicate...) come from paged pool with the tag UWSK_RTL_STRING_TAG ('rtsU', shown as "Ustr"
 * in the leak report) and are released with RtlFree{Unicode,Ansi,UTF8}String. ANSI strings are
 * treated as UTF-8 (there is no ANSI code page here); malformed input is replaced by U+FFFD.
 * Case-insensitive operations fold with the simple Unicode upper-case mapping of the Basic
 * Multilingual Plane that the C library knows (towupper), as Windows' upcase table does.
 * RtlGetVersion reports Windows 10 version 2004, 10.0.19041, a workstation (NTDDI_WIN10_VB).
 */
#ifndef UWSK_WDK_KM_RTL_H
#define UWSK_WDK_KM_RTL_H

#include "../ntdef.h"
#include "types.h"
#include "dbg.h"

/* ---- Doubly linked lists --------------------------------------------------------------------- */

/* The list helpers check their neighbours as the current WDK does and fail fast (bug check
 * KERNEL_SECURITY_CHECK_FAILURE, parameter 1 FAST_FAIL_CORRUPT_LIST_ENTRY) on corruption. */
FORCEINLINE VOID FatalListEntryError(PVOID p1, PVOID p2, PVOID p3) {
  KeBugCheckEx(KERNEL_SECURITY_CHECK_FAILURE, FAST_FAIL_CORRUPT_LIST_ENTRY, (ULONG_PTR)p1,
               (ULONG_PTR)p2, (ULONG_PTR)p3);
}

FORCEINLINE VOID InitializeListHead(PLIST_ENTRY ListHead) {
  ListHead->Flink = ListHead->Blink = ListHead;
}

FORCEINLINE BOOLEAN IsListEmpty(const LIST_ENTRY *ListHead) {
  return (BOOLEAN)(ListHead->Flink == ListHead);
}

FORCEINLINE BOOLEAN RemoveEntryListUnsafe(PLIST_ENTRY Entry) {
  PLIST_ENTRY Blink = Entry->Blink;
  PLIST_ENTRY Flink = Entry->Flink;
  Blink->Flink = Flink;
  Flink->Blink = Blink;
  return (BOOLEAN)(Flink == Blink);
}

FORCEINLINE BOOLEAN RemoveEntryList(PLIST_ENTRY Entry) {
  PLIST_ENTRY Flink = Entry->Flink;
  PLIST_ENTRY Blink = Entry->Blink;
  if (Flink->Blink != Entry || Blink->Flink != Entry) {
    FatalListEntryError((PVOID)Blink, (PVOID)Entry, (PVOID)Flink);
  }
  Blink->Flink = Flink;
  Flink->Blink = Blink;
  return (BOOLEAN)(Flink == Blink);
}

FORCEINLINE PLIST_ENTRY RemoveHeadList(PLIST_ENTRY ListHead) {
  PLIST_ENTRY Entry = ListHead->Flink;
  PLIST_ENTRY Flink = Entry->Flink;
  if (Entry->Blink != ListHead || Flink->Blink != Entry) {
    FatalListEntryError((PVOID)ListHead, (PVOID)Entry, (PVOID)Flink);
  }
  ListHead->Flink = Flink;
  Flink->Blink = ListHead;
  return Entry;
}

FORCEINLINE PLIST_ENTRY RemoveTailList(PLIST_ENTRY ListHead) {
  PLIST_ENTRY Entry = ListHead->Blink;
  PLIST_ENTRY Blink = Entry->Blink;
  if (Entry->Flink != ListHead || Blink->Flink != Entry) {
    FatalListEntryError((PVOID)Blink, (PVOID)Entry, (PVOID)ListHead);
  }
  ListHead->Blink = Blink;
  Blink->Flink = ListHead;
  return Entry;
}

FORCEINLINE VOID InsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry) {
  PLIST_ENTRY Blink = ListHead->Blink;
  if (Blink->Flink != ListHead) {
    FatalListEntryError((PVOID)Blink, (PVOID)ListHead, (PVOID)Blink->Flink);
  }
  Entry->Flink = ListHead;
  Entry->Blink = Blink;
  Blink->Flink = Entry;
  ListHead->Blink = Entry;
}

FORCEINLINE VOID InsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY Entry) {
  PLIST_ENTRY Flink = ListHead->Flink;
  if (Flink->Blink != ListHead) {
    FatalListEntryError((PVOID)ListHead, (PVOID)Flink, (PVOID)Flink->Blink);
  }
  Entry->Flink = Flink;
  Entry->Blink = ListHead;
  Flink->Blink = Entry;
  ListHead->Flink = Entry;
}

/* Splices the list headed by ListToAppend (whose head entry becomes an ordinary element, as on
 * Windows: pass the first entry of a headless ring) onto the tail of ListHead. */
FORCEINLINE VOID AppendTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListToAppend) {
  PLIST_ENTRY ListEnd = ListHead->Blink;
  ListHead->Blink->Flink = ListToAppend;
  ListHead->Blink = ListToAppend->Blink;
  ListToAppend->Blink->Flink = ListHead;
  ListToAppend->Blink = ListEnd;
}

FORCEINLINE PSINGLE_LIST_ENTRY PopEntryList(PSINGLE_LIST_ENTRY ListHead) {
  PSINGLE_LIST_ENTRY FirstEntry = ListHead->Next;
  if (FirstEntry != NULL) {
    ListHead->Next = FirstEntry->Next;
  }
  return FirstEntry;
}

FORCEINLINE VOID PushEntryList(PSINGLE_LIST_ENTRY ListHead, PSINGLE_LIST_ENTRY Entry) {
  Entry->Next = ListHead->Next;
  ListHead->Next = Entry;
}

/* ---- Memory ---------------------------------------------------------------------------------- */

/* Windows drivers copy zero bytes from NULL freely; memcpy and friends do not allow NULL even
 * for zero lengths, so the copies skip empty ranges (and stay clean under UBSan). */
FORCEINLINE void uwsk_rtl_move_memory(void *destination, const void *source, SIZE_T length) {
  if (length != 0) {
    __builtin_memmove(destination, source, length);
  }
}
FORCEINLINE void uwsk_rtl_copy_memory(void *destination, const void *source, SIZE_T length) {
  if (length != 0) {
    __builtin_memcpy(destination, source, length);
  }
}
FORCEINLINE void uwsk_rtl_fill_memory(void *destination, SIZE_T length, int fill) {
  if (length != 0) {
    __builtin_memset(destination, fill, length);
  }
}
FORCEINLINE BOOLEAN uwsk_rtl_equal_memory(const void *a, const void *b, SIZE_T length) {
  return (BOOLEAN)(length == 0 || __builtin_memcmp(a, b, length) == 0);
}
#define RtlEqualMemory(Destination, Source, Length) uwsk_rtl_equal_memory((Destination), (Source), (Length))
#define RtlMoveMemory(Destination, Source, Length) uwsk_rtl_move_memory((Destination), (Source), (Length))
#define RtlCopyMemory(Destination, Source, Length) uwsk_rtl_copy_memory((Destination), (Source), (Length))
#define RtlFillMemory(Destination, Length, Fill) uwsk_rtl_fill_memory((Destination), (Length), (Fill))
#define RtlZeroMemory(Destination, Length) uwsk_rtl_fill_memory((Destination), (Length), 0)
#define RtlCopyBytes RtlCopyMemory
#define RtlZeroBytes RtlZeroMemory
#define RtlFillBytes RtlFillMemory
#define RtlCopyMemoryNonTemporal RtlCopyMemory
#define RtlFillMemoryUlong(Destination, Length, Pattern)                                           \
  do {                                                                                             \
    PULONG uwsk_fmu_d_ = (PULONG)(Destination);                                                    \
    SIZE_T uwsk_fmu_n_ = (SIZE_T)(Length) / sizeof(ULONG);                                         \
    while (uwsk_fmu_n_--) {                                                                        \
      *uwsk_fmu_d_++ = (ULONG)(Pattern);                                                           \
    }                                                                                              \
  } while (0)

/* Zeroes memory through volatile stores, so that the compiler cannot drop it. */
FORCEINLINE PVOID RtlSecureZeroMemory(PVOID ptr, SIZE_T cnt) {
  volatile char *vptr = (volatile char *)ptr;
  while (cnt != 0) {
    *vptr++ = 0;
    cnt--;
  }
  return ptr;
}

/* ---- Byte swaps ------------------------------------------------------------------------------ */

#define RtlUshortByteSwap(_x) ((USHORT)__builtin_bswap16((USHORT)(_x)))
#define RtlUlongByteSwap(_x) ((ULONG)__builtin_bswap32((ULONG)(_x)))
#define RtlUlonglongByteSwap(_x) ((ULONGLONG)__builtin_bswap64((ULONGLONG)(_x)))

/* ---- Strings --------------------------------------------------------------------------------- */

/* Pool tag of every string buffer an Rtl function allocates ("Ustr" in pool listings). */
#define UWSK_RTL_STRING_TAG 'rtsU'

#define RTL_DUPLICATE_UNICODE_STRING_NULL_TERMINATE 1
#define RTL_DUPLICATE_UNICODE_STRING_ALLOCATE_NULL_STRING 2

#define HASH_STRING_ALGORITHM_DEFAULT 0
#define HASH_STRING_ALGORITHM_X65599 1
#define HASH_STRING_ALGORITHM_INVALID 0xffffffff

FORCEINLINE VOID RtlInitEmptyUnicodeString(PUNICODE_STRING UnicodeString, PWCHAR Buffer,
                                           USHORT BufferSize) {
  UnicodeString->Length = 0;
  UnicodeString->MaximumLength = BufferSize;
  UnicodeString->Buffer = Buffer;
}

FORCEINLINE VOID RtlInitEmptyAnsiString(PANSI_STRING AnsiString, PCHAR Buffer, USHORT BufferSize) {
  AnsiString->Length = 0;
  AnsiString->MaximumLength = BufferSize;
  AnsiString->Buffer = Buffer;
}

UWSK_BEGIN_DECLS

/* Counted-string construction. The Init functions store the pointer (no copy); the *Ex forms
 * return STATUS_NAME_TOO_LONG instead of clamping an over-long source. */
NTSYSAPI VOID NTAPI RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString);
NTSYSAPI NTSTATUS NTAPI RtlInitUnicodeStringEx(PUNICODE_STRING DestinationString,
                                               PCWSTR SourceString);
NTSYSAPI VOID NTAPI RtlInitAnsiString(PANSI_STRING DestinationString, PCSZ SourceString);
NTSYSAPI NTSTATUS NTAPI RtlInitAnsiStringEx(PANSI_STRING DestinationString, PCSZ SourceString);
NTSYSAPI VOID NTAPI RtlInitString(PSTRING DestinationString, PCSZ SourceString);
NTSYSAPI NTSTATUS NTAPI RtlInitStringEx(PSTRING DestinationString, PCSZ SourceString);
NTSYSAPI VOID NTAPI RtlInitUTF8String(PUTF8_STRING DestinationString, PCSZ SourceString);
NTSYSAPI NTSTATUS NTAPI RtlInitUTF8StringEx(PUTF8_STRING DestinationString, PCSZ SourceString);
NTSYSAPI BOOLEAN NTAPI RtlCreateUnicodeString(PUNICODE_STRING DestinationString,
                                              PCWSTR SourceString);
NTSYSAPI NTSTATUS NTAPI RtlDuplicateUnicodeString(ULONG Flags, PCUNICODE_STRING StringIn,
                                                  PUNICODE_STRING StringOut);

/* Copy and append. */
NTSYSAPI VOID NTAPI RtlCopyUnicodeString(PUNICODE_STRING DestinationString,
                                         PCUNICODE_STRING SourceString);
NTSYSAPI VOID NTAPI RtlCopyString(PSTRING DestinationString, const STRING *SourceString);
NTSYSAPI NTSTATUS NTAPI RtlAppendUnicodeStringToString(PUNICODE_STRING Destination,
                                                       PCUNICODE_STRING Source);
NTSYSAPI NTSTATUS NTAPI RtlAppendUnicodeToString(PUNICODE_STRING Destination, PCWSTR Source);
NTSYSAPI NTSTATUS NTAPI RtlAppendStringToString(PSTRING Destination, const STRING *Source);

/* Comparison. */
NTSYSAPI LONG NTAPI RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                            BOOLEAN CaseInSensitive);
NTSYSAPI LONG NTAPI RtlCompareUnicodeStrings(PCWCH String1, SIZE_T String1Length, PCWCH String2,
                                             SIZE_T String2Length, BOOLEAN CaseInSensitive);
NTSYSAPI BOOLEAN NTAPI RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                             BOOLEAN CaseInSensitive);
NTSYSAPI BOOLEAN NTAPI RtlPrefixUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                              BOOLEAN CaseInSensitive);
NTSYSAPI LONG NTAPI RtlCompareString(const STRING *String1, const STRING *String2,
                                     BOOLEAN CaseInSensitive);
NTSYSAPI BOOLEAN NTAPI RtlEqualString(const STRING *String1, const STRING *String2,
                                      BOOLEAN CaseInSensitive);
NTSYSAPI BOOLEAN NTAPI RtlPrefixString(const STRING *String1, const STRING *String2,
                                       BOOLEAN CaseInSensitive);
NTSYSAPI NTSTATUS NTAPI RtlHashUnicodeString(PCUNICODE_STRING String, BOOLEAN CaseInSensitive,
                                             ULONG HashAlgorithm, PULONG HashValue);

/* Case. */
NTSYSAPI WCHAR NTAPI RtlUpcaseUnicodeChar(WCHAR SourceCharacter);
NTSYSAPI WCHAR NTAPI RtlDowncaseUnicodeChar(WCHAR SourceCharacter);
NTSYSAPI NTSTATUS NTAPI RtlUpcaseUnicodeString(PUNICODE_STRING DestinationString,
                                               PCUNICODE_STRING SourceString,
                                               BOOLEAN AllocateDestinationString);
NTSYSAPI NTSTATUS NTAPI RtlDowncaseUnicodeString(PUNICODE_STRING DestinationString,
                                                 PCUNICODE_STRING SourceString,
                                                 BOOLEAN AllocateDestinationString);
NTSYSAPI CHAR NTAPI RtlUpperChar(CHAR Character);
NTSYSAPI VOID NTAPI RtlUpperString(PSTRING DestinationString, const STRING *SourceString);

/* Conversion between UTF-16 and ANSI (UTF-8 here) or UTF-8. */
NTSYSAPI NTSTATUS NTAPI RtlAnsiStringToUnicodeString(PUNICODE_STRING DestinationString,
                                                     PCANSI_STRING SourceString,
                                                     BOOLEAN AllocateDestinationString);
NTSYSAPI NTSTATUS NTAPI RtlUnicodeStringToAnsiString(PANSI_STRING DestinationString,
                                                     PCUNICODE_STRING SourceString,
                                                     BOOLEAN AllocateDestinationString);
NTSYSAPI NTSTATUS NTAPI RtlUTF8StringToUnicodeString(PUNICODE_STRING DestinationString,
                                                     PCUTF8_STRING SourceString,
                                                     BOOLEAN AllocateDestinationString);
NTSYSAPI NTSTATUS NTAPI RtlUnicodeStringToUTF8String(PUTF8_STRING DestinationString,
                                                     PCUNICODE_STRING SourceString,
                                                     BOOLEAN AllocateDestinationString);
NTSYSAPI NTSTATUS NTAPI RtlUTF8ToUnicodeN(PWSTR UnicodeStringDestination,
                                          ULONG UnicodeStringMaxByteCount,
                                          PULONG UnicodeStringActualByteCount,
                                          PCCH UTF8StringSource, ULONG UTF8StringByteCount);
NTSYSAPI NTSTATUS NTAPI RtlUnicodeToUTF8N(PCHAR UTF8StringDestination, ULONG UTF8StringMaxByteCount,
                                          PULONG UTF8StringActualByteCount,
                                          PCWCH UnicodeStringSource, ULONG UnicodeStringByteCount);
/* Buffer sizes (bytes, including the terminator) the conversions need. */
NTSYSAPI ULONG NTAPI RtlxAnsiStringToUnicodeSize(PCANSI_STRING AnsiString);
NTSYSAPI ULONG NTAPI RtlxUnicodeStringToAnsiSize(PCUNICODE_STRING UnicodeString);
#define RtlAnsiStringToUnicodeSize(STRING) RtlxAnsiStringToUnicodeSize(STRING)
#define RtlUnicodeStringToAnsiSize(STRING) RtlxUnicodeStringToAnsiSize(STRING)

/* Release a buffer an Rtl function allocated (NULL Buffer is allowed). */
NTSYSAPI VOID NTAPI RtlFreeUnicodeString(PUNICODE_STRING UnicodeString);
NTSYSAPI VOID NTAPI RtlFreeAnsiString(PANSI_STRING AnsiString);
NTSYSAPI VOID NTAPI RtlFreeUTF8String(PUTF8_STRING Utf8String);

/* Numbers. Base 0 means 10 (to text) or "detect 0x/0o/0b prefix" (from text). */
NTSYSAPI NTSTATUS NTAPI RtlIntegerToUnicodeString(ULONG Value, ULONG Base, PUNICODE_STRING String);
NTSYSAPI NTSTATUS NTAPI RtlInt64ToUnicodeString(ULONGLONG Value, ULONG Base,
                                                PUNICODE_STRING String);
NTSYSAPI NTSTATUS NTAPI RtlIntegerToChar(ULONG Value, ULONG Base, LONG OutputLength, PSZ String);
NTSYSAPI NTSTATUS NTAPI RtlUnicodeStringToInteger(PCUNICODE_STRING String, ULONG Base,
                                                  PULONG Value);
NTSYSAPI NTSTATUS NTAPI RtlCharToInteger(PCSZ String, ULONG Base, PULONG Value);

/* GUID text: "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}". RtlStringFromGUID allocates. */
NTSYSAPI NTSTATUS NTAPI RtlStringFromGUID(REFGUID Guid, PUNICODE_STRING GuidString);
NTSYSAPI NTSTATUS NTAPI RtlGUIDFromString(PCUNICODE_STRING GuidString, GUID *Guid);

/* ---- Memory functions ------------------------------------------------------------------------ */

/* Number of leading bytes that are equal. */
NTSYSAPI SIZE_T NTAPI RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length);
/* Number of leading bytes (a multiple of 4) that match Pattern as ULONGs. */
NTSYSAPI SIZE_T NTAPI RtlCompareMemoryUlong(PVOID Source, SIZE_T Length, ULONG Pattern);

UWSK_END_DECLS

/* ---- Generic AVL tables ---------------------------------------------------------------------- */

/* Each element lives in one allocation from the table's AllocateRoutine: an RTL_BALANCED_LINKS
 * node header followed by the caller's data, so the routine is asked for
 * sizeof(RTL_BALANCED_LINKS) + BufferSize bytes and the functions return pointers to the data
 * just past the header. FreeRoutine receives the node pointer AllocateRoutine returned. The tree
 * root is BalancedRoot.RightChild; BalancedRoot.Parent points to BalancedRoot itself. */
typedef enum _TABLE_SEARCH_RESULT {
  TableEmptyTree,
  TableFoundNode,
  TableInsertAsLeft,
  TableInsertAsRight
} TABLE_SEARCH_RESULT;

typedef enum _RTL_GENERIC_COMPARE_RESULTS {
  GenericLessThan,
  GenericGreaterThan,
  GenericEqual
} RTL_GENERIC_COMPARE_RESULTS;

typedef struct _RTL_BALANCED_LINKS {
  struct _RTL_BALANCED_LINKS *Parent;
  struct _RTL_BALANCED_LINKS *LeftChild;
  struct _RTL_BALANCED_LINKS *RightChild;
  CHAR Balance; /* -1 left-heavy, 0 balanced, +1 right-heavy */
  UCHAR Reserved[3];
} RTL_BALANCED_LINKS, *PRTL_BALANCED_LINKS;

struct _RTL_AVL_TABLE;

typedef RTL_GENERIC_COMPARE_RESULTS NTAPI RTL_AVL_COMPARE_ROUTINE(struct _RTL_AVL_TABLE *Table,
                                                                  PVOID FirstStruct,
                                                                  PVOID SecondStruct);
typedef RTL_AVL_COMPARE_ROUTINE *PRTL_AVL_COMPARE_ROUTINE;
typedef PVOID NTAPI RTL_AVL_ALLOCATE_ROUTINE(struct _RTL_AVL_TABLE *Table, CLONG ByteSize);
typedef RTL_AVL_ALLOCATE_ROUTINE *PRTL_AVL_ALLOCATE_ROUTINE;
typedef VOID NTAPI RTL_AVL_FREE_ROUTINE(struct _RTL_AVL_TABLE *Table, PVOID Buffer);
typedef RTL_AVL_FREE_ROUTINE *PRTL_AVL_FREE_ROUTINE;
typedef NTSTATUS NTAPI RTL_AVL_MATCH_FUNCTION(struct _RTL_AVL_TABLE *Table, PVOID UserData,
                                              PVOID MatchData);
typedef RTL_AVL_MATCH_FUNCTION *PRTL_AVL_MATCH_FUNCTION;

typedef struct _RTL_AVL_TABLE {
  RTL_BALANCED_LINKS BalancedRoot;
  PVOID OrderedPointer;      /* node of the last RtlGetElementGenericTableAvl answer */
  ULONG WhichOrderedElement; /* its 1-based index, 0 when unknown */
  ULONG NumberGenericTableElements;
  ULONG DepthOfTree;
  PRTL_BALANCED_LINKS RestartKey; /* cursor of RtlEnumerateGenericTableAvl */
  ULONG DeleteCount;
  PRTL_AVL_COMPARE_ROUTINE CompareRoutine;
  PRTL_AVL_ALLOCATE_ROUTINE AllocateRoutine;
  PRTL_AVL_FREE_ROUTINE FreeRoutine;
  PVOID TableContext;
} RTL_AVL_TABLE, *PRTL_AVL_TABLE;

UWSK_BEGIN_DECLS

NTSYSAPI VOID NTAPI RtlInitializeGenericTableAvl(PRTL_AVL_TABLE Table,
                                                 PRTL_AVL_COMPARE_ROUTINE CompareRoutine,
                                                 PRTL_AVL_ALLOCATE_ROUTINE AllocateRoutine,
                                                 PRTL_AVL_FREE_ROUTINE FreeRoutine,
                                                 PVOID TableContext);
NTSYSAPI PVOID NTAPI RtlInsertElementGenericTableAvl(PRTL_AVL_TABLE Table, PVOID Buffer,
                                                     CLONG BufferSize, PBOOLEAN NewElement);
NTSYSAPI PVOID NTAPI RtlInsertElementGenericTableFullAvl(PRTL_AVL_TABLE Table, PVOID Buffer,
                                                         CLONG BufferSize, PBOOLEAN NewElement,
                                                         PVOID NodeOrParent,
                                                         TABLE_SEARCH_RESULT SearchResult);
NTSYSAPI BOOLEAN NTAPI RtlDeleteElementGenericTableAvl(PRTL_AVL_TABLE Table, PVOID Buffer);
NTSYSAPI VOID NTAPI RtlDeleteElementGenericTableAvlEx(PRTL_AVL_TABLE Table, PVOID NodeOrParent);
NTSYSAPI PVOID NTAPI RtlLookupElementGenericTableAvl(PRTL_AVL_TABLE Table, PVOID Buffer);
NTSYSAPI PVOID NTAPI RtlLookupElementGenericTableFullAvl(PRTL_AVL_TABLE Table, PVOID Buffer,
                                                         PVOID *NodeOrParent,
                                                         TABLE_SEARCH_RESULT *SearchResult);
NTSYSAPI PVOID NTAPI RtlLookupFirstMatchingElementGenericTableAvl(PRTL_AVL_TABLE Table,
                                                                  PVOID Buffer, PVOID *RestartKey);
NTSYSAPI PVOID NTAPI RtlEnumerateGenericTableAvl(PRTL_AVL_TABLE Table, BOOLEAN Restart);
NTSYSAPI PVOID NTAPI RtlEnumerateGenericTableWithoutSplayingAvl(PRTL_AVL_TABLE Table,
                                                                PVOID *RestartKey);
NTSYSAPI PVOID NTAPI RtlGetElementGenericTableAvl(PRTL_AVL_TABLE Table, ULONG I);
NTSYSAPI ULONG NTAPI RtlNumberGenericTableElementsAvl(PRTL_AVL_TABLE Table);
NTSYSAPI BOOLEAN NTAPI RtlIsGenericTableEmptyAvl(PRTL_AVL_TABLE Table);

UWSK_END_DECLS

/* ---- Random numbers, time, version ----------------------------------------------------------- */

typedef struct _TIME_FIELDS {
  CSHORT Year;         /* 1601... */
  CSHORT Month;        /* 1..12 */
  CSHORT Day;          /* 1..31 */
  CSHORT Hour;         /* 0..23 */
  CSHORT Minute;       /* 0..59 */
  CSHORT Second;       /* 0..59 */
  CSHORT Milliseconds; /* 0..999 */
  CSHORT Weekday;      /* 0..6 = Sunday..Saturday */
} TIME_FIELDS, *PTIME_FIELDS;

typedef struct _OSVERSIONINFOW {
  ULONG dwOSVersionInfoSize;
  ULONG dwMajorVersion;
  ULONG dwMinorVersion;
  ULONG dwBuildNumber;
  ULONG dwPlatformId;
  WCHAR szCSDVersion[128];
} OSVERSIONINFOW, *POSVERSIONINFOW, *LPOSVERSIONINFOW, RTL_OSVERSIONINFOW, *PRTL_OSVERSIONINFOW;

typedef struct _OSVERSIONINFOEXW {
  ULONG dwOSVersionInfoSize;
  ULONG dwMajorVersion;
  ULONG dwMinorVersion;
  ULONG dwBuildNumber;
  ULONG dwPlatformId;
  WCHAR szCSDVersion[128];
  USHORT wServicePackMajor;
  USHORT wServicePackMinor;
  USHORT wSuiteMask;
  UCHAR wProductType;
  UCHAR wReserved;
} OSVERSIONINFOEXW, *POSVERSIONINFOEXW, *LPOSVERSIONINFOEXW, RTL_OSVERSIONINFOEXW,
    *PRTL_OSVERSIONINFOEXW;

#define VER_PLATFORM_WIN32_NT 2
#define VER_NT_WORKSTATION 0x0000001
#define VER_NT_DOMAIN_CONTROLLER 0x0000002
#define VER_NT_SERVER 0x0000003

UWSK_BEGIN_DECLS

/* Pseudo-random numbers in [0, MAXLONG - 1]; *Seed is updated. */
NTSYSAPI ULONG NTAPI RtlRandom(PULONG Seed);
NTSYSAPI ULONG NTAPI RtlRandomEx(PULONG Seed);

/* System time (100 ns units since 1601-01-01 UTC) <-> calendar fields. */
NTSYSAPI VOID NTAPI RtlTimeToTimeFields(PLARGE_INTEGER Time, PTIME_FIELDS TimeFields);
NTSYSAPI BOOLEAN NTAPI RtlTimeFieldsToTime(PTIME_FIELDS TimeFields, PLARGE_INTEGER Time);

/* Fills an RTL_OSVERSIONINFOW or RTL_OSVERSIONINFOEXW (chosen by dwOSVersionInfoSize). */
NTSYSAPI NTSTATUS NTAPI RtlGetVersion(PRTL_OSVERSIONINFOW lpVersionInformation);
NTSYSAPI BOOLEAN NTAPI RtlIsNtDdiVersionAvailable(ULONG Version);

UWSK_END_DECLS

#endif /* UWSK_WDK_KM_RTL_H */

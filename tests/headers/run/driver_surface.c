/*
 * driver_surface.c - what a C driver translation unit gets from the WDK headers alone, built with
 * the driver flags (-fshort-wchar, ...) and run against libuwsk.
 *
 * It includes no C library header before the WDK headers: strlen, strstr, memcpy and isdigit come
 * from them, as with the WDK. <wchar.h> comes afterwards, as drivers write it, and must neither
 * conflict nor bring glibc's 4-byte wide functions back (the test also checks the binary's
 * undefined symbols). Every check that fails prints a line; the exit status is the failure count.
 */
#define POOL_NX_OPTIN 1
#define POOL_ZERO_DOWN_LEVEL_SUPPORT 1
#include <ntddk.h>
#include <ntstrsafe.h>
#include <wsk.h>
#include <intrin.h>
#include <wchar.h>

/* Version constants have their Windows values, so that #if means what it means with the WDK. */
#if !defined(NTDDI_WIN10_RS2) || NTDDI_WIN10_RS2 != 0x0A000003
#error "NTDDI_WIN10_RS2 is missing or wrong"
#endif
#if NTDDI_VERSION < NTDDI_WIN10_RS2 || NTDDI_VERSION != NTDDI_WIN10_VB
#error "the default NTDDI_VERSION is Windows 10 2004"
#endif
#if NTDDI_WIN11_GE != 0x0A000010 || _WIN32_WINNT != _WIN32_WINNT_WIN10
#error "version constants"
#endif

static int failures;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      DbgPrint("driver_surface.c:%d: check failed: %s\n", __LINE__, #cond);                        \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

/* Anonymous members through the WDK's names for them. */
typedef struct _SAMPLE_HEADER {
  ULONG Kind;
  union {
    ULONG AsUlong;
    struct {
      USHORT Low;
      USHORT High;
    } DUMMYSTRUCTNAME;
  } DUMMYUNIONNAME;
  union {
    PVOID Pointer;
    ULONG_PTR Value;
  } DUMMYUNIONNAME2;
} SAMPLE_HEADER;

/* SAL 2, driver and SAL 1 annotations. */
_IRQL_requires_max_(PASSIVE_LEVEL) _Must_inspect_result_ _Success_(return >= 0) static NTSTATUS
    annotated(_In_reads_bytes_(Length) const VOID *Buffer, _In_ ULONG Length,
              _Outptr_result_nullonfailure_ PVOID *Out,
              _Out_writes_to_opt_(Capacity, *Written) PWCHAR Text, _In_ SIZE_T Capacity,
              _Out_opt_ SIZE_T *Written, __out_data_source(NETWORK) PULONG Bytes,
              __in_ecount(Length) const UCHAR *Again, __inout_opt PVOID Context) {
  PAGED_CODE() NT_ASSERT(Length != 0);
  UNREFERENCED_PARAMETER(Text);
  UNREFERENCED_PARAMETER(Capacity);
  UNREFERENCED_PARAMETER(Context);
  UNREFERENCED_PARAMETER(Again);
  if (Written != NULL) {
    *Written = 0;
  }
  *Out = (PVOID)Buffer;
  *Bytes = Length;
  return STATUS_SUCCESS;
}

_Function_class_(KSTART_ROUTINE) _IRQL_requires_same_ static VOID NTAPI
    thread_routine(_In_ PVOID Context) {
  *(LONG *)Context = 7;
}

static void c_library_without_includes(void) {
  char text[32];
  const char *source = "kernel 42";
  CHECK(strlen(source) == 9);
  CHECK(strstr(source, "42") == source + 7);
  memcpy(text, source, 10);
  CHECK(memcmp(text, "kernel 42", 10) == 0);
  CHECK(isdigit((unsigned char)text[7]) && !isdigit((unsigned char)text[0]));
  CHECK(_countof(text) == 32);
}

static void wide_strings(void) {
  WCHAR buf[64];
  WCHAR *end = NULL;
  UNICODE_STRING name = RTL_CONSTANT_STRING(L"counted");
  CHECK(wcslen(L"hello") == 5);
  CHECK(wcslen(L"h\u00e9llo") == 5);
  CHECK(wcsnlen(L"hello", 2) == 2);
  CHECK(wcscpy(buf, L"ab") == buf && wcscat(buf, L"cd") == buf && wcscmp(buf, L"abcd") == 0);
  CHECK(wcsncmp(buf, L"abXX", 2) == 0 && wcscmp(buf, L"abce") < 0);
  CHECK(wcschr(buf, L'c') == buf + 2 && wcsrchr(L"a.b.c", L'.') != NULL);
  CHECK(wcsstr(buf, L"bc") == buf + 1 && wcsstr(buf, L"x") == NULL);
  CHECK(wcsspn(buf, L"ba") == 2 && wcscspn(buf, L"d") == 3 && wcspbrk(buf, L"dc") == buf + 2);
  CHECK(wmemchr(buf, L'd', 4) == buf + 3 && wmemcmp(buf, L"abcd", 4) == 0);
  CHECK(wcstol(L"  -42z", &end, 10) == -42 && *end == L'z');
  CHECK(wcstoul(L"ff", NULL, 16) == 255);
  CHECK(towupper(L'q') == L'Q' && towlower(L'Q') == L'q');
  CHECK(_wcsicmp(L"NetBIOS", L"netbios") == 0 && _wcsnicmp(L"ABx", L"aby", 2) == 0);
  CHECK(_stricmp("Kernel", "KERNEL") == 0 && _strnicmp("abc", "ABD", 2) == 0);

  CHECK(swprintf(buf, _countof(buf), L"%ls|%ws|%wZ|%d|%S", L"a", L"b", &name, 5, "n") == 15);
  CHECK(wcscmp(buf, L"a|b|counted|5|n") == 0);
  CHECK(swprintf(buf, _countof(buf), L"[%5.2ls]", L"wxyz") == 7 && wcscmp(buf, L"[   wx]") == 0);
  CHECK(_snwprintf(buf, 3, L"%ls", L"abcdef") == -1 && buf[2] == L'c');
  CHECK(swprintf_s(buf, 4, L"%ls", L"toolong") == -1 && buf[0] == 0);
  CHECK(wcscpy_s(buf, 3, L"abc") == ERANGE && buf[0] == 0);
  CHECK(wcsncpy_s(buf, 3, L"abc", _TRUNCATE) == STRUNCATE && wcscmp(buf, L"ab") == 0);
  CHECK(RtlStringCchPrintfW(buf, _countof(buf), L"%ws", L"strsafe") == STATUS_SUCCESS);
  CHECK(wcslen(buf) == 7);
}

static void narrow_printf(void) {
  char text[32];
  CHECK(sprintf(text, "%ls-%ws-%ld", L"wide", L"w", (LONG)-1) == 9);
  CHECK(strcmp(text, "wide-w--1") == 0);
  CHECK(snprintf(text, 4, "%ws", L"abcdef") == 6 && strcmp(text, "abc") == 0);
  CHECK(_snprintf(text, 3, "%s", "abcdef") == -1 && text[2] == 'c');
  CHECK(strcpy_s(text, 4, "abcd") == ERANGE && text[0] == 0);
  CHECK(sprintf_s(text, sizeof text, "%I64d", (LONGLONG)-12345678901LL) == 12);
  CHECK(_snprintf_s(text, 5, _TRUNCATE, "%s", "abcdefg") == -1 && strcmp(text, "abcd") == 0);
  CHECK(memcpy_s(text, 2, "xyz", 3) == ERANGE && text[0] == 0 && text[1] == 0);
}

static void intrinsics(void) {
  ULONG index = 99;
  unsigned long wide_index = 99;
  LONG volatile counter = 0;
  LONG64 volatile counter64 = 0;
  PVOID volatile slot = NULL;
  LONG bits[2] = {0, 0};
  ULONG64 first = __rdtsc();
  __nop();
  CHECK(_BitScanForward(&index, 0x10) && index == 4);
  CHECK(_BitScanReverse(&index, 0x80000001u) && index == 31);
  CHECK(!_BitScanForward(&index, 0) && index == 31);
  CHECK(_BitScanForward(&wide_index, 0x100) && wide_index == 8);
  CHECK(_BitScanReverse64(&index, 0x8000000000000000ULL) && index == 63);
  CHECK(_BitScanForward64(&wide_index, 0x100000000ULL) && wide_index == 32);
  CHECK(_byteswap_ushort(0x1234) == 0x3412);
  CHECK(_byteswap_ulong(0x12345678u) == 0x78563412u);
  CHECK(_byteswap_uint64(0x0102030405060708ULL) == 0x0807060504030201ULL);
  CHECK(_rotl(0x80000001u, 1) == 3u && _rotr(3u, 1) == 0x80000001u);
  CHECK(_rotl64(0x8000000000000001ULL, 1) == 3ULL && _rotr64(3ULL, 1) == 0x8000000000000001ULL);
  CHECK(_lrotl(0x80000000ul, 1) == 1ul); /* an MSVC unsigned long is 32 bits */
  CHECK(__popcnt(0xF0u) == 4 && __popcnt64(0xFFFFFFFFFFULL) == 40 && __popcnt16(0x0101) == 2);
  CHECK(__lzcnt(1) == 31 && __lzcnt(0) == 32 && __lzcnt64(0) == 64);
  CHECK(_bittestandset(bits, 33) == 0 && _bittest(bits, 33) == 1 && bits[1] == 2);
  CHECK(_InterlockedIncrement(&counter) == 1 && _InterlockedDecrement(&counter) == 0);
  CHECK(_InterlockedExchange(&counter, 5) == 0 && _InterlockedCompareExchange(&counter, 9, 5) == 5);
  CHECK(_InterlockedExchangeAdd(&counter, 1) == 9 && _InterlockedAnd(&counter, 8) == 10);
  CHECK(_InterlockedOr(&counter, 1) == 8 && _InterlockedXor(&counter, 9) == 9 && counter == 0);
  CHECK(_InterlockedIncrement64(&counter64) == 1 && _InterlockedExchange64(&counter64, 7) == 1);
  CHECK(_InterlockedCompareExchange64(&counter64, 8, 7) == 7);
  CHECK(_InterlockedExchangePointer(&slot, (PVOID)&index) == NULL && slot == &index);
  CHECK(_InterlockedCompareExchangePointer(&slot, NULL, (PVOID)&index) == &index);
  CHECK(_ReturnAddress() != NULL);
  _mm_pause();
  YieldProcessor();
  CHECK(__rdtsc() >= first);
}

static void kernel_pieces(void) {
  SAMPLE_HEADER header;
  PVOID out = NULL;
  ULONG bytes = 0;
  SIZE_T written = 1;
  UCHAR data[4] = {1, 2, 3, 4};
  PVOID block;
  LONG ran = 0;
  HANDLE thread = NULL;
  char address[INET6_ADDRSTRLEN];

  header.AsUlong = 0;
  header.Low = 0x1234;
  header.Pointer = NULL;
  CHECK(header.AsUlong == 0x1234 && header.Value == 0);
  CHECK(annotated(data, sizeof data, &out, NULL, 0, &written, &bytes, data, NULL) ==
        STATUS_SUCCESS);
  CHECK(out == data && bytes == 4 && written == 0);

  ExInitializeDriverRuntime(DrvRtPoolNxOptIn);
  CHECK(NonPagedPool == NonPagedPoolNx && ExDefaultMdlProtection == MdlMappingNoExecute);
  CHECK(ExPoolZeroingNativelySupported);
  block = ExAllocatePoolZero(NonPagedPool, 64, 'tsTU');
  CHECK(block != NULL && ((UCHAR *)block)[63] == 0);
  if (block != NULL) {
    ExFreePoolWithTag(block, 'tsTU');
  }

  CHECK(PsInitialSystemProcess == PsGetCurrentProcess());
  CHECK(PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, thread_routine, &ran) ==
        STATUS_SUCCESS);
  CHECK(ZwWaitForSingleObject(thread, FALSE, NULL) == STATUS_SUCCESS && ran == 7);
  CHECK(ZwClose(thread) == STATUS_SUCCESS);

  CHECK(INET_ADDRSTRLEN == 22 && INET6_ADDRSTRLEN == 65 && sizeof address == 65);
  CHECK(AI_EXTENDED == 0x80000000u && AI_RETURN_TTL == 0x80 && NI_NUMERICSERV == 0x08);
}

int main(void) {
  c_library_without_includes();
  wide_strings();
  narrow_printf();
  intrinsics();
  kernel_pieces();
  DbgPrint("driver_surface.c: %d failure(s)\n", failures);
  return failures;
}

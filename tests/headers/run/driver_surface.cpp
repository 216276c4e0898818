// driver_surface.cpp - the C++ form of driver_surface.c: standard C++ headers first (as C++
// drivers include them), the WDK headers, then <cwchar> again. The renamed wide functions must
// hold for std:: names and for the const and non-const overloads C++ declares.
#include <cstdint>
#include <cwchar>
#include <string>

#include <ntddk.h>
#include <ntstrsafe.h>
#include <intrin.h>

#include <cwchar>
#include <cwctype>

#if NTDDI_VERSION < NTDDI_WIN10_RS2 || NTDDI_WIN10_RS5 != 0x0A000006
#error "version constants"
#endif

static int failures;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      DbgPrint("driver_surface.cpp:%d: check failed: %s\n", __LINE__, #cond);                      \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

EXTERN_C_START
typedef struct _WITH_UNION {
  union {
    ULONG Whole;
    struct {
      UCHAR A, B, C, D;
    } DUMMYSTRUCTNAME;
  } DUMMYUNIONNAME;
} WITH_UNION;
_IRQL_requires_max_(DISPATCH_LEVEL) _Must_inspect_result_ NTSTATUS
    uwsk_surface_helper(_In_reads_bytes_(Length) const VOID *Buffer, _In_ ULONG Length,
                        _Outptr_result_nullonfailure_ PVOID *Out);
EXTERN_C_END

_Use_decl_annotations_ NTSTATUS uwsk_surface_helper(const VOID *Buffer, ULONG Length, PVOID *Out) {
  PAGED_CODE() NT_ASSERT(Length > 0);
  *Out = const_cast<PVOID>(Buffer);
  return STATUS_SUCCESS;
}

int main() {
  WCHAR buf[32] = L"abcabc";
  const WCHAR *cbuf = buf;
  WCHAR *found = wcschr(buf, L'c');
  const WCHAR *cfound = wcschr(cbuf, L'c');
  CHECK(found == buf + 2 && cfound == buf + 2);
  CHECK(std::wcsrchr(buf, L'a') == buf + 3 && std::wcsstr(cbuf, L"ca") == buf + 2);
  CHECK(std::wcspbrk(buf, L"cb") == buf + 1 && std::wmemchr(buf, L'b', 6) == buf + 1);
  CHECK(std::wcslen(L"hello") == 5 && wcslen(L"\u00e9t\u00e9") == 3);
  CHECK(std::wcscmp(L"a", L"b") < 0 && std::wcsncmp(L"ab", L"ac", 1) == 0);
  CHECK(std::wcstol(L"0x10", nullptr, 0) == 16 && std::towupper(L'x') == L'X');
  CHECK(std::swprintf(buf, 32, L"%ws=%d", L"k", 3) == 3 && std::wcscmp(buf, L"k=3") == 0);
  CHECK(_snwprintf(buf, 32, L"%ls", L"x") == 1 && _wcsicmp(buf, L"X") == 0);
  char narrow[16];
  CHECK(std::snprintf(narrow, sizeof narrow, "%ls", L"wide") == 4 && strcmp(narrow, "wide") == 0);
  CHECK(strcpy_s(narrow, 2, "ab") == ERANGE && narrow[0] == 0);

  std::u16string u16(u"utf-16");
  CHECK(wcslen(reinterpret_cast<const WCHAR *>(u16.c_str())) == 6);

  unsigned long index = 0;
  ULONG index32 = 0;
  CHECK(_BitScanForward(&index, 0x8) && index == 3);
  CHECK(_BitScanReverse(&index32, 0x8) && index32 == 3);
  long flags = 0;
  CHECK(_bittestandset(&flags, 40) == 0 && flags == (1L << 40));
  volatile long counter = 0;
  CHECK(_InterlockedIncrement(&counter) == 1);
  CHECK(_byteswap_ulong(1) == 0x01000000u && __popcnt64(3) == 2 && _rotl(1u, 31) == 0x80000000u);

  WITH_UNION u;
  u.Whole = 0;
  u.A = 1;
  CHECK(u.Whole == 1);
  PVOID out = nullptr;
  CHECK(uwsk_surface_helper(&u, sizeof u, &out) == STATUS_SUCCESS && out == &u);
  CHECK(_countof(buf) == 32 && isdigit('7') && strlen("abc") == 3);

  DbgPrint("driver_surface.cpp: %d failure(s)\n", failures);
  return failures;
}

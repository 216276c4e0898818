/*
 * public_drivers.c - the constructs public WSK drivers rely on, written for uwsk's tests: built
 * with the driver flags as C (by GCC, and by Clang when installed), linked against libuwsk and
 * run. Like those drivers it includes only <ntddk.h> and <wsk.h> before using the WDK surface.
 *
 * Covered: structured exception handling keywords (prefixed and, in C, unprefixed), a logging
 * macro whose variable part is empty, DECLARE_HANDLE, the sized types' limits, GUIDs declared by
 * one DEFINE_GUID and defined by another after initguid.h, ntintsafe.h, NDIS status codes,
 * address conversions reached through wsk.h, and __int64 pointers used as LONG64 / SIZE_T ones.
 * Every failed check prints a line; the exit status is the failure count.
 */
#include <ntddk.h>
#include <wsk.h>
#include <ntintsafe.h>

static int failures;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      DbgPrint("public_drivers.c:%d: check failed: %s\n", __LINE__, #cond);                        \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

/* A driver's logging macros: the format alone leaves `DbgPrint(f, )` and `DbgPrintEx(.., f, )`. */
#define SAMPLE_LOG(Format, ...) DbgPrint((Format), __VA_ARGS__)
#define SAMPLE_TRACE(Format, ...)                                                                  \
  KdPrintEx((DPFLTR_IHVNETWORK_ID, DPFLTR_INFO_LEVEL, Format, __VA_ARGS__))

/* A header declares the GUID; one unit defines it after initguid.h. */
DEFINE_GUID(SAMPLE_PROVIDER_GUID, 0x8d1b2a3c, 0x1f2e, 0x4a5b, 0x91, 0x82, 0x73, 0x64, 0x55, 0x46,
            0x37, 0x28);
#include <initguid.h>
DEFINE_GUID(SAMPLE_PROVIDER_GUID, 0x8d1b2a3c, 0x1f2e, 0x4a5b, 0x91, 0x82, 0x73, 0x64, 0x55, 0x46,
            0x37, 0x28);

DECLARE_HANDLE(SAMPLE_HANDLE);

static int exception_keywords(int leave_early) {
  int steps = 0;
  __try {
    ++steps;
    if (leave_early) {
      __leave;
    }
    ++steps;
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    steps = -100; /* no exception is ever raised */
  }
  __try {
    steps += 10;
  } __finally {
    steps += 100;
  }
  /* Unprefixed, as C drivers may write them (win-net-test's wskclient does). */
  try {
    steps += 1000;
  }
  except(GetExceptionCode() == STATUS_ACCESS_VIOLATION ? EXCEPTION_EXECUTE_HANDLER
                                                       : EXCEPTION_CONTINUE_SEARCH) {
    steps = -200;
  }
  return steps;
}

static void logging(void) {
  CHECK(SAMPLE_LOG("public_drivers.c: a message without arguments\n") == STATUS_SUCCESS);
  CHECK(SAMPLE_LOG("public_drivers.c: %s\n", "a message with one") == STATUS_SUCCESS);
  SAMPLE_TRACE("public_drivers.c: a trace without arguments\n");
  SAMPLE_TRACE("public_drivers.c: a trace with %d\n", 1);
  KdPrint(("public_drivers.c: KdPrint %d\n", 2));
}

static void types_and_limits(void) {
  SAMPLE_HANDLE handle = (SAMPLE_HANDLE)(ULONG_PTR)0x10;
  __int64 wide = -5;
  unsigned __int64 size = 7;
  LONG64 *as_long64 = &wide;
  LONGLONG *as_longlong = &wide;
  SIZE_T *as_size = &size;
  ULONG64 *as_ulong64 = &size;
  ULONG_PTR *as_ulong_ptr = &size;

  CHECK(HandleToULong(handle) == 0x10 && ULongToHandle(0x10) == (HANDLE)handle);
  CHECK(PtrToUlong(ULongToPtr(0x1234u)) == 0x1234u);
  CHECK(MAXUINT8 == 0xff && MAXINT8 == 0x7f && MININT8 == -0x80);
  CHECK(MAXUINT16 == 0xffff && MAXINT16 == 0x7fff && MININT16 == -0x8000);
  CHECK(MAXUINT32 == 0xffffffffu && MAXINT32 == 0x7fffffff && MININT32 == (-0x7fffffff - 1));
  CHECK(MAXUINT64 == 0xffffffffffffffffull && MAXINT64 == 0x7fffffffffffffffll);
  CHECK(MININT64 == (-0x7fffffffffffffffll - 1) && MAXULONG32 == 0xffffffffu);
  CHECK(MAXSIZE_T == (SIZE_T)-1 && MAXSSIZE_T == (SSIZE_T)(MAXSIZE_T >> 1) && MININT == INT32_MIN);
  CHECK(MAXUINT_PTR == UINTPTR_MAX && MAXLONG_PTR == INTPTR_MAX && MINLONG_PTR == INTPTR_MIN);
  CHECK(sizeof(__int64) == 8 && *as_long64 == -5 && *as_longlong == -5);
  CHECK(*as_size == 7 && *as_ulong64 == 7 && *as_ulong_ptr == 7);
}

static void guids(void) {
  static const GUID same = {
      0x8d1b2a3c, 0x1f2e, 0x4a5b, {0x91, 0x82, 0x73, 0x64, 0x55, 0x46, 0x37, 0x28}};
  GUID zero;
  RtlZeroMemory(&zero, sizeof zero);
  CHECK(SAMPLE_PROVIDER_GUID.Data1 == 0x8d1b2a3c && SAMPLE_PROVIDER_GUID.Data4[7] == 0x28);
  CHECK(IsEqualGUID(&SAMPLE_PROVIDER_GUID, &same));
  CHECK(!IsEqualGUID(&SAMPLE_PROVIDER_GUID, &GUID_NULL));
  CHECK(IsEqualGUID(&zero, &GUID_NULL) && InlineIsEqualGUID(&zero, &GUID_NULL));
}

static void safe_integers(void) {
  ULONG value = 1;
  SIZE_T size = 1;
  LONG signed_value = 1;
  USHORT narrow = 1;

  CHECK(RtlULongAdd(0xfffffff0u, 0xf, &value) == STATUS_SUCCESS && value == 0xffffffffu);
  CHECK(RtlULongAdd(0xfffffff0u, 0x10, &value) == STATUS_INTEGER_OVERFLOW && value == MAXULONG);
  CHECK(RtlULongSub(1, 2, &value) == STATUS_INTEGER_OVERFLOW && value == MAXULONG);
  CHECK(RtlULongMult(0x10000, 0xffff, &value) == STATUS_SUCCESS && value == 0xffff0000u);
  CHECK(RtlSizeTMult((SIZE_T)1 << 40, (SIZE_T)1 << 23, &size) == STATUS_SUCCESS);
  CHECK(size == (SIZE_T)1 << 63);
  CHECK(RtlSizeTMult((SIZE_T)1 << 40, (SIZE_T)1 << 24, &size) == STATUS_INTEGER_OVERFLOW);
  CHECK(size == MAXSIZE_T);
  CHECK(RtlSizeTAdd(MAXSIZE_T, 0, &size) == STATUS_SUCCESS && size == MAXSIZE_T);
  CHECK(RtlULongLongToULong(0xffffffffull, &value) == STATUS_SUCCESS && value == 0xffffffffu);
  CHECK(RtlULongLongToULong(0x100000000ull, &value) == STATUS_INTEGER_OVERFLOW);
  CHECK(RtlSizeTToULong(42, &value) == STATUS_SUCCESS && value == 42);
  CHECK(RtlLongToULong(-1, &value) == STATUS_INTEGER_OVERFLOW && value == MAXULONG);
  CHECK(RtlULongToLong(0x80000000u, &signed_value) == STATUS_INTEGER_OVERFLOW);
  CHECK(signed_value == -1);
  CHECK(RtlLongAdd(MAXLONG, 1, &signed_value) == STATUS_INTEGER_OVERFLOW);
  CHECK(RtlLongSub(MINLONG, -1, &signed_value) == STATUS_SUCCESS && signed_value == MINLONG + 1);
  CHECK(RtlULongToUShort(0x10000, &narrow) == STATUS_INTEGER_OVERFLOW && narrow == MAXUSHORT);
  CHECK(RtlULongToUShort(0xffff, &narrow) == STATUS_SUCCESS && narrow == 0xffff);
}

static void network_pieces(void) {
  IN_ADDR loopback;
  char text[INET_ADDRSTRLEN];

  CHECK(STATUS_NDIS_ADAPTER_NOT_READY == (NTSTATUS)0xC0230011L);
  CHECK(STATUS_NDIS_INDICATION_REQUIRED == (NTSTATUS)0x40230001L);
  /* wsk.h brings mstcpip.h, and with it ip2string.h. */
  loopback.s_addr = RtlUlongByteSwap(0x7f000001u);
  CHECK(RtlIpv4AddressToStringA(&loopback, text) == text + 9 && strcmp(text, "127.0.0.1") == 0);
  CHECK(SIO_LOOPBACK_FAST_PATH == 0x98000010u);
}

int main(void) {
  CHECK(exception_keywords(0) == 1112);
  CHECK(exception_keywords(1) == 1111);
  logging();
  types_and_limits();
  guids();
  safe_integers();
  network_pieces();
  DbgPrint("public_drivers.c: %d failure(s)\n", failures);
  return failures;
}

// public_drivers.cpp - the C++ form of public_drivers.c: what C++ WSK drivers rely on, with C++'s
// own rules (REFGUID is a reference, try stays the language's keyword, no implicit conversions).
#include <type_traits>

#include <ntddk.h>
#include <wsk.h>
#include <ntintsafe.h>
#include <initguid.h>

static int failures;

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      DbgPrint("public_drivers.cpp:%d: check failed: %s\n", __LINE__, #cond);                      \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

#define SAMPLE_LOG(Format, ...) DbgPrint((Format), __VA_ARGS__)

DEFINE_GUID(SAMPLE_SERVICE_GUID, 0x01020304, 0x0506, 0x0708, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
            0x0f, 0x10);

DECLARE_HANDLE(SAMPLE_HANDLE);

// __int64 is the type LONG64 and ULONG_PTR are made of, so pointers interconvert as with MSVC.
static_assert(std::is_same_v<__int64, LONG64> && std::is_same_v<__int64, LONGLONG>);
static_assert(std::is_same_v<unsigned __int64, ULONG64> &&
              std::is_same_v<unsigned __int64, ULONG_PTR> && std::is_same_v<SIZE_T, size_t>);
static_assert(!std::is_convertible_v<SAMPLE_HANDLE, PVOID *> && sizeof(SAMPLE_HANDLE) == 8);

static int exception_keywords(bool leave_early) {
  int steps = 0;
  __try {
    ++steps;
    if (leave_early) {
      __leave;
    }
    ++steps;
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    steps = -100;
  }
  __try {
    steps += 10;
  } __finally {
    steps += 100;
  }
  try { // C++'s own try still works
    steps += 1000;
  } catch (...) {
    steps = -200;
  }
  return steps;
}

int main() {
  CHECK(exception_keywords(false) == 1112);
  CHECK(exception_keywords(true) == 1111);
  CHECK(SAMPLE_LOG("public_drivers.cpp: a message without arguments\n") == STATUS_SUCCESS);
  CHECK(SAMPLE_LOG("public_drivers.cpp: %d argument\n", 1) == STATUS_SUCCESS);

  const GUID same = {0x01020304, 0x0506, 0x0708, {0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10}};
  CHECK(IsEqualGUID(SAMPLE_SERVICE_GUID, same) && SAMPLE_SERVICE_GUID == same);
  CHECK(SAMPLE_SERVICE_GUID != GUID_NULL && InlineIsEqualGUID(GUID_NULL, GUID{}));

  ULONG value = 0;
  SIZE_T size = 0;
  CHECK(RtlULongAdd(MAXULONG, 1, &value) == STATUS_INTEGER_OVERFLOW && value == MAXULONG);
  CHECK(RtlSizeTMult(3, 5, &size) == STATUS_SUCCESS && size == 15);
  CHECK(RtlULongLongToULong(MAXULONGLONG, &value) == STATUS_INTEGER_OVERFLOW);
  CHECK(MAXUINT32 == 0xffffffffu && MAXINT64 == INT64_MAX && MININT32 == INT32_MIN);

  IN6_ADDR loopback{};
  loopback.u.Byte[15] = 1;
  char text[INET6_ADDRSTRLEN];
  CHECK(RtlIpv6AddressToStringA(&loopback, text) != nullptr && strcmp(text, "::1") == 0);

  DbgPrint("public_drivers.cpp: %d failure(s)\n", failures);
  return failures;
}

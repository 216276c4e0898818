// C++ driver code written for MSVC passes `long volatile *` to the Interlocked functions.
#include <ntddk.h>

static volatile long g_count;
static volatile unsigned long g_flags;

long uwsk_header_check_interlocked_long(void) {
  InterlockedIncrement(&g_count);
  InterlockedDecrement(&g_count);
  InterlockedExchangeAdd(&g_count, 5);
  InterlockedCompareExchange(&g_count, 7, 5);
  InterlockedOr(&g_flags, 1UL);
  return InterlockedExchange(&g_count, 0);
}

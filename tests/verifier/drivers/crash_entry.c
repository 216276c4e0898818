/* A driver that dereferences NULL in DriverEntry: the crash report must name DriverEntry as the
 * driver code in progress and this file's line in the stack. */
#include <ntddk.h>

static int *volatile Nowhere; /* volatile: the compiler cannot see the NULL and drop the store */

static __attribute__((noinline)) void TouchNowhere(void) {
  *Nowhere = 1;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);
  TouchNowhere();
  return STATUS_SUCCESS;
}

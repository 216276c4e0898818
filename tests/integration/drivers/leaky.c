/* Leaks one pool block, one IRP and one MDL, so that the leak report has something to say. */
#include <ntddk.h>

static UCHAR g_buffer[256];

static VOID LeakyUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(RegistryPath);
  if (ExAllocatePool2(POOL_FLAG_NON_PAGED, 100, 'kaeL') == NULL ||
      IoAllocateIrp(1, FALSE) == NULL ||
      IoAllocateMdl(g_buffer, sizeof(g_buffer), FALSE, FALSE, NULL) == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  DriverObject->DriverUnload = LeakyUnload;
  return STATUS_SUCCESS;
}

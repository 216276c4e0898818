/* Leaks one pool block, one IRP, one MDL and one registry key handle, so that the leak report
 * has something to say. */
#include <ntddk.h>

static UCHAR g_buffer[256];

static VOID LeakyUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  OBJECT_ATTRIBUTES attributes;
  HANDLE key;
  InitializeObjectAttributes(&attributes, RegistryPath, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE,
                             NULL, NULL);
  if (!NT_SUCCESS(ZwOpenKey(&key, KEY_READ, &attributes)) ||
      ExAllocatePool2(POOL_FLAG_NON_PAGED, 100, 'kaeL') == NULL ||
      IoAllocateIrp(1, FALSE) == NULL ||
      IoAllocateMdl(g_buffer, sizeof(g_buffer), FALSE, FALSE, NULL) == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  DriverObject->DriverUnload = LeakyUnload;
  return STATUS_SUCCESS;
}

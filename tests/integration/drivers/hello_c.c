/* A minimal C driver: logs in DriverEntry and DriverUnload, with a pool round trip. */
#include <ntddk.h>

static DRIVER_UNLOAD HelloUnload;

static VOID HelloUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("hello_c: unloading\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  PVOID block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, 'lleH');
  if (block == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  ExFreePoolWithTag(block, 'lleH');
  DbgPrint("hello_c: DriverEntry %wZ at IRQL %u\n", RegistryPath, (ULONG)KeGetCurrentIrql());
  DriverObject->DriverUnload = HelloUnload;
  return STATUS_SUCCESS;
}

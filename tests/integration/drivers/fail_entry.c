/* DriverEntry fails on purpose, and must leave nothing behind. */
#include <ntddk.h>

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);
  DbgPrint("fail_entry: refusing to load\n");
  return STATUS_ACCESS_DENIED;
}

/* A driver built with -fsanitize=address,undefined, for uwsk-run --sanitize. With the
 * REG_DWORD Parameters\Overflow set to 1, DriverEntry writes one byte past a stack array, which
 * AddressSanitizer must catch; otherwise it runs clean. */
#include <ntddk.h>
#include <ntstrsafe.h>

static DRIVER_UNLOAD SanitizedUnload;

static VOID SanitizedUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("sanitized: unloading\n");
}

static ULONG ReadOverflow(PUNICODE_STRING RegistryPath) {
  static const WCHAR suffix[] = L"\\Parameters";
  WCHAR path[256];
  UNICODE_STRING key = {0, sizeof(path), path};
  RTL_QUERY_REGISTRY_TABLE table[2];
  ULONG overflow = 0;
  RtlCopyUnicodeString(&key, RegistryPath);
  if (!NT_SUCCESS(RtlUnicodeStringCatString(&key, suffix)) || key.Length >= sizeof(path)) {
    return 0;
  }
  path[key.Length / sizeof(WCHAR)] = L'\0';
  RtlZeroMemory(table, sizeof(table));
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
  table[0].Name = L"Overflow";
  table[0].EntryContext = &overflow;
  table[0].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
  (void)RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, path, table, NULL, NULL);
  return overflow;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  char bytes[8];
  volatile ULONG end = sizeof(bytes) - 1;
  if (ReadOverflow(RegistryPath) == 1) {
    end = sizeof(bytes); /* one past the array */
  }
  bytes[end] = 1;
  DbgPrint("sanitized: DriverEntry wrote byte %lu of %u\n", (ULONG)end, (unsigned)sizeof(bytes));
  DriverObject->DriverUnload = SanitizedUnload;
  return STATUS_SUCCESS;
}

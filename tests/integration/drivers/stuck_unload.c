/* DriverUnload never returns: uwsk-run's watchdog must give up on it. */
#include <ntddk.h>

static KEVENT g_never;

static VOID StuckUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  KeWaitForSingleObject(&g_never, Executive, KernelMode, FALSE, NULL);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(RegistryPath);
  KeInitializeEvent(&g_never, NotificationEvent, FALSE);
  DriverObject->DriverUnload = StuckUnload;
  return STATUS_SUCCESS;
}

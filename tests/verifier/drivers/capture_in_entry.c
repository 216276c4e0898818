/* A driver that captures the WSK provider NPI with WSK_INFINITE_WAIT in DriverEntry (rule V5, a
 * warning): logged normally, a bug check under uwsk-run --verify=strict. */
#include <ntddk.h>
#include <wsk.h>

static const WSK_CLIENT_DISPATCH ClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static WSK_REGISTRATION Registration;

static VOID CaptureUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  WskDeregister(&Registration);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &ClientDispatch};
  WSK_PROVIDER_NPI provider;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);
  status = WskRegister(&client, &Registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = WskCaptureProviderNPI(&Registration, WSK_INFINITE_WAIT, &provider);
  if (!NT_SUCCESS(status)) {
    WskDeregister(&Registration);
    return status;
  }
  WskReleaseProviderNPI(&Registration);
  DriverObject->DriverUnload = CaptureUnload;
  return STATUS_SUCCESS;
}

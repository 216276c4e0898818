/* A driver whose DriverUnload returns without WskDeregister (rule V2): the verifier must stop at
 * the return of DriverUnload, naming the registration still registered. */
#include <ntddk.h>
#include <wsk.h>

static const WSK_CLIENT_DISPATCH ClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static WSK_REGISTRATION Registration;

static VOID ForgetfulUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("unload_registered: returning without WskDeregister\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &ClientDispatch};
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);
  status = WskRegister(&client, &Registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  DriverObject->DriverUnload = ForgetfulUnload;
  return STATUS_SUCCESS;
}

/* A driver that bug-checks with a WSK operation in flight, for the trace test: it creates a
 * listening socket, binds it to 127.0.0.1 (any port), leaves a WskAccept pending, and calls
 * KeBugCheckEx. The trace must still be valid JSON, with the accept ended as not completed. */
#include <ntddk.h>
#include <wsk.h>

static const WSK_CLIENT_DISPATCH g_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static WSK_REGISTRATION g_registration;

static IO_COMPLETION_ROUTINE Signal;
static NTSTATUS Signal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_dispatch};
  WSK_PROVIDER_NPI provider;
  SOCKADDR_IN local;
  KEVENT done;
  PWSK_SOCKET socket;
  PIRP irp;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);
  status = WskRegister(&client, &g_registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = WskCaptureProviderNPI(&g_registration, WSK_INFINITE_WAIT, &provider);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  irp = IoAllocateIrp(1, FALSE);
  if (irp == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  KeInitializeEvent(&done, NotificationEvent, FALSE);
  IoSetCompletionRoutine(irp, Signal, &done, TRUE, TRUE, TRUE);
  provider.Dispatch->WskSocket(provider.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                               WSK_FLAG_LISTEN_SOCKET, NULL, NULL, NULL, NULL, NULL, irp);
  KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
  if (!NT_SUCCESS(irp->IoStatus.Status)) {
    return irp->IoStatus.Status;
  }
  socket = (PWSK_SOCKET)irp->IoStatus.Information;
  RtlZeroMemory(&local, sizeof(local));
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = RtlUlongByteSwap(INADDR_LOOPBACK);
  IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
  KeClearEvent(&done);
  IoSetCompletionRoutine(irp, Signal, &done, TRUE, TRUE, TRUE);
  ((const WSK_PROVIDER_LISTEN_DISPATCH *)socket->Dispatch)
      ->WskBind(socket, (PSOCKADDR)&local, 0, irp);
  KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
  if (!NT_SUCCESS(irp->IoStatus.Status)) {
    return irp->IoStatus.Status;
  }
  IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
  KeClearEvent(&done);
  IoSetCompletionRoutine(irp, Signal, &done, TRUE, TRUE, TRUE);
  status = ((const WSK_PROVIDER_LISTEN_DISPATCH *)socket->Dispatch)
               ->WskAccept(socket, 0, NULL, NULL, NULL, NULL, irp);
  DbgPrint("trace_bugcheck: WskAccept returned 0x%08lX; bug-checking\n", (ULONG)status);
  KeBugCheckEx(MANUALLY_INITIATED_CRASH, 1, 2, 3, 4);
}

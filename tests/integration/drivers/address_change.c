/*
 * address_change: leaves SIO_ADDRESS_LIST_CHANGE pending on two basic sockets (IPv4 and IPv6)
 * until it is unloaded. The provider's address watcher is then running on an engine loop. At
 * unload one IRP is cancelled with IoCancelIrp and the other is completed by WskCloseSocket;
 * each completion routine logs its status. uwsk-run (--strict) must then report nothing leaked
 * and exit 0: the unload barrier covers the watcher's loop, and nothing runs driver code after
 * the report.
 */
#include <ntddk.h>
#include <wsk.h>

typedef struct _WAITER {
  const char *Name;
  PWSK_SOCKET Socket;
  PIRP Irp;         /* the SIO_ADDRESS_LIST_CHANGE IRP */
  KEVENT Completed; /* set by its completion routine */
  NTSTATUS Status;
} WAITER, *PWAITER;

static struct {
  WSK_REGISTRATION Registration;
  WSK_PROVIDER_NPI Provider;
  BOOLEAN Registered;
  BOOLEAN Captured;
  WAITER Waiters[2];
} g_ac;

static const WSK_CLIENT_DISPATCH g_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD AddressChangeUnload;
static IO_COMPLETION_ROUTINE SignalComplete;
static IO_COMPLETION_ROUTINE ChangeComplete;

static const WSK_PROVIDER_BASIC_DISPATCH *BasicDispatch(PWAITER W) {
  return (const WSK_PROVIDER_BASIC_DISPATCH *)W->Socket->Dispatch;
}

static NTSTATUS SignalComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS ChangeComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PWAITER w = (PWAITER)Context;
  UNREFERENCED_PARAMETER(DeviceObject);
  w->Status = Irp->IoStatus.Status;
  DbgPrint("address_change: %s address change completed with 0x%08lX at IRQL %u\n", w->Name,
           (ULONG)w->Status, (ULONG)KeGetCurrentIrql());
  KeSetEvent(&w->Completed, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Opens a basic socket of `Family` and leaves SIO_ADDRESS_LIST_CHANGE pending on it. */
static NTSTATUS OpenWaiter(PWAITER W, ADDRESS_FAMILY Family) {
  KEVENT done;
  NTSTATUS status;
  PIRP irp = IoAllocateIrp(1, FALSE);
  if (irp == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  IoSetCompletionRoutine(irp, SignalComplete, &done, TRUE, TRUE, TRUE);
  status =
      g_ac.Provider.Dispatch->WskSocket(g_ac.Provider.Client, Family, SOCK_STREAM, IPPROTO_TCP,
                                        WSK_FLAG_BASIC_SOCKET, NULL, NULL, NULL, NULL, NULL, irp);
  KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
  status = irp->IoStatus.Status;
  if (!NT_SUCCESS(status)) {
    IoFreeIrp(irp);
    return status;
  }
  W->Socket = (PWSK_SOCKET)irp->IoStatus.Information;
  W->Irp = irp;
  KeInitializeEvent(&W->Completed, NotificationEvent, FALSE);
  IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(irp, ChangeComplete, W, TRUE, TRUE, TRUE);
  status = BasicDispatch(W)->WskControlSocket(W->Socket, WskIoctl, SIO_ADDRESS_LIST_CHANGE, 0, 0,
                                              NULL, 0, NULL, NULL, irp);
  DbgPrint("address_change: %s address change returned 0x%08lX\n", W->Name, (ULONG)status);
  return status == STATUS_PENDING ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}

/* Closes the socket (which completes a change still pending first) and waits for both. */
static VOID CloseWaiter(PWAITER W) {
  KEVENT done;
  PIRP irp;
  if (W->Socket == NULL) {
    return;
  }
  irp = IoAllocateIrp(1, FALSE);
  if (irp != NULL) {
    KeInitializeEvent(&done, SynchronizationEvent, FALSE);
    IoSetCompletionRoutine(irp, SignalComplete, &done, TRUE, TRUE, TRUE);
    (void)BasicDispatch(W)->WskCloseSocket(W->Socket, irp);
    KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
    DbgPrint("address_change: %s socket closed with 0x%08lX\n", W->Name,
             (ULONG)irp->IoStatus.Status);
    IoFreeIrp(irp);
  }
  W->Socket = NULL;
  if (W->Irp != NULL) {
    KeWaitForSingleObject(&W->Completed, Executive, KernelMode, FALSE, NULL);
    IoFreeIrp(W->Irp);
    W->Irp = NULL;
  }
}

static VOID AddressChangeStop(VOID) {
  PWAITER cancelled = &g_ac.Waiters[0];
  if (cancelled->Irp != NULL) {
    /* The first: cancelled while its socket is open. */
    IoCancelIrp(cancelled->Irp);
    KeWaitForSingleObject(&cancelled->Completed, Executive, KernelMode, FALSE, NULL);
  }
  /* The second stays pending until WskCloseSocket completes it. */
  CloseWaiter(&g_ac.Waiters[1]);
  CloseWaiter(cancelled);
  if (g_ac.Captured) {
    WskReleaseProviderNPI(&g_ac.Registration);
  }
  if (g_ac.Registered) {
    WskDeregister(&g_ac.Registration);
  }
}

static VOID AddressChangeUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("address_change: unloading\n");
  AddressChangeStop();
  DbgPrint("address_change: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client_dispatch};
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);
  g_ac.Waiters[0].Name = "IPv4";
  g_ac.Waiters[1].Name = "IPv6";
  status = WskRegister(&client, &g_ac.Registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  g_ac.Registered = TRUE;
  status = WskCaptureProviderNPI(&g_ac.Registration, WSK_NO_WAIT, &g_ac.Provider);
  g_ac.Captured = NT_SUCCESS(status);
  if (NT_SUCCESS(status)) {
    status = OpenWaiter(&g_ac.Waiters[0], AF_INET);
  }
  if (NT_SUCCESS(status)) {
    status = OpenWaiter(&g_ac.Waiters[1], AF_INET6);
  }
  if (!NT_SUCCESS(status)) {
    AddressChangeStop();
    return status;
  }
  DbgPrint("address_change: both changes pending\n");
  DriverObject->DriverUnload = AddressChangeUnload;
  return STATUS_SUCCESS;
}

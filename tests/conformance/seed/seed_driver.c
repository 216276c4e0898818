/*
 * A driver around the documentation's CreateListeningSocket (create_listening_socket.c, kept as
 * written there): DriverEntry registers with WSK, lets the seed create its listening socket,
 * binds it to 127.0.0.1 port SEED_PORT and logs that it listens; DriverUnload closes it and
 * deregisters. The test connects a real client to prove the socket listens.
 */
#include <ntddk.h>
#include <wsk.h>

#ifndef SEED_PORT
#define SEED_PORT 20008
#endif

typedef struct _WSK_APP_SOCKET_CONTEXT {
  PWSK_SOCKET Socket;
  ULONG Reserved;
} WSK_APP_SOCKET_CONTEXT, *PWSK_APP_SOCKET_CONTEXT;

NTSTATUS CreateListeningSocket(PWSK_PROVIDER_NPI WskProviderNpi,
                               PWSK_APP_SOCKET_CONTEXT SocketContext,
                               PWSK_CLIENT_LISTEN_DISPATCH Dispatch);

static const WSK_CLIENT_DISPATCH g_client = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static WSK_CLIENT_LISTEN_DISPATCH g_listen_dispatch = {NULL, NULL, NULL};
static WSK_REGISTRATION g_registration;
static WSK_PROVIDER_NPI g_npi;
static WSK_APP_SOCKET_CONTEXT g_context;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD SeedUnload;
static IO_COMPLETION_ROUTINE SeedSignal;

static NTSTATUS SeedSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Runs one socket call with a fresh IRP and waits for its completion. */
static NTSTATUS SeedBind(PWSK_SOCKET Socket, PSOCKADDR Address) {
  KEVENT done;
  NTSTATUS status;
  PIRP irp = IoAllocateIrp(1, FALSE);
  if (irp == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  IoSetCompletionRoutine(irp, SeedSignal, &done, TRUE, TRUE, TRUE);
  status = ((const WSK_PROVIDER_LISTEN_DISPATCH *)Socket->Dispatch)->WskBind(Socket, Address, 0, irp);
  if (status == STATUS_PENDING) {
    KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
  }
  status = irp->IoStatus.Status;
  IoFreeIrp(irp);
  return status;
}

static NTSTATUS SeedClose(PWSK_SOCKET Socket) {
  KEVENT done;
  NTSTATUS status;
  PIRP irp = IoAllocateIrp(1, FALSE);
  if (irp == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  IoSetCompletionRoutine(irp, SeedSignal, &done, TRUE, TRUE, TRUE);
  status = ((const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)->WskCloseSocket(Socket, irp);
  if (status == STATUS_PENDING) {
    KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
  }
  status = irp->IoStatus.Status;
  IoFreeIrp(irp);
  return status;
}

static VOID SeedUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  if (g_context.Socket != NULL) {
    SeedClose(g_context.Socket);
  }
  WskReleaseProviderNPI(&g_registration);
  WskDeregister(&g_registration);
  DbgPrint("seed: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client};
  SOCKADDR_IN local;
  LARGE_INTEGER poll;
  NTSTATUS status;
  ULONG waited;
  UNREFERENCED_PARAMETER(RegistryPath);

  status = WskRegister(&client, &g_registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = WskCaptureProviderNPI(&g_registration, WSK_INFINITE_WAIT, &g_npi);
  if (!NT_SUCCESS(status)) {
    WskDeregister(&g_registration);
    return status;
  }
  DriverObject->DriverUnload = SeedUnload;

  status = CreateListeningSocket(&g_npi, &g_context, &g_listen_dispatch);
  DbgPrint("seed: CreateListeningSocket returned 0x%08lX\n", (ULONG)status);
  /* The completion routine stores the socket; it may run after the call returned. */
  poll.QuadPart = -10 * 10000LL;
  for (waited = 0; g_context.Socket == NULL && waited < 500; waited++) {
    KeDelayExecutionThread(KernelMode, FALSE, &poll);
  }
  if (g_context.Socket == NULL) {
    SeedUnload(DriverObject);
    return NT_SUCCESS(status) ? STATUS_UNSUCCESSFUL : status;
  }
  RtlZeroMemory(&local, sizeof(local));
  local.sin_family = AF_INET;
  local.sin_port = RtlUshortByteSwap(SEED_PORT);
  local.sin_addr.s_addr = RtlUlongByteSwap(INADDR_LOOPBACK);
  status = SeedBind(g_context.Socket, (PSOCKADDR)&local);
  if (!NT_SUCCESS(status)) {
    SeedUnload(DriverObject);
    return status;
  }
  DbgPrint("seed: listening on 127.0.0.1 port %u\n", SEED_PORT);
  return STATUS_SUCCESS;
}

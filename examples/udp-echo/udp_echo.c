/*
 * udp-echo: a WDK-style WSK driver that sends every datagram back to its sender.
 *
 * It binds a datagram socket on 127.0.0.1 and one on ::1 (port 20009, the UDP_ECHO_PORT the build
 * defines, or the REG_DWORD Port of its Parameters key: uwsk-run --param-dword Port=N) and
 * enables WskReceiveFromEvent with SO_WSK_EVENT_CALLBACK. Each indication is
 * a list of datagrams in the provider's own buffers: the driver keeps the list (returns
 * STATUS_PENDING), sends each datagram back with WskSendTo straight from those buffers, to the
 * address the indication carries, and releases the list with WskRelease when the last send of
 * it completes. On unload it disables the event (waiting for a callback still running), waits
 * for its sends, and closes the sockets.
 *
 * DriverEntry captures the provider NPI with WSK_NO_WAIT; if the WSK subsystem is not ready yet
 * (STATUS_DEVICE_NOT_READY), a system thread waits for it (WSK_INFINITE_WAIT) and opens the
 * sockets, since DriverEntry must not wait. Unload ends a capture still waiting with
 * WskDeregister and waits for that thread first.
 */
#include <ntddk.h>
#include <ntstrsafe.h>
#include <wsk.h>

#ifndef UDP_ECHO_PORT
#define UDP_ECHO_PORT 20009
#endif
#define UDP_ECHO_TAG 'ohcU'

static ULONG g_port = UDP_ECHO_PORT;

typedef struct _UDP_ECHO_SOCKET {
  PWSK_SOCKET Socket;
  PIRP Irp;                  /* the opening IRP, kept for the close: closing allocates nothing */
  volatile LONG Outstanding; /* retained lists not yet released, plus one while open */
  KEVENT Idle;               /* set when Outstanding drops to zero */
  volatile LONG64 Datagrams;
} UDP_ECHO_SOCKET, *PUDP_ECHO_SOCKET;

/* The sends echoing one indication list; the last to complete releases the list. */
typedef struct _UDP_ECHO_BATCH {
  PUDP_ECHO_SOCKET Owner;
  PWSK_DATAGRAM_INDICATION List;
  volatile LONG Pending;
  ULONG Count;
  PIRP Irps[1]; /* Count of them */
} UDP_ECHO_BATCH, *PUDP_ECHO_BATCH;

static struct {
  WSK_REGISTRATION Registration;
  WSK_PROVIDER_NPI Provider;
  BOOLEAN Captured;
  KSPIN_LOCK Lock;      /* guards the two fields below */
  BOOLEAN Capturing;    /* StartThread is waiting in WskCaptureProviderNPI */
  BOOLEAN Stopping;     /* set once by UdpEchoUnload */
  PKTHREAD StartThread; /* referenced: the start-up thread, if DriverEntry made one */
  UDP_ECHO_SOCKET Sockets[2];
} g_udp;

static const WSK_CLIENT_DISPATCH g_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD UdpEchoUnload;
static IO_COMPLETION_ROUTINE UdpEchoSendComplete;
static IO_COMPLETION_ROUTINE UdpEchoSignalComplete;
static NTSTATUS WSKAPI UdpEchoReceiveFromEvent(PVOID SocketContext, ULONG Flags,
                                               PWSK_DATAGRAM_INDICATION DataIndication);

static const WSK_CLIENT_DATAGRAM_DISPATCH g_datagram_dispatch = {UdpEchoReceiveFromEvent};

static const WSK_PROVIDER_DATAGRAM_DISPATCH *UdpEchoDispatch(PUDP_ECHO_SOCKET Owner) {
  return (const WSK_PROVIDER_DATAGRAM_DISPATCH *)Owner->Socket->Dispatch;
}

static VOID UdpEchoRelease(PUDP_ECHO_SOCKET Owner) {
  if (InterlockedDecrement(&Owner->Outstanding) == 0) {
    KeSetEvent(&Owner->Idle, IO_NO_INCREMENT, FALSE);
  }
}

static VOID UdpEchoFreeBatch(PUDP_ECHO_BATCH Batch) {
  ULONG i;
  for (i = 0; i < Batch->Count; i++) {
    if (Batch->Irps[i] != NULL) {
      IoFreeIrp(Batch->Irps[i]);
    }
  }
  ExFreePoolWithTag(Batch, UDP_ECHO_TAG);
}

/* Drops one hold on the batch; the last releases the list to the provider. */
static VOID UdpEchoBatchDone(PUDP_ECHO_BATCH Batch) {
  PUDP_ECHO_SOCKET owner = Batch->Owner;
  if (InterlockedDecrement(&Batch->Pending) == 0) {
    /* Every datagram of the list went back: the provider may have its buffers again. */
    (void)UdpEchoDispatch(owner)->WskRelease(owner->Socket, Batch->List);
    UdpEchoFreeBatch(Batch);
    UdpEchoRelease(owner);
  }
}

static NTSTATUS UdpEchoSendComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PUDP_ECHO_BATCH batch = (PUDP_ECHO_BATCH)Context;
  UNREFERENCED_PARAMETER(DeviceObject);
  if (NT_SUCCESS(Irp->IoStatus.Status)) {
    InterlockedIncrement64(&batch->Owner->Datagrams);
  }
  UdpEchoBatchDone(batch);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS WSKAPI UdpEchoReceiveFromEvent(PVOID SocketContext, ULONG Flags,
                                               PWSK_DATAGRAM_INDICATION DataIndication) {
  PUDP_ECHO_SOCKET owner = (PUDP_ECHO_SOCKET)SocketContext;
  PUDP_ECHO_BATCH batch;
  PWSK_DATAGRAM_INDICATION d;
  ULONG count = 0;
  ULONG i;
  UNREFERENCED_PARAMETER(Flags);
  if (DataIndication == NULL) {
    DbgPrint("udp-echo: a socket stopped working\n");
    return STATUS_SUCCESS;
  }
  for (d = DataIndication; d != NULL; d = d->Next) {
    count++;
  }
  batch = (PUDP_ECHO_BATCH)ExAllocatePool2(
      POOL_FLAG_NON_PAGED, FIELD_OFFSET(UDP_ECHO_BATCH, Irps) + count * sizeof(PIRP), UDP_ECHO_TAG);
  if (batch == NULL) {
    return STATUS_SUCCESS; /* dropped, as UDP may */
  }
  batch->Owner = owner;
  batch->List = DataIndication;
  batch->Count = count;
  /* One hold per send, and one while the sends are issued: a send may complete, and run its
   * completion routine, before WskSendTo returns. */
  batch->Pending = (LONG)count + 1;
  for (i = 0; i < count; i++) {
    batch->Irps[i] = IoAllocateIrp(1, FALSE);
    if (batch->Irps[i] == NULL) {
      UdpEchoFreeBatch(batch);
      return STATUS_SUCCESS;
    }
  }
  InterlockedIncrement(&owner->Outstanding);
  /* Each datagram goes back from the provider's buffer to the address it came from; both stay
   * valid until the list is released. */
  for (d = DataIndication, i = 0; d != NULL; d = d->Next, i++) {
    IoSetCompletionRoutine(batch->Irps[i], UdpEchoSendComplete, batch, TRUE, TRUE, TRUE);
    (void)UdpEchoDispatch(owner)->WskSendTo(owner->Socket, &d->Buffer, 0, d->RemoteAddress, 0, NULL,
                                            batch->Irps[i]);
  }
  UdpEchoBatchDone(batch);
  return STATUS_PENDING;
}

/* ---- Set-up and tear-down ------------------------------------------------------------------- */

static NTSTATUS UdpEchoSignalComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Waits for the completion routine, which runs whether the call completed at once or later:
 * waiting every time keeps the synchronization event in step with the calls. */
static NTSTATUS UdpEchoWait(PIRP Irp, NTSTATUS Status, PKEVENT Event) {
  UNREFERENCED_PARAMETER(Status);
  KeWaitForSingleObject(Event, Executive, KernelMode, FALSE, NULL);
  return Irp->IoStatus.Status;
}

/* SO_WSK_EVENT_CALLBACK: enabling takes no IRP; disabling takes one here, so the call returns
 * only once a callback still running has returned. */
static NTSTATUS UdpEchoSetEvent(PUDP_ECHO_SOCKET Owner, ULONG Mask, PIRP Irp, PKEVENT Done) {
  WSK_EVENT_CALLBACK_CONTROL control = {&NPI_WSK_INTERFACE_ID, Mask};
  NTSTATUS status;
  if (Irp != NULL) {
    IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(Irp, UdpEchoSignalComplete, Done, TRUE, TRUE, TRUE);
  }
  status = UdpEchoDispatch(Owner)->WskControlSocket(Owner->Socket, WskSetOption,
                                                    SO_WSK_EVENT_CALLBACK, SOL_SOCKET,
                                                    sizeof(control), &control, 0, NULL, NULL, Irp);
  return Irp != NULL ? UdpEchoWait(Irp, status, Done) : status;
}

static NTSTATUS UdpEchoOpen(PUDP_ECHO_SOCKET Owner, ADDRESS_FAMILY Family) {
  KEVENT done;
  NTSTATUS status;
  PIRP irp = IoAllocateIrp(1, FALSE);
  union {
    SOCKADDR_IN6 v6;
    SOCKADDR_IN v4;
  } local;
  if (irp == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  Owner->Outstanding = 1;
  KeInitializeEvent(&Owner->Idle, NotificationEvent, FALSE);
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  IoSetCompletionRoutine(irp, UdpEchoSignalComplete, &done, TRUE, TRUE, TRUE);
  status = g_udp.Provider.Dispatch->WskSocket(g_udp.Provider.Client, Family, SOCK_DGRAM,
                                              IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, Owner,
                                              &g_datagram_dispatch, NULL, NULL, NULL, irp);
  status = UdpEchoWait(irp, status, &done);
  if (!NT_SUCCESS(status)) {
    IoFreeIrp(irp);
    return status;
  }
  Owner->Socket = (PWSK_SOCKET)irp->IoStatus.Information;
  RtlZeroMemory(&local, sizeof(local));
  if (Family == AF_INET6) {
    IN6_ADDR loopback = IN6ADDR_LOOPBACK_INIT;
    local.v6.sin6_family = AF_INET6;
    local.v6.sin6_port = RtlUshortByteSwap((USHORT)g_port);
    local.v6.sin6_addr = loopback;
  } else {
    local.v4.sin_family = AF_INET;
    local.v4.sin_port = RtlUshortByteSwap((USHORT)g_port);
    local.v4.sin_addr.s_addr = RtlUlongByteSwap(INADDR_LOOPBACK);
  }
  IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(irp, UdpEchoSignalComplete, &done, TRUE, TRUE, TRUE);
  status = UdpEchoDispatch(Owner)->WskBind(Owner->Socket, (PSOCKADDR)&local, 0, irp);
  status = UdpEchoWait(irp, status, &done);
  Owner->Irp = irp; /* the socket exists either way: UdpEchoClose closes it */
  /* Receive events on a datagram socket are enabled after the bind. */
  if (NT_SUCCESS(status)) {
    status = UdpEchoSetEvent(Owner, WSK_EVENT_RECEIVE_FROM, NULL, NULL);
  }
  if (!NT_SUCCESS(status)) {
    DbgPrint("udp-echo: cannot serve port %lu: 0x%08lX\n", g_port, (ULONG)status);
    return status;
  }
  DbgPrint("udp-echo: serving %s port %lu\n", Family == AF_INET6 ? "[::1]" : "127.0.0.1", g_port);
  return STATUS_SUCCESS;
}

static VOID UdpEchoClose(PUDP_ECHO_SOCKET Owner) {
  KEVENT done;
  NTSTATUS status;
  PIRP irp;
  if (Owner->Socket == NULL) {
    return;
  }
  irp = Owner->Irp;
  Owner->Irp = NULL;
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  /* No new indications; then every retained list comes back before the close. */
  (void)UdpEchoSetEvent(Owner, WSK_EVENT_RECEIVE_FROM | WSK_EVENT_DISABLE, irp, &done);
  UdpEchoRelease(Owner);
  KeWaitForSingleObject(&Owner->Idle, Executive, KernelMode, FALSE, NULL);
  IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(irp, UdpEchoSignalComplete, &done, TRUE, TRUE, TRUE);
  status = UdpEchoDispatch(Owner)->WskCloseSocket(Owner->Socket, irp);
  (void)UdpEchoWait(irp, status, &done);
  IoFreeIrp(irp);
  DbgPrint("udp-echo: closed a socket after echoing %I64d datagrams\n", Owner->Datagrams);
  Owner->Socket = NULL;
}

static VOID UdpEchoUnload(PDRIVER_OBJECT DriverObject) {
  BOOLEAN deregistered;
  KIRQL irql;
  ULONG i;
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("udp-echo: unloading\n");
  KeAcquireSpinLock(&g_udp.Lock, &irql);
  g_udp.Stopping = TRUE;
  deregistered = g_udp.Capturing;
  KeReleaseSpinLock(&g_udp.Lock, irql);
  if (deregistered) {
    /* The start-up thread still waits for the WSK subsystem: WskDeregister ends its capture
     * (or waits for the thread, seeing Stopping, to release one that just succeeded). */
    WskDeregister(&g_udp.Registration);
  }
  if (g_udp.StartThread != NULL) {
    /* A start-up past its capture opens the sockets first; they are closed below. */
    KeWaitForSingleObject(g_udp.StartThread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(g_udp.StartThread);
    g_udp.StartThread = NULL;
  }
  for (i = 0; i < 2; i++) {
    UdpEchoClose(&g_udp.Sockets[i]);
  }
  if (g_udp.Captured) {
    WskReleaseProviderNPI(&g_udp.Registration);
  }
  if (!deregistered) {
    WskDeregister(&g_udp.Registration);
  }
  DbgPrint("udp-echo: unloaded\n");
}

/* Reads the REG_DWORD Port from <RegistryPath>\Parameters into g_port; a missing key or value
 * leaves the default. */
static NTSTATUS UdpEchoReadPort(PUNICODE_STRING RegistryPath) {
  static const WCHAR suffix[] = L"\\Parameters";
  RTL_QUERY_REGISTRY_TABLE table[2];
  UNICODE_STRING key;
  NTSTATUS status;
  key.Length = 0;
  key.MaximumLength = (USHORT)(RegistryPath->Length + sizeof(suffix));
  key.Buffer = (PWCH)ExAllocatePool2(POOL_FLAG_PAGED, key.MaximumLength, UDP_ECHO_TAG);
  if (key.Buffer == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  RtlCopyUnicodeString(&key, RegistryPath);
  status = RtlUnicodeStringCatString(&key, suffix);
  if (NT_SUCCESS(status)) {
    RtlZeroMemory(table, sizeof(table));
    table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[0].Name = L"Port";
    table[0].EntryContext = &g_port;
    table[0].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    status = RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, key.Buffer, table, NULL, NULL);
    if (status == STATUS_OBJECT_NAME_NOT_FOUND) {
      status = STATUS_SUCCESS;
    }
  }
  ExFreePoolWithTag(key.Buffer, UDP_ECHO_TAG);
  if (NT_SUCCESS(status) && (g_port == 0 || g_port > 65535)) {
    DbgPrint("udp-echo: Port %lu is not a port number\n", g_port);
    status = STATUS_INVALID_PARAMETER;
  }
  return status;
}

/* Serves once the provider NPI is captured: a socket on 127.0.0.1, one on ::1. */
static NTSTATUS UdpEchoStart(VOID) {
  NTSTATUS status = UdpEchoOpen(&g_udp.Sockets[0], AF_INET);
  if (NT_SUCCESS(status)) {
    status = UdpEchoOpen(&g_udp.Sockets[1], AF_INET6);
  }
  return status;
}

/* The start-up thread, made when the WSK subsystem was not ready at DriverEntry: waits for it,
 * then serves unless the driver is being unloaded. A failure is logged; unload closes whatever
 * was opened. */
static VOID NTAPI UdpEchoStartThread(PVOID Context) {
  BOOLEAN stopping;
  KIRQL irql;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(Context);
  status = WskCaptureProviderNPI(&g_udp.Registration, WSK_INFINITE_WAIT, &g_udp.Provider);
  KeAcquireSpinLock(&g_udp.Lock, &irql);
  g_udp.Capturing = FALSE;
  stopping = g_udp.Stopping;
  if (NT_SUCCESS(status) && !stopping) {
    g_udp.Captured = TRUE;
  }
  KeReleaseSpinLock(&g_udp.Lock, irql);
  if (!NT_SUCCESS(status)) {
    DbgPrint("udp-echo: no WSK provider: 0x%08lX\n", (ULONG)status);
  } else if (stopping) {
    WskReleaseProviderNPI(&g_udp.Registration); /* lets UdpEchoUnload's WskDeregister return */
  } else {
    status = UdpEchoStart();
    if (!NT_SUCCESS(status)) {
      DbgPrint("udp-echo: cannot start: 0x%08lX\n", (ULONG)status);
    }
  }
  PsTerminateSystemThread(STATUS_SUCCESS);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client_dispatch};
  HANDLE thread;
  NTSTATUS status = UdpEchoReadPort(RegistryPath);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  KeInitializeSpinLock(&g_udp.Lock);
  status = WskRegister(&client, &g_udp.Registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  /* No wait here: DriverEntry must not block on the WSK subsystem. */
  status = WskCaptureProviderNPI(&g_udp.Registration, WSK_NO_WAIT, &g_udp.Provider);
  if (status == STATUS_DEVICE_NOT_READY) {
    g_udp.Capturing = TRUE; /* no other thread yet: no lock needed */
    status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, UdpEchoStartThread,
                                  NULL);
    if (!NT_SUCCESS(status)) {
      WskDeregister(&g_udp.Registration);
      return status;
    }
    (void)ObReferenceObjectByHandle(thread, THREAD_ALL_ACCESS, *PsThreadType, KernelMode,
                                    (PVOID *)&g_udp.StartThread, NULL);
    ZwClose(thread);
    DriverObject->DriverUnload = UdpEchoUnload;
    DbgPrint("udp-echo: the WSK subsystem is not ready; starting when it is\n");
    return STATUS_SUCCESS;
  }
  if (!NT_SUCCESS(status)) {
    WskDeregister(&g_udp.Registration);
    return status;
  }
  g_udp.Captured = TRUE;
  DriverObject->DriverUnload = UdpEchoUnload;
  status = UdpEchoStart();
  if (!NT_SUCCESS(status)) {
    UdpEchoUnload(DriverObject);
    return status;
  }
  return STATUS_SUCCESS;
}

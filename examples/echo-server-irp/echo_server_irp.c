/*
 * echo-server-irp: a WDK-style WSK driver that echoes what its clients send, with IRPs only.
 *
 * It listens on 127.0.0.1 and ::1 (port 20017, or the ECHO_PORT the build defines), accepts with
 * WskAccept, keeps two receives of 4 KiB (or ECHO_CHUNK bytes) in flight per connection, sends back each chunk it receives (the
 * provider keeps sends of one socket in order), disconnects gracefully when the client does, and
 * on unload closes everything and deregisters. Everything is driven by IRP completion routines,
 * the way Windows WSK drivers that do not use event callbacks are written.
 */
#include <ntddk.h>
#include <wsk.h>

#ifndef ECHO_PORT
#define ECHO_PORT 20017
#endif
#define ECHO_TAG 'ohcE' /* "Echo" in pool tools */
#ifndef ECHO_CHUNK
#define ECHO_CHUNK 4096
#endif
#define ECHO_SLOTS 2

typedef struct _ECHO_CONNECTION ECHO_CONNECTION, *PECHO_CONNECTION;

/* One receive in flight, and the send that echoes what it received. */
typedef struct _ECHO_SLOT {
  PECHO_CONNECTION Connection;
  PIRP Irp;
  PMDL Mdl;
  WSK_BUF Buffer;
  UCHAR Data[ECHO_CHUNK];
} ECHO_SLOT, *PECHO_SLOT;

struct _ECHO_CONNECTION {
  PWSK_SOCKET Socket;
  LIST_ENTRY Links;     /* on g_echo.Connections, under g_echo.Lock */
  LONG SlotsActive;     /* slots still receiving; the last one closes the socket */
  LONG References;      /* the close path holds one; EchoUnload takes one while aborting */
  BOOLEAN Aborted;      /* EchoUnload picked it (under g_echo.Lock) */
  BOOLEAN AbortRunning; /* EchoUnload is calling WskDisconnect on it (under g_echo.Lock) */
  BOOLEAN ClosePending; /* its slots finished meanwhile: EchoUnload closes it afterwards */
  BOOLEAN Closing;      /* WskCloseSocket was called (under g_echo.Lock) */
  PIRP CloseIrp;
  ULONG Id;
  ECHO_SLOT Slots[ECHO_SLOTS];
};

typedef struct _ECHO_LISTENER {
  PWSK_SOCKET Socket;
  PIRP AcceptIrp;
  PIRP CloseIrp;
  ADDRESS_FAMILY Family;
} ECHO_LISTENER, *PECHO_LISTENER;

static struct {
  WSK_REGISTRATION Registration;
  WSK_PROVIDER_NPI Provider;
  BOOLEAN Captured;
  ECHO_LISTENER Listeners[2];
  KSPIN_LOCK Lock;
  LIST_ENTRY Connections;
  volatile LONG Stopping; /* set once by DriverUnload, read by completion routines */
  LONG Outstanding; /* listeners and connections not yet closed */
  KEVENT AllClosed; /* set when Outstanding drops to zero */
  LONG NextId;
} g_echo;

static const WSK_CLIENT_DISPATCH g_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD EchoUnload;
static IO_COMPLETION_ROUTINE EchoAcceptComplete;
static IO_COMPLETION_ROUTINE EchoReceiveComplete;
static IO_COMPLETION_ROUTINE EchoSendComplete;
static IO_COMPLETION_ROUTINE EchoCloseComplete;
static IO_COMPLETION_ROUTINE EchoDisconnectComplete;
static IO_COMPLETION_ROUTINE EchoSignalComplete;

static VOID EchoRelease(VOID) {
  if (InterlockedDecrement(&g_echo.Outstanding) == 0) {
    KeSetEvent(&g_echo.AllClosed, IO_NO_INCREMENT, FALSE);
  }
}

/* A synchronous WSK call for set-up and tear-down: wait for the IRP's completion routine. */
static NTSTATUS EchoSignalComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Waits for the completion routine, which runs whether the call completed at once or later:
 * waiting every time keeps the synchronization event in step with the calls. */
static NTSTATUS EchoWait(PIRP Irp, NTSTATUS Status, PKEVENT Event) {
  UNREFERENCED_PARAMETER(Status);
  KeWaitForSingleObject(Event, Executive, KernelMode, FALSE, NULL);
  return Irp->IoStatus.Status;
}

/* ---- Connections ------------------------------------------------------------------------ */

static VOID EchoDereference(PECHO_CONNECTION Connection) {
  ULONG i;
  KIRQL irql;
  if (InterlockedDecrement(&Connection->References) != 0) {
    return;
  }
  KeAcquireSpinLock(&g_echo.Lock, &irql);
  RemoveEntryList(&Connection->Links);
  KeReleaseSpinLock(&g_echo.Lock, irql);
  for (i = 0; i < ECHO_SLOTS; i++) {
    if (Connection->Slots[i].Mdl != NULL) {
      IoFreeMdl(Connection->Slots[i].Mdl);
    }
    if (Connection->Slots[i].Irp != NULL) {
      IoFreeIrp(Connection->Slots[i].Irp);
    }
  }
  if (Connection->CloseIrp != NULL) {
    IoFreeIrp(Connection->CloseIrp);
  }
  ExFreePoolWithTag(Connection, ECHO_TAG);
  EchoRelease();
}

static NTSTATUS EchoCloseComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_CONNECTION connection = (PECHO_CONNECTION)Context;
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  DbgPrint("echo-server-irp: connection %lu closed\n", connection->Id);
  EchoDereference(connection);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS EchoDisconnectComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_CONNECTION connection = (PECHO_CONNECTION)Context;
  UNREFERENCED_PARAMETER(DeviceObject);
  IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(Irp, EchoCloseComplete, connection, TRUE, TRUE, TRUE);
  (void)((const WSK_PROVIDER_CONNECTION_DISPATCH *)connection->Socket->Dispatch)
      ->WskCloseSocket(connection->Socket, Irp);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* A connection the client finished is disconnected gracefully, then closed (closing it without
 * the disconnect would reset it). One that EchoUnload aborted is closed at once. */
static VOID EchoCloseConnection(PECHO_CONNECTION Connection) {
  const WSK_PROVIDER_CONNECTION_DISPATCH *dispatch =
      (const WSK_PROVIDER_CONNECTION_DISPATCH *)Connection->Socket->Dispatch;
  DbgPrint("echo-server-irp: connection %lu: closing\n", Connection->Id);
  if (Connection->Aborted) {
    IoSetCompletionRoutine(Connection->CloseIrp, EchoCloseComplete, Connection, TRUE, TRUE, TRUE);
    (void)dispatch->WskCloseSocket(Connection->Socket, Connection->CloseIrp);
    return;
  }
  IoSetCompletionRoutine(Connection->CloseIrp, EchoDisconnectComplete, Connection, TRUE, TRUE,
                         TRUE);
  (void)dispatch->WskDisconnect(Connection->Socket, NULL, 0, Connection->CloseIrp);
}

/* The last slot to stop closes the socket, unless EchoUnload is aborting it right now (then it
 * closes the socket when its WskDisconnect returns). */
static VOID EchoSlotDone(PECHO_SLOT Slot) {
  PECHO_CONNECTION connection = Slot->Connection;
  KIRQL irql;
  BOOLEAN close_now;
  if (InterlockedDecrement(&connection->SlotsActive) != 0) {
    return;
  }
  KeAcquireSpinLock(&g_echo.Lock, &irql);
  close_now = !connection->AbortRunning;
  connection->ClosePending = connection->AbortRunning;
  connection->Closing = close_now;
  KeReleaseSpinLock(&g_echo.Lock, irql);
  if (close_now) {
    EchoCloseConnection(connection);
  }
}

static VOID EchoPostReceive(PECHO_SLOT Slot) {
  const WSK_PROVIDER_CONNECTION_DISPATCH *dispatch =
      (const WSK_PROVIDER_CONNECTION_DISPATCH *)Slot->Connection->Socket->Dispatch;
  IoReuseIrp(Slot->Irp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(Slot->Irp, EchoReceiveComplete, Slot, TRUE, TRUE, TRUE);
  Slot->Buffer.Length = ECHO_CHUNK;
  (void)dispatch->WskReceive(Slot->Connection->Socket, &Slot->Buffer, 0, Slot->Irp);
}

static NTSTATUS EchoSendComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_SLOT slot = (PECHO_SLOT)Context;
  UNREFERENCED_PARAMETER(DeviceObject);
  if (NT_SUCCESS(Irp->IoStatus.Status) && !ReadAcquire(&g_echo.Stopping)) {
    EchoPostReceive(slot);
  } else {
    EchoSlotDone(slot);
  }
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS EchoReceiveComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_SLOT slot = (PECHO_SLOT)Context;
  PECHO_CONNECTION connection = slot->Connection;
  const WSK_PROVIDER_CONNECTION_DISPATCH *dispatch =
      (const WSK_PROVIDER_CONNECTION_DISPATCH *)connection->Socket->Dispatch;
  ULONG_PTR received = Irp->IoStatus.Information;
  UNREFERENCED_PARAMETER(DeviceObject);

  if (!NT_SUCCESS(Irp->IoStatus.Status) || received == 0) {
    /* 0 bytes: the client closed its side; close ours once the other slot is done too. */
    EchoSlotDone(slot);
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
  /* Echo the chunk from the same buffer, then receive again. */
  IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(Irp, EchoSendComplete, slot, TRUE, TRUE, TRUE);
  slot->Buffer.Length = received;
  (void)dispatch->WskSend(connection->Socket, &slot->Buffer, 0, Irp);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static VOID EchoStartConnection(PWSK_SOCKET Socket, PSOCKADDR Remote) {
  PECHO_CONNECTION connection;
  ULONG i;
  KIRQL irql;
  connection =
      (PECHO_CONNECTION)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*connection), ECHO_TAG);
  if (connection == NULL) {
    return; /* the socket is leaked to the provider's report; only on memory exhaustion */
  }
  connection->Socket = Socket;
  connection->Id = (ULONG)InterlockedIncrement(&g_echo.NextId);
  connection->CloseIrp = IoAllocateIrp(1, FALSE);
  connection->SlotsActive = ECHO_SLOTS;
  connection->References = 1;
  for (i = 0; i < ECHO_SLOTS; i++) {
    PECHO_SLOT slot = &connection->Slots[i];
    slot->Connection = connection;
    slot->Irp = IoAllocateIrp(1, FALSE);
    slot->Mdl = IoAllocateMdl(slot->Data, ECHO_CHUNK, FALSE, FALSE, NULL);
    if (slot->Mdl != NULL) {
      MmBuildMdlForNonPagedPool(slot->Mdl);
    }
    slot->Buffer.Mdl = slot->Mdl;
    slot->Buffer.Offset = 0;
    slot->Buffer.Length = ECHO_CHUNK;
  }
  InterlockedIncrement(&g_echo.Outstanding);
  KeAcquireSpinLock(&g_echo.Lock, &irql);
  InsertTailList(&g_echo.Connections, &connection->Links);
  KeReleaseSpinLock(&g_echo.Lock, irql);
  if (Remote->sa_family == AF_INET6) {
    DbgPrint("echo-server-irp: connection %lu from [::1]:%u\n", connection->Id,
             RtlUshortByteSwap(((PSOCKADDR_IN6)Remote)->sin6_port));
  } else {
    DbgPrint("echo-server-irp: connection %lu from 127.0.0.1:%u\n", connection->Id,
             RtlUshortByteSwap(((PSOCKADDR_IN)Remote)->sin_port));
  }
  if (connection->CloseIrp == NULL || connection->Slots[0].Irp == NULL ||
      connection->Slots[1].Irp == NULL || connection->Slots[0].Mdl == NULL ||
      connection->Slots[1].Mdl == NULL) {
    connection->SlotsActive = 1;
    EchoSlotDone(&connection->Slots[0]);
    return;
  }
  for (i = 0; i < ECHO_SLOTS; i++) {
    EchoPostReceive(&connection->Slots[i]);
  }
}

/* ---- Listeners ---------------------------------------------------------------------------- */

static union {
  SOCKADDR_IN6 v6;
  SOCKADDR_IN v4;
} g_accept_local[2], g_accept_remote[2];

static VOID EchoPostAccept(PECHO_LISTENER Listener) {
  const WSK_PROVIDER_LISTEN_DISPATCH *dispatch =
      (const WSK_PROVIDER_LISTEN_DISPATCH *)Listener->Socket->Dispatch;
  ULONG index = (ULONG)(Listener - g_echo.Listeners);
  IoReuseIrp(Listener->AcceptIrp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(Listener->AcceptIrp, EchoAcceptComplete, Listener, TRUE, TRUE, TRUE);
  (void)dispatch->WskAccept(Listener->Socket, 0, NULL, NULL, (PSOCKADDR)&g_accept_local[index],
                            (PSOCKADDR)&g_accept_remote[index], Listener->AcceptIrp);
}

static NTSTATUS EchoAcceptComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_LISTENER listener = (PECHO_LISTENER)Context;
  ULONG index = (ULONG)(listener - g_echo.Listeners);
  UNREFERENCED_PARAMETER(DeviceObject);
  if (NT_SUCCESS(Irp->IoStatus.Status)) {
    EchoStartConnection((PWSK_SOCKET)Irp->IoStatus.Information, (PSOCKADDR)&g_accept_remote[index]);
  }
  /* A cancelled accept means the listener is being closed. */
  if (Irp->IoStatus.Status != STATUS_CANCELLED && !ReadAcquire(&g_echo.Stopping)) {
    EchoPostAccept(listener);
  }
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS EchoOpenListener(PECHO_LISTENER Listener, ADDRESS_FAMILY Family) {
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
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  IoSetCompletionRoutine(irp, EchoSignalComplete, &done, TRUE, TRUE, TRUE);
  status = g_echo.Provider.Dispatch->WskSocket(g_echo.Provider.Client, Family, SOCK_STREAM,
                                               IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, NULL,
                                               NULL, NULL, NULL, irp);
  status = EchoWait(irp, status, &done);
  if (!NT_SUCCESS(status)) {
    IoFreeIrp(irp);
    return status;
  }
  Listener->Socket = (PWSK_SOCKET)irp->IoStatus.Information;
  Listener->Family = Family;
  RtlZeroMemory(&local, sizeof(local));
  if (Family == AF_INET6) {
    IN6_ADDR loopback = IN6ADDR_LOOPBACK_INIT;
    local.v6.sin6_family = AF_INET6;
    local.v6.sin6_port = RtlUshortByteSwap(ECHO_PORT);
    local.v6.sin6_addr = loopback;
  } else {
    local.v4.sin_family = AF_INET;
    local.v4.sin_port = RtlUshortByteSwap(ECHO_PORT);
    local.v4.sin_addr.s_addr = RtlUlongByteSwap(INADDR_LOOPBACK);
  }
  IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(irp, EchoSignalComplete, &done, TRUE, TRUE, TRUE);
  status = ((const WSK_PROVIDER_LISTEN_DISPATCH *)Listener->Socket->Dispatch)
               ->WskBind(Listener->Socket, (PSOCKADDR)&local, 0, irp);
  status = EchoWait(irp, status, &done);
  Listener->AcceptIrp = irp;
  Listener->CloseIrp = IoAllocateIrp(1, FALSE);
  InterlockedIncrement(&g_echo.Outstanding);
  if (!NT_SUCCESS(status) || Listener->CloseIrp == NULL) {
    DbgPrint("echo-server-irp: cannot listen on port %u: 0x%08lX\n", ECHO_PORT, (ULONG)status);
    return NT_SUCCESS(status) ? STATUS_INSUFFICIENT_RESOURCES : status;
  }
  DbgPrint("echo-server-irp: listening on %s port %u\n", Family == AF_INET6 ? "[::1]" : "127.0.0.1",
           ECHO_PORT);
  EchoPostAccept(Listener);
  return STATUS_SUCCESS;
}

/* ---- Driver entry and unload ------------------------------------------------------------------
 */

static VOID EchoCloseListener(PECHO_LISTENER Listener) {
  KEVENT done;
  NTSTATUS status;
  if (Listener->Socket == NULL) {
    return;
  }
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  IoSetCompletionRoutine(Listener->CloseIrp, EchoSignalComplete, &done, TRUE, TRUE, TRUE);
  status = ((const WSK_PROVIDER_LISTEN_DISPATCH *)Listener->Socket->Dispatch)
               ->WskCloseSocket(Listener->Socket, Listener->CloseIrp);
  (void)EchoWait(Listener->CloseIrp, status, &done);
  IoFreeIrp(Listener->CloseIrp);
  IoFreeIrp(Listener->AcceptIrp);
  Listener->Socket = NULL;
  EchoRelease();
}

static VOID EchoUnload(PDRIVER_OBJECT DriverObject) {
  BOOLEAN close_now;
  ULONG i;
  KIRQL irql;
  PLIST_ENTRY entry;
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("echo-server-irp: unloading\n");
  InterlockedExchange(&g_echo.Stopping, 1);
  /* Closing a listener cancels its pending accept. */
  for (i = 0; i < 2; i++) {
    EchoCloseListener(&g_echo.Listeners[i]);
  }
  /* Abort the connections still open; their receives then fail and close them. The WSK call
   * may complete receives inline, so it is made without holding the lock, on a connection this
   * thread holds a reference to. */
  for (;;) {
    PECHO_CONNECTION victim = NULL;
    PIRP irp;
    KEVENT done;
    NTSTATUS status;
    KeAcquireSpinLock(&g_echo.Lock, &irql);
    for (entry = g_echo.Connections.Flink; entry != &g_echo.Connections; entry = entry->Flink) {
      PECHO_CONNECTION connection = CONTAINING_RECORD(entry, ECHO_CONNECTION, Links);
      if (!connection->Aborted && !connection->Closing) {
        connection->Aborted = TRUE;
        connection->AbortRunning = TRUE;
        InterlockedIncrement(&connection->References);
        victim = connection;
        break;
      }
    }
    KeReleaseSpinLock(&g_echo.Lock, irql);
    if (victim == NULL) {
      break;
    }
    irp = IoAllocateIrp(1, FALSE);
    if (irp != NULL) {
      KeInitializeEvent(&done, SynchronizationEvent, FALSE);
      IoSetCompletionRoutine(irp, EchoSignalComplete, &done, TRUE, TRUE, TRUE);
      status = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)victim->Socket->Dispatch)
                   ->WskDisconnect(victim->Socket, NULL, WSK_FLAG_ABORTIVE, irp);
      (void)EchoWait(irp, status, &done);
      IoFreeIrp(irp);
    }
    KeAcquireSpinLock(&g_echo.Lock, &irql);
    victim->AbortRunning = FALSE;
    close_now = victim->ClosePending;
    victim->ClosePending = FALSE;
    victim->Closing = victim->Closing || close_now;
    KeReleaseSpinLock(&g_echo.Lock, irql);
    if (close_now) {
      EchoCloseConnection(victim);
    }
    EchoDereference(victim);
  }
  EchoRelease(); /* DriverEntry's own reference */
  KeWaitForSingleObject(&g_echo.AllClosed, Executive, KernelMode, FALSE, NULL);
  if (g_echo.Captured) {
    WskReleaseProviderNPI(&g_echo.Registration);
  }
  WskDeregister(&g_echo.Registration);
  DbgPrint("echo-server-irp: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client_dispatch};
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);

  KeInitializeSpinLock(&g_echo.Lock);
  InitializeListHead(&g_echo.Connections);
  KeInitializeEvent(&g_echo.AllClosed, NotificationEvent, FALSE);
  g_echo.Outstanding = 1; /* released by EchoUnload */

  status = WskRegister(&client, &g_echo.Registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = WskCaptureProviderNPI(&g_echo.Registration, WSK_NO_WAIT, &g_echo.Provider);
  if (!NT_SUCCESS(status)) {
    WskDeregister(&g_echo.Registration);
    return status;
  }
  g_echo.Captured = TRUE;
  status = EchoOpenListener(&g_echo.Listeners[0], AF_INET);
  if (NT_SUCCESS(status)) {
    status = EchoOpenListener(&g_echo.Listeners[1], AF_INET6);
  }
  DriverObject->DriverUnload = EchoUnload;
  if (!NT_SUCCESS(status)) {
    EchoUnload(DriverObject);
    return status;
  }
  return STATUS_SUCCESS;
}

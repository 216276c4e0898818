/*
 * echo-server: a WDK-style WSK driver that echoes what its clients send, written the way
 * production WSK drivers are: event-driven.
 *
 * - WSK_SET_STATIC_EVENT_CALLBACKS enables the accept, receive and disconnect events for every
 *   socket the driver creates, so no SO_WSK_EVENT_CALLBACK call is needed; the listeners'
 *   connection events carry over to the sockets WskAcceptEvent accepts.
 * - WskReceiveEvent sends the indicated bytes straight back from the provider's own buffers and
 *   returns STATUS_PENDING to keep them; the send's completion routine releases them with
 *   WskRelease. No copy is made.
 * - WskDisconnectEvent answers a graceful disconnect with one of its own (queued behind the
 *   echo sends), then closes the socket once every retained indication is released.
 * - On unload the listeners close, remaining connections are reset, and WskDeregister waits for
 *   the last socket.
 * It listens on 127.0.0.1 and ::1, port 20007 (or the ECHO_PORT the build defines).
 */
#include <ntddk.h>
#include <wsk.h>

#ifndef ECHO_PORT
#define ECHO_PORT 20007
#endif
#define ECHO_TAG 'ohcE' /* "Echo" in pool tools */

typedef struct _ECHO_CONNECTION {
  PWSK_SOCKET Socket;
  LIST_ENTRY Links; /* on g_echo.Connections, under g_echo.Lock */
  LONG References;  /* one for the open connection, one per echo send in flight */
  LONG Finishing;   /* set once by whoever drops the open reference */
  LONG64 BytesEchoed;
  ULONG Id;
  PIRP DisconnectIrp; /* the graceful disconnect after the client's */
  PIRP CloseIrp;
} ECHO_CONNECTION, *PECHO_CONNECTION;

/* One echo send: the indication it returns to the client, released when the send is done. */
typedef struct _ECHO_SEND {
  PECHO_CONNECTION Connection;
  PWSK_DATA_INDICATION Indication;
  PIRP Irp;
} ECHO_SEND, *PECHO_SEND;

static struct {
  WSK_REGISTRATION Registration;
  WSK_PROVIDER_NPI Provider;
  BOOLEAN Captured;
  PWSK_SOCKET Listeners[2];
  KSPIN_LOCK Lock;
  LIST_ENTRY Connections;
  volatile LONG Stopping;
  LONG NextId;
} g_echo;

static const WSK_CLIENT_DISPATCH g_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD EchoUnload;
static IO_COMPLETION_ROUTINE EchoSendComplete;
static IO_COMPLETION_ROUTINE EchoDisconnectComplete;
static IO_COMPLETION_ROUTINE EchoCloseComplete;
static IO_COMPLETION_ROUTINE EchoSignalComplete;
static NTSTATUS WSKAPI EchoAcceptEvent(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress,
                                       PSOCKADDR RemoteAddress, PWSK_SOCKET AcceptSocket,
                                       PVOID *AcceptSocketContext,
                                       const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch);
static NTSTATUS WSKAPI EchoReceiveEvent(PVOID SocketContext, ULONG Flags,
                                        PWSK_DATA_INDICATION DataIndication, SIZE_T BytesIndicated,
                                        SIZE_T *BytesAccepted);
static NTSTATUS WSKAPI EchoDisconnectEvent(PVOID SocketContext, ULONG Flags);

static const WSK_CLIENT_LISTEN_DISPATCH g_listen_dispatch = {EchoAcceptEvent, NULL, NULL};
static const WSK_CLIENT_CONNECTION_DISPATCH g_connection_dispatch = {EchoReceiveEvent,
                                                                     EchoDisconnectEvent, NULL};

static const WSK_PROVIDER_CONNECTION_DISPATCH *EchoDispatch(PECHO_CONNECTION Connection) {
  return (const WSK_PROVIDER_CONNECTION_DISPATCH *)Connection->Socket->Dispatch;
}

/* ---- Connection lifetime ------------------------------------------------------------------ */

static NTSTATUS EchoCloseComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_CONNECTION connection = (PECHO_CONNECTION)Context;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  DbgPrint("echo-server: connection %lu closed after echoing %I64d bytes\n", connection->Id,
           connection->BytesEchoed);
  KeAcquireSpinLock(&g_echo.Lock, &irql);
  RemoveEntryList(&connection->Links);
  KeReleaseSpinLock(&g_echo.Lock, irql);
  IoFreeIrp(connection->CloseIrp);
  IoFreeIrp(connection->DisconnectIrp);
  ExFreePoolWithTag(connection, ECHO_TAG);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* The last reference closes the socket: every send has completed and every indication it
 * retained is released, as WskCloseSocket requires. */
static VOID EchoDereference(PECHO_CONNECTION Connection) {
  if (InterlockedDecrement(&Connection->References) != 0) {
    return;
  }
  IoSetCompletionRoutine(Connection->CloseIrp, EchoCloseComplete, Connection, TRUE, TRUE, TRUE);
  (void)EchoDispatch(Connection)->WskCloseSocket(Connection->Socket, Connection->CloseIrp);
}

/* Drops the open connection's reference, once, whoever gets here first: the disconnect path
 * or the unload. */
static VOID EchoFinish(PECHO_CONNECTION Connection) {
  if (InterlockedExchange(&Connection->Finishing, 1) == 0) {
    EchoDereference(Connection);
  }
}

static NTSTATUS EchoDisconnectComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  EchoFinish((PECHO_CONNECTION)Context);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* ---- Events ------------------------------------------------------------------------------ */

static NTSTATUS WSKAPI
EchoAcceptEvent(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress,
                PWSK_SOCKET AcceptSocket, PVOID *AcceptSocketContext,
                const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch) {
  PECHO_CONNECTION connection;
  KIRQL irql;
  UNREFERENCED_PARAMETER(SocketContext);
  UNREFERENCED_PARAMETER(Flags);
  UNREFERENCED_PARAMETER(LocalAddress);
  if (AcceptSocket == NULL || ReadAcquire(&g_echo.Stopping)) {
    /* A NULL socket: the listener stopped working (it is closed on unload). */
    return STATUS_REQUEST_NOT_ACCEPTED;
  }
  connection =
      (PECHO_CONNECTION)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*connection), ECHO_TAG);
  if (connection == NULL) {
    return STATUS_REQUEST_NOT_ACCEPTED;
  }
  connection->Socket = AcceptSocket;
  connection->References = 1;
  connection->Id = (ULONG)InterlockedIncrement(&g_echo.NextId);
  connection->DisconnectIrp = IoAllocateIrp(1, FALSE);
  connection->CloseIrp = IoAllocateIrp(1, FALSE);
  if (connection->DisconnectIrp == NULL || connection->CloseIrp == NULL) {
    if (connection->DisconnectIrp != NULL) {
      IoFreeIrp(connection->DisconnectIrp);
    }
    if (connection->CloseIrp != NULL) {
      IoFreeIrp(connection->CloseIrp);
    }
    ExFreePoolWithTag(connection, ECHO_TAG);
    return STATUS_REQUEST_NOT_ACCEPTED;
  }
  KeAcquireSpinLock(&g_echo.Lock, &irql);
  InsertTailList(&g_echo.Connections, &connection->Links);
  KeReleaseSpinLock(&g_echo.Lock, irql);
  if (RemoteAddress->sa_family == AF_INET6) {
    DbgPrint("echo-server: connection %lu from [::1]:%u\n", connection->Id,
             RtlUshortByteSwap(((PSOCKADDR_IN6)RemoteAddress)->sin6_port));
  } else {
    DbgPrint("echo-server: connection %lu from 127.0.0.1:%u\n", connection->Id,
             RtlUshortByteSwap(((PSOCKADDR_IN)RemoteAddress)->sin_port));
  }
  *AcceptSocketContext = connection;
  *AcceptSocketDispatch = &g_connection_dispatch;
  return STATUS_SUCCESS;
}

static NTSTATUS EchoSendComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_SEND send = (PECHO_SEND)Context;
  PECHO_CONNECTION connection = send->Connection;
  UNREFERENCED_PARAMETER(DeviceObject);
  if (NT_SUCCESS(Irp->IoStatus.Status)) {
    InterlockedAdd64(&connection->BytesEchoed, (LONG64)Irp->IoStatus.Information);
  }
  (void)EchoDispatch(connection)->WskRelease(connection->Socket, send->Indication);
  IoFreeIrp(send->Irp);
  ExFreePoolWithTag(send, ECHO_TAG);
  EchoDereference(connection);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS WSKAPI EchoReceiveEvent(PVOID SocketContext, ULONG Flags,
                                        PWSK_DATA_INDICATION DataIndication, SIZE_T BytesIndicated,
                                        SIZE_T *BytesAccepted) {
  PECHO_CONNECTION connection = (PECHO_CONNECTION)SocketContext;
  PECHO_SEND send;
  UNREFERENCED_PARAMETER(Flags);
  UNREFERENCED_PARAMETER(BytesAccepted);
  if (DataIndication == NULL) {
    EchoFinish(connection); /* the socket stopped working */
    return STATUS_SUCCESS;
  }
  /* Indications from this provider hold one element; a longer list would take one send per
   * element. */
  if (DataIndication->Next != NULL || BytesIndicated != DataIndication->Buffer.Length) {
    return STATUS_DATA_NOT_ACCEPTED;
  }
  send = (PECHO_SEND)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*send), ECHO_TAG);
  if (send == NULL) {
    return STATUS_DATA_NOT_ACCEPTED;
  }
  send->Irp = IoAllocateIrp(1, FALSE);
  if (send->Irp == NULL) {
    ExFreePoolWithTag(send, ECHO_TAG);
    return STATUS_DATA_NOT_ACCEPTED;
  }
  send->Connection = connection;
  send->Indication = DataIndication;
  InterlockedIncrement(&connection->References);
  IoSetCompletionRoutine(send->Irp, EchoSendComplete, send, TRUE, TRUE, TRUE);
  /* The send goes out from the provider's own buffer; the completion routine releases it. */
  (void)EchoDispatch(connection)
      ->WskSend(connection->Socket, &DataIndication->Buffer, 0, send->Irp);
  return STATUS_PENDING;
}

static NTSTATUS WSKAPI EchoDisconnectEvent(PVOID SocketContext, ULONG Flags) {
  PECHO_CONNECTION connection = (PECHO_CONNECTION)SocketContext;
  if ((Flags & WSK_FLAG_ABORTIVE) != 0) {
    DbgPrint("echo-server: connection %lu reset by the client\n", connection->Id);
    EchoFinish(connection);
    return STATUS_SUCCESS;
  }
  /* The client is done sending: disconnect our side after the echoes still queued. */
  DbgPrint("echo-server: connection %lu: client finished, disconnecting\n", connection->Id);
  IoSetCompletionRoutine(connection->DisconnectIrp, EchoDisconnectComplete, connection, TRUE, TRUE,
                         TRUE);
  (void)EchoDispatch(connection)
      ->WskDisconnect(connection->Socket, NULL, 0, connection->DisconnectIrp);
  return STATUS_SUCCESS;
}

/* ---- Set-up and tear-down ------------------------------------------------------------------- */

/* A synchronous WSK call: wait for the IRP's completion routine. */
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

static NTSTATUS EchoOpenListener(ULONG Index, ADDRESS_FAMILY Family) {
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
                                               IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL,
                                               &g_listen_dispatch, NULL, NULL, NULL, irp);
  status = EchoWait(irp, status, &done);
  if (!NT_SUCCESS(status)) {
    IoFreeIrp(irp);
    return status;
  }
  g_echo.Listeners[Index] = (PWSK_SOCKET)irp->IoStatus.Information;
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
  /* Bound, the listener accepts; the static accept event delivers each connection. */
  IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(irp, EchoSignalComplete, &done, TRUE, TRUE, TRUE);
  status = ((const WSK_PROVIDER_LISTEN_DISPATCH *)g_echo.Listeners[Index]->Dispatch)
               ->WskBind(g_echo.Listeners[Index], (PSOCKADDR)&local, 0, irp);
  status = EchoWait(irp, status, &done);
  IoFreeIrp(irp);
  if (!NT_SUCCESS(status)) {
    DbgPrint("echo-server: cannot listen on port %u: 0x%08lX\n", ECHO_PORT, (ULONG)status);
    return status;
  }
  DbgPrint("echo-server: listening on %s port %u\n", Family == AF_INET6 ? "[::1]" : "127.0.0.1",
           ECHO_PORT);
  return STATUS_SUCCESS;
}

static VOID EchoCloseSocket(PWSK_SOCKET Socket) {
  KEVENT done;
  NTSTATUS status;
  PIRP irp = IoAllocateIrp(1, FALSE);
  if (irp == NULL) {
    return;
  }
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  IoSetCompletionRoutine(irp, EchoSignalComplete, &done, TRUE, TRUE, TRUE);
  status = ((const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)->WskCloseSocket(Socket, irp);
  (void)EchoWait(irp, status, &done);
  IoFreeIrp(irp);
}

/* Resets one connection that is still open, if any; returns FALSE when none is left to reset. */
static BOOLEAN EchoResetOne(VOID) {
  PECHO_CONNECTION victim = NULL;
  PLIST_ENTRY entry;
  KIRQL irql;
  KEVENT done;
  NTSTATUS status;
  PIRP irp;
  KeAcquireSpinLock(&g_echo.Lock, &irql);
  for (entry = g_echo.Connections.Flink; entry != &g_echo.Connections; entry = entry->Flink) {
    PECHO_CONNECTION connection = CONTAINING_RECORD(entry, ECHO_CONNECTION, Links);
    LONG references = connection->References;
    if (connection->Finishing != 0) {
      continue;
    }
    /* Hold it open across the call below, unless its last reference is already gone (it is
     * closing; it stays on the list, under this lock, until its close completes). */
    while (references > 0) {
      LONG seen = InterlockedCompareExchange(&connection->References, references + 1, references);
      if (seen == references) {
        victim = connection;
        break;
      }
      references = seen;
    }
    if (victim != NULL) {
      break;
    }
  }
  KeReleaseSpinLock(&g_echo.Lock, irql);
  if (victim == NULL) {
    return FALSE;
  }
  irp = IoAllocateIrp(1, FALSE);
  if (irp != NULL) {
    KeInitializeEvent(&done, SynchronizationEvent, FALSE);
    IoSetCompletionRoutine(irp, EchoSignalComplete, &done, TRUE, TRUE, TRUE);
    status = EchoDispatch(victim)->WskDisconnect(victim->Socket, NULL, WSK_FLAG_ABORTIVE, irp);
    (void)EchoWait(irp, status, &done);
    IoFreeIrp(irp);
  }
  EchoFinish(victim);
  EchoDereference(victim);
  return TRUE;
}

static VOID EchoUnload(PDRIVER_OBJECT DriverObject) {
  ULONG i;
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("echo-server: unloading\n");
  InterlockedExchange(&g_echo.Stopping, 1);
  for (i = 0; i < 2; i++) {
    if (g_echo.Listeners[i] != NULL) {
      EchoCloseSocket(g_echo.Listeners[i]);
      g_echo.Listeners[i] = NULL;
    }
  }
  /* Reset what is still open; each connection closes itself once its sends are done. */
  while (EchoResetOne()) {
  }
  if (g_echo.Captured) {
    WskReleaseProviderNPI(&g_echo.Registration);
  }
  /* WskDeregister returns once the last socket is closed. */
  WskDeregister(&g_echo.Registration);
  DbgPrint("echo-server: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client_dispatch};
  WSK_EVENT_CALLBACK_CONTROL events = {&NPI_WSK_INTERFACE_ID,
                                       WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT};
  NTSTATUS status;
  UNREFERENCED_PARAMETER(RegistryPath);
  KeInitializeSpinLock(&g_echo.Lock);
  InitializeListHead(&g_echo.Connections);
  status = WskRegister(&client, &g_echo.Registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = WskCaptureProviderNPI(&g_echo.Registration, WSK_INFINITE_WAIT, &g_echo.Provider);
  if (!NT_SUCCESS(status)) {
    WskDeregister(&g_echo.Registration);
    return status;
  }
  g_echo.Captured = TRUE;
  DriverObject->DriverUnload = EchoUnload;
  /* Before any socket exists: every socket of this client gets these events. */
  status = g_echo.Provider.Dispatch->WskControlClient(g_echo.Provider.Client,
                                                      WSK_SET_STATIC_EVENT_CALLBACKS,
                                                      sizeof(events), &events, 0, NULL, NULL, NULL);
  if (NT_SUCCESS(status)) {
    status = EchoOpenListener(0, AF_INET);
  }
  if (NT_SUCCESS(status)) {
    status = EchoOpenListener(1, AF_INET6);
  }
  if (!NT_SUCCESS(status)) {
    EchoUnload(DriverObject);
    return status;
  }
  return STATUS_SUCCESS;
}

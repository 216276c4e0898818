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
 * - DriverEntry captures the provider NPI with WSK_NO_WAIT. If the WSK subsystem is not ready yet
 *   (STATUS_DEVICE_NOT_READY), a system thread captures it with WSK_INFINITE_WAIT and then opens
 *   the listeners: a wait in DriverEntry could hold up the loading of drivers.
 * - On unload the listeners close, remaining connections are reset, and the driver waits for
 *   the last close to complete before WskDeregister. A capture still waiting is ended by
 *   WskDeregister, and the start-up thread is waited for before anything else is torn down.
 * It listens on 127.0.0.1 and ::1, port 20007 (or the ECHO_PORT the build defines), or the port
 * in the REG_DWORD value Port of its Parameters key (uwsk-run --param-dword Port=N).
 *
 * Connection lifetime (the part of this file worth copying with care). The provider may call a
 * connection's callbacks at any time until its WskCloseSocket *completes*, including while the
 * close is under way; WskCloseSocket must be called exactly once, when no other call on the
 * socket is in progress and every retained indication has been released. So:
 *  1. References counts what still needs the socket: 1 while the connection is Open, 1 per echo
 *     send in flight (its IRP and the indication it retains), 1 for the graceful disconnect in
 *     flight, and 1 for each WSK call being made on the socket, for the duration of the call.
 *  2. References are added only under the connection's lock, and only while it is Open
 *     (EchoReference). An Open connection holds a reference of its own, so the count can never
 *     rise again once it has reached 0.
 *  3. Open is cleared once (EchoFinish), under the same lock, which drops the open reference.
 *  4. Whoever drops the last reference closes the socket (EchoDereference). By rule 2 nobody can
 *     take a reference after that, so the close is issued exactly once, with no call in
 *     progress and nothing retained.
 *  5. A callback that runs once the connection is no longer Open (its close may be under way)
 *     starts nothing on the socket: a receive indication is accepted and dropped. The
 *     connection's memory stays valid until the close completes, and no callback runs after.
 */
#include <ntddk.h>
#include <ntstrsafe.h>
#include <wsk.h>

#ifndef ECHO_PORT
#define ECHO_PORT 20007
#endif
#define ECHO_TAG 'ohcE' /* "Echo" in pool tools */

typedef struct _ECHO_CONNECTION {
  PWSK_SOCKET Socket;
  LIST_ENTRY Links;      /* on g_echo.Connections, under g_echo.Lock */
  KSPIN_LOCK Lock;       /* guards the three fields below */
  LONG References;       /* rule 1 above */
  BOOLEAN Open;          /* the connection holds its own reference; cleared once (EchoFinish) */
  BOOLEAN Disconnecting; /* the graceful disconnect was started (it is started once) */
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
  PMDL Chain;     /* for an indication of several elements: one MDL per element, chained */
  WSK_BUF Buffer; /* what the send sends: the indication's buffer, or Chain */
} ECHO_SEND, *PECHO_SEND;

static struct {
  WSK_REGISTRATION Registration;
  WSK_PROVIDER_NPI Provider;
  BOOLEAN Captured;
  BOOLEAN Capturing;    /* under Lock: StartThread is waiting in WskCaptureProviderNPI */
  PKTHREAD StartThread; /* referenced: the start-up thread, if DriverEntry made one */
  PWSK_SOCKET Listeners[2];
  PIRP ListenerIrps[2]; /* each listener's opening IRP, kept for its close: unload allocates none */
  KSPIN_LOCK Lock;
  LIST_ENTRY Connections;
  volatile LONG Stopping;
  LONG NextId;
  LONG Outstanding; /* connections not yet closed, plus one for the driver until unload */
  KEVENT AllClosed; /* set when Outstanding drops to zero */
} g_echo;

static ULONG g_port = ECHO_PORT;

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

/* ---- Connection lifetime (the rules at the top of this file) ------------------------------ */

static VOID EchoConnectionGone(VOID) {
  if (InterlockedDecrement(&g_echo.Outstanding) == 0) {
    KeSetEvent(&g_echo.AllClosed, IO_NO_INCREMENT, FALSE);
  }
}

static NTSTATUS EchoCloseComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_CONNECTION connection = (PECHO_CONNECTION)Context;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  /* The socket is gone and no callback of it runs any more: the connection can go too. */
  DbgPrint("echo-server: connection %lu closed after echoing %I64d bytes\n", connection->Id,
           connection->BytesEchoed);
  KeAcquireSpinLock(&g_echo.Lock, &irql);
  RemoveEntryList(&connection->Links);
  KeReleaseSpinLock(&g_echo.Lock, irql);
  IoFreeIrp(connection->CloseIrp);
  IoFreeIrp(connection->DisconnectIrp);
  ExFreePoolWithTag(connection, ECHO_TAG);
  EchoConnectionGone();
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Rule 2: takes Count references, but only while the connection is Open. FALSE means it is
 * finishing and nothing may be started on its socket. */
static BOOLEAN EchoReference(PECHO_CONNECTION Connection, LONG Count) {
  KIRQL irql;
  BOOLEAN open;
  KeAcquireSpinLock(&Connection->Lock, &irql);
  open = Connection->Open;
  if (open) {
    Connection->References += Count;
  }
  KeReleaseSpinLock(&Connection->Lock, irql);
  return open;
}

/* Rule 4: the last reference closes the socket. */
static VOID EchoDereference(PECHO_CONNECTION Connection) {
  KIRQL irql;
  LONG left;
  KeAcquireSpinLock(&Connection->Lock, &irql);
  left = --Connection->References;
  KeReleaseSpinLock(&Connection->Lock, irql);
  if (left == 0) {
    IoSetCompletionRoutine(Connection->CloseIrp, EchoCloseComplete, Connection, TRUE, TRUE, TRUE);
    (void)EchoDispatch(Connection)->WskCloseSocket(Connection->Socket, Connection->CloseIrp);
  }
}

/* Rule 3: ends the connection's Open state and drops its own reference, once, whoever comes
 * first: the client's disconnect, the end of ours, a dead socket, or the unload. */
static VOID EchoFinish(PECHO_CONNECTION Connection) {
  KIRQL irql;
  BOOLEAN was_open;
  KeAcquireSpinLock(&Connection->Lock, &irql);
  was_open = Connection->Open;
  Connection->Open = FALSE;
  KeReleaseSpinLock(&Connection->Lock, irql);
  if (was_open) {
    EchoDereference(Connection);
  }
}

static NTSTATUS EchoDisconnectComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_CONNECTION connection = (PECHO_CONNECTION)Context;
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  EchoFinish(connection);      /* both sides are done */
  EchoDereference(connection); /* the disconnect IRP's reference */
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
  KeInitializeSpinLock(&connection->Lock);
  connection->References = 1; /* its own, while Open */
  connection->Open = TRUE;
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
  InterlockedIncrement(&g_echo.Outstanding);
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

/* Frees the MDLs EchoChainIndication built. */
static VOID EchoFreeChain(PMDL Chain) {
  while (Chain != NULL) {
    PMDL next = Chain->Next;
    IoFreeMdl(Chain);
    Chain = next;
  }
}

/* An indication list of several elements becomes one WSK_BUF for one send: an MDL per element
 * over the bytes it indicates (each element's bytes lie in its first MDL, as the provider
 * indicates them), chained in order. FALSE when an MDL cannot be allocated. */
static BOOLEAN EchoChainIndication(PWSK_DATA_INDICATION Indication, PMDL *Chain) {
  PMDL head = NULL;
  PMDL *tail = &head;
  for (; Indication != NULL; Indication = Indication->Next) {
    PUCHAR base;
    PMDL mdl;
    if (Indication->Buffer.Length == 0) {
      continue;
    }
    base = (PUCHAR)MmGetSystemAddressForMdlSafe(Indication->Buffer.Mdl,
                                                NormalPagePriority | MdlMappingNoExecute);
    mdl = base == NULL || Indication->Buffer.Offset + Indication->Buffer.Length >
                              MmGetMdlByteCount(Indication->Buffer.Mdl)
              ? NULL
              : IoAllocateMdl(base + Indication->Buffer.Offset, (ULONG)Indication->Buffer.Length,
                              FALSE, FALSE, NULL);
    if (mdl == NULL) {
      EchoFreeChain(head);
      return FALSE;
    }
    MmBuildMdlForNonPagedPool(mdl);
    *tail = mdl;
    tail = &mdl->Next;
  }
  *Chain = head;
  return TRUE;
}

static NTSTATUS EchoSendComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_SEND send = (PECHO_SEND)Context;
  PECHO_CONNECTION connection = send->Connection;
  UNREFERENCED_PARAMETER(DeviceObject);
  if (NT_SUCCESS(Irp->IoStatus.Status)) {
    InterlockedAdd64(&connection->BytesEchoed, (LONG64)Irp->IoStatus.Information);
  }
  /* WskRelease is a call on the socket too: made while the send's reference still holds it. */
  (void)EchoDispatch(connection)->WskRelease(connection->Socket, send->Indication);
  EchoFreeChain(send->Chain);
  IoFreeIrp(send->Irp);
  ExFreePoolWithTag(send, ECHO_TAG);
  EchoDereference(connection); /* the send's reference */
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
  /* Without memory for the send, the bytes cannot be echoed, and refusing them would stall the
   * connection (this driver posts no WskReceive to take them later): the connection ends, and
   * its close resets it. */
  send = (PECHO_SEND)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*send), ECHO_TAG);
  if (send == NULL) {
    EchoFinish(connection);
    return STATUS_SUCCESS;
  }
  send->Chain = NULL;
  send->Buffer = DataIndication->Buffer;
  if (DataIndication->Next != NULL) {
    /* A list of several elements goes out as one send over an MDL chain. */
    if (!EchoChainIndication(DataIndication, &send->Chain)) {
      ExFreePoolWithTag(send, ECHO_TAG);
      EchoFinish(connection);
      return STATUS_SUCCESS;
    }
    send->Buffer.Mdl = send->Chain;
    send->Buffer.Offset = 0;
    send->Buffer.Length = BytesIndicated;
  }
  send->Irp = IoAllocateIrp(1, FALSE);
  if (send->Irp == NULL) {
    EchoFreeChain(send->Chain);
    ExFreePoolWithTag(send, ECHO_TAG);
    EchoFinish(connection);
    return STATUS_SUCCESS;
  }
  /* Two references: one for the WskSend call below, one for the send until it completes. */
  if (!EchoReference(connection, 2)) {
    /* Rule 5: the connection is finishing (its close may be under way); drop the bytes. */
    IoFreeIrp(send->Irp);
    EchoFreeChain(send->Chain);
    ExFreePoolWithTag(send, ECHO_TAG);
    return STATUS_SUCCESS;
  }
  send->Connection = connection;
  send->Indication = DataIndication;
  IoSetCompletionRoutine(send->Irp, EchoSendComplete, send, TRUE, TRUE, TRUE);
  /* The send goes out from the provider's own buffer; its completion routine releases it, which
   * may happen before this callback returns STATUS_PENDING to retain it. */
  (void)EchoDispatch(connection)->WskSend(connection->Socket, &send->Buffer, 0, send->Irp);
  EchoDereference(connection); /* the call's reference */
  return STATUS_PENDING;
}

/* The graceful disconnect is started once, while the connection is Open, with two references:
 * one for the WskDisconnect call, one for its IRP. */
static BOOLEAN EchoStartDisconnect(PECHO_CONNECTION Connection) {
  KIRQL irql;
  BOOLEAN start;
  KeAcquireSpinLock(&Connection->Lock, &irql);
  start = Connection->Open && !Connection->Disconnecting;
  if (start) {
    Connection->Disconnecting = TRUE;
    Connection->References += 2;
  }
  KeReleaseSpinLock(&Connection->Lock, irql);
  return start;
}

static NTSTATUS WSKAPI EchoDisconnectEvent(PVOID SocketContext, ULONG Flags) {
  PECHO_CONNECTION connection = (PECHO_CONNECTION)SocketContext;
  if ((Flags & WSK_FLAG_ABORTIVE) != 0) {
    DbgPrint("echo-server: connection %lu reset by the client\n", connection->Id);
    EchoFinish(connection);
    return STATUS_SUCCESS;
  }
  /* The client is done sending: disconnect our side after the echoes still queued. */
  if (!EchoStartDisconnect(connection)) {
    return STATUS_SUCCESS; /* rule 5 */
  }
  DbgPrint("echo-server: connection %lu: client finished, disconnecting\n", connection->Id);
  IoSetCompletionRoutine(connection->DisconnectIrp, EchoDisconnectComplete, connection, TRUE, TRUE,
                         TRUE);
  (void)EchoDispatch(connection)
      ->WskDisconnect(connection->Socket, NULL, 0, connection->DisconnectIrp);
  EchoDereference(connection); /* the call's reference */
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
    local.v6.sin6_port = RtlUshortByteSwap((USHORT)g_port);
    local.v6.sin6_addr = loopback;
  } else {
    local.v4.sin_family = AF_INET;
    local.v4.sin_port = RtlUshortByteSwap((USHORT)g_port);
    local.v4.sin_addr.s_addr = RtlUlongByteSwap(INADDR_LOOPBACK);
  }
  /* Bound, the listener accepts; the static accept event delivers each connection. */
  IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(irp, EchoSignalComplete, &done, TRUE, TRUE, TRUE);
  status = ((const WSK_PROVIDER_LISTEN_DISPATCH *)g_echo.Listeners[Index]->Dispatch)
               ->WskBind(g_echo.Listeners[Index], (PSOCKADDR)&local, 0, irp);
  status = EchoWait(irp, status, &done);
  g_echo.ListenerIrps[Index] = irp; /* the listener exists either way: EchoUnload closes it */
  if (!NT_SUCCESS(status)) {
    DbgPrint("echo-server: cannot listen on port %lu: 0x%08lX\n", g_port, (ULONG)status);
    return status;
  }
  DbgPrint("echo-server: listening on %s port %lu\n", Family == AF_INET6 ? "[::1]" : "127.0.0.1",
           g_port);
  return STATUS_SUCCESS;
}

/* Closes a socket with an IRP allocated beforehand (an allocation that failed here would leave
 * the socket open and the unload waiting for it), then frees the IRP. */
static VOID EchoCloseSocket(PWSK_SOCKET Socket, PIRP Irp) {
  KEVENT done;
  NTSTATUS status;
  IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  IoSetCompletionRoutine(Irp, EchoSignalComplete, &done, TRUE, TRUE, TRUE);
  status = ((const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)->WskCloseSocket(Socket, Irp);
  (void)EchoWait(Irp, status, &done);
  IoFreeIrp(Irp);
}

/* Resets one connection that is still Open, if any; returns FALSE when none is left. */
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
    /* A reference for the WskDisconnect call below. One that is no longer Open is finishing on
     * its own; it stays on the list (under this lock) until its close completes. */
    if (EchoReference(connection, 1)) {
      victim = connection;
      break;
    }
  }
  KeReleaseSpinLock(&g_echo.Lock, irql);
  if (victim == NULL) {
    return FALSE;
  }
  /* The reset fails the sends in flight, so their references go; without an IRP to make the
   * call, the close resets the connection anyway once they complete. */
  irp = IoAllocateIrp(1, FALSE);
  if (irp != NULL) {
    KeInitializeEvent(&done, SynchronizationEvent, FALSE);
    IoSetCompletionRoutine(irp, EchoSignalComplete, &done, TRUE, TRUE, TRUE);
    status = EchoDispatch(victim)->WskDisconnect(victim->Socket, NULL, WSK_FLAG_ABORTIVE, irp);
    (void)EchoWait(irp, status, &done);
    IoFreeIrp(irp);
  }
  EchoFinish(victim);      /* no longer Open: the next EchoResetOne passes it by */
  EchoDereference(victim); /* the call's reference */
  return TRUE;
}

static VOID EchoUnload(PDRIVER_OBJECT DriverObject) {
  BOOLEAN deregistered = FALSE;
  KIRQL irql;
  ULONG i;
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("echo-server: unloading\n");
  KeAcquireSpinLock(&g_echo.Lock, &irql);
  InterlockedExchange(&g_echo.Stopping, 1);
  if (g_echo.Capturing) {
    /* The start-up thread is still waiting for the WSK subsystem: WskDeregister makes its
     * capture return (or, if the capture has just succeeded, waits until the thread, seeing
     * Stopping, releases it). Nothing else was started. */
    deregistered = TRUE;
  }
  KeReleaseSpinLock(&g_echo.Lock, irql);
  if (deregistered) {
    WskDeregister(&g_echo.Registration);
  }
  if (g_echo.StartThread != NULL) {
    /* A start-up that got past the capture opens the listeners first; they are closed below. */
    KeWaitForSingleObject(g_echo.StartThread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(g_echo.StartThread);
    g_echo.StartThread = NULL;
  }
  /* Closing a listener waits for its accept callbacks: no connection is added after this. */
  for (i = 0; i < 2; i++) {
    if (g_echo.Listeners[i] != NULL) {
      EchoCloseSocket(g_echo.Listeners[i], g_echo.ListenerIrps[i]);
      g_echo.Listeners[i] = NULL;
      g_echo.ListenerIrps[i] = NULL;
    }
  }
  /* Reset what is still open; each connection closes itself once its sends are done. */
  while (EchoResetOne()) {
  }
  /* Wait for the last close to complete: the completion routines use this driver's code and
   * memory, and WskDeregister waits only for the sockets. */
  EchoConnectionGone(); /* the driver's own count */
  KeWaitForSingleObject(&g_echo.AllClosed, Executive, KernelMode, FALSE, NULL);
  if (g_echo.Captured) {
    WskReleaseProviderNPI(&g_echo.Registration);
  }
  if (!deregistered) {
    WskDeregister(&g_echo.Registration);
  }
  DbgPrint("echo-server: unloaded\n");
}

/* Reads the REG_DWORD Port from <RegistryPath>\Parameters into g_port; a missing key or value
 * leaves the default. */
static NTSTATUS EchoReadPort(PUNICODE_STRING RegistryPath) {
  static const WCHAR suffix[] = L"\\Parameters";
  RTL_QUERY_REGISTRY_TABLE table[2];
  UNICODE_STRING key;
  NTSTATUS status;
  key.Length = 0;
  key.MaximumLength = (USHORT)(RegistryPath->Length + sizeof(suffix));
  key.Buffer = (PWCH)ExAllocatePool2(POOL_FLAG_PAGED, key.MaximumLength, ECHO_TAG);
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
  ExFreePoolWithTag(key.Buffer, ECHO_TAG);
  if (NT_SUCCESS(status) && (g_port == 0 || g_port > 65535)) {
    DbgPrint("echo-server: Port %lu is not a TCP port\n", g_port);
    status = STATUS_INVALID_PARAMETER;
  }
  return status;
}

/* Starts serving once the provider NPI is captured: the static events, then the listeners. */
static NTSTATUS EchoStart(VOID) {
  WSK_EVENT_CALLBACK_CONTROL events = {&NPI_WSK_INTERFACE_ID,
                                       WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT};
  /* Before any socket exists: every socket of this client gets these events. */
  NTSTATUS status = g_echo.Provider.Dispatch->WskControlClient(
      g_echo.Provider.Client, WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(events), &events, 0, NULL,
      NULL, NULL);
  if (NT_SUCCESS(status)) {
    status = EchoOpenListener(0, AF_INET);
  }
  if (NT_SUCCESS(status)) {
    status = EchoOpenListener(1, AF_INET6);
  }
  return status;
}

/* The start-up thread, made when the WSK subsystem was not ready at DriverEntry: waits for it,
 * then starts serving unless the driver is being unloaded. A failure is logged; the driver then
 * serves nothing until it is unloaded, which closes whatever was opened. */
static VOID NTAPI EchoStartThread(PVOID Context) {
  BOOLEAN stopping;
  KIRQL irql;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(Context);
  status = WskCaptureProviderNPI(&g_echo.Registration, WSK_INFINITE_WAIT, &g_echo.Provider);
  KeAcquireSpinLock(&g_echo.Lock, &irql);
  g_echo.Capturing = FALSE;
  stopping = g_echo.Stopping != 0;
  if (NT_SUCCESS(status) && !stopping) {
    g_echo.Captured = TRUE;
  }
  KeReleaseSpinLock(&g_echo.Lock, irql);
  if (!NT_SUCCESS(status)) {
    DbgPrint("echo-server: no WSK provider: 0x%08lX\n", (ULONG)status);
  } else if (stopping) {
    WskReleaseProviderNPI(&g_echo.Registration); /* lets EchoUnload's WskDeregister return */
  } else {
    status = EchoStart();
    if (!NT_SUCCESS(status)) {
      DbgPrint("echo-server: cannot start: 0x%08lX\n", (ULONG)status);
    }
  }
  PsTerminateSystemThread(STATUS_SUCCESS);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client_dispatch};
  HANDLE thread;
  NTSTATUS status = EchoReadPort(RegistryPath);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  KeInitializeSpinLock(&g_echo.Lock);
  InitializeListHead(&g_echo.Connections);
  KeInitializeEvent(&g_echo.AllClosed, NotificationEvent, FALSE);
  g_echo.Outstanding = 1; /* the driver's own, released by EchoUnload */
  status = WskRegister(&client, &g_echo.Registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  /* No wait here: DriverEntry must not block on the WSK subsystem. */
  status = WskCaptureProviderNPI(&g_echo.Registration, WSK_NO_WAIT, &g_echo.Provider);
  if (status == STATUS_DEVICE_NOT_READY) {
    g_echo.Capturing = TRUE; /* no other thread yet: no lock needed */
    status =
        PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, EchoStartThread, NULL);
    if (!NT_SUCCESS(status)) {
      WskDeregister(&g_echo.Registration);
      return status;
    }
    (void)ObReferenceObjectByHandle(thread, THREAD_ALL_ACCESS, *PsThreadType, KernelMode,
                                    (PVOID *)&g_echo.StartThread, NULL);
    ZwClose(thread);
    DriverObject->DriverUnload = EchoUnload;
    DbgPrint("echo-server: the WSK subsystem is not ready; starting when it is\n");
    return STATUS_SUCCESS;
  }
  if (!NT_SUCCESS(status)) {
    WskDeregister(&g_echo.Registration);
    return status;
  }
  g_echo.Captured = TRUE;
  DriverObject->DriverUnload = EchoUnload;
  status = EchoStart();
  if (!NT_SUCCESS(status)) {
    EchoUnload(DriverObject);
    return status;
  }
  return STATUS_SUCCESS;
}

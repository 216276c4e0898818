/*
 * echo-server-irp: a WDK-style WSK driver that echoes what its clients send, with IRPs only.
 *
 * It listens on 127.0.0.1 and ::1 (port 20017, the ECHO_PORT the build defines, or the REG_DWORD
 * Port of its Parameters key: uwsk-run --param-dword Port=N), accepts with
 * WskAccept, keeps two receives of 4 KiB (or ECHO_CHUNK bytes) in flight per connection, sends
 * back each chunk it receives, disconnects gracefully when the client does, and on unload resets
 * everything and deregisters. Everything is driven by IRP completion routines, the way Windows
 * WSK drivers that do not use event callbacks are written.
 *
 * Order (the part of this file worth copying with care). With more than one receive in flight,
 * the echo is right only if the chunks go back in the order the receives were issued, which the
 * provider fills in that order. Completion routines give no such order: they may run on any
 * thread, inline in the call that issued the IRP or later on another, even at the same time. So
 * completion routines here only record what happened, and every WSK call on a connection is
 * made by its pump (EchoPump), one call at a time, by one thread at a time:
 *  - the slots are used in a fixed rotation: receive k goes to slot k % ECHO_SLOTS, and its send
 *    goes out only after the send of receive k - 1 was issued (NextReceive, NextSend);
 *  - a slot is given its next receive only once its send has completed;
 *  - when the client has finished (a receive of 0 bytes) and every slot is idle, the pump
 *    disconnects gracefully, then closes the socket; a failure skips the disconnect, and
 *    EchoUnload asks the pump for an abortive disconnect first.
 * The close is the pump's last call: it is made when nothing else is in flight, so it is made
 * once, with no call in progress, and the connection is freed when it completes.
 */
#include <ntddk.h>
#include <ntstrsafe.h>
#include <wsk.h>

#ifndef ECHO_PORT
#define ECHO_PORT 20017
#endif
#define ECHO_TAG 'ohcE' /* "Echo" in pool tools */

static ULONG g_port = ECHO_PORT;
#ifndef ECHO_CHUNK
#define ECHO_CHUNK 4096
#endif
#define ECHO_SLOTS 2

typedef struct _ECHO_CONNECTION ECHO_CONNECTION, *PECHO_CONNECTION;

typedef enum _ECHO_SLOT_STATE {
  SlotIdle,      /* free for the next receive */
  SlotReceiving, /* its receive is in flight */
  SlotReceived,  /* holds a chunk waiting for its turn to be sent */
  SlotSending,   /* its send is in flight */
} ECHO_SLOT_STATE;

/* One receive buffer and the IRP that receives into it, then sends it back. */
typedef struct _ECHO_SLOT {
  PECHO_CONNECTION Connection;
  ECHO_SLOT_STATE State; /* under the connection's lock */
  PIRP Irp;
  PMDL Mdl;
  WSK_BUF Buffer;
  UCHAR Data[ECHO_CHUNK];
} ECHO_SLOT, *PECHO_SLOT;

struct _ECHO_CONNECTION {
  PWSK_SOCKET Socket;
  LIST_ENTRY Links; /* on g_echo.Connections, under g_echo.Lock */
  ULONG Id;
  KSPIN_LOCK Lock;    /* guards everything below */
  BOOLEAN Pumping;    /* a thread is in EchoPump, making this connection's calls */
  ULONG NextReceive;  /* the receive to issue next goes to slot NextReceive % ECHO_SLOTS */
  ULONG NextSend;     /* the chunk to send next is in slot NextSend % ECHO_SLOTS */
  BOOLEAN InputEnded; /* no more receives: the client finished, or the connection failed */
  BOOLEAN Failed;     /* a receive or send failed: drop what is left, skip the disconnect */
  BOOLEAN AbortRequested, AbortIssued, AbortDone; /* EchoUnload's abortive disconnect */
  BOOLEAN DisconnectIssued, DisconnectDone;       /* the graceful disconnect */
  BOOLEAN Closing;                                /* the close was issued */
  PIRP ControlIrp;                                /* the graceful disconnect, then the close */
  PIRP AbortIrp; /* the abortive disconnect, which may have to fail a graceful one in flight */
  ECHO_SLOT Slots[ECHO_SLOTS];
};

typedef struct _ECHO_LISTENER {
  PWSK_SOCKET Socket;
  PIRP AcceptIrp;
  PIRP CloseIrp;
  ADDRESS_FAMILY Family;
  /* Signalled unless AcceptIrp is closing a connection there was no memory for
   * (EchoRejectConnection): the listener's close waits for it before freeing the IRP. */
  KEVENT AcceptIrpIdle;
} ECHO_LISTENER, *PECHO_LISTENER;

static struct {
  WSK_REGISTRATION Registration;
  WSK_PROVIDER_NPI Provider;
  BOOLEAN Captured;
  ECHO_LISTENER Listeners[2];
  KSPIN_LOCK Lock;
  LIST_ENTRY Connections;
  volatile LONG Stopping; /* set once by DriverUnload, read by completion routines */
  LONG Outstanding;       /* listeners and connections not yet closed */
  KEVENT AllClosed;       /* set when Outstanding drops to zero */
  LONG NextId;
} g_echo;

static const WSK_CLIENT_DISPATCH g_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD EchoUnload;
static IO_COMPLETION_ROUTINE EchoAcceptComplete;
static IO_COMPLETION_ROUTINE EchoRejectComplete;
static IO_COMPLETION_ROUTINE EchoReceiveComplete;
static IO_COMPLETION_ROUTINE EchoSendComplete;
static IO_COMPLETION_ROUTINE EchoControlComplete;
static IO_COMPLETION_ROUTINE EchoCloseComplete;
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

static const WSK_PROVIDER_CONNECTION_DISPATCH *EchoDispatch(PECHO_CONNECTION Connection) {
  return (const WSK_PROVIDER_CONNECTION_DISPATCH *)Connection->Socket->Dispatch;
}

static VOID EchoFreeConnection(PECHO_CONNECTION Connection) {
  ULONG i;
  for (i = 0; i < ECHO_SLOTS; i++) {
    if (Connection->Slots[i].Mdl != NULL) {
      IoFreeMdl(Connection->Slots[i].Mdl);
    }
    if (Connection->Slots[i].Irp != NULL) {
      IoFreeIrp(Connection->Slots[i].Irp);
    }
  }
  if (Connection->ControlIrp != NULL) {
    IoFreeIrp(Connection->ControlIrp);
  }
  if (Connection->AbortIrp != NULL) {
    IoFreeIrp(Connection->AbortIrp);
  }
  ExFreePoolWithTag(Connection, ECHO_TAG);
}

/* What the pump does next. */
typedef enum _ECHO_ACTION {
  ActionNone,
  ActionReceive,
  ActionSend,
  ActionAbort,
  ActionDisconnect,
  ActionClose,
} ECHO_ACTION;

/* Under the connection's lock: picks the next call and marks it issued. Sends come before
 * receives, so echoes leave as soon as their turn comes. */
static ECHO_ACTION EchoNextAction(PECHO_CONNECTION Connection, PECHO_SLOT *Slot) {
  PECHO_SLOT send = &Connection->Slots[Connection->NextSend % ECHO_SLOTS];
  PECHO_SLOT receive = &Connection->Slots[Connection->NextReceive % ECHO_SLOTS];
  ULONG i;
  if (Connection->Closing) {
    return ActionNone;
  }
  if (Connection->AbortRequested && !Connection->AbortIssued) {
    Connection->AbortIssued = TRUE;
    Connection->InputEnded = TRUE;
    Connection->Failed = TRUE;
    return ActionAbort;
  }
  /* Chunks in order: the next one to send, once its receive has completed. */
  while (send->State == SlotReceived) {
    Connection->NextSend++;
    if (!Connection->Failed) {
      send->State = SlotSending;
      *Slot = send;
      return ActionSend;
    }
    send->State = SlotIdle; /* the connection failed: the chunk is dropped */
    send = &Connection->Slots[Connection->NextSend % ECHO_SLOTS];
  }
  /* Receives in order: the next slot in the rotation, once its last send has completed. */
  if (!Connection->InputEnded && receive->State == SlotIdle) {
    Connection->NextReceive++;
    receive->State = SlotReceiving;
    *Slot = receive;
    return ActionReceive;
  }
  /* The end: once nothing is in flight. */
  if (!Connection->InputEnded || (Connection->AbortIssued && !Connection->AbortDone) ||
      (Connection->DisconnectIssued && !Connection->DisconnectDone)) {
    return ActionNone;
  }
  for (i = 0; i < ECHO_SLOTS; i++) {
    if (Connection->Slots[i].State != SlotIdle) {
      return ActionNone;
    }
  }
  if (!Connection->Failed && !Connection->DisconnectIssued) {
    Connection->DisconnectIssued = TRUE;
    return ActionDisconnect;
  }
  Connection->Closing = TRUE;
  return ActionClose;
}

/* Makes the connection's calls, in order, while there are calls to make. The caller has set
 * Connection->Pumping; EchoPump below is the usual way in. Completion routines that run
 * meanwhile (inline, in a call made here, or on another thread) only record their outcome and
 * find Pumping set, so this loop sees their changes on its next turn. */
static VOID EchoRunPump(PECHO_CONNECTION Connection) {
  const WSK_PROVIDER_CONNECTION_DISPATCH *dispatch = EchoDispatch(Connection);
  KIRQL irql;
  KeAcquireSpinLock(&Connection->Lock, &irql);
  for (;;) {
    PECHO_SLOT slot = NULL;
    const ECHO_ACTION action = EchoNextAction(Connection, &slot);
    if (action == ActionNone) {
      Connection->Pumping = FALSE;
      KeReleaseSpinLock(&Connection->Lock, irql);
      return;
    }
    KeReleaseSpinLock(&Connection->Lock, irql);
    switch (action) {
    case ActionReceive:
      IoReuseIrp(slot->Irp, STATUS_UNSUCCESSFUL);
      IoSetCompletionRoutine(slot->Irp, EchoReceiveComplete, slot, TRUE, TRUE, TRUE);
      slot->Buffer.Length = ECHO_CHUNK;
      (void)dispatch->WskReceive(Connection->Socket, &slot->Buffer, 0, slot->Irp);
      break;
    case ActionSend:
      /* The chunk goes back from the buffer it arrived in; Buffer.Length is what arrived. */
      IoReuseIrp(slot->Irp, STATUS_UNSUCCESSFUL);
      IoSetCompletionRoutine(slot->Irp, EchoSendComplete, slot, TRUE, TRUE, TRUE);
      (void)dispatch->WskSend(Connection->Socket, &slot->Buffer, 0, slot->Irp);
      break;
    case ActionAbort:
      IoSetCompletionRoutine(Connection->AbortIrp, EchoControlComplete, Connection, TRUE, TRUE,
                             TRUE);
      (void)dispatch->WskDisconnect(Connection->Socket, NULL, WSK_FLAG_ABORTIVE,
                                    Connection->AbortIrp);
      break;
    case ActionDisconnect:
      IoSetCompletionRoutine(Connection->ControlIrp, EchoControlComplete, Connection, TRUE, TRUE,
                             TRUE);
      (void)dispatch->WskDisconnect(Connection->Socket, NULL, 0, Connection->ControlIrp);
      break;
    default: /* ActionClose: the last call. Its completion frees the connection, which may
              * already have happened when WskCloseSocket returns; Pumping stays set, as nothing
              * may run the pump again. */
      DbgPrint("echo-server-irp: connection %lu: closing\n", Connection->Id);
      IoReuseIrp(Connection->ControlIrp, STATUS_UNSUCCESSFUL);
      IoSetCompletionRoutine(Connection->ControlIrp, EchoCloseComplete, Connection, TRUE, TRUE,
                             TRUE);
      (void)dispatch->WskCloseSocket(Connection->Socket, Connection->ControlIrp);
      return;
    }
    KeAcquireSpinLock(&Connection->Lock, &irql);
  }
}

/* Runs the pump unless another thread is running it (that one will see what changed). */
static VOID EchoPump(PECHO_CONNECTION Connection) {
  KIRQL irql;
  BOOLEAN running;
  KeAcquireSpinLock(&Connection->Lock, &irql);
  running = Connection->Pumping;
  Connection->Pumping = TRUE;
  KeReleaseSpinLock(&Connection->Lock, irql);
  if (!running) {
    EchoRunPump(Connection);
  }
}

static NTSTATUS EchoReceiveComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_SLOT slot = (PECHO_SLOT)Context;
  PECHO_CONNECTION connection = slot->Connection;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  KeAcquireSpinLock(&connection->Lock, &irql);
  if (NT_SUCCESS(Irp->IoStatus.Status) && Irp->IoStatus.Information != 0) {
    slot->Buffer.Length = Irp->IoStatus.Information;
    slot->State = SlotReceived;
  } else {
    /* 0 bytes: the client closed its side. A failure: the connection is broken. */
    slot->State = SlotIdle;
    connection->InputEnded = TRUE;
    connection->Failed = connection->Failed || !NT_SUCCESS(Irp->IoStatus.Status);
  }
  KeReleaseSpinLock(&connection->Lock, irql);
  EchoPump(connection);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS EchoSendComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_SLOT slot = (PECHO_SLOT)Context;
  PECHO_CONNECTION connection = slot->Connection;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  KeAcquireSpinLock(&connection->Lock, &irql);
  slot->State = SlotIdle;
  if (!NT_SUCCESS(Irp->IoStatus.Status)) {
    connection->InputEnded = TRUE;
    connection->Failed = TRUE;
  }
  KeReleaseSpinLock(&connection->Lock, irql);
  EchoPump(connection);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* The graceful or the abortive disconnect completed; either way, the pump goes on. */
static NTSTATUS EchoControlComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_CONNECTION connection = (PECHO_CONNECTION)Context;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  KeAcquireSpinLock(&connection->Lock, &irql);
  if (Irp == connection->AbortIrp) {
    connection->AbortDone = TRUE;
  } else {
    connection->DisconnectDone = TRUE;
  }
  KeReleaseSpinLock(&connection->Lock, irql);
  EchoPump(connection);
  return STATUS_MORE_PROCESSING_REQUIRED;
}
static NTSTATUS EchoCloseComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_CONNECTION connection = (PECHO_CONNECTION)Context;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  DbgPrint("echo-server-irp: connection %lu closed\n", connection->Id);
  KeAcquireSpinLock(&g_echo.Lock, &irql);
  RemoveEntryList(&connection->Links);
  KeReleaseSpinLock(&g_echo.Lock, irql);
  EchoFreeConnection(connection); /* Irp (ControlIrp) included */
  EchoRelease();
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Takes an accepted socket into a new connection. FALSE when there is no memory for one: the
 * caller then closes the socket (EchoRejectConnection). */
static BOOLEAN EchoStartConnection(PWSK_SOCKET Socket, PSOCKADDR Remote) {
  PECHO_CONNECTION connection;
  BOOLEAN complete;
  ULONG i;
  KIRQL irql;
  connection =
      (PECHO_CONNECTION)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*connection), ECHO_TAG);
  if (connection == NULL) {
    return FALSE;
  }
  connection->ControlIrp = IoAllocateIrp(1, FALSE);
  if (connection->ControlIrp == NULL) {
    ExFreePoolWithTag(connection, ECHO_TAG);
    return FALSE;
  }
  connection->Socket = Socket;
  connection->Id = (ULONG)InterlockedIncrement(&g_echo.NextId);
  KeInitializeSpinLock(&connection->Lock);
  connection->AbortIrp = IoAllocateIrp(1, FALSE);
  complete = connection->AbortIrp != NULL;
  for (i = 0; i < ECHO_SLOTS; i++) {
    PECHO_SLOT slot = &connection->Slots[i];
    slot->Connection = connection;
    slot->State = SlotIdle;
    slot->Irp = IoAllocateIrp(1, FALSE);
    slot->Mdl = IoAllocateMdl(slot->Data, ECHO_CHUNK, FALSE, FALSE, NULL);
    if (slot->Mdl != NULL) {
      MmBuildMdlForNonPagedPool(slot->Mdl);
    }
    slot->Buffer.Mdl = slot->Mdl;
    slot->Buffer.Offset = 0;
    slot->Buffer.Length = ECHO_CHUNK;
    complete = complete && slot->Irp != NULL && slot->Mdl != NULL;
  }
  if (!complete) {
    connection->InputEnded = TRUE; /* the pump closes it at once */
    connection->Failed = TRUE;
  }
  InterlockedIncrement(&g_echo.Outstanding);
  KeAcquireSpinLock(&g_echo.Lock, &irql);
  InsertTailList(&g_echo.Connections, &connection->Links);
  /* Under the lock EchoUnload scans the list with: a connection it cannot have seen there
   * sees Stopping here. */
  connection->AbortRequested = ReadAcquire(&g_echo.Stopping) != 0;
  KeReleaseSpinLock(&g_echo.Lock, irql);
  if (Remote->sa_family == AF_INET6) {
    DbgPrint("echo-server-irp: connection %lu from [::1]:%u\n", connection->Id,
             RtlUshortByteSwap(((PSOCKADDR_IN6)Remote)->sin6_port));
  } else {
    DbgPrint("echo-server-irp: connection %lu from 127.0.0.1:%u\n", connection->Id,
             RtlUshortByteSwap(((PSOCKADDR_IN)Remote)->sin_port));
  }
  EchoPump(connection); /* the first receives */
  return TRUE;
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

/* No memory for a connection: the accepted socket is closed with the accept IRP itself, which
 * needs no allocation, and the next accept is posted once the close completed. */
static VOID EchoRejectConnection(PECHO_LISTENER Listener, PWSK_SOCKET Socket) {
  DbgPrint("echo-server-irp: no memory for a connection; closing it\n");
  KeClearEvent(&Listener->AcceptIrpIdle);
  IoReuseIrp(Listener->AcceptIrp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(Listener->AcceptIrp, EchoRejectComplete, Listener, TRUE, TRUE, TRUE);
  (void)((const WSK_PROVIDER_CONNECTION_DISPATCH *)Socket->Dispatch)
      ->WskCloseSocket(Socket, Listener->AcceptIrp);
}

static NTSTATUS EchoRejectComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_LISTENER listener = (PECHO_LISTENER)Context;
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  if (!ReadAcquire(&g_echo.Stopping)) {
    EchoPostAccept(listener);
  }
  KeSetEvent(&listener->AcceptIrpIdle, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS EchoAcceptComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PECHO_LISTENER listener = (PECHO_LISTENER)Context;
  ULONG index = (ULONG)(listener - g_echo.Listeners);
  UNREFERENCED_PARAMETER(DeviceObject);
  if (NT_SUCCESS(Irp->IoStatus.Status) &&
      !EchoStartConnection((PWSK_SOCKET)Irp->IoStatus.Information,
                           (PSOCKADDR)&g_accept_remote[index])) {
    EchoRejectConnection(listener, (PWSK_SOCKET)Irp->IoStatus.Information);
    return STATUS_MORE_PROCESSING_REQUIRED;
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
  KeInitializeEvent(&Listener->AcceptIrpIdle, NotificationEvent, TRUE);
  /* Both IRPs first: a listener that exists can always be closed. */
  Listener->CloseIrp = IoAllocateIrp(1, FALSE);
  if (irp == NULL || Listener->CloseIrp == NULL) {
    if (irp != NULL) {
      IoFreeIrp(irp);
    }
    if (Listener->CloseIrp != NULL) {
      IoFreeIrp(Listener->CloseIrp);
      Listener->CloseIrp = NULL;
    }
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
    IoFreeIrp(Listener->CloseIrp);
    Listener->CloseIrp = NULL;
    return status;
  }
  Listener->Socket = (PWSK_SOCKET)irp->IoStatus.Information;
  Listener->Family = Family;
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
  IoSetCompletionRoutine(irp, EchoSignalComplete, &done, TRUE, TRUE, TRUE);
  status = ((const WSK_PROVIDER_LISTEN_DISPATCH *)Listener->Socket->Dispatch)
               ->WskBind(Listener->Socket, (PSOCKADDR)&local, 0, irp);
  status = EchoWait(irp, status, &done);
  Listener->AcceptIrp = irp;
  InterlockedIncrement(&g_echo.Outstanding);
  if (!NT_SUCCESS(status)) {
    DbgPrint("echo-server-irp: cannot listen on port %lu: 0x%08lX\n", g_port, (ULONG)status);
    return status;
  }
  DbgPrint("echo-server-irp: listening on %s port %lu\n",
           Family == AF_INET6 ? "[::1]" : "127.0.0.1", g_port);
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
  (void)KeWaitForSingleObject(&Listener->AcceptIrpIdle, Executive, KernelMode, FALSE, NULL);
  IoFreeIrp(Listener->CloseIrp);
  IoFreeIrp(Listener->AcceptIrp);
  Listener->Socket = NULL;
  EchoRelease();
}

static VOID EchoUnload(PDRIVER_OBJECT DriverObject) {
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
  /* Ask each connection's pump for an abortive disconnect: its receives and sends then fail,
   * and the pump closes it. A pump that is not running is run here, by this thread, which then
   * owns it: nobody else can close the connection meanwhile. */
  for (;;) {
    PECHO_CONNECTION victim = NULL;
    BOOLEAN run = FALSE;
    KeAcquireSpinLock(&g_echo.Lock, &irql);
    for (entry = g_echo.Connections.Flink; entry != &g_echo.Connections; entry = entry->Flink) {
      PECHO_CONNECTION connection = CONTAINING_RECORD(entry, ECHO_CONNECTION, Links);
      KeAcquireSpinLockAtDpcLevel(&connection->Lock);
      if (!connection->AbortRequested) {
        connection->AbortRequested = TRUE;
        run = !connection->Pumping;
        connection->Pumping = TRUE;
        victim = connection;
      }
      KeReleaseSpinLockFromDpcLevel(&connection->Lock);
      if (victim != NULL) {
        break;
      }
    }
    KeReleaseSpinLock(&g_echo.Lock, irql);
    if (victim == NULL) {
      break;
    }
    if (run) {
      EchoRunPump(victim);
    }
  }
  /* The connections close themselves; wait for the last close to complete. */
  EchoRelease(); /* DriverEntry's own reference */
  KeWaitForSingleObject(&g_echo.AllClosed, Executive, KernelMode, FALSE, NULL);
  if (g_echo.Captured) {
    WskReleaseProviderNPI(&g_echo.Registration);
  }
  WskDeregister(&g_echo.Registration);
  DbgPrint("echo-server-irp: unloaded\n");
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
    DbgPrint("echo-server-irp: Port %lu is not a port number\n", g_port);
    status = STATUS_INVALID_PARAMETER;
  }
  return status;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client_dispatch};
  NTSTATUS status = EchoReadPort(RegistryPath);
  if (!NT_SUCCESS(status)) {
    return status;
  }
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

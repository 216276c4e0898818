/*
 * pipelined_echo: a WDK-style WSK echo driver that keeps several receives in flight per
 * connection, written the way pipelining IRP drivers are written on Windows.
 *
 * - It listens on Address:Port (REG_SZ Address, default 127.0.0.1, IPv4 or IPv6 literal;
 *   REG_DWORD Port, default 0: the system picks one, which the log gives as "listening on ...
 *   port N") and keeps two WskAccept IRPs pending.
 * - Per connection it keeps Receives (REG_DWORD, 1..64, default 2) WskReceive IRPs of Chunk
 *   (REG_DWORD, 1..1048576, default 4096) bytes in flight. A receive's completion queues a send
 *   of its buffer; the send's completion posts the receive again.
 * - A stream is only echoed intact if chunks go back in the order their receives were
 *   *submitted*: each receive takes a sequence number when it is posted, and the chunk of
 *   receive k is sent only after the chunks of every receive before k. A provider that completes
 *   receives in any order is tolerated; one that hands the stream's bytes to its receives in a
 *   different order than they were posted makes the echo differ from what the client sent.
 * - docs/design.md promises more: several pending receives (or sends) of a socket complete in
 *   the order they were issued. The driver checks that too: a completion that overtakes an
 *   earlier-issued IRP of its kind still in flight is counted (the first ten are described),
 *   and the summary gives the counts. With CompletionOrder (REG_DWORD 1) the driver relies on
 *   that promise the way simpler drivers do: it sends each chunk as its receive completes, so
 *   completions out of order show in the echoed bytes.
 * - The 0-byte receive (the peer's FIN), once everything before it was sent and every send has
 *   completed, leads to a graceful WskDisconnect, then WskCloseSocket.
 * - Every call on a connection's socket is made by one "pump" at a time (a running flag under
 *   the connection's spin lock), so receives are posted in sequence order and no call overlaps
 *   WskCloseSocket. Completion routines only record their result and run the pump; whoever finds
 *   it running leaves the work to it, so inline completions never recurse.
 * - On unload: the listener is closed, every connection is reset with an abortive WskDisconnect
 *   and closed once its IRPs are back, and WskDeregister waits for the last socket. The driver
 *   logs a summary: connections, bytes echoed, connections that failed.
 */
#include <ntddk.h>
#include <ntstrsafe.h>
#include <wsk.h>
#include <ip2string.h>

#define PE_TAG 'EpiP' /* "PipE" in pool tools */
#define PE_MAX_RECEIVES 64
#define PE_MAX_CHUNK (1024 * 1024)
#define PE_ACCEPTS 2
#define PE_ADDRESS_CHARS 64

typedef union _PE_ADDRESS {
  SOCKADDR sa;
  SOCKADDR_IN v4;
  SOCKADDR_IN6 v6;
} PE_ADDRESS;

typedef struct _PE_CONNECTION PE_CONNECTION, *PPE_CONNECTION;

typedef enum _PE_SLOT_STATE {
  PeSlotIdle,      /* ready for a receive */
  PeSlotReceiving, /* its WskReceive is in flight */
  PeSlotReceived,  /* completed; waits for its turn to be sent */
  PeSlotSending,   /* its WskSend is in flight */
  PeSlotDone       /* no more receives: FIN, failure or unload */
} PE_SLOT_STATE;

typedef struct _PE_SLOT {
  PPE_CONNECTION Connection;
  PIRP Irp;
  PMDL Mdl;
  PUCHAR Data;
  WSK_BUF Buffer;
  PE_SLOT_STATE State;
  ULONG64 Sequence; /* the order its current receive was posted in */
  ULONG64 Arrival;  /* the order its current receive completed in */
  NTSTATUS Status;  /* of the last receive */
  ULONG_PTR Bytes;  /* of the last receive */
} PE_SLOT, *PPE_SLOT;

struct _PE_CONNECTION {
  PWSK_SOCKET Socket;
  LIST_ENTRY Links; /* on g_pe.Connections, under g_pe.Lock */
  LONG References;  /* 1 until the close completes; EchoUnload holds one while it pumps */
  ULONG Id;
  KSPIN_LOCK Lock; /* guards everything below */
  BOOLEAN Running; /* a thread is in PePump */
  BOOLEAN FinSeen; /* the 0-byte receive reached its turn */
  BOOLEAN Failed;  /* a receive or send failed, or unload: reset instead of disconnecting */
  BOOLEAN AbortIssued;
  BOOLEAN DisconnectIssued;
  BOOLEAN DisconnectDone;
  ULONG InFlight; /* IRPs issued and not yet completed */
  ULONG64 NextReceiveSequence;
  ULONG64 NextSendSequence;
  ULONG64 NextArrival;
  ULONG64 BytesEchoed;
  ULONG64 ReceivesReordered; /* completed while an earlier-posted receive had not */
  ULONG64 SendsReordered;    /* the same for sends */
  NTSTATUS FirstFailure;
  PIRP ControlIrp; /* the graceful disconnect, then the close */
  PIRP AbortIrp;
  ULONG SlotCount;
  PE_SLOT Slots[1]; /* SlotCount of them */
};

typedef struct _PE_ACCEPT {
  PIRP Irp;
  BOOLEAN Pending;
  PE_ADDRESS Local;
  PE_ADDRESS Remote;
} PE_ACCEPT, *PPE_ACCEPT;

static struct {
  WSK_REGISTRATION Registration;
  WSK_PROVIDER_NPI Provider;
  BOOLEAN Registered;
  BOOLEAN Captured;

  /* Parameters. */
  ULONG Receives;
  ULONG Chunk;
  ULONG Port;
  ULONG CompletionOrder; /* 1: send chunks in the order their receives completed */
  PE_ADDRESS Address;
  CHAR AddressText[PE_ADDRESS_CHARS];

  /* The listener, with its own pump (under ListenerLock). */
  PWSK_SOCKET Listener;
  KSPIN_LOCK ListenerLock;
  BOOLEAN ListenerRunning;
  BOOLEAN ListenerClosing;
  PE_ACCEPT Accepts[PE_ACCEPTS];
  PIRP ListenerCloseIrp;
  KEVENT ListenerClosed;

  KSPIN_LOCK Lock; /* Connections */
  LIST_ENTRY Connections;
  volatile LONG Stopping; /* set once by the unload */
  LONG Outstanding;       /* 1 for the driver, 1 per connection not yet closed */
  KEVENT AllClosed;
  LONG NextId;

  /* Totals, for the unload summary. */
  LONG64 Accepted;
  LONG64 Finished; /* disconnected gracefully after the peer's FIN */
  LONG64 FailedCount;
  LONG64 BytesEchoed;
  LONG64 ReceivesReordered;
  LONG64 SendsReordered;
  LONG64 ConnectionsReordered;
  LONG Reported; /* reordered completions described in the log so far */
} g_pe;

static const WSK_CLIENT_DISPATCH g_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD PeUnload;
static IO_COMPLETION_ROUTINE PeReceiveComplete;
static IO_COMPLETION_ROUTINE PeSendComplete;
static IO_COMPLETION_ROUTINE PeAbortComplete;
static IO_COMPLETION_ROUTINE PeDisconnectComplete;
static IO_COMPLETION_ROUTINE PeCloseComplete;
static IO_COMPLETION_ROUTINE PeAcceptComplete;
static IO_COMPLETION_ROUTINE PeListenerCloseComplete;
static IO_COMPLETION_ROUTINE PeSignalComplete;

static const WSK_PROVIDER_CONNECTION_DISPATCH *PeConnectionDispatch(PWSK_SOCKET Socket) {
  return (const WSK_PROVIDER_CONNECTION_DISPATCH *)Socket->Dispatch;
}

static const WSK_PROVIDER_LISTEN_DISPATCH *PeListenDispatch(PWSK_SOCKET Socket) {
  return (const WSK_PROVIDER_LISTEN_DISPATCH *)Socket->Dispatch;
}

static VOID PeRelease(VOID) {
  if (InterlockedDecrement(&g_pe.Outstanding) == 0) {
    KeSetEvent(&g_pe.AllClosed, IO_NO_INCREMENT, FALSE);
  }
}

/* ---- Synchronous calls (set-up) ---------------------------------------------------------- */

static NTSTATUS PeSignalComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static PIRP PeSyncIrp(PIRP Irp, PKEVENT Done) {
  IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
  KeClearEvent(Done);
  IoSetCompletionRoutine(Irp, PeSignalComplete, Done, TRUE, TRUE, TRUE);
  return Irp;
}

static NTSTATUS PeSyncWait(PIRP Irp, PKEVENT Done, NTSTATUS Status) {
  if (Status == STATUS_PENDING) {
    KeWaitForSingleObject(Done, Executive, KernelMode, FALSE, NULL);
  }
  return Irp->IoStatus.Status;
}

/* ---- Connections --------------------------------------------------------------------------- */

static VOID PeDereference(PPE_CONNECTION Connection) {
  ULONG i;
  KIRQL irql;
  if (InterlockedDecrement(&Connection->References) != 0) {
    return;
  }
  KeAcquireSpinLock(&g_pe.Lock, &irql);
  RemoveEntryList(&Connection->Links);
  KeReleaseSpinLock(&g_pe.Lock, irql);
  for (i = 0; i < Connection->SlotCount; i++) {
    PPE_SLOT slot = &Connection->Slots[i];
    if (slot->Mdl != NULL) {
      IoFreeMdl(slot->Mdl);
    }
    if (slot->Data != NULL) {
      ExFreePoolWithTag(slot->Data, PE_TAG);
    }
    if (slot->Irp != NULL) {
      IoFreeIrp(slot->Irp);
    }
  }
  if (Connection->ControlIrp != NULL) {
    IoFreeIrp(Connection->ControlIrp);
  }
  if (Connection->AbortIrp != NULL) {
    IoFreeIrp(Connection->AbortIrp);
  }
  ExFreePoolWithTag(Connection, PE_TAG);
  PeRelease();
}

typedef enum _PE_ACTION {
  PeActionNone,
  PeActionAbort,
  PeActionSend,
  PeActionReceive,
  PeActionDisconnect,
  PeActionClose
} PE_ACTION;

/* Marks the connection failed (under its lock), keeping the first reason. */
static VOID PeFail(PPE_CONNECTION Connection, NTSTATUS Status) {
  if (!Connection->Failed) {
    Connection->Failed = TRUE;
    Connection->FirstFailure = Status;
  }
}

/* The next call to make, under the connection's lock; updates the state as if it was made. */
static PE_ACTION PeChoose(PPE_CONNECTION Connection, PPE_SLOT *Slot) {
  ULONG i;
  BOOLEAN settled;
  if (ReadAcquire(&g_pe.Stopping) && !Connection->Failed && !Connection->DisconnectIssued) {
    PeFail(Connection, STATUS_CANCELLED);
  }
  /* A failed connection is reset, which returns every receive still parked. */
  if (Connection->Failed && !Connection->AbortIssued && !Connection->DisconnectIssued) {
    Connection->AbortIssued = TRUE;
    Connection->InFlight++;
    return PeActionAbort;
  }
  /* Chunks go back in the order their receives were posted (or, with CompletionOrder, in the
   * order they completed, which equals it only if the provider completes them in order). */
  for (;;) {
    PPE_SLOT next = NULL;
    for (i = 0; i < Connection->SlotCount; i++) {
      PPE_SLOT slot = &Connection->Slots[i];
      if (slot->State != PeSlotReceived) {
        continue;
      }
      if (g_pe.CompletionOrder ? next == NULL || slot->Arrival < next->Arrival
                               : slot->Sequence == Connection->NextSendSequence) {
        next = slot;
      }
    }
    if (next == NULL) {
      break;
    }
    Connection->NextSendSequence++;
    if (!NT_SUCCESS(next->Status)) {
      PeFail(Connection, next->Status);
      next->State = PeSlotDone;
      if (!Connection->AbortIssued && !Connection->DisconnectIssued) {
        Connection->AbortIssued = TRUE;
        Connection->InFlight++;
        return PeActionAbort;
      }
    } else if (next->Bytes == 0) {
      Connection->FinSeen = TRUE;
      next->State = PeSlotDone;
    } else if (Connection->Failed) {
      next->State = PeSlotDone; /* nothing is sent after a failure */
    } else {
      next->State = PeSlotSending;
      Connection->InFlight++;
      *Slot = next;
      return PeActionSend;
    }
  }
  /* Receives are posted in sequence order: only this pump posts them. */
  for (i = 0; i < Connection->SlotCount; i++) {
    PPE_SLOT slot = &Connection->Slots[i];
    if (slot->State != PeSlotIdle) {
      continue;
    }
    if (Connection->FinSeen || Connection->Failed) {
      slot->State = PeSlotDone;
      continue;
    }
    slot->State = PeSlotReceiving;
    slot->Sequence = Connection->NextReceiveSequence++;
    Connection->InFlight++;
    *Slot = slot;
    return PeActionReceive;
  }
  /* Everything settled: disconnect after the FIN, then close. */
  settled = Connection->InFlight == 0;
  for (i = 0; i < Connection->SlotCount && settled; i++) {
    settled = Connection->Slots[i].State == PeSlotDone;
  }
  if (!settled) {
    return PeActionNone;
  }
  if (Connection->FinSeen && !Connection->Failed && !Connection->DisconnectIssued) {
    Connection->DisconnectIssued = TRUE;
    Connection->InFlight++;
    return PeActionDisconnect;
  }
  return PeActionClose;
}

/* Makes the connection's calls, one at a time, until there is nothing to do. Called by every
 * completion routine after recording its result; a call while another thread pumps returns at
 * once, and that thread sees the new state before it stops (both run under the lock). */
static VOID PePump(PPE_CONNECTION Connection) {
  const WSK_PROVIDER_CONNECTION_DISPATCH *dispatch = PeConnectionDispatch(Connection->Socket);
  KIRQL irql;
  KeAcquireSpinLock(&Connection->Lock, &irql);
  if (Connection->Running) {
    KeReleaseSpinLock(&Connection->Lock, irql);
    return;
  }
  Connection->Running = TRUE;
  for (;;) {
    PPE_SLOT slot = NULL;
    PE_ACTION action = PeChoose(Connection, &slot);
    if (action == PeActionNone) {
      Connection->Running = FALSE;
      KeReleaseSpinLock(&Connection->Lock, irql);
      return;
    }
    KeReleaseSpinLock(&Connection->Lock, irql);
    switch (action) {
    case PeActionAbort:
      IoReuseIrp(Connection->AbortIrp, STATUS_UNSUCCESSFUL);
      IoSetCompletionRoutine(Connection->AbortIrp, PeAbortComplete, Connection, TRUE, TRUE, TRUE);
      (void)dispatch->WskDisconnect(Connection->Socket, NULL, WSK_FLAG_ABORTIVE,
                                    Connection->AbortIrp);
      break;
    case PeActionSend:
      IoReuseIrp(slot->Irp, STATUS_UNSUCCESSFUL);
      IoSetCompletionRoutine(slot->Irp, PeSendComplete, slot, TRUE, TRUE, TRUE);
      slot->Buffer.Length = slot->Bytes;
      (void)dispatch->WskSend(Connection->Socket, &slot->Buffer, 0, slot->Irp);
      break;
    case PeActionReceive:
      IoReuseIrp(slot->Irp, STATUS_UNSUCCESSFUL);
      IoSetCompletionRoutine(slot->Irp, PeReceiveComplete, slot, TRUE, TRUE, TRUE);
      slot->Buffer.Length = g_pe.Chunk;
      (void)dispatch->WskReceive(Connection->Socket, &slot->Buffer, 0, slot->Irp);
      break;
    case PeActionDisconnect:
      IoReuseIrp(Connection->ControlIrp, STATUS_UNSUCCESSFUL);
      IoSetCompletionRoutine(Connection->ControlIrp, PeDisconnectComplete, Connection, TRUE, TRUE,
                             TRUE);
      (void)dispatch->WskDisconnect(Connection->Socket, NULL, 0, Connection->ControlIrp);
      break;
    case PeActionClose:
      /* The last call: Running stays TRUE, so nothing else is made on this socket, and the
       * connection may be gone once the close completes. */
      if (Connection->Failed) {
        InterlockedIncrement64(&g_pe.FailedCount);
        if (Connection->FirstFailure != STATUS_CANCELLED) {
          DbgPrint("pipelined-echo: connection %lu failed: 0x%08lX after %llu bytes\n",
                   Connection->Id, (ULONG)Connection->FirstFailure, Connection->BytesEchoed);
        }
      } else {
        InterlockedIncrement64(&g_pe.Finished);
      }
      InterlockedAdd64(&g_pe.BytesEchoed, (LONG64)Connection->BytesEchoed);
      InterlockedAdd64(&g_pe.ReceivesReordered, (LONG64)Connection->ReceivesReordered);
      InterlockedAdd64(&g_pe.SendsReordered, (LONG64)Connection->SendsReordered);
      if (Connection->ReceivesReordered != 0 || Connection->SendsReordered != 0) {
        InterlockedIncrement64(&g_pe.ConnectionsReordered);
      }
      IoReuseIrp(Connection->ControlIrp, STATUS_UNSUCCESSFUL);
      IoSetCompletionRoutine(Connection->ControlIrp, PeCloseComplete, Connection, TRUE, TRUE, TRUE);
      (void)dispatch->WskCloseSocket(Connection->Socket, Connection->ControlIrp);
      return;
    default:
      break;
    }
    KeAcquireSpinLock(&Connection->Lock, &irql);
  }
}

/* The sequence number of a slot in State that was posted (receive) or issued (send) before
 * Slot, or 0 if there is none; under the connection's lock. Sends are issued in the order of
 * their receives' sequence numbers, so both compare by Sequence. */
static ULONG64 PeEarlierInFlight(PPE_CONNECTION Connection, PPE_SLOT Slot, PE_SLOT_STATE State) {
  ULONG64 earlier = 0;
  ULONG i;
  for (i = 0; i < Connection->SlotCount; i++) {
    PPE_SLOT other = &Connection->Slots[i];
    if (other != Slot && other->State == State && other->Sequence < Slot->Sequence &&
        (earlier == 0 || other->Sequence < earlier)) {
      earlier = other->Sequence;
    }
  }
  return earlier;
}

/* docs/design.md: several pending receives or sends of a socket complete in the order issued.
 * A completion that overtook an earlier one is counted, and the first few are described. */
static VOID PeReportReordered(PPE_CONNECTION Connection, const char *What, ULONG64 Sequence,
                              ULONG64 Earlier) {
  if (InterlockedIncrement(&g_pe.Reported) <= 10) {
    DbgPrint("pipelined-echo: connection %lu: %s #%llu completed before #%llu, which was "
             "issued earlier\n",
             Connection->Id, What, Sequence, Earlier);
  }
}

static NTSTATUS PeReceiveComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PPE_SLOT slot = (PPE_SLOT)Context;
  PPE_CONNECTION connection = slot->Connection;
  ULONG64 earlier = 0;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  KeAcquireSpinLock(&connection->Lock, &irql);
  if (NT_SUCCESS(Irp->IoStatus.Status)) {
    earlier = PeEarlierInFlight(connection, slot, PeSlotReceiving);
    connection->ReceivesReordered += earlier != 0;
  }
  slot->Status = Irp->IoStatus.Status;
  slot->Bytes = NT_SUCCESS(Irp->IoStatus.Status) ? Irp->IoStatus.Information : 0;
  slot->Arrival = connection->NextArrival++;
  slot->State = PeSlotReceived;
  connection->InFlight--;
  KeReleaseSpinLock(&connection->Lock, irql);
  if (earlier != 0) {
    PeReportReordered(connection, "receive", slot->Sequence, earlier);
  }
  PePump(connection);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS PeSendComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PPE_SLOT slot = (PPE_SLOT)Context;
  PPE_CONNECTION connection = slot->Connection;
  ULONG64 sequence = slot->Sequence;
  ULONG64 earlier = 0;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  KeAcquireSpinLock(&connection->Lock, &irql);
  if (!NT_SUCCESS(Irp->IoStatus.Status)) {
    PeFail(connection, Irp->IoStatus.Status);
  } else if (Irp->IoStatus.Information != slot->Bytes) {
    /* A send completes only when all of its buffer was taken. */
    PeFail(connection, STATUS_UNSUCCESSFUL);
  } else {
    connection->BytesEchoed += slot->Bytes;
    earlier = PeEarlierInFlight(connection, slot, PeSlotSending);
    connection->SendsReordered += earlier != 0;
  }
  slot->State = PeSlotIdle;
  connection->InFlight--;
  KeReleaseSpinLock(&connection->Lock, irql);
  if (earlier != 0) {
    PeReportReordered(connection, "send", sequence, earlier);
  }
  PePump(connection);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS PeAbortComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PPE_CONNECTION connection = (PPE_CONNECTION)Context;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeAcquireSpinLock(&connection->Lock, &irql);
  connection->InFlight--;
  KeReleaseSpinLock(&connection->Lock, irql);
  PePump(connection);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS PeDisconnectComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PPE_CONNECTION connection = (PPE_CONNECTION)Context;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  KeAcquireSpinLock(&connection->Lock, &irql);
  if (!NT_SUCCESS(Irp->IoStatus.Status)) {
    PeFail(connection, Irp->IoStatus.Status);
  }
  connection->DisconnectDone = TRUE;
  connection->InFlight--;
  KeReleaseSpinLock(&connection->Lock, irql);
  PePump(connection);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS PeCloseComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  PeDereference((PPE_CONNECTION)Context);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Takes over an accepted socket. */
static VOID PeStartConnection(PWSK_SOCKET Socket) {
  SIZE_T size = FIELD_OFFSET(PE_CONNECTION, Slots) + (SIZE_T)g_pe.Receives * sizeof(PE_SLOT);
  PPE_CONNECTION connection;
  BOOLEAN complete;
  ULONG i;
  KIRQL irql;

  connection = (PPE_CONNECTION)ExAllocatePool2(POOL_FLAG_NON_PAGED, size, PE_TAG);
  if (connection == NULL) {
    /* Nothing to close it with: the socket is left to the leak report. */
    DbgPrint("pipelined-echo: out of memory for a connection\n");
    return;
  }
  KeInitializeSpinLock(&connection->Lock);
  connection->Socket = Socket;
  connection->References = 1;
  connection->Id = (ULONG)InterlockedIncrement(&g_pe.NextId);
  connection->SlotCount = g_pe.Receives;
  connection->NextReceiveSequence = 1; /* 0 means "none" to PeEarlierInFlight */
  connection->NextSendSequence = 1;
  connection->ControlIrp = IoAllocateIrp(1, FALSE);
  connection->AbortIrp = IoAllocateIrp(1, FALSE);
  complete = connection->ControlIrp != NULL && connection->AbortIrp != NULL;
  for (i = 0; i < connection->SlotCount; i++) {
    PPE_SLOT slot = &connection->Slots[i];
    slot->Connection = connection;
    slot->State = PeSlotIdle;
    slot->Irp = IoAllocateIrp(1, FALSE);
    slot->Data = (PUCHAR)ExAllocatePool2(POOL_FLAG_NON_PAGED, g_pe.Chunk, PE_TAG);
    if (slot->Data != NULL) {
      slot->Mdl = IoAllocateMdl(slot->Data, g_pe.Chunk, FALSE, FALSE, NULL);
      if (slot->Mdl != NULL) {
        MmBuildMdlForNonPagedPool(slot->Mdl);
      }
    }
    slot->Buffer.Mdl = slot->Mdl;
    slot->Buffer.Offset = 0;
    slot->Buffer.Length = g_pe.Chunk;
    complete = complete && slot->Irp != NULL && slot->Mdl != NULL;
  }
  InterlockedIncrement(&g_pe.Outstanding);
  InterlockedIncrement64(&g_pe.Accepted);
  KeAcquireSpinLock(&g_pe.Lock, &irql);
  InsertTailList(&g_pe.Connections, &connection->Links);
  KeReleaseSpinLock(&g_pe.Lock, irql);
  if (connection->ControlIrp == NULL) {
    /* Without an IRP to close it with, the socket is left to the leak report. */
    DbgPrint("pipelined-echo: connection %lu: out of memory\n", connection->Id);
    PeDereference(connection);
    return;
  }
  if (!complete) {
    /* Closed at once, with a reset (it was never disconnected). */
    DbgPrint("pipelined-echo: connection %lu: out of memory\n", connection->Id);
    for (i = 0; i < connection->SlotCount; i++) {
      connection->Slots[i].State = PeSlotDone;
    }
    PeFail(connection, STATUS_INSUFFICIENT_RESOURCES);
    connection->AbortIssued = TRUE;
  }
  PePump(connection);
}

/* ---- The listener -------------------------------------------------------------------------- */

/* Like a connection's pump: posts the accepts (one caller at a time) and, once unloading, closes
 * the listener, which cancels the pending accepts. */
static VOID PeListenerPump(VOID) {
  const WSK_PROVIDER_LISTEN_DISPATCH *dispatch = PeListenDispatch(g_pe.Listener);
  KIRQL irql;
  KeAcquireSpinLock(&g_pe.ListenerLock, &irql);
  if (g_pe.ListenerRunning) {
    KeReleaseSpinLock(&g_pe.ListenerLock, irql);
    return;
  }
  g_pe.ListenerRunning = TRUE;
  for (;;) {
    PPE_ACCEPT accept = NULL;
    ULONG i;
    if (ReadAcquire(&g_pe.Stopping)) {
      /* Running stays TRUE: WskCloseSocket is the listener's last call. */
      g_pe.ListenerClosing = TRUE;
      KeReleaseSpinLock(&g_pe.ListenerLock, irql);
      IoReuseIrp(g_pe.ListenerCloseIrp, STATUS_UNSUCCESSFUL);
      IoSetCompletionRoutine(g_pe.ListenerCloseIrp, PeListenerCloseComplete, NULL, TRUE, TRUE,
                             TRUE);
      (void)dispatch->WskCloseSocket(g_pe.Listener, g_pe.ListenerCloseIrp);
      return;
    }
    for (i = 0; i < PE_ACCEPTS; i++) {
      if (!g_pe.Accepts[i].Pending) {
        accept = &g_pe.Accepts[i];
        accept->Pending = TRUE;
        break;
      }
    }
    if (accept == NULL) {
      g_pe.ListenerRunning = FALSE;
      KeReleaseSpinLock(&g_pe.ListenerLock, irql);
      return;
    }
    KeReleaseSpinLock(&g_pe.ListenerLock, irql);
    IoReuseIrp(accept->Irp, STATUS_UNSUCCESSFUL);
    IoSetCompletionRoutine(accept->Irp, PeAcceptComplete, accept, TRUE, TRUE, TRUE);
    (void)dispatch->WskAccept(g_pe.Listener, 0, NULL, NULL, &accept->Local.sa, &accept->Remote.sa,
                              accept->Irp);
    KeAcquireSpinLock(&g_pe.ListenerLock, &irql);
  }
}

static NTSTATUS PeAcceptComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PPE_ACCEPT accept = (PPE_ACCEPT)Context;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  if (NT_SUCCESS(Irp->IoStatus.Status)) {
    PeStartConnection((PWSK_SOCKET)Irp->IoStatus.Information);
  } else if (Irp->IoStatus.Status != STATUS_CANCELLED) {
    DbgPrint("pipelined-echo: WskAccept failed: 0x%08lX\n", (ULONG)Irp->IoStatus.Status);
  }
  KeAcquireSpinLock(&g_pe.ListenerLock, &irql);
  accept->Pending = FALSE;
  KeReleaseSpinLock(&g_pe.ListenerLock, irql);
  PeListenerPump();
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS PeListenerCloseComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  UNREFERENCED_PARAMETER(Context);
  KeSetEvent(&g_pe.ListenerClosed, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS PeOpenListener(VOID) {
  PE_ADDRESS local;
  KEVENT done;
  NTSTATUS status;
  ULONG i;
  PIRP irp = IoAllocateIrp(1, FALSE);
  if (irp == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  KeInitializeEvent(&done, NotificationEvent, FALSE);
  status = g_pe.Provider.Dispatch->WskSocket(g_pe.Provider.Client, g_pe.Address.sa.sa_family,
                                             SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL,
                                             NULL, NULL, NULL, NULL, PeSyncIrp(irp, &done));
  status = PeSyncWait(irp, &done, status);
  if (!NT_SUCCESS(status)) {
    DbgPrint("pipelined-echo: WskSocket failed: 0x%08lX\n", (ULONG)status);
    IoFreeIrp(irp);
    return status;
  }
  g_pe.Listener = (PWSK_SOCKET)irp->IoStatus.Information;
  status = PeListenDispatch(g_pe.Listener)
               ->WskBind(g_pe.Listener, &g_pe.Address.sa, 0, PeSyncIrp(irp, &done));
  status = PeSyncWait(irp, &done, status);
  if (NT_SUCCESS(status)) {
    RtlZeroMemory(&local, sizeof(local));
    status = PeListenDispatch(g_pe.Listener)
                 ->WskGetLocalAddress(g_pe.Listener, &local.sa, PeSyncIrp(irp, &done));
    status = PeSyncWait(irp, &done, status);
  }
  if (!NT_SUCCESS(status)) {
    DbgPrint("pipelined-echo: cannot listen on %s port %lu: 0x%08lX\n", g_pe.AddressText, g_pe.Port,
             (ULONG)status);
    (void)PeListenDispatch(g_pe.Listener)->WskCloseSocket(g_pe.Listener, PeSyncIrp(irp, &done));
    (void)PeSyncWait(irp, &done, STATUS_PENDING);
    g_pe.Listener = NULL;
    IoFreeIrp(irp);
    return status;
  }
  g_pe.ListenerCloseIrp = irp;
  for (i = 0; i < PE_ACCEPTS; i++) {
    g_pe.Accepts[i].Irp = IoAllocateIrp(1, FALSE);
    if (g_pe.Accepts[i].Irp == NULL) {
      g_pe.Accepts[i].Pending = TRUE; /* never posted */
    }
  }
  DbgPrint(
      "pipelined-echo: listening on %s port %u (%lu receives of %lu bytes per "
      "connection, sent in the order they %s)\n",
      g_pe.AddressText,
      RtlUshortByteSwap(local.sa.sa_family == AF_INET6 ? local.v6.sin6_port : local.v4.sin_port),
      g_pe.Receives, g_pe.Chunk, g_pe.CompletionOrder ? "completed" : "were posted");
  PeListenerPump();
  return STATUS_SUCCESS;
}

/* ---- Parameters ---------------------------------------------------------------------------- */

static NTSTATUS PeReadParameters(PUNICODE_STRING RegistryPath) {
  static const WCHAR suffix[] = L"\\Parameters";
  WCHAR address_buffer[PE_ADDRESS_CHARS];
  UNICODE_STRING address = {0, sizeof(address_buffer) - sizeof(WCHAR), address_buffer};
  RTL_QUERY_REGISTRY_TABLE table[6];
  UNICODE_STRING key;
  PCWSTR terminator;
  NTSTATUS status;

  g_pe.Receives = 2;
  g_pe.Chunk = 4096;
  g_pe.Port = 0;
  (void)RtlUnicodeStringCopyString(&address, L"127.0.0.1");

  key.Length = 0;
  key.MaximumLength = (USHORT)(RegistryPath->Length + sizeof(suffix));
  key.Buffer = (PWCH)ExAllocatePool2(POOL_FLAG_PAGED, key.MaximumLength, PE_TAG);
  if (key.Buffer == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  RtlCopyUnicodeString(&key, RegistryPath);
  status = RtlUnicodeStringCatString(&key, suffix);
  if (NT_SUCCESS(status)) {
    RtlZeroMemory(table, sizeof(table));
    table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[0].Name = L"Receives";
    table[0].EntryContext = &g_pe.Receives;
    table[0].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[1].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[1].Name = L"Chunk";
    table[1].EntryContext = &g_pe.Chunk;
    table[1].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[2].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[2].Name = L"Port";
    table[2].EntryContext = &g_pe.Port;
    table[2].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[3].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[3].Name = L"Address";
    table[3].EntryContext = &address;
    table[3].DefaultType = (REG_SZ << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[4].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[4].Name = L"CompletionOrder";
    table[4].EntryContext = &g_pe.CompletionOrder;
    table[4].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    status = RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, key.Buffer, table, NULL, NULL);
    if (status == STATUS_OBJECT_NAME_NOT_FOUND) {
      status = STATUS_SUCCESS; /* no Parameters key: the defaults */
    } else if (!NT_SUCCESS(status)) {
      DbgPrint("pipelined-echo: cannot read %wZ (Receives, Chunk, Port and CompletionOrder are "
               "REG_DWORD, Address a REG_SZ): 0x%08lX\n",
               &key, (ULONG)status);
    }
  }
  ExFreePoolWithTag(key.Buffer, PE_TAG);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  if (g_pe.Receives == 0 || g_pe.Receives > PE_MAX_RECEIVES) {
    DbgPrint("pipelined-echo: Receives must be 1 to %u\n", PE_MAX_RECEIVES);
    return STATUS_INVALID_PARAMETER;
  }
  if (g_pe.Chunk == 0 || g_pe.Chunk > PE_MAX_CHUNK) {
    DbgPrint("pipelined-echo: Chunk must be 1 to %u\n", PE_MAX_CHUNK);
    return STATUS_INVALID_PARAMETER;
  }
  if (g_pe.CompletionOrder > 1) {
    DbgPrint("pipelined-echo: CompletionOrder must be 0 or 1\n");
    return STATUS_INVALID_PARAMETER;
  }
  if (g_pe.Port > 65535) {
    DbgPrint("pipelined-echo: Port %lu is not a TCP port\n", g_pe.Port);
    return STATUS_INVALID_PARAMETER;
  }
  address_buffer[address.Length / sizeof(WCHAR)] = L'\0';
  RtlZeroMemory(&g_pe.Address, sizeof(g_pe.Address));
  status = RtlIpv4StringToAddressW(address_buffer, TRUE, &terminator, &g_pe.Address.v4.sin_addr);
  if (NT_SUCCESS(status) && *terminator == L'\0') {
    g_pe.Address.v4.sin_family = AF_INET;
    g_pe.Address.v4.sin_port = RtlUshortByteSwap((USHORT)g_pe.Port);
    (void)RtlStringCbPrintfA(g_pe.AddressText, sizeof(g_pe.AddressText), "%wZ", &address);
    return STATUS_SUCCESS;
  }
  status = RtlIpv6StringToAddressW(address_buffer, &terminator, &g_pe.Address.v6.sin6_addr);
  if (NT_SUCCESS(status) && *terminator == L'\0') {
    g_pe.Address.v6.sin6_family = AF_INET6;
    g_pe.Address.v6.sin6_port = RtlUshortByteSwap((USHORT)g_pe.Port);
    (void)RtlStringCbPrintfA(g_pe.AddressText, sizeof(g_pe.AddressText), "[%wZ]", &address);
    return STATUS_SUCCESS;
  }
  DbgPrint("pipelined-echo: Address '%wZ' is not an IPv4 or IPv6 literal\n", &address);
  return STATUS_INVALID_PARAMETER;
}

/* ---- Driver entry and unload --------------------------------------------------------------- */

static VOID PeUnload(PDRIVER_OBJECT DriverObject) {
  ULONG i;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("pipelined-echo: unloading\n");
  InterlockedExchange(&g_pe.Stopping, 1);
  if (g_pe.Listener != NULL) {
    PeListenerPump();
    KeWaitForSingleObject(&g_pe.ListenerClosed, Executive, KernelMode, FALSE, NULL);
    IoFreeIrp(g_pe.ListenerCloseIrp);
    for (i = 0; i < PE_ACCEPTS; i++) {
      if (g_pe.Accepts[i].Irp != NULL) {
        IoFreeIrp(g_pe.Accepts[i].Irp);
      }
    }
    g_pe.Listener = NULL;
  }
  /* No connection arrives any more. Each one left is pumped once more, which resets it; the
   * reference keeps it while this thread pumps. A connection is visited once: the list is
   * walked from its head each time, skipping those marked failed already. */
  for (;;) {
    PPE_CONNECTION victim = NULL;
    PLIST_ENTRY entry;
    KeAcquireSpinLock(&g_pe.Lock, &irql);
    for (entry = g_pe.Connections.Flink; entry != &g_pe.Connections; entry = entry->Flink) {
      PPE_CONNECTION connection = CONTAINING_RECORD(entry, PE_CONNECTION, Links);
      KIRQL inner;
      BOOLEAN visit;
      KeAcquireSpinLock(&connection->Lock, &inner);
      visit = !connection->Failed && !connection->DisconnectIssued;
      KeReleaseSpinLock(&connection->Lock, inner);
      if (visit) {
        InterlockedIncrement(&connection->References);
        victim = connection;
        break;
      }
    }
    KeReleaseSpinLock(&g_pe.Lock, irql);
    if (victim == NULL) {
      break;
    }
    KeAcquireSpinLock(&victim->Lock, &irql);
    PeFail(victim, STATUS_CANCELLED);
    KeReleaseSpinLock(&victim->Lock, irql);
    PePump(victim);
    PeDereference(victim);
  }
  PeRelease(); /* DriverEntry's own count */
  KeWaitForSingleObject(&g_pe.AllClosed, Executive, KernelMode, FALSE, NULL);
  DbgPrint("pipelined-echo: summary: %lld connections, %lld finished, %lld failed, %lld bytes "
           "echoed, %lld receives and %lld sends completed out of order (in %lld "
           "connections)\n",
           g_pe.Accepted, g_pe.Finished, g_pe.FailedCount, g_pe.BytesEchoed, g_pe.ReceivesReordered,
           g_pe.SendsReordered, g_pe.ConnectionsReordered);
  if (g_pe.Captured) {
    WskReleaseProviderNPI(&g_pe.Registration);
  }
  if (g_pe.Registered) {
    WskDeregister(&g_pe.Registration);
  }
  DbgPrint("pipelined-echo: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client_dispatch};
  NTSTATUS status;

  KeInitializeSpinLock(&g_pe.Lock);
  KeInitializeSpinLock(&g_pe.ListenerLock);
  InitializeListHead(&g_pe.Connections);
  KeInitializeEvent(&g_pe.AllClosed, NotificationEvent, FALSE);
  KeInitializeEvent(&g_pe.ListenerClosed, NotificationEvent, FALSE);
  g_pe.Outstanding = 1; /* released by PeUnload */

  status = PeReadParameters(RegistryPath);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = WskRegister(&client, &g_pe.Registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  g_pe.Registered = TRUE;
  status = WskCaptureProviderNPI(&g_pe.Registration, WSK_INFINITE_WAIT, &g_pe.Provider);
  if (NT_SUCCESS(status)) {
    g_pe.Captured = TRUE;
    status = PeOpenListener();
  }
  if (!NT_SUCCESS(status)) {
    PeUnload(DriverObject);
    return status;
  }
  DriverObject->DriverUnload = PeUnload;
  return STATUS_SUCCESS;
}

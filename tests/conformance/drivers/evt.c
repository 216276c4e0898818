/*
 * evt.c - the recording callbacks and helpers of the event-callback conformance drivers. See
 * evt.h.
 */
#include "evt.h"

#define EVT_CONTEXT_COUNT 64
#define EVT_HOLD_LIMIT_MS 5000

static EVT_CONTEXT EvtContexts[EVT_CONTEXT_COUNT];
static volatile LONG EvtContextsUsed;

/* The rules, counted over every callback of the driver (EvtCheckRules). */
static volatile LONG EvtCallbacks;
static volatile LONG EvtOverlaps;
static volatile LONG EvtWrongIrql;
static volatile LONG EvtMissingFlag;
static volatile LONG EvtAfterClose;

/* ---- Contexts -------------------------------------------------------------------------------- */

EVT_CONTEXT *EvtNew(const char *Name, ULONG Family) {
  const LONG index = InterlockedIncrement(&EvtContextsUsed) - 1;
  EVT_CONTEXT *context;
  if (index >= EVT_CONTEXT_COUNT) {
    ConfCheck(FALSE, "a recording context", "all %d are in use", EVT_CONTEXT_COUNT);
    return NULL;
  }
  context = &EvtContexts[index];
  RtlZeroMemory(context, sizeof(*context));
  KeInitializeSpinLock(&context->Lock);
  context->Name = Name;
  context->Family = Family;
  context->Hash = CONF_FNV_START;
  return context;
}

void EvtScript(EVT_CONTEXT *Context, ULONG Count, const NTSTATUS *Answers,
               const SIZE_T *AcceptCounts, BOOLEAN Cycle) {
  KIRQL irql;
  ULONG i;
  KeAcquireSpinLock(&Context->Lock, &irql);
  Context->ScriptLength = Count < EVT_MAX_SCRIPT ? Count : EVT_MAX_SCRIPT;
  Context->ScriptNext = 0;
  Context->Cycle = Cycle;
  for (i = 0; i < Context->ScriptLength; i++) {
    Context->Answers[i] = Answers[i];
    Context->AcceptCounts[i] = AcceptCounts != NULL ? AcceptCounts[i] : 0;
  }
  KeReleaseSpinLock(&Context->Lock, irql);
}

void EvtInspectScript(EVT_CONTEXT *Context, ULONG Count, const WSK_INSPECT_ACTION *Answers) {
  KIRQL irql;
  ULONG i;
  KeAcquireSpinLock(&Context->Lock, &irql);
  Context->InspectScriptLength = Count < EVT_MAX_SCRIPT ? Count : EVT_MAX_SCRIPT;
  Context->InspectScriptNext = 0;
  for (i = 0; i < Context->InspectScriptLength; i++) {
    Context->InspectAnswers[i] = Answers[i];
  }
  KeReleaseSpinLock(&Context->Lock, irql);
}

/* Under the lock: the next scripted answer and its BytesAccepted. */
static NTSTATUS EvtNextAnswer(EVT_CONTEXT *Context, SIZE_T *AcceptCount) {
  ULONG i;
  *AcceptCount = 0;
  if (Context->ScriptLength == 0 ||
      (!Context->Cycle && Context->ScriptNext >= Context->ScriptLength)) {
    return STATUS_SUCCESS;
  }
  i = Context->ScriptNext % Context->ScriptLength;
  Context->ScriptNext++;
  *AcceptCount = Context->AcceptCounts[i];
  return Context->Answers[i];
}

/* ---- Waiting --------------------------------------------------------------------------------- */

LONG EvtRead(volatile LONG *Counter) {
  return InterlockedCompareExchange(Counter, 0, 0);
}

void EvtSleep(ULONG Milliseconds) {
  LARGE_INTEGER interval;
  interval.QuadPart = -(LONGLONG)Milliseconds * 10000;
  KeDelayExecutionThread(KernelMode, FALSE, &interval);
}

/* Milliseconds since an arbitrary start (interrupt time is in 100 ns units). */
static ULONGLONG EvtNowMs(void) {
  return KeQueryInterruptTime() / 10000;
}

BOOLEAN EvtWaitFor(volatile LONG *Counter, LONG Target) {
  const ULONGLONG deadline = EvtNowMs() + CONF_TIMEOUT_MS;
  while (EvtRead(Counter) < Target) {
    if (EvtNowMs() > deadline) {
      return FALSE;
    }
    EvtSleep(1);
  }
  return TRUE;
}

BOOLEAN EvtStaysBelow(volatile LONG *Counter, LONG Limit) {
  const ULONGLONG deadline = EvtNowMs() + EVT_QUIET_MS;
  while (EvtNowMs() < deadline) {
    if (EvtRead(Counter) >= Limit) {
      return FALSE;
    }
    EvtSleep(2);
  }
  return EvtRead(Counter) < Limit;
}

/* ---- The rules --------------------------------------------------------------------------------*/

static void EvtEnter(EVT_CONTEXT *Context, ULONG Flags, BOOLEAN HasFlags) {
  InterlockedIncrement(&EvtCallbacks);
  if (InterlockedIncrement(&Context->Inside) != 1) {
    InterlockedIncrement(&EvtOverlaps);
  }
  if (KeGetCurrentIrql() != DISPATCH_LEVEL) {
    InterlockedIncrement(&EvtWrongIrql);
  }
  if (HasFlags && (Flags & WSK_FLAG_AT_DISPATCH_LEVEL) == 0) {
    InterlockedIncrement(&EvtMissingFlag);
  }
  if (EvtRead(&Context->Closed) != 0) {
    InterlockedIncrement(&EvtAfterClose);
    ConfLog("a callback of '%s' ran after its WskCloseSocket completed", Context->Name);
  }
}

static void EvtLeave(EVT_CONTEXT *Context) {
  InterlockedDecrement(&Context->Inside);
}

void EvtCheckRules(void) {
  const LONG callbacks = InterlockedExchange(&EvtCallbacks, 0);
  const LONG overlaps = InterlockedExchange(&EvtOverlaps, 0);
  const LONG wrong_irql = InterlockedExchange(&EvtWrongIrql, 0);
  const LONG missing_flag = InterlockedExchange(&EvtMissingFlag, 0);
  const LONG after_close = InterlockedExchange(&EvtAfterClose, 0);
  ConfCheck(callbacks > 0, "callbacks ran", "none did");
  ConfCheck(overlaps == 0, "callbacks of one socket never overlap",
            "%ld of %ld callbacks began while another of their socket ran", overlaps, callbacks);
  ConfCheck(wrong_irql == 0, "callbacks run at DISPATCH_LEVEL", "%ld of %ld did not", wrong_irql,
            callbacks);
  ConfCheck(missing_flag == 0, "Flags has WSK_FLAG_AT_DISPATCH_LEVEL",
            "%ld of %ld callbacks with Flags lacked it", missing_flag, callbacks);
  ConfCheck(after_close == 0, "no callback after WskCloseSocket completed",
            "%ld callbacks came after their socket's close completed", after_close);
}

/* ---- Recording --------------------------------------------------------------------------------*/

/* Under the lock: appends bytes accepted in stream order. */
static void EvtRecord(EVT_CONTEXT *Context, const UCHAR *Data, SIZE_T Length) {
  SIZE_T i;
  if (Context->CheckPattern) {
    for (i = 0; i < Length; i++) {
      if (Data[i] != ConfPatternByte(Context->StreamCount + i)) {
        if (Context->PatternErrors == 0) {
          Context->FirstErrorAt = Context->StreamCount + i;
        }
        Context->PatternErrors++;
      }
    }
  }
  for (i = 0; i < Length && Context->ByteCount < EVT_LOG_BYTES; i++) {
    Context->Bytes[Context->ByteCount++] = Data[i];
  }
  Context->Hash = ConfFnv(Context->Hash, Data, Length);
  Context->StreamCount += Length;
}

/* Under the lock: records up to Limit bytes of a WSK_BUF (an MDL chain with an offset). */
static SIZE_T EvtRecordBuf(EVT_CONTEXT *Context, const WSK_BUF *Buffer, SIZE_T Limit) {
  SIZE_T offset = Buffer->Offset;
  SIZE_T left = Buffer->Length < Limit ? Buffer->Length : Limit;
  SIZE_T recorded = 0;
  PMDL mdl;
  for (mdl = Buffer->Mdl; mdl != NULL && left > 0; mdl = mdl->Next) {
    const UCHAR *base = (const UCHAR *)MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
    SIZE_T n = MmGetMdlByteCount(mdl) - offset;
    if (base == NULL) {
      break;
    }
    n = n < left ? n : left;
    EvtRecord(Context, base + offset, n);
    recorded += n;
    left -= n;
    offset = 0;
  }
  return recorded;
}

static SIZE_T EvtChainLength(const WSK_DATA_INDICATION *Indication) {
  SIZE_T total = 0;
  for (; Indication != NULL; Indication = Indication->Next) {
    total += Indication->Buffer.Length;
  }
  return total;
}

/* ---- The callbacks --------------------------------------------------------------------------- */

static NTSTATUS WSKAPI EvtOnReceive(PVOID SocketContext, ULONG Flags,
                                    PWSK_DATA_INDICATION DataIndication, SIZE_T BytesIndicated,
                                    SIZE_T *BytesAccepted) {
  EVT_CONTEXT *context = (EVT_CONTEXT *)SocketContext;
  NTSTATUS answer = STATUS_SUCCESS;
  SIZE_T take = 0;
  KIRQL irql;
  EvtEnter(context, Flags, TRUE);
  if (EvtRead(&context->Hold) != 0) {
    /* Held for a test of disabling while a callback runs: a bounded spin (no waiting at
     * DISPATCH_LEVEL). */
    ULONG spins;
    InterlockedExchange(&context->Holding, 1);
    for (spins = 0; spins < EVT_HOLD_LIMIT_MS && EvtRead(&context->Hold) != 0; spins++) {
      KeStallExecutionProcessor(1000);
    }
    InterlockedExchange(&context->Holding, 0);
  }
  KeAcquireSpinLock(&context->Lock, &irql);
  context->FlagsSeen |= Flags;
  context->LastFlags = Flags;
  if (DataIndication == NULL) {
    InterlockedIncrement(&context->NullIndications);
  } else {
    answer = EvtNextAnswer(context, &take);
    context->LastIndicated = BytesIndicated;
    if (EvtChainLength(DataIndication) != BytesIndicated) {
      context->ChainMismatches++;
    }
    if (answer == STATUS_PENDING && context->RetainedCount >= EVT_MAX_RETAINED) {
      answer = STATUS_SUCCESS; /* no room to keep it: the test's bound, not the provider's */
    }
    if (answer == STATUS_SUCCESS || answer == STATUS_PENDING) {
      SIZE_T limit = BytesIndicated;
      const WSK_DATA_INDICATION *i;
      if (answer == STATUS_SUCCESS && take != 0 && take < BytesIndicated) {
        limit = take;
        *BytesAccepted = take;
        context->Stalled = TRUE;
      }
      for (i = DataIndication; i != NULL && limit > 0; i = i->Next) {
        limit -= EvtRecordBuf(context, &i->Buffer, limit);
      }
      if (answer == STATUS_PENDING) {
        context->Retained[context->RetainedCount++] = DataIndication;
      }
    } else {
      context->Stalled = TRUE;
    }
  }
  KeReleaseSpinLock(&context->Lock, irql);
  InterlockedIncrement(&context->ReceiveCalls);
  EvtLeave(context);
  return answer;
}

static NTSTATUS WSKAPI EvtOnDisconnect(PVOID SocketContext, ULONG Flags) {
  EVT_CONTEXT *context = (EVT_CONTEXT *)SocketContext;
  KIRQL irql;
  EvtEnter(context, Flags, TRUE);
  KeAcquireSpinLock(&context->Lock, &irql);
  context->DisconnectFlags = Flags;
  context->FlagsSeen |= Flags & ~(ULONG)WSK_FLAG_ABORTIVE;
  KeReleaseSpinLock(&context->Lock, irql);
  InterlockedIncrement(&context->DisconnectCalls);
  EvtLeave(context);
  return STATUS_SUCCESS;
}

static NTSTATUS WSKAPI EvtOnSendBacklog(PVOID SocketContext, SIZE_T IdealBacklogSize) {
  EVT_CONTEXT *context = (EVT_CONTEXT *)SocketContext;
  KIRQL irql;
  EvtEnter(context, 0, FALSE);
  KeAcquireSpinLock(&context->Lock, &irql);
  context->LastBacklog = IdealBacklogSize;
  KeReleaseSpinLock(&context->Lock, irql);
  InterlockedIncrement(&context->BacklogCalls);
  EvtLeave(context);
  return STATUS_SUCCESS;
}

const WSK_CLIENT_CONNECTION_DISPATCH EvtConnectionDispatch = {EvtOnReceive, EvtOnDisconnect,
                                                              EvtOnSendBacklog};

static void EvtCopyAddress(CONF_ADDR *To, const SOCKADDR *From) {
  RtlZeroMemory(To, sizeof(*To));
  if (From != NULL) {
    RtlCopyMemory(To, From,
                  From->sa_family == AF_INET6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN));
  }
}

static NTSTATUS WSKAPI EvtOnAccept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress,
                                   PSOCKADDR RemoteAddress, PWSK_SOCKET AcceptSocket,
                                   PVOID *AcceptSocketContext,
                                   const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch) {
  EVT_CONTEXT *context = (EVT_CONTEXT *)SocketContext;
  NTSTATUS answer = STATUS_REQUEST_NOT_ACCEPTED;
  SIZE_T unused;
  KIRQL irql;
  EvtEnter(context, Flags, TRUE);
  KeAcquireSpinLock(&context->Lock, &irql);
  if (AcceptSocket == NULL) {
    context->NullAccepts++; /* the listener stopped working: close it */
  } else {
    answer = EvtNextAnswer(context, &unused);
    if (answer == STATUS_SUCCESS && context->AcceptedCount < EVT_MAX_ITEMS) {
      const ULONG n = context->AcceptedCount;
      EVT_CONTEXT *accepted = EvtNew("accepted socket", context->Family);
      CONF_ADDR local;
      CONF_ADDR remote;
      EvtCopyAddress(&local, LocalAddress);
      EvtCopyAddress(&remote, RemoteAddress);
      context->AcceptLocalPort[n] = ConfPort(&local);
      context->AcceptRemotePort[n] = ConfPort(&remote);
      context->AcceptAddressesLoopback[n] =
          ConfIsLoopback(&local, context->Family) && ConfIsLoopback(&remote, context->Family);
      if (accepted != NULL) {
        accepted->Socket = AcceptSocket;
        *AcceptSocketContext = accepted;
        *AcceptSocketDispatch = &EvtConnectionDispatch;
        context->Accepted[n] = accepted;
        context->AcceptedCount++;
      } else {
        answer = STATUS_REQUEST_NOT_ACCEPTED;
      }
    } else if (answer == STATUS_SUCCESS) {
      answer = STATUS_REQUEST_NOT_ACCEPTED; /* the test's bound */
    }
  }
  KeReleaseSpinLock(&context->Lock, irql);
  InterlockedIncrement(&context->AcceptCalls);
  EvtLeave(context);
  return answer;
}

static WSK_INSPECT_ACTION WSKAPI EvtOnInspect(PVOID SocketContext, PSOCKADDR LocalAddress,
                                              PSOCKADDR RemoteAddress, PWSK_INSPECT_ID InspectID) {
  EVT_CONTEXT *context = (EVT_CONTEXT *)SocketContext;
  WSK_INSPECT_ACTION answer = WskInspectAccept;
  KIRQL irql;
  EvtEnter(context, 0, FALSE);
  KeAcquireSpinLock(&context->Lock, &irql);
  if (InspectID == NULL) {
    context->NullAccepts++;
    answer = WskInspectReject;
  } else {
    if (context->InspectScriptNext < context->InspectScriptLength) {
      answer = context->InspectAnswers[context->InspectScriptNext++];
    }
    if (context->InspectedCount < EVT_MAX_ITEMS) {
      EVT_INSPECTION *record = &context->Inspected[context->InspectedCount++];
      CONF_ADDR address;
      /* By content: the pointer is valid only during the call (rule V57). */
      record->Id = *InspectID;
      EvtCopyAddress(&address, LocalAddress);
      record->LocalPort = ConfIsLoopback(&address, context->Family) ? ConfPort(&address) : 0;
      EvtCopyAddress(&address, RemoteAddress);
      record->RemotePort = ConfIsLoopback(&address, context->Family) ? ConfPort(&address) : 0;
    }
  }
  KeReleaseSpinLock(&context->Lock, irql);
  InterlockedIncrement(&context->InspectCalls);
  EvtLeave(context);
  return answer;
}

static NTSTATUS WSKAPI EvtOnAbort(PVOID SocketContext, PWSK_INSPECT_ID InspectID) {
  EVT_CONTEXT *context = (EVT_CONTEXT *)SocketContext;
  KIRQL irql;
  EvtEnter(context, 0, FALSE);
  KeAcquireSpinLock(&context->Lock, &irql);
  if (InspectID != NULL && context->AbortedCount < EVT_MAX_ITEMS) {
    context->Aborted[context->AbortedCount++] = *InspectID;
  }
  KeReleaseSpinLock(&context->Lock, irql);
  InterlockedIncrement(&context->AbortCalls);
  EvtLeave(context);
  return STATUS_SUCCESS;
}

const WSK_CLIENT_LISTEN_DISPATCH EvtListenDispatch = {EvtOnAccept, EvtOnInspect, EvtOnAbort};

static NTSTATUS WSKAPI EvtOnReceiveFrom(PVOID SocketContext, ULONG Flags,
                                        PWSK_DATAGRAM_INDICATION DataIndication) {
  EVT_CONTEXT *context = (EVT_CONTEXT *)SocketContext;
  NTSTATUS answer = STATUS_SUCCESS;
  SIZE_T unused;
  KIRQL irql;
  EvtEnter(context, Flags, TRUE);
  KeAcquireSpinLock(&context->Lock, &irql);
  context->FlagsSeen |= Flags;
  context->LastFlags = Flags;
  if (DataIndication == NULL) {
    InterlockedIncrement(&context->NullIndications);
  } else {
    answer = EvtNextAnswer(context, &unused);
    if (answer == STATUS_PENDING && context->RetainedCount >= EVT_MAX_RETAINED) {
      answer = STATUS_SUCCESS;
    }
    if (answer != STATUS_DATA_NOT_ACCEPTED) {
      const WSK_DATAGRAM_INDICATION *d;
      ULONG length = 0;
      for (d = DataIndication; d != NULL; d = d->Next) {
        length++;
        if (context->DatagramCount < EVT_MAX_ITEMS) {
          EVT_DATAGRAM *record = &context->Datagrams[context->DatagramCount++];
          const SIZE_T before = context->ByteCount;
          record->Length = (ULONG)d->Buffer.Length;
          EvtRecordBuf(context, &d->Buffer, sizeof(record->Data));
          RtlCopyMemory(record->Data, context->Bytes + before, context->ByteCount - before);
          context->ByteCount = before; /* datagrams are kept per record, not as a stream */
          EvtCopyAddress(&record->Remote, d->RemoteAddress);
          record->ControlLength = d->ControlInfoLength;
          record->HasControl = d->ControlInfo != NULL;
          if (d->ControlInfo != NULL && d->ControlInfoLength >= sizeof(WSACMSGHDR)) {
            record->CmsgLevel = (ULONG)d->ControlInfo->cmsg_level;
            record->CmsgType = (ULONG)d->ControlInfo->cmsg_type;
          }
        }
      }
      if (context->ListCount < EVT_MAX_ITEMS) {
        context->ListLengths[context->ListCount++] = length;
      }
      if (answer == STATUS_PENDING) {
        context->Retained[context->RetainedCount++] = DataIndication;
      }
    }
  }
  KeReleaseSpinLock(&context->Lock, irql);
  InterlockedIncrement(&context->ReceiveFromCalls);
  EvtLeave(context);
  return answer;
}

const WSK_CLIENT_DATAGRAM_DISPATCH EvtDatagramDispatch = {EvtOnReceiveFrom};

/* ---- Sockets --------------------------------------------------------------------------------- */

PWSK_SOCKET EvtSocket(const WSK_PROVIDER_NPI *Npi, const char *Name, ULONG Family, USHORT Type,
                      ULONG Protocol, ULONG Category, EVT_CONTEXT *Context, const VOID *Dispatch) {
  CONF_CALL call;
  PWSK_SOCKET socket = NULL;
  if (Npi == NULL) {
    Npi = &ConfNpi;
  }
  if (Context == NULL || !ConfCallInit(&call)) {
    return NULL;
  }
  ConfReturned(&call,
               Npi->Dispatch->WskSocket(Npi->Client, ConfAf(Family), Type, Protocol, Category,
                                        Context, Dispatch, NULL, NULL, NULL, ConfIrp(&call)));
  if (ConfExpectCall(&call, Name, STATUS_SUCCESS, CONF_ANY_INFORMATION)) {
    socket = (PWSK_SOCKET)call.Irp->IoStatus.Information;
  }
  ConfCallFree(&call);
  Context->Socket = socket;
  return socket;
}

PWSK_SOCKET EvtConnectTo(const WSK_PROVIDER_NPI *Npi, ULONG Family, EVT_CONTEXT *Context,
                         USHORT Port) {
  CONF_ADDR address;
  CONF_CALL call;
  PWSK_SOCKET socket = EvtSocket(Npi, "WskSocket (connection)", Family, SOCK_STREAM, IPPROTO_TCP,
                                 WSK_FLAG_CONNECTION_SOCKET, Context, &EvtConnectionDispatch);
  if (socket == NULL) {
    return NULL;
  }
  ConfLoopback(&address, Family, 0);
  if (!ConfBind("WskBind (connection)", socket, &address, STATUS_SUCCESS) || !ConfCallInit(&call)) {
    EvtClose(Context);
    return NULL;
  }
  ConfLoopback(&address, Family, Port);
  ConfReturned(&call, ((const WSK_PROVIDER_CONNECTION_DISPATCH *)socket->Dispatch)
                          ->WskConnect(socket, &address.Sa, 0, ConfIrp(&call)));
  if (!ConfExpectCall(&call, "WskConnect", STATUS_SUCCESS, 0)) {
    ConfCallFree(&call);
    EvtClose(Context);
    return NULL;
  }
  ConfCallFree(&call);
  return socket;
}

PWSK_SOCKET EvtConnectToHarness(const WSK_PROVIDER_NPI *Npi, ULONG Family, EVT_CONTEXT *Context,
                                ULONG *Harness) {
  char reply[128];
  ULONG listener;
  PWSK_SOCKET socket;
  *Harness = 0;
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "LISTEN %lu", Family), "the harness listens",
                 "answer '%s'", reply)) {
    return NULL;
  }
  listener = ConfField(reply, 0);
  socket = EvtConnectTo(Npi, Family, Context, (USHORT)ConfField(reply, 1));
  if (socket != NULL && ConfCheck(ConfCommand(reply, sizeof(reply), "ACCEPT %lu", listener),
                                  "the harness accepts", "answer '%s'", reply)) {
    *Harness = ConfField(reply, 0);
  }
  EvtHarnessClose(listener);
  if (socket != NULL && *Harness == 0) {
    EvtClose(Context);
    socket = NULL;
  }
  return socket;
}

typedef struct _EVT_CLOSE {
  KEVENT Done;
  EVT_CONTEXT *Context;
} EVT_CLOSE;

static IO_COMPLETION_ROUTINE EvtCloseCompletion;

static NTSTATUS EvtCloseCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  EVT_CLOSE *close = (EVT_CLOSE *)Context;
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  /* From here on, any callback of this socket breaks the callback rules (none after close). */
  InterlockedExchange(&close->Context->Closed, 1);
  KeSetEvent(&close->Done, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

void EvtClose(EVT_CONTEXT *Context) {
  EVT_CLOSE close;
  LARGE_INTEGER timeout;
  char name[96];
  NTSTATUS returned;
  PIRP irp;
  if (Context == NULL || Context->Socket == NULL) {
    return;
  }
  irp = IoAllocateIrp(1, FALSE);
  if (irp == NULL) {
    ConfCheck(FALSE, "IoAllocateIrp", "failed");
    return;
  }
  RtlStringCbPrintfA(name, sizeof(name), "WskCloseSocket (%s)", Context->Name);
  KeInitializeEvent(&close.Done, NotificationEvent, FALSE);
  close.Context = Context;
  IoSetCompletionRoutine(irp, EvtCloseCompletion, &close, TRUE, TRUE, TRUE);
  returned = ((const WSK_PROVIDER_BASIC_DISPATCH *)Context->Socket->Dispatch)
                 ->WskCloseSocket(Context->Socket, irp);
  timeout.QuadPart = -(LONGLONG)CONF_TIMEOUT_MS * 10000;
  if (KeWaitForSingleObject(&close.Done, Executive, KernelMode, FALSE, &timeout) ==
      STATUS_TIMEOUT) {
    /* The IRP still belongs to the provider and its routine points at this frame: stop. */
    ConfCheck(FALSE, name, "did not complete within %u ms (returned 0x%08lX)", CONF_TIMEOUT_MS,
              (ULONG)returned);
    KeBugCheckEx(MANUALLY_INITIATED_CRASH, 0, 0, 0, 0);
  }
  ConfCheck((returned == STATUS_PENDING || returned == STATUS_SUCCESS) &&
                irp->IoStatus.Status == STATUS_SUCCESS,
            name, "returned 0x%08lX, completed with 0x%08lX", (ULONG)returned,
            (ULONG)irp->IoStatus.Status);
  IoFreeIrp(irp);
  Context->Socket = NULL;
}

/* ---- SO_WSK_EVENT_CALLBACK ------------------------------------------------------------------- */

NTSTATUS EvtSetEventsNpi(PWSK_SOCKET Socket, const NPIID *NpiId, ULONG Mask, PIRP Irp) {
  WSK_EVENT_CALLBACK_CONTROL control;
  control.NpiId = (PNPIID)NpiId;
  control.EventMask = Mask;
  return ((const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)
      ->WskControlSocket(Socket, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(control),
                         &control, 0, NULL, NULL, Irp);
}

NTSTATUS EvtSetEvents(PWSK_SOCKET Socket, ULONG Mask, PIRP Irp) {
  return EvtSetEventsNpi(Socket, &NPI_WSK_INTERFACE_ID, Mask, Irp);
}

BOOLEAN EvtExpectEvents(const char *Name, PWSK_SOCKET Socket, ULONG Mask, NTSTATUS Expected) {
  return ConfExpectStatus(Name, Expected, EvtSetEvents(Socket, Mask, NULL));
}

BOOLEAN EvtExpectEventsIrp(const char *Name, PWSK_SOCKET Socket, ULONG Mask, NTSTATUS Expected) {
  CONF_CALL call;
  BOOLEAN ok;
  if (!ConfCallInit(&call)) {
    return FALSE;
  }
  ConfReturned(&call, EvtSetEvents(Socket, Mask, ConfIrp(&call)));
  ok = ConfExpectCall(&call, Name, Expected, 0);
  ConfCallFree(&call);
  return ok;
}

/* ---- WskReceive into the record -------------------------------------------------------------- */

typedef struct _EVT_RECEIVE {
  EVT_CONTEXT *Context;
  CONF_BUFFER Buffer;
  KEVENT Done;
} EVT_RECEIVE;

static IO_COMPLETION_ROUTINE EvtReceiveCompletion;

static NTSTATUS EvtReceiveCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  EVT_RECEIVE *receive = (EVT_RECEIVE *)Context;
  KIRQL irql;
  UNREFERENCED_PARAMETER(DeviceObject);
  /* Recorded here, before events resume (docs/design.md, event rule 3), so the record keeps
   * stream order. */
  KeAcquireSpinLock(&receive->Context->Lock, &irql);
  if (Irp->IoStatus.Status == STATUS_SUCCESS) {
    EvtRecord(receive->Context, receive->Buffer.Data, Irp->IoStatus.Information);
  }
  receive->Context->Stalled = FALSE;
  KeReleaseSpinLock(&receive->Context->Lock, irql);
  InterlockedIncrement(&receive->Context->IrpReceives);
  KeSetEvent(&receive->Done, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

NTSTATUS EvtReceive(EVT_CONTEXT *Context, SIZE_T Size, SIZE_T *Bytes) {
  EVT_RECEIVE receive;
  LARGE_INTEGER timeout;
  NTSTATUS status;
  PIRP irp;
  *Bytes = 0;
  receive.Context = Context;
  KeInitializeEvent(&receive.Done, NotificationEvent, FALSE);
  if (!ConfBufferInit(&receive.Buffer, Size)) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  receive.Buffer.Wsk.Length = Size;
  irp = IoAllocateIrp(1, FALSE);
  if (irp == NULL) {
    ConfCheck(FALSE, "IoAllocateIrp", "failed");
    ConfBufferFree(&receive.Buffer);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  IoSetCompletionRoutine(irp, EvtReceiveCompletion, &receive, TRUE, TRUE, TRUE);
  ((const WSK_PROVIDER_CONNECTION_DISPATCH *)Context->Socket->Dispatch)
      ->WskReceive(Context->Socket, &receive.Buffer.Wsk, 0, irp);
  timeout.QuadPart = -(LONGLONG)CONF_TIMEOUT_MS * 10000;
  if (KeWaitForSingleObject(&receive.Done, Executive, KernelMode, FALSE, &timeout) ==
      STATUS_TIMEOUT) {
    ConfCheck(FALSE, "WskReceive", "did not complete within %u ms; cancelling it", CONF_TIMEOUT_MS);
    IoCancelIrp(irp);
    if (KeWaitForSingleObject(&receive.Done, Executive, KernelMode, FALSE, &timeout) ==
        STATUS_TIMEOUT) {
      KeBugCheckEx(MANUALLY_INITIATED_CRASH, 0, 0, 0, 0); /* its routine points at this frame */
    }
  }
  status = irp->IoStatus.Status;
  *Bytes = status == STATUS_SUCCESS ? irp->IoStatus.Information : 0;
  IoFreeIrp(irp);
  ConfBufferFree(&receive.Buffer);
  return status;
}

/* ---- The record ------------------------------------------------------------------------------ */

BOOLEAN EvtBytesAre(EVT_CONTEXT *Context, const char *Expected, SIZE_T Length) {
  KIRQL irql;
  BOOLEAN same;
  KeAcquireSpinLock(&Context->Lock, &irql);
  same =
      Context->ByteCount == Length && RtlCompareMemory(Context->Bytes, Expected, Length) == Length;
  KeReleaseSpinLock(&Context->Lock, irql);
  return same;
}

void EvtClearBytes(EVT_CONTEXT *Context) {
  KIRQL irql;
  KeAcquireSpinLock(&Context->Lock, &irql);
  Context->ByteCount = 0;
  KeReleaseSpinLock(&Context->Lock, irql);
}

BOOLEAN EvtStalled(EVT_CONTEXT *Context) {
  KIRQL irql;
  BOOLEAN stalled;
  KeAcquireSpinLock(&Context->Lock, &irql);
  stalled = Context->Stalled;
  KeReleaseSpinLock(&Context->Lock, irql);
  return stalled;
}

ULONG EvtRetainedCount(EVT_CONTEXT *Context) {
  KIRQL irql;
  ULONG count;
  KeAcquireSpinLock(&Context->Lock, &irql);
  count = Context->RetainedCount;
  KeReleaseSpinLock(&Context->Lock, irql);
  return count;
}

PVOID EvtRetainedAt(EVT_CONTEXT *Context, ULONG Index) {
  KIRQL irql;
  PVOID list = NULL;
  KeAcquireSpinLock(&Context->Lock, &irql);
  if (Index < Context->RetainedCount) {
    list = Context->Retained[Index];
  }
  KeReleaseSpinLock(&Context->Lock, irql);
  return list;
}

BOOLEAN EvtRetainedBytesAre(EVT_CONTEXT *Context, ULONG Index, const char *Expected,
                            SIZE_T Length) {
  const WSK_DATA_INDICATION *list = NULL;
  KIRQL irql;
  UCHAR bytes[64];
  SIZE_T got = 0;
  KeAcquireSpinLock(&Context->Lock, &irql);
  if (Index < Context->RetainedCount) {
    list = (const WSK_DATA_INDICATION *)Context->Retained[Index];
  }
  KeReleaseSpinLock(&Context->Lock, irql);
  for (; list != NULL; list = list->Next) {
    SIZE_T offset = list->Buffer.Offset;
    SIZE_T left = list->Buffer.Length;
    PMDL mdl;
    for (mdl = list->Buffer.Mdl; mdl != NULL && left > 0; mdl = mdl->Next) {
      const UCHAR *base = (const UCHAR *)MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
      SIZE_T n = MmGetMdlByteCount(mdl) - offset;
      n = n < left ? n : left;
      if (base == NULL || got + n > sizeof(bytes)) {
        return FALSE;
      }
      RtlCopyMemory(bytes + got, base + offset, n);
      got += n;
      left -= n;
      offset = 0;
    }
  }
  return got == Length && RtlCompareMemory(bytes, Expected, Length) == Length;
}

typedef struct _EVT_RELEASE {
  EVT_CONTEXT *Context;
  ULONG Category;
  ULONG Failures;
} EVT_RELEASE;

static void EvtReleaseNow(EVT_RELEASE *Release) {
  PVOID lists[EVT_MAX_RETAINED];
  ULONG count;
  ULONG i;
  KIRQL irql;
  EVT_CONTEXT *context = Release->Context;
  KeAcquireSpinLock(&context->Lock, &irql);
  count = context->RetainedCount;
  RtlCopyMemory(lists, context->Retained, count * sizeof(PVOID));
  context->RetainedCount = 0;
  KeReleaseSpinLock(&context->Lock, irql);
  for (i = 0; i < count; i++) {
    NTSTATUS status;
    if (Release->Category == WSK_FLAG_DATAGRAM_SOCKET) {
      status = ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)context->Socket->Dispatch)
                   ->WskRelease(context->Socket, (PWSK_DATAGRAM_INDICATION)lists[i]);
    } else {
      status = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)context->Socket->Dispatch)
                   ->WskRelease(context->Socket, (PWSK_DATA_INDICATION)lists[i]);
    }
    if (status != STATUS_SUCCESS) {
      Release->Failures++;
    }
  }
}

static KSTART_ROUTINE EvtReleaseThread;

static VOID EvtReleaseThread(PVOID Context) {
  EvtReleaseNow((EVT_RELEASE *)Context);
  PsTerminateSystemThread(STATUS_SUCCESS);
}

ULONG EvtReleaseAll(EVT_CONTEXT *Context, ULONG Category, BOOLEAN OnThread) {
  EVT_RELEASE release;
  HANDLE handle;
  PVOID thread = NULL;
  NTSTATUS status;
  release.Context = Context;
  release.Category = Category;
  release.Failures = 0;
  if (!OnThread) {
    EvtReleaseNow(&release);
    return release.Failures;
  }
  status = PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, EvtReleaseThread,
                                &release);
  if (!ConfExpectStatus("PsCreateSystemThread", STATUS_SUCCESS, status)) {
    EvtReleaseNow(&release);
    return release.Failures;
  }
  status = ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, NULL);
  ZwClose(handle);
  if (ConfExpectStatus("ObReferenceObjectByHandle", STATUS_SUCCESS, status)) {
    /* Unbounded on purpose: the thread's work is bounded, and `release` lives in this frame. */
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(thread);
  }
  return release.Failures;
}

/* ---- Harness requests ------------------------------------------------------------------------ */

ULONG EvtHarnessConnect(ULONG Family, USHORT Port, USHORT *HarnessPort) {
  char reply[128];
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "CONNECT %lu %u", Family, Port),
                 "the harness connects", "answer '%s'", reply)) {
    return 0;
  }
  if (HarnessPort != NULL) {
    *HarnessPort = (USHORT)ConfField(reply, 1);
  }
  return ConfField(reply, 0);
}

BOOLEAN EvtHarnessSend(ULONG Connection, const char *Text) {
  char hex[512];
  char reply[64];
  size_t length = 0;
  RtlStringCbLengthA(Text, 200, &length);
  ConfHexEncode(Text, length, hex, sizeof(hex));
  return ConfCheck(ConfCommand(reply, sizeof(reply), "SEND %lu %s", Connection, hex),
                   "the harness sends", "answer '%s'", reply);
}

BOOLEAN EvtHarnessEnd(ULONG Connection, char *End, SIZE_T EndSize) {
  char reply[128];
  End[0] = '\0';
  if (!ConfCommand(reply, sizeof(reply), "WAITEND %lu", Connection)) {
    ConfFieldText(reply, 0, End, EndSize);
    return FALSE;
  }
  ConfFieldText(reply, 0, End, EndSize);
  return TRUE;
}

BOOLEAN EvtHarnessConnectEnd(ULONG Family, USHORT Port, char *End, SIZE_T EndSize,
                             USHORT *HarnessPort) {
  char reply[128];
  const BOOLEAN ok = ConfCommand(reply, sizeof(reply), "CONNECTEND %lu %u", Family, Port);
  ConfFieldText(reply, 0, End, EndSize);
  *HarnessPort = ok ? (USHORT)ConfField(reply, 2) : 0;
  return ok;
}

void EvtHarnessClose(ULONG Id) {
  char reply[64];
  if (Id != 0) {
    ConfCommand(reply, sizeof(reply), "CLOSE %lu", Id);
  }
}

/*
 * events_listen.c - conformance of the listening-socket events (docs/wsk-behaviour.md,
 * "WskAcceptEvent", "WskInspectEvent and WskAbortEvent", "Enabling and disabling events"):
 * SO_WSK_EVENT_CALLBACK on a listener (wrong category, an IRP to enable, another NPI);
 * WskAcceptEvent accepting (addresses, AcceptSocketContext and AcceptSocketDispatch used by the
 * accepted socket's callbacks, inherited receive and disconnect events) and rejecting with
 * STATUS_REQUEST_NOT_ACCEPTED (the harness sees a reset); WSK_EVENT_ACCEPT disabled (WskAccept
 * takes the connection, with its own context and no events) and enabled again (the connection
 * events it had survive); a listener with only WSK_EVENT_ACCEPT (nothing inherited); conditional
 * accept: WskInspectEvent returning Reject, Accept and Pend, WskInspectComplete accepting and
 * rejecting, WskAbortEvent when the harness resets a pended or an accepted-but-waiting request,
 * SIO_WSK_QUERY_INSPECT_ID on the accepted sockets.
 */
#include "evt.h"

DRIVER_INITIALIZE DriverEntry;

#define LISTEN WSK_FLAG_LISTEN_SOCKET
#define CONNECTION WSK_FLAG_CONNECTION_SOCKET

static const NPIID OtherNpi = {0x6f0b2c31, 0x4d7e, 0x4a8b, {1, 2, 3, 4, 5, 6, 7, 8}};

/* A listener with EvtListenDispatch bound to loopback:0; its port in *Port. */
static PWSK_SOCKET Listener(EVT_CONTEXT *Context, ULONG Family, BOOLEAN Conditional, USHORT *Port) {
  CONF_ADDR address;
  PWSK_SOCKET s = EvtSocket(NULL, "WskSocket (listen)", Family, SOCK_STREAM, IPPROTO_TCP, LISTEN,
                            Context, &EvtListenDispatch);
  *Port = 0;
  if (s == NULL) {
    return NULL;
  }
  if (Conditional) {
    ConfExpectStatus("SO_CONDITIONAL_ACCEPT before bind", STATUS_SUCCESS,
                     ConfSetOption(s, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, 1));
  }
  ConfLoopback(&address, Family, 0);
  if (!ConfBind("WskBind (listen)", s, &address, STATUS_SUCCESS)) {
    EvtClose(Context);
    return NULL;
  }
  *Port = ConfLocalPort(s, LISTEN, NULL);
  return s;
}

/* The accepted socket's context of accept event Index, NULL (after a failed check) if none. */
static EVT_CONTEXT *AcceptedAt(EVT_CONTEXT *Listener, ULONG Index) {
  KIRQL irql;
  EVT_CONTEXT *accepted = NULL;
  KeAcquireSpinLock(&Listener->Lock, &irql);
  if (Index < Listener->AcceptedCount) {
    accepted = Listener->Accepted[Index];
  }
  KeReleaseSpinLock(&Listener->Lock, irql);
  ConfCheck(accepted != NULL, "the accept event kept the socket", "accepted socket %lu is missing",
            Index);
  return accepted;
}

/* SIO_WSK_QUERY_INSPECT_ID (no IRP) equals Expected. */
static void ExpectInspectId(PWSK_SOCKET Socket, const WSK_INSPECT_ID *Expected) {
  WSK_INSPECT_ID id;
  SIZE_T returned = (SIZE_T)CONF_POISON;
  NTSTATUS status;
  ConfPoison(&id, sizeof(id));
  status = ((const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)
               ->WskControlSocket(Socket, WskIoctl, SIO_WSK_QUERY_INSPECT_ID, 0, 0, NULL,
                                  sizeof(id), &id, &returned, NULL);
  if (ConfExpectStatus("SIO_WSK_QUERY_INSPECT_ID on the accepted socket", STATUS_SUCCESS, status)) {
    ConfExpectValue("its OutputSizeReturned", sizeof(WSK_INSPECT_ID), returned);
    ConfCheck(id.Key == Expected->Key && id.SerialNumber == Expected->SerialNumber,
              "it is the ID WskInspectEvent saw", "got %Iu/%lu, inspected %Iu/%lu", id.Key,
              id.SerialNumber, Expected->Key, Expected->SerialNumber);
  }
}

static void TestAccept(ULONG Family) {
  static const NTSTATUS reject[] = {STATUS_SUCCESS, STATUS_REQUEST_NOT_ACCEPTED};
  EVT_CONTEXT *listener = EvtNew("listener", Family);
  EVT_CONTEXT *plain = EvtNew("WskAccept's socket", Family);
  EVT_CONTEXT *child;
  PWSK_SOCKET s;
  CONF_CALL call;
  USHORT port = 0;
  USHORT harness_port = 0;
  ULONG harness;
  char end[16];
  char reply[64];
  char data[8];
  NTSTATUS status;

  ConfScope("v%lu accept event", Family);
  if (listener == NULL) {
    return;
  }
  s = Listener(listener, Family, FALSE, &port);
  if (s == NULL || !ConfCallInit(&call)) {
    EvtClose(listener);
    return;
  }
  EvtExpectEvents("enable WSK_EVENT_RECEIVE_FROM on a listener", s, WSK_EVENT_RECEIVE_FROM,
                  STATUS_INVALID_PARAMETER);
  EvtExpectEventsIrp("enable WSK_EVENT_ACCEPT with an IRP", s, WSK_EVENT_ACCEPT,
                     STATUS_INVALID_PARAMETER);
  ConfExpectStatus("enable with another NPI", STATUS_NOT_SUPPORTED,
                   EvtSetEventsNpi(s, &OtherNpi, WSK_EVENT_ACCEPT, NULL));
  EvtExpectEvents("enable accept, receive and disconnect (no IRP)", s,
                  WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, STATUS_SUCCESS);
  EvtScript(listener, 2, reject, NULL, FALSE);

  /* Accepted: the addresses; the socket's callbacks get the context the accept event gave. */
  harness = EvtHarnessConnect(Family, port, &harness_port);
  if (ConfExpectTrue("WskAcceptEvent", EvtWaitFor(&listener->AcceptCalls, 1)) &&
      (child = AcceptedAt(listener, 0)) != NULL) {
    ConfExpectTrue("LocalAddress and RemoteAddress are loopback",
                   listener->AcceptAddressesLoopback[0]);
    ConfExpectValue("LocalAddress has the listener's port", port, listener->AcceptLocalPort[0]);
    ConfExpectValue("RemoteAddress has the harness's port", harness_port,
                    listener->AcceptRemotePort[0]);
    EvtHarnessSend(harness, "hello");
    ConfExpectTrue("the accepted socket's WskReceiveEvent (inherited), with its context",
                   EvtWaitFor(&child->ReceiveCalls, 1) && EvtBytesAre(child, "hello", 5));
    ConfCommand(reply, sizeof(reply), "SHUTDOWN %lu", harness);
    ConfExpectTrue("its WskDisconnectEvent (inherited)", EvtWaitFor(&child->DisconnectCalls, 1));
    ConfExpectValue("graceful", 0, child->DisconnectFlags & WSK_FLAG_ABORTIVE);
    if (ConfSendAll("WskSend on the accepted socket", child->Socket, CONNECTION, "bye", 3)) {
      ConfCheck(ConfCommand(reply, sizeof(reply), "RECV %lu 3", harness) &&
                    strcmp(reply, "OK 627965") == 0,
                "the harness gets 'bye'", "answer '%s'", reply);
    }
    EvtClose(child);
  }
  EvtHarnessClose(harness);

  /* Rejected: the connection is reset and never seen again (docs/wsk-behaviour.md,
   * "WskAcceptEvent"). */
  ConfCheck(EvtHarnessConnectEnd(Family, port, end, sizeof(end), &harness_port) &&
                strcmp(end, "reset") == 0,
            "STATUS_REQUEST_NOT_ACCEPTED: the harness sees a reset", "it saw '%s'", end);
  ConfExpectValue("WskAcceptEvent was called for it", 2, (ULONG)EvtRead(&listener->AcceptCalls));

  /* WSK_EVENT_ACCEPT disabled (nothing running): WskAccept takes the connection, with its own
   * context; connection events of the listener apply only to sockets of the accept event. */
  EvtExpectEvents("disable WSK_EVENT_ACCEPT", s, WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE,
                  STATUS_SUCCESS);
  harness = EvtHarnessConnect(Family, port, NULL);
  ConfExpectTrue("no WskAcceptEvent while it is disabled",
                 EvtStaysBelow(&listener->AcceptCalls, 3));
  ConfReturned(&call,
               ((const WSK_PROVIDER_LISTEN_DISPATCH *)s->Dispatch)
                   ->WskAccept(s, 0, plain, &EvtConnectionDispatch, NULL, NULL, ConfIrp(&call)));
  if (ConfExpectCallNow(&call, "WskAccept takes the waiting connection", STATUS_SUCCESS,
                        CONF_ANY_INFORMATION)) {
    SIZE_T got = 0;
    plain->Socket = (PWSK_SOCKET)call.Irp->IoStatus.Information;
    EvtHarnessSend(harness, "q");
    ConfExpectTrue("its socket has no receive event (not inherited through WskAccept)",
                   EvtStaysBelow(&plain->ReceiveCalls, 1));
    ConfExpectStatus("WskReceive on it", STATUS_SUCCESS, EvtReceive(plain, 8, &got));
    ConfExpectTrue("gets 'q'", EvtBytesAre(plain, "q", 1));
    EvtClose(plain);
  }
  EvtHarnessClose(harness);

  /* Enabled again: the connection events enabled before still apply, as Windows documents. */
  EvtExpectEvents("enable WSK_EVENT_ACCEPT again", s, WSK_EVENT_ACCEPT, STATUS_SUCCESS);
  harness = EvtHarnessConnect(Family, port, NULL);
  if (ConfExpectTrue("WskAcceptEvent again", EvtWaitFor(&listener->AcceptCalls, 3)) &&
      (child = AcceptedAt(listener, 1)) != NULL) {
    EvtHarnessSend(harness, "again");
    ConfExpectTrue("the receive event is still inherited",
                   EvtWaitFor(&child->ReceiveCalls, 1) && EvtBytesAre(child, "again", 5));
    EvtClose(child);
  }
  EvtHarnessClose(harness);
  ConfExpectValue("no NULL AcceptSocket", 0, listener->NullAccepts);
  /* A NULL AcceptSocket (the listener stopped working) cannot be provoked from a driver: Linux
   * keeps a loopback listener working, and the provider treats running out of descriptors as
   * "try again later" (docs/divergences.md lists no way to reach it); the unit tests cannot
   * reach it either. */
  ConfCallFree(&call);
  EvtClose(listener);

  /* A listener with only WSK_EVENT_ACCEPT: its sockets start with every event disabled. */
  ConfScope("v%lu accept event without connection events", Family);
  listener = EvtNew("listener", Family);
  s = Listener(listener, Family, FALSE, &port);
  if (s == NULL) {
    return;
  }
  EvtExpectEvents("enable WSK_EVENT_ACCEPT", s, WSK_EVENT_ACCEPT, STATUS_SUCCESS);
  harness = EvtHarnessConnect(Family, port, NULL);
  if (ConfExpectTrue("WskAcceptEvent", EvtWaitFor(&listener->AcceptCalls, 1)) &&
      (child = AcceptedAt(listener, 0)) != NULL) {
    SIZE_T got = 0;
    EvtHarnessSend(harness, "p");
    ConfExpectTrue("no receive event on the accepted socket",
                   EvtStaysBelow(&child->ReceiveCalls, 1));
    status = EvtReceive(child, sizeof(data), &got);
    ConfExpectStatus("WskReceive on it", STATUS_SUCCESS, status);
    ConfExpectTrue("gets 'p'", EvtBytesAre(child, "p", 1));
    EvtExpectEvents("enable WSK_EVENT_RECEIVE on the accepted socket", child->Socket,
                    WSK_EVENT_RECEIVE, STATUS_SUCCESS);
    EvtHarnessSend(harness, "r");
    ConfExpectTrue("now it is indicated",
                   EvtWaitFor(&child->ReceiveCalls, 1) && EvtBytesAre(child, "pr", 2));
    EvtClose(child);
  }
  EvtHarnessClose(harness);
  EvtClose(listener);
}

static void TestConditional(ULONG Family) {
  static const WSK_INSPECT_ACTION actions[] = {WskInspectReject, WskInspectAccept,
                                               WskInspectPend,   WskInspectPend,
                                               WskInspectPend,   WskInspectAccept};
  EVT_CONTEXT *listener = EvtNew("conditional listener", Family);
  EVT_CONTEXT *child;
  PWSK_SOCKET s;
  PFN_WSK_INSPECT_COMPLETE complete;
  CONF_CALL call;
  CONF_CALL accept;
  USHORT port = 0;
  USHORT harness_port = 0;
  ULONG harness;
  WSK_INSPECT_ID id;
  char end[16];

  ConfScope("v%lu conditional accept", Family);
  if (listener == NULL) {
    return;
  }
  s = Listener(listener, Family, TRUE, &port);
  if (s == NULL || !ConfCallInit(&call)) {
    EvtClose(listener);
    return;
  }
  if (!ConfCallInit(&accept)) {
    ConfCallFree(&call);
    EvtClose(listener);
    return;
  }
  complete = ((const WSK_PROVIDER_LISTEN_DISPATCH *)s->Dispatch)->WskInspectComplete;
  EvtInspectScript(listener, 6, actions);
  EvtExpectEvents("enable WSK_EVENT_ACCEPT", s, WSK_EVENT_ACCEPT, STATUS_SUCCESS);

  /* 1. WskInspectReject: dropped; no accept or abort event follows. */
  ConfCheck(EvtHarnessConnectEnd(Family, port, end, sizeof(end), &harness_port) &&
                strcmp(end, "reset") == 0,
            "WskInspectReject: the harness sees a reset (divergences.md)", "it saw '%s'", end);
  if (ConfExpectValue("WskInspectEvent was called", 1, (ULONG)EvtRead(&listener->InspectCalls))) {
    ConfCheck(harness_port == 0 || harness_port == listener->Inspected[0].RemotePort,
              "its RemoteAddress is the harness's (loopback)", "harness port %u, inspected %u",
              harness_port, listener->Inspected[0].RemotePort);
    ConfExpectValue("its LocalAddress is the listener's (loopback)", port,
                    listener->Inspected[0].LocalPort);
  }
  ConfExpectTrue("no WskAcceptEvent for it", EvtStaysBelow(&listener->AcceptCalls, 1));

  /* 2. WskInspectAccept: then WskAcceptEvent; the socket knows its inspect ID. */
  harness = EvtHarnessConnect(Family, port, NULL);
  if (ConfExpectTrue("WskInspectEvent (accept)", EvtWaitFor(&listener->InspectCalls, 2)) &&
      ConfExpectTrue("WskAcceptEvent follows", EvtWaitFor(&listener->AcceptCalls, 1)) &&
      (child = AcceptedAt(listener, 0)) != NULL) {
    id = listener->Inspected[1].Id;
    ExpectInspectId(child->Socket, &id);
    EvtClose(child);
  }
  EvtHarnessClose(harness);

  /* 3. WskInspectPend, then WskInspectComplete(accept): a queued WskAccept takes it. */
  EvtExpectEvents("disable WSK_EVENT_ACCEPT", s, WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE,
                  STATUS_SUCCESS);
  ConfReturned(&accept, ((const WSK_PROVIDER_LISTEN_DISPATCH *)s->Dispatch)
                            ->WskAccept(s, 0, NULL, NULL, NULL, NULL, ConfIrp(&accept)));
  ConfExpectPending(&accept, "WskAccept pends");
  harness = EvtHarnessConnect(Family, port, NULL);
  if (ConfExpectTrue("WskInspectEvent (pend)", EvtWaitFor(&listener->InspectCalls, 3))) {
    ConfExpectTrue("the pended request is not accepted yet", !ConfCompleted(&accept));
    id = listener->Inspected[2].Id;
    ConfReturned(&call, complete(s, &id, WskInspectAccept, ConfIrp(&call)));
    ConfExpectCallNow(&call, "WskInspectComplete(WskInspectAccept)", STATUS_SUCCESS, 0);
  }
  if (ConfExpectCall(&accept, "the queued WskAccept completes", STATUS_SUCCESS,
                     CONF_ANY_INFORMATION)) {
    EVT_CONTEXT *taken = EvtNew("accepted by WskAccept", Family);
    if (taken != NULL) {
      taken->Socket = (PWSK_SOCKET)accept.Irp->IoStatus.Information;
      ExpectInspectId(taken->Socket, &id);
      EvtClose(taken);
    }
  }
  EvtHarnessClose(harness);

  /* 4. WskInspectPend, then WskInspectComplete(reject): reset. */
  harness = EvtHarnessConnect(Family, port, NULL);
  if (ConfExpectTrue("WskInspectEvent (pend)", EvtWaitFor(&listener->InspectCalls, 4))) {
    id = listener->Inspected[3].Id;
    ConfReturned(&call, complete(s, &id, WskInspectReject, ConfIrp(&call)));
    ConfExpectCallNow(&call, "WskInspectComplete(WskInspectReject)", STATUS_SUCCESS, 0);
  }
  ConfCheck(EvtHarnessEnd(harness, end, sizeof(end)) && strcmp(end, "reset") == 0,
            "the rejected request: the harness sees a reset", "it saw '%s'", end);
  EvtHarnessClose(harness);

  /* 5. WskInspectPend, and the harness gives up first: WskAbortEvent with the same ID. */
  harness = EvtHarnessConnect(Family, port, NULL);
  if (ConfExpectTrue("WskInspectEvent (pend)", EvtWaitFor(&listener->InspectCalls, 5))) {
    char reply[64];
    id = listener->Inspected[4].Id;
    ConfCommand(reply, sizeof(reply), "RESET %lu", harness);
    if (ConfExpectTrue("WskAbortEvent", EvtWaitFor(&listener->AbortCalls, 1))) {
      ConfCheck(listener->Aborted[0].Key == id.Key &&
                    listener->Aborted[0].SerialNumber == id.SerialNumber,
                "it carries the pended request's ID (by content)",
                "aborted %Iu/%lu, pended %Iu/%lu", listener->Aborted[0].Key,
                listener->Aborted[0].SerialNumber, id.Key, id.SerialNumber);
    }
    ConfReturned(&call, complete(s, &id, WskInspectAccept, ConfIrp(&call)));
    ConfExpectCall(&call, "WskInspectComplete after the abort", STATUS_INVALID_PARAMETER, 0);
  } else {
    EvtHarnessClose(harness);
  }

  /* 6. WskInspectAccept with nobody taking it yet, and the harness gives up: WskAbortEvent. */
  harness = EvtHarnessConnect(Family, port, NULL);
  if (ConfExpectTrue("WskInspectEvent (accept, not taken)",
                     EvtWaitFor(&listener->InspectCalls, 6))) {
    char reply[64];
    id = listener->Inspected[5].Id;
    ConfCommand(reply, sizeof(reply), "RESET %lu", harness);
    if (ConfExpectTrue("WskAbortEvent", EvtWaitFor(&listener->AbortCalls, 2))) {
      ConfCheck(listener->Aborted[1].Key == id.Key &&
                    listener->Aborted[1].SerialNumber == id.SerialNumber,
                "it carries the accepted request's ID", "aborted %Iu/%lu, accepted %Iu/%lu",
                listener->Aborted[1].Key, listener->Aborted[1].SerialNumber, id.Key,
                id.SerialNumber);
    }
  } else {
    EvtHarnessClose(harness);
  }

  /* 7. An ID that names no pended request. */
  id.Key = 12345;
  id.SerialNumber = 678;
  ConfReturned(&call, complete(s, &id, WskInspectAccept, ConfIrp(&call)));
  ConfExpectCall(&call, "WskInspectComplete with an unknown ID", STATUS_INVALID_PARAMETER, 0);
  ConfExpectValue("no NULL InspectID", 0, listener->NullAccepts);
  ConfCallFree(&accept);
  ConfCallFree(&call);
  EvtClose(listener);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  if (NT_SUCCESS(ConfBegin(DriverObject, RegistryPath, "events_listen"))) {
    ULONG i;
    for (i = 0; i < CONF_FAMILY_COUNT; i++) {
      const ULONG family = ConfFamilies[i];
      TestAccept(family);
      TestConditional(family);
      ConfScope("v%lu rules", family);
      EvtCheckRules();
    }
  }
  return ConfEnd();
}

/*
 * events_static.c - conformance of statically enabled events (WSK_SET_STATIC_EVENT_CALLBACKS;
 * docs/wsk-behaviour.md, "Enabling and disabling events"). Static events are client-wide and must
 * be set before the client's first socket, so this driver uses a second registration of its own
 * (the support library's registration already owns the command channel's socket): WskControlClient
 * with a bad mask, another NPI and then accept, receive, disconnect and receive-from events before
 * any socket; every later socket of that registration gets the events of its category without
 * SO_WSK_EVENT_CALLBACK (a listener, the sockets it accepts, a connection socket, a datagram
 * socket); static events cannot be disabled; a refused datagram does not disable a static
 * WskReceiveFromEvent (the datagram is dropped, events continue); the setting after a socket
 * exists; WskClientEvent is never called.
 */
#include "evt.h"

DRIVER_INITIALIZE DriverEntry;

#define LISTEN WSK_FLAG_LISTEN_SOCKET
#define DATAGRAM WSK_FLAG_DATAGRAM_SOCKET

static const NPIID OtherNpi = {0x6f0b2c31, 0x4d7e, 0x4a8b, {1, 2, 3, 4, 5, 6, 7, 8}};
static volatile LONG ClientEvents;

static NTSTATUS WSKAPI StaticClientEvent(PVOID ClientContext, ULONG EventType, PVOID Information,
                                         SIZE_T InformationLength) {
  UNREFERENCED_PARAMETER(ClientContext);
  UNREFERENCED_PARAMETER(EventType);
  UNREFERENCED_PARAMETER(Information);
  UNREFERENCED_PARAMETER(InformationLength);
  InterlockedIncrement(&ClientEvents);
  return STATUS_NOT_IMPLEMENTED; /* no event types are defined */
}

static const WSK_CLIENT_DISPATCH StaticClientDispatch = {MAKE_WSK_VERSION(1, 0), 0,
                                                         StaticClientEvent};
static WSK_REGISTRATION StaticRegistration;
static WSK_PROVIDER_NPI StaticNpi;

static NTSTATUS SetStatic(const NPIID *NpiId, ULONG Mask) {
  WSK_EVENT_CALLBACK_CONTROL control;
  control.NpiId = (PNPIID)NpiId;
  control.EventMask = Mask;
  return StaticNpi.Dispatch->WskControlClient(StaticNpi.Client, WSK_SET_STATIC_EVENT_CALLBACKS,
                                              sizeof(control), &control, 0, NULL, NULL, NULL);
}

static void TestListener(ULONG Family) {
  EVT_CONTEXT *listener = EvtNew("static listener", Family);
  EVT_CONTEXT *child = NULL;
  PWSK_SOCKET s;
  CONF_ADDR address;
  USHORT port;
  ULONG harness;
  char reply[64];

  ConfScope("v%lu static listener", Family);
  s = EvtSocket(&StaticNpi, "WskSocket (listen)", Family, SOCK_STREAM, IPPROTO_TCP, LISTEN,
                listener, &EvtListenDispatch);
  if (s == NULL) {
    return;
  }
  ConfLoopback(&address, Family, 0);
  ConfBind("WskBind", s, &address, STATUS_SUCCESS);
  port = ConfLocalPort(s, LISTEN, NULL);
  EvtExpectEvents("disable the static WSK_EVENT_ACCEPT", s, WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE,
                  STATUS_INVALID_DEVICE_STATE);
  harness = EvtHarnessConnect(Family, port, NULL);
  if (ConfExpectTrue("WskAcceptEvent without SO_WSK_EVENT_CALLBACK",
                     EvtWaitFor(&listener->AcceptCalls, 1))) {
    KIRQL irql;
    KeAcquireSpinLock(&listener->Lock, &irql);
    child = listener->AcceptedCount > 0 ? listener->Accepted[0] : NULL;
    KeReleaseSpinLock(&listener->Lock, irql);
  }
  if (ConfExpectTrue("the accept event kept the socket", child != NULL)) {
    EvtHarnessSend(harness, "static");
    ConfExpectTrue("the accepted socket's static WskReceiveEvent",
                   EvtWaitFor(&child->ReceiveCalls, 1) && EvtBytesAre(child, "static", 6));
    EvtExpectEvents("disable its static WSK_EVENT_RECEIVE", child->Socket,
                    WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, STATUS_INVALID_DEVICE_STATE);
    ConfCommand(reply, sizeof(reply), "SHUTDOWN %lu", harness);
    ConfExpectTrue("its static WskDisconnectEvent", EvtWaitFor(&child->DisconnectCalls, 1));
    EvtClose(child);
  }
  EvtHarnessClose(harness);
  EvtClose(listener);
}

static void TestConnection(ULONG Family) {
  EVT_CONTEXT *context = EvtNew("static connection", Family);
  PWSK_SOCKET s;
  ULONG harness = 0;

  ConfScope("v%lu static connection", Family);
  s = EvtConnectToHarness(&StaticNpi, Family, context, &harness);
  if (s == NULL) {
    return;
  }
  ConfExpectStatus("WSK_SET_STATIC_EVENT_CALLBACKS while a socket is open",
                   STATUS_INVALID_DEVICE_STATE,
                   SetStatic(&NPI_WSK_INTERFACE_ID, WSK_EVENT_SEND_BACKLOG));
  EvtHarnessSend(harness, "conn");
  ConfExpectTrue("WskReceiveEvent without SO_WSK_EVENT_CALLBACK",
                 EvtWaitFor(&context->ReceiveCalls, 1) && EvtBytesAre(context, "conn", 4));
  /* A static registration can still enable and disable other events dynamically. */
  EvtExpectEvents("enable WSK_EVENT_SEND_BACKLOG dynamically", s, WSK_EVENT_SEND_BACKLOG,
                  STATUS_SUCCESS);
  ConfExpectTrue("WskSendBacklogEvent", EvtWaitFor(&context->BacklogCalls, 1));
  EvtExpectEvents("disable the dynamic WSK_EVENT_SEND_BACKLOG", s,
                  WSK_EVENT_SEND_BACKLOG | WSK_EVENT_DISABLE, STATUS_SUCCESS);
  EvtExpectEvents("disable the static WSK_EVENT_DISCONNECT", s,
                  WSK_EVENT_DISCONNECT | WSK_EVENT_DISABLE, STATUS_INVALID_DEVICE_STATE);
  EvtClose(context);
  EvtHarnessClose(harness);
}

static void TestDatagram(ULONG Family) {
  static const NTSTATUS refuse[] = {STATUS_DATA_NOT_ACCEPTED};
  EVT_CONTEXT *context = EvtNew("static datagram", Family);
  PWSK_SOCKET s;
  CONF_ADDR address;
  USHORT port;
  ULONG harness;
  char reply[64];

  ConfScope("v%lu static datagram", Family);
  s = EvtSocket(&StaticNpi, "WskSocket (datagram)", Family, SOCK_DGRAM, IPPROTO_UDP, DATAGRAM,
                context, &EvtDatagramDispatch);
  if (s == NULL) {
    return;
  }
  ConfLoopback(&address, Family, 0);
  ConfBind("WskBind", s, &address, STATUS_SUCCESS);
  port = ConfLocalPort(s, DATAGRAM, NULL);
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "UDP %lu", Family), "a harness UDP socket",
                 "answer '%s'", reply)) {
    EvtClose(context);
    return;
  }
  harness = ConfField(reply, 0);
  EvtScript(context, 1, refuse, NULL, FALSE);
  /* Refused with static events: the event stays on and the datagram is dropped. */
  ConfCommand(reply, sizeof(reply), "UDPSEND %lu %lu %u 7331", harness, Family, port); /* "s1" */
  ConfExpectTrue("WskReceiveFromEvent without SO_WSK_EVENT_CALLBACK (refused)",
                 EvtWaitFor(&context->ReceiveFromCalls, 1));
  ConfCommand(reply, sizeof(reply), "UDPSEND %lu %lu %u 7332", harness, Family, port); /* "s2" */
  if (ConfExpectTrue("the event stays enabled after a refusal",
                     EvtWaitFor(&context->ReceiveFromCalls, 2))) {
    ConfCheck(context->DatagramCount == 1 && context->Datagrams[0].Length == 2 &&
                  context->Datagrams[0].Data[1] == '2',
              "the refused datagram was dropped, the next one indicated", "%lu datagrams recorded",
              context->DatagramCount);
  }
  EvtExpectEvents("disable the static WSK_EVENT_RECEIVE_FROM", s,
                  WSK_EVENT_RECEIVE_FROM | WSK_EVENT_DISABLE, STATUS_INVALID_DEVICE_STATE);
  EvtClose(context);
  EvtHarnessClose(harness);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  if (NT_SUCCESS(ConfBegin(DriverObject, RegistryPath, "events_static"))) {
    WSK_CLIENT_NPI client;
    NTSTATUS status;
    ULONG i;
    ConfScope("static registration");
    client.ClientContext = NULL;
    client.Dispatch = &StaticClientDispatch;
    status = WskRegister(&client, &StaticRegistration);
    if (ConfExpectStatus("WskRegister (a second registration)", STATUS_SUCCESS, status)) {
      status = WskCaptureProviderNPI(&StaticRegistration, WSK_INFINITE_WAIT, &StaticNpi);
      if (ConfExpectStatus("WskCaptureProviderNPI", STATUS_SUCCESS, status)) {
        ConfExpectStatus("WSK_SET_STATIC_EVENT_CALLBACKS with no events", STATUS_INVALID_PARAMETER,
                         SetStatic(&NPI_WSK_INTERFACE_ID, 0));
        ConfExpectStatus("WSK_SET_STATIC_EVENT_CALLBACKS with WSK_EVENT_DISABLE",
                         STATUS_INVALID_PARAMETER,
                         SetStatic(&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE));
        ConfExpectStatus("WSK_SET_STATIC_EVENT_CALLBACKS with another NPI", STATUS_NOT_SUPPORTED,
                         SetStatic(&OtherNpi, WSK_EVENT_ACCEPT));
        status =
            SetStatic(&NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE |
                                                 WSK_EVENT_DISCONNECT | WSK_EVENT_RECEIVE_FROM);
        if (ConfExpectStatus("WSK_SET_STATIC_EVENT_CALLBACKS before any socket", STATUS_SUCCESS,
                             status)) {
          for (i = 0; i < CONF_FAMILY_COUNT; i++) {
            TestListener(ConfFamilies[i]);
            TestConnection(ConfFamilies[i]);
            TestDatagram(ConfFamilies[i]);
            ConfScope("v%lu rules", ConfFamilies[i]);
            EvtCheckRules();
          }
        }
        ConfScope("static registration");
        if (CONF_BUG_STATIC_EVENTS_AFTER_CLOSE) {
          CONF_KNOWN_BUG("WSK_SET_STATIC_EVENT_CALLBACKS after the sockets were closed",
                         "CONF_BUG_STATIC_EVENTS_AFTER_CLOSE");
        } else {
          ConfExpectStatus("WSK_SET_STATIC_EVENT_CALLBACKS after the sockets were closed",
                           STATUS_INVALID_DEVICE_STATE,
                           SetStatic(&NPI_WSK_INTERFACE_ID, WSK_EVENT_SEND_BACKLOG));
        }
        WskReleaseProviderNPI(&StaticRegistration);
      }
      /* Waits for every socket of the registration to be closed. */
      WskDeregister(&StaticRegistration);
      ConfExpectValue("WskClientEvent was never called", 0, (ULONG)EvtRead(&ClientEvents));
    }
  }
  return ConfEnd();
}

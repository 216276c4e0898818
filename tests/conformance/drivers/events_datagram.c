/*
 * events_datagram.c - conformance of WskReceiveFromEvent (docs/wsk-behaviour.md,
 * "WskReceiveFromEvent" and "Enabling and disabling events"): SO_WSK_EVENT_CALLBACK on a datagram
 * socket (wrong category, an IRP to enable); datagrams waiting before the event is enabled
 * indicated as one WSK_DATAGRAM_INDICATION list, in order, each with the harness's address and
 * IP_PKTINFO/IPV6_PKTINFO control data; STATUS_DATA_NOT_ACCEPTED disabling the dynamically enabled
 * event until it is enabled again, then the refused list indicated first; STATUS_PENDING retention
 * released from another thread; WskRelease of a released list.
 */
#include "evt.h"

DRIVER_INITIALIZE DriverEntry;

#define DATAGRAM WSK_FLAG_DATAGRAM_SOCKET

static BOOLEAN UdpSend(ULONG Harness, ULONG Family, USHORT Port, const char *Text) {
  char hex[64];
  char reply[64];
  size_t length = 0;
  RtlStringCbLengthA(Text, 24, &length);
  ConfHexEncode(Text, length, hex, sizeof(hex));
  return ConfCheck(
      ConfCommand(reply, sizeof(reply), "UDPSEND %lu %lu %u %s", Harness, Family, Port, hex),
      "the harness sends a datagram", "answer '%s'", reply);
}

/* Waits (bounded) until Count datagrams were recorded. */
static BOOLEAN WaitDatagrams(EVT_CONTEXT *Context, ULONG Count) {
  ULONG rounds;
  for (rounds = 0; rounds < CONF_TIMEOUT_MS; rounds++) {
    KIRQL irql;
    ULONG have;
    KeAcquireSpinLock(&Context->Lock, &irql);
    have = Context->DatagramCount;
    KeReleaseSpinLock(&Context->Lock, irql);
    if (have >= Count) {
      return TRUE;
    }
    EvtSleep(1);
  }
  return FALSE;
}

/* Datagram Index was Text, from the harness's port, with control data. */
static void ExpectDatagram(EVT_CONTEXT *Context, ULONG Index, const char *Text, USHORT From,
                           ULONG Family) {
  const EVT_DATAGRAM *d = &Context->Datagrams[Index];
  size_t length = 0;
  RtlStringCbLengthA(Text, 24, &length);
  ConfCheck(d->Length == length && RtlCompareMemory(d->Data, Text, length) == length, "the payload",
            "datagram %lu is not '%s' (length %lu)", Index, Text, d->Length);
  ConfCheck(ConfIsLoopback(&d->Remote, Family) && ConfPort(&d->Remote) == From,
            "RemoteAddress is the harness's", "datagram %lu: port %u, expected %u", Index,
            ConfPort(&d->Remote), From);
  ConfCheck(d->HasControl && d->ControlLength >= sizeof(WSACMSGHDR) &&
                d->CmsgLevel == (Family == 6 ? IPPROTO_IPV6 : IPPROTO_IP) &&
                d->CmsgType == (Family == 6 ? IPV6_PKTINFO : IP_PKTINFO),
            "ControlInfo holds the PKTINFO message",
            "datagram %lu: control %u, length %lu, level %lu, type %lu", Index, d->HasControl,
            d->ControlLength, d->CmsgLevel, d->CmsgType);
}

static void TestReceiveFrom(ULONG Family) {
  static const NTSTATUS answers[] = {STATUS_SUCCESS, STATUS_DATA_NOT_ACCEPTED, STATUS_PENDING};
  EVT_CONTEXT *context = EvtNew("datagram", Family);
  PWSK_SOCKET s;
  CONF_ADDR address;
  PWSK_DATAGRAM_INDICATION retained;
  USHORT port;
  USHORT harness_port;
  ULONG harness;
  char reply[64];

  ConfScope("v%lu receive-from event", Family);
  s = EvtSocket(NULL, "WskSocket (datagram)", Family, SOCK_DGRAM, IPPROTO_UDP, DATAGRAM, context,
                &EvtDatagramDispatch);
  if (s == NULL) {
    return;
  }
  ConfExpectStatus("enable PKTINFO", STATUS_SUCCESS,
                   ConfSetOption(s, Family == 6 ? IPPROTO_IPV6 : IPPROTO_IP,
                                 Family == 6 ? IPV6_PKTINFO : IP_PKTINFO, 1));
  ConfLoopback(&address, Family, 0);
  ConfBind("WskBind", s, &address, STATUS_SUCCESS);
  port = ConfLocalPort(s, DATAGRAM, NULL);
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "UDP %lu", Family), "a harness UDP socket",
                 "answer '%s'", reply)) {
    EvtClose(context);
    return;
  }
  harness = ConfField(reply, 0);
  harness_port = (USHORT)ConfField(reply, 1);

  EvtExpectEvents("enable WSK_EVENT_RECEIVE on a datagram socket", s, WSK_EVENT_RECEIVE,
                  STATUS_INVALID_PARAMETER);
  EvtExpectEvents("enable WSK_EVENT_ACCEPT on a datagram socket", s, WSK_EVENT_ACCEPT,
                  STATUS_INVALID_PARAMETER);
  EvtExpectEventsIrp("enable WSK_EVENT_RECEIVE_FROM with an IRP", s, WSK_EVENT_RECEIVE_FROM,
                     STATUS_INVALID_PARAMETER);
  EvtScript(context, 3, answers, NULL, FALSE);

  /* Three datagrams wait; enabling indicates them as one list, in order. */
  UdpSend(harness, Family, port, "d1");
  UdpSend(harness, Family, port, "d2");
  UdpSend(harness, Family, port, "d3");
  EvtExpectEvents("enable WSK_EVENT_RECEIVE_FROM (no IRP)", s, WSK_EVENT_RECEIVE_FROM,
                  STATUS_SUCCESS);
  if (ConfExpectTrue("three datagrams indicated", WaitDatagrams(context, 3))) {
    ConfExpectValue("in one list", 3, context->ListLengths[0]);
    ExpectDatagram(context, 0, "d1", harness_port, Family);
    ExpectDatagram(context, 1, "d2", harness_port, Family);
    ExpectDatagram(context, 2, "d3", harness_port, Family);
    ConfCheck((context->FlagsSeen & WSK_FLAG_AT_DISPATCH_LEVEL) != 0,
              "Flags has WSK_FLAG_AT_DISPATCH_LEVEL", "flags 0x%lx", context->FlagsSeen);
    ConfCheck((context->FlagsSeen & (MSG_BCAST | MSG_MCAST)) == 0, "no MSG_BCAST or MSG_MCAST",
              "flags 0x%lx", context->FlagsSeen);
  }

  /* Refused: the dynamically enabled event is now off; what comes waits (docs/wsk-behaviour.md,
   * "WskReceiveFromEvent"). */
  UdpSend(harness, Family, port, "r1");
  ConfExpectTrue("indicated, and refused", EvtWaitFor(&context->ReceiveFromCalls, 2));
  UdpSend(harness, Family, port, "r2");
  ConfExpectTrue("no more events after the refusal", EvtStaysBelow(&context->ReceiveFromCalls, 3));
  EvtExpectEvents("enable WSK_EVENT_RECEIVE_FROM again", s, WSK_EVENT_RECEIVE_FROM, STATUS_SUCCESS);
  if (ConfExpectTrue("the refused datagram, then the new one", WaitDatagrams(context, 5))) {
    ExpectDatagram(context, 3, "r1", harness_port, Family);
    ExpectDatagram(context, 4, "r2", harness_port, Family);
  }

  /* The re-indication was retained (STATUS_PENDING): released from a system thread. */
  ConfExpectValue("one list retained", 1, EvtRetainedCount(context));
  retained = (PWSK_DATAGRAM_INDICATION)EvtRetainedAt(context, 0);
  ConfExpectValue("WskRelease from a system thread: failures", 0,
                  EvtReleaseAll(context, DATAGRAM, TRUE));
  if (retained != NULL) {
    ConfExpectStatus(
        "WskRelease of a list already released", STATUS_INVALID_PARAMETER,
        ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)s->Dispatch)->WskRelease(s, retained));
  }
  ConfExpectValue("no NULL indication", 0, (ULONG)EvtRead(&context->NullIndications));
  EvtClose(context);
  EvtHarnessClose(harness);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  if (NT_SUCCESS(ConfBegin(DriverObject, RegistryPath, "events_datagram"))) {
    ULONG i;
    for (i = 0; i < CONF_FAMILY_COUNT; i++) {
      TestReceiveFrom(ConfFamilies[i]);
      ConfScope("v%lu rules", ConfFamilies[i]);
      EvtCheckRules();
    }
  }
  return ConfEnd();
}

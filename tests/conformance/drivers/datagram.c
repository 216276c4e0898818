/*
 * datagram.c - conformance of datagram sockets: calls before bind, WskBind (once; address in
 * use), WskSendTo and WskReceiveFrom (pending and immediate, remote address, control flags,
 * truncation, IP_PKTINFO/IPV6_PKTINFO control messages in and out), WskSendMessages, fixed
 * remote and send-to addresses (SIO_WSK_SET_REMOTE_ADDRESS, SIO_WSK_SET_SENDTO_ADDRESS),
 * SO_BROADCAST, IoCancelIrp of a pending receive and WskCloseSocket with one pending.
 */
#include "conf.h"

DRIVER_INITIALIZE DriverEntry;

#define DATAGRAM WSK_FLAG_DATAGRAM_SOCKET

static NTSTATUS SendTo(CONF_CALL *Call, PWSK_SOCKET Socket, WSK_BUF *Buffer, CONF_ADDR *To,
                       ULONG ControlLength, PCMSGHDR Control) {
  return ConfReturned(Call, ConfOps(Socket, DATAGRAM)
                                .SendTo(Socket, Buffer, 0, To != NULL ? &To->Sa : NULL,
                                        ControlLength, Control, ConfIrp(Call)));
}

/* A receive with every output preset to 0xdeadbeef. */
typedef struct _RECEIVE {
  CONF_CALL Call;
  CONF_BUFFER Buffer;
  CONF_ADDR From;
  ULONG ControlLength;
  ULONG ControlFlags;
  UCHAR Control[128];
} RECEIVE;

static BOOLEAN ReceiveInit(RECEIVE *R, SIZE_T Size) {
  RtlZeroMemory(R, sizeof(*R));
  if (!ConfCallInit(&R->Call)) {
    return FALSE;
  }
  if (!ConfBufferInit(&R->Buffer, Size)) {
    ConfCallFree(&R->Call);
    return FALSE;
  }
  return TRUE;
}

static void ReceiveFree(RECEIVE *R) {
  ConfBufferFree(&R->Buffer);
  ConfCallFree(&R->Call);
}

static void PostReceiveFrom(RECEIVE *R, PWSK_SOCKET Socket, BOOLEAN WithControl) {
  ConfPoison(&R->From, sizeof(R->From));
  ConfPoison(R->Control, sizeof(R->Control));
  ConfPoison(R->Buffer.Data, R->Buffer.Size);
  R->ControlLength = sizeof(R->Control);
  R->ControlFlags = CONF_POISON;
  ConfReturned(&R->Call, ConfOps(Socket, DATAGRAM)
                             .ReceiveFrom(Socket, &R->Buffer.Wsk, 0, &R->From.Sa,
                                          WithControl ? &R->ControlLength : NULL,
                                          WithControl ? (PCMSGHDR)R->Control : NULL,
                                          &R->ControlFlags, ConfIrp(&R->Call)));
}

static BOOLEAN SendText(const char *Name, PWSK_SOCKET Socket, CONF_ADDR *To, const char *Text) {
  CONF_BUFFER buffer;
  CONF_CALL call;
  BOOLEAN ok = FALSE;
  size_t length = 0;
  RtlStringCbLengthA(Text, 1024, &length);
  if (!ConfBufferInit(&buffer, length)) {
    return FALSE;
  }
  if (ConfCallInit(&call)) {
    RtlCopyMemory(buffer.Data, Text, length);
    SendTo(&call, Socket, &buffer.Wsk, To, 0, NULL);
    ok = ConfExpectCall(&call, Name, STATUS_SUCCESS, length);
    ConfCallFree(&call);
  }
  ConfBufferFree(&buffer);
  return ok;
}

/* Receives one datagram and checks its text and source port. */
static void ExpectDatagram(const char *Name, PWSK_SOCKET Socket, const char *Text, USHORT From) {
  RECEIVE r;
  size_t length = 0;
  RtlStringCbLengthA(Text, 1024, &length);
  if (!ReceiveInit(&r, 64)) {
    return;
  }
  PostReceiveFrom(&r, Socket, TRUE);
  if (ConfExpectCall(&r.Call, Name, STATUS_SUCCESS, length)) {
    ConfCheck(RtlCompareMemory(r.Buffer.Data, Text, length) == length, "the datagram's bytes",
              "expected '%s'", Text);
    ConfExpectValue("the datagram's source port", From, ConfPort(&r.From));
  }
  ReceiveFree(&r);
}

static NTSTATUS Ioctl(PWSK_SOCKET Socket, ULONG Code, const CONF_ADDR *Address, SIZE_T Size) {
  CONF_CALL call;
  CONF_ADDR copy;
  NTSTATUS status;
  if (!ConfCallInit(&call)) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  if (Address != NULL) {
    copy = *Address;
  }
  ConfReturned(&call, ConfOps(Socket, DATAGRAM)
                          .Control(Socket, WskIoctl, Code, 0, Size, Address != NULL ? &copy : NULL,
                                   0, NULL, NULL, ConfIrp(&call)));
  status = ConfWait(&call);
  ConfCheck(call.Irp->IoStatus.Information == 0, "an IOCTL without output reports 0 bytes",
            "Information %Iu", call.Irp->IoStatus.Information);
  ConfCallFree(&call);
  return status;
}

static void TestBasics(ULONG Family) {
  const ULONG index = CONF_INDEX(Family);
  PWSK_SOCKET s;
  PWSK_SOCKET other;
  CONF_OPS ops;
  CONF_ADDR address;
  CONF_ADDR echo;
  CONF_BUFFER buffer;
  CONF_CALL call;
  RECEIVE r;
  USHORT port;

  ConfScope("v%lu datagram", Family);
  s = ConfSocket("WskSocket", Family, SOCK_DGRAM, IPPROTO_UDP, DATAGRAM);
  if (s == NULL) {
    return;
  }
  if (!ConfCallInit(&call) || !ConfBufferInit(&buffer, 10) || !ReceiveInit(&r, 4)) {
    ConfClose("socket", s);
    return;
  }
  ops = ConfOps(s, DATAGRAM);
  ConfLoopback(&echo, Family, (USHORT)ConfParams.UdpEchoPort[index]);
  SendTo(&call, s, &buffer.Wsk, &echo, 0, NULL);
  ConfExpectCall(&call, "WskSendTo before bind", STATUS_INVALID_DEVICE_STATE, 0);
  PostReceiveFrom(&r, s, TRUE);
  ConfExpectCall(&r.Call, "WskReceiveFrom before bind", STATUS_INVALID_DEVICE_STATE, 0);
  ConfExpectValue("ControlLength is untouched", sizeof(r.Control), r.ControlLength);
  ConfReturned(&call, ops.GetLocalAddress(s, &address.Sa, ConfIrp(&call)));
  ConfExpectCall(&call, "WskGetLocalAddress before bind", STATUS_INVALID_DEVICE_STATE, 0);

  ConfLoopback(&address, Family, 0);
  ConfBind("WskBind", s, &address, STATUS_SUCCESS);
  ConfBind("WskBind a second time", s, &address, STATUS_ADDRESS_ALREADY_ASSOCIATED);
  port = ConfLocalPort(s, DATAGRAM, &address);
  ConfExpectTrue("a port was assigned on loopback", port != 0 && ConfIsLoopback(&address, Family));
  other = ConfSocket("another datagram socket", Family, SOCK_DGRAM, IPPROTO_UDP, DATAGRAM);
  if (other != NULL) {
    ConfBind("the same address again: in use", other, &address, STATUS_ADDRESS_ALREADY_EXISTS);
    ConfClose("the other socket", other);
  }

  /* Immediate receive: the echo is already there when the receive is posted. */
  SendText("WskSendTo the echo peer", s, &echo, "ping");
  {
    LARGE_INTEGER delay;
    delay.QuadPart = -50 * 10000;
    KeDelayExecutionThread(KernelMode, FALSE, &delay);
  }
  PostReceiveFrom(&r, s, TRUE);
  if (ConfExpectCall(&r.Call, "WskReceiveFrom", STATUS_SUCCESS, 4)) {
    ConfExpectTrue("the echo's bytes", RtlCompareMemory(r.Buffer.Data, "ping", 4) == 4);
    ConfExpectTrue("its source is the echo peer",
                   ConfIsLoopback(&r.From, Family) && ConfPort(&r.From) == ConfPort(&echo));
    ConfExpectValue("no control data", 0, r.ControlLength);
    ConfExpectValue("no control flags", 0, r.ControlFlags);
  }

  /* Pending receive, then the datagram. */
  PostReceiveFrom(&r, s, TRUE);
  ConfExpectPending(&r.Call, "WskReceiveFrom pends");
  SendText("WskSendTo again", s, &echo, "pong");
  ConfExpectCall(&r.Call, "the pending WskReceiveFrom completes", STATUS_SUCCESS, 4);

  /* A datagram longer than the buffer is truncated: MSG_TRUNC, success (docs/divergences.md). */
  PostReceiveFrom(&r, s, TRUE);
  SendText("WskSendTo 10 bytes", s, &echo, "truncated!");
  if (ConfExpectCall(&r.Call, "WskReceiveFrom into 4 bytes", STATUS_SUCCESS, 4)) {
    ConfExpectTrue("the first 4 bytes", RtlCompareMemory(r.Buffer.Data, "trun", 4) == 4);
    ConfExpectValue("MSG_TRUNC", MSG_TRUNC, r.ControlFlags & MSG_TRUNC);
  }

  /* Without ControlLength, ControlInfo and ControlFlags are ignored. */
  PostReceiveFrom(&r, s, FALSE);
  SendText("WskSendTo 'abc'", s, &echo, "abc");
  if (ConfExpectCall(&r.Call, "WskReceiveFrom without ControlLength", STATUS_SUCCESS, 3)) {
    ConfExpectValue("ControlFlags untouched", CONF_POISON, r.ControlFlags);
  }

  /* Reserved flags and missing addresses. */
  ConfReturned(&call, ops.SendTo(s, &buffer.Wsk, 1, &echo.Sa, 0, NULL, ConfIrp(&call)));
  ConfExpectCall(&call, "WskSendTo with a reserved flag", STATUS_INVALID_PARAMETER, 0);
  SendTo(&call, s, &buffer.Wsk, NULL, 0, NULL);
  ConfExpectCall(&call, "WskSendTo without an address or a fixed one", STATUS_INVALID_PARAMETER, 0);

  /* A datagram larger than UDP can carry. */
  {
    CONF_BUFFER huge;
    if (ConfBufferInit(&huge, 70000)) {
      SendTo(&call, s, &huge.Wsk, &echo, 0, NULL);
      ConfExpectCall(&call, "WskSendTo of 70,000 bytes", STATUS_BUFFER_OVERFLOW, 0);
      ConfBufferFree(&huge);
    }
  }

  /* IoCancelIrp of a pending receive. */
  PostReceiveFrom(&r, s, TRUE);
  if (ConfExpectPending(&r.Call, "WskReceiveFrom to cancel pends")) {
    ConfExpectTrue("IoCancelIrp finds the cancel routine", IoCancelIrp(r.Call.Irp));
  }
  ConfExpectCall(&r.Call, "the cancelled WskReceiveFrom", STATUS_CANCELLED, 0);

  /* WskCloseSocket completes a pending receive. */
  PostReceiveFrom(&r, s, TRUE);
  ConfExpectPending(&r.Call, "WskReceiveFrom pends before the close");
  ConfClose("socket with a receive pending", s);
  ConfExpectTrue("the receive completed before the close did", ConfCompleted(&r.Call));
  ConfExpectCall(&r.Call, "the receive pending at close", STATUS_CANCELLED, 0);
  ReceiveFree(&r);
  ConfBufferFree(&buffer);
  ConfCallFree(&call);
}

/* IP_PKTINFO / IPV6_PKTINFO: the destination address arrives as control data, and a source
 * address can be given as control data. */
static void TestControlMessages(ULONG Family) {
  const ULONG index = CONF_INDEX(Family);
  const ULONG level = Family == 6 ? IPPROTO_IPV6 : IPPROTO_IP;
  const ULONG type = Family == 6 ? IPV6_PKTINFO : IP_PKTINFO;
  PWSK_SOCKET s;
  CONF_ADDR address;
  CONF_ADDR echo;
  CONF_BUFFER buffer;
  CONF_CALL call;
  RECEIVE r;
  union {
    WSACMSGHDR header;
    UCHAR bytes[64];
  } control;
  PWSACMSGHDR cmsg;
  ULONG value;

  ConfScope("v%lu datagram control messages", Family);
  s = ConfSocket("WskSocket", Family, SOCK_DGRAM, IPPROTO_UDP, DATAGRAM);
  if (s == NULL) {
    return;
  }
  if (!ConfCallInit(&call) || !ConfBufferInit(&buffer, 4) || !ReceiveInit(&r, 16)) {
    ConfClose("socket", s);
    return;
  }
  ConfExpectStatus("enable PKTINFO", STATUS_SUCCESS, ConfSetOption(s, level, type, 1));
  ConfExpectStatus("read PKTINFO back", STATUS_SUCCESS, ConfGetOption(s, level, type, &value));
  ConfExpectValue("PKTINFO is on", 1, value);
  ConfLoopback(&address, Family, 0);
  ConfBind("WskBind", s, &address, STATUS_SUCCESS);
  ConfLoopback(&echo, Family, (USHORT)ConfParams.UdpEchoPort[index]);

  PostReceiveFrom(&r, s, TRUE);
  SendText("WskSendTo", s, &echo, "info");
  if (ConfExpectCall(&r.Call, "WskReceiveFrom with control data", STATUS_SUCCESS, 4)) {
    cmsg = (PWSACMSGHDR)r.Control;
    ConfExpectTrue("ControlLength covers one message",
                   r.ControlLength >=
                           WSA_CMSG_LEN(Family == 6 ? sizeof(IN6_PKTINFO) : sizeof(IN_PKTINFO)) &&
                       r.ControlLength <= sizeof(r.Control));
    ConfExpectValue("cmsg_level", level, (ULONG)cmsg->cmsg_level);
    ConfExpectValue("cmsg_type", type, (ULONG)cmsg->cmsg_type);
    if (Family == 6) {
      IN6_PKTINFO info;
      RtlCopyMemory(&info, WSA_CMSG_DATA(cmsg), sizeof(info));
      ConfExpectValue("cmsg_len", WSA_CMSG_LEN(sizeof(IN6_PKTINFO)), cmsg->cmsg_len);
      ConfLoopback(&address, 6, 0);
      ConfExpectTrue("ipi6_addr is ::1", RtlCompareMemory(&info.ipi6_addr, &address.V6.sin6_addr,
                                                          sizeof(IN6_ADDR)) == sizeof(IN6_ADDR));
      ConfExpectTrue("ipi6_ifindex names an interface", info.ipi6_ifindex != 0);
    } else {
      IN_PKTINFO info;
      RtlCopyMemory(&info, WSA_CMSG_DATA(cmsg), sizeof(info));
      ConfExpectValue("cmsg_len", WSA_CMSG_LEN(sizeof(IN_PKTINFO)), cmsg->cmsg_len);
      ConfExpectValue("ipi_addr is 127.0.0.1", RtlUlongByteSwap(INADDR_LOOPBACK),
                      info.ipi_addr.s_addr);
      ConfExpectTrue("ipi_ifindex names an interface", info.ipi_ifindex != 0);
    }
    ConfExpectValue("no control flags", 0, r.ControlFlags);
  }

  /* A control buffer too small for the message: MSG_CTRUNC. */
  r.ControlLength = 4;
  ConfPoison(r.Control, sizeof(r.Control));
  r.ControlFlags = CONF_POISON;
  ConfReturned(&r.Call, ConfOps(s, DATAGRAM)
                            .ReceiveFrom(s, &r.Buffer.Wsk, 0, &r.From.Sa, &r.ControlLength,
                                         (PCMSGHDR)r.Control, &r.ControlFlags, ConfIrp(&r.Call)));
  SendText("WskSendTo", s, &echo, "tiny");
  if (ConfExpectCall(&r.Call, "WskReceiveFrom with 4 bytes of control space", STATUS_SUCCESS, 4)) {
    ConfExpectValue("MSG_CTRUNC", MSG_CTRUNC, r.ControlFlags & MSG_CTRUNC);
  }

  /* Sending with a PKTINFO control message naming the loopback source. */
  RtlZeroMemory(&control, sizeof(control));
  cmsg = &control.header;
  cmsg->cmsg_level = level;
  cmsg->cmsg_type = type;
  if (Family == 6) {
    IN6_PKTINFO info;
    RtlZeroMemory(&info, sizeof(info));
    ConfLoopback(&address, 6, 0);
    info.ipi6_addr = address.V6.sin6_addr;
    cmsg->cmsg_len = WSA_CMSG_LEN(sizeof(info));
    RtlCopyMemory(WSA_CMSG_DATA(cmsg), &info, sizeof(info));
  } else {
    IN_PKTINFO info;
    RtlZeroMemory(&info, sizeof(info));
    info.ipi_addr.s_addr = RtlUlongByteSwap(INADDR_LOOPBACK);
    cmsg->cmsg_len = WSA_CMSG_LEN(sizeof(info));
    RtlCopyMemory(WSA_CMSG_DATA(cmsg), &info, sizeof(info));
  }
  RtlCopyMemory(buffer.Data, "ctrl", 4);
  PostReceiveFrom(&r, s, TRUE);
  SendTo(&call, s, &buffer.Wsk, &echo,
         (ULONG)WSA_CMSG_SPACE(Family == 6 ? sizeof(IN6_PKTINFO) : sizeof(IN_PKTINFO)),
         (PCMSGHDR)control.bytes);
  ConfExpectCall(&call, "WskSendTo with a PKTINFO control message", STATUS_SUCCESS, 4);
  if (ConfExpectCall(&r.Call, "its echo", STATUS_SUCCESS, 4)) {
    ConfExpectTrue("'ctrl'", RtlCompareMemory(r.Buffer.Data, "ctrl", 4) == 4);
  }
  ReceiveFree(&r);
  ConfBufferFree(&buffer);
  ConfCallFree(&call);
  ConfClose("socket", s);
}

static void TestSendMessages(ULONG Family) {
  const ULONG index = CONF_INDEX(Family);
  static const char *texts[3] = {"one", "two", "three"};
  PWSK_SOCKET s;
  CONF_ADDR address;
  CONF_ADDR echo;
  CONF_BUFFER buffers[3];
  WSK_BUF_LIST list[3];
  CONF_CALL call;
  ULONG i;
  SIZE_T total = 0;

  ConfScope("v%lu WskSendMessages", Family);
  s = ConfSocket("WskSocket", Family, SOCK_DGRAM, IPPROTO_UDP, DATAGRAM);
  if (s == NULL || !ConfCallInit(&call)) {
    ConfClose("socket", s);
    return;
  }
  ConfLoopback(&address, Family, 0);
  ConfBind("WskBind", s, &address, STATUS_SUCCESS);
  ConfLoopback(&echo, Family, (USHORT)ConfParams.UdpEchoPort[index]);
  for (i = 0; i < 3; i++) {
    size_t length = 0;
    RtlStringCbLengthA(texts[i], 16, &length);
    ConfBufferInit(&buffers[i], length);
    RtlCopyMemory(buffers[i].Data, texts[i], length);
    list[i].Buffer = buffers[i].Wsk;
    list[i].Next = i < 2 ? &list[i + 1] : NULL;
    total += length;
  }
  ConfReturned(&call,
               ConfOps(s, DATAGRAM).SendMessages(s, list, 0, &echo.Sa, 0, NULL, ConfIrp(&call)));
  if (ConfExpectCall(&call, "WskSendMessages of three datagrams", STATUS_SUCCESS, total)) {
    for (i = 0; i < 3; i++) {
      ExpectDatagram("each comes back as its own datagram", s, texts[i], ConfPort(&echo));
    }
  }
  ConfReturned(&call, ConfOps(s, DATAGRAM).SendMessages(s, list, 0, NULL, 0, NULL, ConfIrp(&call)));
  ConfExpectCall(&call, "WskSendMessages without an address", STATUS_INVALID_PARAMETER, 0);
  for (i = 0; i < 3; i++) {
    ConfBufferFree(&buffers[i]);
  }
  ConfCallFree(&call);
  ConfClose("socket", s);
}

static void TestFixedAddresses(ULONG Family) {
  PWSK_SOCKET s;
  CONF_ADDR address;
  CONF_ADDR a;
  CONF_ADDR b;
  ULONG id_a;
  ULONG id_b;
  USHORT port;
  char reply[256];
  char text[64];

  ConfScope("v%lu fixed addresses", Family);
  if (!ConfCommand(reply, sizeof(reply), "UDP %lu", Family)) {
    ConfCheck(FALSE, "harness UDP socket", "answer '%s'", reply);
    return;
  }
  id_a = ConfField(reply, 0);
  ConfLoopback(&a, Family, (USHORT)ConfField(reply, 1));
  ConfCommand(reply, sizeof(reply), "UDP %lu", Family);
  id_b = ConfField(reply, 0);
  ConfLoopback(&b, Family, (USHORT)ConfField(reply, 1));

  s = ConfSocket("WskSocket", Family, SOCK_DGRAM, IPPROTO_UDP, DATAGRAM);
  if (s == NULL) {
    return;
  }
  ConfExpectStatus("SIO_WSK_SET_REMOTE_ADDRESS before bind", STATUS_INVALID_DEVICE_STATE,
                   Ioctl(s, SIO_WSK_SET_REMOTE_ADDRESS, &a,
                         Family == 6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN)));
  ConfLoopback(&address, Family, 0);
  ConfBind("WskBind", s, &address, STATUS_SUCCESS);
  port = ConfLocalPort(s, DATAGRAM, NULL);

  /* A fixed remote address: sends go there, and only its datagrams are received. */
  ConfExpectStatus("SIO_WSK_SET_REMOTE_ADDRESS", STATUS_SUCCESS,
                   Ioctl(s, SIO_WSK_SET_REMOTE_ADDRESS, &a,
                         Family == 6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN)));
  if (SendText("WskSendTo without an address", s, NULL, "to-a")) {
    ConfCheck(ConfCommand(reply, sizeof(reply), "UDPRECV %lu", id_a) &&
                  ConfField(reply, 0) == port &&
                  strcmp(ConfFieldText(reply, 1, text, sizeof(text)), "746f2d61") == 0,
              "the fixed remote address gets it", "answer '%s'", reply);
  }
  ConfCommand(reply, sizeof(reply), "UDPSEND %lu %lu %u 66726f6d2d62", id_b, Family,
              port); /* "from-b": dropped */
  ConfCommand(reply, sizeof(reply), "UDPSEND %lu %lu %u 66726f6d2d61", id_a, Family,
              port); /* "from-a" */
  ExpectDatagram("only the fixed remote address's datagram arrives", s, "from-a", ConfPort(&a));

  /* Cleared: anyone may send again. */
  ConfExpectStatus("SIO_WSK_SET_REMOTE_ADDRESS with no address clears it", STATUS_SUCCESS,
                   Ioctl(s, SIO_WSK_SET_REMOTE_ADDRESS, NULL, 0));
  ConfCommand(reply, sizeof(reply), "UDPSEND %lu %lu %u 66726f6d2d62", id_b, Family, port);
  ExpectDatagram("after clearing, B's datagram arrives", s, "from-b", ConfPort(&b));

  /* A fixed send-to address: sends go to B, receives come from anyone. */
  ConfExpectStatus("SIO_WSK_SET_SENDTO_ADDRESS", STATUS_SUCCESS,
                   Ioctl(s, SIO_WSK_SET_SENDTO_ADDRESS, &b,
                         Family == 6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN)));
  if (SendText("WskSendTo without an address", s, NULL, "to-b")) {
    ConfCheck(ConfCommand(reply, sizeof(reply), "UDPRECV %lu", id_b) &&
                  strcmp(ConfFieldText(reply, 1, text, sizeof(text)), "746f2d62") == 0,
              "the fixed send-to address gets it", "answer '%s'", reply);
  }
  if (SendText("WskSendTo naming A overrides it", s, &a, "to-a")) {
    ConfCheck(ConfCommand(reply, sizeof(reply), "UDPRECV %lu", id_a), "A gets it", "answer '%s'",
              reply);
  }
  ConfCommand(reply, sizeof(reply), "UDPSEND %lu %lu %u 66726f6d2d61", id_a, Family, port);
  ExpectDatagram("receives still come from anyone", s, "from-a", ConfPort(&a));

  ConfClose("socket", s);
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", id_a);
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", id_b);
}

static void TestBroadcast(void) {
  PWSK_SOCKET s;
  CONF_ADDR address;
  CONF_ADDR broadcast;
  CONF_BUFFER buffer;
  CONF_CALL call;

  ConfScope("v4 broadcast");
  s = ConfSocket("WskSocket", 4, SOCK_DGRAM, IPPROTO_UDP, DATAGRAM);
  if (s == NULL || !ConfCallInit(&call) || !ConfBufferInit(&buffer, 4)) {
    ConfClose("socket", s);
    return;
  }
  ConfLoopback(&address, 4, 0);
  ConfBind("WskBind", s, &address, STATUS_SUCCESS);
  /* The loopback network's broadcast address. */
  ConfLoopback(&broadcast, 4, 9);
  broadcast.V4.sin_addr.s_addr = RtlUlongByteSwap(0x7fffffff);
  SendTo(&call, s, &buffer.Wsk, &broadcast, 0, NULL);
  ConfExpectCall(&call, "a broadcast without SO_BROADCAST", STATUS_ACCESS_DENIED, 0);
  ConfExpectStatus("SO_BROADCAST", STATUS_SUCCESS, ConfSetOption(s, SOL_SOCKET, SO_BROADCAST, 1));
  SendTo(&call, s, &buffer.Wsk, &broadcast, 0, NULL);
  ConfExpectCall(&call, "a broadcast with SO_BROADCAST", STATUS_SUCCESS, 4);
  ConfBufferFree(&buffer);
  ConfCallFree(&call);
  ConfClose("socket", s);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  ULONG i;
  if (NT_SUCCESS(ConfBegin(DriverObject, RegistryPath, "datagram"))) {
    for (i = 0; i < CONF_FAMILY_COUNT; i++) {
      TestBasics(ConfFamilies[i]);
      TestControlMessages(ConfFamilies[i]);
      TestSendMessages(ConfFamilies[i]);
      TestFixedAddresses(ConfFamilies[i]);
    }
    TestBroadcast();
  }
  return ConfEnd();
}

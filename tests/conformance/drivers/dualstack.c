/*
 * dualstack.c - conformance of dual-stack sockets: AF_INET6 sockets with IPV6_V6ONLY cleared
 * (before bind, as the Microsoft sample does) reach and are reached by IPv4 peers through
 * IPv4-mapped addresses (::ffff:127.0.0.1): a listener accepting an IPv4 and an IPv6 client, a
 * connection socket connecting to the IPv4 echo peer, and a datagram socket exchanging with the
 * IPv4 UDP echo. With IPV6_V6ONLY left on (the Windows default), IPv4 stays unreachable.
 */
#include "conf.h"

DRIVER_INITIALIZE DriverEntry;

/* An AF_INET6 socket of Category with IPV6_V6ONLY set to V6Only, bound to [::]:0. */
static PWSK_SOCKET DualSocket(ULONG Category, ULONG V6Only) {
  CONF_ADDR any;
  USHORT type = Category == WSK_FLAG_DATAGRAM_SOCKET ? SOCK_DGRAM : SOCK_STREAM;
  ULONG protocol = Category == WSK_FLAG_DATAGRAM_SOCKET ? IPPROTO_UDP : IPPROTO_TCP;
  ULONG value = CONF_POISON;
  PWSK_SOCKET s = ConfSocket("WskSocket(AF_INET6)", 6, type, protocol, Category);
  if (s == NULL) {
    return NULL;
  }
  ConfExpectStatus("IPV6_V6ONLY default", STATUS_SUCCESS,
                   ConfGetOption(s, IPPROTO_IPV6, IPV6_V6ONLY, &value));
  ConfExpectValue("IPV6_V6ONLY is on by default", 1, value);
  if (V6Only == 0) {
    ConfExpectStatus("clear IPV6_V6ONLY before bind", STATUS_SUCCESS,
                     ConfSetOption(s, IPPROTO_IPV6, IPV6_V6ONLY, 0));
  }
  ConfWildcard(&any, 6, 0);
  if (!ConfBind("WskBind to [::]:0", s, &any, STATUS_SUCCESS)) {
    ConfClose("socket", s);
    return NULL;
  }
  ConfExpectStatus("IPV6_V6ONLY cannot change after bind", STATUS_INVALID_DEVICE_STATE,
                   ConfSetOption(s, IPPROTO_IPV6, IPV6_V6ONLY, V6Only ? 0 : 1));
  return s;
}

static void AcceptFrom(PWSK_SOCKET Listener, USHORT Port, ULONG ClientFamily) {
  CONF_ADDR local;
  CONF_ADDR remote;
  CONF_CALL call;
  PWSK_SOCKET accepted;
  char reply[128];
  char data[8];
  ULONG connection;
  USHORT harness_port;
  NTSTATUS status;

  if (!ConfCallInit(&call)) {
    return;
  }
  ConfPoison(&local, sizeof(local));
  ConfPoison(&remote, sizeof(remote));
  ConfReturned(&call, ConfOps(Listener, WSK_FLAG_LISTEN_SOCKET)
                          .Accept(Listener, 0, NULL, NULL, &local.Sa, &remote.Sa, ConfIrp(&call)));
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "CONNECT %lu %u", ClientFamily, Port),
                 "the harness connects", "answer '%s'", reply)) {
    IoCancelIrp(call.Irp);
    ConfWait(&call);
    ConfCallFree(&call);
    return;
  }
  connection = ConfField(reply, 0);
  harness_port = (USHORT)ConfField(reply, 1);
  if (ConfExpectCall(&call, "WskAccept", STATUS_SUCCESS, CONF_ANY_INFORMATION)) {
    accepted = (PWSK_SOCKET)call.Irp->IoStatus.Information;
    if (ClientFamily == 4) {
      ConfExpectTrue("RemoteAddress is ::ffff:127.0.0.1", ConfIsMappedLoopback(&remote));
      ConfExpectTrue("LocalAddress is ::ffff:127.0.0.1", ConfIsMappedLoopback(&local));
    } else {
      ConfExpectTrue("RemoteAddress is ::1", ConfIsLoopback(&remote, 6));
      ConfExpectTrue("LocalAddress is ::1", ConfIsLoopback(&local, 6));
    }
    ConfExpectValue("RemoteAddress port", harness_port, ConfPort(&remote));
    ConfExpectValue("LocalAddress port", Port, ConfPort(&local));
    ConfCommand(reply, sizeof(reply), "SEND %lu 6475616c", connection); /* "dual" */
    ConfExpectValue("data from the client", 4,
                    ConfReceiveAll(accepted, WSK_FLAG_CONNECTION_SOCKET, data, 4, &status));
    ConfExpectTrue("'dual'", RtlCompareMemory(data, "dual", 4) == 4);
    if (ConfSendAll("data to the client", accepted, WSK_FLAG_CONNECTION_SOCKET, "back", 4)) {
      ConfCheck(ConfCommand(reply, sizeof(reply), "RECV %lu 4", connection) &&
                    strcmp(reply, "OK 6261636b") == 0,
                "the client gets 'back'", "answer '%s'", reply);
    }
    ConfReturned(&call, ConfOps(accepted, WSK_FLAG_CONNECTION_SOCKET)
                            .Disconnect(accepted, NULL, 0, ConfIrp(&call)));
    ConfExpectCall(&call, "graceful WskDisconnect", STATUS_SUCCESS, 0);
    ConfClose("accepted socket", accepted);
  }
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", connection);
  ConfCallFree(&call);
}

static void TestListener(void) {
  PWSK_SOCKET listener;
  USHORT port;

  ConfScope("dual-stack listener");
  listener = DualSocket(WSK_FLAG_LISTEN_SOCKET, 0);
  if (listener == NULL) {
    return;
  }
  port = ConfLocalPort(listener, WSK_FLAG_LISTEN_SOCKET, NULL);
  ConfScope("dual-stack listener, IPv4 client");
  AcceptFrom(listener, port, 4);
  ConfScope("dual-stack listener, IPv6 client");
  AcceptFrom(listener, port, 6);
  ConfClose("listener", listener);
}

static void TestConnection(void) {
  PWSK_SOCKET s;
  CONF_ADDR remote;
  CONF_CALL call;
  char echoed[8];
  NTSTATUS status;

  ConfScope("dual-stack connection");
  s = DualSocket(WSK_FLAG_CONNECTION_SOCKET, 0);
  if (s == NULL || !ConfCallInit(&call)) {
    ConfClose("socket", s);
    return;
  }
  ConfMappedLoopback(&remote, (USHORT)ConfParams.EchoPort[0]);
  ConfReturned(&call,
               ConfOps(s, WSK_FLAG_CONNECTION_SOCKET).Connect(s, &remote.Sa, 0, ConfIrp(&call)));
  if (ConfExpectCall(&call, "WskConnect to ::ffff:127.0.0.1 (the IPv4 echo peer)", STATUS_SUCCESS,
                     0)) {
    ConfPoison(&remote, sizeof(remote));
    ConfReturned(
        &call,
        ConfOps(s, WSK_FLAG_CONNECTION_SOCKET).GetRemoteAddress(s, &remote.Sa, ConfIrp(&call)));
    ConfExpectCall(&call, "WskGetRemoteAddress", STATUS_SUCCESS, 0);
    ConfExpectTrue("the remote address is IPv4-mapped", ConfIsMappedLoopback(&remote));
    ConfExpectValue("and the echo peer's port", ConfParams.EchoPort[0], ConfPort(&remote));
    if (ConfSendAll("send", s, WSK_FLAG_CONNECTION_SOCKET, "mapped", 6)) {
      ConfExpectValue("the echo", 6,
                      ConfReceiveAll(s, WSK_FLAG_CONNECTION_SOCKET, echoed, 6, &status));
      ConfExpectTrue("'mapped'", RtlCompareMemory(echoed, "mapped", 6) == 6);
    }
  }
  ConfCallFree(&call);
  ConfClose("socket", s);

  /* IPV6_V6ONLY on (the default): IPv4-mapped destinations are out of reach. */
  ConfScope("IPv6-only connection");
  s = DualSocket(WSK_FLAG_CONNECTION_SOCKET, 1);
  if (s == NULL || !ConfCallInit(&call)) {
    ConfClose("socket", s);
    return;
  }
  ConfMappedLoopback(&remote, (USHORT)ConfParams.EchoPort[0]);
  ConfReturned(&call,
               ConfOps(s, WSK_FLAG_CONNECTION_SOCKET).Connect(s, &remote.Sa, 0, ConfIrp(&call)));
  status = ConfWait(&call);
  ConfCheck(!NT_SUCCESS(status) && call.Irp->IoStatus.Information == 0,
            "WskConnect to an IPv4-mapped address fails", "status 0x%08lX, Information %Iu",
            (ULONG)status, call.Irp->IoStatus.Information);
  ConfCallFree(&call);
  ConfClose("socket", s);
}

static void TestDatagram(void) {
  PWSK_SOCKET s;
  CONF_ADDR to;
  CONF_ADDR from;
  CONF_BUFFER buffer;
  CONF_CALL call;
  CONF_CALL receive;

  ConfScope("dual-stack datagram");
  s = DualSocket(WSK_FLAG_DATAGRAM_SOCKET, 0);
  if (s == NULL || !ConfCallInit(&call) || !ConfCallInit(&receive) ||
      !ConfBufferInit(&buffer, 16)) {
    ConfClose("socket", s);
    return;
  }
  ConfPoison(&from, sizeof(from));
  ConfReturned(&receive,
               ConfOps(s, WSK_FLAG_DATAGRAM_SOCKET)
                   .ReceiveFrom(s, &buffer.Wsk, 0, &from.Sa, NULL, NULL, NULL, ConfIrp(&receive)));
  ConfMappedLoopback(&to, (USHORT)ConfParams.UdpEchoPort[0]);
  {
    CONF_BUFFER out;
    if (ConfBufferInit(&out, 4)) {
      RtlCopyMemory(out.Data, "udp4", 4);
      ConfReturned(&call, ConfOps(s, WSK_FLAG_DATAGRAM_SOCKET)
                              .SendTo(s, &out.Wsk, 0, &to.Sa, 0, NULL, ConfIrp(&call)));
      ConfExpectCall(&call, "WskSendTo ::ffff:127.0.0.1 (the IPv4 UDP echo)", STATUS_SUCCESS, 4);
      ConfBufferFree(&out);
    }
  }
  if (ConfExpectCall(&receive, "WskReceiveFrom gets the echo", STATUS_SUCCESS, 4)) {
    ConfExpectTrue("'udp4'", RtlCompareMemory(buffer.Data, "udp4", 4) == 4);
    ConfExpectTrue("from ::ffff:127.0.0.1", ConfIsMappedLoopback(&from));
    ConfExpectValue("from the echo's port", ConfParams.UdpEchoPort[0], ConfPort(&from));
  }
  ConfBufferFree(&buffer);
  ConfCallFree(&receive);
  ConfCallFree(&call);
  ConfClose("socket", s);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  if (NT_SUCCESS(ConfBegin(DriverObject, RegistryPath, "dualstack"))) {
    TestListener();
    TestConnection();
    TestDatagram();
  }
  return ConfEnd();
}

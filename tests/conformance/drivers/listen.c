/*
 * listen.c - conformance of listening sockets: WskBind (once; address in use by another socket
 * and by another process; SO_REUSEADDR and SO_EXCLUSIVEADDRUSE before and after bind),
 * WskGetLocalAddress before and after bind, WskAccept pending and with a connection waiting,
 * with and without address outputs, several pending in order, cancelled with IoCancelIrp and by
 * WskCloseSocket; the accepted socket's addresses, data in both directions, and its close
 * without a disconnect (abortive). The harness connects to the driver through its command
 * channel.
 */
#include "conf.h"

DRIVER_INITIALIZE DriverEntry;

#define LISTEN WSK_FLAG_LISTEN_SOCKET
#define CONNECTION WSK_FLAG_CONNECTION_SOCKET

/* Posts a WskAccept with address outputs preset to 0xdeadbeef. */
static void PostAccept(CONF_CALL *Call, PWSK_SOCKET Listener, CONF_ADDR *Local, CONF_ADDR *Remote) {
  if (Local != NULL) {
    ConfPoison(Local, sizeof(*Local));
  }
  if (Remote != NULL) {
    ConfPoison(Remote, sizeof(*Remote));
  }
  ConfReturned(Call, ConfOps(Listener, LISTEN)
                         .Accept(Listener, 0, NULL, NULL, Local != NULL ? &Local->Sa : NULL,
                                 Remote != NULL ? &Remote->Sa : NULL, ConfIrp(Call)));
}

/* Asks the harness to connect to loopback:Port; returns its connection id (0 on failure) and
 * the harness side's port. */
static ULONG HarnessConnectAs(const char *Verb, ULONG Family, USHORT Port, USHORT *HarnessPort) {
  char reply[128];
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "%s %lu %u", Verb, Family, Port),
                 "the harness connects", "answer '%s'", reply)) {
    return 0;
  }
  *HarnessPort = (USHORT)ConfField(reply, 1);
  return ConfField(reply, 0);
}

static ULONG HarnessConnect(ULONG Family, USHORT Port, USHORT *HarnessPort) {
  return HarnessConnectAs("CONNECT", Family, Port, HarnessPort);
}

static void TestAccept(ULONG Family) {
  PWSK_SOCKET listener;
  PWSK_SOCKET accepted;
  CONF_OPS ops;
  CONF_ADDR address;
  CONF_ADDR local;
  CONF_ADDR remote;
  CONF_CALL call;
  CONF_CALL second;
  char reply[256];
  char data[16];
  USHORT port;
  USHORT harness_port = 0;
  USHORT harness_port2 = 0;
  ULONG connection;
  ULONG connection2;
  NTSTATUS status;

  ConfScope("v%lu accept", Family);
  listener = ConfSocket("WskSocket", Family, SOCK_STREAM, IPPROTO_TCP, LISTEN);
  if (listener == NULL || !ConfCallInit(&call)) {
    ConfClose("listener", listener);
    return;
  }
  if (!ConfCallInit(&second)) {
    ConfCallFree(&call);
    ConfClose("listener", listener);
    return;
  }
  ops = ConfOps(listener, LISTEN);

  /* Before bind: no local address, nothing to accept. */
  ConfPoison(&address, sizeof(address));
  ConfReturned(&call, ops.GetLocalAddress(listener, &address.Sa, ConfIrp(&call)));
  ConfExpectCall(&call, "WskGetLocalAddress before bind", STATUS_INVALID_DEVICE_STATE, 0);
  ConfExpectValue("the address output is untouched", CONF_POISON, *(ULONG *)&address);
  PostAccept(&call, listener, NULL, NULL);
  ConfExpectCall(&call, "WskAccept before bind", STATUS_INVALID_DEVICE_STATE, 0);

  ConfLoopback(&address, Family, 0);
  ConfBind("WskBind to loopback, port 0", listener, &address, STATUS_SUCCESS);
  ConfBind("WskBind a second time", listener, &address, STATUS_ADDRESS_ALREADY_ASSOCIATED);
  ConfPoison(&address, sizeof(address));
  ConfReturned(&call, ops.GetLocalAddress(listener, &address.Sa, ConfIrp(&call)));
  ConfExpectCall(&call, "WskGetLocalAddress after bind", STATUS_SUCCESS, 0);
  ConfExpectTrue("the local address is loopback", ConfIsLoopback(&address, Family));
  port = ConfPort(&address);
  ConfExpectTrue("a port was assigned", port != 0);

  /* A pending accept, completed by the harness's connection. */
  PostAccept(&call, listener, &local, &remote);
  ConfExpectPending(&call, "WskAccept with no connection waiting pends");
  connection = HarnessConnect(Family, port, &harness_port);
  if (ConfExpectCall(&call, "WskAccept completes", STATUS_SUCCESS, CONF_ANY_INFORMATION)) {
    accepted = (PWSK_SOCKET)call.Irp->IoStatus.Information;
    ConfExpectTrue("Information holds the accepted socket", accepted != NULL);
    ConfExpectTrue("LocalAddress is loopback", ConfIsLoopback(&local, Family));
    ConfExpectValue("LocalAddress port is the listener's", port, ConfPort(&local));
    ConfExpectTrue("RemoteAddress is loopback", ConfIsLoopback(&remote, Family));
    ConfExpectValue("RemoteAddress port is the harness's", harness_port, ConfPort(&remote));

    /* The accepted socket is a connection socket. */
    ConfPoison(&address, sizeof(address));
    ConfReturned(
        &call,
        ConfOps(accepted, CONNECTION).GetRemoteAddress(accepted, &address.Sa, ConfIrp(&call)));
    ConfExpectCall(&call, "WskGetRemoteAddress of the accepted socket", STATUS_SUCCESS, 0);
    ConfExpectValue("its remote port", harness_port, ConfPort(&address));
    ConfPoison(&address, sizeof(address));
    ConfReturned(
        &call,
        ConfOps(accepted, CONNECTION).GetLocalAddress(accepted, &address.Sa, ConfIrp(&call)));
    ConfExpectCall(&call, "WskGetLocalAddress of the accepted socket", STATUS_SUCCESS, 0);
    ConfExpectValue("its local port", port, ConfPort(&address));

    /* Data both ways. */
    ConfCommand(reply, sizeof(reply), "SEND %lu 68656c6c6f", connection); /* "hello" */
    RtlZeroMemory(data, sizeof(data));
    ConfExpectValue("WskReceive gets the harness's bytes", 5,
                    ConfReceiveAll(accepted, CONNECTION, data, 5, &status));
    ConfExpectTrue("they are 'hello'", RtlCompareMemory(data, "hello", 5) == 5);
    if (ConfSendAll("WskSend to the harness", accepted, CONNECTION, "world", 5)) {
      ConfCheck(ConfCommand(reply, sizeof(reply), "RECV %lu 5", connection) &&
                    strcmp(reply, "OK 776f726c64") == 0,
                "the harness gets 'world'", "answer '%s'", reply);
    }
    /* Closing a connection that was not disconnected aborts it. */
    ConfClose("the accepted socket, not disconnected", accepted);
    ConfCommand(reply, sizeof(reply), "WAITEND %lu", connection);
    if (CONF_BUG_CLOSE_NOT_ABORTIVE) {
      CONF_KNOWN_BUG("the harness sees a reset", "CONF_BUG_CLOSE_NOT_ABORTIVE");
    } else {
      ConfCheck(strncmp(reply, "OK reset", 8) == 0, "the harness sees a reset",
                "answer '%s' (a close without disconnect is abortive)", reply);
    }
  }
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", connection);

  /* A connection already waiting: WskAccept completes at once (docs/wsk-behaviour.md,
   * "WskAccept and WskInspectComplete"). The harness answers once the connection is in the
   * listener's queue: its connect() can return before the kernel processed the last ACK. */
  connection = HarnessConnectAs("CONNECTWAIT", Family, port, &harness_port);
  PostAccept(&call, listener, NULL, NULL);
  if (ConfExpectCallNow(&call, "WskAccept with a connection waiting", STATUS_SUCCESS,
                        CONF_ANY_INFORMATION)) {
    CONF_CALL io;
    accepted = (PWSK_SOCKET)call.Irp->IoStatus.Information;
    if (ConfCallInit(&io)) {
      /* The harness ends its side: a receive completes with success and 0 bytes. */
      ConfCommand(reply, sizeof(reply), "SHUTDOWN %lu", connection);
      ConfExpectValue("WskReceive after the harness's FIN", 0,
                      ConfReceiveAll(accepted, CONNECTION, data, 4, &status));
      ConfExpectStatus("which succeeds", STATUS_SUCCESS, status);
      ConfReturned(&io, ConfOps(accepted, CONNECTION).Disconnect(accepted, NULL, 0, ConfIrp(&io)));
      ConfExpectCall(&io, "graceful WskDisconnect", STATUS_SUCCESS, 0);
      ConfCommand(reply, sizeof(reply), "WAITEND %lu", connection);
      ConfCheck(strcmp(reply, "OK eof 0") == 0, "the harness sees a FIN", "answer '%s'", reply);
      ConfCallFree(&io);
    }
    ConfClose("the accepted socket, disconnected", accepted);
  }
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", connection);

  /* Two pending accepts complete in the order they were posted. */
  PostAccept(&call, listener, NULL, &remote);
  ConfExpectPending(&call, "first WskAccept pends");
  PostAccept(&second, listener, NULL, &local);
  ConfExpectPending(&second, "second WskAccept pends");
  connection = HarnessConnect(Family, port, &harness_port);
  connection2 = HarnessConnect(Family, port, &harness_port2);
  if (ConfExpectCall(&call, "first WskAccept completes", STATUS_SUCCESS, CONF_ANY_INFORMATION)) {
    ConfExpectValue("with the first connection", harness_port, ConfPort(&remote));
    ConfClose("first accepted socket", (PWSK_SOCKET)call.Irp->IoStatus.Information);
  }
  if (ConfExpectCall(&second, "second WskAccept completes", STATUS_SUCCESS, CONF_ANY_INFORMATION)) {
    ConfExpectValue("with the second connection", harness_port2, ConfPort(&local));
    ConfClose("second accepted socket", (PWSK_SOCKET)second.Irp->IoStatus.Information);
  }
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", connection);
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", connection2);

  /* WskInspectComplete belongs to conditional accept, which this listener does not use. */
  {
    WSK_INSPECT_ID id = {0, 0};
    PFN_WSK_INSPECT_COMPLETE inspect =
        ((const WSK_PROVIDER_LISTEN_DISPATCH *)listener->Dispatch)->WskInspectComplete;
    ConfReturned(&call, inspect(listener, &id, WskInspectPend, ConfIrp(&call)));
    ConfExpectCall(&call, "WskInspectComplete with WskInspectPend", STATUS_INVALID_PARAMETER, 0);
    ConfReturned(&call, inspect(listener, NULL, WskInspectAccept, ConfIrp(&call)));
    ConfExpectCall(&call, "WskInspectComplete without an inspect ID", STATUS_INVALID_PARAMETER, 0);
    ConfReturned(&call, inspect(listener, &id, WskInspectAccept, ConfIrp(&call)));
    ConfExpectCall(&call, "WskInspectComplete without SO_CONDITIONAL_ACCEPT",
                   STATUS_INVALID_DEVICE_STATE, 0);
  }

  /* IoCancelIrp of a pending accept. */
  PostAccept(&call, listener, NULL, NULL);
  if (ConfExpectPending(&call, "WskAccept pends")) {
    ConfExpectTrue("IoCancelIrp finds the cancel routine", IoCancelIrp(call.Irp));
  }
  ConfExpectCall(&call, "the cancelled WskAccept", STATUS_CANCELLED, 0);

  /* WskCloseSocket completes a pending accept. */
  PostAccept(&call, listener, NULL, NULL);
  ConfExpectPending(&call, "WskAccept pends before the close");
  ConfClose("the listener with an accept pending", listener);
  ConfExpectTrue("the accept completed before the close did", ConfCompleted(&call));
  ConfExpectCall(&call, "the accept pending at close", STATUS_CANCELLED, 0);
  ConfCallFree(&second);
  ConfCallFree(&call);
}

/* The address-sharing rules (docs/wsk-behaviour.md, "Address sharing"), a few cells of the
 * matrix, and the option timing. */
static PWSK_SOCKET SharingSocket(ULONG Family, ULONG Option) {
  PWSK_SOCKET s = ConfSocket("WskSocket", Family, SOCK_STREAM, IPPROTO_TCP, LISTEN);
  if (s != NULL && Option != 0) {
    ConfExpectStatus(Option == SO_REUSEADDR ? "SO_REUSEADDR before bind"
                                            : "SO_EXCLUSIVEADDRUSE before bind",
                     STATUS_SUCCESS, ConfSetOption(s, SOL_SOCKET, Option, 1));
  }
  return s;
}

/* WskBind, its status returned rather than checked. */
static NTSTATUS TryBind(PWSK_SOCKET Socket, const CONF_ADDR *Address) {
  CONF_CALL call;
  NTSTATUS status;
  CONF_ADDR copy = *Address;
  if (!ConfCallInit(&call)) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  ConfReturned(&call, ((const WSK_PROVIDER_CONNECTION_DISPATCH *)Socket->Dispatch)
                          ->WskBind(Socket, &copy.Sa, 0, ConfIrp(&call)));
  status = ConfWait(&call);
  ConfCallFree(&call);
  return status;
}

/* The socket of the section's first bind, bound to the loopback address with port 0, on a port
 * the wildcard address can have too; NULL when no such port was found (reported). Programs
 * running beside this one hold ports of their own, and Linux counts an IPv6 socket on [::1] that
 * is not IPv6-only as holding its port for the IPv4 wildcard, while the IPv4 loopback address
 * can still share it: tests running at the same time get ports next to each other, so the port
 * the kernel picks may be one the wildcard cannot have, for reasons outside this driver. Each
 * try binds a second socket to the wildcard on the port (not reported) and closes it. */
static PWSK_SOCKET FirstBoundSocket(ULONG Family, USHORT *Port) {
  int attempt;
  for (attempt = 0; attempt < 20; ++attempt) {
    PWSK_SOCKET first = SharingSocket(Family, 0);
    PWSK_SOCKET probe;
    CONF_ADDR address;
    NTSTATUS status;
    if (first == NULL) {
      return NULL;
    }
    ConfLoopback(&address, Family, 0);
    status = TryBind(first, &address);
    if (status != STATUS_SUCCESS) {
      ConfExpectStatus("first bind, specific address", STATUS_SUCCESS, status);
      ConfClose("first socket", first);
      return NULL;
    }
    *Port = ConfLocalPort(first, LISTEN, NULL);
    probe = SharingSocket(Family, 0);
    if (probe == NULL) {
      ConfClose("first socket", first);
      return NULL;
    }
    ConfWildcard(&address, Family, *Port);
    status = TryBind(probe, &address);
    ConfClose("the wildcard probe", probe);
    if (status == STATUS_SUCCESS) {
      return first;
    }
    ConfClose("first socket, on a port another program holds", first);
  }
  ConfCheck(FALSE, "first bind, specific address",
            "20 ports in a row could not be had by the wildcard address as well");
  return NULL;
}

static void TestAddressSharing(ULONG Family) {
  const ULONG index = CONF_INDEX(Family);
  PWSK_SOCKET first;
  PWSK_SOCKET other;
  CONF_ADDR address;
  USHORT port = 0;
  ULONG value;

  ConfScope("v%lu address sharing", Family);
  first = FirstBoundSocket(Family, &port);
  if (first == NULL) {
    return;
  }
  ConfLoopback(&address, Family, port);

  other = SharingSocket(Family, 0);
  ConfBind("no option, same specific address: in use", other, &address,
           STATUS_ADDRESS_ALREADY_EXISTS);
  ConfClose("second socket", other);

  other = SharingSocket(Family, SO_REUSEADDR);
  ConfBind("SO_REUSEADDR, same specific address: denied", other, &address, STATUS_ACCESS_DENIED);
  ConfClose("SO_REUSEADDR socket", other);

  other = SharingSocket(Family, SO_EXCLUSIVEADDRUSE);
  ConfBind("SO_EXCLUSIVEADDRUSE, same specific address: in use", other, &address,
           STATUS_ADDRESS_ALREADY_EXISTS);
  ConfClose("SO_EXCLUSIVEADDRUSE socket", other);

  other = SharingSocket(Family, 0);
  ConfWildcard(&address, Family, port);
  if (CONF_BUG_PORT0_SHARING) {
    CONF_KNOWN_BUG("no option, wildcard after a specific address: allowed",
                   "CONF_BUG_PORT0_SHARING");
  } else {
    ConfBind("no option, wildcard after a specific address: allowed", other, &address,
             STATUS_SUCCESS);
  }
  ConfClose("wildcard socket", other);

  /* The options belong before bind. */
  ConfExpectStatus("SO_REUSEADDR after bind", STATUS_INVALID_DEVICE_STATE,
                   ConfSetOption(first, SOL_SOCKET, SO_REUSEADDR, 1));
  ConfExpectStatus("SO_EXCLUSIVEADDRUSE after bind", STATUS_INVALID_DEVICE_STATE,
                   ConfSetOption(first, SOL_SOCKET, (ULONG)SO_EXCLUSIVEADDRUSE, 1));
  ConfExpectStatus("SO_REUSEADDR can still be read", STATUS_SUCCESS,
                   ConfGetOption(first, SOL_SOCKET, SO_REUSEADDR, &value));
  ConfExpectValue("and is off", 0, value);

  /* A closed socket gives its address back. */
  ConfClose("first socket", first);
  other = SharingSocket(Family, 0);
  ConfLoopback(&address, Family, port);
  ConfBind("the address of a closed socket", other, &address, STATUS_SUCCESS);
  /* The same matrix cell as above, with the first bind naming its port. */
  first = SharingSocket(Family, 0);
  ConfWildcard(&address, Family, port);
  ConfBind("no option, wildcard after a specific address with a named port: allowed", first,
           &address, STATUS_SUCCESS);
  ConfClose("wildcard socket", first);
  ConfClose("rebound socket", other);

  /* Two SO_REUSEADDR sockets on the same specific address. */
  first = SharingSocket(Family, SO_REUSEADDR);
  ConfLoopback(&address, Family, 0);
  ConfBind("SO_REUSEADDR first", first, &address, STATUS_SUCCESS);
  ConfLoopback(&address, Family, ConfLocalPort(first, LISTEN, NULL));
  other = SharingSocket(Family, SO_REUSEADDR);
  if (CONF_BUG_PORT0_SHARING) {
    CONF_KNOWN_BUG("SO_REUSEADDR after SO_REUSEADDR: allowed", "CONF_BUG_PORT0_SHARING");
  } else {
    ConfBind("SO_REUSEADDR after SO_REUSEADDR: allowed", other, &address, STATUS_SUCCESS);
  }
  ConfClose("SO_REUSEADDR second", other);
  ConfClose("SO_REUSEADDR first", first);

  /* A port another process holds (the harness's echo listener). */
  other = SharingSocket(Family, 0);
  ConfLoopback(&address, Family, (USHORT)ConfParams.EchoPort[index]);
  ConfBind("a port another process listens on", other, &address, STATUS_ADDRESS_ALREADY_EXISTS);
  ConfClose("socket refused by the other process", other);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  ULONG i;
  if (NT_SUCCESS(ConfBegin(DriverObject, RegistryPath, "listen"))) {
    for (i = 0; i < CONF_FAMILY_COUNT; i++) {
      TestAccept(ConfFamilies[i]);
      TestAddressSharing(ConfFamilies[i]);
    }
  }
  return ConfEnd();
}

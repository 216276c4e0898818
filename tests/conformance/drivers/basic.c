/*
 * basic.c - conformance of WskControlSocket: options on basic, connection, listening and
 * datagram sockets (set and read back, get-only and set-only options, SO_LINGER's 16-bit
 * fields, sizes too small, unknown options, levels and request types, the IRP rules), the
 * IOCTLs (SIO_ADDRESS_LIST_QUERY probe and list, SIO_ADDRESS_LIST_CHANGE pending and cancelled,
 * SIO_WSK_QUERY_RECEIVE_BACKLOG and SIO_WSK_QUERY_IDEAL_SEND_BACKLOG before and after connect,
 * SIO_WSK_REGISTER_EXTENSION, SIO_WSK_QUERY_INSPECT_ID, unknown codes), and requests made to
 * the wrong category of socket.
 */
#include "conf.h"

DRIVER_INITIALIZE DriverEntry;

/* WskControlSocket with an IRP (checked with ConfExpectCall), or without one (the returned
 * status is the result). */
static BOOLEAN Control(const char *Name, PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE Type,
                       ULONG Code, ULONG Level, SIZE_T InputSize, PVOID Input, SIZE_T OutputSize,
                       PVOID Output, BOOLEAN WithIrp, NTSTATUS Expected,
                       ULONG_PTR ExpectedInformation) {
  PFN_WSK_CONTROL_SOCKET control =
      ((const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)->WskControlSocket;
  CONF_CALL call;
  BOOLEAN ok;
  if (!WithIrp) {
    SIZE_T returned = CONF_POISON;
    return ConfExpectStatus(
        Name, Expected,
        control(Socket, Type, Code, Level, InputSize, Input, OutputSize, Output, &returned, NULL));
  }
  if (!ConfCallInit(&call)) {
    return FALSE;
  }
  ConfReturned(&call, control(Socket, Type, Code, Level, InputSize, Input, OutputSize, Output, NULL,
                              ConfIrp(&call)));
  ok = ConfExpectCall(&call, Name, Expected, ExpectedInformation);
  ConfCallFree(&call);
  return ok;
}

/* Sets a ULONG option and reads it back. */
static void RoundTrip(const char *Name, PWSK_SOCKET Socket, ULONG Level, ULONG Option,
                      ULONG Value) {
  ULONG read_back = CONF_POISON;
  if (Control(Name, Socket, WskSetOption, Option, Level, sizeof(Value), &Value, 0, NULL, TRUE,
              STATUS_SUCCESS, 0) &&
      Control(Name, Socket, WskGetOption, Option, Level, 0, NULL, sizeof(read_back), &read_back,
              TRUE, STATUS_SUCCESS, sizeof(ULONG))) {
    ConfExpectValue(Name, Value, read_back);
  }
}

static void TestOptions(ULONG Family) {
  PWSK_SOCKET s;
  ULONG value;
  USHORT small;
  struct {
    USHORT OnOff;
    USHORT Seconds;
  } linger = {1, 5}, read_back = {0xbeef, 0xbeef};

  ConfScope("v%lu options", Family);
  s = ConfSocket("connection socket", Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET);
  if (s == NULL) {
    return;
  }
  RoundTrip("SO_KEEPALIVE on", s, SOL_SOCKET, SO_KEEPALIVE, 1);
  RoundTrip("SO_KEEPALIVE off", s, SOL_SOCKET, SO_KEEPALIVE, 0);
  RoundTrip("SO_RCVBUF", s, SOL_SOCKET, SO_RCVBUF, 65536);
  RoundTrip("SO_SNDBUF", s, SOL_SOCKET, SO_SNDBUF, 131072);
  RoundTrip("TCP_NODELAY on", s, IPPROTO_TCP, TCP_NODELAY, 1);
  RoundTrip("TCP_NODELAY off", s, IPPROTO_TCP, TCP_NODELAY, 0);
  RoundTrip("TCP_KEEPALIVE", s, IPPROTO_TCP, TCP_KEEPALIVE, 30);
  RoundTrip("TCP_KEEPCNT", s, IPPROTO_TCP, TCP_KEEPCNT, 5);
  RoundTrip("TCP_KEEPINTVL", s, IPPROTO_TCP, TCP_KEEPINTVL, 7);
  if (Family == 6) {
    value = CONF_POISON;
    Control("IPV6_V6ONLY default", s, WskGetOption, IPV6_V6ONLY, IPPROTO_IPV6, 0, NULL,
            sizeof(value), &value, TRUE, STATUS_SUCCESS, sizeof(ULONG));
    ConfExpectValue("IPV6_V6ONLY is on by default, as on Windows", 1, value);
    RoundTrip("IPV6_UNICAST_HOPS", s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 33);
  } else {
    RoundTrip("IP_TTL", s, IPPROTO_IP, IP_TTL, 33);
    RoundTrip("IP_TOS", s, IPPROTO_IP, IP_TOS, 0x10);
  }
  /* Get-only options. */
  value = CONF_POISON;
  Control("SO_TYPE", s, WskGetOption, SO_TYPE, SOL_SOCKET, 0, NULL, sizeof(value), &value, TRUE,
          STATUS_SUCCESS, sizeof(ULONG));
  ConfExpectValue("SO_TYPE is SOCK_STREAM", SOCK_STREAM, value);
  value = SOCK_DGRAM;
  Control("setting SO_TYPE", s, WskSetOption, SO_TYPE, SOL_SOCKET, sizeof(value), &value, 0, NULL,
          TRUE, STATUS_INVALID_PARAMETER, 0);
  /* SO_LINGER has 16-bit fields on Windows. */
  Control("SO_LINGER set", s, WskSetOption, SO_LINGER, SOL_SOCKET, sizeof(linger), &linger, 0, NULL,
          TRUE, STATUS_SUCCESS, 0);
  Control("SO_LINGER get", s, WskGetOption, SO_LINGER, SOL_SOCKET, 0, NULL, sizeof(read_back),
          &read_back, TRUE, STATUS_SUCCESS, sizeof(read_back));
  ConfExpectTrue("SO_LINGER reads back {1, 5}", read_back.OnOff == 1 && read_back.Seconds == 5);
  /* SO_REUSEADDR and SO_EXCLUSIVEADDRUSE exclude each other. */
  RoundTrip("SO_REUSEADDR", s, SOL_SOCKET, SO_REUSEADDR, 1);
  value = 1;
  Control("SO_EXCLUSIVEADDRUSE with SO_REUSEADDR set", s, WskSetOption, (ULONG)SO_EXCLUSIVEADDRUSE,
          SOL_SOCKET, sizeof(value), &value, 0, NULL, TRUE, STATUS_INVALID_PARAMETER, 0);
  /* Sizes, names, levels and request types that are not valid. */
  Control("a value shorter than the option", s, WskSetOption, SO_KEEPALIVE, SOL_SOCKET, 2, &value,
          0, NULL, TRUE, STATUS_INVALID_PARAMETER, 0);
  small = 0xbeef;
  Control("an output shorter than the option", s, WskGetOption, SO_KEEPALIVE, SOL_SOCKET, 0, NULL,
          sizeof(small), &small, TRUE, STATUS_BUFFER_TOO_SMALL, 0);
  ConfExpectValue("the short output is untouched", 0xbeef, small);
  Control("an unknown option", s, WskSetOption, 0x7777, SOL_SOCKET, sizeof(value), &value, 0, NULL,
          TRUE, STATUS_INVALID_PARAMETER, 0);
  Control("an unknown level", s, WskSetOption, SO_KEEPALIVE, 0x1234, sizeof(value), &value, 0, NULL,
          TRUE, STATUS_INVALID_PARAMETER, 0);
  Control("an unknown request type", s, (WSK_CONTROL_SOCKET_TYPE)WskControlMax, SO_KEEPALIVE,
          SOL_SOCKET, sizeof(value), &value, 0, NULL, TRUE, STATUS_INVALID_PARAMETER, 0);
  /* Options need an IRP. */
  Control("an option set without an IRP", s, WskSetOption, SO_KEEPALIVE, SOL_SOCKET, sizeof(value),
          &value, 0, NULL, FALSE, STATUS_INVALID_PARAMETER, 0);
  Control("an option read without an IRP", s, WskGetOption, SO_KEEPALIVE, SOL_SOCKET, 0, NULL,
          sizeof(value), &value, FALSE, STATUS_INVALID_PARAMETER, 0);
  ConfClose("connection socket", s);

  /* A basic socket has options too. */
  s = ConfSocket("basic socket", Family, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_BASIC_SOCKET);
  if (s != NULL) {
    value = CONF_POISON;
    Control("SO_TYPE of a basic UDP socket", s, WskGetOption, SO_TYPE, SOL_SOCKET, 0, NULL,
            sizeof(value), &value, TRUE, STATUS_SUCCESS, sizeof(ULONG));
    ConfExpectValue("SOCK_DGRAM", SOCK_DGRAM, value);
    RoundTrip("SO_RCVBUF on a basic socket", s, SOL_SOCKET, SO_RCVBUF, 32768);
    ConfClose("basic socket", s);
  }
}

/* Requests made to a socket of a category they do not apply to. */
static void TestWrongCategory(ULONG Family) {
  PWSK_SOCKET connection;
  PWSK_SOCKET datagram;
  PWSK_SOCKET listener;
  CONF_ADDR address;
  ULONG value = 1;
  SIZE_T backlog;

  ConfScope("v%lu wrong category", Family);
  connection =
      ConfSocket("connection socket", Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET);
  datagram =
      ConfSocket("datagram socket", Family, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET);
  listener =
      ConfSocket("listening socket", Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET);
  if (connection == NULL || datagram == NULL || listener == NULL) {
    ConfClose("connection socket", connection);
    ConfClose("datagram socket", datagram);
    ConfClose("listening socket", listener);
    return;
  }
  Control("SO_CONDITIONAL_ACCEPT on a connection socket", connection, WskSetOption,
          SO_CONDITIONAL_ACCEPT, SOL_SOCKET, sizeof(value), &value, 0, NULL, TRUE,
          STATUS_INVALID_PARAMETER, 0);
  Control("SO_CONDITIONAL_ACCEPT on a listening socket", listener, WskSetOption,
          SO_CONDITIONAL_ACCEPT, SOL_SOCKET, sizeof(value), &value, 0, NULL, TRUE, STATUS_SUCCESS,
          0);
  ConfLoopback(&address, Family, 9);
  Control("SIO_WSK_SET_REMOTE_ADDRESS on a connection socket", connection, WskIoctl,
          SIO_WSK_SET_REMOTE_ADDRESS, 0, Family == 6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN),
          &address, 0, NULL, TRUE, STATUS_NOT_SUPPORTED, 0);
  Control("SIO_WSK_SET_SENDTO_ADDRESS on a listening socket", listener, WskIoctl,
          SIO_WSK_SET_SENDTO_ADDRESS, 0, Family == 6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN),
          &address, 0, NULL, TRUE, STATUS_NOT_SUPPORTED, 0);
  Control("SIO_WSK_QUERY_RECEIVE_BACKLOG on a datagram socket", datagram, WskIoctl,
          SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, NULL, sizeof(backlog), &backlog, TRUE,
          STATUS_NOT_SUPPORTED, 0);
  Control("SIO_WSK_QUERY_IDEAL_SEND_BACKLOG on a listening socket", listener, WskIoctl,
          SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, NULL, sizeof(backlog), &backlog, TRUE,
          STATUS_NOT_SUPPORTED, 0);
  ConfClose("connection socket", connection);
  ConfClose("datagram socket", datagram);
  ConfClose("listening socket", listener);
}

static void TestIoctls(ULONG Family) {
  const ULONG index = CONF_INDEX(Family);
  PWSK_SOCKET s;
  PFN_WSK_CONTROL_SOCKET control;
  SIZE_T returned;
  SIZE_T needed;
  SIZE_T backlog;
  UCHAR list_bytes[1024];
  PSOCKET_ADDRESS_LIST list = (PSOCKET_ADDRESS_LIST)list_bytes;
  WSK_INSPECT_ID inspect;
  CONF_CALL call;
  LONG i;
  ULONG attempt;
  BOOLEAN loopback = FALSE;
  BOOLEAN families = TRUE;
  NTSTATUS status;

  ConfScope("v%lu IOCTLs", Family);
  s = ConfSocket("connection socket", Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET);
  if (s == NULL || !ConfCallInit(&call)) {
    ConfClose("connection socket", s);
    return;
  }
  control = ((const WSK_PROVIDER_BASIC_DISPATCH *)s->Dispatch)->WskControlSocket;

  /* SIO_ADDRESS_LIST_QUERY: no IRP; probe, then the list of the socket's family. */
  returned = CONF_POISON;
  ConfExpectStatus(
      "SIO_ADDRESS_LIST_QUERY probe", STATUS_BUFFER_OVERFLOW,
      control(s, WskIoctl, SIO_ADDRESS_LIST_QUERY, 0, 0, NULL, 0, NULL, &returned, NULL));
  needed = returned;
  ConfExpectTrue("the probe reports the size of a list",
                 needed >= SIZEOF_SOCKET_ADDRESS_LIST(1) && needed <= sizeof(list_bytes));
  ConfPoison(list_bytes, sizeof(list_bytes));
  returned = CONF_POISON;
  status = control(s, WskIoctl, SIO_ADDRESS_LIST_QUERY, 0, 0, NULL, sizeof(list_bytes), list_bytes,
                   &returned, NULL);
  if (ConfExpectStatus("SIO_ADDRESS_LIST_QUERY", STATUS_SUCCESS, status)) {
    ConfExpectValue("OutputSizeReturned", needed, returned);
    for (i = 0; i < list->iAddressCount && i < 16; i++) {
      /* The addresses need not be aligned for CONF_ADDR: copy each one. */
      CONF_ADDR a;
      const INT length = list->Address[i].iSockaddrLength;
      RtlZeroMemory(&a, sizeof(a));
      families =
          families && length == (INT)(Family == 6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN));
      if (length > 0 && length <= (INT)sizeof(a)) {
        RtlCopyMemory(&a, list->Address[i].lpSockaddr, length);
      }
      families = families && a.Sa.sa_family == ConfAf(Family);
      loopback = loopback || ConfIsLoopback(&a, Family);
    }
    ConfExpectTrue("every address is of the socket's family", families);
    ConfExpectTrue("loopback is listed", loopback);
  }
  ConfReturned(&call, control(s, WskIoctl, SIO_ADDRESS_LIST_QUERY, 0, 0, NULL, sizeof(list_bytes),
                              list_bytes, NULL, ConfIrp(&call)));
  ConfExpectCall(&call, "SIO_ADDRESS_LIST_QUERY with an IRP", STATUS_INVALID_PARAMETER, 0);

  /* SIO_ADDRESS_LIST_CHANGE: needs an IRP and pends until the list changes or it is cancelled.
   * Another program may change the host's addresses meanwhile, so a few tries are allowed. */
  ConfExpectStatus("SIO_ADDRESS_LIST_CHANGE without an IRP", STATUS_INVALID_PARAMETER,
                   control(s, WskIoctl, SIO_ADDRESS_LIST_CHANGE, 0, 0, NULL, 0, NULL, NULL, NULL));
  for (attempt = 0; attempt < 3; attempt++) {
    ConfReturned(&call, control(s, WskIoctl, SIO_ADDRESS_LIST_CHANGE, 0, 0, NULL, 0, NULL, NULL,
                                ConfIrp(&call)));
    if (call.Returned == STATUS_PENDING && !ConfCompleted(&call)) {
      IoCancelIrp(call.Irp);
      ConfWait(&call);
      if (call.Irp->IoStatus.Status == STATUS_CANCELLED) {
        break;
      }
    } else {
      ConfWait(&call);
    }
  }
  ConfExpectStatus("SIO_ADDRESS_LIST_CHANGE pends until cancelled", STATUS_CANCELLED,
                   call.Irp->IoStatus.Status);

  /* The backlog queries need a connection. */
  ConfReturned(&call, control(s, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, NULL,
                              sizeof(backlog), &backlog, NULL, ConfIrp(&call)));
  ConfExpectCall(&call, "SIO_WSK_QUERY_RECEIVE_BACKLOG before connect", STATUS_INVALID_DEVICE_STATE,
                 0);
  ConfReturned(&call, control(s, WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, NULL,
                              sizeof(backlog), &backlog, NULL, ConfIrp(&call)));
  ConfExpectCall(&call, "SIO_WSK_QUERY_IDEAL_SEND_BACKLOG before connect",
                 STATUS_INVALID_DEVICE_STATE, 0);

  /* No extension interface exists; no socket was accepted by conditional accept. */
  {
    WSK_EXTENSION_CONTROL_IN in = {&NPI_WSK_INTERFACE_ID, NULL, NULL};
    WSK_EXTENSION_CONTROL_OUT out;
    returned = CONF_POISON;
    ConfExpectStatus("SIO_WSK_REGISTER_EXTENSION", STATUS_NOT_SUPPORTED,
                     control(s, WskIoctl, SIO_WSK_REGISTER_EXTENSION, 0, sizeof(in), &in,
                             sizeof(out), &out, &returned, NULL));
    ConfReturned(&call, control(s, WskIoctl, SIO_WSK_REGISTER_EXTENSION, 0, sizeof(in), &in,
                                sizeof(out), &out, NULL, ConfIrp(&call)));
    ConfExpectCall(&call, "SIO_WSK_REGISTER_EXTENSION with an IRP", STATUS_INVALID_PARAMETER, 0);
  }
  returned = CONF_POISON;
  ConfExpectStatus("SIO_WSK_QUERY_INSPECT_ID", STATUS_INVALID_DEVICE_REQUEST,
                   control(s, WskIoctl, SIO_WSK_QUERY_INSPECT_ID, 0, 0, NULL, sizeof(inspect),
                           &inspect, &returned, NULL));
  ConfExpectValue("a failure leaves OutputSizeReturned alone", CONF_POISON, returned);
  ConfReturned(&call, control(s, WskIoctl, 0x98765432u, 0, 0, NULL, 0, NULL, NULL, ConfIrp(&call)));
  ConfExpectCall(&call, "an unknown IOCTL", STATUS_INVALID_DEVICE_REQUEST, 0);
  ConfClose("connection socket", s);

  /* After connecting: the receive backlog shows bytes not yet received. */
  s = ConfConnected("connect to the echo peer", Family, WSK_FLAG_CONNECTION_SOCKET,
                    (USHORT)ConfParams.EchoPort[index]);
  if (s != NULL) {
    UCHAR echoed[5];
    backlog = CONF_POISON;
    ConfReturned(&call, control(s, WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, NULL,
                                sizeof(backlog), &backlog, NULL, ConfIrp(&call)));
    ConfExpectCall(&call, "SIO_WSK_QUERY_IDEAL_SEND_BACKLOG", STATUS_SUCCESS, sizeof(SIZE_T));
    ConfExpectTrue("the ideal send backlog is positive", backlog != 0 && backlog != CONF_POISON);
    if (ConfSendAll("send 5 bytes", s, WSK_FLAG_CONNECTION_SOCKET, "hello", 5)) {
      /* The echo arrives asynchronously: poll (bounded) until the backlog shows it. */
      backlog = 0;
      for (attempt = 0; attempt < 100 && backlog < 5; attempt++) {
        LARGE_INTEGER pause;
        ConfReturned(&call, control(s, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, NULL,
                                    sizeof(backlog), &backlog, NULL, ConfIrp(&call)));
        status = ConfWait(&call);
        if (status != STATUS_SUCCESS) {
          break;
        }
        pause.QuadPart = -10 * 10000;
        KeDelayExecutionThread(KernelMode, FALSE, &pause);
      }
      ConfExpectStatus("SIO_WSK_QUERY_RECEIVE_BACKLOG", STATUS_SUCCESS, status);
      ConfExpectValue("the receive backlog holds the echo", 5, backlog);
      ConfExpectValue("which is then received", 5,
                      ConfReceiveAll(s, WSK_FLAG_CONNECTION_SOCKET, echoed, 5, &status));
    }
    ConfClose("connected socket", s);
  }
  ConfCallFree(&call);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  ULONG i;
  if (NT_SUCCESS(ConfBegin(DriverObject, RegistryPath, "basic"))) {
    for (i = 0; i < CONF_FAMILY_COUNT; i++) {
      TestOptions(ConfFamilies[i]);
      TestWrongCategory(ConfFamilies[i]);
      TestIoctls(ConfFamilies[i]);
    }
  }
  return ConfEnd();
}

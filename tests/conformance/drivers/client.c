/*
 * client.c - conformance of the client-level WSK functions: WskRegister/WskDeregister,
 * WskCaptureProviderNPI (no wait, timed, infinite) and WskReleaseProviderNPI,
 * WskQueryProviderCharacteristics, WskSocket for every category, family and (type, protocol),
 * WskSocketConnect, WskControlClient's codes, and name resolution (WskGetAddressInfo,
 * WskFreeAddressInfo, WskGetNameInfo) on localhost and numeric names.
 */
#include "conf.h"

DRIVER_INITIALIZE DriverEntry;

/* ---- Registration ---------------------------------------------------------------------------- */

static void TestRegistration(void) {
  static const WSK_CLIENT_DISPATCH v1 = {MAKE_WSK_VERSION(1, 0), 0, NULL};
  static const WSK_CLIENT_DISPATCH v2 = {MAKE_WSK_VERSION(2, 0), 0, NULL};
  WSK_CLIENT_NPI client = {NULL, &v1};
  WSK_REGISTRATION registration;
  WSK_PROVIDER_NPI npi[3];
  WSK_PROVIDER_CHARACTERISTICS characteristics;
  NTSTATUS status;
  ULONG i;

  ConfScope("registration");
  /* A second registration next to the driver's own. */
  if (!ConfExpectStatus("WskRegister (a second instance)", STATUS_SUCCESS,
                        WskRegister(&client, &registration))) {
    return;
  }
  ConfPoison(npi, sizeof(npi));
  ConfExpectStatus("WskCaptureProviderNPI(WSK_NO_WAIT)", STATUS_SUCCESS,
                   WskCaptureProviderNPI(&registration, WSK_NO_WAIT, &npi[0]));
  ConfExpectStatus("WskCaptureProviderNPI(1000 ms)", STATUS_SUCCESS,
                   WskCaptureProviderNPI(&registration, 1000, &npi[1]));
  ConfExpectStatus("WskCaptureProviderNPI(WSK_INFINITE_WAIT)", STATUS_SUCCESS,
                   WskCaptureProviderNPI(&registration, WSK_INFINITE_WAIT, &npi[2]));
  for (i = 0; i < 3; i++) {
    ConfExpectTrue("the NPI names a client", npi[i].Client != NULL);
    ConfExpectValue("the provider dispatch is version 1.0", MAKE_WSK_VERSION(1, 0),
                    npi[i].Dispatch->Version);
  }
  ConfExpectTrue(
      "every client-level function is there",
      npi[0].Dispatch->WskSocket != NULL && npi[0].Dispatch->WskSocketConnect != NULL &&
          npi[0].Dispatch->WskControlClient != NULL && npi[0].Dispatch->WskGetAddressInfo != NULL &&
          npi[0].Dispatch->WskFreeAddressInfo != NULL && npi[0].Dispatch->WskGetNameInfo != NULL);
  ConfPoison(&characteristics, sizeof(characteristics));
  ConfExpectStatus("WskQueryProviderCharacteristics", STATUS_SUCCESS,
                   WskQueryProviderCharacteristics(&registration, &characteristics));
  ConfExpectValue("HighestVersion", MAKE_WSK_VERSION(1, 0), characteristics.HighestVersion);
  ConfExpectValue("LowestVersion", MAKE_WSK_VERSION(1, 0), characteristics.LowestVersion);

  /* Client-level settings are accepted only before the registration's first socket. */
  {
    ULONG behavior = WSK_TDI_BEHAVIOR_BYPASS_TDI;
    ULONG bad_behavior = 0x80;
    WSK_TDI_MAP_INFO map = {0, NULL};
    ConfExpectStatus("WSK_TDI_BEHAVIOR before any socket", STATUS_SUCCESS,
                     npi[0].Dispatch->WskControlClient(npi[0].Client, WSK_TDI_BEHAVIOR,
                                                       sizeof(behavior), &behavior, 0, NULL, NULL,
                                                       NULL));
    ConfExpectStatus("WSK_TDI_BEHAVIOR with an unknown flag", STATUS_INVALID_PARAMETER,
                     npi[0].Dispatch->WskControlClient(npi[0].Client, WSK_TDI_BEHAVIOR,
                                                       sizeof(bad_behavior), &bad_behavior, 0, NULL,
                                                       NULL, NULL));
    ConfExpectStatus("WSK_TDI_DEVICENAME_MAPPING before any socket", STATUS_SUCCESS,
                     npi[0].Dispatch->WskControlClient(npi[0].Client, WSK_TDI_DEVICENAME_MAPPING,
                                                       sizeof(map), &map, 0, NULL, NULL, NULL));
  }

  /* Sockets stay valid after the NPI they came through is released. */
  {
    PWSK_SOCKET socket;
    CONF_ADDR local;
    CONF_CALL call;
    if (ConfCallInit(&call)) {
      ConfReturned(&call, npi[0].Dispatch->WskSocket(npi[0].Client, AF_INET, SOCK_DGRAM,
                                                     IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL,
                                                     NULL, NULL, NULL, NULL, ConfIrp(&call)));
      if (ConfExpectCall(&call, "WskSocket through the second registration", STATUS_SUCCESS,
                         CONF_ANY_INFORMATION)) {
        ULONG behavior = WSK_TDI_BEHAVIOR_BYPASS_TDI;
        socket = (PWSK_SOCKET)call.Irp->IoStatus.Information;
        ConfExpectStatus("WSK_TDI_BEHAVIOR once a socket exists", STATUS_INVALID_DEVICE_STATE,
                         npi[0].Dispatch->WskControlClient(npi[0].Client, WSK_TDI_BEHAVIOR,
                                                           sizeof(behavior), &behavior, 0, NULL,
                                                           NULL, NULL));
        for (i = 0; i < 3; i++) {
          WskReleaseProviderNPI(&registration);
        }
        ConfLoopback(&local, 4, 0);
        ConfBind("bind after WskReleaseProviderNPI", socket, &local, STATUS_SUCCESS);
        ConfClose("close after WskReleaseProviderNPI", socket);
      } else {
        for (i = 0; i < 3; i++) {
          WskReleaseProviderNPI(&registration);
        }
      }
      ConfCallFree(&call);
    }
  }
  WskDeregister(&registration);
  /* The block is intact after WskDeregister: calls on it report that WSK is gone. */
  ConfExpectStatus("WskCaptureProviderNPI after WskDeregister", STATUS_DEVICE_NOT_READY,
                   WskCaptureProviderNPI(&registration, WSK_NO_WAIT, &npi[0]));
  ConfExpectStatus("WskQueryProviderCharacteristics after WskDeregister", STATUS_DEVICE_NOT_READY,
                   WskQueryProviderCharacteristics(&registration, &characteristics));

  /* A client asking for a major version WSK does not have. */
  client.Dispatch = &v2;
  status = WskRegister(&client, &registration);
  if (ConfExpectStatus("WskRegister for version 2.0", STATUS_SUCCESS, status)) {
    ConfExpectStatus("WskCaptureProviderNPI for version 2.0", STATUS_NOINTERFACE,
                     WskCaptureProviderNPI(&registration, WSK_NO_WAIT, &npi[0]));
    ConfPoison(&characteristics, sizeof(characteristics));
    ConfExpectStatus("WskQueryProviderCharacteristics for version 2.0", STATUS_SUCCESS,
                     WskQueryProviderCharacteristics(&registration, &characteristics));
    ConfExpectValue("HighestVersion for the version 2.0 client", MAKE_WSK_VERSION(1, 0),
                    characteristics.HighestVersion);
    WskDeregister(&registration);
  }
}

/* ---- WskSocket ------------------------------------------------------------------------------- */

static void ExpectSocket(ULONG Family, USHORT Type, ULONG Protocol, ULONG Flags,
                         const VOID *Dispatch, NTSTATUS Expected, const char *Name) {
  CONF_CALL call;
  if (!ConfCallInit(&call)) {
    return;
  }
  ConfReturned(&call,
               ConfNpi.Dispatch->WskSocket(ConfNpi.Client, ConfAf(Family), Type, Protocol, Flags,
                                           NULL, Dispatch, NULL, NULL, NULL, ConfIrp(&call)));
  if (ConfExpectCall(&call, Name, Expected,
                     Expected == STATUS_SUCCESS ? CONF_ANY_INFORMATION : 0) &&
      Expected == STATUS_SUCCESS) {
    PWSK_SOCKET socket = (PWSK_SOCKET)call.Irp->IoStatus.Information;
    ConfExpectTrue("Information holds the socket", socket != NULL && socket->Dispatch != NULL);
    ConfClose(Name, socket);
  }
  ConfCallFree(&call);
}

static void TestSocketCreation(ULONG Family) {
  static const WSK_CLIENT_CONNECTION_DISPATCH no_events = {NULL, NULL, NULL};
  CONF_CALL call;

  ConfScope("v%lu WskSocket", Family);
  /* The documented (type, protocol) pairs of each category. */
  ExpectSocket(Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_BASIC_SOCKET, NULL, STATUS_SUCCESS,
               "basic TCP");
  ExpectSocket(Family, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_BASIC_SOCKET, NULL, STATUS_SUCCESS,
               "basic UDP");
  ExpectSocket(Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET, NULL, STATUS_SUCCESS,
               "listening TCP");
  ExpectSocket(Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL, STATUS_SUCCESS,
               "connection TCP");
  ExpectSocket(Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, &no_events,
               STATUS_SUCCESS, "connection TCP with a client dispatch table");
  ExpectSocket(Family, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_DATAGRAM_SOCKET, NULL, STATUS_SUCCESS,
               "datagram UDP");
  ExpectSocket(Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_STREAM_SOCKET, NULL, STATUS_SUCCESS,
               "stream TCP");

  /* Raw sockets need privileges Windows and Linux both check. */
  if (ConfCallInit(&call)) {
    ConfReturned(&call, ConfNpi.Dispatch->WskSocket(ConfNpi.Client, ConfAf(Family), SOCK_RAW,
                                                    Family == 6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP,
                                                    WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL, NULL,
                                                    NULL, NULL, ConfIrp(&call)));
    if (ConfWait(&call) == STATUS_SUCCESS) {
      ConfCheck(TRUE, "raw datagram socket (privileged)", "");
      ConfClose("raw datagram socket", (PWSK_SOCKET)call.Irp->IoStatus.Information);
    } else {
      ConfExpectCall(&call, "raw datagram socket (unprivileged)", STATUS_ACCESS_DENIED, 0);
    }
    ConfCallFree(&call);
  }

  /* Invalid requests: the IRP fails, Information stays 0, no socket is handed out. */
  ExpectSocket(Family, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_LISTEN_SOCKET, NULL, STATUS_NOT_SUPPORTED,
               "listening socket of type SOCK_DGRAM");
  ExpectSocket(Family, SOCK_DGRAM, IPPROTO_UDP, WSK_FLAG_CONNECTION_SOCKET, NULL,
               STATUS_NOT_SUPPORTED, "connection socket of type SOCK_DGRAM");
  ExpectSocket(Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_DATAGRAM_SOCKET, NULL,
               STATUS_NOT_SUPPORTED, "datagram socket of type SOCK_STREAM");
  ExpectSocket(Family, SOCK_STREAM, IPPROTO_UDP, WSK_FLAG_CONNECTION_SOCKET, NULL,
               STATUS_NOT_SUPPORTED, "SOCK_STREAM with IPPROTO_UDP");
  ExpectSocket(Family, SOCK_DGRAM, IPPROTO_TCP, WSK_FLAG_DATAGRAM_SOCKET, NULL,
               STATUS_NOT_SUPPORTED, "SOCK_DGRAM with IPPROTO_TCP");
  ExpectSocket(Family, 9, IPPROTO_TCP, WSK_FLAG_BASIC_SOCKET, NULL, STATUS_NOT_SUPPORTED,
               "an unknown socket type");
  ExpectSocket(Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET | WSK_FLAG_DATAGRAM_SOCKET,
               NULL, STATUS_INVALID_PARAMETER, "two category flags");
  ExpectSocket(Family, SOCK_STREAM, IPPROTO_TCP, 0x100, NULL, STATUS_INVALID_PARAMETER,
               "an unknown category flag");
  ExpectSocket(Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_BASIC_SOCKET, &no_events,
               STATUS_INVALID_PARAMETER, "a basic socket with a dispatch table");

  /* An address family WSK does not know. */
  if (Family == 4 && ConfCallInit(&call)) {
    ConfReturned(&call, ConfNpi.Dispatch->WskSocket(ConfNpi.Client, 1234, SOCK_STREAM, IPPROTO_TCP,
                                                    WSK_FLAG_CONNECTION_SOCKET, NULL, NULL, NULL,
                                                    NULL, NULL, ConfIrp(&call)));
    ConfExpectCall(&call, "an unknown address family", STATUS_NOT_SUPPORTED, 0);
    ConfCallFree(&call);
  }
}

/* ---- WskSocketConnect ------------------------------------------------------------------------ */

static NTSTATUS SocketConnect(CONF_CALL *Call, USHORT Type, ULONG Protocol, CONF_ADDR *Local,
                              CONF_ADDR *Remote, ULONG Flags) {
  return ConfReturned(Call, ConfNpi.Dispatch->WskSocketConnect(
                                ConfNpi.Client, Type, Protocol, &Local->Sa, &Remote->Sa, Flags,
                                NULL, NULL, NULL, NULL, NULL, ConfIrp(Call)));
}

static void TestSocketConnect(ULONG Family) {
  const ULONG index = CONF_INDEX(Family);
  CONF_ADDR local;
  CONF_ADDR remote;
  CONF_ADDR other;
  CONF_ADDR address;
  CONF_CALL call;
  char echoed[16];
  NTSTATUS status;

  ConfScope("v%lu WskSocketConnect", Family);
  if (!ConfCallInit(&call)) {
    return;
  }
  ConfLoopback(&local, Family, 0);
  ConfLoopback(&remote, Family, (USHORT)ConfParams.EchoPort[index]);
  SocketConnect(&call, SOCK_STREAM, IPPROTO_TCP, &local, &remote, 0);
  if (ConfExpectCall(&call, "to the echo peer", STATUS_SUCCESS, CONF_ANY_INFORMATION)) {
    PWSK_SOCKET socket = (PWSK_SOCKET)call.Irp->IoStatus.Information;
    const WSK_PROVIDER_CONNECTION_DISPATCH *d =
        (const WSK_PROVIDER_CONNECTION_DISPATCH *)socket->Dispatch;
    /* The socket is bound and connected: both addresses are there. */
    ConfPoison(&address, sizeof(address));
    ConfReturned(&call, d->WskGetRemoteAddress(socket, &address.Sa, ConfIrp(&call)));
    ConfExpectCall(&call, "WskGetRemoteAddress", STATUS_SUCCESS, 0);
    ConfExpectValue("remote port", ConfParams.EchoPort[index], ConfPort(&address));
    ConfExpectTrue("remote address is loopback", ConfIsLoopback(&address, Family));
    ConfPoison(&address, sizeof(address));
    ConfReturned(&call, d->WskGetLocalAddress(socket, &address.Sa, ConfIrp(&call)));
    ConfExpectCall(&call, "WskGetLocalAddress", STATUS_SUCCESS, 0);
    ConfExpectTrue("local port assigned", ConfPort(&address) != 0);
    if (ConfSendAll("send to the echo peer", socket, WSK_FLAG_CONNECTION_SOCKET, "echo me", 7)) {
      RtlZeroMemory(echoed, sizeof(echoed));
      ConfExpectValue("echo received", 7,
                      ConfReceiveAll(socket, WSK_FLAG_CONNECTION_SOCKET, echoed, 7, &status));
      ConfExpectTrue("echo matches", RtlCompareMemory(echoed, "echo me", 7) == 7);
    }
    ConfClose("close", socket);
  }

  ConfLoopback(&remote, Family, (USHORT)ConfParams.RefusedPort[index]);
  SocketConnect(&call, SOCK_STREAM, IPPROTO_TCP, &local, &remote, 0);
  ConfExpectCall(&call, "to a port nobody listens on", STATUS_CONNECTION_REFUSED, 0);

  ConfLoopback(&remote, Family, (USHORT)ConfParams.EchoPort[index]);
  SocketConnect(&call, SOCK_STREAM, IPPROTO_TCP, &local, &remote, 1);
  ConfExpectCall(&call, "with a reserved flag", STATUS_INVALID_PARAMETER, 0);

  ConfLoopback(&other, Family == 6 ? 4 : 6, 0);
  SocketConnect(&call, SOCK_STREAM, IPPROTO_TCP, &other, &remote, 0);
  ConfExpectCall(&call, "local and remote of different families", STATUS_INVALID_PARAMETER, 0);

  ConfLoopback(&remote, Family, (USHORT)ConfParams.UdpEchoPort[index]);
  SocketConnect(&call, SOCK_DGRAM, IPPROTO_UDP, &local, &remote, 0);
  ConfExpectCall(&call, "of type SOCK_DGRAM", STATUS_NOT_SUPPORTED, 0);
  ConfCallFree(&call);
}

/* ---- WskControlClient ------------------------------------------------------------------------ */

static NTSTATUS ControlClient(CONF_CALL *Call, ULONG Code, SIZE_T InputSize, PVOID Input,
                              SIZE_T OutputSize, PVOID Output, SIZE_T *Returned, BOOLEAN WithIrp) {
  return ConfReturned(Call, ConfNpi.Dispatch->WskControlClient(ConfNpi.Client, Code, InputSize,
                                                               Input, OutputSize, Output, Returned,
                                                               WithIrp ? ConfIrp(Call) : NULL));
}

static void TestControlClient(void) {
  WSK_TRANSPORT transports[32];
  SIZE_T returned;
  SIZE_T needed;
  CONF_CALL call;
  ULONG count;
  ULONG i;
  BOOLEAN v4_tcp = FALSE;
  BOOLEAN v6_udp = FALSE;
  PVOID descriptor;
  PVOID cached;
  UCHAR descriptor_bytes[64];

  ConfScope("WskControlClient");
  if (!ConfCallInit(&call)) {
    return;
  }
  /* WSK_TRANSPORT_LIST_QUERY: probe for the size, then read the list; no IRP. */
  returned = CONF_POISON;
  ConfExpectStatus(
      "WSK_TRANSPORT_LIST_QUERY probe", STATUS_BUFFER_OVERFLOW,
      ControlClient(&call, WSK_TRANSPORT_LIST_QUERY, 0, NULL, 0, NULL, &returned, FALSE));
  needed = returned;
  ConfExpectTrue("the probe reports whole WSK_TRANSPORT entries",
                 needed != 0 && needed % sizeof(WSK_TRANSPORT) == 0 &&
                     needed <= sizeof(transports));
  if (needed != 0 && needed <= sizeof(transports)) {
    ConfPoison(transports, sizeof(transports));
    returned = CONF_POISON;
    ConfExpectStatus("WSK_TRANSPORT_LIST_QUERY", STATUS_SUCCESS,
                     ControlClient(&call, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(transports),
                                   transports, &returned, FALSE));
    ConfExpectValue("bytes returned", needed, returned);
    count = (ULONG)(returned / sizeof(WSK_TRANSPORT));
    for (i = 0; i < count && i < 32; i++) {
      v4_tcp = v4_tcp ||
               (transports[i].AddressFamily == AF_INET && transports[i].SocketType == SOCK_STREAM &&
                transports[i].Protocol == IPPROTO_TCP);
      v6_udp = v6_udp ||
               (transports[i].AddressFamily == AF_INET6 && transports[i].SocketType == SOCK_DGRAM &&
                transports[i].Protocol == IPPROTO_UDP);
    }
    ConfExpectTrue("TCP over IPv4 is listed", v4_tcp);
    ConfExpectTrue("UDP over IPv6 is listed", v6_udp);
  }
  ControlClient(&call, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(transports), transports, NULL,
                TRUE);
  ConfExpectCall(&call, "WSK_TRANSPORT_LIST_QUERY with an IRP", STATUS_INVALID_PARAMETER, 0);

  /* WSK_TRANSPORT_LIST_CHANGE: needs an IRP, pends until cancelled. */
  ConfExpectStatus("WSK_TRANSPORT_LIST_CHANGE without an IRP", STATUS_INVALID_PARAMETER,
                   ControlClient(&call, WSK_TRANSPORT_LIST_CHANGE, 0, NULL, 0, NULL, NULL, FALSE));
  ControlClient(&call, WSK_TRANSPORT_LIST_CHANGE, 0, NULL, 0, NULL, NULL, TRUE);
  if (ConfExpectPending(&call, "WSK_TRANSPORT_LIST_CHANGE pends")) {
    ConfExpectTrue("IoCancelIrp finds a cancel routine", IoCancelIrp(call.Irp));
    ConfExpectCall(&call, "WSK_TRANSPORT_LIST_CHANGE cancelled", STATUS_CANCELLED, 0);
  } else {
    ConfWait(&call);
  }

  /* Cached security descriptors: cache, release; not with an IRP. */
  RtlZeroMemory(descriptor_bytes, sizeof(descriptor_bytes));
  descriptor_bytes[0] = 1; /* SECURITY_DESCRIPTOR_REVISION */
  descriptor = descriptor_bytes;
  cached = (PVOID)(ULONG_PTR)CONF_POISON;
  ConfExpectStatus("WSK_CACHE_SD", STATUS_SUCCESS,
                   ControlClient(&call, WSK_CACHE_SD, sizeof(descriptor), &descriptor,
                                 sizeof(cached), &cached, NULL, FALSE));
  ConfExpectTrue("a cached descriptor is returned",
                 cached != NULL && cached != descriptor && cached != (PVOID)(ULONG_PTR)CONF_POISON);
  if (cached != NULL && cached != (PVOID)(ULONG_PTR)CONF_POISON) {
    ConfExpectStatus(
        "WSK_RELEASE_SD", STATUS_SUCCESS,
        ControlClient(&call, WSK_RELEASE_SD, sizeof(cached), &cached, 0, NULL, NULL, FALSE));
  }
  ControlClient(&call, WSK_CACHE_SD, sizeof(descriptor), &descriptor, sizeof(cached), &cached, NULL,
                TRUE);
  ConfExpectCall(&call, "WSK_CACHE_SD with an IRP", STATUS_INVALID_PARAMETER, 0);
  ConfExpectStatus(
      "WSK_CACHE_SD with a short input", STATUS_INVALID_PARAMETER,
      ControlClient(&call, WSK_CACHE_SD, 1, &descriptor, sizeof(cached), &cached, NULL, FALSE));

  /* SO_WSK_SECURITY takes a cached descriptor, before bind; reading it returns a reference the
   * client releases. */
  {
    PWSK_SOCKET listener =
        ConfSocket("listening socket", 4, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET);
    PFN_WSK_CONTROL_SOCKET control;
    PVOID read_back = (PVOID)(ULONG_PTR)CONF_POISON;
    CONF_ADDR local;
    cached = NULL;
    ControlClient(&call, WSK_CACHE_SD, sizeof(descriptor), &descriptor, sizeof(cached), &cached,
                  NULL, FALSE);
    if (listener != NULL && cached != NULL) {
      control = ((const WSK_PROVIDER_BASIC_DISPATCH *)listener->Dispatch)->WskControlSocket;
      ConfReturned(&call, control(listener, WskSetOption, SO_WSK_SECURITY, SOL_SOCKET,
                                  sizeof(cached), &cached, 0, NULL, NULL, ConfIrp(&call)));
      ConfExpectCall(&call, "SO_WSK_SECURITY set before bind", STATUS_SUCCESS, 0);
      ConfReturned(&call, control(listener, WskGetOption, SO_WSK_SECURITY, SOL_SOCKET, 0, NULL,
                                  sizeof(read_back), &read_back, NULL, ConfIrp(&call)));
      if (ConfExpectCall(&call, "SO_WSK_SECURITY get", STATUS_SUCCESS, sizeof(PVOID))) {
        ConfExpectTrue("returns the cached descriptor", read_back == cached);
        ConfExpectStatus("WSK_RELEASE_SD of what SO_WSK_SECURITY returned", STATUS_SUCCESS,
                         ControlClient(&call, WSK_RELEASE_SD, sizeof(read_back), &read_back, 0,
                                       NULL, NULL, FALSE));
      }
      ConfLoopback(&local, 4, 0);
      ConfBind("WskBind", listener, &local, STATUS_SUCCESS);
      ConfReturned(&call, control(listener, WskSetOption, SO_WSK_SECURITY, SOL_SOCKET,
                                  sizeof(cached), &cached, 0, NULL, NULL, ConfIrp(&call)));
      ConfExpectCall(&call, "SO_WSK_SECURITY set after bind", STATUS_INVALID_DEVICE_STATE, 0);
    }
    ConfClose("listening socket", listener);
    if (cached != NULL) {
      ConfExpectStatus(
          "WSK_RELEASE_SD", STATUS_SUCCESS,
          ControlClient(&call, WSK_RELEASE_SD, sizeof(cached), &cached, 0, NULL, NULL, FALSE));
    }
  }

  /* An unknown code. */
  ConfExpectStatus("an unknown control code", STATUS_INVALID_PARAMETER,
                   ControlClient(&call, 99, 0, NULL, 0, NULL, NULL, FALSE));
  ConfCallFree(&call);
}

/* ---- Name resolution ------------------------------------------------------------------------- */

static BOOLEAN FindAddress(PADDRINFOEXW List, ULONG Family, USHORT Port, ULONG *Count) {
  PADDRINFOEXW entry;
  BOOLEAN found = FALSE;
  *Count = 0;
  for (entry = List; entry != NULL && *Count < 64; entry = entry->ai_next) {
    CONF_ADDR address;
    (*Count)++;
    if (entry->ai_addr == NULL || entry->ai_family != ConfAf(Family) ||
        entry->ai_addrlen != (Family == 6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN))) {
      continue;
    }
    /* The address need not be aligned for CONF_ADDR: copy it. */
    RtlZeroMemory(&address, sizeof(address));
    RtlCopyMemory(&address, entry->ai_addr, entry->ai_addrlen);
    if (ConfIsLoopback(&address, Family) && ConfPort(&address) == Port) {
      found = TRUE;
    }
  }
  return found;
}

static void ExpectAddressInfo(const char *Name, PCWSTR Node, PCWSTR Service, int Family, int Flags,
                              NTSTATUS Expected, ULONG ExpectFamily, USHORT ExpectPort) {
  UNICODE_STRING node;
  UNICODE_STRING service;
  ADDRINFOEXW hints;
  PADDRINFOEXW result = (PADDRINFOEXW)(ULONG_PTR)CONF_POISON;
  CONF_CALL call;
  ULONG count = 0;
  if (!ConfCallInit(&call)) {
    return;
  }
  RtlInitUnicodeString(&node, Node);
  RtlInitUnicodeString(&service, Service);
  RtlZeroMemory(&hints, sizeof(hints));
  hints.ai_family = Family;
  hints.ai_flags = Flags;
  hints.ai_socktype = SOCK_STREAM;
  ConfReturned(&call,
               ConfNpi.Dispatch->WskGetAddressInfo(ConfNpi.Client, Node != NULL ? &node : NULL,
                                                   Service != NULL ? &service : NULL, NS_ALL, NULL,
                                                   &hints, &result, NULL, NULL, ConfIrp(&call)));
  if (ConfExpectCall(&call, Name, Expected, 0) && Expected == STATUS_SUCCESS) {
    ConfExpectTrue(Name, FindAddress(result, ExpectFamily, ExpectPort, &count));
    ConfExpectTrue("at least one entry", count >= 1);
  }
  if (call.Irp->IoStatus.Status == STATUS_SUCCESS && result != NULL &&
      result != (PADDRINFOEXW)(ULONG_PTR)CONF_POISON) {
    ConfNpi.Dispatch->WskFreeAddressInfo(ConfNpi.Client, result);
  }
  ConfCallFree(&call);
}

static void ExpectNameInfo(const char *Name, const CONF_ADDR *Address, ULONG Flags,
                           BOOLEAN WantNode, BOOLEAN WantService, NTSTATUS Expected,
                           PCWSTR ExpectNode, PCWSTR ExpectService, USHORT NodeBytes) {
  WCHAR node_buffer[64];
  WCHAR service_buffer[32];
  UNICODE_STRING node = {0, NodeBytes, node_buffer};
  UNICODE_STRING service = {0, sizeof(service_buffer), service_buffer};
  UNICODE_STRING expected;
  CONF_ADDR address = *Address;
  CONF_CALL call;
  if (!ConfCallInit(&call)) {
    return;
  }
  ConfPoison(node_buffer, sizeof(node_buffer));
  ConfPoison(service_buffer, sizeof(service_buffer));
  ConfReturned(&call,
               ConfNpi.Dispatch->WskGetNameInfo(
                   ConfNpi.Client, &address.Sa,
                   address.Sa.sa_family == AF_INET6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN),
                   WantNode ? &node : NULL, WantService ? &service : NULL, Flags, NULL, NULL,
                   ConfIrp(&call)));
  if (ConfExpectCall(&call, Name, Expected, 0) && Expected == STATUS_SUCCESS) {
    if (ExpectNode != NULL) {
      RtlInitUnicodeString(&expected, ExpectNode);
      ConfCheck(RtlEqualUnicodeString(&node, &expected, FALSE), "node name",
                "expected %wZ, got %wZ", &expected, &node);
      ConfExpectTrue("node name is NUL-terminated", node.Buffer[node.Length / 2] == 0);
    }
    if (ExpectService != NULL) {
      RtlInitUnicodeString(&expected, ExpectService);
      ConfCheck(RtlEqualUnicodeString(&service, &expected, FALSE), "service name",
                "expected %wZ, got %wZ", &expected, &service);
    }
  }
  ConfCallFree(&call);
}

static void TestNameResolution(void) {
  CONF_ADDR address;
  CONF_CALL call;
  PADDRINFOEXW result = NULL;
  UNICODE_STRING node;

  ConfScope("name resolution");
  ExpectAddressInfo("localhost, port 80, IPv4", L"localhost", L"80", AF_INET, 0, STATUS_SUCCESS, 4,
                    80);
  ExpectAddressInfo("127.0.0.1 numeric", L"127.0.0.1", L"8080", AF_UNSPEC, AI_NUMERICHOST,
                    STATUS_SUCCESS, 4, 8080);
  ExpectAddressInfo("::1 numeric", L"::1", L"443", AF_INET6, AI_NUMERICHOST, STATUS_SUCCESS, 6,
                    443);
  ExpectAddressInfo("a host name with AI_NUMERICHOST", L"not-a-number.invalid", L"80", AF_UNSPEC,
                    AI_NUMERICHOST, STATUS_NO_MATCH, 0, 0);
  ExpectAddressInfo("neither a node nor a service", NULL, NULL, AF_UNSPEC, 0,
                    STATUS_INVALID_PARAMETER, 0, 0);
  ExpectAddressInfo("an unknown family hint", L"127.0.0.1", L"80", 99, 0, STATUS_INVALID_PARAMETER,
                    0, 0);

  /* OwningThread without OwningProcess. */
  if (ConfCallInit(&call)) {
    RtlInitUnicodeString(&node, L"127.0.0.1");
    ConfReturned(&call, ConfNpi.Dispatch->WskGetAddressInfo(
                            ConfNpi.Client, &node, NULL, NS_ALL, NULL, NULL, &result, NULL,
                            (PETHREAD)PsGetCurrentThread(), ConfIrp(&call)));
    ConfExpectCall(&call, "OwningThread without OwningProcess", STATUS_INVALID_PARAMETER, 0);
    ConfCallFree(&call);
  }

  ConfLoopback(&address, 4, 80);
  ExpectNameInfo("127.0.0.1:80 numeric", &address, NI_NUMERICHOST | NI_NUMERICSERV, TRUE, TRUE,
                 STATUS_SUCCESS, L"127.0.0.1", L"80", 128);
  ConfLoopback(&address, 6, 8080);
  ExpectNameInfo("[::1]:8080 numeric", &address, NI_NUMERICHOST | NI_NUMERICSERV, TRUE, TRUE,
                 STATUS_SUCCESS, L"::1", L"8080", 128);
  ExpectNameInfo("the service only", &address, NI_NUMERICSERV, FALSE, TRUE, STATUS_SUCCESS, NULL,
                 L"8080", 128);
  ExpectNameInfo("neither output", &address, NI_NUMERICHOST, FALSE, FALSE, STATUS_INVALID_PARAMETER,
                 NULL, NULL, 128);
  ExpectNameInfo("a node buffer too small", &address, NI_NUMERICHOST | NI_NUMERICSERV, TRUE, TRUE,
                 STATUS_BUFFER_TOO_SMALL, NULL, NULL, 4);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  ULONG i;
  if (NT_SUCCESS(ConfBegin(DriverObject, RegistryPath, "client"))) {
    TestRegistration();
    for (i = 0; i < CONF_FAMILY_COUNT; i++) {
      TestSocketCreation(ConfFamilies[i]);
      TestSocketConnect(ConfFamilies[i]);
    }
    TestControlClient();
    TestNameResolution();
  }
  return ConfEnd();
}

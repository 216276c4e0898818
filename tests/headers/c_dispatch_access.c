/*
 * c_dispatch_access.c - compile test: WSK dispatch tables as C drivers use them.
 *
 * C drivers written against the WDK reach the embedded basic table without `.Basic`
 * (d->WskCloseSocket) and initialise client tables positionally; C++ drivers write
 * d->Basic.WskCloseSocket. Both spellings must compile in C11 without -fms-extensions, with and
 * without -fshort-wchar. cxx_dispatch_access.cpp compiles this same file as C++20.
 */
#include <wsk.h>

static NTSTATUS WSKAPI on_accept(PVOID SocketContext, ULONG Flags, PSOCKADDR LocalAddress,
                                 PSOCKADDR RemoteAddress, PWSK_SOCKET AcceptSocket,
                                 PVOID *AcceptSocketContext,
                                 const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch) {
  UNREFERENCED_PARAMETER(SocketContext);
  UNREFERENCED_PARAMETER(Flags);
  UNREFERENCED_PARAMETER(LocalAddress);
  UNREFERENCED_PARAMETER(RemoteAddress);
  UNREFERENCED_PARAMETER(AcceptSocket);
  *AcceptSocketContext = NULL;
  *AcceptSocketDispatch = NULL;
  return STATUS_REQUEST_NOT_ACCEPTED;
}

static NTSTATUS WSKAPI on_receive(PVOID SocketContext, ULONG Flags,
                                  PWSK_DATA_INDICATION DataIndication, SIZE_T BytesIndicated,
                                  SIZE_T *BytesAccepted) {
  UNREFERENCED_PARAMETER(SocketContext);
  UNREFERENCED_PARAMETER(Flags);
  UNREFERENCED_PARAMETER(DataIndication);
  UNREFERENCED_PARAMETER(BytesIndicated);
  UNREFERENCED_PARAMETER(BytesAccepted);
  return STATUS_DATA_NOT_ACCEPTED;
}

/* Positional initialisation, as the documentation and the Microsoft sample write it. */
static const WSK_CLIENT_DISPATCH client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};
static const WSK_CLIENT_LISTEN_DISPATCH listen_dispatch = {on_accept, NULL, NULL};
static const WSK_CLIENT_CONNECTION_DISPATCH connection_dispatch = {on_receive, NULL, NULL};
static const WSK_CLIENT_STREAM_DISPATCH stream_dispatch = {&listen_dispatch, &connection_dispatch};

static WSK_REGISTRATION registration;

NTSTATUS close_both_ways(PWSK_SOCKET socket, PIRP irp);
NTSTATUS close_both_ways(PWSK_SOCKET socket, PIRP irp) {
  PWSK_PROVIDER_CONNECTION_DISPATCH d = (PWSK_PROVIDER_CONNECTION_DISPATCH)socket->Dispatch;
  PFN_WSK_CLOSE_SOCKET unnamed = d->WskCloseSocket;
  PFN_WSK_CLOSE_SOCKET named = d->Basic.WskCloseSocket;
  PFN_WSK_CONTROL_SOCKET control = d->WskControlSocket;
  const WSK_PROVIDER_BASIC_DISPATCH *basic = &d->Basic;
  WSK_CLIENT_NPI npi = {NULL, &client_dispatch};
  UNREFERENCED_PARAMETER(control);
  UNREFERENCED_PARAMETER(basic);
  UNREFERENCED_PARAMETER(npi);
  UNREFERENCED_PARAMETER(stream_dispatch);
  UNREFERENCED_PARAMETER(registration);
  if (unnamed != named) {
    return STATUS_UNSUCCESSFUL;
  }
  return d->WskCloseSocket(socket, irp);
}

/* The other socket tables reach the basic members the same two ways. */
PFN_WSK_CLOSE_SOCKET close_of(const VOID *dispatch, ULONG category);
PFN_WSK_CLOSE_SOCKET close_of(const VOID *dispatch, ULONG category) {
  switch (category) {
  case WSK_FLAG_LISTEN_SOCKET:
    return ((const WSK_PROVIDER_LISTEN_DISPATCH *)dispatch)->WskCloseSocket;
  case WSK_FLAG_DATAGRAM_SOCKET:
    return ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)dispatch)->Basic.WskCloseSocket;
  case WSK_FLAG_STREAM_SOCKET:
    return ((const WSK_PROVIDER_STREAM_DISPATCH *)dispatch)->WskCloseSocket;
  default:
    return ((const WSK_PROVIDER_BASIC_DISPATCH *)dispatch)->WskCloseSocket;
  }
}

/* Enabling callbacks names the interface identifier by address. */
void fill_event_control(PWSK_EVENT_CALLBACK_CONTROL control);
void fill_event_control(PWSK_EVENT_CALLBACK_CONTROL control) {
  control->NpiId = &NPI_WSK_INTERFACE_ID;
  control->EventMask = WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE;
}

/* Windows sockaddr initialisers (port 40007 in network order, as the sample writes it). */
static SOCKADDR_IN6 listen_address = {AF_INET6, 0x479c, 0, IN6ADDR_ANY_INIT, {0}};
PSOCKADDR listen_sockaddr(void);
PSOCKADDR listen_sockaddr(void) {
  return (PSOCKADDR)&listen_address;
}

UWSK_STATIC_ASSERT('tpcs' == 0x74706373, "multi-character constants pack as MSVC packs them");

// The traced provider tables (Windows half): while the call trace is on, clients and sockets get
// these tables, whose entries record the call (nt/dbg/trace.hpp) and call the provider's own
// entry. Off, nobody gets them, so an untraced call costs nothing at all.
#include <wsk.h>

#include "wsk/windows/socket_level.hpp"
#include "wsk/trace.hpp"

namespace uwsk::wsk {
namespace {

namespace tr = nt::trace;

// One traced call: recorded when made and when it returns.
class traced_call {
public:
  traced_call(const char *function, tr::owner_kind kind, const void *owner, PIRP irp,
              tr::fields args)
      : function_(function), owner_(owner), irp_(irp) {
    if (kind == tr::owner_kind::socket) {
      trace_socket_endpoints(owner);
    }
    span_ = tr::call_begin(function, kind, owner, irp, args);
  }
  NTSTATUS returned(NTSTATUS status) {
    tr::call_end(span_, function_, owner_, irp_, status);
    return status;
  }

private:
  const char *function_;
  const void *owner_;
  PIRP irp_;
  tr::span span_;
};

traced_call socket_call(const char *function, PWSK_SOCKET socket, PIRP irp, tr::fields args) {
  return traced_call(function, tr::owner_kind::socket, socket, irp, args);
}
traced_call client_call(const char *function, PWSK_CLIENT client, PIRP irp, tr::fields args) {
  return traced_call(function, tr::owner_kind::client, client, irp, args);
}

std::uint64_t length_of(const WSK_BUF *buffer) {
  return buffer != nullptr ? buffer->Length : 0;
}

// A counted UTF-16 name as ASCII text (anything else as '?').
const char *name_text(const UNICODE_STRING *name, char *text, std::size_t size) {
  if (name == nullptr || name->Buffer == nullptr) {
    return "(null)";
  }
  std::size_t n = 0;
  for (USHORT i = 0; i < name->Length / sizeof(WCHAR) && n + 1 < size; ++i) {
    const WCHAR c = name->Buffer[i];
    text[n++] = c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '?';
  }
  text[n] = '\0';
  return text;
}

const char *request_type_name(WSK_CONTROL_SOCKET_TYPE type) {
  switch (type) {
  case WskSetOption:
    return "WskSetOption";
  case WskGetOption:
    return "WskGetOption";
  case WskIoctl:
    return "WskIoctl";
  default:
    return "unknown";
  }
}

// The entries of the untraced tables, which every category shares where it has them.
const WSK_PROVIDER_DISPATCH &client_table() {
  return *static_cast<const WSK_PROVIDER_DISPATCH *>(untraced_client_dispatch());
}
const WSK_PROVIDER_STREAM_DISPATCH &stream_table() {
  return *static_cast<const WSK_PROVIDER_STREAM_DISPATCH *>(
      untraced_dispatch_for(category::stream));
}
const WSK_PROVIDER_LISTEN_DISPATCH &listen_table() {
  return *static_cast<const WSK_PROVIDER_LISTEN_DISPATCH *>(
      untraced_dispatch_for(category::listen));
}
const WSK_PROVIDER_DATAGRAM_DISPATCH &datagram_table() {
  return *static_cast<const WSK_PROVIDER_DATAGRAM_DISPATCH *>(
      untraced_dispatch_for(category::datagram));
}

// ---- Client level ----------------------------------------------------------------------------

NTSTATUS WSKAPI traced_socket(PWSK_CLIENT Client, ADDRESS_FAMILY AddressFamily, USHORT SocketType,
                              ULONG Protocol, ULONG Flags, PVOID SocketContext,
                              const VOID *Dispatch, PEPROCESS OwningProcess, PETHREAD OwningThread,
                              PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp) {
  auto call = client_call("WskSocket", Client, Irp,
                          {tr::number("family", AddressFamily), tr::number("type", SocketType),
                           tr::number("protocol", Protocol), tr::hex("flags", Flags)});
  return call.returned(client_table().WskSocket(Client, AddressFamily, SocketType, Protocol, Flags,
                                                SocketContext, Dispatch, OwningProcess,
                                                OwningThread, SecurityDescriptor, Irp));
}

NTSTATUS WSKAPI traced_socket_connect(PWSK_CLIENT Client, USHORT SocketType, ULONG Protocol,
                                      PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, ULONG Flags,
                                      PVOID SocketContext,
                                      const WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
                                      PEPROCESS OwningProcess, PETHREAD OwningThread,
                                      PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp) {
  char local[80];
  char remote[80];
  auto call = client_call("WskSocketConnect", Client, Irp,
                          {tr::number("type", SocketType), tr::number("protocol", Protocol),
                           tr::text("local", trace_address(LocalAddress, local, sizeof(local))),
                           tr::text("remote", trace_address(RemoteAddress, remote, sizeof(remote))),
                           tr::hex("flags", Flags)});
  return call.returned(client_table().WskSocketConnect(
      Client, SocketType, Protocol, LocalAddress, RemoteAddress, Flags, SocketContext, Dispatch,
      OwningProcess, OwningThread, SecurityDescriptor, Irp));
}

NTSTATUS WSKAPI traced_control_client(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize,
                                      PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer,
                                      SIZE_T *OutputSizeReturned, PIRP Irp) {
  auto call = client_call("WskControlClient", Client, Irp,
                          {tr::hex("code", ControlCode), tr::number("input", InputSize),
                           tr::number("output", OutputSize)});
  return call.returned(client_table().WskControlClient(Client, ControlCode, InputSize, InputBuffer,
                                                       OutputSize, OutputBuffer, OutputSizeReturned,
                                                       Irp));
}

NTSTATUS WSKAPI traced_get_address_info(PWSK_CLIENT Client, PUNICODE_STRING NodeName,
                                        PUNICODE_STRING ServiceName, ULONG NameSpace,
                                        GUID *Provider, PADDRINFOEXW Hints, PADDRINFOEXW *Result,
                                        PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp) {
  char node[128];
  char service[64];
  auto call = client_call("WskGetAddressInfo", Client, Irp,
                          {tr::text("node", name_text(NodeName, node, sizeof(node))),
                           tr::text("service", name_text(ServiceName, service, sizeof(service))),
                           tr::number("namespace", NameSpace)});
  return call.returned(client_table().WskGetAddressInfo(Client, NodeName, ServiceName, NameSpace,
                                                        Provider, Hints, Result, OwningProcess,
                                                        OwningThread, Irp));
}

VOID WSKAPI traced_free_address_info(PWSK_CLIENT Client, PADDRINFOEXW AddrInfo) {
  auto call =
      client_call("WskFreeAddressInfo", Client, nullptr, {tr::pointer("addrinfo", AddrInfo)});
  client_table().WskFreeAddressInfo(Client, AddrInfo);
  call.returned(STATUS_SUCCESS);
}

NTSTATUS WSKAPI traced_get_name_info(PWSK_CLIENT Client, PSOCKADDR SockAddr, ULONG SockAddrLength,
                                     PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName,
                                     ULONG Flags, PEPROCESS OwningProcess, PETHREAD OwningThread,
                                     PIRP Irp) {
  char address[80];
  auto call = client_call("WskGetNameInfo", Client, Irp,
                          {tr::text("address", trace_address(SockAddr, address, sizeof(address))),
                           tr::hex("flags", Flags)});
  return call.returned(client_table().WskGetNameInfo(Client, SockAddr, SockAddrLength, NodeName,
                                                     ServiceName, Flags, OwningProcess,
                                                     OwningThread, Irp));
}

// ---- Socket level ----------------------------------------------------------------------------

NTSTATUS WSKAPI traced_control_socket(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE RequestType,
                                      ULONG ControlCode, ULONG Level, SIZE_T InputSize,
                                      PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer,
                                      SIZE_T *OutputSizeReturned, PIRP Irp) {
  auto call = socket_call("WskControlSocket", Socket, Irp,
                          {tr::text("request", request_type_name(RequestType)),
                           tr::hex("code", ControlCode), tr::hex("level", Level),
                           tr::number("input", InputSize), tr::number("output", OutputSize)});
  return call.returned(stream_table().WskControlSocket(Socket, RequestType, ControlCode, Level,
                                                       InputSize, InputBuffer, OutputSize,
                                                       OutputBuffer, OutputSizeReturned, Irp));
}

NTSTATUS WSKAPI traced_close_socket(PWSK_SOCKET Socket, PIRP Irp) {
  auto call = socket_call("WskCloseSocket", Socket, Irp, {});
  return call.returned(stream_table().WskCloseSocket(Socket, Irp));
}

// Deliberate family (duplicates): one traced wrapper per WSK function, each naming its arguments
// for the trace and calling the untraced table.
NTSTATUS WSKAPI traced_bind(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, ULONG Flags, PIRP Irp) {
  char local[80];
  auto call = socket_call("WskBind", Socket, Irp,
                          {tr::text("local", trace_address(LocalAddress, local, sizeof(local))),
                           tr::hex("flags", Flags)});
  return call.returned(stream_table().WskBind(Socket, LocalAddress, Flags, Irp));
}

NTSTATUS WSKAPI traced_listen(PWSK_SOCKET Socket, PIRP Irp) {
  auto call = socket_call("WskListen", Socket, Irp, {});
  return call.returned(stream_table().WskListen(Socket, Irp));
}

NTSTATUS WSKAPI traced_accept(PWSK_SOCKET ListenSocket, ULONG Flags, PVOID AcceptSocketContext,
                              const WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch,
                              PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, PIRP Irp) {
  auto call = socket_call("WskAccept", ListenSocket, Irp, {tr::hex("flags", Flags)});
  return call.returned(stream_table().WskAccept(ListenSocket, Flags, AcceptSocketContext,
                                                AcceptSocketDispatch, LocalAddress, RemoteAddress,
                                                Irp));
}

NTSTATUS WSKAPI traced_inspect_complete(PWSK_SOCKET ListenSocket, PWSK_INSPECT_ID InspectID,
                                        WSK_INSPECT_ACTION Action, PIRP Irp) {
  auto call = socket_call("WskInspectComplete", ListenSocket, Irp,
                          {tr::text("action", Action == WskInspectAccept   ? "WskInspectAccept"
                                              : Action == WskInspectReject ? "WskInspectReject"
                                                                           : "other")});
  return call.returned(listen_table().WskInspectComplete(ListenSocket, InspectID, Action, Irp));
}

NTSTATUS WSKAPI traced_connect(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp) {
  char remote[80];
  auto call = socket_call("WskConnect", Socket, Irp,
                          {tr::text("remote", trace_address(RemoteAddress, remote, sizeof(remote))),
                           tr::hex("flags", Flags)});
  return call.returned(stream_table().WskConnect(Socket, RemoteAddress, Flags, Irp));
}

NTSTATUS WSKAPI traced_connect_ex(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer,
                                  ULONG Flags, PIRP Irp) {
  char remote[80];
  auto call = socket_call("WskConnectEx", Socket, Irp,
                          {tr::text("remote", trace_address(RemoteAddress, remote, sizeof(remote))),
                           tr::number("length", length_of(Buffer)), tr::hex("flags", Flags)});
  return call.returned(stream_table().WskConnectEx(Socket, RemoteAddress, Buffer, Flags, Irp));
}

NTSTATUS WSKAPI traced_get_local_address(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, PIRP Irp) {
  auto call = socket_call("WskGetLocalAddress", Socket, Irp, {});
  return call.returned(stream_table().WskGetLocalAddress(Socket, LocalAddress, Irp));
}

NTSTATUS WSKAPI traced_get_remote_address(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PIRP Irp) {
  auto call = socket_call("WskGetRemoteAddress", Socket, Irp, {});
  return call.returned(stream_table().WskGetRemoteAddress(Socket, RemoteAddress, Irp));
}

NTSTATUS WSKAPI traced_send(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp) {
  auto call = socket_call("WskSend", Socket, Irp,
                          {tr::number("length", length_of(Buffer)), tr::hex("flags", Flags)});
  return call.returned(stream_table().WskSend(Socket, Buffer, Flags, Irp));
}

NTSTATUS WSKAPI traced_receive(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp) {
  auto call = socket_call("WskReceive", Socket, Irp,
                          {tr::number("length", length_of(Buffer)), tr::hex("flags", Flags)});
  return call.returned(stream_table().WskReceive(Socket, Buffer, Flags, Irp));
}

NTSTATUS WSKAPI traced_send_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                               ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp) {
  auto call = socket_call("WskSendEx", Socket, Irp,
                          {tr::number("length", length_of(Buffer)), tr::hex("flags", Flags),
                           tr::number("control", ControlInfoLength)});
  return call.returned(
      stream_table().WskSendEx(Socket, Buffer, Flags, ControlInfoLength, ControlInfo, Irp));
}

NTSTATUS WSKAPI traced_receive_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                  PULONG ControlInfoLength, PCMSGHDR ControlInfo,
                                  PULONG ControlFlags, PIRP Irp) {
  auto call = socket_call("WskReceiveEx", Socket, Irp,
                          {tr::number("length", length_of(Buffer)), tr::hex("flags", Flags)});
  return call.returned(stream_table().WskReceiveEx(Socket, Buffer, Flags, ControlInfoLength,
                                                   ControlInfo, ControlFlags, Irp));
}

NTSTATUS WSKAPI traced_disconnect(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp) {
  auto call = socket_call("WskDisconnect", Socket, Irp,
                          {tr::number("length", length_of(Buffer)), tr::hex("flags", Flags)});
  return call.returned(stream_table().WskDisconnect(Socket, Buffer, Flags, Irp));
}

NTSTATUS WSKAPI traced_release_data(PWSK_SOCKET Socket, PWSK_DATA_INDICATION DataIndication) {
  auto call = socket_call("WskRelease", Socket, nullptr, {tr::pointer("list", DataIndication)});
  return call.returned(stream_table().WskRelease(Socket, DataIndication));
}

NTSTATUS WSKAPI traced_send_to(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                               PSOCKADDR RemoteAddress, ULONG ControlInfoLength,
                               PCMSGHDR ControlInfo, PIRP Irp) {
  char remote[80];
  auto call = socket_call("WskSendTo", Socket, Irp,
                          {tr::number("length", length_of(Buffer)),
                           tr::text("remote", trace_address(RemoteAddress, remote, sizeof(remote))),
                           tr::number("control", ControlInfoLength)});
  return call.returned(datagram_table().WskSendTo(Socket, Buffer, Flags, RemoteAddress,
                                                  ControlInfoLength, ControlInfo, Irp));
}

NTSTATUS WSKAPI traced_receive_from(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                                    PSOCKADDR RemoteAddress, PULONG ControlLength,
                                    PCMSGHDR ControlInfo, PULONG ControlFlags, PIRP Irp) {
  auto call = socket_call("WskReceiveFrom", Socket, Irp,
                          {tr::number("length", length_of(Buffer)), tr::hex("flags", Flags)});
  return call.returned(datagram_table().WskReceiveFrom(
      Socket, Buffer, Flags, RemoteAddress, ControlLength, ControlInfo, ControlFlags, Irp));
}

NTSTATUS WSKAPI traced_release_datagram(PWSK_SOCKET Socket,
                                        PWSK_DATAGRAM_INDICATION DatagramIndication) {
  auto call = socket_call("WskRelease", Socket, nullptr, {tr::pointer("list", DatagramIndication)});
  return call.returned(datagram_table().WskRelease(Socket, DatagramIndication));
}

NTSTATUS WSKAPI traced_send_messages(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,
                                     PSOCKADDR RemoteAddress, ULONG ControlInfoLength,
                                     PCMSGHDR ControlInfo, PIRP Irp) {
  std::uint64_t count = 0;
  for (const WSK_BUF_LIST *b = BufferList; b != nullptr && count < 1024; b = b->Next) {
    ++count;
  }
  char remote[80];
  auto call = socket_call("WskSendMessages", Socket, Irp,
                          {tr::number("datagrams", count),
                           tr::text("remote", trace_address(RemoteAddress, remote, sizeof(remote))),
                           tr::number("control", ControlInfoLength)});
  return call.returned(datagram_table().WskSendMessages(Socket, BufferList, Flags, RemoteAddress,
                                                        ControlInfoLength, ControlInfo, Irp));
}

// ---- The tables, shaped as windows/dispatch.cpp's
// ----------------------------------------------------

#define UWSK_TRACED_BASIC_ENTRIES                                                                  \
  {                                                                                                \
    { traced_control_socket, traced_close_socket }                                                 \
  }

const WSK_PROVIDER_DISPATCH traced_client = {
    MAKE_WSK_VERSION(1, 0),
    0,
    traced_socket,
    traced_socket_connect,
    traced_control_client,
    traced_get_address_info,
    traced_free_address_info,
    traced_get_name_info,
};

const WSK_PROVIDER_BASIC_DISPATCH traced_basic = {traced_control_socket, traced_close_socket};

const WSK_PROVIDER_LISTEN_DISPATCH traced_listen_table = {
    UWSK_TRACED_BASIC_ENTRIES, traced_bind, traced_accept, traced_inspect_complete,
    traced_get_local_address,
};

const WSK_PROVIDER_DATAGRAM_DISPATCH traced_datagram = {
    UWSK_TRACED_BASIC_ENTRIES,
    traced_bind,
    traced_send_to,
    traced_receive_from,
    traced_release_datagram,
    traced_get_local_address,
    traced_send_messages,
};

const WSK_PROVIDER_CONNECTION_DISPATCH traced_connection = {
    UWSK_TRACED_BASIC_ENTRIES, traced_bind,       traced_connect, traced_get_local_address,
    traced_get_remote_address, traced_send,       traced_receive, traced_disconnect,
    traced_release_data,       traced_connect_ex, traced_send_ex, traced_receive_ex,
};

const WSK_PROVIDER_STREAM_DISPATCH traced_stream = {
    UWSK_TRACED_BASIC_ENTRIES,
    traced_bind,
    traced_accept,
    traced_connect,
    traced_listen,
    traced_send,
    traced_receive,
    traced_disconnect,
    traced_release_data,
    traced_get_local_address,
    traced_get_remote_address,
    traced_connect_ex,
    traced_send_ex,
    traced_receive_ex,
};

#undef UWSK_TRACED_BASIC_ENTRIES

} // namespace

const void *traced_client_dispatch() {
  return &traced_client;
}

const void *traced_dispatch_for(category cat) {
  switch (cat) {
  case category::basic:
    return &traced_basic;
  case category::listen:
    return &traced_listen_table;
  case category::connection:
    return &traced_connection;
  case category::datagram:
    return &traced_datagram;
  case category::stream:
    return &traced_stream;
  }
  return nullptr;
}

} // namespace uwsk::wsk

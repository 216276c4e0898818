// The provider dispatch tables and the WSK entry points (Windows half).
//
// Each entry point checks what only the Windows view can check (the socket object, the
// category flags, WSK_FLAG_* values), turns Windows structures into the core's neutral ones, and
// calls the Linux half (wsk/sockets.hpp, wsk/control.hpp), which owns the IRP from there.
//
// Validate before acting: every entry point checks its arguments in this order, and the first
// check that fails decides the status; nothing has been sent, received, bound or created then.
//  1. The socket object (a pointer that is not an open WSK socket is a verifier report and a bug
//     check, rule V30) or the client (a NULL PWSK_CLIENT: STATUS_INVALID_PARAMETER).
//  2. The IRP: none where one is required is STATUS_INVALID_PARAMETER, returned (there is
//     nothing to complete).
//  3. The category: a socket reached through the table of another category gets
//     STATUS_NOT_SUPPORTED and a verifier line naming rule V36.
//  4. Flags and pointers (STATUS_INVALID_PARAMETER, or STATUS_NOT_SUPPORTED for WskSend's and
//     WskReceive's unsupported flags), then the core's checks: the WSK_BUF, the address family,
//     and last the socket's state (STATUS_INVALID_DEVICE_STATE and the like).
#include <wsk.h>

#include <atomic>

#include <uwsk/log.h>

#include "nt/bugcheck.hpp"
#include "nt/dbg/verifier.hpp"
#include "wsk/windows/client_level.hpp"
#include "wsk/views.hpp"
#include "wsk/registration.hpp"
#include "wsk/sockets.hpp"
#include "wsk/control.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/windows/socket_level.hpp"
#include "wsk/trace.hpp"
#include "wsk/callbacks.hpp"

namespace uwsk::wsk {

static_assert(sizeof(buffer_view) == sizeof(WSK_BUF), "buffer_view mirrors WSK_BUF");
static_assert(offsetof(buffer_view, mdl) == offsetof(WSK_BUF, Mdl), "buffer_view.mdl");
static_assert(offsetof(buffer_view, offset) == offsetof(WSK_BUF, Offset), "buffer_view.offset");
static_assert(offsetof(buffer_view, length) == offsetof(WSK_BUF, Length), "buffer_view.length");

namespace {

socket_object *socket_of(PWSK_SOCKET socket, const char *function) {
  return socket_checked(socket, function);
}

const buffer_view *view_of(const WSK_BUF *buffer) {
  return reinterpret_cast<const buffer_view *>(buffer);
}

registration *registration_of(PWSK_CLIENT client) {
  return static_cast<registration *>(client);
}

// Completes an IRP the core never saw, for a call rejected before it reached the core.
NTSTATUS reject(PIRP irp, NTSTATUS status) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  return irp_complete(irp, status, 0);
}

// ---- Categories (rule V36) ---------------------------------------------------------------------

constexpr UCHAR bit(category cat) {
  return static_cast<UCHAR>(1u << static_cast<unsigned>(cat));
}
constexpr UCHAR bound_categories = bit(category::listen) | bit(category::connection) |
                                   bit(category::datagram) | bit(category::stream);
constexpr UCHAR connection_oriented = bit(category::connection) | bit(category::stream);
constexpr UCHAR accepting = bit(category::listen) | bit(category::stream);

const char *category_name(category cat) {
  switch (cat) {
  case category::basic:
    return "basic";
  case category::listen:
    return "listening";
  case category::connection:
    return "connection";
  case category::datagram:
    return "datagram";
  case category::stream:
    return "stream";
  }
  return "?";
}

// Whether the socket's category has `function` in its provider table (docs/wsk-behaviour.md,
// "Dispatch tables"). A socket that reaches a function its table lacks came through the table of
// another category (a wrong cast, or a table kept from another socket): rule V36. The call fails
// with STATUS_NOT_SUPPORTED, the status for a request to a category it does not apply to.
bool category_has(const socket_object *s, UCHAR categories, const char *function) {
  const category cat = socket_category(s);
  if ((categories & bit(cat)) != 0) {
    return true;
  }
  nt::verifier::warning(36,
                        "a socket was reached through the dispatch table of another category; "
                        "the call fails with STATUS_NOT_SUPPORTED",
                        nt::verifier::objects_text("%s: socket %p is a %s socket, whose dispatch "
                                                   "table has no %s",
                                                   function, static_cast<const void *>(s),
                                                   category_name(cat), function),
                        reinterpret_cast<ULONG_PTR>(s));
  return false;
}

// ---- Client-level checks ---------------------------------------------------------------------

// A NULL PWSK_CLIENT (a provider NPI that was never captured, or cleared): the call fails with
// STATUS_INVALID_PARAMETER and completes its IRP with it.
bool client_present(PWSK_CLIENT client, const char *function) {
  if (client != nullptr) {
    registration_check_call(client, function);
    return true;
  }
  uwsk_log_message("wsk", "verifier: %s: the Client is NULL (rule V3): STATUS_INVALID_PARAMETER",
                   function);
  return false;
}

// The SecurityDescriptor of WskSocket and WskSocketConnect: NULL, or a descriptor WSK_CACHE_SD
// returned and nobody released since. On success the caller holds one more reference on it and
// drops it with security_descriptor_release.
bool descriptor_usable(PSECURITY_DESCRIPTOR descriptor, const char *function) {
  if (descriptor == nullptr || security_descriptor_add_reference(descriptor)) {
    return true;
  }
  nt::verifier::warning(66,
                        "a SecurityDescriptor that did not come from WSK_CACHE_SD, or was "
                        "released; the call fails with STATUS_INVALID_PARAMETER",
                        nt::verifier::objects_text("%s: SecurityDescriptor %p", function,
                                                   static_cast<void *>(descriptor)),
                        reinterpret_cast<ULONG_PTR>(descriptor));
  return false;
}

bool family_supported(const SOCKADDR *address) {
  return address->sa_family == AF_INET || address->sa_family == AF_INET6;
}

// Creates the socket, gives it the cached descriptor (which the socket then holds a reference
// on, as after SO_WSK_SECURITY), and completes the IRP with the socket as Information.
NTSTATUS create_and_complete(registration *reg, USHORT windows_family, USHORT type, ULONG protocol,
                             category cat, PVOID context, const void *client_dispatch,
                             PSECURITY_DESCRIPTOR descriptor, PIRP irp) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  socket_object *s = nullptr;
  const NTSTATUS status = create_socket(reg, windows_family, type, static_cast<int>(protocol), cat,
                                        context, client_dispatch, behaviour_of(cat), &s);
  if (NT_SUCCESS(status) && descriptor != nullptr) {
    control_request request;
    request.op = control_op::set_security;
    request.security = descriptor;
    SIZE_T written = 0;
    socket_control(s, request, nullptr, &written); // a new socket is unbound: it cannot fail
  }
  return irp_complete(irp, status, NT_SUCCESS(status) ? reinterpret_cast<ULONG_PTR>(s) : 0);
}

// ---- Client level ----------------------------------------------------------------------------

NTSTATUS WSKAPI wsk_socket(PWSK_CLIENT Client, ADDRESS_FAMILY AddressFamily, USHORT SocketType,
                           ULONG Protocol, ULONG Flags, PVOID SocketContext, const VOID *Dispatch,
                           PEPROCESS OwningProcess, PETHREAD OwningThread,
                           PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp) {
  if (!client_present(Client, "WskSocket")) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  category cat;
  switch (Flags) {
  case WSK_FLAG_BASIC_SOCKET:
    cat = category::basic;
    break;
  case WSK_FLAG_LISTEN_SOCKET:
    cat = category::listen;
    break;
  case WSK_FLAG_CONNECTION_SOCKET:
    cat = category::connection;
    break;
  case WSK_FLAG_DATAGRAM_SOCKET:
    cat = category::datagram;
    break;
  case WSK_FLAG_STREAM_SOCKET:
    cat = category::stream;
    break;
  default:
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  if ((OwningThread != nullptr && OwningProcess == nullptr) ||
      (cat == category::basic && Dispatch != nullptr)) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  // The documented (type, protocol) pairs of each category (docs/wsk-behaviour.md, "Socket
  // categories").
  const bool stream_type = SocketType == SOCK_STREAM;
  const bool datagram_type = SocketType == SOCK_DGRAM || SocketType == SOCK_RAW;
  const bool fits =
      cat == category::basic || (cat == category::datagram ? datagram_type : stream_type);
  if (!fits) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  if (Irp == nullptr || !descriptor_usable(SecurityDescriptor, "WskSocket")) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  const NTSTATUS status =
      create_and_complete(registration_of(Client), AddressFamily, SocketType, Protocol, cat,
                          SocketContext, Dispatch, SecurityDescriptor, Irp);
  if (SecurityDescriptor != nullptr) {
    security_descriptor_release(SecurityDescriptor); // the new socket holds its own reference
  }
  return status;
}

NTSTATUS WSKAPI wsk_socket_connect(PWSK_CLIENT Client, USHORT SocketType, ULONG Protocol,
                                   PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, ULONG Flags,
                                   PVOID SocketContext,
                                   const WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
                                   PEPROCESS OwningProcess, PETHREAD OwningThread,
                                   PSECURITY_DESCRIPTOR SecurityDescriptor, PIRP Irp) {
  if (!client_present(Client, "WskSocketConnect")) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  if (Flags == WSK_FLAG_CONNECTION_SOCKET) {
    // Flags is reserved (must be 0), but drivers pass the category of the socket they want and
    // Windows accepts it: accepted, with a warning the first time (docs/divergences.md, D23).
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true, std::memory_order_relaxed)) {
      nt::verifier::warning(38,
                            "WskSocketConnect with Flags = WSK_FLAG_CONNECTION_SOCKET: the "
                            "parameter is reserved and must be 0; accepted, as Windows does "
                            "(reported once)",
                            "WskSocketConnect: Flags 0x1");
    }
    Flags = 0;
  }
  if (Flags != 0) {
    nt::verifier::warning(38,
                          "a reserved Flags parameter is not 0; the call fails with "
                          "STATUS_INVALID_PARAMETER",
                          nt::verifier::objects_text("WskSocketConnect: Flags 0x%lx",
                                                     static_cast<unsigned long>(Flags)));
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  if (OwningThread != nullptr && OwningProcess == nullptr) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  if (SocketType != SOCK_STREAM) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  // Both addresses, of one family WSK knows: checked before a socket is made.
  if (LocalAddress == nullptr || RemoteAddress == nullptr || !family_supported(LocalAddress) ||
      LocalAddress->sa_family != RemoteAddress->sa_family) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  if (Irp == nullptr || !descriptor_usable(SecurityDescriptor, "WskSocketConnect")) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  // The descriptor is checked, not kept: uwsk evaluates none (docs/divergences.md, D22).
  if (SecurityDescriptor != nullptr) {
    security_descriptor_release(SecurityDescriptor);
  }
  return socket_connect_new(registration_of(Client), SocketType, Protocol, LocalAddress,
                            RemoteAddress, SocketContext, Dispatch, Irp);
}

// ---- Socket level ----------------------------------------------------------------------------
//
// Each function first takes its socket (socket_of), then checks the category of the tables that
// hold it (category_has; WskControlSocket and WskCloseSocket are in every table). WskBind is in
// every table but the basic one; a basic socket that reaches it gets STATUS_INVALID_DEVICE_STATE
// from the core, as a basic socket cannot be bound (docs/wsk-behaviour.md, "Socket states").
// Their Linux half: WskCloseSocket in linux/socket.cpp; WskBind, WskListen, WskAccept, the
// connects and the address queries in linux/stream_setup.cpp; WskSend, WskReceive and
// WskDisconnect in linux/stream_transfer.cpp.

NTSTATUS WSKAPI wsk_close_socket(PWSK_SOCKET Socket, PIRP Irp) {
  return socket_close(socket_of(Socket, "WskCloseSocket"), Irp);
}

NTSTATUS WSKAPI wsk_bind(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, ULONG Flags, PIRP Irp) {
  return socket_bind(socket_of(Socket, "WskBind"), LocalAddress, Flags, Irp);
}

NTSTATUS WSKAPI wsk_listen(PWSK_SOCKET Socket, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskListen");
  if (Irp != nullptr && !category_has(s, bit(category::stream), "WskListen")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  return socket_listen(s, Irp);
}

NTSTATUS WSKAPI wsk_accept(PWSK_SOCKET ListenSocket, ULONG Flags, PVOID AcceptSocketContext,
                           const WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch,
                           PSOCKADDR LocalAddress, PSOCKADDR RemoteAddress, PIRP Irp) {
  socket_object *s = socket_of(ListenSocket, "WskAccept");
  socket_check_out_address(s, LocalAddress, "WskAccept");
  socket_check_out_address(s, RemoteAddress, "WskAccept");
  if (Irp != nullptr && !category_has(s, accepting, "WskAccept")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  nt::irp_buffers::note(Irp, LocalAddress, sizeof(SOCKADDR)); // rule V18
  nt::irp_buffers::note(Irp, RemoteAddress, sizeof(SOCKADDR));
  return socket_accept(s, Flags, AcceptSocketContext, AcceptSocketDispatch, LocalAddress,
                       RemoteAddress, Irp);
}

NTSTATUS WSKAPI wsk_inspect_complete(PWSK_SOCKET ListenSocket, PWSK_INSPECT_ID InspectID,
                                     WSK_INSPECT_ACTION Action, PIRP Irp) {
  socket_object *s = socket_of(ListenSocket, "WskInspectComplete");
  if (Irp != nullptr && !category_has(s, bit(category::listen), "WskInspectComplete")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  if (InspectID == nullptr || (Action != WskInspectAccept && Action != WskInspectReject)) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  if (is_callback_poison(InspectID, sizeof(WSK_INSPECT_ID))) {
    nt::verifier::error(
        57,
        "WskInspectComplete was given the provider's copy of an inspect ID that "
        "its WskInspectEvent had returned with: the client kept the InspectID "
        "pointer instead of copying the ID, and the copy is gone",
        socket_objects(s, "InspectID %p, listening ", static_cast<void *>(InspectID)),
        reinterpret_cast<ULONG_PTR>(InspectID));
  }
  return socket_inspect_complete(s, InspectID->Key, InspectID->SerialNumber,
                                 Action == WskInspectAccept, Irp);
}

NTSTATUS WSKAPI wsk_connect(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, ULONG Flags, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskConnect");
  if (Irp != nullptr && !category_has(s, connection_oriented, "WskConnect")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  return socket_connect(s, RemoteAddress, nullptr, Flags, false, Irp);
}

NTSTATUS WSKAPI wsk_connect_ex(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PWSK_BUF Buffer,
                               ULONG Flags, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskConnectEx");
  if (Irp != nullptr && !category_has(s, connection_oriented, "WskConnectEx")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  note_wsk_buf(Irp, Buffer); // rule V18
  return socket_connect(s, RemoteAddress, view_of(Buffer), Flags, true, Irp);
}

NTSTATUS WSKAPI wsk_get_local_address(PWSK_SOCKET Socket, PSOCKADDR LocalAddress, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskGetLocalAddress");
  socket_check_out_address(s, LocalAddress, "WskGetLocalAddress");
  if (Irp != nullptr && !category_has(s, bound_categories, "WskGetLocalAddress")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  return socket_get_local_address(s, LocalAddress, Irp);
}

NTSTATUS WSKAPI wsk_get_remote_address(PWSK_SOCKET Socket, PSOCKADDR RemoteAddress, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskGetRemoteAddress");
  socket_check_out_address(s, RemoteAddress, "WskGetRemoteAddress");
  if (Irp != nullptr && !category_has(s, connection_oriented, "WskGetRemoteAddress")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  return socket_get_remote_address(s, RemoteAddress, Irp);
}

NTSTATUS WSKAPI wsk_send(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskSend");
  if (Irp != nullptr && !category_has(s, connection_oriented, "WskSend")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  if ((Flags & ~WSK_FLAG_NODELAY) != 0) {
    return reject(Irp, STATUS_NOT_SUPPORTED); // WSK_FLAG_OOB and unknown flags
  }
  note_wsk_buf(Irp, Buffer); // rule V18
  return socket_send(s, view_of(Buffer), (Flags & WSK_FLAG_NODELAY) ? op_flag::nodelay : 0, Irp);
}

NTSTATUS WSKAPI wsk_receive(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskReceive");
  if (Irp != nullptr && !category_has(s, connection_oriented, "WskReceive")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  if ((Flags & ~(WSK_FLAG_WAITALL | WSK_FLAG_DRAIN)) != 0) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  if ((Flags & (WSK_FLAG_WAITALL | WSK_FLAG_DRAIN)) == (WSK_FLAG_WAITALL | WSK_FLAG_DRAIN) ||
      ((Flags & WSK_FLAG_DRAIN) != 0 && Buffer != nullptr && Buffer->Length != 0)) {
    nt::verifier::warning(39,
                          "WskReceive: WSK_FLAG_WAITALL and WSK_FLAG_DRAIN exclude each other, and "
                          "a WSK_FLAG_DRAIN receive has Length 0: STATUS_INVALID_PARAMETER",
                          nt::verifier::objects_text("socket %p, Flags 0x%lx", Socket,
                                                     static_cast<unsigned long>(Flags)));
  }
  const ULONG flags = ((Flags & WSK_FLAG_WAITALL) ? op_flag::waitall : 0) |
                      ((Flags & WSK_FLAG_DRAIN) ? op_flag::drain : 0);
  note_wsk_buf(Irp, Buffer); // rule V18
  return socket_receive(s, view_of(Buffer), flags, Irp);
}

// WskSendEx is WskSend with control data; TCP takes none, so any is refused.
NTSTATUS WSKAPI wsk_send_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                            ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskSendEx");
  if (Irp != nullptr && !category_has(s, connection_oriented, "WskSendEx")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  if (ControlInfoLength != 0 || ControlInfo != nullptr) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  return wsk_send(Socket, Buffer, Flags, Irp);
}

// WskReceiveEx is WskReceive with control data; TCP delivers none, so the length returned is 0.
NTSTATUS WSKAPI wsk_receive_ex(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                               PULONG ControlInfoLength, PCMSGHDR ControlInfo, PULONG ControlFlags,
                               PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskReceiveEx");
  if (Irp != nullptr && !category_has(s, connection_oriented, "WskReceiveEx")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  if (ControlFlags != nullptr) {
    return reject(Irp, STATUS_INVALID_PARAMETER); // reserved, must be NULL
  }
  if (Irp == nullptr) {
    return STATUS_INVALID_PARAMETER; // before *ControlInfoLength is written
  }
  if (ControlInfoLength != nullptr) {
    *ControlInfoLength = 0;
  }
  return wsk_receive(Socket, Buffer, Flags, Irp);
}

NTSTATUS WSKAPI wsk_disconnect(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskDisconnect");
  if (Irp != nullptr && !category_has(s, connection_oriented, "WskDisconnect")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  if ((Flags & ~WSK_FLAG_ABORTIVE) != 0) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  if ((Flags & WSK_FLAG_ABORTIVE) != 0 && Buffer != nullptr) {
    nt::verifier::warning(39,
                          "WskDisconnect: an abortive disconnect takes no buffer (Buffer must be "
                          "NULL with WSK_FLAG_ABORTIVE): STATUS_INVALID_PARAMETER",
                          nt::verifier::objects_text("socket %p", Socket));
  }
  note_wsk_buf(Irp, Buffer); // rule V18
  return socket_disconnect(s, view_of(Buffer), (Flags & WSK_FLAG_ABORTIVE) ? op_flag::abortive : 0,
                           Irp);
}

NTSTATUS WSKAPI wsk_release_data(PWSK_SOCKET Socket, PWSK_DATA_INDICATION DataIndication) {
  socket_object *s = socket_of(Socket, "WskRelease");
  if (!category_has(s, connection_oriented, "WskRelease (data indications)")) {
    return STATUS_NOT_SUPPORTED;
  }
  return socket_release_data(s, DataIndication);
}

// ---- The tables
// ----------------------------------------------------------------------------------

#define UWSK_BASIC_ENTRIES                                                                         \
  {                                                                                                \
    { control_socket, wsk_close_socket }                                                           \
  }

const WSK_PROVIDER_BASIC_DISPATCH basic_dispatch = {control_socket, wsk_close_socket};

const WSK_PROVIDER_LISTEN_DISPATCH listen_dispatch = {
    UWSK_BASIC_ENTRIES, wsk_bind, wsk_accept, wsk_inspect_complete, wsk_get_local_address,
};

const WSK_PROVIDER_DATAGRAM_DISPATCH datagram_dispatch = {
    UWSK_BASIC_ENTRIES,    wsk_bind,      send_to, receive_from, release_datagram,
    wsk_get_local_address, send_messages,
};

const WSK_PROVIDER_CONNECTION_DISPATCH connection_dispatch = {
    UWSK_BASIC_ENTRIES,     wsk_bind,       wsk_connect, wsk_get_local_address,
    wsk_get_remote_address, wsk_send,       wsk_receive, wsk_disconnect,
    wsk_release_data,       wsk_connect_ex, wsk_send_ex, wsk_receive_ex,
};

const WSK_PROVIDER_STREAM_DISPATCH stream_dispatch = {
    UWSK_BASIC_ENTRIES,
    wsk_bind,
    wsk_accept,
    wsk_connect,
    wsk_listen,
    wsk_send,
    wsk_receive,
    wsk_disconnect,
    wsk_release_data,
    wsk_get_local_address,
    wsk_get_remote_address,
    wsk_connect_ex,
    wsk_send_ex,
    wsk_receive_ex,
};

#undef UWSK_BASIC_ENTRIES

} // namespace

extern const WSK_PROVIDER_DISPATCH provider_dispatch;
const WSK_PROVIDER_DISPATCH provider_dispatch = {
    MAKE_WSK_VERSION(1, 0),
    0,
    wsk_socket,
    wsk_socket_connect,
    control_client,
    get_address_info,
    free_address_info,
    get_name_info,
};

const void *untraced_client_dispatch() {
  return &provider_dispatch;
}

// While the call trace is on, clients and sockets get the traced tables (windows/trace.cpp).
const void *client_dispatch_table() {
  return nt::trace::on() ? traced_client_dispatch() : &provider_dispatch;
}

const void *provider_dispatch_for(category cat) {
  return nt::trace::on() ? traced_dispatch_for(cat) : untraced_dispatch_for(cat);
}

const void *untraced_dispatch_for(category cat) {
  switch (cat) {
  case category::basic:
    return &basic_dispatch;
  case category::listen:
    return &listen_dispatch;
  case category::connection:
    return &connection_dispatch;
  case category::datagram:
    return &datagram_dispatch;
  case category::stream:
    return &stream_dispatch;
  }
  return nullptr;
}

NTSTATUS socket_create(registration *reg, USHORT windows_family, USHORT type, ULONG protocol,
                       category cat, PVOID context, const void *client_dispatch, PIRP irp) {
  return create_and_complete(reg, windows_family, type, protocol, cat, context, client_dispatch,
                             nullptr, irp);
}

} // namespace uwsk::wsk

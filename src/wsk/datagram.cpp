// Datagram sockets, Windows half: WskSendTo, WskReceiveFrom, WskSendMessages and WskRelease of
// datagram indications. The work is in datagram_io.cpp.
#include <wsk.h>
#include <uwsk/log.h>

#include "wsk/core.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/socket_level.hpp"

namespace uwsk::wsk {

static_assert(sizeof(buffer_list_view) == sizeof(WSK_BUF_LIST),
              "buffer_list_view mirrors WSK_BUF_LIST");
static_assert(offsetof(buffer_list_view, next) == offsetof(WSK_BUF_LIST, Next), "next");
static_assert(offsetof(buffer_list_view, buffer) == offsetof(WSK_BUF_LIST, Buffer), "buffer");

namespace {

socket_object *datagram_socket(PWSK_SOCKET socket, const char *function) {
  auto *s = reinterpret_cast<socket_object *>(socket);
  if (!socket_is_valid(s) || socket_category(s) != category::datagram) {
    uwsk_log_message("wsk", "%s: %p is not an open WSK datagram socket", function,
                     static_cast<void *>(socket));
    KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, 0x2202, reinterpret_cast<ULONG_PTR>(socket), 0,
                 0);
  }
  return s;
}

NTSTATUS reject(PIRP irp, NTSTATUS status) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  return irp_complete(irp, status, 0);
}

} // namespace

// WskSendTo: one datagram, to RemoteAddress or the socket's fixed address.
NTSTATUS WSKAPI send_to(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
                        ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp) {
  socket_object *s = datagram_socket(Socket, "WskSendTo");
  if (Flags != 0 || Buffer == nullptr || (ControlInfoLength != 0 && ControlInfo == nullptr)) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  return socket_send_to(s, reinterpret_cast<const buffer_view *>(Buffer), RemoteAddress,
                        ControlInfoLength, ControlInfo, Irp);
}

// WskReceiveFrom: one datagram, with its source and control data.
NTSTATUS WSKAPI receive_from(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                             PSOCKADDR RemoteAddress, PULONG ControlLength, PCMSGHDR ControlInfo,
                             PULONG ControlFlags, PIRP Irp) {
  socket_object *s = datagram_socket(Socket, "WskReceiveFrom");
  if (Flags != 0 || Buffer == nullptr) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  // Without ControlLength, ControlInfo and ControlFlags are ignored (spec section 3.18).
  if (ControlLength == nullptr) {
    ControlInfo = nullptr;
    ControlFlags = nullptr;
  }
  return socket_receive_from(s, reinterpret_cast<const buffer_view *>(Buffer), RemoteAddress,
                             ControlLength, ControlInfo, ControlFlags, Irp);
}

// WskSendMessages: one datagram per WSK_BUF_LIST element, all to the same destination.
NTSTATUS WSKAPI send_messages(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,
                              PSOCKADDR RemoteAddress, ULONG ControlInfoLength,
                              PCMSGHDR ControlInfo, PIRP Irp) {
  socket_object *s = datagram_socket(Socket, "WskSendMessages");
  if (Flags != 0 || BufferList == nullptr || (ControlInfoLength != 0 && ControlInfo == nullptr)) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  return socket_send_messages(s, reinterpret_cast<const buffer_list_view *>(BufferList),
                              RemoteAddress, ControlInfoLength, ControlInfo, Irp);
}

// WskRelease of datagram indications a WskReceiveFromEvent handed out.
NTSTATUS WSKAPI release_datagram(PWSK_SOCKET Socket, PWSK_DATAGRAM_INDICATION DatagramIndication) {
  socket_object *s = datagram_socket(Socket, "WskRelease");
  return socket_release_datagrams(s, DatagramIndication);
}

} // namespace uwsk::wsk

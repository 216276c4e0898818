// Datagram sockets, Windows half: WskSendTo, WskReceiveFrom, WskSendMessages and WskRelease of
// datagram indications. The work is in linux/datagram.cpp.
#include <wsk.h>
#include <uwsk/log.h>

#include "nt/dbg/verifier.hpp"
#include "wsk/views.hpp"
#include "wsk/sockets.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/windows/socket_level.hpp"

namespace uwsk::wsk {

static_assert(sizeof(buffer_list_view) == sizeof(WSK_BUF_LIST),
              "buffer_list_view mirrors WSK_BUF_LIST");
static_assert(offsetof(buffer_list_view, next) == offsetof(WSK_BUF_LIST, Next), "next");
static_assert(offsetof(buffer_list_view, buffer) == offsetof(WSK_BUF_LIST, Buffer), "buffer");

namespace {

// A pointer that is not an open WSK socket is a verifier report and a bug check (rule V30).
socket_object *socket_of(PWSK_SOCKET socket, const char *function) {
  return socket_checked(socket, function);
}

// A socket of another category that reached a datagram function through a datagram table (a
// wrong cast, or a table kept from another socket): rule V36, STATUS_NOT_SUPPORTED.
bool is_datagram(const socket_object *s, const char *function) {
  if (socket_category(s) == category::datagram) {
    return true;
  }
  nt::verifier::warning(36,
                        "a socket was reached through the dispatch table of another category; "
                        "the call fails with STATUS_NOT_SUPPORTED",
                        nt::verifier::objects_text("%s: socket %p is not a datagram socket; it "
                                                   "was reached through a datagram socket's "
                                                   "dispatch table",
                                                   function, static_cast<const void *>(s)),
                        reinterpret_cast<ULONG_PTR>(s));
  return false;
}

// Flags of WskSendTo, WskReceiveFrom and WskSendMessages: reserved, must be 0 (rule V38).
bool flags_zero(ULONG flags, const char *function) {
  if (flags == 0) {
    return true;
  }
  nt::verifier::warning(
      38,
      "a reserved Flags parameter is not 0; the call fails with "
      "STATUS_INVALID_PARAMETER",
      nt::verifier::objects_text("%s: Flags 0x%lx", function, static_cast<unsigned long>(flags)));
  return false;
}

NTSTATUS reject(PIRP irp, NTSTATUS status) {
  if (!irp_enter(irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  return irp_complete(irp, status, 0);
}

} // namespace

// The checks run in windows/dispatch.cpp's order: the socket, the IRP, the category, Flags
// (reserved: 0, rule V38) and the pointers here; the WSK_BUF(s), the address's family and the state
// in linux/datagram.cpp, all before anything is sent or received.

// WskSendTo: one datagram, to RemoteAddress or the socket's fixed address.
NTSTATUS WSKAPI send_to(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
                        ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskSendTo");
  if (Irp != nullptr && !is_datagram(s, "WskSendTo")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  if (!flags_zero(Flags, "WskSendTo") || Buffer == nullptr ||
      (ControlInfoLength != 0 && ControlInfo == nullptr)) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  note_wsk_buf(Irp, Buffer); // rule V18
  nt::irp_buffers::note(Irp, ControlInfo, ControlInfoLength);
  return socket_send_to(s, reinterpret_cast<const buffer_view *>(Buffer), RemoteAddress,
                        ControlInfoLength, ControlInfo, Irp);
}

// WskReceiveFrom: one datagram, with its source and control data.
NTSTATUS WSKAPI receive_from(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                             PSOCKADDR RemoteAddress, PULONG ControlLength, PCMSGHDR ControlInfo,
                             PULONG ControlFlags, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskReceiveFrom");
  socket_check_out_address(s, RemoteAddress, "WskReceiveFrom");
  if (Irp != nullptr && !is_datagram(s, "WskReceiveFrom")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  if (!flags_zero(Flags, "WskReceiveFrom") || Buffer == nullptr) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  // Windows documents that without ControlLength, ControlInfo and ControlFlags are ignored.
  if (ControlLength == nullptr) {
    ControlInfo = nullptr;
    ControlFlags = nullptr;
  }
  note_wsk_buf(Irp, Buffer); // rule V18
  nt::irp_buffers::note(Irp, RemoteAddress, sizeof(SOCKADDR));
  nt::irp_buffers::note(Irp, ControlLength, sizeof(ULONG));
  nt::irp_buffers::note(Irp, ControlInfo, ControlLength != nullptr ? *ControlLength : 0);
  nt::irp_buffers::note(Irp, ControlFlags, sizeof(ULONG));
  return socket_receive_from(s, reinterpret_cast<const buffer_view *>(Buffer), RemoteAddress,
                             ControlLength, ControlInfo, ControlFlags, Irp);
}

// WskSendMessages: one datagram per WSK_BUF_LIST element, all to the same destination.
NTSTATUS WSKAPI send_messages(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,
                              PSOCKADDR RemoteAddress, ULONG ControlInfoLength,
                              PCMSGHDR ControlInfo, PIRP Irp) {
  socket_object *s = socket_of(Socket, "WskSendMessages");
  if (Irp != nullptr && !is_datagram(s, "WskSendMessages")) {
    return reject(Irp, STATUS_NOT_SUPPORTED);
  }
  if (!flags_zero(Flags, "WskSendMessages") || BufferList == nullptr ||
      (ControlInfoLength != 0 && ControlInfo == nullptr)) {
    return reject(Irp, STATUS_INVALID_PARAMETER);
  }
  return socket_send_messages(s, reinterpret_cast<const buffer_list_view *>(BufferList),
                              RemoteAddress, ControlInfoLength, ControlInfo, Irp);
}

// WskRelease of datagram indications a WskReceiveFromEvent handed out.
NTSTATUS WSKAPI release_datagram(PWSK_SOCKET Socket, PWSK_DATAGRAM_INDICATION DatagramIndication) {
  socket_object *s = socket_of(Socket, "WskRelease");
  if (!is_datagram(s, "WskRelease (datagram indications)")) {
    return STATUS_NOT_SUPPORTED;
  }
  return socket_release_datagrams(s, DatagramIndication);
}

} // namespace uwsk::wsk

// The socket functions the Windows half calls in the Linux half (linux/socket.cpp,
// linux/stream_*.cpp, linux/datagram.cpp): the WSK_SOCKET a client holds is the socket_object.
#pragma once

#include <cstddef>

#include <wdm.h>

#include "wsk/views.hpp"

namespace uwsk::wsk {

struct registration;
struct socket_object;

// The provider dispatch table of a category (windows/dispatch.cpp).
const void *provider_dispatch_for(category cat);

// ---- Client-level functions -------------------------------------------------------------

// WskSocket: validates and creates. `windows_family` etc. as the client passed them.
NTSTATUS socket_create(registration *reg, USHORT windows_family, USHORT type, ULONG protocol,
                       category cat, PVOID context, const void *client_dispatch, PIRP irp);

// WskSocketConnect: a connection socket, bound to `local` and connected to `remote` (both
// Windows SOCKADDRs).
NTSTATUS socket_connect_new(registration *reg, USHORT type, ULONG protocol, const void *local,
                            const void *remote, PVOID context, const void *client_dispatch,
                            PIRP irp);

// What the socket core calls in a category's code (linux/socket.hpp), and the one for `cat`
// (linux/categories.cpp; NULL for basic sockets).
struct socket_behaviour;
const socket_behaviour *behaviour_of(category cat);

// Creates the Linux socket and the object for a category (linux/socket.cpp); attaches it to a loop
// unless it is a basic socket.
NTSTATUS create_socket(registration *reg, USHORT windows_family, int type, int protocol,
                       category cat, PVOID context, const void *client_dispatch,
                       const socket_behaviour *behaviour, socket_object **out);

// ---- Socket functions (the WSK_SOCKET is the socket_object) --------------------------------

// Completes the IRP of a socket call that finished during the call (bind, the address queries,
// WskControlSocket) with `status` and `information`, and returns `status` (IRP policy rule 2).
// Under the pend fault (docs/faults.md) it may instead mark the IRP pending, complete it on the
// socket's loop thread and return STATUS_PENDING, as Windows may for any call that takes an IRP.
NTSTATUS socket_finish_call(socket_object *s, PIRP irp, NTSTATUS status, ULONG_PTR information);

NTSTATUS socket_close(socket_object *s, PIRP irp);
NTSTATUS socket_bind(socket_object *s, const void *local, ULONG flags, PIRP irp);
NTSTATUS socket_listen(socket_object *s, PIRP irp);
NTSTATUS socket_accept(socket_object *s, ULONG flags, PVOID accept_context,
                       const void *accept_dispatch, void *local_out, void *remote_out, PIRP irp);
NTSTATUS socket_connect(socket_object *s, const void *remote, const buffer_view *data, ULONG flags,
                        bool extended, PIRP irp);
NTSTATUS socket_get_local_address(socket_object *s, void *out, PIRP irp);
NTSTATUS socket_get_remote_address(socket_object *s, void *out, PIRP irp);
NTSTATUS socket_send(socket_object *s, const buffer_view *buffer, ULONG flags, PIRP irp);
NTSTATUS socket_receive(socket_object *s, const buffer_view *buffer, ULONG flags, PIRP irp);
NTSTATUS socket_disconnect(socket_object *s, const buffer_view *buffer, ULONG flags, PIRP irp);
// Datagram sockets. `remote` is a Windows SOCKADDR (NULL: the fixed address, if any);
// `control` Windows WSACMSGHDR objects.
NTSTATUS socket_send_to(socket_object *s, const buffer_view *buffer, const void *remote,
                        ULONG control_length, const void *control, PIRP irp);
NTSTATUS socket_receive_from(socket_object *s, const buffer_view *buffer, void *remote_out,
                             PULONG control_length, void *control, PULONG control_flags, PIRP irp);
NTSTATUS socket_send_messages(socket_object *s, const buffer_list_view *list, const void *remote,
                              ULONG control_length, const void *control, PIRP irp);
// WskRelease of a WSK_DATAGRAM_INDICATION list (no IRP).
NTSTATUS socket_release_datagrams(socket_object *s, const void *indication);
NTSTATUS socket_inspect_complete(socket_object *s, ULONG_PTR key, ULONG serial, bool accept,
                                 PIRP irp);
// WskRelease of a WSK_DATA_INDICATION list (no IRP).
NTSTATUS socket_release_data(socket_object *s, const void *indication);

// The category a socket was created with, and its client-side identity.
category socket_category(const socket_object *s);
bool socket_is_valid(const socket_object *s);
// The socket a client passed to `function` (WskSend, ...): a pointer that is not an open WSK
// socket (closed, or never created) is a verifier report and a bug check (rule V30). Closed
// sockets stay readable for a while (linux/socket.cpp, quarantine), so that the usual
// `Socket->Dispatch->WskSend(Socket, ...)` after a close is caught here rather than reading
// freed memory.
socket_object *socket_checked(void *socket, const char *function);
// Rule V40: an address out-buffer (`out`, not NULL) that the pool knows to be shorter than a
// SOCKADDR of the socket's family is a verifier error, before anything is written to it.
void socket_check_out_address(const socket_object *s, const void *out, const char *function);

// "socket 0x... (local A, remote B)" for a verifier report's objects line.
void describe_socket(const socket_object *s, char *out, std::size_t size);

// A verifier report's objects line about socket `s`: the printf-style `detail` when given, then
// describe_socket's text ("no socket yet" for NULL); socket_objects(s, "%s on ", function) reads
// "WskSend on socket 0x... (local A, remote B)". Longer text is cut.
struct socket_objects {
  char text[512];
  explicit socket_objects(const socket_object *s);
  socket_objects(const socket_object *s, const char *detail, ...)
      __attribute__((format(printf, 3, 4)));
  operator const char *() const { return text; }
};

// Rule V59 or V40 for an address a WSK function refused (wrong or unknown family): the provider's
// copy of a callback's address, kept by the client (rule V59, an error), or an address of
// another family than the socket's (rule V40, a warning; the caller returns the status).
void socket_report_bad_address(const socket_object *s, const void *address, const char *function);

// The socket an accept event refused (STATUS_REQUEST_NOT_ACCEPTED, or any failure): from now on
// every call on it is reported as rule V55, from every entry of its Dispatch table.
void socket_refuse(socket_object *s);

} // namespace uwsk::wsk

// Address sharing between the provider's own sockets: the matrix of docs/wsk-behaviour.md, "Address
// sharing", evaluated by the provider itself because Linux's SO_REUSEADDR and SO_REUSEPORT rules
// differ from Windows' SO_REUSEADDR and SO_EXCLUSIVEADDRUSE (Linux half; linux/sharing.cpp).
//
// How a bind uses it (WskBind, and the bind inside WskSocketConnect), with the socket's lock
// held so that its options do not change meanwhile:
//  1. check_address_sharing(s, address, length): evaluates the matrix against every binding of
//     the same socket type, port and address family, and fails with
//     STATUS_ADDRESS_ALREADY_EXISTS or STATUS_ACCESS_DENIED as the matrix says. On success it
//     reserves the address for `s` (so that a concurrent bind sees it) and sets the Linux options
//     Linux needs to accept what the matrix allowed.
//  2. The Linux bind(). On success sharing_register(s) records the address the kernel bound
//     (the chosen port, for port 0); on failure sharing_unregister(s) drops the reservation.
//  3. The socket's release calls sharing_unregister (release_control_state, wsk/control.hpp).
#pragma once

#include <sys/socket.h>

#include <wdm.h>

namespace uwsk::wsk {

struct socket_object;

NTSTATUS check_address_sharing(socket_object *s, const sockaddr *address, socklen_t length);
void sharing_register(socket_object *s);
void sharing_unregister(socket_object *s);

} // namespace uwsk::wsk

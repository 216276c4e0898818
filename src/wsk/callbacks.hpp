// The client's event callbacks, as the Linux half calls them (windows/events.cpp).
//
// The Linux half decides when a callback is due (linux/events.cpp) and calls these with no lock
// held, on the socket's loop thread. `cat` and `client_dispatch` are the socket's; for a stream
// socket the dispatch is a WSK_CLIENT_STREAM_DISPATCH, whose Listen or Connect table is used.
// Event bits are the WSK_EVENT_* values (win_constants.hpp has them for the Linux half).
#pragma once

#include <wdm.h>

#include "wsk/views.hpp"

namespace uwsk::wsk {

struct socket_object;

// Whether the client's table for `cat` has the callback of `event` (one WSK_EVENT_* bit).
bool client_has_callback(category cat, const void *client_dispatch, ULONG event);

// WskAcceptEvent. `local` and `remote` are Windows SOCKADDRs (NULL with a NULL socket).
NTSTATUS call_accept_event(category cat, const void *client_dispatch, PVOID context,
                           const void *local, const void *remote, socket_object *accepted,
                           PVOID *accepted_context, const void **accepted_dispatch);

// WskInspectEvent (inspect ID NULL when `dead`) and WskAbortEvent.
inspect_action call_inspect_event(category cat, const void *client_dispatch, PVOID context,
                                  const void *local, const void *remote, ULONG_PTR key,
                                  ULONG serial, bool dead);
NTSTATUS call_abort_event(category cat, const void *client_dispatch, PVOID context, ULONG_PTR key,
                          ULONG serial);

// WskReceiveEvent (indication NULL: the socket stopped working). `*accepted` is preset to
// `indicated` and comes back as the client left it.
NTSTATUS call_receive_event(category cat, const void *client_dispatch, PVOID context, ULONG flags,
                            data_indication_view *indication, SIZE_T indicated, SIZE_T *accepted);
NTSTATUS call_disconnect_event(category cat, const void *client_dispatch, PVOID context,
                               bool abortive);
NTSTATUS call_send_backlog_event(category cat, const void *client_dispatch, PVOID context,
                                 SIZE_T ideal_backlog);
NTSTATUS call_receive_from_event(const void *client_dispatch, PVOID context, ULONG flags,
                                 datagram_indication_view *indication);

} // namespace uwsk::wsk

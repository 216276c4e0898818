// The client's event callbacks, as the Linux half calls them (windows/events.cpp).
//
// The Linux half decides when a callback is due (linux/events.cpp) and calls these with no lock
// held, on the socket's loop thread. `cat` and `client_dispatch` are the socket's; for a stream
// socket the dispatch is a WSK_CLIENT_STREAM_DISPATCH, whose Listen or Connect table is used.
// Event bits are the WSK_EVENT_* values (win_constants.hpp has them for the Linux half).
#pragma once

#include <cstddef>

#include <wdm.h>

#include "wsk/views.hpp"

namespace uwsk::wsk {

struct socket_object;

// The byte the provider's copies of a callback's addresses and inspect ID are filled with once
// the callback returned (rules V57, V59): a WSK function given an address or inspect ID made of
// it was given a pointer the client kept from a callback.
inline constexpr unsigned char callback_poison = 0xCC;

// Whether `size` bytes at `p` are all callback_poison.
inline bool is_callback_poison(const void *p, std::size_t size) {
  const auto *b = static_cast<const unsigned char *>(p);
  for (std::size_t i = 0; i < size; ++i) {
    if (b[i] != callback_poison) {
      return false;
    }
  }
  return size != 0;
}

// Whether the client's table for `cat` has the callback of `event` (one WSK_EVENT_* bit).
bool client_has_callback(category cat, const void *client_dispatch, ULONG event);

// WskAcceptEvent. `local` and `remote` are Windows SOCKADDRs (NULL with a NULL socket).
NTSTATUS call_accept_event(category cat, const void *client_dispatch, PVOID context,
                           const void *local, const void *remote, socket_object *accepted,
                           PVOID *accepted_context, const void **accepted_dispatch);

// WskInspectEvent (inspect ID NULL when `dead`) and WskAbortEvent. The WSK_INSPECT_ID the client
// gets is written to `id_copy` (room for one; the listener's, poisoned by the caller afterwards).
inspect_action call_inspect_event(category cat, const void *client_dispatch, PVOID context,
                                  const void *local, const void *remote, void *id_copy,
                                  ULONG_PTR key, ULONG serial, bool dead);
NTSTATUS call_abort_event(category cat, const void *client_dispatch, PVOID context, void *id_copy,
                          ULONG_PTR key, ULONG serial);

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

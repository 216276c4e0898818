// SIO_ADDRESS_LIST_CHANGE (Linux half): IRPs parked until the address list of their socket's
// family changes, and the netlink route socket that tells. The Windows half (windows/control.cpp)
// has already checked the request; linux/control.cpp hands the IRP here.
//
// The watcher is a net::watcher on a loop of the provider's engine (provider_loop), opened with
// the first IRP and kept for the life of the process. Its reports, and the completion routines
// they run, are on that loop's thread, so provider_quiesce (the loader's unload barrier) waits
// for them like any socket's.
#pragma once

#include "wsk/linux/socket.hpp"

namespace uwsk::wsk {

// Parks the IRP until the address list of the socket's family changes (completing it with
// STATUS_SUCCESS), it is cancelled, or the socket is released (both STATUS_CANCELLED). Returns
// STATUS_PENDING, or STATUS_CANCELLED (without completing) for an IRP cancelled before it could
// be parked; the caller completes that one.
NTSTATUS address_watch_park(socket_object *s, PIRP irp);

// The socket's release: completes the IRPs it still has parked here with STATUS_CANCELLED.
void address_watch_release(socket_object *s);

} // namespace uwsk::wsk

// Socket-level WSK functions implemented outside windows/dispatch.cpp (Windows half):
// WskControlSocket (windows/control.cpp) and the datagram functions (windows/datagram.cpp). They
// have the exact PFN_WSK_* signatures and sit in the provider dispatch tables.
#pragma once

#include <wsk.h>

#include "nt/io/irp_buffers.hpp"

namespace uwsk::wsk {

// Rule V18: the memory a WSK_BUF describes (and its MDLs) belongs to the operation of `irp` until
// it completes (nt/io/irp_buffers.hpp rule 1). Called by the entry points before the core.
inline void note_wsk_buf(PIRP irp, const WSK_BUF *buffer) {
  if (irp != nullptr && buffer != nullptr) {
    nt::irp_buffers::note_mdl_chain(irp, buffer->Mdl, buffer->Offset, buffer->Length);
  }
}

NTSTATUS WSKAPI control_socket(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE RequestType,
                               ULONG ControlCode, ULONG Level, SIZE_T InputSize, PVOID InputBuffer,
                               SIZE_T OutputSize, PVOID OutputBuffer, SIZE_T *OutputSizeReturned,
                               PIRP Irp);

NTSTATUS WSKAPI send_to(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags, PSOCKADDR RemoteAddress,
                        ULONG ControlInfoLength, PCMSGHDR ControlInfo, PIRP Irp);

NTSTATUS WSKAPI receive_from(PWSK_SOCKET Socket, PWSK_BUF Buffer, ULONG Flags,
                             PSOCKADDR RemoteAddress, PULONG ControlLength, PCMSGHDR ControlInfo,
                             PULONG ControlFlags, PIRP Irp);

NTSTATUS WSKAPI release_datagram(PWSK_SOCKET Socket, PWSK_DATAGRAM_INDICATION DatagramIndication);

NTSTATUS WSKAPI send_messages(PWSK_SOCKET Socket, PWSK_BUF_LIST BufferList, ULONG Flags,
                              PSOCKADDR RemoteAddress, ULONG ControlInfoLength,
                              PCMSGHDR ControlInfo, PIRP Irp);

} // namespace uwsk::wsk

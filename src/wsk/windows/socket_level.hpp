// Socket-level WSK functions implemented outside windows/dispatch.cpp (Windows half):
// WskControlSocket (windows/control.cpp) and the datagram functions (windows/datagram.cpp). They
// have the exact PFN_WSK_* signatures and sit in the provider dispatch tables.
#pragma once

#include <wsk.h>

namespace uwsk::wsk {

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

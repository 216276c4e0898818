// Client-level WSK functions implemented outside windows/dispatch.cpp (Windows half):
// WskControlClient (windows/control_client.cpp) and name resolution (windows/name_resolution.cpp).
// They have the exact PFN_WSK_* signatures and sit in WSK_PROVIDER_DISPATCH.
#pragma once

#include <wsk.h>

namespace uwsk::wsk {

NTSTATUS WSKAPI control_client(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize,
                               PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer,
                               SIZE_T *OutputSizeReturned, PIRP Irp);

NTSTATUS WSKAPI get_address_info(PWSK_CLIENT Client, PUNICODE_STRING NodeName,
                                 PUNICODE_STRING ServiceName, ULONG NameSpace, GUID *Provider,
                                 PADDRINFOEXW Hints, PADDRINFOEXW *Result, PEPROCESS OwningProcess,
                                 PETHREAD OwningThread, PIRP Irp);

VOID WSKAPI free_address_info(PWSK_CLIENT Client, PADDRINFOEXW AddrInfo);

NTSTATUS WSKAPI get_name_info(PWSK_CLIENT Client, PSOCKADDR SockAddr, ULONG SockAddrLength,
                              PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName, ULONG Flags,
                              PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp);

} // namespace uwsk::wsk

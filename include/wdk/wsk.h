/*
 * wsk.h - uwsk: the Winsock Kernel (WSK) network programming interface.
 *
 * Types, constants, function-pointer types and dispatch tables of WSK (what each means is in
 * docs/wsk-behaviour.md), with the Windows names, member order and values. Every table is declared
 * in full; no member depends on NTDDI_VERSION, because the provider always fills every slot.
 *
 * The embedded basic table: in every socket provider table other than the basic one, the first
 * member is the basic table. Windows names it `Basic` in C++ and leaves it unnamed in C (a
 * Microsoft extension), so C drivers write d->WskCloseSocket and C++ drivers write
 * d->Basic.WskCloseSocket. Here both spellings work in both languages without -fms-extensions:
 * the first member is an anonymous union of the named `Basic` and an anonymous struct with the
 * same two members. Both views alias the same storage (asserted below), and because the two
 * structures have a common initial sequence, reading through either view is defined in C and
 * in C++.
 */
#ifndef UWSK_WDK_WSK_H
#define UWSK_WDK_WSK_H

#include "km/types.h"
#include "netioddk.h"
#include "ws2def.h"
#include "ws2ipdef.h"
/* The WDK's wsk.h includes mstcpip.h (and, through it, ip2string.h). */
#include "mstcpip.h"

UWSK_BEGIN_DECLS

/* Calling convention of every WSK function (docs/wsk-behaviour.md, "Source compatibility"). */
#define WSKAPI NTAPI

/* A socket object. Dispatch points to the provider table of the socket's category (section
 * 3.3). The provider allocates it on creation or acceptance and frees it on close. */
typedef struct _WSK_SOCKET {
  const VOID *Dispatch;
} WSK_SOCKET, *PWSK_SOCKET;

/* The client object is opaque (section 1.1). */
typedef PVOID PWSK_CLIENT;

/* The NPI identifier of WSK, {2227E803-8D8B-11D4-ABAD-009027719E09}. UNCONFIRMED: the value
 * is known from third-party code only (docs/wsk-behaviour.md, "Registration"). Providers compare it
 * by value. */
extern const NPIID NPI_WSK_INTERFACE_ID;

/* Versions: major in the high byte (section 1.3). */
#define MAKE_WSK_VERSION(Mj, Mn) ((USHORT)((Mj) << 8) | (USHORT)((Mn)&0xff))
#define WSK_MAJOR_VERSION(V) ((UCHAR)((V) >> 8))
#define WSK_MINOR_VERSION(V) ((UCHAR)(V))

typedef struct _WSK_PROVIDER_CHARACTERISTICS {
  USHORT HighestVersion;
  USHORT LowestVersion;
} WSK_PROVIDER_CHARACTERISTICS, *PWSK_PROVIDER_CHARACTERISTICS;

/* An element of the WSK_TRANSPORT_LIST_QUERY output (section 5.8). */
typedef struct _WSK_TRANSPORT {
  USHORT Version;
  USHORT SocketType;
  ULONG Protocol;
  ADDRESS_FAMILY AddressFamily;
  GUID ProviderId;
} WSK_TRANSPORT, *PWSK_TRANSPORT;

/* A byte range of an MDL chain: Length bytes starting Offset bytes into the first MDL, which
 * must contain the offset (section 5.1). */
typedef struct _WSK_BUF {
  PMDL Mdl;
  ULONG Offset;
  SIZE_T Length;
} WSK_BUF, *PWSK_BUF;

/* Received data on connection-oriented sockets, owned by the provider (section 5.2). */
typedef struct _WSK_DATA_INDICATION {
  struct _WSK_DATA_INDICATION *Next;
  WSK_BUF Buffer;
} WSK_DATA_INDICATION, *PWSK_DATA_INDICATION;

/* Received datagrams, owned by the provider (section 5.3). */
typedef struct _WSK_DATAGRAM_INDICATION {
  struct _WSK_DATAGRAM_INDICATION *Next;
  WSK_BUF Buffer;
  PCMSGHDR ControlInfo;
  ULONG ControlInfoLength;
  PSOCKADDR RemoteAddress;
} WSK_DATAGRAM_INDICATION, *PWSK_DATAGRAM_INDICATION;

/* Identifies a pending conditional-accept request by value, not by address (section 5.5). */
typedef struct _WSK_INSPECT_ID {
  ULONG_PTR Key;
  ULONG SerialNumber;
} WSK_INSPECT_ID, *PWSK_INSPECT_ID;

typedef enum {
  WskInspectReject,
  WskInspectAccept,
  WskInspectPend,
  WskInspectMax
} WSK_INSPECT_ACTION,
    *PWSK_INSPECT_ACTION;

/* Set in the Flags of an event callback made at DISPATCH_LEVEL. */
#define WSK_FLAG_AT_DISPATCH_LEVEL 0x00000008

/* Flags of WskReceiveEvent. */
#define WSK_FLAG_RELEASE_ASAP 0x00000002
#define WSK_FLAG_ENTIRE_MESSAGE 0x00000004

/* Flag of WskDisconnect and WskDisconnectEvent: abortive rather than graceful. */
#define WSK_FLAG_ABORTIVE 0x00000001

/* Socket categories: the Flags of WskSocket (section 3.1). */
#define WSK_FLAG_BASIC_SOCKET 0x00000000
#define WSK_FLAG_LISTEN_SOCKET 0x00000001
#define WSK_FLAG_CONNECTION_SOCKET 0x00000002
#define WSK_FLAG_DATAGRAM_SOCKET 0x00000004
#define WSK_FLAG_STREAM_SOCKET 0x00000008

/* Flags of WskSend. WSK_FLAG_OOB exists in the WDK header only; its semantics are UNCONFIRMED
 * (docs/wsk-behaviour.md, "Registration"). */
#define WSK_FLAG_OOB 0x00000001
#define WSK_FLAG_NODELAY 0x00000002

/* Flags of WskReceive. */
#define WSK_FLAG_WAITALL 0x00000002
#define WSK_FLAG_DRAIN 0x00000004

/* Client-level control codes of WskControlClient (section 7). */
#define WSK_TRANSPORT_LIST_QUERY 2
#define WSK_TRANSPORT_LIST_CHANGE 3
#define WSK_CACHE_SD 4
#define WSK_RELEASE_SD 5
#define WSK_TDI_DEVICENAME_MAPPING 6
#define WSK_SET_STATIC_EVENT_CALLBACKS 7
#define WSK_TDI_BEHAVIOR 8

#define WSK_TDI_BEHAVIOR_BYPASS_TDI 0x00000001

typedef struct _WSK_TDI_MAP {
  USHORT SocketType;
  ADDRESS_FAMILY AddressFamily;
  ULONG Protocol;
  PCWSTR TdiDeviceName;
} WSK_TDI_MAP, *PWSK_TDI_MAP;

typedef struct _WSK_TDI_MAP_INFO {
  const ULONG ElementCount;
  const WSK_TDI_MAP *Map;
} WSK_TDI_MAP_INFO, *PWSK_TDI_MAP_INFO;

/* Socket options specific to WSK, at level SOL_SOCKET (section 6.2). */
#define SO_WSK_SECURITY (WSK_SO_BASE + 1)
#define SO_WSK_EVENT_CALLBACK (WSK_SO_BASE + 2)

/* Event callbacks enabled or disabled with SO_WSK_EVENT_CALLBACK (section 4.10). */
#define WSK_EVENT_RECEIVE_FROM 0x00000100
#define WSK_EVENT_ACCEPT 0x00000200
#define WSK_EVENT_SEND_BACKLOG 0x00000010
#define WSK_EVENT_RECEIVE 0x00000040
#define WSK_EVENT_DISCONNECT 0x00000080
#define WSK_EVENT_DISABLE 0x80000000

typedef struct _WSK_EVENT_CALLBACK_CONTROL {
  PNPIID NpiId;
  ULONG EventMask;
} WSK_EVENT_CALLBACK_CONTROL, *PWSK_EVENT_CALLBACK_CONTROL;

/* Socket I/O control codes specific to WSK (section 6.5). SIO_WSK_SET_RECEIVE_EX_CALLBACK is
 * deliberately absent: its value is unknown (docs/wsk-behaviour.md, "Enabling and disabling
 * events"). */
#define SIO_WSK_SET_REMOTE_ADDRESS _WSAIOW(IOC_WSK, 0x1)
#define SIO_WSK_REGISTER_EXTENSION _WSAIORW(IOC_WSK, 0x2)
#define SIO_WSK_QUERY_IDEAL_SEND_BACKLOG _WSAIOR(IOC_WSK, 0x3)
#define SIO_WSK_QUERY_RECEIVE_BACKLOG _WSAIOR(IOC_WSK, 0x4)
#define SIO_WSK_QUERY_INSPECT_ID _WSAIOR(IOC_WSK, 0x5)
#define SIO_WSK_SET_SENDTO_ADDRESS _WSAIOW(IOC_WSK, 0x6)
#define SIO_WSK_SET_TCP_SILENT_MODE _WSAIO(IOC_WSK, 0x7)

typedef struct _WSK_EXTENSION_CONTROL_IN {
  PNPIID NpiId;
  PVOID ClientContext;
  const VOID *ClientDispatch;
} WSK_EXTENSION_CONTROL_IN, *PWSK_EXTENSION_CONTROL_IN;

typedef struct _WSK_EXTENSION_CONTROL_OUT {
  PVOID ProviderContext;
  const VOID *ProviderDispatch;
} WSK_EXTENSION_CONTROL_OUT, *PWSK_EXTENSION_CONTROL_OUT;

/* RequestType of WskControlSocket (section 5.6). */
typedef enum {
  WskSetOption,
  WskGetOption,
  WskIoctl,
  WskControlMax
} WSK_CONTROL_SOCKET_TYPE,
    *PWSK_CONTROL_SOCKET_TYPE;

/* One datagram per element, for WskSendMessages (section 5.4). */
typedef struct _WSK_BUF_LIST {
  struct _WSK_BUF_LIST *Next;
  WSK_BUF Buffer;
} WSK_BUF_LIST, *PWSK_BUF_LIST;

/* Event callbacks, implemented by the client (section 4). */
typedef struct _WSK_CLIENT_CONNECTION_DISPATCH WSK_CLIENT_CONNECTION_DISPATCH,
    *PWSK_CLIENT_CONNECTION_DISPATCH;

typedef NTSTATUS(WSKAPI *PFN_WSK_CLIENT_EVENT)(_In_opt_ PVOID ClientContext, _In_ ULONG EventType,
                                               _In_reads_bytes_opt_(InformationLength)
                                                   PVOID Information,
                                               _In_ SIZE_T InformationLength);

typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_FROM_EVENT)(_In_opt_ PVOID SocketContext, _In_ ULONG Flags,
                                                     _In_opt_ PWSK_DATAGRAM_INDICATION
                                                         DataIndication);

typedef NTSTATUS(WSKAPI *PFN_WSK_ACCEPT_EVENT)(
    _In_opt_ PVOID SocketContext, _In_ ULONG Flags, _In_ PSOCKADDR LocalAddress,
    _In_ PSOCKADDR RemoteAddress, _In_opt_ PWSK_SOCKET AcceptSocket,
    _Outptr_result_maybenull_ PVOID *AcceptSocketContext,
    _Outptr_result_maybenull_ const WSK_CLIENT_CONNECTION_DISPATCH **AcceptSocketDispatch);

typedef WSK_INSPECT_ACTION(WSKAPI *PFN_WSK_INSPECT_EVENT)(_In_opt_ PVOID SocketContext,
                                                          _In_ PSOCKADDR LocalAddress,
                                                          _In_ PSOCKADDR RemoteAddress,
                                                          _In_opt_ PWSK_INSPECT_ID InspectID);

typedef NTSTATUS(WSKAPI *PFN_WSK_ABORT_EVENT)(_In_opt_ PVOID SocketContext,
                                              _In_ PWSK_INSPECT_ID InspectID);

typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_BACKLOG_EVENT)(_In_opt_ PVOID SocketContext,
                                                     _In_ SIZE_T IdealBacklogSize);

typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_EVENT)(_In_opt_ PVOID SocketContext, _In_ ULONG Flags,
                                                _In_opt_ PWSK_DATA_INDICATION DataIndication,
                                                _In_ SIZE_T BytesIndicated,
                                                _Inout_ SIZE_T *BytesAccepted);

typedef NTSTATUS(WSKAPI *PFN_WSK_DISCONNECT_EVENT)(_In_opt_ PVOID SocketContext, _In_ ULONG Flags);

/* Reserved for system use in current documentation; signature from the 2018 reference page
 * (docs/wsk-behaviour.md, "Enabling and disabling events"). */
typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_EX_EVENT)(_In_opt_ PVOID SocketContext, _In_ ULONG Flags,
                                                   _In_opt_ PWSK_DATA_INDICATION DataIndication,
                                                   _In_opt_ PCMSGHDR ControlInfo,
                                                   _In_ ULONG ControlInfoLength,
                                                   _In_ SIZE_T BytesIndicated,
                                                   _Inout_ SIZE_T *BytesAccepted);

/* Client-level functions of the provider (section 2). */
typedef NTSTATUS(WSKAPI *PFN_WSK_SOCKET)(
    _In_ PWSK_CLIENT Client, _In_ ADDRESS_FAMILY AddressFamily, _In_ USHORT SocketType,
    _In_ ULONG Protocol, _In_ ULONG Flags, _In_opt_ PVOID SocketContext,
    _In_opt_ const VOID *Dispatch, _In_opt_ PEPROCESS OwningProcess, _In_opt_ PETHREAD OwningThread,
    _In_opt_ PSECURITY_DESCRIPTOR SecurityDescriptor, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_SOCKET_CONNECT)(
    _In_ PWSK_CLIENT Client, _In_ USHORT SocketType, _In_ ULONG Protocol,
    _In_ PSOCKADDR LocalAddress, _In_ PSOCKADDR RemoteAddress, _Reserved_ ULONG Flags,
    _In_opt_ PVOID SocketContext, _In_opt_ const WSK_CLIENT_CONNECTION_DISPATCH *Dispatch,
    _In_opt_ PEPROCESS OwningProcess, _In_opt_ PETHREAD OwningThread,
    _In_opt_ PSECURITY_DESCRIPTOR SecurityDescriptor, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_CONTROL_CLIENT)(
    _In_ PWSK_CLIENT Client, _In_ ULONG ControlCode, _In_ SIZE_T InputSize,
    _In_reads_bytes_opt_(InputSize) PVOID InputBuffer, _In_ SIZE_T OutputSize,
    _Out_writes_bytes_opt_(OutputSize) PVOID OutputBuffer, _Out_opt_ SIZE_T *OutputSizeReturned,
    _Inout_opt_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_GET_ADDRESS_INFO)(
    _In_ PWSK_CLIENT Client, _In_opt_ PUNICODE_STRING NodeName,
    _In_opt_ PUNICODE_STRING ServiceName, _In_opt_ ULONG NameSpace, _In_opt_ GUID *Provider,
    _In_opt_ PADDRINFOEXW Hints, _Outptr_ PADDRINFOEXW *Result, _In_opt_ PEPROCESS OwningProcess,
    _In_opt_ PETHREAD OwningThread, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_GET_NAME_INFO)(_In_ PWSK_CLIENT Client, _In_ PSOCKADDR SockAddr,
                                                _In_ ULONG SockAddrLength,
                                                _Out_opt_ PUNICODE_STRING NodeName,
                                                _Out_opt_ PUNICODE_STRING ServiceName,
                                                _In_ ULONG Flags, _In_opt_ PEPROCESS OwningProcess,
                                                _In_opt_ PETHREAD OwningThread, _Inout_ PIRP Irp);

typedef VOID(WSKAPI *PFN_WSK_FREE_ADDRESS_INFO)(_In_ PWSK_CLIENT Client,
                                                _In_ PADDRINFOEXW AddrInfo);

/* Socket-level functions of the provider (section 3). */
typedef NTSTATUS(WSKAPI *PFN_WSK_BIND)(_In_ PWSK_SOCKET Socket, _In_ PSOCKADDR LocalAddress,
                                       _Reserved_ ULONG Flags, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_CONNECT)(_In_ PWSK_SOCKET Socket, _In_ PSOCKADDR RemoteAddress,
                                          _Reserved_ ULONG Flags, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_CONNECT_EX)(_In_ PWSK_SOCKET Socket, _In_ PSOCKADDR RemoteAddress,
                                             _In_opt_ PWSK_BUF Buffer, _Reserved_ ULONG Flags,
                                             _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_CONTROL_SOCKET)(
    _In_ PWSK_SOCKET Socket, _In_ WSK_CONTROL_SOCKET_TYPE RequestType, _In_ ULONG ControlCode,
    _In_ ULONG Level, _In_ SIZE_T InputSize, _In_reads_bytes_opt_(InputSize) PVOID InputBuffer,
    _In_ SIZE_T OutputSize, _Out_writes_bytes_opt_(OutputSize) PVOID OutputBuffer,
    _Out_opt_ SIZE_T *OutputSizeReturned, _Inout_opt_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_CLOSE_SOCKET)(_In_ PWSK_SOCKET Socket, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_ACCEPT)(
    _In_ PWSK_SOCKET ListenSocket, _Reserved_ ULONG Flags, _In_opt_ PVOID AcceptSocketContext,
    _In_opt_ const WSK_CLIENT_CONNECTION_DISPATCH *AcceptSocketDispatch,
    _Out_opt_ PSOCKADDR LocalAddress, _Out_opt_ PSOCKADDR RemoteAddress, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_INSPECT_COMPLETE)(_In_ PWSK_SOCKET ListenSocket,
                                                   _In_ PWSK_INSPECT_ID InspectID,
                                                   _In_ WSK_INSPECT_ACTION Action,
                                                   _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_TO)(_In_ PWSK_SOCKET Socket, _In_ PWSK_BUF Buffer,
                                          _Reserved_ ULONG Flags, _In_opt_ PSOCKADDR RemoteAddress,
                                          _In_ ULONG ControlInfoLength,
                                          _In_reads_bytes_opt_(ControlInfoLength)
                                              PCMSGHDR ControlInfo,
                                          _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_MESSAGES)(
    _In_ PWSK_SOCKET Socket, _In_ PWSK_BUF_LIST BufferList, _Reserved_ ULONG Flags,
    _In_opt_ PSOCKADDR RemoteAddress, _In_ ULONG ControlInfoLength,
    _In_reads_bytes_opt_(ControlInfoLength) PCMSGHDR ControlInfo, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_FROM)(_In_ PWSK_SOCKET Socket, _In_ PWSK_BUF Buffer,
                                               _Reserved_ ULONG Flags,
                                               _Out_opt_ PSOCKADDR RemoteAddress,
                                               _Inout_ PULONG ControlLength,
                                               _Out_writes_bytes_opt_(*ControlLength)
                                                   PCMSGHDR ControlInfo,
                                               _Out_opt_ PULONG ControlFlags, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_GET_LOCAL_ADDRESS)(_In_ PWSK_SOCKET Socket,
                                                    _Out_ PSOCKADDR LocalAddress, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_GET_REMOTE_ADDRESS)(_In_ PWSK_SOCKET Socket,
                                                     _Out_ PSOCKADDR RemoteAddress,
                                                     _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_RELEASE_DATA_INDICATION_LIST)(
    _In_ PWSK_SOCKET Socket, _In_ PWSK_DATA_INDICATION DataIndication);

typedef NTSTATUS(WSKAPI *PFN_WSK_RELEASE_DATAGRAM_INDICATION_LIST)(
    _In_ PWSK_SOCKET Socket, _In_ PWSK_DATAGRAM_INDICATION DatagramIndication);

typedef NTSTATUS(WSKAPI *PFN_WSK_SEND)(_In_ PWSK_SOCKET Socket, _In_ PWSK_BUF Buffer,
                                       _In_ ULONG Flags, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE)(_In_ PWSK_SOCKET Socket, _In_ PWSK_BUF Buffer,
                                          _In_ ULONG Flags, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_DISCONNECT)(_In_ PWSK_SOCKET Socket, _In_opt_ PWSK_BUF Buffer,
                                             _In_ ULONG Flags, _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_LISTEN)(_In_ PWSK_SOCKET Socket, _Inout_ PIRP Irp);

/* Reserved for system use in current documentation; signatures from the 2018 reference pages
 * (docs/wsk-behaviour.md, "Enabling and disabling events"). */
typedef NTSTATUS(WSKAPI *PFN_WSK_SEND_EX)(_In_ PWSK_SOCKET Socket, _In_ PWSK_BUF Buffer,
                                          _In_ ULONG Flags, _In_ ULONG ControlInfoLength,
                                          _In_reads_bytes_opt_(ControlInfoLength)
                                              PCMSGHDR ControlInfo,
                                          _Inout_ PIRP Irp);

typedef NTSTATUS(WSKAPI *PFN_WSK_RECEIVE_EX)(_In_ PWSK_SOCKET Socket, _In_ PWSK_BUF Buffer,
                                             _In_ ULONG Flags, _Inout_opt_ PULONG ControlInfoLength,
                                             _Out_opt_ PCMSGHDR ControlInfo,
                                             _Reserved_ PULONG ControlFlags, _Inout_ PIRP Irp);

/* Client dispatch tables (section 4.1). Clients initialise them positionally. */
typedef struct _WSK_CLIENT_DISPATCH {
  USHORT Version;
  USHORT Reserved;
  PFN_WSK_CLIENT_EVENT WskClientEvent;
} WSK_CLIENT_DISPATCH, *PWSK_CLIENT_DISPATCH;

typedef struct _WSK_CLIENT_LISTEN_DISPATCH {
  PFN_WSK_ACCEPT_EVENT WskAcceptEvent;
  PFN_WSK_INSPECT_EVENT WskInspectEvent;
  PFN_WSK_ABORT_EVENT WskAbortEvent;
} WSK_CLIENT_LISTEN_DISPATCH, *PWSK_CLIENT_LISTEN_DISPATCH;

typedef struct _WSK_CLIENT_DATAGRAM_DISPATCH {
  PFN_WSK_RECEIVE_FROM_EVENT WskReceiveFromEvent;
} WSK_CLIENT_DATAGRAM_DISPATCH, *PWSK_CLIENT_DATAGRAM_DISPATCH;

struct _WSK_CLIENT_CONNECTION_DISPATCH {
  PFN_WSK_RECEIVE_EVENT WskReceiveEvent;
  PFN_WSK_DISCONNECT_EVENT WskDisconnectEvent;
  PFN_WSK_SEND_BACKLOG_EVENT WskSendBacklogEvent;
};

typedef struct _WSK_CLIENT_STREAM_DISPATCH {
  const WSK_CLIENT_LISTEN_DISPATCH *Listen;
  const WSK_CLIENT_CONNECTION_DISPATCH *Connect;
} WSK_CLIENT_STREAM_DISPATCH, *PWSK_CLIENT_STREAM_DISPATCH;

/* Provider dispatch tables (sections 2.1 and 3.3). */
typedef struct _WSK_PROVIDER_DISPATCH {
  USHORT Version;
  USHORT Reserved;
  PFN_WSK_SOCKET WskSocket;
  PFN_WSK_SOCKET_CONNECT WskSocketConnect;
  PFN_WSK_CONTROL_CLIENT WskControlClient;
  PFN_WSK_GET_ADDRESS_INFO WskGetAddressInfo;
  PFN_WSK_FREE_ADDRESS_INFO WskFreeAddressInfo;
  PFN_WSK_GET_NAME_INFO WskGetNameInfo;
} WSK_PROVIDER_DISPATCH, *PWSK_PROVIDER_DISPATCH;

typedef struct _WSK_PROVIDER_BASIC_DISPATCH {
  PFN_WSK_CONTROL_SOCKET WskControlSocket;
  PFN_WSK_CLOSE_SOCKET WskCloseSocket;
} WSK_PROVIDER_BASIC_DISPATCH, *PWSK_PROVIDER_BASIC_DISPATCH;

/* The embedded basic table, reachable as Basic.WskCloseSocket and as WskCloseSocket (see the
 * comment at the top of this file). Clang in C++ calls the nested anonymous struct an extension
 * even after __extension__; it is one that GCC and Clang both support. */
#define UWSK_WSK_EMBEDDED_BASIC_DISPATCH                                                           \
  union {                                                                                          \
    WSK_PROVIDER_BASIC_DISPATCH Basic;                                                             \
    __extension__ struct {                                                                         \
      PFN_WSK_CONTROL_SOCKET WskControlSocket;                                                     \
      PFN_WSK_CLOSE_SOCKET WskCloseSocket;                                                         \
    };                                                                                             \
  }

#if defined(__clang__) && defined(__cplusplus)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnested-anon-types"
#endif

typedef struct _WSK_PROVIDER_LISTEN_DISPATCH {
  UWSK_WSK_EMBEDDED_BASIC_DISPATCH;
  PFN_WSK_BIND WskBind;
  PFN_WSK_ACCEPT WskAccept;
  PFN_WSK_INSPECT_COMPLETE WskInspectComplete;
  PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
} WSK_PROVIDER_LISTEN_DISPATCH, *PWSK_PROVIDER_LISTEN_DISPATCH;

typedef struct _WSK_PROVIDER_DATAGRAM_DISPATCH {
  UWSK_WSK_EMBEDDED_BASIC_DISPATCH;
  PFN_WSK_BIND WskBind;
  PFN_WSK_SEND_TO WskSendTo;
  PFN_WSK_RECEIVE_FROM WskReceiveFrom;
  PFN_WSK_RELEASE_DATAGRAM_INDICATION_LIST WskRelease;
  PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
  PFN_WSK_SEND_MESSAGES WskSendMessages;
} WSK_PROVIDER_DATAGRAM_DISPATCH, *PWSK_PROVIDER_DATAGRAM_DISPATCH;

typedef struct _WSK_PROVIDER_CONNECTION_DISPATCH {
  UWSK_WSK_EMBEDDED_BASIC_DISPATCH;
  PFN_WSK_BIND WskBind;
  PFN_WSK_CONNECT WskConnect;
  PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
  PFN_WSK_GET_REMOTE_ADDRESS WskGetRemoteAddress;
  PFN_WSK_SEND WskSend;
  PFN_WSK_RECEIVE WskReceive;
  PFN_WSK_DISCONNECT WskDisconnect;
  PFN_WSK_RELEASE_DATA_INDICATION_LIST WskRelease;
  PFN_WSK_CONNECT_EX WskConnectEx;
  PFN_WSK_SEND_EX WskSendEx;
  PFN_WSK_RECEIVE_EX WskReceiveEx;
} WSK_PROVIDER_CONNECTION_DISPATCH, *PWSK_PROVIDER_CONNECTION_DISPATCH;

typedef struct _WSK_PROVIDER_STREAM_DISPATCH {
  UWSK_WSK_EMBEDDED_BASIC_DISPATCH;
  PFN_WSK_BIND WskBind;
  PFN_WSK_ACCEPT WskAccept;
  PFN_WSK_CONNECT WskConnect;
  PFN_WSK_LISTEN WskListen;
  PFN_WSK_SEND WskSend;
  PFN_WSK_RECEIVE WskReceive;
  PFN_WSK_DISCONNECT WskDisconnect;
  PFN_WSK_RELEASE_DATA_INDICATION_LIST WskRelease;
  PFN_WSK_GET_LOCAL_ADDRESS WskGetLocalAddress;
  PFN_WSK_GET_REMOTE_ADDRESS WskGetRemoteAddress;
  PFN_WSK_CONNECT_EX WskConnectEx;
  PFN_WSK_SEND_EX WskSendEx;
  PFN_WSK_RECEIVE_EX WskReceiveEx;
} WSK_PROVIDER_STREAM_DISPATCH, *PWSK_PROVIDER_STREAM_DISPATCH;

#if defined(__clang__) && defined(__cplusplus)
#pragma clang diagnostic pop
#endif
#undef UWSK_WSK_EMBEDDED_BASIC_DISPATCH

/* Registration (section 1). */
typedef struct _WSK_CLIENT_NPI {
  PVOID ClientContext;
  const WSK_CLIENT_DISPATCH *Dispatch;
} WSK_CLIENT_NPI, *PWSK_CLIENT_NPI;

typedef struct _WSK_PROVIDER_NPI {
  PWSK_CLIENT Client;
  const WSK_PROVIDER_DISPATCH *Dispatch;
} WSK_PROVIDER_NPI, *PWSK_PROVIDER_NPI;

/* Caller-allocated and opaque to the client; WskRegister initialises it (section 1.2). */
typedef struct _WSK_REGISTRATION {
  ULONGLONG ReservedRegistrationState;
  PVOID ReservedRegistrationContext;
  KSPIN_LOCK ReservedRegistrationLock;
} WSK_REGISTRATION, *PWSK_REGISTRATION;

/* Wait timeouts of WskCaptureProviderNPI, in milliseconds. */
#define WSK_NO_WAIT 0
#define WSK_INFINITE_WAIT 0xffffffff

_Must_inspect_result_ NTSTATUS WSKAPI WskRegister(_In_ PWSK_CLIENT_NPI WskClientNpi,
                                                  _Out_ PWSK_REGISTRATION WskRegistration);

_Must_inspect_result_ NTSTATUS WSKAPI WskCaptureProviderNPI(_In_ PWSK_REGISTRATION WskRegistration,
                                                            _In_ ULONG WaitTimeout,
                                                            _Out_ PWSK_PROVIDER_NPI WskProviderNpi);

VOID WSKAPI WskReleaseProviderNPI(_In_ PWSK_REGISTRATION WskRegistration);

_Must_inspect_result_ NTSTATUS WSKAPI
WskQueryProviderCharacteristics(_In_ PWSK_REGISTRATION WskRegistration,
                                _Out_ PWSK_PROVIDER_CHARACTERISTICS WskProviderCharacteristics);

VOID WSKAPI WskDeregister(_In_ PWSK_REGISTRATION WskRegistration);

UWSK_END_DECLS

/* x64 layouts (docs/wsk-behaviour.md, "Structures") and the table shapes ("Dispatch tables"). */
#define UWSK_WSK_SLOT(type, member, index)                                                         \
  UWSK_STATIC_ASSERT(offsetof(type, member) == (index) * sizeof(void *), #type "." #member)
#define UWSK_WSK_BASIC_ALIASES(type)                                                               \
  UWSK_STATIC_ASSERT(offsetof(type, Basic) == 0, #type ".Basic is first");                         \
  UWSK_STATIC_ASSERT(offsetof(type, WskControlSocket) == offsetof(type, Basic.WskControlSocket),   \
                     #type ".WskControlSocket aliases Basic");                                     \
  UWSK_STATIC_ASSERT(offsetof(type, WskCloseSocket) == offsetof(type, Basic.WskCloseSocket),       \
                     #type ".WskCloseSocket aliases Basic")

UWSK_STATIC_ASSERT(sizeof(WSK_SOCKET) == 8, "WSK_SOCKET is 8 bytes");
UWSK_STATIC_ASSERT(sizeof(WSK_PROVIDER_CHARACTERISTICS) == 4, "WSK_PROVIDER_CHARACTERISTICS");
UWSK_STATIC_ASSERT(sizeof(WSK_TRANSPORT) == 28, "WSK_TRANSPORT is 28 bytes");
UWSK_STATIC_ASSERT(offsetof(WSK_TRANSPORT, Protocol) == 4, "WSK_TRANSPORT.Protocol");
UWSK_STATIC_ASSERT(offsetof(WSK_TRANSPORT, AddressFamily) == 8, "WSK_TRANSPORT.AddressFamily");
UWSK_STATIC_ASSERT(offsetof(WSK_TRANSPORT, ProviderId) == 12, "WSK_TRANSPORT.ProviderId");
UWSK_STATIC_ASSERT(sizeof(WSK_BUF) == 24, "WSK_BUF is 24 bytes");
UWSK_STATIC_ASSERT(offsetof(WSK_BUF, Offset) == 8, "WSK_BUF.Offset");
UWSK_STATIC_ASSERT(offsetof(WSK_BUF, Length) == 16, "WSK_BUF.Length");
UWSK_STATIC_ASSERT(sizeof(WSK_DATA_INDICATION) == 32, "WSK_DATA_INDICATION is 32 bytes");
UWSK_STATIC_ASSERT(offsetof(WSK_DATA_INDICATION, Buffer) == 8, "WSK_DATA_INDICATION.Buffer");
UWSK_STATIC_ASSERT(sizeof(WSK_DATAGRAM_INDICATION) == 56, "WSK_DATAGRAM_INDICATION is 56 bytes");
UWSK_STATIC_ASSERT(offsetof(WSK_DATAGRAM_INDICATION, Buffer) == 8,
                   "WSK_DATAGRAM_INDICATION.Buffer");
UWSK_STATIC_ASSERT(offsetof(WSK_DATAGRAM_INDICATION, ControlInfo) == 32,
                   "WSK_DATAGRAM_INDICATION.ControlInfo");
UWSK_STATIC_ASSERT(offsetof(WSK_DATAGRAM_INDICATION, ControlInfoLength) == 40,
                   "WSK_DATAGRAM_INDICATION.ControlInfoLength");
UWSK_STATIC_ASSERT(offsetof(WSK_DATAGRAM_INDICATION, RemoteAddress) == 48,
                   "WSK_DATAGRAM_INDICATION.RemoteAddress");
UWSK_STATIC_ASSERT(sizeof(WSK_BUF_LIST) == 32, "WSK_BUF_LIST is 32 bytes");
UWSK_STATIC_ASSERT(offsetof(WSK_BUF_LIST, Buffer) == 8, "WSK_BUF_LIST.Buffer");
UWSK_STATIC_ASSERT(sizeof(WSK_INSPECT_ID) == 16, "WSK_INSPECT_ID is 16 bytes");
UWSK_STATIC_ASSERT(offsetof(WSK_INSPECT_ID, SerialNumber) == 8, "WSK_INSPECT_ID.SerialNumber");
UWSK_STATIC_ASSERT(sizeof(WSK_EVENT_CALLBACK_CONTROL) == 16, "WSK_EVENT_CALLBACK_CONTROL");
UWSK_STATIC_ASSERT(offsetof(WSK_EVENT_CALLBACK_CONTROL, EventMask) == 8,
                   "WSK_EVENT_CALLBACK_CONTROL.EventMask");
UWSK_STATIC_ASSERT(sizeof(WSK_EXTENSION_CONTROL_IN) == 24, "WSK_EXTENSION_CONTROL_IN");
UWSK_STATIC_ASSERT(sizeof(WSK_EXTENSION_CONTROL_OUT) == 16, "WSK_EXTENSION_CONTROL_OUT");
UWSK_STATIC_ASSERT(sizeof(WSK_TDI_MAP) == 16, "WSK_TDI_MAP is 16 bytes");
UWSK_STATIC_ASSERT(offsetof(WSK_TDI_MAP, TdiDeviceName) == 8, "WSK_TDI_MAP.TdiDeviceName");
UWSK_STATIC_ASSERT(sizeof(WSK_TDI_MAP_INFO) == 16, "WSK_TDI_MAP_INFO is 16 bytes");
UWSK_STATIC_ASSERT(sizeof(WSK_REGISTRATION) == 24, "WSK_REGISTRATION is 24 bytes");
UWSK_STATIC_ASSERT(sizeof(WSK_CLIENT_NPI) == 16, "WSK_CLIENT_NPI is 16 bytes");
UWSK_STATIC_ASSERT(sizeof(WSK_PROVIDER_NPI) == 16, "WSK_PROVIDER_NPI is 16 bytes");

UWSK_STATIC_ASSERT(sizeof(WSK_CLIENT_DISPATCH) == 16, "WSK_CLIENT_DISPATCH is 16 bytes");
UWSK_STATIC_ASSERT(offsetof(WSK_CLIENT_DISPATCH, Reserved) == 2, "WSK_CLIENT_DISPATCH.Reserved");
UWSK_WSK_SLOT(WSK_CLIENT_DISPATCH, WskClientEvent, 1);
UWSK_STATIC_ASSERT(sizeof(WSK_CLIENT_LISTEN_DISPATCH) == 24, "WSK_CLIENT_LISTEN_DISPATCH");
UWSK_WSK_SLOT(WSK_CLIENT_LISTEN_DISPATCH, WskAcceptEvent, 0);
UWSK_WSK_SLOT(WSK_CLIENT_LISTEN_DISPATCH, WskInspectEvent, 1);
UWSK_WSK_SLOT(WSK_CLIENT_LISTEN_DISPATCH, WskAbortEvent, 2);
UWSK_STATIC_ASSERT(sizeof(WSK_CLIENT_DATAGRAM_DISPATCH) == 8, "WSK_CLIENT_DATAGRAM_DISPATCH");
UWSK_STATIC_ASSERT(sizeof(WSK_CLIENT_CONNECTION_DISPATCH) == 24, "WSK_CLIENT_CONNECTION_DISPATCH");
UWSK_WSK_SLOT(WSK_CLIENT_CONNECTION_DISPATCH, WskReceiveEvent, 0);
UWSK_WSK_SLOT(WSK_CLIENT_CONNECTION_DISPATCH, WskDisconnectEvent, 1);
UWSK_WSK_SLOT(WSK_CLIENT_CONNECTION_DISPATCH, WskSendBacklogEvent, 2);
UWSK_STATIC_ASSERT(sizeof(WSK_CLIENT_STREAM_DISPATCH) == 16, "WSK_CLIENT_STREAM_DISPATCH");
UWSK_WSK_SLOT(WSK_CLIENT_STREAM_DISPATCH, Connect, 1);

UWSK_STATIC_ASSERT(sizeof(WSK_PROVIDER_DISPATCH) == 56, "WSK_PROVIDER_DISPATCH is 56 bytes");
UWSK_WSK_SLOT(WSK_PROVIDER_DISPATCH, WskSocket, 1);
UWSK_WSK_SLOT(WSK_PROVIDER_DISPATCH, WskSocketConnect, 2);
UWSK_WSK_SLOT(WSK_PROVIDER_DISPATCH, WskControlClient, 3);
UWSK_WSK_SLOT(WSK_PROVIDER_DISPATCH, WskGetAddressInfo, 4);
UWSK_WSK_SLOT(WSK_PROVIDER_DISPATCH, WskFreeAddressInfo, 5);
UWSK_WSK_SLOT(WSK_PROVIDER_DISPATCH, WskGetNameInfo, 6);

UWSK_STATIC_ASSERT(sizeof(WSK_PROVIDER_BASIC_DISPATCH) == 16, "WSK_PROVIDER_BASIC_DISPATCH");
UWSK_WSK_SLOT(WSK_PROVIDER_BASIC_DISPATCH, WskCloseSocket, 1);

UWSK_WSK_BASIC_ALIASES(WSK_PROVIDER_LISTEN_DISPATCH);
UWSK_STATIC_ASSERT(sizeof(WSK_PROVIDER_LISTEN_DISPATCH) == 6 * sizeof(void *),
                   "WSK_PROVIDER_LISTEN_DISPATCH has 6 slots");
UWSK_WSK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, WskCloseSocket, 1);
UWSK_WSK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, WskBind, 2);
UWSK_WSK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, WskAccept, 3);
UWSK_WSK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, WskInspectComplete, 4);
UWSK_WSK_SLOT(WSK_PROVIDER_LISTEN_DISPATCH, WskGetLocalAddress, 5);

UWSK_WSK_BASIC_ALIASES(WSK_PROVIDER_DATAGRAM_DISPATCH);
UWSK_STATIC_ASSERT(sizeof(WSK_PROVIDER_DATAGRAM_DISPATCH) == 8 * sizeof(void *),
                   "WSK_PROVIDER_DATAGRAM_DISPATCH has 8 slots");
UWSK_WSK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskBind, 2);
UWSK_WSK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskSendTo, 3);
UWSK_WSK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskReceiveFrom, 4);
UWSK_WSK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskRelease, 5);
UWSK_WSK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskGetLocalAddress, 6);
UWSK_WSK_SLOT(WSK_PROVIDER_DATAGRAM_DISPATCH, WskSendMessages, 7);

UWSK_WSK_BASIC_ALIASES(WSK_PROVIDER_CONNECTION_DISPATCH);
UWSK_STATIC_ASSERT(sizeof(WSK_PROVIDER_CONNECTION_DISPATCH) == 13 * sizeof(void *),
                   "WSK_PROVIDER_CONNECTION_DISPATCH has 13 slots");
UWSK_WSK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskBind, 2);
UWSK_WSK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskConnect, 3);
UWSK_WSK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskGetLocalAddress, 4);
UWSK_WSK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskGetRemoteAddress, 5);
UWSK_WSK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskSend, 6);
UWSK_WSK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskReceive, 7);
UWSK_WSK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskDisconnect, 8);
UWSK_WSK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskRelease, 9);
UWSK_WSK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskConnectEx, 10);
UWSK_WSK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskSendEx, 11);
UWSK_WSK_SLOT(WSK_PROVIDER_CONNECTION_DISPATCH, WskReceiveEx, 12);

UWSK_WSK_BASIC_ALIASES(WSK_PROVIDER_STREAM_DISPATCH);
UWSK_STATIC_ASSERT(sizeof(WSK_PROVIDER_STREAM_DISPATCH) == 15 * sizeof(void *),
                   "WSK_PROVIDER_STREAM_DISPATCH has 15 slots");
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskBind, 2);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskAccept, 3);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskConnect, 4);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskListen, 5);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskSend, 6);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskReceive, 7);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskDisconnect, 8);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskRelease, 9);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskGetLocalAddress, 10);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskGetRemoteAddress, 11);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskConnectEx, 12);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskSendEx, 13);
UWSK_WSK_SLOT(WSK_PROVIDER_STREAM_DISPATCH, WskReceiveEx, 14);

UWSK_STATIC_ASSERT(MAKE_WSK_VERSION(1, 0) == 0x0100, "MAKE_WSK_VERSION(1,0)");
UWSK_STATIC_ASSERT(SIO_WSK_SET_REMOTE_ADDRESS == 0x8F000001u, "SIO_WSK_SET_REMOTE_ADDRESS");
UWSK_STATIC_ASSERT(SIO_WSK_SET_TCP_SILENT_MODE == 0x2F000007u, "SIO_WSK_SET_TCP_SILENT_MODE");

#undef UWSK_WSK_SLOT
#undef UWSK_WSK_BASIC_ALIASES

#endif /* UWSK_WDK_WSK_H */

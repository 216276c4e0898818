/*
 * conf.h - the support library of the WSK conformance drivers (see docs/conformance.md).
 *
 * A conformance driver does its work in DriverEntry: ConfBegin reads the harness's parameters
 * from the service's Parameters key, registers with WSK and opens the command channel; the
 * driver runs its checks; ConfEnd releases everything and returns STATUS_UNSUCCESSFUL when any
 * check failed. Every check prints one line, "conf: PASS <scope> <name>" or
 * "conf: FAIL <scope> <name>: <what was expected and what came>", which the harness scans.
 *
 * Only WDK interfaces are used, so the drivers read as Windows drivers; uwsk/status.h is used
 * for status names when it is there.
 */
#ifndef CONF_H
#define CONF_H

#include <ntddk.h>
#include <ntstrsafe.h>
#include <string.h>
#include <wsk.h>

#define CONF_TIMEOUT_MS 5000   /* every wait for a completion is bounded by this */
#define CONF_POISON 0xdeadbeef /* outputs are preset to this before each call */
#define CONF_TAG 'fnoC'
#define CONF_ANY_INFORMATION ((ULONG_PTR)-2) /* ConfExpectCall: Information is not checked */
#define CONF_FNV_START 2166136261u

/* The two families the harness serves, as it names them (4: 127.0.0.1, 6: ::1). */
#define CONF_FAMILY_COUNT 2
extern const ULONG ConfFamilies[CONF_FAMILY_COUNT];
#define CONF_INDEX(family) ((family) == 6 ? 1 : 0)

/* ---- Known provider bugs ---------------------------------------------------------------------
 * Each is 1 while the provider has the bug: the check it breaks is skipped with a KNOWN-BUG line
 * (CONF_KNOWN_BUG). Set it to 0 once the provider is fixed, and the check runs again. */

/* WskCloseSocket of a connection that was not disconnected sends a FIN, not a reset (Windows
 * documents such a close as an abortive disconnect). */
#define CONF_BUG_CLOSE_NOT_ABORTIVE 0
/* A socket bound with port 0 cannot share its address with a later bind the matrix of
 * docs/wsk-behaviour.md, "Address sharing", allows: it never got SO_REUSEPORT, so Linux refuses the
 * second bind (src/wsk/linux/sharing.cpp sets the option only when the bind names a port). */
#define CONF_BUG_PORT0_SHARING 0
/* WSK_SET_STATIC_EVENT_CALLBACKS is accepted again once every socket of the client was closed:
 * the provider counts the sockets alive (src/wsk/windows/control_client.cpp, before_sockets tests
 * reg->sockets), where Windows allows the call only before the client creates any socket. */
#define CONF_BUG_STATIC_EVENTS_AFTER_CLOSE 0

/* ---- Parameters (the service's Parameters key, written by the harness) ---------------------- */

typedef struct _CONF_PARAMS {
  ULONG CommandPort;
  ULONG EchoPort[CONF_FAMILY_COUNT];
  ULONG SinkPort[CONF_FAMILY_COUNT];
  ULONG PatternPort[CONF_FAMILY_COUNT];
  ULONG ResetPort[CONF_FAMILY_COUNT];
  ULONG RefusedPort[CONF_FAMILY_COUNT];
  ULONG UdpEchoPort[CONF_FAMILY_COUNT];
  ULONG PatternLength;
} CONF_PARAMS;
extern CONF_PARAMS ConfParams;

/* ---- A run ----------------------------------------------------------------------------------- */

extern WSK_REGISTRATION ConfRegistration;
extern WSK_PROVIDER_NPI ConfNpi;

NTSTATUS ConfBegin(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath, const char *Area);
NTSTATUS ConfEnd(void);

/* ---- Checks ---------------------------------------------------------------------------------- */

/* Names the current group of checks ("v6 accept"); printed before each check name. */
void ConfScope(const char *Format, ...);
/* Records one check: PASS when Ok, else FAIL with the formatted explanation. Returns Ok. */
BOOLEAN ConfCheck(BOOLEAN Ok, const char *Name, const char *Format, ...);
BOOLEAN ConfExpectStatus(const char *Name, NTSTATUS Expected, NTSTATUS Actual);
BOOLEAN ConfExpectValue(const char *Name, ULONGLONG Expected, ULONGLONG Actual);
BOOLEAN ConfExpectTrue(const char *Name, BOOLEAN Value);
/* A check that would fail because of a known provider bug: skipped, with a line saying so. */
void ConfKnownBug(const char *Name, const char *Why);
#define CONF_KNOWN_BUG(name, why) ConfKnownBug((name), (why))
/* Writes "STATUS_X (0x...)" or the hex value. */
const char *ConfStatusText(NTSTATUS Status, char *Text, SIZE_T Size);
void ConfLog(const char *Format, ...);
ULONG ConfFailureCount(void);

/* ---- IRP-based calls ------------------------------------------------------------------------- */

/* One IRP, reused for call after call: ConfIrp re-initialises it (IoReuseIrp), presets
 * IoStatus to 0xdeadbeef and sets the completion routine, which signals Done and returns
 * STATUS_MORE_PROCESSING_REQUIRED. */
typedef struct _CONF_CALL {
  PIRP Irp;
  KEVENT Done;
  NTSTATUS Returned;         /* what the WSK function returned */
  BOOLEAN CompletedAtReturn; /* whether the completion routine had run when it returned */
  BOOLEAN Lost;              /* the IRP never completed: it must not be freed */
} CONF_CALL;

BOOLEAN ConfCallInit(CONF_CALL *Call);
PIRP ConfIrp(CONF_CALL *Call);
/* Records what the function returned: ConfReturned(&c, d->WskBind(s, a, 0, ConfIrp(&c))). */
NTSTATUS ConfReturned(CONF_CALL *Call, NTSTATUS Returned);
/* Waits (bounded) for the completion; the IRP's final status, or STATUS_TIMEOUT. A call that
 * does not complete is cancelled, and waited for once more. */
NTSTATUS ConfWait(CONF_CALL *Call);
BOOLEAN ConfCompleted(CONF_CALL *Call);
void ConfCallFree(CONF_CALL *Call);

/* Waits, then checks the IRP contract: the final status is Expected; the returned status is the
 * final one or STATUS_PENDING; a call that did not return STATUS_PENDING had completed the IRP
 * before returning and left PendingReturned FALSE, one that did return it completes with
 * PendingReturned TRUE; Information is ExpectedInformation (unless CONF_ANY_INFORMATION). */
BOOLEAN ConfExpectCall(CONF_CALL *Call, const char *Name, NTSTATUS Expected,
                       ULONG_PTR ExpectedInformation);
/* ConfExpectCall, and the call must have completed before returning (no STATUS_PENDING). */
BOOLEAN ConfExpectCallNow(CONF_CALL *Call, const char *Name, NTSTATUS Expected,
                          ULONG_PTR ExpectedInformation);
/* The call must have returned STATUS_PENDING and not completed yet (checked at once). */
BOOLEAN ConfExpectPending(CONF_CALL *Call, const char *Name);

/* ---- Addresses ------------------------------------------------------------------------------- */

typedef union _CONF_ADDR {
  SOCKADDR Sa;
  SOCKADDR_IN V4;
  SOCKADDR_IN6 V6;
  SOCKADDR_STORAGE Storage;
} CONF_ADDR;

ADDRESS_FAMILY ConfAf(ULONG Family);
void ConfLoopback(CONF_ADDR *Address, ULONG Family, USHORT Port);
void ConfWildcard(CONF_ADDR *Address, ULONG Family, USHORT Port);
void ConfMappedLoopback(CONF_ADDR *Address, USHORT Port); /* ::ffff:127.0.0.1 */
USHORT ConfPort(const CONF_ADDR *Address);
BOOLEAN ConfIsLoopback(const CONF_ADDR *Address, ULONG Family);
BOOLEAN ConfIsMappedLoopback(const CONF_ADDR *Address);
void ConfPoison(PVOID Buffer, SIZE_T Size);
/* Whether [Buffer, Buffer + Size) still holds what ConfPoison wrote at Offset onwards of the
 * poisoned block. */
BOOLEAN ConfIsPoisoned(const VOID *Buffer, SIZE_T Offset, SIZE_T Size);

/* ---- Sockets --------------------------------------------------------------------------------- */

/* The provider functions of a socket, by the category it was created with (NULL where the
 * category's table has no such member); the accepted sockets are connection sockets. */
typedef struct _CONF_OPS {
  PFN_WSK_CONTROL_SOCKET Control;
  PFN_WSK_CLOSE_SOCKET Close;
  PFN_WSK_BIND Bind;
  PFN_WSK_LISTEN Listen;
  PFN_WSK_ACCEPT Accept;
  PFN_WSK_CONNECT Connect;
  PFN_WSK_CONNECT_EX ConnectEx;
  PFN_WSK_GET_LOCAL_ADDRESS GetLocalAddress;
  PFN_WSK_GET_REMOTE_ADDRESS GetRemoteAddress;
  PFN_WSK_SEND Send;
  PFN_WSK_RECEIVE Receive;
  PFN_WSK_DISCONNECT Disconnect;
  PFN_WSK_SEND_TO SendTo;
  PFN_WSK_RECEIVE_FROM ReceiveFrom;
  PFN_WSK_SEND_MESSAGES SendMessages;
} CONF_OPS;
CONF_OPS ConfOps(PWSK_SOCKET Socket, ULONG Category);

/* WskSocket with a check of its success; NULL when it failed. */
PWSK_SOCKET ConfSocket(const char *Name, ULONG Family, USHORT Type, ULONG Protocol, ULONG Category);
/* WskCloseSocket, checked (it always succeeds). Ignores NULL. */
void ConfClose(const char *Name, PWSK_SOCKET Socket);
/* WskBind, checked against Expected (Information 0). */
BOOLEAN ConfBind(const char *Name, PWSK_SOCKET Socket, const CONF_ADDR *Address, NTSTATUS Expected);
/* WskGetLocalAddress, checked to succeed; the port, 0 on failure. */
USHORT ConfLocalPort(PWSK_SOCKET Socket, ULONG Category, CONF_ADDR *Address);
/* A ULONG option with an IRP (WskSetOption); returns the IRP's final status. */
NTSTATUS ConfSetOption(PWSK_SOCKET Socket, ULONG Level, ULONG Name, ULONG Value);
NTSTATUS ConfGetOption(PWSK_SOCKET Socket, ULONG Level, ULONG Name, ULONG *Value);
/* A connection (or stream) socket bound to loopback and connected to loopback:Port; NULL (after
 * failed checks) when that did not work. */
PWSK_SOCKET ConfConnected(const char *Name, ULONG Family, ULONG Category, USHORT Port);
/* WskSend of Length bytes, checked to send them all. */
BOOLEAN ConfSendAll(const char *Name, PWSK_SOCKET Socket, ULONG Category, const VOID *Data,
                    SIZE_T Length);
/* WskReceive until Length bytes arrived (or the connection ended or failed); the count. */
SIZE_T ConfReceiveAll(PWSK_SOCKET Socket, ULONG Category, PVOID Data, SIZE_T Length,
                      NTSTATUS *LastStatus);

/* A buffer in non-paged pool with its MDL and WSK_BUF. */
typedef struct _CONF_BUFFER {
  PUCHAR Data;
  SIZE_T Size;
  PMDL Mdl;
  WSK_BUF Wsk;
} CONF_BUFFER;
BOOLEAN ConfBufferInit(CONF_BUFFER *Buffer, SIZE_T Size);
void ConfBufferFree(CONF_BUFFER *Buffer);

/* ---- Data ------------------------------------------------------------------------------------ */

UCHAR ConfPatternByte(ULONGLONG Index); /* byte Index of what the pattern peer sends */
ULONG ConfFnv(ULONG Hash, const VOID *Data, SIZE_T Length);
void ConfHexEncode(const VOID *Data, SIZE_T Length, char *Text, SIZE_T TextSize);
SIZE_T ConfHexDecode(const char *Text, PUCHAR Data, SIZE_T Size);

/* ---- The command channel --------------------------------------------------------------------- */

/* Sends one request line (formatted) and reads the answer into Reply; TRUE when it is "OK". */
BOOLEAN ConfCommand(char *Reply, SIZE_T ReplySize, const char *Format, ...);
/* Field Index (0: the first word after OK/ERR) of an answer, as a number or as text. */
ULONG ConfField(const char *Reply, ULONG Index);
const char *ConfFieldText(const char *Reply, ULONG Index, char *Text, SIZE_T TextSize);

#endif /* CONF_H */

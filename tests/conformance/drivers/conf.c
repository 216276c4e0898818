/*
 * conf.c - the support library of the WSK conformance drivers: parameters, checks, IRP-based
 * calls, addresses, sockets, buffers and the command channel. See conf.h.
 */
#include "conf.h"

#include <stdarg.h>

#if defined(UWSK_WDK_NTDEF_H)
#include <uwsk/status.h> /* status names in the messages; absent on Windows */
#define CONF_HAVE_STATUS_NAMES 1
#endif

const ULONG ConfFamilies[CONF_FAMILY_COUNT] = {4, 6};
CONF_PARAMS ConfParams;
WSK_REGISTRATION ConfRegistration;
WSK_PROVIDER_NPI ConfNpi;

static const WSK_CLIENT_DISPATCH ConfClientDispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

static const char *ConfArea = "?";
static char ConfScopeText[96];
static volatile LONG ConfChecks;
static volatile LONG ConfFailures;
static volatile LONG ConfKnownBugs;
static BOOLEAN ConfRegistered;
static BOOLEAN ConfCaptured;

/* The command channel: a connection socket to the harness, and what was read past a line. */
static PWSK_SOCKET ConfCommandSocket;
static CONF_CALL ConfCommandCall;
static char ConfCommandPending[4096];
static SIZE_T ConfCommandPendingLength;

/* ---- Messages -------------------------------------------------------------------------------- */

const char *ConfStatusText(NTSTATUS Status, char *Text, SIZE_T Size) {
#ifdef CONF_HAVE_STATUS_NAMES
  return uwsk_status_describe(Status, Text, Size);
#else
  RtlStringCbPrintfA(Text, Size, "0x%08lX", (ULONG)Status);
  return Text;
#endif
}

void ConfLog(const char *Format, ...) {
  char line[512];
  va_list args;
  va_start(args, Format);
  RtlStringCbVPrintfA(line, sizeof(line), Format, args);
  va_end(args);
  DbgPrint("conf: %s\n", line);
}

void ConfScope(const char *Format, ...) {
  va_list args;
  va_start(args, Format);
  RtlStringCbVPrintfA(ConfScopeText, sizeof(ConfScopeText), Format, args);
  va_end(args);
}

BOOLEAN ConfCheck(BOOLEAN Ok, const char *Name, const char *Format, ...) {
  InterlockedIncrement(&ConfChecks);
  if (Ok) {
    DbgPrint("conf: PASS %s %s\n", ConfScopeText, Name);
    return TRUE;
  }
  char why[384];
  va_list args;
  va_start(args, Format);
  RtlStringCbVPrintfA(why, sizeof(why), Format, args);
  va_end(args);
  InterlockedIncrement(&ConfFailures);
  DbgPrint("conf: FAIL %s %s: %s\n", ConfScopeText, Name, why);
  return FALSE;
}

BOOLEAN ConfExpectStatus(const char *Name, NTSTATUS Expected, NTSTATUS Actual) {
  char expected[96];
  char actual[96];
  return ConfCheck(Expected == Actual, Name, "expected %s, got %s",
                   ConfStatusText(Expected, expected, sizeof(expected)),
                   ConfStatusText(Actual, actual, sizeof(actual)));
}

BOOLEAN ConfExpectValue(const char *Name, ULONGLONG Expected, ULONGLONG Actual) {
  return ConfCheck(Expected == Actual, Name, "expected %llu (0x%llX), got %llu (0x%llX)", Expected,
                   Expected, Actual, Actual);
}

BOOLEAN ConfExpectTrue(const char *Name, BOOLEAN Value) {
  return ConfCheck(Value, Name, "the condition does not hold");
}

void ConfKnownBug(const char *Name, const char *Why) {
  InterlockedIncrement(&ConfKnownBugs);
  DbgPrint("conf: KNOWN-BUG %s %s: skipped (%s)\n", ConfScopeText, Name, Why);
}

/* A precondition of the test itself (an allocation): silent unless it fails. */
static BOOLEAN ConfRequire(BOOLEAN Ok, const char *What) {
  return Ok ? TRUE : ConfCheck(FALSE, What, "failed");
}

ULONG ConfFailureCount(void) {
  return (ULONG)ConfFailures;
}

/* ---- IRP-based calls ------------------------------------------------------------------------- */

static IO_COMPLETION_ROUTINE ConfCompletion;

static NTSTATUS ConfCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  /* The IRP is ours: the I/O manager must not touch it again. */
  return STATUS_MORE_PROCESSING_REQUIRED;
}

BOOLEAN ConfCallInit(CONF_CALL *Call) {
  RtlZeroMemory(Call, sizeof(*Call));
  KeInitializeEvent(&Call->Done, NotificationEvent, FALSE);
  Call->Irp = IoAllocateIrp(1, FALSE);
  return ConfRequire(Call->Irp != NULL, "IoAllocateIrp");
}

PIRP ConfIrp(CONF_CALL *Call) {
  IoReuseIrp(Call->Irp, STATUS_UNSUCCESSFUL);
  Call->Irp->IoStatus.Status = (NTSTATUS)CONF_POISON;
  Call->Irp->IoStatus.Information = CONF_POISON;
  IoSetCompletionRoutine(Call->Irp, ConfCompletion, &Call->Done, TRUE, TRUE, TRUE);
  KeClearEvent(&Call->Done);
  Call->Returned = (NTSTATUS)CONF_POISON;
  Call->CompletedAtReturn = FALSE;
  return Call->Irp;
}

NTSTATUS ConfReturned(CONF_CALL *Call, NTSTATUS Returned) {
  Call->Returned = Returned;
  Call->CompletedAtReturn = KeReadStateEvent(&Call->Done) != 0;
  return Returned;
}

BOOLEAN ConfCompleted(CONF_CALL *Call) {
  return KeReadStateEvent(&Call->Done) != 0;
}

NTSTATUS ConfWait(CONF_CALL *Call) {
  LARGE_INTEGER timeout;
  timeout.QuadPart = -(LONGLONG)CONF_TIMEOUT_MS * 10000;
  if (KeWaitForSingleObject(&Call->Done, Executive, KernelMode, FALSE, &timeout) ==
      STATUS_TIMEOUT) {
    ConfCheck(FALSE, "completion", "the IRP did not complete within %u ms; cancelling it",
              CONF_TIMEOUT_MS);
    IoCancelIrp(Call->Irp);
    if (KeWaitForSingleObject(&Call->Done, Executive, KernelMode, FALSE, &timeout) ==
        STATUS_TIMEOUT) {
      ConfCheck(FALSE, "completion", "the IRP did not complete after IoCancelIrp either");
      Call->Lost = TRUE;
    }
    return STATUS_TIMEOUT;
  }
  return Call->Irp->IoStatus.Status;
}

void ConfCallFree(CONF_CALL *Call) {
  if (Call->Irp != NULL && !Call->Lost) {
    IoFreeIrp(Call->Irp);
  }
  Call->Irp = NULL;
}

BOOLEAN ConfExpectCall(CONF_CALL *Call, const char *Name, NTSTATUS Expected,
                       ULONG_PTR ExpectedInformation) {
  char returned[96];
  char final_text[96];
  const NTSTATUS final_status = ConfWait(Call);
  BOOLEAN ok = TRUE;
  if (final_status == STATUS_TIMEOUT && Call->Lost) {
    return FALSE;
  }
  const NTSTATUS irp_status = Call->Irp->IoStatus.Status;
  const ULONG_PTR information = Call->Irp->IoStatus.Information;
  if (irp_status != Expected) {
    ok = ConfExpectStatus(Name, Expected, irp_status);
  }
  if (Call->Returned != STATUS_PENDING && Call->Returned != irp_status) {
    ok = ConfCheck(FALSE, Name, "returned %s but completed the IRP with %s",
                   ConfStatusText(Call->Returned, returned, sizeof(returned)),
                   ConfStatusText(irp_status, final_text, sizeof(final_text)));
  }
  if (Call->Returned != STATUS_PENDING && !Call->CompletedAtReturn) {
    ok = ConfCheck(FALSE, Name, "returned %s before its IRP had completed",
                   ConfStatusText(Call->Returned, returned, sizeof(returned)));
  }
  if ((Call->Returned == STATUS_PENDING) != (Call->Irp->PendingReturned != FALSE)) {
    ok = ConfCheck(FALSE, Name, "returned %s, but PendingReturned is %u",
                   ConfStatusText(Call->Returned, returned, sizeof(returned)),
                   (unsigned)Call->Irp->PendingReturned);
  }
  if (ExpectedInformation != CONF_ANY_INFORMATION && information != ExpectedInformation) {
    ok = ConfCheck(FALSE, Name, "IoStatus.Information is %Iu (0x%IX), expected %Iu", information,
                   information, ExpectedInformation);
  }
  if (ok) {
    ConfCheck(TRUE, Name, "");
  }
  return ok;
}

BOOLEAN ConfExpectCallNow(CONF_CALL *Call, const char *Name, NTSTATUS Expected,
                          ULONG_PTR ExpectedInformation) {
  char returned[96];
  BOOLEAN ok = TRUE;
  if (Call->Returned == STATUS_PENDING) {
    ok = ConfCheck(FALSE, Name, "returned %s; the operation can complete at once",
                   ConfStatusText(Call->Returned, returned, sizeof(returned)));
  }
  return ConfExpectCall(Call, Name, Expected, ExpectedInformation) && ok;
}

BOOLEAN ConfExpectPending(CONF_CALL *Call, const char *Name) {
  char returned[96];
  return ConfCheck(Call->Returned == STATUS_PENDING && !ConfCompleted(Call), Name,
                   "expected STATUS_PENDING and no completion yet, got %s (completed: %u)",
                   ConfStatusText(Call->Returned, returned, sizeof(returned)),
                   (unsigned)ConfCompleted(Call));
}

/* ---- Addresses ------------------------------------------------------------------------------- */

ADDRESS_FAMILY ConfAf(ULONG Family) {
  return Family == 6 ? AF_INET6 : AF_INET;
}

void ConfLoopback(CONF_ADDR *Address, ULONG Family, USHORT Port) {
  RtlZeroMemory(Address, sizeof(*Address));
  if (Family == 6) {
    Address->V6.sin6_family = AF_INET6;
    Address->V6.sin6_port = RtlUshortByteSwap(Port);
    Address->V6.sin6_addr.u.Byte[15] = 1;
  } else {
    Address->V4.sin_family = AF_INET;
    Address->V4.sin_port = RtlUshortByteSwap(Port);
    Address->V4.sin_addr.s_addr = RtlUlongByteSwap(INADDR_LOOPBACK);
  }
}

void ConfWildcard(CONF_ADDR *Address, ULONG Family, USHORT Port) {
  RtlZeroMemory(Address, sizeof(*Address));
  Address->Sa.sa_family = ConfAf(Family);
  if (Family == 6) {
    Address->V6.sin6_port = RtlUshortByteSwap(Port);
  } else {
    Address->V4.sin_port = RtlUshortByteSwap(Port);
  }
}

void ConfMappedLoopback(CONF_ADDR *Address, USHORT Port) {
  RtlZeroMemory(Address, sizeof(*Address));
  Address->V6.sin6_family = AF_INET6;
  Address->V6.sin6_port = RtlUshortByteSwap(Port);
  Address->V6.sin6_addr.u.Byte[10] = 0xff;
  Address->V6.sin6_addr.u.Byte[11] = 0xff;
  Address->V6.sin6_addr.u.Byte[12] = 127;
  Address->V6.sin6_addr.u.Byte[15] = 1;
}

USHORT ConfPort(const CONF_ADDR *Address) {
  return RtlUshortByteSwap(Address->Sa.sa_family == AF_INET6 ? Address->V6.sin6_port
                                                             : Address->V4.sin_port);
}

BOOLEAN ConfIsLoopback(const CONF_ADDR *Address, ULONG Family) {
  CONF_ADDR expected;
  ConfLoopback(&expected, Family, 0);
  if (Address->Sa.sa_family != ConfAf(Family)) {
    return FALSE;
  }
  if (Family == 6) {
    return RtlCompareMemory(&Address->V6.sin6_addr, &expected.V6.sin6_addr, sizeof(IN6_ADDR)) ==
           sizeof(IN6_ADDR);
  }
  return Address->V4.sin_addr.s_addr == expected.V4.sin_addr.s_addr;
}

BOOLEAN ConfIsMappedLoopback(const CONF_ADDR *Address) {
  CONF_ADDR expected;
  ConfMappedLoopback(&expected, 0);
  return Address->Sa.sa_family == AF_INET6 &&
         RtlCompareMemory(&Address->V6.sin6_addr, &expected.V6.sin6_addr, sizeof(IN6_ADDR)) ==
             sizeof(IN6_ADDR);
}

void ConfPoison(PVOID Buffer, SIZE_T Size) {
  const ULONG poison = CONF_POISON;
  PUCHAR bytes = (PUCHAR)Buffer;
  SIZE_T i;
  for (i = 0; i < Size; i++) {
    bytes[i] = ((const UCHAR *)&poison)[i % sizeof(poison)];
  }
}

BOOLEAN ConfIsPoisoned(const VOID *Buffer, SIZE_T Offset, SIZE_T Size) {
  const ULONG poison = CONF_POISON;
  const UCHAR *bytes = (const UCHAR *)Buffer;
  SIZE_T i;
  for (i = 0; i < Size; i++) {
    if (bytes[i] != ((const UCHAR *)&poison)[(Offset + i) % sizeof(poison)]) {
      return FALSE;
    }
  }
  return TRUE;
}

/* ---- Sockets --------------------------------------------------------------------------------- */

CONF_OPS ConfOps(PWSK_SOCKET Socket, ULONG Category) {
  CONF_OPS ops;
  RtlZeroMemory(&ops, sizeof(ops));
  const WSK_PROVIDER_BASIC_DISPATCH *basic = (const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch;
  ops.Control = basic->WskControlSocket;
  ops.Close = basic->WskCloseSocket;
  switch (Category) {
  case WSK_FLAG_LISTEN_SOCKET: {
    const WSK_PROVIDER_LISTEN_DISPATCH *d = (const WSK_PROVIDER_LISTEN_DISPATCH *)Socket->Dispatch;
    ops.Bind = d->WskBind;
    ops.Accept = d->WskAccept;
    ops.GetLocalAddress = d->WskGetLocalAddress;
    break;
  }
  case WSK_FLAG_DATAGRAM_SOCKET: {
    const WSK_PROVIDER_DATAGRAM_DISPATCH *d =
        (const WSK_PROVIDER_DATAGRAM_DISPATCH *)Socket->Dispatch;
    ops.Bind = d->WskBind;
    ops.SendTo = d->WskSendTo;
    ops.ReceiveFrom = d->WskReceiveFrom;
    ops.GetLocalAddress = d->WskGetLocalAddress;
    ops.SendMessages = d->WskSendMessages;
    break;
  }
  case WSK_FLAG_CONNECTION_SOCKET: {
    const WSK_PROVIDER_CONNECTION_DISPATCH *d =
        (const WSK_PROVIDER_CONNECTION_DISPATCH *)Socket->Dispatch;
    ops.Bind = d->WskBind;
    ops.Connect = d->WskConnect;
    ops.GetLocalAddress = d->WskGetLocalAddress;
    ops.GetRemoteAddress = d->WskGetRemoteAddress;
    ops.Send = d->WskSend;
    ops.Receive = d->WskReceive;
    ops.Disconnect = d->WskDisconnect;
    ops.ConnectEx = d->WskConnectEx;
    break;
  }
  case WSK_FLAG_STREAM_SOCKET: {
    const WSK_PROVIDER_STREAM_DISPATCH *d = (const WSK_PROVIDER_STREAM_DISPATCH *)Socket->Dispatch;
    ops.Bind = d->WskBind;
    ops.Accept = d->WskAccept;
    ops.Connect = d->WskConnect;
    ops.Listen = d->WskListen;
    ops.Send = d->WskSend;
    ops.Receive = d->WskReceive;
    ops.Disconnect = d->WskDisconnect;
    ops.GetLocalAddress = d->WskGetLocalAddress;
    ops.GetRemoteAddress = d->WskGetRemoteAddress;
    ops.ConnectEx = d->WskConnectEx;
    break;
  }
  default:
    break;
  }
  return ops;
}

PWSK_SOCKET ConfSocket(const char *Name, ULONG Family, USHORT Type, ULONG Protocol,
                       ULONG Category) {
  CONF_CALL call;
  PWSK_SOCKET socket = NULL;
  if (!ConfCallInit(&call)) {
    return NULL;
  }
  ConfReturned(&call,
               ConfNpi.Dispatch->WskSocket(ConfNpi.Client, ConfAf(Family), Type, Protocol, Category,
                                           NULL, NULL, NULL, NULL, NULL, ConfIrp(&call)));
  if (ConfExpectCall(&call, Name, STATUS_SUCCESS, CONF_ANY_INFORMATION)) {
    socket = (PWSK_SOCKET)call.Irp->IoStatus.Information;
    if (socket == NULL || socket->Dispatch == NULL) {
      ConfCheck(FALSE, Name, "Information holds no socket");
      socket = NULL;
    }
  }
  ConfCallFree(&call);
  return socket;
}

void ConfClose(const char *Name, PWSK_SOCKET Socket) {
  CONF_CALL call;
  char name[160];
  if (Socket == NULL || !ConfCallInit(&call)) {
    return;
  }
  RtlStringCbPrintfA(name, sizeof(name), "WskCloseSocket (%s)", Name);
  ConfReturned(&call, ((const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)
                          ->WskCloseSocket(Socket, ConfIrp(&call)));
  ConfExpectCall(&call, name, STATUS_SUCCESS, 0);
  ConfCallFree(&call);
}

BOOLEAN ConfBind(const char *Name, PWSK_SOCKET Socket, const CONF_ADDR *Address,
                 NTSTATUS Expected) {
  CONF_CALL call;
  BOOLEAN ok;
  CONF_ADDR copy = *Address;
  if (!ConfCallInit(&call)) {
    return FALSE;
  }
  /* WskBind is the third member of every table that has it. */
  ConfReturned(&call, ((const WSK_PROVIDER_CONNECTION_DISPATCH *)Socket->Dispatch)
                          ->WskBind(Socket, &copy.Sa, 0, ConfIrp(&call)));
  ok = ConfExpectCall(&call, Name, Expected, 0);
  ConfCallFree(&call);
  return ok;
}

USHORT ConfLocalPort(PWSK_SOCKET Socket, ULONG Category, CONF_ADDR *Address) {
  CONF_CALL call;
  CONF_ADDR local;
  USHORT port = 0;
  CONF_OPS ops = ConfOps(Socket, Category);
  if (!ConfCallInit(&call)) {
    return 0;
  }
  ConfPoison(&local, sizeof(local));
  ConfReturned(&call, ops.GetLocalAddress(Socket, &local.Sa, ConfIrp(&call)));
  if (ConfWait(&call) == STATUS_SUCCESS) {
    port = ConfPort(&local);
    if (Address != NULL) {
      *Address = local;
    }
  } else {
    ConfCheck(FALSE, "WskGetLocalAddress", "failed: 0x%08lX", (ULONG)call.Irp->IoStatus.Status);
  }
  ConfCallFree(&call);
  return port;
}

NTSTATUS ConfSetOption(PWSK_SOCKET Socket, ULONG Level, ULONG Name, ULONG Value) {
  CONF_CALL call;
  NTSTATUS status;
  if (!ConfCallInit(&call)) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  ConfReturned(&call, ((const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)
                          ->WskControlSocket(Socket, WskSetOption, Name, Level, sizeof(Value),
                                             &Value, 0, NULL, NULL, ConfIrp(&call)));
  status = ConfWait(&call);
  ConfCallFree(&call);
  return status;
}

NTSTATUS ConfGetOption(PWSK_SOCKET Socket, ULONG Level, ULONG Name, ULONG *Value) {
  CONF_CALL call;
  NTSTATUS status;
  if (!ConfCallInit(&call)) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  *Value = CONF_POISON;
  ConfReturned(&call, ((const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)
                          ->WskControlSocket(Socket, WskGetOption, Name, Level, 0, NULL,
                                             sizeof(*Value), Value, NULL, ConfIrp(&call)));
  status = ConfWait(&call);
  ConfCallFree(&call);
  return status;
}

PWSK_SOCKET ConfConnected(const char *Name, ULONG Family, ULONG Category, USHORT Port) {
  CONF_ADDR local;
  CONF_ADDR remote;
  CONF_CALL call;
  BOOLEAN ok;
  PWSK_SOCKET socket = ConfSocket(Name, Family, SOCK_STREAM, IPPROTO_TCP, Category);
  if (socket == NULL) {
    return NULL;
  }
  ConfLoopback(&local, Family, 0);
  ConfLoopback(&remote, Family, Port);
  if (!ConfBind(Name, socket, &local, STATUS_SUCCESS) || !ConfCallInit(&call)) {
    ConfClose(Name, socket);
    return NULL;
  }
  ConfReturned(&call, ConfOps(socket, Category).Connect(socket, &remote.Sa, 0, ConfIrp(&call)));
  ok = ConfExpectCall(&call, Name, STATUS_SUCCESS, 0);
  ConfCallFree(&call);
  if (!ok) {
    ConfClose(Name, socket);
    return NULL;
  }
  return socket;
}

BOOLEAN ConfSendAll(const char *Name, PWSK_SOCKET Socket, ULONG Category, const VOID *Data,
                    SIZE_T Length) {
  CONF_BUFFER buffer;
  CONF_CALL call;
  BOOLEAN ok = FALSE;
  if (!ConfBufferInit(&buffer, Length)) {
    return FALSE;
  }
  if (ConfCallInit(&call)) {
    RtlCopyMemory(buffer.Data, Data, Length);
    ConfReturned(&call, ConfOps(Socket, Category).Send(Socket, &buffer.Wsk, 0, ConfIrp(&call)));
    ok = ConfExpectCall(&call, Name, STATUS_SUCCESS, Length);
    ConfCallFree(&call);
  }
  ConfBufferFree(&buffer);
  return ok;
}

SIZE_T ConfReceiveAll(PWSK_SOCKET Socket, ULONG Category, PVOID Data, SIZE_T Length,
                      NTSTATUS *LastStatus) {
  CONF_BUFFER buffer;
  CONF_CALL call;
  SIZE_T got = 0;
  ULONG rounds;
  NTSTATUS status = STATUS_SUCCESS;
  if (!ConfBufferInit(&buffer, Length == 0 ? 1 : Length)) {
    return 0;
  }
  if (!ConfCallInit(&call)) {
    ConfBufferFree(&buffer);
    return 0;
  }
  /* Bounded: each round takes at least one byte or ends the loop. */
  for (rounds = 0; got < Length && rounds < 4096; rounds++) {
    buffer.Wsk.Offset = 0;
    buffer.Wsk.Length = Length - got;
    ConfReturned(&call, ConfOps(Socket, Category).Receive(Socket, &buffer.Wsk, 0, ConfIrp(&call)));
    status = ConfWait(&call);
    if (status != STATUS_SUCCESS || call.Irp->IoStatus.Information == 0) {
      break;
    }
    RtlCopyMemory((PUCHAR)Data + got, buffer.Data, call.Irp->IoStatus.Information);
    got += call.Irp->IoStatus.Information;
  }
  ConfCallFree(&call);
  ConfBufferFree(&buffer);
  if (LastStatus != NULL) {
    *LastStatus = status;
  }
  return got;
}

BOOLEAN ConfBufferInit(CONF_BUFFER *Buffer, SIZE_T Size) {
  RtlZeroMemory(Buffer, sizeof(*Buffer));
  Buffer->Size = Size;
  Buffer->Data = (PUCHAR)ExAllocatePool2(POOL_FLAG_NON_PAGED, Size == 0 ? 1 : Size, CONF_TAG);
  if (!ConfRequire(Buffer->Data != NULL, "ExAllocatePool2")) {
    return FALSE;
  }
  Buffer->Mdl = IoAllocateMdl(Buffer->Data, (ULONG)(Size == 0 ? 1 : Size), FALSE, FALSE, NULL);
  if (!ConfRequire(Buffer->Mdl != NULL, "IoAllocateMdl")) {
    ExFreePoolWithTag(Buffer->Data, CONF_TAG);
    Buffer->Data = NULL;
    return FALSE;
  }
  MmBuildMdlForNonPagedPool(Buffer->Mdl);
  Buffer->Wsk.Mdl = Buffer->Mdl;
  Buffer->Wsk.Offset = 0;
  Buffer->Wsk.Length = Size;
  return TRUE;
}

void ConfBufferFree(CONF_BUFFER *Buffer) {
  if (Buffer->Mdl != NULL) {
    IoFreeMdl(Buffer->Mdl);
  }
  if (Buffer->Data != NULL) {
    ExFreePoolWithTag(Buffer->Data, CONF_TAG);
  }
  RtlZeroMemory(Buffer, sizeof(*Buffer));
}

/* ---- Data ------------------------------------------------------------------------------------ */

UCHAR ConfPatternByte(ULONGLONG Index) {
  return (UCHAR)(Index % 251);
}

ULONG ConfFnv(ULONG Hash, const VOID *Data, SIZE_T Length) {
  const UCHAR *bytes = (const UCHAR *)Data;
  SIZE_T i;
  for (i = 0; i < Length; i++) {
    Hash = (Hash ^ bytes[i]) * 16777619u;
  }
  return Hash;
}

void ConfHexEncode(const VOID *Data, SIZE_T Length, char *Text, SIZE_T TextSize) {
  static const char digits[] = "0123456789abcdef";
  const UCHAR *bytes = (const UCHAR *)Data;
  SIZE_T i;
  for (i = 0; i < Length && 2 * i + 2 < TextSize; i++) {
    Text[2 * i] = digits[bytes[i] >> 4];
    Text[2 * i + 1] = digits[bytes[i] & 15];
  }
  Text[2 * i] = '\0';
}

static int ConfNibble(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

SIZE_T ConfHexDecode(const char *Text, PUCHAR Data, SIZE_T Size) {
  SIZE_T n = 0;
  while (n < Size && ConfNibble(Text[0]) >= 0 && ConfNibble(Text[1]) >= 0) {
    Data[n++] = (UCHAR)(ConfNibble(Text[0]) * 16 + ConfNibble(Text[1]));
    Text += 2;
  }
  return n;
}

/* ---- The command channel --------------------------------------------------------------------- */

static NTSTATUS ConfCommandSend(const char *Line, SIZE_T Length) {
  CONF_BUFFER buffer;
  NTSTATUS status;
  if (!ConfBufferInit(&buffer, Length)) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  RtlCopyMemory(buffer.Data, Line, Length);
  ConfReturned(&ConfCommandCall,
               ((const WSK_PROVIDER_CONNECTION_DISPATCH *)ConfCommandSocket->Dispatch)
                   ->WskSend(ConfCommandSocket, &buffer.Wsk, 0, ConfIrp(&ConfCommandCall)));
  status = ConfWait(&ConfCommandCall);
  ConfBufferFree(&buffer);
  return status;
}

/* Reads one line (without its newline) into Line. */
static NTSTATUS ConfCommandReadLine(char *Line, SIZE_T Size) {
  CONF_BUFFER buffer;
  ULONG rounds;
  NTSTATUS status = STATUS_SUCCESS;
  if (!ConfBufferInit(&buffer, 1024)) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  for (rounds = 0; rounds < 64; rounds++) {
    SIZE_T i;
    for (i = 0; i < ConfCommandPendingLength; i++) {
      if (ConfCommandPending[i] == '\n') {
        SIZE_T copy = i < Size - 1 ? i : Size - 1;
        RtlCopyMemory(Line, ConfCommandPending, copy);
        Line[copy] = '\0';
        RtlMoveMemory(ConfCommandPending, ConfCommandPending + i + 1,
                      ConfCommandPendingLength - i - 1);
        ConfCommandPendingLength -= i + 1;
        ConfBufferFree(&buffer);
        return STATUS_SUCCESS;
      }
    }
    if (ConfCommandPendingLength + buffer.Size > sizeof(ConfCommandPending)) {
      status = STATUS_BUFFER_OVERFLOW;
      break;
    }
    ConfReturned(&ConfCommandCall,
                 ((const WSK_PROVIDER_CONNECTION_DISPATCH *)ConfCommandSocket->Dispatch)
                     ->WskReceive(ConfCommandSocket, &buffer.Wsk, 0, ConfIrp(&ConfCommandCall)));
    status = ConfWait(&ConfCommandCall);
    if (status != STATUS_SUCCESS || ConfCommandCall.Irp->IoStatus.Information == 0) {
      status = status == STATUS_SUCCESS ? STATUS_CONNECTION_DISCONNECTED : status;
      break;
    }
    RtlCopyMemory(ConfCommandPending + ConfCommandPendingLength, buffer.Data,
                  ConfCommandCall.Irp->IoStatus.Information);
    ConfCommandPendingLength += ConfCommandCall.Irp->IoStatus.Information;
  }
  ConfBufferFree(&buffer);
  Line[0] = '\0';
  return status == STATUS_SUCCESS ? STATUS_BUFFER_OVERFLOW : status;
}

BOOLEAN ConfCommand(char *Reply, SIZE_T ReplySize, const char *Format, ...) {
  char line[2048];
  size_t length = 0;
  va_list args;
  NTSTATUS status;
  Reply[0] = '\0';
  if (ConfCommandSocket == NULL) {
    return FALSE;
  }
  va_start(args, Format);
  RtlStringCbVPrintfA(line, sizeof(line) - 1, Format, args);
  va_end(args);
  RtlStringCbCatA(line, sizeof(line), "\n");
  RtlStringCbLengthA(line, sizeof(line), &length);
  status = ConfCommandSend(line, length);
  if (NT_SUCCESS(status)) {
    status = ConfCommandReadLine(Reply, ReplySize);
  }
  if (!NT_SUCCESS(status)) {
    ConfCheck(FALSE, "command channel", "request '%s' failed: 0x%08lX", Format, (ULONG)status);
    return FALSE;
  }
  return Reply[0] == 'O' && Reply[1] == 'K';
}

const char *ConfFieldText(const char *Reply, ULONG Index, char *Text, SIZE_T TextSize) {
  const char *p = Reply;
  ULONG field;
  SIZE_T n = 0;
  /* Skip the verdict word, then Index words. */
  for (field = 0; field <= Index; field++) {
    while (*p != '\0' && *p != ' ') {
      p++;
    }
    while (*p == ' ') {
      p++;
    }
  }
  while (p[n] != '\0' && p[n] != ' ' && n + 1 < TextSize) {
    Text[n] = p[n];
    n++;
  }
  Text[n] = '\0';
  return Text;
}

ULONG ConfField(const char *Reply, ULONG Index) {
  char text[32];
  ULONG value = 0;
  ConfFieldText(Reply, Index, text, sizeof(text));
  RtlCharToInteger(text, 10, &value);
  return value;
}

/* ---- A run ----------------------------------------------------------------------------------- */

static DRIVER_UNLOAD ConfUnload;

static VOID ConfUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
}

/* Reads the harness's parameters from RegistryPath\Parameters. */
static NTSTATUS ConfReadParameters(PUNICODE_STRING RegistryPath) {
  struct {
    PCWSTR Name;
    PULONG Value;
  } names[] = {
      {L"CommandPort", &ConfParams.CommandPort},     {L"EchoPort4", &ConfParams.EchoPort[0]},
      {L"EchoPort6", &ConfParams.EchoPort[1]},       {L"SinkPort4", &ConfParams.SinkPort[0]},
      {L"SinkPort6", &ConfParams.SinkPort[1]},       {L"PatternPort4", &ConfParams.PatternPort[0]},
      {L"PatternPort6", &ConfParams.PatternPort[1]}, {L"ResetPort4", &ConfParams.ResetPort[0]},
      {L"ResetPort6", &ConfParams.ResetPort[1]},     {L"RefusedPort4", &ConfParams.RefusedPort[0]},
      {L"RefusedPort6", &ConfParams.RefusedPort[1]}, {L"UdpEchoPort4", &ConfParams.UdpEchoPort[0]},
      {L"UdpEchoPort6", &ConfParams.UdpEchoPort[1]}, {L"PatternLength", &ConfParams.PatternLength},
  };
  RTL_QUERY_REGISTRY_TABLE table[sizeof(names) / sizeof(names[0]) + 1];
  WCHAR path[512];
  NTSTATUS status;
  ULONG i;
  RtlZeroMemory(table, sizeof(table));
  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    table[i].Flags =
        RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_REQUIRED | RTL_QUERY_REGISTRY_TYPECHECK;
    table[i].Name = (PWSTR)names[i].Name;
    table[i].EntryContext = names[i].Value;
    table[i].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
  }
  status = RtlStringCbCopyNW(path, sizeof(path), RegistryPath->Buffer, RegistryPath->Length);
  if (NT_SUCCESS(status)) {
    status = RtlStringCbCatW(path, sizeof(path), L"\\Parameters");
  }
  if (NT_SUCCESS(status)) {
    status = RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, path, table, NULL, NULL);
  }
  return status;
}

/* Opens the command channel with WskSocketConnect. */
static NTSTATUS ConfOpenCommandChannel(void) {
  CONF_ADDR local;
  CONF_ADDR remote;
  char reply[64];
  NTSTATUS status;
  if (!ConfCallInit(&ConfCommandCall)) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  ConfLoopback(&local, 4, 0);
  ConfLoopback(&remote, 4, (USHORT)ConfParams.CommandPort);
  ConfReturned(&ConfCommandCall,
               ConfNpi.Dispatch->WskSocketConnect(ConfNpi.Client, SOCK_STREAM, IPPROTO_TCP,
                                                  &local.Sa, &remote.Sa, 0, NULL, NULL, NULL, NULL,
                                                  NULL, ConfIrp(&ConfCommandCall)));
  status = ConfWait(&ConfCommandCall);
  if (status != STATUS_SUCCESS) {
    return status;
  }
  ConfCommandSocket = (PWSK_SOCKET)ConfCommandCall.Irp->IoStatus.Information;
  if (!ConfCommand(reply, sizeof(reply), "PING")) {
    return STATUS_UNSUCCESSFUL;
  }
  return STATUS_SUCCESS;
}

NTSTATUS ConfBegin(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath, const char *Area) {
  WSK_CLIENT_NPI client;
  NTSTATUS status;
  ConfArea = Area;
  DriverObject->DriverUnload = ConfUnload;
  ConfScope("%s setup", Area);
  status = ConfReadParameters(RegistryPath);
  if (!ConfExpectStatus("parameters from the registry", STATUS_SUCCESS, status)) {
    return status;
  }
  client.ClientContext = NULL;
  client.Dispatch = &ConfClientDispatch;
  status = WskRegister(&client, &ConfRegistration);
  if (!ConfExpectStatus("WskRegister", STATUS_SUCCESS, status)) {
    return status;
  }
  ConfRegistered = TRUE;
  status = WskCaptureProviderNPI(&ConfRegistration, WSK_INFINITE_WAIT, &ConfNpi);
  if (!ConfExpectStatus("WskCaptureProviderNPI", STATUS_SUCCESS, status)) {
    return status;
  }
  ConfCaptured = TRUE;
  status = ConfOpenCommandChannel();
  ConfExpectStatus("command channel", STATUS_SUCCESS, status);
  return status;
}

NTSTATUS ConfEnd(void) {
  ConfScope("%s teardown", ConfArea);
  if (ConfCommandSocket != NULL) {
    ConfClose("close the command channel", ConfCommandSocket);
    ConfCommandSocket = NULL;
  }
  ConfCallFree(&ConfCommandCall);
  if (ConfCaptured) {
    WskReleaseProviderNPI(&ConfRegistration);
    ConfCaptured = FALSE;
  }
  if (ConfRegistered) {
    WskDeregister(&ConfRegistration);
    ConfRegistered = FALSE;
  }
  DbgPrint("conf: SUMMARY %s: %ld checks, %ld failures, %ld known bugs\n", ConfArea,
           (LONG)ConfChecks, (LONG)ConfFailures, (LONG)ConfKnownBugs);
  return ConfFailures == 0 ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}

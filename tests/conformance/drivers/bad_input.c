/*
 * bad_input.c - invalid input to every WSK function: each must fail with its documented status
 * (or uwsk's choice where Windows names none, docs/wsk-behaviour.md), complete its IRP
 * with that status and Information 0 before it returns, leave its outputs as they were, and move
 * nothing: a failing send sent no byte, a failing receive consumed none.
 *
 * The socket-level calls are one table (Rows): a function, the socket it is given (a fixture
 * socket of some category and state), what is wrong with the call, and the status expected.
 * Functions are taken from the table of the category that has them; a row whose socket has
 * another category is "the wrong category through a cast dispatch table" (rule V36). Around
 * every row whose socket is connected to a harness peer (a TCP connection, a UDP socket), the
 * peer first sends bytes (or a datagram) that the row must not consume, and afterwards the
 * driver checks, without long waits, that the bytes are still all there and receives them, then
 * sends a marker that the harness must receive exactly: any byte the failing call had sent
 * would come before it. The client-level functions (WskSocket, WskSocketConnect,
 * WskControlClient, name resolution) have rows of their own, and WskConnectEx with a bad
 * WSK_BUF is checked on a fresh socket that must still connect afterwards.
 */
#include "conf.h"

DRIVER_INITIALIZE DriverEntry;

#define LISTEN WSK_FLAG_LISTEN_SOCKET
#define CONNECTION WSK_FLAG_CONNECTION_SOCKET
#define DATAGRAM WSK_FLAG_DATAGRAM_SOCKET
#define STREAM WSK_FLAG_STREAM_SOCKET

#define BAD_FAMILY 99      /* an address family WSK does not know */
#define SHORT_WAIT_MS 1000 /* a valid call whose data is known to be there */
#define SAME_FAMILY 0xFFFF /* SOCKET_ROW.Af: the family being tested */

/* ---- Fixture --------------------------------------------------------------------------------- */

/* The sockets a row can be given. */
typedef enum _ROLE {
  R_BASIC,          /* basic socket */
  R_LISTEN,         /* listening socket, bound (so listening) */
  R_CONN,           /* connection socket connected to a harness peer */
  R_CONN_BOUND,     /* connection socket, bound, not connected */
  R_CONN_UNBOUND,   /* connection socket, not bound */
  R_DGRAM,          /* datagram socket, bound, with a harness UDP peer */
  R_DGRAM_UNBOUND,  /* datagram socket, not bound */
  R_STREAM_BOUND,   /* stream socket, bound, neither listening nor connected */
  R_STREAM_UNBOUND, /* stream socket, not bound */
  R_COUNT
} ROLE;

static const char *const RoleNames[R_COUNT] = {
    "basic socket",
    "listening socket",
    "connected connection socket",
    "bound connection socket",
    "unbound connection socket",
    "bound datagram socket",
    "unbound datagram socket",
    "bound stream socket",
    "unbound stream socket",
};

typedef struct _FIXTURE {
  ULONG Family;
  PWSK_SOCKET Socket[R_COUNT];
  ULONG PeerListener; /* the harness's listener R_CONN connected to */
  USHORT PeerListenerPort;
  ULONG Peer; /* the harness's side of R_CONN */
  ULONG Udp;  /* the harness's UDP socket, R_DGRAM's peer */
  USHORT UdpPort;
  USHORT DgramPort; /* R_DGRAM's own port */
  ULONG Serial;     /* makes every payload unique */
  /* The provider tables, each from a socket of its category. */
  const WSK_PROVIDER_LISTEN_DISPATCH *ListenTable;
  const WSK_PROVIDER_CONNECTION_DISPATCH *ConnTable;
  const WSK_PROVIDER_DATAGRAM_DISPATCH *DgramTable;
  const WSK_PROVIDER_STREAM_DISPATCH *StreamTable;
} FIXTURE;

static PWSK_SOCKET BoundSocket(const char *Name, ULONG Family, USHORT Type, ULONG Protocol,
                               ULONG Category, USHORT *Port) {
  CONF_ADDR local;
  PWSK_SOCKET s = ConfSocket(Name, Family, Type, Protocol, Category);
  if (s == NULL) {
    return NULL;
  }
  ConfLoopback(&local, Family, 0);
  if (!ConfBind(Name, s, &local, STATUS_SUCCESS)) {
    ConfClose(Name, s);
    return NULL;
  }
  if (Port != NULL) {
    *Port = ConfLocalPort(s, Category, NULL);
  }
  return s;
}

/* R_CONN: a connection to a harness listener, and the harness's side of it. */
static BOOLEAN MakeConnected(FIXTURE *F) {
  char reply[128];
  F->Socket[R_CONN] =
      ConfConnected("connect to the harness", F->Family, CONNECTION, F->PeerListenerPort);
  if (F->Socket[R_CONN] == NULL) {
    return FALSE;
  }
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "ACCEPT %lu", F->PeerListener),
                 "harness accepts", "answer '%s'", reply)) {
    ConfClose("connection", F->Socket[R_CONN]);
    F->Socket[R_CONN] = NULL;
    return FALSE;
  }
  F->Peer = ConfField(reply, 0);
  return TRUE;
}

/* R_DGRAM and its harness UDP peer. */
static BOOLEAN MakeDatagram(FIXTURE *F) {
  char reply[128];
  F->Socket[R_DGRAM] = BoundSocket("bound datagram socket", F->Family, SOCK_DGRAM, IPPROTO_UDP,
                                   DATAGRAM, &F->DgramPort);
  if (F->Socket[R_DGRAM] == NULL) {
    return FALSE;
  }
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "UDP %lu", F->Family), "harness UDP socket",
                 "answer '%s'", reply)) {
    return FALSE;
  }
  F->Udp = ConfField(reply, 0);
  F->UdpPort = (USHORT)ConfField(reply, 1);
  return TRUE;
}

static void DropConnected(FIXTURE *F) {
  char reply[64];
  ConfClose("connected connection socket", F->Socket[R_CONN]);
  F->Socket[R_CONN] = NULL;
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", F->Peer);
}

static void DropDatagram(FIXTURE *F) {
  char reply[64];
  ConfClose("bound datagram socket", F->Socket[R_DGRAM]);
  F->Socket[R_DGRAM] = NULL;
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", F->Udp);
}

static BOOLEAN FixtureInit(FIXTURE *F, ULONG Family) {
  char reply[128];
  ULONG i;
  RtlZeroMemory(F, sizeof(*F));
  F->Family = Family;
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "LISTEN %lu", Family), "harness listens",
                 "answer '%s'", reply)) {
    return FALSE;
  }
  F->PeerListener = ConfField(reply, 0);
  F->PeerListenerPort = (USHORT)ConfField(reply, 1);
  F->Socket[R_BASIC] = ConfSocket("basic socket", Family, SOCK_STREAM, IPPROTO_TCP, 0);
  F->Socket[R_LISTEN] =
      BoundSocket("listening socket", Family, SOCK_STREAM, IPPROTO_TCP, LISTEN, NULL);
  F->Socket[R_CONN_BOUND] =
      BoundSocket("bound connection socket", Family, SOCK_STREAM, IPPROTO_TCP, CONNECTION, NULL);
  F->Socket[R_CONN_UNBOUND] =
      ConfSocket("unbound connection socket", Family, SOCK_STREAM, IPPROTO_TCP, CONNECTION);
  F->Socket[R_DGRAM_UNBOUND] =
      ConfSocket("unbound datagram socket", Family, SOCK_DGRAM, IPPROTO_UDP, DATAGRAM);
  F->Socket[R_STREAM_BOUND] =
      BoundSocket("bound stream socket", Family, SOCK_STREAM, IPPROTO_TCP, STREAM, NULL);
  F->Socket[R_STREAM_UNBOUND] =
      ConfSocket("unbound stream socket", Family, SOCK_STREAM, IPPROTO_TCP, STREAM);
  MakeConnected(F);
  MakeDatagram(F);
  for (i = 0; i < R_COUNT; i++) {
    if (F->Socket[i] == NULL) {
      return ConfCheck(FALSE, "fixture", "no %s", RoleNames[i]);
    }
  }
  F->ListenTable = (const WSK_PROVIDER_LISTEN_DISPATCH *)F->Socket[R_LISTEN]->Dispatch;
  F->ConnTable = (const WSK_PROVIDER_CONNECTION_DISPATCH *)F->Socket[R_CONN]->Dispatch;
  F->DgramTable = (const WSK_PROVIDER_DATAGRAM_DISPATCH *)F->Socket[R_DGRAM]->Dispatch;
  F->StreamTable = (const WSK_PROVIDER_STREAM_DISPATCH *)F->Socket[R_STREAM_BOUND]->Dispatch;
  return TRUE;
}

static void FixtureFree(FIXTURE *F) {
  char reply[64];
  ULONG i;
  if (F->Socket[R_CONN] != NULL) {
    DropConnected(F);
  }
  if (F->Socket[R_DGRAM] != NULL) {
    DropDatagram(F);
  }
  for (i = 0; i < R_COUNT; i++) {
    ConfClose(RoleNames[i], F->Socket[i]);
    F->Socket[i] = NULL;
  }
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", F->PeerListener);
}

/* ---- Buffers --------------------------------------------------------------------------------- */

/* A chain of two 8-byte MDLs ("ABCDEFGH", "IJKLMNOP"), a separate first datagram for
 * WskSendMessages, and the WSK_BUFs the rows pass. */
typedef struct _BUFFERS {
  CONF_BUFFER Part[2];
  CONF_BUFFER First;
  WSK_BUF Buf;
  WSK_BUF_LIST List[2];
} BUFFERS;

static BOOLEAN BuffersInit(BUFFERS *B) {
  RtlZeroMemory(B, sizeof(*B));
  if (!ConfBufferInit(&B->Part[0], 8) || !ConfBufferInit(&B->Part[1], 8) ||
      !ConfBufferInit(&B->First, 6)) {
    return FALSE;
  }
  B->Part[0].Mdl->Next = B->Part[1].Mdl;
  RtlCopyMemory(B->First.Data, "first!", 6);
  return TRUE;
}

static void BuffersFree(BUFFERS *B) {
  if (B->Part[0].Mdl != NULL) {
    B->Part[0].Mdl->Next = NULL; /* IoFreeMdl frees one MDL */
  }
  ConfBufferFree(&B->Part[0]);
  ConfBufferFree(&B->Part[1]);
  ConfBufferFree(&B->First);
}

/* Fills the chain with its letters (to send) or with the poison (to receive into). */
static void BuffersReset(BUFFERS *B, BOOLEAN Poison) {
  if (Poison) {
    ConfPoison(B->Part[0].Data, 8);
    ConfPoison(B->Part[1].Data, 8);
  } else {
    RtlCopyMemory(B->Part[0].Data, "ABCDEFGH", 8);
    RtlCopyMemory(B->Part[1].Data, "IJKLMNOP", 8);
  }
}

static BOOLEAN BuffersPoisoned(BUFFERS *B) {
  return ConfIsPoisoned(B->Part[0].Data, 0, 8) && ConfIsPoisoned(B->Part[1].Data, 0, 8);
}

/* ---- Small calls ----------------------------------------------------------------------------- */

/* Waits at most Ms for a call whose result is known to be there; then cancels it (bounded). */
static NTSTATUS WaitShort(CONF_CALL *Call, ULONG Ms) {
  LARGE_INTEGER timeout;
  timeout.QuadPart = -(LONGLONG)Ms * 10000;
  if (KeWaitForSingleObject(&Call->Done, Executive, KernelMode, FALSE, &timeout) ==
      STATUS_TIMEOUT) {
    IoCancelIrp(Call->Irp);
    ConfWait(Call);
    return STATUS_TIMEOUT;
  }
  return Call->Irp->IoStatus.Status;
}

static void DelayMs(ULONG Ms) {
  LARGE_INTEGER delay;
  delay.QuadPart = -(LONGLONG)Ms * 10000;
  KeDelayExecutionThread(KernelMode, FALSE, &delay);
}

/* SIO_WSK_QUERY_RECEIVE_BACKLOG: the bytes waiting on a connection; (SIZE_T)-1 on failure. */
static SIZE_T ReceiveBacklog(PWSK_SOCKET Socket) {
  CONF_CALL call;
  SIZE_T backlog = CONF_POISON;
  if (!ConfCallInit(&call)) {
    return (SIZE_T)-1;
  }
  ConfReturned(&call,
               ((const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)
                   ->WskControlSocket(Socket, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, NULL,
                                      sizeof(backlog), &backlog, NULL, ConfIrp(&call)));
  if (ConfWait(&call) != STATUS_SUCCESS) {
    backlog = (SIZE_T)-1;
  }
  ConfCallFree(&call);
  return backlog;
}

/* ---- What the harness peers see -------------------------------------------------------------- */

/* Before a row on R_CONN: the peer sends bytes the row must not consume; they are waiting on the
 * driver's side before the row runs. */
static BOOLEAN StreamPrime(FIXTURE *F, char *Text, SIZE_T Size) {
  char hex[64];
  char reply[128];
  size_t length = 0;
  ULONG rounds;
  RtlStringCbPrintfA(Text, Size, "in-%05lu", ++F->Serial);
  RtlStringCbLengthA(Text, Size, &length);
  ConfHexEncode(Text, length, hex, sizeof(hex));
  if (!ConfCommand(reply, sizeof(reply), "SEND %lu %s", F->Peer, hex)) {
    return ConfCheck(FALSE, "the peer sends", "answer '%s'", reply);
  }
  for (rounds = 0; rounds < 200; rounds++) {
    if (ReceiveBacklog(F->Socket[R_CONN]) >= length) {
      return TRUE;
    }
    DelayMs(10);
  }
  return ConfCheck(FALSE, "the peer's bytes arrive", "not within 2 s");
}

/* After a row on R_CONN: the peer's bytes are all still waiting and a valid receive gets them;
 * a marker sent afterwards is exactly what the peer receives next (nothing came before it).
 * FALSE when something moved: the connection is then replaced. */
static BOOLEAN StreamVerify(FIXTURE *F, const char *Row, const char *Sent) {
  char marker[32];
  char hex[96];
  char reply[160];
  char got[64];
  size_t sent_length = 0;
  size_t marker_length = 0;
  SIZE_T backlog;
  BOOLEAN ok;
  NTSTATUS status = STATUS_SUCCESS;
  char name[200];

  RtlStringCbLengthA(Sent, 64, &sent_length);
  backlog = ReceiveBacklog(F->Socket[R_CONN]);
  RtlStringCbPrintfA(name, sizeof(name), "%s: the peer's bytes were not consumed", Row);
  ok = ConfCheck(backlog == sent_length, name, "%Iu bytes wait, %Iu were sent", backlog,
                 (SIZE_T)sent_length);
  if (ok) {
    RtlZeroMemory(got, sizeof(got));
    RtlStringCbPrintfA(name, sizeof(name), "%s: a valid WskReceive gets them", Row);
    ok = ConfCheck(ConfReceiveAll(F->Socket[R_CONN], CONNECTION, got, sent_length, &status) ==
                           sent_length &&
                       RtlCompareMemory(got, Sent, sent_length) == sent_length,
                   name, "expected '%s', got '%s' (0x%08lX)", Sent, got, (ULONG)status);
  }
  RtlStringCbPrintfA(marker, sizeof(marker), "out-%05lu", ++F->Serial);
  RtlStringCbLengthA(marker, sizeof(marker), &marker_length);
  RtlStringCbPrintfA(name, sizeof(name), "%s: a valid WskSend afterwards", Row);
  if (ConfSendAll(name, F->Socket[R_CONN], CONNECTION, marker, marker_length)) {
    ConfHexEncode(marker, marker_length, hex, sizeof(hex));
    RtlStringCbPrintfA(name, sizeof(name), "%s: the peer received nothing before the marker", Row);
    ok = ConfCheck(
             ConfCommand(reply, sizeof(reply), "RECV %lu %Iu", F->Peer, (SIZE_T)marker_length) &&
                 strcmp(ConfFieldText(reply, 0, got, sizeof(got)), hex) == 0,
             name, "expected %s, the peer got '%s'", hex, reply) &&
         ok;
  } else {
    ok = FALSE;
  }
  if (!ok) {
    DropConnected(F);
    MakeConnected(F);
  }
  return ok;
}

/* Before a row on R_DGRAM: the peer sends a datagram the row must not consume. */
static BOOLEAN DgramPrime(FIXTURE *F, char *Text, SIZE_T Size) {
  char hex[64];
  char reply[128];
  size_t length = 0;
  RtlStringCbPrintfA(Text, Size, "dg-%05lu", ++F->Serial);
  RtlStringCbLengthA(Text, Size, &length);
  ConfHexEncode(Text, length, hex, sizeof(hex));
  if (!ConfCommand(reply, sizeof(reply), "UDPSEND %lu %lu %u %s", F->Udp, F->Family, F->DgramPort,
                   hex)) {
    return ConfCheck(FALSE, "the peer sends a datagram", "answer '%s'", reply);
  }
  DelayMs(5); /* loopback delivers at once; a little slack for the readiness report */
  return TRUE;
}

static BOOLEAN DgramVerify(FIXTURE *F, const char *Row, const char *Sent) {
  CONF_CALL call;
  CONF_BUFFER buffer;
  CONF_ADDR from;
  CONF_ADDR to;
  char marker[32];
  char hex[96];
  char reply[160];
  char got[96];
  char name[200];
  size_t sent_length = 0;
  size_t marker_length = 0;
  BOOLEAN ok = FALSE;
  NTSTATUS status;

  RtlStringCbLengthA(Sent, 64, &sent_length);
  if (!ConfCallInit(&call)) {
    return FALSE;
  }
  if (!ConfBufferInit(&buffer, 64)) {
    ConfCallFree(&call);
    return FALSE;
  }
  /* The datagram the peer sent before the row is the next one received, whole. */
  ConfPoison(&from, sizeof(from));
  ConfReturned(&call, F->DgramTable->WskReceiveFrom(F->Socket[R_DGRAM], &buffer.Wsk, 0, &from.Sa,
                                                    NULL, NULL, NULL, ConfIrp(&call)));
  status = WaitShort(&call, SHORT_WAIT_MS);
  RtlStringCbPrintfA(name, sizeof(name), "%s: the peer's datagram was not consumed", Row);
  ok = ConfCheck(status == STATUS_SUCCESS && call.Irp->IoStatus.Information == sent_length &&
                     RtlCompareMemory(buffer.Data, Sent, sent_length) == sent_length &&
                     ConfPort(&from) == F->UdpPort,
                 name, "a valid WskReceiveFrom got 0x%08lX, %Iu bytes from port %u", (ULONG)status,
                 call.Irp->IoStatus.Information, (unsigned)ConfPort(&from));
  /* A marker sent now is the next datagram the peer receives. */
  RtlStringCbPrintfA(marker, sizeof(marker), "mark-%05lu", ++F->Serial);
  RtlStringCbLengthA(marker, sizeof(marker), &marker_length);
  RtlCopyMemory(buffer.Data, marker, marker_length);
  buffer.Wsk.Length = marker_length;
  ConfLoopback(&to, F->Family, F->UdpPort);
  ConfReturned(&call, F->DgramTable->WskSendTo(F->Socket[R_DGRAM], &buffer.Wsk, 0, &to.Sa, 0, NULL,
                                               ConfIrp(&call)));
  RtlStringCbPrintfA(name, sizeof(name), "%s: a valid WskSendTo afterwards", Row);
  if (ConfExpectCall(&call, name, STATUS_SUCCESS, marker_length)) {
    ConfHexEncode(marker, marker_length, hex, sizeof(hex));
    RtlStringCbPrintfA(name, sizeof(name), "%s: the peer received no datagram before the marker",
                       Row);
    ok = ConfCheck(ConfCommand(reply, sizeof(reply), "UDPRECV %lu", F->Udp) &&
                       ConfField(reply, 0) == F->DgramPort &&
                       strcmp(ConfFieldText(reply, 1, got, sizeof(got)), hex) == 0,
                   name, "expected %s from port %u, the peer got '%s'", hex, (unsigned)F->DgramPort,
                   reply) &&
         ok;
  } else {
    ok = FALSE;
  }
  ConfBufferFree(&buffer);
  ConfCallFree(&call);
  if (!ok) {
    DropDatagram(F);
    MakeDatagram(F);
  }
  return ok;
}

/* ---- The socket-level table ------------------------------------------------------------------ */

typedef enum _FUNCTION {
  F_CONTROL_SET, /* WskControlSocket, WskSetOption SO_KEEPALIVE */
  F_CONTROL_GET, /* WskControlSocket, WskGetOption SO_KEEPALIVE */
  F_SET_REMOTE,  /* WskControlSocket, SIO_WSK_SET_REMOTE_ADDRESS */
  F_SET_SENDTO,  /* WskControlSocket, SIO_WSK_SET_SENDTO_ADDRESS */
  F_CLOSE,
  F_BIND,
  F_LISTEN,
  F_ACCEPT,
  F_INSPECT,
  F_CONNECT,
  F_CONNECT_EX,
  F_LOCAL,
  F_REMOTE,
  F_SEND,
  F_RECEIVE,
  F_DISCONNECT,
  F_RELEASE_DATA,
  F_SEND_EX,
  F_RECEIVE_EX,
  F_SEND_TO,
  F_RECEIVE_FROM,
  F_SEND_MESSAGES,
  F_RELEASE_DGRAM,
} FUNCTION;

/* What is wrong with the call. */
typedef enum _FAULT {
  X_NULL_IRP,        /* Irp NULL: nothing to complete, the status is returned */
  X_NULL_POINTER,    /* the function's main pointer argument NULL (see Invoke) */
  X_NULL_MDL,        /* WSK_BUF.Mdl NULL with Length 100 */
  X_SHORT_CHAIN,     /* the MDL chain holds 16 bytes, Length 17 */
  X_OFFSET_PAST,     /* Offset 12 past the first (8-byte) MDL, Length 2 */
  X_WAITALL_SHORT,   /* WSK_FLAG_WAITALL over the 16-byte chain with Length 17 */
  X_WRONG_FAMILY,    /* an address of family 99 */
  X_OTHER_FAMILY,    /* an address of the other family than the socket's */
  X_SHORT_LENGTH,    /* an address length one byte short of the family's SOCKADDR */
  X_LONG_LENGTH,     /* an address length beyond SOCKADDR_STORAGE */
  X_RESERVED_FLAG,   /* a flag the function does not define */
  X_WAITALL_DRAIN,   /* WSK_FLAG_WAITALL | WSK_FLAG_DRAIN */
  X_DRAIN_LENGTH,    /* WSK_FLAG_DRAIN with Length 16 */
  X_ABORTIVE_BUFFER, /* WSK_FLAG_ABORTIVE with a buffer */
  X_NO_DESTINATION,  /* no RemoteAddress and none fixed */
  X_CONTROL_LENGTH,  /* ControlInfoLength without ControlInfo */
  X_CONTROL_DATA,    /* WskSendEx with control data */
  X_CONTROL_FLAGS,   /* WskReceiveEx with ControlFlags (reserved, must be NULL) */
  X_BAD_ACTION,      /* WskInspectComplete with WskInspectPend */
  X_BAD_TYPE,        /* WskControlSocket with RequestType 7 */
  X_NONE,            /* nothing in the arguments: the socket's state or category is wrong */
} FAULT;

typedef struct _ROW {
  FUNCTION Function;
  ROLE Role;
  FAULT Fault;
  NTSTATUS Expected;
  const char *Name;
} ROW;

#define INV STATUS_INVALID_PARAMETER
#define NSUP STATUS_NOT_SUPPORTED
#define STATE STATUS_INVALID_DEVICE_STATE

static const ROW Rows[] = {
    /* WskControlSocket */
    {F_CONTROL_SET, R_CONN, X_NULL_IRP, INV, "WskControlSocket set without an IRP"},
    {F_CONTROL_SET, R_CONN, X_NULL_POINTER, INV, "WskControlSocket set, InputBuffer NULL"},
    {F_CONTROL_GET, R_CONN, X_NULL_POINTER, INV, "WskControlSocket get, OutputBuffer NULL"},
    {F_CONTROL_SET, R_CONN, X_BAD_TYPE, INV, "WskControlSocket, RequestType 7"},
    {F_SET_REMOTE, R_DGRAM, X_NULL_IRP, INV, "SIO_WSK_SET_REMOTE_ADDRESS without an IRP"},
    {F_SET_REMOTE, R_DGRAM, X_SHORT_LENGTH, INV, "SIO_WSK_SET_REMOTE_ADDRESS, short InputSize"},
    {F_SET_REMOTE, R_DGRAM, X_LONG_LENGTH, INV, "SIO_WSK_SET_REMOTE_ADDRESS, long InputSize"},
    {F_SET_REMOTE, R_DGRAM, X_WRONG_FAMILY, INV, "SIO_WSK_SET_REMOTE_ADDRESS, family 99"},
    {F_SET_REMOTE, R_DGRAM, X_OTHER_FAMILY, INV, "SIO_WSK_SET_REMOTE_ADDRESS, the other family"},
    {F_SET_REMOTE, R_DGRAM_UNBOUND, X_NONE, STATE, "SIO_WSK_SET_REMOTE_ADDRESS before bind"},
    {F_SET_REMOTE, R_CONN, X_NONE, NSUP, "SIO_WSK_SET_REMOTE_ADDRESS on a connection socket"},
    {F_SET_SENDTO, R_DGRAM, X_SHORT_LENGTH, INV, "SIO_WSK_SET_SENDTO_ADDRESS, short InputSize"},
    {F_SET_SENDTO, R_DGRAM, X_LONG_LENGTH, INV, "SIO_WSK_SET_SENDTO_ADDRESS, long InputSize"},
    {F_SET_SENDTO, R_DGRAM, X_WRONG_FAMILY, INV, "SIO_WSK_SET_SENDTO_ADDRESS, family 99"},
    {F_SET_SENDTO, R_DGRAM, X_OTHER_FAMILY, INV, "SIO_WSK_SET_SENDTO_ADDRESS, the other family"},
    {F_SET_SENDTO, R_DGRAM_UNBOUND, X_NONE, STATE, "SIO_WSK_SET_SENDTO_ADDRESS before bind"},
    /* WskCloseSocket */
    {F_CLOSE, R_CONN, X_NULL_IRP, INV, "WskCloseSocket without an IRP"},
    {F_CLOSE, R_DGRAM, X_NULL_IRP, INV, "WskCloseSocket without an IRP"},
    /* WskBind */
    {F_BIND, R_CONN_UNBOUND, X_NULL_IRP, INV, "WskBind without an IRP"},
    {F_BIND, R_CONN_UNBOUND, X_NULL_POINTER, INV, "WskBind, LocalAddress NULL"},
    {F_BIND, R_CONN_UNBOUND, X_WRONG_FAMILY, INV, "WskBind, family 99"},
    {F_BIND, R_CONN_UNBOUND, X_OTHER_FAMILY, INV, "WskBind, the other family"},
    {F_BIND, R_CONN_UNBOUND, X_RESERVED_FLAG, INV, "WskBind, reserved flag"},
    {F_BIND, R_DGRAM_UNBOUND, X_OTHER_FAMILY, INV, "WskBind, the other family"},
    {F_BIND, R_STREAM_UNBOUND, X_WRONG_FAMILY, INV, "WskBind, family 99"},
    {F_BIND, R_DGRAM, X_NONE, STATUS_ADDRESS_ALREADY_ASSOCIATED, "WskBind twice"},
    {F_BIND, R_LISTEN, X_NONE, STATUS_ADDRESS_ALREADY_ASSOCIATED, "WskBind twice"},
    {F_BIND, R_BASIC, X_NONE, STATE, "WskBind of a basic socket"},
    /* WskListen (stream table) */
    {F_LISTEN, R_STREAM_BOUND, X_NULL_IRP, INV, "WskListen without an IRP"},
    {F_LISTEN, R_STREAM_UNBOUND, X_NONE, STATE, "WskListen before bind"},
    {F_LISTEN, R_CONN_BOUND, X_NONE, NSUP, "WskListen of a connection socket"},
    {F_LISTEN, R_LISTEN, X_NONE, NSUP, "WskListen of a listening socket"},
    {F_LISTEN, R_DGRAM, X_NONE, NSUP, "WskListen of a datagram socket"},
    {F_LISTEN, R_BASIC, X_NONE, NSUP, "WskListen of a basic socket"},
    /* WskAccept (listening table) */
    {F_ACCEPT, R_LISTEN, X_NULL_IRP, INV, "WskAccept without an IRP"},
    {F_ACCEPT, R_LISTEN, X_RESERVED_FLAG, INV, "WskAccept, reserved flag"},
    {F_ACCEPT, R_STREAM_BOUND, X_NONE, STATE, "WskAccept before WskListen"},
    {F_ACCEPT, R_CONN, X_NONE, NSUP, "WskAccept of a connection socket"},
    {F_ACCEPT, R_DGRAM, X_NONE, NSUP, "WskAccept of a datagram socket"},
    {F_ACCEPT, R_BASIC, X_NONE, NSUP, "WskAccept of a basic socket"},
    /* WskInspectComplete (listening table) */
    {F_INSPECT, R_LISTEN, X_NULL_IRP, INV, "WskInspectComplete without an IRP"},
    {F_INSPECT, R_LISTEN, X_NULL_POINTER, INV, "WskInspectComplete, InspectID NULL"},
    {F_INSPECT, R_LISTEN, X_BAD_ACTION, INV, "WskInspectComplete, WskInspectPend"},
    {F_INSPECT, R_LISTEN, X_NONE, STATE, "WskInspectComplete without conditional accept"},
    {F_INSPECT, R_STREAM_BOUND, X_NONE, NSUP, "WskInspectComplete of a stream socket"},
    {F_INSPECT, R_CONN, X_NONE, NSUP, "WskInspectComplete of a connection socket"},
    /* WskConnect (connection table) */
    {F_CONNECT, R_CONN_BOUND, X_NULL_IRP, INV, "WskConnect without an IRP"},
    {F_CONNECT, R_CONN_BOUND, X_NULL_POINTER, INV, "WskConnect, RemoteAddress NULL"},
    {F_CONNECT, R_CONN_BOUND, X_WRONG_FAMILY, INV, "WskConnect, family 99"},
    {F_CONNECT, R_CONN_BOUND, X_OTHER_FAMILY, INV, "WskConnect, the other family"},
    {F_CONNECT, R_CONN_BOUND, X_RESERVED_FLAG, INV, "WskConnect, reserved flag"},
    {F_CONNECT, R_CONN_UNBOUND, X_NONE, STATE, "WskConnect before bind"},
    {F_CONNECT, R_CONN, X_NONE, STATUS_CONNECTION_ACTIVE, "WskConnect when connected"},
    {F_CONNECT, R_DGRAM, X_NONE, NSUP, "WskConnect of a datagram socket"},
    {F_CONNECT, R_LISTEN, X_NONE, NSUP, "WskConnect of a listening socket"},
    {F_CONNECT, R_BASIC, X_NONE, NSUP, "WskConnect of a basic socket"},
    /* WskConnectEx (connection table; the WSK_BUF rows are in TestConnectEx) */
    {F_CONNECT_EX, R_CONN_BOUND, X_NULL_IRP, INV, "WskConnectEx without an IRP"},
    {F_CONNECT_EX, R_CONN_BOUND, X_NULL_POINTER, INV, "WskConnectEx, RemoteAddress NULL"},
    {F_CONNECT_EX, R_CONN_BOUND, X_WRONG_FAMILY, INV, "WskConnectEx, family 99"},
    {F_CONNECT_EX, R_CONN_BOUND, X_OTHER_FAMILY, INV, "WskConnectEx, the other family"},
    {F_CONNECT_EX, R_CONN_BOUND, X_RESERVED_FLAG, INV, "WskConnectEx, reserved flag"},
    {F_CONNECT_EX, R_CONN_UNBOUND, X_NONE, STATE, "WskConnectEx before bind"},
    {F_CONNECT_EX, R_DGRAM, X_NONE, NSUP, "WskConnectEx of a datagram socket"},
    /* WskGetLocalAddress (listening table) and WskGetRemoteAddress (connection table) */
    {F_LOCAL, R_CONN, X_NULL_IRP, INV, "WskGetLocalAddress without an IRP"},
    {F_LOCAL, R_CONN, X_NULL_POINTER, INV, "WskGetLocalAddress, LocalAddress NULL"},
    {F_LOCAL, R_CONN_UNBOUND, X_NONE, STATE, "WskGetLocalAddress before bind"},
    {F_LOCAL, R_DGRAM_UNBOUND, X_NONE, STATE, "WskGetLocalAddress before bind"},
    {F_LOCAL, R_BASIC, X_NONE, NSUP, "WskGetLocalAddress of a basic socket"},
    {F_REMOTE, R_CONN, X_NULL_IRP, INV, "WskGetRemoteAddress without an IRP"},
    {F_REMOTE, R_CONN, X_NULL_POINTER, INV, "WskGetRemoteAddress, RemoteAddress NULL"},
    {F_REMOTE, R_CONN_BOUND, X_NONE, STATE, "WskGetRemoteAddress before connect"},
    {F_REMOTE, R_STREAM_BOUND, X_NONE, STATE, "WskGetRemoteAddress before connect"},
    {F_REMOTE, R_DGRAM, X_NONE, NSUP, "WskGetRemoteAddress of a datagram socket"},
    {F_REMOTE, R_LISTEN, X_NONE, NSUP, "WskGetRemoteAddress of a listening socket"},
    /* WskSend (connection table) */
    {F_SEND, R_CONN, X_NULL_IRP, INV, "WskSend without an IRP"},
    {F_SEND, R_CONN, X_NULL_POINTER, INV, "WskSend, Buffer NULL"},
    {F_SEND, R_CONN, X_NULL_MDL, INV, "WskSend, Mdl NULL and Length 100"},
    {F_SEND, R_CONN, X_SHORT_CHAIN, INV, "WskSend, MDL chain shorter than Length"},
    {F_SEND, R_CONN, X_OFFSET_PAST, INV, "WskSend, Offset past the first MDL"},
    {F_SEND, R_CONN, X_RESERVED_FLAG, NSUP, "WskSend, undefined flag"},
    {F_SEND, R_CONN_BOUND, X_NONE, STATE, "WskSend before connect"},
    {F_SEND, R_DGRAM, X_NONE, NSUP, "WskSend of a datagram socket"},
    {F_SEND, R_LISTEN, X_NONE, NSUP, "WskSend of a listening socket"},
    /* WskReceive (connection table) */
    {F_RECEIVE, R_CONN, X_NULL_IRP, INV, "WskReceive without an IRP"},
    {F_RECEIVE, R_CONN, X_NULL_POINTER, INV, "WskReceive, Buffer NULL"},
    {F_RECEIVE, R_CONN, X_NULL_MDL, INV, "WskReceive, Mdl NULL and Length 100"},
    {F_RECEIVE, R_CONN, X_SHORT_CHAIN, INV, "WskReceive, MDL chain shorter than Length"},
    {F_RECEIVE, R_CONN, X_OFFSET_PAST, INV, "WskReceive, Offset past the first MDL"},
    {F_RECEIVE, R_CONN, X_WAITALL_SHORT, INV, "WskReceive WAITALL, MDL chain shorter than Length"},
    {F_RECEIVE, R_CONN, X_RESERVED_FLAG, NSUP, "WskReceive, undefined flag"},
    {F_RECEIVE, R_CONN, X_WAITALL_DRAIN, INV, "WskReceive, WAITALL | DRAIN"},
    {F_RECEIVE, R_CONN, X_DRAIN_LENGTH, INV, "WskReceive, DRAIN with Length 16"},
    {F_RECEIVE, R_CONN_BOUND, X_NONE, STATE, "WskReceive before connect"},
    {F_RECEIVE, R_DGRAM, X_NONE, NSUP, "WskReceive of a datagram socket"},
    {F_RECEIVE, R_LISTEN, X_NONE, NSUP, "WskReceive of a listening socket"},
    /* WskDisconnect (connection table) */
    {F_DISCONNECT, R_CONN, X_NULL_IRP, INV, "WskDisconnect without an IRP"},
    {F_DISCONNECT, R_CONN, X_NULL_MDL, INV, "WskDisconnect, Mdl NULL and Length 100"},
    {F_DISCONNECT, R_CONN, X_SHORT_CHAIN, INV, "WskDisconnect, MDL chain shorter than Length"},
    {F_DISCONNECT, R_CONN, X_OFFSET_PAST, INV, "WskDisconnect, Offset past the first MDL"},
    {F_DISCONNECT, R_CONN, X_ABORTIVE_BUFFER, INV, "WskDisconnect ABORTIVE with a buffer"},
    {F_DISCONNECT, R_CONN, X_RESERVED_FLAG, INV, "WskDisconnect, undefined flag"},
    {F_DISCONNECT, R_CONN_BOUND, X_NONE, STATE, "WskDisconnect before connect"},
    {F_DISCONNECT, R_DGRAM, X_NONE, NSUP, "WskDisconnect of a datagram socket"},
    /* WskRelease of data indications (connection table; no IRP) */
    {F_RELEASE_DATA, R_CONN, X_NULL_POINTER, INV, "WskRelease, DataIndication NULL"},
    {F_RELEASE_DATA, R_DGRAM, X_NONE, NSUP, "WskRelease (data) of a datagram socket"},
    /* WskSendEx and WskReceiveEx (connection table, reserved members) */
    {F_SEND_EX, R_CONN, X_CONTROL_DATA, NSUP, "WskSendEx with control data"},
    {F_SEND_EX, R_CONN, X_NULL_MDL, INV, "WskSendEx, Mdl NULL and Length 100"},
    {F_SEND_EX, R_DGRAM, X_NONE, NSUP, "WskSendEx of a datagram socket"},
    {F_RECEIVE_EX, R_CONN, X_CONTROL_FLAGS, INV, "WskReceiveEx with ControlFlags"},
    {F_RECEIVE_EX, R_CONN, X_NULL_MDL, INV, "WskReceiveEx, Mdl NULL and Length 100"},
    {F_RECEIVE_EX, R_DGRAM, X_NONE, NSUP, "WskReceiveEx of a datagram socket"},
    /* WskSendTo (datagram table) */
    {F_SEND_TO, R_DGRAM, X_NULL_IRP, INV, "WskSendTo without an IRP"},
    {F_SEND_TO, R_DGRAM, X_NULL_POINTER, INV, "WskSendTo, Buffer NULL"},
    {F_SEND_TO, R_DGRAM, X_NULL_MDL, INV, "WskSendTo, Mdl NULL and Length 100"},
    {F_SEND_TO, R_DGRAM, X_SHORT_CHAIN, INV, "WskSendTo, MDL chain shorter than Length"},
    {F_SEND_TO, R_DGRAM, X_OFFSET_PAST, INV, "WskSendTo, Offset past the first MDL"},
    {F_SEND_TO, R_DGRAM, X_RESERVED_FLAG, INV, "WskSendTo, reserved flag"},
    {F_SEND_TO, R_DGRAM, X_WRONG_FAMILY, INV, "WskSendTo, family 99"},
    {F_SEND_TO, R_DGRAM, X_OTHER_FAMILY, INV, "WskSendTo, the other family"},
    {F_SEND_TO, R_DGRAM, X_NO_DESTINATION, INV, "WskSendTo, no address and none fixed"},
    {F_SEND_TO, R_DGRAM, X_CONTROL_LENGTH, INV, "WskSendTo, ControlInfoLength without ControlInfo"},
    {F_SEND_TO, R_DGRAM_UNBOUND, X_NONE, STATE, "WskSendTo before bind"},
    {F_SEND_TO, R_CONN, X_NONE, NSUP, "WskSendTo of a connection socket"},
    {F_SEND_TO, R_LISTEN, X_NONE, NSUP, "WskSendTo of a listening socket"},
    {F_SEND_TO, R_BASIC, X_NONE, NSUP, "WskSendTo of a basic socket"},
    /* WskReceiveFrom (datagram table) */
    {F_RECEIVE_FROM, R_DGRAM, X_NULL_IRP, INV, "WskReceiveFrom without an IRP"},
    {F_RECEIVE_FROM, R_DGRAM, X_NULL_POINTER, INV, "WskReceiveFrom, Buffer NULL"},
    {F_RECEIVE_FROM, R_DGRAM, X_NULL_MDL, INV, "WskReceiveFrom, Mdl NULL and Length 100"},
    {F_RECEIVE_FROM, R_DGRAM, X_SHORT_CHAIN, INV, "WskReceiveFrom, MDL chain shorter than Length"},
    {F_RECEIVE_FROM, R_DGRAM, X_OFFSET_PAST, INV, "WskReceiveFrom, Offset past the first MDL"},
    {F_RECEIVE_FROM, R_DGRAM, X_RESERVED_FLAG, INV, "WskReceiveFrom, reserved flag"},
    {F_RECEIVE_FROM, R_DGRAM_UNBOUND, X_NONE, STATE, "WskReceiveFrom before bind"},
    {F_RECEIVE_FROM, R_CONN, X_NONE, NSUP, "WskReceiveFrom of a connection socket"},
    /* WskSendMessages (datagram table): the second element is the bad one */
    {F_SEND_MESSAGES, R_DGRAM, X_NULL_IRP, INV, "WskSendMessages without an IRP"},
    {F_SEND_MESSAGES, R_DGRAM, X_NULL_POINTER, INV, "WskSendMessages, BufferList NULL"},
    {F_SEND_MESSAGES, R_DGRAM, X_NULL_MDL, INV, "WskSendMessages, element 2: Mdl NULL"},
    {F_SEND_MESSAGES, R_DGRAM, X_SHORT_CHAIN, INV, "WskSendMessages, element 2: short chain"},
    {F_SEND_MESSAGES, R_DGRAM, X_OFFSET_PAST, INV,
     "WskSendMessages, element 2: Offset past the first MDL"},
    {F_SEND_MESSAGES, R_DGRAM, X_RESERVED_FLAG, INV, "WskSendMessages, reserved flag"},
    {F_SEND_MESSAGES, R_DGRAM, X_WRONG_FAMILY, INV, "WskSendMessages, family 99"},
    {F_SEND_MESSAGES, R_DGRAM, X_OTHER_FAMILY, INV, "WskSendMessages, the other family"},
    {F_SEND_MESSAGES, R_DGRAM, X_NO_DESTINATION, INV, "WskSendMessages, no address, none fixed"},
    {F_SEND_MESSAGES, R_DGRAM_UNBOUND, X_NONE, STATE, "WskSendMessages before bind"},
    {F_SEND_MESSAGES, R_CONN, X_NONE, NSUP, "WskSendMessages of a connection socket"},
    /* WskRelease of datagram indications (datagram table; no IRP) */
    {F_RELEASE_DGRAM, R_DGRAM, X_NULL_POINTER, INV, "WskRelease, DatagramIndication NULL"},
    {F_RELEASE_DGRAM, R_CONN, X_NONE, NSUP, "WskRelease (datagrams) of a connection socket"},
};

/* The rows whose functions take no IRP. */
static BOOLEAN NoIrp(FUNCTION Function) {
  return Function == F_RELEASE_DATA || Function == F_RELEASE_DGRAM;
}

/* What a row's call may have written: all preset to the poison, checked afterwards. */
typedef struct _OUTPUTS {
  CONF_ADDR Local;
  CONF_ADDR Remote;
  ULONG ControlLength;
  ULONG ControlFlags;
  ULONG Option;
  SIZE_T Returned;
} OUTPUTS;

/* Runs one row's call; returns what the function returned. */
static NTSTATUS Invoke(FIXTURE *F, const ROW *R, BUFFERS *B, CONF_CALL *Call, OUTPUTS *Out) {
  PWSK_SOCKET s = F->Socket[R->Role];
  const PIRP irp = R->Fault == X_NULL_IRP ? NULL : ConfIrp(Call);
  const BOOLEAN null = R->Fault == X_NULL_POINTER;
  const SIZE_T family_size = F->Family == 6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN);
  const ULONG other = F->Family == 6 ? 4 : 6;
  CONF_ADDR address;
  SIZE_T address_size = family_size;
  PWSK_BUF buffer = &B->Buf;
  ULONG flags = 0;
  WSK_INSPECT_ID inspect = {0, 0};
  ULONG option = 1;
  UCHAR control[16];

  /* The addresses a row passes: the harness's listener for connects, its UDP socket for sends,
   * the wildcard for binds; then the row's fault. */
  if (R->Function == F_BIND) {
    ConfLoopback(&address, F->Family, 0);
  } else if (R->Function == F_CONNECT || R->Function == F_CONNECT_EX) {
    ConfLoopback(&address, F->Family, F->PeerListenerPort);
  } else {
    ConfLoopback(&address, F->Family, F->UdpPort);
  }
  if (R->Fault == X_WRONG_FAMILY) {
    address.Sa.sa_family = BAD_FAMILY;
  } else if (R->Fault == X_OTHER_FAMILY) {
    ConfLoopback(&address, other, ConfPort(&address));
  } else if (R->Fault == X_SHORT_LENGTH) {
    address_size = family_size - 1;
  } else if (R->Fault == X_LONG_LENGTH) {
    address_size = sizeof(SOCKADDR_STORAGE) + 1;
  }

  /* The WSK_BUF: the whole 16-byte chain unless the row breaks it. */
  B->Buf.Mdl = B->Part[0].Mdl;
  B->Buf.Offset = 0;
  B->Buf.Length = 16;
  switch (R->Fault) {
  case X_NULL_MDL:
    B->Buf.Mdl = NULL;
    B->Buf.Length = 100;
    break;
  case X_SHORT_CHAIN:
  case X_WAITALL_SHORT:
    B->Buf.Length = 17;
    break;
  case X_OFFSET_PAST:
    B->Buf.Offset = 12;
    B->Buf.Length = 2;
    break;
  default:
    break;
  }
  B->List[0].Next = &B->List[1];
  B->List[0].Buffer = B->First.Wsk;
  B->List[1].Next = NULL;
  B->List[1].Buffer = B->Buf;
  if (null) {
    buffer = NULL;
  }

  switch (R->Function) {
  case F_CONTROL_SET:
  case F_CONTROL_GET: {
    const BOOLEAN set = R->Function == F_CONTROL_SET;
    const WSK_CONTROL_SOCKET_TYPE type = R->Fault == X_BAD_TYPE ? (WSK_CONTROL_SOCKET_TYPE)7
                                         : set                  ? WskSetOption
                                                                : WskGetOption;
    return ((const WSK_PROVIDER_BASIC_DISPATCH *)s->Dispatch)
        ->WskControlSocket(s, type, SO_KEEPALIVE, SOL_SOCKET, set ? sizeof(option) : 0,
                           set && !null ? &option : NULL, set ? 0 : sizeof(Out->Option),
                           set || null ? NULL : &Out->Option, NULL, irp);
  }
  case F_SET_REMOTE:
  case F_SET_SENDTO:
    return ((const WSK_PROVIDER_BASIC_DISPATCH *)s->Dispatch)
        ->WskControlSocket(s, WskIoctl,
                           R->Function == F_SET_REMOTE ? SIO_WSK_SET_REMOTE_ADDRESS
                                                       : SIO_WSK_SET_SENDTO_ADDRESS,
                           0, address_size, &address, 0, NULL, NULL, irp);
  case F_CLOSE:
    return ((const WSK_PROVIDER_BASIC_DISPATCH *)s->Dispatch)->WskCloseSocket(s, irp);
  case F_BIND:
    return F->ConnTable->WskBind(s, null ? NULL : &address.Sa, R->Fault == X_RESERVED_FLAG ? 1 : 0,
                                 irp);
  case F_LISTEN:
    return F->StreamTable->WskListen(s, irp);
  case F_ACCEPT:
    return F->ListenTable->WskAccept(s, R->Fault == X_RESERVED_FLAG ? 1 : 0, NULL, NULL,
                                     &Out->Local.Sa, &Out->Remote.Sa, irp);
  case F_INSPECT:
    return F->ListenTable->WskInspectComplete(
        s, null ? NULL : &inspect, R->Fault == X_BAD_ACTION ? WskInspectPend : WskInspectAccept,
        irp);
  case F_CONNECT:
    return F->ConnTable->WskConnect(s, null ? NULL : &address.Sa,
                                    R->Fault == X_RESERVED_FLAG ? 1 : 0, irp);
  case F_CONNECT_EX:
    return F->ConnTable->WskConnectEx(s, null ? NULL : &address.Sa, NULL,
                                      R->Fault == X_RESERVED_FLAG ? 1 : 0, irp);
  case F_LOCAL:
    return F->ListenTable->WskGetLocalAddress(s, null ? NULL : &Out->Local.Sa, irp);
  case F_REMOTE:
    return F->ConnTable->WskGetRemoteAddress(s, null ? NULL : &Out->Remote.Sa, irp);
  case F_SEND:
    return F->ConnTable->WskSend(s, buffer, R->Fault == X_RESERVED_FLAG ? 0x100 : 0, irp);
  case F_RECEIVE:
    switch (R->Fault) {
    case X_WAITALL_SHORT:
      flags = WSK_FLAG_WAITALL;
      break;
    case X_RESERVED_FLAG:
      flags = 0x100;
      break;
    case X_WAITALL_DRAIN:
      flags = WSK_FLAG_WAITALL | WSK_FLAG_DRAIN;
      break;
    case X_DRAIN_LENGTH:
      flags = WSK_FLAG_DRAIN;
      break;
    default:
      break;
    }
    return F->ConnTable->WskReceive(s, buffer, flags, irp);
  case F_DISCONNECT:
    if (R->Fault == X_ABORTIVE_BUFFER) {
      flags = WSK_FLAG_ABORTIVE;
    } else if (R->Fault == X_RESERVED_FLAG) {
      flags = 0x100;
    }
    /* Graceful rows pass the chain as the final data only when it is what is wrong. */
    if (R->Fault != X_NULL_MDL && R->Fault != X_SHORT_CHAIN && R->Fault != X_OFFSET_PAST &&
        R->Fault != X_ABORTIVE_BUFFER) {
      buffer = NULL;
    }
    return F->ConnTable->WskDisconnect(s, buffer, flags, irp);
  case F_RELEASE_DATA:
    return F->ConnTable->WskRelease(s, NULL);
  case F_SEND_EX:
    RtlZeroMemory(control, sizeof(control));
    return F->ConnTable->WskSendEx(s, buffer, 0, R->Fault == X_CONTROL_DATA ? sizeof(control) : 0,
                                   R->Fault == X_CONTROL_DATA ? (PCMSGHDR)control : NULL, irp);
  case F_RECEIVE_EX:
    /* ControlInfoLength is passed only where the call must fail before it is written: uwsk
     * writes 0 there (TCP has no control data) before the receive is tried. */
    return F->ConnTable->WskReceiveEx(
        s, buffer, 0, R->Fault == X_CONTROL_FLAGS ? &Out->ControlLength : NULL, NULL,
        R->Fault == X_CONTROL_FLAGS ? &Out->ControlFlags : NULL, irp);
  case F_SEND_TO:
    return F->DgramTable->WskSendTo(s, buffer, R->Fault == X_RESERVED_FLAG ? 1 : 0,
                                    R->Fault == X_NO_DESTINATION ? NULL : &address.Sa,
                                    R->Fault == X_CONTROL_LENGTH ? 16 : 0, NULL, irp);
  case F_RECEIVE_FROM:
    return F->DgramTable->WskReceiveFrom(s, buffer, R->Fault == X_RESERVED_FLAG ? 1 : 0,
                                         &Out->Remote.Sa, &Out->ControlLength, NULL,
                                         &Out->ControlFlags, irp);
  case F_SEND_MESSAGES:
    return F->DgramTable->WskSendMessages(
        s, null ? NULL : B->List, R->Fault == X_RESERVED_FLAG ? 1 : 0,
        R->Fault == X_NO_DESTINATION ? NULL : &address.Sa, 0, NULL, irp);
  case F_RELEASE_DGRAM:
    return F->DgramTable->WskRelease(s, NULL);
  }
  return STATUS_UNSUCCESSFUL;
}

/* Whether the row's call receives into the chain (which must then stay as it was). */
static BOOLEAN Receives(FUNCTION Function) {
  return Function == F_RECEIVE || Function == F_RECEIVE_EX || Function == F_RECEIVE_FROM;
}

static void RunRow(FIXTURE *F, const ROW *R, BUFFERS *B) {
  CONF_CALL call;
  OUTPUTS out;
  NTSTATUS returned;
  char name[200];
  char primed[32];
  BOOLEAN stream_peer = R->Role == R_CONN;
  BOOLEAN dgram_peer = R->Role == R_DGRAM;

  if (F->Socket[R->Role] == NULL) {
    ConfCheck(FALSE, R->Name, "no %s (an earlier check failed)", RoleNames[R->Role]);
    return;
  }
  RtlStringCbPrintfA(name, sizeof(name), "%s (%s)", R->Name, RoleNames[R->Role]);
  if ((stream_peer && !StreamPrime(F, primed, sizeof(primed))) ||
      (dgram_peer && !DgramPrime(F, primed, sizeof(primed)))) {
    return;
  }
  if (!ConfCallInit(&call)) {
    return;
  }
  ConfPoison(&out, sizeof(out));
  BuffersReset(B, Receives(R->Function));
  returned = Invoke(F, R, B, &call, &out);
  if (R->Fault == X_NULL_IRP || NoIrp(R->Function)) {
    ConfExpectStatus(name, R->Expected, returned);
  } else {
    ConfReturned(&call, returned);
    ConfExpectCallNow(&call, name, R->Expected, 0);
  }
  ConfCallFree(&call);
  RtlStringCbPrintfA(name, sizeof(name), "%s (%s): outputs untouched", R->Name, RoleNames[R->Role]);
  ConfCheck(ConfIsPoisoned(&out, 0, sizeof(out)) && (!Receives(R->Function) || BuffersPoisoned(B)),
            name, "an output or the receive buffer was written");
  RtlStringCbPrintfA(name, sizeof(name), "%s (%s)", R->Name, RoleNames[R->Role]);
  if (stream_peer) {
    StreamVerify(F, name, primed);
  } else if (dgram_peer) {
    DgramVerify(F, name, primed);
  }
}

/* After the rows: the sockets they failed on are in the state they were in. */
static void CheckStatesKept(FIXTURE *F) {
  CONF_ADDR local;
  CONF_ADDR remote;
  CONF_CALL call;
  char reply[128];
  USHORT port;

  ConfScope("v%lu state kept", F->Family);
  /* The unbound sockets bind now. */
  ConfLoopback(&local, F->Family, 0);
  ConfBind("unbound connection socket binds", F->Socket[R_CONN_UNBOUND], &local, STATUS_SUCCESS);
  ConfBind("unbound datagram socket binds", F->Socket[R_DGRAM_UNBOUND], &local, STATUS_SUCCESS);
  ConfBind("unbound stream socket binds", F->Socket[R_STREAM_UNBOUND], &local, STATUS_SUCCESS);
  /* The bound connection socket was not connected by a failed WskConnect: it connects now, and
   * the harness's first waiting connection is that one. */
  port = ConfLocalPort(F->Socket[R_CONN_BOUND], CONNECTION, NULL);
  ConfLoopback(&remote, F->Family, F->PeerListenerPort);
  if (ConfCallInit(&call)) {
    ConfReturned(&call,
                 F->ConnTable->WskConnect(F->Socket[R_CONN_BOUND], &remote.Sa, 0, ConfIrp(&call)));
    ConfExpectCall(&call, "the bound connection socket connects", STATUS_SUCCESS, 0);
    ConfCallFree(&call);
    if (ConfCheck(ConfCommand(reply, sizeof(reply), "ACCEPT %lu", F->PeerListener),
                  "harness accepts", "answer '%s'", reply)) {
      ConfExpectValue("the first connection the harness sees is that socket's", port,
                      ConfField(reply, 1));
      ConfCommand(reply, sizeof(reply), "CLOSE %lu", ConfField(reply, 0));
    }
  }
  /* The bound stream socket still listens when asked. */
  if (ConfCallInit(&call)) {
    ConfReturned(&call, F->StreamTable->WskListen(F->Socket[R_STREAM_BOUND], ConfIrp(&call)));
    ConfExpectCall(&call, "the bound stream socket listens", STATUS_SUCCESS, 0);
    ConfCallFree(&call);
  }
  /* No fixed address was set by a failed IOCTL: a send without an address still fails. */
  if (F->Socket[R_DGRAM] != NULL && ConfCallInit(&call)) {
    CONF_BUFFER buffer;
    if (ConfBufferInit(&buffer, 4)) {
      ConfReturned(&call, F->DgramTable->WskSendTo(F->Socket[R_DGRAM], &buffer.Wsk, 0, NULL, 0,
                                                   NULL, ConfIrp(&call)));
      ConfExpectCallNow(&call, "no fixed address was set: WskSendTo without one",
                        STATUS_INVALID_PARAMETER, 0);
      ConfBufferFree(&buffer);
    }
    ConfCallFree(&call);
  }
}

static void TestSocketRows(ULONG Family) {
  FIXTURE fixture;
  BUFFERS buffers;
  ULONG i;

  ConfScope("v%lu socket", Family);
  if (!BuffersInit(&buffers)) {
    BuffersFree(&buffers);
    return;
  }
  if (FixtureInit(&fixture, Family)) {
    for (i = 0; i < sizeof(Rows) / sizeof(Rows[0]); i++) {
      RunRow(&fixture, &Rows[i], &buffers);
    }
    CheckStatesKept(&fixture);
  }
  FixtureFree(&fixture);
  BuffersFree(&buffers);
}

/* ---- WskConnectEx with a bad WSK_BUF ----------------------------------------------------------
 */

/* Each bad buffer fails before the connection is attempted: afterwards the same socket connects
 * with valid data, the harness's first connection is that socket's, and its first bytes are the
 * valid data. */
static void TestConnectEx(ULONG Family) {
  static const FAULT faults[] = {X_NULL_MDL, X_SHORT_CHAIN, X_OFFSET_PAST};
  static const char *const names[] = {"Mdl NULL and Length 100", "MDL chain shorter than Length",
                                      "Offset past the first MDL"};
  CONF_ADDR remote;
  CONF_CALL call;
  BUFFERS b;
  CONF_BUFFER big;
  CONF_BUFFER good;
  PWSK_SOCKET s;
  const WSK_PROVIDER_CONNECTION_DISPATCH *d;
  char reply[160];
  char name[160];
  ULONG listener;
  USHORT port;
  ULONG i;

  RtlZeroMemory(&b, sizeof(b));
  RtlZeroMemory(&big, sizeof(big));
  RtlZeroMemory(&good, sizeof(good));
  ConfScope("v%lu WskConnectEx", Family);
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "LISTEN %lu", Family), "harness listens",
                 "answer '%s'", reply)) {
    return;
  }
  listener = ConfField(reply, 0);
  ConfLoopback(&remote, Family, (USHORT)ConfField(reply, 1));
  s = BoundSocket("connection socket", Family, SOCK_STREAM, IPPROTO_TCP, CONNECTION, &port);
  if (s != NULL && BuffersInit(&b) && ConfBufferInit(&big, 65536) && ConfBufferInit(&good, 7) &&
      ConfCallInit(&call)) {
    d = (const WSK_PROVIDER_CONNECTION_DISPATCH *)s->Dispatch;
    BuffersReset(&b, FALSE);
    for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
      b.Buf.Mdl = b.Part[0].Mdl;
      b.Buf.Offset = 0;
      b.Buf.Length = 17;
      if (faults[i] == X_NULL_MDL) {
        b.Buf.Mdl = NULL;
        b.Buf.Length = 100;
      } else if (faults[i] == X_OFFSET_PAST) {
        b.Buf.Offset = 12;
        b.Buf.Length = 2;
      }
      RtlStringCbPrintfA(name, sizeof(name), "WskConnectEx, %s", names[i]);
      ConfReturned(&call, d->WskConnectEx(s, &remote.Sa, &b.Buf, 0, ConfIrp(&call)));
      ConfExpectCallNow(&call, name, STATUS_INVALID_PARAMETER, 0);
    }
    ConfReturned(&call, d->WskConnectEx(s, &remote.Sa, &big.Wsk, 0, ConfIrp(&call)));
    ConfExpectCallNow(&call, "WskConnectEx with 65,536 bytes", STATUS_BUFFER_OVERFLOW, 0);
    RtlCopyMemory(good.Data, "connect", 7);
    ConfReturned(&call, d->WskConnectEx(s, &remote.Sa, &good.Wsk, 0, ConfIrp(&call)));
    if (ConfExpectCall(&call, "then a valid WskConnectEx connects", STATUS_SUCCESS, 0) &&
        ConfCheck(ConfCommand(reply, sizeof(reply), "ACCEPT %lu", listener), "harness accepts",
                  "answer '%s'", reply)) {
      const ULONG connection = ConfField(reply, 0);
      ConfExpectValue("the first connection the harness sees is that socket's", port,
                      ConfField(reply, 1));
      ConfCheck(ConfCommand(reply, sizeof(reply), "RECV %lu 7", connection) &&
                    strcmp(reply, "OK 636f6e6e656374") == 0,
                "the first bytes are the valid call's", "answer '%s'", reply);
      ConfCommand(reply, sizeof(reply), "CLOSE %lu", connection);
    }
    ConfCallFree(&call);
  }
  ConfBufferFree(&good);
  ConfBufferFree(&big);
  BuffersFree(&b);
  ConfClose("connection socket", s);
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", listener);
}

/* ---- Client level -----------------------------------------------------------------------------
 */

static NTSTATUS ControlClient(PWSK_CLIENT Client, ULONG Code, SIZE_T InputSize, PVOID Input,
                              SIZE_T OutputSize, PVOID Output, SIZE_T *Returned, PIRP Irp) {
  return ConfNpi.Dispatch->WskControlClient(Client, Code, InputSize, Input, OutputSize, Output,
                                            Returned, Irp);
}

/* WSK_CACHE_SD of a descriptor of our own; NULL on failure. */
static PVOID CacheDescriptor(PVOID Descriptor) {
  PVOID cached = NULL;
  if (!NT_SUCCESS(ControlClient(ConfNpi.Client, WSK_CACHE_SD, sizeof(Descriptor), &Descriptor,
                                sizeof(cached), &cached, NULL, NULL))) {
    return NULL;
  }
  return cached;
}

static void ReleaseDescriptor(PVOID Cached) {
  ConfExpectStatus(
      "WSK_RELEASE_SD", STATUS_SUCCESS,
      ControlClient(ConfNpi.Client, WSK_RELEASE_SD, sizeof(Cached), &Cached, 0, NULL, NULL, NULL));
}

/* A WskSocket or WskSocketConnect that succeeded where it must fail handed out a socket: close
 * it, so that WskDeregister does not wait for it. */
static void CloseUnexpected(CONF_CALL *Call) {
  if (ConfCompleted(Call) && NT_SUCCESS(Call->Irp->IoStatus.Status) &&
      Call->Irp->IoStatus.Information != 0) {
    ConfClose("a socket the failing call created", (PWSK_SOCKET)Call->Irp->IoStatus.Information);
  }
}

typedef struct _SOCKET_ROW {
  const char *Name;
  BOOLEAN NullClient;
  ADDRESS_FAMILY Af; /* SAME_FAMILY: the family tested */
  ULONG Flags;
  BOOLEAN ThreadWithoutProcess;
  int Descriptor; /* 0 none, 1 not cached, 2 released */
  NTSTATUS Expected;
} SOCKET_ROW;

static const SOCKET_ROW SocketRows[] = {
    {"WskSocket, Client NULL", TRUE, SAME_FAMILY, CONNECTION, FALSE, 0, INV},
    {"WskSocket, AF_UNSPEC", FALSE, AF_UNSPEC, CONNECTION, FALSE, 0, NSUP},
    {"WskSocket, family 99", FALSE, BAD_FAMILY, CONNECTION, FALSE, 0, NSUP},
    {"WskSocket, category flag 0x10", FALSE, SAME_FAMILY, 0x10, FALSE, 0, INV},
    {"WskSocket, flag 0x80000000", FALSE, SAME_FAMILY, 0x80000000u, FALSE, 0, INV},
    {"WskSocket, two category flags", FALSE, SAME_FAMILY, CONNECTION | LISTEN, FALSE, 0, INV},
    {"WskSocket, OwningThread without OwningProcess", FALSE, SAME_FAMILY, CONNECTION, TRUE, 0, INV},
    {"WskSocket, a SecurityDescriptor not from WSK_CACHE_SD", FALSE, SAME_FAMILY, LISTEN, FALSE, 1,
     INV},
    {"WskSocket, a released cached SecurityDescriptor", FALSE, SAME_FAMILY, LISTEN, FALSE, 2, INV},
};

static void TestSocket(ULONG Family) {
  UCHAR descriptor_bytes[20];
  PVOID descriptor = descriptor_bytes;
  PVOID released;
  PVOID cached;
  PVOID read_back = (PVOID)(ULONG_PTR)CONF_POISON;
  CONF_CALL call;
  ULONG i;
  int thread_marker = 0;

  ConfScope("v%lu WskSocket", Family);
  RtlZeroMemory(descriptor_bytes, sizeof(descriptor_bytes));
  descriptor_bytes[0] = 1; /* SECURITY_DESCRIPTOR_REVISION */
  if (!ConfCallInit(&call)) {
    return;
  }
  /* A descriptor that was cached and released again. */
  released = CacheDescriptor(descriptor);
  ConfExpectTrue("WSK_CACHE_SD", released != NULL);
  if (released != NULL) {
    ReleaseDescriptor(released);
  }
  for (i = 0; i < sizeof(SocketRows) / sizeof(SocketRows[0]); i++) {
    const SOCKET_ROW *r = &SocketRows[i];
    PSECURITY_DESCRIPTOR sd = r->Descriptor == 1   ? descriptor
                              : r->Descriptor == 2 ? released
                                                   : NULL;
    ConfReturned(&call, ConfNpi.Dispatch->WskSocket(
                            r->NullClient ? NULL : ConfNpi.Client,
                            r->Af != SAME_FAMILY ? r->Af : ConfAf(Family), SOCK_STREAM, IPPROTO_TCP,
                            r->Flags, NULL, NULL, NULL,
                            r->ThreadWithoutProcess ? (PETHREAD)&thread_marker : NULL, sd,
                            ConfIrp(&call)));
    ConfExpectCallNow(&call, r->Name, r->Expected, 0);
    CloseUnexpected(&call);
  }
  ConfExpectStatus("WskSocket without an IRP", STATUS_INVALID_PARAMETER,
                   ConfNpi.Dispatch->WskSocket(ConfNpi.Client, ConfAf(Family), SOCK_STREAM,
                                               IPPROTO_TCP, CONNECTION, NULL, NULL, NULL, NULL,
                                               NULL, NULL));

  /* A cached descriptor is taken, and SO_WSK_SECURITY reads it back from the new socket. */
  cached = CacheDescriptor(descriptor);
  ConfExpectTrue("WSK_CACHE_SD", cached != NULL);
  if (cached != NULL) {
    ConfReturned(&call, ConfNpi.Dispatch->WskSocket(ConfNpi.Client, ConfAf(Family), SOCK_STREAM,
                                                    IPPROTO_TCP, LISTEN, NULL, NULL, NULL, NULL,
                                                    cached, ConfIrp(&call)));
    if (ConfExpectCall(&call, "WskSocket with a cached SecurityDescriptor", STATUS_SUCCESS,
                       CONF_ANY_INFORMATION)) {
      PWSK_SOCKET s = (PWSK_SOCKET)call.Irp->IoStatus.Information;
      ConfReturned(&call,
                   ((const WSK_PROVIDER_BASIC_DISPATCH *)s->Dispatch)
                       ->WskControlSocket(s, WskGetOption, SO_WSK_SECURITY, SOL_SOCKET, 0, NULL,
                                          sizeof(read_back), &read_back, NULL, ConfIrp(&call)));
      if (ConfExpectCall(&call, "SO_WSK_SECURITY get", STATUS_SUCCESS, sizeof(PVOID))) {
        ConfExpectTrue("the socket has the cached descriptor", read_back == cached);
        if (read_back == cached) {
          ReleaseDescriptor(read_back);
        }
      }
      /* SO_WSK_SECURITY set with a descriptor that is not cached fails too. */
      ConfReturned(&call, ((const WSK_PROVIDER_BASIC_DISPATCH *)s->Dispatch)
                              ->WskControlSocket(s, WskSetOption, SO_WSK_SECURITY, SOL_SOCKET,
                                                 sizeof(descriptor), &descriptor, 0, NULL, NULL,
                                                 ConfIrp(&call)));
      ConfExpectCallNow(&call, "SO_WSK_SECURITY set, not from WSK_CACHE_SD",
                        STATUS_INVALID_PARAMETER, 0);
      ConfClose("socket with a descriptor", s);
    }
    ReleaseDescriptor(cached);
  }
  ConfCallFree(&call);
}

/* WskSocketConnect: every failing call against one harness listener; then one valid call with
 * Flags = WSK_FLAG_CONNECTION_SOCKET, which uwsk accepts as Windows does; its connection must
 * be the first the harness sees (no failing call connected). */
static void TestSocketConnect(ULONG Family) {
  UCHAR descriptor_bytes[20];
  PVOID descriptor = descriptor_bytes;
  CONF_ADDR local;
  CONF_ADDR remote;
  CONF_ADDR other;
  CONF_ADDR bad_local;
  CONF_ADDR bad_remote;
  CONF_CALL call;
  char reply[160];
  ULONG listener;
  int thread_marker = 0;
  struct {
    const char *Name;
    PWSK_CLIENT Client;
    PSOCKADDR Local;
    PSOCKADDR Remote;
    ULONG Flags;
    PETHREAD Thread;
    PSECURITY_DESCRIPTOR Sd;
    NTSTATUS Expected;
  } rows[10];
  ULONG count = 0;
  ULONG i;

  ConfScope("v%lu WskSocketConnect", Family);
  RtlZeroMemory(descriptor_bytes, sizeof(descriptor_bytes));
  descriptor_bytes[0] = 1;
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "LISTEN %lu", Family), "harness listens",
                 "answer '%s'", reply)) {
    return;
  }
  listener = ConfField(reply, 0);
  ConfLoopback(&local, Family, 0);
  ConfLoopback(&remote, Family, (USHORT)ConfField(reply, 1));
  ConfLoopback(&other, Family == 6 ? 4 : 6, ConfPort(&remote));
  bad_local = local;
  bad_local.Sa.sa_family = BAD_FAMILY;
  bad_remote = remote;
  bad_remote.Sa.sa_family = BAD_FAMILY;
#define SC_ROW(n, c, l, r, f, t, sd, e)                                                            \
  do {                                                                                             \
    rows[count].Name = (n);                                                                        \
    rows[count].Client = (c);                                                                      \
    rows[count].Local = (l);                                                                       \
    rows[count].Remote = (r);                                                                      \
    rows[count].Flags = (f);                                                                       \
    rows[count].Thread = (t);                                                                      \
    rows[count].Sd = (sd);                                                                         \
    rows[count].Expected = (e);                                                                    \
    count++;                                                                                       \
  } while (0)
  SC_ROW("Client NULL", NULL, &local.Sa, &remote.Sa, 0, NULL, NULL, INV);
  SC_ROW("LocalAddress NULL", ConfNpi.Client, NULL, &remote.Sa, 0, NULL, NULL, INV);
  SC_ROW("RemoteAddress NULL", ConfNpi.Client, &local.Sa, NULL, 0, NULL, NULL, INV);
  SC_ROW("family 99 (both addresses)", ConfNpi.Client, &bad_local.Sa, &bad_remote.Sa, 0, NULL, NULL,
         INV);
  SC_ROW("remote of family 99", ConfNpi.Client, &local.Sa, &bad_remote.Sa, 0, NULL, NULL, INV);
  SC_ROW("remote of the other family", ConfNpi.Client, &local.Sa, &other.Sa, 0, NULL, NULL, INV);
  SC_ROW("Flags WSK_FLAG_LISTEN_SOCKET", ConfNpi.Client, &local.Sa, &remote.Sa, LISTEN, NULL, NULL,
         INV);
  SC_ROW("Flags 0x100", ConfNpi.Client, &local.Sa, &remote.Sa, 0x100, NULL, NULL, INV);
  SC_ROW("OwningThread without OwningProcess", ConfNpi.Client, &local.Sa, &remote.Sa, 0,
         (PETHREAD)&thread_marker, NULL, INV);
  SC_ROW("a SecurityDescriptor not from WSK_CACHE_SD", ConfNpi.Client, &local.Sa, &remote.Sa, 0,
         NULL, descriptor, INV);
#undef SC_ROW
  if (!ConfCallInit(&call)) {
    ConfCommand(reply, sizeof(reply), "CLOSE %lu", listener);
    return;
  }
  for (i = 0; i < count; i++) {
    char name[160];
    RtlStringCbPrintfA(name, sizeof(name), "WskSocketConnect, %s", rows[i].Name);
    ConfReturned(&call,
                 ConfNpi.Dispatch->WskSocketConnect(
                     rows[i].Client, SOCK_STREAM, IPPROTO_TCP, rows[i].Local, rows[i].Remote,
                     rows[i].Flags, NULL, NULL, NULL, rows[i].Thread, rows[i].Sd, ConfIrp(&call)));
    ConfExpectCallNow(&call, name, rows[i].Expected, 0);
    CloseUnexpected(&call);
  }
  ConfExpectStatus("WskSocketConnect without an IRP", STATUS_INVALID_PARAMETER,
                   ConfNpi.Dispatch->WskSocketConnect(ConfNpi.Client, SOCK_STREAM, IPPROTO_TCP,
                                                      &local.Sa, &remote.Sa, 0, NULL, NULL, NULL,
                                                      NULL, NULL, NULL));

  ConfReturned(&call, ConfNpi.Dispatch->WskSocketConnect(ConfNpi.Client, SOCK_STREAM, IPPROTO_TCP,
                                                         &local.Sa, &remote.Sa, CONNECTION, NULL,
                                                         NULL, NULL, NULL, NULL, ConfIrp(&call)));
  if (ConfExpectCall(&call, "WskSocketConnect, Flags WSK_FLAG_CONNECTION_SOCKET (accepted)",
                     STATUS_SUCCESS, CONF_ANY_INFORMATION)) {
    PWSK_SOCKET s = (PWSK_SOCKET)call.Irp->IoStatus.Information;
    const USHORT port = ConfLocalPort(s, CONNECTION, NULL);
    if (ConfCheck(ConfCommand(reply, sizeof(reply), "ACCEPT %lu", listener), "harness accepts",
                  "answer '%s'", reply)) {
      const ULONG connection = ConfField(reply, 0);
      ConfExpectValue("the first connection the harness sees is the valid call's", port,
                      ConfField(reply, 1));
      if (ConfSendAll("send over it", s, CONNECTION, "works", 5)) {
        ConfCheck(ConfCommand(reply, sizeof(reply), "RECV %lu 5", connection) &&
                      strcmp(reply, "OK 776f726b73") == 0,
                  "the harness receives it", "answer '%s'", reply);
      }
      ConfCommand(reply, sizeof(reply), "CLOSE %lu", connection);
    }
    ConfClose("socket", s);
  }
  ConfCallFree(&call);
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", listener);
}

static void TestControlClient(void) {
  CONF_CALL call;
  SIZE_T returned = CONF_POISON;
  WSK_TRANSPORT transports[8];
  UCHAR descriptor_bytes[20];
  PVOID descriptor = descriptor_bytes;
  PVOID cached = (PVOID)(ULONG_PTR)CONF_POISON;

  ConfScope("WskControlClient");
  RtlZeroMemory(descriptor_bytes, sizeof(descriptor_bytes));
  descriptor_bytes[0] = 1;
  ConfPoison(transports, sizeof(transports));
  ConfExpectStatus("Client NULL", STATUS_INVALID_PARAMETER,
                   ControlClient(NULL, WSK_TRANSPORT_LIST_QUERY, 0, NULL, sizeof(transports),
                                 transports, &returned, NULL));
  ConfCheck(returned == CONF_POISON && ConfIsPoisoned(transports, 0, sizeof(transports)),
            "Client NULL: outputs untouched", "OutputSizeReturned %Iu", returned);
  if (ConfCallInit(&call)) {
    ConfReturned(&call, ControlClient(NULL, WSK_TRANSPORT_LIST_CHANGE, 0, NULL, 0, NULL, NULL,
                                      ConfIrp(&call)));
    ConfExpectCallNow(&call, "Client NULL, WSK_TRANSPORT_LIST_CHANGE with an IRP",
                      STATUS_INVALID_PARAMETER, 0);
    ConfCallFree(&call);
  }
  ConfExpectStatus("WSK_CACHE_SD, InputBuffer NULL", STATUS_INVALID_PARAMETER,
                   ControlClient(ConfNpi.Client, WSK_CACHE_SD, sizeof(descriptor), NULL,
                                 sizeof(cached), &cached, NULL, NULL));
  ConfExpectStatus("WSK_CACHE_SD, OutputBuffer NULL", STATUS_INVALID_PARAMETER,
                   ControlClient(ConfNpi.Client, WSK_CACHE_SD, sizeof(descriptor), &descriptor,
                                 sizeof(cached), NULL, NULL, NULL));
  ConfExpectTrue("WSK_CACHE_SD failures wrote nothing", cached == (PVOID)(ULONG_PTR)CONF_POISON);
  ConfExpectStatus(
      "WSK_RELEASE_SD, InputBuffer NULL", STATUS_INVALID_PARAMETER,
      ControlClient(ConfNpi.Client, WSK_RELEASE_SD, sizeof(PVOID), NULL, 0, NULL, NULL, NULL));
  ConfExpectStatus("an unknown control code", STATUS_INVALID_PARAMETER,
                   ControlClient(ConfNpi.Client, 0x77, 0, NULL, 0, NULL, NULL, NULL));
}

/* ---- Name resolution ------------------------------------------------------------------------- */

static void TestGetAddressInfo(void) {
  UNICODE_STRING node;
  UNICODE_STRING service;
  UNICODE_STRING big_service;
  UNICODE_STRING top_service;
  UNICODE_STRING max_service;
  UNICODE_STRING signed_service;
  ADDRINFOEXW hints;
  PADDRINFOEXW result;
  CONF_CALL call;
  int thread_marker = 0;
  struct {
    const char *Name;
    PWSK_CLIENT Client;
    PUNICODE_STRING Node;
    PUNICODE_STRING Service;
    PADDRINFOEXW Hints;
    BOOLEAN NullResult;
    PETHREAD Thread;
  } rows[8];
  ULONG i;

  ConfScope("WskGetAddressInfo");
  RtlInitUnicodeString(&node, L"127.0.0.1");
  RtlInitUnicodeString(&service, L"80");
  RtlInitUnicodeString(&big_service, L"99999");
  RtlInitUnicodeString(&top_service, L"65536");
  RtlInitUnicodeString(&signed_service, L"-1");
  RtlInitUnicodeString(&max_service, L"65535");
  RtlZeroMemory(&hints, sizeof(hints));
  hints.ai_family = BAD_FAMILY;
  rows[0].Name = "Client NULL";
  rows[1].Name = "Result NULL";
  rows[2].Name = "no node and no service";
  rows[3].Name = "service 99999";
  rows[4].Name = "service 65536";
  rows[5].Name = "service -1";
  rows[6].Name = "hints of family 99";
  rows[7].Name = "OwningThread without OwningProcess";
  for (i = 0; i < 8; i++) {
    rows[i].Client = i == 0 ? NULL : ConfNpi.Client;
    rows[i].Node = i == 2 ? NULL : &node;
    rows[i].Service = i == 2 ? NULL : &service;
    rows[i].Hints = i == 6 ? &hints : NULL;
    rows[i].NullResult = i == 1;
    rows[i].Thread = i == 7 ? (PETHREAD)&thread_marker : NULL;
  }
  rows[3].Service = &big_service;
  rows[4].Service = &top_service;
  rows[5].Service = &signed_service;
  if (!ConfCallInit(&call)) {
    return;
  }
  for (i = 0; i < 8; i++) {
    result = (PADDRINFOEXW)(ULONG_PTR)CONF_POISON;
    ConfReturned(&call,
                 ConfNpi.Dispatch->WskGetAddressInfo(
                     rows[i].Client, rows[i].Node, rows[i].Service, NS_ALL, NULL, rows[i].Hints,
                     rows[i].NullResult ? NULL : &result, NULL, rows[i].Thread, ConfIrp(&call)));
    ConfExpectCallNow(&call, rows[i].Name, STATUS_INVALID_PARAMETER, 0);
    ConfCheck(result == (PADDRINFOEXW)(ULONG_PTR)CONF_POISON, "Result untouched", "%s: %p",
              rows[i].Name, result);
  }
  result = (PADDRINFOEXW)(ULONG_PTR)CONF_POISON;
  ConfExpectStatus("without an IRP", STATUS_INVALID_PARAMETER,
                   ConfNpi.Dispatch->WskGetAddressInfo(ConfNpi.Client, &node, &service, NS_ALL,
                                                       NULL, NULL, &result, NULL, NULL, NULL));
  /* The largest port is a port. */
  result = NULL;
  ConfReturned(&call, ConfNpi.Dispatch->WskGetAddressInfo(ConfNpi.Client, &node, &max_service,
                                                          NS_ALL, NULL, NULL, &result, NULL, NULL,
                                                          ConfIrp(&call)));
  if (ConfExpectCall(&call, "service 65535", STATUS_SUCCESS, 0) && result != NULL) {
    ConfExpectValue("port 65535", 65535,
                    RtlUshortByteSwap(((const SOCKADDR_IN *)result->ai_addr)->sin_port));
    ConfNpi.Dispatch->WskFreeAddressInfo(ConfNpi.Client, result);
  }
  ConfNpi.Dispatch->WskFreeAddressInfo(ConfNpi.Client, NULL);
  ConfCheck(TRUE, "WskFreeAddressInfo(NULL) does nothing", "");
  ConfCallFree(&call);
}

static void TestGetNameInfo(ULONG Family) {
  const ULONG size = Family == 6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN);
  WCHAR node_text[64];
  WCHAR service_text[16];
  UNICODE_STRING node;
  UNICODE_STRING service;
  UNICODE_STRING no_buffer;
  CONF_ADDR address;
  CONF_ADDR unspec;
  CONF_ADDR bad;
  CONF_CALL call;
  int thread_marker = 0;
  struct {
    const char *Name;
    PWSK_CLIENT Client;
    PSOCKADDR Address;
    ULONG Length;
    PUNICODE_STRING Node;
    PUNICODE_STRING Service;
    PETHREAD Thread;
  } rows[9];
  ULONG i;

  ConfScope("v%lu WskGetNameInfo", Family);
  ConfLoopback(&address, Family, 80);
  unspec = address;
  unspec.Sa.sa_family = AF_UNSPEC;
  bad = address;
  bad.Sa.sa_family = BAD_FAMILY;
  RtlZeroMemory(&no_buffer, sizeof(no_buffer));
  no_buffer.MaximumLength = 64;
  for (i = 0; i < 9; i++) {
    rows[i].Client = ConfNpi.Client;
    rows[i].Address = &address.Sa;
    rows[i].Length = size;
    rows[i].Node = &node;
    rows[i].Service = &service;
    rows[i].Thread = NULL;
  }
  rows[0].Name = "Client NULL";
  rows[0].Client = NULL;
  rows[1].Name = "SockAddr NULL";
  rows[1].Address = NULL;
  rows[2].Name = "NodeName and ServiceName NULL";
  rows[2].Node = NULL;
  rows[2].Service = NULL;
  rows[3].Name = "AF_UNSPEC";
  rows[3].Address = &unspec.Sa;
  rows[4].Name = "family 99";
  rows[4].Address = &bad.Sa;
  rows[5].Name = "SockAddrLength one byte short";
  rows[5].Length = size - 1;
  rows[6].Name = "SockAddrLength beyond SOCKADDR_STORAGE";
  rows[6].Length = sizeof(SOCKADDR_STORAGE) + 1;
  rows[7].Name = "NodeName without a buffer";
  rows[7].Node = &no_buffer;
  rows[8].Name = "OwningThread without OwningProcess";
  rows[8].Thread = (PETHREAD)&thread_marker;
  if (!ConfCallInit(&call)) {
    return;
  }
  for (i = 0; i < 9; i++) {
    ConfPoison(node_text, sizeof(node_text));
    ConfPoison(service_text, sizeof(service_text));
    node.Buffer = node_text;
    node.Length = 0x1234;
    node.MaximumLength = sizeof(node_text);
    service.Buffer = service_text;
    service.Length = 0x1234;
    service.MaximumLength = sizeof(service_text);
    ConfReturned(&call,
                 ConfNpi.Dispatch->WskGetNameInfo(
                     rows[i].Client, rows[i].Address, rows[i].Length, rows[i].Node, rows[i].Service,
                     NI_NUMERICHOST | NI_NUMERICSERV, NULL, rows[i].Thread, ConfIrp(&call)));
    ConfExpectCallNow(&call, rows[i].Name, STATUS_INVALID_PARAMETER, 0);
    ConfCheck(node.Length == 0x1234 && service.Length == 0x1234 &&
                  ConfIsPoisoned(node_text, 0, sizeof(node_text)) &&
                  ConfIsPoisoned(service_text, 0, sizeof(service_text)),
              "outputs untouched", "%s", rows[i].Name);
  }
  ConfExpectStatus("without an IRP", STATUS_INVALID_PARAMETER,
                   ConfNpi.Dispatch->WskGetNameInfo(ConfNpi.Client, &address.Sa, size, &node,
                                                    &service, 0, NULL, NULL, NULL));
  ConfCallFree(&call);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  ULONG i;
  if (NT_SUCCESS(ConfBegin(DriverObject, RegistryPath, "bad_input"))) {
    TestControlClient();
    TestGetAddressInfo();
    for (i = 0; i < CONF_FAMILY_COUNT; i++) {
      TestSocket(ConfFamilies[i]);
      TestSocketConnect(ConfFamilies[i]);
      TestGetNameInfo(ConfFamilies[i]);
      TestSocketRows(ConfFamilies[i]);
      TestConnectEx(ConfFamilies[i]);
    }
  }
  return ConfEnd();
}

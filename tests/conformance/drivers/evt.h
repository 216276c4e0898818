/*
 * evt.h - what the event-callback conformance drivers share (events_listen, events_stream,
 * events_datagram, events_static; see docs/conformance.md): one recording context per socket, the
 * client dispatch tables whose callbacks fill it, scripted answers, and the checks of the rules
 * every callback must keep (docs/wsk-behaviour.md, "Rules for every callback": callbacks of one
 * socket never overlap, none runs after WskCloseSocket completed, all run at DISPATCH_LEVEL with
 * WSK_FLAG_AT_DISPATCH_LEVEL).
 *
 * Callbacks run on the provider's threads at DISPATCH_LEVEL; the driver's own thread waits for
 * them by polling counters (bounded by CONF_TIMEOUT_MS). Everything a callback records is
 * guarded by the context's spin lock or updated with Interlocked operations.
 */
#ifndef EVT_H
#define EVT_H

#include "conf.h"

#define EVT_LOG_BYTES 4096  /* the first bytes a socket accepted, kept for exact comparison */
#define EVT_MAX_RETAINED 96 /* indication lists one socket may hold retained at once */
#define EVT_MAX_SCRIPT 8    /* scripted answers per socket */
#define EVT_MAX_ITEMS 16    /* accepted sockets, inspections, datagrams recorded per socket */
#define EVT_QUIET_MS 200    /* how long "no callback comes" is watched */

typedef struct _EVT_DATAGRAM {
  ULONG Length;
  UCHAR Data[32];
  CONF_ADDR Remote;
  ULONG ControlLength;
  BOOLEAN HasControl;
  ULONG CmsgLevel;
  ULONG CmsgType;
} EVT_DATAGRAM;

typedef struct _EVT_INSPECTION {
  WSK_INSPECT_ID Id;
  USHORT LocalPort;
  USHORT RemotePort;
} EVT_INSPECTION;

typedef struct _EVT_CONTEXT EVT_CONTEXT;
struct _EVT_CONTEXT {
  const char *Name;
  PWSK_SOCKET Socket;
  volatile LONG Closed; /* set by the completion routine of WskCloseSocket */
  volatile LONG Inside; /* callbacks of this socket running now */
  /* Counters, incremented after the callback recorded what it saw. */
  volatile LONG ReceiveCalls;
  volatile LONG NullIndications;
  volatile LONG DisconnectCalls;
  volatile LONG BacklogCalls;
  volatile LONG AcceptCalls;
  volatile LONG InspectCalls;
  volatile LONG AbortCalls;
  volatile LONG ReceiveFromCalls;
  volatile LONG IrpReceives; /* EvtReceive completions */
  /* A receive callback spins while Hold is set (bounded), with Holding set. */
  volatile LONG Hold;
  volatile LONG Holding;

  KSPIN_LOCK Lock; /* guards everything below */
  /* Scripted answers: entry i answers the i-th receive, receive-from or accept callback (or
   * inspection); after the script, STATUS_SUCCESS (WskInspectAccept). Cycle repeats it. */
  NTSTATUS Answers[EVT_MAX_SCRIPT];
  SIZE_T AcceptCounts[EVT_MAX_SCRIPT]; /* BytesAccepted for STATUS_SUCCESS; 0: all */
  ULONG ScriptLength;
  ULONG ScriptNext;
  BOOLEAN Cycle;
  WSK_INSPECT_ACTION InspectAnswers[EVT_MAX_SCRIPT];
  ULONG InspectScriptLength;
  ULONG InspectScriptNext;
  /* Stream data accepted (by events and by EvtReceive), in order. */
  UCHAR Bytes[EVT_LOG_BYTES];
  SIZE_T ByteCount;        /* bytes kept in Bytes */
  ULONGLONG StreamCount;   /* every byte accepted */
  ULONG Hash;              /* FNV-1a of every byte accepted */
  BOOLEAN CheckPattern;    /* compare each byte with the pattern peer's */
  ULONGLONG PatternErrors; /* bytes that differ from the pattern at their position */
  ULONGLONG FirstErrorAt;  /* stream offset of the first */
  BOOLEAN Stalled;         /* the last answer stopped receive events (until EvtReceive) */
  ULONG FlagsSeen;         /* OR of every Flags argument */
  ULONG LastFlags;
  ULONG ChainMismatches; /* BytesIndicated differed from the chain's length */
  SIZE_T LastIndicated;
  ULONG DisconnectFlags;
  SIZE_T LastBacklog;
  PVOID Retained[EVT_MAX_RETAINED];
  ULONG RetainedCount;
  /* Accept side. */
  EVT_CONTEXT *Accepted[EVT_MAX_ITEMS];
  USHORT AcceptLocalPort[EVT_MAX_ITEMS];
  USHORT AcceptRemotePort[EVT_MAX_ITEMS];
  BOOLEAN AcceptAddressesLoopback[EVT_MAX_ITEMS];
  ULONG AcceptedCount;
  ULONG NullAccepts;
  EVT_INSPECTION Inspected[EVT_MAX_ITEMS];
  ULONG InspectedCount;
  WSK_INSPECT_ID Aborted[EVT_MAX_ITEMS];
  ULONG AbortedCount;
  ULONG Family; /* of the addresses checked by the accept and inspect callbacks */
  /* Datagrams. */
  EVT_DATAGRAM Datagrams[EVT_MAX_ITEMS];
  ULONG DatagramCount;
  ULONG ListLengths[EVT_MAX_ITEMS]; /* datagrams per indication */
  ULONG ListCount;
};

extern const WSK_CLIENT_CONNECTION_DISPATCH EvtConnectionDispatch;
extern const WSK_CLIENT_LISTEN_DISPATCH EvtListenDispatch;
extern const WSK_CLIENT_DATAGRAM_DISPATCH EvtDatagramDispatch;

/* A fresh, zeroed context from a static set (contexts are never reused during a run, so a
 * callback after close still finds its context). NULL (after a failed check) when exhausted. */
EVT_CONTEXT *EvtNew(const char *Name, ULONG Family);
/* Scripts the answers of the next callbacks (see EVT_CONTEXT). */
void EvtScript(EVT_CONTEXT *Context, ULONG Count, const NTSTATUS *Answers,
               const SIZE_T *AcceptCounts, BOOLEAN Cycle);
void EvtInspectScript(EVT_CONTEXT *Context, ULONG Count, const WSK_INSPECT_ACTION *Answers);

/* Reads a counter (an Interlocked read). */
LONG EvtRead(volatile LONG *Counter);
/* Waits (bounded) until *Counter >= Target; TRUE when it got there. */
BOOLEAN EvtWaitFor(volatile LONG *Counter, LONG Target);
/* Watches *Counter for EVT_QUIET_MS; TRUE when it stayed below Limit. */
BOOLEAN EvtStaysBelow(volatile LONG *Counter, LONG Limit);
void EvtSleep(ULONG Milliseconds);

/* WskSocket with a context and a client table, through Npi (ConfNpi when NULL). */
PWSK_SOCKET EvtSocket(const WSK_PROVIDER_NPI *Npi, const char *Name, ULONG Family, USHORT Type,
                      ULONG Protocol, ULONG Category, EVT_CONTEXT *Context, const VOID *Dispatch);
/* A connection socket with EvtConnectionDispatch, connected to a harness listener; *Harness is
 * the harness's connection id (0 on failure). */
PWSK_SOCKET EvtConnectToHarness(const WSK_PROVIDER_NPI *Npi, ULONG Family, EVT_CONTEXT *Context,
                                ULONG *Harness);
/* A connection socket with EvtConnectionDispatch connected to loopback:Port. */
PWSK_SOCKET EvtConnectTo(const WSK_PROVIDER_NPI *Npi, ULONG Family, EVT_CONTEXT *Context,
                         USHORT Port);
/* WskCloseSocket, checked; its completion routine marks the context closed. */
void EvtClose(EVT_CONTEXT *Context);

/* SO_WSK_EVENT_CALLBACK with NPI_WSK_INTERFACE_ID (or NpiId); returns what the call returned. */
NTSTATUS EvtSetEvents(PWSK_SOCKET Socket, ULONG Mask, PIRP Irp);
NTSTATUS EvtSetEventsNpi(PWSK_SOCKET Socket, const NPIID *NpiId, ULONG Mask, PIRP Irp);
/* Checks one SO_WSK_EVENT_CALLBACK call without an IRP: the returned status. */
BOOLEAN EvtExpectEvents(const char *Name, PWSK_SOCKET Socket, ULONG Mask, NTSTATUS Expected);
/* The same with an IRP: the IRP contract (ConfExpectCall) and the status. */
BOOLEAN EvtExpectEventsIrp(const char *Name, PWSK_SOCKET Socket, ULONG Mask, NTSTATUS Expected);

/* One WskReceive of up to Size bytes, waited for; its completion routine appends the bytes to
 * the context's record and ends a stall (so the record stays in stream order). Returns the
 * final status; *Bytes the count. */
NTSTATUS EvtReceive(EVT_CONTEXT *Context, SIZE_T Size, SIZE_T *Bytes);

/* Whether the recorded bytes are exactly Expected (Length bytes); then clears the record. */
BOOLEAN EvtBytesAre(EVT_CONTEXT *Context, const char *Expected, SIZE_T Length);
void EvtClearBytes(EVT_CONTEXT *Context);
/* The context's Stalled flag, read under its lock. */
BOOLEAN EvtStalled(EVT_CONTEXT *Context);
/* How many lists the context holds retained, and list Index (NULL past the end). */
ULONG EvtRetainedCount(EVT_CONTEXT *Context);
PVOID EvtRetainedAt(EVT_CONTEXT *Context, ULONG Index);
/* WskRelease of every retained list (data or datagram, by the socket's category); returns how
 * many calls did not return STATUS_SUCCESS. OnThread: from a PsCreateSystemThread thread. */
ULONG EvtReleaseAll(EVT_CONTEXT *Context, ULONG Category, BOOLEAN OnThread);
/* Whether every retained data list still holds the bytes recorded for it (Expected, Length). */
BOOLEAN EvtRetainedBytesAre(EVT_CONTEXT *Context, ULONG Index, const char *Expected, SIZE_T Length);

/* The rules every callback keeps (docs/wsk-behaviour.md, "Rules for every callback"), counted over
 * every callback since the last call: checks that none overlapped another of its socket, none ran
 * after its socket's close completed, and all ran at DISPATCH_LEVEL with WSK_FLAG_AT_DISPATCH_LEVEL
 * where Flags exists. */
void EvtCheckRules(void);

/* Harness requests. */
ULONG EvtHarnessConnect(ULONG Family, USHORT Port, USHORT *HarnessPort);
BOOLEAN EvtHarnessSend(ULONG Connection, const char *Text);
/* WAITEND: "eof", "reset", ... in End; FALSE when the request failed. */
BOOLEAN EvtHarnessEnd(ULONG Connection, char *End, SIZE_T EndSize);
/* CONNECTEND: the harness connects and waits for the connection to end; End is "eof", "reset"
 * or "refused", *HarnessPort its port (0 when the handshake itself failed). */
BOOLEAN EvtHarnessConnectEnd(ULONG Family, USHORT Port, char *End, SIZE_T EndSize,
                             USHORT *HarnessPort);
void EvtHarnessClose(ULONG Id);

#endif /* EVT_H */

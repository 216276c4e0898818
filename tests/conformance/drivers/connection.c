/*
 * connection.c - conformance of connection-oriented data transfer, on connection sockets and on
 * stream sockets (whose tables order their members differently): calls in the wrong state
 * (before bind, before connect, after disconnect), WskConnect (refused, already connected),
 * WskConnectEx with initial data, WskSend and WskReceive with MDL chains and offsets,
 * WSK_FLAG_WAITALL, several pending receives and sends in order, IoCancelIrp of a pending
 * receive, unsupported flags, the pattern peer's whole stream and its FIN, graceful disconnect
 * with a final buffer (checked by the sink), abortive disconnect, reset by the peer, the peer's
 * graceful close, WskCloseSocket with a receive pending, and WskListen/WskAccept on a stream
 * socket.
 */
#include "conf.h"

DRIVER_INITIALIZE DriverEntry;

static const char *CategoryName(ULONG Category) {
  return Category == WSK_FLAG_STREAM_SOCKET ? "stream" : "connection";
}

static void PostReceive(CONF_CALL *Call, PWSK_SOCKET Socket, ULONG Category, WSK_BUF *Buffer,
                        ULONG Flags) {
  ConfReturned(Call, ConfOps(Socket, Category).Receive(Socket, Buffer, Flags, ConfIrp(Call)));
}

static void PostSend(CONF_CALL *Call, PWSK_SOCKET Socket, ULONG Category, WSK_BUF *Buffer,
                     ULONG Flags) {
  ConfReturned(Call, ConfOps(Socket, Category).Send(Socket, Buffer, Flags, ConfIrp(Call)));
}

static void Pause(ULONG Milliseconds) {
  LARGE_INTEGER delay;
  delay.QuadPart = -(LONGLONG)Milliseconds * 10000;
  KeDelayExecutionThread(KernelMode, FALSE, &delay);
}

/* Connects to a harness listener; the socket, and the harness's id of its side (0 on failure). */
static PWSK_SOCKET ConnectToHarness(ULONG Family, ULONG Category, ULONG *Connection) {
  char reply[128];
  PWSK_SOCKET socket;
  ULONG listener;
  *Connection = 0;
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "LISTEN %lu", Family), "harness listens",
                 "answer '%s'", reply)) {
    return NULL;
  }
  listener = ConfField(reply, 0);
  socket = ConfConnected("connect to the harness", Family, Category, (USHORT)ConfField(reply, 1));
  if (socket != NULL && ConfCheck(ConfCommand(reply, sizeof(reply), "ACCEPT %lu", listener),
                                  "harness accepts", "answer '%s'", reply)) {
    *Connection = ConfField(reply, 0);
  }
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", listener);
  return socket;
}

/* ---- Wrong state ----------------------------------------------------------------------------- */

static void TestWrongState(ULONG Family, ULONG Category) {
  const ULONG index = CONF_INDEX(Family);
  PWSK_SOCKET s;
  CONF_OPS ops;
  CONF_ADDR address;
  CONF_BUFFER buffer;
  CONF_CALL call;

  ConfScope("v%lu %s wrong state", Family, CategoryName(Category));
  s = ConfSocket("WskSocket", Family, SOCK_STREAM, IPPROTO_TCP, Category);
  if (s == NULL) {
    return;
  }
  if (!ConfCallInit(&call) || !ConfBufferInit(&buffer, 16)) {
    ConfCallFree(&call);
    ConfClose("socket", s);
    return;
  }
  ops = ConfOps(s, Category);
  ConfPoison(&address, sizeof(address));
  ConfReturned(&call, ops.GetLocalAddress(s, &address.Sa, ConfIrp(&call)));
  ConfExpectCall(&call, "WskGetLocalAddress before bind", STATUS_INVALID_DEVICE_STATE, 0);
  ConfReturned(&call, ops.GetRemoteAddress(s, &address.Sa, ConfIrp(&call)));
  ConfExpectCall(&call, "WskGetRemoteAddress before connect", STATUS_INVALID_DEVICE_STATE, 0);
  ConfExpectValue("the address output is untouched", CONF_POISON, *(ULONG *)&address);
  ConfLoopback(&address, Family, (USHORT)ConfParams.EchoPort[index]);
  ConfReturned(&call, ops.Connect(s, &address.Sa, 0, ConfIrp(&call)));
  ConfExpectCall(&call, "WskConnect before bind", STATUS_INVALID_DEVICE_STATE, 0);
  PostSend(&call, s, Category, &buffer.Wsk, 0);
  ConfExpectCall(&call, "WskSend before connect", STATUS_INVALID_DEVICE_STATE, 0);
  PostReceive(&call, s, Category, &buffer.Wsk, 0);
  ConfExpectCall(&call, "WskReceive before connect", STATUS_INVALID_DEVICE_STATE, 0);
  ConfReturned(&call, ops.Disconnect(s, NULL, 0, ConfIrp(&call)));
  ConfExpectCall(&call, "WskDisconnect before connect", STATUS_INVALID_DEVICE_STATE, 0);
  if (Category == WSK_FLAG_STREAM_SOCKET) {
    ConfReturned(&call, ops.Listen(s, ConfIrp(&call)));
    ConfExpectCall(&call, "WskListen before bind", STATUS_INVALID_DEVICE_STATE, 0);
    ConfReturned(&call, ops.Accept(s, 0, NULL, NULL, NULL, NULL, ConfIrp(&call)));
    ConfExpectCall(&call, "WskAccept before listen", STATUS_INVALID_DEVICE_STATE, 0);
  }

  ConfLoopback(&address, Family, 0);
  ConfBind("WskBind", s, &address, STATUS_SUCCESS);
  ConfBind("WskBind a second time", s, &address, STATUS_ADDRESS_ALREADY_ASSOCIATED);
  PostSend(&call, s, Category, &buffer.Wsk, 0);
  ConfExpectCall(&call, "WskSend bound but not connected", STATUS_INVALID_DEVICE_STATE, 0);
  ConfReturned(&call, ops.GetRemoteAddress(s, &address.Sa, ConfIrp(&call)));
  ConfExpectCall(&call, "WskGetRemoteAddress bound but not connected", STATUS_INVALID_DEVICE_STATE,
                 0);

  ConfLoopback(&address, Family, (USHORT)ConfParams.RefusedPort[index]);
  ConfReturned(&call, ops.Connect(s, &address.Sa, 0, ConfIrp(&call)));
  ConfExpectCall(&call, "WskConnect to a port nobody listens on", STATUS_CONNECTION_REFUSED, 0);

  ConfBufferFree(&buffer);
  ConfCallFree(&call);
  ConfClose("socket", s);
}

/* ---- Echo: data transfer --------------------------------------------------------------------- */

static void TestMdlChains(PWSK_SOCKET s, ULONG Category) {
  PUCHAR data;
  PUCHAR in;
  PMDL mdl[3] = {NULL, NULL, NULL};
  PMDL in_mdl[3] = {NULL, NULL, NULL};
  WSK_BUF buf;
  CONF_CALL call;
  ULONG i;
  BOOLEAN placed;

  data = (PUCHAR)ExAllocatePool2(POOL_FLAG_NON_PAGED, 300, CONF_TAG);
  in = (PUCHAR)ExAllocatePool2(POOL_FLAG_NON_PAGED, 48, CONF_TAG);
  if (data == NULL || in == NULL || !ConfCallInit(&call)) {
    ConfCheck(FALSE, "allocation", "failed");
    goto out;
  }
  for (i = 0; i < 300; i++) {
    data[i] = (UCHAR)(i * 7 + 1);
  }
  /* Send: three MDLs of 100 bytes; the WSK_BUF starts 10 bytes into the first and takes 250. */
  for (i = 0; i < 3; i++) {
    mdl[i] = IoAllocateMdl(data + 100 * i, 100, FALSE, FALSE, NULL);
    if (mdl[i] == NULL) {
      goto out;
    }
    MmBuildMdlForNonPagedPool(mdl[i]);
  }
  mdl[0]->Next = mdl[1];
  mdl[1]->Next = mdl[2];
  buf.Mdl = mdl[0];
  buf.Offset = 10;
  buf.Length = 250;
  PostSend(&call, s, Category, &buf, 0);
  if (ConfExpectCall(&call, "WskSend of an MDL chain with an offset", STATUS_SUCCESS, 250)) {
    UCHAR echoed[250];
    NTSTATUS status;
    ConfExpectValue("the echo of the chain", 250,
                    ConfReceiveAll(s, Category, echoed, sizeof(echoed), &status));
    ConfExpectTrue("bytes 10..259 of the chain, in order",
                   RtlCompareMemory(echoed, data + 10, 250) == 250);
  }

  /* Receive: three MDLs of 16 bytes; the WSK_BUF starts 5 bytes in and takes 40 (WAITALL). */
  ConfPoison(in, 48);
  for (i = 0; i < 3; i++) {
    in_mdl[i] = IoAllocateMdl(in + 16 * i, 16, FALSE, FALSE, NULL);
    if (in_mdl[i] == NULL) {
      goto out;
    }
    MmBuildMdlForNonPagedPool(in_mdl[i]);
  }
  in_mdl[0]->Next = in_mdl[1];
  in_mdl[1]->Next = in_mdl[2];
  buf.Mdl = in_mdl[0];
  buf.Offset = 5;
  buf.Length = 40;
  if (ConfSendAll("WskSend of 40 bytes", s, Category, data, 40)) {
    PostReceive(&call, s, Category, &buf, WSK_FLAG_WAITALL);
    if (ConfExpectCall(&call, "WskReceive into an MDL chain with an offset", STATUS_SUCCESS, 40)) {
      placed = RtlCompareMemory(in + 5, data, 40) == 40;
      ConfExpectTrue("the bytes land at offsets 5..44 across the chain", placed);
      ConfExpectTrue("the bytes around them are untouched",
                     ConfIsPoisoned(in, 0, 5) && ConfIsPoisoned(in + 45, 45, 3));
    }
  }
out:
  for (i = 0; i < 3; i++) {
    if (mdl[i] != NULL) {
      IoFreeMdl(mdl[i]);
    }
    if (in_mdl[i] != NULL) {
      IoFreeMdl(in_mdl[i]);
    }
  }
  if (data != NULL) {
    ExFreePoolWithTag(data, CONF_TAG);
  }
  if (in != NULL) {
    ExFreePoolWithTag(in, CONF_TAG);
  }
  ConfCallFree(&call);
}

static void TestReceiveModes(PWSK_SOCKET s, ULONG Category) {
  CONF_BUFFER all;
  CONF_BUFFER part[3];
  CONF_CALL call;
  CONF_CALL calls[3];
  UCHAR rest[16];
  UCHAR joined[16];
  SIZE_T got = 0;
  NTSTATUS status;
  ULONG i;

  if (!ConfBufferInit(&all, 10) || !ConfCallInit(&call)) {
    ConfBufferFree(&all);
    return;
  }
  /* WAITALL completes only once the whole buffer is filled. */
  PostReceive(&call, s, Category, &all.Wsk, WSK_FLAG_WAITALL);
  ConfExpectPending(&call, "WskReceive(WSK_FLAG_WAITALL) pends");
  ConfSendAll("send 4 of the 10 bytes", s, Category, "0123", 4);
  Pause(100);
  ConfExpectTrue("WAITALL has not completed with 4 bytes", !ConfCompleted(&call));
  ConfSendAll("send the other 6", s, Category, "456789", 6);
  if (ConfExpectCall(&call, "WskReceive(WSK_FLAG_WAITALL) completes", STATUS_SUCCESS, 10)) {
    ConfExpectTrue("with all 10 bytes", RtlCompareMemory(all.Data, "0123456789", 10) == 10);
  }

  /* Several pending receives take the data in the order they were posted. */
  for (i = 0; i < 3; i++) {
    ConfBufferInit(&part[i], 3);
    ConfCallInit(&calls[i]);
    PostReceive(&calls[i], s, Category, &part[i].Wsk, 0);
    ConfExpectPending(&calls[i], "a receive pends");
  }
  ConfSendAll("send 9 bytes", s, Category, "abcdefghi", 9);
  for (i = 0; i < 3; i++) {
    if (ConfExpectCall(&calls[i], "pending receive completes", STATUS_SUCCESS,
                       CONF_ANY_INFORMATION)) {
      const SIZE_T n = calls[i].Irp->IoStatus.Information;
      ConfExpectTrue("it got 1 to 3 bytes", n >= 1 && n <= 3);
      if (n <= 3 && got + n <= sizeof(joined)) {
        RtlCopyMemory(joined + got, part[i].Data, n);
        got += n;
      }
    }
  }
  if (got < 9) {
    got += ConfReceiveAll(s, Category, joined + got, 9 - got, &status);
  }
  ConfExpectTrue("the receives saw the bytes in order",
                 got == 9 && RtlCompareMemory(joined, "abcdefghi", 9) == 9);
  for (i = 0; i < 3; i++) {
    ConfBufferFree(&part[i]);
    ConfCallFree(&calls[i]);
  }

  /* A cancelled receive completes with STATUS_CANCELLED and takes no data. */
  all.Wsk.Length = 3;
  PostReceive(&call, s, Category, &all.Wsk, 0);
  if (ConfExpectPending(&call, "a receive to cancel pends")) {
    ConfExpectTrue("IoCancelIrp finds the cancel routine", IoCancelIrp(call.Irp));
  }
  ConfExpectCall(&call, "the cancelled WskReceive", STATUS_CANCELLED, 0);
  ConfSendAll("send 'xyz'", s, Category, "xyz", 3);
  ConfExpectValue("the next receive gets all of it", 3,
                  ConfReceiveAll(s, Category, rest, 3, &status));
  ConfExpectTrue("'xyz'", RtlCompareMemory(rest, "xyz", 3) == 3);

  /* Flags WSK does not support on this transport. */
  PostSend(&call, s, Category, &all.Wsk, WSK_FLAG_OOB);
  ConfExpectCall(&call, "WskSend(WSK_FLAG_OOB)", STATUS_NOT_SUPPORTED, 0);
  PostSend(&call, s, Category, &all.Wsk, 0x100);
  ConfExpectCall(&call, "WskSend with an unknown flag", STATUS_NOT_SUPPORTED, 0);
  PostReceive(&call, s, Category, &all.Wsk, 0x100);
  ConfExpectCall(&call, "WskReceive with an unknown flag", STATUS_NOT_SUPPORTED, 0);
  /* WSK_FLAG_NODELAY is supported. */
  all.Wsk.Length = 2;
  RtlCopyMemory(all.Data, "nd", 2);
  PostSend(&call, s, Category, &all.Wsk, WSK_FLAG_NODELAY);
  if (ConfExpectCall(&call, "WskSend(WSK_FLAG_NODELAY)", STATUS_SUCCESS, 2)) {
    ConfExpectValue("its echo", 2, ConfReceiveAll(s, Category, rest, 2, &status));
  }
  ConfCallFree(&call);
  ConfBufferFree(&all);
}

static void TestEcho(ULONG Family, ULONG Category) {
  const ULONG index = CONF_INDEX(Family);
  PWSK_SOCKET s;
  CONF_OPS ops;
  CONF_ADDR address;
  CONF_BUFFER last;
  CONF_CALL call;
  UCHAR echoed[8];
  NTSTATUS status;

  ConfScope("v%lu %s echo", Family, CategoryName(Category));
  s = ConfConnected("connect to the echo peer", Family, Category,
                    (USHORT)ConfParams.EchoPort[index]);
  if (s == NULL) {
    return;
  }
  ops = ConfOps(s, Category);
  if (!ConfCallInit(&call)) {
    ConfClose("socket", s);
    return;
  }
  ConfPoison(&address, sizeof(address));
  ConfReturned(&call, ops.GetRemoteAddress(s, &address.Sa, ConfIrp(&call)));
  ConfExpectCall(&call, "WskGetRemoteAddress", STATUS_SUCCESS, 0);
  ConfExpectTrue("the remote address is the echo peer",
                 ConfIsLoopback(&address, Family) &&
                     ConfPort(&address) == ConfParams.EchoPort[index]);
  ConfLoopback(&address, Family, (USHORT)ConfParams.EchoPort[index]);
  ConfReturned(&call, ops.Connect(s, &address.Sa, 0, ConfIrp(&call)));
  ConfExpectCall(&call, "WskConnect when already connected", STATUS_CONNECTION_ACTIVE, 0);
  if (Category == WSK_FLAG_STREAM_SOCKET) {
    /* Connecting committed the stream socket to the connection role. */
    ConfReturned(&call, ops.Listen(s, ConfIrp(&call)));
    ConfExpectCall(&call, "WskListen after connect", STATUS_INVALID_DEVICE_STATE, 0);
    ConfReturned(&call, ops.Accept(s, 0, NULL, NULL, NULL, NULL, ConfIrp(&call)));
    ConfExpectCall(&call, "WskAccept after connect", STATUS_INVALID_DEVICE_STATE, 0);
  }

  TestMdlChains(s, Category);
  TestReceiveModes(s, Category);

  /* A graceful disconnect with a final buffer: the peer echoes it and ends its side too. */
  if (ConfBufferInit(&last, 3)) {
    RtlCopyMemory(last.Data, "bye", 3);
    ConfReturned(&call, ops.Disconnect(s, &last.Wsk, 0, ConfIrp(&call)));
    ConfExpectCall(&call, "graceful WskDisconnect with a final buffer", STATUS_SUCCESS, 0);
    ConfExpectValue("the echo of the final buffer", 3,
                    ConfReceiveAll(s, Category, echoed, 3, &status));
    ConfExpectTrue("'bye'", RtlCompareMemory(echoed, "bye", 3) == 3);
    ConfExpectValue("then the peer's FIN: 0 bytes", 0,
                    ConfReceiveAll(s, Category, echoed, 1, &status));
    ConfExpectStatus("with success", STATUS_SUCCESS, status);
    PostSend(&call, s, Category, &last.Wsk, 0);
    ConfExpectCall(&call, "WskSend after a graceful disconnect", STATUS_INVALID_DEVICE_STATE, 0);
    ConfBufferFree(&last);
  }
  ConfCallFree(&call);
  ConfClose("socket", s);
}

/* ---- The pattern peer: a whole stream, then FIN --------------------------------------------- */

static void TestPattern(ULONG Family, ULONG Category) {
  const ULONG index = CONF_INDEX(Family);
  PWSK_SOCKET s;
  CONF_BUFFER buffer;
  CONF_CALL call;
  ULONGLONG total = 0;
  ULONGLONG mismatch = (ULONGLONG)-1;
  ULONG rounds;
  NTSTATUS status = STATUS_SUCCESS;

  ConfScope("v%lu %s pattern", Family, CategoryName(Category));
  s = ConfConnected("connect to the pattern peer", Family, Category,
                    (USHORT)ConfParams.PatternPort[index]);
  if (s == NULL) {
    return;
  }
  if (!ConfBufferInit(&buffer, 65536) || !ConfCallInit(&call)) {
    ConfBufferFree(&buffer);
    ConfClose("socket", s);
    return;
  }
  for (rounds = 0; rounds < 100000; rounds++) {
    SIZE_T n;
    SIZE_T i;
    PostReceive(&call, s, Category, &buffer.Wsk, 0);
    status = ConfWait(&call);
    n = call.Irp->IoStatus.Information;
    if (status != STATUS_SUCCESS || n == 0) {
      break;
    }
    for (i = 0; i < n && mismatch == (ULONGLONG)-1; i++) {
      if (buffer.Data[i] != ConfPatternByte(total + i)) {
        mismatch = total + i;
      }
    }
    total += n;
  }
  ConfExpectStatus("the stream ends with success", STATUS_SUCCESS, status);
  ConfExpectValue("every byte of the pattern arrived", ConfParams.PatternLength, total);
  ConfCheck(mismatch == (ULONGLONG)-1, "in order", "byte %llu differs", mismatch);
  PostReceive(&call, s, Category, &buffer.Wsk, 0);
  ConfExpectCall(&call, "a receive after the FIN: success, 0 bytes", STATUS_SUCCESS, 0);
  ConfCallFree(&call);
  ConfBufferFree(&buffer);
  ConfClose("socket", s);
}

/* ---- The sink: several sends pending, then a final buffer ------------------------------------ */

static void TestSink(ULONG Family, ULONG Category) {
  const ULONG index = CONF_INDEX(Family);
  PWSK_SOCKET s;
  CONF_BUFFER chunk[4];
  CONF_BUFFER last;
  CONF_CALL calls[4];
  CONF_CALL call;
  ULONG hash = CONF_FNV_START;
  ULONG i;
  ULONG j;
  USHORT port;
  char reply[128];
  char expected[96];

  ConfScope("v%lu %s sink", Family, CategoryName(Category));
  s = ConfConnected("connect to the sink", Family, Category, (USHORT)ConfParams.SinkPort[index]);
  if (s == NULL) {
    return;
  }
  port = ConfLocalPort(s, Category, NULL);
  if (!ConfCallInit(&call) || !ConfBufferInit(&last, 3)) {
    ConfCallFree(&call);
    ConfClose("socket", s);
    return;
  }
  /* Four sends of 64 KiB each in flight at once: they reach the wire in the order posted. */
  for (i = 0; i < 4; i++) {
    ConfBufferInit(&chunk[i], 65536);
    ConfCallInit(&calls[i]);
    for (j = 0; j < 65536; j++) {
      chunk[i].Data[j] = (UCHAR)(j * 13 + i * 101 + (j >> 8));
    }
    hash = ConfFnv(hash, chunk[i].Data, 65536);
    PostSend(&calls[i], s, Category, &chunk[i].Wsk, 0);
  }
  for (i = 0; i < 4; i++) {
    ConfExpectCall(&calls[i], "a 64 KiB send", STATUS_SUCCESS, 65536);
    ConfBufferFree(&chunk[i]);
    ConfCallFree(&calls[i]);
  }
  RtlCopyMemory(last.Data, "END", 3);
  hash = ConfFnv(hash, "END", 3);
  ConfReturned(&call, ConfOps(s, Category).Disconnect(s, &last.Wsk, 0, ConfIrp(&call)));
  ConfExpectCall(&call, "graceful WskDisconnect with a final buffer", STATUS_SUCCESS, 0);
  ConfCommand(reply, sizeof(reply), "SINK %u", port);
  RtlStringCbPrintfA(expected, sizeof(expected), "OK %lu %lu eof", 4 * 65536 + 3, hash);
  ConfCheck(strcmp(reply, expected) == 0, "the sink got every byte in order, then the FIN",
            "expected '%s', got '%s'", expected, reply);
  ConfBufferFree(&last);
  ConfCallFree(&call);
  ConfClose("socket", s);
}

/* ---- Resets and disconnects ------------------------------------------------------------------ */

static void TestResetByPeer(ULONG Family, ULONG Category) {
  const ULONG index = CONF_INDEX(Family);
  PWSK_SOCKET s;
  CONF_BUFFER buffer;
  CONF_CALL call;
  CONF_CALL send;

  ConfScope("v%lu %s reset by peer", Family, CategoryName(Category));
  s = ConfConnected("connect to the resetting peer", Family, Category,
                    (USHORT)ConfParams.ResetPort[index]);
  if (s == NULL) {
    return;
  }
  if (!ConfCallInit(&call) || !ConfCallInit(&send) || !ConfBufferInit(&buffer, 16)) {
    ConfClose("socket", s);
    return;
  }
  PostReceive(&call, s, Category, &buffer.Wsk, 0);
  ConfExpectPending(&call, "a receive pends");
  /* The peer resets once it sees a byte. */
  buffer.Wsk.Length = 1;
  PostSend(&send, s, Category, &buffer.Wsk, 0);
  ConfExpectCall(&send, "send the cue", STATUS_SUCCESS, 1);
  ConfExpectCall(&call, "the pending receive fails", STATUS_CONNECTION_RESET, 0);
  PostSend(&send, s, Category, &buffer.Wsk, 0);
  ConfExpectCall(&send, "WskSend after the reset", STATUS_CONNECTION_RESET, 0);
  ConfBufferFree(&buffer);
  ConfCallFree(&send);
  ConfCallFree(&call);
  ConfClose("socket", s);
}

static void TestAbortiveDisconnect(ULONG Family, ULONG Category) {
  PWSK_SOCKET s;
  CONF_OPS ops;
  CONF_BUFFER buffer;
  CONF_CALL call;
  CONF_CALL receive;
  ULONG connection;
  char reply[128];

  ConfScope("v%lu %s abortive disconnect", Family, CategoryName(Category));
  s = ConnectToHarness(Family, Category, &connection);
  if (s == NULL) {
    return;
  }
  ops = ConfOps(s, Category);
  if (!ConfCallInit(&call) || !ConfCallInit(&receive) || !ConfBufferInit(&buffer, 8)) {
    ConfClose("socket", s);
    return;
  }
  ConfReturned(&call, ops.Disconnect(s, &buffer.Wsk, WSK_FLAG_ABORTIVE, ConfIrp(&call)));
  ConfExpectCall(&call, "abortive WskDisconnect with a buffer", STATUS_INVALID_PARAMETER, 0);
  ConfReturned(&call, ops.Disconnect(s, NULL, 0x10, ConfIrp(&call)));
  ConfExpectCall(&call, "WskDisconnect with an unknown flag", STATUS_INVALID_PARAMETER, 0);

  PostReceive(&receive, s, Category, &buffer.Wsk, 0);
  ConfExpectPending(&receive, "a receive pends");
  ConfReturned(&call, ops.Disconnect(s, NULL, WSK_FLAG_ABORTIVE, ConfIrp(&call)));
  ConfExpectCall(&call, "abortive WskDisconnect", STATUS_SUCCESS, 0);
  ConfExpectCall(&receive, "the pending receive is aborted", STATUS_CONNECTION_ABORTED, 0);
  ConfCommand(reply, sizeof(reply), "WAITEND %lu", connection);
  ConfCheck(strncmp(reply, "OK reset", 8) == 0, "the harness sees a reset", "answer '%s'", reply);
  PostSend(&call, s, Category, &buffer.Wsk, 0);
  ConfExpectCall(&call, "WskSend after an abortive disconnect", STATUS_INVALID_DEVICE_STATE, 0);
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", connection);
  ConfBufferFree(&buffer);
  ConfCallFree(&receive);
  ConfCallFree(&call);
  ConfClose("socket", s);
}

static void TestPeerCloses(ULONG Family, ULONG Category) {
  PWSK_SOCKET s;
  CONF_BUFFER buffer;
  CONF_CALL call;
  ULONG connection;
  ULONG attempt;
  NTSTATUS status = STATUS_SUCCESS;
  char reply[128];

  ConfScope("v%lu %s peer closes", Family, CategoryName(Category));
  s = ConnectToHarness(Family, Category, &connection);
  if (s == NULL) {
    return;
  }
  if (!ConfCallInit(&call) || !ConfBufferInit(&buffer, 8)) {
    ConfClose("socket", s);
    return;
  }
  PostReceive(&call, s, Category, &buffer.Wsk, 0);
  ConfExpectPending(&call, "a receive pends");
  ConfCommand(reply, sizeof(reply), "SHUTDOWN %lu", connection);
  ConfExpectCall(&call, "the peer's FIN completes it with 0 bytes", STATUS_SUCCESS, 0);
  /* Half-closed: this side can still send. */
  if (ConfSendAll("WskSend after the peer's FIN", s, Category, "late", 4)) {
    ConfCheck(ConfCommand(reply, sizeof(reply), "RECV %lu 4", connection) &&
                  strcmp(reply, "OK 6c617465") == 0,
              "the harness gets 'late'", "answer '%s'", reply);
  }
  /* Then the peer resets: sends fail (a bounded number of tries, as the reset travels). */
  ConfCommand(reply, sizeof(reply), "RESET %lu", connection);
  buffer.Wsk.Length = 1;
  for (attempt = 0; attempt < 50 && status == STATUS_SUCCESS; attempt++) {
    PostSend(&call, s, Category, &buffer.Wsk, 0);
    status = ConfWait(&call);
    if (status == STATUS_SUCCESS) {
      Pause(20);
    }
  }
  ConfExpectStatus("WskSend after the peer's reset", STATUS_CONNECTION_RESET, status);
  ConfBufferFree(&buffer);
  ConfCallFree(&call);
  ConfClose("socket", s);
}

static void TestCloseWithPendingReceive(ULONG Family, ULONG Category) {
  const ULONG index = CONF_INDEX(Family);
  PWSK_SOCKET s;
  CONF_BUFFER buffer;
  CONF_CALL call;

  ConfScope("v%lu %s close with a receive pending", Family, CategoryName(Category));
  s = ConfConnected("connect to the echo peer", Family, Category,
                    (USHORT)ConfParams.EchoPort[index]);
  if (s == NULL) {
    return;
  }
  if (!ConfCallInit(&call) || !ConfBufferInit(&buffer, 8)) {
    ConfClose("socket", s);
    return;
  }
  PostReceive(&call, s, Category, &buffer.Wsk, 0);
  ConfExpectPending(&call, "a receive pends");
  ConfClose("socket with a receive pending", s);
  ConfExpectTrue("the receive completed before the close did", ConfCompleted(&call));
  ConfExpectCall(&call, "the pending receive", STATUS_CANCELLED, 0);
  ConfBufferFree(&buffer);
  ConfCallFree(&call);
}

/* ---- A wildcard bind: the port at bind, the address at connect (as Windows documents) ------ */

static void TestWildcardBind(ULONG Family, ULONG Category) {
  const ULONG index = CONF_INDEX(Family);
  PWSK_SOCKET s;
  CONF_ADDR address;
  CONF_ADDR local;
  CONF_CALL call;
  USHORT port;

  ConfScope("v%lu %s wildcard bind", Family, CategoryName(Category));
  s = ConfSocket("WskSocket", Family, SOCK_STREAM, IPPROTO_TCP, Category);
  if (s == NULL || !ConfCallInit(&call)) {
    ConfClose("socket", s);
    return;
  }
  ConfWildcard(&address, Family, 0);
  ConfBind("WskBind to the wildcard address, port 0", s, &address, STATUS_SUCCESS);
  port = ConfLocalPort(s, Category, &local);
  ConfExpectTrue("the port is assigned at bind", port != 0);
  ConfExpectTrue("the address is still the wildcard",
                 !ConfIsLoopback(&local, Family) && local.Sa.sa_family == ConfAf(Family));
  ConfLoopback(&address, Family, (USHORT)ConfParams.EchoPort[index]);
  ConfReturned(&call, ConfOps(s, Category).Connect(s, &address.Sa, 0, ConfIrp(&call)));
  if (ConfExpectCall(&call, "WskConnect", STATUS_SUCCESS, 0)) {
    ConfExpectValue("the port stays", port, ConfLocalPort(s, Category, &local));
    ConfExpectTrue("the address is chosen at connect: loopback", ConfIsLoopback(&local, Family));
  }
  ConfCallFree(&call);
  ConfClose("socket", s);
}

/* ---- WSK_FLAG_DRAIN and zero-length receives ----------------------------------------------- */

static void TestDrain(ULONG Family, ULONG Category) {
  PWSK_SOCKET s;
  CONF_BUFFER buffer;
  CONF_CALL call;
  ULONG connection;
  char reply[2200];
  char hex[2100];
  ULONG i;

  ConfScope("v%lu %s drain", Family, CategoryName(Category));
  s = ConnectToHarness(Family, Category, &connection);
  if (s == NULL) {
    return;
  }
  if (!ConfCallInit(&call) || !ConfBufferInit(&buffer, 10)) {
    ConfClose("socket", s);
    return;
  }
  PostReceive(&call, s, Category, &buffer.Wsk, WSK_FLAG_DRAIN);
  ConfExpectCall(&call, "WSK_FLAG_DRAIN with a non-empty buffer", STATUS_INVALID_PARAMETER, 0);
  buffer.Wsk.Length = 0;
  PostReceive(&call, s, Category, &buffer.Wsk, WSK_FLAG_DRAIN | WSK_FLAG_WAITALL);
  ConfExpectCall(&call, "WSK_FLAG_DRAIN with WSK_FLAG_WAITALL", STATUS_INVALID_PARAMETER, 0);
  /* A zero-length receive is legal and completes at once. */
  PostReceive(&call, s, Category, &buffer.Wsk, 0);
  ConfExpectCall(&call, "a zero-length WskReceive", STATUS_SUCCESS, 0);
  /* DRAIN discards everything until the peer's FIN. */
  PostReceive(&call, s, Category, &buffer.Wsk, WSK_FLAG_DRAIN);
  ConfExpectPending(&call, "WskReceive(WSK_FLAG_DRAIN) pends");
  for (i = 0; i < 1000; i++) {
    hex[2 * i] = '6';
    hex[2 * i + 1] = '1';
  }
  hex[2000] = '\0';
  ConfCommand(reply, sizeof(reply), "SEND %lu %s", connection, hex);
  ConfExpectTrue("1000 bytes do not complete it", !ConfCompleted(&call));
  ConfCommand(reply, sizeof(reply), "SHUTDOWN %lu", connection);
  ConfExpectCall(&call, "the peer's FIN completes the drain", STATUS_SUCCESS, 0);
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", connection);
  ConfBufferFree(&buffer);
  ConfCallFree(&call);
  ConfClose("socket", s);
}

/* ---- WskConnectEx ---------------------------------------------------------------------------- */

static void TestConnectEx(ULONG Family, ULONG Category) {
  PWSK_SOCKET s;
  CONF_OPS ops;
  CONF_ADDR address;
  CONF_BUFFER data;
  CONF_BUFFER huge;
  CONF_CALL call;
  ULONG listener;
  ULONG connection;
  char reply[128];

  ConfScope("v%lu %s WskConnectEx", Family, CategoryName(Category));
  if (!ConfCheck(ConfCommand(reply, sizeof(reply), "LISTEN %lu", Family), "harness listens",
                 "answer '%s'", reply)) {
    return;
  }
  listener = ConfField(reply, 0);
  ConfLoopback(&address, Family, (USHORT)ConfField(reply, 1));
  s = ConfSocket("WskSocket", Family, SOCK_STREAM, IPPROTO_TCP, Category);
  if (s == NULL || !ConfCallInit(&call) || !ConfBufferInit(&data, 7) ||
      !ConfBufferInit(&huge, 65536)) {
    ConfClose("socket", s);
    return;
  }
  ops = ConfOps(s, Category);
  ConfReturned(&call, ops.ConnectEx(s, &address.Sa, &data.Wsk, 0, ConfIrp(&call)));
  ConfExpectCall(&call, "WskConnectEx before bind", STATUS_INVALID_DEVICE_STATE, 0);
  {
    CONF_ADDR local;
    ConfLoopback(&local, Family, 0);
    ConfBind("WskBind", s, &local, STATUS_SUCCESS);
  }
  ConfReturned(&call, ops.ConnectEx(s, &address.Sa, &data.Wsk, 1, ConfIrp(&call)));
  ConfExpectCall(&call, "WskConnectEx with a flag", STATUS_INVALID_PARAMETER, 0);
  ConfReturned(&call, ops.ConnectEx(s, &address.Sa, &huge.Wsk, 0, ConfIrp(&call)));
  ConfExpectCall(&call, "WskConnectEx with 65,536 bytes", STATUS_BUFFER_OVERFLOW, 0);
  RtlCopyMemory(data.Data, "initial", 7);
  ConfReturned(&call, ops.ConnectEx(s, &address.Sa, &data.Wsk, 0, ConfIrp(&call)));
  ConfExpectCall(&call, "WskConnectEx with initial data", STATUS_SUCCESS, 0);
  if (ConfCheck(ConfCommand(reply, sizeof(reply), "ACCEPT %lu", listener), "harness accepts",
                "answer '%s'", reply)) {
    connection = ConfField(reply, 0);
    ConfCheck(ConfCommand(reply, sizeof(reply), "RECV %lu 7", connection) &&
                  strcmp(reply, "OK 696e697469616c") == 0,
              "the harness gets the initial data", "answer '%s'", reply);
    ConfCommand(reply, sizeof(reply), "CLOSE %lu", connection);
  }
  ConfCommand(reply, sizeof(reply), "CLOSE %lu", listener);
  ConfBufferFree(&huge);
  ConfBufferFree(&data);
  ConfCallFree(&call);
  ConfClose("socket", s);
}

/* ---- A stream socket in the listening role --------------------------------------------------- */

static void TestStreamListen(ULONG Family) {
  PWSK_SOCKET s;
  PWSK_SOCKET accepted;
  CONF_OPS ops;
  CONF_ADDR address;
  CONF_ADDR remote;
  CONF_CALL call;
  USHORT port;
  USHORT harness_port;
  ULONG connection = 0;
  char reply[128];
  char data[8];
  NTSTATUS status;

  ConfScope("v%lu stream listen", Family);
  s = ConfSocket("WskSocket", Family, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_STREAM_SOCKET);
  if (s == NULL || !ConfCallInit(&call)) {
    ConfClose("socket", s);
    return;
  }
  ops = ConfOps(s, WSK_FLAG_STREAM_SOCKET);
  ConfLoopback(&address, Family, 0);
  ConfBind("WskBind", s, &address, STATUS_SUCCESS);
  ConfReturned(&call, ops.Listen(s, ConfIrp(&call)));
  ConfExpectCall(&call, "WskListen", STATUS_SUCCESS, 0);
  port = ConfLocalPort(s, WSK_FLAG_STREAM_SOCKET, NULL);
  ConfLoopback(&address, Family, port);
  ConfReturned(&call, ops.Connect(s, &address.Sa, 0, ConfIrp(&call)));
  ConfExpectCall(&call, "WskConnect after listen", STATUS_INVALID_DEVICE_STATE, 0);
  {
    CONF_BUFFER buffer;
    if (ConfBufferInit(&buffer, 4)) {
      ConfReturned(&call, ops.Send(s, &buffer.Wsk, 0, ConfIrp(&call)));
      ConfExpectCall(&call, "WskSend on a listening stream socket", STATUS_INVALID_DEVICE_STATE, 0);
      ConfBufferFree(&buffer);
    }
  }

  ConfPoison(&remote, sizeof(remote));
  ConfReturned(&call, ops.Accept(s, 0, NULL, NULL, NULL, &remote.Sa, ConfIrp(&call)));
  ConfExpectPending(&call, "WskAccept pends");
  if (ConfCheck(ConfCommand(reply, sizeof(reply), "CONNECT %lu %u", Family, port),
                "the harness connects", "answer '%s'", reply)) {
    connection = ConfField(reply, 0);
    harness_port = (USHORT)ConfField(reply, 1);
    if (ConfExpectCall(&call, "WskAccept completes", STATUS_SUCCESS, CONF_ANY_INFORMATION)) {
      accepted = (PWSK_SOCKET)call.Irp->IoStatus.Information;
      ConfExpectValue("with the harness's port", harness_port, ConfPort(&remote));
      ConfCommand(reply, sizeof(reply), "SEND %lu 70696e67", connection); /* "ping" */
      ConfExpectValue("the accepted socket receives", 4,
                      ConfReceiveAll(accepted, WSK_FLAG_CONNECTION_SOCKET, data, 4, &status));
      ConfExpectTrue("'ping'", RtlCompareMemory(data, "ping", 4) == 4);
      ConfClose("the accepted socket", accepted);
    }
  } else {
    IoCancelIrp(call.Irp);
    ConfWait(&call);
  }
  if (connection != 0) {
    ConfCommand(reply, sizeof(reply), "CLOSE %lu", connection);
  }
  ConfCallFree(&call);
  ConfClose("listening stream socket", s);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  static const ULONG categories[] = {WSK_FLAG_CONNECTION_SOCKET, WSK_FLAG_STREAM_SOCKET};
  ULONG i;
  ULONG c;
  if (NT_SUCCESS(ConfBegin(DriverObject, RegistryPath, "connection"))) {
    for (i = 0; i < CONF_FAMILY_COUNT; i++) {
      for (c = 0; c < 2; c++) {
        TestWrongState(ConfFamilies[i], categories[c]);
        TestEcho(ConfFamilies[i], categories[c]);
        TestPattern(ConfFamilies[i], categories[c]);
        TestSink(ConfFamilies[i], categories[c]);
        TestResetByPeer(ConfFamilies[i], categories[c]);
        TestAbortiveDisconnect(ConfFamilies[i], categories[c]);
        TestPeerCloses(ConfFamilies[i], categories[c]);
        TestCloseWithPendingReceive(ConfFamilies[i], categories[c]);
        TestConnectEx(ConfFamilies[i], categories[c]);
        TestDrain(ConfFamilies[i], categories[c]);
        TestWildcardBind(ConfFamilies[i], categories[c]);
      }
      TestStreamListen(ConfFamilies[i]);
    }
  }
  return ConfEnd();
}

/*
 * connect_pending: a WDK-style WSK driver that checks how connects to an unanswering and to a
 * refusing host complete, all from DriverEntry.
 *
 * Parameters (the service key's Parameters subkey): Address (REG_SZ, an IPv4 literal), the
 * host; DroppedPort (REG_DWORD), a port whose SYNs the host's firewall drops; ClosedPort
 * (REG_DWORD), a port nothing listens on (the host answers with a reset); DelayedPort
 * (REG_DWORD, optional), a closed port whose first SYN of each connect is dropped, so the reset
 * answers the retransmitted SYN about a second later; PendingMs (REG_DWORD, default 1000), how
 * long a connect to DroppedPort must stay pending.
 *
 * Checks, each on an IRP whose IoStatus is preset to 0xdeadbeef:
 * 1. WskSocketConnect to DroppedPort returns STATUS_PENDING and has not completed after
 *    PendingMs; IoCancelIrp then finds its cancel routine, and the IRP completes exactly once
 *    with STATUS_CANCELLED, Information 0 and PendingReturned.
 * 2. The same for WskConnect on a connection socket bound to 0.0.0.0:0 (WskSocket, WskBind),
 *    which is then closed.
 * 3. WskSocketConnect to ClosedPort completes once with STATUS_CONNECTION_REFUSED and
 *    Information 0; the status returned is that final status, or STATUS_PENDING (then
 *    PendingReturned is TRUE; otherwise the IRP completed before the call returned).
 * 4. The same for WskConnect on a bound connection socket.
 * 5, 6. With DelayedPort: the same two refusals arriving while the IRP is pending; the call
 *    must return STATUS_PENDING.
 * Each check logs "connect_pending: PASS ..." or "connect_pending: FAIL ..." lines; DriverEntry
 * returns STATUS_SUCCESS only when all passed ("all checks passed"), else STATUS_UNSUCCESSFUL.
 * Every wait is bounded. A connect that wrongly succeeds is closed, so nothing leaks.
 */
#include <ntddk.h>
#include <ntstrsafe.h>
#include <wsk.h>
#include <ip2string.h>

#define CP_TAG 'PnoC'
#define CP_PRESET ((NTSTATUS)0xdeadbeef)
#define CP_PRESET_INFORMATION ((ULONG_PTR)0xdeadbeef)
#define CP_COMPLETION_WAIT_MS 5000 /* for completions that must come: cancel, reset */
#define CP_AFTERWARDS_MS 200       /* watched for a second completion */

/* One IRP and what its completion routine saw. */
typedef struct _CP_CALL {
  PIRP Irp;
  KEVENT Done; /* notification: set by the completion routine */
  volatile LONG Completions;
  NTSTATUS Status;
  ULONG_PTR Information;
  BOOLEAN PendingReturned;
  ULONGLONG IssuedAt; /* KeQueryInterruptTime, 100 ns units */
  ULONGLONG CompletedAt;
} CP_CALL, *PCP_CALL;

static struct {
  WSK_REGISTRATION Registration;
  WSK_PROVIDER_NPI Provider;
  SOCKADDR_IN Host;
  ULONG DroppedPort;
  ULONG ClosedPort;
  ULONG DelayedPort;
  ULONG PendingMs;
  ULONG Failures;
  BOOLEAN Stuck; /* an IRP never completed: WskDeregister would wait forever */
} g_cp;

static const WSK_CLIENT_DISPATCH g_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

DRIVER_INITIALIZE DriverEntry;
static IO_COMPLETION_ROUTINE CpComplete;

static VOID CpFail(const char *What, const char *Detail) {
  g_cp.Failures++;
  DbgPrint("connect_pending: FAIL %s: %s\n", What, Detail);
}

static ULONG CpMsSince(ULONGLONG Start, ULONGLONG End) {
  return (ULONG)((End - Start) / 10000);
}

static NTSTATUS CpComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PCP_CALL call = (PCP_CALL)Context;
  UNREFERENCED_PARAMETER(DeviceObject);
  call->Status = Irp->IoStatus.Status;
  call->Information = Irp->IoStatus.Information;
  call->PendingReturned = Irp->PendingReturned;
  call->CompletedAt = KeQueryInterruptTime();
  InterlockedIncrement(&call->Completions);
  KeSetEvent(&call->Done, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Readies the IRP for a call: IoStatus preset, completion routine on every outcome. */
static PIRP CpPrepare(PCP_CALL Call) {
  IoReuseIrp(Call->Irp, STATUS_UNSUCCESSFUL);
  Call->Irp->IoStatus.Status = CP_PRESET;
  Call->Irp->IoStatus.Information = CP_PRESET_INFORMATION;
  KeClearEvent(&Call->Done);
  InterlockedExchange(&Call->Completions, 0);
  Call->Status = CP_PRESET;
  Call->Information = CP_PRESET_INFORMATION;
  Call->PendingReturned = FALSE;
  IoSetCompletionRoutine(Call->Irp, CpComplete, Call, TRUE, TRUE, TRUE);
  Call->IssuedAt = KeQueryInterruptTime();
  return Call->Irp;
}

/* Waits up to Ms for the completion routine; TRUE if it ran. */
static BOOLEAN CpWait(PCP_CALL Call, ULONG Ms) {
  LARGE_INTEGER timeout;
  timeout.QuadPart = -(LONGLONG)Ms * 10000;
  return KeWaitForSingleObject(&Call->Done, Executive, KernelMode, FALSE, &timeout) ==
         STATUS_SUCCESS;
}

/* A synchronous call for set-up and tear-down: its final status (bounded wait). */
static NTSTATUS CpFinish(PCP_CALL Call, NTSTATUS Returned) {
  UNREFERENCED_PARAMETER(Returned);
  if (!CpWait(Call, CP_COMPLETION_WAIT_MS)) {
    g_cp.Stuck = TRUE;
    return STATUS_IO_TIMEOUT;
  }
  return Call->Status;
}

static SOCKADDR_IN CpRemote(ULONG Port) {
  SOCKADDR_IN remote = g_cp.Host;
  remote.sin_port = RtlUshortByteSwap((USHORT)Port);
  return remote;
}

static SOCKADDR_IN CpWildcard(VOID) {
  SOCKADDR_IN local;
  RtlZeroMemory(&local, sizeof(local));
  local.sin_family = AF_INET;
  return local;
}

static VOID CpClose(PCP_CALL Call, PWSK_SOCKET Socket, const char *What) {
  NTSTATUS status = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)Socket->Dispatch)
                        ->WskCloseSocket(Socket, CpPrepare(Call));
  status = CpFinish(Call, status);
  if (!NT_SUCCESS(status)) {
    char detail[96];
    (void)RtlStringCbPrintfA(detail, sizeof(detail), "WskCloseSocket failed: 0x%08lX",
                             (ULONG)status);
    CpFail(What, detail);
  }
}

/* A connection socket bound to 0.0.0.0:0, for WskConnect; NULL on failure (reported). */
static PWSK_SOCKET CpBoundSocket(PCP_CALL Call, const char *What) {
  SOCKADDR_IN local = CpWildcard();
  PWSK_SOCKET socket;
  char detail[96];
  NTSTATUS status = g_cp.Provider.Dispatch->WskSocket(g_cp.Provider.Client, AF_INET, SOCK_STREAM,
                                                      IPPROTO_TCP, WSK_FLAG_CONNECTION_SOCKET, NULL,
                                                      NULL, NULL, NULL, NULL, CpPrepare(Call));
  status = CpFinish(Call, status);
  if (!NT_SUCCESS(status)) {
    (void)RtlStringCbPrintfA(detail, sizeof(detail), "WskSocket failed: 0x%08lX", (ULONG)status);
    CpFail(What, detail);
    return NULL;
  }
  socket = (PWSK_SOCKET)Call->Information;
  status = ((const WSK_PROVIDER_CONNECTION_DISPATCH *)socket->Dispatch)
               ->WskBind(socket, (PSOCKADDR)&local, 0, CpPrepare(Call));
  status = CpFinish(Call, status);
  if (!NT_SUCCESS(status)) {
    (void)RtlStringCbPrintfA(detail, sizeof(detail), "WskBind failed: 0x%08lX", (ULONG)status);
    CpFail(What, detail);
    CpClose(Call, socket, What);
    return NULL;
  }
  return socket;
}

/* Starts the connect under test: WskSocketConnect, or WskConnect on Socket. */
static NTSTATUS CpConnect(PCP_CALL Call, PWSK_SOCKET Socket, ULONG Port) {
  SOCKADDR_IN remote = CpRemote(Port);
  SOCKADDR_IN local = CpWildcard();
  if (Socket != NULL) {
    return ((const WSK_PROVIDER_CONNECTION_DISPATCH *)Socket->Dispatch)
        ->WskConnect(Socket, (PSOCKADDR)&remote, 0, CpPrepare(Call));
  }
  return g_cp.Provider.Dispatch->WskSocketConnect(g_cp.Provider.Client, SOCK_STREAM, IPPROTO_TCP,
                                                  (PSOCKADDR)&local, (PSOCKADDR)&remote, 0, NULL,
                                                  NULL, NULL, NULL, NULL, CpPrepare(Call));
}

/* After a completion that should not have happened: a socket WskSocketConnect handed out is
 * closed, so that the run does not leak it. */
static VOID CpCloseUnexpected(PCP_CALL Call, BOOLEAN SocketConnect, const char *What) {
  if (SocketConnect && NT_SUCCESS(Call->Status) && Call->Information != 0 &&
      Call->Information != CP_PRESET_INFORMATION) {
    CP_CALL closer;
    closer.Irp = IoAllocateIrp(1, FALSE);
    if (closer.Irp == NULL) {
      return;
    }
    KeInitializeEvent(&closer.Done, NotificationEvent, FALSE);
    CpClose(&closer, (PWSK_SOCKET)Call->Information, What);
    IoFreeIrp(closer.Irp);
  }
}

/* Checks 1 and 2: pending for PendingMs, then cancelled exactly once. */
static VOID CpCheckCancel(PCP_CALL Call, BOOLEAN SocketConnect) {
  const char *what = SocketConnect ? "WskSocketConnect to the port whose SYNs are dropped"
                                   : "WskConnect to the port whose SYNs are dropped";
  PWSK_SOCKET socket = NULL;
  char detail[256];
  NTSTATUS returned;
  BOOLEAN found;
  ULONG failures = g_cp.Failures;

  if (!SocketConnect) {
    socket = CpBoundSocket(Call, what);
    if (socket == NULL) {
      return;
    }
  }
  returned = CpConnect(Call, socket, g_cp.DroppedPort);
  if (returned != STATUS_PENDING) {
    (void)RtlStringCbPrintfA(detail, sizeof(detail),
                             "the call returned 0x%08lX, expected STATUS_PENDING (0x%08lX)",
                             (ULONG)returned, (ULONG)STATUS_PENDING);
    CpFail(what, detail);
  }
  if (CpWait(Call, g_cp.PendingMs)) {
    (void)RtlStringCbPrintfA(detail, sizeof(detail),
                             "completed after %lu ms with status 0x%08lX, Information 0x%llX; "
                             "no SYN-ACK can come, so it must stay pending",
                             CpMsSince(Call->IssuedAt, Call->CompletedAt), (ULONG)Call->Status,
                             (ULONGLONG)Call->Information);
    CpFail(what, detail);
    CpCloseUnexpected(Call, SocketConnect, what);
  } else {
    DbgPrint("connect_pending: %s: still pending after %lu ms\n", what, g_cp.PendingMs);
    found = IoCancelIrp(Call->Irp);
    if (!found) {
      CpFail(what, "IoCancelIrp found no cancel routine on the pending IRP");
    }
    if (!CpWait(Call, CP_COMPLETION_WAIT_MS)) {
      (void)RtlStringCbPrintfA(detail, sizeof(detail),
                               "not completed within %u ms of IoCancelIrp; the IRP and socket "
                               "are abandoned",
                               CP_COMPLETION_WAIT_MS);
      CpFail(what, detail);
      g_cp.Stuck = TRUE;
      return;
    }
    if (Call->Status != STATUS_CANCELLED || Call->Information != 0 ||
        Call->Irp->IoStatus.Status != STATUS_CANCELLED || Call->Irp->IoStatus.Information != 0) {
      (void)RtlStringCbPrintfA(
          detail, sizeof(detail),
          "after IoCancelIrp: status 0x%08lX, Information 0x%llX (the IRP holds 0x%08lX, "
          "0x%llX); expected STATUS_CANCELLED (0xC0000120), 0",
          (ULONG)Call->Status, (ULONGLONG)Call->Information, (ULONG)Call->Irp->IoStatus.Status,
          (ULONGLONG)Call->Irp->IoStatus.Information);
      CpFail(what, detail);
      CpCloseUnexpected(Call, SocketConnect, what);
    }
    if (!Call->PendingReturned) {
      CpFail(what, "PendingReturned is FALSE in the completion of a call that returned "
                   "STATUS_PENDING");
    }
  }
  /* Exactly once: nothing more may come. */
  KeClearEvent(&Call->Done);
  if (CpWait(Call, CP_AFTERWARDS_MS) || ReadAcquire(&Call->Completions) != 1) {
    (void)RtlStringCbPrintfA(detail, sizeof(detail), "the IRP completed %ld times",
                             ReadAcquire(&Call->Completions));
    CpFail(what, detail);
  }
  if (socket != NULL) {
    CpClose(Call, socket, what);
  }
  if (g_cp.Failures == failures) {
    DbgPrint("connect_pending: PASS %s: pending for %lu ms, then STATUS_CANCELLED once after "
             "IoCancelIrp, Information 0\n",
             what, g_cp.PendingMs);
  }
}

/* Checks 3 to 6: refused by the host's reset, at once or (Delayed) after a retransmission. */
static VOID CpCheckRefused(PCP_CALL Call, BOOLEAN SocketConnect, BOOLEAN Delayed) {
  const char *what = SocketConnect
                         ? (Delayed ? "WskSocketConnect to the closed port, first SYN dropped"
                                    : "WskSocketConnect to the closed port")
                         : (Delayed ? "WskConnect to the closed port, first SYN dropped"
                                    : "WskConnect to the closed port");
  PWSK_SOCKET socket = NULL;
  char detail[256];
  NTSTATUS returned;
  LONG completions_at_return;
  ULONG elapsed_ms;
  ULONG failures = g_cp.Failures;

  if (!SocketConnect) {
    socket = CpBoundSocket(Call, what);
    if (socket == NULL) {
      return;
    }
  }
  returned = CpConnect(Call, socket, Delayed ? g_cp.DelayedPort : g_cp.ClosedPort);
  completions_at_return = ReadAcquire(&Call->Completions);
  if (!CpWait(Call, CP_COMPLETION_WAIT_MS)) {
    (void)RtlStringCbPrintfA(detail, sizeof(detail),
                             "not completed within %u ms (returned 0x%08lX)", CP_COMPLETION_WAIT_MS,
                             (ULONG)returned);
    CpFail(what, detail);
    g_cp.Stuck = TRUE;
    return;
  }
  elapsed_ms = CpMsSince(Call->IssuedAt, Call->CompletedAt);
  if (Call->Status != STATUS_CONNECTION_REFUSED || Call->Information != 0 ||
      Call->Irp->IoStatus.Status != STATUS_CONNECTION_REFUSED ||
      Call->Irp->IoStatus.Information != 0) {
    (void)RtlStringCbPrintfA(detail, sizeof(detail),
                             "completed with status 0x%08lX, Information 0x%llX (the IRP holds "
                             "0x%08lX, 0x%llX); expected STATUS_CONNECTION_REFUSED (0xC0000236), "
                             "0",
                             (ULONG)Call->Status, (ULONGLONG)Call->Information,
                             (ULONG)Call->Irp->IoStatus.Status,
                             (ULONGLONG)Call->Irp->IoStatus.Information);
    CpFail(what, detail);
    CpCloseUnexpected(Call, SocketConnect, what);
  }
  if (Delayed && returned != STATUS_PENDING) {
    (void)RtlStringCbPrintfA(detail, sizeof(detail),
                             "the call returned 0x%08lX, expected STATUS_PENDING (0x%08lX): the "
                             "reset cannot come before the SYN is retransmitted",
                             (ULONG)returned, (ULONG)STATUS_PENDING);
    CpFail(what, detail);
  }
  if (returned == STATUS_PENDING) {
    if (!Call->PendingReturned) {
      CpFail(what, "returned STATUS_PENDING but PendingReturned is FALSE in its completion");
    }
  } else {
    if (returned != Call->Status) {
      (void)RtlStringCbPrintfA(detail, sizeof(detail),
                               "returned 0x%08lX but completed with 0x%08lX", (ULONG)returned,
                               (ULONG)Call->Status);
      CpFail(what, detail);
    }
    if (completions_at_return != 1 || Call->PendingReturned) {
      CpFail(what, "returned a final status, but had not completed the IRP (with "
                   "PendingReturned FALSE) before returning");
    }
  }
  KeClearEvent(&Call->Done);
  if (CpWait(Call, CP_AFTERWARDS_MS) || ReadAcquire(&Call->Completions) != 1) {
    (void)RtlStringCbPrintfA(detail, sizeof(detail), "the IRP completed %ld times",
                             ReadAcquire(&Call->Completions));
    CpFail(what, detail);
  }
  if (socket != NULL) {
    CpClose(Call, socket, what);
  }
  if (g_cp.Failures == failures) {
    DbgPrint("connect_pending: PASS %s: STATUS_CONNECTION_REFUSED once after %lu ms "
             "(returned 0x%08lX), Information 0\n",
             what, elapsed_ms, (ULONG)returned);
  }
}

static NTSTATUS CpReadParameters(PUNICODE_STRING RegistryPath) {
  static const WCHAR suffix[] = L"\\Parameters";
  WCHAR address_buffer[64];
  UNICODE_STRING address = {0, sizeof(address_buffer) - sizeof(WCHAR), address_buffer};
  RTL_QUERY_REGISTRY_TABLE table[6];
  UNICODE_STRING key;
  PCWSTR terminator;
  NTSTATUS status;

  g_cp.PendingMs = 1000;
  key.Length = 0;
  key.MaximumLength = (USHORT)(RegistryPath->Length + sizeof(suffix));
  key.Buffer = (PWCH)ExAllocatePool2(POOL_FLAG_PAGED, key.MaximumLength, CP_TAG);
  if (key.Buffer == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  RtlCopyUnicodeString(&key, RegistryPath);
  status = RtlUnicodeStringCatString(&key, suffix);
  if (NT_SUCCESS(status)) {
    RtlZeroMemory(table, sizeof(table));
    table[0].Flags =
        RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK | RTL_QUERY_REGISTRY_REQUIRED;
    table[0].Name = L"Address";
    table[0].EntryContext = &address;
    table[0].DefaultType = (REG_SZ << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[1].Flags =
        RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK | RTL_QUERY_REGISTRY_REQUIRED;
    table[1].Name = L"DroppedPort";
    table[1].EntryContext = &g_cp.DroppedPort;
    table[1].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[2].Flags =
        RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK | RTL_QUERY_REGISTRY_REQUIRED;
    table[2].Name = L"ClosedPort";
    table[2].EntryContext = &g_cp.ClosedPort;
    table[2].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[4].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[4].Name = L"DelayedPort";
    table[4].EntryContext = &g_cp.DelayedPort;
    table[4].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[3].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[3].Name = L"PendingMs";
    table[3].EntryContext = &g_cp.PendingMs;
    table[3].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    status = RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, key.Buffer, table, NULL, NULL);
  }
  ExFreePoolWithTag(key.Buffer, CP_TAG);
  if (!NT_SUCCESS(status)) {
    DbgPrint("connect_pending: needs Address (REG_SZ), DroppedPort and ClosedPort (REG_DWORD) "
             "parameters: 0x%08lX\n",
             (ULONG)status);
    return status;
  }
  address_buffer[address.Length / sizeof(WCHAR)] = L'\0';
  RtlZeroMemory(&g_cp.Host, sizeof(g_cp.Host));
  status = RtlIpv4StringToAddressW(address_buffer, TRUE, &terminator, &g_cp.Host.sin_addr);
  if (!NT_SUCCESS(status) || *terminator != L'\0') {
    DbgPrint("connect_pending: Address '%wZ' is not an IPv4 literal\n", &address);
    return STATUS_INVALID_PARAMETER;
  }
  g_cp.Host.sin_family = AF_INET;
  if (g_cp.DroppedPort == 0 || g_cp.DroppedPort > 65535 || g_cp.ClosedPort == 0 ||
      g_cp.ClosedPort > 65535 || g_cp.DelayedPort > 65535 || g_cp.PendingMs == 0 ||
      g_cp.PendingMs > 60000) {
    DbgPrint("connect_pending: ports must be 1..65535, PendingMs 1..60000\n");
    return STATUS_INVALID_PARAMETER;
  }
  DbgPrint("connect_pending: host %wZ, SYNs dropped on port %lu, port %lu closed, port %lu "
           "closed after a dropped SYN (0: not tested)\n",
           &address, g_cp.DroppedPort, g_cp.ClosedPort, g_cp.DelayedPort);
  return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client_dispatch};
  CP_CALL call;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(DriverObject);

  status = CpReadParameters(RegistryPath);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = WskRegister(&client, &g_cp.Registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = WskCaptureProviderNPI(&g_cp.Registration, WSK_INFINITE_WAIT, &g_cp.Provider);
  if (!NT_SUCCESS(status)) {
    WskDeregister(&g_cp.Registration);
    return status;
  }
  call.Irp = IoAllocateIrp(1, FALSE);
  if (call.Irp == NULL) {
    WskReleaseProviderNPI(&g_cp.Registration);
    WskDeregister(&g_cp.Registration);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  KeInitializeEvent(&call.Done, NotificationEvent, FALSE);

  CpCheckCancel(&call, TRUE);
  if (!g_cp.Stuck) {
    CpCheckCancel(&call, FALSE);
  }
  if (!g_cp.Stuck) {
    CpCheckRefused(&call, TRUE, FALSE);
  }
  if (!g_cp.Stuck) {
    CpCheckRefused(&call, FALSE, FALSE);
  }
  if (!g_cp.Stuck && g_cp.DelayedPort != 0) {
    CpCheckRefused(&call, TRUE, TRUE);
  }
  if (!g_cp.Stuck && g_cp.DelayedPort != 0) {
    CpCheckRefused(&call, FALSE, TRUE);
  }

  WskReleaseProviderNPI(&g_cp.Registration);
  if (g_cp.Stuck) {
    /* An IRP the provider still holds: neither it nor the registration can be released. */
    DbgPrint("connect_pending: an IRP never completed; not deregistering\n");
  } else {
    IoFreeIrp(call.Irp);
    WskDeregister(&g_cp.Registration);
  }
  if (g_cp.Failures != 0) {
    DbgPrint("connect_pending: %lu check(s) failed\n", g_cp.Failures);
    return STATUS_UNSUCCESSFUL;
  }
  DbgPrint("connect_pending: all checks passed\n");
  return STATUS_SUCCESS;
}

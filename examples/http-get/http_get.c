/*
 * http-get: a WDK-style WSK client driver that fetches one page over HTTP/1.1 and logs the
 * server's status line, all from DriverEntry.
 *
 * - Its parameters come from the service key's Parameters subkey, read with
 *   RtlQueryRegistryValues: Host (REG_SZ, default "localhost"), Port (REG_DWORD, default 80) and
 *   Path (REG_SZ, default "/"). Under uwsk-run: --param Host=... --param-dword Port=...
 * - WskGetAddressInfo resolves Host, with the port as the service name so that every answer
 *   carries it; the driver tries the addresses in the order returned until WskSocketConnect
 *   succeeds.
 * - It captures the WSK provider without waiting (WSK_NO_WAIT): DriverEntry must not wait for
 *   the WSK subsystem, which may not be ready while drivers load.
 * - It sends "GET <Path> HTTP/1.1" with Host and "Connection: close" headers, receives with
 *   WskReceive until the server closes (keeping the first 64 KiB, counting the rest), logs the
 *   status line and the byte counts, then disconnects and closes the socket.
 * Every WSK call is made synchronously at PASSIVE_LEVEL with one IRP, reused between calls, whose
 * completion routine signals a KEVENT. DriverEntry returns STATUS_SUCCESS only when a status
 * line arrived (a "404 Not Found" is a success: the server answered); otherwise it returns the
 * failure, printed first.
 */
#include <ntddk.h>
#include <ntstrsafe.h>
#include <wsk.h>
#include <ip2string.h>

#define HTTP_TAG 'pttH'             /* "Http" in pool tools */
#define HTTP_HOST_CHARS 256         /* longest Host, with its NUL */
#define HTTP_PATH_CHARS 2048        /* longest Path, with its NUL */
#define HTTP_REQUEST_BYTES 4096     /* the request line and headers */
#define HTTP_KEEP_BYTES (64 * 1024) /* the part of the response kept for the status line */
#define HTTP_SCRATCH_BYTES 4096     /* where bytes past HTTP_KEEP_BYTES land, to be counted */
#define HTTP_ADDRESS_CHARS 64       /* "[ipv6%scope]:port" */

typedef struct _HTTP_GET {
  WSK_REGISTRATION Registration;
  WSK_PROVIDER_NPI Provider;
  BOOLEAN Registered;
  BOOLEAN Captured;
  PIRP Irp;    /* the one IRP of every call, reused */
  KEVENT Done; /* signalled by Irp's completion routine */

  /* The parameters; the UNICODE_STRINGs point into the buffers that follow them. */
  UNICODE_STRING Host;
  WCHAR HostBuffer[HTTP_HOST_CHARS];
  ULONG Port;
  UNICODE_STRING Path;
  WCHAR PathBuffer[HTTP_PATH_CHARS];
  CHAR HostText[HTTP_HOST_CHARS]; /* the same, as ASCII for the request */
  CHAR PathText[HTTP_PATH_CHARS];

  PADDRINFOEXW Addresses; /* from WskGetAddressInfo, freed with WskFreeAddressInfo */
  PWSK_SOCKET Socket;     /* the connection, once WskSocketConnect succeeded */
  CHAR AddressText[HTTP_ADDRESS_CHARS];

  PCHAR Request;
  ULONG RequestLength;
  PMDL RequestMdl;
  PCHAR Response; /* HTTP_KEEP_BYTES kept, then HTTP_SCRATCH_BYTES overwritten */
  PMDL ResponseMdl;
  ULONG Kept;       /* bytes of the response in Response[0..Kept) */
  ULONG64 Received; /* bytes of the response in all */
} HTTP_GET, *PHTTP_GET;

static const WSK_CLIENT_DISPATCH g_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD HttpUnload;
static IO_COMPLETION_ROUTINE HttpComplete;

static const WSK_PROVIDER_CONNECTION_DISPATCH *HttpDispatch(PHTTP_GET Get) {
  return (const WSK_PROVIDER_CONNECTION_DISPATCH *)Get->Socket->Dispatch;
}

/* ---- Synchronous calls ---------------------------------------------------------------------- */

static NTSTATUS HttpComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  /* The IRP is ours, to reuse: the I/O manager must not finish it. */
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Readies the IRP for the next call. The event is cleared here because a call that completes
 * at once has signalled it without anyone waiting. */
static PIRP HttpIrp(PHTTP_GET Get) {
  IoReuseIrp(Get->Irp, STATUS_UNSUCCESSFUL);
  KeClearEvent(&Get->Done);
  IoSetCompletionRoutine(Get->Irp, HttpComplete, &Get->Done, TRUE, TRUE, TRUE);
  return Get->Irp;
}

/* The final status of a call: at once, or once its IRP completes. */
static NTSTATUS HttpWait(PHTTP_GET Get, NTSTATUS Status) {
  if (Status == STATUS_PENDING) {
    KeWaitForSingleObject(&Get->Done, Executive, KernelMode, FALSE, NULL);
    Status = Get->Irp->IoStatus.Status;
  }
  return Status;
}

/* ---- Parameters ----------------------------------------------------------------------------- */

/* Copies a parameter into ASCII for the request. Only visible ASCII is allowed: a space, CR or
 * LF would let the parameter rewrite the request. */
static BOOLEAN HttpToText(PCUNICODE_STRING Value, PCHAR Text, ULONG Size) {
  ULONG count = Value->Length / sizeof(WCHAR);
  ULONG i;
  if (count == 0 || count >= Size) {
    return FALSE;
  }
  for (i = 0; i < count; i++) {
    WCHAR c = Value->Buffer[i];
    if (c <= L' ' || c > L'~') {
      return FALSE;
    }
    Text[i] = (CHAR)c;
  }
  Text[count] = '\0';
  return TRUE;
}

/* Reads Host, Port and Path from <RegistryPath>\Parameters. The defaults are set first and the
 * table has no defaults of its own (REG_NONE), so a missing value, or a missing Parameters key,
 * leaves them. RTL_QUERY_REGISTRY_TYPECHECK rejects a value of the wrong type instead of letting
 * it overrun the destination. */
static NTSTATUS HttpReadParameters(PHTTP_GET Get, PUNICODE_STRING RegistryPath) {
  static const WCHAR suffix[] = L"\\Parameters";
  RTL_QUERY_REGISTRY_TABLE table[4];
  UNICODE_STRING key;
  NTSTATUS status;

  Get->Host.Buffer = Get->HostBuffer;
  Get->Host.MaximumLength = sizeof(Get->HostBuffer);
  Get->Path.Buffer = Get->PathBuffer;
  Get->Path.MaximumLength = sizeof(Get->PathBuffer);
  (void)RtlUnicodeStringCopyString(&Get->Host, L"localhost");
  (void)RtlUnicodeStringCopyString(&Get->Path, L"/");
  Get->Port = 80;

  /* RegistryPath is not NUL-terminated; the path RtlQueryRegistryValues takes must be. */
  key.Length = 0;
  key.MaximumLength = (USHORT)(RegistryPath->Length + sizeof(suffix));
  key.Buffer = (PWCH)ExAllocatePool2(POOL_FLAG_PAGED, key.MaximumLength, HTTP_TAG);
  if (key.Buffer == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  RtlCopyUnicodeString(&key, RegistryPath);
  status = RtlUnicodeStringCatString(&key, suffix);
  if (NT_SUCCESS(status)) {
    RtlZeroMemory(table, sizeof(table));
    table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[0].Name = L"Host";
    table[0].EntryContext = &Get->Host;
    table[0].DefaultType = (REG_SZ << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[1].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[1].Name = L"Port";
    table[1].EntryContext = &Get->Port;
    table[1].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    table[2].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
    table[2].Name = L"Path";
    table[2].EntryContext = &Get->Path;
    table[2].DefaultType = (REG_SZ << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
    /* table[3], all zero, ends the table. */
    status = RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, key.Buffer, table, NULL, NULL);
    if (status == STATUS_OBJECT_NAME_NOT_FOUND) {
      DbgPrint("http-get: no %wZ key; using the defaults\n", &key);
      status = STATUS_SUCCESS;
    } else if (!NT_SUCCESS(status)) {
      DbgPrint("http-get: cannot read %wZ (Host and Path are REG_SZ, Port a REG_DWORD): "
               "0x%08lX\n",
               &key, (ULONG)status);
    }
  }
  ExFreePoolWithTag(key.Buffer, HTTP_TAG);
  if (!NT_SUCCESS(status)) {
    return status;
  }

  if (!HttpToText(&Get->Host, Get->HostText, sizeof(Get->HostText))) {
    DbgPrint("http-get: Host must be 1 to %u visible ASCII characters\n", HTTP_HOST_CHARS - 1);
    return STATUS_INVALID_PARAMETER;
  }
  if (!HttpToText(&Get->Path, Get->PathText, sizeof(Get->PathText)) || Get->PathText[0] != '/') {
    DbgPrint("http-get: Path must start with '/' and hold up to %u visible ASCII characters\n",
             HTTP_PATH_CHARS - 1);
    return STATUS_INVALID_PARAMETER;
  }
  if (Get->Port == 0 || Get->Port > 65535) {
    DbgPrint("http-get: Port %lu is not a TCP port\n", Get->Port);
    return STATUS_INVALID_PARAMETER;
  }
  DbgPrint("http-get: GET http://%wZ:%lu%wZ\n", &Get->Host, Get->Port, &Get->Path);
  return STATUS_SUCCESS;
}

/* ---- Buffers -------------------------------------------------------------------------------- */

/* A nonpaged buffer and the MDL WSK_BUF needs to describe it. */
static NTSTATUS HttpAllocateBuffer(ULONG Size, PCHAR *Buffer, PMDL *Mdl) {
  *Buffer = (PCHAR)ExAllocatePool2(POOL_FLAG_NON_PAGED, Size, HTTP_TAG);
  if (*Buffer == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  *Mdl = IoAllocateMdl(*Buffer, Size, FALSE, FALSE, NULL);
  if (*Mdl == NULL) {
    ExFreePoolWithTag(*Buffer, HTTP_TAG);
    *Buffer = NULL;
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  MmBuildMdlForNonPagedPool(*Mdl);
  return STATUS_SUCCESS;
}

static VOID HttpFreeBuffer(PCHAR *Buffer, PMDL *Mdl) {
  if (*Mdl != NULL) {
    IoFreeMdl(*Mdl);
    *Mdl = NULL;
  }
  if (*Buffer != NULL) {
    ExFreePoolWithTag(*Buffer, HTTP_TAG);
    *Buffer = NULL;
  }
}

/* Builds the request. HTTP/1.1 wants the port in Host unless it is the default, and an IPv6
 * literal in brackets there. */
static NTSTATUS HttpBuildRequest(PHTTP_GET Get) {
  BOOLEAN literal6 = FALSE;
  CHAR port[8] = "";
  size_t length;
  ULONG i;
  NTSTATUS status = HttpAllocateBuffer(HTTP_REQUEST_BYTES, &Get->Request, &Get->RequestMdl);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  for (i = 0; Get->HostText[i] != '\0'; i++) {
    literal6 = literal6 || Get->HostText[i] == ':';
  }
  if (Get->Port != 80) {
    (void)RtlStringCbPrintfA(port, sizeof(port), ":%lu", Get->Port);
  }
  status = RtlStringCbPrintfA(Get->Request, HTTP_REQUEST_BYTES,
                              "GET %s HTTP/1.1\r\n"
                              "Host: %s%s%s%s\r\n"
                              "User-Agent: uwsk-http-get/1.0\r\n"
                              "Connection: close\r\n"
                              "\r\n",
                              Get->PathText, literal6 ? "[" : "", Get->HostText,
                              literal6 ? "]" : "", port);
  if (NT_SUCCESS(status)) {
    status = RtlStringCbLengthA(Get->Request, HTTP_REQUEST_BYTES, &length);
  }
  if (!NT_SUCCESS(status)) {
    return status;
  }
  Get->RequestLength = (ULONG)length;
  return HttpAllocateBuffer(HTTP_KEEP_BYTES + HTTP_SCRATCH_BYTES, &Get->Response,
                            &Get->ResponseMdl);
}

/* ---- Name resolution and connection --------------------------------------------------------- */

static NTSTATUS HttpResolve(PHTTP_GET Get) {
  WCHAR serviceBuffer[8];
  UNICODE_STRING service;
  ADDRINFOEXW hints;
  NTSTATUS status;
  service.Length = 0;
  service.MaximumLength = sizeof(serviceBuffer);
  service.Buffer = serviceBuffer;
  status = RtlIntegerToUnicodeString(Get->Port, 10, &service);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  RtlZeroMemory(&hints, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  status = Get->Provider.Dispatch->WskGetAddressInfo(Get->Provider.Client, &Get->Host, &service,
                                                     NS_ALL, NULL, &hints, &Get->Addresses, NULL,
                                                     NULL, HttpIrp(Get));
  status = HttpWait(Get, status);
  if (!NT_SUCCESS(status)) {
    Get->Addresses = NULL;
    DbgPrint("http-get: cannot resolve %wZ: 0x%08lX\n", &Get->Host, (ULONG)status);
  }
  return status;
}

/* "127.0.0.1:80" or "[::1]:80", for the log. */
static VOID HttpDescribe(PHTTP_GET Get, PSOCKADDR Address) {
  ULONG length = sizeof(Get->AddressText);
  NTSTATUS status;
  if (Address->sa_family == AF_INET6) {
    PSOCKADDR_IN6 v6 = (PSOCKADDR_IN6)Address;
    status = RtlIpv6AddressToStringExA(&v6->sin6_addr, v6->sin6_scope_id, v6->sin6_port,
                                       Get->AddressText, &length);
  } else {
    PSOCKADDR_IN v4 = (PSOCKADDR_IN)Address;
    status = RtlIpv4AddressToStringExA(&v4->sin_addr, v4->sin_port, Get->AddressText, &length);
  }
  if (!NT_SUCCESS(status)) {
    (void)RtlStringCbCopyA(Get->AddressText, sizeof(Get->AddressText), "?");
  }
}

/* Tries each address in the order WskGetAddressInfo gave them; the last failure is returned when
 * none connects. */
static NTSTATUS HttpConnect(PHTTP_GET Get) {
  NTSTATUS status = STATUS_NO_MATCH;
  PADDRINFOEXW entry;
  for (entry = Get->Addresses; entry != NULL; entry = entry->ai_next) {
    union {
      SOCKADDR_IN6 v6;
      SOCKADDR_IN v4;
    } local;
    if (entry->ai_addr == NULL || (entry->ai_family != AF_INET && entry->ai_family != AF_INET6)) {
      continue;
    }
    /* Any local address and port of the same family: the stack picks them. */
    RtlZeroMemory(&local, sizeof(local));
    local.v4.sin_family = (ADDRESS_FAMILY)entry->ai_family;
    HttpDescribe(Get, entry->ai_addr);
    DbgPrint("http-get: connecting to %s\n", Get->AddressText);
    status = Get->Provider.Dispatch->WskSocketConnect(
        Get->Provider.Client, SOCK_STREAM, IPPROTO_TCP, (PSOCKADDR)&local, entry->ai_addr, 0, NULL,
        NULL, NULL, NULL, NULL, HttpIrp(Get));
    status = HttpWait(Get, status);
    if (NT_SUCCESS(status)) {
      Get->Socket = (PWSK_SOCKET)Get->Irp->IoStatus.Information;
      DbgPrint("http-get: connected to %s\n", Get->AddressText);
      return STATUS_SUCCESS;
    }
    DbgPrint("http-get: cannot connect to %s: 0x%08lX\n", Get->AddressText, (ULONG)status);
  }
  return status;
}

/* ---- The exchange --------------------------------------------------------------------------- */

static NTSTATUS HttpSendRequest(PHTTP_GET Get) {
  ULONG sent = 0;
  while (sent < Get->RequestLength) {
    WSK_BUF buffer;
    NTSTATUS status;
    buffer.Mdl = Get->RequestMdl;
    buffer.Offset = sent;
    buffer.Length = Get->RequestLength - sent;
    status = HttpDispatch(Get)->WskSend(Get->Socket, &buffer, 0, HttpIrp(Get));
    status = HttpWait(Get, status);
    if (!NT_SUCCESS(status)) {
      DbgPrint("http-get: send failed: 0x%08lX\n", (ULONG)status);
      return status;
    }
    if (Get->Irp->IoStatus.Information == 0) {
      return STATUS_UNEXPECTED_NETWORK_ERROR;
    }
    sent += (ULONG)Get->Irp->IoStatus.Information;
  }
  return STATUS_SUCCESS;
}

/* Receives until the server closes its side ("Connection: close" asked it to). Bytes past
 * HTTP_KEEP_BYTES go to the scratch area, over and over, and are only counted. A reset after
 * some data ends the response too; the caller judges what arrived. */
static NTSTATUS HttpReceiveResponse(PHTTP_GET Get) {
  for (;;) {
    WSK_BUF buffer;
    NTSTATUS status;
    buffer.Mdl = Get->ResponseMdl;
    if (Get->Kept < HTTP_KEEP_BYTES) {
      buffer.Offset = Get->Kept;
      buffer.Length = HTTP_KEEP_BYTES - Get->Kept;
    } else {
      buffer.Offset = HTTP_KEEP_BYTES;
      buffer.Length = HTTP_SCRATCH_BYTES;
    }
    status = HttpDispatch(Get)->WskReceive(Get->Socket, &buffer, 0, HttpIrp(Get));
    status = HttpWait(Get, status);
    if (!NT_SUCCESS(status)) {
      DbgPrint("http-get: receive failed after %I64u bytes: 0x%08lX\n", Get->Received,
               (ULONG)status);
      return Get->Received != 0 ? STATUS_SUCCESS : status;
    }
    if (Get->Irp->IoStatus.Information == 0) {
      return STATUS_SUCCESS; /* the server closed the connection: the response is complete */
    }
    Get->Received += Get->Irp->IoStatus.Information;
    if (Get->Kept < HTTP_KEEP_BYTES) {
      Get->Kept += (ULONG)Get->Irp->IoStatus.Information;
    }
  }
}

/* Where Pattern first appears in the kept response; Get->Kept when it does not. */
static ULONG HttpFind(PHTTP_GET Get, const CHAR *Pattern, ULONG PatternLength) {
  ULONG i;
  for (i = 0; i + PatternLength <= Get->Kept; i++) {
    if (RtlCompareMemory(Get->Response + i, Pattern, PatternLength) == PatternLength) {
      return i;
    }
  }
  return Get->Kept;
}

/* Logs the status line and the sizes; fails when the server sent no HTTP status line. */
static NTSTATUS HttpReport(PHTTP_GET Get) {
  CHAR line[128];
  ULONG lineLength = HttpFind(Get, "\r\n", 2);
  ULONG headerLength = HttpFind(Get, "\r\n\r\n", 4);
  ULONG i;
  if (lineLength == Get->Kept || lineLength < 12 ||
      RtlCompareMemory(Get->Response, "HTTP/", 5) != 5) {
    DbgPrint("http-get: no HTTP status line in the %I64u bytes received\n", Get->Received);
    return STATUS_INVALID_NETWORK_RESPONSE;
  }
  /* The line is the server's text: printed only as far as it is short and printable. */
  if (lineLength >= sizeof(line)) {
    lineLength = sizeof(line) - 1;
  }
  for (i = 0; i < lineLength; i++) {
    CHAR c = Get->Response[i];
    line[i] = c >= ' ' && c <= '~' ? c : '?';
  }
  line[lineLength] = '\0';
  DbgPrint("http-get: %s\n", line);
  if (headerLength == Get->Kept) {
    DbgPrint("http-get: received %I64u bytes (the header did not end)\n", Get->Received);
  } else {
    headerLength += 4;
    DbgPrint("http-get: received %I64u bytes: header %lu, body %I64u\n", Get->Received,
             headerLength, Get->Received - headerLength);
  }
  return STATUS_SUCCESS;
}

/* Closes the connection: a graceful disconnect (the server has usually closed first), then the
 * socket. */
static VOID HttpCloseConnection(PHTTP_GET Get) {
  NTSTATUS status = HttpDispatch(Get)->WskDisconnect(Get->Socket, NULL, 0, HttpIrp(Get));
  status = HttpWait(Get, status);
  if (!NT_SUCCESS(status)) {
    DbgPrint("http-get: disconnect: 0x%08lX\n", (ULONG)status);
  }
  status = HttpDispatch(Get)->WskCloseSocket(Get->Socket, HttpIrp(Get));
  (void)HttpWait(Get, status);
  Get->Socket = NULL;
}

/* ---- Set-up and tear-down ------------------------------------------------------------------- */

static NTSTATUS HttpRun(PHTTP_GET Get, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client_dispatch};
  NTSTATUS status = HttpReadParameters(Get, RegistryPath);
  if (NT_SUCCESS(status)) {
    status = HttpBuildRequest(Get);
  }
  if (!NT_SUCCESS(status)) {
    return status;
  }
  Get->Irp = IoAllocateIrp(1, FALSE);
  if (Get->Irp == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  KeInitializeEvent(&Get->Done, NotificationEvent, FALSE);
  status = WskRegister(&client, &Get->Registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  Get->Registered = TRUE;
  /* No wait in DriverEntry: while drivers load, the WSK subsystem may not be ready yet, and a
   * wait for it there could hold up the whole boot. If it is not ready, the load fails with
   * STATUS_DEVICE_NOT_READY and can be tried again later. */
  status = WskCaptureProviderNPI(&Get->Registration, WSK_NO_WAIT, &Get->Provider);
  if (status == STATUS_DEVICE_NOT_READY) {
    DbgPrint("http-get: the WSK subsystem is not ready yet; load the driver again later\n");
  }
  if (!NT_SUCCESS(status)) {
    return status;
  }
  Get->Captured = TRUE;
  status = HttpResolve(Get);
  if (NT_SUCCESS(status)) {
    status = HttpConnect(Get);
  }
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = HttpSendRequest(Get);
  if (NT_SUCCESS(status)) {
    status = HttpReceiveResponse(Get);
  }
  if (NT_SUCCESS(status)) {
    status = HttpReport(Get);
  }
  return status;
}

/* Undoes whatever HttpRun got to, in reverse order. */
static VOID HttpCleanup(PHTTP_GET Get) {
  if (Get->Socket != NULL) {
    HttpCloseConnection(Get);
  }
  if (Get->Addresses != NULL) {
    Get->Provider.Dispatch->WskFreeAddressInfo(Get->Provider.Client, Get->Addresses);
  }
  if (Get->Captured) {
    WskReleaseProviderNPI(&Get->Registration);
  }
  if (Get->Registered) {
    WskDeregister(&Get->Registration);
  }
  if (Get->Irp != NULL) {
    IoFreeIrp(Get->Irp);
  }
  HttpFreeBuffer(&Get->Response, &Get->ResponseMdl);
  HttpFreeBuffer(&Get->Request, &Get->RequestMdl);
}

/* Nothing is left running once DriverEntry returns; unloading only says so. */
static VOID HttpUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("http-get: unloaded\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  NTSTATUS status;
  PHTTP_GET get = (PHTTP_GET)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(HTTP_GET), HTTP_TAG);
  if (get == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  status = HttpRun(get, RegistryPath);
  HttpCleanup(get);
  ExFreePoolWithTag(get, HTTP_TAG);
  if (!NT_SUCCESS(status)) {
    DbgPrint("http-get: failed: 0x%08lX\n", (ULONG)status);
    return status;
  }
  DriverObject->DriverUnload = HttpUnload;
  return STATUS_SUCCESS;
}

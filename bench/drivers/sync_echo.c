/*
 * sync-echo: a WDK-style WSK echo driver written the synchronous way most WSK code is: a system
 * thread per connection, and every WSK call made with an IRP whose completion routine sets a
 * KEVENT the calling thread waits on.
 *
 * It listens on 127.0.0.1, on the port given by the REG_DWORD value Port of its service's
 * Parameters key (uwsk-run --param-dword Port=N; the benchmark runner passes the port it chose
 * for the run), or port 30119 (SYNC_ECHO_PORT, the build may define another) without that value,
 * so that `uwsk-run bench-sync-echo.so` alone works. An acceptor thread calls WskAccept and waits;
 * each accepted connection gets a system thread (PsCreateSystemThread) that loops: WskReceive
 * into a 4 KiB buffer and wait, WskSend of what arrived and wait, until the client closes (a
 * receive of 0 bytes) or a call fails; then a graceful disconnect (after a clean end) and the
 * close. The driver checks nothing it echoes: the load generator verifies every byte.
 *
 * Stopping: DriverUnload cancels the acceptor's pending accept (IoCancelIrp; the acceptor then
 * closes the listener and ends), then each connection's IRP in flight, so that every connection
 * thread ends, and waits for every thread object. A thread prepares its IRP (IoReuseIrp) before
 * it looks at its stop flag, so a cancel that comes between the two finds the IRP's Cancel flag
 * set when the call is made, and the call fails at once.
 */
#include <ntddk.h>
#include <wsk.h>

#ifndef SYNC_ECHO_PORT
#define SYNC_ECHO_PORT 30119
#endif
#define SYNC_TAG 'cnyS'
#define SYNC_CHUNK 4096

static USHORT g_port = SYNC_ECHO_PORT; /* SyncReadPort may change it; read-only afterwards */

typedef struct _SYNC_CONNECTION {
  LIST_ENTRY Links; /* on g_sync.Connections, under g_sync.Lock */
  PWSK_SOCKET Socket;
  PKTHREAD Thread; /* referenced: waited for and released by SyncReap */
  PIRP Irp;        /* the one IRP every call of the connection uses, in turn */
  PMDL Mdl;
  KEVENT Done;      /* set by the completion routine of each call */
  BOOLEAN Stop;     /* under g_sync.Lock: DriverUnload asks the thread to end */
  BOOLEAN Finished; /* under g_sync.Lock: the thread makes no more cancellable calls */
  BOOLEAN Closed;   /* under g_sync.Lock: the socket is closed, the thread about to end */
  UCHAR Data[SYNC_CHUNK];
} SYNC_CONNECTION, *PSYNC_CONNECTION;

static struct {
  WSK_REGISTRATION Registration;
  WSK_PROVIDER_NPI Provider;
  BOOLEAN Captured;
  PWSK_SOCKET Listener;
  PKTHREAD Acceptor;
  PIRP AcceptIrp;       /* the acceptor's IRP: DriverUnload cancels it */
  KSPIN_LOCK Lock;      /* guards what follows, and the connections' Stop and Finished */
  BOOLEAN Stopping;     /* DriverUnload started */
  BOOLEAN AcceptorDone; /* the acceptor makes no more cancellable calls */
  LIST_ENTRY Connections;
} g_sync;

static const WSK_CLIENT_DISPATCH g_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD SyncUnload;
static IO_COMPLETION_ROUTINE SyncSignal;
static KSTART_ROUTINE SyncConnectionThread;
static KSTART_ROUTINE SyncAcceptThread;

/* Every call's completion routine: wake the thread that waits for it. */
static NTSTATUS SyncSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Prepares the IRP for a call whose completion sets Event. */
static VOID SyncPrepare(PIRP Irp, PKEVENT Event) {
  IoReuseIrp(Irp, STATUS_UNSUCCESSFUL);
  IoSetCompletionRoutine(Irp, SyncSignal, Event, TRUE, TRUE, TRUE);
}

/* Waits for the completion routine, which runs whether the call completed at once or later. */
static NTSTATUS SyncWait(PIRP Irp, PKEVENT Event) {
  KeWaitForSingleObject(Event, Executive, KernelMode, FALSE, NULL);
  return Irp->IoStatus.Status;
}

/* Closes a socket and waits for the close to complete. */
static VOID SyncClose(PWSK_SOCKET Socket, PIRP Irp) {
  KEVENT done;
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  SyncPrepare(Irp, &done);
  ((const WSK_PROVIDER_BASIC_DISPATCH *)Socket->Dispatch)->WskCloseSocket(Socket, Irp);
  (void)SyncWait(Irp, &done);
}

/* Under no lock: whether DriverUnload asked the connection to stop. Read after the IRP was
 * prepared, so that a cancel that comes later finds the IRP's Cancel flag to set. */
static BOOLEAN SyncStopping(PSYNC_CONNECTION Connection) {
  KIRQL irql;
  BOOLEAN stop;
  KeAcquireSpinLock(&g_sync.Lock, &irql);
  stop = Connection->Stop;
  KeReleaseSpinLock(&g_sync.Lock, irql);
  return stop;
}

static VOID SyncConnectionThread(PVOID Context) {
  PSYNC_CONNECTION connection = (PSYNC_CONNECTION)Context;
  const WSK_PROVIDER_CONNECTION_DISPATCH *dispatch =
      (const WSK_PROVIDER_CONNECTION_DISPATCH *)connection->Socket->Dispatch;
  WSK_BUF buffer;
  BOOLEAN clean = FALSE;
  KIRQL irql;
  NTSTATUS status;
  buffer.Mdl = connection->Mdl;
  buffer.Offset = 0;
  for (;;) {
    SyncPrepare(connection->Irp, &connection->Done);
    if (SyncStopping(connection)) {
      break;
    }
    buffer.Length = SYNC_CHUNK;
    dispatch->WskReceive(connection->Socket, &buffer, 0, connection->Irp);
    status = SyncWait(connection->Irp, &connection->Done);
    if (!NT_SUCCESS(status)) {
      break;
    }
    if (connection->Irp->IoStatus.Information == 0) {
      clean = TRUE; /* the client closed its side */
      break;
    }
    buffer.Length = connection->Irp->IoStatus.Information;
    SyncPrepare(connection->Irp, &connection->Done);
    if (SyncStopping(connection)) {
      break;
    }
    dispatch->WskSend(connection->Socket, &buffer, 0, connection->Irp);
    status = SyncWait(connection->Irp, &connection->Done);
    if (!NT_SUCCESS(status)) {
      break;
    }
  }
  /* From here on DriverUnload no longer touches the IRP. */
  KeAcquireSpinLock(&g_sync.Lock, &irql);
  connection->Finished = TRUE;
  KeReleaseSpinLock(&g_sync.Lock, irql);
  if (clean) {
    SyncPrepare(connection->Irp, &connection->Done);
    dispatch->WskDisconnect(connection->Socket, NULL, 0, connection->Irp);
    (void)SyncWait(connection->Irp, &connection->Done);
  }
  SyncClose(connection->Socket, connection->Irp);
  KeAcquireSpinLock(&g_sync.Lock, &irql);
  connection->Closed = TRUE;
  KeReleaseSpinLock(&g_sync.Lock, irql);
}

/* Frees a connection whose thread has ended (waiting for it to end). */
static VOID SyncFree(PSYNC_CONNECTION Connection) {
  if (Connection->Thread != NULL) {
    KeWaitForSingleObject(Connection->Thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(Connection->Thread);
  }
  if (Connection->Mdl != NULL) {
    IoFreeMdl(Connection->Mdl);
  }
  if (Connection->Irp != NULL) {
    IoFreeIrp(Connection->Irp);
  }
  ExFreePoolWithTag(Connection, SYNC_TAG);
}

/* Frees the connections whose threads have finished (all of them when All is set, after asking
 * the others to stop). */
static VOID SyncReap(BOOLEAN All) {
  for (;;) {
    PSYNC_CONNECTION victim = NULL;
    PLIST_ENTRY entry;
    KIRQL irql;
    KeAcquireSpinLock(&g_sync.Lock, &irql);
    for (entry = g_sync.Connections.Flink; entry != &g_sync.Connections; entry = entry->Flink) {
      PSYNC_CONNECTION connection = CONTAINING_RECORD(entry, SYNC_CONNECTION, Links);
      if (All && !connection->Stop) {
        connection->Stop = TRUE;
        if (!connection->Finished) {
          IoCancelIrp(connection->Irp); /* the receive or send it waits for fails */
        }
      }
      if (All || connection->Closed) {
        RemoveEntryList(&connection->Links);
        victim = connection;
        break;
      }
    }
    KeReleaseSpinLock(&g_sync.Lock, irql);
    if (victim == NULL) {
      return;
    }
    SyncFree(victim);
  }
}

static VOID SyncStartConnection(PWSK_SOCKET Socket) {
  HANDLE handle;
  KIRQL irql;
  NTSTATUS status;
  PSYNC_CONNECTION connection =
      (PSYNC_CONNECTION)ExAllocatePool2(POOL_FLAG_NON_PAGED, sizeof(*connection), SYNC_TAG);
  PIRP irp = IoAllocateIrp(1, FALSE);
  if (connection != NULL) {
    connection->Socket = Socket;
    connection->Irp = irp;
    connection->Mdl = IoAllocateMdl(connection->Data, SYNC_CHUNK, FALSE, FALSE, NULL);
    KeInitializeEvent(&connection->Done, SynchronizationEvent, FALSE);
  }
  if (connection == NULL || irp == NULL || connection->Mdl == NULL) {
    goto refuse;
  }
  MmBuildMdlForNonPagedPool(connection->Mdl);
  status = PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, SyncConnectionThread,
                                connection);
  if (!NT_SUCCESS(status)) {
    goto refuse;
  }
  (void)ObReferenceObjectByHandle(handle, THREAD_ALL_ACCESS, *PsThreadType, KernelMode,
                                  (PVOID *)&connection->Thread, NULL);
  ZwClose(handle);
  KeAcquireSpinLock(&g_sync.Lock, &irql);
  InsertTailList(&g_sync.Connections, &connection->Links);
  KeReleaseSpinLock(&g_sync.Lock, irql);
  return;

refuse: /* out of memory or threads: the connection is closed at once */
  if (irp == NULL) {
    irp = IoAllocateIrp(1, FALSE);
  }
  if (irp != NULL) {
    SyncClose(Socket, irp);
    IoFreeIrp(irp);
  }
  if (connection != NULL) {
    connection->Irp = NULL;
    connection->Thread = NULL;
    SyncFree(connection);
  }
}

/* Accepts until DriverUnload cancels the accept, then closes the listener. */
static VOID SyncAcceptThread(PVOID Context) {
  const WSK_PROVIDER_LISTEN_DISPATCH *dispatch =
      (const WSK_PROVIDER_LISTEN_DISPATCH *)g_sync.Listener->Dispatch;
  PIRP irp = g_sync.AcceptIrp;
  KEVENT done;
  KIRQL irql;
  UNREFERENCED_PARAMETER(Context);
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  for (;;) {
    NTSTATUS status;
    BOOLEAN stop;
    SyncPrepare(irp, &done);
    KeAcquireSpinLock(&g_sync.Lock, &irql);
    stop = g_sync.Stopping;
    KeReleaseSpinLock(&g_sync.Lock, irql);
    if (stop) {
      break;
    }
    dispatch->WskAccept(g_sync.Listener, 0, NULL, NULL, NULL, NULL, irp);
    status = SyncWait(irp, &done);
    if (status == STATUS_CANCELLED) {
      break; /* DriverUnload */
    }
    if (NT_SUCCESS(status)) {
      SyncReap(FALSE);
      SyncStartConnection((PWSK_SOCKET)irp->IoStatus.Information);
    }
  }
  KeAcquireSpinLock(&g_sync.Lock, &irql);
  g_sync.AcceptorDone = TRUE;
  KeReleaseSpinLock(&g_sync.Lock, irql);
  SyncClose(g_sync.Listener, irp);
}

static NTSTATUS SyncListen(VOID) {
  KEVENT done;
  NTSTATUS status;
  SOCKADDR_IN local;
  HANDLE handle;
  PIRP irp = IoAllocateIrp(1, FALSE);
  if (irp == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  SyncPrepare(irp, &done);
  g_sync.Provider.Dispatch->WskSocket(g_sync.Provider.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                      WSK_FLAG_LISTEN_SOCKET, NULL, NULL, NULL, NULL, NULL, irp);
  status = SyncWait(irp, &done);
  if (!NT_SUCCESS(status)) {
    IoFreeIrp(irp);
    return status;
  }
  g_sync.Listener = (PWSK_SOCKET)irp->IoStatus.Information;
  RtlZeroMemory(&local, sizeof(local));
  local.sin_family = AF_INET;
  local.sin_port = RtlUshortByteSwap(g_port);
  local.sin_addr.s_addr = RtlUlongByteSwap(INADDR_LOOPBACK);
  SyncPrepare(irp, &done);
  ((const WSK_PROVIDER_LISTEN_DISPATCH *)g_sync.Listener->Dispatch)
      ->WskBind(g_sync.Listener, (PSOCKADDR)&local, 0, irp);
  status = SyncWait(irp, &done);
  if (NT_SUCCESS(status)) {
    g_sync.AcceptIrp = irp; /* the acceptor's from now on */
    status =
        PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, SyncAcceptThread, NULL);
  }
  if (!NT_SUCCESS(status)) {
    g_sync.AcceptIrp = NULL;
    DbgPrint("sync-echo: cannot listen on port %u: 0x%08lX\n", g_port, (ULONG)status);
    SyncClose(g_sync.Listener, irp);
    IoFreeIrp(irp);
    g_sync.Listener = NULL;
    return status;
  }
  (void)ObReferenceObjectByHandle(handle, THREAD_ALL_ACCESS, *PsThreadType, KernelMode,
                                  (PVOID *)&g_sync.Acceptor, NULL);
  ZwClose(handle);
  DbgPrint("sync-echo: listening on 127.0.0.1 port %u\n", g_port);
  return STATUS_SUCCESS;
}

static VOID SyncUnload(PDRIVER_OBJECT DriverObject) {
  KIRQL irql;
  UNREFERENCED_PARAMETER(DriverObject);
  /* The acceptor's pending accept fails; it then closes the listener and ends. */
  KeAcquireSpinLock(&g_sync.Lock, &irql);
  g_sync.Stopping = TRUE;
  if (g_sync.AcceptIrp != NULL && !g_sync.AcceptorDone) {
    IoCancelIrp(g_sync.AcceptIrp);
  }
  KeReleaseSpinLock(&g_sync.Lock, irql);
  if (g_sync.Acceptor != NULL) {
    KeWaitForSingleObject(g_sync.Acceptor, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(g_sync.Acceptor);
    IoFreeIrp(g_sync.AcceptIrp);
  }
  SyncReap(TRUE);
  if (g_sync.Captured) {
    WskReleaseProviderNPI(&g_sync.Registration);
  }
  WskDeregister(&g_sync.Registration);
}

/* Reads the REG_DWORD value Port of <RegistryPath>\Parameters into g_port. Without the key or
 * the value the default stays; a value of another type or size, or out of 1-65535, fails. */
static NTSTATUS SyncReadPort(PUNICODE_STRING RegistryPath) {
  static const WCHAR suffix[] = L"\\Parameters";
  UNICODE_STRING keyName;
  UNICODE_STRING valueName = RTL_CONSTANT_STRING(L"Port");
  OBJECT_ATTRIBUTES attributes;
  HANDLE key;
  union { /* aligned for the structure, with room for a DWORD of data */
    KEY_VALUE_PARTIAL_INFORMATION Info;
    UCHAR Bytes[FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data) + sizeof(ULONG)];
  } value;
  ULONG length;
  ULONG port;
  NTSTATUS status;

  if (RegistryPath->Length > MAXUSHORT - sizeof(suffix)) {
    return STATUS_INVALID_PARAMETER;
  }
  keyName.Length = 0;
  keyName.MaximumLength = (USHORT)(RegistryPath->Length + sizeof(suffix));
  keyName.Buffer = (PWCH)ExAllocatePool2(POOL_FLAG_PAGED, keyName.MaximumLength, SYNC_TAG);
  if (keyName.Buffer == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  RtlCopyUnicodeString(&keyName, RegistryPath);
  status = RtlAppendUnicodeToString(&keyName, suffix);
  if (NT_SUCCESS(status)) {
    InitializeObjectAttributes(&attributes, &keyName, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE,
                               NULL, NULL);
    status = ZwOpenKey(&key, KEY_QUERY_VALUE, &attributes);
  }
  ExFreePoolWithTag(keyName.Buffer, SYNC_TAG);
  if (status == STATUS_OBJECT_NAME_NOT_FOUND) {
    return STATUS_SUCCESS; /* no Parameters key: the default port */
  }
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status =
      ZwQueryValueKey(key, &valueName, KeyValuePartialInformation, &value, sizeof(value), &length);
  ZwClose(key);
  if (status == STATUS_OBJECT_NAME_NOT_FOUND) {
    return STATUS_SUCCESS; /* no Port value: the default port */
  }
  if (status == STATUS_BUFFER_OVERFLOW || status == STATUS_BUFFER_TOO_SMALL ||
      (NT_SUCCESS(status) &&
       (value.Info.Type != REG_DWORD || value.Info.DataLength != sizeof(ULONG)))) {
    DbgPrint("sync-echo: the value Port is not a REG_DWORD\n");
    return STATUS_INVALID_PARAMETER;
  }
  if (!NT_SUCCESS(status)) {
    return status;
  }
  RtlCopyMemory(&port, value.Info.Data, sizeof(port));
  if (port == 0 || port > MAXUSHORT) {
    DbgPrint("sync-echo: Port %lu is not a port number\n", port);
    return STATUS_INVALID_PARAMETER;
  }
  g_port = (USHORT)port;
  return STATUS_SUCCESS;
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client_dispatch};
  NTSTATUS status = SyncReadPort(RegistryPath);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  KeInitializeSpinLock(&g_sync.Lock);
  InitializeListHead(&g_sync.Connections);
  status = WskRegister(&client, &g_sync.Registration);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = WskCaptureProviderNPI(&g_sync.Registration, WSK_NO_WAIT, &g_sync.Provider);
  if (!NT_SUCCESS(status)) {
    WskDeregister(&g_sync.Registration);
    return status;
  }
  g_sync.Captured = TRUE;
  DriverObject->DriverUnload = SyncUnload;
  status = SyncListen();
  if (!NT_SUCCESS(status)) {
    SyncUnload(DriverObject);
  }
  return status;
}

/*
 * wpp-trace: a WDK-style WSK driver that traces with WPP, built with the .tmh headers that
 * uwsk-tracewpp generates (uwsk_add_driver(... WPP WPP_OPTIONS -scan:trace.h), or by hand for
 * a pkg-config build).
 *
 * On load it registers with WSK, asks for a socket of an address family that does not exist (to
 * trace the status WSK refuses it with), opens a datagram socket on 127.0.0.1 with a port the
 * system chooses and traces the address it got (from wpp_trace_names.cpp, a C++ source). On
 * unload it closes the socket and deregisters. DriverEntry does not wait for the WSK subsystem: it
 * captures the provider NPI with WSK_NO_WAIT, and if the subsystem is not ready yet a system
 * thread waits for it and opens the socket; unload ends a capture still waiting with
 * WskDeregister and waits for that thread. The traces use DoTraceMessage and the functions
 * configured in trace.h, with the WPP types %!STATUS!, %!FUNC!, %!IPADDR!, %!PORT!, %!SOCKADDR!,
 * %!bool! and %!HEXDUMP!; the verbose ones are seen only with UWSK_WPP_LEVEL=VERBOSE.
 */
#include <ntddk.h>
#include <wsk.h>

#include "trace.h"
#include "wpp_trace.tmh"

VOID WppTraceDescribe(const SOCKADDR_IN *Address);

static struct {
  WSK_REGISTRATION Registration;
  WSK_PROVIDER_NPI Provider;
  BOOLEAN Registered;
  BOOLEAN Captured;
  KSPIN_LOCK Lock;      /* guards the two fields below */
  BOOLEAN Capturing;    /* StartThread is waiting in WskCaptureProviderNPI */
  BOOLEAN Stopping;     /* set once by WppTraceUnload */
  PKTHREAD StartThread; /* referenced: the start-up thread, if DriverEntry made one */
  PWSK_SOCKET Socket;
} g_wpp;

static const WSK_CLIENT_DISPATCH g_client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, NULL};

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD WppTraceUnload;
static IO_COMPLETION_ROUTINE WppTraceSignal;

static NTSTATUS WppTraceSignal(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent((PKEVENT)Context, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

/* Runs one WSK call that takes an IRP and waits for it; returns its status. */
#define WPP_TRACE_CALL(irp, done, call)                                                            \
  (IoReuseIrp((irp), STATUS_UNSUCCESSFUL),                                                         \
   IoSetCompletionRoutine((irp), WppTraceSignal, (done), TRUE, TRUE, TRUE), (void)(call),          \
   KeWaitForSingleObject((done), Executive, KernelMode, FALSE, NULL), (irp)->IoStatus.Status)

static NTSTATUS WppTraceOpen(PIRP Irp, PKEVENT Done) {
  SOCKADDR_IN local;
  NTSTATUS status;
  FuncEntry(TRACE_SOCKET);
  status = WPP_TRACE_CALL(Irp, Done,
                          g_wpp.Provider.Dispatch->WskSocket(
                              g_wpp.Provider.Client, 12345, SOCK_DGRAM, IPPROTO_UDP,
                              WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL, NULL, NULL, NULL, Irp));
  TraceEvents(TRACE_LEVEL_WARNING, TRACE_SOCKET, "WskSocket(family %d) refused: %!STATUS!", 12345,
              status);
  status = WPP_TRACE_CALL(Irp, Done,
                          g_wpp.Provider.Dispatch->WskSocket(
                              g_wpp.Provider.Client, AF_INET, SOCK_DGRAM, IPPROTO_UDP,
                              WSK_FLAG_DATAGRAM_SOCKET, NULL, NULL, NULL, NULL, NULL, Irp));
  if (!NT_SUCCESS(status)) {
    TraceEvents(TRACE_LEVEL_ERROR, TRACE_SOCKET, "WskSocket failed: %!STATUS!", status);
    FuncExit(TRACE_SOCKET, status);
    return status;
  }
  g_wpp.Socket = (PWSK_SOCKET)Irp->IoStatus.Information;
  RtlZeroMemory(&local, sizeof(local));
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = RtlUlongByteSwap(INADDR_LOOPBACK);
  status = WPP_TRACE_CALL(Irp, Done,
                          ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)g_wpp.Socket->Dispatch)
                              ->WskBind(g_wpp.Socket, (PSOCKADDR)&local, 0, Irp));
  if (NT_SUCCESS(status)) {
    status = WPP_TRACE_CALL(Irp, Done,
                            ((const WSK_PROVIDER_DATAGRAM_DISPATCH *)g_wpp.Socket->Dispatch)
                                ->WskGetLocalAddress(g_wpp.Socket, (PSOCKADDR)&local, Irp));
  }
  if (NT_SUCCESS(status)) {
    WppTraceDescribe(&local);
    TraceEvents(TRACE_LEVEL_INFORMATION, TRACE_SOCKET,
                "socket ready, %d of %s, %S, open %!bool!, address bytes %!HEXDUMP!", 1, "one",
                L"wide text", g_wpp.Socket != NULL,
                WppHexDump(&local.sin_addr, sizeof(local.sin_addr)));
  }
  FuncExit(TRACE_SOCKET, status);
  return status;
}

static VOID WppTraceClose(PIRP Irp, PKEVENT Done) {
  NTSTATUS status;
  if (g_wpp.Socket == NULL) {
    return;
  }
  status = WPP_TRACE_CALL(Irp, Done,
                          ((const WSK_PROVIDER_BASIC_DISPATCH *)g_wpp.Socket->Dispatch)
                              ->WskCloseSocket(g_wpp.Socket, Irp));
  DoTraceMessage(TRACE_SOCKET, "closed socket: %!STATUS!", status);
  g_wpp.Socket = NULL;
}

static VOID WppTraceStop(VOID) {
  KEVENT done;
  PIRP irp = IoAllocateIrp(1, FALSE);
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  if (irp != NULL) {
    WppTraceClose(irp, &done);
    IoFreeIrp(irp);
  }
  if (g_wpp.Captured) {
    WskReleaseProviderNPI(&g_wpp.Registration);
    g_wpp.Captured = FALSE;
  }
  if (g_wpp.Registered) {
    WskDeregister(&g_wpp.Registration);
    g_wpp.Registered = FALSE;
  }
}

static VOID WppTraceUnload(PDRIVER_OBJECT DriverObject) {
  KIRQL irql;
  BOOLEAN capturing;
  FuncEntry(TRACE_DRIVER);
  KeAcquireSpinLock(&g_wpp.Lock, &irql);
  g_wpp.Stopping = TRUE;
  capturing = g_wpp.Capturing;
  KeReleaseSpinLock(&g_wpp.Lock, irql);
  if (capturing) {
    /* WskDeregister ends the start-up thread's capture (or waits for the thread, seeing
     * Stopping, to release one that just succeeded). */
    WskDeregister(&g_wpp.Registration);
    g_wpp.Registered = FALSE;
  }
  if (g_wpp.StartThread != NULL) {
    KeWaitForSingleObject(g_wpp.StartThread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(g_wpp.StartThread);
    g_wpp.StartThread = NULL;
  }
  WppTraceStop();
  DoTraceMessage(TRACE_DRIVER, "unloaded");
  WPP_CLEANUP(DriverObject);
  /* Tracing is off now: this is not logged. */
  TraceEvents(TRACE_LEVEL_ERROR, TRACE_DRIVER, "traced after WPP_CLEANUP");
}

/* Opens the socket once the provider NPI is captured. */
static NTSTATUS WppTraceStart(VOID) {
  KEVENT done;
  NTSTATUS status;
  PIRP irp = IoAllocateIrp(1, FALSE);
  if (irp == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  KeInitializeEvent(&done, SynchronizationEvent, FALSE);
  status = WppTraceOpen(irp, &done);
  IoFreeIrp(irp);
  return status;
}

/* The start-up thread, made when the WSK subsystem was not ready at DriverEntry: waits for it,
 * then opens the socket unless the driver is being unloaded (which closes what was opened). */
static VOID NTAPI WppTraceStartThread(PVOID Context) {
  BOOLEAN stopping;
  KIRQL irql;
  NTSTATUS status;
  UNREFERENCED_PARAMETER(Context);
  status = WskCaptureProviderNPI(&g_wpp.Registration, WSK_INFINITE_WAIT, &g_wpp.Provider);
  KeAcquireSpinLock(&g_wpp.Lock, &irql);
  g_wpp.Capturing = FALSE;
  stopping = g_wpp.Stopping;
  if (NT_SUCCESS(status) && !stopping) {
    g_wpp.Captured = TRUE;
  }
  KeReleaseSpinLock(&g_wpp.Lock, irql);
  TraceEvents(TRACE_LEVEL_INFORMATION, TRACE_DRIVER, "WSK capture: %!STATUS!, unloading %!bool!",
              status, stopping);
  if (NT_SUCCESS(status) && stopping) {
    WskReleaseProviderNPI(&g_wpp.Registration); /* lets WppTraceUnload's WskDeregister return */
  } else if (NT_SUCCESS(status)) {
    status = WppTraceStart();
    if (!NT_SUCCESS(status)) {
      TraceEvents(TRACE_LEVEL_ERROR, TRACE_DRIVER, "start-up failed: %!STATUS!", status);
    }
  }
  PsTerminateSystemThread(STATUS_SUCCESS);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  WSK_CLIENT_NPI client = {NULL, &g_client_dispatch};
  HANDLE thread;
  NTSTATUS status;
  WPP_INIT_TRACING(DriverObject, RegistryPath);
  FuncEntry(TRACE_DRIVER);
  TraceEvents(TRACE_LEVEL_INFORMATION, TRACE_DRIVER, "loading %wZ", RegistryPath);
  KeInitializeSpinLock(&g_wpp.Lock);
  status = WskRegister(&client, &g_wpp.Registration);
  g_wpp.Registered = NT_SUCCESS(status);
  if (NT_SUCCESS(status)) {
    /* No wait here: DriverEntry must not block on the WSK subsystem. */
    status = WskCaptureProviderNPI(&g_wpp.Registration, WSK_NO_WAIT, &g_wpp.Provider);
    g_wpp.Captured = NT_SUCCESS(status);
  }
  TraceEvents(TRACE_LEVEL_INFORMATION, TRACE_DRIVER, "WSK registration: %!STATUS!", status);
  if (status == STATUS_DEVICE_NOT_READY) {
    g_wpp.Capturing = TRUE; /* no other thread yet: no lock needed */
    status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, WppTraceStartThread,
                                  NULL);
    if (NT_SUCCESS(status)) {
      (void)ObReferenceObjectByHandle(thread, THREAD_ALL_ACCESS, *PsThreadType, KernelMode,
                                      (PVOID *)&g_wpp.StartThread, NULL);
      ZwClose(thread);
    }
  } else if (NT_SUCCESS(status)) {
    status = WppTraceStart();
  }
  TraceEvents(TRACE_LEVEL_VERBOSE, TRACE_DRIVER, "verbose: DriverEntry is about to return");
  if (!NT_SUCCESS(status)) {
    WppTraceStop();
    FuncExit(TRACE_DRIVER, status);
    WPP_CLEANUP(DriverObject);
    return status;
  }
  DriverObject->DriverUnload = WppTraceUnload;
  FuncExit(TRACE_DRIVER, status);
  return STATUS_SUCCESS;
}

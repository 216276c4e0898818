/* A driver that logs with TraceLogging (TraceLoggingProvider.h): a provider defined here,
 * registered in DriverEntry, events with typed, named, unnamed and level fields, and one written
 * after TraceLoggingUnregister, which must not appear. Built as C and as C++
 * (tracelogging_cpp.cpp includes this file). */
#include <ntddk.h>
#include <wsk.h>
#include <TraceLoggingProvider.h>

TRACELOGGING_DECLARE_PROVIDER(g_provider);
TRACELOGGING_DEFINE_PROVIDER(g_provider, "UwskTraceLoggingTest",
                             (0x1a2b3c4d, 0x5e6f, 0x4a0b, 0x8c, 0x9d, 0x0e, 0x1f, 0x2a, 0x3b, 0x4c,
                              0x5d));

EXTERN_C DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD TlgUnload;

static VOID TlgUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  TraceLoggingWrite(g_provider, "Unloading", TraceLoggingLevel(4));
  TraceLoggingUnregister(g_provider);
  TraceLoggingWrite(g_provider, "AfterUnregister", TraceLoggingLevel(1));
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  static const GUID id = {0x01020304, 0x0506, 0x0708, {9, 10, 11, 12, 13, 14, 15, 16}};
  UCHAR bytes[3] = {0xDE, 0xAD, 0x01};
  SOCKADDR_IN address;
  ULONG port = 20007;
  NTSTATUS status;
  TraceLoggingWrite(g_provider, "BeforeRegister", TraceLoggingLevel(1));
  status = TraceLoggingRegister(g_provider);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  RtlZeroMemory(&address, sizeof(address));
  address.sin_family = AF_INET;
  address.sin_port = RtlUshortByteSwap(80);
  address.sin_addr.s_addr = RtlUlongByteSwap(0x7F000001);
  TraceLoggingWrite(
      g_provider, "Loaded", TraceLoggingLevel(4), TraceLoggingValue(port),
      TraceLoggingNTStatus(status, "status"), TraceLoggingString("echo", "name"),
      TraceLoggingWideString(L"wide", "wname"), TraceLoggingUnicodeString(RegistryPath, "path"),
      TraceLoggingHexUInt32(0xBEEFu, "mask"), TraceLoggingBoolean(TRUE, "ready"),
      TraceLoggingGuid(id, "id"), TraceLoggingBinary(bytes, sizeof(bytes), "bytes"),
      TraceLoggingSocketAddress(&address, sizeof(address), "peer"), TraceLoggingKeyword(0x10));
  TraceLoggingWrite(g_provider, "NoFields");
  TraceLoggingWrite(g_provider, "Verbose", TraceLoggingValue(-3, "minus"));
  DriverObject->DriverUnload = TlgUnload;
  return STATUS_SUCCESS;
}

/* MmProbeAndLockPages inside __try (left by __leave and by return) and then outside any
 * (rule V35, a warning): only the call outside is reported, naming this file's line. */
#include <ntddk.h>

static UCHAR Buffer[64];

/* Probes and unlocks `Mdl` inside a __try block left by __leave. */
static __attribute__((noinline)) VOID ProbeInTry(PMDL Mdl) {
  __try {
    MmProbeAndLockPages(Mdl, KernelMode, IoReadAccess);
    MmUnlockPages(Mdl);
    __leave;
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    DbgPrint("probe_outside_try: not reached\n");
  }
}

/* The same, leaving the __try block with return. */
static __attribute__((noinline)) NTSTATUS ProbeInTryAndReturn(PMDL Mdl) {
  __try {
    MmProbeAndLockPages(Mdl, KernelMode, IoReadAccess);
    MmUnlockPages(Mdl);
    return STATUS_SUCCESS;
  } __except (EXCEPTION_EXECUTE_HANDLER) {
    return STATUS_ACCESS_VIOLATION;
  }
}

static __attribute__((noinline)) VOID ProbeOutside(PMDL Mdl) {
  MmProbeAndLockPages(Mdl, KernelMode, IoReadAccess);
  MmUnlockPages(Mdl);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  PMDL mdl;
  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);
  mdl = IoAllocateMdl(Buffer, sizeof(Buffer), FALSE, FALSE, NULL);
  if (mdl == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  ProbeInTry(mdl);
  if (!NT_SUCCESS(ProbeInTryAndReturn(mdl))) {
    IoFreeMdl(mdl);
    return STATUS_UNSUCCESSFUL;
  }
  ProbeOutside(mdl);
  IoFreeMdl(mdl);
  DbgPrint("probe_outside_try: done\n");
  return STATUS_SUCCESS;
}

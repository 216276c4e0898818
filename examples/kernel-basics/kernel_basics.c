/*
 * kernel-basics: a WDK-style driver that uses the uwsk kernel emulation the way a WSK driver
 * does before it opens its first socket. DriverEntry starts a worker thread; the worker waits on
 * events with timeouts, allocates pool, builds an MDL and sends IRPs down a device stack of its
 * own with completion routines; DriverUnload stops the worker and waits for it, leaving nothing
 * behind.
 */
#include <ntddk.h>

#define KB_TAG 'sBeK' /* shows as "KeBs" in the leak report */

typedef struct _KB_CONTEXT {
  KEVENT StopEvent; /* set by DriverUnload */
  KEVENT IrpDone;   /* set by the top completion routine */
  PETHREAD Worker;  /* referenced worker thread, waited on at unload */
  PDEVICE_OBJECT Device;
  LONG CompletedIrps;
} KB_CONTEXT, *PKB_CONTEXT;

static KB_CONTEXT g_kb;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD KbUnload;
static DRIVER_DISPATCH KbDispatchDeviceControl;
static IO_COMPLETION_ROUTINE KbIrpComplete;
static KSTART_ROUTINE KbWorker;

/* The device's IRP_MJ_DEVICE_CONTROL: echoes the control code back as Information. */
static NTSTATUS KbDispatchDeviceControl(PDEVICE_OBJECT DeviceObject, PIRP Irp) {
  PIO_STACK_LOCATION sp = IoGetCurrentIrpStackLocation(Irp);
  UNREFERENCED_PARAMETER(DeviceObject);
  Irp->IoStatus.Status = STATUS_SUCCESS;
  Irp->IoStatus.Information = sp->Parameters.DeviceIoControl.IoControlCode;
  IoCompleteRequest(Irp, IO_NO_INCREMENT);
  return STATUS_SUCCESS;
}

/* The top completion routine: the IRP is ours, so stop the walk and signal the worker. */
static NTSTATUS KbIrpComplete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context) {
  PKB_CONTEXT kb = (PKB_CONTEXT)Context;
  UNREFERENCED_PARAMETER(DeviceObject);
  if (Irp->IoStatus.Status == STATUS_SUCCESS) {
    InterlockedIncrement(&kb->CompletedIrps);
  }
  KeSetEvent(&kb->IrpDone, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS KbSendIrp(PKB_CONTEXT kb, PIRP Irp, ULONG ControlCode) {
  PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(Irp);
  next->MajorFunction = IRP_MJ_DEVICE_CONTROL;
  next->Parameters.DeviceIoControl.IoControlCode = ControlCode;
  IoSetCompletionRoutine(Irp, KbIrpComplete, kb, TRUE, TRUE, TRUE);
  KeClearEvent(&kb->IrpDone);
  (void)IoCallDriver(kb->Device, Irp);
  KeWaitForSingleObject(&kb->IrpDone, Executive, KernelMode, FALSE, NULL);
  return Irp->IoStatus.Status;
}

static VOID KbWorker(PVOID Context) {
  PKB_CONTEXT kb = (PKB_CONTEXT)Context;
  LARGE_INTEGER timeout;
  ULONG round = 0;
  PIRP irp;
  UCHAR *buffer;
  PMDL mdl;

  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "kernel-basics: worker running at IRQL %u\n",
             (ULONG)KeGetCurrentIrql());

  /* One IRP, reused for every request, as WSK drivers do. */
  irp = IoAllocateIrp(kb->Device->StackSize, FALSE);
  buffer = (UCHAR *)ExAllocatePool2(POOL_FLAG_NON_PAGED, 4096, KB_TAG);
  if (irp == NULL || buffer == NULL) {
    DbgPrint("kernel-basics: out of memory\n");
    goto out;
  }
  mdl = IoAllocateMdl(buffer, 4096, FALSE, FALSE, NULL);
  if (mdl != NULL) {
    MmBuildMdlForNonPagedPool(mdl);
    RtlFillMemory(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority), 4096, 0x5a);
    DbgPrint("kernel-basics: MDL %p describes %lu bytes at offset %lu\n", mdl,
             MmGetMdlByteCount(mdl), MmGetMdlByteOffset(mdl));
    IoFreeMdl(mdl);
  }

  /* Every 50 ms until DriverUnload says stop: one IRP round trip through the device. */
  timeout.QuadPart = -50 * 10000LL;
  while (KeWaitForSingleObject(&kb->StopEvent, Executive, KernelMode, FALSE, &timeout) ==
         STATUS_TIMEOUT) {
    NTSTATUS status;
    IoReuseIrp(irp, STATUS_UNSUCCESSFUL);
    status = KbSendIrp(
        kb, irp, CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800 + round, METHOD_NEITHER, FILE_ANY_ACCESS));
    if (round < 3) {
      DbgPrint("kernel-basics: IRP round %lu completed with 0x%08lX, Information 0x%Ix\n", round,
               (ULONG)status, irp->IoStatus.Information);
    }
    round++;
  }
  DbgPrint("kernel-basics: worker stopping after %lu IRP round trips (%ld completed)\n", round,
           kb->CompletedIrps);

out:
  if (buffer != NULL) {
    ExFreePoolWithTag(buffer, KB_TAG);
  }
  if (irp != NULL) {
    IoFreeIrp(irp);
  }
  PsTerminateSystemThread(STATUS_SUCCESS);
}

static VOID KbUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("kernel-basics: DriverUnload\n");
  KeSetEvent(&g_kb.StopEvent, IO_NO_INCREMENT, FALSE);
  KeWaitForSingleObject(g_kb.Worker, Executive, KernelMode, FALSE, NULL);
  ObDereferenceObject(g_kb.Worker);
  IoDeleteDevice(g_kb.Device);
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  HANDLE thread;
  NTSTATUS status;

  DbgPrint("kernel-basics: DriverEntry, registry path %wZ\n", RegistryPath);
  KeInitializeEvent(&g_kb.StopEvent, NotificationEvent, FALSE);
  KeInitializeEvent(&g_kb.IrpDone, SynchronizationEvent, FALSE);

  status = IoCreateDevice(DriverObject, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &g_kb.Device);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = KbDispatchDeviceControl;
  g_kb.Device->Flags &= ~DO_DEVICE_INITIALIZING;

  status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, KbWorker, &g_kb);
  if (!NT_SUCCESS(status)) {
    IoDeleteDevice(g_kb.Device);
    return status;
  }
  status = ObReferenceObjectByHandle(thread, SYNCHRONIZE, *PsThreadType, KernelMode,
                                     (PVOID *)&g_kb.Worker, NULL);
  ZwClose(thread);
  if (!NT_SUCCESS(status)) {
    KeSetEvent(&g_kb.StopEvent, IO_NO_INCREMENT, FALSE);
    IoDeleteDevice(g_kb.Device);
    return status;
  }
  DriverObject->DriverUnload = KbUnload;
  return STATUS_SUCCESS;
}

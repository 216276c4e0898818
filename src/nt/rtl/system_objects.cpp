// PsInitialSystemProcess and ZwWaitForSingleObject: thin layers over the object manager's
// handles (ObReferenceObjectByHandle) and the dispatcher (KeWaitForSingleObject).
#include <wdm.h>

#include "nt/ke/irql.hpp"

// The System process; the same object PsGetCurrentProcess returns on every thread. Set while
// libuwsk loads, before any DriverEntry runs.
extern "C" {
PEPROCESS PsInitialSystemProcess = PsGetCurrentProcess();
}

// ZwWaitForSingleObject: a thread handle is signalled when the thread has ended, the process
// handle never; other objects (registry keys) cannot be waited on.
extern "C" NTSTATUS NTAPI ZwWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable,
                                                PLARGE_INTEGER Timeout) {
  uwsk::nt::require_irql_at_most(PASSIVE_LEVEL, "ZwWaitForSingleObject", Handle,
                                 __builtin_return_address(0));
  PVOID object = nullptr;
  NTSTATUS status =
      ObReferenceObjectByHandle(Handle, SYNCHRONIZE, *PsThreadType, KernelMode, &object, nullptr);
  if (status == STATUS_OBJECT_TYPE_MISMATCH) {
    status = ObReferenceObjectByHandle(Handle, SYNCHRONIZE, *PsProcessType, KernelMode, &object,
                                       nullptr);
  }
  if (!NT_SUCCESS(status)) {
    return status;
  }
  status = KeWaitForSingleObject(object, Executive, KernelMode, Alertable, Timeout);
  ObDereferenceObject(object);
  return status;
}

/*
 * completion_context_type.c - compiled, not run: a completion routine whose context parameter is
 * a PKEVENT, handed to IoSetCompletionRoutine (which takes a routine with a PVOID context), as
 * several public drivers write it. MSVC warns; GCC 14 and Clang 16 would refuse by default. With
 * uwsk's driver flags and -Werror it must still compile.
 */
#include <ntddk.h>

static NTSTATUS on_complete(PDEVICE_OBJECT DeviceObject, PIRP Irp, PKEVENT Event) {
  UNREFERENCED_PARAMETER(DeviceObject);
  UNREFERENCED_PARAMETER(Irp);
  KeSetEvent(Event, IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

VOID set_routine(PIRP Irp, PKEVENT Event);
VOID set_routine(PIRP Irp, PKEVENT Event) {
  IoSetCompletionRoutine(Irp, on_complete, Event, TRUE, TRUE, TRUE);
}

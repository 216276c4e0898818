/*
 * km/system_services.h - uwsk: services drivers use to learn about the system they run on:
 * MmGetSystemRoutineAddress, PsGetVersion, ExUuidCreate, ExGetPreviousMode, ProbeForRead /
 * ProbeForWrite and ExRaiseStatus.
 *
 * MmGetSystemRoutineAddress answers for the names libuwsk exports (and NULL for any other), so
 * that a driver probing for an optional function finds exactly what uwsk provides.
 *
 * uwsk has no structured exception handling (__except blocks never run, ntdef.h), so a raised
 * status cannot be caught: ExRaiseStatus, and ProbeForRead/ProbeForWrite on a misaligned or
 * out-of-range buffer, stop with the KMODE_EXCEPTION_NOT_HANDLED bug check, parameter 1 the
 * status, as Windows does for an exception no handler takes. Every caller is a kernel-mode
 * caller (ExGetPreviousMode returns KernelMode), so drivers that probe only for UserMode
 * requests never probe here.
 */
#ifndef UWSK_WDK_KM_SYSTEM_SERVICES_H
#define UWSK_WDK_KM_SYSTEM_SERVICES_H

#include "../ntdef.h"
#include "types.h"

UWSK_BEGIN_DECLS

NTKERNELAPI PVOID NTAPI MmGetSystemRoutineAddress(PUNICODE_STRING SystemRoutineName);

/* The version uwsk presents (RtlGetVersion's); returns FALSE (not a checked build). */
NTKERNELAPI BOOLEAN NTAPI PsGetVersion(PULONG MajorVersion, PULONG MinorVersion, PULONG BuildNumber,
                                       PUNICODE_STRING CSDVersion);

/* A random (version 4) UUID. */
NTKERNELAPI NTSTATUS NTAPI ExUuidCreate(UUID *Uuid);

NTKERNELAPI KPROCESSOR_MODE NTAPI ExGetPreviousMode(VOID);

NTKERNELAPI DECLSPEC_NORETURN VOID NTAPI ExRaiseStatus(NTSTATUS Status);
NTKERNELAPI VOID NTAPI ProbeForRead(const volatile VOID *Address, SIZE_T Length, ULONG Alignment);
NTKERNELAPI VOID NTAPI ProbeForWrite(volatile VOID *Address, SIZE_T Length, ULONG Alignment);

UWSK_END_DECLS

#endif /* UWSK_WDK_KM_SYSTEM_SERVICES_H */

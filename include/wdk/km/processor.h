/*
 * km/processor.h - uwsk: processor indexes <-> PROCESSOR_NUMBER. Every processor is in group 0
 * and its number there is its index (km/ke.h has the counts and the current processor).
 */
#ifndef UWSK_WDK_KM_PROCESSOR_H
#define UWSK_WDK_KM_PROCESSOR_H

#include "../ntdef.h"

#define INVALID_PROCESSOR_INDEX 0xffffffff

UWSK_BEGIN_DECLS

/* STATUS_INVALID_PARAMETER for an index at or beyond KeQueryMaximumProcessorCountEx. */
NTKERNELAPI NTSTATUS NTAPI KeGetProcessorNumberFromIndex(ULONG ProcIndex,
                                                         PPROCESSOR_NUMBER ProcNumber);
/* INVALID_PROCESSOR_INDEX for a processor that cannot exist. */
NTKERNELAPI ULONG NTAPI KeGetProcessorIndexFromNumber(PPROCESSOR_NUMBER ProcNumber);

UWSK_END_DECLS

#endif /* UWSK_WDK_KM_PROCESSOR_H */

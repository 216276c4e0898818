/*
 * km/ps.h - uwsk: system threads (Ps), object references (Ob) and handles (ZwClose,
 * ZwWaitForSingleObject).
 *
 * A system thread is a real pthread. Its thread object is a waitable dispatcher object that is
 * signalled when the thread exits, and it is reference counted: it lives while the thread runs,
 * while a handle to it is open, or while a reference taken with ObReferenceObject* is held.
 * Every thread that calls into the kernel API, not only system threads, has a thread object
 * (KeGetCurrentThread works everywhere). All threads belong to one emulated "System" process.
 */
#ifndef UWSK_WDK_KM_PS_H
#define UWSK_WDK_KM_PS_H

#include "../ntdef.h"
#include "types.h"
#include "ke.h"

typedef struct _CLIENT_ID {
  HANDLE UniqueProcess;
  HANDLE UniqueThread;
} CLIENT_ID, *PCLIENT_ID;

typedef VOID NTAPI KSTART_ROUTINE(PVOID StartContext);
typedef KSTART_ROUTINE *PKSTART_ROUTINE;

typedef struct _OBJECT_HANDLE_INFORMATION {
  ULONG HandleAttributes;
  ACCESS_MASK GrantedAccess;
} OBJECT_HANDLE_INFORMATION, *POBJECT_HANDLE_INFORMATION;

/* Pseudo-handles for the current process and thread, accepted by ObReferenceObjectByHandle. */
#define NtCurrentProcess() ((HANDLE)(LONG_PTR)-1)
#define ZwCurrentProcess() NtCurrentProcess()
#define NtCurrentThread() ((HANDLE)(LONG_PTR)-2)
#define ZwCurrentThread() NtCurrentThread()

#define LOW_PRIORITY 0
#define LOW_REALTIME_PRIORITY 16
#define HIGH_PRIORITY 31
#define MAXIMUM_PRIORITY 32

#define THREAD_TERMINATE 0x0001
#define THREAD_SUSPEND_RESUME 0x0002
#define THREAD_QUERY_INFORMATION 0x0040
#define THREAD_SET_INFORMATION 0x0020

UWSK_BEGIN_DECLS

/* Object types of threads and processes (pointers to the type, as in the WDK). */
extern NTSYSAPI POBJECT_TYPE *PsThreadType;
extern NTSYSAPI POBJECT_TYPE *PsProcessType;

/* The System process, the one process every uwsk thread belongs to (PsGetCurrentProcess()). */
extern NTKERNELAPI PEPROCESS PsInitialSystemProcess;

/* ---- System threads -------------------------------------------------------------------------- */

/* Starts StartRoutine(StartContext) on a new thread at PASSIVE_LEVEL and returns a handle to its
 * thread object (close it with ZwClose). The thread ends when StartRoutine returns (exit status
 * STATUS_SUCCESS) or when it calls PsTerminateSystemThread. */
NTKERNELAPI NTSTATUS NTAPI PsCreateSystemThread(PHANDLE ThreadHandle, ULONG DesiredAccess,
                                                POBJECT_ATTRIBUTES ObjectAttributes,
                                                HANDLE ProcessHandle, PCLIENT_ID ClientId,
                                                PKSTART_ROUTINE StartRoutine, PVOID StartContext);
/* Ends the calling system thread with ExitStatus and does not return. Called on a thread that
 * PsCreateSystemThread did not create, it returns STATUS_INVALID_PARAMETER. */
NTKERNELAPI NTSTATUS NTAPI PsTerminateSystemThread(NTSTATUS ExitStatus);

NTKERNELAPI PKTHREAD NTAPI KeGetCurrentThread(VOID);
NTKERNELAPI PETHREAD NTAPI PsGetCurrentThread(VOID);
NTKERNELAPI HANDLE NTAPI PsGetCurrentThreadId(VOID);
NTKERNELAPI PEPROCESS NTAPI PsGetCurrentProcess(VOID);
NTKERNELAPI PEPROCESS NTAPI IoGetCurrentProcess(VOID);
NTKERNELAPI HANDLE NTAPI PsGetCurrentProcessId(VOID);
NTKERNELAPI HANDLE NTAPI PsGetThreadId(PETHREAD Thread);
NTKERNELAPI HANDLE NTAPI PsGetThreadProcessId(PETHREAD Thread);
NTKERNELAPI HANDLE NTAPI PsGetProcessId(PEPROCESS Process);
NTKERNELAPI PEPROCESS NTAPI PsGetThreadProcess(PETHREAD Thread);
NTKERNELAPI BOOLEAN NTAPI PsIsSystemThread(PETHREAD Thread);
NTKERNELAPI BOOLEAN NTAPI PsIsThreadTerminating(PETHREAD Thread);
/* The exit status of a thread that has ended; STATUS_PENDING while it runs. */
NTKERNELAPI NTSTATUS NTAPI PsGetThreadExitStatus(PETHREAD Thread);

/* Priorities are recorded, not applied: every uwsk thread runs at the Linux default. */
NTKERNELAPI KPRIORITY NTAPI KeSetPriorityThread(PKTHREAD Thread, KPRIORITY Priority);
NTKERNELAPI KPRIORITY NTAPI KeQueryPriorityThread(PKTHREAD Thread);
NTKERNELAPI LONG NTAPI KeSetBasePriorityThread(PKTHREAD Thread, LONG Increment);

/* ---- Object references and handles ----------------------------------------------------------- */

NTKERNELAPI NTSTATUS NTAPI ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess,
                                                     POBJECT_TYPE ObjectType,
                                                     KPROCESSOR_MODE AccessMode, PVOID *Object,
                                                     POBJECT_HANDLE_INFORMATION HandleInformation);
NTKERNELAPI NTSTATUS NTAPI ObReferenceObjectByHandleWithTag(
    HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode,
    ULONG Tag, PVOID *Object, POBJECT_HANDLE_INFORMATION HandleInformation);
NTKERNELAPI NTSTATUS NTAPI ObReferenceObjectByPointer(PVOID Object, ACCESS_MASK DesiredAccess,
                                                      POBJECT_TYPE ObjectType,
                                                      KPROCESSOR_MODE AccessMode);
NTKERNELAPI NTSTATUS NTAPI ObReferenceObjectByPointerWithTag(PVOID Object,
                                                             ACCESS_MASK DesiredAccess,
                                                             POBJECT_TYPE ObjectType,
                                                             KPROCESSOR_MODE AccessMode, ULONG Tag);
NTKERNELAPI LONG_PTR FASTCALL ObfReferenceObject(PVOID Object);
NTKERNELAPI LONG_PTR FASTCALL ObfReferenceObjectWithTag(PVOID Object, ULONG Tag);
NTKERNELAPI LONG_PTR FASTCALL ObfDereferenceObject(PVOID Object);
NTKERNELAPI LONG_PTR FASTCALL ObfDereferenceObjectWithTag(PVOID Object, ULONG Tag);
NTKERNELAPI VOID NTAPI ObDereferenceObjectDeferDelete(PVOID Object);
NTKERNELAPI VOID NTAPI ObDereferenceObjectDeferDeleteWithTag(PVOID Object, ULONG Tag);
NTKERNELAPI BOOLEAN FASTCALL ObReferenceObjectSafe(PVOID Object);
NTKERNELAPI BOOLEAN FASTCALL ObReferenceObjectSafeWithTag(PVOID Object, ULONG Tag);
#define ObReferenceObject(Object) ObfReferenceObject(Object)
#define ObReferenceObjectWithTag(Object, Tag) ObfReferenceObjectWithTag(Object, Tag)
#define ObDereferenceObject(Object) ObfDereferenceObject(Object)
#define ObDereferenceObjectWithTag(Object, Tag) ObfDereferenceObjectWithTag(Object, Tag)

/* Closes a kernel handle; STATUS_INVALID_HANDLE when Handle is not open. */
NTSYSAPI NTSTATUS NTAPI ZwClose(HANDLE Handle);

/* Waits, at PASSIVE_LEVEL, for the object behind a handle to be signalled: a thread (it has ended)
 * or a process (never). Timeout as for KeWaitForSingleObject (NULL waits forever, negative is
 * relative, in 100 ns units). STATUS_SUCCESS or STATUS_TIMEOUT (uwsk delivers no alerts);
 * STATUS_INVALID_HANDLE for a handle that is not open, STATUS_OBJECT_TYPE_MISMATCH for one that
 * cannot be waited on (a registry key). */
NTSYSAPI NTSTATUS NTAPI ZwWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable,
                                              PLARGE_INTEGER Timeout);

UWSK_END_DECLS

#endif /* UWSK_WDK_KM_PS_H */

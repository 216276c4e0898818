/*
 * km/dbg.h - uwsk: debug output, assertions, breakpoints and bug checks.
 *
 * Output. DbgPrint, DbgPrintEx and KdPrint format with the Windows rules (%wZ, %ws, %S, %I64d,
 * %Iu, %p as 16 upper-case hex digits; %ld is 32 bits) and write to the uwsk log sink
 * (uwsk/log.h): every line is prefixed with the time since start and the thread, and a message
 * without a trailing newline is held per thread until its line completes. Choices, where
 * Windows and a user-mode debugging tool differ:
 *   - KdPrint((...)) and KdPrintEx((...)) are always active, as in a checked (DBG) build.
 *   - DbgPrint is always printed. DbgPrintEx(Component, Level, ...) is printed when the level
 *     passes the component's filter mask. Levels 0..31 are bit numbers (mask 1 << Level), larger
 *     values are masks themselves (DPFLTR_MASK stripped), as on Windows. The default mask of
 *     every component shows ERROR, WARNING, TRACE and INFO (levels 0-3); the environment
 *     variable UWSK_DBG_LEVEL changes it: a decimal number N shows levels 0..N, a hex value
 *     (0x...) is the mask itself. DbgSetDebugFilterState changes one component at run time.
 *   - Messages are not truncated at 512 bytes (the Windows transport limit): we are a
 *     debugging tool. Floating-point conversions are formatted although kernel DbgPrint lacks
 *     them; the verifier warns about them and about wide formats above PASSIVE_LEVEL (V85).
 * Breakpoints. DbgBreakPoint, DbgBreakPointWithStatus and __debugbreak log the break with a
 * backtrace and continue; with UWSK_BREAK=1 in the environment they raise SIGTRAP instead, so
 * that a debugger stops there (without a debugger SIGTRAP ends the process).
 * Assertions. ASSERT, NT_ASSERT and friends are active in every build (as in a checked build)
 * unless UWSK_ASSERTS_OFF is defined before this header. A failed assertion logs the expression,
 * file and line; with UWSK_BREAK=1 it then raises SIGTRAP and continues, with UWSK_ASSERT=log it
 * only logs, and otherwise it bug-checks with KMODE_EXCEPTION_NOT_HANDLED (0x1E) and parameter 1
 * STATUS_ASSERTION_FAILURE, like an unhandled assertion trap on Windows.
 * PAGED_CODE() checks the calling thread's simulated IRQL and treats IRQL > APC_LEVEL as a failed
 * assertion ("pageable code called at raised IRQL"), as checked Windows builds do. Like the WDK's,
 * it expands to a statement that ends in its own `;`.
 * Bug checks. KeBugCheckEx prints a report (name, code, four parameters, thread, backtrace) to
 * the log sink and to stderr, then ends the process with abort() (SIGABRT, shell status 134).
 */
#ifndef UWSK_WDK_KM_DBG_H
#define UWSK_WDK_KM_DBG_H

#include <stdarg.h>

#include "../ntdef.h"
#include "types.h"

/* ---- Component ids and levels for DbgPrintEx (dpfilter.h numbering) ------------------------- */

typedef enum _DPFLTR_TYPE {
  DPFLTR_SYSTEM_ID = 0,
  DPFLTR_SMSS_ID = 1,
  DPFLTR_SETUP_ID = 2,
  DPFLTR_NTFS_ID = 3,
  DPFLTR_FSTUB_ID = 4,
  DPFLTR_CRASHDUMP_ID = 5,
  DPFLTR_CDAUDIO_ID = 6,
  DPFLTR_CDROM_ID = 7,
  DPFLTR_CLASSPNP_ID = 8,
  DPFLTR_DISK_ID = 9,
  DPFLTR_REDBOOK_ID = 10,
  DPFLTR_STORPROP_ID = 11,
  DPFLTR_SCSIPORT_ID = 12,
  DPFLTR_SCSIMINIPORT_ID = 13,
  DPFLTR_CONFIG_ID = 14,
  DPFLTR_I8042PRT_ID = 15,
  DPFLTR_SERMOUSE_ID = 16,
  DPFLTR_LSERMOUS_ID = 17,
  DPFLTR_KBDHID_ID = 18,
  DPFLTR_MOUHID_ID = 19,
  DPFLTR_KBDCLASS_ID = 20,
  DPFLTR_MOUCLASS_ID = 21,
  DPFLTR_TWOTRACK_ID = 22,
  DPFLTR_WMILIB_ID = 23,
  DPFLTR_ACPI_ID = 24,
  DPFLTR_AMLI_ID = 25,
  DPFLTR_HALIA64_ID = 26,
  DPFLTR_VIDEO_ID = 27,
  DPFLTR_SVCHOST_ID = 28,
  DPFLTR_VIDEOPRT_ID = 29,
  DPFLTR_TCPIP_ID = 30,
  DPFLTR_DMSYNTH_ID = 31,
  DPFLTR_NTOSPNP_ID = 32,
  DPFLTR_FASTFAT_ID = 33,
  DPFLTR_SAMSS_ID = 34,
  DPFLTR_PNPMGR_ID = 35,
  DPFLTR_NETAPI_ID = 36,
  DPFLTR_SCSERVER_ID = 37,
  DPFLTR_SCCLIENT_ID = 38,
  DPFLTR_SERIAL_ID = 39,
  DPFLTR_SERENUM_ID = 40,
  DPFLTR_UHCD_ID = 41,
  DPFLTR_RPCPROXY_ID = 42,
  DPFLTR_AUTOCHK_ID = 43,
  DPFLTR_DCOMSS_ID = 44,
  DPFLTR_UNIMODEM_ID = 45,
  DPFLTR_SIS_ID = 46,
  DPFLTR_FLTMGR_ID = 47,
  DPFLTR_WMICORE_ID = 48,
  DPFLTR_BURNENG_ID = 49,
  DPFLTR_IMAPI_ID = 50,
  DPFLTR_SXS_ID = 51,
  DPFLTR_FUSION_ID = 52,
  DPFLTR_IDLETASK_ID = 53,
  DPFLTR_SOFTPCI_ID = 54,
  DPFLTR_TAPE_ID = 55,
  DPFLTR_MCHGR_ID = 56,
  DPFLTR_IDEP_ID = 57,
  DPFLTR_PCIIDE_ID = 58,
  DPFLTR_FLOPPY_ID = 59,
  DPFLTR_FDC_ID = 60,
  DPFLTR_TERMSRV_ID = 61,
  DPFLTR_W32TIME_ID = 62,
  DPFLTR_PREFETCHER_ID = 63,
  DPFLTR_RSFILTER_ID = 64,
  DPFLTR_FCPORT_ID = 65,
  DPFLTR_PCI_ID = 66,
  DPFLTR_DMIO_ID = 67,
  DPFLTR_DMCONFIG_ID = 68,
  DPFLTR_DMADMIN_ID = 69,
  DPFLTR_WSOCKTRANSPORT_ID = 70,
  DPFLTR_VSS_ID = 71,
  DPFLTR_PNPMEM_ID = 72,
  DPFLTR_PROCESSOR_ID = 73,
  DPFLTR_DMSERVER_ID = 74,
  DPFLTR_SR_ID = 75,
  DPFLTR_INFINIBAND_ID = 76,
  DPFLTR_IHVDRIVER_ID = 77,
  DPFLTR_IHVVIDEO_ID = 78,
  DPFLTR_IHVAUDIO_ID = 79,
  DPFLTR_IHVNETWORK_ID = 80,
  DPFLTR_IHVSTREAMING_ID = 81,
  DPFLTR_IHVBUS_ID = 82,
  DPFLTR_HPS_ID = 83,
  DPFLTR_RTLTHREADPOOL_ID = 84,
  DPFLTR_LDR_ID = 85,
  DPFLTR_TCPIP6_ID = 86,
  DPFLTR_ISAPNP_ID = 87,
  DPFLTR_SHPC_ID = 88,
  DPFLTR_STORPORT_ID = 89,
  DPFLTR_STORMINIPORT_ID = 90,
  DPFLTR_PRINTSPOOLER_ID = 91,
  DPFLTR_VSSDYNDISK_ID = 92,
  DPFLTR_VERIFIER_ID = 93,
  DPFLTR_VDS_ID = 94,
  DPFLTR_VDSBAS_ID = 95,
  DPFLTR_VDSDYN_ID = 96,
  DPFLTR_VDSDYNDR_ID = 97,
  DPFLTR_VDSLDR_ID = 98,
  DPFLTR_VDSUTIL_ID = 99,
  DPFLTR_DFRGIFC_ID = 100,
  DPFLTR_DEFAULT_ID = 101,
  DPFLTR_MM_ID = 102,
  DPFLTR_DFSC_ID = 103,
  DPFLTR_WOW64_ID = 104,
  DPFLTR_ALPC_ID = 105,
  DPFLTR_WDI_ID = 106,
  DPFLTR_PERFLIB_ID = 107,
  DPFLTR_KTM_ID = 108,
  DPFLTR_IOSTRESS_ID = 109,
  DPFLTR_HEAP_ID = 110,
  DPFLTR_WHEA_ID = 111,
  DPFLTR_USERGDI_ID = 112,
  DPFLTR_MMCSS_ID = 113,
  DPFLTR_TPM_ID = 114,
  DPFLTR_THREADORDER_ID = 115,
  DPFLTR_ENVIRON_ID = 116,
  DPFLTR_EMS_ID = 117,
  DPFLTR_WDT_ID = 118,
  DPFLTR_FVEVOL_ID = 119,
  DPFLTR_NDIS_ID = 120,
  DPFLTR_NVCTRACE_ID = 121,
  DPFLTR_LUAFV_ID = 122,
  DPFLTR_APPCOMPAT_ID = 123,
  DPFLTR_USBSTOR_ID = 124,
  DPFLTR_SBP2PORT_ID = 125,
  DPFLTR_COVERAGE_ID = 126,
  DPFLTR_CACHEMGR_ID = 127,
  DPFLTR_MOUNTMGR_ID = 128,
  DPFLTR_CFR_ID = 129,
  DPFLTR_TXF_ID = 130,
  DPFLTR_KSECDD_ID = 131,
  DPFLTR_FLTREGRESS_ID = 132,
  DPFLTR_MPIO_ID = 133,
  DPFLTR_MSDSM_ID = 134,
  DPFLTR_UDFS_ID = 135,
  DPFLTR_PSHED_ID = 136,
  DPFLTR_STORVSP_ID = 137,
  DPFLTR_LSASS_ID = 138,
  DPFLTR_SSPICLI_ID = 139,
  DPFLTR_CNG_ID = 140,
  DPFLTR_EXFAT_ID = 141,
  DPFLTR_FILETRACE_ID = 142,
  DPFLTR_XSAVE_ID = 143,
  DPFLTR_SE_ID = 144,
  DPFLTR_DRIVEEXTENDER_ID = 145,
  DPFLTR_ENDOFTABLE_ID = 146
} DPFLTR_TYPE;

#define DPFLTR_ERROR_LEVEL 0
#define DPFLTR_WARNING_LEVEL 1
#define DPFLTR_TRACE_LEVEL 2
#define DPFLTR_INFO_LEVEL 3
#define DPFLTR_MASK 0x80000000

/* ---- Bug check codes (bugcodes.h values) ---------------------------------------------------- */

#define APC_INDEX_MISMATCH ((ULONG)0x00000001L)
#define INVALID_AFFINITY_SET ((ULONG)0x00000003L)
#define INVALID_DATA_ACCESS_TRAP ((ULONG)0x00000004L)
#define INVALID_PROCESS_ATTACH_ATTEMPT ((ULONG)0x00000005L)
#define INVALID_PROCESS_DETACH_ATTEMPT ((ULONG)0x00000006L)
#define INVALID_SOFTWARE_INTERRUPT ((ULONG)0x00000007L)
#define IRQL_NOT_DISPATCH_LEVEL ((ULONG)0x00000008L)
#define IRQL_NOT_GREATER_OR_EQUAL ((ULONG)0x00000009L)
#define IRQL_NOT_LESS_OR_EQUAL ((ULONG)0x0000000AL)
#define NO_EXCEPTION_HANDLING_SUPPORT ((ULONG)0x0000000BL)
#define MAXIMUM_WAIT_OBJECTS_EXCEEDED ((ULONG)0x0000000CL)
#define MUTEX_LEVEL_NUMBER_VIOLATION ((ULONG)0x0000000DL)
#define NO_USER_MODE_CONTEXT ((ULONG)0x0000000EL)
#define SPIN_LOCK_ALREADY_OWNED ((ULONG)0x0000000FL)
#define SPIN_LOCK_NOT_OWNED ((ULONG)0x00000010L)
#define THREAD_NOT_MUTEX_OWNER ((ULONG)0x00000011L)
#define TRAP_CAUSE_UNKNOWN ((ULONG)0x00000012L)
#define REFERENCE_BY_POINTER ((ULONG)0x00000018L)
#define BAD_POOL_HEADER ((ULONG)0x00000019L)
#define MEMORY_MANAGEMENT ((ULONG)0x0000001AL)
#define NO_SPIN_LOCK_AVAILABLE ((ULONG)0x0000001DL)
#define KMODE_EXCEPTION_NOT_HANDLED ((ULONG)0x0000001EL)
#define SHARED_RESOURCE_CONV_ERROR ((ULONG)0x0000001FL)
#define KERNEL_APC_PENDING_DURING_EXIT ((ULONG)0x00000020L)
#define INCONSISTENT_IRP ((ULONG)0x0000002AL)
#define NO_MORE_IRP_STACK_LOCATIONS ((ULONG)0x00000035L)
#define DEVICE_REFERENCE_COUNT_NOT_ZERO ((ULONG)0x00000036L)
#define SYSTEM_EXIT_OWNED_MUTEX ((ULONG)0x00000039L)
#define SYSTEM_SERVICE_EXCEPTION ((ULONG)0x0000003BL)
#define TARGET_MDL_TOO_SMALL ((ULONG)0x00000040L)
#define MULTIPLE_IRP_COMPLETE_REQUESTS ((ULONG)0x00000044L)
#define CANCEL_STATE_IN_COMPLETED_IRP ((ULONG)0x00000048L)
#define PAGE_FAULT_WITH_INTERRUPTS_OFF ((ULONG)0x00000049L)
#define IRQL_GT_ZERO_AT_SYSTEM_SERVICE ((ULONG)0x0000004AL)
#define PFN_LIST_CORRUPT ((ULONG)0x0000004EL)
#define PAGE_FAULT_IN_NONPAGED_AREA ((ULONG)0x00000050L)
#define PROCESS_HAS_LOCKED_PAGES ((ULONG)0x00000076L)
#define BUGCODE_NDIS_DRIVER ((ULONG)0x0000007CL)
#define SYSTEM_THREAD_EXCEPTION_NOT_HANDLED ((ULONG)0x0000007EL)
#define UNEXPECTED_KERNEL_MODE_TRAP ((ULONG)0x0000007FL)
#define KERNEL_MODE_EXCEPTION_NOT_HANDLED ((ULONG)0x0000008EL)
#define INVALID_WORK_QUEUE_ITEM ((ULONG)0x00000096L)
#define DRIVER_POWER_STATE_FAILURE ((ULONG)0x0000009FL)
#define ATTEMPTED_SWITCH_FROM_DPC ((ULONG)0x000000B8L)
#define MUTEX_ALREADY_OWNED ((ULONG)0x000000BFL)
#define SPECIAL_POOL_DETECTED_MEMORY_CORRUPTION ((ULONG)0x000000C1L)
#define BAD_POOL_CALLER ((ULONG)0x000000C2L)
#define DRIVER_VERIFIER_DETECTED_VIOLATION ((ULONG)0x000000C4L)
#define DRIVER_CORRUPTED_EXPOOL ((ULONG)0x000000C5L)
#define DRIVER_CAUGHT_MODIFYING_FREED_POOL ((ULONG)0x000000C6L)
#define TIMER_OR_DPC_INVALID ((ULONG)0x000000C7L)
#define IRQL_UNEXPECTED_VALUE ((ULONG)0x000000C8L)
#define DRIVER_VERIFIER_IOMANAGER_VIOLATION ((ULONG)0x000000C9L)
#define DRIVER_LEFT_LOCKED_PAGES_IN_PROCESS ((ULONG)0x000000CBL)
#define PAGE_FAULT_IN_FREED_SPECIAL_POOL ((ULONG)0x000000CCL)
#define PAGE_FAULT_BEYOND_END_OF_ALLOCATION ((ULONG)0x000000CDL)
#define DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS ((ULONG)0x000000CEL)
#define DRIVER_CORRUPTED_MMPOOL ((ULONG)0x000000D0L)
#define DRIVER_IRQL_NOT_LESS_OR_EQUAL ((ULONG)0x000000D1L)
#define DRIVER_PORTION_MUST_BE_NONPAGED ((ULONG)0x000000D3L)
#define DRIVER_PAGE_FAULT_IN_FREED_SPECIAL_POOL ((ULONG)0x000000D5L)
#define DRIVER_PAGE_FAULT_BEYOND_END_OF_ALLOCATION ((ULONG)0x000000D6L)
#define DRIVER_INVALID_STACK_ACCESS ((ULONG)0x000000DCL)
#define WORKER_THREAD_RETURNED_AT_BAD_IRQL ((ULONG)0x000000E1L)
#define MANUALLY_INITIATED_CRASH ((ULONG)0x000000E2L)
#define RESOURCE_NOT_OWNED ((ULONG)0x000000E3L)
#define WORKER_INVALID ((ULONG)0x000000E4L)
#define INVALID_FLOATING_POINT_STATE ((ULONG)0x000000E7L)
#define INVALID_CANCEL_OF_FILE_OPEN ((ULONG)0x000000E8L)
#define THREAD_STUCK_IN_DEVICE_DRIVER ((ULONG)0x000000EAL)
#define CRITICAL_OBJECT_TERMINATION ((ULONG)0x000000F4L)
#define DRIVER_OVERRAN_STACK_BUFFER ((ULONG)0x000000F7L)
#define DPC_WATCHDOG_VIOLATION ((ULONG)0x00000133L)
#define KERNEL_SECURITY_CHECK_FAILURE ((ULONG)0x00000139L)

/* __fastfail codes (KERNEL_SECURITY_CHECK_FAILURE parameter 1). */
#define FAST_FAIL_LEGACY_GS_VIOLATION 0
#define FAST_FAIL_VTGUARD_CHECK_FAILURE 1
#define FAST_FAIL_STACK_COOKIE_CHECK_FAILURE 2
#define FAST_FAIL_CORRUPT_LIST_ENTRY 3
#define FAST_FAIL_INCORRECT_STACK 4
#define FAST_FAIL_INVALID_ARG 5
#define FAST_FAIL_GS_COOKIE_INIT 6
#define FAST_FAIL_FATAL_APP_EXIT 7
#define FAST_FAIL_RANGE_CHECK_FAILURE 8
#define FAST_FAIL_UNSAFE_REGISTRY_ACCESS 9
#define FAST_FAIL_GUARD_ICALL_CHECK_FAILURE 10
#define FAST_FAIL_GUARD_WRITE_CHECK_FAILURE 11
#define FAST_FAIL_INVALID_FIBER_SWITCH 12
#define FAST_FAIL_INVALID_SET_OF_CONTEXT 13
#define FAST_FAIL_INVALID_REFERENCE_COUNT 14
#define FAST_FAIL_INVALID_JUMP_BUFFER 18
#define FAST_FAIL_MRDATA_MODIFIED 19
#define FAST_FAIL_CERTIFICATION_FAILURE 20
#define FAST_FAIL_INVALID_EXCEPTION_CHAIN 21
#define FAST_FAIL_CRYPTO_LIBRARY 22
#define FAST_FAIL_INVALID_CALL_IN_DLL_CALLOUT 23
#define FAST_FAIL_INVALID_IMAGE_BASE 24
#define FAST_FAIL_DLOAD_PROTECTION_FAILURE 25
#define FAST_FAIL_UNSAFE_EXTENSION_CALL 26
#define FAST_FAIL_DEPRECATED_SERVICE_INVOKED 27
#define FAST_FAIL_INVALID_BUFFER_ACCESS 28
#define FAST_FAIL_INVALID_BALANCED_TREE 29
#define FAST_FAIL_INVALID_FAST_FAIL_CODE 0xFFFFFFFF

/* ---- Debugger state ------------------------------------------------------------------------- */

UWSK_BEGIN_DECLS

/* TRUE when a debugger (ptrace tracer) was attached at start-up; KdRefreshDebuggerNotPresent
 * re-reads it. */
extern PBOOLEAN KdDebuggerNotPresent;
extern PBOOLEAN KdDebuggerEnabled;
#define KD_DEBUGGER_ENABLED (*KdDebuggerEnabled)
#define KD_DEBUGGER_NOT_PRESENT (*KdDebuggerNotPresent)

NTKERNELAPI BOOLEAN NTAPI KdRefreshDebuggerNotPresent(VOID);

/* ---- Output --------------------------------------------------------------------------------- */

NTSYSAPI ULONG __cdecl DbgPrint(PCSTR Format, ...);
NTSYSAPI ULONG __cdecl DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...);
NTSYSAPI ULONG NTAPI vDbgPrintEx(ULONG ComponentId, ULONG Level, PCCH Format, va_list arglist);
NTSYSAPI ULONG NTAPI vDbgPrintExWithPrefix(PCCH Prefix, ULONG ComponentId, ULONG Level, PCCH Format,
                                           va_list arglist);
NTSYSAPI ULONG __cdecl DbgPrintReturnControlC(PCCH Format, ...);
NTSYSAPI NTSTATUS NTAPI DbgQueryDebugFilterState(ULONG ComponentId, ULONG Level);
NTSYSAPI NTSTATUS NTAPI DbgSetDebugFilterState(ULONG ComponentId, ULONG Level, BOOLEAN State);

/* ---- Breakpoints, assertions, bug checks ---------------------------------------------------- */

NTSYSAPI VOID NTAPI DbgBreakPoint(VOID);
NTSYSAPI VOID NTAPI DbgBreakPointWithStatus(ULONG Status);
NTSYSAPI VOID NTAPI RtlAssert(PVOID VoidFailedAssertion, PVOID VoidFileName, ULONG LineNumber,
                              PSTR MutableMessage);

DECLSPEC_NORETURN NTKERNELAPI VOID NTAPI KeBugCheckEx(ULONG BugCheckCode,
                                                      ULONG_PTR BugCheckParameter1,
                                                      ULONG_PTR BugCheckParameter2,
                                                      ULONG_PTR BugCheckParameter3,
                                                      ULONG_PTR BugCheckParameter4);
DECLSPEC_NORETURN NTKERNELAPI VOID NTAPI KeBugCheck(ULONG BugCheckCode);

/* Ends the process as __fastfail(Code) does: KERNEL_SECURITY_CHECK_FAILURE with Code. */
DECLSPEC_NORETURN FORCEINLINE VOID RtlFailFast(ULONG Code) {
  KeBugCheckEx(KERNEL_SECURITY_CHECK_FAILURE, Code, 0, 0, 0);
}

/* uwsk: reports "pageable code called at raised IRQL" from PAGED_CODE() (through RtlAssert). */
VOID NTAPI uwsk_paged_code_violation(KIRQL Irql, PCSTR File, ULONG Line);

UWSK_END_DECLS

/* A call whose variable part is empty but present, DbgPrint("text\n", ), is what a driver's
 * `#define LOG(f, ...) DbgPrint(f, __VA_ARGS__)` gives for LOG("text\n") (or KdPrintEx((...,
 * Format, __VA_ARGS__))); MSVC's preprocessor drops that comma, so these macros do too. The
 * parenthesized names call the functions themselves. */
#ifndef UWSK_RUNTIME_BUILD
/* __VA_OPT__ (C23, C++20) drops the comma when the variable part is empty; GCC and Clang accept
 * it in every language mode. GNU's `, ##__VA_ARGS__` would drop it only when that part is
 * missing altogether, not for DbgPrint("text\n", ). */
#define DbgPrint(Format, ...) (DbgPrint)(Format __VA_OPT__(, ) __VA_ARGS__)
#define DbgPrintEx(ComponentId, Level, Format, ...)                                                \
  (DbgPrintEx)(ComponentId, Level, Format __VA_OPT__(, ) __VA_ARGS__)
#endif /* !UWSK_RUNTIME_BUILD */

#define KdPrint(_x_) DbgPrint _x_
#define KdPrintEx(_x_) DbgPrintEx _x_
#define vKdPrintEx(_x_) vDbgPrintEx _x_
#define vKdPrintExWithPrefix(_x_) vDbgPrintExWithPrefix _x_
#define KdBreakPoint() DbgBreakPoint()
#define KdBreakPointWithStatus(s) DbgBreakPointWithStatus(s)
#define DbgRaiseAssertionFailure()                                                                 \
  RtlAssert((PVOID) "DbgRaiseAssertionFailure", (PVOID)__FILE__, __LINE__, NULL)

#ifndef __debugbreak
#define __debugbreak() DbgBreakPoint()
#endif

#define DBG_STATUS_CONTROL_C 1
#define DBG_STATUS_SYSRQ 2
#define DBG_STATUS_BUGCHECK_FIRST 3
#define DBG_STATUS_BUGCHECK_SECOND 4
#define DBG_STATUS_FATAL 5
#define DBG_STATUS_DEBUG_CONTROL 6
#define DBG_STATUS_WORKER 7

/* The assertion macros evaluate to a BOOLEAN (TRUE when the expression holds) through this
 * helper, so that `ASSERT(x);` as a statement draws no unused-value warning. */
FORCEINLINE BOOLEAN uwsk_dbg_check_(int Ok, PCSTR Expression, PCSTR File, ULONG Line,
                                    PCSTR Message) {
  if (!Ok) {
    RtlAssert((PVOID)Expression, (PVOID)File, Line, (PSTR)Message);
  }
  return Ok ? TRUE : FALSE;
}

#ifndef UWSK_ASSERTS_OFF
#define ASSERT(exp) ((void)uwsk_dbg_check_(!!(exp), #exp, __FILE__, __LINE__, NULL))
#define ASSERTMSG(msg, exp) ((void)uwsk_dbg_check_(!!(exp), #exp, __FILE__, __LINE__, (msg)))
#define RTL_SOFT_ASSERT(exp) ASSERT(exp)
#define RTL_SOFT_ASSERTMSG(msg, exp) ASSERTMSG(msg, exp)
#define NT_ASSERT(exp) ((void)uwsk_dbg_check_(!!(exp), #exp, __FILE__, __LINE__, NULL))
#define NT_ASSERTMSG(msg, exp) ((void)uwsk_dbg_check_(!!(exp), #exp, __FILE__, __LINE__, (msg)))
#define NT_ASSERTMSGW(msg, exp) ((void)uwsk_dbg_check_(!!(exp), #exp, __FILE__, __LINE__, NULL))
#define NT_ASSERT_ASSUME(exp) NT_ASSERT(exp)
#define NT_ASSERT_NOASSUME(exp) NT_ASSERT(exp)
#define NT_VERIFY(exp) uwsk_dbg_check_(!!(exp), #exp, __FILE__, __LINE__, NULL)
#define NT_VERIFYMSG(msg, exp) uwsk_dbg_check_(!!(exp), #exp, __FILE__, __LINE__, (msg))
#define NT_VERIFYMSGW(msg, exp) uwsk_dbg_check_(!!(exp), #exp, __FILE__, __LINE__, NULL)
#define NT_FRE_ASSERT(exp) NT_ASSERT(exp)
/* As in the WDK, PAGED_CODE() is a whole statement with its own `;`, so that both
 * `PAGED_CODE();` and `PAGED_CODE() NT_ASSERT(x);` parse. */
#define PAGED_CODE()                                                                               \
  do {                                                                                             \
    if (KeGetCurrentIrql() > APC_LEVEL) {                                                          \
      uwsk_paged_code_violation(KeGetCurrentIrql(), __FILE__, __LINE__);                           \
    }                                                                                              \
  } while (0);
#else
#define ASSERT(exp) ((void)0)
#define ASSERTMSG(msg, exp) ((void)0)
#define RTL_SOFT_ASSERT(exp) ((void)0)
#define RTL_SOFT_ASSERTMSG(msg, exp) ((void)0)
#define NT_ASSERT(exp) ((void)0)
#define NT_ASSERTMSG(msg, exp) ((void)0)
#define NT_ASSERTMSGW(msg, exp) ((void)0)
#define NT_ASSERT_ASSUME(exp) ((void)0)
#define NT_ASSERT_NOASSUME(exp) ((void)0)
#define NT_VERIFY(exp) ((exp) ? TRUE : FALSE)
#define NT_VERIFYMSG(msg, exp) ((exp) ? TRUE : FALSE)
#define NT_VERIFYMSGW(msg, exp) ((exp) ? TRUE : FALSE)
#define NT_FRE_ASSERT(exp) ((void)uwsk_dbg_check_(!!(exp), #exp, __FILE__, __LINE__, NULL))
#define PAGED_CODE() ((void)0);
#endif

#define NT_ANALYSIS_ASSUME(exp) ((void)0)
#define PAGED_CODE_LOCKED() ((void)0);
#define PAGED_ASSERT(exp) ASSERT(exp)

#endif /* UWSK_WDK_KM_DBG_H */

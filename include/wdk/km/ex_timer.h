/*
 * km/ex_timer.h - uwsk: executive timers (ExAllocateTimer, ExSetTimer, ExCancelTimer,
 * ExDeleteTimer).
 *
 * The callback runs at DISPATCH_LEVEL on the runtime's timer thread, as KTIMER DPCs do. Due
 * times follow KeSetTimer (negative: relative, 100 ns units; positive: absolute system time);
 * a period is in 100 ns units and is kept to the millisecond. EX_TIMER_HIGH_RESOLUTION and
 * EX_TIMER_NO_WAKE are accepted: every timer here is as precise as the timer thread, and
 * nothing sleeps. Deleting a periodic timer cancels it even when Cancel is FALSE.
 */
#ifndef UWSK_WDK_KM_EX_TIMER_H
#define UWSK_WDK_KM_EX_TIMER_H

#include "../ntdef.h"
#include "types.h"

typedef struct _EX_TIMER *PEX_TIMER;

typedef VOID NTAPI EXT_CALLBACK(PEX_TIMER Timer, PVOID Context);
typedef EXT_CALLBACK *PEXT_CALLBACK;
typedef VOID NTAPI EXT_DELETE_CALLBACK(PVOID Context);
typedef EXT_DELETE_CALLBACK *PEXT_DELETE_CALLBACK;

#define EX_TIMER_HIGH_RESOLUTION 0x4
#define EX_TIMER_NO_WAKE 0x8
#define EX_TIMER_UNLIMITED_TOLERANCE ((LONGLONG)-1)

typedef struct _EXT_SET_PARAMETERS_V0 {
  ULONG Version;
  ULONG Reserved;
  LONGLONG NoWakeTolerance;
} EXT_SET_PARAMETERS, *PEXT_SET_PARAMETERS;

typedef struct _EXT_CANCEL_PARAMETERS {
  ULONG Version;
  ULONG Reserved;
} EXT_CANCEL_PARAMETERS, *PEXT_CANCEL_PARAMETERS;

typedef struct _EXT_DELETE_PARAMETERS {
  ULONG Version;
  ULONG Reserved;
  PEXT_DELETE_CALLBACK DeleteCallback;
  PVOID DeleteContext;
} EXT_DELETE_PARAMETERS, *PEXT_DELETE_PARAMETERS;

FORCEINLINE VOID ExInitializeSetTimerParameters(PEXT_SET_PARAMETERS Parameters) {
  Parameters->Version = 0;
  Parameters->Reserved = 0;
  Parameters->NoWakeTolerance = 0;
}

FORCEINLINE VOID ExInitializeDeleteTimerParameters(PEXT_DELETE_PARAMETERS Parameters) {
  Parameters->Version = 0;
  Parameters->Reserved = 0;
  Parameters->DeleteCallback = NULL;
  Parameters->DeleteContext = NULL;
}

UWSK_BEGIN_DECLS

/* NULL when Attributes holds an unknown bit or memory is short. */
NTKERNELAPI PEX_TIMER NTAPI ExAllocateTimer(PEXT_CALLBACK Callback, PVOID CallbackContext,
                                            ULONG Attributes);
/* TRUE when the timer was set and this call replaced that setting. */
NTKERNELAPI BOOLEAN NTAPI ExSetTimer(PEX_TIMER Timer, LONGLONG DueTime, LONGLONG Period,
                                     PEXT_SET_PARAMETERS Parameters);
/* TRUE when a pending expiry (or its callback, not yet started) was cancelled. */
NTKERNELAPI BOOLEAN NTAPI ExCancelTimer(PEX_TIMER Timer, PEXT_CANCEL_PARAMETERS Parameters);
/* Frees the timer (and then calls Parameters->DeleteCallback, at DISPATCH_LEVEL) once no
 * callback runs or is due; with Wait (PASSIVE_LEVEL only), no callback runs or is due when it
 * returns. Returns TRUE when a pending expiry was cancelled. */
NTKERNELAPI BOOLEAN NTAPI ExDeleteTimer(PEX_TIMER Timer, BOOLEAN Cancel, BOOLEAN Wait,
                                        PEXT_DELETE_PARAMETERS Parameters);

UWSK_END_DECLS

#endif /* UWSK_WDK_KM_EX_TIMER_H */

/*
 * wdm.h - uwsk: the Windows Driver Model kernel interface, as one include.
 *
 * The declarations are split by Windows component under km/ (ke, ex, ps, rtl, dbg, pool, io) so
 * that each is small; drivers include this file (or ntddk.h / ntifs.h) exactly as on Windows. As
 * the WDK's, it also makes the compiler intrinsics (intrin.h) and the kernel C runtime (km/crt.h,
 * with <string.h> and <ctype.h>) visible.
 */
#ifndef UWSK_WDK_WDM_H
#define UWSK_WDK_WDM_H

/* The target version (NTDDI_VERSION, default Windows 10 2004) and every version constant. */
#include "sdkddkver.h"

#include "ntdef.h"
#include "ntstatus.h"
#include "km/types.h"
#include "km/rtl.h"
#include "km/dbg.h"
#include "km/ke.h"
#include "km/ex.h"
#include "km/pool.h"
#include "km/ps.h"
#include "km/io.h"
#include "km/registry.h"
#include "km/file.h"
#include "km/locks.h"
#include "km/csq.h"
#include "km/ex_timer.h"
#include "km/system_services.h"
#include "km/time_conversion.h"
#include "km/processor.h"
#include "intrin.h"

/* Code-placement pragmas and section macros are meaningless in user space. */
#define ALLOC_PRAGMA 1
#define ALLOC_DATA_PRAGMA 1

#endif /* UWSK_WDK_WDM_H */

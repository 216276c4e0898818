/*
 * wdm.h - uwsk: the Windows Driver Model kernel interface, as one include.
 *
 * The declarations are split by Windows component under km/ (ke, ex, ps, rtl, dbg, pool, io) so
 * that each is small; drivers include this file (or ntddk.h / ntifs.h) exactly as on Windows.
 */
#ifndef UWSK_WDK_WDM_H
#define UWSK_WDK_WDM_H

#ifndef NTDDI_VERSION
/* Windows 10, version 2004: the default target of uwsk (ExAllocatePool2 and friends exist). */
#define NTDDI_VERSION 0x0A000008
#endif
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#ifndef WINVER
#define WINVER 0x0A00
#endif
#define NTDDI_WIN7 0x06010000
#define NTDDI_WIN8 0x06020000
#define NTDDI_WINBLUE 0x06030000
#define NTDDI_WIN10 0x0A000000
#define NTDDI_WIN10_VB 0x0A000008
#define NTDDI_WIN10_FE 0x0A00000A
#define _WIN32_WINNT_WIN7 0x0601
#define _WIN32_WINNT_WIN8 0x0602
#define _WIN32_WINNT_WIN10 0x0A00

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

/* Code-placement pragmas and section macros are meaningless in user space. */
#define ALLOC_PRAGMA 1
#define ALLOC_DATA_PRAGMA 1

#endif /* UWSK_WDK_WDM_H */

/* ntddk.h - uwsk: the classic driver development kit header; everything is in wdm.h. */
#ifndef UWSK_WDK_NTDDK_H
#define UWSK_WDK_NTDDK_H
#include "wdm.h"
#endif /* UWSK_WDK_NTDDK_H */

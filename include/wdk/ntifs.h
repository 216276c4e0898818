/* ntifs.h - uwsk: the installable file system kit header; a superset of ntddk.h. */
#ifndef UWSK_WDK_NTIFS_H
#define UWSK_WDK_NTIFS_H
#include "ntddk.h"
#endif /* UWSK_WDK_NTIFS_H */

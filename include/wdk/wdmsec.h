/*
 * wdmsec.h - uwsk: IoCreateDeviceSecure and the SDDL_DEVOBJ_* security descriptors.
 *
 * The SDDL string is checked as Windows checks it (a protected DACL, "D:P", of allow entries:
 * "(A;;rights;;;trustee)") and a malformed one is refused with STATUS_INVALID_PARAMETER; then
 * the device is created as IoCreateDevice creates it. uwsk runs in one process with no other
 * users, so the descriptor is not enforced, and DeviceClassGuid is not recorded.
 */
#ifndef UWSK_WDK_WDMSEC_H
#define UWSK_WDK_WDMSEC_H

#include "wdm.h"

UWSK_BEGIN_DECLS

extern NTSYSAPI const UNICODE_STRING SDDL_DEVOBJ_KERNEL_ONLY;
extern NTSYSAPI const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL;
extern NTSYSAPI const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL_ADM_ALL;
extern NTSYSAPI const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL_ADM_RX;
extern NTSYSAPI const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_R;
extern NTSYSAPI const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RW_RES_R;
extern NTSYSAPI const UNICODE_STRING SDDL_DEVOBJ_SYS_ALL_ADM_RWX_WORLD_RWX_RES_RWX;

#define SDDL_DEVOBJ_INF_SUPPLIED SDDL_DEVOBJ_KERNEL_ONLY

NTKERNELAPI NTSTATUS NTAPI IoCreateDeviceSecure(
    PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,
    DEVICE_TYPE DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
    PCUNICODE_STRING DefaultSDDLString, LPCGUID DeviceClassGuid, PDEVICE_OBJECT *DeviceObject);

UWSK_END_DECLS

#endif /* UWSK_WDK_WDMSEC_H */

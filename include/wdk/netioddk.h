/*
 * netioddk.h - uwsk: Network Module Registrar (NMR) types.
 *
 * WSK clients use NPIID and NPI_WSK_INTERFACE_ID (wsk.h) with SO_WSK_EVENT_CALLBACK. The NMR
 * registration structures are declared for source compatibility of the NMR attachment path
 * (docs/wsk-behaviour.md, "Registration"); the Nmr* functions themselves are not provided, so a
 * driver that uses that path fails to compile instead of failing to load.
 */
#ifndef UWSK_WDK_NETIODDK_H
#define UWSK_WDK_NETIODDK_H

#include "ntdef.h"

/* A locally unique identifier. Defined here until ntdef.h carries it; the guard lets either
 * header come first. */
#ifndef UWSK_WDK_LUID_DEFINED
#define UWSK_WDK_LUID_DEFINED 1
typedef struct _LUID {
  ULONG LowPart;
  LONG HighPart;
} LUID, *PLUID;
#endif

/* Network programming interface identifiers are GUIDs, compared by value. */
typedef GUID NPIID;
typedef const NPIID *PNPIID;

typedef enum _NPI_MODULEID_TYPE { MIT_GUID = 1, MIT_IF_LUID } NPI_MODULEID_TYPE;

typedef struct _NPI_MODULEID {
  USHORT Length;
  NPI_MODULEID_TYPE Type;
  union {
    GUID Guid;
    LUID IfLuid;
  };
} NPI_MODULEID;
typedef const NPI_MODULEID *PNPI_MODULEID;

typedef const struct _NPI_CLIENT_CHARACTERISTICS *PNPI_CLIENT_CHARACTERISTICS;
typedef const struct _NPI_PROVIDER_CHARACTERISTICS *PNPI_PROVIDER_CHARACTERISTICS;
typedef const struct _NPI_REGISTRATION_INSTANCE *PNPI_REGISTRATION_INSTANCE;

typedef struct _NPI_REGISTRATION_INSTANCE {
  USHORT Version;
  USHORT Size;
  PNPIID NpiId;
  PNPI_MODULEID ModuleId;
  ULONG Number;
  const VOID *NpiSpecificCharacteristics;
} NPI_REGISTRATION_INSTANCE;

typedef struct _NPI {
  HANDLE Handle;
  const VOID *Dispatch;
} NPI;

typedef NTSTATUS(NTAPI NPI_CLIENT_ATTACH_PROVIDER_FN)(
    _In_ HANDLE NmrBindingHandle, _In_ PVOID ClientContext,
    _In_ PNPI_REGISTRATION_INSTANCE ProviderRegistrationInstance);
typedef NPI_CLIENT_ATTACH_PROVIDER_FN *PNPI_CLIENT_ATTACH_PROVIDER_FN;

typedef NTSTATUS(NTAPI NPI_CLIENT_DETACH_PROVIDER_FN)(_In_ PVOID ClientBindingContext);
typedef NPI_CLIENT_DETACH_PROVIDER_FN *PNPI_CLIENT_DETACH_PROVIDER_FN;

typedef VOID(NTAPI NPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN)(_In_ PVOID ClientBindingContext);
typedef NPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN *PNPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN;

typedef struct _NPI_CLIENT_CHARACTERISTICS {
  USHORT Version;
  USHORT Length;
  PNPI_CLIENT_ATTACH_PROVIDER_FN ClientAttachProvider;
  PNPI_CLIENT_DETACH_PROVIDER_FN ClientDetachProvider;
  PNPI_CLIENT_CLEANUP_BINDING_CONTEXT_FN ClientCleanupBindingContext;
  NPI_REGISTRATION_INSTANCE ClientRegistrationInstance;
} NPI_CLIENT_CHARACTERISTICS;

typedef NTSTATUS(NTAPI NPI_PROVIDER_ATTACH_CLIENT_FN)(
    _In_ HANDLE NmrBindingHandle, _In_ PVOID ProviderContext,
    _In_ PNPI_REGISTRATION_INSTANCE ClientRegistrationInstance, _In_ PVOID ClientBindingContext,
    _In_ const VOID *ClientDispatch, _Out_ PVOID *ProviderBindingContext,
    _Out_ const VOID **ProviderDispatch);
typedef NPI_PROVIDER_ATTACH_CLIENT_FN *PNPI_PROVIDER_ATTACH_CLIENT_FN;

typedef NTSTATUS(NTAPI NPI_PROVIDER_DETACH_CLIENT_FN)(_In_ PVOID ProviderBindingContext);
typedef NPI_PROVIDER_DETACH_CLIENT_FN *PNPI_PROVIDER_DETACH_CLIENT_FN;

typedef VOID(NTAPI NPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN)(_In_ PVOID ProviderBindingContext);
typedef NPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN *PNPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN;

typedef struct _NPI_PROVIDER_CHARACTERISTICS {
  USHORT Version;
  USHORT Length;
  PNPI_PROVIDER_ATTACH_CLIENT_FN ProviderAttachClient;
  PNPI_PROVIDER_DETACH_CLIENT_FN ProviderDetachClient;
  PNPI_PROVIDER_CLEANUP_BINDING_CONTEXT_FN ProviderCleanupBindingContext;
  NPI_REGISTRATION_INSTANCE ProviderRegistrationInstance;
} NPI_PROVIDER_CHARACTERISTICS;

UWSK_STATIC_ASSERT(sizeof(NPIID) == 16, "NPIID is a GUID");
UWSK_STATIC_ASSERT(sizeof(NPI_MODULEID) == 24, "NPI_MODULEID is 24 bytes");
UWSK_STATIC_ASSERT(sizeof(NPI_REGISTRATION_INSTANCE) == 40, "NPI_REGISTRATION_INSTANCE");
UWSK_STATIC_ASSERT(sizeof(NPI_CLIENT_CHARACTERISTICS) == 72, "NPI_CLIENT_CHARACTERISTICS");

#endif /* UWSK_WDK_NETIODDK_H */

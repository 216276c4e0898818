/*
 * guiddef.h - GUID, its comparisons and DEFINE_GUID.
 *
 * DEFINE_GUID(name, ...) declares `name` (extern const GUID); in a translation unit that includes
 * initguid.h first (which defines INITGUID), it defines it, so exactly one unit of a driver owns
 * each GUID's storage, as with the WDK.
 */
#ifndef UWSK_WDK_GUIDDEF_H
#define UWSK_WDK_GUIDDEF_H

#include "ntdef.h"

#ifndef UWSK_GUID_DEFINED
#define UWSK_GUID_DEFINED 1
typedef struct _GUID {
  ULONG Data1;
  USHORT Data2;
  USHORT Data3;
  UCHAR Data4[8];
} GUID, *PGUID, *LPGUID, UUID;
typedef const GUID *LPCGUID, *PCGUID;
typedef GUID IID, *LPIID, CLSID, *LPCLSID, FMTID, *LPFMTID;
UWSK_STATIC_ASSERT(sizeof(GUID) == 16, "GUID is 16 bytes");
#endif

/* References: a C++ reference in C++, a pointer in C, as the WDK spells them. */
#ifdef __cplusplus
#define REFGUID const GUID &
#define REFIID const IID &
#define REFCLSID const IID &
#define REFFMTID const IID &
#else
#define REFGUID const GUID *__restrict
#define REFIID const IID *__restrict
#define REFCLSID const IID *__restrict
#define REFFMTID const IID *__restrict
#endif

#ifndef UWSK_GUID_FUNCTIONS_DEFINED
#define UWSK_GUID_FUNCTIONS_DEFINED 1
/* The all-zero GUID; a static constant in every unit, so no unit has to define it. */
static const GUID GUID_NULL = {0, 0, 0, {0, 0, 0, 0, 0, 0, 0, 0}};
#define IID_NULL GUID_NULL
#define CLSID_NULL GUID_NULL
#define FMTID_NULL GUID_NULL

/* Byte-wise equality of two GUIDs (the arguments are REFGUIDs: references in C++, pointers in
 * C). */
#ifdef __cplusplus
__inline int InlineIsEqualGUID(REFGUID a, REFGUID b) {
  return memcmp(&a, &b, sizeof(GUID)) == 0;
}
__inline int IsEqualGUID(REFGUID a, REFGUID b) {
  return memcmp(&a, &b, sizeof(GUID)) == 0;
}
__inline bool operator==(REFGUID a, REFGUID b) {
  return IsEqualGUID(a, b) != 0;
}
__inline bool operator!=(REFGUID a, REFGUID b) {
  return !(a == b);
}
#else
#define InlineIsEqualGUID(a, b) (memcmp((a), (b), sizeof(GUID)) == 0)
#define IsEqualGUID(a, b) (memcmp((a), (b), sizeof(GUID)) == 0)
#endif
#define IsEqualIID(a, b) IsEqualGUID(a, b)
#define IsEqualCLSID(a, b) IsEqualGUID(a, b)
#define IsEqualFMTID(a, b) IsEqualGUID(a, b)
#endif

#endif /* UWSK_WDK_GUIDDEF_H */

/* DEFINE_GUID follows INITGUID each time guiddef.h is read (outside the include guard), so
 * including initguid.h switches it for the rest of the unit. */
#undef DEFINE_GUID
#if defined(INITGUID) && defined(__cplusplus)
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8)                               \
  extern "C" const GUID name __attribute__((weak)) = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#elif defined(INITGUID)
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8)                               \
  const GUID name __attribute__((weak)) = {l, w1, w2, {b1, b2, b3, b4, b5, b6, b7, b8}}
#else
#define DEFINE_GUID(name, l, w1, w2, b1, b2, b3, b4, b5, b6, b7, b8) UWSK_EXTERN_C const GUID name
#endif
#define DEFINE_OLEGUID(name, l, w1, w2) DEFINE_GUID(name, l, w1, w2, 0xC0, 0, 0, 0, 0, 0, 0, 0x46)

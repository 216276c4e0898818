/*
 * initguid.h - makes DEFINE_GUID define its GUID (with storage) instead of declaring it.
 *
 * Include it before the headers whose GUIDs this translation unit should own. Each GUID so defined
 * is a weak symbol, so that two units that both define it still link.
 */
#ifndef INITGUID
#define INITGUID
#endif
#include "guiddef.h"

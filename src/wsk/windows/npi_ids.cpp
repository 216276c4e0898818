// windows/npi_ids.cpp - the data wsk.h and ws2ipdef.h declare: the WSK interface identifier and the
// IPv6 wildcard and loopback addresses.
//
// in6addr_any and in6addr_loopback have the names Windows gives them. glibc exports variables
// of the same names and the same bytes, so whichever definition a reference binds to, it reads
// the right address. No runtime translation unit may include both this file's headers and
// <netinet/in.h>, whose declarations of the two names have another type.
#include "wsk.h"

extern "C" {

// NPI_WSK_INTERFACE_ID: {2227E803-8D8B-11D4-ABAD-009027719E09}, the value public third-party
// WSK code uses; no Microsoft header or page states it (docs/wsk-behaviour.md, "Addresses and
// constants"). Providers compare it by value.
const NPIID NPI_WSK_INTERFACE_ID = {
    0x2227E803, 0x8D8B, 0x11D4, {0xAB, 0xAD, 0x00, 0x90, 0x27, 0x71, 0x9E, 0x09}};

// in6addr_any: the IPv6 wildcard address, ::.
const IN6_ADDR in6addr_any = IN6ADDR_ANY_INIT;

// in6addr_loopback: the IPv6 loopback address, ::1.
const IN6_ADDR in6addr_loopback = IN6ADDR_LOOPBACK_INIT;

} // extern "C"

/*
 * in6addr.h - uwsk: the IPv6 address type of Winsock (IN6_ADDR, struct in6_addr).
 */
#ifndef UWSK_WDK_IN6ADDR_H
#define UWSK_WDK_IN6ADDR_H

#include "ntdef.h"

typedef struct in6_addr {
  union {
    UCHAR Byte[16];
    USHORT Word[8];
  } u;
} IN6_ADDR, *PIN6_ADDR, *LPIN6_ADDR;

/* Windows spells the members through these macros. Runtime code that also includes the Linux
 * socket headers defines UWSK_NO_WINSOCK_MEMBER_MACROS, because glibc declares a real s6_addr. */
#ifndef UWSK_NO_WINSOCK_MEMBER_MACROS
#define in_addr6 in6_addr
#define _S6_un u
#define _S6_u8 Byte
#define s6_addr _S6_un._S6_u8
#define s6_bytes u.Byte
#define s6_words u.Word
#endif

UWSK_STATIC_ASSERT(sizeof(IN6_ADDR) == 16, "IN6_ADDR is 16 bytes");

#endif /* UWSK_WDK_IN6ADDR_H */

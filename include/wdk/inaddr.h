/*
 * inaddr.h - uwsk: the IPv4 address type of Winsock (IN_ADDR, struct in_addr).
 *
 * The address is in network byte order. S_addr is a ULONG, 32 bits even though Linux `long` is
 * 64 (docs/wsk-behaviour.md, "Source compatibility").
 */
#ifndef UWSK_WDK_INADDR_H
#define UWSK_WDK_INADDR_H

#include "ntdef.h"

typedef struct in_addr {
  union {
    struct {
      UCHAR s_b1, s_b2, s_b3, s_b4;
    } S_un_b;
    struct {
      USHORT s_w1, s_w2;
    } S_un_w;
    ULONG S_addr;
  } S_un;
} IN_ADDR, *PIN_ADDR, *LPIN_ADDR;

/* Windows spells the members through these macros. Runtime code that also includes the Linux
 * socket headers defines UWSK_NO_WINSOCK_MEMBER_MACROS, because glibc declares a real s_addr. */
#ifndef UWSK_NO_WINSOCK_MEMBER_MACROS
#define s_addr S_un.S_addr
#define s_host S_un.S_un_b.s_b2
#define s_net S_un.S_un_b.s_b1
#define s_imp S_un.S_un_w.s_w2
#define s_impno S_un.S_un_b.s_b4
#define s_lh S_un.S_un_b.s_b3
#endif

UWSK_STATIC_ASSERT(sizeof(IN_ADDR) == 4, "IN_ADDR is 4 bytes");

#endif /* UWSK_WDK_INADDR_H */

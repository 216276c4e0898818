/*
 * mstcpip.h - uwsk: Microsoft TCP/IP vendor I/O control codes, with Windows values.
 *
 * Only what WSK code uses: SIO_LOOPBACK_FAST_PATH (docs/wsk-behaviour.md, "IOCTLs") and its
 * neighbours, and the keep-alive structure of SIO_KEEPALIVE_VALS.
 */
#ifndef UWSK_WDK_MSTCPIP_H
#define UWSK_WDK_MSTCPIP_H

#include "ws2def.h"
/* As in the WDK, the address/string conversions (RtlIpv4AddressToStringA, ...) come with it. */
#include "ip2string.h"

#define SIO_RCVALL _WSAIOW(IOC_VENDOR, 1)
#define SIO_RCVALL_MCAST _WSAIOW(IOC_VENDOR, 2)
#define SIO_RCVALL_IGMPMCAST _WSAIOW(IOC_VENDOR, 3)
#define SIO_KEEPALIVE_VALS _WSAIOW(IOC_VENDOR, 4)
#define SIO_ABSORB_RTRALERT _WSAIOW(IOC_VENDOR, 5)
#define SIO_UCAST_IF _WSAIOW(IOC_VENDOR, 6)
#define SIO_LIMIT_BROADCASTS _WSAIOW(IOC_VENDOR, 7)
#define SIO_INDEX_BIND _WSAIOW(IOC_VENDOR, 8)
#define SIO_INDEX_MCASTIF _WSAIOW(IOC_VENDOR, 9)
#define SIO_INDEX_ADD_MCAST _WSAIOW(IOC_VENDOR, 10)
#define SIO_INDEX_DEL_MCAST _WSAIOW(IOC_VENDOR, 11)
#define SIO_RCVALL_MCAST_IF _WSAIOW(IOC_VENDOR, 13)
#define SIO_RCVALL_IF _WSAIOW(IOC_VENDOR, 14)
#define SIO_LOOPBACK_FAST_PATH _WSAIOW(IOC_VENDOR, 16)
#define SIO_TCP_INITIAL_RTO _WSAIOW(IOC_VENDOR, 17)

/* Values of SIO_RCVALL. */
typedef enum {
  RCVALL_OFF = 0,
  RCVALL_ON = 1,
  RCVALL_SOCKETLEVELONLY = 2,
  RCVALL_IPLEVEL = 3
} RCVALL_VALUE,
    *PRCVALL_VALUE;

/* Input of SIO_KEEPALIVE_VALS; times are in milliseconds. */
struct tcp_keepalive {
  ULONG onoff;
  ULONG keepalivetime;
  ULONG keepaliveinterval;
};

UWSK_STATIC_ASSERT(SIO_LOOPBACK_FAST_PATH == 0x98000010u, "SIO_LOOPBACK_FAST_PATH");
UWSK_STATIC_ASSERT(sizeof(struct tcp_keepalive) == 12, "tcp_keepalive is 12 bytes");

#endif /* UWSK_WDK_MSTCPIP_H */

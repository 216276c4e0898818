/*
 * ws2ipdef.h - uwsk: the IPv4/IPv6 Winsock definitions, with Windows values.
 *
 * Option numbers for the IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP and IPPROTO_UDP levels,
 * SOCKADDR_IN6, the multicast request and packet-information structures. Most option numbers
 * differ from Linux; the runtime translates them (docs/wsk-behaviour.md, "Options" and "Addresses
 * and constants").
 */
#ifndef UWSK_WDK_WS2IPDEF_H
#define UWSK_WDK_WS2IPDEF_H

#include "ws2def.h"
#include "in6addr.h"

/* Buffer sizes for address strings (RtlIpv4AddressToString and friends), with Windows' values:
 * room for an address, a port and a scope (22 and 65, not POSIX's 16 and 46). */
#define INET_ADDRSTRLEN 22
#define INET6_ADDRSTRLEN 65

/* IPPROTO_IP options. */
#define IP_OPTIONS 1
#define IP_HDRINCL 2
#define IP_TOS 3
#define IP_TTL 4
#define IP_MULTICAST_IF 9
#define IP_MULTICAST_TTL 10
#define IP_MULTICAST_LOOP 11
#define IP_ADD_MEMBERSHIP 12
#define IP_DROP_MEMBERSHIP 13
#define IP_DONTFRAGMENT 14
#define IP_ADD_SOURCE_MEMBERSHIP 15
#define IP_DROP_SOURCE_MEMBERSHIP 16
#define IP_BLOCK_SOURCE 17
#define IP_UNBLOCK_SOURCE 18
#define IP_PKTINFO 19
#define IP_HOPLIMIT 21
#define IP_RECVTTL 21
#define IP_RECEIVE_BROADCAST 22
#define IP_RECVIF 24
#define IP_RECVDSTADDR 25
#define IP_IFLIST 28
#define IP_ADD_IFLIST 29
#define IP_DEL_IFLIST 30
#define IP_UNICAST_IF 31
#define IP_RTHDR 32
#define IP_GET_IFLIST 33
#define IP_RECVRTHDR 38
#define IP_TCLASS 39
#define IP_RECVTCLASS 40
#define IP_RECVTOS 40
#define IP_ORIGINAL_ARRIVAL_IF 47
#define IP_ECN 50
#define IP_PKTINFO_EX 51
#define IP_WFP_REDIRECT_RECORDS 60
#define IP_WFP_REDIRECT_CONTEXT 70
#define IP_MTU_DISCOVER 71
#define IP_MTU 73
#define IP_NRT_INTERFACE 74
#define IP_RECVERR 75
#define IP_USER_MTU 76

#define IP_DEFAULT_MULTICAST_TTL 1
#define IP_DEFAULT_MULTICAST_LOOP 1
#define IP_MAX_MEMBERSHIPS 20

/* IPPROTO_IPV6 options. */
#define IPV6_HOPOPTS 1
#define IPV6_HDRINCL 2
#define IPV6_UNICAST_HOPS 4
#define IPV6_MULTICAST_IF 9
#define IPV6_MULTICAST_HOPS 10
#define IPV6_MULTICAST_LOOP 11
#define IPV6_ADD_MEMBERSHIP 12
#define IPV6_JOIN_GROUP IPV6_ADD_MEMBERSHIP
#define IPV6_DROP_MEMBERSHIP 13
#define IPV6_LEAVE_GROUP IPV6_DROP_MEMBERSHIP
#define IPV6_DONTFRAG 14
#define IPV6_PKTINFO 19
#define IPV6_HOPLIMIT 21
#define IPV6_PROTECTION_LEVEL 23
#define IPV6_RECVIF 24
#define IPV6_RECVDSTADDR 25
#define IPV6_CHECKSUM 26
#define IPV6_V6ONLY 27
#define IPV6_IFLIST 28
#define IPV6_ADD_IFLIST 29
#define IPV6_DEL_IFLIST 30
#define IPV6_UNICAST_IF 31
#define IPV6_RTHDR 32
#define IPV6_GET_IFLIST 33
#define IPV6_RECVRTHDR 38
#define IPV6_TCLASS 39
#define IPV6_RECVTCLASS 40
#define IPV6_ECN 50
#define IPV6_PKTINFO_EX 51
#define IPV6_WFP_REDIRECT_RECORDS 60
#define IPV6_WFP_REDIRECT_CONTEXT 70
#define IPV6_MTU_DISCOVER 71
#define IPV6_MTU 72
#define IPV6_NRT_INTERFACE 74
#define IPV6_RECVERR 75
#define IPV6_USER_MTU 76

/* Values of IPV6_PROTECTION_LEVEL. */
#define PROTECTION_LEVEL_UNRESTRICTED 10
#define PROTECTION_LEVEL_EDGERESTRICTED 20
#define PROTECTION_LEVEL_RESTRICTED 30
#define PROTECTION_LEVEL_DEFAULT ((UINT)-1)

/* Values of IP_MTU_DISCOVER and IPV6_MTU_DISCOVER. */
typedef enum _PMTUD_STATE {
  IP_PMTUDISC_NOT_SET,
  IP_PMTUDISC_DO,
  IP_PMTUDISC_DONT,
  IP_PMTUDISC_PROBE,
  IP_PMTUDISC_MAX
} PMTUD_STATE,
    *PPMTUD_STATE;

/* IPPROTO_UDP options. */
#define UDP_NOCHECKSUM 1
#define UDP_CHECKSUM_COVERAGE 20

/* IPPROTO_TCP options (TCP_NODELAY is in ws2def.h). */
#define TCP_OFFLOAD_NO_PREFERENCE 0
#define TCP_OFFLOAD_NOT_PREFERRED 1
#define TCP_OFFLOAD_PREFERRED 2

#define TCP_EXPEDITED_1122 0x0002
#define TCP_KEEPALIVE 3
#define TCP_MAXSEG 4
#define TCP_MAXRT 5
#define TCP_STDURG 6
#define TCP_NOURG 7
#define TCP_ATMARK 8
#define TCP_NOSYNRETRIES 9
#define TCP_TIMESTAMPS 10
#define TCP_OFFLOAD_PREFERENCE 11
#define TCP_CONGESTION_ALGORITHM 12
#define TCP_DELAY_FIN_ACK 13
#define TCP_MAXRTMS 14
#define TCP_FASTOPEN 15
#define TCP_KEEPCNT 16
#define TCP_KEEPIDLE TCP_KEEPALIVE
#define TCP_KEEPINTVL 17
#define TCP_FAIL_CONNECT_ON_ICMP_ERROR 18
#define TCP_ICMP_ERROR_INFO 19

/* IPv6 socket address. sin6_scope_id and sin6_scope_struct share storage. */
typedef struct sockaddr_in6 {
  ADDRESS_FAMILY sin6_family;
  USHORT sin6_port;
  ULONG sin6_flowinfo;
  IN6_ADDR sin6_addr;
  union {
    ULONG sin6_scope_id;
    SCOPE_ID sin6_scope_struct;
  };
} SOCKADDR_IN6_LH, *PSOCKADDR_IN6_LH, *LPSOCKADDR_IN6_LH;
typedef SOCKADDR_IN6_LH SOCKADDR_IN6, *PSOCKADDR_IN6, *LPSOCKADDR_IN6;

typedef struct _sockaddr_in6_pair {
  PSOCKADDR_IN6 SourceAddress;
  PSOCKADDR_IN6 DestinationAddress;
} SOCKADDR_IN6_PAIR, *PSOCKADDR_IN6_PAIR;

typedef union _SOCKADDR_INET {
  SOCKADDR_IN Ipv4;
  SOCKADDR_IN6 Ipv6;
  ADDRESS_FAMILY si_family;
} SOCKADDR_INET, *PSOCKADDR_INET;

/* Static initialisers of IN6_ADDR, fully braced so that code built with -Wmissing-braces (part
 * of -Wall in C, and in Clang's C++) accepts them. */
#define IN6ADDR_ANY_INIT                                                                           \
  {                                                                                                \
    {                                                                                              \
      { 0 }                                                                                        \
    }                                                                                              \
  }
#define IN6ADDR_LOOPBACK_INIT                                                                      \
  {                                                                                                \
    {                                                                                              \
      { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }                                           \
    }                                                                                              \
  }

UWSK_BEGIN_DECLS
/* Defined by libuwsk (src/wsk/windows/npi_ids.cpp). */
extern const IN6_ADDR in6addr_any;
extern const IN6_ADDR in6addr_loopback;
UWSK_END_DECLS

/* Multicast group requests and packet information (control data of IP_PKTINFO and
 * IPV6_PKTINFO; docs/wsk-behaviour.md, "Control messages"). */
typedef struct ip_mreq {
  IN_ADDR imr_multiaddr;
  IN_ADDR imr_interface;
} IP_MREQ, *PIP_MREQ;

typedef struct ip_mreq_source {
  IN_ADDR imr_multiaddr;
  IN_ADDR imr_sourceaddr;
  IN_ADDR imr_interface;
} IP_MREQ_SOURCE, *PIP_MREQ_SOURCE;

typedef struct ipv6_mreq {
  IN6_ADDR ipv6mr_multiaddr;
  ULONG ipv6mr_interface;
} IPV6_MREQ, *PIPV6_MREQ;

typedef struct in_pktinfo {
  IN_ADDR ipi_addr;
  ULONG ipi_ifindex;
} IN_PKTINFO, *PIN_PKTINFO;

typedef struct in6_pktinfo {
  IN6_ADDR ipi6_addr;
  ULONG ipi6_ifindex;
} IN6_PKTINFO, *PIN6_PKTINFO;

/* x64 layouts (docs/wsk-behaviour.md, "Structures"). */
UWSK_STATIC_ASSERT(sizeof(SOCKADDR_IN6) == 28, "SOCKADDR_IN6 is 28 bytes");
UWSK_STATIC_ASSERT(offsetof(SOCKADDR_IN6, sin6_port) == 2, "SOCKADDR_IN6.sin6_port");
UWSK_STATIC_ASSERT(offsetof(SOCKADDR_IN6, sin6_flowinfo) == 4, "SOCKADDR_IN6.sin6_flowinfo");
UWSK_STATIC_ASSERT(offsetof(SOCKADDR_IN6, sin6_addr) == 8, "SOCKADDR_IN6.sin6_addr");
UWSK_STATIC_ASSERT(offsetof(SOCKADDR_IN6, sin6_scope_id) == 24, "SOCKADDR_IN6.sin6_scope_id");
UWSK_STATIC_ASSERT(offsetof(SOCKADDR_IN6, sin6_scope_struct) == 24,
                   "SOCKADDR_IN6.sin6_scope_struct");
UWSK_STATIC_ASSERT(sizeof(SOCKADDR_INET) == 28, "SOCKADDR_INET is 28 bytes");
UWSK_STATIC_ASSERT(sizeof(IP_MREQ) == 8, "IP_MREQ is 8 bytes");
UWSK_STATIC_ASSERT(sizeof(IPV6_MREQ) == 20, "IPV6_MREQ is 20 bytes");
UWSK_STATIC_ASSERT(sizeof(IN_PKTINFO) == 8, "IN_PKTINFO is 8 bytes");
UWSK_STATIC_ASSERT(sizeof(IN6_PKTINFO) == 20, "IN6_PKTINFO is 20 bytes");

#endif /* UWSK_WDK_WS2IPDEF_H */

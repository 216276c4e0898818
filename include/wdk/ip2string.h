/*
 * ip2string.h - uwsk: IPv4 and IPv6 addresses to and from text (RtlIpv4*, RtlIpv6*), with the
 * semantics of Windows' ip2string.h.
 *
 * To text: "a.b.c.d", "a.b.c.d:port"; IPv6 in RFC 5952 form (lower-case hex, the longest run
 * of two or more zero groups as "::", the first on a tie), with dotted IPv4 for mapped
 * (::ffff:a.b.c.d), translated (::ffff:0:a.b.c.d), compatible (::a.b.c.d) and ISATAP
 * (...:5efe:a.b.c.d) addresses; the Ex forms add "%scope" and, with a port, "[...]:port".
 * The to-text buffers must hold 16 (IPv4) or 46 (IPv6) characters; the Ex forms take the room
 * in *AddressStringLength (characters, terminator included) and set it to what the text needs:
 * too small a room is STATUS_INVALID_PARAMETER.
 * From text: Strict IPv4 is exactly four dotted decimal parts; non-strict IPv4 also takes one to
 * three parts and octal (0..) or hex (0x..) parts, as inet_aton. *Terminator points past the
 * address. The Ex forms take an optional port (and, for IPv6, "%scope" and brackets) and must
 * consume the whole string. Ports are in network byte order. Bad input is
 * STATUS_INVALID_PARAMETER.
 */
#ifndef UWSK_WDK_IP2STRING_H
#define UWSK_WDK_IP2STRING_H

#include "ntdef.h"
#include "ntstatus.h"
#include "inaddr.h"
#include "in6addr.h"

UWSK_BEGIN_DECLS

NTSYSAPI PSTR NTAPI RtlIpv4AddressToStringA(const IN_ADDR *Addr, PSTR S);
NTSYSAPI PWSTR NTAPI RtlIpv4AddressToStringW(const IN_ADDR *Addr, PWSTR S);
NTSYSAPI NTSTATUS NTAPI RtlIpv4AddressToStringExA(const IN_ADDR *Address, USHORT Port,
                                                  PSTR AddressString, PULONG AddressStringLength);
NTSYSAPI NTSTATUS NTAPI RtlIpv4AddressToStringExW(const IN_ADDR *Address, USHORT Port,
                                                  PWSTR AddressString, PULONG AddressStringLength);
NTSYSAPI NTSTATUS NTAPI RtlIpv4StringToAddressA(PCSTR S, BOOLEAN Strict, PCSTR *Terminator,
                                                IN_ADDR *Addr);
NTSYSAPI NTSTATUS NTAPI RtlIpv4StringToAddressW(PCWSTR S, BOOLEAN Strict, LPCWSTR *Terminator,
                                                IN_ADDR *Addr);
NTSYSAPI NTSTATUS NTAPI RtlIpv4StringToAddressExA(PCSTR AddressString, BOOLEAN Strict,
                                                  IN_ADDR *Address, PUSHORT Port);
NTSYSAPI NTSTATUS NTAPI RtlIpv4StringToAddressExW(PCWSTR AddressString, BOOLEAN Strict,
                                                  IN_ADDR *Address, PUSHORT Port);

NTSYSAPI PSTR NTAPI RtlIpv6AddressToStringA(const IN6_ADDR *Addr, PSTR S);
NTSYSAPI PWSTR NTAPI RtlIpv6AddressToStringW(const IN6_ADDR *Addr, PWSTR S);
NTSYSAPI NTSTATUS NTAPI RtlIpv6AddressToStringExA(const IN6_ADDR *Address, ULONG ScopeId,
                                                  USHORT Port, PSTR AddressString,
                                                  PULONG AddressStringLength);
NTSYSAPI NTSTATUS NTAPI RtlIpv6AddressToStringExW(const IN6_ADDR *Address, ULONG ScopeId,
                                                  USHORT Port, PWSTR AddressString,
                                                  PULONG AddressStringLength);
NTSYSAPI NTSTATUS NTAPI RtlIpv6StringToAddressA(PCSTR S, PCSTR *Terminator, IN6_ADDR *Addr);
NTSYSAPI NTSTATUS NTAPI RtlIpv6StringToAddressW(PCWSTR S, PCWSTR *Terminator, IN6_ADDR *Addr);
NTSYSAPI NTSTATUS NTAPI RtlIpv6StringToAddressExA(PCSTR AddressString, IN6_ADDR *Address,
                                                  PULONG ScopeId, PUSHORT Port);
NTSYSAPI NTSTATUS NTAPI RtlIpv6StringToAddressExW(PCWSTR AddressString, IN6_ADDR *Address,
                                                  PULONG ScopeId, PUSHORT Port);

UWSK_END_DECLS

#endif /* UWSK_WDK_IP2STRING_H */

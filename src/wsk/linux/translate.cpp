// The Windows <-> Linux translation layer of the WSK provider (linux/translate.hpp): one table each
// for address families, flag bits, errno values, socket options and control messages. The Windows
// side of every row comes from win_constants.hpp (generated from include/wdk), the Linux side
// from the Linux headers, so each fact is written once.
#include "wsk/linux/translate.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

#include <uwsk/log.h>

#include "net/socket_ops.hpp"
#include "win_constants.hpp"

namespace uwsk::wsk {
namespace {

// Windows structures arrive as bytes at any alignment: every access goes through memcpy.
template <typename T> T load(const void *base, std::size_t offset = 0) {
  T value;
  std::memcpy(&value, static_cast<const std::byte *>(base) + offset, sizeof value);
  return value;
}

template <typename T> void store(void *base, std::size_t offset, T value) {
  std::memcpy(static_cast<std::byte *>(base) + offset, &value, sizeof value);
}

constexpr std::size_t align_up(std::size_t value, std::size_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

// The Windows and Linux socket addresses share member order and sizes; only the family value
// differs (docs/wsk-behaviour.md, "Addresses and constants"). The offsets below are the Windows
// ones, asserted equal to Linux's so that the per-member copies are plain.
static_assert(win::sockaddr_in_size == sizeof(sockaddr_in));
static_assert(win::sockaddr_in6_size == sizeof(sockaddr_in6));
static_assert(win::sockaddr_in_family_offset == 0 && win::sockaddr_in6_family_offset == 0);
static_assert(win::sockaddr_in_port_offset == offsetof(sockaddr_in, sin_port));
static_assert(win::sockaddr_in_addr_offset == offsetof(sockaddr_in, sin_addr));
static_assert(win::sockaddr_in6_port_offset == offsetof(sockaddr_in6, sin6_port));
static_assert(win::sockaddr_in6_flowinfo_offset == offsetof(sockaddr_in6, sin6_flowinfo));
static_assert(win::sockaddr_in6_addr_offset == offsetof(sockaddr_in6, sin6_addr));
static_assert(win::sockaddr_in6_scope_id_offset == offsetof(sockaddr_in6, sin6_scope_id));
// IP_MREQ and IPV6_MREQ have the Linux layouts, so their option values are copied as they are.
static_assert(win::ip_mreq_size == sizeof(ip_mreq));
static_assert(win::ipv6_mreq_size == sizeof(ipv6_mreq));
static_assert(win::ipv6_mreq_interface_offset == offsetof(ipv6_mreq, ipv6mr_interface));

// ---- Families --------------------------------------------------------------------------------

struct family_mapping {
  USHORT windows;
  int linux_value;
  std::size_t windows_size; // of the family's SOCKADDR
};

constexpr family_mapping families[] = {
    {win::af_inet, AF_INET, win::sockaddr_in_size},
    {win::af_inet6, AF_INET6, win::sockaddr_in6_size},
};

const family_mapping *family_by_windows(USHORT windows) {
  for (const auto &row : families) {
    if (row.windows == windows) {
      return &row;
    }
  }
  return nullptr;
}

// ---- Flag bits -------------------------------------------------------------------------------

struct flag_mapping {
  std::uint32_t windows;
  int linux_value;
};

constexpr flag_mapping addrinfo_flags[] = {
    {win::ai_passive, AI_PASSIVE},
    {win::ai_canonname, AI_CANONNAME},
    {win::ai_numerichost, AI_NUMERICHOST},
    {win::ai_numericserv, AI_NUMERICSERV},
    {win::ai_all, AI_ALL},
    {win::ai_addrconfig, AI_ADDRCONFIG},
    {win::ai_v4mapped, AI_V4MAPPED},
};

constexpr flag_mapping nameinfo_flags[] = {
    {win::ni_nofqdn, NI_NOFQDN},     {win::ni_numerichost, NI_NUMERICHOST},
    {win::ni_namereqd, NI_NAMEREQD}, {win::ni_numericserv, NI_NUMERICSERV},
    {win::ni_dgram, NI_DGRAM},
};

// MSG_BCAST and MSG_MCAST have no Linux flag; to_windows_control derives them.
constexpr flag_mapping message_flags[] = {
    {win::msg_trunc, MSG_TRUNC},
    {win::msg_ctrunc, MSG_CTRUNC},
};

template <std::size_t N>
int to_linux_flags(const flag_mapping (&table)[N], std::uint32_t windows, std::uint32_t &unmapped) {
  int linux_flags = 0;
  for (const auto &row : table) {
    if ((windows & row.windows) != 0) {
      linux_flags |= row.linux_value;
      windows &= ~row.windows;
    }
  }
  unmapped = windows;
  return linux_flags;
}

// ---- errno -----------------------------------------------------------------------------------

// Wine's mapping with uwsk's exceptions (docs/wsk-behaviour.md, "From Linux errors"). Deliberate
// choices: ENOTCONN -> STATUS_CONNECTION_DISCONNECTED: the provider checks the socket state
// itself before each call and reports STATUS_INVALID_DEVICE_STATE for a call made in the wrong
// state, so an ENOTCONN from Linux means the connection went away underneath (Wine's netio
// mapping). EADDRNOTAVAIL -> STATUS_INVALID_PARAMETER, as Wine maps it
// (STATUS_INVALID_ADDRESS_COMPONENT would be as plausible; Windows documents neither). EAGAIN
// and EINPROGRESS are absent on purpose: the provider keeps the IRP pending on them, so
// reaching this table with one is logged.
// The Winsock codes (for SO_ERROR) are WSABASEERR 10000 plus the BSD errno number; include/wdk
// has no winsock2.h, so they are stated here, in the one errno table.
struct errno_mapping {
  int error;
  NTSTATUS status;
  ULONG wsa_error;
};

constexpr errno_mapping errno_table[] = {
    {0, STATUS_SUCCESS, 0},
    {EBADF, STATUS_INVALID_HANDLE, 10009},              // WSAEBADF
    {EPERM, STATUS_ACCESS_DENIED, 10013},               // WSAEACCES
    {EACCES, STATUS_ACCESS_DENIED, 10013},              // WSAEACCES
    {EFAULT, STATUS_ACCESS_VIOLATION, 10014},           // WSAEFAULT
    {EINVAL, STATUS_INVALID_PARAMETER, 10022},          // WSAEINVAL
    {ENFILE, STATUS_TOO_MANY_OPENED_FILES, 10024},      // WSAEMFILE
    {EMFILE, STATUS_TOO_MANY_OPENED_FILES, 10024},      // WSAEMFILE
    {ENOBUFS, STATUS_INSUFFICIENT_RESOURCES, 10055},    // WSAENOBUFS
    {ENOMEM, STATUS_INSUFFICIENT_RESOURCES, 10055},     // WSAENOBUFS
    {EALREADY, STATUS_NETWORK_BUSY, 10037},             // WSAEALREADY
    {ENOTSOCK, STATUS_OBJECT_TYPE_MISMATCH, 10038},     // WSAENOTSOCK
    {EDESTADDRREQ, STATUS_INVALID_CONNECTION, 10039},   // WSAEDESTADDRREQ
    {EMSGSIZE, STATUS_BUFFER_OVERFLOW, 10040},          // WSAEMSGSIZE
    {EPROTOTYPE, STATUS_NOT_SUPPORTED, 10041},          // WSAEPROTOTYPE
    {ENOPROTOOPT, STATUS_INVALID_PARAMETER, 10042},     // WSAENOPROTOOPT
    {EPROTONOSUPPORT, STATUS_NOT_SUPPORTED, 10043},     // WSAEPROTONOSUPPORT
    {ESOCKTNOSUPPORT, STATUS_NOT_SUPPORTED, 10044},     // WSAESOCKTNOSUPPORT
    {EOPNOTSUPP, STATUS_NOT_SUPPORTED, 10045},          // WSAEOPNOTSUPP
    {EPFNOSUPPORT, STATUS_NOT_SUPPORTED, 10046},        // WSAEPFNOSUPPORT
    {EAFNOSUPPORT, STATUS_NOT_SUPPORTED, 10047},        // WSAEAFNOSUPPORT
    {EADDRINUSE, STATUS_ADDRESS_ALREADY_EXISTS, 10048}, // WSAEADDRINUSE (WSK override)
    {EADDRNOTAVAIL, STATUS_INVALID_PARAMETER, 10049},   // WSAEADDRNOTAVAIL
    {ENETDOWN, STATUS_NETWORK_BUSY, 10050},             // WSAENETDOWN
    {ENETUNREACH, STATUS_NETWORK_UNREACHABLE, 10051},   // WSAENETUNREACH
    {ECONNABORTED, STATUS_CONNECTION_ABORTED, 10053},   // WSAECONNABORTED
    {ECONNRESET, STATUS_CONNECTION_RESET, 10054},       // WSAECONNRESET
    {EPIPE, STATUS_CONNECTION_RESET, 10054},            // WSAECONNRESET
    {EISCONN, STATUS_CONNECTION_ACTIVE, 10056},         // WSAEISCONN
    {ENOTCONN, STATUS_CONNECTION_DISCONNECTED, 10057},  // WSAENOTCONN
    {ESHUTDOWN, STATUS_PIPE_DISCONNECTED, 10058},       // WSAESHUTDOWN
    {ETIMEDOUT, STATUS_IO_TIMEOUT, 10060},              // WSAETIMEDOUT
    {ECONNREFUSED, STATUS_CONNECTION_REFUSED, 10061},   // WSAECONNREFUSED
    {EHOSTUNREACH, STATUS_HOST_UNREACHABLE, 10065},     // WSAEHOSTUNREACH
};

// The Win32 code of STATUS_UNSUCCESSFUL, for an errno with no Winsock counterpart.
constexpr ULONG error_gen_failure = 31;

const errno_mapping *errno_row(int error) {
  for (const auto &row : errno_table) {
    if (row.error == error) {
      return &row;
    }
  }
  return nullptr;
}

// Each unknown errno is logged once per process, so a storm of one failure does not flood the
// log. Linux errno values are below 256; anything above shares the last slot.
std::atomic<bool> unknown_errno_logged[256];

void log_unknown_errno(int error) {
  const std::size_t slot = std::min<std::size_t>(static_cast<unsigned>(error), 255);
  if (!unknown_errno_logged[slot].exchange(true, std::memory_order_relaxed)) {
    const char *name = strerrorname_np(error);
    uwsk_log_message("wsk", "errno %d (%s) has no NTSTATUS; reporting STATUS_UNSUCCESSFUL", error,
                     name != nullptr ? name : "unknown");
  }
}

// The src/net wrappers return -errno; the tables take it either way. (INT_MIN, which has no
// positive counterpart, is no errno and stays unknown.)
int positive_errno(int error) {
  return error < 0 && error != INT_MIN ? -error : error;
}

// ---- Socket options --------------------------------------------------------------------------

// LINGER {u_short l_onoff; u_short l_linger} is declared by winsock2.h, which include/wdk does
// not have, so its layout is stated here (two 16-bit fields, where Linux has ints).
constexpr std::uint8_t windows_linger_size = 4;
constexpr std::size_t windows_linger_onoff_offset = 0;
constexpr std::size_t windows_linger_linger_offset = 2;

// The Windows BOOL, DWORD and INT option values are all four bytes.
constexpr std::uint8_t ulong_size = sizeof(ULONG);

constexpr std::uint8_t size8(std::size_t size) {
  return static_cast<std::uint8_t>(size);
}

using k = option_kind;
constexpr std::uint8_t get_only = option_get_only;
constexpr std::uint8_t set_only = option_set_only;
constexpr std::uint8_t emulated = option_emulated;
constexpr std::uint8_t before_bind = option_set_before_bind;

// The one Windows -> Linux option table (docs/wsk-behaviour.md, "Options"). Rows without a Linux
// option (-1) are implemented by the provider. Notes on the less obvious rows:
// - SO_SNDBUF/SO_RCVBUF: Linux doubles the size it is given (for its bookkeeping) and reports
//   the doubled value; get_option halves it, so a client reads back what it set, as on Windows.
// - TCP_FASTOPEN: Windows uses it on the connecting side (with WskConnectEx), which is Linux's
//   TCP_FASTOPEN_CONNECT; Linux's TCP_FASTOPEN is the listener's queue length.
// - TCP_MAXRT (seconds) and TCP_MAXRTMS (milliseconds) both become TCP_USER_TIMEOUT, the time
//   unacknowledged data may wait before the connection is dropped.
// - IP_PKTINFO enables the same control data on both systems; Windows IPV6_PKTINFO and
//   IPV6_HOPLIMIT enable control data, which Linux spells IPV6_RECVPKTINFO/IPV6_RECVHOPLIMIT.
// - IP_RECVTTL (= IP_HOPLIMIT on Windows) and IP_RECVTOS / IPV6_RECVTCLASS enable the TTL, TOS
//   and traffic-class control data.
// - IP_UNICAST_IF takes an interface index in network byte order on both systems, and
//   IPV6_UNICAST_IF one in host byte order on both.
constexpr option_mapping options[] = {
    // SOL_SOCKET.
    {win::sol_socket, win::so_reuseaddr, SOL_SOCKET, SO_REUSEADDR, k::boolean,
     emulated | before_bind, ulong_size, "SO_REUSEADDR"},
    {win::sol_socket, win::so_exclusiveaddruse, -1, 0, k::boolean, emulated | before_bind,
     ulong_size, "SO_EXCLUSIVEADDRUSE"},
    {win::sol_socket, win::so_conditional_accept, -1, 0, k::boolean, emulated | before_bind,
     ulong_size, "SO_CONDITIONAL_ACCEPT"},
    {win::sol_socket, win::so_wsk_security, -1, 0, k::bytes, emulated | before_bind,
     size8(win::security_descriptor_pointer_size), "SO_WSK_SECURITY"},
    {win::sol_socket, win::so_wsk_event_callback, -1, 0, k::bytes, emulated | set_only,
     size8(win::wsk_event_callback_control_size), "SO_WSK_EVENT_CALLBACK"},
    {win::sol_socket, win::so_keepalive, SOL_SOCKET, SO_KEEPALIVE, k::boolean, 0, ulong_size,
     "SO_KEEPALIVE"},
    {win::sol_socket, win::so_broadcast, SOL_SOCKET, SO_BROADCAST, k::boolean, 0, ulong_size,
     "SO_BROADCAST"},
    {win::sol_socket, win::so_dontroute, SOL_SOCKET, SO_DONTROUTE, k::boolean, 0, ulong_size,
     "SO_DONTROUTE"},
    {win::sol_socket, win::so_oobinline, SOL_SOCKET, SO_OOBINLINE, k::boolean, 0, ulong_size,
     "SO_OOBINLINE"},
    {win::sol_socket, win::so_acceptconn, SOL_SOCKET, SO_ACCEPTCONN, k::boolean, get_only,
     ulong_size, "SO_ACCEPTCONN"},
    {win::sol_socket, win::so_linger, SOL_SOCKET, SO_LINGER, k::linger, 0, windows_linger_size,
     "SO_LINGER"},
    {win::sol_socket, win::so_dontlinger, SOL_SOCKET, SO_LINGER, k::dont_linger, 0, ulong_size,
     "SO_DONTLINGER"},
    {win::sol_socket, win::so_sndbuf, SOL_SOCKET, SO_SNDBUF, k::buffer_size, 0, ulong_size,
     "SO_SNDBUF"},
    {win::sol_socket, win::so_rcvbuf, SOL_SOCKET, SO_RCVBUF, k::buffer_size, 0, ulong_size,
     "SO_RCVBUF"},
    {win::sol_socket, win::so_rcvlowat, SOL_SOCKET, SO_RCVLOWAT, k::integer, 0, ulong_size,
     "SO_RCVLOWAT"},
    {win::sol_socket, win::so_error, SOL_SOCKET, SO_ERROR, k::socket_error, get_only, ulong_size,
     "SO_ERROR"},
    {win::sol_socket, win::so_type, SOL_SOCKET, SO_TYPE, k::socket_type, get_only, ulong_size,
     "SO_TYPE"},
    // IPPROTO_TCP.
    {win::ipproto_tcp, win::tcp_nodelay, IPPROTO_TCP, TCP_NODELAY, k::boolean, 0, ulong_size,
     "TCP_NODELAY"},
    {win::ipproto_tcp, win::tcp_keepalive, IPPROTO_TCP, TCP_KEEPIDLE, k::integer, 0, ulong_size,
     "TCP_KEEPALIVE"},
    {win::ipproto_tcp, win::tcp_keepcnt, IPPROTO_TCP, TCP_KEEPCNT, k::integer, 0, ulong_size,
     "TCP_KEEPCNT"},
    {win::ipproto_tcp, win::tcp_keepintvl, IPPROTO_TCP, TCP_KEEPINTVL, k::integer, 0, ulong_size,
     "TCP_KEEPINTVL"},
    {win::ipproto_tcp, win::tcp_maxseg, IPPROTO_TCP, TCP_MAXSEG, k::integer, 0, ulong_size,
     "TCP_MAXSEG"},
    {win::ipproto_tcp, win::tcp_maxrt, IPPROTO_TCP, TCP_USER_TIMEOUT, k::seconds, 0, ulong_size,
     "TCP_MAXRT"},
    {win::ipproto_tcp, win::tcp_maxrtms, IPPROTO_TCP, TCP_USER_TIMEOUT, k::integer, 0, ulong_size,
     "TCP_MAXRTMS"},
    {win::ipproto_tcp, win::tcp_fastopen, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, k::boolean, 0,
     ulong_size, "TCP_FASTOPEN"},
    // IPPROTO_IP.
    {win::ipproto_ip, win::ip_hdrincl, IPPROTO_IP, IP_HDRINCL, k::boolean, 0, ulong_size,
     "IP_HDRINCL"},
    {win::ipproto_ip, win::ip_tos, IPPROTO_IP, IP_TOS, k::integer, 0, ulong_size, "IP_TOS"},
    {win::ipproto_ip, win::ip_ttl, IPPROTO_IP, IP_TTL, k::integer, 0, ulong_size, "IP_TTL"},
    {win::ipproto_ip, win::ip_multicast_if, IPPROTO_IP, IP_MULTICAST_IF, k::multicast_interface, 0,
     size8(win::in_addr_size), "IP_MULTICAST_IF"},
    {win::ipproto_ip, win::ip_multicast_ttl, IPPROTO_IP, IP_MULTICAST_TTL, k::integer, 0,
     ulong_size, "IP_MULTICAST_TTL"},
    {win::ipproto_ip, win::ip_multicast_loop, IPPROTO_IP, IP_MULTICAST_LOOP, k::boolean, 0,
     ulong_size, "IP_MULTICAST_LOOP"},
    {win::ipproto_ip, win::ip_add_membership, IPPROTO_IP, IP_ADD_MEMBERSHIP, k::bytes, set_only,
     size8(win::ip_mreq_size), "IP_ADD_MEMBERSHIP"},
    {win::ipproto_ip, win::ip_drop_membership, IPPROTO_IP, IP_DROP_MEMBERSHIP, k::bytes, set_only,
     size8(win::ip_mreq_size), "IP_DROP_MEMBERSHIP"},
    {win::ipproto_ip, win::ip_dontfragment, IPPROTO_IP, IP_MTU_DISCOVER, k::dont_fragment, 0,
     ulong_size, "IP_DONTFRAGMENT"},
    {win::ipproto_ip, win::ip_pktinfo, IPPROTO_IP, IP_PKTINFO, k::boolean, 0, ulong_size,
     "IP_PKTINFO"},
    {win::ipproto_ip, win::ip_recvttl, IPPROTO_IP, IP_RECVTTL, k::boolean, 0, ulong_size,
     "IP_RECVTTL"},
    {win::ipproto_ip, win::ip_recvtos, IPPROTO_IP, IP_RECVTOS, k::boolean, 0, ulong_size,
     "IP_RECVTOS"},
    {win::ipproto_ip, win::ip_unicast_if, IPPROTO_IP, IP_UNICAST_IF, k::integer, 0, ulong_size,
     "IP_UNICAST_IF"},
    // IPPROTO_IPV6.
    {win::ipproto_ipv6, win::ipv6_unicast_hops, IPPROTO_IPV6, IPV6_UNICAST_HOPS, k::integer, 0,
     ulong_size, "IPV6_UNICAST_HOPS"},
    {win::ipproto_ipv6, win::ipv6_multicast_if, IPPROTO_IPV6, IPV6_MULTICAST_IF, k::integer, 0,
     ulong_size, "IPV6_MULTICAST_IF"},
    {win::ipproto_ipv6, win::ipv6_multicast_hops, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, k::integer, 0,
     ulong_size, "IPV6_MULTICAST_HOPS"},
    {win::ipproto_ipv6, win::ipv6_multicast_loop, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, k::boolean, 0,
     ulong_size, "IPV6_MULTICAST_LOOP"},
    {win::ipproto_ipv6, win::ipv6_join_group, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, k::bytes, set_only,
     size8(win::ipv6_mreq_size), "IPV6_JOIN_GROUP"},
    {win::ipproto_ipv6, win::ipv6_leave_group, IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP, k::bytes,
     set_only, size8(win::ipv6_mreq_size), "IPV6_LEAVE_GROUP"},
    {win::ipproto_ipv6, win::ipv6_dontfrag, IPPROTO_IPV6, IPV6_DONTFRAG, k::boolean, 0, ulong_size,
     "IPV6_DONTFRAG"},
    {win::ipproto_ipv6, win::ipv6_pktinfo, IPPROTO_IPV6, IPV6_RECVPKTINFO, k::boolean, 0,
     ulong_size, "IPV6_PKTINFO"},
    {win::ipproto_ipv6, win::ipv6_hoplimit, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, k::boolean, 0,
     ulong_size, "IPV6_HOPLIMIT"},
    {win::ipproto_ipv6, win::ipv6_v6only, IPPROTO_IPV6, IPV6_V6ONLY, k::boolean, before_bind,
     ulong_size, "IPV6_V6ONLY"},
    {win::ipproto_ipv6, win::ipv6_unicast_if, IPPROTO_IPV6, IPV6_UNICAST_IF, k::integer, 0,
     ulong_size, "IPV6_UNICAST_IF"},
    {win::ipproto_ipv6, win::ipv6_tclass, IPPROTO_IPV6, IPV6_TCLASS, k::integer, 0, ulong_size,
     "IPV6_TCLASS"},
    {win::ipproto_ipv6, win::ipv6_recvtclass, IPPROTO_IPV6, IPV6_RECVTCLASS, k::boolean, 0,
     ulong_size, "IPV6_RECVTCLASS"},
};

NTSTATUS status_of(int result) {
  return result < 0 ? status_from_errno(result) : STATUS_SUCCESS;
}

// ---- Control messages ------------------------------------------------------------------------

enum class control_payload : std::uint8_t {
  in_pktinfo,  // Windows IN_PKTINFO <-> Linux struct in_pktinfo
  in6_pktinfo, // Windows IN6_PKTINFO <-> Linux struct in6_pktinfo
  integer,     // Windows INT <-> Linux int (a single byte for a received IP_TOS)
};

struct control_mapping {
  std::uint32_t windows_level;
  std::uint32_t windows_type;
  int linux_level;
  int linux_type;
  control_payload payload;
};

// The one control-message table (docs/wsk-behaviour.md, "Control messages"), used in both
// directions. A received TTL is reported as IP_TTL, as Wine does.
constexpr control_mapping controls[] = {
    {win::ipproto_ip, win::ip_pktinfo, IPPROTO_IP, IP_PKTINFO, control_payload::in_pktinfo},
    {win::ipproto_ipv6, win::ipv6_pktinfo, IPPROTO_IPV6, IPV6_PKTINFO,
     control_payload::in6_pktinfo},
    {win::ipproto_ip, win::ip_ttl, IPPROTO_IP, IP_TTL, control_payload::integer},
    {win::ipproto_ip, win::ip_tos, IPPROTO_IP, IP_TOS, control_payload::integer},
    {win::ipproto_ipv6, win::ipv6_hoplimit, IPPROTO_IPV6, IPV6_HOPLIMIT, control_payload::integer},
    {win::ipproto_ipv6, win::ipv6_tclass, IPPROTO_IPV6, IPV6_TCLASS, control_payload::integer},
};

// The largest Windows payload (IN6_PKTINFO).
constexpr std::size_t max_windows_payload =
    std::max({win::in_pktinfo_size, win::in6_pktinfo_size, sizeof(INT)});

std::size_t windows_payload_size(control_payload payload) {
  switch (payload) {
  case control_payload::in_pktinfo:
    return win::in_pktinfo_size;
  case control_payload::in6_pktinfo:
    return win::in6_pktinfo_size;
  case control_payload::integer:
    break;
  }
  return sizeof(INT);
}

// MSG_MCAST for a multicast destination. MSG_BCAST for the limited broadcast address, and for a
// destination that differs from the local address Linux reports in ipi_spec_dst: Linux sets
// ipi_spec_dst to the destination itself for unicast delivered locally, and to the receiving
// interface's address for broadcast and multicast, so a difference means a (subnet)
// broadcast without having to look up the interface's broadcast address.
ULONG ipv4_destination_flags(in_addr destination, in_addr local) {
  const std::uint32_t host = ntohl(destination.s_addr);
  if (IN_MULTICAST(host)) {
    return win::msg_mcast;
  }
  if (host == INADDR_BROADCAST || destination.s_addr != local.s_addr) {
    return win::msg_bcast;
  }
  return 0;
}

// IPv6 has no broadcast; a v4-mapped destination (a dual-stack socket receiving IPv4) carries no
// local address, so only the limited broadcast address is recognised there.
ULONG ipv6_destination_flags(const in6_addr &destination) {
  if (IN6_IS_ADDR_MULTICAST(&destination)) {
    return win::msg_mcast;
  }
  if (IN6_IS_ADDR_V4MAPPED(&destination)) {
    in_addr v4;
    std::memcpy(&v4, &destination.s6_addr[12], sizeof v4);
    return ipv4_destination_flags(v4, v4);
  }
  return 0;
}

} // namespace

// ---- Families, types, flags ------------------------------------------------------------------

int linux_family(USHORT windows_family) {
  const family_mapping *row = family_by_windows(windows_family);
  return row != nullptr ? row->linux_value : -1;
}

USHORT windows_family(int linux_family) {
  for (const auto &row : families) {
    if (row.linux_value == linux_family) {
      return row.windows;
    }
  }
  return win::af_unspec;
}

std::size_t windows_sockaddr_size(USHORT windows_family) {
  const family_mapping *row = family_by_windows(windows_family);
  return row != nullptr ? row->windows_size : 0;
}

// Stream, datagram and raw sockets have the same type numbers on both systems; the asserts keep
// that a checked fact rather than an assumption.
static_assert(win::sock_stream == SOCK_STREAM && win::sock_dgram == SOCK_DGRAM &&
              win::sock_raw == SOCK_RAW && win::sock_rdm == SOCK_RDM &&
              win::sock_seqpacket == SOCK_SEQPACKET);

int linux_socket_type(USHORT windows_type) {
  switch (windows_type) {
  case win::sock_stream:
  case win::sock_dgram:
  case win::sock_raw:
    return windows_type;
  default:
    return -1;
  }
}

USHORT windows_socket_type(int linux_type) {
  switch (linux_type) {
  case SOCK_STREAM:
  case SOCK_DGRAM:
  case SOCK_RAW:
  case SOCK_RDM:
  case SOCK_SEQPACKET:
    return static_cast<USHORT>(linux_type);
  default:
    return 0;
  }
}

int linux_addrinfo_flags(int windows_flags, int &unmapped) {
  std::uint32_t rest = 0;
  const int flags = to_linux_flags(addrinfo_flags, static_cast<std::uint32_t>(windows_flags), rest);
  unmapped = static_cast<int>(rest);
  return flags;
}

int linux_nameinfo_flags(ULONG windows_flags, ULONG &unmapped) {
  std::uint32_t rest = 0;
  const int flags = to_linux_flags(nameinfo_flags, windows_flags, rest);
  unmapped = rest;
  return flags;
}

// ---- Addresses -------------------------------------------------------------------------------

bool to_linux_address(const void *windows_address, USHORT expected_family, sockaddr_storage &out,
                      socklen_t &length) {
  if (windows_address == nullptr) {
    return false;
  }
  const auto family = load<USHORT>(windows_address, win::sockaddr_in_family_offset);
  if (expected_family != 0 && family != expected_family) {
    return false;
  }
  if (family == win::af_inet) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = load<in_port_t>(windows_address, win::sockaddr_in_port_offset);
    in.sin_addr = load<in_addr>(windows_address, win::sockaddr_in_addr_offset);
    std::memcpy(&out, &in, sizeof in);
    length = sizeof in;
    return true;
  }
  if (family == win::af_inet6) {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = load<in_port_t>(windows_address, win::sockaddr_in6_port_offset);
    in6.sin6_flowinfo = load<std::uint32_t>(windows_address, win::sockaddr_in6_flowinfo_offset);
    in6.sin6_addr = load<in6_addr>(windows_address, win::sockaddr_in6_addr_offset);
    // A Windows scope identifier may carry the scope level in its top bits (SCOPE_ID); Linux
    // wants the zone, the interface index, alone.
    in6.sin6_scope_id = load<std::uint32_t>(windows_address, win::sockaddr_in6_scope_id_offset) &
                        win::scope_id_zone_mask;
    std::memcpy(&out, &in6, sizeof in6);
    length = sizeof in6;
    return true;
  }
  return false;
}

std::size_t to_windows_address(const sockaddr *linux_address, void *windows_address) {
  if (linux_address == nullptr || windows_address == nullptr) {
    return 0;
  }
  if (linux_address->sa_family == AF_INET) {
    sockaddr_in in;
    std::memcpy(&in, linux_address, sizeof in);
    std::memset(windows_address, 0, win::sockaddr_in_size);
    store(windows_address, win::sockaddr_in_family_offset, win::af_inet);
    store(windows_address, win::sockaddr_in_port_offset, in.sin_port);
    store(windows_address, win::sockaddr_in_addr_offset, in.sin_addr);
    return win::sockaddr_in_size;
  }
  if (linux_address->sa_family == AF_INET6) {
    sockaddr_in6 in6;
    std::memcpy(&in6, linux_address, sizeof in6);
    std::memset(windows_address, 0, win::sockaddr_in6_size);
    store(windows_address, win::sockaddr_in6_family_offset, win::af_inet6);
    store(windows_address, win::sockaddr_in6_port_offset, in6.sin6_port);
    store(windows_address, win::sockaddr_in6_flowinfo_offset, in6.sin6_flowinfo);
    store(windows_address, win::sockaddr_in6_addr_offset, in6.sin6_addr);
    store(windows_address, win::sockaddr_in6_scope_id_offset, in6.sin6_scope_id);
    return win::sockaddr_in6_size;
  }
  return 0;
}

// ---- Status ----------------------------------------------------------------------------------

NTSTATUS status_from_errno(int error) {
  error = positive_errno(error);
  if (const errno_mapping *row = errno_row(error)) {
    return row->status;
  }
  log_unknown_errno(error);
  return STATUS_UNSUCCESSFUL;
}

ULONG wsa_error_from_errno(int error) {
  const errno_mapping *row = errno_row(positive_errno(error));
  return row != nullptr ? row->wsa_error : error_gen_failure;
}

// ---- Socket options --------------------------------------------------------------------------

const option_mapping *find_option(ULONG windows_level, ULONG windows_name) {
  for (const auto &row : options) {
    if (row.windows_level == windows_level && row.windows_name == windows_name) {
      return &row;
    }
  }
  return nullptr;
}

NTSTATUS set_option(int fd, const option_mapping &option, const void *windows_value,
                    std::size_t size) {
  if (windows_value == nullptr || size < option.windows_size ||
      (option.flags & option_get_only) != 0 || option.linux_level < 0) {
    return STATUS_INVALID_PARAMETER;
  }
  const auto set = [&](const void *value, std::size_t length) {
    return status_of(net::sock::set_option(fd, option.linux_level, option.linux_name, value,
                                           static_cast<socklen_t>(length)));
  };
  // Every value but the copied structures starts with a 32-bit word.
  const auto word = option.windows_size >= sizeof(std::uint32_t)
                        ? load<std::uint32_t>(windows_value)
                        : std::uint32_t{0};
  switch (option.kind) {
  case option_kind::boolean: {
    const int value = word != 0 ? 1 : 0;
    return set(&value, sizeof value);
  }
  case option_kind::integer:
  case option_kind::buffer_size: {
    const int value = static_cast<int>(word);
    return set(&value, sizeof value);
  }
  case option_kind::seconds: {
    // Zero or negative means "the default" on both sides; large values saturate.
    const auto seconds = static_cast<std::int32_t>(word);
    const int milliseconds = seconds <= 0 ? 0 : seconds > INT_MAX / 1000 ? INT_MAX : seconds * 1000;
    return set(&milliseconds, sizeof milliseconds);
  }
  case option_kind::linger: {
    linger value{};
    value.l_onoff = load<std::uint16_t>(windows_value, windows_linger_onoff_offset) != 0 ? 1 : 0;
    value.l_linger = load<std::uint16_t>(windows_value, windows_linger_linger_offset);
    return set(&value, sizeof value);
  }
  case option_kind::dont_linger: {
    // Only l_onoff changes; the timeout set earlier with SO_LINGER is kept.
    linger value{};
    socklen_t length = sizeof value;
    const int result = net::sock::get_option(fd, SOL_SOCKET, SO_LINGER, &value, &length);
    if (result < 0) {
      return status_from_errno(result);
    }
    value.l_onoff = word != 0 ? 0 : 1;
    return set(&value, sizeof value);
  }
  case option_kind::dont_fragment: {
    const int value = word != 0 ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
    return set(&value, sizeof value);
  }
  case option_kind::multicast_interface: {
    // Windows reads an address in 0.0.0.0/8 other than 0.0.0.0 as an interface index in network
    // byte order; Linux takes an index through struct ip_mreqn.
    const auto address = load<in_addr>(windows_value);
    const std::uint32_t host = ntohl(address.s_addr);
    if (host != 0 && (host >> 24) == 0) {
      ip_mreqn request{};
      request.imr_ifindex = static_cast<int>(host);
      return set(&request, sizeof request);
    }
    return set(&address, sizeof address);
  }
  case option_kind::bytes:
    return set(windows_value, option.windows_size);
  case option_kind::socket_type:
  case option_kind::socket_error:
    break;
  }
  return STATUS_INVALID_PARAMETER;
}

NTSTATUS get_option(int fd, const option_mapping &option, void *windows_value, std::size_t size,
                    std::size_t *written) {
  if (written != nullptr) {
    *written = 0;
  }
  if (windows_value == nullptr || (option.flags & option_set_only) != 0 || option.linux_level < 0) {
    return STATUS_INVALID_PARAMETER;
  }
  if (size < option.windows_size) {
    return STATUS_BUFFER_TOO_SMALL;
  }
  union {
    int integer;
    linger linger_value;
    in_addr address;
    std::byte bytes[32];
  } value{};
  socklen_t length = sizeof value;
  const int result =
      net::sock::get_option(fd, option.linux_level, option.linux_name, &value, &length);
  if (result < 0) {
    return status_from_errno(result);
  }

  std::uint32_t word = 0;
  switch (option.kind) {
  case option_kind::boolean:
    word = value.integer != 0 ? 1 : 0;
    break;
  case option_kind::integer:
    word = static_cast<std::uint32_t>(value.integer);
    break;
  case option_kind::seconds:
    word = value.integer <= 0 ? 0 : static_cast<std::uint32_t>((value.integer + 999) / 1000);
    break;
  case option_kind::buffer_size:
    word = static_cast<std::uint32_t>(value.integer / 2);
    break;
  case option_kind::linger:
    store(windows_value, windows_linger_onoff_offset,
          static_cast<std::uint16_t>(value.linger_value.l_onoff != 0 ? 1 : 0));
    store(windows_value, windows_linger_linger_offset,
          static_cast<std::uint16_t>(std::clamp(value.linger_value.l_linger, 0, 0xffff)));
    if (written != nullptr) {
      *written = option.windows_size;
    }
    return STATUS_SUCCESS;
  case option_kind::dont_linger:
    word = value.linger_value.l_onoff == 0 ? 1 : 0;
    break;
  case option_kind::dont_fragment:
    word = value.integer == IP_PMTUDISC_DO || value.integer == IP_PMTUDISC_PROBE ? 1 : 0;
    break;
  case option_kind::socket_type:
    word = windows_socket_type(value.integer);
    break;
  case option_kind::socket_error:
    word = wsa_error_from_errno(value.integer);
    break;
  case option_kind::multicast_interface:
  case option_kind::bytes:
    std::memset(windows_value, 0, option.windows_size);
    std::memcpy(windows_value, value.bytes, std::min<std::size_t>(length, option.windows_size));
    if (written != nullptr) {
      *written = option.windows_size;
    }
    return STATUS_SUCCESS;
  }
  store(windows_value, 0, word);
  if (written != nullptr) {
    *written = option.windows_size;
  }
  return STATUS_SUCCESS;
}

NTSTATUS read_bool_option(const option_mapping &option, const void *windows_value, std::size_t size,
                          bool &value) {
  if (windows_value == nullptr || size < option.windows_size ||
      option.windows_size < sizeof(ULONG) || (option.flags & option_get_only) != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  value = load<ULONG>(windows_value) != 0;
  return STATUS_SUCCESS;
}

NTSTATUS write_bool_option(const option_mapping &option, bool value, void *windows_value,
                           std::size_t size, std::size_t *written) {
  if (written != nullptr) {
    *written = 0;
  }
  if (windows_value == nullptr || (option.flags & option_set_only) != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  if (size < sizeof(ULONG)) {
    return STATUS_BUFFER_TOO_SMALL;
  }
  store(windows_value, 0, static_cast<ULONG>(value ? 1 : 0));
  if (written != nullptr) {
    *written = sizeof(ULONG);
  }
  return STATUS_SUCCESS;
}

// ---- Message flags and control messages ------------------------------------------------------

ULONG windows_message_flags(int linux_msg_flags) {
  ULONG flags = 0;
  for (const auto &row : message_flags) {
    if ((linux_msg_flags & row.linux_value) != 0) {
      flags |= row.windows;
    }
  }
  return flags;
}

std::size_t windows_cmsg_len(std::size_t payload) {
  return win::cmsg_data_offset + payload;
}

std::size_t windows_cmsg_space(std::size_t payload) {
  return align_up(win::cmsghdr_size + align_up(payload, win::cmsghdr_align), win::cmsgdata_align);
}

received_control to_windows_control(const msghdr &message, void *windows_buffer,
                                    std::size_t capacity, bool deliver_packet_info) {
  received_control result;
  result.flags = windows_message_flags(message.msg_flags);
  if (windows_buffer == nullptr) {
    capacity = 0;
  }
  auto *out = static_cast<std::byte *>(windows_buffer);
  bool full = false;
  // CMSG_NXTHDR takes a mutable msghdr although it only reads it.
  auto *walk = const_cast<msghdr *>(&message);
  for (cmsghdr *linux_message = CMSG_FIRSTHDR(walk); linux_message != nullptr;
       linux_message = CMSG_NXTHDR(walk, linux_message)) {
    const control_mapping *row = nullptr;
    for (const auto &candidate : controls) {
      if (candidate.linux_level == linux_message->cmsg_level &&
          candidate.linux_type == linux_message->cmsg_type) {
        row = &candidate;
        break;
      }
    }
    if (row == nullptr || linux_message->cmsg_len < CMSG_LEN(0)) {
      continue;
    }
    const unsigned char *data = CMSG_DATA(linux_message);
    const std::size_t data_length = linux_message->cmsg_len - CMSG_LEN(0);

    std::array<std::byte, max_windows_payload> payload{};
    const std::size_t payload_size = windows_payload_size(row->payload);
    bool packet_info = false;
    switch (row->payload) {
    case control_payload::in_pktinfo: {
      if (data_length < sizeof(in_pktinfo)) {
        continue;
      }
      const auto info = load<in_pktinfo>(data);
      result.flags |= ipv4_destination_flags(info.ipi_addr, info.ipi_spec_dst);
      store(payload.data(), win::in_pktinfo_addr_offset, info.ipi_addr);
      store(payload.data(), win::in_pktinfo_ifindex_offset,
            static_cast<std::uint32_t>(info.ipi_ifindex));
      packet_info = true;
      break;
    }
    case control_payload::in6_pktinfo: {
      if (data_length < sizeof(in6_pktinfo)) {
        continue;
      }
      const auto info = load<in6_pktinfo>(data);
      result.flags |= ipv6_destination_flags(info.ipi6_addr);
      store(payload.data(), win::in6_pktinfo_addr_offset, info.ipi6_addr);
      store(payload.data(), win::in6_pktinfo_ifindex_offset,
            static_cast<std::uint32_t>(info.ipi6_ifindex));
      packet_info = true;
      break;
    }
    case control_payload::integer: {
      INT value;
      if (data_length >= sizeof(int)) {
        value = load<int>(data);
      } else if (data_length >= 1) {
        value = *data;
      } else {
        continue;
      }
      store(payload.data(), 0, value);
      break;
    }
    }
    if ((packet_info && !deliver_packet_info) || full) {
      continue;
    }

    // Like Linux's put_cmsg: the object needs its unpadded length; the padding after it is
    // written only as far as the buffer goes.
    const std::size_t length = windows_cmsg_len(payload_size);
    if (capacity - result.length < length) {
      full = true;
      result.flags |= win::msg_ctrunc;
      continue;
    }
    std::byte *header = out + result.length;
    const std::size_t advance =
        std::min(windows_cmsg_space(payload_size), capacity - result.length);
    std::memset(header, 0, advance);
    store(header, win::cmsghdr_len_offset, static_cast<SIZE_T>(length));
    store(header, win::cmsghdr_level_offset, static_cast<INT>(row->windows_level));
    store(header, win::cmsghdr_type_offset, static_cast<INT>(row->windows_type));
    std::memcpy(header + win::cmsg_data_offset, payload.data(), payload_size);
    result.length += advance;
  }
  return result;
}

// Deliberate family (duplicates): here and in to_windows_control, the IPv4 and IPv6 forms of
// each control message (IP_PKTINFO and IPV6_PKTINFO, TTL and hop limit), laid out alike field by
// field; each side is its family's own structure.
NTSTATUS to_linux_control(const void *windows_control, std::size_t windows_length,
                          void *linux_buffer, std::size_t linux_capacity,
                          std::size_t &linux_length) {
  linux_length = 0;
  if (windows_length == 0) {
    return STATUS_SUCCESS;
  }
  if (windows_control == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  if (linux_buffer == nullptr) {
    linux_capacity = 0;
  }
  const auto *in = static_cast<const std::byte *>(windows_control);
  auto *out = static_cast<std::byte *>(linux_buffer);
  std::size_t offset = 0;
  std::size_t used = 0;
  // The walk of WSA_CMSG_NXTHDR: an object starts wherever a whole header still fits.
  while (windows_length - offset >= win::cmsghdr_size) {
    const std::byte *header = in + offset;
    const auto length = load<SIZE_T>(header, win::cmsghdr_len_offset);
    const auto level = static_cast<std::uint32_t>(load<INT>(header, win::cmsghdr_level_offset));
    const auto type = static_cast<std::uint32_t>(load<INT>(header, win::cmsghdr_type_offset));
    if (length < win::cmsg_data_offset || length > windows_length - offset) {
      return STATUS_INVALID_PARAMETER;
    }
    const control_mapping *row = nullptr;
    for (const auto &candidate : controls) {
      if (candidate.windows_level == level && candidate.windows_type == type) {
        row = &candidate;
        break;
      }
    }
    if (row == nullptr || length - win::cmsg_data_offset != windows_payload_size(row->payload)) {
      return STATUS_INVALID_PARAMETER;
    }
    const std::byte *data = header + win::cmsg_data_offset;

    union {
      in_pktinfo v4;
      in6_pktinfo v6;
      int integer;
    } payload{};
    std::size_t payload_size = 0;
    switch (row->payload) {
    case control_payload::in_pktinfo:
      // On send, Linux takes the source address in ipi_spec_dst.
      payload.v4.ipi_spec_dst = load<in_addr>(data, win::in_pktinfo_addr_offset);
      payload.v4.ipi_ifindex =
          static_cast<int>(load<std::uint32_t>(data, win::in_pktinfo_ifindex_offset));
      payload_size = sizeof payload.v4;
      break;
    case control_payload::in6_pktinfo:
      payload.v6.ipi6_addr = load<in6_addr>(data, win::in6_pktinfo_addr_offset);
      payload.v6.ipi6_ifindex =
          static_cast<int>(load<std::uint32_t>(data, win::in6_pktinfo_ifindex_offset));
      payload_size = sizeof payload.v6;
      break;
    case control_payload::integer:
      payload.integer = load<INT>(data);
      payload_size = sizeof payload.integer;
      break;
    }

    const std::size_t space = CMSG_SPACE(payload_size);
    if (linux_capacity - used < space) {
      return STATUS_BUFFER_TOO_SMALL;
    }
    cmsghdr linux_header{};
    linux_header.cmsg_len = CMSG_LEN(payload_size);
    linux_header.cmsg_level = row->linux_level;
    linux_header.cmsg_type = row->linux_type;
    std::memset(out + used, 0, space);
    std::memcpy(out + used, &linux_header, sizeof linux_header);
    std::memcpy(out + used + CMSG_LEN(0), &payload, payload_size);
    used += space;

    const std::size_t step = align_up(length, win::cmsghdr_align);
    if (step >= windows_length - offset) {
      break;
    }
    offset += step;
  }
  linux_length = used;
  return STATUS_SUCCESS;
}

// Each Windows object takes at least its header and payload (20 bytes or more) and becomes at
// most 1.4 times as many Linux bytes (IN_PKTINFO: 24 -> 32), so twice is always enough.
std::size_t linux_control_capacity(std::size_t windows_length) {
  return 2 * windows_length;
}

} // namespace uwsk::wsk

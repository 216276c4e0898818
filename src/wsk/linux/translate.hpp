// The one Windows <-> Linux translation layer of the WSK provider: address families, socket
// types, sockaddr layouts, socket options, message flags, control messages, and the one
// errno -> NTSTATUS table.
//
// This header is for the provider's Linux-side code: it uses Linux types (sockaddr_storage) and
// takes Windows structures as untyped bytes, because the Windows Winsock headers and the Linux
// socket headers cannot be included in one translation unit (both define AF_INET6,
// struct sockaddr, ...). The Windows values come from win_constants.hpp, which the build
// generates from include/wdk, so ws2def.h stays the one place that states them.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include <wdm.h>

namespace uwsk::wsk {

// ---- Families, types, protocols --------------------------------------------------------------

// The Linux family for a Windows ADDRESS_FAMILY (AF_INET 2 -> 2, AF_INET6 23 -> 10), or -1 for
// a family the provider does not support.
int linux_family(USHORT windows_family);

// The Windows family for a Linux one, or 0 (AF_UNSPEC) for an unsupported one.
USHORT windows_family(int linux_family);

// The size of the Windows sockaddr for a family: 16 for AF_INET, 28 for AF_INET6, 0 otherwise.
std::size_t windows_sockaddr_size(USHORT windows_family);

// The Linux socket type for a Windows one (SOCK_STREAM, SOCK_DGRAM and SOCK_RAW have the same
// numbers on both), or -1 for any other type. Protocols are IANA numbers on both systems and
// need no translation.
int linux_socket_type(USHORT windows_type);

// The Windows socket type for a Linux one (as SO_TYPE reports it), or 0 for an unknown type.
USHORT windows_socket_type(int linux_type);

// Windows AI_* flags (ADDRINFOEXW.ai_flags of the hints) as Linux getaddrinfo flags. The Windows
// bits without a Linux counterpart (AI_FQDN, AI_SECURE, ... and unknown bits) are returned in
// `unmapped`; the caller decides whether they matter.
int linux_addrinfo_flags(int windows_flags, int &unmapped);

// Windows NI_* flags (WskGetNameInfo) as Linux getnameinfo flags; same convention.
int linux_nameinfo_flags(ULONG windows_flags, ULONG &unmapped);

// ---- Addresses -------------------------------------------------------------------------------

// Converts a Windows SOCKADDR (read as its family's size) into a Linux sockaddr. Returns false
// when `windows_address` is NULL, its family is not `expected_family` (pass 0 to accept either
// supported family), or the family is unsupported. Only the first `length` bytes of `out` are
// written (a datagram send converts its address per call, so the rest is left alone).
bool to_linux_address(const void *windows_address, USHORT expected_family, sockaddr_storage &out,
                      socklen_t &length);

// Writes a Linux sockaddr (AF_INET or AF_INET6) in Windows layout into `windows_address`, which
// has room for windows_sockaddr_size() of the converted family. Returns the bytes written, or 0
// for an unsupported family.
std::size_t to_windows_address(const sockaddr *linux_address, void *windows_address);

// ---- Status ----------------------------------------------------------------------------------

// The one errno -> NTSTATUS table (docs/wsk-behaviour.md, "From Linux errors"). EAGAIN and
// EINPROGRESS never reach it.
NTSTATUS status_from_errno(int error);

// The Winsock error code (WSAECONNREFUSED 10061, ...) for an errno, as Windows reports a
// socket's pending error through SO_ERROR; 0 for 0. It comes from the same table as
// status_from_errno. An errno without a Winsock counterpart gives ERROR_GEN_FAILURE (31), the
// Win32 code of STATUS_UNSUCCESSFUL.
ULONG wsa_error_from_errno(int error);

// ---- Socket options (docs/wsk-behaviour.md, "Options") --------------------------------------

// How an option's value is converted between its Windows and its Linux form.
enum class option_kind : std::uint8_t {
  boolean,             // ULONG, nonzero is TRUE <-> int; reported as 0 or 1
  integer,             // ULONG or INT <-> int, unchanged
  seconds,             // Windows seconds <-> Linux milliseconds (TCP_MAXRT)
  buffer_size,         // SO_SNDBUF/SO_RCVBUF: Linux doubles what is set; get reports half
  linger,              // LINGER {u_short l_onoff, u_short l_linger} <-> struct linger {int, int}
  dont_linger,         // SO_DONTLINGER: a BOOL that is the inverse of l_onoff
  dont_fragment,       // IP_DONTFRAGMENT: a BOOL <-> IP_MTU_DISCOVER (DO or DONT)
  socket_type,         // SO_TYPE: the Linux type as the Windows SOCK_* value
  socket_error,        // SO_ERROR: the pending errno as a Winsock error code
  multicast_interface, // IP_MULTICAST_IF: an IN_ADDR, or an interface index written as 0.0.0.x
  bytes,               // a structure with the same layout on both systems, copied
};

// option_mapping::flags.
inline constexpr std::uint8_t option_get_only = 0x1;
inline constexpr std::uint8_t option_set_only = 0x2;
// The provider implements the Windows semantics itself (address sharing, conditional accept,
// the WSK options). set_option/get_option do not handle such an option when it has no Linux
// counterpart (linux_level < 0); SO_REUSEADDR has one, which the provider may use when its own
// sharing rules allow the bind.
inline constexpr std::uint8_t option_emulated = 0x4;
// Windows accepts a set only before the socket is bound (rule V64).
inline constexpr std::uint8_t option_set_before_bind = 0x8;

// One row of the Windows -> Linux option table.
struct option_mapping {
  ULONG windows_level;       // SOL_SOCKET 0xFFFF or a protocol number
  ULONG windows_name;        // Windows option number
  int linux_level;           // -1 when Linux has no counterpart
  int linux_name;            // Linux option number (meaningful when linux_level >= 0)
  option_kind kind;          // how the value is converted
  std::uint8_t flags;        // option_* flags above
  std::uint8_t windows_size; // bytes of the Windows value (input minimum, output needed)
  const char *name;          // the Windows name, for logs
};

// The row for a Windows (level, option), or nullptr for an option the provider does not know
// (STATUS_INVALID_PARAMETER; Windows names no status).
const option_mapping *find_option(ULONG windows_level, ULONG windows_name);

// Sets an option on a Linux socket from its Windows value. STATUS_INVALID_PARAMETER when the
// value is NULL or shorter than option.windows_size (a longer value is accepted and its first
// windows_size bytes used), when the option is get-only or has no Linux counterpart; otherwise
// the errno of setsockopt through status_from_errno.
NTSTATUS set_option(int fd, const option_mapping &option, const void *windows_value,
                    std::size_t size);

// Reads an option of a Linux socket into its Windows form. Writes option.windows_size bytes
// and sets *written (when not NULL) to that; on failure *written is 0.
// STATUS_INVALID_PARAMETER for a NULL buffer, a set-only option or one with no Linux
// counterpart; STATUS_BUFFER_TOO_SMALL when size < option.windows_size (a fixed-size value is
// never truncated; Windows documents STATUS_BUFFER_OVERFLOW only for the variable-size
// address list); otherwise the errno of getsockopt through status_from_errno.
NTSTATUS get_option(int fd, const option_mapping &option, void *windows_value, std::size_t size,
                    std::size_t *written);

// For the boolean options the provider emulates (SO_EXCLUSIVEADDRUSE, SO_CONDITIONAL_ACCEPT,
// its view of SO_REUSEADDR): reads a Windows BOOL value with set_option's checks, and writes one
// with get_option's checks.
NTSTATUS read_bool_option(const option_mapping &option, const void *windows_value, std::size_t size,
                          bool &value);
NTSTATUS write_bool_option(const option_mapping &option, bool value, void *windows_value,
                           std::size_t size, std::size_t *written);

// ---- Message flags and control messages (docs/wsk-behaviour.md, "Control messages") ----------

// The Windows receive flags (MSG_TRUNC, MSG_CTRUNC) for Linux msg_flags.
ULONG windows_message_flags(int linux_msg_flags);

// What to_windows_control produced.
struct received_control {
  std::size_t length = 0; // bytes of Windows control data written
  ULONG flags = 0;        // Windows ControlFlags: MSG_TRUNC, MSG_CTRUNC, MSG_BCAST, MSG_MCAST
};

// Re-encodes the control data recvmsg returned (message.msg_control, msg_controllen as the
// kernel set it, and msg_flags) as Windows WSACMSGHDR objects in `windows_buffer` (capacity
// bytes; may be NULL with capacity 0). Translated: IP_PKTINFO -> IN_PKTINFO, IPV6_PKTINFO ->
// IN6_PKTINFO, IP_TTL, IP_TOS, IPV6_HOPLIMIT and IPV6_TCLASS -> INT; other Linux control
// messages are skipped. When an object does not fit, it and all later ones are dropped and
// MSG_CTRUNC is set (as Linux does). MSG_MCAST is set when the packet information names a
// multicast destination, MSG_BCAST when it names a broadcast one (see linux/translate.cpp for how).
// With deliver_packet_info false, the packet information is used for those flags only and not
// copied (for a provider that enables it on Linux without the client having asked).
received_control to_windows_control(const msghdr &message, void *windows_buffer,
                                    std::size_t capacity, bool deliver_packet_info = true);

// Re-encodes Windows control data (WskSendTo's ControlInfo, `windows_length` bytes) as Linux
// control messages for sendmsg into `linux_buffer`, which must be aligned like a cmsghdr.
// Accepted: IN_PKTINFO (source address and interface), IN6_PKTINFO, and INT values of IP_TTL,
// IP_TOS, IPV6_HOPLIMIT and IPV6_TCLASS. STATUS_INVALID_PARAMETER for a malformed header, a
// payload of the wrong size or any other (level, type); STATUS_BUFFER_TOO_SMALL when the Linux
// buffer is too small (linux_control_capacity() is always enough). Sets linux_length to the
// bytes to pass as msg_controllen (0 when there is nothing to send).
NTSTATUS to_linux_control(const void *windows_control, std::size_t windows_length,
                          void *linux_buffer, std::size_t linux_capacity,
                          std::size_t &linux_length);

// A Linux buffer size that always holds the translation of `windows_length` bytes.
std::size_t linux_control_capacity(std::size_t windows_length);

// The Windows WSA_CMSG_LEN and WSA_CMSG_SPACE of a payload size.
std::size_t windows_cmsg_len(std::size_t payload);
std::size_t windows_cmsg_space(std::size_t payload);

} // namespace uwsk::wsk

// Name resolution between the provider's two halves.
//
// windows/name_resolution.cpp (the Windows half: WskGetAddressInfo, WskFreeAddressInfo,
// WskGetNameInfo) validates the call, translates the Windows AI_*/NI_* flags into the internal
// flags below and runs the lookup on a worker thread; linux/name_resolution.cpp (the Linux half)
// runs getaddrinfo and getnameinfo. Neither Winsock nor Linux socket headers are included here:
// addresses cross as the bytes of a Windows-layout SOCKADDR, families as Windows ADDRESS_FAMILY
// values (which linux/translate.hpp maps), names as UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <wdm.h>

namespace uwsk::wsk {

// Deliberate pair (duplicates): lookup_flag and name_flag, two flag sets alike in shape only.
// Hint flags of an address lookup. Internal values: the Windows half maps AI_* onto them.
namespace lookup_flag {
inline constexpr ULONG passive = 1u << 0;         // AI_PASSIVE
inline constexpr ULONG canonical = 1u << 1;       // AI_CANONNAME (and AI_FQDN)
inline constexpr ULONG numeric_host = 1u << 2;    // AI_NUMERICHOST
inline constexpr ULONG numeric_service = 1u << 3; // AI_NUMERICSERV
inline constexpr ULONG all = 1u << 4;             // AI_ALL
inline constexpr ULONG address_config = 1u << 5;  // AI_ADDRCONFIG
inline constexpr ULONG v4_mapped = 1u << 6;       // AI_V4MAPPED
} // namespace lookup_flag

// Flags of a name lookup. Internal values: the Windows half maps NI_* onto them.
namespace name_flag {
inline constexpr ULONG no_fqdn = 1u << 0;         // NI_NOFQDN
inline constexpr ULONG numeric_host = 1u << 1;    // NI_NUMERICHOST
inline constexpr ULONG name_required = 1u << 2;   // NI_NAMEREQD
inline constexpr ULONG numeric_service = 1u << 3; // NI_NUMERICSERV
inline constexpr ULONG datagram = 1u << 4;        // NI_DGRAM
} // namespace name_flag

// Room for any Windows sockaddr the provider handles (the size of SOCKADDR_STORAGE).
inline constexpr std::size_t max_address_bytes = 128;

// WskGetAddressInfo's question, already validated.
struct address_query {
  bool has_node = false; // false: no node name (wildcard or loopback, per lookup_flag::passive)
  std::string node;      // UTF-8
  bool has_service = false;
  std::string service;       // UTF-8
  ULONG flags = 0;           // lookup_flag::*
  bool any_family = true;    // the hint was AF_UNSPEC
  USHORT windows_family = 0; // otherwise the Windows AF_* of the hint
  int socket_type = 0;       // SOCK_* (same values in both worlds)
  int protocol = 0;          // IPPROTO_* (same values in both worlds)
};

// One address of the answer, in Windows layout.
struct address_entry {
  USHORT windows_family = 0;
  int socket_type = 0;
  int protocol = 0;
  std::size_t address_length = 0; // bytes of `address` in use
  alignas(8) unsigned char address[max_address_bytes] = {};
};

struct address_answer {
  NTSTATUS status = STATUS_SUCCESS;
  std::vector<address_entry> entries; // non-empty on success, in the order of the answer
  std::string canonical_name;         // UTF-8; set when lookup_flag::canonical was asked
};

// Resolves a query; blocks (call it at PASSIVE_LEVEL on a worker). Never throws.
address_answer lookup_addresses(const address_query &query) noexcept;

// WskGetNameInfo's question, already validated.
struct name_query {
  alignas(8) unsigned char address[max_address_bytes] = {}; // Windows SOCKADDR_IN or _IN6
  bool want_node = false;
  bool want_service = false;
  ULONG flags = 0; // name_flag::*
};

struct name_answer {
  NTSTATUS status = STATUS_SUCCESS;
  std::string node;    // UTF-8, when asked
  std::string service; // UTF-8, when asked
};

// Resolves an address back to names; blocks like lookup_addresses. Never throws.
name_answer lookup_name(const name_query &query) noexcept;

// Test hook, for unit tests only: while held, every lookup stops after it has its answer and
// before it returns it (for at most 30 s), so that a test can cancel the pending IRP at exactly
// that point and watch the late answer be thrown away. held_lookups() counts the lookups
// stopped there.
void hold_lookups(bool hold);
std::size_t held_lookups();

} // namespace uwsk::wsk

// The WSK provider's Windows <-> Linux translation layer (src/wsk/linux/translate.hpp): families
// and socket types, sockaddr layouts byte by byte, the errno table, every socket option row and
// options set and read back on real sockets, message flags, and control messages received from
// and sent to real UDP sockets on 127.0.0.1 and ::1. Like the provider's Linux half, this file
// never includes the Windows Winsock headers: the Windows values come from win_constants.hpp.
#include "wsk/linux/translate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <uwsk/log.h>

#include "support/fd_guard.hpp"
#include "win_constants.hpp"

namespace {

namespace win = uwsk::win;
using namespace uwsk::wsk;
using uwsk::test::fd_guard;

int int_option(int fd, int level, int name) {
  int value = -1;
  socklen_t length = sizeof value;
  EXPECT_EQ(::getsockopt(fd, level, name, &value, &length), 0) << std::strerror(errno);
  return value;
}

NTSTATUS set_ulong(int fd, ULONG level, ULONG name, std::uint32_t value) {
  const option_mapping *option = find_option(level, name);
  EXPECT_NE(option, nullptr);
  if (option == nullptr) {
    return STATUS_UNSUCCESSFUL;
  }
  return set_option(fd, *option, &value, sizeof value);
}

std::uint32_t get_ulong(int fd, ULONG level, ULONG name) {
  const option_mapping *option = find_option(level, name);
  EXPECT_NE(option, nullptr);
  if (option == nullptr) {
    return 0xdeadbeef;
  }
  std::uint32_t value = 0xdeadbeef;
  std::size_t written = 99;
  EXPECT_EQ(get_option(fd, *option, &value, sizeof value, &written), STATUS_SUCCESS);
  EXPECT_EQ(written, 4u);
  return value;
}

// A UDP socket bound to the loopback address of `family`, port chosen by the kernel; -1 when
// the family is unavailable.
int bound_udp(int family, sockaddr_storage &address, socklen_t &length) {
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  std::memset(&address, 0, sizeof address);
  if (family == AF_INET) {
    auto *in = reinterpret_cast<sockaddr_in *>(&address);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof(sockaddr_in);
  } else {
    auto *in6 = reinterpret_cast<sockaddr_in6 *>(&address);
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    length = sizeof(sockaddr_in6);
  }
  if (::bind(fd, reinterpret_cast<sockaddr *>(&address), length) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Waits (at most 5 s) for a datagram and receives it with its control data.
struct received {
  ssize_t bytes = -1;
  msghdr message{};
  alignas(cmsghdr) unsigned char control[512];
  char data[256];
  iovec iov{};
};

bool receive(int fd, received &r, std::size_t data_capacity = sizeof(received::data),
             std::size_t control_capacity = sizeof(received::control)) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1) {
    return false;
  }
  r.iov = {r.data, data_capacity};
  r.message = {};
  r.message.msg_iov = &r.iov;
  r.message.msg_iovlen = 1;
  r.message.msg_control = r.control;
  r.message.msg_controllen = control_capacity;
  r.bytes = ::recvmsg(fd, &r.message, 0);
  return r.bytes >= 0;
}

// One Windows control object, read back with the WSA_CMSG_NXTHDR rules.
struct windows_cmsg {
  std::size_t length;
  int level;
  int type;
  std::vector<unsigned char> data;
};

std::vector<windows_cmsg> parse_windows_control(const unsigned char *buffer, std::size_t length) {
  std::vector<windows_cmsg> result;
  std::size_t offset = 0;
  for (int guard = 0; guard < 64 && length - offset >= win::cmsghdr_size; ++guard) {
    windows_cmsg c{};
    std::memcpy(&c.length, buffer + offset + win::cmsghdr_len_offset, sizeof(SIZE_T));
    std::memcpy(&c.level, buffer + offset + win::cmsghdr_level_offset, sizeof(INT));
    std::memcpy(&c.type, buffer + offset + win::cmsghdr_type_offset, sizeof(INT));
    if (c.length < win::cmsg_data_offset || c.length > length - offset) {
      ADD_FAILURE() << "malformed Windows control object at offset " << offset;
      break;
    }
    c.data.assign(buffer + offset + win::cmsg_data_offset, buffer + offset + c.length);
    result.push_back(c);
    offset += (c.length + win::cmsghdr_align - 1) & ~(win::cmsghdr_align - 1);
    if (offset >= length) {
      break;
    }
  }
  return result;
}

std::uint32_t u32_at(const std::vector<unsigned char> &data, std::size_t offset) {
  std::uint32_t value = 0;
  std::memcpy(&value, data.data() + offset, sizeof value);
  return value;
}

// A Linux control buffer built by hand, for the cases loopback cannot produce.
struct linux_control {
  alignas(cmsghdr) unsigned char buffer[256]{};
  std::size_t used = 0;
  void add(int level, int type, const void *data, std::size_t size) {
    auto *c = reinterpret_cast<cmsghdr *>(buffer + used);
    c->cmsg_len = CMSG_LEN(size);
    c->cmsg_level = level;
    c->cmsg_type = type;
    std::memcpy(CMSG_DATA(c), data, size);
    used += CMSG_SPACE(size);
  }
  msghdr message(int flags = 0) {
    msghdr m{};
    m.msg_control = buffer;
    m.msg_controllen = used;
    m.msg_flags = flags;
    return m;
  }
};

in_addr ipv4(const char *text) {
  in_addr a{};
  EXPECT_EQ(::inet_pton(AF_INET, text, &a), 1);
  return a;
}

in6_addr ipv6(const char *text) {
  in6_addr a{};
  EXPECT_EQ(::inet_pton(AF_INET6, text, &a), 1);
  return a;
}

ULONG destination_flags_v4(const char *destination, const char *local) {
  in_pktinfo info{};
  info.ipi_ifindex = 1;
  info.ipi_addr = ipv4(destination);
  info.ipi_spec_dst = ipv4(local);
  linux_control control;
  control.add(IPPROTO_IP, IP_PKTINFO, &info, sizeof info);
  const msghdr message = control.message();
  unsigned char out[64];
  return to_windows_control(message, out, sizeof out).flags;
}

ULONG destination_flags_v6(const char *destination) {
  in6_pktinfo info{};
  info.ipi6_ifindex = 1;
  info.ipi6_addr = ipv6(destination);
  linux_control control;
  control.add(IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof info);
  const msghdr message = control.message();
  unsigned char out[64];
  return to_windows_control(message, out, sizeof out).flags;
}

// ---------------------------------------------------------------------------------------------
// Families and socket types.

TEST(WskTranslate, Families) {
  EXPECT_EQ(linux_family(win::af_inet), AF_INET);
  EXPECT_EQ(linux_family(win::af_inet6), AF_INET6);
  EXPECT_EQ(linux_family(win::af_unspec), -1);
  EXPECT_EQ(linux_family(10), -1); // Linux's AF_INET6 is Windows' AF_CCITT
  EXPECT_EQ(linux_family(1), -1);

  EXPECT_EQ(windows_family(AF_INET), win::af_inet);
  EXPECT_EQ(windows_family(AF_INET6), win::af_inet6);
  EXPECT_EQ(windows_family(AF_UNIX), win::af_unspec);
  EXPECT_EQ(windows_family(AF_UNSPEC), win::af_unspec);

  EXPECT_EQ(windows_sockaddr_size(win::af_inet), 16u);
  EXPECT_EQ(windows_sockaddr_size(win::af_inet6), 28u);
  EXPECT_EQ(windows_sockaddr_size(win::af_unspec), 0u);
  EXPECT_EQ(windows_sockaddr_size(10), 0u);
  EXPECT_EQ(win::sockaddr_in_size, 16u);
  EXPECT_EQ(win::sockaddr_in6_size, 28u);
}

TEST(WskTranslate, SocketTypes) {
  EXPECT_EQ(linux_socket_type(win::sock_stream), SOCK_STREAM);
  EXPECT_EQ(linux_socket_type(win::sock_dgram), SOCK_DGRAM);
  EXPECT_EQ(linux_socket_type(win::sock_raw), SOCK_RAW);
  EXPECT_EQ(linux_socket_type(win::sock_seqpacket), -1);
  EXPECT_EQ(linux_socket_type(0), -1);
  EXPECT_EQ(windows_socket_type(SOCK_STREAM), win::sock_stream);
  EXPECT_EQ(windows_socket_type(SOCK_DGRAM), win::sock_dgram);
  EXPECT_EQ(windows_socket_type(SOCK_RAW), win::sock_raw);
  EXPECT_EQ(windows_socket_type(SOCK_PACKET), 0);
}

TEST(WskTranslate, NameResolutionFlags) {
  int unmapped = -1;
  EXPECT_EQ(linux_addrinfo_flags(win::ai_passive | win::ai_canonname | win::ai_numerichost |
                                     win::ai_numericserv | win::ai_all | win::ai_addrconfig |
                                     win::ai_v4mapped,
                                 unmapped),
            AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_NUMERICSERV | AI_ALL | AI_ADDRCONFIG |
                AI_V4MAPPED);
  EXPECT_EQ(unmapped, 0);
  EXPECT_EQ(linux_addrinfo_flags(win::ai_numericserv | win::ai_fqdn | win::ai_secure, unmapped),
            AI_NUMERICSERV);
  EXPECT_EQ(unmapped, win::ai_fqdn | win::ai_secure);

  ULONG ni_unmapped = 99;
  EXPECT_EQ(linux_nameinfo_flags(win::ni_nofqdn, ni_unmapped), NI_NOFQDN);
  EXPECT_EQ(linux_nameinfo_flags(win::ni_numerichost, ni_unmapped), NI_NUMERICHOST);
  EXPECT_EQ(linux_nameinfo_flags(win::ni_namereqd, ni_unmapped), NI_NAMEREQD);
  EXPECT_EQ(linux_nameinfo_flags(win::ni_numericserv, ni_unmapped), NI_NUMERICSERV);
  EXPECT_EQ(linux_nameinfo_flags(win::ni_dgram | 0x100, ni_unmapped), NI_DGRAM);
  EXPECT_EQ(ni_unmapped, 0x100u);
}

// ---------------------------------------------------------------------------------------------
// Socket addresses, byte by byte.

// SOCKADDR_IN for 192.0.2.1:8080 as Windows lays it out (AF_INET 2, little-endian family).
constexpr std::array<unsigned char, 16> windows_v4 = {0x02, 0x00, 0x1f, 0x90, 192, 0, 2, 1,
                                                      0,    0,    0,    0,    0,   0, 0, 0};

// SOCKADDR_IN6 for [fe80::1%5]:8080 with flow information (AF_INET6 23).
constexpr std::array<unsigned char, 28> windows_v6 = {
    0x17, 0x00, 0x1f, 0x90, 0x00, 0x0a, 0xbc, 0xde, 0xfe, 0x80, 0, 0, 0, 0,
    0,    0,    0,    0,    0,    0,    0,    0,    0,    1,    5, 0, 0, 0};

TEST(WskTranslate, Ipv4AddressRoundTrip) {
  sockaddr_storage storage;
  std::memset(&storage, 0xcc, sizeof storage);
  socklen_t length = 0;
  ASSERT_TRUE(to_linux_address(windows_v4.data(), win::af_inet, storage, length));
  ASSERT_EQ(length, sizeof(sockaddr_in));
  const auto *in = reinterpret_cast<const sockaddr_in *>(&storage);
  EXPECT_EQ(in->sin_family, AF_INET);
  EXPECT_EQ(ntohs(in->sin_port), 8080);
  EXPECT_EQ(in->sin_addr.s_addr, ipv4("192.0.2.1").s_addr);
  for (unsigned char byte : in->sin_zero) {
    EXPECT_EQ(byte, 0);
  }

  std::array<unsigned char, 32> back;
  back.fill(0xcc);
  EXPECT_EQ(to_windows_address(reinterpret_cast<const sockaddr *>(&storage), back.data()), 16u);
  EXPECT_TRUE(std::equal(windows_v4.begin(), windows_v4.end(), back.begin()));
  EXPECT_EQ(back[16], 0xcc) << "wrote past the SOCKADDR_IN";

  // Accepting either family, and ignoring whatever the client left in sin_zero.
  auto dirty = windows_v4;
  std::fill(dirty.begin() + 8, dirty.end(), 0x55);
  ASSERT_TRUE(to_linux_address(dirty.data(), 0, storage, length));
  EXPECT_EQ(to_windows_address(reinterpret_cast<const sockaddr *>(&storage), back.data()), 16u);
  EXPECT_TRUE(std::equal(windows_v4.begin(), windows_v4.end(), back.begin()));
}

TEST(WskTranslate, Ipv6AddressRoundTripWithFlowAndScope) {
  sockaddr_storage storage;
  socklen_t length = 0;
  ASSERT_TRUE(to_linux_address(windows_v6.data(), win::af_inet6, storage, length));
  ASSERT_EQ(length, sizeof(sockaddr_in6));
  const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(&storage);
  EXPECT_EQ(in6->sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(in6->sin6_port), 8080);
  EXPECT_EQ(ntohl(in6->sin6_flowinfo), 0x000abcdeu);
  const in6_addr expected = ipv6("fe80::1");
  EXPECT_EQ(std::memcmp(&in6->sin6_addr, &expected, sizeof expected), 0);
  EXPECT_EQ(in6->sin6_scope_id, 5u);

  std::array<unsigned char, 40> back;
  back.fill(0xcc);
  EXPECT_EQ(to_windows_address(reinterpret_cast<const sockaddr *>(&storage), back.data()), 28u);
  EXPECT_TRUE(std::equal(windows_v6.begin(), windows_v6.end(), back.begin()));
  EXPECT_EQ(back[28], 0xcc) << "wrote past the SOCKADDR_IN6";
}

TEST(WskTranslate, ScopeLevelBitsAreNotPartOfTheLinuxScopeId) {
  // SCOPE_ID {Zone 7, Level ScopeLevelLink (2)}: Linux gets the zone alone.
  auto address = windows_v6;
  const std::uint32_t scope = 7u | (2u << 28);
  std::memcpy(address.data() + win::sockaddr_in6_scope_id_offset, &scope, sizeof scope);
  sockaddr_storage storage;
  socklen_t length = 0;
  ASSERT_TRUE(to_linux_address(address.data(), win::af_inet6, storage, length));
  EXPECT_EQ(reinterpret_cast<const sockaddr_in6 *>(&storage)->sin6_scope_id, 7u);
  EXPECT_EQ(win::scope_id_zone_mask, 0x0fffffffu);
}

TEST(WskTranslate, AddressFamilyMismatchAndNull) {
  sockaddr_storage storage;
  socklen_t length = 0;
  EXPECT_FALSE(to_linux_address(windows_v6.data(), win::af_inet, storage, length));
  EXPECT_FALSE(to_linux_address(windows_v4.data(), win::af_inet6, storage, length));
  EXPECT_FALSE(to_linux_address(nullptr, 0, storage, length));
  EXPECT_FALSE(to_linux_address(nullptr, win::af_inet, storage, length));

  // A Linux family number in a Windows address is not AF_INET6.
  auto linux_numbered = windows_v6;
  linux_numbered[0] = AF_INET6;
  EXPECT_FALSE(to_linux_address(linux_numbered.data(), 0, storage, length));
  EXPECT_FALSE(to_linux_address(linux_numbered.data(), AF_INET6, storage, length));
  auto unspec = windows_v4;
  unspec[0] = 0;
  EXPECT_FALSE(to_linux_address(unspec.data(), 0, storage, length));

  sockaddr unix_address{};
  unix_address.sa_family = AF_UNIX;
  unsigned char out[32];
  EXPECT_EQ(to_windows_address(&unix_address, out), 0u);
  EXPECT_EQ(to_windows_address(nullptr, out), 0u);
}

TEST(WskTranslate, AddressOfARealSocket) {
  for (int family : {AF_INET, AF_INET6}) {
    sockaddr_storage local;
    socklen_t length = 0;
    fd_guard fd(bound_udp(family, local, length));
    if (fd.fd < 0) {
      continue; // no ::1 here; the byte-level tests above cover the layout
    }
    unsigned char windows_address[28];
    const std::size_t size =
        to_windows_address(reinterpret_cast<const sockaddr *>(&local), windows_address);
    EXPECT_EQ(size, family == AF_INET ? 16u : 28u);
    std::uint16_t windows_family_value = 0;
    std::memcpy(&windows_family_value, windows_address, 2);
    EXPECT_EQ(windows_family_value, family == AF_INET ? win::af_inet : win::af_inet6);

    sockaddr_storage back;
    socklen_t back_length = 0;
    ASSERT_TRUE(to_linux_address(windows_address, windows_family_value, back, back_length));
    EXPECT_EQ(back_length, length);
    EXPECT_EQ(std::memcmp(&back, &local, length), 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Status codes.

TEST(WskTranslate, ErrnoTableOfSpecSection86) {
  const struct {
    int error;
    NTSTATUS status;
  } rows[] = {
      {0, STATUS_SUCCESS},
      {EBADF, STATUS_INVALID_HANDLE},
      {EPERM, STATUS_ACCESS_DENIED},
      {EACCES, STATUS_ACCESS_DENIED},
      {EFAULT, STATUS_ACCESS_VIOLATION},
      {EINVAL, STATUS_INVALID_PARAMETER},
      {ENFILE, STATUS_TOO_MANY_OPENED_FILES},
      {EMFILE, STATUS_TOO_MANY_OPENED_FILES},
      {ENOBUFS, STATUS_INSUFFICIENT_RESOURCES},
      {ENOMEM, STATUS_INSUFFICIENT_RESOURCES},
      {EALREADY, STATUS_NETWORK_BUSY},
      {ENOTSOCK, STATUS_OBJECT_TYPE_MISMATCH},
      {EDESTADDRREQ, STATUS_INVALID_CONNECTION},
      {EMSGSIZE, STATUS_BUFFER_OVERFLOW},
      {EPROTONOSUPPORT, STATUS_NOT_SUPPORTED},
      {ESOCKTNOSUPPORT, STATUS_NOT_SUPPORTED},
      {EPFNOSUPPORT, STATUS_NOT_SUPPORTED},
      {EAFNOSUPPORT, STATUS_NOT_SUPPORTED},
      {EPROTOTYPE, STATUS_NOT_SUPPORTED},
      {EOPNOTSUPP, STATUS_NOT_SUPPORTED},
      {ENOPROTOOPT, STATUS_INVALID_PARAMETER},
      {EADDRINUSE, STATUS_ADDRESS_ALREADY_EXISTS},
      {EADDRNOTAVAIL, STATUS_INVALID_PARAMETER},
      {ECONNREFUSED, STATUS_CONNECTION_REFUSED},
      {ESHUTDOWN, STATUS_PIPE_DISCONNECTED},
      {ENOTCONN, STATUS_CONNECTION_DISCONNECTED},
      {ETIMEDOUT, STATUS_IO_TIMEOUT},
      {ENETUNREACH, STATUS_NETWORK_UNREACHABLE},
      {EHOSTUNREACH, STATUS_HOST_UNREACHABLE},
      {ENETDOWN, STATUS_NETWORK_BUSY},
      {EPIPE, STATUS_CONNECTION_RESET},
      {ECONNRESET, STATUS_CONNECTION_RESET},
      {ECONNABORTED, STATUS_CONNECTION_ABORTED},
      {EISCONN, STATUS_CONNECTION_ACTIVE},
  };
  for (const auto &row : rows) {
    EXPECT_EQ(status_from_errno(row.error), row.status) << "errno " << row.error;
    // The src/net wrappers return -errno; the table accepts that spelling too.
    EXPECT_EQ(status_from_errno(-row.error), row.status) << "errno -" << row.error;
  }
}

TEST(WskTranslate, UnknownErrnoIsUnsuccessfulAndLoggedOnce) {
  char path[] = "/tmp/uwsk-translate-log-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_EQ(uwsk_log_open(path), 0);
  EXPECT_EQ(status_from_errno(ENOKEY), STATUS_UNSUCCESSFUL);
  EXPECT_EQ(status_from_errno(-ENOKEY), STATUS_UNSUCCESSFUL);
  EXPECT_EQ(status_from_errno(EAGAIN), STATUS_UNSUCCESSFUL);
  uwsk_log_close();

  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  ::unlink(path);
  const std::string log = text.str();
  std::size_t count = 0;
  for (std::size_t at = log.find("ENOKEY"); at != std::string::npos;
       at = log.find("ENOKEY", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 1u) << log;
  EXPECT_NE(log.find("EAGAIN"), std::string::npos) << log;
}

TEST(WskTranslate, WinsockErrorCodes) {
  EXPECT_EQ(wsa_error_from_errno(0), 0u);
  EXPECT_EQ(wsa_error_from_errno(ECONNREFUSED), 10061u);
  EXPECT_EQ(wsa_error_from_errno(ECONNRESET), 10054u);
  EXPECT_EQ(wsa_error_from_errno(ETIMEDOUT), 10060u);
  EXPECT_EQ(wsa_error_from_errno(EHOSTUNREACH), 10065u);
  EXPECT_EQ(wsa_error_from_errno(ENETUNREACH), 10051u);
  EXPECT_EQ(wsa_error_from_errno(EADDRINUSE), 10048u);
  EXPECT_EQ(wsa_error_from_errno(EMSGSIZE), 10040u);
  EXPECT_EQ(wsa_error_from_errno(ENOKEY), 31u); // ERROR_GEN_FAILURE
}

// ---------------------------------------------------------------------------------------------
// Socket options: the table.

TEST(WskTranslate, EveryOptionRow) {
  constexpr int none = -1;
  const struct {
    ULONG level;
    ULONG name;
    int linux_level;
    int linux_name;
    option_kind kind;
    std::uint8_t size;
  } rows[] = {
      {win::sol_socket, win::so_reuseaddr, SOL_SOCKET, SO_REUSEADDR, option_kind::boolean, 4},
      {win::sol_socket, win::so_exclusiveaddruse, none, 0, option_kind::boolean, 4},
      {win::sol_socket, win::so_conditional_accept, none, 0, option_kind::boolean, 4},
      {win::sol_socket, win::so_wsk_security, none, 0, option_kind::bytes, 8},
      {win::sol_socket, win::so_wsk_event_callback, none, 0, option_kind::bytes, 16},
      {win::sol_socket, win::so_keepalive, SOL_SOCKET, SO_KEEPALIVE, option_kind::boolean, 4},
      {win::sol_socket, win::so_broadcast, SOL_SOCKET, SO_BROADCAST, option_kind::boolean, 4},
      {win::sol_socket, win::so_dontroute, SOL_SOCKET, SO_DONTROUTE, option_kind::boolean, 4},
      {win::sol_socket, win::so_oobinline, SOL_SOCKET, SO_OOBINLINE, option_kind::boolean, 4},
      {win::sol_socket, win::so_acceptconn, SOL_SOCKET, SO_ACCEPTCONN, option_kind::boolean, 4},
      {win::sol_socket, win::so_linger, SOL_SOCKET, SO_LINGER, option_kind::linger, 4},
      {win::sol_socket, win::so_dontlinger, SOL_SOCKET, SO_LINGER, option_kind::dont_linger, 4},
      {win::sol_socket, win::so_sndbuf, SOL_SOCKET, SO_SNDBUF, option_kind::buffer_size, 4},
      {win::sol_socket, win::so_rcvbuf, SOL_SOCKET, SO_RCVBUF, option_kind::buffer_size, 4},
      {win::sol_socket, win::so_rcvlowat, SOL_SOCKET, SO_RCVLOWAT, option_kind::integer, 4},
      {win::sol_socket, win::so_error, SOL_SOCKET, SO_ERROR, option_kind::socket_error, 4},
      {win::sol_socket, win::so_type, SOL_SOCKET, SO_TYPE, option_kind::socket_type, 4},
      {win::ipproto_tcp, win::tcp_nodelay, IPPROTO_TCP, TCP_NODELAY, option_kind::boolean, 4},
      {win::ipproto_tcp, win::tcp_keepalive, IPPROTO_TCP, TCP_KEEPIDLE, option_kind::integer, 4},
      {win::ipproto_tcp, win::tcp_keepidle, IPPROTO_TCP, TCP_KEEPIDLE, option_kind::integer, 4},
      {win::ipproto_tcp, win::tcp_keepcnt, IPPROTO_TCP, TCP_KEEPCNT, option_kind::integer, 4},
      {win::ipproto_tcp, win::tcp_keepintvl, IPPROTO_TCP, TCP_KEEPINTVL, option_kind::integer, 4},
      {win::ipproto_tcp, win::tcp_maxseg, IPPROTO_TCP, TCP_MAXSEG, option_kind::integer, 4},
      {win::ipproto_tcp, win::tcp_maxrt, IPPROTO_TCP, TCP_USER_TIMEOUT, option_kind::seconds, 4},
      {win::ipproto_tcp, win::tcp_maxrtms, IPPROTO_TCP, TCP_USER_TIMEOUT, option_kind::integer, 4},
      {win::ipproto_tcp, win::tcp_fastopen, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, option_kind::boolean,
       4},
      {win::ipproto_ip, win::ip_hdrincl, IPPROTO_IP, IP_HDRINCL, option_kind::boolean, 4},
      {win::ipproto_ip, win::ip_tos, IPPROTO_IP, IP_TOS, option_kind::integer, 4},
      {win::ipproto_ip, win::ip_ttl, IPPROTO_IP, IP_TTL, option_kind::integer, 4},
      {win::ipproto_ip, win::ip_multicast_if, IPPROTO_IP, IP_MULTICAST_IF,
       option_kind::multicast_interface, 4},
      {win::ipproto_ip, win::ip_multicast_ttl, IPPROTO_IP, IP_MULTICAST_TTL, option_kind::integer,
       4},
      {win::ipproto_ip, win::ip_multicast_loop, IPPROTO_IP, IP_MULTICAST_LOOP, option_kind::boolean,
       4},
      {win::ipproto_ip, win::ip_add_membership, IPPROTO_IP, IP_ADD_MEMBERSHIP, option_kind::bytes,
       8},
      {win::ipproto_ip, win::ip_drop_membership, IPPROTO_IP, IP_DROP_MEMBERSHIP, option_kind::bytes,
       8},
      {win::ipproto_ip, win::ip_dontfragment, IPPROTO_IP, IP_MTU_DISCOVER,
       option_kind::dont_fragment, 4},
      {win::ipproto_ip, win::ip_pktinfo, IPPROTO_IP, IP_PKTINFO, option_kind::boolean, 4},
      {win::ipproto_ip, win::ip_recvttl, IPPROTO_IP, IP_RECVTTL, option_kind::boolean, 4},
      {win::ipproto_ip, win::ip_hoplimit, IPPROTO_IP, IP_RECVTTL, option_kind::boolean, 4},
      {win::ipproto_ip, win::ip_recvtos, IPPROTO_IP, IP_RECVTOS, option_kind::boolean, 4},
      {win::ipproto_ip, win::ip_unicast_if, IPPROTO_IP, IP_UNICAST_IF, option_kind::integer, 4},
      {win::ipproto_ipv6, win::ipv6_unicast_hops, IPPROTO_IPV6, IPV6_UNICAST_HOPS,
       option_kind::integer, 4},
      {win::ipproto_ipv6, win::ipv6_multicast_if, IPPROTO_IPV6, IPV6_MULTICAST_IF,
       option_kind::integer, 4},
      {win::ipproto_ipv6, win::ipv6_multicast_hops, IPPROTO_IPV6, IPV6_MULTICAST_HOPS,
       option_kind::integer, 4},
      {win::ipproto_ipv6, win::ipv6_multicast_loop, IPPROTO_IPV6, IPV6_MULTICAST_LOOP,
       option_kind::boolean, 4},
      {win::ipproto_ipv6, win::ipv6_join_group, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP,
       option_kind::bytes, 20},
      {win::ipproto_ipv6, win::ipv6_add_membership, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP,
       option_kind::bytes, 20},
      {win::ipproto_ipv6, win::ipv6_leave_group, IPPROTO_IPV6, IPV6_DROP_MEMBERSHIP,
       option_kind::bytes, 20},
      {win::ipproto_ipv6, win::ipv6_dontfrag, IPPROTO_IPV6, IPV6_DONTFRAG, option_kind::boolean, 4},
      {win::ipproto_ipv6, win::ipv6_pktinfo, IPPROTO_IPV6, IPV6_RECVPKTINFO, option_kind::boolean,
       4},
      {win::ipproto_ipv6, win::ipv6_hoplimit, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, option_kind::boolean,
       4},
      {win::ipproto_ipv6, win::ipv6_v6only, IPPROTO_IPV6, IPV6_V6ONLY, option_kind::boolean, 4},
      {win::ipproto_ipv6, win::ipv6_unicast_if, IPPROTO_IPV6, IPV6_UNICAST_IF, option_kind::integer,
       4},
      {win::ipproto_ipv6, win::ipv6_tclass, IPPROTO_IPV6, IPV6_TCLASS, option_kind::integer, 4},
      {win::ipproto_ipv6, win::ipv6_recvtclass, IPPROTO_IPV6, IPV6_RECVTCLASS, option_kind::boolean,
       4},
  };
  for (const auto &row : rows) {
    const option_mapping *option = find_option(row.level, row.name);
    ASSERT_NE(option, nullptr) << "level " << row.level << " option " << row.name;
    SCOPED_TRACE(option->name);
    EXPECT_EQ(option->windows_level, row.level);
    EXPECT_EQ(option->windows_name, row.name);
    EXPECT_EQ(option->linux_level, row.linux_level);
    if (row.linux_level >= 0) {
      EXPECT_EQ(option->linux_name, row.linux_name);
    } else {
      EXPECT_NE(option->flags & option_emulated, 0);
    }
    EXPECT_EQ(option->kind, row.kind);
    EXPECT_EQ(option->windows_size, row.size);
  }
}

TEST(WskTranslate, OptionFlagsAndUnknownOptions) {
  EXPECT_EQ(find_option(win::sol_socket, 0x9999), nullptr);
  EXPECT_EQ(find_option(win::ipproto_tcp, win::tcp_timestamps), nullptr);
  // Linux numbers at a Windows level are not Windows options.
  EXPECT_EQ(find_option(SOL_SOCKET, win::so_keepalive), nullptr);
  EXPECT_EQ(find_option(win::ipproto_ipv6, IPV6_V6ONLY), nullptr);

  const auto flags = [](ULONG level, ULONG name) { return find_option(level, name)->flags; };
  EXPECT_EQ(flags(win::sol_socket, win::so_reuseaddr), option_emulated | option_set_before_bind);
  EXPECT_EQ(flags(win::sol_socket, win::so_exclusiveaddruse),
            option_emulated | option_set_before_bind);
  EXPECT_EQ(flags(win::sol_socket, win::so_conditional_accept),
            option_emulated | option_set_before_bind);
  EXPECT_EQ(flags(win::sol_socket, win::so_wsk_security), option_emulated | option_set_before_bind);
  EXPECT_EQ(flags(win::sol_socket, win::so_wsk_event_callback), option_emulated | option_set_only);
  EXPECT_EQ(flags(win::sol_socket, win::so_type), option_get_only);
  EXPECT_EQ(flags(win::sol_socket, win::so_error), option_get_only);
  EXPECT_EQ(flags(win::ipproto_ipv6, win::ipv6_v6only), option_set_before_bind);
  EXPECT_EQ(flags(win::ipproto_ip, win::ip_add_membership), option_set_only);
  EXPECT_EQ(flags(win::sol_socket, win::so_keepalive), 0);
}

// ---------------------------------------------------------------------------------------------
// Socket options on real sockets.

TEST(WskTranslate, BooleanOptionsOnRealSockets) {
  fd_guard tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(tcp.fd, 0);
  EXPECT_EQ(get_ulong(tcp.fd, win::ipproto_tcp, win::tcp_nodelay), 0u);
  EXPECT_EQ(set_ulong(tcp.fd, win::ipproto_tcp, win::tcp_nodelay, 1), STATUS_SUCCESS);
  EXPECT_EQ(int_option(tcp.fd, IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_EQ(get_ulong(tcp.fd, win::ipproto_tcp, win::tcp_nodelay), 1u);
  EXPECT_EQ(set_ulong(tcp.fd, win::ipproto_tcp, win::tcp_nodelay, 0), STATUS_SUCCESS);
  EXPECT_EQ(int_option(tcp.fd, IPPROTO_TCP, TCP_NODELAY), 0);

  // Any nonzero ULONG is TRUE, and TRUE reads back as 1.
  EXPECT_EQ(set_ulong(tcp.fd, win::sol_socket, win::so_keepalive, 0x100), STATUS_SUCCESS);
  EXPECT_EQ(int_option(tcp.fd, SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_EQ(get_ulong(tcp.fd, win::sol_socket, win::so_keepalive), 1u);
  EXPECT_EQ(set_ulong(tcp.fd, win::sol_socket, win::so_keepalive, 0), STATUS_SUCCESS);
  EXPECT_EQ(get_ulong(tcp.fd, win::sol_socket, win::so_keepalive), 0u);

  EXPECT_EQ(set_ulong(tcp.fd, win::ipproto_tcp, win::tcp_fastopen, 1), STATUS_SUCCESS);
  EXPECT_EQ(int_option(tcp.fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT), 1);

  fd_guard udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(udp.fd, 0);
  EXPECT_EQ(set_ulong(udp.fd, win::sol_socket, win::so_broadcast, 1), STATUS_SUCCESS);
  EXPECT_EQ(int_option(udp.fd, SOL_SOCKET, SO_BROADCAST), 1);
  EXPECT_EQ(set_ulong(udp.fd, win::ipproto_ip, win::ip_pktinfo, 1), STATUS_SUCCESS);
  EXPECT_EQ(int_option(udp.fd, IPPROTO_IP, IP_PKTINFO), 1);
  EXPECT_EQ(get_ulong(udp.fd, win::ipproto_ip, win::ip_pktinfo), 1u);

  // SO_REUSEADDR is emulated by the provider but has a Linux option it may set.
  EXPECT_EQ(set_ulong(udp.fd, win::sol_socket, win::so_reuseaddr, 1), STATUS_SUCCESS);
  EXPECT_EQ(int_option(udp.fd, SOL_SOCKET, SO_REUSEADDR), 1);
}

TEST(WskTranslate, IntegerOptionsOnRealSockets) {
  fd_guard tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(tcp.fd, 0);
  EXPECT_EQ(set_ulong(tcp.fd, win::ipproto_ip, win::ip_ttl, 33), STATUS_SUCCESS);
  EXPECT_EQ(int_option(tcp.fd, IPPROTO_IP, IP_TTL), 33);
  EXPECT_EQ(get_ulong(tcp.fd, win::ipproto_ip, win::ip_ttl), 33u);

  EXPECT_EQ(set_ulong(tcp.fd, win::ipproto_tcp, win::tcp_keepalive, 30), STATUS_SUCCESS);
  EXPECT_EQ(set_ulong(tcp.fd, win::ipproto_tcp, win::tcp_keepcnt, 4), STATUS_SUCCESS);
  EXPECT_EQ(set_ulong(tcp.fd, win::ipproto_tcp, win::tcp_keepintvl, 7), STATUS_SUCCESS);
  EXPECT_EQ(int_option(tcp.fd, IPPROTO_TCP, TCP_KEEPIDLE), 30);
  EXPECT_EQ(int_option(tcp.fd, IPPROTO_TCP, TCP_KEEPCNT), 4);
  EXPECT_EQ(int_option(tcp.fd, IPPROTO_TCP, TCP_KEEPINTVL), 7);
  EXPECT_EQ(get_ulong(tcp.fd, win::ipproto_tcp, win::tcp_keepalive), 30u);

  // TCP_MAXRT is in seconds, Linux's TCP_USER_TIMEOUT in milliseconds.
  EXPECT_EQ(set_ulong(tcp.fd, win::ipproto_tcp, win::tcp_maxrt, 5), STATUS_SUCCESS);
  EXPECT_EQ(int_option(tcp.fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 5000);
  EXPECT_EQ(get_ulong(tcp.fd, win::ipproto_tcp, win::tcp_maxrt), 5u);
  EXPECT_EQ(get_ulong(tcp.fd, win::ipproto_tcp, win::tcp_maxrtms), 5000u);

  // A value that Linux rejects comes back through the errno table.
  EXPECT_EQ(set_ulong(tcp.fd, win::ipproto_ip, win::ip_ttl, 1000), STATUS_INVALID_PARAMETER);
}

TEST(WskTranslate, ReceiveBufferIsReportedAsSet) {
  fd_guard udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(udp.fd, 0);
  EXPECT_EQ(set_ulong(udp.fd, win::sol_socket, win::so_rcvbuf, 32768), STATUS_SUCCESS);
  // Linux doubles the value it is given; the client reads back its own.
  EXPECT_EQ(int_option(udp.fd, SOL_SOCKET, SO_RCVBUF), 65536);
  EXPECT_EQ(get_ulong(udp.fd, win::sol_socket, win::so_rcvbuf), 32768u);
  EXPECT_EQ(set_ulong(udp.fd, win::sol_socket, win::so_sndbuf, 16384), STATUS_SUCCESS);
  EXPECT_EQ(get_ulong(udp.fd, win::sol_socket, win::so_sndbuf), 16384u);
}

TEST(WskTranslate, V6OnlyOnARealSocket) {
  fd_guard udp(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (udp.fd < 0) {
    GTEST_SKIP() << "no IPv6 here";
  }
  EXPECT_EQ(set_ulong(udp.fd, win::ipproto_ipv6, win::ipv6_v6only, 1), STATUS_SUCCESS);
  EXPECT_EQ(int_option(udp.fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
  EXPECT_EQ(get_ulong(udp.fd, win::ipproto_ipv6, win::ipv6_v6only), 1u);
  EXPECT_EQ(set_ulong(udp.fd, win::ipproto_ipv6, win::ipv6_v6only, 0), STATUS_SUCCESS);
  EXPECT_EQ(int_option(udp.fd, IPPROTO_IPV6, IPV6_V6ONLY), 0);
  EXPECT_EQ(get_ulong(udp.fd, win::ipproto_ipv6, win::ipv6_v6only), 0u);

  EXPECT_EQ(set_ulong(udp.fd, win::ipproto_ipv6, win::ipv6_pktinfo, 1), STATUS_SUCCESS);
  EXPECT_EQ(int_option(udp.fd, IPPROTO_IPV6, IPV6_RECVPKTINFO), 1);
  EXPECT_EQ(set_ulong(udp.fd, win::ipproto_ipv6, win::ipv6_hoplimit, 1), STATUS_SUCCESS);
  EXPECT_EQ(int_option(udp.fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT), 1);
  EXPECT_EQ(set_ulong(udp.fd, win::ipproto_ipv6, win::ipv6_unicast_hops, 17), STATUS_SUCCESS);
  EXPECT_EQ(int_option(udp.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 17);
}

TEST(WskTranslate, LingerLayout) {
  fd_guard tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(tcp.fd, 0);
  const option_mapping *option = find_option(win::sol_socket, win::so_linger);
  ASSERT_NE(option, nullptr);
  // LINGER {u_short l_onoff = 1; u_short l_linger = 0x0107}.
  const unsigned char windows_linger[4] = {0x01, 0x00, 0x07, 0x01};
  EXPECT_EQ(set_option(tcp.fd, *option, windows_linger, sizeof windows_linger), STATUS_SUCCESS);
  linger value{};
  socklen_t length = sizeof value;
  ASSERT_EQ(::getsockopt(tcp.fd, SOL_SOCKET, SO_LINGER, &value, &length), 0);
  EXPECT_EQ(value.l_onoff, 1);
  EXPECT_EQ(value.l_linger, 0x0107);

  unsigned char out[8];
  std::memset(out, 0xcc, sizeof out);
  std::size_t written = 0;
  EXPECT_EQ(get_option(tcp.fd, *option, out, sizeof out, &written), STATUS_SUCCESS);
  EXPECT_EQ(written, 4u);
  EXPECT_EQ(std::memcmp(out, windows_linger, 4), 0);
  EXPECT_EQ(out[4], 0xcc);

  // SO_DONTLINGER TRUE clears l_onoff and keeps the timeout.
  EXPECT_EQ(set_ulong(tcp.fd, win::sol_socket, win::so_dontlinger, 1), STATUS_SUCCESS);
  length = sizeof value;
  ASSERT_EQ(::getsockopt(tcp.fd, SOL_SOCKET, SO_LINGER, &value, &length), 0);
  EXPECT_EQ(value.l_onoff, 0);
  EXPECT_EQ(value.l_linger, 0x0107);
  EXPECT_EQ(get_ulong(tcp.fd, win::sol_socket, win::so_dontlinger), 1u);
  EXPECT_EQ(set_ulong(tcp.fd, win::sol_socket, win::so_dontlinger, 0), STATUS_SUCCESS);
  EXPECT_EQ(get_ulong(tcp.fd, win::sol_socket, win::so_dontlinger), 0u);

  // A Linux timeout beyond u_short is reported as the largest Windows value.
  value = {1, 100000};
  ASSERT_EQ(::setsockopt(tcp.fd, SOL_SOCKET, SO_LINGER, &value, sizeof value), 0);
  EXPECT_EQ(get_option(tcp.fd, *option, out, sizeof out, &written), STATUS_SUCCESS);
  const unsigned char clamped[4] = {0x01, 0x00, 0xff, 0xff};
  EXPECT_EQ(std::memcmp(out, clamped, 4), 0);
}

TEST(WskTranslate, SocketTypeAndDontFragment) {
  fd_guard tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  fd_guard udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ASSERT_GE(tcp.fd, 0);
  ASSERT_GE(udp.fd, 0);
  EXPECT_EQ(get_ulong(tcp.fd, win::sol_socket, win::so_type), win::sock_stream);
  EXPECT_EQ(get_ulong(udp.fd, win::sol_socket, win::so_type), win::sock_dgram);
  EXPECT_EQ(set_ulong(tcp.fd, win::sol_socket, win::so_type, win::sock_dgram),
            STATUS_INVALID_PARAMETER);

  EXPECT_EQ(set_ulong(udp.fd, win::ipproto_ip, win::ip_dontfragment, 1), STATUS_SUCCESS);
  EXPECT_EQ(int_option(udp.fd, IPPROTO_IP, IP_MTU_DISCOVER), IP_PMTUDISC_DO);
  EXPECT_EQ(get_ulong(udp.fd, win::ipproto_ip, win::ip_dontfragment), 1u);
  EXPECT_EQ(set_ulong(udp.fd, win::ipproto_ip, win::ip_dontfragment, 0), STATUS_SUCCESS);
  EXPECT_EQ(int_option(udp.fd, IPPROTO_IP, IP_MTU_DISCOVER), IP_PMTUDISC_DONT);
  EXPECT_EQ(get_ulong(udp.fd, win::ipproto_ip, win::ip_dontfragment), 0u);
}

TEST(WskTranslate, MulticastInterfaceByAddressOrIndex) {
  fd_guard udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(udp.fd, 0);
  const option_mapping *option = find_option(win::ipproto_ip, win::ip_multicast_if);
  ASSERT_NE(option, nullptr);
  const in_addr loopback = ipv4("127.0.0.1");
  EXPECT_EQ(set_option(udp.fd, *option, &loopback, sizeof loopback), STATUS_SUCCESS);
  in_addr out{};
  std::size_t written = 0;
  EXPECT_EQ(get_option(udp.fd, *option, &out, sizeof out, &written), STATUS_SUCCESS);
  EXPECT_EQ(written, 4u);
  EXPECT_EQ(out.s_addr, loopback.s_addr);

  // 0.0.0.x is an interface index in network byte order.
  const unsigned index = ::if_nametoindex("lo");
  ASSERT_NE(index, 0u);
  const std::uint32_t by_index = htonl(index);
  EXPECT_EQ(set_option(udp.fd, *option, &by_index, sizeof by_index), STATUS_SUCCESS);
  const std::uint32_t no_such_interface = htonl(0x00ffffffu);
  EXPECT_NE(set_option(udp.fd, *option, &no_such_interface, sizeof no_such_interface),
            STATUS_SUCCESS);
}

TEST(WskTranslate, PendingErrorIsAWinsockCode) {
  // A port nobody listens on: bind one, note its number, close it.
  sockaddr_in target{};
  target.sin_family = AF_INET;
  target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof target;
  {
    fd_guard probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::bind(probe.fd, reinterpret_cast<sockaddr *>(&target), sizeof target), 0);
    ASSERT_EQ(::getsockname(probe.fd, reinterpret_cast<sockaddr *>(&target), &length), 0);
  }
  fd_guard tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ASSERT_GE(tcp.fd, 0);
  const int result = ::connect(tcp.fd, reinterpret_cast<sockaddr *>(&target), sizeof target);
  ASSERT_TRUE(result == 0 || errno == EINPROGRESS || errno == ECONNREFUSED);
  if (result != 0 && errno == ECONNREFUSED) {
    GTEST_SKIP() << "the refusal was reported synchronously";
  }
  pollfd p{tcp.fd, POLLOUT, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  EXPECT_EQ(get_ulong(tcp.fd, win::sol_socket, win::so_error), 10061u); // WSAECONNREFUSED
  // Reading SO_ERROR clears it, on Windows as on Linux.
  EXPECT_EQ(get_ulong(tcp.fd, win::sol_socket, win::so_error), 0u);
}

TEST(WskTranslate, OptionValueSizes) {
  fd_guard tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(tcp.fd, 0);
  const option_mapping &nodelay = *find_option(win::ipproto_tcp, win::tcp_nodelay);
  const std::uint32_t one = 1;
  EXPECT_EQ(set_option(tcp.fd, nodelay, &one, 3), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(set_option(tcp.fd, nodelay, nullptr, 4), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(int_option(tcp.fd, IPPROTO_TCP, TCP_NODELAY), 0);
  // A longer value is accepted; its first ULONG counts.
  const std::uint64_t wide = 1;
  EXPECT_EQ(set_option(tcp.fd, nodelay, &wide, sizeof wide), STATUS_SUCCESS);
  EXPECT_EQ(int_option(tcp.fd, IPPROTO_TCP, TCP_NODELAY), 1);

  std::uint32_t out = 0xdeadbeef;
  std::size_t written = 99;
  EXPECT_EQ(get_option(tcp.fd, nodelay, &out, 3, &written), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(written, 0u);
  EXPECT_EQ(out, 0xdeadbeefu);
  EXPECT_EQ(get_option(tcp.fd, nodelay, nullptr, 4, &written), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(get_option(tcp.fd, nodelay, &out, 4, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(out, 1u);

  const option_mapping &linger_option = *find_option(win::sol_socket, win::so_linger);
  const unsigned char short_linger[2] = {1, 0};
  EXPECT_EQ(set_option(tcp.fd, linger_option, short_linger, sizeof short_linger),
            STATUS_INVALID_PARAMETER);

  // Set-only and emulated options are refused here; the provider handles the emulated ones.
  const option_mapping &join = *find_option(win::ipproto_ip, win::ip_add_membership);
  unsigned char request[8] = {};
  EXPECT_EQ(get_option(tcp.fd, join, request, sizeof request, &written), STATUS_INVALID_PARAMETER);
  const option_mapping &exclusive = *find_option(win::sol_socket, win::so_exclusiveaddruse);
  EXPECT_EQ(set_option(tcp.fd, exclusive, &one, sizeof one), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(get_option(tcp.fd, exclusive, &out, sizeof out, &written), STATUS_INVALID_PARAMETER);
}

TEST(WskTranslate, EmulatedBooleanValues) {
  const option_mapping &exclusive = *find_option(win::sol_socket, win::so_exclusiveaddruse);
  bool value = false;
  const std::uint32_t two = 2;
  EXPECT_EQ(read_bool_option(exclusive, &two, sizeof two, value), STATUS_SUCCESS);
  EXPECT_TRUE(value);
  const std::uint32_t zero = 0;
  EXPECT_EQ(read_bool_option(exclusive, &zero, sizeof zero, value), STATUS_SUCCESS);
  EXPECT_FALSE(value);
  EXPECT_EQ(read_bool_option(exclusive, &zero, 2, value), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(read_bool_option(exclusive, nullptr, 4, value), STATUS_INVALID_PARAMETER);

  std::uint32_t out = 0xdeadbeef;
  std::size_t written = 0;
  EXPECT_EQ(write_bool_option(exclusive, true, &out, sizeof out, &written), STATUS_SUCCESS);
  EXPECT_EQ(out, 1u);
  EXPECT_EQ(written, 4u);
  EXPECT_EQ(write_bool_option(exclusive, true, &out, 2, &written), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(written, 0u);
  const option_mapping &callback = *find_option(win::sol_socket, win::so_wsk_event_callback);
  EXPECT_EQ(write_bool_option(callback, true, &out, sizeof out, &written),
            STATUS_INVALID_PARAMETER);
}

// ---------------------------------------------------------------------------------------------
// Message flags and control messages.

TEST(WskTranslate, MessageFlags) {
  EXPECT_EQ(windows_message_flags(0), 0u);
  EXPECT_EQ(windows_message_flags(MSG_TRUNC), win::msg_trunc);
  EXPECT_EQ(windows_message_flags(MSG_CTRUNC), win::msg_ctrunc);
  EXPECT_EQ(windows_message_flags(MSG_TRUNC | MSG_CTRUNC | MSG_DONTWAIT | MSG_EOR),
            win::msg_trunc | win::msg_ctrunc);
}

TEST(WskTranslate, WindowsCmsgArithmetic) {
  EXPECT_EQ(windows_cmsg_len(win::in_pktinfo_size), 24u);
  EXPECT_EQ(windows_cmsg_space(win::in_pktinfo_size), 24u);
  EXPECT_EQ(windows_cmsg_len(win::in6_pktinfo_size), 36u);
  EXPECT_EQ(windows_cmsg_space(win::in6_pktinfo_size), 40u);
  EXPECT_EQ(windows_cmsg_len(4), 20u);
  EXPECT_EQ(windows_cmsg_space(4), 24u);
  EXPECT_EQ(windows_cmsg_space(0), 16u);
}

TEST(WskTranslate, Ipv4PacketInfoFromARealDatagram) {
  sockaddr_storage address;
  socklen_t length = 0;
  fd_guard receiver(bound_udp(AF_INET, address, length));
  ASSERT_GE(receiver.fd, 0);
  EXPECT_EQ(set_ulong(receiver.fd, win::ipproto_ip, win::ip_pktinfo, 1), STATUS_SUCCESS);
  EXPECT_EQ(set_ulong(receiver.fd, win::ipproto_ip, win::ip_recvttl, 1), STATUS_SUCCESS);
  fd_guard sender(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const int ttl = 42;
  ASSERT_EQ(::setsockopt(sender.fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl), 0);
  ASSERT_EQ(::sendto(sender.fd, "hello", 5, 0, reinterpret_cast<sockaddr *>(&address), length), 5);

  received r;
  ASSERT_TRUE(receive(receiver.fd, r));
  EXPECT_EQ(r.bytes, 5);
  unsigned char windows[128];
  std::memset(windows, 0xcc, sizeof windows);
  const received_control result = to_windows_control(r.message, windows, sizeof windows);
  EXPECT_EQ(result.flags, 0u);
  EXPECT_EQ(result.length, 24u + 24u);
  const auto objects = parse_windows_control(windows, result.length);
  ASSERT_EQ(objects.size(), 2u);

  const auto *info = &objects[0];
  const auto *hops = &objects[1];
  if (info->type != static_cast<int>(win::ip_pktinfo)) {
    std::swap(info, hops);
  }
  EXPECT_EQ(info->length, 24u);
  EXPECT_EQ(info->level, static_cast<int>(win::ipproto_ip));
  EXPECT_EQ(info->type, static_cast<int>(win::ip_pktinfo));
  ASSERT_EQ(info->data.size(), win::in_pktinfo_size);
  EXPECT_EQ(u32_at(info->data, win::in_pktinfo_addr_offset), htonl(INADDR_LOOPBACK));
  EXPECT_EQ(u32_at(info->data, win::in_pktinfo_ifindex_offset), ::if_nametoindex("lo"));

  EXPECT_EQ(hops->length, 20u);
  EXPECT_EQ(hops->level, static_cast<int>(win::ipproto_ip));
  EXPECT_EQ(hops->type, static_cast<int>(win::ip_ttl));
  ASSERT_EQ(hops->data.size(), 4u);
  EXPECT_EQ(u32_at(hops->data, 0), 42u);
  EXPECT_EQ(windows[result.length], 0xcc) << "wrote past the reported length";
}

TEST(WskTranslate, Ipv6PacketInfoFromARealDatagram) {
  sockaddr_storage address;
  socklen_t length = 0;
  fd_guard receiver(bound_udp(AF_INET6, address, length));
  if (receiver.fd < 0) {
    GTEST_SKIP() << "no ::1 here";
  }
  EXPECT_EQ(set_ulong(receiver.fd, win::ipproto_ipv6, win::ipv6_pktinfo, 1), STATUS_SUCCESS);
  EXPECT_EQ(set_ulong(receiver.fd, win::ipproto_ipv6, win::ipv6_hoplimit, 1), STATUS_SUCCESS);
  fd_guard sender(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const int hops = 17;
  ASSERT_EQ(::setsockopt(sender.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops), 0);
  ASSERT_EQ(::sendto(sender.fd, "hello6", 6, 0, reinterpret_cast<sockaddr *>(&address), length), 6);

  received r;
  ASSERT_TRUE(receive(receiver.fd, r));
  unsigned char windows[128];
  const received_control result = to_windows_control(r.message, windows, sizeof windows);
  EXPECT_EQ(result.flags, 0u);
  EXPECT_EQ(result.length, 40u + 24u);
  const auto objects = parse_windows_control(windows, result.length);
  ASSERT_EQ(objects.size(), 2u);
  const auto *info = &objects[0];
  const auto *limit = &objects[1];
  if (info->type != static_cast<int>(win::ipv6_pktinfo)) {
    std::swap(info, limit);
  }
  EXPECT_EQ(info->length, 36u);
  EXPECT_EQ(info->level, static_cast<int>(win::ipproto_ipv6));
  EXPECT_EQ(info->type, static_cast<int>(win::ipv6_pktinfo));
  ASSERT_EQ(info->data.size(), win::in6_pktinfo_size);
  EXPECT_EQ(std::memcmp(info->data.data() + win::in6_pktinfo_addr_offset, &in6addr_loopback, 16),
            0);
  EXPECT_EQ(u32_at(info->data, win::in6_pktinfo_ifindex_offset), ::if_nametoindex("lo"));
  EXPECT_EQ(limit->level, static_cast<int>(win::ipproto_ipv6));
  EXPECT_EQ(limit->type, static_cast<int>(win::ipv6_hoplimit));
  EXPECT_EQ(u32_at(limit->data, 0), 17u);
}

TEST(WskTranslate, ControlTruncation) {
  sockaddr_storage address;
  socklen_t length = 0;
  fd_guard receiver(bound_udp(AF_INET, address, length));
  ASSERT_GE(receiver.fd, 0);
  EXPECT_EQ(set_ulong(receiver.fd, win::ipproto_ip, win::ip_pktinfo, 1), STATUS_SUCCESS);
  EXPECT_EQ(set_ulong(receiver.fd, win::ipproto_ip, win::ip_recvttl, 1), STATUS_SUCCESS);
  fd_guard sender(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  char payload[100] = {};
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(::sendto(sender.fd, payload, sizeof payload, 0,
                       reinterpret_cast<sockaddr *>(&address), length),
              100);
  }

  // The first datagram, into a 10-byte data buffer: MSG_TRUNC from Linux.
  received r;
  ASSERT_TRUE(receive(receiver.fd, r, 10));
  EXPECT_EQ(r.bytes, 10);

  // Room for the first object only: it is kept, the rest dropped, MSG_CTRUNC set.
  unsigned char windows[64];
  std::memset(windows, 0xcc, sizeof windows);
  received_control result = to_windows_control(r.message, windows, 24);
  EXPECT_EQ(result.flags, win::msg_trunc | win::msg_ctrunc);
  EXPECT_EQ(result.length, 24u);
  EXPECT_EQ(parse_windows_control(windows, result.length).size(), 1u);
  EXPECT_EQ(windows[24], 0xcc);

  // Room for nothing, or no buffer at all.
  result = to_windows_control(r.message, windows, 10);
  EXPECT_EQ(result.length, 0u);
  EXPECT_EQ(result.flags, win::msg_trunc | win::msg_ctrunc);
  result = to_windows_control(r.message, nullptr, 0);
  EXPECT_EQ(result.length, 0u);
  EXPECT_EQ(result.flags, win::msg_trunc | win::msg_ctrunc);

  // Packet information used for the flags only: the TTL object alone is delivered.
  result = to_windows_control(r.message, windows, sizeof windows, false);
  EXPECT_EQ(result.flags, win::msg_trunc);
  const auto objects = parse_windows_control(windows, result.length);
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_EQ(objects[0].type, static_cast<int>(win::ip_ttl));

  // The second datagram with a Linux control buffer too small for both: Linux's MSG_CTRUNC.
  ASSERT_TRUE(receive(receiver.fd, r, sizeof r.data, CMSG_SPACE(sizeof(in_pktinfo))));
  EXPECT_NE(r.message.msg_flags & MSG_CTRUNC, 0);
  result = to_windows_control(r.message, windows, sizeof windows);
  EXPECT_EQ(result.flags & win::msg_ctrunc, win::msg_ctrunc);
  EXPECT_EQ(result.flags & win::msg_trunc, 0u);
}

TEST(WskTranslate, BroadcastAndMulticastFlags) {
  EXPECT_EQ(destination_flags_v4("10.0.0.5", "10.0.0.5"), 0u);
  EXPECT_EQ(destination_flags_v4("224.0.0.1", "10.0.0.5"), win::msg_mcast);
  EXPECT_EQ(destination_flags_v4("239.1.2.3", "10.0.0.5"), win::msg_mcast);
  EXPECT_EQ(destination_flags_v4("10.0.0.255", "10.0.0.5"), win::msg_bcast);
  EXPECT_EQ(destination_flags_v4("255.255.255.255", "10.0.0.5"), win::msg_bcast);
  EXPECT_EQ(destination_flags_v6("2001:db8::1"), 0u);
  EXPECT_EQ(destination_flags_v6("ff02::1"), win::msg_mcast);
  EXPECT_EQ(destination_flags_v6("::ffff:224.0.0.1"), win::msg_mcast);
  EXPECT_EQ(destination_flags_v6("::ffff:255.255.255.255"), win::msg_bcast);
  EXPECT_EQ(destination_flags_v6("::ffff:10.0.0.5"), 0u);
}

TEST(WskTranslate, BroadcastFlagFromARealDatagram) {
  // 127.255.255.255 is the broadcast address of lo's 127.0.0.0/8.
  const int receiver_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  fd_guard receiver(receiver_fd);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  socklen_t length = sizeof any;
  ASSERT_EQ(::bind(receiver.fd, reinterpret_cast<sockaddr *>(&any), sizeof any), 0);
  ASSERT_EQ(::getsockname(receiver.fd, reinterpret_cast<sockaddr *>(&any), &length), 0);
  EXPECT_EQ(set_ulong(receiver.fd, win::ipproto_ip, win::ip_pktinfo, 1), STATUS_SUCCESS);

  fd_guard sender(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(set_ulong(sender.fd, win::sol_socket, win::so_broadcast, 1), STATUS_SUCCESS);
  sockaddr_in broadcast = any;
  broadcast.sin_addr = ipv4("127.255.255.255");
  if (::sendto(sender.fd, "b", 1, 0, reinterpret_cast<sockaddr *>(&broadcast), sizeof broadcast) !=
      1) {
    GTEST_SKIP() << "no loopback broadcast here: " << std::strerror(errno);
  }
  received r;
  ASSERT_TRUE(receive(receiver.fd, r));
  unsigned char windows[64];
  const received_control result = to_windows_control(r.message, windows, sizeof windows);
  EXPECT_EQ(result.flags, win::msg_bcast);
}

TEST(WskTranslate, SmallLinuxValuesBecomeWindowsInts) {
  // Linux reports a received TOS as a single byte; Windows as an INT.
  linux_control control;
  const unsigned char tos = 0xb8;
  control.add(IPPROTO_IP, IP_TOS, &tos, 1);
  const int tclass = 0x20;
  control.add(IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof tclass);
  const int timestamp[4] = {};
  control.add(SOL_SOCKET, SO_TIMESTAMP, timestamp, sizeof timestamp); // not translated: skipped
  const msghdr message = control.message();
  unsigned char windows[128];
  const received_control result = to_windows_control(message, windows, sizeof windows);
  const auto objects = parse_windows_control(windows, result.length);
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].level, static_cast<int>(win::ipproto_ip));
  EXPECT_EQ(objects[0].type, static_cast<int>(win::ip_tos));
  EXPECT_EQ(u32_at(objects[0].data, 0), 0xb8u);
  EXPECT_EQ(objects[1].level, static_cast<int>(win::ipproto_ipv6));
  EXPECT_EQ(objects[1].type, static_cast<int>(win::ipv6_tclass));
  EXPECT_EQ(u32_at(objects[1].data, 0), 0x20u);
}

// ---------------------------------------------------------------------------------------------
// Control data sent (WskSendTo's ControlInfo).

// A Windows control buffer built object by object with the WSA_CMSG rules.
struct windows_control_buffer {
  alignas(8) unsigned char bytes[256]{};
  std::size_t used = 0;
  void add(std::uint32_t level, std::uint32_t type, const void *data, std::size_t size) {
    const SIZE_T length = windows_cmsg_len(size);
    const INT level_value = static_cast<INT>(level);
    const INT type_value = static_cast<INT>(type);
    std::memcpy(bytes + used + win::cmsghdr_len_offset, &length, sizeof length);
    std::memcpy(bytes + used + win::cmsghdr_level_offset, &level_value, sizeof level_value);
    std::memcpy(bytes + used + win::cmsghdr_type_offset, &type_value, sizeof type_value);
    std::memcpy(bytes + used + win::cmsg_data_offset, data, size);
    used += windows_cmsg_space(size);
  }
};

TEST(WskTranslate, SentPacketInfoAndTtlReachARealPeer) {
  sockaddr_storage address;
  socklen_t length = 0;
  fd_guard receiver(bound_udp(AF_INET, address, length));
  ASSERT_GE(receiver.fd, 0);
  EXPECT_EQ(set_ulong(receiver.fd, win::ipproto_ip, win::ip_pktinfo, 1), STATUS_SUCCESS);
  EXPECT_EQ(set_ulong(receiver.fd, win::ipproto_ip, win::ip_recvttl, 1), STATUS_SUCCESS);

  // IN_PKTINFO {ipi_addr = 127.0.0.1 (the source), ipi_ifindex = 0} and a TTL of 9.
  unsigned char info[8] = {};
  const in_addr source = ipv4("127.0.0.1");
  std::memcpy(info + win::in_pktinfo_addr_offset, &source, 4);
  const INT ttl = 9;
  windows_control_buffer windows;
  windows.add(win::ipproto_ip, win::ip_pktinfo, info, sizeof info);
  windows.add(win::ipproto_ip, win::ip_ttl, &ttl, sizeof ttl);

  alignas(cmsghdr) unsigned char linux_buffer[256];
  std::size_t linux_length = 99;
  ASSERT_LE(linux_control_capacity(windows.used), sizeof linux_buffer);
  ASSERT_EQ(to_linux_control(windows.bytes, windows.used, linux_buffer,
                             linux_control_capacity(windows.used), linux_length),
            STATUS_SUCCESS);
  EXPECT_EQ(linux_length, CMSG_SPACE(sizeof(in_pktinfo)) + CMSG_SPACE(sizeof(int)));

  msghdr message{};
  message.msg_control = linux_buffer;
  message.msg_controllen = linux_length;
  const cmsghdr *first = CMSG_FIRSTHDR(&message);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->cmsg_level, IPPROTO_IP);
  EXPECT_EQ(first->cmsg_type, IP_PKTINFO);
  in_pktinfo linux_info;
  std::memcpy(&linux_info, CMSG_DATA(first), sizeof linux_info);
  EXPECT_EQ(linux_info.ipi_spec_dst.s_addr, source.s_addr);
  EXPECT_EQ(linux_info.ipi_ifindex, 0);

  fd_guard sender(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  iovec iov{const_cast<char *>("x"), 1};
  message.msg_name = &address;
  message.msg_namelen = length;
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  ASSERT_EQ(::sendmsg(sender.fd, &message, 0), 1) << std::strerror(errno);

  received r;
  ASSERT_TRUE(receive(receiver.fd, r));
  unsigned char back[128];
  const received_control result = to_windows_control(r.message, back, sizeof back);
  bool saw_ttl = false;
  for (const auto &object : parse_windows_control(back, result.length)) {
    if (object.type == static_cast<int>(win::ip_ttl)) {
      saw_ttl = true;
      EXPECT_EQ(u32_at(object.data, 0), 9u);
    }
  }
  EXPECT_TRUE(saw_ttl);
}

TEST(WskTranslate, SentIpv6PacketInfoAndHopLimitReachARealPeer) {
  sockaddr_storage address;
  socklen_t length = 0;
  fd_guard receiver(bound_udp(AF_INET6, address, length));
  if (receiver.fd < 0) {
    GTEST_SKIP() << "no ::1 here";
  }
  EXPECT_EQ(set_ulong(receiver.fd, win::ipproto_ipv6, win::ipv6_hoplimit, 1), STATUS_SUCCESS);
  unsigned char info[20] = {};
  std::memcpy(info + win::in6_pktinfo_addr_offset, &in6addr_loopback, 16);
  const INT hop_limit = 5;
  windows_control_buffer windows;
  windows.add(win::ipproto_ipv6, win::ipv6_pktinfo, info, sizeof info);
  windows.add(win::ipproto_ipv6, win::ipv6_hoplimit, &hop_limit, sizeof hop_limit);

  alignas(cmsghdr) unsigned char linux_buffer[256];
  std::size_t linux_length = 0;
  ASSERT_EQ(to_linux_control(windows.bytes, windows.used, linux_buffer, sizeof linux_buffer,
                             linux_length),
            STATUS_SUCCESS);
  EXPECT_EQ(linux_length, CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(int)));

  fd_guard sender(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  iovec iov{const_cast<char *>("y"), 1};
  msghdr message{};
  message.msg_name = &address;
  message.msg_namelen = length;
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = linux_buffer;
  message.msg_controllen = linux_length;
  ASSERT_EQ(::sendmsg(sender.fd, &message, 0), 1) << std::strerror(errno);

  received r;
  ASSERT_TRUE(receive(receiver.fd, r));
  unsigned char back[128];
  const received_control result = to_windows_control(r.message, back, sizeof back);
  const auto objects = parse_windows_control(back, result.length);
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_EQ(objects[0].type, static_cast<int>(win::ipv6_hoplimit));
  EXPECT_EQ(u32_at(objects[0].data, 0), 5u);
}

TEST(WskTranslate, MalformedWindowsControlData) {
  alignas(cmsghdr) unsigned char linux_buffer[256];
  std::size_t linux_length = 99;
  EXPECT_EQ(to_linux_control(nullptr, 0, linux_buffer, sizeof linux_buffer, linux_length),
            STATUS_SUCCESS);
  EXPECT_EQ(linux_length, 0u);
  EXPECT_EQ(to_linux_control(nullptr, 24, linux_buffer, sizeof linux_buffer, linux_length),
            STATUS_INVALID_PARAMETER);

  const INT value = 1;
  {
    windows_control_buffer unknown; // (IPPROTO_IP, 99) means nothing
    unknown.add(win::ipproto_ip, 99, &value, sizeof value);
    EXPECT_EQ(to_linux_control(unknown.bytes, unknown.used, linux_buffer, sizeof linux_buffer,
                               linux_length),
              STATUS_INVALID_PARAMETER);
  }
  {
    windows_control_buffer wrong_size; // IN_PKTINFO is 8 bytes, not 4
    wrong_size.add(win::ipproto_ip, win::ip_pktinfo, &value, sizeof value);
    EXPECT_EQ(to_linux_control(wrong_size.bytes, wrong_size.used, linux_buffer, sizeof linux_buffer,
                               linux_length),
              STATUS_INVALID_PARAMETER);
  }
  windows_control_buffer good;
  good.add(win::ipproto_ip, win::ip_ttl, &value, sizeof value);
  {
    auto too_long = good; // cmsg_len beyond the buffer
    const SIZE_T length = 64;
    std::memcpy(too_long.bytes + win::cmsghdr_len_offset, &length, sizeof length);
    EXPECT_EQ(to_linux_control(too_long.bytes, too_long.used, linux_buffer, sizeof linux_buffer,
                               linux_length),
              STATUS_INVALID_PARAMETER);
    const SIZE_T tiny = 8; // shorter than its own header
    std::memcpy(too_long.bytes + win::cmsghdr_len_offset, &tiny, sizeof tiny);
    EXPECT_EQ(to_linux_control(too_long.bytes, too_long.used, linux_buffer, sizeof linux_buffer,
                               linux_length),
              STATUS_INVALID_PARAMETER);
  }
  // The last object may come without its padding, and bytes too few for a header are ignored.
  EXPECT_EQ(to_linux_control(good.bytes, windows_cmsg_len(sizeof value), linux_buffer,
                             sizeof linux_buffer, linux_length),
            STATUS_SUCCESS);
  EXPECT_EQ(linux_length, CMSG_SPACE(sizeof(int)));
  EXPECT_EQ(
      to_linux_control(good.bytes, good.used + 8, linux_buffer, sizeof linux_buffer, linux_length),
      STATUS_SUCCESS);
  EXPECT_EQ(linux_length, CMSG_SPACE(sizeof(int)));
  // A Linux buffer too small.
  EXPECT_EQ(to_linux_control(good.bytes, good.used, linux_buffer, CMSG_SPACE(sizeof(int)) - 1,
                             linux_length),
            STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(linux_length, 0u);
}

} // namespace

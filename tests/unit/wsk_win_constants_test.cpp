// win_constants.hpp against the Windows headers it is generated from. This file includes the
// Windows Winsock headers (and no Linux socket header): the generator's static_asserts prove
// that every generated value equals its macro, and the control-message arithmetic of
// src/wsk/linux/translate.cpp is compared with the WSA_CMSG_* macros.
#include <gtest/gtest.h>

#include <cstddef>

#include <mstcpip.h>
#include <wsk.h>

#include "win_constants.hpp"
#include "win_constants_check.inc"

// From src/wsk/linux/translate.hpp, which cannot be included here: it includes <sys/socket.h>.
namespace uwsk::wsk {
std::size_t windows_cmsg_len(std::size_t payload);
std::size_t windows_cmsg_space(std::size_t payload);
} // namespace uwsk::wsk

namespace {

TEST(WskWinConstants, CmsgArithmeticMatchesTheMacros) {
  for (std::size_t payload = 0; payload <= 64; ++payload) {
    EXPECT_EQ(uwsk::wsk::windows_cmsg_len(payload), WSA_CMSG_LEN(payload)) << payload;
    EXPECT_EQ(uwsk::wsk::windows_cmsg_space(payload), WSA_CMSG_SPACE(payload)) << payload;
  }
  WSACMSGHDR header[2] = {};
  EXPECT_EQ(uwsk::win::cmsg_data_offset,
            static_cast<std::size_t>(WSA_CMSG_DATA(header) - reinterpret_cast<PUCHAR>(header)));
}

TEST(WskWinConstants, SpotValues) {
  // A few Windows values (docs/wsk-behaviour.md, "Addresses and constants"), restated
  // independently of the headers.
  EXPECT_EQ(uwsk::win::af_inet6, 23u);
  EXPECT_EQ(uwsk::win::sol_socket, 0xffffu);
  EXPECT_EQ(uwsk::win::so_exclusiveaddruse, 0xfffffffbu);
  EXPECT_EQ(uwsk::win::ipv6_v6only, 27u);
  EXPECT_EQ(uwsk::win::ip_pktinfo, 19u);
  EXPECT_EQ(uwsk::win::msg_bcast, 0x400u);
  EXPECT_EQ(uwsk::win::sockaddr_in6_size, 28u);
  EXPECT_EQ(uwsk::win::in6_pktinfo_size, 20u);
  EXPECT_EQ(uwsk::win::addrinfoexw_size, 72u);
  EXPECT_EQ(uwsk::win::addrinfoexw_next_offset, 64u);
  EXPECT_EQ(uwsk::win::sio_wsk_set_tcp_silent_mode, 0x2f000007u);
  EXPECT_EQ(uwsk::win::sio_loopback_fast_path, 0x98000010u);
}

} // namespace

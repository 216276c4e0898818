// A registered WSK client for provider tests, and the GoogleTest fixture built on it: WskRegister
// and WskCaptureProviderNPI in SetUp, WskReleaseProviderNPI and WskDeregister in TearDown, sockets
// made through the provider's WskSocket, and connection sockets connected to POSIX peers.
// (Header only: test files include <wsk.h>, so no Linux socket header may appear here; the peer
// side is support/posix_peer.hpp.)
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <type_traits>

#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/wsk_call.hpp"

namespace uwsk::test {

// The client dispatch table of a WSK 1.0 client.
inline const WSK_CLIENT_DISPATCH client_dispatch = {MAKE_WSK_VERSION(1, 0), 0, nullptr};

// The Windows address family of family 4 or 6.
inline ADDRESS_FAMILY wsk_family_of(int family) {
  return family == 6 ? AF_INET6 : AF_INET;
}

// A registration with its captured provider NPI, and what WskSocket gives the sockets it makes.
struct wsk_client {
  WSK_REGISTRATION registration{};
  WSK_PROVIDER_NPI npi{};
  // The SocketContext of every socket made here, and the client's table of event callbacks for
  // each category (the Dispatch argument of WskSocket; nullptr: none).
  PVOID socket_context = nullptr;
  const WSK_CLIENT_LISTEN_DISPATCH *listen_events = nullptr;
  const WSK_CLIENT_CONNECTION_DISPATCH *connection_events = nullptr;
  const WSK_CLIENT_DATAGRAM_DISPATCH *datagram_events = nullptr;
  const WSK_CLIENT_STREAM_DISPATCH *stream_events = nullptr;

  // WskRegister and WskCaptureProviderNPI, each asserted to succeed (a failure returns at once).
  void attach(const WSK_CLIENT_DISPATCH *dispatch = &client_dispatch) {
    WSK_CLIENT_NPI client = {nullptr, dispatch};
    ASSERT_EQ(WskRegister(&client, &registration), STATUS_SUCCESS);
    ASSERT_EQ(WskCaptureProviderNPI(&registration, WSK_NO_WAIT, &npi), STATUS_SUCCESS);
  }
  void detach() {
    WskReleaseProviderNPI(&registration);
    WskDeregister(&registration);
  }

  // The Dispatch argument of WskSocket for a socket of category `flags`.
  const void *events_for(ULONG flags) const {
    switch (flags) {
    case WSK_FLAG_LISTEN_SOCKET:
      return listen_events;
    case WSK_FLAG_CONNECTION_SOCKET:
      return connection_events;
    case WSK_FLAG_DATAGRAM_SOCKET:
      return datagram_events;
    case WSK_FLAG_STREAM_SOCKET:
      return stream_events;
    default:
      return nullptr;
    }
  }

  // WskSocket with an IRP, expected to succeed at once; returns the new socket.
  PWSK_SOCKET make_socket(ADDRESS_FAMILY family, ULONG flags, USHORT type = SOCK_STREAM,
                          ULONG protocol = IPPROTO_TCP, PSECURITY_DESCRIPTOR descriptor = nullptr) {
    call c;
    c.returned = npi.Dispatch->WskSocket(npi.Client, family, type, protocol, flags, socket_context,
                                         events_for(flags), nullptr, nullptr, descriptor, c.irp);
    EXPECT_EQ(c.returned, STATUS_SUCCESS);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
    return reinterpret_cast<PWSK_SOCKET>(c.information());
  }
};

// The fixture of provider tests. Family 0: a fixture parameterised by the address family
// (TestWithParam<int> of 4 or 6); 4 or 6: a plain fixture on that family.
template <int Family = 0>
struct wsk_fixture
    : std::conditional_t<Family == 0, ::testing::TestWithParam<int>, ::testing::Test>,
      wsk_client {
  static_assert(Family == 0 || Family == 4 || Family == 6, "a family is 4 or 6");

  int family() const {
    if constexpr (Family == 0) {
      return this->GetParam();
    } else {
      return Family;
    }
  }
  ADDRESS_FAMILY wsk_family() const { return wsk_family_of(family()); }

  void SetUp() override { attach(); }
  void TearDown() override { detach(); }

  // A socket of the fixture's family (wsk_client::make_socket, which takes the family first,
  // is hidden here).
  PWSK_SOCKET make_socket(ULONG flags, USHORT type = SOCK_STREAM, ULONG protocol = IPPROTO_TCP,
                          PSECURITY_DESCRIPTOR descriptor = nullptr) {
    return wsk_client::make_socket(wsk_family(), flags, type, protocol, descriptor);
  }
  // A socket bound to loopback with a kernel-chosen port.
  PWSK_SOCKET make_bound_socket(ULONG flags, USHORT type = SOCK_STREAM,
                                ULONG protocol = IPPROTO_TCP) {
    PWSK_SOCKET s = make_socket(flags, type, protocol);
    EXPECT_EQ(bind_socket(s, loopback(family(), 0)), STATUS_SUCCESS);
    return s;
  }
  // A listening socket on loopback with a kernel-chosen port, stored in *port.
  PWSK_SOCKET bound_listener(unsigned short *port) {
    PWSK_SOCKET s = make_bound_socket(WSK_FLAG_LISTEN_SOCKET);
    address local;
    std::memset(&local, 0xcc, sizeof(local));
    call c;
    c.returned = of<WSK_PROVIDER_LISTEN_DISPATCH>(s)->WskGetLocalAddress(s, &local.sa, c.irp);
    EXPECT_EQ(c.returned, STATUS_SUCCESS);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
    EXPECT_EQ(local.sa.sa_family, wsk_family());
    *port = port_of(local);
    return s;
  }
  // A connection socket bound to loopback and connected to a POSIX listener; *peer is the
  // accepted POSIX side (-1 when the accept failed).
  PWSK_SOCKET connected(int *peer) {
    unsigned short port = 0;
    const int server = peer_listen(family(), &port);
    PWSK_SOCKET s = make_bound_socket(WSK_FLAG_CONNECTION_SOCKET);
    address remote = loopback(family(), port);
    call c;
    c.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskConnect(s, &remote.sa, 0, c.irp);
    EXPECT_TRUE(c.returned == STATUS_SUCCESS || c.returned == STATUS_PENDING);
    EXPECT_EQ(c.wait(), STATUS_SUCCESS);
    EXPECT_EQ(c.information(), 0u);
    *peer = peer_accept(server, timeout_ms);
    peer_close(server);
    return s;
  }
};

// The names of a parameterised provider fixture's two instances (IPv4, IPv6), for
// INSTANTIATE_TEST_SUITE_P(Families, fixture, ::testing::Values(4, 6), family_name).
inline std::string family_name(const ::testing::TestParamInfo<int> &info) {
  return info.param == 6 ? "IPv6" : "IPv4";
}

} // namespace uwsk::test

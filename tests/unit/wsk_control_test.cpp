// WskControlSocket and WskControlClient through the provider's dispatch tables: every option's
// set/get round trip on real sockets (IPv4 and IPv6), the timing and IRP rules, the IOCTLs, the
// address-sharing matrix of WskBind, the transport list, cached security descriptors, static
// event callbacks and the cancellation of pending change notifications. Every call's returned
// status and, with an IRP, the IRP's final status and Information are checked; outputs start
// as 0xdeadbeef.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <mstcpip.h>
#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/timing.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;

// What a WskControlSocket or WskControlClient call came to.
struct outcome {
  NTSTATUS returned;
  NTSTATUS final_status; // the IRP's (the returned status without an IRP)
  ULONG_PTR information; // the IRP's Information (sentinel without an IRP)
};

// A registration with a captured provider NPI for the life of the object.
struct client : wsk_client {
  client() { attach(); }
  ~client() { detach(); }
  client(const client &) = delete;
  client &operator=(const client &) = delete;

  outcome control(ULONG code, SIZE_T in_size, PVOID in, SIZE_T out_size, PVOID out,
                  SIZE_T *returned, bool with_irp = false) {
    if (!with_irp) {
      const NTSTATUS status = npi.Dispatch->WskControlClient(npi.Client, code, in_size, in,
                                                             out_size, out, returned, nullptr);
      return {status, status, sentinel};
    }
    call c;
    c.returned = npi.Dispatch->WskControlClient(npi.Client, code, in_size, in, out_size, out,
                                                returned, c.irp);
    const NTSTATUS final_status = c.wait();
    EXPECT_EQ(c.returned, final_status);
    return {c.returned, final_status, c.information()};
  }
};

// The local address of a datagram socket (WskGetLocalAddress sits at another slot of the other
// tables).
address datagram_local_address(PWSK_SOCKET s) {
  address local;
  std::memset(&local, 0xcc, sizeof(local));
  call c;
  c.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskGetLocalAddress(s, &local.sa, c.irp);
  EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  return local;
}

// WskControlSocket with or without an IRP.
outcome control(PWSK_SOCKET s, WSK_CONTROL_SOCKET_TYPE type, ULONG code, ULONG level,
                SIZE_T in_size, PVOID in, SIZE_T out_size, PVOID out, SIZE_T *returned,
                bool with_irp = true) {
  const auto *d = of<WSK_PROVIDER_BASIC_DISPATCH>(s);
  if (!with_irp) {
    const NTSTATUS status =
        d->WskControlSocket(s, type, code, level, in_size, in, out_size, out, returned, nullptr);
    return {status, status, sentinel};
  }
  call c;
  c.returned =
      d->WskControlSocket(s, type, code, level, in_size, in, out_size, out, returned, c.irp);
  const NTSTATUS final_status = c.wait();
  EXPECT_EQ(c.returned, final_status);
  return {c.returned, final_status, c.information()};
}

// Sets a ULONG option with an IRP; the IRP must report 0 bytes of output.
NTSTATUS set_ulong(PWSK_SOCKET s, ULONG level, ULONG name, ULONG value) {
  const outcome o =
      control(s, WskSetOption, name, level, sizeof(value), &value, 0, nullptr, nullptr);
  EXPECT_EQ(o.information, 0u) << "option " << name;
  return o.final_status;
}

// Reads a ULONG option with an IRP; on success the IRP reports 4 bytes.
ULONG get_ulong(PWSK_SOCKET s, ULONG level, ULONG name, NTSTATUS expected = STATUS_SUCCESS) {
  ULONG value = static_cast<ULONG>(sentinel);
  const outcome o =
      control(s, WskGetOption, name, level, 0, nullptr, sizeof(value), &value, nullptr);
  EXPECT_EQ(o.final_status, expected) << "option " << name;
  if (NT_SUCCESS(expected)) {
    EXPECT_EQ(o.information, sizeof(ULONG)) << "option " << name;
  }
  return value;
}

struct control_socket : wsk_fixture<> {
  PWSK_SOCKET datagram() { return make_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP); }
};

INSTANTIATE_TEST_SUITE_P(Families, control_socket, ::testing::Values(4, 6), family_name);

// ---- Options ---------------------------------------------------------------------------------

TEST_P(control_socket, OptionRoundTripsOnConnectionSockets) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  struct row {
    ULONG level, name, value;
  };
  const row rows[] = {
      {SOL_SOCKET, SO_KEEPALIVE, 1},
      {SOL_SOCKET, SO_KEEPALIVE, 0},
      {SOL_SOCKET, SO_RCVBUF, 65536},
      {SOL_SOCKET, SO_SNDBUF, 131072},
      {IPPROTO_TCP, TCP_NODELAY, 1},
      {IPPROTO_TCP, TCP_NODELAY, 0},
      {IPPROTO_TCP, TCP_KEEPALIVE, 30},
      {IPPROTO_TCP, TCP_KEEPCNT, 5},
      {IPPROTO_TCP, TCP_KEEPINTVL, 7},
      {SOL_SOCKET, SO_REUSEADDR, 1},
      {SOL_SOCKET, SO_REUSEADDR, 0},
      {SOL_SOCKET, static_cast<ULONG>(SO_EXCLUSIVEADDRUSE), 1},
      {SOL_SOCKET, static_cast<ULONG>(SO_EXCLUSIVEADDRUSE), 0},
  };
  for (const row &r : rows) {
    EXPECT_EQ(set_ulong(s, r.level, r.name, r.value), STATUS_SUCCESS) << r.name;
    EXPECT_EQ(get_ulong(s, r.level, r.name), r.value) << r.name;
  }
  // Family-specific options.
  if (family() == 6) {
    EXPECT_EQ(get_ulong(s, IPPROTO_IPV6, IPV6_V6ONLY), 1u); // the Windows default
    EXPECT_EQ(set_ulong(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 33), STATUS_SUCCESS);
    EXPECT_EQ(get_ulong(s, IPPROTO_IPV6, IPV6_UNICAST_HOPS), 33u);
    EXPECT_EQ(set_ulong(s, IPPROTO_IPV6, IPV6_V6ONLY, 0), STATUS_SUCCESS);
    EXPECT_EQ(get_ulong(s, IPPROTO_IPV6, IPV6_V6ONLY), 0u);
  } else {
    EXPECT_EQ(set_ulong(s, IPPROTO_IP, IP_TTL, 33), STATUS_SUCCESS);
    EXPECT_EQ(get_ulong(s, IPPROTO_IP, IP_TTL), 33u);
    EXPECT_EQ(set_ulong(s, IPPROTO_IP, IP_TOS, 0x10), STATUS_SUCCESS);
    EXPECT_EQ(get_ulong(s, IPPROTO_IP, IP_TOS), 0x10u);
  }
  // Get-only options.
  EXPECT_EQ(get_ulong(s, SOL_SOCKET, SO_TYPE), static_cast<ULONG>(SOCK_STREAM));
  EXPECT_EQ(get_ulong(s, SOL_SOCKET, SO_ERROR), 0u);
  EXPECT_EQ(set_ulong(s, SOL_SOCKET, SO_TYPE, SOCK_DGRAM), STATUS_INVALID_PARAMETER);
  // SO_LINGER has 16-bit fields on Windows.
  struct {
    USHORT onoff, seconds;
  } linger_value = {1, 5}, read_back = {0xcccc, 0xcccc};
  outcome o = control(s, WskSetOption, SO_LINGER, SOL_SOCKET, sizeof(linger_value), &linger_value,
                      0, nullptr, nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  o = control(s, WskGetOption, SO_LINGER, SOL_SOCKET, 0, nullptr, sizeof(read_back), &read_back,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  EXPECT_EQ(o.information, 4u);
  EXPECT_EQ(read_back.onoff, 1);
  EXPECT_EQ(read_back.seconds, 5);
  // SO_REUSEADDR and SO_EXCLUSIVEADDRUSE exclude each other, as in Winsock.
  EXPECT_EQ(set_ulong(s, SOL_SOCKET, SO_REUSEADDR, 1), STATUS_SUCCESS);
  EXPECT_EQ(set_ulong(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(get_ulong(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE), 0u);
  // SO_CONDITIONAL_ACCEPT belongs to listening sockets.
  EXPECT_EQ(set_ulong(s, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, 1), STATUS_INVALID_PARAMETER);
  close_socket(s);
}

TEST_P(control_socket, OptionRoundTripsOnListeningAndDatagramSockets) {
  PWSK_SOCKET listener = make_socket(WSK_FLAG_LISTEN_SOCKET);
  EXPECT_EQ(get_ulong(listener, SOL_SOCKET, SO_CONDITIONAL_ACCEPT), 0u);
  EXPECT_EQ(set_ulong(listener, SOL_SOCKET, SO_CONDITIONAL_ACCEPT, 1), STATUS_SUCCESS);
  EXPECT_EQ(get_ulong(listener, SOL_SOCKET, SO_CONDITIONAL_ACCEPT), 1u);
  EXPECT_EQ(set_ulong(listener, SOL_SOCKET, SO_KEEPALIVE, 1), STATUS_SUCCESS);
  EXPECT_EQ(get_ulong(listener, SOL_SOCKET, SO_KEEPALIVE), 1u);
  close_socket(listener);

  PWSK_SOCKET d = datagram();
  EXPECT_EQ(get_ulong(d, SOL_SOCKET, SO_TYPE), static_cast<ULONG>(SOCK_DGRAM));
  EXPECT_EQ(get_ulong(d, SOL_SOCKET, SO_BROADCAST), 0u);
  EXPECT_EQ(set_ulong(d, SOL_SOCKET, SO_BROADCAST, 1), STATUS_SUCCESS);
  EXPECT_EQ(get_ulong(d, SOL_SOCKET, SO_BROADCAST), 1u);
  EXPECT_EQ(set_ulong(d, SOL_SOCKET, SO_RCVBUF, 32768), STATUS_SUCCESS);
  EXPECT_EQ(get_ulong(d, SOL_SOCKET, SO_RCVBUF), 32768u);
  const ULONG level = family() == 6 ? IPPROTO_IPV6 : IPPROTO_IP;
  const ULONG pktinfo = family() == 6 ? IPV6_PKTINFO : IP_PKTINFO;
  EXPECT_EQ(set_ulong(d, level, pktinfo, 1), STATUS_SUCCESS);
  EXPECT_EQ(get_ulong(d, level, pktinfo), 1u);
  close_socket(d);
}

// Every other row of the provider's option table, set and read back on a real socket of the
// kind it applies to. Interface indexes name lo (index 1); IP_UNICAST_IF takes it in network
// byte order, IPV6_MULTICAST_IF in host order, as on Windows.
TEST_P(control_socket, EveryTableOptionRoundTrips) {
  struct row {
    bool tcp;   // the socket: TCP connection socket, or UDP datagram socket
    int family; // 4, 6, or 0 for both
    ULONG level, name, value;
  };
  const row rows[] = {
      {true, 0, SOL_SOCKET, SO_DONTROUTE, 1},
      {true, 0, SOL_SOCKET, SO_OOBINLINE, 1},
      {true, 0, SOL_SOCKET, static_cast<ULONG>(SO_DONTLINGER), 0},
      {true, 0, SOL_SOCKET, static_cast<ULONG>(SO_DONTLINGER), 1},
      {true, 0, SOL_SOCKET, SO_RCVLOWAT, 10},
      {true, 0, IPPROTO_TCP, TCP_MAXSEG, 1000},
      {true, 0, IPPROTO_TCP, TCP_MAXRT, 10},
      {true, 0, IPPROTO_TCP, TCP_MAXRTMS, 5000},
      {true, 0, IPPROTO_TCP, TCP_FASTOPEN, 1},
      {true, 4, IPPROTO_IP, IP_DONTFRAGMENT, 1},
      {false, 4, IPPROTO_IP, IP_MULTICAST_IF, RtlUlongByteSwap(INADDR_LOOPBACK)},
      {false, 4, IPPROTO_IP, IP_MULTICAST_TTL, 5},
      {false, 4, IPPROTO_IP, IP_MULTICAST_LOOP, 0},
      {false, 4, IPPROTO_IP, IP_RECVTTL, 1},
      {false, 4, IPPROTO_IP, IP_RECVTOS, 1},
      {false, 4, IPPROTO_IP, IP_UNICAST_IF, RtlUlongByteSwap(1)},
      {false, 6, IPPROTO_IPV6, IPV6_MULTICAST_IF, 1},
      {false, 6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 5},
      {false, 6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0},
      {false, 6, IPPROTO_IPV6, IPV6_DONTFRAG, 1},
      {false, 6, IPPROTO_IPV6, IPV6_HOPLIMIT, 1},
      {false, 6, IPPROTO_IPV6, IPV6_TCLASS, 0x20},
      {false, 6, IPPROTO_IPV6, IPV6_RECVTCLASS, 1},
  };
  PWSK_SOCKET tcp = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  PWSK_SOCKET udp = datagram();
  for (const row &r : rows) {
    if (r.family != 0 && r.family != family()) {
      continue;
    }
    PWSK_SOCKET s = r.tcp ? tcp : udp;
    EXPECT_EQ(set_ulong(s, r.level, r.name, r.value), STATUS_SUCCESS) << r.level << "/" << r.name;
    EXPECT_EQ(get_ulong(s, r.level, r.name), r.value) << r.level << "/" << r.name;
  }
  // Membership options are set-only; SO_ACCEPTCONN is get-only and reports listening.
  const ULONG join = family() == 6 ? IPPROTO_IPV6 : IPPROTO_IP;
  get_ulong(udp, join, family() == 6 ? IPV6_JOIN_GROUP : IP_ADD_MEMBERSHIP,
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(get_ulong(tcp, SOL_SOCKET, SO_ACCEPTCONN), 0u);
  EXPECT_EQ(set_ulong(tcp, SOL_SOCKET, SO_ACCEPTCONN, 1), STATUS_INVALID_PARAMETER);
  close_socket(udp);
  close_socket(tcp);
  PWSK_SOCKET listener = make_socket(WSK_FLAG_LISTEN_SOCKET);
  ASSERT_EQ(bind_socket(listener, loopback(family(), 0)), STATUS_SUCCESS);
  EXPECT_EQ(get_ulong(listener, SOL_SOCKET, SO_ACCEPTCONN), 1u);
  close_socket(listener);
}

TEST_P(control_socket, BeforeBindOptionsAreRefusedAfterBind) {
  PWSK_SOCKET listener = make_socket(WSK_FLAG_LISTEN_SOCKET);
  ASSERT_EQ(bind_socket(listener, loopback(family(), 0)), STATUS_SUCCESS);
  for (ULONG name : {static_cast<ULONG>(SO_REUSEADDR), static_cast<ULONG>(SO_EXCLUSIVEADDRUSE),
                     static_cast<ULONG>(SO_CONDITIONAL_ACCEPT)}) {
    EXPECT_EQ(set_ulong(listener, SOL_SOCKET, name, 1), STATUS_INVALID_DEVICE_STATE) << name;
    EXPECT_EQ(get_ulong(listener, SOL_SOCKET, name), 0u) << name; // reading stays allowed
  }
  if (family() == 6) {
    EXPECT_EQ(set_ulong(listener, IPPROTO_IPV6, IPV6_V6ONLY, 0), STATUS_INVALID_DEVICE_STATE);
    EXPECT_EQ(get_ulong(listener, IPPROTO_IPV6, IPV6_V6ONLY), 1u);
  }
  // Options without a timing rule still work.
  EXPECT_EQ(set_ulong(listener, SOL_SOCKET, SO_KEEPALIVE, 1), STATUS_SUCCESS);
  close_socket(listener);
}

TEST_P(control_socket, UnknownOptionsCodesAndRequestTypes) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  ULONG value = 1;
  EXPECT_EQ(set_ulong(s, SOL_SOCKET, 0x7777, 1), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(set_ulong(s, 0x1234, SO_KEEPALIVE, 1), STATUS_INVALID_PARAMETER);
  get_ulong(s, IPPROTO_TCP, 0x7777, STATUS_INVALID_PARAMETER);
  outcome o = control(s, static_cast<WSK_CONTROL_SOCKET_TYPE>(WskControlMax), SO_KEEPALIVE,
                      SOL_SOCKET, sizeof(value), &value, 0, nullptr, nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_PARAMETER);
  EXPECT_EQ(o.information, 0u);
  o = control(s, WskIoctl, 0x98765432u, 0, 0, nullptr, 0, nullptr, nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_DEVICE_REQUEST);
  // A value shorter than the option's, and an output too small for it.
  o = control(s, WskSetOption, SO_KEEPALIVE, SOL_SOCKET, 2, &value, 0, nullptr, nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_PARAMETER);
  USHORT small = 0xcccc;
  o = control(s, WskGetOption, SO_KEEPALIVE, SOL_SOCKET, 0, nullptr, sizeof(small), &small,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(o.information, 0u);
  EXPECT_EQ(small, 0xcccc);
  // SO_WSK_EVENT_CALLBACK is set-only.
  get_ulong(s, SOL_SOCKET, SO_WSK_EVENT_CALLBACK, STATUS_INVALID_PARAMETER);
  close_socket(s);
}

// Rule V65: an IRP where it must be NULL, or none where one is required, is refused.
TEST_P(control_socket, IrpRequiredAndIrpMustBeNull) {
  PWSK_SOCKET d = datagram();
  ULONG value = 1;
  SIZE_T returned = sentinel;
  // Options need an IRP, for set and get.
  outcome o = control(d, WskSetOption, SO_RCVBUF, SOL_SOCKET, sizeof(value), &value, 0, nullptr,
                      &returned, false);
  EXPECT_EQ(o.returned, STATUS_INVALID_PARAMETER);
  o = control(d, WskGetOption, SO_RCVBUF, SOL_SOCKET, 0, nullptr, sizeof(value), &value, &returned,
              false);
  EXPECT_EQ(o.returned, STATUS_INVALID_PARAMETER);
  EXPECT_EQ(value, 1u);
  // IOCTLs that need one.
  for (ULONG code : {static_cast<ULONG>(SIO_WSK_SET_REMOTE_ADDRESS),
                     static_cast<ULONG>(SIO_WSK_SET_SENDTO_ADDRESS),
                     static_cast<ULONG>(SIO_ADDRESS_LIST_CHANGE)}) {
    o = control(d, WskIoctl, code, 0, 0, nullptr, 0, nullptr, &returned, false);
    EXPECT_EQ(o.returned, STATUS_INVALID_PARAMETER) << std::hex << code;
  }
  // IOCTLs that must have none: the IRP is completed with the failure.
  SOCKET_ADDRESS_LIST list;
  o = control(d, WskIoctl, SIO_ADDRESS_LIST_QUERY, 0, 0, nullptr, sizeof(list), &list, nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_PARAMETER);
  EXPECT_EQ(o.information, 0u);
  WSK_INSPECT_ID id;
  o = control(d, WskIoctl, SIO_WSK_QUERY_INSPECT_ID, 0, 0, nullptr, sizeof(id), &id, nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_PARAMETER);
  WSK_EXTENSION_CONTROL_IN extension = {&NPI_WSK_INTERFACE_ID, nullptr, nullptr};
  WSK_EXTENSION_CONTROL_OUT extension_out;
  o = control(d, WskIoctl, SIO_WSK_REGISTER_EXTENSION, 0, sizeof(extension), &extension,
              sizeof(extension_out), &extension_out, nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_PARAMETER);
  // Without the IRP: no extension exists, and no socket was accepted by conditional accept.
  o = control(d, WskIoctl, SIO_WSK_REGISTER_EXTENSION, 0, sizeof(extension), &extension,
              sizeof(extension_out), &extension_out, &returned, false);
  EXPECT_EQ(o.returned, STATUS_NOT_SUPPORTED);
  o = control(d, WskIoctl, SIO_WSK_QUERY_INSPECT_ID, 0, 0, nullptr, sizeof(id), &id, &returned,
              false);
  EXPECT_EQ(o.returned, STATUS_INVALID_DEVICE_REQUEST);
  EXPECT_EQ(returned, sentinel); // failures leave OutputSizeReturned alone
  close_socket(d);
}

// ---- Event callbacks (stored now, delivered by the event machinery) ----------------------------

outcome event_control(PWSK_SOCKET s, const NPIID *npi, ULONG mask, bool with_irp) {
  WSK_EVENT_CALLBACK_CONTROL ctl = {npi, mask};
  return control(s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(ctl), &ctl, 0, nullptr,
                 nullptr, with_irp);
}

TEST_P(control_socket, EventCallbackControlRules) {
  PWSK_SOCKET listener = make_socket(WSK_FLAG_LISTEN_SOCKET);
  ASSERT_EQ(bind_socket(listener, loopback(family(), 0)), STATUS_SUCCESS);
  // Enabling: no IRP.
  EXPECT_EQ(event_control(listener, &NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT, false).returned,
            STATUS_SUCCESS);
  EXPECT_EQ(event_control(listener, &NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT, true).final_status,
            STATUS_INVALID_PARAMETER);
  // Disabling: exactly one event, IRP optional.
  outcome o =
      event_control(listener, &NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE, true);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  EXPECT_EQ(o.information, 0u);
  EXPECT_EQ(
      event_control(listener, &NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE, false)
          .returned,
      STATUS_SUCCESS);
  EXPECT_EQ(event_control(listener, &NPI_WSK_INTERFACE_ID,
                          WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, false)
                .returned,
            STATUS_INVALID_PARAMETER);
  // Connection events may be enabled on a listener (they apply to accepted sockets).
  EXPECT_EQ(event_control(listener, &NPI_WSK_INTERFACE_ID,
                          WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT, false)
                .returned,
            STATUS_SUCCESS);
  // Events of another category, no events, no NPI, an unknown NPI.
  EXPECT_EQ(event_control(listener, &NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM, false).returned,
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(event_control(listener, &NPI_WSK_INTERFACE_ID, 0, false).returned,
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(event_control(listener, nullptr, WSK_EVENT_ACCEPT, false).returned,
            STATUS_INVALID_PARAMETER);
  const NPIID other = {0x12345678, 1, 2, {3, 4, 5, 6, 7, 8, 9, 10}};
  EXPECT_EQ(event_control(listener, &other, WSK_EVENT_ACCEPT, false).returned,
            STATUS_NOT_SUPPORTED);
  close_socket(listener);

  PWSK_SOCKET d = datagram();
  ASSERT_EQ(bind_socket(d, loopback(family(), 0)), STATUS_SUCCESS);
  EXPECT_EQ(event_control(d, &NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM, false).returned,
            STATUS_SUCCESS);
  EXPECT_EQ(event_control(d, &NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT, false).returned,
            STATUS_INVALID_PARAMETER);
  close_socket(d);

  // A basic socket has no events without an extension interface.
  PWSK_SOCKET basic = make_socket(WSK_FLAG_BASIC_SOCKET);
  EXPECT_EQ(event_control(basic, &NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE, false).returned,
            STATUS_INVALID_PARAMETER);
  close_socket(basic);
}

// ---- Fixed datagram addresses ------------------------------------------------------------------

NTSTATUS receive_one(PWSK_SOCKET s, std::string *text, unsigned short *from, int ms) {
  buffer in(32, 0);
  address source;
  std::memset(&source, 0xcc, sizeof(source));
  call r;
  r.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskReceiveFrom(
      s, &in.wsk, 0, &source.sa, nullptr, nullptr, nullptr, r.irp);
  NTSTATUS status = r.wait(ms);
  if (status == STATUS_TIMEOUT) {
    IoCancelIrp(r.irp);
    EXPECT_EQ(r.wait(), STATUS_CANCELLED);
    return STATUS_TIMEOUT;
  }
  *text = in.text(r.information());
  *from = port_of(source);
  return status;
}

NTSTATUS send_to(PWSK_SOCKET s, const char *text, const address *to) {
  buffer out(text);
  call c;
  c.returned = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(s)->WskSendTo(
      s, &out.wsk, 0, const_cast<PSOCKADDR>(to != nullptr ? &to->sa : nullptr), 0, nullptr, c.irp);
  return c.wait();
}

TEST_P(control_socket, RemoteAddressFiltersSourcesAndSendToAddressFixesTheDestination) {
  PWSK_SOCKET d = datagram();
  address peer_a;
  unsigned short port_a = 0;
  unsigned short port_b = 0;
  const int a = peer_udp(family(), &port_a);
  const int b = peer_udp(family(), &port_b);
  peer_a = loopback(family(), port_a);
  // After bind only, on datagram sockets only, with an address of the socket's family.
  outcome o = control(d, WskIoctl, SIO_WSK_SET_REMOTE_ADDRESS, 0, sizeof(peer_a), &peer_a, 0,
                      nullptr, nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_DEVICE_STATE);
  ASSERT_EQ(bind_socket(d, loopback(family(), 0)), STATUS_SUCCESS);
  const unsigned short own = port_of(datagram_local_address(d));
  address wrong = make_address(family() == 6 ? 4 : 6, INADDR_LOOPBACK, port_a);
  o = control(d, WskIoctl, SIO_WSK_SET_REMOTE_ADDRESS, 0, sizeof(wrong), &wrong, 0, nullptr,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_PARAMETER);
  o = control(d, WskIoctl, SIO_WSK_SET_REMOTE_ADDRESS, 0, sizeof(peer_a), &peer_a, 0, nullptr,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  EXPECT_EQ(o.information, 0u);

  // Only A's datagrams are accepted; sends without an address go to A.
  ASSERT_TRUE(peer_udp_send(b, family(), own, "from-b", 6));
  ASSERT_TRUE(peer_udp_send(a, family(), own, "from-a", 6));
  std::string text;
  unsigned short from = 0;
  EXPECT_EQ(receive_one(d, &text, &from, timeout_ms), STATUS_SUCCESS);
  EXPECT_EQ(text, "from-a");
  EXPECT_EQ(from, port_a);
  EXPECT_EQ(send_to(d, "to-a", nullptr), STATUS_SUCCESS);
  char got[16] = {};
  unsigned short sender = 0;
  EXPECT_EQ(peer_udp_receive(a, got, sizeof(got), &sender, timeout_ms), 4);
  EXPECT_STREQ(got, "to-a");

  // Cleared: anyone may send again.
  o = control(d, WskIoctl, SIO_WSK_SET_REMOTE_ADDRESS, 0, 0, nullptr, 0, nullptr, nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  ASSERT_TRUE(peer_udp_send(b, family(), own, "again-b", 7));
  EXPECT_EQ(receive_one(d, &text, &from, timeout_ms), STATUS_SUCCESS);
  EXPECT_EQ(text, "again-b");
  EXPECT_EQ(from, port_b);

  // A fixed send-to address: sends go to B, receives come from anyone.
  address peer_b = loopback(family(), port_b);
  o = control(d, WskIoctl, SIO_WSK_SET_SENDTO_ADDRESS, 0, sizeof(peer_b), &peer_b, 0, nullptr,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  EXPECT_EQ(send_to(d, "to-b", nullptr), STATUS_SUCCESS);
  std::memset(got, 0, sizeof(got));
  EXPECT_EQ(peer_udp_receive(b, got, sizeof(got), &sender, timeout_ms), 4);
  EXPECT_STREQ(got, "to-b");
  ASSERT_TRUE(peer_udp_send(a, family(), own, "a-again", 7));
  EXPECT_EQ(receive_one(d, &text, &from, timeout_ms), STATUS_SUCCESS);
  EXPECT_EQ(from, port_a);
  close_socket(d);
  peer_close(a);
  peer_close(b);

  // Not a datagram socket.
  PWSK_SOCKET c = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  o = control(c, WskIoctl, SIO_WSK_SET_REMOTE_ADDRESS, 0, sizeof(peer_a), &peer_a, 0, nullptr,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_NOT_SUPPORTED);
  close_socket(c);
}

// ---- Connection IOCTLs -----------------------------------------------------------------------

TEST_P(control_socket, ConnectionQueriesAndTcpIoctls) {
  PWSK_SOCKET unconnected = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  SIZE_T size = sentinel;
  outcome o = control(unconnected, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, nullptr,
                      sizeof(size), &size, nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_DEVICE_STATE);
  o = control(unconnected, WskIoctl, SIO_WSK_SET_TCP_SILENT_MODE, 0, 0, nullptr, 0, nullptr,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_DEVICE_STATE);
  close_socket(unconnected);

  int peer = -1;
  PWSK_SOCKET s = connected(&peer);
  ASSERT_GE(peer, 0);
  o = control(s, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, nullptr, sizeof(size), &size,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  EXPECT_EQ(o.information, sizeof(SIZE_T));
  EXPECT_EQ(size, 0u);
  ASSERT_TRUE(peer_send_all(peer, "hello", 5, timeout_ms));
  // The bytes arrive asynchronously: poll (bounded) until the backlog shows them.
  eventually(
      [&] {
        control(s, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, nullptr, sizeof(size), &size,
                nullptr);
        return size == 5;
      },
      std::chrono::seconds(5), std::chrono::milliseconds(10));
  EXPECT_EQ(size, 5u);
  size = sentinel;
  o = control(s, WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, nullptr, sizeof(size), &size,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  EXPECT_EQ(o.information, sizeof(SIZE_T));
  EXPECT_GT(size, 0u);
  EXPECT_LT(size, sentinel);
  ULONG small = 0;
  o = control(s, WskIoctl, SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, 0, 0, nullptr, sizeof(small), &small,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_BUFFER_TOO_SMALL);

  // Silent mode is not supported on loopback; the connection stays usable.
  o = control(s, WskIoctl, SIO_WSK_SET_TCP_SILENT_MODE, 0, 0, nullptr, 0, nullptr, nullptr);
  EXPECT_EQ(o.final_status, STATUS_NOT_SUPPORTED);
  buffer out("still");
  call send;
  send.returned = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskSend(s, &out.wsk, 0, send.irp);
  EXPECT_EQ(send.wait(), STATUS_SUCCESS);

  // SIO_KEEPALIVE_VALS: milliseconds, rounded up to Linux's seconds.
  tcp_keepalive keepalive = {1, 10000, 1500};
  o = control(s, WskIoctl, SIO_KEEPALIVE_VALS, 0, sizeof(keepalive), &keepalive, 0, nullptr,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  EXPECT_EQ(get_ulong(s, SOL_SOCKET, SO_KEEPALIVE), 1u);
  EXPECT_EQ(get_ulong(s, IPPROTO_TCP, TCP_KEEPALIVE), 10u);
  EXPECT_EQ(get_ulong(s, IPPROTO_TCP, TCP_KEEPINTVL), 2u);

  // SIO_LOOPBACK_FAST_PATH: a no-op, but the size of its Boolean is checked.
  ULONG on = 1;
  o = control(s, WskIoctl, SIO_LOOPBACK_FAST_PATH, 0, sizeof(on), &on, 0, nullptr, nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  o = control(s, WskIoctl, SIO_LOOPBACK_FAST_PATH, 0, 2, &on, 0, nullptr, nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_BUFFER_SIZE);
  close_socket(s);
  peer_close(peer);

  PWSK_SOCKET d = datagram();
  o = control(d, WskIoctl, SIO_LOOPBACK_FAST_PATH, 0, sizeof(on), &on, 0, nullptr, nullptr);
  EXPECT_EQ(o.final_status, STATUS_NOT_SUPPORTED);
  o = control(d, WskIoctl, SIO_WSK_QUERY_RECEIVE_BACKLOG, 0, 0, nullptr, sizeof(size), &size,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_NOT_SUPPORTED);
  close_socket(d);
}

// ---- Address lists ---------------------------------------------------------------------------

TEST_P(control_socket, AddressListQueryProbesThenListsLoopback) {
  PWSK_SOCKET s = make_socket(WSK_FLAG_BASIC_SOCKET);
  SIZE_T needed = sentinel;
  outcome o =
      control(s, WskIoctl, SIO_ADDRESS_LIST_QUERY, 0, 0, nullptr, 0, nullptr, &needed, false);
  EXPECT_EQ(o.returned, STATUS_BUFFER_OVERFLOW);
  ASSERT_GT(needed, sizeof(SOCKET_ADDRESS_LIST));
  ASSERT_LT(needed, 1u << 20);
  std::vector<unsigned char> bytes(needed, 0xcc);
  SIZE_T returned = sentinel;
  o = control(s, WskIoctl, SIO_ADDRESS_LIST_QUERY, 0, 0, nullptr, needed - 1, bytes.data(),
              &returned, false);
  EXPECT_EQ(o.returned, STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(returned, needed);
  EXPECT_EQ(bytes[0], 0xcc); // nothing written
  returned = sentinel;
  o = control(s, WskIoctl, SIO_ADDRESS_LIST_QUERY, 0, 0, nullptr, bytes.size(), bytes.data(),
              &returned, false);
  ASSERT_EQ(o.returned, STATUS_SUCCESS);
  EXPECT_EQ(returned, needed);
  const auto *list = reinterpret_cast<const SOCKET_ADDRESS_LIST *>(bytes.data());
  ASSERT_GE(list->iAddressCount, 1);
  bool found_loopback = false;
  for (INT i = 0; i < list->iAddressCount; ++i) {
    const SOCKET_ADDRESS &entry = list->Address[i];
    const auto *begin = reinterpret_cast<const unsigned char *>(entry.lpSockaddr);
    ASSERT_GE(begin, bytes.data());
    ASSERT_LE(begin + entry.iSockaddrLength, bytes.data() + bytes.size());
    ASSERT_EQ(entry.lpSockaddr->sa_family, wsk_family());
    if (family() == 6) {
      ASSERT_EQ(entry.iSockaddrLength, static_cast<INT>(sizeof(SOCKADDR_IN6)));
      const IN6_ADDR loopback6 = IN6ADDR_LOOPBACK_INIT;
      const auto *v6 = reinterpret_cast<const SOCKADDR_IN6 *>(entry.lpSockaddr);
      found_loopback |= std::memcmp(&v6->sin6_addr, &loopback6, sizeof(loopback6)) == 0;
    } else {
      ASSERT_EQ(entry.iSockaddrLength, static_cast<INT>(sizeof(SOCKADDR_IN)));
      const auto *v4 = reinterpret_cast<const SOCKADDR_IN *>(entry.lpSockaddr);
      found_loopback |= v4->sin_addr.s_addr == RtlUlongByteSwap(INADDR_LOOPBACK);
    }
  }
  EXPECT_TRUE(found_loopback);
  close_socket(s);
}

// An address change elsewhere on the host (another test adding one) completes a pending IRP
// with success; each case is then tried again, a bounded number of times.
TEST_P(control_socket, AddressListChangePendsUntilCancelledOrClosed) {
  for (bool by_close : {false, true}) {
    NTSTATUS final_status = STATUS_SUCCESS;
    for (int attempt = 0; attempt < 5 && final_status == STATUS_SUCCESS; ++attempt) {
      PWSK_SOCKET s = make_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
      const auto *d = of<WSK_PROVIDER_BASIC_DISPATCH>(s);
      call change;
      change.returned = d->WskControlSocket(s, WskIoctl, SIO_ADDRESS_LIST_CHANGE, 0, 0, nullptr, 0,
                                            nullptr, nullptr, change.irp);
      EXPECT_EQ(change.returned, STATUS_PENDING);
      if (!by_close) {
        IoCancelIrp(change.irp);
        final_status = change.wait();
        close_socket(s);
      } else {
        // WskCloseSocket completes the pending IRP, before the close itself.
        call closing;
        closing.returned = d->WskCloseSocket(s, closing.irp);
        EXPECT_EQ(closing.wait(), STATUS_SUCCESS);
        EXPECT_TRUE(change.completed());
        final_status = change.wait();
      }
      EXPECT_EQ(change.information(), 0u);
      EXPECT_TRUE(change.irp->PendingReturned);
    }
    EXPECT_EQ(final_status, STATUS_CANCELLED) << (by_close ? "closed" : "cancelled");
  }
}

// A real change of the address list completes the IRP (needs root and iproute2; skipped
// otherwise). The test adds and removes an address on the loopback interface.
TEST_P(control_socket, AddressListChangeCompletesOnARealChange) {
  const std::string added = family() == 6 ? "fd00:7577:736b::77/128" : "127.77.77.77/32";
  PWSK_SOCKET s = make_socket(WSK_FLAG_BASIC_SOCKET);
  call change;
  change.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
      s, WskIoctl, SIO_ADDRESS_LIST_CHANGE, 0, 0, nullptr, 0, nullptr, nullptr, change.irp);
  EXPECT_EQ(change.returned, STATUS_PENDING);
  const std::string add = "ip addr add " + added + " dev lo 2>/dev/null";
  if (std::system(add.c_str()) != 0) {
    close_socket(s);
    EXPECT_EQ(change.wait(), STATUS_CANCELLED);
    GTEST_SKIP() << "cannot add an address to lo here";
  }
  const NTSTATUS status = change.wait();
  const std::string remove = "ip addr del " + added + " dev lo 2>/dev/null";
  EXPECT_EQ(std::system(remove.c_str()), 0);
  EXPECT_EQ(status, STATUS_SUCCESS);
  EXPECT_EQ(change.information(), 0u);
  close_socket(s);
}

// ---- The address-sharing matrix (docs/wsk-behaviour.md, "Address sharing") -------------------

enum option_kind { none = 0, reuse = 1, exclusive = 2 };

PWSK_SOCKET bound_socket(client &wsk, bool tcp, option_kind options, bool specific,
                         unsigned short port, NTSTATUS *bind_status) {
  PWSK_SOCKET s = tcp ? wsk.make_socket(AF_INET, WSK_FLAG_LISTEN_SOCKET)
                      : wsk.make_socket(AF_INET, WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  if (options == reuse) {
    EXPECT_EQ(set_ulong(s, SOL_SOCKET, SO_REUSEADDR, 1), STATUS_SUCCESS);
  } else if (options == exclusive) {
    EXPECT_EQ(set_ulong(s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1), STATUS_SUCCESS);
  }
  *bind_status = bind_socket(s, make_address(4, INADDR_LOOPBACK, port, !specific));
  return s;
}

struct sharing : ::testing::TestWithParam<bool> {}; // TCP (true) or UDP

INSTANTIATE_TEST_SUITE_P(Protocols, sharing, ::testing::Values(true, false),
                         [](const auto &info) { return info.param ? "TCP" : "UDP"; });

TEST_P(sharing, EveryCellOfTheMatrixOnLoopback) {
  client wsk;
  const NTSTATUS o = STATUS_SUCCESS;
  const NTSTATUS u = STATUS_ADDRESS_ALREADY_EXISTS;
  const NTSTATUS d = STATUS_ACCESS_DENIED;
  const NTSTATUS c = STATUS_ACCESS_DENIED; // the access check: no descriptor permits sharing
  // Rows: second bind; columns: first. none W, none S, REUSE W, REUSE S, EXCL W, EXCL S.
  const NTSTATUS expected[6][6] = {
      {u, o, u, o, u, o}, {c, u, c, d, d, u}, {d, o, o, o, d, o},
      {c, d, o, o, d, d}, {u, u, u, u, u, u}, {c, u, c, u, d, u},
  };
  for (int second = 0; second < 6; ++second) {
    for (int first = 0; first < 6; ++first) {
      // A free port; another process may take it meanwhile, so a few are tried.
      unsigned short port = 0;
      NTSTATUS status = STATUS_UNSUCCESSFUL;
      PWSK_SOCKET a = nullptr;
      for (int attempt = 0; attempt < 5 && status != STATUS_SUCCESS; ++attempt) {
        if (a != nullptr) {
          close_socket(a);
        }
        port = peer_unused_port(4);
        a = bound_socket(wsk, GetParam(), static_cast<option_kind>(first / 2), first % 2 == 1, port,
                         &status);
      }
      ASSERT_EQ(status, STATUS_SUCCESS) << "first " << first;
      PWSK_SOCKET b = bound_socket(wsk, GetParam(), static_cast<option_kind>(second / 2),
                                   second % 2 == 1, port, &status);
      EXPECT_EQ(status, expected[second][first]) << "second " << second << ", first " << first;
      close_socket(b);
      close_socket(a);
    }
  }
}

TEST_P(sharing, DistinctAddressesFamiliesAndClosedSocketsDoNotConflict) {
  client wsk;
  const bool tcp = GetParam();
  const auto make = [&](ADDRESS_FAMILY family) {
    return tcp ? wsk.make_socket(family, WSK_FLAG_LISTEN_SOCKET)
               : wsk.make_socket(family, WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  };
  // A port free for IPv4 and IPv6: other processes (tests running in parallel) may hold it in
  // either family, so a few are tried. An IPv6-only socket shares nothing with IPv4, so both
  // binds succeed on a free port.
  unsigned short port = 0;
  PWSK_SOCKET a = nullptr;
  NTSTATUS status = STATUS_UNSUCCESSFUL;
  NTSTATUS v6_status = STATUS_UNSUCCESSFUL;
  for (int attempt = 0; attempt < 8 && !(NT_SUCCESS(status) && NT_SUCCESS(v6_status)); ++attempt) {
    if (a != nullptr) {
      close_socket(a);
    }
    port = peer_unused_port(4);
    a = bound_socket(wsk, tcp, none, true, port, &status);
    PWSK_SOCKET v6only = make(AF_INET6);
    v6_status = bind_socket(v6only, make_address(6, 0, port, true));
    close_socket(v6only);
  }
  ASSERT_EQ(status, STATUS_SUCCESS);
  ASSERT_EQ(v6_status, STATUS_SUCCESS);
  // Another specific address on the same port.
  PWSK_SOCKET other = make(AF_INET);
  EXPECT_EQ(bind_socket(other, make_address(4, 0x7f000002, port)), STATUS_SUCCESS);
  close_socket(other);
  PWSK_SOCKET dual = make(AF_INET6);
  EXPECT_EQ(set_ulong(dual, IPPROTO_IPV6, IPV6_V6ONLY, 0), STATUS_SUCCESS);
  // none W after none S is allowed by the matrix, so bind the dual-stack wildcard ...
  EXPECT_EQ(bind_socket(dual, make_address(6, 0, port, true)), STATUS_SUCCESS);
  // ... and then a specific IPv4 address conflicts with it (none S after none W: DENIED).
  PWSK_SOCKET late = make(AF_INET);
  EXPECT_EQ(bind_socket(late, make_address(4, 0x7f000003, port)), STATUS_ACCESS_DENIED);
  close_socket(late);
  close_socket(dual);
  // After close, the address is free again.
  close_socket(a);
  PWSK_SOCKET again = bound_socket(wsk, tcp, none, true, port, &status);
  EXPECT_EQ(status, STATUS_SUCCESS);
  close_socket(again);
}

TEST(sharing_with_others, AnotherProcessSocketKeepsItsPort) {
  client wsk;
  unsigned short port = 0;
  const int foreign = peer_listen(4, &port);
  ASSERT_GE(foreign, 0);
  PWSK_SOCKET s = wsk.make_socket(AF_INET, WSK_FLAG_LISTEN_SOCKET);
  EXPECT_EQ(bind_socket(s, loopback(4, port)), STATUS_ADDRESS_ALREADY_EXISTS);
  close_socket(s);
  peer_close(foreign);
}

// ---- WskControlClient --------------------------------------------------------------------------

TEST(control_client, TransportListQueryProbesThenLists) {
  client wsk;
  SIZE_T needed = sentinel;
  outcome o = wsk.control(WSK_TRANSPORT_LIST_QUERY, 0, nullptr, 0, nullptr, &needed);
  EXPECT_EQ(o.returned, STATUS_BUFFER_OVERFLOW);
  ASSERT_GE(needed, 4 * sizeof(WSK_TRANSPORT));
  ASSERT_EQ(needed % sizeof(WSK_TRANSPORT), 0u);
  std::vector<WSK_TRANSPORT> list(needed / sizeof(WSK_TRANSPORT) + 1);
  std::memset(list.data(), 0xcc, list.size() * sizeof(WSK_TRANSPORT));
  SIZE_T returned = sentinel;
  o = wsk.control(WSK_TRANSPORT_LIST_QUERY, 0, nullptr, list.size() * sizeof(WSK_TRANSPORT),
                  list.data(), &returned);
  ASSERT_EQ(o.returned, STATUS_SUCCESS);
  EXPECT_EQ(returned, needed);
  const std::size_t count = needed / sizeof(WSK_TRANSPORT);
  int tcp = 0, udp = 0, raw = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const WSK_TRANSPORT &t = list[i];
    EXPECT_EQ(t.Version, 2);
    EXPECT_EQ(std::memcmp(&t.ProviderId, &list[0].ProviderId, sizeof(GUID)), 0);
    EXPECT_TRUE(t.AddressFamily == AF_INET || t.AddressFamily == AF_INET6);
    tcp += t.SocketType == SOCK_STREAM && t.Protocol == IPPROTO_TCP;
    udp += t.SocketType == SOCK_DGRAM && t.Protocol == IPPROTO_UDP;
    raw += t.SocketType == SOCK_RAW;
    // Each triple is a valid WskSocket request.
    const ULONG flags =
        t.SocketType == SOCK_STREAM ? WSK_FLAG_CONNECTION_SOCKET : WSK_FLAG_DATAGRAM_SOCKET;
    PWSK_SOCKET s = wsk.make_socket(t.AddressFamily, flags, t.SocketType, t.Protocol);
    ASSERT_NE(s, nullptr);
    close_socket(s);
  }
  EXPECT_EQ(tcp, 2);
  EXPECT_EQ(udp, 2);
  // Raw transports are listed exactly when a raw socket can be created.
  call probe;
  probe.returned = wsk.npi.Dispatch->WskSocket(wsk.npi.Client, AF_INET, SOCK_RAW, IPPROTO_ICMP,
                                               WSK_FLAG_DATAGRAM_SOCKET, nullptr, nullptr, nullptr,
                                               nullptr, nullptr, probe.irp);
  const bool raw_allowed = probe.wait() == STATUS_SUCCESS;
  if (raw_allowed) {
    close_socket(reinterpret_cast<PWSK_SOCKET>(probe.information()));
  }
  EXPECT_EQ(raw, raw_allowed ? 2 : 0);
  EXPECT_EQ(list[count].Version, 0xcccc); // nothing past the list
  // With an IRP, the query is refused.
  o = wsk.control(WSK_TRANSPORT_LIST_QUERY, 0, nullptr, list.size() * sizeof(WSK_TRANSPORT),
                  list.data(), nullptr, true);
  EXPECT_EQ(o.final_status, STATUS_INVALID_PARAMETER);
  EXPECT_EQ(o.information, 0u);
  // An unknown code.
  EXPECT_EQ(wsk.control(99, 0, nullptr, 0, nullptr, nullptr).returned, STATUS_INVALID_PARAMETER);
}

TEST(control_client, TransportListChangeIsCancelledByIoCancelIrpAndByDeregister) {
  auto *wsk = new client;
  EXPECT_EQ(wsk->control(WSK_TRANSPORT_LIST_CHANGE, 0, nullptr, 0, nullptr, nullptr).returned,
            STATUS_INVALID_PARAMETER);
  call cancelled;
  cancelled.returned = wsk->npi.Dispatch->WskControlClient(
      wsk->npi.Client, WSK_TRANSPORT_LIST_CHANGE, 0, nullptr, 0, nullptr, nullptr, cancelled.irp);
  EXPECT_EQ(cancelled.returned, STATUS_PENDING);
  EXPECT_FALSE(cancelled.completed());
  IoCancelIrp(cancelled.irp);
  EXPECT_EQ(cancelled.wait(), STATUS_CANCELLED);
  EXPECT_EQ(cancelled.information(), 0u);

  call pending;
  pending.returned = wsk->npi.Dispatch->WskControlClient(
      wsk->npi.Client, WSK_TRANSPORT_LIST_CHANGE, 0, nullptr, 0, nullptr, nullptr, pending.irp);
  EXPECT_EQ(pending.returned, STATUS_PENDING);
  delete wsk; // WskDeregister completes it and returns
  EXPECT_TRUE(pending.completed());
  EXPECT_EQ(pending.wait(), STATUS_CANCELLED);
}

TEST(control_client, CachedSecurityDescriptorsAreReferenceCounted) {
  client wsk;
  unsigned char descriptor_bytes[64] = {1}; // never read: uwsk evaluates no descriptor
  PSECURITY_DESCRIPTOR original = descriptor_bytes;
  PSECURITY_DESCRIPTOR cached = reinterpret_cast<PSECURITY_DESCRIPTOR>(sentinel);
  outcome o =
      wsk.control(WSK_CACHE_SD, sizeof(original), &original, sizeof(cached), &cached, nullptr);
  ASSERT_EQ(o.returned, STATUS_SUCCESS);
  ASSERT_NE(cached, reinterpret_cast<PSECURITY_DESCRIPTOR>(sentinel));
  ASSERT_NE(cached, nullptr);
  PSECURITY_DESCRIPTOR again = nullptr;
  EXPECT_EQ(wsk.control(WSK_CACHE_SD, sizeof(original), &original, sizeof(again), &again, nullptr)
                .returned,
            STATUS_SUCCESS);
  EXPECT_EQ(again, cached);
  // With an IRP: refused.
  o = wsk.control(WSK_CACHE_SD, sizeof(original), &original, sizeof(again), &again, nullptr, true);
  EXPECT_EQ(o.final_status, STATUS_INVALID_PARAMETER);

  // SO_WSK_SECURITY takes cached descriptors only, before bind; get returns a new reference.
  PWSK_SOCKET s = wsk.make_socket(AF_INET, WSK_FLAG_LISTEN_SOCKET);
  PSECURITY_DESCRIPTOR read_back = reinterpret_cast<PSECURITY_DESCRIPTOR>(sentinel);
  o = control(s, WskGetOption, SO_WSK_SECURITY, SOL_SOCKET, 0, nullptr, sizeof(read_back),
              &read_back, nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  EXPECT_EQ(read_back, nullptr); // the default descriptor
  o = control(s, WskSetOption, SO_WSK_SECURITY, SOL_SOCKET, sizeof(original), &original, 0, nullptr,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_PARAMETER);
  o = control(s, WskSetOption, SO_WSK_SECURITY, SOL_SOCKET, sizeof(cached), &cached, 0, nullptr,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  EXPECT_EQ(o.information, 0u);
  o = control(s, WskGetOption, SO_WSK_SECURITY, SOL_SOCKET, 0, nullptr, sizeof(read_back),
              &read_back, nullptr);
  EXPECT_EQ(o.final_status, STATUS_SUCCESS);
  EXPECT_EQ(o.information, sizeof(PSECURITY_DESCRIPTOR));
  EXPECT_EQ(read_back, cached);
  // Without an IRP: refused.
  EXPECT_EQ(control(s, WskGetOption, SO_WSK_SECURITY, SOL_SOCKET, 0, nullptr, sizeof(read_back),
                    &read_back, nullptr, false)
                .returned,
            STATUS_INVALID_PARAMETER);
  // The client releases its three references; the socket keeps its own.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(wsk.control(WSK_RELEASE_SD, sizeof(cached), &cached, 0, nullptr, nullptr).returned,
              STATUS_SUCCESS);
  }
  o = control(s, WskGetOption, SO_WSK_SECURITY, SOL_SOCKET, 0, nullptr, sizeof(read_back),
              &read_back, nullptr);
  EXPECT_EQ(read_back, cached);
  EXPECT_EQ(wsk.control(WSK_RELEASE_SD, sizeof(cached), &cached, 0, nullptr, nullptr).returned,
            STATUS_SUCCESS);
  // After bind, the descriptor can no longer be replaced.
  ASSERT_EQ(bind_socket(s, loopback(4, 0)), STATUS_SUCCESS);
  PSECURITY_DESCRIPTOR none = nullptr;
  o = control(s, WskSetOption, SO_WSK_SECURITY, SOL_SOCKET, sizeof(none), &none, 0, nullptr,
              nullptr);
  EXPECT_EQ(o.final_status, STATUS_INVALID_DEVICE_STATE);
  close_socket(s); // drops the socket's reference: the descriptor is gone
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(wsk.control(WSK_RELEASE_SD, sizeof(cached), &cached, 0, nullptr, nullptr), "V66");
}

TEST(control_client, StaticEventCallbacksAndTdiSettingsOnlyBeforeTheFirstSocket) {
  client wsk;
  WSK_EVENT_CALLBACK_CONTROL ctl = {&NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE};
  EXPECT_EQ(
      wsk.control(WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(ctl), &ctl, 0, nullptr, nullptr).returned,
      STATUS_INVALID_PARAMETER);
  const NPIID other = {0x12345678, 1, 2, {3, 4, 5, 6, 7, 8, 9, 10}};
  ctl = {&other, WSK_EVENT_ACCEPT};
  EXPECT_EQ(
      wsk.control(WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(ctl), &ctl, 0, nullptr, nullptr).returned,
      STATUS_NOT_SUPPORTED);
  ctl = {&NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT | WSK_EVENT_RECEIVE_FROM};
  EXPECT_EQ(
      wsk.control(WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(ctl), &ctl, 0, nullptr, nullptr, true)
          .final_status,
      STATUS_INVALID_PARAMETER); // an IRP
  EXPECT_EQ(
      wsk.control(WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(ctl), &ctl, 0, nullptr, nullptr).returned,
      STATUS_SUCCESS);
  ULONG behavior = WSK_TDI_BEHAVIOR_BYPASS_TDI;
  EXPECT_EQ(
      wsk.control(WSK_TDI_BEHAVIOR, sizeof(behavior), &behavior, 0, nullptr, nullptr).returned,
      STATUS_SUCCESS);
  ULONG bad_behavior = 0x10;
  EXPECT_EQ(wsk.control(WSK_TDI_BEHAVIOR, sizeof(bad_behavior), &bad_behavior, 0, nullptr, nullptr)
                .returned,
            STATUS_INVALID_PARAMETER);
  static const WSK_TDI_MAP map[] = {{SOCK_STREAM, AF_INET, IPPROTO_TCP, u"\\Device\\Tcp"}};
  WSK_TDI_MAP_INFO info = {1, map};
  EXPECT_EQ(
      wsk.control(WSK_TDI_DEVICENAME_MAPPING, sizeof(info), &info, 0, nullptr, nullptr).returned,
      STATUS_SUCCESS);

  // New sockets start with the static events of their category, which cannot be disabled.
  PWSK_SOCKET listener = wsk.make_socket(AF_INET, WSK_FLAG_LISTEN_SOCKET);
  ASSERT_EQ(bind_socket(listener, loopback(4, 0)), STATUS_SUCCESS);
  EXPECT_EQ(
      event_control(listener, &NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT | WSK_EVENT_DISABLE, false)
          .returned,
      STATUS_INVALID_DEVICE_STATE);
  EXPECT_EQ(event_control(listener, &NPI_WSK_INTERFACE_ID, WSK_EVENT_ACCEPT, false).returned,
            STATUS_SUCCESS); // enabling again changes nothing
  EXPECT_EQ(event_control(listener, &NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE, false).returned,
            STATUS_SUCCESS);
  EXPECT_EQ(
      event_control(listener, &NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE | WSK_EVENT_DISABLE, false)
          .returned,
      STATUS_SUCCESS); // not static: can be disabled
  PWSK_SOCKET d = wsk.make_socket(AF_INET, WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  ASSERT_EQ(bind_socket(d, loopback(4, 0)), STATUS_SUCCESS);
  EXPECT_EQ(
      event_control(d, &NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE_FROM | WSK_EVENT_DISABLE, false)
          .returned,
      STATUS_INVALID_DEVICE_STATE);
  close_socket(d);

  // Once a socket exists, the three settings are refused.
  ctl = {&NPI_WSK_INTERFACE_ID, WSK_EVENT_RECEIVE};
  EXPECT_EQ(
      wsk.control(WSK_SET_STATIC_EVENT_CALLBACKS, sizeof(ctl), &ctl, 0, nullptr, nullptr).returned,
      STATUS_INVALID_DEVICE_STATE);
  EXPECT_EQ(
      wsk.control(WSK_TDI_BEHAVIOR, sizeof(behavior), &behavior, 0, nullptr, nullptr).returned,
      STATUS_INVALID_DEVICE_STATE);
  EXPECT_EQ(
      wsk.control(WSK_TDI_DEVICENAME_MAPPING, sizeof(info), &info, 0, nullptr, nullptr).returned,
      STATUS_INVALID_DEVICE_STATE);
  close_socket(listener);
}

} // namespace

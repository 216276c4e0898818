// Validate before acting: what the provider's entry points say about invalid input that the
// conformance driver (tests/conformance/drivers/bad_input.c) cannot see from inside a driver:
// the verifier lines they log (rules V36, V38, V66, V3), the bug check for a pointer that is not
// a socket (rule V30), and the numeric services WskGetAddressInfo refuses.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <uwsk/log.h>
#include <wdm.h>
#include <wsk.h>

#include "support/posix_peer.hpp"
#include "support/wsk_call.hpp"
#include "support/wsk_fixture.hpp"

namespace {

using namespace uwsk::test;

// Sends the log to a file for the life of the object; text() reads what was written.
class captured_log {
public:
  captured_log() {
    const int fd = ::mkstemp(path_);
    EXPECT_GE(fd, 0);
    ::close(fd);
    EXPECT_EQ(uwsk_log_open(path_), 0);
  }
  ~captured_log() {
    uwsk_log_close();
    ::unlink(path_);
  }
  captured_log(const captured_log &) = delete;
  captured_log &operator=(const captured_log &) = delete;
  std::string text() {
    uwsk_log_flush_thread();
    std::ifstream file(path_);
    std::stringstream out;
    out << file.rdbuf();
    return out.str();
  }

private:
  char path_[40] = "/tmp/uwsk-validation-log-XXXXXX";
};

std::size_t count_of(const std::string &text, const std::string &what) {
  std::size_t count = 0;
  for (std::size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + what.size())) {
    ++count;
  }
  return count;
}

struct WskValidation : wsk_fixture<4> {
  PVOID cache(PVOID descriptor) {
    PVOID cached = nullptr;
    EXPECT_EQ(npi.Dispatch->WskControlClient(npi.Client, WSK_CACHE_SD, sizeof(descriptor),
                                             &descriptor, sizeof(cached), &cached, nullptr,
                                             nullptr),
              STATUS_SUCCESS);
    return cached;
  }
  void release(PVOID cached) {
    EXPECT_EQ(npi.Dispatch->WskControlClient(npi.Client, WSK_RELEASE_SD, sizeof(cached), &cached, 0,
                                             nullptr, nullptr, nullptr),
              STATUS_SUCCESS);
  }

  // WskGetAddressInfo of 127.0.0.1 and `service`: the final status, and the port on success.
  NTSTATUS resolve_service(const char16_t *service, unsigned *port) {
    UNICODE_STRING node;
    UNICODE_STRING name;
    RtlInitUnicodeString(&node, reinterpret_cast<PCWSTR>(u"127.0.0.1"));
    RtlInitUnicodeString(&name, reinterpret_cast<PCWSTR>(service));
    ADDRINFOEXW hints;
    std::memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    PADDRINFOEXW result = reinterpret_cast<PADDRINFOEXW>(sentinel);
    call c;
    c.returned = npi.Dispatch->WskGetAddressInfo(npi.Client, &node, &name, NS_ALL, nullptr, &hints,
                                                 &result, nullptr, nullptr, c.irp);
    const NTSTATUS status = c.wait();
    EXPECT_EQ(c.information(), 0u);
    if (status != STATUS_SUCCESS) {
      EXPECT_EQ(result, reinterpret_cast<PADDRINFOEXW>(sentinel));
      return status;
    }
    *port = RtlUshortByteSwap(reinterpret_cast<const SOCKADDR_IN *>(result->ai_addr)->sin_port);
    npi.Dispatch->WskFreeAddressInfo(npi.Client, result);
    return status;
  }
};

TEST_F(WskValidation, NumericServicesBeyondAPortAreRefused) {
  struct row {
    const char16_t *service;
    NTSTATUS status;
    unsigned port;
  };
  const row rows[] = {
      {u"0", STATUS_SUCCESS, 0},
      {u"080", STATUS_SUCCESS, 80},
      {u"65535", STATUS_SUCCESS, 65535},
      {u"http", STATUS_SUCCESS, 80},
      {u"65536", STATUS_INVALID_PARAMETER, 0}, // glibc: port 0
      {u"99999", STATUS_INVALID_PARAMETER, 0}, // glibc: port 34463
      {u"4294967377", STATUS_INVALID_PARAMETER, 0},
      {u"-1", STATUS_INVALID_PARAMETER, 0},
      {u"+80", STATUS_INVALID_PARAMETER, 0}, // glibc: port 80
      {u" 80", STATUS_INVALID_PARAMETER, 0}, // glibc: port 80
      {u"80x", STATUS_INVALID_PARAMETER, 0},
  };
  for (const row &r : rows) {
    unsigned port = 0xdeadbeef;
    const std::u16string text(r.service);
    SCOPED_TRACE(std::string(text.begin(), text.end()));
    EXPECT_EQ(resolve_service(r.service, &port), r.status);
    if (r.status == STATUS_SUCCESS) {
      EXPECT_EQ(port, r.port);
    }
  }
}

TEST_F(WskValidation, WrongCategoryIsNotSupportedAndNamesRuleV36) {
  PWSK_SOCKET datagram = make_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  PWSK_SOCKET connection = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  const auto *connection_table = of<WSK_PROVIDER_CONNECTION_DISPATCH>(connection);
  const auto *datagram_table = of<WSK_PROVIDER_DATAGRAM_DISPATCH>(datagram);
  buffer data("abc");
  address to = loopback(4, 9);
  captured_log log;
  {
    call c;
    c.returned = connection_table->WskSend(datagram, &data.wsk, 0, c.irp);
    EXPECT_EQ(c.returned, STATUS_NOT_SUPPORTED);
    EXPECT_EQ(c.wait(), STATUS_NOT_SUPPORTED);
    EXPECT_EQ(c.information(), 0u);
  }
  {
    // Before this check, WskConnect connected a datagram socket.
    call c;
    c.returned = connection_table->WskConnect(datagram, &to.sa, 0, c.irp);
    EXPECT_EQ(c.returned, STATUS_NOT_SUPPORTED);
    EXPECT_EQ(c.wait(), STATUS_NOT_SUPPORTED);
  }
  {
    // Before this check, a connection socket given to WskSendTo was a bug check.
    call c;
    c.returned = datagram_table->WskSendTo(connection, &data.wsk, 0, &to.sa, 0, nullptr, c.irp);
    EXPECT_EQ(c.returned, STATUS_NOT_SUPPORTED);
    EXPECT_EQ(c.wait(), STATUS_NOT_SUPPORTED);
  }
  EXPECT_EQ(datagram_table->WskRelease(connection, nullptr), STATUS_NOT_SUPPORTED);
  // Without an IRP the IRP rule comes first, and nothing is logged for the category.
  EXPECT_EQ(connection_table->WskSend(datagram, &data.wsk, 0, nullptr), STATUS_INVALID_PARAMETER);
  const std::string text = log.text();
  EXPECT_EQ(count_of(text, "rule V36 (warning)"), 4u) << text;
  EXPECT_NE(text.find("WskSend: socket"), std::string::npos) << text;
  EXPECT_NE(text.find("is a datagram socket"), std::string::npos) << text;
  EXPECT_NE(text.find("WskSendTo: socket"), std::string::npos) << text;
  close_socket(connection);
  close_socket(datagram);
}

TEST_F(WskValidation, NullClientIsAnInvalidParameter) {
  captured_log log;
  {
    call c;
    c.returned = npi.Dispatch->WskSocket(nullptr, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                         WSK_FLAG_CONNECTION_SOCKET, nullptr, nullptr, nullptr,
                                         nullptr, nullptr, c.irp);
    EXPECT_EQ(c.returned, STATUS_INVALID_PARAMETER);
    EXPECT_EQ(c.wait(), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(c.information(), 0u);
  }
  {
    address local = loopback(4, 0);
    address remote = loopback(4, 9);
    call c;
    c.returned =
        npi.Dispatch->WskSocketConnect(nullptr, SOCK_STREAM, IPPROTO_TCP, &local.sa, &remote.sa, 0,
                                       nullptr, nullptr, nullptr, nullptr, nullptr, c.irp);
    EXPECT_EQ(c.returned, STATUS_INVALID_PARAMETER);
    EXPECT_EQ(c.wait(), STATUS_INVALID_PARAMETER);
  }
  {
    call c;
    c.returned = npi.Dispatch->WskControlClient(nullptr, WSK_TRANSPORT_LIST_CHANGE, 0, nullptr, 0,
                                                nullptr, nullptr, c.irp);
    EXPECT_EQ(c.returned, STATUS_INVALID_PARAMETER);
    EXPECT_EQ(c.wait(), STATUS_INVALID_PARAMETER);
  }
  SIZE_T returned = sentinel;
  WSK_TRANSPORT transports[8];
  EXPECT_EQ(npi.Dispatch->WskControlClient(nullptr, WSK_TRANSPORT_LIST_QUERY, 0, nullptr,
                                           sizeof(transports), transports, &returned, nullptr),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(returned, sentinel);
  EXPECT_EQ(count_of(log.text(), "the Client is NULL (rule V3)"), 4u) << log.text();
}

TEST_F(WskValidation, SecurityDescriptorMustComeFromTheCache) {
  unsigned char bytes[20] = {1};
  PVOID original = bytes;
  captured_log log;
  {
    call c;
    c.returned = npi.Dispatch->WskSocket(npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP,
                                         WSK_FLAG_LISTEN_SOCKET, nullptr, nullptr, nullptr, nullptr,
                                         original, c.irp);
    EXPECT_EQ(c.returned, STATUS_INVALID_PARAMETER);
    EXPECT_EQ(c.wait(), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(c.information(), 0u);
  }
  EXPECT_NE(log.text().find("rule V66 (warning): a SecurityDescriptor that did not come from "
                            "WSK_CACHE_SD, or was released"),
            std::string::npos)
      << log.text();

  // A cached one is taken; the socket holds its own reference, so the client may release its
  // reference at once and SO_WSK_SECURITY still reads the descriptor back.
  PVOID cached = cache(original);
  PWSK_SOCKET s = make_socket(WSK_FLAG_LISTEN_SOCKET, SOCK_STREAM, IPPROTO_TCP, cached);
  release(cached);
  PVOID read_back = reinterpret_cast<PVOID>(sentinel);
  call c;
  c.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
      s, WskGetOption, SO_WSK_SECURITY, SOL_SOCKET, 0, nullptr, sizeof(read_back), &read_back,
      nullptr, c.irp);
  EXPECT_EQ(c.wait(), STATUS_SUCCESS);
  EXPECT_EQ(read_back, cached);
  release(read_back);
  close_socket(s); // drops the socket's reference: the descriptor is gone

  call again;
  again.returned =
      npi.Dispatch->WskSocket(npi.Client, AF_INET, SOCK_STREAM, IPPROTO_TCP, WSK_FLAG_LISTEN_SOCKET,
                              nullptr, nullptr, nullptr, nullptr, cached, again.irp);
  EXPECT_EQ(again.wait(), STATUS_INVALID_PARAMETER);
}

TEST_F(WskValidation, SocketConnectAcceptsTheConnectionFlagWithOneWarning) {
  unsigned short port = 0;
  const int server = peer_listen(4, &port);
  ASSERT_GE(server, 0);
  address local = loopback(4, 0);
  address remote = loopback(4, port);
  captured_log log;
  for (int round = 0; round < 2; ++round) {
    call c;
    c.returned = npi.Dispatch->WskSocketConnect(npi.Client, SOCK_STREAM, IPPROTO_TCP, &local.sa,
                                                &remote.sa, WSK_FLAG_CONNECTION_SOCKET, nullptr,
                                                nullptr, nullptr, nullptr, nullptr, c.irp);
    ASSERT_EQ(c.wait(), STATUS_SUCCESS);
    close_socket(reinterpret_cast<PWSK_SOCKET>(c.information()));
  }
  const std::string text = log.text();
  EXPECT_EQ(count_of(text, "Flags = WSK_FLAG_CONNECTION_SOCKET"), 1u) << text;
  EXPECT_NE(text.find("rule V38 (warning)"), std::string::npos) << text;
  // Any other flag is still refused.
  call c;
  c.returned = npi.Dispatch->WskSocketConnect(npi.Client, SOCK_STREAM, IPPROTO_TCP, &local.sa,
                                              &remote.sa, WSK_FLAG_DATAGRAM_SOCKET, nullptr,
                                              nullptr, nullptr, nullptr, nullptr, c.irp);
  EXPECT_EQ(c.returned, STATUS_INVALID_PARAMETER);
  EXPECT_EQ(c.wait(), STATUS_INVALID_PARAMETER);
  peer_close(server);
}

TEST_F(WskValidation, APointerThatIsNotASocketIsABugCheckNamingRuleV30) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  PWSK_SOCKET s = make_socket(WSK_FLAG_CONNECTION_SOCKET);
  const auto *table = of<WSK_PROVIDER_CONNECTION_DISPATCH>(s);
  alignas(16) unsigned char not_a_socket[256] = {};
  buffer data("abc");
  call c;
  EXPECT_DEATH(table->WskSend(reinterpret_cast<PWSK_SOCKET>(not_a_socket), &data.wsk, 0, c.irp),
               "WskSend: .* is not an open WSK socket .*rule V30(.|\n)*"
               "DRIVER_VERIFIER_DETECTED_VIOLATION");
  EXPECT_DEATH(table->WskReceive(nullptr, &data.wsk, 0, c.irp),
               "rule V30(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
  PWSK_SOCKET datagram = make_socket(WSK_FLAG_DATAGRAM_SOCKET, SOCK_DGRAM, IPPROTO_UDP);
  EXPECT_DEATH(of<WSK_PROVIDER_DATAGRAM_DISPATCH>(datagram)->WskSendTo(nullptr, &data.wsk, 0,
                                                                       nullptr, 0, nullptr, c.irp),
               "WskSendTo: .*rule V30(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
  close_socket(datagram);
  close_socket(s);
}

} // namespace

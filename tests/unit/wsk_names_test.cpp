// Name resolution: WskGetAddressInfo, WskFreeAddressInfo and WskGetNameInfo, called directly
// with a registration and client-allocated IRPs, outputs preset to 0xdeadbeef. Only loopback,
// /etc/hosts and /etc/services are used: the tests never need DNS.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ip2string.h>
#include <wsk.h>

#include "nt/ex/pool.hpp"
#include "nt/ex/work_queue.hpp"
#include "support/timing.hpp"
#include "wsk/windows/client_level.hpp"
#include "wsk/registration.hpp"
#include "wsk/name_resolution.hpp"

namespace {

namespace wsk = uwsk::wsk;
using uwsk::test::eventually;
using uwsk::test::relative_ms;

constexpr NTSTATUS sentinel_status = static_cast<NTSTATUS>(0xdeadbeef);
constexpr ULONG_PTR sentinel = 0xdeadbeef;
const auto sentinel_list = reinterpret_cast<PADDRINFOEXW>(std::uintptr_t{0xdeadbeef});
constexpr ULONG result_tag = 'WskN';

NTSTATUS NTAPI signal_event(PDEVICE_OBJECT, PIRP, PVOID context) {
  KeSetEvent(static_cast<PKEVENT>(context), IO_NO_INCREMENT, FALSE);
  return STATUS_MORE_PROCESSING_REQUIRED;
}

// One client-allocated IRP with a completion routine that signals an event, as the WSK
// documentation's examples do.
struct irp_call {
  KEVENT event{};
  PIRP irp = nullptr;

  irp_call() {
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoAllocateIrp(1, FALSE);
    IoSetCompletionRoutine(irp, signal_event, &event, TRUE, TRUE, TRUE);
    irp->IoStatus.Status = sentinel_status;
    irp->IoStatus.Information = sentinel;
  }
  ~irp_call() {
    if (irp != nullptr) {
      IoFreeIrp(irp);
    }
  }
  irp_call(const irp_call &) = delete;
  irp_call &operator=(const irp_call &) = delete;

  // The IRP's final status once completed. A call that did not return STATUS_PENDING has already
  // completed it with the status it returned.
  NTSTATUS wait(NTSTATUS returned) {
    if (returned != STATUS_PENDING) {
      EXPECT_NE(KeReadStateEvent(&event), 0) << "returned without completing the IRP";
      EXPECT_EQ(irp->IoStatus.Status, returned);
      EXPECT_FALSE(irp->PendingReturned);
    } else {
      LARGE_INTEGER timeout = relative_ms(30000);
      EXPECT_EQ(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout),
                STATUS_SUCCESS);
      EXPECT_TRUE(irp->PendingReturned);
    }
    EXPECT_EQ(irp->IoStatus.Information, ULONG_PTR{0});
    return irp->IoStatus.Status;
  }
};

UNICODE_STRING ustr(const char16_t *text) {
  UNICODE_STRING s;
  const std::size_t n = std::char_traits<char16_t>::length(text);
  s.Length = static_cast<USHORT>(n * sizeof(WCHAR));
  s.MaximumLength = static_cast<USHORT>(s.Length + sizeof(WCHAR));
  s.Buffer = reinterpret_cast<PWCH>(const_cast<char16_t *>(text));
  return s;
}

std::u16string to_u16(const std::string &s) {
  return std::u16string(s.begin(), s.end());
}

// "127.0.0.1:80" or "[::1]:80" for a Windows SOCKADDR.
std::string address_text(const SOCKADDR *address) {
  char text[64] = {};
  ULONG length = sizeof text;
  if (address->sa_family == AF_INET) {
    auto *in = reinterpret_cast<const SOCKADDR_IN *>(address);
    EXPECT_EQ(RtlIpv4AddressToStringExA(&in->sin_addr, in->sin_port, text, &length),
              STATUS_SUCCESS);
  } else if (address->sa_family == AF_INET6) {
    auto *in6 = reinterpret_cast<const SOCKADDR_IN6 *>(address);
    EXPECT_EQ(RtlIpv6AddressToStringExA(&in6->sin6_addr, 0, in6->sin6_port, text, &length),
              STATUS_SUCCESS);
  } else {
    return "family " + std::to_string(address->sa_family);
  }
  return text;
}

// One result entry in a comparable form.
struct entry {
  int family;
  int socktype;
  int protocol;
  std::string address;
  bool operator==(const entry &) const = default;
};

std::ostream &operator<<(std::ostream &out, const entry &e) {
  return out << "{" << e.family << ", " << e.socktype << ", " << e.protocol << ", " << e.address
             << "}";
}

// Checks the invariants of every entry and returns them in order.
std::vector<entry> entries_of(const ADDRINFOEXW *list) {
  std::vector<entry> out;
  for (const ADDRINFOEXW *ai = list; ai != nullptr && out.size() < 100; ai = ai->ai_next) {
    EXPECT_NE(ai->ai_addr, nullptr);
    if (ai->ai_addr == nullptr) {
      break;
    }
    EXPECT_EQ(ai->ai_addr->sa_family, ai->ai_family);
    EXPECT_EQ(ai->ai_addrlen,
              ai->ai_family == AF_INET6 ? sizeof(SOCKADDR_IN6) : sizeof(SOCKADDR_IN));
    EXPECT_EQ(ai->ai_blob, nullptr);
    EXPECT_EQ(ai->ai_bloblen, 0u);
    EXPECT_EQ(ai->ai_provider, nullptr);
    if (ai != list) {
      EXPECT_EQ(ai->ai_canonname, nullptr);
    }
    out.push_back({ai->ai_family, ai->ai_socktype, ai->ai_protocol, address_text(ai->ai_addr)});
  }
  return out;
}

std::size_t outstanding_results() {
  for (const auto &usage : uwsk::nt::pool_outstanding()) {
    if (usage.tag == result_tag) {
      return usage.allocations;
    }
  }
  return 0;
}

// The lines of /etc/hosts as (address, names).
std::vector<std::pair<std::string, std::vector<std::string>>> hosts_file() {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  std::ifstream in("/etc/hosts");
  std::string line;
  while (std::getline(in, line) && out.size() < 1000) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string address;
    if (!(words >> address)) {
      continue;
    }
    std::vector<std::string> names;
    for (std::string name; words >> name;) {
      names.push_back(name);
    }
    if (!names.empty()) {
      out.emplace_back(address, names);
    }
  }
  return out;
}

class WskNames : public ::testing::Test {
protected:
  wsk::registration reg;

  // A registration as WskRegister and one WskCaptureProviderNPI leave it: client-level calls
  // need a captured NPI (rule V3).
  WskNames() { reg.captures = 1; }

  PWSK_CLIENT client() { return &reg; }

  void TearDown() override {
    wsk::hold_lookups(false);
    uwsk::nt::drain_work_queues();
    std::lock_guard guard(reg.lock);
    EXPECT_EQ(reg.pending, 0u);
  }

  // Resolves and returns the final status; `list` receives the result (or stays a sentinel).
  NTSTATUS resolve(const char16_t *node, const char16_t *service, const ADDRINFOEXW *hints,
                   PADDRINFOEXW &list, ULONG name_space = NS_ALL) {
    irp_call call;
    UNICODE_STRING node_string = node != nullptr ? ustr(node) : UNICODE_STRING{};
    UNICODE_STRING service_string = service != nullptr ? ustr(service) : UNICODE_STRING{};
    list = sentinel_list;
    const NTSTATUS returned =
        wsk::get_address_info(client(), node != nullptr ? &node_string : nullptr,
                              service != nullptr ? &service_string : nullptr, name_space, nullptr,
                              const_cast<PADDRINFOEXW>(hints), &list, nullptr, nullptr, call.irp);
    const NTSTATUS status = call.wait(returned);
    if (!NT_SUCCESS(status)) {
      EXPECT_EQ(list, sentinel_list) << "Result written on failure";
    }
    return status;
  }

  // Resolves, checks success, returns the entries and frees the list.
  std::vector<entry> resolve_entries(const char16_t *node, const char16_t *service,
                                     const ADDRINFOEXW *hints,
                                     std::u16string *canonical = nullptr) {
    PADDRINFOEXW list = nullptr;
    EXPECT_EQ(resolve(node, service, hints, list), STATUS_SUCCESS);
    if (list == sentinel_list || list == nullptr) {
      return {};
    }
    std::vector<entry> out = entries_of(list);
    if (canonical != nullptr) {
      *canonical = list->ai_canonname != nullptr
                       ? std::u16string(reinterpret_cast<const char16_t *>(list->ai_canonname))
                       : u"(null)";
    } else {
      EXPECT_EQ(list->ai_canonname, nullptr);
    }
    wsk::free_address_info(client(), list);
    return out;
  }

  // Resolves a name, returning the final status; node and service as the strings written.
  NTSTATUS name_of(const SOCKADDR *address, ULONG length, ULONG flags, std::u16string *node,
                   std::u16string *service, USHORT node_room = 256, USHORT service_room = 64) {
    irp_call call;
    std::vector<char16_t> node_buffer(node_room / 2 + 1, u'#');
    std::vector<char16_t> service_buffer(service_room / 2 + 1, u'#');
    UNICODE_STRING node_string{0xbeef, node_room, reinterpret_cast<PWCH>(node_buffer.data())};
    UNICODE_STRING service_string{0xbeef, service_room,
                                  reinterpret_cast<PWCH>(service_buffer.data())};
    const NTSTATUS returned = wsk::get_name_info(
        client(), const_cast<PSOCKADDR>(address), length, node != nullptr ? &node_string : nullptr,
        service != nullptr ? &service_string : nullptr, flags, nullptr, nullptr, call.irp);
    const NTSTATUS status = call.wait(returned);
    EXPECT_EQ(node_string.MaximumLength, node_room);
    EXPECT_EQ(service_string.MaximumLength, service_room);
    if (NT_SUCCESS(status)) {
      if (node != nullptr) {
        *node = std::u16string(node_buffer.data(), node_string.Length / 2);
        EXPECT_EQ(node_buffer[node_string.Length / 2], u'\0');
      }
      if (service != nullptr) {
        *service = std::u16string(service_buffer.data(), service_string.Length / 2);
        EXPECT_EQ(service_buffer[service_string.Length / 2], u'\0');
      }
    } else {
      EXPECT_EQ(node_string.Length, 0xbeef) << "NodeName changed on failure";
      EXPECT_EQ(service_string.Length, 0xbeef) << "ServiceName changed on failure";
      EXPECT_EQ(node_buffer[0], u'#');
      EXPECT_EQ(service_buffer[0], u'#');
    }
    return status;
  }
};

ADDRINFOEXW hints_of(int flags, int family = AF_UNSPEC, int socktype = 0, int protocol = 0) {
  ADDRINFOEXW hints{};
  hints.ai_flags = flags;
  hints.ai_family = family;
  hints.ai_socktype = socktype;
  hints.ai_protocol = protocol;
  return hints;
}

SOCKADDR_IN ipv4(const char *text, USHORT port) {
  SOCKADDR_IN address{};
  address.sin_family = AF_INET;
  address.sin_port = RtlUshortByteSwap(port);
  PCSTR end = nullptr;
  EXPECT_EQ(RtlIpv4StringToAddressA(text, TRUE, &end, &address.sin_addr), STATUS_SUCCESS);
  return address;
}

SOCKADDR_IN6 ipv6(const char *text, USHORT port) {
  SOCKADDR_IN6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_port = RtlUshortByteSwap(port);
  PCSTR end = nullptr;
  EXPECT_EQ(RtlIpv6StringToAddressA(text, &end, &address.sin6_addr), STATUS_SUCCESS);
  return address;
}

// ---- WskGetAddressInfo -------------------------------------------------------------------------

// "localhost" is both loopback addresses, IPv6 first, as Windows answers it (not from
// /etc/hosts, which here may list only 127.0.0.1).
TEST_F(WskNames, LocalhostGivesBothLoopbackAddresses) {
  const ADDRINFOEXW tcp = hints_of(0, AF_UNSPEC, SOCK_STREAM, IPPROTO_TCP);
  EXPECT_EQ(resolve_entries(u"localhost", u"80", &tcp),
            (std::vector<entry>{{AF_INET6, SOCK_STREAM, IPPROTO_TCP, "[::1]:80"},
                                {AF_INET, SOCK_STREAM, IPPROTO_TCP, "127.0.0.1:80"}}));
  // No type or protocol hinted: one entry per address with type and protocol 0, as Windows.
  EXPECT_EQ(resolve_entries(u"LocalHost.", u"80", nullptr),
            (std::vector<entry>{{AF_INET6, 0, 0, "[::1]:80"}, {AF_INET, 0, 0, "127.0.0.1:80"}}));
  EXPECT_EQ(outstanding_results(), 0u);
}

TEST_F(WskNames, NumericIpv4) {
  const ADDRINFOEXW numeric = hints_of(AI_NUMERICHOST);
  EXPECT_EQ(resolve_entries(u"127.0.0.1", u"80", &numeric),
            (std::vector<entry>{{AF_INET, 0, 0, "127.0.0.1:80"}}));
  const ADDRINFOEXW udp = hints_of(0, AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  EXPECT_EQ(resolve_entries(u"127.0.0.1", nullptr, &udp),
            (std::vector<entry>{{AF_INET, SOCK_DGRAM, IPPROTO_UDP, "127.0.0.1"}}));
}

TEST_F(WskNames, NumericIpv6) {
  const ADDRINFOEXW tcp = hints_of(AI_NUMERICHOST, AF_UNSPEC, SOCK_STREAM, IPPROTO_TCP);
  EXPECT_EQ(resolve_entries(u"::1", u"443", &tcp),
            (std::vector<entry>{{AF_INET6, SOCK_STREAM, IPPROTO_TCP, "[::1]:443"}}));
}

// The name is read up to Length; a NUL counted in Length ends it (Windows reads the buffer as a
// NUL-terminated string).
TEST_F(WskNames, LengthCountingTheTerminator) {
  irp_call call;
  static const char16_t text[] = u"127.0.0.1";
  UNICODE_STRING node{sizeof text, sizeof text,
                      reinterpret_cast<PWCH>(const_cast<char16_t *>(text))};
  PADDRINFOEXW list = sentinel_list;
  const NTSTATUS returned = wsk::get_address_info(client(), &node, nullptr, NS_DNS, nullptr,
                                                  nullptr, &list, nullptr, nullptr, call.irp);
  ASSERT_EQ(call.wait(returned), STATUS_SUCCESS);
  EXPECT_EQ(entries_of(list), (std::vector<entry>{{AF_INET, 0, 0, "127.0.0.1"}}));
  wsk::free_address_info(client(), list);
}

TEST_F(WskNames, NumericAndNamedServices) {
  const ADDRINFOEXW tcp4 = hints_of(0, AF_INET, SOCK_STREAM, IPPROTO_TCP);
  EXPECT_EQ(resolve_entries(u"127.0.0.1", u"80", &tcp4),
            (std::vector<entry>{{AF_INET, SOCK_STREAM, IPPROTO_TCP, "127.0.0.1:80"}}));
  // Named services come from /etc/services.
  EXPECT_EQ(resolve_entries(u"127.0.0.1", u"http", &tcp4),
            (std::vector<entry>{{AF_INET, SOCK_STREAM, IPPROTO_TCP, "127.0.0.1:80"}}));
  EXPECT_EQ(resolve_entries(u"localhost", u"https", &tcp4),
            (std::vector<entry>{{AF_INET, SOCK_STREAM, IPPROTO_TCP, "127.0.0.1:443"}}));
  // AI_NUMERICSERV refuses a service name; an unknown service is an invalid parameter.
  const ADDRINFOEXW numeric_service = hints_of(AI_NUMERICSERV, AF_INET, SOCK_STREAM);
  PADDRINFOEXW list = nullptr;
  EXPECT_EQ(resolve(u"127.0.0.1", u"http", &numeric_service, list), STATUS_NO_MATCH);
  EXPECT_EQ(resolve(u"127.0.0.1", u"no-such-service-uwsk", &tcp4, list), STATUS_INVALID_PARAMETER);
}

TEST_F(WskNames, ServiceOnly) {
  const ADDRINFOEXW passive4 = hints_of(AI_PASSIVE, AF_INET, SOCK_STREAM);
  EXPECT_EQ(resolve_entries(nullptr, u"8080", &passive4),
            (std::vector<entry>{{AF_INET, SOCK_STREAM, IPPROTO_TCP, "0.0.0.0:8080"}}));
  const ADDRINFOEXW passive6 = hints_of(AI_PASSIVE, AF_INET6, SOCK_STREAM);
  EXPECT_EQ(resolve_entries(nullptr, u"8080", &passive6),
            (std::vector<entry>{{AF_INET6, SOCK_STREAM, IPPROTO_TCP, "[::]:8080"}}));
  // Without AI_PASSIVE, no node name means loopback.
  const ADDRINFOEXW active4 = hints_of(0, AF_INET, SOCK_DGRAM);
  EXPECT_EQ(resolve_entries(nullptr, u"53", &active4),
            (std::vector<entry>{{AF_INET, SOCK_DGRAM, IPPROTO_UDP, "127.0.0.1:53"}}));
  // An empty node name counts as none.
  irp_call call;
  UNICODE_STRING empty{0, 2, reinterpret_cast<PWCH>(const_cast<char16_t *>(u""))};
  UNICODE_STRING port = ustr(u"8080");
  PADDRINFOEXW list = sentinel_list;
  const NTSTATUS returned =
      wsk::get_address_info(client(), &empty, &port, NS_ALL, nullptr,
                            const_cast<PADDRINFOEXW>(&passive4), &list, nullptr, nullptr, call.irp);
  ASSERT_EQ(call.wait(returned), STATUS_SUCCESS);
  EXPECT_EQ(entries_of(list),
            (std::vector<entry>{{AF_INET, SOCK_STREAM, IPPROTO_TCP, "0.0.0.0:8080"}}));
  wsk::free_address_info(client(), list);
}

TEST_F(WskNames, CanonicalNameInUtf16) {
  const ADDRINFOEXW canonical = hints_of(AI_CANONNAME, AF_INET, SOCK_STREAM);
  std::u16string name;
  EXPECT_EQ(resolve_entries(u"localhost", nullptr, &canonical, &name),
            (std::vector<entry>{{AF_INET, SOCK_STREAM, IPPROTO_TCP, "127.0.0.1"}}));
  EXPECT_EQ(name, u"localhost");
  // AI_FQDN asks for the same name; it may not be combined with AI_CANONNAME.
  const ADDRINFOEXW fqdn = hints_of(AI_FQDN, AF_INET, SOCK_STREAM);
  resolve_entries(u"localhost", nullptr, &fqdn, &name);
  EXPECT_EQ(name, u"localhost");
  // A numeric host is its own canonical name.
  const ADDRINFOEXW numeric = hints_of(AI_CANONNAME | AI_NUMERICHOST, AF_INET, SOCK_STREAM);
  resolve_entries(u"127.0.0.1", nullptr, &numeric, &name);
  EXPECT_EQ(name, u"127.0.0.1");
}

// Names from /etc/hosts other than localhost resolve through glibc's files backend, with the
// line's first name as the canonical name.
TEST_F(WskNames, HostsFile) {
  for (const auto &[address, names] : hosts_file()) {
    const bool v6 = address.find(':') != std::string::npos;
    for (const std::string &name : names) {
      if (name == "localhost") {
        continue; // answered without the file
      }
      const ADDRINFOEXW hints = hints_of(AI_CANONNAME, v6 ? AF_INET6 : AF_INET, SOCK_STREAM);
      std::u16string canonical;
      const std::u16string node = to_u16(name);
      const std::vector<entry> found = resolve_entries(node.c_str(), nullptr, &hints, &canonical);
      // The file's spelling of the address, as the runtime formats it ("fe00::0" is "fe00::").
      SOCKADDR_STORAGE parsed{};
      if (v6) {
        *reinterpret_cast<SOCKADDR_IN6 *>(&parsed) = ipv6(address.c_str(), 0);
      } else {
        *reinterpret_cast<SOCKADDR_IN *>(&parsed) = ipv4(address.c_str(), 0);
      }
      const std::string expected = address_text(reinterpret_cast<const SOCKADDR *>(&parsed));
      bool listed = false;
      for (const entry &e : found) {
        listed = listed || e.address == expected;
      }
      EXPECT_TRUE(listed) << name << " should resolve to " << expected;
      EXPECT_FALSE(canonical.empty());
      return;
    }
  }
  GTEST_SKIP() << "/etc/hosts names nothing but localhost";
}

TEST_F(WskNames, Ipv6FamilyHint) {
  const ADDRINFOEXW inet6 = hints_of(0, AF_INET6, SOCK_STREAM, IPPROTO_TCP);
  PADDRINFOEXW list = nullptr;
  ASSERT_EQ(resolve(u"localhost", u"80", &inet6, list), STATUS_SUCCESS);
  const std::vector<entry> found = entries_of(list);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], (entry{23, SOCK_STREAM, IPPROTO_TCP, "[::1]:80"}));
  EXPECT_EQ(list->ai_family, 23);
  EXPECT_EQ(list->ai_addr->sa_family, 23);
  wsk::free_address_info(client(), list);

  // An IPv4 literal has no IPv6 address unless mapped addresses are asked for.
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, &inet6, list), STATUS_NO_MATCH);
  const ADDRINFOEXW mapped = hints_of(AI_V4MAPPED, AF_INET6, SOCK_STREAM, IPPROTO_TCP);
  EXPECT_EQ(resolve_entries(u"127.0.0.1", nullptr, &mapped),
            (std::vector<entry>{{AF_INET6, SOCK_STREAM, IPPROTO_TCP, "::ffff:127.0.0.1"}}));
  // localhost has a native IPv6 address, so AI_V4MAPPED adds nothing, unless with AI_ALL.
  EXPECT_EQ(resolve_entries(u"localhost", nullptr, &mapped),
            (std::vector<entry>{{AF_INET6, SOCK_STREAM, IPPROTO_TCP, "::1"}}));
  const ADDRINFOEXW all = hints_of(AI_V4MAPPED | AI_ALL, AF_INET6, SOCK_STREAM, IPPROTO_TCP);
  EXPECT_EQ(resolve_entries(u"localhost", nullptr, &all),
            (std::vector<entry>{{AF_INET6, SOCK_STREAM, IPPROTO_TCP, "::1"},
                                {AF_INET6, SOCK_STREAM, IPPROTO_TCP, "::ffff:127.0.0.1"}}));
  const ADDRINFOEXW inet = hints_of(0, AF_INET, SOCK_STREAM, IPPROTO_TCP);
  EXPECT_EQ(resolve(u"::1", nullptr, &inet, list), STATUS_NO_MATCH);
}

TEST_F(WskNames, UnresolvableNames) {
  PADDRINFOEXW list = nullptr;
  // The reserved TLD never resolves, and never reaches DNS.
  EXPECT_EQ(resolve(u"name.invalid", u"80", nullptr, list), STATUS_NO_MATCH);
  EXPECT_EQ(resolve(u"Name.INVALID.", nullptr, nullptr, list), STATUS_NO_MATCH);
  // A name where only a numeric address is allowed: glibc's EAI_NONAME.
  const ADDRINFOEXW numeric = hints_of(AI_NUMERICHOST);
  EXPECT_EQ(resolve(u"localhost", nullptr, &numeric, list), STATUS_NO_MATCH);
  EXPECT_EQ(resolve(u"300.1.2.3", nullptr, &numeric, list), STATUS_NO_MATCH);
  EXPECT_EQ(outstanding_results(), 0u);
}

TEST_F(WskNames, BadParametersCompleteTheIrp) {
  PADDRINFOEXW list = nullptr;
  // Name spaces other than NS_ALL and NS_DNS.
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, nullptr, list, NS_TCPIP_HOSTS),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, nullptr, list, NS_NLA), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, nullptr, list, NS_DNS), STATUS_SUCCESS);
  wsk::free_address_info(client(), list);
  // Neither name.
  EXPECT_EQ(resolve(nullptr, nullptr, nullptr, list), STATUS_INVALID_PARAMETER);
  // Hints: unknown family, flags, fields that must be zero, AI_CANONNAME without a node.
  ADDRINFOEXW hints = hints_of(0, 99);
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, &hints, list), STATUS_INVALID_PARAMETER);
  hints = hints_of(0x2000);
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, &hints, list), STATUS_INVALID_PARAMETER);
  hints = hints_of(AI_SECURE);
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, &hints, list), STATUS_INVALID_PARAMETER);
  hints = hints_of(AI_CANONNAME | AI_FQDN);
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, &hints, list), STATUS_INVALID_PARAMETER);
  hints = hints_of(0);
  hints.ai_addrlen = 16;
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, &hints, list), STATUS_INVALID_PARAMETER);
  hints = hints_of(0);
  hints.ai_next = &hints;
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, &hints, list), STATUS_INVALID_PARAMETER);
  hints = hints_of(0, AF_UNSPEC, 42);
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, &hints, list), STATUS_INVALID_PARAMETER);
  hints = hints_of(AI_CANONNAME);
  EXPECT_EQ(resolve(nullptr, u"80", &hints, list), STATUS_INVALID_PARAMETER);
  // Ignored flags are accepted.
  hints = hints_of(AI_DISABLE_IDN_ENCODING | AI_FILESERVER | AI_NUMERICHOST);
  EXPECT_EQ(resolve(u"127.0.0.1", nullptr, &hints, list), STATUS_SUCCESS);
  wsk::free_address_info(client(), list);

  UNICODE_STRING node = ustr(u"127.0.0.1");
  GUID provider{};
  auto expect_invalid = [&](PUNICODE_STRING n, GUID *p, PADDRINFOEXW *result, PEPROCESS process,
                            PETHREAD thread) {
    irp_call call;
    PADDRINFOEXW out = sentinel_list;
    const NTSTATUS returned =
        wsk::get_address_info(client(), n, nullptr, NS_ALL, p, nullptr,
                              result == nullptr ? nullptr : &out, process, thread, call.irp);
    EXPECT_EQ(returned, STATUS_INVALID_PARAMETER);
    EXPECT_EQ(call.wait(returned), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(out, sentinel_list);
  };
  PADDRINFOEXW dummy = nullptr;
  expect_invalid(&node, &provider, &dummy, nullptr, nullptr); // Provider must be NULL
  expect_invalid(&node, nullptr, nullptr, nullptr, nullptr);  // no Result
  // V72: an owning thread needs an owning process.
  expect_invalid(&node, nullptr, &dummy, nullptr, PsGetCurrentThread());
  UNICODE_STRING odd{3, 20, node.Buffer};
  expect_invalid(&odd, nullptr, &dummy, nullptr, nullptr);
  UNICODE_STRING longer{20, 10, node.Buffer};
  expect_invalid(&longer, nullptr, &dummy, nullptr, nullptr);
  UNICODE_STRING no_buffer{4, 4, nullptr};
  expect_invalid(&no_buffer, nullptr, &dummy, nullptr, nullptr);
  static const char16_t lone_surrogate[] = {u'a', 0xD800, u'b', 0};
  UNICODE_STRING bad_utf16{6, 8, reinterpret_cast<PWCH>(const_cast<char16_t *>(lone_surrogate))};
  expect_invalid(&bad_utf16, nullptr, &dummy, nullptr, nullptr);

  // With an owning process, an owning thread is fine.
  irp_call call;
  PADDRINFOEXW out = sentinel_list;
  const NTSTATUS returned =
      wsk::get_address_info(client(), &node, nullptr, NS_ALL, nullptr, nullptr, &out,
                            PsGetCurrentProcess(), PsGetCurrentThread(), call.irp);
  ASSERT_EQ(call.wait(returned), STATUS_SUCCESS);
  wsk::free_address_info(client(), out);
  // Without an IRP nothing can be completed.
  EXPECT_EQ(wsk::get_address_info(client(), &node, nullptr, NS_ALL, nullptr, nullptr, &out, nullptr,
                                  nullptr, nullptr),
            STATUS_INVALID_PARAMETER);
}

// A pending lookup cancelled after glibc answered: the IRP completes with STATUS_CANCELLED at
// once, and the late answer is freed, never delivered.
TEST_F(WskNames, CancelPendingAddressLookup) {
  wsk::hold_lookups(true);
  auto call = std::make_unique<irp_call>();
  UNICODE_STRING node = ustr(u"127.0.0.1");
  PADDRINFOEXW list = sentinel_list;
  ASSERT_EQ(wsk::get_address_info(client(), &node, nullptr, NS_ALL, nullptr, nullptr, &list,
                                  nullptr, nullptr, call->irp),
            STATUS_PENDING);
  eventually([] { return wsk::held_lookups() != 0; }, std::chrono::seconds(10),
             std::chrono::milliseconds(10));
  ASSERT_EQ(wsk::held_lookups(), 1u);
  {
    std::lock_guard guard(reg.lock);
    EXPECT_EQ(reg.pending, 1u);
  }
  EXPECT_TRUE(IoCancelIrp(call->irp));
  EXPECT_NE(KeReadStateEvent(&call->event), 0);
  EXPECT_EQ(call->irp->IoStatus.Status, STATUS_CANCELLED);
  EXPECT_EQ(call->irp->IoStatus.Information, ULONG_PTR{0});
  EXPECT_TRUE(call->irp->PendingReturned);
  {
    std::lock_guard guard(reg.lock);
    EXPECT_EQ(reg.pending, 0u);
  }
  call.reset(); // the IRP is freed: the worker must not touch it again
  wsk::hold_lookups(false);
  uwsk::nt::drain_work_queues();
  EXPECT_EQ(list, sentinel_list);
  EXPECT_EQ(outstanding_results(), 0u);
}

TEST_F(WskNames, CancelPendingNameLookup) {
  wsk::hold_lookups(true);
  auto call = std::make_unique<irp_call>();
  const SOCKADDR_IN address = ipv4("127.0.0.1", 80);
  char16_t buffer[32];
  std::fill(std::begin(buffer), std::end(buffer), u'#');
  UNICODE_STRING node{0xbeef, sizeof buffer, reinterpret_cast<PWCH>(buffer)};
  ASSERT_EQ(wsk::get_name_info(
                client(), reinterpret_cast<PSOCKADDR>(const_cast<SOCKADDR_IN *>(&address)),
                sizeof address, &node, nullptr, NI_NUMERICHOST, nullptr, nullptr, call->irp),
            STATUS_PENDING);
  eventually([] { return wsk::held_lookups() != 0; }, std::chrono::seconds(10),
             std::chrono::milliseconds(10));
  ASSERT_EQ(wsk::held_lookups(), 1u);
  EXPECT_TRUE(IoCancelIrp(call->irp));
  EXPECT_EQ(call->irp->IoStatus.Status, STATUS_CANCELLED);
  call.reset();
  wsk::hold_lookups(false);
  uwsk::nt::drain_work_queues();
  EXPECT_EQ(node.Length, 0xbeef);
  EXPECT_EQ(buffer[0], u'#');
}

// Cancellation racing the worker: before it starts, during the lookup, or after completion.
// Either outcome is whole: success with a list, or STATUS_CANCELLED with Result untouched.
TEST_F(WskNames, CancelRacesWithCompletion) {
  UNICODE_STRING node = ustr(u"localhost");
  int cancelled = 0;
  for (int i = 0; i < 50; ++i) {
    irp_call call;
    PADDRINFOEXW list = sentinel_list;
    const NTSTATUS returned = wsk::get_address_info(client(), &node, nullptr, NS_ALL, nullptr,
                                                    nullptr, &list, nullptr, nullptr, call.irp);
    ASSERT_EQ(returned, STATUS_PENDING);
    IoCancelIrp(call.irp);
    const NTSTATUS status = call.wait(returned);
    if (status == STATUS_CANCELLED) {
      ++cancelled;
      EXPECT_EQ(list, sentinel_list);
    } else {
      ASSERT_EQ(status, STATUS_SUCCESS);
      wsk::free_address_info(client(), list);
    }
  }
  uwsk::nt::drain_work_queues();
  EXPECT_EQ(outstanding_results(), 0u);
  RecordProperty("cancelled_of_50", cancelled);
}

// An IRP cancelled before the call could park it completes at once, not pending.
TEST_F(WskNames, CancelledBeforeTheCall) {
  irp_call call;
  EXPECT_FALSE(IoCancelIrp(call.irp)); // no cancel routine yet: only the Cancel flag is set
  UNICODE_STRING node = ustr(u"127.0.0.1");
  PADDRINFOEXW list = sentinel_list;
  const NTSTATUS returned = wsk::get_address_info(client(), &node, nullptr, NS_ALL, nullptr,
                                                  nullptr, &list, nullptr, nullptr, call.irp);
  EXPECT_EQ(returned, STATUS_CANCELLED);
  EXPECT_EQ(call.wait(returned), STATUS_CANCELLED);
  EXPECT_EQ(list, sentinel_list);
}

TEST_F(WskNames, ManyConcurrentLookups) {
  constexpr int count = 16;
  std::vector<std::unique_ptr<irp_call>> calls;
  std::vector<PADDRINFOEXW> lists(count, sentinel_list);
  UNICODE_STRING node = ustr(u"localhost");
  UNICODE_STRING service = ustr(u"http");
  const ADDRINFOEXW tcp = hints_of(0, AF_UNSPEC, SOCK_STREAM);
  for (int i = 0; i < count; ++i) {
    calls.push_back(std::make_unique<irp_call>());
    const NTSTATUS returned = wsk::get_address_info(client(), &node, &service, NS_ALL, nullptr,
                                                    const_cast<PADDRINFOEXW>(&tcp), &lists[i],
                                                    nullptr, nullptr, calls.back()->irp);
    EXPECT_EQ(returned, STATUS_PENDING);
  }
  for (int i = 0; i < count; ++i) {
    ASSERT_EQ(calls[i]->wait(STATUS_PENDING), STATUS_SUCCESS);
    EXPECT_EQ(entries_of(lists[i]).size(), 2u);
    wsk::free_address_info(client(), lists[i]);
  }
  EXPECT_EQ(outstanding_results(), 0u);
}

// ---- WskFreeAddressInfo ------------------------------------------------------------------------

TEST_F(WskNames, FreeingNullDoesNothing) {
  wsk::free_address_info(client(), nullptr);
}

using WskNamesDeathTest = WskNames;

TEST_F(WskNamesDeathTest, DoubleFreeIsAVerifierViolation) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  PADDRINFOEXW list = nullptr;
  ASSERT_EQ(resolve(u"127.0.0.1", nullptr, nullptr, list), STATUS_SUCCESS);
  wsk::free_address_info(client(), list);
  EXPECT_DEATH(wsk::free_address_info(client(), list),
               "V71(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
}

TEST_F(WskNamesDeathTest, FreeingAnEntryOtherThanTheHeadIsAVerifierViolation) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  PADDRINFOEXW list = nullptr;
  ASSERT_EQ(resolve(u"localhost", nullptr, nullptr, list), STATUS_SUCCESS);
  ASSERT_NE(list->ai_next, nullptr);
  EXPECT_DEATH(wsk::free_address_info(client(), list->ai_next),
               "V71(.|\n)*DRIVER_VERIFIER_DETECTED_VIOLATION");
  wsk::free_address_info(client(), list);
}

TEST_F(WskNamesDeathTest, AbovePassiveLevelBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  UNICODE_STRING node = ustr(u"127.0.0.1");
  EXPECT_DEATH(
      {
        irp_call call;
        PADDRINFOEXW list = nullptr;
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        wsk::get_address_info(client(), &node, nullptr, NS_ALL, nullptr, nullptr, &list, nullptr,
                              nullptr, call.irp);
      },
      "V70(.|\n)*IRQL_NOT_LESS_OR_EQUAL");
  EXPECT_DEATH(
      {
        KIRQL old;
        KeRaiseIrql(APC_LEVEL, &old);
        wsk::free_address_info(client(), nullptr);
      },
      "V70(.|\n)*IRQL_NOT_LESS_OR_EQUAL");
}

// ---- WskGetNameInfo ----------------------------------------------------------------------------

TEST_F(WskNames, NumericNames) {
  const SOCKADDR_IN v4 = ipv4("127.0.0.1", 80);
  std::u16string node;
  std::u16string service;
  EXPECT_EQ(name_of(reinterpret_cast<const SOCKADDR *>(&v4), sizeof v4,
                    NI_NUMERICHOST | NI_NUMERICSERV, &node, &service),
            STATUS_SUCCESS);
  EXPECT_EQ(node, u"127.0.0.1");
  EXPECT_EQ(service, u"80");

  const SOCKADDR_IN6 v6 = ipv6("::1", 443);
  EXPECT_EQ(name_of(reinterpret_cast<const SOCKADDR *>(&v6), sizeof v6,
                    NI_NUMERICHOST | NI_NUMERICSERV, &node, &service),
            STATUS_SUCCESS);
  EXPECT_EQ(node, u"::1");
  EXPECT_EQ(service, u"443");
  // Only the node, in a SOCKADDR_STORAGE-sized buffer.
  SOCKADDR_STORAGE storage{};
  std::memcpy(&storage, &v6, sizeof v6);
  EXPECT_EQ(name_of(reinterpret_cast<const SOCKADDR *>(&storage), sizeof storage, NI_NUMERICHOST,
                    &node, nullptr),
            STATUS_SUCCESS);
  EXPECT_EQ(node, u"::1");
}

// Without NI_NUMERICHOST/NI_NUMERICSERV the names come from /etc/hosts and /etc/services.
TEST_F(WskNames, NamesFromHostsAndServices) {
  std::string expected;
  for (const auto &[address, names] : hosts_file()) {
    if (address == "127.0.0.1") {
      expected = names.front();
      break;
    }
  }
  if (expected.empty()) {
    GTEST_SKIP() << "/etc/hosts has no 127.0.0.1 line";
  }
  const SOCKADDR_IN v4 = ipv4("127.0.0.1", 80);
  std::u16string node;
  std::u16string service;
  EXPECT_EQ(name_of(reinterpret_cast<const SOCKADDR *>(&v4), sizeof v4, 0, &node, &service),
            STATUS_SUCCESS);
  EXPECT_EQ(node, to_u16(expected));
  EXPECT_EQ(service, u"http");
  // NI_DGRAM: a port named only for UDP.
  const SOCKADDR_IN dns = ipv4("127.0.0.1", 53);
  EXPECT_EQ(name_of(reinterpret_cast<const SOCKADDR *>(&dns), sizeof dns, NI_NUMERICHOST | NI_DGRAM,
                    nullptr, &service),
            STATUS_SUCCESS);
  EXPECT_EQ(service, u"domain");
}

TEST_F(WskNames, SmallBuffers) {
  const SOCKADDR_IN v4 = ipv4("127.0.0.1", 8080);
  std::u16string node;
  std::u16string service;
  const ULONG numeric = NI_NUMERICHOST | NI_NUMERICSERV;
  const auto *address = reinterpret_cast<const SOCKADDR *>(&v4);
  // "127.0.0.1" needs 9 characters and the NUL: 20 bytes.
  EXPECT_EQ(name_of(address, sizeof v4, numeric, &node, &service, 20, 10), STATUS_SUCCESS);
  EXPECT_EQ(node, u"127.0.0.1");
  EXPECT_EQ(service, u"8080");
  EXPECT_EQ(name_of(address, sizeof v4, numeric, &node, &service, 18, 10), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(name_of(address, sizeof v4, numeric, &node, &service, 20, 8), STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(name_of(address, sizeof v4, numeric, &node, nullptr, 0), STATUS_BUFFER_TOO_SMALL);
}

TEST_F(WskNames, NameInfoBadParameters) {
  const SOCKADDR_IN v4 = ipv4("127.0.0.1", 80);
  const auto *address = reinterpret_cast<const SOCKADDR *>(&v4);
  std::u16string node;
  // V73: not both outputs NULL.
  EXPECT_EQ(name_of(address, sizeof v4, NI_NUMERICHOST, nullptr, nullptr),
            STATUS_INVALID_PARAMETER);
  // V73: SockAddrLength at most sizeof(SOCKADDR_STORAGE), and at least the family's size.
  EXPECT_EQ(name_of(address, sizeof(SOCKADDR_STORAGE) + 1, NI_NUMERICHOST, &node, nullptr),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(name_of(address, sizeof v4 - 1, NI_NUMERICHOST, &node, nullptr),
            STATUS_INVALID_PARAMETER);
  SOCKADDR_IN6 short6 = ipv6("::1", 80);
  EXPECT_EQ(name_of(reinterpret_cast<const SOCKADDR *>(&short6), sizeof(SOCKADDR_IN),
                    NI_NUMERICHOST, &node, nullptr),
            STATUS_INVALID_PARAMETER);
  SOCKADDR_IN other = v4;
  other.sin_family = AF_UNIX;
  EXPECT_EQ(name_of(reinterpret_cast<const SOCKADDR *>(&other), sizeof other, NI_NUMERICHOST, &node,
                    nullptr),
            STATUS_INVALID_PARAMETER);
  // Unknown flags.
  EXPECT_EQ(name_of(address, sizeof v4, NI_NUMERICHOST | 0x20, &node, nullptr),
            STATUS_INVALID_PARAMETER);

  irp_call call;
  UNICODE_STRING no_buffer{0, 64, nullptr};
  NTSTATUS returned =
      wsk::get_name_info(client(), const_cast<PSOCKADDR>(address), sizeof v4, &no_buffer, nullptr,
                         NI_NUMERICHOST, nullptr, nullptr, call.irp);
  EXPECT_EQ(call.wait(returned), STATUS_INVALID_PARAMETER);
  irp_call v72;
  char16_t buffer[64];
  UNICODE_STRING out{0, sizeof buffer, reinterpret_cast<PWCH>(buffer)};
  returned = wsk::get_name_info(client(), const_cast<PSOCKADDR>(address), sizeof v4, &out, nullptr,
                                NI_NUMERICHOST, nullptr, PsGetCurrentThread(), v72.irp);
  EXPECT_EQ(v72.wait(returned), STATUS_INVALID_PARAMETER);
  irp_call null_address;
  returned = wsk::get_name_info(client(), nullptr, sizeof v4, &out, nullptr, NI_NUMERICHOST,
                                nullptr, nullptr, null_address.irp);
  EXPECT_EQ(null_address.wait(returned), STATUS_INVALID_PARAMETER);
}

} // namespace

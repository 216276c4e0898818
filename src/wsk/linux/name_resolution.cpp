// The Linux half of name resolution: getaddrinfo and getnameinfo with Linux flags and sockaddrs,
// answers in Windows layout (through linux/translate.hpp). The contract is in name_resolution.hpp;
// the WSK-facing half is windows/name_resolution.cpp.
#include "wsk/name_resolution.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <new>
#include <string_view>

#include "wsk/linux/translate.hpp"

namespace uwsk::wsk {
namespace {

// The resolver knows no address for the name (of the family asked, or at all): the codes glibc
// uses for it, some of them only on some systems.
bool name_has_no_answer(int error) {
  switch (error) {
  case EAI_NONAME:
#ifdef EAI_NODATA
  case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
  case EAI_ADDRFAMILY:
#endif
    return true;
  default:
    return false;
  }
}

// The one EAI_* -> NTSTATUS table (docs/wsk-behaviour.md, "Name resolution"). EAI_AGAIN and
// EAI_FAIL are not documented for WSK: a resolver that did not answer in time is a timeout, one
// that refused to answer means the name cannot be resolved.
NTSTATUS status_from_eai(int error, int saved_errno) {
  if (name_has_no_answer(error)) {
    return STATUS_NO_MATCH;
  }
  switch (error) {
  case 0:
    return STATUS_SUCCESS;
  case EAI_FAIL:
    return STATUS_NO_MATCH;
  case EAI_AGAIN:
    return STATUS_IO_TIMEOUT;
  case EAI_FAMILY:
  case EAI_SERVICE:
  case EAI_SOCKTYPE:
  case EAI_BADFLAGS:
    return STATUS_INVALID_PARAMETER;
  case EAI_MEMORY:
    return STATUS_INSUFFICIENT_RESOURCES;
  case EAI_OVERFLOW:
    return STATUS_BUFFER_TOO_SMALL;
  case EAI_SYSTEM:
    return saved_errno != 0 ? status_from_errno(saved_errno) : STATUS_UNSUCCESSFUL;
  default:
    return STATUS_UNSUCCESSFUL;
  }
}

// Results the caller may treat as "nothing of this kind": used when a query is split in parts.
bool is_empty_answer(int error) {
  return name_has_no_answer(error) || error == EAI_FAMILY;
}

// Internal flags (name_resolution.hpp) and the Linux flags they stand for.
struct flag_map {
  ULONG internal;
  int linux_value;
};

constexpr flag_map lookup_flags[] = {
    {lookup_flag::passive, AI_PASSIVE},
    {lookup_flag::canonical, AI_CANONNAME},
    {lookup_flag::numeric_host, AI_NUMERICHOST},
    {lookup_flag::numeric_service, AI_NUMERICSERV},
    {lookup_flag::all, AI_ALL},
    {lookup_flag::address_config, AI_ADDRCONFIG},
    {lookup_flag::v4_mapped, AI_V4MAPPED},
};

constexpr flag_map name_flags[] = {
    {name_flag::no_fqdn, NI_NOFQDN},         {name_flag::numeric_host, NI_NUMERICHOST},
    {name_flag::name_required, NI_NAMEREQD}, {name_flag::numeric_service, NI_NUMERICSERV},
    {name_flag::datagram, NI_DGRAM},
};

template <std::size_t N> int linux_flags(ULONG flags, const flag_map (&map)[N]) {
  int out = 0;
  for (const flag_map &m : map) {
    if ((flags & m.internal) != 0) {
      out |= m.linux_value;
    }
  }
  return out;
}

// `name` without one trailing dot, compared without regard to ASCII case.
bool name_is(std::string_view name, std::string_view lower) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  if (name.size() != lower.size()) {
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
    if (c != lower[i]) {
      return false;
    }
  }
  return true;
}

// Names under the reserved top-level domain "invalid" never resolve (RFC 6761 section 6.4
// asks resolver libraries to answer them at once); answering here keeps them off the network.
bool is_invalid_domain(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  const std::size_t dot = name.rfind('.');
  return name_is(dot == std::string_view::npos ? name : name.substr(dot + 1), "invalid");
}

// Appends glibc's answer in Windows layout. With `collapse` (no socket type or protocol was
// hinted) every address appears once with type and protocol 0, as Windows answers, instead of
// once per socket type as glibc does.
void append_entries(const addrinfo *list, bool collapse, address_answer &answer) {
  for (const addrinfo *ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addr == nullptr) {
      continue;
    }
    address_entry entry;
    entry.windows_family = windows_family(ai->ai_family);
    if (entry.windows_family == 0) {
      continue; // a family WSK does not know
    }
    entry.address_length = to_windows_address(ai->ai_addr, entry.address);
    if (entry.address_length == 0) {
      continue;
    }
    entry.socket_type = collapse ? 0 : ai->ai_socktype;
    entry.protocol = collapse ? 0 : ai->ai_protocol;
    bool duplicate = false;
    for (const address_entry &seen : answer.entries) {
      if (seen.windows_family == entry.windows_family && seen.socket_type == entry.socket_type &&
          seen.protocol == entry.protocol && seen.address_length == entry.address_length &&
          std::memcmp(seen.address, entry.address, entry.address_length) == 0) {
        duplicate = true;
        break;
      }
    }
    if (!duplicate) {
      answer.entries.push_back(entry);
    }
  }
}

// One getaddrinfo call whose answer is appended; returns its EAI_* result.
int run_getaddrinfo(const char *node, const char *service, const addrinfo &hints, bool collapse,
                    address_answer &answer, int &saved_errno) {
  addrinfo *list = nullptr;
  errno = 0;
  const int error = getaddrinfo(node, service, &hints, &list);
  saved_errno = errno;
  if (error != 0) {
    return error;
  }
  struct list_guard {
    addrinfo *list;
    ~list_guard() { freeaddrinfo(list); }
  } guard{list};
  if (answer.canonical_name.empty() && list != nullptr && list->ai_canonname != nullptr) {
    answer.canonical_name = list->ai_canonname;
  }
  append_entries(list, collapse, answer);
  return 0;
}

// "localhost" is every loopback address, IPv6 first, whatever /etc/hosts says: Windows answers
// it that way without consulting its hosts file.
void lookup_localhost(const address_query &query, addrinfo hints, const char *service,
                      bool collapse, address_answer &answer) {
  hints.ai_flags = (hints.ai_flags | AI_NUMERICHOST) & ~AI_CANONNAME;
  int saved_errno = 0;
  int error = run_getaddrinfo("::1", service, hints, collapse, answer, saved_errno);
  if (error != 0 && !is_empty_answer(error)) {
    answer.status = status_from_eai(error, saved_errno);
    return;
  }
  // An IPv6-only query sees the IPv4 loopback only as a mapped address, and then only when
  // AI_ALL asks for mapped addresses beside the native ones.
  const bool want_ipv4 =
      query.any_family || hints.ai_family != AF_INET6 ||
      ((query.flags & lookup_flag::v4_mapped) != 0 && (query.flags & lookup_flag::all) != 0);
  if (want_ipv4) {
    error = run_getaddrinfo("127.0.0.1", service, hints, collapse, answer, saved_errno);
    if (error != 0 && !is_empty_answer(error)) {
      answer.status = status_from_eai(error, saved_errno);
      return;
    }
  }
  if (answer.entries.empty()) {
    answer.status = STATUS_NO_MATCH;
    return;
  }
  if ((query.flags & lookup_flag::canonical) != 0) {
    answer.canonical_name = "localhost";
  }
}

// The test hook of name_resolution.hpp.
struct hold_gate {
  std::mutex lock;
  std::condition_variable released;
  bool held = false;
  std::size_t waiting = 0;
};

hold_gate &gate() {
  static auto *g = new hold_gate; // never destroyed: workers may still pass it at exit
  return *g;
}

void wait_while_held() {
  hold_gate &g = gate();
  std::unique_lock lock(g.lock);
  if (!g.held) {
    return;
  }
  ++g.waiting;
  g.released.wait_for(lock, std::chrono::seconds(30), [&g] { return !g.held; });
  --g.waiting;
}

} // namespace

address_answer lookup_addresses(const address_query &query) noexcept {
  address_answer answer;
  try {
    addrinfo hints{};
    hints.ai_flags = linux_flags(query.flags, lookup_flags);
    hints.ai_family = AF_UNSPEC;
    if (!query.any_family) {
      hints.ai_family = linux_family(query.windows_family);
      if (hints.ai_family < 0) {
        answer.status = STATUS_INVALID_PARAMETER;
        return answer;
      }
    }
    hints.ai_socktype = query.socket_type;
    hints.ai_protocol = query.protocol;
    const bool collapse = query.socket_type == 0 && query.protocol == 0;
    const char *node = query.has_node ? query.node.c_str() : nullptr;
    const char *service = query.has_service ? query.service.c_str() : nullptr;

    if (node != nullptr && is_invalid_domain(query.node)) {
      answer.status = STATUS_NO_MATCH;
    } else if (node != nullptr && (query.flags & lookup_flag::numeric_host) == 0 &&
               name_is(query.node, "localhost")) {
      lookup_localhost(query, hints, service, collapse, answer);
    } else {
      int saved_errno = 0;
      const int error = run_getaddrinfo(node, service, hints, collapse, answer, saved_errno);
      answer.status = status_from_eai(error, saved_errno);
      if (error == 0 && answer.entries.empty()) {
        answer.status = STATUS_NO_MATCH; // only families WSK does not know
      }
    }
  } catch (const std::bad_alloc &) {
    answer.status = STATUS_INSUFFICIENT_RESOURCES;
  }
  if (!NT_SUCCESS(answer.status)) {
    answer.entries.clear();
    answer.canonical_name.clear();
  }
  wait_while_held();
  return answer;
}

name_answer lookup_name(const name_query &query) noexcept {
  name_answer answer;
  try {
    sockaddr_storage address{};
    socklen_t length = 0;
    if (!to_linux_address(query.address, 0, address, length)) {
      answer.status = STATUS_INVALID_PARAMETER;
    } else {
      char node[NI_MAXHOST];
      char service[NI_MAXSERV];
      errno = 0;
      const int error = getnameinfo(
          reinterpret_cast<const sockaddr *>(&address), length, query.want_node ? node : nullptr,
          query.want_node ? sizeof node : 0, query.want_service ? service : nullptr,
          query.want_service ? sizeof service : 0, linux_flags(query.flags, name_flags));
      answer.status = status_from_eai(error, errno);
      if (error == 0) {
        if (query.want_node) {
          answer.node = node;
        }
        if (query.want_service) {
          answer.service = service;
        }
      }
    }
  } catch (const std::bad_alloc &) {
    answer.status = STATUS_INSUFFICIENT_RESOURCES;
    answer.node.clear();
    answer.service.clear();
  }
  wait_while_held();
  return answer;
}

void hold_lookups(bool hold) {
  hold_gate &g = gate();
  std::lock_guard lock(g.lock);
  g.held = hold;
  if (!hold) {
    g.released.notify_all();
  }
}

std::size_t held_lookups() {
  hold_gate &g = gate();
  std::lock_guard lock(g.lock);
  return g.waiting;
}

} // namespace uwsk::wsk

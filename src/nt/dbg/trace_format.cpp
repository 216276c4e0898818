// Text of trace values (trace_format.hpp).
#include "nt/dbg/trace_format.hpp"

#include <arpa/inet.h>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>

#include <uwsk/log.h>
#include <uwsk/status.h>

namespace uwsk::nt {
namespace {

struct LevelName {
  unsigned level;
  const char *name;
};
constexpr LevelName level_names[] = {{0, "NONE"},   {1, "CRITICAL"}, {1, "FATAL"},
                                     {2, "ERROR"},  {3, "WARNING"},  {4, "INFORMATION"},
                                     {5, "VERBOSE"}};

struct Named {
  std::uint32_t value;
  const char *name;
};
constexpr Named hresult_names[] = {
    {0x00000000, "S_OK"},          {0x00000001, "S_FALSE"},       {0x80004001, "E_NOTIMPL"},
    {0x80004002, "E_NOINTERFACE"}, {0x80004003, "E_POINTER"},     {0x80004004, "E_ABORT"},
    {0x80004005, "E_FAIL"},        {0x8000FFFF, "E_UNEXPECTED"},  {0x80070005, "E_ACCESSDENIED"},
    {0x80070006, "E_HANDLE"},      {0x8007000E, "E_OUTOFMEMORY"}, {0x80070057, "E_INVALIDARG"},
};
constexpr Named winerror_names[] = {
    {0, "ERROR_SUCCESS"},
    {1, "ERROR_INVALID_FUNCTION"},
    {2, "ERROR_FILE_NOT_FOUND"},
    {3, "ERROR_PATH_NOT_FOUND"},
    {5, "ERROR_ACCESS_DENIED"},
    {6, "ERROR_INVALID_HANDLE"},
    {8, "ERROR_NOT_ENOUGH_MEMORY"},
    {14, "ERROR_OUTOFMEMORY"},
    {31, "ERROR_GEN_FAILURE"},
    {50, "ERROR_NOT_SUPPORTED"},
    {87, "ERROR_INVALID_PARAMETER"},
    {122, "ERROR_INSUFFICIENT_BUFFER"},
    {995, "ERROR_OPERATION_ABORTED"},
    {997, "ERROR_IO_PENDING"},
    {1168, "ERROR_NOT_FOUND"},
    {1460, "ERROR_TIMEOUT"},
};

template <size_t N> const char *find_name(const Named (&table)[N], std::uint32_t value) {
  for (const auto &entry : table) {
    if (entry.value == value) {
      return entry.name;
    }
  }
  return nullptr;
}

// Pointers below 64 KiB are never valid, as DbgPrint's "(null)" rule assumes.
bool readable(const void *p) {
  return reinterpret_cast<std::uintptr_t>(p) >= 0x10000;
}

constexpr unsigned bytes_limit = 4096;

} // namespace

const char *trace_level_name(int level) {
  for (const auto &entry : level_names) {
    if (static_cast<int>(entry.level) == level) {
      return entry.name;
    }
  }
  return nullptr;
}

unsigned trace_level_from_env(const char *variable, unsigned fallback) {
  const char *env = std::getenv(variable);
  if (env == nullptr || *env == '\0') {
    return fallback;
  }
  char *end = nullptr;
  unsigned long number = std::strtoul(env, &end, 0);
  if (end != env && *end == '\0') {
    return number > 255 ? 255 : static_cast<unsigned>(number);
  }
  const char *name = env;
  if (strncasecmp(name, "TRACE_LEVEL_", 12) == 0) {
    name += 12;
  }
  for (const auto &entry : level_names) {
    if (strcasecmp(name, entry.name) == 0) {
      return entry.level;
    }
  }
  const char *fallback_name = trace_level_name(static_cast<int>(fallback));
  uwsk_log_message("trace", "%s=%s is neither a number nor a level name; using %s", variable, env,
                   fallback_name != nullptr ? fallback_name : "the default");
  return fallback;
}

void trace_append(std::string &out, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) {
    out.append(buf, static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1);
  }
}

void trace_append_status(std::string &out, std::int32_t status) {
  const char *name = uwsk_status_name(status);
  if (name != nullptr) {
    out += name;
  } else {
    trace_append(out, "0x%08X", static_cast<unsigned>(status));
  }
}

void trace_append_hresult(std::string &out, std::uint32_t hr) {
  const char *name = find_name(hresult_names, hr);
  if (name != nullptr) {
    out += name;
    return;
  }
  trace_append(out, "0x%08X", hr);
  if ((hr & 0x10000000u) != 0) { // HRESULT_FROM_NT
    const char *status = uwsk_status_name(static_cast<std::int32_t>(hr & ~0x10000000u));
    if (status != nullptr) {
      trace_append(out, " (%s)", status);
    }
  }
}

void trace_append_winerror(std::string &out, std::uint32_t code) {
  const char *name = find_name(winerror_names, code);
  if (name != nullptr) {
    out += name;
  } else {
    trace_append(out, "%u", code);
  }
}

void trace_append_ipv4(std::string &out, const void *bytes) {
  char text[INET_ADDRSTRLEN];
  out += inet_ntop(AF_INET, bytes, text, sizeof text) != nullptr ? text : "?";
}

void trace_append_ipv6(std::string &out, const void *bytes) {
  if (!readable(bytes)) {
    out += "(null)";
    return;
  }
  char text[INET6_ADDRSTRLEN];
  out += inet_ntop(AF_INET6, bytes, text, sizeof text) != nullptr ? text : "?";
}

void trace_append_sockaddr(std::string &out, const unsigned char *sa, unsigned length) {
  if (!readable(sa)) {
    out += "(null)";
    return;
  }
  std::uint16_t family = 0;
  std::uint16_t port = 0;
  std::memcpy(&family, sa, 2);
  std::memcpy(&port, sa + 2, 2);
  if (family == 2 && (length == 0 || length >= 8)) {
    trace_append_ipv4(out, sa + 4);
    trace_append(out, ":%u", ntohs(port));
  } else if (family == 23 && (length == 0 || length >= 28)) {
    out += '[';
    trace_append_ipv6(out, sa + 8);
    std::uint32_t scope = 0;
    std::memcpy(&scope, sa + 24, 4);
    if (scope != 0) {
      trace_append(out, "%%%u", scope);
    }
    trace_append(out, "]:%u", ntohs(port));
  } else {
    trace_append(out, "(address family %u)", family);
  }
}

void trace_append_guid(std::string &out, const unsigned char *g) {
  if (!readable(g)) {
    out += "(null)";
    return;
  }
  std::uint32_t d1 = 0;
  std::uint16_t d2 = 0;
  std::uint16_t d3 = 0;
  std::memcpy(&d1, g, 4);
  std::memcpy(&d2, g + 4, 2);
  std::memcpy(&d3, g + 6, 2);
  trace_append(out, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", d1, d2, d3, g[8], g[9],
               g[10], g[11], g[12], g[13], g[14], g[15]);
}

void trace_append_sid(std::string &out, const unsigned char *sid) {
  if (!readable(sid)) {
    out += "(null)";
    return;
  }
  std::uint64_t authority = 0;
  for (int i = 2; i < 8; ++i) {
    authority = (authority << 8) | sid[i];
  }
  trace_append(out, "S-%u-%" PRIu64, sid[0], authority);
  unsigned count = sid[1] > 15 ? 15 : sid[1];
  for (unsigned i = 0; i < count; ++i) {
    std::uint32_t sub = 0;
    std::memcpy(&sub, sid + 8 + 4 * i, 4);
    trace_append(out, "-%u", sub);
  }
}

void trace_append_bytes(std::string &out, const void *buffer, unsigned length) {
  if (length == 0) {
    return;
  }
  if (!readable(buffer)) {
    out += "(null)";
    return;
  }
  const auto *bytes = static_cast<const unsigned char *>(buffer);
  unsigned shown = length > bytes_limit ? bytes_limit : length;
  for (unsigned i = 0; i < shown; ++i) {
    trace_append(out, i == 0 ? "%02X" : " %02X", bytes[i]);
  }
  if (shown < length) {
    trace_append(out, " ... (%u bytes)", length);
  }
}

} // namespace uwsk::nt

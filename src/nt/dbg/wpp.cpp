// WPP software tracing (uwsk/wpp.h): the run-time levels and flags, and the messages the
// generated .tmh headers send, formatted with the Windows rules and the WPP %!TYPE! extensions.
#include <arpa/inet.h>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <uwsk/log.h>
#include <uwsk/wpp.h>

#include "nt/dbg/format.hpp"
#include "nt/dbg/trace_format.hpp"

namespace uwsk::nt {
namespace {

constexpr unsigned default_level = 4; // TRACE_LEVEL_INFORMATION

// UWSK_WPP_FLAGS: the mask of the first 32 flags; the others are on unless the mask is given.
void configured_flags(unsigned int (&flags)[UWSK_WPP_FLAG_WORDS]) {
  const char *env = std::getenv("UWSK_WPP_FLAGS");
  unsigned int rest = 0xFFFFFFFFu;
  flags[0] = 0xFFFFFFFFu;
  if (env != nullptr && *env != '\0') {
    char *end = nullptr;
    unsigned long long mask = std::strtoull(env, &end, 0);
    if (end != env && *end == '\0') {
      flags[0] = static_cast<unsigned int>(mask);
      rest = 0;
    } else {
      uwsk_log_message("wpp", "UWSK_WPP_FLAGS=%s is not a number; enabling every flag", env);
    }
  }
  for (int i = 1; i < UWSK_WPP_FLAG_WORDS; ++i) {
    flags[i] = rest;
  }
}

class StringSink final : public FormatSink<char> {
public:
  void put(const char *data, size_t count) override { text.append(data, count); }
  std::string text;
};

struct Site {
  int level;
  const char *flag;
  const char *function;
  const char *file;
  int line;
};

const char *base_name(const char *path) {
  const char *slash = std::strrchr(path, '/');
  const char *backslash = std::strrchr(path, '\\');
  const char *last = slash > backslash ? slash : backslash;
  return last != nullptr ? last + 1 : path;
}

// Formats one %!NAME! conversion, consuming its argument.
bool format_type(const Site &site, std::string_view name, va_list *ap, FormatSink<char> &sink) {
  std::string out;
  auto is = [&](const char *n) { return name == n; };
  if (is("STATUS") || is("NTSTATUS") || is("NDIS_STATUS")) {
    trace_append_status(out, va_arg(*ap, int));
  } else if (is("HRESULT")) {
    trace_append_hresult(out, static_cast<std::uint32_t>(va_arg(*ap, int)));
  } else if (is("WINERROR")) {
    trace_append_winerror(out, static_cast<std::uint32_t>(va_arg(*ap, int)));
  } else if (is("bool") || is("BOOLEAN") || is("BOOL")) {
    out = va_arg(*ap, int) != 0 ? "TRUE" : "FALSE";
  } else if (is("IRQL")) {
    trace_append(out, "%u", static_cast<unsigned>(va_arg(*ap, int)) & 0xFF);
  } else if (is("IPADDR") || is("ipaddr")) {
    auto addr = static_cast<std::uint32_t>(va_arg(*ap, int));
    trace_append_ipv4(out, &addr);
  } else if (is("PORT")) {
    auto port = static_cast<std::uint16_t>(va_arg(*ap, int));
    trace_append(out, "%u", ntohs(port));
  } else if (is("IPV6ADDR")) {
    trace_append_ipv6(out, va_arg(*ap, const void *));
  } else if (is("SOCKADDR")) {
    trace_append_sockaddr(out, va_arg(*ap, const unsigned char *), 0);
  } else if (is("GUID")) {
    trace_append_guid(out, va_arg(*ap, const unsigned char *));
  } else if (is("SID")) {
    trace_append_sid(out, va_arg(*ap, const unsigned char *));
  } else if (is("HEXDUMP")) {
    uwsk_wpp_hexdump dump = va_arg(*ap, uwsk_wpp_hexdump);
    trace_append_bytes(out, dump.Buffer, dump.Length);
  } else if (is("TIMESTAMP") || is("TIME") || is("DATE") || is("WAITTIME") || is("delta") ||
             is("due")) {
    trace_append(out, "%lld", va_arg(*ap, long long));
  } else if (is("FUNC")) {
    out = site.function != nullptr ? site.function : "";
  } else if (is("FILE")) {
    out = site.file != nullptr ? base_name(site.file) : "";
  } else if (is("LINE")) {
    trace_append(out, "%d", site.line);
  } else if (is("LEVEL")) {
    const char *text = trace_level_name(site.level);
    if (text != nullptr) {
      out = text;
    } else {
      trace_append(out, "%d", site.level);
    }
  } else if (is("FLAGS") || is("FLAG")) {
    out = site.flag != nullptr ? site.flag : "";
  } else if (is("SPACE")) {
    out = " ";
  } else if (is("STDPREFIX") || is("COMPNAME")) {
    // The log line's own prefix stands for WPP's standard one.
  } else {
    // An enumeration of the driver's own (CUSTOM_TYPE): its value.
    trace_append(out, "%d", va_arg(*ap, int));
  }
  sink.put(out.data(), out.size());
  return true;
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

// uwsk_wpp_init: levels and flags from the environment; one log line per control GUID.
extern "C" void uwsk_wpp_init(struct uwsk_wpp_control *controls, int count) {
  if (controls == nullptr || count <= 0) {
    return;
  }
  unsigned level = trace_level_from_env("UWSK_WPP_LEVEL", default_level);
  unsigned int flags[UWSK_WPP_FLAG_WORDS];
  configured_flags(flags);
  static char logger_token;
  for (int i = 0; i < count; ++i) {
    uwsk_wpp_control &c = controls[i];
    c.Level = static_cast<unsigned char>(level);
    std::memcpy(c.Flags, flags, sizeof flags);
    c.Logger = &logger_token;
    const char *name = trace_level_name(static_cast<int>(level));
    uwsk_log_message("wpp", "tracing %s at level %u (%s), flags 0x%08X",
                     c.Name != nullptr ? c.Name : "?", level, name != nullptr ? name : "-",
                     flags[0]);
  }
}

// uwsk_wpp_cleanup: every level and flag off.
extern "C" void uwsk_wpp_cleanup(struct uwsk_wpp_control *controls, int count) {
  if (controls == nullptr || count <= 0) {
    return;
  }
  for (int i = 0; i < count; ++i) {
    controls[i].Level = 0;
    std::memset(controls[i].Flags, 0, sizeof controls[i].Flags);
    controls[i].Logger = nullptr;
  }
}

// uwsk_wpp_trace: "wpp: LEVEL FLAG function file:line: prefix message suffix".
extern "C" void uwsk_wpp_trace(int level, const char *flag, const char *function, const char *file,
                               int line, const char *prefix, const char *suffix, int has_message,
                               ...) {
  Site site{level, flag, function, file, line};
  FormatExtension extension = [&site](std::string_view name, va_list *ap, FormatSink<char> &out) {
    return format_type(site, name, ap, out);
  };
  StringSink sink;
  const char *name = trace_level_name(level);
  if (name != nullptr && level > 0) {
    sink.text += name;
    sink.text += ' ';
  } else if (level > 0) {
    trace_append(sink.text, "LEVEL%d ", level);
  }
  if (flag != nullptr && *flag != '\0') {
    sink.text += flag;
    sink.text += ' ';
  }
  if (function != nullptr) {
    sink.text += function;
    sink.text += ' ';
  }
  if (file != nullptr) {
    trace_append(sink.text, "%s:%d: ", base_name(file), line);
  }
  va_list ap;
  va_start(ap, has_message);
  if (prefix != nullptr) {
    format_windows_extended(sink, prefix, &ap, extension);
  }
  if (has_message) {
    const char *message = va_arg(ap, const char *);
    format_windows_extended(sink, message, &ap, extension);
  }
  if (suffix != nullptr) {
    format_windows_extended(sink, suffix, &ap, extension);
  }
  va_end(ap);
  while (!sink.text.empty() && (sink.text.back() == '\n' || sink.text.back() == '\r')) {
    sink.text.pop_back();
  }
  uwsk_log_message("wpp", "%s", sink.text.c_str());
}

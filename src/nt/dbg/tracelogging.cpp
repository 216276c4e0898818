// TraceLogging (wdk/TraceLoggingProvider.h): registration, the level filter and the log line
// each event becomes.
#include <cstdarg>
#include <string>

#include <TraceLoggingProvider.h>
#include <ntstatus.h>
#include <uwsk/log.h>

#include "nt/dbg/format.hpp"
#include "nt/dbg/trace_format.hpp"

namespace uwsk::nt {
namespace {

// UWSK_TRACELOGGING_LEVEL, read with getenv by trace_level_from_env; by default every event.
constexpr unsigned default_level = 5; // TRACE_LEVEL_VERBOSE

unsigned configured_level() {
  static const unsigned level = trace_level_from_env("UWSK_TRACELOGGING_LEVEL", default_level);
  return level;
}

// The Windows format engine on one value (for wide and counted strings).
std::string windows_format(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::string text = format_windows_string(fmt, ap);
  va_end(ap);
  return text;
}

void append_value(std::string &out, const uwsk_tlg_field &f) {
  switch (f.Kind) {
  case UWSK_TLG_INT:
    trace_append(out, "%lld", f.Int);
    break;
  case UWSK_TLG_UINT:
    trace_append(out, "%llu", f.UInt);
    break;
  case UWSK_TLG_HEX:
    trace_append(out, "0x%llX", f.UInt);
    break;
  case UWSK_TLG_REAL:
    trace_append(out, "%g", f.Real);
    break;
  case UWSK_TLG_BOOL:
    out += f.Int != 0 ? "TRUE" : "FALSE";
    break;
  case UWSK_TLG_CHAR:
    out += windows_format("'%wc'", static_cast<int>(f.Int));
    break;
  case UWSK_TLG_STRING:
    out += f.Length == ~0u ? windows_format("\"%s\"", f.Ptr)
                           : windows_format("\"%.*s\"", static_cast<int>(f.Length), f.Ptr);
    break;
  case UWSK_TLG_WSTRING:
    out += f.Length == ~0u ? windows_format("\"%ws\"", f.Ptr)
                           : windows_format("\"%.*ws\"", static_cast<int>(f.Length), f.Ptr);
    break;
  case UWSK_TLG_USTRING:
    out += windows_format("\"%wZ\"", f.Ptr);
    break;
  case UWSK_TLG_ASTRING:
    out += windows_format("\"%Z\"", f.Ptr);
    break;
  case UWSK_TLG_POINTER:
    out += windows_format("%p", f.Ptr);
    break;
  case UWSK_TLG_GUID:
    trace_append_guid(out, static_cast<const unsigned char *>(f.Ptr));
    break;
  case UWSK_TLG_STATUS:
    trace_append_status(out, static_cast<std::int32_t>(f.Int));
    break;
  case UWSK_TLG_HRESULT:
    trace_append_hresult(out, static_cast<std::uint32_t>(f.Int));
    break;
  case UWSK_TLG_WINERROR:
    trace_append_winerror(out, static_cast<std::uint32_t>(f.UInt));
    break;
  case UWSK_TLG_BINARY:
    trace_append_bytes(out, f.Ptr, f.Length);
    break;
  case UWSK_TLG_SOCKADDR:
    trace_append_sockaddr(out, static_cast<const unsigned char *>(f.Ptr), f.Length);
    break;
  case UWSK_TLG_IPV4: {
    auto addr = static_cast<std::uint32_t>(f.UInt);
    trace_append_ipv4(out, &addr);
    break;
  }
  case UWSK_TLG_IPV6:
    trace_append_ipv6(out, f.Ptr);
    break;
  default:
    out += "?";
    break;
  }
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

// uwsk_tlg_register (TraceLoggingRegister): events of the provider are written from now on.
extern "C" NTSTATUS uwsk_tlg_register(TraceLoggingHProvider provider) {
  if (provider == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  __atomic_store_n(&provider->Registered, 1, __ATOMIC_RELEASE);
  return STATUS_SUCCESS;
}

// uwsk_tlg_unregister (TraceLoggingUnregister).
extern "C" void uwsk_tlg_unregister(TraceLoggingHProvider provider) {
  if (provider != nullptr) {
    __atomic_store_n(&provider->Registered, 0, __ATOMIC_RELEASE);
  }
}

// uwsk_tlg_enabled (TraceLoggingProviderEnabled): registered, and the level is shown.
extern "C" BOOLEAN uwsk_tlg_enabled(TraceLoggingHProvider provider, UCHAR level) {
  return provider != nullptr && __atomic_load_n(&provider->Registered, __ATOMIC_ACQUIRE) != 0 &&
         level <= configured_level();
}

// uwsk_tlg_write (TraceLoggingWrite): "tracelogging: Provider/Event: name=value ...".
extern "C" void uwsk_tlg_write(TraceLoggingHProvider provider, const char *event,
                               const struct uwsk_tlg_field *fields) {
  if (provider == nullptr || fields == nullptr ||
      __atomic_load_n(&provider->Registered, __ATOMIC_ACQUIRE) == 0) {
    return;
  }
  long long level = 5;
  for (const uwsk_tlg_field *f = fields; f->Kind != UWSK_TLG_END; ++f) {
    if (f->Kind == UWSK_TLG_LEVEL) {
      level = f->Int;
    }
  }
  if (level < 0 || static_cast<unsigned long long>(level) > configured_level()) {
    return;
  }
  std::string line = provider->Name != nullptr ? provider->Name : "?";
  line += '/';
  line += event != nullptr ? event : "?";
  const char *separator = ": ";
  for (const uwsk_tlg_field *f = fields; f->Kind != UWSK_TLG_END; ++f) {
    if (f->Kind == UWSK_TLG_LEVEL || f->Kind == UWSK_TLG_META) {
      continue;
    }
    line += separator;
    separator = " ";
    line += f->Name != nullptr ? f->Name : (f->Expression != nullptr ? f->Expression : "?");
    line += '=';
    append_value(line, *f);
  }
  uwsk_log_message("tracelogging", "%s", line.c_str());
}

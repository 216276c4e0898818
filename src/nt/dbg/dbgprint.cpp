// DbgPrint and friends: Windows formats, component/level filtering, output to the log sink.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

#include <wdm.h>
#include <uwsk/log.h>

#include "nt/dbg/format.hpp"
#include "nt/dbg/verifier.hpp"

namespace uwsk::nt {
namespace {

constexpr ULONG component_count = DPFLTR_ENDOFTABLE_ID;

// Levels 0..3 (ERROR, WARNING, TRACE, INFO) unless UWSK_DBG_LEVEL says otherwise.
ULONG initial_mask() {
  const char *env = std::getenv("UWSK_DBG_LEVEL");
  if (env == nullptr || *env == '\0') {
    return 0xF;
  }
  char *end = nullptr;
  if (env[0] == '0' && (env[1] == 'x' || env[1] == 'X')) {
    return static_cast<ULONG>(std::strtoul(env + 2, &end, 16));
  }
  unsigned long level = std::strtoul(env, &end, 10);
  if (end == env) {
    return 0xF;
  }
  return level >= 31 ? 0xFFFFFFFFu : static_cast<ULONG>((1u << (level + 1)) - 1);
}

// One mask per component, as Windows keeps Kd_<component>_Mask.
struct Filter {
  Filter() {
    ULONG mask = initial_mask();
    for (auto &m : masks) {
      m.store(mask, std::memory_order_relaxed);
    }
    default_mask = mask;
  }
  std::atomic<ULONG> masks[component_count];
  ULONG default_mask;
};

Filter &filter() {
  static Filter instance;
  return instance;
}

ULONG level_mask(ULONG level) {
  return level < 32 ? (1u << level) : (level & ~DPFLTR_MASK);
}

bool enabled(ULONG component, ULONG level) {
  Filter &f = filter();
  ULONG mask = component < component_count ? f.masks[component].load(std::memory_order_relaxed)
                                           : f.default_mask;
  return (mask & level_mask(level)) != 0;
}

// Rule V85: wide formats only at PASSIVE_LEVEL, no floating point. Reported once per format
// string, so that a trace in a loop does not flood the log.
void check_v85(const char *format, const FormatUse &use) {
  bool wide_raised = use.wide_argument && KeGetCurrentIrql() > PASSIVE_LEVEL;
  if (!wide_raised && !use.floating_point) {
    return;
  }
  static std::mutex mutex;
  static std::unordered_set<const void *> reported;
  {
    std::lock_guard lock(mutex);
    if (reported.size() >= 4096 || !reported.insert(format).second) {
      return;
    }
  }
  if (wide_raised) {
    char sentence[200];
    std::snprintf(sentence, sizeof sentence,
                  "DbgPrint with a Unicode format (%%ws, %%wZ, %%S, %%C) at IRQL %u: Windows "
                  "allows them only at PASSIVE_LEVEL (reported once per format)",
                  KeGetCurrentIrql());
    uwsk::nt::verifier::warning(85, sentence,
                                uwsk::nt::verifier::objects_text("format \"%s\"", format));
  }
  if (use.floating_point) {
    uwsk::nt::verifier::warning(85,
                                "DbgPrint with a floating-point format: the Windows kernel "
                                "cannot print them (reported once per format)",
                                uwsk::nt::verifier::objects_text("format \"%s\"", format));
  }
}

// The text of one print: in a buffer on the stack, which holds any usual line, and on the heap
// only past it.
class PrintSink final : public FormatSink<char> {
public:
  void put(const char *data, size_t count) override {
    if (spilled_.empty() && count <= sizeof(buffer_) - used_) {
      std::memcpy(buffer_ + used_, data, count);
      used_ += count;
      return;
    }
    if (spilled_.empty()) {
      spilled_.assign(buffer_, used_);
    }
    spilled_.append(data, count);
  }
  std::string_view text() const {
    return spilled_.empty() ? std::string_view(buffer_, used_) : std::string_view(spilled_);
  }

private:
  char buffer_[512];
  size_t used_ = 0;
  std::string spilled_;
};

void print(const char *prefix, const char *format, va_list ap) {
  if (format == nullptr) {
    return;
  }
  FormatUse use;
  PrintSink sink;
  if (prefix != nullptr) {
    sink.put(prefix, std::strlen(prefix));
  }
  format_windows(sink, format, ap, &use);
  check_v85(format, use);
  const std::string_view text = sink.text();
  uwsk_log_write(text.data(), text.size());
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

// Deliberate family (duplicates): the DbgPrint exports, one call of print each; the variadic
// prologue cannot be shared.
// DbgPrint: formats with the Windows rules and writes to the log (always shown).
extern "C" ULONG __cdecl DbgPrint(PCSTR Format, ...) {
  va_list ap;
  va_start(ap, Format);
  print(nullptr, Format, ap);
  va_end(ap);
  return STATUS_SUCCESS;
}

// DbgPrintReturnControlC: DbgPrint; there is no debugger console to send a Ctrl-C.
extern "C" ULONG __cdecl DbgPrintReturnControlC(PCCH Format, ...) {
  va_list ap;
  va_start(ap, Format);
  print(nullptr, Format, ap);
  va_end(ap);
  return STATUS_SUCCESS;
}

// DbgPrintEx: DbgPrint filtered by component and level.
extern "C" ULONG __cdecl DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...) {
  if (!enabled(ComponentId, Level)) {
    return STATUS_SUCCESS;
  }
  va_list ap;
  va_start(ap, Format);
  print(nullptr, Format, ap);
  va_end(ap);
  return STATUS_SUCCESS;
}

// vDbgPrintEx: DbgPrintEx with a va_list.
extern "C" ULONG NTAPI vDbgPrintEx(ULONG ComponentId, ULONG Level, PCCH Format, va_list arglist) {
  if (enabled(ComponentId, Level)) {
    print(nullptr, Format, arglist);
  }
  return STATUS_SUCCESS;
}

// vDbgPrintExWithPrefix: vDbgPrintEx with Prefix written before the message.
extern "C" ULONG NTAPI vDbgPrintExWithPrefix(PCCH Prefix, ULONG ComponentId, ULONG Level,
                                             PCCH Format, va_list arglist) {
  if (enabled(ComponentId, Level)) {
    print(Prefix, Format, arglist);
  }
  return STATUS_SUCCESS;
}

// DbgQueryDebugFilterState: (NTSTATUS)TRUE when the component prints at that level.
extern "C" NTSTATUS NTAPI DbgQueryDebugFilterState(ULONG ComponentId, ULONG Level) {
  if (ComponentId >= component_count) {
    return STATUS_INVALID_PARAMETER_1;
  }
  return enabled(ComponentId, Level) ? TRUE : FALSE;
}

// DbgSetDebugFilterState: turns a level (or mask) on or off for a component; ComponentId
// (ULONG)-1 changes every component.
extern "C" NTSTATUS NTAPI DbgSetDebugFilterState(ULONG ComponentId, ULONG Level, BOOLEAN State) {
  Filter &f = filter();
  ULONG bits = level_mask(Level);
  auto apply = [&](std::atomic<ULONG> &mask) {
    if (State) {
      mask.fetch_or(bits, std::memory_order_relaxed);
    } else {
      mask.fetch_and(~bits, std::memory_order_relaxed);
    }
  };
  if (ComponentId == static_cast<ULONG>(-1)) {
    for (auto &mask : f.masks) {
      apply(mask);
    }
    return STATUS_SUCCESS;
  }
  if (ComponentId >= component_count) {
    return STATUS_INVALID_PARAMETER_1;
  }
  apply(f.masks[ComponentId]);
  return STATUS_SUCCESS;
}

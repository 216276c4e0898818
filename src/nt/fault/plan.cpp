// Fault plans: parsing, the seeded draws, the record of injected faults, and the C API
// (include/uwsk/faults.h). The rules are in plan.hpp.
#include "nt/fault/plan.hpp"

#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include <uwsk/faults.h>
#include <uwsk/log.h>

namespace uwsk::fault {

std::atomic<bool> active_flag{false};

namespace {

// Every plan installed is kept for the life of the process: a thread may still be reading an
// earlier one (rule 1). The current one is published with release, read with acquire.
const plan no_plan;
std::atomic<const plan *> installed{&no_plan};
std::mutex kept_lock;
std::vector<std::unique_ptr<plan>> kept;   // guarded by kept_lock
std::atomic<std::uint64_t> injected{0};    // faults so far
std::atomic<std::uint64_t> next_object{1}; // fault ids of sockets the driver creates
std::atomic<bool> announced{false};
counters shared;                              // the process-wide streams
std::atomic<std::int64_t> installed_at_ms{0}; // steady clock

constexpr const char *stream_names[] = {"?",
                                        "pend",
                                        "delay",
                                        "other-loop",
                                        "alloc-fail irp",
                                        "alloc-fail mdl",
                                        "alloc-fail pool",
                                        "reset",
                                        "forced-close",
                                        "callback-irql",
                                        "event-pending",
                                        "v58",
                                        "v56",
                                        "alloc-fail provider"};
static_assert(sizeof(stream_names) / sizeof(stream_names[0]) == stream_count);

// The schedule streams, logged only with log=all (rule 4).
bool noisy(stream s) {
  return s == stream::pend || s == stream::delay || s == stream::other_loop ||
         s == stream::callback_irql;
}

// SplitMix64's finaliser: a bijective mix with good avalanche.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool parse_unsigned(std::string_view text, std::uint64_t &value) {
  if (text.empty() || text.size() > 19) {
    return false;
  }
  value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

// A probability: "all", a fraction in [0, 1] such as 0.01, or a percentage such as 1%.
bool parse_rate(std::string_view text, rate &out) {
  if (text == "all") {
    out = always;
    return true;
  }
  const bool percent = !text.empty() && text.back() == '%';
  std::string copy(percent ? text.substr(0, text.size() - 1) : text);
  if (copy.empty() || copy[0] == '-' || copy[0] == '+') {
    return false;
  }
  char *end = nullptr;
  errno = 0;
  double value = std::strtod(copy.c_str(), &end);
  if (errno != 0 || end == copy.c_str() || *end != '\0') {
    return false;
  }
  if (percent) {
    value /= 100;
  }
  if (!(value >= 0 && value <= 1)) {
    return false;
  }
  out = value >= 1 ? always : static_cast<rate>(value * 18446744073709551616.0);
  return true;
}

// A duration with a unit (us or ms; a bare number is ms), in microseconds.
bool parse_duration_us(std::string_view text, std::uint64_t &us) {
  std::uint64_t scale = 1000;
  if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
    text.remove_suffix(2);
  } else if (text.size() > 2 && text.substr(text.size() - 2) == "us") {
    text.remove_suffix(2);
    scale = 1;
  }
  std::uint64_t value = 0;
  if (!parse_unsigned(text, value) || value > 10'000'000) {
    return false;
  }
  us = value * scale;
  return true;
}

bool fail(std::string *error, const std::string &text) {
  if (error != nullptr) {
    *error = text;
  }
  return false;
}

} // namespace

const plan &current() {
  return *installed.load(std::memory_order_acquire);
}

bool parse(const char *spec, std::uint64_t seed, plan *out, std::string *error) {
  plan p;
  p.seed = seed;
  p.text = spec != nullptr ? spec : "";
  std::string_view rest(p.text);
  bool in_alloc = false; // "alloc-fail=irp:R,mdl:R,provider:R" continues over commas
  p.allocations_only = true;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view token = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (token.empty()) {
      return fail(error, "an empty item in the fault list");
    }
    const std::size_t equals = token.find('=');
    std::string_view name = token.substr(0, equals);
    const bool has_value = equals != std::string_view::npos;
    const std::string_view value = has_value ? token.substr(equals + 1) : std::string_view();
    const std::string item(token);
    if (name == "alloc-fail" || (in_alloc && !has_value && token.find(':') != token.npos)) {
      const std::string_view parts = name == "alloc-fail" ? value : token;
      in_alloc = true;
      const std::size_t colon = parts.find(':');
      const std::string_view kind = colon == parts.npos ? "all" : parts.substr(0, colon);
      rate r = 0;
      if (!parse_rate(colon == parts.npos ? parts : parts.substr(colon + 1), r) ||
          (kind != "irp" && kind != "mdl" && kind != "pool" && kind != "provider" &&
           kind != "all")) {
        return fail(error, "'" + item +
                               "': expected alloc-fail=irp:RATE,mdl:RATE,pool:RATE,provider:RATE");
      }
      if (kind == "irp" || kind == "all") {
        p.alloc_irp = r;
      }
      if (kind == "mdl" || kind == "all") {
        p.alloc_mdl = r;
      }
      if (kind == "pool" || kind == "all") {
        p.alloc_pool = r;
      }
      if (kind == "provider" || kind == "all") {
        p.alloc_provider = r;
      }
      continue;
    }
    in_alloc = false;
    p.allocations_only = p.allocations_only && name == "log";
    // Items whose value is a rate, defaulting to `fallback` when no value is given.
    auto rate_item = [&](rate &field, rate fallback) {
      if (!has_value) {
        field = fallback;
        return true;
      }
      return parse_rate(value, field);
    };
    bool ok = true;
    if (name == "pend") {
      ok = rate_item(p.pend, always);
    } else if (name == "inline") {
      ok = !has_value || value == "all";
      p.inline_all = true;
    } else if (name == "delay") {
      const std::size_t dash = value.find('-');
      std::uint64_t low = 0;
      std::uint64_t high = 0;
      if (dash == value.npos) {
        ok = parse_duration_us(value, high);
      } else {
        // "0-5ms": the unit of the upper bound applies to both.
        std::string low_text(value.substr(0, dash));
        const std::string_view high_text = value.substr(dash + 1);
        if (high_text.size() > 2 && (high_text.substr(high_text.size() - 2) == "ms" ||
                                     high_text.substr(high_text.size() - 2) == "us")) {
          if (low_text.find_first_not_of("0123456789") == std::string::npos) {
            low_text += high_text.substr(high_text.size() - 2);
          }
        }
        ok = parse_duration_us(low_text, low) && parse_duration_us(high_text, high) && low <= high;
      }
      ok = ok && high <= 1'000'000; // a second at most per completion
      p.delay_min_us = static_cast<std::uint32_t>(low);
      p.delay_max_us = static_cast<std::uint32_t>(high);
    } else if (name == "other-loop") {
      ok = rate_item(p.other_loop, always);
    } else if (name == "split-receive" || name == "split-indication") {
      std::uint64_t n = name == "split-receive" ? 1 : 3;
      ok = !has_value || parse_unsigned(value, n);
      if (name == "split-receive") {
        ok = ok && n >= 1 && n <= 0x7fffffff;
        p.split_receive = static_cast<std::uint32_t>(n);
      } else {
        ok = ok && n >= 2 && n <= 8;
        p.split_indication = static_cast<std::uint32_t>(n);
      }
    } else if (name == "reset") {
      ok = has_value && parse_rate(value, p.reset);
    } else if (name == "forced-close") {
      ok = has_value && parse_rate(value, p.forced_close);
    } else if (name == "provider-not-ready") {
      std::uint64_t us = 0;
      ok = has_value && parse_duration_us(value, us);
      p.provider_not_ready_ms = static_cast<std::int64_t>(us / 1000);
    } else if (name == "callback-irql") {
      if (value == "passive") {
        p.callback_irql = irql_mode::passive;
      } else if (value == "dispatch") {
        p.callback_irql = irql_mode::dispatch;
      } else if (value == "random") {
        p.callback_irql = irql_mode::random;
      } else {
        ok = false;
      }
    } else if (name == "event-pending") {
      ok = rate_item(p.event_pending, always);
    } else if (name == "v58") {
      ok = rate_item(p.v58, always / 4);
    } else if (name == "v56") {
      ok = rate_item(p.v56, always / 100);
    } else if (name == "log") {
      ok = value == "all";
      p.log_all = true;
    } else {
      return fail(error, "'" + item + "' is not a fault (see docs/faults.md)");
    }
    if (!ok) {
      return fail(error, "'" + item + "': bad value (see docs/faults.md)");
    }
  }
  *out = p;
  return true;
}

std::uint64_t new_object_id() {
  return next_object.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t child_object_id(std::uint64_t parent, std::uint64_t n) {
  // Kept clear of the small ids new_object_id hands out.
  return mix(parent * 0x100000001B3ull ^ mix(n)) | (std::uint64_t{1} << 63);
}

std::uint64_t draw(std::uint64_t seed, stream s, std::uint64_t object, std::uint64_t n) {
  return mix(mix(mix(seed ^ (static_cast<std::uint64_t>(s) << 56)) ^ object) ^ n);
}

std::uint64_t draw(stream s, std::uint64_t object, std::uint64_t n) {
  return draw(current().seed, s, object, n);
}

void record(stream s, std::uint64_t object, std::uint64_t n, const char *what, long long value) {
  injected.fetch_add(1, std::memory_order_relaxed);
  if (noisy(s) && !current().log_all) {
    return;
  }
  announce();
  const char *name = stream_names[static_cast<std::size_t>(s)];
  if (value >= 0) {
    uwsk_log_message("faults", "%s #%llx.%llu: %s %lld", name,
                     static_cast<unsigned long long>(object), static_cast<unsigned long long>(n),
                     what, value);
  } else {
    uwsk_log_message("faults", "%s #%llx.%llu: %s", name, static_cast<unsigned long long>(object),
                     static_cast<unsigned long long>(n), what);
  }
}

namespace {

// Draws once for `object` on `s` (the draw's number in *n) and says whether a fault of rate `r`
// happens; records nothing.
bool drawn(stream s, rate r, std::uint64_t object, counters &c, std::uint64_t *n) {
  if (r == 0) {
    return false;
  }
  *n = c.next(s);
  return r == always || draw(s, object, *n) < r;
}

} // namespace

bool happens(stream s, rate r, std::uint64_t object, counters &c, const char *what) {
  std::uint64_t n = 0;
  if (!drawn(s, r, object, c, &n)) {
    return false;
  }
  record(s, object, n, what);
  return true;
}

bool happens_global(stream s, rate r, const char *what) {
  return happens(s, r, 0, shared, what);
}

void announce() {
  if (!active() || announced.exchange(true)) {
    return;
  }
  const plan &p = current();
  uwsk_log_message("faults",
                   "fault plan '%s', seed %llu (replay: UWSK_FAULTS='%s' UWSK_SEED=%llu, "
                   "or uwsk-run --faults '%s' --seed %llu)",
                   p.text.c_str(), static_cast<unsigned long long>(p.seed), p.text.c_str(),
                   static_cast<unsigned long long>(p.seed), p.text.c_str(),
                   static_cast<unsigned long long>(p.seed));
}

std::int64_t provider_not_ready_ms() {
  if (!active() || current().provider_not_ready_ms < 0) {
    return -1;
  }
  return installed_at_ms.load(std::memory_order_relaxed) + current().provider_not_ready_ms;
}

bool fail_allocation(stream s, const char *type) {
  const plan &p = current();
  if (s == stream::alloc_provider) {
    // As happens_global, with the type that was not made in the record.
    std::uint64_t n = 0;
    if (!drawn(s, p.alloc_provider, 0, shared, &n)) {
      return false;
    }
    char what[160];
    std::snprintf(what, sizeof what, "the provider's allocation of %s returns NULL",
                  type != nullptr ? type : "an object");
    record(s, 0, n, what);
    return true;
  }
  const rate r = s == stream::alloc_irp   ? p.alloc_irp
                 : s == stream::alloc_mdl ? p.alloc_mdl
                                          : p.alloc_pool;
  const char *what = s == stream::alloc_irp   ? "IoAllocateIrp returns NULL"
                     : s == stream::alloc_mdl ? "IoAllocateMdl returns NULL"
                                              : "the pool allocation returns NULL";
  return happens_global(s, r, what);
}

namespace {

void install(const plan &p) {
  auto copy = std::make_unique<plan>(p);
  const plan *next = copy.get();
  {
    std::lock_guard guard(kept_lock);
    kept.push_back(std::move(copy));
  }
  active_flag.store(false, std::memory_order_relaxed);
  injected.store(0, std::memory_order_relaxed);
  for (auto &n : shared.n) {
    n.store(0, std::memory_order_relaxed);
  }
  next_object.store(1, std::memory_order_relaxed);
  installed_at_ms.store(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count(),
                        std::memory_order_relaxed);
  announced.store(false);
  installed.store(next, std::memory_order_release);
  active_flag.store(!p.text.empty(), std::memory_order_release);
}

bool parse_seed(const char *text, std::uint64_t &seed) {
  errno = 0;
  char *end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
    return false;
  }
  seed = value;
  return true;
}

// UWSK_FAULTS and UWSK_SEED, read when the library loads.
const bool from_environment = [] {
  const char *spec = std::getenv("UWSK_FAULTS");
  if (spec == nullptr || spec[0] == '\0') {
    return false;
  }
  std::uint64_t seed = 0;
  const char *seed_text = std::getenv("UWSK_SEED");
  if (seed_text == nullptr || !parse_seed(seed_text, seed)) {
    if (seed_text != nullptr) {
      uwsk_log_message("faults", "UWSK_SEED=%s is not a number; choosing a seed", seed_text);
    }
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
      seed =
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
  }
  plan p;
  std::string error;
  if (!parse(spec, seed, &p, &error)) {
    uwsk_log_message("faults", "UWSK_FAULTS: %s; faults stay off", error.c_str());
    return false;
  }
  install(p);
  return true;
}();

} // namespace

} // namespace uwsk::fault

using namespace uwsk;

extern "C" int uwsk_faults_configure(const char *spec, uint64_t seed, char *error,
                                     size_t error_size) {
  fault::plan p;
  std::string why;
  if (!fault::parse(spec, seed, &p, &why)) {
    if (error != nullptr && error_size != 0) {
      std::snprintf(error, error_size, "%s", why.c_str());
    }
    return -EINVAL;
  }
  fault::install(p);
  return 0;
}

extern "C" uint64_t uwsk_faults_seed(void) {
  return fault::active() ? fault::current().seed : 0;
}

extern "C" uint64_t uwsk_faults_injected(void) {
  return fault::injected.load(std::memory_order_relaxed);
}

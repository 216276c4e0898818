// status_names.cpp - the names of the NTSTATUS values of wdk/ntstatus.h (uwsk/status.h).
//
// The values and names live in ntstatus.h only; the table below is generated from it (see
// src/CMakeLists.txt), taking each value from the header's own macro.
#include "ntstatus.h"

#include <uwsk/status.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdint>
#include <cstring>

namespace uwsk::nt {
namespace {

// Deliberate pair (duplicates): a code-to-name table, alike in shape only to dbg/bugcheck.cpp's.
struct status_entry {
  NTSTATUS value;
  const char *name;
};

// Generated at configure time from every `#define STATUS_...` of ntstatus.h, in the header's
// order, so the header stays the one place that names statuses. Where two names share a value,
// the first is the preferred one.
constexpr status_entry status_entries[] = {
#include "status_table.inc"
};

constexpr std::size_t status_count = sizeof(status_entries) / sizeof(status_entries[0]);

// The entries sorted by value (ties keep ntstatus.h order), built at compile time, so that a
// lookup is a binary search and needs no initialisation at run time.
constexpr auto sorted_entries = [] {
  struct indexed {
    status_entry entry;
    std::size_t index;
  };
  std::array<indexed, status_count> work{};
  for (std::size_t i = 0; i < status_count; ++i) {
    work[i] = indexed{status_entries[i], i};
  }
  std::sort(work.begin(), work.end(), [](const indexed &a, const indexed &b) {
    auto ua = static_cast<std::uint32_t>(a.entry.value);
    auto ub = static_cast<std::uint32_t>(b.entry.value);
    return ua != ub ? ua < ub : a.index < b.index;
  });
  std::array<status_entry, status_count> out{};
  for (std::size_t i = 0; i < status_count; ++i) {
    out[i] = work[i].entry;
  }
  return out;
}();

const char *find_status_name(NTSTATUS status) {
  auto key = static_cast<std::uint32_t>(status);
  auto it = std::lower_bound(sorted_entries.begin(), sorted_entries.end(), key,
                             [](const status_entry &e, std::uint32_t k) {
                               return static_cast<std::uint32_t>(e.value) < k;
                             });
  if (it == sorted_entries.end() || static_cast<std::uint32_t>(it->value) != key) {
    return nullptr;
  }
  return it->name;
}

} // namespace
} // namespace uwsk::nt

// uwsk_status_name: the Windows name of an NTSTATUS value, or NULL if it is unknown.
extern "C" const char *uwsk_status_name(int32_t status) {
  return uwsk::nt::find_status_name(status);
}

// uwsk_status_describe: "STATUS_X (0x........)" or "0x........" into a caller buffer.
extern "C" const char *uwsk_status_describe(int32_t status, char *buf, size_t len) {
  if (buf == nullptr || len == 0) {
    return "";
  }
  auto bits = static_cast<unsigned int>(static_cast<std::uint32_t>(status));
  const char *name = uwsk::nt::find_status_name(status);
  if (name != nullptr) {
    std::snprintf(buf, len, "%s (0x%08X)", name, bits);
  } else {
    std::snprintf(buf, len, "0x%08X", bits);
  }
  return buf;
}

// uwsk_status_from_name: the value of a status name from ntstatus.h.
extern "C" int uwsk_status_from_name(const char *name, int32_t *status) {
  if (name == nullptr || status == nullptr) {
    return 0;
  }
  for (const auto &entry : uwsk::nt::status_entries) {
    if (std::strcmp(entry.name, name) == 0) {
      *status = entry.value;
      return 1;
    }
  }
  return 0;
}

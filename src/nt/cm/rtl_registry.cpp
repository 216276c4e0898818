// The run-time library's registry helpers: RtlQueryRegistryValues, RtlWriteRegistryValue,
// RtlDeleteRegistryValue, RtlCheckRegistryKey, RtlCreateRegistryKey. They work on the registry
// of registry.cpp directly (not through handles), and call the driver's query routines without
// holding the registry's lock, so that a routine may use the registry itself.
#include <wdm.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "nt/cm/registry.hpp"
#include "nt/ke/irql.hpp"
#include "nt/rtl/rtl.hpp"

namespace uwsk::nt {
namespace {

std::u16string_view wide_view(PCWSTR text) {
  if (text == nullptr) {
    return {};
  }
  return {reinterpret_cast<const char16_t *>(text), wide_length(text)};
}

// Where each RelativeTo value points (RTL_REGISTRY_USER: a system thread's user is .DEFAULT).
const char16_t *relative_root(ULONG relative_to) {
  switch (relative_to) {
  case RTL_REGISTRY_SERVICES:
    return u"\\Registry\\Machine\\System\\CurrentControlSet\\Services";
  case RTL_REGISTRY_CONTROL:
    return u"\\Registry\\Machine\\System\\CurrentControlSet\\Control";
  case RTL_REGISTRY_WINDOWS_NT:
    return u"\\Registry\\Machine\\Software\\Microsoft\\Windows NT\\CurrentVersion";
  case RTL_REGISTRY_DEVICEMAP:
    return u"\\Registry\\Machine\\Hardware\\DeviceMap";
  case RTL_REGISTRY_USER:
    return u"\\Registry\\User\\.Default";
  default:
    return nullptr;
  }
}

// The key RelativeTo and Path name; with `create`, its last component is created if missing.
NTSTATUS resolve_key(ULONG relative_to, PCWSTR path, bool create, registry_key **key) {
  relative_to &= ~RTL_REGISTRY_OPTIONAL;
  if ((relative_to & RTL_REGISTRY_HANDLE) != 0) {
    return registry_key_from_handle(const_cast<PWSTR>(path), key);
  }
  if (relative_to >= RTL_REGISTRY_MAXIMUM) {
    return STATUS_INVALID_PARAMETER;
  }
  std::u16string full;
  const std::u16string_view relative = wide_view(path);
  // A path that starts with a backslash is absolute whatever RelativeTo says.
  if (relative_to == RTL_REGISTRY_ABSOLUTE || (!relative.empty() && relative.front() == u'\\')) {
    full = relative;
  } else {
    full = relative_root(relative_to);
    if (!relative.empty()) {
      full += u'\\';
      full += relative;
    }
  }
  return registry_find(nullptr, full, create, false, key, nullptr);
}

bool is_string_type(ULONG type) {
  return type == REG_SZ || type == REG_EXPAND_SZ || type == REG_MULTI_SZ;
}

// The value of environment variable `name` in an environment block ("NAME=VALUE\0...\0\0").
bool find_variable(PCWSTR environment, std::u16string_view name, std::u16string &value) {
  if (environment == nullptr) {
    return false;
  }
  for (PCWSTR entry = environment; *entry != 0; entry += wide_length(entry) + 1) {
    const std::u16string_view text = wide_view(entry);
    const size_t equals = text.find(u'=', 1);
    if (equals == std::u16string_view::npos || equals != name.size()) {
      continue;
    }
    bool same = true;
    for (size_t i = 0; i < equals && same; ++i) {
      same = upcase_char(text[i]) == upcase_char(name[i]);
    }
    if (same) {
      value = text.substr(equals + 1);
      return true;
    }
  }
  return false;
}

// Replaces %NAME% by the variable's value; unknown names stay as written.
std::u16string expand(std::u16string_view text, PCWSTR environment) {
  std::u16string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find(u'%', i);
    const size_t close = open == std::u16string_view::npos ? open : text.find(u'%', open + 1);
    if (close == std::u16string_view::npos) {
      out += text.substr(i);
      break;
    }
    out += text.substr(i, open - i);
    std::u16string value;
    if (find_variable(environment, text.substr(open + 1, close - open - 1), value)) {
      out += value;
      i = close + 1;
    } else {
      out += u'%';
      i = open + 1;
    }
  }
  return out;
}

// One value as the query table sees it: data that stays alive while it is delivered.
struct delivery {
  std::u16string name; // NUL-terminated by std::u16string
  ULONG type;
  std::vector<unsigned char> data;
};

// The string data of `text`, with its terminating NUL.
std::vector<unsigned char> string_data(std::u16string_view text) {
  std::vector<unsigned char> data((text.size() + 1) * sizeof(char16_t), 0);
  std::memcpy(data.data(), text.data(), text.size() * sizeof(char16_t));
  return data;
}

std::u16string_view text_of(const std::vector<unsigned char> &data) {
  std::u16string_view text(reinterpret_cast<const char16_t *>(data.data()),
                           data.size() / sizeof(char16_t));
  while (!text.empty() && text.back() == 0) {
    text.remove_suffix(1);
  }
  return text;
}

// What the table entry receives for one stored (or default) value: REG_EXPAND_SZ expanded and
// REG_MULTI_SZ split into REG_SZ strings unless NOEXPAND, REG_SZ always NUL-terminated.
std::vector<delivery> prepare(std::u16string_view name, ULONG type, std::vector<unsigned char> data,
                              ULONG flags, PCWSTR environment) {
  std::vector<delivery> out;
  const bool preprocess = (flags & RTL_QUERY_REGISTRY_NOEXPAND) == 0;
  if (type == REG_MULTI_SZ && preprocess) {
    std::u16string_view rest = text_of(data);
    while (!rest.empty()) {
      const size_t end = rest.find(char16_t{0});
      const std::u16string_view one = rest.substr(0, end);
      out.push_back({std::u16string(name), REG_SZ, string_data(one)});
      rest = end == std::u16string_view::npos ? std::u16string_view{} : rest.substr(end + 1);
    }
    return out;
  }
  if (type == REG_EXPAND_SZ && preprocess) {
    const std::u16string expanded = expand(text_of(data), environment);
    out.push_back({std::u16string(name), REG_SZ, string_data(expanded)});
    return out;
  }
  if ((type == REG_SZ || type == REG_EXPAND_SZ) &&
      (data.size() < sizeof(char16_t) || data[data.size() - 1] != 0 ||
       data[data.size() - 2] != 0)) {
    data.resize(data.size() & ~size_t{1});
    data.push_back(0);
    data.push_back(0);
  }
  out.push_back({std::u16string(name), type, std::move(data)});
  return out;
}

// RTL_QUERY_REGISTRY_DIRECT: stores one value where EntryContext points.
NTSTATUS store_direct(const RTL_QUERY_REGISTRY_TABLE &entry, const delivery &value) {
  const auto length = static_cast<ULONG>(value.data.size());
  if (is_string_type(value.type) && (entry.Flags & RTL_QUERY_REGISTRY_NOSTRING) == 0) {
    auto *target = static_cast<PUNICODE_STRING>(entry.EntryContext);
    // The data ends with a NUL (prepare made sure of it, or it is a REG_MULTI_SZ).
    const ULONG bytes = length < sizeof(WCHAR) ? sizeof(WCHAR) : length;
    if (bytes > MAXUSHORT) {
      return STATUS_BUFFER_TOO_SMALL;
    }
    if (target->Buffer == nullptr) {
      target->Buffer = static_cast<PWSTR>(allocate_string_buffer(bytes));
      if (target->Buffer == nullptr) {
        return STATUS_NO_MEMORY;
      }
      target->MaximumLength = static_cast<USHORT>(bytes);
    } else if (target->MaximumLength < bytes) {
      return STATUS_BUFFER_TOO_SMALL;
    }
    std::memset(target->Buffer, 0, bytes);
    std::memcpy(target->Buffer, value.data.data(), length);
    target->Length = static_cast<USHORT>(bytes - sizeof(WCHAR));
    return STATUS_SUCCESS;
  }
  if (length <= sizeof(ULONG)) {
    std::memcpy(entry.EntryContext, value.data.data(), length);
    return STATUS_SUCCESS;
  }
  // Larger data: the buffer starts with its size as a LONG; negative means "data only",
  // positive "length, type, then data".
  LONG size = 0;
  std::memcpy(&size, entry.EntryContext, sizeof(size));
  auto *out = static_cast<unsigned char *>(entry.EntryContext);
  if (size < 0) {
    if (static_cast<ULONG>(-static_cast<LONGLONG>(size)) < length) {
      return STATUS_BUFFER_TOO_SMALL;
    }
    std::memcpy(out, value.data.data(), length);
    return STATUS_SUCCESS;
  }
  if (static_cast<ULONGLONG>(size) < static_cast<ULONGLONG>(length) + 2 * sizeof(ULONG)) {
    return STATUS_BUFFER_TOO_SMALL;
  }
  const ULONG header[2] = {length, value.type};
  std::memcpy(out, header, sizeof(header));
  std::memcpy(out + sizeof(header), value.data.data(), length);
  return STATUS_SUCCESS;
}

// Gives one stored or default value to a table entry (routine call or direct store).
NTSTATUS deliver(const RTL_QUERY_REGISTRY_TABLE &entry, std::u16string_view name, ULONG type,
                 std::vector<unsigned char> data, PVOID context, PVOID environment) {
  for (delivery &value :
       prepare(name, type, std::move(data), entry.Flags, static_cast<PCWSTR>(environment))) {
    NTSTATUS status;
    if ((entry.Flags & RTL_QUERY_REGISTRY_DIRECT) != 0) {
      status = store_direct(entry, value);
    } else {
      status =
          entry.QueryRoutine(reinterpret_cast<PWSTR>(value.name.data()), value.type,
                             value.data.empty() ? nullptr : value.data.data(),
                             static_cast<ULONG>(value.data.size()), context, entry.EntryContext);
      // The documentation: a routine's STATUS_BUFFER_TOO_SMALL does not stop the table.
      if (status == STATUS_BUFFER_TOO_SMALL) {
        status = STATUS_SUCCESS;
      }
    }
    if (!NT_SUCCESS(status)) {
      return status;
    }
  }
  return STATUS_SUCCESS;
}

// The default data of an entry, with its length computed for strings when DefaultLength is 0.
std::vector<unsigned char> default_data(const RTL_QUERY_REGISTRY_TABLE &entry, ULONG type) {
  const auto *bytes = static_cast<const unsigned char *>(entry.DefaultData);
  if (bytes == nullptr) {
    return {};
  }
  size_t length = entry.DefaultLength;
  if (length == 0 && is_string_type(type)) {
    const auto *text = static_cast<PCWSTR>(entry.DefaultData);
    size_t units = wide_length(text) + 1;
    if (type == REG_MULTI_SZ) {
      while (text[units] != 0) {
        units += wide_length(text + units) + 1;
      }
      ++units;
    }
    length = units * sizeof(WCHAR);
  }
  return {bytes, bytes + length};
}

// One table entry that names a value (or enumerates all of them when Name is NULL).
NTSTATUS query_entry(registry_key *key, const RTL_QUERY_REGISTRY_TABLE &entry, PVOID context,
                     PVOID environment) {
  const ULONG flags = entry.Flags;
  if (entry.Name == nullptr) {
    if ((flags & RTL_QUERY_REGISTRY_NOVALUE) != 0) {
      return entry.QueryRoutine(nullptr, REG_NONE, nullptr, 0, context, entry.EntryContext);
    }
    const std::vector<registry_value_copy> values = registry_get_values(key);
    if (values.empty() && (flags & RTL_QUERY_REGISTRY_REQUIRED) != 0) {
      return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    for (const registry_value_copy &value : values) {
      const NTSTATUS status =
          deliver(entry, value.name, value.type, value.data, context, environment);
      if (!NT_SUCCESS(status)) {
        return status;
      }
      if ((flags & RTL_QUERY_REGISTRY_DELETE) != 0) {
        registry_delete_value(key, value.name);
      }
    }
    return STATUS_SUCCESS;
  }
  const std::u16string_view name = wide_view(entry.Name);
  registry_value_copy value;
  if (NT_SUCCESS(registry_get_value(key, name, value))) {
    if ((flags & (RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK)) ==
            (RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK) &&
        (entry.DefaultType >> RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) != value.type) {
      return STATUS_OBJECT_TYPE_MISMATCH;
    }
    const NTSTATUS status = deliver(entry, name, value.type, value.data, context, environment);
    if (NT_SUCCESS(status) && (flags & RTL_QUERY_REGISTRY_DELETE) != 0) {
      registry_delete_value(key, name);
    }
    return status;
  }
  if ((flags & RTL_QUERY_REGISTRY_REQUIRED) != 0) {
    return STATUS_OBJECT_NAME_NOT_FOUND;
  }
  const ULONG default_type = entry.DefaultType & 0xff;
  if (default_type == REG_NONE) {
    return STATUS_SUCCESS;
  }
  return deliver(entry, name, default_type, default_data(entry, default_type), context,
                 environment);
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

// RtlQueryRegistryValues: queries the values a table names, from one key and its subkeys.
extern "C" NTSTATUS NTAPI RtlQueryRegistryValues(ULONG RelativeTo, PCWSTR Path,
                                                 PRTL_QUERY_REGISTRY_TABLE QueryTable,
                                                 PVOID Context, PVOID Environment) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    require_irql_at_most(PASSIVE_LEVEL, "RtlQueryRegistryValues", QueryTable, caller);
    if (QueryTable == nullptr) {
      return STATUS_INVALID_PARAMETER;
    }
    registry_key *top = nullptr;
    NTSTATUS status = resolve_key(RelativeTo, Path, false, &top);
    if (!NT_SUCCESS(status)) {
      return status;
    }
    registry_key *current = top;
    for (PRTL_QUERY_REGISTRY_TABLE entry = QueryTable;
         entry->QueryRoutine != nullptr || entry->Name != nullptr; ++entry) {
      const ULONG flags = entry->Flags;
      if ((flags & RTL_QUERY_REGISTRY_TOPKEY) != 0) {
        current = top;
      }
      if ((flags & RTL_QUERY_REGISTRY_SUBKEY) != 0) {
        if (entry->Name == nullptr) {
          return STATUS_INVALID_PARAMETER;
        }
        // Subkey paths are relative to the key the call names, not to the previous subkey.
        status = registry_find(top, wide_view(entry->Name), false, false, &current, nullptr);
        if (!NT_SUCCESS(status)) {
          return status;
        }
        if (entry->QueryRoutine == nullptr) {
          continue;
        }
        // A subkey entry with a routine reports every value of the subkey.
        RTL_QUERY_REGISTRY_TABLE all = *entry;
        all.Name = nullptr;
        all.Flags &= ~RTL_QUERY_REGISTRY_DIRECT;
        status = query_entry(current, all, Context, Environment);
      } else if ((flags & RTL_QUERY_REGISTRY_DIRECT) != 0) {
        if (entry->Name == nullptr || entry->EntryContext == nullptr) {
          return STATUS_INVALID_PARAMETER;
        }
        status = query_entry(current, *entry, Context, Environment);
      } else {
        if (entry->QueryRoutine == nullptr) {
          return STATUS_INVALID_PARAMETER;
        }
        status = query_entry(current, *entry, Context, Environment);
      }
      if (!NT_SUCCESS(status)) {
        return status;
      }
    }
    return STATUS_SUCCESS;
  });
}

// RtlWriteRegistryValue: writes one value, creating the key's last component if it is missing.
extern "C" NTSTATUS NTAPI RtlWriteRegistryValue(ULONG RelativeTo, PCWSTR Path, PCWSTR ValueName,
                                                ULONG ValueType, PVOID ValueData,
                                                ULONG ValueLength) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    require_irql_at_most(PASSIVE_LEVEL, "RtlWriteRegistryValue", ValueData, caller);
    if (ValueData == nullptr && ValueLength != 0) {
      return STATUS_INVALID_PARAMETER;
    }
    registry_key *key = nullptr;
    const NTSTATUS status = resolve_key(RelativeTo, Path, true, &key);
    if (!NT_SUCCESS(status)) {
      return status;
    }
    registry_set_value(key, wide_view(ValueName), ValueType, ValueData, ValueLength);
    return STATUS_SUCCESS;
  });
}

// RtlDeleteRegistryValue: deletes one value.
extern "C" NTSTATUS NTAPI RtlDeleteRegistryValue(ULONG RelativeTo, PCWSTR Path, PCWSTR ValueName) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    require_irql_at_most(PASSIVE_LEVEL, "RtlDeleteRegistryValue", Path, caller);
    registry_key *key = nullptr;
    const NTSTATUS status = resolve_key(RelativeTo, Path, false, &key);
    if (!NT_SUCCESS(status)) {
      return status;
    }
    return registry_delete_value(key, wide_view(ValueName));
  });
}

// Deliberate pair (duplicates): RtlCheckRegistryKey and RtlCreateRegistryKey, one resolve_key each
// (without and with creating).
// RtlCheckRegistryKey: whether a key exists.
extern "C" NTSTATUS NTAPI RtlCheckRegistryKey(ULONG RelativeTo, PWSTR Path) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    require_irql_at_most(PASSIVE_LEVEL, "RtlCheckRegistryKey", Path, caller);
    registry_key *key = nullptr;
    return resolve_key(RelativeTo, Path, false, &key);
  });
}

// RtlCreateRegistryKey: creates a key (its last component) if it is missing.
extern "C" NTSTATUS NTAPI RtlCreateRegistryKey(ULONG RelativeTo, PWSTR Path) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    require_irql_at_most(PASSIVE_LEVEL, "RtlCreateRegistryKey", Path, caller);
    registry_key *key = nullptr;
    return resolve_key(RelativeTo, Path, true, &key);
  });
}

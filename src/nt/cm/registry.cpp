// The configuration manager's registry, in memory: keys, values, key handles (Zw*Key,
// Zw*ValueKey) and the host's C API (uwsk/registry.h). See registry.hpp.
#include "nt/cm/registry.hpp"

#include <uwsk/registry.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

#include "nt/ke/irql.hpp"
#include "nt/ps/object.hpp"
#include "nt/rtl/rtl.hpp"
#include "nt/rtl/utf.hpp"

struct uwsk::nt::registry_key {
  std::u16string name;
  registry_key *parent = nullptr;
  std::vector<std::unique_ptr<registry_key>> subkeys;
  std::vector<registry_value_copy> values; // in creation order, as ZwEnumerateValueKey lists them
};

namespace uwsk::nt {
namespace {

struct registry_tree {
  std::mutex lock;
  registry_key root;
};

bool same_name(std::u16string_view a, std::u16string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (upcase_char(a[i]) != upcase_char(b[i])) {
      return false;
    }
  }
  return true;
}

registry_key *find_subkey(registry_key *key, std::u16string_view name) {
  for (auto &subkey : key->subkeys) {
    if (same_name(subkey->name, name)) {
      return subkey.get();
    }
  }
  return nullptr;
}

registry_key *add_subkey(registry_key *key, std::u16string_view name) {
  auto subkey = std::make_unique<registry_key>();
  subkey->name = name;
  subkey->parent = key;
  key->subkeys.push_back(std::move(subkey));
  return key->subkeys.back().get();
}

// Creates `path` (relative, components separated by backslashes) below `key`, lock held.
void create_path_locked(registry_key *key, std::u16string_view path) {
  while (!path.empty()) {
    const size_t slash = path.find(u'\\');
    const std::u16string_view part = path.substr(0, slash);
    registry_key *next = find_subkey(key, part);
    key = next != nullptr ? next : add_subkey(key, part);
    path = slash == std::u16string_view::npos ? std::u16string_view{} : path.substr(slash + 1);
  }
}

registry_tree &tree() {
  // Never destroyed: system threads may still read the registry while the process exits.
  static registry_tree *t = [] {
    auto *created = new registry_tree;
    created->root.name = u"REGISTRY";
    // The keys every Windows system has and RtlQueryRegistryValues' RelativeTo values name.
    create_path_locked(&created->root, u"MACHINE\\SYSTEM\\CurrentControlSet\\Control");
    create_path_locked(&created->root, u"MACHINE\\SYSTEM\\CurrentControlSet\\Services");
    create_path_locked(&created->root, u"MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion");
    create_path_locked(&created->root, u"MACHINE\\HARDWARE\\DEVICEMAP");
    create_path_locked(&created->root, u"USER\\.DEFAULT");
    return created;
  }();
  return *t;
}

registry_value_copy *find_value(registry_key *key, std::u16string_view name) {
  for (auto &value : key->values) {
    if (same_name(value.name, name)) {
      return &value;
    }
  }
  return nullptr;
}

// A key handle refers to one of these; each open has its own, freed when its handle closes.
struct key_object {
  registry_key *key;
};

void delete_key_object(void *body) {
  delete static_cast<key_object *>(body);
}

POBJECT_TYPE key_type() {
  static POBJECT_TYPE type = ob_create_type("Key", delete_key_object);
  return type;
}

std::u16string_view view_of(PCUNICODE_STRING text) {
  if (text == nullptr || text->Buffer == nullptr) {
    return {};
  }
  return {reinterpret_cast<const char16_t *>(text->Buffer), text->Length / sizeof(WCHAR)};
}

// The key named by an OBJECT_ATTRIBUTES (absolute, or relative to RootDirectory).
NTSTATUS key_from_attributes(POBJECT_ATTRIBUTES attributes, bool create, registry_key **key,
                             bool *created) {
  if (attributes == nullptr || attributes->ObjectName == nullptr ||
      (attributes->ObjectName->Length % sizeof(WCHAR)) != 0) {
    return attributes == nullptr ? STATUS_INVALID_PARAMETER : STATUS_OBJECT_NAME_INVALID;
  }
  registry_key *base = nullptr;
  if (attributes->RootDirectory != nullptr) {
    const NTSTATUS status = registry_key_from_handle(attributes->RootDirectory, &base);
    if (!NT_SUCCESS(status)) {
      return status;
    }
  }
  return registry_find(base, view_of(attributes->ObjectName), create, false, key, created);
}

// The information class as a number: a caller may pass a value outside the enumeration, which C++
// must not load as the enumeration type.
ULONG class_number(const KEY_VALUE_INFORMATION_CLASS &information_class) {
  ULONG number = 0;
  static_assert(sizeof(number) == sizeof(information_class));
  std::memcpy(&number, &information_class, sizeof(number));
  return number;
}

// Writes one value in the layout `information_class` names (ZwQueryValueKey's rules).
NTSTATUS fill_value_information(const registry_value_copy &value, ULONG information_class,
                                PVOID buffer, ULONG length, PULONG result_length) {
  if (result_length == nullptr || (buffer == nullptr && length != 0)) {
    return STATUS_INVALID_PARAMETER;
  }
  const auto name_bytes = static_cast<ULONG>(value.name.size() * sizeof(WCHAR));
  const auto data_bytes = static_cast<ULONG>(value.data.size());
  ULONG fixed = 0;
  ULONG data_offset = 0; // where the data goes; 0 when the class has no data
  ULONG needed = 0;
  switch (information_class) {
  case KeyValueBasicInformation:
    fixed = offsetof(KEY_VALUE_BASIC_INFORMATION, Name);
    needed = fixed + name_bytes;
    break;
  case KeyValueFullInformation:
  case KeyValueFullInformationAlign64: {
    const ULONG alignment = information_class == KeyValueFullInformation ? 4 : 8;
    fixed = offsetof(KEY_VALUE_FULL_INFORMATION, Name);
    data_offset = (fixed + name_bytes + alignment - 1) & ~(alignment - 1);
    needed = data_offset + data_bytes;
    break;
  }
  case KeyValuePartialInformation:
    fixed = offsetof(KEY_VALUE_PARTIAL_INFORMATION, Data);
    data_offset = fixed;
    needed = fixed + data_bytes;
    break;
  case KeyValuePartialInformationAlign64:
    fixed = offsetof(KEY_VALUE_PARTIAL_INFORMATION_ALIGN64, Data);
    data_offset = fixed;
    needed = fixed + data_bytes;
    break;
  default:
    return STATUS_INVALID_PARAMETER;
  }
  *result_length = needed;
  if (length < fixed) {
    return STATUS_BUFFER_TOO_SMALL;
  }
  auto *out = static_cast<unsigned char *>(buffer);
  // Copies what fits of [source, source + size) to offset `at` of the caller's buffer.
  auto copy_part = [&](ULONG at, const void *source, ULONG size) {
    if (at < length && size != 0) {
      std::memcpy(out + at, source, std::min(size, length - at));
    }
  };
  switch (information_class) {
  case KeyValueBasicInformation: {
    auto *info = static_cast<PKEY_VALUE_BASIC_INFORMATION>(buffer);
    info->TitleIndex = 0;
    info->Type = value.type;
    info->NameLength = name_bytes;
    copy_part(fixed, value.name.data(), name_bytes);
    break;
  }
  case KeyValueFullInformation:
  case KeyValueFullInformationAlign64: {
    auto *info = static_cast<PKEY_VALUE_FULL_INFORMATION>(buffer);
    info->TitleIndex = 0;
    info->Type = value.type;
    info->DataOffset = data_offset;
    info->DataLength = data_bytes;
    info->NameLength = name_bytes;
    copy_part(fixed, value.name.data(), name_bytes);
    copy_part(data_offset, value.data.data(), data_bytes);
    break;
  }
  case KeyValuePartialInformation: {
    auto *info = static_cast<PKEY_VALUE_PARTIAL_INFORMATION>(buffer);
    info->TitleIndex = 0;
    info->Type = value.type;
    info->DataLength = data_bytes;
    copy_part(data_offset, value.data.data(), data_bytes);
    break;
  }
  default: {
    auto *info = static_cast<PKEY_VALUE_PARTIAL_INFORMATION_ALIGN64>(buffer);
    info->Type = value.type;
    info->DataLength = data_bytes;
    copy_part(data_offset, value.data.data(), data_bytes);
    break;
  }
  }
  return length < needed ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

void require_passive(const char *what, const void *object, const void *caller) {
  require_irql_at_most(PASSIVE_LEVEL, what, object, caller);
}

} // namespace

NTSTATUS registry_find(registry_key *base, std::u16string_view path, bool create,
                       bool create_parents, registry_key **key, bool *created) {
  if (created != nullptr) {
    *created = false;
  }
  registry_tree &t = tree();
  if (base == nullptr) {
    // An absolute name: "\Registry" and then keys below it.
    if (path.empty() || path.front() != u'\\') {
      return STATUS_OBJECT_PATH_SYNTAX_BAD;
    }
    path.remove_prefix(1);
    const size_t slash = path.find(u'\\');
    if (!same_name(path.substr(0, slash), u"Registry")) {
      return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    path = slash == std::u16string_view::npos ? std::u16string_view{} : path.substr(slash + 1);
    base = &t.root;
  } else if (!path.empty() && path.front() == u'\\') {
    return STATUS_OBJECT_PATH_SYNTAX_BAD;
  }
  // Every component must be non-empty ("a\\b" and a trailing backslash are malformed).
  std::vector<std::u16string_view> parts;
  while (!path.empty()) {
    const size_t slash = path.find(u'\\');
    parts.push_back(path.substr(0, slash));
    if (parts.back().empty()) {
      return STATUS_OBJECT_NAME_INVALID;
    }
    if (slash == std::u16string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
    if (path.empty()) {
      return STATUS_OBJECT_NAME_INVALID;
    }
  }
  std::lock_guard lock(t.lock);
  registry_key *current = base;
  for (size_t i = 0; i < parts.size(); ++i) {
    registry_key *next = find_subkey(current, parts[i]);
    if (next == nullptr) {
      const bool last = i + 1 == parts.size();
      if (!create || (!last && !create_parents)) {
        return STATUS_OBJECT_NAME_NOT_FOUND;
      }
      next = add_subkey(current, parts[i]);
      if (last && created != nullptr) {
        *created = true;
      }
    }
    current = next;
  }
  *key = current;
  return STATUS_SUCCESS;
}

NTSTATUS registry_get_value(registry_key *key, std::u16string_view name, registry_value_copy &out) {
  registry_tree &t = tree();
  std::lock_guard lock(t.lock);
  const registry_value_copy *value = find_value(key, name);
  if (value == nullptr) {
    return STATUS_OBJECT_NAME_NOT_FOUND;
  }
  out = *value;
  return STATUS_SUCCESS;
}

std::vector<registry_value_copy> registry_get_values(registry_key *key) {
  registry_tree &t = tree();
  std::lock_guard lock(t.lock);
  return key->values;
}

void registry_set_value(registry_key *key, std::u16string_view name, ULONG type, const void *data,
                        ULONG size) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  registry_tree &t = tree();
  std::lock_guard lock(t.lock);
  registry_value_copy *value = find_value(key, name);
  if (value == nullptr) {
    key->values.emplace_back();
    value = &key->values.back();
    value->name = name;
  }
  value->type = type;
  value->data.assign(bytes, bytes + (bytes == nullptr ? 0 : size));
}

NTSTATUS registry_delete_value(registry_key *key, std::u16string_view name) {
  registry_tree &t = tree();
  std::lock_guard lock(t.lock);
  auto it =
      std::find_if(key->values.begin(), key->values.end(),
                   [&](const registry_value_copy &value) { return same_name(value.name, name); });
  if (it == key->values.end()) {
    return STATUS_OBJECT_NAME_NOT_FOUND;
  }
  key->values.erase(it);
  return STATUS_SUCCESS;
}

NTSTATUS registry_key_from_handle(HANDLE handle, registry_key **key) {
  PVOID body = nullptr;
  const NTSTATUS status =
      ObReferenceObjectByHandle(handle, 0, key_type(), KernelMode, &body, nullptr);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  // Keys are never deleted, so the key outlives the reference dropped here.
  *key = static_cast<key_object *>(body)->key;
  ObDereferenceObject(body);
  return STATUS_SUCCESS;
}

NTSTATUS registry_open_handle(registry_key *key, HANDLE *handle) {
  auto *object = new key_object{key};
  ob_insert_object(object, key_type(), 1);
  *handle = ob_open_handle(object);
  ob_dereference(object, nullptr); // the handle, if there is one, now holds the only reference
  return *handle == nullptr ? STATUS_INSUFFICIENT_RESOURCES : STATUS_SUCCESS;
}

} // namespace uwsk::nt

using namespace uwsk::nt;

namespace {

NTSTATUS open_or_create_key(PHANDLE key_handle, POBJECT_ATTRIBUTES attributes, bool create,
                            PULONG disposition) {
  if (key_handle == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  *key_handle = nullptr;
  registry_key *key = nullptr;
  bool created = false;
  NTSTATUS status = key_from_attributes(attributes, create, &key, &created);
  if (NT_SUCCESS(status)) {
    status = registry_open_handle(key, key_handle);
  }
  if (NT_SUCCESS(status) && disposition != nullptr) {
    *disposition = created ? REG_CREATED_NEW_KEY : REG_OPENED_EXISTING_KEY;
  }
  return status;
}

} // namespace

// ZwOpenKey: opens an existing registry key.
extern "C" NTSTATUS NTAPI ZwOpenKey(PHANDLE KeyHandle, ACCESS_MASK DesiredAccess,
                                    POBJECT_ATTRIBUTES ObjectAttributes) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    (void)DesiredAccess;
    require_passive("ZwOpenKey", ObjectAttributes, caller);
    return open_or_create_key(KeyHandle, ObjectAttributes, false, nullptr);
  });
}

// ZwOpenKeyEx: ZwOpenKey with open options (REG_OPTION_BACKUP_RESTORE, REG_OPTION_OPEN_LINK).
extern "C" NTSTATUS NTAPI ZwOpenKeyEx(PHANDLE KeyHandle, ACCESS_MASK DesiredAccess,
                                      POBJECT_ATTRIBUTES ObjectAttributes, ULONG OpenOptions) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    (void)DesiredAccess;
    require_passive("ZwOpenKeyEx", ObjectAttributes, caller);
    // There are no symbolic-link keys, so opening "the link itself" opens the key.
    if ((OpenOptions & ~(REG_OPTION_BACKUP_RESTORE | REG_OPTION_OPEN_LINK)) != 0) {
      return STATUS_INVALID_PARAMETER;
    }
    return open_or_create_key(KeyHandle, ObjectAttributes, false, nullptr);
  });
}

// ZwCreateKey: opens a registry key, creating its last path component if it is missing.
extern "C" NTSTATUS NTAPI ZwCreateKey(PHANDLE KeyHandle, ACCESS_MASK DesiredAccess,
                                      POBJECT_ATTRIBUTES ObjectAttributes, ULONG TitleIndex,
                                      PUNICODE_STRING Class, ULONG CreateOptions,
                                      PULONG Disposition) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    (void)DesiredAccess;
    (void)TitleIndex;
    (void)Class;
    require_passive("ZwCreateKey", ObjectAttributes, caller);
    // Symbolic-link keys do not exist in uwsk's registry; every other legal option is accepted
    // (nothing is ever written to disk, so volatile and non-volatile keys are alike).
    if ((CreateOptions & ~REG_LEGAL_OPTION) != 0 ||
        (CreateOptions & (REG_OPTION_CREATE_LINK | REG_OPTION_OPEN_LINK)) != 0) {
      return STATUS_INVALID_PARAMETER;
    }
    return open_or_create_key(KeyHandle, ObjectAttributes, true, Disposition);
  });
}

// ZwFlushKey: writes a key to disk; the in-memory registry has nothing to write.
extern "C" NTSTATUS NTAPI ZwFlushKey(HANDLE KeyHandle) {
  return without_exceptions([&]() -> NTSTATUS {
    registry_key *key = nullptr;
    return registry_key_from_handle(KeyHandle, &key);
  });
}

// Deliberate family (duplicates): the Zw registry value exports, the same handle and IRQL checks
// around one query, enumeration or set.
// ZwQueryValueKey: one value of a key, in the layout the information class names.
extern "C" NTSTATUS NTAPI ZwQueryValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName,
                                          KEY_VALUE_INFORMATION_CLASS KeyValueInformationClass,
                                          PVOID KeyValueInformation, ULONG Length,
                                          PULONG ResultLength) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    require_passive("ZwQueryValueKey", KeyHandle, caller);
    registry_key *key = nullptr;
    NTSTATUS status = registry_key_from_handle(KeyHandle, &key);
    if (!NT_SUCCESS(status)) {
      return status;
    }
    registry_value_copy value;
    status = registry_get_value(key, view_of(ValueName), value);
    if (!NT_SUCCESS(status)) {
      return status;
    }
    return fill_value_information(value, class_number(KeyValueInformationClass),
                                  KeyValueInformation, Length, ResultLength);
  });
}

// ZwEnumerateValueKey: the Index-th value of a key, as ZwQueryValueKey returns one.
extern "C" NTSTATUS NTAPI ZwEnumerateValueKey(HANDLE KeyHandle, ULONG Index,
                                              KEY_VALUE_INFORMATION_CLASS KeyValueInformationClass,
                                              PVOID KeyValueInformation, ULONG Length,
                                              PULONG ResultLength) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    require_passive("ZwEnumerateValueKey", KeyHandle, caller);
    registry_key *key = nullptr;
    const NTSTATUS status = registry_key_from_handle(KeyHandle, &key);
    if (!NT_SUCCESS(status)) {
      return status;
    }
    const std::vector<registry_value_copy> values = registry_get_values(key);
    if (Index >= values.size()) {
      return STATUS_NO_MORE_ENTRIES;
    }
    return fill_value_information(values[Index], class_number(KeyValueInformationClass),
                                  KeyValueInformation, Length, ResultLength);
  });
}

// ZwSetValueKey: creates or replaces a value of a key.
extern "C" NTSTATUS NTAPI ZwSetValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName,
                                        ULONG TitleIndex, ULONG Type, PVOID Data, ULONG DataSize) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    (void)TitleIndex;
    require_passive("ZwSetValueKey", KeyHandle, caller);
    registry_key *key = nullptr;
    const NTSTATUS status = registry_key_from_handle(KeyHandle, &key);
    if (!NT_SUCCESS(status)) {
      return status;
    }
    if ((Data == nullptr && DataSize != 0) ||
        (ValueName != nullptr && (ValueName->Length % sizeof(WCHAR)) != 0)) {
      return STATUS_INVALID_PARAMETER;
    }
    registry_set_value(key, view_of(ValueName), Type, Data, DataSize);
    return STATUS_SUCCESS;
  });
}

// ZwDeleteValueKey: deletes a value of a key.
extern "C" NTSTATUS NTAPI ZwDeleteValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName) {
  const void *caller = __builtin_return_address(0);
  return without_exceptions([&]() -> NTSTATUS {
    require_passive("ZwDeleteValueKey", KeyHandle, caller);
    registry_key *key = nullptr;
    const NTSTATUS status = registry_key_from_handle(KeyHandle, &key);
    if (!NT_SUCCESS(status)) {
      return status;
    }
    return registry_delete_value(key, view_of(ValueName));
  });
}

// ---- The host's C API (uwsk/registry.h) -----------------------------------------------------

extern "C" int32_t uwsk_registry_set_value(const char *key_path, const char *name, uint32_t type,
                                           const void *data, uint32_t size) {
  return without_exceptions([&]() -> NTSTATUS {
    if (key_path == nullptr || (data == nullptr && size != 0)) {
      return STATUS_INVALID_PARAMETER;
    }
    const std::u16string path = utf::to_utf16(key_path, std::strlen(key_path));
    const std::u16string value_name =
        name == nullptr ? std::u16string{} : utf::to_utf16(name, std::strlen(name));
    registry_key *key = nullptr;
    const NTSTATUS status = registry_find(nullptr, path, true, true, &key, nullptr);
    if (!NT_SUCCESS(status)) {
      return status;
    }
    registry_set_value(key, value_name, type, data, size);
    return STATUS_SUCCESS;
  });
}

extern "C" int32_t uwsk_registry_set_string(const char *key_path, const char *name,
                                            const char *value) {
  return without_exceptions([&]() -> NTSTATUS {
    if (value == nullptr) {
      return STATUS_INVALID_PARAMETER;
    }
    // REG_SZ data is UTF-16 with its terminating NUL, as Windows stores it.
    const std::u16string text = utf::to_utf16(value, std::strlen(value));
    return uwsk_registry_set_value(key_path, name, REG_SZ, text.c_str(),
                                   static_cast<uint32_t>((text.size() + 1) * sizeof(char16_t)));
  });
}

extern "C" int32_t uwsk_registry_set_dword(const char *key_path, const char *name, uint32_t value) {
  return without_exceptions([&]() -> NTSTATUS {
    return uwsk_registry_set_value(key_path, name, REG_DWORD, &value, sizeof(value));
  });
}

extern "C" int32_t uwsk_registry_create_key(const char *key_path) {
  return without_exceptions([&]() -> NTSTATUS {
    if (key_path == nullptr) {
      return STATUS_INVALID_PARAMETER;
    }
    const std::u16string path = utf::to_utf16(key_path, std::strlen(key_path));
    registry_key *key = nullptr;
    return registry_find(nullptr, path, true, true, &key, nullptr);
  });
}

// The in-memory registry behind ZwOpenKey and friends (km/registry.h) and the host's C API
// (uwsk/registry.h).
//
// Keys form one process-wide tree under \Registry, guarded by one mutex; the registry is not on
// any data path. Keys are never deleted, so a key pointer stays valid for the life of the
// process. Every name is compared case-insensitively (RtlUpcaseUnicodeChar's folding).
#pragma once

#include <wdm.h>

#include <new>
#include <string>
#include <string_view>
#include <vector>

namespace uwsk::nt {

struct registry_key;

// Runs `body` and turns an allocation failure into STATUS_INSUFFICIENT_RESOURCES: errors never
// cross extern "C" as exceptions.
template <typename Body> NTSTATUS without_exceptions(Body &&body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
}

// One value: its name as given when it was created, its type and its bytes.
struct registry_value_copy {
  std::u16string name;
  ULONG type = REG_NONE;
  std::vector<unsigned char> data;
};

// Looks up `path` below `base` (the root \Registry when base is NULL, and then `path` must be
// absolute: "\Registry\..."). With `create`, missing keys are created: only the last component
// when `create_parents` is false (ZwCreateKey), every one when it is true (the host's API).
// `created` (optional) tells whether the last key was new.
NTSTATUS registry_find(registry_key *base, std::u16string_view path, bool create,
                       bool create_parents, registry_key **key, bool *created);

// A copy of one value (STATUS_OBJECT_NAME_NOT_FOUND when the key has no such value).
NTSTATUS registry_get_value(registry_key *key, std::u16string_view name, registry_value_copy &out);

// A copy of every value of the key, in the order they were created.
std::vector<registry_value_copy> registry_get_values(registry_key *key);

// Creates or replaces a value.
void registry_set_value(registry_key *key, std::u16string_view name, ULONG type, const void *data,
                        ULONG size);

// Deletes a value (STATUS_OBJECT_NAME_NOT_FOUND when there is none).
NTSTATUS registry_delete_value(registry_key *key, std::u16string_view name);

// The key behind a key handle, or the status ZwQueryValueKey and friends return for a bad
// handle (STATUS_INVALID_HANDLE, STATUS_OBJECT_TYPE_MISMATCH).
NTSTATUS registry_key_from_handle(HANDLE handle, registry_key **key);

// Opens a new kernel handle to `key` (closed with ZwClose).
NTSTATUS registry_open_handle(registry_key *key, HANDLE *handle);

} // namespace uwsk::nt

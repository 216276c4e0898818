// The in-memory registry: keys and handles (ZwOpenKey, ZwCreateKey, ZwClose), values
// (ZwQueryValueKey in every layout, ZwEnumerateValueKey, ZwSetValueKey, ZwDeleteValueKey), the
// Rtl helpers (RtlQueryRegistryValues, RtlWriteRegistryValue, ...) and the host's C API.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include <uwsk/registry.h>
#include <wdm.h>

#include "nt/ex/pool.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ps/object.hpp"

namespace {

constexpr ULONG poison = 0xdeadbeef;
constexpr const char *services = "\\Registry\\Machine\\System\\CurrentControlSet\\Services";

// A UNICODE_STRING over a literal (kept alive by the literal).
UNICODE_STRING us(const char16_t *text) {
  UNICODE_STRING s;
  s.Buffer = const_cast<PWSTR>(text);
  s.Length = static_cast<USHORT>(std::char_traits<char16_t>::length(text) * sizeof(WCHAR));
  s.MaximumLength = static_cast<USHORT>(s.Length + sizeof(WCHAR));
  return s;
}

NTSTATUS open_key(const char16_t *path, HANDLE *handle, HANDLE root = nullptr) {
  UNICODE_STRING name = us(path);
  OBJECT_ATTRIBUTES attributes;
  InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, root,
                             nullptr);
  *handle = reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(poison));
  return ZwOpenKey(handle, KEY_READ, &attributes);
}

NTSTATUS create_key(const char16_t *path, HANDLE *handle, ULONG *disposition,
                    HANDLE root = nullptr) {
  UNICODE_STRING name = us(path);
  OBJECT_ATTRIBUTES attributes;
  InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, root,
                             nullptr);
  *handle = reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(poison));
  return ZwCreateKey(handle, KEY_ALL_ACCESS, &attributes, 0, nullptr, REG_OPTION_NON_VOLATILE,
                     disposition);
}

NTSTATUS set_dword(HANDLE key, const char16_t *name, ULONG value) {
  UNICODE_STRING n = us(name);
  return ZwSetValueKey(key, &n, 0, REG_DWORD, &value, sizeof(value));
}

NTSTATUS set_string(HANDLE key, const char16_t *name, ULONG type, const std::u16string &data) {
  UNICODE_STRING n = us(name);
  return ZwSetValueKey(key, &n, 0, type, const_cast<char16_t *>(data.data()),
                       static_cast<ULONG>(data.size() * sizeof(char16_t)));
}

std::size_t string_allocations() {
  for (const auto &usage : uwsk::nt::pool_outstanding()) {
    if (usage.tag == UWSK_RTL_STRING_TAG) {
      return usage.allocations;
    }
  }
  return 0;
}

// ---- Keys and handles -----------------------------------------------------------------------

TEST(Registry, PredefinedKeysExistAndNamesIgnoreCase) {
  HANDLE key;
  ASSERT_EQ(open_key(u"\\Registry", &key), STATUS_SUCCESS);
  EXPECT_EQ(ZwClose(key), STATUS_SUCCESS);
  ASSERT_EQ(open_key(u"\\REGISTRY\\machine\\SYSTEM\\currentcontrolset\\services", &key),
            STATUS_SUCCESS);
  EXPECT_EQ(ZwClose(key), STATUS_SUCCESS);
  EXPECT_EQ(open_key(u"\\Registry\\Machine\\NoSuchKey", &key), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(open_key(u"\\Device\\Tcp", &key), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(open_key(u"Registry\\Machine", &key), STATUS_OBJECT_PATH_SYNTAX_BAD);
  EXPECT_EQ(open_key(u"\\Registry\\\\Machine", &key), STATUS_OBJECT_NAME_INVALID);
  EXPECT_EQ(open_key(u"\\Registry\\Machine\\", &key), STATUS_OBJECT_NAME_INVALID);
  EXPECT_EQ(key, nullptr); // a failed open stores NULL
}

TEST(Registry, CreateKeyCreatesOnlyTheLastComponent) {
  HANDLE key;
  ULONG disposition = poison;
  EXPECT_EQ(create_key(u"\\Registry\\Machine\\Software\\UwskA\\B", &key, &disposition),
            STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(disposition, poison);
  ASSERT_EQ(create_key(u"\\Registry\\Machine\\Software\\UwskA", &key, &disposition),
            STATUS_SUCCESS);
  EXPECT_EQ(disposition, static_cast<ULONG>(REG_CREATED_NEW_KEY));
  HANDLE child;
  ASSERT_EQ(create_key(u"B", &child, &disposition, key), STATUS_SUCCESS);
  EXPECT_EQ(disposition, static_cast<ULONG>(REG_CREATED_NEW_KEY));
  EXPECT_EQ(ZwClose(child), STATUS_SUCCESS);
  ASSERT_EQ(create_key(u"\\Registry\\Machine\\Software\\uwska\\b", &child, &disposition),
            STATUS_SUCCESS);
  EXPECT_EQ(disposition, static_cast<ULONG>(REG_OPENED_EXISTING_KEY));
  EXPECT_EQ(ZwClose(child), STATUS_SUCCESS);
  // A relative name may not start with a backslash.
  EXPECT_EQ(open_key(u"\\B", &child, key), STATUS_OBJECT_PATH_SYNTAX_BAD);
  EXPECT_EQ(ZwClose(key), STATUS_SUCCESS);
  EXPECT_EQ(ZwClose(key), STATUS_INVALID_HANDLE);
}

TEST(Registry, CreateKeyRejectsLinkOptions) {
  UNICODE_STRING name = us(u"\\Registry\\Machine\\Software\\UwskLink");
  OBJECT_ATTRIBUTES attributes;
  InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE, nullptr, nullptr);
  HANDLE key;
  EXPECT_EQ(
      ZwCreateKey(&key, KEY_ALL_ACCESS, &attributes, 0, nullptr, REG_OPTION_CREATE_LINK, nullptr),
      STATUS_INVALID_PARAMETER);
  EXPECT_EQ(ZwCreateKey(&key, KEY_ALL_ACCESS, &attributes, 0, nullptr, 0x1000, nullptr),
            STATUS_INVALID_PARAMETER);
  ASSERT_EQ(
      ZwCreateKey(&key, KEY_ALL_ACCESS, &attributes, 0, nullptr, REG_OPTION_VOLATILE, nullptr),
      STATUS_SUCCESS);
  EXPECT_EQ(ZwFlushKey(key), STATUS_SUCCESS);
  EXPECT_EQ(ZwClose(key), STATUS_SUCCESS);
}

TEST(Registry, KeyHandlesAreKernelHandlesCountedUntilClosed) {
  const std::size_t before = uwsk::nt::open_handle_count();
  HANDLE key;
  ASSERT_EQ(open_key(u"\\Registry\\Machine", &key), STATUS_SUCCESS);
  EXPECT_EQ(uwsk::nt::open_handle_count(), before + 1);
  bool described = false;
  for (const auto &line : uwsk::nt::describe_open_handles()) {
    described = described || line.find("Key") != std::string::npos;
  }
  EXPECT_TRUE(described);
  EXPECT_EQ(ZwClose(key), STATUS_SUCCESS);
  EXPECT_EQ(uwsk::nt::open_handle_count(), before);
}

TEST(Registry, WrongHandlesAreRefused) {
  UNICODE_STRING name = us(u"x");
  ULONG length = poison;
  UCHAR buffer[64];
  EXPECT_EQ(ZwQueryValueKey(reinterpret_cast<HANDLE>(static_cast<ULONG_PTR>(0xFFFFFFFF80000404ULL)),
                            &name, KeyValuePartialInformation, buffer, sizeof(buffer), &length),
            STATUS_INVALID_HANDLE);
  // A thread handle is a handle, but not to a key.
  HANDLE thread;
  ASSERT_EQ(PsCreateSystemThread(
                &thread, THREAD_ALL_ACCESS, nullptr, nullptr, nullptr, [](PVOID) {}, nullptr),
            STATUS_SUCCESS);
  EXPECT_EQ(
      ZwQueryValueKey(thread, &name, KeyValuePartialInformation, buffer, sizeof(buffer), &length),
      STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(set_dword(thread, u"x", 1), STATUS_OBJECT_TYPE_MISMATCH);
  PVOID object = nullptr;
  ASSERT_EQ(
      ObReferenceObjectByHandle(thread, SYNCHRONIZE, *PsThreadType, KernelMode, &object, nullptr),
      STATUS_SUCCESS);
  EXPECT_EQ(ZwClose(thread), STATUS_SUCCESS);
  EXPECT_EQ(KeWaitForSingleObject(object, Executive, KernelMode, FALSE, nullptr), STATUS_SUCCESS);
  ObDereferenceObject(object);
  EXPECT_EQ(length, poison);
}

// ---- Values ---------------------------------------------------------------------------------

class RegistryValues : public ::testing::Test {
protected:
  void SetUp() override {
    ULONG disposition;
    ASSERT_EQ(create_key(u"\\Registry\\Machine\\Software\\UwskValues", &key_, &disposition),
              STATUS_SUCCESS);
  }
  void TearDown() override { EXPECT_EQ(ZwClose(key_), STATUS_SUCCESS); }
  HANDLE key_ = nullptr;
};

TEST_F(RegistryValues, PartialInformationAndBufferSizes) {
  ASSERT_EQ(set_dword(key_, u"Port", 40100), STATUS_SUCCESS);
  UNICODE_STRING name = us(u"PORT");
  ULONG length = poison;
  // No buffer at all: too small, with the size needed.
  EXPECT_EQ(ZwQueryValueKey(key_, &name, KeyValuePartialInformation, nullptr, 0, &length),
            STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(length, offsetof(KEY_VALUE_PARTIAL_INFORMATION, Data) + sizeof(ULONG));
  // Room for the fixed part only: overflow, fixed part written.
  UCHAR buffer[64];
  std::memset(buffer, 0xee, sizeof(buffer));
  auto *info = reinterpret_cast<PKEY_VALUE_PARTIAL_INFORMATION>(buffer);
  length = poison;
  EXPECT_EQ(ZwQueryValueKey(key_, &name, KeyValuePartialInformation, buffer, 13, &length),
            STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(length, 16u);
  EXPECT_EQ(info->Type, static_cast<ULONG>(REG_DWORD));
  EXPECT_EQ(info->DataLength, 4u);
  EXPECT_EQ(buffer[12], 40100 & 0xff); // the first data byte fitted
  EXPECT_EQ(buffer[13], 0xee);
  length = poison;
  ASSERT_EQ(
      ZwQueryValueKey(key_, &name, KeyValuePartialInformation, buffer, sizeof(buffer), &length),
      STATUS_SUCCESS);
  EXPECT_EQ(length, 16u);
  ULONG port = 0;
  std::memcpy(&port, info->Data, sizeof(port));
  EXPECT_EQ(port, 40100u);
  // The Align64 layout has no TitleIndex.
  ASSERT_EQ(ZwQueryValueKey(key_, &name, KeyValuePartialInformationAlign64, buffer, sizeof(buffer),
                            &length),
            STATUS_SUCCESS);
  EXPECT_EQ(length, 12u);
  auto *aligned = reinterpret_cast<PKEY_VALUE_PARTIAL_INFORMATION_ALIGN64>(buffer);
  EXPECT_EQ(aligned->Type, static_cast<ULONG>(REG_DWORD));
  EXPECT_EQ(aligned->DataLength, 4u);
}

TEST_F(RegistryValues, BasicAndFullInformation) {
  ASSERT_EQ(set_string(key_, u"Host", REG_SZ, std::u16string(u"::1", 4)), STATUS_SUCCESS);
  UNICODE_STRING name = us(u"host");
  ULONG length = poison;
  alignas(8) UCHAR buffer[128];
  auto *basic = reinterpret_cast<PKEY_VALUE_BASIC_INFORMATION>(buffer);
  ASSERT_EQ(ZwQueryValueKey(key_, &name, KeyValueBasicInformation, buffer, sizeof(buffer), &length),
            STATUS_SUCCESS);
  EXPECT_EQ(length, 12u + 8u);
  EXPECT_EQ(basic->Type, static_cast<ULONG>(REG_SZ));
  EXPECT_EQ(basic->NameLength, 8u);
  EXPECT_EQ(std::u16string(basic->Name, 4), u"Host"); // the name as created
  EXPECT_EQ(ZwQueryValueKey(key_, &name, KeyValueBasicInformation, buffer, 11, &length),
            STATUS_BUFFER_TOO_SMALL);
  EXPECT_EQ(length, 20u);

  auto *full = reinterpret_cast<PKEY_VALUE_FULL_INFORMATION>(buffer);
  ASSERT_EQ(ZwQueryValueKey(key_, &name, KeyValueFullInformation, buffer, sizeof(buffer), &length),
            STATUS_SUCCESS);
  EXPECT_EQ(full->NameLength, 8u);
  EXPECT_EQ(full->DataOffset, 28u); // 20 + 8, already 4-aligned
  EXPECT_EQ(full->DataLength, 8u);
  EXPECT_EQ(length, 36u);
  EXPECT_EQ(std::u16string(reinterpret_cast<char16_t *>(buffer + full->DataOffset)), u"::1");
  ASSERT_EQ(
      ZwQueryValueKey(key_, &name, KeyValueFullInformationAlign64, buffer, sizeof(buffer), &length),
      STATUS_SUCCESS);
  EXPECT_EQ(full->DataOffset, 32u);
  EXPECT_EQ(length, 40u);
  EXPECT_EQ(ZwQueryValueKey(key_, &name, KeyValueFullInformation, buffer, 30, &length),
            STATUS_BUFFER_OVERFLOW);
  EXPECT_EQ(length, 36u);
  EXPECT_EQ(ZwQueryValueKey(key_, &name, static_cast<KEY_VALUE_INFORMATION_CLASS>(42), buffer,
                            sizeof(buffer), &length),
            STATUS_INVALID_PARAMETER);
}

TEST_F(RegistryValues, SetReplaceEnumerateDelete) {
  // A key of its own, so that the other tests' values do not show in the enumeration.
  ULONG disposition;
  ASSERT_EQ(ZwClose(key_), STATUS_SUCCESS);
  ASSERT_EQ(create_key(u"\\Registry\\Machine\\Software\\UwskEnumerate", &key_, &disposition),
            STATUS_SUCCESS);
  ASSERT_EQ(set_dword(key_, u"First", 1), STATUS_SUCCESS);
  ASSERT_EQ(set_dword(key_, u"Second", 2), STATUS_SUCCESS);
  ASSERT_EQ(set_dword(key_, u"FIRST", 3), STATUS_SUCCESS); // replaces, keeps its place
  UCHAR buffer[64];
  ULONG length = 0;
  auto *basic = reinterpret_cast<PKEY_VALUE_BASIC_INFORMATION>(buffer);
  ASSERT_EQ(ZwEnumerateValueKey(key_, 0, KeyValueBasicInformation, buffer, sizeof(buffer), &length),
            STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(basic->Name, basic->NameLength / 2), u"First");
  auto *partial = reinterpret_cast<PKEY_VALUE_PARTIAL_INFORMATION>(buffer);
  ASSERT_EQ(
      ZwEnumerateValueKey(key_, 0, KeyValuePartialInformation, buffer, sizeof(buffer), &length),
      STATUS_SUCCESS);
  EXPECT_EQ(partial->Data[0], 3);
  ASSERT_EQ(ZwEnumerateValueKey(key_, 1, KeyValueBasicInformation, buffer, sizeof(buffer), &length),
            STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(basic->Name, basic->NameLength / 2), u"Second");
  EXPECT_EQ(ZwEnumerateValueKey(key_, 2, KeyValueBasicInformation, buffer, sizeof(buffer), &length),
            STATUS_NO_MORE_ENTRIES);

  UNICODE_STRING name = us(u"first");
  EXPECT_EQ(ZwDeleteValueKey(key_, &name), STATUS_SUCCESS);
  EXPECT_EQ(ZwDeleteValueKey(key_, &name), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(
      ZwQueryValueKey(key_, &name, KeyValuePartialInformation, buffer, sizeof(buffer), &length),
      STATUS_OBJECT_NAME_NOT_FOUND);
  // The default value has an empty name.
  UNICODE_STRING empty = {0, 0, nullptr};
  ULONG value = 7;
  ASSERT_EQ(ZwSetValueKey(key_, &empty, 0, REG_DWORD, &value, sizeof(value)), STATUS_SUCCESS);
  ASSERT_EQ(
      ZwQueryValueKey(key_, &empty, KeyValuePartialInformation, buffer, sizeof(buffer), &length),
      STATUS_SUCCESS);
  EXPECT_EQ(partial->Data[0], 7);
  EXPECT_EQ(ZwSetValueKey(key_, &name, 0, REG_BINARY, nullptr, 4), STATUS_INVALID_PARAMETER);
}

// ---- RtlQueryRegistryValues ------------------------------------------------------------------

class RtlRegistry : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    const std::string key = std::string(services) + "\\UwskRtl\\Parameters";
    ASSERT_EQ(uwsk_registry_set_dword(key.c_str(), "Port", 40200), 0);
    ASSERT_EQ(uwsk_registry_set_string(key.c_str(), "Host", "127.0.0.1"), 0);
    ASSERT_EQ(uwsk_registry_set_dword((std::string(services) + "\\UwskRtl").c_str(), "Start", 3),
              0);
    const char16_t multi[] = u"one\0two\0";
    ASSERT_EQ(uwsk_registry_set_value(key.c_str(), "Names", REG_MULTI_SZ, multi, sizeof(multi)), 0);
    const char16_t expandable[] = u"%ROOT%\\bin %MISSING%";
    ASSERT_EQ(
        uwsk_registry_set_value(key.c_str(), "Path", REG_EXPAND_SZ, expandable, sizeof(expandable)),
        0);
    const unsigned char blob[6] = {1, 2, 3, 4, 5, 6};
    ASSERT_EQ(uwsk_registry_set_value(key.c_str(), "Blob", REG_BINARY, blob, sizeof(blob)), 0);
  }
};

struct seen_value {
  std::u16string name;
  ULONG type;
  std::vector<unsigned char> data;
};

NTSTATUS NTAPI record_value(PWSTR name, ULONG type, PVOID data, ULONG length, PVOID context,
                            PVOID entry_context) {
  auto *seen = static_cast<std::vector<seen_value> *>(context);
  const auto *bytes = static_cast<const unsigned char *>(data);
  seen->push_back({name == nullptr ? u"(null)" : std::u16string(name), type,
                   std::vector<unsigned char>(bytes, bytes + (bytes == nullptr ? 0 : length))});
  return entry_context == nullptr ? STATUS_SUCCESS : *static_cast<NTSTATUS *>(entry_context);
}

std::u16string as_text(const std::vector<unsigned char> &data) {
  return std::u16string(reinterpret_cast<const char16_t *>(data.data()), data.size() / 2);
}

TEST_F(RtlRegistry, DirectDwordAndStringFromTheServiceKey) {
  ULONG port = poison;
  UNICODE_STRING host = {0, 0, nullptr};
  ULONG missing = poison;
  ULONG fallback = 99;
  RTL_QUERY_REGISTRY_TABLE table[4] = {};
  table[0].Flags =
      RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_REQUIRED | RTL_QUERY_REGISTRY_TYPECHECK;
  table[0].Name = const_cast<PWSTR>(u"port");
  table[0].EntryContext = &port;
  table[0].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
  table[1].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
  table[1].Name = const_cast<PWSTR>(u"Host");
  table[1].EntryContext = &host;
  table[1].DefaultType = (REG_SZ << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
  table[2].Flags = RTL_QUERY_REGISTRY_DIRECT;
  table[2].Name = const_cast<PWSTR>(u"Missing");
  table[2].EntryContext = &missing;
  table[2].DefaultType = REG_DWORD;
  table[2].DefaultData = &fallback;
  table[2].DefaultLength = sizeof(fallback);
  const std::size_t strings_before = string_allocations();
  ASSERT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES,
                                   reinterpret_cast<PCWSTR>(u"UwskRtl\\Parameters"), table, nullptr,
                                   nullptr),
            STATUS_SUCCESS);
  EXPECT_EQ(port, 40200u);
  EXPECT_EQ(missing, 99u);
  ASSERT_NE(host.Buffer, nullptr); // allocated for the caller
  EXPECT_EQ(std::u16string(host.Buffer, host.Length / 2), u"127.0.0.1");
  EXPECT_EQ(host.Buffer[host.Length / 2], 0);
  EXPECT_EQ(string_allocations(), strings_before + 1);
  RtlFreeUnicodeString(&host);
  EXPECT_EQ(string_allocations(), strings_before);

  // The same through an absolute path, into a caller's buffer that is too small, then one that
  // fits.
  WCHAR small[4];
  UNICODE_STRING into = {0, sizeof(small), small};
  RTL_QUERY_REGISTRY_TABLE one[2] = {};
  one[0].Flags = RTL_QUERY_REGISTRY_DIRECT;
  one[0].Name = const_cast<PWSTR>(u"Host");
  one[0].EntryContext = &into;
  EXPECT_EQ(
      RtlQueryRegistryValues(
          RTL_REGISTRY_ABSOLUTE,
          reinterpret_cast<PCWSTR>(
              u"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\UwskRtl\\Parameters"),
          one, nullptr, nullptr),
      STATUS_BUFFER_TOO_SMALL);
  WCHAR large[32];
  into = {0, sizeof(large), large};
  EXPECT_EQ(
      RtlQueryRegistryValues(
          RTL_REGISTRY_ABSOLUTE,
          reinterpret_cast<PCWSTR>(
              u"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\UwskRtl\\Parameters"),
          one, nullptr, nullptr),
      STATUS_SUCCESS);
  EXPECT_EQ(std::u16string(into.Buffer, into.Length / 2), u"127.0.0.1");
}

TEST_F(RtlRegistry, RequiredTypecheckAndBadTables) {
  ULONG value = poison;
  RTL_QUERY_REGISTRY_TABLE table[2] = {};
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_REQUIRED;
  table[0].Name = const_cast<PWSTR>(u"Absent");
  table[0].EntryContext = &value;
  table[0].DefaultType = REG_DWORD; // REQUIRED wins over a default
  table[0].DefaultData = &value;
  table[0].DefaultLength = sizeof(value);
  const auto *path = reinterpret_cast<PCWSTR>(u"UwskRtl\\Parameters");
  EXPECT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, path, table, nullptr, nullptr),
            STATUS_OBJECT_NAME_NOT_FOUND);
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK;
  table[0].Name = const_cast<PWSTR>(u"Host");
  table[0].DefaultType = (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT) | REG_NONE;
  EXPECT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, path, table, nullptr, nullptr),
            STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(value, poison);
  // A query entry without a routine that is not DIRECT.
  table[0].Flags = 0;
  EXPECT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, path, table, nullptr, nullptr),
            STATUS_INVALID_PARAMETER);
  // A missing key, and a RelativeTo out of range.
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT;
  EXPECT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES,
                                   reinterpret_cast<PCWSTR>(u"UwskNoSuchService"), table, nullptr,
                                   nullptr),
            STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_MAXIMUM, path, table, nullptr, nullptr),
            STATUS_INVALID_PARAMETER);
}

TEST_F(RtlRegistry, DirectNonStringBuffers) {
  // Six bytes do not fit a ULONG: the buffer starts with its size.
  LONG data_only[3] = {-8, 0, 0};
  RTL_QUERY_REGISTRY_TABLE table[2] = {};
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT;
  table[0].Name = const_cast<PWSTR>(u"Blob");
  table[0].EntryContext = data_only;
  const auto *path = reinterpret_cast<PCWSTR>(u"UwskRtl\\Parameters");
  ASSERT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, path, table, nullptr, nullptr),
            STATUS_SUCCESS);
  EXPECT_EQ(std::memcmp(data_only, "\x01\x02\x03\x04\x05\x06", 6), 0);
  ULONG with_header[4] = {16, poison, poison, poison};
  table[0].EntryContext = with_header;
  ASSERT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, path, table, nullptr, nullptr),
            STATUS_SUCCESS);
  EXPECT_EQ(with_header[0], 6u);
  EXPECT_EQ(with_header[1], static_cast<ULONG>(REG_BINARY));
  EXPECT_EQ(std::memcmp(&with_header[2], "\x01\x02\x03\x04\x05\x06", 6), 0);
  LONG too_small[2] = {-4, 0};
  table[0].EntryContext = too_small;
  EXPECT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, path, table, nullptr, nullptr),
            STATUS_BUFFER_TOO_SMALL);
}

TEST_F(RtlRegistry, RoutinesSplitMultiStringsAndExpand) {
  std::vector<seen_value> seen;
  RTL_QUERY_REGISTRY_TABLE table[3] = {};
  table[0].QueryRoutine = record_value;
  table[0].Name = const_cast<PWSTR>(u"Names");
  table[1].QueryRoutine = record_value;
  table[1].Name = const_cast<PWSTR>(u"Path");
  const char16_t environment[] = u"Other=x\0root=C:\\uwsk\0";
  ASSERT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES,
                                   reinterpret_cast<PCWSTR>(u"UwskRtl\\Parameters"), table, &seen,
                                   const_cast<char16_t *>(environment)),
            STATUS_SUCCESS);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].name, u"Names");
  EXPECT_EQ(seen[0].type, static_cast<ULONG>(REG_SZ));
  EXPECT_EQ(as_text(seen[0].data), std::u16string(u"one", 4)); // with its NUL
  EXPECT_EQ(as_text(seen[1].data), std::u16string(u"two", 4));
  EXPECT_EQ(seen[2].type, static_cast<ULONG>(REG_SZ));
  EXPECT_EQ(as_text(seen[2].data), std::u16string(u"C:\\uwsk\\bin %MISSING%", 22));

  seen.clear();
  table[0].Flags = RTL_QUERY_REGISTRY_NOEXPAND;
  table[1].Flags = RTL_QUERY_REGISTRY_NOEXPAND;
  ASSERT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES,
                                   reinterpret_cast<PCWSTR>(u"UwskRtl\\Parameters"), table, &seen,
                                   nullptr),
            STATUS_SUCCESS);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].type, static_cast<ULONG>(REG_MULTI_SZ));
  EXPECT_EQ(seen[0].data.size(), sizeof(u"one\0two\0"));
  EXPECT_EQ(seen[1].type, static_cast<ULONG>(REG_EXPAND_SZ));
}

TEST_F(RtlRegistry, EnumerationSubkeysTopkeyAndRoutineErrors) {
  std::vector<seen_value> seen;
  NTSTATUS stop = STATUS_ACCESS_DENIED;
  NTSTATUS ignored = STATUS_BUFFER_TOO_SMALL;
  RTL_QUERY_REGISTRY_TABLE table[5] = {};
  table[0].QueryRoutine = record_value; // every value of UwskRtl itself
  table[0].Flags = RTL_QUERY_REGISTRY_NOEXPAND;
  table[1].Flags = RTL_QUERY_REGISTRY_SUBKEY;
  table[1].Name = const_cast<PWSTR>(u"Parameters");
  table[2].QueryRoutine = record_value;
  table[2].Name = const_cast<PWSTR>(u"Port");
  table[2].EntryContext = &ignored; // a routine's STATUS_BUFFER_TOO_SMALL does not stop the table
  table[3].QueryRoutine = record_value;
  table[3].Flags = RTL_QUERY_REGISTRY_TOPKEY | RTL_QUERY_REGISTRY_NOVALUE;
  ASSERT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, reinterpret_cast<PCWSTR>(u"UwskRtl"),
                                   table, &seen, nullptr),
            STATUS_SUCCESS);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].name, u"Start");
  EXPECT_EQ(seen[1].name, u"Port");
  EXPECT_EQ(seen[2].name, u"(null)");
  EXPECT_EQ(seen[2].type, static_cast<ULONG>(REG_NONE));

  seen.clear();
  table[2].EntryContext = &stop;
  EXPECT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, reinterpret_cast<PCWSTR>(u"UwskRtl"),
                                   table, &seen, nullptr),
            STATUS_ACCESS_DENIED);
  EXPECT_EQ(seen.size(), 2u); // stopped after the failing routine

  table[1].Name = const_cast<PWSTR>(u"NoSuchSubkey");
  EXPECT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, reinterpret_cast<PCWSTR>(u"UwskRtl"),
                                   table, &seen, nullptr),
            STATUS_OBJECT_NAME_NOT_FOUND);
}

TEST_F(RtlRegistry, HandleRelativeQueries) {
  HANDLE key;
  ASSERT_EQ(
      open_key(u"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\UwskRtl\\Parameters",
               &key),
      STATUS_SUCCESS);
  ULONG port = poison;
  RTL_QUERY_REGISTRY_TABLE table[2] = {};
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT;
  table[0].Name = const_cast<PWSTR>(u"Port");
  table[0].EntryContext = &port;
  EXPECT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_HANDLE, static_cast<PCWSTR>(key), table, nullptr,
                                   nullptr),
            STATUS_SUCCESS);
  EXPECT_EQ(port, 40200u);
  EXPECT_EQ(ZwClose(key), STATUS_SUCCESS);
}

TEST(RtlRegistryWrite, WriteCheckCreateDeleteAndDeleteFlag) {
  auto *path = const_cast<PWSTR>(u"UwskWrite");
  EXPECT_EQ(RtlCheckRegistryKey(RTL_REGISTRY_SERVICES, path), STATUS_OBJECT_NAME_NOT_FOUND);
  ULONG value = 5;
  ASSERT_EQ(RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, path, reinterpret_cast<PCWSTR>(u"Count"),
                                  REG_DWORD, &value, sizeof(value)),
            STATUS_SUCCESS);
  EXPECT_EQ(RtlCheckRegistryKey(RTL_REGISTRY_SERVICES, path), STATUS_SUCCESS);
  EXPECT_EQ(RtlCreateRegistryKey(RTL_REGISTRY_SERVICES, const_cast<PWSTR>(u"UwskWrite\\Sub")),
            STATUS_SUCCESS);
  EXPECT_EQ(RtlCheckRegistryKey(RTL_REGISTRY_SERVICES, const_cast<PWSTR>(u"UwskWrite\\Sub")),
            STATUS_SUCCESS);
  // RTL_QUERY_REGISTRY_DELETE removes what it read.
  ULONG read = poison;
  RTL_QUERY_REGISTRY_TABLE table[2] = {};
  table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_DELETE;
  table[0].Name = const_cast<PWSTR>(u"Count");
  table[0].EntryContext = &read;
  ASSERT_EQ(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, path, table, nullptr, nullptr),
            STATUS_SUCCESS);
  EXPECT_EQ(read, 5u);
  EXPECT_EQ(RtlDeleteRegistryValue(RTL_REGISTRY_SERVICES, path, reinterpret_cast<PCWSTR>(u"Count")),
            STATUS_OBJECT_NAME_NOT_FOUND);
  ASSERT_EQ(RtlWriteRegistryValue(RTL_REGISTRY_SERVICES, path, reinterpret_cast<PCWSTR>(u"Count"),
                                  REG_DWORD, &value, sizeof(value)),
            STATUS_SUCCESS);
  EXPECT_EQ(RtlDeleteRegistryValue(RTL_REGISTRY_SERVICES, path, reinterpret_cast<PCWSTR>(u"Count")),
            STATUS_SUCCESS);
}

// ---- The host's API and IRQL rules -----------------------------------------------------------

TEST(RegistryHost, RejectsBadPaths) {
  EXPECT_EQ(uwsk_registry_set_dword(nullptr, "x", 1), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(uwsk_registry_set_dword("Registry\\Machine", "x", 1), STATUS_OBJECT_PATH_SYNTAX_BAD);
  EXPECT_EQ(uwsk_registry_set_dword("\\Elsewhere\\Key", "x", 1), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(uwsk_registry_set_string("\\Registry\\Machine\\A\\\\B", "x", "y"),
            STATUS_OBJECT_NAME_INVALID);
  EXPECT_EQ(uwsk_registry_create_key("\\Registry\\Machine\\Software\\UwskHost\\Deep\\Er"), 0);
  HANDLE key;
  ASSERT_EQ(open_key(u"\\Registry\\Machine\\Software\\UwskHost\\Deep\\Er", &key), STATUS_SUCCESS);
  EXPECT_EQ(ZwClose(key), STATUS_SUCCESS);
}

TEST(RegistryDeathTest, ZwRoutinesRequirePassiveLevel) {
  EXPECT_DEATH(
      {
        uwsk::nt::set_current_irql(DISPATCH_LEVEL);
        HANDLE key;
        open_key(u"\\Registry", &key);
      },
      "IRQL_NOT_LESS_OR_EQUAL");
}

} // namespace

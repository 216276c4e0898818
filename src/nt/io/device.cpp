// Device objects and symbolic links: IoCreateDevice, IoDeleteDevice, IoCreateSymbolicLink,
// IoDeleteSymbolicLink.
//
// There is no object manager namespace in user space; names are kept in one table so that a
// second device or link with the same name gets STATUS_OBJECT_NAME_COLLISION, as on Windows.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "nt/bugcheck.hpp"
#include "nt/io/io_objects.hpp"

namespace uwsk::nt {
namespace {

std::mutex names_lock;
std::map<std::u16string, PDEVICE_OBJECT> device_names;   // guarded by names_lock
std::map<std::u16string, std::u16string> symbolic_links; // guarded by names_lock
std::map<PDEVICE_OBJECT, std::u16string> live_devices;   // guarded by names_lock

std::u16string key_of(PCUNICODE_STRING name) {
  std::u16string key;
  if (name != nullptr && name->Buffer != nullptr) {
    for (USHORT i = 0; i < name->Length / sizeof(WCHAR); ++i) {
      char16_t c = static_cast<char16_t>(name->Buffer[i]);
      // Object names are case-insensitive.
      if (c >= u'a' && c <= u'z') {
        c = static_cast<char16_t>(c - u'a' + u'A');
      }
      key += c;
    }
  }
  return key;
}

std::string narrow(const std::u16string &text) {
  std::string out;
  for (char16_t c : text) {
    out += c < 0x80 ? static_cast<char>(c) : '?';
  }
  return out;
}

} // namespace

std::vector<std::string> describe_live_devices() {
  std::lock_guard guard(names_lock);
  std::vector<std::string> lines;
  for (const auto &[device, name] : live_devices) {
    char line[160];
    std::snprintf(line, sizeof(line), "device object %p%s%s", static_cast<void *>(device),
                  name.empty() ? "" : " named ", narrow(name).c_str());
    lines.emplace_back(line);
  }
  return lines;
}

} // namespace uwsk::nt

using namespace uwsk::nt;

// IoCreateDevice: a device object (with its extension) linked to the driver.
extern "C" NTSTATUS NTAPI IoCreateDevice(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize,
                                         PUNICODE_STRING DeviceName, DEVICE_TYPE DeviceType,
                                         ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                                         PDEVICE_OBJECT *DeviceObject) {
  if (DriverObject == nullptr || DeviceObject == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  const std::u16string name = key_of(DeviceName);
  const SIZE_T extension_offset = (sizeof(DEVICE_OBJECT) + 15) & ~SIZE_T{15};
  // Device objects are counted on their own in the leak report, so they do not come from pool.
  auto *device =
      static_cast<PDEVICE_OBJECT>(std::calloc(1, extension_offset + DeviceExtensionSize));
  if (device == nullptr) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  {
    std::lock_guard guard(names_lock);
    if (!name.empty()) {
      if (device_names.count(name) != 0) {
        std::free(device);
        return STATUS_OBJECT_NAME_COLLISION;
      }
      device_names[name] = device;
    }
    live_devices[device] = name;
  }
  device->Type = IO_TYPE_DEVICE;
  device->Size = static_cast<USHORT>(sizeof(DEVICE_OBJECT) + DeviceExtensionSize);
  device->ReferenceCount = 0;
  device->DriverObject = DriverObject;
  device->DeviceExtension =
      DeviceExtensionSize != 0 ? reinterpret_cast<PUCHAR>(device) + extension_offset : nullptr;
  device->DeviceType = DeviceType;
  device->Characteristics = DeviceCharacteristics;
  device->StackSize = 1;
  device->Flags = DO_DEVICE_INITIALIZING | (Exclusive ? DO_EXCLUSIVE : 0) |
                  (name.empty() ? 0 : DO_DEVICE_HAS_NAME);
  device->AlignmentRequirement = 0;
  KeInitializeEvent(&device->DeviceLock, SynchronizationEvent, TRUE);
  device->NextDevice = DriverObject->DeviceObject;
  DriverObject->DeviceObject = device;
  *DeviceObject = device;
  return STATUS_SUCCESS;
}

// IoDeleteDevice: unlinks the device from its driver and frees it.
extern "C" VOID NTAPI IoDeleteDevice(PDEVICE_OBJECT DeviceObject) {
  {
    std::lock_guard guard(names_lock);
    auto found = live_devices.find(DeviceObject);
    if (found == live_devices.end()) {
      bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, "IoDeleteDevice: not a live device object",
               io_violation::device_delete_unknown, reinterpret_cast<ULONG_PTR>(DeviceObject));
    }
    if (!found->second.empty()) {
      device_names.erase(found->second);
    }
    live_devices.erase(found);
  }
  PDEVICE_OBJECT *link = &DeviceObject->DriverObject->DeviceObject;
  while (*link != nullptr && *link != DeviceObject) {
    link = &(*link)->NextDevice;
  }
  if (*link == DeviceObject) {
    *link = DeviceObject->NextDevice;
  }
  DeviceObject->Type = 0;
  std::free(DeviceObject);
}

// IoCreateSymbolicLink: records a link name for a device name.
extern "C" NTSTATUS NTAPI IoCreateSymbolicLink(PUNICODE_STRING SymbolicLinkName,
                                               PUNICODE_STRING DeviceName) {
  const std::u16string link = key_of(SymbolicLinkName);
  if (link.empty() || DeviceName == nullptr) {
    return STATUS_OBJECT_NAME_INVALID;
  }
  std::lock_guard guard(names_lock);
  if (symbolic_links.count(link) != 0) {
    return STATUS_OBJECT_NAME_COLLISION;
  }
  symbolic_links[link] = key_of(DeviceName);
  return STATUS_SUCCESS;
}

// IoDeleteSymbolicLink: removes a link made by IoCreateSymbolicLink.
extern "C" NTSTATUS NTAPI IoDeleteSymbolicLink(PUNICODE_STRING SymbolicLinkName) {
  std::lock_guard guard(names_lock);
  return symbolic_links.erase(key_of(SymbolicLinkName)) != 0 ? STATUS_SUCCESS
                                                             : STATUS_OBJECT_NAME_NOT_FOUND;
}

// IoGetRelatedDeviceObject: the device a file object was opened on.
extern "C" PDEVICE_OBJECT NTAPI IoGetRelatedDeviceObject(PFILE_OBJECT FileObject) {
  return FileObject != nullptr ? FileObject->DeviceObject : nullptr;
}

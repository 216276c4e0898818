// MmGetSystemRoutineAddress: the address of a function libuwsk exports, by name.
//
// The name is looked up among the dynamic symbols of the object that holds libuwsk (the shared
// library, whose exports are exactly the WDK names and uwsk_*; or a program libuwsk is linked
// into), and a symbol found in some other object (the C library, say) does not count.
#include <wdm.h>

#include <dlfcn.h>
#include <string>

namespace {

// The object holding this function (libuwsk), opened without loading anything.
void *libuwsk_handle(Dl_info &self) {
  static const Dl_info info = [] {
    Dl_info found{};
    dladdr(reinterpret_cast<void *>(&MmGetSystemRoutineAddress), &found);
    return found;
  }();
  self = info;
  static void *handle =
      info.dli_fname != nullptr ? dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD) : nullptr;
  return handle;
}

} // namespace

// MmGetSystemRoutineAddress: a function libuwsk exports under SystemRoutineName, or NULL.
extern "C" PVOID NTAPI MmGetSystemRoutineAddress(PUNICODE_STRING SystemRoutineName) {
  if (SystemRoutineName == nullptr || SystemRoutineName->Buffer == nullptr ||
      SystemRoutineName->Length == 0 || (SystemRoutineName->Length & 1) != 0) {
    return nullptr;
  }
  std::string name;
  for (USHORT i = 0; i < SystemRoutineName->Length / sizeof(WCHAR); ++i) {
    const WCHAR c = SystemRoutineName->Buffer[i];
    const bool identifier =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!identifier) {
      return nullptr; // no exported name holds anything else
    }
    name.push_back(static_cast<char>(c));
  }
  Dl_info self{};
  void *handle = libuwsk_handle(self);
  if (handle == nullptr) {
    return nullptr;
  }
  void *address = dlsym(handle, name.c_str());
  Dl_info where{};
  if (address == nullptr || dladdr(address, &where) == 0 || where.dli_fbase != self.dli_fbase) {
    return nullptr;
  }
  return address;
}

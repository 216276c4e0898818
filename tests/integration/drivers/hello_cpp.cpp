// A minimal C++ driver: the same as hello_c, written as C++ drivers are (extern "C" entry,
// Basic-style code, a class with a destructor).
#include <ntddk.h>

namespace {

class PoolBlock {
public:
  explicit PoolBlock(SIZE_T size) : p_(ExAllocatePool2(POOL_FLAG_NON_PAGED, size, 'ppCH')) {}
  ~PoolBlock() {
    if (p_ != nullptr) {
      ExFreePoolWithTag(p_, 'ppCH');
    }
  }
  PoolBlock(const PoolBlock &) = delete;
  PoolBlock &operator=(const PoolBlock &) = delete;
  bool ok() const { return p_ != nullptr; }

private:
  PVOID p_;
};

VOID HelloUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("hello_cpp: unloading\n");
}

} // namespace

extern "C" DRIVER_INITIALIZE DriverEntry;

extern "C" NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  PoolBlock block(128);
  if (!block.ok()) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  DbgPrint("hello_cpp: DriverEntry %wZ, max(3, 4) = %d\n", RegistryPath, max(3, 4));
  DriverObject->DriverUnload = HelloUnload;
  return STATUS_SUCCESS;
}

// ExUuidCreate: random UUIDs (RFC 4122 version 4), as Windows has made since Windows 2000.
#include <wdm.h>

#include <sys/random.h>

// ExUuidCreate: a new random UUID.
extern "C" NTSTATUS NTAPI ExUuidCreate(UUID *Uuid) {
  if (Uuid == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  unsigned char bytes[sizeof(UUID)];
  std::size_t filled = 0;
  while (filled < sizeof bytes) {
    const ssize_t n = getrandom(bytes + filled, sizeof bytes - filled, 0);
    if (n > 0) {
      filled += static_cast<std::size_t>(n);
    }
  }
  __builtin_memcpy(Uuid, bytes, sizeof bytes);
  Uuid->Data3 = static_cast<USHORT>((Uuid->Data3 & 0x0FFF) | 0x4000);  // version 4
  Uuid->Data4[0] = static_cast<UCHAR>((Uuid->Data4[0] & 0x3F) | 0x80); // RFC 4122 variant
  return STATUS_SUCCESS;
}

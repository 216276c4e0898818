// ExGetPreviousMode, ExRaiseStatus, ProbeForRead and ProbeForWrite (km/system_services.h).
#include <wdm.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

#include "nt/bugcheck.hpp"

namespace uwsk::nt {
namespace {

// The end of the user half of the address space on Windows x64 (MmUserProbeAddress); Linux
// user addresses stay below it in practice.
constexpr std::uintptr_t user_probe_address = 0x7FFFFFFF0000ULL;

[[noreturn]] void raise_status(NTSTATUS status, const void *address, const void *caller,
                               const char *what) {
  char reason[200];
  std::snprintf(reason, sizeof reason,
                "%s raised status 0x%08X (%p); uwsk has no exception handlers to take it", what,
                static_cast<unsigned>(status), address);
  bugcheck(KMODE_EXCEPTION_NOT_HANDLED, reason, static_cast<ULONG>(status),
           reinterpret_cast<ULONG_PTR>(caller), reinterpret_cast<ULONG_PTR>(address), 0);
}

void probe(const volatile void *address, SIZE_T length, ULONG alignment, const char *what,
           const void *caller, bool write) {
  if (length == 0) {
    return;
  }
  const auto start = reinterpret_cast<std::uintptr_t>(address);
  if (alignment != 1 && alignment != 2 && alignment != 4 && alignment != 8 && alignment != 16) {
    raise_status(STATUS_DATATYPE_MISALIGNMENT, const_cast<const void *>(address), caller, what);
  }
  if ((start & (alignment - 1)) != 0) {
    raise_status(STATUS_DATATYPE_MISALIGNMENT, const_cast<const void *>(address), caller, what);
  }
  const std::uintptr_t end = start + length;
  if (end < start || end > user_probe_address) {
    raise_status(STATUS_ACCESS_VIOLATION, const_cast<const void *>(address), caller, what);
  }
  if (write) {
    // Windows touches every page for writing; here the pages must at least be mapped.
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const std::uintptr_t first = start & ~(page - 1);
    std::vector<unsigned char> residency((end - first + page - 1) / page);
    if (mincore(reinterpret_cast<void *>(first), end - first, residency.data()) != 0 &&
        errno == ENOMEM) {
      raise_status(STATUS_ACCESS_VIOLATION, const_cast<const void *>(address), caller, what);
    }
  }
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

// ExGetPreviousMode: KernelMode; every request in uwsk comes from kernel mode.
extern "C" KPROCESSOR_MODE NTAPI ExGetPreviousMode(VOID) {
  return KernelMode;
}

// ExRaiseStatus: raises Status as an exception; with no handler to take it, a bug check.
extern "C" VOID NTAPI ExRaiseStatus(NTSTATUS Status) {
  raise_status(Status, nullptr, __builtin_return_address(0), "ExRaiseStatus");
}

// ProbeForRead: checks that a buffer is aligned and lies in the user address range.
extern "C" VOID NTAPI ProbeForRead(const volatile VOID *Address, SIZE_T Length, ULONG Alignment) {
  probe(Address, Length, Alignment, "ProbeForRead", __builtin_return_address(0), false);
}

// ProbeForWrite: as ProbeForRead, and the buffer's pages must be mapped.
extern "C" VOID NTAPI ProbeForWrite(volatile VOID *Address, SIZE_T Length, ULONG Alignment) {
  probe(Address, Length, Alignment, "ProbeForWrite", __builtin_return_address(0), true);
}

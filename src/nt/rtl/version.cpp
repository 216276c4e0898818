// RtlGetVersion: uwsk presents itself as Windows 10 version 2004 (10.0.19041, NTDDI_WIN10_VB),
// a workstation without a service pack: the release whose kernel has every API uwsk offers
// (ExAllocatePool2 among them).
#include <cstring>

#include <wdm.h>

namespace {
constexpr ULONG major_version = 10;
constexpr ULONG minor_version = 0;
constexpr ULONG build_number = 19041;
constexpr ULONG ntddi_version = 0x0A000008; // NTDDI_WIN10_VB
} // namespace

// RtlGetVersion: fills RTL_OSVERSIONINFOW, or RTL_OSVERSIONINFOEXW when its size says so.
extern "C" NTSTATUS NTAPI RtlGetVersion(PRTL_OSVERSIONINFOW lpVersionInformation) {
  ULONG size = lpVersionInformation->dwOSVersionInfoSize;
  if (size != sizeof(RTL_OSVERSIONINFOW) && size != sizeof(RTL_OSVERSIONINFOEXW)) {
    return STATUS_INVALID_PARAMETER;
  }
  lpVersionInformation->dwMajorVersion = major_version;
  lpVersionInformation->dwMinorVersion = minor_version;
  lpVersionInformation->dwBuildNumber = build_number;
  lpVersionInformation->dwPlatformId = VER_PLATFORM_WIN32_NT;
  std::memset(lpVersionInformation->szCSDVersion, 0, sizeof(lpVersionInformation->szCSDVersion));
  if (size == sizeof(RTL_OSVERSIONINFOEXW)) {
    auto *ex = reinterpret_cast<PRTL_OSVERSIONINFOEXW>(lpVersionInformation);
    ex->wServicePackMajor = 0;
    ex->wServicePackMinor = 0;
    ex->wSuiteMask = 0x0100; // VER_SUITE_SINGLEUSERTS, as a client edition reports
    ex->wProductType = VER_NT_WORKSTATION;
    ex->wReserved = 0;
  }
  return STATUS_SUCCESS;
}

// RtlIsNtDdiVersionAvailable: TRUE for every NTDDI version up to the one uwsk presents.
extern "C" BOOLEAN NTAPI RtlIsNtDdiVersionAvailable(ULONG Version) {
  return Version <= ntddi_version ? TRUE : FALSE;
}

// PsGetVersion: the version RtlGetVersion reports; the service-pack string is empty. Returns
// FALSE: this is not a checked build.
extern "C" BOOLEAN NTAPI PsGetVersion(PULONG MajorVersion, PULONG MinorVersion, PULONG BuildNumber,
                                      PUNICODE_STRING CSDVersion) {
  if (MajorVersion != nullptr) {
    *MajorVersion = major_version;
  }
  if (MinorVersion != nullptr) {
    *MinorVersion = minor_version;
  }
  if (BuildNumber != nullptr) {
    *BuildNumber = build_number;
  }
  if (CSDVersion != nullptr) {
    CSDVersion->Length = 0;
    if (CSDVersion->Buffer != nullptr && CSDVersion->MaximumLength >= sizeof(WCHAR)) {
      CSDVersion->Buffer[0] = 0;
    }
  }
  return FALSE;
}

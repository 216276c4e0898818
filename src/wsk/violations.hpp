// Parameter 1 of the DRIVER_VERIFIER_DETECTED_VIOLATION (0xC4) bug checks the WSK provider
// raises: uwsk numbers them 0x1600 + the number of the verifier rule broken (V30 -> 0x1630),
// beside the kernel core's 0x15xx (nt/ke/violations.hpp), clear of the Windows verifier's codes.
#pragma once

#include <wdm.h>

namespace uwsk::wsk::violation {

// V1: a WSK_REGISTRATION block that is not registered (never, or no longer).
constexpr ULONG_PTR registration_not_registered = 0x1601;
// V30: a call on a socket that is not open (closed, never created), or closed twice.
constexpr ULONG_PTR socket_not_open = 0x1630;
// V71: WskFreeAddressInfo given something WskGetAddressInfo did not return.
constexpr ULONG_PTR free_address_info = 0x1671;

// Two bug checks keep the codes they had before this numbering (docs/verifier.md gives 0x2301).
// V3: WskReleaseProviderNPI without a matching successful WskCaptureProviderNPI.
constexpr ULONG_PTR release_without_capture = 0x2102;
// V66: WSK_RELEASE_SD of a descriptor that is not cached, or released once too often.
constexpr ULONG_PTR security_descriptor_released_twice = 0x2301;

} // namespace uwsk::wsk::violation

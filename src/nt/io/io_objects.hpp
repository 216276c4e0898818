// I/O manager object accounting shared with the loader's leak report.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <wdm.h>

namespace uwsk::nt {

// IRPs from IoAllocateIrp not yet freed with IoFreeIrp.
std::size_t live_irps();

// The first `limit` of them, one line each: address, stack locations, MDL, and where
// IoAllocateIrp was called (function at file:line when the caller has debug information).
std::vector<std::string> describe_live_irps(std::size_t limit);

// The first `limit` of them that a WSK function holds (pending), described as above (rule V6).
std::vector<std::string> describe_pending_irps(std::size_t limit);

// MDLs from IoAllocateMdl not yet freed with IoFreeMdl.
std::size_t live_mdls();

// Device objects from IoCreateDevice not yet deleted, one line each.
std::vector<std::string> describe_live_devices();

// First parameters of DRIVER_VERIFIER_DETECTED_VIOLATION reports made by the I/O manager.
// uwsk's own numbering (0x1000 and up) so that they never collide with Windows' codes. The
// rules of docs/verifier.md (V11, V15, ...) are reported by nt/dbg/verifier.hpp with 0x16xx.
// Deliberate family (duplicates): bug-check parameter tables, here and in ex/pool.cpp, alike in
// shape only.
namespace io_violation {
constexpr ULONG_PTR irp_freed_not_allocated = 0x1103;
constexpr ULONG_PTR irp_initialize_too_small = 0x1105;
constexpr ULONG_PTR irp_complete_with_cancel_routine = 0x1106;
constexpr ULONG_PTR irp_complete_pending_status = 0x1107;
constexpr ULONG_PTR mdl_double_lock = 0x1201;
constexpr ULONG_PTR mdl_unlock_not_locked = 0x1202;
constexpr ULONG_PTR mdl_free_locked = 0x1203;
constexpr ULONG_PTR mdl_map_not_locked = 0x1204;
constexpr ULONG_PTR mdl_lock_nonpaged = 0x1205;
constexpr ULONG_PTR device_delete_unknown = 0x1301;
constexpr ULONG_PTR work_item_queued_twice = 0x1401;
} // namespace io_violation

} // namespace uwsk::nt

// Parameter 1 of the DRIVER_VERIFIER_DETECTED_VIOLATION (0xC4) bug checks raised by the kernel
// core (ke, ex, ps). uwsk's own numbering, 0x1500 and up, so that it never collides with the
// Windows verifier codes or with the I/O manager's 0x11xx-0x14xx.
#pragma once

#include <wdm.h>

namespace uwsk::nt::ke_violation {

constexpr ULONG_PTR not_a_dispatcher_object = 0x1501;      // wait/set on uninitialised memory
constexpr ULONG_PTR invalid_argument = 0x1502;             // a NULL interval, a bad wait type
constexpr ULONG_PTR fast_mutex_recursive = 0x1503;         // a fast/guarded mutex re-acquired
constexpr ULONG_PTR fast_mutex_not_owner = 0x1504;         // released by a thread not owning it
constexpr ULONG_PTR resource_self_deadlock = 0x1505;       // exclusive wait while owning shared
constexpr ULONG_PTR resource_not_initialized = 0x1506;     // ERESOURCE never initialised
constexpr ULONG_PTR resource_deleted_while_owned = 0x1507; // ExDeleteResourceLite too early
constexpr ULONG_PTR rundown_release_unacquired = 0x1508;   // release without an acquire
constexpr ULONG_PTR object_not_referenced = 0x1509;        // Ob*Reference on an unknown pointer
constexpr ULONG_PTR spin_lock_rw_misuse = 0x150A;          // EX_SPIN_LOCK released wrongly
constexpr ULONG_PTR push_lock_not_held = 0x150B;           // push lock released, not held
constexpr ULONG_PTR remove_lock_underflow = 0x150C;        // remove lock released too often
constexpr ULONG_PTR ex_timer_deleted = 0x150D;             // ExSetTimer on a deleted timer

} // namespace uwsk::nt::ke_violation

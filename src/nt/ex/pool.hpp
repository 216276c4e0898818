// Pool accounting shared with the loader's leak report.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <wdm.h>

namespace uwsk::nt {

// What is still allocated under one pool tag.
struct pool_tag_usage {
  ULONG tag;
  std::size_t allocations;
  std::size_t bytes;
  const void *first_site; // where the first block on a live list was allocated (a return address)
};

// Outstanding pool allocations grouped by tag, largest byte count first.
std::vector<pool_tag_usage> pool_outstanding();

// A pool tag as the four characters a driver wrote ('Tag1' prints as "Tag1").
std::string pool_tag_text(ULONG tag);

// Who frees a pool block: the driver (ExFreePool*), or the runtime for an object it handed out
// (rule V71: a WskGetAddressInfo result is freed only by WskFreeAddressInfo).
constexpr ULONG pool_owner_driver = 0;
constexpr ULONG pool_owner_wsk_address_info = 1;
// Marks a block just allocated (before any driver sees it) as owned by `owner`.
void pool_set_owner(void *p, ULONG owner);
// Frees a block of `owner` (ExFreePoolWithTag's checks, and the owner must match).
void pool_free_owned(void *p, ULONG tag, ULONG owner);

// When `p` is the start of a live pool block, its size in bytes (for checks of out-buffers,
// rule V40); otherwise 0 (not pool, an address inside a block, or one whose header cannot be
// read safely). Never faults.
std::size_t pool_block_size(const void *p);

// Lookaside lists initialised and not yet deleted.
std::size_t live_lookaside_lists();

} // namespace uwsk::nt

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
};

// Outstanding pool allocations grouped by tag, largest byte count first.
std::vector<pool_tag_usage> pool_outstanding();

// A pool tag as the four characters a driver wrote ('Tag1' prints as "Tag1").
std::string pool_tag_text(ULONG tag);

// Lookaside lists initialised and not yet deleted.
std::size_t live_lookaside_lists();

} // namespace uwsk::nt

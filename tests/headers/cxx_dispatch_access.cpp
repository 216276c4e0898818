// cxx_dispatch_access.cpp - compile test: WSK dispatch tables as C++ drivers use them.
//
// The driver code of c_dispatch_access.c, compiled as C++20 (both spellings of the embedded
// basic table, positional client tables), plus the checks only C++ can state.
#include "c_dispatch_access.c"

#include <type_traits>

static_assert(
    std::is_same_v<decltype(WSK_PROVIDER_CONNECTION_DISPATCH::Basic), WSK_PROVIDER_BASIC_DISPATCH>);
static_assert(
    std::is_same_v<decltype(WSK_PROVIDER_STREAM_DISPATCH::WskCloseSocket), PFN_WSK_CLOSE_SOCKET>);
static_assert(std::is_standard_layout_v<WSK_PROVIDER_CONNECTION_DISPATCH>);
static_assert(std::is_trivially_copyable_v<WSK_PROVIDER_STREAM_DISPATCH>);

// A provider table can be a constexpr object initialised positionally, basic table first. (Only
// the view that was initialised may be read in a constant expression; at run time both may.)
constexpr WSK_PROVIDER_BASIC_DISPATCH basic_table = {nullptr, nullptr};
constexpr WSK_PROVIDER_LISTEN_DISPATCH listen_table = {
    {basic_table}, nullptr, nullptr, nullptr, nullptr};
static_assert(listen_table.Basic.WskCloseSocket == nullptr);

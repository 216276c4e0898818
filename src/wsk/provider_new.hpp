// The provider's own allocations (both halves): every object the WSK provider makes for itself
// with `new` (registrations, name requests, socket objects and their rare parts, ring records,
// indication state, ...) is made by provider_new, so that the fact "the provider's allocations
// may fail, and fail under the fault plan's alloc-fail=provider:RATE" (docs/faults.md) lives
// here only. (The standard containers the provider uses allocate on their own, outside it.)
//
// Rules:
//  1. provider_new<T>(args...) is `new (std::nothrow) T(args...)`, and provider_new<T[]>(n) is
//     `new (std::nothrow) T[n]`: NULL when memory is short. Every caller handles NULL as the
//     out-of-memory path it documents, and frees what it got with delete (delete[] for arrays),
//     as for any `new`.
//  2. Under a fault plan each call draws once on the process-wide stream alloc_provider; a fault
//     returns NULL without allocating, and the log names the type that was not made.
#pragma once

#include <array>
#include <cstddef>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

#include "nt/fault/plan.hpp"

namespace uwsk::wsk {

namespace provider_new_detail {

// T's name as the compiler spells it in a function signature, without uwsk::wsk::.
template <typename T> constexpr std::string_view type_name() {
  constexpr std::string_view signature = __PRETTY_FUNCTION__;
  constexpr std::string_view marker = "T = ";
  constexpr std::size_t start = signature.find(marker) + marker.size();
  // GCC: "[with T = NAME; ...]", Clang: "[T = NAME]".
  constexpr std::size_t end = signature.find(';', start) != std::string_view::npos
                                  ? signature.find(';', start)
                                  : signature.rfind(']');
  std::string_view name = signature.substr(start, end - start);
  constexpr std::string_view prefix = "uwsk::wsk::";
  if (name.substr(0, prefix.size()) == prefix) {
    name.remove_prefix(prefix.size());
  }
  return name;
}

// type_name<T>() NUL-terminated, for the fault log.
template <typename T> constexpr auto type_text() {
  constexpr std::string_view name = type_name<T>();
  std::array<char, name.size() + 1> text{};
  for (std::size_t i = 0; i < name.size(); ++i) {
    text[i] = name[i];
  }
  return text;
}
template <typename T> inline constexpr auto type_label = type_text<T>();

template <typename T> bool fails() {
  return fault::active() &&
         fault::fail_allocation(fault::stream::alloc_provider, type_label<T>.data());
}

} // namespace provider_new_detail

// Rule 1: a new T (or an array of T for provider_new<T[]>(count)), or NULL.
template <typename T, typename... Args> auto *provider_new(Args &&...args) {
  if constexpr (std::is_unbounded_array_v<T>) {
    static_assert(sizeof...(Args) == 1, "provider_new<T[]>(count)");
    using element = std::remove_extent_t<T>;
    if (provider_new_detail::fails<T>()) {
      return static_cast<element *>(nullptr);
    }
    return new (std::nothrow) element[(args, ...)];
  } else {
    if (provider_new_detail::fails<T>()) {
      return static_cast<T *>(nullptr);
    }
    if constexpr (sizeof...(Args) == 0) {
      return new (std::nothrow) T; // default-initialised, as a plain new
    } else {
      return new (std::nothrow) T(std::forward<Args>(args)...);
    }
  }
}

} // namespace uwsk::wsk

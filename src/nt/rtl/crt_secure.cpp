// The secure CRT's copy and append functions (memcpy_s, strcpy_s, wcsncat_s, ...) with the
// Windows results: errno values, and on failure an empty destination string (or, for memcpy_s, a
// zeroed buffer). Where Windows calls the invalid-parameter handler, uwsk logs a line and returns
// as after a handler that returns (see km/crt.h).
#include <cerrno>
#include <cstring>
#include <type_traits>

#include <wdm.h>

#include "nt/rtl/crt.hpp"

namespace {

using uwsk::nt::crt::invalid_parameter;
static_assert(std::is_same_v<WCHAR, char16_t>, "the runtime is built without -fshort-wchar");

template <typename C> size_t length_max(const C *s, size_t max) {
  size_t n = 0;
  while (n < max && s[n] != 0) {
    ++n;
  }
  return n;
}

// Fails with `code`: the destination becomes an empty string (when there is one).
template <typename C>
errno_t fail(C *destination, rsize_t size, errno_t code, const char *function,
             const char *problem) {
  if (destination != nullptr && size != 0) {
    destination[0] = 0;
  }
  invalid_parameter(function, problem);
  errno = code;
  return code;
}

// strcpy_s, wcscpy_s (count == _TRUNCATE never reaches here) and strncpy_s, wcsncpy_s.
template <typename C>
errno_t copy(C *destination, rsize_t size, const C *source, rsize_t count, bool bounded,
             const char *function) {
  if (bounded && count == 0 && destination == nullptr && size == 0) {
    return 0; // nothing to do, and nowhere to do it: allowed
  }
  if (destination == nullptr || size == 0) {
    return fail(destination, 0, EINVAL, function, "the destination is NULL or has no room");
  }
  if (bounded && count == 0) {
    destination[0] = 0;
    return 0;
  }
  if (source == nullptr) {
    return fail(destination, size, EINVAL, function, "the source is NULL");
  }
  if (bounded && count == _TRUNCATE) {
    size_t n = length_max(source, size - 1);
    std::memmove(destination, source, n * sizeof(C));
    destination[n] = 0;
    return source[n] != 0 ? STRUNCATE : 0;
  }
  size_t n = length_max(source, bounded ? count : size);
  if (n >= size) {
    return fail(destination, size, ERANGE, function, "the destination is too small");
  }
  std::memmove(destination, source, n * sizeof(C));
  destination[n] = 0;
  return 0;
}

// strcat_s, wcscat_s and strncat_s, wcsncat_s.
template <typename C>
errno_t append(C *destination, rsize_t size, const C *source, rsize_t count, bool bounded,
               const char *function) {
  if (bounded && count == 0 && destination == nullptr && size == 0) {
    return 0;
  }
  if (destination == nullptr || size == 0) {
    return fail(destination, 0, EINVAL, function, "the destination is NULL or has no room");
  }
  if (source == nullptr && !(bounded && count == 0)) {
    return fail(destination, size, EINVAL, function, "the source is NULL");
  }
  size_t used = length_max(destination, size);
  if (used == size) {
    return fail(destination, size, EINVAL, function, "the destination is not terminated");
  }
  if (bounded && count == 0) {
    return 0;
  }
  size_t room = size - used - 1;
  if (bounded && count == _TRUNCATE) {
    size_t n = length_max(source, room);
    std::memmove(destination + used, source, n * sizeof(C));
    destination[used + n] = 0;
    return source[n] != 0 ? STRUNCATE : 0;
  }
  size_t n = bounded ? length_max(source, count) : length_max(source, SIZE_MAX);
  if (n > room) {
    return fail(destination, size, ERANGE, function, "the destination is too small");
  }
  std::memmove(destination + used, source, n * sizeof(C));
  destination[used + n] = 0;
  return 0;
}

} // namespace

// memcpy_s: on failure the destination (all DestinationSize bytes) is zeroed, except when it is
// NULL.
extern "C" errno_t __cdecl memcpy_s(void *Destination, rsize_t DestinationSize, const void *Source,
                                    rsize_t Count) {
  if (Count == 0) {
    return 0;
  }
  if (Destination == nullptr) {
    invalid_parameter("memcpy_s", "the destination is NULL");
    errno = EINVAL;
    return EINVAL;
  }
  if (Source == nullptr || DestinationSize < Count) {
    std::memset(Destination, 0, DestinationSize);
    bool null_source = Source == nullptr;
    invalid_parameter("memcpy_s",
                      null_source ? "the source is NULL" : "the destination is too small");
    errno = null_source ? EINVAL : ERANGE;
    return errno;
  }
  std::memcpy(Destination, Source, Count);
  return 0;
}

// memmove_s: on failure nothing is written.
extern "C" errno_t __cdecl memmove_s(void *Destination, rsize_t DestinationSize, const void *Source,
                                     rsize_t Count) {
  if (Count == 0) {
    return 0;
  }
  if (Destination == nullptr || Source == nullptr) {
    invalid_parameter("memmove_s", "the destination or the source is NULL");
    errno = EINVAL;
    return EINVAL;
  }
  if (DestinationSize < Count) {
    invalid_parameter("memmove_s", "the destination is too small");
    errno = ERANGE;
    return ERANGE;
  }
  std::memmove(Destination, Source, Count);
  return 0;
}

// Deliberate family (duplicates): the secure CRT exports, str and wcs forms of cpy_s, ncpy_s, cat_s
// and ncat_s, each one call of copy or append.
extern "C" errno_t __cdecl strcpy_s(char *Destination, rsize_t DestinationSize,
                                    const char *Source) {
  return copy(Destination, DestinationSize, Source, 0, false, "strcpy_s");
}

extern "C" errno_t __cdecl strncpy_s(char *Destination, rsize_t DestinationSize, const char *Source,
                                     rsize_t Count) {
  return copy(Destination, DestinationSize, Source, Count, true, "strncpy_s");
}

extern "C" errno_t __cdecl strcat_s(char *Destination, rsize_t DestinationSize,
                                    const char *Source) {
  return append(Destination, DestinationSize, Source, 0, false, "strcat_s");
}

extern "C" errno_t __cdecl strncat_s(char *Destination, rsize_t DestinationSize, const char *Source,
                                     rsize_t Count) {
  return append(Destination, DestinationSize, Source, Count, true, "strncat_s");
}

extern "C" errno_t __cdecl wcscpy_s(WCHAR *Destination, rsize_t DestinationSize,
                                    const WCHAR *Source) {
  return copy(Destination, DestinationSize, Source, 0, false, "wcscpy_s");
}

extern "C" errno_t __cdecl wcsncpy_s(WCHAR *Destination, rsize_t DestinationSize,
                                     const WCHAR *Source, rsize_t Count) {
  return copy(Destination, DestinationSize, Source, Count, true, "wcsncpy_s");
}

extern "C" errno_t __cdecl wcscat_s(WCHAR *Destination, rsize_t DestinationSize,
                                    const WCHAR *Source) {
  return append(Destination, DestinationSize, Source, 0, false, "wcscat_s");
}

extern "C" errno_t __cdecl wcsncat_s(WCHAR *Destination, rsize_t DestinationSize,
                                     const WCHAR *Source, rsize_t Count) {
  return append(Destination, DestinationSize, Source, Count, true, "wcsncat_s");
}

// The length of a string of at most MaxCount characters; 0 for NULL.
extern "C" size_t __cdecl strnlen_s(const char *String, size_t MaxCount) {
  return String == nullptr ? 0 : length_max(String, MaxCount);
}

extern "C" size_t __cdecl wcsnlen_s(const WCHAR *String, size_t MaxCount) {
  return String == nullptr ? 0 : length_max(String, MaxCount);
}

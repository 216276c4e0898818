// The kernel C runtime's printf family: sprintf, snprintf, _snprintf, swprintf, _snwprintf, the
// secure forms (sprintf_s, _snprintf_s, ...) and the counting forms (_scprintf). All of them
// format with the Windows engine of DbgPrint (nt/dbg/format.hpp); they differ only in what they
// do when the result does not fit (see km/crt.h).
#include <cerrno>
#include <cstdarg>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <wdm.h>

#include "nt/dbg/format.hpp"
#include "nt/rtl/crt.hpp"

namespace {

using uwsk::nt::format_windows;
using uwsk::nt::FormatSink;
using uwsk::nt::crt::invalid_parameter;
static_assert(std::is_same_v<WCHAR, char16_t>, "the runtime is built without -fshort-wchar");

// Stores the first `capacity` characters of the output and counts all of them.
template <typename C> class BoundedSink final : public FormatSink<C> {
public:
  BoundedSink(C *buffer, size_t capacity) : buffer_(buffer), capacity_(capacity) {}
  void put(const C *data, size_t count) override {
    if (stored_ < capacity_) {
      size_t n = count < capacity_ - stored_ ? count : capacity_ - stored_;
      std::memcpy(buffer_ + stored_, data, n * sizeof(C));
      stored_ += n;
    }
    total_ += count;
  }
  size_t stored() const { return stored_; }
  size_t total() const { return total_; }

private:
  C *buffer_;
  size_t capacity_;
  size_t stored_ = 0;
  size_t total_ = 0;
};

// Formats into buffer[0..capacity) without a terminator; returns the full length of the output.
template <typename C> size_t format(C *buffer, size_t capacity, const C *fmt, va_list ap) {
  BoundedSink<C> sink(buffer, buffer == nullptr ? 0 : capacity);
  format_windows(sink, fmt, ap);
  return sink.total();
}

int as_int(size_t n) {
  return n > static_cast<size_t>(INT32_MAX) ? -1 : static_cast<int>(n);
}

// sprintf, vsprintf: unbounded.
template <typename C> int unbounded(C *buffer, const C *fmt, va_list ap) {
  size_t n = format(buffer, SIZE_MAX, fmt, ap);
  buffer[n] = 0;
  return as_int(n);
}

// snprintf, vsnprintf (C99): the length the output needs; always terminated when Count > 0.
template <typename C> int c99_bounded(C *buffer, size_t count, const C *fmt, va_list ap) {
  size_t n = format(buffer, count == 0 ? 0 : count - 1, fmt, ap);
  if (buffer != nullptr && count != 0) {
    buffer[n < count ? n : count - 1] = 0;
  }
  return as_int(n);
}

// swprintf, vswprintf (ISO C wide): -1 when the output and its terminator do not fit; the
// buffer then holds what fits, terminated.
template <typename C> int iso_wide(C *buffer, size_t count, const C *fmt, va_list ap) {
  if (buffer == nullptr || count == 0) {
    return -1;
  }
  size_t n = format(buffer, count - 1, fmt, ap);
  if (n >= count) {
    buffer[count - 1] = 0;
    return -1;
  }
  buffer[n] = 0;
  return as_int(n);
}

// _snprintf, _vsnprintf, _snwprintf, _vsnwprintf: at most Count characters; terminated only when
// shorter than Count; -1 when the output is longer than Count.
// A NULL buffer with Count 0 asks for the length the output needs.
template <typename C> int legacy_bounded(C *buffer, size_t count, const C *fmt, va_list ap) {
  if (buffer == nullptr || fmt == nullptr) {
    if (buffer == nullptr && count == 0 && fmt != nullptr) {
      return as_int(format<C>(nullptr, 0, fmt, ap));
    }
    invalid_parameter(std::is_same_v<C, char> ? "_snprintf" : "_snwprintf",
                      "the buffer or the format is NULL");
    errno = EINVAL;
    return -1;
  }
  size_t n = format(buffer, count, fmt, ap);
  if (n < count) {
    buffer[n] = 0;
    return as_int(n);
  }
  return n == count ? as_int(n) : -1;
}

// The checks the secure forms share: a buffer with room (else EINVAL), a format (else EINVAL,
// and the buffer becomes an empty string). False, with errno set and the invalid parameter
// reported, when one fails; the caller returns -1.
template <typename C>
bool secure_arguments_valid(C *buffer, size_t size, const C *fmt, const char *function) {
  if (buffer == nullptr || size == 0) {
    invalid_parameter(function, "the buffer is NULL or has no room");
    errno = EINVAL;
    return false;
  }
  if (fmt == nullptr) {
    buffer[0] = 0;
    invalid_parameter(function, "the format is NULL");
    errno = EINVAL;
    return false;
  }
  return true;
}

// sprintf_s, vsprintf_s, swprintf_s, vswprintf_s: the output and its terminator must fit, or the
// buffer becomes an empty string and the result is -1.
template <typename C>
int secure(C *buffer, size_t size, const C *fmt, va_list ap, const char *function) {
  if (!secure_arguments_valid(buffer, size, fmt, function)) {
    return -1;
  }
  size_t n = format(buffer, size - 1, fmt, ap);
  if (n >= size) {
    buffer[0] = 0;
    invalid_parameter(function, "the buffer is too small");
    errno = ERANGE;
    return -1;
  }
  buffer[n] = 0;
  return as_int(n);
}

// _snprintf_s, _vsnprintf_s, _snwprintf_s, _vsnwprintf_s. At most Count characters are written,
// always terminated. Count == _TRUNCATE: as much as fits, -1 when cut. Count < Size: cut at Count
// characters, -1 when cut. Otherwise the output must fit in Size, or the buffer becomes an empty
// string and the result is -1 (an invalid parameter).
template <typename C>
int secure_counted(C *buffer, size_t size, size_t count, const C *fmt, va_list ap,
                   const char *function) {
  if (buffer == nullptr && size == 0 && count == 0) {
    return 0;
  }
  if (!secure_arguments_valid(buffer, size, fmt, function)) {
    return -1;
  }
  if (count != _TRUNCATE && count < size) {
    size_t n = format(buffer, count, fmt, ap);
    buffer[n < count ? n : count] = 0;
    return n <= count ? as_int(n) : -1;
  }
  size_t n = format(buffer, size - 1, fmt, ap);
  if (n < size) {
    buffer[n] = 0;
    return as_int(n);
  }
  if (count == _TRUNCATE) {
    buffer[size - 1] = 0;
    return -1;
  }
  buffer[0] = 0;
  invalid_parameter(function, "the buffer is too small");
  errno = ERANGE;
  return -1;
}

template <typename C> int count_only(const C *fmt, va_list ap, const char *function) {
  if (fmt == nullptr) {
    invalid_parameter(function, "the format is NULL");
    errno = EINVAL;
    return -1;
  }
  return as_int(format<C>(nullptr, 0, fmt, ap));
}

} // namespace

#define UWSK_CRT_VARIADIC(call)                                                                    \
  va_list ap;                                                                                      \
  va_start(ap, Format);                                                                            \
  int result = call;                                                                               \
  va_end(ap);                                                                                      \
  return result

// ---- The names glibc shares (km/crt.h renames a driver's calls to these)
// --------------------------

extern "C" int uwsk_vsprintf(char *Buffer, const char *Format, va_list Arguments) {
  return unbounded(Buffer, Format, Arguments);
}
extern "C" int uwsk_sprintf(char *Buffer, const char *Format, ...) {
  UWSK_CRT_VARIADIC(unbounded(Buffer, Format, ap));
}
extern "C" int uwsk_vsnprintf(char *Buffer, size_t Count, const char *Format, va_list Arguments) {
  return c99_bounded(Buffer, Count, Format, Arguments);
}
extern "C" int uwsk_snprintf(char *Buffer, size_t Count, const char *Format, ...) {
  UWSK_CRT_VARIADIC(c99_bounded(Buffer, Count, Format, ap));
}
extern "C" int uwsk_vswprintf(WCHAR *Buffer, size_t Count, const WCHAR *Format, va_list Arguments) {
  return iso_wide(Buffer, Count, Format, Arguments);
}
extern "C" int uwsk_swprintf(WCHAR *Buffer, size_t Count, const WCHAR *Format, ...) {
  UWSK_CRT_VARIADIC(iso_wide(Buffer, Count, Format, ap));
}

// ---- Windows-only names
// --------------------------------------------------------------------------

extern "C" int __cdecl _vsnprintf(char *Buffer, size_t Count, const char *Format,
                                  va_list Arguments) {
  return legacy_bounded(Buffer, Count, Format, Arguments);
}
extern "C" int __cdecl _snprintf(char *Buffer, size_t Count, const char *Format, ...) {
  UWSK_CRT_VARIADIC(legacy_bounded(Buffer, Count, Format, ap));
}
extern "C" int __cdecl _vsnwprintf(WCHAR *Buffer, size_t Count, const WCHAR *Format,
                                   va_list Arguments) {
  return legacy_bounded(Buffer, Count, Format, Arguments);
}
extern "C" int __cdecl _snwprintf(WCHAR *Buffer, size_t Count, const WCHAR *Format, ...) {
  UWSK_CRT_VARIADIC(legacy_bounded(Buffer, Count, Format, ap));
}

extern "C" int __cdecl _vscprintf(const char *Format, va_list Arguments) {
  return count_only(Format, Arguments, "_vscprintf");
}
extern "C" int __cdecl _scprintf(const char *Format, ...) {
  UWSK_CRT_VARIADIC(count_only(Format, ap, "_scprintf"));
}
extern "C" int __cdecl _vscwprintf(const WCHAR *Format, va_list Arguments) {
  return count_only(Format, Arguments, "_vscwprintf");
}
extern "C" int __cdecl _scwprintf(const WCHAR *Format, ...) {
  UWSK_CRT_VARIADIC(count_only(Format, ap, "_scwprintf"));
}

extern "C" int __cdecl vsprintf_s(char *Buffer, size_t BufferSize, const char *Format,
                                  va_list Arguments) {
  return secure(Buffer, BufferSize, Format, Arguments, "vsprintf_s");
}
extern "C" int __cdecl sprintf_s(char *Buffer, size_t BufferSize, const char *Format, ...) {
  UWSK_CRT_VARIADIC(secure(Buffer, BufferSize, Format, ap, "sprintf_s"));
}
extern "C" int __cdecl vswprintf_s(WCHAR *Buffer, size_t BufferSize, const WCHAR *Format,
                                   va_list Arguments) {
  return secure(Buffer, BufferSize, Format, Arguments, "vswprintf_s");
}
extern "C" int __cdecl swprintf_s(WCHAR *Buffer, size_t BufferSize, const WCHAR *Format, ...) {
  UWSK_CRT_VARIADIC(secure(Buffer, BufferSize, Format, ap, "swprintf_s"));
}

// Deliberate family (duplicates): the printf exports, narrow and wide, plain and variadic, each one
// call of format, secure or secure_counted.
extern "C" int __cdecl _vsnprintf_s(char *Buffer, size_t BufferSize, size_t Count,
                                    const char *Format, va_list Arguments) {
  return secure_counted(Buffer, BufferSize, Count, Format, Arguments, "_vsnprintf_s");
}
extern "C" int __cdecl _snprintf_s(char *Buffer, size_t BufferSize, size_t Count,
                                   const char *Format, ...) {
  UWSK_CRT_VARIADIC(secure_counted(Buffer, BufferSize, Count, Format, ap, "_snprintf_s"));
}
extern "C" int __cdecl _vsnwprintf_s(WCHAR *Buffer, size_t BufferSize, size_t Count,
                                     const WCHAR *Format, va_list Arguments) {
  return secure_counted(Buffer, BufferSize, Count, Format, Arguments, "_vsnwprintf_s");
}
extern "C" int __cdecl _snwprintf_s(WCHAR *Buffer, size_t BufferSize, size_t Count,
                                    const WCHAR *Format, ...) {
  UWSK_CRT_VARIADIC(secure_counted(Buffer, BufferSize, Count, Format, ap, "_snwprintf_s"));
}

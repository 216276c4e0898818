// ntstrsafe: bounded copy, append, format and length functions for NUL-terminated strings and
// UNICODE_STRING, with the Windows statuses and STRSAFE_* flag handling (see ntstrsafe.h).
//
// Every export is a thin wrapper over two generic drivers: run_terminated() for NUL-terminated
// destinations and run_counted() for UNICODE_STRING destinations. Each takes a "producer" that
// writes the new characters at a position and reports whether the source fit.
#include <cstring>
#include <type_traits>

#include <ntstrsafe.h>
#include <wdm.h>

#include "nt/dbg/format.hpp"

namespace uwsk::nt {
namespace {

using Wide = char16_t;
static_assert(std::is_same_v<WCHAR, Wide>, "the runtime is built without -fshort-wchar");

constexpr size_t max_cch = NTSTRSAFE_MAX_CCH;
constexpr size_t ustr_max_cch = NTSTRSAFE_UNICODE_STRING_MAX_CCH;

// Characters from a source: NUL-terminated (stop at NUL or `max`) or counted (exactly `max`).
template <typename C> struct Source {
  const C *p;
  size_t max;
  bool counted;

  bool has(size_t i) const { return i < max && (counted || p[i] != 0); }
};

template <typename C> Source<C> terminated(const C *p, size_t max = max_cch) {
  static const C empty[1] = {0};
  return {p != nullptr ? p : empty, max, false};
}

// Writes source characters at dest[pos..cap) (cap = characters available for text, the
// terminator excluded); returns the new text length and whether everything fit.
template <typename C>
NTSTATUS put_source(C *dest, size_t cap, size_t pos, const Source<C> &src, size_t *new_len) {
  size_t k = 0;
  while (pos + k < cap && src.has(k)) {
    ++k;
  }
  if (k != 0) {
    std::memmove(dest + pos, src.p, k * sizeof(C));
  }
  *new_len = pos + k;
  return src.has(k) ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

// Receives formatted output into dest[pos..cap), noting whether anything was cut.
template <typename C> class BoundedSink final : public FormatSink<C> {
public:
  BoundedSink(C *dest, size_t cap, size_t pos) : dest_(dest), cap_(cap), len_(pos) {}
  void put(const C *data, size_t count) override {
    size_t room = cap_ - len_;
    size_t n = count < room ? count : room;
    if (n != 0) {
      std::memcpy(dest_ + len_, data, n * sizeof(C));
      len_ += n;
    }
    if (n < count) {
      truncated_ = true;
    }
  }
  size_t length() const { return len_; }
  bool truncated() const { return truncated_; }

private:
  C *dest_;
  size_t cap_;
  size_t len_;
  bool truncated_ = false;
};

template <typename C>
NTSTATUS put_format(C *dest, size_t cap, size_t pos, const C *format, va_list ap, size_t *new_len) {
  BoundedSink<C> sink(dest, cap, pos);
  if (format != nullptr) {
    format_windows(sink, format, ap);
  }
  *new_len = sink.length();
  return sink.truncated() ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

enum class Mode { copy, cat };

struct Request {
  ULONG flags = 0;
  bool ex = false; // an Ex function: flags apply, end/remaining are reported
  Mode mode = Mode::copy;
  bool source_null = false; // the caller passed a NULL source (or format)
  bool source_bad = false;  // the source failed its own validation
};

// The NUL-terminated destination driver. `produce(dest, cap, pos, &new_len)` writes the text.
template <typename C, typename Produce>
NTSTATUS run_terminated(C *dest, size_t cch, const Request &rq, Produce produce, C **end_out,
                        size_t *remaining_out) {
  bool ignore_nulls = rq.ex && (rq.flags & STRSAFE_IGNORE_NULLS) != 0;
  if (rq.ex && (rq.flags & ~static_cast<ULONG>(STRSAFE_VALID_FLAGS)) != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  if (cch > max_cch || (dest == nullptr && (cch != 0 || !ignore_nulls)) ||
      (cch == 0 && !ignore_nulls)) {
    if (!rq.ex && dest != nullptr && cch != 0 && rq.mode == Mode::copy) {
      dest[0] = 0;
    }
    return STATUS_INVALID_PARAMETER;
  }

  NTSTATUS status = STATUS_SUCCESS;
  size_t pos = 0;
  bool pos_known = true;
  size_t new_len = 0;
  if ((rq.source_null && !ignore_nulls) || rq.source_bad) {
    status = STATUS_INVALID_PARAMETER;
    pos_known = false;
  } else if (rq.mode == Mode::cat && cch != 0) {
    while (pos < cch && dest[pos] != 0) {
      ++pos;
    }
    if (pos == cch) {
      status = STATUS_INVALID_PARAMETER; // the destination holds no terminated string
      pos_known = false;
    }
  }
  if (NT_SUCCESS(status)) {
    if (cch == 0) {
      // Only reachable with STRSAFE_IGNORE_NULLS: nothing can be written, not even a NUL.
      C probe[1];
      status = produce(probe, 0, 0, &new_len);
      new_len = 0;
    } else {
      status = produce(dest, cch - 1, pos, &new_len);
      dest[new_len] = 0;
    }
  }

  if (!rq.ex) {
    if (!NT_SUCCESS(status) && status != STATUS_BUFFER_OVERFLOW && rq.mode == Mode::copy) {
      dest[0] = 0;
    }
    return status;
  }
  C *end = dest != nullptr ? dest + new_len : nullptr;
  size_t remaining = cch - new_len;
  int fill = STRSAFE_GET_FILL_PATTERN(rq.flags);
  if (NT_SUCCESS(status)) {
    if ((rq.flags & STRSAFE_FILL_BEHIND_NULL) != 0 && remaining > 1) {
      std::memset(end + 1, fill, (remaining - 1) * sizeof(C));
    }
  } else if (dest != nullptr && cch != 0) {
    if ((rq.flags & STRSAFE_FILL_ON_FAILURE) != 0) {
      std::memset(dest, fill, cch * sizeof(C));
      if (fill == 0) {
        end = dest;
        remaining = cch;
      } else {
        end = dest + cch - 1;
        remaining = 1;
        *end = 0;
      }
    }
    if ((rq.flags & (STRSAFE_NULL_ON_FAILURE | STRSAFE_NO_TRUNCATION)) != 0) {
      // NO_TRUNCATION leaves an appended-to string as it was; otherwise the result is empty.
      size_t keep =
          rq.mode == Mode::cat && pos_known && (rq.flags & STRSAFE_NULL_ON_FAILURE) == 0 ? pos : 0;
      end = dest + keep;
      remaining = cch - keep;
      *end = 0;
    }
  }
  if (NT_SUCCESS(status) || status == STATUS_BUFFER_OVERFLOW) {
    if (end_out != nullptr) {
      *end_out = end;
    }
    if (remaining_out != nullptr) {
      *remaining_out = remaining;
    }
  }
  return status;
}

// Converts a Cb remaining count: characters to bytes, plus the odd byte a wide buffer of odd
// size has beyond its last character.
template <typename C> void cb_remaining(size_t *pcb, size_t cch_remaining, size_t cb_dest) {
  if (pcb != nullptr) {
    *pcb = cch_remaining * sizeof(C) + cb_dest % sizeof(C);
  }
}

// ---- Copy, Cat, Printf over NUL-terminated destinations ------------------------------------

template <typename C>
NTSTATUS string_op(C *dest, size_t cch, const C *src, size_t max_src, Mode mode, bool ex,
                   ULONG flags, std::type_identity_t<C> **end, size_t *remaining) {
  Request rq;
  rq.ex = ex;
  rq.flags = flags;
  rq.mode = mode;
  rq.source_null = src == nullptr;
  rq.source_bad = max_src > max_cch;
  Source<C> source = terminated(src, max_src);
  return run_terminated(
      dest, cch, rq,
      [&](C *d, size_t cap, size_t pos, size_t *nl) { return put_source(d, cap, pos, source, nl); },
      end, remaining);
}

template <typename C>
NTSTATUS printf_op(C *dest, size_t cch, const C *format, va_list ap, bool ex, ULONG flags,
                   std::type_identity_t<C> **end, size_t *remaining) {
  Request rq;
  rq.ex = ex;
  rq.flags = flags;
  rq.source_null = format == nullptr;
  return run_terminated(
      dest, cch, rq,
      [&](C *d, size_t cap, size_t pos, size_t *nl) {
        return put_format(d, cap, pos, format, ap, nl);
      },
      end, remaining);
}

template <typename C> NTSTATUS length_op(const C *s, size_t cch_max, size_t *length) {
  NTSTATUS status = STATUS_INVALID_PARAMETER;
  size_t n = 0;
  if (s != nullptr && cch_max <= max_cch) {
    while (n < cch_max && s[n] != 0) {
      ++n;
    }
    if (n < cch_max) {
      status = STATUS_SUCCESS;
    }
  }
  if (length != nullptr) {
    *length = NT_SUCCESS(status) ? n : 0;
  }
  return status;
}

// ---- UNICODE_STRING destinations ------------------------------------------------------------

bool valid_counted(PCUNICODE_STRING s) {
  return s->Length % 2 == 0 && s->MaximumLength % 2 == 0 && s->Length <= s->MaximumLength &&
         s->MaximumLength <= ustr_max_cch * sizeof(WCHAR) &&
         (s->Buffer != nullptr || s->MaximumLength == 0);
}

// Resolves a UNICODE_STRING source; NULL is empty with STRSAFE_IGNORE_NULLS.
Source<Wide> counted_source(PCUNICODE_STRING s, size_t max_chars, Request &rq) {
  static const Wide empty[1] = {0};
  if (s == nullptr) {
    rq.source_null = true;
    return {empty, 0, true};
  }
  if (!valid_counted(s)) {
    rq.source_bad = true;
    return {empty, 0, true};
  }
  size_t n = s->Length / sizeof(WCHAR);
  return {s->Buffer != nullptr ? reinterpret_cast<const Wide *>(s->Buffer) : empty,
          n < max_chars ? n : max_chars, true};
}

template <typename Produce>
NTSTATUS run_counted(PUNICODE_STRING dest, const Request &rq, Produce produce,
                     PUNICODE_STRING remaining) {
  bool ignore_nulls = rq.ex && (rq.flags & STRSAFE_IGNORE_NULLS) != 0;
  if (rq.ex && (rq.flags & ~static_cast<ULONG>(STRSAFE_UNICODE_STRING_VALID_FLAGS)) != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  if ((dest == nullptr && !ignore_nulls) || (dest != nullptr && !valid_counted(dest))) {
    return STATUS_INVALID_PARAMETER;
  }
  if ((rq.source_null && !ignore_nulls) || rq.source_bad) {
    return STATUS_INVALID_PARAMETER;
  }
  Wide *buffer = dest != nullptr ? reinterpret_cast<Wide *>(dest->Buffer) : nullptr;
  size_t cap = dest != nullptr ? dest->MaximumLength / sizeof(WCHAR) : 0;
  size_t pos = rq.mode == Mode::cat && dest != nullptr ? dest->Length / sizeof(WCHAR) : 0;
  size_t new_len = 0;
  Wide probe[1];
  NTSTATUS status = produce(buffer != nullptr ? buffer : probe, cap, pos, &new_len);
  if (dest == nullptr) {
    return status;
  }
  dest->Length = static_cast<USHORT>(new_len * sizeof(WCHAR));
  if (!rq.ex) {
    return status;
  }
  int fill = STRSAFE_GET_FILL_PATTERN(rq.flags);
  if (NT_SUCCESS(status)) {
    if ((rq.flags & STRSAFE_FILL_BEHIND) != 0 && dest->MaximumLength > dest->Length) {
      std::memset(reinterpret_cast<char *>(dest->Buffer) + dest->Length, fill,
                  dest->MaximumLength - dest->Length);
    }
  } else if (cap != 0) {
    if ((rq.flags & STRSAFE_FILL_ON_FAILURE) != 0) {
      std::memset(dest->Buffer, fill, dest->MaximumLength);
      dest->Length = fill == 0 ? 0 : dest->MaximumLength;
    }
    if ((rq.flags & (STRSAFE_ZERO_LENGTH_ON_FAILURE | STRSAFE_NO_TRUNCATION)) != 0) {
      bool keep = rq.mode == Mode::cat && (rq.flags & STRSAFE_ZERO_LENGTH_ON_FAILURE) == 0;
      dest->Length = static_cast<USHORT>(keep ? pos * sizeof(WCHAR) : 0);
    }
  }
  if (remaining != nullptr && (NT_SUCCESS(status) || status == STATUS_BUFFER_OVERFLOW)) {
    remaining->Buffer = dest->Buffer + dest->Length / sizeof(WCHAR);
    remaining->Length = 0;
    remaining->MaximumLength = static_cast<USHORT>(dest->MaximumLength - dest->Length);
  }
  return status;
}

NTSTATUS ustr_from_string(PUNICODE_STRING dest, PCWSTR src, size_t max_chars, Mode mode, bool ex,
                          ULONG flags, PUNICODE_STRING remaining) {
  Request rq;
  rq.ex = ex;
  rq.flags = flags;
  rq.mode = mode;
  rq.source_null = src == nullptr;
  rq.source_bad = max_chars > ustr_max_cch;
  Source<Wide> source = terminated(reinterpret_cast<const Wide *>(src), max_chars);
  return run_counted(
      dest, rq,
      [&](Wide *d, size_t cap, size_t pos, size_t *nl) {
        return put_source(d, cap, pos, source, nl);
      },
      remaining);
}

NTSTATUS ustr_from_ustr(PUNICODE_STRING dest, PCUNICODE_STRING src, size_t max_chars, Mode mode,
                        bool ex, ULONG flags, PUNICODE_STRING remaining) {
  Request rq;
  rq.ex = ex;
  rq.flags = flags;
  rq.mode = mode;
  rq.source_bad = max_chars > ustr_max_cch;
  Source<Wide> source = counted_source(src, max_chars, rq);
  return run_counted(
      dest, rq,
      [&](Wide *d, size_t cap, size_t pos, size_t *nl) {
        return put_source(d, cap, pos, source, nl);
      },
      remaining);
}

NTSTATUS ustr_printf(PUNICODE_STRING dest, PCWSTR format, va_list ap, bool ex, ULONG flags,
                     PUNICODE_STRING remaining) {
  Request rq;
  rq.ex = ex;
  rq.flags = flags;
  rq.source_null = format == nullptr;
  const auto *fmt = reinterpret_cast<const Wide *>(format);
  return run_counted(
      dest, rq,
      [&](Wide *d, size_t cap, size_t pos, size_t *nl) {
        return put_format(d, cap, pos, fmt, ap, nl);
      },
      remaining);
}

NTSTATUS string_from_ustr(PWSTR dest, size_t cch, PCUNICODE_STRING src, Mode mode, bool ex,
                          ULONG flags, PWSTR *end, size_t *remaining) {
  Request rq;
  rq.ex = ex;
  rq.flags = flags;
  rq.mode = mode;
  Source<Wide> source = counted_source(src, ustr_max_cch, rq);
  return run_terminated(
      reinterpret_cast<Wide *>(dest), cch, rq,
      [&](Wide *d, size_t cap, size_t pos, size_t *nl) {
        return put_source(d, cap, pos, source, nl);
      },
      reinterpret_cast<Wide **>(end), remaining);
}

Wide *W(PWSTR p) {
  return reinterpret_cast<Wide *>(p);
}
const Wide *W(PCWSTR p) {
  return reinterpret_cast<const Wide *>(p);
}
Wide **W(PWSTR *p) {
  return reinterpret_cast<Wide **>(p);
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

// Deliberate family (duplicates): the ntstrsafe exports, Cch and Cb forms of Copy, Cat, Printf and
// their Ex and N variants, each in A and W forms. The WDK declares each one; every body is one call
// of string_op, which holds the logic.
// The narrow and wide exports differ only in the character type; each is a one-line wrapper.
#define UWSK_STRSAFE_FAMILY(X, C, PS, PC, CAST)                                                    \
  extern "C" NTSTATUS NTAPI RtlStringCchCopy##X(PS pszDest, size_t cchDest, PC pszSrc) {           \
    return string_op(CAST(pszDest), cchDest, CAST(pszSrc), max_cch, Mode::copy, false, 0, nullptr, \
                     nullptr);                                                                     \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbCopy##X(PS pszDest, size_t cbDest, PC pszSrc) {             \
    return string_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszSrc), max_cch, Mode::copy, false,  \
                     0, nullptr, nullptr);                                                         \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchCopyEx##X(PS pszDest, size_t cchDest, PC pszSrc,           \
                                                  PS *ppszDestEnd, size_t *pcchRemaining,          \
                                                  STRSAFE_DWORD dwFlags) {                         \
    return string_op(CAST(pszDest), cchDest, CAST(pszSrc), max_cch, Mode::copy, true, dwFlags,     \
                     CAST(ppszDestEnd), pcchRemaining);                                            \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbCopyEx##X(PS pszDest, size_t cbDest, PC pszSrc,             \
                                                 PS *ppszDestEnd, size_t *pcbRemaining,            \
                                                 STRSAFE_DWORD dwFlags) {                          \
    size_t rem = 0;                                                                                \
    NTSTATUS s = string_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszSrc), max_cch, Mode::copy,   \
                           true, dwFlags, CAST(ppszDestEnd), &rem);                                \
    if (NT_SUCCESS(s) || s == STATUS_BUFFER_OVERFLOW)                                              \
      cb_remaining<C>(pcbRemaining, rem, cbDest);                                                  \
    return s;                                                                                      \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchCopyN##X(PS pszDest, size_t cchDest, PC pszSrc,            \
                                                 size_t cchToCopy) {                               \
    return string_op(CAST(pszDest), cchDest, CAST(pszSrc), cchToCopy, Mode::copy, false, 0,        \
                     nullptr, nullptr);                                                            \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbCopyN##X(PS pszDest, size_t cbDest, PC pszSrc,              \
                                                size_t cbToCopy) {                                 \
    return string_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszSrc), cbToCopy / sizeof(C),        \
                     Mode::copy, false, 0, nullptr, nullptr);                                      \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchCopyNEx##X(PS pszDest, size_t cchDest, PC pszSrc,          \
                                                   size_t cchToCopy, PS *ppszDestEnd,              \
                                                   size_t *pcchRemaining, STRSAFE_DWORD dwFlags) { \
    return string_op(CAST(pszDest), cchDest, CAST(pszSrc), cchToCopy, Mode::copy, true, dwFlags,   \
                     CAST(ppszDestEnd), pcchRemaining);                                            \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbCopyNEx##X(PS pszDest, size_t cbDest, PC pszSrc,            \
                                                  size_t cbToCopy, PS *ppszDestEnd,                \
                                                  size_t *pcbRemaining, STRSAFE_DWORD dwFlags) {   \
    size_t rem = 0;                                                                                \
    NTSTATUS s = string_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszSrc), cbToCopy / sizeof(C),  \
                           Mode::copy, true, dwFlags, CAST(ppszDestEnd), &rem);                    \
    if (NT_SUCCESS(s) || s == STATUS_BUFFER_OVERFLOW)                                              \
      cb_remaining<C>(pcbRemaining, rem, cbDest);                                                  \
    return s;                                                                                      \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchCat##X(PS pszDest, size_t cchDest, PC pszSrc) {            \
    return string_op(CAST(pszDest), cchDest, CAST(pszSrc), max_cch, Mode::cat, false, 0, nullptr,  \
                     nullptr);                                                                     \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbCat##X(PS pszDest, size_t cbDest, PC pszSrc) {              \
    return string_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszSrc), max_cch, Mode::cat, false,   \
                     0, nullptr, nullptr);                                                         \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchCatEx##X(PS pszDest, size_t cchDest, PC pszSrc,            \
                                                 PS *ppszDestEnd, size_t *pcchRemaining,           \
                                                 STRSAFE_DWORD dwFlags) {                          \
    return string_op(CAST(pszDest), cchDest, CAST(pszSrc), max_cch, Mode::cat, true, dwFlags,      \
                     CAST(ppszDestEnd), pcchRemaining);                                            \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbCatEx##X(PS pszDest, size_t cbDest, PC pszSrc,              \
                                                PS *ppszDestEnd, size_t *pcbRemaining,             \
                                                STRSAFE_DWORD dwFlags) {                           \
    size_t rem = 0;                                                                                \
    NTSTATUS s = string_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszSrc), max_cch, Mode::cat,    \
                           true, dwFlags, CAST(ppszDestEnd), &rem);                                \
    if (NT_SUCCESS(s) || s == STATUS_BUFFER_OVERFLOW)                                              \
      cb_remaining<C>(pcbRemaining, rem, cbDest);                                                  \
    return s;                                                                                      \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchCatN##X(PS pszDest, size_t cchDest, PC pszSrc,             \
                                                size_t cchToAppend) {                              \
    return string_op(CAST(pszDest), cchDest, CAST(pszSrc), cchToAppend, Mode::cat, false, 0,       \
                     nullptr, nullptr);                                                            \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbCatN##X(PS pszDest, size_t cbDest, PC pszSrc,               \
                                               size_t cbToAppend) {                                \
    return string_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszSrc), cbToAppend / sizeof(C),      \
                     Mode::cat, false, 0, nullptr, nullptr);                                       \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchCatNEx##X(PS pszDest, size_t cchDest, PC pszSrc,           \
                                                  size_t cchToAppend, PS *ppszDestEnd,             \
                                                  size_t *pcchRemaining, STRSAFE_DWORD dwFlags) {  \
    return string_op(CAST(pszDest), cchDest, CAST(pszSrc), cchToAppend, Mode::cat, true, dwFlags,  \
                     CAST(ppszDestEnd), pcchRemaining);                                            \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbCatNEx##X(PS pszDest, size_t cbDest, PC pszSrc,             \
                                                 size_t cbToAppend, PS *ppszDestEnd,               \
                                                 size_t *pcbRemaining, STRSAFE_DWORD dwFlags) {    \
    size_t rem = 0;                                                                                \
    NTSTATUS s =                                                                                   \
        string_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszSrc), cbToAppend / sizeof(C),         \
                  Mode::cat, true, dwFlags, CAST(ppszDestEnd), &rem);                              \
    if (NT_SUCCESS(s) || s == STATUS_BUFFER_OVERFLOW)                                              \
      cb_remaining<C>(pcbRemaining, rem, cbDest);                                                  \
    return s;                                                                                      \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchVPrintf##X(PS pszDest, size_t cchDest, PC pszFormat,       \
                                                   va_list argList) {                              \
    return printf_op(CAST(pszDest), cchDest, CAST(pszFormat), argList, false, 0, nullptr,          \
                     nullptr);                                                                     \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbVPrintf##X(PS pszDest, size_t cbDest, PC pszFormat,         \
                                                  va_list argList) {                               \
    return printf_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszFormat), argList, false, 0,        \
                     nullptr, nullptr);                                                            \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchPrintf##X(PS pszDest, size_t cchDest, PC pszFormat, ...) { \
    va_list ap;                                                                                    \
    va_start(ap, pszFormat);                                                                       \
    NTSTATUS s =                                                                                   \
        printf_op(CAST(pszDest), cchDest, CAST(pszFormat), ap, false, 0, nullptr, nullptr);        \
    va_end(ap);                                                                                    \
    return s;                                                                                      \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbPrintf##X(PS pszDest, size_t cbDest, PC pszFormat, ...) {   \
    va_list ap;                                                                                    \
    va_start(ap, pszFormat);                                                                       \
    NTSTATUS s = printf_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszFormat), ap, false, 0,       \
                           nullptr, nullptr);                                                      \
    va_end(ap);                                                                                    \
    return s;                                                                                      \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchVPrintfEx##X(PS pszDest, size_t cchDest, PS *ppszDestEnd,  \
                                                     size_t *pcchRemaining, STRSAFE_DWORD dwFlags, \
                                                     PC pszFormat, va_list argList) {              \
    return printf_op(CAST(pszDest), cchDest, CAST(pszFormat), argList, true, dwFlags,              \
                     CAST(ppszDestEnd), pcchRemaining);                                            \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbVPrintfEx##X(PS pszDest, size_t cbDest, PS *ppszDestEnd,    \
                                                    size_t *pcbRemaining, STRSAFE_DWORD dwFlags,   \
                                                    PC pszFormat, va_list argList) {               \
    size_t rem = 0;                                                                                \
    NTSTATUS s = printf_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszFormat), argList, true,      \
                           dwFlags, CAST(ppszDestEnd), &rem);                                      \
    if (NT_SUCCESS(s) || s == STATUS_BUFFER_OVERFLOW)                                              \
      cb_remaining<C>(pcbRemaining, rem, cbDest);                                                  \
    return s;                                                                                      \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchPrintfEx##X(PS pszDest, size_t cchDest, PS *ppszDestEnd,   \
                                                    size_t *pcchRemaining, STRSAFE_DWORD dwFlags,  \
                                                    PC pszFormat, ...) {                           \
    va_list ap;                                                                                    \
    va_start(ap, pszFormat);                                                                       \
    NTSTATUS s = printf_op(CAST(pszDest), cchDest, CAST(pszFormat), ap, true, dwFlags,             \
                           CAST(ppszDestEnd), pcchRemaining);                                      \
    va_end(ap);                                                                                    \
    return s;                                                                                      \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbPrintfEx##X(PS pszDest, size_t cbDest, PS *ppszDestEnd,     \
                                                   size_t *pcbRemaining, STRSAFE_DWORD dwFlags,    \
                                                   PC pszFormat, ...) {                            \
    va_list ap;                                                                                    \
    va_start(ap, pszFormat);                                                                       \
    size_t rem = 0;                                                                                \
    NTSTATUS s = printf_op(CAST(pszDest), cbDest / sizeof(C), CAST(pszFormat), ap, true, dwFlags,  \
                           CAST(ppszDestEnd), &rem);                                               \
    va_end(ap);                                                                                    \
    if (NT_SUCCESS(s) || s == STATUS_BUFFER_OVERFLOW)                                              \
      cb_remaining<C>(pcbRemaining, rem, cbDest);                                                  \
    return s;                                                                                      \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCchLength##X(PC psz, size_t cchMax, size_t *pcchLength) {     \
    return length_op(CAST(psz), cchMax, pcchLength);                                               \
  }                                                                                                \
  extern "C" NTSTATUS NTAPI RtlStringCbLength##X(PC psz, size_t cbMax, size_t *pcbLength) {        \
    size_t cch = 0;                                                                                \
    NTSTATUS s = cbMax / sizeof(C) > max_cch ? STATUS_INVALID_PARAMETER                            \
                                             : length_op(CAST(psz), cbMax / sizeof(C), &cch);      \
    if (pcbLength != nullptr)                                                                      \
      *pcbLength = NT_SUCCESS(s) ? cch * sizeof(C) : 0;                                            \
    return s;                                                                                      \
  }

#define UWSK_SAME(x) (x)
UWSK_STRSAFE_FAMILY(A, char, NTSTRSAFE_PSTR, NTSTRSAFE_PCSTR, UWSK_SAME)
UWSK_STRSAFE_FAMILY(W, Wide, NTSTRSAFE_PWSTR, NTSTRSAFE_PCWSTR, W)

// RtlUnalignedStringCchLengthW: RtlStringCchLengthW (alignment does not matter on x64).
extern "C" NTSTATUS NTAPI RtlUnalignedStringCchLengthW(NTSTRSAFE_PCUWSTR psz, size_t cchMax,
                                                       size_t *pcchLength) {
  return RtlStringCchLengthW(psz, cchMax, pcchLength);
}

// RtlUnalignedStringCbLengthW: RtlStringCbLengthW (alignment does not matter on x64).
extern "C" NTSTATUS NTAPI RtlUnalignedStringCbLengthW(NTSTRSAFE_PCUWSTR psz, size_t cbMax,
                                                      size_t *pcbLength) {
  return RtlStringCbLengthW(psz, cbMax, pcbLength);
}

// RtlUnicodeStringInit: points a UNICODE_STRING at a NUL-terminated string of at most
// NTSTRSAFE_UNICODE_STRING_MAX_CCH - 1 characters.
extern "C" NTSTATUS NTAPI RtlUnicodeStringInit(PUNICODE_STRING DestinationString,
                                               NTSTRSAFE_PCWSTR pszSrc) {
  return RtlUnicodeStringInitEx(DestinationString, pszSrc, 0);
}

// RtlUnicodeStringInitEx: RtlUnicodeStringInit; STRSAFE_IGNORE_NULLS is the only flag.
extern "C" NTSTATUS NTAPI RtlUnicodeStringInitEx(PUNICODE_STRING DestinationString,
                                                 NTSTRSAFE_PCWSTR pszSrc, STRSAFE_DWORD dwFlags) {
  if (DestinationString == nullptr || (dwFlags & ~static_cast<ULONG>(STRSAFE_IGNORE_NULLS)) != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  DestinationString->Length = DestinationString->MaximumLength = 0;
  DestinationString->Buffer = const_cast<PWSTR>(pszSrc);
  if (pszSrc == nullptr) {
    return STATUS_SUCCESS;
  }
  size_t n = 0;
  while (n < ustr_max_cch && pszSrc[n] != 0) {
    ++n;
  }
  if (n == ustr_max_cch) {
    return STATUS_INVALID_PARAMETER;
  }
  DestinationString->Length = static_cast<USHORT>(n * sizeof(WCHAR));
  DestinationString->MaximumLength = static_cast<USHORT>((n + 1) * sizeof(WCHAR));
  return STATUS_SUCCESS;
}

// RtlUnicodeStringValidate: checks a UNICODE_STRING's lengths and buffer.
extern "C" NTSTATUS NTAPI RtlUnicodeStringValidate(PCUNICODE_STRING SourceString) {
  return SourceString != nullptr && valid_counted(SourceString) ? STATUS_SUCCESS
                                                                : STATUS_INVALID_PARAMETER;
}

// RtlUnicodeStringValidateEx: RtlUnicodeStringValidate; NULL passes with STRSAFE_IGNORE_NULLS.
extern "C" NTSTATUS NTAPI RtlUnicodeStringValidateEx(PCUNICODE_STRING SourceString,
                                                     STRSAFE_DWORD dwFlags) {
  if ((dwFlags & ~static_cast<ULONG>(STRSAFE_IGNORE_NULLS)) != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  if (SourceString == nullptr) {
    return (dwFlags & STRSAFE_IGNORE_NULLS) != 0 ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
  }
  return valid_counted(SourceString) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

// RtlStringCchCopyUnicodeString: UNICODE_STRING into a NUL-terminated buffer.
extern "C" NTSTATUS NTAPI RtlStringCchCopyUnicodeString(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                                        PCUNICODE_STRING SourceString) {
  return string_from_ustr(pszDest, cchDest, SourceString, Mode::copy, false, 0, nullptr, nullptr);
}

// RtlStringCbCopyUnicodeString: byte-counted RtlStringCchCopyUnicodeString.
extern "C" NTSTATUS NTAPI RtlStringCbCopyUnicodeString(NTSTRSAFE_PWSTR pszDest, size_t cbDest,
                                                       PCUNICODE_STRING SourceString) {
  return string_from_ustr(pszDest, cbDest / sizeof(WCHAR), SourceString, Mode::copy, false, 0,
                          nullptr, nullptr);
}

// RtlStringCchCopyUnicodeStringEx: RtlStringCchCopyUnicodeString with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlStringCchCopyUnicodeStringEx(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                                          PCUNICODE_STRING SourceString,
                                                          NTSTRSAFE_PWSTR *ppszDestEnd,
                                                          size_t *pcchRemaining,
                                                          STRSAFE_DWORD dwFlags) {
  return string_from_ustr(pszDest, cchDest, SourceString, Mode::copy, true, dwFlags, ppszDestEnd,
                          pcchRemaining);
}

// RtlStringCbCopyUnicodeStringEx: byte-counted RtlStringCchCopyUnicodeStringEx.
extern "C" NTSTATUS NTAPI RtlStringCbCopyUnicodeStringEx(NTSTRSAFE_PWSTR pszDest, size_t cbDest,
                                                         PCUNICODE_STRING SourceString,
                                                         NTSTRSAFE_PWSTR *ppszDestEnd,
                                                         size_t *pcbRemaining,
                                                         STRSAFE_DWORD dwFlags) {
  size_t rem = 0;
  NTSTATUS s = string_from_ustr(pszDest, cbDest / sizeof(WCHAR), SourceString, Mode::copy, true,
                                dwFlags, ppszDestEnd, &rem);
  if (NT_SUCCESS(s) || s == STATUS_BUFFER_OVERFLOW) {
    cb_remaining<Wide>(pcbRemaining, rem, cbDest);
  }
  return s;
}

// RtlStringCchCatUnicodeString: appends a UNICODE_STRING to a NUL-terminated buffer.
extern "C" NTSTATUS NTAPI RtlStringCchCatUnicodeString(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                                       PCUNICODE_STRING SourceString) {
  return string_from_ustr(pszDest, cchDest, SourceString, Mode::cat, false, 0, nullptr, nullptr);
}

// RtlStringCbCatUnicodeString: byte-counted RtlStringCchCatUnicodeString.
extern "C" NTSTATUS NTAPI RtlStringCbCatUnicodeString(NTSTRSAFE_PWSTR pszDest, size_t cbDest,
                                                      PCUNICODE_STRING SourceString) {
  return string_from_ustr(pszDest, cbDest / sizeof(WCHAR), SourceString, Mode::cat, false, 0,
                          nullptr, nullptr);
}

// RtlStringCchCatUnicodeStringEx: RtlStringCchCatUnicodeString with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlStringCchCatUnicodeStringEx(NTSTRSAFE_PWSTR pszDest, size_t cchDest,
                                                         PCUNICODE_STRING SourceString,
                                                         NTSTRSAFE_PWSTR *ppszDestEnd,
                                                         size_t *pcchRemaining,
                                                         STRSAFE_DWORD dwFlags) {
  return string_from_ustr(pszDest, cchDest, SourceString, Mode::cat, true, dwFlags, ppszDestEnd,
                          pcchRemaining);
}

// RtlStringCbCatUnicodeStringEx: byte-counted RtlStringCchCatUnicodeStringEx.
extern "C" NTSTATUS NTAPI RtlStringCbCatUnicodeStringEx(NTSTRSAFE_PWSTR pszDest, size_t cbDest,
                                                        PCUNICODE_STRING SourceString,
                                                        NTSTRSAFE_PWSTR *ppszDestEnd,
                                                        size_t *pcbRemaining,
                                                        STRSAFE_DWORD dwFlags) {
  size_t rem = 0;
  NTSTATUS s = string_from_ustr(pszDest, cbDest / sizeof(WCHAR), SourceString, Mode::cat, true,
                                dwFlags, ppszDestEnd, &rem);
  if (NT_SUCCESS(s) || s == STATUS_BUFFER_OVERFLOW) {
    cb_remaining<Wide>(pcbRemaining, rem, cbDest);
  }
  return s;
}

// RtlUnicodeStringCopyString: copies a NUL-terminated string into a UNICODE_STRING.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCopyString(PUNICODE_STRING DestinationString,
                                                     NTSTRSAFE_PCWSTR pszSrc) {
  return ustr_from_string(DestinationString, pszSrc, ustr_max_cch, Mode::copy, false, 0, nullptr);
}

// RtlUnicodeStringCopy: copies one UNICODE_STRING into another.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCopy(PUNICODE_STRING DestinationString,
                                               PCUNICODE_STRING SourceString) {
  return ustr_from_ustr(DestinationString, SourceString, ustr_max_cch, Mode::copy, false, 0,
                        nullptr);
}

// RtlUnicodeStringCopyStringEx: RtlUnicodeStringCopyString with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCopyStringEx(PUNICODE_STRING DestinationString,
                                                       NTSTRSAFE_PCWSTR pszSrc,
                                                       PUNICODE_STRING RemainingString,
                                                       STRSAFE_DWORD dwFlags) {
  return ustr_from_string(DestinationString, pszSrc, ustr_max_cch, Mode::copy, true, dwFlags,
                          RemainingString);
}

// RtlUnicodeStringCopyEx: RtlUnicodeStringCopy with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCopyEx(PUNICODE_STRING DestinationString,
                                                 PCUNICODE_STRING SourceString,
                                                 PUNICODE_STRING RemainingString,
                                                 STRSAFE_DWORD dwFlags) {
  return ustr_from_ustr(DestinationString, SourceString, ustr_max_cch, Mode::copy, true, dwFlags,
                        RemainingString);
}

// RtlUnicodeStringCchCopyStringN: copies at most cchToCopy characters of a string.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCchCopyStringN(PUNICODE_STRING DestinationString,
                                                         NTSTRSAFE_PCWSTR pszSrc,
                                                         size_t cchToCopy) {
  return ustr_from_string(DestinationString, pszSrc, cchToCopy, Mode::copy, false, 0, nullptr);
}

// RtlUnicodeStringCbCopyStringN: byte-counted RtlUnicodeStringCchCopyStringN.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCbCopyStringN(PUNICODE_STRING DestinationString,
                                                        NTSTRSAFE_PCWSTR pszSrc, size_t cbToCopy) {
  return ustr_from_string(DestinationString, pszSrc, cbToCopy / sizeof(WCHAR), Mode::copy, false, 0,
                          nullptr);
}

// RtlUnicodeStringCchCopyN: copies at most cchToCopy characters of a UNICODE_STRING.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCchCopyN(PUNICODE_STRING DestinationString,
                                                   PCUNICODE_STRING SourceString,
                                                   size_t cchToCopy) {
  return ustr_from_ustr(DestinationString, SourceString, cchToCopy, Mode::copy, false, 0, nullptr);
}

// RtlUnicodeStringCbCopyN: byte-counted RtlUnicodeStringCchCopyN.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCbCopyN(PUNICODE_STRING DestinationString,
                                                  PCUNICODE_STRING SourceString, size_t cbToCopy) {
  return ustr_from_ustr(DestinationString, SourceString, cbToCopy / sizeof(WCHAR), Mode::copy,
                        false, 0, nullptr);
}

// RtlUnicodeStringCchCopyStringNEx: RtlUnicodeStringCchCopyStringN with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCchCopyStringNEx(PUNICODE_STRING DestinationString,
                                                           NTSTRSAFE_PCWSTR pszSrc,
                                                           size_t cchToCopy,
                                                           PUNICODE_STRING RemainingString,
                                                           STRSAFE_DWORD dwFlags) {
  return ustr_from_string(DestinationString, pszSrc, cchToCopy, Mode::copy, true, dwFlags,
                          RemainingString);
}

// RtlUnicodeStringCbCopyStringNEx: byte-counted RtlUnicodeStringCchCopyStringNEx.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCbCopyStringNEx(PUNICODE_STRING DestinationString,
                                                          NTSTRSAFE_PCWSTR pszSrc, size_t cbToCopy,
                                                          PUNICODE_STRING RemainingString,
                                                          STRSAFE_DWORD dwFlags) {
  return ustr_from_string(DestinationString, pszSrc, cbToCopy / sizeof(WCHAR), Mode::copy, true,
                          dwFlags, RemainingString);
}

// RtlUnicodeStringCchCopyNEx: RtlUnicodeStringCchCopyN with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCchCopyNEx(PUNICODE_STRING DestinationString,
                                                     PCUNICODE_STRING SourceString,
                                                     size_t cchToCopy,
                                                     PUNICODE_STRING RemainingString,
                                                     STRSAFE_DWORD dwFlags) {
  return ustr_from_ustr(DestinationString, SourceString, cchToCopy, Mode::copy, true, dwFlags,
                        RemainingString);
}

// RtlUnicodeStringCbCopyNEx: byte-counted RtlUnicodeStringCchCopyNEx.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCbCopyNEx(PUNICODE_STRING DestinationString,
                                                    PCUNICODE_STRING SourceString, size_t cbToCopy,
                                                    PUNICODE_STRING RemainingString,
                                                    STRSAFE_DWORD dwFlags) {
  return ustr_from_ustr(DestinationString, SourceString, cbToCopy / sizeof(WCHAR), Mode::copy, true,
                        dwFlags, RemainingString);
}

// RtlUnicodeStringCatString: appends a NUL-terminated string to a UNICODE_STRING.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCatString(PUNICODE_STRING DestinationString,
                                                    NTSTRSAFE_PCWSTR pszSrc) {
  return ustr_from_string(DestinationString, pszSrc, ustr_max_cch, Mode::cat, false, 0, nullptr);
}

// RtlUnicodeStringCat: appends one UNICODE_STRING to another.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCat(PUNICODE_STRING DestinationString,
                                              PCUNICODE_STRING SourceString) {
  return ustr_from_ustr(DestinationString, SourceString, ustr_max_cch, Mode::cat, false, 0,
                        nullptr);
}

// RtlUnicodeStringCatStringEx: RtlUnicodeStringCatString with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCatStringEx(PUNICODE_STRING DestinationString,
                                                      NTSTRSAFE_PCWSTR pszSrc,
                                                      PUNICODE_STRING RemainingString,
                                                      STRSAFE_DWORD dwFlags) {
  return ustr_from_string(DestinationString, pszSrc, ustr_max_cch, Mode::cat, true, dwFlags,
                          RemainingString);
}

// RtlUnicodeStringCatEx: RtlUnicodeStringCat with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCatEx(PUNICODE_STRING DestinationString,
                                                PCUNICODE_STRING SourceString,
                                                PUNICODE_STRING RemainingString,
                                                STRSAFE_DWORD dwFlags) {
  return ustr_from_ustr(DestinationString, SourceString, ustr_max_cch, Mode::cat, true, dwFlags,
                        RemainingString);
}

// RtlUnicodeStringCchCatStringN: appends at most cchToAppend characters of a string.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCchCatStringN(PUNICODE_STRING DestinationString,
                                                        NTSTRSAFE_PCWSTR pszSrc,
                                                        size_t cchToAppend) {
  return ustr_from_string(DestinationString, pszSrc, cchToAppend, Mode::cat, false, 0, nullptr);
}

// RtlUnicodeStringCbCatStringN: byte-counted RtlUnicodeStringCchCatStringN.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCbCatStringN(PUNICODE_STRING DestinationString,
                                                       NTSTRSAFE_PCWSTR pszSrc, size_t cbToAppend) {
  return ustr_from_string(DestinationString, pszSrc, cbToAppend / sizeof(WCHAR), Mode::cat, false,
                          0, nullptr);
}

// RtlUnicodeStringCchCatN: appends at most cchToAppend characters of a UNICODE_STRING.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCchCatN(PUNICODE_STRING DestinationString,
                                                  PCUNICODE_STRING SourceString,
                                                  size_t cchToAppend) {
  return ustr_from_ustr(DestinationString, SourceString, cchToAppend, Mode::cat, false, 0, nullptr);
}

// RtlUnicodeStringCbCatN: byte-counted RtlUnicodeStringCchCatN.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCbCatN(PUNICODE_STRING DestinationString,
                                                 PCUNICODE_STRING SourceString, size_t cbToAppend) {
  return ustr_from_ustr(DestinationString, SourceString, cbToAppend / sizeof(WCHAR), Mode::cat,
                        false, 0, nullptr);
}

// RtlUnicodeStringCchCatStringNEx: RtlUnicodeStringCchCatStringN with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCchCatStringNEx(PUNICODE_STRING DestinationString,
                                                          NTSTRSAFE_PCWSTR pszSrc,
                                                          size_t cchToAppend,
                                                          PUNICODE_STRING RemainingString,
                                                          STRSAFE_DWORD dwFlags) {
  return ustr_from_string(DestinationString, pszSrc, cchToAppend, Mode::cat, true, dwFlags,
                          RemainingString);
}

// RtlUnicodeStringCbCatStringNEx: byte-counted RtlUnicodeStringCchCatStringNEx.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCbCatStringNEx(PUNICODE_STRING DestinationString,
                                                         NTSTRSAFE_PCWSTR pszSrc, size_t cbToAppend,
                                                         PUNICODE_STRING RemainingString,
                                                         STRSAFE_DWORD dwFlags) {
  return ustr_from_string(DestinationString, pszSrc, cbToAppend / sizeof(WCHAR), Mode::cat, true,
                          dwFlags, RemainingString);
}

// RtlUnicodeStringCchCatNEx: RtlUnicodeStringCchCatN with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCchCatNEx(PUNICODE_STRING DestinationString,
                                                    PCUNICODE_STRING SourceString,
                                                    size_t cchToAppend,
                                                    PUNICODE_STRING RemainingString,
                                                    STRSAFE_DWORD dwFlags) {
  return ustr_from_ustr(DestinationString, SourceString, cchToAppend, Mode::cat, true, dwFlags,
                        RemainingString);
}

// RtlUnicodeStringCbCatNEx: byte-counted RtlUnicodeStringCchCatNEx.
extern "C" NTSTATUS NTAPI RtlUnicodeStringCbCatNEx(PUNICODE_STRING DestinationString,
                                                   PCUNICODE_STRING SourceString, size_t cbToAppend,
                                                   PUNICODE_STRING RemainingString,
                                                   STRSAFE_DWORD dwFlags) {
  return ustr_from_ustr(DestinationString, SourceString, cbToAppend / sizeof(WCHAR), Mode::cat,
                        true, dwFlags, RemainingString);
}

// RtlUnicodeStringVPrintf: formats (W rules) into a UNICODE_STRING.
extern "C" NTSTATUS NTAPI RtlUnicodeStringVPrintf(PUNICODE_STRING DestinationString,
                                                  NTSTRSAFE_PCWSTR pszFormat, va_list argList) {
  return ustr_printf(DestinationString, pszFormat, argList, false, 0, nullptr);
}

// RtlUnicodeStringPrintf: formats (W rules) into a UNICODE_STRING.
extern "C" NTSTATUS NTAPI RtlUnicodeStringPrintf(PUNICODE_STRING DestinationString,
                                                 NTSTRSAFE_PCWSTR pszFormat, ...) {
  va_list ap;
  va_start(ap, pszFormat);
  NTSTATUS s = ustr_printf(DestinationString, pszFormat, ap, false, 0, nullptr);
  va_end(ap);
  return s;
}

// RtlUnicodeStringVPrintfEx: RtlUnicodeStringVPrintf with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlUnicodeStringVPrintfEx(PUNICODE_STRING DestinationString,
                                                    PUNICODE_STRING RemainingString,
                                                    STRSAFE_DWORD dwFlags,
                                                    NTSTRSAFE_PCWSTR pszFormat, va_list argList) {
  return ustr_printf(DestinationString, pszFormat, argList, true, dwFlags, RemainingString);
}

// RtlUnicodeStringPrintfEx: RtlUnicodeStringPrintf with STRSAFE_* flags.
extern "C" NTSTATUS NTAPI RtlUnicodeStringPrintfEx(PUNICODE_STRING DestinationString,
                                                   PUNICODE_STRING RemainingString,
                                                   STRSAFE_DWORD dwFlags,
                                                   NTSTRSAFE_PCWSTR pszFormat, ...) {
  va_list ap;
  va_start(ap, pszFormat);
  NTSTATUS s = ustr_printf(DestinationString, pszFormat, ap, true, dwFlags, RemainingString);
  va_end(ap);
  return s;
}

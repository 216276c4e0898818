// The Windows format engine (see format.hpp for the rules it follows).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

#include <ntdef.h>

#include "nt/dbg/format.hpp"
#include "nt/rtl/utf.hpp"

namespace uwsk::nt {
namespace {

// Widths and precisions are clamped so that a hostile format cannot make us emit gigabytes.
constexpr int max_field = 1 << 20;

// Wraps the copied va_list so that helpers can consume arguments through a reference.
struct ArgList {
  va_list ap;
};

enum class Length { none, hh, h, l, ll, w, I32, I64, I, z, t, j, L };

struct Spec {
  bool left = false;
  bool plus = false;
  bool space = false;
  bool alt = false;
  bool zero = false;
  int width = 0;
  int precision = -1; // -1: not given
  Length length = Length::none;
};

// Pointers into the first 64 KiB are never valid on Windows (or here): print "(null)".
bool bad_pointer(const void *p) {
  return reinterpret_cast<uintptr_t>(p) < 0x10000;
}

bool is_64bit(Length len) {
  switch (len) {
  case Length::ll:
  case Length::I64:
  case Length::I:
  case Length::z:
  case Length::t:
  case Length::j:
  case Length::L:
    return true;
  default:
    return false;
  }
}

template <typename CharT> class Engine {
public:
  static constexpr bool wide_format = std::is_same_v<CharT, char16_t>;

  Engine(FormatSink<CharT> &out, ArgList &args, FormatUse *use,
         const FormatExtension *extension = nullptr)
      : out_(out), args_(args), use_(use), extension_(extension) {}

  void run(const CharT *fmt) {
    while (*fmt != 0) {
      const CharT *run_start = fmt;
      if constexpr (wide_format) {
        while (*fmt != 0 && *fmt != '%') {
          ++fmt;
        }
      } else {
        fmt = strchrnul(fmt, '%'); // the literal text up to the next conversion, scanned by libc
      }
      if (fmt != run_start) {
        out_.put(run_start, static_cast<size_t>(fmt - run_start));
      }
      if (*fmt == 0) {
        break;
      }
      fmt = conversion(fmt);
    }
  }

private:
  // Handles one conversion starting at '%'; returns the position after it.
  const CharT *conversion(const CharT *start) {
    const CharT *p = start + 1;
    if constexpr (!wide_format) {
      if (*p == '!' && extension_ != nullptr) {
        const CharT *name_end = p + 1;
        while (*name_end != 0 && *name_end != '!') {
          ++name_end;
        }
        if (*name_end == '!' &&
            (*extension_)(std::string_view(p + 1, static_cast<size_t>(name_end - p - 1)), &args_.ap,
                          out_)) {
          return name_end + 1;
        }
      }
    }
    Spec spec;
    for (;; ++p) {
      if (*p == '-') {
        spec.left = true;
      } else if (*p == '+') {
        spec.plus = true;
      } else if (*p == ' ') {
        spec.space = true;
      } else if (*p == '#') {
        spec.alt = true;
      } else if (*p == '0') {
        spec.zero = true;
      } else {
        break;
      }
    }
    if (*p == '*') {
      int w = va_arg(args_.ap, int);
      if (w < 0) {
        spec.left = true;
        w = w == INT32_MIN ? max_field : -w;
      }
      spec.width = w > max_field ? max_field : w;
      ++p;
    } else {
      p = number(p, spec.width);
    }
    if (*p == '.') {
      ++p;
      if (*p == '*') {
        int prec = va_arg(args_.ap, int);
        spec.precision = prec < 0 ? -1 : (prec > max_field ? max_field : prec);
        ++p;
      } else {
        p = number(p, spec.precision);
      }
    }
    p = length(p, spec.length);
    CharT conv = *p;
    if (conv == 0) {
      // The format ends inside a conversion: copy what there is and stop.
      out_.put(start, static_cast<size_t>(p - start));
      return p;
    }
    switch (conv) {
    case 'd':
    case 'i':
      integer(spec, true, 10, false);
      break;
    case 'u':
      integer(spec, false, 10, false);
      break;
    case 'o':
      integer(spec, false, 8, false);
      break;
    case 'x':
      integer(spec, false, 16, false);
      break;
    case 'X':
      integer(spec, false, 16, true);
      break;
    case 'p':
      pointer(spec);
      break;
    case 'c':
    case 'C':
      character(spec, wide_argument(spec, conv == 'C'));
      break;
    case 's':
    case 'S':
      string(spec, wide_argument(spec, conv == 'S'));
      break;
    case 'Z':
      counted_string(spec, wide_argument(spec, false));
      break;
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
    case 'a':
    case 'A':
      floating(spec, static_cast<char>(conv));
      break;
    case 'n':
      // Refused, as the Windows kernel formatter does: nothing is written through the pointer.
      (void)va_arg(args_.ap, void *);
      if (use_ != nullptr) {
        use_->n_conversion = true;
      }
      break;
    case '%': {
      const CharT percent = '%';
      out_.put(&percent, 1);
      break;
    }
    default:
      out_.put(start, static_cast<size_t>(p + 1 - start));
      break;
    }
    return p + 1;
  }

  // Parses decimal digits (clamped) into `target`; no digits give 0.
  const CharT *number(const CharT *p, int &target) {
    long long value = 0;
    while (*p >= '0' && *p <= '9') {
      if (value < max_field) {
        value = value * 10 + (*p - '0');
      }
      ++p;
    }
    target = static_cast<int>(value > max_field ? max_field : value);
    return p;
  }

  // A length modifier at `p`, the longest that matches (hh before h, ll before l, I64 and I32
  // before I).
  const CharT *length(const CharT *p, Length &len) {
    if ((*p == 'h' || *p == 'l') && p[1] == *p) {
      len = *p == 'h' ? Length::hh : Length::ll;
      return p + 2;
    }
    // At the format's end p[1] is its NUL, which stops the comparison before p[2].
    if (*p == 'I' && ((p[1] == '6' && p[2] == '4') || (p[1] == '3' && p[2] == '2'))) {
      len = p[1] == '6' ? Length::I64 : Length::I32;
      return p + 3;
    }
    switch (*p) {
    case 'h':
      len = Length::h;
      break;
    case 'l':
      len = Length::l;
      break;
    case 'w':
      len = Length::w;
      break;
    case 'L':
      len = Length::L;
      break;
    case 'z':
      len = Length::z;
      break;
    case 't':
      len = Length::t;
      break;
    case 'j':
      len = Length::j;
      break;
    case 'I':
      len = Length::I;
      break;
    default:
      return p; // no modifier, the usual case
    }
    return p + 1;
  }

  // Whether a c/s/Z argument is wide: h forces narrow, l and w force wide, otherwise the
  // lower-case conversions match the format's own width and the upper-case ones the other.
  bool wide_argument(const Spec &spec, bool upper) {
    bool wide;
    if (spec.length == Length::h || spec.length == Length::hh) {
      wide = false;
    } else if (spec.length == Length::l || spec.length == Length::w) {
      wide = true;
    } else {
      wide = upper ? !wide_format : wide_format;
    }
    if (wide && use_ != nullptr) {
      use_->wide_argument = true;
    }
    return wide;
  }

  void put_ascii(const char *s, size_t n) {
    if (n == 0) {
      return; // an empty sign or prefix: no call into the sink
    }
    if constexpr (wide_format) {
      char16_t buf[64];
      while (n > 0) {
        size_t chunk = n < 64 ? n : 64;
        for (size_t i = 0; i < chunk; ++i) {
          buf[i] = static_cast<unsigned char>(s[i]);
        }
        out_.put(buf, chunk);
        s += chunk;
        n -= chunk;
      }
    } else {
      out_.put(s, n);
    }
  }

  void put_fill(char c, long n) {
    if (n <= 0) {
      return; // the usual case: no padding
    }
    char buf[64];
    std::memset(buf, c, sizeof buf);
    while (n > 0) {
      size_t chunk = n < 64 ? static_cast<size_t>(n) : 64;
      put_ascii(buf, chunk);
      n -= static_cast<long>(chunk);
    }
  }

  // Narrow source text: copied to narrow output, decoded as UTF-8 for wide output.
  void put_narrow(const char *s, size_t n) {
    if constexpr (wide_format) {
      utf::transcode(s, n, [this](const char16_t *units, size_t count) { out_.put(units, count); });
    } else {
      out_.put(s, n);
    }
  }

  // Wide source text: copied to wide output, encoded as UTF-8 for narrow output.
  void put_wide(const char16_t *s, size_t n) {
    if constexpr (wide_format) {
      out_.put(s, n);
    } else {
      utf::transcode(s, n, [this](const char *units, size_t count) { out_.put(units, count); });
    }
  }

  template <typename Emit> void padded(const Spec &spec, size_t length, Emit emit) {
    long pad = spec.width > static_cast<long>(length) ? spec.width - static_cast<long>(length) : 0;
    if (!spec.left) {
      put_fill(' ', pad);
    }
    emit();
    if (spec.left) {
      put_fill(' ', pad);
    }
  }

  void integer(const Spec &spec, bool is_signed, unsigned base, bool upper) {
    uint64_t magnitude;
    bool negative = false;
    if (is_signed) {
      int64_t v;
      if (is_64bit(spec.length)) {
        v = va_arg(args_.ap, long long);
      } else {
        int i = va_arg(args_.ap, int);
        v = spec.length == Length::hh  ? static_cast<signed char>(i)
            : spec.length == Length::h ? static_cast<short>(i)
                                       : i;
      }
      negative = v < 0;
      magnitude = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    } else if (is_64bit(spec.length)) {
      magnitude = va_arg(args_.ap, unsigned long long);
    } else {
      unsigned u = va_arg(args_.ap, unsigned);
      magnitude = spec.length == Length::hh  ? static_cast<unsigned char>(u)
                  : spec.length == Length::h ? static_cast<unsigned short>(u)
                                             : u;
    }

    char digits[24];
    size_t ndigits = 0;
    if (base == 10) {
      // A constant divisor: the compiler multiplies instead of dividing, per digit.
      for (uint64_t v = magnitude; v != 0; v /= 10) {
        digits[sizeof digits - 1 - ndigits++] = static_cast<char>('0' + v % 10);
      }
    } else {
      const char *alphabet = upper ? "0123456789ABCDEF" : "0123456789abcdef";
      for (uint64_t v = magnitude; v != 0; v /= base) {
        digits[sizeof digits - 1 - ndigits++] = alphabet[v % base];
      }
    }
    if (ndigits == 0 && spec.precision != 0) {
      digits[sizeof digits - 1] = '0';
      ndigits = 1;
    }
    const char *first_digit = digits + sizeof digits - ndigits;

    char prefix[2];
    size_t nprefix = 0;
    if (is_signed) {
      if (negative) {
        prefix[nprefix++] = '-';
      } else if (spec.plus) {
        prefix[nprefix++] = '+';
      } else if (spec.space) {
        prefix[nprefix++] = ' ';
      }
    }
    if (spec.alt && base == 16 && magnitude != 0) {
      prefix[nprefix++] = '0';
      prefix[nprefix++] = upper ? 'X' : 'x';
    }
    long zeros = spec.precision > static_cast<int>(ndigits)
                     ? spec.precision - static_cast<long>(ndigits)
                     : 0;
    if (spec.alt && base == 8 && zeros == 0 && (ndigits == 0 || first_digit[0] != '0')) {
      zeros = 1;
    }
    long total = static_cast<long>(nprefix + ndigits) + zeros;
    if (spec.zero && !spec.left && spec.precision < 0 && spec.width > total) {
      zeros += spec.width - total;
      total = spec.width;
    }
    padded(spec, static_cast<size_t>(total), [&] {
      put_ascii(prefix, nprefix);
      put_fill('0', zeros);
      put_ascii(first_digit, ndigits);
    });
  }

  void pointer(const Spec &spec) {
    auto value = reinterpret_cast<uintptr_t>(va_arg(args_.ap, void *));
    char digits[16];
    for (int i = 15; i >= 0; --i) {
      digits[i] = "0123456789ABCDEF"[value & 0xF];
      value >>= 4;
    }
    padded(spec, sizeof digits, [&] { put_ascii(digits, sizeof digits); });
  }

  void character(const Spec &spec, bool wide) {
    int value = va_arg(args_.ap, int);
    if (wide) {
      char16_t c = static_cast<char16_t>(value);
      padded(spec, 1, [&] { put_wide(&c, 1); });
    } else {
      char c = static_cast<char>(value);
      padded(spec, 1, [&] { put_narrow(&c, 1); });
    }
  }

  void narrow_text(const Spec &spec, const char *s, size_t n) {
    if (spec.precision >= 0 && n > static_cast<size_t>(spec.precision)) {
      n = static_cast<size_t>(spec.precision);
    }
    padded(spec, n, [&] { put_narrow(s, n); });
  }

  void wide_text(const Spec &spec, const char16_t *s, size_t n) {
    if (spec.precision >= 0 && n >= static_cast<size_t>(spec.precision)) {
      n = static_cast<size_t>(spec.precision);
      // Do not split a surrogate pair at the cut (the unit after it is not read: the text may
      // not be terminated there).
      if (n > 0 && s[n - 1] >= 0xD800 && s[n - 1] <= 0xDBFF) {
        --n;
      }
    }
    padded(spec, n, [&] { put_wide(s, n); });
  }

  void null_text(const Spec &spec) { narrow_text(spec, "(null)", 6); }

  void string(const Spec &spec, bool wide) {
    if (wide) {
      const auto *s = va_arg(args_.ap, const char16_t *);
      if (bad_pointer(s)) {
        null_text(spec);
        return;
      }
      size_t n = 0;
      size_t limit = spec.precision >= 0 ? static_cast<size_t>(spec.precision) : SIZE_MAX;
      while (n < limit && s[n] != 0) {
        ++n;
      }
      wide_text(spec, s, n);
    } else {
      const auto *s = va_arg(args_.ap, const char *);
      if (bad_pointer(s)) {
        null_text(spec);
        return;
      }
      size_t n = spec.precision >= 0 ? strnlen(s, static_cast<size_t>(spec.precision)) : strlen(s);
      narrow_text(spec, s, n);
    }
  }

  void counted_string(const Spec &spec, bool wide) {
    if (wide) {
      const auto *us = va_arg(args_.ap, const UNICODE_STRING *);
      if (bad_pointer(us) || bad_pointer(us->Buffer)) {
        null_text(spec);
        return;
      }
      wide_text(spec, reinterpret_cast<const char16_t *>(us->Buffer), us->Length / sizeof(WCHAR));
    } else {
      const auto *as = va_arg(args_.ap, const ANSI_STRING *);
      if (bad_pointer(as) || bad_pointer(as->Buffer)) {
        null_text(spec);
        return;
      }
      narrow_text(spec, as->Buffer, as->Length);
    }
  }

  void floating(const Spec &spec, char conv) {
    if (use_ != nullptr) {
      use_->floating_point = true;
    }
    char f[32];
    size_t n = 0;
    f[n++] = '%';
    if (spec.left) {
      f[n++] = '-';
    }
    if (spec.plus) {
      f[n++] = '+';
    }
    if (spec.space) {
      f[n++] = ' ';
    }
    if (spec.alt) {
      f[n++] = '#';
    }
    if (spec.zero) {
      f[n++] = '0';
    }
    f[n++] = '*';
    f[n++] = '.';
    f[n++] = '*';
    bool long_double = spec.length == Length::L;
    if (long_double) {
      f[n++] = 'L';
    }
    f[n++] = conv;
    f[n] = '\0';
    int precision = spec.precision; // -1 lets the C library use its default of 6
    char small[128];
    std::vector<char> big;
    char *buf = small;
    int len;
    if (long_double) {
      long double v = va_arg(args_.ap, long double);
      len = snprintf(small, sizeof small, f, spec.width, precision, v);
      if (len >= static_cast<int>(sizeof small)) {
        big.resize(static_cast<size_t>(len) + 1);
        snprintf(big.data(), big.size(), f, spec.width, precision, v);
        buf = big.data();
      }
    } else {
      double v = va_arg(args_.ap, double);
      len = snprintf(small, sizeof small, f, spec.width, precision, v);
      if (len >= static_cast<int>(sizeof small)) {
        big.resize(static_cast<size_t>(len) + 1);
        snprintf(big.data(), big.size(), f, spec.width, precision, v);
        buf = big.data();
      }
    }
    if (len > 0) {
      put_ascii(buf, static_cast<size_t>(len));
    }
  }

  FormatSink<CharT> &out_;
  ArgList &args_;
  FormatUse *use_;
  const FormatExtension *extension_;
};

template <typename CharT> class StringSink final : public FormatSink<CharT> {
public:
  void put(const CharT *data, size_t count) override { text.append(data, count); }
  std::basic_string<CharT> text;
};

} // namespace

void format_windows(FormatSink<char> &out, const char *fmt, va_list ap, FormatUse *use) {
  if (fmt == nullptr) {
    return;
  }
  ArgList args;
  va_copy(args.ap, ap);
  Engine<char>(out, args, use).run(fmt);
  va_end(args.ap);
}

void format_windows(FormatSink<char16_t> &out, const char16_t *fmt, va_list ap, FormatUse *use) {
  if (fmt == nullptr) {
    return;
  }
  ArgList args;
  va_copy(args.ap, ap);
  Engine<char16_t>(out, args, use).run(fmt);
  va_end(args.ap);
}

void format_windows_extended(FormatSink<char> &out, const char *fmt, va_list *ap,
                             const FormatExtension &extension) {
  if (fmt == nullptr) {
    return;
  }
  ArgList args;
  va_copy(args.ap, *ap);
  Engine<char>(out, args, nullptr, &extension).run(fmt);
  // Hands the position reached back to the caller.
  va_end(*ap);
  va_copy(*ap, args.ap);
  va_end(args.ap);
}

std::string format_windows_string(const char *fmt, va_list ap, FormatUse *use) {
  StringSink<char> sink;
  format_windows(sink, fmt, ap, use);
  return std::move(sink.text);
}

std::u16string format_windows_u16string(const char16_t *fmt, va_list ap, FormatUse *use) {
  StringSink<char16_t> sink;
  format_windows(sink, fmt, ap, use);
  return std::move(sink.text);
}

} // namespace uwsk::nt

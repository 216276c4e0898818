// The Windows format engine behind DbgPrint, KdPrint and the ntstrsafe Printf functions.
//
// Rules (those of the Windows kernel's _vsnprintf and MSVC's printf family):
//   - flags - + space # 0, width and precision (either may be *), h hh l ll w I I32 I64 z t j L;
//   - integers are Windows-sized: %d %ld %lx consume a 32-bit int; %lld %I64d %Id %Iu %zu %p
//     consume 64 bits; %p prints 16 upper-case hex digits (00007FF6A1B2C3D0);
//   - strings: in a narrow format %s %hs %Z are narrow and %S %ls %ws %wZ are wide (UTF-16); in
//     a wide (UTF-16) format %s %ls %ws %Z %wZ are wide and %S %hs %hZ are narrow; %Z takes an
//     ANSI_STRING*, %wZ a UNICODE_STRING*; %c/%C likewise; NULL (or a pointer below 64 KiB)
//     prints "(null)"; precision counts source characters;
//   - wide text becomes UTF-8 in narrow output and narrow text is read as UTF-8 for wide output
//     (malformed units become U+FFFD);
//   - %e %f %g %a are formatted (user mode can), %n is refused: it consumes its pointer and
//     writes nothing; an unknown conversion is copied to the output as written.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace uwsk::nt {

// Receives the formatted output in pieces.
template <typename CharT> class FormatSink {
public:
  virtual void put(const CharT *data, size_t count) = 0;

protected:
  ~FormatSink() = default;
};

// What a format used, for the verifier's rule V85 (DbgPrint: wide formats only at
// PASSIVE_LEVEL, no floating point).
struct FormatUse {
  bool wide_argument = false;
  bool floating_point = false;
  bool n_conversion = false;
};

// Formats `fmt` with the arguments in `ap` (which is not consumed: the engine works on a copy).
void format_windows(FormatSink<char> &out, const char *fmt, va_list ap, FormatUse *use = nullptr);
void format_windows(FormatSink<char16_t> &out, const char16_t *fmt, va_list ap,
                    FormatUse *use = nullptr);

// Formats a conversion "%!NAME!" that the Windows rules do not know (WPP's %!STATUS! and the
// like): consumes its arguments from *ap, writes to `out`, and returns true; false copies the
// conversion to the output as written.
using FormatExtension =
    std::function<bool(std::string_view name, va_list *ap, FormatSink<char> &out)>;

// format_windows with `extension` for %!NAME! conversions, consuming the arguments it uses from
// *ap (which is left after the last one), so that several formats can share one argument list.
void format_windows_extended(FormatSink<char> &out, const char *fmt, va_list *ap,
                             const FormatExtension &extension);

// Convenience forms that return the whole result.
std::string format_windows_string(const char *fmt, va_list ap, FormatUse *use = nullptr);
std::u16string format_windows_u16string(const char16_t *fmt, va_list ap, FormatUse *use = nullptr);

} // namespace uwsk::nt

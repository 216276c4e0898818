// The verifier's report: a broken rule of docs/verifier.md named by its number, in a sentence,
// with the objects involved. Error rules (E) stop the process with a bug check; warning rules
// (W) are logged, and stop too in strict mode (uwsk-run --verify=strict, UWSK_VERIFY=strict,
// uwsk_verifier_set_strict).
#pragma once

#include <atomic>

#include <cstddef>

#include <wdm.h>

namespace uwsk::nt::verifier {

// Parameter 1 of the DRIVER_VERIFIER_DETECTED_VIOLATION bug check for rule Vn: 0x1600 plus the
// rule's number read as hex digits (V13 -> 0x1613, V84 -> 0x1684), as wsk/violations.hpp does.
constexpr ULONG_PTR rule_code(int rule) {
  return 0x1600 + static_cast<ULONG_PTR>((rule / 10) * 16 + rule % 10);
}

// Whether warnings stop the process as errors do.
bool strict();
void set_strict(bool on);

// Whether the verifier's bookkeeping is off (UWSK_VERIFY=off, uwsk-run --verify=off): no lists of
// live IRPs and pool blocks, no IRP submission checks (V10, V13, V17), no V18 record of pending
// IRPs' buffers, no quarantine of closed sockets (docs/verifier.md, "Turning the bookkeeping off").
// Read once, at the first call, so the mode holds for the whole process; later calls are one
// relaxed load.
bool read_bookkeeping_mode();
extern std::atomic<signed char> bookkeeping_mode; // -1 until read, then 0 (on) or 1 (off)
inline bool bookkeeping_off() {
  const signed char mode = bookkeeping_mode.load(std::memory_order_relaxed);
  return mode >= 0 ? mode != 0 : read_bookkeeping_mode();
}

// Rule `rule` (an E rule) was broken: logs "verifier: rule Vn (error): <sentence>", then the
// `objects` line when not NULL (the IRP, MDL, socket or pool block and where it was made), and
// bug checks with rule_code(rule) and p2, p3.
[[noreturn]] void error(int rule, const char *sentence, const char *objects = nullptr,
                        ULONG_PTR p2 = 0, ULONG_PTR p3 = 0);

// Rule `rule` (an E rule) was broken where Windows stops with a bug check of its own (V12:
// NO_MORE_IRP_STACK_LOCATIONS, V70: IRQL_NOT_LESS_OR_EQUAL): logs the rule as error() does, then
// bug checks with that `code` and its Windows parameters, so that both the rule and the code a
// Windows crash dump would show are in the report.
[[noreturn]] void error_bugcheck(int rule, const char *sentence, const char *objects, ULONG code,
                                 ULONG_PTR p1 = 0, ULONG_PTR p2 = 0, ULONG_PTR p3 = 0,
                                 ULONG_PTR p4 = 0);

// Rule `rule` (a W rule, or a rejection whose documented status the caller still returns) was
// broken: logs "verifier: rule Vn (warning): <sentence>" and the objects line, and in strict mode
// then stops as error() does.
void warning(int rule, const char *sentence, const char *objects = nullptr, ULONG_PTR p2 = 0,
             ULONG_PTR p3 = 0);

// Rule `rule` is one a driver can only be told about (an I rule, or a W rule whose case uwsk
// brought about itself, as fault injection does): logs "verifier: rule Vn (note): <sentence>"
// and the objects line, and never stops, not even in strict mode.
void note(int rule, const char *sentence, const char *objects = nullptr);

// printf-style helpers for the objects line (a bounded buffer; longer text is cut).
struct objects_text {
  char text[512];
  objects_text(const char *fmt, ...) __attribute__((format(printf, 2, 3)));
  operator const char *() const { return text; }
};

// "function (file:line)" or "module+0x..." for a code address, resolved from debug information
// when present; "?" when nothing is known. Used for creation sites.
void describe_code_address(const void *address, char *out, std::size_t size);

} // namespace uwsk::nt::verifier

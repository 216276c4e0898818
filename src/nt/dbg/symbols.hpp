// Code addresses in words: function, source file and line, from the debug information of the
// module holding them (libdw, elfutils), for bug-check, verifier and crash reports.
#pragma once

#include <cstddef>
#include <string>

namespace uwsk::nt {

// One line for a code address: "function at file:line (module)", with the parts that are
// known; "0x... (module+0x...)" when the module has no symbols. `return_address` says the address
// is a call's return address (frames other than the innermost), so the call's own line is
// looked up, not the next one.
std::string describe_code(const void *address, bool return_address);

// The calling thread's stack, one "  #n <describe_code>" line per frame, skipping `skip`
// innermost frames besides this function; when `from` is not NULL the frames before the one at
// `from` are skipped too (a signal handler's own frames).
std::string stack_text(int skip, const void *from = nullptr);

} // namespace uwsk::nt

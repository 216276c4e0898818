// Symbolisation with libdwfl: the process's modules are reported from /proc/self/maps when a
// report needs them (never on a hot path), and each address is looked up in its module's
// symbol table and line table. Frames come from glibc's backtrace(), which unwinds through
// signal frames.
#include "nt/dbg/symbols.hpp"

#include <cstdio>
#include <cstdlib>
#include <cxxabi.h>
#include <elfutils/libdwfl.h>
#include <execinfo.h>
#include <mutex>
#include <unistd.h>

namespace uwsk::nt {
namespace {

std::mutex dwfl_lock;

// The session for this process, reported once; the modules loaded later (a driver loaded after
// the first report) are found by reporting again when an address falls in no known module.
Dwfl *session(bool refresh) {
  static char *debuginfo_path = nullptr;
  static const Dwfl_Callbacks callbacks = {dwfl_linux_proc_find_elf, dwfl_standard_find_debuginfo,
                                           nullptr, &debuginfo_path};
  static Dwfl *dwfl = nullptr;
  if (dwfl == nullptr) {
    dwfl = dwfl_begin(&callbacks);
    refresh = true;
  }
  if (dwfl != nullptr && refresh) {
    dwfl_report_begin(dwfl);
    dwfl_linux_proc_report(dwfl, getpid());
    dwfl_report_end(dwfl, nullptr, nullptr);
  }
  return dwfl;
}

std::string demangled(const char *name) {
  int status = 0;
  char *plain = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string text = status == 0 && plain != nullptr ? plain : name;
  free(plain); // NOLINT: __cxa_demangle allocates with malloc
  return text;
}

} // namespace

std::string describe_code(const void *address, bool return_address) {
  const auto pc = reinterpret_cast<Dwarf_Addr>(address);
  const Dwarf_Addr lookup = return_address && pc > 0 ? pc - 1 : pc;
  char line[160];
  std::lock_guard guard(dwfl_lock);
  Dwfl *dwfl = session(false);
  Dwfl_Module *module = dwfl != nullptr ? dwfl_addrmodule(dwfl, lookup) : nullptr;
  if (module == nullptr && dwfl != nullptr) {
    dwfl = session(true);
    module = dwfl != nullptr ? dwfl_addrmodule(dwfl, lookup) : nullptr;
  }
  if (module == nullptr) {
    std::snprintf(line, sizeof line, "%p", address);
    return line;
  }
  Dwarf_Addr start = 0;
  const char *module_name =
      dwfl_module_info(module, nullptr, &start, nullptr, nullptr, nullptr, nullptr, nullptr);
  std::string base = module_name != nullptr ? module_name : "?";
  if (const auto slash = base.rfind('/'); slash != std::string::npos) {
    base.erase(0, slash + 1);
  }
  std::string text;
  GElf_Off offset = 0;
  GElf_Sym symbol;
  const char *name =
      dwfl_module_addrinfo(module, lookup, &offset, &symbol, nullptr, nullptr, nullptr);
  if (name != nullptr) {
    text = demangled(name);
  } else {
    std::snprintf(line, sizeof line, "%p", address);
    text = line;
  }
  if (Dwfl_Line *source = dwfl_module_getsrc(module, lookup); source != nullptr) {
    int number = 0;
    const char *file = dwfl_lineinfo(source, nullptr, &number, nullptr, nullptr, nullptr);
    if (file != nullptr) {
      std::snprintf(line, sizeof line, " at %s:%d", file, number);
      text += line;
    }
  }
  std::snprintf(line, sizeof line, " (%s+0x%llx)", base.c_str(),
                static_cast<unsigned long long>(pc - start));
  text += line;
  return text;
}

std::string stack_text(int skip, const void *from) {
  void *frames[64];
  const int count = backtrace(frames, 64);
  int first = 1 + skip;
  if (from != nullptr) {
    for (int i = first; i < count; ++i) {
      if (frames[i] == from) {
        first = i;
        break;
      }
    }
  }
  std::string text;
  for (int i = first; i < count; ++i) {
    char number[16];
    std::snprintf(number, sizeof number, "  #%-2d ", i - first);
    text += number;
    // The frame at `from` is where a fault happened, not a return address.
    text += describe_code(frames[i], !(from != nullptr && i == first && frames[i] == from));
    text.push_back('\n');
  }
  return text;
}

} // namespace uwsk::nt

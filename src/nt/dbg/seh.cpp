// The __try blocks of <excpt.h>, counted per thread (rule V35 of docs/verifier.md).
#include "nt/dbg/seh.hpp"

#include <excpt.h>

namespace uwsk::nt {
namespace {
thread_local int t_seh_depth [[gnu::tls_model("initial-exec")]] = 0;
} // namespace

int seh_depth() {
  return t_seh_depth;
}

} // namespace uwsk::nt

// uwsk_seh_enter: the calling thread enters a __try block.
extern "C" int uwsk_seh_enter(void) {
  ++uwsk::nt::t_seh_depth;
  return 1;
}

// uwsk_seh_leave: the calling thread leaves a __try block (the cleanup of its loop variable).
extern "C" void uwsk_seh_leave(int *Once) {
  (void)Once;
  --uwsk::nt::t_seh_depth;
}

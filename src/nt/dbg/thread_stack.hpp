// Whether an address lies on the calling thread's stack: for the verifier's rules about stack
// buffers and stack objects (V34, V83).
#pragma once

namespace uwsk::nt {

// True when `p` is inside the calling thread's stack mapping (its bounds are read once per
// thread).
bool on_thread_stack(const void *p);

} // namespace uwsk::nt

// The lock of a socket object: every WSK call and every readiness pass takes it, several times
// per message, almost always uncontended, so it is the futex lock (nt/ex/futex_lock.hpp).
#pragma once

#include "nt/ex/futex_lock.hpp"

namespace uwsk::wsk {

using socket_lock = nt::futex_lock;

} // namespace uwsk::wsk

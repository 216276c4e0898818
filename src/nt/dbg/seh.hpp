// How many __try blocks (<excpt.h>) the calling thread is in: driver code counts them with
// uwsk_seh_enter and uwsk_seh_leave, which the __try macro calls (rule V35).
#pragma once

namespace uwsk::nt {

int seh_depth();

} // namespace uwsk::nt

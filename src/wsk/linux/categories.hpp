// The socket core's view of each category's code (linux/socket.hpp, socket_behaviour):
// linux/stream_*.cpp serve listening, connection and stream sockets (linux/stream.hpp),
// linux/datagram.cpp datagram sockets.
#pragma once

#include "wsk/linux/socket.hpp"

namespace uwsk::wsk {

extern const socket_behaviour stream_behaviour;
extern const socket_behaviour datagram_behaviour;

} // namespace uwsk::wsk

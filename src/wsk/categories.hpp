// The socket core's view of each category's code (socket.hpp, socket_behaviour): stream.cpp
// serves listening, connection and stream sockets, datagram_io.cpp datagram sockets.
#pragma once

#include "wsk/socket.hpp"

namespace uwsk::wsk {

extern const socket_behaviour stream_behaviour;
extern const socket_behaviour datagram_behaviour;

} // namespace uwsk::wsk

// The socket core's view of each category's code (linux/socket.hpp, socket_behaviour):
// linux/stream_*.cpp serve listening, connection and stream sockets (linux/stream.hpp),
// linux/datagram.cpp datagram sockets.
#pragma once

#include "wsk/linux/socket.hpp"

namespace uwsk::wsk {

extern const socket_behaviour stream_behaviour;
extern const socket_behaviour datagram_behaviour;

// Datagram sockets' send batches (docs/design.md, "Datagram send batches"). Before a
// WskReceiveFromEvent runs on this thread: the WskSendTo calls it makes on the socket (without
// control data) park instead of sending. After it returned, under the lock: those sends leave
// together, with sendmmsg, each IRP finished through `done` with its own result, in order.
void datagram_batch_sends(socket_object *s);
void datagram_send_batched(socket_object *s, completion_batch &done);

} // namespace uwsk::wsk

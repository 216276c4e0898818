// TCP urgent data from a POSIX peer, behind an interface free of socket headers (see
// posix_peer.hpp).
#pragma once

namespace uwsk::test {

// Sends one byte of urgent (out-of-band) data on a connected TCP socket; false on failure.
bool peer_send_urgent(int fd, char byte);

} // namespace uwsk::test

// Whether the kernel has established a loopback TCP connection on the accepting side, read from
// /proc/net/tcp and tcp6. Shared by the unit tests' POSIX peers and the conformance harness.
#pragma once

#include <cstdint>

namespace uwsk::test_common {

// Waits, up to timeout_ms (checking every millisecond), until an established TCP socket with
// local port `server` and remote port `client` exists: the accepting side of the connection
// from `client` to `server`, in its listener's accept queue or accepted. A client's connect()
// returns when the handshake's last ACK is sent, which the kernel may process later under load.
// False when it never was.
bool tcp_established(std::uint16_t server, std::uint16_t client, int timeout_ms);

} // namespace uwsk::test_common

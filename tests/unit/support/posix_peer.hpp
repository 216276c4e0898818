// Plain POSIX peers for provider tests, behind an interface free of socket headers (test files
// include <wsk.h>, whose Winsock definitions cannot meet the Linux socket headers).
#pragma once

#include <cstddef>
#include <string>

namespace uwsk::test {

// family: 4 or 6. Every call is bounded by `timeout_ms`; failures return -1 (or false).
int peer_listen(int family, unsigned short *port); // a listening TCP socket
int peer_accept(int listener, int timeout_ms);     // one accepted connection
int peer_connect(int family, unsigned short port, int timeout_ms);
unsigned short peer_local_port(int fd);
// Waits (bounded) until the accepting side of connected peer `fd`'s connection to `port` is
// established in the kernel (in the listener's accept queue): connect() may return before.
bool peer_established_at(unsigned short port, int fd, int timeout_ms);
bool peer_send_all(int fd, const void *data, std::size_t length, int timeout_ms);
// Reads exactly `length` bytes (or until EOF/timeout); returns the bytes read.
std::size_t peer_receive(int fd, void *data, std::size_t length, int timeout_ms);
bool peer_sees_eof(int fd, int timeout_ms);   // the next read returns 0
bool peer_sees_reset(int fd, int timeout_ms); // the next read fails with ECONNRESET
void peer_shutdown_send(int fd);
void peer_reset(int fd); // close with a reset (SO_LINGER 0)
void peer_close(int fd);
unsigned short peer_unused_port(int family); // a port nothing listens on (best effort)
// A listening socket whose accept queue is full (backlog 0, one connection waiting in it, stored
// in *filler): the kernel drops the SYNs of further connects, so they stay in progress until the
// queue has room again (peer_accept the filler). Returns -1 when the queue did not fill.
int peer_listen_full(int family, unsigned short *port, int *filler);
int peer_udp(int family, unsigned short *port); // a bound UDP socket
bool peer_udp_send(int fd, int family, unsigned short port, const void *data, std::size_t length);
// Receives one datagram; stores the sender's port. Returns its length or -1.
long peer_udp_receive(int fd, void *data, std::size_t length, unsigned short *from_port,
                      int timeout_ms);
// Takes this process's own listening TCP socket on `port` (the provider's descriptor) out of
// the listening state with shutdown(2), as if the stack had stopped it. Returns false when no
// such socket exists.
bool stop_own_listener(unsigned short port);

} // namespace uwsk::test

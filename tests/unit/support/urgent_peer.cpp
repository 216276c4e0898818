// TCP urgent data from a POSIX peer (urgent_peer.hpp).
#include "support/urgent_peer.hpp"

#include <sys/socket.h>

namespace uwsk::test {

bool peer_send_urgent(int fd, char byte) {
  return send(fd, &byte, 1, MSG_OOB | MSG_NOSIGNAL) == 1;
}

} // namespace uwsk::test

// udp-echo-client: the real client the udp-echo example's test drives it with. Over IPv4 and
// IPv6 loopback it sends 64 datagrams of different sizes (the largest 60000 bytes), each
// carrying its sequence number, and checks that every one comes back byte for byte. Exit
// status 0 only if all did.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr int timeout_ms = 5000;
constexpr int count = 64;

std::vector<unsigned char> datagram(int sequence) {
  const std::size_t size =
      sequence == count - 1 ? 60000 : 8 + static_cast<std::size_t>(sequence) * 21;
  std::vector<unsigned char> d(size);
  std::memcpy(d.data(), &sequence, sizeof(sequence));
  for (std::size_t i = sizeof(sequence); i < size; ++i) {
    d[i] = static_cast<unsigned char>(i * 7 + static_cast<std::size_t>(sequence));
  }
  return d;
}

bool run(int family, unsigned short port) {
  const char *name = family == AF_INET6 ? "[::1]" : "[127.0.0.1]";
  const int fd = socket(family, SOCK_DGRAM, 0);
  if (fd < 0) {
    std::perror("udp-echo-client: socket");
    return false;
  }
  sockaddr_storage server{};
  socklen_t length;
  if (family == AF_INET6) {
    auto *a = reinterpret_cast<sockaddr_in6 *>(&server);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    length = sizeof(*a);
  } else {
    auto *a = reinterpret_cast<sockaddr_in *>(&server);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof(*a);
  }
  const int buffer = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  if (connect(fd, reinterpret_cast<sockaddr *>(&server), length) != 0) {
    std::perror("udp-echo-client: connect");
    close(fd);
    return false;
  }
  for (int i = 0; i < count; ++i) {
    const std::vector<unsigned char> d = datagram(i);
    if (send(fd, d.data(), d.size(), 0) != static_cast<ssize_t>(d.size())) {
      std::perror("udp-echo-client: send");
      close(fd);
      return false;
    }
  }
  std::vector<bool> seen(count, false);
  int matched = 0;
  std::vector<unsigned char> in(65536);
  while (matched < count) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) {
      break;
    }
    const ssize_t got = recv(fd, in.data(), in.size(), 0);
    if (got < static_cast<ssize_t>(sizeof(int))) {
      break;
    }
    int sequence = -1;
    std::memcpy(&sequence, in.data(), sizeof(sequence));
    if (sequence < 0 || sequence >= count || seen[static_cast<std::size_t>(sequence)]) {
      break;
    }
    const std::vector<unsigned char> d = datagram(sequence);
    if (d.size() != static_cast<std::size_t>(got) ||
        std::memcmp(d.data(), in.data(), d.size()) != 0) {
      break;
    }
    seen[static_cast<std::size_t>(sequence)] = true;
    ++matched;
  }
  close(fd);
  std::printf("  %s:%u  sent %d datagrams (up to 60000 bytes)  echoed %d intact\n", name, port,
              count, matched);
  return matched == count;
}

} // namespace

int main(int argc, char **argv) {
  const unsigned short port = argc > 1 ? static_cast<unsigned short>(std::atoi(argv[1])) : 20009;
  const bool v4 = run(AF_INET, port);
  const bool v6 = run(AF_INET6, port);
  return v4 && v6 ? 0 : 1;
}

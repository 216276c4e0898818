#include "tcp_established.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace uwsk::test_common {
namespace {

// Whether /proc/net/<file> lists an established socket with local port `local` and remote port
// `remote` (lines "sl local rem st ...", addresses as HEX:PORT in hexadecimal, st 01 for
// ESTABLISHED).
bool proc_lists_established(const char *file, std::uint16_t local, std::uint16_t remote) {
  FILE *f = std::fopen(file, "r");
  if (f == nullptr) {
    return false;
  }
  char line[512];
  bool found = false;
  if (std::fgets(line, sizeof line, f) == nullptr) { // the header
    std::fclose(f);
    return false;
  }
  while (!found && std::fgets(line, sizeof line, f) != nullptr) {
    char local_address[64];
    char remote_address[64];
    unsigned state = 0;
    if (std::sscanf(line, " %*s %63s %63s %x", local_address, remote_address, &state) != 3) {
      continue;
    }
    const char *local_colon = std::strrchr(local_address, ':');
    const char *remote_colon = std::strrchr(remote_address, ':');
    found = state == 1 && local_colon != nullptr && remote_colon != nullptr &&
            std::strtoul(local_colon + 1, nullptr, 16) == local &&
            std::strtoul(remote_colon + 1, nullptr, 16) == remote;
  }
  std::fclose(f);
  return found;
}

} // namespace

bool tcp_established(std::uint16_t server, std::uint16_t client, int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; ++waited) {
    if (proc_lists_established("/proc/net/tcp", server, client) ||
        proc_lists_established("/proc/net/tcp6", server, client)) {
      return true;
    }
    usleep(1000);
  }
  return false;
}

} // namespace uwsk::test_common

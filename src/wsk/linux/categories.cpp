// Which code serves a socket of each category (wsk/sockets.hpp, behaviour_of).
#include "wsk/linux/categories.hpp"

namespace uwsk::wsk {

const socket_behaviour *behaviour_of(category cat) {
  switch (cat) {
  case category::basic:
    return nullptr; // no loop, no I/O
  case category::datagram:
    return &datagram_behaviour;
  case category::listen:
  case category::connection:
  case category::stream:
    return &stream_behaviour;
  }
  return nullptr;
}

} // namespace uwsk::wsk

// Addresses of the servers the binaries start.
#pragma once

#include <string>

namespace sweepfarm {

// The HOST:PORT a server asked to listen on `listen` (HOST:PORT; port 0: any free one) is
// reachable at, once it has bound `port`.
inline std::string BoundAddress(const std::string& listen, int port) {
  return listen.substr(0, listen.rfind(':')) + ":" + std::to_string(port);
}

}  // namespace sweepfarm

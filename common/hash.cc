#include "common/hash.h"

#include <cstdio>

namespace sweepfarm {

void Fnv64::Update(const void* data, size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = state_;
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  state_ = h;
}

std::string Fnv64::HexDigest() const {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(state_));
  return buf;
}

std::string HashHex(const std::string& s) {
  Fnv64 h;
  h.Update(s);
  return h.HexDigest();
}

}  // namespace sweepfarm

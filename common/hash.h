// Non-cryptographic content hashing (FNV-1a, 64 bit) for dataset fingerprints and spec hashes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sweepfarm {

class Fnv64 {
 public:
  void Update(const void* data, size_t size);
  void Update(const std::string& s) { Update(s.data(), s.size()); }
  uint64_t Digest() const { return state_; }
  std::string HexDigest() const;

 private:
  uint64_t state_ = 1469598103934665603ULL;
};

std::string HashHex(const std::string& s);

}  // namespace sweepfarm

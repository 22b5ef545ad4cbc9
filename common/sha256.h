// SHA-256 (FIPS 180-4), dependency-free, for artifact integrity. Not thread-safe per object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sweepfarm {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(const std::string& s) { Update(s.data(), s.size()); }
  std::string HexDigest();  // Finalises; call once.

 private:
  void Block(const unsigned char* p);
  uint32_t h_[8];
  unsigned char buf_[64];
  size_t used_ = 0;
  uint64_t bits_ = 0;
};

std::string Sha256Hex(const std::string& data);

}  // namespace sweepfarm

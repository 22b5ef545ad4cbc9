// The one byte format of a data set version: what is stored in PostgreSQL, streamed to workers,
// cached on their disks and hashed. Deterministic: the same table always encodes to the same
// bytes, so the sha256 of the bytes is the version's content address. Pure functions;
// thread-safe.
//
//   "SFDATA1\n"
//   manifest: text lines, ending with an empty line:
//     shape 16 64
//     classes healthy faulty
//     values float32            (or uint8, chosen when every value is an integer 0-255)
//     split train 5275
//     split selection 1000
//     split holdout 1000
//   then per split in that order: its labels (int32 little-endian), then its values (float32
//   little-endian or bytes), row-major.
#pragma once

#include <array>
#include <string>

#include "engine/data/table.h"

namespace sweepfarm::data {

constexpr char kMagic[] = "SFDATA1\n";
// Largest encoded data set accepted anywhere (coordinators may set a lower limit).
constexpr int64_t kMaxEncodedBytes = int64_t{1} << 30;

// What the manifest says, readable without the values.
struct Manifest {
  std::vector<int64_t> shape;
  std::vector<std::string> classes;
  bool uint8_values = false;
  std::array<int64_t, 3> samples{};  // By SplitId.
  int64_t header_bytes = 0;          // Magic and manifest.
  int64_t encoded_bytes = 0;         // What the whole encoding must measure.
};

// Validates (ValidateTable) and encodes.
StatusOr<std::string> Encode(const Table& table);
// Reads the manifest at the start of `bytes` (at least its first few KB); checks it and the
// sizes it implies against the limits.
StatusOr<Manifest> ReadManifest(const std::string& bytes);
// Decodes and validates everything: the magic, the manifest, the exact length, labels and values
// (ValidateTable). Errors say what is wrong and where.
StatusOr<Table> Decode(const std::string& bytes);

// Hex sha256 of the bytes: the version's content address.
std::string ContentHash(const std::string& bytes);

}  // namespace sweepfarm::data

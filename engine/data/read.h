// Reading files into arrays: whole files (gunzipped when gzipped, bounded in size) and IDX arrays
// (as Fashion-MNIST ships). Used by the importers and the engine's built-in Fashion-MNIST.
// Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace sweepfarm::data {

// An n-dimensional array read from a file: its shape and values, row-major.
struct Array {
  std::vector<int64_t> shape;
  std::vector<float> values;
  bool integer = false;  // The file's type was an integer type.
};

// Reads a whole file, gunzipping it if it is gzipped; INVALID_ARGUMENT past `limit` bytes
// (after decompression), naming the file.
StatusOr<std::string> ReadFileBytes(const std::string& path, int64_t limit);

// An IDX array (unsigned or signed bytes, int16, int32, float32, float64; rank 1-4). Errors name
// `where` and what is wrong (truncated header, sizes that disagree).
StatusOr<Array> ParseIdx(const std::string& where, const std::string& bytes);

}  // namespace sweepfarm::data

// What each format's reader produces, before shapes, classes and splits are decided
// (formats.cc), and the readers themselves. Internal to engine/data/formats.
#pragma once

#include <string>
#include <vector>

#include "engine/data/formats/formats.h"
#include "engine/data/read.h"

namespace sweepfarm::data {

struct RawSamples {
  std::vector<float> x;             // Row-major, `values` per sample.
  int64_t values = 0;               // Per sample.
  std::vector<std::string> labels;  // As written (CSV) or as integers in text (npy, idx).
  bool integer_labels = false;      // Labels are indices (npy, idx), not names.
  std::vector<int8_t> split;        // Per sample: a SplitId, or -1; empty: no split column.
  std::vector<int64_t> shape_hint;  // The file's own sample shape (npy, idx), if it has one.
  std::string where;                // The file, for errors.
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

StatusOr<RawSamples> ReadCsv(const std::string& path, const std::string& bytes,
                             const ImportOptions& o);
StatusOr<RawSamples> ReadNpy(const std::string& path, const std::string& bytes,
                             const ImportOptions& o);
StatusOr<RawSamples> ReadNpz(const std::string& path, const std::string& bytes,
                             const ImportOptions& o);
StatusOr<RawSamples> ReadIdx(const std::string& path, const std::string& bytes,
                             const ImportOptions& o);

// One array of a .npy file (npz members too).
StatusOr<Array> ParseNpy(const std::string& where, const std::string& bytes);

}  // namespace sweepfarm::data

// A data set's content in memory, as it is imported, stored and exported: labelled samples of one
// shape in three splits (train: what models learn from; selection: what every choice is made
// on; holdout: what the gate compares versions on). No LibTorch: sweepctl and the coordinator's
// validation use it too. A Table is a plain value; not thread-safe to mutate.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace sweepfarm::data {

enum class SplitId { kTrain = 0, kSelection = 1, kHoldout = 2 };
constexpr std::array<SplitId, 3> kSplits = {SplitId::kTrain, SplitId::kSelection,
                                            SplitId::kHoldout};
const char* SplitName(SplitId split);  // "train", "selection", "holdout".

// Samples of one split: x row-major [n, values per sample], y the class index of each.
struct Part {
  std::vector<float> x;
  std::vector<int32_t> y;
  int64_t size() const { return static_cast<int64_t>(y.size()); }
};

struct Table {
  // One sample's shape, channels first: {C, L} (series) or {C, H, W} (images). A CSV row holds a
  // sample's values in row-major order of this shape.
  std::vector<int64_t> shape;
  std::vector<std::string> classes;  // Label i is classes[i].
  std::array<Part, 3> parts;         // By SplitId.

  Part& part(SplitId s) { return parts[static_cast<int>(s)]; }
  const Part& part(SplitId s) const { return parts[static_cast<int>(s)]; }
  int64_t values_per_sample() const;
  int64_t samples() const;
  // counts[split][class].
  std::array<std::vector<int64_t>, 3> CountsByClass() const;
};

// Limits on what a data set may hold (documented in docs/data.md).
constexpr int64_t kMaxValuesPerSample = 1 << 20;
constexpr int64_t kMaxClasses = 1000;
constexpr int64_t kMaxShapeDims = 3;

// Class names: 1-64 letters, digits, '.', '_' or '-' (they appear in files, URLs and reports).
bool IsValidClassName(const std::string& name);

// Checks a table's structure: a shape of 2 or 3 positive dimensions, valid and distinct class
// names (at least 2), each part's x holding exactly its samples' values, every label a class,
// every value finite, a non-empty train and selection split. Errors name the split and sample.
Status ValidateTable(const Table& table);
// Every class occurs in every non-empty split (imported data; the simulator's small sizes may
// lack a class in a tiny split).
Status CheckEveryClassInEverySplit(const Table& table);

// "16x64" <-> {16, 64}; refuses anything but 2 or 3 positive dimensions within the limits.
StatusOr<std::vector<int64_t>> ParseShape(const std::string& text);
std::string ShapeText(const std::vector<int64_t>& shape);

}  // namespace sweepfarm::data

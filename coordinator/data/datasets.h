// The coordinator's data sets: what a sweep's `dataset` section resolves to (a built-in's data made
// into a stored version on first use), imports checked in full before anything is stored,
// versions as tensors for the registry's gate, and the feedback loop's next version (the latest
// plus labelled predictions). State lives in the store; the tensor cache is read-only once made.
// Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "coordinator/store/store.h"
#include "coordinator/sweep/sweep_yaml.h"
#include "engine/data/table.h"
#include "engine/dataset.h"
#include "sweepfarm/v1/data.pb.h"

namespace sweepfarm::datasets {

// Shares of the splits that grown samples go to (docs/data.md): by the first 64 bits of the
// sample's sha256, so a sample always goes to the same split.
constexpr double kGrowTrainShare = 0.6;
constexpr double kGrowSelectionShare = 0.2;  // The rest: holdout.

// The version's description from its table (shape, classes, per-split counts).
void Describe(const data::Table& table, v1::DatasetVersion* out);

// Where a grown sample goes, from its input's sha256 (hex).
data::SplitId GrowSplit(const std::string& input_sha256);

// sha256 of one sample's float32 little-endian values, `bytes` of them (its input hash, for
// deduplication and its split).
std::string SampleHash(const void* values, size_t bytes);

class DataSets {
 public:
  // `max_bytes`: the largest content accepted or made (--max-dataset-bytes).
  DataSets(store::Store* store, int64_t max_bytes, size_t cached_tensors = 2)
      : store_(store), max_bytes_(max_bytes), capacity_(cached_tensors) {}

  // A sweep's data set reference to a stored version. A built-in with parameters is generated
  // and stored the first time (with `dry_run`, generated and hashed only: version 0). With
  // `feedback` (and not `dry_run`), the data set first grows by what was labelled (Grow).
  StatusOr<sweep::DatasetInfo> Resolve(const v1::DatasetSpec& requested, bool dry_run,
                                       const std::string& actor);

  // An import: `content` must hash to the header's sha256 and decode into a valid table in which
  // every class occurs in every split; then it is stored as the name's next version (or the
  // version with the same content is returned, `existed`).
  StatusOr<std::pair<v1::DatasetVersion, bool>> Import(const v1::DatasetHeader& header,
                                                       const std::string& content);

  // A version's whole content, verified against its sha256 (DATA_LOSS if it does not match).
  StatusOr<std::string> Content(const v1::DatasetVersion& version);

  // The tensors of the version a sweep trained on (raw values), the last few kept. Sweeps from
  // before data set versions (no sha256) are rebuilt from their built-in's parameters.
  StatusOr<std::shared_ptr<const engine::Dataset>> Tensors(const v1::DatasetSpec& spec);

  // The next version of `name`: its latest plus every labelled prediction not yet taken,
  // deduplicated by input, placed by GrowSplit. With `dry_run` nothing is stored.
  StatusOr<v1::GrowDatasetResponse> Grow(const std::string& name, const std::string& actor,
                                         bool dry_run);

  // Labels a recorded prediction with a class name of its data (or its index).
  StatusOr<v1::LabelPredictionResponse> Label(const std::string& prediction_id,
                                              const std::string& label, const std::string& actor);

 private:
  StatusOr<std::pair<v1::DatasetVersion, bool>> Save(const data::Table& table,
                                                     const std::string& bytes,
                                                     v1::DatasetVersion meta,
                                                     store::NewDatasetVersion extra);

  store::Store* store_;
  int64_t max_bytes_;
  size_t capacity_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::shared_ptr<const engine::Dataset>>>
      cache_;  // Guarded by mu_; most recently used last.
};

}  // namespace sweepfarm::datasets

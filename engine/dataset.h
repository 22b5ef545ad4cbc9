// Datasets the engine trains on: tensors in channels-last layout, made once and shared read-only.
// They come from a stored data set version's table (engine/data/), or from a built-in generator
// (the telemetry simulator, Fashion-MNIST), which produces such a table. A Dataset is immutable
// after creation; it may be shared between threads and bundles.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "common/status.h"
#include "engine/catalog.h"
#include "engine/data/table.h"

namespace sweepfarm::engine {

// One split: x is [N, T, C] (1-D series) or [N, H, W, C] (images), float32; y is [N] int64.
struct Split {
  torch::Tensor x;
  torch::Tensor y;
  torch::Tensor kind;  // Optional [N] int64 sub-label (telemetry fault kind); undefined otherwise.
  int64_t size() const { return y.defined() ? y.size(0) : 0; }
};

struct Dataset {
  std::string name;
  int64_t num_classes = 2;
  // For binary datasets, the class that means "issue" (resampled to a trial's issue_rate).
  bool binary_issue_label = false;
  Split train;  // Lab data.
  Split test;   // Customer-like data: its first selection_size samples are the selection
                // split, the rest the holdout split.
  int64_t selection_size = -1;  // -1: all of the test split is selection.
  std::string hash;             // The content hash: a stored version's sha256.
  // Set when x has been standardised (Standardized): each channel's mean and standard deviation
  // over the train split, which a model trained on it keeps in its artifact and applies to raw
  // inputs. Empty: raw values.
  std::vector<float> input_mean;
  std::vector<float> input_std;

  std::vector<int64_t> sample_shape() const;  // Shape of one sample: {T, C} or {H, W, C}.
  int64_t SelectionSize() const { return selection_size < 0 ? test.size() : selection_size; }
  // Accuracy of always predicting the test split's most common class (all "issue" for telemetry).
  double MajorityBaseline() const;
  // Copies all tensors to `device` (once per worker; shared by every bundle).
  std::shared_ptr<const Dataset> To(const torch::Device& device) const;
};

// The tensors of a data set version's table (train; selection then holdout as the test split).
// `name` and `hash` identify it (the version's NAME@V and sha256).
std::shared_ptr<const Dataset> DatasetFromTable(const data::Table& table, const std::string& name,
                                                const std::string& hash);

// A copy whose inputs are standardised per channel with the train split's statistics (a channel
// that does not vary keeps a deviation of 1). What the trainer learns from; models record the
// statistics and apply them to raw inputs (engine/model_io.h).
std::shared_ptr<const Dataset> Standardized(const Dataset& raw);

// Generates a built-in data set (engine/catalog.h) as a table. Deterministic: the same
// parameters give the same table, so the same stored version.
StatusOr<data::Table> GenerateBuiltin(const std::string& name, const DatasetParams& params);

// GenerateBuiltin, encoded and hashed as a stored version would be, as tensors (raw values).
StatusOr<std::shared_ptr<const Dataset>> MakeDataset(const std::string& name,
                                                     const DatasetParams& params);

// Samples [N, C, L...] as their data set's files and the prediction service have them (channels
// first) to the engine's [N, L..., C], and back.
torch::Tensor ToChannelsLast(const torch::Tensor& channels_first);
torch::Tensor ToChannelsFirst(const torch::Tensor& channels_last);

// How many of `labels` (int64 class indices, any device) are each of the `classes` classes.
std::vector<int64_t> CountByClass(const torch::Tensor& labels, int64_t classes);

// Random 28x28x1 images in 10 classes (normal pixels, uniform labels) drawn from `seed`: for
// equivalence tests and timing, where the pixels need no meaning.
std::shared_ptr<const Dataset> RandomImageDataset(const std::string& name, int64_t train,
                                                  int64_t test, uint64_t seed);

// Content hash of tensors (their bytes, dtypes and shapes): the engine's own test datasets.
std::string HashTensors(const std::vector<torch::Tensor>& tensors);

}  // namespace sweepfarm::engine

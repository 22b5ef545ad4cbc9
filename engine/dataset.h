// Datasets the engine trains on: tensors in channels-last layout, made once and shared read-only.
// A Dataset is immutable after creation; it may be shared between threads and bundles.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "common/status.h"

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
  std::string hash;             // Content hash over every tensor's bytes.

  std::vector<int64_t> sample_shape() const;
  int64_t SelectionSize() const { return selection_size < 0 ? test.size() : selection_size; }
  // Accuracy of always predicting the test split's most common class (all "issue" for telemetry).
  double MajorityBaseline() const;  // Shape of one sample: {T, C} or {H, W, C}.
  // Copies all tensors to `device` (once per worker; shared by every bundle).
  std::shared_ptr<const Dataset> To(const torch::Device& device) const;
};

// Dataset parameters as given in a sweep (`dataset.params`), all numeric.
using DatasetParams = std::map<std::string, double>;

// Builds a dataset by its registered name ("telemetry", "fashion-mnist").
StatusOr<std::shared_ptr<const Dataset>> MakeDataset(const std::string& name,
                                                     const DatasetParams& params);
// Names and allowed parameter keys, for validation without building anything.
bool IsKnownDataset(const std::string& name);
Status ValidateDatasetParams(const std::string& name, const DatasetParams& params);

// How many of `labels` (int64 class indices, any device) are each of the `classes` classes.
std::vector<int64_t> CountByClass(const torch::Tensor& labels, int64_t classes);

// Content hash of tensors (their bytes, dtypes and shapes).
std::string HashTensors(const std::vector<torch::Tensor>& tensors);

}  // namespace sweepfarm::engine

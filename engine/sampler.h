// Per-model sample-index streams, generated on the device from integer hashing, so that model k's
// batch at step s depends only on (its seed, s) and never on K, its slot, or the device.
// Not thread-safe; owned by one training loop.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "common/status.h"
#include "engine/dataset.h"

namespace sweepfarm::engine {

struct MixConfig {
  uint64_t seed = 0;
  double issue_rate = -1;  // Fraction of issue samples drawn; < 0 keeps the subset's own mix.
  double data_size = 1.0;  // Fraction of the training split this model may use, in (0, 1].
};

class IndexSampler {
 public:
  // Picks each model's subset of `train` (a seeded permutation prefix) and splits it into issue
  // and no-issue pools for binary datasets. Errors if a requested mix cannot be drawn.
  static StatusOr<IndexSampler> Create(const Split& train, bool binary, int64_t batch_size,
                                       const std::vector<MixConfig>& mixes,
                                       const torch::Device& device);

  // Indices [K, B] for step `step` (a 0-dim int64 tensor on the device, so CUDA graphs can replay).
  torch::Tensor Indices(const torch::Tensor& step) const;
  // Indices [n, K, B] of steps first..first+n-1, the same as n calls of Indices, in one: on CPUs,
  // where a call per step cost about as much as a small model's step.
  torch::Tensor IndicesForSteps(int64_t first, int64_t n) const;

  // Samples in each model's subset (its epoch is ceil(subset / B) steps).
  const std::vector<int64_t>& subset_sizes() const { return subset_sizes_; }

 private:
  // The indices of stream values z ([K, B] or [n, K, B]).
  torch::Tensor Pick(const torch::Tensor& z) const;

  int64_t batch_ = 0;
  std::vector<int64_t> subset_sizes_;
  torch::Tensor keys_;       // [K, 1] int64: per-model stream keys.
  torch::Tensor threshold_;  // [K, 1] int64: issue pick threshold out of 2^24.
  torch::Tensor pos_pool_, pos_len_, neg_pool_, neg_len_;
  torch::Tensor lanes_;  // [1, B] int64.
};

// splitmix64 on int64 tensors (wrapping arithmetic), bit-identical to SplitMix64 in rng.h.
torch::Tensor SplitMix64Tensor(const torch::Tensor& x);

}  // namespace sweepfarm::engine

// Ensemble selection from stored per-trial predictions, without retraining: greedy forward
// selection with replacement (Caruana et al., 2004) and top-k averaging. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace sweepfarm::selection {

// Class probabilities of one candidate model on one split: n samples x classes, row-major.
struct Predictions {
  int64_t trial_id = 0;
  std::vector<float> probs;
};

struct Ensemble {
  std::vector<int64_t> trial_ids;  // Distinct members.
  std::vector<double> weights;     // Per member; sums to 1 (selection counts / size).
  double selection_accuracy = 0;   // Of the averaged probabilities on the selection split.
};

// IEEE 754 half-precision little-endian bytes to floats.
std::vector<float> HalfToFloat(const std::string& bytes);

// Accuracy of argmax(probs) against labels.
double Accuracy(const std::vector<float>& probs, const std::vector<int32_t>& labels, int classes);

// Mean negative log-likelihood of the labels (probabilities clamped at 1e-7).
double LogLoss(const std::vector<float>& probs, const std::vector<int32_t>& labels, int classes);

// Weighted average of the members' probabilities.
std::vector<float> Average(const std::vector<const Predictions*>& members,
                           const std::vector<double>& weights, size_t size);

// Caruana: starting empty, repeatedly adds (with replacement) the candidate whose addition gives
// the best accuracy of the averaged probabilities on the selection split (ties: the lower log loss
// on the selection split, then the earlier candidate), `size` times; returns the best prefix seen
// by the same order. Candidates are usually the best N trials.
StatusOr<Ensemble> GreedySelect(const std::vector<Predictions>& candidates,
                                const std::vector<int32_t>& labels, int classes, int size);

// The `k` candidates with the best selection accuracy, averaged with equal weights.
StatusOr<Ensemble> TopK(const std::vector<Predictions>& candidates,
                        const std::vector<int32_t>& labels, int classes, int k);

}  // namespace sweepfarm::selection

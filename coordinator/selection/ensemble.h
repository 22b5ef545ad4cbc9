// Ensemble selection from stored per-trial predictions, without retraining: greedy forward
// selection with replacement (Caruana et al., 2004), its bagged form (Caruana et al., 2006) and
// top-k averaging. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace sweepfarm::selection {

// Class probabilities of one candidate model on one split: n samples x classes, row-major.
struct Predictions {
  int64_t trial_id = 0;
  std::vector<float> probs;
};

// What ensembles are chosen by (a sweep's objective.metric, on the selection split).
enum class Metric {
  kAccuracy,          // selection_accuracy
  kBalancedAccuracy,  // selection_balanced_accuracy: the mean per-class recall
};

// "selection_accuracy" or "selection_balanced_accuracy" (empty: accuracy); nullopt otherwise.
std::optional<Metric> MetricNamed(const std::string& objective);

struct Ensemble {
  std::vector<int64_t> trial_ids;  // Distinct members.
  std::vector<double> weights;     // Per member; sums to 1 (selection counts / size).
  double selection_score = 0;      // Of the averaged probabilities on the selection split.
};

// IEEE 754 half-precision little-endian bytes to floats.
std::vector<float> HalfToFloat(const std::string& bytes);

// Accuracy of argmax(probs) against labels.
double Accuracy(const std::vector<float>& probs, const std::vector<int32_t>& labels, int classes);

// Mean over the classes present in `labels` of the share of their samples argmax(probs) gets
// right (0 without labels).
double BalancedAccuracy(const std::vector<float>& probs, const std::vector<int32_t>& labels,
                        int classes);

// `metric` of argmax(probs) against labels.
double Score(Metric metric, const std::vector<float>& probs, const std::vector<int32_t>& labels,
             int classes);

// Mean negative log-likelihood of the labels (probabilities clamped at 1e-7).
double LogLoss(const std::vector<float>& probs, const std::vector<int32_t>& labels, int classes);

// Weighted average of the members' probabilities.
std::vector<float> Average(const std::vector<const Predictions*>& members,
                           const std::vector<double>& weights, size_t size);

// Caruana: starting empty, repeatedly adds (with replacement) the candidate whose addition gives
// the best `metric` of the averaged probabilities on the selection split (ties: the lower log loss
// on the selection split, then the earlier candidate), `size` times; returns the best prefix seen
// by the same order. Candidates are usually the best N trials.
StatusOr<Ensemble> GreedySelect(const std::vector<Predictions>& candidates,
                                const std::vector<int32_t>& labels, int classes, int size,
                                Metric metric = Metric::kAccuracy);

// Bagged ensemble selection (Caruana et al., 2006): `bags` times, greedy selection (`size` steps)
// over a random `fraction` of the candidates (at least one), then the bags' ensembles averaged
// (a member's weight: its mean weight over the bags). Bagging keeps one lucky candidate from
// taking a small selection split over. Deterministic in `seed`.
// The bags BaggedSelect draws: `bags` sets of max(1, round(fraction x n)) distinct candidate
// indices, each in increasing order.
std::vector<std::vector<size_t>> Bags(size_t n, int bags, double fraction, uint64_t seed);
StatusOr<Ensemble> BaggedSelect(const std::vector<Predictions>& candidates,
                                const std::vector<int32_t>& labels, int classes, int size,
                                Metric metric, int bags, double fraction, uint64_t seed);

// The `k` candidates with the best selection `metric`, averaged with equal weights.
StatusOr<Ensemble> TopK(const std::vector<Predictions>& candidates,
                        const std::vector<int32_t>& labels, int classes, int k,
                        Metric metric = Metric::kAccuracy);

}  // namespace sweepfarm::selection

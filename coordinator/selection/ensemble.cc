#include "coordinator/selection/ensemble.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "common/recall.h"
#include "common/rng.h"

namespace sweepfarm::selection {
namespace {

Status Check(const std::vector<Predictions>& candidates, const std::vector<int32_t>& labels,
             int classes, int size, const char* what) {
  if (candidates.empty()) return InvalidArgumentError(std::string(what) + ": no candidates");
  if (classes < 2) return InvalidArgumentError(std::string(what) + ": classes must be >= 2");
  if (size < 1) return InvalidArgumentError(std::string(what) + ": ensemble size must be >= 1");
  const size_t want = labels.size() * static_cast<size_t>(classes);
  for (const auto& c : candidates) {
    if (c.probs.size() != want) {
      return InvalidArgumentError(std::string(what) + ": trial " + std::to_string(c.trial_id) +
                                  " has " + std::to_string(c.probs.size()) +
                                  " probabilities, expected " + std::to_string(want));
    }
  }
  for (int32_t y : labels) {
    if (y < 0 || y >= classes)
      return InvalidArgumentError(std::string(what) + ": label out of range");
  }
  return OkStatus();
}

int Argmax(const float* row, int classes) {
  return static_cast<int>(std::max_element(row, row + classes) - row);
}

}  // namespace

std::vector<float> HalfToFloat(const std::string& bytes) {
  std::vector<float> out(bytes.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const uint16_t h = static_cast<uint16_t>(static_cast<unsigned char>(bytes[2 * i])) |
                       static_cast<uint16_t>(static_cast<unsigned char>(bytes[2 * i + 1])) << 8;
    const int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    float v;
    if (exp == 0) {
      v = std::ldexp(static_cast<float>(mant), -24);  // Subnormal.
    } else if (exp == 31) {
      v = mant ? NAN : INFINITY;
    } else {
      v = std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
    }
    out[i] = sign ? -v : v;
  }
  return out;
}

double Accuracy(const std::vector<float>& probs, const std::vector<int32_t>& labels, int classes) {
  if (labels.empty()) return 0;
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    correct += Argmax(&probs[i * classes], classes) == labels[i];
  }
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

double BalancedAccuracy(const std::vector<float>& probs, const std::vector<int32_t>& labels,
                        int classes) {
  std::vector<int64_t> right(static_cast<size_t>(classes), 0), support(right.size(), 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    ++support[labels[i]];
    right[labels[i]] += Argmax(&probs[i * classes], classes) == labels[i];
  }
  return sweepfarm::BalancedAccuracy(right, support);
}

double Score(Metric metric, const std::vector<float>& probs, const std::vector<int32_t>& labels,
             int classes) {
  return metric == Metric::kBalancedAccuracy ? BalancedAccuracy(probs, labels, classes)
                                             : Accuracy(probs, labels, classes);
}

std::optional<Metric> MetricNamed(const std::string& objective) {
  if (objective.empty() || objective == "selection_accuracy") return Metric::kAccuracy;
  if (objective == "selection_balanced_accuracy") return Metric::kBalancedAccuracy;
  return std::nullopt;
}

double LogLoss(const std::vector<float>& probs, const std::vector<int32_t>& labels, int classes) {
  if (labels.empty()) return 0;
  double sum = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    sum -= std::log(std::max(probs[i * classes + labels[i]], 1e-7f));
  }
  return sum / static_cast<double>(labels.size());
}

std::vector<float> Average(const std::vector<const Predictions*>& members,
                           const std::vector<double>& weights, size_t size) {
  std::vector<double> sum(size, 0.0);
  for (size_t m = 0; m < members.size(); ++m) {
    for (size_t i = 0; i < size; ++i) sum[i] += weights[m] * members[m]->probs[i];
  }
  return std::vector<float>(sum.begin(), sum.end());
}

StatusOr<Ensemble> GreedySelect(const std::vector<Predictions>& candidates,
                                const std::vector<int32_t>& labels, int classes, int size,
                                Metric metric) {
  SF_RETURN_IF_ERROR(Check(candidates, labels, classes, size, "greedy selection"));
  const size_t n = labels.size() * static_cast<size_t>(classes);
  std::vector<double> running(n, 0.0);  // Sum of the chosen members' probabilities.
  std::vector<int> counts(candidates.size(), 0);
  std::vector<int> best_counts;
  // Ranked by the metric; equal scores (frequent: accuracy moves in steps of 1/n) by the
  // selection split's log loss, so the climb keeps improving the averaged probabilities.
  auto better = [](double score, double nll, double best, double best_nll) {
    return score > best || (score == best && nll < best_nll);
  };
  double best_score = -1, best_nll = INFINITY;
  std::vector<float> trial(n);
  for (int step = 1; step <= size; ++step) {
    int pick = -1;
    double pick_score = -1, pick_nll = INFINITY;
    for (size_t c = 0; c < candidates.size(); ++c) {
      for (size_t i = 0; i < n; ++i) {
        trial[i] = static_cast<float>((running[i] + candidates[c].probs[i]) / step);
      }
      const double acc = Score(metric, trial, labels, classes);
      const double nll = LogLoss(trial, labels, classes);
      if (better(acc, nll, pick_score, pick_nll)) {
        pick_score = acc;
        pick_nll = nll;
        pick = static_cast<int>(c);
      }
    }
    for (size_t i = 0; i < n; ++i) running[i] += candidates[pick].probs[i];
    ++counts[pick];
    // Keep the best prefix, not necessarily the last.
    if (better(pick_score, pick_nll, best_score, best_nll)) {
      best_score = pick_score;
      best_nll = pick_nll;
      best_counts = counts;
    }
  }
  Ensemble e;
  const double total = std::accumulate(best_counts.begin(), best_counts.end(), 0.0);
  for (size_t c = 0; c < candidates.size(); ++c) {
    if (best_counts[c] == 0) continue;
    e.trial_ids.push_back(candidates[c].trial_id);
    e.weights.push_back(best_counts[c] / total);
  }
  e.selection_score = best_score;
  return e;
}

std::vector<std::vector<size_t>> Bags(size_t n, int bags, double fraction, uint64_t seed) {
  const size_t take =
      std::min(n, std::max<size_t>(1, static_cast<size_t>(std::llround(fraction * n))));
  Rng rng(MixKey(seed, 0xba99ed));
  std::vector<std::vector<size_t>> out;
  for (int b = 0; b < bags; ++b) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    for (size_t i = 0; i < take; ++i) {  // A partial Fisher-Yates shuffle: `take` distinct.
      std::swap(order[i],
                order[i + static_cast<size_t>(rng.UniformInt(0, static_cast<int64_t>(n - i) - 1))]);
    }
    order.resize(take);
    std::sort(order.begin(), order.end());
    out.push_back(std::move(order));
  }
  return out;
}

StatusOr<Ensemble> BaggedSelect(const std::vector<Predictions>& candidates,
                                const std::vector<int32_t>& labels, int classes, int size,
                                Metric metric, int bags, double fraction, uint64_t seed) {
  SF_RETURN_IF_ERROR(Check(candidates, labels, classes, size, "bagged selection"));
  if (bags < 1 || !(fraction > 0 && fraction <= 1)) {
    return InvalidArgumentError("bagged selection needs bags >= 1 and a fraction in (0, 1]");
  }
  std::vector<double> weight(candidates.size(), 0.0);
  std::map<int64_t, size_t> index;
  for (size_t c = 0; c < candidates.size(); ++c) index[candidates[c].trial_id] = c;
  for (const auto& members : Bags(candidates.size(), bags, fraction, seed)) {
    std::vector<Predictions> bag;
    for (size_t i : members) bag.push_back(candidates[i]);
    SF_ASSIGN_OR_RETURN(Ensemble e, GreedySelect(bag, labels, classes, size, metric));
    for (size_t m = 0; m < e.trial_ids.size(); ++m) weight[index[e.trial_ids[m]]] += e.weights[m];
  }
  Ensemble out;
  std::vector<const Predictions*> members;
  for (size_t c = 0; c < candidates.size(); ++c) {
    if (weight[c] <= 0) continue;
    out.trial_ids.push_back(candidates[c].trial_id);
    out.weights.push_back(weight[c] / bags);
    members.push_back(&candidates[c]);
  }
  out.selection_score =
      Score(metric, Average(members, out.weights, labels.size() * classes), labels, classes);
  return out;
}

StatusOr<Ensemble> TopK(const std::vector<Predictions>& candidates,
                        const std::vector<int32_t>& labels, int classes, int k, Metric metric) {
  SF_RETURN_IF_ERROR(Check(candidates, labels, classes, k, "top-k averaging"));
  std::vector<std::pair<double, size_t>> ranked;
  for (size_t c = 0; c < candidates.size(); ++c) {
    ranked.push_back({-Score(metric, candidates[c].probs, labels, classes), c});
  }
  std::stable_sort(ranked.begin(), ranked.end());
  Ensemble e;
  std::vector<const Predictions*> members;
  const size_t take = std::min(ranked.size(), static_cast<size_t>(k));
  for (size_t i = 0; i < take; ++i) {
    members.push_back(&candidates[ranked[i].second]);
    e.trial_ids.push_back(candidates[ranked[i].second].trial_id);
    e.weights.push_back(1.0 / static_cast<double>(take));
  }
  e.selection_score =
      Score(metric, Average(members, e.weights, labels.size() * classes), labels, classes);
  return e;
}

}  // namespace sweepfarm::selection

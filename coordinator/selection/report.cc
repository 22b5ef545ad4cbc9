#include "coordinator/selection/report.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "common/recall.h"

namespace sweepfarm::selection {

StatusOr<ClassificationReport> Classify(const std::vector<float>& probs,
                                        const std::vector<int32_t>& labels, int classes,
                                        double threshold) {
  if (classes < 2) return InvalidArgumentError("classification report: classes must be >= 2");
  if (!(threshold >= 0 && threshold < 1) || (threshold > 0 && classes != 2)) {
    return InvalidArgumentError("classification report: decision threshold " +
                                std::to_string(threshold) +
                                " (binary models only, in (0, 1); 0 for the argmax)");
  }
  if (labels.empty()) return InvalidArgumentError("classification report: no samples");
  const size_t n = labels.size(), c = static_cast<size_t>(classes);
  if (probs.size() != n * c) {
    return InvalidArgumentError("classification report: " + std::to_string(probs.size()) +
                                " probabilities for " + std::to_string(n) + " samples of " +
                                std::to_string(classes) + " classes");
  }
  ClassificationReport r;
  r.samples = static_cast<int64_t>(n);
  r.classes = classes;
  r.confusion.assign(c * c, 0);
  double loss = 0;
  for (size_t i = 0; i < n; ++i) {
    const int32_t y = labels[i];
    if (y < 0 || y >= classes) {
      return InvalidArgumentError("classification report: label " + std::to_string(y) +
                                  " of sample " + std::to_string(i) + " is out of range");
    }
    const float* row = &probs[i * c];
    const size_t predicted = threshold > 0
                                 ? (row[1] > threshold ? 1 : 0)
                                 : static_cast<size_t>(std::max_element(row, row + c) - row);
    ++r.confusion[static_cast<size_t>(y) * c + predicted];
    loss -= std::log(std::max(row[y], 1e-7f));
  }
  r.log_loss = loss / static_cast<double>(n);
  int64_t correct = 0, present = 0;
  double f1_sum = 0;
  std::vector<int64_t> hits, supports;
  for (size_t k = 0; k < c; ++k) {
    ClassMetrics m;
    const int64_t hit = r.confusion[k * c + k];
    correct += hit;
    for (size_t j = 0; j < c; ++j) {
      m.support += r.confusion[k * c + j];
      m.predicted += r.confusion[j * c + k];
    }
    m.precision = m.predicted > 0 ? static_cast<double>(hit) / static_cast<double>(m.predicted) : 0;
    m.recall = m.support > 0 ? static_cast<double>(hit) / static_cast<double>(m.support) : 0;
    m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0;
    hits.push_back(hit);
    supports.push_back(m.support);
    if (m.support > 0) {
      ++present;
      f1_sum += m.f1;
    }
    r.per_class.push_back(m);
  }
  r.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  r.balanced_accuracy = sweepfarm::BalancedAccuracy(hits, supports);
  r.macro_f1 = f1_sum / static_cast<double>(present);
  if (classes == 2 && r.per_class[0].support > 0 && r.per_class[1].support > 0) {
    // Mann-Whitney U from the ranks of the class-1 scores, tied scores sharing their mean rank.
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return probs[a * 2 + 1] < probs[b * 2 + 1]; });
    double positive_ranks = 0;
    for (size_t lo = 0; lo < n;) {
      size_t hi = lo;
      while (hi < n && probs[order[hi] * 2 + 1] == probs[order[lo] * 2 + 1]) ++hi;
      const double rank = (static_cast<double>(lo + 1) + static_cast<double>(hi)) / 2;
      for (size_t i = lo; i < hi; ++i) positive_ranks += labels[order[i]] == 1 ? rank : 0;
      lo = hi;
    }
    const double pos = static_cast<double>(r.per_class[1].support);
    const double neg = static_cast<double>(r.per_class[0].support);
    r.roc_auc = (positive_ranks - pos * (pos + 1) / 2) / (pos * neg);
  }
  return r;
}

StatusOr<TunedThreshold> TuneThreshold(const std::vector<float>& probs,
                                       const std::vector<int32_t>& labels, Metric metric,
                                       double min_recall1) {
  const size_t n = labels.size();
  if (n == 0) return InvalidArgumentError("threshold tuning: no samples");
  if (probs.size() != 2 * n) {
    return InvalidArgumentError("threshold tuning: " + std::to_string(probs.size()) +
                                " probabilities for " + std::to_string(n) +
                                " samples of a binary model");
  }
  std::vector<int64_t> support(2, 0);
  for (size_t i = 0; i < n; ++i) {
    if (labels[i] != 0 && labels[i] != 1) {
      return InvalidArgumentError("threshold tuning: label " + std::to_string(labels[i]) +
                                  " of sample " + std::to_string(i) + " is not 0 or 1");
    }
    ++support[static_cast<size_t>(labels[i])];
  }
  auto score = [&](int64_t right0, int64_t right1) {
    if (metric == Metric::kBalancedAccuracy) {
      return sweepfarm::BalancedAccuracy({right0, right1}, support);
    }
    return static_cast<double>(right0 + right1) / static_cast<double>(n);
  };
  // Samples by class-1 probability, ascending. A cut below position i calls samples [0, i) class
  // 0 and [i, n) class 1; sweeping i up moves one group of equal probabilities at a time.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return probs[a * 2 + 1] < probs[b * 2 + 1]; });
  int64_t right0 = 0, right1 = support[1];  // The cut below everything: all called class 1.
  TunedThreshold best;
  bool have = false;
  for (size_t i = 0;;) {
    const float below = i == 0 ? 0.0f : probs[order[i - 1] * 2 + 1];
    const float above = i == n ? 1.0f : probs[order[i] * 2 + 1];
    const double cut = i == 0 ? std::max(0.0, static_cast<double>(above) / 2)
                              : (static_cast<double>(below) + static_cast<double>(above)) / 2;
    const double s = score(right0, right1);
    // Thresholds must lie in (0, 1): a model whose every class-1 probability is 0 has no cut
    // below them, and none above a probability of 1.
    const bool allowed =
        static_cast<double>(right1) >= min_recall1 * static_cast<double>(support[1]);
    if (cut > 0 && cut < 1 && allowed &&
        (!have || s > best.score ||
         (s == best.score && std::abs(cut - 0.5) < std::abs(best.threshold - 0.5)))) {
      best = {cut, s, 0};
      have = true;
    }
    if (i == n) break;
    const float p = probs[order[i] * 2 + 1];
    for (; i < n && probs[order[i] * 2 + 1] == p; ++i) {
      (labels[order[i]] == 0 ? right0 : right1) += labels[order[i]] == 0 ? 1 : -1;
    }
  }
  int64_t half0 = 0, half1 = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool issue = probs[i * 2 + 1] > 0.5f;
    (labels[i] == 0 ? half0 : half1) += (labels[i] == 1) == issue ? 1 : 0;
  }
  best.at_half = score(half0, half1);
  if (!have) best = {0.5, best.at_half, best.at_half};
  return best;
}

double ScoreOf(Metric metric, const ClassificationReport& report) {
  return metric == Metric::kBalancedAccuracy ? report.balanced_accuracy : report.accuracy;
}

}  // namespace sweepfarm::selection

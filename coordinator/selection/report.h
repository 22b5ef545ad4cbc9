// What a classifier's accuracy alone hides: its confusion matrix, each class's precision and
// recall, balanced accuracy, macro F1, log loss and, for binary problems, ROC AUC. The telemetry
// escalation data are mostly faulty components (calling every component faulty scores about
// 0.78), so a model's recall on healthy components and its ranking of faults matter beside its
// accuracy. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/status.h"
#include "coordinator/selection/ensemble.h"

namespace sweepfarm::selection {

struct ClassMetrics {
  double precision = 0;   // Of the samples predicted as this class, the share that are (0: none).
  double recall = 0;      // Of the samples of this class, the share predicted as it (0: none).
  double f1 = 0;          // Harmonic mean of the two (0 when both are 0).
  int64_t support = 0;    // Samples of this class.
  int64_t predicted = 0;  // Samples predicted as this class.
};

struct ClassificationReport {
  int64_t samples = 0;
  int classes = 0;
  std::vector<int64_t> confusion;  // [true class][predicted class], row-major.
  std::vector<ClassMetrics> per_class;
  double accuracy = 0;
  double balanced_accuracy = 0;  // Mean recall over the classes that occur.
  double macro_f1 = 0;           // Mean F1 over the classes that occur.
  double log_loss = 0;           // Mean -ln p(true class), p clamped at 1e-7.
  // Binary only, when both classes occur: the probability that a random class-1 (issue) sample
  // scores above a random class-0 one by its class-1 probability (ties count half).
  std::optional<double> roc_auc;
};

// `probs`: samples x classes, row-major; the predicted class is the argmax (the first of equal
// maxima, as everywhere in the farm), or for a binary model with a decision `threshold` in (0, 1),
// class 1 exactly when its probability exceeds the threshold (0.5 decides as the argmax does).
// INVALID_ARGUMENT for sizes that disagree, fewer than two classes, no samples, a label out of
// range, or a threshold outside [0, 1) or given for more than two classes (0: the argmax).
StatusOr<ClassificationReport> Classify(const std::vector<float>& probs,
                                        const std::vector<int32_t>& labels, int classes,
                                        double threshold = 0);

// A binary model's decision threshold tuned on labelled samples (probs: samples x 2): of the
// cuts between consecutive distinct class-1 probabilities (and one below all of them), the one
// whose decisions score best by `metric`; ties go to the cut nearest 0.5, so a model the argmax
// already serves best keeps about 0.5. The calibration of cost-sensitive decisions (as
// scikit-learn's TunedThresholdClassifierCV): on data where one class dominates, an accuracy-
// trained model's argmax rarely calls the minority class. INVALID_ARGUMENT for sizes that
// disagree, no samples, or a label out of range.
struct TunedThreshold {
  double threshold = 0.5;
  double score = 0;    // Of its decisions on the samples it was tuned on.
  double at_half = 0;  // Of the argmax's decisions on the same samples.
};
// With `min_recall1` > 0 only cuts that keep at least that share of the class-1 samples called
// class 1 are considered (a cut below every probability keeps them all, so one always is).
StatusOr<TunedThreshold> TuneThreshold(const std::vector<float>& probs,
                                       const std::vector<int32_t>& labels, Metric metric,
                                       double min_recall1 = 0);

// The report's figure for `metric`: its accuracy or its balanced accuracy.
double ScoreOf(Metric metric, const ClassificationReport& report);

}  // namespace sweepfarm::selection

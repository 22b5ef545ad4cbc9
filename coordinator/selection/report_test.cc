// Classification reports on small hand-worked examples.
#include "coordinator/selection/report.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sweepfarm::selection {
namespace {

TEST(ClassifyTest, BinaryReportMatchesTheHandWorkedOne) {
  // Four issue samples (class 1), two healthy ones.
  const std::vector<int32_t> labels = {1, 1, 1, 1, 0, 0};
  const std::vector<float> probs = {0.1f, 0.9f, 0.3f, 0.7f, 0.6f,  0.4f,
                                    0.4f, 0.6f, 0.8f, 0.2f, 0.35f, 0.65f};
  auto r = Classify(probs, labels, 2);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->samples, 6);
  // Healthy: one right, one called faulty; issue: one missed, three caught.
  EXPECT_EQ(r->confusion, (std::vector<int64_t>{1, 1, 1, 3}));
  EXPECT_DOUBLE_EQ(r->accuracy, 4.0 / 6);
  EXPECT_DOUBLE_EQ(r->per_class[0].precision, 0.5);
  EXPECT_DOUBLE_EQ(r->per_class[0].recall, 0.5);
  EXPECT_DOUBLE_EQ(r->per_class[1].precision, 0.75);
  EXPECT_DOUBLE_EQ(r->per_class[1].recall, 0.75);
  EXPECT_DOUBLE_EQ(r->per_class[1].f1, 0.75);
  EXPECT_EQ(r->per_class[1].support, 4);
  EXPECT_EQ(r->per_class[1].predicted, 4);
  EXPECT_DOUBLE_EQ(r->balanced_accuracy, 0.625);
  EXPECT_DOUBLE_EQ(r->macro_f1, 0.625);
  // Issue scores 0.9, 0.7, 0.4, 0.6 against healthy 0.2, 0.65: 6 of 8 pairs ordered.
  ASSERT_TRUE(r->roc_auc.has_value());
  EXPECT_DOUBLE_EQ(*r->roc_auc, 0.75);
  const double loss = -(std::log(0.9f) + std::log(0.7f) + std::log(0.4f) + std::log(0.6f) +
                        std::log(0.8f) + std::log(0.35f)) /
                      6;
  EXPECT_NEAR(r->log_loss, loss, 1e-6);
}

TEST(ClassifyTest, TiesShareRanksAndEmptyPredictionsScoreZero) {
  // Every sample scored 0.5: argmax is the first class, the ranking says nothing.
  const std::vector<int32_t> labels = {1, 0, 1, 1};
  const std::vector<float> probs(8, 0.5f);
  auto r = Classify(probs, labels, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->confusion, (std::vector<int64_t>{1, 0, 3, 0}));
  EXPECT_DOUBLE_EQ(*r->roc_auc, 0.5);
  EXPECT_EQ(r->per_class[1].predicted, 0);
  EXPECT_DOUBLE_EQ(r->per_class[1].precision, 0);
  EXPECT_DOUBLE_EQ(r->per_class[1].f1, 0);
  EXPECT_DOUBLE_EQ(r->per_class[0].precision, 0.25);
  EXPECT_DOUBLE_EQ(r->balanced_accuracy, 0.5);  // Recall 1 and 0.
  // A perfect ranking with a wrong threshold: AUC 1, accuracy not.
  auto ranked = Classify({0.9f, 0.1f, 0.55f, 0.45f, 0.6f, 0.4f}, {0, 1, 1}, 2);
  ASSERT_TRUE(ranked.ok());
  EXPECT_DOUBLE_EQ(*ranked->roc_auc, 1.0);
  EXPECT_DOUBLE_EQ(ranked->accuracy, 1.0 / 3);
}

TEST(ClassifyTest, ManyClassesAverageOverThePresentOnesAndHaveNoAuc) {
  // Three classes; class 2 never occurs but is predicted once.
  const std::vector<int32_t> labels = {0, 0, 1, 1};
  const std::vector<float> probs = {0.8f, 0.1f, 0.1f, 0.2f, 0.1f, 0.7f,
                                    0.1f, 0.8f, 0.1f, 0.3f, 0.6f, 0.1f};
  auto r = Classify(probs, labels, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->confusion, (std::vector<int64_t>{1, 0, 1, 0, 2, 0, 0, 0, 0}));
  EXPECT_FALSE(r->roc_auc.has_value());
  EXPECT_EQ(r->per_class[2].predicted, 1);
  EXPECT_DOUBLE_EQ(r->per_class[2].precision, 0);
  EXPECT_DOUBLE_EQ(r->balanced_accuracy, (0.5 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(r->macro_f1, (2 * 1.0 * 0.5 / 1.5 + 1.0) / 2);
  // One class only in the labels of a binary problem: no AUC either.
  auto one = Classify({0.2f, 0.8f, 0.7f, 0.3f}, {1, 1}, 2);
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one->roc_auc.has_value());
}

TEST(ClassifyTest, BadInputIsRefusedNamingWhat) {
  EXPECT_EQ(Classify({0.5f, 0.5f}, {0}, 1).status().message(),
            "classification report: classes must be >= 2");
  EXPECT_EQ(Classify({}, {}, 2).status().message(), "classification report: no samples");
  EXPECT_EQ(Classify({0.5f, 0.5f, 0.5f}, {0, 1}, 2).status().message(),
            "classification report: 3 probabilities for 2 samples of 2 classes");
  EXPECT_EQ(Classify({0.5f, 0.5f, 0.5f, 0.5f}, {0, 2}, 2).status().message(),
            "classification report: label 2 of sample 1 is out of range");
}

// The hand-worked example's issue probabilities, sorted: 0.2 (healthy), 0.4, 0.6 (issue), 0.65
// (healthy), 0.7, 0.9 (issue).
const std::vector<int32_t> kLabels = {1, 1, 1, 1, 0, 0};
const std::vector<float> kProbs = {0.1f, 0.9f, 0.3f, 0.7f, 0.6f,  0.4f,
                                   0.4f, 0.6f, 0.8f, 0.2f, 0.35f, 0.65f};

TEST(ClassifyTest, AThresholdDecidesClassOneAboveIt) {
  auto low = Classify(kProbs, kLabels, 2, 0.3);
  ASSERT_TRUE(low.ok()) << low.status().message();
  // Only the 0.2 sample is called healthy.
  EXPECT_EQ(low->confusion, (std::vector<int64_t>{1, 1, 0, 4}));
  EXPECT_DOUBLE_EQ(low->accuracy, 5.0 / 6);
  EXPECT_DOUBLE_EQ(low->balanced_accuracy, 0.75);
  // 0.5 decides as the argmax; the AUC and log loss do not depend on the threshold.
  auto half = Classify(kProbs, kLabels, 2, 0.5);
  auto argmax = Classify(kProbs, kLabels, 2);
  ASSERT_TRUE(half.ok() && argmax.ok());
  EXPECT_EQ(half->confusion, argmax->confusion);
  EXPECT_DOUBLE_EQ(*low->roc_auc, *argmax->roc_auc);
  EXPECT_DOUBLE_EQ(low->log_loss, argmax->log_loss);
  // A probability equal to the threshold is not above it.
  auto at = Classify(kProbs, kLabels, 2, 0.65f);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->per_class[1].predicted, 2);
  EXPECT_NE(Classify(kProbs, kLabels, 2, 1.0).status().message().find("decision threshold"),
            std::string::npos);
  EXPECT_FALSE(Classify({0.2f, 0.3f, 0.5f}, {2}, 3, 0.4).ok());
}

TEST(TuneThresholdTest, PicksTheBestCutByTheMetricNearestToOneHalf) {
  // Balanced accuracy: the cuts at 0.3 (healthy recall 1/2, issue 4/4) and at 0.675 (2/2, 2/4)
  // both give 0.75; 0.675 is nearer 0.5. The argmax's cut gives 0.625.
  auto balanced = TuneThreshold(kProbs, kLabels, Metric::kBalancedAccuracy);
  ASSERT_TRUE(balanced.ok()) << balanced.status().message();
  EXPECT_DOUBLE_EQ(balanced->threshold, (double{0.65f} + double{0.7f}) / 2);
  EXPECT_DOUBLE_EQ(balanced->score, 0.75);
  EXPECT_DOUBLE_EQ(balanced->at_half, 0.625);
  // Accuracy: only the cut at 0.3 reaches 5 of 6.
  auto accuracy = TuneThreshold(kProbs, kLabels, Metric::kAccuracy);
  ASSERT_TRUE(accuracy.ok());
  EXPECT_DOUBLE_EQ(accuracy->threshold, (double{0.2f} + double{0.4f}) / 2);
  EXPECT_DOUBLE_EQ(accuracy->score, 5.0 / 6);
  EXPECT_DOUBLE_EQ(accuracy->at_half, 4.0 / 6);
  // What it reports is what Classify finds at that threshold.
  auto check = Classify(kProbs, kLabels, 2, balanced->threshold);
  ASSERT_TRUE(check.ok());
  EXPECT_DOUBLE_EQ(check->balanced_accuracy, balanced->score);
}

TEST(TuneThresholdTest, AFloorOnIssueRecallLeavesOnlyTheCutsThatKeepIt) {
  // All four issue samples kept: only the cuts at 0.1 (balanced 0.5) and 0.3 (0.75) qualify.
  auto all = TuneThreshold(kProbs, kLabels, Metric::kBalancedAccuracy, 1.0);
  ASSERT_TRUE(all.ok());
  EXPECT_DOUBLE_EQ(all->threshold, (double{0.2f} + double{0.4f}) / 2);
  EXPECT_DOUBLE_EQ(all->score, 0.75);
  // Three of four: the cut at 0.5 (0.625) joins them, and 0.3 still wins.
  auto most = TuneThreshold(kProbs, kLabels, Metric::kBalancedAccuracy, 0.75);
  ASSERT_TRUE(most.ok());
  EXPECT_DOUBLE_EQ(most->threshold, (double{0.2f} + double{0.4f}) / 2);
  // Half: the unconstrained best (0.675, two of four kept) is allowed again.
  auto half = TuneThreshold(kProbs, kLabels, Metric::kBalancedAccuracy, 0.5);
  ASSERT_TRUE(half.ok());
  EXPECT_DOUBLE_EQ(half->threshold, (double{0.65f} + double{0.7f}) / 2);
  auto check = Classify(kProbs, kLabels, 2, all->threshold);
  ASSERT_TRUE(check.ok());
  EXPECT_DOUBLE_EQ(check->per_class[1].recall, 1.0);
}

TEST(TuneThresholdTest, SeparableDataAndDegenerateScores) {
  // Perfectly separated: any cut in the gap scores 1; the midpoint of the gap is taken.
  auto separated =
      TuneThreshold({0.9f, 0.1f, 0.8f, 0.2f, 0.3f, 0.7f}, {0, 0, 1}, Metric::kAccuracy);
  ASSERT_TRUE(separated.ok());
  EXPECT_DOUBLE_EQ(separated->score, 1.0);
  EXPECT_DOUBLE_EQ(separated->threshold, (double{0.2f} + double{0.7f}) / 2);
  // Every class-1 probability 0: no cut below them lies in (0, 1); the one above is 0.5.
  auto zeros = TuneThreshold({1, 0, 1, 0}, {0, 1}, Metric::kBalancedAccuracy);
  ASSERT_TRUE(zeros.ok());
  EXPECT_GT(zeros->threshold, 0.0);
  EXPECT_LT(zeros->threshold, 1.0);
  EXPECT_DOUBLE_EQ(zeros->score, 0.5);
  EXPECT_FALSE(TuneThreshold({}, {}, Metric::kAccuracy).ok());
  EXPECT_NE(TuneThreshold({0.5f, 0.5f}, {2}, Metric::kAccuracy).status().message().find("label 2"),
            std::string::npos);
  EXPECT_NE(TuneThreshold({0.5f, 0.5f, 0.1f}, {0}, Metric::kAccuracy)
                .status()
                .message()
                .find("3 probabilities for 1 samples"),
            std::string::npos);
}

}  // namespace
}  // namespace sweepfarm::selection

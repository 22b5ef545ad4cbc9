#include "coordinator/selection/ensemble.h"

#include <gtest/gtest.h>

#include <map>

namespace sweepfarm::selection {
namespace {

// Binary problems written as P(class 1) per sample; probs become [1-p, p] rows.
Predictions Binary(int64_t id, const std::vector<float>& p1) {
  Predictions p;
  p.trial_id = id;
  for (float v : p1) {
    p.probs.push_back(1 - v);
    p.probs.push_back(v);
  }
  return p;
}

// On imbalanced labels the objective decides: the model that calls nearly everything class 1
// has the better accuracy, the one that finds both class-0 samples the better balanced accuracy.
TEST(EnsembleTest, TheMetricChoosesTheMembers) {
  const std::vector<int32_t> y{1, 1, 1, 1, 1, 1, 0, 0};
  const std::vector<Predictions> c{
      Binary(1, {0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.9f, 0.2f, 0.7f}),   // 7/8; recalls 0.5, 1.
      Binary(2, {0.9f, 0.9f, 0.9f, 0.9f, 0.3f, 0.3f, 0.2f, 0.2f})};  // 6/8; recalls 1, 4/6.
  EXPECT_DOUBLE_EQ(Accuracy(c[0].probs, y, 2), 7.0 / 8);
  EXPECT_DOUBLE_EQ(BalancedAccuracy(c[0].probs, y, 2), 0.75);
  EXPECT_DOUBLE_EQ(BalancedAccuracy(c[1].probs, y, 2), (1 + 4.0 / 6) / 2);
  EXPECT_DOUBLE_EQ(Score(Metric::kBalancedAccuracy, c[1].probs, y, 2), (1 + 4.0 / 6) / 2);
  auto by_accuracy = TopK(c, y, 2, 1);
  auto by_balance = TopK(c, y, 2, 1, Metric::kBalancedAccuracy);
  ASSERT_TRUE(by_accuracy.ok() && by_balance.ok());
  EXPECT_EQ(by_accuracy->trial_ids, std::vector<int64_t>{1});
  EXPECT_EQ(by_balance->trial_ids, std::vector<int64_t>{2});
  EXPECT_DOUBLE_EQ(by_balance->selection_score, (1 + 4.0 / 6) / 2);
  auto greedy = GreedySelect(c, y, 2, 1, Metric::kBalancedAccuracy);
  ASSERT_TRUE(greedy.ok());
  EXPECT_EQ(greedy->trial_ids, std::vector<int64_t>{2});
  EXPECT_EQ(MetricNamed(""), Metric::kAccuracy);
  EXPECT_EQ(MetricNamed("selection_balanced_accuracy"), Metric::kBalancedAccuracy);
  EXPECT_FALSE(MetricNamed("holdout_accuracy").has_value());
}

TEST(EnsembleTest, AccuracyAndAverage) {
  std::vector<int32_t> y{1, 0, 1, 1};
  Predictions a = Binary(1, {0.9f, 0.2f, 0.4f, 0.8f});
  EXPECT_DOUBLE_EQ(Accuracy(a.probs, y, 2), 0.75);
  Predictions b = Binary(2, {0.1f, 0.2f, 0.8f, 0.6f});
  auto avg = Average({&a, &b}, {0.5, 0.5}, a.probs.size());
  EXPECT_FLOAT_EQ(avg[1], 0.5f);  // Sample 0: (0.9 + 0.1) / 2.
  EXPECT_FLOAT_EQ(avg[5], 0.6f);  // Sample 2: (0.4 + 0.8) / 2.
}

// Three models, each confidently right where another is unsure-and-wrong: no single model beats
// 4/6, but models 10 and 11 averaged are right everywhere (each of their errors, 0.2 or 0.8, is
// outweighed by the other's 0.9 or 0.1), and greedy selection finds that pair at its second step.
// Adding 12 keeps the accuracy at 1 and lowers the selection log loss (sample 0: 0.55 -> 0.67), so
// the tie goes to the three.
TEST(EnsembleTest, GreedyFindsComplementaryMembers) {
  std::vector<int32_t> y{1, 1, 1, 0, 0, 0};
  std::vector<Predictions> c{Binary(10, {0.2f, 0.9f, 0.9f, 0.1f, 0.1f, 0.8f}),
                             Binary(11, {0.9f, 0.2f, 0.9f, 0.8f, 0.1f, 0.1f}),
                             Binary(12, {0.9f, 0.9f, 0.2f, 0.1f, 0.8f, 0.1f}),
                             Binary(13, {0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f})};
  for (const auto& p : c) EXPECT_LE(Accuracy(p.probs, y, 2), 4.0 / 6);
  auto pair = Average({&c[0], &c[1]}, {0.5, 0.5}, c[0].probs.size());
  auto three = Average({&c[0], &c[1], &c[2]}, {1.0 / 3, 1.0 / 3, 1.0 / 3}, c[0].probs.size());
  EXPECT_DOUBLE_EQ(Accuracy(pair, y, 2), 1.0);
  EXPECT_LT(LogLoss(three, y, 2), LogLoss(pair, y, 2));
  auto e = GreedySelect(c, y, 2, 5);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_DOUBLE_EQ(e->selection_score, 1.0);
  std::vector<int64_t> ids = e->trial_ids;
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<int64_t>{10, 11, 12}));
  for (double w : e->weights) EXPECT_NEAR(w, 1.0 / 3, 1e-12);
  double sum = 0;
  for (double w : e->weights) sum += w;
  EXPECT_NEAR(sum, 1.0, 1e-12);
}

TEST(EnsembleTest, GreedyWithReplacementWeightsTheStrongMember) {
  std::vector<int32_t> y{1, 1, 0, 0};
  // Model 1 is right everywhere; model 2 adds nothing. The best ensemble is model 1 alone.
  std::vector<Predictions> c{Binary(1, {0.8f, 0.7f, 0.3f, 0.2f}),
                             Binary(2, {0.1f, 0.9f, 0.9f, 0.1f})};
  auto e = GreedySelect(c, y, 2, 4);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->trial_ids, (std::vector<int64_t>{1}));
  EXPECT_EQ(e->weights, (std::vector<double>{1.0}));
  EXPECT_DOUBLE_EQ(e->selection_score, 1.0);
}

// Bagged selection: one bag of every candidate is greedy selection itself; with bags of half the
// candidates, each bag's greedy ensemble is worked out by hand and the result is their average.
TEST(EnsembleTest, BaggedSelectionAveragesGreedyOverBags) {
  std::vector<int32_t> y{1, 1, 1, 0, 0, 0};
  std::vector<Predictions> c{Binary(10, {0.2f, 0.9f, 0.9f, 0.1f, 0.1f, 0.8f}),
                             Binary(11, {0.9f, 0.2f, 0.9f, 0.8f, 0.1f, 0.1f}),
                             Binary(12, {0.9f, 0.9f, 0.2f, 0.1f, 0.8f, 0.1f}),
                             Binary(13, {0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f})};
  auto greedy = GreedySelect(c, y, 2, 5);
  auto one = BaggedSelect(c, y, 2, 5, Metric::kAccuracy, 1, 1.0, 7);
  ASSERT_TRUE(greedy.ok() && one.ok());
  EXPECT_EQ(one->trial_ids, greedy->trial_ids);
  EXPECT_EQ(one->weights, greedy->weights);
  EXPECT_DOUBLE_EQ(one->selection_score, greedy->selection_score);
  // Bags of two candidates: the average of each bag's own greedy ensemble.
  auto bagged = BaggedSelect(c, y, 2, 5, Metric::kAccuracy, 6, 0.5, 7);
  ASSERT_TRUE(bagged.ok()) << bagged.status().ToString();
  std::map<int64_t, double> expected;
  const auto bags = Bags(c.size(), 6, 0.5, 7);
  ASSERT_EQ(bags.size(), 6u);
  for (const auto& members : bags) {
    ASSERT_EQ(members.size(), 2u);
    EXPECT_LT(members[0], members[1]);
    auto e = GreedySelect({c[members[0]], c[members[1]]}, y, 2, 5);
    ASSERT_TRUE(e.ok());
    for (size_t m = 0; m < e->trial_ids.size(); ++m) expected[e->trial_ids[m]] += e->weights[m] / 6;
  }
  ASSERT_EQ(bagged->trial_ids.size(), expected.size());
  for (size_t m = 0; m < bagged->trial_ids.size(); ++m) {
    EXPECT_NEAR(bagged->weights[m], expected[bagged->trial_ids[m]], 1e-12);
  }
  double sum = 0;
  for (double w : bagged->weights) {
    EXPECT_GT(w, 0);
    sum += w;
  }
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_EQ(BaggedSelect(c, y, 2, 5, Metric::kAccuracy, 6, 0.5, 7)->weights, bagged->weights);
  EXPECT_NE(BaggedSelect(c, y, 2, 5, Metric::kAccuracy, 6, 0.5, 8)->weights, bagged->weights);
  std::vector<const Predictions*> members;
  for (int64_t id : bagged->trial_ids) members.push_back(&c[id - 10]);
  EXPECT_DOUBLE_EQ(bagged->selection_score,
                   Accuracy(Average(members, bagged->weights, c[0].probs.size()), y, 2));
  EXPECT_FALSE(BaggedSelect(c, y, 2, 5, Metric::kAccuracy, 0, 0.5, 7).ok());
  EXPECT_FALSE(BaggedSelect(c, y, 2, 5, Metric::kAccuracy, 3, 1.5, 7).ok());
}

TEST(EnsembleTest, TopKAveragesTheBest) {
  std::vector<int32_t> y{1, 0, 1};
  std::vector<Predictions> c{Binary(1, {0.9f, 0.1f, 0.9f}), Binary(2, {0.1f, 0.9f, 0.1f}),
                             Binary(3, {0.6f, 0.4f, 0.4f})};
  auto e = TopK(c, y, 2, 2);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->trial_ids, (std::vector<int64_t>{1, 3}));
  EXPECT_DOUBLE_EQ(e->weights[0], 0.5);
  EXPECT_DOUBLE_EQ(e->selection_score, 1.0);
}

TEST(EnsembleTest, DecodesHalfPrecision) {
  // 1.0 = 0x3c00, 0.5 = 0x3800, -2.0 = 0xc000, 0.000060976 (subnormal max-ish) = 0x03ff.
  std::string bytes{'\x00', '\x3c', '\x00', '\x38', '\x00', '\xc0', '\xff', '\x03'};
  auto v = HalfToFloat(bytes);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_FLOAT_EQ(v[0], 1.0f);
  EXPECT_FLOAT_EQ(v[1], 0.5f);
  EXPECT_FLOAT_EQ(v[2], -2.0f);
  EXPECT_NEAR(v[3], 1023.0 / (1 << 24), 1e-12);
}

TEST(EnsembleTest, RejectsMismatchedInput) {
  std::vector<int32_t> y{1, 0};
  auto e = GreedySelect({Binary(7, {0.5f})}, y, 2, 3);
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("trial 7 has 2 probabilities, expected 4"),
            std::string::npos);
  EXPECT_FALSE(TopK({}, y, 2, 1).ok());
  EXPECT_FALSE(GreedySelect({Binary(1, {0.5f, 0.5f})}, {1, 3}, 2, 1).ok());
}

}  // namespace
}  // namespace sweepfarm::selection

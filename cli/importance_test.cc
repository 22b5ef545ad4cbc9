#include "cli/importance.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sweepfarm::cli {
namespace {

TEST(ImportanceTest, SpearmanRanksAndTies) {
  EXPECT_DOUBLE_EQ(Spearman({1, 2, 3, 4}, {1, 8, 27, 64}), 1.0);  // Monotonic, not linear.
  EXPECT_DOUBLE_EQ(Spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  // Ties share their average rank: x ranks 1.5 1.5 3.5 3.5, so r = 4 / sqrt(4 * 5).
  EXPECT_NEAR(Spearman({1, 1, 2, 2}, {1, 2, 3, 4}), 4 / std::sqrt(20.0), 1e-12);
  EXPECT_EQ(Spearman({1, 2, 3}, {5, 5, 5}), 0.0);  // A constant score says nothing.
}

TEST(ImportanceTest, EffectsFindTheParameterThatMatters) {
  std::vector<Observation> obs;
  for (int i = 0; i < 12; ++i) {
    Observation o;
    o.params["step_size"] = 0.001 * (i + 1);  // The score rises with it.
    o.params["seed"] = (i * 5) % 12;          // A permutation: unrelated to the score.
    o.params["data_size"] = 1.0;              // Not varied: not reported.
    o.params["issue_rate"] = i < 4 ? 0.4 : (i < 8 ? 0.5 : 0.6);  // Three values.
    o.score = 0.5 + 0.01 * i;
    obs.push_back(o);
  }
  std::vector<ParamEffect> e = ParamEffects(obs, 4);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].name, "step_size");
  EXPECT_DOUBLE_EQ(e[0].spearman, 1.0);
  EXPECT_EQ(e[0].distinct, 12);
  ASSERT_EQ(e[0].groups.size(), 4u);  // Quantiles: 3 trials each.
  EXPECT_EQ(e[0].groups[0].trials, 3);
  EXPECT_DOUBLE_EQ(e[0].groups[0].min, 0.001);
  EXPECT_DOUBLE_EQ(e[0].groups[0].max, 0.003);
  EXPECT_NEAR(e[0].groups[0].mean_score, 0.51, 1e-12);
  EXPECT_EQ(e[0].best_group, 3);
  // issue_rate: one group per value, ties together; ranked above the unrelated seed.
  EXPECT_EQ(e[1].name, "issue_rate");
  ASSERT_EQ(e[1].groups.size(), 3u);
  EXPECT_EQ(e[1].groups[1].trials, 4);
  EXPECT_DOUBLE_EQ(e[1].groups[1].min, 0.5);
  EXPECT_DOUBLE_EQ(e[1].groups[1].max, 0.5);
  EXPECT_EQ(e[1].best_group, 2);
  EXPECT_EQ(e[2].name, "seed");
  EXPECT_LT(std::fabs(e[2].spearman), 0.5);
  int total = 0;
  for (const auto& g : e[2].groups) total += g.trials;
  EXPECT_EQ(total, 12);
}

TEST(ImportanceTest, QuantileGroupsKeepEqualValuesTogether) {
  std::vector<Observation> obs;
  const double values[] = {1, 1, 1, 1, 1, 2, 3, 4, 5, 6};
  for (double v : values) obs.push_back({{{"epochs", v}}, v / 10});
  std::vector<ParamEffect> e = ParamEffects(obs, 4);
  ASSERT_EQ(e.size(), 1u);
  ASSERT_FALSE(e[0].groups.empty());
  EXPECT_EQ(e[0].groups[0].trials, 5);  // All the 1s, though a quarter is 2.5 trials.
  EXPECT_DOUBLE_EQ(e[0].groups[0].max, 1);
  int total = 0;
  for (size_t g = 0; g < e[0].groups.size(); ++g) {
    total += e[0].groups[g].trials;
    if (g > 0) {
      EXPECT_GT(e[0].groups[g].min, e[0].groups[g - 1].max);
    }
  }
  EXPECT_EQ(total, 10);
}

}  // namespace
}  // namespace sweepfarm::cli

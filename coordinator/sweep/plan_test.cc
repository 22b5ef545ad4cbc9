#include "coordinator/sweep/plan.h"

#include <gtest/gtest.h>

namespace sweepfarm::sweep {
namespace {

v1::TrialParams Trial(int epochs, double step_size, std::vector<int> channels = {}) {
  v1::TrialParams t;
  t.set_epochs(epochs);
  t.set_step_size(step_size);
  for (int c : channels) t.add_channels(c);
  return t;
}

TEST(PlanTest, TrialsDifferingOnlyInEpochsCountTheLongestRunOnce) {
  std::vector<v1::TrialParams> trials = {Trial(10, 0.01), Trial(50, 0.01), Trial(30, 0.02)};
  PlanSummary s = SummarizePlan(trials, {"seed"});
  EXPECT_EQ(s.model_epochs, 90);
  EXPECT_EQ(s.shared_run_model_epochs, 50 + 30);
  EXPECT_EQ(s.origins.at("seed"), 1);
  EXPECT_EQ(s.origins.at("search"), 2) << "trials past the origins listed are the search's";
}

TEST(PlanTest, ArchitecturesAreCountedApart) {
  v1::TrialParams mlp = Trial(5, 0.01);
  mlp.set_architecture("mlp");
  std::vector<v1::TrialParams> trials = {Trial(5, 0.01, {16, 32}), Trial(5, 0.02, {16, 32}),
                                         Trial(5, 0.01), mlp};
  PlanSummary s = SummarizePlan(trials, {});
  EXPECT_EQ(s.architectures.at("channels=16x32"), 2);
  EXPECT_EQ(s.architectures.at("the sweep's architecture"), 1);
  EXPECT_EQ(s.architectures.at("mlp"), 1);
  v1::TrialParams cnn = Trial(5, 0.01, {8});
  cnn.set_kernel_size(5);
  cnn.set_architecture("cnn1d");
  EXPECT_EQ(ArchitectureLabel(cnn), "cnn1d channels=8 kernel_size=5");
}

}  // namespace
}  // namespace sweepfarm::sweep

#include "engine/optimizer.h"

#include <gtest/gtest.h>

namespace sweepfarm::engine {
namespace {

// Two models fused along the first dimension, each with its own step size and weight decay,
// against LibTorch's own optimiser run on each model alone with the same gradients.
void ExpectMatchesTorchOptim(OptimizerKind kind) {
  torch::manual_seed(3);
  const std::vector<double> lrs{1e-2, 3e-3}, decays{1e-2, 0};
  torch::Tensor w = torch::randn({2, 5, 3});
  std::vector<torch::Tensor> fused{w.clone()}, first{torch::zeros_like(w)}, second;
  if (HasSecondMoment(kind)) second.push_back(torch::zeros_like(w));
  std::vector<torch::Tensor> alone;
  std::vector<std::unique_ptr<torch::optim::Optimizer>> reference;
  for (int k = 0; k < 2; ++k) {
    alone.push_back(w[k].clone().set_requires_grad(true));
    if (kind == OptimizerKind::kSgd) {
      reference.push_back(std::make_unique<torch::optim::SGD>(
          std::vector<torch::Tensor>{alone[k]},
          torch::optim::SGDOptions(lrs[k]).momentum(0.9).weight_decay(decays[k])));
    } else if (kind == OptimizerKind::kAdam) {
      reference.push_back(std::make_unique<torch::optim::Adam>(
          std::vector<torch::Tensor>{alone[k]},
          torch::optim::AdamOptions(lrs[k]).weight_decay(decays[k])));
    } else {
      reference.push_back(std::make_unique<torch::optim::AdamW>(
          std::vector<torch::Tensor>{alone[k]},
          torch::optim::AdamWOptions(lrs[k]).weight_decay(decays[k])));
    }
  }
  OptimizerSpec spec;
  spec.kind = kind;
  const torch::Tensor lr = torch::tensor(lrs, torch::kFloat64).to(torch::kFloat32);
  const torch::Tensor wd = torch::tensor(decays, torch::kFloat64).to(torch::kFloat32);
  for (int step = 1; step <= 6; ++step) {
    torch::Tensor g = torch::randn({2, 5, 3});
    ApplyUpdate(spec, fused, {g}, lr, wd, torch::full({}, step), first, second);
    for (int k = 0; k < 2; ++k) {
      alone[k].mutable_grad() = g[k].clone();
      reference[k]->step();
    }
  }
  for (int k = 0; k < 2; ++k) {
    const double diff = (fused[0][k] - alone[k].detach()).abs().max().item<double>();
    EXPECT_LT(diff, 1e-6) << NameOf(kind) << " model " << k;
  }
  // It really moved, and the two models apart.
  EXPECT_GT((fused[0] - w).abs().max().item<double>(), 1e-3);
}

TEST(OptimizerTest, SgdMatchesTorchOptim) { ExpectMatchesTorchOptim(OptimizerKind::kSgd); }
TEST(OptimizerTest, AdamMatchesTorchOptim) { ExpectMatchesTorchOptim(OptimizerKind::kAdam); }
TEST(OptimizerTest, AdamWMatchesTorchOptim) { ExpectMatchesTorchOptim(OptimizerKind::kAdamW); }

TEST(OptimizerTest, SchedulesFollowEachModelsOwnProgress) {
  const torch::Tensor total = torch::tensor({100, 40}, torch::kInt64);
  auto at = [&](RateSchedule sched, int64_t s) {
    torch::Tensor f = ScheduleFactor(sched, torch::full({}, s, torch::kInt64), total);
    return std::make_pair(f[0].item<double>(), f[1].item<double>());
  };
  EXPECT_EQ(at(RateSchedule::kConstant, 70), std::make_pair(1.0, 1.0));
  EXPECT_NEAR(at(RateSchedule::kCosine, 0).first, 1.0, 1e-6);
  EXPECT_NEAR(at(RateSchedule::kCosine, 20).second, 0.5, 1e-6);  // Half of model 1's 40.
  EXPECT_NEAR(at(RateSchedule::kCosine, 50).first, 0.5, 1e-6);
  EXPECT_NEAR(at(RateSchedule::kCosine, 40).second, 0.0, 1e-6);  // Ended: stays at 0.
  EXPECT_NEAR(at(RateSchedule::kCosine, 99).first, 0.5 * (1 + std::cos(M_PI * 0.99)), 1e-6);
  EXPECT_NEAR(at(RateSchedule::kStep, 49).first, 1.0, 1e-7);
  EXPECT_NEAR(at(RateSchedule::kStep, 50).first, 0.1, 1e-7);
  EXPECT_NEAR(at(RateSchedule::kStep, 75).first, 0.01, 1e-8);
  EXPECT_NEAR(at(RateSchedule::kStep, 30).second, 0.01, 1e-8);
}

TEST(OptimizerTest, NamesRoundTripAndUnknownOnesAreRefused) {
  for (const auto& n : OptimizerNames()) EXPECT_EQ(NameOf(*ParseOptimizer(n)), n);
  for (const auto& n : ScheduleNames()) EXPECT_EQ(NameOf(*ParseSchedule(n)), n);
  auto bad = ParseOptimizer("rmsprop");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'rmsprop' (expected sgd, adam or adamw)"),
            std::string::npos);
  EXPECT_FALSE(ParseSchedule("linear").ok());
}

}  // namespace
}  // namespace sweepfarm::engine

#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <set>

#include "common/rng.h"
#include "engine/telemetry.h"

namespace sweepfarm::engine {
namespace {

TEST(SamplerTest, TensorSplitMixMatchesScalar) {
  std::vector<int64_t> in{0, 1, -1, 123456789, static_cast<int64_t>(0x8000000000000000ULL)};
  torch::Tensor out = SplitMix64Tensor(torch::tensor(in, torch::kInt64));
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(static_cast<uint64_t>(out[i].item<int64_t>()),
              SplitMix64(static_cast<uint64_t>(in[i])));
  }
}

TEST(SamplerTest, ResamplesToTheRequestedIssueRate) {
  Split lab = SimulateTelemetry(Distribution::kLab, 5, 3000);
  std::vector<MixConfig> mixes{{1, 0.1, 1.0}, {2, 0.5, 1.0}, {3, 0.9, 0.5}, {4, -1, 1.0}};
  auto s = IndexSampler::Create(lab, true, 64, mixes, torch::kCPU);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::vector<double> sums(mixes.size(), 0);
  const int steps = 200;
  for (int st = 0; st < steps; ++st) {
    torch::Tensor idx = s->Indices(torch::tensor(st, torch::kInt64));
    torch::Tensor labels = lab.y.index_select(0, idx.reshape(-1)).view({4, 64}).to(torch::kFloat64);
    for (size_t k = 0; k < mixes.size(); ++k) sums[k] += labels[k].mean().item<double>();
  }
  double natural = lab.y.to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(sums[0] / steps, 0.1, 0.02);
  EXPECT_NEAR(sums[1] / steps, 0.5, 0.02);
  EXPECT_NEAR(sums[2] / steps, 0.9, 0.02);
  EXPECT_NEAR(sums[3] / steps, natural, 0.03);
}

TEST(SamplerTest, DataSizeLimitsTheSubsetAndStreamsDoNotDependOnK) {
  Split lab = SimulateTelemetry(Distribution::kLab, 5, 1000);
  auto alone = IndexSampler::Create(lab, true, 32, {{9, 0.5, 0.2}}, torch::kCPU);
  auto bundled = IndexSampler::Create(lab, true, 32, {{1, 0.5, 1.0}, {9, 0.5, 0.2}}, torch::kCPU);
  ASSERT_TRUE(alone.ok() && bundled.ok());
  EXPECT_EQ(alone->subset_sizes()[0], 200);
  std::set<int64_t> seen;
  for (int st = 0; st < 50; ++st) {
    torch::Tensor step = torch::tensor(st, torch::kInt64);
    torch::Tensor a = alone->Indices(step)[0];
    EXPECT_TRUE(torch::equal(a, bundled->Indices(step)[1]));
    for (int i = 0; i < 32; ++i) seen.insert(a[i].item<int64_t>());
  }
  EXPECT_LE(seen.size(), 200u);
  EXPECT_GT(seen.size(), 150u);
}

// Many steps at once are the steps one at a time (CPU training draws them in chunks).
TEST(SamplerTest, IndicesForStepsEqualsOneStepAtATime) {
  Split lab = SimulateTelemetry(Distribution::kLab, 5, 1000);
  auto s = IndexSampler::Create(lab, true, 16, {{1, 0.5, 1.0}, {9, 0.7, 0.3}}, torch::kCPU);
  ASSERT_TRUE(s.ok());
  torch::Tensor many = s->IndicesForSteps(37, 20);
  ASSERT_EQ(many.sizes(), (std::vector<int64_t>{20, 2, 16}));
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(torch::equal(many[i], s->Indices(torch::tensor(37 + i, torch::kInt64)))) << i;
  }
}

TEST(SamplerTest, RejectsMixesThatCannotBeDrawn) {
  Split s;
  s.x = torch::zeros({10, 4, 2});
  s.y = torch::zeros({10}, torch::kInt64);  // No issue samples at all.
  auto r = IndexSampler::Create(s, true, 4, {{1, 0.5, 1.0}}, torch::kCPU);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("no issue samples"), std::string::npos);
}

}  // namespace
}  // namespace sweepfarm::engine

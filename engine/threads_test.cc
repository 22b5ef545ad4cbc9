// The engine's concurrent code at its smallest: the fused kernels' host emulation (one host
// thread per CUDA thread of a block, so a missing barrier is a data race) and the CPU trainer's
// lanes (sub-bundles trained side by side on threads). Two models and a few steps each: enough to
// run every barrier and every shared buffer of a step, small enough for ThreadSanitizer, which runs
// this binary alone (ctest label "threads", deploy/local/sanitize.sh). The long equivalence checks
// of the same paths (20-60 steps, eight models) are in trainer_test.cc and run once, unsanitised.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/telemetry.h"
#include "engine/trainer.h"
#include "engine/trainer_testing.h"

namespace sweepfarm::engine {
namespace {

using testing::RandomImages;
using testing::SmallTelemetry;

TrainOptions Options(const std::string& arch) {
  TrainOptions o;
  o.arch.name = arch;
  o.batch_size = 32;
  o.momentum = 0;
  o.tf32 = false;
  return o;
}

// Two models on `data_size` of the training split, one epoch; a binary data set's first model
// resamples to half issues.
std::vector<ModelConfig> TwoConfigs(double data_size, bool binary = true) {
  return {ModelConfig{11, 1e-2, binary ? 0.5 : -1, data_size, {1}},
          ModelConfig{12, 5e-3, -1, data_size, {1}}};
}

// Trains fused and one at a time; returns the largest relative parameter difference.
double FusedAgainstSequential(const Dataset& data, const std::vector<ModelConfig>& configs,
                              const TrainOptions& fused_options) {
  auto fused = TrainFused(data, configs, fused_options);
  EXPECT_TRUE(fused.ok()) << fused.status().ToString();
  TrainOptions reference = fused_options;
  reference.compute = torch::kFloat32;
  reference.kernels = TrainOptions::Kernels::kAuto;
  auto seq = TrainSequential(data, configs, reference);
  EXPECT_TRUE(seq.ok()) << seq.status().ToString();
  if (!fused.ok() || !seq.ok()) return INFINITY;
  EXPECT_GE(fused->fused_steps, 3);
  return MaxRelativeParamDifference(fused->final_params, seq->final_params);
}

// data_size 0.15 of 640 samples at batch 32: three steps.
TEST(ThreadsTest, Cnn1dStepKernelFloat32) {
  auto options = Options("cnn1d");
  options.kernels = TrainOptions::Kernels::kFusedStep;
  options.arch.channels = {16, 16};
  EXPECT_LT(FusedAgainstSequential(*SmallTelemetry(), TwoConfigs(0.15), options), 1e-4);
}

// The default channels on three warps, so that tiles do not divide evenly among them.
TEST(ThreadsTest, Cnn1dStepKernelUnevenWarps) {
  auto options = Options("cnn1d");
  options.kernels = TrainOptions::Kernels::kFusedStep;
  options.step_threads = 96;
  EXPECT_LT(FusedAgainstSequential(*SmallTelemetry(), TwoConfigs(0.15), options), 1e-4);
}

// The bf16 layout (gradients beside the activations): near float32, and really rounded.
TEST(ThreadsTest, Cnn1dStepKernelBf16) {
  auto options = Options("cnn1d");
  options.kernels = TrainOptions::Kernels::kFusedStep;
  options.compute = torch::kBFloat16;
  const double rel = FusedAgainstSequential(*SmallTelemetry(), TwoConfigs(0.15), options);
  EXPECT_LT(rel, 5e-3);
  EXPECT_GT(rel, 1e-6);
}

// LeNet's convolution kernels, forward and recomputing backward: 0.5 of 64 images at batch 8,
// four steps.
TEST(ThreadsTest, LenetConvKernelsFloat32AndBf16) {
  auto options = Options("lenet");
  options.kernels = TrainOptions::Kernels::kFusedStep;
  options.batch_size = 8;
  EXPECT_LT(FusedAgainstSequential(*RandomImages(64, 20), TwoConfigs(0.5, false), options), 1e-4);
  options.compute = torch::kBFloat16;
  const double rel = FusedAgainstSequential(*RandomImages(64, 20), TwoConfigs(0.5, false), options);
  EXPECT_LT(rel, 2e-2);
  EXPECT_GT(rel, 1e-6);
}

// Four models on two lanes of two: the same models as one lane.
TEST(ThreadsTest, CpuLanesMatchOneLane) {
  auto data = SmallTelemetry();
  std::vector<ModelConfig> configs = TwoConfigs(0.15);
  for (ModelConfig c : TwoConfigs(0.15)) {
    c.seed += 10;
    configs.push_back(c);
  }
  auto options = Options("cnn1d");
  options.cpu_parallel = 2;
  options.cpu_max_fused = 2;
  auto lanes = TrainFused(*data, configs, options);
  options.cpu_parallel = 1;
  options.cpu_max_fused = 4;
  auto one = TrainFused(*data, configs, options);
  ASSERT_TRUE(lanes.ok() && one.ok());
  EXPECT_LT(MaxRelativeParamDifference(lanes->final_params, one->final_params), 1e-5);
  for (size_t k = 0; k < configs.size(); ++k) {
    EXPECT_EQ(lanes->models[k].evals[0].correct, one->models[k].evals[0].correct) << k;
  }
}

}  // namespace
}  // namespace sweepfarm::engine

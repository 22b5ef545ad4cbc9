#include "engine/model_io.h"

#include <gtest/gtest.h>

#include "common/sha256.h"
#include "engine/telemetry.h"
#include "engine/trainer.h"

namespace sweepfarm::engine {
namespace {

struct Trained {
  std::shared_ptr<const Dataset> data;
  TrainOptions options;
  BundleResult result;
};

Trained TrainThree(std::vector<int64_t> channels = {}, int64_t kernel_size = 5,
                   bool standardized = false) {
  Trained t;
  t.data = MakeTelemetryDataset(TelemetryOptions{4, 640, 300});
  if (standardized) t.data = Standardized(*t.data);
  t.options.arch.name = "cnn1d";
  t.options.arch.channels = channels;
  t.options.arch.kernel_size = kernel_size;
  t.options.batch_size = 32;
  t.options.keep_predictions = true;
  std::vector<ModelConfig> configs(3);
  for (int i = 0; i < 3; ++i) {
    configs[i].seed = 11 + i;
    configs[i].step_size = 0.01;
    configs[i].eval_epochs = {2};
  }
  auto r = TrainFused(*t.data, configs, t.options);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  t.result = std::move(r).value();
  return t;
}

TEST(ModelIoTest, RoundTripReproducesTheTrainersPredictions) {
  Trained t = TrainThree();
  auto arch = ResolveArch(t.options.arch, ChannelsFirstShape(t.data->sample_shape()));
  ASSERT_TRUE(arch.ok());
  std::vector<ModelWeights> members;
  for (int64_t slot = 0; slot < 3; ++slot) {
    EncodedWeights e = EncodeWeights(*arch, InputsOf(*t.data), t.result.final_params, slot);
    EXPECT_EQ(e.sha256.size(), 64u);
    auto m = DecodeWeights(kWeightsFormat, e.arch_json, e.content, e.sha256);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->arch.name, "cnn1d");
    members.push_back(std::move(m).value());
  }
  auto ensemble = EnsembleModel::Create(members, {1, 1, 2});
  ASSERT_TRUE(ensemble.ok()) << ensemble.status().ToString();
  torch::Tensor per = ensemble->PredictMembers(t.data->test.x);  // [3, N, 2]
  for (int64_t slot = 0; slot < 3; ++slot) {
    // The trainer kept float16 probabilities of the same weights on the same test split.
    torch::Tensor kept = t.result.models[slot].evals.back().probs.to(torch::kFloat32);
    EXPECT_LT((per[slot] - kept).abs().max().item<float>(), 2e-3);
  }
  torch::Tensor avg = ensemble->Predict(t.data->test.x);
  torch::Tensor expected = (per[0] + per[1] + 2 * per[2]) / 4;
  EXPECT_LT((avg - expected).abs().max().item<float>(), 1e-6);
  EXPECT_LT((avg.sum(1) - 1).abs().max().item<float>(), 1e-5);
}

// Architecture search: an ensemble's members may differ in architecture. Each keeps its own
// predictions in the member order given, and the average weighs them as given.
TEST(ModelIoTest, MembersOfDifferentArchitecturesPredictAsTheyWereTrained) {
  Trained a = TrainThree({8, 16}, 3), b = TrainThree({16, 8}, 5);
  auto member = [](const Trained& t, int64_t slot) {
    auto arch = ResolveArch(t.options.arch, ChannelsFirstShape(t.data->sample_shape()));
    EXPECT_TRUE(arch.ok());
    EncodedWeights e = EncodeWeights(*arch, InputsOf(*t.data), t.result.final_params, slot);
    auto m = DecodeWeights(kWeightsFormat, e.arch_json, e.content, e.sha256);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return std::move(m).value();
  };
  // Interleaved: b's slot 2, a's slot 0, b's slot 0, a's slot 1.
  std::vector<ModelWeights> members{member(b, 2), member(a, 0), member(b, 0), member(a, 1)};
  const std::vector<std::pair<const Trained*, int64_t>> from{{&b, 2}, {&a, 0}, {&b, 0}, {&a, 1}};
  auto ensemble = EnsembleModel::Create(members, {1, 2, 3, 4});
  ASSERT_TRUE(ensemble.ok()) << ensemble.status().ToString();
  EXPECT_EQ(ensemble->size(), 4);
  EXPECT_EQ(ensemble->architectures(), 2);
  torch::Tensor per = ensemble->PredictMembers(a.data->test.x);  // [4, N, 2]
  for (size_t i = 0; i < from.size(); ++i) {
    torch::Tensor kept =
        from[i].first->result.models[from[i].second].evals.back().probs.to(torch::kFloat32);
    EXPECT_LT((per[i] - kept).abs().max().item<float>(), 2e-3) << "member " << i;
  }
  // The two architectures' models differ: a mix-up of groups would show here.
  EXPECT_GT((per[0] - per[1]).abs().max().item<float>(), 1e-3);
  torch::Tensor expected = (per[0] + 2 * per[1] + 3 * per[2] + 4 * per[3]) / 10;
  EXPECT_LT((ensemble->Predict(a.data->test.x) - expected).abs().max().item<float>(), 1e-6);

  // Members must still share inputs and classes.
  members[3].inputs.classes = 3;
  auto bad = EnsembleModel::Create(members, {1, 1, 1, 1});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("differ in inputs"), std::string::npos);
}

// A model trained on standardised inputs keeps the statistics in its artifact and applies them
// to raw inputs: its predictions on the raw test split are the trainer's on the standardised one.
TEST(ModelIoTest, StandardisationTravelsWithTheModel) {
  Trained t = TrainThree({}, 5, /*standardized=*/true);
  ASSERT_EQ(t.data->input_mean.size(), 16u);
  auto arch = ResolveArch(t.options.arch, ChannelsFirstShape(t.data->sample_shape()));
  ASSERT_TRUE(arch.ok());
  EncodedWeights e = EncodeWeights(*arch, InputsOf(*t.data), t.result.final_params, 2);
  EXPECT_NE(e.arch_json.find("\"input_mean\":["), std::string::npos);
  auto m = DecodeWeights(kWeightsFormat, e.arch_json, e.content, e.sha256);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->inputs.input_std.size(), 16u);
  auto ensemble = EnsembleModel::Create({*m}, {1});
  ASSERT_TRUE(ensemble.ok());
  auto raw = MakeTelemetryDataset(TelemetryOptions{4, 640, 300});
  torch::Tensor kept = t.result.models[2].evals.back().probs.to(torch::kFloat32);
  EXPECT_LT((ensemble->Predict(raw->test.x) - kept).abs().max().item<float>(), 2e-3);
  // Without its statistics the same weights on raw inputs answer differently.
  ModelWeights bare = *m;
  bare.inputs.input_mean.clear();
  bare.inputs.input_std.clear();
  auto wrong = EnsembleModel::Create({bare}, {1});
  EXPECT_GT((wrong->Predict(raw->test.x) - kept).abs().max().item<float>(), 1e-2);
  // Members with other statistics do not mix.
  EXPECT_FALSE(EnsembleModel::Create({*m, bare}, {1, 1}).ok());
}

TEST(ModelIoTest, OneFlippedByteIsRefusedNamingTheArtifact) {
  Trained t = TrainThree();
  auto arch = ResolveArch(t.options.arch, ChannelsFirstShape(t.data->sample_shape()));
  ASSERT_TRUE(arch.ok());
  EncodedWeights e = EncodeWeights(*arch, InputsOf(*t.data), t.result.final_params, 0);
  std::string flipped = e.content;
  flipped[flipped.size() / 2] ^= 0x01;
  auto m = DecodeWeights(kWeightsFormat, e.arch_json, flipped, e.sha256);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(m.status().message().find(e.sha256), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("corrupt"), std::string::npos);
  // Through LoadEnsemble the error also names the ensemble and the member.
  std::vector<MemberArtifact> members{{41, 0.5, kWeightsFormat, e.arch_json, e.content, e.sha256},
                                      {42, 0.5, kWeightsFormat, e.arch_json, flipped, e.sha256}};
  auto ensemble = LoadEnsemble(members, "detector v7");
  ASSERT_FALSE(ensemble.ok());
  EXPECT_EQ(ensemble.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(ensemble.status().message().rfind("detector v7, member trial 42: artifact ", 0), 0u)
      << ensemble.status().message();
  members.pop_back();
  auto good = LoadEnsemble(members, "detector v7");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->size(), 1);
}

TEST(ModelIoTest, RefusesArtifactsThatDoNotMatchTheirArchitecture) {
  Trained t = TrainThree();
  auto arch = ResolveArch(t.options.arch, ChannelsFirstShape(t.data->sample_shape()));
  ASSERT_TRUE(arch.ok());
  EncodedWeights e = EncodeWeights(*arch, InputsOf(*t.data), t.result.final_params, 1);
  std::string truncated = e.content.substr(0, e.content.size() - 4);
  auto short_content = DecodeWeights(kWeightsFormat, e.arch_json, truncated, Sha256Hex(truncated));
  ASSERT_FALSE(short_content.ok());
  EXPECT_NE(short_content.status().message().find("shorter"), std::string::npos);
  std::string other = e.arch_json;
  other.replace(other.find("\"classes\":2"), 11, "\"classes\":3");
  auto wrong = DecodeWeights(kWeightsFormat, other, e.content, e.sha256);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("wrong shape"), std::string::npos)
      << wrong.status().message();
  EXPECT_FALSE(DecodeWeights("pickle", e.arch_json, e.content, e.sha256).ok());
  EXPECT_FALSE(DecodeWeights(kWeightsFormat, "{not json", e.content, e.sha256).ok());
}

TEST(ModelIoTest, CheckpointsCarryParametersAndMomentum) {
  Trained t = TrainThree();
  auto arch = ResolveArch(t.options.arch, ChannelsFirstShape(t.data->sample_shape()));
  ASSERT_TRUE(arch.ok());
  ASSERT_EQ(t.result.final_momentum.size(), t.result.final_params.size());
  EncodedWeights c =
      EncodeCheckpoint(*arch, InputsOf(*t.data), t.result.final_params, t.result.final_momentum, 1);
  auto m = DecodeWeights(kCheckpointFormat, c.arch_json, c.content, c.sha256);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->params.size(), t.result.final_params.size());
  ASSERT_EQ(m->momentum.size(), t.result.final_params.size());
  for (size_t i = 0; i < m->params.size(); ++i) {
    EXPECT_TRUE(m->params[i].equal(t.result.final_params[i][1]));
    EXPECT_TRUE(m->momentum[i].equal(t.result.final_momentum[i][1]));
  }
  EXPECT_GT(m->momentum[0].abs().max().item<float>(), 0);
  // A checkpoint is not weights, and weights are not a checkpoint.
  auto as_weights = DecodeWeights(kWeightsFormat, c.arch_json, c.content, c.sha256);
  ASSERT_FALSE(as_weights.ok());
  EXPECT_NE(as_weights.status().message().find("holds 12 tensors"), std::string::npos)
      << as_weights.status().message();
  EncodedWeights w = EncodeWeights(*arch, InputsOf(*t.data), t.result.final_params, 1);
  auto as_checkpoint = DecodeWeights(kCheckpointFormat, w.arch_json, w.content, w.sha256);
  ASSERT_FALSE(as_checkpoint.ok());
  EXPECT_NE(as_checkpoint.status().message().find("sweepfarm-checkpoint-v1 artifact: holds 6"),
            std::string::npos)
      << as_checkpoint.status().message();
}

}  // namespace
}  // namespace sweepfarm::engine

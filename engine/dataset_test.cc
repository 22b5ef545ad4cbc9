#include "engine/dataset.h"

#include <gtest/gtest.h>

#include "engine/architecture.h"
#include "engine/data/codec.h"

namespace sweepfarm::engine {
namespace {

TEST(DatasetTest, EveryCatalogueArchitectureHasALayerStack) {
  for (const auto& a : Architectures()) EXPECT_TRUE(HasLayerStack(a.name)) << a.name;
}

// Evaluation shares the first layer's input across the K models (patches for convolutions, the
// flattened sample for the flattened kinds): the same logits as K separate forward passes, and
// as the reference layers on standard-layout weights.
TEST(DatasetTest, SharedEvaluationMatchesPerModelForwardForEveryKind) {
  for (const auto& [name, shape] :
       std::vector<std::pair<std::string, std::vector<int64_t>>>{{"cnn1d", {32, 4}},
                                                                 {"mlp", {32, 4}},
                                                                 {"logistic", {8, 8, 3}},
                                                                 {"mlp", {8, 8, 3}},
                                                                 {"cnn2d", {12, 12, 3}}}) {
    ArchSpec spec;
    spec.name = name;
    spec.kernel_size = 3;
    auto net = FusedNet::Create(spec, shape, 3, {1, 2, 3}, torch::kCPU);
    ASSERT_TRUE(net.ok()) << name << ": " << net.status().ToString();
    std::vector<int64_t> dims{5};
    dims.insert(dims.end(), shape.begin(), shape.end());
    torch::Tensor x = torch::randn(dims, at::detail::createCPUGenerator(7));
    torch::NoGradGuard no_grad;
    torch::Tensor shared = net->ForwardShared(x, torch::kFloat32);
    torch::Tensor each =
        net->Forward(torch::stack({x, x, x}), torch::kFloat32, FusedNet::Kernels::kPerModel);
    torch::Tensor batched = net->Forward(torch::stack({x, x, x}), torch::kFloat32);
    EXPECT_LT((batched - each).abs().max().item<float>(), 1e-4) << name;
    EXPECT_LT((shared - each).abs().max().item<float>(), 1e-4) << name;
  }
}

TEST(DatasetTest, TablesBecomeChannelsLastTensors) {
  data::Table t;
  t.shape = {2, 3};  // 2 channels of 3 steps.
  t.classes = {"a", "b", "c"};
  t.part(data::SplitId::kTrain) = {{0, 1, 2, 10, 11, 12}, {2}};
  t.part(data::SplitId::kSelection) = {{1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}, {0, 1}};
  t.part(data::SplitId::kHoldout) = {{5, 5, 5, 6, 6, 6}, {2}};
  auto ds = DatasetFromTable(t, "mine@1", "h");
  EXPECT_EQ(ds->sample_shape(), (std::vector<int64_t>{3, 2}));
  // Step 1 of the train sample: channel 0 then channel 1.
  EXPECT_EQ(ds->train.x[0][1][0].item<float>(), 1);
  EXPECT_EQ(ds->train.x[0][1][1].item<float>(), 11);
  EXPECT_EQ(ds->test.size(), 3);
  EXPECT_EQ(ds->SelectionSize(), 2);
  EXPECT_EQ(ds->test.y[2].item<int64_t>(), 2);
  EXPECT_EQ(ds->num_classes, 3);
  EXPECT_FALSE(ds->binary_issue_label);
  EXPECT_EQ(ds->test.x[2][0][1].item<float>(), 6);

  auto s = Standardized(*ds);
  ASSERT_EQ(s->input_mean.size(), 2u);
  EXPECT_FLOAT_EQ(s->input_mean[0], 1);   // Channel 0 of the train split: 0, 1, 2.
  EXPECT_FLOAT_EQ(s->input_mean[1], 11);  // Channel 1: 10, 11, 12.
  EXPECT_NEAR(s->input_std[0], std::sqrt(2.0 / 3), 1e-6);
  EXPECT_NEAR(s->train.x[0][2][1].item<float>(), 1 / std::sqrt(2.0 / 3), 1e-5);
  EXPECT_NEAR(s->test.x[2][0][1].item<float>(), (6 - 11) / std::sqrt(2.0 / 3), 1e-4);
}

// One channel (Fashion-MNIST, any grey image): moving a one-element dimension copies nothing, yet
// the tensors must not be views of the table, which the caller frees (they were, and read
// whatever the allocator put there next).
TEST(DatasetTest, OneChannelTablesAreCopiedToo) {
  std::shared_ptr<const Dataset> ds;
  const float* table_memory = nullptr;
  {
    data::Table t;
    t.shape = {1, 2, 2};
    t.classes = {"a", "b"};
    t.part(data::SplitId::kTrain) = {{1, 2, 3, 4, 5, 6, 7, 8}, {0, 1}};
    t.part(data::SplitId::kSelection) = {{9, 10, 11, 12}, {1}};
    ds = DatasetFromTable(t, "grey@1", "h");
    table_memory = t.part(data::SplitId::kTrain).x.data();
    EXPECT_NE(ds->train.x.data_ptr(), static_cast<const void*>(table_memory));
    EXPECT_NE(ds->test.x.data_ptr(),
              static_cast<const void*>(t.part(data::SplitId::kSelection).x.data()));
  }
  std::vector<float> junk(8, -1e30f);  // Likely where the table's values were.
  EXPECT_EQ(ds->sample_shape(), (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(ds->train.x.sum().item<float>(), 36);
  EXPECT_EQ(ds->train.x[1][1][0][0].item<float>(), 7);
  EXPECT_EQ(ds->test.x.sum().item<float>(), 42);
  EXPECT_EQ(junk[0], -1e30f);
}

TEST(DatasetTest, BuiltinsAreDeterministicTablesWithAHoldout) {
  auto a = GenerateBuiltin(
      "telemetry",
      {{"seed", 3}, {"lab_samples", 100}, {"escalation_samples", 40}, {"holdout_fraction", 0.25}});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->shape, (std::vector<int64_t>{16, 64}));
  EXPECT_EQ(a->part(data::SplitId::kTrain).size(), 100);
  EXPECT_EQ(a->part(data::SplitId::kSelection).size(), 30);
  EXPECT_EQ(a->part(data::SplitId::kHoldout).size(), 10);
  auto b = GenerateBuiltin(
      "telemetry",
      {{"seed", 3}, {"lab_samples", 100}, {"escalation_samples", 40}, {"holdout_fraction", 0.25}});
  EXPECT_EQ(*data::Encode(*a), *data::Encode(*b));
  auto ds =
      MakeDataset("telemetry", {{"seed", 3}, {"lab_samples", 100}, {"escalation_samples", 40}});
  ASSERT_TRUE(ds.ok());
  EXPECT_EQ((*ds)->hash.size(), 64u);
  EXPECT_EQ((*ds)->sample_shape(), (std::vector<int64_t>{64, 16}));
  EXPECT_TRUE((*ds)->binary_issue_label);
  EXPECT_FALSE(GenerateBuiltin("telemetry", {{"bogus", 1}}).ok());
}

}  // namespace
}  // namespace sweepfarm::engine

#include "engine/catalog.h"

#include <gtest/gtest.h>

namespace sweepfarm::engine {
namespace {

TEST(CatalogTest, ArchitecturesFollowTheSampleShape) {
  ArchSpec a;
  a.name = "cnn1d";
  EXPECT_TRUE(ResolveArch(a, {16, 64}).ok());
  auto r = ResolveArch(a, {1, 28, 28});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("takes series samples (CxL)"), std::string::npos);
  EXPECT_NE(r.status().message().find("use cnn2d, lenet, logistic, mlp, linear_svm, naive_bayes"),
            std::string::npos);
  a.name = "cnn2d";
  EXPECT_NE(ResolveArch(a, {3, 8, 8}).status().message().find("kernel_size 5 too large"),
            std::string::npos);
  a.kernel_size = 3;
  auto c = ResolveArch(a, {3, 8, 8});  // 8 -> 6 -> 3 -> 1.
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->channels, (std::vector<int64_t>{16, 32}));
  EXPECT_NE(ResolveArch(a, {1, 28, 20}).status().message().find("square"), std::string::npos);
  a.name = "lenet";
  auto l = ResolveArch(a, {1, 28, 28});
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->hidden, (std::vector<int64_t>{120, 84}));
  a.name = "cnn3d";
  EXPECT_NE(ResolveArch(a, {1, 8, 8}).status().message().find("known: cnn1d, cnn2d, lenet"),
            std::string::npos);
}

TEST(CatalogTest, FlattenedKindsTakeAnyShape) {
  ArchSpec a;
  a.name = "mlp";
  for (std::vector<int64_t> shape : {std::vector<int64_t>{16, 64}, {1, 28, 28}, {1, 3}}) {
    auto r = ResolveArch(a, shape);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->hidden, (std::vector<int64_t>{256}));
  }
  a.channels = {8, 16};
  EXPECT_NE(ResolveArch(a, {16, 64}).status().message().find("takes no channels"),
            std::string::npos);
  a.channels.clear();
  a.hidden = {1, 2, 3, 4, 5};
  EXPECT_NE(ResolveArch(a, {16, 64}).status().message().find("at most 4 hidden"),
            std::string::npos);
  a.name = "logistic";
  a.hidden = {8};
  EXPECT_NE(ResolveArch(a, {16, 64}).status().message().find("takes no hidden"), std::string::npos);
  a.hidden.clear();
  EXPECT_TRUE(ResolveArch(a, {3, 8, 8}).ok());
}

TEST(CatalogTest, BuiltinsAndTheirParameters) {
  const BuiltinDataset* t = FindBuiltinDataset("telemetry");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{16, 64}));
  EXPECT_EQ(t->classes.size(), 2u);
  EXPECT_TRUE(ValidateDatasetParams("telemetry", {{"seed", 3}}).ok());
  EXPECT_NE(ValidateDatasetParams("telemetry", {{"lab_samples", 10}}).message().find("[64,"),
            std::string::npos);
  EXPECT_NE(ValidateDatasetParams("telemetry", {{"x", 1}}).message().find("known:"),
            std::string::npos);
  EXPECT_FALSE(ValidateDatasetParams("mine", {}).ok());
  EXPECT_EQ(EngineShape({16, 64}), (std::vector<int64_t>{64, 16}));
  EXPECT_EQ(ChannelsFirstShape({28, 28, 1}), (std::vector<int64_t>{1, 28, 28}));
}

}  // namespace
}  // namespace sweepfarm::engine

#include "engine/fashion_mnist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace sweepfarm::engine {
namespace {

std::string TempDir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("sf_idx_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::create_directories(dir);
  return dir.string();
}

TEST(FashionMnistTest, MissingFilesAreClearErrors) {
  FashionMnistOptions o;
  o.dir = TempDir();
  auto missing = FashionMnistTable(o);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("is dataset-fashion-mnist installed?"),
            std::string::npos);
}

TEST(FashionMnistTest, LoadsTheRealDataset) {
  if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist not installed";
  }
  auto ds = MakeFashionMnistDataset(FashionMnistOptions{kFashionMnistDir, 60000, 10000});
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  EXPECT_EQ((*ds)->train.x.sizes(), (std::vector<int64_t>{60000, 28, 28, 1}));
  EXPECT_EQ((*ds)->test.size(), 10000);
  // Ten balanced classes: 1,000 of each in the test set.
  EXPECT_EQ((*ds)->test.y.bincount().min().item<int64_t>(), 1000);
  EXPECT_NEAR((*ds)->train.x.mean().item<double>(), 0.0, 0.01);
  // Standardised with the training split's own statistics: the constants the earlier loader used.
  EXPECT_NEAR((*ds)->input_mean[0] / 255, 0.286, 0.001);
  EXPECT_NEAR((*ds)->input_std[0] / 255, 0.353, 0.001);
  // As a table: raw pixel values, stored as bytes.
  auto t = FashionMnistTable(FashionMnistOptions{kFashionMnistDir, 100, 50});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->shape, (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(t->classes.size(), 10u);
  EXPECT_EQ(t->part(data::SplitId::kSelection).size(), 50);
  EXPECT_EQ(*std::max_element(t->part(data::SplitId::kTrain).x.begin(),
                              t->part(data::SplitId::kTrain).x.end()),
            255);
}

}  // namespace
}  // namespace sweepfarm::engine

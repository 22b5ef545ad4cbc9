#include "worker/engine/fashion_mnist.h"

#include <gtest/gtest.h>
#include <zlib.h>

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

void WriteGz(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

TEST(FashionMnistTest, ReadsIdxFiles) {
  std::string dir = TempDir();
  std::vector<unsigned char> img{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                                 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
  WriteGz(dir + "/x.gz", img);
  auto t = ReadIdx(dir + "/x.gz");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->sizes(), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ((*t)[1][1][1].item<int>(), 8);
}

TEST(FashionMnistTest, CorruptAndMissingFilesAreClearErrors) {
  std::string dir = TempDir();
  // Header says 2x2x2 but only 3 bytes follow.
  WriteGz(dir + "/short.gz", {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3});
  auto r = ReadIdx(dir + "/short.gz");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("short.gz"), std::string::npos);
  WriteGz(dir + "/magic.gz", {1, 2, 3, 4, 5});
  EXPECT_NE(ReadIdx(dir + "/magic.gz").status().message().find("bad magic"), std::string::npos);
  // A gzip stream cut in half.
  std::vector<unsigned char> big(4096, 7);
  big[2] = 8;
  WriteGz(dir + "/cut.gz", big);
  std::filesystem::resize_file(dir + "/cut.gz", std::filesystem::file_size(dir + "/cut.gz") / 2);
  EXPECT_FALSE(ReadIdx(dir + "/cut.gz").ok());
  auto missing = ReadIdx(dir + "/nope.gz");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.gz"), std::string::npos);
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
}

}  // namespace
}  // namespace sweepfarm::engine

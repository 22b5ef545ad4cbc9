#include "engine/data/codec.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "engine/data/read.h"

namespace sweepfarm::data {
namespace {

Table Small(bool bytes) {
  Table t;
  t.shape = {2, 3};
  t.classes = {"healthy", "faulty"};
  auto& train = t.part(SplitId::kTrain);
  train.y = {0, 1, 1};
  for (int i = 0; i < 18; ++i) train.x.push_back(bytes ? i : i * 0.25f - 1.5f);
  t.part(SplitId::kSelection).y = {1};
  t.part(SplitId::kSelection).x = {1, 2, 3, 4, 5, 6};
  t.part(SplitId::kHoldout).y = {0};
  t.part(SplitId::kHoldout).x = {6, 5, 4, 3, 2, 1};
  return t;
}

TEST(CodecTest, RoundTripsAndIsDeterministic) {
  for (bool bytes : {false, true}) {
    Table t = Small(bytes);
    auto a = Encode(t);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(*a, *Encode(t));
    EXPECT_NE(a->find(bytes ? "values uint8" : "values float32"), std::string::npos);
    auto back = Decode(*a);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->shape, t.shape);
    EXPECT_EQ(back->classes, t.classes);
    for (SplitId s : kSplits) {
      EXPECT_EQ(back->part(s).x, t.part(s).x);
      EXPECT_EQ(back->part(s).y, t.part(s).y);
    }
    auto m = ReadManifest(*a);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->encoded_bytes, static_cast<int64_t>(a->size()));
    EXPECT_EQ(m->samples[0], 3);
  }
  // One value changed, one hash changed.
  Table t = Small(false);
  const std::string h = ContentHash(*Encode(t));
  t.part(SplitId::kHoldout).x[5] = 1.5f;
  EXPECT_NE(ContentHash(*Encode(t)), h);
  EXPECT_EQ(h.size(), 64u);
}

TEST(CodecTest, RefusesDamagedEncodings) {
  const std::string good = *Encode(Small(false));
  auto expect = [](const std::string& bytes, const std::string& part) {
    auto r = Decode(bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(part), std::string::npos) << r.status().message();
  };
  expect("", "no SFDATA1 header");
  expect(good.substr(0, 20), "not terminated");
  expect(good.substr(0, good.size() - 1), "truncated");
  expect(good + "x", "its manifest says");
  std::string bad_label = good;
  // The first train label (just after the manifest) set to class 7.
  const size_t at = good.find("\n\n") + 2;
  bad_label[at] = 7;
  expect(bad_label, "label 7 is not a class");
  std::string nan = good;
  const size_t x0 = at + 3 * 4;  // After the three train labels.
  nan[x0] = 0, nan[x0 + 1] = 0, nan[x0 + 2] = static_cast<char>(0xc0), nan[x0 + 3] = 0x7f;
  expect(nan, "not finite");
  std::string shape = good;
  shape.replace(shape.find("shape 2 3"), 9, "shape 0 3");
  expect(shape, "shape");
}

TEST(CodecTest, TableValidationNamesSplitAndSample) {
  Table t = Small(false);
  t.classes = {"a"};
  EXPECT_NE(ValidateTable(t).message().find("2 to 1000 classes"), std::string::npos);
  t = Small(false);
  t.classes = {"a b", "c"};
  EXPECT_NE(ValidateTable(t).message().find("class name"), std::string::npos);
  t = Small(false);
  t.part(SplitId::kSelection).x.pop_back();
  EXPECT_NE(ValidateTable(t).message().find("selection split"), std::string::npos);
  t = Small(false);
  t.part(SplitId::kSelection) = {};
  EXPECT_NE(ValidateTable(t).message().find("selection split is empty"), std::string::npos);
  t = Small(false);
  t.part(SplitId::kHoldout).y = {1};
  EXPECT_TRUE(ValidateTable(t).ok());
  EXPECT_NE(CheckEveryClassInEverySplit(t).message().find(
                "selection split has no sample of class \"healthy\""),
            std::string::npos);
}

TEST(CodecTest, ParsesShapes) {
  EXPECT_EQ(*ParseShape("16x64"), (std::vector<int64_t>{16, 64}));
  EXPECT_EQ(*ParseShape("1x28x28"), (std::vector<int64_t>{1, 28, 28}));
  for (const char* bad : {"", "16", "16x", "x64", "0x5", "1x2x3x4", "a x b", "16*64", "-1x4",
                          "2000x2000"}) {
    EXPECT_FALSE(ParseShape(bad).ok()) << bad;
  }
}

TEST(ReadTest, IdxArraysAndTheirErrors) {
  std::string img{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
  auto a = ParseIdx("x", img);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(a->values.back(), 8);
  EXPECT_TRUE(a->integer);
  auto short_one = ParseIdx("short", img.substr(0, 19));
  EXPECT_NE(short_one.status().message().find("short: expected 24 bytes"), std::string::npos);
  EXPECT_NE(ParseIdx("m", std::string{1, 2, 3, 4, 5}).status().message().find("bad magic"),
            std::string::npos);
  EXPECT_NE(ParseIdx("h", img.substr(0, 9)).status().message().find("truncated IDX header"),
            std::string::npos);
  // A gzip stream cut in half is an error, not a shorter file.
  const std::string path = ::testing::TempDir() + "/sf_cut.gz";
  gzFile f = gzopen(path.c_str(), "wb");
  std::string big(4096, 7);
  gzwrite(f, big.data(), static_cast<unsigned>(big.size()));
  gzclose(f);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  EXPECT_FALSE(ReadFileBytes(path, 1 << 20).ok());
  std::filesystem::remove(path);
  auto missing = ReadFileBytes("/nonexistent/nope.gz", 100);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.gz"), std::string::npos);
}

}  // namespace
}  // namespace sweepfarm::data

#include "engine/data/formats/formats.h"

#include <gtest/gtest.h>
#include <zip.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/data/codec.h"

namespace sweepfarm::data {
namespace {

class FormatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sf_formats_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::string WriteGz(const std::string& name, const std::string& bytes) {
    const std::string path = (dir_ / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return path;
  }
  // A CSV of `n` samples of 2x2 values: label alternating healthy/faulty.
  std::string Csv(int n, bool split_column = false) {
    std::string s = std::string(split_column ? "split," : "") + "a,b,label,c,d\n";
    const char* splits[] = {"train", "train", "train", "selection", "holdout"};
    for (int i = 0; i < n; ++i) {
      if (split_column) s += std::string(splits[i % 5]) + ",";
      s += std::to_string(i) + "," + std::to_string(i * 0.5) + "," +
           (i % 2 ? "faulty" : "healthy") + "," + std::to_string(-i) + ",1e-3\n";
    }
    return s;
  }
  // Asserts that importing fails naming each of `parts`, and returns the message.
  void ExpectError(const std::string& file, const ImportOptions& o,
                   const std::vector<std::string>& parts) {
    auto r = ImportFiles(file, o);
    ASSERT_FALSE(r.ok()) << "accepted " << file;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    for (const auto& p : parts) {
      EXPECT_NE(r.status().message().find(p), std::string::npos)
          << "missing \"" << p << "\" in: " << r.status().message();
    }
  }

  static std::string Npy(const std::string& descr, const std::vector<int64_t>& shape,
                         const std::string& data) {
    std::string dims;
    for (auto d : shape) dims += std::to_string(d) + ", ";
    if (shape.size() > 1) dims.resize(dims.size() - 2);
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims +
                         "), }";
    while ((10 + header.size() + 1) % 64 != 0) header += ' ';
    header += '\n';
    std::string out = "\x93NUMPY";
    out += '\x01';
    out += '\x00';
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
    return out + header + data;
  }
  template <typename T>
  static std::string Raw(const std::vector<T>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }

  std::filesystem::path dir_;
};

TEST_F(FormatsTest, CsvWithAStratifiedSplit) {
  ImportOptions o;
  o.shape = "2x2";
  o.classes = {"healthy", "faulty"};
  auto r = ImportFiles(Write("d.csv", Csv(40)), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Table& t = r->table;
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(t.samples(), 40);
  const auto counts = t.CountsByClass();
  // 20 per class: 4 to selection, 4 to holdout, 12 to train, each.
  EXPECT_EQ(counts[1], (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(counts[2], (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(counts[0], (std::vector<int64_t>{12, 12}));
  EXPECT_NE(r->split_rule.find("stratified by class, seed 1"), std::string::npos);
  // Values in column order, the label column left out; sample 0 (healthy) first in its split.
  bool found = false;
  for (SplitId s : kSplits) {
    const Part& p = t.part(s);
    for (int64_t i = 0; i < p.size(); ++i) {
      if (p.x[i * 4] == 3) {  // Sample 3: 3, 1.5, -3, 0.001, faulty.
        EXPECT_EQ(p.y[i], 1);
        EXPECT_FLOAT_EQ(p.x[i * 4 + 1], 1.5f);
        EXPECT_FLOAT_EQ(p.x[i * 4 + 2], -3);
        EXPECT_FLOAT_EQ(p.x[i * 4 + 3], 1e-3f);
        found = true;
      }
    }
  }
  EXPECT_TRUE(found);
  // The same seed gives the same table; another seed another split.
  EXPECT_EQ(*Encode(ImportFiles(Write("e.csv", Csv(40)), o)->table), *Encode(t));
  o.seed = 2;
  EXPECT_NE(*Encode(ImportFiles(Write("f.csv", Csv(40)), o)->table), *Encode(t));
}

TEST_F(FormatsTest, CsvSplitColumnClassesAndGzip) {
  ImportOptions o;
  auto r = ImportFiles(WriteGz("d.csv.gz", Csv(20, true)), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->table.part(SplitId::kTrain).size(), 12);
  EXPECT_EQ(r->table.part(SplitId::kHoldout).size(), 4);
  EXPECT_EQ(r->split_rule, "from the split column");
  // Default shape 1xN; classes sorted by name without --classes.
  EXPECT_EQ(r->table.shape, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(r->table.classes, (std::vector<std::string>{"faulty", "healthy"}));
}

TEST_F(FormatsTest, CsvBadInputNamesFileRowAndColumn) {
  ImportOptions o;
  o.shape = "2x2";
  const std::string head = "a,b,label,c,d\n";
  const std::string good = "1,2,x,3,4\n2,3,y,4,5\n";
  ExpectError(Write("ragged.csv", head + good + "1,2,x,3\n"),
              o, {"ragged.csv: row 4 (data row 3) has 4 fields, the header has 5"});
  ExpectError(Write("text.csv", head + good + "1,2,x,three,4\n"),
              o, {"text.csv: row 4", "column \"c\"", "\"three\" is not a number"});
  ExpectError(Write("nan.csv", head + "1,nan,x,3,4\n" + good), o,
              {"nan.csv: row 2", "column \"b\"", "not finite"});
  ExpectError(Write("inf.csv", head + "1,2,x,-inf,4\n" + good), o, {"inf.csv: row 2", "not finite"});
  ExpectError(Write("empty.csv", ""), o, {"empty.csv: empty file"});
  ExpectError(Write("header.csv", head), o, {"header.csv: no data rows"});
  ExpectError(Write("nolabel.csv", "a,b,c,d\n1,2,3,4\n"), o,
              {"nolabel.csv: row 1: no label column \"label\""});
  ExpectError(Write("twice.csv", "a,a,label\n1,2,x\n"), o, {"column \"a\" named twice"});
  ExpectError(Write("blank.csv", head + "1,,x,3,4\n" + good), o,
              {"blank.csv: row 2", "column \"b\"", "is not a number"});
  ExpectError(Write("quote.csv", head + "1,\"2,x,3,4\n"), o, {"quote.csv"});
  o.shape = "3x2";
  ExpectError(Write("shape.csv", head + good), o,
              {"shape.csv: 4 values per sample, but shape 3x2 holds 6 (--shape)"});
  o.shape = "2x2";
  o.classes = {"x", "z"};
  ExpectError(Write("class.csv", head + good), o,
              {"class.csv: sample 2: label \"y\" is not one of the classes (x, z)"});
  // A class missing from a split: 5 samples, one of class y, cannot be in all three splits.
  o.classes = {};
  ExpectError(Write("missing.csv", head + "1,2,x,3,4\n1,2,x,3,4\n1,2,x,3,4\n1,2,x,3,4\n9,9,y,9,9\n"),
              o, {"missing.csv", "has no sample of class \"y\""});
  ImportOptions small;
  small.max_file_bytes = 10;
  ExpectError(Write("big.csv", head + good), small, {"big.csv: larger than the limit of 10 bytes"});
  ImportOptions split;
  split.split_column = "part";
  ExpectError(Write("nosplit.csv", head + good), split, {"no split column \"part\""});
  ExpectError(Write("badsplit.csv", "split,a,label\ntest,1,x\n"), ImportOptions{},
              {"badsplit.csv: row 2", "\"test\" is not a split"});
  ExpectError(Write("d.xyz", head + good), ImportOptions{}, {"cannot tell the format"});
  auto missing = ImportFiles("/nonexistent/x.csv", ImportOptions{});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/x.csv: cannot open"), std::string::npos);
}

TEST_F(FormatsTest, SeparateFilesForSelectionAndHoldout) {
  ImportOptions o;
  o.selection_file = Write("sel.csv", Csv(6));
  o.holdout_file = Write("hold.csv", Csv(4));
  o.classes = {"healthy", "faulty"};
  auto r = ImportFiles(Write("train.csv", Csv(10)), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->table.part(SplitId::kTrain).size(), 10);
  EXPECT_EQ(r->table.part(SplitId::kSelection).size(), 6);
  EXPECT_EQ(r->table.part(SplitId::kHoldout).size(), 4);
  EXPECT_NE(r->split_rule.find("selection from"), std::string::npos);
  o.holdout_file = "";
  ExpectError(Write("t2.csv", Csv(10)), o, {"--selection and --holdout go together"});
}

TEST_F(FormatsTest, NpyNpzAndIdx) {
  // 6 samples of 2x3 float32, labels int64 0/1.
  std::vector<float> x;
  for (int i = 0; i < 36; ++i) x.push_back(static_cast<float>(i) / 4);
  std::vector<int64_t> y{0, 1, 0, 1, 0, 1};
  const std::string xb = Npy("<f4", {6, 2, 3}, Raw(x));
  const std::string yb = Npy("<i8", {6}, Raw(y));
  ImportOptions o;
  o.labels_file = Write("y.npy", yb);
  o.selection_fraction = o.holdout_fraction = 0.34;
  auto r = ImportFiles(Write("x.npy", xb), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->table.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(r->table.classes, (std::vector<std::string>{"0", "1"}));

  // The same arrays in an .npz (stored, as np.savez writes them).
  const std::string npz = (dir_ / "d.npz").string();
  int err = 0;
  zip_t* z = zip_open(npz.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  zip_file_add(z, "x.npy", zip_source_buffer(z, xb.data(), xb.size(), 0), ZIP_FL_OVERWRITE);
  zip_file_add(z, "y.npy", zip_source_buffer(z, yb.data(), yb.size(), 0), ZIP_FL_OVERWRITE);
  ASSERT_EQ(zip_close(z), 0);
  ImportOptions oz;
  oz.selection_fraction = oz.holdout_fraction = 0.34;
  oz.classes = {"healthy", "faulty"};
  auto rz = ImportFiles(npz, oz);
  ASSERT_TRUE(rz.ok()) << rz.status().ToString();
  EXPECT_EQ(rz->table.part(SplitId::kTrain).x, r->table.part(SplitId::kTrain).x);
  EXPECT_EQ(rz->table.classes, oz.classes);

  // Bad npy: truncated header, truncated data, Fortran order, missing labels, float labels.
  ExpectError(Write("h.npy", xb.substr(0, 30)), o, {"h.npy: truncated .npy header"});
  ExpectError(Write("t.npy", xb.substr(0, xb.size() - 4)), o, {"t.npy", "(truncated)"});
  std::string fortran = xb;
  fortran.replace(fortran.find("False"), 5, "True ");
  ExpectError(Write("f.npy", fortran), o, {"f.npy: Fortran-ordered"});
  ExpectError(Write("x2.npy", xb), ImportOptions{}, {"--labels FILE.npy"});
  ImportOptions fl = o;
  fl.labels_file = Write("yf.npy", Npy("<f4", {6}, Raw(std::vector<float>(6, 0.5f))));
  ExpectError(Write("x3.npy", xb), fl, {"yf.npy: label 1 is not a class index"});
  ImportOptions few = o;
  few.labels_file = Write("y5.npy", Npy("<i8", {5}, Raw(std::vector<int64_t>(5, 0))));
  ExpectError(Write("x4.npy", xb), few, {"y5.npy: 5 labels for 6 samples"});
  ExpectError(Write("bad.npz", "PK not really"), ImportOptions{}, {"bad.npz: not a readable .npz"});

  // IDX images (gzipped) with IDX labels: 1xHxW samples.
  std::string img{0, 0, 8, 3, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 2};
  for (int i = 0; i < 48; ++i) img += static_cast<char>(i * 5);
  std::string lab{0, 0, 8, 1, 0, 0, 0, 12};
  for (int i = 0; i < 12; ++i) lab += static_cast<char>(i % 3);
  ImportOptions oi;
  oi.labels_file = WriteGz("labels-idx1-ubyte.gz", lab);
  oi.selection_fraction = oi.holdout_fraction = 0.25;
  auto ri = ImportFiles(WriteGz("images-idx3-ubyte.gz", img), oi);
  ASSERT_TRUE(ri.ok()) << ri.status().ToString();
  EXPECT_EQ(ri->table.shape, (std::vector<int64_t>{1, 2, 2}));
  EXPECT_EQ(ri->table.classes.size(), 3u);
  ExpectError(WriteGz("short-idx3-ubyte.gz", img.substr(0, 10)), oi,
              {"short-idx3-ubyte.gz: truncated IDX header"});
}

TEST_F(FormatsTest, ExportReadsBackIntoTheSameContent) {
  ImportOptions o;
  o.shape = "2x2";
  o.classes = {"healthy", "faulty"};
  auto r = ImportFiles(Write("d.csv", Csv(30)), o);
  ASSERT_TRUE(r.ok());
  for (const char* name : {"out.csv", "out.csv.gz"}) {
    const std::string path = (dir_ / name).string();
    ASSERT_TRUE(ExportCsv(r->table, path).ok());
    ImportOptions back;
    back.shape = "2x2";
    back.classes = o.classes;
    auto again = ImportFiles(path, back);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(ContentHash(*Encode(again->table)), ContentHash(*Encode(r->table))) << name;
  }
}

}  // namespace
}  // namespace sweepfarm::data

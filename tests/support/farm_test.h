// Base fixture for tests that run a whole farm: one database per test binary (a private cluster,
// started once), a fresh schema and Farm per test.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "tests/support/farm.h"

namespace sweepfarm::testing {

class FarmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (db_ == nullptr) db_ = new TestDatabase();
  }
  void SetUp() override {
    ASSERT_TRUE(db_->ok()) << db_->error();
    farm_ = std::make_unique<Farm>(db_);
  }
  // The farm's directory (logs, address file, sweep files) is kept when the test failed or
  // SWEEPFARM_KEEP_TEST_DIRS is set, and removed otherwise.
  void TearDown() override {
    if (farm_ == nullptr) return;
    std::string dir = farm_->dir();
    farm_.reset();  // Kills its processes first: they write into the directory.
    if (HasFailure() || std::getenv("SWEEPFARM_KEEP_TEST_DIRS") != nullptr) {
      std::cerr << "test logs kept in " << dir << "\n";
    } else {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }

  // Shared by every suite of the binary and left for process exit, which stops its cluster via
  // the destructor of a static below.
  static inline TestDatabase* db_ = nullptr;
  std::unique_ptr<Farm> farm_;

 private:
  struct Cleanup {
    ~Cleanup() { delete db_; }
  };
  static inline Cleanup cleanup_;
};

}  // namespace sweepfarm::testing

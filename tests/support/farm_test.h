// Base fixture for tests that run a whole farm: one database per test binary (a private cluster,
// started once), a fresh schema and Farm per test.
#pragma once

#include <gtest/gtest.h>

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

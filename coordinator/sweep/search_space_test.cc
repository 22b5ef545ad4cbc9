#include "coordinator/sweep/search_space.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace sweepfarm::sweep {
namespace {

Domain Values(std::vector<double> v, bool integer = false) {
  Domain d;
  d.values = std::move(v);
  d.integer = integer;
  return d;
}

Domain Range(double lo, double hi, bool log, int64_t steps = 0, bool integer = false) {
  Domain d;
  d.kind = Domain::kRange;
  d.min = lo;
  d.max = hi;
  d.log = log;
  d.steps = steps;
  d.integer = integer;
  return d;
}

TEST(SearchSpaceTest, GridExpandsCartesianProductWithEpochsFastest) {
  SearchSpace s;
  s.params["epochs"] = Values({5, 10}, true);
  s.params["step_size"] = Range(1e-3, 1e-1, true, 3);
  s.params["issue_rate"] = Values({0.4, 0.6});
  auto trials = Expand(s, "grid", 0, 1);
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 12u);
  EXPECT_EQ((*trials)[0].epochs(), 5);
  EXPECT_EQ((*trials)[1].epochs(), 10);
  EXPECT_EQ((*trials)[0].step_size(), (*trials)[1].step_size());
  EXPECT_NEAR((*trials)[4].step_size(), 1e-2, 1e-12);  // Log-spaced midpoint.
  std::set<std::tuple<int, double, double>> unique;
  for (const auto& t : *trials) {
    unique.insert({t.epochs(), t.step_size(), t.issue_rate()});
    EXPECT_EQ(t.data_size(), 1.0);  // Default.
    EXPECT_EQ(t.seed(), 1u);
  }
  EXPECT_EQ(unique.size(), 12u);
}

TEST(SearchSpaceTest, GridSizeAndBudget) {
  SearchSpace s;
  s.params["epochs"] = Values({1, 2, 3}, true);
  s.params["seed"] = Range(0, 9, false, 10, true);
  EXPECT_EQ(*GridSize(s), 30);
  EXPECT_EQ(Expand(s, "grid", 29, 1).status().code(), StatusCode::kInvalidArgument);
  s.params["step_size"] = Range(1e-3, 1e-2, true);  // No steps: not a grid.
  EXPECT_FALSE(GridSize(s).ok());
}

TEST(SearchSpaceTest, RandomDrawsWithinBoundsDeterministically) {
  SearchSpace s;
  s.params["epochs"] = Range(25, 100, false, 0, true);
  s.params["step_size"] = Range(1e-3, 2e-2, true);
  s.params["issue_rate"] = Range(0.1, 0.9, false);
  auto a = Expand(s, "random", 500, 42);
  auto b = Expand(s, "random", 500, 42);
  auto c = Expand(s, "random", 500, 43);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_EQ(a->size(), 500u);
  int below_geo_mid = 0;
  for (size_t i = 0; i < a->size(); ++i) {
    const auto& t = (*a)[i];
    EXPECT_GE(t.epochs(), 25);
    EXPECT_LE(t.epochs(), 100);
    EXPECT_GE(t.step_size(), 1e-3);
    EXPECT_LE(t.step_size(), 2e-2);
    EXPECT_GE(t.issue_rate(), 0.1);
    EXPECT_LE(t.issue_rate(), 0.9);
    EXPECT_EQ(t.SerializeAsString(), (*b)[i].SerializeAsString());
    if (t.step_size() < std::sqrt(1e-3 * 2e-2)) ++below_geo_mid;
  }
  // Log-uniform: about half fall below the geometric midpoint.
  EXPECT_NEAR(below_geo_mid / 500.0, 0.5, 0.08);
  EXPECT_NE((*a)[0].SerializeAsString(), (*c)[0].SerializeAsString());
  EXPECT_FALSE(Expand(s, "random", 0, 1).ok());
}

}  // namespace
}  // namespace sweepfarm::sweep

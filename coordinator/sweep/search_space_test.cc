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

// seed_from's defaults: step size x/÷ 1.5, epochs ± 25%, mix ± 0.1.
v1::SeedSpec NeighbourSpec() {
  v1::SeedSpec spec;
  spec.set_step_factor(1.5);
  spec.set_epochs_spread(0.25);
  spec.set_mix_spread(0.1);
  return spec;
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

TEST(SearchSpaceTest, SeededSweepsTrySeedsFirstThenTheirNeighbourhood) {
  SearchSpace s;
  s.params["epochs"] = Range(10, 80, false, 0, true);
  s.params["step_size"] = Range(1e-3, 2e-2, true);
  s.params["issue_rate"] = Range(0.3, 0.7, false);
  std::vector<SeedTrial> seeds(3);
  seeds[0] = {7, {}};
  seeds[0].params.set_epochs(50);
  seeds[0].params.set_step_size(0.006);
  seeds[0].params.set_issue_rate(0.5);
  seeds[0].params.set_data_size(1.0);
  seeds[0].params.set_seed(3);
  seeds[1] = seeds[0];  // The same parameters from another trial: tried once.
  seeds[1].trial_id = 8;
  seeds[2] = {9, seeds[0].params};
  seeds[2].params.set_step_size(0.0195);
  seeds[2].params.set_epochs(78);
  seeds[2].params.set_issue_rate(-1);
  const v1::SeedSpec spec = NeighbourSpec();
  auto out = SeedAndNeighbours(s, seeds, spec, 40, 1);
  ASSERT_EQ(out.size(), 40u);
  EXPECT_EQ(out[0].origin, "seed");
  EXPECT_EQ(out[0].parent_trial_id, 7);
  EXPECT_EQ(out[0].params.seed(), 3u);
  EXPECT_EQ(out[1].origin, "seed");
  EXPECT_EQ(out[1].parent_trial_id, 9);
  for (size_t i = 2; i < out.size(); ++i) {
    const auto& n = out[i];
    EXPECT_EQ(n.origin, "neighbour");
    const auto& p = n.parent_trial_id == 7 ? seeds[0].params : seeds[2].params;
    ASSERT_TRUE(n.parent_trial_id == 7 || n.parent_trial_id == 9);
    EXPECT_GE(n.params.step_size(), p.step_size() / 1.5 - 1e-12);
    EXPECT_LE(n.params.step_size(), std::min(p.step_size() * 1.5, 2e-2) + 1e-12);
    EXPECT_GE(n.params.epochs(), std::round(p.epochs() * 0.75));
    EXPECT_LE(n.params.epochs(), std::min(80.0, std::round(p.epochs() * 1.25)));
    if (p.issue_rate() < 0) {
      EXPECT_EQ(n.params.issue_rate(), -1);  // A natural mix stays natural.
    } else {
      EXPECT_GE(n.params.issue_rate(), 0.4 - 1e-12);
      EXPECT_LE(n.params.issue_rate(), 0.6 + 1e-12);
    }
    EXPECT_GE(n.params.data_size(), 0.9 - 1e-12);
    EXPECT_LE(n.params.data_size(), 1.0);
  }
  // Neighbours alternate between the distinct seeds, and the whole is deterministic.
  EXPECT_EQ(out[2].parent_trial_id, 7);
  EXPECT_EQ(out[3].parent_trial_id, 9);
  auto again = SeedAndNeighbours(s, seeds, spec, 40, 1);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].params.SerializeAsString(), again[i].params.SerializeAsString());
  }
  EXPECT_EQ(SeedAndNeighbours(s, seeds, spec, 1, 1).size(), 1u);
  EXPECT_TRUE(SeedAndNeighbours(s, {}, spec, 10, 1).empty());
}

// Architecture search: channel lists are a categorical parameter (Set and Get translate indices),
// the architecture varies slowest in a grid (one architecture's trials are adjacent), and a trial
// trains the sweep's architecture with its own channels and kernel size in place.
TEST(SearchSpaceTest, ArchitectureChoicesExpandSlowestAndOverrideTheSweeps) {
  SearchSpace s;
  s.channel_choices = {{8, 16}, {16, 32}};
  s.params["channels"] = Values({0, 1}, true);
  s.params["kernel_size"] = Values({3, 5}, true);
  s.params["epochs"] = Values({2, 4}, true);
  s.params["step_size"] = Values({0.01});
  auto grid = Expand(s, "grid", 0, 1);
  ASSERT_TRUE(grid.ok());
  ASSERT_EQ(grid->size(), 8u);
  auto arch_of = [](const v1::TrialParams& p) {
    return std::to_string(p.channels(0)) + "x" + std::to_string(p.channels(1)) + "/k" +
           std::to_string(p.kernel_size());
  };
  const std::vector<std::string> expected{"8x16/k3",  "8x16/k3",  "8x16/k5",  "8x16/k5",
                                          "16x32/k3", "16x32/k3", "16x32/k5", "16x32/k5"};
  for (size_t i = 0; i < grid->size(); ++i) {
    EXPECT_EQ(arch_of((*grid)[i]), expected[i]) << i;
    EXPECT_EQ((*grid)[i].epochs(), i % 2 ? 4 : 2);
  }
  EXPECT_EQ(Get(s, (*grid)[5], "channels"), 1);
  EXPECT_EQ(Get(s, (*grid)[5], "kernel_size"), 3);
  v1::TrialParams other = (*grid)[0];
  other.set_channels(0, 12);  // Not among the choices (a seed from another sweep).
  EXPECT_TRUE(std::isnan(Get(s, other, "channels")));
  EXPECT_TRUE(std::isnan(Get(s, Defaults(), "kernel_size")));

  v1::ArchitectureSpec sweep;
  sweep.set_name("cnn1d");
  sweep.add_channels(32);
  sweep.add_channels(64);
  sweep.set_kernel_size(5);
  v1::ArchitectureSpec a = TrialArchitecture(sweep, (*grid)[5]);
  EXPECT_EQ(a.name(), "cnn1d");
  EXPECT_EQ(std::vector<int64_t>(a.channels().begin(), a.channels().end()),
            (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(a.kernel_size(), 3);
  EXPECT_EQ(TrialArchitecture(sweep, Defaults()).SerializeAsString(), sweep.SerializeAsString());

  // Random draws cover the choices; a seed's neighbours keep its architecture, and seeds that
  // differ only in architecture are both kept.
  auto random = Expand(s, "random", 40, 3);
  ASSERT_TRUE(random.ok());
  std::set<std::string> drawn;
  for (const auto& p : *random) drawn.insert(arch_of(p));
  EXPECT_EQ(drawn.size(), 4u);
  std::vector<SeedTrial> seeds{{1, (*grid)[1]}, {2, (*grid)[3]}};
  const v1::SeedSpec spec = NeighbourSpec();
  auto seeded = SeedAndNeighbours(s, seeds, spec, 10, 1);
  ASSERT_EQ(seeded.size(), 10u);
  EXPECT_EQ(seeded[1].origin, "seed");
  for (const auto& t : seeded) {
    EXPECT_EQ(arch_of(t.params),
              arch_of(t.parent_trial_id == 1 ? seeds[0].params : seeds[1].params));
  }
}

}  // namespace
}  // namespace sweepfarm::sweep

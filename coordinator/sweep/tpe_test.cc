#include "coordinator/sweep/tpe.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace sweepfarm::sweep {
namespace {

Domain Range(double min, double max, bool log, bool integer) {
  Domain d;
  d.kind = Domain::kRange;
  d.min = min;
  d.max = max;
  d.log = log;
  d.integer = integer;
  return d;
}

SearchSpace Space() {
  SearchSpace s;
  s.params["step_size"] = Range(1e-3, 1e-1, true, false);
  s.params["issue_rate"] = Range(0.1, 0.9, false, false);
  s.params["seed"] = Range(1, 1e6, false, true);
  Domain epochs;
  epochs.kind = Domain::kValues;
  epochs.values = {2, 4, 8};
  epochs.integer = true;
  s.params["epochs"] = epochs;
  return s;
}

// A smooth objective with its peak at step size 0.006, issue rate 0.5 and 8 epochs.
double Objective(const v1::TrialParams& p) {
  const double a = std::log(p.step_size() / 0.006), b = p.issue_rate() - 0.5;
  return 1 - 0.05 * a * a - 0.5 * b * b - 0.02 * (8 - p.epochs());
}

std::vector<Observation> Observe(const std::vector<v1::TrialParams>& trials) {
  std::vector<Observation> out;
  for (const auto& t : trials) out.push_back({t, Objective(t)});
  return out;
}

double Mean(const std::vector<v1::TrialParams>& trials) {
  double s = 0;
  for (const auto& t : trials) s += Objective(t);
  return s / static_cast<double>(trials.size());
}

TEST(TpeTest, GoodGroupIsOneTenthAtLeastOneAtMost25) {
  EXPECT_EQ(TpeGoodCount(0), 0);
  EXPECT_EQ(TpeGoodCount(1), 1);
  EXPECT_EQ(TpeGoodCount(16), 2);
  EXPECT_EQ(TpeGoodCount(100), 10);
  EXPECT_EQ(TpeGoodCount(1000), 25);
  EXPECT_EQ(TpeRounds(64, 16), 4);
  EXPECT_EQ(TpeRounds(65, 16), 5);
}

// After a random round, TPE's proposals score better on average than another random round, and
// better still after a second round of observations.
TEST(TpeTest, ProposalsMoveTowardsTheOptimum) {
  const SearchSpace space = Space();
  auto first = Expand(space, "random", 24, 1);
  ASSERT_TRUE(first.ok());
  auto random = Expand(space, "random", 24, 2);
  ASSERT_TRUE(random.ok());
  std::vector<Observation> seen = Observe(*first);
  auto round2 = ProposeTpe(space, seen, 24, 7);
  ASSERT_EQ(round2.size(), 24u);
  EXPECT_GT(Mean(round2), Mean(*random) + 0.05)
      << "TPE " << Mean(round2) << ", random " << Mean(*random);
  for (const auto& o : Observe(round2)) seen.push_back(o);
  auto round3 = ProposeTpe(space, seen, 24, 8);
  EXPECT_GT(Mean(round3), Mean(round2) - 0.01);
  double best_random = -1e9, best_tpe = -1e9;
  for (const auto& t : *random) best_random = std::max(best_random, Objective(t));
  for (const auto& t : round3) best_tpe = std::max(best_tpe, Objective(t));
  EXPECT_GT(best_tpe, best_random);
}

TEST(TpeTest, ProposalsStayInTheSpaceAndSeedsStayRandom) {
  const SearchSpace space = Space();
  auto first = Expand(space, "random", 20, 3);
  ASSERT_TRUE(first.ok());
  auto proposed = ProposeTpe(space, Observe(*first), 50, 9);
  std::set<uint64_t> seeds;
  for (const auto& p : proposed) {
    EXPECT_GE(p.step_size(), 1e-3);
    EXPECT_LE(p.step_size(), 1e-1);
    EXPECT_GE(p.issue_rate(), 0.1);
    EXPECT_LE(p.issue_rate(), 0.9);
    EXPECT_TRUE(p.epochs() == 2 || p.epochs() == 4 || p.epochs() == 8) << p.epochs();
    EXPECT_EQ(p.data_size(), 1.0);  // Not in the space: the default.
    EXPECT_GE(p.seed(), 1u);
    EXPECT_LE(p.seed(), 1000000u);
    seeds.insert(p.seed());
  }
  EXPECT_GT(seeds.size(), 45u);
}

TEST(TpeTest, DeterministicAndRandomWithoutObservations) {
  const SearchSpace space = Space();
  auto first = Expand(space, "random", 12, 4);
  ASSERT_TRUE(first.ok());
  auto a = ProposeTpe(space, Observe(*first), 10, 11);
  auto b = ProposeTpe(space, Observe(*first), 10, 11);
  auto c = ProposeTpe(space, Observe(*first), 10, 12);
  ASSERT_EQ(a.size(), b.size());
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString());
    differs |= a[i].SerializeAsString() != c[i].SerializeAsString();
  }
  EXPECT_TRUE(differs);
  auto none = ProposeTpe(space, {}, 30, 5);
  ASSERT_EQ(none.size(), 30u);
  std::set<double> steps;
  for (const auto& p : none) steps.insert(p.step_size());
  EXPECT_EQ(steps.size(), 30u);
}

// An objective whose good region is a diagonal ridge: good step sizes depend on the issue rate.
// Each parameter's marginal over the good trials is then nearly flat, so independent TPE learns
// little; the joint density follows the ridge.
double Ridge(const v1::TrialParams& p) {
  const double u = std::log(p.step_size() / 1e-3) / std::log(100.0);  // [0, 1]
  const double v = (p.issue_rate() - 0.1) / 0.8;                      // [0, 1]
  return 1 - 4 * (u - v) * (u - v);
}

TEST(TpeTest, MultivariateFollowsInteractionsThatIndependentCannotSee) {
  SearchSpace space;
  space.params["step_size"] = Range(1e-3, 1e-1, true, false);
  space.params["issue_rate"] = Range(0.1, 0.9, false, false);
  double independent = 0, joint = 0;
  int joint_wins = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    auto first = Expand(space, "random", 40, seed);
    ASSERT_TRUE(first.ok());
    std::vector<Observation> seen;
    for (const auto& t : *first) seen.push_back({t, Ridge(t)});
    TpeOptions multivariate;
    multivariate.multivariate = true;
    double a = 0, b = 0;
    for (const auto& p : ProposeTpe(space, seen, 40, seed)) a += Ridge(p) / 40;
    for (const auto& p : ProposeTpe(space, seen, 40, seed, multivariate)) {
      EXPECT_GE(p.step_size(), 1e-3);
      EXPECT_LE(p.step_size(), 1e-1);
      EXPECT_GE(p.issue_rate(), 0.1);
      EXPECT_LE(p.issue_rate(), 0.9);
      b += Ridge(p) / 40;
    }
    independent += a / 5;
    joint += b / 5;
    joint_wins += b > a;
  }
  EXPECT_GT(joint, independent + 0.05) << "joint " << joint << ", independent " << independent;
  EXPECT_GE(joint_wins, 4);
}

// Architecture choices are modelled as categories: when one channel list scores best, TPE
// proposes it far more often than the others; observations with channels outside the choices
// (seeds from another sweep) are left out of that parameter's model, not counted as a choice.
TEST(TpeTest, ModelsChannelChoicesAsCategories) {
  SearchSpace space = Space();
  space.channel_choices = {{8, 16}, {16, 32}, {32, 64}};
  Domain channels;
  channels.kind = Domain::kValues;
  channels.values = {0, 1, 2};
  channels.integer = true;
  space.params["channels"] = channels;
  auto first = Expand(space, "random", 30, 5);
  ASSERT_TRUE(first.ok());
  std::vector<Observation> seen;
  for (const auto& t : *first) seen.push_back({t, Objective(t) + (t.channels(0) == 16 ? 1 : 0)});
  for (int i = 0; i < 10; ++i) {  // Results with channels that are not a choice.
    v1::TrialParams t = (*first)[0];
    t.set_channels(0, 64);
    seen.push_back({t, -10});
  }
  auto proposed = ProposeTpe(space, seen, 40, 13);
  int middle = 0;
  for (const auto& p : proposed) {
    ASSERT_EQ(p.channels_size(), 2);
    EXPECT_NE(p.channels(0), 64);
    middle += p.channels(0) == 16;
  }
  EXPECT_GT(middle, 30) << "of 40";
}

}  // namespace
}  // namespace sweepfarm::sweep

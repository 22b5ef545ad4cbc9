#include "cli/scale.h"

#include <gtest/gtest.h>

namespace sweepfarm::cli {
namespace {

TEST(ScaleTest, StartsWhatTheWorkNeedsWithinTheLimits) {
  const ScaleLimits limits{0, 4, 10};
  // 25 trials of work: 3 workers.
  ScalePlan p = PlanWorkers(20, 5, {}, limits);
  EXPECT_EQ(p.want, 3);
  EXPECT_EQ(p.submit, 3);
  EXPECT_TRUE(p.cancel.empty());
  // One already running and one pending: one more.
  p = PlanWorkers(20, 5, {{"7_1"}, {"7_0"}}, limits);
  EXPECT_EQ(p.submit, 1);
  // Much more work: the maximum, no more.
  p = PlanWorkers(1000, 0, {{}, {"7_0"}}, limits);
  EXPECT_EQ(p.want, 4);
  EXPECT_EQ(p.submit, 3);
  // No work: the minimum (none here), and a minimum is kept when idle.
  EXPECT_EQ(PlanWorkers(0, 0, {}, limits).want, 0);
  EXPECT_EQ(PlanWorkers(0, 0, {}, {2, 4, 10}).submit, 2);
}

TEST(ScaleTest, StopsTheSurplusOnlyOnceNothingIsQueued) {
  const ScaleLimits limits{1, 8, 10};
  const WorkerJobs jobs{{"9_0", "9_1"}, {"7_0", "7_1", "8_0"}};
  // Trials still queued: nobody is stopped (they would hand work back).
  ScalePlan p = PlanWorkers(5, 0, jobs, limits);
  EXPECT_EQ(p.want, 1);
  EXPECT_TRUE(p.cancel.empty());
  EXPECT_EQ(p.submit, 0);
  // Nothing queued, 12 running: 2 workers; pending jobs go first, then the newest running.
  p = PlanWorkers(0, 12, jobs, limits);
  EXPECT_EQ(p.want, 2);
  EXPECT_EQ(p.cancel, (std::vector<std::string>{"9_1", "9_0", "8_0"}));
  // All done: down to the minimum, the oldest kept.
  p = PlanWorkers(0, 0, jobs, limits);
  EXPECT_EQ(p.cancel, (std::vector<std::string>{"9_1", "9_0", "8_0", "7_1"}));
  // Above a lowered maximum: cut even with work queued.
  p = PlanWorkers(500, 0, jobs, {0, 3, 10});
  EXPECT_EQ(p.want, 3);
  EXPECT_EQ(p.cancel, (std::vector<std::string>{"9_1", "9_0"}));
}

}  // namespace
}  // namespace sweepfarm::cli

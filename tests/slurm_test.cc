// The Slurm test (ctest label "slurm"): a private one-node Slurm cluster on this machine
// (deploy/slurm/local-cluster.sh: munged, slurmctld and slurmd with everything under a run
// directory), workers submitted with deploy/slurm/workers.sbatch as a job array, a sweep of real
// training run to the end, and one worker's job cancelled with scancel in the middle: its worker
// drains and hands back, the other finishes the sweep; nothing lost or duplicated.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/support/farm_test.h"

namespace sweepfarm::testing {
namespace {

const std::string kCluster = SWEEPFARM_SOURCE_DIR "/deploy/slurm/local-cluster.sh";
const std::string kBin = "/usr/bin/";  // Debian's slurm-client: sbatch, squeue, scancel.

class SlurmTest : public FarmTest {
 protected:
  void TearDown() override {
    if (!run_.empty()) {
      std::string out, err;
      if (!job_.empty()) RunCommand({kBin + "scancel", job_}, &out, &err, 30);
      RunCommand({kCluster, "stop", run_}, &out, &err, 60);
      if (!HasFailure()) {
        std::error_code ec;
        std::filesystem::remove_all(run_, ec);
      } else {
        std::cerr << "Slurm's run directory kept in " << run_ << "\n";
      }
    }
    FarmTest::TearDown();
  }

  // squeue's lines for `job` (empty once it has ended).
  std::string Queue(const std::string& job) {
    std::string out, err;
    RunCommand({kBin + "squeue", "-h", "-j", job, "-o", "%i %T"}, &out, &err, 30);
    return out;
  }

  std::string run_, job_;
};

TEST_F(SlurmTest, WorkersRunAsAJobArrayAndACancelledOneLosesNothing) {
  if (geteuid() != 0) GTEST_SKIP() << "starts Slurm's and munge's daemons: run as root";
  const std::string addr = farm_->StartCoordinator();
  ASSERT_FALSE(addr.empty());
  char name[] = "/tmp/sfslurm-XXXXXX";  // Short: munge's socket path lives under it.
  ASSERT_NE(mkdtemp(name), nullptr);
  run_ = name;
  std::string out, err;
  ASSERT_EQ(RunCommand({kCluster, "start", run_, "2"}, &out, &err, 60), 0) << out << err;
  ASSERT_EQ(setenv("SLURM_CONF", (run_ + "/slurm.conf").c_str(), 1), 0);
  ASSERT_EQ(setenv("SWEEPFARM_WORKER", SWEEPFARM_WORKER, 1), 0);  // Exported to the jobs.

  ASSERT_EQ(RunCommand({kBin + "sbatch", "--parsable", "--array=0-1", "--cpus-per-task=1",
                        "--output=" + run_ + "/worker-%A_%a.log",
                        SWEEPFARM_SOURCE_DIR "/deploy/slurm/workers.sbatch", addr, "--capacity",
                        "2", "--cache-dir", run_ + "/cache"},
                       &out, &err, 30),
            0)
      << out << err;
  job_ = out.substr(0, out.find_first_of(";\n"));
  ASSERT_FALSE(job_.empty()) << out;
  // Both workers registered (and waiting for work) before the sweep, so both take part in it.
  ASSERT_TRUE(farm_->WaitForCount("SELECT count(*) FROM workers", 2, 60)) << Queue(job_);

  // 48 trials of a small real CNN, two per lease, so each worker takes many leases.
  const int kTrials = 48;
  const std::string sweep =
      "version: 1\nname: slurm\nmodel: slurm-model\n"
      "dataset: {name: telemetry, params: {lab_samples: 400, escalation_samples: 200}}\n"
      "architecture: {name: cnn1d, channels: [4, 8]}\n"
      "search:\n  method: grid\n  space:\n    epochs: [4]\n    step_size: 0.01\n"
      "    seed: {min: 1, max: 48, steps: 48}\n";
  ASSERT_EQ(farm_->Sweepctl({"--coordinator", addr, "submit", farm_->WriteFile("s.yaml", sweep)},
                            &out, &err),
            0)
      << err;

  // In the middle: once both workers have reported and work is still queued, cancel the first.
  ASSERT_TRUE(farm_->WaitForCount("SELECT count(DISTINCT worker_id) FROM report_log", 2, 120))
      << farm_->ExitedProcesses() << Queue(job_);
  const int64_t left = farm_->Count("SELECT count(*) FROM trials WHERE state <> 'succeeded'");
  EXPECT_GT(left, 0) << "the sweep ended before a worker could be cancelled";
  ASSERT_EQ(RunCommand({kBin + "scancel", job_ + "_0"}, &out, &err, 30), 0) << err;
  const auto cancelled = std::chrono::steady_clock::now();
  while (!Queue(job_ + "_0").empty() &&
         std::chrono::steady_clock::now() - cancelled < std::chrono::seconds(90)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(Queue(job_ + "_0"), "") << "the cancelled job did not end";
  EXPECT_NE(Queue(job_ + "_1"), "") << "the other job ended too";

  // The other worker finishes the sweep.
  ASSERT_TRUE(
      farm_->WaitForCount("SELECT count(*) FROM trials WHERE state = 'succeeded'", kTrials, 300))
      << farm_->Count("SELECT count(*) FROM trials WHERE state = 'succeeded'") << " of " << kTrials;
  const int64_t lost = farm_->Count(
      "SELECT count(*) FROM trials t WHERE NOT (t.state = 'succeeded' AND EXISTS "
      "(SELECT 1 FROM results r WHERE r.trial_id = t.id))");
  const int64_t duplicated = farm_->Count(
      "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM report_log "
      "WHERE outcome = 'accepted' AND ok GROUP BY trial_id) a");
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM results"), kTrials);
  // The cancelled worker stopped as Slurm asked (SIGTERM: it finished its bundle and exited), and
  // its log says which job it was.
  std::string first;
  for (const auto& entry : std::filesystem::directory_iterator(run_)) {
    if (entry.path().filename().string() == "worker-" + job_ + "_0.log") first = entry.path();
  }
  ASSERT_FALSE(first.empty()) << "no log of array task 0 in " << run_;
  std::string text, e2;
  RunCommand({"/bin/cat", first}, &text, &e2, 10);
  EXPECT_NE(text.find("sweepfarm worker: job " + job_ + "_0"), std::string::npos) << text;
  EXPECT_NE(text.find("stopping after"), std::string::npos) << text;  // It exited on its own.
  std::printf(
      "slurm: %d trials, %lld left when job %s_0 was cancelled; lost %lld, duplicated %lld\n",
      kTrials, static_cast<long long>(left), job_.c_str(), static_cast<long long>(lost),
      static_cast<long long>(duplicated));
}

}  // namespace
}  // namespace sweepfarm::testing

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

  // A coordinator and a private Slurm cluster whose jobs find the worker binary; the
  // coordinator's address ("" on failure, with the test failed).
  std::string StartFarmAndCluster() {
    const std::string addr = farm_->StartCoordinator();
    char name[] = "/tmp/sfslurm-XXXXXX";  // Short: munge's socket path lives under it.
    if (addr.empty() || mkdtemp(name) == nullptr) {
      ADD_FAILURE() << "no coordinator or no run directory";
      return "";
    }
    run_ = name;
    std::string out, err;
    if (RunCommand({kCluster, "start", run_, "2"}, &out, &err, 60) != 0) {
      ADD_FAILURE() << out << err;
      return "";
    }
    setenv("SLURM_CONF", (run_ + "/slurm.conf").c_str(), 1);
    setenv("SWEEPFARM_WORKER", SWEEPFARM_WORKER, 1);  // Exported to the jobs.
    return addr;
  }

  // A sweep of `n` trials of a small real CNN, submitted.
  void Submit(const std::string& addr, int n) {
    const std::string sweep =
        "version: 1\nname: slurm\nmodel: slurm-model\n"
        "dataset: {name: telemetry, params: {lab_samples: 400, escalation_samples: 200}}\n"
        "architecture: {name: cnn1d, channels: [4, 8]}\n"
        "search:\n  method: grid\n  space:\n    epochs: [4]\n    step_size: 0.01\n"
        "    seed: {min: 1, max: " +
        std::to_string(n) + ", steps: " + std::to_string(n) + "}\n";
    std::string out, err;
    ASSERT_EQ(farm_->Sweepctl({"--coordinator", addr, "submit", farm_->WriteFile("s.yaml", sweep)},
                              &out, &err),
              0)
        << err;
  }

  // squeue's lines for `job` (empty once it has ended; all jobs if "").
  std::string Queue(const std::string& job) {
    std::string out, err;
    std::vector<std::string> argv{kBin + "squeue", "-h", "-o", "%i %T"};
    if (!job.empty()) argv.insert(argv.end(), {"-j", job});
    RunCommand(argv, &out, &err, 30);
    return out;
  }

  std::string run_, job_;
};

TEST_F(SlurmTest, WorkersRunAsAJobArrayAndACancelledOneLosesNothing) {
  if (geteuid() != 0) GTEST_SKIP() << "starts Slurm's and munge's daemons: run as root";
  const std::string addr = StartFarmAndCluster();
  ASSERT_FALSE(addr.empty());
  std::string out, err;
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
  Submit(addr, kTrials);

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

// `sweepctl scale`: worker jobs follow the queue. A sweep queued with no workers: scale submits
// as many as the work needs (up to the maximum); they run it to the end; scale then cancels them
// all (the minimum is 0), and the cluster holds no worker job.
TEST_F(SlurmTest, ScaleSubmitsWorkersForQueuedWorkAndCancelsThemWhenItIsDone) {
  if (geteuid() != 0) GTEST_SKIP() << "starts Slurm's and munge's daemons: run as root";
  const std::string addr = StartFarmAndCluster();
  ASSERT_FALSE(addr.empty());
  const int kTrials = 40;
  Submit(addr, kTrials);
  const std::vector<std::string> scale{"--coordinator",
                                       addr,
                                       "scale",
                                       "--script",
                                       SWEEPFARM_SOURCE_DIR "/deploy/slurm/workers.sbatch",
                                       "--max-workers",
                                       "2",
                                       "--trials-per-worker",
                                       "16",
                                       "--sbatch-args",
                                       "--cpus-per-task=1 --output=" + run_ + "/scaled-%A_%a.log",
                                       "--worker-args",
                                       "--capacity 2 --cache-dir " + run_ + "/cache"};
  std::string out, err;
  // A dry run says what it would do and does nothing.
  std::vector<std::string> dry = scale;
  dry.push_back("--dry-run");
  ASSERT_EQ(farm_->Sweepctl(dry, &out, &err), 0) << err;
  EXPECT_NE(out.find("40 queued, 0 running; 0 worker job(s) running, 0 pending; want 2: "
                     "submitting 2 (dry run)"),
            std::string::npos)
      << out;
  EXPECT_EQ(Queue(""), "");
  ASSERT_EQ(farm_->Sweepctl(scale, &out, &err), 0) << err;
  EXPECT_NE(out.find("want 2: submitting 2\nscale: submitted job "), std::string::npos) << out;
  ASSERT_TRUE(
      farm_->WaitForCount("SELECT count(*) FROM trials WHERE state = 'succeeded'", kTrials, 300))
      << Queue("") << farm_->ExitedProcesses();
  EXPECT_GE(farm_->Count("SELECT count(DISTINCT worker_id) FROM results"), 1);
  // The sweep is done: nothing queued or running, so both go.
  ASSERT_EQ(farm_->Sweepctl(scale, &out, &err), 0) << err;
  EXPECT_NE(out.find("0 queued, 0 running; 2 worker job(s) running, 0 pending; want 0: "
                     "cancelling 2"),
            std::string::npos)
      << out;
  const auto cancelled = std::chrono::steady_clock::now();
  while (!Queue("").empty() &&
         std::chrono::steady_clock::now() - cancelled < std::chrono::seconds(90)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(Queue(""), "") << "worker jobs left";
  // Nothing to do now.
  ASSERT_EQ(farm_->Sweepctl(scale, &out, &err), 0) << err;
  EXPECT_NE(out.find("0 worker job(s) running, 0 pending; want 0\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace sweepfarm::testing

// Fault tests (ctest label "fault"): workers killed or frozen, the coordinator killed, PostgreSQL
// crashed, a worker's network cut. Each prints trials completed, failed, lost, duplicated,
// redelivered, stale results rejected, and the time to resume progress after each fault (p50/p99).
// Size: SWEEPFARM_FAULT_TRIALS (default 300, the CI size; the full size is 1000).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "tests/support/farm_test.h"

namespace sweepfarm::testing {
namespace {

using Clock = std::chrono::steady_clock;

int Trials() {
  const char* env = std::getenv("SWEEPFARM_FAULT_TRIALS");
  return env && std::atoi(env) > 0 ? std::atoi(env) : 300;
}

// n trials that differ only in seed; `real` trains a tiny telemetry CNN, else the fake trainer's.
std::string SweepOf(int n, bool real = false) {
  std::string s = "version: 1\nname: fault\nmodel: fault-model\n";
  s += real ? "dataset: {name: telemetry, params: {lab_samples: 400, escalation_samples: 200}}\n"
              "architecture: {name: cnn1d, channels: [4, 8]}\n"
            : "dataset: {name: telemetry}\narchitecture: {name: cnn1d}\n";
  s += "search:\n  method: grid\n  space:\n    epochs: [1]\n    step_size: 0.01\n";
  s += "    seed: {min: 1, max: " + std::to_string(n) + ", steps: " + std::to_string(n) + "}\n";
  return s;
}

// Successive halving over n configurations (rungs of 1, 2, 4 and 8 epochs, eta 3), for the fake
// trainer, whose accuracies depend only on the configuration: the same file promotes the same
// configurations wherever and in whatever order its trials are trained.
std::string HalvingSweepOf(int n) {
  return "version: 1\nname: fault-halving\nmodel: fault-model\ndataset: {name: telemetry}\n"
         "architecture: {name: cnn1d}\nsearch:\n  method: halving\n  budget: " +
         std::to_string(n) +
         "\n  eta: 3\n  space:\n    epochs: [1, 2, 4, 8]\n    step_size: {min: 0.001, max: 0.1}\n"
         "    seed: {min: 1, max: 1000000}\n";
}

struct Stats {
  int64_t total = 0, completed = 0, failed = 0, lost = 0, duplicated = 0, redelivered = 0,
          stale = 0, results = 0;
  std::vector<double> recovery;  // Seconds from each fault until the next accepted result.
};

class FaultTest : public FarmTest {
 protected:
  int64_t Submit(const std::string& addr, const std::string& yaml) {
    std::string out, err;
    EXPECT_EQ(farm_->Sweepctl({"--coordinator", addr, "submit", farm_->WriteFile("s.yaml", yaml)},
                              &out, &err),
              0)
        << err;
    return out.empty() ? 0 : std::stoll(out);
  }

  void RestartCoordinatorThreeTimes(int signal, double every, const std::string& name);

  int64_t Accepted() { return farm_->Count("SELECT count(*) FROM results"); }
  bool Done(int64_t id) {
    return farm_->Count("SELECT count(*) FROM sweeps WHERE state = 'done' AND id = " +
                        std::to_string(id)) == 1;
  }

  // Waits until a result is accepted after `since` results; returns the seconds it took.
  double WaitForProgress(int64_t since, double timeout = 90) {
    auto start = Clock::now();
    while (Accepted() <= since &&
           std::chrono::duration<double>(Clock::now() - start).count() < timeout) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return std::chrono::duration<double>(Clock::now() - start).count();
  }

  // Waits for the sweep to end, calling `fault` every `every` seconds meanwhile.
  void RunUntilDone(int64_t id, double every, const std::function<void()>& fault,
                    double timeout = 240) {
    auto start = Clock::now();
    auto next = start + std::chrono::duration<double>(every);
    while (!Done(id)) {
      ASSERT_LT(std::chrono::duration<double>(Clock::now() - start).count(), timeout)
          << "sweep did not finish; logs in " << farm_->dir();
      if (fault && Clock::now() >= next) {
        fault();
        next = Clock::now() + std::chrono::duration<double>(every);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  Stats Collect(int64_t id, const std::string& name) {
    Stats s = stats_;
    const std::string sid = std::to_string(id);
    s.total = farm_->Count("SELECT count(*) FROM trials WHERE sweep_id = " + sid);
    s.completed =
        farm_->Count("SELECT count(*) FROM trials WHERE state = 'succeeded' AND sweep_id = " + sid);
    s.failed =
        farm_->Count("SELECT count(*) FROM trials WHERE state = 'failed' AND sweep_id = " + sid);
    // Lost: trials that neither succeeded with a result nor failed with a reason.
    s.lost = farm_->Count("SELECT count(*) FROM trials t WHERE sweep_id = " + sid +
                          " AND NOT ((t.state = 'succeeded' AND EXISTS (SELECT 1 FROM results r "
                          "WHERE r.trial_id = t.id))"
                          " OR (t.state = 'failed' AND t.last_error IS NOT NULL))");
    // Duplicated: results accepted more than once for one trial.
    s.duplicated = farm_->Count(
        "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM report_log "
        "WHERE outcome = 'accepted' AND ok GROUP BY trial_id) a");
    s.results = farm_->Count(
        "SELECT count(*) FROM results r JOIN trials t ON t.id = r.trial_id WHERE t.sweep_id = " +
        sid);
    s.redelivered =
        farm_->Count("SELECT count(*) FROM trials WHERE attempts > 1 AND sweep_id = " + sid);
    s.stale = farm_->Count("SELECT count(*) FROM report_log WHERE outcome = 'stale'");
    std::vector<double> r = s.recovery;
    std::sort(r.begin(), r.end());
    auto pct = [&](double p) {
      return r.empty() ? 0.0 : r[std::min(r.size() - 1, static_cast<size_t>(p * r.size()))];
    };
    std::printf(
        "fault %-28s trials %lld: completed %lld, failed %lld, lost %lld, duplicated %lld, "
        "redelivered %lld, stale results rejected %lld; %zu fault(s), recovery p50 %.2f s, "
        "p99 %.2f s\n",
        name.c_str(), static_cast<long long>(s.total), static_cast<long long>(s.completed),
        static_cast<long long>(s.failed), static_cast<long long>(s.lost),
        static_cast<long long>(s.duplicated), static_cast<long long>(s.redelivered),
        static_cast<long long>(s.stale), r.size(), pct(0.5), pct(0.99));
    std::fflush(stdout);
    return s;
  }

  void ExpectNothingLostOrDuplicated(const Stats& s) {
    EXPECT_EQ(s.completed, s.total);
    EXPECT_EQ(s.failed, 0);
    EXPECT_EQ(s.lost, 0);
    EXPECT_EQ(s.duplicated, 0);
    EXPECT_EQ(s.results, s.total);
  }

  std::vector<std::string> FakeWorker(int capacity, int train_ms) {
    return {"--trainer",       "fake",
            "--fake-train-ms", std::to_string(train_ms),
            "--capacity",      std::to_string(capacity)};
  }

  // Four fake workers (bundles of 8, 150 ms each), for RunKillingWorkers.
  void StartKillableWorkers(const std::string& addr) {
    for (int i = 0; i < 4; ++i) {
      live_.push_back(
          &farm_->StartWorker(addr, "w" + std::to_string(started_++), FakeWorker(8, 150)));
    }
  }

  // Runs sweep `id` to its end, killing a random worker with SIGKILL every 1.5 s and starting a
  // fresh one in its place; records the time to the next accepted result after each kill.
  void RunKillingWorkers(const std::string& addr, int64_t id, unsigned seed) {
    std::mt19937 rng(seed);
    RunUntilDone(id, 1.5, [&] {
      size_t victim = rng() % live_.size();
      live_[victim]->Signal(SIGKILL);
      live_[victim]->Wait();
      live_[victim] =
          &farm_->StartWorker(addr, "w" + std::to_string(started_++), FakeWorker(8, 150));
      stats_.recovery.push_back(WaitForProgress(Accepted()));
    });
  }

  Stats stats_;
  std::vector<Process*> live_;
  int started_ = 0;
};

TEST_F(FaultTest, ThousandTrialsNoFaults) {
  std::string addr = farm_->StartCoordinator();
  ASSERT_FALSE(addr.empty());
  for (int i = 0; i < 4; ++i) farm_->StartWorker(addr, "w" + std::to_string(i), FakeWorker(16, 10));
  int64_t id = Submit(addr, SweepOf(1000));
  RunUntilDone(id, 0, nullptr);
  Stats s = Collect(id, "none (fake trainer)");
  ExpectNothingLostOrDuplicated(s);
  EXPECT_EQ(s.total, 1000);
  EXPECT_EQ(s.redelivered, 0);
  EXPECT_EQ(s.stale, 0);
}

TEST_F(FaultTest, RealTrainerNoFaults) {
  std::string addr = farm_->StartCoordinator();
  ASSERT_FALSE(addr.empty());
  for (int i = 0; i < 2; ++i)
    farm_->StartWorker(addr, "w" + std::to_string(i), {"--capacity", "8"});
  int64_t id = Submit(addr, SweepOf(32, /*real=*/true));
  RunUntilDone(id, 0, nullptr);
  Stats s = Collect(id, "none (real trainer)");
  ExpectNothingLostOrDuplicated(s);
  EXPECT_EQ(farm_->Count("SELECT count(DISTINCT test_loss) FROM results"), 32) << "really trained";
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM results WHERE dataset_hash = 'fake'"), 0);
}

TEST_F(FaultTest, WorkersKilledRepeatedly) {
  std::string addr = farm_->StartCoordinator(/*lease_seconds=*/2);
  ASSERT_FALSE(addr.empty());
  StartKillableWorkers(addr);
  int64_t id = Submit(addr, SweepOf(Trials()));
  RunKillingWorkers(addr, id, /*seed=*/7);
  Stats s = Collect(id, "kill -9 workers");
  ExpectNothingLostOrDuplicated(s);
  EXPECT_GE(s.recovery.size(), 1u);
}

// Halving's rungs advance in the report and lease-expiry transactions: with workers killed
// throughout, every rung is still promoted once, and to the same configurations as a calm run.
TEST_F(FaultTest, HalvingUnderWorkerKillsPromotesAsWithoutFaults) {
  std::string addr = farm_->StartCoordinator(/*lease_seconds=*/2);
  ASSERT_FALSE(addr.empty());
  StartKillableWorkers(addr);
  const int64_t calm = Submit(addr, HalvingSweepOf(Trials()));
  RunUntilDone(calm, 0, nullptr);
  const int64_t id = Submit(addr, HalvingSweepOf(Trials()));
  RunKillingWorkers(addr, id, /*seed=*/11);
  Stats s = Collect(id, "kill -9 workers, halving");
  ExpectNothingLostOrDuplicated(s);
  EXPECT_GE(s.recovery.size(), 1u);
  int64_t planned = 0;
  for (int64_t n = Trials(), rung = 0; rung < 4; ++rung, n = std::max<int64_t>(1, n / 3)) {
    planned += n;
  }
  EXPECT_EQ(s.total, planned);
  const std::string a = std::to_string(calm), b = std::to_string(id);
  EXPECT_EQ(farm_->Count("SELECT total_trials FROM sweeps WHERE id = " + b), planned);
  EXPECT_EQ(farm_->Count("SELECT count(DISTINCT rung) FROM trials WHERE sweep_id = " + b), 4);
  // Rung by rung, the same configurations as the calm run.
  for (const auto& [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
    EXPECT_EQ(farm_->Count("SELECT count(*) FROM trials t WHERE t.sweep_id = " + x +
                           " AND NOT EXISTS (SELECT 1 FROM trials u WHERE u.sweep_id = " + y +
                           " AND u.rung = t.rung AND u.params = t.params)"),
              0)
        << "sweep " << x << " has trials sweep " << y << " lacks";
  }
}

TEST_F(FaultTest, FrozenWorkersLateResultsAreRejected) {
  std::string addr = farm_->StartCoordinator(/*lease_seconds=*/2);
  ASSERT_FALSE(addr.empty());
  Process& frozen = farm_->StartWorker(addr, "frozen", FakeWorker(8, 1500));
  int64_t id = Submit(addr, SweepOf(std::min(Trials(), 64)));
  farm_->WaitForCount("SELECT count(*) FROM trials WHERE state = 'running'", 1);
  ASSERT_GT(farm_->Count("SELECT count(*) FROM trials WHERE state = 'running'"), 0);
  frozen.Signal(SIGSTOP);  // Past its lease: its trials are re-queued and run elsewhere.
  auto frozen_at = Accepted();
  farm_->StartWorker(addr, "healthy", FakeWorker(8, 100));
  stats_.recovery.push_back(WaitForProgress(frozen_at));
  std::this_thread::sleep_for(std::chrono::seconds(4));
  frozen.Signal(SIGCONT);  // Its late results must be refused.
  RunUntilDone(id, 0, nullptr);
  for (int i = 0;
       i < 100 && farm_->Count("SELECT count(*) FROM report_log WHERE outcome = 'stale'") == 0;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Stats s = Collect(id, "SIGSTOP past the lease");
  ExpectNothingLostOrDuplicated(s);
  EXPECT_GT(s.stale, 0);
  EXPECT_GT(s.redelivered, 0);
}

// Runs a sweep on three fake workers while the coordinator is stopped with `signal` three times
// (every `every` seconds) and started again on its port: the sweep completes, nothing is lost or
// duplicated, and no worker or watch exits.
void FaultTest::RestartCoordinatorThreeTimes(int signal, double every, const std::string& name) {
  int port = FreePort();
  std::string addr = farm_->StartCoordinator(/*lease_seconds=*/5, port);
  ASSERT_FALSE(addr.empty());
  std::vector<Process*> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(&farm_->StartWorker(addr, "w" + std::to_string(i), FakeWorker(8, 400)));
  }
  int64_t id = Submit(addr, SweepOf(Trials()));
  Process watch =
      farm_->StartSweepctl({"--coordinator", addr, "watch", std::to_string(id)}, "watch");
  int stops = 0;
  RunUntilDone(id, every, [&] {
    if (stops >= 3) return;
    ++stops;
    farm_->coordinator().Signal(signal);
    const int code = farm_->coordinator().Wait();
    if (signal == SIGTERM) {
      EXPECT_EQ(code, 0) << "a stop drains and exits 0";
    }
    int64_t before = Accepted();
    auto t0 = Clock::now();
    ASSERT_FALSE(farm_->StartCoordinator(5, port).empty());
    double restart = std::chrono::duration<double>(Clock::now() - t0).count();
    stats_.recovery.push_back(restart + WaitForProgress(before));
  });
  EXPECT_EQ(stops, 3) << "the sweep ended before three restarts; raise SWEEPFARM_FAULT_TRIALS";
  for (size_t i = 0; i < workers.size(); ++i) {
    EXPECT_EQ(waitpid(workers[i]->pid(), nullptr, WNOHANG), 0)
        << "worker w" << i << " exited: " << farm_->ReadLog("w" + std::to_string(i));
  }
  EXPECT_EQ(watch.Wait(30), 0) << farm_->ReadLog("watch");
  EXPECT_NE(farm_->ReadLog("watch").find("done"), std::string::npos);
  Stats s = Collect(id, name);
  ExpectNothingLostOrDuplicated(s);
}

TEST_F(FaultTest, CoordinatorKilledThreeTimes) {
  RestartCoordinatorThreeTimes(SIGKILL, 1.0, "kill -9 coordinator x3");
}

// Stopped as systemctl restart and a Kubernetes rollout stop it (SIGTERM: it drains the calls in
// flight and exits 0), while workers report.
TEST_F(FaultTest, CoordinatorRestartedThreeTimes) {
  RestartCoordinatorThreeTimes(SIGTERM, 0.7, "SIGTERM coordinator x3");
}

TEST_F(FaultTest, TwoCoordinatorsOnOneDatabase) {
  std::string a = farm_->StartCoordinator(/*lease_seconds=*/3);
  std::string b = farm_->StartCoordinator(/*lease_seconds=*/3);
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  ASSERT_NE(a, b);
  // Submitted first: an idle worker polls every 2 s at most, longer than this sweep may last.
  int64_t id = Submit(a, SweepOf(Trials()));
  for (int i = 0; i < 4; ++i) {
    farm_->StartWorker(i % 2 ? a : b, "w" + std::to_string(i), FakeWorker(8, 50));
  }
  RunUntilDone(id, 0, nullptr);
  Stats s = Collect(id, "two coordinators, one database");
  ExpectNothingLostOrDuplicated(s);
  EXPECT_EQ(s.redelivered, 0);
  EXPECT_EQ(farm_->Count("SELECT count(DISTINCT worker_id) FROM results"), 4);
}

TEST_F(FaultTest, DatabaseCrashRestart) {
  if (!db_->is_private()) GTEST_SKIP() << "needs the private cluster (SWEEPFARM_TEST_DSN is set)";
  std::string addr = farm_->StartCoordinator(/*lease_seconds=*/5);
  ASSERT_FALSE(addr.empty());
  for (int i = 0; i < 3; ++i) farm_->StartWorker(addr, "w" + std::to_string(i), FakeWorker(8, 200));
  int64_t id = Submit(addr, SweepOf(Trials()));
  bool crashed = false;
  // Crashed once a tenth of the trials has reported, not at a fixed time: on a fast machine the
  // whole sweep can finish within any fixed delay.
  RunUntilDone(id, 0.05, [&] {
    if (crashed || Accepted() < Trials() / 10) return;
    crashed = true;
    int64_t before = Accepted();
    ASSERT_TRUE(db_->CrashRestart());
    stats_.recovery.push_back(WaitForProgress(before));
  });
  EXPECT_TRUE(crashed);
  Stats s = Collect(id, "PostgreSQL -m immediate");
  ExpectNothingLostOrDuplicated(s);
  // No committed lease or result is forgotten by the crash (synchronous commit), so no late report.
  EXPECT_EQ(s.stale, 0);
}

TEST_F(FaultTest, SigtermDrainsOrHandsBack) {
  std::string addr = farm_->StartCoordinator(/*lease_seconds=*/30);
  ASSERT_FALSE(addr.empty());
  // A bundle that takes 5 s with 1 s to drain: the leases are handed back, not left to expire.
  std::vector<std::string> slow = FakeWorker(8, 5000);
  slow.insert(slow.end(), {"--drain-seconds", "1"});
  Process& quitter = farm_->StartWorker(addr, "quitter", slow);
  int64_t id = Submit(addr, SweepOf(16));
  farm_->WaitForCount("SELECT count(*) FROM trials WHERE state = 'running'", 1);
  ASSERT_EQ(farm_->Count("SELECT count(*) FROM trials WHERE state = 'running'"), 8);
  auto t0 = Clock::now();
  quitter.Signal(SIGTERM);
  EXPECT_EQ(quitter.Wait(10), 0);
  double exit_after = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_LT(exit_after, 4.0) << "did not stop at the end of its drain period";
  // Handed back at once (well before the 30 s lease), without counting an attempt.
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM trials WHERE state = 'queued' AND attempts = 0"),
            16);
  // A worker with time to drain finishes its bundle and reports it.
  std::vector<std::string> quick = FakeWorker(8, 300);
  quick.insert(quick.end(), {"--drain-seconds", "10"});
  Process& finisher = farm_->StartWorker(addr, "finisher", quick);
  farm_->WaitForCount("SELECT count(*) FROM trials WHERE state = 'running'", 1);
  finisher.Signal(SIGTERM);
  EXPECT_EQ(finisher.Wait(10), 0);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM results"), 8);
  farm_->StartWorker(addr, "rest", FakeWorker(8, 10));
  RunUntilDone(id, 0, nullptr);
  Stats s = Collect(id, "SIGTERM drain / hand back");
  ExpectNothingLostOrDuplicated(s);
  EXPECT_EQ(s.stale, 0);
}

// Workers in network namespaces of the test's own, linked to the coordinator's by veth pairs; one
// link is cut mid-sweep.
class NetworkPartitionTest : public FaultTest {
 protected:
  void SetUp() override {
    FaultTest::SetUp();
    if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
    tag_ = std::to_string(getpid() % 10000);
    for (int i = 1; i <= 2; ++i) {
      std::string ns = Ns(i), host = "sfh" + tag_ + "-" + std::to_string(i);
      std::string sub = "10.231." + std::to_string(i) + ".";
      std::vector<std::vector<std::string>> cmds{
          {"ip", "netns", "add", ns},
          {"ip", "link", "add", host, "type", "veth", "peer", "name",
           "sfw" + tag_ + "-" + std::to_string(i)},
          {"ip", "link", "set", "sfw" + tag_ + "-" + std::to_string(i), "netns", ns},
          {"ip", "addr", "add", sub + "1/30", "dev", host},
          {"ip", "link", "set", host, "up"},
          {"ip", "netns", "exec", ns, "ip", "addr", "add", sub + "2/30", "dev",
           "sfw" + tag_ + "-" + std::to_string(i)},
          {"ip", "netns", "exec", ns, "ip", "link", "set", "sfw" + tag_ + "-" + std::to_string(i),
           "up"},
          {"ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"}};
      for (auto& c : cmds) {
        std::string out, err;
        c[0] = "/usr/sbin/ip";
        if (RunCommand(c, &out, &err) != 0)
          GTEST_SKIP() << "cannot set up network namespaces: " << err;
      }
      made_ = i;
    }
  }
  void TearDown() override {
    FaultTest::TearDown();  // Stops the processes first, some of which run in the namespaces.
    for (int i = 1; i <= made_; ++i) {
      std::string out;
      RunCommand({"/usr/sbin/ip", "netns", "del", Ns(i)}, &out);
      RunCommand({"/usr/sbin/ip", "link", "del", "sfh" + tag_ + "-" + std::to_string(i)}, &out);
    }
  }
  std::string Ns(int i) { return "sfns" + tag_ + "-" + std::to_string(i); }
  std::string tag_;
  int made_ = 0;
};

TEST_F(NetworkPartitionTest, CutWorkersTrialsRunElsewhere) {
  int port = FreePort();
  // On every address of the coordinator's namespace: loopback and the veth ends.
  // Plaintext beyond loopback, inside the test's own network namespaces only.
  farm_->SetSecurity({"--insecure"}, {});
  ASSERT_FALSE(farm_->StartCoordinator(/*lease_seconds=*/2, port, "0.0.0.0").empty());
  std::vector<Process*> workers;
  for (int i = 1; i <= 2; ++i) {
    std::vector<std::string> argv{"/usr/sbin/ip",
                                  "netns",
                                  "exec",
                                  Ns(i),
                                  SWEEPFARM_WORKER,
                                  "--coordinator",
                                  "10.231." + std::to_string(i) + ".1:" + std::to_string(port),
                                  "--device",
                                  "cpu",
                                  "--trainer",
                                  "fake",
                                  "--fake-train-ms",
                                  "200",
                                  "--capacity",
                                  "8"};
    farm_->processes().push_back(
        Process::Start(argv, farm_->dir() + "/ns-worker" + std::to_string(i) + ".log"));
    workers.push_back(&farm_->processes().back());
  }
  int64_t id = Submit("127.0.0.1:" + std::to_string(port), SweepOf(std::min(Trials(), 200)));
  // Cut worker 1's link while it holds leases (its host is HOSTNAME:PID; `ip netns exec` keeps
  // the pid): cutting it between leases, or before it registered, would test nothing. Leases taken
  // in the last 100 ms of its 200 ms bundles: not ones whose report is already on its way (then
  // nothing would be lost, and the cut would test nothing either).
  const std::string holds_leases =
      "SELECT count(*) FROM trials t JOIN workers w ON w.id = t.worker_id WHERE t.state = "
      "'running' AND t.started_at > clock_timestamp() - interval '100 milliseconds' AND w.host "
      "LIKE '%:" +
      std::to_string(workers[0]->pid()) + "'";
  bool cut = false;
  RunUntilDone(id, 0.05, [&] {
    if (cut || farm_->Count(holds_leases) == 0) return;
    cut = true;
    int64_t before = Accepted();
    std::string out, err;
    ASSERT_EQ(RunCommand({"/usr/sbin/ip", "link", "set", "sfh" + tag_ + "-1", "down"}, &out, &err),
              0)
        << err;
    stats_.recovery.push_back(WaitForProgress(before));
  });
  Stats s = Collect(id, "worker link cut (netns)");
  ExpectNothingLostOrDuplicated(s);
  EXPECT_TRUE(cut);
  // The cut worker's last leases expired and were run by the other worker.
  EXPECT_GT(farm_->Count("SELECT count(*) FROM trials WHERE lost_leases > 0"), 0);
}

}  // namespace
}  // namespace sweepfarm::testing

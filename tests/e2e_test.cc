// End-to-end: a real PostgreSQL, the real coordinator, workers and sweepctl binaries over loopback.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "common/sha256.h"
#include "coordinator/sweep/sweep_yaml.h"
#include "coordinator/sweep/tpe.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "proto/security.h"
#include "sweepfarm/v1/data.grpc.pb.h"
#include "sweepfarm/v1/registry.grpc.pb.h"
#include "sweepfarm/v1/sweep.grpc.pb.h"
#include "sweepfarm/v1/worker.grpc.pb.h"
#include "tests/support/farm_test.h"

namespace sweepfarm::testing {
namespace {

constexpr char kSweep[] = R"(version: 1
name: e2e
model: e2e-detector
dataset:
  name: telemetry
  params: {seed: 5, lab_samples: LAB, escalation_samples: 500}
architecture:
  name: cnn1d
  channels: [8, 16]
search:
  method: grid
  space:
    epochs: EPOCHS
    step_size: [0.005, 0.01]
    issue_rate: [0.4, 0.6]
    data_size: [0.5, 1.0]
)";

std::string SweepYaml(int lab, const std::string& epochs) {
  std::string s = kSweep;
  s.replace(s.find("LAB"), 3, std::to_string(lab));
  s.replace(s.find("EPOCHS"), 6, epochs);
  return s;
}

// A sweep none of whose trials can train: each may use 1 of 64 lab samples, so no issue/no-issue
// mix can be drawn, and the trainer refuses it (two attempts each). `seeds`: the seed space.
std::string DoomedYaml(const std::string& seeds) {
  return R"(version: 1
name: doomed
model: m
dataset: {name: telemetry, params: {lab_samples: 64, escalation_samples: 16}}
architecture: {name: cnn1d, channels: [4, 8]}
training: {max_attempts: 2}
search:
  method: grid
  space:
    epochs: 1
    step_size: 0.01
    issue_rate: 0.5
    data_size: 0.01
    seed: )" +
         seeds + "\n";
}

class EndToEndTest : public FarmTest {
 protected:
  std::string StartCoordinator(int lease_seconds = 30) {
    std::string addr = farm_->StartCoordinator(lease_seconds);
    if (addr.empty()) ADD_FAILURE() << "coordinator did not start; see " << farm_->dir();
    return addr;
  }
  Process& StartWorker(const std::string& addr, const std::string& name, int capacity) {
    return farm_->StartWorker(addr, name, {"--capacity", std::to_string(capacity)});
  }
  int Sweepctl(const std::vector<std::string>& args, std::string* out, std::string* err = nullptr) {
    return farm_->Sweepctl(args, out, err);
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    return farm_->WriteFile(name, text);
  }
  pqxx::result Query(const std::string& sql) { return farm_->Query(sql); }
  int64_t Count(const std::string& sql) { return farm_->Count(sql); }
};

TEST_F(EndToEndTest, SweepRunsToCompletionWithTwoWorkers) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  StartWorker(addr, "worker1", 2);
  StartWorker(addr, "worker2", 2);
  std::string out, err;
  ASSERT_EQ(
      Sweepctl({"--coordinator", addr, "submit", WriteFile("s.yaml", SweepYaml(1500, "[2, 3]"))},
               &out, &err),
      0)
      << err;
  int64_t id = std::stoll(out);
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", std::to_string(id)}, &out, &err), 0) << err;
  EXPECT_NE(out.find("16/16 done"), std::string::npos) << out;

  // Every trial's row: succeeded once, with a result from a worker, the dataset fingerprint, a
  // lease.
  const std::string sid = std::to_string(id);
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE sweep_id = " + sid), 16);
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE sweep_id = " + sid +
                  " AND state = 'succeeded' AND attempts = 1 AND lease_token IS NOT NULL"
                  " AND finished_at >= started_at"),
            16);
  EXPECT_EQ(
      Count(
          "SELECT count(*) FROM results r JOIN trials t ON t.id = r.trial_id WHERE t.sweep_id = " +
          sid +
          " AND r.test_accuracy BETWEEN 0 AND 1 AND r.train_loss > 0 AND r.steps > 0"
          " AND r.device = 'cpu' AND r.lease_token = t.lease_token AND r.wall_seconds > 0"),
      16);
  EXPECT_EQ(Count("SELECT count(DISTINCT dataset_hash) FROM results"), 1);
  EXPECT_EQ(Count("SELECT count(DISTINCT worker_id) FROM results"), 2) << "both workers trained";
  // The operator's view of the workers: both alive, holding nothing now, their results adding up
  // to the sweep's, with the epochs they trained.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "workers", "--json"}, &out, &err), 0) << err;
  google::protobuf::ListValue workers;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &workers).ok()) << out;
  ASSERT_EQ(workers.values_size(), 2) << out;
  int64_t reported = 0, epochs = 0;
  for (const auto& v : workers.values()) {
    const auto& f = v.struct_value().fields();
    EXPECT_TRUE(f.at("alive").bool_value()) << out;
    EXPECT_EQ(f.at("device").string_value(), "cpu");
    EXPECT_EQ(f.at("capacity").number_value(), 2);
    EXPECT_EQ(f.at("running_trials").number_value(), 0);
    EXPECT_EQ(f.at("results").number_value(), f.at("results_last_hour").number_value());
    EXPECT_EQ(f.at("trainer_errors").number_value(), 0);
    reported += static_cast<int64_t>(f.at("results").number_value());
    epochs += static_cast<int64_t>(f.at("model_epochs_last_hour").number_value());
  }
  EXPECT_EQ(reported, 16);
  EXPECT_EQ(epochs, 8 * 2 + 8 * 3);
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps WHERE state = 'done' AND finished_at IS NOT NULL"),
            1);
  int64_t migrations = 0;
  for (const auto& f :
       std::filesystem::directory_iterator(std::string(SWEEPFARM_SOURCE_DIR) + "/db/migrations")) {
    migrations += f.path().extension() == ".sql";
  }
  EXPECT_EQ(Count("SELECT count(*) FROM schema_version"), migrations);
  // Trials that differ only in epochs were trained as one model: their step counts are 2:3.
  EXPECT_EQ(Count("SELECT count(*) FROM results r JOIN trials t ON t.id = r.trial_id "
                  "WHERE (t.params->>'epochs')::int = 3 AND r.steps % 3 <> 0"),
            0);

  // The leaderboard as JSON: ranked, with parameters.
  ASSERT_EQ(
      Sweepctl({"--coordinator", addr, "leaderboard", sid, "--top", "5", "--json"}, &out, &err), 0)
      << err;
  google::protobuf::ListValue board;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &board).ok()) << out;
  ASSERT_EQ(board.values_size(), 5);
  double prev = 2;
  for (const auto& v : board.values()) {
    const auto& f = v.struct_value().fields();
    double acc = f.at("selection_accuracy").number_value();  // Ranked by selection only.
    EXPECT_GE(f.at("holdout_accuracy").number_value(), 0.5);
    EXPECT_LE(acc, prev);
    prev = acc;
    EXPECT_GT(f.at("trial_id").number_value(), 0);
    EXPECT_EQ(f.at("status").string_value(), "succeeded");
    EXPECT_GE(f.at("params").struct_value().fields().at("epochs").number_value(), 2);
    // The learning curve: one mean training loss per epoch, ending at train_loss.
    const auto& curve = f.at("train_loss_curve").list_value();
    ASSERT_EQ(curve.values_size(),
              f.at("params").struct_value().fields().at("epochs").number_value());
    EXPECT_NEAR(curve.values(curve.values_size() - 1).number_value(),
                f.at("train_loss").number_value(), 1e-6 * f.at("train_loss").number_value());
    EXPECT_GT(curve.values(0).number_value(), 0);
  }
  EXPECT_EQ(Count("SELECT count(*) FROM results r JOIN trials t ON t.id = r.trial_id "
                  "WHERE array_length(r.train_loss_curve, 1) = (t.params->>'epochs')::int"),
            16);
  double best = board.values(0).struct_value().fields().at("selection_accuracy").number_value();
  EXPECT_DOUBLE_EQ(best, Query("SELECT max(selection_accuracy) FROM results")[0][0].as<double>());
  // Selection and holdout are the two halves of the 500 escalation samples; every trial's class
  // probabilities are kept (float16), and agree with its accuracies.
  EXPECT_EQ(
      Count("SELECT count(*) FROM results WHERE abs((selection_accuracy + holdout_accuracy) / 2"
            " - test_accuracy) < 1e-9"),
      16);
  EXPECT_EQ(Count("SELECT count(*) FROM predictions WHERE samples = 500 AND classes = 2 AND "
                  "selection_size = 250 AND octet_length(probs) = 2000"),
            16);

  // Each bundle (two trials differing only in epochs) uploaded the weights of its 3-epoch trial:
  // content-addressed by a sha256 that matches the bytes, 4 bytes per parameter.
  farm_->WaitForCount("SELECT count(*) FROM trial_artifacts", 8);
  EXPECT_EQ(Count("SELECT count(*) FROM trial_artifacts a JOIN trials t ON t.id = a.trial_id "
                  "WHERE (t.params->>'epochs')::int = 3 AND t.state = 'succeeded'"),
            8);
  const int64_t params = (16 * 5 * 8 + 8) + (8 * 5 * 16 + 16) + (16 * 2 + 2);
  for (const auto& row : Query("SELECT sha256, content, size_bytes, arch->'architecture'->>'name' "
                               "FROM artifacts")) {
    pqxx::binarystring content(row[1]);
    EXPECT_EQ(Sha256Hex(content.str()), row[0].as<std::string>());
    EXPECT_EQ(row[2].as<int64_t>(), 4 * params);
    EXPECT_EQ(row[3].as<std::string>(), "cnn1d");
  }

  // Ensembles from the stored predictions: chosen on selection, reported on holdout.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "ensemble", sid, "--size", "6", "--candidates", "8",
                      "--top-k", "3", "--json"},
                     &out, &err),
            0)
      << err;
  google::protobuf::Struct ens;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &ens).ok()) << out;
  const auto& ef = ens.fields();
  EXPECT_EQ(ef.at("candidates").number_value(), 8);
  EXPECT_EQ(ef.at("selection_samples").number_value(), 250);
  EXPECT_EQ(ef.at("holdout_samples").number_value(), 250);
  const auto& single = ef.at("best_single").struct_value().fields();
  const auto& greedy = ef.at("greedy").struct_value().fields();
  const auto& topk = ef.at("top_k").struct_value().fields();
  EXPECT_DOUBLE_EQ(single.at("selection_accuracy").number_value(), best);
  // The best single trial's holdout accuracy is its stored one.
  EXPECT_NEAR(single.at("holdout_accuracy").number_value(),
              Query("SELECT holdout_accuracy FROM results ORDER BY selection_accuracy DESC, "
                    "trial_id LIMIT 1")[0][0]
                  .as<double>(),
              1.0 / 250);
  // Greedy starts from the best single trial and keeps its best prefix: never worse on selection.
  EXPECT_GE(greedy.at("selection_accuracy").number_value(), best);
  EXPECT_EQ(topk.at("members").list_value().values_size(), 3);
  double weights = 0;
  for (const auto& m : greedy.at("members").list_value().values()) {
    weights += m.struct_value().fields().at("weight").number_value();
  }
  EXPECT_NEAR(weights, 1.0, 1e-9);
  for (const auto* e : {&single, &greedy, &topk}) {
    double h = e->at("holdout_accuracy").number_value();
    EXPECT_GT(h, 0.5);
    EXPECT_LE(h, 1.0);
  }

  ASSERT_EQ(Sweepctl({"--coordinator", addr, "status", sid, "--json"}, &out, &err), 0) << err;
  google::protobuf::Struct status;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &status).ok()) << out;
  EXPECT_EQ(status.fields().at("succeeded").number_value(), 16);
  EXPECT_EQ(status.fields().at("state").string_value(), "done");
  EXPECT_NEAR(status.fields().at("baseline_accuracy").number_value(), 0.78, 0.05);

  // Which parameters mattered: the four the grid varied, each in two groups of 8 trials.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "importance", sid, "--json"}, &out, &err), 0) << err;
  google::protobuf::Struct importance;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &importance).ok()) << out;
  EXPECT_EQ(importance.fields().at("trials").number_value(), 16);
  EXPECT_FALSE(importance.fields().at("first_rung_only").bool_value());
  const auto& varied = importance.fields().at("parameters").list_value();
  ASSERT_EQ(varied.values_size(), 4) << out;
  double previous = 2;
  for (const auto& p : varied.values()) {
    const auto& f = p.struct_value().fields();
    const double rho = std::fabs(f.at("spearman").number_value());
    EXPECT_LE(rho, previous) << out;  // Strongest first.
    previous = rho;
    EXPECT_EQ(f.at("distinct").number_value(), 2) << out;
    ASSERT_EQ(f.at("groups").list_value().values_size(), 2) << out;
    for (const auto& g : f.at("groups").list_value().values()) {
      EXPECT_EQ(g.struct_value().fields().at("trials").number_value(), 8) << out;
    }
  }

  // Every trial as CSV: a header and 16 rows, each trial's selection accuracy as recorded.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "export", sid}, &out, &err), 0) << err;
  std::istringstream csv(out);
  std::string row;
  ASSERT_TRUE(std::getline(csv, row));
  EXPECT_EQ(row.rfind("trial_id,state,origin,parent_trial_id,rung,attempts,epochs,", 0), 0u) << row;
  const auto header = row;
  const size_t column =
      std::count(header.begin(), header.begin() + header.find(",selection_accuracy,") + 1, ',');
  int rows = 0;
  while (std::getline(csv, row)) {
    ++rows;
    std::vector<std::string> fields;
    std::istringstream cells(row.substr(0, row.find('\r')));
    for (std::string cell; std::getline(cells, cell, ',');) fields.push_back(cell);
    ASSERT_GT(fields.size(), column) << row;
    EXPECT_EQ(fields[1], "succeeded") << row;
    EXPECT_NEAR(std::stod(fields[column]),
                Query("SELECT selection_accuracy FROM results WHERE trial_id = " + fields[0])[0][0]
                    .as<double>(),
                1e-9)
        << row;
  }
  EXPECT_EQ(rows, 16);

  // The coordinator's Prometheus endpoint counts what happened.
  const std::string metrics = farm_->MetricsAddress();
  ASSERT_FALSE(metrics.empty());
  std::string scrape = HttpExchange(metrics, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(scrape.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << scrape;
  for (const char* line :
       {"Content-Type: text/plain; version=0.0.4", "\nsweepfarm_database_up 1\n",
        "\nsweepfarm_sweeps{state=\"done\"} 1\n", "\nsweepfarm_sweeps{state=\"running\"} 0\n",
        "\nsweepfarm_queue_trials{state=\"queued\"} 0\n", "\nsweepfarm_workers_active 2\n",
        "\nsweepfarm_results_total{outcome=\"accepted\"} 16\n",
        "\nsweepfarm_results_total{outcome=\"stale\"} 0\n", "\nsweepfarm_trials_leased_total 16\n",
        "\nsweepfarm_rpc_total{method=\"/sweepfarm.v1.SweepService/SubmitSweep\","
        "code=\"OK\"} 1\n",
        "# TYPE sweepfarm_rpc_seconds_total counter\n",
        "\nsweepfarm_rpc_duration_seconds_bucket{method=\"/sweepfarm.v1.SweepService/SubmitSweep\","
        "le=\"+Inf\"} 1\n",
        "\nsweepfarm_rpc_duration_seconds_count{method=\"/sweepfarm.v1.SweepService/SubmitSweep\"} "
        "1\n"}) {
    EXPECT_NE(scrape.find(line), std::string::npos) << line << "\n" << scrape;
  }
  // The alerting rules shipped in deploy/prometheus name only metrics the coordinator exports
  // (those of sweepfarm-serve are checked against its own endpoint in the registry tests).
  std::string rules_error;
  const std::vector<std::string> alerted = AlertRuleMetrics(&rules_error);
  ASSERT_TRUE(rules_error.empty()) << rules_error;
  ASSERT_GE(alerted.size(), 5u);
  for (const std::string& name : alerted) {
    if (name.rfind("sweepfarm_serve_", 0) == 0) continue;
    EXPECT_NE(scrape.find("# TYPE " + name + " "), std::string::npos) << name << "\n" << scrape;
  }
  // status of a missing sweep: counted with its code.
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "status", "999"}, &out, &err), 1);
  scrape = HttpExchange(metrics, "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_NE(scrape.find("sweepfarm_rpc_total{method=\"/sweepfarm.v1.SweepService/GetSweepStatus\","
                        "code=\"NOT_FOUND\"} 1\n"),
            std::string::npos)
      << scrape;
  EXPECT_EQ(HttpExchange(metrics, "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(HttpExchange(metrics, "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 405", 0), 0u);
}

// Successive halving: rungs of 1, 2 and 4 epochs; after each rung its best half (by selection
// accuracy, as the coordinator sees the results) is trained again with the next rung's epochs.
// Ranked by balanced accuracy here (objective.metric), which promotions follow; the fault test's
// halving sweep and the resumed-trials test rank by accuracy, the default.
TEST_F(EndToEndTest, HalvingPromotesTheBestOfEachRung) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  StartWorker(addr, "worker1", 2);
  StartWorker(addr, "worker2", 2);
  std::string yaml =
      SweepYaml(1200, "[1, 2, 4]") + "objective:\n  metric: selection_balanced_accuracy\n";
  yaml.replace(yaml.find("  method: grid\n"), 15, "  method: halving\n  budget: 8\n  eta: 2\n");
  yaml.replace(yaml.find("    step_size: [0.005, 0.01]\n"), 28,
               "    step_size: {min: 0.003, max: 0.03}\n    seed: {min: 1, max: 1000}\n");
  std::string out, err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("h.yaml", yaml)}, &out, &err), 0)
      << err;
  const std::string id = std::to_string(std::stoll(out));
  ASSERT_EQ(Count("SELECT total_trials FROM sweeps WHERE id = " + id), 8 + 4 + 2);
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", id}, &out, &err), 0) << err;

  EXPECT_EQ(Count("SELECT count(*) FROM sweeps WHERE state = 'done' AND pending_rungs = 0 AND "
                  "total_trials = 14 AND id = " +
                  id),
            1);
  const int sizes[] = {8, 4, 2}, epochs[] = {1, 2, 4};
  for (int rung = 0; rung < 3; ++rung) {
    const std::string r = std::to_string(rung);
    EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE state = 'succeeded' AND rung = " + r),
              sizes[rung])
        << "rung " << r;
    EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE rung = " + r +
                    " AND (params->>'epochs')::int = " + std::to_string(epochs[rung])),
              sizes[rung])
        << "rung " << r;
    if (rung == 0) continue;
    // Each promoted trial is its parent's configuration with the next rung's epochs.
    EXPECT_EQ(Count("SELECT count(*) FROM trials c JOIN trials p ON p.id = c.parent_trial_id "
                    "WHERE c.rung = " +
                    r + " AND c.origin = 'promoted' AND p.rung = " + std::to_string(rung - 1) +
                    " AND c.params - 'epochs' = p.params - 'epochs'"),
              sizes[rung])
        << "rung " << r;
    // And the parents are exactly the best of their rung by the objective.
    EXPECT_EQ(
        Count(
            "SELECT count(*) FROM (SELECT t.id FROM trials t JOIN results x ON "
            "x.trial_id = t.id WHERE t.rung = " +
            std::to_string(rung - 1) + " ORDER BY x.selection_balanced_accuracy DESC, t.id LIMIT " +
            std::to_string(sizes[rung]) +
            ") best WHERE best.id IN (SELECT parent_trial_id FROM trials WHERE rung = " + r + ")"),
        sizes[rung])
        << "rung " << r;
  }
  // Every promoted trial resumed from its parent's checkpoint (workers upload them before they
  // report), the first rung trained from scratch, and the sweep, ended, keeps no checkpoint.
  EXPECT_EQ(Count("SELECT count(*) FROM trials c JOIN trials p ON p.id = c.parent_trial_id "
                  "JOIN results r ON r.trial_id = c.id WHERE c.origin = 'promoted' AND "
                  "r.resumed_epochs = (p.params->>'epochs')::int AND c.sweep_id = " +
                  id),
            4 + 2);
  EXPECT_EQ(Count("SELECT count(*) FROM trials t JOIN results r ON r.trial_id = t.id "
                  "WHERE t.rung = 0 AND r.resumed_epochs = 0"),
            8);
  EXPECT_EQ(Count("SELECT count(*) FROM trial_checkpoints"), 0);
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "status", id}, &out, &err), 0) << err;
  EXPECT_NE(out.find("successive halving: rung 3 of 3 (4 epochs)"), std::string::npos) << out;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "leaderboard", id, "--top", "3"}, &out, &err), 0)
      << err;
  EXPECT_NE(out.find("promoted <"), std::string::npos) << out;
  // Importance reads the first rung only: the later ones hold promoted trials, not a sample.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "importance", id}, &out, &err), 0) << err;
  EXPECT_NE(out.find(": 8 succeeded trial(s) of the first rung"), std::string::npos) << out;
  EXPECT_NE(out.find("step_size   spearman "), std::string::npos) << out;
  EXPECT_EQ(out.find("epochs "), std::string::npos) << out;  // One value in the first rung.
}

// A promoted trial resumed from its parent's checkpoint gives the model a run from scratch gives:
// the same sweep with `resume: false`, on one worker that takes each rung as one bundle, promotes
// the same configurations and scores them the same, and trains more epochs for it.
TEST_F(EndToEndTest, HalvingResumedTrialsMatchRestartedOnes) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  std::string yaml = SweepYaml(600, "[1, 2, 4]");
  yaml.replace(yaml.find("  method: grid\n"), 15, "  method: halving\n  budget: 8\n  eta: 2\n");
  yaml.replace(yaml.find("    step_size: [0.005, 0.01]\n"), 28,
               "    step_size: {min: 0.003, max: 0.03}\n    seed: {min: 1, max: 1000}\n");
  std::string restart = yaml;
  restart.replace(restart.find("  eta: 2\n"), 9, "  eta: 2\n  resume: false\n");
  std::string out, err;
  std::vector<std::string> ids;
  for (const auto& [name, text] : {std::pair{"resume.yaml", yaml}, {"restart.yaml", restart}}) {
    ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile(name, text)}, &out, &err), 0)
        << err;
    ids.push_back(std::to_string(std::stoll(out)));
  }
  StartWorker(addr, "worker1", 8);
  for (const auto& id : ids) {
    ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", id}, &out, &err), 0) << err;
  }
  // Model-epochs trained: 8 x 1 + 4 x 2 + 2 x 4 = 24 from scratch; resumed, 8 + 4 x 1 + 2 x 2.
  const std::string trained =
      "SELECT sum((t.params->>'epochs')::int - r.resumed_epochs) FROM trials t JOIN results r ON "
      "r.trial_id = t.id WHERE t.sweep_id = ";
  EXPECT_EQ(Count(trained + ids[0]), 8 + 4 + 4);
  EXPECT_EQ(Count(trained + ids[1]), 24);
  EXPECT_EQ(Count("SELECT count(*) FROM results r JOIN trials t ON t.id = r.trial_id "
                  "WHERE r.resumed_epochs > 0 AND t.sweep_id = " +
                  ids[1]),
            0);
  // The same configurations reach each rung, with the same selection accuracy (within one
  // sample of the 250 the selection split holds; float rounding may differ by bundle).
  pqxx::result same = Query(
      "SELECT a.rung, a.params::text, abs(ra.selection_accuracy - rb.selection_accuracy), "
      "  rb.trial_id FROM trials a JOIN results ra ON ra.trial_id = a.id "
      "LEFT JOIN trials b ON b.sweep_id = " +
      ids[1] + " AND b.params = a.params LEFT JOIN results rb ON rb.trial_id = b.id " +
      "WHERE a.sweep_id = " + ids[0] + " ORDER BY a.id");
  ASSERT_EQ(same.size(), 14u);
  for (const auto& row : same) {
    ASSERT_FALSE(row[3].is_null()) << "rung " << row[0].as<int>() << ": " << row[1].c_str()
                                   << " is not in the restarted sweep";
    EXPECT_LE(row[2].as<double>(), 1.0 / 250 + 1e-9) << row[1].c_str();
  }
  EXPECT_EQ(Count("SELECT count(*) FROM trial_checkpoints"), 0);
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "leaderboard", ids[0], "--json"}, &out, &err), 0)
      << err;
  EXPECT_NE(out.find("\"rung\":2,\"resumed_epochs\":2"), std::string::npos) << out;
  // A resumed trial's curve covers the epochs it trained itself: from resumed_epochs + 1.
  EXPECT_EQ(Count("SELECT count(*) FROM results r JOIN trials t ON t.id = r.trial_id WHERE "
                  "array_length(r.train_loss_curve, 1) <> (t.params->>'epochs')::int - "
                  "r.resumed_epochs"),
            0);
  EXPECT_GT(Count("SELECT count(*) FROM results WHERE resumed_epochs > 0"), 0);
}

// TPE: the first round drawn at random; each later round, proposed when the one before has ended,
// is exactly what the TPE sampler proposes from the results so far.
TEST_F(EndToEndTest, TpeProposesEachRoundFromTheResultsSoFar) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  std::string yaml = SweepYaml(600, "[1, 2]");
  yaml.replace(yaml.find("  method: grid\n"), 15,
               "  method: tpe\n  budget: 12\n  round_size: 4\n  seed: 3\n");
  yaml.replace(
      yaml.find("    step_size: [0.005, 0.01]\n"), 28,
      "    step_size: {min: 0.001, max: 0.05, scale: log}\n    seed: {min: 1, max: 1000}\n");
  std::string out, err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("t.yaml", yaml)}, &out, &err), 0)
      << err;
  const std::string id = std::to_string(std::stoll(out));
  EXPECT_EQ(Count("SELECT total_trials FROM sweeps WHERE id = " + id), 12);
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE rung = 0 AND sweep_id = " + id), 4);
  StartWorker(addr, "worker1", 4);
  StartWorker(addr, "worker2", 4);
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", id}, &out, &err), 0) << err;
  ASSERT_EQ(Count("SELECT count(*) FROM trials WHERE state = 'succeeded' AND sweep_id = " + id),
            12);
  auto parsed = sweep::ParseSweepYaml(yaml, "t.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  std::vector<sweep::Observation> seen;
  for (int round = 0; round < 3; ++round) {
    const std::string r = std::to_string(round);
    pqxx::result rows = Query(
        "SELECT t.params::text, x.selection_accuracy FROM trials t JOIN results x ON "
        "x.trial_id = t.id WHERE t.sweep_id = " +
        id + " AND t.rung = " + r + " ORDER BY t.id");
    ASSERT_EQ(rows.size(), 4u) << "round " << r;
    if (round > 0) {
      auto expected =
          sweep::ProposeTpe(parsed->space, seen, 4, MixKey(3, static_cast<uint64_t>(round - 1)));
      for (size_t i = 0; i < rows.size(); ++i) {
        v1::TrialParams got;
        ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(rows[i][0].c_str(), &got).ok());
        EXPECT_EQ(got.SerializeAsString(), expected[i].SerializeAsString())
            << "round " << r << ", trial " << i << ": " << rows[i][0].c_str();
      }
      // Trained only once the round before had ended.
      EXPECT_EQ(Count("SELECT count(*) FROM trials a, trials b WHERE a.sweep_id = " + id +
                      " AND b.sweep_id = " + id + " AND a.rung = " + r + " AND b.rung = " +
                      std::to_string(round - 1) + " AND a.started_at < b.finished_at"),
                0);
    }
    for (const auto& row : rows) {
      v1::TrialParams p;
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(row[0].c_str(), &p).ok());
      seen.push_back({p, row[1].as<double>()});
    }
  }
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "status", id}, &out, &err), 0) << err;
  EXPECT_NE(out.find("model-based search (TPE): round 3 of 3"), std::string::npos) << out;
  // Importance reads every round: later rounds are new configurations, not promoted ones.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "importance", id, "--json"}, &out, &err), 0) << err;
  google::protobuf::Struct importance;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &importance).ok()) << out;
  EXPECT_EQ(importance.fields().at("trials").number_value(), 12);
  EXPECT_FALSE(importance.fields().at("first_rung_only").bool_value());

  // Six more trials for the done sweep: it runs again, TPE proposing a round of 4 from all 12
  // results at once, then a last round of 2 from all 16.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "extend", id, "6"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("6 more trials (budget 18, 18 planned in all), 4 queued now"),
            std::string::npos)
      << out;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", id}, &out, &err), 0) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE state = 'succeeded' AND sweep_id = " + id),
            18);
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE rung = 3"), 4);
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE rung = 4"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps WHERE state = 'done' AND pending_rungs = 0 AND "
                  "total_trials = 18 AND (spec->>'budget')::int = 18"),
            1);
  pqxx::result round3 =
      Query("SELECT params::text FROM trials WHERE rung = 3 AND sweep_id = " + id + " ORDER BY id");
  auto expected = sweep::ProposeTpe(parsed->space, seen, 4, MixKey(3, 2));
  ASSERT_EQ(round3.size(), expected.size());
  for (size_t i = 0; i < round3.size(); ++i) {
    v1::TrialParams got;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(round3[i][0].c_str(), &got).ok());
    EXPECT_EQ(got.SerializeAsString(), expected[i].SerializeAsString()) << "trial " << i;
  }
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "status", id, "--json"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"action\":\"extend\""), std::string::npos) << out;
  EXPECT_NE(out.find("6 more trials (budget 12 to 18)"), std::string::npos) << out;
}

// More trials for a random sweep: the next draws of its own stream, after it was done; grid,
// cancelled sweeps and bad counts are refused, writing nothing.
TEST_F(EndToEndTest, ExtendSweepDrawsMoreRandomTrials) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  Process& worker = farm_->StartWorker(addr, "w", {"--trainer", "fake", "--capacity", "4"});
  std::string yaml = SweepYaml(600, "[1, 2]");
  yaml.replace(yaml.find("  method: grid\n"), 15, "  method: random\n  budget: 8\n  seed: 5\n");
  yaml.replace(yaml.find("    step_size: [0.005, 0.01]\n"), 28,
               "    step_size: {min: 0.001, max: 0.05, scale: log}\n");
  std::string out, err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("r.yaml", yaml)}, &out, &err), 0)
      << err;
  const std::string id = std::to_string(std::stoll(out));
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", id}, &out, &err), 0) << err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "extend", id, "8"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("8 more trials (budget 16, 16 planned in all), 8 queued now"),
            std::string::npos)
      << out;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", id}, &out, &err), 0) << err;
  auto parsed = sweep::ParseSweepYaml(yaml, "r.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto expected = sweep::Expand(parsed->space, "random", 16, parsed->search_seed);
  ASSERT_TRUE(expected.ok());
  pqxx::result rows =
      Query("SELECT params::text, state FROM trials WHERE sweep_id = " + id + " ORDER BY ordinal");
  ASSERT_EQ(rows.size(), 16u);
  for (size_t i = 0; i < rows.size(); ++i) {
    v1::TrialParams got;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(rows[i][0].c_str(), &got).ok());
    EXPECT_EQ(got.SerializeAsString(), (*expected)[i].SerializeAsString()) << "trial " << i;
    EXPECT_EQ(rows[i][1].as<std::string>(), "succeeded") << "trial " << i;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps WHERE state = 'done' AND total_trials = 16"), 1);

  // Refused, writing nothing: a bad count, an unknown sweep, a grid sweep, a cancelled one (no
  // worker from here on, so nothing ends before it is cancelled).
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(30), 0);
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "extend", id, "0"}, &out, &err), 2);
  EXPECT_NE(err.find("trials must be an integer from 1 to 100,000"), std::string::npos) << err;
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "extend", "99", "1"}, &out, &err), 1);
  EXPECT_NE(err.find("sweep 99 does not exist"), std::string::npos) << err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("g.yaml", SweepYaml(600, "1"))},
                     &out, &err),
            0)
      << err;
  const std::string grid = std::to_string(std::stoll(out));
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "extend", grid, "4"}, &out, &err), 1);
  EXPECT_NE(err.find("ExtendSweep: sweep " + grid + " searches by grid"), std::string::npos) << err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "cancel", grid}, &out, &err), 0) << err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("r2.yaml", yaml)}, &out, &err), 0)
      << err;
  const std::string doomed = std::to_string(std::stoll(out));
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "cancel", doomed}, &out, &err), 0) << err;
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "extend", doomed, "4"}, &out, &err), 1);
  EXPECT_NE(err.find("was cancelled"), std::string::npos) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE sweep_id = " + doomed), 8);
  EXPECT_EQ(Count("SELECT count(*) FROM sweep_audit WHERE action = 'extend'"), 1);
}

// Leases go to the oldest sweep with queued trials: a halving sweep's later rungs, queued when
// its first rung ends, go before a sweep submitted after it.
TEST_F(EndToEndTest, HalvingRungsGoBeforeLaterSweeps) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  std::string halving = SweepYaml(600, "[1, 2]");
  halving.replace(halving.find("  method: grid\n"), 15,
                  "  method: halving\n  budget: 8\n  eta: 2\n");
  std::string out, err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("h.yaml", halving)}, &out, &err),
            0)
      << err;
  const std::string first = std::to_string(std::stoll(out));
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("g.yaml", SweepYaml(600, "[1]"))},
                     &out, &err),
            0)
      << err;
  const std::string second = std::to_string(std::stoll(out));
  StartWorker(addr, "worker1", 4);  // One worker, one bundle at a time.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", second}, &out, &err), 0) << err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", first}, &out, &err), 0) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE rung = 1 AND sweep_id = " + first), 4);
  // The first sweep, second rung included, ended before the second sweep's first lease.
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps a, trials b WHERE a.id = " + first +
                  " AND b.sweep_id = " + second + " AND b.started_at < a.finished_at"),
            0);
}

// Priorities: sweeps are leased highest priority first, then oldest first; a running sweep's
// priority can be changed (here raised above the others before any worker starts), and refused
// changes (out of range, unknown or ended sweep) write nothing.
TEST_F(EndToEndTest, HigherPrioritySweepsAreLeasedFirst) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  std::string out, err;
  auto submit = [&](const std::string& name, const std::string& extra) {
    EXPECT_EQ(Sweepctl({"--coordinator", addr, "submit",
                        WriteFile(name + ".yaml", SweepYaml(600, "[1]") + extra)},
                       &out, &err),
              0)
        << err;
    return std::to_string(std::stoll(out));
  };
  const std::string low = submit("low", ""), high = submit("high", "priority: 5\n"),
                    raised = submit("raised", "");
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "priority", raised, "10"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("priority 0 -> 10"), std::string::npos) << out;
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "priority", raised, "1001"}, &out, &err), 2);
  EXPECT_NE(err.find("from -1000 to 1000"), std::string::npos) << err;
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "priority", "999", "1"}, &out, &err), 1);
  EXPECT_NE(err.find("sweep 999 does not exist"), std::string::npos) << err;
  StartWorker(addr, "worker1", 4);  // One worker, one bundle of 4 at a time.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", low}, &out, &err), 0) << err;
  // Every trial of the raised sweep started before any of the high one, and those before the
  // low one's.
  auto first = [&](const std::string& id) {
    return "(SELECT min(started_at) FROM trials WHERE sweep_id = " + id + ")";
  };
  auto last = [&](const std::string& id) {
    return "(SELECT max(started_at) FROM trials WHERE sweep_id = " + id + ")";
  };
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE state = 'succeeded'"), 24);
  EXPECT_TRUE(Query("SELECT " + last(raised) + " < " + first(high))[0][0].as<bool>());
  EXPECT_TRUE(Query("SELECT " + last(high) + " < " + first(low))[0][0].as<bool>());
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "status", raised, "--json"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"priority\":10"), std::string::npos) << out;
  // Its audit trail: submitted, then raised, each with who did it.
  EXPECT_NE(out.find("\"action\":\"submit\",\"actor\":\""), std::string::npos) << out;
  EXPECT_NE(out.find("(sweepctl)\",\"detail\":\"from 0 to 10\""), std::string::npos) << out;
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "priority", low, "3"}, &out, &err), 1);
  EXPECT_NE(err.find("has already ended (done)"), std::string::npos) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps WHERE priority <> 0"), 2);
}

// A worker asked for the fused step kernel trains cnn1d bundles with it (on CPUs its emulation,
// hence the small sweep) and falls back to the default kernels for a shape the kernel refuses.
TEST_F(EndToEndTest, WorkerTrainsWithTheFusedStepKernel) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  farm_->StartWorker(addr, "stepper", {"--capacity", "8", "--kernels", "step"});
  std::string out, err;
  std::string yaml = SweepYaml(256, "[1, 2]");
  yaml.replace(yaml.find("[8, 16]"), 7, "[16, 16]");
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("step.yaml", yaml)}, &out, &err),
            0)
      << err;
  const std::string good = std::to_string(std::stoll(out));
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", good}, &out, &err), 0) << err;
  EXPECT_NE(out.find("16/16 done"), std::string::npos) << out;
  EXPECT_EQ(Count("SELECT count(*) FROM results r JOIN trials t ON t.id = r.trial_id "
                  "WHERE t.sweep_id = " +
                  good +
                  " AND r.test_accuracy BETWEEN 0 AND 1 "
                  "AND r.train_loss > 0 AND r.steps > 0"),
            16);
  // Channels 8 and 16: not multiples of 16, so the default kernels train this one.
  ASSERT_EQ(
      Sweepctl({"--coordinator", addr, "submit", WriteFile("fallback.yaml", SweepYaml(256, "[1]"))},
               &out, &err),
      0)
      << err;
  const std::string fallback = std::to_string(std::stoll(out));
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", fallback}, &out, &err), 0) << err;
  EXPECT_NE(out.find("8/8 done"), std::string::npos) << out;
  std::ifstream in(farm_->dir() + "/stepper.log");
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("trained with the fused step kernel"), std::string::npos) << log;
  EXPECT_NE(log.find("channels must be multiples of 16; training with the default kernels"),
            std::string::npos)
      << log;
}

// search.space.optimizer and weight_decay under training.schedule: cosine. Leases never mix
// optimizers; under a schedule, trials that differ only in epochs are separate models; the
// optimizer and the decay change what is trained. The worker fuses its CPU bundles (--cpu-fuse 4;
// workers train CPU models one at a time by default).
TEST_F(EndToEndTest, OptimizersAndSchedulesAreSearched) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  farm_->StartWorker(addr, "opt", {"--capacity", "8", "--cpu-fuse", "4"});
  std::string yaml = SweepYaml(400, "[1, 2]");
  yaml.replace(yaml.find("search:"), 7, "training: {schedule: cosine}\nsearch:");
  yaml.replace(yaml.find("    issue_rate: [0.4, 0.6]\n    data_size: [0.5, 1.0]\n"),
               std::string("    issue_rate: [0.4, 0.6]\n    data_size: [0.5, 1.0]\n").size(),
               "    optimizer: [sgd, adamw]\n    weight_decay: [0, 0.05]\n");
  yaml.replace(yaml.find("[0.005, 0.01]"), 13, "0.005");
  std::string out, err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("opt.yaml", yaml)}, &out, &err), 0)
      << err << yaml;
  const std::string id = std::to_string(std::stoll(out));
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", id}, &out, &err), 0) << err;
  EXPECT_NE(out.find("8/8 done"), std::string::npos) << out;
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE state = 'succeeded' AND params->>'optimizer' "
                  "IN ('sgd', 'adamw') AND (params->>'weight_decay')::float IN (0, 0.05)"),
            8);
  EXPECT_EQ(Count("SELECT count(*) FROM (SELECT 1 FROM trials GROUP BY worker_id, started_at "
                  "HAVING count(DISTINCT params->>'optimizer') > 1) mixed"),
            0);
  // Every other parameter equal, each of optimizer, weight decay and epochs changes the result.
  for (const std::string varied : {"optimizer", "weight_decay", "epochs"}) {
    EXPECT_EQ(Count("SELECT count(*) FROM (SELECT (params - '" + varied +
                    "')::text FROM trials t JOIN results r ON r.trial_id = t.id "
                    "GROUP BY 1 HAVING count(DISTINCT r.test_loss) = 2) pairs"),
              4)
        << varied;
  }
  // Under the cosine schedule the 1- and 2-epoch trials did not share a model: 8 models trained.
  std::ifstream in(farm_->dir() + "/opt.log");
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int models = 0;
  for (size_t at = log.find(" as "); at != std::string::npos; at = log.find(" as ", at + 1)) {
    if (log.compare(log.find(' ', at + 4), 14, " fused model(s") == 0) {
      models += std::atoi(log.c_str() + at + 4);
    }
  }
  EXPECT_EQ(models, 8) << log;
}

TEST_F(EndToEndTest, WorkerSlotsTrainBundlesConcurrently) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  farm_->StartWorker(
      addr, "slots",
      {"--trainer", "fake", "--fake-train-ms", "400", "--capacity", "4", "--slots", "2"});
  std::string out, err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("s.yaml", SweepYaml(1500, "2"))},
                     &out, &err),
            0)
      << err;
  int64_t most_running = 0;
  for (int i = 0; i < 400 && Count("SELECT count(*) FROM sweeps WHERE state = 'done'") == 0; ++i) {
    most_running =
        std::max(most_running, Count("SELECT count(*) FROM trials WHERE state = 'running'"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 8);
  EXPECT_EQ(Count("SELECT count(DISTINCT worker_id) FROM results"), 1);
  EXPECT_EQ(most_running, 8) << "two bundles of 4 in flight at once";
  // The fake trainer stores no predictions: no ensemble can be built, and nothing is written.
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "ensemble", "1"}, &out, &err), 1);
  EXPECT_NE(err.find("no succeeded trials with stored predictions"), std::string::npos) << err;
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "ensemble", "1", "--top-k", "50"}, &out, &err), 2);
  EXPECT_NE(err.find("BuildEnsemble: top_k must be in [1, candidates]"), std::string::npos) << err;
}

TEST_F(EndToEndTest, TrainerErrorsFailAfterMaxAttemptsWithTheReason) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  StartWorker(addr, "w", 4);
  // Each trial may use 1 of 64 lab samples, so no issue/no-issue mix can be drawn: the trainer
  // refuses every bundle, and after two attempts each trial fails with that reason.
  std::string yaml = DoomedYaml("[1, 2, 3]");
  std::string out, err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("doomed.yaml", yaml)}, &out, &err),
            0)
      << err;
  std::string id = out.substr(0, out.find('\n'));
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "watch", id}, &out, &err), 1) << "no trial succeeded";
  EXPECT_EQ(
      Count("SELECT count(*) FROM trials WHERE state = 'failed' AND errors = 2 AND attempts = 2"
            " AND last_error LIKE '%issue samples%'"),
      3);
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 0);
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "status", id}, &out, &err), 0) << err;
  EXPECT_NE(out.find("failed 3"), std::string::npos) << out;
  EXPECT_NE(out.find("failed after 2 attempt(s)"), std::string::npos) << out;
  EXPECT_NE(out.find("trainer errors 6"), std::string::npos) << out;
}

// limits.max_failed_trials: once that many trials have failed, the sweep is cancelled with the
// limit as its reason; the trials not yet run are never leased.
TEST_F(EndToEndTest, FailedTrialLimitCancelsTheSweep) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  StartWorker(addr, "w", 2);
  std::string yaml =
      DoomedYaml("{min: 1, max: 40, steps: 40}") + "limits: {max_failed_trials: 3}\n";
  std::string out, err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("doomed.yaml", yaml)}, &out, &err),
            0)
      << err;
  std::string id = out.substr(0, out.find('\n'));
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "watch", id}, &out, &err), 1);
  EXPECT_NE(out.find("cancelled (limits.max_failed_trials (3) reached: "), std::string::npos)
      << out;
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps WHERE state = 'cancelled' AND ended_early = "
                  "cancel_reason AND cancel_reason LIKE 'limits.max_failed_trials (3) reached: % "
                  "trials failed'"),
            1);
  const int64_t failed = Count("SELECT count(*) FROM trials WHERE state = 'failed'");
  EXPECT_GE(failed, 3);
  EXPECT_LE(failed, 6);  // Bundles of two fail together; the limit is checked at each report.
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE state = 'cancelled'"), 40 - failed);
  // Most were never leased at all.
  EXPECT_GE(Count("SELECT count(*) FROM trials WHERE attempts = 0"), 20);
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "status", id}, &out, &err), 0) << err;
  EXPECT_NE(out.find("cancelled: limits.max_failed_trials (3) reached"), std::string::npos) << out;
}

// limits.max_seconds: nothing is leased after the deadline, queued trials are dropped, running
// ones finish and are recorded, no further rung starts, and the sweep ends done with what
// finished, which can be published.
TEST_F(EndToEndTest, TimeLimitEndsTheSweepWithWhatFinished) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  StartWorker(addr, "worker1", 2);
  std::string yaml = SweepYaml(1200, "[1, 2]");
  yaml.replace(yaml.find("  method: grid\n"), 15, "  method: halving\n  budget: 2000\n  eta: 2\n");
  yaml.replace(yaml.find("    step_size: [0.005, 0.01]\n"), 28,
               "    step_size: {min: 0.003, max: 0.03}\n    seed: {min: 1, max: 1000}\n");
  yaml += "limits: {max_seconds: 4}\n";
  std::string out, err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("t.yaml", yaml)}, &out, &err), 0)
      << err;
  const std::string id = std::to_string(std::stoll(out));
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "status", id}, &out, &err), 0) << err;
  EXPECT_NE(out.find("time limit: nothing is leased after "), std::string::npos) << out;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", id}, &out, &err), 0) << err;
  EXPECT_NE(out.find("  time limit in "), std::string::npos) << out;  // While it ran.
  EXPECT_NE(out.find("ended early: limits.max_seconds (4 s after submission) reached"),
            std::string::npos)
      << out;

  EXPECT_EQ(Count("SELECT count(*) FROM sweeps WHERE state = 'done' AND pending_rungs = 0 AND "
                  "ended_early LIKE 'limits.max_seconds (4 s after submission) reached%' AND "
                  "finished_at >= deadline_at AND id = " +
                  id),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM trials t JOIN sweeps s ON s.id = t.sweep_id "
                  "WHERE t.started_at > s.deadline_at"),
            0);
  const int64_t succeeded = Count("SELECT count(*) FROM trials WHERE state = 'succeeded'");
  const int64_t dropped = Count(
      "SELECT count(*) FROM trials WHERE state = 'cancelled' AND last_error LIKE "
      "'dropped: limits.max_seconds%'");
  std::cerr << "time limit: " << succeeded << " trials succeeded, " << dropped << " dropped\n";
  EXPECT_GE(succeeded, 1);
  EXPECT_GE(dropped, 1);
  EXPECT_EQ(succeeded + dropped, 2000);  // Nothing left queued or running, nothing failed.
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE rung > 0"), 0);  // No second rung.
  EXPECT_EQ(Count("SELECT total_trials FROM sweeps WHERE id = " + id), 2000);
  EXPECT_EQ(Count("SELECT count(*) FROM sweep_audit WHERE action = 'limit' AND actor = "
                  "'coordinator' AND detail LIKE 'limits.max_seconds%'"),
            1);
  // What finished is published as any sweep's results.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "registry", "publish", id}, &out, &err), 0) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM model_versions"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM model_members m JOIN trials t ON t.id = m.trial_id "
                  "WHERE t.state <> 'succeeded'"),
            0);
}

TEST_F(EndToEndTest, HealthServiceReportsServing) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(stub->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// Errors a person can act on: a sweep file that is not UTF-8 is refused naming where, an
// address without a port is refused before any call, a coordinator that is not there is named
// with the flag that sets it, and a second coordinator cannot start on a port in use.
TEST_F(EndToEndTest, ErrorsSayWhatToDo) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  std::string out, err;
  const std::string yaml = SweepYaml(1500, "2");
  const std::string latin1 = WriteFile("latin1.yaml", yaml + "# caf\xe9\n");
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "submit", latin1, "--dry-run"}, &out, &err), 2);
  const auto line = std::count(yaml.begin(), yaml.end(), '\n') + 1;
  EXPECT_NE(err.find("latin1.yaml:" + std::to_string(line) + ":6: not UTF-8 (byte 0xe9)"),
            std::string::npos)
      << err;

  // Help per command: `help COMMAND` and `COMMAND --help` print that command's lines only.
  ASSERT_EQ(Sweepctl({"help", "extend"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("  extend ID N"), std::string::npos) << out;
  EXPECT_EQ(out.find("  submit FILE"), std::string::npos) << out;
  ASSERT_EQ(Sweepctl({"data", "--help"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("  data import NAME FILE"), std::string::npos) << out;
  EXPECT_EQ(out.find("  registry"), std::string::npos) << out;
  ASSERT_EQ(Sweepctl({"help"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("  registry"), std::string::npos) << out;
  EXPECT_EQ(Sweepctl({"help", "frobnicate"}, &out, &err), 2);
  EXPECT_NE(err.find("unknown command \"frobnicate\"; sweepctl help lists them"), std::string::npos)
      << err;

  EXPECT_EQ(Sweepctl({"--coordinator", "127.0.0.1", "list"}, &out, &err), 2);
  EXPECT_NE(err.find("--coordinator: \"127.0.0.1\" has no port; use HOST:PORT"), std::string::npos)
      << err;
  const std::string nobody = "127.0.0.1:" + std::to_string(FreePort());
  EXPECT_EQ(Sweepctl({"--coordinator", nobody, "--deadline-ms", "2000", "list"}, &out, &err), 1);
  EXPECT_NE(err.find("cannot reach the coordinator at " + nobody +
                     " (connection refused): is it running? set --coordinator"),
            std::string::npos)
      << err;

  // The port is in use: the second coordinator says so and exits instead of sharing it.
  const std::string port = addr.substr(addr.rfind(':') + 1);
  std::string second_out, second_err;
  EXPECT_EQ(RunCommand({SWEEPFARM_COORDINATOR, "--db", farm_->db()->dsn(), "--listen",
                        "127.0.0.1:" + port},
                       &second_out, &second_err, 60),
            1);
  EXPECT_NE(second_err.find("cannot listen on 127.0.0.1:" + port), std::string::npos) << second_err;

  // The DSN from a file (not the command line, which any process can read).
  EXPECT_EQ(RunCommand({SWEEPFARM_COORDINATOR, "--db-file", farm_->dir() + "/missing"}, &second_out,
                       &second_err, 60),
            2);
  EXPECT_NE(second_err.find("--db-file: " + farm_->dir() + "/missing: cannot read"),
            std::string::npos)
      << second_err;
  const std::string dsn_file = WriteFile("dsn", farm_->db()->dsn() + "\n");
  const std::string bound = farm_->dir() + "/from-file.address";
  Process from_file = Process::Start({SWEEPFARM_COORDINATOR, "--db-file", dsn_file, "--listen",
                                      "127.0.0.1:0", "--address-file", bound},
                                     farm_->dir() + "/from-file.log");
  bool listening = false;
  for (int i = 0; i < 300 && !listening; ++i) {
    listening = std::ifstream(bound).good();
    if (!listening) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(listening) << farm_->ReadLog("from-file");
  from_file.Signal(SIGTERM);
  EXPECT_EQ(from_file.Wait(), 0) << farm_->ReadLog("from-file");
}

// Transport security: a coordinator serving TLS and wanting a token runs a sweep for a worker and
// sweepctl that have both. Without the token, or with a wrong one, sweepctl is refused (naming
// the RPC) and nothing is written; a worker with a wrong token exits at registration. Every RPC of
// the three services refuses a call without the token: the list comes from the services'
// descriptors, so an RPC added later cannot skip the check. The health service answers without
// the token (probes).
TEST_F(EndToEndTest, TlsAndTokenGuardEveryRpc) {
  const std::string dir = farm_->dir(), cert = dir + "/cert.pem", key = dir + "/key.pem";
  std::string out, err;
  ASSERT_EQ(RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-days", "1", "-subj", "/CN=sweepfarm-test", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert},
                       &out, &err),
            0)
      << err;
  // The coordinator accepts two tokens, a rotation under way: the farm's clients still send the
  // old one (the file's last line, after a blank one), one sweepctl call below the new one.
  const std::string token = WriteFile("token", "0123456789abcdef0123456789abcdef\n");
  const std::string next = WriteFile("next", "00112233445566778899aabbccddeeff\n");
  const std::string wrong = WriteFile("wrong", "fedcba9876543210fedcba9876543210\n");
  // Beside them, named tokens with roles: a GPU host, a dashboard, an operator.
  const std::string both = WriteFile("both",
                                     "00112233445566778899aabbccddeeff\n\n"
                                     "0123456789abcdef0123456789abcdef\n"
                                     "# named holders and their roles\n"
                                     "1111111111111111 gpu-host-1 worker\n"
                                     "2222222222222222 dashboards reader\n"
                                     "3333333333333333 alice operator\n");
  farm_->SetSecurity({"--tls-cert", cert, "--tls-key", key, "--auth-token-file", both,
                      "--dashboard", "--metrics-auth", "--metrics-tls"},
                     {"--tls-ca", cert, "--auth-token-file", token});
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  const int worker_pid = StartWorker(addr, "worker1", 4).pid();
  const std::string sweep = WriteFile("s.yaml", SweepYaml(600, "[1]"));
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", sweep}, &out, &err), 0) << err;
  const std::string id = std::to_string(std::stoll(out));
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", id}, &out, &err), 0) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 8);
  EXPECT_NE(farm_->ReadLog("coordinator").find("(TLS), calls need a token"), std::string::npos);

  auto sweepctl = [&](std::vector<std::string> flags, std::vector<std::string> args) {
    std::vector<std::string> argv{SWEEPFARM_SWEEPCTL, "--coordinator", addr, "--deadline-ms",
                                  "5000"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, &out, &err);
  };
  EXPECT_EQ(sweepctl({"--tls-ca", cert, "--auth-token-file", next}, {"status", id}), 0) << err;
  EXPECT_EQ(sweepctl({"--tls-ca", cert}, {"submit", sweep}), 1);
  EXPECT_NE(err.find("SubmitSweep: no authorization token"), std::string::npos) << err;
  EXPECT_EQ(sweepctl({"--tls-ca", cert, "--auth-token-file", wrong}, {"status", id}), 1);
  EXPECT_NE(err.find("GetSweepStatus: wrong authorization token"), std::string::npos) << err;
  EXPECT_EQ(err.find("0123456789abcdef"), std::string::npos) << "a token leaked: " << err;
  // Plain text to the TLS port does not connect; a token file that is too short is refused.
  EXPECT_EQ(sweepctl({"--auth-token-file", token}, {"status", id}), 1);
  EXPECT_EQ(sweepctl({"--tls-ca", cert, "--auth-token-file", WriteFile("short", "abc\n")},
                     {"status", id}),
            2);
  EXPECT_NE(err.find("--auth-token-file " + dir + "/short:1: a token must be at least 16"),
            std::string::npos)
      << err;
  EXPECT_EQ(
      sweepctl({"--tls-ca", cert, "--auth-token-file", WriteFile("empty", "\n")}, {"status", id}),
      2);
  EXPECT_NE(err.find("no token in the file"), std::string::npos) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps"), 1) << "a refused submit wrote a sweep";
  Process bad = Process::Start({SWEEPFARM_WORKER, "--coordinator", addr, "--tls-ca", cert,
                                "--auth-token-file", wrong, "--device", "cpu"},
                               dir + "/bad-worker.log");
  EXPECT_EQ(bad.Wait(30), 1);
  EXPECT_NE(farm_->ReadLog("bad-worker").find("RegisterWorker: wrong authorization token"),
            std::string::npos)
      << farm_->ReadLog("bad-worker");

  // Roles: each token calls its own RPCs and is refused the rest (PERMISSION_DENIED, naming the
  // RPC, the holder and the role), and the operator's name is the actor of what it publishes.
  const std::string as_worker = WriteFile("worker-token", "1111111111111111\n");
  const std::string as_reader = WriteFile("reader-token", "2222222222222222\n");
  const std::string as_alice = WriteFile("alice-token", "3333333333333333\n");
  EXPECT_EQ(sweepctl({"--tls-ca", cert, "--auth-token-file", as_worker}, {"submit", sweep}), 1);
  EXPECT_NE(err.find("SubmitSweep: the token of gpu-host-1 (role worker) may not call it"),
            std::string::npos)
      << err;
  EXPECT_EQ(sweepctl({"--tls-ca", cert, "--auth-token-file", as_reader}, {"status", id}), 0) << err;
  EXPECT_EQ(sweepctl({"--tls-ca", cert, "--auth-token-file", as_reader}, {"priority", id, "5"}), 1);
  EXPECT_NE(err.find("SetSweepPriority: the token of dashboards (role reader) may not call it"),
            std::string::npos)
      << err;
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps"), 1);
  EXPECT_EQ(
      sweepctl({"--tls-ca", cert, "--auth-token-file", as_alice}, {"registry", "publish", id}), 0)
      << err;
  EXPECT_EQ(Count("SELECT count(*) FROM registry_audit WHERE actor LIKE 'alice via %(sweepctl)'"),
            1);
  // The sweep's own audit trail: submitted with the unnamed (admin) token, so by the client's
  // words alone; a sweep alice submits and cancels names her.
  EXPECT_EQ(Count("SELECT count(*) FROM sweep_audit WHERE action = 'submit' AND actor LIKE "
                  "'%@% (sweepctl)' AND actor NOT LIKE '% via %'"),
            1);
  // The sweep alice cancels must still be queued: stop the worker first (an idle worker leases
  // at once and would finish its eight one-epoch trials before the cancel arrives).
  for (auto& p : farm_->processes()) {
    if (p.pid() == worker_pid) {
      p.Signal(SIGTERM);
      p.Wait();
    }
  }
  ASSERT_EQ(sweepctl({"--tls-ca", cert, "--auth-token-file", as_alice}, {"submit", sweep}), 0)
      << err;
  const std::string second = std::to_string(std::stoll(out));
  ASSERT_EQ(sweepctl({"--tls-ca", cert, "--auth-token-file", as_alice},
                     {"cancel", second, "--reason", "submitted twice"}),
            0)
      << err;
  ASSERT_EQ(
      sweepctl({"--tls-ca", cert, "--auth-token-file", as_reader}, {"status", second, "--json"}), 0)
      << err;
  EXPECT_NE(out.find("\"submitted_by\":\"alice via "), std::string::npos) << out;
  EXPECT_NE(out.find("\"action\":\"cancel\",\"actor\":\"alice via "), std::string::npos) << out;
  EXPECT_NE(out.find("\"detail\":\"submitted twice\""), std::string::npos) << out;
  // --metrics-auth: the metrics and the dashboard take the same tokens, as a bearer token
  // (Prometheus) or a basic-auth password (a browser), from roles that may read; a refusal says
  // why and asks a browser for a password. --metrics-tls: over HTTPS only, with the gRPC port's
  // certificate, so no token crosses in the clear.
  const std::string web = farm_->MetricsAddress();
  std::ifstream cert_file(cert);
  const std::string cert_pem{std::istreambuf_iterator<char>(cert_file), {}};
  auto get = [&](const std::string& path, const std::string& authorization) {
    std::string error;
    std::string answer = HttpsExchange(
        web, "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + authorization + "\r\n", cert_pem, &error);
    EXPECT_FALSE(answer.empty()) << error;
    return answer;
  };
  EXPECT_NE(farm_->ReadLog("coordinator").find("metrics on https://" + web + "/metrics"),
            std::string::npos)
      << farm_->ReadLog("coordinator");
  std::string page =
      HttpExchange(web, "GET /metrics HTTP/1.1\r\nAuthorization: Bearer 2222222222222222\r\n\r\n");
  EXPECT_EQ(page.find("HTTP/1.1"), std::string::npos) << "plain HTTP answered: " << page;
  page = get("/metrics", "");
  EXPECT_EQ(page.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << page;
  EXPECT_NE(page.find("\r\nWWW-Authenticate: Basic realm=\"sweepfarm\""), std::string::npos)
      << page;
  EXPECT_NE(page.find("GET /metrics: no authorization token"), std::string::npos) << page;
  EXPECT_EQ(page.find("sweepfarm_"), std::string::npos) << page;
  page = get("/sweeps/" + id, "Authorization: Bearer 2222222222222223\r\n");
  EXPECT_EQ(page.rfind("HTTP/1.1 401", 0), 0u) << page;
  EXPECT_NE(page.find("GET /sweeps/" + id + ": wrong authorization token"), std::string::npos);
  page = get("/metrics", "authorization: Bearer 2222222222222222\r\n");
  EXPECT_EQ(page.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << page;
  EXPECT_NE(page.find("\nsweepfarm_trials_leased_total "), std::string::npos) << page;
  // dashboards:2222222222222222, as a browser sends it.
  page = get("/sweeps/" + id, "Authorization: Basic ZGFzaGJvYXJkczoyMjIyMjIyMjIyMjIyMjIy\r\n");
  EXPECT_EQ(page.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << page;
  EXPECT_NE(page.find("\r\nContent-Type: text/html"), std::string::npos) << page;
  EXPECT_NE(page.find("<h2>Sweep " + id + ": "), std::string::npos) << page;
  page = get("/", "Authorization: Bearer 1111111111111111\r\n");
  EXPECT_EQ(page.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u) << page;
  EXPECT_NE(page.find("the token of gpu-host-1 (role worker) may not read these pages"),
            std::string::npos)
      << page;

  // The prediction service behind TLS, as deploy/k8s/serve.yaml runs it: its own certificate,
  // the coordinator verified against the CA, and the reader's token both ways. It serves what
  // alice published, with the registry's holdout accuracy. Its own file admits callers by role
  // too: the reader's token first (it sends that one), and a worker's, which may not predict.
  const std::string serve_tokens = WriteFile(
      "serve-tokens", "2222222222222222 dashboards reader\n1111111111111111 gpu-host-1 worker\n");
  Process serve = Process::Start({SWEEPFARM_SERVE,
                                  "--coordinator",
                                  addr,
                                  "--model",
                                  "e2e-detector",
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--address-file",
                                  dir + "/serve.address",
                                  "--tls-cert",
                                  cert,
                                  "--tls-key",
                                  key,
                                  "--tls-ca",
                                  cert,
                                  "--auth-token-file",
                                  serve_tokens,
                                  "--metrics-listen",
                                  "127.0.0.1:0",
                                  "--metrics-address-file",
                                  dir + "/serve-metrics.address",
                                  "--metrics-auth",
                                  "--metrics-tls"},
                                 dir + "/serve.log");
  const std::string served = farm_->ServeAddress("serve");
  ASSERT_FALSE(served.empty()) << farm_->ReadLog("serve");
  EXPECT_NE(farm_->ReadLog("serve").find("(TLS), calls need a token"), std::string::npos);
  auto predict = [&](const std::vector<std::string>& flags) {
    std::vector<std::string> argv{
        SWEEPFARM_PREDICT, "--server",     served,    "--coordinator", addr,
        "--model",         "e2e-detector", "--split", "holdout",       "--quiet"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    return RunCommand(argv, &out, &err);
  };
  ASSERT_EQ(predict({"--tls-ca", cert, "--auth-token-file", as_reader}), 0) << err;
  const size_t at = out.find("\"accuracy\":");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_NEAR(std::strtod(out.c_str() + at + 11, nullptr),
              Query("SELECT holdout_accuracy FROM model_versions")[0][0].as<double>(), 1e-9);
  std::string sample;
  for (int i = 0; i < 64 * 16; ++i) sample += "0.5 ";
  EXPECT_EQ(RunCommand({SWEEPFARM_PREDICT, "--server", served, "--input",
                        WriteFile("sample.txt", sample + "\n"), "--tls-ca", cert,
                        "--auth-token-file", as_worker},
                       &out, &err),
            1);
  EXPECT_NE(err.find("Predict: the token of gpu-host-1 (role worker) may not call it"),
            std::string::npos)
      << err;
  EXPECT_EQ(predict({"--auth-token-file", as_reader}), 1);  // Plain text to a TLS port.
  // Its metrics: the reader's token, not the worker's.
  const std::string serve_metrics = farm_->ServeAddress("serve-metrics");
  page = HttpsExchange(serve_metrics, "GET /metrics HTTP/1.0\r\n\r\n", cert_pem);
  EXPECT_EQ(page.rfind("HTTP/1.1 401", 0), 0u) << page;
  page = HttpsExchange(serve_metrics,
                       "GET /metrics HTTP/1.0\r\nAuthorization: Bearer 1111111111111111\r\n\r\n",
                       cert_pem);
  EXPECT_EQ(page.rfind("HTTP/1.1 403", 0), 0u) << page;
  EXPECT_EQ(HttpExchange(serve_metrics, "GET /metrics HTTP/1.0\r\n\r\n").find("HTTP/1.1"),
            std::string::npos);
  page = HttpsExchange(serve_metrics,
                       "GET /metrics HTTP/1.0\r\nAuthorization: Bearer 2222222222222222\r\n\r\n",
                       cert_pem);
  EXPECT_NE(
      page.find("\nsweepfarm_serve_samples_total{model=\"e2e-detector\",alias=\"champion\"} "),
      std::string::npos)
      << page;

  // A GPU host's token leases work; an operator's cannot.
  Process gpu_worker = Process::Start({SWEEPFARM_WORKER, "--coordinator", addr, "--tls-ca", cert,
                                       "--auth-token-file", as_worker, "--device", "cpu"},
                                      dir + "/worker2.log");
  EXPECT_TRUE(farm_->WaitForCount("SELECT count(*) FROM workers", 2, 30))
      << farm_->ReadLog("worker2");
  Process alice_worker = Process::Start({SWEEPFARM_WORKER, "--coordinator", addr, "--tls-ca", cert,
                                         "--auth-token-file", as_alice, "--device", "cpu"},
                                        dir + "/alice-worker.log");
  EXPECT_EQ(alice_worker.Wait(30), 1);
  EXPECT_NE(farm_->ReadLog("alice-worker")
                .find("RegisterWorker: the token of alice (role operator) may not call it"),
            std::string::npos)
      << farm_->ReadLog("alice-worker");

  // Every RPC, by name, over TLS without the token.
  std::ifstream in(cert);
  std::stringstream pem;
  pem << in.rdbuf();
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = pem.str();
  auto channel = grpc::CreateChannel(addr, grpc::SslCredentials(tls));
  grpc::GenericStub stub(channel);
  int rpcs = 0;
  std::vector<const google::protobuf::ServiceDescriptor*> services;
  for (const auto* file :
       {v1::SubmitSweepRequest::descriptor()->file(), v1::LeaseWorkRequest::descriptor()->file(),
        v1::PublishSweepRequest::descriptor()->file(),
        v1::ImportDatasetChunk::descriptor()->file()}) {
    for (int i = 0; i < file->service_count(); ++i) services.push_back(file->service(i));
  }
  ASSERT_EQ(services.size(), 4u);
  for (const auto* desc : services) {
    const std::string service = desc->full_name();
    for (int m = 0; m < desc->method_count(); ++m, ++rpcs) {
      const std::string name = desc->method(m)->name();
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      grpc::CompletionQueue cq;
      grpc::Slice empty("");
      grpc::ByteBuffer request(&empty, 1), response;
      grpc::Status status;
      auto call = stub.PrepareUnaryCall(&ctx, "/" + service + "/" + name, request, &cq);
      call->StartCall();
      call->Finish(&response, &status, reinterpret_cast<void*>(1));
      void* tag;
      bool ok;
      ASSERT_TRUE(cq.Next(&tag, &ok));
      cq.Shutdown();
      while (cq.Next(&tag, &ok)) {
      }
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << name << ": " << status.error_message();
      EXPECT_EQ(status.error_message().rfind(name + ": no authorization token", 0), 0u)
          << status.error_message();
      // The worker role is exactly WorkerService: an RPC added there must be listed for it.
      EXPECT_EQ(RoleAllows(Role::kWorker, name), desc->name() == "WorkerService") << name;
    }
  }
  EXPECT_EQ(rpcs, 32);
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(health->Check(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(EndToEndTest, RefusedRequestsWriteNothing) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  std::string bad = SweepYaml(1500, "[2, no]");
  std::string out, err;
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("bad.yaml", bad)}, &out, &err), 2);
  EXPECT_NE(err.find("bad.yaml:13:"), std::string::npos) << err;
  EXPECT_NE(err.find("search.space.epochs[1]"), std::string::npos) << err;
  // A dry run is refused the same way.
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("bad.yaml", bad), "--dry-run"},
                     &out, &err),
            2);
  EXPECT_NE(err.find("bad.yaml:13:"), std::string::npos) << err;
  // A valid dry run answers with the plan and writes nothing either.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("dry.yaml", SweepYaml(1500, "2")),
                      "--dry-run", "--top", "0"},
                     &out, &err),
            0)
      << err;
  EXPECT_NE(out.find("would queue "), std::string::npos) << out;
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM trials"), 0);
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "status", "999"}, &out, &err), 1);
  EXPECT_NE(err.find("sweep 999 does not exist"), std::string::npos) << err;
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "leaderboard", "x1"}, &out, &err), 2);

  // A worker RPC with a bad argument is refused whole: no row changes.
  auto stub =
      v1::WorkerService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("ok.yaml", SweepYaml(1500, "2"))},
                     &out, &err),
            0)
      << err;
  grpc::ClientContext c1;
  v1::RegisterWorkerRequest reg;
  reg.set_device("tpu");
  reg.set_capacity(1);
  v1::RegisterWorkerResponse reg_resp;
  grpc::Status s = stub->RegisterWorker(&c1, reg, &reg_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("RegisterWorker: device"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM workers"), 0);
  {
    auto sweeps =
        v1::SweepService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    v1::ListWorkersRequest req;
    req.set_seen_within_seconds(-1);
    v1::ListWorkersResponse resp;
    grpc::Status st = sweeps->ListWorkers(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(st.error_message().find("ListWorkers: seen_within_seconds"), std::string::npos)
        << st.error_message();
  }

  reg.set_device("cpu");
  grpc::ClientContext c2;
  ASSERT_TRUE(stub->RegisterWorker(&c2, reg, &reg_resp).ok());
  grpc::ClientContext c3;
  v1::LeaseWorkRequest lease_req;
  lease_req.set_worker_id(reg_resp.worker_id());
  lease_req.set_max_trials(2);
  v1::LeaseWorkResponse lease;
  ASSERT_TRUE(stub->LeaseWork(&c3, lease_req, &lease).ok());
  ASSERT_EQ(lease.trials_size(), 2);
  EXPECT_EQ(lease.spec().dataset().name(), "telemetry");
  v1::ReportResultsRequest report;
  report.set_worker_id(reg_resp.worker_id());
  for (int i = 0; i < 2; ++i) {
    auto* r = report.add_reports();
    r->set_trial_id(lease.trials(i).trial_id());
    r->set_lease_token(lease.trials(i).lease_token());
    r->set_ok(true);
    r->mutable_result()->set_test_accuracy(i == 0 ? 0.9 : 1.5);  // The second is invalid.
    r->mutable_result()->set_dataset_hash("abc");
  }
  grpc::ClientContext c4;
  v1::ReportResultsResponse rr;
  s = stub->ReportResults(&c4, report, &rr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("reports[1].result.test_accuracy"), std::string::npos);
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 0);

  // Predictions whose bytes do not match their shape are refused too.
  report.mutable_reports()->RemoveLast();
  auto* wrong = report.mutable_reports(0)->mutable_result()->mutable_predictions();
  wrong->set_samples(10);
  wrong->set_classes(2);
  wrong->set_probs_f16("xyz");
  grpc::ClientContext c4b;
  s = stub->ReportResults(&c4b, report, &rr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("reports[0].result.predictions"), std::string::npos);
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 0);
  report.mutable_reports(0)->mutable_result()->clear_predictions();
  // So is a balanced accuracy out of range.
  report.mutable_reports(0)->mutable_result()->set_holdout_balanced_accuracy(1.25);
  grpc::ClientContext c4c;
  s = stub->ReportResults(&c4c, report, &rr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("reports[0].result.holdout_balanced_accuracy must be in [0, 1]"),
            std::string::npos)
      << s.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 0);
  report.mutable_reports(0)->mutable_result()->set_holdout_balanced_accuracy(0.75);
  // And a confusion matrix that is not a square of counts.
  for (int64_t v : {4, 1, 2}) report.mutable_reports(0)->mutable_result()->add_holdout_confusion(v);
  grpc::ClientContext c4e;
  s = stub->ReportResults(&c4e, report, &rr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("reports[0].result.holdout_confusion must be classes x classes"),
            std::string::npos)
      << s.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 0);
  report.mutable_reports(0)->mutable_result()->clear_holdout_confusion();
  // So is a lease token that is not one (the 60-bit integers of old workers, say), in a report
  // or in a heartbeat.
  const std::string real_token = report.reports(0).lease_token();
  report.mutable_reports(0)->set_lease_token("1152921504606846975");
  grpc::ClientContext c4d;
  s = stub->ReportResults(&c4d, report, &rr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("reports[0].lease_token must be the lease's token"),
            std::string::npos)
      << s.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 0);
  report.mutable_reports(0)->set_lease_token(real_token);
  {
    grpc::ClientContext c;
    v1::HeartbeatRequest beat;
    beat.set_worker_id(reg_resp.worker_id());
    auto* l = beat.add_leases();
    l->set_trial_id(report.reports(0).trial_id());
    l->set_lease_token(real_token + "\",\"");
    v1::HeartbeatResponse hr;
    s = stub->Heartbeat(&c, beat, &hr);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("Heartbeat: leases[0].lease_token"), std::string::npos)
        << s.error_message();
  }
  report.add_reports();  // Removed again below.

  // The valid report is accepted once; the same report again is a duplicate, not a second result;
  // a report with a wrong token is stale.
  report.mutable_reports()->RemoveLast();
  grpc::ClientContext c5, c6, c7;
  ASSERT_TRUE(stub->ReportResults(&c5, report, &rr).ok());
  EXPECT_EQ(rr.accepted(), 1);
  ASSERT_TRUE(stub->ReportResults(&c6, report, &rr).ok());
  EXPECT_EQ(rr.duplicates(), 1);
  EXPECT_EQ(rr.accepted(), 0);
  report.mutable_reports(0)->set_trial_id(lease.trials(1).trial_id());
  ASSERT_TRUE(stub->ReportResults(&c7, report, &rr).ok());
  EXPECT_EQ(rr.rejected_stale(), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 1);

  // Artifacts: stored only when the content matches its declared sha256, and only for a trial
  // whose result was accepted with that lease.
  auto upload = [&](int64_t trial, const std::string& token, const std::string& declared,
                    const std::string& data, v1::UploadArtifactResponse* out,
                    const std::string& format = "sweepfarm-weights-v1") {
    grpc::ClientContext ctx;
    auto writer = stub->UploadArtifact(&ctx, out);
    v1::ArtifactChunk chunk;
    chunk.set_trial_id(trial);
    chunk.set_lease_token(token);
    chunk.set_worker_id(reg_resp.worker_id());
    chunk.set_sha256(declared);
    chunk.set_format(format);
    chunk.set_arch_json("{\"architecture\":{\"name\":\"cnn1d\"}}");
    chunk.set_data(data.substr(0, 3));
    writer->Write(chunk);
    v1::ArtifactChunk rest;
    rest.set_data(data.substr(3));
    writer->Write(rest);
    writer->WritesDone();
    return writer->Finish();
  };
  const std::string weights = "0123456789abcdef";
  v1::UploadArtifactResponse up;
  grpc::Status u = upload(lease.trials(0).trial_id(), lease.trials(0).lease_token(),
                          Sha256Hex("something else"), weights, &up);
  EXPECT_EQ(u.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(u.error_message().find("UploadArtifact: sha256 mismatch"), std::string::npos);
  u = upload(lease.trials(1).trial_id(), lease.trials(1).lease_token(), Sha256Hex(weights), weights,
             &up);
  EXPECT_EQ(u.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << u.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM artifacts"), 0);
  u = upload(lease.trials(0).trial_id(), lease.trials(0).lease_token(), Sha256Hex(weights), weights,
             &up);
  ASSERT_TRUE(u.ok()) << u.error_message();
  EXPECT_EQ(up.sha256(), Sha256Hex(weights));
  EXPECT_EQ(up.size_bytes(), 16);
  EXPECT_EQ(
      Count("SELECT count(*) FROM trial_artifacts WHERE sha256 = '" + Sha256Hex(weights) + "'"), 1);

  // Checkpoints: only for trials of a halving rung that is not the last (this sweep is a grid),
  // and only in the two formats.
  u = upload(lease.trials(1).trial_id(), lease.trials(1).lease_token(), Sha256Hex(weights), weights,
             &up, "sweepfarm-checkpoint-v1");
  EXPECT_EQ(u.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << u.error_message();
  EXPECT_NE(u.error_message().find("takes no checkpoint under lease"), std::string::npos)
      << u.error_message();
  u = upload(lease.trials(1).trial_id(), lease.trials(1).lease_token(), Sha256Hex(weights), weights,
             &up, "pickle");
  EXPECT_EQ(u.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(u.error_message().find("UploadArtifact: format must be"), std::string::npos);
  EXPECT_EQ(Count("SELECT count(*) FROM trial_checkpoints"), 0);
  EXPECT_FALSE(lease.trials(1).save_checkpoint());
  EXPECT_EQ(lease.trials(1).resume_epochs(), 0);
  auto get_checkpoint = [&](const std::string& worker, int64_t trial, const std::string& token) {
    grpc::ClientContext ctx;
    v1::GetCheckpointRequest req;
    req.set_worker_id(worker);
    req.set_trial_id(trial);
    req.set_lease_token(token);
    auto reader = stub->GetCheckpoint(&ctx, req);
    v1::ArtifactChunk chunk;
    while (reader->Read(&chunk)) {
    }
    return reader->Finish();
  };
  const int64_t running = lease.trials(1).trial_id();
  const std::string token = lease.trials(1).lease_token();
  s = get_checkpoint("", running, token);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("GetCheckpoint: worker_id is empty"), std::string::npos);
  s = get_checkpoint(reg_resp.worker_id(), 0, token);
  EXPECT_NE(s.error_message().find("GetCheckpoint: trial_id must be positive"), std::string::npos);
  s = get_checkpoint(reg_resp.worker_id(), running, token.substr(0, 31));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("GetCheckpoint: lease_token must be the lease's token, 32 "
                                   "lowercase hex digits"),
            std::string::npos)
      << s.error_message();
  // Another well-formed token: the last digit changed.
  std::string other = token;
  other.back() = other.back() == '0' ? '1' : '0';
  s = get_checkpoint(reg_resp.worker_id(), running, other);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("is not running under lease"), std::string::npos)
      << s.error_message();
  s = get_checkpoint(reg_resp.worker_id(), running, token);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("was not promoted from a trial"), std::string::npos)
      << s.error_message();
}

// Long polling: a worker that asks while nothing is queued is held until work comes, and gets
// the trials of a sweep submitted after it asked (without it, an idle worker saw a submission
// only at its next poll, up to 2 s later), or a failed trial's retry. A wait over the limit is
// refused, naming the argument.
TEST_F(EndToEndTest, LeaseWorkWaitsForWorkToBeQueued) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  auto stub =
      v1::WorkerService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  v1::RegisterWorkerRequest reg;
  reg.set_host("h");
  reg.set_device("cpu");
  reg.set_capacity(2);
  v1::RegisterWorkerResponse worker;
  {
    grpc::ClientContext c;
    ASSERT_TRUE(stub->RegisterWorker(&c, reg, &worker).ok());
  }
  v1::LeaseWorkRequest req;
  req.set_worker_id(worker.worker_id());
  req.set_max_trials(2);
  {
    req.set_wait_ms(30001);
    grpc::ClientContext c;
    v1::LeaseWorkResponse resp;
    grpc::Status s = stub->LeaseWork(&c, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("LeaseWork: wait_ms must be in [0, 30000]"), std::string::npos)
        << s.error_message();
  }
  {
    req.set_wait_ms(0);  // Nothing queued, no wait: an empty answer.
    grpc::ClientContext c;
    v1::LeaseWorkResponse resp;
    ASSERT_TRUE(stub->LeaseWork(&c, req, &resp).ok());
    EXPECT_EQ(resp.trials_size(), 0);
  }
  // Asks with `request`, waiting up to 30 s, and runs `queue_work` once the call is (very likely)
  // waiting; should the call come later, it finds the work queued and the test passes without
  // testing the wait, never fails for it.
  auto lease_while = [&](v1::LeaseWorkRequest request, const std::function<void()>& queue_work,
                         v1::LeaseWorkResponse* resp) {
    request.set_wait_ms(30000);
    grpc::Status status;
    std::thread waiter([&] {
      grpc::ClientContext c;
      status = stub->LeaseWork(&c, request, resp);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    queue_work();
    waiter.join();
    return status;
  };
  v1::LeaseWorkResponse held;
  grpc::Status held_status = lease_while(
      req,
      [&] {
        std::string out, err;
        EXPECT_EQ(
            Sweepctl({"--coordinator", addr, "submit", WriteFile("s.yaml", SweepYaml(1500, "2"))},
                     &out, &err),
            0)
            << err;
      },
      &held);
  ASSERT_TRUE(held_status.ok()) << held_status.error_message();
  ASSERT_EQ(held.trials_size(), 2);

  // A failed trial's retry is new work too: with the queue empty, a second worker waits, and the
  // report that re-queues the trial wakes it with that trial.
  v1::RegisterWorkerResponse second;
  {
    grpc::ClientContext c;
    ASSERT_TRUE(stub->RegisterWorker(&c, reg, &second).ok());
  }
  v1::LeaseWorkRequest rest;
  rest.set_worker_id(second.worker_id());
  rest.set_max_trials(100);
  {
    grpc::ClientContext c;
    v1::LeaseWorkResponse resp;
    ASSERT_TRUE(stub->LeaseWork(&c, rest, &resp).ok());
    EXPECT_EQ(resp.trials_size(), 6);  // The sweep's other six: nothing is queued now.
  }
  v1::LeaseWorkResponse retried;
  grpc::Status retried_status = lease_while(
      rest,
      [&] {
        v1::ReportResultsRequest report;
        report.set_worker_id(worker.worker_id());
        auto* r = report.add_reports();
        r->set_trial_id(held.trials(0).trial_id());
        r->set_lease_token(held.trials(0).lease_token());
        r->set_ok(false);
        r->set_error("out of memory");
        grpc::ClientContext c;
        v1::ReportResultsResponse resp;
        ASSERT_TRUE(stub->ReportResults(&c, report, &resp).ok());
        EXPECT_EQ(resp.accepted(), 1);
      },
      &retried);
  ASSERT_TRUE(retried_status.ok()) << retried_status.error_message();
  ASSERT_EQ(retried.trials_size(), 1);
  EXPECT_EQ(retried.trials(0).trial_id(), held.trials(0).trial_id());
}

// Lease actions are the lease holder's own: a second worker-role token can neither act for the
// first one's worker id nor, with a worker id of its own, report, renew, release or upload for
// trials it does not hold; lease tokens are random, not a sequence to guess from; stored weights
// are never replaced.
TEST_F(EndToEndTest, ForgedLeaseActionsAreRefused) {
  const std::string tokens = WriteFile("tokens",
                                       "0123456789abcdef0123456789abcdef ops admin\n"
                                       "aaaaaaaaaaaaaaaa host-a worker\n"
                                       "bbbbbbbbbbbbbbbb host-b worker\n");
  farm_->SetSecurity(
      {"--auth-token-file", tokens},
      {"--auth-token-file", WriteFile("admin", "0123456789abcdef0123456789abcdef\n")});
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  std::string out, err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("s.yaml", SweepYaml(1500, "2"))},
                     &out, &err),
            0)
      << err;
  auto stub =
      v1::WorkerService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  struct As {
    explicit As(const std::string& token) { ctx.AddMetadata("authorization", "Bearer " + token); }
    grpc::ClientContext ctx;
  };
  const std::string a = "aaaaaaaaaaaaaaaa", b = "bbbbbbbbbbbbbbbb";
  auto register_as = [&](const std::string& token) {
    As c(token);
    v1::RegisterWorkerRequest req;
    req.set_host("h");
    req.set_device("cpu");
    req.set_capacity(2);
    v1::RegisterWorkerResponse resp;
    EXPECT_TRUE(stub->RegisterWorker(&c.ctx, req, &resp).ok());
    return resp.worker_id();
  };
  const std::string wa = register_as(a), wb = register_as(b);
  ASSERT_FALSE(wa.empty());
  ASSERT_FALSE(wb.empty());
  v1::LeaseWorkResponse lease;
  {
    As c(a);
    v1::LeaseWorkRequest req;
    req.set_worker_id(wa);
    req.set_max_trials(2);
    ASSERT_TRUE(stub->LeaseWork(&c.ctx, req, &lease).ok());
  }
  ASSERT_EQ(lease.trials_size(), 2);
  // Random 128-bit tokens, not a sequence: 32 hex digits each, and two of one call share no
  // prefix of 8 digits (a chance of 2^-32 that they do).
  for (int i = 0; i < 2; ++i) {
    const std::string& t = lease.trials(i).lease_token();
    EXPECT_TRUE(
        t.size() == 32 &&
        std::all_of(t.begin(), t.end(),
                    [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); }))
        << t;
  }
  EXPECT_NE(lease.trials(0).lease_token().substr(0, 8), lease.trials(1).lease_token().substr(0, 8))
      << lease.trials(0).lease_token() << " " << lease.trials(1).lease_token();

  v1::ReportResultsRequest report;
  auto* r = report.add_reports();
  r->set_trial_id(lease.trials(0).trial_id());
  r->set_lease_token(lease.trials(0).lease_token());
  r->set_ok(true);
  r->mutable_result()->set_test_accuracy(0.5);
  r->mutable_result()->set_dataset_hash("forged");
  v1::ReleaseLeasesRequest release;
  v1::HeartbeatRequest beat;
  for (const auto& t : lease.trials()) {
    auto* l = release.add_leases();
    l->set_trial_id(t.trial_id());
    l->set_lease_token(t.lease_token());
    *beat.add_leases() = *l;
  }
  auto upload = [&](const std::string& token, const std::string& worker, int64_t trial,
                    const std::string& lease_token, const std::string& weights) {
    As c(token);
    v1::UploadArtifactResponse resp;
    auto writer = stub->UploadArtifact(&c.ctx, &resp);
    v1::ArtifactChunk chunk;
    chunk.set_trial_id(trial);
    chunk.set_lease_token(lease_token);
    chunk.set_worker_id(worker);
    chunk.set_sha256(Sha256Hex(weights));
    chunk.set_format("sweepfarm-weights-v1");
    chunk.set_arch_json("{\"architecture\":{\"name\":\"cnn1d\"}}");
    chunk.set_data(weights);
    writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  };
  auto every_action = [&](const std::string& token, const std::string& worker) {
    std::vector<grpc::Status> got;
    {
      As c(token);
      v1::LeaseWorkRequest req;
      req.set_worker_id(worker);
      req.set_max_trials(1);
      v1::LeaseWorkResponse resp;
      got.push_back(stub->LeaseWork(&c.ctx, req, &resp));
    }
    {
      As c(token);
      beat.set_worker_id(worker);
      v1::HeartbeatResponse resp;
      got.push_back(stub->Heartbeat(&c.ctx, beat, &resp));
    }
    {
      As c(token);
      report.set_worker_id(worker);
      v1::ReportResultsResponse resp;
      got.push_back(stub->ReportResults(&c.ctx, report, &resp));
    }
    {
      As c(token);
      release.set_worker_id(worker);
      v1::ReleaseLeasesResponse resp;
      got.push_back(stub->ReleaseLeases(&c.ctx, release, &resp));
    }
    got.push_back(upload(token, worker, lease.trials(0).trial_id(), lease.trials(0).lease_token(),
                         "weights"));
    {
      As c(token);
      v1::GetCheckpointRequest req;
      req.set_worker_id(worker);
      req.set_trial_id(lease.trials(1).trial_id());
      req.set_lease_token(lease.trials(1).lease_token());
      auto reader = stub->GetCheckpoint(&c.ctx, req);
      v1::ArtifactChunk chunk;
      while (reader->Read(&chunk)) {
      }
      got.push_back(reader->Finish());
    }
    {
      As c(token);
      v1::FetchDatasetRequest req;
      req.set_worker_id(worker);
      req.set_sha256(std::string(64, 'a'));
      auto reader = stub->FetchDataset(&c.ctx, req);
      v1::DataChunk chunk;
      while (reader->Read(&chunk)) {
      }
      got.push_back(reader->Finish());
    }
    return got;
  };
  // host-b, naming host-a's worker: every worker RPC is refused before it does anything.
  for (const grpc::Status& s : every_action(b, wa)) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find("worker " + wa + " was registered by another token's holder"),
              std::string::npos)
        << s.error_message();
  }
  // An unregistered worker id is refused the same way.
  for (const grpc::Status& s : every_action(b, "w-made-up")) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find("is not registered"), std::string::npos) << s.error_message();
  }
  // host-b with its own worker, replaying host-a's leases: the lease is not its to act on.
  {
    As c(b);
    report.set_worker_id(wb);
    v1::ReportResultsResponse resp;
    ASSERT_TRUE(stub->ReportResults(&c.ctx, report, &resp).ok());
    EXPECT_EQ(resp.accepted(), 0);
    EXPECT_EQ(resp.rejected_stale(), 1);
  }
  {
    As c(b);
    release.set_worker_id(wb);
    v1::ReleaseLeasesResponse resp;
    ASSERT_TRUE(stub->ReleaseLeases(&c.ctx, release, &resp).ok());
    EXPECT_EQ(resp.released(), 0);
  }
  {
    As c(b);
    beat.set_worker_id(wb);
    v1::HeartbeatResponse resp;
    ASSERT_TRUE(stub->Heartbeat(&c.ctx, beat, &resp).ok());
    EXPECT_EQ(resp.lost_trial_ids_size(), 2) << "host-b holds none of them";
  }
  grpc::Status s = upload(b, wb, lease.trials(1).trial_id(), lease.trials(1).lease_token(), "w");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 0);
  EXPECT_EQ(
      Count("SELECT count(*) FROM trials WHERE state = 'running' AND worker_id = '" + wa + "'"), 2)
      << "host-a still holds both leases";

  // host-a itself: its result is accepted once, its weights stored once and never replaced.
  {
    As c(a);
    report.set_worker_id(wa);
    v1::ReportResultsResponse resp;
    ASSERT_TRUE(stub->ReportResults(&c.ctx, report, &resp).ok());
    EXPECT_EQ(resp.accepted(), 1);
  }
  s = upload(b, wb, lease.trials(0).trial_id(), lease.trials(0).lease_token(), "forged");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("has no result accepted from worker " + wb), std::string::npos)
      << s.error_message();
  const int64_t done = lease.trials(0).trial_id();
  const std::string token = lease.trials(0).lease_token();
  ASSERT_TRUE(upload(a, wa, done, token, "weights").ok());
  ASSERT_TRUE(upload(a, wa, done, token, "weights").ok()) << "a retried upload is no change";
  s = upload(a, wa, done, token, "other weights");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_NE(s.error_message().find("they are never replaced"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(
      Count("SELECT count(*) FROM trial_artifacts WHERE sha256 = '" + Sha256Hex("weights") + "'"),
      1);
  EXPECT_EQ(Count("SELECT count(*) FROM results WHERE worker_id = '" + wb + "'"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM artifacts"), 1);
}

// deploy/local/credentials.sh makes what a farm reached beyond loopback needs: with its private
// CA, certificate and per-role tokens, a worker holding the worker token and sweepctl holding the
// operator's run a sweep over TLS verified against the CA; the reader's token may look but not
// submit; a second run of the script changes nothing.
TEST_F(EndToEndTest, GeneratedCredentialsSecureAFarm) {
  const std::string dir = farm_->dir() + "/credentials";
  const std::string script = std::string(SWEEPFARM_SOURCE_DIR) + "/deploy/local/credentials.sh";
  std::string out, err;
  ASSERT_EQ(RunCommand({"/bin/bash", script, dir, "127.0.0.1", "localhost"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("workers:          --tls-ca " + dir + "/ca.pem --auth-token-file " + dir +
                     "/worker.token"),
            std::string::npos)
      << out;
  auto read = [](const std::string& path) {
    std::ifstream f(path);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  };
  const std::string tokens = read(dir + "/tokens"), cert = read(dir + "/server.pem");
  ASSERT_EQ(RunCommand({"/bin/bash", script, dir}, &out, &err), 0) << err;
  EXPECT_EQ(read(dir + "/tokens"), tokens) << "a second run replaced the tokens";
  EXPECT_EQ(read(dir + "/server.pem"), cert) << "a second run replaced the certificate";
  EXPECT_EQ(std::filesystem::status(dir).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);

  farm_->SetSecurity({"--tls-cert", dir + "/server.pem", "--tls-key", dir + "/server.key",
                      "--auth-token-file", dir + "/tokens"},
                     {"--tls-ca", dir + "/ca.pem", "--auth-token-file", dir + "/worker.token"});
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  StartWorker(addr, "worker1", 4);
  auto sweepctl = [&](const std::string& role, std::vector<std::string> args) {
    std::vector<std::string> argv{SWEEPFARM_SWEEPCTL,
                                  "--coordinator",
                                  addr,
                                  "--tls-ca",
                                  dir + "/ca.pem",
                                  "--auth-token-file",
                                  dir + "/" + role + ".token"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, &out, &err);
  };
  const std::string sweep = WriteFile("s.yaml", SweepYaml(600, "[1]"));
  EXPECT_EQ(sweepctl("reader", {"submit", sweep}), 1);
  EXPECT_NE(err.find("SubmitSweep: the token of reader"), std::string::npos) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps"), 0);
  ASSERT_EQ(sweepctl("operator", {"submit", sweep}), 0) << err;
  const std::string id = std::to_string(std::stoll(out));
  ASSERT_EQ(sweepctl("reader", {"watch", id}), 0) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM results WHERE worker_id IN (SELECT id FROM workers "
                  "WHERE holder = 'worker')"),
            8);
  // The operator is audited by the name the script gave its token.
  EXPECT_EQ(Count("SELECT count(*) FROM sweep_audit WHERE action = 'submit' AND actor LIKE "
                  "'operator%'"),
            1);
}

// A dry run of a sweep of 200,000 trials answers with the counts of all of them and a bounded
// sample of the plan (not 200,000 rows); the sample's size is the caller's, within bounds.
TEST_F(EndToEndTest, DryRunOfAHugeSweepListsABoundedPlan) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  const std::string huge =
      WriteFile("huge.yaml", DoomedYaml("{min: 1, max: 100000, steps: 100000}"));
  std::string out, err;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", huge, "--dry-run", "--json"}, &out, &err), 0)
      << err;
  EXPECT_NE(out.find("\"trials\":100000,"), std::string::npos) << out.substr(0, 400);
  EXPECT_NE(out.find("\"origins\":{\"search\":100000}"), std::string::npos) << out.substr(0, 400);
  EXPECT_NE(out.find("\"listed\":10000,"), std::string::npos) << out.substr(0, 400);
  ASSERT_EQ(
      Sweepctl({"--coordinator", addr, "submit", huge, "--dry-run", "--top", "3"}, &out, &err), 0)
      << err;
  EXPECT_NE(out.find("would queue 100000 trials, 100000 model-epochs"), std::string::npos) << out;
  EXPECT_NE(out.find("trials in lease order (3 of 100000; --top N for more):"), std::string::npos)
      << out;
  EXPECT_NE(out.find("  100000  the sweep's architecture"), std::string::npos) << out;

  auto stub =
      v1::SweepService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  v1::SubmitSweepRequest req;
  req.set_yaml(DoomedYaml("{min: 1, max: 100000, steps: 100000}"));
  req.set_validate_only(true);
  v1::SubmitSweepResponse resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->SubmitSweep(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.plan_size(), 1000) << "the default sample";
    EXPECT_EQ(resp.trials(), 100000);
  }
  req.set_plan_limit(10001);
  grpc::ClientContext ctx;
  grpc::Status s = stub->SubmitSweep(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("SubmitSweep: plan_limit must be in [0, 10000]"),
            std::string::npos)
      << s.error_message();
  EXPECT_EQ(Count("SELECT count(*) FROM trials"), 0);
}

TEST_F(EndToEndTest, LostWorkersTrialsAreRequeued) {
  std::string addr = StartCoordinator(/*lease_seconds=*/2);
  ASSERT_FALSE(addr.empty());
  Process& doomed = StartWorker(addr, "doomed", 4);
  std::string out, err;
  ASSERT_EQ(
      Sweepctl({"--coordinator", addr, "submit", WriteFile("s.yaml", SweepYaml(3000, "[8, 12]"))},
               &out, &err),
      0)
      << err;
  int64_t id = std::stoll(out);
  // Wait until the doomed worker holds leases, then kill it without warning.
  farm_->WaitForCount("SELECT count(*) FROM trials WHERE state = 'running'", 1);
  ASSERT_GT(Count("SELECT count(*) FROM trials WHERE state = 'running'"), 0);
  doomed.Signal(SIGKILL);
  doomed.Wait();
  StartWorker(addr, "survivor", 8);
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "watch", std::to_string(id)}, &out, &err), 0) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE state = 'succeeded'"), 16);
  EXPECT_EQ(Count("SELECT count(*) FROM results"), 16);
  int64_t retried =
      Count("SELECT count(*) FROM trials WHERE attempts = 2 AND last_error LIKE 'lease expired%'");
  EXPECT_GT(retried, 0);
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "status", std::to_string(id)}, &out, &err), 0) << err;
  EXPECT_NE(out.find("retried " + std::to_string(retried)), std::string::npos) << out;
  EXPECT_NE(out.find("lease expired"), std::string::npos) << out;
  EXPECT_NE(out.find("lost leases " + std::to_string(retried)), std::string::npos) << out;
  EXPECT_EQ(Count("SELECT sum(errors) FROM trials"), 0);  // Lost workers are not trainer errors.
  // The coordinator counted the expired leases (one coordinator, so all of them).
  const std::string scrape = HttpExchange(farm_->MetricsAddress(), "GET /metrics HTTP/1.0\r\n\r\n");
  EXPECT_NE(scrape.find("\nsweepfarm_leases_expired_total " + std::to_string(retried) + "\n"),
            std::string::npos)
      << scrape;
}

google::protobuf::ListValue JsonList(const std::string& text) {
  google::protobuf::ListValue list;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &list).ok()) << text;
  return list;
}

TEST_F(EndToEndTest, CancelEndsASweepAndRefusesItsLateResults) {
  std::string addr = StartCoordinator();
  ASSERT_FALSE(addr.empty());
  std::string out, err;
  ASSERT_EQ(
      Sweepctl({"--coordinator", addr, "submit", WriteFile("s.yaml", SweepYaml(1500, "[2, 3]"))},
               &out, &err),
      0)
      << err;
  const std::string sid = std::to_string(std::stoll(out));
  // A slow worker: its trials are still running when the sweep is cancelled.
  farm_->StartWorker(addr, "slow",
                     {"--trainer", "fake", "--fake-train-ms", "3000", "--capacity", "2"});
  ASSERT_TRUE(farm_->WaitForCount("SELECT count(*) FROM trials WHERE state = 'running'", 1, 60));

  // Refused requests name the RPC and argument, and write nothing.
  auto stub =
      v1::SweepService::NewStub(grpc::CreateChannel(addr, grpc::InsecureChannelCredentials()));
  auto cancel = [&](int64_t id, const std::string& reason) {
    grpc::ClientContext ctx;
    v1::CancelSweepRequest req;
    req.set_sweep_id(id);
    req.set_reason(reason);
    v1::CancelSweepResponse resp;
    return stub->CancelSweep(&ctx, req, &resp);
  };
  grpc::Status st = cancel(0, "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("CancelSweep: sweep_id"), std::string::npos)
      << st.error_message();
  st = cancel(std::stoll(sid), std::string(1001, 'x'));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("reason"), std::string::npos) << st.error_message();
  st = cancel(999999, "no such sweep");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  for (const auto& [limit, state] :
       std::vector<std::pair<int, std::string>>{{5000, ""}, {0, "finished"}}) {
    grpc::ClientContext ctx;
    v1::ListSweepsRequest req;
    req.set_limit(limit);
    req.set_state(state);
    v1::ListSweepsResponse resp;
    st = stub->ListSweeps(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << limit << " " << state;
    EXPECT_NE(st.error_message().find("ListSweeps: "), std::string::npos) << st.error_message();
  }
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps WHERE state = 'running' AND cancel_reason IS NULL"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE state = 'cancelled'"), 0);

  ASSERT_EQ(
      Sweepctl({"--coordinator", addr, "cancel", sid, "--reason", "wrong dataset"}, &out, &err), 0)
      << err;
  long long queued = -1, running = -1;
  ASSERT_EQ(std::sscanf(out.c_str(), "sweep %*d cancelled: %lld queued and %lld running", &queued,
                        &running),
            2)
      << out;
  EXPECT_GE(running, 1) << out;
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps WHERE state = 'cancelled' AND "
                  "cancel_reason = 'wrong dataset' AND finished_at IS NOT NULL"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE state IN ('queued', 'running')"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM trials WHERE state = 'cancelled' AND "
                  "last_error = 'cancelled: wrong dataset' AND lease_token IS NULL"),
            queued + running);
  EXPECT_EQ(Count("SELECT count(*) FROM trials"),
            queued + running + Count("SELECT count(*) FROM results"));

  // A second cancel is refused and changes nothing.
  EXPECT_NE(Sweepctl({"--coordinator", addr, "cancel", sid, "--reason", "again"}, &out, &err), 0);
  EXPECT_NE(err.find("already ended (cancelled)"), std::string::npos) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM sweeps WHERE cancel_reason = 'wrong dataset'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM sweep_audit WHERE action = 'cancel' AND detail = "
                  "'wrong dataset' AND actor LIKE '%(sweepctl)'"),
            1);

  // The running trials' results arrive late and are refused; nothing is recorded for them.
  EXPECT_TRUE(
      farm_->WaitForCount("SELECT count(*) FROM report_log WHERE outcome = 'stale'", running, 30));
  EXPECT_EQ(Count("SELECT count(*) FROM results r JOIN trials t ON t.id = r.trial_id "
                  "WHERE t.state = 'cancelled'"),
            0);

  // watch ends, saying why; status and publish tell the same.
  EXPECT_EQ(Sweepctl({"--coordinator", addr, "watch", sid}, &out, &err), 1);
  EXPECT_NE(out.find("cancelled (wrong dataset)"), std::string::npos) << out;
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "status", sid, "--json"}, &out, &err), 0) << err;
  google::protobuf::Struct status;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(out, &status).ok()) << out;
  EXPECT_EQ(status.fields().at("state").string_value(), "cancelled");
  EXPECT_EQ(status.fields().at("cancelled").number_value(), queued + running);
  EXPECT_NE(Sweepctl({"--coordinator", addr, "registry", "publish", sid}, &out, &err), 0);
  EXPECT_NE(err.find("was cancelled: wrong dataset"), std::string::npos) << err;
  EXPECT_EQ(Count("SELECT count(*) FROM model_versions"), 0);

  // list: newest first, filtered by state.
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "submit", WriteFile("t.yaml", SweepYaml(1500, "[2]"))},
                     &out, &err),
            0)
      << err;
  const int64_t second = std::stoll(out);
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "list", "--json"}, &out, &err), 0) << err;
  google::protobuf::ListValue all = JsonList(out);
  ASSERT_EQ(all.values_size(), 2) << out;
  EXPECT_EQ(all.values(0).struct_value().fields().at("sweep_id").number_value(), second);
  EXPECT_EQ(all.values(1).struct_value().fields().at("state").string_value(), "cancelled");
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "list", "--state", "cancelled", "--json"}, &out, &err),
            0)
      << err;
  google::protobuf::ListValue cancelled = JsonList(out);
  ASSERT_EQ(cancelled.values_size(), 1) << out;
  EXPECT_EQ(cancelled.values(0).struct_value().fields().at("sweep_id").number_value(),
            std::stoll(sid));
  // What list shows of a sweep is what status shows (one query lists them all).
  const auto& listed = cancelled.values(0).struct_value().fields();
  EXPECT_GE(listed.size(), 12u) << out;
  for (const auto& [key, value] : listed) {
    ASSERT_EQ(status.fields().count(key), 1u) << key;
    EXPECT_EQ(status.fields().at(key).DebugString(), value.DebugString()) << key;
  }
  ASSERT_EQ(Sweepctl({"--coordinator", addr, "list", "--top", "1"}, &out, &err), 0) << err;
  EXPECT_NE(out.find(" " + std::to_string(second) + "  running"), std::string::npos) << out;
  EXPECT_EQ(out.find("cancelled"), std::string::npos) << out;
  EXPECT_NE(Sweepctl({"--coordinator", addr, "list", "--state", "bogus"}, &out, &err), 0);
  EXPECT_NE(err.find("state must be running, done or cancelled"), std::string::npos) << err;
}

}  // namespace
}  // namespace sweepfarm::testing

// The nightly loop end to end: real PostgreSQL, coordinator, workers, sweepctl and
// sweepfarm-predict over loopback. Two nights (the second seeded from the first), promotion, a
// rejected challenger, manual promotion and rollback, corrupt artifacts refused on load while
// the champion keeps serving, and retention (prune) that keeps every registered version.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "common/json.h"
#include "coordinator/selection/report.h"
#include "coordinator/sweep/sweep_yaml.h"
#include "coordinator/sweep/tpe.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "sweepfarm/v1/predict.grpc.pb.h"
#include "sweepfarm/v1/registry.grpc.pb.h"
#include "tests/support/browser.h"
#include "tests/support/farm_test.h"

namespace sweepfarm::testing {
namespace {

// A small nightly sweep: 8 short trainings of the 1-D CNN on simulated telemetry.
std::string NightlyYaml(double margin, uint64_t search_seed, bool seeded = true) {
  return R"(version: 1
name: nightly-test
model: detector
dataset:
  name: telemetry
  params: {seed: 3, lab_samples: 1200, escalation_samples: 600}
architecture:
  name: cnn1d
  channels: [8, 16]
search:
  method: random
  budget: 8
  seed: )" +
         std::to_string(search_seed) +
         R"(
  space:
    epochs: {min: 2, max: 3}
    step_size: {min: 0.003, max: 0.02}
    issue_rate: {min: 0.4, max: 0.6}
    seed: {min: 1, max: 100000}
selection:
  ensemble_size: 6
  candidates: 8
  top_k: 3
  promotion_margin: )" +
         std::to_string(margin) + "\n" +
         (seeded ? "seed_from:\n  model: detector\n  top: 2\n" : "");
}

class RegistryTest : public FarmTest {
 protected:
  void SetUp() override {
    FarmTest::SetUp();
    farm_->SetSecurity({"--dashboard"}, {});  // Its HTML pages, beside the metrics.
    addr_ = farm_->StartCoordinator();
    ASSERT_FALSE(addr_.empty()) << "coordinator did not start; see " << farm_->dir();
    farm_->StartWorker(addr_, "worker1", {"--capacity", "4", "--upload-top", "4"});
    farm_->StartWorker(addr_, "worker2", {"--capacity", "4", "--upload-top", "4"});
  }
  int Ctl(std::vector<std::string> args, std::string* out, std::string* err) {
    args.insert(args.begin(), {"--coordinator", addr_});
    return farm_->Sweepctl(args, out, err);
  }
  int Predict(std::vector<std::string> args, std::string* out, std::string* err) {
    args.insert(args.begin(), {"--coordinator", addr_, "--model", "detector"});
    return farm_->Predict(args, out, err);
  }
  int64_t Champion() {
    return farm_->Count(
        "SELECT coalesce((SELECT version FROM model_aliases WHERE model = "
        "'detector' AND alias = 'champion'), 0)");
  }
  // The sweepctl arguments of the retention jobs in deploy/, pointed at this farm.
  std::vector<std::vector<std::string>> RetentionCommands() {
    std::vector<std::vector<std::string>> out;
    const std::string dir = std::string(SWEEPFARM_SOURCE_DIR) + "/deploy/";
    YAML::Node job = YAML::LoadFile(dir + "k8s/retention-cronjob.yaml");
    auto argv = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
                    .as<std::vector<std::string>>();
    std::ifstream unit(dir + "systemd/sweepfarm-nightly.service");
    for (std::string line; std::getline(unit, line);) {
      if (line.rfind("ExecStartPost=", 0) != 0) continue;
      std::istringstream words(line.substr(line.find('=') + 1));
      std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
      out.push_back(w);
    }
    out.push_back(argv);
    EXPECT_EQ(out.size(), 2u) << "a retention command is missing from deploy/";
    for (auto& args : out) {
      EXPECT_NE(args[0].find("sweepctl"), std::string::npos) << args[0];
      args.erase(args.begin());
      // The manifests' transport security (TLS and the token; the systemd unit's from an
      // environment file) is dropped: this farm is plain (TlsAndTokenGuardEveryRpc covers it).
      std::vector<std::string> kept;
      bool secured = false;
      for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--tls-ca" || args[i] == "--auth-token-file") {
          secured = true;
          ++i;  // And its value.
        } else if (args[i] == "$SWEEPFARM_CLIENT_SECURITY") {
          secured = true;
        } else {
          kept.push_back(args[i]);
          if (args[i] == "--coordinator" && i + 1 < args.size()) {
            kept.push_back(addr_);
            ++i;
          }
        }
      }
      EXPECT_TRUE(secured) << "a retention command lost its transport security flags";
      args = kept;
    }
    return out;
  }
  std::string addr_;
};

TEST_F(RegistryTest, TwoNightsPromoteThenRejectThenPromoteByHandAndRollBack) {
  std::string out, err;
  // Night 1: no champion yet, so the sweep searches afresh and its ensemble is promoted.
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("n1.yaml", NightlyYaml(0.0, 1)), "--timeout", "300"},
                &out, &err),
            0)
      << err;
  EXPECT_NE(out.find("detector v1 PROMOTED to champion"), std::string::npos) << out;
  EXPECT_NE(out.find("not seeded"), std::string::npos) << out;
  EXPECT_EQ(Champion(), 1);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_members WHERE model = 'detector' AND "
                         "version = 1"),
            farm_->Count("SELECT count(*) FROM model_members m JOIN trials t ON t.id = m.trial_id "
                         "WHERE t.sweep_id = 1"));
  EXPECT_GE(farm_->Count("SELECT count(*) FROM model_members WHERE version = 1"), 1);
  // The version is compared with the sweep's best trial by selection accuracy, uploaded or not.
  EXPECT_EQ(farm_->Count("SELECT best_single_trial_id FROM model_versions WHERE version = 1"),
            farm_->Count("SELECT r.trial_id FROM results r JOIN trials t ON t.id = r.trial_id "
                         "WHERE t.sweep_id = 1 ORDER BY r.selection_accuracy DESC, r.trial_id "
                         "LIMIT 1"));
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_versions v JOIN results r ON "
                         "r.trial_id = v.best_single_trial_id WHERE "
                         "r.holdout_accuracy = v.best_single_holdout_accuracy"),
            1);

  // Night 2 as a dry run first: the seeded plan, and nothing written.
  const std::string n2 = farm_->WriteFile("n2.yaml", NightlyYaml(0.9, 2));
  const int64_t trials_before = farm_->Count("SELECT count(*) FROM trials");
  ASSERT_EQ(Ctl({"nightly", n2, "--dry-run", "--json"}, &out, &err), 0) << err;
  JsonValue plan;
  std::string json_error;
  ASSERT_TRUE(JsonValue::Parse(out, &plan, &json_error)) << json_error << "\n" << out;
  EXPECT_EQ(plan.Find("seeded_from")->string(), "detector v1");
  EXPECT_EQ(plan.Find("parent_sweep_id")->number(), 1);
  ASSERT_EQ(plan.Find("plan")->array().size(), 8u);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM sweeps"), 1);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM trials"), trials_before);
  ASSERT_EQ(Ctl({"submit", n2, "--dry-run"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("valid; nothing was submitted"), std::string::npos) << out;
  EXPECT_NE(out.find("seeded from detector v1 (sweep 1)"), std::string::npos) << out;
  EXPECT_NE(out.find("seed <"), std::string::npos) << out;

  // Night 2: seeded from v1; its margin cannot be met, so it is kept as a rejected challenger.
  ASSERT_EQ(Ctl({"nightly", n2, "--json"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"promoted\":false"), std::string::npos) << out;
  // It queued exactly the dry run's plan, in order.
  auto stored = farm_->Query(
      "SELECT origin, coalesce(parent_trial_id, 0), (params->>'epochs')::int, "
      "(params->>'step_size')::float8, (params->>'seed')::bigint FROM trials WHERE sweep_id = 2 "
      "ORDER BY id");
  ASSERT_EQ(stored.size(), 8u);
  for (size_t i = 0; i < stored.size(); ++i) {
    const JsonValue& p = plan.Find("plan")->array()[i];
    EXPECT_EQ(p.Find("origin")->string(), stored[i][0].as<std::string>()) << i;
    EXPECT_EQ(p.Find("parent_trial_id")->number(), stored[i][1].as<int64_t>()) << i;
    EXPECT_EQ(p.Find("params")->Find("epochs")->number(), stored[i][2].as<int>()) << i;
    EXPECT_EQ(p.Find("params")->Find("step_size")->number(), stored[i][3].as<double>()) << i;
    EXPECT_EQ(p.Find("params")->Find("seed")->number(), stored[i][4].as<int64_t>()) << i;
  }
  JsonValue summary;
  ASSERT_TRUE(JsonValue::Parse(out, &summary, &json_error)) << json_error << "\n" << out;
  ASSERT_NE(summary.Find("publish"), nullptr);
  EXPECT_EQ(summary.Find("publish")->Find("version")->Find("version")->number(), 2);
  EXPECT_EQ(summary.Find("trials")->number(), 8);
  EXPECT_NE(out.find("\"seeded_from\":\"detector v1\""), std::string::npos) << out;
  EXPECT_EQ(Champion(), 1);
  auto v2 = farm_->Query(
      "SELECT decision, reason, compared_version, champion_holdout_accuracy, sweep_id "
      "FROM model_versions WHERE model = 'detector' AND version = 2");
  ASSERT_EQ(v2.size(), 1u);
  EXPECT_EQ(v2[0][0].as<std::string>(), "rejected");
  EXPECT_NE(v2[0][1].as<std::string>().find("does not beat champion v1"), std::string::npos)
      << v2[0][1].as<std::string>();
  EXPECT_EQ(v2[0][2].as<int>(), 1);
  EXPECT_GT(v2[0][3].as<double>(), 0.5);  // The champion was evaluated on night 2's holdout.
  // Lineage: sweep 2 came from sweep 1; its first trials re-run v1's members and best trials.
  EXPECT_EQ(farm_->Count("SELECT parent_sweep_id FROM sweeps WHERE id = 2"), 1);
  const int64_t seeds = farm_->Count(
      "SELECT count(*) FROM trials WHERE sweep_id = 2 AND "
      "origin = 'seed'");
  EXPECT_GE(seeds, 1);
  EXPECT_LE(seeds, 2 + farm_->Count("SELECT count(*) FROM model_members WHERE version = 1"));
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM trials WHERE sweep_id = 2 AND origin = 'neighbour'"),
            8 - seeds);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM trials c JOIN trials p ON p.id = c.parent_trial_id "
                         "WHERE c.sweep_id = 2 AND p.sweep_id = 1"),
            8);
  // Every v1 member's parameters were tried again, in the first trials of sweep 2.
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_members m JOIN trials p ON p.id = m.trial_id "
                         "WHERE m.version = 1 AND NOT EXISTS (SELECT 1 FROM trials c WHERE "
                         "c.sweep_id = 2 AND c.origin = 'seed' AND c.params = p.params)"),
            0);
  ASSERT_EQ(Ctl({"status", "2"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("seeded from detector v1 (sweep 1)"), std::string::npos) << out;
  ASSERT_EQ(Ctl({"leaderboard", "2"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("seed <"), std::string::npos) << out;
  // Each row's learning curve as a sparkline: its lowest epoch is the lowest block.
  EXPECT_NE(out.find(" curve "), std::string::npos) << out;
  EXPECT_NE(out.find("\u2581"), std::string::npos) << out;

  // Publishing a sweep again writes nothing new.
  ASSERT_EQ(Ctl({"registry", "publish", "2"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("(published before)"), std::string::npos) << out;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_versions"), 2);
  // Nor does publishing one sweep twice at once: one version, both answers name it.
  ASSERT_EQ(Ctl({"submit", farm_->WriteFile("n3.yaml", NightlyYaml(0.9, 3))}, &out, &err), 0);
  ASSERT_EQ(Ctl({"watch", "3"}, &out, &err), 0) << err;
  Process a = farm_->StartSweepctl({"--coordinator", addr_, "registry", "publish", "3"}, "pub-a");
  Process b = farm_->StartSweepctl({"--coordinator", addr_, "registry", "publish", "3"}, "pub-b");
  EXPECT_EQ(a.Wait(120), 0) << farm_->ReadLog("pub-a");
  EXPECT_EQ(b.Wait(120), 0) << farm_->ReadLog("pub-b");
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_versions WHERE sweep_id = 3"), 1);
  EXPECT_NE(farm_->ReadLog("pub-a").find("detector v3 "), std::string::npos);
  EXPECT_NE(farm_->ReadLog("pub-b").find("detector v3 "), std::string::npos);
  EXPECT_EQ(Champion(), 1);  // v3 could not meet its margin either.

  // Promote the challenger by hand, then roll back: both audited.
  ASSERT_EQ(Ctl({"registry", "promote", "detector", "2", "--reason", "test"}, &out, &err), 0)
      << err;
  EXPECT_EQ(Champion(), 2);
  ASSERT_EQ(Ctl({"registry", "rollback", "detector"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("v2 -> v1"), std::string::npos) << out;
  EXPECT_EQ(Champion(), 1);
  auto audit = farm_->Query(
      "SELECT action, coalesce(from_version, 0), to_version FROM registry_audit ORDER BY id");
  ASSERT_EQ(audit.size(), 5u);
  const char* actions[] = {"promote", "reject", "reject", "set_alias", "rollback"};
  const int from[] = {0, 1, 1, 1, 2}, to[] = {1, 2, 3, 2, 1};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(audit[i][0].as<std::string>(), actions[i]);
    EXPECT_EQ(audit[i][1].as<int>(), from[i]);
    EXPECT_EQ(audit[i][2].as<int>(), to[i]);
  }
  ASSERT_EQ(Ctl({"registry", "list", "detector"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("rollback"), std::string::npos) << out;
  ASSERT_EQ(Ctl({"registry", "show", "detector", "--json"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"version\":1"), std::string::npos) << out;
  EXPECT_NE(out.find("\"sha256\":\""), std::string::npos) << out;

  // Two versions side by side: v2 was gated against v1 (and rejected).
  ASSERT_EQ(Ctl({"registry", "diff", "detector", "1", "v2", "--json"}, &out, &err), 0) << err;
  JsonValue diff;
  std::string diff_error;
  ASSERT_TRUE(JsonValue::Parse(out, &diff, &diff_error)) << diff_error << ": " << out;
  EXPECT_EQ(diff.Find("from")->Find("version")->number(), 1);
  EXPECT_EQ(diff.Find("to")->Find("decision")->string(), "rejected");
  EXPECT_TRUE(diff.Find("same_dataset")->boolean());
  const JsonValue& first_metric = diff.Find("metrics")->array().at(0);
  EXPECT_EQ(first_metric.Find("name")->string(), "holdout_accuracy");
  const auto holdout_of = [&](int version) {
    return farm_
        ->Query("SELECT holdout_accuracy FROM model_versions WHERE version = " +
                std::to_string(version))[0][0]
        .as<double>();
  };
  EXPECT_NEAR(first_metric.Find("change")->number(), holdout_of(2) - holdout_of(1), 1e-12);
  const JsonValue* members = diff.Find("members");
  const auto size = [&](const char* key) {
    return static_cast<int64_t>(members->Find(key)->array().size());
  };
  EXPECT_EQ(size("kept") + size("added"),
            farm_->Count("SELECT count(*) FROM model_members WHERE version = 2"));
  EXPECT_EQ(size("kept") + size("removed"),
            farm_->Count("SELECT count(*) FROM model_members WHERE version = 1"));
  EXPECT_TRUE(diff.Find("gate")->Find("compared")->boolean());
  EXPECT_NEAR(
      diff.Find("gate")->Find("from_score")->number(),
      farm_->Query("SELECT champion_holdout_score FROM model_versions WHERE version = 2")[0][0]
          .as<double>(),
      1e-12);
  ASSERT_EQ(Ctl({"registry", "diff", "detector", "champion", "2"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("detector v1 (sweep 1, promoted) -> v2 (sweep 2, rejected)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("at v2's gate, on its holdout, by selection_accuracy: v1 "), std::string::npos)
      << out;
  EXPECT_EQ(Ctl({"registry", "diff", "detector", "1", "9"}, &out, &err), 1);
  EXPECT_NE(err.find("9"), std::string::npos) << err;
  EXPECT_EQ(Ctl({"registry", "diff", "detector", "1"}, &out, &err), 2);
  EXPECT_NE(err.find("registry diff needs MODEL FROM TO"), std::string::npos) << err;
  EXPECT_EQ(Ctl({"registry", "diff", "detector", "0", "1"}, &out, &err), 2);

  // The dashboard shows the same: the sweeps with their best trial, the champion, a sweep's
  // history (one dot per finished trial) and leaderboard, the versions and the audit trail.
  const std::string web = farm_->MetricsAddress();
  auto get = [&](const std::string& path) {
    return HttpExchange(web, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  };
  const std::string home = get("/");
  EXPECT_EQ(home.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << home;
  EXPECT_NE(home.find("\r\nContent-Type: text/html"), std::string::npos) << home;
  char best[32];
  std::snprintf(best, sizeof(best), "%.4f",
                farm_
                    ->Query("SELECT max(r.selection_accuracy) FROM results r JOIN trials t ON "
                            "t.id = r.trial_id WHERE t.sweep_id = 2")[0][0]
                    .as<double>());
  for (const std::string& piece :
       {std::string("<a href=\"/sweeps/2\">2</a>"), std::string("<td class=\"n\">") + best,
        std::string("<a href=\"/models/detector\">detector</a></td><td>v1</td>"),
        std::string("<td>alive</td>")}) {
    EXPECT_NE(home.find(piece), std::string::npos) << piece << "\n" << home;
  }
  auto occurrences = [](const std::string& text, const std::string& piece) {
    int64_t n = 0;
    for (size_t at = text.find(piece); at != std::string::npos; at = text.find(piece, at + 1)) ++n;
    return n;
  };
  const std::string sweep = get("/sweeps/2");
  EXPECT_EQ(occurrences(sweep, "<circle class=\"trial\""),
            farm_->Count("SELECT count(*) FROM trials WHERE sweep_id = 2 AND state = 'succeeded'"));
  EXPECT_NE(sweep.find("seeded from detector v1 (sweep <a href=\"/sweeps/1\">1</a>)"),
            std::string::npos)
      << sweep;
  const std::string best_trial = std::to_string(
      farm_->Count("SELECT r.trial_id FROM results r JOIN trials t ON t.id = r.trial_id "
                   "WHERE t.sweep_id = 2 ORDER BY r.selection_accuracy DESC, r.trial_id LIMIT 1"));
  EXPECT_NE(sweep.find("<td class=\"n\">1</td><td class=\"n\"><a href=\"/sweeps/2/trials/" +
                       best_trial + "\">" + best_trial + "</a></td>"),
            std::string::npos)
      << sweep;  // Rank 1 is the best trial.
  // Its page, the sweep's CSV (a row per trial) and the versions the first sweep produced.
  const std::string trial = get("/sweeps/2/trials/" + best_trial);
  EXPECT_EQ(trial.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << trial;
  EXPECT_NE(trial.find("<h2>Trial " + best_trial + " of sweep"), std::string::npos) << trial;
  EXPECT_NE(trial.find("<polyline class=\"curve\""), std::string::npos) << trial;
  // Its confusion matrices, as the worker counted them (the telemetry: 2 x 2 each), and stored.
  EXPECT_EQ(occurrences(trial, "<table class=\"confusion\">"), 2) << trial;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM results WHERE cardinality(selection_confusion) = 4 "
                         "AND cardinality(holdout_confusion) = 4"),
            farm_->Count("SELECT count(*) FROM results"));
  const std::string csv = get("/sweeps/2/trials.csv");
  EXPECT_NE(csv.find("\r\nContent-Type: text/csv"), std::string::npos) << csv;
  const std::string body = csv.substr(csv.find("\r\n\r\n") + 4);
  EXPECT_EQ(occurrences(body, "\r\n"),
            1 + farm_->Count("SELECT count(*) FROM trials WHERE sweep_id = 2"))
      << body;
  EXPECT_NE(get("/sweeps/1").find("Registered as <a href=\"/models/detector\">detector v1</a>"),
            std::string::npos);
  // The same pages in a browser: Chromium loads each without a script error or a failed load,
  // and every plot on them draws something.
  for (const std::string& path :
       {std::string("/"), std::string("/sweeps/1"), std::string("/sweeps/2"),
        "/sweeps/2/trials/" + best_trial, std::string("/models/detector")}) {
    const BrowserPage page = LoadInChromium("http://" + web + path, farm_->dir());
    EXPECT_TRUE(page.loaded) << path << ": " << page.problems;
    EXPECT_EQ(page.problems, "") << path;
    EXPECT_EQ(page.empty_plots, "") << path;
    if (path != "/") {
      EXPECT_NE(page.dom.find("<svg"), std::string::npos) << path << ": no plot";
    }
  }
  // And the check sees what it looks for: a page with a script error and an empty plot.
  const BrowserPage broken = LoadInChromium(
      "data:text/html,<!DOCTYPE html><html><body><svg width=9 height=9><line x1=0 x2=9 y1=0 "
      "y2=9 stroke=red></line></svg><script>missing_function()</script></body></html>",
      farm_->dir());
  EXPECT_TRUE(broken.loaded) << broken.problems;
  EXPECT_NE(broken.problems.find("missing_function"), std::string::npos) << broken.problems;
  EXPECT_EQ(broken.empty_plots, "plot 1 ");
  EXPECT_EQ(get("/sweeps/2/trials/x").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(get("/sweeps/1/trials/" + best_trial).rfind("HTTP/1.1 404", 0), 0u);  // Sweep 2's.
  EXPECT_EQ(get("/sweeps/2/elsewhere").rfind("HTTP/1.1 404", 0), 0u);
  const std::string model = get("/models/detector");
  EXPECT_NE(model.find("<b>champion</b> &rarr; v1"), std::string::npos) << model;
  EXPECT_EQ(occurrences(model, "<circle class=\"version\""),
            farm_->Count("SELECT count(*) FROM model_versions"));
  EXPECT_NE(model.find("<td>rollback</td>"), std::string::npos) << model;
  EXPECT_NE(model.find("<td>test</td>"), std::string::npos) << model;  // The promotion's reason.
  EXPECT_EQ(get("/sweeps/x1").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(get("/sweeps/99").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_NE(get("/sweeps/99").find("sweep 99 does not exist"), std::string::npos);
  EXPECT_EQ(get("/models/a%3Cb").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(get("/elsewhere").rfind("HTTP/1.1 404", 0), 0u);
  const std::string metrics = get("/metrics");
  EXPECT_EQ(metrics.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << metrics;
  EXPECT_NE(metrics.find("\r\nContent-Type: text/plain"), std::string::npos) << metrics;

  // Versions are immutable.
  try {
    farm_->Exec("UPDATE model_versions SET holdout_accuracy = 1");
    ADD_FAILURE() << "a version was changed";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("immutable"), std::string::npos) << e.what();
  }
  EXPECT_THROW(farm_->Exec("DELETE FROM model_members"), std::exception);
  EXPECT_EQ(farm_->Exec("UPDATE model_aliases SET updated_at = now()").affected_rows(), 1u);

  // Bad requests name the argument and change nothing.
  EXPECT_EQ(Ctl({"registry", "promote", "detector", "9"}, &out, &err), 1);
  EXPECT_NE(err.find("no version 9"), std::string::npos) << err;
  EXPECT_EQ(Ctl({"registry", "promote", "no such model", "1"}, &out, &err), 2);
  EXPECT_NE(err.find("model"), std::string::npos) << err;
  EXPECT_EQ(Ctl({"registry", "publish", "99"}, &out, &err), 1);
  EXPECT_EQ(
      Ctl({"registry", "promote", "detector", "2", "--reason", std::string(1001, 'r')}, &out, &err),
      2);
  EXPECT_NE(err.find("SetAlias: reason is longer than 1,000 bytes"), std::string::npos) << err;
  {
    // The audit trail's actor is bounded as the sweeps' is.
    auto registry = v1::RegistryService::NewStub(
        grpc::CreateChannel(addr_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    v1::RollbackRequest req;
    req.set_model("detector");
    req.set_actor(std::string(201, 'a'));
    v1::RollbackResponse resp;
    const grpc::Status st = registry->Rollback(&ctx, req, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(st.error_message(), "Rollback: actor is longer than 200 bytes");
  }
  EXPECT_EQ(Champion(), 1);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM registry_audit"), 5);

  // The predictor answers from the registry, with the champion's accuracy on its holdout.
  ASSERT_EQ(Predict({"--split", "holdout", "--quiet"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"version\":1"), std::string::npos) << out;
  const double holdout = farm_
                             ->Query(
                                 "SELECT holdout_accuracy FROM model_versions WHERE "
                                 "version = 1")[0][0]
                             .as<double>();
  const size_t at = out.find("\"accuracy\":");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_NEAR(std::strtod(out.c_str() + at + 11, nullptr), holdout, 1e-9) << out;

  // The champion's holdout report, as registered, against one computed here from what the
  // predictor says of each holdout sample: the same confusion matrix and ROC AUC.
  ASSERT_EQ(Predict({"--split", "holdout", "--json"}, &out, &err), 0) << err;
  int64_t confusion[2][2] = {{0, 0}, {0, 0}};
  std::vector<double> issue_scores, healthy_scores;
  double predicted_balanced = -1;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    JsonValue sample;
    std::string error;
    ASSERT_TRUE(JsonValue::Parse(line, &sample, &error)) << error << ": " << line;
    if (sample.Find("sample") == nullptr) {  // The summary line.
      ASSERT_NE(sample.Find("balanced_accuracy"), nullptr) << line;
      predicted_balanced = sample.Find("balanced_accuracy")->number();
      continue;
    }
    const int truth = static_cast<int>(sample.Find("true_label")->number());
    ++confusion[truth][static_cast<int>(sample.Find("label")->number())];
    (truth == 1 ? issue_scores : healthy_scores)
        .push_back(sample.Find("issue_probability")->number());
  }
  double ordered = 0;
  for (double i : issue_scores) {
    for (double h : healthy_scores) ordered += i > h ? 1 : i == h ? 0.5 : 0;
  }
  const double auc = ordered / static_cast<double>(issue_scores.size() * healthy_scores.size());
  ASSERT_EQ(Ctl({"registry", "show", "detector", "--version", "1", "--json"}, &out, &err), 0)
      << err;
  JsonValue shown;
  std::string error;
  ASSERT_TRUE(JsonValue::Parse(out, &shown, &error)) << error << ": " << out;
  const JsonValue* report = shown.Find("holdout_report");
  ASSERT_NE(report, nullptr) << out;
  EXPECT_EQ(report->Find("samples")->number(), shown.Find("holdout_samples")->number());
  EXPECT_DOUBLE_EQ(report->Find("accuracy")->number(), holdout);
  const auto& matrix = report->Find("confusion")->array();
  ASSERT_EQ(matrix.size(), 2u);
  for (int t = 0; t < 2; ++t) {
    for (int p = 0; p < 2; ++p) {
      EXPECT_EQ(matrix[t].array()[p].number(), confusion[t][p]) << "true " << t << " as " << p;
    }
  }
  const double recall_healthy =
      static_cast<double>(confusion[0][0]) / static_cast<double>(confusion[0][0] + confusion[0][1]);
  EXPECT_NEAR(report->Find("per_class")->array()[0].Find("recall")->number(), recall_healthy,
              1e-12);
  EXPECT_NEAR(report->Find("roc_auc")->number(), auc, 1e-9);
  EXPECT_NEAR(report->Find("balanced_accuracy")->number(), predicted_balanced, 1e-12);
  EXPECT_GT(auc, 0.5) << "the champion ranks faults above healthy components";
  ASSERT_EQ(Ctl({"registry", "show", "detector", "--version", "1"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("  holdout report (" +
                     std::to_string(static_cast<int64_t>(report->Find("samples")->number())) +
                     " samples): accuracy "),
            std::string::npos)
      << out;
  // Every ensemble that `ensemble` builds carries one too.
  ASSERT_EQ(Ctl({"ensemble", "1", "--json"}, &out, &err), 0) << err;
  JsonValue ensembles;
  ASSERT_TRUE(JsonValue::Parse(out, &ensembles, &error)) << error << ": " << out;
  for (const char* method : {"greedy", "top_k", "best_single"}) {
    const JsonValue* e = ensembles.Find(method);
    ASSERT_NE(e, nullptr) << out;
    ASSERT_NE(e->Find("holdout_report"), nullptr) << method << ": " << out;
    EXPECT_DOUBLE_EQ(e->Find("holdout_report")->Find("accuracy")->number(),
                     e->Find("holdout_accuracy")->number())
        << method;
    EXPECT_NE(e->Find("holdout_report")->Find("roc_auc"), nullptr) << method;
  }
}

// objective.metric: selection_balanced_accuracy ranks the trials, chooses the ensemble and gates
// the version by balanced accuracy (the mean per-class recall) instead of accuracy: on telemetry
// escalation data, mostly faulty components, the two differ.
TEST_F(RegistryTest, BalancedAccuracyObjectiveRanksChoosesAndGates) {
  std::string out, err;
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("n1.yaml", NightlyYaml(0.0, 1))}, &out, &err), 0)
      << err;
  // By TPE, so that its second round is proposed from the first's balanced accuracies.
  std::string yaml =
      NightlyYaml(0.0, 5, false) + "objective:\n  metric: selection_balanced_accuracy\n";
  yaml.replace(yaml.find("  method: random\n"), 17, "  method: tpe\n  round_size: 4\n");
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("n2.yaml", yaml)}, &out, &err), 0) << err;
  const std::string results = "FROM results r JOIN trials t ON t.id = r.trial_id WHERE t.sweep_id";
  EXPECT_EQ(farm_->Count("SELECT count(*) " + results + " = 2"), 8);
  EXPECT_EQ(farm_->Count("SELECT count(*) " + results +
                         " = 2 AND r.selection_score = r.selection_balanced_accuracy "
                         "AND r.selection_balanced_accuracy BETWEEN 0 AND 1"),
            8);
  EXPECT_GT(farm_->Count("SELECT count(*) " + results +
                         " = 2 AND r.selection_balanced_accuracy < r.selection_accuracy"),
            0)
      << "the healthy class is recalled worse than the faulty one";
  EXPECT_EQ(farm_->Count("SELECT count(*) " + results +
                         " = 1 AND r.selection_score = "
                         "r.selection_accuracy"),
            8);
  EXPECT_EQ(farm_->Count("SELECT count(*) " + results + " = 2 AND t.rung = 1"), 4)
      << "the second round";

  // The best trial and the leaderboard follow balanced accuracy.
  const int64_t best = farm_->Count("SELECT r.trial_id " + results +
                                    " = 2 ORDER BY r.selection_balanced_accuracy DESC, r.trial_id "
                                    "LIMIT 1");
  ASSERT_EQ(Ctl({"status", "2", "--json"}, &out, &err), 0) << err;
  JsonValue status;
  std::string error;
  ASSERT_TRUE(JsonValue::Parse(out, &status, &error)) << error << ": " << out;
  EXPECT_EQ(status.Find("objective")->string(), "selection_balanced_accuracy");
  EXPECT_EQ(status.Find("best_trial_id")->number(), best);
  ASSERT_EQ(Ctl({"leaderboard", "2", "--json"}, &out, &err), 0) << err;
  JsonValue board;
  ASSERT_TRUE(JsonValue::Parse(out, &board, &error)) << error << ": " << out;
  ASSERT_EQ(board.array().size(), 8u);
  EXPECT_EQ(board.array()[0].Find("trial_id")->number(), best);
  for (size_t i = 0; i < board.array().size(); ++i) {
    const JsonValue& row = board.array()[i];
    EXPECT_EQ(row.Find("selection_score")->number(),
              row.Find("selection_balanced_accuracy")->number());
    if (i > 0) {
      EXPECT_LE(row.Find("selection_score")->number(),
                board.array()[i - 1].Find("selection_score")->number());
    }
  }

  // The version: chosen and gated by balanced accuracy, against v1's on the same holdout.
  ASSERT_EQ(Ctl({"registry", "show", "detector", "--version", "2", "--json"}, &out, &err), 0)
      << err;
  JsonValue v2;
  ASSERT_TRUE(JsonValue::Parse(out, &v2, &error)) << error << ": " << out;
  EXPECT_EQ(v2.Find("objective")->string(), "selection_balanced_accuracy");
  EXPECT_EQ(v2.Find("compared_version")->number(), 1);
  EXPECT_DOUBLE_EQ(v2.Find("holdout_score")->number(),
                   v2.Find("holdout_report")->Find("balanced_accuracy")->number());
  EXPECT_EQ(v2.Find("reason")->string().rfind("holdout balanced accuracy ", 0), 0u)
      << v2.Find("reason")->string();
  EXPECT_EQ(v2.Find("decision")->string() == "promoted",
            v2.Find("holdout_score")->number() > v2.Find("champion_holdout_score")->number())
      << out;
  // v1, chosen by accuracy, keeps that.
  ASSERT_EQ(Ctl({"registry", "show", "detector", "--version", "1", "--json"}, &out, &err), 0)
      << err;
  JsonValue v1;
  ASSERT_TRUE(JsonValue::Parse(out, &v1, &error)) << error << ": " << out;
  EXPECT_EQ(v1.Find("objective")->string(), "selection_accuracy");
  EXPECT_DOUBLE_EQ(v1.Find("holdout_score")->number(), v1.Find("holdout_accuracy")->number());
  // So are the ensembles `ensemble` builds.
  ASSERT_EQ(Ctl({"ensemble", "2", "--json"}, &out, &err), 0) << err;
  JsonValue ensembles;
  ASSERT_TRUE(JsonValue::Parse(out, &ensembles, &error)) << error << ": " << out;
  EXPECT_EQ(ensembles.Find("objective")->string(), "selection_balanced_accuracy");
  // Greedy's first step is the best candidate by it (scored from the stored float16
  // probabilities, the single trial's from the worker's float32: a sample may differ).
  EXPECT_GE(ensembles.Find("greedy")->Find("selection_score")->number() + 0.02,
            ensembles.Find("best_single")->Find("selection_score")->number());
  // Importance scores the parameters by the objective too.
  ASSERT_EQ(Ctl({"importance", "2", "--json"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"objective\":\"selection_balanced_accuracy\""), std::string::npos) << out;
}

// What sweepfarm-predict --json said: each sample's class probabilities and label (and with
// --split its true label), and the summary line with the version that answered.
struct Predictions {
  std::vector<std::vector<double>> probabilities;
  std::vector<int32_t> labels, truth;
  JsonValue summary;
  int version = 0;
  // The probabilities as one samples x classes float32 vector (as the registry computes them).
  std::vector<float> Flat() const {
    std::vector<float> out;
    for (const auto& row : probabilities) out.insert(out.end(), row.begin(), row.end());
    return out;
  }
};
Predictions ParsePredictions(const std::string& out) {
  Predictions p;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    JsonValue v;
    std::string error;
    if (!JsonValue::Parse(line, &v, &error)) {
      ADD_FAILURE() << error << ": " << line;
      continue;
    }
    if (v.Find("sample") != nullptr) {
      p.probabilities.emplace_back();
      for (const auto& x : v.Find("probabilities")->array()) {
        p.probabilities.back().push_back(x.number());
      }
      p.labels.push_back(static_cast<int32_t>(v.Find("label")->number()));
      if (const JsonValue* truth = v.Find("true_label")) {
        p.truth.push_back(static_cast<int32_t>(truth->number()));
      }
    } else if (v.Find("version") != nullptr) {
      p.version = static_cast<int>(v.Find("version")->number());
      p.summary = v;
    }
  }
  return p;
}

// selection.threshold: tuned. The version serves label 1 above a threshold that maximizes the
// objective on the selection split (checked here from the predictor's own probabilities); its
// holdout report, gate scores and served labels are of that threshold's decisions, and it
// remembers what the argmax would have scored. A later version at the argmax is gated against
// it by its own threshold, and one with a threshold set by hand is served by that. Then a service
// shadows the champion with a challenger (--shadow-alias) and counts where their labels differ.
TEST_F(RegistryTest, DecisionThresholdsAreTunedGatedServedAndShadowed) {
  std::string out, err;
  const std::string yaml = NightlyYaml(0.0, 1, false) +
                           "  threshold: tuned\n"
                           "  min_issue_recall: 0.9\n"
                           "objective:\n  metric: selection_balanced_accuracy\n";
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("n1.yaml", yaml)}, &out, &err), 0) << err;
  ASSERT_EQ(Ctl({"registry", "show", "detector", "--version", "1", "--json"}, &out, &err), 0)
      << err;
  JsonValue v1;
  std::string error;
  ASSERT_TRUE(JsonValue::Parse(out, &v1, &error)) << error << ": " << out;
  const double threshold = v1.Find("decision_threshold")->number();
  EXPECT_GT(threshold, 0.0);
  EXPECT_LT(threshold, 1.0);
  EXPECT_TRUE(v1.Find("threshold_tuned")->boolean());
  EXPECT_NE(v1.Find("reason")->string().find("tuned on the selection split"), std::string::npos)
      << v1.Find("reason")->string();
  EXPECT_NEAR(farm_->Query("SELECT decision_threshold FROM model_versions")[0][0].as<double>(),
              threshold, 1e-15);

  // On the selection split, the threshold scores as well as the best cut of the predictor's own
  // probabilities (those are computed in other batches here: they may differ in the last bits).
  ASSERT_EQ(Predict({"--split", "selection", "--json"}, &out, &err), 0) << err;
  const Predictions selection = ParsePredictions(out);
  ASSERT_GT(selection.truth.size(), 100u);
  // Among the cuts that keep at least 90% of the faulty components called faulty there.
  auto best = selection::TuneThreshold(selection.Flat(), selection.truth,
                                       selection::Metric::kBalancedAccuracy, 0.9);
  ASSERT_TRUE(best.ok()) << best.status().message();
  auto at = selection::Classify(selection.Flat(), selection.truth, 2, threshold);
  ASSERT_TRUE(at.ok()) << at.status().message();
  EXPECT_NEAR(at->balanced_accuracy, best->score, 0.005);
  EXPECT_GE(at->per_class[1].recall, 0.9 - 0.005);
  auto unconstrained = selection::TuneThreshold(selection.Flat(), selection.truth,
                                                selection::Metric::kBalancedAccuracy);
  ASSERT_TRUE(unconstrained.ok());
  EXPECT_LE(best->score, unconstrained->score);
  EXPECT_NE(v1.Find("reason")->string().find("keeping issue recall >= 0.9000"), std::string::npos)
      << v1.Find("reason")->string();

  // On the holdout, every label is the threshold's decision, and the registered report is that
  // of these labels; the argmax's balanced accuracy is kept beside it.
  ASSERT_EQ(Predict({"--split", "holdout", "--json"}, &out, &err), 0) << err;
  const Predictions holdout = ParsePredictions(out);
  ASSERT_EQ(static_cast<double>(holdout.truth.size()), v1.Find("holdout_samples")->number());
  int64_t confusion[2][2] = {{0, 0}, {0, 0}};
  for (size_t i = 0; i < holdout.labels.size(); ++i) {
    EXPECT_EQ(holdout.labels[i], holdout.probabilities[i][1] > threshold ? 1 : 0) << "sample " << i;
    ++confusion[holdout.truth[i]][holdout.labels[i]];
  }
  EXPECT_NEAR(holdout.summary.Find("decision_threshold")->number(), threshold, 1e-15);
  const JsonValue* report = v1.Find("holdout_report");
  ASSERT_NE(report, nullptr) << out;
  for (int t = 0; t < 2; ++t) {
    for (int p = 0; p < 2; ++p) {
      EXPECT_EQ(report->Find("confusion")->array()[t].array()[p].number(), confusion[t][p])
          << "true " << t << " as " << p;
    }
  }
  EXPECT_DOUBLE_EQ(v1.Find("holdout_score")->number(), report->Find("balanced_accuracy")->number());
  EXPECT_NEAR(report->Find("balanced_accuracy")->number(),
              holdout.summary.Find("balanced_accuracy")->number(), 1e-12);
  auto argmax = selection::Classify(holdout.Flat(), holdout.truth, 2);
  ASSERT_TRUE(argmax.ok());
  EXPECT_NEAR(v1.Find("argmax_holdout_score")->number(), argmax->balanced_accuracy, 1e-12);

  // sweepfarm-serve answers with the same labels and says which threshold decided them.
  const std::string token = farm_->WriteFile("token", "0123456789abcdef0123456789abcdef\n");
  farm_->StartServe(addr_, "serve", {"--model", "detector", "--auth-token-file", token});
  const std::string serve = farm_->ServeAddress("serve");
  ASSERT_FALSE(serve.empty()) << farm_->ReadLog("serve");
  ASSERT_EQ(farm_->Predict({"--server", serve, "--auth-token-file", token, "--model", "detector",
                            "--coordinator", addr_, "--split", "holdout", "--json"},
                           &out, &err),
            0)
      << err;
  const Predictions served = ParsePredictions(out);
  EXPECT_EQ(served.labels, holdout.labels);
  EXPECT_NEAR(served.summary.Find("decision_threshold")->number(), threshold, 1e-15);

  // The text forms name it.
  ASSERT_EQ(Ctl({"registry", "show", "detector", "--version", "1"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("(tuned on the selection split): label 1 above it; holdout "),
            std::string::npos)
      << out;
  ASSERT_EQ(Ctl({"registry", "list", "detector"}, &out, &err), 0) << err;
  char shown[16];
  std::snprintf(shown, sizeof(shown), "%.4f", threshold);
  EXPECT_NE(out.find(std::string(" ") + shown + "  champion"), std::string::npos) << out;

  // A second night served at the argmax is gated against v1 as v1 is served: on the same data,
  // the champion's gate score is v1's own tuned holdout score, not its argmax one.
  ASSERT_EQ(
      Ctl({"nightly",
           farm_->WriteFile("n2.yaml", NightlyYaml(0.0, 5, false) +
                                           "objective:\n  metric: selection_balanced_accuracy\n")},
          &out, &err),
      0)
      << err;
  ASSERT_EQ(Ctl({"registry", "show", "detector", "--version", "2", "--json"}, &out, &err), 0)
      << err;
  JsonValue v2;
  ASSERT_TRUE(JsonValue::Parse(out, &v2, &error)) << error << ": " << out;
  EXPECT_EQ(v2.Find("decision_threshold")->number(), 0.0);
  EXPECT_FALSE(v2.Find("threshold_tuned")->boolean());
  EXPECT_EQ(v2.Find("argmax_holdout_score"), nullptr) << out;
  EXPECT_EQ(v2.Find("compared_version")->number(), 1);
  EXPECT_DOUBLE_EQ(v2.Find("champion_holdout_score")->number(), v1.Find("holdout_score")->number());
  ASSERT_EQ(Ctl({"registry", "diff", "detector", "1", "2", "--json"}, &out, &err), 0) << err;
  JsonValue diff;
  ASSERT_TRUE(JsonValue::Parse(out, &diff, &error)) << error << ": " << out;
  bool listed = false;
  for (const auto& row : diff.Find("metrics")->array()) {
    if (row.Find("name")->string() != "decision_threshold") continue;
    listed = true;
    EXPECT_DOUBLE_EQ(row.Find("from")->number(), threshold);
    EXPECT_DOUBLE_EQ(row.Find("to")->number(), 0.5) << "the argmax, as a threshold";
  }
  EXPECT_TRUE(listed) << out;

  // A third night with a threshold set by hand: used as it is, and served by it.
  std::string fixed = NightlyYaml(0.0, 9, false) + "  threshold: 0.35\n";
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("n3.yaml", fixed)}, &out, &err), 0) << err;
  ASSERT_EQ(Ctl({"registry", "show", "detector", "--version", "3", "--json"}, &out, &err), 0)
      << err;
  JsonValue v3;
  ASSERT_TRUE(JsonValue::Parse(out, &v3, &error)) << error << ": " << out;
  EXPECT_EQ(v3.Find("decision_threshold")->number(), 0.35);
  EXPECT_FALSE(v3.Find("threshold_tuned")->boolean());
  ASSERT_NE(v3.Find("argmax_holdout_score"), nullptr) << out;
  ASSERT_EQ(Predict({"--version", "3", "--split", "holdout", "--json"}, &out, &err), 0) << err;
  const Predictions third = ParsePredictions(out);
  ASSERT_FALSE(third.labels.empty());
  int64_t flagged = 0;
  for (size_t i = 0; i < third.labels.size(); ++i) {
    EXPECT_EQ(third.labels[i], third.probabilities[i][1] > 0.35 ? 1 : 0) << "sample " << i;
    flagged += third.labels[i];
  }
  EXPECT_EQ(v3.Find("holdout_report")->Find("per_class")->array()[1].Find("predicted")->number(),
            flagged);

  // --shadow-alias: a service serving the champion scores every batch with a challenger too,
  // off the request path, and counts where the challenger would have answered otherwise: on the
  // holdout, exactly the samples whose labels differ between the two (each by its threshold).
  const int champion = static_cast<int>(Champion());
  const int challenger = champion == 3 ? 1 : 3;
  ASSERT_EQ(
      Ctl({"registry", "promote", "detector", std::to_string(challenger), "--alias", "challenger"},
          &out, &err),
      0)
      << err;
  auto labels_of = [&](int version) {
    EXPECT_EQ(
        Predict({"--version", std::to_string(version), "--split", "holdout", "--json"}, &out, &err),
        0)
        << err;
    return ParsePredictions(out).labels;
  };
  const std::vector<int32_t> served_labels = labels_of(champion),
                             shadow_labels = labels_of(challenger);
  farm_->StartServe(
      addr_, "shadowed",
      {"--model", "detector", "--shadow-alias", "challenger", "--metrics-listen", "127.0.0.1:0",
       "--metrics-address-file", farm_->dir() + "/shadowed-metrics.address"});
  const std::string shadowed = farm_->ServeAddress("shadowed");
  ASSERT_FALSE(shadowed.empty()) << farm_->ReadLog("shadowed");
  ASSERT_EQ(farm_->Predict({"--server", shadowed, "--model", "detector", "--coordinator", addr_,
                            "--split", "holdout", "--json"},
                           &out, &err),
            0)
      << err;
  EXPECT_EQ(ParsePredictions(out).labels, served_labels) << "the champion answers";
  int64_t differ = 0, flagged_by_shadow = 0;
  for (size_t i = 0; i < served_labels.size(); ++i) {
    differ += served_labels[i] != shadow_labels[i];
    flagged_by_shadow += shadow_labels[i];
  }
  const std::string metrics = farm_->ServeAddress("shadowed-metrics");
  const std::string labels = "{model=\"detector\",alias=\"champion\",shadow_alias=\"challenger\"} ";
  auto metric = [&](const std::string& text, const std::string& name) {
    const size_t at = text.find("\n" + name + labels);
    return at == std::string::npos
               ? -1.0
               : std::strtod(text.c_str() + at + 1 + name.size() + labels.size(), nullptr);
  };
  std::string text;
  for (int i = 0; i < 100; ++i) {  // Scored off the request path: polled.
    text = HttpExchange(metrics, "GET /metrics HTTP/1.0\r\n\r\n");
    if (metric(text, "sweepfarm_serve_shadow_samples_total") ==
        static_cast<double>(served_labels.size())) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(metric(text, "sweepfarm_serve_shadow_version"), challenger) << text;
  EXPECT_EQ(metric(text, "sweepfarm_serve_shadow_samples_total"),
            static_cast<double>(served_labels.size()))
      << text;
  EXPECT_EQ(metric(text, "sweepfarm_serve_shadow_disagreements_total"), differ) << text;
  EXPECT_EQ(metric(text, "sweepfarm_serve_shadow_dropped_total"), 0) << text;
  const std::string flagged_line =
      "\nsweepfarm_serve_shadow_predictions_total{model=\"detector\","
      "alias=\"champion\",shadow_alias=\"challenger\",label=\"1\"} " +
      std::to_string(flagged_by_shadow) + "\n";
  EXPECT_NE(text.find(flagged_line), std::string::npos) << text;
  EXPECT_NE(
      farm_->ReadLog("shadowed")
          .find("shadow: scoring detector v" + std::to_string(challenger) + " (alias challenger)"),
      std::string::npos)
      << farm_->ReadLog("shadowed");
}

TEST_F(RegistryTest, CorruptArtifactsAreRefusedWhileTheChampionKeepsServing) {
  std::string out, err;
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("n1.yaml", NightlyYaml(0.0, 1))}, &out, &err), 0)
      << err;
  ASSERT_EQ(Champion(), 1);
  // A second sweep finishes; then one byte of each of its uploaded artifacts (none shared with
  // the champion) is flipped in storage before it is published.
  // Not seeded: a seed trial could reproduce a champion member's weights, artifact and all.
  ASSERT_EQ(Ctl({"submit", farm_->WriteFile("n2.yaml", NightlyYaml(0.0, 5, false))}, &out, &err), 0)
      << err;
  ASSERT_EQ(Ctl({"watch", "2"}, &out, &err), 0) << err;
  const int64_t flipped = farm_
                              ->Exec(
                                  "WITH f AS (UPDATE artifacts SET content = set_byte(content, 17, "
                                  "get_byte(content, 17) # 1) "
                                  "WHERE sha256 IN (SELECT a.sha256 FROM trial_artifacts a JOIN "
                                  "trials t ON t.id = a.trial_id "
                                  "WHERE t.sweep_id = 2) AND sha256 NOT IN (SELECT sha256 FROM "
                                  "model_members) RETURNING 1) "
                                  "SELECT count(*) FROM f")[0][0]
                              .as<int64_t>();
  ASSERT_GE(flipped, 1);
  EXPECT_EQ(Ctl({"registry", "publish", "2"}, &out, &err), 1);
  EXPECT_NE(err.find("is corrupt"), std::string::npos) << err;
  EXPECT_NE(err.find("trial"), std::string::npos) << err;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_versions"), 1);  // Nothing written.
  EXPECT_EQ(Champion(), 1);
  ASSERT_EQ(Predict({"--split", "holdout", "--quiet"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"version\":1"), std::string::npos) << out;

  // Samples from a file or standard input; a bad line is named.
  ASSERT_EQ(Predict({"--split", "selection", "--limit", "3"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("2\tissue_probability="), std::string::npos) << out;
  std::string line;
  for (int i = 0; i < 64 * 16; ++i) line += (i ? " " : "") + std::to_string((i % 7) * 0.1);
  const std::string good = farm_->WriteFile("good.txt", line + "\n" + line + "\n");
  ASSERT_EQ(Predict({"--input", good, "--json"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("{\"sample\":1,\"label\":"), std::string::npos) << out;
  const std::string bad = farm_->WriteFile("bad.txt", line + "\n1 2 3\n");
  EXPECT_EQ(RunCommand({"/bin/sh", "-c",
                        std::string(SWEEPFARM_PREDICT) + " --coordinator " + addr_ +
                            " --model detector --input - < " + bad},
                       &out, &err),
            2);
  EXPECT_NE(err.find("stdin:2: expected 1024 values per sample, got 3"), std::string::npos) << err;

  // Now the champion's own artifact rots: loading it is refused with the artifact named.
  ASSERT_EQ(farm_
                ->Exec("WITH f AS (UPDATE artifacts SET content = set_byte(content, 3, "
                       "get_byte(content, 3) # 128) WHERE sha256 = (SELECT sha256 FROM "
                       "model_members WHERE version = 1 ORDER BY position LIMIT 1) RETURNING 1) "
                       "SELECT count(*) FROM f")[0][0]
                .as<int64_t>(),
            1);
  EXPECT_EQ(Predict({"--split", "holdout", "--quiet"}, &out, &err), 1);
  EXPECT_NE(err.find("is corrupt"), std::string::npos) << err;
  EXPECT_NE(err.find("detector v1, member trial"), std::string::npos) << err;
  // And an alias cannot be pointed at it.
  EXPECT_EQ(Ctl({"registry", "promote", "detector", "1", "--alias", "staging"}, &out, &err), 1);
  EXPECT_NE(err.find("is corrupt"), std::string::npos) << err;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_aliases WHERE alias = 'staging'"), 0);
}

// The prediction service follows its alias: until the alias exists it does not listen; then it
// serves that version (its health check SERVING), with the probabilities
// sweepfarm-predict computes from the registry itself, and moves within a refresh when the alias
// moves (promotion, rollback). A version that fails to load (an artifact rotted in storage) never
// replaces the one it serves. Bad samples are refused naming the sample; calls need its token.
TEST_F(RegistryTest, ServeFollowsItsAliasAndKeepsServingAGoodVersion) {
  std::string out, err;
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("n1.yaml", NightlyYaml(0.0, 1))}, &out, &err), 0)
      << err;
  // Not seeded: its members then share no artifact with v1 (see the corruption below).
  ASSERT_EQ(Ctl({"submit", farm_->WriteFile("n2.yaml", NightlyYaml(0.0, 5, false))}, &out, &err), 0)
      << err;
  ASSERT_EQ(Ctl({"watch", "2"}, &out, &err), 0) << err;
  // A dry run first: the ensemble and the gate's decision against v1, nothing registered; the
  // publish after it decides the same, with the same holdout accuracy.
  const int64_t audit_rows = farm_->Count("SELECT count(*) FROM registry_audit");
  ASSERT_EQ(Ctl({"registry", "publish", "2", "--dry-run", "--json"}, &out, &err), 0) << err;
  JsonValue dry;
  std::string dry_error;
  ASSERT_TRUE(JsonValue::Parse(out, &dry, &dry_error)) << dry_error << ": " << out;
  EXPECT_TRUE(dry.Find("dry_run")->boolean());
  EXPECT_EQ(dry.Find("version")->Find("version")->number(), 0);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_versions"), 1);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM registry_audit"), audit_rows);
  ASSERT_EQ(Ctl({"registry", "publish", "2", "--dry-run"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("detector (not registered): "), std::string::npos) << out;
  EXPECT_NE(out.find("dry run, nothing registered: would be "), std::string::npos) << out;
  ASSERT_EQ(Ctl({"registry", "publish", "2"}, &out, &err), 0) << err;
  ASSERT_EQ(farm_->Count("SELECT count(*) FROM model_versions"), 2);
  EXPECT_EQ(
      farm_->Query("SELECT decision FROM model_versions WHERE version = 2")[0][0].as<std::string>(),
      dry.Find("promoted")->boolean() ? "promoted" : "rejected");
  EXPECT_NEAR(farm_->Query("SELECT holdout_accuracy FROM model_versions WHERE version = 2")[0][0]
                  .as<double>(),
              dry.Find("version")->Find("holdout_accuracy")->number(), 1e-12);

  // No alias "staging" yet: nothing to serve, so the service does not listen yet (a port that
  // accepts is a ready one) and says why.
  const std::string token = farm_->WriteFile("token", "0123456789abcdef0123456789abcdef\n");
  Process& service = farm_->StartServe(
      addr_, "serve",
      {"--model", "detector", "--alias", "staging", "--refresh-seconds", "1", "--max-samples",
       "1000", "--auth-token-file", token, "--metrics-listen", "127.0.0.1:0",
       "--metrics-address-file", farm_->dir() + "/serve-metrics.address"});
  // (Polled: under load the service takes seconds to start.)
  const std::string why =
      "model detector has no alias staging; nothing to serve yet, not listening";
  for (int i = 0; i < 300 && farm_->ReadLog("serve").find(why) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(farm_->ReadLog("serve").find(why), std::string::npos) << farm_->ReadLog("serve");
  EXPECT_EQ(farm_->ServeAddress("serve", 1.5), "");
  // Its metrics say so from the start.
  const std::string metrics = farm_->ServeAddress("serve-metrics");
  ASSERT_FALSE(metrics.empty()) << farm_->ReadLog("serve");
  auto scrape = [&] { return HttpExchange(metrics, "GET /metrics HTTP/1.0\r\n\r\n"); };
  const std::string labels = "{model=\"detector\",alias=\"staging\"} ";
  EXPECT_NE(scrape().find("\nsweepfarm_serve_version" + labels + "0\n"), std::string::npos)
      << scrape();
  EXPECT_EQ(scrape().find("\nsweepfarm_serve_refresh_failures_total" + labels + "0\n"),
            std::string::npos)
      << scrape();
  ASSERT_EQ(Ctl({"registry", "promote", "detector", "1", "--alias", "staging"}, &out, &err), 0)
      << err;
  const std::string serve = farm_->ServeAddress("serve");
  ASSERT_FALSE(serve.empty()) << farm_->ReadLog("serve");
  std::string line;
  for (int i = 0; i < 64 * 16; ++i) line += (i ? " " : "") + std::to_string((i % 11) * 0.13 - 0.4);
  const std::string samples = farm_->WriteFile("samples.txt", line + "\n" + line + " \n" + line);
  auto remote = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", serve, "--auth-token-file", token, "--json"});
    return farm_->Predict(args, &out, &err);
  };
  // The served version, once it is `version` (polled: the service refreshes every second).
  auto served = [&](int version) {
    for (int i = 0; i < 100; ++i) {
      if (remote({"--input", samples}) == 0 && ParsePredictions(out).version == version) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ADD_FAILURE() << "the service did not serve v" << version << ": " << out << err
                  << farm_->ReadLog("serve");
    return false;
  };
  auto health = [&] {
    auto stub = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(serve, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    EXPECT_TRUE(stub->Check(&ctx, req, &resp).ok());
    return resp.status();
  };
  // The same samples, classified by sweepfarm-predict from the registry's version.
  auto matches_registry = [&](int version) {
    ASSERT_EQ(remote({"--input", samples}), 0) << err;
    Predictions got = ParsePredictions(out);
    ASSERT_EQ(
        Predict({"--version", std::to_string(version), "--input", samples, "--json"}, &out, &err),
        0)
        << err;
    Predictions want = ParsePredictions(out);
    ASSERT_EQ(got.version, version);
    ASSERT_EQ(want.probabilities.size(), 3u);
    ASSERT_EQ(got.probabilities.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      ASSERT_EQ(got.probabilities[i].size(), 2u);
      for (size_t c = 0; c < 2; ++c) {
        EXPECT_NEAR(got.probabilities[i][c], want.probabilities[i][c], 1e-6) << i << "," << c;
      }
    }
  };

  ASSERT_TRUE(served(1));
  EXPECT_EQ(health(), grpc::health::v1::HealthCheckResponse::SERVING);
  matches_registry(1);

  // Refused, each naming what is wrong: no token, a sample of the wrong size.
  EXPECT_EQ(farm_->Predict({"--server", serve, "--input", samples}, &out, &err), 1);
  EXPECT_NE(err.find("Predict: no authorization token"), std::string::npos) << err;
  EXPECT_EQ(remote({"--input", farm_->WriteFile("short.txt", "1 2 3\n")}), 2);
  EXPECT_NE(err.find("Predict: samples[0] has 3 values; the model takes 1024 ("), std::string::npos)
      << err;
  // The service checks what a client sends, whatever the client checked.
  auto call = [&](const v1::PredictRequest& req) {
    auto stub = v1::PredictionService::NewStub(
        grpc::CreateChannel(serve, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer 0123456789abcdef0123456789abcdef");
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::PredictResponse resp;
    return stub->Predict(&ctx, req, &resp);
  };
  v1::PredictRequest req;
  grpc::Status st = call(req);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "Predict: samples: none given");
  for (int s = 0; s < 2; ++s) {
    auto* values = req.add_samples()->mutable_values();
    for (int i = 0; i < 64 * 16; ++i) values->Add(0.5f);
  }
  req.mutable_samples(1)->set_values(7, std::nanf(""));
  st = call(req);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "Predict: samples[1].values[7] is not finite");
  req.mutable_samples(1)->set_values(7, 0.5f);
  req.set_model("other");
  st = call(req);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "Predict: model: this server serves detector, not other");
  req.set_model("detector");
  EXPECT_TRUE(call(req).ok());
  v1::PredictRequest many;
  for (int i = 0; i < 1001; ++i) *many.add_samples() = req.samples(0);
  st = call(many);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(),
            "Predict: samples: 1001 given, at most 1000 per call (--max-samples)");

  // Promotion and rollback reach the service without a restart.
  ASSERT_EQ(Ctl({"registry", "promote", "detector", "2", "--alias", "staging"}, &out, &err), 0)
      << err;
  ASSERT_TRUE(served(2));
  matches_registry(2);
  ASSERT_EQ(Ctl({"registry", "rollback", "detector", "--alias", "staging"}, &out, &err), 0) << err;
  ASSERT_TRUE(served(1));

  // The command in deploy/k8s/serve.yaml, pointed at this farm (its TLS dropped: the farm is
  // plain), serves the champion.
  YAML::Node manifest =
      YAML::LoadFile(std::string(SWEEPFARM_SOURCE_DIR) + "/deploy/k8s/serve.yaml");
  auto argv = manifest["spec"]["template"]["spec"]["containers"][0]["command"]
                  .as<std::vector<std::string>>();
  ASSERT_EQ(argv[0], "sweepfarm-serve");
  std::vector<std::string> k8s{SWEEPFARM_SERVE, "--address-file", farm_->dir() + "/k8s.address"};
  const std::map<std::string, std::string> here{{"--coordinator", addr_},
                                                {"--model", "detector"},
                                                {"--listen", "127.0.0.1:0"},
                                                {"--metrics-listen", "127.0.0.1:0"},
                                                {"--auth-token-file", token},
                                                {"--tls-cert", ""},
                                                {"--tls-key", ""},
                                                {"--tls-ca", ""}};
  for (size_t i = 1; i + 1 < argv.size(); i += 2) {
    // The metrics port's TLS and token (boolean flags) go with the TLS.
    while (i < argv.size() && (argv[i] == "--metrics-auth" || argv[i] == "--metrics-tls")) ++i;
    if (i + 1 >= argv.size()) break;
    auto it = here.find(argv[i]);
    if (it == here.end()) {
      k8s.insert(k8s.end(), {argv[i], argv[i + 1]});
    } else if (!it->second.empty()) {
      k8s.insert(k8s.end(), {argv[i], it->second});
    }
  }
  Process from_manifest = Process::Start(k8s, farm_->dir() + "/k8s.log");
  const std::string k8s_addr = farm_->ServeAddress("k8s");
  ASSERT_FALSE(k8s_addr.empty()) << farm_->ReadLog("k8s");
  ASSERT_EQ(farm_->Predict(
                {"--server", k8s_addr, "--auth-token-file", token, "--input", samples, "--json"},
                &out, &err),
            0)
      << err;
  EXPECT_EQ(ParsePredictions(out).version, Champion());
  // SIGHUP asks the registry at once (its refresh is every 10 s).
  const int other = 3 - static_cast<int>(Champion());
  ASSERT_EQ(Ctl({"registry", "promote", "detector", std::to_string(other)}, &out, &err), 0) << err;
  from_manifest.Signal(SIGHUP);
  bool moved = false;
  for (int i = 0; i < 30 && !moved; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    moved = farm_->ReadLog("k8s").find("serving detector v" + std::to_string(other)) !=
            std::string::npos;
  }
  EXPECT_TRUE(moved) << farm_->ReadLog("k8s");
  from_manifest.Signal(SIGTERM);
  EXPECT_EQ(from_manifest.Wait(30), 0);

  // v2's own artifacts rot in storage, and the alias is pointed at it behind the registry's back
  // (SetAlias would refuse a corrupt version): the service refuses to load it and keeps v1.
  ASSERT_GE(farm_
                ->Exec("WITH f AS (UPDATE artifacts SET content = set_byte(content, 17, "
                       "get_byte(content, 17) # 1) WHERE sha256 IN (SELECT sha256 FROM "
                       "model_members WHERE version = 2) AND sha256 NOT IN (SELECT sha256 FROM "
                       "model_members WHERE version = 1) RETURNING 1) SELECT count(*) FROM f")[0][0]
                .as<int64_t>(),
            1);
  farm_->Exec("UPDATE model_aliases SET version = 2 WHERE alias = 'staging'");
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    refused = farm_->ReadLog("serve").find("is corrupt") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(refused) << farm_->ReadLog("serve");
  EXPECT_NE(farm_->ReadLog("serve").find("detector v2, member trial"), std::string::npos);
  EXPECT_NE(farm_->ReadLog("serve").find("still serving v1"), std::string::npos);
  // The rotted version is not downloaded at every refresh (each second here): it is fetched
  // again after 2 s, then 4 s, ..., while the alias is still asked every second. SIGHUP forces a
  // retry at once.
  auto count = [&](const std::string& name) {
    const std::string text = scrape();
    const size_t at = text.find("\n" + name + labels);
    return at == std::string::npos
               ? -1.0
               : std::strtod(text.c_str() + at + 1 + name.size() + labels.size(), nullptr);
  };
  const double loads_failed = count("sweepfarm_serve_version_load_failures_total");
  const double refreshes_failed = count("sweepfarm_serve_refresh_failures_total");
  EXPECT_GE(loads_failed, 1);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_LE(count("sweepfarm_serve_version_load_failures_total"), loads_failed + 2);
  EXPECT_GE(count("sweepfarm_serve_refresh_failures_total"), refreshes_failed + 3);
  EXPECT_NE(farm_->ReadLog("serve").find("(the wait doubles, up to 5 min) or at SIGHUP"),
            std::string::npos)
      << farm_->ReadLog("serve");
  const double before_hup = count("sweepfarm_serve_version_load_failures_total");
  service.Signal(SIGHUP);
  bool retried = false;
  for (int i = 0; i < 50 && !retried; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    retried = count("sweepfarm_serve_version_load_failures_total") == before_hup + 1;
  }
  EXPECT_TRUE(retried) << scrape();
  matches_registry(1);
  EXPECT_EQ(health(), grpc::health::v1::HealthCheckResponse::SERVING);
  // The holdout split through the service scores what the registry recorded for v1.
  ASSERT_EQ(
      remote({"--coordinator", addr_, "--model", "detector", "--split", "holdout", "--quiet"}), 0)
      << err;
  JsonValue summary;
  std::string json_error;
  ASSERT_TRUE(JsonValue::Parse(out, &summary, &json_error)) << json_error << ": " << out;
  EXPECT_EQ(summary.Find("version")->number(), 1);
  EXPECT_NEAR(summary.Find("accuracy")->number(),
              farm_->Query("SELECT holdout_accuracy FROM model_versions WHERE version = 1")[0][0]
                  .as<double>(),
              1e-9)
      << out;

  // The metrics counted it all: three versions swapped in (v1, v2, v1 again), the refused calls
  // by code, the samples, the version served and the failed refreshes.
  const std::string text = scrape();
  for (const std::string& line :
       {"\nsweepfarm_serve_version" + labels + "1\n",
        "\nsweepfarm_serve_version_loads_total" + labels + "3\n",
        std::string("\nsweepfarm_rpc_total{method=\"/sweepfarm.v1.PredictionService/Predict\","
                    "code=\"INVALID_ARGUMENT\"} 5\n"),
        std::string("\nsweepfarm_rpc_total{method=\"/sweepfarm.v1.PredictionService/Predict\","
                    "code=\"UNAUTHENTICATED\"} 1\n"),
        std::string("\nsweepfarm_rpc_duration_seconds_count{method=\"/sweepfarm.v1."
                    "PredictionService/Predict\"} ")}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  EXPECT_GE(count("sweepfarm_serve_refresh_failures_total"), 2);  // No alias; the rotted v2.
  // The holdout split in one call, and at least four calls of the 3 samples.
  EXPECT_GE(count("sweepfarm_serve_samples_total"),
            3 * 4 + farm_->Count("SELECT holdout_samples FROM model_versions WHERE version = 1"));
  EXPECT_GT(count("sweepfarm_serve_last_refresh_timestamp_seconds"), 1.7e9);
  // By the label predicted: both labels served, adding up to the samples.
  double by_label = 0;
  for (const char* label : {"0", "1"}) {
    const std::string line =
        "\nsweepfarm_serve_predictions_total{model=\"detector\",alias=\"staging\","
        "label=\"" +
        std::string(label) + "\"} ";
    const size_t at = text.find(line);
    ASSERT_NE(at, std::string::npos) << line << "\n" << text;
    const double n = std::strtod(text.c_str() + at + line.size(), nullptr);
    EXPECT_GT(n, 0) << label;
    by_label += n;
  }
  EXPECT_EQ(by_label, count("sweepfarm_serve_samples_total"));
  // Input drift: 64 values per channel per sample; each channel's sum grows by exactly what one
  // more call of the 3 samples carries; the reference is the served v1's selection split.
  EXPECT_EQ(count("sweepfarm_serve_input_values_total"),
            64 * count("sweepfarm_serve_samples_total"));
  auto channel = [&](const std::string& page, const std::string& name, int c) {
    const std::string line = "\n" + name + "{model=\"detector\",alias=\"staging\",channel=\"" +
                             std::to_string(c) + "\"} ";
    const size_t at = page.find(line);
    return at == std::string::npos ? std::nan("")
                                   : std::strtod(page.c_str() + at + line.size(), nullptr);
  };
  ASSERT_EQ(remote({"--input", samples}), 0) << err;
  const std::string after = scrape();
  ASSERT_EQ(Ctl({"registry", "show", "detector", "--version", "1", "--json"}, &out, &err), 0)
      << err;
  JsonValue v1;
  ASSERT_TRUE(JsonValue::Parse(out, &v1, &json_error)) << json_error << ": " << out;
  ASSERT_NE(v1.Find("input_stats"), nullptr) << out;
  const auto& means = v1.Find("input_stats")->Find("mean")->array();
  const auto& stddevs = v1.Find("input_stats")->Find("stddev")->array();
  ASSERT_EQ(means.size(), 16u);
  ASSERT_EQ(stddevs.size(), 16u);
  for (int c = 0; c < 16; ++c) {
    double sent = 0;  // The sample's values of channel c (channels first: value c * 64 + t).
    for (int t = 0; t < 64; ++t) {
      sent += static_cast<float>(((c * 64 + t) % 11) * 0.13 - 0.4);
    }
    EXPECT_NEAR(channel(after, "sweepfarm_serve_input_sum", c) -
                    channel(text, "sweepfarm_serve_input_sum", c),
                3 * sent, 1e-4)
        << "channel " << c;
    EXPECT_DOUBLE_EQ(channel(after, "sweepfarm_serve_input_reference_mean", c), means[c].number());
    EXPECT_DOUBLE_EQ(channel(after, "sweepfarm_serve_input_reference_stddev", c),
                     stddevs[c].number());
    EXPECT_GT(stddevs[c].number(), 0) << "channel " << c;
  }
  // The alerting rules of deploy/prometheus name only metrics the service exports.
  std::string rules_error;
  int serve_metrics = 0;
  for (const std::string& name : AlertRuleMetrics(&rules_error)) {
    if (name.rfind("sweepfarm_serve_", 0) != 0) continue;
    ++serve_metrics;
    EXPECT_NE(text.find("# TYPE " + name + " "), std::string::npos) << name << "\n" << text;
  }
  EXPECT_TRUE(rules_error.empty()) << rules_error;
  EXPECT_GE(serve_metrics, 3);

  service.Signal(SIGTERM);
  EXPECT_EQ(service.Wait(30), 0) << farm_->ReadLog("serve");
}

// A seeded sweep may search by successive halving: the champion's members and best trials, and
// their neighbours, make up the first rung, with its epochs.
TEST_F(RegistryTest, SeededHalvingSweepStartsFromTheChampion) {
  std::string out, err;
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("n1.yaml", NightlyYaml(0.0, 1))}, &out, &err), 0)
      << err;
  ASSERT_EQ(Champion(), 1);
  std::string yaml = NightlyYaml(0.0, 2);
  yaml.replace(yaml.find("  method: random\n"), 17, "  method: halving\n  eta: 2\n");
  yaml.replace(yaml.find("    epochs: {min: 2, max: 3}\n"), 29, "    epochs: [1, 2, 4]\n");
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("h.yaml", yaml)}, &out, &err), 0) << err;
  EXPECT_NE(out.find("seeded from detector v1"), std::string::npos) << out;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM trials WHERE sweep_id = 2"), 8 + 4 + 2);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM trials WHERE sweep_id = 2 AND rung = 0 AND "
                         "origin IN ('seed', 'neighbour') AND (params->>'epochs')::int = 1"),
            8);
  EXPECT_GE(farm_->Count("SELECT count(*) FROM trials WHERE sweep_id = 2 AND origin = 'seed'"), 1);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM trials WHERE sweep_id = 2 AND rung = 2 AND "
                         "origin = 'promoted' AND (params->>'epochs')::int = 4"),
            2);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_versions WHERE sweep_id = 2"), 1);
}

// A seeded TPE sweep starts from the champion (seeds and neighbours make its first round) and
// models every result of the champion's sweep on the same data beside its own: its second round is
// exactly TPE's proposal from the parent sweep's 8 results and its own first 4.
TEST_F(RegistryTest, SeededTpeSweepLearnsFromItsParentSweep) {
  std::string out, err;
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("n1.yaml", NightlyYaml(0.0, 1))}, &out, &err), 0)
      << err;
  ASSERT_EQ(Champion(), 1);
  std::string yaml = NightlyYaml(0.0, 2);
  yaml.replace(yaml.find("  method: random\n"), 17, "  method: tpe\n  round_size: 4\n");
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("t.yaml", yaml)}, &out, &err), 0) << err;
  EXPECT_NE(out.find("seeded from detector v1"), std::string::npos) << out;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM trials WHERE sweep_id = 2 AND rung = 0 AND "
                         "origin IN ('seed', 'neighbour')"),
            4);
  auto parsed = sweep::ParseSweepYaml(yaml, "t.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto params = [](const pqxx::row& row) {
    v1::TrialParams p;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(row[0].c_str(), &p).ok());
    return p;
  };
  std::vector<sweep::Observation> seen;
  for (const auto& row :
       farm_->Query("SELECT t.params::text, r.selection_accuracy FROM trials t JOIN results r ON "
                    "r.trial_id = t.id WHERE t.sweep_id = 1 OR (t.sweep_id = 2 AND t.rung = 0) "
                    "ORDER BY t.id")) {
    seen.push_back({params(row), row[1].as<double>()});
  }
  ASSERT_EQ(seen.size(), 12u);
  auto expected = sweep::ProposeTpe(parsed->space, seen, 4, MixKey(2, 0));
  pqxx::result round1 =
      farm_->Query("SELECT params::text FROM trials WHERE sweep_id = 2 AND rung = 1 ORDER BY id");
  ASSERT_EQ(round1.size(), 4u);
  for (size_t i = 0; i < round1.size(); ++i) {
    EXPECT_EQ(params(round1[i]).SerializeAsString(), expected[i].SerializeAsString()) << i;
  }
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_versions WHERE sweep_id = 2"), 1);
}

// Architecture search: trials are leased (and fused) only with trials of their own channels and
// kernel size, each uploads the weights of the architecture it trained, and an ensemble whose
// members differ in architecture is published, gated and served with the accuracy the coordinator
// recorded for it.
TEST_F(RegistryTest, ArchitectureSearchFusesPerArchitectureAndServesAMixedEnsemble) {
  std::string yaml = NightlyYaml(0.0, 1, /*seeded=*/false);
  auto replace = [&](const std::string& from, const std::string& to) {
    ASSERT_NE(yaml.find(from), std::string::npos) << from;
    yaml.replace(yaml.find(from), from.size(), to);
  };
  replace("  budget: 8\n", "  budget: 12\n");
  replace("    seed: {min: 1, max: 100000}\n",
          "    seed: {min: 1, max: 100000}\n    channels: [[4, 8], [8, 16]]\n"
          "    kernel_size: [3, 5]\n");
  // The ensemble is the top 8 trials by selection accuracy, averaged: members of several
  // architectures unless one architecture drew 8 of the 12 trials (checked below).
  replace("  top_k: 3\n", "  top_k: 8\n  method: top_k\n");
  std::string out, err;
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("arch.yaml", yaml)}, &out, &err), 0) << err;
  ASSERT_EQ(Champion(), 1) << out;
  const std::string arch_key = "(params->'channels')::text || '/' || (params->'kernel_size')::text";
  EXPECT_EQ(farm_->Count("SELECT count(DISTINCT " + arch_key + ") FROM trials"), 4);
  // One lease (one worker, one start time) never mixes architectures, and some leases fused
  // several trials.
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM (SELECT 1 FROM trials GROUP BY worker_id, "
                         "started_at HAVING count(DISTINCT " +
                         arch_key + ") > 1) mixed"),
            0);
  EXPECT_GT(farm_->Count("SELECT max(n) FROM (SELECT count(*) AS n FROM trials GROUP BY "
                         "worker_id, started_at) leases"),
            1);
  // Every uploaded artifact has the architecture of the trial it belongs to.
  const int64_t uploaded = farm_->Count("SELECT count(*) FROM trial_artifacts");
  EXPECT_GE(uploaded, 8);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM trial_artifacts ta JOIN artifacts a USING (sha256) "
                         "JOIN trials t ON t.id = ta.trial_id WHERE a.arch->'architecture'->"
                         "'channels' = t.params->'channels' AND (a.arch->'architecture'->>"
                         "'kernel_size')::int = (t.params->>'kernel_size')::int"),
            uploaded);
  // The champion mixes architectures, and serves with the holdout accuracy it was gated with.
  EXPECT_GE(farm_->Count("SELECT count(DISTINCT " + arch_key +
                         ") FROM trials WHERE id IN (SELECT trial_id FROM model_members)"),
            2);
  ASSERT_EQ(Predict({"--split", "holdout", "--quiet"}, &out, &err), 0) << err;
  const double holdout =
      farm_->Query("SELECT holdout_accuracy FROM model_versions WHERE version = 1")[0][0]
          .as<double>();
  const size_t at = out.find("\"accuracy\":");
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_NEAR(std::strtod(out.c_str() + at + 11, nullptr), holdout, 1e-9) << out;
  // sweepctl shows each trial's architecture, and which of its parts mattered.
  ASSERT_EQ(Ctl({"leaderboard", "1", "--top", "1", "--json"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"channels\":["), std::string::npos) << out;
  EXPECT_NE(out.find("\"kernel_size\":"), std::string::npos) << out;
  ASSERT_EQ(Ctl({"importance", "1"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("kernel_size"), std::string::npos) << out;
  EXPECT_NE(out.find("channels[1]"), std::string::npos) << out;
}

// Retention: old sweeps lose their stored predictions and the weights no registered version
// uses; their trials and results, and every registered version, stay usable.
TEST_F(RegistryTest, PruneDeletesOldPredictionsAndUnregisteredWeightsOnly) {
  std::string out, err;
  // Sweep 1 is published (v1, champion); sweep 2 ends unpublished.
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("n1.yaml", NightlyYaml(0.0, 1))}, &out, &err), 0)
      << err;
  ASSERT_EQ(Ctl({"submit", farm_->WriteFile("n2.yaml", NightlyYaml(0.0, 5, false))}, &out, &err), 0)
      << err;
  ASSERT_EQ(Ctl({"watch", "2"}, &out, &err), 0) << err;
  // Sweep 3 stays running: the workers are stopped before it is submitted.
  for (Process& p : farm_->processes()) {
    if (p.log_path().find("/worker") != std::string::npos) p.Signal(SIGSTOP);
  }
  ASSERT_EQ(Ctl({"submit", farm_->WriteFile("n3.yaml", NightlyYaml(0.0, 6, false))}, &out, &err), 0)
      << err;
  farm_->Exec("UPDATE sweeps SET finished_at = now() - interval '40 days' WHERE id = 1");
  farm_->Exec("UPDATE sweeps SET finished_at = now() - interval '10 days' WHERE id = 2");
  auto preds = [&](int sweep) {
    return farm_->Count(
        "SELECT count(*) FROM predictions p JOIN trials t ON t.id = p.trial_id WHERE t.sweep_id "
        "= " +
        std::to_string(sweep));
  };
  auto links = [&](int sweep) {
    return farm_->Count(
        "SELECT count(*) FROM trial_artifacts a JOIN trials t ON t.id = a.trial_id "
        "WHERE t.sweep_id = " +
        std::to_string(sweep));
  };
  const int64_t preds1 = preds(1), preds2 = preds(2), links2 = links(2);
  const int64_t artifacts = farm_->Count("SELECT count(*) FROM artifacts");
  const int64_t kept1 = farm_->Count(
      "SELECT count(*) FROM trial_artifacts a JOIN trials t ON t.id = a.trial_id WHERE "
      "t.sweep_id = 1 AND a.trial_id IN (SELECT trial_id FROM model_members)");
  ASSERT_EQ(preds1, 8);
  ASSERT_GE(links(1), kept1 + 1);  // Some of sweep 1's weights are not the champion's.
  ASSERT_GE(kept1, 1);
  auto parse = [](const std::string& text) {
    JsonValue v;
    std::string error;
    EXPECT_TRUE(JsonValue::Parse(text, &v, &error)) << error << "\n" << text;
    return v;
  };

  // A dry run reports what a run would delete and deletes nothing.
  ASSERT_EQ(Ctl({"prune", "--older-than-days", "30", "--dry-run", "--json"}, &out, &err), 0) << err;
  JsonValue dry = parse(out);
  ASSERT_NE(dry.Find("sweep_ids"), nullptr) << out;
  ASSERT_EQ(dry.Find("sweep_ids")->array().size(), 1u) << out;
  EXPECT_EQ(dry.Find("sweep_ids")->array()[0].number(), 1);
  EXPECT_EQ(dry.Find("predictions_deleted")->number(), preds1);
  EXPECT_EQ(dry.Find("artifacts_kept")->number(), kept1);
  EXPECT_GE(dry.Find("artifacts_deleted")->number(), 1) << out;
  EXPECT_EQ(preds(1), preds1);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM artifacts"), artifacts);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM sweeps WHERE pruned_at IS NOT NULL"), 0);

  // The run deletes exactly that: sweep 1's predictions and its trials' weights that no version
  // uses; sweep 2 (10 days) and the running sweep 3 keep everything.
  ASSERT_EQ(Ctl({"prune", "--older-than-days", "30", "--json"}, &out, &err), 0) << err;
  JsonValue run = parse(out);
  for (const char* key : {"predictions_deleted", "prediction_bytes", "artifacts_deleted",
                          "artifact_bytes", "artifacts_kept"}) {
    ASSERT_NE(run.Find(key), nullptr) << key;
    EXPECT_EQ(run.Find(key)->number(), dry.Find(key)->number()) << key;
  }
  EXPECT_EQ(run.Find("prediction_bytes")->number(), preds1 * 2 * 2 * 600);  // f16, 2 classes.
  EXPECT_EQ(preds(1), 0);
  EXPECT_EQ(preds(2), preds2);
  EXPECT_EQ(links(1), kept1);
  EXPECT_EQ(links(2), links2);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM artifacts"),
            artifacts - static_cast<int64_t>(run.Find("artifacts_deleted")->number()));
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_members m WHERE NOT EXISTS "
                         "(SELECT 1 FROM artifacts a WHERE a.sha256 = m.sha256)"),
            0);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM results r JOIN trials t ON t.id = r.trial_id "
                         "WHERE t.sweep_id = 1"),
            8);
  ASSERT_EQ(Ctl({"status", "1"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("pruned at "), std::string::npos) << out;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM sweep_audit WHERE sweep_id = 1 AND action = "
                         "'prune' AND actor LIKE '%(sweepctl)' AND detail LIKE "
                         "'ended at least 30 day(s) ago%'"),
            1)
      << "a prune is audited; its dry run was not";
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM sweep_audit WHERE action = 'prune'"), 1);
  ASSERT_EQ(Ctl({"list", "--json"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"pruned_at\":\"20"), std::string::npos) << out;

  // The champion still serves from its weights, and publishing its sweep again names it; an
  // ensemble of the pruned sweep is refused, saying why.
  ASSERT_EQ(Predict({"--split", "holdout", "--quiet"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"version\":1"), std::string::npos) << out;
  ASSERT_EQ(Ctl({"registry", "publish", "1"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("(published before)"), std::string::npos) << out;
  EXPECT_EQ(Ctl({"ensemble", "1"}, &out, &err), 1);
  EXPECT_NE(err.find("sweep 1 was pruned at "), std::string::npos) << err;

  // Nothing is left to prune at 30 days: the retention commands that deploy/ installs (the
  // Kubernetes CronJob and the systemd unit, as written there) run and find nothing.
  for (const auto& args : RetentionCommands()) {
    ASSERT_EQ(farm_->Sweepctl(args, &out, &err), 0) << err;
    EXPECT_NE(out.find("pruned 0 sweep(s): 0 trials' predictions"), std::string::npos) << out;
  }
  // At 0 days sweep 2 goes, but never a running sweep, and an unpublished pruned sweep cannot be
  // published any more.
  ASSERT_EQ(Ctl({"prune", "--older-than-days", "0"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("pruned 1 sweep(s) (2): 8 trials' predictions"), std::string::npos) << out;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM sweeps WHERE id = 3 AND pruned_at IS NULL"), 1);
  EXPECT_EQ(Ctl({"registry", "publish", "2"}, &out, &err), 1);
  EXPECT_NE(err.find("can no longer be published"), std::string::npos) << err;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM model_versions"), 1);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM artifacts a WHERE NOT EXISTS (SELECT 1 FROM "
                         "trial_artifacts x WHERE x.sha256 = a.sha256) AND NOT EXISTS (SELECT 1 "
                         "FROM model_members m WHERE m.sha256 = a.sha256)"),
            0);

  // Bad arguments are refused, naming the RPC and argument, and write nothing.
  const int64_t left = farm_->Count("SELECT count(*) FROM predictions");
  EXPECT_EQ(Ctl({"prune", "--older-than-days", "-1"}, &out, &err), 2);
  EXPECT_NE(err.find("PruneSweeps: older_than_days must be between 0 and 36,500"),
            std::string::npos)
      << err;
  EXPECT_EQ(Ctl({"prune", "--older-than-days", "1e9"}, &out, &err), 2);
  EXPECT_EQ(Ctl({"prune"}, &out, &err), 2);
  EXPECT_NE(err.find("prune needs --older-than-days"), std::string::npos) << err;
  EXPECT_EQ(Ctl({"prune", "--older-than-days", "soon"}, &out, &err), 2);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM predictions"), left);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM sweeps WHERE pruned_at IS NOT NULL"), 2);
}

}  // namespace
}  // namespace sweepfarm::testing

// Data sets and the feedback loop end to end, against a real PostgreSQL, coordinator, workers,
// sweepfarm-serve and sweepctl over loopback: a CSV imported (and refused when bad, writing
// nothing), exported and imported back into the same version; workers fetching a version once,
// from their cache after a restart, and again when the cache file is damaged; predictions
// recorded, labelled (audited; a correction replaces a label) by the labeller role over gRPC and
// through the dashboard's form; and two nights of the loop, the second training on the data
// grown by the first night's labelled predictions, its gate re-scoring the champion on the new
// holdout.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json.h"
#include "sweepfarm/v1/worker.grpc.pb.h"
#include "tests/support/farm_test.h"

namespace sweepfarm::testing {
namespace {

// Samples of 3 channels x 16 steps on very different scales (a latency in microseconds, a rate,
// a fraction): a slow component ("slow") has a rising latency and a higher queue. Deterministic:
// sample i of `seed` is always the same.
struct Sample {
  std::vector<double> values;  // Channels first: channel c, step t at c * 16 + t.
  bool slow = false;
};

Sample MakeSample(uint64_t seed, int i) {
  uint64_t state = seed * 1000003ULL + static_cast<uint64_t>(i) * 7919ULL + 1;
  auto noise = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(state >> 11) / static_cast<double>(1ULL << 53) - 0.5;
  };
  Sample s;
  s.slow = (i * 7 + static_cast<int>(seed)) % 3 == 0;
  for (int c = 0; c < 3; ++c) {
    for (int t = 0; t < 16; ++t) {
      double v;
      if (c == 0)
        v = 900 + 400 * noise() + (s.slow ? 60.0 * t : 0);  // latency, us
      else if (c == 1)
        v = 20000 + 5000 * noise();  // ops/s
      else
        v = 0.3 + 0.2 * noise() + (s.slow ? 0.25 : 0);  // queue fraction
      s.values.push_back(v);
    }
  }
  return s;
}

// A CSV: a header (label first, then v0..v47), one row a sample.
std::string Csv(uint64_t seed, int n) {
  std::ostringstream out;
  out << "label";
  for (int v = 0; v < 48; ++v) out << ",v" << v;
  out << "\n";
  out.precision(9);
  for (int i = 0; i < n; ++i) {
    Sample s = MakeSample(seed, i);
    out << (s.slow ? "slow" : "ok");
    for (double v : s.values) out << "," << v;
    out << "\n";
  }
  return out.str();
}

// sweepfarm-predict --input: one sample a line, channels first.
std::string Inputs(uint64_t seed, int n) {
  std::ostringstream out;
  out.precision(9);
  for (int i = 0; i < n; ++i) {
    Sample s = MakeSample(seed, i);
    for (size_t v = 0; v < s.values.size(); ++v) out << (v ? " " : "") << s.values[v];
    out << "\n";
  }
  return out.str();
}

std::string SweepOn(const std::string& data, const std::string& extra = "") {
  return "version: 1\nname: loop\nmodel: loop-detector\ndataset: {name: " + data + extra +
         "}\narchitecture: {name: cnn1d, channels: [4, 8], kernel_size: 3}\n"
         "training: {batch_size: 16}\n"
         "search:\n  method: grid\n  space:\n    epochs: 6\n    step_size: [0.01, 0.03]\n"
         "    seed: [1, 2]\n"
         "selection: {ensemble_size: 3, candidates: 4, top_k: 2}\n";
}

class DataLoopTest : public FarmTest {
 protected:
  int Ctl(const std::vector<std::string>& args, std::string* out, std::string* err = nullptr) {
    std::vector<std::string> all{"--coordinator", addr_};
    all.insert(all.end(), args.begin(), args.end());
    return farm_->Sweepctl(all, out, err);
  }
  // The version's fields, from `data show NAME@V --json`.
  JsonValue Show(const std::string& which) {
    std::string out, err;
    EXPECT_EQ(Ctl({"data", "show", which, "--json"}, &out, &err), 0) << err;
    JsonValue v;
    std::string error;
    EXPECT_TRUE(JsonValue::Parse(out, &v, &error)) << error << ": " << out;
    return v;
  }
  // Runs a sweep file to the end with the workers running; returns its id.
  int64_t RunSweep(const std::string& file) {
    std::string out, err;
    EXPECT_EQ(Ctl({"submit", file}, &out, &err), 0) << err;
    const int64_t id = std::atoll(out.c_str());
    EXPECT_EQ(Ctl({"watch", std::to_string(id)}, &out, &err), 0) << err;
    return id;
  }
  int Occurrences(const std::string& log, const std::string& what) {
    const std::string text = farm_->ReadLog(log);
    int n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  std::string addr_;
};

TEST_F(DataLoopTest, ImportExportAndBadInputWriteNothing) {
  addr_ = farm_->StartCoordinator();
  ASSERT_FALSE(addr_.empty());
  std::string out, err;
  const std::string csv = farm_->WriteFile("logs.csv", Csv(1, 200));
  ASSERT_EQ(
      Ctl({"data", "import", "logs", csv, "--shape", "3x16", "--classes", "ok,slow"}, &out, &err),
      0)
      << err;
  EXPECT_EQ(out, "logs@1\n");
  // The same content again is the same version; nothing new is stored.
  ASSERT_EQ(
      Ctl({"data", "import", "logs", csv, "--shape", "3x16", "--classes", "ok,slow"}, &out, &err),
      0)
      << err;
  EXPECT_EQ(out, "logs@1\n");
  EXPECT_NE(err.find("already that version"), std::string::npos) << err;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM dataset_versions"), 1);
  JsonValue v = Show("logs@1");
  EXPECT_EQ(v.Find("shape")->array().size(), 2u);
  const JsonValue* splits = v.Find("splits");
  // 200 samples, a third slow: each class dealt 60/20/20 by the stratified split.
  const double train = splits->Find("train")->Find("samples")->number();
  const double sel = splits->Find("selection")->Find("samples")->number();
  const double hold = splits->Find("holdout")->Find("samples")->number();
  EXPECT_EQ(train + sel + hold, 200);
  EXPECT_NEAR(sel, 40, 1);
  EXPECT_NEAR(hold, 40, 1);
  EXPECT_GT(splits->Find("holdout")->Find("per_class")->Find("slow")->number(), 0);
  const std::string sha = v.Find("sha256")->string();
  EXPECT_EQ(sha.size(), 64u);

  // Export, and import the file back (as the export says) into the same content.
  const std::string exported = farm_->dir() + "/logs-export.csv.gz";
  ASSERT_EQ(Ctl({"data", "export", "logs@1", exported}, &out, &err), 0) << err;
  EXPECT_NE(err.find("--shape 3x16 --classes ok,slow --split-column split"), std::string::npos)
      << err;
  ASSERT_EQ(Ctl({"data", "import", "logs-copy", exported, "--shape", "3x16", "--classes", "ok,slow",
                 "--split-column", "split", "--json"},
                &out, &err),
            0)
      << err;
  JsonValue copy;
  std::string error;
  ASSERT_TRUE(JsonValue::Parse(out, &copy, &error)) << out;
  EXPECT_EQ(copy.Find("sha256")->string(), sha);
  // One content, stored once, under two names.
  EXPECT_EQ(farm_->Count("SELECT count(DISTINCT sha256) FROM dataset_blobs"), 1);

  // Bad input: refused with the file, row and column, and nothing stored.
  const int64_t versions = farm_->Count("SELECT count(*) FROM dataset_versions");
  std::string text = Csv(2, 30);
  text.replace(text.find("\n", text.find("\n", text.find("\n") + 1) + 1) + 1, 4, "slo,");
  const std::string bad_label = farm_->WriteFile("bad-label.csv", text);
  EXPECT_EQ(Ctl({"data", "import", "logs", bad_label, "--shape", "3x16", "--classes", "ok,slow"},
                &out, &err),
            2);
  EXPECT_NE(err.find("bad-label.csv: sample 3: label \"slo"), std::string::npos) << err;
  std::string ragged = Csv(2, 30);
  ragged.insert(ragged.find("\n", ragged.find("\n") + 1), ",1");
  EXPECT_EQ(
      Ctl({"data", "import", "logs", farm_->WriteFile("ragged.csv", ragged), "--shape", "3x16"},
          &out, &err),
      2);
  EXPECT_NE(err.find("ragged.csv: row 2 (data row 1) has 50 fields, the header has 49"),
            std::string::npos)
      << err;
  EXPECT_EQ(Ctl({"data", "import", "logs", csv, "--shape", "4x16"}, &out, &err), 2);
  EXPECT_NE(err.find("48 values per sample, but shape 4x16 holds 64"), std::string::npos) << err;
  EXPECT_EQ(Ctl({"data", "import", "bad name!", csv, "--shape", "3x16"}, &out, &err), 2);
  EXPECT_NE(err.find("header.name"), std::string::npos) << err;
  EXPECT_EQ(Ctl({"data", "show", "nope"}, &out, &err), 2);
  EXPECT_NE(err.find("no data set named nope"), std::string::npos) << err;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM dataset_versions"), versions);

  // A sweep whose architecture cannot take the data is refused at submit, writing nothing.
  std::string lenet = SweepOn("logs");
  lenet.replace(lenet.find("cnn1d"), 5, "lenet");
  EXPECT_EQ(Ctl({"submit", farm_->WriteFile("lenet.yaml", lenet)}, &out, &err), 2);
  EXPECT_NE(err.find("architecture lenet takes image samples (CxHxW), the data's samples are "
                     "3x16 (use cnn1d, logistic, mlp, linear_svm, naive_bayes)"),
            std::string::npos)
      << err;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM sweeps"), 0);

  // Retention: a version that is not its name's latest and that nothing uses is pruned; content
  // another name still has stays.
  ASSERT_EQ(Ctl({"data", "import", "logs", farm_->WriteFile("more.csv", Csv(3, 120)), "--shape",
                 "3x16", "--classes", "ok,slow"},
                &out, &err),
            0)
      << err;
  EXPECT_EQ(out, "logs@2\n");
  ASSERT_EQ(Ctl({"prune", "--older-than-days", "0", "--json"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"datasets_deleted\":[\"logs@1\"],\"dataset_bytes\":0"), std::string::npos)
      << out;
  EXPECT_EQ(Ctl({"data", "show", "logs@1"}, &out, &err), 2);
  EXPECT_EQ(Show("logs-copy@1").Find("sha256")->string(), sha);
  EXPECT_EQ(Show("logs").Find("version")->number(), 2);
  EXPECT_EQ(farm_->Count("SELECT count(DISTINCT sha256) FROM dataset_blobs"), 2);
}

TEST_F(DataLoopTest, WorkersFetchAVersionOnceAndRefetchADamagedCache) {
  addr_ = farm_->StartCoordinator();
  ASSERT_FALSE(addr_.empty());
  std::string out, err;
  ASSERT_EQ(Ctl({"data", "import", "logs", farm_->WriteFile("logs.csv", Csv(1, 150)), "--shape",
                 "3x16", "--classes", "ok,slow"},
                &out, &err),
            0)
      << err;
  const std::string sha = Show("logs").Find("sha256")->string();
  // A worker fetches nothing it holds no lease for, and an id nobody registered nothing at all.
  {
    auto stub =
        v1::WorkerService::NewStub(grpc::CreateChannel(addr_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext reg_ctx;
    v1::RegisterWorkerRequest reg;
    reg.set_device("cpu");
    reg.set_capacity(1);
    v1::RegisterWorkerResponse registered;
    ASSERT_TRUE(stub->RegisterWorker(&reg_ctx, reg, &registered).ok());
    auto fetch = [&](const std::string& worker_id) {
      grpc::ClientContext ctx;
      v1::FetchDatasetRequest req;
      req.set_worker_id(worker_id);
      req.set_sha256(sha);
      auto reader = stub->FetchDataset(&ctx, req);
      v1::DataChunk chunk;
      EXPECT_FALSE(reader->Read(&chunk));
      return reader->Finish();
    };
    grpc::Status s = fetch(registered.worker_id());
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(s.error_message().find("holds no lease in a sweep that trains on"), std::string::npos)
        << s.error_message();
    s = fetch("w-nobody");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(s.error_message().find("worker w-nobody is not registered"), std::string::npos)
        << s.error_message();
  }
  const std::string cache = farm_->dir() + "/shared-cache";
  farm_->StartWorker(addr_, "w1", {"--capacity", "4", "--cache-dir", cache});
  const std::string sweep = farm_->WriteFile("s.yaml", SweepOn("logs"));
  RunSweep(sweep);
  RunSweep(sweep);
  // Two sweeps, one fetch; every result names the version's content.
  EXPECT_EQ(Occurrences("w1", "fetched from the coordinator"), 1) << farm_->ReadLog("w1");
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM results WHERE dataset_hash = '" + sha + "'"), 8);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM sweeps WHERE dataset_sha256 = '" + sha + "'"), 2);
  ASSERT_TRUE(std::filesystem::exists(cache + "/" + sha + ".sfdata"));

  // A new worker on the same disk reads the cache; a damaged cache file is fetched again.
  farm_->processes().back().Signal(SIGKILL);
  farm_->processes().back().Wait();
  farm_->StartWorker(addr_, "w2", {"--capacity", "4", "--cache-dir", cache});
  RunSweep(sweep);
  EXPECT_EQ(Occurrences("w2", "from the cache"), 1) << farm_->ReadLog("w2");
  EXPECT_EQ(Occurrences("w2", "fetched from the coordinator"), 0);
  farm_->processes().back().Signal(SIGKILL);
  farm_->processes().back().Wait();
  {
    std::fstream f(cache + "/" + sha + ".sfdata", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x7f');
  }
  farm_->StartWorker(addr_, "w3", {"--capacity", "4", "--cache-dir", cache});
  RunSweep(sweep);
  EXPECT_EQ(Occurrences("w3", "does not verify against its name: fetching it again"), 1)
      << farm_->ReadLog("w3");
  EXPECT_EQ(Occurrences("w3", "fetched from the coordinator"), 1);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM results WHERE dataset_hash = '" + sha + "'"), 16);
}

TEST_F(DataLoopTest, TwoNightsLearnFromLabelledPredictions) {
  addr_ = farm_->StartCoordinator();
  ASSERT_FALSE(addr_.empty());
  std::string out, err;
  ASSERT_EQ(Ctl({"data", "import", "logs", farm_->WriteFile("logs.csv", Csv(1, 200)), "--shape",
                 "3x16", "--classes", "ok,slow"},
                &out, &err),
            0)
      << err;
  const std::string v1_sha = Show("logs@1").Find("sha256")->string();
  farm_->StartWorker(addr_, "w1", {"--capacity", "4"});
  const std::string nightly = farm_->WriteFile("nightly.yaml", SweepOn("logs", ", feedback: true"));
  ASSERT_EQ(Ctl({"nightly", nightly, "--json"}, &out, &err), 0) << err;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM dataset_versions WHERE name = 'logs'"), 1)
      << "nothing labelled yet: no new version";
  ASSERT_EQ(farm_->Count("SELECT count(*) FROM model_versions WHERE decision = 'promoted'"), 1);

  // The service answers new escalations with ids and records them.
  farm_->StartServe(addr_, "serve", {"--model", "loop-detector", "--refresh-seconds", "1"});
  const std::string served = farm_->ServeAddress("serve");
  ASSERT_FALSE(served.empty()) << farm_->ReadLog("serve");
  ASSERT_EQ(farm_->Predict({"--server", served, "--input",
                            farm_->WriteFile("new.txt", Inputs(9, 50)), "--json"},
                           &out, &err),
            0)
      << err;
  std::vector<std::string> ids;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    JsonValue p;
    std::string error;
    if (!JsonValue::Parse(line, &p, &error) || p.Find("id") == nullptr) continue;
    ids.push_back(p.Find("id")->string());
  }
  ASSERT_EQ(ids.size(), 50u) << out;
  ASSERT_TRUE(farm_->WaitForCount("SELECT count(*) FROM served_predictions", 50, 10));
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM served_predictions WHERE dataset_sha256 = '" +
                         v1_sha + "' AND dataset_name = 'logs' AND model = 'loop-detector'"),
            50);
  // Each record holds the sample as it was sent (float32, channels first).
  for (int i : {0, 17, 49}) {
    pqxx::binarystring stored(
        farm_->Query("SELECT input FROM served_predictions WHERE id = '" + ids[i] + "'")[0][0]);
    ASSERT_EQ(stored.size(), 48u * 4);
    const Sample sent = MakeSample(9, i);
    for (int v = 0; v < 48; ++v) {
      float f;
      std::memcpy(&f, stored.data() + 4 * v, 4);
      EXPECT_FLOAT_EQ(f, static_cast<float>(sent.values[v])) << "sample " << i << " value " << v;
    }
  }

  // Engineers label 40 of them with the truth (sample 5 by class index), one first wrongly and
  // then corrected.
  std::string labels =
      "# id,label\n" + ids[0] + "," + (MakeSample(9, 0).slow ? "ok" : "slow") + "\n";
  for (int i = 0; i < 40; ++i) {
    const bool slow = MakeSample(9, i).slow;
    labels += ids[i] + "," + (i == 5 ? (slow ? "1" : "0") : (slow ? "slow" : "ok")) + "\n";
  }
  ASSERT_EQ(Ctl({"feedback", "--file", farm_->WriteFile("labels.csv", labels)}, &out, &err), 0)
      << err;
  EXPECT_NE(out.find("41 prediction(s) labelled"), std::string::npos) << out;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM prediction_labels"), 41);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM prediction_labels WHERE prediction_id = '" + ids[0] +
                         "' AND old_label IS NOT NULL AND old_label <> new_label"),
            1);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM served_predictions WHERE true_label IS NOT NULL"),
            40);
  // An unknown class is refused, naming the classes; nothing changes.
  EXPECT_EQ(Ctl({"feedback", ids[45], "fast"}, &out, &err), 2);
  EXPECT_NE(err.find("\"fast\" is not a class of logs@1 (ok, slow"), std::string::npos) << err;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM prediction_labels"), 41);

  // Night 2 grows the data by the 40 labels first, then trains on the new version.
  ASSERT_EQ(Ctl({"data", "grow", "logs", "--from-feedback", "--dry-run", "--json"}, &out, &err), 0)
      << err;
  EXPECT_NE(out.find("\"added\":40"), std::string::npos) << out;
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM dataset_versions WHERE name = 'logs'"), 1);
  ASSERT_EQ(Ctl({"nightly", nightly, "--json"}, &out, &err), 0) << err;
  JsonValue v2 = Show("logs@2");
  EXPECT_EQ(v2.Find("parent")->number(), 1);
  EXPECT_EQ(v2.Find("feedback_samples")->number(), 40);
  const std::string v2_sha = v2.Find("sha256")->string();
  int64_t samples = 0;
  for (const char* split : {"train", "selection", "holdout"}) {
    samples += static_cast<int64_t>(v2.Find("splits")->Find(split)->Find("samples")->number());
  }
  EXPECT_EQ(samples, 240);
  // Every feedback sample placed by its input hash, and the holdout grew too.
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM dataset_feedback"), 40);
  EXPECT_GT(farm_->Count("SELECT count(*) FROM dataset_feedback WHERE split = 'holdout'"), 0);
  EXPECT_GT(farm_->Count("SELECT count(*) FROM dataset_feedback WHERE split = 'train'"), 0);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM sweeps WHERE dataset_sha256 = '" + v2_sha + "'"), 1);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM results r JOIN trials t ON t.id = r.trial_id "
                         "JOIN sweeps s ON s.id = t.sweep_id WHERE s.id = (SELECT max(id) FROM "
                         "sweeps) AND r.dataset_hash = '" +
                         v2_sha + "'"),
            4);
  // The gate re-scored the champion (which learned from logs@1) on logs@2's holdout.
  pqxx::result gate = farm_->Query(
      "SELECT compared_dataset, reason, champion_holdout_score, dataset->>'version' "
      "FROM model_versions WHERE version = 2");
  ASSERT_EQ(gate.size(), 1u);
  EXPECT_EQ(gate[0][0].as<std::string>(), "logs@1");
  EXPECT_NE(gate[0][1].as<std::string>().find("(both on logs@2's holdout; the champion learned "
                                              "from logs@1)"),
            std::string::npos)
      << gate[0][1].as<std::string>();
  EXPECT_GT(gate[0][2].as<double>(), 0);
  EXPECT_EQ(gate[0][3].as<std::string>(), "2");
  // No new labels: a third grow makes nothing.
  ASSERT_EQ(Ctl({"data", "grow", "logs", "--from-feedback"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("no new labelled predictions"), std::string::npos) << out;
  EXPECT_EQ(Occurrences("w1", "fetched from the coordinator"), 2) << "one fetch per version";
}

// A sweep over model kinds: the CNN, an MLP, logistic regression and a linear SVM trained by the
// same workers (each lease one kind, fused), ranked together, ensembled, registered and served.
TEST_F(DataLoopTest, ASweepSearchesModelKinds) {
  addr_ = farm_->StartCoordinator();
  ASSERT_FALSE(addr_.empty());
  std::string out, err;
  ASSERT_EQ(Ctl({"data", "import", "logs", farm_->WriteFile("logs.csv", Csv(1, 200)), "--shape",
                 "3x16", "--classes", "ok,slow"},
                &out, &err),
            0)
      << err;
  farm_->StartWorker(addr_, "w1", {"--capacity", "8"});
  std::string sweep = SweepOn("logs");
  sweep.replace(sweep.find("    seed: [1, 2]\n"), 16,
                "    seed: 1\n    architecture: [cnn1d, mlp, logistic, linear_svm, naive_bayes]\n");
  sweep.replace(sweep.find("top_k: 2"), 8, "top_k: 3, method: bagged, bags: 5");
  RunSweep(farm_->WriteFile("kinds.yaml", sweep));
  // `ensemble` shows what publish would register (a dry run of it); publish then registers
  // exactly that.
  ASSERT_EQ(Ctl({"ensemble", "1", "--json"}, &out, &err), 0) << err;
  JsonValue ensembles;
  std::string error;
  ASSERT_TRUE(JsonValue::Parse(out, &ensembles, &error)) << error << ": " << out;
  ASSERT_NE(ensembles.Find("bagged"), nullptr) << out;
  const JsonValue* preview = ensembles.Find("publish");
  ASSERT_TRUE(preview != nullptr && preview->is_object()) << out;
  const JsonValue would = *preview->Find("version");
  ASSERT_EQ(Ctl({"registry", "publish", "1", "--json"}, &out, &err), 0) << err;
  JsonValue published;
  ASSERT_TRUE(JsonValue::Parse(out, &published, &error)) << error << ": " << out;
  const JsonValue* v = published.Find("version");
  EXPECT_EQ(v->Find("method")->string(), "bagged");
  EXPECT_EQ(v->Find("holdout_accuracy")->number(), would.Find("holdout_accuracy")->number());
  EXPECT_EQ(v->Find("decision_threshold")->number(), would.Find("decision_threshold")->number());
  ASSERT_EQ(v->Find("members")->array().size(), would.Find("members")->array().size());
  for (size_t m = 0; m < v->Find("members")->array().size(); ++m) {
    EXPECT_EQ(v->Find("members")->array()[m].Find("trial_id")->number(),
              would.Find("members")->array()[m].Find("trial_id")->number());
  }
  ASSERT_EQ(Ctl({"ensemble", "1"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("registry publish: published before, as loop-detector v1"), std::string::npos)
      << out;
  for (const char* kind : {"cnn1d", "mlp", "logistic", "linear_svm", "naive_bayes"}) {
    EXPECT_EQ(farm_->Count(std::string("SELECT count(*) FROM trials WHERE state = 'succeeded' AND "
                                       "params->>'architecture' = '") +
                           kind + "'"),
              2)
        << kind;
  }
  // Each lease held one kind: no worker reported two kinds in one bundle.
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM (SELECT t.started_at FROM trials t "
                         "GROUP BY t.worker_id, t.started_at "
                         "HAVING count(DISTINCT t.params->>'architecture') > 1) x"),
            0);
  ASSERT_EQ(farm_->Predict({"--coordinator", addr_, "--model", "loop-detector", "--split",
                            "holdout", "--quiet"},
                           &out, &err),
            0)
      << err;
  EXPECT_NE(out.find("\"accuracy\":"), std::string::npos) << out;
  // The members' kinds are what their artifacts say, whatever mix greedy selection chose.
  pqxx::result kinds = farm_->Query(
      "SELECT DISTINCT a.arch->'architecture'->>'name' FROM model_members m "
      "JOIN artifacts a ON a.sha256 = m.sha256");
  EXPECT_GE(kinds.size(), 1u);
  ASSERT_EQ(Ctl({"export", "1"}, &out, &err), 0) << err;
  EXPECT_NE(out.find(",logistic,"), std::string::npos) << out;
  EXPECT_NE(out.find(",linear_svm,"), std::string::npos) << out;
  EXPECT_NE(out.find(",naive_bayes,"), std::string::npos) << out;
}

TEST_F(DataLoopTest, LabellersLabelOverGrpcAndThroughTheForm) {
  const std::string tokens = farm_->WriteFile("tokens",
                                              "0123456789abcdef0123456789abcdef ops admin\n"
                                              "4444444444444444 erin labeller\n"
                                              "2222222222222222 dave reader\n"
                                              "5555555555555555 svc serve\n");
  const std::string admin = farm_->WriteFile("admin", "0123456789abcdef0123456789abcdef\n");
  farm_->SetSecurity({"--auth-token-file", tokens, "--dashboard", "--metrics-auth"},
                     {"--auth-token-file", admin});
  addr_ = farm_->StartCoordinator();
  ASSERT_FALSE(addr_.empty());
  std::string out, err;
  ASSERT_EQ(Ctl({"data", "import", "logs", farm_->WriteFile("logs.csv", Csv(1, 120)), "--shape",
                 "3x16", "--classes", "ok,slow"},
                &out, &err),
            0)
      << err;
  farm_->StartWorker(addr_, "w1", {"--capacity", "4"});
  ASSERT_EQ(Ctl({"nightly", farm_->WriteFile("n.yaml", SweepOn("logs"))}, &out, &err), 0) << err;
  // The service records with a serve-role token, which can do nothing else.
  const std::string svc = farm_->WriteFile("svc", "5555555555555555\n");
  farm_->StartServe(
      addr_, "serve",
      {"--model", "loop-detector", "--auth-token-file", svc, "--listen", "127.0.0.1:0"});
  const std::string served = farm_->ServeAddress("serve");
  ASSERT_FALSE(served.empty()) << farm_->ReadLog("serve");
  ASSERT_EQ(farm_->Predict({"--server", served, "--auth-token-file", svc, "--input",
                            farm_->WriteFile("new.txt", Inputs(4, 3)), "--json"},
                           &out, &err),
            0)
      << err;
  std::vector<std::string> ids;
  for (size_t at = out.find("\"id\":\""); at != std::string::npos;
       at = out.find("\"id\":\"", at + 1)) {
    ids.push_back(out.substr(at + 6, 32));
  }
  ASSERT_EQ(ids.size(), 3u) << out;
  ASSERT_TRUE(farm_->WaitForCount("SELECT count(*) FROM served_predictions", 3, 10));

  auto as = [&](const std::string& token, const std::vector<std::string>& args) {
    std::vector<std::string> argv{SWEEPFARM_SWEEPCTL, "--coordinator", addr_, "--auth-token-file",
                                  farm_->WriteFile("t", token + "\n")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, &out, &err);
  };
  EXPECT_EQ(as("2222222222222222", {"feedback", ids[0], "slow"}), 1);
  EXPECT_NE(err.find("LabelPrediction: the token of dave (role reader) may not call it"),
            std::string::npos)
      << err;
  EXPECT_EQ(as("5555555555555555", {"feedback", ids[0], "slow"}), 1);
  EXPECT_EQ(as("4444444444444444", {"data", "grow", "logs", "--from-feedback"}), 1);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM prediction_labels"), 0);
  ASSERT_EQ(as("4444444444444444", {"feedback", ids[0], "slow"}), 0) << err;
  EXPECT_EQ(farm_->Query("SELECT actor FROM prediction_labels")[0][0].as<std::string>().rfind(
                "erin via ", 0),
            0u);

  // The dashboard: a labeller's page carries a form and a token of its own; the form labels.
  const std::string http = farm_->MetricsAddress();
  const std::string erin = "Authorization: Bearer 4444444444444444\r\n";
  const std::string page = HttpExchange(http, "GET /predictions HTTP/1.1\r\n" + erin + "\r\n");
  ASSERT_EQ(page.rfind("HTTP/1.1 200", 0), 0u) << page;
  const size_t at = page.find("name=\"form_token\" value=\"");
  ASSERT_NE(at, std::string::npos) << page;
  const std::string form_token = page.substr(at + 25, 32);
  EXPECT_NE(page.find(ids[1]), std::string::npos);
  auto post = [&](const std::string& id, const std::string& auth, const std::string& body,
                  const std::string& extra = "") {
    return HttpExchange(http, "POST /predictions/" + id + "/label HTTP/1.1\r\nHost: " + http +
                                  "\r\n" + auth + extra +
                                  "Content-Type: application/x-www-form-urlencoded\r\n"
                                  "Content-Length: " +
                                  std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  const std::string good = "label=ok&form_token=" + form_token;
  EXPECT_EQ(post(ids[1], erin, good).rfind("HTTP/1.1 303 See Other", 0), 0u);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM served_predictions WHERE id = '" + ids[1] +
                         "' AND true_label = 0 AND labelled_by = 'erin via the dashboard'"),
            1);
  // Refused, writing nothing: another's or no form token, a reader, another site, no token.
  const int64_t before = farm_->Count("SELECT count(*) FROM prediction_labels");
  EXPECT_EQ(post(ids[2], erin, "label=ok&form_token=0123").rfind("HTTP/1.1 403", 0), 0u);
  EXPECT_EQ(post(ids[2], erin, "label=ok").rfind("HTTP/1.1 403", 0), 0u);
  const std::string dave = "Authorization: Bearer 2222222222222222\r\n";
  const std::string refused = post(ids[2], dave, good);
  EXPECT_EQ(refused.rfind("HTTP/1.1 403", 0), 0u) << refused;
  EXPECT_NE(refused.find("may not label predictions"), std::string::npos) << refused;
  EXPECT_EQ(post(ids[2], erin, good, "Origin: http://evil.example\r\n").rfind("HTTP/1.1 403", 0),
            0u);
  EXPECT_EQ(post(ids[2], "", good).rfind("HTTP/1.1 401", 0), 0u);
  EXPECT_EQ(post("nothex", erin, good).rfind("HTTP/1.1 40", 0), 0u);
  EXPECT_EQ(post(ids[2], erin, "label=fast&form_token=" + form_token).rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(farm_->Count("SELECT count(*) FROM prediction_labels"), before);
  // A reader sees the page without forms.
  const std::string read_only = HttpExchange(http, "GET /predictions HTTP/1.1\r\n" + dave + "\r\n");
  EXPECT_EQ(read_only.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(read_only.find("form_token"), std::string::npos);
}

}  // namespace
}  // namespace sweepfarm::testing

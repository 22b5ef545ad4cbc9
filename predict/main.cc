// sweepfarm-predict: the reference prediction client. Looks a model up in the registry (the
// champion unless told otherwise), fetches its members' weights over gRPC, verifies each against
// its sha256, and classifies samples: lines of numbers from a file or standard input, or a split of
// the dataset the model was trained for. Prints per-sample class probabilities and the label.
// With --server it sends the samples to a sweepfarm-serve instead, which answers with the version
// it serves. Exit 0 on success, 1 on failure, 2 on bad usage or input.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <tuple>
#include <utility>

#include "common/build_info.h"
#include "common/flags.h"
#include "common/json.h"
#include "common/recall.h"
#include "engine/dataset.h"
#include "predict/registry_client.h"
#include "proto/grpc_status.h"
#include "proto/security.h"
#include "sweepfarm/v1/data.grpc.pb.h"
#include "sweepfarm/v1/predict.grpc.pb.h"
#include "sweepfarm/v1/registry.grpc.pb.h"

using namespace sweepfarm;

namespace {

constexpr char kUsage[] =
    "usage: sweepfarm-predict --model NAME [--version N | --alias A] [--coordinator HOST:PORT]\n"
    "                         (--input FILE|- | --split selection|holdout|test) [--limit N]\n"
    "                         [--json] [--quiet] [--bench N] [--threads T]\n"
    "       sweepfarm-predict --server HOST:PORT (--input FILE|- | --model NAME --split S)\n"
    "                         [--limit N] [--json] [--quiet] [--bench N]\n"
    "  --input: one sample per line, its values (channels first, as a row of the model's data\n"
    "           set) separated by spaces or commas\n"
    "  --split: samples of the dataset the model was trained for (accuracy is printed too)\n"
    "  --server: ask a sweepfarm-serve (PredictionService.Predict) instead of loading the model\n"
    "            (with --split, the registry still says which dataset the model was chosen on)\n"
    "  --quiet: no per-sample lines, only the summary (JSON)\n"
    "  --bench N: also time N single-sample predictions and print latency percentiles\n";

int Fail(const Status& s) {
  std::cerr << "sweepfarm-predict: " << s.message() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

// Lines of numbers to [N, sample...]; errors name the line. With no shape (the model is not known
// here: --server), every sample must have as many values as the first, and the result is
// [N, values].
StatusOr<torch::Tensor> ReadSamples(std::istream& in, const std::string& name,
                                    const std::vector<int64_t>& shape, int64_t limit) {
  int64_t per = shape.empty() ? 0 : 1;
  for (auto d : shape) per *= d;
  std::vector<float> values;
  std::string line;
  int64_t n = 0;
  for (int lineno = 1; std::getline(in, line) && (limit <= 0 || n < limit); ++lineno) {
    for (char& ch : line) {
      if (ch == ',') ch = ' ';
    }
    std::istringstream fields(line);
    std::string field;
    int64_t count = 0;
    while (fields >> field) {
      char* end = nullptr;
      float v = std::strtof(field.c_str(), &end);
      if (end == field.c_str() || *end != '\0' || !std::isfinite(v)) {
        return InvalidArgumentError(name + ":" + std::to_string(lineno) + ": \"" + field +
                                    "\" is not a finite number");
      }
      values.push_back(v);
      ++count;
    }
    if (count == 0) continue;  // Blank line.
    if (per == 0) per = count;
    if (count != per) {
      return InvalidArgumentError(name + ":" + std::to_string(lineno) + ": expected " +
                                  std::to_string(per) + " values per sample, got " +
                                  std::to_string(count));
    }
    ++n;
  }
  if (n == 0) return InvalidArgumentError(name + ": no samples");
  std::vector<int64_t> dims{n};
  if (shape.empty()) dims.push_back(per);
  dims.insert(dims.end(), shape.begin(), shape.end());
  return torch::from_blob(values.data(), dims, torch::kFloat32).clone();
}

// What answers: a model loaded here, or a sweepfarm-serve. Samples are channels first, as the
// data files and the service have them.
struct Predictor {
  std::string model;
  int version = 0;  // For --server: the version that answered the last call.
  int64_t classes = 0;
  double threshold = 0;          // The version's decision threshold (0: labels are the argmax).
  std::vector<std::string> ids;  // For --server: the last answer's prediction ids.
  std::function<StatusOr<torch::Tensor>(const torch::Tensor&)> predict;  // [N, classes].
};

// Sends x [N, ...] to PredictionService.Predict and returns the probabilities [N, classes].
StatusOr<torch::Tensor> PredictRemote(v1::PredictionService::Stub* stub, const torch::Tensor& x,
                                      Predictor* out) {
  v1::PredictRequest req;
  torch::Tensor flat = x.reshape({x.size(0), -1}).contiguous();
  const float* v = flat.data_ptr<float>();
  for (int64_t i = 0; i < flat.size(0); ++i) {
    req.add_samples()->mutable_values()->Add(v + i * flat.size(1), v + (i + 1) * flat.size(1));
  }
  v1::PredictResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  SF_RETURN_IF_ERROR(FromGrpc(stub->Predict(&ctx, req, &resp), "Predict"));
  if (resp.predictions_size() != x.size(0) || resp.predictions_size() == 0) {
    return InternalError("Predict: " + std::to_string(resp.predictions_size()) +
                         " predictions for " + std::to_string(x.size(0)) + " samples");
  }
  const int64_t classes = resp.predictions(0).probabilities_size();
  torch::Tensor probs = torch::empty({x.size(0), classes}, torch::kFloat32);
  for (int64_t i = 0; i < x.size(0); ++i) {
    const auto& p = resp.predictions(static_cast<int>(i)).probabilities();
    if (p.size() != classes) return InternalError("Predict: ragged probabilities");
    std::copy(p.begin(), p.end(), probs.data_ptr<float>() + i * classes);
  }
  out->model = resp.model();
  out->version = resp.version();
  out->classes = classes;
  out->threshold = resp.decision_threshold();
  out->ids.clear();
  for (const auto& p : resp.predictions()) out->ids.push_back(p.id());
  return probs;
}

StatusOr<torch::Tensor> ReadInput(const std::string& input, const std::vector<int64_t>& shape,
                                  int64_t limit) {
  if (input == "-") return ReadSamples(std::cin, "stdin", shape, limit);
  std::ifstream in(input);
  if (!in) return InvalidArgumentError(input + ": cannot read");
  return ReadSamples(in, input, shape, limit);
}

// Samples x (channels first) and labels y of a split of the data set `v` was chosen on, fetched
// from the coordinator (verified) or, for versions from before data set versions, rebuilt here.
StatusOr<std::pair<torch::Tensor, torch::Tensor>> SplitSamples(v1::DataService::Stub* data,
                                                               const v1::ModelVersion& v,
                                                               const std::string& split,
                                                               int64_t limit) {
  if (split != "selection" && split != "holdout" && split != "test") {
    return InvalidArgumentError("--split must be selection, holdout or test");
  }
  SF_ASSIGN_OR_RETURN(auto ds, predict::FetchDataset(data, v.dataset()));
  if (ds->hash != v.dataset_hash()) {
    std::cerr << "sweepfarm-predict: warning: the data set here hashes to " << ds->hash
              << ", the version was chosen on " << v.dataset_hash() << "\n";
  }
  const int64_t sel = ds->SelectionSize(), all = ds->test.size();
  int64_t from = split == "holdout" ? sel : 0;
  int64_t to = split == "selection" ? sel : all;
  if (limit > 0) to = std::min<int64_t>(to, from + limit);
  return std::make_pair(engine::ToChannelsFirst(ds->test.x.narrow(0, from, to - from)),
                        ds->test.y.narrow(0, from, to - from));
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  flags.Define("coordinator", "127.0.0.1:50051", "registry (coordinator) HOST:PORT")
      .Define("server", "", "a sweepfarm-serve HOST:PORT to ask instead of loading the model")
      .Define("model", "", "registry model name")
      .Define("version", "0", "a version number (default: the alias)")
      .Define("alias", "champion", "an alias")
      .Define("input", "", "samples, one per line (- for standard input)")
      .Define("split", "", "classify this split of the model's dataset: selection|holdout|test")
      .Define("limit", "0", "classify at most N samples (0: all)")
      .Define("bench", "0", "time N single-sample predictions")
      .Define("threads", "1", "CPU threads for inference")
      .DefineBool("quiet", "print only the summary, not every sample")
      .DefineBool("json", "one JSON object per sample, then a summary object");
  DefineSecurityFlags(&flags, SecurityRole::kClient);
  if (Status s = flags.Parse(argc, argv); !s.ok()) return Fail(s);
  if (flags.version()) {
    std::cout << VersionLine("sweepfarm-predict") << "\n";
    return 0;
  }
  if (flags.help()) {
    std::cout << kUsage << flags.Usage();
    return 0;
  }
  auto version = flags.GetInt("version");
  auto limit = flags.GetInt("limit");
  auto bench = flags.GetInt("bench");
  auto threads = flags.GetInt("threads");
  const bool remote = !flags.Get("server").empty();
  if ((flags.Get("model").empty() && !remote) || !version.ok() || !limit.ok() || !bench.ok() ||
      !threads.ok() || *threads < 1 || (flags.Get("input").empty() == flags.Get("split").empty())) {
    std::cerr << kUsage << flags.Usage();
    return 2;
  }
  if (remote && !flags.Get("split").empty() && flags.Get("model").empty()) {
    return Fail(InvalidArgumentError(
        "--split with --server needs --model (the registry says which dataset it was chosen on)"));
  }
  torch::set_num_threads(static_cast<int>(*threads));
  auto security = LoadTransportSecurity(flags, SecurityRole::kClient);
  if (!security.ok()) return Fail(security.status());
  for (const char* flag : {"coordinator", "server"}) {
    if (flag == std::string("server") && !remote) continue;
    if (auto a = flags.GetAddress(flag); !a.ok()) return Fail(a.status());
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  auto registry =
      v1::RegistryService::NewStub(OpenChannel(flags.Get("coordinator"), *security, args));
  v1::GetModelRequest req;
  req.set_model(flags.Get("model"));
  req.set_version(static_cast<int>(*version));
  if (*version == 0) req.set_alias(flags.Get("alias"));

  Predictor predictor;
  predict::LoadedModel loaded;
  std::unique_ptr<v1::PredictionService::Stub> server;
  double load_ms = 0;
  if (remote) {
    server = v1::PredictionService::NewStub(OpenChannel(flags.Get("server"), *security, args));
    predictor.predict = [&](const torch::Tensor& in) {
      return PredictRemote(server.get(), in, &predictor);
    };
    if (!flags.Get("split").empty()) {
      // The version's description alone (no artifacts), for its dataset.
      auto described = predict::GetVersion(registry.get(), req);
      if (!described.ok()) return Fail(described.status());
      loaded.version = std::move(described).value();
    }
  } else {
    auto t0 = std::chrono::steady_clock::now();
    auto got = predict::LoadModel(registry.get(), req);
    if (!got.ok()) return Fail(got.status());
    loaded = std::move(got).value();
    load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const v1::ModelVersion& v = loaded.version;
    std::cerr << "sweepfarm-predict: " << v.model() << " v" << v.version() << " ("
              << v.members_size() << " members, " << v.method() << ", holdout "
              << v.holdout_accuracy() << ") loaded and verified in " << load_ms << " ms\n";
    predictor.model = v.model();
    predictor.version = v.version();
    predictor.classes = loaded.model.classes();
    predictor.threshold = v.decision_threshold();
    predictor.predict = [&](const torch::Tensor& in) -> StatusOr<torch::Tensor> {
      return loaded.model.Predict(engine::ToChannelsLast(in));
    };
  }
  torch::Tensor x, y;
  if (!flags.Get("split").empty()) {
    auto data = v1::DataService::NewStub(OpenChannel(flags.Get("coordinator"), *security, args));
    auto xy = SplitSamples(data.get(), loaded.version, flags.Get("split"), *limit);
    if (!xy.ok()) return Fail(xy.status());
    std::tie(x, y) = *xy;
  } else {
    // Through a server the model's sample shape is not known here; the server checks it.
    auto samples = ReadInput(
        flags.Get("input"),
        remote ? std::vector<int64_t>{} : engine::ChannelsFirstShape(loaded.model.sample_shape()),
        *limit);
    if (!samples.ok()) return Fail(samples.status());
    x = *samples;
  }

  auto t1 = std::chrono::steady_clock::now();
  auto predicted = predictor.predict(x);
  if (!predicted.ok()) return Fail(predicted.status());
  torch::Tensor probs = *predicted;
  const double batch_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  torch::Tensor labels = engine::DecideLabels(probs, predictor.threshold);
  const bool binary = predictor.classes == 2;
  if (!flags.GetBool("quiet")) {
    for (int64_t i = 0; i < probs.size(0); ++i) {
      if (flags.GetBool("json")) {
        JsonWriter w;
        w.BeginObject().Key("sample").Int(i).Key("label").Int(labels[i].item<int64_t>());
        if (static_cast<size_t>(i) < predictor.ids.size() && !predictor.ids[i].empty()) {
          w.Key("id").String(predictor.ids[i]);
        }
        if (y.defined()) w.Key("true_label").Int(y[i].item<int64_t>());
        if (binary) w.Key("issue_probability").Number(probs[i][1].item<float>());
        w.Key("probabilities").BeginArray();
        for (int64_t c = 0; c < probs.size(1); ++c) w.Number(probs[i][c].item<float>());
        w.EndArray().EndObject();
        std::printf("%s\n", w.str().c_str());
      } else if (binary) {
        std::printf("%lld\tissue_probability=%.4f\tlabel=%s%s\n", static_cast<long long>(i),
                    probs[i][1].item<float>(),
                    labels[i].item<int64_t>() == 1 ? "issue" : "no_issue",
                    !y.defined()                ? ""
                    : y[i].item<int64_t>() == 1 ? "\ttrue=issue"
                                                : "\ttrue=no_issue");
      } else {
        std::printf("%lld\tlabel=%lld\tprobability=%.4f%s\n", static_cast<long long>(i),
                    static_cast<long long>(labels[i].item<int64_t>()), probs[i].max().item<float>(),
                    y.defined() ? ("\ttrue=" + std::to_string(y[i].item<int64_t>())).c_str() : "");
      }
    }
  }
  JsonWriter summary;
  summary.BeginObject().Key("model").String(predictor.model).Key("version").Int(predictor.version);
  if (!remote) {
    summary.Key("members").Int(loaded.version.members_size()).Key("load_ms").Number(load_ms);
  } else {
    summary.Key("server").String(flags.Get("server"));
  }
  summary.Key("samples").Int(probs.size(0)).Key("batch_ms").Number(batch_ms);
  if (predictor.threshold > 0) summary.Key("decision_threshold").Number(predictor.threshold);
  if (y.defined()) {
    double acc = labels.eq(y).to(torch::kFloat64).mean().item<double>();
    // Per true class: its samples and those predicted right, for balanced accuracy.
    const int64_t classes = probs.size(1);
    const double balanced =
        BalancedAccuracy(engine::CountByClass(y.masked_select(labels.eq(y)), classes),
                         engine::CountByClass(y, classes));
    summary.Key("accuracy").Number(acc).Key("balanced_accuracy").Number(balanced);
    std::cerr << "sweepfarm-predict: accuracy " << acc << ", balanced accuracy " << balanced
              << " on " << probs.size(0) << " " << flags.Get("split") << " samples\n";
  }
  if (*bench > 0) {
    std::vector<double> ms;
    const int64_t n = x.size(0);
    for (int64_t i = 0; i < *bench; ++i) {
      torch::Tensor one = x.narrow(0, i % n, 1);
      auto a = std::chrono::steady_clock::now();
      auto p = predictor.predict(one);
      if (!p.ok()) return Fail(p.status());
      (void)p->argmax(1).item<int64_t>();
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double q) { return ms[static_cast<size_t>(q * (ms.size() - 1))]; };
    summary.Key("latency_ms").BeginObject().Key("p50").Number(pct(0.5)).Key("p90").Number(pct(0.9));
    summary.Key("p99").Number(pct(0.99)).Key("max").Number(ms.back());
    summary.Key("n").Int(static_cast<int64_t>(ms.size()));
    if (!remote) summary.Key("threads").Int(*threads);
    summary.EndObject();
    const std::string how =
        remote ? "round trips to " + flags.Get("server") : std::to_string(*threads) + " thread(s)";
    std::fprintf(stderr,
                 "sweepfarm-predict: single-sample latency over %lld runs, %s: p50 %.3f ms, p90 "
                 "%.3f ms, p99 %.3f ms\n",
                 static_cast<long long>(ms.size()), how.c_str(), pct(0.5), pct(0.9), pct(0.99));
  }
  summary.EndObject();
  if (flags.GetBool("json") || flags.GetBool("quiet")) std::printf("%s\n", summary.str().c_str());
  return 0;
}

// sweepfarm-predict: the reference prediction client. Looks a model up in the registry (the
// champion unless told otherwise), fetches its members' weights over gRPC, verifies each against
// its sha256, and classifies samples: lines of numbers from a file or standard input, or a split of
// the dataset the model was trained for. Prints per-sample class probabilities and the label.
// Exit 0 on success, 1 on failure, 2 on bad usage or input.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "common/flags.h"
#include "common/json.h"
#include "proto/grpc_status.h"
#include "proto/security.h"
#include "sweepfarm/v1/registry.grpc.pb.h"
#include "worker/engine/dataset.h"
#include "worker/engine/model_io.h"

using namespace sweepfarm;

namespace {

constexpr char kUsage[] =
    "usage: sweepfarm-predict --model NAME [--version N | --alias A] [--coordinator HOST:PORT]\n"
    "                         (--input FILE|- | --split selection|holdout|test) [--limit N]\n"
    "                         [--json] [--quiet] [--bench N] [--threads T]\n"
    "  --input: one sample per line, its values (channels-last) separated by spaces or commas\n"
    "  --split: samples of the dataset the model was trained for (accuracy is printed too)\n"
    "  --quiet: no per-sample lines, only the summary (JSON)\n"
    "  --bench N: also time N single-sample predictions and print latency percentiles\n";

int Fail(const Status& s) {
  std::cerr << "sweepfarm-predict: " << s.message() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

struct Loaded {
  v1::ModelVersion version;
  engine::EnsembleModel model;
};

// Fetches a version with its artifacts and rebuilds it; every artifact is verified on load.
StatusOr<Loaded> Load(const std::string& address, const TransportSecurity& security,
                      const v1::GetModelRequest& req) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto stub = v1::RegistryService::NewStub(OpenChannel(address, security, args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = stub->GetModel(&ctx, req);
  v1::GetModelResponse part;
  Loaded out;
  bool have_version = false;
  std::map<std::string, std::string> content;
  while (reader->Read(&part)) {
    if (part.has_version()) {
      out.version = part.version();
      have_version = true;
    } else if (part.has_artifact()) {
      std::string& c = content[part.artifact().sha256()];
      if (static_cast<int64_t>(c.size()) != part.artifact().offset()) {
        return InternalError("GetModel: artifact " + part.artifact().sha256() +
                             " arrived out of order");
      }
      c += part.artifact().data();
    }
  }
  SF_RETURN_IF_ERROR(FromGrpc(reader->Finish(), "GetModel"));
  if (!have_version) return InternalError("GetModel: the answer held no version");
  std::vector<engine::MemberArtifact> members;
  for (const auto& m : out.version.members()) {
    auto it = content.find(m.sha256());
    if (it == content.end()) return InternalError("GetModel: artifact " + m.sha256() + " missing");
    members.push_back(
        {m.trial_id(), m.weight(), m.format(), m.arch_json(), it->second, m.sha256()});
  }
  SF_ASSIGN_OR_RETURN(
      out.model, engine::LoadEnsemble(
                     members, out.version.model() + " v" + std::to_string(out.version.version())));
  return out;
}

// Lines of numbers to [N, sample...]; errors name the line.
StatusOr<torch::Tensor> ReadSamples(std::istream& in, const std::string& name,
                                    const std::vector<int64_t>& shape, int64_t limit) {
  int64_t per = 1;
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
    if (count != per) {
      return InvalidArgumentError(name + ":" + std::to_string(lineno) + ": expected " +
                                  std::to_string(per) + " values per sample, got " +
                                  std::to_string(count));
    }
    ++n;
  }
  if (n == 0) return InvalidArgumentError(name + ": no samples");
  std::vector<int64_t> dims{n};
  dims.insert(dims.end(), shape.begin(), shape.end());
  return torch::from_blob(values.data(), dims, torch::kFloat32).clone();
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  flags.Define("coordinator", "127.0.0.1:50051", "registry (coordinator) HOST:PORT")
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
  if (flags.help()) {
    std::cout << kUsage << flags.Usage();
    return 0;
  }
  auto version = flags.GetInt("version");
  auto limit = flags.GetInt("limit");
  auto bench = flags.GetInt("bench");
  auto threads = flags.GetInt("threads");
  if (flags.Get("model").empty() || !version.ok() || !limit.ok() || !bench.ok() || !threads.ok() ||
      *threads < 1 || (flags.Get("input").empty() == flags.Get("split").empty())) {
    std::cerr << kUsage << flags.Usage();
    return 2;
  }
  torch::set_num_threads(static_cast<int>(*threads));
  v1::GetModelRequest req;
  req.set_model(flags.Get("model"));
  req.set_version(static_cast<int>(*version));
  if (*version == 0) req.set_alias(flags.Get("alias"));
  req.set_include_artifacts(true);
  auto t0 = std::chrono::steady_clock::now();
  auto security = LoadTransportSecurity(flags, SecurityRole::kClient);
  if (!security.ok()) return Fail(security.status());
  auto loaded = Load(flags.Get("coordinator"), *security, req);
  if (!loaded.ok()) return Fail(loaded.status());
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const v1::ModelVersion& v = loaded->version;
  std::cerr << "sweepfarm-predict: " << v.model() << " v" << v.version() << " (" << v.members_size()
            << " members, " << v.method() << ", holdout " << v.holdout_accuracy()
            << ") loaded and verified in " << load_ms << " ms\n";

  torch::Tensor x, y;
  if (!flags.Get("split").empty()) {
    const std::string split = flags.Get("split");
    if (split != "selection" && split != "holdout" && split != "test") {
      return Fail(InvalidArgumentError("--split must be selection, holdout or test"));
    }
    engine::DatasetParams params(v.dataset().params().begin(), v.dataset().params().end());
    auto ds = engine::MakeDataset(v.dataset().name(), params);
    if (!ds.ok()) return Fail(ds.status());
    if ((*ds)->hash != v.dataset_hash()) {
      std::cerr << "sweepfarm-predict: warning: dataset rebuilt here hashes to " << (*ds)->hash
                << ", the version was chosen on " << v.dataset_hash() << "\n";
    }
    const int64_t sel = (*ds)->SelectionSize(), all = (*ds)->test.size();
    int64_t from = split == "holdout" ? sel : 0;
    int64_t to = split == "selection" ? sel : all;
    if (*limit > 0) to = std::min<int64_t>(to, from + *limit);
    x = (*ds)->test.x.narrow(0, from, to - from);
    y = (*ds)->test.y.narrow(0, from, to - from);
  } else {
    const std::string input = flags.Get("input");
    StatusOr<torch::Tensor> samples = InvalidArgumentError("unread");
    if (input == "-") {
      samples = ReadSamples(std::cin, "stdin", loaded->model.sample_shape(), *limit);
    } else {
      std::ifstream in(input);
      if (!in) return Fail(InvalidArgumentError(input + ": cannot read"));
      samples = ReadSamples(in, input, loaded->model.sample_shape(), *limit);
    }
    if (!samples.ok()) return Fail(samples.status());
    x = *samples;
  }

  auto t1 = std::chrono::steady_clock::now();
  torch::Tensor probs = loaded->model.Predict(x);
  const double batch_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  torch::Tensor labels = probs.argmax(1);
  const bool binary = loaded->model.classes() == 2;
  if (!flags.GetBool("quiet")) {
    for (int64_t i = 0; i < probs.size(0); ++i) {
      if (flags.GetBool("json")) {
        JsonWriter w;
        w.BeginObject().Key("sample").Int(i).Key("label").Int(labels[i].item<int64_t>());
        if (binary) w.Key("issue_probability").Number(probs[i][1].item<float>());
        w.Key("probabilities").BeginArray();
        for (int64_t c = 0; c < probs.size(1); ++c) w.Number(probs[i][c].item<float>());
        w.EndArray().EndObject();
        std::printf("%s\n", w.str().c_str());
      } else if (binary) {
        std::printf("%lld\tissue_probability=%.4f\tlabel=%s\n", static_cast<long long>(i),
                    probs[i][1].item<float>(),
                    labels[i].item<int64_t>() == 1 ? "issue" : "no_issue");
      } else {
        std::printf("%lld\tlabel=%lld\tprobability=%.4f\n", static_cast<long long>(i),
                    static_cast<long long>(labels[i].item<int64_t>()),
                    probs[i].max().item<float>());
      }
    }
  }
  JsonWriter summary;
  summary.BeginObject().Key("model").String(v.model()).Key("version").Int(v.version());
  summary.Key("members").Int(v.members_size()).Key("samples").Int(probs.size(0));
  summary.Key("load_ms").Number(load_ms).Key("batch_ms").Number(batch_ms);
  if (y.defined()) {
    double acc = labels.eq(y).to(torch::kFloat64).mean().item<double>();
    summary.Key("accuracy").Number(acc);
    std::cerr << "sweepfarm-predict: accuracy " << acc << " on " << probs.size(0) << " "
              << flags.Get("split") << " samples\n";
  }
  if (*bench > 0) {
    std::vector<double> ms;
    const int64_t n = x.size(0);
    for (int64_t i = 0; i < *bench; ++i) {
      torch::Tensor one = x.narrow(0, i % n, 1);
      auto a = std::chrono::steady_clock::now();
      torch::Tensor p = loaded->model.Predict(one);
      (void)p.argmax(1).item<int64_t>();
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
    std::sort(ms.begin(), ms.end());
    auto pct = [&](double q) { return ms[static_cast<size_t>(q * (ms.size() - 1))]; };
    summary.Key("latency_ms").BeginObject().Key("p50").Number(pct(0.5)).Key("p90").Number(pct(0.9));
    summary.Key("p99").Number(pct(0.99)).Key("max").Number(ms.back());
    summary.Key("n").Int(static_cast<int64_t>(ms.size())).Key("threads").Int(*threads).EndObject();
    std::fprintf(stderr,
                 "sweepfarm-predict: single-sample latency over %lld runs, %lld thread(s): p50 "
                 "%.3f ms, p90 %.3f ms, p99 %.3f ms\n",
                 static_cast<long long>(ms.size()), static_cast<long long>(*threads), pct(0.5),
                 pct(0.9), pct(0.99));
  }
  summary.EndObject();
  if (flags.GetBool("json") || flags.GetBool("quiet")) std::printf("%s\n", summary.str().c_str());
  return 0;
}

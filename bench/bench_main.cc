// sweepfarm-bench: trains the same workload one model at a time and fused at several K, in one run,
// and prints model-epochs/s, achieved TFLOP/s, the ratio to one-at-a-time and bytes per model.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/build_info.h"
#include "common/flags.h"
#include "common/json.h"
#include "engine/dataset.h"
#include "engine/telemetry.h"
#include "engine/trainer.h"

using namespace sweepfarm;
using namespace sweepfarm::engine;

namespace {

struct Row {
  std::string name;
  int64_t k = 0;
  double secs = 0, model_epochs_per_s = 0, tflops = 0, ratio = 0, bytes_per_model = 0;
  bool graph = false;
};

std::shared_ptr<const Dataset> Workload(const std::string& name, int64_t train, int64_t test) {
  if (name == "telemetry") return MakeTelemetryDataset(TelemetryOptions{1, train, test});
  // LeNet workload: Fashion-MNIST-sized random images (speed does not depend on the pixels).
  return RandomImageDataset("lenet-random", train, test, /*seed=*/1);
}

std::vector<ModelConfig> Configs(int64_t k, int64_t epochs) {
  std::vector<ModelConfig> c;
  for (int64_t i = 0; i < k; ++i) {
    // Step sizes spread over 1e-3..1e-2 like the Python peer; plain SGD, natural data mix.
    double lr = k == 1 ? 5e-3 : 1e-3 + 9e-3 * static_cast<double>(i) / static_cast<double>(k - 1);
    c.push_back(ModelConfig{static_cast<uint64_t>(i + 1), lr, -1, 1.0, {epochs}});
  }
  return c;
}

// Eight configurations; `epochs` 0 gives 5-6 epochs (50-114 steps), as recorded since the first
// GPU run; otherwise that many epochs.
std::vector<ModelConfig> CheckConfigs(bool binary, int64_t epochs = 0) {
  std::vector<ModelConfig> configs;
  for (int i = 0; i < 8; ++i) {
    double lr = 1e-3 * std::pow(20.0, i / 7.0);
    double rate = binary && i % 3 != 0 ? 0.1 + 0.1 * i : -1;
    configs.push_back(ModelConfig{static_cast<uint64_t>(100 + 7 * i),
                                  lr,
                                  rate,
                                  0.5 + 0.06 * i,
                                  {epochs > 0 ? epochs : 5 + i % 2}});
  }
  return configs;
}

// Trains `configs` fused with `fused_options` and one at a time with `seq_options`, and reports the
// largest relative parameter difference and test-accuracy difference (in samples).
Status Compare(const std::string& what, const Dataset& data,
               const std::vector<ModelConfig>& configs, const TrainOptions& fused_options,
               const TrainOptions& seq_options, double max_rel, int64_t max_samples) {
  auto fused = TrainFused(data, configs, fused_options);
  if (!fused.ok()) return fused.status();
  auto seq = TrainSequential(data, configs, seq_options);
  if (!seq.ok()) return seq.status();
  double rel = MaxRelativeParamDifference(fused->final_params, seq->final_params);
  int64_t worst = 0;
  for (size_t k = 0; k < configs.size(); ++k) {
    worst = std::max<int64_t>(
        worst, std::abs(fused->models[k].evals[0].correct - seq->models[k].evals[0].correct));
  }
  const bool pass = rel < max_rel && worst <= max_samples;
  std::printf(
      "check %s on %s: K=8, %lld fused steps, max relative parameter difference %.3g (bound %.0e), "
      "max test-accuracy difference %lld of %lld samples (bound %lld): %s\n",
      what.c_str(), fused_options.device.str().c_str(), static_cast<long long>(fused->fused_steps),
      rel, max_rel, static_cast<long long>(worst), static_cast<long long>(data.test.size()),
      static_cast<long long>(max_samples), pass ? "PASS" : "FAIL");
  std::fflush(stdout);
  if (!pass) return InternalError("check " + what + ": fused training differs from separate runs");
  return OkStatus();
}

// The correctness check of the fused engine, for hosts without GoogleTest: K=8 random
// configurations, fused vs one at a time with standard layers, full float32; with `step_kernel`
// also the fused step kernel, in float32 (same bound) and at the bench's precision against the
// float32 reference (reported; bounds for rounding that TF32 and bf16 products introduce).
Status CheckFusedEqualsSequential(TrainOptions options, bool step_kernel) {
  const TrainOptions bench = options;
  options.compute = torch::kFloat32;
  options.tf32 = false;
  options.batch_size = 32;
  options.kernels = TrainOptions::Kernels::kAuto;
  for (const char* arch : {"cnn1d", "lenet"}) {
    options.arch.name = arch;
    auto data = std::string(arch) == "cnn1d" ? Workload("telemetry", 640, 300)
                                             : Workload("lenet", 256, 100);
    data = data->To(options.device);
    auto configs = CheckConfigs(data->binary_issue_label);
    SF_RETURN_IF_ERROR(Compare(arch, *data, configs, options, options, 1e-4, 1));
    if (!step_kernel) continue;
    // The fused kernels against the same float32 reference: in float32 (the same bound), then on
    // CUDA at the bench's precision (bounds for the rounding TF32 and bf16 products introduce).
    // cnn1d: two epochs, 20-36 steps, the issue's ">= 20 steps"; over 114 steps at step size 0.02
    // any other float32 summation order drifts to ~3e-4 (measured here on CPUs, and with recomputed
    // patches on an H200), as the unit tests explain. lenet: plain SGD (see trainer_test.cc).
    const bool cnn1d = std::string(arch) == "cnn1d";
    if (cnn1d) configs = CheckConfigs(true, 2);
    TrainOptions ref = options;
    if (!cnn1d) ref.momentum = 0;
    TrainOptions k = ref;
    k.kernels = TrainOptions::Kernels::kFusedStep;
    const std::string what = cnn1d ? "cnn1d step kernel " : "lenet conv kernels ";
    SF_RETURN_IF_ERROR(Compare(what + "fp32", *data, configs, k, ref, 1e-4, 1));
    if (options.device.is_cuda() && (bench.compute == torch::kBFloat16 || bench.tf32)) {
      k.compute = bench.compute;
      k.tf32 = bench.tf32;
      const bool bf16 = bench.compute == torch::kBFloat16;
      SF_RETURN_IF_ERROR(
          Compare(what + (bf16 ? "bf16" : "tf32"), *data, configs, k, ref, bf16 ? 0.1 : 0.02, 6));
    }
  }
  return OkStatus();
}

int Fail(const Status& s);

// The grid of sweeps/perfpsychic.yaml (this binary has no YAML parser): epochs 25-100, step size
// 1e-3..2e-2 (5 log steps), issue rate 0.1-0.9, data size 0.2-1.0, two seeds. Trials differing only
// in epochs share a model slot, as the worker trains them.
int RunStudy(TrainOptions options, int64_t bundle, int64_t max_epochs) {
  const int64_t q = std::max<int64_t>(1, max_epochs / 4);
  options.arch.name = "cnn1d";
  options.momentum = 0;
  auto data = MakeTelemetryDataset(TelemetryOptions{1, 5275, 2000})->To(options.device);
  std::vector<ModelConfig> slots;
  for (int s = 0; s < 5; ++s) {
    double lr = std::exp(std::log(1e-3) + s / 4.0 * (std::log(2e-2) - std::log(1e-3)));
    for (double rate : {0.1, 0.3, 0.5, 0.7, 0.9}) {
      for (double size : {0.2, 0.4, 0.6, 0.8, 1.0}) {
        for (uint64_t seed : {1, 2})
          slots.push_back(ModelConfig{seed, lr, rate, size, {q, 2 * q, 3 * q, 4 * q}});
      }
    }
  }
  auto start = std::chrono::steady_clock::now();
  double best = 0, model_epochs = 0;
  int64_t trials = 0;
  for (size_t lo = 0; lo < slots.size(); lo += bundle) {
    std::vector<ModelConfig> part(
        slots.begin() + lo,
        slots.begin() + std::min(slots.size(), lo + static_cast<size_t>(bundle)));
    auto r = TrainFused(*data, part, options);
    if (!r.ok()) return Fail(r.status());
    for (size_t k = 0; k < part.size(); ++k) {
      for (const auto& e : r->models[k].evals) {
        best = std::max(best, e.test_accuracy);
        ++trials;
        (void)e;
      }
      model_epochs += 4.0 * q * part[k].data_size;  // In full-data epochs.
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "study perfpsychic on %s: %lld trials (%zu fused models, bundles of %lld) in %.1f s: "
      "%.1f trials/s, %.0f full-data model-epochs/s; best escalation accuracy %.4f "
      "(all-issue baseline %.4f)\n",
      options.device.str().c_str(), static_cast<long long>(trials), slots.size(),
      static_cast<long long>(bundle), secs, trials / secs, model_epochs / secs, best,
      data->MajorityBaseline());
  return 0;
}

int Fail(const Status& s) {
  std::cerr << "sweepfarm-bench: " << s.ToString() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  flags.Define("device", "cpu", "cpu or cuda")
      .Define("workload", "telemetry", "telemetry (1-D CNN, 16x64) or lenet (28x28)")
      .Define("k", "1,8,64", "comma-separated bundle sizes to run fused")
      .Define("epochs", "2", "epochs per model")
      .Define("sequential-models", "2", "models trained one at a time for the baseline")
      .Define("precision", "tf32", "fp32, tf32 (CUDA float32 matmuls in TF32) or bf16")
      .Define("graph", "1", "1: capture the fused step as a CUDA graph")
      .Define("train-samples", "0", "training samples (0: 5275 telemetry, 60000 lenet)")
      .Define("json", "", "write results as JSON to this path")
      .Define("label", "", "free text stored in the JSON (card, commit)")
      .Define("recompute", "0", "1: batched-matmul convolutions recompute patches in backward")
      .Define("study", "",
              "perfpsychic: train the 1,000-trial study of sweeps/perfpsychic.yaml "
              "(250 fused models, evaluated at 25/50/75/100 epochs) in bundles of --k")
      .Define("study-epochs", "100", "the study's longest epoch count (evaluated at 1/4..4/4)")
      .Define("simulate", "0", "only time the telemetry simulator generating N samples, then exit")
      .Define("kernels", "auto",
              "comma-separated fused formulations to run at each K: auto (batched matmuls on "
              "CUDA, per-model convolutions on CPUs), step (the fused kernels: the whole step of "
              "cnn1d, the convolutions of lenet)")
      .Define("step-threads", "256",
              "comma-separated threads per block to time the step kernel with (32..512)")
      .DefineBool("check", "first check that fused training equals separate runs (fp32, K=8)");
  if (Status s = flags.Parse(argc, argv); !s.ok()) return Fail(s);
  if (flags.version()) {
    std::cout << VersionLine("sweepfarm-bench") << "\n";
    return 0;
  }
  if (flags.help()) {
    std::cout << "usage: sweepfarm-bench [--device cpu|cuda] [--workload telemetry|lenet] "
                 "[--k 1,8,64,...] [flags]\n"
              << flags.Usage();
    return 0;
  }
  if (auto n = flags.GetInt("simulate"); n.ok() && *n > 0) {
    at::set_num_threads(1);
    auto t0 = std::chrono::steady_clock::now();
    Split s = SimulateTelemetry(Distribution::kEscalation, 1, *n);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "telemetry simulator: %lld escalation samples in %.2f s on one core (%.0f samples/s), hash "
        "%s\n",
        static_cast<long long>(*n), secs, *n / secs, HashTensors({s.x, s.y}).c_str());
    return 0;
  }
  const std::string workload = flags.Get("workload");
  // LibTorch's OpenMP pool may start with one thread; the CPU bench uses every core for both paths.
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (workload != "telemetry" && workload != "lenet") {
    return Fail(InvalidArgumentError("--workload must be telemetry or lenet"));
  }
  auto epochs = flags.GetInt("epochs");
  auto seq_models = flags.GetInt("sequential-models");
  auto train_flag = flags.GetInt("train-samples");
  if (!epochs.ok()) return Fail(epochs.status());
  if (!seq_models.ok()) return Fail(seq_models.status());
  if (!train_flag.ok()) return Fail(train_flag.status());
  std::vector<int64_t> ks;
  for (const auto& part : SplitString(flags.Get("k"), ',')) {
    auto k = ParseInt(part, "--k");
    if (!k.ok() || *k < 1)
      return Fail(InvalidArgumentError("--k: bad bundle size \"" + part + "\""));
    ks.push_back(*k);
  }
  torch::Device device(torch::kCPU);
  if (flags.Get("device") == "cuda") {
    if (!torch::cuda::is_available())
      return Fail(FailedPreconditionError("--device cuda: no CUDA"));
    device = torch::Device(torch::kCUDA, 0);
  } else if (flags.Get("device") != "cpu") {
    return Fail(InvalidArgumentError("--device must be cpu or cuda"));
  }
  TrainOptions options;
  options.arch.name = workload == "telemetry" ? "cnn1d" : "lenet";
  options.device = device;
  options.momentum = 0;  // Plain SGD, as the Python peer.
  const std::string precision = flags.Get("precision");
  if (precision == "bf16") {
    options.compute = torch::kBFloat16;
  } else if (precision == "fp32") {
    options.tf32 = false;
  } else if (precision != "tf32") {
    return Fail(InvalidArgumentError("--precision must be fp32, tf32 or bf16"));
  }
  options.cuda_graph = flags.Get("graph") == "1";
  options.recompute_patches = flags.Get("recompute") == "1";
  std::vector<std::string> kernel_list = SplitString(flags.Get("kernels"), ',');
  for (const auto& k : kernel_list) {
    if (k != "auto" && k != "step") {
      return Fail(
          InvalidArgumentError("--kernels: unknown formulation \"" + k + "\" (auto, step)"));
    }
  }
  const bool with_step =
      std::find(kernel_list.begin(), kernel_list.end(), "step") != kernel_list.end();
  if (flags.Get("study") == "perfpsychic") {
    auto max_epochs = flags.GetInt("study-epochs");
    if (!max_epochs.ok() || *max_epochs < 4)
      return Fail(InvalidArgumentError("--study-epochs >= 4"));
    // The study runs one formulation: the step kernel if it is named.
    if (with_step) options.kernels = TrainOptions::Kernels::kFusedStep;
    return RunStudy(options, ks.front(), *max_epochs);
  }
  if (!flags.Get("study").empty()) return Fail(InvalidArgumentError("--study: only perfpsychic"));
  int64_t train = *train_flag > 0 ? *train_flag : (workload == "telemetry" ? 5275 : 60000);
  // A small test split: the bench measures training; evaluation runs once at the end.
  auto data = Workload(workload, train, 64)->To(device);

  if (flags.GetBool("check")) {
    if (Status s = CheckFusedEqualsSequential(options, with_step); !s.ok()) return Fail(s);
  }
  std::vector<Row> rows;
  auto record = [&](const std::string& name, int64_t k, const BundleResult& r) {
    Row row;
    row.name = name;
    row.k = k;
    row.secs = r.wall_seconds;
    row.model_epochs_per_s = r.model_epochs / r.wall_seconds;
    // 2 FLOP per MAC, backward about twice the forward: as the Python peer counts.
    row.tflops = row.model_epochs_per_s * train * 2.0 * 3.0 * r.forward_macs_per_sample / 1e12;
    row.bytes_per_model =
        r.peak_device_bytes > 0 ? static_cast<double>(r.peak_device_bytes) / k : 0;
    row.graph = r.used_cuda_graph;
    row.ratio = rows.empty() ? 1.0 : row.model_epochs_per_s / rows.front().model_epochs_per_s;
    rows.push_back(row);
    std::printf(
        "%-26s model-epochs/s %10.2f  achieved %7.3f TFLOP/s  x%-8.1f %8.2f MiB/model  (%.2fs)\n",
        name.c_str(), row.model_epochs_per_s, row.tflops, row.ratio,
        row.bytes_per_model / (1 << 20), row.secs);
    std::fflush(stdout);
  };
  std::printf("sweepfarm-bench: %s on %s, %s, %lld epochs, %lld training samples, batch 64\n",
              workload.c_str(), device.str().c_str(), precision.c_str(),
              static_cast<long long>(*epochs), static_cast<long long>(train));
  // Warm-up (kernel selection, allocator) outside the timings.
  if (auto w = TrainFused(*data, Configs(2, 1), options); !w.ok()) return Fail(w.status());
  auto seq = TrainSequential(*data, Configs(*seq_models, *epochs), options);
  if (!seq.ok()) return Fail(seq.status());
  record("sequential (one at a time)", 1, *seq);
  std::vector<int> step_threads;
  for (const auto& part : SplitString(flags.Get("step-threads"), ',')) {
    auto t = ParseInt(part, "--step-threads");
    if (!t.ok() || *t < 32 || *t > 512 || *t % 32 != 0) {
      return Fail(InvalidArgumentError("--step-threads: \"" + part +
                                       "\" is not a multiple of 32 in [32, 512]"));
    }
    step_threads.push_back(static_cast<int>(*t));
  }
  for (const auto& kernels : kernel_list) {
    const bool step = kernels == "step";
    for (int threads : step ? step_threads : std::vector<int>{0}) {
      TrainOptions o = options;
      o.kernels = step ? TrainOptions::Kernels::kFusedStep : TrainOptions::Kernels::kAuto;
      o.step_threads = threads;
      for (int64_t k : ks) {
        std::string name = (step ? "step kernel K=" : "fused K=") + std::to_string(k);
        if (step && step_threads.size() > 1) name += " (" + std::to_string(threads) + " threads)";
        auto r = TrainFused(*data, Configs(k, *epochs), o);
        if (!r.ok()) {
          std::printf("%s: %s\n", name.c_str(), r.status().ToString().c_str());
          if (r.status().code() == StatusCode::kResourceExhausted) break;
          return Fail(r.status());
        }
        record(name, k, *r);
      }
    }
  }

  if (!flags.Get("json").empty()) {
    JsonWriter w;
    std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof(date), "%Y-%m-%d", std::gmtime(&now));
    w.BeginObject().Key("date").String(date).Key("label").String(flags.Get("label"));
    w.Key("workload").String(workload).Key("device").String(device.str());
    w.Key("precision").String(precision).Key("epochs").Int(*epochs).Key("train_samples").Int(train);
    w.Key("rows").BeginArray();
    for (const auto& r : rows) {
      w.BeginObject().Key("name").String(r.name).Key("k").Int(r.k).Key("secs").Number(r.secs);
      w.Key("model_epochs_per_s").Number(r.model_epochs_per_s).Key("tflops").Number(r.tflops);
      w.Key("ratio_to_sequential").Number(r.ratio).Key("bytes_per_model").Number(r.bytes_per_model);
      w.Key("cuda_graph").Bool(r.graph).EndObject();
    }
    w.EndArray().EndObject();
    std::ofstream(flags.Get("json")) << w.str() << "\n";
  }
  return 0;
}

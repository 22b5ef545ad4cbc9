// The fused training loop: sample indices, gather, forward, backward and SGD for K models per step,
// with no host synchronisation inside a step; on CUDA the step is captured once as a CUDA graph.
#include "engine/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

#include "common/recall.h"
#include "engine/kernels/cnn1d_step.h"
#include "engine/kernels/lenet_conv.h"
#include "engine/optimizer.h"

#ifdef SWEEPFARM_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#include <torch/version.h>
#endif

namespace sweepfarm::engine {
namespace {

using Clock = std::chrono::steady_clock;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The loss `arch`'s models train on (engine/catalog.h).
TrainingLoss LossOf(const ArchSpec& arch) {
  const ArchitectureKind* kind = FindArchitecture(arch.name);
  return kind == nullptr ? TrainingLoss::kCrossEntropy : kind->loss;
}

bool IsNaiveBayes(const ArchSpec& arch) {
  const ArchitectureKind* kind = FindArchitecture(arch.name);
  return kind != nullptr && kind->fitting == Fitting::kNaiveBayes;
}

// Each sample's cross-entropy from the log-softmax `logp` [..., classes] and labels `y` [...].
torch::Tensor CrossEntropyOf(const torch::Tensor& logp, const torch::Tensor& y) {
  return -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1);
}

// Each sample's loss: `logits` [..., classes], `y` [...] (int64 labels) -> [...].
torch::Tensor SampleLoss(TrainingLoss loss, const torch::Tensor& logits, const torch::Tensor& y) {
  const torch::Tensor label = y.unsqueeze(-1);
  if (loss == TrainingLoss::kHinge) {
    const torch::Tensor truth = logits.gather(-1, label);
    const torch::Tensor others =
        logits.scatter(-1, label, -std::numeric_limits<float>::infinity()).amax(-1, true);
    return (1 + others - truth).clamp_min(0).squeeze(-1);
  }
  return CrossEntropyOf(torch::log_softmax(logits, -1), y);
}

// One model's loss over a batch, `logits` [N, classes], summed or averaged (cross-entropy as
// LibTorch computes it, bit for bit what a PyTorch user's training gets).
torch::Tensor BatchLoss(TrainingLoss loss, const torch::Tensor& logits, const torch::Tensor& y,
                        at::Reduction::Reduction reduction) {
  if (loss == TrainingLoss::kCrossEntropy)
    return torch::cross_entropy_loss(logits, y, {}, reduction);
  const torch::Tensor each = SampleLoss(loss, logits, y);
  return reduction == at::Reduction::Sum ? each.sum() : each.mean();
}

void Synchronize(const torch::Device& device) {
#ifdef SWEEPFARM_WITH_CUDA
  if (device.is_cuda()) c10::cuda::getCurrentCUDAStream().synchronize();
#else
  (void)device;
#endif
}

Status FromException(const std::exception& e, const char* what) {
  std::string msg = e.what();
  if (msg.find("out of memory") != std::string::npos) {
    return ResourceExhaustedError(std::string(what) + ": device out of memory");
  }
  auto nl = msg.find('\n');
  return InternalError(std::string(what) + ": " + msg.substr(0, nl));
}

// Per-model step schedule shared by the fused and sequential trainers. Loop steps count from the
// start of this run; model k's own step is its loop step + offsets[k] (a resumed model's steps
// already taken), which is what its data order and epochs follow.
struct Schedule {
  std::vector<int64_t> steps_per_epoch;
  std::vector<int64_t> offsets;
  std::vector<int64_t> total_steps;  // Loop steps model k trains in this run.
  std::map<int64_t, std::vector<std::pair<int64_t, int64_t>>> evals;  // loop step -> (model, epoch)
  // Loop step after which an epoch has ended -> (model, epoch): the learning curves' points.
  std::map<int64_t, std::vector<std::pair<int64_t, int64_t>>> epoch_ends;
  int64_t max_steps = 0;
};

Schedule MakeSchedule(const std::vector<ModelConfig>& configs, const std::vector<int64_t>& subsets,
                      int64_t batch) {
  Schedule s;
  for (size_t k = 0; k < configs.size(); ++k) {
    int64_t spe = CeilDiv(subsets[k], batch);
    const int64_t offset = spe * configs[k].start_epoch;
    s.steps_per_epoch.push_back(spe);
    s.offsets.push_back(offset);
    s.total_steps.push_back(spe * configs[k].eval_epochs.back() - offset);
    s.max_steps = std::max(s.max_steps, s.total_steps.back());
    for (int64_t e : configs[k].eval_epochs) {
      s.evals[e * spe - offset].push_back({static_cast<int64_t>(k), e});
    }
    for (int64_t e = configs[k].start_epoch + 1; e <= configs[k].eval_epochs.back(); ++e) {
      s.epoch_ends[e * spe - offset].push_back({static_cast<int64_t>(k), e});
    }
  }
  return s;
}

int64_t EvalChunk(int64_t k, int64_t activations_per_sample, int64_t budget, int64_t elem) {
  int64_t per_sample = std::max<int64_t>(1, k * activations_per_sample * elem);
  return std::max<int64_t>(1, budget / per_sample);
}

// Samples of each class among labels [lo, hi) of the test split.
std::vector<int64_t> ClassSupport(const Dataset& data, int64_t lo, int64_t hi) {
  return CountByClass(data.test.y.slice(0, lo, hi), data.num_classes);
}

// counts[c] += the samples of true class c that `hit` marks right.
void AddClassHits(const torch::Tensor& hit, const torch::Tensor& labels,
                  std::vector<int64_t>* counts) {
  const std::vector<int64_t> right =
      CountByClass(labels.masked_select(hit), static_cast<int64_t>(counts->size()));
  for (size_t c = 0; c < counts->size(); ++c) (*counts)[c] += right[c];
}

// Adds the samples' (true class, predicted class) pairs to `confusion` [..., classes^2]
// (row-major by true class); `labels` and `predicted` are [..., n] int64.
void AddConfusion(const torch::Tensor& labels, const torch::Tensor& predicted, int64_t classes,
                  torch::Tensor& confusion) {
  const torch::Tensor cell = labels * classes + predicted;
  confusion.scatter_add_(-1, cell, torch::ones_like(cell));
}

std::vector<int64_t> Row(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

}  // namespace

Status ValidateModelConfigs(const std::vector<ModelConfig>& configs) {
  if (configs.empty()) return InvalidArgumentError("a bundle needs at least one configuration");
  for (size_t k = 0; k < configs.size(); ++k) {
    const auto& c = configs[k];
    std::string at = "configuration " + std::to_string(k) + ": ";
    if (c.eval_epochs.empty()) return InvalidArgumentError(at + "no epochs to evaluate");
    for (size_t i = 0; i < c.eval_epochs.size(); ++i) {
      if (c.eval_epochs[i] < 1 || (i > 0 && c.eval_epochs[i] <= c.eval_epochs[i - 1])) {
        return InvalidArgumentError(at + "epochs must be positive and ascending");
      }
    }
    if (!(c.step_size > 0 && c.step_size < 10)) {
      return InvalidArgumentError(at + "step_size must be in (0, 10)");
    }
    if (c.issue_rate > 1) return InvalidArgumentError(at + "issue_rate must be in [0, 1]");
    if (!(c.data_size > 0 && c.data_size <= 1)) {
      return InvalidArgumentError(at + "data_size must be in (0, 1]");
    }
    if (c.start_epoch < 0 || c.start_epoch >= c.eval_epochs.front()) {
      return InvalidArgumentError(at + "start_epoch " + std::to_string(c.start_epoch) +
                                  " must be in [0, the first eval epoch)");
    }
    if (!(c.weight_decay >= 0 && c.weight_decay < 1)) {
      return InvalidArgumentError(at + "weight_decay must be in [0, 1)");
    }
    if (!(c.smoothing > 0 && c.smoothing <= 1e6)) {
      return InvalidArgumentError(at + "smoothing must be in (0, 1e6]");
    }
    if (c.start_epoch > 0 &&
        (c.init_params.empty() || c.init_params.size() != c.init_momentum.size())) {
      return InvalidArgumentError(
          at + "a resumed model needs its parameters and momentum (as many tensors of each)");
    }
  }
  return OkStatus();
}

namespace {

OptimizerSpec SpecOf(const TrainOptions& options) {
  OptimizerSpec spec;
  spec.kind = options.optimizer;
  spec.momentum = options.momentum;
  return spec;
}

// What the options allow of a bundle: resuming needs the SGD state and a constant step size (a
// schedule's position is not in a checkpoint), and a schedule spans one run, so a model is
// evaluated once, at its end.
Status CheckOptimizerOptions(const std::vector<ModelConfig>& configs, const TrainOptions& options) {
  const bool plain =
      options.optimizer == OptimizerKind::kSgd && options.schedule == RateSchedule::kConstant;
  for (size_t k = 0; k < configs.size() && !plain; ++k) {
    const std::string at = "configuration " + std::to_string(k) + ": ";
    if (configs[k].start_epoch > 0) {
      return InvalidArgumentError(at +
                                  "only SGD with a constant step size resumes from a "
                                  "checkpoint (optimizer " +
                                  NameOf(options.optimizer) + ", schedule " +
                                  NameOf(options.schedule) + ")");
    }
    if (options.schedule != RateSchedule::kConstant && configs[k].eval_epochs.size() > 1) {
      return InvalidArgumentError(at + "with the " + NameOf(options.schedule) +
                                  " schedule a model is evaluated at its last epoch only");
    }
  }
  return OkStatus();
}

// Per-model weight decay, [K] float32 on `device`, or undefined when no model decays.
torch::Tensor WeightDecays(const std::vector<ModelConfig>& configs, const torch::Device& device) {
  std::vector<double> wd;
  bool any = false;
  for (const auto& c : configs) {
    wd.push_back(c.weight_decay);
    any = any || c.weight_decay > 0;
  }
  if (!any) return torch::Tensor();
  return torch::tensor(wd, torch::kFloat64).to(torch::kFloat32).to(device);
}

}  // namespace

double MaxRelativeParamDifference(const std::vector<torch::Tensor>& a,
                                  const std::vector<torch::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    torch::Tensor diff = (a[i] - b[i]).abs().flatten(1).amax(1);
    torch::Tensor scale = b[i].abs().flatten(1).amax(1).clamp_min(1e-12);
    worst = std::max(worst, (diff / scale).max().item<double>());
  }
  if (a.size() != b.size()) return INFINITY;
  return worst;
}

int64_t EstimateTrainingBytesPerModel(const FusedNet& net, const TrainOptions& options) {
  const int64_t elem = options.compute == torch::kFloat32 ? 4 : 2;
  if (options.kernels == TrainOptions::Kernels::kFusedStep) {
    // Convolution activations stay in shared memory: weights, gradients, momentum, this step's
    // indices, and the fully connected layers' inputs and outputs where LibTorch runs them
    // (lenet; three copies: forward, backward, temporaries). Evaluation chunks are bounded by
    // eval_budget_bytes for the whole bundle, inside the 20% kept free.
    int64_t fc = 0;
    for (const auto& l : net.layers()) {
      if (l.kind == Layer::kLinear && net.spatial_dims() == 2) fc += l.in + l.out;
    }
    return 3 * 4 * net.ParamsPerModel() + 8 * options.batch_size + 3 * options.batch_size * fc * 4;
  }
  // Peak use is about 1.5x one forward's activations and patches (measured on an H200: 5.88 MiB
  // per telemetry model in TF32, against 3.9 MiB of forward tensors), plus weights, gradients,
  // momentum and the gathered batch.
  return 3 * options.batch_size * net.ActivationsPerSample() * elem / 2 +
         4 * 4 * net.ParamsPerModel();
}

namespace {

// Joins the results of consecutive slices of one bundle, in order. Steps and epochs add up; wall
// time is the caller's to set.
BundleResult Join(std::vector<BundleResult> parts) {
  BundleResult out;
  for (auto& r : parts) {
    for (auto& m : r.models) out.models.push_back(std::move(m));
    out.fused_steps += r.fused_steps;
    out.model_steps += r.model_steps;
    out.model_epochs += r.model_epochs;
    out.forward_macs_per_sample = r.forward_macs_per_sample;
    out.params_per_model = r.params_per_model;
    out.peak_device_bytes = std::max(out.peak_device_bytes, r.peak_device_bytes);
    out.used_cuda_graph = r.used_cuda_graph;
  }
  for (size_t i = 0; !parts.empty() && i < parts[0].final_params.size(); ++i) {
    std::vector<torch::Tensor> list, mom;
    for (const auto& r : parts) {
      list.push_back(r.final_params[i]);
      mom.push_back(r.final_momentum[i]);
    }
    out.final_params.push_back(torch::cat(list));
    out.final_momentum.push_back(torch::cat(mom));
  }
  return out;
}

// Trains configs[lo, hi) as consecutive fused bundles of at most `chunk` models.
StatusOr<BundleResult> TrainInChunks(const Dataset& data, const std::vector<ModelConfig>& configs,
                                     size_t lo, size_t hi, const TrainOptions& options,
                                     size_t chunk) {
  auto start = Clock::now();
  std::vector<BundleResult> parts;
  for (size_t a = lo; a < hi; a += chunk) {
    std::vector<ModelConfig> part(configs.begin() + a, configs.begin() + std::min(hi, a + chunk));
    SF_ASSIGN_OR_RETURN(BundleResult r, TrainFused(data, part, options));
    parts.push_back(std::move(r));
  }
  BundleResult out = Join(std::move(parts));
  out.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

// CUDA: how many models one fused bundle may hold: options.max_fused if set, else what 80% of the
// device's free memory holds by EstimateTrainingBytesPerModel.
int64_t MaxModelsThatFit(const Dataset& data, const TrainOptions& options) {
  if (options.max_fused > 0) return options.max_fused;
#ifdef SWEEPFARM_WITH_CUDA
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) return INT64_MAX;
  auto probe =
      FusedNet::Create(options.arch, data.sample_shape(), data.num_classes, {0}, torch::kCPU);
  if (!probe.ok()) return INT64_MAX;
  int64_t per_model = std::max<int64_t>(1, EstimateTrainingBytesPerModel(*probe, options));
  return std::max<int64_t>(1,
                           static_cast<int64_t>(0.8 * static_cast<double>(free_bytes)) / per_model);
#else
  (void)data;
  return INT64_MAX;
#endif
}

// CPU: trains contiguous slices of the bundle on `parts` threads, each single-threaded and in
// sub-bundles of at most cpu_max_fused models, and joins the results in the original order.
StatusOr<BundleResult> TrainFusedInParallel(const Dataset& data,
                                            const std::vector<ModelConfig>& configs,
                                            TrainOptions options, int parts) {
  options.cpu_parallel = 1;
  const size_t K = configs.size();
  std::vector<StatusOr<BundleResult>> results(parts, InternalError("not run"));
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int p = 0; p < parts; ++p) {
    size_t lo = K * p / parts, hi = K * (p + 1) / parts;
    threads.emplace_back([&, p, lo, hi] {
      at::set_num_threads(1);
      results[p] = TrainInChunks(data, configs, lo, hi, options,
                                 static_cast<size_t>(std::max(1, options.cpu_max_fused)));
    });
  }
  for (auto& t : threads) t.join();
  std::vector<BundleResult> lanes;
  int64_t longest = 0;
  for (auto& r : results) {
    if (!r.ok()) return r.status();
    longest = std::max(longest, r->fused_steps);
    lanes.push_back(std::move(r).value());
  }
  BundleResult out = Join(std::move(lanes));
  out.fused_steps = longest;  // The lanes ran side by side.
  out.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

}  // namespace

namespace {

// The fused kernels' arithmetic: bf16 products with bf16 compute, TF32 on CUDA where allowed,
// else exact float32.
kernels::Precision FusedPrecision(const TrainOptions& options) {
  if (options.compute == torch::kBFloat16) return kernels::Precision::kBf16;
  if (options.device.is_cuda() && options.tf32) return kernels::Precision::kTf32;
  return kernels::Precision::kFloat32;
}

// Shared memory one block of a fused kernel may use (the host emulation: 256 KiB).
size_t FusedSmemLimit(const torch::Device& device) {
  return device.is_cuda() ? kernels::DeviceSmemLimit() : (256u << 10);
}

// The fused kernels' shared-memory layouts for a bundle, or why its shape cannot use them.
StatusOr<kernels::Cnn1dLayout> Cnn1dLayoutFor(const FusedNet& net, const Dataset& data,
                                              const TrainOptions& options, int64_t k, int64_t b) {
  const auto& shape_in = data.sample_shape();
  if (options.arch.name != "cnn1d" || shape_in.size() != 2) {
    return InvalidArgumentError(
        "the fused step kernels support only the cnn1d and lenet architectures");
  }
  const auto& layers = net.layers();
  kernels::Cnn1dShape shape;
  shape.k = static_cast<int>(k);
  shape.batch = static_cast<int>(b);
  shape.t = static_cast<int>(shape_in[0]);
  shape.cin = static_cast<int>(shape_in[1]);
  shape.ks = static_cast<int>(layers[0].kernel);
  shape.c1 = static_cast<int>(layers[0].out);
  shape.c2 = static_cast<int>(layers[2].out);
  shape.classes = static_cast<int>(data.num_classes);
  kernels::Cnn1dLayout layout;
  std::string why;
  if (!kernels::MakeCnn1dLayout(shape, FusedPrecision(options), FusedSmemLimit(options.device),
                                &layout, &why)) {
    return InvalidArgumentError(why);
  }
  return layout;
}

StatusOr<kernels::LenetConvLayout> LenetLayoutFor(const FusedNet& net, const Dataset& data,
                                                  const TrainOptions& options, int64_t k,
                                                  int64_t b) {
  const auto& shape_in = data.sample_shape();
  const auto& layers = net.layers();
  kernels::LenetConvShape shape;
  shape.k = static_cast<int>(k);
  shape.batch = static_cast<int>(b);
  shape.h = static_cast<int>(shape_in[0]);
  shape.cin = static_cast<int>(shape_in[2]);
  shape.ks = static_cast<int>(layers[0].kernel);
  shape.c1 = static_cast<int>(layers[0].out);
  shape.c2 = static_cast<int>(layers[2].out);
  kernels::LenetConvLayout layout;
  std::string why;
  if (!kernels::MakeLenetConvLayout(shape, FusedPrecision(options), FusedSmemLimit(options.device),
                                    &layout, &why)) {
    return InvalidArgumentError(why);
  }
  return layout;
}

// What the LeNet convolution-stack kernels of one training loop need besides the tensors.
struct LenetConvSetup {
  kernels::LenetConvLayout layout;
  kernels::Precision precision = kernels::Precision::kFloat32;
  int threads = 0;  // Per block; 0: the default (RunFused).
  torch::Tensor x;  // The training images [N, h, h, cin], in the compute type.
};

// Runs one call of a fused kernel: its host emulation on CPUs (host(threads)), else its CUDA launch
// on the current stream (launch(threads, stream, &why)); `threads` per block, 0 for the default.
// Throws what a launch reports.
template <class Host, class Launch>
void RunFused(const torch::Device& device, int threads, Host host, Launch launch) {
  if (device.is_cpu()) {
    host(threads > 0 ? threads : 64);
    return;
  }
#ifdef SWEEPFARM_WITH_CUDA
  void* stream = c10::cuda::getCurrentCUDAStream().stream();
#else
  void* stream = nullptr;
#endif
  std::string why;
  if (!launch(threads > 0 ? threads : kernels::kDefaultBlockThreads, stream, &why)) {
    throw std::runtime_error(why);
  }
}

void RunLenetConv(const LenetConvSetup& setup, const kernels::LenetConvArgs& args, bool backward,
                  const torch::Device& device) {
  RunFused(
      device, setup.threads,
      [&](int threads) { kernels::RunLenetConvOnHost(setup.layout, args, backward, threads); },
      [&](int threads, void* stream, std::string* why) {
        return kernels::LaunchLenetConv(setup.layout, args, setup.precision, backward, threads,
                                        stream, why);
      });
}

// The pooled features [K, B, F] of the LeNet convolution stack for the samples `idx` [K, B], with
// a backward that recomputes the stack in the kernel and returns the convolutions' gradients.
class LenetConvFunction : public torch::autograd::Function<LenetConvFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& w1,
                               const torch::Tensor& b1, const torch::Tensor& w2,
                               const torch::Tensor& b2, const torch::Tensor& idx,
                               int64_t setup_address) {
    const auto* setup = reinterpret_cast<const LenetConvSetup*>(setup_address);
    ctx->save_for_backward({w1, b1, w2, b2, idx});
    ctx->saved_data["setup"] = setup_address;
    const auto& sh = setup->layout.shape;
    torch::Tensor feat = torch::empty({sh.k, sh.batch, setup->layout.features()},
                                      w1.options().dtype(torch::kFloat32));
    RunLenetConv(*setup, Args(*setup, w1, b1, w2, b2, idx, feat), false, w1.device());
    return feat;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto* setup = reinterpret_cast<const LenetConvSetup*>(ctx->saved_data["setup"].toInt());
    auto saved = ctx->get_saved_variables();
    torch::Tensor dfeat = grads[0].to(torch::kFloat32).contiguous();
    std::vector<torch::Tensor> out;
    for (int i = 0; i < 4; ++i) out.push_back(torch::empty_like(saved[i]));
    kernels::LenetConvArgs args =
        Args(*setup, saved[0], saved[1], saved[2], saved[3], saved[4], torch::Tensor());
    args.dfeat = dfeat.data_ptr<float>();
    args.dw1 = out[0].data_ptr<float>();
    args.db1 = out[1].data_ptr<float>();
    args.dw2 = out[2].data_ptr<float>();
    args.db2 = out[3].data_ptr<float>();
    RunLenetConv(*setup, args, true, saved[0].device());
    return {out[0], out[1], out[2], out[3], torch::Tensor(), torch::Tensor()};
  }

 private:
  static kernels::LenetConvArgs Args(const LenetConvSetup& setup, const torch::Tensor& w1,
                                     const torch::Tensor& b1, const torch::Tensor& w2,
                                     const torch::Tensor& b2, const torch::Tensor& idx,
                                     const torch::Tensor& feat) {
    kernels::LenetConvArgs a;
    a.x = setup.x.data_ptr();
    a.idx = idx.data_ptr<int64_t>();
    a.w1 = w1.data_ptr<float>();
    a.b1 = b1.data_ptr<float>();
    a.w2 = w2.data_ptr<float>();
    a.b2 = b2.data_ptr<float>();
    if (feat.defined()) a.feat = feat.data_ptr<float>();
    return a;
  }
};

}  // namespace

StatusOr<BundleResult> TrainFused(const Dataset& data, const std::vector<ModelConfig>& configs,
                                  const TrainOptions& options) try {
  SF_RETURN_IF_ERROR(ValidateModelConfigs(configs));
  SF_RETURN_IF_ERROR(CheckOptimizerOptions(configs, options));
  const int64_t fit = options.device.is_cuda() ? MaxModelsThatFit(data, options)
                      : options.max_fused > 0  ? options.max_fused
                                               : INT64_MAX;
  if (fit < static_cast<int64_t>(configs.size())) {
    TrainOptions one = options;
    one.max_fused = fit;
    return TrainInChunks(data, configs, 0, configs.size(), one, static_cast<size_t>(fit));
  }
  const bool fused_step = options.kernels == TrainOptions::Kernels::kFusedStep;
  const torch::Tensor weight_decay = WeightDecays(configs, options.device);
  if (fused_step && options.arch.name == "cnn1d" &&
      (options.optimizer != OptimizerKind::kSgd || weight_decay.defined())) {
    return InvalidArgumentError(
        "the fused step kernel updates with SGD without weight decay; optimizer " +
        NameOf(options.optimizer) + " needs the other kernels");
  }
  const bool naive_bayes = IsNaiveBayes(options.arch);
  if (options.device.is_cpu() && configs.size() == 1 && !fused_step && !naive_bayes) {
    // Nothing to fuse: one model trains fastest with the standard layers (the fused machinery cost
    // 9% at K=1 on two cores). Same initialisation and data order, so the same model up to float
    // rounding (the equivalence tests bound the difference).
    return TrainSequential(data, configs, options);
  }
  if (options.device.is_cpu() && !fused_step) {
    int parts = options.cpu_parallel > 0 ? options.cpu_parallel : at::get_num_threads();
    parts = std::min<int>(std::max(parts, 1), static_cast<int>(configs.size()));
    if (parts > 1 || static_cast<int>(configs.size()) > options.cpu_max_fused) {
      return TrainFusedInParallel(data, configs, options, parts);
    }
  }
  const torch::Device device = options.device;
  const int64_t K = static_cast<int64_t>(configs.size());
  const int64_t B = options.batch_size;
#ifdef SWEEPFARM_WITH_CUDA
  if (device.is_cuda()) {
    at::globalContext().setAllowTF32CuBLAS(options.tf32);
    at::globalContext().setAllowTF32CuDNN(options.tf32);
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index() < 0 ? 0 : device.index());
  }
#endif
  std::vector<uint64_t> seeds;
  std::vector<MixConfig> mixes;
  for (const auto& c : configs) {
    seeds.push_back(c.seed);
    mixes.push_back(MixConfig{c.seed, c.issue_rate, c.data_size});
  }
  SF_ASSIGN_OR_RETURN(FusedNet net, FusedNet::Create(options.arch, data.sample_shape(),
                                                     data.num_classes, seeds, device));
  net.set_recompute_patches(options.recompute_patches);
  SF_ASSIGN_OR_RETURN(IndexSampler sampler,
                      IndexSampler::Create(data.train, data.binary_issue_label, B, mixes, device));
  const Schedule sched = MakeSchedule(configs, sampler.subset_sizes(), B);

  auto i64 = torch::TensorOptions().dtype(torch::kInt64).device(device);
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  std::vector<double> lrs;
  for (const auto& c : configs) lrs.push_back(c.step_size);
  torch::Tensor lr = torch::tensor(lrs, torch::kFloat64).to(f32);
  torch::Tensor limit = torch::tensor(sched.total_steps, torch::kInt64).to(device);
  torch::Tensor spe = torch::tensor(sched.steps_per_epoch, torch::kInt64).to(device);
  torch::Tensor step = torch::zeros({}, i64);
  torch::Tensor epoch_loss = torch::zeros({K}, f32);
  // Learning curves: [K, epochs trained here], each epoch's mean training loss, written on the
  // device after the epoch's last step, outside the (captured) step and without a host sync; the
  // index tensors are made before the timed loop.
  int64_t curve_epochs = 1;
  for (const auto& c : configs) {
    curve_epochs = std::max(curve_epochs, c.eval_epochs.back() - c.start_epoch);
  }
  torch::Tensor curve = torch::zeros({K, curve_epochs}, f32);
  struct CurveWrite {
    torch::Tensor rows, cols, steps_per_epoch;
  };
  std::map<int64_t, CurveWrite> curve_writes;
  for (const auto& [at, ends] : sched.epoch_ends) {
    std::vector<int64_t> rows, cols;
    std::vector<float> spe_of;
    for (const auto& [k, epoch] : ends) {
      rows.push_back(k);
      cols.push_back(epoch - configs[k].start_epoch - 1);
      spe_of.push_back(static_cast<float>(sched.steps_per_epoch[k]));
    }
    curve_writes[at] = {torch::tensor(rows, torch::kInt64).to(device),
                        torch::tensor(cols, torch::kInt64).to(device),
                        torch::tensor(spe_of, torch::kFloat32).to(device)};
  }
  auto record_curve = [&](int64_t at_step) {
    auto it = curve_writes.find(at_step);
    if (it == curve_writes.end()) return;
    torch::NoGradGuard no_grad;
    const CurveWrite& w = it->second;
    curve.index_put_({w.rows, w.cols}, epoch_loss.index_select(0, w.rows) / w.steps_per_epoch);
  };
  std::vector<torch::Tensor>& params = net.params();
  const OptimizerSpec spec = SpecOf(options);
  // The optimiser's state: SGD's momentum or Adam's first moment, and Adam's second moment.
  std::vector<torch::Tensor> momentum, second;
  for (const auto& p : params) {
    momentum.push_back(torch::zeros_like(p).detach());
    if (HasSecondMoment(spec.kind)) second.push_back(torch::zeros_like(p).detach());
  }
  // Resumed models start from their checkpoints, at their own step (the sampler's and the epochs'
  // clock); fresh ones at step 0.
  const bool resumed = std::any_of(configs.begin(), configs.end(),
                                   [](const ModelConfig& c) { return c.start_epoch > 0; });
  torch::Tensor offsets = torch::tensor(sched.offsets, torch::kInt64).to(device);  // [K]
  torch::Tensor offsets_col = offsets.view({K, 1});
  if (resumed) {
    torch::NoGradGuard no_grad;
    for (int64_t k = 0; k < K; ++k) {
      if (configs[k].start_epoch == 0) continue;
      const auto& c = configs[k];
      const std::string at = "configuration " + std::to_string(k) + ": the checkpoint's ";
      SF_RETURN_IF_ERROR(CheckModelTensors(net, c.init_params, at + "parameters"));
      SF_RETURN_IF_ERROR(CheckModelTensors(net, c.init_momentum, at + "momentum"));
      for (size_t i = 0; i < params.size(); ++i) {
        params[i][k].copy_(c.init_params[i]);
        momentum[i][k].copy_(c.init_momentum[i]);
      }
    }
  }
  // The models' own steps now (the sampler's input): [K, 1], or the shared 0-dim step if no model
  // was resumed.
  auto own_step = [&]() { return resumed ? step + offsets_col : step; };
  auto epoch_start = [&]() { return torch::remainder(resumed ? step + offsets : step, spe).eq(0); };

  std::vector<int64_t> sample_shape = data.sample_shape();
  std::vector<int64_t> batch_shape{K, B};
  batch_shape.insert(batch_shape.end(), sample_shape.begin(), sample_shape.end());
  // Cast once, so every step gathers half the bytes in bf16.
  const torch::Tensor X = data.train.x.to(options.compute).contiguous();
  const torch::Tensor Y = data.train.y.contiguous();

  FusedNet::Kernels conv_kernels = FusedNet::Kernels::kBatchedMatmul;
  if (options.kernels == TrainOptions::Kernels::kPerModel ||
      (options.kernels == TrainOptions::Kernels::kAuto && device.is_cpu())) {
    conv_kernels = FusedNet::Kernels::kPerModel;
  }
  // The fused step kernel (cnn1d: one launch per step replaces gather, forward, backward and
  // update), or the LeNet convolution kernels (inside the autograd step).
  const bool lenet_step = fused_step && options.arch.name == "lenet";
  const TrainingLoss training_loss = LossOf(options.arch);
  const kernels::Precision step_precision = FusedPrecision(options);
  kernels::Cnn1dLayout step_layout;
  torch::Tensor step_loss;
  LenetConvSetup lenet;
  size_t lenet_first_layer = 0;  // The layer after the convolution stack (the flatten).
  if (lenet_step) {
    SF_ASSIGN_OR_RETURN(lenet.layout, LenetLayoutFor(net, data, options, K, B));
    lenet.precision = step_precision;
    lenet.threads = options.step_threads;
    lenet.x = X;
    while (net.layers()[lenet_first_layer].kind != Layer::kFlatten) ++lenet_first_layer;
  } else if (fused_step) {
    SF_ASSIGN_OR_RETURN(step_layout, Cnn1dLayoutFor(net, data, options, K, B));
    step_loss = torch::zeros({K}, f32);
  }
  // Each model's step size now: 0 once it has ended (`active` 0), else its own scaled by the
  // schedule.
  auto rate_now = [&](const torch::Tensor& active) {
    torch::Tensor r = lr * active;
    if (options.schedule != RateSchedule::kConstant) {
      r = r * ScheduleFactor(options.schedule, step, limit);
    }
    return r;
  };
  auto fused_train_step = [&]() {
    torch::Tensor idx = sampler.Indices(own_step()).contiguous();
    torch::Tensor active = step.lt(limit).to(torch::kFloat32);
    torch::Tensor lr_now = rate_now(active).contiguous();
    kernels::Cnn1dStepArgs args;
    args.x = X.data_ptr();
    args.y = Y.data_ptr<int64_t>();
    args.idx = idx.data_ptr<int64_t>();
    for (size_t i = 0; i < 6; ++i) {
      args.w[i] = params[i].data_ptr<float>();
      args.v[i] = momentum[i].data_ptr<float>();
    }
    args.lr = lr_now.data_ptr<float>();
    args.momentum = static_cast<float>(options.momentum);
    args.loss = step_loss.data_ptr<float>();
    RunFused(
        device, options.step_threads,
        [&](int threads) { kernels::RunCnn1dStepOnHost(step_layout, args, threads); },
        [&](int threads, void* stream, std::string* why) {
          return kernels::LaunchCnn1dStep(step_layout, args, step_precision, threads, stream, why);
        });
    torch::NoGradGuard no_grad;
    torch::Tensor fresh = epoch_start();
    epoch_loss.copy_(torch::where(fresh, torch::zeros_like(epoch_loss), epoch_loss) +
                     step_loss * active);
    step.add_(1);
  };
  // naive_bayes learns by counting, not by gradient: each step adds its batch's feature counts per
  // class to the model's statistics, kept where SGD keeps its momentum (so that checkpoints carry
  // them and a resumed model goes on counting): momentum[0] [K, features, classes] the counts'
  // sums, momentum[1] [K, 1, classes] the samples of each class. The parameters are then what
  // they give: weights log P(feature | class) (smoothed), biases the log prior of each class
  // (counts plus one) less the weights' share of the features' floor. A feature's count is its
  // standardised value less its channel's minimum over the training split, never negative there.
  torch::Tensor nb_floor, nb_smoothing;  // [1, 1, features]; [K, 1, 1].
  if (naive_bayes) {
    std::vector<int64_t> all_but_channel(sample_shape.size());
    std::iota(all_but_channel.begin(), all_but_channel.end(), 0);
    const torch::Tensor floor = X.amin(all_but_channel).to(torch::kFloat32);  // [C]
    const int64_t features = params[0].size(1);
    nb_floor = floor.repeat({features / floor.size(0)}).view({1, 1, features});
    std::vector<double> smoothing;
    for (const auto& c : configs) smoothing.push_back(c.smoothing);
    nb_smoothing = torch::tensor(smoothing, torch::kFloat64).to(f32).view({K, 1, 1});
  }
  auto naive_bayes_params = [&]() {
    const torch::Tensor& sums = momentum[0];
    const torch::Tensor& per_class = momentum[1];
    const torch::Tensor log_theta =
        (sums + nb_smoothing).log() -
        (sums.sum(1, true) + nb_smoothing * static_cast<double>(sums.size(1))).log();
    const torch::Tensor log_prior =
        (per_class + 1).log() - (per_class.sum(2, true) + per_class.size(2)).log();
    params[0].copy_(log_theta);
    params[1].copy_(log_prior - (nb_floor.transpose(1, 2) * log_theta).sum(1, true));
  };
  auto naive_bayes_step = [&]() {
    torch::NoGradGuard no_grad;
    torch::Tensor flat = sampler.Indices(own_step()).reshape({-1});
    torch::Tensor yb = Y.index_select(0, flat).view({K, B});
    torch::Tensor xb = X.index_select(0, flat).view(batch_shape);
    torch::Tensor loss = SampleLoss(training_loss, net.Forward(xb, options.compute), yb).mean(1);
    torch::Tensor active = step.lt(limit).to(torch::kFloat32);
    torch::Tensor onehot = torch::zeros({K, B, data.num_classes}, f32)
                               .scatter_(2, yb.unsqueeze(2), 1.0)
                               .mul_(active.view({K, 1, 1}));
    torch::Tensor counts = xb.to(torch::kFloat32).view({K, B, -1}) - nb_floor;
    momentum[0].add_(torch::bmm(counts.transpose(1, 2), onehot));
    momentum[1].add_(onehot.sum(1, true));
    naive_bayes_params();
    torch::Tensor fresh = epoch_start();
    epoch_loss.copy_(torch::where(fresh, torch::zeros_like(epoch_loss), epoch_loss) +
                     loss * active);
    step.add_(1);
  };
  auto train_step = [&]() {
    if (naive_bayes) return naive_bayes_step();
    if (fused_step && !lenet_step) return fused_train_step();
    torch::Tensor indices = sampler.Indices(own_step());
    torch::Tensor flat = indices.reshape({-1});
    torch::Tensor yb = Y.index_select(0, flat).view({K, B, 1});
    torch::Tensor logits;
    if (lenet_step) {
      // The convolutions in the fused kernels (which gather their own samples), the fully
      // connected layers as batched products.
      torch::Tensor feat =
          LenetConvFunction::apply(params[0], params[1], params[2], params[3], indices.contiguous(),
                                   reinterpret_cast<int64_t>(&lenet));
      logits = net.ForwardFrom(feat, lenet_first_layer, options.compute);
    } else {
      torch::Tensor xb = X.index_select(0, flat).view(batch_shape);
      logits = net.Forward(xb, options.compute, conv_kernels);
    }
    torch::Tensor loss = SampleLoss(training_loss, logits, yb.squeeze(2)).mean(1);  // [K]
    std::vector<torch::Tensor> grads = torch::autograd::grad({loss.sum()}, params);
    torch::NoGradGuard no_grad;
    torch::Tensor active = step.lt(limit).to(torch::kFloat32);
    ApplyUpdate(spec, params, grads, rate_now(active), weight_decay,
                HasSecondMoment(spec.kind) ? step + 1 : torch::Tensor(), momentum, second);
    torch::Tensor fresh = epoch_start();
    epoch_loss.copy_(torch::where(fresh, torch::zeros_like(epoch_loss), epoch_loss) +
                     loss.detach() * active);
    step.add_(1);
  };

  BundleResult result;
  result.models.resize(K);
  std::vector<torch::Tensor> final_momentum;
  for (const auto& m : momentum) final_momentum.push_back(torch::empty_like(m));
  const int64_t elem = options.compute == torch::kFloat32 ? 4 : 2;
  const int64_t chunk = EvalChunk(K, net.ActivationsPerSample(), options.eval_budget_bytes, elem);
  const std::vector<int64_t> sel_support = ClassSupport(data, 0, data.SelectionSize());
  const std::vector<int64_t> hold_support =
      ClassSupport(data, data.SelectionSize(), data.test.size());
  auto evaluate = [&](int64_t at_step) {
    torch::NoGradGuard no_grad;
    const int64_t n = data.test.size();
    const int64_t sel = data.SelectionSize();
    torch::Tensor sel_correct = torch::zeros({K}, i64);
    torch::Tensor hold_correct = torch::zeros({K}, i64);
    // [K, classes]: correct predictions by true class, for balanced accuracy.
    torch::Tensor sel_class = torch::zeros({K, data.num_classes}, i64);
    torch::Tensor hold_class = torch::zeros({K, data.num_classes}, i64);
    const bool confusion = data.num_classes <= kMaxConfusionClasses;
    const int64_t cells = confusion ? data.num_classes * data.num_classes : 0;
    torch::Tensor sel_conf = torch::zeros({K, cells}, i64),
                  hold_conf = torch::zeros({K, cells}, i64);
    torch::Tensor loss_sum = torch::zeros({K}, f32);
    torch::Tensor probs;  // [K, n, classes], float16: what ensembles are built from.
    if (options.keep_predictions) {
      probs = torch::empty({K, n, data.num_classes},
                           torch::TensorOptions().dtype(torch::kHalf).device(device));
    }
    for (int64_t lo = 0; lo < n; lo += chunk) {
      int64_t hi = std::min(n, lo + chunk);
      torch::Tensor logits = net.ForwardShared(data.test.x.slice(0, lo, hi), options.compute);
      torch::Tensor y = data.test.y.slice(0, lo, hi).view({1, hi - lo});
      const torch::Tensor predicted = logits.argmax(2);  // [K, n]
      torch::Tensor hit = predicted.eq(y);
      const int64_t split = std::clamp<int64_t>(sel - lo, 0, hi - lo);
      sel_correct += hit.slice(1, 0, split).sum(1);
      hold_correct += hit.slice(1, split).sum(1);
      torch::Tensor by_class = y.expand({K, hi - lo});
      torch::Tensor hits = hit.to(torch::kInt64);
      sel_class.scatter_add_(1, by_class.slice(1, 0, split), hits.slice(1, 0, split));
      hold_class.scatter_add_(1, by_class.slice(1, split), hits.slice(1, split));
      if (confusion) {
        AddConfusion(by_class.slice(1, 0, split), predicted.slice(1, 0, split), data.num_classes,
                     sel_conf);
        AddConfusion(by_class.slice(1, split), predicted.slice(1, split), data.num_classes,
                     hold_conf);
      }
      // One log-softmax for the loss and the probabilities ensembles are built from.
      const torch::Tensor logp = torch::log_softmax(logits, 2);
      loss_sum += (training_loss == TrainingLoss::kCrossEntropy
                       ? CrossEntropyOf(logp, by_class)
                       : SampleLoss(training_loss, logits, by_class))
                      .sum(1);
      if (probs.defined()) probs.slice(1, lo, hi).copy_(logp.exp());
    }
    torch::Tensor sc = sel_correct.cpu(), hc = hold_correct.cpu(), l = loss_sum.cpu(),
                  t = epoch_loss.cpu(), curves = curve.cpu(), scc = sel_class.cpu().contiguous(),
                  hcc = hold_class.cpu().contiguous(), scf = sel_conf.cpu(), hcf = hold_conf.cpu();
    for (const auto& [k, epoch] : sched.evals.at(at_step)) {
      EvalPoint e;
      e.epoch = epoch;
      e.steps = at_step + sched.offsets[k];
      e.selection_correct = sc[k].item<int64_t>();
      e.holdout_correct = hc[k].item<int64_t>();
      e.correct = e.selection_correct + e.holdout_correct;
      e.test_accuracy = static_cast<double>(e.correct) / n;
      e.selection_accuracy = sel > 0 ? static_cast<double>(e.selection_correct) / sel : 0;
      e.holdout_accuracy = n > sel ? static_cast<double>(e.holdout_correct) / (n - sel) : 0;
      const int64_t* srow = scc[k].data_ptr<int64_t>();
      const int64_t* hrow = hcc[k].data_ptr<int64_t>();
      e.selection_class_correct.assign(srow, srow + data.num_classes);
      e.holdout_class_correct.assign(hrow, hrow + data.num_classes);
      if (confusion) {
        e.selection_confusion = Row(scf[k]);
        e.holdout_confusion = Row(hcf[k]);
      }
      e.selection_balanced_accuracy = BalancedAccuracy(e.selection_class_correct, sel_support);
      e.holdout_balanced_accuracy = BalancedAccuracy(e.holdout_class_correct, hold_support);
      e.test_loss = l[k].item<double>() / n;
      e.train_loss = t[k].item<double>() / sched.steps_per_epoch[k];
      const float* row = curves[k].data_ptr<float>();
      e.train_curve.assign(row, row + (epoch - configs[k].start_epoch));
      if (probs.defined()) e.probs = probs[k].cpu();
      result.models[k].evals.push_back(e);
      // A model that has ended keeps its parameters (its step size is masked to 0) but not its
      // momentum, which the step goes on updating: keep it as it was at its last step.
      if (epoch == configs[k].eval_epochs.back()) {
        for (size_t i = 0; i < momentum.size(); ++i) final_momentum[i][k].copy_(momentum[i][k]);
      }
    }
  };

  std::function<void()> run_step = train_step;
#ifdef SWEEPFARM_WITH_CUDA
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  std::optional<c10::cuda::CUDAStream> side;
  if (device.is_cuda() && options.cuda_graph) {
    // Warm up on a side stream (as capture requires), then restore the state the warm-up changed.
    std::vector<torch::Tensor> saved, saved_momentum, saved_second;
    for (auto& p : params) saved.push_back(p.detach().clone());
    for (auto& m : momentum) saved_momentum.push_back(m.clone());
    for (auto& m : second) saved_second.push_back(m.clone());
    side = c10::cuda::getStreamFromPool();
    at::cuda::CUDAEvent before;
    before.record(c10::cuda::getCurrentCUDAStream());
    before.block(*side);
    {
      c10::cuda::CUDAStreamGuard guard(*side);
      for (int i = 0; i < 3; ++i) train_step();
      graph = std::make_unique<at::cuda::CUDAGraph>();
      // Worker slots train bundles from several threads: one capture at a time, and (LibTorch 2)
      // in thread-local mode, so other threads' CUDA calls do not invalidate it.
      static std::mutex capture_mu;
      std::lock_guard<std::mutex> capture_lock(capture_mu);
#if TORCH_VERSION_MAJOR >= 2
      graph->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
#else
      graph->capture_begin();
#endif
      train_step();
      graph->capture_end();
    }
    at::cuda::CUDAEvent after;
    after.record(*side);
    after.block(c10::cuda::getCurrentCUDAStream());
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      params[i].copy_(saved[i]);
      momentum[i].copy_(saved_momentum[i]);
      if (!second.empty()) second[i].copy_(saved_second[i]);
    }
    step.zero_();
    epoch_loss.zero_();
    Synchronize(device);
    run_step = [&]() { graph->replay(); };
    result.used_cuda_graph = true;
  }
#endif

  Synchronize(device);
  auto start = Clock::now();
  for (int64_t s = 0; s < sched.max_steps; ++s) {
    if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) {
      return AbortedError("training cancelled after " + std::to_string(s) + " steps");
    }
    run_step();
    record_curve(s + 1);
    if (auto it = sched.evals.find(s + 1); it != sched.evals.end()) evaluate(s + 1);
  }
  Synchronize(device);
  result.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.fused_steps = sched.max_steps;
  for (int64_t k = 0; k < K; ++k) {
    result.model_steps += sched.total_steps[k];
    result.model_epochs +=
        static_cast<double>(configs[k].eval_epochs.back() - configs[k].start_epoch);
  }
  for (const auto& p : params) result.final_params.push_back(p.detach().cpu());
  for (const auto& m : final_momentum) result.final_momentum.push_back(m.cpu());
  result.forward_macs_per_sample = net.ForwardMacsPerSample();
  result.params_per_model = net.ParamsPerModel();
#ifdef SWEEPFARM_WITH_CUDA
  if (device.is_cuda()) {
    auto stats =
        c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    result.peak_device_bytes = stats.allocated_bytes[0].peak;  // [0]: the aggregate pool.
  }
#endif
  return result;
} catch (const std::exception& e) {
  return FromException(e, "fused training");
}

StatusOr<BundleResult> TrainSequential(const Dataset& data, const std::vector<ModelConfig>& configs,
                                       const TrainOptions& options) try {
  // Counting has no one-at-a-time formulation to compare with: the fused one, one core.
  if (IsNaiveBayes(options.arch)) {
    TrainOptions one = options;
    one.cpu_parallel = 1;
    one.cpu_max_fused = std::numeric_limits<int>::max();
    return TrainFused(data, configs, one);
  }
  SF_RETURN_IF_ERROR(ValidateModelConfigs(configs));
  SF_RETURN_IF_ERROR(CheckOptimizerOptions(configs, options));
  const OptimizerSpec spec = SpecOf(options);
  const TrainingLoss training_loss = LossOf(options.arch);
  const auto on_device = torch::TensorOptions().dtype(torch::kFloat32).device(options.device);
  const torch::Device device = options.device;
  const int64_t B = options.batch_size;
  BundleResult result;
  const std::vector<int64_t> sel_support = ClassSupport(data, 0, data.SelectionSize());
  const std::vector<int64_t> hold_support =
      ClassSupport(data, data.SelectionSize(), data.test.size());
  Synchronize(device);
  auto start = Clock::now();
  std::vector<std::vector<torch::Tensor>> finals, final_moms;
  for (const auto& config : configs) {
    SF_ASSIGN_OR_RETURN(FusedNet shape, FusedNet::Create(options.arch, data.sample_shape(),
                                                         data.num_classes, {config.seed}, device));
    const auto& layers = shape.layers();
    const int64_t sd = shape.spatial_dims();
    std::vector<torch::Tensor> w, mom;
    if (config.start_epoch > 0) {
      SF_RETURN_IF_ERROR(
          CheckModelTensors(shape, config.init_params, "the checkpoint's parameters"));
      SF_RETURN_IF_ERROR(
          CheckModelTensors(shape, config.init_momentum, "the checkpoint's momentum"));
      w = FusedNet::FromFusedLayout(layers, config.init_params, sd);
      mom = FusedNet::FromFusedLayout(layers, config.init_momentum, sd);
      for (auto& t : mom) t = t.to(device);
    } else {
      w = InitStandardWeights(layers, sd, config.seed);
      for (auto& t : w) mom.push_back(torch::zeros_like(t).to(device));
    }
    for (auto& t : w) t = t.to(device).set_requires_grad(true);
    std::vector<torch::Tensor> second;
    if (HasSecondMoment(spec.kind)) {
      for (auto& t : w) second.push_back(torch::zeros_like(t).detach());
    }
    const torch::Tensor decay =
        config.weight_decay > 0 ? torch::full({}, config.weight_decay, on_device) : torch::Tensor();
    const torch::Tensor constant_rate = torch::full({}, config.step_size, on_device);
    SF_ASSIGN_OR_RETURN(IndexSampler sampler,
                        IndexSampler::Create(
                            data.train, data.binary_issue_label, B,
                            {MixConfig{config.seed, config.issue_rate, config.data_size}}, device));
    const Schedule sched = MakeSchedule({config}, sampler.subset_sizes(), B);
    const int64_t offset = sched.offsets[0];
    constexpr int64_t kIndexChunk = 256;
    torch::Tensor indices;
    ModelResult model;
    double epoch_loss = 0;
    torch::Tensor epoch_loss_t = torch::zeros({}, torch::TensorOptions().device(device));
    const int64_t spe = sched.steps_per_epoch[0];
    torch::Tensor curve = torch::zeros({config.eval_epochs.back() - config.start_epoch},
                                       torch::TensorOptions().device(device));
    for (int64_t s = 0; s < sched.max_steps; ++s) {
      if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) {
        return AbortedError("training cancelled after " + std::to_string(s) + " steps");
      }
      // Indices a chunk of steps at a time: one call per step cost as much as a small model's
      // step on a CPU (about 25 small tensor operations).
      if (s % kIndexChunk == 0) {
        indices = sampler.IndicesForSteps(s + offset, std::min(kIndexChunk, sched.max_steps - s));
      }
      torch::Tensor idx = indices.select(0, s % kIndexChunk).reshape({-1});
      torch::Tensor logits =
          FusedNet::ReferenceForward(layers, w, data.train.x.index_select(0, idx), sd);
      torch::Tensor loss =
          BatchLoss(training_loss, logits, data.train.y.index_select(0, idx), at::Reduction::Mean);
      std::vector<torch::Tensor> grads = torch::autograd::grad({loss}, w);
      torch::NoGradGuard no_grad;
      torch::Tensor rate = constant_rate;
      if (options.schedule != RateSchedule::kConstant) {
        rate = rate * ScheduleFactor(options.schedule, torch::full({}, static_cast<double>(s)),
                                     torch::full({}, static_cast<double>(sched.max_steps)))
                          .to(device);
      }
      const torch::Tensor t = HasSecondMoment(spec.kind)
                                  ? torch::full({}, static_cast<double>(s + offset + 1), on_device)
                                  : torch::Tensor();
      ApplyUpdate(spec, w, grads, rate, decay, t, mom, second);
      if ((s + offset) % sched.steps_per_epoch[0] == 0) epoch_loss_t.zero_();
      epoch_loss_t += loss.detach();
      if (auto end = sched.epoch_ends.find(s + 1); end != sched.epoch_ends.end()) {
        // An epoch ended: its point of the learning curve.
        const int64_t epoch = end->second.front().second;
        curve.select(0, epoch - config.start_epoch - 1).copy_(epoch_loss_t / spe);
      }
      if (auto it = sched.evals.find(s + 1); it != sched.evals.end()) {
        epoch_loss = epoch_loss_t.item<double>();
        const int64_t n = data.test.size();
        const int64_t sel = data.SelectionSize();
        int64_t sel_correct = 0, hold_correct = 0;
        std::vector<int64_t> sel_class(data.num_classes, 0), hold_class(data.num_classes, 0);
        const bool confusion = data.num_classes <= kMaxConfusionClasses;
        const int64_t cells = confusion ? data.num_classes * data.num_classes : 0;
        torch::Tensor sel_conf = torch::zeros({cells}, torch::kInt64).to(device);
        torch::Tensor hold_conf = torch::zeros({cells}, torch::kInt64).to(device);
        double test_loss = 0;
        std::vector<torch::Tensor> probs;
        for (int64_t lo = 0; lo < n; lo += 512) {
          int64_t hi = std::min(n, lo + 512);
          torch::Tensor out =
              FusedNet::ReferenceForward(layers, w, data.test.x.slice(0, lo, hi), sd);
          torch::Tensor y = data.test.y.slice(0, lo, hi);
          const torch::Tensor predicted = out.argmax(1);
          torch::Tensor hit = predicted.eq(y);
          const int64_t split = std::clamp<int64_t>(sel - lo, 0, hi - lo);
          if (confusion) {
            AddConfusion(y.slice(0, 0, split), predicted.slice(0, 0, split), data.num_classes,
                         sel_conf);
            AddConfusion(y.slice(0, split), predicted.slice(0, split), data.num_classes, hold_conf);
          }
          sel_correct += hit.slice(0, 0, split).sum().item<int64_t>();
          hold_correct += hit.slice(0, split).sum().item<int64_t>();
          AddClassHits(hit.slice(0, 0, split), y.slice(0, 0, split), &sel_class);
          AddClassHits(hit.slice(0, split), y.slice(0, split), &hold_class);
          test_loss += BatchLoss(training_loss, out, y, at::Reduction::Sum).item<double>();
          if (options.keep_predictions) {
            probs.push_back(torch::softmax(out, 1).to(torch::kCPU, torch::kHalf));
          }
        }
        EvalPoint e;
        e.epoch = it->second.front().second;
        e.steps = s + 1 + offset;
        e.selection_correct = sel_correct;
        e.holdout_correct = hold_correct;
        e.correct = sel_correct + hold_correct;
        e.test_accuracy = static_cast<double>(e.correct) / n;
        e.selection_accuracy = sel > 0 ? static_cast<double>(sel_correct) / sel : 0;
        e.holdout_accuracy = n > sel ? static_cast<double>(hold_correct) / (n - sel) : 0;
        e.selection_class_correct = sel_class;
        e.holdout_class_correct = hold_class;
        if (confusion) {
          e.selection_confusion = Row(sel_conf);
          e.holdout_confusion = Row(hold_conf);
        }
        e.selection_balanced_accuracy = BalancedAccuracy(sel_class, sel_support);
        e.holdout_balanced_accuracy = BalancedAccuracy(hold_class, hold_support);
        e.test_loss = test_loss / n;
        e.train_loss = epoch_loss / sched.steps_per_epoch[0];
        torch::Tensor c = curve.slice(0, 0, e.epoch - config.start_epoch).cpu().contiguous();
        e.train_curve.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
        if (options.keep_predictions) e.probs = torch::cat(probs);
        model.evals.push_back(e);
      }
    }
    result.model_steps += sched.max_steps;
    result.fused_steps += sched.max_steps;
    result.model_epochs += static_cast<double>(config.eval_epochs.back() - config.start_epoch);
    result.models.push_back(model);
    std::vector<torch::Tensor> detached, detached_mom;
    for (auto& t : w) detached.push_back(t.detach().cpu());
    for (auto& t : mom) detached_mom.push_back(t.cpu());
    finals.push_back(FusedNet::ToFusedLayout(layers, detached, data.sample_shape()));
    final_moms.push_back(FusedNet::ToFusedLayout(layers, detached_mom, data.sample_shape()));
    result.forward_macs_per_sample = shape.ForwardMacsPerSample();
    result.params_per_model = shape.ParamsPerModel();
  }
  Synchronize(device);
  result.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (size_t i = 0; i < finals.front().size(); ++i) {
    std::vector<torch::Tensor> list, mom;
    for (const auto& f : finals) list.push_back(f[i]);
    for (const auto& f : final_moms) mom.push_back(f[i]);
    result.final_params.push_back(torch::stack(list));
    result.final_momentum.push_back(torch::stack(mom));
  }
  return result;
} catch (const std::exception& e) {
  return FromException(e, "sequential training");
}

}  // namespace sweepfarm::engine

// Trains a bundle of K model configurations as one fused model on one device (TrainFused), or one
// at a time with standard LibTorch layers (TrainSequential: the baseline and the reference the
// fused path is tested against). Functions are reentrant; each call owns its tensors.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <vector>

#include "common/status.h"
#include "engine/architecture.h"
#include "engine/dataset.h"
#include "engine/optimizer.h"
#include "engine/sampler.h"

namespace sweepfarm::engine {

// One model slot: configurations that differ only in epochs share a slot and are evaluated at each
// of their epoch counts (with a constant step size this equals separate runs).
struct ModelConfig {
  uint64_t seed = 0;
  double step_size = 5e-3;
  double issue_rate = -1;  // < 0: the training data's own mix.
  double data_size = 1.0;  // Fraction of the lab training split.
  std::vector<int64_t> eval_epochs{1};
  double weight_decay = 0;  // In [0, 1): L2 for sgd and adam, decoupled for adamw (optimizer.h).
  double smoothing = 1;     // > 0: naive_bayes's additive smoothing of its feature counts.
  // Resume: the model has already trained `start_epoch` epochs, and init_params/init_momentum
  // (FusedNet::params() layout of one model, no leading K, float32) are its parameters and SGD
  // momentum then; every eval epoch must exceed it. The data order is a function of (seed, step),
  // so a resumed run follows the same trajectory as one from scratch (up to float rounding).
  int64_t start_epoch = 0;
  std::vector<torch::Tensor> init_params;
  std::vector<torch::Tensor> init_momentum;
};

struct TrainOptions {
  ArchSpec arch;
  int64_t batch_size = 64;
  double momentum = 0.9;  // SGD's.
  // The update rule and the step-size schedule (engine/optimizer.h). Anything but SGD with a
  // constant step size trains from scratch (no resume), and configurations of a bundle that
  // differ in epochs are then separate models: each one's schedule spans its own steps.
  OptimizerKind optimizer = OptimizerKind::kSgd;
  RateSchedule schedule = RateSchedule::kConstant;
  torch::Device device = torch::kCPU;
  torch::ScalarType compute = torch::kFloat32;  // kBFloat16: bf16 matmuls, float32 master weights.
  bool tf32 = true;                             // CUDA float32 matmuls in TF32.
  bool cuda_graph = true;                       // Capture the step and replay it (CUDA only).
  // Convolution formulation; by default batched matmuls on CUDA and per-model kernels on CPUs.
  // kFusedStep: the fused kernels, one thread block per model, activations kept in shared memory:
  // for cnn1d the whole step as one kernel (kernels/cnn1d_step.h), for lenet the convolution stack
  // (kernels/lenet_conv.h); on CPUs an emulation of them, for tests only.
  enum class Kernels { kAuto, kBatchedMatmul, kPerModel, kFusedStep } kernels = Kernels::kAuto;
  // Batched-matmul convolutions recompute im2col patches in backward rather than keep them: less
  // memory (H200: 2.44 vs 3.02 MiB per 1-D model in bf16), but slower (1,390 vs 1,516
  // model-epochs/s at K=4096 bf16; LeNet 25 vs 34), so off unless memory is what limits the bundle.
  bool recompute_patches = false;
  // Threads per block of the fused step kernel (0: kernels::kDefaultBlockThreads on CUDA, 64 in the
  // host emulation); a multiple of 32, at most 512.
  int step_threads = 0;
  bool keep_predictions =
      false;  // Return each evaluation's class probabilities (EvalPoint::probs).
  // Checked between steps (no device sync): when set, training stops with ABORTED.
  const std::atomic<bool>* cancel = nullptr;
  int64_t eval_budget_bytes = 256LL << 20;  // Activation memory one evaluation chunk may use.
  // Most models in one fused bundle; larger bundles train as consecutive bundles. 0: on CUDA, as
  // many as 80% of the free device memory holds (EstimateTrainingBytesPerModel); no limit on CPUs.
  int64_t max_fused = 0;
  // CPU only: split the bundle into this many sub-bundles trained side by side, one core each
  // (0: one per intra-op thread). Small batched matmuls do not spread over cores by themselves.
  int cpu_parallel = 0;
  // CPU only: models per fused sub-bundle; larger ones fall out of cache and run slower.
  int cpu_max_fused = 4;
};

inline constexpr int64_t kMaxConfusionClasses = 32;

struct EvalPoint {
  int64_t epoch = 0;
  int64_t steps = 0;
  int64_t correct = 0;  // On the whole test split (selection + holdout).
  double test_accuracy = 0;
  // The test split's two disjoint parts (Dataset::SelectionSize): selection accuracy is what
  // trials and ensembles are chosen by; holdout accuracy only reports.
  int64_t selection_correct = 0;
  int64_t holdout_correct = 0;
  double selection_accuracy = 0;
  double holdout_accuracy = 0;
  // Correct predictions per class (index: the true class) on each part, and the balanced
  // accuracy they give: the mean over the classes present in the part of the share of their
  // samples predicted right (the sweep objective balanced_accuracy).
  std::vector<int64_t> selection_class_correct, holdout_class_correct;
  // The confusion matrices of each part, [true class][predicted class] row-major, for data of at
  // most kMaxConfusionClasses classes (empty above: a million counts per model of 1,000 classes).
  std::vector<int64_t> selection_confusion, holdout_confusion;
  double selection_balanced_accuracy = 0;
  double holdout_balanced_accuracy = 0;
  torch::Tensor probs;  // With keep_predictions: [test samples, classes] float16 on the CPU.
  double test_loss = 0;
  double train_loss = 0;  // Mean training loss over the last epoch.
  // The learning curve: the mean training loss of each epoch trained in this run, epochs
  // start_epoch + 1 .. epoch (the last is train_loss).
  std::vector<float> train_curve;
};

struct ModelResult {
  std::vector<EvalPoint> evals;  // One per requested epoch, ascending.
};

struct BundleResult {
  std::vector<ModelResult> models;
  std::vector<torch::Tensor> final_params;    // Fused layout, [K, ...] on the CPU.
  std::vector<torch::Tensor> final_momentum;  // The SGD momentum, the same layout (checkpoints).
  double wall_seconds = 0;
  int64_t fused_steps = 0;  // Steps of the fused loop (the longest model's).
  int64_t model_steps = 0;  // Useful steps summed over models (resumed: those trained here).
  double model_epochs = 0;  // Sum over models of the epochs trained here (last - start).
  int64_t forward_macs_per_sample = 0;
  int64_t params_per_model = 0;
  int64_t peak_device_bytes = 0;  // CUDA only: peak allocated during the bundle.
  bool used_cuda_graph = false;
};

// Checks configurations before any work: epochs, step sizes, mixes, resume points.
Status ValidateModelConfigs(const std::vector<ModelConfig>& configs);

// `data` must already live on options.device (Dataset::To). On CPUs a bundle of one model is
// trained by TrainSequential (nothing to fuse; the standard layers are faster there).
StatusOr<BundleResult> TrainFused(const Dataset& data, const std::vector<ModelConfig>& configs,
                                  const TrainOptions& options);
StatusOr<BundleResult> TrainSequential(const Dataset& data, const std::vector<ModelConfig>& configs,
                                       const TrainOptions& options);

// Per model and parameter tensor, max |a - b| / max |b|, maximised over all; a and b are
// fused-layout parameter lists ([K, ...]) of the same shapes.
double MaxRelativeParamDifference(const std::vector<torch::Tensor>& a,
                                  const std::vector<torch::Tensor>& b);

// Bytes one model of a fused bundle needs during training (activations, gradients, weights).
int64_t EstimateTrainingBytesPerModel(const FusedNet& net, const TrainOptions& options);

}  // namespace sweepfarm::engine

// K-model fused networks built from the catalogue's architectures (engine/catalog.h).
// A FusedNet holds K independent models as tensors with a leading model dimension; it is not
// thread-safe (one training loop owns it).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "common/status.h"
#include "engine/catalog.h"

namespace sweepfarm::engine {

// One layer of the network, in order.
struct Layer {
  enum Kind { kConv, kMaxPool, kMean, kFlatten, kLinear } kind;
  int64_t in = 0, out = 0, kernel = 0;
  bool relu = false;
  int64_t param_index = -1;            // Index of the weight in params(); the bias follows it.
  std::vector<int64_t> flatten_shape;  // kFlatten: the channels-last shape it flattens.
};

// Whether the engine has a layer stack for the catalogue's architecture of this name (tested for
// every one).
bool HasLayerStack(const std::string& architecture);

class FusedNet {
 public:
  // Builds K models; model k is initialised from seeds[k] alone (PyTorch's default init bounds),
  // so a model's initial weights do not depend on K or on its position in the bundle.
  static StatusOr<FusedNet> Create(const ArchSpec& spec, const std::vector<int64_t>& sample_shape,
                                   int64_t num_classes, const std::vector<uint64_t>& seeds,
                                   const torch::Device& device);

  int64_t k() const { return k_; }
  // Parameters: weights [K, fan_in, out] (convs in (channel, tap...) row order), biases [K, 1,
  // out].
  std::vector<torch::Tensor>& params() { return params_; }
  const std::vector<torch::Tensor>& params() const { return params_; }
  const std::vector<Layer>& layers() const { return layers_; }

  // How convolutions are computed. kBatchedMatmul: unfold + one batched matmul over all K models
  // (fast on GPUs). kPerModel: each model's convolutions through the backend's own convolution
  // (oneDNN on CPUs, where batched matmuls over im2col lose to it); everything else stays fused.
  enum class Kernels { kBatchedMatmul, kPerModel };

  // x: [K, B, sample...] channels-last, one batch per model. Returns logits [K, B, classes],
  // float32.
  torch::Tensor Forward(const torch::Tensor& x, torch::ScalarType compute,
                        Kernels kernels = Kernels::kBatchedMatmul) const;
  // Runs layers first.. on x [K, B, ...] (the output of the layers before them). Returns logits
  // [K, B, classes], float32.
  torch::Tensor ForwardFrom(const torch::Tensor& x, size_t first, torch::ScalarType compute) const {
    return RunLayers(x.to(compute), first, compute);
  }
  // x: [N, sample...], the same inputs for every model (evaluation). Returns [K, N, classes].
  torch::Tensor ForwardShared(const torch::Tensor& x, torch::ScalarType compute) const;

  // Multiply-accumulates of one forward pass of one model on one sample.
  int64_t ForwardMacsPerSample() const { return macs_; }
  int64_t ParamsPerModel() const;
  // Activation elements one sample produces in one model's forward pass (im2col included).
  int64_t ActivationsPerSample() const { return activations_; }

  // Standard-layout weights ([out, in, k...] convs, [out, in] linears) of one model to the fused
  // layout of one model (no leading K).
  static std::vector<torch::Tensor> ToFusedLayout(const std::vector<Layer>& layers,
                                                  const std::vector<torch::Tensor>& standard,
                                                  const std::vector<int64_t>& sample_shape);

  // The inverse of ToFusedLayout (for one model, no leading K).
  static std::vector<torch::Tensor> FromFusedLayout(const std::vector<Layer>& layers,
                                                    const std::vector<torch::Tensor>& fused,
                                                    int64_t spatial_dims);

  // Reference forward of one model with standard LibTorch ops (conv1d/conv2d/max_pool/linear) on
  // standard-layout weights; x is [B, sample...] channels-last. Used as the one-at-a-time baseline.
  static torch::Tensor ReferenceForward(const std::vector<Layer>& layers,
                                        const std::vector<torch::Tensor>& standard,
                                        const torch::Tensor& x, int64_t spatial_dims);

  int64_t spatial_dims() const { return spatial_dims_; }
  // Batched-matmul convolutions recompute their patches in backward instead of saving them.
  void set_recompute_patches(bool on) { recompute_patches_ = on; }
  const std::vector<int64_t>& sample_shape() const { return sample_shape_; }

 private:
  torch::Tensor RunLayers(torch::Tensor x, size_t first, torch::ScalarType compute) const;
  torch::Tensor ForwardPerModel(const torch::Tensor& x) const;

  int64_t k_ = 0;
  int64_t spatial_dims_ = 1;
  int64_t macs_ = 0;
  int64_t activations_ = 0;
  bool recompute_patches_ = true;
  std::vector<int64_t> sample_shape_;
  std::vector<Layer> layers_;
  std::vector<torch::Tensor> params_;
};

// OK if `tensors` (one model's, no leading K) are as many as `net`'s parameters and of their
// shapes; else INVALID_ARGUMENT starting with `what` and naming the first that is not.
Status CheckModelTensors(const FusedNet& net, const std::vector<torch::Tensor>& tensors,
                         const std::string& what);

// Initial standard-layout weights of one model from its seed (deterministic on every device).
std::vector<torch::Tensor> InitStandardWeights(const std::vector<Layer>& layers,
                                               int64_t spatial_dims, uint64_t seed);

}  // namespace sweepfarm::engine

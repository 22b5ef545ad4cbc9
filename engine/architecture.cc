// Fused K-model networks written as unfold + batched matrix products over a leading model dimension
// (channels-last), which beats cuDNN grouped convolutions for these small models.
#include "engine/architecture.h"

#include <cmath>
#include <map>

namespace sweepfarm::engine {
namespace {

// A flattened map's rows: fused weights take them in (spatial..., c) order (channels-last
// activations flattened), standard ones in (c, spatial...). `w` is [out, rows] in one order;
// the result in the other. `shape` is the map's channels-last shape.
torch::Tensor FusedRowsToStandard(const torch::Tensor& w, const std::vector<int64_t>& shape) {
  std::vector<int64_t> view{w.size(0)};
  view.insert(view.end(), shape.begin(), shape.end());
  std::vector<int64_t> perm{0, static_cast<int64_t>(shape.size())};
  for (int64_t i = 1; i < static_cast<int64_t>(shape.size()); ++i) perm.push_back(i);
  return w.reshape(view).permute(perm).reshape({w.size(0), -1});
}

torch::Tensor StandardRowsToFused(const torch::Tensor& w, const std::vector<int64_t>& shape) {
  std::vector<int64_t> view{w.size(0), shape.back()};
  view.insert(view.end(), shape.begin(), shape.end() - 1);
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i <= static_cast<int64_t>(shape.size()); ++i) perm.push_back(i);
  perm.push_back(1);
  return w.reshape(view).permute(perm).reshape({w.size(0), -1});
}

int64_t Width(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

// Appends layers while tracking the extent and channels they leave, their multiply-accumulates
// and activations. Square images and 1-D series: one extent per spatial dimension.
class StackBuilder {
 public:
  StackBuilder(const std::vector<int64_t>& sample_shape, int64_t kernel)
      : dims_(static_cast<int64_t>(sample_shape.size()) - 1),
        kernel_(kernel),
        extent_(sample_shape[0]),
        channels_(sample_shape.back()) {}

  void Conv(int64_t out) {
    extent_ = extent_ - kernel_ + 1;
    const auto positions = static_cast<int64_t>(std::pow(extent_, dims_));
    const auto taps = static_cast<int64_t>(std::pow(kernel_, dims_));
    acts_ += positions * (channels_ * taps + 2 * out);
    macs_ += positions * out * channels_ * taps;
    Add(Layer{Layer::kConv, channels_, out, kernel_, true});
    channels_ = out;
  }
  void Pool() {
    extent_ /= 2;
    Add(Layer{Layer::kMaxPool});
  }
  void Mean() { Add(Layer{Layer::kMean}); }
  // Flattens the (spatial..., channels) map; returns its width.
  int64_t Flatten() {
    Layer flat{Layer::kFlatten};
    for (int64_t i = 0; i < dims_; ++i) flat.flatten_shape.push_back(extent_);
    flat.flatten_shape.push_back(channels_);
    Add(flat);
    int64_t width = 1;
    for (auto d : flat.flatten_shape) width *= d;
    return width;
  }
  void Linear(int64_t in, int64_t out, bool relu) {
    macs_ += in * out;
    acts_ += in + out;
    Add(Layer{Layer::kLinear, in, out, 0, relu});
  }

  int64_t channels() const { return channels_; }
  int64_t params() const { return params_; }
  int64_t macs() const { return macs_; }
  int64_t activations() const { return acts_; }
  std::vector<Layer> TakeLayers() { return std::move(layers_); }

 private:
  void Add(Layer l) {
    if (l.kind == Layer::kConv || l.kind == Layer::kLinear) {
      l.param_index = params_;
      params_ += 2;
    }
    layers_.push_back(l);
  }

  int64_t dims_, kernel_, extent_, channels_;
  int64_t params_ = 0, macs_ = 0, acts_ = 0;
  std::vector<Layer> layers_;
};

// conv, pool, conv, global mean, linear: cnn1d over series, cnn2d over images.
void ConvPoolConvMean(const ArchSpec& spec, int64_t classes, StackBuilder& b) {
  b.Conv(spec.channels[0]);
  b.Pool();
  b.Conv(spec.channels[1]);
  b.Mean();
  b.Linear(b.channels(), classes, false);
}

void LeNet(const ArchSpec& spec, int64_t classes, StackBuilder& b) {
  b.Conv(spec.channels[0]);
  b.Pool();
  b.Conv(spec.channels[1]);
  b.Pool();
  int64_t in = b.Flatten();
  for (auto h : spec.hidden) {
    b.Linear(in, h, true);
    in = h;
  }
  b.Linear(in, classes, false);
}

// Flatten, then hidden ReLU layers (none: logistic regression), then a linear to the classes.
void FlatStack(const ArchSpec& spec, int64_t classes, StackBuilder& b) {
  int64_t in = b.Flatten();
  for (auto h : spec.hidden) {
    b.Linear(in, h, true);
    in = h;
  }
  b.Linear(in, classes, false);
}

using Stack = void (*)(const ArchSpec&, int64_t, StackBuilder&);

// Each architecture of the catalogue (engine/catalog.cc) and its layer stack.
const std::map<std::string, Stack>& Stacks() {
  static const auto* stacks = new std::map<std::string, Stack>{
      {"cnn1d", ConvPoolConvMean}, {"cnn2d", ConvPoolConvMean}, {"lenet", LeNet},
      {"logistic", FlatStack},     {"mlp", FlatStack},          {"linear_svm", FlatStack},
      {"naive_bayes", FlatStack},
  };
  return *stacks;
}

}  // namespace

bool HasLayerStack(const std::string& architecture) { return Stacks().count(architecture) > 0; }

StatusOr<FusedNet> FusedNet::Create(const ArchSpec& spec0, const std::vector<int64_t>& sample_shape,
                                    int64_t num_classes, const std::vector<uint64_t>& seeds,
                                    const torch::Device& device) {
  SF_ASSIGN_OR_RETURN(ArchSpec spec, ResolveArch(spec0, ChannelsFirstShape(sample_shape)));
  if (seeds.empty()) return InvalidArgumentError("a fused network needs at least one model");
  auto stack = Stacks().find(spec.name);
  if (stack == Stacks().end()) {
    return InternalError("architecture " + spec.name + " has no layer stack");
  }
  FusedNet net;
  net.k_ = static_cast<int64_t>(seeds.size());
  net.sample_shape_ = sample_shape;
  net.spatial_dims_ = static_cast<int64_t>(sample_shape.size()) - 1;
  StackBuilder builder(sample_shape, spec.kernel_size);
  stack->second(spec, num_classes, builder);
  const int64_t params = builder.params();
  net.layers_ = builder.TakeLayers();
  net.macs_ = builder.macs();
  net.activations_ = builder.activations();

  std::vector<std::vector<torch::Tensor>> per_param(params);
  for (uint64_t seed : seeds) {
    auto fused = ToFusedLayout(
        net.layers_, InitStandardWeights(net.layers_, net.spatial_dims_, seed), sample_shape);
    for (int64_t i = 0; i < params; ++i) per_param[i].push_back(fused[i]);
  }
  for (auto& list : per_param) {
    net.params_.push_back(torch::stack(list).to(device).contiguous().set_requires_grad(true));
  }
  return net;
}

int64_t FusedNet::ParamsPerModel() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.numel() / k_;
  return n;
}

std::vector<torch::Tensor> InitStandardWeights(const std::vector<Layer>& layers,
                                               int64_t spatial_dims, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  std::vector<torch::Tensor> out;
  for (const auto& l : layers) {
    if (l.param_index < 0) continue;
    std::vector<int64_t> shape{l.out, l.in};
    int64_t fan_in = l.in;
    if (l.kind == Layer::kConv) {
      for (int64_t i = 0; i < spatial_dims; ++i) {
        shape.push_back(l.kernel);
        fan_in *= l.kernel;
      }
    }
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    out.push_back((torch::rand(shape, gen, torch::kFloat32) * 2 - 1) * bound);
    out.push_back((torch::rand({l.out}, gen, torch::kFloat32) * 2 - 1) * bound);
  }
  return out;
}

std::vector<torch::Tensor> FusedNet::ToFusedLayout(const std::vector<Layer>& layers,
                                                   const std::vector<torch::Tensor>& standard,
                                                   const std::vector<int64_t>& sample_shape) {
  (void)sample_shape;
  std::vector<torch::Tensor> out;
  const Layer* flatten = nullptr;
  for (const auto& l : layers) {
    if (l.kind == Layer::kFlatten) flatten = &l;
    if (l.param_index < 0) continue;
    torch::Tensor w = standard[l.param_index];
    torch::Tensor b = standard[l.param_index + 1];
    if (l.kind == Layer::kConv) {
      w = w.reshape({l.out, -1}).t();
    } else if (flatten != nullptr && l.in == Width(flatten->flatten_shape)) {
      // The fused net flattens (spatial..., c); standard weights expect (c, spatial...).
      w = StandardRowsToFused(w, flatten->flatten_shape).t();
      flatten = nullptr;
    } else {
      w = w.t();
    }
    out.push_back(w.contiguous());
    out.push_back(b.view({1, l.out}).contiguous());
  }
  return out;
}

Status CheckModelTensors(const FusedNet& net, const std::vector<torch::Tensor>& tensors,
                         const std::string& what) {
  if (tensors.size() != net.params().size()) {
    return InvalidArgumentError(what + " has " + std::to_string(tensors.size()) +
                                " tensors, the model " + std::to_string(net.params().size()));
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].sizes() != net.params()[i][0].sizes()) {
      return InvalidArgumentError(what + " tensor " + std::to_string(i) + " has the wrong shape");
    }
  }
  return OkStatus();
}

std::vector<torch::Tensor> FusedNet::FromFusedLayout(const std::vector<Layer>& layers,
                                                     const std::vector<torch::Tensor>& fused,
                                                     int64_t spatial_dims) {
  std::vector<torch::Tensor> out;
  const Layer* flatten = nullptr;
  for (const auto& l : layers) {
    if (l.kind == Layer::kFlatten) flatten = &l;
    if (l.param_index < 0) continue;
    torch::Tensor w = fused[l.param_index].t();  // [out, fan_in]
    torch::Tensor b = fused[l.param_index + 1].reshape({l.out});
    if (l.kind == Layer::kConv) {
      std::vector<int64_t> shape{l.out, l.in};
      for (int64_t i = 0; i < spatial_dims; ++i) shape.push_back(l.kernel);
      w = w.reshape(shape);
    } else if (flatten != nullptr && l.in == Width(flatten->flatten_shape)) {
      w = FusedRowsToStandard(w, flatten->flatten_shape);
      flatten = nullptr;
    }
    out.push_back(w.contiguous());
    out.push_back(b.contiguous());
  }
  return out;
}

namespace {

// Patches (im2col) of x for a valid convolution with kernel k: [K, rows, C * k^d], rows = B * out
// positions. x is [K, B, spatial..., C].
torch::Tensor Patches(const torch::Tensor& x, int64_t k, int64_t spatial_dims) {
  torch::Tensor p = spatial_dims == 1 ? x.unfold(2, k, 1) : x.unfold(2, k, 1).unfold(3, k, 1);
  int64_t rows = x.size(1);
  for (int64_t i = 0; i < spatial_dims; ++i) rows *= p.size(2 + i);
  return p.reshape({x.size(0), rows, -1});
}

// Convolution as unfold + batched matmul that saves its input rather than its patches, and
// recomputes the patches in backward: the patches are the largest tensors of the step (5x the
// input for a 1-D kernel of 5, 25x for 5x5), so this cuts a step's saved memory by half or more.
class PatchConv : public torch::autograd::Function<PatchConv> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& w, const torch::Tensor& b, int64_t k,
                               int64_t spatial_dims) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["k"] = k;
    ctx->saved_data["d"] = spatial_dims;
    return torch::baddbmm(b, Patches(x, k, spatial_dims), w);  // [K, rows, out]
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& w = saved[1];
    const int64_t k = ctx->saved_data["k"].toInt();
    const int64_t d = ctx->saved_data["d"].toInt();
    const int64_t K = x.size(0);
    torch::Tensor g = grads[0].contiguous();  // [K, rows, out]
    torch::Tensor patches = Patches(x, k, d);
    torch::Tensor dw = torch::bmm(patches.transpose(1, 2), g);
    torch::Tensor db = g.sum(1, /*keepdim=*/true);
    torch::Tensor dx;
    if (ctx->needs_input_grad(0)) {
      // d(patches) = g @ w^T, folded back: each tap adds its slice into the input's gradient.
      const int64_t C = x.size(-1);
      std::vector<int64_t> shape{K, x.size(1)};
      for (int64_t i = 0; i < d; ++i) shape.push_back(x.size(2 + i) - k + 1);
      shape.push_back(C);
      for (int64_t i = 0; i < d; ++i) shape.push_back(k);
      torch::Tensor dp = torch::bmm(g, w.transpose(1, 2)).view(shape);  // [K,B,out...,C,k(,k)]
      dx = torch::zeros_like(x);
      if (d == 1) {
        const int64_t t = dp.size(2);
        for (int64_t j = 0; j < k; ++j) dx.slice(2, j, j + t).add_(dp.select(-1, j));
      } else {
        const int64_t h = dp.size(2), wd = dp.size(3);
        for (int64_t i = 0; i < k; ++i) {
          for (int64_t j = 0; j < k; ++j) {
            dx.slice(2, i, i + h).slice(3, j, j + wd).add_(dp.select(-1, j).select(-1, i));
          }
        }
      }
    }
    return {dx, dw, db, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor FusedNet::RunLayers(torch::Tensor x, size_t first, torch::ScalarType compute) const {
  const int64_t K = x.size(0), B = x.size(1);
  for (size_t li = first; li < layers_.size(); ++li) {
    const Layer& l = layers_[li];
    switch (l.kind) {
      case Layer::kConv: {
        const auto& w = params_[l.param_index];
        const auto& b = params_[l.param_index + 1];
        std::vector<int64_t> shape{K, B};
        for (int64_t i = 0; i < spatial_dims_; ++i) shape.push_back(x.size(2 + i) - l.kernel + 1);
        shape.push_back(l.out);
        if (recompute_patches_ && torch::GradMode::is_enabled()) {
          x = PatchConv::apply(x, w.to(compute), b.to(compute), l.kernel, spatial_dims_);
        } else {
          x = torch::baddbmm(b.to(compute), Patches(x, l.kernel, spatial_dims_), w.to(compute));
        }
        if (l.relu) x = torch::relu_(x);  // The convolution's backward does not need its output.
        x = x.view(shape);
        break;
      }
      case Layer::kMaxPool: {
        if (spatial_dims_ == 1) {
          int64_t t = x.size(2) / 2;
          x = x.slice(2, 0, 2 * t).view({K, B, t, 2, x.size(3)}).amax(3);
        } else {
          int64_t h = x.size(2) / 2, w = x.size(3) / 2;
          x = x.slice(2, 0, 2 * h).slice(3, 0, 2 * w).view({K, B, h, 2, w, 2, x.size(4)});
          x = x.amax({3, 5});
        }
        break;
      }
      case Layer::kMean: {
        std::vector<int64_t> dims;
        for (int64_t i = 0; i < spatial_dims_; ++i) dims.push_back(2 + i);
        x = x.mean(dims);
        break;
      }
      case Layer::kFlatten:
        x = x.reshape({K, B, -1});
        break;
      case Layer::kLinear: {
        x = torch::baddbmm(params_[l.param_index + 1].to(compute), x,
                           params_[l.param_index].to(compute));
        if (l.relu) x = torch::relu_(x);
        break;
      }
    }
  }
  return x.to(torch::kFloat32);
}

torch::Tensor FusedNet::Forward(const torch::Tensor& x, torch::ScalarType compute,
                                Kernels kernels) const {
  if (kernels == Kernels::kPerModel && compute == torch::kFloat32) return ForwardPerModel(x);
  return RunLayers(x.to(compute), 0, compute);
}

torch::Tensor FusedNet::ForwardPerModel(const torch::Tensor& x) const {
  // Standard-layout views of model k's fused weights, then the reference layers.
  std::vector<torch::Tensor> logits;
  for (int64_t k = 0; k < k_; ++k) {
    std::vector<torch::Tensor> standard(params_.size());
    const Layer* flatten = nullptr;
    for (const auto& l : layers_) {
      if (l.kind == Layer::kFlatten) flatten = &l;
      if (l.param_index < 0) continue;
      torch::Tensor w = params_[l.param_index][k];  // [fan_in, out]
      if (l.kind == Layer::kConv) {
        std::vector<int64_t> shape{l.out, l.in};
        for (int64_t i = 0; i < spatial_dims_; ++i) shape.push_back(l.kernel);
        w = w.t().reshape(shape);
      } else if (flatten != nullptr) {
        w = FusedRowsToStandard(w.t(), flatten->flatten_shape);
        flatten = nullptr;
      } else {
        w = w.t();
      }
      standard[l.param_index] = w;
      standard[l.param_index + 1] = params_[l.param_index + 1][k].view({l.out});
    }
    logits.push_back(ReferenceForward(layers_, standard, x[k], spatial_dims_));
  }
  return torch::stack(logits);
}

torch::Tensor FusedNet::ForwardShared(const torch::Tensor& x0, torch::ScalarType compute) const {
  const int64_t N = x0.size(0);
  torch::Tensor x = x0.to(compute);
  if (layers_.front().kind == Layer::kFlatten) {
    // Flattened first: the first linear's input is the same for all K models, one GEMM against
    // all their weights side by side.
    const Layer& l = layers_[1];
    const auto& w = params_[l.param_index];  // [K, F, O]
    torch::Tensor wide = w.permute({1, 0, 2}).reshape({w.size(1), k_ * l.out}).to(compute);
    torch::Tensor y = torch::mm(x.reshape({N, -1}), wide).view({N, k_, l.out}).permute({1, 0, 2});
    y = (y + params_[l.param_index + 1].to(compute).view({k_, 1, l.out})).contiguous();
    if (l.relu) y = torch::relu(y);
    return RunLayers(y, 2, compute);
  }
  // The first layer is a convolution whose patches are the same for all K models: one GEMM
  // against all K models' weights side by side, instead of K copies of the patches.
  const Layer& l = layers_.front();
  torch::Tensor patches;
  std::vector<int64_t> spatial;
  if (spatial_dims_ == 1) {
    patches = x.unfold(1, l.kernel, 1);  // [N, T1, C, k]
    spatial = {patches.size(1)};
  } else {
    patches = x.unfold(1, l.kernel, 1).unfold(2, l.kernel, 1);  // [N, H1, W1, C, k, k]
    spatial = {patches.size(1), patches.size(2)};
  }
  int64_t rows = N;
  for (auto s : spatial) rows *= s;
  patches = patches.reshape({rows, -1});
  const auto& w = params_[l.param_index];  // [K, F, O]
  torch::Tensor wide = w.permute({1, 0, 2}).reshape({w.size(1), k_ * l.out}).to(compute);
  torch::Tensor y = torch::mm(patches, wide);  // [rows, K*O]
  std::vector<int64_t> shape{N};
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  shape.push_back(k_);
  shape.push_back(l.out);
  y = y.view(shape);
  // Move K to the front: [K, N, spatial..., O].
  std::vector<int64_t> perm{static_cast<int64_t>(shape.size()) - 2, 0};
  for (int64_t i = 0; i < spatial_dims_; ++i) perm.push_back(1 + i);
  perm.push_back(static_cast<int64_t>(shape.size()) - 1);
  y = y.permute(perm);
  std::vector<int64_t> bias_shape(shape.size(), 1);
  bias_shape[0] = k_;
  bias_shape.back() = l.out;
  y = (y + params_[l.param_index + 1].to(compute).view(bias_shape)).contiguous();
  if (l.relu) y = torch::relu(y);
  return RunLayers(y, 1, compute);
}

torch::Tensor FusedNet::ReferenceForward(const std::vector<Layer>& layers,
                                         const std::vector<torch::Tensor>& standard,
                                         const torch::Tensor& x0, int64_t spatial_dims) {
  // Channels-last [B, spatial..., C] to channels-first [B, C, spatial...], copied: LibTorch's CPU
  // convolutions take a slow path on the strided view (the quickstart's CNN step: 1.74 ms with the
  // view, 1.08 ms with the copy, 1.03 ms on data stored channels-first; one thread).
  std::vector<int64_t> perm{0, x0.dim() - 1};
  for (int64_t i = 1; i < x0.dim() - 1; ++i) perm.push_back(i);
  torch::Tensor x = x0.permute(perm).contiguous();
  for (const auto& l : layers) {
    switch (l.kind) {
      case Layer::kConv:
        x = spatial_dims == 1
                ? torch::conv1d(x, standard[l.param_index], standard[l.param_index + 1])
                : torch::conv2d(x, standard[l.param_index], standard[l.param_index + 1]);
        if (l.relu) x = torch::relu(x);
        break;
      case Layer::kMaxPool:
        x = spatial_dims == 1 ? torch::max_pool1d(x, 2) : torch::max_pool2d(x, 2);
        break;
      case Layer::kMean:
        x = spatial_dims == 1 ? x.mean(2) : x.mean({2, 3});
        break;
      case Layer::kFlatten:
        x = x.flatten(1);
        break;
      case Layer::kLinear:
        x = torch::linear(x, standard[l.param_index], standard[l.param_index + 1]);
        if (l.relu) x = torch::relu(x);
        break;
    }
  }
  return x;
}

}  // namespace sweepfarm::engine

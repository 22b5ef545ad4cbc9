// Fused K-model networks written as unfold + batched matrix products over a leading model dimension
// (channels-last), which beats cuDNN grouped convolutions for these small models.
#include "worker/engine/architecture.h"

#include <cmath>

namespace sweepfarm::engine {
namespace {

std::string Join(const std::vector<int64_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return "[" + s + "]";
}

}  // namespace

bool IsKnownArchitecture(const std::string& name) { return name == "cnn1d" || name == "lenet"; }

StatusOr<ArchSpec> ResolveArch(ArchSpec spec, const std::vector<int64_t>& sample_shape) {
  if (spec.name == "cnn1d") {
    if (sample_shape.size() != 2) {
      return InvalidArgumentError("architecture cnn1d needs 1-D series samples, got shape " +
                                  Join(sample_shape));
    }
    if (spec.channels.empty()) spec.channels = {32, 64};
    if (!spec.hidden.empty()) return InvalidArgumentError("architecture cnn1d takes no hidden");
  } else if (spec.name == "lenet") {
    if (sample_shape.size() != 3) {
      return InvalidArgumentError("architecture lenet needs image samples, got shape " +
                                  Join(sample_shape));
    }
    if (spec.channels.empty()) spec.channels = {6, 16};
    if (spec.hidden.empty()) spec.hidden = {120, 84};
  } else {
    return InvalidArgumentError("unknown architecture \"" + spec.name + "\" (known: cnn1d, lenet)");
  }
  if (spec.channels.size() != 2) {
    return InvalidArgumentError("architecture " + spec.name + " takes exactly 2 channels, got " +
                                Join(spec.channels));
  }
  for (auto c : spec.channels) {
    if (c < 1 || c > 1024) return InvalidArgumentError("channels must be in [1, 1024]");
  }
  for (auto h : spec.hidden) {
    if (h < 1 || h > 4096) return InvalidArgumentError("hidden widths must be in [1, 4096]");
  }
  if (spec.kernel_size < 1 || spec.kernel_size > 15) {
    return InvalidArgumentError("kernel_size must be in [1, 15]");
  }
  // The spatial extent must survive conv, pool, conv (, pool).
  int64_t extent = sample_shape[0];
  extent = (extent - spec.kernel_size + 1) / 2 - spec.kernel_size + 1;
  if (spec.name == "lenet") extent /= 2;
  if (extent < 1) {
    return InvalidArgumentError("kernel_size " + std::to_string(spec.kernel_size) +
                                " too large for samples of shape " + Join(sample_shape));
  }
  return spec;
}

StatusOr<FusedNet> FusedNet::Create(const ArchSpec& spec0, const std::vector<int64_t>& sample_shape,
                                    int64_t num_classes, const std::vector<uint64_t>& seeds,
                                    const torch::Device& device) {
  SF_ASSIGN_OR_RETURN(ArchSpec spec, ResolveArch(spec0, sample_shape));
  if (seeds.empty()) return InvalidArgumentError("a fused network needs at least one model");
  FusedNet net;
  net.k_ = static_cast<int64_t>(seeds.size());
  net.sample_shape_ = sample_shape;
  net.spatial_dims_ = static_cast<int64_t>(sample_shape.size()) - 1;
  const int64_t d = net.spatial_dims_;
  const int64_t k = spec.kernel_size;
  int64_t params = 0;
  auto add = [&](Layer l) {
    if (l.kind == Layer::kConv || l.kind == Layer::kLinear) {
      l.param_index = params;
      params += 2;
    }
    net.layers_.push_back(l);
  };
  int64_t extent = sample_shape[0];  // Square images and 1-D series: one extent per spatial dim.
  int64_t channels = sample_shape.back();
  int64_t macs = 0;
  int64_t acts = 0;
  auto conv = [&](int64_t out) {
    extent = extent - k + 1;
    const int64_t positions = static_cast<int64_t>(std::pow(extent, d));
    acts += positions * (channels * static_cast<int64_t>(std::pow(k, d)) + 2 * out);
    macs += static_cast<int64_t>(std::pow(extent, d)) * out * channels *
            static_cast<int64_t>(std::pow(k, d));
    add(Layer{Layer::kConv, channels, out, k, true});
    channels = out;
  };
  auto pool = [&]() {
    extent /= 2;
    add(Layer{Layer::kMaxPool});
  };
  auto linear = [&](int64_t in, int64_t out, bool relu) {
    macs += in * out;
    add(Layer{Layer::kLinear, in, out, 0, relu});
  };
  if (spec.name == "cnn1d") {
    conv(spec.channels[0]);
    pool();
    conv(spec.channels[1]);
    add(Layer{Layer::kMean});
    linear(channels, num_classes, false);
  } else {
    if (sample_shape[0] != sample_shape[1])
      return InvalidArgumentError("lenet needs square images");
    conv(spec.channels[0]);
    pool();
    conv(spec.channels[1]);
    pool();
    Layer flat{Layer::kFlatten};
    flat.flatten_shape = {extent, extent, channels};
    add(flat);
    int64_t in = extent * extent * channels;
    for (auto h : spec.hidden) {
      linear(in, h, true);
      in = h;
    }
    linear(in, num_classes, false);
  }
  net.macs_ = macs;
  net.activations_ = acts;

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
    } else if (flatten != nullptr && l.in == flatten->flatten_shape[0] * flatten->flatten_shape[1] *
                                                 flatten->flatten_shape[2]) {
      // The fused net flattens (h, w, c); standard weights expect (c, h, w).
      const auto& s = flatten->flatten_shape;
      w = w.view({l.out, s[2], s[0], s[1]}).permute({0, 2, 3, 1}).reshape({l.out, -1}).t();
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
    } else if (flatten != nullptr && l.in == flatten->flatten_shape[0] * flatten->flatten_shape[1] *
                                                 flatten->flatten_shape[2]) {
      const auto& s = flatten->flatten_shape;
      w = w.reshape({l.out, s[0], s[1], s[2]}).permute({0, 3, 1, 2}).reshape({l.out, -1});
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
        // Fused rows are in (h, w, c) order; standard ones in (c, h, w).
        const auto& f = flatten->flatten_shape;
        w = w.t().reshape({l.out, f[0], f[1], f[2]}).permute({0, 3, 1, 2}).reshape({l.out, -1});
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
  // The first layer is a convolution whose patches are the same for all K models: one GEMM
  // against all K models' weights side by side, instead of K copies of the patches.
  const Layer& l = layers_.front();
  const int64_t N = x0.size(0);
  torch::Tensor x = x0.to(compute);
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
  // Channels-last [B, spatial..., C] to channels-first [B, C, spatial...].
  std::vector<int64_t> perm{0, x0.dim() - 1};
  for (int64_t i = 1; i < x0.dim() - 1; ++i) perm.push_back(i);
  torch::Tensor x = x0.permute(perm);
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

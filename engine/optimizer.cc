#include "engine/optimizer.h"

#include <cmath>

namespace sweepfarm::engine {
namespace {

// `v` (0-dim or [K]) shaped to broadcast along the first dimension of `like`.
torch::Tensor PerModel(const torch::Tensor& v, const torch::Tensor& like) {
  if (v.dim() == 0) return v;
  std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
  shape[0] = v.size(0);
  return v.view(shape);
}

}  // namespace

bool HasSecondMoment(OptimizerKind kind) { return kind != OptimizerKind::kSgd; }

torch::Tensor ScheduleFactor(RateSchedule schedule, const torch::Tensor& s,
                             const torch::Tensor& total) {
  const torch::Tensor progress =
      (s.to(torch::kFloat32) / total.to(torch::kFloat32).clamp_min(1)).clamp(0, 1);
  switch (schedule) {
    case RateSchedule::kConstant:
      return torch::ones_like(progress);
    case RateSchedule::kCosine:
      return 0.5 * (1 + torch::cos(progress * static_cast<float>(M_PI)));
    case RateSchedule::kStep: {
      const torch::Tensor drops =
          progress.ge(0.5).to(torch::kFloat32) + progress.ge(0.75).to(torch::kFloat32);
      return torch::pow(0.1, drops);
    }
  }
  return torch::ones_like(progress);
}

void ApplyUpdate(const OptimizerSpec& spec, const std::vector<torch::Tensor>& params,
                 const std::vector<torch::Tensor>& grads, const torch::Tensor& lr,
                 const torch::Tensor& weight_decay, const torch::Tensor& t,
                 std::vector<torch::Tensor>& first, std::vector<torch::Tensor>& second) {
  torch::NoGradGuard no_grad;
  const bool decay = weight_decay.defined();
  // Adam's bias corrections, the same for every parameter tensor.
  torch::Tensor bias1, bias2;
  if (spec.kind != OptimizerKind::kSgd) {
    const torch::Tensor tf = t.to(torch::kFloat32);
    bias1 = 1 - torch::pow(spec.beta1, tf);
    bias2 = (1 - torch::pow(spec.beta2, tf)).sqrt();
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const torch::Tensor& w = params[i];
    const torch::Tensor rate = PerModel(lr, w);
    const torch::Tensor wd = decay ? PerModel(weight_decay, w) : torch::Tensor();
    torch::Tensor g = grads[i];
    if (spec.kind == OptimizerKind::kSgd) {
      if (decay) g = g + wd * w;
      if (spec.momentum > 0) {
        first[i].mul_(spec.momentum).add_(g);
        w.sub_(first[i] * rate);
      } else {
        w.sub_(g * rate);
      }
      continue;
    }
    if (decay && spec.kind == OptimizerKind::kAdam) g = g + wd * w;
    if (decay && spec.kind == OptimizerKind::kAdamW) w.mul_(1 - rate * wd);
    first[i].mul_(spec.beta1).add_(g, 1 - spec.beta1);
    second[i].mul_(spec.beta2).addcmul_(g, g, 1 - spec.beta2);
    w.sub_(rate / PerModel(bias1, w) * first[i] /
           (second[i].sqrt() / PerModel(bias2, w) + spec.eps));
  }
}

}  // namespace sweepfarm::engine

// The optimisers and step-size schedules a model trains with: one home for the update rule, used by
// the fused trainer ([K, ...] parameters, one step size per model) and the one-at-a-time
// reference (one model) alike, so the two cannot drift apart.
//
// - sgd: w -= lr (v = momentum v + g), or w -= lr g without momentum (PerfPsychic's plain SGD);
//   weight decay adds wd w to the gradient (L2), as torch.optim.SGD does;
// - adam: torch.optim.Adam (bias-corrected moments; weight decay as L2 in the gradient);
// - adamw: torch.optim.AdamW (the decay decoupled: w -= lr wd w before the Adam step).
// Schedules scale each model's step size by its own progress s / T through its T steps: constant;
// cosine, 0.5 (1 + cos(pi s / T)) (Loshchilov and Hutter 2017, without restarts); step, x0.1 at
// half and again at three quarters of the steps (torchvision's MultiStepLR at 50% and 75%).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "engine/catalog.h"

namespace sweepfarm::engine {

struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::kSgd;
  double momentum = 0.9;                          // SGD only.
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam and AdamW.
};

// Whether the optimiser keeps a second state tensor per parameter (Adam's second moment).
bool HasSecondMoment(OptimizerKind kind);

// The factor a schedule puts on the step size at 0-based step `s` of `total` (same shapes, or
// either 0-dim); float32.
torch::Tensor ScheduleFactor(RateSchedule schedule, const torch::Tensor& s,
                             const torch::Tensor& total);

// One update of `params` in place from `grads`. `lr` and `weight_decay` are 0-dim (one model) or
// [K] (one per model along each tensor's first dimension); `t` is the 1-based step count (0-dim or
// [K]), for Adam's bias correction (SGD: may be undefined, as may weight_decay: none). `first`
// holds the momentum (SGD) or first moment, `second` the second moment (Adam, AdamW; empty for
// SGD); both are updated in place.
void ApplyUpdate(const OptimizerSpec& spec, const std::vector<torch::Tensor>& params,
                 const std::vector<torch::Tensor>& grads, const torch::Tensor& lr,
                 const torch::Tensor& weight_decay, const torch::Tensor& t,
                 std::vector<torch::Tensor>& first, std::vector<torch::Tensor>& second);

}  // namespace sweepfarm::engine

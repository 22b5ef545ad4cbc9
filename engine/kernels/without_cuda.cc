// Builds without the CUDA kernels (no CUDA LibTorch or no CUDA compiler): their entry points say
// so, and the trainer refuses the fused kernels on CUDA devices with that reason.
#include "engine/kernels/cnn1d_step.h"
#include "engine/kernels/fused.h"
#include "engine/kernels/lenet_conv.h"

#ifndef SWEEPFARM_WITH_CUDA_KERNELS
namespace sweepfarm::engine::kernels {

size_t DeviceSmemLimit() { return 0; }

bool LaunchCnn1dStep(const Cnn1dLayout&, const Cnn1dStepArgs&, Precision, int, void*,
                     std::string* why) {
  if (why != nullptr) *why = "this build has no CUDA kernels";
  return false;
}

bool LaunchLenetConv(const LenetConvLayout&, const LenetConvArgs&, Precision, bool, int, void*,
                     std::string* why) {
  if (why != nullptr) *why = "this build has no CUDA kernels";
  return false;
}

}  // namespace sweepfarm::engine::kernels
#endif

// CUDA build of the LeNet convolution-stack kernels (lenet_conv.h): one block per model, the bodies
// in lenet_conv_body.h, products on tensor cores (WMMA TF32 or bf16) or in exact float32.
#include "worker/engine/kernels/lenet_conv.h"
#include "worker/engine/kernels/wmma_policies.cuh"
// The body after the platform header that defines its block primitives.
#include "worker/engine/kernels/lenet_conv_body.h"

namespace sweepfarm::engine::kernels {
namespace {

template <class P>
__global__ void __launch_bounds__(kCnn1dMaxThreads, 1)
    LenetConvKernel(const LenetConvLayout layout, const LenetConvArgs args, bool backward) {
  extern __shared__ __align__(128) char smem[];
  LenetConvBody<P>(layout, args, smem, blockIdx.x, backward);
}

template <class P>
bool Launch(const LenetConvLayout& layout, const LenetConvArgs& args, bool backward, int threads,
            cudaStream_t stream, std::string* why) {
  return LaunchBlocks<LenetConvKernel<P>>(layout.shape.k, threads, layout.bytes,
                                          static_cast<int>(Cnn1dDeviceSmemLimit()), stream,
                                          "fused lenet kernel", why, layout, args, backward);
}

}  // namespace

bool LaunchLenetConv(const LenetConvLayout& layout, const LenetConvArgs& args,
                     Cnn1dPrecision precision, bool backward, int threads, void* stream,
                     std::string* why) {
  if (threads < 32 || threads > kCnn1dMaxThreads || threads % 32 != 0) {
    if (why != nullptr)
      *why = "fused lenet kernel: threads per block must be a multiple of 32 up to 512";
    return false;
  }
  auto s = static_cast<cudaStream_t>(stream);
  switch (precision) {
    case Cnn1dPrecision::kTf32:
      return Launch<WmmaTf32>(layout, args, backward, threads, s, why);
    case Cnn1dPrecision::kBf16:
      return Launch<WmmaBf16>(layout, args, backward, threads, s, why);
    case Cnn1dPrecision::kFloat32:
      break;
  }
  return Launch<SimtF32>(layout, args, backward, threads, s, why);
}

}  // namespace sweepfarm::engine::kernels

// CUDA build of the LeNet convolution-stack kernels (lenet_conv.h): one block per model, the bodies
// in lenet_conv_body.h, products on tensor cores (WMMA TF32 or bf16) or in exact float32.
#include "engine/kernels/lenet_conv.h"
#include "engine/kernels/wmma_policies.cuh"
// The body after the platform header that defines its block primitives.
#include "engine/kernels/lenet_conv_body.h"

namespace sweepfarm::engine::kernels {
namespace {

template <class P>
__global__ void __launch_bounds__(kMaxBlockThreads, 1)
    LenetConvKernel(const LenetConvLayout layout, const LenetConvArgs args, bool backward) {
  extern __shared__ __align__(128) char smem[];
  LenetConvBody<P>(layout, args, smem, blockIdx.x, backward);
}

}  // namespace

bool LaunchLenetConv(const LenetConvLayout& layout, const LenetConvArgs& args, Precision precision,
                     bool backward, int threads, void* stream, std::string* why) {
  return WithPolicy(precision, [&](auto policy) {
    return LaunchBlocks<LenetConvKernel<decltype(policy)>>(
        layout.shape.k, threads, layout.bytes, static_cast<cudaStream_t>(stream),
        "fused lenet kernel", why, layout, args, backward);
  });
}

}  // namespace sweepfarm::engine::kernels

// CUDA build of the fused cnn1d step (cnn1d_step.h): one block of threads per model, the body in
// cnn1d_step_body.h, products on tensor cores (WMMA TF32 or bf16) or on the SIMT lanes in exact
// float32 (wmma_policies.cuh).
#include "engine/kernels/cnn1d_step.h"
#include "engine/kernels/wmma_policies.cuh"
// The body after the platform header that defines its block primitives.
#include "engine/kernels/cnn1d_step_body.h"

namespace sweepfarm::engine::kernels {
namespace {

template <class P>
__global__ void __launch_bounds__(kMaxBlockThreads, 1)
    Cnn1dStepKernel(const Cnn1dLayout layout, const Cnn1dStepArgs args) {
  extern __shared__ __align__(128) char smem[];
  Cnn1dStepBody<P>(layout, args, smem, blockIdx.x);
}

}  // namespace

bool LaunchCnn1dStep(const Cnn1dLayout& layout, const Cnn1dStepArgs& args, Precision precision,
                     int threads, void* stream, std::string* why) {
  return WithPolicy(precision, [&](auto policy) {
    return LaunchBlocks<Cnn1dStepKernel<decltype(policy)>>(layout.shape.k, threads, layout.bytes,
                                                           static_cast<cudaStream_t>(stream),
                                                           "fused cnn1d kernel", why, layout, args);
  });
}

}  // namespace sweepfarm::engine::kernels

// CUDA build of the fused cnn1d step (cnn1d_step.h): one block of threads per model, the body in
// cnn1d_step_body.h, products on tensor cores (WMMA TF32 or bf16) or on the SIMT lanes in exact
// float32 (wmma_policies.cuh).
#include "worker/engine/kernels/cnn1d_step.h"
#include "worker/engine/kernels/wmma_policies.cuh"
// The body after the platform header that defines its block primitives.
#include "worker/engine/kernels/cnn1d_step_body.h"

namespace sweepfarm::engine::kernels {
namespace {

template <class P>
__global__ void __launch_bounds__(kCnn1dMaxThreads, 1)
    Cnn1dStepKernel(const Cnn1dLayout layout, const Cnn1dStepArgs args) {
  extern __shared__ __align__(128) char smem[];
  Cnn1dStepBody<P>(layout, args, smem, blockIdx.x);
}

template <class P>
bool Launch(const Cnn1dLayout& layout, const Cnn1dStepArgs& args, int threads, cudaStream_t stream,
            std::string* why) {
  return LaunchBlocks<Cnn1dStepKernel<P>>(layout.shape.k, threads, layout.bytes,
                                          static_cast<int>(Cnn1dDeviceSmemLimit()), stream,
                                          "fused cnn1d kernel", why, layout, args);
}

}  // namespace

size_t Cnn1dDeviceSmemLimit() {
  int device = 0, bytes = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 0;
  if (cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
      cudaSuccess) {
    return 0;
  }
  return static_cast<size_t>(bytes);
}

bool LaunchCnn1dStep(const Cnn1dLayout& layout, const Cnn1dStepArgs& args, Cnn1dPrecision precision,
                     int threads, void* stream, std::string* why) {
  if (threads < 32 || threads > kCnn1dMaxThreads || threads % 32 != 0) {
    if (why != nullptr)
      *why = "fused cnn1d kernel: threads per block must be a multiple of 32 up to 512";
    return false;
  }
  auto s = static_cast<cudaStream_t>(stream);
  switch (precision) {
    case Cnn1dPrecision::kTf32:
      return Launch<WmmaTf32>(layout, args, threads, s, why);
    case Cnn1dPrecision::kBf16:
      return Launch<WmmaBf16>(layout, args, threads, s, why);
    case Cnn1dPrecision::kFloat32:
      break;
  }
  return Launch<SimtF32>(layout, args, threads, s, why);
}

}  // namespace sweepfarm::engine::kernels

// CUDA build of the fused cnn1d step (cnn1d_step.h): one block of threads per model,
// the body in cnn1d_step_body.h, products on tensor cores (WMMA TF32 m16n16k8 or bf16 m16n16k16)
// or on the SIMT lanes in exact float32.
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <atomic>
#include <type_traits>

#include "worker/engine/kernels/cnn1d_step.h"

namespace sweepfarm::engine::kernels {
namespace {

__device__ __forceinline__ int SfThread() { return threadIdx.x; }
__device__ __forceinline__ int SfThreads() { return blockDim.x; }
__device__ __forceinline__ void SfSync() { __syncthreads(); }
__device__ __forceinline__ void SfAtomicAdd(float* p, float v) { atomicAdd(p, v); }

}  // namespace
}  // namespace sweepfarm::engine::kernels

#define SF_DEV __device__ __forceinline__
#include "worker/engine/kernels/cnn1d_step_body.h"

namespace sweepfarm::engine::kernels {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kMaxDevices = 64;

template <bool Col>
using WmmaLayout = std::conditional_t<Col, wmma::col_major, wmma::row_major>;

// TF32 tensor cores: float storage, inputs rounded to TF32 in the fragments (as cuBLAS does with
// TF32 allowed), float accumulation.
struct WmmaTf32 {
  using T = float;
  static constexpr int kStep = 8;
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
  static SF_DEV void Zero(Acc& acc) { wmma::fill_fragment(acc, 0.f); }
  static SF_DEV void Load(Acc& acc, const float* c, int ldc) {
    wmma::load_matrix_sync(acc, c, ldc, wmma::mem_row_major);
  }
  static SF_DEV void Store(float* c, int ldc, const Acc& acc) {
    wmma::store_matrix_sync(c, acc, ldc, wmma::mem_row_major);
  }
  template <bool ACol, bool BCol>
  static SF_DEV void Mma(Acc& acc, const float* a, int lda, const float* b, int ldb) {
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, WmmaLayout<ACol>> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, WmmaLayout<BCol>> fb;
    wmma::load_matrix_sync(fa, a, lda);
    wmma::load_matrix_sync(fb, b, ldb);
#pragma unroll
    for (int i = 0; i < fa.num_elements; ++i) fa.x[i] = wmma::__float_to_tf32(fa.x[i]);
#pragma unroll
    for (int i = 0; i < fb.num_elements; ++i) fb.x[i] = wmma::__float_to_tf32(fb.x[i]);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  static SF_DEV float ToT(float f) { return f; }
};

// bf16 tensor cores: bf16 inputs (activations, weights and gradients of the products), float
// accumulation and float master weights.
struct WmmaBf16 {
  using T = __nv_bfloat16;
  static constexpr int kStep = 16;
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
  static SF_DEV void Zero(Acc& acc) { wmma::fill_fragment(acc, 0.f); }
  static SF_DEV void Load(Acc& acc, const float* c, int ldc) {
    wmma::load_matrix_sync(acc, c, ldc, wmma::mem_row_major);
  }
  static SF_DEV void Store(float* c, int ldc, const Acc& acc) {
    wmma::store_matrix_sync(c, acc, ldc, wmma::mem_row_major);
  }
  template <bool ACol, bool BCol>
  static SF_DEV void Mma(Acc& acc, const T* a, int lda, const T* b, int ldb) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, WmmaLayout<ACol>> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, T, WmmaLayout<BCol>> fb;
    wmma::load_matrix_sync(fa, a, lda);
    wmma::load_matrix_sync(fb, b, ldb);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  static SF_DEV T ToT(float f) { return __float2bfloat16(f); }
};

template <class P>
__global__ void __launch_bounds__(kCnn1dMaxThreads, 1)
    Cnn1dStepKernel(const Cnn1dLayout layout, const Cnn1dStepArgs args) {
  extern __shared__ __align__(128) char smem[];
  Cnn1dStepBody<P>(layout, args, smem, blockIdx.x);
}

template <class P>
bool Launch(const Cnn1dLayout& layout, const Cnn1dStepArgs& args, int threads, cudaStream_t stream,
            std::string* why) {
  // Opting in to more than 48 KiB of shared memory is a per-function, per-device attribute. Set it
  // to the most the device allows, once per device, so that no call is made while a CUDA graph is
  // being captured (the trainer's warm-up steps run first).
  static std::atomic<bool> opted_in[kMaxDevices];
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess && (device < 0 || device >= kMaxDevices)) err = cudaErrorInvalidDevice;
  if (err == cudaSuccess && !opted_in[device].load()) {
    err = cudaFuncSetAttribute(Cnn1dStepKernel<P>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(Cnn1dDeviceSmemLimit()));
    if (err == cudaSuccess) opted_in[device].store(true);
  }
  if (err == cudaSuccess) {
    Cnn1dStepKernel<P><<<layout.shape.k, threads, layout.bytes, stream>>>(layout, args);
    err = cudaGetLastError();
  }
  if (err != cudaSuccess) {
    if (why != nullptr) *why = std::string("fused cnn1d kernel launch: ") + cudaGetErrorString(err);
    return false;
  }
  return true;
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

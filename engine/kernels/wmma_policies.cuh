// CUDA side of the fused kernels: the device definitions of the block contract of block_gemm.h,
// and tensor-core policies for it (WMMA TF32 m16n16k8 and bf16 m16n16k16, float accumulation).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <atomic>
#include <string>
#include <type_traits>

#include "engine/kernels/fused.h"

namespace sweepfarm::engine::kernels {

__device__ __forceinline__ int SfThread() { return threadIdx.x; }
__device__ __forceinline__ int SfThreads() { return blockDim.x; }
__device__ __forceinline__ void SfSync() { __syncthreads(); }
__device__ __forceinline__ void SfAtomicAdd(float* p, float v) { atomicAdd(p, v); }

}  // namespace sweepfarm::engine::kernels

#define SF_DEV __device__ __forceinline__
#include "engine/kernels/block_gemm.h"

namespace sweepfarm::engine::kernels {

namespace wmma = nvcuda::wmma;

template <bool Col>
using WmmaLayout = std::conditional_t<Col, wmma::col_major, wmma::row_major>;

// The float accumulator tile of a WMMA shape with inner dimension K, kept in row-major float
// memory.
template <int K>
struct WmmaAccumulator {
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, K, float>;
  static SF_DEV void Zero(Acc& acc) { wmma::fill_fragment(acc, 0.f); }
  static SF_DEV void Load(Acc& acc, const float* c, int ldc) {
    wmma::load_matrix_sync(acc, c, ldc, wmma::mem_row_major);
  }
  static SF_DEV void Store(float* c, int ldc, const Acc& acc) {
    wmma::store_matrix_sync(c, acc, ldc, wmma::mem_row_major);
  }
};

// TF32 tensor cores: float storage, inputs rounded to TF32 in the fragments (as cuBLAS does with
// TF32 allowed), float accumulation.
struct WmmaTf32 : WmmaAccumulator<8> {
  using T = float;
  static constexpr int kStep = 8;
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
struct WmmaBf16 : WmmaAccumulator<16> {
  using T = __nv_bfloat16;
  static constexpr int kStep = 16;
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

// Opting a kernel in to more than 48 KiB of dynamic shared memory is a per-function, per-device
// attribute. Sets it to the most the device allows (DeviceSmemLimit, asked only then), once per
// device and kernel (each kernel its own template instance), so that no call is made while a CUDA
// graph is being captured (the trainers' warm-up steps run first).
template <auto Kernel>
cudaError_t OptInSharedMemory() {
  constexpr int kMaxDevices = 64;
  static std::atomic<bool> opted_in[kMaxDevices];
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  if (device < 0 || device >= kMaxDevices) return cudaErrorInvalidDevice;
  if (opted_in[device].load()) return cudaSuccess;
  err = cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(DeviceSmemLimit()));
  if (err == cudaSuccess) opted_in[device].store(true);
  return err;
}

// Launches Kernel<<<blocks, threads, smem_bytes, stream>>>(args...) after opting it in to large
// shared memory; false with `why` (naming `what`) on bad threads or a launch error.
template <auto Kernel, class... Args>
bool LaunchBlocks(int blocks, int threads, size_t smem_bytes, cudaStream_t stream, const char* what,
                  std::string* why, Args... args) {
  if (threads < 32 || threads > kMaxBlockThreads || threads % 32 != 0) {
    if (why != nullptr) {
      *why = std::string(what) + ": threads per block must be a multiple of 32 up to " +
             std::to_string(kMaxBlockThreads);
    }
    return false;
  }
  cudaError_t err = OptInSharedMemory<Kernel>();
  if (err == cudaSuccess) {
    Kernel<<<blocks, threads, smem_bytes, stream>>>(args...);
    err = cudaGetLastError();
  }
  if (err != cudaSuccess) {
    if (why != nullptr) *why = std::string(what) + " launch: " + cudaGetErrorString(err);
    return false;
  }
  return true;
}

// Calls fn(P{}) with the product policy P of `precision`.
template <class Fn>
bool WithPolicy(Precision precision, Fn fn) {
  switch (precision) {
    case Precision::kTf32:
      return fn(WmmaTf32{});
    case Precision::kBf16:
      return fn(WmmaBf16{});
    case Precision::kFloat32:
      break;
  }
  return fn(SimtF32{});
}

}  // namespace sweepfarm::engine::kernels

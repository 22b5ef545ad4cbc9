// What every fused kernel shares (cnn1d_step.h, lenet_conv.h): the arithmetic of their products,
// the threads of a block, and the shared memory a block may use. Needs neither LibTorch nor CUDA.
#pragma once

#include <cstddef>

namespace sweepfarm::engine::kernels {

// The products' arithmetic: exact float32 (SIMT lanes), or tensor cores on TF32 or bf16 inputs
// with float accumulation.
enum class Precision { kFloat32, kTf32, kBf16 };

// Threads per block: the default, and the most a launch may ask for (the kernels are compiled for
// it: at most 128 registers per thread).
constexpr int kDefaultBlockThreads = 256;
constexpr int kMaxBlockThreads = 512;

// Largest dynamic shared memory one block may use on the current CUDA device (0 in builds without
// the CUDA kernels).
size_t DeviceSmemLimit();

}  // namespace sweepfarm::engine::kernels

// One whole training step of K telemetry CNNs (cnn1d: conv-ReLU-maxpool-conv-ReLU-mean-linear) in
// one kernel launch: one thread block per model gathers its batch, runs forward and backward on
// chunks of a few samples entirely in shared memory (no activation ever reaches device memory) and
// applies the SGD update to its own weights. docs/design.md ("Fused step kernel") explains the
// layout. The same body is compiled for CUDA (tensor cores: TF32 or bf16; or exact float32) and,
// for tests, for the host with threads standing in for a block's threads (float32 only).
//
// This header needs neither LibTorch nor CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/kernels/fused.h"

namespace sweepfarm::engine::kernels {

// Shapes of one bundle. The network is the engine's cnn1d (architecture.h): input [T, Cin]
// channels-last, conv(Cin->C1, ks) + ReLU, max-pool 2, conv(C1->C2, ks) + ReLU, mean over time,
// linear C2 -> classes.
struct Cnn1dShape {
  int k = 0;      // Models.
  int batch = 0;  // Samples per model and step.
  int t = 0;      // Time steps per sample.
  int cin = 0;    // Input channels.
  int ks = 0;     // Convolution kernel size.
  int c1 = 0, c2 = 0;
  int classes = 0;
};

// Where everything lives in one block's shared memory, computed on the host (MakeCnn1dLayout).
struct Cnn1dLayout {
  Cnn1dShape shape;
  int s = 0;                         // Samples per chunk.
  int t1 = 0, t1p = 0, t2 = 0;       // conv1 rows, pooled rows, conv2 rows (valid, per sample).
  int tx = 0, tp = 0;                // Rows per sample in the input and pooled buffers (padded).
  int padx = 0, padp = 0, padf = 0;  // Zero rows after xs, after p, before do2.
  int elem = 4;                      // Bytes per element of the matrix-product inputs (4 or 2).
  bool alias = true;                 // float storage: gradients overwrite activations in place.
  // Byte offsets into shared memory.
  size_t xs = 0, o1 = 0, do1 = 0, p = 0, do2 = 0, o2 = 0, dp = 0, w1 = 0, w2 = 0, dw1 = 0, dw2 = 0,
         small = 0, bytes = 0;
};

// Builds the layout, or says why this shape cannot run on the fused kernel (then the caller uses
// the batched-matmul path): channel counts must be multiples of 16, Cin * ks a multiple of 16,
// T a multiple of 4, at most 16 classes, and everything must fit in `smem_limit` bytes.
bool MakeCnn1dLayout(const Cnn1dShape& shape, Precision precision, size_t smem_limit,
                     Cnn1dLayout* layout, std::string* why);

// Device pointers (or host pointers for the emulation). Parameters are the engine's fused layout:
// w1 [K, Cin*ks, C1] with rows in (channel, tap) order, b1 [K, C1], w2 [K, C1*ks, C2], b2 [K, C2],
// wf [K, C2, classes], bf [K, classes]; all float32, contiguous.
struct Cnn1dStepArgs {
  const void* x = nullptr;       // [N, T, Cin]: float32, or bf16 with Precision::kBf16.
  const int64_t* y = nullptr;    // [N] class labels.
  const int64_t* idx = nullptr;  // [K, batch] sample indices of this step.
  float* w[6] = {};              // w1, b1, w2, b2, wf, bf.
  float* v[6] = {};              // Momentum buffers, same shapes; unused when momentum == 0.
  const float* lr = nullptr;     // [K] step size of this step (0 for models that have finished).
  float momentum = 0;
  float* loss = nullptr;  // [K] out: mean training loss over the batch (before the update).
};

// Host emulation (`threads` a multiple of 32): the same body, one model after another, with float32
// products on float32 or (layout.elem == 2) bf16 inputs.
void RunCnn1dStepOnHost(const Cnn1dLayout& layout, const Cnn1dStepArgs& args, int threads = 64);

// Enqueues one step for all K models on `stream` (a cudaStream_t), `threads` (a multiple of 32, at
// most kMaxBlockThreads) per block. Returns false, with `why`, on a launch error. Only in builds
// with CUDA kernels (SWEEPFARM_WITH_CUDA_KERNELS).
bool LaunchCnn1dStep(const Cnn1dLayout& layout, const Cnn1dStepArgs& args, Precision precision,
                     int threads, void* stream, std::string* why);

}  // namespace sweepfarm::engine::kernels

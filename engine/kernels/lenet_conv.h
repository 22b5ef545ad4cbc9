// The convolutional stack of K LeNet-style models (conv-ReLU-maxpool-conv-ReLU-maxpool on square
// channels-last images), forward and backward, one thread block per model, every activation in
// shared memory. The forward kernel gathers each model's batch by index and writes only the pooled
// features [K, B, F]; the fully connected layers stay batched matrix products in LibTorch; the
// backward kernel recomputes the stack per sample from the same indices and writes the weight and
// bias gradients of both convolutions. docs/design.md explains the layout. Like cnn1d_step.h, the
// bodies are compiled for CUDA and, for tests, for the host emulation.
//
// This header needs neither LibTorch nor CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/kernels/fused.h"

namespace sweepfarm::engine::kernels {

struct LenetConvShape {
  int k = 0;      // Models.
  int batch = 0;  // Samples per model and step.
  int h = 0;      // Image height = width.
  int cin = 0;    // Input channels.
  int ks = 0;     // Kernel size (square).
  int c1 = 0, c2 = 0;
};

struct LenetConvLayout {
  LenetConvShape shape;
  int h1 = 0, p1 = 0, h2 = 0, p2 = 0;  // conv1, pool1, conv2, pool2 extents.
  int k1 = 0;                          // conv1 patch length, padded to a multiple of 16.
  int c1p = 0;                         // c1 padded to a multiple of 16.
  int m1 = 0;                          // conv1 output rows (h1 * h1, padded to 16).
  int m2 = 0;                          // conv2 output rows: h2 rows of p1 columns, padded to 16.
  int rows_p1 = 0;   // Rows of the pool1 buffer (p1 * p1 and the windows' overhang).
  int rows_dp1 = 0;  // p1 * p1 padded to 16.
  int front2 = 0;    // Zero rows before do2's row 0 (the largest shift of the transposed conv).
  int rows_do2 = 0;  // Rows of do2 from row 0.
  int elem = 4;
  bool alias = true;  // float storage: do1 overwrites o1.
  size_t xs = 0, a1 = 0, o1 = 0, do1 = 0, p1b = 0, o2 = 0, do2 = 0, dp1 = 0, w1 = 0, w2 = 0,
         dw1 = 0, dw2 = 0, small = 0, bytes = 0;
  int features() const { return p2 * p2 * shape.c2; }
};

// Builds the layout or says why the shape cannot run: c2 a multiple of 16, c1 and cin * ks * ks
// at most 64, and everything in `smem_limit` bytes.
bool MakeLenetConvLayout(const LenetConvShape& shape, Precision precision, size_t smem_limit,
                         LenetConvLayout* layout, std::string* why);

// Parameters in the engine's fused layout: w1 [K, cin*ks*ks, c1] (rows in (channel, row, column)
// order), b1 [K, c1], w2 [K, c1*ks*ks, c2], b2 [K, c2]; float32, contiguous.
struct LenetConvArgs {
  const void* x = nullptr;       // [N, h, h, cin]: float32, or bf16 with Precision::kBf16.
  const int64_t* idx = nullptr;  // [K, batch] sample indices.
  const float* w1 = nullptr;
  const float* b1 = nullptr;
  const float* w2 = nullptr;
  const float* b2 = nullptr;
  float* feat = nullptr;         // Forward out: [K, batch, features] float32, (row, col, ch) order.
  const float* dfeat = nullptr;  // Backward in: gradient of the loss by feat.
  float* dw1 = nullptr;          // Backward out (overwritten): the parameters' gradients.
  float* db1 = nullptr;
  float* dw2 = nullptr;
  float* db2 = nullptr;
};

void RunLenetConvOnHost(const LenetConvLayout& layout, const LenetConvArgs& args, bool backward,
                        int threads = 64);

bool LaunchLenetConv(const LenetConvLayout& layout, const LenetConvArgs& args, Precision precision,
                     bool backward, int threads, void* stream, std::string* why);

}  // namespace sweepfarm::engine::kernels

// The bodies of the LeNet convolution-stack kernels (lenet_conv.h), on the block-level products of
// block_gemm.h. One sample at a time per block: conv1 through an im2col buffer (its input has too
// few channels for in-place patches), conv2 as a sum over the kernel's rows of in-place patch
// products shifted by whole pooled rows (buffer rows are pixels, row-major, channels-last), and
// the transposed conv2 as a sum over taps of shifted products, as in cnn1d_step_body.h.
#pragma once

#include "engine/kernels/block_gemm.h"
#include "engine/kernels/lenet_conv.h"

namespace sweepfarm::engine::kernels {

// The first of the four values of a 2x2 window that is largest (LibTorch's max-pool order) and
// its index 0..3.
SF_DEV int FirstMax4(const float v[4]) {
  int best = 0;
  for (int i = 1; i < 4; ++i) {
    if (v[i] > v[best]) best = i;
  }
  return best;
}

// Adds `bias` to the four values of a 2x2 window and applies ReLU, in place; returns the index of
// the window's first maximum (val receives the values).
SF_DEV int BiasReluWindow(float* const at[4], float bias, float val[4]) {
  for (int q = 0; q < 4; ++q) {
    const float z = *at[q] + bias;
    val[q] = z > 0.f ? z : 0.f;
    *at[q] = val[q];
  }
  return FirstMax4(val);
}

template <class P>
SF_DEV void LenetConvBody(const LenetConvLayout& L, const LenetConvArgs& A, char* smem, int model,
                          bool backward) {
  using T = typename P::T;
  const LenetConvShape& sh = L.shape;
  const int H = sh.h, Cin = sh.cin, ks = sh.ks, C1 = sh.c1, C2 = sh.c2, B = sh.batch;
  const int H1 = L.h1, P1 = L.p1, P2 = L.p2, K1 = L.k1, C1P = L.c1p, M1 = L.m1, M2 = L.m2;
  const int F = P2 * P2 * C2, taps = ks * ks, n1 = Cin * taps;
  const int tid = SfThread(), nth = SfThreads();

  T* xs = reinterpret_cast<T*>(smem + L.xs);            // [H*H][Cin]
  T* a1 = reinterpret_cast<T*>(smem + L.a1);            // [M1][K1] conv1 patches
  float* o1 = reinterpret_cast<float*>(smem + L.o1);    // [M1][C1P]
  T* do1 = reinterpret_cast<T*>(smem + L.do1);          // [M1][C1P] (o1 itself when aliased)
  T* p1 = reinterpret_cast<T*>(smem + L.p1b);           // [rows_p1][C1P] pooled, row u*P1+v
  float* o2 = reinterpret_cast<float*>(smem + L.o2);    // [M2][C2], row i*P1+j (j < h2 valid)
  T* do2 = reinterpret_cast<T*>(smem + L.do2);          // [front2 + rows_do2][C2], row 0 here
  float* dp1 = reinterpret_cast<float*>(smem + L.dp1);  // [rows_dp1][C1P]
  T* w1s = reinterpret_cast<T*>(smem + L.w1);           // [K1][C1P]
  T* w2s = reinterpret_cast<T*>(smem + L.w2);           // [taps*C1P][C2], rows (tap, channel)
  float* dw1 = reinterpret_cast<float*>(smem + L.dw1);
  float* dw2 = reinterpret_cast<float*>(smem + L.dw2);
  float* b1 = reinterpret_cast<float*>(smem + L.small);  // [C1P]
  float* b2 = b1 + C1P;
  float* db1 = b2 + C2;
  float* db2 = db1 + C1P;

  const size_t mw1 = static_cast<size_t>(model) * n1 * C1;
  const size_t mw2 = static_cast<size_t>(model) * C1 * taps * C2;
  for (int i = tid; i < K1 * C1P; i += nth) {
    const int k = i / C1P, o = i % C1P;
    w1s[i] = P::ToT(k < n1 && o < C1 ? A.w1[mw1 + k * C1 + o] : 0.f);
    dw1[i] = 0.f;
  }
  for (int i = tid; i < taps * C1P * C2; i += nth) {
    const int t = i / (C1P * C2), c = (i / C2) % C1P, o = i % C2;
    w2s[i] = P::ToT(c < C1 ? A.w2[mw2 + (c * taps + t) * C2 + o] : 0.f);
    dw2[i] = 0.f;
  }
  for (int i = tid; i < C1P; i += nth) {
    b1[i] = i < C1 ? A.b1[static_cast<size_t>(model) * C1 + i] : 0.f;
    db1[i] = 0.f;
  }
  for (int i = tid; i < C2; i += nth) {
    b2[i] = A.b2[static_cast<size_t>(model) * C2 + i];
    db2[i] = 0.f;
  }
  for (int i = tid; i < (L.rows_p1 - P1 * P1) * C1P; i += nth) p1[P1 * P1 * C1P + i] = P::ToT(0.f);
  for (int i = tid; i < L.front2 * C2; i += nth) do2[i - L.front2 * C2] = P::ToT(0.f);
  SfSync();

  const T* x = static_cast<const T*>(A.x);
  const int image = H * H * Cin;
  for (int b = 0; b < B; ++b) {
    const int64_t n = A.idx[static_cast<size_t>(model) * B + b];
    for (int i = tid; i < image; i += nth) xs[i] = x[n * image + i];
    SfSync();

    // conv1 patches: row (i, j) of the h1 x h1 output, column (channel, dy, dx) as in the weights.
    for (int i = tid; i < M1 * K1; i += nth) {
      const int r = i / K1, k = i % K1;
      T v = P::ToT(0.f);
      if (r < H1 * H1 && k < n1) {
        const int c = k / taps, dy = (k / ks) % ks, dx = k % ks;
        v = xs[(((r / H1) + dy) * H + (r % H1) + dx) * Cin + c];
      }
      a1[i] = v;
    }
    SfSync();

    GemmTiles<P, false, false>(
        M1 / 16, C1P / 16, K1, [&](int r, int k) { return a1 + r * K1 + k; }, K1,
        [&](int k, int nn) { return w1s + k * C1P + nn; }, C1P, o1, C1P, false, 0);
    SfSync();

    // Bias and ReLU in place; 2x2 max-pool into p1.
    for (int i = tid; i < P1 * P1 * C1P; i += nth) {
      const int u = i / (P1 * C1P), v = (i / C1P) % P1, c = i % C1P;
      float* r0 = o1 + ((2 * u) * H1 + 2 * v) * C1P + c;
      float* const at[4] = {r0, r0 + C1P, r0 + H1 * C1P, r0 + H1 * C1P + C1P};
      float val[4];
      p1[(u * P1 + v) * C1P + c] = P::ToT(val[BiasReluWindow(at, b1[c], val)]);
    }
    SfSync();

    // conv2: for each kernel row dy, patches in place starting dy pooled rows further down.
    GemmTiles<P, false, false>(
        M2 / 16, C2 / 16, taps * C1P,
        [&](int r, int k) { return p1 + (r + (k / (ks * C1P)) * P1) * C1P + k % (ks * C1P); }, C1P,
        [&](int k, int nn) { return w2s + k * C2 + nn; }, C2, o2, C2, false, 0);
    SfSync();

    // Bias and ReLU in place; 2x2 max-pool into the features (forward: written out).
    for (int i = tid; i < P2 * P2 * C2; i += nth) {
      const int u = i / (P2 * C2), v = (i / C2) % P2, o = i % C2;
      float* r0 = o2 + ((2 * u) * P1 + 2 * v) * C2 + o;
      float* const at[4] = {r0, r0 + C2, r0 + P1 * C2, r0 + P1 * C2 + C2};
      float val[4];
      const int best = BiasReluWindow(at, b2[o], val);
      if (!backward) A.feat[(static_cast<size_t>(model) * B + b) * F + i] = val[best];
    }
    SfSync();
    if (!backward) continue;

    for (int i = tid; i < L.rows_do2 * C2; i += nth) do2[i] = P::ToT(0.f);
    SfSync();
    // Through pool2 and ReLU: each feature's gradient goes to its window's first maximum.
    for (int i = tid; i < P2 * P2 * C2; i += nth) {
      const int u = i / (P2 * C2), v = (i / C2) % P2, o = i % C2;
      const int r0 = (2 * u) * P1 + 2 * v;
      const int rows[4] = {r0, r0 + 1, r0 + P1, r0 + P1 + 1};
      float val[4];
      for (int q = 0; q < 4; ++q) val[q] = o2[rows[q] * C2 + o];
      const int best = FirstMax4(val);
      if (val[best] > 0.f) {
        const float g = A.dfeat[(static_cast<size_t>(model) * B + b) * F + i];
        do2[rows[best] * C2 + o] = P::ToT(g);
        SfAtomicAdd(&db2[o], g);
      }
    }
    SfSync();

    // dw2 += patches^T do2 for each kernel row; dp1 = sum over taps of do2 shifted down by the
    // tap (zero rows above and in the unused columns) times the tap's weights.
    const int row_tiles = ks * C1P / 16, tiles = row_tiles * (C2 / 16);
    for (int dy = 0; dy < ks; ++dy) {
      GemmTiles<P, true, false>(
          row_tiles, C2 / 16, M2, [&](int j, int r) { return p1 + (r + dy * P1) * C1P + j; }, C1P,
          [&](int r, int nn) { return do2 + r * C2 + nn; }, C2, dw2 + dy * ks * C1P * C2, C2, true,
          dy * tiles);
    }
    GemmTiles<P, false, true>(
        L.rows_dp1 / 16, C1P / 16, taps * C2,
        [&](int q, int k) {
          const int t = k / C2;
          return do2 + (q - (t / ks) * P1 - t % ks) * C2 + k % C2;
        },
        C2, [&](int k, int nn) { return w2s + ((k / C2) * C1P + nn) * C2 + k % C2; }, C2, dp1, C1P,
        false, ks * tiles);
    SfSync();

    // Through pool1 and ReLU; rows outside every window get no gradient.
    for (int i = tid; i < P1 * P1 * C1P; i += nth) {
      const int u = i / (P1 * C1P), v = (i / C1P) % P1, c = i % C1P;
      const int e0 = ((2 * u) * H1 + 2 * v) * C1P + c;
      const int at[4] = {e0, e0 + C1P, e0 + H1 * C1P, e0 + H1 * C1P + C1P};
      float val[4];
      for (int q = 0; q < 4; ++q) val[q] = o1[at[q]];  // Read before the aliased writes.
      const int best = FirstMax4(val);
      const float g = val[best] > 0.f ? dp1[(u * P1 + v) * C1P + c] : 0.f;
      for (int q = 0; q < 4; ++q) do1[at[q]] = P::ToT(q == best ? g : 0.f);
      if (g != 0.f) SfAtomicAdd(&db1[c], g);
    }
    for (int i = tid; i < M1 * C1P; i += nth) {
      const int r = i / C1P;
      if (r >= H1 * H1 || r / H1 >= 2 * P1 || r % H1 >= 2 * P1) do1[i] = P::ToT(0.f);
    }
    SfSync();

    // dw1 += patches^T do1.
    GemmTiles<P, true, false>(
        K1 / 16, C1P / 16, M1, [&](int k, int r) { return a1 + r * K1 + k; }, K1,
        [&](int r, int nn) { return do1 + r * C1P + nn; }, C1P, dw1, C1P, true, 0);
    SfSync();
  }
  if (!backward) return;
  for (int i = tid; i < n1 * C1; i += nth) {
    A.dw1[mw1 + i] = dw1[(i / C1) * C1P + i % C1];
  }
  for (int i = tid; i < C1; i += nth) A.db1[static_cast<size_t>(model) * C1 + i] = db1[i];
  for (int i = tid; i < C1 * taps * C2; i += nth) {
    const int row = i / C2, o = i % C2, c = row / taps, t = row % taps;
    A.dw2[mw2 + i] = dw2[(t * C1P + c) * C2 + o];
  }
  for (int i = tid; i < C2; i += nth) A.db2[static_cast<size_t>(model) * C2 + i] = db2[i];
}

}  // namespace sweepfarm::engine::kernels

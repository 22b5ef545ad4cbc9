// The body of the fused cnn1d training step (cnn1d_step.h), written once for CUDA and for the host
// emulation, on the block-level products of block_gemm.h (whose contract the includer meets).
// Every buffer row holds the channels of one time step (channels-last), so a convolution's
// patches are rows of overlapping windows: patch row r of a buffer with C channels starts at
// element r * C and is ks * C long. The products read them in place (no im2col copy).
#pragma once

#include "engine/kernels/block_gemm.h"
#include "engine/kernels/cnn1d_step.h"

namespace sweepfarm::engine::kernels {

constexpr int kCnn1dMaxClasses = 16;

// Where element i of a convolution weight's shared-memory copy ([ks*cin][cout], rows (tap,
// channel), as patches are laid out) sits in the engine's fused layout ([cin*ks][cout], rows
// (channel, tap)).
SF_DEV int FusedConvOffset(int i, int cin, int cout, int ks) {
  const int j = i / cout, o = i % cout, tap = j / cin, c = j % cin;
  return (c * ks + tap) * cout + o;
}

template <class P>
SF_DEV void Cnn1dStepBody(const Cnn1dLayout& L, const Cnn1dStepArgs& A, char* smem, int model) {
  using T = typename P::T;
  const Cnn1dShape& sh = L.shape;
  const int S = L.s, Tx = L.tx, Tp = L.tp, T1p = L.t1p, T2 = L.t2;
  const int Cin = sh.cin, ks = sh.ks, C1 = sh.c1, C2 = sh.c2, NC = sh.classes, B = sh.batch;
  const int tid = SfThread(), nth = SfThreads();

  T* xs = reinterpret_cast<T*>(smem + L.xs);          // [S*Tx + padx][Cin]
  float* o1 = reinterpret_cast<float*>(smem + L.o1);  // [S*Tx][C1]
  T* do1 = reinterpret_cast<T*>(smem + L.do1);        // [S*Tx][C1] (o1 itself when aliased)
  T* p = reinterpret_cast<T*>(smem + L.p);            // [S*Tp + padp][C1]
  T* do2 = reinterpret_cast<T*>(smem + L.do2);        // [padf + S*Tp][C2], row 0 at do2
  float* o2 = reinterpret_cast<float*>(smem + L.o2);  // [S*Tp][C2] (do2 itself when aliased)
  float* dp = reinterpret_cast<float*>(smem + L.dp);  // [S*Tp][C1]
  T* w1s = reinterpret_cast<T*>(smem + L.w1);         // [ks*Cin][C1], rows (tap, channel)
  T* w2s = reinterpret_cast<T*>(smem + L.w2);         // [ks*C1][C2], rows (tap, channel)
  float* dw1 = reinterpret_cast<float*>(smem + L.dw1);
  float* dw2 = reinterpret_cast<float*>(smem + L.dw2);
  float* b1 = reinterpret_cast<float*>(smem + L.small);
  float* b2 = b1 + C1;
  float* wf = b2 + C2;  // [C2][NC]
  float* bf = wf + C2 * NC;
  float* db1 = bf + NC;
  float* db2 = db1 + C1;
  float* dwf = db2 + C2;
  float* dbf = dwf + C2 * NC;
  float* feat = dbf + NC;  // [S][C2]
  float* dfeat = feat + S * C2;
  float* dl = dfeat + S * C2;  // [S][NC]
  float* loss_acc = dl + S * NC;
  int* labels = reinterpret_cast<int*>(loss_acc + 1);  // [S]

  const int n1 = Cin * ks * C1, n2 = C1 * ks * C2, nf = C2 * NC;
  float* gw1 = A.w[0] + static_cast<size_t>(model) * n1;
  float* gb1 = A.w[1] + static_cast<size_t>(model) * C1;
  float* gw2 = A.w[2] + static_cast<size_t>(model) * n2;
  float* gb2 = A.w[3] + static_cast<size_t>(model) * C2;
  float* gwf = A.w[4] + static_cast<size_t>(model) * nf;
  float* gbf = A.w[5] + static_cast<size_t>(model) * NC;
  const int64_t* idx = A.idx + static_cast<size_t>(model) * B;
  const T* x = static_cast<const T*>(A.x);

  // Weights into shared memory, reordered so that patch rows (tap, channel) meet weight rows.
  for (int i = tid; i < n1; i += nth) {
    w1s[i] = P::ToT(gw1[FusedConvOffset(i, Cin, C1, ks)]);
    dw1[i] = 0.f;
  }
  for (int i = tid; i < n2; i += nth) {
    w2s[i] = P::ToT(gw2[FusedConvOffset(i, C1, C2, ks)]);
    dw2[i] = 0.f;
  }
  for (int i = tid; i < C1; i += nth) b1[i] = gb1[i], db1[i] = 0.f;
  for (int i = tid; i < C2; i += nth) b2[i] = gb2[i], db2[i] = 0.f;
  for (int i = tid; i < nf; i += nth) wf[i] = gwf[i], dwf[i] = 0.f;
  for (int i = tid; i < NC; i += nth) bf[i] = gbf[i], dbf[i] = 0.f;
  if (tid == 0) *loss_acc = 0.f;
  // Padding rows are read by overlapping windows but never written: zero them once.
  for (int i = tid; i < S * Tx * Cin; i += nth) {
    if ((i / Cin) % Tx >= sh.t) xs[i] = P::ToT(0.f);
  }
  for (int i = tid; i < L.padx * Cin; i += nth) xs[S * Tx * Cin + i] = P::ToT(0.f);
  for (int i = tid; i < L.padp * C1; i += nth) p[S * Tp * C1 + i] = P::ToT(0.f);
  for (int i = tid; i < L.padf * C2; i += nth) do2[i - L.padf * C2] = P::ToT(0.f);
  SfSync();

  for (int b0 = 0; b0 < B; b0 += S) {
    // Gather this chunk's samples.
    const int row_elems = sh.t * Cin;
    for (int i = tid; i < S * row_elems; i += nth) {
      const int s = i / row_elems, e = i % row_elems;
      xs[(s * Tx) * Cin + e] = x[idx[b0 + s] * row_elems + e];
    }
    for (int s = tid; s < S; s += nth) labels[s] = static_cast<int>(A.y[idx[b0 + s]]);
    SfSync();

    // conv1: o1[r][o] = sum_j xs[r*Cin + j] w1s[j][o] over all S*Tx rows (rows past a sample's
    // valid windows read the next sample and are ignored).
    GemmTiles<P, false, false>(
        S * Tx / 16, C1 / 16, Cin * ks, [&](int r, int k) { return xs + r * Cin + k; }, Cin,
        [&](int k, int n) { return w1s + k * C1 + n; }, C1, o1, C1, false, 0);
    SfSync();

    // Bias and ReLU in place; max-pool pairs into p (rows t1p..Tp of each sample are zero).
    for (int i = tid; i < S * Tp * C1; i += nth) {
      const int s = i / (Tp * C1), u = (i / C1) % Tp, c = i % C1;
      float pv = 0.f;
      if (u < T1p) {
        float* r0 = o1 + (s * Tx + 2 * u) * C1 + c;
        const float a = r0[0] + b1[c], b = r0[C1] + b1[c];
        const float ra = a > 0.f ? a : 0.f, rb = b > 0.f ? b : 0.f;
        r0[0] = ra;
        r0[C1] = rb;
        pv = rb > ra ? rb : ra;
      }
      p[(s * Tp + u) * C1 + c] = P::ToT(pv);
    }
    SfSync();

    // conv2: o2 = patches(p) w2s.
    GemmTiles<P, false, false>(
        S * Tp / 16, C2 / 16, C1 * ks, [&](int r, int k) { return p + r * C1 + k; }, C1,
        [&](int k, int n) { return w2s + k * C2 + n; }, C2, o2, C2, false, 0);
    SfSync();

    // Bias and ReLU in place, mean over the valid rows.
    for (int i = tid; i < S * C2; i += nth) {
      const int s = i / C2, o = i % C2;
      float sum = 0.f;
      for (int u = 0; u < T2; ++u) {
        float* v = o2 + (s * Tp + u) * C2 + o;
        const float a = *v + b2[o];
        const float r = a > 0.f ? a : 0.f;
        *v = r;
        sum += r;
      }
      feat[i] = sum / static_cast<float>(T2);
    }
    SfSync();

    // Linear layer, softmax cross-entropy, and its gradient (mean over the whole batch).
    for (int s = tid; s < S; s += nth) {
      float logit[kCnn1dMaxClasses];
      float mx = -3.0e38f;
      for (int c = 0; c < NC; ++c) {
        float z = bf[c];
        for (int o = 0; o < C2; ++o) z += feat[s * C2 + o] * wf[o * NC + c];
        logit[c] = z;
        mx = z > mx ? z : mx;
      }
      float se = 0.f;
      for (int c = 0; c < NC; ++c) se += expf(logit[c] - mx);
      const float lse = mx + logf(se);
      const int y = labels[s];
      SfAtomicAdd(loss_acc, lse - logit[y]);
      for (int c = 0; c < NC; ++c) {
        const float prob = expf(logit[c] - lse);
        dl[s * NC + c] = (prob - (c == y ? 1.f : 0.f)) / static_cast<float>(B);
      }
    }
    SfSync();

    for (int i = tid; i < S * C2; i += nth) {
      const int s = i / C2, o = i % C2;
      float g = 0.f;
      for (int c = 0; c < NC; ++c) g += dl[s * NC + c] * wf[o * NC + c];
      dfeat[i] = g;
    }
    for (int i = tid; i < nf; i += nth) {
      const int o = i / NC, c = i % NC;
      float g = 0.f;
      for (int s = 0; s < S; ++s) g += feat[s * C2 + o] * dl[s * NC + c];
      dwf[i] += g;
    }
    for (int c = tid; c < NC; c += nth) {
      float g = 0.f;
      for (int s = 0; s < S; ++s) g += dl[s * NC + c];
      dbf[c] += g;
    }
    SfSync();

    // Through the mean and ReLU of conv2: do2 (zero on rows past the valid ones).
    for (int i = tid; i < S * C2; i += nth) {
      const int s = i / C2, o = i % C2;
      const float g = dfeat[i] / static_cast<float>(T2);
      float sum = 0.f;
      for (int u = 0; u < Tp; ++u) {
        const int e = (s * Tp + u) * C2 + o;
        const float d = (u < T2 && o2[e] > 0.f) ? g : 0.f;  // Read before the aliased write.
        do2[e] = P::ToT(d);
        sum += d;
      }
      SfAtomicAdd(&db2[o], sum);
    }
    SfSync();

    // dw2 += patches(p)^T do2, and dp = the transposed convolution of do2: for each tap, do2
    // shifted down by the tap (zero rows above and between samples) times that tap's weights.
    GemmTiles<P, true, false>(
        C1 * ks / 16, C2 / 16, S * Tp, [&](int j, int r) { return p + r * C1 + j; }, C1,
        [&](int r, int n) { return do2 + r * C2 + n; }, C2, dw2, C2, true, 0);
    GemmTiles<P, false, true>(
        S * Tp / 16, C1 / 16, ks * C2,
        [&](int r, int k) { return do2 + (r - k / C2) * C2 + k % C2; }, C2,
        [&](int k, int n) { return w2s + ((k / C2) * C1 + n) * C2 + k % C2; }, C2, dp, C1, false,
        (C1 * ks / 16) * (C2 / 16));
    SfSync();

    // Through the max-pool (the first of equal values wins, as in LibTorch) and ReLU of conv1.
    for (int i = tid; i < S * C1; i += nth) {
      const int s = i / C1, c = i % C1;
      float sum = 0.f;
      for (int u = 0; 2 * u < Tx; ++u) {
        const int e = (s * Tx + 2 * u) * C1 + c;
        float ga = 0.f, gb = 0.f;
        if (u < T1p) {
          const float a = o1[e], b = o1[e + C1];  // Read before the aliased writes.
          const float g = dp[(s * Tp + u) * C1 + c];
          if (b > a) {
            gb = g;
          } else if (a > 0.f) {
            ga = g;
          }
        }
        do1[e] = P::ToT(ga);
        do1[e + C1] = P::ToT(gb);
        sum += ga + gb;
      }
      SfAtomicAdd(&db1[c], sum);
    }
    SfSync();

    // dw1 += patches(xs)^T do1.
    GemmTiles<P, true, false>(
        Cin * ks / 16, C1 / 16, S * Tx, [&](int j, int r) { return xs + r * Cin + j; }, Cin,
        [&](int r, int n) { return do1 + r * C1 + n; }, C1, dw1, C1, true, 0);
    SfSync();
  }

  // SGD (with momentum: v = m v + g; w -= lr v), each parameter back in its fused layout.
  const float lr = A.lr[model], m = A.momentum;
  auto update = [&](float* w, float* v, float g) {
    if (m > 0.f) {
      const float nv = m * *v + g;
      *v = nv;
      *w -= nv * lr;
    } else {
      *w -= g * lr;
    }
  };
  // Parameter p (n elements per model) from its gradient in shared memory; cin > 0 marks a
  // convolution weight, whose shared copy has rows (tap, channel).
  auto update_param = [&](int p, int n, const float* grad, int cin, int cout) {
    for (int i = tid; i < n; i += nth) {
      const size_t g =
          static_cast<size_t>(model) * n + (cin > 0 ? FusedConvOffset(i, cin, cout, ks) : i);
      update(A.w[p] + g, A.v[p] != nullptr ? A.v[p] + g : nullptr, grad[i]);
    }
  };
  update_param(0, n1, dw1, Cin, C1);
  update_param(1, C1, db1, 0, 0);
  update_param(2, n2, dw2, C1, C2);
  update_param(3, C2, db2, 0, 0);
  update_param(4, nf, dwf, 0, 0);
  update_param(5, NC, dbf, 0, 0);
  if (tid == 0) A.loss[model] = *loss_acc / static_cast<float>(B);
}

}  // namespace sweepfarm::engine::kernels

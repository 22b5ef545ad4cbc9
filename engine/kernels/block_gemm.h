// Block-level matrix products for the fused kernels (cnn1d_step, lenet_conv), written once for
// CUDA and for the host emulation. The includer defines:
//   SF_DEV                       function qualifier (__device__ __forceinline__, or inline)
//   int SfThread(), SfThreads()  this thread's index in the block, threads in the block
//   void SfSync()                block-wide barrier (__syncthreads)
//   void SfAtomicAdd(float*, float)  atomic add to shared memory
// A matrix-product policy P (Simt below; WMMA ones in wmma_policies.cuh) has:
//   using T                      element type of matrix-product inputs (float or bf16)
//   kStep                        inner-dimension step of one product
//   Acc, Zero(acc), Load(acc, c, ldc), Store(c, ldc, acc): a 16x16 float accumulator tile of one
//                                warp, loaded from / stored to row-major float memory
//   Mma<ACol, BCol>(acc, a, lda, b, ldb): acc += A (16 x kStep) * B (kStep x 16), A and B
//                                row-major (element (i, k) at a[i * lda + k]) or column-major
//                                (a[i + k * lda])
//   ToT(float)                   conversion to T
#pragma once

#ifndef SF_DEV
#error "include host_block.h (host) or wmma_policies.cuh (CUDA) before the kernel bodies"
#endif
// SF_CHECK_TILE(ptr, ld, elem_bytes): the host emulation checks every tile it loads or stores
// against the tensor cores' rules (a 32-byte aligned pointer, a leading dimension of a multiple
// of 16 bytes), so that a layout the WMMA policies could not load fails on CPUs too.
#ifndef SF_CHECK_TILE
#define SF_CHECK_TILE(ptr, ld, elem_bytes)
#endif

namespace sweepfarm::engine::kernels {

// Products on the SIMT lanes, float32 arithmetic on inputs of type TT (float: exact float32; the
// host emulation also runs it with a bf16 type): lane l owns row l / 2 and columns (l % 2) * 8 .. +
// 8 of the warp's 16 x 16 tile. Its inner step is that of the tensor-core policy for the same
// input type (8 for float, as TF32; 16 for 16-bit types, as bf16), so that the emulation walks
// the same tiles.
template <class TT>
struct Simt {
  using T = TT;
  static constexpr int kStep = sizeof(TT) == 2 ? 16 : 8;
  struct Acc {
    float v[8];
  };
  static SF_DEV int Row() { return (SfThread() & 31) >> 1; }
  static SF_DEV int Col() { return (SfThread() & 1) * 8; }
  static SF_DEV void Zero(Acc& acc) {
    for (int i = 0; i < 8; ++i) acc.v[i] = 0.f;
  }
  static SF_DEV void Load(Acc& acc, const float* c, int ldc) {
    SF_CHECK_TILE(c, ldc, 4);
    const float* row = c + Row() * ldc + Col();
    for (int i = 0; i < 8; ++i) acc.v[i] = row[i];
  }
  static SF_DEV void Store(float* c, int ldc, const Acc& acc) {
    SF_CHECK_TILE(c, ldc, 4);
    float* row = c + Row() * ldc + Col();
    for (int i = 0; i < 8; ++i) row[i] = acc.v[i];
  }
  template <bool ACol, bool BCol>
  static SF_DEV void Mma(Acc& acc, const T* a, int lda, const T* b, int ldb) {
    SF_CHECK_TILE(a, lda, sizeof(T));
    SF_CHECK_TILE(b, ldb, sizeof(T));
    const int r = Row(), c0 = Col();
    for (int k = 0; k < kStep; ++k) {
      const float av = static_cast<float>(ACol ? a[r + k * lda] : a[r * lda + k]);
      for (int i = 0; i < 8; ++i) {
        const float bv = static_cast<float>(BCol ? b[k + (c0 + i) * ldb] : b[k * ldb + c0 + i]);
        acc.v[i] += av * bv;
      }
    }
  }
  static SF_DEV T ToT(float f) { return T(f); }
};
using SimtF32 = Simt<float>;

// C (tiles_m*16 x tiles_n*16, row-major float, ldc) = or += the sum over k in [0, k_total) of
// A(row, k) B(k, col), where a_at(row0, k0) points at the 16 x kStep tile of A at (row0, k0) and
// b_at(k0, col0) at the kStep x 16 tile of B. Warps take tiles round-robin starting at `first`.
template <class P, bool ACol, bool BCol, class AAt, class BAt>
SF_DEV void GemmTiles(int tiles_m, int tiles_n, int k_total, AAt a_at, int lda, BAt b_at, int ldb,
                      float* c, int ldc, bool accumulate, int first) {
  const int nwarps = SfThreads() / 32;
  const int warp = (SfThread() / 32 + nwarps - first % nwarps) % nwarps;
  for (int t = warp; t < tiles_m * tiles_n; t += nwarps) {
    const int tm = t / tiles_n, tn = t % tiles_n;
    float* ct = c + tm * 16 * ldc + tn * 16;
    typename P::Acc acc;
    if (accumulate) {
      P::Load(acc, ct, ldc);
    } else {
      P::Zero(acc);
    }
    for (int k = 0; k < k_total; k += P::kStep) {
      P::template Mma<ACol, BCol>(acc, a_at(tm * 16, k), lda, b_at(k, tn * 16), ldb);
    }
    P::Store(ct, ldc, acc);
  }
}

}  // namespace sweepfarm::engine::kernels

// Host side of the LeNet convolution-stack kernels: the shared-memory layout, and the emulation of
// the kernel bodies on host threads (host_block.h) for tests on machines without a GPU.
#include <algorithm>
#include <string>

#include "engine/kernels/host_block.h"
#include "engine/kernels/lenet_conv.h"
// The body after the platform header that defines its block primitives.
#include "engine/kernels/lenet_conv_body.h"

namespace sweepfarm::engine::kernels {

using host::RoundUp;

bool MakeLenetConvLayout(const LenetConvShape& sh, Precision precision, size_t smem_limit,
                         LenetConvLayout* out, std::string* why) {
  auto fail = [&](const std::string& m) {
    if (why != nullptr) *why = "fused lenet kernel: " + m;
    return false;
  };
  if (sh.k < 1 || sh.batch < 1) return fail("needs at least one model and one sample");
  if (sh.c2 % 16 != 0) return fail("second-layer channels must be a multiple of 16");
  if (sh.c1 < 1 || sh.c1 > 64 || sh.cin < 1 || sh.cin * sh.ks * sh.ks > 64) {
    return fail("first-layer channels and patch length must be at most 64");
  }
  LenetConvLayout L;
  L.shape = sh;
  L.h1 = sh.h - sh.ks + 1;
  L.p1 = L.h1 / 2;
  L.h2 = L.p1 - sh.ks + 1;
  L.p2 = L.h2 / 2;
  if (sh.ks < 1 || L.h1 < 2 || L.p2 < 1) return fail("images too small for the kernel size");
  L.k1 = RoundUp(sh.cin * sh.ks * sh.ks, 16);
  L.c1p = RoundUp(sh.c1, 16);
  L.m1 = RoundUp(L.h1 * L.h1, 16);
  L.m2 = RoundUp(L.h2 * L.p1, 16);
  L.rows_p1 = std::max(L.p1 * L.p1, L.m2 + (sh.ks - 1) * L.p1 + sh.ks - 1);
  L.rows_dp1 = RoundUp(L.p1 * L.p1, 16);
  L.front2 = (sh.ks - 1) * L.p1 + sh.ks - 1;
  L.rows_do2 = std::max(L.rows_dp1, L.m2);
  L.elem = precision == Precision::kBf16 ? 2 : 4;
  L.alias = precision != Precision::kBf16;
  const size_t e = L.elem;
  host::SmemCarver smem;
  const int taps = sh.ks * sh.ks;
  L.xs = smem.Take(e * sh.h * sh.h * sh.cin);
  L.a1 = smem.Take(e * L.m1 * L.k1);
  L.o1 = smem.Take(4 * L.m1 * L.c1p);
  L.do1 = L.alias ? L.o1 : smem.Take(e * L.m1 * L.c1p);
  L.p1b = smem.Take(e * L.rows_p1 * L.c1p);
  L.o2 = smem.Take(4 * L.m2 * sh.c2);
  // do2's row 0 must sit on 32 bytes for the tensor-core loads: round the front rows up.
  const int front_rows = RoundUp(L.front2, std::max(1, static_cast<int>(32 / (e * sh.c2))));
  const size_t do2_base = smem.Take(e * (front_rows + L.rows_do2) * sh.c2);
  L.do2 = do2_base + e * front_rows * sh.c2;
  L.dp1 = smem.Take(4 * L.rows_dp1 * L.c1p);
  L.w1 = smem.Take(e * L.k1 * L.c1p);
  L.w2 = smem.Take(e * taps * L.c1p * sh.c2);
  L.dw1 = smem.Take(4 * L.k1 * L.c1p);
  L.dw2 = smem.Take(4 * taps * L.c1p * sh.c2);
  L.small = smem.Take(4 * 2 * (L.c1p + sh.c2));
  L.bytes = smem.bytes();
  if (L.bytes > smem_limit) {
    return fail("needs " + std::to_string(L.bytes) + " bytes of shared memory per model, " +
                std::to_string(smem_limit) + " available");
  }
  *out = L;
  return true;
}

void RunLenetConvOnHost(const LenetConvLayout& layout, const LenetConvArgs& args, bool backward,
                        int threads) {
  host::RunBlocks(layout.shape.k, threads, layout.bytes, [&](char* smem, int model) {
    if (layout.elem == 2) {
      LenetConvBody<Simt<host::Bf16>>(layout, args, smem, model, backward);
    } else {
      LenetConvBody<SimtF32>(layout, args, smem, model, backward);
    }
  });
}

}  // namespace sweepfarm::engine::kernels

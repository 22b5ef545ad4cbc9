// Host side of the fused cnn1d step: the shared-memory layout, and the emulation that runs the
// kernel body on host threads (one std::thread per CUDA thread of a block) for tests on machines
// without a GPU, with float32 or (for the bf16 layout) bf16 product inputs. The emulation checks
// the body's indexing, padding and phase order against the standard layers; the tensor-core
// policies are checked on a device by `sweepfarm-bench --check`.
#include <cmath>
#include <numeric>
#include <string>

#include "engine/kernels/cnn1d_step.h"
#include "engine/kernels/host_block.h"
// The body after the platform header that defines its block primitives.
#include "engine/kernels/cnn1d_step_body.h"

namespace sweepfarm::engine::kernels {

using host::RoundUp;

bool MakeCnn1dLayout(const Cnn1dShape& sh, Precision precision, size_t smem_limit, Cnn1dLayout* out,
                     std::string* why) {
  auto fail = [&](const std::string& m) {
    if (why != nullptr) *why = "fused cnn1d kernel: " + m;
    return false;
  };
  if (sh.k < 1 || sh.batch < 1) return fail("needs at least one model and one sample");
  if (sh.c1 % 16 != 0 || sh.c2 % 16 != 0) return fail("channels must be multiples of 16");
  if (sh.cin % 8 != 0 || (sh.cin * sh.ks) % 16 != 0) {
    return fail("input channels must be a multiple of 8, and times the kernel size of 16");
  }
  if (sh.classes < 1 || sh.classes > kCnn1dMaxClasses) return fail("at most 16 classes");
  Cnn1dLayout L;
  L.shape = sh;
  L.t1 = sh.t - sh.ks + 1;
  L.t1p = L.t1 / 2;
  L.t2 = L.t1p - sh.ks + 1;
  if (sh.ks < 1 || L.t1 < 2 || L.t2 < 1) return fail("series too short for the kernel size");
  L.elem = precision == Precision::kBf16 ? 2 : 4;
  L.alias = precision != Precision::kBf16;
  for (int s : {8, 4, 2, 1}) {
    if (sh.batch % s != 0) continue;
    const int q = 16 / std::gcd(s, 16);
    L.s = s;
    L.tx = RoundUp(sh.t, std::max(q, 2));
    L.tp = RoundUp(L.t1p, q);
    L.padx = L.padp = L.padf = sh.ks - 1;
    const size_t e = L.elem;
    host::SmemCarver smem;
    L.xs = smem.Take(e * (s * L.tx + L.padx) * sh.cin);
    L.o1 = smem.Take(4 * s * L.tx * sh.c1);
    L.do1 = L.alias ? L.o1 : smem.Take(e * s * L.tx * sh.c1);
    L.p = smem.Take(e * (s * L.tp + L.padp) * sh.c1);
    const size_t do2_base = smem.Take(e * (L.padf + s * L.tp) * sh.c2);
    L.do2 = do2_base + e * L.padf * sh.c2;
    L.o2 = L.alias ? L.do2 : smem.Take(4 * s * L.tp * sh.c2);
    L.dp = smem.Take(4 * s * L.tp * sh.c1);
    L.w1 = smem.Take(e * sh.cin * sh.ks * sh.c1);
    L.w2 = smem.Take(e * sh.c1 * sh.ks * sh.c2);
    L.dw1 = smem.Take(4 * sh.cin * sh.ks * sh.c1);
    L.dw2 = smem.Take(4 * sh.c1 * sh.ks * sh.c2);
    const size_t nf = static_cast<size_t>(sh.c2) * sh.classes;
    L.small = smem.Take(
        4 * (2 * (sh.c1 + sh.c2 + nf + sh.classes) + 2 * s * sh.c2 + s * sh.classes + 1 + s));
    L.bytes = smem.bytes();
    // do2's alignment: row 0 must sit on 32 bytes for the tensor-core loads.
    if (L.bytes <= smem_limit && (e * L.padf * sh.c2) % 32 == 0) {
      *out = L;
      return true;
    }
  }
  return fail("needs " + std::to_string(L.bytes) + " bytes of shared memory per model, " +
              std::to_string(smem_limit) + " available");
}

void RunCnn1dStepOnHost(const Cnn1dLayout& layout, const Cnn1dStepArgs& args, int threads) {
  host::RunBlocks(layout.shape.k, threads, layout.bytes, [&](char* smem, int model) {
    if (layout.elem == 2) {
      Cnn1dStepBody<Simt<host::Bf16>>(layout, args, smem, model);
    } else {
      Cnn1dStepBody<SimtF32>(layout, args, smem, model);
    }
  });
}

}  // namespace sweepfarm::engine::kernels

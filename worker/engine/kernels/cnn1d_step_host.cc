// Host side of the fused cnn1d step: the shared-memory layout, and the emulation that runs the
// kernel body on host threads (one std::thread per CUDA thread of a block) for tests on machines
// without a GPU, with float32 or (for the bf16 layout) bf16 product inputs. The emulation checks
// the body's indexing, padding and phase order against the standard layers; the tensor-core
// policies are checked on a device by `sweepfarm-bench --check`.
#include <atomic>
#include <cmath>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "worker/engine/kernels/cnn1d_step.h"

namespace sweepfarm::engine::kernels {
namespace {

// A reusable barrier for the emulated block. Waiters yield rather than sleep: the block has more
// threads than the machine has cores, and futex sleeps and wake-ups cost more than the work.
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void Wait() {
    const int64_t gen = generation_.load(std::memory_order_acquire);
    if (waiting_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
      waiting_.store(0, std::memory_order_relaxed);
      generation_.store(gen + 1, std::memory_order_release);
      return;
    }
    while (generation_.load(std::memory_order_acquire) == gen) std::this_thread::yield();
  }

 private:
  const int n_;
  std::atomic<int> waiting_{0};
  std::atomic<int64_t> generation_{0};
};

thread_local int t_thread = 0;
thread_local int t_threads = 1;
thread_local Barrier* t_barrier = nullptr;

inline int SfThread() { return t_thread; }
inline int SfThreads() { return t_threads; }
inline void SfSync() { t_barrier->Wait(); }
inline void SfAtomicAdd(float* p, float v) {
  static_assert(sizeof(float) == sizeof(uint32_t));
  uint32_t* bits = reinterpret_cast<uint32_t*>(p);
  uint32_t old = __atomic_load_n(bits, __ATOMIC_RELAXED);
  for (;;) {
    float f;
    std::memcpy(&f, &old, sizeof f);
    f += v;
    uint32_t next;
    std::memcpy(&next, &f, sizeof next);
    if (__atomic_compare_exchange_n(bits, &old, next, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
      return;
    }
  }
}

}  // namespace
}  // namespace sweepfarm::engine::kernels

#define SF_DEV inline
#include "worker/engine/kernels/cnn1d_step_body.h"
#undef SF_DEV

namespace sweepfarm::engine::kernels {
namespace {

int RoundUp(int a, int b) { return (a + b - 1) / b * b; }
size_t Align(size_t a) { return (a + 127) / 128 * 128; }

}  // namespace

bool MakeCnn1dLayout(const Cnn1dShape& sh, Cnn1dPrecision precision, size_t smem_limit,
                     Cnn1dLayout* out, std::string* why) {
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
  L.elem = precision == Cnn1dPrecision::kBf16 ? 2 : 4;
  L.alias = precision != Cnn1dPrecision::kBf16;
  for (int s : {8, 4, 2, 1}) {
    if (sh.batch % s != 0) continue;
    const int q = 16 / std::gcd(s, 16);
    L.s = s;
    L.tx = RoundUp(sh.t, std::max(q, 2));
    L.tp = RoundUp(L.t1p, q);
    L.padx = L.padp = L.padf = sh.ks - 1;
    const size_t e = L.elem;
    size_t at = 0;
    auto take = [&](size_t bytes) {
      size_t here = at;
      at = Align(at + bytes);
      return here;
    };
    L.xs = take(e * (s * L.tx + L.padx) * sh.cin);
    L.o1 = take(4 * s * L.tx * sh.c1);
    L.do1 = L.alias ? L.o1 : take(e * s * L.tx * sh.c1);
    L.p = take(e * (s * L.tp + L.padp) * sh.c1);
    const size_t do2_base = take(e * (L.padf + s * L.tp) * sh.c2);
    L.do2 = do2_base + e * L.padf * sh.c2;
    L.o2 = L.alias ? L.do2 : take(4 * s * L.tp * sh.c2);
    L.dp = take(4 * s * L.tp * sh.c1);
    L.w1 = take(e * sh.cin * sh.ks * sh.c1);
    L.w2 = take(e * sh.c1 * sh.ks * sh.c2);
    L.dw1 = take(4 * sh.cin * sh.ks * sh.c1);
    L.dw2 = take(4 * sh.c1 * sh.ks * sh.c2);
    const size_t nf = static_cast<size_t>(sh.c2) * sh.classes;
    L.small =
        take(4 * (2 * (sh.c1 + sh.c2 + nf + sh.classes) + 2 * s * sh.c2 + s * sh.classes + 1 + s));
    L.bytes = at;
    // do2's alignment: row 0 must sit on 32 bytes for the tensor-core loads.
    if (L.bytes <= smem_limit && (e * L.padf * sh.c2) % 32 == 0) {
      *out = L;
      return true;
    }
  }
  return fail("needs " + std::to_string(L.bytes) + " bytes of shared memory per model, " +
              std::to_string(smem_limit) + " available");
}

namespace {

// bfloat16 on the host, bit-compatible with LibTorch's (round to nearest even).
struct HostBf16 {
  uint16_t bits = 0;
  HostBf16() = default;
  explicit HostBf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = 0x7fc0;  // NaN.
    } else {
      bits = static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
  }
  explicit operator float() const {
    uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }
};
static_assert(sizeof(HostBf16) == 2);

}  // namespace

void RunCnn1dStepOnHost(const Cnn1dLayout& layout, const Cnn1dStepArgs& args, int threads) {
  std::vector<uint64_t> smem((layout.bytes + 7) / 8 + 16);
  char* base = reinterpret_cast<char*>(smem.data());
  base += (128 - reinterpret_cast<uintptr_t>(base) % 128) % 128;
  // One emulated block runs the models one after another; a barrier separates them, as the next
  // model's setup overwrites the shared memory the last one used.
  Barrier barrier(threads);
  std::vector<std::thread> block;
  for (int t = 0; t < threads; ++t) {
    block.emplace_back([&, t] {
      t_thread = t;
      t_threads = threads;
      t_barrier = &barrier;
      for (int model = 0; model < layout.shape.k; ++model) {
        if (layout.elem == 2) {
          Cnn1dStepBody<Simt<HostBf16>>(layout, args, base, model);
        } else {
          Cnn1dStepBody<SimtF32>(layout, args, base, model);
        }
        barrier.Wait();
      }
    });
  }
  for (auto& t : block) t.join();
}

#ifndef SWEEPFARM_WITH_CUDA_KERNELS
size_t Cnn1dDeviceSmemLimit() { return 0; }

bool LaunchCnn1dStep(const Cnn1dLayout&, const Cnn1dStepArgs&, Cnn1dPrecision, int, void*,
                     std::string* why) {
  if (why != nullptr) *why = "this build has no CUDA kernels";
  return false;
}
#endif

}  // namespace sweepfarm::engine::kernels

// The host emulation of a CUDA thread block for the fused kernels' bodies: one std::thread per
// CUDA thread, a barrier for __syncthreads, shared memory as a host buffer, and a bf16 type
// bit-compatible with LibTorch's. For tests on machines without a GPU; slow.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace sweepfarm::engine::kernels {
namespace host {

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

// Layout arithmetic: a rounded up to a multiple of b; a byte offset rounded up to 128.
inline int RoundUp(int a, int b) { return (a + b - 1) / b * b; }
inline size_t Align(size_t a) { return (a + 127) / 128 * 128; }

// Lays a block's shared-memory regions out one after another, each starting on 128 bytes.
class SmemCarver {
 public:
  // The offset of a new region of `bytes`.
  size_t Take(size_t bytes) {
    const size_t here = at_;
    at_ = Align(at_ + bytes);
    return here;
  }
  size_t bytes() const { return at_; }

 private:
  size_t at_ = 0;
};

inline thread_local int t_thread = 0;
inline thread_local int t_threads = 1;
inline thread_local Barrier* t_barrier = nullptr;

// bfloat16 on the host, bit-compatible with LibTorch's (round to nearest even).
struct Bf16 {
  uint16_t bits = 0;
  Bf16() = default;
  explicit Bf16(float f) {
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
static_assert(sizeof(Bf16) == 2);

// Runs fn(smem, block) for blocks 0..blocks-1, one after another, on `threads` host threads that
// share one `smem_bytes` buffer (128-byte aligned); a barrier separates the blocks.
template <class Fn>
void RunBlocks(int blocks, int threads, size_t smem_bytes, Fn fn) {
  std::vector<uint64_t> smem((smem_bytes + 7) / 8 + 16);
  char* base = reinterpret_cast<char*>(smem.data());
  base += (128 - reinterpret_cast<uintptr_t>(base) % 128) % 128;
  Barrier barrier(threads);
  std::vector<std::thread> block;
  for (int t = 0; t < threads; ++t) {
    block.emplace_back([&, t] {
      t_thread = t;
      t_threads = threads;
      t_barrier = &barrier;
      for (int b = 0; b < blocks; ++b) {
        fn(base, b);
        barrier.Wait();
      }
    });
  }
  for (auto& t : block) t.join();
}

}  // namespace host

inline int SfThread() { return host::t_thread; }
inline int SfThreads() { return host::t_threads; }
inline void SfSync() { host::t_barrier->Wait(); }
inline void SfAtomicAdd(float* p, float v) {
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

}  // namespace sweepfarm::engine::kernels

#ifndef SF_DEV
#define SF_DEV inline
#endif

namespace sweepfarm::engine::kernels::host {

// A tile the tensor cores could not load: stops the emulation with the reason.
[[noreturn]] inline void BadTile(const void* ptr, int ld, int elem_bytes) {
  std::fprintf(stderr,
               "fused kernel emulation: a tile at %p (offset %% 32 = %d) with leading dimension "
               "%d x %d bytes breaks the tensor cores' alignment rules\n",
               ptr, static_cast<int>(reinterpret_cast<uintptr_t>(ptr) % 32), ld, elem_bytes);
  std::abort();
}

}  // namespace sweepfarm::engine::kernels::host

#define SF_CHECK_TILE(ptr, ld, elem_bytes)                                             \
  do {                                                                                 \
    if (reinterpret_cast<uintptr_t>(ptr) % 32 != 0 || ((ld) * (elem_bytes)) % 16 != 0) \
      ::sweepfarm::engine::kernels::host::BadTile(ptr, ld, elem_bytes);                \
  } while (0)

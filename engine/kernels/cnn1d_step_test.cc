// Layout rules of the fused cnn1d step kernel (the kernel body itself is tested against the
// standard layers in trainer_test.cc).
#include "engine/kernels/cnn1d_step.h"

#include <gtest/gtest.h>

#include "engine/kernels/lenet_conv.h"

namespace sweepfarm::engine::kernels {
namespace {

constexpr size_t kHopperSmem = 232448;  // cudaDevAttrMaxSharedMemoryPerBlockOptin on H100/H200.

Cnn1dShape Telemetry() {
  Cnn1dShape s;
  s.k = 1024;
  s.batch = 64;
  s.t = 64;
  s.cin = 16;
  s.ks = 5;
  s.c1 = 32;
  s.c2 = 64;
  s.classes = 2;
  return s;
}

TEST(Cnn1dStepLayoutTest, TelemetryModelFitsOneHopperBlock) {
  for (auto precision : {Precision::kFloat32, Precision::kTf32, Precision::kBf16}) {
    Cnn1dLayout l;
    std::string why;
    ASSERT_TRUE(MakeCnn1dLayout(Telemetry(), precision, kHopperSmem, &l, &why)) << why;
    EXPECT_EQ(l.s, 4);  // 8 samples per chunk need more than a block's shared memory.
    EXPECT_LE(l.bytes, kHopperSmem);
    EXPECT_EQ(l.t1, 60);
    EXPECT_EQ(l.t1p, 30);
    EXPECT_EQ(l.t2, 26);
    // Products run over whole 16-row tiles of the chunk.
    EXPECT_EQ(l.s * l.tx % 16, 0);
    EXPECT_EQ(l.s * l.tp % 16, 0);
    EXPECT_GE(l.tp, l.t1p);
    // Every buffer starts on 128 bytes, and do2's row 0 on 32 (tensor-core loads).
    for (size_t off : {l.xs, l.o1, l.do1, l.p, l.o2, l.dp, l.w1, l.w2, l.dw1, l.dw2, l.small}) {
      EXPECT_EQ(off % 128, 0u);
    }
    EXPECT_EQ(l.do2 % 32, 0u);
    EXPECT_EQ(l.alias, precision != Precision::kBf16);
  }
}

TEST(Cnn1dStepLayoutTest, SmallerChunksWhenSharedMemoryIsShort) {
  Cnn1dLayout big, small;
  ASSERT_TRUE(MakeCnn1dLayout(Telemetry(), Precision::kTf32, 1 << 20, &big, nullptr));
  EXPECT_EQ(big.s, 8);
  ASSERT_TRUE(MakeCnn1dLayout(Telemetry(), Precision::kTf32, 160 << 10, &small, nullptr));
  EXPECT_LT(small.s, 4);
  EXPECT_LE(small.bytes, 160u << 10);
}

TEST(Cnn1dStepLayoutTest, RefusesShapesItCannotRunWithTheReason) {
  auto refuse = [](Cnn1dShape s, size_t smem, const std::string& part) {
    Cnn1dLayout l;
    std::string why;
    EXPECT_FALSE(MakeCnn1dLayout(s, Precision::kTf32, smem, &l, &why));
    EXPECT_NE(why.find(part), std::string::npos) << why;
  };
  Cnn1dShape s = Telemetry();
  s.c1 = 24;
  refuse(s, kHopperSmem, "multiples of 16");
  s = Telemetry();
  s.cin = 12;
  refuse(s, kHopperSmem, "input channels");
  s = Telemetry();
  s.classes = 17;
  refuse(s, kHopperSmem, "at most 16 classes");
  s = Telemetry();
  s.t = 12;
  refuse(s, kHopperSmem, "too short");
  s = Telemetry();
  s.c2 = 256;
  refuse(s, kHopperSmem, "bytes of shared memory");
}

TEST(LenetConvLayoutTest, LenetFitsOneHopperBlock) {
  LenetConvShape s;
  s.k = 256;
  s.batch = 64;
  s.h = 28;
  s.cin = 1;
  s.ks = 5;
  s.c1 = 6;
  s.c2 = 16;
  for (auto precision : {Precision::kTf32, Precision::kBf16}) {
    LenetConvLayout l;
    std::string why;
    ASSERT_TRUE(MakeLenetConvLayout(s, precision, kHopperSmem, &l, &why)) << why;
    EXPECT_EQ(l.h1, 24);
    EXPECT_EQ(l.p1, 12);
    EXPECT_EQ(l.h2, 8);
    EXPECT_EQ(l.p2, 4);
    EXPECT_EQ(l.features(), 256);
    EXPECT_EQ(l.c1p, 16);
    EXPECT_EQ(l.k1, 32);
    EXPECT_EQ(l.m1 % 16, 0);
    EXPECT_EQ(l.m2 % 16, 0);
    // conv2's windows reach m2 - 1 + (ks - 1) * (p1 + 1) rows into the pooled buffer.
    EXPECT_GE(l.rows_p1, l.m2 + 4 * 12 + 4);
    EXPECT_EQ(l.front2, 4 * 12 + 4);
    EXPECT_EQ(l.do2 % 32, 0u);
    EXPECT_LE(l.bytes, kHopperSmem);
  }
  s.c2 = 24;
  LenetConvLayout l;
  std::string why;
  EXPECT_FALSE(MakeLenetConvLayout(s, Precision::kTf32, kHopperSmem, &l, &why));
  EXPECT_NE(why.find("multiple of 16"), std::string::npos) << why;
}

}  // namespace
}  // namespace sweepfarm::engine::kernels

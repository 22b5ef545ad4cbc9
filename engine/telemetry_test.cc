#include "engine/telemetry.h"

#include <gtest/gtest.h>

#include <iostream>

namespace sweepfarm::engine {
namespace {

TEST(TelemetryTest, SameSeedSameBytesAndPrefixStable) {
  Split a = SimulateTelemetry(Distribution::kLab, 42, 300);
  Split b = SimulateTelemetry(Distribution::kLab, 42, 300);
  Split c = SimulateTelemetry(Distribution::kLab, 42, 100);
  EXPECT_TRUE(torch::equal(a.x, b.x));
  EXPECT_TRUE(torch::equal(a.y, b.y));
  EXPECT_EQ(HashTensors({a.x, a.y}), HashTensors({b.x, b.y}));
  // Sample i does not depend on how many samples were asked for.
  EXPECT_TRUE(torch::equal(a.x.slice(0, 0, 100), c.x));
  Split d = SimulateTelemetry(Distribution::kLab, 43, 300);
  EXPECT_FALSE(torch::equal(a.x, d.x));
  EXPECT_NE(HashTensors({a.x}), HashTensors({d.x}));
}

TEST(TelemetryTest, LabelRatesMatchTheDistributions) {
  Split lab = SimulateTelemetry(Distribution::kLab, 7, 5275);
  Split esc = SimulateTelemetry(Distribution::kEscalation, 7, 4000);
  double lab_rate = lab.y.to(torch::kFloat64).mean().item<double>();
  double esc_rate = esc.y.to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(lab_rate, 0.40, 0.03);
  EXPECT_NEAR(esc_rate, 0.78, 0.03);
  EXPECT_EQ(lab.x.sizes(), (std::vector<int64_t>{5275, kTelemetrySteps, kTelemetryChannels}));
  EXPECT_TRUE(torch::isfinite(esc.x).all().item<bool>());
}

TEST(TelemetryTest, FaultKindsAreConsistentWithLabels) {
  Split s = SimulateTelemetry(Distribution::kEscalation, 3, 3000);
  // Issue samples carry a fault kind; healthy ones carry none.
  EXPECT_TRUE(torch::equal(s.kind.gt(0), s.y.eq(1)));
  for (int kind = kNicPacketLoss; kind <= kCpuContention; ++kind) {
    EXPECT_GT(s.kind.eq(kind).sum().item<int64_t>(), 50) << "fault kind " << kind;
  }
}

TEST(TelemetryTest, RootCauseAndVictimDiffer) {
  // The culprit of a packet-loss fault drops packets; its victims do not, though their latency
  // rises.
  Split s = SimulateTelemetry(Distribution::kLab, 11, 5000);
  torch::Tensor loss = s.x.select(2, 9).mean(1);  // Packet-loss channel, averaged over time.
  torch::Tensor culprit = s.kind.eq(kNicPacketLoss);
  double culprit_loss = loss.masked_select(culprit).mean().item<double>();
  double healthy_loss = loss.masked_select(s.y.eq(0)).mean().item<double>();
  EXPECT_GT(culprit_loss, healthy_loss + 0.5);
}

// Version 1 is the generator every result before version 2 was measured on: its bytes stay as
// they were (the hash of these samples when version 2 was added).
TEST(TelemetryTest, VersionOneKeepsItsBytes) {
  Split lab = SimulateTelemetry(Distribution::kLab, 7, 300);
  Split esc = SimulateTelemetry(Distribution::kEscalation, 7, 300);
  EXPECT_EQ(HashTensors({lab.x, lab.y, lab.kind, esc.x, esc.y, esc.kind}), "7e0395529df73814");
}

// Version 2 changes how faults look, not which components are faulty: the same labels and kinds,
// other signals, deterministic too.
TEST(TelemetryTest, VersionTwoKeepsTheLabelsAndChangesTheSignals) {
  Split v1 = SimulateTelemetry(Distribution::kEscalation, 7, 500, 1);
  Split v2 = SimulateTelemetry(Distribution::kEscalation, 7, 500, 2);
  EXPECT_TRUE(torch::equal(v1.y, v2.y));
  EXPECT_TRUE(torch::equal(v1.kind, v2.kind));
  EXPECT_FALSE(torch::equal(v1.x, v2.x));
  EXPECT_TRUE(torch::equal(v2.x, SimulateTelemetry(Distribution::kEscalation, 7, 500, 2).x));
  EXPECT_TRUE(torch::isfinite(v2.x).all().item<bool>());
}

// In version 1 a disk's latency fault, once begun, lasts to the end of the window; in version 2
// many have ended, come and go, or are mild by then: the last steps alone often look healthy.
TEST(TelemetryTest, VersionTwoFaultsNeedNotLastToTheEnd) {
  auto quiet_at_end = [](int version) {
    Split s = SimulateTelemetry(Distribution::kLab, 5, 6000, version);
    torch::Tensor late = s.x.slice(1, kTelemetrySteps - 8).select(2, 2).mean(1);  // Latency.
    const double healthy = late.masked_select(s.y.eq(0)).mean().item<double>();
    torch::Tensor disk = late.masked_select(s.kind.eq(kDiskLatency));
    return disk.lt(healthy + 0.3).to(torch::kFloat64).mean().item<double>();
  };
  const double v1 = quiet_at_end(1), v2 = quiet_at_end(2);
  EXPECT_LT(v1, 0.05);
  EXPECT_GT(v2, 0.15);
  std::cout << "disk faults quiet in the last 8 steps: version 1 " << v1 << ", version 2 " << v2
            << "\n";
}

TEST(TelemetryTest, DatasetHashCoversBothSplits) {
  TelemetryOptions o;
  o.lab_samples = 200;
  o.escalation_samples = 100;
  auto a = MakeTelemetryDataset(o);
  o.escalation_samples = 101;
  auto b = MakeTelemetryDataset(o);
  EXPECT_NE(a->hash, b->hash);
  EXPECT_EQ(a->hash, MakeTelemetryDataset(TelemetryOptions{1, 200, 100})->hash);
}

}  // namespace
}  // namespace sweepfarm::engine

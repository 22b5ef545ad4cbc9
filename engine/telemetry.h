// Deterministic simulator of storage-cluster telemetry with injected faults (docs/telemetry.md).
// Pure function of its options: the same options give the same bytes. Thread-safe (no shared
// state).
#pragma once

#include <cstdint>

#include "engine/dataset.h"

namespace sweepfarm::engine {

enum class Distribution { kLab = 0, kEscalation = 1 };

// Components a sample can describe.
enum ComponentType { kNic = 0, kCacheDisk = 1, kCapacityDisk = 2, kHostCpu = 3 };
// Fault kinds; kNone for samples whose component is healthy.
enum FaultKind {
  kNone = 0,
  kNicPacketLoss = 1,
  kDiskLatency = 2,
  kCacheCongestion = 3,
  kCpuContention = 4
};

constexpr int kTelemetrySteps = 64;
constexpr int kTelemetryChannels = 16;

// The simulator's versions (docs/telemetry.md). 1: faults persist from an onset at step 4-40 and
// the only benign anomaly is a short burst (every result before version 2 was measured on it; its
// bytes never change). 2: faults may start before the window or late in it, end or come and go,
// ramp abruptly or slowly, over a wider range of strength; workloads shift level for good and
// background rebuilds raise latency, neither being a fault.
constexpr int kTelemetryVersions = 2;  // Sweeps choose with dataset.params.simulator_version.

struct TelemetryOptions {
  uint64_t seed = 1;
  int64_t lab_samples = 5275;
  int64_t escalation_samples = 2000;
  int version = 1;
};

// Generates `count` samples of one distribution: x [count, 64, 16], y [count], kind [count].
Split SimulateTelemetry(Distribution dist, uint64_t seed, int64_t count, int version = 1);

// Lab data as the training split, escalation data as the test split (the engine's own tests and
// benchmarks).
std::shared_ptr<const Dataset> MakeTelemetryDataset(const TelemetryOptions& options);

// The same data as a data set table (samples 16x64, channels first; classes healthy, faulty):
// lab data as the train split, escalations as the selection split (engine::GenerateBuiltin
// keeps a holdout part of them).
data::Table TelemetryTable(const TelemetryOptions& options);

}  // namespace sweepfarm::engine

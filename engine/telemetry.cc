// The telemetry simulator. Every sample is generated from its own key (seed, distribution, index),
// so sample i is the same whatever the count, and samples can be generated in any order.
#include "engine/telemetry.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "common/rng.h"

namespace sweepfarm::engine {
namespace {

// Channels, in order.
enum Channel {
  kIops = 0,
  kThroughput,
  kLatAvg,
  kLatP99,
  kOutstanding,
  kCongestion,
  kCacheHit,
  kDestage,
  kPackets,
  kPacketLoss,
  kTcpRetrans,
  kCpu,
  kClusterLatency,
  kClusterRetrans,
  kComponentCode,
  kClusterShape,
};

// How strongly each component type's channels follow the workload (rows: ComponentType).
constexpr float kLoadProfile[4][kTelemetryChannels] = {
    // NIC: packets, throughput, some CPU.
    {0.3f, 0.9f, 0.2f, 0.2f, 0.1f, 0, 0, 0, 1.0f, 0, 0.1f, 0.2f, 0, 0, 0, 0},
    // Cache disk.
    {1.0f, 0.8f, 0.4f, 0.5f, 0.6f, 0.2f, -0.2f, 0.5f, 0, 0, 0, 0.1f, 0, 0, 0, 0},
    // Capacity disk.
    {0.8f, 0.8f, 0.5f, 0.6f, 0.7f, 0.1f, 0, 0.3f, 0, 0, 0, 0.1f, 0, 0, 0, 0},
    // Host CPU.
    {0.5f, 0.3f, 0.3f, 0.3f, 0.2f, 0, 0, 0, 0.3f, 0, 0, 1.0f, 0, 0, 0, 0},
};

struct Scenario {
  int hosts = 4;
  bool all_flash = false;
  int family = 0;             // Workload family: sets load level, period and block size.
  float noise = 0.3f;         // AR(1) noise scale.
  float outlier_rate = 0.0f;  // Rate of heavy-tailed spikes.
};

FaultKind FaultFor(ComponentType type, Rng& rng) {
  switch (type) {
    case kNic:
      return kNicPacketLoss;
    case kCacheDisk:
      return rng.Bernoulli(0.7) ? kCacheCongestion : kDiskLatency;
    case kCapacityDisk:
      return kDiskLatency;
    case kHostCpu:
      return kCpuContention;
  }
  return kNone;
}

ComponentType RandomComponent(const Scenario& s, Rng& rng) {
  if (s.all_flash) {
    static constexpr ComponentType kTypes[] = {kNic, kCapacityDisk, kHostCpu};
    return kTypes[rng.UniformInt(0, 2)];
  }
  return static_cast<ComponentType>(rng.UniformInt(0, 3));
}

// Writes one sample into out[64 * 16]; returns its label and fault kind.
void SimulateSample(Distribution dist, uint64_t seed, int64_t index, int version, float* out,
                    int64_t* label, int64_t* kind) {
  Rng rng(MixKey(seed, static_cast<uint64_t>(dist) + 0x7E1E, static_cast<uint64_t>(index)));
  const bool lab = dist == Distribution::kLab;
  Scenario s;
  if (lab) {
    s.hosts = 4;
    s.all_flash = false;
    s.family = 0;
    s.noise = 0.30f;
  } else {
    s.hosts = static_cast<int>(rng.UniformInt(3, 16));
    s.all_flash = rng.Bernoulli(0.5);
    s.family = static_cast<int>(rng.UniformInt(0, 3));
    s.noise = static_cast<float>(rng.Uniform(0.3, 0.45));
    s.outlier_rate = 0.01f;
  }
  const double issue_rate = lab ? 0.40 : 0.78;
  const bool is_issue = rng.Bernoulli(issue_rate);
  const ComponentType type = RandomComponent(s, rng);

  // Where the cluster's fault is, relative to this component.
  enum Where { kNowhere, kHere, kSameHost, kOtherHost } where = kNowhere;
  FaultKind fault = kNone;
  if (is_issue) {
    where = kHere;
    fault = FaultFor(type, rng);
  } else if (rng.Bernoulli(lab ? 0.55 : 0.85)) {
    where = rng.Bernoulli(1.5 / s.hosts) ? kSameHost : kOtherHost;
    ComponentType culprit = RandomComponent(s, rng);
    if (where == kSameHost && culprit == type) culprit = type == kNic ? kHostCpu : kNic;
    fault = FaultFor(culprit, rng);
  }
  const double severity = lab ? rng.Uniform(0.45, 1.0) : rng.Uniform(0.3, 1.0);
  const int onset = static_cast<int>(rng.UniformInt(4, 40));
  // Spread to the rest of the cluster is diluted by its size.
  const double spread = std::min(1.0, 5.0 / s.hosts);
  // A benign anomaly (workload burst) that must not be read as a fault.
  const bool burst = rng.Bernoulli(lab ? 0.3 : 0.4);
  const int burst_start = static_cast<int>(rng.UniformInt(0, 50));
  const int burst_len = static_cast<int>(rng.UniformInt(4, 14));
  const double burst_height = rng.Uniform(0.8, 2.0);

  static constexpr double kFamilyLevel[4] = {0.0, 0.6, -0.5, 1.0};
  static constexpr double kFamilyPeriod[4] = {32, 20, 48, 12};
  static constexpr double kFamilyBlock[4] = {1.0, 1.6, 0.6, 1.2};
  const double level = kFamilyLevel[s.family] + rng.Normal() * (lab ? 0.1 : 0.25);
  const double phase = rng.Uniform(0, 2 * M_PI);
  const double base_latency = (s.all_flash ? -0.4 : 0.0) + (type == kCacheDisk ? -0.3 : 0.0);
  const double drop_every_n = std::pow(10.0, 3.0 - 2.0 * severity);  // 1 in 10..1000 packets.

  // Version 2 (drawn after everything version 1 draws, so version 1's samples stay as they were).
  struct {
    int onset = 0, end = 0, ramp = 4, recover = 1, period = 0;
    double severity = 0;
    int shift_at = kTelemetrySteps;  // A lasting workload change (a backup, a new tenant).
    double shift = 0;
    int rebuild_start = 0, rebuild_len = 0;  // A background rebuild or resync.
    double rebuild = 0;
  } v2;
  if (version >= 2) {
    // Strength from barely visible to strong; slower onsets for the milder.
    v2.severity = lab ? rng.Uniform(0.35, 1.1) : rng.Uniform(0.2, 1.2);
    v2.ramp = static_cast<int>(rng.UniformInt(1, 12));
    // Unknown onset: before the window (the fault is already there) up to late in it, and it lasts
    // 8 steps to far past the window; at least 6 steps of it are seen.
    v2.onset = static_cast<int>(rng.UniformInt(-24, kTelemetrySteps - 8));
    v2.end = v2.onset + static_cast<int>(rng.UniformInt(8, 96));
    if (v2.end < 6) v2.end = 6;
    v2.recover = static_cast<int>(rng.UniformInt(1, 8));
    // A third of faults come and go (a flapping link, a disk that stalls now and then).
    if (rng.Bernoulli(1.0 / 3)) v2.period = static_cast<int>(rng.UniformInt(3, 10));
    if (rng.Bernoulli(lab ? 0.25 : 0.4)) {
      v2.shift_at = static_cast<int>(rng.UniformInt(0, kTelemetrySteps - 1));
      v2.shift = rng.Uniform(-0.8, 1.5);
    }
    if (rng.Bernoulli(lab ? 0.1 : 0.2)) {
      v2.rebuild_start = static_cast<int>(rng.UniformInt(-16, kTelemetrySteps - 8));
      v2.rebuild_len = static_cast<int>(rng.UniformInt(8, 48));
      v2.rebuild = rng.Uniform(0.4, 1.2);
    }
  }
  // How much of the fault shows at step t, in [0, 1].
  auto presence = [&](int t) {
    if (version < 2) return t < onset ? 0.0 : std::min(1.0, (t - onset + 1) / 4.0);
    if (t < v2.onset) return 0.0;
    double p = std::min(1.0, (t - v2.onset + 1) / static_cast<double>(v2.ramp));
    if (t >= v2.end) p *= std::max(0.0, 1.0 - (t - v2.end + 1) / static_cast<double>(v2.recover));
    if (v2.period > 0 && ((t - v2.onset) / v2.period) % 2 == 1) p *= 0.15;
    return p;
  };

  std::array<double, kTelemetryChannels> ar{};
  const double ar_keep = 0.7, ar_new = std::sqrt(1 - 0.49);
  for (int t = 0; t < kTelemetrySteps; ++t) {
    double load = level + 0.35 * std::sin(2 * M_PI * t / kFamilyPeriod[s.family] + phase);
    bool in_burst = burst && t >= burst_start && t < burst_start + burst_len;
    if (in_burst) load += burst_height;
    if (t >= v2.shift_at) load += v2.shift;
    // Fault amplitude now.
    double a = (version < 2 ? severity : v2.severity) * presence(t);

    std::array<double, kTelemetryChannels> v{};
    for (int c = 0; c < kTelemetryChannels; ++c) v[c] = kLoadProfile[type][c] * load;
    v[kThroughput] *= kFamilyBlock[s.family];
    v[kLatAvg] += base_latency;
    v[kLatP99] += 1.5 * base_latency;
    v[kCacheHit] += s.all_flash || type != kCacheDisk ? 0.0 : 0.8;
    v[kComponentCode] = -1.5 + type;
    v[kClusterShape] = (s.hosts - 8) / 4.0 + (s.all_flash ? 0.5 : -0.5);
    v[kClusterLatency] = 0.2 * load;
    if (in_burst) v[kClusterLatency] += 0.4 * burst_height;
    if (v2.rebuild_len > 0 && t >= v2.rebuild_start && t < v2.rebuild_start + v2.rebuild_len) {
      // A rebuild moves data between every host's disks: latency and queues rise cluster-wide,
      // more on disks, with no culprit.
      const double r = v2.rebuild;
      const bool disk = type == kCacheDisk || type == kCapacityDisk;
      v[kLatAvg] += (disk ? 0.8 : 0.3) * r;
      v[kLatP99] += (disk ? 1.1 : 0.4) * r;
      v[kOutstanding] += (disk ? 0.9 : 0.1) * r;
      v[kDestage] += type == kCacheDisk ? 0.6 * r : 0.0;
      v[kThroughput] += (disk || type == kNic ? 0.5 : 0.0) * r;
      v[kClusterLatency] += 0.6 * r;
    }

    if (where == kHere) {
      switch (fault) {
        case kNicPacketLoss: {
          double spike = 0.5 + rng.Uniform();
          v[kPacketLoss] += a * spike * (1.0 + std::log10(1000.0 / drop_every_n));
          v[kTcpRetrans] += 2.2 * a;
          v[kPackets] -= 0.5 * a;
          v[kLatAvg] += 0.7 * a;
          v[kLatP99] += 1.2 * a;
          break;
        }
        case kDiskLatency:
          v[kLatAvg] += 2.2 * a;
          v[kLatP99] += 3.2 * a;
          v[kOutstanding] += 1.8 * a;
          v[kIops] -= 0.5 * a;
          break;
        case kCacheCongestion:
          v[kCongestion] += 2.6 * a;
          v[kCacheHit] -= 1.3 * a;
          v[kDestage] += 1.8 * a;
          v[kLatAvg] += 1.0 * a;
          v[kLatP99] += 1.4 * a;
          break;
        case kCpuContention:
          v[kCpu] += 2.6 * a;
          v[kLatAvg] += 0.9 * a;
          v[kIops] -= 0.6 * a;
          break;
        case kNone:
          break;
      }
    }
    if (fault != kNone) {
      // Cluster-wide symptoms: every component sees them, the culprit included.
      double b = a * spread;
      v[kClusterLatency] += 1.4 * b;
      if (fault == kNicPacketLoss) v[kClusterRetrans] += 1.8 * b;
      if (where != kHere) {
        v[kLatAvg] += 0.8 * b;
        v[kLatP99] += 1.2 * b;
        if (fault == kNicPacketLoss && type == kNic) {
          v[kTcpRetrans] += 1.4 * b;  // Peers retransmit too, but drop nothing themselves.
          v[kPacketLoss] += 0.15 * b;
        }
      }
      if (where == kSameHost) {
        v[kLatAvg] += 0.6 * a;
        v[kLatP99] += 0.9 * a;
        if (fault == kCpuContention) v[kCpu] += 0.7 * a;
        if (fault == kDiskLatency && type == kCacheDisk) {
          v[kDestage] += 0.8 * a;
          v[kOutstanding] += 0.8 * a;
        }
        if (fault == kCacheCongestion && type == kCapacityDisk) v[kCongestion] += 0.8 * a;
      }
    }
    for (int c = 0; c < kTelemetryChannels; ++c) {
      if (c == kComponentCode || c == kClusterShape) {
        out[t * kTelemetryChannels + c] = static_cast<float>(v[c]);
        continue;
      }
      ar[c] = ar_keep * ar[c] + ar_new * s.noise * rng.Normal();
      double x = v[c] + ar[c];
      if (s.outlier_rate > 0 && rng.Bernoulli(s.outlier_rate)) x += 3.0 * rng.Normal();
      out[t * kTelemetryChannels + c] = static_cast<float>(x);
    }
  }
  *label = is_issue ? 1 : 0;
  *kind = is_issue ? fault : kNone;
}

}  // namespace

Split SimulateTelemetry(Distribution dist, uint64_t seed, int64_t count, int version) {
  Split split;
  split.x = torch::empty({count, kTelemetrySteps, kTelemetryChannels}, torch::kFloat32);
  split.y = torch::empty({count}, torch::kInt64);
  split.kind = torch::empty({count}, torch::kInt64);
  float* x = split.x.data_ptr<float>();
  int64_t* y = split.y.data_ptr<int64_t>();
  int64_t* k = split.kind.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    SimulateSample(dist, seed, i, version, x + i * kTelemetrySteps * kTelemetryChannels, y + i,
                   k + i);
  }
  return split;
}

std::shared_ptr<const Dataset> MakeTelemetryDataset(const TelemetryOptions& options) {
  auto ds = std::make_shared<Dataset>();
  ds->name = "telemetry";
  ds->num_classes = 2;
  ds->binary_issue_label = true;
  ds->train =
      SimulateTelemetry(Distribution::kLab, options.seed, options.lab_samples, options.version);
  ds->test = SimulateTelemetry(Distribution::kEscalation, options.seed, options.escalation_samples,
                               options.version);
  ds->hash = HashTensors({ds->train.x, ds->train.y, ds->test.x, ds->test.y});
  return ds;
}

data::Table TelemetryTable(const TelemetryOptions& options) {
  data::Table t;
  t.shape = {kTelemetryChannels, kTelemetrySteps};
  t.classes = {"healthy", "faulty"};
  auto fill = [](const Split& s, data::Part* part) {
    torch::Tensor x = s.x.permute({0, 2, 1}).contiguous();  // [N, C, T]: channels first.
    part->x.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
    torch::Tensor y = s.y.to(torch::kInt32).contiguous();
    part->y.assign(y.data_ptr<int32_t>(), y.data_ptr<int32_t>() + y.numel());
  };
  fill(SimulateTelemetry(Distribution::kLab, options.seed, options.lab_samples, options.version),
       &t.part(data::SplitId::kTrain));
  fill(SimulateTelemetry(Distribution::kEscalation, options.seed, options.escalation_samples,
                         options.version),
       &t.part(data::SplitId::kSelection));
  return t;
}

}  // namespace sweepfarm::engine

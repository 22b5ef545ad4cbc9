// What a sweep's trials come to before any is stored: the summary `submit --dry-run` answers
// with (counts, the work, a bounded sample), so a million-trial plan is not sent row by row.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sweepfarm/v1/sweep.pb.h"

namespace sweepfarm::sweep {

struct PlanSummary {
  int64_t model_epochs = 0;  // Epochs summed over the trials.
  // Trials that differ only in epochs train as one run when leased together (evaluated at each of
  // their epochs): the longest of them is the work.
  int64_t shared_run_model_epochs = 0;
  std::map<std::string, int64_t> origins;        // "search", "seed", "neighbour", ...
  std::map<std::string, int64_t> architectures;  // ArchitectureLabel: each is fused apart.
};

// The trial's architecture as a person reads it ("channels=16x32 kernel_size=5", "mlp", or
// "the sweep's architecture" where the trial does not choose one).
std::string ArchitectureLabel(const v1::TrialParams& params);

// `origins[i]` is trial i's origin; trials past its end are "search".
PlanSummary SummarizePlan(const std::vector<v1::TrialParams>& trials,
                          const std::vector<std::string>& origins);

}  // namespace sweepfarm::sweep

#include "coordinator/sweep/plan.h"

#include <algorithm>

namespace sweepfarm::sweep {

std::string ArchitectureLabel(const v1::TrialParams& params) {
  std::string arch;
  for (int i = 0; i < params.channels_size(); ++i) {
    arch += (i ? "x" : "channels=") + std::to_string(params.channels(i));
  }
  if (params.kernel_size() > 0) {
    arch += (arch.empty() ? "" : " ") + std::string("kernel_size=") +
            std::to_string(params.kernel_size());
  }
  if (!params.architecture().empty()) {
    arch = params.architecture() + (arch.empty() ? "" : " " + arch);
  }
  return arch.empty() ? "the sweep's architecture" : arch;
}

PlanSummary SummarizePlan(const std::vector<v1::TrialParams>& trials,
                          const std::vector<std::string>& origins) {
  PlanSummary out;
  std::map<std::string, int64_t> runs;
  for (size_t i = 0; i < trials.size(); ++i) {
    const v1::TrialParams& t = trials[i];
    out.model_epochs += t.epochs();
    ++out.origins[i < origins.size() ? origins[i] : "search"];
    ++out.architectures[ArchitectureLabel(t)];
    v1::TrialParams key = t;
    key.clear_epochs();
    int64_t& longest = runs[key.SerializeAsString()];
    longest = std::max<int64_t>(longest, t.epochs());
  }
  for (const auto& [key, epochs] : runs) out.shared_run_model_epochs += epochs;
  return out;
}

}  // namespace sweepfarm::sweep

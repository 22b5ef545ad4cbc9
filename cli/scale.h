// Workers that follow the queue (`sweepctl scale`): as many Slurm worker jobs as the queued and
// running trials need, between a minimum and a maximum, submitted with deploy/slurm/workers.sbatch
// and cancelled (they drain first) when the work shrinks. The decision is pure (PlanWorkers);
// Kubernetes makes the same one with a HorizontalPodAutoscaler on the queue-depth metric
// (docs/slurm.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace sweepfarm::cli {

struct ScaleLimits {
  int min_workers = 0;
  int max_workers = 8;
  int trials_per_worker = 64;  // Work one worker is meant to take: its --capacity, or more.
};

// The farm's worker jobs as the cluster manager lists them (job ids such as 12_3).
struct WorkerJobs {
  std::vector<std::string> pending, running;
};

struct ScalePlan {
  int want = 0;                     // Workers the work needs, within the limits.
  int submit = 0;                   // New workers to start.
  std::vector<std::string> cancel;  // Jobs to stop: pending ones first, then the newest running.
};

// want = ceil((queued + running trials) / trials_per_worker), clamped to [min, max]. Starts what
// is missing; stops the surplus only once nothing is queued (a worker stopped while trials wait
// would hand them back to be trained again) or when there are more than the maximum.
ScalePlan PlanWorkers(int64_t queued, int64_t running, const WorkerJobs& jobs,
                      const ScaleLimits& limits);

// Slurm through its commands (squeue, sbatch, scancel on PATH).
// Jobs named `job_name` of the current user, array tasks one by one.
StatusOr<WorkerJobs> SlurmWorkerJobs(const std::string& job_name);
// Submits `n` workers as one job array: sbatch --array=0-(n-1) --job-name=job_name SBATCH_ARGS
// SCRIPT COORDINATOR WORKER_ARGS; returns the job id.
StatusOr<std::string> SlurmSubmitWorkers(int n, const std::string& job_name,
                                         const std::vector<std::string>& sbatch_args,
                                         const std::string& script, const std::string& coordinator,
                                         const std::vector<std::string>& worker_args);
Status SlurmCancel(const std::vector<std::string>& jobs);

}  // namespace sweepfarm::cli

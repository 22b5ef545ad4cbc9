#include "cli/scale.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

extern char** environ;

namespace sweepfarm::cli {

ScalePlan PlanWorkers(int64_t queued, int64_t running, const WorkerJobs& jobs,
                      const ScaleLimits& limits) {
  ScalePlan plan;
  const int64_t work = std::max<int64_t>(0, queued) + std::max<int64_t>(0, running);
  const int64_t per = std::max(1, limits.trials_per_worker);
  const int64_t needed = (work + per - 1) / per;
  plan.want = static_cast<int>(std::clamp<int64_t>(
      needed, std::max(0, limits.min_workers), std::max(limits.min_workers, limits.max_workers)));
  const int have = static_cast<int>(jobs.pending.size() + jobs.running.size());
  if (plan.want > have) {
    plan.submit = plan.want - have;
  } else if (plan.want < have && (queued <= 0 || have > limits.max_workers)) {
    size_t surplus = static_cast<size_t>(have - plan.want);
    // Pending jobs hold nothing: they go first, newest first; then the newest running ones.
    for (auto it = jobs.pending.rbegin(); it != jobs.pending.rend() && surplus > 0; ++it) {
      plan.cancel.push_back(*it), --surplus;
    }
    for (auto it = jobs.running.rbegin(); it != jobs.running.rend() && surplus > 0; ++it) {
      plan.cancel.push_back(*it), --surplus;
    }
  }
  return plan;
}

namespace {

// Runs `argv` (found on PATH), its standard output into `out`; its exit code, or -1 if it could
// not start.
int RunTool(const std::vector<std::string>& argv, std::string* out) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawned != 0) {
    close(pipe_fds[0]);
    return -1;
  }
  char buf[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buf, sizeof(buf))) > 0;) out->append(buf, n);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Status ToolFailed(const std::string& tool, int rc) {
  return UnavailableError(tool + (rc < 0 ? " could not be run (is Slurm's client installed and on "
                                           "PATH?)"
                                         : " failed (exit " + std::to_string(rc) + ")"));
}

}  // namespace

StatusOr<WorkerJobs> SlurmWorkerJobs(const std::string& job_name) {
  std::string out;
  const char* user = std::getenv("USER");
  std::vector<std::string> argv{"squeue", "-h", "-r", "-n", job_name, "-o", "%i %T"};
  if (user != nullptr && *user != '\0') argv.insert(argv.end(), {"-u", user});
  if (int rc = RunTool(argv, &out); rc != 0) return ToolFailed("squeue", rc);
  WorkerJobs jobs;
  std::istringstream lines(out);
  for (std::string id, state; lines >> id >> state;) {
    // Completing (cancelled, draining) and ended jobs are no longer counted.
    if (state == "PENDING") jobs.pending.push_back(id);
    if (state == "RUNNING" || state == "CONFIGURING") jobs.running.push_back(id);
  }
  // Oldest first: by job id, then task.
  auto order = [](const std::string& a, const std::string& b) {
    auto key = [](const std::string& id) {
      const size_t u = id.find('_');
      return std::make_pair(std::atoll(id.c_str()),
                            u == std::string::npos ? 0LL : std::atoll(id.c_str() + u + 1));
    };
    return key(a) < key(b);
  };
  std::sort(jobs.pending.begin(), jobs.pending.end(), order);
  std::sort(jobs.running.begin(), jobs.running.end(), order);
  return jobs;
}

StatusOr<std::string> SlurmSubmitWorkers(int n, const std::string& job_name,
                                         const std::vector<std::string>& sbatch_args,
                                         const std::string& script, const std::string& coordinator,
                                         const std::vector<std::string>& worker_args) {
  std::vector<std::string> argv{"sbatch", "--parsable", "--array=0-" + std::to_string(n - 1),
                                "--job-name=" + job_name};
  argv.insert(argv.end(), sbatch_args.begin(), sbatch_args.end());
  argv.insert(argv.end(), {script, coordinator});
  argv.insert(argv.end(), worker_args.begin(), worker_args.end());
  std::string out;
  if (int rc = RunTool(argv, &out); rc != 0) return ToolFailed("sbatch", rc);
  return out.substr(0, out.find_first_of(";\n"));
}

Status SlurmCancel(const std::vector<std::string>& jobs) {
  if (jobs.empty()) return OkStatus();
  std::vector<std::string> argv{"scancel"};
  argv.insert(argv.end(), jobs.begin(), jobs.end());
  std::string out;
  if (int rc = RunTool(argv, &out); rc != 0) return ToolFailed("scancel", rc);
  return OkStatus();
}

}  // namespace sweepfarm::cli

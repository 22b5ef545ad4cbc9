// The coordinator's durable state: sweeps, trials (the work queue), results and workers, in
// PostgreSQL. Thread-safe: each call takes a pooled connection and runs its own transaction.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/status.h"
#include "sweepfarm/v1/sweep.pb.h"
#include "sweepfarm/v1/worker.pb.h"

namespace sweepfarm::store {

struct NewSweep {
  v1::SweepSpec spec;
  std::string yaml;
  std::string source_name;
  std::string spec_hash;
  std::vector<v1::TrialParams> trials;
};

struct Lease {
  int64_t sweep_id = 0;
  v1::SweepSpec spec;
  std::vector<v1::LeasedTrial> trials;  // Empty: no work.
};

enum class ReportOutcome { kAccepted, kDuplicate, kStale };

// A succeeded trial's stored predictions, for ensembles.
struct Candidate {
  int64_t trial_id = 0;
  double selection_accuracy = 0;
  double holdout_accuracy = 0;
  int samples = 0;
  int classes = 0;
  int selection_size = 0;
  std::string dataset_hash;
  std::string probs_f16;
};

class Store {
 public:
  ~Store();
  // Connects `pool_size` connections to `dsn` (any libpq connection string or URI).
  static StatusOr<std::unique_ptr<Store>> Open(const std::string& dsn, int pool_size);

  Status Migrate();

  // Stores the sweep and all its trials in one transaction.
  StatusOr<int64_t> CreateSweep(const NewSweep& sweep);

  StatusOr<std::string> RegisterWorker(const std::string& host, const std::string& device,
                                       int capacity);
  // Claims up to `max_trials` queued trials of the oldest sweep with work, each with a new fencing
  // token and an expiry `lease_seconds` from now on the database clock.
  StatusOr<Lease> LeaseTrials(const std::string& worker_id, int max_trials, int lease_seconds);
  // Extends the leases still held; returns the ids of those that are not.
  StatusOr<std::vector<int64_t>> Heartbeat(const std::string& worker_id,
                                           const std::vector<v1::TrialLease>& leases,
                                           int lease_seconds);
  // Records a batch of reports in one transaction: a result only with the current lease token;
  // the same report again is a duplicate; a report for a lost lease is stale. All are logged.
  StatusOr<std::vector<ReportOutcome>> RecordResults(const std::string& worker_id,
                                                     const std::vector<v1::TrialReport>& reports);
  // Hands leases back without counting an attempt (a draining worker). Returns how many.
  StatusOr<int> ReleaseLeases(const std::string& worker_id,
                              const std::vector<v1::TrialLease>& leases);
  // Re-queues (or fails, past max_attempts) trials whose lease expired. Returns how many.
  StatusOr<int> RequeueExpired();

  StatusOr<v1::SweepStatus> GetSweepStatus(int64_t sweep_id);
  StatusOr<std::vector<v1::Trial>> ListTrials(int64_t sweep_id, int top, bool leaderboard);
  // Stores an artifact for a trial whose result was accepted with `lease_token`
  // (FAILED_PRECONDITION otherwise). Content-addressed: the same bytes are stored once.
  Status StoreArtifact(int64_t trial_id, int64_t lease_token, const std::string& sha256,
                       const std::string& format, const std::string& arch_json,
                       const std::string& content);
  // The sweep's spec and its best `n` trials with stored predictions, by selection accuracy.
  StatusOr<std::pair<v1::SweepSpec, std::vector<Candidate>>> LoadCandidates(int64_t sweep_id,
                                                                            int n);

 private:
  class Conn;
  Store() = default;
  std::unique_ptr<pqxx::connection> Acquire();
  void Release(std::unique_ptr<pqxx::connection> conn);
  StatusOr<std::unique_ptr<pqxx::connection>> Connect();

  std::string dsn_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // Guarded by mu_.
};

}  // namespace sweepfarm::store

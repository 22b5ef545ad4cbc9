// The coordinator's durable state: sweeps, trials (the work queue), results and workers, in
// PostgreSQL. Thread-safe: each call takes a pooled connection and runs its own transaction.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/status.h"
#include "sweepfarm/v1/data.pb.h"
#include "sweepfarm/v1/registry.pb.h"
#include "sweepfarm/v1/sweep.pb.h"
#include "sweepfarm/v1/worker.pb.h"

namespace sweepfarm::store {

struct NewSweep {
  v1::SweepSpec spec;
  std::string yaml;
  std::string source_name;
  std::string spec_hash;
  std::vector<v1::TrialParams> trials;
  // Seeded sweeps: per trial "search", "seed" or "neighbour" and the parent trial (0: none), and
  // the sweep and registry version ("MODEL vN") the seeds came from.
  std::vector<std::string> origins;
  std::vector<int64_t> parents;
  int64_t parent_sweep_id = 0;
  std::string seeded_from;
  // Trials the sweep trains if all succeed, when more than `trials` (halving: every rung);
  // 0: trials.size().
  int64_t planned_trials = 0;
  std::string actor;  // Who submitted it (sweep_audit).
};

struct Lease {
  int64_t sweep_id = 0;
  v1::SweepSpec spec;
  std::vector<v1::LeasedTrial> trials;  // Empty: no work.
};

enum class ReportOutcome { kAccepted, kDuplicate, kStale };

struct RecordedReports {
  std::vector<ReportOutcome> outcomes;  // One per report, in order.
  bool queued = false;  // Trials were queued: a failed trial's retry, a halving rung, a TPE round.
};

// A succeeded trial's stored predictions, for ensembles.
struct Candidate {
  int64_t trial_id = 0;
  double selection_score = 0;  // By the sweep's objective.
  double holdout_accuracy = 0;
  int samples = 0;
  int classes = 0;
  int selection_size = 0;
  std::string dataset_hash;
  std::string probs_f16;
};

// A halving checkpoint (sweepfarm-checkpoint-v1), as stored.
struct Checkpoint {
  int64_t trial_id = 0;  // The trial that took it.
  int epochs = 0;
  std::string sha256, format, arch_json, content;
};

struct PastTrial {
  int64_t trial_id = 0;
  v1::TrialParams params;
};

// What a seeded sweep starts from: the champion's members and the best trials of its sweep.
struct SeedSource {
  int version = 0;  // The champion's version; 0: the model has no champion.
  int64_t sweep_id = 0;
  std::vector<PastTrial> members;  // Heaviest first.
  std::vector<PastTrial> top;      // Best selection accuracy first.
};

struct Artifact {
  std::string format;
  std::string arch_json;
  std::string content;
};

struct AliasMove {
  int from_version = 0;
  int to_version = 0;
};

// A sweep limit reached (EnforceLimits): the sweep, why, and the queued trials dropped.
struct LimitReached {
  int64_t sweep_id = 0;
  std::string reason;
  int64_t dropped = 0;
};

// What ExtendSweep did.
struct ExtendOutcome {
  int64_t queued = 0;  // Trials queued now.
  int64_t budget = 0;  // The sweep's budget now.
  int64_t total = 0;   // Its planned trials in all.
};

// What CancelSweep ended.
struct CancelOutcome {
  int64_t queued = 0;
  int64_t running = 0;
};

// What the coordinator's metrics read from the database at a scrape.
struct FarmGauges {
  std::map<std::string, int64_t> sweeps;  // By state.
  int64_t queued = 0, running = 0;        // Trials of running sweeps.
  int64_t workers = 0;                    // Workers alive: seen within two leases.
};

// A data set version to store (coordinator/data/ has decoded and validated its content).
struct NewDatasetVersion {
  v1::DatasetVersion version;    // name, sha256, size_bytes, shape, classes, splits, source,
                                 // split_rule, created_by; its number and parent are assigned.
  std::string generator_params;  // Built-ins: their parameters as JSON (dataset_generated).
  // Grown versions: the labelled predictions taken, each with its split and label.
  struct Feedback {
    std::string prediction_id;
    std::string split;
    int32_t label = 0;
  };
  std::vector<Feedback> feedback;
};

// A labelled prediction that a data set may grow by.
struct LabelledSample {
  std::string prediction_id;
  std::string input;  // float32 little-endian, channels first.
  int32_t label = 0;
};

// A prediction as sweepfarm-serve sent it (RecordPredictions).
struct PredictionRow {
  std::string id;
  std::string model;
  int32_t version = 0;
  std::string input;  // float32 little-endian, channels first.
  std::vector<float> probabilities;
  int32_t label = 0;
  std::string served_at;  // RFC 3339.
};

class Store {
 public:
  ~Store();
  // Connects `pool_size` connections to `dsn` (any libpq connection string or URI).
  static StatusOr<std::unique_ptr<Store>> Open(const std::string& dsn, int pool_size);

  Status Migrate();

  // Stores the sweep and all its trials in one transaction.
  StatusOr<int64_t> CreateSweep(const NewSweep& sweep);

  // A new worker id, bound to `holder` (the token holder registering it; "" for an unnamed token
  // or none).
  StatusOr<std::string> RegisterWorker(const std::string& host, const std::string& device,
                                       int capacity, const std::string& holder);
  // OK if `worker_id` is registered and bound to `holder`; PERMISSION_DENIED (naming `rpc`)
  // otherwise: a token's holder acts only for the workers it registered.
  Status CheckWorker(const std::string& worker_id, const std::string& holder, const char* rpc);
  // OK if `worker_id` may upload for the trial under `lease_token`: a checkpoint while it runs
  // the trial, weights once its result from that lease was accepted; checked before an upload's
  // content is read.
  Status CheckUpload(int64_t trial_id, const std::string& lease_token, const std::string& worker_id,
                     bool checkpoint);
  // Claims up to `max_trials` queued trials of the oldest sweep with work, each with a new fencing
  // token and an expiry `lease_seconds` from now on the database clock.
  StatusOr<Lease> LeaseTrials(const std::string& worker_id, int max_trials, int lease_seconds);
  // Extends the leases still held; returns the ids of those that are not.
  StatusOr<std::vector<int64_t>> Heartbeat(const std::string& worker_id,
                                           const std::vector<v1::TrialLease>& leases,
                                           int lease_seconds);
  // Records a batch of reports in one transaction: a result only with the current lease token;
  // the same report again is a duplicate; a report for a lost lease is stale. All are logged.
  StatusOr<RecordedReports> RecordResults(const std::string& worker_id,
                                          const std::vector<v1::TrialReport>& reports);
  // Hands leases back without counting an attempt (a draining worker). Returns how many.
  StatusOr<int> ReleaseLeases(const std::string& worker_id,
                              const std::vector<v1::TrialLease>& leases);
  // Re-queues (or fails, past max_attempts) trials whose lease expired. Returns how many.
  StatusOr<int> RequeueExpired();

  // Applies the sweeps' limits (SweepSpec.limits), idempotently, from every coordinator's
  // reaper: a sweep with limits.max_failed_trials failed trials is cancelled; one past its
  // limits.max_seconds gets no further rung or round, its queued trials are dropped and it ends
  // done once its running trials have. Returns the limits reached by this call.
  StatusOr<std::vector<LimitReached>> EnforceLimits();

  StatusOr<v1::SweepStatus> GetSweepStatus(int64_t sweep_id);
  // The newest `limit` sweeps (of `state`, or all if empty), newest first.
  StatusOr<std::vector<v1::SweepStatus>> ListSweeps(const std::string& state, int limit);
  // Ends a running sweep and its unfinished trials (see CancelSweep in sweep.proto). NOT_FOUND or
  // FAILED_PRECONDITION (already ended) write nothing.
  StatusOr<CancelOutcome> CancelSweep(int64_t sweep_id, const std::string& reason,
                                      const std::string& actor);
  // Sets a running sweep's scheduling priority; returns the previous one. NOT_FOUND or
  // FAILED_PRECONDITION (already ended) write nothing.
  StatusOr<int> SetSweepPriority(int64_t sweep_id, int priority, const std::string& actor);
  // Adds `trials` to a random or TPE sweep (see ExtendSweep in sweep.proto), in one transaction.
  StatusOr<ExtendOutcome> ExtendSweep(int64_t sweep_id, int64_t trials, const std::string& actor);
  // Workers seen within `seen_within_seconds`, most recent first; alive: seen within twice
  // `lease_seconds`.
  StatusOr<std::vector<v1::WorkerInfo>> ListWorkers(int seen_within_seconds, int lease_seconds);
  // Retention (see PruneSweeps in sweep.proto): marks the sweeps that ended at least
  // `older_than_seconds` ago as pruned and deletes their predictions and the weights that no
  // registered version uses; one transaction, undone when `dry_run`.
  // Each pruned sweep's audit trail records `actor`.
  StatusOr<v1::PruneSweepsResponse> PruneSweeps(double older_than_seconds, bool dry_run,
                                                const std::string& actor);
  // `workers`: those alive, seen within two leases of `lease_seconds` (as ListWorkers says).
  StatusOr<FarmGauges> Gauges(int lease_seconds);
  StatusOr<std::vector<v1::Trial>> ListTrials(int64_t sweep_id, int top, bool leaderboard);
  // Fills `result`'s confusion matrices (selection_confusion, holdout_confusion) from trial
  // `trial_id` of sweep `sweep_id`'s stored result; left empty where none were recorded. NOT_FOUND
  // if the sweep has no such trial with a result.
  Status LoadConfusion(int64_t sweep_id, int64_t trial_id, v1::TrialResult* result);
  // Stores an artifact for a trial whose result was accepted with `lease_token`
  // (FAILED_PRECONDITION otherwise). Content-addressed: the same bytes are stored once.
  Status StoreArtifact(int64_t trial_id, const std::string& lease_token, const std::string& sha256,
                       const std::string& format, const std::string& arch_json,
                       const std::string& content);
  // Stores (or replaces) the checkpoint of a trial running under `lease_token` in a halving
  // sweep that resumes, below its last rung (FAILED_PRECONDITION otherwise).
  Status StoreCheckpoint(int64_t trial_id, const std::string& lease_token,
                         const std::string& sha256, const std::string& format,
                         const std::string& arch_json, const std::string& content);
  // The checkpoint that `trial_id`, running under `lease_token` on `worker_id`
  // (FAILED_PRECONDITION otherwise), resumes from: its parent's. NOT_FOUND if there is none.
  StatusOr<Checkpoint> LoadCheckpoint(const std::string& worker_id, int64_t trial_id,
                                      const std::string& lease_token);
  // The sweep's spec and its best `n` trials with stored predictions, by its objective.
  // With `with_artifacts`, only trials whose weights were uploaded.
  StatusOr<std::pair<v1::SweepSpec, std::vector<Candidate>>> LoadCandidates(int64_t sweep_id, int n,
                                                                            bool with_artifacts);

  // Registry. Versions are immutable; aliases move only with an audit row, in one transaction
  // serialised per model, and only to versions whose every artifact verifies (DATA_LOSS if not).
  StatusOr<SeedSource> LoadSeeds(const std::string& model, int top);
  // 0 when unset / unpublished.
  StatusOr<int> AliasVersion(const std::string& model, const std::string& alias);
  StatusOr<int> PublishedVersion(const std::string& model, int64_t sweep_id);
  // Registers `v` (members: trial_id and weight; its number is assigned) and, if its decision is
  // "promoted", points "champion" at it; audited either way. `expected_champion` is the champion
  // the gate compared against: ABORTED if another has taken its place since. ALREADY_EXISTS if
  // the sweep was published already.
  StatusOr<int> RegisterVersion(const v1::ModelVersion& v, int expected_champion,
                                const std::string& actor);
  // One version with its members (version 0: the newest).
  StatusOr<v1::ModelVersion> GetVersion(const std::string& model, int version);
  StatusOr<Artifact> LoadArtifact(const std::string& sha256);
  // The sha256 of a trial's uploaded weights (NOT_FOUND if none).
  StatusOr<std::string> TrialArtifact(int64_t trial_id);
  StatusOr<v1::SweepSpec> GetSweepSpec(int64_t sweep_id);
  StatusOr<v1::ListVersionsResponse> ListVersions(const std::string& model, int audit_limit);
  // Points `alias` at `version` ("set_alias"), or with version 0 back at the version it named
  // before its last move ("rollback").
  StatusOr<AliasMove> MoveAlias(const std::string& model, const std::string& alias, int version,
                                const std::string& actor, const std::string& reason);

  // Data sets (datasets.cc). Versions are immutable and content-addressed.
  // A version by number (0: the latest); NOT_FOUND naming what exists.
  StatusOr<v1::DatasetVersion> GetDatasetVersion(const std::string& name, int version);
  // The version a built-in's parameters (JSON) made, if any.
  StatusOr<std::optional<v1::DatasetVersion>> GeneratedVersion(const std::string& name,
                                                               const std::string& params_json);
  // Stores `v` with `content` as the name's next version, in one transaction serialised per
  // name; if the name already has this content, returns that version and `existed`.
  StatusOr<std::pair<v1::DatasetVersion, bool>> InsertDatasetVersion(const NewDatasetVersion& v,
                                                                     const std::string& content);
  // Every version of `name` newest first, or each name's latest (empty name).
  StatusOr<std::vector<v1::DatasetVersion>> ListDatasetVersions(const std::string& name);
  // The content of a version by its sha256, piece `seq` (1 MiB pieces); nullopt past the last.
  StatusOr<std::optional<std::string>> DatasetPiece(const std::string& sha256, int seq);
  // A version with this content (the first stored); NOT_FOUND if none.
  StatusOr<v1::DatasetVersion> VersionWithContent(const std::string& sha256);
  // OK if the worker holds a running lease in a sweep that trains on `sha256`.
  Status WorkerMayFetch(const std::string& worker_id, const std::string& sha256);

  // Predictions served (datasets.cc). Records those whose model version exists and whose input
  // and probabilities fit its data; INVALID_ARGUMENT naming the first that does not, and then
  // nothing is written. Returns (recorded, duplicates).
  StatusOr<std::pair<int, int>> RecordPredictions(const std::vector<PredictionRow>& rows,
                                                  const std::string& served_by);
  // One prediction with its data's class names.
  StatusOr<v1::ServedPrediction> GetPrediction(const std::string& id);
  // Sets a prediction's label (a class index of its data), audited; returns the old one (-1).
  StatusOr<int> LabelPrediction(const std::string& id, int label, const std::string& actor);
  StatusOr<std::vector<v1::ServedPrediction>> ListPredictions(const std::string& model, int limit,
                                                              bool unlabelled_only);
  // Labelled predictions of models trained on any version of data set `name` that no version of
  // it has taken yet, oldest label first.
  StatusOr<std::vector<LabelledSample>> UntakenLabels(const std::string& name);
  // Deletes unlabelled predictions served more than `days` ago; returns how many.
  StatusOr<int64_t> DeleteOldPredictions(double days);

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

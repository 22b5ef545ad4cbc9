#include "coordinator/api/services.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "common/logging.h"
#include "common/sha256.h"
#include "coordinator/api/checks.h"
#include "coordinator/sweep/plan.h"
#include "coordinator/sweep/search_space.h"
#include "coordinator/sweep/sweep_yaml.h"
#include "proto/artifact_chunks.h"
#include "proto/grpc_status.h"

namespace sweepfarm::api {
grpc::Status SweepServiceImpl::SubmitSweep(grpc::ServerContext* ctx,
                                           const v1::SubmitSweepRequest* req,
                                           v1::SubmitSweepResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "SubmitSweep", &caller); !a.ok()) return a;
  auto actor = Actor("SubmitSweep", caller, req->actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  if (req->yaml().empty()) return Invalid("SubmitSweep", "yaml is empty");
  if (req->plan_limit() < 0 || req->plan_limit() > v1::PLAN_LISTED_MAX) {
    return Invalid("SubmitSweep",
                   "plan_limit must be in [0, " + std::to_string(v1::PLAN_LISTED_MAX) + "]");
  }
  // A sweep is expanded in memory before it is stored (a million trials at most): bound how many
  // are at once.
  SlotGuard slot(&submits_);
  if (!slot.held()) return Busy("SubmitSweep", "sweep submissions");
  if (req->source_name().size() > 1000)
    return Invalid("SubmitSweep", "source_name is longer than 1,000 bytes");
  if (static_cast<int>(req->yaml().size()) > options_.max_yaml_bytes) {
    return Invalid("SubmitSweep",
                   "yaml is larger than " + std::to_string(options_.max_yaml_bytes) + " bytes");
  }
  // The data set resolves to a stored version (a built-in's made on first use; not on a dry run).
  const sweep::DatasetResolver resolve = [&](const v1::DatasetSpec& requested) {
    return datasets_->Resolve(requested, req->validate_only(), *actor);
  };
  auto parsed = sweep::ParseSweepYaml(req->yaml(), req->source_name(), &resolve);
  if (!parsed.ok()) return ToGrpc(parsed.status());
  store::NewSweep s{parsed->spec, req->yaml(), req->source_name(), parsed->spec_hash,
                    parsed->trials};
  s.planned_trials = parsed->planned_trials;
  s.actor = *actor;
  if (parsed->spec.has_seed_from()) {
    // Seeded: the champion's members and its sweep's best trials first, then around them.
    const v1::SeedSpec& seed = parsed->spec.seed_from();
    auto source = store_->LoadSeeds(seed.model(), seed.top());
    if (!source.ok()) return ToGrpc(source.status());
    if (source->version == 0) {
      SF_LOG(Info) << "seed_from: " << seed.model() << " has no champion yet; searching afresh";
    } else {
      std::vector<sweep::SeedTrial> seeds;
      for (const auto* list : {&source->members, &source->top}) {
        for (const auto& t : *list) seeds.push_back({t.trial_id, t.params});
      }
      auto seeded = sweep::SeedAndNeighbours(parsed->space, seeds, seed,
                                             static_cast<int64_t>(parsed->trials.size()),
                                             parsed->search_seed);
      s.trials.clear();
      for (const auto& t : seeded) {
        s.trials.push_back(t.params);
        s.origins.push_back(t.origin);
        s.parents.push_back(t.parent_trial_id);
      }
      // Halving: seeds and neighbours enter the first rung, with its epochs (neighbours are
      // already clamped to it; seeds kept their parents').
      if (parsed->spec.rung_epochs_size() > 0) {
        for (auto& t : s.trials) t.set_epochs(parsed->spec.rung_epochs(0));
      }
      s.parent_sweep_id = source->sweep_id;
      s.seeded_from = seed.model() + " v" + std::to_string(source->version);
    }
  }
  resp->set_trials(static_cast<int64_t>(s.trials.size()));
  resp->set_planned_trials(s.planned_trials);
  resp->set_spec_hash(parsed->spec_hash);
  int64_t model_epochs = 0;
  for (const auto& t : s.trials) model_epochs += t.epochs();
  resp->set_model_epochs(model_epochs);
  resp->set_seeded_from(s.seeded_from);
  resp->set_parent_sweep_id(s.parent_sweep_id);
  if (req->validate_only()) {
    // The summary counts every trial; the plan lists a bounded sample.
    const sweep::PlanSummary summary = sweep::SummarizePlan(s.trials, s.origins);
    resp->set_shared_run_model_epochs(summary.shared_run_model_epochs);
    resp->mutable_origins()->insert(summary.origins.begin(), summary.origins.end());
    resp->mutable_architectures()->insert(summary.architectures.begin(),
                                          summary.architectures.end());
    const size_t listed = std::min(
        s.trials.size(),
        static_cast<size_t>(req->plan_limit() > 0 ? req->plan_limit() : v1::PLAN_LISTED_DEFAULT));
    for (size_t i = 0; i < listed; ++i) {
      v1::Trial* t = resp->add_plan();
      *t->mutable_params() = s.trials[i];
      t->set_state("queued");
      t->set_origin(i < s.origins.size() ? s.origins[i] : "search");
      if (i < s.parents.size()) t->set_parent_trial_id(s.parents[i]);
    }
    SF_LOG(Info) << "validated " << parsed->spec.name() << " (" << req->source_name()
                 << "): " << s.trials.size() << " trials, nothing written";
    return grpc::Status::OK;
  }
  auto id = store_->CreateSweep(s);
  if (!id.ok()) return ToGrpc(id.status());
  resp->set_sweep_id(*id);
  if (options_.work != nullptr) options_.work->Notify();
  SF_LOG(Info) << "sweep " << *id << " (" << parsed->spec.name() << "): " << s.trials.size()
               << " trials"
               << (parsed->spec.rung_epochs_size() > 0
                       ? " in the first of " + std::to_string(parsed->spec.rung_epochs_size()) +
                             " rungs, " + std::to_string(s.planned_trials) + " planned"
                       : "")
               << (s.seeded_from.empty() ? "" : ", seeded from " + s.seeded_from);
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::GetSweepStatus(grpc::ServerContext* ctx,
                                              const v1::GetSweepStatusRequest* req,
                                              v1::SweepStatus* resp) {
  if (grpc::Status a = options_.auth.Admit(ctx, "GetSweepStatus"); !a.ok()) return a;
  if (req->sweep_id() <= 0) return Invalid("GetSweepStatus", "sweep_id must be positive");
  auto s = store_->GetSweepStatus(req->sweep_id());
  if (!s.ok()) return ToGrpc(s.status());
  *resp = *s;
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::ListTrials(grpc::ServerContext* ctx,
                                          const v1::ListTrialsRequest* req,
                                          v1::ListTrialsResponse* resp) {
  if (grpc::Status a = options_.auth.Admit(ctx, "ListTrials"); !a.ok()) return a;
  if (req->sweep_id() <= 0) return Invalid("ListTrials", "sweep_id must be positive");
  if (req->top() < 0) return Invalid("ListTrials", "top must be >= 0");
  auto trials = store_->ListTrials(req->sweep_id(), req->top(), req->leaderboard());
  if (!trials.ok()) return ToGrpc(trials.status());
  for (auto& t : *trials) *resp->add_trials() = std::move(t);
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::CancelSweep(grpc::ServerContext* ctx,
                                           const v1::CancelSweepRequest* req,
                                           v1::CancelSweepResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "CancelSweep", &caller); !a.ok()) return a;
  if (req->sweep_id() <= 0) return Invalid("CancelSweep", "sweep_id must be positive");
  auto actor = Actor("CancelSweep", caller, req->actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  if (auto s = CheckReason("CancelSweep", req->reason()); !s.ok()) return s;
  const std::string reason = req->reason().empty() ? "no reason given" : req->reason();
  auto out = store_->CancelSweep(req->sweep_id(), reason, *actor);
  if (!out.ok()) return ToGrpc(out.status());
  resp->set_cancelled_queued(out->queued);
  resp->set_cancelled_running(out->running);
  SF_LOG(Info) << "sweep " << req->sweep_id() << " cancelled by " << *actor << " (" << reason
               << "): " << out->queued << " queued and " << out->running
               << " running trial(s) ended";
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::SetSweepPriority(grpc::ServerContext* ctx,
                                                const v1::SetSweepPriorityRequest* req,
                                                v1::SetSweepPriorityResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "SetSweepPriority", &caller); !a.ok()) return a;
  if (req->sweep_id() <= 0) return Invalid("SetSweepPriority", "sweep_id must be positive");
  auto actor = Actor("SetSweepPriority", caller, req->actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  if (req->priority() < -1000 || req->priority() > 1000) {
    return Invalid("SetSweepPriority", "priority must be between -1000 and 1000, got " +
                                           std::to_string(req->priority()));
  }
  auto previous = store_->SetSweepPriority(req->sweep_id(), req->priority(), *actor);
  if (!previous.ok()) return ToGrpc(previous.status());
  resp->set_previous_priority(*previous);
  SF_LOG(Info) << "sweep " << req->sweep_id() << ": priority " << *previous << " -> "
               << req->priority() << " by " << *actor;
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::ExtendSweep(grpc::ServerContext* ctx,
                                           const v1::ExtendSweepRequest* req,
                                           v1::ExtendSweepResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "ExtendSweep", &caller); !a.ok()) return a;
  if (req->sweep_id() <= 0) return Invalid("ExtendSweep", "sweep_id must be positive");
  if (req->trials() < 1 || req->trials() > 100000) {
    return Invalid("ExtendSweep",
                   "trials must be between 1 and 100,000, got " + std::to_string(req->trials()));
  }
  auto actor = Actor("ExtendSweep", caller, req->actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  auto out = store_->ExtendSweep(req->sweep_id(), req->trials(), *actor);
  if (!out.ok()) {
    return ToGrpc(Status(out.status().code(), "ExtendSweep: " + out.status().message()));
  }
  if (options_.work != nullptr) options_.work->Notify();
  resp->set_queued(out->queued);
  resp->set_budget(out->budget);
  resp->set_total(out->total);
  SF_LOG(Info) << "sweep " << req->sweep_id() << ": " << req->trials() << " more trials by "
               << *actor << " (" << out->queued << " queued now)";
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::ListWorkers(grpc::ServerContext* ctx,
                                           const v1::ListWorkersRequest* req,
                                           v1::ListWorkersResponse* resp) {
  if (grpc::Status a = options_.auth.Admit(ctx, "ListWorkers"); !a.ok()) return a;
  constexpr int kMaxSeconds = 30 * 24 * 3600;
  if (req->seen_within_seconds() < 0 || req->seen_within_seconds() > kMaxSeconds) {
    return Invalid("ListWorkers", "seen_within_seconds must be between 0 and " +
                                      std::to_string(kMaxSeconds) + " (30 days)");
  }
  const int within = req->seen_within_seconds() > 0 ? req->seen_within_seconds() : 3600;
  auto workers = store_->ListWorkers(within, options_.lease_seconds);
  if (!workers.ok()) return ToGrpc(workers.status());
  for (auto& w : *workers) *resp->add_workers() = std::move(w);
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::ListSweeps(grpc::ServerContext* ctx,
                                          const v1::ListSweepsRequest* req,
                                          v1::ListSweepsResponse* resp) {
  if (grpc::Status a = options_.auth.Admit(ctx, "ListSweeps"); !a.ok()) return a;
  if (req->limit() < 0 || req->limit() > 1000) {
    return Invalid("ListSweeps", "limit must be between 0 and 1000");
  }
  const std::string& state = req->state();
  if (!state.empty() && state != "running" && state != "done" && state != "cancelled") {
    return Invalid("ListSweeps", "state must be running, done or cancelled, not \"" + state + "\"");
  }
  auto sweeps = store_->ListSweeps(state, req->limit() == 0 ? 20 : req->limit());
  if (!sweeps.ok()) return ToGrpc(sweeps.status());
  for (auto& s : *sweeps) *resp->add_sweeps() = std::move(s);
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::PruneSweeps(grpc::ServerContext* ctx,
                                           const v1::PruneSweepsRequest* req,
                                           v1::PruneSweepsResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "PruneSweeps", &caller); !a.ok()) return a;
  auto actor = Actor("PruneSweeps", caller, req->actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  const double days = req->older_than_days();
  if (!std::isfinite(days) || days < 0 || days > 36500) {
    return Invalid("PruneSweeps", "older_than_days must be between 0 and 36,500");
  }
  auto out = store_->PruneSweeps(days * 86400.0, req->dry_run(), *actor);
  if (!out.ok()) return ToGrpc(out.status());
  *resp = std::move(out).value();
  SF_LOG(Info) << (req->dry_run() ? "prune (dry run): " : "prune: ") << resp->sweep_ids_size()
               << " sweep(s) ended at least " << days << " day(s) ago; the predictions of "
               << resp->predictions_deleted() << " trial(s) (" << resp->prediction_bytes()
               << " bytes) and " << resp->artifacts_deleted() << " weight file(s) ("
               << resp->artifact_bytes() << " bytes) "
               << (req->dry_run() ? "would be deleted" : "deleted") << "; "
               << resp->artifacts_kept() << " kept for registered versions";
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::BuildEnsemble(grpc::ServerContext* ctx,
                                             const v1::BuildEnsembleRequest* req,
                                             v1::BuildEnsembleResponse* resp) {
  if (grpc::Status a = options_.auth.Admit(ctx, "BuildEnsemble"); !a.ok()) return a;
  if (req->sweep_id() <= 0) return Invalid("BuildEnsemble", "sweep_id must be positive");
  // What the request leaves unset is the sweep's own selection section: what publish uses.
  auto spec = store_->GetSweepSpec(req->sweep_id());
  if (!spec.ok()) {
    return ToGrpc(Status(spec.status().code(), "BuildEnsemble: " + spec.status().message()));
  }
  const v1::SelectionSpec& sel = spec->selection();
  registry::EnsembleOptions o;
  o.size = req->size() != 0 ? req->size() : sel.ensemble_size() > 0 ? sel.ensemble_size() : 10;
  o.candidates = req->candidates() != 0 ? req->candidates()
                 : sel.candidates() > 0 ? sel.candidates()
                                        : 20;
  o.top_k = req->top_k() != 0 ? req->top_k() : sel.top_k() > 0 ? sel.top_k() : 5;
  if (o.size < 1 || o.size > 1000) return Invalid("BuildEnsemble", "size must be in [1, 1000]");
  if (o.candidates < 1 || o.candidates > 1000) {
    return Invalid("BuildEnsemble", "candidates must be in [1, 1000]");
  }
  if (o.top_k < 1 || o.top_k > o.candidates) {
    return Invalid("BuildEnsemble", "top_k must be in [1, candidates]");
  }
  auto report = registry::BuildEnsembles(store_, datasets_, req->sweep_id(), o);
  if (!report.ok()) {
    return ToGrpc(Status(report.status().code(), "BuildEnsemble: " + report.status().message()));
  }
  *resp = report->summary;
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext* ctx,
                                               const v1::RegisterWorkerRequest* req,
                                               v1::RegisterWorkerResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "RegisterWorker", &caller); !a.ok()) return a;
  if (req->device() != "cpu" && req->device() != "cuda") {
    return Invalid("RegisterWorker", "device must be cpu or cuda, got \"" + req->device() + "\"");
  }
  if (req->capacity() < 1 || req->capacity() > options_.max_bundle) {
    return Invalid("RegisterWorker",
                   "capacity must be in [1, " + std::to_string(options_.max_bundle) + "]");
  }
  if (req->host().size() > 300) return Invalid("RegisterWorker", "host is longer than 300 bytes");
  auto id = store_->RegisterWorker(req->host(), req->device(), req->capacity(), caller);
  if (!id.ok()) return ToGrpc(id.status());
  resp->set_worker_id(*id);
  resp->set_lease_seconds(options_.lease_seconds);
  SF_LOG(Info) << "worker " << *id << " registered (" << req->host() << ", " << req->device()
               << ", capacity " << req->capacity() << ")";
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::OwnWorker(const char* rpc, const std::string& worker_id,
                                          const std::string& caller) const {
  if (worker_id.empty()) return Invalid(rpc, "worker_id is empty");
  if (worker_id.size() > 200) return Invalid(rpc, "worker_id is longer than 200 bytes");
  return ToGrpc(store_->CheckWorker(worker_id, caller, rpc));
}

grpc::Status WorkerServiceImpl::AdmitWorker(const grpc::ServerContext* ctx, const char* rpc,
                                            const std::string& worker_id) const {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, rpc, &caller); !a.ok()) return a;
  return OwnWorker(rpc, worker_id, caller);
}

grpc::Status WorkerServiceImpl::LeaseWork(grpc::ServerContext* ctx, const v1::LeaseWorkRequest* req,
                                          v1::LeaseWorkResponse* resp) {
  if (grpc::Status a = AdmitWorker(ctx, "LeaseWork", req->worker_id()); !a.ok()) return a;
  if (req->max_trials() < 1 || req->max_trials() > options_.max_bundle) {
    return Invalid("LeaseWork",
                   "max_trials must be in [1, " + std::to_string(options_.max_bundle) + "]");
  }
  if (req->wait_ms() < 0 || req->wait_ms() > kMaxLeaseWaitMs) {
    return Invalid("LeaseWork", "wait_ms must be in [0, " + std::to_string(kMaxLeaseWaitMs) + "]");
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(req->wait_ms());
  StatusOr<store::Lease> lease = store::Lease{};
  while (true) {
    // Read before the queue is: work queued between the two wakes the wait below at once.
    const uint64_t seen = options_.work != nullptr ? options_.work->generation() : 0;
    lease = store_->LeaseTrials(req->worker_id(), req->max_trials(), options_.lease_seconds);
    if (!lease.ok()) return ToGrpc(lease.status());
    if (!lease->trials.empty() || req->wait_ms() == 0 || options_.work == nullptr) break;
    if (options_.work->Wait(seen, until, [ctx] { return ctx->IsCancelled(); }) !=
        WorkSignal::Woken::kNotified) {
      break;
    }
  }
  resp->set_lease_seconds(options_.lease_seconds);
  if (lease->trials.empty()) return grpc::Status::OK;
  if (options_.metrics) options_.metrics->CountLeased(static_cast<int64_t>(lease->trials.size()));
  resp->set_sweep_id(lease->sweep_id);
  *resp->mutable_spec() = lease->spec;
  for (auto& t : lease->trials) *resp->add_trials() = std::move(t);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                                          v1::HeartbeatResponse* resp) {
  if (grpc::Status a = AdmitWorker(ctx, "Heartbeat", req->worker_id()); !a.ok()) return a;
  for (int i = 0; i < req->leases_size(); ++i) {
    const std::string at = "leases[" + std::to_string(i) + "].lease_token";
    if (grpc::Status t = CheckLeaseToken("Heartbeat", at, req->leases(i).lease_token()); !t.ok()) {
      return t;
    }
  }
  std::vector<v1::TrialLease> leases(req->leases().begin(), req->leases().end());
  auto lost = store_->Heartbeat(req->worker_id(), leases, options_.lease_seconds);
  if (!lost.ok()) return ToGrpc(lost.status());
  for (int64_t id : *lost) resp->add_lost_trial_ids(id);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::ReportResults(grpc::ServerContext* ctx,
                                              const v1::ReportResultsRequest* req,
                                              v1::ReportResultsResponse* resp) {
  if (grpc::Status a = AdmitWorker(ctx, "ReportResults", req->worker_id()); !a.ok()) return a;
  // Validate every report before writing any: a rejected request writes nothing.
  for (int i = 0; i < req->reports_size(); ++i) {
    const auto& r = req->reports(i);
    std::string at = "reports[" + std::to_string(i) + "]";
    if (r.trial_id() <= 0) return Invalid("ReportResults", at + ".trial_id must be positive");
    if (grpc::Status t = CheckLeaseToken("ReportResults", at + ".lease_token", r.lease_token());
        !t.ok()) {
      return t;
    }
    if (r.ok()) {
      double acc = r.result().test_accuracy();
      if (!(acc >= 0 && acc <= 1)) {
        return Invalid("ReportResults", at + ".result.test_accuracy must be in [0, 1]");
      }
      if (r.result().dataset_hash().empty()) {
        return Invalid("ReportResults", at + ".result.dataset_hash is empty");
      }
      for (auto [name, v] :
           {std::pair{"selection_accuracy", r.result().selection_accuracy()},
            std::pair{"holdout_accuracy", r.result().holdout_accuracy()},
            std::pair{"selection_balanced_accuracy", r.result().selection_balanced_accuracy()},
            std::pair{"holdout_balanced_accuracy", r.result().holdout_balanced_accuracy()}}) {
        if (!(v >= 0 && v <= 1)) {
          return Invalid("ReportResults", at + ".result." + name + " must be in [0, 1]");
        }
      }
      if (r.result().train_loss_curve_size() > 10000) {
        return Invalid("ReportResults", at + ".result.train_loss_curve holds more than 10,000 "
                                             "epochs");
      }
      // At most 32 x 32 counts each (engine::kMaxConfusionClasses), a square, none negative.
      for (const auto& [name, cells] :
           {std::pair{"selection_confusion", &r.result().selection_confusion()},
            std::pair{"holdout_confusion", &r.result().holdout_confusion()}}) {
        const int n = cells->size();
        int side = 0;
        while (side * side < n) ++side;
        if (n > 32 * 32 || side * side != n || n == 1 ||
            std::any_of(cells->begin(), cells->end(), [](int64_t v) { return v < 0; })) {
          return Invalid("ReportResults", at + ".result." + name +
                                              " must be classes x classes counts (at most 32 "
                                              "classes), none negative");
        }
      }
      if (r.result().has_predictions()) {
        const auto& p = r.result().predictions();
        if (p.samples() < 1 || p.classes() < 2 || p.selection_size() < 0 ||
            p.selection_size() > p.samples() ||
            p.probs_f16().size() != 2ull * p.samples() * p.classes()) {
          return Invalid("ReportResults", at + ".result.predictions: probs_f16 must hold 2 x "
                                               "samples x classes bytes, 0 <= selection_size <= "
                                               "samples, classes >= 2");
        }
      }
    } else if (r.error().empty()) {
      return Invalid("ReportResults", at + ".error must say why the trial failed");
    }
  }
  std::vector<v1::TrialReport> reports(req->reports().begin(), req->reports().end());
  auto recorded = store_->RecordResults(req->worker_id(), reports);
  if (!recorded.ok()) return ToGrpc(recorded.status());
  // Waiting workers wake only for new work (a retry, a rung, a round), not for every report.
  if (recorded->queued && options_.work != nullptr) options_.work->Notify();
  const std::vector<store::ReportOutcome>& outcomes = recorded->outcomes;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    switch (outcomes[i]) {
      case store::ReportOutcome::kAccepted:
        resp->set_accepted(resp->accepted() + 1);
        break;
      case store::ReportOutcome::kDuplicate:
        resp->set_duplicates(resp->duplicates() + 1);
        break;
      case store::ReportOutcome::kStale:
        resp->set_rejected_stale(resp->rejected_stale() + 1);
        SF_LOG(Warning) << "stale result for trial " << reports[i].trial_id() << " from "
                        << req->worker_id() << " rejected";
        break;
    }
  }
  if (options_.metrics) {
    options_.metrics->CountResults(resp->accepted(), resp->duplicates(), resp->rejected_stale());
  }
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::ReleaseLeases(grpc::ServerContext* ctx,
                                              const v1::ReleaseLeasesRequest* req,
                                              v1::ReleaseLeasesResponse* resp) {
  if (grpc::Status a = AdmitWorker(ctx, "ReleaseLeases", req->worker_id()); !a.ok()) return a;
  for (int i = 0; i < req->leases_size(); ++i) {
    const std::string at = "leases[" + std::to_string(i) + "]";
    if (req->leases(i).trial_id() <= 0) {
      return Invalid("ReleaseLeases", at + ".trial_id must be positive");
    }
    if (grpc::Status t =
            CheckLeaseToken("ReleaseLeases", at + ".lease_token", req->leases(i).lease_token());
        !t.ok()) {
      return t;
    }
  }
  std::vector<v1::TrialLease> leases(req->leases().begin(), req->leases().end());
  auto n = store_->ReleaseLeases(req->worker_id(), leases);
  if (!n.ok()) return ToGrpc(n.status());
  if (*n > 0 && options_.work != nullptr) options_.work->Notify();
  resp->set_released(*n);
  SF_LOG(Info) << "worker " << req->worker_id() << " handed back " << *n << " lease(s)";
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::UploadArtifact(grpc::ServerContext* ctx,
                                               grpc::ServerReader<v1::ArtifactChunk>* reader,
                                               v1::UploadArtifactResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "UploadArtifact", &caller); !a.ok()) return a;
  v1::ArtifactChunk first, chunk;
  if (!reader->Read(&first)) return Invalid("UploadArtifact", "no chunks");
  if (first.trial_id() <= 0) return Invalid("UploadArtifact", "trial_id must be positive");
  if (grpc::Status t = CheckLeaseToken("UploadArtifact", "lease_token", first.lease_token());
      !t.ok()) {
    return t;
  }
  const bool checkpoint = first.format() == "sweepfarm-checkpoint-v1";
  if (!checkpoint && first.format() != "sweepfarm-weights-v1") {
    return Invalid("UploadArtifact",
                   "format must be sweepfarm-weights-v1 or sweepfarm-checkpoint-v1, got \"" +
                       first.format().substr(0, 64) + "\"");
  }
  // Who may upload, before any more of the content is read: the holder of the worker holding
  // the lease, at most `uploads_` at once.
  if (grpc::Status w = OwnWorker("UploadArtifact", first.worker_id(), caller); !w.ok()) return w;
  if (Status s =
          store_->CheckUpload(first.trial_id(), first.lease_token(), first.worker_id(), checkpoint);
      !s.ok()) {
    return ToGrpc(s);
  }
  SlotGuard slot(&uploads_);
  if (!slot.held()) return Busy("UploadArtifact", "uploads");
  if (first.sha256().size() != 64) return Invalid("UploadArtifact", "sha256 must be 64 hex digits");
  google::protobuf::Struct arch;
  if (!google::protobuf::util::JsonStringToMessage(first.arch_json(), &arch).ok()) {
    return Invalid("UploadArtifact", "arch_json must be a JSON object");
  }
  std::string content = first.data();
  Sha256 hash;
  hash.Update(first.data());
  while (reader->Read(&chunk)) {
    if (static_cast<int64_t>(content.size() + chunk.data().size()) > options_.max_artifact_bytes) {
      return ToGrpc(ResourceExhaustedError("UploadArtifact: larger than " +
                                           std::to_string(options_.max_artifact_bytes) + " bytes"));
    }
    hash.Update(chunk.data());
    content += chunk.data();
  }
  const std::string digest = hash.HexDigest();
  if (digest != first.sha256()) {
    return Invalid("UploadArtifact", "sha256 mismatch: declared " + first.sha256() +
                                         ", received content hashes to " + digest);
  }
  Status s = checkpoint ? store_->StoreCheckpoint(first.trial_id(), first.lease_token(), digest,
                                                  first.format(), first.arch_json(), content)
                        : store_->StoreArtifact(first.trial_id(), first.lease_token(), digest,
                                                first.format(), first.arch_json(), content);
  if (!s.ok()) return ToGrpc(s);
  resp->set_sha256(digest);
  resp->set_size_bytes(static_cast<int64_t>(content.size()));
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::GetCheckpoint(grpc::ServerContext* ctx,
                                              const v1::GetCheckpointRequest* req,
                                              grpc::ServerWriter<v1::ArtifactChunk>* writer) {
  if (grpc::Status a = AdmitWorker(ctx, "GetCheckpoint", req->worker_id()); !a.ok()) return a;
  if (req->trial_id() <= 0) return Invalid("GetCheckpoint", "trial_id must be positive");
  if (grpc::Status t = CheckLeaseToken("GetCheckpoint", "lease_token", req->lease_token());
      !t.ok()) {
    return t;
  }
  auto c = store_->LoadCheckpoint(req->worker_id(), req->trial_id(), req->lease_token());
  if (!c.ok()) return ToGrpc(c.status());
  v1::ArtifactChunk head;
  head.set_trial_id(c->trial_id);
  head.set_sha256(c->sha256);
  head.set_format(c->format);
  head.set_arch_json(c->arch_json);
  if (!WriteArtifactChunks(head, c->content,
                           [&](const v1::ArtifactChunk& chunk) { return writer->Write(chunk); })) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
  }
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::PublishSweep(grpc::ServerContext* ctx,
                                               const v1::PublishSweepRequest* req,
                                               v1::PublishSweepResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "PublishSweep", &caller); !a.ok()) return a;
  if (req->sweep_id() <= 0) return Invalid("PublishSweep", "sweep_id must be positive");
  auto actor = Actor("PublishSweep", caller, req->actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  auto r = registry_->Publish(req->sweep_id(), *actor, req->validate_only());
  if (!r.ok()) return ToGrpc(Status(r.status().code(), "PublishSweep: " + r.status().message()));
  *resp = std::move(r).value();
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::GetModel(grpc::ServerContext* ctx, const v1::GetModelRequest* req,
                                           grpc::ServerWriter<v1::GetModelResponse>* writer) {
  if (grpc::Status a = options_.auth.Admit(ctx, "GetModel"); !a.ok()) return a;
  if (auto s = CheckName("GetModel", "model", req->model()); !s.ok()) return s;
  if (req->version() < 0) return Invalid("GetModel", "version must be >= 0");
  if (!req->alias().empty()) {
    if (req->version() != 0) return Invalid("GetModel", "give a version or an alias, not both");
    if (auto s = CheckName("GetModel", "alias", req->alias()); !s.ok()) return s;
  }
  auto v = registry_->Resolve(req->model(), req->version(), req->alias());
  if (!v.ok()) return ToGrpc(Status(v.status().code(), "GetModel: " + v.status().message()));
  v1::GetModelResponse head;
  *head.mutable_version() = *v;
  if (!writer->Write(head)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  if (!req->include_artifacts()) return grpc::Status::OK;
  std::set<std::string> sent;
  for (const auto& m : v->members()) {
    if (!sent.insert(m.sha256()).second) continue;
    auto a = store_->LoadArtifact(m.sha256());
    if (!a.ok()) return ToGrpc(a.status());
    // Verified on every load: a corrupt artifact is refused here, not served.
    const std::string digest = Sha256Hex(a->content);
    if (digest != m.sha256()) {
      return ToGrpc(DataLossError("GetModel: " + req->model() + " v" +
                                  std::to_string(v->version()) + ", member trial " +
                                  std::to_string(m.trial_id()) + ": artifact " + m.sha256() +
                                  " is corrupt: its bytes hash to " + digest));
    }
    constexpr size_t kPiece = 1 << 20;
    for (size_t off = 0; off == 0 || off < a->content.size(); off += kPiece) {
      if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      v1::GetModelResponse piece;
      piece.mutable_artifact()->set_sha256(m.sha256());
      piece.mutable_artifact()->set_offset(static_cast<int64_t>(off));
      piece.mutable_artifact()->set_data(a->content.substr(off, kPiece));
      if (!writer->Write(piece))
        return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
  }
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::ListVersions(grpc::ServerContext* ctx,
                                               const v1::ListVersionsRequest* req,
                                               v1::ListVersionsResponse* resp) {
  if (grpc::Status a = options_.auth.Admit(ctx, "ListVersions"); !a.ok()) return a;
  if (auto s = CheckName("ListVersions", "model", req->model()); !s.ok()) return s;
  auto r = store_->ListVersions(req->model(), 100);
  if (!r.ok()) return ToGrpc(Status(r.status().code(), "ListVersions: " + r.status().message()));
  *resp = std::move(r).value();
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::SetAlias(grpc::ServerContext* ctx, const v1::SetAliasRequest* req,
                                           v1::SetAliasResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "SetAlias", &caller); !a.ok()) return a;
  const std::string alias = req->alias().empty() ? "champion" : req->alias();
  if (auto s = CheckName("SetAlias", "model", req->model()); !s.ok()) return s;
  if (auto s = CheckName("SetAlias", "alias", alias); !s.ok()) return s;
  if (req->version() <= 0) return Invalid("SetAlias", "version must be positive");
  auto actor = Actor("SetAlias", caller, req->actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  if (auto s = CheckReason("SetAlias", req->reason()); !s.ok()) return s;
  auto v = store_->GetVersion(req->model(), req->version());
  if (!v.ok()) return ToGrpc(Status(v.status().code(), "SetAlias: " + v.status().message()));
  // The whole version must load (architecture and shapes), not only hash right.
  auto loaded = registry::LoadEnsemble(store_, *v);
  if (!loaded.ok()) {
    return ToGrpc(Status(loaded.status().code(), "SetAlias: " + loaded.status().message()));
  }
  auto move = store_->MoveAlias(req->model(), alias, req->version(), *actor,
                                req->reason().empty() ? "set by hand" : req->reason());
  if (!move.ok())
    return ToGrpc(Status(move.status().code(), "SetAlias: " + move.status().message()));
  resp->set_from_version(move->from_version);
  resp->set_to_version(move->to_version);
  SF_LOG(Info) << req->model() << " " << alias << ": v" << move->from_version << " -> v"
               << move->to_version;
  return grpc::Status::OK;
}

grpc::Status RegistryServiceImpl::Rollback(grpc::ServerContext* ctx, const v1::RollbackRequest* req,
                                           v1::RollbackResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "Rollback", &caller); !a.ok()) return a;
  const std::string alias = req->alias().empty() ? "champion" : req->alias();
  if (auto s = CheckName("Rollback", "model", req->model()); !s.ok()) return s;
  if (auto s = CheckName("Rollback", "alias", alias); !s.ok()) return s;
  auto actor = Actor("Rollback", caller, req->actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  if (auto s = CheckReason("Rollback", req->reason()); !s.ok()) return s;
  auto move = store_->MoveAlias(req->model(), alias, 0, *actor,
                                req->reason().empty() ? "rollback" : req->reason());
  if (!move.ok())
    return ToGrpc(Status(move.status().code(), "Rollback: " + move.status().message()));
  resp->set_from_version(move->from_version);
  resp->set_to_version(move->to_version);
  SF_LOG(Info) << req->model() << " " << alias << " rolled back: v" << move->from_version << " -> v"
               << move->to_version;
  return grpc::Status::OK;
}

}  // namespace sweepfarm::api

#include "coordinator/api/services.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "common/logging.h"
#include "common/sha256.h"
#include "coordinator/selection/ensemble.h"
#include "coordinator/sweep/sweep_yaml.h"
#include "proto/grpc_status.h"
#include "worker/engine/dataset.h"

namespace sweepfarm::api {
namespace {

grpc::Status Invalid(const std::string& rpc, const std::string& what) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, rpc + ": " + what);
}

}  // namespace

grpc::Status SweepServiceImpl::SubmitSweep(grpc::ServerContext*, const v1::SubmitSweepRequest* req,
                                           v1::SubmitSweepResponse* resp) {
  if (req->yaml().empty()) return Invalid("SubmitSweep", "yaml is empty");
  if (static_cast<int>(req->yaml().size()) > options_.max_yaml_bytes) {
    return Invalid("SubmitSweep",
                   "yaml is larger than " + std::to_string(options_.max_yaml_bytes) + " bytes");
  }
  auto parsed = sweep::ParseSweepYaml(req->yaml(), req->source_name());
  if (!parsed.ok()) return ToGrpc(parsed.status());
  store::NewSweep s{parsed->spec, req->yaml(), req->source_name(), parsed->spec_hash,
                    parsed->trials};
  auto id = store_->CreateSweep(s);
  if (!id.ok()) return ToGrpc(id.status());
  resp->set_sweep_id(*id);
  resp->set_trials(static_cast<int64_t>(parsed->trials.size()));
  resp->set_spec_hash(parsed->spec_hash);
  SF_LOG(Info) << "sweep " << *id << " (" << parsed->spec.name() << "): " << parsed->trials.size()
               << " trials";
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::GetSweepStatus(grpc::ServerContext*,
                                              const v1::GetSweepStatusRequest* req,
                                              v1::SweepStatus* resp) {
  if (req->sweep_id() <= 0) return Invalid("GetSweepStatus", "sweep_id must be positive");
  auto s = store_->GetSweepStatus(req->sweep_id());
  if (!s.ok()) return ToGrpc(s.status());
  *resp = *s;
  return grpc::Status::OK;
}

grpc::Status SweepServiceImpl::ListTrials(grpc::ServerContext*, const v1::ListTrialsRequest* req,
                                          v1::ListTrialsResponse* resp) {
  if (req->sweep_id() <= 0) return Invalid("ListTrials", "sweep_id must be positive");
  if (req->top() < 0) return Invalid("ListTrials", "top must be >= 0");
  auto trials = store_->ListTrials(req->sweep_id(), req->top(), req->leaderboard());
  if (!trials.ok()) return ToGrpc(trials.status());
  for (auto& t : *trials) *resp->add_trials() = std::move(t);
  return grpc::Status::OK;
}

namespace {

// Test-split labels of a sweep's dataset, rebuilt from its spec (deterministic) and checked
// against the fingerprint the workers recorded.
StatusOr<std::vector<int32_t>> TestLabels(const v1::DatasetSpec& spec, const std::string& hash) {
  engine::DatasetParams params(spec.params().begin(), spec.params().end());
  SF_ASSIGN_OR_RETURN(auto ds, engine::MakeDataset(spec.name(), params));
  if (ds->hash != hash) {
    return FailedPreconditionError("dataset " + spec.name() + " rebuilt here has hash " + ds->hash +
                                   ", the trials were scored on " + hash);
  }
  torch::Tensor y = ds->test.y.to(torch::kInt32).contiguous();
  return std::vector<int32_t>(y.data_ptr<int32_t>(), y.data_ptr<int32_t>() + y.numel());
}

void Summarize(const std::string& method, const selection::Ensemble& e,
               const std::vector<selection::Predictions>& holdout,
               const std::vector<int32_t>& holdout_labels, int classes, v1::EnsembleSummary* out) {
  out->set_method(method);
  std::vector<const selection::Predictions*> members;
  for (size_t i = 0; i < e.trial_ids.size(); ++i) {
    out->add_trial_ids(e.trial_ids[i]);
    out->add_weights(e.weights[i]);
    for (const auto& h : holdout) {
      if (h.trial_id == e.trial_ids[i]) members.push_back(&h);
    }
  }
  out->set_selection_accuracy(e.selection_accuracy);
  out->set_holdout_accuracy(
      selection::Accuracy(selection::Average(members, e.weights, holdout_labels.size() * classes),
                          holdout_labels, classes));
}

}  // namespace

grpc::Status SweepServiceImpl::BuildEnsemble(grpc::ServerContext*,
                                             const v1::BuildEnsembleRequest* req,
                                             v1::BuildEnsembleResponse* resp) {
  const int size = req->size() == 0 ? 10 : req->size();
  const int n = req->candidates() == 0 ? 20 : req->candidates();
  const int k = req->top_k() == 0 ? 5 : req->top_k();
  if (req->sweep_id() <= 0) return Invalid("BuildEnsemble", "sweep_id must be positive");
  if (size < 1 || size > 1000) return Invalid("BuildEnsemble", "size must be in [1, 1000]");
  if (n < 1 || n > 1000) return Invalid("BuildEnsemble", "candidates must be in [1, 1000]");
  if (k < 1 || k > n) return Invalid("BuildEnsemble", "top_k must be in [1, candidates]");
  auto loaded = store_->LoadCandidates(req->sweep_id(), n);
  if (!loaded.ok()) return ToGrpc(loaded.status());
  const auto& [spec, cands] = *loaded;
  if (cands.empty()) {
    return ToGrpc(FailedPreconditionError("BuildEnsemble: sweep " +
                                          std::to_string(req->sweep_id()) +
                                          " has no succeeded trials with stored predictions"));
  }
  const auto& first = cands.front();
  for (const auto& c : cands) {
    if (c.samples != first.samples || c.classes != first.classes ||
        c.selection_size != first.selection_size || c.dataset_hash != first.dataset_hash) {
      return ToGrpc(FailedPreconditionError(
          "BuildEnsemble: trials " + std::to_string(first.trial_id) + " and " +
          std::to_string(c.trial_id) + " were scored on different data"));
    }
  }
  auto labels = TestLabels(spec.dataset(), first.dataset_hash);
  if (!labels.ok()) return ToGrpc(labels.status());
  if (static_cast<int>(labels->size()) != first.samples) {
    return ToGrpc(FailedPreconditionError("BuildEnsemble: stored predictions cover " +
                                          std::to_string(first.samples) +
                                          " samples, the test "
                                          "split has " +
                                          std::to_string(labels->size())));
  }
  const size_t sel = static_cast<size_t>(first.selection_size), cls = first.classes;
  std::vector<int32_t> sel_labels(labels->begin(), labels->begin() + sel);
  std::vector<int32_t> hold_labels(labels->begin() + sel, labels->end());
  std::vector<selection::Predictions> sel_preds, hold_preds;
  for (const auto& c : cands) {
    std::vector<float> p = selection::HalfToFloat(c.probs_f16);
    sel_preds.push_back({c.trial_id, std::vector<float>(p.begin(), p.begin() + sel * cls)});
    hold_preds.push_back({c.trial_id, std::vector<float>(p.begin() + sel * cls, p.end())});
  }
  auto greedy = selection::GreedySelect(sel_preds, sel_labels, first.classes, size);
  auto top = selection::TopK(sel_preds, sel_labels, first.classes, k);
  if (!greedy.ok()) return ToGrpc(greedy.status());
  if (!top.ok()) return ToGrpc(top.status());
  selection::Ensemble single{{first.trial_id}, {1.0}, first.selection_accuracy};
  Summarize("greedy", *greedy, hold_preds, hold_labels, first.classes, resp->mutable_greedy());
  Summarize("top_k", *top, hold_preds, hold_labels, first.classes, resp->mutable_top_k());
  Summarize("best_single", single, hold_preds, hold_labels, first.classes,
            resp->mutable_best_single());
  resp->set_candidates(static_cast<int32_t>(cands.size()));
  resp->set_selection_samples(static_cast<int32_t>(sel));
  resp->set_holdout_samples(static_cast<int32_t>(hold_labels.size()));
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext*,
                                               const v1::RegisterWorkerRequest* req,
                                               v1::RegisterWorkerResponse* resp) {
  if (req->device() != "cpu" && req->device() != "cuda") {
    return Invalid("RegisterWorker", "device must be cpu or cuda, got \"" + req->device() + "\"");
  }
  if (req->capacity() < 1 || req->capacity() > options_.max_bundle) {
    return Invalid("RegisterWorker",
                   "capacity must be in [1, " + std::to_string(options_.max_bundle) + "]");
  }
  auto id = store_->RegisterWorker(req->host(), req->device(), req->capacity());
  if (!id.ok()) return ToGrpc(id.status());
  resp->set_worker_id(*id);
  resp->set_lease_seconds(options_.lease_seconds);
  SF_LOG(Info) << "worker " << *id << " registered (" << req->host() << ", " << req->device()
               << ", capacity " << req->capacity() << ")";
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::LeaseWork(grpc::ServerContext*, const v1::LeaseWorkRequest* req,
                                          v1::LeaseWorkResponse* resp) {
  if (req->worker_id().empty()) return Invalid("LeaseWork", "worker_id is empty");
  if (req->max_trials() < 1 || req->max_trials() > options_.max_bundle) {
    return Invalid("LeaseWork",
                   "max_trials must be in [1, " + std::to_string(options_.max_bundle) + "]");
  }
  auto lease = store_->LeaseTrials(req->worker_id(), req->max_trials(), options_.lease_seconds);
  if (!lease.ok()) return ToGrpc(lease.status());
  resp->set_lease_seconds(options_.lease_seconds);
  if (lease->trials.empty()) return grpc::Status::OK;
  resp->set_sweep_id(lease->sweep_id);
  *resp->mutable_spec() = lease->spec;
  for (auto& t : lease->trials) *resp->add_trials() = std::move(t);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* req,
                                          v1::HeartbeatResponse* resp) {
  if (req->worker_id().empty()) return Invalid("Heartbeat", "worker_id is empty");
  std::vector<v1::TrialLease> leases(req->leases().begin(), req->leases().end());
  auto lost = store_->Heartbeat(req->worker_id(), leases, options_.lease_seconds);
  if (!lost.ok()) return ToGrpc(lost.status());
  for (int64_t id : *lost) resp->add_lost_trial_ids(id);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::ReportResults(grpc::ServerContext*,
                                              const v1::ReportResultsRequest* req,
                                              v1::ReportResultsResponse* resp) {
  if (req->worker_id().empty()) return Invalid("ReportResults", "worker_id is empty");
  // Validate every report before writing any: a rejected request writes nothing.
  for (int i = 0; i < req->reports_size(); ++i) {
    const auto& r = req->reports(i);
    std::string at = "reports[" + std::to_string(i) + "]";
    if (r.trial_id() <= 0) return Invalid("ReportResults", at + ".trial_id must be positive");
    if (r.ok()) {
      double acc = r.result().test_accuracy();
      if (!(acc >= 0 && acc <= 1)) {
        return Invalid("ReportResults", at + ".result.test_accuracy must be in [0, 1]");
      }
      if (r.result().dataset_hash().empty()) {
        return Invalid("ReportResults", at + ".result.dataset_hash is empty");
      }
      for (double v : {r.result().selection_accuracy(), r.result().holdout_accuracy()}) {
        if (!(v >= 0 && v <= 1)) {
          return Invalid("ReportResults", at + ".result.selection_accuracy and holdout_accuracy "
                                               "must be in [0, 1]");
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
  auto outcomes = store_->RecordResults(req->worker_id(), reports);
  if (!outcomes.ok()) return ToGrpc(outcomes.status());
  for (size_t i = 0; i < outcomes->size(); ++i) {
    switch ((*outcomes)[i]) {
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
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::ReleaseLeases(grpc::ServerContext*,
                                              const v1::ReleaseLeasesRequest* req,
                                              v1::ReleaseLeasesResponse* resp) {
  if (req->worker_id().empty()) return Invalid("ReleaseLeases", "worker_id is empty");
  for (int i = 0; i < req->leases_size(); ++i) {
    if (req->leases(i).trial_id() <= 0) {
      return Invalid("ReleaseLeases",
                     "leases[" + std::to_string(i) + "].trial_id must be positive");
    }
  }
  std::vector<v1::TrialLease> leases(req->leases().begin(), req->leases().end());
  auto n = store_->ReleaseLeases(req->worker_id(), leases);
  if (!n.ok()) return ToGrpc(n.status());
  resp->set_released(*n);
  SF_LOG(Info) << "worker " << req->worker_id() << " handed back " << *n << " lease(s)";
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::UploadArtifact(grpc::ServerContext*,
                                               grpc::ServerReader<v1::ArtifactChunk>* reader,
                                               v1::UploadArtifactResponse* resp) {
  v1::ArtifactChunk first, chunk;
  if (!reader->Read(&first)) return Invalid("UploadArtifact", "no chunks");
  if (first.trial_id() <= 0) return Invalid("UploadArtifact", "trial_id must be positive");
  if (first.format() != "sweepfarm-weights-v1") {
    return Invalid("UploadArtifact", "format must be sweepfarm-weights-v1");
  }
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
  Status s = store_->StoreArtifact(first.trial_id(), first.lease_token(), digest, first.format(),
                                   first.arch_json(), content);
  if (!s.ok()) return ToGrpc(s);
  resp->set_sha256(digest);
  resp->set_size_bytes(static_cast<int64_t>(content.size()));
  return grpc::Status::OK;
}

}  // namespace sweepfarm::api

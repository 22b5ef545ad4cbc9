// gRPC services of the coordinator. Handlers validate their arguments, call the store, and never
// throw; all state lives in PostgreSQL, so any number of handler threads (or coordinators) may run.
#pragma once

#include <atomic>

#include "coordinator/api/metrics.h"
#include "coordinator/api/work_signal.h"
#include "coordinator/data/datasets.h"
#include "coordinator/registry/registry.h"
#include "coordinator/store/store.h"
#include "proto/security.h"
#include "sweepfarm/v1/data.grpc.pb.h"
#include "sweepfarm/v1/registry.grpc.pb.h"
#include "sweepfarm/v1/sweep.grpc.pb.h"
#include "sweepfarm/v1/worker.grpc.pb.h"

namespace sweepfarm::api {

struct ServiceOptions {
  Metrics* metrics = nullptr;  // Counts results and leases when set.
  int lease_seconds = 30;
  int max_yaml_bytes = 1 << 20;
  int max_bundle = 8192;
  int64_t max_artifact_bytes = 256LL << 20;
  int64_t max_dataset_bytes = 1LL << 30;  // An import's content (--max-dataset-bytes).
  TokenCheck auth;                        // Every handler admits its call through it first.
  // LeaseWork's long polling: woken by whatever may queue trials. None: LeaseWork answers at once
  // whatever wait_ms asks. (With several coordinators, a waiter is woken only by its own
  // coordinator's calls; the others' work it finds when its wait ends.)
  WorkSignal* work = nullptr;
};

// The longest LeaseWorkRequest.wait_ms.
constexpr int kMaxLeaseWaitMs = 30000;

// At most `limit` at once of something costly (imports held in memory, data set streams): a call
// that finds none free is refused with RESOURCE_EXHAUSTED rather than queued.
class Slots {
 public:
  explicit Slots(int limit) : free_(limit) {}
  bool TryTake() {
    int n = free_.load();
    while (n > 0) {
      if (free_.compare_exchange_weak(n, n - 1)) return true;
    }
    return false;
  }
  void Give() { ++free_; }

 private:
  std::atomic<int> free_;
};

// Takes one of `slots` for the call's duration, or says why not.
class SlotGuard {
 public:
  explicit SlotGuard(Slots* slots) : slots_(slots), held_(slots->TryTake()) {}
  ~SlotGuard() {
    if (held_) slots_->Give();
  }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;
  bool held() const { return held_; }

 private:
  Slots* slots_;
  bool held_;
};

// The refusal when no slot is free: RESOURCE_EXHAUSTED naming the RPC and what it waits for.
inline grpc::Status Busy(const std::string& rpc, const std::string& what) {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      rpc + ": too many " + what + " at once; try again shortly");
}

class SweepServiceImpl final : public v1::SweepService::Service {
 public:
  SweepServiceImpl(store::Store* store, datasets::DataSets* datasets, ServiceOptions options)
      : store_(store), datasets_(datasets), options_(options) {}
  grpc::Status SubmitSweep(grpc::ServerContext*, const v1::SubmitSweepRequest*,
                           v1::SubmitSweepResponse*) override;
  grpc::Status GetSweepStatus(grpc::ServerContext*, const v1::GetSweepStatusRequest*,
                              v1::SweepStatus*) override;
  grpc::Status ListTrials(grpc::ServerContext*, const v1::ListTrialsRequest*,
                          v1::ListTrialsResponse*) override;
  grpc::Status CancelSweep(grpc::ServerContext*, const v1::CancelSweepRequest*,
                           v1::CancelSweepResponse*) override;
  grpc::Status ListSweeps(grpc::ServerContext*, const v1::ListSweepsRequest*,
                          v1::ListSweepsResponse*) override;
  grpc::Status PruneSweeps(grpc::ServerContext*, const v1::PruneSweepsRequest*,
                           v1::PruneSweepsResponse*) override;
  grpc::Status BuildEnsemble(grpc::ServerContext*, const v1::BuildEnsembleRequest*,
                             v1::BuildEnsembleResponse*) override;
  grpc::Status SetSweepPriority(grpc::ServerContext*, const v1::SetSweepPriorityRequest*,
                                v1::SetSweepPriorityResponse*) override;
  grpc::Status ExtendSweep(grpc::ServerContext*, const v1::ExtendSweepRequest*,
                           v1::ExtendSweepResponse*) override;
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*,
                           v1::ListWorkersResponse*) override;

 private:
  store::Store* store_;
  datasets::DataSets* datasets_;
  Slots submits_{2};  // Sweeps expanded in memory at once (SubmitSweep).
  ServiceOptions options_;
};

class RegistryServiceImpl final : public v1::RegistryService::Service {
 public:
  RegistryServiceImpl(store::Store* store, registry::Registry* registry, ServiceOptions options)
      : store_(store), registry_(registry), options_(options) {}
  grpc::Status PublishSweep(grpc::ServerContext*, const v1::PublishSweepRequest*,
                            v1::PublishSweepResponse*) override;
  grpc::Status GetModel(grpc::ServerContext*, const v1::GetModelRequest*,
                        grpc::ServerWriter<v1::GetModelResponse>*) override;
  grpc::Status ListVersions(grpc::ServerContext*, const v1::ListVersionsRequest*,
                            v1::ListVersionsResponse*) override;
  grpc::Status SetAlias(grpc::ServerContext*, const v1::SetAliasRequest*,
                        v1::SetAliasResponse*) override;
  grpc::Status Rollback(grpc::ServerContext*, const v1::RollbackRequest*,
                        v1::RollbackResponse*) override;

 private:
  store::Store* store_;
  registry::Registry* registry_;
  ServiceOptions options_;
};

class WorkerServiceImpl final : public v1::WorkerService::Service {
 public:
  WorkerServiceImpl(store::Store* store, datasets::DataSets* datasets, Slots* streams,
                    ServiceOptions options)
      : store_(store), datasets_(datasets), streams_(streams), options_(options) {}
  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest*,
                              v1::RegisterWorkerResponse*) override;
  grpc::Status LeaseWork(grpc::ServerContext*, const v1::LeaseWorkRequest*,
                         v1::LeaseWorkResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*,
                         v1::HeartbeatResponse*) override;
  grpc::Status ReportResults(grpc::ServerContext*, const v1::ReportResultsRequest*,
                             v1::ReportResultsResponse*) override;
  grpc::Status ReleaseLeases(grpc::ServerContext*, const v1::ReleaseLeasesRequest*,
                             v1::ReleaseLeasesResponse*) override;
  grpc::Status UploadArtifact(grpc::ServerContext*, grpc::ServerReader<v1::ArtifactChunk>*,
                              v1::UploadArtifactResponse*) override;
  grpc::Status GetCheckpoint(grpc::ServerContext*, const v1::GetCheckpointRequest*,
                             grpc::ServerWriter<v1::ArtifactChunk>*) override;
  grpc::Status FetchDataset(grpc::ServerContext*, const v1::FetchDatasetRequest*,
                            grpc::ServerWriter<v1::DataChunk>*) override;  // data_service.cc

 private:
  // A worker RPC's admission: the caller's token (options_.auth), then OwnWorker.
  grpc::Status AdmitWorker(const grpc::ServerContext* ctx, const char* rpc,
                           const std::string& worker_id) const;
  // OK if `worker_id` (1-200 bytes) was registered by `caller`, the token's holder: a worker
  // acts only for itself. INVALID_ARGUMENT or PERMISSION_DENIED naming `rpc` otherwise.
  grpc::Status OwnWorker(const char* rpc, const std::string& worker_id,
                         const std::string& caller) const;

  store::Store* store_;
  datasets::DataSets* datasets_;
  Slots* streams_;
  Slots uploads_{4};  // Uploads buffered at once.
  ServiceOptions options_;
};

// Data sets and the feedback loop (data_service.cc).
class DataServiceImpl final : public v1::DataService::Service {
 public:
  DataServiceImpl(store::Store* store, datasets::DataSets* datasets, Slots* streams,
                  ServiceOptions options)
      : store_(store), datasets_(datasets), streams_(streams), options_(options) {}
  grpc::Status ImportDataset(grpc::ServerContext*, grpc::ServerReader<v1::ImportDatasetChunk>*,
                             v1::ImportDatasetResponse*) override;
  grpc::Status ListDatasets(grpc::ServerContext*, const v1::ListDatasetsRequest*,
                            v1::ListDatasetsResponse*) override;
  grpc::Status GetDataset(grpc::ServerContext*, const v1::GetDatasetRequest*,
                          v1::DatasetVersion*) override;
  grpc::Status ExportDataset(grpc::ServerContext*, const v1::GetDatasetRequest*,
                             grpc::ServerWriter<v1::DataChunk>*) override;
  grpc::Status GenerateDataset(grpc::ServerContext*, const v1::GenerateDatasetRequest*,
                               v1::DatasetVersion*) override;
  grpc::Status GrowDataset(grpc::ServerContext*, const v1::GrowDatasetRequest*,
                           v1::GrowDatasetResponse*) override;
  grpc::Status RecordPredictions(grpc::ServerContext*, const v1::RecordPredictionsRequest*,
                                 v1::RecordPredictionsResponse*) override;
  grpc::Status LabelPrediction(grpc::ServerContext*, const v1::LabelPredictionRequest*,
                               v1::LabelPredictionResponse*) override;
  grpc::Status ListPredictions(grpc::ServerContext*, const v1::ListPredictionsRequest*,
                               v1::ListPredictionsResponse*) override;

 private:
  store::Store* store_;
  datasets::DataSets* datasets_;
  Slots* streams_;  // Shared with WorkerServiceImpl::FetchDataset.
  Slots imports_{2};
  ServiceOptions options_;
};

}  // namespace sweepfarm::api

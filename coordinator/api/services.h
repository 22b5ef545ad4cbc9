// gRPC services of the coordinator. Handlers validate their arguments, call the store, and never
// throw; all state lives in PostgreSQL, so any number of handler threads (or coordinators) may run.
#pragma once

#include "coordinator/api/metrics.h"
#include "coordinator/registry/registry.h"
#include "coordinator/store/store.h"
#include "proto/security.h"
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
  TokenCheck auth;  // Every handler admits its call through it first.
};

class SweepServiceImpl final : public v1::SweepService::Service {
 public:
  SweepServiceImpl(store::Store* store, registry::DatasetCache* datasets, ServiceOptions options)
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
  registry::DatasetCache* datasets_;
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
  WorkerServiceImpl(store::Store* store, ServiceOptions options)
      : store_(store), options_(options) {}
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

 private:
  store::Store* store_;
  ServiceOptions options_;
};

}  // namespace sweepfarm::api

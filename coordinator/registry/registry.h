// The registry's logic above the store: ensembles of a finished sweep, the promotion gate, and
// loading versions with their verified weights. Thread-safe (state lives in the store; datasets are
// cached read-only).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "coordinator/data/datasets.h"
#include "coordinator/store/store.h"
#include "engine/dataset.h"
#include "engine/model_io.h"
#include "sweepfarm/v1/registry.pb.h"

namespace sweepfarm::registry {

struct EnsembleOptions {
  int size = 10;
  int candidates = 20;
  int top_k = 5;
  bool with_artifacts = false;  // Only candidates whose weights were uploaded.
};

struct EnsembleReport {
  v1::SweepSpec spec;
  std::string dataset_hash;
  std::shared_ptr<const engine::Dataset> data;
  v1::BuildEnsembleResponse summary;  // greedy, top_k, best_single, on selection and holdout.
};

// Greedy (Caruana) and top-k ensembles of a sweep's best trials, chosen on the selection split
// from stored predictions, reported against the best single trial on the holdout split.
StatusOr<EnsembleReport> BuildEnsembles(store::Store* store, datasets::DataSets* datasets,
                                        int64_t sweep_id, const EnsembleOptions& options);

// A version's members rebuilt from their artifacts, each verified against its sha256.
StatusOr<engine::EnsembleModel> LoadEnsemble(store::Store* store, const v1::ModelVersion& version);

class Registry {
 public:
  Registry(store::Store* store, datasets::DataSets* datasets, std::string code_version)
      : store_(store), datasets_(datasets), code_version_(std::move(code_version)) {}

  // Ensemble, gate and registration of a finished sweep (RegistryService.PublishSweep); with
  // `dry_run`, everything but the registration (and the alias move).
  StatusOr<v1::PublishSweepResponse> Publish(int64_t sweep_id, const std::string& actor,
                                             bool dry_run = false);
  // A version by number, else by alias (default "champion"), with members.
  StatusOr<v1::ModelVersion> Resolve(const std::string& model, int version,
                                     const std::string& alias);

 private:
  store::Store* store_;
  datasets::DataSets* datasets_;
  std::string code_version_;
};

}  // namespace sweepfarm::registry

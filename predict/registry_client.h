// Loading a registry version for prediction: its members and their artifacts over
// RegistryService.GetModel, every artifact verified against its sha256 and rebuilt as one
// ensemble. Shared by sweepfarm-predict and sweepfarm-serve.
#pragma once

#include <memory>

#include "common/status.h"
#include "engine/model_io.h"
#include "sweepfarm/v1/data.grpc.pb.h"
#include "sweepfarm/v1/registry.grpc.pb.h"

namespace sweepfarm::predict {

struct LoadedModel {
  v1::ModelVersion version;
  engine::EnsembleModel model;
};

// The version `req` names, described without its artifacts (include_artifacts is cleared here): one
// small query, e.g. to learn which version an alias names or which dataset it was chosen on.
StatusOr<v1::ModelVersion> GetVersion(v1::RegistryService::StubInterface* registry,
                                      v1::GetModelRequest req, int deadline_seconds = 60);

// The version `req` names, with its artifacts (include_artifacts is set here), or the error:
// the RPC's (e.g. NOT_FOUND for an unknown alias) or a corrupt or missing artifact, named.
StatusOr<LoadedModel> LoadModel(v1::RegistryService::StubInterface* registry,
                                v1::GetModelRequest req, int deadline_seconds = 60);

// The data set a version was chosen on, as tensors: its stored version streamed through
// DataService.ExportDataset and verified against its sha256, or for versions from before data
// set versions, the built-in rebuilt from its parameters.
StatusOr<std::shared_ptr<const engine::Dataset>> FetchDataset(v1::DataService::StubInterface* data,
                                                              const v1::DatasetSpec& spec,
                                                              int deadline_seconds = 300);

}  // namespace sweepfarm::predict

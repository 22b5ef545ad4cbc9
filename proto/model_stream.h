// Reading RegistryService.GetModel's answer, a stream of one version and then its artifacts'
// pieces: shared by sweepctl (descriptions), sweepfarm-predict and sweepfarm-serve (loading).
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/status.h"
#include "sweepfarm/v1/registry.grpc.pb.h"

namespace sweepfarm {

// Calls GetModel with `req` and `deadline`, and returns the version the answer holds (INTERNAL if
// none, or the RPC's error). If `artifacts` is given, the artifacts' bytes by sha256 go there,
// each checked to arrive in order (INTERNAL naming the artifact if not); the caller decides
// whether to ask for them (req.include_artifacts).
StatusOr<v1::ModelVersion> ReadModelStream(v1::RegistryService::StubInterface* registry,
                                           const v1::GetModelRequest& req,
                                           std::chrono::milliseconds deadline,
                                           std::map<std::string, std::string>* artifacts = nullptr);

}  // namespace sweepfarm

#include "predict/registry_client.h"

#include <chrono>
#include <map>

#include "proto/model_stream.h"

namespace sweepfarm::predict {

StatusOr<v1::ModelVersion> GetVersion(v1::RegistryService::StubInterface* registry,
                                      v1::GetModelRequest req, int deadline_seconds) {
  req.set_include_artifacts(false);
  return ReadModelStream(registry, req, std::chrono::seconds(deadline_seconds));
}

StatusOr<LoadedModel> LoadModel(v1::RegistryService::StubInterface* registry,
                                v1::GetModelRequest req, int deadline_seconds) {
  req.set_include_artifacts(true);
  std::map<std::string, std::string> content;
  SF_ASSIGN_OR_RETURN(
      v1::ModelVersion version,
      ReadModelStream(registry, req, std::chrono::seconds(deadline_seconds), &content));
  std::vector<engine::MemberArtifact> members;
  for (const auto& m : version.members()) {
    auto it = content.find(m.sha256());
    if (it == content.end()) return InternalError("GetModel: artifact " + m.sha256() + " missing");
    members.push_back(
        {m.trial_id(), m.weight(), m.format(), m.arch_json(), it->second, m.sha256()});
  }
  SF_ASSIGN_OR_RETURN(
      engine::EnsembleModel model,
      engine::LoadEnsemble(members, version.model() + " v" + std::to_string(version.version())));
  return LoadedModel{std::move(version), std::move(model)};
}

}  // namespace sweepfarm::predict

#include "predict/registry_client.h"

#include <chrono>
#include <map>

#include "proto/grpc_status.h"

namespace sweepfarm::predict {

StatusOr<v1::ModelVersion> GetVersion(v1::RegistryService::StubInterface* registry,
                                      v1::GetModelRequest req, int deadline_seconds) {
  req.set_include_artifacts(false);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline_seconds));
  auto reader = registry->GetModel(&ctx, req);
  v1::GetModelResponse part;
  v1::ModelVersion version;
  bool have_version = false;
  while (reader->Read(&part)) {
    if (part.has_version()) {
      version = part.version();
      have_version = true;
    }
  }
  SF_RETURN_IF_ERROR(FromGrpc(reader->Finish(), "GetModel"));
  if (!have_version) return InternalError("GetModel: the answer held no version");
  return version;
}

StatusOr<LoadedModel> LoadModel(v1::RegistryService::StubInterface* registry,
                                v1::GetModelRequest req, int deadline_seconds) {
  req.set_include_artifacts(true);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline_seconds));
  auto reader = registry->GetModel(&ctx, req);
  v1::GetModelResponse part;
  v1::ModelVersion version;
  bool have_version = false;
  std::map<std::string, std::string> content;
  while (reader->Read(&part)) {
    if (part.has_version()) {
      version = part.version();
      have_version = true;
    } else if (part.has_artifact()) {
      std::string& c = content[part.artifact().sha256()];
      if (static_cast<int64_t>(c.size()) != part.artifact().offset()) {
        return InternalError("GetModel: artifact " + part.artifact().sha256() +
                             " arrived out of order");
      }
      c += part.artifact().data();
    }
  }
  SF_RETURN_IF_ERROR(FromGrpc(reader->Finish(), "GetModel"));
  if (!have_version) return InternalError("GetModel: the answer held no version");
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

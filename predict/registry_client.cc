#include "predict/registry_client.h"

#include <chrono>
#include <map>

#include "engine/data/codec.h"
#include "proto/grpc_status.h"
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

StatusOr<std::shared_ptr<const engine::Dataset>> FetchDataset(v1::DataService::StubInterface* data,
                                                              const v1::DatasetSpec& spec,
                                                              int deadline_seconds) {
  if (spec.sha256().empty()) {
    engine::DatasetParams params(spec.params().begin(), spec.params().end());
    return engine::MakeDataset(spec.name(), params);
  }
  v1::GetDatasetRequest req;
  req.set_name(spec.name());
  req.set_version(spec.version());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline_seconds));
  auto reader = data->ExportDataset(&ctx, req);
  v1::DataChunk chunk;
  std::string content;
  while (reader->Read(&chunk)) content += chunk.data();
  SF_RETURN_IF_ERROR(FromGrpc(reader->Finish(), "ExportDataset"));
  if (const std::string digest = data::ContentHash(content); digest != spec.sha256()) {
    return DataLossError("ExportDataset: " + spec.name() + " v" + std::to_string(spec.version()) +
                         " arrived hashing to " + digest + ", not " + spec.sha256());
  }
  SF_ASSIGN_OR_RETURN(data::Table table, data::Decode(content));
  return engine::DatasetFromTable(table, spec.name() + "@" + std::to_string(spec.version()),
                                  spec.sha256());
}

}  // namespace sweepfarm::predict

#include "proto/model_stream.h"

#include "proto/grpc_status.h"

namespace sweepfarm {

StatusOr<v1::ModelVersion> ReadModelStream(v1::RegistryService::StubInterface* registry,
                                           const v1::GetModelRequest& req,
                                           std::chrono::milliseconds deadline,
                                           std::map<std::string, std::string>* artifacts) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  auto reader = registry->GetModel(&ctx, req);
  v1::GetModelResponse part;
  v1::ModelVersion version;
  bool have_version = false;
  while (reader->Read(&part)) {
    if (part.has_version()) {
      version = part.version();
      have_version = true;
    } else if (part.has_artifact() && artifacts != nullptr) {
      std::string& c = (*artifacts)[part.artifact().sha256()];
      if (static_cast<int64_t>(c.size()) != part.artifact().offset()) {
        return InternalError("GetModel: artifact " + part.artifact().sha256() +
                             " arrived out of order");
      }
      c += part.artifact().data();
    }
  }
  SF_RETURN_IF_ERROR(FromGrpc(reader->Finish(), "GetModel"));
  if (!have_version) return InternalError("GetModel: the answer held no version");
  return version;
}

}  // namespace sweepfarm

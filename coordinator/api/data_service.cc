// DataService (data sets, predictions served and their labels) and WorkerService.FetchDataset:
// the data set streams live here, bounded in size and in how many run at once.
#include <cctype>
#include <cmath>

#include "common/logging.h"
#include "coordinator/api/checks.h"
#include "coordinator/api/services.h"
#include "engine/catalog.h"
#include "engine/data/codec.h"
#include "proto/grpc_status.h"

namespace sweepfarm::api {
namespace {

constexpr size_t kChunkBytes = 1 << 20;
constexpr int kMaxRecorded = 1000;  // Predictions per RecordPredictions call.
constexpr int kMaxListed = 1000;    // ListPredictions' limit.

bool IsHex(const std::string& s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) ||
        std::isupper(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// RFC 3339 as the service writes it: 2026-12-04T07:24:24.123Z (fraction and offset optional).
bool IsTimestamp(const std::string& s) {
  if (s.size() < 20 || s.size() > 35) return false;
  const char* pattern = "dddd-dd-ddTdd:dd:dd";
  for (size_t i = 0; i < 19; ++i) {
    if (pattern[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != pattern[i]) {
      return false;
    }
  }
  for (size_t i = 19; i < s.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i])) &&
        std::string(".Z+-:").find(s[i]) == std::string::npos) {
      return false;
    }
  }
  return true;
}

grpc::Status WithRpc(const char* rpc, const Status& s) {
  const std::string prefix = std::string(rpc) + ": ";
  return ToGrpc(
      Status(s.code(), s.message().rfind(prefix, 0) == 0 ? s.message() : prefix + s.message()));
}

// Streams a version's content in pieces, the first naming the version; one store read per piece
// (no connection is held while the client reads).
grpc::Status StreamContent(grpc::ServerContext* ctx, store::Store* store,
                           const v1::DatasetVersion& v, grpc::ServerWriter<v1::DataChunk>* writer) {
  int64_t sent = 0;
  for (int seq = 0;; ++seq) {
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    auto piece = store->DatasetPiece(v.sha256(), seq);
    if (!piece.ok()) return ToGrpc(piece.status());
    if (!*piece) break;
    v1::DataChunk chunk;
    if (seq == 0) *chunk.mutable_version() = v;
    sent += static_cast<int64_t>((*piece)->size());
    for (size_t off = 0; off < (*piece)->size(); off += kChunkBytes) {
      chunk.set_data((*piece)->substr(off, kChunkBytes));
      if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
      chunk.clear_version();
    }
  }
  if (sent != v.size_bytes()) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        "data set " + v.name() + " v" + std::to_string(v.version()) + ": " +
                            std::to_string(sent) + " bytes stored of " +
                            std::to_string(v.size_bytes()));
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status WorkerServiceImpl::FetchDataset(grpc::ServerContext* ctx,
                                             const v1::FetchDatasetRequest* req,
                                             grpc::ServerWriter<v1::DataChunk>* writer) {
  if (grpc::Status a = AdmitWorker(ctx, "FetchDataset", req->worker_id()); !a.ok()) return a;
  if (!IsHex(req->sha256(), 64))
    return Invalid("FetchDataset", "sha256 must be 64 lowercase hex digits");
  if (Status s = store_->WorkerMayFetch(req->worker_id(), req->sha256()); !s.ok()) {
    return WithRpc("FetchDataset", s);
  }
  SlotGuard slot(streams_);
  if (!slot.held()) return Busy("FetchDataset", "data set streams");
  // Any version with this content: its bytes are the same whichever name it has.
  auto version = store_->VersionWithContent(req->sha256());
  if (!version.ok()) return WithRpc("FetchDataset", version.status());
  return StreamContent(ctx, store_, *version, writer);
}

grpc::Status DataServiceImpl::ImportDataset(grpc::ServerContext* ctx,
                                            grpc::ServerReader<v1::ImportDatasetChunk>* reader,
                                            v1::ImportDatasetResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "ImportDataset", &caller); !a.ok()) return a;
  v1::ImportDatasetChunk chunk;
  if (!reader->Read(&chunk) || !chunk.has_header()) {
    return Invalid("ImportDataset", "the first message must be the header");
  }
  v1::DatasetHeader header = chunk.header();
  if (auto s = CheckName("ImportDataset", "header.name", header.name()); !s.ok()) return s;
  if (!IsHex(header.sha256(), 64)) {
    return Invalid("ImportDataset", "header.sha256 must be 64 lowercase hex digits");
  }
  if (header.size_bytes() <= 0 || header.size_bytes() > options_.max_dataset_bytes) {
    return Invalid("ImportDataset", "header.size_bytes " + std::to_string(header.size_bytes()) +
                                        " must be 1 to " +
                                        std::to_string(options_.max_dataset_bytes) +
                                        " (the coordinator's --max-dataset-bytes)");
  }
  if (header.source().size() > 1000 || header.split_rule().size() > 1000) {
    return Invalid("ImportDataset", "header.source and header.split_rule: at most 1,000 bytes");
  }
  auto actor = Actor("ImportDataset", caller, header.actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  header.set_actor(*actor);
  SlotGuard slot(&imports_);
  if (!slot.held()) return Busy("ImportDataset", "imports");
  std::string content;
  content.reserve(static_cast<size_t>(header.size_bytes()));
  while (reader->Read(&chunk)) {
    if (chunk.has_header()) return Invalid("ImportDataset", "a second header");
    if (static_cast<int64_t>(content.size() + chunk.data().size()) > header.size_bytes()) {
      return Invalid("ImportDataset", "more content than header.size_bytes (" +
                                          std::to_string(header.size_bytes()) + ")");
    }
    content += chunk.data();
  }
  if (static_cast<int64_t>(content.size()) != header.size_bytes()) {
    return Invalid("ImportDataset", std::to_string(content.size()) +
                                        " bytes received, header says " +
                                        std::to_string(header.size_bytes()));
  }
  auto stored = datasets_->Import(header, content);
  if (!stored.ok()) return WithRpc("ImportDataset", stored.status());
  *resp->mutable_version() = stored->first;
  resp->set_existed(stored->second);
  SF_LOG(Info) << "data set " << header.name() << " v" << stored->first.version()
               << (stored->second ? " (already stored)" : " imported") << " by " << *actor;
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::ListDatasets(grpc::ServerContext* ctx,
                                           const v1::ListDatasetsRequest* req,
                                           v1::ListDatasetsResponse* resp) {
  if (grpc::Status a = options_.auth.Admit(ctx, "ListDatasets"); !a.ok()) return a;
  if (!req->name().empty()) {
    if (auto s = CheckName("ListDatasets", "name", req->name()); !s.ok()) return s;
  }
  auto r = store_->ListDatasetVersions(req->name());
  if (!r.ok()) return WithRpc("ListDatasets", r.status());
  for (auto& v : *r) *resp->add_versions() = std::move(v);
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::GetDataset(grpc::ServerContext* ctx, const v1::GetDatasetRequest* req,
                                         v1::DatasetVersion* resp) {
  if (grpc::Status a = options_.auth.Admit(ctx, "GetDataset"); !a.ok()) return a;
  if (auto s = CheckName("GetDataset", "name", req->name()); !s.ok()) return s;
  if (req->version() < 0) return Invalid("GetDataset", "version must be positive (0: the latest)");
  auto r = store_->GetDatasetVersion(req->name(), req->version());
  if (!r.ok()) return WithRpc("GetDataset", r.status());
  *resp = std::move(r).value();
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::ExportDataset(grpc::ServerContext* ctx,
                                            const v1::GetDatasetRequest* req,
                                            grpc::ServerWriter<v1::DataChunk>* writer) {
  if (grpc::Status a = options_.auth.Admit(ctx, "ExportDataset"); !a.ok()) return a;
  if (auto s = CheckName("ExportDataset", "name", req->name()); !s.ok()) return s;
  if (req->version() < 0)
    return Invalid("ExportDataset", "version must be positive (0: the latest)");
  auto v = store_->GetDatasetVersion(req->name(), req->version());
  if (!v.ok()) return WithRpc("ExportDataset", v.status());
  SlotGuard slot(streams_);
  if (!slot.held()) return Busy("ExportDataset", "data set streams");
  return StreamContent(ctx, store_, *v, writer);
}

grpc::Status DataServiceImpl::GenerateDataset(grpc::ServerContext* ctx,
                                              const v1::GenerateDatasetRequest* req,
                                              v1::DatasetVersion* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "GenerateDataset", &caller); !a.ok()) return a;
  if (engine::FindBuiltinDataset(req->name()) == nullptr) {
    return Invalid("GenerateDataset", "name \"" + req->name().substr(0, 64) +
                                          "\" is not a built-in (" + engine::BuiltinDatasetNames() +
                                          "); import your own with ImportDataset");
  }
  engine::DatasetParams params(req->params().begin(), req->params().end());
  if (Status s = engine::ValidateDatasetParams(req->name(), params); !s.ok()) {
    return Invalid("GenerateDataset", "params: " + s.message());
  }
  auto actor = Actor("GenerateDataset", caller, req->actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  SlotGuard slot(&imports_);
  if (!slot.held()) return Busy("GenerateDataset", "imports");
  v1::DatasetSpec spec;
  spec.set_name(req->name());
  *spec.mutable_params() = req->params();
  auto info = datasets_->Resolve(spec, false, *actor);
  if (!info.ok()) return WithRpc("GenerateDataset", info.status());
  auto v = store_->GetDatasetVersion(req->name(), info->version);
  if (!v.ok()) return WithRpc("GenerateDataset", v.status());
  *resp = std::move(v).value();
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::GrowDataset(grpc::ServerContext* ctx,
                                          const v1::GrowDatasetRequest* req,
                                          v1::GrowDatasetResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "GrowDataset", &caller); !a.ok()) return a;
  if (auto s = CheckName("GrowDataset", "name", req->name()); !s.ok()) return s;
  auto actor = Actor("GrowDataset", caller, req->actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  SlotGuard slot(&imports_);  // It holds a version's content in memory, as an import does.
  if (!slot.held()) return Busy("GrowDataset", "imports");
  auto r = datasets_->Grow(req->name(), *actor, req->dry_run());
  if (!r.ok()) return WithRpc("GrowDataset", r.status());
  *resp = std::move(r).value();
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::RecordPredictions(grpc::ServerContext* ctx,
                                                const v1::RecordPredictionsRequest* req,
                                                v1::RecordPredictionsResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "RecordPredictions", &caller); !a.ok()) return a;
  if (req->predictions_size() > kMaxRecorded) {
    return Invalid("RecordPredictions",
                   "at most " + std::to_string(kMaxRecorded) + " predictions per call");
  }
  std::vector<store::PredictionRow> rows;
  for (int i = 0; i < req->predictions_size(); ++i) {
    const v1::ServedPrediction& p = req->predictions(i);
    const std::string at = "predictions[" + std::to_string(i) + "]";
    if (!IsHex(p.id(), 32))
      return Invalid("RecordPredictions", at + ".id must be 32 lowercase hex digits");
    if (auto s = CheckName("RecordPredictions", at + ".model", p.model()); !s.ok()) return s;
    if (p.version() <= 0) return Invalid("RecordPredictions", at + ".version must be positive");
    if (p.input_size() == 0 || p.input_size() > data::kMaxValuesPerSample) {
      return Invalid(
          "RecordPredictions",
          at + ".input must hold 1 to " + std::to_string(data::kMaxValuesPerSample) + " values");
    }
    for (float v : p.input()) {
      if (!std::isfinite(v))
        return Invalid("RecordPredictions", at + ".input holds a value that is not finite");
    }
    if (!IsTimestamp(p.served_at())) {
      return Invalid("RecordPredictions", at + ".served_at must be an RFC 3339 time");
    }
    store::PredictionRow row;
    row.id = p.id();
    row.model = p.model();
    row.version = p.version();
    row.input.assign(reinterpret_cast<const char*>(p.input().data()),
                     p.input_size() * sizeof(float));
    row.probabilities.assign(p.probabilities().begin(), p.probabilities().end());
    row.label = p.label();
    row.served_at = p.served_at();
    rows.push_back(std::move(row));
  }
  auto r = store_->RecordPredictions(rows, caller.empty() ? "sweepfarm-serve" : caller);
  if (!r.ok()) return WithRpc("RecordPredictions", r.status());
  resp->set_recorded(r->first);
  resp->set_duplicates(r->second);
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::LabelPrediction(grpc::ServerContext* ctx,
                                              const v1::LabelPredictionRequest* req,
                                              v1::LabelPredictionResponse* resp) {
  std::string caller;
  if (grpc::Status a = options_.auth.Admit(ctx, "LabelPrediction", &caller); !a.ok()) return a;
  if (!IsHex(req->prediction_id(), 32)) {
    return Invalid("LabelPrediction", "prediction_id must be 32 lowercase hex digits");
  }
  if (req->label().empty() || req->label().size() > 64) {
    return Invalid("LabelPrediction", "label must be a class name or index (1-64 bytes)");
  }
  auto actor = Actor("LabelPrediction", caller, req->actor());
  if (!actor.ok()) return ToGrpc(actor.status());
  auto r = datasets_->Label(req->prediction_id(), req->label(), *actor);
  if (!r.ok()) return WithRpc("LabelPrediction", r.status());
  *resp = std::move(r).value();
  return grpc::Status::OK;
}

grpc::Status DataServiceImpl::ListPredictions(grpc::ServerContext* ctx,
                                              const v1::ListPredictionsRequest* req,
                                              v1::ListPredictionsResponse* resp) {
  if (grpc::Status a = options_.auth.Admit(ctx, "ListPredictions"); !a.ok()) return a;
  if (!req->model().empty()) {
    if (auto s = CheckName("ListPredictions", "model", req->model()); !s.ok()) return s;
  }
  if (req->limit() < 0 || req->limit() > kMaxListed) {
    return Invalid("ListPredictions", "limit must be 0 to " + std::to_string(kMaxListed));
  }
  auto r = store_->ListPredictions(req->model(), req->limit() == 0 ? 50 : req->limit(),
                                   req->unlabelled_only());
  if (!r.ok()) return WithRpc("ListPredictions", r.status());
  for (auto& p : *r) *resp->add_predictions() = std::move(p);
  return grpc::Status::OK;
}

}  // namespace sweepfarm::api

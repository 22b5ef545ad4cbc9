#include "coordinator/data/datasets.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "common/logging.h"
#include "common/sha256.h"
#include "engine/catalog.h"
#include "engine/data/codec.h"

namespace sweepfarm::datasets {
namespace {

// A built-in's parameters as canonical JSON (sorted keys, shortest round-trip numbers), the
// key under which its generated version is found again.
std::string ParamsJson(const v1::DatasetSpec& spec) {
  std::map<std::string, double> sorted(spec.params().begin(), spec.params().end());
  std::string s = "{";
  char num[40];
  for (const auto& [k, v] : sorted) {
    std::snprintf(num, sizeof(num), "%.17g", v);
    s += (s.size() > 1 ? "," : "") + std::string("\"") + k + "\":" + num;
  }
  return s + "}";
}

sweep::DatasetInfo InfoOf(const v1::DatasetVersion& v) {
  sweep::DatasetInfo info;
  info.version = v.version();
  info.sha256 = v.sha256();
  info.shape.assign(v.shape().begin(), v.shape().end());
  info.classes.assign(v.classes().begin(), v.classes().end());
  return info;
}

}  // namespace

void Describe(const data::Table& t, v1::DatasetVersion* out) {
  out->clear_shape();
  for (auto d : t.shape) out->add_shape(d);
  out->clear_classes();
  for (const auto& c : t.classes) out->add_classes(c);
  out->clear_splits();
  const auto counts = t.CountsByClass();
  for (data::SplitId s : data::kSplits) {
    v1::SplitCounts* sc = out->add_splits();
    sc->set_split(data::SplitName(s));
    sc->set_samples(t.part(s).size());
    for (int64_t n : counts[static_cast<int>(s)]) sc->add_per_class(n);
  }
}

data::SplitId GrowSplit(const std::string& input_sha256) {
  const double u =
      static_cast<double>(std::stoull(input_sha256.substr(0, 13), nullptr, 16)) / 0x1p52;
  if (u < kGrowTrainShare) return data::SplitId::kTrain;
  if (u < kGrowTrainShare + kGrowSelectionShare) return data::SplitId::kSelection;
  return data::SplitId::kHoldout;
}

std::string SampleHash(const void* values, size_t bytes) {
  Sha256 h;
  h.Update(values, bytes);  // Little-endian hosts only, as the encoding.
  return h.HexDigest();
}

StatusOr<std::pair<v1::DatasetVersion, bool>> DataSets::Save(const data::Table& table,
                                                             const std::string& bytes,
                                                             v1::DatasetVersion meta,
                                                             store::NewDatasetVersion extra) {
  if (static_cast<int64_t>(bytes.size()) > max_bytes_) {
    return InvalidArgumentError("data set " + meta.name() + " encodes to " +
                                std::to_string(bytes.size()) + " bytes, more than the limit of " +
                                std::to_string(max_bytes_) + " (--max-dataset-bytes)");
  }
  Describe(table, &meta);
  meta.set_sha256(data::ContentHash(bytes));
  meta.set_size_bytes(static_cast<int64_t>(bytes.size()));
  extra.version = meta;
  return store_->InsertDatasetVersion(extra, bytes);
}

StatusOr<sweep::DatasetInfo> DataSets::Resolve(const v1::DatasetSpec& requested, bool dry_run,
                                               const std::string& actor) {
  const engine::BuiltinDataset* builtin = engine::FindBuiltinDataset(requested.name());
  if (requested.feedback() && !dry_run) {
    // The nightly loop: tonight's data are the latest plus what engineers labelled since.
    SF_ASSIGN_OR_RETURN(v1::GrowDatasetResponse grown, Grow(requested.name(), actor, false));
    (void)grown;
  }
  if (requested.version() > 0 || requested.latest() || builtin == nullptr) {
    SF_ASSIGN_OR_RETURN(v1::DatasetVersion v,
                        store_->GetDatasetVersion(requested.name(), requested.version()));
    return InfoOf(v);
  }
  const std::string params = ParamsJson(requested);
  SF_ASSIGN_OR_RETURN(auto made, store_->GeneratedVersion(requested.name(), params));
  if (made) return InfoOf(*made);
  engine::DatasetParams p(requested.params().begin(), requested.params().end());
  SF_ASSIGN_OR_RETURN(data::Table table, engine::GenerateBuiltin(requested.name(), p));
  SF_ASSIGN_OR_RETURN(std::string bytes, data::Encode(table));
  if (dry_run) {
    sweep::DatasetInfo info;
    info.sha256 = data::ContentHash(bytes);
    info.shape = table.shape;
    info.classes = table.classes;
    return info;
  }
  v1::DatasetVersion meta;
  meta.set_name(requested.name());
  meta.set_source("generated " + requested.name() + " " + params);
  meta.set_split_rule("the built-in's own: holdout the last holdout_fraction of the customer-like "
                      "split");
  meta.set_created_by(actor);
  store::NewDatasetVersion extra;
  extra.generator_params = params;
  SF_ASSIGN_OR_RETURN(auto stored, Save(table, bytes, meta, extra));
  SF_LOG(Info) << "data set " << requested.name() << " v" << stored.first.version() << " ("
               << stored.first.sha256().substr(0, 12) << ", " << bytes.size() << " bytes) "
               << (stored.second ? "found for " : "made from ") << params;
  return InfoOf(stored.first);
}

StatusOr<std::pair<v1::DatasetVersion, bool>> DataSets::Import(const v1::DatasetHeader& h,
                                                               const std::string& content) {
  const std::string digest = data::ContentHash(content);
  if (digest != h.sha256()) {
    return InvalidArgumentError("ImportDataset: the content hashes to " + digest +
                                ", the header says " + h.sha256().substr(0, 64) +
                                " (damaged in transit?)");
  }
  auto table = data::Decode(content);
  if (!table.ok()) return InvalidArgumentError("ImportDataset: " + table.status().message());
  if (Status s = data::CheckEveryClassInEverySplit(*table); !s.ok()) {
    return InvalidArgumentError("ImportDataset: " + s.message());
  }
  v1::DatasetVersion meta;
  meta.set_name(h.name());
  meta.set_source(h.source());
  meta.set_split_rule(h.split_rule());
  meta.set_created_by(h.actor());
  return Save(*table, content, meta, {});
}

StatusOr<std::string> DataSets::Content(const v1::DatasetVersion& v) {
  std::string content;
  for (int seq = 0;; ++seq) {
    SF_ASSIGN_OR_RETURN(auto piece, store_->DatasetPiece(v.sha256(), seq));
    if (!piece) break;
    content += *piece;
    if (static_cast<int64_t>(content.size()) > v.size_bytes()) break;
  }
  if (data::ContentHash(content) != v.sha256()) {
    return DataLossError("data set " + v.name() + " v" + std::to_string(v.version()) +
                         ": its stored content does not hash to " + v.sha256());
  }
  return content;
}

StatusOr<std::shared_ptr<const engine::Dataset>> DataSets::Tensors(const v1::DatasetSpec& spec) {
  std::string key = spec.sha256();
  if (key.empty()) {  // A sweep from before data set versions.
    key = spec.name();
    for (const auto& [k, v] : std::map<std::string, double>(spec.params().begin(), spec.params().end())) {
      key += ";" + k + "=" + std::to_string(v);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < cache_.size(); ++i) {
      if (cache_[i].first == key) {
        auto hit = cache_[i];
        cache_.erase(cache_.begin() + static_cast<std::ptrdiff_t>(i));
        cache_.push_back(hit);
        return hit.second;
      }
    }
  }
  // Built outside the lock: two callers may build the same data once each, harmlessly.
  std::shared_ptr<const engine::Dataset> ds;
  if (spec.sha256().empty()) {
    engine::DatasetParams params(spec.params().begin(), spec.params().end());
    SF_ASSIGN_OR_RETURN(ds, engine::MakeDataset(spec.name(), params));
  } else {
    SF_ASSIGN_OR_RETURN(v1::DatasetVersion v, store_->GetDatasetVersion(spec.name(), spec.version()));
    if (v.sha256() != spec.sha256()) {
      return DataLossError("data set " + spec.name() + " v" + std::to_string(spec.version()) +
                           " is " + v.sha256() + ", the sweep trained on " + spec.sha256());
    }
    SF_ASSIGN_OR_RETURN(std::string content, Content(v));
    SF_ASSIGN_OR_RETURN(data::Table table, data::Decode(content));
    ds = engine::DatasetFromTable(table, spec.name() + "@" + std::to_string(v.version()),
                                  v.sha256());
  }
  std::lock_guard<std::mutex> lock(mu_);
  cache_.emplace_back(key, ds);
  if (cache_.size() > capacity_) cache_.erase(cache_.begin());
  return ds;
}

StatusOr<v1::GrowDatasetResponse> DataSets::Grow(const std::string& name, const std::string& actor,
                                                 bool dry_run) {
  SF_ASSIGN_OR_RETURN(v1::DatasetVersion parent, store_->GetDatasetVersion(name, 0));
  SF_ASSIGN_OR_RETURN(std::vector<store::LabelledSample> labels, store_->UntakenLabels(name));
  v1::GrowDatasetResponse resp;
  *resp.mutable_version() = parent;
  if (labels.empty()) {
    resp.set_unchanged(true);
    return resp;
  }
  SF_ASSIGN_OR_RETURN(std::string content, Content(parent));
  SF_ASSIGN_OR_RETURN(data::Table table, data::Decode(content));
  const int64_t per = table.values_per_sample();
  std::set<std::string> seen;
  for (const auto& part : table.parts) {
    for (int64_t i = 0; i < part.size(); ++i) {
      seen.insert(SampleHash(&part.x[i * per], per * sizeof(float)));
    }
  }
  store::NewDatasetVersion extra;
  std::array<int64_t, 3> added{};
  for (const auto& l : labels) {
    if (static_cast<int64_t>(l.input.size()) != per * 4 || l.label < 0 ||
        l.label >= static_cast<int32_t>(table.classes.size())) {
      continue;  // Recorded for another shape of this data set's name: not a sample of it.
    }
    const std::string hash = SampleHash(l.input.data(), l.input.size());
    if (!seen.insert(hash).second) {
      resp.set_duplicates(resp.duplicates() + 1);
      continue;
    }
    const data::SplitId split = GrowSplit(hash);
    data::Part& p = table.part(split);
    const size_t at = p.x.size();
    p.x.resize(at + per);
    std::memcpy(&p.x[at], l.input.data(), l.input.size());
    p.y.push_back(l.label);
    ++added[static_cast<int>(split)];
    extra.feedback.push_back({l.prediction_id, data::SplitName(split), l.label});
  }
  resp.set_added(static_cast<int64_t>(extra.feedback.size()));
  for (data::SplitId s : data::kSplits) {
    v1::SplitCounts* c = resp.add_added_by_split();
    c->set_split(data::SplitName(s));
    c->set_samples(added[static_cast<int>(s)]);
  }
  if (extra.feedback.empty()) {
    resp.set_unchanged(true);
    return resp;
  }
  SF_ASSIGN_OR_RETURN(std::string bytes, data::Encode(table));
  v1::DatasetVersion meta;
  meta.set_name(name);
  meta.set_parent_version(parent.version());
  meta.set_source("feedback: " + std::to_string(extra.feedback.size()) +
                  " labelled predictions added to v" + std::to_string(parent.version()));
  meta.set_split_rule(parent.split_rule() + "; feedback by input hash: train " +
                      std::to_string(static_cast<int>(kGrowTrainShare * 100)) + "%, selection " +
                      std::to_string(static_cast<int>(kGrowSelectionShare * 100)) +
                      "%, holdout the rest");
  meta.set_created_by(actor);
  if (dry_run) {
    Describe(table, &meta);
    meta.set_sha256(data::ContentHash(bytes));
    meta.set_size_bytes(static_cast<int64_t>(bytes.size()));
    *resp.mutable_version() = meta;
    return resp;
  }
  SF_ASSIGN_OR_RETURN(auto stored, Save(table, bytes, meta, extra));
  *resp.mutable_version() = stored.first;
  SF_LOG(Info) << "data set " << name << " v" << stored.first.version() << ": v"
               << parent.version() << " and " << resp.added() << " labelled prediction(s) ("
               << resp.duplicates() << " duplicate input(s) left out)";
  return resp;
}

StatusOr<v1::LabelPredictionResponse> DataSets::Label(const std::string& id,
                                                      const std::string& label,
                                                      const std::string& actor) {
  SF_ASSIGN_OR_RETURN(v1::ServedPrediction p, store_->GetPrediction(id));
  int index = -1;
  for (int i = 0; i < p.classes_size(); ++i) {
    if (p.classes(i) == label) index = i;
  }
  if (index < 0 && !label.empty() && label.size() < 6 &&
      label.find_first_not_of("0123456789") == std::string::npos &&
      std::stoi(label) < p.classes_size()) {
    index = std::stoi(label);
  }
  if (index < 0) {
    std::string known;
    for (int i = 0; i < p.classes_size(); ++i) known += (i ? ", " : "") + p.classes(i);
    return InvalidArgumentError("LabelPrediction: label \"" + label.substr(0, 64) +
                                "\" is not a class of " + p.dataset() + " (" + known +
                                ", or their index)");
  }
  SF_ASSIGN_OR_RETURN(int old, store_->LabelPrediction(id, index, actor));
  v1::LabelPredictionResponse resp;
  resp.set_old_label(old);
  resp.set_new_label(index);
  resp.set_class_name(p.classes(index));
  return resp;
}

}  // namespace sweepfarm::datasets

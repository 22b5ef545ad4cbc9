// Data set versions, served predictions and their labels: their SQL and nothing else (what a
// version holds is decided and checked in coordinator/data/).
#include <cmath>
#include <cstring>
#include <map>

#include "coordinator/store/internal.h"

namespace sweepfarm::store {
namespace {

constexpr size_t kPieceBytes = 1 << 20;

// The columns DatasetFromRow reads, in order.
constexpr char kVersionColumns[] =
    "v.name, v.version, v.sha256, v.size_bytes, v.shape::text, v.classes::text, v.counts::text, "
    "coalesce(v.parent_version, 0), v.source, v.split_rule, v.created_by, v.created_at::text, "
    "(SELECT count(*) FROM dataset_feedback f WHERE f.dataset_version_id = v.id)";

// "{16,64}" -> [16, 64]; "{healthy,faulty}" -> names (class names never need quoting); also
// the body of a JSON array of numbers or names ("[\"16\", \"64\"]" as "{\"16\", \"64\"}").
std::vector<std::string> PgArray(const std::string& text) {
  std::vector<std::string> out;
  if (text.size() < 2) return out;
  std::string body = text.substr(1, text.size() - 2);
  size_t i = 0;
  while (i <= body.size() && !body.empty()) {
    size_t j = body.find(',', i);
    if (j == std::string::npos) j = body.size();
    std::string item = body.substr(i, j - i);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (item.size() >= 2 && item.front() == '"') item = item.substr(1, item.size() - 2);
    out.push_back(item);
    i = j + 1;
  }
  return out;
}

std::string PgTextArray(const std::vector<std::string>& items) {
  std::string s = "{";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? "," : "") + items[i];
  return s + "}";
}

v1::DatasetVersion DatasetFromRow(const pqxx::row& r) {
  v1::DatasetVersion v;
  v.set_name(r[0].as<std::string>());
  v.set_version(r[1].as<int>());
  v.set_sha256(r[2].as<std::string>());
  v.set_size_bytes(r[3].as<int64_t>());
  for (const auto& d : PgArray(r[4].as<std::string>())) v.add_shape(std::stoll(d));
  for (const auto& c : PgArray(r[5].as<std::string>())) v.add_classes(c);
  // counts: {"train": [..], "selection": [..], "holdout": [..]}, written by InsertDatasetVersion
  // from SplitCounts in split order.
  v1::DatasetVersion counts;
  FromJsonInto(r[6].as<std::string>(), &counts);
  *v.mutable_splits() = counts.splits();
  v.set_parent_version(r[7].as<int>());
  v.set_source(r[8].as<std::string>());
  v.set_split_rule(r[9].as<std::string>());
  v.set_created_by(r[10].as<std::string>());
  v.set_created_at(r[11].as<std::string>());
  v.set_feedback_samples(r[12].as<int64_t>());
  return v;
}

std::string FloatArray(const std::vector<float>& v) {
  std::string s = "{";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof(buf), "%s%.9g", i ? "," : "", static_cast<double>(v[i]));
    s += buf;
  }
  return s + "}";
}

v1::ServedPrediction PredictionFromRow(const pqxx::row& r) {
  v1::ServedPrediction p;
  p.set_id(r[0].as<std::string>());
  p.set_model(r[1].as<std::string>());
  p.set_version(r[2].as<int>());
  pqxx::binarystring input(r[3]);
  const size_t n = input.size() / 4;
  p.mutable_input()->Resize(static_cast<int>(n), 0.0f);
  std::memcpy(p.mutable_input()->mutable_data(), input.data(), n * 4);
  for (const auto& v : PgArray(r[4].as<std::string>())) p.add_probabilities(std::stof(v));
  p.set_label(r[5].as<int>());
  p.set_served_at(r[6].as<std::string>());
  p.set_true_label(r[7].is_null() ? -1 : r[7].as<int>());
  p.set_labelled_by(r[8].is_null() ? "" : r[8].as<std::string>());
  p.set_labelled_at(r[9].is_null() ? "" : r[9].as<std::string>());
  for (const auto& c : PgArray(r[10].as<std::string>())) p.add_classes(c);
  p.set_dataset(r[11].as<std::string>());
  return p;
}

// The columns PredictionFromRow reads, from served_predictions p joined with the version of the
// data its model learned from (d).
constexpr char kPredictionColumns[] =
    "p.id, p.model, p.version, p.input, p.probabilities::text, p.label, p.served_at::text, "
    "p.true_label, p.labelled_by, p.labelled_at::text, coalesce(d.classes::text, '{}'), "
    "p.dataset_name || coalesce('@' || d.version::text, '')";
constexpr char kPredictionJoin[] =
    " FROM served_predictions p LEFT JOIN dataset_versions d "
    "ON d.name = p.dataset_name AND d.sha256 = p.dataset_sha256 ";

}  // namespace

const std::vector<Statement>& DatasetStatements() {
  static const auto* s = new std::vector<Statement>{
      {"dataset_version",
       std::string("SELECT ") + kVersionColumns +
           " FROM dataset_versions v WHERE v.name = $1 AND ($2 = 0 OR v.version = $2) "
           "ORDER BY v.version DESC LIMIT 1"},
      {"dataset_by_sha", std::string("SELECT ") + kVersionColumns +
                             " FROM dataset_versions v WHERE v.name = $1 AND v.sha256 = $2"},
      {"dataset_with_content",
       std::string("SELECT ") + kVersionColumns +
           " FROM dataset_versions v WHERE v.sha256 = $1 ORDER BY v.id LIMIT 1"},
      {"dataset_generated", std::string("SELECT ") + kVersionColumns +
                                " FROM dataset_generated g JOIN dataset_versions v "
                                "ON v.name = g.name AND v.version = g.version WHERE g.name = $1 "
                                "AND g.params = $2::jsonb"},
      {"dataset_versions_of",
       std::string("SELECT ") + kVersionColumns +
           " FROM dataset_versions v WHERE v.name = $1 ORDER BY v.version DESC"},
      {"dataset_latest_each",
       std::string("SELECT ") + kVersionColumns +
           " FROM dataset_versions v WHERE v.version = (SELECT max(w.version) FROM "
           "dataset_versions w WHERE w.name = v.name) ORDER BY v.name"},
      {"dataset_lock", "SELECT pg_advisory_xact_lock(hashtext('dataset:' || $1))"},
      {"dataset_next",
       "SELECT coalesce(max(version), 0) + 1, coalesce(max(version), 0) FROM dataset_versions "
       "WHERE name = $1"},
      {"dataset_insert",
       "INSERT INTO dataset_versions (name, version, sha256, size_bytes, shape, classes, counts, "
       "  parent_version, source, split_rule, created_by) "
       "VALUES ($1, $2, $3, $4, $5::bigint[], $6::text[], $7::jsonb, NULLIF($8, 0), $9, $10, $11) "
       "RETURNING id"},
      {"dataset_generated_insert",
       "INSERT INTO dataset_generated (name, params, version) VALUES ($1, $2::jsonb, $3) "
       "ON CONFLICT DO NOTHING"},
      {"blob_exists", "SELECT 1 FROM dataset_blobs WHERE sha256 = $1 AND seq = 0"},
      {"blob_insert", "INSERT INTO dataset_blobs (sha256, seq, bytes) VALUES ($1, $2, $3)"},
      {"blob_piece", "SELECT bytes FROM dataset_blobs WHERE sha256 = $1 AND seq = $2"},
      {"feedback_insert",
       "INSERT INTO dataset_feedback (dataset_version_id, prediction_id, split, true_label) "
       "VALUES ($1, $2, $3, $4)"},
      {"worker_may_fetch",
       "SELECT 1 FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE t.worker_id = $1 "
       "AND t.state = 'running' AND s.dataset_sha256 = $2 LIMIT 1"},
      // The version's data (its model's sweep's resolved data set): name, sha256, shape, classes.
      {"version_data",
       "SELECT v.dataset->>'name', v.dataset_hash, coalesce(v.dataset->'shape', '[]')::text, "
       "  coalesce(v.dataset->'classes', '[]')::text FROM model_versions v "
       "WHERE v.model = $1 AND v.version = $2"},
      // A whole batch in one statement (one row per array element): recording must cost the
      // database little, since it shares the machine with what serves.
      // A whole batch in one statement (one row per array element; the inputs one binary
      // parameter, cut by their lengths): recording must cost the database little, since it may
      // share the machine with what serves.
      {"prediction_insert",
       "INSERT INTO served_predictions (id, model, version, dataset_name, dataset_sha256, input, "
       "  probabilities, label, served_by, served_at) "
       "SELECT r.id, r.model, r.version, r.dataset_name, r.dataset_sha256, "
       "  substring($6::bytea FROM (sum(r.bytes) OVER (ORDER BY r.ord) - r.bytes + 1)::int "
       "            FOR r.bytes), "
       "  r.probabilities::real[], r.label, $9, r.served_at::timestamptz "
       "FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $11::int[], "
       "  $7::text[], $8::int[], $10::text[]) WITH ORDINALITY "
       "  AS r(id, model, version, dataset_name, dataset_sha256, bytes, probabilities, label, "
       "       served_at, ord) "
       "ON CONFLICT (id) DO NOTHING RETURNING 1"},
      {"prediction_get",
       std::string("SELECT ") + kPredictionColumns + kPredictionJoin + "WHERE p.id = $1"},
      {"prediction_for_label",
       "SELECT true_label FROM served_predictions WHERE id = $1 FOR UPDATE"},
      {"prediction_label",
       "UPDATE served_predictions SET true_label = $2, labelled_by = $3, labelled_at = now() "
       "WHERE id = $1"},
      {"prediction_label_audit",
       "INSERT INTO prediction_labels (prediction_id, actor, old_label, new_label) "
       "VALUES ($1, $2, NULLIF($3, -1), $4)"},
      {"predictions_list",
       std::string("SELECT ") + kPredictionColumns + kPredictionJoin +
           "WHERE ($1 = '' OR p.model = $1) AND (NOT $3 OR p.true_label IS NULL) "
           "ORDER BY p.served_at DESC, p.id LIMIT $2"},
      {"predictions_untaken",
       "SELECT p.id, p.input, p.true_label FROM served_predictions p "
       "WHERE p.dataset_name = $1 AND p.true_label IS NOT NULL AND NOT EXISTS ("
       "  SELECT 1 FROM dataset_feedback f JOIN dataset_versions v ON v.id = f.dataset_version_id "
       "  WHERE f.prediction_id = p.id AND v.name = $1) "
       "ORDER BY p.labelled_at, p.id"},
      {"predictions_expire",
       "DELETE FROM served_predictions p WHERE p.true_label IS NULL "
       "AND p.served_at < now() - make_interval(secs => $1) "
       "AND NOT EXISTS (SELECT 1 FROM dataset_feedback f WHERE f.prediction_id = p.id)"},
  };
  return *s;
}

StatusOr<v1::DatasetVersion> Store::GetDatasetVersion(const std::string& name, int version) {
  return Conn::Run(this, "GetDataset", [&](pqxx::connection& c) -> StatusOr<v1::DatasetVersion> {
    pqxx::read_transaction tx(c);
    pqxx::result r = tx.exec_prepared("dataset_version", name, version);
    if (!r.empty()) return DatasetFromRow(r[0]);
    pqxx::result all = tx.exec_prepared("dataset_versions_of", name);
    if (all.empty()) {
      return NotFoundError("no data set named " + name +
                           " (sweepctl data list shows them; sweepctl data import makes one)");
    }
    return NotFoundError("data set " + name + " has no version " + std::to_string(version) +
                         " (its latest is " + all[0][1].as<std::string>() + ")");
  });
}

StatusOr<std::optional<v1::DatasetVersion>> Store::GeneratedVersion(
    const std::string& name, const std::string& params_json) {
  using Out = std::optional<v1::DatasetVersion>;
  return Conn::Run(this, "GeneratedVersion", [&](pqxx::connection& c) -> StatusOr<Out> {
    pqxx::read_transaction tx(c);
    pqxx::result r = tx.exec_prepared("dataset_generated", name, params_json);
    if (r.empty()) return Out();
    return Out(DatasetFromRow(r[0]));
  });
}

StatusOr<std::pair<v1::DatasetVersion, bool>> Store::InsertDatasetVersion(
    const NewDatasetVersion& in, const std::string& content) {
  using Out = std::pair<v1::DatasetVersion, bool>;
  const v1::DatasetVersion& v = in.version;
  v1::DatasetVersion counts;
  *counts.mutable_splits() = v.splits();
  std::string shape = "{";
  for (int i = 0; i < v.shape_size(); ++i) shape += (i ? "," : "") + std::to_string(v.shape(i));
  shape += "}";
  const std::string classes =
      PgTextArray(std::vector<std::string>(v.classes().begin(), v.classes().end()));
  return Conn::Run(this, "StoreDataset", [&](pqxx::connection& c) -> StatusOr<Out> {
    pqxx::work tx(c);
    tx.exec_prepared("dataset_lock", v.name());
    if (pqxx::result same = tx.exec_prepared("dataset_by_sha", v.name(), v.sha256());
        !same.empty()) {
      if (!in.generator_params.empty()) {
        tx.exec_prepared0("dataset_generated_insert", v.name(), in.generator_params,
                          same[0][1].as<int>());
      }
      tx.commit();
      return Out(DatasetFromRow(same[0]), true);
    }
    pqxx::row next = tx.exec_prepared1("dataset_next", v.name());
    const int number = next[0].as<int>();
    const int parent = v.parent_version() > 0 ? v.parent_version() : next[1].as<int>();
    const int64_t id =
        tx.exec_prepared1("dataset_insert", v.name(), number, v.sha256(),
                          static_cast<int64_t>(content.size()), shape, classes, ToJson(counts),
                          parent, v.source(), v.split_rule(), v.created_by())[0]
            .as<int64_t>();
    if (tx.exec_prepared("blob_exists", v.sha256()).empty()) {
      for (size_t off = 0, seq = 0; off < content.size(); off += kPieceBytes, ++seq) {
        const std::string piece = content.substr(off, kPieceBytes);
        tx.exec_prepared0("blob_insert", v.sha256(), static_cast<int>(seq),
                          pqxx::binarystring(piece));
      }
    }
    if (!in.generator_params.empty()) {
      tx.exec_prepared0("dataset_generated_insert", v.name(), in.generator_params, number);
    }
    for (const auto& f : in.feedback) {
      tx.exec_prepared0("feedback_insert", id, f.prediction_id, f.split, f.label);
    }
    v1::DatasetVersion stored =
        DatasetFromRow(tx.exec_prepared1("dataset_by_sha", v.name(), v.sha256()));
    tx.commit();
    return Out(std::move(stored), false);
  });
}

StatusOr<std::vector<v1::DatasetVersion>> Store::ListDatasetVersions(const std::string& name) {
  using Out = std::vector<v1::DatasetVersion>;
  return Conn::Run(this, "ListDatasets", [&](pqxx::connection& c) -> StatusOr<Out> {
    pqxx::read_transaction tx(c);
    pqxx::result r = name.empty() ? tx.exec_prepared("dataset_latest_each")
                                  : tx.exec_prepared("dataset_versions_of", name);
    Out out;
    for (const auto& row : r) out.push_back(DatasetFromRow(row));
    return out;
  });
}

StatusOr<std::optional<std::string>> Store::DatasetPiece(const std::string& sha256, int seq) {
  using Out = std::optional<std::string>;
  return Conn::Run(this, "FetchDataset", [&](pqxx::connection& c) -> StatusOr<Out> {
    pqxx::read_transaction tx(c);
    pqxx::result r = tx.exec_prepared("blob_piece", sha256, seq);
    if (r.empty()) return Out();
    pqxx::binarystring b(r[0][0]);
    return Out(std::string(reinterpret_cast<const char*>(b.data()), b.size()));
  });
}

StatusOr<v1::DatasetVersion> Store::VersionWithContent(const std::string& sha256) {
  return Conn::Run(this, "FetchDataset", [&](pqxx::connection& c) -> StatusOr<v1::DatasetVersion> {
    pqxx::read_transaction tx(c);
    pqxx::result r = tx.exec_prepared("dataset_with_content", sha256);
    if (r.empty()) return NotFoundError("no data set version has content " + sha256.substr(0, 64));
    return DatasetFromRow(r[0]);
  });
}

Status Store::WorkerMayFetch(const std::string& worker_id, const std::string& sha256) {
  return Conn::Run(this, "FetchDataset",
                   [&](pqxx::connection& c) -> StatusOr<int> {
                     pqxx::read_transaction tx(c);
                     if (tx.exec_prepared("worker_may_fetch", worker_id, sha256).empty()) {
                       return PermissionDeniedError(
                           "FetchDataset: worker " + worker_id.substr(0, 64) +
                           " holds no lease in a sweep that trains on data set " +
                           sha256.substr(0, 64));
                     }
                     return 0;
                   })
      .status();
}

StatusOr<std::pair<int, int>> Store::RecordPredictions(const std::vector<PredictionRow>& rows,
                                                       const std::string& served_by) {
  using Out = std::pair<int, int>;
  return Conn::Run(this, "RecordPredictions", [&](pqxx::connection& c) -> StatusOr<Out> {
    pqxx::work tx(c);
    struct Data {
      std::string name, sha;
      int64_t values = 0;
      int64_t classes = 0;
    };
    std::map<std::pair<std::string, int>, Data> data_of;
    // Each column as a PostgreSQL array literal; text elements are double-quoted (a model named
    // NULL is a name, not a null), and none of them can hold a quote or a backslash.
    std::string ids = "{", models = "{", versions = "{", names = "{", shas = "{", lengths = "{",
                probs = "{", labels = "{", times = "{";
    std::string inputs;  // Every row's input, one after the other.
    for (size_t i = 0; i < rows.size(); ++i) {
      const PredictionRow& p = rows[i];
      const std::string at = "RecordPredictions: predictions[" + std::to_string(i) + "]";
      auto key = std::make_pair(p.model, p.version);
      auto it = data_of.find(key);
      if (it == data_of.end()) {
        pqxx::result r = tx.exec_prepared("version_data", p.model, p.version);
        if (r.empty()) {
          return InvalidArgumentError(at + ": model " + p.model.substr(0, 64) + " has no version " +
                                      std::to_string(p.version));
        }
        Data d;
        d.name = r[0][0].is_null() ? "" : r[0][0].as<std::string>();
        d.sha = r[0][1].as<std::string>();
        // JSON arrays of the resolved spec: [16, 64] and ["healthy", "faulty"].
        const std::string shape = r[0][2].as<std::string>(), cls = r[0][3].as<std::string>();
        d.values = shape.size() > 2 ? 1 : 0;
        for (const auto& n : PgArray("{" + shape.substr(1, shape.size() - 2) + "}")) {
          d.values *= std::stoll(n);
        }
        d.classes = static_cast<int64_t>(PgArray("{" + cls.substr(1, cls.size() - 2) + "}").size());
        it = data_of.emplace(key, d).first;
      }
      const Data& d = it->second;
      if (d.values == 0) {
        return InvalidArgumentError(at + ": " + p.model + " v" + std::to_string(p.version) +
                                    " was trained before data set versions; its predictions "
                                    "cannot be recorded");
      }
      if (static_cast<int64_t>(p.input.size()) != 4 * d.values) {
        return InvalidArgumentError(at + ": " + std::to_string(p.input.size() / 4) +
                                    " input values, the model takes " + std::to_string(d.values));
      }
      if (static_cast<int64_t>(p.probabilities.size()) != d.classes || p.label < 0 ||
          p.label >= d.classes) {
        return InvalidArgumentError(at + ": probabilities or label do not fit " +
                                    std::to_string(d.classes) + " classes");
      }
      for (auto* column : {&ids, &models, &names, &shas, &probs, &times}) {
        *column += column->size() > 1 ? "," : "";
      }
      ids += "\"" + p.id + "\"";
      models += "\"" + p.model + "\"";
      versions += (versions.size() > 1 ? "," : "") + std::to_string(p.version);
      names += "\"" + d.name + "\"";
      shas += "\"" + d.sha + "\"";
      inputs += p.input;
      lengths += (lengths.size() > 1 ? "," : "") + std::to_string(p.input.size());
      probs += "\"" + FloatArray(p.probabilities) + "\"";  // Quoted: it has commas.
      labels += (labels.size() > 1 ? "," : "") + std::to_string(p.label);
      times += "\"" + p.served_at + "\"";
    }
    for (auto* column :
         {&ids, &models, &versions, &names, &shas, &lengths, &probs, &labels, &times}) {
      *column += "}";
    }
    const auto inserted = static_cast<int>(
        tx.exec_prepared("prediction_insert", ids, models, versions, names, shas,
                         pqxx::binarystring(inputs), probs, labels, served_by, times, lengths)
            .size());
    tx.commit();
    return Out{inserted, static_cast<int>(rows.size()) - inserted};
  });
}

StatusOr<v1::ServedPrediction> Store::GetPrediction(const std::string& id) {
  return Conn::Run(this, "GetPrediction",
                   [&](pqxx::connection& c) -> StatusOr<v1::ServedPrediction> {
                     pqxx::read_transaction tx(c);
                     pqxx::result r = tx.exec_prepared("prediction_get", id);
                     if (r.empty()) {
                       return NotFoundError("no prediction " + id.substr(0, 64) +
                                            " was recorded (or it expired unlabelled)");
                     }
                     return PredictionFromRow(r[0]);
                   });
}

StatusOr<int> Store::LabelPrediction(const std::string& id, int label, const std::string& actor) {
  return Conn::Run(this, "LabelPrediction", [&](pqxx::connection& c) -> StatusOr<int> {
    pqxx::work tx(c);
    pqxx::result r = tx.exec_prepared("prediction_for_label", id);
    if (r.empty()) return NotFoundError("no prediction " + id.substr(0, 64) + " was recorded");
    const int old = r[0][0].is_null() ? -1 : r[0][0].as<int>();
    tx.exec_prepared0("prediction_label", id, label, actor);
    tx.exec_prepared0("prediction_label_audit", id, actor, old, label);
    tx.commit();
    return old;
  });
}

StatusOr<std::vector<v1::ServedPrediction>> Store::ListPredictions(const std::string& model,
                                                                   int limit,
                                                                   bool unlabelled_only) {
  using Out = std::vector<v1::ServedPrediction>;
  return Conn::Run(this, "ListPredictions", [&](pqxx::connection& c) -> StatusOr<Out> {
    pqxx::read_transaction tx(c);
    Out out;
    for (const auto& row : tx.exec_prepared("predictions_list", model, limit, unlabelled_only)) {
      out.push_back(PredictionFromRow(row));
    }
    return out;
  });
}

StatusOr<std::vector<LabelledSample>> Store::UntakenLabels(const std::string& name) {
  using Out = std::vector<LabelledSample>;
  return Conn::Run(this, "GrowDataset", [&](pqxx::connection& c) -> StatusOr<Out> {
    pqxx::read_transaction tx(c);
    Out out;
    for (const auto& row : tx.exec_prepared("predictions_untaken", name)) {
      LabelledSample s;
      s.prediction_id = row[0].as<std::string>();
      pqxx::binarystring input(row[1]);
      s.input.assign(reinterpret_cast<const char*>(input.data()), input.size());
      s.label = row[2].as<int>();
      out.push_back(std::move(s));
    }
    return out;
  });
}

StatusOr<int64_t> Store::DeleteOldPredictions(double days) {
  return Conn::Run(this, "DeleteOldPredictions", [&](pqxx::connection& c) -> StatusOr<int64_t> {
    pqxx::work tx(c);
    pqxx::result r = tx.exec_prepared("predictions_expire", days * 86400.0);
    tx.commit();
    return static_cast<int64_t>(r.affected_rows());
  });
}

}  // namespace sweepfarm::store

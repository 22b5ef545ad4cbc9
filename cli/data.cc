#include "cli/data.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/json.h"
#include "engine/data/codec.h"
#include "engine/data/formats/formats.h"
#include "proto/grpc_status.h"
#include "sweepfarm/v1/data.grpc.pb.h"

namespace sweepfarm::cli {

const char kDataUsage[] =
    "  data import NAME FILE [--format csv|npy|npz|idx] [--label-column COL] [--shape CxL|CxHxW]\n"
    "              [--classes a,b,..] [--split-column COL | --selection FILE --holdout FILE]\n"
    "              [--labels FILE] [--seed N] [--json]\n"
    "                                     store FILE as data set NAME's next version (the same\n"
    "                                     content is the same version); prints NAME@VERSION\n"
    "  data list [NAME] [--json]          each data set's latest version, or NAME's versions\n"
    "  data show NAME[@V] [--json]        a version: samples per split and class, hash, lineage\n"
    "  data export NAME@V FILE            its samples as CSV (FILE.gz: gzipped); importing it\n"
    "                                     again with the printed flags gives the same version\n"
    "  data generate BUILTIN [--param K=V]... [--json]\n"
    "                                     a built-in's data (telemetry, fashion-mnist) for these\n"
    "                                     parameters as a version of its name, as a sweep would\n"
    "  data grow NAME --from-feedback [--dry-run] [--json]\n"
    "                                     the next version: the latest plus every prediction\n"
    "                                     engineers labelled since (docs/data.md)\n"
    "  feedback PREDICTION_ID LABEL       confirm or correct a served prediction (a class name\n"
    "                                     or index); a later label replaces an earlier one\n"
    "  feedback --file FILE               many: lines of PREDICTION_ID,LABEL\n";

namespace {

int Fail(const Status& s) {
  std::cerr << "sweepctl: " << s.message() << "\n";
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound ? 2 : 1;
}

std::unique_ptr<grpc::ClientContext> Context(int deadline_ms) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  return ctx;
}

// "NAME" or "NAME@V" (V a positive number or "latest").
StatusOr<std::pair<std::string, int>> NameAndVersion(const std::string& arg) {
  const size_t at = arg.find('@');
  if (at == std::string::npos || arg.substr(at + 1) == "latest")
    return std::make_pair(arg.substr(0, at), 0);
  auto v = ParseInt(arg.substr(at + 1), "version of " + arg);
  if (!v.ok() || *v < 1) return InvalidArgumentError("\"" + arg + "\": expected NAME@VERSION");
  return std::make_pair(arg.substr(0, at), static_cast<int>(*v));
}

std::string Shape(const v1::DatasetVersion& v) {
  std::string s;
  for (auto d : v.shape()) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

std::string Classes(const v1::DatasetVersion& v) {
  std::string s;
  for (const auto& c : v.classes()) s += (s.empty() ? "" : ",") + c;
  return s;
}

void VersionJson(JsonWriter& w, const v1::DatasetVersion& v) {
  w.BeginObject().Key("name").String(v.name()).Key("version").Int(v.version());
  w.Key("sha256").String(v.sha256()).Key("size_bytes").Int(v.size_bytes());
  w.Key("shape").BeginArray();
  for (auto d : v.shape()) w.Int(d);
  w.EndArray().Key("classes").BeginArray();
  for (const auto& c : v.classes()) w.String(c);
  w.EndArray().Key("splits").BeginObject();
  for (const auto& s : v.splits()) {
    w.Key(s.split()).BeginObject().Key("samples").Int(s.samples()).Key("per_class").BeginObject();
    for (int i = 0; i < s.per_class_size() && i < v.classes_size(); ++i) {
      w.Key(v.classes(i)).Int(s.per_class(i));
    }
    w.EndObject().EndObject();
  }
  w.EndObject();
  w.Key("parent").Int(v.parent_version()).Key("source").String(v.source());
  w.Key("split_rule").String(v.split_rule()).Key("feedback_samples").Int(v.feedback_samples());
  w.Key("created_by").String(v.created_by()).Key("created_at").String(v.created_at());
  w.EndObject();
}

void PrintVersion(const v1::DatasetVersion& v) {
  std::printf("%s@%d  sha256 %s  %lld bytes\n", v.name().c_str(), v.version(), v.sha256().c_str(),
              static_cast<long long>(v.size_bytes()));
  std::printf("samples %s, classes %s\n", Shape(v).c_str(), Classes(v).c_str());
  std::printf("%-10s %8s", "split", "samples");
  for (const auto& c : v.classes()) std::printf(" %10s", c.substr(0, 10).c_str());
  std::printf("\n");
  for (const auto& s : v.splits()) {
    std::printf("%-10s %8lld", s.split().c_str(), static_cast<long long>(s.samples()));
    for (auto n : s.per_class()) std::printf(" %10lld", static_cast<long long>(n));
    std::printf("\n");
  }
  std::printf("source: %s\n", v.source().c_str());
  if (!v.split_rule().empty()) std::printf("splits: %s\n", v.split_rule().c_str());
  std::printf(
      "lineage: %s%s\n",
      v.parent_version() > 0 ? ("grew from v" + std::to_string(v.parent_version())).c_str()
                             : "first version",
      v.feedback_samples() > 0
          ? (", with " + std::to_string(v.feedback_samples()) + " labelled predictions").c_str()
          : "");
  std::printf("created %s by %s\n", v.created_at().c_str(), v.created_by().c_str());
}

int Import(v1::DataService::Stub* stub, int deadline_ms, const std::vector<std::string>& pos,
           const Flags& flags, const std::string& actor) {
  if (pos.size() != 4) {
    return Fail(
        InvalidArgumentError(std::string("data import needs NAME and FILE\n") + kDataUsage));
  }
  data::ImportOptions o;
  o.format = flags.Get("format");
  if (flags.IsSet("label-column")) o.label_column = flags.Get("label-column");
  o.shape = flags.Get("shape");
  if (!flags.Get("classes").empty()) o.classes = SplitString(flags.Get("classes"), ',');
  o.split_column = flags.Get("split-column");
  o.selection_file = flags.Get("selection");
  o.holdout_file = flags.Get("holdout");
  o.labels_file = flags.Get("labels");
  o.selection_labels_file = flags.Get("selection-labels");
  o.holdout_labels_file = flags.Get("holdout-labels");
  auto seed = flags.GetInt("seed");
  auto sel = flags.GetDouble("selection-fraction");
  auto hold = flags.GetDouble("holdout-fraction");
  if (!seed.ok() || *seed < 0 || !sel.ok() || !hold.ok()) {
    return Fail(
        InvalidArgumentError("--seed needs an integer >= 0, --selection-fraction and "
                             "--holdout-fraction numbers"));
  }
  o.seed = static_cast<uint64_t>(*seed);
  o.selection_fraction = *sel;
  o.holdout_fraction = *hold;
  const auto t0 = std::chrono::steady_clock::now();
  auto imported = data::ImportFiles(pos[3], o);
  if (!imported.ok()) return Fail(imported.status());
  auto bytes = data::Encode(imported->table);
  if (!bytes.ok()) return Fail(bytes.status());
  const double read_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  auto ctx = Context(deadline_ms * 10);
  v1::ImportDatasetResponse resp;
  auto writer = stub->ImportDataset(ctx.get(), &resp);
  v1::ImportDatasetChunk head;
  v1::DatasetHeader* h = head.mutable_header();
  h->set_name(pos[2]);
  h->set_sha256(data::ContentHash(*bytes));
  h->set_size_bytes(static_cast<int64_t>(bytes->size()));
  const std::string format = o.format.empty() ? "by its name" : o.format;
  h->set_source("import " + pos[3].substr(0, 800) + " (" + format + ")");
  h->set_split_rule(imported->split_rule.substr(0, 1000));
  h->set_actor(actor);
  bool sent = writer->Write(head);
  constexpr size_t kChunk = 1 << 20;
  for (size_t off = 0; sent && off < bytes->size(); off += kChunk) {
    v1::ImportDatasetChunk chunk;
    chunk.set_data(bytes->substr(off, kChunk));
    sent = writer->Write(chunk);
  }
  writer->WritesDone();
  if (Status s = FromGrpc(writer->Finish(), "ImportDataset"); !s.ok()) return Fail(s);
  const v1::DatasetVersion& v = resp.version();
  if (flags.GetBool("json")) {
    JsonWriter w;
    VersionJson(w, v);
    std::printf("%s\n", w.str().c_str());
  } else {
    std::printf("%s@%d\n", v.name().c_str(), v.version());
  }
  std::cerr << "sweepctl: " << v.name() << "@" << v.version()
            << (resp.existed() ? ": this content was already that version; nothing stored"
                               : ": stored")
            << " (" << imported->table.samples() << " samples of " << Shape(v) << ", "
            << v.classes_size() << " classes; read in " << read_s << " s)\n";
  return 0;
}

int Export(v1::DataService::Stub* stub, int deadline_ms, const std::vector<std::string>& pos) {
  if (pos.size() != 4) {
    return Fail(
        InvalidArgumentError(std::string("data export needs NAME@V and FILE\n") + kDataUsage));
  }
  auto nv = NameAndVersion(pos[2]);
  if (!nv.ok()) return Fail(nv.status());
  v1::GetDatasetRequest req;
  req.set_name(nv->first);
  req.set_version(nv->second);
  auto ctx = Context(deadline_ms * 10);
  auto reader = stub->ExportDataset(ctx.get(), req);
  v1::DataChunk chunk;
  v1::DatasetVersion v;
  std::string content;
  while (reader->Read(&chunk)) {
    if (chunk.has_version()) v = chunk.version();
    content += chunk.data();
  }
  if (Status s = FromGrpc(reader->Finish(), "ExportDataset"); !s.ok()) return Fail(s);
  if (data::ContentHash(content) != v.sha256()) {
    return Fail(DataLossError("ExportDataset: the content arrived damaged (its sha256 is not " +
                              v.sha256() + ")"));
  }
  auto table = data::Decode(content);
  if (!table.ok()) return Fail(table.status());
  if (Status s = data::ExportCsv(*table, pos[3]); !s.ok()) return Fail(s);
  std::cerr << "sweepctl: " << v.name() << "@" << v.version() << " written to " << pos[3] << " ("
            << table->samples() << " samples)\n"
            << "import it again with: sweepctl data import " << v.name() << " " << pos[3]
            << " --shape " << Shape(v) << " --classes " << Classes(v) << " --split-column split\n";
  return 0;
}

int Grow(v1::DataService::Stub* stub, int deadline_ms, const std::vector<std::string>& pos,
         const Flags& flags, const std::string& actor) {
  if (pos.size() != 3 || !flags.GetBool("from-feedback")) {
    return Fail(InvalidArgumentError(std::string("data grow needs NAME and --from-feedback\n") +
                                     kDataUsage));
  }
  v1::GrowDatasetRequest req;
  req.set_name(pos[2]);
  req.set_actor(actor);
  req.set_dry_run(flags.GetBool("dry-run"));
  v1::GrowDatasetResponse resp;
  auto ctx = Context(deadline_ms * 10);
  if (Status s = FromGrpc(stub->GrowDataset(ctx.get(), req, &resp), "GrowDataset"); !s.ok()) {
    return Fail(s);
  }
  if (flags.GetBool("json")) {
    JsonWriter w;
    w.BeginObject().Key("unchanged").Bool(resp.unchanged()).Key("added").Int(resp.added());
    w.Key("duplicates").Int(resp.duplicates()).Key("dry_run").Bool(req.dry_run());
    w.Key("added_by_split").BeginObject();
    for (const auto& s : resp.added_by_split()) w.Key(s.split()).Int(s.samples());
    w.EndObject().Key("version");
    VersionJson(w, resp.version());
    w.EndObject();
    std::printf("%s\n", w.str().c_str());
    return 0;
  }
  if (resp.unchanged()) {
    std::printf("%s@%d: no new labelled predictions (%lld duplicate input(s)); no version made\n",
                resp.version().name().c_str(), resp.version().version(),
                static_cast<long long>(resp.duplicates()));
    return 0;
  }
  std::string split;
  for (const auto& s : resp.added_by_split()) {
    split += (split.empty() ? "" : ", ") + s.split() + " " + std::to_string(s.samples());
  }
  std::printf("%s%s: %lld labelled prediction(s) added (%s); %lld duplicate input(s) left out\n",
              req.dry_run() ? "would make " : "",
              (resp.version().name() + "@" +
               (req.dry_run() ? std::string("next") : std::to_string(resp.version().version())))
                  .c_str(),
              static_cast<long long>(resp.added()), split.c_str(),
              static_cast<long long>(resp.duplicates()));
  return 0;
}

}  // namespace

void DefineDataFlags(Flags* flags) {
  flags->Define("format", "", "data import: csv, npy, npz or idx (default: from the file name)")
      .Define("label-column", "label", "data import: the CSV column holding each sample's class")
      .Define("shape", "", "data import: one sample's shape, CxL (series) or CxHxW (images)")
      .Define("classes", "", "data import: class names in label order (a,b,...)")
      .Define("split-column", "",
              "data import: the CSV column naming each sample's split (train, selection, "
              "holdout; a column named split is used without it)")
      .Define("selection", "", "data import: the selection split's file (FILE is then train)")
      .Define("holdout", "", "data import: the holdout split's file")
      .Define("labels", "", "data import: the labels of a .npy or IDX file")
      .Define("selection-labels", "", "data import: the labels of --selection (npy, idx)")
      .Define("holdout-labels", "", "data import: the labels of --holdout (npy, idx)")
      .Define("seed", "1", "data import: the seed of a stratified split")
      .Define("selection-fraction", "0.2", "data import: a stratified split's selection share")
      .Define("holdout-fraction", "0.2", "data import: a stratified split's holdout share")
      .Define("file", "", "feedback: lines of PREDICTION_ID,LABEL")
      .Define("param", "", "data generate: the built-in's parameters, K=V[,K=V...]")
      .DefineBool("from-feedback", "data grow: add the predictions engineers labelled");
}

int DataCommand(const std::shared_ptr<grpc::Channel>& channel, int deadline_ms,
                const std::vector<std::string>& pos, const Flags& flags, const std::string& actor) {
  auto stub = v1::DataService::NewStub(channel);
  const std::string sub = pos.size() > 1 ? pos[1] : "";
  const bool json = flags.GetBool("json");
  if (sub == "import") return Import(stub.get(), deadline_ms, pos, flags, actor);
  if (sub == "export") return Export(stub.get(), deadline_ms, pos);
  if (sub == "grow") return Grow(stub.get(), deadline_ms, pos, flags, actor);
  if (sub == "generate") {
    if (pos.size() != 3) return Fail(InvalidArgumentError("data generate needs a BUILTIN"));
    v1::GenerateDatasetRequest req;
    req.set_name(pos[2]);
    req.set_actor(actor);
    for (const auto& kv : SplitString(flags.Get("param"), ',')) {
      if (kv.empty()) continue;
      const size_t eq = kv.find('=');
      auto v = eq == std::string::npos ? StatusOr<double>(InvalidArgumentError("no ="))
                                       : ParseDouble(kv.substr(eq + 1), kv.substr(0, eq));
      if (!v.ok()) return Fail(InvalidArgumentError("--param " + kv + ": expected K=NUMBER"));
      (*req.mutable_params())[kv.substr(0, eq)] = *v;
    }
    v1::DatasetVersion v;
    auto ctx = Context(deadline_ms * 10);
    if (Status s = FromGrpc(stub->GenerateDataset(ctx.get(), req, &v), "GenerateDataset");
        !s.ok()) {
      return Fail(s);
    }
    if (json) {
      JsonWriter w;
      VersionJson(w, v);
      std::printf("%s\n", w.str().c_str());
    } else {
      std::printf("%s@%d\n", v.name().c_str(), v.version());
    }
    return 0;
  }
  if (sub == "list") {
    if (pos.size() > 3) return Fail(InvalidArgumentError("data list takes at most a NAME"));
    v1::ListDatasetsRequest req;
    if (pos.size() == 3) req.set_name(pos[2]);
    v1::ListDatasetsResponse resp;
    auto ctx = Context(deadline_ms);
    if (Status s = FromGrpc(stub->ListDatasets(ctx.get(), req, &resp), "ListDatasets"); !s.ok()) {
      return Fail(s);
    }
    if (json) {
      JsonWriter w;
      w.BeginArray();
      for (const auto& v : resp.versions()) VersionJson(w, v);
      w.EndArray();
      std::printf("%s\n", w.str().c_str());
      return 0;
    }
    std::printf("%-28s %8s %10s %-16s %-20s %s\n", "data set", "samples", "shape", "sha256",
                "created", "source");
    for (const auto& v : resp.versions()) {
      int64_t n = 0;
      for (const auto& s : v.splits()) n += s.samples();
      std::printf("%-28s %8lld %10s %-16s %-20s %s\n",
                  (v.name() + "@" + std::to_string(v.version())).c_str(), static_cast<long long>(n),
                  Shape(v).c_str(), v.sha256().substr(0, 16).c_str(),
                  v.created_at().substr(0, 19).c_str(), v.source().substr(0, 60).c_str());
    }
    return 0;
  }
  if (sub == "show") {
    if (pos.size() != 3) return Fail(InvalidArgumentError("data show needs NAME or NAME@V"));
    auto nv = NameAndVersion(pos[2]);
    if (!nv.ok()) return Fail(nv.status());
    v1::GetDatasetRequest req;
    req.set_name(nv->first);
    req.set_version(nv->second);
    v1::DatasetVersion v;
    auto ctx = Context(deadline_ms);
    if (Status s = FromGrpc(stub->GetDataset(ctx.get(), req, &v), "GetDataset"); !s.ok()) {
      return Fail(s);
    }
    if (json) {
      JsonWriter w;
      VersionJson(w, v);
      std::printf("%s\n", w.str().c_str());
    } else {
      PrintVersion(v);
    }
    return 0;
  }
  return Fail(InvalidArgumentError("data: unknown subcommand \"" + sub.substr(0, 64) + "\"\n" +
                                   kDataUsage));
}

int Feedback(const std::shared_ptr<grpc::Channel>& channel, int deadline_ms,
             const std::vector<std::string>& pos, const Flags& flags, const std::string& actor) {
  auto stub = v1::DataService::NewStub(channel);
  std::vector<std::pair<std::string, std::string>> labels;  // (id, label)
  std::string where = "command line";
  if (!flags.Get("file").empty()) {
    if (pos.size() != 1)
      return Fail(InvalidArgumentError("feedback: --file or ID LABEL, not both"));
    where = flags.Get("file");
    std::ifstream in(where);
    if (!in) return Fail(InvalidArgumentError(where + ": cannot read"));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.empty() || line[0] == '#') continue;
      const size_t comma = line.find(',');
      if (comma == std::string::npos) {
        return Fail(InvalidArgumentError(where + ":" + std::to_string(n) +
                                         ": expected PREDICTION_ID,LABEL"));
      }
      std::string label = line.substr(comma + 1);
      while (!label.empty() && (label.back() == '\r' || label.back() == ' ')) label.pop_back();
      labels.emplace_back(line.substr(0, comma), label);
    }
  } else if (pos.size() == 3) {
    labels.emplace_back(pos[1], pos[2]);
  } else {
    return Fail(InvalidArgumentError(
        std::string("feedback needs PREDICTION_ID LABEL (or --file)\n") + kDataUsage));
  }
  int changed = 0, confirmed = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    v1::LabelPredictionRequest req;
    req.set_prediction_id(labels[i].first);
    req.set_label(labels[i].second);
    req.set_actor(actor);
    v1::LabelPredictionResponse resp;
    auto ctx = Context(deadline_ms);
    Status s = FromGrpc(stub->LabelPrediction(ctx.get(), req, &resp), "LabelPrediction");
    if (!s.ok()) {
      if (labels.size() > 1) {
        std::cerr << "sweepctl: " << where << ": entry " << i + 1 << " (" << labels[i].first
                  << "): stopped; " << i << " labelled before it\n";
      }
      return Fail(s);
    }
    resp.old_label() == resp.new_label() ? ++confirmed : ++changed;
    if (labels.size() == 1) {
      std::printf("%s: %s%s\n", labels[i].first.c_str(), resp.class_name().c_str(),
                  resp.old_label() < 0                   ? ""
                  : resp.old_label() == resp.new_label() ? " (unchanged)"
                                                         : " (replaces an earlier label)");
    }
  }
  if (labels.size() > 1) {
    std::printf("%zu prediction(s) labelled from %s (%d new or changed, %d unchanged)\n",
                labels.size(), where.c_str(), changed, confirmed);
  }
  return 0;
}

}  // namespace sweepfarm::cli

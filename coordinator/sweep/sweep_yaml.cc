#include "coordinator/sweep/sweep_yaml.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <functional>
#include <set>

#include "common/hash.h"
#include "coordinator/sweep/halving.h"
#include "coordinator/sweep/tpe.h"
#include "engine/catalog.h"

namespace sweepfarm::sweep {
namespace {

// Longest number a sweep may write: a double has 17 significant digits, so anything longer is a
// mistake or an attack, and refusing it early keeps every check below linear in small inputs.
constexpr size_t kMaxNumberChars = 64;

// [-+]?(digits[.digits?]|.digits)([eE][-+]?digits)?, scanned in one pass (std::regex recursed once
// per character and overflowed the stack on long scalars).
bool IsPlainNumber(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t whole = digits();
  size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits();
  }
  if (whole == 0 && fraction == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

bool IsYaml11Bool(const std::string& s) {
  static const auto* kBools = new std::set<std::string>{
      "y",    "Y",    "yes",   "Yes",   "YES",   "n",  "N",  "no", "No",  "NO",  "true",
      "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"};
  return kBools->count(s) > 0;
}

// Walks the document, producing errors that point into the file.
class Checker {
 public:
  explicit Checker(std::string source) : source_(std::move(source)) {}

  Status Error(const YAML::Node& node, const std::string& field, const std::string& what) const {
    std::string where = source_;
    if (node.IsDefined() && node.Mark().line >= 0) {
      where +=
          ":" + std::to_string(node.Mark().line + 1) + ":" + std::to_string(node.Mark().column + 1);
    }
    // A field path or a value quoted from a hostile file could be a megabyte: said in part.
    auto part = [](const std::string& s, size_t most) {
      return s.size() <= most
                 ? s
                 : s.substr(0, most / 2) + "... (" + std::to_string(s.size()) + " bytes)";
    };
    return InvalidArgumentError(where + ": " + part(field, 120) + ": " + part(what, 600));
  }

  // Checks a mapping: no duplicate or unknown keys, required ones present.
  Status Map(const YAML::Node& node, const std::string& field, const std::set<std::string>& allowed,
             const std::set<std::string>& required) const {
    if (!node.IsMap()) return Error(node, field, "expected a mapping");
    std::set<std::string> seen;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) return Error(kv.first, field, "keys must be plain names");
      const std::string key = kv.first.Scalar();
      const std::string sub = field.empty() ? key : field + "." + key;
      if (!seen.insert(key).second) return Error(kv.first, sub, "duplicate key");
      if (!allowed.count(key)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return Error(kv.first, sub, "unknown key (allowed here: " + list + ")");
      }
    }
    for (const auto& r : required) {
      if (!seen.count(r))
        return Error(node, field.empty() ? r : field + "." + r, "required key missing");
    }
    return OkStatus();
  }

  StatusOr<std::string> String(const YAML::Node& node, const std::string& field) const {
    if (!node.IsScalar()) return Error(node, field, "expected a string");
    return node.Scalar();
  }

  // A number written as a plain YAML number: quoted strings, YAML 1.1 booleans (yes/no/on/off),
  // hex, infinities and NaN are refused.
  StatusOr<double> Number(const YAML::Node& node, const std::string& field, bool integer) const {
    const char* kind = integer ? "an integer" : "a number";
    if (!node.IsScalar()) return Error(node, field, std::string("expected ") + kind);
    const std::string& s = node.Scalar();
    if (node.Tag() == "!") {
      return Error(node, field,
                   std::string("expected ") + kind + ", got the quoted string \"" + s + "\"");
    }
    if (s.size() > kMaxNumberChars) {
      return Error(node, field,
                   std::string("expected ") + kind + ", got " + std::to_string(s.size()) +
                       " characters (at most " + std::to_string(kMaxNumberChars) + ")");
    }
    if (IsYaml11Bool(s)) {
      return Error(node, field,
                   std::string("expected ") + kind + ", got \"" + s + "\" (a boolean in YAML 1.1)");
    }
    if (!IsPlainNumber(s)) {
      return Error(node, field, std::string("expected ") + kind + ", got \"" + s + "\"");
    }
    double v = std::strtod(s.c_str(), nullptr);
    if (!std::isfinite(v)) return Error(node, field, "number out of range");
    if (integer && std::floor(v) != v) {
      return Error(node, field, "expected an integer, got " + s);
    }
    return v;
  }

  StatusOr<double> NumberIn(const YAML::Node& node, const std::string& field, bool integer,
                            double lo, double hi, bool lo_open = false) const {
    SF_ASSIGN_OR_RETURN(double v, Number(node, field, integer));
    if (v > hi || v < lo || (lo_open && v == lo)) {
      auto fmt = [](double x) {
        char b[32];
        std::snprintf(b, sizeof(b), "%.10g", x);  // 2592000, not 2.592e+06.
        return std::string(b);
      };
      return Error(node, field,
                   "value " + node.Scalar() + " out of range " + (lo_open ? "(" : "[") + fmt(lo) +
                       ", " + fmt(hi) + "]");
    }
    return v;
  }

  // true or false, as written (YAML 1.1's yes/no/on/off are refused: they read as words elsewhere).
  StatusOr<bool> Bool(const YAML::Node& node, const std::string& field) const {
    if (!node.IsScalar() || node.Tag() == "!" ||
        (node.Scalar() != "true" && node.Scalar() != "false")) {
      return Error(
          node, field,
          "expected true or false, got \"" + (node.IsScalar() ? node.Scalar() : "") + "\"");
    }
    return node.Scalar() == "true";
  }

  StatusOr<std::vector<int64_t>> IntList(const YAML::Node& node, const std::string& field,
                                         int64_t lo, int64_t hi) const {
    if (!node.IsSequence()) return Error(node, field, "expected a list of integers");
    std::vector<int64_t> out;
    for (size_t i = 0; i < node.size(); ++i) {
      SF_ASSIGN_OR_RETURN(double v, NumberIn(node[i], field + "[" + std::to_string(i) + "]", true,
                                             static_cast<double>(lo), static_cast<double>(hi)));
      out.push_back(static_cast<int64_t>(v));
    }
    return out;
  }

 private:
  std::string source_;
};

struct ParamRule {
  double lo, hi;
  bool lo_open, integer, log_default;
};

const std::map<std::string, ParamRule>& ParamRules() {
  static const auto* rules = new std::map<std::string, ParamRule>{
      {"epochs", {1, 10000, false, true, false}},
      {"step_size", {0, 10, true, false, true}},
      {"issue_rate", {0, 1, false, false, false}},
      {"data_size", {0, 1, true, false, false}},
      {"seed", {0, 9007199254740992.0, false, true, false}},
      {"kernel_size", {1, 15, false, true, false}},
      // [0, 0.999]: NumberIn's bounds are closed; engine::ModelConfig takes [0, 1).
      {"weight_decay", {0, 0.999, false, false, false}},
      // naive_bayes's additive smoothing: (0, 1000], searched on a log scale by default.
      {"smoothing", {0, 1000, true, false, true}},
  };
  return *rules;
}

Status ParseDomain(const Checker& c, const YAML::Node& node, const std::string& field,
                   const ParamRule& rule, Domain* d) {
  d->integer = rule.integer;
  if (node.IsScalar()) {  // A fixed value.
    SF_ASSIGN_OR_RETURN(double v,
                        c.NumberIn(node, field, rule.integer, rule.lo, rule.hi, rule.lo_open));
    d->kind = Domain::kValues;
    d->values = {v};
    return OkStatus();
  }
  if (node.IsSequence()) {
    if (node.size() == 0) return c.Error(node, field, "empty list of values");
    std::set<double> seen;
    for (size_t i = 0; i < node.size(); ++i) {
      std::string f = field + "[" + std::to_string(i) + "]";
      SF_ASSIGN_OR_RETURN(double v,
                          c.NumberIn(node[i], f, rule.integer, rule.lo, rule.hi, rule.lo_open));
      if (!seen.insert(v).second) return c.Error(node[i], f, "duplicate value " + node[i].Scalar());
      d->values.push_back(v);
    }
    d->kind = Domain::kValues;
    return OkStatus();
  }
  SF_RETURN_IF_ERROR(c.Map(node, field, {"min", "max", "scale", "steps"}, {"min", "max"}));
  d->kind = Domain::kRange;
  SF_ASSIGN_OR_RETURN(d->min, c.NumberIn(node["min"], field + ".min", rule.integer, rule.lo,
                                         rule.hi, rule.lo_open));
  SF_ASSIGN_OR_RETURN(d->max, c.NumberIn(node["max"], field + ".max", rule.integer, rule.lo,
                                         rule.hi, rule.lo_open));
  if (d->max < d->min) return c.Error(node["max"], field + ".max", "must be >= min");
  d->log = rule.log_default;
  if (node["scale"]) {
    SF_ASSIGN_OR_RETURN(std::string scale, c.String(node["scale"], field + ".scale"));
    if (scale != "log" && scale != "linear") {
      return c.Error(node["scale"], field + ".scale",
                     "must be log or linear, got \"" + scale + "\"");
    }
    d->log = scale == "log";
  }
  if (d->log && d->min <= 0)
    return c.Error(node["min"], field + ".min", "a log scale needs min > 0");
  if (node["steps"]) {
    SF_ASSIGN_OR_RETURN(double steps, c.NumberIn(node["steps"], field + ".steps", true, 1, 100000));
    d->steps = static_cast<int64_t>(steps);
  }
  return OkStatus();
}

// search.space.channels and search.space.kernel_size: architecture choices, listed (trials fuse
// only with trials of the same architecture, so a range, which would make most architectures
// unique, is refused). Each choice is checked against the inputs as architecture.* is. Channel
// lists become a categorical parameter over their indices.
Status ParseArchitectureChoices(const Checker& c, const YAML::Node& node, const std::string& name,
                                const engine::ArchSpec& base, const std::vector<int64_t>& sample,
                                SearchSpace* space) {
  const std::string field = "search.space." + name;
  if (!node.IsSequence() || node.size() == 0) {
    return c.Error(node, field,
                   name == "channels"
                       ? "expected a list of channel lists to try, e.g. [[16, 32], [32, 64]] (a "
                         "fixed value belongs in architecture.channels)"
                       : "expected a list of kernel sizes to try, e.g. [3, 5, 7] (a fixed value "
                         "belongs in architecture.kernel_size)");
  }
  Domain d;
  d.kind = Domain::kValues;
  d.integer = true;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    engine::ArchSpec a = base;
    if (name == "channels") {
      SF_ASSIGN_OR_RETURN(a.channels, c.IntList(node[i], f, 1, 1024));
      if (a.channels.size() != base.channels.size()) {
        return c.Error(node[i], f,
                       base.name + " takes " + std::to_string(base.channels.size()) +
                           " channel counts, got " + std::to_string(a.channels.size()));
      }
      const std::vector<int32_t> choice(a.channels.begin(), a.channels.end());
      for (const auto& seen : space->channel_choices) {
        if (seen == choice) return c.Error(node[i], f, "duplicate channel list");
      }
      space->channel_choices.push_back(choice);
      d.values.push_back(static_cast<double>(i));
    } else {
      const ParamRule& rule = ParamRules().at(name);
      SF_ASSIGN_OR_RETURN(double k, c.NumberIn(node[i], f, true, rule.lo, rule.hi));
      for (double seen : d.values) {
        if (seen == k) return c.Error(node[i], f, "duplicate value " + node[i].Scalar());
      }
      a.kernel_size = static_cast<int64_t>(k);
      d.values.push_back(k);
    }
    if (auto r = engine::ResolveArch(a, sample); !r.ok()) {
      return c.Error(node[i], f, r.status().message());
    }
  }
  space->params[name] = d;
  return OkStatus();
}

// A categorical search parameter, search.space.NAME: a non-empty list of distinct names, each
// accepted by `check` (a message says why not), kept in `choices`; its Domain is their indices.
// `usage` is the message for anything but such a list.
Status ParseNamedChoices(const Checker& c, const YAML::Node& node, const std::string& name,
                         const std::string& usage,
                         const std::function<std::string(const std::string&)>& check,
                         std::vector<std::string>* choices, SearchSpace* space) {
  const std::string field = "search.space." + name;
  if (!node.IsSequence() || node.size() == 0) return c.Error(node, field, usage);
  Domain d;
  d.kind = Domain::kValues;
  d.integer = true;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    SF_ASSIGN_OR_RETURN(std::string choice, c.String(node[i], f));
    if (const std::string why = check(choice); !why.empty()) return c.Error(node[i], f, why);
    for (const auto& seen : *choices) {
      if (seen == choice) return c.Error(node[i], f, "duplicate " + name + " " + choice);
    }
    choices->push_back(choice);
    d.values.push_back(static_cast<double>(i));
  }
  space->params[name] = d;
  return OkStatus();
}

// search.space.architecture: architecture kinds to search over, listed; each must take the data's
// samples (with its defaults, or the `architecture` section's settings for that section's kind).
Status ParseArchitectureKinds(const Checker& c, const YAML::Node& node,
                              const engine::ArchSpec& base, const std::vector<int64_t>& sample,
                              SearchSpace* space) {
  return ParseNamedChoices(
      c, node, "architecture",
      "expected a list of architectures to try, e.g. [cnn1d, mlp, logistic] (a fixed one "
      "belongs in architecture.name)",
      [&](const std::string& name) -> std::string {
        if (engine::FindArchitecture(name) == nullptr) {
          return "unknown architecture \"" + name.substr(0, 64) +
                 "\" (known: " + engine::ArchitectureNames() + ")";
        }
        engine::ArchSpec a;
        a.name = name;
        if (name == base.name) a = base;
        auto r = engine::ResolveArch(a, sample);
        return r.ok() ? "" : r.status().message();
      },
      &space->architecture_choices, space);
}

// search.space.optimizer: optimizers to search over, listed.
Status ParseOptimizerChoices(const Checker& c, const YAML::Node& node, SearchSpace* space) {
  return ParseNamedChoices(
      c, node, "optimizer",
      "expected a list of optimizers to try, e.g. [sgd, adamw] (a fixed one belongs in "
      "training.optimizer)",
      [](const std::string& name) -> std::string {
        auto k = engine::ParseOptimizer(name);
        return k.ok() ? "" : k.status().message();
      },
      &space->optimizer_choices, space);
}

// Successive halving's rungs from search.space.epochs: a range gives min, min * eta, ... and max;
// a list gives its values, which must increase. At least two rungs.
Status HalvingRungs(const Checker& c, const YAML::Node& node, const Domain& d,
                    v1::SweepSpec* spec) {
  const std::string field = "search.space.epochs";
  std::vector<int32_t> rungs;
  if (d.kind == Domain::kRange) {
    if (d.steps != 0) {
      return c.Error(node["steps"], field + ".steps",
                     "halving sets the rungs' epochs from min, max and search.eta; steps does "
                     "not apply (or list the rungs' epochs)");
    }
    rungs = GeometricRungs(static_cast<int32_t>(d.min), static_cast<int32_t>(d.max), spec->eta());
  } else {
    for (size_t i = 0; i < d.values.size(); ++i) {
      if (i > 0 && d.values[i] <= d.values[i - 1]) {
        return c.Error(node[i], field + "[" + std::to_string(i) + "]",
                       "halving's rungs need increasing epochs");
      }
      rungs.push_back(static_cast<int32_t>(d.values[i]));
    }
  }
  if (rungs.size() < 2) {
    return c.Error(node, field,
                   "halving needs at least two rungs: a range {min, max} with min < max, or a "
                   "list of increasing epochs");
  }
  for (int32_t e : rungs) spec->add_rung_epochs(e);
  return OkStatus();
}

std::string CanonicalHash(const v1::SweepSpec& spec, const std::vector<v1::TrialParams>& trials) {
  // Deterministic serialization sorts map entries (the dataset's params); the default order of
  // a protobuf map is its hash table's, which differs between parses of the same text.
  auto serialize = [](const google::protobuf::Message& m) {
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream raw(&bytes);
      google::protobuf::io::CodedOutputStream out(&raw);
      out.SetSerializationDeterministic(true);
      m.SerializeToCodedStream(&out);
    }
    return bytes;
  };
  Fnv64 h;
  h.Update(serialize(spec));
  for (const auto& t : trials) h.Update(serialize(t));
  return h.HexDigest();
}

}  // namespace

DatasetResolver ResolvedAs(const v1::DatasetSpec& stored) {
  return [stored](const v1::DatasetSpec&) -> StatusOr<DatasetInfo> {
    DatasetInfo info;
    info.version = stored.version();
    info.sha256 = stored.sha256();
    info.shape.assign(stored.shape().begin(), stored.shape().end());
    info.classes.assign(stored.classes().begin(), stored.classes().end());
    return info;
  };
}

bool IsValidName(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  for (char ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '_' && ch != '-') {
      return false;
    }
  }
  return true;
}

StatusOr<ParsedSweep> ParseSweepYaml(const std::string& text, const std::string& source_name,
                                     const DatasetResolver* resolver) {
  Checker c(source_name.empty() ? "<sweep>" : source_name);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return InvalidArgumentError((source_name.empty() ? "<sweep>" : source_name) + ":" +
                                std::to_string(e.mark.line + 1) + ":" +
                                std::to_string(e.mark.column + 1) + ": YAML syntax: " + e.msg);
  }
  if (!root.IsDefined() || root.IsNull())
    return c.Error(root, "(document)", "empty sweep definition");
  SF_RETURN_IF_ERROR(
      c.Map(root, "",
            {"version", "name", "model", "description", "dataset", "architecture", "training",
             "search", "objective", "selection", "seed_from", "priority", "limits"},
            {"version", "name", "model", "dataset", "architecture", "search"}));
  ParsedSweep out;
  v1::SweepSpec& spec = out.spec;
  SF_ASSIGN_OR_RETURN(double version, c.Number(root["version"], "version", true));
  if (version != 1) return c.Error(root["version"], "version", "only version 1 is supported");
  spec.set_version(1);
  for (const char* key : {"name", "model"}) {
    SF_ASSIGN_OR_RETURN(std::string v, c.String(root[key], key));
    if (!IsValidName(v)) {
      return c.Error(root[key], key, "\"" + v + "\" must be 1-64 letters, digits, '.', '_' or '-'");
    }
    std::string(key) == "name" ? spec.set_name(v) : spec.set_model(v);
  }
  if (root["priority"]) {
    SF_ASSIGN_OR_RETURN(double p, c.NumberIn(root["priority"], "priority", true, -1000, 1000));
    spec.set_priority(static_cast<int32_t>(p));
  }
  if (const YAML::Node n = root["limits"]) {
    SF_RETURN_IF_ERROR(c.Map(n, "limits", {"max_seconds", "max_failed_trials"}, {}));
    v1::LimitsSpec* limits = spec.mutable_limits();
    if (n["max_seconds"]) {
      // At most 30 days; a sweep that must end sooner than a second has no use for a farm.
      SF_ASSIGN_OR_RETURN(double s,
                          c.NumberIn(n["max_seconds"], "limits.max_seconds", false, 1, 2592000));
      limits->set_max_seconds(s);
    }
    if (n["max_failed_trials"]) {
      SF_ASSIGN_OR_RETURN(double f, c.NumberIn(n["max_failed_trials"], "limits.max_failed_trials",
                                               true, 1, 1000000));
      limits->set_max_failed_trials(static_cast<int32_t>(f));
    }
  }
  if (root["description"]) {
    SF_ASSIGN_OR_RETURN(std::string d, c.String(root["description"], "description"));
    spec.set_description(d);
  }

  // dataset
  const YAML::Node ds = root["dataset"];
  SF_RETURN_IF_ERROR(c.Map(ds, "dataset", {"name", "params", "version", "feedback"}, {"name"}));
  SF_ASSIGN_OR_RETURN(std::string ds_name, c.String(ds["name"], "dataset.name"));
  if (!IsValidName(ds_name)) {
    return c.Error(
        ds["name"], "dataset.name",
        "\"" + ds_name.substr(0, 80) + "\" must be 1-64 letters, digits, '.', '_' or '-'");
  }
  v1::DatasetSpec* dspec = spec.mutable_dataset();
  dspec->set_name(ds_name);
  const engine::BuiltinDataset* builtin = engine::FindBuiltinDataset(ds_name);
  if (ds["params"]) {
    const YAML::Node p = ds["params"];
    if (builtin == nullptr) {
      return c.Error(p, "dataset.params",
                     "only the built-in data sets (" + engine::BuiltinDatasetNames() +
                         ") take parameters; " + ds_name + " is a stored data set");
    }
    if (!p.IsMap()) return c.Error(p, "dataset.params", "expected a mapping");
    std::set<std::string> seen;
    for (const auto& kv : p) {
      std::string key = kv.first.Scalar();
      std::string field = "dataset.params." + key;
      if (!seen.insert(key).second) return c.Error(kv.first, field, "duplicate key");
      SF_ASSIGN_OR_RETURN(double v, c.Number(kv.second, field, false));
      engine::DatasetParams one{{key, v}};
      if (Status s = engine::ValidateDatasetParams(ds_name, one); !s.ok()) {
        return c.Error(kv.first, field, s.message());
      }
      (*dspec->mutable_params())[key] = v;
    }
  }
  if (const YAML::Node v = ds["version"]) {
    if (v.IsScalar() && v.Tag() != "!" && v.Scalar() == "latest") {
      dspec->set_latest(true);
    } else {
      SF_ASSIGN_OR_RETURN(double n, c.NumberIn(v, "dataset.version", true, 1, 2147483647));
      dspec->set_version(static_cast<int32_t>(n));
    }
    if (dspec->params_size() > 0) {
      return c.Error(v, "dataset.version",
                     "a stored version is given by its number, not by parameters too");
    }
  } else if (builtin == nullptr) {
    dspec->set_latest(true);  // A stored data set without a version: its latest.
  }
  if (ds["feedback"]) {
    SF_ASSIGN_OR_RETURN(bool f, c.Bool(ds["feedback"], "dataset.feedback"));
    if (f && !dspec->latest()) {
      return c.Error(ds["feedback"], "dataset.feedback",
                     "grows the data set each night, so the sweep must train on its latest "
                     "version (version: latest)");
    }
    dspec->set_feedback(f);
  }
  if (resolver != nullptr) {
    auto info = (*resolver)(*dspec);
    if (!info.ok()) return c.Error(ds, "dataset", info.status().message());
    dspec->set_version(info->version);
    dspec->set_sha256(info->sha256);
    dspec->clear_shape();
    for (auto d : info->shape) dspec->add_shape(d);
    dspec->clear_classes();
    for (const auto& cl : info->classes) dspec->add_classes(cl);
  } else if (builtin != nullptr) {
    for (auto d : builtin->shape) dspec->add_shape(d);
    for (const auto& cl : builtin->classes) dspec->add_classes(cl);
  } else {
    return c.Error(ds["name"], "dataset.name",
                   "unknown dataset \"" + ds_name +
                       "\" (built in: " + engine::BuiltinDatasetNames() +
                       "; stored data sets are resolved by the "
                       "coordinator)");
  }
  const std::vector<int64_t> sample(dspec->shape().begin(), dspec->shape().end());
  const bool binary = dspec->classes_size() == 2;

  // architecture
  const YAML::Node arch = root["architecture"];
  SF_RETURN_IF_ERROR(
      c.Map(arch, "architecture", {"name", "channels", "kernel_size", "hidden"}, {"name"}));
  SF_ASSIGN_OR_RETURN(std::string arch_name, c.String(arch["name"], "architecture.name"));
  engine::ArchSpec a;
  a.name = arch_name;
  if (engine::FindArchitecture(arch_name) == nullptr) {
    return c.Error(
        arch["name"], "architecture.name",
        "unknown architecture \"" + arch_name + "\" (known: " + engine::ArchitectureNames() + ")");
  }
  if (arch["channels"]) {
    SF_ASSIGN_OR_RETURN(a.channels, c.IntList(arch["channels"], "architecture.channels", 1, 1024));
  }
  if (arch["hidden"]) {
    SF_ASSIGN_OR_RETURN(a.hidden, c.IntList(arch["hidden"], "architecture.hidden", 1, 4096));
  }
  if (arch["kernel_size"]) {
    SF_ASSIGN_OR_RETURN(double k,
                        c.NumberIn(arch["kernel_size"], "architecture.kernel_size", true, 1, 15));
    a.kernel_size = static_cast<int64_t>(k);
  }
  auto resolved = engine::ResolveArch(a, sample);
  if (!resolved.ok()) return c.Error(arch, "architecture", resolved.status().message());
  spec.mutable_architecture()->set_name(resolved->name);
  for (auto ch : resolved->channels) spec.mutable_architecture()->add_channels(ch);
  for (auto h : resolved->hidden) spec.mutable_architecture()->add_hidden(h);
  spec.mutable_architecture()->set_kernel_size(resolved->kernel_size);

  // training
  v1::TrainingSpec* tr = spec.mutable_training();
  tr->set_batch_size(64);
  tr->set_momentum(0.9);
  tr->set_max_attempts(3);
  if (const YAML::Node t = root["training"]) {
    SF_RETURN_IF_ERROR(c.Map(t, "training",
                             {"batch_size", "momentum", "max_attempts", "standardize", "optimizer",
                              "schedule", "weight_decay", "smoothing"},
                             {}));
    if (t["optimizer"]) {
      SF_ASSIGN_OR_RETURN(std::string o, c.String(t["optimizer"], "training.optimizer"));
      if (auto k = engine::ParseOptimizer(o); !k.ok()) {
        return c.Error(t["optimizer"], "training.optimizer", k.status().message());
      }
      tr->set_optimizer(o);
    }
    if (t["schedule"]) {
      SF_ASSIGN_OR_RETURN(std::string o, c.String(t["schedule"], "training.schedule"));
      if (auto k = engine::ParseSchedule(o); !k.ok()) {
        return c.Error(t["schedule"], "training.schedule", k.status().message());
      }
      tr->set_schedule(o);
    }
    if (t["weight_decay"]) {
      const ParamRule& rule = ParamRules().at("weight_decay");
      SF_ASSIGN_OR_RETURN(double wd, c.NumberIn(t["weight_decay"], "training.weight_decay", false,
                                                rule.lo, rule.hi));
      tr->set_weight_decay(wd);
    }
    if (t["smoothing"]) {
      const ParamRule& rule = ParamRules().at("smoothing");
      SF_ASSIGN_OR_RETURN(double a, c.NumberIn(t["smoothing"], "training.smoothing", false, rule.lo,
                                               rule.hi, rule.lo_open));
      tr->set_smoothing(a);
    }
    if (t["standardize"]) {
      SF_ASSIGN_OR_RETURN(bool on, c.Bool(t["standardize"], "training.standardize"));
      tr->set_raw_inputs(!on);
    }
    if (t["batch_size"]) {
      SF_ASSIGN_OR_RETURN(double b,
                          c.NumberIn(t["batch_size"], "training.batch_size", true, 1, 4096));
      tr->set_batch_size(static_cast<int64_t>(b));
    }
    if (t["momentum"]) {
      SF_ASSIGN_OR_RETURN(double m,
                          c.NumberIn(t["momentum"], "training.momentum", false, 0, 0.999));
      tr->set_momentum(m);
    }
    if (t["max_attempts"]) {
      SF_ASSIGN_OR_RETURN(double m,
                          c.NumberIn(t["max_attempts"], "training.max_attempts", true, 1, 100));
      tr->set_max_attempts(static_cast<int32_t>(m));
    }
  }

  // objective
  spec.set_objective_metric("selection_accuracy");
  spec.set_objective_goal("maximize");
  if (const YAML::Node o = root["objective"]) {
    SF_RETURN_IF_ERROR(c.Map(o, "objective", {"metric", "goal"}, {}));
    if (o["metric"]) {
      SF_ASSIGN_OR_RETURN(std::string m, c.String(o["metric"], "objective.metric"));
      if (m != "selection_accuracy" && m != "selection_balanced_accuracy") {
        return c.Error(o["metric"], "objective.metric",
                       "\"" + m +
                           "\" unsupported (supported: selection_accuracy, "
                           "selection_balanced_accuracy)");
      }
      spec.set_objective_metric(m);
    }
    if (o["goal"]) {
      SF_ASSIGN_OR_RETURN(std::string g, c.String(o["goal"], "objective.goal"));
      if (g != "maximize")
        return c.Error(o["goal"], "objective.goal", "the objective is maximized");
    }
  }

  // selection
  v1::SelectionSpec* sel = spec.mutable_selection();
  sel->set_method("greedy");
  sel->set_ensemble_size(10);
  sel->set_candidates(20);
  sel->set_top_k(5);
  sel->set_promotion_margin(0.0);
  sel->set_bags(20);
  sel->set_bag_fraction(0.5);
  if (const YAML::Node n = root["selection"]) {
    SF_RETURN_IF_ERROR(c.Map(n, "selection",
                             {"method", "ensemble_size", "candidates", "top_k", "promotion_margin",
                              "threshold", "min_issue_recall", "bags", "bag_fraction"},
                             {}));
    if (n["method"]) {
      SF_ASSIGN_OR_RETURN(std::string m, c.String(n["method"], "selection.method"));
      if (m != "greedy" && m != "bagged" && m != "top_k") {
        return c.Error(n["method"], "selection.method",
                       "must be greedy, bagged or top_k, got \"" + m.substr(0, 64) + "\"");
      }
      sel->set_method(m);
    }
    if (n["bags"]) {
      SF_ASSIGN_OR_RETURN(double v, c.NumberIn(n["bags"], "selection.bags", true, 1, 1000));
      sel->set_bags(static_cast<int32_t>(v));
    }
    if (n["bag_fraction"]) {
      SF_ASSIGN_OR_RETURN(double v, c.NumberIn(n["bag_fraction"], "selection.bag_fraction", false,
                                               0, 1, /*lo_open=*/true));
      sel->set_bag_fraction(v);
    }
    if (n["ensemble_size"]) {
      SF_ASSIGN_OR_RETURN(double v,
                          c.NumberIn(n["ensemble_size"], "selection.ensemble_size", true, 1, 1000));
      sel->set_ensemble_size(static_cast<int32_t>(v));
    }
    if (n["candidates"]) {
      SF_ASSIGN_OR_RETURN(double v,
                          c.NumberIn(n["candidates"], "selection.candidates", true, 1, 1000));
      sel->set_candidates(static_cast<int32_t>(v));
    }
    if (n["top_k"]) {
      SF_ASSIGN_OR_RETURN(double v, c.NumberIn(n["top_k"], "selection.top_k", true, 1, 1000));
      sel->set_top_k(static_cast<int32_t>(v));
    }
    if (n["promotion_margin"]) {
      SF_ASSIGN_OR_RETURN(
          double v, c.NumberIn(n["promotion_margin"], "selection.promotion_margin", false, 0, 1));
      sel->set_promotion_margin(v);
    }
    if (const YAML::Node t = n["threshold"]) {
      // "argmax", "tuned", or a number in (0, 1); binary datasets only.
      const std::string how =
          "must be argmax, tuned or a probability in (0, 1) above which class 1 is served";
      if (!t.IsScalar()) return c.Error(t, "selection.threshold", how);
      // The words as written, not as quoted strings (which Number refuses, naming them).
      const bool plain = t.Tag() != "!";
      const bool argmax = plain && t.Scalar() == "argmax", tuned = plain && t.Scalar() == "tuned";
      if (!binary && !argmax) {
        return c.Error(t, "selection.threshold",
                       "decision thresholds are for binary datasets (telemetry); " + ds_name +
                           " is served by the argmax");
      }
      if (tuned) {
        sel->set_tune_threshold(true);
      } else if (!argmax) {
        auto v = c.Number(t, "selection.threshold", false);
        if (!v.ok()) return c.Error(t, "selection.threshold", how + ", got \"" + t.Scalar() + "\"");
        if (*v <= 0 || *v >= 1) {
          return c.Error(t, "selection.threshold",
                         "value " + t.Scalar() + " out of range (0, 1) (argmax decides at 0.5)");
        }
        sel->set_decision_threshold(*v);
      }
    }
    if (const YAML::Node r = n["min_issue_recall"]) {
      // A constraint on the tuned threshold: at least this share of the faulty components of
      // the selection split called faulty.
      if (!sel->tune_threshold()) {
        return c.Error(r, "selection.min_issue_recall",
                       "constrains a tuned threshold; set selection.threshold: tuned");
      }
      SF_ASSIGN_OR_RETURN(double v, c.NumberIn(r, "selection.min_issue_recall", false, 0, 1, true));
      sel->set_min_issue_recall(v);
    }
    if (sel->top_k() > sel->candidates()) {
      return c.Error(
          n["top_k"] ? n["top_k"] : n, "selection.top_k",
          "must be at most selection.candidates (" + std::to_string(sel->candidates()) + ")");
    }
  }

  // seed_from
  if (const YAML::Node n = root["seed_from"]) {
    SF_RETURN_IF_ERROR(c.Map(
        n, "seed_from", {"model", "top", "step_factor", "epochs_spread", "mix_spread"}, {"model"}));
    v1::SeedSpec* seed = spec.mutable_seed_from();
    SF_ASSIGN_OR_RETURN(std::string m, c.String(n["model"], "seed_from.model"));
    if (!IsValidName(m)) {
      return c.Error(n["model"], "seed_from.model",
                     "\"" + m + "\" must be 1-64 letters, digits, '.', '_' or '-'");
    }
    seed->set_model(m);
    seed->set_top(5);
    seed->set_step_factor(1.5);
    seed->set_epochs_spread(0.25);
    seed->set_mix_spread(0.1);
    if (n["top"]) {
      SF_ASSIGN_OR_RETURN(double v, c.NumberIn(n["top"], "seed_from.top", true, 0, 1000));
      seed->set_top(static_cast<int32_t>(v));
    }
    if (n["step_factor"]) {
      SF_ASSIGN_OR_RETURN(double v,
                          c.NumberIn(n["step_factor"], "seed_from.step_factor", false, 1, 10));
      seed->set_step_factor(v);
    }
    if (n["epochs_spread"]) {
      SF_ASSIGN_OR_RETURN(double v,
                          c.NumberIn(n["epochs_spread"], "seed_from.epochs_spread", false, 0, 1));
      seed->set_epochs_spread(v);
    }
    if (n["mix_spread"]) {
      SF_ASSIGN_OR_RETURN(double v,
                          c.NumberIn(n["mix_spread"], "seed_from.mix_spread", false, 0, 0.5));
      seed->set_mix_spread(v);
    }
  }

  // search
  const YAML::Node s = root["search"];
  SF_RETURN_IF_ERROR(
      c.Map(s, "search",
            {"method", "budget", "seed", "space", "eta", "resume", "round_size", "multivariate"},
            {"method", "space"}));
  SF_ASSIGN_OR_RETURN(std::string method, c.String(s["method"], "search.method"));
  if (method != "grid" && method != "random" && method != "halving" && method != "tpe") {
    return c.Error(s["method"], "search.method",
                   "must be grid, random, halving or tpe, got \"" + method + "\"");
  }
  const bool halving = method == "halving", tpe = method == "tpe";
  spec.set_method(method);
  int64_t budget = 0;
  if (s["budget"]) {
    SF_ASSIGN_OR_RETURN(double b, c.NumberIn(s["budget"], "search.budget", true, 1,
                                             static_cast<double>(kMaxTrials)));
    budget = static_cast<int64_t>(b);
  } else if (method != "grid") {
    return c.Error(s, "search.budget",
                   halving ? "required for halving (the first rung's trials)"
                   : tpe   ? "required for tpe (trials in all)"
                           : "required for random search");
  }
  spec.set_budget(budget);
  if (s["round_size"]) {
    if (!tpe) return c.Error(s["round_size"], "search.round_size", "only for method: tpe");
    SF_ASSIGN_OR_RETURN(double r, c.NumberIn(s["round_size"], "search.round_size", true, 1,
                                             static_cast<double>(budget)));
    spec.set_round_size(static_cast<int32_t>(r));
  } else if (tpe) {
    spec.set_round_size(static_cast<int32_t>(std::min<int64_t>(budget, 16)));
  }
  if (s["multivariate"]) {
    if (!tpe) return c.Error(s["multivariate"], "search.multivariate", "only for method: tpe");
    SF_ASSIGN_OR_RETURN(bool m, c.Bool(s["multivariate"], "search.multivariate"));
    spec.set_tpe_multivariate(m);
  }
  if (s["eta"]) {
    if (!halving) return c.Error(s["eta"], "search.eta", "only for method: halving");
    SF_ASSIGN_OR_RETURN(double eta, c.NumberIn(s["eta"], "search.eta", true, 2, 10));
    spec.set_eta(static_cast<int32_t>(eta));
  } else if (halving) {
    spec.set_eta(3);
  }
  if (s["resume"]) {
    if (!halving) return c.Error(s["resume"], "search.resume", "only for method: halving");
    SF_ASSIGN_OR_RETURN(bool resume, c.Bool(s["resume"], "search.resume"));
    spec.set_restart_promoted(!resume);
  }
  if (s["seed"]) {
    SF_ASSIGN_OR_RETURN(double seed,
                        c.NumberIn(s["seed"], "search.seed", true, 0, 9007199254740992.0));
    out.search_seed = static_cast<uint64_t>(seed);
  }
  const YAML::Node space = s["space"];
  std::set<std::string> allowed(SearchableParams().begin(), SearchableParams().end());
  SF_RETURN_IF_ERROR(c.Map(space, "search.space", allowed, {"epochs", "step_size"}));
  for (const auto& kv : space) {
    const std::string name = kv.first.Scalar();
    const std::string field = "search.space." + name;
    if (name == "issue_rate" && !binary) {
      return c.Error(kv.first, field, "only binary (issue / no issue) datasets can be resampled");
    }
    if (name == "architecture") {
      if (space["channels"] || space["kernel_size"]) {
        return c.Error(kv.first, field,
                       "searching architecture kinds and channels or kernel sizes at once is not "
                       "supported (each kind trains with its defaults, or the architecture "
                       "section's for its kind)");
      }
      SF_RETURN_IF_ERROR(ParseArchitectureKinds(c, kv.second, *resolved, sample, &out.space));
      continue;
    }
    if (name == "optimizer") {
      SF_RETURN_IF_ERROR(ParseOptimizerChoices(c, kv.second, &out.space));
      continue;
    }
    if (name == "channels" || name == "kernel_size") {
      SF_RETURN_IF_ERROR(
          ParseArchitectureChoices(c, kv.second, name, *resolved, sample, &out.space));
      continue;
    }
    Domain d;
    SF_RETURN_IF_ERROR(ParseDomain(c, kv.second, field, ParamRules().at(name), &d));
    if (method == "grid" && d.kind == Domain::kRange && d.steps == 0) {
      return c.Error(kv.second, field, "a grid needs `steps` for a range (or a list of values)");
    }
    if (halving && name == "epochs") {
      SF_RETURN_IF_ERROR(HalvingRungs(c, kv.second, d, &spec));
      d = Domain{Domain::kValues, {static_cast<double>(spec.rung_epochs(0))}};
      d.integer = true;
    }
    out.space.params[name] = d;
  }
  if (method == "grid") {
    SF_ASSIGN_OR_RETURN(int64_t size, GridSize(out.space));
    int64_t cap = budget > 0 ? budget : kMaxTrials;
    if (size > cap) {
      return c.Error(space, "search.space",
                     "the grid has " +
                         (size == INT64_MAX ? std::string("too many") : std::to_string(size)) +
                         " points, over the " + (budget > 0 ? "budget of " : "limit of ") +
                         std::to_string(cap));
    }
  }
  // Halving draws its first rung at random; its later rungs are promoted as rungs end. TPE draws
  // its first round at random; the coordinator proposes each later round when one ends.
  auto trials = Expand(out.space, halving || tpe ? "random" : method,
                       tpe ? spec.round_size() : budget, out.search_seed);
  if (!trials.ok()) return c.Error(s, "search", trials.status().message());
  out.trials = std::move(trials).value();
  out.planned_trials = tpe ? budget : static_cast<int64_t>(out.trials.size());
  if (halving) {
    out.planned_trials = PlannedTrials(budget, spec.eta(), 0, spec.rung_epochs_size());
    if (out.planned_trials > kMaxTrials) {
      return c.Error(s["budget"], "search.budget",
                     "halving would train " + std::to_string(out.planned_trials) +
                         " trials, over the limit of " + std::to_string(kMaxTrials));
    }
  }
  out.spec_hash = CanonicalHash(spec, out.trials);
  return out;
}

}  // namespace sweepfarm::sweep

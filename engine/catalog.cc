// The built-in data sets and architectures, registered here and nowhere else.
#include "engine/catalog.h"

#include <cmath>
#include <cstdio>

#include "engine/data/table.h"

namespace sweepfarm::engine {
namespace {

using data::ShapeText;

std::string Join(const std::vector<int64_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return "[" + s + "]";
}

template <typename T>
std::string Names(const std::vector<T>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + i.name;
  return s;
}

}  // namespace

const std::vector<BuiltinDataset>& BuiltinDatasets() {
  static const auto* builtins = new std::vector<BuiltinDataset>{
      {"telemetry",
       "simulated storage-cluster telemetry: lab training data, customer-like escalations "
       "(docs/telemetry.md)",
       {{"seed", {0, 9.0e15, true}},
        {"lab_samples", {64, 10'000'000, true}},
        {"escalation_samples", {16, 10'000'000, true}},
        {"holdout_fraction", {0, 0.9, false}},
        // The simulator's version (engine/telemetry.h): 1, what every earlier result used, or 2.
        {"simulator_version", {1, 2, true}}},
       {16, 64},
       {"healthy", "faulty"}},
      {"fashion-mnist",
       "Zalando's Fashion-MNIST from Debian's dataset-fashion-mnist",
       {{"train_samples", {64, 60000, true}},
        {"test_samples", {16, 10000, true}},
        {"holdout_fraction", {0, 0.9, false}}},
       {1, 28, 28},
       {"t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
        "ankle-boot"}},
  };
  return *builtins;
}

const std::vector<ArchitectureKind>& Architectures() {
  static const auto* kinds = new std::vector<ArchitectureKind>{
      {"cnn1d",
       "two 1-D convolutions over series, a max-pool between, a global mean, a linear",
       1,
       {32, 64},
       {},
       1,
       false},
      {"cnn2d",
       "two 2-D convolutions over images, a max-pool between, a global mean, a linear",
       2,
       {16, 32},
       {},
       1,
       true},
      {"lenet",
       "LeNet-5: two 2-D convolutions each max-pooled, then fully connected layers",
       2,
       {6, 16},
       {120, 84},
       2,
       true},
      {"logistic", "multinomial logistic regression on the flattened sample", 0, {}, {}, 0, false},
      {"mlp",
       "a multi-layer perceptron on the flattened sample: hidden ReLU layers, then a linear",
       0,
       {},
       {256},
       0,
       false},
      {"linear_svm",
       "a linear support vector machine on the flattened sample (multiclass hinge loss; "
       "weight_decay is its regularisation)",
       0,
       {},
       {},
       0,
       false,
       TrainingLoss::kHinge},
      {"naive_bayes",
       "multinomial naive Bayes on the flattened sample (a feature's count: its standardised "
       "value less its channel's training minimum; training.smoothing is the additive smoothing; "
       "step sizes and optimizers do not apply)",
       0,
       {},
       {},
       0,
       false,
       TrainingLoss::kCrossEntropy,
       Fitting::kNaiveBayes},
  };
  return *kinds;
}

const BuiltinDataset* FindBuiltinDataset(const std::string& name) {
  for (const auto& d : BuiltinDatasets()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const ArchitectureKind* FindArchitecture(const std::string& name) {
  for (const auto& a : Architectures()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::string ArchitectureNames() { return Names(Architectures()); }
std::string BuiltinDatasetNames() { return Names(BuiltinDatasets()); }

Status ValidateDatasetParams(const std::string& name, const DatasetParams& params) {
  const BuiltinDataset* d = FindBuiltinDataset(name);
  if (d == nullptr) {
    return InvalidArgumentError("unknown built-in dataset \"" + name +
                                "\" (built in: " + BuiltinDatasetNames() + ")");
  }
  for (const auto& [key, value] : params) {
    auto rule = d->params.find(key);
    if (rule == d->params.end()) {
      std::string known;
      for (const auto& [k, unused] : d->params) known += (known.empty() ? "" : ", ") + k;
      return InvalidArgumentError("unknown parameter \"" + key + "\" for dataset " + name +
                                  " (known: " + known + ")");
    }
    if (!(value >= rule->second.min && value <= rule->second.max) ||
        (rule->second.integer && std::floor(value) != value)) {
      char range[64];
      std::snprintf(range, sizeof(range), "[%.15g, %.15g]", rule->second.min, rule->second.max);
      return InvalidArgumentError("parameter " + key + " of dataset " + name + " must be " +
                                  (rule->second.integer ? "an integer " : "") + "in " + range);
    }
  }
  return OkStatus();
}

std::vector<int64_t> EngineShape(const std::vector<int64_t>& shape) {
  if (shape.empty()) return shape;
  std::vector<int64_t> out(shape.begin() + 1, shape.end());
  out.push_back(shape.front());
  return out;
}

std::vector<int64_t> ChannelsFirstShape(const std::vector<int64_t>& engine_shape) {
  if (engine_shape.empty()) return engine_shape;
  std::vector<int64_t> out{engine_shape.back()};
  out.insert(out.end(), engine_shape.begin(), engine_shape.end() - 1);
  return out;
}

StatusOr<ArchSpec> ResolveArch(ArchSpec spec, const std::vector<int64_t>& shape) {
  const ArchitectureKind* kind = FindArchitecture(spec.name);
  if (kind == nullptr) {
    return InvalidArgumentError("unknown architecture \"" + spec.name +
                                "\" (known: " + ArchitectureNames() + ")");
  }
  const int64_t dims = static_cast<int64_t>(shape.size()) - 1;
  if (kind->spatial_dims == 0) {
    // Flattened: any sample shape; no convolutions.
    if (!spec.channels.empty()) {
      return InvalidArgumentError("architecture " + spec.name +
                                  " has no convolutions: it takes no channels");
    }
    if (kind->default_hidden.empty() && !spec.hidden.empty()) {
      return InvalidArgumentError("architecture " + spec.name + " takes no hidden");
    }
    if (spec.hidden.empty()) spec.hidden = kind->default_hidden;
    if (spec.hidden.size() > 4) {
      return InvalidArgumentError("architecture " + spec.name + " takes at most 4 hidden widths");
    }
    for (auto h : spec.hidden) {
      if (h < 1 || h > 4096) return InvalidArgumentError("hidden widths must be in [1, 4096]");
    }
    return spec;
  }
  if (dims != kind->spatial_dims) {
    std::string takes = kind->spatial_dims == 1 ? "series samples (CxL)" : "image samples (CxHxW)";
    std::string instead;
    for (const auto& other : Architectures()) {
      if (other.spatial_dims == dims || other.spatial_dims == 0) {
        instead += (instead.empty() ? "" : ", ") + other.name;
      }
    }
    return InvalidArgumentError("architecture " + spec.name + " takes " + takes +
                                ", the data's samples are " + ShapeText(shape) +
                                (instead.empty() ? "" : " (use " + instead + ")"));
  }
  if (spec.channels.empty()) spec.channels = kind->default_channels;
  if (kind->default_hidden.empty()) {
    if (!spec.hidden.empty()) {
      return InvalidArgumentError("architecture " + spec.name + " takes no hidden");
    }
  } else if (spec.hidden.empty()) {
    spec.hidden = kind->default_hidden;
  }
  if (spec.channels.size() != 2) {
    return InvalidArgumentError("architecture " + spec.name + " takes exactly 2 channels, got " +
                                Join(spec.channels));
  }
  for (auto c : spec.channels) {
    if (c < 1 || c > 1024) return InvalidArgumentError("channels must be in [1, 1024]");
  }
  for (auto h : spec.hidden) {
    if (h < 1 || h > 4096) return InvalidArgumentError("hidden widths must be in [1, 4096]");
  }
  if (spec.kernel_size < 1 || spec.kernel_size > 15) {
    return InvalidArgumentError("kernel_size must be in [1, 15]");
  }
  if (kind->square_only && shape[1] != shape[2]) {
    return InvalidArgumentError("architecture " + spec.name + " needs square images, got " +
                                ShapeText(shape));
  }
  // The spatial extent must survive conv, pool, conv (, pool).
  int64_t extent = shape[1];
  extent = (extent - spec.kernel_size + 1) / 2 - spec.kernel_size + 1;
  if (kind->pools > 1) extent /= 2;
  if (extent < 1) {
    return InvalidArgumentError("kernel_size " + std::to_string(spec.kernel_size) +
                                " too large for samples of shape " + ShapeText(shape));
  }
  return spec;
}

const std::vector<std::string>& OptimizerNames() {
  static const auto* names = new std::vector<std::string>{"sgd", "adam", "adamw"};
  return *names;
}

const std::vector<std::string>& ScheduleNames() {
  static const auto* names = new std::vector<std::string>{"constant", "cosine", "step"};
  return *names;
}

StatusOr<OptimizerKind> ParseOptimizer(const std::string& name) {
  if (name == "sgd") return OptimizerKind::kSgd;
  if (name == "adam") return OptimizerKind::kAdam;
  if (name == "adamw") return OptimizerKind::kAdamW;
  return InvalidArgumentError("unknown optimizer '" + name + "' (expected sgd, adam or adamw)");
}

StatusOr<RateSchedule> ParseSchedule(const std::string& name) {
  if (name == "constant") return RateSchedule::kConstant;
  if (name == "cosine") return RateSchedule::kCosine;
  if (name == "step") return RateSchedule::kStep;
  return InvalidArgumentError("unknown schedule '" + name +
                              "' (expected constant, cosine or step)");
}

std::string NameOf(OptimizerKind kind) { return OptimizerNames()[static_cast<size_t>(kind)]; }
std::string NameOf(RateSchedule schedule) { return ScheduleNames()[static_cast<size_t>(schedule)]; }

}  // namespace sweepfarm::engine

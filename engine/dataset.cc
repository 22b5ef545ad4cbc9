// Dataset registry: the stable names sweeps use, their parameters, and their factories.
#include "worker/engine/dataset.h"

#include <cmath>
#include <set>

#include "common/hash.h"
#include "worker/engine/fashion_mnist.h"
#include "worker/engine/telemetry.h"

namespace sweepfarm::engine {
namespace {

struct ParamRule {
  double min;
  double max;
  bool integer;
};

const std::map<std::string, std::map<std::string, ParamRule>>& Rules() {
  static const auto* rules = new std::map<std::string, std::map<std::string, ParamRule>>{
      {"telemetry",
       {{"seed", {0, 9.0e15, true}},
        {"lab_samples", {64, 10'000'000, true}},
        {"escalation_samples", {16, 10'000'000, true}},
        {"holdout_fraction", {0, 0.9, false}}}},
      {"fashion-mnist",
       {{"train_samples", {64, 60000, true}},
        {"test_samples", {16, 10000, true}},
        {"holdout_fraction", {0, 0.9, false}}}},
  };
  return *rules;
}

}  // namespace

std::vector<int64_t> Dataset::sample_shape() const {
  auto sizes = train.x.sizes();
  return std::vector<int64_t>(sizes.begin() + 1, sizes.end());
}

std::shared_ptr<const Dataset> Dataset::To(const torch::Device& device) const {
  auto out = std::make_shared<Dataset>(*this);
  auto move = [&](Split& s) {
    s.x = s.x.to(device).contiguous();
    s.y = s.y.to(device).contiguous();
    if (s.kind.defined()) s.kind = s.kind.to(device);
  };
  move(out->train);
  move(out->test);
  return out;
}

double Dataset::MajorityBaseline() const {
  if (test.size() == 0) return 0;
  torch::Tensor counts = test.y.to(torch::kCPU).bincount({}, num_classes);
  return counts.max().item<double>() / static_cast<double>(test.size());
}

std::vector<int64_t> CountByClass(const torch::Tensor& labels, int64_t classes) {
  torch::Tensor counts = labels.to(torch::kCPU).bincount({}, classes).contiguous();
  return std::vector<int64_t>(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + classes);
}

bool IsKnownDataset(const std::string& name) { return Rules().count(name) > 0; }

Status ValidateDatasetParams(const std::string& name, const DatasetParams& params) {
  auto it = Rules().find(name);
  if (it == Rules().end()) {
    return InvalidArgumentError("unknown dataset \"" + name +
                                "\" (known: telemetry, fashion-mnist)");
  }
  for (const auto& [key, value] : params) {
    auto rule = it->second.find(key);
    if (rule == it->second.end()) {
      std::string known;
      for (const auto& [k, unused] : it->second) known += (known.empty() ? "" : ", ") + k;
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

StatusOr<std::shared_ptr<const Dataset>> MakeDataset(const std::string& name,
                                                     const DatasetParams& params) {
  SF_RETURN_IF_ERROR(ValidateDatasetParams(name, params));
  auto get = [&](const char* key, double fallback) {
    auto it = params.find(key);
    return it == params.end() ? fallback : it->second;
  };
  std::shared_ptr<const Dataset> ds;
  if (name == "telemetry") {
    TelemetryOptions o;
    o.seed = static_cast<uint64_t>(get("seed", 1));
    o.lab_samples = static_cast<int64_t>(get("lab_samples", 5275));
    o.escalation_samples = static_cast<int64_t>(get("escalation_samples", 2000));
    ds = MakeTelemetryDataset(o);
  } else {
    FashionMnistOptions o;
    o.train_samples = static_cast<int64_t>(get("train_samples", 60000));
    o.test_samples = static_cast<int64_t>(get("test_samples", 10000));
    SF_ASSIGN_OR_RETURN(ds, MakeFashionMnistDataset(o));
  }
  // Selection first, holdout last: disjoint parts of the customer-like split.
  auto split = std::make_shared<Dataset>(*ds);
  split->selection_size =
      ds->test.size() -
      static_cast<int64_t>(std::floor(get("holdout_fraction", 0.5) * ds->test.size()));
  return std::shared_ptr<const Dataset>(std::move(split));
}

std::string HashTensors(const std::vector<torch::Tensor>& tensors) {
  Fnv64 h;
  for (const auto& t0 : tensors) {
    torch::Tensor t = t0.to(torch::kCPU).contiguous();
    std::string meta = std::string(c10::toString(t.scalar_type())) + ":";
    for (auto s : t.sizes()) meta += std::to_string(s) + ",";
    h.Update(meta);
    h.Update(t.data_ptr(), t.numel() * t.element_size());
  }
  return h.HexDigest();
}

}  // namespace sweepfarm::engine

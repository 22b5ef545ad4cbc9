// Datasets as tensors, and the built-in generators registered by name.
#include "engine/dataset.h"

#include <cmath>

#include "common/hash.h"
#include "engine/data/codec.h"
#include "engine/fashion_mnist.h"
#include "engine/telemetry.h"

namespace sweepfarm::engine {
namespace {

double Get(const DatasetParams& params, const char* key, double fallback) {
  auto it = params.find(key);
  return it == params.end() ? fallback : it->second;
}

StatusOr<data::Table> Telemetry(const DatasetParams& p) {
  TelemetryOptions o;
  o.seed = static_cast<uint64_t>(Get(p, "seed", 1));
  o.lab_samples = static_cast<int64_t>(Get(p, "lab_samples", 5275));
  o.escalation_samples = static_cast<int64_t>(Get(p, "escalation_samples", 2000));
  o.version = static_cast<int>(Get(p, "simulator_version", 1));
  return TelemetryTable(o);
}

StatusOr<data::Table> FashionMnist(const DatasetParams& p) {
  FashionMnistOptions o;
  o.train_samples = static_cast<int64_t>(Get(p, "train_samples", 60000));
  o.test_samples = static_cast<int64_t>(Get(p, "test_samples", 10000));
  return FashionMnistTable(o);
}

using Generator = StatusOr<data::Table> (*)(const DatasetParams&);

// Each built-in data set of the catalogue (engine/catalog.cc) and its generator. A generator
// returns the train split and the customer-like split as selection; GenerateBuiltin keeps the
// last holdout_fraction of the latter as the holdout.
const std::map<std::string, Generator>& Generators() {
  static const auto* generators = new std::map<std::string, Generator>{
      {"telemetry", Telemetry},
      {"fashion-mnist", FashionMnist},
  };
  return *generators;
}

// Rows [from, to) of a [N, ...] table part as a channels-last tensor [to - from, ..., C] that owns
// its values: the table does not outlive it. (For one channel, permuting and making contiguous
// copies nothing: the result would still be the table's memory.)
torch::Tensor ChannelsLast(const data::Part& part, const std::vector<int64_t>& shape, int64_t from,
                           int64_t to) {
  const int64_t per = static_cast<int64_t>(part.x.size()) / std::max<int64_t>(part.size(), 1);
  std::vector<int64_t> dims{to - from};
  dims.insert(dims.end(), shape.begin(), shape.end());
  const torch::Tensor table =
      torch::from_blob(const_cast<float*>(part.x.data()) + from * per, dims, torch::kFloat32);
  torch::Tensor x = ToChannelsLast(table);
  return x.data_ptr() == table.data_ptr() ? x.clone(torch::MemoryFormat::Contiguous) : x;
}

torch::Tensor Labels(const data::Part& part) {
  if (part.size() == 0) return torch::empty({0}, torch::kInt64);
  return torch::from_blob(const_cast<int32_t*>(part.y.data()), {part.size()}, torch::kInt32)
      .to(torch::kInt64);
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

std::shared_ptr<const Dataset> DatasetFromTable(const data::Table& t, const std::string& name,
                                                const std::string& hash) {
  auto ds = std::make_shared<Dataset>();
  ds->name = name;
  ds->hash = hash;
  ds->num_classes = static_cast<int64_t>(t.classes.size());
  ds->binary_issue_label = ds->num_classes == 2;
  const data::Part& train = t.part(data::SplitId::kTrain);
  const data::Part& sel = t.part(data::SplitId::kSelection);
  const data::Part& hold = t.part(data::SplitId::kHoldout);
  ds->train.x = ChannelsLast(train, t.shape, 0, train.size());
  ds->train.y = Labels(train);
  ds->test.x = torch::cat(
      {ChannelsLast(sel, t.shape, 0, sel.size()), ChannelsLast(hold, t.shape, 0, hold.size())});
  ds->test.y = torch::cat({Labels(sel), Labels(hold)});
  ds->selection_size = sel.size();
  return ds;
}

std::shared_ptr<const Dataset> RandomImageDataset(const std::string& name, int64_t train,
                                                  int64_t test, uint64_t seed) {
  auto ds = std::make_shared<Dataset>();
  ds->name = name;
  ds->num_classes = 10;
  at::Generator gen = at::detail::createCPUGenerator(seed);
  ds->train.x = torch::randn({train, 28, 28, 1}, gen);
  ds->train.y = torch::randint(0, 10, {train}, gen, torch::kInt64);
  ds->test.x = torch::randn({test, 28, 28, 1}, gen);
  ds->test.y = torch::randint(0, 10, {test}, gen, torch::kInt64);
  return ds;
}

std::shared_ptr<const Dataset> Standardized(const Dataset& raw) {
  auto out = std::make_shared<Dataset>(raw);
  torch::Tensor x = raw.train.x.to(torch::kCPU, torch::kFloat64);
  torch::Tensor flat = x.reshape({-1, x.size(-1)});
  torch::Tensor mean = flat.mean(0);
  torch::Tensor std = flat.std(0, /*unbiased=*/false);
  std = torch::where(std > 1e-6, std, torch::ones_like(std));
  torch::Tensor mean_f = mean.to(torch::kFloat32).contiguous();
  torch::Tensor std_f = std.to(torch::kFloat32).contiguous();
  out->input_mean.assign(mean_f.data_ptr<float>(), mean_f.data_ptr<float>() + mean_f.numel());
  out->input_std.assign(std_f.data_ptr<float>(), std_f.data_ptr<float>() + std_f.numel());
  const torch::Device device = raw.train.x.device();
  auto scale = [&](const torch::Tensor& v) {
    return ((v - mean_f.to(device)) / std_f.to(device)).contiguous();
  };
  out->train.x = scale(raw.train.x);
  out->test.x = scale(raw.test.x);
  return out;
}

StatusOr<data::Table> GenerateBuiltin(const std::string& name, const DatasetParams& params) {
  SF_RETURN_IF_ERROR(ValidateDatasetParams(name, params));
  auto gen = Generators().find(name);
  if (gen == Generators().end()) {
    return InternalError("built-in dataset " + name + " has no generator");
  }
  SF_ASSIGN_OR_RETURN(data::Table t, gen->second(params));
  // Selection first, holdout last: disjoint parts of the customer-like split.
  data::Part& sel = t.part(data::SplitId::kSelection);
  data::Part& hold = t.part(data::SplitId::kHoldout);
  const int64_t n = sel.size();
  const int64_t keep =
      n - static_cast<int64_t>(std::floor(Get(params, "holdout_fraction", 0.5) * n));
  const int64_t per = t.values_per_sample();
  hold.y.assign(sel.y.begin() + keep, sel.y.end());
  hold.x.assign(sel.x.begin() + keep * per, sel.x.end());
  sel.y.resize(keep);
  sel.x.resize(keep * per);
  return t;
}

StatusOr<std::shared_ptr<const Dataset>> MakeDataset(const std::string& name,
                                                     const DatasetParams& params) {
  SF_ASSIGN_OR_RETURN(data::Table t, GenerateBuiltin(name, params));
  SF_ASSIGN_OR_RETURN(std::string bytes, data::Encode(t));
  return DatasetFromTable(t, name, data::ContentHash(bytes));
}

torch::Tensor ToChannelsLast(const torch::Tensor& x) {
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i < x.dim(); ++i) perm.push_back(i);
  perm.push_back(1);
  return x.permute(perm).contiguous();
}

torch::Tensor ToChannelsFirst(const torch::Tensor& x) {
  std::vector<int64_t> perm{0, x.dim() - 1};
  for (int64_t i = 1; i < x.dim() - 1; ++i) perm.push_back(i);
  return x.permute(perm).contiguous();
}

std::vector<int64_t> CountByClass(const torch::Tensor& labels, int64_t classes) {
  torch::Tensor counts = labels.to(torch::kCPU).bincount({}, classes).contiguous();
  return std::vector<int64_t>(counts.data_ptr<int64_t>(), counts.data_ptr<int64_t>() + classes);
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

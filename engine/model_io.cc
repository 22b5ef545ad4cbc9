#include "engine/model_io.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/json.h"
#include "common/sha256.h"

namespace sweepfarm::engine {
namespace {

Status Bad(const std::string& what, const std::string& format = kWeightsFormat) {
  return InvalidArgumentError(format + " artifact: " + what);
}

StatusOr<std::vector<float>> Floats(const JsonValue* v, const std::string& field) {
  std::vector<float> out;
  if (v == nullptr) return out;  // Artifacts before standardisation.
  if (!v->is_array()) return Bad(field + " must be a list of numbers");
  for (const auto& e : v->array()) {
    if (!e.is_number() || !std::isfinite(e.number()))
      return Bad(field + " must be a list of numbers");
    out.push_back(static_cast<float>(e.number()));
  }
  return out;
}

StatusOr<std::vector<int64_t>> Ints(const JsonValue* v, const std::string& field) {
  if (v == nullptr || !v->is_array()) return Bad(field + " must be a list of integers");
  std::vector<int64_t> out;
  for (const auto& e : v->array()) {
    if (!e.is_number() || e.number() < 0 || e.number() > 1e9) {
      return Bad(field + " must be a list of integers");
    }
    out.push_back(static_cast<int64_t>(e.number()));
  }
  return out;
}

// The tensors `lists` (each [K, ...]) of model `slot`, one list after the other.
EncodedWeights Encode(const ArchSpec& arch, const ModelInputs& inputs,
                      const std::vector<const std::vector<torch::Tensor>*>& lists, int64_t slot) {
  JsonWriter w;
  w.BeginObject().Key("architecture").BeginObject();
  w.Key("name").String(arch.name).Key("channels").BeginArray();
  for (auto c : arch.channels) w.Int(c);
  w.EndArray().Key("kernel_size").Int(arch.kernel_size).Key("hidden").BeginArray();
  for (auto h : arch.hidden) w.Int(h);
  w.EndArray().EndObject().Key("dataset").String(inputs.dataset).Key("sample_shape").BeginArray();
  for (auto d : inputs.sample_shape) w.Int(d);
  w.EndArray().Key("classes").Int(inputs.classes);
  if (!inputs.input_mean.empty()) {
    w.Key("input_mean").BeginArray();
    for (float v : inputs.input_mean) w.Number(v);
    w.EndArray().Key("input_std").BeginArray();
    for (float v : inputs.input_std) w.Number(v);
    w.EndArray();
  }
  w.Key("layout").String("fused-model-v1");
  w.Key("dtype").String("float32le").Key("tensors").BeginArray();
  EncodedWeights out;
  for (const auto* list : lists) {
    for (const auto& p : *list) {
      torch::Tensor t = p[slot].to(torch::kCPU, torch::kFloat32).contiguous();
      w.BeginArray();
      for (auto d : t.sizes()) w.Int(d);
      w.EndArray();
      out.content.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
    }
  }
  w.EndArray().EndObject();
  out.arch_json = w.str();
  out.sha256 = Sha256Hex(out.content);
  return out;
}

}  // namespace

ModelInputs InputsOf(const Dataset& data) {
  return ModelInputs{data.name, data.sample_shape(), data.num_classes, data.input_mean,
                     data.input_std};
}

EncodedWeights EncodeWeights(const ArchSpec& arch, const ModelInputs& inputs,
                             const std::vector<torch::Tensor>& bundle_params, int64_t slot) {
  return Encode(arch, inputs, {&bundle_params}, slot);
}

EncodedWeights EncodeCheckpoint(const ArchSpec& arch, const ModelInputs& inputs,
                                const std::vector<torch::Tensor>& bundle_params,
                                const std::vector<torch::Tensor>& bundle_momentum, int64_t slot) {
  return Encode(arch, inputs, {&bundle_params, &bundle_momentum}, slot);
}

StatusOr<ModelWeights> DecodeWeights(const std::string& format, const std::string& arch_json,
                                     const std::string& content, const std::string& sha256) {
  const std::string digest = Sha256Hex(content);
  if (digest != sha256) {
    return DataLossError("artifact " + sha256 + " is corrupt: its " +
                         std::to_string(content.size()) + " bytes hash to " + digest);
  }
  const bool checkpoint = format == kCheckpointFormat;
  if (!checkpoint && format != kWeightsFormat) return Bad("unknown format \"" + format + "\"");
  JsonValue doc;
  std::string error;
  if (!JsonValue::Parse(arch_json, &doc, &error)) return Bad("arch: " + error, format);
  if (!doc.is_object()) return Bad("arch must be a JSON object", format);
  const JsonValue* a = doc.Find("architecture");
  if (a == nullptr || !a->is_object() || a->Find("name") == nullptr ||
      !a->Find("name")->is_string()) {
    return Bad("arch.architecture.name missing", format);
  }
  ModelWeights m;
  m.arch.name = a->Find("name")->string();
  SF_ASSIGN_OR_RETURN(m.arch.channels, Ints(a->Find("channels"), "architecture.channels"));
  SF_ASSIGN_OR_RETURN(m.arch.hidden, Ints(a->Find("hidden"), "architecture.hidden"));
  if (const JsonValue* k = a->Find("kernel_size"); k != nullptr && k->is_number()) {
    m.arch.kernel_size = static_cast<int64_t>(k->number());
  }
  if (const JsonValue* d = doc.Find("dataset"); d != nullptr && d->is_string()) {
    m.inputs.dataset = d->string();
  }
  SF_ASSIGN_OR_RETURN(m.inputs.sample_shape, Ints(doc.Find("sample_shape"), "sample_shape"));
  const JsonValue* classes = doc.Find("classes");
  if (classes == nullptr || !classes->is_number() || classes->number() < 2) {
    return Bad("classes must be a number >= 2", format);
  }
  m.inputs.classes = static_cast<int64_t>(classes->number());
  SF_ASSIGN_OR_RETURN(m.inputs.input_mean, Floats(doc.Find("input_mean"), "input_mean"));
  SF_ASSIGN_OR_RETURN(m.inputs.input_std, Floats(doc.Find("input_std"), "input_std"));
  const size_t channels = m.inputs.sample_shape.empty() ? 0 : m.inputs.sample_shape.back();
  if (!m.inputs.input_mean.empty() &&
      (m.inputs.input_mean.size() != channels || m.inputs.input_std.size() != channels)) {
    return Bad("input_mean and input_std need one value per channel", format);
  }
  for (float sd : m.inputs.input_std) {
    if (!(sd > 0)) return Bad("input_std must be positive", format);
  }
  const JsonValue* layout = doc.Find("layout");
  if (layout == nullptr || !layout->is_string() || layout->string() != "fused-model-v1") {
    return Bad("layout must be fused-model-v1", format);
  }
  const JsonValue* tensors = doc.Find("tensors");
  if (tensors == nullptr || !tensors->is_array())
    return Bad("tensors must be a list of shapes", format);
  size_t offset = 0;
  for (size_t i = 0; i < tensors->array().size(); ++i) {
    SF_ASSIGN_OR_RETURN(auto shape,
                        Ints(&tensors->array()[i], "tensors[" + std::to_string(i) + "]"));
    int64_t n = 1;
    for (auto d : shape) n *= d;
    const size_t bytes = static_cast<size_t>(n) * sizeof(float);
    if (offset + bytes > content.size()) return Bad("content is shorter than its tensors", format);
    torch::Tensor t = torch::empty(shape, torch::kFloat32);
    std::memcpy(t.data_ptr(), content.data() + offset, bytes);
    offset += bytes;
    m.params.push_back(t);
  }
  if (offset != content.size()) return Bad("content is longer than its tensors", format);
  // The shapes must be exactly those of the architecture.
  SF_ASSIGN_OR_RETURN(FusedNet probe, FusedNet::Create(m.arch, m.inputs.sample_shape,
                                                       m.inputs.classes, {0}, torch::kCPU));
  const size_t n = probe.params().size();
  if (checkpoint && m.params.size() == 2 * n) {
    m.momentum.assign(m.params.begin() + static_cast<std::ptrdiff_t>(n), m.params.end());
    m.params.resize(n);
  }
  if (m.params.size() != n || (checkpoint && m.momentum.size() != n)) {
    return Bad(
        "holds " + std::to_string(m.params.size() + m.momentum.size()) + " tensors, architecture " +
            m.arch.name + " has " + std::to_string(n) +
            (checkpoint ? " (a checkpoint holds them and their momentum: twice as many)" : ""),
        format);
  }
  for (size_t i = 0; i < m.params.size() + m.momentum.size(); ++i) {
    const torch::Tensor& t = i < n ? m.params[i] : m.momentum[i - n];
    if (probe.params()[i % n][0].sizes() != t.sizes()) {
      return Bad("tensors[" + std::to_string(i) + "] has the wrong shape for " + m.arch.name,
                 format);
    }
  }
  return m;
}

StatusOr<EnsembleModel> EnsembleModel::Create(const std::vector<ModelWeights>& members,
                                              const std::vector<double>& weights) {
  if (members.empty()) return InvalidArgumentError("an ensemble needs at least one member");
  if (weights.size() != members.size()) {
    return InvalidArgumentError("an ensemble needs one weight per member");
  }
  double total = 0;
  for (double w : weights) {
    if (!(w > 0)) return InvalidArgumentError("ensemble weights must be positive");
    total += w;
  }
  const ModelWeights& first = members.front();
  for (const auto& m : members) {
    if (!(m.inputs == first.inputs)) {
      return InvalidArgumentError(
          "ensemble members differ in inputs, classes or input standardisation");
    }
  }
  EnsembleModel e;
  // Members of one architecture, in order of first appearance.
  std::vector<std::vector<int64_t>> groups;
  for (size_t i = 0; i < members.size(); ++i) {
    const ArchSpec& a = members[i].arch;
    auto same = [&](const std::vector<int64_t>& g) {
      const ArchSpec& b = members[g.front()].arch;
      return a.name == b.name && a.channels == b.channels && a.hidden == b.hidden &&
             a.kernel_size == b.kernel_size;
    };
    auto it = std::find_if(groups.begin(), groups.end(), same);
    if (it == groups.end()) {
      groups.push_back({static_cast<int64_t>(i)});
    } else {
      it->push_back(static_cast<int64_t>(i));
    }
  }
  for (const auto& g : groups) {
    const ModelWeights& head = members[g.front()];
    SF_ASSIGN_OR_RETURN(FusedNet net,
                        FusedNet::Create(head.arch, head.inputs.sample_shape, head.inputs.classes,
                                         std::vector<uint64_t>(g.size(), 0), torch::kCPU));
    for (size_t p = 0; p < net.params().size(); ++p) {
      std::vector<torch::Tensor> per_model;
      for (int64_t i : g) per_model.push_back(members[i].params[p]);
      net.params()[p] = torch::stack(per_model).contiguous();
    }
    e.groups_.push_back({std::move(net), torch::tensor(g, torch::kInt64)});
  }
  std::vector<float> w;
  for (double x : weights) w.push_back(static_cast<float>(x / total));
  e.weights_ = torch::tensor(w, torch::kFloat32);
  e.inputs_ = first.inputs;
  if (!first.inputs.input_mean.empty()) {
    e.mean_ = torch::tensor(first.inputs.input_mean, torch::kFloat32);
    e.std_ = torch::tensor(first.inputs.input_std, torch::kFloat32);
  }
  e.size_ = static_cast<int64_t>(members.size());
  return e;
}

torch::Tensor EnsembleModel::PredictMembers(const torch::Tensor& x0) const {
  torch::NoGradGuard no_grad;
  torch::Tensor x = x0.to(torch::kFloat32);
  if (mean_.defined()) x = (x - mean_) / std_;  // Channels-last: the last dimension.
  // In chunks: im2col patches of a large batch fall out of cache (5,000 Fashion-MNIST images at
  // once through 7 LeNets: 13 s; in chunks of 256: see bench/RESULTS.md).
  constexpr int64_t kChunk = 256;
  auto forward = [&](const FusedNet& net) {
    if (x.size(0) <= kChunk) return torch::softmax(net.ForwardShared(x, torch::kFloat32), -1);
    std::vector<torch::Tensor> parts;
    for (int64_t i = 0; i < x.size(0); i += kChunk) {
      torch::Tensor chunk = x.narrow(0, i, std::min(kChunk, x.size(0) - i));
      parts.push_back(torch::softmax(net.ForwardShared(chunk, torch::kFloat32), -1));
    }
    return torch::cat(parts, 1);
  };
  if (groups_.size() == 1) return forward(groups_[0].net);
  torch::Tensor out = torch::empty({size_, x.size(0), inputs_.classes}, torch::kFloat32);
  for (const auto& g : groups_) out.index_copy_(0, g.members, forward(g.net));
  return out;
}

torch::Tensor EnsembleModel::Predict(const torch::Tensor& x) const {
  torch::Tensor p = PredictMembers(x);  // [K, N, C]
  return (p * weights_.view({-1, 1, 1})).sum(0);
}

torch::Tensor DecideLabels(const torch::Tensor& probs, double threshold) {
  if (threshold > 0 && probs.size(1) == 2) {
    // Compared in double, as the registry's reports compare: a tuned threshold lies between two
    // float probabilities and may not be one itself.
    return probs.select(1, 1).to(torch::kFloat64).gt(threshold).to(torch::kInt64);
  }
  return probs.argmax(1);
}

StatusOr<EnsembleModel> LoadEnsemble(const std::vector<MemberArtifact>& members,
                                     const std::string& what) {
  std::vector<ModelWeights> decoded;
  std::vector<double> weights;
  for (const auto& m : members) {
    auto w = DecodeWeights(m.format, m.arch_json, m.content, m.sha256);
    if (!w.ok()) {
      return Status(w.status().code(), what + ", member trial " + std::to_string(m.trial_id) +
                                           ": " + w.status().message());
    }
    decoded.push_back(std::move(w).value());
    weights.push_back(m.weight);
  }
  auto e = EnsembleModel::Create(decoded, weights);
  if (!e.ok()) return Status(e.status().code(), what + ": " + e.status().message());
  return e;
}

}  // namespace sweepfarm::engine

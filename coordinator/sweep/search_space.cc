#include "coordinator/sweep/search_space.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/rng.h"

namespace sweepfarm::sweep {
namespace {

std::vector<double> GridPoints(const Domain& d) {
  if (d.kind == Domain::kValues) return d.values;
  std::vector<double> pts;
  for (int64_t i = 0; i < d.steps; ++i) {
    double f = d.steps == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(d.steps - 1);
    double v = d.log ? std::exp(std::log(d.min) + f * (std::log(d.max) - std::log(d.min)))
                     : d.min + f * (d.max - d.min);
    pts.push_back(d.integer ? std::round(v) : v);
  }
  return pts;
}

}  // namespace

void Set(const SearchSpace& space, v1::TrialParams* p, const std::string& name, double v) {
  if (name == "channels") {
    const auto& choice = space.channel_choices.at(static_cast<size_t>(v));
    p->mutable_channels()->Assign(choice.begin(), choice.end());
  }
  if (name == "architecture") {
    p->set_architecture(space.architecture_choices.at(static_cast<size_t>(v)));
  }
  if (name == "optimizer") {
    p->set_optimizer(space.optimizer_choices.at(static_cast<size_t>(v)));
  }
  if (name == "weight_decay") p->set_weight_decay(v);
  if (name == "smoothing") p->set_smoothing(v);
  if (name == "kernel_size") p->set_kernel_size(static_cast<int32_t>(v));
  if (name == "epochs") p->set_epochs(static_cast<int32_t>(v));
  if (name == "step_size") p->set_step_size(v);
  if (name == "issue_rate") p->set_issue_rate(v);
  if (name == "data_size") p->set_data_size(v);
  if (name == "seed") p->set_seed(static_cast<uint64_t>(v));
}

double Get(const SearchSpace& space, const v1::TrialParams& p, const std::string& name) {
  if (name == "channels") {
    const std::vector<int32_t> mine(p.channels().begin(), p.channels().end());
    for (size_t i = 0; i < space.channel_choices.size(); ++i) {
      if (space.channel_choices[i] == mine) return static_cast<double>(i);
    }
    return std::nan("");
  }
  if (name == "architecture") {
    for (size_t i = 0; i < space.architecture_choices.size(); ++i) {
      if (space.architecture_choices[i] == p.architecture()) return static_cast<double>(i);
    }
    return std::nan("");
  }
  if (name == "optimizer") {
    for (size_t i = 0; i < space.optimizer_choices.size(); ++i) {
      if (space.optimizer_choices[i] == p.optimizer()) return static_cast<double>(i);
    }
    return std::nan("");
  }
  if (name == "weight_decay") return p.has_weight_decay() ? p.weight_decay() : std::nan("");
  if (name == "smoothing") return p.has_smoothing() ? p.smoothing() : std::nan("");
  if (name == "kernel_size") return p.kernel_size() > 0 ? p.kernel_size() : std::nan("");
  if (name == "epochs") return p.epochs();
  if (name == "step_size") return p.step_size();
  if (name == "issue_rate") return p.issue_rate();
  if (name == "data_size") return p.data_size();
  if (name == "seed") return static_cast<double>(p.seed());
  return 0;
}

v1::TrialParams Defaults() {
  v1::TrialParams p;
  p.set_epochs(10);
  p.set_step_size(5e-3);
  p.set_issue_rate(-1);
  p.set_data_size(1.0);
  p.set_seed(1);
  return p;
}

v1::ArchitectureSpec TrialArchitecture(const v1::ArchitectureSpec& sweep,
                                       const v1::TrialParams& p) {
  v1::ArchitectureSpec a = sweep;
  if (!p.architecture().empty() && p.architecture() != sweep.name()) {
    a.Clear();  // Another kind: its own defaults.
    a.set_name(p.architecture());
    a.set_kernel_size(5);
  }
  if (p.channels_size() > 0) a.mutable_channels()->Assign(p.channels().begin(), p.channels().end());
  if (p.kernel_size() > 0) a.set_kernel_size(p.kernel_size());
  return a;
}

double Draw(const Domain& d, Rng& rng) {
  double v;
  if (d.kind == Domain::kValues) {
    v = d.values[rng.UniformInt(0, static_cast<int64_t>(d.values.size()) - 1)];
  } else if (d.log) {
    v = std::exp(rng.Uniform(std::log(d.min), std::log(d.max)));
  } else if (d.integer) {
    v = static_cast<double>(
        rng.UniformInt(static_cast<int64_t>(d.min), static_cast<int64_t>(d.max)));
  } else {
    v = rng.Uniform(d.min, d.max);
  }
  return d.integer ? std::round(v) : v;
}

const std::vector<std::string>& SearchableParams() {
  static const auto* names = new std::vector<std::string>{
      "architecture", "channels",   "kernel_size", "optimizer", "weight_decay", "smoothing",
      "step_size",    "issue_rate", "data_size",   "seed",      "epochs"};
  return *names;
}

StatusOr<int64_t> GridSize(const SearchSpace& space) {
  int64_t total = 1;
  for (const auto& [name, d] : space.params) {
    int64_t n = d.kind == Domain::kValues ? static_cast<int64_t>(d.values.size()) : d.steps;
    if (n <= 0) {
      return InvalidArgumentError(
          "search.space." + name +
          (d.kind == Domain::kRange ? ": a grid needs `steps` for a range" : ": no values"));
    }
    if (total > std::numeric_limits<int64_t>::max() / n) return std::numeric_limits<int64_t>::max();
    total *= n;
  }
  return total;
}

StatusOr<std::vector<v1::TrialParams>> Expand(const SearchSpace& space, const std::string& method,
                                              int64_t budget, uint64_t seed) {
  std::vector<v1::TrialParams> out;
  if (method == "grid") {
    SF_ASSIGN_OR_RETURN(int64_t size, GridSize(space));
    if (budget > 0 && size > budget) {
      return InvalidArgumentError("search: the grid has " + std::to_string(size) +
                                  " points, more than budget " + std::to_string(budget));
    }
    std::vector<std::pair<std::string, std::vector<double>>> axes;
    for (const auto& name : SearchableParams()) {
      if (auto it = space.params.find(name); it != space.params.end()) {
        axes.push_back({name, GridPoints(it->second)});
      }
    }
    out.reserve(size);
    std::vector<size_t> idx(axes.size(), 0);
    for (int64_t n = 0; n < size; ++n) {
      v1::TrialParams p = Defaults();
      for (size_t a = 0; a < axes.size(); ++a)
        Set(space, &p, axes[a].first, axes[a].second[idx[a]]);
      out.push_back(p);
      for (size_t a = axes.size(); a-- > 0;) {  // Odometer: last axis fastest.
        if (++idx[a] < axes[a].second.size()) break;
        idx[a] = 0;
      }
    }
    return out;
  }
  if (method != "random") return InvalidArgumentError("search.method: must be grid or random");
  if (budget <= 0) return InvalidArgumentError("search.budget: random search needs a budget > 0");
  Rng rng(MixKey(seed, 0x5EA4C4));
  out.reserve(budget);
  for (int64_t n = 0; n < budget; ++n) {
    v1::TrialParams p = Defaults();
    for (const auto& name : SearchableParams()) {
      auto it = space.params.find(name);
      if (it == space.params.end()) continue;
      Set(space, &p, name, Draw(it->second, rng));
    }
    out.push_back(p);
  }
  return out;
}

namespace {

// The bounds a neighbour's value is clamped to: the space's, within the parameter's valid range.
std::pair<double, double> Bounds(const SearchSpace& space, const std::string& name, double lo,
                                 double hi) {
  auto it = space.params.find(name);
  if (it == space.params.end()) return {lo, hi};
  const Domain& d = it->second;
  double a = d.min, b = d.max;
  if (d.kind == Domain::kValues) {
    a = *std::min_element(d.values.begin(), d.values.end());
    b = *std::max_element(d.values.begin(), d.values.end());
  }
  return {std::max(a, lo), std::min(b, hi)};
}

bool SameParams(const v1::TrialParams& a, const v1::TrialParams& b) {
  return a.epochs() == b.epochs() && a.step_size() == b.step_size() &&
         a.issue_rate() == b.issue_rate() && a.data_size() == b.data_size() &&
         a.seed() == b.seed() &&
         std::equal(a.channels().begin(), a.channels().end(), b.channels().begin(),
                    b.channels().end()) &&
         a.kernel_size() == b.kernel_size() && a.architecture() == b.architecture() &&
         a.optimizer() == b.optimizer() && a.has_weight_decay() == b.has_weight_decay() &&
         a.weight_decay() == b.weight_decay() && a.has_smoothing() == b.has_smoothing() &&
         a.smoothing() == b.smoothing();
}

}  // namespace

std::vector<SeededTrial> SeedAndNeighbours(const SearchSpace& space,
                                           const std::vector<SeedTrial>& seeds,
                                           const v1::SeedSpec& spec, int64_t total, uint64_t seed) {
  std::vector<SeededTrial> out;
  std::vector<const SeedTrial*> parents;
  for (const auto& s : seeds) {
    if (static_cast<int64_t>(out.size()) >= total) break;
    bool dup = false;
    for (const auto& o : out) dup = dup || SameParams(o.params, s.params);
    if (dup) continue;
    out.push_back({s.params, "seed", s.trial_id});
    parents.push_back(&s);
  }
  if (parents.empty()) return out;
  Rng rng(MixKey(seed, 0x5EEDED));
  const auto [step_lo, step_hi] = Bounds(space, "step_size", 1e-12, 10);
  const auto [ep_lo, ep_hi] = Bounds(space, "epochs", 1, 10000);
  const auto [rate_lo, rate_hi] = Bounds(space, "issue_rate", 0, 1);
  const auto [size_lo, size_hi] = Bounds(space, "data_size", 0.01, 1);
  for (int64_t n = 0; static_cast<int64_t>(out.size()) < total; ++n) {
    const SeedTrial& parent = *parents[n % parents.size()];
    const v1::TrialParams& p = parent.params;
    v1::TrialParams q = p;
    q.set_step_size(std::clamp(p.step_size() * std::pow(spec.step_factor(), rng.Uniform(-1, 1)),
                               step_lo, step_hi));
    q.set_epochs(static_cast<int32_t>(std::clamp(
        std::round(p.epochs() * (1 + spec.epochs_spread() * rng.Uniform(-1, 1))), ep_lo, ep_hi)));
    if (p.issue_rate() >= 0) {
      q.set_issue_rate(
          std::clamp(p.issue_rate() + spec.mix_spread() * rng.Uniform(-1, 1), rate_lo, rate_hi));
    }
    q.set_data_size(
        std::clamp(p.data_size() + spec.mix_spread() * rng.Uniform(-1, 1), size_lo, size_hi));
    q.set_seed(rng.Next() >> 11);
    out.push_back({q, "neighbour", parent.trial_id});
  }
  return out;
}

}  // namespace sweepfarm::sweep

#include "coordinator/sweep/search_space.h"

#include <cmath>
#include <limits>

#include "common/rng.h"

namespace sweepfarm::sweep {
namespace {

void Set(v1::TrialParams* p, const std::string& name, double v) {
  if (name == "epochs") p->set_epochs(static_cast<int32_t>(v));
  if (name == "step_size") p->set_step_size(v);
  if (name == "issue_rate") p->set_issue_rate(v);
  if (name == "data_size") p->set_data_size(v);
  if (name == "seed") p->set_seed(static_cast<uint64_t>(v));
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

const std::vector<std::string>& SearchableParams() {
  static const auto* names =
      new std::vector<std::string>{"step_size", "issue_rate", "data_size", "seed", "epochs"};
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
      for (size_t a = 0; a < axes.size(); ++a) Set(&p, axes[a].first, axes[a].second[idx[a]]);
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
      const Domain& d = it->second;
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
      if (d.integer) v = std::round(v);
      Set(&p, name, v);
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace sweepfarm::sweep

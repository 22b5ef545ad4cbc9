#include "cli/importance.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

namespace sweepfarm::cli {
namespace {

// Ranks 1..n, ties given the average of the ranks they span.
std::vector<double> Ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double average = (static_cast<double>(i + j) / 2.0) + 1.0;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = average;
    i = j + 1;
  }
  return ranks;
}

}  // namespace

double Spearman(const std::vector<double>& x, const std::vector<double>& y) {
  const std::vector<double> rx = Ranks(x), ry = Ranks(y);
  const double n = static_cast<double>(rx.size());
  const double mx = std::accumulate(rx.begin(), rx.end(), 0.0) / n;
  const double my = std::accumulate(ry.begin(), ry.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 0.0;
}

std::vector<ParamEffect> ParamEffects(const std::vector<Observation>& obs, int max_groups) {
  std::set<std::string> names;
  for (const auto& o : obs) {
    for (const auto& [name, value] : o.params) names.insert(name);
  }
  std::vector<ParamEffect> out;
  for (const std::string& name : names) {
    std::vector<std::pair<double, double>> points;  // (value, score), trials that have it.
    for (const auto& o : obs) {
      auto it = o.params.find(name);
      if (it != o.params.end()) points.emplace_back(it->second, o.score);
    }
    std::sort(points.begin(), points.end());
    std::set<double> distinct;
    for (const auto& p : points) distinct.insert(p.first);
    if (distinct.size() < 2) continue;
    ParamEffect e;
    e.name = name;
    e.distinct = static_cast<int>(distinct.size());
    std::vector<double> x, y;
    for (const auto& p : points) {
      x.push_back(p.first);
      y.push_back(p.second);
    }
    e.spearman = Spearman(x, y);
    // Groups: one per value when there are at most max_groups values, else near-equal counts
    // with each boundary moved past equal values.
    const size_t n = points.size();
    const size_t k = std::min<size_t>(distinct.size(), static_cast<size_t>(max_groups));
    size_t begin = 0;
    for (size_t g = 0; g < k && begin < n; ++g) {
      size_t end = distinct.size() <= static_cast<size_t>(max_groups)
                       ? begin + 1
                       : std::max(begin + 1, (g + 1) * n / k);
      if (g + 1 == k) end = n;
      while (end < n && points[end].first == points[end - 1].first) ++end;
      ValueGroup group;
      group.min = points[begin].first;
      group.max = points[end - 1].first;
      group.trials = static_cast<int>(end - begin);
      double sum = 0;
      for (size_t i = begin; i < end; ++i) sum += points[i].second;
      group.mean_score = sum / group.trials;
      e.groups.push_back(group);
      begin = end;
    }
    for (size_t g = 1; g < e.groups.size(); ++g) {
      if (e.groups[g].mean_score > e.groups[e.best_group].mean_score)
        e.best_group = static_cast<int>(g);
    }
    out.push_back(std::move(e));
  }
  std::stable_sort(out.begin(), out.end(), [](const ParamEffect& a, const ParamEffect& b) {
    return std::fabs(a.spearman) > std::fabs(b.spearman);
  });
  return out;
}

std::vector<Observation> ObservationsOf(const std::vector<v1::Trial>& trials,
                                        bool* first_rung_only) {
  bool halving = false;
  for (const auto& t : trials) halving = halving || t.origin() == "promoted";
  std::vector<Observation> obs;
  for (const auto& t : trials) {
    if (t.state() != "succeeded" || (halving && t.rung() > 0)) continue;
    const auto& p = t.params();
    Observation o;
    o.params = {{"epochs", p.epochs()},
                {"step_size", p.step_size()},
                {"data_size", p.data_size()},
                {"seed", static_cast<double>(p.seed())}};
    if (p.issue_rate() >= 0) o.params["issue_rate"] = p.issue_rate();
    for (int i = 0; i < p.channels_size(); ++i) {
      o.params["channels[" + std::to_string(i) + "]"] = p.channels(i);
    }
    if (p.kernel_size() > 0) o.params["kernel_size"] = p.kernel_size();
    if (p.has_weight_decay()) o.params["weight_decay"] = p.weight_decay();
    if (p.has_smoothing()) o.params["smoothing"] = p.smoothing();
    o.score = t.result().selection_score();
    obs.push_back(std::move(o));
  }
  if (first_rung_only != nullptr) *first_rung_only = halving;
  return obs;
}

}  // namespace sweepfarm::cli

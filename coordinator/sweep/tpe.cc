#include "coordinator/sweep/tpe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace sweepfarm::sweep {
namespace {

// A value in a range's internal coordinates (log where the range is log), and back (clamped to
// the range, rounded for integers).
double Internal(const Domain& d, double v) { return d.log ? std::log(std::max(v, 1e-300)) : v; }
double External(const Domain& d, double x) {
  const double v = std::clamp(d.log ? std::exp(x) : x, d.min, d.max);
  return d.integer ? std::round(v) : v;
}

// The listed value nearest to v.
size_t Nearest(const Domain& d, double v) {
  size_t best = 0;
  for (size_t i = 1; i < d.values.size(); ++i) {
    if (std::abs(d.values[i] - v) < std::abs(d.values[best] - v)) best = i;
  }
  return best;
}

double NormalDensity(double x, double mu, double sigma) {
  const double z = (x - mu) / sigma;
  return std::exp(-0.5 * z * z) / (sigma * std::sqrt(2 * M_PI));
}

// The part of N(mu, sigma) inside [lo, hi], and a draw from it truncated there.
double TruncatedMass(double mu, double sigma, double lo, double hi) {
  auto cdf = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
  return std::max(cdf((hi - mu) / sigma) - cdf((lo - mu) / sigma), 1e-12);
}
double TruncatedNormal(Rng& rng, double mu, double sigma, double lo, double hi) {
  double x = mu;
  for (int tries = 0; tries < 100; ++tries) {
    x = mu + sigma * rng.Normal();
    if (x >= lo && x <= hi) break;
    x = std::clamp(x, lo, hi);
  }
  return x;
}

// A density over one parameter: a mixture over a range (internal coordinates: log where the range
// is log) or smoothed frequencies over listed values.
class Parzen {
 public:
  // `points`: the group's values of the parameter.
  Parzen(const Domain& d, const std::vector<double>& points, double prior_weight) : d_(d) {
    if (d.kind == Domain::kValues) {
      weights_.assign(d.values.size(), prior_weight);
      for (double v : points) {
        if (!std::isnan(v)) weights_[Nearest(d, v)] += 1;
      }
      double total = 0;
      for (double w : weights_) total += w;
      for (double& w : weights_) w /= total;
      return;
    }
    lo_ = Internal(d, d.min);
    hi_ = Internal(d, d.max);
    const double span = std::max(hi_ - lo_, 1e-12);
    // Components at the observations and the prior's at the middle; each one's width is its
    // larger gap to a neighbour (the bounds are neighbours at the ends), clipped to
    // [span / min(100, m + 1), span]; the prior is as wide as the range.
    std::vector<double> mus;
    for (double v : points) {
      if (!std::isnan(v)) mus.push_back(std::clamp(Internal(d, v), lo_, hi_));
    }
    std::sort(mus.begin(), mus.end());
    const double min_sigma = span / std::min(100.0, static_cast<double>(mus.size()) + 1);
    for (size_t i = 0; i < mus.size(); ++i) {
      const double left = mus[i] - (i == 0 ? lo_ : mus[i - 1]);
      const double right = (i + 1 == mus.size() ? hi_ : mus[i + 1]) - mus[i];
      Add(mus[i], std::clamp(std::max(left, right), min_sigma, span), 1.0);
    }
    Add((lo_ + hi_) / 2, span, prior_weight);
  }

  // A value drawn from the density (for listed values, one of them).
  double Sample(Rng& rng) const {
    if (d_.kind == Domain::kValues) {
      double u = rng.Uniform(), acc = 0;
      for (size_t i = 0; i < weights_.size(); ++i) {
        acc += weights_[i];
        if (u < acc) return d_.values[i];
      }
      return d_.values.back();
    }
    double u = rng.Uniform() * total_, acc = 0;
    size_t c = 0;
    for (; c + 1 < comps_.size(); ++c) {
      acc += comps_[c].weight;
      if (u < acc) break;
    }
    return External(d_, TruncatedNormal(rng, comps_[c].mu, comps_[c].sigma, lo_, hi_));
  }

  double LogDensity(double v) const {
    if (d_.kind == Domain::kValues) return std::log(weights_[Nearest(d_, v)]);
    const double x = std::clamp(Internal(d_, v), lo_, hi_);
    double p = 0;
    for (const auto& c : comps_) p += c.weight * NormalDensity(x, c.mu, c.sigma) / c.mass;
    return std::log(std::max(p / total_, std::numeric_limits<double>::min()));
  }

 private:
  struct Component {
    double mu, sigma, weight, mass;  // mass: the part of the Gaussian inside the range.
  };

  void Add(double mu, double sigma, double weight) {
    comps_.push_back({mu, sigma, weight, TruncatedMass(mu, sigma, lo_, hi_)});
    total_ += weight;
  }

  Domain d_;
  double lo_ = 0, hi_ = 0, total_ = 0;
  std::vector<Component> comps_;
  std::vector<double> weights_;
};

// The multivariate form: one density over all modelled parameters, a mixture of product
// kernels, one per observation, plus a uniform prior. On a range, a Gaussian in internal
// coordinates (log where the range is log) with Scott's-rule width 0.2 * n^(-1 / (D + 4)) of the
// range, as Optuna's multivariate sampler, truncated to the range; over listed values, half the
// mass on the observation's value and half spread evenly. A missing value (NaN: a seed whose
// channels are not among the choices) is uniform in its dimension.
class JointParzen {
 public:
  JointParzen(std::vector<const Domain*> dims, const std::vector<std::vector<double>>& points,
              double prior_weight)
      : dims_(std::move(dims)), prior_weight_(prior_weight) {
    const double n = static_cast<double>(std::max<size_t>(points.size(), 1));
    const double scott = 0.2 * std::pow(n, -1.0 / (static_cast<double>(dims_.size()) + 4));
    for (const Domain* d : dims_) {
      lo_.push_back(d->kind == Domain::kRange ? Internal(*d, d->min) : 0);
      hi_.push_back(d->kind == Domain::kRange ? Internal(*d, d->max) : 0);
      sigma_.push_back(std::max(scott * (hi_.back() - lo_.back()), 1e-12));
    }
    for (const auto& p : points) {
      std::vector<double> c(dims_.size()), mass(dims_.size(), 1);
      for (size_t j = 0; j < dims_.size(); ++j) {
        c[j] = std::isnan(p[j]) ? std::nan("")
               : dims_[j]->kind == Domain::kRange
                   ? std::clamp(Internal(*dims_[j], p[j]), lo_[j], hi_[j])
                   : static_cast<double>(Nearest(*dims_[j], p[j]));
        if (dims_[j]->kind == Domain::kRange && !std::isnan(c[j])) {
          mass[j] = TruncatedMass(c[j], sigma_[j], lo_[j], hi_[j]);
        }
      }
      centres_.push_back(std::move(c));
      masses_.push_back(std::move(mass));
    }
  }

  // A point (in the parameters' own values) drawn from the density.
  std::vector<double> Sample(Rng& rng) const {
    const double total = static_cast<double>(centres_.size()) + prior_weight_;
    const double u = rng.Uniform() * total;
    const std::vector<double>* c = nullptr;  // nullptr: the prior.
    if (u < static_cast<double>(centres_.size())) c = &centres_[static_cast<size_t>(u)];
    std::vector<double> x(dims_.size());
    for (size_t j = 0; j < dims_.size(); ++j) {
      const Domain& d = *dims_[j];
      const bool uniform = c == nullptr || std::isnan((*c)[j]);
      if (d.kind == Domain::kValues) {
        size_t k =
            static_cast<size_t>(rng.UniformInt(0, static_cast<int64_t>(d.values.size()) - 1));
        if (!uniform && rng.Uniform() < 0.5) k = static_cast<size_t>((*c)[j]);
        x[j] = d.values[k];
        continue;
      }
      double v = rng.Uniform(lo_[j], hi_[j]);
      if (!uniform) v = TruncatedNormal(rng, (*c)[j], sigma_[j], lo_[j], hi_[j]);
      x[j] = External(d, v);
    }
    return x;
  }

  double LogDensity(const std::vector<double>& x) const {
    std::vector<double> in(dims_.size());
    double uniform = 1;  // The prior's density, and each kernel's in a missing dimension.
    std::vector<double> flat(dims_.size());
    for (size_t j = 0; j < dims_.size(); ++j) {
      const Domain& d = *dims_[j];
      in[j] = d.kind == Domain::kRange ? std::clamp(Internal(d, x[j]), lo_[j], hi_[j])
                                       : static_cast<double>(Nearest(d, x[j]));
      flat[j] = d.kind == Domain::kRange ? 1 / std::max(hi_[j] - lo_[j], 1e-12)
                                         : 1 / static_cast<double>(d.values.size());
      uniform *= flat[j];
    }
    double p = prior_weight_ * uniform;
    for (size_t i = 0; i < centres_.size(); ++i) {
      const std::vector<double>& c = centres_[i];
      double k = 1;
      for (size_t j = 0; j < dims_.size(); ++j) {
        const Domain& d = *dims_[j];
        if (std::isnan(c[j])) {
          k *= flat[j];
        } else if (d.kind == Domain::kValues) {
          k *= 0.5 * (in[j] == c[j]) + 0.5 * flat[j];
        } else {
          k *= NormalDensity(in[j], c[j], sigma_[j]) / masses_[i][j];
        }
      }
      p += k;
    }
    return std::log(std::max(p / (static_cast<double>(centres_.size()) + prior_weight_),
                             std::numeric_limits<double>::min()));
  }

 private:
  std::vector<const Domain*> dims_;
  double prior_weight_;
  std::vector<double> lo_, hi_, sigma_;
  std::vector<std::vector<double>> centres_;  // Internal coordinates; value indices.
  std::vector<std::vector<double>> masses_;   // Each range kernel's part inside its range.
};

}  // namespace

int64_t TpeGoodCount(int64_t n) {
  return std::clamp<int64_t>((n + 9) / 10, std::min<int64_t>(n, 1), 25);
}

std::vector<v1::TrialParams> ProposeTpe(const SearchSpace& space,
                                        const std::vector<Observation>& observations, int64_t n,
                                        uint64_t seed_key, const TpeOptions& options) {
  Rng rng(MixKey(seed_key, 0x7BE));
  std::vector<const Observation*> sorted;
  for (const auto& o : observations) sorted.push_back(&o);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Observation* a, const Observation* b) { return a->score > b->score; });
  const int64_t good = TpeGoodCount(static_cast<int64_t>(sorted.size()));

  // The modelled parameters: those the space varies, except the seed.
  struct Model {
    std::string name;
    Parzen l, g;
  };
  std::vector<Model> models;
  for (const auto& name : SearchableParams()) {
    auto it = space.params.find(name);
    if (it == space.params.end() || name == "seed") continue;
    const Domain& d = it->second;
    if (d.kind == Domain::kValues ? d.values.size() < 2 : !(d.max > d.min)) continue;
    std::vector<double> below, above;
    for (size_t i = 0; i < sorted.size(); ++i) {
      (static_cast<int64_t>(i) < good ? below : above)
          .push_back(Get(space, sorted[i]->params, name));
    }
    models.push_back(
        {name, Parzen(d, below, options.prior_weight), Parzen(d, above, options.prior_weight)});
  }

  std::optional<JointParzen> joint_l, joint_g;
  if (options.multivariate && !models.empty()) {
    std::vector<const Domain*> dims;
    for (const auto& m : models) dims.push_back(&space.params.at(m.name));
    std::vector<std::vector<double>> below, above;
    for (size_t i = 0; i < sorted.size(); ++i) {
      std::vector<double> x;
      for (const auto& m : models) x.push_back(Get(space, sorted[i]->params, m.name));
      (static_cast<int64_t>(i) < good ? below : above).push_back(std::move(x));
    }
    joint_l.emplace(dims, below, options.prior_weight);
    joint_g.emplace(dims, above, options.prior_weight);
  }

  std::vector<v1::TrialParams> out;
  for (int64_t k = 0; k < n; ++k) {
    // Parameters outside the model: drawn as random search draws them.
    v1::TrialParams p = Defaults();
    for (const auto& name : SearchableParams()) {
      if (auto it = space.params.find(name); it != space.params.end()) {
        Set(space, &p, name, Draw(it->second, rng));
      }
    }
    if (!sorted.empty()) {
      double best = -std::numeric_limits<double>::infinity();
      std::vector<double> chosen(models.size());
      for (int c = 0; c < std::max(1, options.candidates); ++c) {
        std::vector<double> x(models.size());
        double score = 0;
        if (joint_l) {
          x = joint_l->Sample(rng);
          score = joint_l->LogDensity(x) - joint_g->LogDensity(x);
        } else {
          for (size_t m = 0; m < models.size(); ++m) {
            x[m] = models[m].l.Sample(rng);
            score += models[m].l.LogDensity(x[m]) - models[m].g.LogDensity(x[m]);
          }
        }
        if (score > best) {
          best = score;
          chosen = x;
        }
      }
      for (size_t m = 0; m < models.size(); ++m) Set(space, &p, models[m].name, chosen[m]);
    }
    out.push_back(p);
  }
  return out;
}

}  // namespace sweepfarm::sweep

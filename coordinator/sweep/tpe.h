// Model-based search (search.method: tpe): the Tree-structured Parzen Estimator of Bergstra et
// al. (2011), in the independent form that is Optuna's default sampler, proposing a round of
// trials at a time so that a fused worker still gets bundles. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "coordinator/sweep/search_space.h"
#include "sweepfarm/v1/sweep.pb.h"

namespace sweepfarm::sweep {

// A finished trial: its parameters and its objective (higher is better: selection accuracy).
struct Observation {
  v1::TrialParams params;
  double score = 0;
};

struct TpeOptions {
  int candidates = 24;  // Draws from the good trials' density per proposal; the best ratio wins.
  double prior_weight = 1;  // Weight of the uniform prior beside each group's observations.
  // search.multivariate: one joint density over all modelled parameters (a kernel per
  // observation), so that interactions between parameters are modelled; false: one density per
  // parameter, as Optuna's default.
  bool multivariate = false;
};

inline TpeOptions TpeOptionsFor(const v1::SweepSpec& spec) {
  TpeOptions o;
  o.multivariate = spec.tpe_multivariate();
  return o;
}

// Rounds of a TPE sweep of `budget` trials, `round_size` at a time (the first drawn at random).
inline int TpeRounds(int64_t budget, int32_t round_size) {
  return round_size <= 0 ? 0 : static_cast<int>((budget + round_size - 1) / round_size);
}

// The good trials of n observations: the best ceil(n / 10), at most 25 (Optuna's gamma), at
// least 1.
int64_t TpeGoodCount(int64_t n);

// Proposes `n` trials in `space` from the observations: the best TpeGoodCount of them make the
// density l(x), the rest g(x), each parameter on its own (a Parzen mixture of truncated Gaussians
// on the range, on a log scale where the range is log, or smoothed frequencies over listed
// values, each with a uniform prior; or, with options.multivariate, one joint density of
// product kernels, one per observation); every proposal is the best l/g ratio among
// options.candidates draws from l. The `seed` parameter is drawn at random (a seed is not a
// hyperparameter to model). Deterministic in `seed_key`; with no observations, random draws.
std::vector<v1::TrialParams> ProposeTpe(const SearchSpace& space,
                                        const std::vector<Observation>& observations, int64_t n,
                                        uint64_t seed_key, const TpeOptions& options = {});

}  // namespace sweepfarm::sweep

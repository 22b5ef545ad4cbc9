// Which parameters mattered in a sweep: for each parameter that varied, the rank correlation
// (Spearman, ties averaged) of its value with the objective, and the objective's mean over groups
// of trials by the parameter's value (one group per value, or quantile groups). Pure functions;
// what `sweepctl importance` prints and the dashboard's sweep page draws.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sweepfarm/v1/sweep.pb.h"

namespace sweepfarm::cli {

struct Observation {
  std::map<std::string, double> params;
  double score = 0;  // The objective (selection accuracy).
};

struct ValueGroup {
  double min = 0, max = 0;  // The parameter's values in the group.
  int trials = 0;
  double mean_score = 0;
};

struct ParamEffect {
  std::string name;
  int distinct = 0;                // Distinct values tried.
  double spearman = 0;             // In [-1, 1]; 0 when the score does not vary.
  std::vector<ValueGroup> groups;  // By increasing value.
  int best_group = 0;              // The group with the highest mean score.
};

// Spearman's rank correlation of x and y (same size, >= 2), ties given their average rank.
double Spearman(const std::vector<double>& x, const std::vector<double>& y);

// The effect of every parameter that takes at least two values in `obs`, strongest |spearman|
// first; `max_groups` (>= 2) quantile groups, or one per value when there are that few. Equal
// values always share a group.
std::vector<ParamEffect> ParamEffects(const std::vector<Observation>& obs, int max_groups = 4);

// A sweep's succeeded trials as observations: every numeric parameter (each convolution's width on
// its own, so that wider-is-better shows as a trend; weight decay and smoothing where a trial has
// them), scored by the sweep's objective (selection_score). A halving sweep's later rungs hold the
// trials its first rung promoted, not a sample of the space, so only its first rung counts
// (*first_rung_only says so; a TPE sweep's later rounds are new configurations and all count, as
// in Optuna's importance).
std::vector<Observation> ObservationsOf(const std::vector<v1::Trial>& trials,
                                        bool* first_rung_only);

}  // namespace sweepfarm::cli

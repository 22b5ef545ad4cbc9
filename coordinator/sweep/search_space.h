// Search spaces over trial parameters and their expansion into trials (grid or random).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/rng.h"
#include "common/status.h"
#include "sweepfarm/v1/sweep.pb.h"

namespace sweepfarm::sweep {

// The parameters a search space may range over, in expansion order: the architecture's first (so
// that a grid's trials of one architecture are adjacent and fuse into bundles), epochs last (so
// that trials differing only in epochs are adjacent, leased together and trained as one model
// slot).
const std::vector<std::string>& SearchableParams();

struct Domain {
  enum Kind { kValues, kRange } kind = kValues;
  std::vector<double> values;  // kValues: the choices, in the order given.
  double min = 0, max = 0;     // kRange: inclusive bounds.
  bool log = false;            // kRange: sample/space on a log scale.
  int64_t steps = 0;           // kRange on a grid: points from min to max.
  bool integer = false;        // Rounded to integers (epochs, seed).
};

struct SearchSpace {
  std::map<std::string, Domain> params;  // Keyed by name from SearchableParams().
  // search.space.channels: the listed channel lists. Its Domain's values are their indices (a
  // categorical parameter); Set and Get translate.
  std::vector<std::vector<int32_t>> channel_choices;
  // search.space.architecture: the listed architecture kinds, as channel_choices are.
  std::vector<std::string> architecture_choices;
  // search.space.optimizer: the listed optimizers, likewise.
  std::vector<std::string> optimizer_choices;
};

// A trial parameter by name (SearchableParams()) as a number: for `channels`, the index of the
// trial's channel list in space.channel_choices. Get returns NaN for an architecture parameter
// the trial does not set, or channels that are not among the choices (a seed from another sweep).
void Set(const SearchSpace& space, v1::TrialParams* p, const std::string& name, double v);
double Get(const SearchSpace& space, const v1::TrialParams& p, const std::string& name);
// The parameters a space leaves unset.
v1::TrialParams Defaults();

// The architecture a trial trains: the sweep's, with the trial's searched channels and kernel
// size in place of the sweep's; or, for a trial of another kind than the sweep's (a searched
// `architecture`), that kind with its defaults.
v1::ArchitectureSpec TrialArchitecture(const v1::ArchitectureSpec& sweep, const v1::TrialParams& p);
// One value of the domain at random: a listed value, or uniform (log-uniform) in the range.
double Draw(const Domain& d, Rng& rng);

// Number of grid points (saturates at INT64_MAX); errors for ranges without steps.
StatusOr<int64_t> GridSize(const SearchSpace& space);

// Grid: the Cartesian product, last parameter fastest. Random: `budget` independent draws seeded
// by `seed`. Parameters the space does not mention take their defaults.
StatusOr<std::vector<v1::TrialParams>> Expand(const SearchSpace& space, const std::string& method,
                                              int64_t budget, uint64_t seed);

// A past trial a seeded sweep starts from.
struct SeedTrial {
  int64_t trial_id = 0;
  v1::TrialParams params;
};

struct SeededTrial {
  v1::TrialParams params;
  std::string origin;  // "seed" or "neighbour".
  int64_t parent_trial_id = 0;
};

// A seeded sweep's trials: the seeds' parameters first (duplicates dropped, seeds kept, so a
// re-run reproduces its parent on the same data), then neighbours of the seeds in turn until
// `total`. A neighbour of p: step_size = p.step_size * f^u, epochs = round(p.epochs * (1 + e u')),
// issue_rate and data_size = p's + m u'' (a natural mix stays natural), u, u', u'' uniform in
// [-1, 1], f = step_factor, e = epochs_spread, m = mix_spread; each value clamped to the sweep's
// space for that parameter (its range, or the span of its listed values) and to the parameter's
// valid range; a fresh seed. Deterministic in `seed`.
std::vector<SeededTrial> SeedAndNeighbours(const SearchSpace& space,
                                           const std::vector<SeedTrial>& seeds,
                                           const v1::SeedSpec& spec, int64_t total, uint64_t seed);

}  // namespace sweepfarm::sweep

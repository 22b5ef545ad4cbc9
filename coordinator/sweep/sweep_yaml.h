// Parses and strictly validates sweep definitions (YAML v1, documented in sweeps/README.md).
// Errors name the file, line, column and field, and say what would be valid. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "coordinator/sweep/search_space.h"
#include "sweepfarm/v1/sweep.pb.h"

namespace sweepfarm::sweep {

struct ParsedSweep {
  v1::SweepSpec spec;
  SearchSpace space;
  uint64_t search_seed = 1;
  std::vector<v1::TrialParams> trials;  // The expanded search space (halving: the first rung).
  int64_t planned_trials = 0;  // Trials the sweep trains if all succeed (halving: every rung).
  std::string spec_hash;       // Over the canonical spec and trials, not the YAML text.
};

// Largest number of trials one sweep may hold.
constexpr int64_t kMaxTrials = 1'000'000;

// Sweep, model and alias names: 1-64 letters, digits, '.', '_' or '-', starting with a letter or
// digit (the registry's alias CHECK in db/migrations/0005 says the same).
bool IsValidName(const std::string& name);

StatusOr<ParsedSweep> ParseSweepYaml(const std::string& text, const std::string& source_name);

}  // namespace sweepfarm::sweep

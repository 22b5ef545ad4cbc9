// Parses and strictly validates sweep definitions (YAML v1, documented in sweeps/README.md).
// Errors name the file, line, column and field, and say what would be valid. Thread-safe.
#pragma once

#include <functional>
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

// What a sweep's data set reference resolves to: the stored version it trains on.
struct DatasetInfo {
  int32_t version = 0;
  std::string sha256;
  std::vector<int64_t> shape;  // One sample, channels first.
  std::vector<std::string> classes;
};

// Resolves the `dataset` section as parsed (name, and params, version or latest) to a stored
// version: the coordinator's data sets (coordinator/data/), which also store a built-in's data
// on first use. Its error is reported at the section's line.
using DatasetResolver = std::function<StatusOr<DatasetInfo>(const v1::DatasetSpec& requested)>;

// Without a resolver, only built-in data sets are accepted and nothing is resolved (their shape
// and classes come from the catalogue; version and sha256 stay empty).
StatusOr<ParsedSweep> ParseSweepYaml(const std::string& text, const std::string& source_name,
                                     const DatasetResolver* resolver = nullptr);

// A resolver that trusts the resolution a stored spec already carries (re-reading a sweep's own
// YAML for its search space).
DatasetResolver ResolvedAs(const v1::DatasetSpec& stored);

}  // namespace sweepfarm::sweep

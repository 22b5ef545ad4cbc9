// Successive halving (Jamieson and Talwalkar, 2016): a sweep trains rung after rung with more
// epochs each time, and only the best of each rung go on. The plan's arithmetic, shared by the
// sweep parser (which sizes the sweep) and the store (which promotes trials as rungs end).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace sweepfarm::sweep {

// The trials promoted from a rung of `n`: the best max(1, floor(n / eta)) (none from none).
inline int64_t NextRungSize(int64_t n, int eta) {
  return n <= 0 ? 0 : std::max<int64_t>(1, n / eta);
}

// The trials of rungs `first` .. `rungs` - 1 when rung `first` has `n` and every trial succeeds.
inline int64_t PlannedTrials(int64_t n, int eta, int first, int rungs) {
  int64_t total = 0;
  for (int k = first; k < rungs; ++k) {
    total += n;
    n = NextRungSize(n, eta);
  }
  return total;
}

// Rung epochs from a range: min, min * eta, min * eta^2, ... while below max, then max.
inline std::vector<int32_t> GeometricRungs(int32_t min, int32_t max, int eta) {
  std::vector<int32_t> out;
  for (int64_t e = min; e < max; e *= eta) out.push_back(static_cast<int32_t>(e));
  out.push_back(max);
  return out;
}

}  // namespace sweepfarm::sweep

// Balanced accuracy from per-class counts, shared by the engine (on its evaluation counts) and
// the coordinator (on stored or averaged predictions), so that both mean the same number.
#pragma once

#include <cstdint>
#include <vector>

namespace sweepfarm {

// The mean over the classes with samples (support > 0) of correct / support: the mean per-class
// recall. 0 if no class has samples. `correct` and `support` are indexed by class.
double BalancedAccuracy(const std::vector<int64_t>& correct, const std::vector<int64_t>& support);

}  // namespace sweepfarm

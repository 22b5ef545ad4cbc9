#include "common/recall.h"

#include <cstddef>

namespace sweepfarm {

double BalancedAccuracy(const std::vector<int64_t>& correct, const std::vector<int64_t>& support) {
  double sum = 0;
  int present = 0;
  for (std::size_t c = 0; c < support.size() && c < correct.size(); ++c) {
    if (support[c] == 0) continue;
    sum += static_cast<double>(correct[c]) / static_cast<double>(support[c]);
    ++present;
  }
  return present > 0 ? sum / present : 0.0;
}

}  // namespace sweepfarm

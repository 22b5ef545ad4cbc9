#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

#include "common/rng.h"

namespace sweepfarm::engine {
namespace {

constexpr int64_t Signed(uint64_t v) { return static_cast<int64_t>(v); }

// Logical right shift of int64 lanes.
torch::Tensor Shr(const torch::Tensor& x, int64_t s) {
  return torch::bitwise_and(x.__rshift__(s), Signed((~0ULL) >> s));
}

}  // namespace

torch::Tensor SplitMix64Tensor(const torch::Tensor& x0) {
  torch::Tensor z = x0 + Signed(0x9E3779B97F4A7C15ULL);
  z = torch::bitwise_xor(z, Shr(z, 30)) * Signed(0xBF58476D1CE4E5B9ULL);
  z = torch::bitwise_xor(z, Shr(z, 27)) * Signed(0x94D049BB133111EBULL);
  return torch::bitwise_xor(z, Shr(z, 31));
}

StatusOr<IndexSampler> IndexSampler::Create(const Split& train, bool binary, int64_t batch_size,
                                            const std::vector<MixConfig>& mixes,
                                            const torch::Device& device) {
  const int64_t n = train.size();
  const int64_t K = static_cast<int64_t>(mixes.size());
  torch::Tensor labels = train.y.to(torch::kCPU).contiguous();
  const int64_t* y = labels.data_ptr<int64_t>();
  IndexSampler s;
  s.batch_ = batch_size;
  std::vector<std::vector<int64_t>> pos(K), neg(K);
  std::vector<int64_t> keys(K), thresholds(K);
  std::vector<int64_t> perm(n);
  for (int64_t k = 0; k < K; ++k) {
    const MixConfig& m = mixes[k];
    if (!(m.data_size > 0 && m.data_size <= 1)) {
      return InvalidArgumentError("data_size must be in (0, 1], got " +
                                  std::to_string(m.data_size));
    }
    int64_t subset = std::max<int64_t>(1, std::llround(m.data_size * n));
    // Seeded partial Fisher-Yates: the subset is the first `subset` of a permutation.
    for (int64_t i = 0; i < n; ++i) perm[i] = i;
    Rng rng(MixKey(m.seed, 0x5B5E7));
    for (int64_t i = 0; i < subset; ++i) {
      int64_t j = i + static_cast<int64_t>(rng.Next() % static_cast<uint64_t>(n - i));
      std::swap(perm[i], perm[j]);
    }
    for (int64_t i = 0; i < subset; ++i) {
      int64_t idx = perm[i];
      (binary && y[idx] == 0 ? neg[k] : pos[k]).push_back(idx);
    }
    double rate = 1.0;  // Non-binary: every sample is in the "pos" pool.
    if (binary) {
      rate = m.issue_rate >= 0 ? m.issue_rate : static_cast<double>(pos[k].size()) / subset;
      if (m.issue_rate > 1) return InvalidArgumentError("issue_rate must be in [0, 1]");
      if (rate > 0 && pos[k].empty()) {
        return InvalidArgumentError("issue_rate " + std::to_string(rate) +
                                    " but the data subset holds no issue samples");
      }
      if (rate < 1 && neg[k].empty()) {
        return InvalidArgumentError("issue_rate " + std::to_string(rate) +
                                    " but the data subset holds no no-issue samples");
      }
    }
    thresholds[k] = std::llround(rate * (1 << 24));
    keys[k] = Signed(MixKey(m.seed, 0x1D5EED));
    s.subset_sizes_.push_back(subset);
  }
  auto pad = [&](const std::vector<std::vector<int64_t>>& pools, torch::Tensor* pool,
                 torch::Tensor* len) {
    size_t width = 1;
    for (const auto& p : pools) width = std::max(width, p.size());
    torch::Tensor t = torch::zeros({K, static_cast<int64_t>(width)}, torch::kInt64);
    torch::Tensor l = torch::empty({K, 1}, torch::kInt64);
    for (int64_t k = 0; k < K; ++k) {
      std::copy(pools[k].begin(), pools[k].end(), t[k].data_ptr<int64_t>());
      l[k][0] = std::max<int64_t>(1, static_cast<int64_t>(pools[k].size()));
    }
    *pool = t.to(device);
    *len = l.to(device);
  };
  pad(pos, &s.pos_pool_, &s.pos_len_);
  pad(neg, &s.neg_pool_, &s.neg_len_);
  s.keys_ = torch::tensor(keys, torch::kInt64).view({K, 1}).to(device);
  s.threshold_ = torch::tensor(thresholds, torch::kInt64).view({K, 1}).to(device);
  s.lanes_ = torch::arange(batch_size, torch::kInt64).view({1, batch_size}).to(device);
  return s;
}

torch::Tensor IndexSampler::Indices(const torch::Tensor& step) const {
  // key + step * A + lane * C, hashed: an independent uniform 64-bit value per (model, step, lane).
  return Pick(keys_ + step * Signed(0xD1342543DE82EF95ULL) +
              lanes_ * Signed(0x2545F4914F6CDD1DULL));
}

torch::Tensor IndexSampler::IndicesForSteps(int64_t first, int64_t n) const {
  torch::Tensor steps = torch::arange(first, first + n, keys_.options()).view({n, 1, 1});
  return Pick(keys_.unsqueeze(0) + steps * Signed(0xD1342543DE82EF95ULL) +
              lanes_.unsqueeze(0) * Signed(0x2545F4914F6CDD1DULL));
}

torch::Tensor IndexSampler::Pick(const torch::Tensor& key) const {
  const bool many = key.dim() == 3;  // [n, K, B]: per-model tensors gain a leading step axis.
  auto per_model = [&](const torch::Tensor& t) {
    return many ? t.unsqueeze(0).expand({key.size(0), t.size(0), t.size(1)}) : t;
  };
  torch::Tensor z = SplitMix64Tensor(key);
  torch::Tensor pick_issue = Shr(z, 40) < per_model(threshold_);
  torch::Tensor r = Shr(SplitMix64Tensor(torch::bitwise_xor(z, Signed(0x5851F42D4C957F2DULL))), 1);
  const int64_t dim = key.dim() - 1;
  torch::Tensor from_pos =
      per_model(pos_pool_).gather(dim, torch::remainder(r, per_model(pos_len_)));
  torch::Tensor from_neg =
      per_model(neg_pool_).gather(dim, torch::remainder(r, per_model(neg_len_)));
  return torch::where(pick_issue, from_pos, from_neg);
}

}  // namespace sweepfarm::engine

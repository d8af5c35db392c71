#include "embforge/noise_table.h"

#include <cmath>

#include "embforge/check.h"
#include "embforge/word2vec_math.h"

namespace embforge {

AliasTable build_alias_table(const double* weights, int64_t n) {
  EMBFORGE_CHECK(n > 0 && n < (int64_t{1} << 32), "alias table size must be in [1, 2^32), got ", n);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    EMBFORGE_CHECK(std::isfinite(weights[i]) && weights[i] >= 0.0, "noise weight ", i,
                   " must be finite and >= 0, got ", weights[i]);
    total += weights[i];
  }
  EMBFORGE_CHECK(total > 0.0, "noise weights sum to zero");

  // Vose: scaled probabilities n * p_i; pair each small column with a large one.
  std::vector<double> scaled(n);
  std::vector<uint32_t> small, large;
  for (int64_t i = 0; i < n; ++i) {
    scaled[i] = weights[i] * static_cast<double>(n) / total;
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
  }
  AliasTable table;
  table.keep.assign(n, 0xFFFFFFFFu);
  table.alias.resize(n);
  for (int64_t i = 0; i < n; ++i) table.alias[i] = static_cast<uint32_t>(i);
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back(), l = large.back();
    small.pop_back();
    table.keep[s] = static_cast<uint32_t>(std::min(scaled[s] * 4294967296.0, 4294967295.0));
    table.alias[s] = l;
    scaled[l] -= 1.0 - scaled[s];
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Leftovers are 1 up to rounding: always keep them (keep stays 2^32 - 1).
  return table;
}

std::vector<uint32_t> subsampling_thresholds(const int64_t* counts, int64_t n, double sample) {
  EMBFORGE_CHECK(std::isfinite(sample) && sample >= 0.0, "sample must be >= 0, got ", sample);
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(counts[i]);
  std::vector<uint32_t> thresholds(n);
  for (int64_t i = 0; i < n; ++i)
    thresholds[i] = w2v::keep_threshold(w2v::keep_probability(counts[i], total, sample));
  return thresholds;
}

}  // namespace embforge

// Sampling tables built once per vocabulary and shared by every backend.
#pragma once

#include <cstdint>
#include <vector>

namespace embforge {

// Vose's alias table for P(i) proportional to weights[i]: O(1) draws with
// alias_draw (random.h) instead of word2vec.c's 100M-entry table or a binary
// search over cumulative counts.
struct AliasTable {
  std::vector<uint32_t> keep;   // probability * 2^32 of keeping column i
  std::vector<uint32_t> alias;  // the other outcome of column i
};
AliasTable build_alias_table(const double* weights, int64_t n);

// Per-word subsampling thresholds (w2v::keep_threshold) for counts[i]; a
// `sample` of 0 keeps every word.
std::vector<uint32_t> subsampling_thresholds(const int64_t* counts, int64_t n, double sample);

}  // namespace embforge

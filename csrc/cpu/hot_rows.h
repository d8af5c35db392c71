// Thread-private copies of the most frequent words' rows.
//
// Under Hogwild, the rows of the most frequent words are written by every
// thread many times a millisecond, and each write invalidates the other
// cores' copy of those cache lines. With 2 threads CBOW spent about a third of
// its time waiting on these coherence misses (2 processes training their own
// models ran at full speed each; 2 threads sharing one model did not).
//
// So each thread trains the first `n_hot` rows (ids are sorted by frequency,
// so these are the hottest) in a private copy and merges what it changed every
// few thousand words:  shared += private - base;  private = base = shared.
// Other threads see a change at most one merge interval late: the same kind
// of staleness Hogwild already accepts, only longer for a few hundred rows.
// Two threads merging the same element at the same instant can lose one
// interval's change to it (as Hogwild can lose one update); merges are short
// and rare, so that is as benign here.
//
// How late is "one merge interval" depends on the number of threads: between
// two merges of one thread, each of the W - 1 others merges an interval's
// changes too, all computed from rows as they were at their last merge, and
// the merges add them up. A hot row's private copy settles within an interval
// (it is trained hundreds of times), so W such changes summed overshoot it
// W-fold: every 4,096 ids a thread, skip-gram on the bench corpus diverged
// in its first epoch with 8 and 16 threads (2 and 4 trained). So the interval
// shrinks as threads are added (hot_merge_interval): about 8,192 ids of all
// threads' work between a thread's merges, what 2 threads at 4,096 measured
// (bench/RESULTS.md).
#pragma once

#include <algorithm>
#include <cstdint>

#include "embforge/simd.h"
#include "line_array.h"

namespace embforge {

// One merge of n private values into the shared ones, as described above:
// shared += private - base; private = base = shared.
EMBFORGE_INLINE void merge_private(float* __restrict shared, float* __restrict local,
                                   float* __restrict base, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; ++i) {
    const float value = shared[i] + (local[i] - base[i]);
    shared[i] = value;
    local[i] = value;
    base[i] = value;
  }
}

// Ids each of `workers` threads trains between merges of its private rows
// (see above): 8,192 / workers, at least kMinHotMerge (a merge rewrites
// 2 x 64 rows: more often than every few hundred ids it would cost more
// than the coherence misses it saves).
constexpr int64_t kHotMergeIds = 8192;
constexpr int64_t kMinHotMerge = 256;
inline int64_t hot_merge_interval(int workers) {
  return std::max<int64_t>(kMinHotMerge, kHotMergeIds / std::max(1, workers));
}

class HotRows {
 public:
  HotRows(float* shared, int64_t n_hot, int dim)
      : shared_(shared), n_hot_(static_cast<uint32_t>(n_hot)), dim_(dim),
        local_(static_cast<size_t>(n_hot) * dim), base_(static_cast<size_t>(n_hot) * dim) {
    std::copy(shared, shared + local_.size(), local_.data());
    std::copy(shared, shared + local_.size(), base_.data());
  }

  // The row this thread reads and writes for `id`.
  EMBFORGE_INLINE float* row(uint32_t id) {
    return (id < n_hot_ ? local_.data() : shared_) + static_cast<int64_t>(id) * dim_;
  }
  EMBFORGE_INLINE bool hot(uint32_t id) const { return id < n_hot_; }

  // Publishes this thread's changes since the last merge and takes the others'.
  EMBFORGE_INLINE void merge() { merge_private(shared_, local_.data(), base_.data(), local_.size()); }

 private:
  float* shared_;
  uint32_t n_hot_;
  int dim_;
  LineArray<float> local_;  // this thread's rows, written every window
  LineArray<float> base_;   // the shared rows as of the last merge
};

}  // namespace embforge

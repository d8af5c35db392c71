// Finding the sentence that holds a stream position (offsets as in
// CorpusView: sentence s is [offsets[s], offsets[s + 1])).
#pragma once

#include <cstdint>

#include "embforge/hd.h"

namespace embforge::cuda {

// The last s with offsets[s] <= p, for 0 <= p < offsets[n_sentences].
EMBFORGE_HD int64_t sentence_of(const int64_t* offsets, int64_t n_sentences, int64_t p) {
  int64_t lo = 0, hi = n_sentences;  // offsets[lo] <= p < offsets[hi]
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (offsets[mid] <= p) lo = mid; else hi = mid;
  }
  return lo;
}

}  // namespace embforge::cuda

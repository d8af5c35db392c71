// The encoded corpus as every backend reads it: a flat stream of word ids cut
// into sentences. Shared by word2vec.h and cooccur.h.
#pragma once

#include <cstdint>

namespace embforge {

// Sentence s is ids[offsets[s] .. offsets[s+1]); offsets has n_sentences + 1
// entries, offsets[0] = 0 and offsets[n_sentences] = n_ids. The pointers are
// host memory for the CPU backend and device memory for the CUDA one.
struct CorpusView {
  const uint32_t* ids = nullptr;
  int64_t n_ids = 0;
  const int64_t* offsets = nullptr;
  int64_t n_sentences = 0;
};

}  // namespace embforge

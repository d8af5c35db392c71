// Co-occurrence pairs on the GPU: what one stream position contributes, and
// the key/value encoding, shared by the CUDA kernels and the CPU emulation.
//
// Each position i emits its right-context pairs only: for d in [1, window],
// key (a = ids[i], b = ids[i + d]) with the weight w(d) in fixed point
// (cooccur.h), or an empty slot when i + d leaves the sentence. Summing those
// gives L[a][b], "a is the left context of b"; the symmetric matrix is
// L + L^T, formed once at the end from the (much smaller) summed L instead
// of doubling every position's pairs. A key is a * vocab + b; empty slots
// hold vocab * vocab, which sorts after every real key.
//
// Sums are integers (fixed point), so the result does not depend on the
// order of additions: it is the CPU backend's result bit for bit.
//
// Speed variants (launch.h, off by default until a GPU has measured them):
//   kNarrowKeys    keys are uint32 when vocab * vocab < 2^32 (the empty key
//                  included: vocab <= 65535): half the key bytes each sort and
//                  merge pass moves; the result is widened to uint64 at the end.
//   kCompactPairs  each position writes only its real pairs, packed after the
//                  other positions' (a block-wide prefix sum and one atomic
//                  per block), so the sort never sees an empty slot; entries
//                  land in an order that depends on the blocks' timing, which
//                  the sort and the integer sums make irrelevant.
#pragma once

#include <cstdint>

#include "embforge/cooccur.h"
#include "embforge/hd.h"

namespace embforge::cuda {

// What the pair kernel reads, built from the contract (cooccur.h) by
// cooccur_args.
struct CooccurArgs {
  const uint32_t* ids = nullptr;
  const int64_t* offsets = nullptr;
  int64_t n_ids = 0;
  int64_t n_sentences = 0;
  int64_t vocab_size = 0;
  int window = 10;
  bool distance_weighting = true;
  int fraction_bits = 0;
};

inline CooccurArgs cooccur_args(const CooccurParams& params, const CorpusView& corpus,
                                int64_t vocab_size) {
  CooccurArgs a;
  a.ids = corpus.ids;
  a.offsets = corpus.offsets;
  a.n_ids = corpus.n_ids;
  a.n_sentences = corpus.n_sentences;
  a.vocab_size = vocab_size;
  a.window = params.window;
  a.distance_weighting = params.distance_weighting;
  a.fraction_bits = cooc::resolve_fraction_bits(params, corpus.n_ids);
  return a;
}

EMBFORGE_HD uint64_t cooc_empty_key(int64_t vocab) {
  return static_cast<uint64_t>(vocab) * static_cast<uint64_t>(vocab);
}

// Whether every key and the empty key fit 32 bits (kNarrowKeys).
EMBFORGE_HD bool cooc_narrow_fits(int64_t vocab) { return cooc_empty_key(vocab) <= 0xFFFFFFFFull; }

// Real pairs position i emits: its right neighbours within the window and
// the sentence.
EMBFORGE_HD int cooc_pair_count(const CooccurArgs& a, int64_t i, int64_t sentence_end) {
  const int64_t right = sentence_end - i - 1;
  return right <= 0 ? 0 : (right < a.window ? static_cast<int>(right) : a.window);
}

// Position i's pairs as keys of type Key (uint64_t, or uint32_t when
// cooc_narrow_fits). Slots: all `window`, slot d-1 at keys[(d - 1) *
// slot_stride] (so neighbouring positions write neighbouring slots), empty
// ones holding the empty key; compact: only the real pairs, pair k at
// keys[k * slot_stride]. `sentence_end` is the end of i's sentence. Returns
// the number of real pairs written.
template <class Key>
EMBFORGE_HD int cooc_emit(const CooccurArgs& a, int64_t i, int64_t sentence_end, int64_t slot_stride,
                          bool compact, Key* keys, uint64_t* values) {
  const Key left = static_cast<Key>(a.ids[i]) * static_cast<Key>(a.vocab_size);
  int written = 0;
  for (int d = 1; d <= a.window; ++d) {
    if (i + d < sentence_end) {
      const int64_t slot = static_cast<int64_t>(compact ? written : d - 1) * slot_stride;
      keys[slot] = left + static_cast<Key>(a.ids[i + d]);
      values[slot] = cooc::to_fixed(cooc::pair_weight(d, a.distance_weighting), a.fraction_bits);
      ++written;
    } else if (compact) {
      break;  // every later d is outside the sentence too
    } else {
      const int64_t slot = static_cast<int64_t>(d - 1) * slot_stride;
      keys[slot] = static_cast<Key>(cooc_empty_key(a.vocab_size));
      values[slot] = 0;
    }
  }
  return written;
}

// Entry k's transpose (b, a), for L + L^T.
template <class Key>
EMBFORGE_HD Key cooc_transpose_key(Key key, int64_t vocab) {
  const auto v = static_cast<Key>(vocab);
  return (key % v) * v + key / v;
}

// Entry k as a COO triple, converted like the CPU's merge_into.
EMBFORGE_HD void cooc_export(uint64_t key, uint64_t value, int64_t vocab, int fraction_bits,
                             int32_t* row, int32_t* col, float* out) {
  const auto v = static_cast<uint64_t>(vocab);
  *row = static_cast<int32_t>(key / v);
  *col = static_cast<int32_t>(key % v);
  *out = static_cast<float>(cooc::from_fixed(value, fraction_bits));
}

}  // namespace embforge::cuda

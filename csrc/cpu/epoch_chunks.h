// How an epoch's work is cut and ordered on the CPU (word2vec, fastText):
// chunks of consecutive sentences that threads claim one at a time from a
// shared counter, so a core slowed by another process never holds up the
// epoch, in a fresh seeded order each epoch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "embforge/corpus_view.h"
#include "embforge/random.h"

namespace embforge {

// Ids per chunk of work: ~2 ms of training, small enough that threads finish
// together and a shuffled epoch mixes the corpus well, large enough that
// claiming one costs nothing.
constexpr int64_t kChunkIds = 1 << 14;

// Sentences [first, end): one chunk of work.
struct SentenceRange {
  int64_t first;
  int64_t end;
};

// The epoch's work: chunks of consecutive sentences of about kChunkIds ids,
// in a fresh random order each epoch (seeded: one worker stays
// bit-identical). In file order, a corpus made of two sources (here a
// dictionary, then Linux docs) ended every epoch, where the learning rate is
// lowest, on the second alone: analogy 0.220 with one worker against 0.236
// shuffled (CBOW, 6 seeds); with two workers shuffling gained 0.005-0.010
// (CBOW) and 0.002 (skip-gram) over two interleaved halves (bench/RESULTS.md).
inline std::vector<SentenceRange> epoch_chunks(const CorpusView& corpus, uint64_t seed, int epoch) {
  std::vector<SentenceRange> chunks;
  for (int64_t s = 0; s < corpus.n_sentences;) {
    const int64_t target = corpus.offsets[s] + kChunkIds;
    const int64_t end = std::max<int64_t>(
        s + 1, std::lower_bound(corpus.offsets + s, corpus.offsets + corpus.n_sentences, target) -
                   corpus.offsets);
    chunks.push_back({s, std::min(end, corpus.n_sentences)});
    s = chunks.back().end;
  }
  SplitMix64 order_rng(seed, (static_cast<uint64_t>(epoch) << 32) | 0xFFFFFFFFull);
  shuffle(chunks.data(), static_cast<int64_t>(chunks.size()), order_rng);
  return chunks;
}

inline int64_t ids_in(const CorpusView& corpus, const SentenceRange* chunks, int64_t n) {
  int64_t ids = 0;
  for (int64_t k = 0; k < n; ++k) ids += corpus.offsets[chunks[k].end] - corpus.offsets[chunks[k].first];
  return ids;
}

// The longest sentence and the largest id in `chunks`: what one call (a
// slice of an epoch) needs to size its buffers and to check its ids. Over
// the slice only, so that the cost follows the work: a slice of 16k ids
// spent 2.8 ms of its ~10 ms scanning an 8M-id corpus when the whole corpus
// was checked at every call.
inline int64_t longest_sentence_in(const CorpusView& corpus, const SentenceRange* chunks, int64_t n) {
  int64_t longest = 0;
  for (int64_t k = 0; k < n; ++k)
    for (int64_t s = chunks[k].first; s < chunks[k].end; ++s)
      longest = std::max(longest, corpus.offsets[s + 1] - corpus.offsets[s]);
  return longest;
}

inline uint32_t largest_id_in(const CorpusView& corpus, const SentenceRange* chunks, int64_t n) {
  uint32_t largest = 0;
  for (int64_t k = 0; k < n; ++k) {
    const uint32_t* ids = corpus.ids + corpus.offsets[chunks[k].first];
    const int64_t count = corpus.offsets[chunks[k].end] - corpus.offsets[chunks[k].first];
    for (int64_t i = 0; i < count; ++i) largest = std::max(largest, ids[i]);
  }
  return largest;
}

inline int64_t longest_sentence(const CorpusView& corpus) {
  int64_t longest = 0;
  for (int64_t s = 0; s < corpus.n_sentences; ++s)
    longest = std::max(longest, corpus.offsets[s + 1] - corpus.offsets[s]);
  return longest;
}

}  // namespace embforge

// FastText's bags of subword rows cached per occurrence, for the CPU
// kernel's CBOW (fasttext_cbow.h) and skip-gram (fasttext_skipgram.h).
//
// A word's input vector is the mean of ~20 rows (its own and its n-grams' at
// n = 3-6), random rows of a matrix far larger than the caches. A word is a
// context of up to 2 x window consecutive centres, so reading and writing its
// rows in every window that uses it moves each row that many times. Here a
// word's bag is summed when the word first enters a window (BagCache: the sum
// S_j and the number of rows n_j, duplicates counted), the windows work on
// those sums, and the word's rows get their gradient once, when the word
// leaves the last window that can use it.
//
// A window that gives context j the gradient grad (the change of its mean)
// adds it to j's pending gradient and n_j * grad to S_j: what S_j would become
// if grad had been added to each of j's rows right away. When j leaves
// (position pos - window after the window at pos, or at the sentence's end)
// its pending gradient is added to every subword row of j (once per bag
// entry, as fastText's update does).
//
// What differs from updating the rows at once: a cached sum sees only its own
// word's gradients. Gradients that reach shared rows through other words (the
// same word again within 2 x window positions, a shared n-gram such as "<th"
// of "the" and "then", a hash collision, another thread) land in the rows at
// once there but reach a cached sum only if it is composed after the other
// word's flush, i.e. they are delayed by at most 2 x window windows. A row
// listed twice in one bag moves by 2 x grad but counts once per entry in
// n_j x grad (the direct sum would move by 4 x grad): rare, and of the same
// order as the Hogwild races. Totals are unchanged: every row ends the
// sentence with the sum of the same gradients. Quality stayed within the seed
// noise (bench/RESULTS.md, "FastText CBOW: bags summed once per occurrence",
// and the skip-gram measurements after it).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "embforge/fasttext.h"
#include "embforge/simd.h"
#include "hot_rows.h"
#include "line_array.h"
#include "vec.h"

namespace embforge {
namespace ft_cpu {

#if defined(__GNUC__)
// Runs fn.template operator()<V>(col) with V = 8-wide, 4-wide, then single
// columns, `col` advancing through [0, dim). 8 wide, not word2vec_window.h's
// 16: in the AVX2 clone a 16-float block held across a loop over rows was
// kept on the stack (callgrind: ~25 instructions per row and block, most of
// the kernel's count); 8 floats fit one AVX2 register.
template <typename Fn>
EMBFORGE_INLINE void over_blocks8(Fn&& fn) {
  int col = 0;
  fn.template operator()<vec::f8>(col);
  fn.template operator()<vec::f4>(col);
  fn.template operator()<float>(col);
}
EMBFORGE_INLINE float hsum(vec::f8 v) { return vec::reduce8(v); }
using vec::hsum;
#endif

// One thread's cached bags of the words in the current windows: position p
// of the sentence lives in slot p % slots (2 x window + 1 positions can be
// live at once: a window's contexts and the word entering next).
struct BagCache {
  BagCache(int dim, int window, int64_t max_bag)
      : slots(2 * window + 1), stride((dim + 15) / 16 * 16), max_bag(max_bag),
        sums(static_cast<size_t>(slots) * stride), pending(static_cast<size_t>(slots) * stride),
        counts(slots), bags(slots), bag_rows(static_cast<size_t>(slots) * max_bag) {}
  int slots;
  int stride;  // floats per slot: whole cache lines
  int64_t max_bag;  // the longest bag of the vocabulary
  LineArray<float> sums;     // S_j: the bag's row sum plus n_j x its pending gradient
  LineArray<float> pending;  // gradient not yet added to the bag's rows
  LineArray<float> counts;   // n_j as a float
  LineArray<float* const*> bags;  // where the slot's bag rows are (bag_rows or HotBags)
  LineArray<float*> bag_rows;     // [slots x max_bag]: rows of bags not in HotBags
  EMBFORGE_INLINE float* sum(int slot) { return sums.data() + static_cast<int64_t>(slot) * stride; }
  EMBFORGE_INLINE float* grad(int slot) { return pending.data() + static_cast<int64_t>(slot) * stride; }
};

EMBFORGE_INLINE float* input_row(const FastTextModel& m, uint32_t row, int dim) {
  return m.input + static_cast<int64_t>(row) * dim;
}

// Thread-private copies of every row in the bags of words [0, n_words) (the
// most frequent), hot_rows.h's idea for a set of rows that is not a prefix
// of the matrix: those words' bags read and write the private rows, every
// other word (including one sharing an n-gram with a hot word) the shared
// ones; merge() publishes  shared += private - base; private = base = shared.
// A shared n-gram row thus sees the hot words' changes one merge interval
// late, as hot_rows.h's rows do. n_words = 0: nothing private.
class HotBags {
 public:
  HotBags(const FastTextModel& m, int dim, int64_t n_words)
      : input_(m.input), dim_(dim), n_words_(static_cast<uint32_t>(n_words)),
        rows_(unique_rows(m, n_words)), local_(rows_.size() * dim), base_(rows_.size() * dim),
        bag_rows_(static_cast<size_t>(m.subword_offsets[n_words])) {
    for (size_t i = 0; i < rows_.size(); ++i) {
      const float* shared = input_ + static_cast<int64_t>(rows_[i]) * dim;
      std::copy(shared, shared + dim, local_.data() + i * dim);
      std::copy(shared, shared + dim, base_.data() + i * dim);
    }
    for (size_t k = 0; k < bag_rows_.size(); ++k) {
      const auto at = std::lower_bound(rows_.begin(), rows_.end(), m.subword_ids[k]) - rows_.begin();
      bag_rows_[k] = local_.data() + static_cast<int64_t>(at) * dim;
    }
  }
  EMBFORGE_INLINE bool hot(uint32_t word) const { return word < n_words_; }
  // The private rows of hot word's bag, in bag order (offsets as subword_ids).
  EMBFORGE_INLINE float* const* bag(const FastTextModel& m, uint32_t word) const {
    return bag_rows_.data() + m.subword_offsets[word];
  }
  void merge() {
    for (size_t i = 0; i < rows_.size(); ++i)
      merge_private(input_ + static_cast<int64_t>(rows_[i]) * dim_, local_.data() + i * dim_,
                    base_.data() + i * dim_, static_cast<size_t>(dim_));
  }

 private:
  static std::vector<uint32_t> unique_rows(const FastTextModel& m, int64_t n_words) {
    std::vector<uint32_t> rows(m.subword_ids, m.subword_ids + m.subword_offsets[n_words]);
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    return rows;
  }
  float* input_;
  int dim_;
  uint32_t n_words_;
  std::vector<uint32_t> rows_;  // sorted shared row ids
  LineArray<float> local_;      // this thread's rows, written every window
  LineArray<float> base_;       // the shared rows as of the last merge
  LineArray<float*> bag_rows_;  // per bag entry of the hot words: its private row
};

// Points the slot at word's bag rows; returns their number.
EMBFORGE_INLINE int bind_bag(const FastTextModel& m, int dim, const HotBags& hot, BagCache& cache,
                             int slot, uint32_t word) {
  const int64_t first = m.subword_offsets[word];
  const int n = static_cast<int>(m.subword_offsets[word + 1] - first);
  if (hot.hot(word)) {
    cache.bags[slot] = hot.bag(m, word);
  } else {
    float** rows = cache.bag_rows.data() + static_cast<int64_t>(slot) * cache.max_bag;
    for (int k = 0; k < n; ++k) rows[k] = input_row(m, m.subword_ids[first + k], dim);
    cache.bags[slot] = rows;
  }
  return n;
}

#if defined(__GNUC__)
// Columns [col, col + 8 x kBlocks) of the sum of rows[0, n): the kBlocks
// partial sums stay in registers while the rows stream past (one load-add
// per 8 floats and row; a loop over rows per 8-float block cost ~5).
template <int kBlocks>
EMBFORGE_INLINE void sum_rows_chunk(float* const* rows, int n, int col, float* out) {
  vec::f8 acc[kBlocks];
  for (int b = 0; b < kBlocks; ++b) acc[b] = vec::load8(rows[0] + col + 8 * b);
  for (int k = 1; k < n; ++k) {
    const float* row = rows[k] + col;
    for (int b = 0; b < kBlocks; ++b) acc[b] += vec::load8(row + 8 * b);
  }
  for (int b = 0; b < kBlocks; ++b) vec::store8(out + col + 8 * b, acc[b]);
}

// grad's columns [col, col + 8 x kBlocks), held in registers, added to each row.
template <int kBlocks>
EMBFORGE_INLINE void add_rows_chunk(float* const* rows, int n, int col, const float* grad) {
  vec::f8 g[kBlocks];
  for (int b = 0; b < kBlocks; ++b) g[b] = vec::load8(grad + col + 8 * b);
  for (int k = 0; k < n; ++k) {
    float* row = rows[k] + col;
    for (int b = 0; b < kBlocks; ++b) vec::store8(row + 8 * b, vec::load8(row + 8 * b) + g[b]);
  }
}

#endif

// Both loops below take [0, dim) in chunks of 96, 64, 32, 16 and 8 columns
// (12 blocks fit AVX2's 16 registers with room to spare; d=100 is one chunk
// of 96), then 4 columns at once, then single ones. Written out rather than
// as a generic lambda over the chunk size: GCC did not inline that lambda
// and compiled it for the baseline ISA only (SSE; callgrind showed it).

// out = the sum of rows[0, n) (n >= 1).
EMBFORGE_INLINE void sum_rows(float* const* rows, int n, int dim, float* out) {
  int col = 0;
#if defined(__GNUC__)
  for (; col + 96 <= dim; col += 96) sum_rows_chunk<12>(rows, n, col, out);
  if (col + 64 <= dim) sum_rows_chunk<8>(rows, n, col, out), col += 64;
  if (col + 32 <= dim) sum_rows_chunk<4>(rows, n, col, out), col += 32;
  if (col + 16 <= dim) sum_rows_chunk<2>(rows, n, col, out), col += 16;
  if (col + 8 <= dim) sum_rows_chunk<1>(rows, n, col, out), col += 8;
  if (col + 4 <= dim) {  // e.g. the last 4 of 100
    vec::f4 acc = vec::load4(rows[0] + col);
    for (int k = 1; k < n; ++k) acc += vec::load4(rows[k] + col);
    vec::store4(out + col, acc);
    col += 4;
  }
#endif
  for (; col < dim; ++col) {
    float acc = rows[0][col];
    for (int k = 1; k < n; ++k) acc += rows[k][col];
    out[col] = acc;
  }
}

// Adds grad to each of rows[0, n) (a row listed twice gets it twice).
EMBFORGE_INLINE void add_to_rows(float* const* rows, int n, int dim, const float* grad) {
  int col = 0;
#if defined(__GNUC__)
  for (; col + 96 <= dim; col += 96) add_rows_chunk<12>(rows, n, col, grad);
  if (col + 64 <= dim) add_rows_chunk<8>(rows, n, col, grad), col += 64;
  if (col + 32 <= dim) add_rows_chunk<4>(rows, n, col, grad), col += 32;
  if (col + 16 <= dim) add_rows_chunk<2>(rows, n, col, grad), col += 16;
  if (col + 8 <= dim) add_rows_chunk<1>(rows, n, col, grad), col += 8;
  if (col + 4 <= dim) {
    const vec::f4 g = vec::load4(grad + col);
    for (int k = 0; k < n; ++k) vec::store4(rows[k] + col, vec::load4(rows[k] + col) + g);
    col += 4;
  }
#endif
  for (; col < dim; ++col)
    for (int k = 0; k < n; ++k) rows[k][col] += grad[col];
}

// A window's views into the cache: the contexts' cached sums, pending
// gradients and row counts ([2 x window] each), filled by bag_sentence.
struct WindowViews {
  explicit WindowViews(int window) : sums(2 * window), pending(2 * window), counts(2 * window) {}
  LineArray<float*> sums;
  LineArray<float*> pending;
  LineArray<float> counts;
};

// The windows of sentence[0, n) over cached bags. reach(pos) gives the
// window's reach (called once per position, in order, before targets);
// targets(pos, t) fills t[0, n_targets) with the centre and its noise words
// and may prefetch their rows; out_row(id) is where an output row lives;
// window(n_ctx) trains one window on views (the contexts' cached sums) and
// out_rows (the targets' output rows, [n_targets]).
template <typename Reach, typename Targets, typename OutRow, typename Window>
EMBFORGE_INLINE void bag_sentence(const FastTextModel& m, int dim, int window, int n_targets,
                                  const HotBags& hot, BagCache& cache, const uint32_t* sentence,
                                  int n, uint32_t* targets, float** out_rows, WindowViews& views,
                                  Reach&& reach, Targets&& draw_targets, OutRow&& out_row,
                                  Window&& train_window) {
  const int slots = cache.slots;
  auto flush = [&](int slot) {
    add_to_rows(cache.bags[slot], static_cast<int>(cache.counts[slot]), dim, cache.grad(slot));
  };
  constexpr int kPrefetchWords = 4;
  int prefetched = 0;  // bags of positions [0, prefetched) were prefetched
  int composed = 0;  // positions [flushed, composed) are in the cache
  int flushed = 0;
  for (int pos = 0; pos < n; ++pos) {
    const int r = reach(pos);
    const int lo = std::max(0, pos - r), hi = std::min(n, pos + r + 1);
    if (hi - lo >= 2) {
      draw_targets(pos, targets);
      for (; composed < hi; ++composed) {
        const int slot = composed % slots;
        const int rows = bind_bag(m, dim, hot, cache, slot, sentence[composed]);
        sum_rows(cache.bags[slot], rows, dim, cache.sum(slot));
        cache.counts[slot] = static_cast<float>(rows);
        std::fill(cache.grad(slot), cache.grad(slot) + dim, 0.0f);
      }
      // The bags of the next few words to enter start loading: ~20 random
      // rows of a matrix far larger than the caches per word, more than one
      // window's work can hide if only the next word is fetched. Into L2
      // (prefetcht1), 4 words ahead: a burst of ~100 prefetches into L1 waits
      // for its fill buffers; epochs took 5-9% less time than with L1
      // prefetches 3 words ahead (CBOW and skip-gram, paired runs in one
      // process on the bench corpus).
      for (; prefetched < std::min(n, hi + kPrefetchWords); ++prefetched) {
        const uint32_t word = sentence[prefetched];
        if (hot.hot(word)) continue;
        for (int64_t k = m.subword_offsets[word]; k < m.subword_offsets[word + 1]; ++k) {
          const float* row = input_row(m, m.subword_ids[k], dim);
          for (int i = 0; i < dim; i += 16) __builtin_prefetch(row + i, 0, 2);
        }
      }
      int n_ctx = 0;
      for (int j = lo; j < hi; ++j) {
        if (j == pos) continue;
        const int slot = j % slots;
        views.sums[n_ctx] = cache.sum(slot);
        views.pending[n_ctx] = cache.grad(slot);
        views.counts[n_ctx++] = cache.counts[slot];
      }
      for (int k = 0; k < n_targets; ++k) out_rows[k] = out_row(targets[k]);
      train_window(n_ctx);
    }
    // No later window reaches back to pos - window: its word leaves.
    for (; flushed < composed && flushed <= pos - window; ++flushed) flush(flushed % slots);
  }
  for (; flushed < composed; ++flushed) flush(flushed % slots);
}

}  // namespace ft_cpu
}  // namespace embforge

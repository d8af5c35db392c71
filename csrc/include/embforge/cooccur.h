// Word-word co-occurrence counts over an encoded corpus: the contract every
// backend (CPU threads now, CUDA later) implements.
//
// Counting follows Stanford GloVe's `cooccur`: out-of-vocabulary tokens are
// already gone from the id stream (cooccur skips them before windowing too),
// and a window never crosses a sentence boundary (cooccur resets its history
// at every newline; our sentences are the corpus lines). For every pair of
// positions i < j in a sentence with d = j - i <= window, with left word
// a = ids[i] and right word b = ids[j]:
//     X[a][b] += w(d)            (a is the left context of b)
//     X[b][a] += w(d)            (only when symmetric)
// where w(d) = 1/d with distance weighting, else 1.
//
// Values are summed in fixed point (multiples of 2^-fraction_bits, uint64):
// integer sums do not depend on the order of the additions, so the result is
// bitwise identical whatever the thread count, memory budget or spilling.
// The rounding of 1/d to that grid is at most 2^-(fraction_bits+1) per pair
// (fraction_bits is 32 unless the corpus is huge, see fraction_bits()).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "embforge/file_io.h"  // FileError
#include "embforge/hd.h"
#include "embforge/progress.h"
#include "embforge/word2vec.h"  // CorpusView

namespace embforge {

struct CooccurParams {
  int window = 15;                   // GloVe's default; >= 1
  bool symmetric = true;             // false: left context only (cooccur -symmetric 0)
  bool distance_weighting = true;    // w(d) = 1/d, else 1
  int workers = 1;
  // Budget for the working memory and the result: dense tables, pair
  // buffers, in-memory runs, merge buffers and the output arrays (see
  // csrc/cpu/cooccur.cpp). >= kMinCooccurMemory.
  int64_t memory_bytes = int64_t{1} << 30;
  std::string temp_dir;              // existing directory for spilled runs
  // Tuning and tests. max_product: pairs whose 1-based rank product is at
  // most this are counted in a dense per-thread table (GloVe's trick); -1
  // sizes it from the budget, 0 disables the table.
  int64_t max_product = -1;
  // Where the result may go instead of memory (an existing directory; empty:
  // always memory): merge thread t then writes result-<t>.rows, .cols and
  // .values (raw native int32, int32, float32; CooccurMatrix::file_counts[t]
  // entries each, the threads' row ranges in order) and the caller joins them.
  // result_to_files: always; else only when the result does not fit the budget.
  std::string result_dir;
  bool result_to_files = false;
};

constexpr int64_t kMinCooccurMemory = int64_t{1} << 16;  // 64 KiB

// An array allocated with std::malloc, handed to Python without a copy
// (the binding frees it with std::free).
template <typename T>
class MallocArray {
 public:
  MallocArray() = default;
  explicit MallocArray(int64_t capacity) : size_(capacity) {
    // malloc, not vector: untouched pages of a generous capacity never
    // become resident, and shrink() gives the tail back without a copy.
    data_ = static_cast<T*>(std::malloc(static_cast<size_t>(capacity > 0 ? capacity : 1) * sizeof(T)));
    if (!data_) throw std::bad_alloc();
  }
  MallocArray(MallocArray&& other) noexcept { *this = std::move(other); }
  MallocArray& operator=(MallocArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  MallocArray(const MallocArray&) = delete;
  MallocArray& operator=(const MallocArray&) = delete;
  ~MallocArray() { std::free(data_); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  int64_t size() const { return size_; }
  T& operator[](int64_t i) { return data_[i]; }
  const T& operator[](int64_t i) const { return data_[i]; }
  // Keeps the first min(size, size()) elements. Shrinking gives the tail
  // back to the system; growing a large block remaps it (no copy).
  void resize(int64_t size) {
    void* moved = std::realloc(data_, static_cast<size_t>(size > 0 ? size : 1) * sizeof(T));
    if (!moved && size > size_) throw std::bad_alloc();
    if (moved) data_ = static_cast<T*>(moved);
    size_ = size;
  }
  T* release() {
    T* out = data_;
    data_ = nullptr;
    size_ = 0;
    return out;
  }

 private:
  T* data_ = nullptr;
  int64_t size_ = 0;
};

struct CooccurStats {
  int64_t ids_processed = 0;
  int64_t pair_updates = 0;      // additions into X (2 per pair when symmetric)
  int64_t dense_updates = 0;     // of which went to the dense table
  int64_t max_product = 0;       // the dense table's rank-product limit used
  int64_t dense_bytes = 0;       // all threads' dense tables
  int64_t buffer_bytes = 0;      // all threads' pair buffers (with sort scratch)
  int64_t runs = 0;              // sorted runs produced
  int64_t spilled_runs = 0;      // runs written to temp_dir (merge passes included)
  int64_t spilled_bytes = 0;
  int64_t merge_passes = 0;      // extra disk passes when too many runs to merge at once
  int64_t planned_peak_bytes = 0;  // the most this call's accounting reached (> budget only
                                   // when the result itself does not fit; see cooccur.cpp)
  int fraction_bits = 0;
  double count_seconds = 0.0;    // threads over the corpus
  double merge_seconds = 0.0;    // tables + runs into the result (spills included)
  bool stopped = false;          // Progress::stop ended the count (result empty)
};

// The matrix in COO form, sorted by (row, col), no explicit zeros.
struct CooccurMatrix {
  MallocArray<int32_t> rows;
  MallocArray<int32_t> cols;
  MallocArray<float> values;     // float32 (12 bytes a nonzero); sums are exact until here
  int64_t nnz = 0;
  std::vector<int64_t> file_counts;  // entries per thread's result files; empty: in the arrays
  CooccurStats stats;
};

// Counts X over the corpus; ids must be < vocab_size. Progress counts ids in
// work_done; Progress::stop ends the count early with stats.stopped set and an
// empty matrix. Spilled run files are removed on return and on exceptions.
CooccurMatrix count_cooccurrences(const CooccurParams& params, const CorpusView& corpus,
                                  int64_t vocab_size, Progress* progress);

namespace cooc {

// Weight of a pair at distance d >= 1.
EMBFORGE_HD double pair_weight(int distance, bool distance_weighting) {
  return distance_weighting ? 1.0 / distance : 1.0;
}

EMBFORGE_HD uint64_t to_fixed(double weight, int fraction_bits) {
  return static_cast<uint64_t>(ldexp(weight, fraction_bits) + 0.5);
}

EMBFORGE_HD double from_fixed(uint64_t value, int fraction_bits) {
  return ldexp(static_cast<double>(value), -fraction_bits);
}

// Fraction bits such that no sum can overflow uint64: every entry is at most
// the total weight of the corpus, n_ids * sum_d w(d) (twice when symmetric),
// and that total times 2^bits stays below 2^63. 32 bits for any corpus under
// ~10^8 tokens x window 10; unweighted counts are integers and need none.
inline int fraction_bits(int64_t n_ids, int window, bool symmetric, bool distance_weighting) {
  if (!distance_weighting) return 0;
  double per_id = 0.0;
  for (int d = 1; d <= window; ++d) per_id += pair_weight(d, true);
  const double total = static_cast<double>(n_ids) * per_id * (symmetric ? 2.0 : 1.0) + 1.0;
  const int used = static_cast<int>(std::ceil(std::log2(total)));
  const int bits = 62 - used;
  return bits < 0 ? 0 : (bits > 32 ? 32 : bits);
}

}  // namespace cooc

}  // namespace embforge

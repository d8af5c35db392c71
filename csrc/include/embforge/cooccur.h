// Word-word co-occurrence counts over an encoded corpus: the contract both
// backends implement (csrc/cpu/cooccur.cpp and csrc/cuda/cooccur.cu), with
// CooccurParams the one parameter struct they take.
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
//
// Counting in parts (one per process): every part counts with the same
// fraction_bits, chosen from the whole corpus (cooc::fraction_bits of the
// total number of ids), with fixed_point_output; merge_cooccurrence_partials
// sums the parts exactly and cooccurrence_fixed_to_float rounds them as a
// single count does, so the result is bitwise the count of the whole corpus,
// whatever the split of the sentences.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "embforge/check.h"
#include "embforge/corpus_view.h"
#include "embforge/file_io.h"  // FileError
#include "embforge/hd.h"
#include "embforge/launch.h"
#include "embforge/malloc_array.h"
#include "embforge/progress.h"

namespace embforge {

struct CooccurParams {
  int window = 15;                   // GloVe's default; >= 1
  bool symmetric = true;             // false: left context only (cooccur -symmetric 0)
  bool distance_weighting = true;    // w(d) = 1/d, else 1
  // Fixed-point grid: -1 chooses it from this corpus (cooc::fraction_bits);
  // 0..62 forces it (parts of one count must agree; see resolve_fraction_bits
  // for the overflow bound).
  int fraction_bits = -1;
  // The rest is read by the CPU backend only (the CUDA count works inside
  // the caller's device workspace and never spills).
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
  // .values (raw native int32, int32, float32 or int64 with
  // fixed_point_output; CooccurMatrix::file_counts[t] entries each, the
  // threads' row ranges in order) and the caller joins them.
  // result_to_files: always; else only when the result does not fit the budget.
  std::string result_dir;
  bool result_to_files = false;
  // CPU: the values come out as the exact int64 fixed-point sums
  // (CooccurMatrix::fixed, or the .values files; multiples of
  // 2^-fraction_bits) instead of float32: a part of a distributed count.
  bool fixed_point_output = false;
  // CPU: the result goes to this open file, from its start, as glove.c's
  // records (glove_records.h) instead of memory: CooccurMatrix then holds
  // only nnz, and the merge only a piece of the result a thread, however
  // large the result. The caller fsyncs and closes the file (atomic saves);
  // glove_name names it in errors. Not with fixed_point_output or
  // result_to_files.
  int glove_fd = -1;
  std::string glove_name = "the co-occurrence file";
};

constexpr int64_t kMinCooccurMemory = int64_t{1} << 16;  // 64 KiB

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
  MallocArray<int64_t> fixed;    // instead of values with fixed_point_output (16 bytes a nonzero)
  int64_t nnz = 0;
  std::vector<int64_t> file_counts;  // entries per thread's result files; empty: in the arrays
  CooccurStats stats;
};

// Counts X over the corpus; ids must be < vocab_size. Progress counts ids in
// work_done; Progress::stop ends the count early with stats.stopped set and an
// empty matrix. Spilled run files are removed on return and on exceptions.
CooccurMatrix count_cooccurrences(const CooccurParams& params, const CorpusView& corpus,
                                  int64_t vocab_size, Progress* progress);

// A partial count in fixed point: COO arrays of n entries sorted by (row,
// col) (equal keys allowed; they are summed), values >= 0.
struct CooccurPart {
  const int32_t* rows = nullptr;
  const int32_t* cols = nullptr;
  const int64_t* values = nullptr;
  int64_t n = 0;
};

struct FixedCooccurrences {
  MallocArray<int32_t> rows;
  MallocArray<int32_t> cols;
  MallocArray<int64_t> values;
  int64_t nnz = 0;
};

// The sum of partial counts made with one fraction_bits: every (row, col)
// once, sorted, values summed exactly (int64; an overflow is an error, not a
// wrap), zero sums left out. A k-way merge, O(n log k) for n entries in all,
// rows split among `workers` threads. Memory: the output is allocated for n
// entries (16 bytes each); only the pages written become resident, and the
// tail is given back once the threads' pieces are joined, so the peak is
// the inputs + 16 bytes per merged entry.
FixedCooccurrences merge_cooccurrence_partials(const std::vector<CooccurPart>& parts, int workers);

// One record of a partial count as ranks exchange it: int32 row, int32 col,
// int64 fixed-point value, little-endian, 16 bytes, no padding (numpy's
// [("row", "<i4"), ("col", "<i4"), ("value", "<i8")]).
struct PackedCooccurrence {
  int32_t row;
  int32_t col;
  int64_t value;
};
static_assert(sizeof(PackedCooccurrence) == 16, "exchange records are 16 bytes");

// The entries of `part` as records grouped by the rank owning their row
// (row % world_size), in rank order, each group in the part's order; `out`
// holds part.n records, counts[r] gets rank r's number of records. Rows
// must be >= 0. Two passes over the entries, one thread: memory-bound (a
// numpy stable sort by owner and four gathers took 2.4 s of a 19 s two-rank
// count of the bench corpus x10).
void pack_cooccurrences_by_owner(const CooccurPart& part, int world_size, PackedCooccurrence* out,
                                 int64_t* counts);

// Fixed-point sums to float32 with the rounding count_cooccurrences applies
// (cooc::fixed_to_float); values must be >= 0.
void cooccurrence_fixed_to_float(const int64_t* fixed, int64_t n, int fraction_bits, float* out);

namespace cuda {

// A count held in the caller's device workspace: sorted unique keys
// (row * vocab + col) and fixed-point sums, nnz of each.
struct CooccurCount {
  int64_t nnz = 0;
  int64_t pair_updates = 0;      // additions into X, as CooccurStats
  int64_t chunks = 0;
  int64_t capacity = 0;          // entries per sort buffer the workspace held
  int fraction_bits = 0;
  bool stopped = false;          // Progress::stop: nnz = 0
  const uint64_t* keys = nullptr;    // the result, inside the workspace
  const uint64_t* values = nullptr;
};

// Entries per sort buffer a workspace of `bytes` holds (the chunk budget).
int64_t cooccur_capacity(int64_t workspace_bytes, int64_t vocab_size, int device);

// Counts X over a corpus in device memory into `workspace` (a 16-byte
// aligned device buffer of workspace_bytes: the memory budget). Reads
// params.window, symmetric and distance_weighting, and launch.variant's
// kNarrowKeys and kCompactPairs (launch.h; the same matrix either way). Synchronous: it waits for
// the stream after every chunk (to size the next one), publishes ids done to
// `progress` and honours its stop flag between chunks.
CooccurCount cooccur_count(const CooccurParams& params, const CorpusView& corpus, int64_t vocab_size,
                           void* workspace, int64_t workspace_bytes, const Launch& launch,
                           Progress* progress);

// Writes a count's nnz entries as the CPU's COO arrays (sorted by row, col);
// the workspace must still be alive.
void cooccur_export(const CooccurCount& result, int64_t vocab_size, int32_t* rows, int32_t* cols,
                    float* values, const Launch& launch);

}  // namespace cuda

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

// The float32 of a fixed-point sum, scale = 2^-fraction_bits: rounded to
// double, scaled exactly (a power of two), rounded to float; equal to
// (float)from_fixed(value, fraction_bits).
EMBFORGE_HD float fixed_to_float(uint64_t value, double scale) {
  return static_cast<float>(static_cast<double>(value) * scale);
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

// The most fraction bits a count of n_ids ids can take without overflow:
// the bound above with the weights actually used (1 per pair unweighted), not
// capped at 32. Floored at 0, like fraction_bits().
inline int max_fraction_bits(int64_t n_ids, int window, bool symmetric, bool distance_weighting) {
  double per_id = 0.0;
  for (int d = 1; d <= window; ++d) per_id += pair_weight(d, distance_weighting);
  const double total = static_cast<double>(n_ids) * per_id * (symmetric ? 2.0 : 1.0) + 1.0;
  const int bits = 62 - static_cast<int>(std::ceil(std::log2(total)));
  return bits < 0 ? 0 : bits;
}

// The fraction bits a count of `n_ids` ids uses: params.fraction_bits when
// given, else fraction_bits(). A given value must not exceed
// max_fraction_bits(n_ids): the value of any one entry is at most the total
// weight of the corpus counted, so a part of a corpus is safe with the
// automatic choice for the whole (fewer ids, more room), and so is the sum of
// the parts (its entries are entries of the whole corpus's count).
inline int resolve_fraction_bits(const CooccurParams& p, int64_t n_ids) {
  EMBFORGE_CHECK(p.fraction_bits >= -1 && p.fraction_bits <= 62,
                 "fraction_bits must be -1 (automatic) or in [0, 62], got ", p.fraction_bits);
  if (p.fraction_bits < 0) return fraction_bits(n_ids, p.window, p.symmetric, p.distance_weighting);
  const int most = max_fraction_bits(n_ids, p.window, p.symmetric, p.distance_weighting);
  EMBFORGE_CHECK(p.fraction_bits <= most, "fraction_bits=", p.fraction_bits, " can overflow a count of ",
                 n_ids, " ids with window ", p.window, ": at most ", most);
  return p.fraction_bits;
}

}  // namespace cooc

}  // namespace embforge

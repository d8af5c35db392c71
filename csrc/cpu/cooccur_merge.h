// The last step of counting: the summed dense table and the sorted runs
// become the COO result, rows split among threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cooccur_dense.h"
#include "cooccur_runs.h"
#include "embforge/cooccur.h"
#include "embforge/glove_records.h"
#include "embforge/progress.h"

namespace embforge::cooc {

// Entries a merge thread buffers before appending them to its result files.
constexpr int64_t kResultBufferEntries = 1 << 16;
// A merge to glove.c's records: pieces of rows, 8 a thread at least and
// about this many entries each at most (less when the budget is small).
constexpr int kPiecesPerThread = 8;
constexpr int64_t kPieceEntries = 1 << 20;
constexpr int64_t kMinPieceEntries = 1 << 16;

constexpr int kMinColumnWindowBits = 6;
constexpr int kMaxColumnWindowBits = 16;  // 512 KiB of sums a thread: within L2

// A merge thread's bytes for a column window of 2^bits.
constexpr int64_t column_window_bytes(int bits) { return (int64_t{1} << bits) * 65 / 8 + 64; }

struct MergeInput {
  const DenseLayout* layout;
  const uint64_t* table;     // summed dense cells, or nullptr when there are none
  const std::vector<Run>* runs;
  int64_t vocab;
  int fraction_bits;
  int threads;
  int64_t reader_entries;    // buffer per file run and thread
  std::string result_dir;    // non-empty: the result goes to files there (cooccur.h)
  bool fixed_point = false;  // out.fixed (int64 sums) instead of out.values (or their files)
  // merge_to_glove: about this much work (cells + run entries) a piece of
  // rows, and where Ctrl-C asks it to stop (between pieces).
  int64_t piece_work = kPieceEntries;
  Progress* progress = nullptr;
  // Columns a merge thread sums at once (cooccur_merge.cpp: ColumnSums):
  // 8 bytes and a bit each.
  int column_window_bits = kMaxColumnWindowBits;
};

// Fills out.rows/cols/values/nnz (out.fixed instead of values with
// in.fixed_point), sorted by (row, col), or with a
// result_dir, out.file_counts/nnz and the files (in.result_dir). Each thread merges a
// range of rows into its own arrays, sized by that range's bound (pages past
// what is written are never touched); they are then joined into the first
// range's arrays, moving the others over in 16 MiB pieces from their tails
// and giving each piece back at once, so the join holds at most 16 MiB more
// than the result.
void merge_to_coo(const MergeInput& in, CooccurMatrix& out);

// The result as glove.c's records appended to `out` (not finished), in
// (row, col) order; returns the records written, or -1 when in.progress
// asked it to stop (the file is then incomplete). Rows are cut into pieces
// (8 a thread at least, about in.piece_work cells and run entries each) that
// threads take in order and hand to the file in order: memory is one piece's
// records a thread, whatever the size of the result.
int64_t merge_to_glove(const MergeInput& in, GloveRecordWriter& out);

}  // namespace embforge::cooc

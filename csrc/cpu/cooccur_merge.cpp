#include "cooccur_merge.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "embforge/balanced_split.h"
#include "embforge/check.h"
#include "embforge/file_io.h"
#include "embforge/parallel.h"

namespace embforge::cooc {
namespace {

constexpr int kRowBlock = 8;              // rows whose column cells share a cache line
constexpr int64_t kJoinPiece = 1 << 20;   // entries moved at a time when joining

// Upper bound of the dense nonzeros of row r.
int64_t dense_row_bound(const DenseLayout& l, int64_t r) {
  if (l.cells == 0) return 0;
  if (!l.triangular) return l.limit[r];
  return std::min<int64_t>(r, l.limit[r]) + l.row_cells(r);
}

// A merge thread's output; V is float (the result) or int64_t (the exact
// fixed-point sums, CooccurParams::fixed_point_output).
template <typename V>
struct Piece {
  MallocArray<int32_t> rows, cols;
  MallocArray<V> values;
  int64_t n = 0;
};

// An entry's value as stored in the output.
inline void store_value(float* out, uint64_t value, double scale) { *out = fixed_to_float(value, scale); }
inline void store_value(int64_t* out, uint64_t value, double) { *out = static_cast<int64_t>(value); }

// A merge thread's result files (cooccur.h: CooccurParams::result_dir).
struct ResultFiles {
  ResultFiles(const std::string& dir, int thread)
      : rows(name(dir, thread, "rows")), cols(name(dir, thread, "cols")),
        values(name(dir, thread, "values")) {}
  static std::string name(const std::string& dir, int thread, const char* what) {
    return dir + "/result-" + std::to_string(thread) + "." + what;
  }
  AppendFile rows, cols, values;
};

// Where a merge thread's entries go: its own COO arrays (sized by its
// range's bound; pages past what is written are never touched), emptied
// into result files when it has them (cooccur.h: CooccurParams::result_dir).
template <typename V>
class ColumnSink {
 public:
  ColumnSink(Piece<V>& piece, ResultFiles* files, int64_t bound, double scale)
      : piece_(piece), files_(files), scale_(scale) {
    if (files_) bound = std::min(bound, kResultBufferEntries);  // a buffer, emptied into the files
    capacity_ = bound;
    piece.rows = MallocArray<int32_t>(bound);
    piece.cols = MallocArray<int32_t>(bound);
    piece.values = MallocArray<V>(bound);
    rows_ = piece.rows.data();
    cols_ = piece.cols.data();
    values_ = piece.values.data();
  }

  void emit(int64_t r, int64_t c, uint64_t value) {
    if (n_ == capacity_) write_out();  // only with files: in memory, capacity_ bounds the row range
    rows_[n_] = static_cast<int32_t>(r);
    cols_[n_] = static_cast<int32_t>(c);
    store_value(values_ + n_, value, scale_);
    ++n_;
  }

  void finish() {
    if (files_) {
      write_out();
      files_->rows.close();
      files_->cols.close();
      files_->values.close();
    }
    piece_.n = written_ + n_;
  }

 private:
  void write_out() {
    files_->rows.append(rows_, static_cast<size_t>(n_) * sizeof(int32_t));
    files_->cols.append(cols_, static_cast<size_t>(n_) * sizeof(int32_t));
    files_->values.append(values_, static_cast<size_t>(n_) * sizeof(V));
    written_ += n_;
    n_ = 0;
  }

  Piece<V>& piece_;
  ResultFiles* files_;
  const double scale_;
  int32_t* rows_;
  int32_t* cols_;
  V* values_;
  int64_t n_ = 0;
  int64_t capacity_ = 0;
  int64_t written_ = 0;  // entries already in the files
};

// glove.c's records of a piece of rows, into a buffer the thread reuses:
// values rounded to float32 first, as the COO result holds them, so the file
// is the one Cooccurrence.save_glove_binary writes.
class RecordSink {
 public:
  RecordSink(std::vector<GloveRecord>& records, double scale) : records_(records), scale_(scale) {
    records_.clear();
  }
  void emit(int64_t r, int64_t c, uint64_t value) {
    records_.push_back(GloveRecord{static_cast<int32_t>(r + 1), static_cast<int32_t>(c + 1),
                                   static_cast<double>(fixed_to_float(value, scale_))});
  }
  void finish() {}

 private:
  std::vector<GloveRecord>& records_;
  const double scale_;
};

// A merge thread's sums of one row's run entries, a window of columns at a
// time (MergeInput::column_window_bits): every run adds its entries of the window into sums_
// (indexed by column) and the sums are read back in column order through a
// two-level bit set of the columns that got one. A heap ordering the runs
// entry by entry spent more (its comparisons are unpredictable branches).
class ColumnSums {
 public:
  explicit ColumnSums(int window_bits)
      : window_(uint64_t{1} << window_bits), sums_(window_, 0), words_(window_ / 64, 0),
        summary_((window_ / 64 + 63) / 64, 0) {}

  // A slice of a run held in memory, read as its updates (cooccur_runs.h:
  // SortedUpdates): each adds w(d) to its key's sum here, with no pass that
  // first sums equal keys into entries.
  struct Updates {
    const uint64_t* next;
    const uint64_t* end;
    int distance_bits;
    const uint64_t* weight;
    bool done() const { return next == end; }
    uint64_t key() const { return *next >> distance_bits; }
  };

  // Calls emit(key - row_key, summed value) for every key in [row_key,
  // row_end) of the file runs' cursors and the memory runs' updates, in key
  // order, and moves them past those keys.
  template <typename Emit>
  void row(std::vector<RunCursor>& cursors, std::vector<Updates>& updates, uint64_t row_key,
           uint64_t row_end, Emit&& emit) {
    while (true) {
      uint64_t first = row_end;
      for (const RunCursor& c : cursors)
        if (!c.done() && c.key() < first) first = c.key();
      for (const Updates& u : updates)
        if (!u.done() && u.key() < first) first = u.key();
      if (first >= row_end) return;
      const uint64_t end = first + std::min(window_, row_end - first);
      for (RunCursor& c : cursors)
        for (; !c.done() && c.key() < end; c.advance()) add(c.key() - first, c.value());
      for (Updates& u : updates) {
        const uint64_t mask = (uint64_t{1} << u.distance_bits) - 1;
        for (; u.next != u.end && (*u.next >> u.distance_bits) < end; ++u.next)
          add((*u.next >> u.distance_bits) - first, u.weight[*u.next & mask]);
      }
      for (size_t s = 0; s < summary_.size(); ++s) {
        for (uint64_t ws = std::exchange(summary_[s], 0); ws != 0; ws &= ws - 1) {
          const size_t w = s * 64 + static_cast<size_t>(std::countr_zero(ws));
          for (uint64_t bits = std::exchange(words_[w], 0); bits != 0; bits &= bits - 1) {
            const size_t at = w * 64 + static_cast<size_t>(std::countr_zero(bits));
            emit(first - row_key + at, std::exchange(sums_[at], 0));
          }
        }
      }
    }
  }

 private:
  void add(uint64_t at, uint64_t value) {
    sums_[at] += value;
    words_[at >> 6] |= uint64_t{1} << (at & 63);
    summary_[at >> 12] |= uint64_t{1} << ((at >> 6) & 63);
  }

  uint64_t window_;
  std::vector<uint64_t> sums_;
  std::vector<uint64_t> words_;    // bit per column with a sum
  std::vector<uint64_t> summary_;  // bit per nonzero word
};

// Merges rows [r0, r1): the dense cells of each row, then its run entries
// (within a row the dense columns all precede the sparse ones).
class RowMerger {
 public:
  RowMerger(const MergeInput& in, int64_t r0, int64_t r1)
      : in_(in), l_(*in.layout), r0_(r0), r1_(r1) {
    const auto vocab = static_cast<uint64_t>(in.vocab);
    for (const Run& run : *in.runs) {
      const RunSlice slice{&run, lower_bound(run, static_cast<uint64_t>(r0) * vocab),
                           lower_bound(run, static_cast<uint64_t>(r1) * vocab)};
      bound_ += slice.end - slice.first;
      slices_.push_back(slice);
    }
    for (int64_t r = r0; r < r1; ++r) bound_ += dense_row_bound(l_, r);
  }

  // The most entries the rows can give.
  int64_t bound() const { return bound_; }

  template <typename Sink>
  void run(Sink& sink, ColumnSums& sums) {
    std::vector<RunCursor> cursors;  // file runs
    std::vector<ColumnSums::Updates> updates;  // runs in memory
    cursors.reserve(slices_.size());
    for (const RunSlice& slice : slices_) {
      if (slice.run->file) {
        cursors.emplace_back(slice, in_.reader_entries);
      } else {
        const SortedUpdates& u = slice.run->memory;
        const uint64_t* at = u.entries.data();
        updates.push_back({at + slice.first, at + std::max(slice.first, slice.end), u.distance_bits, u.weight});
      }
    }
    const auto vocab = static_cast<uint64_t>(in_.vocab);
    auto emit = [&](int64_t r, int64_t c, uint64_t value) {
      if (value != 0) sink.emit(r, c, value);
    };
    for (int64_t block = r0_; block < r1_; block += kRowBlock) {
      const int64_t block_end = std::min(r1_, block + kRowBlock);
      if (in_.table && l_.triangular) gather_columns(block, block_end);
      for (int64_t r = block; r < block_end; ++r) {
        if (in_.table) dense_row(r, r - block, emit);
        const uint64_t row_key = static_cast<uint64_t>(r) * vocab;
        sums.row(cursors, updates, row_key, row_key + vocab,
                 [&](uint64_t c, uint64_t value) { emit(r, static_cast<int64_t>(c), value); });
      }
    }
    sink.finish();
  }

 private:
  // Triangular table: the cells (c, r), c < r, of rows r in a block are
  // column reads; 8 neighbouring rows share each cache line read.
  void gather_columns(int64_t block, int64_t block_end) {
    columns_ = 0;
    for (int64_t r = block; r < block_end; ++r)
      columns_ = std::max<int64_t>(columns_, std::min<int64_t>(r, l_.limit[r]));
    column_cells_.resize(static_cast<size_t>(columns_ * kRowBlock));
    for (int64_t c = 0; c < columns_; ++c) {
      const uint64_t* row_c = in_.table + l_.offset[c];
      for (int64_t r = block; r < block_end; ++r)
        if (c < std::min<int64_t>(r, l_.limit[r])) column_cells_[(r - block) * columns_ + c] = row_c[r];
    }
  }

  template <typename Emit>
  void dense_row(int64_t r, int64_t k, Emit& emit) {
    const uint64_t* row = in_.table + l_.offset[r];
    const int64_t lim = l_.limit[r];
    if (!l_.triangular) {
      for (int64_t c = 0; c < lim; ++c) emit(r, c, row[c]);
      return;
    }
    const int64_t before = std::min<int64_t>(r, lim);
    const uint64_t* column = column_cells_.data() + k * columns_;
    for (int64_t c = 0; c < before; ++c) emit(r, c, column[c]);
    if (r < lim) emit(r, r, 2 * row[r]);  // symmetric counting adds a diagonal pair twice
    for (int64_t c = r + 1; c < lim; ++c) emit(r, c, row[c]);
  }

  const MergeInput& in_;
  const DenseLayout& l_;
  const int64_t r0_, r1_;
  std::vector<RunSlice> slices_;
  int64_t bound_ = 0;
  std::vector<uint64_t> column_cells_;
  int64_t columns_ = 0;
};

// Row boundaries giving `parts` ranges about the same number of cells and entries.
std::vector<int64_t> split_rows(const MergeInput& in, int parts) {
  const int64_t vocab = in.vocab;
  std::vector<int64_t> dense_before(static_cast<size_t>(vocab) + 1, 0);
  for (int64_t r = 0; r < vocab; ++r) dense_before[r + 1] = dense_before[r] + dense_row_bound(*in.layout, r);
  auto work_before = [&](int64_t r) {
    int64_t w = dense_before[r];
    for (const Run& run : *in.runs) w += lower_bound(run, static_cast<uint64_t>(r) * static_cast<uint64_t>(vocab));
    return w;
  };
  return balanced_row_bounds(parts, vocab, work_before);
}

// Moves `piece` to [at, at + n) of `out`, from its tail, freeing as it goes.
template <typename T>
void move_tail_first(MallocArray<T>& piece, int64_t n, MallocArray<T>& out, int64_t at) {
  while (n > 0) {
    const int64_t count = std::min(n, kJoinPiece);
    std::memcpy(out.data() + at + n - count, piece.data() + n - count, static_cast<size_t>(count) * sizeof(T));
    n -= count;
    piece.resize(n);
  }
  piece = MallocArray<T>();
}

template <typename V>
void merge_rows(const MergeInput& in, CooccurMatrix& out, MallocArray<V>& out_values) {
  const std::vector<int64_t> first = in.threads > 1 ? split_rows(in, in.threads) : std::vector<int64_t>{0, in.vocab};
  const int threads = static_cast<int>(first.size()) - 1;
  std::vector<Piece<V>> pieces(threads);
  run_workers(threads, nullptr, [&](int t) {
    std::unique_ptr<ResultFiles> files;
    if (!in.result_dir.empty()) files = std::make_unique<ResultFiles>(in.result_dir, t);
    RowMerger merger(in, first[t], first[t + 1]);
    ColumnSink<V> sink(pieces[t], files.get(), merger.bound(), std::ldexp(1.0, -in.fraction_bits));
    ColumnSums sums(in.column_window_bits);
    merger.run(sink, sums);
  });
  int64_t total = 0;
  for (const Piece<V>& p : pieces) total += p.n;
  if (!in.result_dir.empty()) {
    for (const Piece<V>& p : pieces) out.file_counts.push_back(p.n);
    out.rows = MallocArray<int32_t>(0);
    out.cols = MallocArray<int32_t>(0);
    out.values = MallocArray<float>(0);
    out_values = MallocArray<V>(0);
    out.nnz = total;
    return;
  }
  out.rows = std::move(pieces[0].rows);
  out.cols = std::move(pieces[0].cols);
  out_values = std::move(pieces[0].values);
  out.rows.resize(total);
  out.cols.resize(total);
  out_values.resize(total);
  int64_t at = pieces[0].n;
  for (int t = 1; t < threads; ++t) {
    move_tail_first(pieces[t].rows, pieces[t].n, out.rows, at);
    move_tail_first(pieces[t].cols, pieces[t].n, out.cols, at);
    move_tail_first(pieces[t].values, pieces[t].n, out_values, at);
    at += pieces[t].n;
  }
  out.nnz = total;
}

// Pieces of the merge leave for the file in their order, whichever thread
// finishes them: a thread waits for its turn (the pieces before its own are
// taken earlier, so some thread is merging each), then appends. A failed
// thread releases the others.
class InOrder {
 public:
  explicit InOrder(GloveRecordWriter& out) : out_(out) {}

  // false: another thread failed; nothing more is written.
  bool put(int64_t piece, const std::vector<GloveRecord>& records) {
    std::unique_lock<std::mutex> lock(mutex_);
    turn_.wait(lock, [&] { return next_ == piece || failed_; });
    if (failed_) return false;
    out_.append(records.data(), static_cast<int64_t>(records.size()));
    ++next_;
    turn_.notify_all();
    return true;
  }

  void fail() {
    std::lock_guard<std::mutex> lock(mutex_);
    failed_ = true;
    turn_.notify_all();
  }

 private:
  GloveRecordWriter& out_;
  std::mutex mutex_;
  std::condition_variable turn_;
  int64_t next_ = 0;
  bool failed_ = false;
};

}  // namespace

int64_t merge_to_glove(const MergeInput& in, GloveRecordWriter& out) {
  EMBFORGE_CHECK(!in.fixed_point && in.result_dir.empty(),
                 "glove.c's records are written from float values, without result files");
  // Many more pieces than threads: a thread waits for its turn at most
  // about one piece's time, and holds one piece's records (at most its work).
  int64_t work = 0;
  for (int64_t r = 0; r < in.vocab; ++r) work += dense_row_bound(*in.layout, r);
  for (const Run& run : *in.runs) work += run.size();
  const int parts = static_cast<int>(std::clamp<int64_t>(
      std::max<int64_t>(in.threads * kPiecesPerThread, work / std::max<int64_t>(in.piece_work, 1)),
      1, std::max<int64_t>(in.vocab, 1)));
  const std::vector<int64_t> first = split_rows(in, parts);
  const double scale = std::ldexp(1.0, -in.fraction_bits);
  InOrder in_order(out);
  std::atomic<int64_t> next_piece{0};
  std::atomic<bool> stopped{false};
  run_workers(in.threads, nullptr, [&](int) {
    std::vector<GloveRecord> records;
    ColumnSums sums(in.column_window_bits);
    try {
      for (int64_t piece = next_piece++; piece < parts; piece = next_piece++) {
        if (in.progress && in.progress->stop_requested()) {  // Ctrl-C: between pieces
          stopped = true;
          in_order.fail();
          return;
        }
        RowMerger merger(in, first[piece], first[piece + 1]);
        RecordSink sink(records, scale);
        merger.run(sink, sums);
        if (!in_order.put(piece, records)) return;
      }
    } catch (...) {
      in_order.fail();
      throw;
    }
  });
  return stopped ? -1 : out.records();
}

void merge_to_coo(const MergeInput& in, CooccurMatrix& out) {
  if (in.fixed_point) {
    out.values = MallocArray<float>(0);
    merge_rows(in, out, out.fixed);
  } else {
    merge_rows(in, out, out.values);
  }
}

}  // namespace embforge::cooc

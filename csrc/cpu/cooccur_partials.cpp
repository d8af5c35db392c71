// Partial co-occurrence counts in fixed point: their exact sum and its
// conversion to the float32 values a single count returns, and their records
// grouped by owner rank for the exchange between ranks (cooccur.h).
//
// The merge splits the rows among threads (each thread's row range holds
// about the same number of input entries), and each thread k-way merges its
// range of every part with a binary heap of cursors into its own region of
// the output: the region starts where the inputs before its first row end,
// so no region can overrun the next (a range never outputs more entries than
// it reads). The regions are then moved together in order, and the tail is
// given back.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "embforge/balanced_split.h"
#include "embforge/check.h"
#include "embforge/cooccur.h"
#include "embforge/parallel.h"

namespace embforge {
namespace {

// (row, col) as one integer in (row, col) order; rows and cols are >= 0.
inline uint64_t key_of(int32_t row, int32_t col) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(row)) << 32) | static_cast<uint32_t>(col);
}

// Index of the first entry of `part` whose row is >= row.
int64_t row_start(const CooccurPart& part, int64_t row) {
  return std::lower_bound(part.rows, part.rows + part.n, row,
                          [](int32_t a, int64_t b) { return a < b; }) -
         part.rows;
}

void check_part(const CooccurPart& p, size_t index) {
  EMBFORGE_CHECK(p.n == 0 || (p.rows && p.cols && p.values), "part ", index, " has null arrays");
  for (int64_t i = 0; i < p.n; ++i) {
    EMBFORGE_CHECK(p.rows[i] >= 0 && p.cols[i] >= 0, "part ", index, " entry ", i, " has a negative id (",
                   p.rows[i], ", ", p.cols[i], ")");
    EMBFORGE_CHECK(p.values[i] >= 0, "part ", index, " entry ", i, " has value ", p.values[i],
                   ": fixed-point counts are >= 0");
    EMBFORGE_CHECK(i == 0 || key_of(p.rows[i - 1], p.cols[i - 1]) <= key_of(p.rows[i], p.cols[i]),
                   "part ", index, " is not sorted by (row, col) at entry ", i, " (", p.rows[i - 1], ", ",
                   p.cols[i - 1], ") then (", p.rows[i], ", ", p.cols[i], ")");
  }
}

struct Cursor {
  const CooccurPart* part;
  int64_t at;
  int64_t end;
  uint64_t key;
};

// Merges entries [first[p], end[p]) of every part p into rows/cols/values;
// returns the number of entries written.
int64_t merge_range(const std::vector<CooccurPart>& parts, const std::vector<int64_t>& first,
                    const std::vector<int64_t>& end, int32_t* rows, int32_t* cols, int64_t* values) {
  std::vector<Cursor> cursors;
  for (size_t p = 0; p < parts.size(); ++p)
    if (first[p] < end[p])
      cursors.push_back({&parts[p], first[p], end[p], key_of(parts[p].rows[first[p]], parts[p].cols[first[p]])});
  std::vector<int> heap(cursors.size());
  for (size_t i = 0; i < heap.size(); ++i) heap[i] = static_cast<int>(i);
  const auto later = [&](int a, int b) { return cursors[a].key > cursors[b].key; };  // min-heap
  std::make_heap(heap.begin(), heap.end(), later);
  int64_t n = 0;
  uint64_t key = 0;
  int64_t sum = -1;  // -1: no entry yet
  auto write = [&] {
    if (sum <= 0) return;  // nothing yet, or a zero sum (left out, as a count does)
    rows[n] = static_cast<int32_t>(key >> 32);
    cols[n] = static_cast<int32_t>(key & 0xFFFFFFFFu);
    values[n] = sum;
    ++n;
  };
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    Cursor& c = cursors[heap.back()];
    const int64_t value = c.part->values[c.at];
    if (sum >= 0 && c.key == key) {
      EMBFORGE_CHECK(!__builtin_add_overflow(sum, value, &sum), "the sum at (", key >> 32, ", ",
                     key & 0xFFFFFFFFu, ") overflows int64: the parts were counted with more "
                     "fraction_bits than their total allows (cooccurrence_fraction_bits)");
    } else {
      write();
      key = c.key;
      sum = value;
    }
    if (++c.at < c.end) {
      c.key = key_of(c.part->rows[c.at], c.part->cols[c.at]);
      std::push_heap(heap.begin(), heap.end(), later);
    } else {
      heap.pop_back();
    }
  }
  write();
  return n;
}

// Moves n entries from `from` down to `to` (to <= from).
template <typename T>
void move_down(T* data, int64_t to, int64_t from, int64_t n) {
  if (to != from && n > 0) std::memmove(data + to, data + from, static_cast<size_t>(n) * sizeof(T));
}

constexpr int64_t kMinEntriesPerThread = 1 << 16;

}  // namespace

FixedCooccurrences merge_cooccurrence_partials(const std::vector<CooccurPart>& parts, int workers) {
  EMBFORGE_CHECK(workers >= 1, "workers must be >= 1, got ", workers);
  int64_t total = 0;
  int64_t rows_end = 0;  // one past the largest row
  for (size_t p = 0; p < parts.size(); ++p) {
    EMBFORGE_CHECK(parts[p].n >= 0, "part ", p, " has ", parts[p].n, " entries");
    total += parts[p].n;
    if (parts[p].n > 0) rows_end = std::max<int64_t>(rows_end, parts[p].rows[parts[p].n - 1] + int64_t{1});
  }
  const int threads =
      static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(workers, total / kMinEntriesPerThread)));
  const int checkers = static_cast<int>(std::min<int64_t>(workers, static_cast<int64_t>(parts.size())));
  run_workers(std::max(checkers, 1), nullptr, [&](int t) {
    for (size_t p = static_cast<size_t>(t); p < parts.size(); p += static_cast<size_t>(checkers))
      check_part(parts[p], p);
  });

  // Row boundaries: thread t merges rows [bound[t], bound[t + 1]), which hold
  // about total * t / threads input entries before them.
  auto entries_before = [&](int64_t row) {
    int64_t n = 0;
    for (const CooccurPart& part : parts) n += row_start(part, row);
    return n;
  };
  const std::vector<int64_t> bound = balanced_row_bounds(threads, rows_end, entries_before);

  FixedCooccurrences out;
  out.rows = MallocArray<int32_t>(total);
  out.cols = MallocArray<int32_t>(total);
  out.values = MallocArray<int64_t>(total);
  std::vector<int64_t> base(threads), written(threads, 0);
  run_workers(threads, nullptr, [&](int t) {
    std::vector<int64_t> first(parts.size()), end(parts.size());
    int64_t at = 0;
    for (size_t p = 0; p < parts.size(); ++p) {
      first[p] = row_start(parts[p], bound[t]);
      end[p] = t + 1 == threads ? parts[p].n : row_start(parts[p], bound[t + 1]);
      at += first[p];
    }
    base[t] = at;
    written[t] = merge_range(parts, first, end, out.rows.data() + at, out.cols.data() + at,
                             out.values.data() + at);
  });
  int64_t nnz = 0;
  for (int t = 0; t < threads; ++t) {
    move_down(out.rows.data(), nnz, base[t], written[t]);
    move_down(out.cols.data(), nnz, base[t], written[t]);
    move_down(out.values.data(), nnz, base[t], written[t]);
    nnz += written[t];
  }
  out.rows.resize(nnz);
  out.cols.resize(nnz);
  out.values.resize(nnz);
  out.nnz = nnz;
  return out;
}

void pack_cooccurrences_by_owner(const CooccurPart& part, int world_size, PackedCooccurrence* out,
                                 int64_t* counts) {
  EMBFORGE_CHECK(world_size >= 1, "world_size must be >= 1, got ", world_size);
  EMBFORGE_CHECK(part.n >= 0 && (part.n == 0 || (part.rows && part.cols && part.values)),
                 "a part of ", part.n, " entries needs its arrays");
  std::fill(counts, counts + world_size, int64_t{0});
  for (int64_t i = 0; i < part.n; ++i) {
    EMBFORGE_CHECK(part.rows[i] >= 0, "entry ", i, " has row ", part.rows[i], ": ids are >= 0");
    ++counts[part.rows[i] % world_size];
  }
  std::vector<int64_t> next(static_cast<size_t>(world_size), 0);
  for (int r = 1; r < world_size; ++r) next[r] = next[r - 1] + counts[r - 1];
  for (int64_t i = 0; i < part.n; ++i) {
    PackedCooccurrence& record = out[next[part.rows[i] % world_size]++];
    record.row = part.rows[i];
    record.col = part.cols[i];
    record.value = part.values[i];
  }
}

void cooccurrence_fixed_to_float(const int64_t* fixed, int64_t n, int fraction_bits, float* out) {
  EMBFORGE_CHECK(fraction_bits >= 0 && fraction_bits <= 62, "fraction_bits must be in [0, 62], got ",
                 fraction_bits);
  const double scale = std::ldexp(1.0, -fraction_bits);  // as the count's merge (cooccur_merge.cpp)
  for (int64_t i = 0; i < n; ++i) {
    EMBFORGE_CHECK(fixed[i] >= 0, "fixed[", i, "] = ", fixed[i], " is negative: fixed-point counts are >= 0");
    out[i] = cooc::fixed_to_float(static_cast<uint64_t>(fixed[i]), scale);
  }
}

}  // namespace embforge

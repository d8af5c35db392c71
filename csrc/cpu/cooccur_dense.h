// The dense part of the co-occurrence table (Stanford cooccur's idea).
//
// Ids are frequency ranks, so pairs of two frequent words take most of the
// updates (on gcide+kdocs, window 10: rank product <= 1e6 holds 79% of them).
// Those pairs, (a+1)(b+1) <= max_product, are added straight into a table
// with a row per word a holding columns b < limit[a] = max_product / (a+1):
// about max_product * ln(max_product) cells. The region is symmetric, so a
// pair and its transpose are both in it or both out of it.
//
// For symmetric counts the table is triangular: X[a][b] = X[b][a], so only
// cells a <= b are stored (row a holds columns [a, limit[a])) and each pair
// costs one random update instead of two, in half the memory.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

namespace embforge::cooc {

struct DenseLayout {
  int64_t max_product = 0;
  bool triangular = false;
  std::vector<uint32_t> limit;   // [vocab]: pairs (a, b) with b < limit[a] are dense
  std::vector<int64_t> offset;   // [vocab + 1]: cell of (a, first stored column) ...
  int64_t cells = 0;

  DenseLayout(int64_t max_product_, int64_t vocab, bool triangular_)
      : max_product(max_product_), triangular(triangular_) {
    limit.assign(static_cast<size_t>(vocab), 0);
    offset.assign(static_cast<size_t>(vocab) + 1, 0);
    for (int64_t a = 0; a < vocab; ++a) {
      limit[a] = static_cast<uint32_t>(std::min<int64_t>(vocab, max_product / (a + 1)));
      offset[a + 1] = offset[a] + row_cells(a);
    }
    cells = offset[vocab];
    // ... minus the first stored column, so that cell(a, b) = offset[a] + b.
    if (triangular)
      for (int64_t a = 0; a < vocab; ++a) offset[a] -= a;
  }

  int64_t row_cells(int64_t a) const {
    return triangular ? std::max<int64_t>(0, limit[a] - a) : limit[a];
  }
  // Cell of the dense pair (a, b); triangular layouts need a <= b.
  int64_t cell(uint32_t a, uint32_t b) const { return offset[a] + b; }

  // Cells for a given max_product, without building the layout.
  static int64_t cells_for(int64_t max_product, int64_t vocab, bool triangular) {
    int64_t cells = 0;
    for (int64_t a = 0; a < vocab && max_product / (a + 1) > 0; ++a) {
      const int64_t lim = std::min<int64_t>(vocab, max_product / (a + 1));
      cells += triangular ? std::max<int64_t>(0, lim - a) : lim;
    }
    return cells;
  }

  // Largest max_product whose table takes at most `max_cells` cells.
  static int64_t largest_within(int64_t max_cells, int64_t vocab, bool triangular) {
    int64_t lo = 0, hi = vocab * vocab;  // V^2: every pair dense
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo + 1) / 2;
      if (cells_for(mid, vocab, triangular) <= max_cells) lo = mid; else hi = mid - 1;
    }
    return lo;
  }
};

// A thread's table of fixed-point sums, zeroed. Anonymous mmap with
// transparent huge pages: updates land on random cells of a table of
// hundreds of MB, and with 4 KiB pages nearly every one missed the TLB.
class DenseTable {
 public:
  DenseTable() = default;
  explicit DenseTable(int64_t cells) : bytes_(static_cast<size_t>(cells) * sizeof(uint64_t)) {
    if (bytes_ == 0) return;
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    ::madvise(p, bytes_, MADV_HUGEPAGE);  // advisory: ignored where THP is off
#endif
    cells_ = static_cast<uint64_t*>(p);
  }
  DenseTable(DenseTable&& other) noexcept { *this = std::move(other); }
  DenseTable& operator=(DenseTable&& other) noexcept {
    std::swap(cells_, other.cells_);
    std::swap(bytes_, other.bytes_);
    return *this;
  }
  ~DenseTable() {
    if (cells_) ::munmap(cells_, bytes_);
  }
  uint64_t* data() const { return cells_; }

 private:
  uint64_t* cells_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace embforge::cooc

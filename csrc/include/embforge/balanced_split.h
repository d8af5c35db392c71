// Splitting rows among threads so that each gets about the same work.
#pragma once

#include <cstdint>
#include <vector>

namespace embforge {

// Row bounds for `threads` workers: thread t takes rows [bound[t],
// bound[t + 1]) of [0, rows), where work_before(r), non-decreasing, is the
// work of rows [0, r); each bound is the first row with at least
// total * t / threads work before it (a binary search per thread).
template <typename WorkBefore>
std::vector<int64_t> balanced_row_bounds(int threads, int64_t rows, WorkBefore&& work_before) {
  const int64_t total = work_before(rows);
  std::vector<int64_t> bound(static_cast<size_t>(threads) + 1, rows);
  bound[0] = 0;
  for (int t = 1; t < threads; ++t) {
    const int64_t target = total / threads * t;
    int64_t lo = bound[t - 1], hi = rows;
    while (lo < hi) {
      const int64_t mid = lo + (hi - lo) / 2;
      if (work_before(mid) < target) lo = mid + 1; else hi = mid;
    }
    bound[t] = lo;
  }
  return bound;
}

}  // namespace embforge

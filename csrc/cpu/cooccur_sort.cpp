#include "cooccur_sort.h"

#include <algorithm>
#include <vector>

namespace embforge::cooc {

uint64_t* radix_sort(uint64_t* data, uint64_t* scratch, int64_t n, int low_bit, int high_bit) {
  // 11-bit digits: 2048 counters per pass stay in L1, and a 32-bit key
  // (a vocabulary of 65k words) takes 3 passes.
  constexpr int kDigitBits = 11;
  constexpr int kBuckets = 1 << kDigitBits;
  const int passes = (high_bit - low_bit + kDigitBits - 1) / kDigitBits;
  if (n <= 1 || passes <= 0) return data;
  std::vector<int64_t> counts(static_cast<size_t>(passes) * kBuckets, 0);
  for (int64_t i = 0; i < n; ++i) {  // all histograms in one read
    const uint64_t v = data[i] >> low_bit;
    for (int p = 0; p < passes; ++p) ++counts[p * kBuckets + ((v >> (p * kDigitBits)) & (kBuckets - 1))];
  }
  uint64_t* from = data;
  uint64_t* to = scratch;
  for (int p = 0; p < passes; ++p) {
    int64_t* count = counts.data() + p * kBuckets;
    const int shift = low_bit + p * kDigitBits;
    if (*std::max_element(count, count + kBuckets) == n) continue;  // digit constant: nothing to do
    int64_t sum = 0;
    for (int b = 0; b < kBuckets; ++b) {
      const int64_t c = count[b];
      count[b] = sum;
      sum += c;
    }
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t v = from[i];
      to[count[(v >> shift) & (kBuckets - 1)]++] = v;
    }
    std::swap(from, to);
  }
  return from;
}

int64_t count_keys(const uint64_t* sorted, int64_t n, int distance_bits) {
  int64_t keys = n > 0 ? 1 : 0;
  for (int64_t i = 1; i < n; ++i) keys += (sorted[i] >> distance_bits) != (sorted[i - 1] >> distance_bits);
  return keys;
}

}  // namespace embforge::cooc

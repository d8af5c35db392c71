#include "cooccur_sort.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

namespace embforge::cooc {
namespace {

// 11-bit digits: 2048 counters per pass stay in L1.
constexpr int kDigitBits = 11;
// Up to this many entries, a comparison sort (buckets are kept larger).
constexpr int64_t kCompareBelow = 256;
// Below this many entries, plain LSD passes.
constexpr int64_t kSplitFrom = int64_t{1} << 15;
// Entries per bucket of a split: a bucket and its scratch (256 KiB) stay in
// L2 while the LSD passes go over them.
constexpr int64_t kBucketEntries = int64_t{1} << 14;

// LSD passes of `digit_bits` over bits [low_bit, high_bit) of from[0..n),
// ping-ponging with to[0..n); returns the array that holds the result.
// `counts` has room for every pass's histogram.
template <typename Count>
uint64_t* lsd_sort(uint64_t* from, uint64_t* to, int64_t n, int low_bit, int high_bit,
                   int digit_bits, Count* counts) {
  const int buckets = 1 << digit_bits;
  const uint64_t mask = static_cast<uint64_t>(buckets - 1);
  const int passes = (high_bit - low_bit + digit_bits - 1) / digit_bits;
  std::fill(counts, counts + static_cast<int64_t>(passes) * buckets, Count{0});
  for (int64_t i = 0; i < n; ++i) {  // all histograms in one read
    const uint64_t v = from[i] >> low_bit;
    for (int p = 0; p < passes; ++p) ++counts[p * buckets + ((v >> (p * digit_bits)) & mask)];
  }
  for (int p = 0; p < passes; ++p) {
    Count* count = counts + p * buckets;
    const int shift = low_bit + p * digit_bits;
    if (static_cast<int64_t>(*std::max_element(count, count + buckets)) == n) continue;  // digit constant
    Count sum = 0;
    for (int b = 0; b < buckets; ++b) {
      const Count c = count[b];
      count[b] = sum;
      sum += c;
    }
    for (int64_t i = 0; i < n; ++i) {
      const uint64_t v = from[i];
      to[count[(v >> shift) & mask]++] = v;
    }
    std::swap(from, to);
  }
  return from;
}

// Sorts from[0, n) on bits [low_bit, high_bit); returns the array that holds
// the result (from or to). Small input or a key of one digit: LSD passes in
// equal digits of at most kDigitBits (e.g. 21 bits: 11 + 10). Else one pass
// splits it by its top bits into `to`, and each bucket is sorted on the bits
// below the same way, with its own stretch of `from` (already copied out) as
// the other half: a bucket of frequent rows larger than the caches is split
// again rather than sorted by passes through main memory.
uint64_t* split_sort(uint64_t* from, uint64_t* to, int64_t n, int low_bit, int high_bit) {
  const int bits = high_bit - low_bit;
  if (n <= kCompareBelow) {  // counters would cost more than the entries
    const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    std::sort(from, from + n,
              [&](uint64_t a, uint64_t b) { return ((a >> low_bit) & mask) < ((b >> low_bit) & mask); });
    return from;
  }
  if (n < kSplitFrom || bits <= kDigitBits) {
    const int passes = (bits + kDigitBits - 1) / kDigitBits;
    const int digit_bits = (bits + passes - 1) / passes;
    if (n <= INT64_C(0xffffffff)) {
      std::vector<uint32_t> counts(static_cast<size_t>(passes) << digit_bits);
      return lsd_sort(from, to, n, low_bit, high_bit, digit_bits, counts.data());
    }
    std::vector<int64_t> counts(static_cast<size_t>(passes) << digit_bits);
    return lsd_sort(from, to, n, low_bit, high_bit, digit_bits, counts.data());
  }
  // Enough buckets for kBucketEntries each on average, and enough that the
  // bits left take two LSD passes rather than three; one digit at most.
  const int wanted = std::max(static_cast<int>(std::bit_width(static_cast<uint64_t>(n / kBucketEntries))),
                              bits - 2 * kDigitBits);
  const int most = std::min({kDigitBits, bits - 1,
                             static_cast<int>(std::bit_width(static_cast<uint64_t>(n / kCompareBelow)))});
  const int top_bits = std::clamp(wanted, 1, std::max(1, most));
  const int top_shift = high_bit - top_bits;
  const int64_t buckets = int64_t{1} << top_bits;
  const uint64_t top_mask = static_cast<uint64_t>(buckets - 1);
  std::vector<int64_t> start(static_cast<size_t>(buckets) + 1, 0);
  for (int64_t i = 0; i < n; ++i) ++start[((from[i] >> top_shift) & top_mask) + 1];
  for (int64_t b = 0; b < buckets; ++b) start[b + 1] += start[b];
  std::vector<int64_t> next(start.begin(), start.end() - 1);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t v = from[i];
    to[next[(v >> top_shift) & top_mask]++] = v;
  }
  for (int64_t b = 0; b < buckets; ++b) {
    const int64_t first = start[b], m = start[b + 1] - first;
    if (m <= 1) continue;
    const uint64_t* sorted = split_sort(to + first, from + first, m, low_bit, top_shift);
    if (sorted != to + first) std::memcpy(to + first, sorted, static_cast<size_t>(m) * sizeof(uint64_t));
  }
  return to;
}

}  // namespace

uint64_t* radix_sort(uint64_t* data, uint64_t* scratch, int64_t n, int low_bit, int high_bit) {
  if (n <= 1 || high_bit <= low_bit) return data;
  return split_sort(data, scratch, n, low_bit, high_bit);
}

int64_t count_keys(const uint64_t* sorted, int64_t n, int distance_bits) {
  int64_t keys = n > 0 ? 1 : 0;
  for (int64_t i = 1; i < n; ++i) keys += (sorted[i] >> distance_bits) != (sorted[i - 1] >> distance_bits);
  return keys;
}

}  // namespace embforge::cooc

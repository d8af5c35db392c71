// Sorting a thread's buffer of pair updates into a run.
//
// A buffered update is one uint64: (row * vocab + col) << distance_bits | d,
// 8 bytes instead of a (key, value) pair of 16, so a buffer holds twice the
// updates and the radix sort moves half the bytes. The value w(d) is looked
// up when equal keys are summed.
#pragma once

#include <cstdint>

namespace embforge::cooc {

// LSD radix sort of data[0..n) on bits [low_bit, high_bit) (other bits are
// carried along, in no particular order within equal keys). Uses `scratch`
// (n entries); returns the pointer that holds the sorted result.
uint64_t* radix_sort(uint64_t* data, uint64_t* scratch, int64_t n, int low_bit, int high_bit);


// Number of distinct keys (entry >> distance_bits) in a sorted buffer.
int64_t count_keys(const uint64_t* sorted, int64_t n, int distance_bits);

// Calls emit(key, summed fixed-point value) once per distinct key, in order.
template <typename Emit>
void reduce_sorted(const uint64_t* sorted, int64_t n, int distance_bits,
                   const uint64_t* weight_fixed, Emit&& emit) {
  const uint64_t mask = (uint64_t{1} << distance_bits) - 1;
  int64_t i = 0;
  while (i < n) {
    const uint64_t key = sorted[i] >> distance_bits;
    uint64_t value = 0;
    for (; i < n && (sorted[i] >> distance_bits) == key; ++i) value += weight_fixed[sorted[i] & mask];
    emit(key, value);
  }
}

}  // namespace embforge::cooc

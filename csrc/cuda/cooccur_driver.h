// The chunk loop of the GPU co-occurrence count, written once against an
// `Ops` backend: CUDA kernels + CUB on the device (cooccur.cu), plain loops
// on the host for the tests (tests/emulation/emulation.cpp). Host code only.
//
// Memory: two key and two value buffers of `capacity` uint64 entries (the
// sort's double buffer) within the caller's budget. Buffer 0 holds the
// summed matrix so far (`acc` sorted unique keys); each chunk writes the next
// positions' pair slots after it, is sorted and summed alone, and is merged
// into the matrix in one linear pass (a chunk's cost is the chunk's sort plus
// a pass over the matrix, not a sort of the whole matrix). Chunks take the
// room the matrix leaves, down to a single position's slots: only a matrix
// that leaves less room than that is too big for the budget.
//
// Keys are uint64, or uint32 (kNarrowKeys: cooccur_core.cuh) stored in the
// first half of each key buffer (key_buffer<Key>); values are uint64.
//
// Ops must provide:
//   int64_t generate(CooccurBuffers& b, int64_t at, int64_t begin, int64_t end)
//       the pairs of positions [begin, end) into buffer 0 from entry `at`
//       (window slots each, or only the real pairs with kCompactPairs);
//       returns the number of entries written
//   int64_t sort_chunk(CooccurBuffers& b, int64_t acc, int64_t n)
//       sort + sum equal keys of b.keys[0][acc, acc + n) (either buffer's
//       [acc, acc + n) may be used as scratch) into b.keys[0][acc, acc + m),
//       empty slots dropped; returns m. b.keys[0][0, acc) is left alone.
//   int64_t merge(CooccurBuffers& b, int64_t acc, int64_t m)
//       merge the sorted unique runs b.keys[0][0, acc) and [acc, acc + m),
//       summing equal keys, into b.keys[0][0, result) (swapping the buffer
//       pointers as needed); returns the number of keys
//   void transpose(CooccurBuffers& b, int64_t n)
//       b.keys[0][n + k] = transpose of b.keys[0][k], values alike
//   void finish(CooccurBuffers& b, int64_t n)
//       the n result keys as uint64 in b.keys[0] (narrow keys widened,
//       swapping the key buffer pointers as needed)
//   int64_t pair_count()   real pairs generated so far
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "embforge/progress.h"

namespace embforge::cuda {

struct CooccurBuffers {
  uint64_t* keys[2] = {nullptr, nullptr};
  uint64_t* values[2] = {nullptr, nullptr};
  int64_t capacity = 0;  // entries per buffer
};

// Buffer i's keys as Key (uint64_t or uint32_t).
template <class Key>
Key* key_buffer(const CooccurBuffers& b, int i) {
  return reinterpret_cast<Key*>(b.keys[i]);
}

struct CooccurOutcome {
  int64_t nnz = 0;           // entries in b.keys[0] / b.values[0]
  int64_t pair_updates = 0;  // additions into X (2 per pair when symmetric)
  int64_t chunks = 0;
  bool stopped = false;
};

template <class Ops>
CooccurOutcome run_cooccur(Ops& ops, CooccurBuffers& b, int64_t n_ids, int window,
                           bool symmetric, Progress* progress) {
  CooccurOutcome out;
  if (progress) progress->reset(n_ids);
  int64_t acc = 0;
  for (int64_t pos = 0; pos < n_ids;) {
    if (progress && progress->stop_requested()) {
      out.stopped = true;
      out.nnz = 0;
      return out;
    }
    const int64_t room = b.capacity - acc;
    const int64_t positions = std::min(n_ids - pos, room / window);
    if (positions == 0)
      throw std::runtime_error(
          "embforge CUDA co-occurrence: the matrix (" + std::to_string(acc) +
          " entries so far) fills the device memory budget of " + std::to_string(b.capacity) +
          " entries per buffer; pass a larger memory budget or count on the CPU");
    const int64_t n = ops.generate(b, acc, pos, pos + positions);
    const int64_t m = ops.sort_chunk(b, acc, n);
    acc = ops.merge(b, acc, m);
    pos += positions;
    ++out.chunks;
    if (progress) progress->work_done += positions;
  }
  if (symmetric && acc > 0) {
    if (2 * acc > b.capacity)
      throw std::runtime_error("embforge CUDA co-occurrence: the symmetric matrix needs " +
                               std::to_string(2 * acc) + " entries per buffer, the budget holds " +
                               std::to_string(b.capacity) + "; pass a larger memory budget");
    ops.transpose(b, acc);  // L^T: unique keys, as L's
    const int64_t m = ops.sort_chunk(b, acc, acc);
    acc = ops.merge(b, acc, m);
  }
  ops.finish(b, acc);
  out.nnz = acc;
  out.pair_updates = ops.pair_count() * (symmetric ? 2 : 1);
  return out;
}

}  // namespace embforge::cuda

// GloVe kernels: pair records from the COO matrix, the initialisation, and
// training with a warp per pair over a keyed permutation of the pairs
// (glove_core.cuh holds the update, the order and the race model). A warp's
// lanes read consecutive coordinates of each row, so every row moves in
// whole 128-byte lines.
#include <cuda_runtime.h>

#include <algorithm>

#include "embforge/check.h"
#include "embforge/cuda_kernels.h"
#include "glove_core.cuh"
#include "launch.cuh"

namespace embforge::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kDefaultWarps = 8;

unsigned grid_for(int64_t n) {
  return static_cast<unsigned>(std::clamp<int64_t>((n + kThreads - 1) / kThreads, 1, 1 << 20));
}

__global__ void glove_pairs_kernel(const int32_t* rows, const int32_t* cols, const float* values,
                                   int64_t n, int64_t vocab, double x_max, double alpha,
                                   glove::Pair* out, unsigned long long* invalid) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    if (!glove_make_pair(rows[i], cols[i], values[i], vocab, x_max, alpha, out + i))
      atomicAdd(invalid, 1ull);
}

__global__ void glove_init_kernel(float* weights, float* gradsq, int64_t rows, int dim, uint64_t seed) {
  const int64_t stride = dim + 1;
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x)
    glove_init_row(weights + r * stride, gradsq + r * stride, dim, seed, r);
}

__global__ void glove_train_kernel(GloveArgs a, int64_t begin, int64_t end, double* cost,
                                   unsigned long long* counts) {
  const WarpGroup g;
  const int64_t warp = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * blockDim.x / 32;
  GloveCounters c;
  glove_steps(g, a, begin, end, warp, warps, c);
  if (g.rank() == 0 && c.pairs > 0) {
    atomicAdd(cost, c.cost);
    atomicAdd(&counts[0], static_cast<unsigned long long>(c.pairs));
    atomicAdd(&counts[1], static_cast<unsigned long long>(c.skipped));
  }
}

}  // namespace

void glove_make_pairs(const int32_t* rows, const int32_t* cols, const float* values, int64_t n,
                      int64_t vocab_size, double x_max, double alpha, uint32_t* pairs,
                      unsigned long long* invalid, int device, uintptr_t stream) {
  EMBFORGE_CHECK(x_max > 0.0, "x_max must be > 0, got ", x_max);
  EMBFORGE_CHECK(alpha >= 0.0, "alpha must be >= 0, got ", alpha);
  EMBFORGE_CHECK(n >= 0 && n <= int64_t{0xFFFFFFFF}, "number of pairs must be in [0, 2^32 - 1], got ", n);
  if (n == 0) return;
  EMBFORGE_CHECK(rows && cols && values && pairs && invalid, "glove_make_pairs: null device pointer");
  use_device(device);
  glove_pairs_kernel<<<grid_for(n), kThreads, 0, as_stream(stream)>>>(
      rows, cols, values, n, vocab_size, x_max, alpha, reinterpret_cast<glove::Pair*>(pairs), invalid);
  check_launch("glove_pairs_kernel");
}

void glove_init(float* weights, float* gradsq, int64_t rows, int dim, uint64_t seed, int device,
                uintptr_t stream) {
  EMBFORGE_CHECK(rows >= 0 && dim >= 1, "invalid shape [", rows, ", ", dim, " + 1]");
  if (rows == 0) return;
  EMBFORGE_CHECK(weights && gradsq, "glove_init: null device pointer");
  use_device(device);
  glove_init_kernel<<<grid_for(rows), kThreads, 0, as_stream(stream)>>>(weights, gradsq, rows, dim, seed);
  check_launch("glove_init_kernel");
}

void glove_train_range(const GloveLaunch& l, int64_t begin, int64_t end, int device, uintptr_t stream) {
  EMBFORGE_CHECK(l.dim >= 1, "vector_size must be >= 1, got ", l.dim);
  EMBFORGE_CHECK(l.vocab_size >= 1, "empty vocabulary");
  EMBFORGE_CHECK(l.n_pairs >= 0 && l.n_pairs <= int64_t{0xFFFFFFFF},
                 "number of pairs must be in [0, 2^32 - 1], got ", l.n_pairs);
  EMBFORGE_CHECK(0 <= begin && begin <= end && end <= l.n_pairs, "range [", begin, ", ", end,
                 ") outside the ", l.n_pairs, " pairs");
  EMBFORGE_CHECK(l.learning_rate > 0.0f && l.grad_clip > 0.0f, "learning_rate and grad_clip must be > 0");
  EMBFORGE_CHECK(l.warps_per_block >= 0 && l.warps_per_block <= 32,
                 "warps_per_block must be in [0, 32], got ", l.warps_per_block);
  if (begin == end) return;
  EMBFORGE_CHECK(l.pairs && l.weights && l.gradsq && l.cost && l.counts, "glove: null device pointer");
  EMBFORGE_CHECK(aligned16(l.pairs), "glove: the pair records must be 16-byte aligned");
  use_device(device);

  GloveArgs a;
  a.pairs = reinterpret_cast<const glove::Pair*>(l.pairs);
  a.order = l.order;
  a.n_pairs = l.n_pairs;
  a.weights = l.weights;
  a.gradsq = l.gradsq;
  a.vocab_size = l.vocab_size;
  a.dim = l.dim;
  a.learning_rate = l.learning_rate;
  a.grad_clip = l.grad_clip;
  a.order_key = glove_order_key(l.seed, l.epoch);
  a.half_bits = glove_half_bits(l.n_pairs);

  const int threads = 32 * (l.warps_per_block > 0 ? l.warps_per_block : kDefaultWarps);
  const int64_t blocks = resident_blocks(glove_train_kernel, threads, 0, device,
                                         (end - begin + threads / 32 - 1) / (threads / 32));
  glove_train_kernel<<<static_cast<unsigned>(blocks), threads, 0, as_stream(stream)>>>(
      a, begin, end, l.cost, l.counts);
  check_launch("glove_train_kernel");
}

}  // namespace embforge::cuda

// GloVe kernels: pair records from the COO matrix, the initialisation, and
// training with a warp per pair over a keyed permutation of the pairs
// (glove_core.cuh holds the update, the order and the race model). A warp's
// lanes read consecutive coordinates of each row, so every row moves in
// whole 128-byte lines.
#include <cuda_runtime.h>

#include <algorithm>

#include "embforge/check.h"
#include "embforge/glove.h"
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

// One kernel per speed variant (Launch::variant: kStagedUpdate, kTightOrder),
// so that a variant's code and registers (the staged update holds a lane's
// coordinates of four rows) do not weigh on the default kernel.
template <bool Staged, bool Tight>
__global__ void glove_train_kernel(GloveArgs args, int64_t begin, int64_t end, double* cost,
                                   unsigned long long* counts) {
  GloveArgs a = args;
  a.staged = Staged;  // constants from here on
  a.tight_order = Tight;
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
                      unsigned long long* invalid, const Launch& launch) {
  EMBFORGE_CHECK(x_max > 0.0, "x_max must be > 0, got ", x_max);
  EMBFORGE_CHECK(alpha >= 0.0, "alpha must be >= 0, got ", alpha);
  EMBFORGE_CHECK(n >= 0 && n <= int64_t{0xFFFFFFFF}, "number of pairs must be in [0, 2^32 - 1], got ", n);
  if (n == 0) return;
  EMBFORGE_CHECK(rows && cols && values && pairs && invalid, "glove_make_pairs: null device pointer");
  use_device(launch.device);
  glove_pairs_kernel<<<grid_for(n), kThreads, 0, as_stream(launch.stream)>>>(
      rows, cols, values, n, vocab_size, x_max, alpha, reinterpret_cast<glove::Pair*>(pairs), invalid);
  check_launch(as_stream(launch.stream), [&] {
    return describe_launch("glove_pairs_kernel", {grid_for(n), kThreads, 0, launch.stream}, "n", n,
                           "vocab_size", vocab_size, "x_max", x_max, "alpha", alpha, "rows",
                           static_cast<const void*>(rows), "cols", static_cast<const void*>(cols),
                           "values", static_cast<const void*>(values), "pairs",
                           static_cast<const void*>(pairs), "device", launch.device);
  });
}

void glove_init(float* weights, float* gradsq, int64_t rows, int dim, uint64_t seed,
                const Launch& launch) {
  EMBFORGE_CHECK(rows >= 0 && dim >= 1, "invalid shape [", rows, ", ", dim, " + 1]");
  if (rows == 0) return;
  EMBFORGE_CHECK(weights && gradsq, "glove_init: null device pointer");
  use_device(launch.device);
  glove_init_kernel<<<grid_for(rows), kThreads, 0, as_stream(launch.stream)>>>(weights, gradsq, rows, dim, seed);
  check_launch(as_stream(launch.stream), [&] {
    return describe_launch("glove_init_kernel", {grid_for(rows), kThreads, 0, launch.stream},
                           "weights", static_cast<const void*>(weights), "gradsq",
                           static_cast<const void*>(gradsq), "rows", rows, "dim", dim, "seed", seed,
                           "device", launch.device);
  });
}

void glove_train_range(const GloveParams& params, const glove::Pair* pairs, const uint32_t* order,
                       int64_t n_pairs, const GloveModel& model, int64_t begin, int64_t end,
                       double* cost, unsigned long long* counts, const Launch& launch) {
  EMBFORGE_CHECK(params.vector_size >= 1, "vector_size must be >= 1, got ", params.vector_size);
  EMBFORGE_CHECK(model.vocab_size >= 1, "empty vocabulary");
  EMBFORGE_CHECK(n_pairs >= 0 && n_pairs <= int64_t{0xFFFFFFFF},
                 "number of pairs must be in [0, 2^32 - 1], got ", n_pairs);
  EMBFORGE_CHECK(0 <= begin && begin <= end && end <= n_pairs, "range [", begin, ", ", end,
                 ") outside the ", n_pairs, " pairs");
  EMBFORGE_CHECK(params.learning_rate > 0.0f && params.grad_clip > 0.0f,
                 "learning_rate and grad_clip must be > 0, got ", params.learning_rate, " and ",
                 params.grad_clip);
  EMBFORGE_CHECK(params.bias_learning_rate > 0.0f, "bias_learning_rate must be > 0, got ",
                 params.bias_learning_rate);
  EMBFORGE_CHECK(launch.warps_per_block >= 0 && launch.warps_per_block <= 32,
                 "warps_per_block must be in [0, 32], got ", launch.warps_per_block);
  if (begin == end) return;
  EMBFORGE_CHECK(pairs && model.weights && model.gradsq && cost && counts, "glove: null device pointer");
  EMBFORGE_CHECK(aligned16(pairs), "glove: the pair records must be 16-byte aligned");
  use_device(launch.device);

  GloveArgs a = glove_args(params, pairs, order, n_pairs, model);
  a.staged = (launch.variant & kStagedUpdate) != 0;
  a.tight_order = (launch.variant & kTightOrder) != 0;
  const int threads = 32 * (launch.warps_per_block > 0 ? launch.warps_per_block : kDefaultWarps);
  auto kernel = a.staged ? (a.tight_order ? glove_train_kernel<true, true> : glove_train_kernel<true, false>)
                         : (a.tight_order ? glove_train_kernel<false, true> : glove_train_kernel<false, false>);
  const int64_t blocks = resident_blocks(kernel, threads, 0, launch.device,
                                         (end - begin + threads / 32 - 1) / (threads / 32));
  kernel<<<static_cast<unsigned>(blocks), threads, 0, as_stream(launch.stream)>>>(a, begin, end, cost,
                                                                                  counts);
  check_launch(as_stream(launch.stream), [&] {
    return describe_launch(std::string("glove_train_kernel<") + (a.staged ? "staged" : "default") +
                               (a.tight_order ? ", tight order>" : ">"),
                           {blocks, threads, 0, launch.stream}, "begin", begin,
                           "end", end, "n_pairs", n_pairs, "variant", launch.variant, "dim", a.dim, "vocab_size", a.vocab_size,
                           "pairs", static_cast<const void*>(pairs), "order",
                           static_cast<const void*>(order), "weights",
                           static_cast<const void*>(a.weights), "gradsq",
                           static_cast<const void*>(a.gradsq), "device", launch.device);
  });
}

}  // namespace embforge::cuda

// Word2vec kernels: a warp per span of the id stream (w2v_core.cuh holds the
// algorithm and the race model), plus the input initialisation.
//
// Layout: blocks of `warps_per_block` warps walk the spans grid-stride (or
// take them from an atomic counter: Launch::variant kSpanQueue); each
// warp owns a slice of dynamic shared memory for its window's context ids,
// negatives and staged rows. Negatives are shared across a window and drawn
// from the alias table on the device; subsampling and window shrinking are
// decided per position from the id stream, which stays on the device for the
// whole run. Dot products are lane-parallel over dimensions with a butterfly
// reduction; rows move in 16-byte packs when the layout allows.
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "embforge/check.h"
#include "embforge/word2vec.h"
#include "launch.cuh"
#include "w2v_core.cuh"

namespace embforge::cuda {
namespace {

constexpr int kDefaultWarps = 4;
constexpr int kDefaultSpan = 256;         // positions per warp task
constexpr int64_t kScratchTarget = 12288;  // bytes per warp the context batch aims for
constexpr int kMaxWindow = 1024;

// Blocks of the register-capped kernels (kBoundedRegisters): at most this
// many warps, and registers few enough for this many blocks per SM (65,536
// registers / (8 blocks x 128 threads): 64 per thread), to compare occupancy
// against the default kernels' on the first GPU run.
constexpr int kBoundedWarps = 4;
constexpr int kBoundedBlocksPerSm = 8;

// The span queue's counter (kSpanQueue): one atomic increment per span.
struct DeviceSpanQueue {
  unsigned long long* cursor;
  __host__ __device__ int64_t take() {  // host: never called (SpanSource is host-device code)
#if defined(__CUDA_ARCH__)
    return static_cast<int64_t>(atomicAdd(cursor, 1ull));
#else
    return 0;
#endif
  }
};

// One warp's work: spans of [begin, end) grid-stride, or from the queue
// (Queue: kSpanQueue, a compile-time choice because a runtime one cost the
// default kernel ~20 registers).
template <int V, bool SkipGram, bool Pipelined, bool Queue>
__device__ __forceinline__ void word2vec_warp(const W2vArgs& args, int64_t begin, int64_t end, int span,
                                              int64_t scratch_bytes, double* loss,
                                              unsigned long long* counts, unsigned long long* queue) {
  W2vArgs a = args;
  a.skip_gram = SkipGram;  // constants from here on
  a.pipelined = Pipelined;
  extern __shared__ __align__(16) unsigned char shared[];
  const int warp = static_cast<int>(threadIdx.x / 32), warps = static_cast<int>(blockDim.x / 32);
  const W2vScratch s = w2v_scratch(shared + warp * scratch_bytes, a);
  const WarpGroup g;
  DeviceSpanQueue counter{queue};
  W2vCounters c;
  SpanSource<DeviceSpanQueue> source{Queue ? &counter : nullptr, static_cast<int64_t>(blockIdx.x) * warps + warp,
                                     static_cast<int64_t>(gridDim.x) * warps};
  w2v_spans<V>(g, a, s, begin, end, span, source, c);
  if (g.rank() == 0 && c.words_trained > 0) {
    atomicAdd(loss, c.loss);
    atomicAdd(&counts[0], static_cast<unsigned long long>(c.loss_terms));
    atomicAdd(&counts[1], static_cast<unsigned long long>(c.words_trained));
  }
}

// One kernel per model and pack width: with the model known at compile time
// the other model's code, and the registers it holds, drop out of each. The
// speed variants (launch.h) are kernels of their own, on the 16-byte pack
// path only, so that their code does not weigh on the default kernels.
template <int V, bool SkipGram, bool Pipelined, bool Queue>
__global__ void word2vec_kernel(W2vArgs args, int64_t begin, int64_t end, int span,
                                int64_t scratch_bytes, double* loss, unsigned long long* counts,
                                unsigned long long* queue) {
  word2vec_warp<V, SkipGram, Pipelined, Queue>(args, begin, end, span, scratch_bytes, loss, counts, queue);
}

template <bool SkipGram, bool Pipelined, bool Queue>
__global__ void __launch_bounds__(32 * kBoundedWarps, kBoundedBlocksPerSm)
    word2vec_bounded_kernel(W2vArgs args, int64_t begin, int64_t end, int span, int64_t scratch_bytes,
                            double* loss, unsigned long long* counts, unsigned long long* queue) {
  word2vec_warp<4, SkipGram, Pipelined, Queue>(args, begin, end, span, scratch_bytes, loss, counts, queue);
}

using Word2vecKernel = void (*)(W2vArgs, int64_t, int64_t, int, int64_t, double*, unsigned long long*,
                                unsigned long long*);

struct KernelChoice {
  Word2vecKernel kernel;
  std::string name;
};

template <bool SkipGram, bool Pipelined, bool Queue>
Word2vecKernel packed_kernel(bool bounded) {
  return bounded ? word2vec_bounded_kernel<SkipGram, Pipelined, Queue>
                 : word2vec_kernel<4, SkipGram, Pipelined, Queue>;
}

// The kernel for the model, the pack width and the variant bits (the
// variants need the 16-byte pack path; elsewhere the default kernels).
KernelChoice choose_kernel(bool packed, bool skip_gram, unsigned variant) {
  const std::string model = skip_gram ? "skip-gram" : "cbow";
  if (!packed)
    return {skip_gram ? word2vec_kernel<1, true, false, false> : word2vec_kernel<1, false, false, false>,
            "word2vec_kernel<1, " + model + ">"};
  const bool pipelined = (variant & kPipelinedLoads) != 0, queue = (variant & kSpanQueue) != 0;
  const bool bounded = (variant & kBoundedRegisters) != 0;
  Word2vecKernel k = nullptr;
  switch ((skip_gram ? 4 : 0) + (pipelined ? 2 : 0) + (queue ? 1 : 0)) {
    case 0: k = packed_kernel<false, false, false>(bounded); break;
    case 1: k = packed_kernel<false, false, true>(bounded); break;
    case 2: k = packed_kernel<false, true, false>(bounded); break;
    case 3: k = packed_kernel<false, true, true>(bounded); break;
    case 4: k = packed_kernel<true, false, false>(bounded); break;
    case 5: k = packed_kernel<true, false, true>(bounded); break;
    case 6: k = packed_kernel<true, true, false>(bounded); break;
    default: k = packed_kernel<true, true, true>(bounded); break;
  }
  return {k, std::string(bounded ? "word2vec_bounded_kernel<4, " : "word2vec_kernel<4, ") + model +
                 (pipelined ? ", pipelined" : "") + (queue ? ", span queue" : "") + ">"};
}

__global__ void word2vec_init_kernel(float* input, int64_t rows, int dim, uint64_t seed) {
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x)
    w2v_init_row(input + r * dim, dim, seed, r);
}

void check_args(const Word2VecParams& p, const CorpusView& c, const Word2VecModel& m,
                int64_t begin, int64_t end, const double* loss, const unsigned long long* counts,
                const Launch& l) {
  EMBFORGE_CHECK(p.vector_size >= 1, "vector_size must be >= 1, got ", p.vector_size);
  EMBFORGE_CHECK(p.window >= 1 && p.window <= kMaxWindow, "window must be in [1, ", kMaxWindow,
                 "] on CUDA, got ", p.window);
  EMBFORGE_CHECK(p.negative >= 1, "negative must be >= 1, got ", p.negative);
  EMBFORGE_CHECK(m.vocab_size >= 1 && m.vocab_size < (int64_t{1} << 32),
                 "vocabulary size must be in [1, 2^32), got ", m.vocab_size);
  EMBFORGE_CHECK(c.ids && c.offsets && m.input && m.output && m.keep_threshold && m.noise_keep &&
                     m.noise_alias && loss && counts,
                 "word2vec: device pointers must not be null");
  check_stream_range(c, begin, end, p.alpha_start, p.alpha_end, l);
  EMBFORGE_CHECK(l.batch >= 0, "batch must be >= 0, got ", l.batch);
}

}  // namespace

void word2vec_train_range(const Word2VecParams& params, const CorpusView& corpus,
                          const Word2VecModel& model, int64_t begin, int64_t end, double* loss,
                          unsigned long long* counts, const Launch& launch) {
  check_args(params, corpus, model, begin, end, loss, counts, launch);
  if (begin == end || corpus.n_sentences == 0) return;
  const int device = launch.device;
  use_device(device);

  W2vArgs a = w2v_args(params, corpus, model);
  // Skip-gram stages as many context rows as fit the per-warp target, so the
  // usual window (2 * 5 contexts at d=100) is one exact HogBatch pass.
  const int64_t dp = padded_dim(a.dim);
  const int64_t fit = (kScratchTarget / 4 / dp - 2) / 2;
  a.batch = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(2 * a.window, fit)));
  if (launch.batch > 0) a.batch = std::min(launch.batch, 2 * a.window);

  const int warps = launch.warps_per_block > 0 ? launch.warps_per_block : kDefaultWarps;
  const int span = launch.span > 0 ? launch.span : kDefaultSpan;
  const int64_t per_warp = w2v_scratch_bytes(a);
  const DeviceLimits limits = device_limits(device);
  EMBFORGE_CHECK(per_warp <= limits.shared_per_block_optin, "word2vec: vector_size ", a.dim,
                 " and window ", a.window, " need ", per_warp,
                 " bytes of shared memory per warp, the device allows ",
                 limits.shared_per_block_optin);
  const bool packed = a.dim % 4 == 0 && aligned16(a.input) && aligned16(a.output);
  const KernelChoice choice = choose_kernel(packed, a.skip_gram, launch.variant);
  const Word2vecKernel kernel = choice.kernel;
  const char* name = choice.name.c_str();
  const WarpGrid grid = warp_grid(kernel, "word2vec_kernel", per_warp, warps,
                                  (end - begin + span - 1) / span, device, limits);
  const int64_t blocks = grid.blocks;
  const int threads = grid.threads;
  const size_t shared = grid.shared;
  // The span queue's counter is counts[2], zeroed for each launch.
  unsigned long long* queue = packed && (launch.variant & kSpanQueue) ? counts + 2 : nullptr;
  if (queue != nullptr)
    check_cuda(cudaMemsetAsync(queue, 0, sizeof(*queue), as_stream(launch.stream)),
               "cudaMemsetAsync(span queue)");
  kernel<<<static_cast<unsigned>(blocks), threads, shared, as_stream(launch.stream)>>>(
      a, begin, end, span, per_warp, loss, counts, queue);
  check_launch(as_stream(launch.stream), [&] {
    return describe_launch(name,
                           {blocks, threads, static_cast<int64_t>(shared), launch.stream},
                           "begin", begin, "end", end, "span", span, "scratch_bytes", per_warp,
                           "skip_gram", a.skip_gram, "dim", a.dim, "vocab_size", a.vocab_size,
                           "window", a.window, "negative", a.negative, "batch", a.batch,
                           "variant", launch.variant, "queue", static_cast<const void*>(queue),
                           "n_ids", a.n_ids, "n_sentences", a.n_sentences, "ids",
                           static_cast<const void*>(a.ids), "offsets",
                           static_cast<const void*>(a.offsets), "input",
                           static_cast<const void*>(a.input), "output",
                           static_cast<const void*>(a.output), "device", launch.device);
  });
}

void word2vec_init_input(float* input, int64_t rows, int dim, uint64_t seed, const Launch& launch) {
  EMBFORGE_CHECK(rows >= 0 && dim >= 1, "invalid shape [", rows, ", ", dim, "]");
  EMBFORGE_CHECK(input || rows == 0, "word2vec_init_input: null device pointer");
  if (rows == 0) return;
  use_device(launch.device);
  constexpr int threads = 256;
  const int64_t blocks = std::min<int64_t>((rows + threads - 1) / threads, 65535);
  word2vec_init_kernel<<<static_cast<unsigned>(blocks), threads, 0, as_stream(launch.stream)>>>(
      input, rows, dim, seed);
  check_launch(as_stream(launch.stream), [&] {
    return describe_launch("word2vec_init_kernel", {blocks, threads, 0, launch.stream}, "input",
                           static_cast<const void*>(input), "rows", rows, "dim", dim, "seed", seed,
                           "device", launch.device);
  });
}

}  // namespace embforge::cuda

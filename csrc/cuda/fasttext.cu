// FastText kernels: a warp per span of the id stream (ft_core.cuh holds the
// algorithm and the race model), the input initialisation and the composed
// word vectors.
//
// Layout as word2vec.cu's default kernels: blocks of `warps_per_block` warps
// walk the spans grid-stride, each warp with a slice of dynamic shared memory
// for its window's ids, the hidden vector, the gradient and the staged target
// rows. The subword lists (CSR, built once on the host) stay on the device
// with the corpus for the whole run.
#include <cuda_runtime.h>

#include <algorithm>
#include <limits>
#include <string>

#include "embforge/check.h"
#include "embforge/fasttext.h"
#include "ft_core.cuh"
#include "launch.cuh"

namespace embforge::cuda {
namespace {

constexpr int kDefaultWarps = 4;
constexpr int kDefaultSpan = 256;  // positions per warp task
constexpr int kMaxWindow = 1024;

// One kernel per model and pack width (the other model's code and its
// registers drop out of each, as in word2vec.cu).
template <int V, bool SkipGram>
__global__ void fasttext_kernel(FtArgs args, int64_t begin, int64_t end, int span,
                                int64_t scratch_bytes, double* loss, unsigned long long* counts) {
  FtArgs a = args;
  a.w.skip_gram = SkipGram;  // a constant from here on
  extern __shared__ __align__(16) unsigned char shared[];
  const int warp = static_cast<int>(threadIdx.x / 32), warps = static_cast<int>(blockDim.x / 32);
  const FtScratch s = ft_scratch(shared + warp * scratch_bytes, a);
  const WarpGroup g;
  W2vCounters c;
  ft_spans<V>(g, a, s, begin, end, span, static_cast<int64_t>(blockIdx.x) * warps + warp,
              static_cast<int64_t>(gridDim.x) * warps, c);
  if (g.rank() == 0 && c.words_trained > 0) {
    atomicAdd(loss, c.loss);
    atomicAdd(&counts[0], static_cast<unsigned long long>(c.loss_terms));
    atomicAdd(&counts[1], static_cast<unsigned long long>(c.words_trained));
  }
}

using FastTextKernel = void (*)(FtArgs, int64_t, int64_t, int, int64_t, double*, unsigned long long*);

__global__ void fasttext_init_kernel(float* input, int64_t rows, int dim, uint64_t seed, float scale) {
  for (int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<int64_t>(gridDim.x) * blockDim.x)
    ft_init_row(input + r * dim, dim, seed, r, scale);
}

// A warp per word, grid-stride; writes `out` (not model memory: no other
// kernel touches it meanwhile) with plain stores.
template <int V>
__global__ void fasttext_vectors_kernel(FtArgs args, float* out) {
  const WarpGroup g;
  const int64_t warp = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int64_t warps = static_cast<int64_t>(gridDim.x) * blockDim.x / 32;
  for (int64_t w = warp; w < args.w.vocab_size; w += warps) {
    const auto word = static_cast<uint32_t>(w);
    ft_compose<V>(g, args, &word, 1, out + w * args.w.dim);
  }
}

void check_model(const FastTextParams& p, const FastTextModel& m) {
  EMBFORGE_CHECK(p.vector_size >= 1, "vector_size must be >= 1, got ", p.vector_size);
  EMBFORGE_CHECK(m.vocab_size >= 1, "empty vocabulary");
  EMBFORGE_CHECK(m.bucket >= 1 && m.bucket == p.bucket, "the input matrix has ", m.bucket,
                 " n-gram rows, params.bucket is ", p.bucket);
  EMBFORGE_CHECK(m.vocab_size + m.bucket <= std::numeric_limits<uint32_t>::max(),
                 "vocabulary + bucket rows must fit 32-bit row ids, got ", m.vocab_size + m.bucket);
  EMBFORGE_CHECK(m.input && m.subword_offsets && m.subword_ids,
                 "fasttext: device pointers must not be null");
}

void check_args(const FastTextParams& p, const CorpusView& c, const FastTextModel& m, int64_t begin,
                int64_t end, const double* loss, const unsigned long long* counts, const Launch& l) {
  check_model(p, m);
  EMBFORGE_CHECK(p.window >= 1 && p.window <= kMaxWindow, "window must be in [1, ", kMaxWindow,
                 "] on CUDA, got ", p.window);
  EMBFORGE_CHECK(p.negative >= 1, "negative must be >= 1, got ", p.negative);
  EMBFORGE_CHECK(c.ids && c.offsets && m.output && m.keep_threshold && m.noise_keep && m.noise_alias &&
                     loss && counts,
                 "fasttext: device pointers must not be null");
  check_stream_range(c, begin, end, p.alpha_start, p.alpha_end, l);
}

}  // namespace

void fasttext_train_range(const FastTextParams& params, const CorpusView& corpus,
                          const FastTextModel& model, int64_t begin, int64_t end, double* loss,
                          unsigned long long* counts, const Launch& launch) {
  check_args(params, corpus, model, begin, end, loss, counts, launch);
  if (begin == end || corpus.n_sentences == 0) return;
  const int device = launch.device;
  use_device(device);

  const FtArgs a = ft_args(params, corpus, model);
  const int warps = launch.warps_per_block > 0 ? launch.warps_per_block : kDefaultWarps;
  const int span = launch.span > 0 ? launch.span : kDefaultSpan;
  const int64_t per_warp = ft_scratch_bytes(a);
  const DeviceLimits limits = device_limits(device);
  EMBFORGE_CHECK(per_warp <= limits.shared_per_block_optin, "fasttext: vector_size ", a.w.dim,
                 ", window ", a.w.window, " and negative ", a.w.negative, " need ", per_warp,
                 " bytes of shared memory per warp, the device allows ",
                 limits.shared_per_block_optin);
  const bool packed = a.w.dim % 4 == 0 && aligned16(a.w.input) && aligned16(a.w.output);
  FastTextKernel kernel = nullptr;
  if (packed)
    kernel = a.w.skip_gram ? fasttext_kernel<4, true> : fasttext_kernel<4, false>;
  else
    kernel = a.w.skip_gram ? fasttext_kernel<1, true> : fasttext_kernel<1, false>;
  const std::string name = std::string("fasttext_kernel<") + (packed ? "4" : "1") + ", " +
                           (a.w.skip_gram ? "skip-gram" : "cbow") + ">";
  const WarpGrid grid = warp_grid(kernel, "fasttext_kernel", per_warp, warps,
                                  (end - begin + span - 1) / span, device, limits);
  kernel<<<static_cast<unsigned>(grid.blocks), grid.threads, grid.shared, as_stream(launch.stream)>>>(
      a, begin, end, span, per_warp, loss, counts);
  check_launch(as_stream(launch.stream), [&] {
    return describe_launch(name, {grid.blocks, grid.threads, static_cast<int64_t>(grid.shared), launch.stream},
                           "begin", begin, "end", end, "span", span, "scratch_bytes", per_warp,
                           "skip_gram", a.w.skip_gram, "dim", a.w.dim, "vocab_size", a.w.vocab_size,
                           "bucket", model.bucket, "window", a.w.window, "negative", a.w.negative,
                           "n_ids", a.w.n_ids, "n_sentences", a.w.n_sentences, "ids",
                           static_cast<const void*>(a.w.ids), "offsets",
                           static_cast<const void*>(a.w.offsets), "input",
                           static_cast<const void*>(a.w.input), "output",
                           static_cast<const void*>(a.w.output), "subword_offsets",
                           static_cast<const void*>(a.subword_offsets), "subword_ids",
                           static_cast<const void*>(a.subword_ids), "device", launch.device);
  });
}

void fasttext_init_input(float* input, int64_t rows, int dim, uint64_t seed, float scale,
                         const Launch& launch) {
  EMBFORGE_CHECK(rows >= 0 && dim >= 1, "invalid shape [", rows, ", ", dim, "]");
  EMBFORGE_CHECK(input || rows == 0, "fasttext_init_input: null device pointer");
  if (rows == 0) return;
  use_device(launch.device);
  constexpr int threads = 256;
  const int64_t blocks = std::min<int64_t>((rows + threads - 1) / threads, 65535);
  fasttext_init_kernel<<<static_cast<unsigned>(blocks), threads, 0, as_stream(launch.stream)>>>(
      input, rows, dim, seed, scale);
  check_launch(as_stream(launch.stream), [&] {
    return describe_launch("fasttext_init_kernel", {blocks, threads, 0, launch.stream}, "input",
                           static_cast<const void*>(input), "rows", rows, "dim", dim, "seed", seed,
                           "scale", scale, "device", launch.device);
  });
}

void fasttext_word_vectors(const FastTextModel& model, int dim, float* out, const Launch& launch) {
  EMBFORGE_CHECK(dim >= 1, "vector_size must be >= 1, got ", dim);
  EMBFORGE_CHECK(model.vocab_size >= 1, "empty vocabulary");
  EMBFORGE_CHECK(model.input && model.subword_offsets && model.subword_ids && out,
                 "fasttext_word_vectors: device pointers must not be null");
  use_device(launch.device);
  const FtArgs a = ft_vector_args(model, dim);
  const bool packed = dim % 4 == 0 && aligned16(model.input) && aligned16(out);
  constexpr int threads = 256;
  const int64_t blocks = std::min<int64_t>((model.vocab_size + threads / 32 - 1) / (threads / 32), 65535);
  if (packed)
    fasttext_vectors_kernel<4><<<static_cast<unsigned>(blocks), threads, 0, as_stream(launch.stream)>>>(a, out);
  else
    fasttext_vectors_kernel<1><<<static_cast<unsigned>(blocks), threads, 0, as_stream(launch.stream)>>>(a, out);
  check_launch(as_stream(launch.stream), [&] {
    return describe_launch(packed ? "fasttext_vectors_kernel<4>" : "fasttext_vectors_kernel<1>",
                           {blocks, threads, 0, launch.stream}, "vocab_size", model.vocab_size,
                           "dim", dim, "input", static_cast<const void*>(model.input), "out",
                           static_cast<const void*>(out), "device", launch.device);
  });
}

}  // namespace embforge::cuda

// GloVe training on CPU threads: Hogwild AdaGrad over a shuffled pair order.
//
// Each thread walks a contiguous slice of the epoch's permutation. A pair
// touches four random rows (main and context vector, and their squared-
// gradient sums: 4 x 404 bytes at d=100) of matrices far larger than the
// caches, so the loop is bound by memory latency, not arithmetic: it loads
// the record kRecordAhead pairs ahead and the rows kRowsAhead pairs ahead,
// so the rows are in cache when their turn comes. The per-coordinate update
// (glove_math.h) is a `#pragma omp simd` loop, compiled per SIMD level.
//
// Races: threads update shared rows without locks (Hogwild, as glove.c).
// Every write is a whole float; a lost update on a frequent row is noise.
//
// Where this deviates from glove.c: float32 instead of double (half the
// memory traffic); the update-sum and bias NaN checks of glove.c are not
// repeated because they cannot fire once diff is finite (a finite dot
// product means both rows are finite, clipped gradients and fdiff are
// finite and gradsq >= 1), and the order is a fresh permutation each epoch
// instead of one shuffled file.
#include "embforge/glove.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "embforge/check.h"
#include "embforge/parallel.h"
#include "embforge/random.h"
#include "embforge/simd.h"
#include "glove_kernel.h"
#include "vec.h"

namespace embforge {
namespace {

struct Rows {
  float* w;   // main vector (bias at [dim])
  float* c;   // context vector
  float* gw;  // squared-gradient sums
  float* gc;
};

EMBFORGE_INLINE Rows rows_of(const GloveModel& m, int stride, const glove::Pair& p) {
  const int64_t main = static_cast<int64_t>(p.row) * stride;
  const int64_t context = (static_cast<int64_t>(p.col) + m.vocab_size) * stride;
  return Rows{m.weights + main, m.weights + context, m.gradsq + main, m.gradsq + context};
}

EMBFORGE_INLINE void prefetch_row(const float* row, int stride) {
  for (int i = 0; i < stride; i += 16) __builtin_prefetch(row + i, 1);
  __builtin_prefetch(row + stride - 1, 1);
}

// Returns the pair's cost, or a negative number when it was skipped.
EMBFORGE_INLINE double update(const GloveParams& params, const GloveModel& m, const glove::Pair& p) {
  const int dim = params.vector_size;
  const Rows r = rows_of(m, dim + 1, p);
  float* __restrict w = r.w;
  float* __restrict c = r.c;
  float* __restrict gw = r.gw;
  float* __restrict gc = r.gc;
  const float diff = glove::pair_diff(vec::dot(w, c, dim), w[dim], c[dim], p.log_x);
  const float fdiff = p.weight * diff;
  if (!std::isfinite(diff) || !std::isfinite(fdiff)) return -1.0;  // glove.c skips these too
  const double cost = 0.5 * static_cast<double>(fdiff) * static_cast<double>(diff);
  const float eta = params.learning_rate;
  const float clip = params.grad_clip;
#pragma omp simd
  for (int b = 0; b < dim; ++b) glove::adagrad_coordinate(w + b, c + b, gw + b, gc + b, fdiff, eta, clip);
  const float bias_step = fdiff * params.bias_learning_rate;
  glove::adagrad_bias(w + dim, gw + dim, bias_step);
  glove::adagrad_bias(c + dim, gc + dim, bias_step);
  return cost;
}

struct alignas(64) SliceResult {  // one cache line per thread (no false sharing)
  double cost = 0.0;
  int64_t pairs = 0;
  int64_t skipped = 0;
  bool stopped = false;
};

constexpr int64_t kRecordAhead = 16;
constexpr int64_t kRowsAhead = 4;
constexpr int64_t kBlock = 4096;  // pairs between progress reports / stop checks

EMBFORGE_MULTIVERSION
void train_slice(const GloveParams& params, const glove::Pair* pairs, const uint32_t* order,
                 int64_t lo, int64_t hi, const GloveModel& m, Progress* progress, SliceResult& r) {
  const int stride = params.vector_size + 1;
  for (int64_t block = lo; block < hi; block += kBlock) {
    if (progress->stop_requested()) {
      r.stopped = true;
      break;
    }
    const int64_t end = std::min(hi, block + kBlock);
    double cost = 0.0;
    int64_t skipped = 0;
    for (int64_t i = block; i < end; ++i) {
      if (i + kRecordAhead < hi) __builtin_prefetch(pairs + order[i + kRecordAhead]);
      if (i + kRowsAhead < hi) {
        const Rows ahead = rows_of(m, stride, pairs[order[i + kRowsAhead]]);
        prefetch_row(ahead.w, stride);
        prefetch_row(ahead.c, stride);
        prefetch_row(ahead.gw, stride);
        prefetch_row(ahead.gc, stride);
      }
      const double pair_cost = update(params, m, pairs[order[i]]);
      if (pair_cost >= 0.0) cost += pair_cost; else ++skipped;
    }
    r.cost += cost;
    r.skipped += skipped;
    r.pairs += end - block;
    progress->work_done.fetch_add(end - block, std::memory_order_relaxed);
    progress->loss_sum.fetch_add(cost, std::memory_order_relaxed);
    progress->loss_count.fetch_add(end - block, std::memory_order_relaxed);
  }
}

void check_model(const GloveParams& p, const GloveModel& m) {
  EMBFORGE_CHECK(p.vector_size >= 1, "vector_size must be >= 1, got ", p.vector_size);
  EMBFORGE_CHECK(p.workers >= 1, "workers must be >= 1, got ", p.workers);
  EMBFORGE_CHECK(std::isfinite(p.learning_rate) && p.learning_rate > 0.0f,
                 "learning_rate must be > 0, got ", p.learning_rate);
  EMBFORGE_CHECK(std::isfinite(p.grad_clip) && p.grad_clip > 0.0f, "grad_clip must be > 0, got ",
                 p.grad_clip);
  EMBFORGE_CHECK(std::isfinite(p.bias_learning_rate) && p.bias_learning_rate > 0.0f, "bias_learning_rate must be > 0, got ",
                 p.bias_learning_rate);
  EMBFORGE_CHECK(m.vocab_size >= 1, "empty vocabulary");
  EMBFORGE_CHECK(m.weights && m.gradsq, "model arrays must not be null");
}

// Random bucket of index i for one epoch's shuffle.
EMBFORGE_INLINE uint32_t bucket_of(uint64_t base, int64_t i, uint32_t buckets) {
  const uint64_t h = mix64(base + static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ull);
  return bounded(static_cast<uint32_t>(h >> 32), buckets);
}

}  // namespace

void make_glove_pairs(const int32_t* rows, const int32_t* cols, const float* values, int64_t n,
                      int64_t vocab_size, double x_max, double alpha, int workers,
                      glove::Pair* out) {
  EMBFORGE_CHECK(std::isfinite(x_max) && x_max > 0.0, "x_max must be > 0, got ", x_max);
  EMBFORGE_CHECK(std::isfinite(alpha) && alpha >= 0.0, "alpha must be >= 0, got ", alpha);
  EMBFORGE_CHECK(n >= 0 && n <= int64_t{0xFFFFFFFF}, "number of pairs must be in [0, 2^32 - 1], got ", n);
  workers = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(workers, n / 65536 + 1)));
  run_workers(workers, nullptr, [&](int t) {
    const int64_t lo = n * t / workers, hi = n * (t + 1) / workers;
    for (int64_t i = lo; i < hi; ++i) {
      EMBFORGE_CHECK(rows[i] >= 0 && rows[i] < vocab_size && cols[i] >= 0 && cols[i] < vocab_size,
                     "pair ", i, " has ids (", rows[i], ", ", cols[i],
                     ") out of range for a vocabulary of ", vocab_size, " words");
      const double x = values[i];
      EMBFORGE_CHECK(std::isfinite(x) && x > 0.0, "pair ", i, " has value ", x,
                     ": co-occurrence values must be finite and > 0");
      out[i] = glove::Pair{static_cast<uint32_t>(rows[i]), static_cast<uint32_t>(cols[i]),
                           static_cast<float>(std::log(x)),
                           static_cast<float>(glove::weighting(x, x_max, alpha))};
    }
  });
}

void glove_shuffle(uint32_t* order, int64_t n, uint64_t seed, int epoch, int workers) {
  EMBFORGE_CHECK(n >= 0 && n <= int64_t{0xFFFFFFFF}, "number of pairs must be in [0, 2^32 - 1], got ", n);
  if (n == 0) return;
  // Buckets of ~64k indices (256 KiB: the Fisher-Yates swaps stay in cache);
  // chunks fixed by n alone, so the permutation does not depend on workers.
  constexpr int64_t kBucketSize = 1 << 16;
  const auto buckets = static_cast<uint32_t>((n + kBucketSize - 1) / kBucketSize);
  const int64_t chunks = std::clamp<int64_t>(n / kBucketSize, 1, 256);
  const uint64_t base = mix64(seed ^ mix64(static_cast<uint64_t>(epoch) + 0x2545f4914f6cdd1dull));
  std::vector<int64_t> position(static_cast<size_t>(chunks) * buckets, 0);
  workers = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(workers, chunks)));
  auto chunk_range = [&](int64_t c) { return std::make_pair(n * c / chunks, n * (c + 1) / chunks); };

  run_workers(workers, nullptr, [&](int t) {  // counts per (chunk, bucket)
    for (int64_t c = t; c < chunks; c += workers) {
      int64_t* count = position.data() + c * buckets;
      const auto [lo, hi] = chunk_range(c);
      for (int64_t i = lo; i < hi; ++i) ++count[bucket_of(base, i, buckets)];
    }
  });
  std::vector<int64_t> bucket_start(buckets + 1, 0);
  int64_t sum = 0;
  for (uint32_t b = 0; b < buckets; ++b) {  // bucket-major, chunk-minor offsets
    bucket_start[b] = sum;
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t count = position[c * buckets + b];
      position[c * buckets + b] = sum;
      sum += count;
    }
  }
  bucket_start[buckets] = sum;
  run_workers(workers, nullptr, [&](int t) {  // scatter
    for (int64_t c = t; c < chunks; c += workers) {
      int64_t* next = position.data() + c * buckets;
      const auto [lo, hi] = chunk_range(c);
      for (int64_t i = lo; i < hi; ++i) order[next[bucket_of(base, i, buckets)]++] = static_cast<uint32_t>(i);
    }
  });
  run_workers(workers, nullptr, [&](int t) {  // shuffle each bucket
    for (uint32_t b = static_cast<uint32_t>(t); b < buckets; b += static_cast<uint32_t>(workers)) {
      SplitMix64 rng(base, b);
      uint32_t* first = order + bucket_start[b];
      const int64_t size = bucket_start[b + 1] - bucket_start[b];
      shuffle(first, size, rng);
    }
  });
}

GloveEpochStats train_glove_epoch(const GloveParams& params, const glove::Pair* pairs,
                                  const uint32_t* order, int64_t n, const GloveModel& model,
                                  Progress* progress) {
  Progress local_progress;
  if (!progress) progress = &local_progress;
  progress->reset(n);
  return train_glove_range(params, pairs, order, n, model, progress);
}

GloveEpochStats train_glove_range(const GloveParams& params, const glove::Pair* pairs,
                                  const uint32_t* order, int64_t n, const GloveModel& model,
                                  Progress* progress) {
  check_model(params, model);
  progress->learning_rate = params.learning_rate;
  const int workers = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(params.workers, n)));
  std::vector<SliceResult> results(workers);
  run_workers(workers, progress, [&](int t) {
    train_slice(params, pairs, order, n * t / workers, n * (t + 1) / workers, model, progress,
                results[t]);
  });
  GloveEpochStats stats;
  for (const auto& r : results) {  // fixed order: deterministic sums
    stats.cost += r.cost;
    stats.pairs += r.pairs;
    stats.skipped += r.skipped;
    stats.stopped = stats.stopped || r.stopped;
  }
  return stats;
}

double glove_pair_update(const GloveParams& params, const GloveModel& model, const glove::Pair& pair) {
  check_model(params, model);
  EMBFORGE_CHECK(pair.row < model.vocab_size && pair.col < model.vocab_size, "pair ids (", pair.row,
                 ", ", pair.col, ") out of range for a vocabulary of ", model.vocab_size, " words");
  const double cost = update(params, model, pair);
  return cost < 0.0 ? 0.0 : cost;
}

void init_glove(float* weights, float* gradsq, int64_t rows, int dim, uint64_t seed) {
  EMBFORGE_CHECK(rows >= 0 && dim >= 1, "invalid shape [", rows, ", ", dim, " + 1]");
  const int stride = dim + 1;
  const float scale = glove::init_scale(dim);
  for (int64_t r = 0; r < rows; ++r) {
    SplitMix64 rng(seed, static_cast<uint64_t>(r));
    for (int i = 0; i < stride; ++i) {
      weights[r * stride + i] = (rng.uniform() - 0.5f) * scale;
      gradsq[r * stride + i] = 1.0f;
    }
  }
}

}  // namespace embforge

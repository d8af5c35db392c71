// Word2vec on CPU threads: Hogwild SGD over slices of the encoded corpus.
//
// Skip-gram uses Intel's HogBatch idea (pWord2Vec, Ji et al. 2016): for a
// center word, its context words' input vectors form a small matrix that is
// scored against the same output rows (the center and K negatives drawn once
// per window instead of once per pair), so every output row is loaded once per
// window and the work becomes small dense dot/axpy loops the compiler
// vectorises (EMBFORGE_MULTIVERSION picks AVX2 or AVX-512 at run time). Within
// a window the updates are simultaneous: all gradients are computed from the
// rows as they were when the window started, then applied.
//
// CBOW follows word2vec.c: the mean of the context vectors is scored against
// the center and K fresh negatives; the summed gradient is added to every
// context vector (cbow_mean=1).
//
// Races: threads update shared rows without locks (Hogwild). A lost update on
// a frequent row costs nothing measurable; every write is a whole float, so a
// reader never sees a torn value.
#include "embforge/word2vec.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "embforge/check.h"
#include "embforge/parallel.h"
#include "embforge/random.h"
#include "embforge/simd.h"
#include "embforge/word2vec_math.h"
#include "vec.h"

namespace embforge {
namespace {

// The sigmoid and the loss as tables over [-kMaxExp, kMaxExp] (word2vec.c
// uses 1000 steps; 1024 here). Built from the shared exact functions; an entry
// is off by at most half a step (6/1024) in its argument.
struct SigmoidTables {
  static constexpr int kSize = 1024;
  static constexpr float kScale = kSize / (2.0f * w2v::kMaxExp);
  float sigmoid[kSize + 1];
  float loss_positive[kSize + 1];  // -log sigmoid(x)
  float loss_negative[kSize + 1];  // -log sigmoid(-x)
  SigmoidTables() {
    for (int i = 0; i <= kSize; ++i) {
      const float x = (static_cast<float>(i) / kScale) - w2v::kMaxExp;
      sigmoid[i] = w2v::sigmoid(x);
      loss_positive[i] = w2v::ns_loss(x, 1.0f);
      loss_negative[i] = w2v::ns_loss(x, 0.0f);
    }
  }
  EMBFORGE_INLINE int index(float dot) const {
    const float clamped = std::min(std::max(dot, -w2v::kMaxExp), w2v::kMaxExp);
    return static_cast<int>((clamped + w2v::kMaxExp) * kScale + 0.5f);
  }
};
const SigmoidTables kTables;

struct Context {
  const Word2VecParams& params;
  const CorpusView& corpus;
  const Word2VecModel& model;
  Progress* progress;
};

struct alignas(64) ThreadResult {  // one cache line each: threads write their own
  double loss = 0.0;
  int64_t loss_terms = 0;
  int64_t ids_processed = 0;
  int64_t words_trained = 0;
  bool stopped = false;
};

using vec::axpy;
using vec::dot;

// Coefficient and loss of one pair from the tables (w2v::ns_coefficient).
EMBFORGE_INLINE float coefficient(float d, bool positive, float alpha, double* loss) {
  const int i = kTables.index(d);
  *loss += positive ? kTables.loss_positive[i] : kTables.loss_negative[i];
  float s = kTables.sigmoid[i];
  if (d >= w2v::kMaxExp) s = 1.0f;
  if (d <= -w2v::kMaxExp) s = 0.0f;
  return ((positive ? 1.0f : 0.0f) - s) * alpha;
}

struct Buffers {
  explicit Buffers(const Word2VecParams& p)
      : contexts(2 * p.window), targets(1 + p.negative), next_negatives(p.negative),
        coefficients(2 * p.window * (1 + p.negative)),
        target_delta(static_cast<size_t>(1 + p.negative) * p.vector_size),
        work(p.vector_size), work2(p.vector_size) {}
  std::vector<uint32_t> sentence;   // kept ids of the current sentence
  std::vector<uint32_t> contexts;   // skip-gram: context ids of the window
  std::vector<uint32_t> targets;    // center + negatives
  std::vector<uint32_t> next_negatives;  // drawn one center ahead (prefetch)
  std::vector<float> coefficients;  // skip-gram: [contexts x targets]
  std::vector<float> target_delta;  // [targets x dim]
  std::vector<float> work;          // [dim]: CBOW mean, or a context's gradient
  std::vector<float> work2;         // [dim]: CBOW summed gradient
};

#if defined(__GNUC__)
// kRows dot products of x with rows[k] in one pass over x, in column blocks of
// 8 (the partial sums stay in registers; one short reduction per row).
template <int kRows>
EMBFORGE_INLINE void dots_fixed(const float* x, const float* const* rows, int dim, float* out) {
  using vec::f8;
  f8 acc[kRows];
  for (int k = 0; k < kRows; ++k) acc[k] = f8{};
  int col = 0;
  for (; col + 8 <= dim; col += 8) {
    const f8 v = vec::load8(x + col);
    for (int k = 0; k < kRows; ++k) acc[k] += v * vec::load8(rows[k] + col);
  }
  for (int k = 0; k < kRows; ++k) {
    float sum = vec::reduce8(acc[k]);
    for (int i = col; i < dim; ++i) sum += x[i] * rows[k][i];
    out[k] = sum;
  }
}
#endif

// Skip-gram, one window: the contexts' input rows against the center's and
// K negatives' output rows. Semantics (the numpy oracle in the tests follows
// them): all coefficients come from the rows as the window starts; contexts
// are then updated in order, each output gradient taking the context row as
// it is when that context's turn comes (a repeated context sees its earlier
// update); output rows are updated last, repeated targets adding up.
EMBFORGE_INLINE void skip_gram_coefficients(const Context& c, Buffers& b, int n_contexts,
                                            float alpha, ThreadResult& r) {
  const int dim = c.params.vector_size;
  const int n_targets = static_cast<int>(b.targets.size());
  const float* input = c.model.input;
  const float* output = c.model.output;
  const uint32_t center = b.targets[0];
  float* coef = b.coefficients.data();
  double loss = 0.0;  // locals, not r.loss: keeps the sums in registers
  int64_t terms = 0;
  constexpr int kFixed = 6;  // 1 + negative for the default negative=5
  const float* rows[kFixed];
  float dots[kFixed];
  if (n_targets == kFixed)
    for (int k = 0; k < kFixed; ++k) rows[k] = output + static_cast<int64_t>(b.targets[k]) * dim;
  for (int j = 0; j < n_contexts; ++j) {
    const float* in = input + static_cast<int64_t>(b.contexts[j]) * dim;
#if defined(__GNUC__)
    if (n_targets == kFixed) dots_fixed<kFixed>(in, rows, dim, dots);
#endif
    for (int k = 0; k < n_targets; ++k) {
      float g = 0.0f;
      if (k == 0 || b.targets[k] != center) {  // a noise draw of the center itself is skipped
        const float d = n_targets == kFixed ? dots[k]
                        : dot(in, output + static_cast<int64_t>(b.targets[k]) * dim, dim);
        g = coefficient(d, k == 0, alpha, &loss);
        ++terms;
      }
      coef[j * n_targets + k] = g;
    }
  }
  r.loss += loss;
  r.loss_terms += terms;
}

// Any number of targets: row-at-a-time updates through L1-resident buffers.
EMBFORGE_INLINE void skip_gram_update(const Context& c, Buffers& b, int n_contexts) {
  const int dim = c.params.vector_size;
  const int n_targets = static_cast<int>(b.targets.size());
  float* input = c.model.input;
  float* output = c.model.output;
  const float* coef = b.coefficients.data();
  float* delta = b.target_delta.data();
  float* grad = b.work.data();
  std::fill(delta, delta + static_cast<int64_t>(n_targets) * dim, 0.0f);
  for (int j = 0; j < n_contexts; ++j) {
    float* in = input + static_cast<int64_t>(b.contexts[j]) * dim;
    std::fill(grad, grad + dim, 0.0f);
    for (int k = 0; k < n_targets; ++k) {
      const float g = coef[j * n_targets + k];
      if (g == 0.0f) continue;
      axpy(g, in, delta + static_cast<int64_t>(k) * dim, dim);
      axpy(g, output + static_cast<int64_t>(b.targets[k]) * dim, grad, dim);
    }
    axpy(1.0f, grad, in, dim);
  }
  for (int k = 0; k < n_targets; ++k)
    axpy(1.0f, delta + static_cast<int64_t>(k) * dim, output + static_cast<int64_t>(b.targets[k]) * dim, dim);
}

#if defined(__GNUC__)
// The same for a fixed number of targets (negative = 5 by default): column
// blocks of 8 with the targets' blocks and gradients held in registers, so each
// row is loaded and stored once per window instead of once per pair.
template <int kTargets>
EMBFORGE_INLINE void skip_gram_update_fixed(const Context& c, Buffers& b, int n_contexts) {
  using vec::f8;
  const int dim = c.params.vector_size;
  float* input = c.model.input;
  float* output = c.model.output;
  const float* coef = b.coefficients.data();
  float* out_rows[kTargets];
  for (int k = 0; k < kTargets; ++k) out_rows[k] = output + static_cast<int64_t>(b.targets[k]) * dim;
  int col = 0;
  for (; col + 8 <= dim; col += 8) {
    f8 out[kTargets], delta[kTargets];
    for (int k = 0; k < kTargets; ++k) {
      out[k] = vec::load8(out_rows[k] + col);
      delta[k] = f8{};
    }
    for (int j = 0; j < n_contexts; ++j) {
      float* in_row = input + static_cast<int64_t>(b.contexts[j]) * dim + col;
      const f8 in = vec::load8(in_row);
      f8 grad = {};
      for (int k = 0; k < kTargets; ++k) {
        const f8 g = vec::splat8(coef[j * kTargets + k]);
        grad += g * out[k];
        delta[k] += g * in;
      }
      vec::store8(in_row, in + grad);
    }
    for (int k = 0; k < kTargets; ++k)  // reload: a repeated target accumulates
      vec::store8(out_rows[k] + col, vec::load8(out_rows[k] + col) + delta[k]);
  }
  for (; col < dim; ++col) {  // the last dim % 8 columns, same order of operations
    float out[kTargets], delta[kTargets] = {};
    for (int k = 0; k < kTargets; ++k) out[k] = out_rows[k][col];
    for (int j = 0; j < n_contexts; ++j) {
      float& in = input[static_cast<int64_t>(b.contexts[j]) * dim + col];
      float grad = 0.0f;
      for (int k = 0; k < kTargets; ++k) {
        grad += coef[j * kTargets + k] * out[k];
        delta[k] += coef[j * kTargets + k] * in;
      }
      in += grad;
    }
    for (int k = 0; k < kTargets; ++k) out_rows[k][col] += delta[k];
  }
}
#endif

EMBFORGE_INLINE void skip_gram_window(const Context& c, Buffers& b, int n_contexts,
                                      float alpha, ThreadResult& r) {
  skip_gram_coefficients(c, b, n_contexts, alpha, r);
#if defined(__GNUC__)
  if (b.targets.size() == 6) return skip_gram_update_fixed<6>(c, b, n_contexts);
#endif
  skip_gram_update(c, b, n_contexts);
}

// CBOW, one window: the mean of the contexts against the center and negatives.
// Semantics (followed by the numpy oracle): every dot product is taken with
// the rows as the window starts; then, target after target, the summed
// gradient takes the target's current row and the row moves by g * mean (a
// repeated noise word adds up); finally each context row gets the gradient.
EMBFORGE_INLINE void cbow_window(const Context& c, Buffers& b, int n_contexts, float alpha,
                                 ThreadResult& r) {
  const int dim = c.params.vector_size;
  const int n_targets = static_cast<int>(b.targets.size());
  float* __restrict input = c.model.input;
  float* __restrict output = c.model.output;
  float* mean = b.work.data();
  float* gradient = b.work2.data();
  float* g = b.coefficients.data();
  std::fill(mean, mean + dim, 0.0f);
  for (int j = 0; j < n_contexts; ++j)
    axpy(1.0f, input + static_cast<int64_t>(b.contexts[j]) * dim, mean, dim);
  vec::scale(1.0f / static_cast<float>(n_contexts), mean, dim);

  constexpr int kFixed = 6;
  float* rows[kFixed];
  float dots[kFixed];
#if defined(__GNUC__)
  if (n_targets == kFixed) {
    for (int k = 0; k < kFixed; ++k) rows[k] = output + static_cast<int64_t>(b.targets[k]) * dim;
    dots_fixed<kFixed>(mean, rows, dim, dots);
  }
#endif
  const uint32_t center = b.targets[0];
  double loss = 0.0;
  int64_t terms = 0;
  for (int k = 0; k < n_targets; ++k) {
    g[k] = 0.0f;
    if (k > 0 && b.targets[k] == center) continue;
    const float* out = output + static_cast<int64_t>(b.targets[k]) * dim;
    g[k] = coefficient(n_targets == kFixed ? dots[k] : dot(mean, out, dim), k == 0, alpha, &loss);
    ++terms;
  }
  r.loss += loss;
  r.loss_terms += terms;

#if defined(__GNUC__)
  if (n_targets == kFixed) {  // column blocks: each row loaded and stored once
    using vec::f8;
    int col = 0;
    for (; col + 8 <= dim; col += 8) {
      const f8 m = vec::load8(mean + col);
      f8 grad = {};
      for (int k = 0; k < kFixed; ++k) {
        const f8 o = vec::load8(rows[k] + col);
        grad += vec::splat8(g[k]) * o;
        vec::store8(rows[k] + col, o + vec::splat8(g[k]) * m);
      }
      for (int j = 0; j < n_contexts; ++j) {
        float* in = input + static_cast<int64_t>(b.contexts[j]) * dim + col;
        vec::store8(in, vec::load8(in) + grad);
      }
    }
    for (; col < dim; ++col) {
      float grad = 0.0f;
      for (int k = 0; k < kFixed; ++k) {
        grad += g[k] * rows[k][col];
        rows[k][col] += g[k] * mean[col];
      }
      for (int j = 0; j < n_contexts; ++j) input[static_cast<int64_t>(b.contexts[j]) * dim + col] += grad;
    }
    return;
  }
#endif
  std::fill(gradient, gradient + dim, 0.0f);
  for (int k = 0; k < n_targets; ++k) {
    if (g[k] == 0.0f) continue;
    float* out = output + static_cast<int64_t>(b.targets[k]) * dim;
    axpy(g[k], out, gradient, dim);
    axpy(g[k], mean, out, dim);
  }
  for (int j = 0; j < n_contexts; ++j)
    axpy(1.0f, gradient, input + static_cast<int64_t>(b.contexts[j]) * dim, dim);
}

// Starts loading a row into cache. Output rows of noise words are random
// rows of a matrix far larger than the caches: without this, skip-gram and
// CBOW wait on memory for most of each window.
EMBFORGE_INLINE void prefetch_row(const float* row, int dim) {
  for (int i = 0; i < dim; i += 16) __builtin_prefetch(row + i);
}

// One thread's slice of sentences. Compiled per SIMD level (simd.h).
EMBFORGE_MULTIVERSION
void train_slice(const Context& c, int64_t first_sentence, int64_t end_sentence,
                 SplitMix64 rng, ThreadResult& result) {
  // Tallies live on this thread's stack and are copied out once: the threads'
  // results sit side by side in one vector, and updating them there every
  // window made the two cores fight over one cache line (2 threads ran no
  // faster than 1, depending on where the allocator put the vector).
  ThreadResult r;
  const Word2VecParams& p = c.params;
  const Word2VecModel& m = c.model;
  const auto n_vocab = static_cast<uint32_t>(m.vocab_size);
  const double total = static_cast<double>(c.corpus.n_ids);
  constexpr int64_t kReportEvery = 10000;  // ids between progress updates

  Buffers b(p);
  auto draw_negatives = [&] {
    for (int k = 0; k < p.negative; ++k) {
      const uint32_t id = alias_draw(m.noise_keep, m.noise_alias, n_vocab, rng.next());
      b.next_negatives[k] = id;
      prefetch_row(m.output + static_cast<int64_t>(id) * p.vector_size, p.vector_size);
    }
  };
  draw_negatives();

  float alpha = w2v::linear_rate(p.alpha_start, p.alpha_end,
                                 static_cast<double>(c.progress->work_done.load()), total);
  int64_t unreported = 0;
  double reported_loss = 0.0;  // running loss published so far
  int64_t reported_terms = 0;

  for (int64_t s = first_sentence; s < end_sentence; ++s) {
    if (c.progress->stop_requested()) {
      r.stopped = true;
      break;
    }
    const int64_t begin = c.corpus.offsets[s], end = c.corpus.offsets[s + 1];
    b.sentence.clear();
    for (int64_t i = begin; i < end; ++i) {
      const uint32_t id = c.corpus.ids[i];
      if (w2v::keep_word(m.keep_threshold[id], rng.next32())) b.sentence.push_back(id);
    }
    const int n = static_cast<int>(b.sentence.size());
    for (int pos = 0; pos < n; ++pos) {
      const int reach = w2v::reduced_window(p.window, rng.next32(), p.shrink_windows);
      const int lo = std::max(0, pos - reach), hi = std::min(n, pos + reach + 1);
      if (hi - lo < 2) continue;
      b.targets[0] = b.sentence[pos];
      std::copy(b.next_negatives.begin(), b.next_negatives.end(), b.targets.begin() + 1);
      draw_negatives();  // for the next window, loading while this one computes
      if (pos + p.window + 1 < n)
        prefetch_row(m.input + static_cast<int64_t>(b.sentence[pos + p.window + 1]) * p.vector_size,
                     p.vector_size);
      int n_contexts = 0;
      for (int j = lo; j < hi; ++j)
        if (j != pos) b.contexts[n_contexts++] = b.sentence[j];
      if (p.skip_gram) {
        skip_gram_window(c, b, n_contexts, alpha, r);
      } else {
        cbow_window(c, b, n_contexts, alpha, r);
      }
    }
    r.words_trained += n;
    r.ids_processed += end - begin;
    unreported += end - begin;
    if (unreported >= kReportEvery) {
      const int64_t done = c.progress->work_done.fetch_add(unreported) + unreported;
      unreported = 0;
      c.progress->loss_sum.fetch_add(r.loss - reported_loss, std::memory_order_relaxed);
      c.progress->loss_count.fetch_add(r.loss_terms - reported_terms, std::memory_order_relaxed);
      reported_loss = r.loss;
      reported_terms = r.loss_terms;
      alpha = w2v::linear_rate(p.alpha_start, p.alpha_end, static_cast<double>(done), total);
      c.progress->learning_rate.store(alpha, std::memory_order_relaxed);
    }
  }
  c.progress->work_done.fetch_add(unreported);
  c.progress->loss_sum.fetch_add(r.loss - reported_loss, std::memory_order_relaxed);
  c.progress->loss_count.fetch_add(r.loss_terms - reported_terms, std::memory_order_relaxed);
  result = r;
}

void check_params(const Word2VecParams& p, const CorpusView& corpus, const Word2VecModel& m) {
  EMBFORGE_CHECK(p.vector_size >= 1, "vector_size must be >= 1, got ", p.vector_size);
  EMBFORGE_CHECK(p.window >= 1, "window must be >= 1, got ", p.window);
  EMBFORGE_CHECK(p.negative >= 1, "negative must be >= 1 (negative sampling), got ", p.negative);
  EMBFORGE_CHECK(p.workers >= 1, "workers must be >= 1, got ", p.workers);
  EMBFORGE_CHECK(std::isfinite(p.alpha_start) && p.alpha_start > 0.0f,
                 "alpha must be > 0, got ", p.alpha_start);
  EMBFORGE_CHECK(std::isfinite(p.alpha_end) && p.alpha_end >= 0.0f,
                 "min_alpha must be >= 0, got ", p.alpha_end);
  EMBFORGE_CHECK(m.vocab_size >= 1, "empty vocabulary");
  EMBFORGE_CHECK(m.input && m.output && m.keep_threshold && m.noise_keep && m.noise_alias,
                 "model arrays must not be null");
  EMBFORGE_CHECK(corpus.n_sentences >= 0 && corpus.offsets, "corpus offsets must not be null");
}

}  // namespace

EpochStats train_word2vec_epoch(const Word2VecParams& params, const CorpusView& corpus,
                                const Word2VecModel& model, Progress* progress) {
  check_params(params, corpus, model);
  Progress local_progress;
  if (!progress) progress = &local_progress;
  progress->reset(corpus.n_ids);
  progress->learning_rate = params.alpha_start;

  // Contiguous sentence ranges holding about equal numbers of ids.
  const int workers = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(params.workers, corpus.n_sentences)));
  std::vector<int64_t> first(workers + 1, corpus.n_sentences);
  first[0] = 0;
  for (int t = 1; t < workers; ++t) {
    const int64_t target = corpus.n_ids * t / workers;
    first[t] = std::lower_bound(corpus.offsets, corpus.offsets + corpus.n_sentences + 1, target) -
               corpus.offsets;
    first[t] = std::min(std::max(first[t], first[t - 1]), corpus.n_sentences);
  }

  const Context context{params, corpus, model, progress};
  std::vector<ThreadResult> results(workers);
  run_workers(workers, progress, [&](int t) {
    const uint64_t stream = (static_cast<uint64_t>(params.epoch) << 32) | static_cast<uint64_t>(t);
    train_slice(context, first[t], first[t + 1], SplitMix64(params.seed, stream), results[t]);
  });

  EpochStats stats;
  for (const auto& r : results) {  // fixed order: deterministic sums
    stats.loss += r.loss;
    stats.loss_terms += r.loss_terms;
    stats.ids_processed += r.ids_processed;
    stats.words_trained += r.words_trained;
    stats.stopped = stats.stopped || r.stopped;
  }
  return stats;
}

double word2vec_window_update(const Word2VecParams& params, const Word2VecModel& model,
                              const uint32_t* contexts, int n_contexts, const uint32_t* targets,
                              float alpha) {
  EMBFORGE_CHECK(n_contexts >= 1 && n_contexts <= 2 * params.window, "n_contexts must be in [1, ",
                 2 * params.window, "], got ", n_contexts);
  for (int j = 0; j < n_contexts; ++j)
    EMBFORGE_CHECK(contexts[j] < model.vocab_size, "context id ", contexts[j], " out of range");
  for (int k = 0; k <= params.negative; ++k)
    EMBFORGE_CHECK(targets[k] < model.vocab_size, "target id ", targets[k], " out of range");
  const CorpusView corpus;
  const Context c{params, corpus, model, nullptr};
  Buffers b(params);
  std::copy(contexts, contexts + n_contexts, b.contexts.begin());
  std::copy(targets, targets + 1 + params.negative, b.targets.begin());
  ThreadResult r;
  if (params.skip_gram) {
    skip_gram_window(c, b, n_contexts, alpha, r);
  } else {
    cbow_window(c, b, n_contexts, alpha, r);
  }
  return r.loss;
}

void init_word2vec_input(float* input, int64_t rows, int dim, uint64_t seed) {
  EMBFORGE_CHECK(rows >= 0 && dim >= 1, "invalid shape [", rows, ", ", dim, "]");
  const float scale = 1.0f / static_cast<float>(dim);
  for (int64_t r = 0; r < rows; ++r) {
    SplitMix64 rng(seed, static_cast<uint64_t>(r));
    float* row = input + r * dim;
    for (int i = 0; i < dim; ++i) row[i] = (rng.uniform() - 0.5f) * scale;
  }
}

}  // namespace embforge

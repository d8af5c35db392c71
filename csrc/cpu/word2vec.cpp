// Word2vec on CPU threads: Hogwild SGD over shuffled chunks of the encoded corpus.
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
// context vector (cbow_mean=1). Its window is two passes over column blocks
// (mean + dot products, then updates), so each row is read and written once.
// The window kernels live in word2vec_window.h; this file walks the corpus.
//
// Races: threads update shared rows without locks (Hogwild). A lost update on
// a frequent row costs nothing measurable; every write is a whole float, so a
// reader never sees a torn value. With several workers the hottest rows are
// trained in per-thread copies merged every few thousand words (hot_rows.h):
// CBOW does so little work per row that the cores otherwise spend their time
// passing those rows' cache lines back and forth.
#include "embforge/word2vec.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <utility>
#include <vector>

#include "embforge/check.h"
#include "embforge/parallel.h"
#include "embforge/random.h"
#include "embforge/simd.h"
#include "embforge/word2vec_math.h"
#include "epoch_chunks.h"
#include "hot_rows.h"
#include "line_array.h"
#include "word2vec_window.h"

namespace embforge {
namespace {

// Rows per matrix that each thread trains in a private copy when workers > 1
// (hot_rows.h): the 64 most frequent words draw ~14% of the noise samples and
// ~23% of the kept words on the benchmark corpus, and their cache lines were
// the ones the cores fought over.
constexpr int64_t kHotRows = 64;

using w2v_cpu::cbow_window;
using w2v_cpu::skip_gram_window;
using w2v_cpu::ThreadResult;
using w2v_cpu::WindowBuffers;

struct Context {
  const Word2VecParams& params;
  const CorpusView& corpus;
  const Word2VecModel& model;
  Progress* progress;
  int64_t hot_rows;  // rows each thread trains in private copies (hot_rows.h)
  int64_t merge_every;  // ids a thread trains between merges of those rows
  const SentenceRange* chunks;  // the k-th claim takes chunks[k]
  int64_t n_chunks;
  int64_t max_sentence;  // ids in the longest sentence
  int64_t total_ids;     // ids in the chunks: the learning rate's span
};

// Starts loading a row into cache. Output rows of noise words are random
// rows of a matrix far larger than the caches: without this, skip-gram and
// CBOW wait on memory for most of each window.
EMBFORGE_INLINE void prefetch_row(const float* row, int dim) {
  for (int i = 0; i < dim; i += 16) __builtin_prefetch(row + i);
}

// One worker: takes chunks of sentences until none is left. Compiled per SIMD
// level (simd.h). `rng` is taken by value (a local stream stays in registers
// in the hot loop); rng_end gets the state a next slice continues from.
EMBFORGE_MULTIVERSION
void train_chunks(const Context& c, std::atomic<int64_t>& next_chunk, SplitMix64 rng,
                  ThreadResult& result, uint64_t& rng_end) {
  // Tallies live on this thread's stack and are copied out once: the threads'
  // results sit side by side in one vector, and updating them there every
  // window made the two cores fight over one cache line (2 threads ran no
  // faster than 1, depending on where the allocator put the vector).
  ThreadResult r;
  const Word2VecParams& p = c.params;
  const Word2VecModel& m = c.model;
  const int dim = p.vector_size;
  const auto n_vocab = static_cast<uint32_t>(m.vocab_size);
  const double total = static_cast<double>(c.total_ids);
  constexpr int64_t kReportEvery = 10000;  // ids between progress updates
  HotRows input(m.input, c.hot_rows, dim), output(m.output, c.hot_rows, dim);
  WindowBuffers b(p);
  LineArray<uint32_t> sentence(c.max_sentence);  // kept ids of the current sentence
  LineArray<uint32_t> next_negatives(p.negative);  // drawn one window ahead
  auto draw_negatives = [&] {
    for (int k = 0; k < p.negative; ++k) {
      const uint32_t id = alias_draw(m.noise_keep, m.noise_alias, n_vocab, rng.next());
      next_negatives[k] = id;
      if (!output.hot(id)) prefetch_row(output.row(id), dim);
    }
  };
  draw_negatives();

  float alpha = w2v::linear_rate(p.alpha_start, p.alpha_end,
                                 static_cast<double>(c.progress->work_done.load()), total);
  int64_t unreported = 0;
  int64_t since_merge = 0;
  double reported_loss = 0.0;  // running loss published so far
  int64_t reported_terms = 0;

  for (int64_t claim; !r.stopped && (claim = next_chunk.fetch_add(1)) < c.n_chunks;) {
    const SentenceRange chunk = c.chunks[claim];
    for (int64_t s = chunk.first; s < chunk.end; ++s) {
      if (c.progress->stop_requested()) {
        r.stopped = true;
        break;
      }
      const int64_t begin = c.corpus.offsets[s], end = c.corpus.offsets[s + 1];
      int n = 0;
      for (int64_t i = begin; i < end; ++i) {
        const uint32_t id = c.corpus.ids[i];
        if (w2v::keep_word(m.keep_threshold[id], rng.next32())) sentence[n++] = id;
      }
      for (int pos = 0; pos < n; ++pos) {
        const int reach = w2v::reduced_window(p.window, rng.next32(), p.shrink_windows);
        const int lo = std::max(0, pos - reach), hi = std::min(n, pos + reach + 1);
        if (hi - lo < 2) continue;
        b.targets[0] = sentence[pos];
        b.target_rows[0] = output.row(sentence[pos]);
        for (int k = 0; k < p.negative; ++k) {
          b.targets[k + 1] = next_negatives[k];
          b.target_rows[k + 1] = output.row(next_negatives[k]);
        }
        draw_negatives();  // for the next window, loading while this one computes
        if (pos + p.window + 1 < n && !input.hot(sentence[pos + p.window + 1]))
          prefetch_row(input.row(sentence[pos + p.window + 1]), dim);  // the next context to enter
        if (pos + 1 < n && !output.hot(sentence[pos + 1]))
          prefetch_row(output.row(sentence[pos + 1]), dim);  // the next center's output row
        int n_contexts = 0;
        for (int j = lo; j < hi; ++j)
          if (j != pos) b.context_rows[n_contexts++] = input.row(sentence[j]);
        if (p.skip_gram) {
          skip_gram_window(p, b, n_contexts, alpha, r);
        } else {
          cbow_window(p, b, n_contexts, alpha, r);
        }
      }
      r.words_trained += n;
      r.ids_processed += end - begin;
      unreported += end - begin;
      if (c.hot_rows && (since_merge += end - begin) >= c.merge_every) {
        since_merge = 0;
        input.merge();
        output.merge();
      }
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
  }
  input.merge();
  output.merge();
  c.progress->work_done.fetch_add(unreported);
  c.progress->loss_sum.fetch_add(r.loss - reported_loss, std::memory_order_relaxed);
  c.progress->loss_count.fetch_add(r.loss_terms - reported_terms, std::memory_order_relaxed);
  result = r;
  // The stream's end is where the negatives drawn ahead (never used) were
  // drawn: a next slice starting there draws them again, as one call would
  // have used them.
  rng_end = rng.state - static_cast<uint64_t>(p.negative) * SplitMix64::kGamma;
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
  EMBFORGE_CHECK(p.slice_count >= 1, "slice_count must be >= 1, got ", p.slice_count);
  EMBFORGE_CHECK(p.slice_index >= 0 && p.slice_index < p.slice_count, "slice_index must be in [0, ",
                 p.slice_count, ") for slice_count=", p.slice_count, ", got ", p.slice_index);
}

// Chunks [first, end) of the shuffled list form slice `index` of `count`.
std::pair<int64_t, int64_t> slice_bounds(int64_t n_chunks, int index, int count) {
  return {n_chunks * index / count, n_chunks * (index + 1) / count};
}

}  // namespace

EpochStats train_word2vec_epoch(const Word2VecParams& params, const CorpusView& corpus,
                                const Word2VecModel& model, Progress* progress) {
  check_params(params, corpus, model);

  // Work is handed out in chunks of consecutive sentences, each thread taking
  // the next free one: with a fixed slice per thread, one core slowed by
  // another process (a shared machine, a noisy VM host) held up the whole
  // epoch, and 2 threads ran slower than 1.
  const int workers = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(params.workers, corpus.n_sentences)));
  // Chunks are visited in a random order (epoch_chunks); a slice is a
  // contiguous part of that order.
  const std::vector<SentenceRange> chunks = epoch_chunks(corpus, params.seed, params.epoch);
  const auto [first_chunk, end_chunk] =
      slice_bounds(static_cast<int64_t>(chunks.size()), params.slice_index, params.slice_count);
  const SentenceRange* slice = chunks.data() + first_chunk;
  const int64_t n_chunks = end_chunk - first_chunk;
  const int64_t slice_ids = ids_in(corpus, slice, n_chunks);
  // The ids index rows unchecked below: checked here, before any update, for
  // the chunks this call trains (the binding checks the offsets only).
  if (slice_ids > 0) {
    const uint32_t largest = largest_id_in(corpus, slice, n_chunks);
    EMBFORGE_CHECK(largest < model.vocab_size, "id ", largest,
                   " in the corpus is out of range for a vocabulary of ", model.vocab_size, " words");
  }
  Progress local_progress;
  if (!progress) progress = &local_progress;
  progress->reset(slice_ids);
  progress->learning_rate = params.alpha_start;
  const int64_t max_sentence = longest_sentence_in(corpus, slice, n_chunks);
  alignas(64) std::atomic<int64_t> next_chunk{0};

  int64_t hot_rows = 0;  // one worker: nothing to contend for, and bit-identical runs
  if (workers > 1)
    hot_rows = std::min<int64_t>(model.vocab_size, params.hot_rows >= 0 ? params.hot_rows : kHotRows);
  // Staleness of the private rows costs quality: 655 rows merged every 40k
  // ids lowered CBOW's analogy score by ~0.009 (6 seeds, 2 threads), 64 rows
  // every 4k ids by 0.002 (within the seed spread) and kept most of the
  // speed-up; and the interval shrinks with the threads (hot_rows.h).
  const Context context{params, corpus, model, progress, hot_rows, hot_merge_interval(workers),
                        slice, n_chunks, max_sentence, slice_ids};
  std::vector<ThreadResult> results(workers);
  std::vector<uint64_t> draws(workers, 0);
  run_workers(workers, progress, [&](int t) {
    const uint64_t stream = (static_cast<uint64_t>(params.epoch) << 32) | static_cast<uint64_t>(t);
    SplitMix64 rng(params.seed, stream);
    rng.skip(params.rng_start);
    uint64_t end_state = rng.state;
    train_chunks(context, next_chunk, rng, results[t], end_state);
    draws[t] = SplitMix64::draws_between(rng.state, end_state);
  });

  EpochStats stats;
  stats.rng_end = params.rng_start + *std::max_element(draws.begin(), draws.end());
  for (const auto& r : results) {  // fixed order: deterministic sums
    stats.loss += r.loss;
    stats.loss_terms += r.loss_terms;
    stats.ids_processed += r.ids_processed;
    stats.words_trained += r.words_trained;
    stats.stopped = stats.stopped || r.stopped;
  }
  return stats;
}

std::vector<int64_t> word2vec_slice_ids(const CorpusView& corpus, uint64_t seed, int epoch,
                                        int slice_count) {
  EMBFORGE_CHECK(slice_count >= 1, "slice_count must be >= 1, got ", slice_count);
  EMBFORGE_CHECK(corpus.n_sentences >= 0 && (corpus.offsets || corpus.n_sentences == 0),
                 "corpus offsets must not be null");
  const std::vector<SentenceRange> chunks = epoch_chunks(corpus, seed, epoch);
  std::vector<int64_t> ids(static_cast<size_t>(slice_count));
  for (int i = 0; i < slice_count; ++i) {
    const auto [first, end] = slice_bounds(static_cast<int64_t>(chunks.size()), i, slice_count);
    ids[i] = ids_in(corpus, chunks.data() + first, end - first);
  }
  return ids;
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
  const int dim = params.vector_size;
  WindowBuffers b(params);
  for (int j = 0; j < n_contexts; ++j)
    b.context_rows[j] = model.input + static_cast<int64_t>(contexts[j]) * dim;
  for (int k = 0; k <= params.negative; ++k) {
    b.targets[k] = targets[k];
    b.target_rows[k] = model.output + static_cast<int64_t>(targets[k]) * dim;
  }
  ThreadResult r;
  if (params.skip_gram) {
    skip_gram_window(params, b, n_contexts, alpha, r);
  } else {
    cbow_window(params, b, n_contexts, alpha, r);
  }
  return r.loss;
}

void init_word2vec_input(float* input, int64_t rows, int dim, uint64_t seed, float scale,
                         int workers) {
  EMBFORGE_CHECK(rows >= 0 && dim >= 1, "invalid shape [", rows, ", ", dim, "]");
  EMBFORGE_CHECK(workers >= 1, "workers must be >= 1, got ", workers);
  const float inverse_dim = 1.0f / static_cast<float>(dim);
  // At least 4096 rows a thread: below that a thread costs more than it saves.
  const int threads = static_cast<int>(std::clamp<int64_t>(rows / 4096, 1, workers));
  run_workers(threads, nullptr, [&](int t) {
    const int64_t first = rows * t / threads, last = rows * (t + 1) / threads;
    for (int64_t r = first; r < last; ++r) {
      SplitMix64 rng(seed, static_cast<uint64_t>(r));
      float* row = input + r * dim;
      // Two roundings, as numpy's `input *= scale` after the plain init gave.
      for (int i = 0; i < dim; ++i) row[i] = ((rng.uniform() - 0.5f) * inverse_dim) * scale;
    }
  });
}

}  // namespace embforge

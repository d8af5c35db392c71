// FastText on CPU threads: Hogwild SGD over shuffled chunks of the encoded
// corpus (as word2vec.cpp), with each input word a bag of subword rows.
//
// Each word's bag (its row and ~20 n-gram rows) is summed once per
// occurrence and gets its gradient back when the word leaves the windows
// (fasttext_bags.h). CBOW averages the bags of all contexts together
// (fasttext_cbow.h); skip-gram scores each context's bag against the centre
// and the window's noise words (fasttext_skipgram.h: word2vec's orientation,
// which touches 1 + negative output rows a window instead of fastText's
// contexts x (1 + negative)).
#include "embforge/fasttext.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "embforge/check.h"
#include "embforge/fasttext_ngrams.h"
#include "embforge/parallel.h"
#include "embforge/random.h"
#include "embforge/simd.h"
#include "embforge/word2vec_math.h"
#include "epoch_chunks.h"
#include "fasttext_bags.h"
#include "fasttext_cbow.h"
#include "fasttext_skipgram.h"
#include "hot_rows.h"
#include "line_array.h"
#include "vec.h"
#include "word2vec_window.h"

namespace embforge {
namespace {

using vec::axpy;
using vec::dot;
using w2v_cpu::ThreadResult;

// With several workers the bags of the 64 most frequent words and their
// output rows are trained in thread-private copies (hot_rows.h; the same
// count as word2vec.cpp's). Each window writes the output rows of its centre
// and noise words, each word's leaving writes its bag, and the frequent
// words' rows were the cache lines the cores fought over.
constexpr int64_t kHotWords = 64;

// fasttext_window_update's scratch vectors, on cache lines of their own.
struct Scratch {
  Scratch(int dim, int n_targets) : hidden(dim), grad(dim), dots(n_targets) {}
  LineArray<float> hidden;   // the mean of the bag
  LineArray<float> grad;     // summed gradient for every row of the bag
  LineArray<float> dots;     // one set's dot products
};

// Starts loading a row into cache (the n-gram rows and the noise words'
// output rows are random rows of matrices far larger than the caches).
EMBFORGE_INLINE void prefetch_row(const float* row, int dim) {
  for (int i = 0; i < dim; i += 16) __builtin_prefetch(row + i);
}

using ft_cpu::input_row;

// hidden = the mean of the subword rows of words[0, n).
EMBFORGE_INLINE void compose(const FastTextModel& m, int dim, const uint32_t* words, int n,
                             float* hidden) {
  std::fill(hidden, hidden + dim, 0.0f);
  int64_t rows = 0;
  for (int i = 0; i < n; ++i) {
    const int64_t first = m.subword_offsets[words[i]], end = m.subword_offsets[words[i] + 1];
    for (int64_t k = first; k < end; ++k) axpy(1.0f, input_row(m, m.subword_ids[k], dim), hidden, dim);
    rows += end - first;
  }
  if (rows > 1) vec::scale(1.0f / static_cast<float>(rows), hidden, dim);
}

// Adds grad to every subword row of words[0, n).
EMBFORGE_INLINE void spread(const FastTextModel& m, int dim, const uint32_t* words, int n,
                            const float* grad) {
  for (int i = 0; i < n; ++i) {
    const int64_t first = m.subword_offsets[words[i]], end = m.subword_offsets[words[i] + 1];
    for (int64_t k = first; k < end; ++k) axpy(1.0f, grad, input_row(m, m.subword_ids[k], dim), dim);
  }
}

// One set of targets against the hidden vector: every dot product first,
// then target after target the gradient takes the row and the row moves.
EMBFORGE_INLINE void train_set(const FastTextModel& m, int dim, Scratch& s, const uint32_t* targets,
                               int n_targets, float alpha, double& loss, int64_t& terms) {
  const uint32_t positive = targets[0];
  for (int k = 0; k < n_targets; ++k)
    s.dots[k] = dot(s.hidden.data(), m.output + static_cast<int64_t>(targets[k]) * dim, dim);
  for (int k = 0; k < n_targets; ++k) {
    if (k > 0 && targets[k] == positive) continue;  // a noise draw of the positive itself
    const float g = w2v_cpu::coefficient(s.dots[k], k == 0, alpha, &loss);
    ++terms;
    float* row = m.output + static_cast<int64_t>(targets[k]) * dim;
    axpy(g, row, s.grad.data(), dim);
    axpy(g, s.hidden.data(), row, dim);
  }
}

// One thread's buffers for windows over cached bags: the window's targets
// and their output rows, and each model's scratch.
struct WindowScratch {
  WindowScratch(int dim, int window, int n_targets)
      : targets(n_targets), out_rows(n_targets), cbow_hidden(2 * static_cast<size_t>(dim)),
        cbow_g(n_targets), skip_gram(dim, window, n_targets) {}
  LineArray<uint32_t> targets;  // the centre, then the noise words
  LineArray<float*> out_rows;   // where their output rows are
  LineArray<float> cbow_hidden;
  LineArray<float> cbow_g;
  ft_cpu::SkipGramScratch skip_gram;
};

// One window over cached bags; the default negative=5 keeps its targets'
// rows in registers.
EMBFORGE_INLINE void train_window(bool skip_gram, ft_cpu::WindowViews& views, int n_ctx,
                                  WindowScratch& s, int n_targets, int dim, float alpha,
                                  double& loss, int64_t& terms) {
  constexpr int kDefault = 6;  // 1 + negative
  const uint32_t* targets = s.targets.data();
  float* const* out_rows = s.out_rows.data();
  if (skip_gram && n_targets == kDefault) {
    ft_cpu::skipgram_cached_window<kDefault>(views, n_ctx, targets, out_rows, n_targets, dim,
                                             alpha, s.skip_gram, loss, terms);
  } else if (skip_gram) {
    ft_cpu::skipgram_cached_window<0>(views, n_ctx, targets, out_rows, n_targets, dim, alpha,
                                      s.skip_gram, loss, terms);
  } else if (n_targets == kDefault) {
    ft_cpu::cbow_cached_window<kDefault>(views, n_ctx, targets, out_rows, n_targets, dim, alpha,
                                         s.cbow_hidden.data(), s.cbow_g.data(), loss, terms);
  } else {
    ft_cpu::cbow_cached_window<0>(views, n_ctx, targets, out_rows, n_targets, dim, alpha,
                                  s.cbow_hidden.data(), s.cbow_g.data(), loss, terms);
  }
}

struct Context {
  const FastTextParams& params;
  const CorpusView& corpus;
  const FastTextModel& model;
  Progress* progress;
  const SentenceRange* chunks;
  int64_t n_chunks;
  int64_t max_sentence;
  int64_t total_ids;
  int64_t max_bag;   // the longest bag of subword rows
  int64_t hot_rows;  // words whose bags (and output rows) each thread keeps private
  int64_t merge_every;  // ids a thread trains between merges of those (hot_rows.h)
};

// One worker: takes chunks of sentences until none is left (word2vec.cpp's
// loop: the same subsampling, window and learning-rate rules).
EMBFORGE_MULTIVERSION
void train_chunks(const Context& c, std::atomic<int64_t>& next_chunk, SplitMix64 rng,
                  ThreadResult& result) {
  ThreadResult r;
  const FastTextParams& p = c.params;
  const FastTextModel& m = c.model;
  const int dim = p.vector_size;
  const int n_targets = 1 + p.negative;
  const auto n_vocab = static_cast<uint32_t>(m.vocab_size);
  const double total = static_cast<double>(c.total_ids);
  constexpr int64_t kReportEvery = 10000;

  LineArray<uint32_t> sentence(c.max_sentence);
  // The bags of the words in the current windows, summed once per
  // occurrence (fasttext_bags.h); with several threads the hottest words'
  // rows in private copies.
  ft_cpu::BagCache cache(dim, p.window, c.max_bag);
  ft_cpu::HotBags hot_input(m, dim, c.hot_rows);
  HotRows hot_output(m.output, c.hot_rows, dim);
  int64_t since_merge = 0;
  LineArray<uint32_t> next_noise(p.negative);
  auto draw_noise = [&] {
    for (int k = 0; k < p.negative; ++k) {
      next_noise[k] = alias_draw(m.noise_keep, m.noise_alias, n_vocab, rng.next());
      if (!hot_output.hot(next_noise[k])) prefetch_row(hot_output.row(next_noise[k]), dim);
    }
  };
  draw_noise();
  ft_cpu::WindowViews views(p.window);
  WindowScratch scratch(dim, p.window, n_targets);

  float alpha = w2v::linear_rate(p.alpha_start, p.alpha_end,
                                 static_cast<double>(c.progress->work_done.load()), total);
  int64_t unreported = 0;
  double reported_loss = 0.0;
  int64_t reported_terms = 0;
  for (int64_t claim; !r.stopped && (claim = next_chunk.fetch_add(1)) < c.n_chunks;) {
    const SentenceRange chunk = c.chunks[claim];
    for (int64_t sent = chunk.first; sent < chunk.end; ++sent) {
      if (c.progress->stop_requested()) {
        r.stopped = true;
        break;
      }
      const int64_t begin = c.corpus.offsets[sent], end = c.corpus.offsets[sent + 1];
      int n = 0;
      for (int64_t i = begin; i < end; ++i) {
        const uint32_t id = c.corpus.ids[i];
        if (w2v::keep_word(m.keep_threshold[id], rng.next32())) sentence[n++] = id;
      }
      double loss = 0.0;
      int64_t terms = 0;
      ft_cpu::bag_sentence(
          m, dim, p.window, n_targets, hot_input, cache, sentence.data(), n,
          scratch.targets.data(), scratch.out_rows.data(), views,
          [&](int) { return w2v::reduced_window(p.window, rng.next32(), p.shrink_windows); },
          [&](int pos, uint32_t* t) {
            // Noise words drawn one window ahead (and the next centre's row
            // asked for): their output rows load while this window runs.
            t[0] = sentence[pos];
            std::copy(next_noise.begin(), next_noise.end(), t + 1);
            draw_noise();
            if (pos + 1 < n && !hot_output.hot(sentence[pos + 1]))
              prefetch_row(hot_output.row(sentence[pos + 1]), dim);
          },
          [&](uint32_t id) { return hot_output.row(id); },
          [&](int n_ctx) EMBFORGE_INLINE_LAMBDA {
            train_window(p.skip_gram, views, n_ctx, scratch, n_targets, dim, alpha, loss, terms);
          });
      if (c.hot_rows && (since_merge += end - begin) >= c.merge_every) {
        since_merge = 0;
        hot_input.merge();
        hot_output.merge();
      }
      r.loss += loss;
      r.loss_terms += terms;
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
  }
  hot_input.merge();
  hot_output.merge();
  c.progress->work_done.fetch_add(unreported);
  c.progress->loss_sum.fetch_add(r.loss - reported_loss, std::memory_order_relaxed);
  c.progress->loss_count.fetch_add(r.loss_terms - reported_terms, std::memory_order_relaxed);
  result = r;
}

void check_ngram_params(int min_n, int max_n, int64_t bucket) {
  EMBFORGE_CHECK(min_n >= 1, "min_n must be >= 1, got ", min_n);
  EMBFORGE_CHECK(max_n >= min_n, "max_n must be >= min_n, got min_n=", min_n, ", max_n=", max_n);
  EMBFORGE_CHECK(bucket >= 1 && bucket <= std::numeric_limits<uint32_t>::max(),
                 "bucket must be in [1, 2^32 - 1], got ", bucket);
}

void check_model(const FastTextParams& p, const FastTextModel& m) {
  EMBFORGE_CHECK(p.vector_size >= 1, "vector_size must be >= 1, got ", p.vector_size);
  check_ngram_params(p.min_n, p.max_n, p.bucket);
  EMBFORGE_CHECK(m.vocab_size >= 1, "empty vocabulary");
  EMBFORGE_CHECK(m.bucket == p.bucket, "the input matrix has ", m.bucket,
                 " n-gram rows, params.bucket is ", p.bucket);
  EMBFORGE_CHECK(m.vocab_size + m.bucket <= std::numeric_limits<uint32_t>::max(),
                 "vocabulary + bucket rows must fit 32-bit row ids, got ", m.vocab_size + m.bucket);
  EMBFORGE_CHECK(m.input && m.output && m.subword_offsets && m.subword_ids,
                 "model arrays must not be null");
}

void check_params(const FastTextParams& p, const CorpusView& corpus, const FastTextModel& m) {
  check_model(p, m);
  EMBFORGE_CHECK(p.window >= 1, "window must be >= 1, got ", p.window);
  EMBFORGE_CHECK(p.negative >= 1, "negative must be >= 1 (negative sampling), got ", p.negative);
  EMBFORGE_CHECK(p.workers >= 1, "workers must be >= 1, got ", p.workers);
  EMBFORGE_CHECK(std::isfinite(p.alpha_start) && p.alpha_start > 0.0f,
                 "alpha must be > 0, got ", p.alpha_start);
  EMBFORGE_CHECK(std::isfinite(p.alpha_end) && p.alpha_end >= 0.0f,
                 "min_alpha must be >= 0, got ", p.alpha_end);
  EMBFORGE_CHECK(m.keep_threshold && m.noise_keep && m.noise_alias, "sampling tables must not be null");
  EMBFORGE_CHECK(corpus.n_sentences >= 0 && corpus.offsets, "corpus offsets must not be null");
}

}  // namespace

Subwords fasttext_subwords(const std::vector<std::string>& words, int min_n, int max_n,
                           int64_t bucket) {
  check_ngram_params(min_n, max_n, bucket);
  const auto vocab = static_cast<int64_t>(words.size());
  EMBFORGE_CHECK(vocab + bucket <= std::numeric_limits<uint32_t>::max(),
                 "vocabulary + bucket rows must fit 32-bit row ids, got ", vocab + bucket);
  Subwords out;
  out.offsets.reserve(words.size() + 1);
  out.offsets.push_back(0);
  const auto modulus = static_cast<uint32_t>(bucket);
  for (int64_t w = 0; w < vocab; ++w) {
    const std::string& word = words[w];
    out.ids.push_back(static_cast<uint32_t>(w));
    ft::for_each_ngram(word.data(), static_cast<int64_t>(word.size()), min_n, max_n,
                       [&](int64_t, int64_t, uint32_t h) {
                         out.ids.push_back(static_cast<uint32_t>(vocab + h % modulus));
                       });
    out.offsets.push_back(static_cast<int64_t>(out.ids.size()));
  }
  return out;
}

EpochStats train_fasttext_epoch(const FastTextParams& params, const CorpusView& corpus,
                                const FastTextModel& model, Progress* progress) {
  check_params(params, corpus, model);
  const int workers = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(params.workers, corpus.n_sentences)));
  const std::vector<SentenceRange> chunks = epoch_chunks(corpus, params.seed, params.epoch);
  const auto n_chunks = static_cast<int64_t>(chunks.size());
  const int64_t ids = ids_in(corpus, chunks.data(), n_chunks);
  Progress local_progress;
  if (!progress) progress = &local_progress;
  progress->reset(ids);
  progress->learning_rate = params.alpha_start;
  alignas(64) std::atomic<int64_t> next_chunk{0};
  int64_t max_bag = 1;
  for (int64_t w = 0; w < model.vocab_size; ++w)
    max_bag = std::max(max_bag, model.subword_offsets[w + 1] - model.subword_offsets[w]);
  // One worker: nothing to contend for, and bit-identical runs.
  const int64_t hot_rows = workers > 1 ? std::min<int64_t>(model.vocab_size, kHotWords) : 0;
  const Context context{params, corpus, model, progress, chunks.data(), n_chunks,
                        longest_sentence(corpus), ids, max_bag, hot_rows,
                        hot_merge_interval(workers)};
  std::vector<ThreadResult> results(workers);
  run_workers(workers, progress, [&](int t) {
    // streams apart from word2vec's (epoch << 32 | t) by the top bit
    const uint64_t stream = (1ull << 63) | (static_cast<uint64_t>(params.epoch) << 32) |
                            static_cast<uint64_t>(t);
    train_chunks(context, next_chunk, SplitMix64(params.seed, stream), results[t]);
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

double fasttext_window_update(const FastTextParams& params, const FastTextModel& model,
                              const uint32_t* inputs, int n_inputs, const uint32_t* targets,
                              int n_sets, float alpha) {
  check_model(params, model);
  EMBFORGE_CHECK(n_inputs >= 1, "at least one input word, got ", n_inputs);
  EMBFORGE_CHECK(n_sets >= 1, "at least one set of targets, got ", n_sets);
  EMBFORGE_CHECK(params.negative >= 0, "negative must be >= 0, got ", params.negative);
  for (int i = 0; i < n_inputs; ++i)
    EMBFORGE_CHECK(inputs[i] < model.vocab_size, "input word ", inputs[i], " out of range");
  const int n_targets = 1 + params.negative;
  for (int64_t k = 0; k < static_cast<int64_t>(n_sets) * n_targets; ++k)
    EMBFORGE_CHECK(targets[k] < model.vocab_size, "target ", targets[k], " out of range");
  const int dim = params.vector_size;
  Scratch s(dim, n_targets);
  double loss = 0.0;
  int64_t terms = 0;
  compose(model, dim, inputs, n_inputs, s.hidden.data());
  std::fill(s.grad.begin(), s.grad.end(), 0.0f);
  for (int set = 0; set < n_sets; ++set)
    train_set(model, dim, s, targets + static_cast<int64_t>(set) * n_targets, n_targets, alpha,
              loss, terms);
  spread(model, dim, inputs, n_inputs, s.grad.data());
  return loss;
}

double fasttext_sentence(const FastTextParams& params, const FastTextModel& model,
                         const uint32_t* words, int n, const int* reaches, const uint32_t* noise,
                         float alpha) {
  check_model(params, model);
  EMBFORGE_CHECK(params.window >= 1, "window must be >= 1, got ", params.window);
  EMBFORGE_CHECK(params.negative >= 0, "negative must be >= 0, got ", params.negative);
  EMBFORGE_CHECK(n >= 0, "sentence length must be >= 0, got ", n);
  for (int i = 0; i < n; ++i) {
    EMBFORGE_CHECK(words[i] < model.vocab_size, "word ", words[i], " out of range");
    EMBFORGE_CHECK(reaches[i] >= 1 && reaches[i] <= params.window, "reach must be in [1, ",
                   params.window, "], got ", reaches[i]);
  }
  const int negative = params.negative;
  for (int64_t k = 0; k < static_cast<int64_t>(n) * negative; ++k)
    EMBFORGE_CHECK(noise[k] < model.vocab_size, "noise word ", noise[k], " out of range");
  const int dim = params.vector_size;
  const int n_targets = 1 + negative;
  int64_t max_bag = 1;
  for (int i = 0; i < n; ++i)
    max_bag = std::max(max_bag, model.subword_offsets[words[i] + 1] - model.subword_offsets[words[i]]);
  ft_cpu::BagCache cache(dim, params.window, max_bag);
  const ft_cpu::HotBags no_hot_rows(model, dim, 0);
  ft_cpu::WindowViews views(params.window);
  WindowScratch scratch(dim, params.window, n_targets);
  double loss = 0.0;
  int64_t terms = 0;
  ft_cpu::bag_sentence(
      model, dim, params.window, n_targets, no_hot_rows, cache, words, n,
      scratch.targets.data(), scratch.out_rows.data(), views,
      [&](int pos) { return reaches[pos]; },
      [&](int pos, uint32_t* t) {
        t[0] = words[pos];
        std::copy(noise + static_cast<int64_t>(pos) * negative,
                  noise + static_cast<int64_t>(pos + 1) * negative, t + 1);
      },
      [&](uint32_t id) { return model.output + static_cast<int64_t>(id) * dim; },
      [&](int n_ctx) {
        train_window(params.skip_gram, views, n_ctx, scratch, n_targets, dim, alpha, loss, terms);
      });
  return loss;
}

void fasttext_word_vectors(const FastTextModel& model, int dim, float* out, int workers) {
  EMBFORGE_CHECK(dim >= 1, "vector_size must be >= 1, got ", dim);
  EMBFORGE_CHECK(workers >= 1, "workers must be >= 1, got ", workers);
  EMBFORGE_CHECK(model.input && model.subword_offsets && model.subword_ids && out,
                 "arrays must not be null");
  const int64_t n = model.vocab_size;
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(workers, n / 1024)));
  run_workers(threads, nullptr, [&](int t) {
    for (int64_t w = n * t / threads; w < n * (t + 1) / threads; ++w) {
      const auto word = static_cast<uint32_t>(w);
      compose(model, dim, &word, 1, out + w * dim);
    }
  });
}

}  // namespace embforge

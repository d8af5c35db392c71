// FastText on a lane group: the work of one span of the id stream, shared by
// the CUDA kernel (a warp per span, fasttext.cu) and the CPU emulation used by
// the tests. The contract is fasttext.h's; the walk over the stream is
// word2vec's (w2v_core.cuh): positional randomness keyed by (seed, epoch,
// position), words subsampled before windowing, windows shrunk to a uniform
// [1, window], the learning rate linear in the stream position. Its helpers
// (w2v_kept, w2v_draws, w2v_gather_side, w2v_noise_word) are used as they are.
//
// A word's input vector is the mean of its subword rows (its own row, then
// its n-gram rows, from the CSR lists built on the host by
// fasttext_subwords); "compose" sums them, in list order, into the warp's
// hidden vector. Skip-gram takes the centre as the input (fastText's
// orientation, as the CPU kernel): one hidden vector per window, one set of
// targets per context (the context, then `negative` noise words drawn for
// that set); CBOW takes the mean of all the contexts' subword rows against
// one set (the centre and its noise words). After the window's last set the
// summed gradient is added to every subword row of the input words.
//
// Within a set the order is the CPU's (fasttext.h, fasttext_window_update):
// every target row is staged into scratch and every dot product taken first;
// then target after target the gradient takes the target's row and the row
// moves by g * hidden. A noise word drawn twice in a set sees its first
// update in its second gradient, as on the CPU: its later staged copies
// receive the same update. Sets run one after another and stage their rows
// afresh, so a set sees the output rows the previous sets wrote.
//
// Races: those of word2vec (w2v_core.cuh, top), over more rows. Model rows
// are read through L2 (load_l2) and written only by atomic adds; the hidden
// vector is computed from the subword rows as they are read at the window's
// start, while other warps may be adding to them (n-gram rows are shared by
// many words, so they are hit more often than word rows: the increments all
// land, but a gradient may be computed from a row missing some of them).
// The emulation (spans in order, one warp) is deterministic.
//
// Approximations on the GPU (--use_fast_math), on purpose: the mean's 1 / n
// and the sigmoid (word2vec_math.h). The initial weights are exact
// (ft_init_row, rounding.h): the CPU's bit for bit.
#pragma once

#include <cstdint>

#include "embforge/fasttext.h"
#include "embforge/hd.h"
#include "embforge/rounding.h"
#include "embforge/word2vec_math.h"
#include "group.cuh"
#include "sentences.cuh"
#include "w2v_core.cuh"

namespace embforge::cuda {

// What a lane group reads: word2vec's arguments (stream, rows, tables,
// window, rates; w.input has vocab_size + bucket rows, w.vocab_size is the
// vocabulary, which the noise draws and the output rows use) plus the
// subword lists.
struct FtArgs {
  W2vArgs w;
  const int64_t* subword_offsets = nullptr;  // [vocab_size + 1]
  const uint32_t* subword_ids = nullptr;     // rows of w.input
};

// The epoch's key for all positional draws: apart from word2vec's, so that
// a FastText and a Word2Vec run from one seed do not draw the same windows.
EMBFORGE_HD uint64_t ft_epoch_seed(uint64_t seed, int epoch) {
  return SplitMix64(seed, 0x66747874000000ull + static_cast<uint32_t>(epoch)).next();
}

inline FtArgs ft_args(const FastTextParams& params, const CorpusView& corpus,
                      const FastTextModel& model) {
  FtArgs a;
  W2vArgs& w = a.w;
  w.ids = corpus.ids;
  w.offsets = corpus.offsets;
  w.n_sentences = corpus.n_sentences;
  w.n_ids = corpus.n_ids;
  w.input = model.input;
  w.output = model.output;
  w.vocab_size = model.vocab_size;
  w.dim = params.vector_size;
  w.keep_threshold = model.keep_threshold;
  w.noise_keep = model.noise_keep;
  w.noise_alias = model.noise_alias;
  w.window = params.window;
  w.negative = params.negative;
  w.skip_gram = params.skip_gram;
  w.shrink_windows = params.shrink_windows;
  w.alpha_start = params.alpha_start;
  w.alpha_end = params.alpha_end;
  w.epoch_seed = ft_epoch_seed(params.seed, params.epoch);
  a.subword_offsets = model.subword_offsets;
  a.subword_ids = model.subword_ids;
  return a;
}

// The arguments of the composed word vectors (ft_compose over every word):
// the input rows and the subword lists only.
inline FtArgs ft_vector_args(const FastTextModel& model, int dim) {
  FtArgs a;
  a.w.input = model.input;
  a.w.vocab_size = model.vocab_size;
  a.w.dim = dim;
  a.subword_offsets = model.subword_offsets;
  a.subword_ids = model.subword_ids;
  return a;
}

// One group's scratch (shared memory on the GPU).
struct FtScratch {
  uint32_t* contexts;  // [2 * window]
  uint32_t* targets;   // [1 + negative]: the set's positive, then its noise words
  float* dots;         // [1 + negative]: the set's dot products
  float* hidden;       // [padded dim]: the mean of the input words' subword rows
  float* grad;         // [padded dim]: the gradient summed over the window's sets
  float* trows;        // [1 + negative][padded dim]: the set's target rows as staged
};

EMBFORGE_HD int64_t ft_id_bytes(const FtArgs& a) {
  const int64_t n = 2 * static_cast<int64_t>(a.w.window) + 2 * (1 + static_cast<int64_t>(a.w.negative));
  return (n * 4 + 15) & ~int64_t{15};  // the float rows after them stay 16-byte aligned
}

EMBFORGE_HD int64_t ft_scratch_bytes(const FtArgs& a) {
  return ft_id_bytes(a) + 4 * (3 + static_cast<int64_t>(a.w.negative)) * padded_dim(a.w.dim);
}

EMBFORGE_HD FtScratch ft_scratch(unsigned char* base, const FtArgs& a) {
  FtScratch s;
  const int n_targets = 1 + a.w.negative;
  const int64_t dp = padded_dim(a.w.dim);
  s.contexts = reinterpret_cast<uint32_t*>(base);
  s.targets = s.contexts + 2 * a.w.window;
  s.dots = reinterpret_cast<float*>(s.targets + n_targets);
  s.hidden = reinterpret_cast<float*>(base + ft_id_bytes(a));
  s.grad = s.hidden + dp;
  s.trows = s.grad + dp;
  return s;
}

// hidden[c..] = the mean of the subword rows of words[0, n), each lane its
// own dimensions. Rows are summed in list order (the CPU's compose: the same
// sums bit for bit on the host), their loads issued kLoadGroup at a time so
// that several are in flight. `hidden` may be scratch or a global row.
template <int V, class G>
EMBFORGE_HD void ft_compose(const G& g, const FtArgs& a, const uint32_t* words, int n, float* hidden) {
  const int dim = a.w.dim, first = g.rank() * V, stride = g.size() * V;
  int64_t rows = 0;
  for (int i = 0; i < n; ++i) rows += a.subword_offsets[words[i] + 1] - a.subword_offsets[words[i]];
  // Approximate on the GPU (rcp.approx), as CBOW's 1/n in word2vec; exact on the host.
  const float inv = rows > 1 ? 1.0f / static_cast<float>(rows) : 1.0f;
  for (int c = first; c < dim; c += stride) {
    Pack<V> sum;
#pragma unroll
    for (int v = 0; v < V; ++v) sum.v[v] = 0.0f;
    for (int i = 0; i < n; ++i) {
      const int64_t begin = a.subword_offsets[words[i]], end = a.subword_offsets[words[i] + 1];
      for (int64_t k = begin; k < end; k += kLoadGroup) {
        Pack<V> loaded[kLoadGroup];
#pragma unroll
        for (int u = 0; u < kLoadGroup; ++u)
          if (k + u < end)
            loaded[u] = load_l2_pack<V>(a.w.input + static_cast<int64_t>(a.subword_ids[k + u]) * dim + c);
#pragma unroll
        for (int u = 0; u < kLoadGroup; ++u)
          if (k + u < end)
            for (int v = 0; v < V; ++v) sum.v[v] += loaded[u].v[v];
      }
    }
    if (rows > 1)
      for (int v = 0; v < V; ++v) sum.v[v] *= inv;
    store_pack<V>(hidden + c, sum);
  }
}

// Adds grad to every subword row of words[0, n) (atomic adds).
template <int V, class G>
EMBFORGE_HD void ft_spread(const G& g, const FtArgs& a, const uint32_t* words, int n, const float* grad) {
  const int dim = a.w.dim, first = g.rank() * V, stride = g.size() * V;
  for (int c = first; c < dim; c += stride) {
    const Pack<V> delta = load_pack<V>(grad + c);
    for (int i = 0; i < n; ++i) {
      const int64_t begin = a.subword_offsets[words[i]], end = a.subword_offsets[words[i] + 1];
      for (int64_t k = begin; k < end; ++k)
        add_atomic_pack<V>(a.w.input + static_cast<int64_t>(a.subword_ids[k]) * dim + c, delta);
    }
  }
}

// One set of targets (s.targets[0, 1 + negative), the positive first)
// against s.hidden; adds to s.grad (fasttext.h's order, see the top).
template <int V, class G>
EMBFORGE_HD void ft_train_set(const G& g, const FtArgs& a, const FtScratch& s, float alpha,
                              W2vCounters& out) {
  const int dim = a.w.dim, dp = padded_dim(dim), first = g.rank() * V, stride = g.size() * V;
  const int n_targets = 1 + a.w.negative;
  // Stage every target row (kLoadGroup loads in flight per lane), then the dots.
  for (int c = first; c < dim; c += stride) {
    for (int k = 0; k < n_targets; k += kLoadGroup) {
      Pack<V> loaded[kLoadGroup];
#pragma unroll
      for (int u = 0; u < kLoadGroup; ++u)
        if (k + u < n_targets)
          loaded[u] = load_l2_pack<V>(a.w.output + static_cast<int64_t>(s.targets[k + u]) * dim + c);
#pragma unroll
      for (int u = 0; u < kLoadGroup; ++u)
        if (k + u < n_targets) store_pack<V>(s.trows + (k + u) * dp + c, loaded[u]);
    }
  }
  for (int k = 0; k < n_targets; ++k) {
    float part = 0.0f;
    for (int c = first; c < dim; c += stride) part += dot_pack<V>(s.hidden + c, s.trows + k * dp + c);
    const float d = g.sum(part);
    if (g.rank() == 0) s.dots[k] = d;
  }
  g.sync();  // lane 0's dots visible to every lane
  const uint32_t positive = s.targets[0];
  float loss = 0.0f;
  int terms = 0;
  for (int k = 0; k < n_targets; ++k) {
    const uint32_t target = s.targets[k];
    if (k > 0 && target == positive) continue;  // a noise draw of the positive itself
    const float label = k == 0 ? 1.0f : 0.0f;
    const float d = s.dots[k];
    const float coef = w2v::ns_coefficient(d, label, alpha);
    loss += w2v::ns_loss(d, label);
    ++terms;
    float* orow = a.w.output + static_cast<int64_t>(target) * dim;
    for (int c = first; c < dim; c += stride) {
      const Pack<V> step = scale_pack<V>(coef, load_pack<V>(s.hidden + c));
      axpy_pack<V>(coef, s.trows + k * dp + c, s.grad + c);
      add_atomic_pack<V>(orow + c, step);
      // later copies of this row in the set see the update (the CPU reads
      // the row itself, which has moved)
      for (int k2 = k + 1; k2 < n_targets; ++k2)
        if (s.targets[k2] == target) axpy_pack<V>(1.0f, step, s.trows + k2 * dp + c);
    }
  }
  out.loss += loss;
  out.loss_terms += terms;
}

// One window around the kept centre at position p of sentence [lo, hi).
// Returns false when the window had no context.
template <int V, class G>
EMBFORGE_HD bool ft_center(const G& g, const FtArgs& a, const FtScratch& s, int64_t p, uint32_t center,
                           int64_t lo, int64_t hi, W2vCounters& out) {
  const W2vDraws draws = w2v_draws(a.w, p);
  g.sync();  // every lane is done reading the previous window's ids
  const int left = w2v_gather_side(g, a.w, s.contexts, p, -1, lo, hi, draws.reach);
  const int right = w2v_gather_side(g, a.w, s.contexts + left, p, +1, lo, hi, draws.reach);
  const int n_contexts = left + right;
  if (n_contexts == 0) return false;
  const int dim = a.w.dim, first = g.rank() * V, stride = g.size() * V;
  const int negative = a.w.negative;
  const float alpha = w2v::linear_rate(a.w.alpha_start, a.w.alpha_end, static_cast<double>(p),
                                       static_cast<double>(a.w.n_ids));
  for (int c = first; c < dim; c += stride) fill_pack<V>(s.grad + c, 0.0f);
  if (a.w.skip_gram) {
    ft_compose<V>(g, a, &center, 1, s.hidden);
    for (int j = 0; j < n_contexts; ++j) {
      g.sync();  // the previous set is done with the targets (and the contexts are written)
      // set j's noise words: draws j * negative .. of the window's noise seed
      for (int k = g.rank(); k < negative; k += g.size())
        s.targets[1 + k] = w2v_noise_word(a.w, draws.noise_seed, j * negative + k);
      if (g.rank() == 0) s.targets[0] = s.contexts[j];
      g.sync();
      ft_train_set<V>(g, a, s, alpha, out);
    }
    ft_spread<V>(g, a, &center, 1, s.grad);
  } else {
    for (int k = g.rank(); k < negative; k += g.size())
      s.targets[1 + k] = w2v_noise_word(a.w, draws.noise_seed, k);
    if (g.rank() == 0) s.targets[0] = center;
    g.sync();
    ft_compose<V>(g, a, s.contexts, n_contexts, s.hidden);
    ft_train_set<V>(g, a, s, alpha, out);
    ft_spread<V>(g, a, s.contexts, n_contexts, s.grad);
  }
  return true;
}

// Every centre in positions [begin, end) of the stream; windows reach into
// neighbouring spans and stop at sentence ends.
template <int V, class G>
EMBFORGE_HD void ft_span(const G& g, const FtArgs& a, const FtScratch& s, int64_t begin, int64_t end,
                         W2vCounters& out) {
  int64_t sentence = sentence_of(a.w.offsets, a.w.n_sentences, begin);
  for (int64_t p = begin; p < end; ++p) {
    while (a.w.offsets[sentence + 1] <= p) ++sentence;  // skips empty sentences too
    const uint32_t center = a.w.ids[p];
    if (!w2v_kept(a.w, p, center)) continue;
    ++out.words_trained;
    ft_center<V>(g, a, s, p, center, a.w.offsets[sentence], a.w.offsets[sentence + 1], out);
  }
}

// Spans of `span` positions of [begin, end): this group's are first, first +
// step, ... (a static grid-stride split).
template <int V, class G>
EMBFORGE_HD void ft_spans(const G& g, const FtArgs& a, const FtScratch& s, int64_t begin, int64_t end,
                          int span, int64_t first, int64_t step, W2vCounters& out) {
  const int64_t n_spans = (end - begin + span - 1) / span;
  for (int64_t i = first; i < n_spans; i += step) {
    const int64_t b = begin + i * span;
    ft_span<V>(g, a, s, b, b + span < end ? b + span : end, out);
  }
}

// Row r of the input matrix exactly as the CPU backend initialises it:
// word2vec's init (w2v_init_row: uniform in [-0.5, 0.5) / dim from
// SplitMix64(seed, r)) times `scale`, every operation correctly rounded
// (rounding.h), in one pass over the row.
EMBFORGE_HD void ft_init_row(float* row, int dim, uint64_t seed, int64_t r, float scale) {
  const float unit = reciprocal_rn(static_cast<float>(dim));
  SplitMix64 rng(seed, static_cast<uint64_t>(r));
  for (int i = 0; i < dim; ++i) row[i] = multiply_rn((rng.uniform() - 0.5f) * unit, scale);
}

}  // namespace embforge::cuda

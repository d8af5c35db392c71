// Word2vec on a lane group: the work of one span of the id stream, shared by
// the CUDA kernel (a warp per span) and the CPU emulation used by the tests.
//
// The distribution matches the CPU backend (csrc/cpu/word2vec.cpp): words
// are subsampled before windowing, windows shrink to a uniform [1, window],
// skip-gram scores a window's contexts against the center and K negatives
// drawn once per window (HogBatch), CBOW scores the contexts' mean against the
// center and K negatives, and the learning rate falls linearly with the
// position in the stream.
//
// Positional randomness. The stream is cut into fixed spans handled by
// different warps in any order, so every random decision is a function of
// (seed, epoch, position) rather than of a thread's running generator: a warp
// can then tell whether a word in a neighbouring span was kept without
// talking to the warp that owns it, and results do not depend on the grid.
//   keep(q)        the q-th output of a SplitMix64 stream keyed by the epoch
//   window, K draws  SplitMix64(epoch seed, center position)
//
// Races (Hogwild, Recht et al. 2011). Warps read and update the shared input
// and output rows without locks. What the GPU guarantees (group.cuh, "Model
// memory"):
//   - no update is lost: every write to a row is an atomic add performed at
//     L2 (red.global.add, fire-and-forget), never a load-add-store, so when
//     warps on any SMs update one row at once, all their increments land;
//   - reads see every increment that reached L2 before them: rows are read
//     through L2 (ld.global.cg), not through the SM's L1, which is not
//     coherent across SMs and could serve a row cached long before;
//   - nothing more: a warp computes its gradients from rows as it read them
//     (skip-gram: the window's context rows at the window start, each target
//     row when its turn comes), so increments other warps make meanwhile are
//     not in the gradient (they are kept in the sum), and a row being updated
//     may be read with some coordinates' increments and not others' (each
//     float whole, never torn). Warps are not ordered, so GPU results depend
//     on scheduling and are not reproducible bit for bit; the emulation (spans
//     in order) is.
// Within a warp the lanes own disjoint dimensions and each lane reads its own
// earlier atomic adds (same thread, same address), so a warp never races with
// itself. Staleness is the model of word2vec.c's threads and of the CPU
// backend; collisions concentrate on frequent words, which subsampling thins
// out. The input initialisation is exact (rounding.h): the CPU's bit for bit.
//
// Speed variants (launch.h, off by default until a GPU has measured them)
// change where loads are issued, never the arithmetic: with the same spans in
// the same order they train the same weights bit for bit.
//   pipelined (kPipelinedLoads): a lane loads its part of up to kLoadGroup
//     context rows before storing any (the loads are in flight together
//     instead of one row's latency after another's); the span loop finds
//     kept centres g.size() positions per ballot and, while a window trains,
//     prefetches into L2 the rows the next kept centre's window will read
//     first (its output row and its noise words').
//   span queue (kSpanQueue, w2v_spans): warps take span indices from an
//     atomic counter instead of a static grid-stride split.
//
// Within a window the updates differ from the CPU's HogBatch only in order:
// each output row is read when its turn comes, so a negative drawn twice sees
// its first update (as word2vec.c's pair-by-pair loop does), and when a
// window has more contexts than fit in scratch (batch < 2 * window) they are
// processed in batches, each seeing the output rows the last one wrote.
#pragma once

#include <cstdint>

#include "embforge/hd.h"
#include "embforge/random.h"
#include "embforge/rounding.h"
#include "embforge/word2vec.h"
#include "embforge/word2vec_math.h"
#include "group.cuh"
#include "sentences.cuh"

namespace embforge::cuda {

// What a lane group reads, built from the contract (word2vec.h) by w2v_args:
// flattened so the kernel takes it by value, with the epoch seed derived once.
struct W2vArgs {
  const uint32_t* ids = nullptr;        // the encoded stream
  const int64_t* offsets = nullptr;     // sentence s is ids[offsets[s], offsets[s+1])
  int64_t n_sentences = 0;
  int64_t n_ids = 0;                    // whole stream: the learning-rate schedule
  float* input = nullptr;               // [vocab_size, dim]
  float* output = nullptr;              // [vocab_size, dim]
  int64_t vocab_size = 0;
  int dim = 0;
  const uint32_t* keep_threshold = nullptr;  // w2v::keep_word
  const uint32_t* noise_keep = nullptr;      // alias table (random.h)
  const uint32_t* noise_alias = nullptr;
  int window = 5;
  int negative = 5;
  int batch = 1;                        // context rows per pass (skip-gram)
  bool skip_gram = true;
  bool shrink_windows = true;
  bool compute_loss = true;             // false: loss and loss_terms stay 0
  bool pipelined = false;               // kPipelinedLoads (see the top of this file)
  float alpha_start = 0.025f, alpha_end = 0.025f;
  uint64_t epoch_seed = 0;              // w2v_epoch_seed(seed, epoch)
};

// The epoch's key for all positional draws.
EMBFORGE_HD uint64_t w2v_epoch_seed(uint64_t seed, int epoch) {
  return SplitMix64(seed, 0x77327600000000ull + static_cast<uint32_t>(epoch)).next();
}

// The kernel arguments for (params, corpus, model); batch is the caller's
// (it depends on the scratch a group gets).
inline W2vArgs w2v_args(const Word2VecParams& params, const CorpusView& corpus,
                        const Word2VecModel& model) {
  W2vArgs a;
  a.ids = corpus.ids;
  a.offsets = corpus.offsets;
  a.n_sentences = corpus.n_sentences;
  a.n_ids = corpus.n_ids;
  a.input = model.input;
  a.output = model.output;
  a.vocab_size = model.vocab_size;
  a.dim = params.vector_size;
  a.keep_threshold = model.keep_threshold;
  a.noise_keep = model.noise_keep;
  a.noise_alias = model.noise_alias;
  a.window = params.window;
  a.negative = params.negative;
  a.skip_gram = params.skip_gram;
  a.shrink_windows = params.shrink_windows;
  a.compute_loss = params.compute_loss;
  a.alpha_start = params.alpha_start;
  a.alpha_end = params.alpha_end;
  a.epoch_seed = w2v_epoch_seed(params.seed, params.epoch);
  return a;
}

// Per-lane tallies; lane 0's are the group's (every lane computes the same).
struct W2vCounters {
  double loss = 0.0;
  int64_t loss_terms = 0;
  int64_t words_trained = 0;
};

// One group's scratch (shared memory on the GPU).
struct W2vScratch {
  uint32_t* contexts;  // [2 * window]
  uint32_t* targets;   // [1 + negative]: the center, then the noise words
  float* rows;         // skip-gram [2 * batch + 2][padded dim], CBOW [2][padded dim]
};

EMBFORGE_HD int64_t w2v_row_floats(const W2vArgs& a) {
  const int64_t dp = padded_dim(a.dim);
  return a.skip_gram ? (2 * static_cast<int64_t>(a.batch) + 2) * dp : 2 * dp;
}

EMBFORGE_HD int64_t w2v_id_bytes(const W2vArgs& a) {
  const int64_t n = 2 * static_cast<int64_t>(a.window) + 1 + a.negative;
  return (n * 4 + 15) & ~int64_t{15};  // the float rows after them stay 16-byte aligned
}

EMBFORGE_HD int64_t w2v_scratch_bytes(const W2vArgs& a) {
  return w2v_id_bytes(a) + 4 * w2v_row_floats(a);
}

EMBFORGE_HD W2vScratch w2v_scratch(unsigned char* base, const W2vArgs& a) {
  W2vScratch s;
  s.contexts = reinterpret_cast<uint32_t*>(base);
  s.targets = s.contexts + 2 * a.window;
  s.rows = reinterpret_cast<float*>(base + w2v_id_bytes(a));
  return s;
}

// Whether position q (holding `id`) survives subsampling this epoch: the
// (q+1)-th output of SplitMix64 started at the epoch seed (mix64 of a Weyl
// sequence), so any lane can evaluate any position in O(1).
EMBFORGE_HD bool w2v_kept(const W2vArgs& a, int64_t q, uint32_t id) {
  const uint64_t r = mix64(a.epoch_seed + (static_cast<uint64_t>(q) + 1) * 0x9e3779b97f4a7c15ull);
  return w2v::keep_word(a.keep_threshold[id], static_cast<uint32_t>(r >> 32));
}

// Context rows a lane loads before storing them (pipelined variant).
constexpr int kLoadGroup = 8;

// The window's positional draws at centre position p: its reach and the seed
// of its noise words (w2v_noise_word).
struct W2vDraws {
  int reach;
  uint64_t noise_seed;
};
EMBFORGE_HD W2vDraws w2v_draws(const W2vArgs& a, int64_t p) {
  SplitMix64 rng(a.epoch_seed, static_cast<uint64_t>(p));
  W2vDraws d;
  d.reach = w2v::reduced_window(a.window, rng.next32(), a.shrink_windows);
  d.noise_seed = rng.next();
  return d;
}

// Noise word k in [0, negative) of the window whose draws gave noise_seed.
EMBFORGE_HD uint32_t w2v_noise_word(const W2vArgs& a, uint64_t noise_seed, int k) {
  SplitMix64 draw(noise_seed, static_cast<uint64_t>(k));
  return alias_draw(a.noise_keep, a.noise_alias, static_cast<uint32_t>(a.vocab_size), draw.next());
}

// Collects up to `reach` kept words on one side of p, nearest first, into
// out[]; positions step from p by `step` (-1 or +1) and stay in [lo, hi).
// Each round tests size() positions at once and ranks the kept ones with a
// ballot. Returns the number found (the same in every lane).
template <class G>
EMBFORGE_HD int w2v_gather_side(const G& g, const W2vArgs& a, uint32_t* out, int64_t p,
                                int step, int64_t lo, int64_t hi, int reach) {
  int found = 0;
  for (int64_t first = p + step; found < reach && first >= lo && first < hi;
       first += static_cast<int64_t>(step) * g.size()) {
    const int64_t q = first + static_cast<int64_t>(step) * g.rank();
    bool keep = false;
    uint32_t id = 0;
    if (q >= lo && q < hi) {
      id = a.ids[q];
      keep = w2v_kept(a, q, id);
    }
    const uint32_t mask = g.ballot(keep);
    const int slot = found + popcount32(mask & lanes_below(g.rank()));
    if (keep && slot < reach) out[slot] = id;
    const int total = popcount32(mask);
    found += total < reach - found ? total : reach - found;
  }
  return found;
}

// Context rows contexts[0, nb) into scratch rows ctx[j] (their gradients
// grad[j] zeroed). Pipelined: a lane's parts of kLoadGroup rows are loaded
// before any is stored, so their loads are in flight together.
template <int V, class G>
EMBFORGE_HD void w2v_stage_contexts(const G& g, const W2vArgs& a, const uint32_t* contexts, int nb,
                                    float* ctx, float* grad) {
  const int dim = a.dim, dp = padded_dim(dim), first = g.rank() * V, stride = g.size() * V;
  if (!a.pipelined) {
    for (int j = 0; j < nb; ++j) {
      const float* row = a.input + static_cast<int64_t>(contexts[j]) * dim;
      for (int c = first; c < dim; c += stride) {
        store_pack<V>(ctx + j * dp + c, load_l2_pack<V>(row + c));
        fill_pack<V>(grad + j * dp + c, 0.0f);
      }
    }
    return;
  }
  for (int c = first; c < dim; c += stride) {
    for (int j = 0; j < nb; j += kLoadGroup) {
      Pack<V> rows[kLoadGroup];
#pragma unroll
      for (int u = 0; u < kLoadGroup; ++u)
        if (j + u < nb) rows[u] = load_l2_pack<V>(a.input + static_cast<int64_t>(contexts[j + u]) * dim + c);
#pragma unroll
      for (int u = 0; u < kLoadGroup; ++u) {
        if (j + u < nb) {
          store_pack<V>(ctx + (j + u) * dp + c, rows[u]);
          fill_pack<V>(grad + (j + u) * dp + c, 0.0f);
        }
      }
    }
  }
}

// mean[c..] += every context row's part (CBOW), in context order. Pipelined:
// kLoadGroup rows' loads in flight together, then added in the same order
// (the same sums bit for bit).
template <int V, class G>
EMBFORGE_HD void w2v_sum_contexts(const G& g, const W2vArgs& a, const uint32_t* contexts, int n,
                                  float* mean) {
  const int dim = a.dim, first = g.rank() * V, stride = g.size() * V;
  if (!a.pipelined) {
    for (int j = 0; j < n; ++j) {
      const float* row = a.input + static_cast<int64_t>(contexts[j]) * dim;
      for (int c = first; c < dim; c += stride) axpy_pack<V>(1.0f, load_l2_pack<V>(row + c), mean + c);
    }
    return;
  }
  for (int c = first; c < dim; c += stride) {
    for (int j = 0; j < n; j += kLoadGroup) {
      Pack<V> rows[kLoadGroup];
#pragma unroll
      for (int u = 0; u < kLoadGroup; ++u)
        if (j + u < n) rows[u] = load_l2_pack<V>(a.input + static_cast<int64_t>(contexts[j + u]) * dim + c);
#pragma unroll
      for (int u = 0; u < kLoadGroup; ++u)
        if (j + u < n) axpy_pack<V>(1.0f, rows[u], mean + c);
    }
  }
}

// Skip-gram on one window: s.contexts[0, n) against s.targets.
template <int V, class G>
EMBFORGE_HD void w2v_skip_gram_window(const G& g, const W2vArgs& a, const W2vScratch& s,
                                      int n_contexts, float alpha, W2vCounters& out) {
  const int dim = a.dim, dp = padded_dim(dim), first = g.rank() * V, stride = g.size() * V;
  float* ctx = s.rows;                       // [batch][dp] context rows at the window start
  float* grad = ctx + a.batch * dp;          // [batch][dp] their gradients
  float* trow = grad + a.batch * dp;         // [dp] the current target's row
  float* tdelta = trow + dp;                 // [dp] its gradient
  const uint32_t center = s.targets[0];
  float loss = 0.0f;
  int terms = 0;
  for (int j0 = 0; j0 < n_contexts; j0 += a.batch) {
    const int nb = n_contexts - j0 < a.batch ? n_contexts - j0 : a.batch;
    w2v_stage_contexts<V>(g, a, s.contexts + j0, nb, ctx, grad);
    for (int k = 0; k <= a.negative; ++k) {
      const uint32_t target = s.targets[k];
      if (k > 0 && target == center) continue;  // a noise draw of the center is skipped
      const float label = k == 0 ? 1.0f : 0.0f;
      float* orow = a.output + static_cast<int64_t>(target) * dim;
      for (int c = first; c < dim; c += stride) {
        store_pack<V>(trow + c, load_l2_pack<V>(orow + c));
        fill_pack<V>(tdelta + c, 0.0f);
      }
      for (int j = 0; j < nb; ++j) {
        float part = 0.0f;
        for (int c = first; c < dim; c += stride) part += dot_pack<V>(ctx + j * dp + c, trow + c);
        const float d = g.sum(part);
        const float coef = w2v::ns_coefficient(d, label, alpha);
        if (a.compute_loss) {  // uniform across the group: no divergence
          loss += w2v::ns_loss(d, label);
          ++terms;
        }
        for (int c = first; c < dim; c += stride) {
          axpy_pack<V>(coef, ctx + j * dp + c, tdelta + c);
          axpy_pack<V>(coef, trow + c, grad + j * dp + c);
        }
      }
      for (int c = first; c < dim; c += stride) add_atomic_pack<V>(orow + c, load_pack<V>(tdelta + c));
    }
    for (int j = 0; j < nb; ++j) {
      float* row = a.input + static_cast<int64_t>(s.contexts[j0 + j]) * dim;
      for (int c = first; c < dim; c += stride) add_atomic_pack<V>(row + c, load_pack<V>(grad + j * dp + c));
    }
  }
  out.loss += loss;
  out.loss_terms += terms;
}

// CBOW on one window: the mean of s.contexts[0, n) against s.targets; the
// summed gradient goes to every context row (cbow_mean=1).
template <int V, class G>
EMBFORGE_HD void w2v_cbow_window(const G& g, const W2vArgs& a, const W2vScratch& s,
                                 int n_contexts, float alpha, W2vCounters& out) {
  const int dim = a.dim, dp = padded_dim(dim), first = g.rank() * V, stride = g.size() * V;
  float* mean = s.rows;
  float* grad = mean + dp;
  // Approximate on the GPU under --use_fast_math (rcp.approx), on purpose:
  // training need not be the CPU's bit for bit, only the init (rounding.h).
  const float inv = 1.0f / static_cast<float>(n_contexts);
  for (int c = first; c < dim; c += stride) {
    fill_pack<V>(mean + c, 0.0f);
    fill_pack<V>(grad + c, 0.0f);
  }
  w2v_sum_contexts<V>(g, a, s.contexts, n_contexts, mean);
  for (int c = first; c < dim; c += stride) {
    Pack<V> m = load_pack<V>(mean + c);
    for (int i = 0; i < V; ++i) m.v[i] *= inv;
    store_pack<V>(mean + c, m);
  }
  const uint32_t center = s.targets[0];
  float loss = 0.0f;
  int terms = 0;
  for (int k = 0; k <= a.negative; ++k) {
    const uint32_t target = s.targets[k];
    if (k > 0 && target == center) continue;
    const float label = k == 0 ? 1.0f : 0.0f;
    float* orow = a.output + static_cast<int64_t>(target) * dim;
    float part = 0.0f;
    for (int c = first; c < dim; c += stride) part += dot_pack<V>(mean + c, load_l2_pack<V>(orow + c));
    const float d = g.sum(part);
    const float coef = w2v::ns_coefficient(d, label, alpha);
    if (a.compute_loss) {
      loss += w2v::ns_loss(d, label);
      ++terms;
    }
    for (int c = first; c < dim; c += stride) {
      axpy_pack<V>(coef, load_l2_pack<V>(orow + c), grad + c);
      add_atomic_pack<V>(orow + c, scale_pack<V>(coef, load_pack<V>(mean + c)));
    }
  }
  for (int j = 0; j < n_contexts; ++j) {
    float* row = a.input + static_cast<int64_t>(s.contexts[j]) * dim;
    for (int c = first; c < dim; c += stride) add_atomic_pack<V>(row + c, load_pack<V>(grad + c));
  }
  out.loss += loss;
  out.loss_terms += terms;
}

// One window around the kept center at position p of sentence [lo, hi):
// contexts, negatives, update. Returns false when the window had no context.
template <int V, class G>
EMBFORGE_HD bool w2v_center(const G& g, const W2vArgs& a, const W2vScratch& s, int64_t p,
                            uint32_t center, int64_t lo, int64_t hi, W2vCounters& out) {
  const W2vDraws draws = w2v_draws(a, p);
  const int reach = draws.reach;
  g.sync();  // every lane is done reading the previous window's ids
  const int left = w2v_gather_side(g, a, s.contexts, p, -1, lo, hi, reach);
  const int right = w2v_gather_side(g, a, s.contexts + left, p, +1, lo, hi, reach);
  const int n_contexts = left + right;
  if (n_contexts == 0) return false;
  for (int k = g.rank(); k < a.negative; k += g.size())
    s.targets[1 + k] = w2v_noise_word(a, draws.noise_seed, k);
  if (g.rank() == 0) s.targets[0] = center;
  g.sync();
  const float alpha = w2v::linear_rate(a.alpha_start, a.alpha_end, static_cast<double>(p),
                                       static_cast<double>(a.n_ids));
  if (a.skip_gram) {
    w2v_skip_gram_window<V>(g, a, s, n_contexts, alpha, out);
  } else {
    w2v_cbow_window<V>(g, a, s, n_contexts, alpha, out);
  }
  return true;
}

// The first position in [from, end) whose word survives subsampling, or
// end: g.size() positions per round, the first kept one found by a ballot.
template <class G>
EMBFORGE_HD int64_t w2v_next_kept(const G& g, const W2vArgs& a, int64_t from, int64_t end) {
  for (int64_t base = from; base < end; base += g.size()) {
    const int64_t q = base + g.rank();
    const bool keep = q < end && w2v_kept(a, q, a.ids[q]);
    const uint32_t mask = g.ballot(keep);
    if (mask != 0) return base + lowest_bit(mask);
  }
  return end;
}

// Prefetches the rows the window at centre position p reads first and at
// random: the output rows of its centre and of its noise words (its context
// rows mostly are the previous windows' and already in L2). One target per
// lane; the draws are the window's own (w2v_draws), so the prefetched rows
// are exactly those it will read.
template <class G>
EMBFORGE_HD void w2v_prefetch_targets(const G& g, const W2vArgs& a, int64_t p) {
  const uint64_t noise_seed = w2v_draws(a, p).noise_seed;
  for (int k = g.rank(); k <= a.negative; k += g.size()) {
    const uint32_t word = k == 0 ? a.ids[p] : w2v_noise_word(a, noise_seed, k - 1);
    prefetch_row_l2(a.output + static_cast<int64_t>(word) * a.dim, a.dim);
  }
}

// Every center in positions [begin, end) of the stream; windows reach into
// neighbouring spans and stop at sentence ends.
template <int V, class G>
EMBFORGE_HD void w2v_span(const G& g, const W2vArgs& a, const W2vScratch& s, int64_t begin,
                          int64_t end, W2vCounters& out) {
  int64_t sentence = sentence_of(a.offsets, a.n_sentences, begin);
  if (a.pipelined) {
    // The same centres in the same order; the next one is known (and its
    // rows on their way to L2) before this one trains.
    for (int64_t p = w2v_next_kept(g, a, begin, end); p < end;) {
      const int64_t next = w2v_next_kept(g, a, p + 1, end);
      if (next < end) w2v_prefetch_targets(g, a, next);
      while (a.offsets[sentence + 1] <= p) ++sentence;
      ++out.words_trained;
      w2v_center<V>(g, a, s, p, a.ids[p], a.offsets[sentence], a.offsets[sentence + 1], out);
      p = next;
    }
    return;
  }
  for (int64_t p = begin; p < end; ++p) {
    while (a.offsets[sentence + 1] <= p) ++sentence;  // skips empty sentences too
    const uint32_t center = a.ids[p];
    if (!w2v_kept(a, p, center)) continue;
    ++out.words_trained;
    w2v_center<V>(g, a, s, p, center, a.offsets[sentence], a.offsets[sentence + 1], out);
  }
}

// The spans of `span` positions of [begin, end) a group trains, in the order
// `source` hands out their indices: source.first(g) and then source.next(g, i)
// after span i, the same value in every lane, until one is >= n_spans.
//   static split: first the group's index, next i + the number of groups
//   span queue (kSpanQueue): both take the next index from a counter shared
//     by all groups (SpanQueue), so a group whose spans hold more kept words
//     does not hold up the launch's end as it can under a static split. The
//     counter's atomic increment hands each index out once, so every span
//     below n_spans is trained exactly once, whatever the groups' timing.
template <int V, class G, class Source>
EMBFORGE_HD void w2v_spans(const G& g, const W2vArgs& a, const W2vScratch& s, int64_t begin, int64_t end,
                           int span, Source& source, W2vCounters& out) {
  const int64_t n_spans = (end - begin + span - 1) / span;
  for (int64_t i = source.first(g); i < n_spans; i = source.next(g, i)) {
    const int64_t b = begin + i * span;
    w2v_span<V>(g, a, s, b, b + span < end ? b + span : end, out);
  }
}

// A span source for w2v_spans: a static split of `step` groups (this one
// `start`), or, when `counter` is not null, the span queue: counter.take()
// (called by lane 0 only) returns the next index, an atomic increment.
template <class Counter>
struct SpanSource {
  Counter* counter;
  int64_t start;
  int64_t step;
  template <class G>
  EMBFORGE_HD int64_t first(const G& g) {
    return counter ? take(g) : start;
  }
  template <class G>
  EMBFORGE_HD int64_t next(const G& g, int64_t i) {
    return counter ? take(g) : i + step;
  }
  template <class G>
  EMBFORGE_HD int64_t take(const G& g) {
    return g.first(g.rank() == 0 ? counter->take() : 0);
  }
};

// Row r of the input matrix exactly as init_word2vec_input (word2vec.cpp)
// writes it: uniform in [-0.5, 0.5) / dim from SplitMix64(seed, r). The
// scale is correctly rounded on the device too (rounding.h): a plain 1.0f / dim
// becomes rcp.approx under --use_fast_math, up to 1 ulp off the CPU's.
EMBFORGE_HD void w2v_init_row(float* row, int dim, uint64_t seed, int64_t r) {
  const float scale = reciprocal_rn(static_cast<float>(dim));
  SplitMix64 rng(seed, static_cast<uint64_t>(r));
  for (int i = 0; i < dim; ++i) row[i] = (rng.uniform() - 0.5f) * scale;
}

}  // namespace embforge::cuda

// One word2vec window on the CPU: skip-gram (HogBatch) and CBOW updates over
// rows given as pointers, so the caller decides where each row lives (the
// shared matrices, or a thread's private copy of the hottest rows).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "embforge/simd.h"
#include "embforge/word2vec.h"
#include "embforge/word2vec_math.h"
#include "line_array.h"
#include "vec.h"

namespace embforge {
namespace w2v_cpu {

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
    // Written so that NaN (a diverged run) lands on an entry too: std::min/max
    // pass NaN through, and a NaN index read far outside the table.
    const float clamped =
        dot > -w2v::kMaxExp ? (dot < w2v::kMaxExp ? dot : w2v::kMaxExp) : -w2v::kMaxExp;
    return static_cast<int>((clamped + w2v::kMaxExp) * kScale + 0.5f);
  }
};
inline const SigmoidTables kTables;

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

// Scratch space of one thread's windows, on cache lines of its own
// (line_array.h). The caller fills targets with ids (the center
// check needs them) and context_rows/target_rows with where the rows live.
struct WindowBuffers {
  explicit WindowBuffers(const Word2VecParams& p)
      : targets(1 + p.negative), context_rows(2 * p.window),
        target_rows(1 + p.negative), coefficients(2 * p.window * (1 + p.negative)),
        target_delta(static_cast<size_t>(1 + p.negative) * p.vector_size),
        work(p.vector_size), work2(p.vector_size) {}
  LineArray<uint32_t> targets;    // center + negatives
  LineArray<float*> context_rows;  // input rows of the contexts
  LineArray<float*> target_rows;   // output rows of the targets
  LineArray<float> coefficients;  // skip-gram: [contexts x targets]
  LineArray<float> target_delta;  // [targets x dim]
  LineArray<float> work;          // [dim]: CBOW mean, or a context's gradient
  LineArray<float> work2;         // [dim]: CBOW summed gradient
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
EMBFORGE_INLINE void skip_gram_coefficients(const Word2VecParams& p, WindowBuffers& b, int n_contexts,
                                            float alpha, ThreadResult& r) {
  const int dim = p.vector_size;
  const int n_targets = static_cast<int>(b.targets.size());
  const uint32_t center = b.targets[0];
  float* coef = b.coefficients.data();
  double loss = 0.0;  // locals, not r.loss: keeps the sums in registers
  int64_t terms = 0;
  constexpr int kFixed = 6;  // 1 + negative for the default negative=5
  const float* rows[kFixed];
  float dots[kFixed];
  if (n_targets == kFixed)
    for (int k = 0; k < kFixed; ++k) rows[k] = b.target_rows[k];
  for (int j = 0; j < n_contexts; ++j) {
    const float* in = b.context_rows[j];
#if defined(__GNUC__)
    if (n_targets == kFixed) dots_fixed<kFixed>(in, rows, dim, dots);
#endif
    for (int k = 0; k < n_targets; ++k) {
      float g = 0.0f;
      if (k == 0 || b.targets[k] != center) {  // a noise draw of the center itself is skipped
        const float d = n_targets == kFixed ? dots[k]
                        : dot(in, b.target_rows[k], dim);
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
EMBFORGE_INLINE void skip_gram_update(const Word2VecParams& p, WindowBuffers& b, int n_contexts) {
  const int dim = p.vector_size;
  const int n_targets = static_cast<int>(b.targets.size());
  const float* coef = b.coefficients.data();
  float* delta = b.target_delta.data();
  float* grad = b.work.data();
  std::fill(delta, delta + static_cast<int64_t>(n_targets) * dim, 0.0f);
  for (int j = 0; j < n_contexts; ++j) {
    float* in = b.context_rows[j];
    std::fill(grad, grad + dim, 0.0f);
    for (int k = 0; k < n_targets; ++k) {
      const float g = coef[j * n_targets + k];
      if (g == 0.0f) continue;
      axpy(g, in, delta + static_cast<int64_t>(k) * dim, dim);
      axpy(g, b.target_rows[k], grad, dim);
    }
    axpy(1.0f, grad, in, dim);
  }
  for (int k = 0; k < n_targets; ++k)
    axpy(1.0f, delta + static_cast<int64_t>(k) * dim, b.target_rows[k], dim);
}

#if defined(__GNUC__)
// The same for a fixed number of targets (negative = 5 by default): column
// blocks of 8 with the targets' blocks and gradients held in registers, so each
// row is loaded and stored once per window instead of once per pair.
template <int kTargets>
EMBFORGE_INLINE void skip_gram_update_fixed(const Word2VecParams& p, WindowBuffers& b, int n_contexts) {
  using vec::f8;
  const int dim = p.vector_size;
  const float* coef = b.coefficients.data();
  float* out_rows[kTargets];
  for (int k = 0; k < kTargets; ++k) out_rows[k] = b.target_rows[k];
  int col = 0;
  for (; col + 8 <= dim; col += 8) {
    f8 out[kTargets], delta[kTargets];
    for (int k = 0; k < kTargets; ++k) {
      out[k] = vec::load8(out_rows[k] + col);
      delta[k] = f8{};
    }
    for (int j = 0; j < n_contexts; ++j) {
      float* in_row = b.context_rows[j] + col;
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
      float& in = b.context_rows[j][col];
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

EMBFORGE_INLINE void skip_gram_window(const Word2VecParams& p, WindowBuffers& b, int n_contexts,
                                      float alpha, ThreadResult& r) {
  skip_gram_coefficients(p, b, n_contexts, alpha, r);
#if defined(__GNUC__)
  if (b.targets.size() == 6) return skip_gram_update_fixed<6>(p, b, n_contexts);
#endif
  skip_gram_update(p, b, n_contexts);
}

#if defined(__GNUC__)
// CBOW with kTargets targets, pass 1 over the columns [col, dim) in blocks of
// V: the contexts are summed in registers, the mean stored once and the dot
// products with every target accumulated (each row read once).
template <int kTargets, typename V>
EMBFORGE_INLINE void cbow_mean_dots(WindowBuffers& b, int n_contexts, float inv, int dim, int& col,
                                    float* dots) {
  constexpr int w = vec::kLanes<V>;
  V acc[kTargets];
  for (int k = 0; k < kTargets; ++k) acc[k] = V{};
  for (; col + w <= dim; col += w) {
    V sum = vec::loadv<V>(b.context_rows[0] + col);
    for (int j = 1; j < n_contexts; ++j) sum += vec::loadv<V>(b.context_rows[j] + col);
    const V m = sum * inv;
    vec::storev(b.work.data() + col, m);
    for (int k = 0; k < kTargets; ++k) acc[k] += m * vec::loadv<V>(b.target_rows[k] + col);
  }
  for (int k = 0; k < kTargets; ++k) dots[k] += vec::hsum(acc[k]);
}

// Pass 2: target after target, the gradient takes the row and the row moves
// by g * mean (a repeated noise word reloads what the previous one stored);
// then every context row gets the gradient.
template <int kTargets, typename V>
EMBFORGE_INLINE void cbow_update(WindowBuffers& b, int n_contexts, const float* g, int dim, int& col) {
  constexpr int w = vec::kLanes<V>;
  for (; col + w <= dim; col += w) {
    const V m = vec::loadv<V>(b.work.data() + col);
    V grad = V{};
    for (int k = 0; k < kTargets; ++k) {
      float* row = b.target_rows[k] + col;
      const V o = vec::loadv<V>(row);
      grad += g[k] * o;
      vec::storev(row, o + g[k] * m);
    }
    for (int j = 0; j < n_contexts; ++j) {
      float* in = b.context_rows[j] + col;
      vec::storev(in, vec::loadv<V>(in) + grad);
    }
  }
}

// Runs fn.template operator()<V>(col) with V = 16-wide, 4-wide, then single
// columns, `col` advancing through [0, dim).
template <typename Fn>
EMBFORGE_INLINE void over_column_blocks(Fn&& fn) {
  int col = 0;
  fn.template operator()<vec::f16>(col);
  fn.template operator()<vec::f4>(col);
  fn.template operator()<float>(col);
}
#endif

// CBOW, one window: the mean of the contexts against the center and negatives.
// Semantics (followed by the numpy oracle): every dot product is taken with
// the rows as the window starts; then, target after target, the summed
// gradient takes the target's current row and the row moves by g * mean (a
// repeated noise word adds up); finally each context row gets the gradient.
EMBFORGE_INLINE void cbow_window(const Word2VecParams& p, WindowBuffers& b, int n_contexts, float alpha,
                                 ThreadResult& r) {
  const int dim = p.vector_size;
  const int n_targets = static_cast<int>(b.targets.size());
  float* mean = b.work.data();
  float* gradient = b.work2.data();
  float* g = b.coefficients.data();
  const float inv = 1.0f / static_cast<float>(n_contexts);
  const uint32_t center = b.targets[0];
  double loss = 0.0;
  int64_t terms = 0;
#if defined(__GNUC__)
  constexpr int kFixed = 6;  // 1 + negative for the default negative=5
  if (n_targets == kFixed) {
    float dots[kFixed] = {};
    over_column_blocks([&]<typename V>(int& col) {
      cbow_mean_dots<kFixed, V>(b, n_contexts, inv, dim, col, dots);
    });
    for (int k = 0; k < kFixed; ++k) {
      g[k] = 0.0f;
      if (k > 0 && b.targets[k] == center) continue;  // a noise draw of the center itself
      g[k] = coefficient(dots[k], k == 0, alpha, &loss);
      ++terms;
    }
    r.loss += loss;
    r.loss_terms += terms;
    over_column_blocks([&]<typename V>(int& col) { cbow_update<kFixed, V>(b, n_contexts, g, dim, col); });
    return;
  }
#endif
  std::fill(mean, mean + dim, 0.0f);
  for (int j = 0; j < n_contexts; ++j) axpy(1.0f, b.context_rows[j], mean, dim);
  vec::scale(inv, mean, dim);
  for (int k = 0; k < n_targets; ++k) {
    g[k] = 0.0f;
    if (k > 0 && b.targets[k] == center) continue;
    g[k] = coefficient(dot(mean, b.target_rows[k], dim), k == 0, alpha, &loss);
    ++terms;
  }
  r.loss += loss;
  r.loss_terms += terms;

  std::fill(gradient, gradient + dim, 0.0f);
  for (int k = 0; k < n_targets; ++k) {
    if (g[k] == 0.0f) continue;
    float* out = b.target_rows[k];
    axpy(g[k], out, gradient, dim);
    axpy(g[k], mean, out, dim);
  }
  for (int j = 0; j < n_contexts; ++j)
    axpy(1.0f, gradient, b.context_rows[j], dim);
}


}  // namespace w2v_cpu
}  // namespace embforge

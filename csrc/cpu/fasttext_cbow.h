// FastText CBOW, one window over cached bags (fasttext_bags.h): the mean of
// all the contexts' subword rows against the centre and `negative` noise
// words.
//
// The math (the numpy oracle in tests/test_fasttext_kernel.py follows it):
// hidden = (sum over the contexts j of S_j) / (sum of n_j), where S_j is word
// j's cached sum and n_j its number of subword rows (fastText's rule: every
// subword row weighs the same, so a long word weighs more than a short one);
// dot products and output-row updates exactly as fasttext_window_update
// (target after target, the gradient takes the row before it moves); then
// every context j gets the summed gradient (pending_j += grad,
// S_j += n_j * grad).
#pragma once

#include <algorithm>
#include <cstdint>

#include "fasttext_bags.h"
#include "vec.h"
#include "word2vec_window.h"

namespace embforge {
namespace ft_cpu {

// One window on cached sums: v holds the n_ctx contexts, targets the centre
// then the noise words, out_rows their output rows; hidden ([2 x dim]) and g
// ([n_targets]) are scratch. Accumulates the loss and its terms.
template <int kTargets>
EMBFORGE_INLINE void cbow_cached_window(WindowViews& v, int n_ctx, const uint32_t* targets,
                                        float* const* out_rows, int n_targets, int dim,
                                        float alpha, float* hidden, float* g, double& loss,
                                        int64_t& terms) {
  float* const* sums = v.sums.data();
  float* const* pend = v.pending.data();
  const float* counts = v.counts.data();
  float rows = 0.0f;
  for (int j = 0; j < n_ctx; ++j) rows += counts[j];
  const float inv = 1.0f / rows;
#if defined(__GNUC__)
  if constexpr (kTargets > 0) {
    float dots[kTargets] = {};
    // Pass 1: the hidden vector, stored once, and its dot products.
    over_blocks8([&]<typename V>(int& col) {
      constexpr int w = vec::kLanes<V>;
      V acc[kTargets];
      for (int k = 0; k < kTargets; ++k) acc[k] = V{};
      for (; col + w <= dim; col += w) {
        V h = vec::loadv<V>(sums[0] + col);
        for (int j = 1; j < n_ctx; ++j) h += vec::loadv<V>(sums[j] + col);
        h *= inv;
        vec::storev(hidden + col, h);
        for (int k = 0; k < kTargets; ++k) acc[k] += h * vec::loadv<V>(out_rows[k] + col);
      }
      for (int k = 0; k < kTargets; ++k) dots[k] += hsum(acc[k]);
    });
    for (int k = 0; k < kTargets; ++k) {
      g[k] = 0.0f;
      if (k > 0 && targets[k] == targets[0]) continue;  // a noise draw of the centre itself
      g[k] = w2v_cpu::coefficient(dots[k], k == 0, alpha, &loss);
      ++terms;
    }
    // Pass 2: target after target the gradient takes the row, the row moves;
    // then each context's pending gradient and cached sum.
    over_blocks8([&]<typename V>(int& col) {
      constexpr int w = vec::kLanes<V>;
      for (; col + w <= dim; col += w) {
        const V h = vec::loadv<V>(hidden + col);
        V grad = V{};
        for (int k = 0; k < kTargets; ++k) {
          float* row = out_rows[k] + col;
          const V o = vec::loadv<V>(row);  // reloaded: a repeated noise word adds up
          grad += g[k] * o;
          vec::storev(row, o + g[k] * h);
        }
        for (int j = 0; j < n_ctx; ++j) {
          vec::storev(pend[j] + col, vec::loadv<V>(pend[j] + col) + grad);
          vec::storev(sums[j] + col, vec::loadv<V>(sums[j] + col) + counts[j] * grad);
        }
      }
    });
    return;
  }
#endif
  // Any number of targets: the same order with whole-row loops (hidden's
  // second half, [dim, 2 dim), holds the gradient).
  float* grad = hidden + dim;
  std::fill(hidden, hidden + dim, 0.0f);
  for (int j = 0; j < n_ctx; ++j) vec::axpy(1.0f, sums[j], hidden, dim);
  vec::scale(inv, hidden, dim);
  for (int k = 0; k < n_targets; ++k) {
    g[k] = 0.0f;
    if (k > 0 && targets[k] == targets[0]) continue;
    g[k] = w2v_cpu::coefficient(vec::dot(hidden, out_rows[k], dim), k == 0, alpha, &loss);
    ++terms;
  }
  std::fill(grad, grad + dim, 0.0f);
  for (int k = 0; k < n_targets; ++k) {
    if (g[k] == 0.0f) continue;
    vec::axpy(g[k], out_rows[k], grad, dim);
    vec::axpy(g[k], hidden, out_rows[k], dim);
  }
  for (int j = 0; j < n_ctx; ++j) {
    vec::axpy(1.0f, grad, pend[j], dim);
    vec::axpy(counts[j], grad, sums[j], dim);
  }
}

}  // namespace ft_cpu
}  // namespace embforge

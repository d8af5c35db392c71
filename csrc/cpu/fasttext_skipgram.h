// FastText skip-gram, one window over cached bags (fasttext_bags.h), in
// word2vec's orientation with the window's noise words shared (HogBatch, as
// word2vec_window.h's skip_gram_window): each context's bag mean is scored
// against the centre's output row and `negative` noise words drawn once per
// window.
//
// fastText scores the centre's bag against each context, with `negative`
// noise words drawn per context: a window of c contexts then reads and
// writes c x (1 + negative) output rows, ~36 at the defaults, most of them
// misses in a 30 MB output matrix. Here a window touches 1 + negative output
// rows and the contexts' cached sums. The terms are the same in number and
// kind: every (word, context) pair of a window has one positive term and
// `negative` noise terms, and a window's pairs are symmetric (a word within
// reach of another is, in expectation, a context of it), so each word's bag
// still predicts the words around it. On the bench corpus the vectors scored
// at least as well as with fastText's orientation and as gensim's (3 seeds
// each; bench/RESULTS.md, "FastText skip-gram over cached bags").
//
// The math (the numpy oracle in tests/test_fasttext_kernel.py follows it):
// h_j = S_j / n_j for each context j (S_j its cached sum, n_j its rows);
// every coefficient g_jk = coefficient(h_j . o_k) comes from the rows as the
// window starts (a noise draw of the centre itself is skipped: g = 0); then
// each context gets grad_j = sum_k g_jk o_k (pending_j += grad_j,
// S_j += n_j grad_j) and each output row o_k += sum_j g_jk h_j, repeated
// targets adding up.
#pragma once

#include <algorithm>
#include <cstdint>

#include "fasttext_bags.h"
#include "line_array.h"
#include "vec.h"
#include "word2vec_window.h"

namespace embforge {
namespace ft_cpu {

// One thread's scratch for skip-gram windows.
struct SkipGramScratch {
  SkipGramScratch(int dim, int window, int n_targets)
      : coef(static_cast<size_t>(2 * window) * n_targets), inv(2 * window),
        delta(static_cast<size_t>(n_targets) * dim), grad(dim) {}
  LineArray<float> coef;   // [contexts x targets]: g_jk
  LineArray<float> inv;    // [contexts]: 1 / n_j
  LineArray<float> delta;  // [targets x dim]: the output rows' summed updates
  LineArray<float> grad;   // [dim]: one context's gradient
};

// v holds the n_ctx contexts, targets the centre then the noise words,
// out_rows their output rows. Accumulates the loss and its terms.
template <int kTargets>
EMBFORGE_INLINE void skipgram_cached_window(WindowViews& v, int n_ctx, const uint32_t* targets,
                                            float* const* out_rows, int n_targets, int dim,
                                            float alpha, SkipGramScratch& s, double& loss,
                                            int64_t& terms) {
  float* const* sums = v.sums.data();
  float* const* pend = v.pending.data();
  const float* counts = v.counts.data();
  float* coef = s.coef.data();
  float* inv = s.inv.data();
  const int nt = kTargets > 0 ? kTargets : n_targets;
#if defined(__GNUC__)
  constexpr bool kFixedDots = kTargets > 0;
#else
  constexpr bool kFixedDots = false;
#endif
  for (int j = 0; j < n_ctx; ++j) {
    inv[j] = 1.0f / counts[j];
    float dots[kTargets > 0 ? kTargets : 1];
#if defined(__GNUC__)
    if constexpr (kFixedDots) w2v_cpu::dots_fixed<kTargets>(sums[j], out_rows, dim, dots);
#endif
    for (int k = 0; k < nt; ++k) {
      float g = 0.0f;
      if (k == 0 || targets[k] != targets[0]) {
        const float d = kFixedDots ? dots[k] : vec::dot(sums[j], out_rows[k], dim);
        g = w2v_cpu::coefficient(d * inv[j], k == 0, alpha, &loss);
        ++terms;
      }
      coef[j * nt + k] = g;
    }
  }
#if defined(__GNUC__)
  if constexpr (kTargets > 0) {
    // Column blocks with the targets' rows and updates in registers: each
    // row and cached sum is loaded and stored once per window.
    over_blocks8([&]<typename V>(int& col) {
      constexpr int w = vec::kLanes<V>;
      for (; col + w <= dim; col += w) {
        V out[kTargets], delta[kTargets];
        for (int k = 0; k < kTargets; ++k) {
          out[k] = vec::loadv<V>(out_rows[k] + col);
          delta[k] = V{};
        }
        for (int j = 0; j < n_ctx; ++j) {
          const V sum = vec::loadv<V>(sums[j] + col);
          const V h = sum * inv[j];
          V grad = V{};
          for (int k = 0; k < kTargets; ++k) {
            const float g = coef[j * kTargets + k];
            grad += g * out[k];
            delta[k] += g * h;
          }
          vec::storev(pend[j] + col, vec::loadv<V>(pend[j] + col) + grad);
          vec::storev(sums[j] + col, sum + counts[j] * grad);
        }
        for (int k = 0; k < kTargets; ++k)  // reloaded: a repeated target adds up
          vec::storev(out_rows[k] + col, vec::loadv<V>(out_rows[k] + col) + delta[k]);
      }
    });
    return;
  }
#endif
  // Any number of targets: the same math with whole-row loops (a context's
  // S_j is read for the output rows' updates before its own update).
  float* delta = s.delta.data();
  float* grad = s.grad.data();
  std::fill(delta, delta + static_cast<int64_t>(nt) * dim, 0.0f);
  for (int j = 0; j < n_ctx; ++j) {
    std::fill(grad, grad + dim, 0.0f);
    for (int k = 0; k < nt; ++k) {
      const float g = coef[j * nt + k];
      if (g == 0.0f) continue;
      vec::axpy(g * inv[j], sums[j], delta + static_cast<int64_t>(k) * dim, dim);
      vec::axpy(g, out_rows[k], grad, dim);
    }
    vec::axpy(1.0f, grad, pend[j], dim);
    vec::axpy(counts[j], grad, sums[j], dim);
  }
  for (int k = 0; k < nt; ++k)
    vec::axpy(1.0f, delta + static_cast<int64_t>(k) * dim, out_rows[k], dim);
}

}  // namespace ft_cpu
}  // namespace embforge

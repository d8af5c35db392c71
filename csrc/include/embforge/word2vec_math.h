// Per-pair word2vec math shared by the CPU and CUDA kernels.
//
// Negative sampling (Mikolov et al. 2013): for an input vector v and an output
// vector u with label y (1 for the observed word, 0 for a noise word) the
// gradient step is  g = (y - sigmoid(v.u)) * alpha,  v += g u,  u += g v.
// Like word2vec.c, the sigmoid saturates outside [-kMaxExp, kMaxExp]: there
// the step is (y - 1) * alpha or y * alpha.
#pragma once

#include <cmath>
#include <cstdint>

#include "embforge/hd.h"

namespace embforge::w2v {

constexpr float kMaxExp = 6.0f;

// On the GPU (--use_fast_math) the division and expf are approximate, on
// purpose: training is not bit-exact across devices, only the init is
// (rounding.h).
EMBFORGE_HD float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// Coefficient g of a negative-sampling update with saturation (word2vec.c).
EMBFORGE_HD float ns_coefficient(float dot, float label, float alpha) {
  if (dot > kMaxExp) return (label - 1.0f) * alpha;
  if (dot < -kMaxExp) return label * alpha;
  return (label - sigmoid(dot)) * alpha;
}

// The loss term of one pair: -log sigmoid(dot) for the observed word,
// -log sigmoid(-dot) for a noise word; dot clamped like the update.
EMBFORGE_HD float ns_loss(float dot, float label) {
  const float x = fminf(fmaxf(dot, -kMaxExp), kMaxExp);
  const float z = label > 0.5f ? x : -x;
  return log1pf(expf(-z));  // -log(sigmoid(z))
}

// Probability of keeping a word seen `count` times when `total` words are in
// the vocabulary and the subsampling threshold is `sample` (word2vec.c and
// gensim: (sqrt(f / t) + 1) * t / f with f = count / total, t = sample).
EMBFORGE_HD double keep_probability(double count, double total, double sample) {
  if (sample <= 0.0 || count <= 0.0) return 1.0;
  const double threshold = sample * total;
  const double p = (sqrt(count / threshold) + 1.0) * threshold / count;
  return p < 1.0 ? p : 1.0;
}

// Keep threshold on a 32-bit random number: keep when random32 < threshold;
// 0xFFFFFFFF also keeps a random32 of 0xFFFFFFFF (probability 1).
EMBFORGE_HD uint32_t keep_threshold(double keep_probability) {
  if (keep_probability >= 1.0) return 0xFFFFFFFFu;
  return static_cast<uint32_t>(keep_probability * 4294967296.0);
}
EMBFORGE_HD bool keep_word(uint32_t threshold, uint32_t random32) {
  return threshold == 0xFFFFFFFFu || random32 < threshold;
}

// Effective window after word2vec's "shrink": uniform in [1, window].
EMBFORGE_HD int reduced_window(int window, uint32_t random32, bool shrink) {
  if (!shrink) return window;
  return window - static_cast<int>((static_cast<uint64_t>(random32) * window) >> 32);
}

// Learning rate at `done` of `total` units of this call, linear from start to end.
EMBFORGE_HD float linear_rate(float start, float end, double done, double total) {
  const double t = total > 0 ? done / total : 0.0;
  const double a = start + (end - start) * (t < 1.0 ? t : 1.0);
  return static_cast<float>(a);
}

}  // namespace embforge::w2v

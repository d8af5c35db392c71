// Per-pair GloVe math shared by the CPU and CUDA kernels.
//
// GloVe (Pennington et al. 2014) fits w_i . c_j + b_i + b~_j ~ log X_ij by
// weighted least squares. The formulas follow Stanford's glove.c: for a pair
// with value x,
//   diff  = w_i . c_j + b_i + b~_j - log(x)
//   f(x)  = 1 if x > x_max else (x / x_max)^alpha
//   cost += 0.5 * f(x) * diff^2
//   step  = eta * f(x) * diff
// and every coordinate is updated simultaneously with AdaGrad, using the
// squared-gradient sums from before this pair:
//   g_w = clip(step * c, grad_clip),  g_c = clip(step * w, grad_clip)
//   w  -= g_w / sqrt(G_w),  c -= g_c / sqrt(G_c),  G_w += g_w^2,  G_c += g_c^2
// Biases take step / sqrt(G_b) (not clipped, as in glove.c) and G_b += step^2.
#pragma once

#include <cmath>
#include <cstdint>

#include "embforge/hd.h"

namespace embforge::glove {

// One training pair with log(x) and f(x) computed once, not every epoch.
// 0-based row (main word) and column (context word).
struct Pair {
  uint32_t row;
  uint32_t col;
  float log_x;
  float weight;
};
static_assert(sizeof(Pair) == 16, "Pair is a 16-byte record");

// f(x), written as glove.c does (x > x_max ? 1 : pow(x / x_max, alpha)).
EMBFORGE_HD double weighting(double x, double x_max, double alpha) {
  return x > x_max ? 1.0 : pow(x / x_max, alpha);
}

EMBFORGE_HD float clip(float g, float limit) {
  // Comparisons, not fminf/fmaxf: they vectorise without -ffinite-math-only.
  return g < -limit ? -limit : (g > limit ? limit : g);
}

// diff of a pair given the dot product of its two vectors.
EMBFORGE_HD float pair_diff(float dot, float bias_main, float bias_context, float log_x) {
  return dot + bias_main + bias_context - log_x;
}

// One coordinate of the simultaneous AdaGrad update. `step` = eta * f * diff.
EMBFORGE_HD void adagrad_coordinate(float* w, float* c, float* g_w, float* g_c, float step,
                                    float grad_clip) {
  const float grad_w = clip(step * *c, grad_clip);
  const float grad_c = clip(step * *w, grad_clip);
  *w -= grad_w / sqrtf(*g_w);
  *c -= grad_c / sqrtf(*g_c);
  *g_w += grad_w * grad_w;
  *g_c += grad_c * grad_c;
}

// The bias update of glove.c.
EMBFORGE_HD void adagrad_bias(float* b, float* g_b, float step) {
  *b -= step / sqrtf(*g_b);
  *g_b += step * step;
}

}  // namespace embforge::glove

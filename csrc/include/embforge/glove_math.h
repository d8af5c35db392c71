// Per-pair GloVe math shared by the CPU and CUDA kernels.
//
// GloVe (Pennington et al. 2014) fits w_i . c_j + b_i + b~_j ~ log X_ij by
// weighted least squares. The formulas are those of Stanford's current
// glove.c (with its gradient clipping, since 2020): for a pair with value x,
//   diff  = w_i . c_j + b_i + b~_j - log(x)
//   f(x)  = 1 if x > x_max else (x / x_max)^alpha
//   cost += 0.5 * f(x) * diff^2
//   fdiff = f(x) * diff
// and every coordinate is updated simultaneously with AdaGrad, using the
// squared-gradient sums from before this pair:
//   g_w = eta * clip(fdiff * c, grad_clip),  g_c = eta * clip(fdiff * w, grad_clip)
//   w  -= g_w / sqrt(G_w),  c -= g_c / sqrt(G_c),  G_w += g_w^2,  G_c += g_c^2
// The biases take neither eta nor the clip in glove.c: g_b = fdiff,
// b -= g_b / sqrt(G_b), G_b += g_b^2. (glove.c before 2020 multiplied fdiff
// by eta first, biases included; `bias_rate` = eta reproduces that.)
#pragma once

#include <cmath>
#include <cstdint>

#include "embforge/hd.h"
#include "embforge/rounding.h"

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

// The initial weights and biases are uniform in [-0.5, 0.5) * init_scale
// (glove.c divides by the vector size). Correctly rounded also on the device
// (rounding.h): the CUDA init must equal the CPU's bit for bit.
EMBFORGE_HD float init_scale(int dim) { return reciprocal_rn(static_cast<float>(dim)); }

// One coordinate of the simultaneous AdaGrad update; clipped, then scaled
// by eta, as glove.c.
EMBFORGE_HD void adagrad_coordinate(float* w, float* c, float* g_w, float* g_c, float fdiff, float eta,
                                    float grad_clip) {
  const float grad_w = clip(fdiff * *c, grad_clip) * eta;
  const float grad_c = clip(fdiff * *w, grad_clip) * eta;
  *w -= grad_w / sqrtf(*g_w);
  *c -= grad_c / sqrtf(*g_c);
  *g_w += grad_w * grad_w;
  *g_c += grad_c * grad_c;
}

// The bias update; `step` = bias_rate * fdiff (glove.c: bias_rate 1).
EMBFORGE_HD void adagrad_bias(float* b, float* g_b, float step) {
  *b -= step / sqrtf(*g_b);
  *g_b += step * step;
}

// The same two updates as increments to add (x += delta), for writers that
// add atomically (the CUDA kernel): w + delta.w equals adagrad_coordinate's
// w - grad_w / sqrt(G_w) exactly (IEEE a - b is a + (-b)), and so on.
struct AdagradDelta {
  float w, c, g_w, g_c;
};
EMBFORGE_HD AdagradDelta adagrad_delta(float w, float c, float g_w, float g_c, float fdiff,
                                       float eta, float grad_clip) {
  const float grad_w = clip(fdiff * c, grad_clip) * eta;
  const float grad_c = clip(fdiff * w, grad_clip) * eta;
  return {-(grad_w / sqrtf(g_w)), -(grad_c / sqrtf(g_c)), grad_w * grad_w, grad_c * grad_c};
}

struct BiasDelta {
  float b, g_b;
};
EMBFORGE_HD BiasDelta adagrad_bias_delta(float g_b, float step) {
  return {-(step / sqrtf(g_b)), step * step};
}

}  // namespace embforge::glove

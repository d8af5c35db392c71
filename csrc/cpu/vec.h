// Small dense vector kernels for the training loops.
//
// Written with GCC vector extensions on 16-float blocks: each target_clones
// clone (simd.h) lowers them to its own instructions (4 SSE, 2 AVX2 or 1
// AVX-512 operation per block). The dot product reduces its block accumulator
// as a tree in registers; `#pragma omp simd` reductions compiled to a store and
// 16 dependent scalar adds, which dominated the skip-gram profile.
#pragma once

#include <cstring>

#include "embforge/simd.h"

namespace embforge::vec {

#if defined(__GNUC__)
typedef float f16 __attribute__((vector_size(64)));
typedef float f8 __attribute__((vector_size(32)));
typedef float f4 __attribute__((vector_size(16)));

EMBFORGE_INLINE f16 load(const float* p) {
  f16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
EMBFORGE_INLINE void store(float* p, f16 v) { std::memcpy(p, &v, sizeof v); }
EMBFORGE_INLINE f8 load8(const float* p) {
  f8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
EMBFORGE_INLINE void store8(float* p, f8 v) { std::memcpy(p, &v, sizeof v); }
// vector + scalar broadcasts in one instruction; an {x, x, ...} initialiser
// compiled to a chain of inserts.
EMBFORGE_INLINE f8 splat8(float x) { return f8{} + x; }
EMBFORGE_INLINE float reduce8(f8 v) {
  const f4 b = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
  return (b[0] + b[2]) + (b[1] + b[3]);
}
EMBFORGE_INLINE f4 load4(const float* p) {
  f4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
EMBFORGE_INLINE void store4(float* p, f4 v) { std::memcpy(p, &v, sizeof v); }

EMBFORGE_INLINE float reduce(f16 v) {
  const f8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
               __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const f4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
  return (b[0] + b[2]) + (b[1] + b[3]);
}

// The same operations for any block type (f16, f4 or a plain float), so one
// templated loop body can run over 16-wide blocks, then 4-wide, then single
// columns (d=100 = 6 x 16 + 1 x 4).
template <typename V>
EMBFORGE_INLINE V loadv(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V>
EMBFORGE_INLINE void storev(float* p, V v) { std::memcpy(p, &v, sizeof v); }
template <typename V>
constexpr int kLanes = sizeof(V) / sizeof(float);
EMBFORGE_INLINE float hsum(f16 v) { return reduce(v); }
EMBFORGE_INLINE float hsum(f4 v) { return (v[0] + v[2]) + (v[1] + v[3]); }
EMBFORGE_INLINE float hsum(float v) { return v; }

EMBFORGE_INLINE float dot(const float* __restrict a, const float* __restrict b, int n) {
  f16 acc0 = {}, acc1 = {};
  int i = 0;
  for (; i + 32 <= n; i += 32) {  // two accumulators hide the FMA latency
    acc0 += load(a + i) * load(b + i);
    acc1 += load(a + i + 16) * load(b + i + 16);
  }
  for (; i + 16 <= n; i += 16) acc0 += load(a + i) * load(b + i);
  f4 acc4 = {};
  for (; i + 4 <= n; i += 4) acc4 += load4(a + i) * load4(b + i);  // e.g. the last 4 of 100
  float sum = reduce(acc0 + acc1) + ((acc4[0] + acc4[2]) + (acc4[1] + acc4[3]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// y += alpha * x
EMBFORGE_INLINE void axpy(float alpha, const float* __restrict x, float* __restrict y, int n) {
  const f16 a = f16{} + alpha;
  int i = 0;
  for (; i + 16 <= n; i += 16) store(y + i, load(y + i) + a * load(x + i));
  const f4 a4 = f4{} + alpha;
  for (; i + 4 <= n; i += 4) store4(y + i, load4(y + i) + a4 * load4(x + i));
  for (; i < n; ++i) y[i] += alpha * x[i];
}
#else
EMBFORGE_INLINE float dot(const float* a, const float* b, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}
EMBFORGE_INLINE void axpy(float alpha, const float* x, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += alpha * x[i];
}
#endif

// y *= alpha
EMBFORGE_INLINE void scale(float alpha, float* y, int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) y[i] *= alpha;
}

}  // namespace embforge::vec

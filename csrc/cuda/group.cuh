// Lane groups: the few collective operations the kernels' shared code needs.
//
// The per-window and per-pair algorithms (w2v_core.cuh, glove_core.cuh) are
// written once against a "group" of lanes that split a vector's dimensions
// between them and meet only in these collectives:
//   rank(), size()   this lane and the number of lanes (size <= 32)
//   sum(x)           the sum of x over the lanes, the same bits in every lane
//   ballot(p)        bit i set when lane i passed p == true
//   first(x)         lane 0's x (an int64), in every lane
//   sync()           lanes' earlier shared-memory writes visible to all
// On the GPU a group is a warp (WarpGroup). On the CPU, SerialGroup is one
// lane, and the tests run a group of std::threads (tests/emulation/lane_emulation.h),
// so the lane indexing and the shared scratch are exercised without a GPU.
//
// Every lane of a group must reach each collective (uniform control flow):
// branches around collectives depend only on values every lane holds alike
// (ids, ballots, sums).
#pragma once

#include <cstdint>

#include "embforge/hd.h"

namespace embforge::cuda {

EMBFORGE_HD int popcount32(uint32_t x) {
#if defined(__CUDA_ARCH__)
  return __popc(x);
#else
  return __builtin_popcount(x);
#endif
}

// The lowest set bit's index; x != 0.
EMBFORGE_HD int lowest_bit(uint32_t x) {
#if defined(__CUDA_ARCH__)
  return __ffs(x) - 1;
#else
  return __builtin_ctz(x);
#endif
}

// Lanes below `rank` in a ballot mask.
EMBFORGE_HD uint32_t lanes_below(int rank) { return (1u << rank) - 1u; }

// One lane, for host code that needs no threads.
struct SerialGroup {
  EMBFORGE_HD int rank() const { return 0; }
  EMBFORGE_HD int size() const { return 1; }
  EMBFORGE_HD float sum(float x) const { return x; }
  EMBFORGE_HD uint32_t ballot(bool p) const { return p ? 1u : 0u; }
  EMBFORGE_HD int64_t first(int64_t x) const { return x; }
  EMBFORGE_HD void sync() const {}
};

#if defined(__CUDACC__)
// A whole warp. The xor butterfly adds the same two operands in every lane
// at each step (a + b == b + a exactly), so all lanes end with identical
// sums and branch on them alike.
struct WarpGroup {
  static constexpr unsigned kFull = 0xFFFFFFFFu;
  __device__ __forceinline__ int rank() const { return static_cast<int>(threadIdx.x & 31u); }
  __device__ __forceinline__ int size() const { return 32; }
  __device__ __forceinline__ float sum(float x) const {
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) x += __shfl_xor_sync(kFull, x, m);
    return x;
  }
  __device__ __forceinline__ uint32_t ballot(bool p) const { return __ballot_sync(kFull, p); }
  __device__ __forceinline__ int64_t first(int64_t x) const {
    return static_cast<int64_t>(__shfl_sync(kFull, static_cast<long long>(x), 0));
  }
  __device__ __forceinline__ void sync() const { __syncwarp(kFull); }
};
#endif

// V consecutive floats moved as one 16-byte (V = 4) or 4-byte access. Rows
// use V = 4 when the dimension is a multiple of 4 and the arrays are 16-byte
// aligned (the launchers check), which gives 128-bit loads and stores.
template <int V>
struct alignas(4 * V) Pack {
  float v[V];
};

template <int V>
EMBFORGE_HD Pack<V> load_pack(const float* p) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const Pack<V>*>(p);
#else
  Pack<V> x;
  for (int i = 0; i < V; ++i) x.v[i] = p[i];
  return x;
#endif
}

template <int V>
EMBFORGE_HD void store_pack(float* p, const Pack<V>& x) {
#if defined(__CUDA_ARCH__)
  *reinterpret_cast<Pack<V>*>(p) = x;
#else
  for (int i = 0; i < V; ++i) p[i] = x.v[i];
#endif
}

// Model memory: the weight rows every warp of a kernel reads and updates
// (Hogwild), as opposed to a warp's own scratch. The kernels touch it only
// through these helpers, because on the GPU
//   - the SMs' L1 caches are not coherent with each other: a plain load may be
//     served from a line this SM cached before other SMs wrote to it, for as
//     long as the line stays in L1, so reads go through L2 (ld.global.cg),
//     where every SM's writes meet;
//   - a read-modify-write `row += delta` made of plain loads and stores loses
//     every increment another warp makes between the two, so writes are
//     fire-and-forget atomic adds performed at L2 (red.global.add; 16-byte
//     vector adds on sm_90 and later, whose four floats are each added
//     atomically): no increment is ever lost.
// On the host (serial code and the emulated lanes, which own disjoint
// dimensions) they are plain loads and `+=`, the same arithmetic.
// tests/test_cuda_ptx.py checks the compiled kernels for both.
EMBFORGE_HD float load_l2(const float* p) {
#if defined(__CUDA_ARCH__)
  return __ldcg(p);
#else
  return *p;
#endif
}

EMBFORGE_HD void add_atomic(float* p, float x) {
#if defined(__CUDA_ARCH__)
  atomicAdd(p, x);  // result unused: compiled to red.global.add.f32
#else
  *p += x;
#endif
}

#if !defined(__CUDA_ARCH__)
// Host builds: where prefetch_row_l2 reports the rows it is given (null:
// nowhere). The emulation sets it to record which rows a kernel prefetches;
// the library never does.
inline void (*prefetch_hook)(const float* row, int64_t floats) = nullptr;
#endif

// A hint that row[0, floats) will be read soon: every 128-byte line it
// touches is fetched from device memory into L2 (where model reads are
// served, load_l2) without waiting for it. No effect on results; on the host
// it only reports the row.
EMBFORGE_HD void prefetch_row_l2(const float* row, int64_t floats) {
#if defined(__CUDA_ARCH__)
  const uintptr_t last = reinterpret_cast<uintptr_t>(row + floats - 1) & ~uintptr_t{127};
  for (uintptr_t line = reinterpret_cast<uintptr_t>(row) & ~uintptr_t{127}; line <= last; line += 128)
    asm volatile("prefetch.global.L2 [%0];" ::"l"(line));
#else
  if (prefetch_hook) prefetch_hook(row, floats);
#endif
}

template <int V>
EMBFORGE_HD Pack<V> load_l2_pack(const float* p) {
  Pack<V> x;
#if defined(__CUDA_ARCH__)
  if constexpr (V == 4) {
    const float4 v = __ldcg(reinterpret_cast<const float4*>(p));
    x.v[0] = v.x, x.v[1] = v.y, x.v[2] = v.z, x.v[3] = v.w;
  } else
#endif
  {
#pragma unroll
    for (int i = 0; i < V; ++i) x.v[i] = load_l2(p + i);
  }
  return x;
}

template <int V>
EMBFORGE_HD void add_atomic_pack(float* p, const Pack<V>& x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if constexpr (V == 4) {
    atomicAdd(reinterpret_cast<float4*>(p), make_float4(x.v[0], x.v[1], x.v[2], x.v[3]));
  } else
#endif
  {
#pragma unroll
    for (int i = 0; i < V; ++i) add_atomic(p + i, x.v[i]);
  }
}

// a * x, lane-local.
template <int V>
EMBFORGE_HD Pack<V> scale_pack(float a, const Pack<V>& x) {
  Pack<V> y;
#pragma unroll
  for (int i = 0; i < V; ++i) y.v[i] = a * x.v[i];
  return y;
}

// y[c..c+V) += a * x, one lane's slice of scratch.
template <int V>
EMBFORGE_HD void axpy_pack(float a, const Pack<V>& xv, float* y) {
  Pack<V> yv = load_pack<V>(y);
#pragma unroll
  for (int i = 0; i < V; ++i) yv.v[i] += a * xv.v[i];
  store_pack<V>(y, yv);
}

template <int V>
EMBFORGE_HD void axpy_pack(float a, const float* x, float* y) {
  axpy_pack<V>(a, load_pack<V>(x), y);
}

template <int V>
EMBFORGE_HD float dot_pack(const float* x, const Pack<V>& yv) {
  const Pack<V> xv = load_pack<V>(x);
  float s = 0.0f;
#pragma unroll
  for (int i = 0; i < V; ++i) s += xv.v[i] * yv.v[i];
  return s;
}

template <int V>
EMBFORGE_HD float dot_pack(const float* x, const float* y) {
  return dot_pack<V>(x, load_pack<V>(y));
}

template <int V>
EMBFORGE_HD void fill_pack(float* p, float value) {
  Pack<V> x;
#pragma unroll
  for (int i = 0; i < V; ++i) x.v[i] = value;
  store_pack<V>(p, x);
}

// Rows in scratch memory start on 16-byte boundaries.
EMBFORGE_HD int padded_dim(int dim) { return (dim + 3) & ~3; }

}  // namespace embforge::cuda

// Run-time SIMD dispatch without -march=native.
//
// A function marked EMBFORGE_MULTIVERSION is compiled three times (baseline
// x86-64, x86-64-v3 = AVX2+FMA, x86-64-v4 = AVX-512) and the loader picks the
// best clone for the running CPU (GCC target_clones / ifunc). Mark the
// outermost hot function (a worker's loop), and keep the small helpers it
// calls `inline` so they are inlined into, and vectorised for, each clone.
// Loops use `#pragma omp simd` (built with -fopenmp-simd, no OpenMP runtime).
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define EMBFORGE_MULTIVERSION \
  __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define EMBFORGE_MULTIVERSION
#endif

#if defined(__GNUC__)
#define EMBFORGE_INLINE inline __attribute__((always_inline))
// For a lambda handed to an inlined loop inside an EMBFORGE_MULTIVERSION
// function: a lambda left out of line is compiled for the baseline ISA only.
#define EMBFORGE_INLINE_LAMBDA __attribute__((always_inline))
#else
#define EMBFORGE_INLINE inline
#define EMBFORGE_INLINE_LAMBDA
#endif

namespace embforge {
// Name of the code path the multiversioned kernels run on this CPU.
const char* simd_level();
}  // namespace embforge

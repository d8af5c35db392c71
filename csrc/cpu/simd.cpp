#include "embforge/simd.h"

namespace embforge {

const char* simd_level() {
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
  // Mirrors the clones in EMBFORGE_MULTIVERSION (the loader's choice).
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4 (AVX-512)";
  if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3 (AVX2+FMA)";
  return "x86-64 baseline (SSE2)";
#else
  return "portable (compiler default)";
#endif
}

}  // namespace embforge

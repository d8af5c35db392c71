// Random numbers shared by the CPU and CUDA kernels.
//
// splitmix64: a counter passed through a strong 64-bit mixer. One call gives
// 64 good bits (all of them usable, unlike an LCG's low bits), the state is a
// single integer, and seeding by (seed, stream) is just mixing them, so every
// thread, block or row gets its own reproducible stream.
#pragma once

#include <cstdint>
#include <utility>

#include "embforge/hd.h"

namespace embforge {

EMBFORGE_HD uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

struct SplitMix64 {
  static constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;  // the counter's step (odd)
  // kGamma's inverse modulo 2^64 (Newton's iteration; each step doubles the
  // correct low bits, 5 steps from 3 give 96 >= 64).
  static constexpr uint64_t kGammaInverse = [] {
    uint64_t x = kGamma;
    for (int i = 0; i < 5; ++i) x *= 2 - kGamma * x;
    return x;
  }();
  static_assert(kGamma * kGammaInverse == 1, "kGammaInverse must invert kGamma mod 2^64");

  uint64_t state;
  EMBFORGE_HD explicit SplitMix64(uint64_t seed, uint64_t stream = 0)
      : state(mix64(seed ^ mix64(stream + 0x632be59bd9b4e019ull))) {}
  EMBFORGE_HD uint64_t next() { return mix64(state += kGamma); }
  // Moves n draws ahead in O(1): the state is a counter.
  EMBFORGE_HD void skip(uint64_t n) { state += n * kGamma; }
  // Draws made between two states of one stream (mod 2^64).
  EMBFORGE_HD static uint64_t draws_between(uint64_t from, uint64_t to) {
    return (to - from) * kGammaInverse;
  }
  EMBFORGE_HD uint32_t next32() { return static_cast<uint32_t>(next() >> 32); }
  // Uniform in [0, 1) with 24 random bits (exact in float).
  EMBFORGE_HD float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }
};

// Uniform integer in [0, n) from 32 random bits (multiply-shift, bias < n/2^32).
EMBFORGE_HD uint32_t bounded(uint32_t random32, uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(random32) * n) >> 32);
}

// Shuffles first[0, n) uniformly (Fisher-Yates; n < 2^32). Host only.
template <typename T>
void shuffle(T* first, int64_t n, SplitMix64& rng) {
  for (int64_t k = n - 1; k > 0; --k)
    std::swap(first[k], first[bounded(rng.next32(), static_cast<uint32_t>(k + 1))]);
}

// Draws from a Walker/Vose alias table: column from the high 32 bits, coin
// from the low 32 bits of one 64-bit random number. keep[c] is the probability
// (scaled to 2^32) of keeping column c rather than taking alias[c].
EMBFORGE_HD uint32_t alias_draw(const uint32_t* keep, const uint32_t* alias, uint32_t n,
                                uint64_t random64) {
  const uint32_t column = bounded(static_cast<uint32_t>(random64 >> 32), n);
  return static_cast<uint32_t>(random64) < keep[column] ? column : alias[column];
}

}  // namespace embforge

// GloVe on a lane group: one pair's AdaGrad update (glove_math.h formulas,
// the CPU's update in glove.cpp), and the shuffled visiting order, shared by
// the CUDA kernel and the CPU emulation used by the tests.
//
// Order. Instead of a permutation array, step t of an epoch visits pair
// permute(t): a 4-round Feistel network keyed by (seed, epoch) is a
// bijection on [0, 4^h) with 4^h >= n, and "cycle walking" (apply it again
// while the result is >= n) restricts it to a bijection on [0, n) (Black &
// Rogaway 2002). No memory, no sort, and any warp computes any step. An
// explicit order array (e.g. the CPU's glove_shuffle) can be given instead.
//
// Races: Hogwild, as the CPU backend and glove.c, with what the GPU
// guarantees (group.cuh, "Model memory"): every write to the weights and
// AdaGrad sums is an atomic add at L2 (red.global.add), so no warp's
// increment is lost when warps on several SMs update one row; every read goes
// through L2 (ld.global.cg), so it sees the increments that reached L2 before
// it, never a stale line from the SM's own L1. Nothing more: a warp computes
// its pair's step from the values it read (another warp's increments landing
// meanwhile are added but not seen), and a row being updated may be read
// half-updated (whole floats, never torn). Lanes own disjoint coordinates of
// a pair; lane 0 alone updates the biases, and the group's sync after each
// pair orders those adds before the next pair's reads.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "embforge/glove.h"
#include "embforge/glove_math.h"
#include "embforge/hd.h"
#include "embforge/random.h"
#include "group.cuh"

namespace embforge::cuda {

// What a lane group reads, built from the contract (glove.h) by glove_args:
// flattened so the kernel takes it by value, with the order key derived once.
struct GloveArgs {
  const glove::Pair* pairs = nullptr;
  const uint32_t* order = nullptr;  // optional: visit pairs[order[t]]
  int64_t n_pairs = 0;
  float* weights = nullptr;         // [2 * vocab, dim + 1]
  float* gradsq = nullptr;
  int64_t vocab_size = 0;
  int dim = 0;
  float learning_rate = 0.05f;
  float grad_clip = 100.0f;
  float bias_rate = 1.0f;           // GloveParams::bias_learning_rate (glove_math.h)
  uint64_t order_key = 0;           // glove_order_key(seed, epoch)
  int half_bits = 1;                // glove_half_bits(n_pairs)
  // Speed variants (launch.h Launch::variant), off by default:
  bool staged = false;              // kStagedUpdate: glove_update_staged, next record early
  bool tight_order = false;         // kTightOrder: glove_permute_tight on glove_domain_bits
  int domain_bits = 1;              // glove_domain_bits(n_pairs)
};

struct GloveCounters {
  double cost = 0.0;
  int64_t pairs = 0;
  int64_t skipped = 0;
};

EMBFORGE_HD bool finite(float x) {
#if defined(__CUDA_ARCH__)
  return isfinite(x);
#else
  return std::isfinite(x);
#endif
}

EMBFORGE_HD uint64_t glove_order_key(uint64_t seed, int epoch) {
  return SplitMix64(seed, 0x676c6f7665000000ull + static_cast<uint32_t>(epoch)).next();
}

// Half the bit width of the Feistel domain: 4^h >= n, h >= 1.
EMBFORGE_HD int glove_half_bits(int64_t n) {
  int bits = 0;
  while (bits < 62 && (int64_t{1} << bits) < n) ++bits;
  const int half = (bits + 1) / 2;
  return half < 1 ? 1 : half;
}

// The tight order (kTightOrder). The balanced network's domain 4^h can be up
// to 4n, so cycle walking takes up to ~4 steps on average (~3.5 at 19.4M
// pairs); a domain of 2^bits >= n (bits >= 1) is below 2n, so at most ~2.
EMBFORGE_HD int glove_domain_bits(int64_t n) {
  int bits = 1;
  while (bits < 63 && (int64_t{1} << bits) < n) ++bits;
  return bits;
}

inline GloveArgs glove_args(const GloveParams& params, const glove::Pair* pairs,
                            const uint32_t* order, int64_t n_pairs, const GloveModel& model) {
  GloveArgs a;
  a.pairs = pairs;
  a.order = order;
  a.n_pairs = n_pairs;
  a.weights = model.weights;
  a.gradsq = model.gradsq;
  a.vocab_size = model.vocab_size;
  a.dim = params.vector_size;
  a.learning_rate = params.learning_rate;
  a.grad_clip = params.grad_clip;
  a.bias_rate = params.bias_learning_rate;
  a.order_key = glove_order_key(params.seed, params.epoch);
  a.half_bits = glove_half_bits(n_pairs);
  a.domain_bits = glove_domain_bits(n_pairs);
  return a;
}

// A bijection on [0, 4^half) (balanced Feistel, 4 rounds of mix64).
EMBFORGE_HD uint64_t glove_feistel(uint64_t x, uint64_t key, int half) {
  const uint64_t mask = (uint64_t{1} << half) - 1;
  uint64_t left = x >> half, right = x & mask;
#pragma unroll
  for (int round = 0; round < 4; ++round) {
    const uint64_t f = mix64(key + static_cast<uint64_t>(round) * 0xd1b54a32d192ed03ull + right) & mask;
    const uint64_t next = left ^ f;
    left = right;
    right = next;
  }
  return (left << half) | right;
}

// The pair visited at step t in [0, n) of an epoch.
EMBFORGE_HD uint64_t glove_permute(uint64_t t, uint64_t n, uint64_t key, int half) {
  uint64_t x = glove_feistel(t, key, half);
  while (x >= n) x = glove_feistel(x, key, half);  // cycle walking
  return x;
}

// A bijection on [0, 2^bits): an unbalanced Feistel network of 8 half-rounds
// that alternately xor the high part with a keyed mix of the low part and the
// low part with a mix of the high part. Each half-round is its own inverse
// given the part it leaves alone, so the whole is a bijection for any split.
EMBFORGE_HD uint64_t glove_feistel_bits(uint64_t x, uint64_t key, int bits) {
  const int low_bits = bits / 2, high_bits = bits - low_bits;
  const uint64_t low_mask = (uint64_t{1} << low_bits) - 1, high_mask = (uint64_t{1} << high_bits) - 1;
  uint64_t high = x >> low_bits, low = x & low_mask;
#pragma unroll
  for (int round = 0; round < 8; ++round) {
    const uint64_t k = key + static_cast<uint64_t>(round) * 0xd1b54a32d192ed03ull;
    if (round % 2 == 0) {
      high ^= mix64(k + low) & high_mask;
    } else {
      low ^= mix64(k + high) & low_mask;
    }
  }
  return (high << low_bits) | low;
}

EMBFORGE_HD uint64_t glove_permute_tight(uint64_t t, uint64_t n, uint64_t key, int bits) {
  uint64_t x = glove_feistel_bits(t, key, bits);
  while (x >= n) x = glove_feistel_bits(x, key, bits);
  return x;
}

// The write-backs of one pair: each coordinate's and the biases' AdaGrad
// deltas as atomic adds (see the race comment at the top), shared by the
// default and the staged update.
EMBFORGE_HD void glove_add_coordinate(float* w, float* c, float* gw, float* gc, int k,
                                      const glove::AdagradDelta& d) {
  add_atomic(w + k, d.w);
  add_atomic(c + k, d.c);
  add_atomic(gw + k, d.g_w);
  add_atomic(gc + k, d.g_c);
}

EMBFORGE_HD void glove_add_biases(float* w, float* c, float* gw, float* gc, int dim,
                                  float bias_step, float gradsq_w, float gradsq_c) {
  const glove::BiasDelta dw = glove::adagrad_bias_delta(gradsq_w, bias_step);
  const glove::BiasDelta dc = glove::adagrad_bias_delta(gradsq_c, bias_step);
  add_atomic(w + dim, dw.b);
  add_atomic(gw + dim, dw.g_b);
  add_atomic(c + dim, dc.b);
  add_atomic(gc + dim, dc.g_b);
}

// One pair, simultaneous AdaGrad on both rows. Returns false when skipped
// (diff not finite, as glove.c); the decision is the same in every lane.
template <class G>
EMBFORGE_HD bool glove_update(const G& g, const GloveArgs& a, const glove::Pair& p, double* cost) {
  const int dim = a.dim, stride = dim + 1;
  float* w = a.weights + static_cast<int64_t>(p.row) * stride;
  float* c = a.weights + (static_cast<int64_t>(p.col) + a.vocab_size) * stride;
  float* gw = a.gradsq + static_cast<int64_t>(p.row) * stride;
  float* gc = a.gradsq + (static_cast<int64_t>(p.col) + a.vocab_size) * stride;
  float part = 0.0f;
  for (int k = g.rank(); k < dim; k += g.size()) part += load_l2(w + k) * load_l2(c + k);
  const float bias_w = load_l2(w + dim), bias_c = load_l2(c + dim);  // before lane 0 adds to them
  const float diff = glove::pair_diff(g.sum(part), bias_w, bias_c, p.log_x);
  const float fdiff = p.weight * diff;
  if (!finite(diff) || !finite(fdiff)) return false;
  *cost += 0.5 * static_cast<double>(fdiff) * static_cast<double>(diff);
  for (int k = g.rank(); k < dim; k += g.size()) {
    const glove::AdagradDelta d = glove::adagrad_delta(
        load_l2(w + k), load_l2(c + k), load_l2(gw + k), load_l2(gc + k), fdiff, a.learning_rate,
        a.grad_clip);
    glove_add_coordinate(w, c, gw, gc, k, d);
  }
  if (g.rank() == 0) {
    glove_add_biases(w, c, gw, gc, dim, fdiff * a.bias_rate, load_l2(gw + dim),
                     load_l2(gc + dim));
  }
  return true;
}

// glove_update with a lane's R coordinates of w, c and both AdaGrad sums,
// and the biases' sums, all loaded before the dot product's reduction
// (kStagedUpdate): the loads are in flight together instead of one
// coordinate's after another's atomic adds, and the update uses the values
// the dot product used. The same arithmetic in the same order as
// glove_update otherwise. Needs dim <= R * g.size().
//
// The four rows never overlap (w is a word row, c a context row: rows
// [vocab, 2 * vocab); gw and gc are their AdaGrad sums, another array), so
// they are declared __restrict__: the compiler may then keep the loads ahead
// of the atomic adds and schedule them as it likes. Only this thread's own
// accesses are concerned; other warps' concurrent adds are the race model's
// (see the top of this file), which restrict does not change.
template <int R, class G>
EMBFORGE_HD bool glove_update_staged(const G& g, const GloveArgs& a, const glove::Pair& p,
                                     double* cost) {
  const int dim = a.dim, stride = dim + 1;
  float* __restrict__ w = a.weights + static_cast<int64_t>(p.row) * stride;
  float* __restrict__ c = a.weights + (static_cast<int64_t>(p.col) + a.vocab_size) * stride;
  float* __restrict__ gw = a.gradsq + static_cast<int64_t>(p.row) * stride;
  float* __restrict__ gc = a.gradsq + (static_cast<int64_t>(p.col) + a.vocab_size) * stride;
  float wv[R], cv[R], gwv[R], gcv[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int k = g.rank() + r * g.size();
    const bool in = k < dim;
    wv[r] = in ? load_l2(w + k) : 0.0f;
    cv[r] = in ? load_l2(c + k) : 0.0f;
    gwv[r] = in ? load_l2(gw + k) : 1.0f;
    gcv[r] = in ? load_l2(gc + k) : 1.0f;
  }
  const float bias_w = load_l2(w + dim), bias_c = load_l2(c + dim);
  const float bias_gw = load_l2(gw + dim), bias_gc = load_l2(gc + dim);
  float part = 0.0f;
#pragma unroll
  for (int r = 0; r < R; ++r)
    if (g.rank() + r * g.size() < dim) part += wv[r] * cv[r];
  const float diff = glove::pair_diff(g.sum(part), bias_w, bias_c, p.log_x);
  const float fdiff = p.weight * diff;
  if (!finite(diff) || !finite(fdiff)) return false;
  *cost += 0.5 * static_cast<double>(fdiff) * static_cast<double>(diff);
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int k = g.rank() + r * g.size();
    if (k >= dim) continue;
    const glove::AdagradDelta d =
        glove::adagrad_delta(wv[r], cv[r], gwv[r], gcv[r], fdiff, a.learning_rate, a.grad_clip);
    glove_add_coordinate(w, c, gw, gc, k, d);
  }
  if (g.rank() == 0) glove_add_biases(w, c, gw, gc, dim, fdiff * a.bias_rate, bias_gw, bias_gc);
  return true;
}

// Coordinates per lane glove_update_staged holds in registers.
constexpr int kStagedPerLane = 4;

// A 16-byte record in one access (Pair itself is only 4-byte aligned).
EMBFORGE_HD glove::Pair glove_load_pair(const glove::Pair* p) {
#if defined(__CUDA_ARCH__)
  // Read-only for the whole launch: the non-coherent path is right here.
  const uint4 raw = __ldg(reinterpret_cast<const uint4*>(p));
  glove::Pair out;
  memcpy(&out, &raw, sizeof(out));
  return out;
#else
  return *p;
#endif
}

// Steps [begin, end) of the epoch, `stride` groups apart starting at `first`.
// The pair record visited at step t.
EMBFORGE_HD glove::Pair glove_step_pair(const GloveArgs& a, int64_t t) {
  const auto n = static_cast<uint64_t>(a.n_pairs), step = static_cast<uint64_t>(t);
  const uint64_t i = a.order         ? a.order[t]
                     : a.tight_order ? glove_permute_tight(step, n, a.order_key, a.domain_bits)
                                     : glove_permute(step, n, a.order_key, a.half_bits);
  return glove_load_pair(a.pairs + i);
}

template <class G>
EMBFORGE_HD void glove_steps(const G& g, const GloveArgs& a, int64_t begin, int64_t end,
                             int64_t first, int64_t stride, GloveCounters& out) {
  if (a.staged && a.dim <= kStagedPerLane * g.size()) {
    // The next step's record is loaded before this step's update.
    int64_t t = begin + first;
    glove::Pair p{};
    if (t < end) p = glove_step_pair(a, t);
    for (; t < end; t += stride) {
      const glove::Pair next = t + stride < end ? glove_step_pair(a, t + stride) : p;
      ++out.pairs;
      if (!glove_update_staged<kStagedPerLane>(g, a, p, &out.cost)) ++out.skipped;
      g.sync();  // lane 0's bias adds land before the next pair reads them
      p = next;
    }
    return;
  }
  for (int64_t t = begin + first; t < end; t += stride) {
    const glove::Pair p = glove_step_pair(a, t);
    ++out.pairs;
    if (!glove_update(g, a, p, &out.cost)) ++out.skipped;
    g.sync();  // lane 0's bias adds land before the next pair reads them
  }
}

// Pair record i from a COO entry, as make_glove_pairs (glove.cpp); false
// when the entry is invalid (ids out of range, value not finite and > 0).
EMBFORGE_HD bool glove_make_pair(int32_t row, int32_t col, float value, int64_t vocab_size,
                                 double x_max, double alpha, glove::Pair* out) {
  const double x = value;
  if (row < 0 || row >= vocab_size || col < 0 || col >= vocab_size || !(x > 0.0) || !finite(value)) {
    *out = glove::Pair{0, 0, 0.0f, 0.0f};
    return false;
  }
  *out = glove::Pair{static_cast<uint32_t>(row), static_cast<uint32_t>(col),
                     static_cast<float>(log(x)), static_cast<float>(glove::weighting(x, x_max, alpha))};
  return true;
}

// Rows r of weights and gradsq exactly as init_glove (glove.cpp) writes them.
EMBFORGE_HD void glove_init_row(float* weights, float* gradsq, int dim, uint64_t seed, int64_t r) {
  const int stride = dim + 1;
  const float scale = glove::init_scale(dim);
  SplitMix64 rng(seed, static_cast<uint64_t>(r));
  for (int i = 0; i < stride; ++i) {
    weights[i] = (rng.uniform() - 0.5f) * scale;
    gradsq[i] = 1.0f;
  }
}

}  // namespace embforge::cuda

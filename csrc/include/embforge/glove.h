// GloVe training: the contract both backends implement (csrc/cpu/glove.cpp
// and csrc/cuda/glove.cu), with GloveParams the one parameter struct they
// take.
//
// Model layout is glove.c's, in float32: `weights` and `gradsq` are
// [2 * vocab, dim + 1]; rows [0, vocab) are the main word vectors, rows
// [vocab, 2 * vocab) the context vectors, and column `dim` holds the bias.
// Training pairs are glove::Pair records (glove_math.h); an epoch visits them
// in the order given by a permutation `order` (uint32 indices, so at most
// 2^32 - 1 pairs per in-memory matrix).
#pragma once

#include <cstdint>

#include "embforge/glove_math.h"
#include "embforge/launch.h"
#include "embforge/progress.h"

namespace embforge {

struct GloveParams {
  int vector_size = 100;
  float learning_rate = 0.05f;  // glove.c's eta
  float grad_clip = 100.0f;     // glove.c's grad_clip_value
  float bias_learning_rate = 1.0f;  // scales the bias gradient (glove.c: 1, no eta; glove_math.h)
  // The epoch's visiting order: glove_shuffle(seed, epoch) on the CPU, a
  // keyed permutation of (seed, epoch) on CUDA when no order is given.
  uint64_t seed = 1;
  int epoch = 0;
  int workers = 1;              // CPU threads (the CUDA launchers ignore it)
};

struct GloveModel {
  float* weights = nullptr;  // [2 * vocab_size, vector_size + 1]
  float* gradsq = nullptr;   // same shape
  int64_t vocab_size = 0;
};

struct GloveEpochStats {
  double cost = 0.0;       // sum of 0.5 f(x) diff^2 over the pairs visited
  int64_t pairs = 0;       // pairs visited (skipped ones included)
  int64_t skipped = 0;     // pairs whose diff was NaN or infinite (not applied)
  bool stopped = false;    // Progress::stop ended the epoch early
};

// glove::Pair records from a COO matrix with values > 0 (0-based ids).
void make_glove_pairs(const int32_t* rows, const int32_t* cols, const float* values, int64_t n,
                      int64_t vocab_size, double x_max, double alpha, int workers,
                      glove::Pair* out);

// A uniformly random permutation of [0, n) for (seed, epoch), the same for
// any number of workers: every index draws a random bucket, buckets are
// filled in index order and each is shuffled (Fisher-Yates) on its own.
void glove_shuffle(uint32_t* order, int64_t n, uint64_t seed, int epoch, int workers);

// One pass over the pairs in `order` (n indices into pairs: a permutation
// for a whole epoch, or a slice of one) with `workers` Hogwild threads, each
// on a contiguous slice of it. Progress counts pairs in work_done and the cost
// in loss_sum; Progress::stop ends the epoch at the next block of pairs.
GloveEpochStats train_glove_epoch(const GloveParams& params, const glove::Pair* pairs,
                                  const uint32_t* order, int64_t n, const GloveModel& model,
                                  Progress* progress);

// The update of one pair exactly as the epoch loop does it; returns its cost
// (0 when skipped). For tests against a plain reference.
double glove_pair_update(const GloveParams& params, const GloveModel& model, const glove::Pair& pair);

// glove.c's initialisation: every weight and bias uniform in
// [-0.5, 0.5) / dim, each row from its own random stream; gradsq = 1.
void init_glove(float* weights, float* gradsq, int64_t rows, int dim, uint64_t seed);

namespace cuda {

// glove::Pair records [n, 4 x uint32] from COO arrays in device memory, like
// make_glove_pairs; entries that make_glove_pairs would reject are counted
// into invalid[0].
void glove_make_pairs(const int32_t* rows, const int32_t* cols, const float* values, int64_t n,
                      int64_t vocab_size, double x_max, double alpha, uint32_t* pairs,
                      unsigned long long* invalid, const Launch& launch);

// weights and gradsq [rows, dim + 1] exactly as init_glove.
void glove_init(float* weights, float* gradsq, int64_t rows, int dim, uint64_t seed,
                const Launch& launch);

// Steps [begin, end) of an epoch (a step visits one pair): pairs[order[t]]
// for step t, or with order null the keyed permutation of (params.seed,
// params.epoch). Adds the cost to cost[0] and pairs visited, skipped to
// counts[0] and counts[1] (device memory). Reads launch.warps_per_block.
void glove_train_range(const GloveParams& params, const glove::Pair* pairs, const uint32_t* order,
                       int64_t n_pairs, const GloveModel& model, int64_t begin, int64_t end,
                       double* cost, unsigned long long* counts, const Launch& launch);

}  // namespace cuda

}  // namespace embforge

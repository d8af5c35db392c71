// GloVe training: the contract every backend implements.
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
#include "embforge/progress.h"

namespace embforge {

struct GloveParams {
  int vector_size = 100;
  float learning_rate = 0.05f;  // glove.c's eta
  float grad_clip = 100.0f;     // glove.c's grad_clip_value
  float bias_rate = 1.0f;       // scales the bias gradient (glove.c: 1, no eta; glove_math.h)
  int workers = 1;
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

// One pass over the pairs in `order` with `workers` Hogwild threads, each on
// a contiguous slice of it. Progress counts pairs in work_done and the cost
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

}  // namespace embforge

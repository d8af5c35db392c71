// Word2vec (skip-gram and CBOW with negative sampling): the contract both
// backends implement (csrc/cpu/word2vec.cpp and csrc/cuda/word2vec.cu), with
// Word2VecParams the one parameter struct they take. Arrays belong to the
// caller (numpy on the CPU, torch or CuPy on the GPU); kernels only read and
// write through these pointers.
#pragma once

#include <cstdint>
#include <vector>

#include "embforge/corpus_view.h"
#include "embforge/launch.h"
#include "embforge/progress.h"

namespace embforge {

struct Word2VecParams {
  int vector_size = 100;
  int window = 5;            // maximum distance between center and context
  int negative = 5;          // noise words per positive pair
  bool skip_gram = true;     // false: CBOW with the mean of the contexts
  bool shrink_windows = true;
  float alpha_start = 0.025f;  // learning rate at the start of this call ...
  float alpha_end = 0.025f;    // ... and at its end (linear in between)
  uint64_t seed = 1;
  int epoch = 0;             // mixed into the seed: each epoch draws anew
  int workers = 1;           // CPU threads (the CUDA launchers ignore it)
  // With workers > 1, rows [0, hot_rows) (the most frequent words) are trained
  // in thread-private copies merged every few thousand words (cpu/hot_rows.h).
  // -1: automatic (64 rows); 0 turns it off. CPU only.
  int64_t hot_rows = -1;
  // Epoch slices (CPU; the CUDA launchers train ranges instead): the epoch's
  // shuffled chunk list is cut into slice_count contiguous parts of
  // near-equal chunk counts (word2vec_slice_ids gives their sizes) and a call
  // trains part slice_index only, alpha_start at its first id and alpha_end
  // at its last. 0 and 1: the whole epoch.
  int slice_index = 0;
  int slice_count = 1;
  // Where every thread's random stream starts, in draws: 0 for an epoch's
  // first slice, the previous slice's EpochStats::rng_end for the next one.
  // With one worker, slices 0..k-1 chained this way draw exactly the numbers
  // one whole-epoch call draws; with more, no two slices share a draw.
  uint64_t rng_start = 0;
  // false: the CUDA kernels skip the loss (a log and an exp per pair, about a
  // quarter of their instructions) and report loss 0 over 0 terms. The CPU
  // kernels always compute it (cheap next to their memory traffic).
  bool compute_loss = true;
};

// Model arrays, all with `vocab_size` rows of params.vector_size floats.
struct Word2VecModel {
  float* input = nullptr;    // [vocab_size, vector_size]: the word vectors (syn0)
  float* output = nullptr;   // [vocab_size, vector_size]: output weights (syn1neg)
  int64_t vocab_size = 0;
  const uint32_t* keep_threshold = nullptr;  // subsampling (w2v::keep_word)
  const uint32_t* noise_keep = nullptr;      // alias table of unigram^ns_exponent
  const uint32_t* noise_alias = nullptr;
};

struct EpochStats {
  double loss = 0.0;          // summed negative-sampling loss
  int64_t loss_terms = 0;     // pairs summed into loss
  int64_t ids_processed = 0;  // stream positions read (before subsampling)
  int64_t words_trained = 0;  // center words kept after subsampling
  bool stopped = false;       // Progress::stop ended the pass early
  uint64_t rng_end = 0;       // rng_start + the most draws any thread made (Word2VecParams)
};

// One pass over the corpus (or one slice of it) with `workers` Hogwild
// threads. Progress counts stream positions (ids) in work_done, out of the
// slice's ids; Progress::stop ends it at the next sentence with every update
// complete. Stats are this call's.
EpochStats train_word2vec_epoch(const Word2VecParams& params, const CorpusView& corpus,
                                const Word2VecModel& model, Progress* progress);

// Ids in each of the slice_count slices of epoch `epoch` (Word2VecParams:
// slice_index), in slice order; they sum to corpus.n_ids.
std::vector<int64_t> word2vec_slice_ids(const CorpusView& corpus, uint64_t seed, int epoch,
                                        int slice_count);

// One window's update exactly as the epoch loop does it, for given contexts
// and targets (targets[0] the center, then `negative` noise words); returns
// the window's loss. For tests against a plain reference implementation.
double word2vec_window_update(const Word2VecParams& params, const Word2VecModel& model,
                              const uint32_t* contexts, int n_contexts, const uint32_t* targets,
                              float alpha);

// Input vectors initialised like word2vec.c: uniform in [-0.5, 0.5) / dim,
// each row from its own random stream, so the numbers do not depend on the
// thread count; times `scale` (FastText's n-gram rows; 1 leaves them as
// they are). `workers` threads take consecutive row ranges: a FastText
// matrix is 2M rows, 0.8 GB of fresh pages at d=100.
void init_word2vec_input(float* input, int64_t rows, int dim, uint64_t seed, float scale = 1.0f,
                         int workers = 1);

namespace cuda {

// Trains on stream positions [begin, end) of a corpus in device memory (an
// epoch is one or more calls over consecutive ranges; ranges may cut
// sentences; the learning rate runs from alpha_start at position 0 to
// alpha_end at corpus.n_ids). Adds the loss to loss[0] and the loss terms and
// words trained to counts[0] and counts[1] (device memory). Limits: window <=
// 1024 and a vector_size whose scratch fits in shared memory (about 14,000
// floats). Reads launch.warps_per_block, span, batch and variant
// (kPipelinedLoads, kBoundedRegisters, kSpanQueue; launch.h); with kSpanQueue
// counts has a third entry, the span queue's counter, which the launcher
// zeroes before the kernel starts.
void word2vec_train_range(const Word2VecParams& params, const CorpusView& corpus,
                          const Word2VecModel& model, int64_t begin, int64_t end, double* loss,
                          unsigned long long* counts, const Launch& launch);

// input[r] for r in [0, rows): the CPU's init_word2vec_input, bit for bit.
void word2vec_init_input(float* input, int64_t rows, int dim, uint64_t seed, const Launch& launch);

}  // namespace cuda

}  // namespace embforge

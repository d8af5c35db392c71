// Host-callable launchers of the CUDA kernels (embforge._cuda).
//
// Every array is a raw device pointer owned by the caller (torch or CuPy
// memory allocated in Python); `stream` is a cudaStream_t passed as an integer
// (torch.cuda.current_stream().cuda_stream), and every kernel runs on it
// asynchronously: launchers check the launch and return without waiting.
// `device` is the CUDA device index the pointers live on. Errors throw
// std::invalid_argument (bad arguments) or std::runtime_error (CUDA errors,
// naming the kernel). This header needs no CUDA headers.
#pragma once

#include <cstdint>

#include "embforge/progress.h"

namespace embforge::cuda {

// ------------------------------------------------------------------ word2vec
struct Word2VecLaunch {
  const uint32_t* ids = nullptr;      // [n_ids]
  const int64_t* offsets = nullptr;   // [n_sentences + 1], offsets[0] = 0
  int64_t n_ids = 0;
  int64_t n_sentences = 0;
  float* input = nullptr;             // [vocab_size, dim]
  float* output = nullptr;            // [vocab_size, dim]
  int64_t vocab_size = 0;
  int dim = 0;
  const uint32_t* keep_threshold = nullptr;  // [vocab_size]
  const uint32_t* noise_keep = nullptr;      // [vocab_size]
  const uint32_t* noise_alias = nullptr;     // [vocab_size]
  bool skip_gram = true;
  int window = 5;
  int negative = 5;
  bool shrink_windows = true;
  float alpha_start = 0.025f;  // learning rate at position 0 of the stream ...
  float alpha_end = 0.025f;    // ... and at its end
  uint64_t seed = 1;
  int epoch = 0;
  double* loss = nullptr;               // [1], the summed loss is added here
  unsigned long long* counts = nullptr; // [2]: loss terms, words trained (added)
  int warps_per_block = 4;              // tuning knobs; 0 picks the default
  int span = 0;                         // stream positions per warp task
  int batch = 0;                        // skip-gram context rows staged per pass (0: all
                                        // that fit a 12 KiB warp scratch, so 2 * window at d=100)
};

// Trains on stream positions [begin, end) (an epoch is one or more calls over
// consecutive ranges; ranges may cut sentences). Limits: window <= 1024 and a
// vector_size whose scratch fits in shared memory (about 14,000 floats).
void word2vec_train_range(const Word2VecLaunch& w, int64_t begin, int64_t end, int device,
                          uintptr_t stream);

// input[r] for r in [0, rows): the CPU's init_word2vec_input, bit for bit.
void word2vec_init_input(float* input, int64_t rows, int dim, uint64_t seed, int device,
                         uintptr_t stream);

// ------------------------------------------------------------ co-occurrence
struct CooccurLaunch {
  const uint32_t* ids = nullptr;
  const int64_t* offsets = nullptr;
  int64_t n_ids = 0;
  int64_t n_sentences = 0;
  int64_t vocab_size = 0;
  int window = 15;
  bool symmetric = true;
  bool distance_weighting = true;
  void* workspace = nullptr;     // device scratch the caller allocated ...
  int64_t workspace_bytes = 0;   // ... and its size: the memory budget
};

struct CooccurCount {
  int64_t nnz = 0;
  int64_t pair_updates = 0;      // additions into X, as CooccurStats
  int64_t chunks = 0;
  int64_t capacity = 0;          // entries per sort buffer the workspace held
  int fraction_bits = 0;
  bool stopped = false;          // Progress::stop: nnz = 0
  const uint64_t* keys = nullptr;    // the result, inside the workspace
  const uint64_t* values = nullptr;
};

// Entries per sort buffer a workspace of `bytes` holds (the chunk budget).
int64_t cooccur_capacity(int64_t workspace_bytes, int64_t vocab_size, int device);

// Counts the matrix of cooccur.h into the workspace. Synchronous: it waits
// for the stream after every chunk (to size the next one), publishes ids done
// to `progress` and honours its stop flag between chunks.
CooccurCount cooccur_count(const CooccurLaunch& c, int device, uintptr_t stream, Progress* progress);

// Writes a count's nnz entries as the CPU's COO arrays (sorted by row, col);
// the workspace must still be alive.
void cooccur_export(const CooccurCount& result, int64_t vocab_size, int32_t* rows, int32_t* cols,
                    float* values, int device, uintptr_t stream);

// -------------------------------------------------------------------- GloVe
// glove::Pair records [n, 4 x uint32] from COO arrays, like make_glove_pairs;
// entries that make_glove_pairs would reject are counted into `invalid`.
void glove_make_pairs(const int32_t* rows, const int32_t* cols, const float* values, int64_t n,
                      int64_t vocab_size, double x_max, double alpha, uint32_t* pairs,
                      unsigned long long* invalid, int device, uintptr_t stream);

// weights and gradsq [rows, dim + 1] exactly as init_glove.
void glove_init(float* weights, float* gradsq, int64_t rows, int dim, uint64_t seed, int device,
                uintptr_t stream);

struct GloveLaunch {
  const uint32_t* pairs = nullptr;   // glove::Pair records [n_pairs]
  const uint32_t* order = nullptr;   // optional permutation; null: keyed by (seed, epoch)
  int64_t n_pairs = 0;
  float* weights = nullptr;          // [2 * vocab_size, dim + 1]
  float* gradsq = nullptr;
  int64_t vocab_size = 0;
  int dim = 0;
  float learning_rate = 0.05f;
  float grad_clip = 100.0f;
  uint64_t seed = 1;
  int epoch = 0;
  double* cost = nullptr;               // [1], added
  unsigned long long* counts = nullptr; // [2]: pairs, skipped (added)
  int warps_per_block = 0;
};

// Steps [begin, end) of an epoch (a step visits one pair).
void glove_train_range(const GloveLaunch& g, int64_t begin, int64_t end, int device, uintptr_t stream);

}  // namespace embforge::cuda

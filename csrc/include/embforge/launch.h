// Where and how a CUDA launcher runs: the one launch struct every CUDA entry
// point of the algorithm contracts (word2vec.h, cooccur.h, glove.h) takes
// next to its parameter struct. Needs no CUDA headers.
//
// `stream` is a cudaStream_t passed as an integer (for example
// torch.cuda.current_stream().cuda_stream) and `device` the CUDA device index
// the caller's pointers live on. Launchers queue their kernels on the stream
// and return without waiting unless their comment says otherwise.
#pragma once

#include <cstdint>

namespace embforge::cuda {

struct Launch {
  int device = 0;
  uintptr_t stream = 0;
  // Tuning knobs; 0 picks the kernel's default. Not every kernel reads all.
  int warps_per_block = 0;  // warps per block (word2vec, GloVe)
  int span = 0;             // stream positions per warp task (word2vec)
  int batch = 0;            // skip-gram context rows staged per pass (word2vec;
                            // 0: all that fit a 12 KiB warp scratch)
  // Speed variants not yet measured on a GPU, as bit flags (0: the default
  // kernels; a kernel ignores the bits it does not know). GloVe:
  // kStagedUpdate, kTightOrder (glove_core.cuh).
  unsigned variant = 0;
};

// Launch::variant bits.
constexpr unsigned kStagedUpdate = 1;  // GloVe: a lane's coordinates and sums loaded before any
                                       // update, the next pair record loaded before this pair's update
                                       // (vector_size <= 128; larger ones take the default update)
constexpr unsigned kTightOrder = 2;    // GloVe: pair order on a domain < 2n (cycle walk <= 2 steps)

}  // namespace embforge::cuda

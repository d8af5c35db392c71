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
  // kStagedUpdate, kTightOrder (glove_core.cuh); word2vec: kPipelinedLoads,
  // kBoundedRegisters, kSpanQueue (w2v_core.cuh); co-occurrence: kNarrowKeys,
  // kCompactPairs (cooccur_core.cuh).
  unsigned variant = 0;
};

// Launch::variant bits.
constexpr unsigned kStagedUpdate = 1;  // GloVe: a lane's coordinates and sums loaded before any
                                       // update, the next pair record loaded before this pair's update
                                       // (vector_size <= 128; larger ones take the default update)
constexpr unsigned kTightOrder = 2;    // GloVe: pair order on a domain < 2n (cycle walk <= 2 steps)
constexpr unsigned kPipelinedLoads = 4;    // word2vec: a window's context rows loaded together (several
                                           // loads in flight per lane), the next centre's target rows
                                           // prefetched into L2 while this window trains, kept centres
                                           // found 32 positions per ballot (vector_size % 4 == 0 only)
constexpr unsigned kBoundedRegisters = 8;  // word2vec: kernels under __launch_bounds__ (blocks of at most
                                           // 4 warps, registers capped for 8 blocks per SM), for
                                           // comparing occupancy (vector_size % 4 == 0 only)
constexpr unsigned kSpanQueue = 16;        // word2vec: warps take spans from an atomic counter (counts[2])
                                           // instead of a static grid-stride split (vector_size % 4 == 0
                                           // only)
constexpr unsigned kNarrowKeys = 32;       // co-occurrence: 32-bit sort keys when vocab^2 < 2^32
constexpr unsigned kCompactPairs = 64;     // co-occurrence: empty pair slots dropped before the sort

}  // namespace embforge::cuda

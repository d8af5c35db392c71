// Out-of-core GloVe training: the pairs of a matrix larger than the memory
// budget live in a file, in blocks, and an epoch trains one block at a time.
//
// The file holds glove::Pair records (native layout; a private temporary
// file that nothing else reads): block 0's records, then block 1's, and so
// on. Matrix entry i goes to the block drawn for (seed, i), so every block
// is a uniform random sample of the matrix rather than a range of rows, and
// training a block is like training a stretch of a fully shuffled epoch.
// Within a block the records keep the matrix order. An epoch visits the
// blocks in a random order for (seed, epoch) and block b's records in the
// order glove_shuffle gives for (seed + b, epoch); so with a single block an
// epoch is exactly the in-memory epoch of glove.h. One block is in memory
// at a time: 16 bytes a pair plus a 4-byte order.
#pragma once

#include <cstdint>
#include <vector>

#include "embforge/glove.h"

namespace embforge {

class GloveBlockFile {
 public:
  // `fd`: an empty file open for reading and writing; the caller owns it and
  // keeps it open while this object is used. `pairs` entries in `blocks`
  // blocks (1 <= blocks <= pairs), for a model of `vocab_size` words.
  GloveBlockFile(int fd, int64_t pairs, int64_t blocks, int64_t vocab_size, uint64_t seed, int workers);

  // Writes the next `n` entries of the COO matrix (entries [written(),
  // written() + n), 0-based ids, values finite and > 0, checked) as records
  // with log x and f(x) into their blocks. Holds 16 bytes per entry meanwhile.
  void write(const int32_t* rows, const int32_t* cols, const float* values, int64_t n, double x_max,
             double alpha, int workers);

  // Epoch params.epoch over every block (all pairs must have been written);
  // the orders come from the file's seed, not params.seed. Progress counts
  // pairs and can stop the epoch between blocks of 4096 pairs.
  GloveEpochStats train_epoch(const GloveParams& params, const GloveModel& model, Progress* progress);

  // The records of block b, in file order (for tests).
  std::vector<glove::Pair> read_block(int64_t b) const;
  // The order in which an epoch visits the blocks.
  std::vector<int64_t> block_order(int epoch) const;

  int64_t pairs() const { return pairs_; }
  int64_t written() const { return written_; }
  int64_t blocks() const { return static_cast<int64_t>(start_.size()) - 1; }
  int64_t block_size(int64_t b) const { return start_[b + 1] - start_[b]; }
  int64_t largest_block() const;

 private:
  int fd_;
  int64_t pairs_;
  int64_t vocab_size_;
  uint64_t seed_;
  std::vector<int64_t> start_;   // [blocks + 1]: block b is records [start_[b], start_[b + 1])
  std::vector<int64_t> filled_;  // records written to each block so far
  int64_t written_ = 0;
};

}  // namespace embforge

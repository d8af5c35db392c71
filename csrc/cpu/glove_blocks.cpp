// Out-of-core GloVe training (contract: embforge/glove_blocks.h).
//
// Writing scatters each piece of the matrix into the blocks with a counting
// sort (per-thread counts, then positions bucket-major and thread-minor, so
// the records of a block keep their matrix order whatever the thread count)
// and one pwrite per block. Training reads a block with one pread while
// asking the kernel to read the next one ahead (POSIX_FADV_WILLNEED).
#include "embforge/glove_blocks.h"

#include <fcntl.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "embforge/check.h"
#include "embforge/malloc_array.h"
#include "embforge/file_io.h"
#include "embforge/parallel.h"
#include "embforge/random.h"
#include "embforge/trim.h"
#include "glove_kernel.h"

namespace embforge {
namespace {

constexpr int64_t kRecord = sizeof(glove::Pair);
constexpr int64_t kMinPerThread = 1 << 16;  // entries worth a thread
const char* const kWhat = "GloVe pair file";

inline uint32_t block_of(uint64_t base, int64_t i, uint32_t blocks) {
  return bounded(static_cast<uint32_t>(mix64(base + static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ull) >> 32),
                 blocks);
}

uint64_t assignment_base(uint64_t seed) { return mix64(seed ^ 0x626c6f636b73ull); }

int threads_for(int workers, int64_t n) {
  return static_cast<int>(std::clamp<int64_t>(n / kMinPerThread, 1, std::max(1, workers)));
}

}  // namespace

GloveBlockFile::GloveBlockFile(int fd, int64_t pairs, int64_t blocks, int64_t vocab_size,
                               uint64_t seed, int workers)
    : fd_(fd), pairs_(pairs), vocab_size_(vocab_size), seed_(seed) {
  EMBFORGE_CHECK(pairs >= 1, "the pair file needs at least one pair, got ", pairs);
  EMBFORGE_CHECK(blocks >= 1 && blocks <= pairs && blocks <= int64_t{0xFFFFFFFF},
                 "blocks must be in [1, pairs=", pairs, "], got ", blocks);
  EMBFORGE_CHECK(vocab_size >= 1, "empty vocabulary");
  const auto n_blocks = static_cast<uint32_t>(blocks);
  const uint64_t base = assignment_base(seed);
  const int threads = threads_for(workers, pairs);
  std::vector<std::vector<int64_t>> counts(threads, std::vector<int64_t>(n_blocks, 0));
  run_workers(threads, nullptr, [&](int t) {
    const int64_t lo = pairs * t / threads, hi = pairs * (t + 1) / threads;
    for (int64_t i = lo; i < hi; ++i) ++counts[t][block_of(base, i, n_blocks)];
  });
  start_.assign(n_blocks + 1, 0);
  for (uint32_t b = 0; b < n_blocks; ++b) {
    int64_t size = 0;
    for (const auto& c : counts) size += c[b];
    EMBFORGE_CHECK(size <= int64_t{0xFFFFFFFF}, "block ", b, " of ", size,
                   " pairs is too large (at most 2^32 - 1): use more blocks");
    start_[b + 1] = start_[b] + size;
  }
  filled_.assign(n_blocks, 0);
}

int64_t GloveBlockFile::largest_block() const {
  int64_t largest = 0;
  for (int64_t b = 0; b < blocks(); ++b) largest = std::max(largest, block_size(b));
  return largest;
}

void GloveBlockFile::write(const int32_t* rows, const int32_t* cols, const float* values, int64_t n,
                           double x_max, double alpha, int workers) {
  EMBFORGE_CHECK(n >= 0 && n <= pairs_ - written_, "cannot write ", n, " more entries: ", written_,
                 " of ", pairs_, " are written");
  EMBFORGE_CHECK(std::isfinite(x_max) && x_max > 0.0, "x_max must be > 0, got ", x_max);
  EMBFORGE_CHECK(std::isfinite(alpha) && alpha >= 0.0, "alpha must be >= 0, got ", alpha);
  if (n == 0) return;
  const auto n_blocks = static_cast<uint32_t>(blocks());
  const uint64_t base = assignment_base(seed_);
  const int64_t first = written_;
  const int threads = threads_for(workers, n);
  auto range = [&](int t) { return std::make_pair(n * t / threads, n * (t + 1) / threads); };

  // position[t][b]: where thread t's next record of block b goes in `sorted`.
  std::vector<std::vector<int64_t>> position(threads, std::vector<int64_t>(n_blocks, 0));
  run_workers(threads, nullptr, [&](int t) {
    const auto [lo, hi] = range(t);
    for (int64_t k = lo; k < hi; ++k) ++position[t][block_of(base, first + k, n_blocks)];
  });
  std::vector<int64_t> piece_start(n_blocks + 1, 0);
  int64_t sum = 0;
  for (uint32_t b = 0; b < n_blocks; ++b) {
    piece_start[b] = sum;
    for (int t = 0; t < threads; ++t) {
      const int64_t count = position[t][b];
      position[t][b] = sum;
      sum += count;
    }
  }
  piece_start[n_blocks] = sum;

  MallocArray<glove::Pair> sorted(n);
  run_workers(threads, nullptr, [&](int t) {
    const auto [lo, hi] = range(t);
    std::vector<int64_t>& next = position[t];
    for (int64_t k = lo; k < hi; ++k) {
      EMBFORGE_CHECK(rows[k] >= 0 && rows[k] < vocab_size_ && cols[k] >= 0 && cols[k] < vocab_size_,
                     "pair ", first + k, " has ids (", rows[k], ", ", cols[k],
                     ") out of range for a vocabulary of ", vocab_size_, " words");
      const double x = values[k];
      EMBFORGE_CHECK(std::isfinite(x) && x > 0.0, "pair ", first + k, " has value ", x,
                     ": co-occurrence values must be finite and > 0");
      sorted[next[block_of(base, first + k, n_blocks)]++] =
          glove::Pair{static_cast<uint32_t>(rows[k]), static_cast<uint32_t>(cols[k]),
                      static_cast<float>(std::log(x)), static_cast<float>(glove::weighting(x, x_max, alpha))};
    }
  });
  for (uint32_t b = 0; b < n_blocks; ++b) {
    const int64_t count = piece_start[b + 1] - piece_start[b];
    if (count == 0) continue;
    EMBFORGE_CHECK(filled_[b] + count <= block_size(b), "block ", b, " overflows");  // an internal bug
    write_at(fd_, sorted.data() + piece_start[b], static_cast<size_t>(count * kRecord),
             (start_[b] + filled_[b]) * kRecord, kWhat);
    filled_[b] += count;
  }
  written_ += n;
  if (written_ == pairs_) {
    sorted = MallocArray<glove::Pair>();  // freed before the trim
    release_free_memory();
  }
}

std::vector<int64_t> GloveBlockFile::block_order(int epoch) const {
  std::vector<int64_t> order(static_cast<size_t>(blocks()));
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 rng(seed_ ^ 0x6f72646572ull, static_cast<uint64_t>(epoch));
  shuffle(order.data(), blocks(), rng);
  return order;
}

std::vector<glove::Pair> GloveBlockFile::read_block(int64_t b) const {
  EMBFORGE_CHECK(b >= 0 && b < blocks(), "block ", b, " out of range [0, ", blocks(), ")");
  std::vector<glove::Pair> out(static_cast<size_t>(filled_[b]));
  if (!out.empty()) read_at(fd_, out.data(), out.size() * kRecord, start_[b] * kRecord, kWhat);
  return out;
}

GloveEpochStats GloveBlockFile::train_epoch(const GloveParams& params, const GloveModel& model,
                                            Progress* progress) {
  const int epoch = params.epoch;
  EMBFORGE_CHECK(written_ == pairs_, "the pair file is incomplete: ", written_, " of ", pairs_,
                 " pairs written");
  EMBFORGE_CHECK(model.vocab_size == vocab_size_, "the model has ", model.vocab_size,
                 " words, the pair file was written for ", vocab_size_);
  Progress local_progress;
  if (!progress) progress = &local_progress;
  progress->reset(pairs_);
  const int64_t largest = largest_block();
  MallocArray<glove::Pair> pairs(largest);
  MallocArray<uint32_t> order(largest);
  const std::vector<int64_t> visit = block_order(epoch);
  GloveEpochStats stats;
  for (size_t k = 0; k < visit.size(); ++k) {
    if (progress->stop_requested()) {
      stats.stopped = true;
      break;
    }
    const int64_t b = visit[k];
    const int64_t n = block_size(b);
    if (k + 1 < visit.size()) {  // read-ahead hint only: failures do not matter
      const int64_t next = visit[k + 1];
      ::posix_fadvise(fd_, static_cast<off_t>(start_[next] * kRecord),
                      static_cast<off_t>(block_size(next) * kRecord), POSIX_FADV_WILLNEED);
    }
    if (n == 0) continue;
    read_at(fd_, pairs.data(), static_cast<size_t>(n * kRecord), start_[b] * kRecord, kWhat);
    glove_shuffle(order.data(), n, seed_ + static_cast<uint64_t>(b), epoch, params.workers);
    const GloveEpochStats part = train_glove_range(params, pairs.data(), order.data(), n, model, progress);
    stats.cost += part.cost;
    stats.pairs += part.pairs;
    stats.skipped += part.skipped;
    if (part.stopped) {
      stats.stopped = true;
      break;
    }
  }
  return stats;
}

}  // namespace embforge

// Co-occurrence counting on the GPU: pair generation per block, CUB radix
// sort + reduce-by-key per chunk, each chunk merged (CUB merge +
// reduce-by-key) into one sorted matrix within the caller's workspace (cooccur_driver.h holds the loop, cooccur_core.cuh
// the per-position math and the speed variants, Launch::variant kNarrowKeys
// and kCompactPairs). The result is the CPU's COO matrix bit for bit.
#include <cuda_runtime.h>

#include <cub/block/block_scan.cuh>
#include <cub/device/device_merge.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>
#include <cuda/std/functional>

#include <algorithm>
#include <bit>
#include <climits>
#include <string>

#include "cooccur_core.cuh"
#include "cooccur_driver.h"
#include "embforge/check.h"
#include "embforge/cooccur.h"
#include "launch.cuh"
#include "sentences.cuh"

namespace embforge::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kHeaderBytes = 256;  // counters at the start of the workspace

struct Counters {
  unsigned long long pairs;    // real pairs generated
  int runs;                    // reduce-by-key's output count
  unsigned long long written;  // entries of the current chunk (compact pairs)
};

// One thread per position of [begin, end); the block finds its first
// sentence once and each thread walks forward from it. Compact: each
// position's real pairs only, at the block's place (one atomic on `written`)
// plus the position's prefix sum within the block.
template <class Key, bool Compact>
__global__ void cooccur_pairs_kernel(CooccurArgs a, int64_t begin, int64_t end, Key* keys,
                                     uint64_t* values, Counters* counters) {
  __shared__ int64_t first_sentence;
  __shared__ unsigned long long block_pairs;
  const int64_t block_begin = begin + static_cast<int64_t>(blockIdx.x) * blockDim.x;
  if (threadIdx.x == 0) {
    first_sentence = sentence_of(a.offsets, a.n_sentences, block_begin);
    block_pairs = 0;
  }
  __syncthreads();
  const int64_t i = block_begin + threadIdx.x;
  int64_t sentence_end = 0;
  if (i < end) {
    int64_t s = first_sentence;
    while (a.offsets[s + 1] <= i) ++s;
    sentence_end = a.offsets[s + 1];
  }
  if constexpr (Compact) {
    using Scan = cub::BlockScan<int, kThreads>;
    __shared__ typename Scan::TempStorage scan;
    const int count = i < end ? cooc_pair_count(a, i, sentence_end) : 0;
    int offset = 0, total = 0;
    Scan(scan).ExclusiveSum(count, offset, total);
    if (threadIdx.x == 0) {
      block_pairs = total == 0 ? 0 : atomicAdd(&counters->written, static_cast<unsigned long long>(total));
      if (total) atomicAdd(&counters->pairs, static_cast<unsigned long long>(total));
    }
    __syncthreads();
    if (count) {
      const int64_t at = static_cast<int64_t>(block_pairs) + offset;
      cooc_emit<Key>(a, i, sentence_end, 1, true, keys + at, values + at);
    }
  } else {
    if (i < end) {
      const int written = cooc_emit<Key>(a, i, sentence_end, end - begin, false, keys + (i - begin),
                                         values + (i - begin));
      if (written) atomicAdd(&block_pairs, static_cast<unsigned long long>(written));
    }
    __syncthreads();
    if (threadIdx.x == 0 && block_pairs) atomicAdd(&counters->pairs, block_pairs);
  }
}

template <class Key>
__global__ void cooccur_transpose_kernel(Key* keys, uint64_t* values, int64_t n, int64_t vocab) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    keys[n + k] = cooc_transpose_key<Key>(keys[k], vocab);
    values[n + k] = values[k];
  }
}

// Narrow keys to the uint64 keys the result is handed out in.
__global__ void cooccur_widen_kernel(const uint32_t* narrow, uint64_t* wide, int64_t n) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x)
    wide[k] = narrow[k];
}

__global__ void cooccur_export_kernel(const uint64_t* keys, const uint64_t* values, int64_t n,
                                      int64_t vocab, int fraction_bits, int32_t* rows,
                                      int32_t* cols, float* out) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x)
    cooc_export(keys[k], values[k], vocab, fraction_bits, rows + k, cols + k, out + k);
}

unsigned grid_for(int64_t n) {
  return static_cast<unsigned>(std::clamp<int64_t>((n + kThreads - 1) / kThreads, 1, 1 << 20));
}

// Bits of the largest key (the empty key vocab^2): the radix sort skips the rest.
int key_bits(int64_t vocab) {
  return static_cast<int>(std::bit_width(static_cast<uint64_t>(vocab) * static_cast<uint64_t>(vocab)));
}

template <class Key>
size_t cub_temp_bytes(int64_t capacity, int end_bit) {
  const int n = static_cast<int>(capacity);
  cub::DoubleBuffer<Key> k(nullptr, nullptr);
  cub::DoubleBuffer<uint64_t> v(nullptr, nullptr);
  size_t sort_bytes = 0, reduce_bytes = 0, merge_bytes = 0;
  check_cuda(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, k, v, n, 0, end_bit),
             "cub::DeviceRadixSort::SortPairs (size query)");
  auto* no_keys = static_cast<Key*>(nullptr);
  auto* no_values = static_cast<uint64_t*>(nullptr);
  check_cuda(cub::DeviceMerge::MergePairs(nullptr, merge_bytes, no_keys, no_values, capacity, no_keys,
                                          no_values, capacity, no_keys, no_values,
                                          ::cuda::std::less<Key>{}),
             "cub::DeviceMerge::MergePairs (size query)");
  check_cuda(cub::DeviceReduce::ReduceByKey(nullptr, reduce_bytes, no_keys, no_keys, no_values, no_values,
                                            static_cast<int*>(nullptr), ::cuda::std::plus<uint64_t>{}, n),
             "cub::DeviceReduce::ReduceByKey (size query)");
  return std::max({sort_bytes, reduce_bytes, merge_bytes});
}

// Workspace: [counters][keys 0][keys 1][values 0][values 1][CUB scratch]
// (narrow keys use the first half of each key buffer: the result is widened
// into the other one).
struct Layout {
  int64_t capacity = 0;
  size_t temp_bytes = 0;
};
template <class Key>
Layout plan(int64_t workspace_bytes, int end_bit) {
  Layout l;
  int64_t capacity = std::min<int64_t>((workspace_bytes - kHeaderBytes) / 32, INT_MAX - 1);
  while (capacity > 0) {
    const size_t temp = cub_temp_bytes<Key>(capacity, end_bit);
    const int64_t need = kHeaderBytes + 32 * capacity + static_cast<int64_t>(temp) + 16;
    if (need <= workspace_bytes) {
      l.capacity = capacity;
      l.temp_bytes = temp;
      return l;
    }
    capacity -= std::max<int64_t>(1, (need - workspace_bytes + 31) / 32);
  }
  return l;
}

template <class Key, bool Compact>
struct DeviceOps {
  CooccurArgs args;
  cudaStream_t stream;
  Counters* counters;  // device
  void* temp;
  size_t temp_bytes;
  int end_bit;

  int64_t generate(CooccurBuffers& b, int64_t at, int64_t begin, int64_t end) {
    Key* keys = key_buffer<Key>(b, 0) + at;
    uint64_t* values = b.values[0] + at;
    const int64_t blocks = (end - begin + kThreads - 1) / kThreads;
    if (Compact)
      check_cuda(cudaMemsetAsync(&counters->written, 0, sizeof(counters->written), stream),
                 "cudaMemsetAsync(chunk entries)");
    cooccur_pairs_kernel<Key, Compact><<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(
        args, begin, end, keys, values, counters);
    check_launch(stream, [&] {
      return describe_launch(std::string("cooccur_pairs_kernel<") + (sizeof(Key) == 4 ? "narrow" : "wide") +
                                 (Compact ? ", compact>" : ">"),
                             {blocks, kThreads, 0, reinterpret_cast<uintptr_t>(stream)}, "begin", begin,
                             "end", end, "window", args.window, "vocab_size", args.vocab_size, "n_ids",
                             args.n_ids, "n_sentences", args.n_sentences, "ids",
                             static_cast<const void*>(args.ids), "offsets",
                             static_cast<const void*>(args.offsets), "keys",
                             static_cast<const void*>(keys), "values", static_cast<const void*>(values));
    });
    if (!Compact) return (end - begin) * args.window;
    unsigned long long written = 0;
    check_cuda(cudaMemcpyAsync(&written, &counters->written, sizeof(written), cudaMemcpyDeviceToHost, stream),
               "cudaMemcpyAsync(chunk entries)");
    check_cuda(cudaStreamSynchronize(stream), "co-occurrence pairs");
    return static_cast<int64_t>(written);
  }

  int runs_written() {
    int runs = 0;
    check_cuda(cudaMemcpyAsync(&runs, &counters->runs, sizeof(int), cudaMemcpyDeviceToHost, stream),
               "cudaMemcpyAsync(run count)");
    check_cuda(cudaStreamSynchronize(stream), "co-occurrence reduce-by-key");
    return runs;
  }

  int64_t sort_chunk(CooccurBuffers& b, int64_t acc, int64_t n) {
    if (n == 0) return 0;
    Key* keys0 = key_buffer<Key>(b, 0) + acc;
    cub::DoubleBuffer<Key> k(keys0, key_buffer<Key>(b, 1) + acc);
    cub::DoubleBuffer<uint64_t> v(b.values[0] + acc, b.values[1] + acc);
    size_t bytes = temp_bytes;
    check_cuda(cub::DeviceRadixSort::SortPairs(temp, bytes, k, v, static_cast<int>(n), 0, end_bit, stream),
               "cub::DeviceRadixSort::SortPairs");
    bytes = temp_bytes;
    check_cuda(cub::DeviceReduce::ReduceByKey(temp, bytes, k.Current(), k.Alternate(), v.Current(),
                                              v.Alternate(), &counters->runs,
                                              ::cuda::std::plus<uint64_t>{}, static_cast<int>(n), stream),
               "cub::DeviceReduce::ReduceByKey");
    int64_t runs = runs_written();
    if (runs == 0) return 0;
    if (!Compact) {  // compacted chunks hold no empty slot
      Key last = 0;
      check_cuda(cudaMemcpyAsync(&last, k.Alternate() + runs - 1, sizeof(Key), cudaMemcpyDeviceToHost,
                                 stream),
                 "cudaMemcpyAsync(last key)");
      check_cuda(cudaStreamSynchronize(stream), "co-occurrence last key");
      if (last == static_cast<Key>(cooc_empty_key(args.vocab_size))) --runs;  // the empty slots sort last
    }
    if (k.Alternate() != keys0 && runs > 0) {  // the sums must end in buffer 0
      check_cuda(cudaMemcpyAsync(keys0, k.Alternate(), runs * sizeof(Key), cudaMemcpyDeviceToDevice, stream),
                 "cudaMemcpyAsync(chunk keys)");
      check_cuda(cudaMemcpyAsync(b.values[0] + acc, v.Alternate(), runs * sizeof(uint64_t),
                                 cudaMemcpyDeviceToDevice, stream),
                 "cudaMemcpyAsync(chunk values)");
    }
    return runs;
  }

  int64_t merge(CooccurBuffers& b, int64_t acc, int64_t m) {
    if (m == 0 || acc == 0) return acc + m;
    Key *k0 = key_buffer<Key>(b, 0), *k1 = key_buffer<Key>(b, 1);
    size_t bytes = temp_bytes;
    check_cuda(cub::DeviceMerge::MergePairs(temp, bytes, k0, b.values[0], acc, k0 + acc, b.values[0] + acc, m,
                                            k1, b.values[1], ::cuda::std::less<Key>{}, stream),
               "cub::DeviceMerge::MergePairs");
    bytes = temp_bytes;
    check_cuda(cub::DeviceReduce::ReduceByKey(temp, bytes, k1, k0, b.values[1], b.values[0], &counters->runs,
                                              ::cuda::std::plus<uint64_t>{}, static_cast<int>(acc + m), stream),
               "cub::DeviceReduce::ReduceByKey");
    return runs_written();
  }

  void transpose(CooccurBuffers& b, int64_t n) {
    Key* keys = key_buffer<Key>(b, 0);
    cooccur_transpose_kernel<Key><<<grid_for(n), kThreads, 0, stream>>>(keys, b.values[0], n, args.vocab_size);
    check_launch(stream, [&] {
      return describe_launch("cooccur_transpose_kernel",
                             {grid_for(n), kThreads, 0, reinterpret_cast<uintptr_t>(stream)}, "n", n,
                             "capacity", b.capacity, "vocab_size", args.vocab_size, "key_bytes",
                             sizeof(Key), "keys", static_cast<const void*>(keys), "values",
                             static_cast<const void*>(b.values[0]));
    });
  }

  void finish(CooccurBuffers& b, int64_t n) {
    if constexpr (sizeof(Key) < sizeof(uint64_t)) {
      if (n > 0) {
        const Key* narrow = key_buffer<Key>(b, 0);
        cooccur_widen_kernel<<<grid_for(n), kThreads, 0, stream>>>(narrow, b.keys[1], n);
        check_launch(stream, [&] {
          return describe_launch("cooccur_widen_kernel",
                                 {grid_for(n), kThreads, 0, reinterpret_cast<uintptr_t>(stream)}, "n", n,
                                 "narrow", static_cast<const void*>(narrow), "wide",
                                 static_cast<const void*>(b.keys[1]));
        });
      }
      std::swap(b.keys[0], b.keys[1]);
    }
  }

  int64_t pair_count() {
    unsigned long long pairs = 0;
    check_cuda(cudaMemcpyAsync(&pairs, &counters->pairs, sizeof(pairs), cudaMemcpyDeviceToHost, stream),
               "cudaMemcpyAsync(pair count)");
    check_cuda(cudaStreamSynchronize(stream), "co-occurrence pair count");
    return static_cast<int64_t>(pairs);
  }
};

}  // namespace

int64_t cooccur_capacity(int64_t workspace_bytes, int64_t vocab_size, int device) {
  EMBFORGE_CHECK(vocab_size >= 1 && vocab_size <= (int64_t{1} << 31) - 1,
                 "vocabulary size must be in [1, 2^31 - 1], got ", vocab_size);
  use_device(device);
  return plan<uint64_t>(workspace_bytes, key_bits(vocab_size)).capacity;
}

CooccurCount cooccur_count(const CooccurParams& params, const CorpusView& corpus, int64_t vocab_size,
                           void* workspace, int64_t workspace_bytes, const Launch& launch,
                           Progress* progress) {
  EMBFORGE_CHECK(params.window >= 1 && params.window <= 100000, "window must be in [1, 100000], got ",
                 params.window);
  EMBFORGE_CHECK(vocab_size >= 1 && vocab_size <= (int64_t{1} << 31) - 1,
                 "vocabulary size must be in [1, 2^31 - 1], got ", vocab_size);
  EMBFORGE_CHECK(corpus.n_ids >= 0 && corpus.n_sentences >= 0, "negative corpus sizes");
  EMBFORGE_CHECK(params.glove_fd < 0, "glove_fd (the count straight to glove.c's file) is the "
                 "CPU's: a device count stays in the workspace, got glove_fd=", params.glove_fd);
  EMBFORGE_CHECK((corpus.ids && corpus.offsets) || corpus.n_ids == 0, "co-occurrence: null corpus pointers");
  EMBFORGE_CHECK(workspace && aligned16(workspace), "co-occurrence: the workspace must be a 16-byte aligned device buffer");
  use_device(launch.device);

  const CooccurArgs a = cooccur_args(params, corpus, vocab_size);
  const int window = params.window;
  const int end_bit = key_bits(vocab_size);
  const bool narrow = (launch.variant & kNarrowKeys) && cooc_narrow_fits(vocab_size);
  const bool compact = (launch.variant & kCompactPairs) != 0;
  const Layout l = narrow ? plan<uint32_t>(workspace_bytes, end_bit) : plan<uint64_t>(workspace_bytes, end_bit);
  EMBFORGE_CHECK(l.capacity >= 8 * static_cast<int64_t>(window), "co-occurrence: a workspace of ",
                 workspace_bytes, " bytes is too small for window ", window);
  auto* base = static_cast<unsigned char*>(workspace);
  auto* words = reinterpret_cast<uint64_t*>(base + kHeaderBytes);
  CooccurBuffers b;
  b.capacity = l.capacity;
  b.keys[0] = words;
  b.keys[1] = words + l.capacity;
  b.values[0] = words + 2 * l.capacity;
  b.values[1] = words + 3 * l.capacity;
  const cudaStream_t stream = as_stream(launch.stream);
  check_cuda(cudaMemsetAsync(base, 0, kHeaderBytes, stream), "cudaMemsetAsync(counters)");

  CooccurOutcome r;
  auto run = [&](auto ops) {
    if (a.n_ids > 0) r = run_cooccur(ops, b, a.n_ids, window, params.symmetric, progress);
  };
  auto* counters = reinterpret_cast<Counters*>(base);
  void* temp = words + 4 * l.capacity;
  if (narrow) {
    if (compact) run(DeviceOps<uint32_t, true>{a, stream, counters, temp, l.temp_bytes, end_bit});
    else run(DeviceOps<uint32_t, false>{a, stream, counters, temp, l.temp_bytes, end_bit});
  } else {
    if (compact) run(DeviceOps<uint64_t, true>{a, stream, counters, temp, l.temp_bytes, end_bit});
    else run(DeviceOps<uint64_t, false>{a, stream, counters, temp, l.temp_bytes, end_bit});
  }
  CooccurCount out;
  out.nnz = r.nnz;
  out.pair_updates = r.pair_updates;
  out.chunks = r.chunks;
  out.stopped = r.stopped;
  out.capacity = l.capacity;
  out.fraction_bits = a.fraction_bits;
  out.keys = b.keys[0];
  out.values = b.values[0];
  return out;
}

void cooccur_export(const CooccurCount& result, int64_t vocab_size, int32_t* rows, int32_t* cols,
                    float* values, const Launch& launch) {
  if (result.nnz == 0) return;
  EMBFORGE_CHECK(rows && cols && values, "co-occurrence export: null output pointers");
  use_device(launch.device);
  cooccur_export_kernel<<<grid_for(result.nnz), kThreads, 0, as_stream(launch.stream)>>>(
      result.keys, result.values, result.nnz, vocab_size, result.fraction_bits, rows, cols, values);
  check_launch(as_stream(launch.stream), [&] {
    return describe_launch("cooccur_export_kernel", {grid_for(result.nnz), kThreads, 0, launch.stream},
                           "nnz", result.nnz, "vocab_size", vocab_size, "fraction_bits",
                           result.fraction_bits, "keys", static_cast<const void*>(result.keys),
                           "values", static_cast<const void*>(result.values), "rows",
                           static_cast<const void*>(rows), "cols", static_cast<const void*>(cols),
                           "out", static_cast<const void*>(values), "device", launch.device);
  });
}

}  // namespace embforge::cuda

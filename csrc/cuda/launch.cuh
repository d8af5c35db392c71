// Helpers every launcher uses: select the caller's device, report errors with
// the kernel's name and launch arguments (and, opt-in, check every launch:
// launch_debug.h), size grids from the device's properties.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "embforge/check.h"
#include "embforge/corpus_view.h"
#include "embforge/launch.h"
#include "launch_debug.h"

namespace embforge::cuda {

inline std::string cuda_error_text(cudaError_t status) {
  return std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
}

// Throws std::runtime_error naming `what` (a CUDA call) when it failed.
inline void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("embforge CUDA: ") + what + " failed: " + cuda_error_text(status));
}

// Right after a kernel launch on `stream`: throws naming the launch (the text
// `describe()` returns, built with describe_launch only on failure) when the
// kernel did not start, and with EMBFORGE_CUDA_SYNC=1 (launch_debug.h) also
// waits for it and throws when it faulted while running. cudaGetLastError
// also clears a non-sticky launch error.
template <typename Describe>
void check_launch(cudaStream_t stream, Describe&& describe) {
  cudaError_t status = cudaGetLastError();
  bool waited = false;
  if (status == cudaSuccess && sync_mode()) {
    waited = true;
    status = cudaStreamSynchronize(stream);
    if (status == cudaSuccess) status = cudaGetLastError();
  }
  if (status != cudaSuccess)
    throw std::runtime_error(launch_failure(describe(), cuda_error_text(status), waited));
}

// The pointers live on `device`; this process's runtime (cudart is linked
// statically, separate from torch's or CuPy's) must launch there too.
inline void use_device(int device) {
  EMBFORGE_CHECK(device >= 0, "device index must be >= 0, got ", device);
  check_cuda(cudaSetDevice(device), "cudaSetDevice");
}

inline cudaStream_t as_stream(uintptr_t stream) { return reinterpret_cast<cudaStream_t>(stream); }

struct DeviceLimits {
  int multiprocessors = 0;
  int shared_per_block_optin = 0;  // bytes a block may use after opting in
};
inline DeviceLimits device_limits(int device) {
  DeviceLimits d;
  check_cuda(cudaDeviceGetAttribute(&d.multiprocessors, cudaDevAttrMultiProcessorCount, device),
             "cudaDeviceGetAttribute(multiprocessors)");
  check_cuda(cudaDeviceGetAttribute(&d.shared_per_block_optin,
                                    cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
             "cudaDeviceGetAttribute(shared memory)");
  return d;
}

// Blocks for a grid-stride kernel: enough to fill every SM at the occupancy
// the kernel reaches, never more than the work needs.
template <typename Kernel>
int64_t resident_blocks(Kernel kernel, int threads, size_t shared, int device, int64_t needed) {
  int per_sm = 0;
  check_cuda(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, shared),
             "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  const int64_t full = static_cast<int64_t>(per_sm > 0 ? per_sm : 1) * device_limits(device).multiprocessors;
  return needed < full ? (needed > 0 ? needed : 1) : full;
}

// Kernels with more than the default 48 KiB of dynamic shared memory must
// say so before launch.
template <typename Kernel>
void allow_shared(Kernel kernel, size_t bytes, const char* name) {
  if (bytes > 48 * 1024)
    check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(bytes)),
               name);
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// The checks every launcher over a range of stream positions makes (word2vec,
// FastText): corpus sizes, the range, the learning rates, the block knobs.
inline void check_stream_range(const CorpusView& c, int64_t begin, int64_t end, float alpha_start,
                               float alpha_end, const Launch& l) {
  EMBFORGE_CHECK(c.n_sentences >= 0 && c.n_ids >= 0, "empty or negative corpus sizes");
  EMBFORGE_CHECK(0 <= begin && begin <= end && end <= c.n_ids, "range [", begin, ", ", end,
                 ") outside the stream of ", c.n_ids, " ids");
  EMBFORGE_CHECK(alpha_start > 0.0f && alpha_end >= 0.0f, "learning rates must be > 0, got ",
                 alpha_start, " and ", alpha_end);
  EMBFORGE_CHECK(l.warps_per_block >= 0 && l.warps_per_block <= 32,
                 "warps_per_block must be in [0, 32], got ", l.warps_per_block);
  EMBFORGE_CHECK(l.span >= 0, "span must be >= 0, got ", l.span);
}

// A grid of warps, each with `per_warp` bytes of dynamic shared memory.
struct WarpGrid {
  int64_t blocks = 0;
  int threads = 0;
  size_t shared = 0;
};

// Blocks of at most `warps` warps (fewer when the shared memory or the
// kernel's registers do not allow them: a block of 32 warps at ~100
// registers per thread would not launch) for `tasks` warp tasks, as many as
// fill the device at the kernel's occupancy; opts the kernel in to the
// shared memory. `name` names the kernel in errors.
template <typename Kernel>
WarpGrid warp_grid(Kernel kernel, const std::string& name, int64_t per_warp, int warps, int64_t tasks,
                   int device, const DeviceLimits& limits) {
  cudaFuncAttributes attributes{};
  check_cuda(cudaFuncGetAttributes(&attributes, kernel), ("cudaFuncGetAttributes(" + name + ")").c_str());
  const int fitting = static_cast<int>(limits.shared_per_block_optin / per_warp);
  const int block_warps = std::max(1, std::min({warps, fitting, attributes.maxThreadsPerBlock / 32}));
  WarpGrid grid;
  grid.shared = static_cast<size_t>(per_warp) * block_warps;
  grid.threads = 32 * block_warps;
  allow_shared(kernel, grid.shared, ("cudaFuncSetAttribute(" + name + ")").c_str());
  grid.blocks = resident_blocks(kernel, grid.threads, grid.shared, device, (tasks + block_warps - 1) / block_warps);
  return grid;
}

}  // namespace embforge::cuda

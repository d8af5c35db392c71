// EMBFORGE_HD marks functions compiled for both the host and the device, so
// the per-pair math the CPU and CUDA backends share is written once and the
// CPU tests exercise it too.
#pragma once

#if defined(__CUDACC__)
#define EMBFORGE_HD __host__ __device__ __forceinline__
#else
#define EMBFORGE_HD inline
#endif

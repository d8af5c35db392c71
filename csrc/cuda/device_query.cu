#include <cuda_runtime.h>

#include "embforge/check.h"
#include "embforge/cuda_device.h"

namespace embforge::cuda {

int device_count(std::string* error) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (error) *error = cudaGetErrorString(status);
    cudaGetLastError();  // clear the sticky error so later queries start clean
    return 0;
  }
  return count;
}

DeviceInfo device_info(int index) {
  std::string error;
  const int count = device_count(&error);
  EMBFORGE_CHECK(index >= 0 && index < count, "CUDA device index ", index, " out of range (",
                 count, " devices visible", error.empty() ? "" : ": ", error, ")");
  cudaDeviceProp prop{};
  const cudaError_t status = cudaGetDeviceProperties(&prop, index);
  EMBFORGE_CHECK(status == cudaSuccess, "cudaGetDeviceProperties(", index,
                 ") failed: ", cudaGetErrorString(status));
  DeviceInfo info;
  info.index = index;
  info.name = prop.name;
  info.total_memory = static_cast<int64_t>(prop.totalGlobalMem);
  info.major = prop.major;
  info.minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  return info;
}

}  // namespace embforge::cuda

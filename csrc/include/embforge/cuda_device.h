// Device query for the CUDA module (no kernels): what the Python side needs to
// decide whether device="cuda" can run and to report the GPU it runs on.
#pragma once

#include <cstdint>
#include <string>

namespace embforge::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int64_t total_memory = 0;  // bytes
  int major = 0, minor = 0;  // compute capability
  int multiprocessors = 0;
};

// Number of visible devices; 0 with `error` set when the driver says none.
int device_count(std::string* error);
DeviceInfo device_info(int index);

}  // namespace embforge::cuda

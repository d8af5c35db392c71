// The opt-in per-launch check: with EMBFORGE_CUDA_SYNC=1 in the environment,
// every launcher waits for its kernel right after launching it and, when the
// kernel failed, throws an error naming the kernel and its launch arguments.
//
// Without it, launches are asynchronous: a kernel that faults (an illegal
// address, say) is reported by the next call that waits on the GPU, typically
// a torch copy in the Python launch loop, which names no kernel. The mode is
// off by default because the wait after every launch serialises the host
// with the GPU. Host code without CUDA headers (launch.cuh uses it; the tests
// compile it through tests/emulation).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "embforge/check.h"

namespace embforge::cuda {

constexpr const char* kSyncVariable = "EMBFORGE_CUDA_SYNC";

// The mode from the variable's value: unset, "" or "0" off, "1" on; anything
// else is an error naming the value (a typo must not silently leave it off).
inline bool parse_sync_mode(const char* value) {
  if (value == nullptr || value[0] == '\0' || std::string(value) == "0") return false;
  if (std::string(value) == "1") return true;
  throw_invalid_argument(kSyncVariable, " must be 0 or 1 (or unset), got '", value, "'");
}

// Read at every launch (getenv costs nothing next to a launch), so a process
// can turn the mode on and off.
inline bool sync_mode() { return parse_sync_mode(std::getenv(kSyncVariable)); }

// A launch's configuration and arguments as text, for error messages:
//   word2vec_kernel<4><<<132, 128, 24576 B, stream 0x0>>>(begin=0, end=4194304)
struct LaunchShape {
  int64_t blocks = 0;
  int threads = 0;
  int64_t shared_bytes = 0;
  uintptr_t stream = 0;
};

namespace detail {
inline void append_arguments(std::ostringstream&) {}
template <typename Value, typename... Rest>
void append_arguments(std::ostringstream& out, const char* name, const Value& value,
                      const Rest&... rest) {
  out << name << '=' << value;
  if constexpr (sizeof...(rest) > 0) out << ", ";
  append_arguments(out, rest...);
}
}  // namespace detail

// describe_launch("k", shape, "begin", 0, "end", 10): names and values alternate.
template <typename... Arguments>
std::string describe_launch(const std::string& kernel, const LaunchShape& shape,
                            const Arguments&... arguments) {
  static_assert(sizeof...(arguments) % 2 == 0, "arguments come as name, value pairs");
  std::ostringstream out;
  out << std::boolalpha << kernel << "<<<" << shape.blocks << ", " << shape.threads << ", " << shape.shared_bytes
      << " B, stream 0x" << std::hex << shape.stream << std::dec << ">>>(";
  detail::append_arguments(out, arguments...);
  out << ')';
  return out.str();
}

// The message of a failed launch: `error` is the CUDA error's name and text;
// `synchronised` says whether the failure was seen by the sync mode's wait
// (the kernel faulted while running) or at launch (bad configuration).
inline std::string launch_failure(const std::string& launch, const std::string& error,
                                  bool synchronised) {
  return "embforge CUDA: " + launch + (synchronised ? " failed while running: " : " failed to launch: ") +
         error;
}

}  // namespace embforge::cuda

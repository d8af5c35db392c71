// A lane group emulated with std::threads, for testing the kernels' shared
// code (csrc/cuda/group.cuh) on the CPU: each lane is a thread, and every collective
// is a barrier, so the lanes' indexing and the scratch they share run as on
// a warp (slowly). Test use only (tests/emulation/emulation.cpp).
#pragma once

#include <barrier>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "embforge/check.h"
#include "group.cuh"

namespace embforge::cuda {

class EmulatedGroup {
 public:
  struct Shared {
    explicit Shared(int n) : n(n), barrier(n), values(n), votes(n) {}
    int n;
    std::barrier<> barrier;
    std::vector<float> values;
    std::vector<char> votes;
    int64_t broadcast = 0;
  };
  EmulatedGroup(Shared* shared, int lane) : s_(shared), lane_(lane) {}
  int rank() const { return lane_; }
  int size() const { return s_->n; }
  float sum(float x) const {
    s_->values[lane_] = x;
    s_->barrier.arrive_and_wait();
    float total = 0.0f;  // the same order in every lane: identical results
    for (float v : s_->values) total += v;
    s_->barrier.arrive_and_wait();
    return total;
  }
  uint32_t ballot(bool p) const {
    s_->votes[lane_] = p;
    s_->barrier.arrive_and_wait();
    uint32_t mask = 0;
    for (int i = 0; i < s_->n; ++i) mask |= s_->votes[i] ? (1u << i) : 0u;
    s_->barrier.arrive_and_wait();
    return mask;
  }
  int64_t first(int64_t x) const {
    if (lane_ == 0) s_->broadcast = x;
    s_->barrier.arrive_and_wait();
    const int64_t value = s_->broadcast;
    s_->barrier.arrive_and_wait();
    return value;
  }
  void sync() const { s_->barrier.arrive_and_wait(); }

 private:
  Shared* s_;
  int lane_;
};

// Runs fn(group) on `lanes` threads that form one group; fn must not throw.
template <typename Fn>
void run_emulated_group(int lanes, Fn&& fn) {
  EmulatedGroup::Shared shared(lanes);
  std::vector<std::thread> threads;
  threads.reserve(lanes);
  for (int lane = 0; lane < lanes; ++lane)
    threads.emplace_back([&shared, &fn, lane] { fn(EmulatedGroup(&shared, lane)); });
  for (auto& t : threads) t.join();
}

// Runs fn(group) on a serial group (lanes == 1) or on emulated lanes.
template <typename Fn>
void on_lanes(int lanes, Fn&& fn) {
  EMBFORGE_CHECK(lanes >= 1 && lanes <= 32, "lanes must be in [1, 32], got ", lanes);
  if (lanes == 1) {
    fn(SerialGroup{});
  } else {
    run_emulated_group(lanes, fn);
  }
}

}  // namespace embforge::cuda
